// A validating, zero-allocation JSON scanner for request and response payloads (RFC 8259, as
// JSON.parse accepts it). It finds members and skips values; it never builds a tree. Slices point
// into the caller's bytes.
#ifndef HRA_JSON_H
#define HRA_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
  unsigned max_depth;
} hra_json_t;

enum {
  HRA_JSON_NULL = 1,
  HRA_JSON_FALSE,
  HRA_JSON_TRUE,
  HRA_JSON_NUMBER,
  HRA_JSON_STRING,
  HRA_JSON_ARRAY,
  HRA_JSON_OBJECT
};

// Skips one value (after leading white space) and returns its type, or a negative HRA_E* code.
// *value (optional) receives the exact bytes of the value.
int
hra_json_skip (hra_json_t *j, hra_slice_t *value);

// 1 when only white space is left.
int
hra_json_at_end (hra_json_t *j);

// Iterates the members of the object that starts at j->p. Call begin once, then next until it returns
// 0 (end of object) or a negative error. key is the raw key bytes between the quotes (escapes kept).
int
hra_json_object_begin (hra_json_t *j);

int
hra_json_object_next (hra_json_t *j, hra_slice_t *key, hra_slice_t *value, int *type);

// The same for arrays: next returns 1 with an element, 0 at the end, or an error.
int
hra_json_array_begin (hra_json_t *j);

int
hra_json_array_next (hra_json_t *j, hra_slice_t *value, int *type);

// Parses a JSON number slice as a double (JSON.parse semantics). Returns HRA_OK or HRA_EINVAL.
int
hra_json_number (hra_slice_t s, double *out);

// The value of a hex digit, or -1.
static inline int
hra_json_hexval (uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 1 when the raw key equals the given ASCII name (keys with escapes never match).
int
hra_json_key_is (hra_slice_t key, const char *name);

// Appends the UTF-8 of a JSON string value (q includes the quotes; the scanner has validated its
// syntax) to out. HRA_ENOTSUP for a lone surrogate or bytes that are not UTF-8: such a string is not
// one the room index or a byte comparison can represent (JS would hold a lone surrogate or U+FFFD);
// HRA_EINVAL for a malformed escape; HRA_ENOMEM.
int
hra_json_unescape (hra_slice_t q, hra_buf_t *out);

// 1 when text (one JSON value of any type, no surrounding white space) is exactly
// JSON.stringify(JSON.parse(text)); 0 when it is not, or when in doubt (lone surrogates, "__proto__"
// keys, more than 256 keys in an object, nesting deeper than max_depth or 256). keys is scratch.
int
hra_json_canonical (hra_buf_t *keys, const uint8_t *text, size_t len, unsigned max_depth);

#endif  // HRA_JSON_H

// A bounds-checked, zero-allocation msgpack cursor reader for untrusted bytes. Nothing here
// allocates: objects hold slices that point into the caller's buffer, which must outlive them.
// It accepts exactly what notepack.io 3.0.1 decode() accepts (see hra_mp_read for the one quirk).
#ifndef HRA_MP_H
#define HRA_MP_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

// Hard cap on container nesting for hra_mp_skip / hra_mp_validate; larger limits are clamped.
#define HRA_MP_MAX_DEPTH 1024

typedef enum {
  HRA_MP_NIL = 1,
  HRA_MP_BOOL,
  HRA_MP_INT,  // signed: negative fixint, int8..int64 (v.i)
  HRA_MP_UINT,  // unsigned: positive fixint, uint8..uint64 (v.u)
  HRA_MP_FLOAT,  // float32 (widened) or float64 (v.f)
  HRA_MP_STR,  // raw bytes in s (not UTF-8 checked)
  HRA_MP_BIN,  // bytes in s
  HRA_MP_ARRAY,  // count elements follow
  HRA_MP_MAP,  // count key/value pairs follow
  HRA_MP_EXT  // ext_type and payload in s; tag tells fixext/ext8/16/32 apart
} hra_mp_type_t;

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} hra_mp_reader_t;

typedef struct {
  hra_mp_type_t type;
  uint8_t tag;  // the first byte of the item (0xc7 vs 0xd7 matters to notepack's legacy exts)
  int8_t ext_type;
  uint32_t count;  // ARRAY / MAP
  union {
    int b;  // BOOL: 0 or 1
    int64_t i;
    uint64_t u;
    double f;
  } v;
  hra_slice_t s;  // STR / BIN / EXT payload
} hra_mp_obj_t;

static inline void
hra_mp_reader_init (hra_mp_reader_t *r, const uint8_t *p, size_t len) {
  // An empty slice may carry a NULL base: NULL + 0 is undefined behaviour in C (found by fuzz_sharded).
  r->p = p;
  r->end = p != NULL ? p + len : p;
}

// Reads one item header and advances past it. For STR/BIN/EXT the payload is consumed too; for
// ARRAY/MAP only the header is, and the reader is left on the first element. A container count
// larger than the bytes left (array n needs n bytes, map n needs 2n) is HRA_ETRUNC, so a claimed
// count can never drive an allocation. 0xc1 is HRA_EINVAL. notepack quirk mirrored: ext8 (0xc7)
// with ext type -1 is a timestamp96 that always consumes 12 payload bytes whatever the length byte.
// Returns HRA_OK, HRA_ETRUNC or HRA_EINVAL; on error the reader is not advanced.
int
hra_mp_read (hra_mp_reader_t *r, hra_mp_obj_t *o);

// Skips one complete value without recursion. Containers nested deeper than max_depth (a top-level
// array is depth 1; scalars are depth 0) give HRA_EDEPTH. On error the reader position is undefined.
int
hra_mp_skip (hra_mp_reader_t *r, unsigned max_depth);

// HRA_OK when [p, p+len) is exactly one well-formed value within max_depth and nothing trails it.
int
hra_mp_validate (const uint8_t *p, size_t len, unsigned max_depth);

// The JS number notepack builds for an INT/UINT/FLOAT object (64-bit integers rounded to double the
// way `hi * 2**32 + lo` rounds). Returns 1 and sets *out for numbers, 0 for any other type.
int
hra_mp_number (const hra_mp_obj_t *o, double *out);

// 1 when o is a STR whose bytes equal the NUL-terminated ASCII name.
static inline int
hra_mp_str_is (const hra_mp_obj_t *o, const char *name) {
  size_t n = strlen(name);
  return o->type == HRA_MP_STR && o->s.len == n && memcmp(o->s.base, name, n) == 0;
}

// 1 when o is notepack 2.x's legacy `undefined` (fixext1 type 0, d4 00 xx).
int
hra_mp_is_undefined (const hra_mp_obj_t *o);

// JavaScript truthiness of a decoded scalar (as notepack would hand it to JS): 0, NaN, nil, false, "" and
// `undefined` are falsy; containers and anything else truthy.
int
hra_mp_truthy (const hra_mp_obj_t *v);

#endif  // HRA_MP_H

// Small shared types: byte slices, a growable byte buffer and the HRA_E* error codes.
// A hra_buf_t owns its memory (free with hra_buf_free); a hra_slice_t never does.
#ifndef HRA_COMMON_H
#define HRA_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HRA_OK 0
#define HRA_ENOMEM -1  // an allocation failed
#define HRA_EINVAL -2  // malformed input (bad type byte, bad structure)
#define HRA_ETRUNC -3  // a length claims more bytes than are left
#define HRA_EDEPTH -4  // nesting deeper than the configured limit
#define HRA_ELIMIT -5  // larger than a configured limit
#define HRA_ETYPE -6  // well-formed, but a field has the wrong type
#define HRA_ENOTSUP -7  // well-formed, but a construct we do not handle
#define HRA_ECLOSED -8  // the object is closed or closing
#define HRA_ENOTCONN -9  // not connected
#define HRA_ENOBUFS -10  // an output queue is at its bound (nothing was queued)

#define hra_container_of(ptr, type, member) ((type *) ((char *) (ptr) -offsetof(type, member)))

typedef struct {
  const uint8_t *base;
  size_t len;
} hra_slice_t;

typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} hra_buf_t;

int
hra_buf_reserve (hra_buf_t *b, size_t extra);

void
hra_buf_free (hra_buf_t *b);

static inline int
hra_buf_append (hra_buf_t *b, const void *p, size_t n) {
  if (b->cap - b->len < n && hra_buf_reserve(b, n) != 0) return HRA_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return HRA_OK;
}

static inline int
hra_buf_putc (hra_buf_t *b, uint8_t c) {
  if (b->cap == b->len && hra_buf_reserve(b, 1) != 0) return HRA_ENOMEM;
  b->data[b->len++] = c;
  return HRA_OK;
}

static inline int
hra_buf_puts (hra_buf_t *b, const char *s) {
  return hra_buf_append(b, s, strlen(s));
}

const char *
hra_strerror (int err);

// A splitmix64 step: derives hash keys from a seed.
uint64_t
hra_splitmix (uint64_t *x);

// A reconnect delay: attempt n waits between half and all of min(base_ms * 2^n, max_ms), full jitter on
// the upper half so a fleet does not reconnect in lockstep. *rng is xorshift64* state (not 0; jitter only,
// no security role).
uint64_t
hra_backoff_ms (uint64_t *rng, uint32_t base_ms, uint32_t max_ms, unsigned attempt);

// Keyed 64-bit hash of n bytes (wyhash-style mixing; both operands of every multiply carry a secret key,
// so an attacker who does not know k cannot zero a product to erase the state). tweak separates key spaces.
uint64_t
hra_keyed_hash (const uint64_t k[3], uint64_t tweak, const uint8_t *p, size_t n);

// CRC16-CCITT (XMODEM), as the cluster specification defines it.
uint16_t
hra_crc16 (const uint8_t *buf, size_t len);

// The slot of a key: CRC16 of the hash tag (the bytes between the first '{' and the next '}', when
// not empty) or of the whole key, modulo 16384.
uint16_t
hra_cluster_key_slot (const uint8_t *key, size_t len);

#endif  // HRA_COMMON_H

#include <stdlib.h>

#include "common.h"

int
hra_buf_reserve (hra_buf_t *b, size_t extra) {
  if (b->cap - b->len >= extra) return HRA_OK;
  if (extra > SIZE_MAX / 2 - b->len) return HRA_ENOMEM;
  size_t need = b->len + extra;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  uint8_t *data = realloc(b->data, cap);
  if (data == NULL) return HRA_ENOMEM;
  b->data = data;
  b->cap = cap;
  return HRA_OK;
}

void
hra_buf_free (hra_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

const char *
hra_strerror (int err) {
  switch (err) {
    case HRA_OK:
      return "ok";
    case HRA_ENOMEM:
      return "out of memory";
    case HRA_EINVAL:
      return "malformed message";
    case HRA_ETRUNC:
      return "truncated message: a length exceeds the bytes left";
    case HRA_EDEPTH:
      return "message nested too deeply";
    case HRA_ELIMIT:
      return "message exceeds a configured limit";
    case HRA_ETYPE:
      return "message field has the wrong type";
    case HRA_ENOTSUP:
      return "message uses an unsupported construct";
    case HRA_ECLOSED:
      return "closed";
    case HRA_ENOTCONN:
      return "not connected";
    default:
      return "unknown error";
  }
}

// 64x64 -> 128-bit multiply folded to 64 bits, the core of wyhash-style mixing.
static uint64_t
mum (uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
  __uint128_t p = (__uint128_t) a * b;
  return (uint64_t) p ^ (uint64_t) (p >> 64);
#else
  uint64_t alo = a & 0xffffffffu, ahi = a >> 32, blo = b & 0xffffffffu, bhi = b >> 32;
  uint64_t ll = alo * blo, lh = alo * bhi, hl = ahi * blo, hh = ahi * bhi;
  uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
  uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
  uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  return lo ^ hi;
#endif
}

static uint64_t
load64 (const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

uint64_t
hra_splitmix (uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

uint64_t
hra_keyed_hash (const uint64_t k[3], uint64_t tweak, const uint8_t *p, size_t n) {
  uint64_t h = k[0] ^ mum(k[1] ^ (uint64_t) n, k[2] ^ tweak);
  while (n > 16) {
    h = mum(load64(p) ^ k[1], load64(p + 8) ^ h);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n > 8) {
    a = load64(p);
    b = load64(p + n - 8);
  } else if (n > 0) {
    memcpy(&a, p, n);
  }
  h = mum(a ^ k[1], b ^ h);
  return mum(h ^ k[2], k[0] ^ 0x8ebc6af09c88c6e3u);
}

// ---------------------------------------------------------------------------------------------------
// Redis Cluster key slots

uint16_t
hra_crc16 (const uint8_t *buf, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t) ((uint16_t) buf[i] << 8);
    for (int b = 0; b < 8; b++)
      crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021) : (uint16_t) (crc << 1);
  }
  return crc;
}

uint16_t
hra_cluster_key_slot (const uint8_t *key, size_t len) {
  if (len == 0) return 0;
  const uint8_t *open = memchr(key, '{', len);
  if (open != NULL) {
    size_t start = (size_t) (open - key) + 1;
    const uint8_t *close = memchr(key + start, '}', len - start);
    if (close != NULL && close > key + start) return hra_crc16(key + start, (size_t) (close - (key + start))) & 16383;
  }
  return hra_crc16(key, len) & 16383;
}

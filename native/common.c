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
    case HRA_ENOBUFS:
      return "output queue full";
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
hra_backoff_ms (uint64_t *rng, uint32_t base_ms, uint32_t max_ms, unsigned attempt) {
  uint64_t delay = base_ms;
  delay <<= attempt < 20 ? attempt : 20;
  if (delay > max_ms) delay = max_ms;
  if (delay / 2 == 0) return delay;
  uint64_t x = *rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *rng = x;
  uint32_t r = (uint32_t) ((x * 2685821657736338717ULL) >> 32);
  return delay / 2 + r % (delay / 2 + 1);
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

// CRC16-CCITT (XMODEM, polynomial 0x1021) one byte at a time: every SPUBLISH on a cluster hashes its
// channel, so the per-bit loop is replaced by the usual 256-entry table.
static const uint16_t crc16_table[256] = {
  0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
  0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
  0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
  0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
  0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
  0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
  0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
  0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
  0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
  0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
  0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
  0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
  0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
  0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
  0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
  0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
  0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
  0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
  0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
  0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
  0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
  0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
  0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
  0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
  0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
  0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
  0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
  0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
  0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
  0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
  0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
  0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0
};

uint16_t
hra_crc16 (const uint8_t *buf, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++)
    crc = (uint16_t) ((uint16_t) (crc << 8) ^ crc16_table[((crc >> 8) ^ buf[i]) & 0xff]);
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

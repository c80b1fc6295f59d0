// The set of rooms held locally (see rooms.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rooms.h"

// From jsnum.h (jsnum.c); declared here so this module builds and tests before that header exists.
int
hra_jsnum_is_numeric_string (const uint8_t *s, size_t len);
int
hra_jsnum_from_js_string (const uint8_t *s, size_t len, double *out);
size_t
hra_jsnum_format (double d, char out[32]);

// Every allocation goes through this one function so the unit test can inject failures.
#ifndef HRA_ROOMS_REALLOC
#define HRA_ROOMS_REALLOC realloc
#endif

#define TAB_MIN 16

// A table of fingerprints, 0 marking an empty entry. An entry's home is its fingerprint's low bits, so deletion
// can shift entries back (no tombstones, probe lengths never degrade) knowing only what is stored. The same
// fingerprint may be stored more than once: two held rooms may share one.
struct hra_rooms_s {
  uint64_t k[3];  // hash keys derived from the caller's seed
  uint32_t *tab;
  size_t cap;  // power of two
  size_t count;
  size_t num_count;  // NUM rooms among them
  int lossy;  // a creation was lost (see hra_rooms_apply_log): every room may be held
};

static uint32_t
fingerprint (const hra_rooms_t *r, hra_room_key_t key) {
  uint64_t h = hra_keyed_hash(r->k, (uint64_t) key.kind, key.base, key.len);
  uint32_t f = (uint32_t) (h ^ (h >> 32));
  return f != 0 ? f : 1;
}

static int
key_valid (hra_room_key_t key) {
  if (key.kind != HRA_ROOM_STR && key.kind != HRA_ROOM_NUM) return 0;
  return key.len == 0 || key.base != NULL;
}

static void
put (uint32_t *tab, size_t cap, uint32_t f) {
  size_t mask = cap - 1;
  size_t i = f & mask;
  while (tab[i] != 0)
    i = (i + 1) & mask;
  tab[i] = f;
}

static int
resize (hra_rooms_t *r, size_t ncap) {
  if (ncap > SIZE_MAX / sizeof(uint32_t)) return HRA_ENOMEM;
  uint32_t *tab = HRA_ROOMS_REALLOC(NULL, ncap * sizeof(uint32_t));
  if (tab == NULL) return HRA_ENOMEM;
  memset(tab, 0, ncap * sizeof(uint32_t));
  for (size_t i = 0; i < r->cap; i++) {
    if (r->tab[i] != 0) put(tab, ncap, r->tab[i]);
  }
  free(r->tab);
  r->tab = tab;
  r->cap = ncap;
  return HRA_OK;
}

hra_rooms_t *
hra_rooms_new (uint64_t seed) {
  hra_rooms_t *r = HRA_ROOMS_REALLOC(NULL, sizeof(*r));
  if (r == NULL) return NULL;
  memset(r, 0, sizeof(*r));
  r->k[0] = hra_splitmix(&seed);
  r->k[1] = hra_splitmix(&seed);
  r->k[2] = hra_splitmix(&seed);
  if (resize(r, TAB_MIN) != 0) {
    free(r);
    return NULL;
  }
  return r;
}

void
hra_rooms_free (hra_rooms_t *r) {
  if (r == NULL) return;
  free(r->tab);
  free(r);
}

int
hra_rooms_add (hra_rooms_t *r, hra_room_key_t key) {
  if (!key_valid(key)) return HRA_EINVAL;
  if ((r->count + 1) * 4 > r->cap * 3) {
    if (r->cap > SIZE_MAX / 2 || resize(r, r->cap * 2) != 0) return HRA_ENOMEM;
  }
  put(r->tab, r->cap, fingerprint(r, key));
  r->count++;
  if (key.kind == HRA_ROOM_NUM) r->num_count++;
  return HRA_OK;
}

int
hra_rooms_remove (hra_rooms_t *r, hra_room_key_t key) {
  if (!key_valid(key)) return 0;
  uint32_t f = fingerprint(r, key);
  size_t mask = r->cap - 1;
  size_t i = f & mask;
  for (;; i = (i + 1) & mask) {
    if (r->tab[i] == 0) return 0;
    if (r->tab[i] == f) break;
  }
  // Backward-shift deletion: move up every later entry of the cluster whose home is not between the hole and it.
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (r->tab[j] == 0) break;
    size_t home = r->tab[j] & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      r->tab[i] = r->tab[j];
      i = j;
    }
  }
  r->tab[i] = 0;
  r->count--;
  if (key.kind == HRA_ROOM_NUM) r->num_count--;
  // Give memory back after a crowd has left; failure just keeps the larger table.
  if (r->cap > TAB_MIN && r->count < r->cap / 8) resize(r, r->cap / 2);
  return 1;
}

int
hra_rooms_has (const hra_rooms_t *r, hra_room_key_t key) {
  if (r->lossy) return 1;
  if (!key_valid(key) || r->count == 0) return 0;
  uint32_t f = fingerprint(r, key);
  size_t mask = r->cap - 1;
  for (size_t i = f & mask;; i = (i + 1) & mask) {
    if (r->tab[i] == f) return 1;
    if (r->tab[i] == 0) return 0;
  }
}

// Decodes one JS StrWhiteSpaceChar (WhiteSpace or LineTerminator) in UTF-8 at s; returns its length or 0.
static size_t
js_space (const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c == 0x09 || c == 0x0a || c == 0x0b || c == 0x0c || c == 0x0d || c == 0x20) return 1;
  if (n >= 2 && c == 0xc2 && s[1] == 0xa0) return 2;  // U+00A0
  if (n < 3) return 0;
  uint32_t cp = ((uint32_t) c << 16) | ((uint32_t) s[1] << 8) | s[2];
  if (cp == 0xe19a80) return 3;  // U+1680
  if (cp >= 0xe28080 && cp <= 0xe2808a) return 3;  // U+2000..U+200A
  if (cp == 0xe280a8 || cp == 0xe280a9 || cp == 0xe280af) return 3;  // U+2028, U+2029, U+202F
  if (cp == 0xe2819f || cp == 0xe38080 || cp == 0xefbbbf) return 3;  // U+205F, U+3000, U+FEFF
  return 0;
}

static size_t
digits (const uint8_t *s, size_t i, size_t n) {
  while (i < n && s[i] >= '0' && s[i] <= '9')
    i++;
  return i;
}

// Finds the text parseFloat(s) reads: after leading white space, the longest StrDecimalLiteral prefix. Returns 0
// when there is none (parseFloat gives NaN).
static int
parse_float_prefix (const uint8_t *s, size_t n, size_t *start, size_t *len) {
  size_t i = 0, w;
  while (i < n && (w = js_space(s + i, n - i)) != 0)
    i += w;
  size_t b = i;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (n - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) {
    *start = b;
    *len = i + 8 - b;
    return 1;
  }
  size_t d0 = i;
  i = digits(s, i, n);
  size_t nd = i - d0;
  if (i < n && s[i] == '.') {
    size_t f0 = i + 1;
    size_t f1 = digits(s, f0, n);
    if (nd > 0 || f1 > f0) {
      nd += f1 - f0;
      i = f1;
    }
  }
  if (nd == 0) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t e = i + 1;
    if (e < n && (s[e] == '+' || s[e] == '-')) e++;
    size_t e1 = digits(s, e, n);
    if (e1 > e) i = e1;
  }
  *start = b;
  *len = i - b;
  return 1;
}

int
hra_rooms_has_str_or_num (const hra_rooms_t *r, const uint8_t *s, size_t len) {
  if (hra_rooms_has(r, (hra_room_key_t){ s, len, HRA_ROOM_STR })) return 1;
  if (r->num_count == 0 || (len != 0 && s == NULL)) return 0;
  // JS: !isNaN(room) && !isNaN(parseFloat(room)), then rooms.has(parseFloat(room)).
  size_t start, plen;
  if (!parse_float_prefix(s, len, &start, &plen)) return 0;
  if (!hra_jsnum_is_numeric_string(s, len)) return 0;
  // The prefix is a plain decimal literal, on which Number() and parseFloat() agree, so this is right whichever
  // of the two the converter implements. Its return convention is not relied on: an untouched NaN means it
  // refused, and then we cannot tell, so we answer yes rather than risk dropping a message.
  double d = NAN;
  hra_jsnum_from_js_string(s + start, plen, &d);
  if (isnan(d)) return 1;
  char buf[32];
  size_t n = hra_jsnum_format(d, buf);
  if (n == 0 || n > sizeof(buf)) return 1;
  return hra_rooms_has(r, (hra_room_key_t){ (const uint8_t *) buf, n, HRA_ROOM_NUM });
}

void
hra_rooms_apply_log (hra_rooms_t *r, uint8_t *log, size_t cap) {
  uint32_t used, zero = 0;
  if (cap < 4) return;
  memcpy(&used, log, 4);
  if (used > cap - 4) {
    r->lossy = 1;
    used = (uint32_t) (cap - 4);
  }
  size_t p = 4, end = 4 + (size_t) used;
  while (p < end) {
    uint32_t head;
    if (end - p < 4) {
      r->lossy = 1;
      break;
    }
    memcpy(&head, log + p, 4);
    size_t len = head & HRA_ROOMS_LOG_LEN;
    if (len > end - p - 4) {
      r->lossy = 1;
      break;
    }
    hra_room_key_t key = { log + p + 4, len, head & HRA_ROOMS_LOG_NUM ? HRA_ROOM_NUM : HRA_ROOM_STR };
    if (!(head & HRA_ROOMS_LOG_ON))
      hra_rooms_remove(r, key);
    else if (hra_rooms_add(r, key) != HRA_OK)
      r->lossy = 1;
    p += 4 + ((len + 3) & ~(size_t) 3);
  }
  memcpy(log, &zero, 4);
}

size_t
hra_rooms_count (const hra_rooms_t *r) {
  return r->count;
}

size_t
hra_rooms_memory (const hra_rooms_t *r) {
  return sizeof(*r) + r->cap * sizeof(uint32_t);
}

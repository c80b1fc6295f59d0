#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "encoder.h"
#include "jsnum.h"

#define CANON_MAX_DEPTH 256
#define CANON_MAX_KEYS 256  // objects with more keys answer 0 (the duplicate check is quadratic)

// The first byte at or after p that ends a run of plain string characters: '"', '\\', a control
// character, or end. Eight bytes at a time while none of them is one (SWAR: a byte equal to v has
// (b ^ v) == 0; "less than 0x20" is the classic has-less test, which bytes >= 0x80 never pass).
static const uint8_t *
string_run (const uint8_t *p, const uint8_t *e) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  while (e - p >= 8) {
    uint64_t w, q, b;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs) break;
    p += 8;
  }
  while (p < e && *p != '"' && *p != '\\' && *p >= 0x20)
    p++;
  return p;
}

// 1 when p[0..n) is ASCII, eight bytes at a time.
static int
all_ascii (const uint8_t *p, size_t n) {
  uint64_t acc = 0, w;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; i++)
    acc |= p[i];
  return (acc & 0x8080808080808080ULL) == 0;
}

static void
skip_ws (hra_json_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

int
hra_json_at_end (hra_json_t *j) {
  skip_ws(j);
  return j->p == j->end;
}

// Skips a string starting at the opening quote. Control characters are not allowed raw.
static int
skip_string (hra_json_t *j) {
  j->p++;
  while (j->p < j->end) {
    j->p = string_run(j->p, j->end);
    if (j->p >= j->end) break;
    uint8_t c = *j->p++;
    if (c == '"') return HRA_OK;
    if (c < 0x20) return HRA_EINVAL;
    if (c == '\\') {
      if (j->p >= j->end) return HRA_ETRUNC;
      c = *j->p++;
      switch (c) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          break;
        case 'u':
          if (j->end - j->p < 4) return HRA_ETRUNC;
          for (int i = 0; i < 4; i++) {
            if (hra_json_hexval(j->p[i]) < 0) return HRA_EINVAL;
          }
          j->p += 4;
          break;
        default:
          return HRA_EINVAL;
      }
    }
  }
  return HRA_ETRUNC;
}

static int
skip_number (hra_json_t *j) {
  const uint8_t *p = j->p, *e = j->end;
  if (p < e && *p == '-') p++;
  if (p >= e) return HRA_ETRUNC;
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9') {
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  } else
    return HRA_EINVAL;
  if (p < e && *p == '.') {
    p++;
    if (p >= e || *p < '0' || *p > '9') return HRA_EINVAL;
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (p >= e || *p < '0' || *p > '9') return HRA_EINVAL;
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  j->p = p;
  return HRA_OK;
}

static int
skip_literal (hra_json_t *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t) (j->end - j->p) < n) return HRA_ETRUNC;
  if (memcmp(j->p, lit, n) != 0) return HRA_EINVAL;
  j->p += n;
  return HRA_OK;
}

// Containers are skipped iteratively with a small stack of open brackets, so hostile nesting costs
// neither C stack nor more than max_depth bytes of state.
static int
skip_container (hra_json_t *j) {
  uint8_t stack[256];
  unsigned limit = j->max_depth < sizeof(stack) ? j->max_depth : sizeof(stack);
  unsigned depth = 0;
  int expect_value = 1;
  for (;;) {
    skip_ws(j);
    if (j->p >= j->end) return HRA_ETRUNC;
    uint8_t c = *j->p;
    uint8_t top = depth ? stack[depth - 1] : 0;
    if (expect_value) {
      if (c == '[' || c == '{') {
        if (depth >= limit) return HRA_EDEPTH;
        stack[depth++] = c;
        j->p++;
        skip_ws(j);
        if (j->p >= j->end) return HRA_ETRUNC;
        if (*j->p == (c == '[' ? ']' : '}')) {
          j->p++;
          depth--;
          expect_value = 0;
          if (depth == 0) return HRA_OK;
          continue;
        }
        if (c == '{') {
          if (*j->p != '"') return HRA_EINVAL;
          int err = skip_string(j);
          if (err) return err;
          skip_ws(j);
          if (j->p >= j->end) return HRA_ETRUNC;
          if (*j->p++ != ':') return HRA_EINVAL;
        }
        continue;
      }
      int err;
      if (c == '"')
        err = skip_string(j);
      else if (c == '-' || (c >= '0' && c <= '9'))
        err = skip_number(j);
      else if (c == 't')
        err = skip_literal(j, "true");
      else if (c == 'f')
        err = skip_literal(j, "false");
      else if (c == 'n')
        err = skip_literal(j, "null");
      else
        err = HRA_EINVAL;
      if (err) return err;
      expect_value = 0;
      continue;
    }
    // After a value inside a container: a comma or the closing bracket.
    if (c == ',') {
      j->p++;
      if (top == '{') {
        skip_ws(j);
        if (j->p >= j->end) return HRA_ETRUNC;
        if (*j->p != '"') return HRA_EINVAL;
        int err = skip_string(j);
        if (err) return err;
        skip_ws(j);
        if (j->p >= j->end) return HRA_ETRUNC;
        if (*j->p++ != ':') return HRA_EINVAL;
      }
      expect_value = 1;
      continue;
    }
    if ((top == '[' && c == ']') || (top == '{' && c == '}')) {
      j->p++;
      depth--;
      if (depth == 0) return HRA_OK;
      continue;
    }
    return HRA_EINVAL;
  }
}

int
hra_json_skip (hra_json_t *j, hra_slice_t *value) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  const uint8_t *start = j->p;
  uint8_t c = *j->p;
  int type, err;
  switch (c) {
    case '"':
      type = HRA_JSON_STRING;
      err = skip_string(j);
      break;
    case '[':
      type = HRA_JSON_ARRAY;
      err = skip_container(j);
      break;
    case '{':
      type = HRA_JSON_OBJECT;
      err = skip_container(j);
      break;
    case 't':
      type = HRA_JSON_TRUE;
      err = skip_literal(j, "true");
      break;
    case 'f':
      type = HRA_JSON_FALSE;
      err = skip_literal(j, "false");
      break;
    case 'n':
      type = HRA_JSON_NULL;
      err = skip_literal(j, "null");
      break;
    default:
      if (c == '-' || (c >= '0' && c <= '9')) {
        type = HRA_JSON_NUMBER;
        err = skip_number(j);
      } else {
        return HRA_EINVAL;
      }
  }
  if (err) return err;
  if (value) {
    value->base = start;
    value->len = (size_t) (j->p - start);
  }
  return type;
}

int
hra_json_object_begin (hra_json_t *j) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != '{') return HRA_ETYPE;
  j->p++;
  // next() takes the comma before each member; before the first there is none (JSON.parse refuses "{,").
  skip_ws(j);
  if (j->p < j->end && *j->p == ',') return HRA_EINVAL;
  return HRA_OK;
}

int
hra_json_object_next (hra_json_t *j, hra_slice_t *key, hra_slice_t *value, int *type) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p == '}') {
    j->p++;
    return 0;
  }
  if (*j->p == ',') {
    j->p++;
    skip_ws(j);
    if (j->p >= j->end) return HRA_ETRUNC;
  }
  if (*j->p != '"') return HRA_EINVAL;
  const uint8_t *ks = j->p + 1;
  int err = skip_string(j);
  if (err) return err;
  key->base = ks;
  key->len = (size_t) (j->p - 1 - ks);
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p++ != ':') return HRA_EINVAL;
  int t = hra_json_skip(j, value);
  if (t < 0) return t;
  *type = t;
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != ',' && *j->p != '}') return HRA_EINVAL;
  return 1;
}

int
hra_json_array_begin (hra_json_t *j) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != '[') return HRA_ETYPE;
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == ',') return HRA_EINVAL;
  return HRA_OK;
}

int
hra_json_array_next (hra_json_t *j, hra_slice_t *value, int *type) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p == ']') {
    j->p++;
    return 0;
  }
  if (*j->p == ',') j->p++;
  int t = hra_json_skip(j, value);
  if (t < 0) return t;
  *type = t;
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != ',' && *j->p != ']') return HRA_EINVAL;
  return 1;
}

int
hra_json_number (hra_slice_t s, double *out) {
  char buf[64];
  if (s.len == 0 || s.len >= sizeof(buf)) {
    // Very long number literals are legal JSON; strtod needs a NUL-terminated copy.
    char *heap = malloc(s.len + 1);
    if (heap == NULL) return HRA_ENOMEM;
    memcpy(heap, s.base, s.len);
    heap[s.len] = 0;
    char *endp = NULL;
    *out = strtod(heap, &endp);
    int ok = endp == heap + s.len && s.len > 0;
    free(heap);
    return ok ? HRA_OK : HRA_EINVAL;
  }
  memcpy(buf, s.base, s.len);
  buf[s.len] = 0;
  char *endp = NULL;
  *out = strtod(buf, &endp);
  return endp == buf + s.len ? HRA_OK : HRA_EINVAL;
}

int
hra_json_key_is (hra_slice_t key, const char *name) {
  size_t n = strlen(name);
  return key.len == n && memcmp(key.base, name, n) == 0;
}

// ---------------------------------------------------------------------------------------------------
// JSON strings

static int
put_utf8 (hra_buf_t *out, uint32_t cp) {
  uint8_t b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (uint8_t) cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (uint8_t) (0xc0 | (cp >> 6));
    b[1] = (uint8_t) (0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (uint8_t) (0xe0 | (cp >> 12));
    b[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f));
    b[2] = (uint8_t) (0x80 | (cp & 0x3f));
    n = 3;
  } else {
    b[0] = (uint8_t) (0xf0 | (cp >> 18));
    b[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3f));
    b[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f));
    b[3] = (uint8_t) (0x80 | (cp & 0x3f));
    n = 4;
  }
  return hra_buf_append(out, b, n);
}

static int
read_u4 (const uint8_t *p, const uint8_t *e, uint32_t *v) {
  if (e - p < 4) return HRA_ETRUNC;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hra_json_hexval(p[i]);
    if (h < 0) return HRA_EINVAL;
    *v = (*v << 4) | (uint32_t) h;
  }
  return HRA_OK;
}

int
hra_json_unescape (hra_slice_t q, hra_buf_t *out) {
  if (q.len < 2) return HRA_EINVAL;
  const uint8_t *p = q.base + 1, *e = q.base + q.len - 1;
  size_t start = out->len;
  while (p < e) {
    const uint8_t *run = p;
    while (p < e && *p != '\\')
      p++;
    if (p > run && hra_buf_append(out, run, (size_t) (p - run)) != 0) return HRA_ENOMEM;
    if (p >= e) break;
    p++;
    if (p >= e) return HRA_EINVAL;
    uint8_t c = *p++;
    int err = 0;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        err = hra_buf_putc(out, c);
        break;
      case 'b':
        err = hra_buf_putc(out, '\b');
        break;
      case 'f':
        err = hra_buf_putc(out, '\f');
        break;
      case 'n':
        err = hra_buf_putc(out, '\n');
        break;
      case 'r':
        err = hra_buf_putc(out, '\r');
        break;
      case 't':
        err = hra_buf_putc(out, '\t');
        break;
      case 'u': {
        uint32_t v, lo;
        if ((err = read_u4(p, e, &v)) != 0) return err;
        p += 4;
        if (v >= 0xdc00 && v <= 0xdfff) return HRA_ENOTSUP;
        if (v >= 0xd800 && v <= 0xdbff) {
          if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || read_u4(p + 2, e, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) return HRA_ENOTSUP;
          p += 6;
          v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
        }
        err = put_utf8(out, v);
        break;
      }
      default:
        return HRA_EINVAL;
    }
    if (err) return HRA_ENOMEM;
  }
  if (!hra_encoder_utf8_valid(out->data + start, out->len - start)) return HRA_ENOTSUP;
  return HRA_OK;
}

// ---------------------------------------------------------------------------------------------------
// Canonical JSON: the text is exactly JSON.stringify(JSON.parse(text)), so the parse/stringify round
// trip upstream performs can be skipped. Any JSON value (the sharded front passes arrays, the Primus front
// any type). Conservative: anything doubtful answers 0 (JS does it).

static int
canon_string (const uint8_t **pp, const uint8_t *e) {
  const uint8_t *p = *pp + 1;
  while (p < e) {
    p = string_run(p, e);
    if (p >= e) break;
    uint8_t c = *p++;
    if (c == '"') {
      *pp = p;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c != '\\') continue;
    if (p >= e) return 0;
    c = *p++;
    if (c == '"' || c == '\\' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') continue;
    // JSON.stringify writes \u only for control characters without a short form (and for lone
    // surrogates, which we leave to JS), in lower-case hex.
    if (c != 'u' || e - p < 4 || p[0] != '0' || p[1] != '0' || (p[2] != '0' && p[2] != '1')) return 0;
    if (!((p[3] >= '0' && p[3] <= '9') || (p[3] >= 'a' && p[3] <= 'f'))) return 0;
    unsigned v = (unsigned) ((p[2] - '0') * 16 + hra_json_hexval(p[3]));
    if (v == 8 || v == 9 || v == 10 || v == 12 || v == 13) return 0;
    p += 4;
  }
  return 0;
}

static int
canon_number (const uint8_t **pp, const uint8_t *e) {
  const uint8_t *p = *pp;
  while (p < e && ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E'))
    p++;
  hra_slice_t s = { *pp, (size_t) (p - *pp) };
  // An integer of at most 15 digits without a leading zero is its own shortest form (but "-0" is not).
  const uint8_t *q = s.base, *qe = s.base + s.len;
  if (q < qe && *q == '-') q++;
  if (qe - q >= 1 && qe - q <= 15 && (*q != '0' || (qe - q == 1 && q == s.base))) {
    const uint8_t *r = q;
    while (r < qe && *r >= '0' && *r <= '9')
      r++;
    if (r == qe) {
      *pp = p;
      return 1;
    }
  }
  double d;
  char text[HRA_JSNUM_BUF];
  if (s.len == 0 || s.len >= HRA_JSNUM_BUF || hra_json_number(s, &d) != 0 || !isfinite(d)) return 0;
  size_t n = hra_jsnum_format(d, text);
  if (n != s.len || memcmp(text, s.base, n) != 0) return 0;
  *pp = p;
  return 1;
}

typedef struct {
  uint8_t obj;
  uint8_t has_index;
  uint8_t seen_name;
  uint32_t last_index;
  size_t keys_start;  // index into the key list
} canon_frame_t;

int
hra_json_canonical (hra_buf_t *keys, const uint8_t *text, size_t len, unsigned max_depth) {
  canon_frame_t st[CANON_MAX_DEPTH];
  unsigned limit = max_depth < CANON_MAX_DEPTH ? max_depth : CANON_MAX_DEPTH;
  const uint8_t *p = text, *e = text + len;
  unsigned depth = 0;
  size_t nkeys = 0;
  enum { VALUE,
    KEY,
    AFTER } state = VALUE;
  if (len == 0 || (!all_ascii(text, len) && !hra_encoder_utf8_valid(text, len))) return 0;
  keys->len = 0;
  for (;;) {
    if (state == VALUE) {
      if (p >= e) return 0;
      uint8_t c = *p;
      if (c == '[' || c == '{') {
        if (depth >= limit) return 0;
        canon_frame_t *f = &st[depth++];
        f->obj = c == '{';
        f->has_index = f->seen_name = 0;
        f->last_index = 0;
        f->keys_start = nkeys;
        p++;
        if (p < e && *p == (c == '[' ? ']' : '}')) {
          p++;
          depth--;
          state = AFTER;
        } else {
          state = f->obj ? KEY : VALUE;
        }
        continue;
      }
      if (c == '"') {
        if (!canon_string(&p, e)) return 0;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!canon_number(&p, e)) return 0;
      } else {
        const char *lit = c == 't' ? "true" : c == 'f' ? "false"
          : c == 'n'                                   ? "null"
                                                       : NULL;
        size_t n = lit != NULL ? strlen(lit) : 0;
        if (lit == NULL || (size_t) (e - p) < n || memcmp(p, lit, n) != 0) return 0;
        p += n;
      }
      state = AFTER;
      continue;
    }
    if (state == KEY) {
      canon_frame_t *f = &st[depth - 1];
      if (p >= e || *p != '"') return 0;
      const uint8_t *ks = p;
      if (!canon_string(&p, e)) return 0;
      hra_slice_t key = { ks + 1, (size_t) (p - ks - 2) };
      if (hra_json_key_is(key, "__proto__")) return 0;
      // JSON.stringify lists array-index keys first, ascending, then the others in insertion order.
      uint32_t idx;
      if (hra_jsnum_is_array_index(key.base, key.len, &idx)) {
        if (f->seen_name || (f->has_index && idx <= f->last_index)) return 0;
        f->has_index = 1;
        f->last_index = idx;
      } else {
        f->seen_name = 1;
      }
      // Canonical escapes are unique, so equal keys have equal bytes.
      const hra_slice_t *list = (const hra_slice_t *) (const void *) keys->data;
      if (nkeys - f->keys_start >= CANON_MAX_KEYS) return 0;
      for (size_t i = f->keys_start; i < nkeys; i++) {
        if (list[i].len == key.len && memcmp(list[i].base, key.base, key.len) == 0) return 0;
      }
      keys->len = nkeys * sizeof(hra_slice_t);
      if (hra_buf_append(keys, &key, sizeof(key)) != 0) return 0;
      nkeys++;
      if (p >= e || *p != ':') return 0;
      p++;
      state = VALUE;
      continue;
    }
    if (depth == 0) return p == e;
    canon_frame_t *f = &st[depth - 1];
    if (p >= e) return 0;
    if (*p == ',') {
      p++;
      state = f->obj ? KEY : VALUE;
      continue;
    }
    if (*p == (f->obj ? '}' : ']')) {
      p++;
      nkeys = f->keys_start;
      depth--;
      continue;
    }
    return 0;
  }
}

#include <math.h>
#include <stdlib.h>

#include "encoder.h"
#include "jsnum.h"
#include "mp.h"

// Date arithmetic below must round after every operation exactly as JS does.
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

// One member of a map being written. Entries of all open maps live on one stack in the encoder
// (indices, not pointers: the stack may move when it grows).
typedef struct {
  const uint8_t *kptr;  // key bytes in the input, or NULL when they are in enc->keys at koff
  size_t koff;
  size_t klen;
  const uint8_t *val;  // the value's msgpack (already validated)
  uint32_t index;  // array index value when is_index
  uint32_t next;  // output order link (UINT32_MAX ends the list)
  uint8_t is_index;
  uint8_t dead;  // superseded duplicate or __proto__
} ent_t;

typedef struct {
  hra_encoder_t *enc;
  hra_buf_t *out;
  hra_slices_t *att;
  size_t att_base;
  const uint8_t *end;  // end of the msgpack being written
  unsigned max_depth;
  int own_proto;  // an own "__proto__" property was written (see hra_encode_packet)
} ctx_t;

int
hra_slices_push (hra_slices_t *v, hra_slice_t s) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    if (cap > SIZE_MAX / sizeof(*v->items)) return HRA_ENOMEM;
    hra_slice_t *items = realloc(v->items, cap * sizeof(*items));
    if (items == NULL) return HRA_ENOMEM;
    v->items = items;
    v->cap = cap;
  }
  v->items[v->len++] = s;
  return HRA_OK;
}

void
hra_slices_free (hra_slices_t *v) {
  free(v->items);
  v->items = NULL;
  v->len = 0;
  v->cap = 0;
}

void
hra_encoder_init (hra_encoder_t *enc) {
  memset(enc, 0, sizeof(*enc));
}

void
hra_encoder_free (hra_encoder_t *enc) {
  hra_buf_free(&enc->keys);
  free(enc->ents);
  free(enc->idx);
  memset(enc, 0, sizeof(*enc));
}

// UTF-8 decoding as the WHATWG decoder (and so Buffer.toString('utf8')) does it. Returns the length
// of the valid sequence at p, or 0 when the bytes there are invalid; *bad then gets how many bytes
// one U+FFFD replaces (the maximal subpart: a lead byte plus the continuation bytes that fit it).
static size_t
utf8_seq (const uint8_t *p, size_t left, size_t *bad) {
  uint8_t c = p[0];
  size_t need;
  uint8_t lo = 0x80, hi = 0xbf;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    *bad = 1;
    return 0;
  }
  size_t i = 1;
  for (; i <= need; i++) {
    if (i >= left || p[i] < lo || p[i] > hi) {
      *bad = i;
      return 0;
    }
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

int
hra_encoder_utf8_valid (const uint8_t *p, size_t len) {
  size_t i = 0, bad = 1;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_seq(p + i, len - i, &bad);
    if (n == 0) return 0;
    i += n;
  }
  return 1;
}

int
hra_encoder_utf8_sanitize (hra_buf_t *out, const uint8_t *p, size_t len) {
  size_t i = 0, run = 0, bad = 1;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_seq(p + i, len - i, &bad);
    if (n) {
      i += n;
      continue;
    }
    if (hra_buf_append(out, p + run, i - run) != HRA_OK) return HRA_ENOMEM;
    if (hra_buf_append(out, "\xef\xbf\xbd", 3) != HRA_OK) return HRA_ENOMEM;
    i += bad;
    run = i;
  }
  return hra_buf_append(out, p + run, len - run);
}

// 0: copy as is; 1: ASCII needing an escape; 2: start of a multi-byte sequence (or invalid byte).
static const uint8_t json_class[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
};

// JSON.stringify of the JS string the bytes decode to: invalid UTF-8 becomes U+FFFD, the decoded
// string has no lone surrogates, so only '"', '\\' and controls below 0x20 are escaped.
static int
write_json_string (hra_buf_t *out, const uint8_t *p, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (hra_buf_reserve(out, len + 2) != HRA_OK) return HRA_ENOMEM;
  out->data[out->len++] = '"';
  size_t i = 0, run = 0, bad = 1;
  while (i < len) {
    uint8_t c = p[i];
    uint8_t cls = json_class[c];
    if (cls == 0) {
      i++;
      continue;
    }
    if (cls == 2) {
      size_t n = utf8_seq(p + i, len - i, &bad);
      if (n) {
        i += n;
        continue;
      }
    }
    if (hra_buf_append(out, p + run, i - run) != HRA_OK) return HRA_ENOMEM;
    char esc[6];
    size_t en = 2;
    esc[0] = '\\';
    if (cls == 2) {
      memcpy(esc, "\xef\xbf\xbd", 3);
      en = 3;
      i += bad;
    } else {
      switch (c) {
        case '"':
          esc[1] = '"';
          break;
        case '\\':
          esc[1] = '\\';
          break;
        case '\b':
          esc[1] = 'b';
          break;
        case '\f':
          esc[1] = 'f';
          break;
        case '\n':
          esc[1] = 'n';
          break;
        case '\r':
          esc[1] = 'r';
          break;
        case '\t':
          esc[1] = 't';
          break;
        default:
          memcpy(esc, "\\u00", 4);
          esc[4] = hex[c >> 4];
          esc[5] = hex[c & 15];
          en = 6;
          break;
      }
      i++;
    }
    if (hra_buf_append(out, esc, en) != HRA_OK) return HRA_ENOMEM;
    run = i;
  }
  if (hra_buf_append(out, p + run, len - run) != HRA_OK) return HRA_ENOMEM;
  return hra_buf_putc(out, '"');
}

static int
write_double (hra_buf_t *out, double v, int json) {
  // JSON.stringify prints non-finite numbers as null; String() prints them by name.
  if (json && !isfinite(v)) return hra_buf_append(out, "null", 4);
  char tmp[HRA_JSNUM_BUF];
  size_t n = hra_jsnum_format(v, tmp);
  return hra_buf_append(out, tmp, n);
}

// The number notepack builds for an integer, printed by Number::toString.
static int
write_int (hra_buf_t *out, const hra_mp_obj_t *o) {
  char tmp[HRA_JSNUM_BUF];
  size_t n = 0;
  uint64_t mag;
  if (o->type == HRA_MP_UINT) {
    if (o->v.u > (uint64_t) 1 << 53) return write_double(out, (double) o->v.u, 1);
    mag = o->v.u;
  } else {
    if (o->v.i < -((int64_t) 1 << 53)) return write_double(out, (double) o->v.i, 1);
    if (o->v.i < 0) {
      tmp[n++] = '-';
      mag = (uint64_t) 0 - (uint64_t) o->v.i;
    } else {
      mag = (uint64_t) o->v.i;
    }
  }
  char rev[24];
  size_t r = 0;
  do {
    rev[r++] = (char) ('0' + mag % 10);
    mag /= 10;
  } while (mag);
  while (r)
    tmp[n++] = rev[--r];
  return hra_buf_append(out, tmp, n);
}

static uint32_t
rd32 (const uint8_t *p) {
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

// 1 for the ext forms notepack turns into a Date; *ms gets the argument it passes to new Date().
static int
ext_date_arg (const hra_mp_obj_t *o, double *ms) {
  const uint8_t *p = o->s.base;
  if (o->ext_type == -1 && o->tag == 0xd6) {
    *ms = (double) rd32(p) * 1e3;
    return 1;
  }
  if (o->ext_type == -1 && o->tag == 0xd7) {
    uint32_t hi = rd32(p), lo = rd32(p + 4);
    double s = (double) (hi & 3) * 4294967296.0 + (double) lo;
    double a = s * 1e3;
    double b = (double) (hi >> 2) / 1e6;
    *ms = a + b;
    return 1;
  }
  if (o->ext_type == -1 && o->tag == 0xc7) {
    uint32_t ns = rd32(p);
    int32_t hi = (int32_t) rd32(p + 4);
    uint32_t lo = rd32(p + 8);
    double s = (double) hi * 4294967296.0;
    s = s + (double) lo;
    double a = s * 1e3;
    double b = (double) ns / 1e6;
    *ms = a + b;
    return 1;
  }
  if (o->ext_type == 0 && o->tag == 0xd7) {
    int32_t hi = (int32_t) rd32(p);
    uint32_t lo = rd32(p + 4);
    double h = (double) hi * 4294967296.0;
    *ms = h + (double) lo;
    return 1;
  }
  return 0;
}

// Date.prototype.toJSON: TimeClip, then toISOString, or null for an invalid time value.
static int
write_date (hra_buf_t *out, double t) {
  if (!isfinite(t) || fabs(t) > 8.64e15) return hra_buf_append(out, "null", 4);
  int64_t ms = (int64_t) trunc(t);
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    days--;
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian), era-based.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;

  char tmp[40];
  size_t n = 0;
  tmp[n++] = '"';
  int64_t ay = y < 0 ? -y : y;
  int ydigits = 4;
  if (y < 0 || y > 9999) {
    tmp[n++] = y < 0 ? '-' : '+';
    ydigits = 6;
  }
  for (int i = ydigits - 1; i >= 0; i--) {
    tmp[n + (size_t) i] = (char) ('0' + ay % 10);
    ay /= 10;
  }
  n += (size_t) ydigits;
  int64_t fields[6] = { m, d, rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000 };
  static const char seps[6] = { '-', '-', 'T', ':', ':', '.' };
  for (int i = 0; i < 6; i++) {
    tmp[n++] = seps[i];
    if (i == 5) tmp[n++] = (char) ('0' + fields[i] / 100);
    tmp[n++] = (char) ('0' + fields[i] / 10 % 10);
    tmp[n++] = (char) ('0' + fields[i] % 10);
  }
  tmp[n++] = 'Z';
  tmp[n++] = '"';
  return hra_buf_append(out, tmp, n);
}

static int
write_placeholder (ctx_t *c, hra_slice_t bytes) {
  char tmp[HRA_JSNUM_BUF];
  size_t num = c->att->len - c->att_base;
  if (hra_slices_push(c->att, bytes) != HRA_OK) return HRA_ENOMEM;
  if (hra_buf_puts(c->out, "{\"_placeholder\":true,\"num\":") != HRA_OK) return HRA_ENOMEM;
  size_t n = hra_jsnum_format((double) num, tmp);
  if (hra_buf_append(c->out, tmp, n) != HRA_OK) return HRA_ENOMEM;
  return hra_buf_putc(c->out, '}');
}

static int
is_undefined_at (const uint8_t *p) {
  // Only called on validated values, so a d4 tag has its two bytes.
  return p[0] == 0xd4 && p[1] == 0x00;
}

// 1 when the validated value at p decodes to an object or null (what `obj.__proto__ = v` uses).
static int
is_objectish (const uint8_t *p) {
  uint8_t t = p[0];
  if (is_undefined_at(p)) return 0;
  return t == 0xc0 || (t >= 0x80 && t <= 0x9f) || (t >= 0xc4 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8) || (t >= 0xdc && t <= 0xdf);
}

static int
write_value (ctx_t *c, hra_mp_reader_t *r, unsigned depth);

static int
write_map (ctx_t *c, hra_mp_reader_t *r, uint32_t count, unsigned depth);

static int
write_ext (ctx_t *c, const hra_mp_obj_t *o) {
  double ms;
  if (hra_mp_is_undefined(o)) return hra_buf_append(c->out, "null", 4);  // only reached in arrays
  if (ext_date_arg(o, &ms)) return write_date(c->out, ms);
  if (o->ext_type == 0 && (o->tag == 0xc7 || o->tag == 0xc8 || o->tag == 0xc9)) {
    return write_placeholder(c, o->s);  // legacy ArrayBuffer
  }
  // Any other extension decodes as [type, Buffer].
  char tmp[8];
  int n = 0;
  int t = o->ext_type;
  tmp[n++] = '[';
  if (t < 0) {
    tmp[n++] = '-';
    t = -t;
  }
  if (t >= 100) tmp[n++] = (char) ('0' + t / 100);
  if (t >= 10) tmp[n++] = (char) ('0' + t / 10 % 10);
  tmp[n++] = (char) ('0' + t % 10);
  tmp[n++] = ',';
  if (hra_buf_append(c->out, tmp, (size_t) n) != HRA_OK) return HRA_ENOMEM;
  int err = write_placeholder(c, o->s);
  if (err != HRA_OK) return err;
  return hra_buf_putc(c->out, ']');
}

static int
write_value (ctx_t *c, hra_mp_reader_t *r, unsigned depth) {
  hra_mp_obj_t o;
  int err = hra_mp_read(r, &o);
  if (err != HRA_OK) return err;
  switch (o.type) {
    case HRA_MP_NIL:
      return hra_buf_append(c->out, "null", 4);
    case HRA_MP_BOOL:
      return o.v.b ? hra_buf_append(c->out, "true", 4) : hra_buf_append(c->out, "false", 5);
    case HRA_MP_UINT:
    case HRA_MP_INT:
      return write_int(c->out, &o);
    case HRA_MP_FLOAT:
      return write_double(c->out, o.v.f, 1);
    case HRA_MP_STR:
      return write_json_string(c->out, o.s.base, o.s.len);
    case HRA_MP_BIN:
      return write_placeholder(c, o.s);
    case HRA_MP_EXT:
      return write_ext(c, &o);
    case HRA_MP_ARRAY:
      if (depth > c->max_depth) return HRA_EDEPTH;
      if (hra_buf_putc(c->out, '[') != HRA_OK) return HRA_ENOMEM;
      for (uint32_t i = 0; i < o.count; i++) {
        if (i && hra_buf_putc(c->out, ',') != HRA_OK) return HRA_ENOMEM;
        err = write_value(c, r, depth + 1);
        if (err != HRA_OK) return err;
      }
      return hra_buf_putc(c->out, ']');
    case HRA_MP_MAP:
      if (depth > c->max_depth) return HRA_EDEPTH;
      return write_map(c, r, o.count, depth);
  }
  return HRA_EINVAL;
}

static ent_t *
ents (ctx_t *c) {
  return (ent_t *) c->enc->ents;
}

static const uint8_t *
ent_key (ctx_t *c, const ent_t *e) {
  return e->kptr ? e->kptr : c->enc->keys.data + e->koff;
}

static int
ents_push (hra_encoder_t *enc, const ent_t *e) {
  if (enc->ents_len == enc->ents_cap) {
    size_t cap = enc->ents_cap ? enc->ents_cap * 2 : 64;
    if (cap > SIZE_MAX / sizeof(ent_t)) return HRA_ENOMEM;
    void *p = realloc(enc->ents, cap * sizeof(ent_t));
    if (p == NULL) return HRA_ENOMEM;
    enc->ents = p;
    enc->ents_cap = cap;
  }
  ((ent_t *) enc->ents)[enc->ents_len++] = *e;
  return HRA_OK;
}

// ToPropertyKey of a non-string key, appended to enc->keys. Containers, bin and exts other than the
// legacy undefined stringify in ways we do not reproduce (or that depend on the time zone).
static int
key_string (hra_encoder_t *enc, const hra_mp_obj_t *k) {
  double d;
  char tmp[HRA_JSNUM_BUF];
  if (hra_mp_number(k, &d)) {
    size_t n = hra_jsnum_format(d, tmp);
    return hra_buf_append(&enc->keys, tmp, n);
  }
  switch (k->type) {
    case HRA_MP_NIL:
      return hra_buf_append(&enc->keys, "null", 4);
    case HRA_MP_BOOL:
      return k->v.b ? hra_buf_append(&enc->keys, "true", 4) : hra_buf_append(&enc->keys, "false", 5);
    case HRA_MP_EXT:
      if (hra_mp_is_undefined(k)) return hra_buf_append(&enc->keys, "undefined", 9);
      return HRA_ENOTSUP;
    default:
      return HRA_ENOTSUP;
  }
}

static int
key_cmp (ctx_t *c, uint32_t a, uint32_t b) {
  const ent_t *ea = &ents(c)[a], *eb = &ents(c)[b];
  size_t n = ea->klen < eb->klen ? ea->klen : eb->klen;
  int d = n ? memcmp(ent_key(c, ea), ent_key(c, eb), n) : 0;
  if (d) return d;
  return ea->klen < eb->klen ? -1 : ea->klen > eb->klen;
}

static int
index_cmp (ctx_t *c, uint32_t a, uint32_t b) {
  uint32_t x = ents(c)[a].index, y = ents(c)[b].index;
  return x < y ? -1 : x > y;
}

// Stable bottom-up merge sort of entry indices; tmp has room for n.
static void
sort_idx (ctx_t *c, uint32_t *a, uint32_t *tmp, size_t n, int (*cmp)(ctx_t *, uint32_t, uint32_t)) {
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        tmp[k++] = cmp(c, a[j], a[i]) < 0 ? a[j++] : a[i++];
      while (i < mid)
        tmp[k++] = a[i++];
      while (j < hi)
        tmp[k++] = a[j++];
    }
    memcpy(a, tmp, n * sizeof(*a));
  }
}

// How notepack's `obj[key] = value` treats "__proto__" keys. While the object's prototype chain
// reaches Object.prototype, the key hits the __proto__ accessor: an object (or null) value becomes
// the prototype and a primitive is ignored; either way no property is created. Once the chain ends
// in null (a null prototype, or a plain-object prototype whose own chain does), the key is an
// ordinary own property.
typedef struct {
  const uint8_t *proto;  // the last value that became the prototype, NULL if none did
  int accessor;  // "__proto__" still reaches the accessor
  int has_tojson;  // an own "toJSON" property
} proto_info_t;

static int
map_proto_info (ctx_t *c, const uint8_t *map, unsigned depth, proto_info_t *info);

// Whether the accessor is still reachable after the prototype became the value at p.
static int
chain_accessor (ctx_t *c, const uint8_t *p, unsigned depth, int *accessor) {
  if (p[0] == 0xc0) {
    *accessor = 0;
    return HRA_OK;
  }
  if ((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf) {
    proto_info_t info;
    int err = map_proto_info(c, p, depth, &info);
    *accessor = info.accessor;
    return err;
  }
  *accessor = 1;  // arrays, Buffers, Dates, ArrayBuffers all inherit from Object.prototype
  return HRA_OK;
}

// Scans a (validated) map whose header starts at map. depth is the map's own nesting level.
static int
map_proto_info (ctx_t *c, const uint8_t *map, unsigned depth, proto_info_t *info) {
  info->proto = NULL;
  info->accessor = 1;
  info->has_tojson = 0;
  if (depth > c->max_depth) return HRA_EDEPTH;
  hra_mp_reader_t r = { map, c->end };
  hra_mp_obj_t o;
  int err = hra_mp_read(&r, &o);
  if (err != HRA_OK) return err;
  unsigned allow = c->max_depth - depth;
  for (uint32_t i = 0; i < o.count; i++) {
    hra_mp_obj_t k;
    hra_mp_reader_t at = r;
    err = hra_mp_read(&r, &k);
    if (err != HRA_OK) return err;
    if (k.type == HRA_MP_ARRAY || k.type == HRA_MP_MAP) {
      // Such a key is never "__proto__" or "toJSON"; skip it whole.
      r = at;
      err = hra_mp_skip(&r, allow);
      if (err != HRA_OK) return err;
    }
    if (hra_mp_str_is(&k, "__proto__") && info->accessor && is_objectish(r.p)) {
      info->proto = r.p;
      err = chain_accessor(c, r.p, depth + 1, &info->accessor);
      if (err != HRA_OK) return err;
    } else if (hra_mp_str_is(&k, "toJSON")) {
      info->has_tojson = 1;
    }
    err = hra_mp_skip(&r, allow);
    if (err != HRA_OK) return err;
  }
  return HRA_OK;
}

// Only the prototype chain can change what upstream does with an object:
// - arrays, plain objects and null: nothing (JSON and socket.io-parser only read own properties);
// - an ArrayBuffer: `instanceof ArrayBuffer` makes the whole object an "attachment": refused;
// - a Buffer or a Date: the inherited toJSON throws, unless an own (or intermediate plain-object)
//   "toJSON" property shadows it. A shadowed Date chain still makes socket.io-parser skip the
//   object when replacing binary, so *date_chain tells the caller to refuse binary inside it.
static int
check_proto (ctx_t *c, const uint8_t *val, unsigned depth, int has_tojson, int *date_chain) {
  *date_chain = 0;
  for (;;) {
    hra_mp_reader_t r = { val, c->end };
    hra_mp_obj_t o;
    int err = hra_mp_read(&r, &o);
    if (err != HRA_OK) return err;
    if (o.type == HRA_MP_BIN) return has_tojson ? HRA_OK : HRA_ENOTSUP;
    if (o.type == HRA_MP_EXT) {
      double ms;
      if (ext_date_arg(&o, &ms)) {
        if (!has_tojson) return HRA_ENOTSUP;
        *date_chain = 1;
        return HRA_OK;
      }
      if (o.ext_type == 0 && o.tag != 0xd4) return HRA_ENOTSUP;
      return HRA_OK;
    }
    if (o.type != HRA_MP_MAP) return HRA_OK;
    depth++;
    proto_info_t info;
    err = map_proto_info(c, val, depth, &info);
    if (err != HRA_OK) return err;
    has_tojson |= info.has_tojson;
    if (info.proto == NULL) return HRA_OK;
    val = info.proto;
  }
}

static int
write_key_value (ctx_t *c, const ent_t *e, int first, unsigned depth) {
  if (!first && hra_buf_putc(c->out, ',') != HRA_OK) return HRA_ENOMEM;
  int err = write_json_string(c->out, ent_key(c, e), e->klen);
  if (err != HRA_OK) return err;
  if (hra_buf_putc(c->out, ':') != HRA_OK) return HRA_ENOMEM;
  hra_mp_reader_t vr = { e->val, c->end };
  return write_value(c, &vr, depth + 1);
}

// Writes a JS object built by notepack from count msgpack pairs, in JS property order. All keys are
// read first (values skipped) because order, duplicates and "__proto__" depend on every key.
static int
write_map (ctx_t *c, hra_mp_reader_t *r, uint32_t count, unsigned depth) {
  hra_encoder_t *enc = c->enc;
  size_t base = enc->ents_len;
  size_t keys_base = enc->keys.len;
  int simple = 1;
  int err = HRA_OK;
  const uint8_t *proto = NULL;
  int has_tojson = 0, date_chain = 0, accessor = 1;

  for (uint32_t i = 0; i < count; i++) {
    hra_mp_obj_t k;
    err = hra_mp_read(r, &k);
    if (err != HRA_OK) goto done;
    ent_t e;
    memset(&e, 0, sizeof(e));
    if (k.type == HRA_MP_STR && hra_encoder_utf8_valid(k.s.base, k.s.len)) {
      e.kptr = k.s.base;
      e.klen = k.s.len;
    } else {
      simple = 0;
      e.koff = enc->keys.len;
      err = k.type == HRA_MP_STR ? hra_encoder_utf8_sanitize(&enc->keys, k.s.base, k.s.len) : key_string(enc, &k);
      if (err != HRA_OK) goto done;
      e.klen = enc->keys.len - e.koff;
    }
    e.val = r->p;
    err = hra_mp_skip(r, c->max_depth - depth);
    if (err != HRA_OK) goto done;
    const uint8_t *kb = ent_key(c, &e);
    if (hra_jsnum_is_array_index(kb, e.klen, &e.index)) {
      e.is_index = 1;
      simple = 0;
    } else if (e.klen == 9 && memcmp(kb, "__proto__", 9) == 0) {
      simple = 0;
      if (accessor) {
        e.dead = 1;
        if (is_objectish(e.val)) {
          proto = e.val;
          err = chain_accessor(c, e.val, depth + 1, &accessor);
          if (err != HRA_OK) goto done;
        }
      }
    } else if (e.klen == 6 && memcmp(kb, "toJSON", 6) == 0) {
      has_tojson = 1;
    }
    err = ents_push(enc, &e);
    if (err != HRA_OK) goto done;
  }
  size_t n = enc->ents_len - base;
  if (simple && n > 1) {
    // Duplicate keys need the slow path; small maps are checked pairwise, large ones just sorted.
    if (n > 8) {
      simple = 0;
    } else {
      for (size_t i = 1; i < n && simple; i++) {
        for (size_t j = 0; j < i; j++) {
          const ent_t *a = &ents(c)[base + i], *b = &ents(c)[base + j];
          if (a->klen == b->klen && memcmp(a->kptr, b->kptr, a->klen) == 0) {
            simple = 0;
            break;
          }
        }
      }
    }
  }

  if (hra_buf_putc(c->out, '{') != HRA_OK) {
    err = HRA_ENOMEM;
    goto done;
  }
  int first = 1;
  if (simple) {
    for (size_t i = 0; i < n; i++) {
      const ent_t *e = &ents(c)[base + i];
      if (is_undefined_at(e->val)) continue;
      err = write_key_value(c, e, first, depth);
      if (err != HRA_OK) goto done;
      first = 0;
    }
  } else {
    if (proto != NULL) {
      err = check_proto(c, proto, depth, has_tojson, &date_chain);
      if (err != HRA_OK) goto done;
    }
    if (n * 2 > enc->idx_cap) {
      // n is at most half the input length, so n * 2 cannot overflow.
      uint32_t *idx = n > SIZE_MAX / (2 * sizeof(uint32_t)) ? NULL : realloc(enc->idx, n * 2 * sizeof(uint32_t));
      if (idx == NULL) {
        err = HRA_ENOMEM;
        goto done;
      }
      enc->idx = idx;
      enc->idx_cap = n * 2;
    }
    uint32_t *a = enc->idx, *tmp = enc->idx + n;
    // Duplicates: sort live keys (stable, so ties stay in insertion order); the first entry of each
    // run keeps its position and takes the last entry's value.
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (!ents(c)[base + i].dead) a[m++] = (uint32_t) (base + i);
    }
    sort_idx(c, a, tmp, m, key_cmp);
    for (size_t i = 0; i < m;) {
      size_t j = i + 1;
      while (j < m && key_cmp(c, a[i], a[j]) == 0)
        j++;
      if (j - i > 1) {
        ents(c)[a[i]].val = ents(c)[a[j - 1]].val;
        for (size_t x = i + 1; x < j; x++)
          ents(c)[a[x]].dead = 1;
      }
      i = j;
    }
    // Order: array indices ascending, then the other keys in insertion order.
    size_t ni = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
      const ent_t *e = &ents(c)[base + i];
      if (!e->dead && e->is_index) a[ni++] = (uint32_t) (base + i);
    }
    sort_idx(c, a, tmp, ni, index_cmp);
    for (size_t i = 0; i < n; i++) {
      const ent_t *e = &ents(c)[base + i];
      if (!e->dead && !e->is_index) a[ni + ns++] = (uint32_t) (base + i);
    }
    // Writing recurses and reuses enc->idx, so the order is moved into the entries first.
    uint32_t head = UINT32_MAX;
    for (size_t i = ni + ns; i-- > 0;) {
      ents(c)[a[i]].next = head;
      head = a[i];
    }
    size_t att_before = c->att->len;
    for (uint32_t at = head; at != UINT32_MAX; at = ents(c)[at].next) {
      ent_t e = ents(c)[at];
      if (is_undefined_at(e.val)) continue;
      if (e.klen == 9 && memcmp(ent_key(c, &e), "__proto__", 9) == 0) c->own_proto = 1;
      err = write_key_value(c, &e, first, depth);
      if (err != HRA_OK) goto done;
      first = 0;
    }
    if (date_chain && c->att->len != att_before) {
      err = HRA_ENOTSUP;
      goto done;
    }
  }
  err = hra_buf_putc(c->out, '}');

done:
  enc->ents_len = base;
  enc->keys.len = keys_base;
  return err;
}

static int
write_header_id (hra_buf_t *out, const hra_slice_t *id_mp) {
  hra_mp_reader_t r;
  hra_mp_obj_t o;
  hra_mp_reader_init(&r, id_mp->base, id_mp->len);
  int err = hra_mp_read(&r, &o);
  if (err != HRA_OK) return err;
  if (o.type == HRA_MP_ARRAY || o.type == HRA_MP_MAP) return HRA_ENOTSUP;
  if (r.p != r.end) return HRA_EINVAL;
  double d;
  char tmp[HRA_JSNUM_BUF];
  switch (o.type) {
    case HRA_MP_NIL:
      return HRA_OK;
    case HRA_MP_BOOL:
      return o.v.b ? hra_buf_append(out, "true", 4) : hra_buf_append(out, "false", 5);
    case HRA_MP_STR:
      return hra_encoder_utf8_sanitize(out, o.s.base, o.s.len);
    case HRA_MP_UINT:
    case HRA_MP_INT:
    case HRA_MP_FLOAT:
      hra_mp_number(&o, &d);
      return hra_buf_append(out, tmp, hra_jsnum_format(d, tmp));
    case HRA_MP_EXT:
      if (hra_mp_is_undefined(&o)) return HRA_OK;
      return HRA_ENOTSUP;
    default:
      return HRA_ENOTSUP;
  }
}

int
hra_encode_packet (hra_encoder_t *enc, hra_buf_t *out, hra_slices_t *attachments, int type, hra_slice_t nsp, const hra_slice_t *id_mp, hra_slice_t data_mp, unsigned max_depth) {
  if (type != 2 && type != 3) return HRA_ENOTSUP;
  if (max_depth > HRA_MP_MAX_DEPTH) max_depth = HRA_MP_MAX_DEPTH;
  size_t out_base = out->len;
  size_t att_base = attachments->len;
  int err = hra_buf_putc(out, (uint8_t) ('0' + type));
  if (err != HRA_OK) goto fail;
  if (nsp.len && !(nsp.len == 1 && nsp.base[0] == '/')) {
    err = hra_buf_append(out, nsp.base, nsp.len);
    if (err == HRA_OK) err = hra_buf_putc(out, ',');
    if (err != HRA_OK) goto fail;
  }
  if (id_mp != NULL) {
    err = write_header_id(out, id_mp);
    if (err != HRA_OK) goto fail;
  }
  if (data_mp.len) {
    hra_mp_reader_t r;
    hra_mp_reader_init(&r, data_mp.base, data_mp.len);
    if (data_mp.len >= 2 && is_undefined_at(data_mp.base)) {
      // packet.data === undefined: no JSON at all (but the bytes must still be exactly one value).
      err = hra_mp_validate(data_mp.base, data_mp.len, max_depth);
    } else if (data_mp.base[0] == 0xc0) {
      err = data_mp.len == 1 ? HRA_OK : HRA_EINVAL;
    } else {
      ctx_t c = { enc, out, attachments, att_base, data_mp.base + data_mp.len, max_depth, 0 };
      err = write_value(&c, &r, 1);
      if (err == HRA_OK && r.p != r.end) err = HRA_EINVAL;
      // With binary, socket.io-parser copies objects with `copy[key] = value`, and on the copy an
      // own "__proto__" property hits the accessor again and vanishes (while its binary is still
      // counted). Such objects need a null prototype chain first; we do not reproduce that.
      if (err == HRA_OK && c.own_proto && attachments->len != att_base) err = HRA_ENOTSUP;
    }
    if (err != HRA_OK) goto fail;
  }

  size_t natt = attachments->len - att_base;
  if (natt) {
    // hasBinary(packet): BINARY_EVENT / BINARY_ACK with "<count>-" after the type digit.
    char tmp[HRA_JSNUM_BUF + 1];
    size_t n = hra_jsnum_format((double) natt, tmp);
    tmp[n++] = '-';
    err = hra_buf_reserve(out, n);
    if (err != HRA_OK) goto fail;
    uint8_t *at = out->data + out_base + 1;
    memmove(at + n, at, out->len - out_base - 1);
    memcpy(at, tmp, n);
    out->len += n;
    out->data[out_base] = (uint8_t) (type == 2 ? '5' : '6');
  }
  return HRA_OK;

fail:
  out->len = out_base;
  attachments->len = att_base;
  return err;
}

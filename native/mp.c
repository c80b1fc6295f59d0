#include <math.h>

#include "mp.h"

static uint16_t
be16 (const uint8_t *p) {
  return (uint16_t) ((p[0] << 8) | p[1]);
}

static uint32_t
be32 (const uint8_t *p) {
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static uint64_t
be64 (const uint8_t *p) {
  return ((uint64_t) be32(p) << 32) | be32(p + 4);
}

// Length of the header that follows the tag byte, and of a fixed payload, for tags 0xc0..0xdf.
// Everything outside that range is a one-byte fixint/fixmap/fixarray/fixstr.
static const uint8_t hdr_extra[32] = {
  0, 0, 0, 0,  // c0 nil, c1 never used, c2 false, c3 true
  1, 2, 4,  // c4..c6 bin8/16/32
  2, 3, 5,  // c7..c9 ext8/16/32: length + type
  4, 8,  // ca cb float32/64
  1, 2, 4, 8,  // cc..cf uint
  1, 2, 4, 8,  // d0..d3 int
  1, 1, 1, 1, 1,  // d4..d8 fixext: type byte
  1, 2, 4,  // d9..db str8/16/32
  2, 4,  // dc dd array16/32
  2, 4  // de df map16/32
};

int
hra_mp_read (hra_mp_reader_t *r, hra_mp_obj_t *o) {
  const uint8_t *p = r->p;
  size_t left = (size_t) (r->end - p);
  if (left == 0) return HRA_ETRUNC;
  uint8_t tag = *p++;
  left--;
  o->tag = tag;
  o->ext_type = 0;
  o->count = 0;
  o->s.base = NULL;
  o->s.len = 0;

  if (tag < 0x80) {
    o->type = HRA_MP_UINT;
    o->v.u = tag;
    r->p = p;
    return HRA_OK;
  }
  if (tag >= 0xe0) {
    o->type = HRA_MP_INT;
    o->v.i = (int8_t) tag;
    r->p = p;
    return HRA_OK;
  }
  if (tag < 0xc0) {
    size_t n;
    if (tag < 0x90) {
      o->type = HRA_MP_MAP;
      n = tag & 0x0f;
      if (n > left / 2) return HRA_ETRUNC;
      o->count = (uint32_t) n;
    } else if (tag < 0xa0) {
      o->type = HRA_MP_ARRAY;
      n = tag & 0x0f;
      if (n > left) return HRA_ETRUNC;
      o->count = (uint32_t) n;
    } else {
      o->type = HRA_MP_STR;
      n = tag & 0x1f;
      if (n > left) return HRA_ETRUNC;
      o->s.base = p;
      o->s.len = n;
      p += n;
    }
    r->p = p;
    return HRA_OK;
  }

  if (tag == 0xc1) return HRA_EINVAL;
  size_t extra = hdr_extra[tag - 0xc0];
  if (extra > left) return HRA_ETRUNC;
  const uint8_t *h = p;
  p += extra;
  left -= extra;
  size_t n = 0;

  switch (tag) {
    case 0xc0:
      o->type = HRA_MP_NIL;
      break;
    case 0xc2:
    case 0xc3:
      o->type = HRA_MP_BOOL;
      o->v.b = tag == 0xc3;
      break;
    case 0xc4:
    case 0xc5:
    case 0xc6:
    case 0xd9:
    case 0xda:
    case 0xdb:
      n = extra == 1 ? h[0] : extra == 2 ? be16(h)
                                         : be32(h);
      if (n > left) return HRA_ETRUNC;
      o->type = tag <= 0xc6 ? HRA_MP_BIN : HRA_MP_STR;
      o->s.base = p;
      o->s.len = n;
      p += n;
      break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
      n = extra == 2 ? h[0] : extra == 3 ? be16(h)
                                         : be32(h);
      o->type = HRA_MP_EXT;
      o->ext_type = (int8_t) h[extra - 1];
      // notepack reads a timestamp96 from any ext8 of type -1 and always consumes 12 bytes.
      if (tag == 0xc7 && o->ext_type == -1) n = 12;
      if (n > left) return HRA_ETRUNC;
      o->s.base = p;
      o->s.len = n;
      p += n;
      break;
    case 0xca: {
      uint32_t bits = be32(h);
      float f;
      memcpy(&f, &bits, sizeof(f));
      o->type = HRA_MP_FLOAT;
      o->v.f = (double) f;
      break;
    }
    case 0xcb: {
      uint64_t bits = be64(h);
      double d;
      memcpy(&d, &bits, sizeof(d));
      o->type = HRA_MP_FLOAT;
      o->v.f = d;
      break;
    }
    case 0xcc:
      o->type = HRA_MP_UINT;
      o->v.u = h[0];
      break;
    case 0xcd:
      o->type = HRA_MP_UINT;
      o->v.u = be16(h);
      break;
    case 0xce:
      o->type = HRA_MP_UINT;
      o->v.u = be32(h);
      break;
    case 0xcf:
      o->type = HRA_MP_UINT;
      o->v.u = be64(h);
      break;
    case 0xd0:
      o->type = HRA_MP_INT;
      o->v.i = (int8_t) h[0];
      break;
    case 0xd1:
      o->type = HRA_MP_INT;
      o->v.i = (int16_t) be16(h);
      break;
    case 0xd2:
      o->type = HRA_MP_INT;
      o->v.i = (int32_t) be32(h);
      break;
    case 0xd3:
      o->type = HRA_MP_INT;
      o->v.i = (int64_t) be64(h);
      break;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      n = (size_t) 1 << (tag - 0xd4);
      if (n > left) return HRA_ETRUNC;
      o->type = HRA_MP_EXT;
      o->ext_type = (int8_t) h[0];
      o->s.base = p;
      o->s.len = n;
      p += n;
      break;
    case 0xdc:
    case 0xdd:
      n = extra == 2 ? be16(h) : be32(h);
      if (n > left) return HRA_ETRUNC;
      o->type = HRA_MP_ARRAY;
      o->count = (uint32_t) n;
      break;
    case 0xde:
    case 0xdf:
      n = extra == 2 ? be16(h) : be32(h);
      if (n > left / 2) return HRA_ETRUNC;
      o->type = HRA_MP_MAP;
      o->count = (uint32_t) n;
      break;
    default:
      return HRA_EINVAL;
  }
  r->p = p;
  return HRA_OK;
}

int
hra_mp_skip (hra_mp_reader_t *r, unsigned max_depth) {
  // remaining[d] counts the items still to read in the container open at depth d+1; depth 0 is
  // the single top-level value. Items are bounded by the bytes left, so size_t never overflows.
  size_t remaining[HRA_MP_MAX_DEPTH + 1];
  if (max_depth > HRA_MP_MAX_DEPTH) max_depth = HRA_MP_MAX_DEPTH;
  unsigned depth = 0;
  remaining[0] = 1;
  for (;;) {
    while (remaining[depth] == 0) {
      if (depth == 0) return HRA_OK;
      depth--;
    }
    remaining[depth]--;
    hra_mp_obj_t o;
    int err = hra_mp_read(r, &o);
    if (err != HRA_OK) return err;
    if (o.type == HRA_MP_ARRAY || o.type == HRA_MP_MAP) {
      if (depth + 1 > max_depth) return HRA_EDEPTH;
      depth++;
      remaining[depth] = o.type == HRA_MP_MAP ? (size_t) o.count * 2 : o.count;
    }
  }
}

int
hra_mp_validate (const uint8_t *p, size_t len, unsigned max_depth) {
  hra_mp_reader_t r;
  hra_mp_reader_init(&r, p, len);
  int err = hra_mp_skip(&r, max_depth);
  if (err != HRA_OK) return err;
  return r.p == r.end ? HRA_OK : HRA_EINVAL;
}

int
hra_mp_number (const hra_mp_obj_t *o, double *out) {
  switch (o->type) {
    case HRA_MP_UINT:
      // (double) of a 64-bit integer rounds once to nearest-even, as `hi * 2**32 + lo` does: the
      // product is exact, so the sum is the only rounding step.
      *out = (double) o->v.u;
      return 1;
    case HRA_MP_INT:
      *out = (double) o->v.i;
      return 1;
    case HRA_MP_FLOAT:
      *out = o->v.f;
      return 1;
    default:
      return 0;
  }
}

int
hra_mp_is_undefined (const hra_mp_obj_t *o) {
  return o->type == HRA_MP_EXT && o->tag == 0xd4 && o->ext_type == 0;
}

int
hra_mp_truthy (const hra_mp_obj_t *v) {
  double d;
  if (hra_mp_number(v, &d)) return d != 0 && !isnan(d);
  switch (v->type) {
    case HRA_MP_NIL:
      return 0;
    case HRA_MP_BOOL:
      return v->v.b;
    case HRA_MP_STR:
      return v->s.len > 0;
    case HRA_MP_EXT:
      return !hra_mp_is_undefined(v);
    default:
      return 1;
  }
}

#include <math.h>

#include "envelope.h"
#include "mp.h"

// Every byte of the message is either read here or skipped (which validates it), so a successful
// decode has validated the whole message in one pass. depth is the nesting level of the container
// holding the value; the value may nest max_depth - depth more levels.
static int
skip_value (hra_mp_reader_t *r, unsigned max_depth, unsigned depth, hra_slice_t *raw) {
  const uint8_t *start = r->p;
  int err = hra_mp_skip(r, depth < max_depth ? max_depth - depth : 0);
  if (err != HRA_OK) return err;
  if (raw != NULL) {
    raw->base = start;
    raw->len = (size_t) (r->p - start);
  }
  return HRA_OK;
}

// Reads the header of the value at r without consuming it.
static int
peek (const hra_mp_reader_t *r, hra_mp_obj_t *o) {
  hra_mp_reader_t tmp = *r;
  return hra_mp_read(&tmp, o);
}

// Reads one map key. Container and bin keys are refused: String(["type"]) or a Buffer holding
// "type" would name a field we look for, and we do not reproduce that conversion.
static int
read_key (hra_mp_reader_t *r, hra_mp_obj_t *k) {
  int err = hra_mp_read(r, k);
  if (err != HRA_OK) return err;
  if (k->type == HRA_MP_ARRAY || k->type == HRA_MP_MAP || k->type == HRA_MP_BIN) return HRA_ENOTSUP;
  return HRA_OK;
}

// A "__proto__" key sets the prototype when its value is an object. A plain-object prototype would
// make its fields readable as packet.type, opts.rooms, flags.volatile..., so any object value is
// refused; a primitive or nil value is harmless.
static int
check_proto (const hra_mp_obj_t *v) {
  switch (v->type) {
    case HRA_MP_NIL:
    case HRA_MP_BOOL:
    case HRA_MP_INT:
    case HRA_MP_UINT:
    case HRA_MP_FLOAT:
    case HRA_MP_STR:
      return HRA_OK;
    case HRA_MP_EXT:
      return hra_mp_is_undefined(v) ? HRA_OK : HRA_ENOTSUP;
    default:
      return HRA_ENOTSUP;
  }
}

// Reads a value header; a container at nesting level depth must fit within max_depth.
static int
read_at (hra_mp_reader_t *r, unsigned max_depth, unsigned depth, hra_mp_obj_t *o) {
  int err = hra_mp_read(r, o);
  if (err != HRA_OK) return err;
  if ((o->type == HRA_MP_ARRAY || o->type == HRA_MP_MAP) && depth > max_depth) return HRA_EDEPTH;
  return HRA_OK;
}

// The packet map is at nesting level 2 (inside the top-level array).
static int
decode_packet (hra_mp_reader_t *r, unsigned max_depth, hra_envelope_t *env) {
  hra_mp_obj_t o;
  int err = read_at(r, max_depth, 2, &o);
  if (err != HRA_OK) return err;
  if (o.type != HRA_MP_MAP) return HRA_ETYPE;
  int has_type = 0;
  hra_mp_obj_t type_obj;
  memset(&type_obj, 0, sizeof(type_obj));
  for (uint32_t i = 0; i < o.count; i++) {
    hra_mp_obj_t k, v;
    err = read_key(r, &k);
    if (err != HRA_OK) return err;
    err = peek(r, &v);
    if (err != HRA_OK) return err;
    hra_slice_t raw;
    err = skip_value(r, max_depth, 2, &raw);
    if (err != HRA_OK) return err;
    if (hra_mp_str_is(&k, "type")) {
      has_type = 1;
      type_obj = v;
    } else if (hra_mp_str_is(&k, "data")) {
      env->data = raw;
    } else if (hra_mp_str_is(&k, "nsp")) {
      // A legacy undefined nsp is `undefined`, which upstream replaces with "/".
      env->has_nsp = !hra_mp_is_undefined(&v);
      env->nsp_is_string = v.type == HRA_MP_STR;
      env->nsp = v.type == HRA_MP_STR ? v.s : raw;
    } else if (hra_mp_str_is(&k, "id")) {
      env->has_id = v.type != HRA_MP_NIL && !hra_mp_is_undefined(&v);
      env->id = raw;
    } else if (hra_mp_str_is(&k, "__proto__")) {
      err = check_proto(&v);
      if (err != HRA_OK) return err;
    } else {
      // socket.io-parser's hasBinary() walks every own property of the packet, so binary in an
      // unknown field would change the packet type. Only scalars (and Dates) are let through.
      if (v.type == HRA_MP_ARRAY || v.type == HRA_MP_MAP || v.type == HRA_MP_BIN) return HRA_ENOTSUP;
      if (v.type == HRA_MP_EXT && !hra_mp_is_undefined(&v)) {
        int date = (v.ext_type == -1 && (v.tag == 0xd6 || v.tag == 0xd7 || v.tag == 0xc7)) || (v.ext_type == 0 && v.tag == 0xd7);
        if (!date) return HRA_ENOTSUP;
      }
    }
  }
  double d;
  if (!has_type || !hra_mp_number(&type_obj, &d)) return HRA_ETYPE;
  if (!(d == trunc(d)) || fabs(d) >= 9223372036854775808.0) return HRA_ETYPE;
  env->type = (int64_t) d;
  return HRA_OK;
}

static int
decode_room_list (const hra_mp_obj_t *v, hra_slice_t raw, hra_slice_t *out, uint32_t *count) {
  if (v->type == HRA_MP_ARRAY) {
    *out = raw;
    *count = v->count;
    return HRA_OK;
  }
  // new Set(null) and new Set(undefined) are empty; other values are refused (a string would be
  // iterated character by character upstream).
  if (v->type == HRA_MP_NIL || hra_mp_is_undefined(v)) {
    out->base = NULL;
    out->len = 0;
    *count = 0;
    return HRA_OK;
  }
  return HRA_ETYPE;
}

// flags sits at nesting level 3 (array > opts > flags).
static int
decode_flags (hra_mp_reader_t *r, unsigned max_depth, hra_envelope_t *env) {
  hra_mp_obj_t o;
  int err = read_at(r, max_depth, 3, &o);
  if (err != HRA_OK) return err;
  env->is_volatile = 0;
  env->compress_false = 0;
  if (o.type != HRA_MP_MAP) {
    // `opts.flags || {}`: a primitive, array, Buffer or Date has no volatile/compress field.
    if (o.type == HRA_MP_ARRAY) {
      for (uint32_t i = 0; i < o.count; i++) {
        err = skip_value(r, max_depth, 3, NULL);
        if (err != HRA_OK) return err;
      }
    }
    return HRA_OK;
  }
  for (uint32_t i = 0; i < o.count; i++) {
    hra_mp_obj_t k, v;
    err = read_key(r, &k);
    if (err != HRA_OK) return err;
    err = peek(r, &v);
    if (err != HRA_OK) return err;
    err = skip_value(r, max_depth, 3, NULL);
    if (err != HRA_OK) return err;
    if (hra_mp_str_is(&k, "volatile")) {
      env->is_volatile = hra_mp_truthy(&v);
    } else if (hra_mp_str_is(&k, "compress")) {
      env->compress_false = v.type == HRA_MP_BOOL && !v.v.b;
    } else if (hra_mp_str_is(&k, "__proto__")) {
      err = check_proto(&v);
      if (err != HRA_OK) return err;
    }
  }
  return HRA_OK;
}

static int
decode_opts (hra_mp_reader_t *r, unsigned max_depth, hra_envelope_t *env) {
  hra_mp_obj_t o;
  int err = read_at(r, max_depth, 2, &o);
  if (err != HRA_OK) return err;
  if (o.type == HRA_MP_ARRAY) {
    // Upstream reads no field of an array: all defaults. Its elements still get validated.
    for (uint32_t i = 0; i < o.count; i++) {
      err = skip_value(r, max_depth, 2, NULL);
      if (err != HRA_OK) return err;
    }
    return HRA_OK;
  }
  if (o.type != HRA_MP_MAP) return HRA_ETYPE;
  for (uint32_t i = 0; i < o.count; i++) {
    hra_mp_obj_t k, v;
    err = read_key(r, &k);
    if (err != HRA_OK) return err;
    err = peek(r, &v);
    if (err != HRA_OK) return err;
    if (hra_mp_str_is(&k, "flags")) {
      err = decode_flags(r, max_depth, env);
      if (err != HRA_OK) return err;
      continue;
    }
    hra_slice_t raw;
    err = skip_value(r, max_depth, 2, &raw);
    if (err != HRA_OK) return err;
    if (hra_mp_str_is(&k, "rooms")) {
      err = decode_room_list(&v, raw, &env->rooms, &env->rooms_count);
    } else if (hra_mp_str_is(&k, "except")) {
      err = decode_room_list(&v, raw, &env->except, &env->except_count);
    } else if (hra_mp_str_is(&k, "__proto__")) {
      err = check_proto(&v);
    }
    if (err != HRA_OK) return err;
  }
  return HRA_OK;
}

int
hra_envelope_decode (const uint8_t *p, size_t len, unsigned max_depth, hra_envelope_t *env) {
  memset(env, 0, sizeof(*env));
  if (max_depth > HRA_MP_MAX_DEPTH) max_depth = HRA_MP_MAX_DEPTH;
  hra_mp_reader_t r;
  hra_mp_reader_init(&r, p, len);
  hra_mp_obj_t top;
  int err = read_at(&r, max_depth, 1, &top);
  if (err != HRA_OK) return err;
  if (top.type != HRA_MP_ARRAY || top.count < 3) {
    // Still tell malformed bytes apart from a well-formed message of the wrong shape.
    err = hra_mp_validate(p, len, max_depth);
    return err != HRA_OK ? err : HRA_ETYPE;
  }

  hra_mp_obj_t uid;
  err = peek(&r, &uid);
  if (err != HRA_OK) return err;
  err = skip_value(&r, max_depth, 1, &env->uid);
  if (err != HRA_OK) return err;
  if (uid.type == HRA_MP_STR) {
    env->uid_is_string = 1;
    env->uid = uid.s;
  }
  err = decode_packet(&r, max_depth, env);
  if (err != HRA_OK) return err;
  err = decode_opts(&r, max_depth, env);
  if (err != HRA_OK) return err;
  for (uint32_t i = 3; i < top.count; i++) {
    err = skip_value(&r, max_depth, 1, NULL);
    if (err != HRA_OK) return err;
  }
  return r.p == r.end ? HRA_OK : HRA_EINVAL;
}

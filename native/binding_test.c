// A test-only addon (build/<config>/hiredis_adapter_test.node, never in the released binary) exposing
// the codec modules (envelope decoding, packet encoding) to the mocha differential tests. Nothing here
// is used on a hot path; every call allocates freely.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "encoder.h"
#include "envelope.h"
#include "mp.h"
#include "napi_util.h"

#define DEFAULT_DEPTH 100

static const char *
err_code (int err) {
  switch (err) {
    case HRA_ENOMEM:
      return "HRA_ENOMEM";
    case HRA_EINVAL:
      return "HRA_EINVAL";
    case HRA_ETRUNC:
      return "HRA_ETRUNC";
    case HRA_EDEPTH:
      return "HRA_EDEPTH";
    case HRA_ELIMIT:
      return "HRA_ELIMIT";
    case HRA_ETYPE:
      return "HRA_ETYPE";
    case HRA_ENOTSUP:
      return "HRA_ENOTSUP";
    default:
      return "HRA_EUNKNOWN";
  }
}

// Throws an Error whose code and message name the HRA_E* code; returns NULL for `return`.
static napi_value
throw_hra (napi_env env, int err) {
  char msg[128];
  snprintf(msg, sizeof(msg), "%s: %s", err_code(err), hra_strerror(err));
  napi_throw_error(env, err_code(err), msg);
  return NULL;
}

// Reads argument i as a Buffer / Uint8Array. Returns 0 (with a TypeError pending) on failure.
static int
get_bytes (napi_env env, napi_value v, const uint8_t **p, size_t *len) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer");
    return 0;
  }
  void *data = NULL;
  if (napi_get_buffer_info(env, v, &data, len) != napi_ok) {
    hra_napi_throw_last(env, "napi_get_buffer_info");
    return 0;
  }
  *p = data;
  return 1;
}

static napi_status
get_depth (napi_env env, napi_value v, unsigned *depth) {
  napi_valuetype t;
  napi_status s = napi_typeof(env, v, &t);
  if (s != napi_ok) return s;
  *depth = DEFAULT_DEPTH;
  if (t != napi_number) return napi_ok;
  uint32_t d = 0;
  s = napi_get_value_uint32(env, v, &d);
  if (s == napi_ok) *depth = d;
  return s;
}

static napi_status
make_hex (napi_env env, hra_slice_t s, napi_value *out) {
  static const char digits[] = "0123456789abcdef";
  char *tmp = malloc(s.len * 2 + 1);
  if (tmp == NULL) return napi_generic_failure;
  for (size_t i = 0; i < s.len; i++) {
    tmp[2 * i] = digits[s.base[i] >> 4];
    tmp[2 * i + 1] = digits[s.base[i] & 15];
  }
  napi_status st = napi_create_string_latin1(env, tmp, s.len * 2, out);
  free(tmp);
  return st;
}

// Finds type/data/id in a notepack-encoded packet map (last duplicate wins).
static int
read_packet (const uint8_t *p, size_t len, unsigned depth, double *type, hra_slice_t *data, hra_slice_t *id, int *has_id) {
  int err = hra_mp_validate(p, len, depth);
  if (err != HRA_OK) return err;
  hra_mp_reader_t r;
  hra_mp_obj_t o;
  hra_mp_reader_init(&r, p, len);
  err = hra_mp_read(&r, &o);
  if (err != HRA_OK) return err;
  if (o.type != HRA_MP_MAP) return HRA_ETYPE;
  int has_type = 0;
  for (uint32_t i = 0; i < o.count; i++) {
    hra_mp_obj_t k, v;
    err = hra_mp_read(&r, &k);
    if (err != HRA_OK) return err;
    if (k.type == HRA_MP_ARRAY || k.type == HRA_MP_MAP) return HRA_ENOTSUP;
    const uint8_t *start = r.p;
    hra_mp_reader_t peek = r;
    err = hra_mp_read(&peek, &v);
    if (err != HRA_OK) return err;
    err = hra_mp_skip(&r, HRA_MP_MAX_DEPTH);
    if (err != HRA_OK) return err;
    hra_slice_t raw = { start, (size_t) (r.p - start) };
    if (hra_mp_str_is(&k, "type")) {
      has_type = hra_mp_number(&v, type);
    } else if (hra_mp_str_is(&k, "data")) {
      *data = raw;
    } else if (hra_mp_str_is(&k, "id")) {
      *id = raw;
      *has_id = 1;
    }
  }
  return has_type ? HRA_OK : HRA_ETYPE;
}

// test_encode_packet(buf, nsp, maxDepth?) -> [string, ...Buffer]
static napi_value
hra_js_test_encode_packet (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return hra_napi_type_error(env, "test_encode_packet(buf, nsp, maxDepth?)");
  const uint8_t *p;
  size_t len;
  if (!get_bytes(env, argv[0], &p, &len)) return NULL;
  char *nsp = NULL;
  size_t nsp_len = 0;
  HRA_NAPI_CALL(env, hra_napi_get_string(env, argv[1], 0, &nsp, &nsp_len));
  unsigned depth = DEFAULT_DEPTH;
  if (argc > 2 && get_depth(env, argv[2], &depth) != napi_ok) {
    free(nsp);
    hra_napi_throw_last(env, "maxDepth");
    return NULL;
  }

  double type = 0;
  hra_slice_t data = { p, 0 }, id = { NULL, 0 };
  int has_id = 0;
  int err = read_packet(p, len, depth, &type, &data, &id, &has_id);
  if (err == HRA_OK && !(type == 2 || type == 3)) err = HRA_ENOTSUP;
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  hra_buf_t out = { 0 };
  hra_slices_t att = { 0 };
  if (err == HRA_OK) {
    hra_slice_t ns = { (const uint8_t *) nsp, nsp_len };
    err = hra_encode_packet(&enc, &out, &att, (int) type, ns, has_id ? &id : NULL, data, depth);
  }
  free(nsp);
  hra_encoder_free(&enc);
  napi_value result = NULL;
  if (err != HRA_OK) {
    throw_hra(env, err);
    goto done;
  }
  napi_value str;
  napi_status s = napi_create_array_with_length(env, att.len + 1, &result);
  if (s == napi_ok) s = napi_create_string_utf8(env, (const char *) out.data, out.len, &str);
  if (s == napi_ok) s = napi_set_element(env, result, 0, str);
  for (size_t i = 0; s == napi_ok && i < att.len; i++) {
    napi_value b;
    void *copy;
    // A zero-length copy still needs a valid source pointer.
    s = napi_create_buffer_copy(env, att.items[i].len, att.items[i].len ? (const void *) att.items[i].base : (const void *) "", &copy, &b);
    if (s == napi_ok) s = napi_set_element(env, result, (uint32_t) i + 1, b);
  }
  if (s != napi_ok) {
    hra_napi_throw_last(env, "test_encode_packet");
    result = NULL;
  }
done:
  hra_buf_free(&out);
  hra_slices_free(&att);
  return result;
}

static napi_status
set_bool (napi_env env, napi_value obj, const char *name, int v) {
  napi_value x;
  napi_status s = napi_get_boolean(env, v != 0, &x);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, x);
}

static napi_status
set_hex (napi_env env, napi_value obj, const char *name, hra_slice_t v) {
  napi_value x;
  napi_status s = make_hex(env, v, &x);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, x);
}

static napi_status
set_string_or_null (napi_env env, napi_value obj, const char *name, int present, hra_slice_t v) {
  napi_value x;
  napi_status s = present ? napi_create_string_utf8(env, (const char *) v.base, v.len, &x) : napi_get_null(env, &x);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, x);
}

// test_decode_envelope(buf, maxDepth?) -> {uidIsString, uid, hasNsp, nsp, type, volatile,
// compressFalse, roomsHex, roomsCount, exceptHex, exceptCount, dataHex, idHex}
static napi_value
hra_js_test_decode_envelope (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return hra_napi_type_error(env, "test_decode_envelope(buf, maxDepth?)");
  const uint8_t *p;
  size_t len;
  if (!get_bytes(env, argv[0], &p, &len)) return NULL;
  unsigned depth = DEFAULT_DEPTH;
  if (argc > 1) HRA_NAPI_CALL(env, get_depth(env, argv[1], &depth));
  hra_envelope_t e;
  int err = hra_envelope_decode(p, len, depth, &e);
  if (err != HRA_OK) return throw_hra(env, err);

  napi_value obj, x;
  HRA_NAPI_CALL(env, napi_create_object(env, &obj));
  HRA_NAPI_CALL(env, set_bool(env, obj, "uidIsString", e.uid_is_string));
  if (e.uid_is_string) {
    HRA_NAPI_CALL(env, set_string_or_null(env, obj, "uid", 1, e.uid));
  } else {
    HRA_NAPI_CALL(env, set_hex(env, obj, "uid", e.uid));
  }
  HRA_NAPI_CALL(env, set_bool(env, obj, "hasNsp", e.has_nsp));
  HRA_NAPI_CALL(env, set_string_or_null(env, obj, "nsp", e.has_nsp && e.nsp_is_string, e.nsp));
  HRA_NAPI_CALL(env, napi_create_int64(env, e.type, &x));
  HRA_NAPI_CALL(env, napi_set_named_property(env, obj, "type", x));
  HRA_NAPI_CALL(env, set_bool(env, obj, "volatile", e.is_volatile));
  HRA_NAPI_CALL(env, set_bool(env, obj, "compressFalse", e.compress_false));
  HRA_NAPI_CALL(env, set_hex(env, obj, "roomsHex", e.rooms));
  HRA_NAPI_CALL(env, napi_create_uint32(env, e.rooms_count, &x));
  HRA_NAPI_CALL(env, napi_set_named_property(env, obj, "roomsCount", x));
  HRA_NAPI_CALL(env, set_hex(env, obj, "exceptHex", e.except));
  HRA_NAPI_CALL(env, napi_create_uint32(env, e.except_count, &x));
  HRA_NAPI_CALL(env, napi_set_named_property(env, obj, "exceptCount", x));
  HRA_NAPI_CALL(env, set_hex(env, obj, "dataHex", e.data));
  if (e.has_id) {
    HRA_NAPI_CALL(env, set_hex(env, obj, "idHex", e.id));
  } else {
    HRA_NAPI_CALL(env, napi_get_null(env, &x));
    HRA_NAPI_CALL(env, napi_set_named_property(env, obj, "idHex", x));
  }
  return obj;
}

static napi_status
hra_test_exports (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "test_encode_packet", NULL, hra_js_test_encode_packet, NULL, NULL, NULL, napi_enumerable, NULL },
    { "test_decode_envelope", NULL, hra_js_test_decode_envelope, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

NAPI_MODULE_INIT() {
  if (hra_test_exports(env, exports) != napi_ok) return NULL;
  return exports;
}

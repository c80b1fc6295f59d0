#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "napi_util.h"

void
hra_napi_throw_last (napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  const char *msg = "Node-API call failed";
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL) {
    msg = info->error_message;
  }
  napi_throw_error(env, "ENAPI", msg);
}

static napi_value
make_error (napi_env env, int type_error, const char *code, const char *message) {
  napi_value c = NULL, m = NULL, err = NULL;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (code != NULL && napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) != napi_ok) return NULL;
  napi_status s = type_error ? napi_create_type_error(env, c, m, &err) : napi_create_error(env, c, m, &err);
  return s == napi_ok ? err : NULL;
}

napi_value
hra_napi_type_error (napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

napi_value
hra_napi_error (napi_env env, const char *code, const char *message) {
  return make_error(env, 0, code, message);
}

napi_status
hra_napi_get_string (napi_env env, napi_value v, int optional, char **out, size_t *len) {
  *out = NULL;
  if (len) *len = 0;
  napi_valuetype t;
  napi_status s = napi_typeof(env, v, &t);
  if (s != napi_ok) return s;
  if (optional && (t == napi_undefined || t == napi_null)) return napi_ok;
  if (t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return napi_string_expected;
  }
  size_t n = 0;
  s = napi_get_value_string_utf8(env, v, NULL, 0, &n);
  if (s != napi_ok) return s;
  char *buf = malloc(n + 1);
  if (buf == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return napi_generic_failure;
  }
  s = napi_get_value_string_utf8(env, v, buf, n + 1, &n);
  if (s != napi_ok) {
    free(buf);
    return s;
  }
  *out = buf;
  if (len) *len = n;
  return napi_ok;
}

napi_status
hra_napi_get_named_string (napi_env env, napi_value obj, const char *name, char **out) {
  napi_value v;
  *out = NULL;
  napi_status s = napi_get_named_property(env, obj, name, &v);
  if (s != napi_ok) return s;
  size_t len = 0;
  if ((s = hra_napi_get_string(env, v, 1, out, &len)) != napi_ok || *out == NULL) return s;
  if (strlen(*out) != len) {
    // The result is used as a C string (a channel name, a host): a NUL would silently cut it short.
    free(*out);
    *out = NULL;
    char msg[96];
    snprintf(msg, sizeof(msg), "%.40s must not contain a NUL character", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return napi_invalid_arg;
  }
  return napi_ok;
}

napi_status
hra_napi_get_named_uint32 (napi_env env, napi_value obj, const char *name, uint32_t def, uint32_t *out) {
  napi_value v;
  napi_valuetype t;
  *out = def;
  napi_status s = napi_get_named_property(env, obj, name, &v);
  if (s != napi_ok) return s;
  s = napi_typeof(env, v, &t);
  if (s != napi_ok || t != napi_number) return s;
  return napi_get_value_uint32(env, v, out);
}

napi_status
hra_napi_get_named_int32 (napi_env env, napi_value obj, const char *name, int32_t def, int32_t *out) {
  napi_value v;
  napi_valuetype t;
  *out = def;
  napi_status s = napi_get_named_property(env, obj, name, &v);
  if (s != napi_ok) return s;
  s = napi_typeof(env, v, &t);
  if (s != napi_ok || t != napi_number) return s;
  return napi_get_value_int32(env, v, out);
}

void
hra_napi_call (napi_env env, napi_async_context ctx, napi_value recv, napi_value fn, size_t argc, const napi_value *argv) {
  napi_value result;
  napi_status s = napi_make_callback(env, ctx, recv, fn, argc, argv, &result);
  if (s == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}

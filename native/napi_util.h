// Node-API helpers: the status-check macro for entry points, argument readers, error builders and the
// one call-into-JS helper. Only binding*.c and this module include node_api.h.
#ifndef HRA_NAPI_UTIL_H
#define HRA_NAPI_UTIL_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

// For entry points: on failure throw (unless an exception is already pending) and return NULL.
#define HRA_NAPI_CALL(env, call) \
  do { \
    if ((call) != napi_ok) { \
      hra_napi_throw_last((env), #call); \
      return NULL; \
    } \
  } while (0)

void
hra_napi_throw_last (napi_env env, const char *what);

// Throws a TypeError with a code property; returns NULL for `return hra_napi_type_error(...)`.
napi_value
hra_napi_type_error (napi_env env, const char *message);

napi_value
hra_napi_error (napi_env env, const char *code, const char *message);

// Reads a JS string into a malloc'd NUL-terminated UTF-8 buffer. *out is NULL for undefined/null
// when optional is set. Returns napi_ok or a failure status (a TypeError is pending for wrong types).
napi_status
hra_napi_get_string (napi_env env, napi_value v, int optional, char **out, size_t *len);

// obj[name] as a malloc'd C string (NULL when undefined or null). A string with a NUL inside throws
// a TypeError (ERR_INVALID_ARG_VALUE) and returns napi_invalid_arg.
napi_status
hra_napi_get_named_string (napi_env env, napi_value obj, const char *name, char **out);

napi_status
hra_napi_get_named_uint32 (napi_env env, napi_value obj, const char *name, uint32_t def, uint32_t *out);

napi_status
hra_napi_get_named_int32 (napi_env env, napi_value obj, const char *name, int32_t def, int32_t *out);

// Calls fn with recv as receiver inside async context ctx. An exception thrown by the callee is
// routed to process 'uncaughtException' (as an EventEmitter listener's would be).
void
hra_napi_call (napi_env env, napi_async_context ctx, napi_value recv, napi_value fn, size_t argc, const napi_value *argv);

#endif  // HRA_NAPI_UTIL_H

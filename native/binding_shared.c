// The glue both fronts of the binding use: handles, value helpers, the link calls (one connection or a
// cluster), calls into JS, the instance's batch of records and its delivery, and settling requests.
// It calls only the core and Node-API, never binding_conn.c or binding_adapter.c.
#include <stdlib.h>
#include <string.h>

#include "binding_internal.h"

const napi_type_tag conn_tag = { 0x8f2a4c1d6e3b5a70ULL, 0x1c9e7d3f2b4a6c81ULL };
const napi_type_tag adapter_tag = { 0x3d7b1e9c5a2f4d60ULL, 0x9a4c2e6b8d1f3a57ULL };

static napi_status
unwrap_tagged (napi_env env, napi_value obj, const napi_type_tag *tag, void **out) {
  bool ok = false;
  napi_valuetype t;
  napi_status s = napi_typeof(env, obj, &t);
  if (s != napi_ok) return s;
  if (t == napi_object) {
    s = napi_check_object_type_tag(env, obj, tag, &ok);
    if (s != napi_ok) return s;
  }
  if (!ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a handle of the expected kind");
    return napi_object_expected;
  }
  return napi_unwrap(env, obj, out);
}

js_conn_t *
get_conn (napi_env env, napi_value obj) {
  void *p = NULL;
  if (unwrap_tagged(env, obj, &conn_tag, &p) != napi_ok) return NULL;
  return p;
}

js_adapter_t *
get_adapter (napi_env env, napi_value obj) {
  void *p = NULL;
  if (unwrap_tagged(env, obj, &adapter_tag, &p) != napi_ok) return NULL;
  return p;
}

// ---------------------------------------------------------------------------------------------------
// Links: what a js_conn_t wraps, one connection or a cluster, behind the few calls adapters make.

int
jc_live (const js_conn_t *jc) {
  return jc != NULL && (jc->conn != NULL || jc->cluster != NULL);
}

// A command for key's owner (key NULL: keyless). conn_cb gets single-connection replies, cluster_cb
// cluster replies; both are given the same data.
int
jc_command (js_conn_t *jc, const uint8_t *key, size_t keylen, int argc, const char **argv, const size_t *lens, hra_reply_cb conn_cb, hra_cluster_reply_cb cluster_cb, void *data) {
  if (jc->cluster != NULL) return hra_cluster_command(jc->cluster, key, keylen, argc, argv, lens, conn_cb != NULL ? cluster_cb : NULL, data);
  if (jc->conn != NULL) return hra_conn_command(jc->conn, argc, argv, lens, conn_cb, data);
  return HRA_ENOTCONN;
}

// A command whose integer answers are summed over every cluster node (PUBSUB NUMSUB).
int
jc_command_sum (js_conn_t *jc, int argc, const char **argv, const size_t *lens, hra_reply_cb conn_cb, hra_cluster_reply_cb cluster_cb, void *data) {
  if (jc->cluster != NULL) return hra_cluster_command_sum(jc->cluster, argc, argv, lens, cluster_cb, data);
  if (jc->conn != NULL) return hra_conn_command(jc->conn, argc, argv, lens, conn_cb, data);
  return HRA_ENOTCONN;
}

int
jc_subscribe (js_conn_t *jc, int kind, const char *name, size_t len, int subscribe) {
  if (jc->cluster != NULL) return subscribe ? hra_cluster_subscribe(jc->cluster, kind, name, len) : hra_cluster_unsubscribe(jc->cluster, kind, name, len);
  if (jc->conn != NULL) return subscribe ? hra_conn_subscribe(jc->conn, kind, name, len) : hra_conn_unsubscribe(jc->conn, kind, name, len);
  return HRA_ENOTCONN;
}

napi_value
get_undefined (napi_env env) {
  napi_value u = NULL;
  napi_get_undefined(env, &u);
  return u;
}

napi_value
make_bool (napi_env env, bool v) {
  napi_value r = NULL;
  napi_get_boolean(env, v, &r);
  return r;
}

napi_value
make_status (napi_env env, int err) {
  napi_value r = NULL;
  if (napi_create_int32(env, err, &r) != napi_ok) return NULL;
  return r;
}

napi_status
set_number (napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_status s = napi_create_double(env, v, &n);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, n);
}

// ---------------------------------------------------------------------------------------------------
// Calls into JS

void
call_method (js_conn_t *jc, napi_ref fn_ref, size_t argc, const napi_value *argv) {
  napi_env env = jc->env;
  napi_value self, fn;
  if (napi_get_reference_value(env, jc->self, &self) != napi_ok || self == NULL) return;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  hra_napi_call(env, jc->ctx, self, fn, argc, argv);
}

void
js_event (js_conn_t *jc, int event, const char *code, const char *message, int64_t value) {
  if (jc->inst->exiting || jc->self == NULL) return;
  // A lost connection takes its requests with it: no answer can come (sub) or the request may never
  // have reached Redis (cmd). They reject now with ENOTCONN, not at their deadline.
  if (event == HRA_EV_DISCONNECT) settle_requests(jc, HRA_DONE_NOTCONN);
  napi_env env = jc->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[4];
  if (napi_create_int32(env, event, &argv[0]) != napi_ok) goto done;
  if ((code == NULL ? napi_get_null(env, &argv[1]) : napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &argv[1])) != napi_ok) goto done;
  if ((message == NULL ? napi_get_null(env, &argv[2]) : napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[2])) != napi_ok) goto done;
  if (napi_create_double(env, (double) value, &argv[3]) != napi_ok) goto done;
  call_method(jc, jc->fn_event, 4, argv);
done:
  napi_close_handle_scope(env, scope);
}

// Hands the batch to jc's JS owner. The batch is emptied before JS runs: records JS causes meanwhile
// (a request settled by a close() it calls) start the next batch.
void
js_flush (js_conn_t *jc) {
  instance_t *inst = jc->inst;
  hra_batch_t *b = &inst->batch;
  if (b->records == 0) return;
  if (inst->exiting || jc->self == NULL) {
    hra_batch_reset(b);
    inst->batch_jc = NULL;
    return;
  }
  napi_env env = jc->env;
  napi_handle_scope scope;
  napi_value argv[2];
  void *data = NULL;
  napi_value ab;
  int scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  // A fresh Buffer per batch: engine.io may still hold attachment slices of an earlier one.
  int ok = scoped && napi_create_buffer_copy(env, b->bytes.len, b->bytes.len ? b->bytes.data : (const void *) "", NULL, &argv[0]) == napi_ok &&
    napi_create_arraybuffer(env, b->words.len, &data, &ab) == napi_ok;
  if (ok && b->words.len) memcpy(data, b->words.data, b->words.len);
  ok = ok && napi_create_typedarray(env, napi_uint32_array, b->words.len / 4, ab, 0, &argv[1]) == napi_ok;
  if (!ok && inst->flush_retried == 0 && inst->deliver_open) {
    // Node-API refused (no memory for the buffers, or a scope): keep the batch, with its request
    // completions, for one more try from the idle hook before the loop polls again.
    inst->flush_retried = 1;
    if (scoped) napi_close_handle_scope(env, scope);
    if (!uv_is_active((uv_handle_t *) &inst->deliver)) uv_idle_start(&inst->deliver, on_deliver);
    return;
  }
  inst->flush_retried = 0;
  hra_batch_reset(b);
  inst->batch_jc = NULL;
  if (ok) call_method(jc, jc->fn_batch, 2, argv);
  if (scoped) napi_close_handle_scope(env, scope);
}

void
on_deliver (uv_idle_t *h) {
  instance_t *inst = h->data;
  uv_idle_stop(h);
  if (inst->batch.records > 0 && inst->batch_jc != NULL) js_flush(inst->batch_jc);
}

void
instance_maybe_release_hook (instance_t *inst) {
  if (inst->exiting && inst->nconns == 0 && inst->timer_closed && inst->deliver_closed && inst->hook != NULL) {
    napi_async_cleanup_hook_handle h = inst->hook;
    inst->hook = NULL;
    napi_remove_async_cleanup_hook(h);
  }
}

void
jc_close (js_conn_t *jc) {
  if (jc->cluster != NULL) hra_cluster_close(jc->cluster);
  if (jc->conn != NULL) hra_conn_close(jc->conn);
}

// Reads a string or Buffer argument. A string is copied into scratch (grown as needed).
napi_status
get_bytes (napi_env env, napi_value v, hra_buf_t *scratch, const char **out, size_t *len, int *is_offset) {
  *is_offset = 0;
  napi_valuetype t;
  napi_status s = napi_typeof(env, v, &t);
  if (s != napi_ok) return s;
  if (t == napi_string) {
    size_t n = 0;
    if ((s = napi_get_value_string_utf8(env, v, NULL, 0, &n)) != napi_ok) return s;
    size_t at = scratch->len;
    if (hra_buf_reserve(scratch, n + 1) != 0) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return napi_generic_failure;
    }
    if ((s = napi_get_value_string_utf8(env, v, (char *) scratch->data + at, n + 1, &n)) != napi_ok) return s;
    scratch->len = at + n + 1;
    // Return an offset disguised as a pointer; the caller rebases after all arguments are read,
    // because a later reserve may move scratch->data.
    *out = (const char *) (uintptr_t) at;
    *len = n;
    *is_offset = 1;
    return napi_ok;
  }
  bool is_buffer = false;
  if ((s = napi_is_buffer(env, v, &is_buffer)) != napi_ok) return s;
  if (!is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "command arguments must be strings or Buffers");
    return napi_invalid_arg;
  }
  void *data = NULL;
  if ((s = napi_get_buffer_info(env, v, &data, len)) != napi_ok) return s;
  *out = data;
  return napi_ok;
}

js_adapter_t *
find_adapter (instance_t *inst, uint32_t serial) {
  for (js_adapter_t *ja = inst->adapters; ja != NULL; ja = ja->all_next) {
    if (ja->serial == serial) return ja;
  }
  return NULL;
}

void
collect_serials (instance_t *inst, serials_t *out, int (*want)(js_adapter_t *ja, const void *arg), const void *arg) {
  out->n = 0;
  out->cap = sizeof(out->stack) / sizeof(out->stack[0]);
  out->serials = out->stack;
  for (js_adapter_t *ja = inst->adapters; ja != NULL; ja = ja->all_next) {
    if (ja->a == NULL || !want(ja, arg)) continue;
    if (out->n == out->cap) {
      uint32_t *grown = malloc(out->cap * 2 * sizeof(*grown));
      if (grown == NULL) break;
      memcpy(grown, out->serials, out->n * sizeof(*grown));
      if (out->serials != out->stack) free(out->serials);
      out->serials = grown;
      out->cap *= 2;
    }
    out->serials[out->n++] = ja->serial;
  }
}

void
free_serials (serials_t *s) {
  if (s->serials != s->stack) free(s->serials);
  s->serials = NULL;
}

static int
uses_conn (js_adapter_t *ja, const void *arg) {
  return ((const void *) ja->cmd == arg || (const void *) ja->sub == arg) && hra_adapter_stats(ja->a)->pending > 0;
}

void
settle_requests (js_conn_t *jc, int status) {
  serials_t s;
  collect_serials(jc->inst, &s, uses_conn, jc);
  for (size_t k = 0; k < s.n; k++) {
    js_adapter_t *ja = find_adapter(jc->inst, s.serials[k]);
    if (ja != NULL && ja->a != NULL) hra_adapter_fail_requests(ja->a, status);
  }
  free_serials(&s);
}

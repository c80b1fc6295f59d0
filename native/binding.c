// Module init and the Node-API glue for connections and adapters. Native objects are attached to
// plain JS "handle" objects with napi_wrap and a type tag; while a connection is open it holds a
// strong reference to its JS owner, so native code never calls into a collected object.
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "adapter.h"
#include "cluster.h"
#include "conn.h"
#include "napi_util.h"
#include "requests.h"
#include "rooms.h"
#include "subs.h"

typedef struct instance_s instance_t;
typedef struct js_adapter_s js_adapter_t;

typedef struct js_conn_s {
  napi_env env;
  instance_t *inst;
  hra_conn_t *conn;  // a single connection, or
  hra_cluster_t *cluster;  // a Redis Cluster (exactly one of the two while open)
  napi_ref self;
  napi_ref fn_event;
  napi_ref fn_batch;
  napi_ref fn_reply;
  napi_ref fn_message;  // set by conn_subscribe: raw pub/sub messages go to JS one by one
  napi_async_context ctx;
  int open;  // from init until the native close completed
  int finalized;
  js_adapter_t *adapters;
  struct js_conn_s *next;
  struct js_conn_s *prev;
} js_conn_t;

struct js_adapter_s {
  js_conn_t *sub;
  js_conn_t *cmd;
  hra_adapter_t *a;
  instance_t *inst;
  uint32_t serial;  // identifies the adapter in NUMSUB callbacks, which may outlive it
  uint32_t id;  // the JS-side adapter id
  int emitter;
  int64_t memory;
  hra_subs_t interest;  // subscriptionMode 'dynamic': the room channels this adapter holds on sub
  js_adapter_t *next;  // in sub->adapters
  js_adapter_t *all_next;  // in inst->adapters
  js_adapter_t *all_prev;
};

struct instance_s {
  napi_env env;
  uv_loop_t *loop;
  js_conn_t *conns;
  size_t nconns;
  js_adapter_t *adapters;
  uint32_t next_serial;
  hra_batch_t batch;  // records for JS (batch.h): flushed after each read, early when full
  napi_async_cleanup_hook_handle hook;
  uv_timer_t timer;  // request deadlines of every adapter
  uint64_t timer_due;
  int timer_open;
  int timer_closed;
  js_conn_t *batch_jc;  // whose JS owner the records in batch are for (NULL while it is empty)
  int flush_retried;  // the batch could not be handed over once and waits for a second try
  uv_idle_t deliver;  // delivers records written outside a read wakeup (timeouts, lost connections)
  int deliver_open;
  int deliver_closed;
  int exiting;
};

static const napi_type_tag conn_tag = { 0x8f2a4c1d6e3b5a70ULL, 0x1c9e7d3f2b4a6c81ULL };
static const napi_type_tag adapter_tag = { 0x3d7b1e9c5a2f4d60ULL, 0x9a4c2e6b8d1f3a57ULL };

// ---------------------------------------------------------------------------------------------------
// Helpers

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

static js_conn_t *
get_conn (napi_env env, napi_value obj) {
  void *p = NULL;
  if (unwrap_tagged(env, obj, &conn_tag, &p) != napi_ok) return NULL;
  return p;
}

static js_adapter_t *
get_adapter (napi_env env, napi_value obj) {
  void *p = NULL;
  if (unwrap_tagged(env, obj, &adapter_tag, &p) != napi_ok) return NULL;
  return p;
}

// ---------------------------------------------------------------------------------------------------
// Links: what a js_conn_t wraps, one connection or a cluster, behind the few calls adapters make.

static int
jc_live (const js_conn_t *jc) {
  return jc != NULL && (jc->conn != NULL || jc->cluster != NULL);
}

// A command for key's owner (key NULL: keyless). conn_cb gets single-connection replies, cluster_cb
// cluster replies; both are given the same data.
static int
jc_command (js_conn_t *jc, const uint8_t *key, size_t keylen, int argc, const char **argv, const size_t *lens, hra_reply_cb conn_cb, hra_cluster_reply_cb cluster_cb, void *data) {
  if (jc->cluster != NULL) return hra_cluster_command(jc->cluster, key, keylen, argc, argv, lens, conn_cb != NULL ? cluster_cb : NULL, data);
  if (jc->conn != NULL) return hra_conn_command(jc->conn, argc, argv, lens, conn_cb, data);
  return HRA_ENOTCONN;
}

// A command whose integer answers are summed over every cluster node (PUBSUB NUMSUB).
static int
jc_command_sum (js_conn_t *jc, int argc, const char **argv, const size_t *lens, hra_reply_cb conn_cb, hra_cluster_reply_cb cluster_cb, void *data) {
  if (jc->cluster != NULL) return hra_cluster_command_sum(jc->cluster, argc, argv, lens, cluster_cb, data);
  if (jc->conn != NULL) return hra_conn_command(jc->conn, argc, argv, lens, conn_cb, data);
  return HRA_ENOTCONN;
}

static int
jc_subscribe (js_conn_t *jc, int kind, const char *name, size_t len, int subscribe) {
  if (jc->cluster != NULL) return subscribe ? hra_cluster_subscribe(jc->cluster, kind, name, len) : hra_cluster_unsubscribe(jc->cluster, kind, name, len);
  if (jc->conn != NULL) return subscribe ? hra_conn_subscribe(jc->conn, kind, name, len) : hra_conn_unsubscribe(jc->conn, kind, name, len);
  return HRA_ENOTCONN;
}

static napi_value
get_undefined (napi_env env) {
  napi_value u = NULL;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value
make_bool (napi_env env, bool v) {
  napi_value r = NULL;
  napi_get_boolean(env, v, &r);
  return r;
}

static napi_value
make_status (napi_env env, int err) {
  napi_value r = NULL;
  if (napi_create_int32(env, err, &r) != napi_ok) return NULL;
  return r;
}

static napi_status
set_number (napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_status s = napi_create_double(env, v, &n);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, n);
}

// ---------------------------------------------------------------------------------------------------
// Calls into JS

static void
call_method (js_conn_t *jc, napi_ref fn_ref, size_t argc, const napi_value *argv) {
  napi_env env = jc->env;
  napi_value self, fn;
  if (napi_get_reference_value(env, jc->self, &self) != napi_ok || self == NULL) return;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  hra_napi_call(env, jc->ctx, self, fn, argc, argv);
}

static napi_value
reply_to_js (napi_env env, const hra_reply_t *r, size_t *i, int depth) {
  const hra_reply_node_t *n = &r->nodes[*i];
  napi_value v = NULL;
  (*i)++;
  switch (n->type) {
    case HRA_R_INTEGER:
      if (napi_create_int64(env, n->integer, &v) != napi_ok) return NULL;
      return v;
    case HRA_R_NIL:
      if (napi_get_null(env, &v) != napi_ok) return NULL;
      return v;
    case HRA_R_BOOL:
      return make_bool(env, n->integer != 0);
    case HRA_R_ARRAY: {
      if (depth > 16 || napi_create_array_with_length(env, n->len, &v) != napi_ok) return NULL;
      for (uint32_t k = 0; k < n->len && *i < r->count; k++) {
        napi_value e = reply_to_js(env, r, i, depth + 1);
        if (e == NULL || napi_set_element(env, v, k, e) != napi_ok) return NULL;
      }
      return v;
    }
    default:
      if (napi_create_string_utf8(env, (const char *) r->data + n->off, n->len, &v) != napi_ok) return NULL;
      return v;
  }
}

static void
js_reply (js_conn_t *jc, const hra_reply_t *reply, int err, void *data) {
  if (jc->inst->exiting || jc->self == NULL) return;
  napi_env env = jc->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[3];
  argv[0] = NULL;
  if (napi_create_uint32(env, (uint32_t) (uintptr_t) data, &argv[0]) != napi_ok) goto done;
  argv[1] = get_undefined(env);
  argv[2] = get_undefined(env);
  if (reply == NULL) {
    const char *code = err == HRA_ECLOSED ? "ECLOSED" : err == HRA_ENOBUFS ? "ENOBUFS"
                                                                           : "ENOTCONN";
    const char *text = err == HRA_ECLOSED ? "the connection was closed before Redis replied"
      : err == HRA_ENOBUFS                ? "the output to Redis is at maxOutputMB: the command was not sent"
                                          : "the connection to Redis was lost before it replied";
    argv[1] = hra_napi_error(env, code, text);
  } else if (reply->count > 0 && reply->nodes[0].type == HRA_R_ERROR) {
    hra_slice_t m = hra_reply_str(reply, 0);
    char text[512];
    size_t n = m.len < sizeof(text) - 1 ? m.len : sizeof(text) - 1;
    memcpy(text, m.base, n);
    text[n] = 0;
    argv[1] = hra_napi_error(env, "EREPLY", text);
  } else if (reply->count > 0) {
    size_t i = 0;
    argv[2] = reply_to_js(env, reply, &i, 0);
    if (argv[2] == NULL) argv[1] = hra_napi_error(env, "ENOMEM", "could not convert the reply");
  }
  if (argv[1] == NULL || argv[2] == NULL) goto done;
  call_method(jc, jc->fn_reply, 3, argv);
done:
  napi_close_handle_scope(env, scope);
}

static void
on_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  js_reply(hra_conn_data(conn), reply, err, data);
}

static void
on_cluster_reply (hra_cluster_t *cl, const hra_reply_t *reply, int err, void *data) {
  js_reply(hra_cluster_data(cl), reply, err, data);
}

static void
settle_requests (js_conn_t *jc, int status);

static void
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

static void
on_event (hra_conn_t *conn, int event, const char *code, const char *message, int64_t value) {
  js_event(hra_conn_data(conn), event, code, message, value);
}

static void
on_cluster_event (hra_cluster_t *cl, int event, const char *code, const char *message, int64_t value) {
  js_event(hra_cluster_data(cl), event, code, message, value);
}

static void
js_raw_message (js_conn_t *jc, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload) {
  napi_env env = jc->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[4];
  char k = (char) kind;
  if (napi_create_string_latin1(env, &k, 1, &argv[0]) == napi_ok &&
    napi_create_string_utf8(env, channel.len ? (const char *) channel.base : "", channel.len, &argv[1]) == napi_ok &&
    napi_create_buffer_copy(env, payload.len, payload.len ? (const void *) payload.base : (const void *) "", NULL, &argv[2]) == napi_ok &&
    napi_create_string_utf8(env, pattern.len ? (const char *) pattern.base : "", pattern.len, &argv[3]) == napi_ok) {
    call_method(jc, jc->fn_message, 4, argv);
  }
  napi_close_handle_scope(env, scope);
}

static void
js_flush (js_conn_t *jc);
static void
on_deliver (uv_idle_t *h);

static void
js_message (js_conn_t *jc, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload) {
  instance_t *inst = jc->inst;
  // A batch holds the records of one owner: hand over another's first (in practice never: records
  // written outside a read are delivered before the loop polls again).
  if (inst->batch.records > 0 && inst->batch_jc != NULL && inst->batch_jc != jc) js_flush(inst->batch_jc);
  // Between two messages, a batch that reached its cap goes to JS: a burst costs bounded memory.
  if (hra_batch_full(&inst->batch)) js_flush(inst->batch_jc != NULL ? inst->batch_jc : jc);
  for (js_adapter_t *ja = jc->adapters; ja != NULL; ja = ja->next) {
    // Each front takes the messages of its own transport.
    if (!hra_adapter_is_sharded(ja->a))
      hra_adapter_on_message(ja->a, kind, pattern, channel, payload, &inst->batch);
    else if (kind == 's')
      hra_sharded_on_message(ja->a, channel, payload, &inst->batch);
  }
  if (inst->batch.records > 0) inst->batch_jc = jc;
  if (jc->fn_message != NULL && !jc->inst->exiting && jc->self != NULL) js_raw_message(jc, kind, pattern, channel, payload);
}

static void
on_message (hra_conn_t *conn, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload) {
  js_message(hra_conn_data(conn), kind, pattern, channel, payload);
}

static void
on_cluster_message (hra_cluster_t *cl, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload) {
  js_message(hra_cluster_data(cl), kind, pattern, channel, payload);
}

static void
reset_batch (hra_batch_t *b) {
  hra_batch_reset(b);
}

// Hands the batch to jc's JS owner. The batch is emptied before JS runs: records JS causes meanwhile
// (a request settled by a close() it calls) start the next batch.
static void
js_flush (js_conn_t *jc) {
  instance_t *inst = jc->inst;
  hra_batch_t *b = &inst->batch;
  if (b->records == 0) return;
  if (inst->exiting || jc->self == NULL) {
    reset_batch(b);
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
  reset_batch(b);
  inst->batch_jc = NULL;
  if (ok) call_method(jc, jc->fn_batch, 2, argv);
  if (scoped) napi_close_handle_scope(env, scope);
}

// The end of a read wakeup: everything it produced, in wire order.
static void
flush_batch (js_conn_t *jc) {
  instance_t *inst = jc->inst;
  js_flush(inst->batch_jc != NULL ? inst->batch_jc : jc);
}

static void
on_flush (hra_conn_t *conn) {
  flush_batch(hra_conn_data(conn));
}

static void
on_cluster_flush (hra_cluster_t *cl) {
  flush_batch(hra_cluster_data(cl));
}

static void
on_deliver (uv_idle_t *h) {
  instance_t *inst = h->data;
  uv_idle_stop(h);
  if (inst->batch.records > 0 && inst->batch_jc != NULL) js_flush(inst->batch_jc);
}

static void
instance_maybe_release_hook (instance_t *inst) {
  if (inst->exiting && inst->nconns == 0 && inst->timer_closed && inst->deliver_closed && inst->hook != NULL) {
    napi_async_cleanup_hook_handle h = inst->hook;
    inst->hook = NULL;
    napi_remove_async_cleanup_hook(h);
  }
}

static void
adapter_release (js_adapter_t *ja) {
  hra_subs_free(&ja->interest);
  if (ja->a == NULL) return;
  hra_adapter_free(ja->a);
  ja->a = NULL;
}

static void
js_closed (js_conn_t *jc) {
  napi_env env = jc->env;
  instance_t *inst = jc->inst;
  // Every request that needs this connection settles now (it would never be answered, and its
  // deadline could no longer reach JS once the adapter has lost its connections).
  if (!inst->exiting && jc->self != NULL) {
    settle_requests(jc, HRA_DONE_CLOSED);
    if (inst->batch_jc == jc) js_flush(jc);  // while jc can still reach JS
  }
  if (inst->batch_jc == jc) {
    reset_batch(&inst->batch);
    inst->batch_jc = NULL;
  }
  // Adapters still attached lose this connection; they keep working for local delivery.
  for (js_adapter_t *ja = jc->adapters; ja != NULL;) {
    js_adapter_t *next = ja->next;
    ja->sub = NULL;
    ja->next = NULL;
    ja = next;
  }
  jc->adapters = NULL;
  for (js_adapter_t *ja = inst->adapters; ja != NULL; ja = ja->all_next) {
    if (ja->cmd == jc) ja->cmd = NULL;
    if (ja->sub == jc) ja->sub = NULL;
  }
  if (jc->prev)
    jc->prev->next = jc->next;
  else
    inst->conns = jc->next;
  if (jc->next) jc->next->prev = jc->prev;
  inst->nconns--;
  hra_conn_free(jc->conn);
  jc->conn = NULL;
  hra_cluster_free(jc->cluster);
  jc->cluster = NULL;
  jc->open = 0;
  if (!inst->exiting) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_value argv[4];
      if (napi_create_int32(env, 0, &argv[0]) == napi_ok && napi_get_null(env, &argv[1]) == napi_ok &&
        napi_get_null(env, &argv[2]) == napi_ok && napi_create_int32(env, 0, &argv[3]) == napi_ok) {
        call_method(jc, jc->fn_event, 4, argv);
      }
      napi_close_handle_scope(env, scope);
    }
  }
  // Release the references last: the self reference keeps the wrapper (and so jc) alive.
  napi_async_context ctx = jc->ctx;
  jc->ctx = NULL;
  if (ctx != NULL) napi_async_destroy(env, ctx);
  napi_ref refs[5] = { jc->fn_event, jc->fn_batch, jc->fn_reply, jc->fn_message, jc->self };
  jc->fn_event = jc->fn_batch = jc->fn_reply = jc->fn_message = jc->self = NULL;
  int finalized = jc->finalized;
  for (int i = 0; i < 5; i++) {
    if (refs[i] != NULL) napi_delete_reference(env, refs[i]);
  }
  if (finalized) free(jc);
  instance_maybe_release_hook(inst);
}

static void
on_closed (hra_conn_t *conn) {
  js_closed(hra_conn_data(conn));
}

static void
on_cluster_closed (hra_cluster_t *cl) {
  js_closed(hra_cluster_data(cl));
}

static void
conn_finalize (napi_env env, void *data, void *hint) {
  js_conn_t *jc = data;
  // While open, the strong self reference prevents this; at environment teardown the async cleanup
  // hook closes the connection and on_closed frees jc.
  if (jc->open) {
    jc->finalized = 1;
    return;
  }
  free(jc);
}

// ---------------------------------------------------------------------------------------------------
// Connection entry points

static const hra_conn_cbs_t conn_cbs = { on_event, on_message, on_flush, on_closed, NULL };
static const hra_cluster_cbs_t cluster_cbs = { on_cluster_event, on_cluster_message, on_cluster_flush, on_cluster_closed };

static void
jc_close (js_conn_t *jc) {
  if (jc->cluster != NULL) hra_cluster_close(jc->cluster);
  if (jc->conn != NULL) hra_conn_close(jc->conn);
}

#define MAX_SEEDS 1024

// opts.cluster: an array of {host, port} seed nodes. Creates jc->cluster from them and the
// connection template o. Returns napi_ok with jc->cluster NULL when there is no such array.
static napi_status
create_cluster (napi_env env, napi_value opts, uv_loop_t *loop, const hra_conn_opts_t *o, js_conn_t *jc) {
  bool has = false, is_array = false;
  napi_status s = napi_has_named_property(env, opts, "cluster", &has);
  if (s != napi_ok || !has) return s;
  napi_value arr;
  if ((s = napi_get_named_property(env, opts, "cluster", &arr)) != napi_ok) return s;
  if ((s = napi_is_array(env, arr, &is_array)) != napi_ok) return s;
  if (!is_array) return napi_ok;
  uint32_t n = 0;
  if ((s = napi_get_array_length(env, arr, &n)) != napi_ok) return s;
  if (n == 0 || n > MAX_SEEDS) {
    hra_napi_type_error(env, "a cluster needs 1 to 1024 seed nodes");
    return napi_invalid_arg;
  }
  hra_cluster_seed_t *seeds = calloc(n, sizeof(*seeds));
  if (seeds == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return napi_generic_failure;
  }
  for (uint32_t i = 0; i < n && s == napi_ok; i++) {
    napi_value e;
    char *host = NULL;
    int32_t port = 0;
    if ((s = napi_get_element(env, arr, i, &e)) != napi_ok) break;
    if ((s = hra_napi_get_named_string(env, e, "host", &host)) != napi_ok) break;
    seeds[i].host = host;
    if ((s = hra_napi_get_named_int32(env, e, "port", 6379, &port)) != napi_ok) break;
    if (port <= 0 || port > 65535) {
      hra_napi_type_error(env, "invalid cluster seed port");
      s = napi_invalid_arg;
      break;
    }
    seeds[i].port = port;
  }
  if (s == napi_ok) {
    jc->cluster = hra_cluster_new(loop, o, seeds, n, &cluster_cbs, jc);
    if (jc->cluster == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      s = napi_generic_failure;
    }
  }
  for (uint32_t i = 0; i < n; i++)
    free((char *) seeds[i].host);
  free(seeds);
  return s;
}

// conn_init(handle, owner, opts)
static napi_value
hra_js_conn_init (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result = NULL;
  instance_t *inst = NULL;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &inst));
  if (argc < 3) return hra_napi_type_error(env, "conn_init(handle, owner, opts)");
  hra_conn_opts_t o;
  memset(&o, 0, sizeof(o));
  js_conn_t *jc = NULL;
  int32_t port = 0, db = 0;
  if (hra_napi_get_named_string(env, argv[2], "host", &o.host) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "path", &o.path) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "username", &o.username) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "password", &o.password) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "name", &o.name) != napi_ok ||
    hra_napi_get_named_int32(env, argv[2], "port", 6379, &port) != napi_ok ||
    hra_napi_get_named_int32(env, argv[2], "db", 0, &db) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "connectTimeout", 10000, &o.connect_timeout_ms) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "retryBase", 50, &o.retry_base_ms) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "retryMax", 1000, &o.retry_max_ms) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "healthInterval", 5000, &o.health_interval_ms) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "healthTimeout", 5000, &o.health_timeout_ms) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "keepAlive", 30, &o.keepalive_s) != napi_ok) {
    goto fail;
  }
  uint32_t max_reply_mb = 0, max_output_mb = 0;
  if (hra_napi_get_named_uint32(env, argv[2], "maxReplyMB", 512, &max_reply_mb) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "maxOutputMB", 32, &max_output_mb) != napi_ok) {
    goto fail;
  }
  o.port = port;
  o.db = db;
  o.max_reply_bytes = (size_t) max_reply_mb * 1024 * 1024;
  o.max_output_bytes = (size_t) max_output_mb * 1024 * 1024;
  if (port < 0 || port > 65535 || db < 0) {
    hra_napi_type_error(env, "invalid port or db");
    goto fail;
  }
  jc = calloc(1, sizeof(*jc));
  if (jc == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto fail;
  }
  jc->env = env;
  jc->inst = inst;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) goto fail_napi;
  napi_value fn, name;
  if (napi_get_named_property(env, argv[1], "_onevent", &fn) != napi_ok ||
    napi_create_reference(env, fn, 1, &jc->fn_event) != napi_ok ||
    napi_get_named_property(env, argv[1], "_onbatch", &fn) != napi_ok ||
    napi_create_reference(env, fn, 1, &jc->fn_batch) != napi_ok ||
    napi_get_named_property(env, argv[1], "_onreply", &fn) != napi_ok ||
    napi_create_reference(env, fn, 1, &jc->fn_reply) != napi_ok ||
    napi_create_string_utf8(env, "RedisConnection", NAPI_AUTO_LENGTH, &name) != napi_ok ||
    napi_async_init(env, argv[1], name, &jc->ctx) != napi_ok) {
    goto fail_napi;
  }
  if (create_cluster(env, argv[2], loop, &o, jc) != napi_ok) goto fail;
  if (jc->cluster == NULL) jc->conn = hra_conn_new(loop, &o, &conn_cbs, jc);
  if (jc->conn == NULL && jc->cluster == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto fail;
  }
  if (napi_type_tag_object(env, argv[0], &conn_tag) != napi_ok ||
    napi_wrap(env, argv[0], jc, conn_finalize, NULL, NULL) != napi_ok) {
    // The native connection exists but JS cannot reach it: close it; on_closed frees it.
    jc->open = 1;
    jc->finalized = 1;
    if (napi_create_reference(env, argv[1], 1, &jc->self) != napi_ok) jc->self = NULL;
    jc->next = inst->conns;
    if (inst->conns) inst->conns->prev = jc;
    inst->conns = jc;
    inst->nconns++;
    jc_close(jc);
    free(o.host), free(o.path), free(o.username), free(o.password), free(o.name);
    hra_napi_throw_last(env, "napi_wrap");
    return NULL;
  }
  if (napi_create_reference(env, argv[1], 1, &jc->self) != napi_ok) goto fail_napi_wrapped;
  jc->open = 1;
  jc->next = inst->conns;
  if (inst->conns) inst->conns->prev = jc;
  inst->conns = jc;
  inst->nconns++;
  free(o.host), free(o.path), free(o.username), free(o.password), free(o.name);
  napi_get_undefined(env, &result);
  return result;

fail_napi_wrapped : {
  void *unused;
  napi_remove_wrap(env, argv[0], &unused);
}
fail_napi:
  hra_napi_throw_last(env, "conn_init");
fail:
  free(o.host), free(o.path), free(o.username), free(o.password), free(o.name);
  if (jc != NULL) {
    if (jc_live(jc)) {
      // Never started: closing completes synchronously (no socket, two timers).
      jc->open = 1;
      jc->finalized = 1;
      jc->next = inst->conns;
      if (inst->conns) inst->conns->prev = jc;
      inst->conns = jc;
      inst->nconns++;
      jc_close(jc);
      return NULL;
    }
    if (jc->fn_event) napi_delete_reference(env, jc->fn_event);
    if (jc->fn_batch) napi_delete_reference(env, jc->fn_batch);
    if (jc->fn_reply) napi_delete_reference(env, jc->fn_reply);
    if (jc->ctx) napi_async_destroy(env, jc->ctx);
    free(jc);
  }
  return NULL;
}

static napi_value
conn_simple (napi_env env, napi_callback_info info, int op) {
  size_t argc = 1;
  napi_value argv[1];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_conn_t *jc = get_conn(env, argv[0]);
  if (jc == NULL) return NULL;
  if (!jc->open || !jc_live(jc)) return make_bool(env, false);
  hra_cluster_t *cl = jc->cluster;
  switch (op) {
    case 0: {
      int err = cl != NULL ? hra_cluster_start(cl) : hra_conn_start(jc->conn);
      return make_bool(env, err == 0);
    }
    case 1:
      jc_close(jc);
      break;
    case 2:
      if (cl != NULL)
        hra_cluster_ref(cl);
      else
        hra_conn_ref(jc->conn);
      break;
    case 3:
      if (cl != NULL)
        hra_cluster_unref(cl);
      else
        hra_conn_unref(jc->conn);
      break;
  }
  return make_bool(env, true);
}

static napi_value
hra_js_conn_start (napi_env env, napi_callback_info info) {
  return conn_simple(env, info, 0);
}

static napi_value
hra_js_conn_close (napi_env env, napi_callback_info info) {
  return conn_simple(env, info, 1);
}

static napi_value
hra_js_conn_ref (napi_env env, napi_callback_info info) {
  return conn_simple(env, info, 2);
}

static napi_value
hra_js_conn_unref (napi_env env, napi_callback_info info) {
  return conn_simple(env, info, 3);
}

// Reads a string or Buffer argument. A string is copied into scratch (grown as needed).
static napi_status
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

#define MAX_ARGS 1024

// conn_command(handle, args[], id) -> 0 when queued, else the HRA_E* code of the refusal (counted):
// ENOTCONN while not connected, ENOBUFS while the output is at maxOutputMB
static napi_value
hra_js_conn_command (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_conn_t *jc = get_conn(env, argv[0]);
  if (jc == NULL) return NULL;
  uint32_t n = 0, id = 0;
  HRA_NAPI_CALL(env, napi_get_array_length(env, argv[1], &n));
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[2], &id));
  if (n == 0 || n > MAX_ARGS) return hra_napi_type_error(env, "a command has 1 to 1024 arguments");
  if (!jc->open || !jc_live(jc)) return make_status(env, HRA_ECLOSED);
  const char *ptrs[MAX_ARGS];
  size_t lens[MAX_ARGS];
  uint8_t is_off[MAX_ARGS];
  hra_buf_t scratch = { NULL, 0, 0 };
  napi_value result = NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    int off = 0;
    if (napi_get_element(env, argv[1], i, &e) != napi_ok || get_bytes(env, e, &scratch, &ptrs[i], &lens[i], &off) != napi_ok) {
      hra_napi_throw_last(env, "conn_command");
      goto done;
    }
    is_off[i] = (uint8_t) off;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (is_off[i]) ptrs[i] = (const char *) scratch.data + (uintptr_t) ptrs[i];
  }
  int err = jc->cluster != NULL ? hra_cluster_command_auto(jc->cluster, (int) n, ptrs, lens, on_cluster_reply, (void *) (uintptr_t) id)
                                : hra_conn_command(jc->conn, (int) n, ptrs, lens, on_reply, (void *) (uintptr_t) id);
  result = make_status(env, err);
done:
  hra_buf_free(&scratch);
  return result;
}

// conn_publish(handle, channel, payload) -> true when queued; no reply callback at all.
static napi_value
hra_js_conn_publish (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_conn_t *jc = get_conn(env, argv[0]);
  if (jc == NULL) return NULL;
  if (!jc->open || !jc_live(jc)) return make_bool(env, false);
  char stack[512];
  char *channel = stack;
  size_t clen = 0;
  HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], stack, sizeof(stack), &clen));
  if (clen >= sizeof(stack) - 1) {
    HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &clen));
    channel = malloc(clen + 1);
    if (channel == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    if (napi_get_value_string_utf8(env, argv[1], channel, clen + 1, &clen) != napi_ok) {
      free(channel);
      hra_napi_throw_last(env, "conn_publish");
      return NULL;
    }
  }
  void *payload = NULL;
  size_t plen = 0;
  if (napi_get_buffer_info(env, argv[2], &payload, &plen) != napi_ok) {
    if (channel != stack) free(channel);
    return hra_napi_type_error(env, "payload must be a Buffer");
  }
  const char *args[3] = { "PUBLISH", channel, payload };
  size_t lens[3] = { 7, clen, plen };
  int err = jc_command(jc, NULL, 0, 3, args, lens, NULL, NULL, NULL);
  if (channel != stack) free(channel);
  return make_bool(env, err == 0);
}

// cluster_key_slot(stringOrBuffer) -> the Redis Cluster slot of a key (CRC16 with hash tags)
static napi_value
hra_js_cluster_key_slot (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return hra_napi_type_error(env, "cluster_key_slot(key)");
  hra_buf_t scratch = { NULL, 0, 0 };
  const char *p = NULL;
  size_t len = 0;
  int is_offset = 0;
  if (get_bytes(env, argv[0], &scratch, &p, &len, &is_offset) != napi_ok) {
    hra_buf_free(&scratch);
    hra_napi_throw_last(env, "cluster_key_slot");
    return NULL;
  }
  const uint8_t *key = is_offset ? scratch.data + (uintptr_t) p : (const uint8_t *) p;
  uint16_t slot = hra_cluster_key_slot(key != NULL ? key : (const uint8_t *) "", len);
  hra_buf_free(&scratch);
  napi_value r = NULL;
  HRA_NAPI_CALL(env, napi_create_uint32(env, slot, &r));
  return r;
}

// conn_subscribe(handle, kind, name, subscribe) -> true when recorded. kind is "c", "p" or "s".
// Messages of such raw subscriptions reach the owner's _onmessage(kind, channel, payload, pattern).
static napi_value
hra_js_conn_subscribe (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return hra_napi_type_error(env, "conn_subscribe(handle, kind, name, subscribe)");
  js_conn_t *jc = get_conn(env, argv[0]);
  if (jc == NULL) return NULL;
  char kind[2] = { 0, 0 };
  size_t klen = 0;
  bool subscribe = false;
  HRA_NAPI_CALL(env, napi_get_value_string_latin1(env, argv[1], kind, sizeof(kind), &klen));
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[3], &subscribe));
  if (klen != 1 || (kind[0] != 'c' && kind[0] != 'p' && kind[0] != 's')) return hra_napi_type_error(env, "kind must be \"c\", \"p\" or \"s\"");
  if (!jc->open || !jc_live(jc) || jc->self == NULL) return make_bool(env, false);
  char *name = NULL;
  size_t len = 0;
  HRA_NAPI_CALL(env, hra_napi_get_string(env, argv[2], 0, &name, &len));
  if (jc->fn_message == NULL) {
    napi_value self, fn;
    if (napi_get_reference_value(env, jc->self, &self) != napi_ok || napi_get_named_property(env, self, "_onmessage", &fn) != napi_ok ||
      napi_create_reference(env, fn, 1, &jc->fn_message) != napi_ok) {
      free(name);
      hra_napi_throw_last(env, "conn_subscribe");
      return NULL;
    }
  }
  int err = jc_subscribe(jc, kind[0], name, len, subscribe);
  free(name);
  return make_bool(env, err == 0);
}

static napi_value
hra_js_conn_stats (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_conn_t *jc = get_conn(env, argv[0]);
  if (jc == NULL) return NULL;
  HRA_NAPI_CALL(env, napi_create_object(env, &o));
  if (!jc_live(jc)) return o;
  hra_conn_stats_t sum;
  const hra_conn_stats_t *st = &sum;
  if (jc->cluster != NULL) {
    hra_cluster_stats_t cs;
    hra_cluster_stats(jc->cluster, &cs, &sum);
    HRA_NAPI_CALL(env, set_number(env, o, "state", hra_cluster_state(jc->cluster)));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterNodes", cs.nodes));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterMasters", cs.masters));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterSlotsCovered", cs.slots_covered));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterRefreshes", (double) cs.refreshes));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterMoved", (double) cs.moved));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterAsk", (double) cs.ask));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterSubMoves", (double) cs.sub_moves));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterSubRetries", (double) cs.sub_retries));
    HRA_NAPI_CALL(env, set_number(env, o, "clusterSubLost", (double) cs.sub_lost));
    sum.commands_dropped += cs.commands_dropped;
    HRA_NAPI_CALL(env, set_number(env, o, "shardChannels", (double) hra_cluster_subscription_count(jc->cluster, 's')));
  } else {
    st = hra_conn_stats(jc->conn);
    HRA_NAPI_CALL(env, set_number(env, o, "state", hra_conn_state(jc->conn)));
  }
  HRA_NAPI_CALL(env, set_number(env, o, "connects", (double) st->connects));
  HRA_NAPI_CALL(env, set_number(env, o, "disconnects", (double) st->disconnects));
  HRA_NAPI_CALL(env, set_number(env, o, "replies", (double) st->replies));
  HRA_NAPI_CALL(env, set_number(env, o, "messages", (double) st->messages));
  HRA_NAPI_CALL(env, set_number(env, o, "commandsDropped", (double) st->commands_dropped));
  HRA_NAPI_CALL(env, set_number(env, o, "commandErrors", (double) st->command_errors));
  HRA_NAPI_CALL(env, set_number(env, o, "commandsRefusedFull", (double) st->commands_refused_full));
  HRA_NAPI_CALL(env, set_number(env, o, "unanswered", (double) st->unanswered));
  HRA_NAPI_CALL(env, set_number(env, o, "bytesRead", (double) st->bytes_read));
  HRA_NAPI_CALL(env, set_number(env, o, "bytesWritten", (double) st->bytes_written));
  hra_cluster_t *cl = jc->cluster;
  HRA_NAPI_CALL(env, set_number(env, o, "channels", (double) (cl != NULL ? hra_cluster_subscription_count(cl, 'c') : hra_conn_subscription_count(jc->conn, 'c'))));
  HRA_NAPI_CALL(env, set_number(env, o, "patterns", (double) (cl != NULL ? hra_cluster_subscription_count(cl, 'p') : hra_conn_subscription_count(jc->conn, 'p'))));
  HRA_NAPI_CALL(env, set_number(env, o, "shardChannels", (double) (cl != NULL ? hra_cluster_subscription_count(cl, 's') : hra_conn_subscription_count(jc->conn, 's'))));
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Requests: the adapter's host (command connection, clock, deadlines) and completion into JS

static js_adapter_t *
find_adapter (instance_t *inst, uint32_t serial) {
  for (js_adapter_t *ja = inst->adapters; ja != NULL; ja = ja->all_next) {
    if (ja->serial == serial) return ja;
  }
  return NULL;
}

static int
host_publish (void *data, const char *channel, size_t clen, const uint8_t *payload, size_t plen) {
  js_adapter_t *ja = data;
  if (!jc_live(ja->cmd)) return HRA_ENOTCONN;
  const char *argv[3] = { "PUBLISH", channel, (const char *) payload };
  size_t lens[3] = { 7, clen, plen };
  return jc_command(ja->cmd, NULL, 0, 3, argv, lens, NULL, NULL, NULL);
}

static void
numsub_done (js_conn_t *jc, const hra_reply_t *reply, int err, void *data) {
  uint64_t packed = (uint64_t) (uintptr_t) data;
  js_adapter_t *ja = find_adapter(jc->inst, (uint32_t) (packed >> 32));
  if (ja == NULL || ja->a == NULL) return;
  int64_t count = reply == NULL && err == HRA_ECLOSED ? HRA_COUNT_CLOSED : -1;
  if (hra_reply_is(reply, 0, HRA_R_ERROR)) {
    // NOPERM and the like: say what Redis said on the client's 'error' event; the request fails with EREDIS.
    hra_slice_t msg = hra_reply_str(reply, 0);
    char code[32], text[256];
    hra_redis_error_code(msg, code, sizeof(code));
    snprintf(text, sizeof(text), "Redis refused PUBSUB NUMSUB: %.*s", (int) (msg.len > 200 ? 200 : msg.len), (const char *) msg.base);
    js_event(jc, HRA_EV_ERROR, code, text, 0);
    count = HRA_COUNT_REFUSED;
  }
  // PUBSUB NUMSUB channel -> [channel, count]
  if (reply != NULL && hra_reply_is(reply, 0, HRA_R_ARRAY) && reply->nodes[0].len == 2 && hra_reply_is(reply, 2, HRA_R_INTEGER)) {
    count = reply->nodes[2].integer;
  }
  hra_adapter_on_count(ja->a, (uint32_t) packed, count);
}

static void
on_numsub_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  numsub_done(hra_conn_data(conn), reply, err, data);
}

static void
on_cluster_numsub_reply (hra_cluster_t *cl, const hra_reply_t *reply, int err, void *data) {
  numsub_done(hra_cluster_data(cl), reply, err, data);
}

static int
host_numsub (void *data, hra_adapter_t *a, const char *channel, uint32_t token) {
  js_adapter_t *ja = data;
  if (!jc_live(ja->cmd)) return HRA_ENOTCONN;
  const char *argv[3] = { "PUBSUB", "NUMSUB", channel };
  size_t lens[3] = { 6, 6, strlen(channel) };
  uint64_t packed = ((uint64_t) ja->serial << 32) | token;
  if (sizeof(void *) < 8) return HRA_ENOTSUP;
  return jc_command_sum(ja->cmd, 3, argv, lens, on_numsub_reply, on_cluster_numsub_reply, (void *) (uintptr_t) packed);
}

static int32_t
clamp_i32 (int64_t v) {
  return v < -1 ? -1 : v > INT32_MAX ? INT32_MAX
                                     : (int32_t) v;
}

static int
done_record (hra_batch_t *b, js_adapter_t *ja, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected) {
  int err = hra_batch_begin(b, HRA_REC_DONE, ja->id, 6, len);
  if (err) return err;
  hra_batch_word(b, token);
  hra_batch_word(b, (uint32_t) status);
  hra_batch_word(b, (uint32_t) clamp_i32(received));
  hra_batch_word(b, (uint32_t) clamp_i32(expected));
  hra_batch_slice(b, payload, len);
  hra_batch_end(b);
  return HRA_OK;
}

// A finished request as a batch record, so it reaches JS in wire order after the broadcasts read before
// its last answer: at the end of the read wakeup, or (timeouts, lost connections) from an idle handle,
// which runs before the loop polls again. Called directly only when the record cannot be written.
static void
host_done (void *data, hra_adapter_t *a, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected);

static void
done_now (js_adapter_t *ja, js_conn_t *jc, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected);

static void
host_done (void *data, hra_adapter_t *a, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected) {
  js_adapter_t *ja = data;
  instance_t *inst = ja->inst;
  js_conn_t *jc = ja->sub != NULL ? ja->sub : ja->cmd;
  if (jc == NULL || jc->self == NULL || inst->exiting) return;
  if (inst->batch.records > 0 && inst->batch_jc != NULL && inst->batch_jc != jc) {
    js_flush(inst->batch_jc);
    jc = ja->sub != NULL ? ja->sub : ja->cmd;  // JS ran
    if (jc == NULL || jc->self == NULL || inst->exiting) return;
  }
  if (!inst->deliver_open || done_record(&inst->batch, ja, token, status, payload, len, received, expected) != HRA_OK) {
    done_now(ja, jc, token, status, payload, len, received, expected);
    return;
  }
  inst->batch_jc = jc;
  if (!uv_is_active((uv_handle_t *) &inst->deliver)) uv_idle_start(&inst->deliver, on_deliver);
}

static void
done_now (js_adapter_t *ja, js_conn_t *jc, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected) {
  napi_env env = jc->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[6];
  if (napi_create_uint32(env, ja->id, &argv[0]) == napi_ok && napi_create_uint32(env, token, &argv[1]) == napi_ok &&
    napi_create_int32(env, status, &argv[2]) == napi_ok &&
    napi_create_buffer_copy(env, len, len ? (const void *) payload : (const void *) "", NULL, &argv[3]) == napi_ok &&
    napi_create_double(env, (double) received, &argv[4]) == napi_ok && napi_create_double(env, (double) expected, &argv[5]) == napi_ok) {
    napi_value self, fn;
    if (napi_get_reference_value(env, jc->self, &self) == napi_ok && self != NULL &&
      napi_get_named_property(env, self, "_onrequestdone", &fn) == napi_ok) {
      hra_napi_call(env, jc->ctx, self, fn, 6, argv);
    }
  }
}

static uint64_t
host_now (void *data) {
  js_adapter_t *ja = data;
  return uv_now(ja->inst->loop);
}

static void
on_request_timer (uv_timer_t *t);

static void
arm_timer (instance_t *inst, uint64_t deadline) {
  if (!inst->timer_open || inst->exiting || deadline == UINT64_MAX) return;
  if (uv_is_active((uv_handle_t *) &inst->timer) && inst->timer_due <= deadline) return;
  uint64_t now = uv_now(inst->loop);
  inst->timer_due = deadline;
  uv_timer_start(&inst->timer, on_request_timer, deadline > now ? deadline - now : 0, 0);
}

static void
host_schedule (void *data, uint64_t deadline) {
  js_adapter_t *ja = data;
  arm_timer(ja->inst, deadline);
}

// done() runs JS, which may create or close adapters: callers snapshot the serials of the adapters
// concerned (want(ja, arg) true), then look each one up again before acting on it.
typedef struct {
  size_t n;
  size_t cap;
  uint32_t *serials;
  uint32_t stack[16];
} serials_t;

static void
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

static void
free_serials (serials_t *s) {
  if (s->serials != s->stack) free(s->serials);
  s->serials = NULL;
}

static int
has_due (js_adapter_t *ja, const void *arg) {
  return hra_adapter_expire(ja->a, 0) <= *(const uint64_t *) arg;
}

static int
uses_conn (js_adapter_t *ja, const void *arg) {
  return ((const void *) ja->cmd == arg || (const void *) ja->sub == arg) && hra_adapter_stats(ja->a)->pending > 0;
}

static void
settle_requests (js_conn_t *jc, int status) {
  serials_t s;
  collect_serials(jc->inst, &s, uses_conn, jc);
  for (size_t k = 0; k < s.n; k++) {
    js_adapter_t *ja = find_adapter(jc->inst, s.serials[k]);
    if (ja != NULL && ja->a != NULL) hra_adapter_fail_requests(ja->a, status);
  }
  free_serials(&s);
}

static void
on_request_timer (uv_timer_t *t) {
  instance_t *inst = t->data;
  uint64_t now = uv_now(inst->loop);
  serials_t s;
  collect_serials(inst, &s, has_due, &now);
  for (size_t k = 0; k < s.n; k++) {
    js_adapter_t *ja = find_adapter(inst, s.serials[k]);
    if (ja != NULL && ja->a != NULL) hra_adapter_expire(ja->a, now);
  }
  free_serials(&s);
  uint64_t next = UINT64_MAX;
  for (js_adapter_t *ja = inst->adapters; ja != NULL; ja = ja->all_next) {
    if (ja->a == NULL) continue;
    uint64_t d = hra_adapter_expire(ja->a, 0);
    if (d < next) next = d;
  }
  arm_timer(inst, next);
}

static const hra_adapter_host_t adapter_host_template = { NULL, host_publish, host_numsub, host_done, host_now, host_schedule };

// ---------------------------------------------------------------------------------------------------
// Adapter entry points

static void
adapter_finalize (napi_env env, void *data, void *hint) {
  js_adapter_t *ja = data;
  // The JS adapter was collected without close(): detach and free (no JS, no uv work here beyond
  // queueing the unsubscribe commands on a still-open connection).
  if (ja->sub != NULL && ja->a != NULL) {
    js_conn_t *jc = ja->sub;
    js_adapter_t **pp = &jc->adapters;
    while (*pp != NULL && *pp != ja)
      pp = &(*pp)->next;
    if (*pp == ja) *pp = ja->next;
  }
  if (ja->all_prev)
    ja->all_prev->all_next = ja->all_next;
  else if (ja->inst->adapters == ja)
    ja->inst->adapters = ja->all_next;
  if (ja->all_next) ja->all_next->all_prev = ja->all_prev;
  adapter_release(ja);
  free(ja);
}

static void
adapter_subscriptions (js_adapter_t *ja, int subscribe) {
  if (!jc_live(ja->sub)) return;
  js_conn_t *c = ja->sub;
  const char *chans[3] = { hra_adapter_request_channel(ja->a), hra_adapter_response_channel(ja->a), hra_adapter_specific_channel(ja->a) };
  const char *pat = hra_adapter_pattern(ja->a);
  if (hra_adapter_is_sharded(ja->a)) {
    // The main channel and this node's response channel; room channels follow the rooms (adapter_ssub).
    const char *sch[2] = { hra_adapter_main_channel(ja->a), hra_adapter_specific_channel(ja->a) };
    for (int i = 0; i < 2; i++)
      jc_subscribe(c, 's', sch[i], strlen(sch[i]), subscribe);
    return;
  }
  if (ja->emitter) {
    // An emitter listens only for the answers to its own requests.
    for (int i = 1; i < 3; i++) {
      jc_subscribe(c, 'c', chans[i], strlen(chans[i]), subscribe);
    }
    return;
  }
  // Pattern mode: PSUBSCRIBE K#N#*. Dynamic mode: SUBSCRIBE K#N# (and K#N#room# per room held).
  int pkind = hra_adapter_is_dynamic(ja->a) ? 'c' : 'p';
  if (pkind == 'c') pat = hra_adapter_prefix(ja->a);
  jc_subscribe(c, pkind, pat, strlen(pat), subscribe);
  for (int i = 0; i < 3; i++)
    jc_subscribe(c, 'c', chans[i], strlen(chans[i]), subscribe);
}

// adapter_init(handle, subConnHandle, opts, cmdConnHandle): opts {key, nsp, uid, id, maxDepth,
// maxMessageBytes, seedLo, seedHi, specificResponseChannel}
static napi_value
hra_js_adapter_init (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  instance_t *inst = NULL;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &inst));
  if (argc < 4) return hra_napi_type_error(env, "adapter_init(handle, sub, opts, cmd)");
  js_conn_t *jc = get_conn(env, argv[1]);
  if (jc == NULL) return NULL;
  js_conn_t *cmd = get_conn(env, argv[3]);
  if (cmd == NULL) return NULL;
  bool specific = false;
  napi_value sv;
  if (napi_get_named_property(env, argv[2], "specificResponseChannel", &sv) != napi_ok) return hra_napi_throw_last(env, "adapter_init"), NULL;
  if (napi_get_value_bool(env, sv, &specific) != napi_ok) specific = false;
  char *key = NULL, *nsp = NULL, *uid = NULL;
  hra_adapter_opts_t o;
  memset(&o, 0, sizeof(o));
  uint32_t seed_lo = 0, seed_hi = 0;
  js_adapter_t *ja = NULL;
  if (hra_napi_get_named_string(env, argv[2], "key", &key) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "nsp", &nsp) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "uid", &uid) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "id", 0, &o.id) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "maxDepth", 100, &o.max_depth) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "maxMessageBytes", 64u << 20, &o.max_message_bytes) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "seedLo", 0, &seed_lo) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "seedHi", 0, &seed_hi) != napi_ok) {
    hra_napi_throw_last(env, "adapter_init");
    goto done;
  }
  if (key == NULL || nsp == NULL || uid == NULL) {
    hra_napi_type_error(env, "key, nsp and uid are required strings");
    goto done;
  }
  o.key = key;
  o.nsp = nsp;
  o.uid = uid;
  o.seed = ((uint64_t) seed_hi << 32) | seed_lo;
  o.specific_response_channel = specific;
  bool raw = false;
  napi_value rv;
  if (napi_get_named_property(env, argv[2], "rawBroadcasts", &rv) == napi_ok && napi_get_value_bool(env, rv, &raw) != napi_ok) raw = false;
  o.raw_broadcasts = raw;
  bool is_emitter = false;
  napi_value ev;
  if (napi_get_named_property(env, argv[2], "emitter", &ev) == napi_ok && napi_get_value_bool(env, ev, &is_emitter) != napi_ok) is_emitter = false;
  o.emitter = is_emitter;
  bool dynamic = false;
  napi_value dv;
  if (napi_get_named_property(env, argv[2], "dynamic", &dv) == napi_ok && napi_get_value_bool(env, dv, &dynamic) != napi_ok) dynamic = false;
  o.dynamic = dynamic && !is_emitter;
  bool sharded = false, js_broadcasts = false;
  if (napi_get_named_property(env, argv[2], "sharded", &ev) == napi_ok && napi_get_value_bool(env, ev, &sharded) != napi_ok) sharded = false;
  if (napi_get_named_property(env, argv[2], "jsBroadcasts", &ev) == napi_ok && napi_get_value_bool(env, ev, &js_broadcasts) != napi_ok) js_broadcasts = false;
  o.sharded = sharded;
  o.js_broadcasts = js_broadcasts;
  ja = calloc(1, sizeof(*ja));
  if (ja == NULL || (ja->a = hra_adapter_new(&o)) == NULL) {
    free(ja);
    ja = NULL;
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto done;
  }
  if (napi_type_tag_object(env, argv[0], &adapter_tag) != napi_ok ||
    napi_wrap(env, argv[0], ja, adapter_finalize, NULL, NULL) != napi_ok) {
    adapter_release(ja);
    free(ja);
    ja = NULL;
    hra_napi_throw_last(env, "adapter_init");
    goto done;
  }
  hra_subs_init(&ja->interest, o.seed ^ 0x5bd1e9955bd1e995ULL);
  ja->inst = inst;
  ja->id = o.id;
  ja->emitter = o.emitter;
  ja->serial = ++inst->next_serial;
  ja->cmd = cmd->open && jc_live(cmd) ? cmd : NULL;
  ja->all_next = inst->adapters;
  if (inst->adapters) inst->adapters->all_prev = ja;
  inst->adapters = ja;
  hra_adapter_host_t host = adapter_host_template;
  host.data = ja;
  hra_adapter_set_host(ja->a, &host);
  if (jc->open && jc_live(jc)) {
    ja->sub = jc;
    ja->next = jc->adapters;
    jc->adapters = ja;
    adapter_subscriptions(ja, 1);
  }
done:
  free(key);
  free(nsp);
  free(uid);
  if (ja == NULL) return NULL;
  napi_get_undefined(env, &result);
  return result;
}

static void
drop_interest (hra_sub_t *sub, void *data) {
  js_conn_t *jc = data;
  for (uint32_t i = 0; i < sub->refs; i++)
    jc_subscribe(jc, 'c', sub->name, sub->len, 0);
}

static void
adapter_detach (js_adapter_t *ja) {
  if (ja->sub == NULL) return;
  js_conn_t *jc = ja->sub;
  adapter_subscriptions(ja, 0);
  if (jc_live(jc)) hra_subs_each(&ja->interest, drop_interest, jc);
  hra_subs_free(&ja->interest);
  js_adapter_t **pp = &jc->adapters;
  while (*pp != NULL && *pp != ja)
    pp = &(*pp)->next;
  if (*pp == ja) *pp = ja->next;
  ja->sub = NULL;
  ja->next = NULL;
}

static napi_value
hra_js_adapter_close (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  adapter_detach(ja);
  if (ja->a != NULL) hra_adapter_forget_requests(ja->a);
  ja->cmd = NULL;
  return make_bool(env, true);
}

// adapter_room(handle, op, slot, room, numeric): op 1 join, 2 leave, 3 leave all (room ignored).
// Number rooms arrive as their JS String(room) text with numeric = true.
static napi_value
hra_js_adapter_room (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  if (ja->a == NULL) return make_bool(env, false);
  uint32_t op = 0, slot = 0;
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &op));
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[2], &slot));
  int r = 0;
  if (op == 3) {
    r = hra_adapter_leave_all(ja->a, slot);
  } else {
    napi_valuetype t;
    HRA_NAPI_CALL(env, napi_typeof(env, argv[3], &t));
    char stack[256];
    char *name = stack;
    size_t len = 0;
    int kind = 0;
    if (t == napi_string) {
      HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[3], stack, sizeof(stack), &len));
      if (len >= sizeof(stack) - 1) {
        HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[3], NULL, 0, &len));
        name = malloc(len + 1);
        if (name == NULL) {
          napi_throw_error(env, "ENOMEM", "out of memory");
          return NULL;
        }
        if (napi_get_value_string_utf8(env, argv[3], name, len + 1, &len) != napi_ok) {
          free(name);
          hra_napi_throw_last(env, "adapter_room");
          return NULL;
        }
      }
    } else {
      return make_bool(env, false);  // symbols and objects are not mirrored natively
    }
    bool numeric = false;
    if (argc >= 5 && napi_get_value_bool(env, argv[4], &numeric) != napi_ok) numeric = false;
    kind = numeric ? 1 : 0;
    if (op == 1)
      r = hra_adapter_join(ja->a, slot, kind, (const uint8_t *) name, len);
    else
      r = hra_adapter_leave(ja->a, slot, kind, (const uint8_t *) name, len);
    if (name != stack) free(name);
  }
  if (r < 0) {
    napi_throw_error(env, r == HRA_ENOMEM ? "ENOMEM" : "EINVAL", hra_strerror(r));
    return NULL;
  }
  int64_t mem = (int64_t) hra_adapter_memory(ja->a), delta = mem - ja->memory, adjusted;
  if (delta > 65536 || delta < -65536) {
    if (napi_adjust_external_memory(env, delta, &adjusted) == napi_ok) ja->memory = mem;
  }
  return make_bool(env, r > 0);
}

// adapter_interest(handle, room, on): subscriptionMode 'dynamic' only. The node holds (on = true) or no
// longer holds (false) the room whose JS String(room) text is `room`: SUBSCRIBE / UNSUBSCRIBE K#N#room#,
// reference counted (the number 5 and the string "5" share a channel). Returns false when not applicable.
static napi_value
hra_js_adapter_interest (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return hra_napi_type_error(env, "adapter_interest(handle, room, on)");
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  if (ja->a == NULL || !jc_live(ja->sub) || !hra_adapter_is_dynamic(ja->a)) return make_bool(env, false);
  bool on = false;
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[2], &on));
  size_t len = 0;
  HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
  const char *prefix = hra_adapter_prefix(ja->a);
  size_t plen = strlen(prefix);
  if (len > HRA_ROOMS_MAX_NAME) return make_bool(env, false);  // never indexed, never subscribed
  char *ch = malloc(plen + len + 2);
  if (ch == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  memcpy(ch, prefix, plen + 1);
  if (napi_get_value_string_utf8(env, argv[1], ch + plen, len + 1, &len) != napi_ok) {
    free(ch);
    return hra_napi_throw_last(env, "adapter_interest"), NULL;
  }
  ch[plen + len] = '#';
  size_t clen = plen + len + 1;
  int r = 0;
  js_conn_t *c = ja->sub;
  if (on) {
    r = hra_subs_ref(&ja->interest, 'c', ch, clen);
    if (r >= 0) {
      r = jc_subscribe(c, 'c', ch, clen, 1);
      if (r < 0) hra_subs_unref(&ja->interest, 'c', ch, clen);
    }
  } else {
    hra_sub_t *e = hra_subs_find(&ja->interest, 'c', ch, clen);
    if (e != NULL && e->refs > 0) {
      hra_subs_unref(&ja->interest, 'c', ch, clen);
      jc_subscribe(c, 'c', ch, clen, 0);
    }
  }
  free(ch);
  // The local table only counts: drop its entries without references now (amortised O(1)).
  hra_sub_t *garbage = NULL;
  size_t n = 0;
  hra_subs_collect(&ja->interest, 0, NULL, &n, &garbage);
  hra_subs_free_garbage(garbage);
  if (r < 0) {
    napi_throw_error(env, r == HRA_ENOMEM ? "ENOMEM" : "EINVAL", hra_strerror(r));
    return NULL;
  }
  return make_bool(env, true);
}

// Like get_bytes for one argument, with undefined and null read as absent (*present = 0).
static napi_status
get_payload (napi_env env, napi_value v, hra_buf_t *scratch, const uint8_t **out, size_t *len, int *present) {
  napi_valuetype t;
  napi_status s = napi_typeof(env, v, &t);
  *present = 0;
  *out = NULL;
  *len = 0;
  if (s != napi_ok || t == napi_undefined || t == napi_null) return s;
  const char *p = NULL;
  int is_offset = 0;
  if ((s = get_bytes(env, v, scratch, &p, len, &is_offset)) != napi_ok) return s;
  *out = is_offset ? scratch->data + (uintptr_t) p : (const uint8_t *) p;
  *present = 1;
  return napi_ok;
}

// adapter_request(handle, kind, token, fragment, timeoutMs) -> 0 or a negative HRA_E* code
static napi_value
hra_js_adapter_request (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  uint32_t kind = 0, token = 0, timeout = 0;
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &kind));
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[2], &token));
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[4], &timeout));
  if (ja->a == NULL) return make_status(env, HRA_ECLOSED);
  hra_buf_t scratch = { NULL, 0, 0 };
  const uint8_t *frag;
  size_t flen;
  int present;
  if (get_payload(env, argv[3], &scratch, &frag, &flen, &present) != napi_ok) {
    hra_buf_free(&scratch);
    hra_napi_throw_last(env, "adapter_request");
    return NULL;
  }
  int err = hra_adapter_request(ja->a, (int) kind, token, frag, flen, timeout);
  hra_buf_free(&scratch);
  return make_status(env, err);
}

// adapter_broadcast_ack(handle, token, packetMsgpack, optsMsgpack, timeoutMs) -> 0 or HRA_E*
static napi_value
hra_js_adapter_broadcast_ack (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  uint32_t token = 0, timeout = 0;
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &token));
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[4], &timeout));
  void *p = NULL, *o = NULL;
  size_t plen = 0, olen = 0;
  if (napi_get_buffer_info(env, argv[2], &p, &plen) != napi_ok || napi_get_buffer_info(env, argv[3], &o, &olen) != napi_ok) {
    return hra_napi_type_error(env, "packet and opts must be Buffers");
  }
  if (ja->a == NULL) return make_status(env, HRA_ECLOSED);
  if (ja->emitter) return make_status(env, hra_adapter_emit_ack(ja->a, token, p, plen, o, olen, timeout));
  return make_status(env, hra_adapter_broadcast_ack(ja->a, token, p, plen, o, olen, timeout));
}

// adapter_respond(handle, kind, requestId, requesterUid, payload) -> 0 or HRA_E*
static napi_value
hra_js_adapter_respond (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  uint32_t kind = 0;
  HRA_NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &kind));
  if (ja->a == NULL) return make_status(env, HRA_ECLOSED);
  hra_buf_t b1 = { NULL, 0, 0 }, b2 = { NULL, 0, 0 }, b3 = { NULL, 0, 0 };
  const uint8_t *rid, *uid, *payload;
  size_t rlen, ulen, plen;
  int p1, p2, p3;
  napi_value result = NULL;
  if (get_payload(env, argv[2], &b1, &rid, &rlen, &p1) != napi_ok || get_payload(env, argv[3], &b2, &uid, &ulen, &p2) != napi_ok ||
    get_payload(env, argv[4], &b3, &payload, &plen, &p3) != napi_ok) {
    hra_napi_throw_last(env, "adapter_respond");
    goto done;
  }
  if (!p1) {
    hra_napi_type_error(env, "a response needs the request id");
    goto done;
  }
  result = make_status(env, hra_adapter_respond(ja->a, (int) kind, rid, rlen, p2 ? uid : (const uint8_t *) "", p2 ? ulen : 0, payload, plen, p3));
done:
  hra_buf_free(&b1);
  hra_buf_free(&b2);
  hra_buf_free(&b3);
  return result;
}

// Reads a string argument into a stack buffer or a malloc'd one (*heap set when it must be freed).
static napi_status
get_string_arg (napi_env env, napi_value v, char *stack, size_t cap, char **out, size_t *len) {
  napi_status s = napi_get_value_string_utf8(env, v, stack, cap, len);
  if (s != napi_ok) return s;
  *out = stack;
  if (*len < cap - 1) return napi_ok;
  if ((s = napi_get_value_string_utf8(env, v, NULL, 0, len)) != napi_ok) return s;
  char *heap = malloc(*len + 1);
  if (heap == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return napi_generic_failure;
  }
  if ((s = napi_get_value_string_utf8(env, v, heap, *len + 1, len)) != napi_ok) {
    free(heap);
    return s;
  }
  *out = heap;
  return napi_ok;
}

// adapter_ssub(handle, subscribe, room): SSUBSCRIBE / SUNSUBSCRIBE the room channel P#N#<room>#
// (reference counted in conn.c, so String(5) and "5" sharing a channel stay consistent).
static napi_value
hra_js_adapter_ssub (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  bool on = false;
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[1], &on));
  if (ja->a == NULL || !hra_adapter_is_sharded(ja->a) || !jc_live(ja->sub)) return make_bool(env, false);
  char stack[256];
  char *room = NULL;
  size_t len = 0;
  if (get_string_arg(env, argv[2], stack, sizeof(stack), &room, &len) != napi_ok) return hra_napi_throw_last(env, "adapter_ssub"), NULL;
  hra_buf_t chan = { NULL, 0, 0 };
  int err = hra_sharded_room_channel(ja->a, (const uint8_t *) room, len, &chan);
  if (room != stack) free(room);
  if (err == 0) {
    err = jc_subscribe(ja->sub, 's', (const char *) chan.data, chan.len, on);
  }
  hra_buf_free(&chan);
  if (err == HRA_ENOMEM) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  return make_bool(env, err == 0);
}

// adapter_track(handle, requestId, pending): the ClusterAdapter's requests and ackRequests Maps
// report their keys here, so responses to anything else are dropped in C.
static napi_value
hra_js_adapter_track (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  bool on = false;
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[2], &on));
  if (ja->a == NULL || !hra_adapter_is_sharded(ja->a)) return make_bool(env, false);
  char id[HRA_REQ_ID_MAX + 2];
  size_t len = 0;
  HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], id, sizeof(id), &len));
  if (len > HRA_REQ_ID_MAX || len == 0) return make_bool(env, false);
  int err = hra_sharded_track(ja->a, (const uint8_t *) id, len, on);
  if (err == HRA_ENOMEM) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  return make_bool(env, err == 0);
}

static napi_value
hra_js_adapter_stats (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  HRA_NAPI_CALL(env, napi_create_object(env, &o));
  if (ja->a == NULL) return o;
  const hra_adapter_stats_t *st = hra_adapter_stats(ja->a);
  HRA_NAPI_CALL(env, set_number(env, o, "received", (double) st->received));
  HRA_NAPI_CALL(env, set_number(env, o, "delivered", (double) st->delivered));
  HRA_NAPI_CALL(env, set_number(env, o, "deliveries", (double) st->deliveries));
  HRA_NAPI_CALL(env, set_number(env, o, "ignoredRoom", (double) st->ignored_room));
  HRA_NAPI_CALL(env, set_number(env, o, "ignoredOwn", (double) st->ignored_own));
  HRA_NAPI_CALL(env, set_number(env, o, "ignoredNamespace", (double) st->ignored_nsp));
  HRA_NAPI_CALL(env, set_number(env, o, "ignoredNoTarget", (double) st->ignored_no_target));
  HRA_NAPI_CALL(env, set_number(env, o, "invalid", (double) st->invalid));
  HRA_NAPI_CALL(env, set_number(env, o, "requests", (double) st->requests));
  HRA_NAPI_CALL(env, set_number(env, o, "responses", (double) st->responses));
  HRA_NAPI_CALL(env, set_number(env, o, "responsesIgnored", (double) st->responses_ignored));
  HRA_NAPI_CALL(env, set_number(env, o, "pending", (double) st->pending));
  HRA_NAPI_CALL(env, set_number(env, o, "lastError", (double) st->last_error));
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Environment teardown (worker_threads terminate, process end): close what is still open without
// calling into JS, and tell Node when the last handle is gone.

static void
on_timer_closed (uv_handle_t *h) {
  instance_t *inst = h->data;
  inst->timer_closed = 1;
  instance_maybe_release_hook(inst);
}

static void
on_deliver_closed (uv_handle_t *h) {
  instance_t *inst = h->data;
  inst->deliver_closed = 1;
  instance_maybe_release_hook(inst);
}

static void
on_env_teardown (napi_async_cleanup_hook_handle handle, void *arg) {
  instance_t *inst = arg;
  inst->exiting = 1;
  if (inst->timer_open) {
    inst->timer_open = 0;
    uv_close((uv_handle_t *) &inst->timer, on_timer_closed);
  }
  if (inst->deliver_open) {
    inst->deliver_open = 0;
    uv_close((uv_handle_t *) &inst->deliver, on_deliver_closed);
  }
  for (js_conn_t *jc = inst->conns; jc != NULL; jc = jc->next) {
    jc_close(jc);
  }
  instance_maybe_release_hook(inst);
}

static void
instance_finalize (napi_env env, void *data, void *hint) {
  instance_t *inst = data;
  hra_batch_free(&inst->batch);
  // Handles still open here belong to an environment that is going away with its loop: leave them.
  if (inst->nconns == 0 && inst->timer_closed && inst->deliver_closed) free(inst);
}

NAPI_MODULE_INIT() {
  instance_t *inst = calloc(1, sizeof(*inst));
  if (inst == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    hra_napi_throw_last(env, "napi_set_instance_data");
    return NULL;
  }
  inst->env = env;
  HRA_NAPI_CALL(env, napi_get_uv_event_loop(env, &inst->loop));
  if (uv_timer_init(inst->loop, &inst->timer) == 0) {
    inst->timer.data = inst;
    inst->timer_open = 1;
    // Deadlines alone never keep the process alive.
    uv_unref((uv_handle_t *) &inst->timer);
  } else {
    inst->timer_closed = 1;
  }
  if (uv_idle_init(inst->loop, &inst->deliver) == 0) {
    inst->deliver.data = inst;
    inst->deliver_open = 1;
    uv_unref((uv_handle_t *) &inst->deliver);
  } else {
    inst->deliver_closed = 1;
  }
  HRA_NAPI_CALL(env, napi_add_async_cleanup_hook(env, on_env_teardown, inst, &inst->hook));
  napi_property_descriptor props[] = {
    { "conn_init", NULL, hra_js_conn_init, NULL, NULL, NULL, napi_default, inst },
    { "conn_start", NULL, hra_js_conn_start, NULL, NULL, NULL, napi_default, inst },
    { "conn_close", NULL, hra_js_conn_close, NULL, NULL, NULL, napi_default, inst },
    { "conn_ref", NULL, hra_js_conn_ref, NULL, NULL, NULL, napi_default, inst },
    { "conn_unref", NULL, hra_js_conn_unref, NULL, NULL, NULL, napi_default, inst },
    { "conn_command", NULL, hra_js_conn_command, NULL, NULL, NULL, napi_default, inst },
    { "conn_publish", NULL, hra_js_conn_publish, NULL, NULL, NULL, napi_default, inst },
    { "conn_stats", NULL, hra_js_conn_stats, NULL, NULL, NULL, napi_default, inst },
    { "conn_subscribe", NULL, hra_js_conn_subscribe, NULL, NULL, NULL, napi_default, inst },
    { "cluster_key_slot", NULL, hra_js_cluster_key_slot, NULL, NULL, NULL, napi_default, inst },
    { "adapter_init", NULL, hra_js_adapter_init, NULL, NULL, NULL, napi_default, inst },
    { "adapter_close", NULL, hra_js_adapter_close, NULL, NULL, NULL, napi_default, inst },
    { "adapter_room", NULL, hra_js_adapter_room, NULL, NULL, NULL, napi_default, inst },
    { "adapter_interest", NULL, hra_js_adapter_interest, NULL, NULL, NULL, napi_default, inst },
    { "adapter_stats", NULL, hra_js_adapter_stats, NULL, NULL, NULL, napi_default, inst },
    { "adapter_request", NULL, hra_js_adapter_request, NULL, NULL, NULL, napi_default, inst },
    { "adapter_broadcast_ack", NULL, hra_js_adapter_broadcast_ack, NULL, NULL, NULL, napi_default, inst },
    { "adapter_respond", NULL, hra_js_adapter_respond, NULL, NULL, NULL, napi_default, inst },
    { "adapter_ssub", NULL, hra_js_adapter_ssub, NULL, NULL, NULL, napi_default, inst },
    { "adapter_track", NULL, hra_js_adapter_track, NULL, NULL, NULL, napi_default, inst },
  };
  HRA_NAPI_CALL(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  napi_value constants;
  HRA_NAPI_CALL(env, napi_create_object(env, &constants));
  const struct {
    const char *name;
    double value;
  } consts[] = {
    { "EV_CLOSED", 0 },
    { "EV_CONNECT", HRA_EV_CONNECT },
    { "EV_READY", HRA_EV_READY },
    { "EV_ERROR", HRA_EV_ERROR },
    { "EV_RECONNECTING", HRA_EV_RECONNECTING },
    { "EV_DISCONNECT", HRA_EV_DISCONNECT },
    { "REC_BROADCAST", HRA_REC_BROADCAST },
    { "REC_REQUEST", HRA_REC_REQUEST },
    { "REC_RESPONSE", HRA_REC_RESPONSE },
    { "REC_ACK_COUNT", HRA_REC_ACK_COUNT },
    { "REC_ACK_VALUE", HRA_REC_ACK_VALUE },
    { "REC_BCAST_ACK", HRA_REC_BCAST_ACK },
    { "REC_RAW_BROADCAST", HRA_REC_RAW_BROADCAST },
    { "REC_SHARDED", HRA_REC_SHARDED },
    { "REC_DONE", HRA_REC_DONE },
    { "TARGETS_ALL", HRA_TARGETS_ALL },
    { "TARGETS_SAME", HRA_TARGETS_SAME },
    { "F_WORDS", HRA_F_WORDS },
    { "F_ADAPTER", HRA_F_ADAPTER },
    { "F_TARGETS_AT", HRA_F_TARGETS_AT },
    { "F_BC_FLAGS", HRA_F_BC_FLAGS },
    { "F_BC_OFF", HRA_F_BC_OFF },
    { "F_BC_LEN", HRA_F_BC_LEN },
    { "F_BC_NATT", HRA_F_BC_NATT },
    { "F_BC_ATT", HRA_F_BC_ATT },
    { "F_RAW_FLAGS", HRA_F_RAW_FLAGS },
    { "F_RAW_TYPE", HRA_F_RAW_TYPE },
    { "F_RAW_DATA_OFF", HRA_F_RAW_DATA_OFF },
    { "F_RAW_DATA_LEN", HRA_F_RAW_DATA_LEN },
    { "F_RAW_ID_OFF", HRA_F_RAW_ID_OFF },
    { "F_RAW_ID_LEN", HRA_F_RAW_ID_LEN },
    { "F_BA_OFF", HRA_F_BA_OFF },
    { "F_BA_LEN", HRA_F_BA_LEN },
    { "F_BA_SPLIT", HRA_F_BA_SPLIT },
    { "F_BA_RID_OFF", HRA_F_BA_RID_OFF },
    { "F_BA_RID_LEN", HRA_F_BA_RID_LEN },
    { "F_BA_UID_OFF", HRA_F_BA_UID_OFF },
    { "F_BA_UID_LEN", HRA_F_BA_UID_LEN },
    { "F_BA_NATT", HRA_F_BA_NATT },
    { "F_BA_ATT", HRA_F_BA_ATT },
    { "F_MSG_OFF", HRA_F_MSG_OFF },
    { "F_MSG_LEN", HRA_F_MSG_LEN },
    { "F_MSG_ROUTE", HRA_F_MSG_ROUTE },
    { "F_ACK_TOKEN", HRA_F_ACK_TOKEN },
    { "F_ACK_COUNT", HRA_F_ACK_COUNT },
    { "F_ACK_OFF", HRA_F_ACK_OFF },
    { "F_ACK_LEN", HRA_F_ACK_LEN },
    { "F_DONE_TOKEN", HRA_F_DONE_TOKEN },
    { "F_DONE_STATUS", HRA_F_DONE_STATUS },
    { "F_DONE_RECEIVED", HRA_F_DONE_RECEIVED },
    { "F_DONE_EXPECTED", HRA_F_DONE_EXPECTED },
    { "F_DONE_OFF", HRA_F_DONE_OFF },
    { "F_DONE_LEN", HRA_F_DONE_LEN },
    { "DONE_OK", HRA_DONE_OK },
    { "DONE_TIMEOUT", HRA_DONE_TIMEOUT },
    { "DONE_NOTCONN", HRA_DONE_NOTCONN },
    { "DONE_REFUSED", HRA_DONE_REFUSED },
    { "DONE_CLOSED", HRA_DONE_CLOSED },
    { "ENOTCONN", HRA_ENOTCONN },
    { "ECLOSED", HRA_ECLOSED },
    { "ENOBUFS", HRA_ENOBUFS },
    { "BFLAG_VOLATILE", HRA_BFLAG_VOLATILE },
    { "BFLAG_COMPRESS_FALSE", HRA_BFLAG_COMPRESS_FALSE },
    { "STATE_READY", HRA_CONN_READY },
  };
  for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++) {
    HRA_NAPI_CALL(env, set_number(env, constants, consts[i].name, consts[i].value));
  }
  HRA_NAPI_CALL(env, napi_set_named_property(env, exports, "constants", constants));
  return exports;
}

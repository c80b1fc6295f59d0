// Node-API glue for NativeConnection (lib/): one Redis connection or a Redis Cluster per JS owner.
// Its events, replies, raw pub/sub messages and the end of each read wakeup (the batch flush) reach
// JS from here; messages go to the adapters attached to the connection.
#include <stdlib.h>
#include <string.h>

#include "binding_internal.h"
#include "endpoint_sentinel.h"
#include "tls.h"

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
    else if (kind == 's' ? hra_sharded_kind(ja->a) == 's' : kind == 'm' && hra_sharded_kind(ja->a) == 'c')
      hra_sharded_on_message(ja->a, channel, payload, &inst->batch);
  }
  for (js_primus_t *jp = jc->primus; jp != NULL; jp = jp->next)
    hra_primus_on_message(jp->p, kind, pattern, channel, payload, &inst->batch);
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
    hra_batch_reset(&inst->batch);
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
  for (js_primus_t *jp = jc->primus; jp != NULL;) {
    js_primus_t *next = jp->next;
    jp->sub = NULL;
    jp->next = NULL;
    jp = next;
  }
  jc->primus = NULL;
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

static napi_status
read_tls (napi_env env, napi_value opts, hra_tls_t **out);

// opts.sentinel: { name, role, username, password, tls, sentinels: [{ host, port }] }. Sets o->endpoint to a
// Sentinel provider (taken by hra_conn_new). Returns napi_ok with o->endpoint NULL when there is none.
static napi_status
create_sentinel (napi_env env, napi_value opts, uv_loop_t *loop, hra_conn_opts_t *o) {
  bool has = false, is_array = false;
  napi_status s = napi_has_named_property(env, opts, "sentinel", &has);
  if (s != napi_ok || !has) return s;
  napi_value so, arr;
  uint32_t n = 0;
  if ((s = napi_get_named_property(env, opts, "sentinel", &so)) != napi_ok) return s;
  if ((s = napi_get_named_property(env, so, "sentinels", &arr)) != napi_ok) return s;
  if ((s = napi_is_array(env, arr, &is_array)) != napi_ok) return s;
  if (is_array && (s = napi_get_array_length(env, arr, &n)) != napi_ok) return s;
  if (n == 0 || n > HRA_SENTINEL_MAX) {
    hra_napi_type_error(env, "sentinel.sentinels needs 1 to 32 Sentinels");
    return napi_invalid_arg;
  }
  hra_sentinel_node_t nodes[HRA_SENTINEL_MAX];
  memset(nodes, 0, sizeof(nodes));
  hra_sentinel_opts_t so_c;
  memset(&so_c, 0, sizeof(so_c));
  char *name = NULL, *role = NULL;
  so_c.conn = *o;
  so_c.conn.username = NULL;
  so_c.conn.password = NULL;
  so_c.conn.tls = NULL;  // the Sentinels' own TLS settings (sentinel.tls), read below
  for (uint32_t i = 0; i < n && s == napi_ok; i++) {
    napi_value e;
    char *host = NULL;
    int32_t port = 0;
    if ((s = napi_get_element(env, arr, i, &e)) != napi_ok) break;
    if ((s = hra_napi_get_named_string(env, e, "host", &host)) != napi_ok) break;
    nodes[i].host = host;
    if ((s = hra_napi_get_named_int32(env, e, "port", 26379, &port)) != napi_ok) break;
    nodes[i].port = port;
  }
  if (s == napi_ok && (s = hra_napi_get_named_string(env, so, "name", &name)) == napi_ok &&
    (s = hra_napi_get_named_string(env, so, "role", &role)) == napi_ok &&
    (s = hra_napi_get_named_string(env, so, "username", &so_c.conn.username)) == napi_ok &&
    (s = hra_napi_get_named_string(env, so, "password", &so_c.conn.password)) == napi_ok &&
    (s = read_tls(env, so, &so_c.conn.tls)) == napi_ok) {
    so_c.name = name;
    so_c.replica = role != NULL && strcmp(role, "replica") == 0;
    so_c.sentinels = nodes;
    so_c.count = n;
    // NULL: out of memory, or a name or Sentinel address lib/target.js would have refused.
    o->endpoint = hra_endpoint_sentinel_new(loop, &so_c);
    if (o->endpoint == NULL) {
      hra_napi_type_error(env, "invalid Sentinel settings (name, Sentinel hosts and ports), or out of memory");
      s = napi_invalid_arg;
    }
  }
  for (uint32_t i = 0; i < n; i++)
    free((char *) nodes[i].host);
  free(name), free(role), free(so_c.conn.username), free(so_c.conn.password), hra_tls_unref(so_c.conn.tls);
  return s;
}

// obj[name] as a Buffer's bytes (borrowed for this call), or NULL when undefined or null.
static napi_status
get_named_buffer (napi_env env, napi_value obj, const char *name, const char **p, size_t *len) {
  napi_value v;
  napi_valuetype t;
  bool is_buffer = false;
  *p = NULL;
  *len = 0;
  napi_status s = napi_get_named_property(env, obj, name, &v);
  if (s == napi_ok) s = napi_typeof(env, v, &t);
  if (s != napi_ok || t == napi_undefined || t == napi_null) return s;
  if ((s = napi_is_buffer(env, v, &is_buffer)) != napi_ok) return s;
  if (!is_buffer) {
    hra_napi_type_error(env, "TLS certificates and keys reach conn_init as Buffers");
    return napi_invalid_arg;
  }
  void *data = NULL;
  s = napi_get_buffer_info(env, v, &data, len);
  *p = data;
  return s;
}

// opts.tls as lib/target.js normalises it: { ca, cert, key (Buffers of PEM), passphrase, servername,
// rejectUnauthorized, minVersion, maxVersion (TLS1_x_VERSION numbers) }. *out stays NULL without it;
// on failure an exception is pending.
static napi_status
read_tls (napi_env env, napi_value opts, hra_tls_t **out) {
  napi_value v, rv;
  napi_valuetype t;
  *out = NULL;
  napi_status s = napi_get_named_property(env, opts, "tls", &v);
  if (s == napi_ok) s = napi_typeof(env, v, &t);
  if (s != napi_ok || t == napi_undefined || t == napi_null) return s;
  if (t != napi_object) {
    hra_napi_type_error(env, "opts.tls must be an object");
    return napi_invalid_arg;
  }
  hra_tls_opts_t o;
  memset(&o, 0, sizeof(o));
  char *passphrase = NULL, *servername = NULL;
  bool reject = true;
  int32_t min_version = 0, max_version = 0;
  if ((s = get_named_buffer(env, v, "ca", &o.ca, &o.ca_len)) != napi_ok ||
    (s = get_named_buffer(env, v, "cert", &o.cert, &o.cert_len)) != napi_ok ||
    (s = get_named_buffer(env, v, "key", &o.key, &o.key_len)) != napi_ok ||
    (s = hra_napi_get_named_string(env, v, "passphrase", &passphrase)) != napi_ok ||
    (s = hra_napi_get_named_string(env, v, "servername", &servername)) != napi_ok ||
    (s = hra_napi_get_named_int32(env, v, "minVersion", 0, &min_version)) != napi_ok ||
    (s = hra_napi_get_named_int32(env, v, "maxVersion", 0, &max_version)) != napi_ok ||
    (s = napi_get_named_property(env, v, "rejectUnauthorized", &rv)) != napi_ok) {
    goto done;
  }
  if (napi_get_value_bool(env, rv, &reject) != napi_ok) reject = true;  // anything but a boolean: verify
  o.passphrase = passphrase;
  o.servername = servername;
  o.reject_unauthorized = reject;
  o.min_version = min_version;
  o.max_version = max_version;
  char code[64], msg[512];
  if (hra_tls_new(&o, out, code, sizeof(code), msg, sizeof(msg)) != 0) {
    napi_throw_error(env, code, msg);
    s = napi_generic_failure;
  }
done:
  free(passphrase);
  free(servername);
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
    hra_napi_get_named_uint32(env, argv[2], "keepAlive", 30, &o.keepalive_s) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "holdMs", 30000, &o.hold_ms) != napi_ok) {
    goto fail;
  }
  uint32_t max_reply_mb = 0, max_output_mb = 0;
  if (hra_napi_get_named_uint32(env, argv[2], "maxReplyMB", 512, &max_reply_mb) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "maxOutputMB", 32, &max_output_mb) != napi_ok) {
    goto fail;
  }
  if (read_tls(env, argv[2], &o.tls) != napi_ok) goto fail;
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
  if (jc->cluster == NULL) {
    if (create_sentinel(env, argv[2], loop, &o) != napi_ok) goto fail;
    jc->conn = hra_conn_new(loop, &o, &conn_cbs, jc);  // takes o.endpoint, also when it fails
  }
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
    free(o.host), free(o.path), free(o.username), free(o.password), free(o.name), hra_tls_unref(o.tls);
    hra_napi_throw_last(env, "napi_wrap");
    return NULL;
  }
  if (napi_create_reference(env, argv[1], 1, &jc->self) != napi_ok) goto fail_napi_wrapped;
  jc->open = 1;
  jc->next = inst->conns;
  if (inst->conns) inst->conns->prev = jc;
  inst->conns = jc;
  inst->nconns++;
  free(o.host), free(o.path), free(o.username), free(o.password), free(o.name), hra_tls_unref(o.tls);
  napi_get_undefined(env, &result);
  return result;

fail_napi_wrapped : {
  void *unused;
  napi_remove_wrap(env, argv[0], &unused);
}
fail_napi:
  hra_napi_throw_last(env, "conn_init");
fail:
  free(o.host), free(o.path), free(o.username), free(o.password), free(o.name), hra_tls_unref(o.tls);
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
  HRA_NAPI_CALL(env, set_number(env, o, "held", (double) st->held));
  HRA_NAPI_CALL(env, set_number(env, o, "heldDropped", (double) st->held_dropped));
  HRA_NAPI_CALL(env, set_number(env, o, "replayed", (double) st->replayed));
  HRA_NAPI_CALL(env, set_number(env, o, "resumed", (double) st->resumed));
  HRA_NAPI_CALL(env, set_number(env, o, "replaced", (double) st->replaced));
  HRA_NAPI_CALL(env, set_number(env, o, "bytesRead", (double) st->bytes_read));
  HRA_NAPI_CALL(env, set_number(env, o, "bytesWritten", (double) st->bytes_written));
  hra_cluster_t *cl = jc->cluster;
  HRA_NAPI_CALL(env, set_number(env, o, "channels", (double) (cl != NULL ? hra_cluster_subscription_count(cl, 'c') : hra_conn_subscription_count(jc->conn, 'c'))));
  HRA_NAPI_CALL(env, set_number(env, o, "patterns", (double) (cl != NULL ? hra_cluster_subscription_count(cl, 'p') : hra_conn_subscription_count(jc->conn, 'p'))));
  HRA_NAPI_CALL(env, set_number(env, o, "shardChannels", (double) (cl != NULL ? hra_cluster_subscription_count(cl, 's') : hra_conn_subscription_count(jc->conn, 's'))));
  return o;
}

// tls_status() -> null when TLS can be used in this process, else why not (a string).
static napi_value
hra_js_tls_status (napi_env env, napi_callback_info info) {
  char msg[256];
  napi_value v = NULL;
  if (hra_tls_available(msg, sizeof(msg))) {
    HRA_NAPI_CALL(env, napi_get_null(env, &v));
  } else {
    HRA_NAPI_CALL(env, napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &v));
  }
  return v;
}

napi_status
hra_binding_conn_define (napi_env env, napi_value exports, instance_t *inst) {
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
    { "tls_status", NULL, hra_js_tls_status, NULL, NULL, NULL, napi_default, inst },
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

// Node-API glue for the Redis Streams readers (lib/streams.js): one reader per stream on a connection
// of its own, which runs `XREAD COUNT n BLOCK ms STREAMS <stream> <last id>` again as soon as each reply
// has been taken apart by the streams front (streams.c). The records land in the instance's batch and
// reach the connection's JS owner at the end of the read, as the adapters' records do. The namespace
// adapters (binding_adapter.c) are found by serial on every reply, so a closed one is never touched.
#include <stdlib.h>
#include <string.h>

#include "binding_internal.h"
#include "streams.h"

#define RETRY_MS 50

static const napi_type_tag streams_tag = { 0x2c9e4f1a7b3d5068ULL, 0x91a4c7e2d5f60b38ULL };

typedef struct {
  uint32_t serial;
  char *nsp;
  size_t nsp_len;
} attached_t;

typedef struct {
  instance_t *inst;
  js_conn_t *jc;  // the reader's own connection
  hra_streams_t *s;
  char count_text[12];
  char block_text[12];
  attached_t *attached;
  size_t nattached;
  size_t cap;
  uv_timer_t retry;
  int timer_open;
  int pending;  // an XREAD is waiting for its reply
  int closed;
  int finalized;
} js_streams_t;

static void
streams_maybe_free (js_streams_t *st) {
  if (!st->finalized || st->pending || st->timer_open) return;
  for (size_t i = 0; i < st->nattached; i++)
    free(st->attached[i].nsp);
  free(st->attached);
  hra_streams_free(st->s);
  free(st);
}

static void
on_timer_closed (uv_handle_t *h) {
  js_streams_t *st = h->data;
  st->timer_open = 0;
  streams_maybe_free(st);
}

static void
stop (js_streams_t *st) {
  st->closed = 1;
  if (st->timer_open && !uv_is_closing((uv_handle_t *) &st->retry)) uv_close((uv_handle_t *) &st->retry, on_timer_closed);
}

static void
read_next (js_streams_t *st);

static void
on_retry (uv_timer_t *t) {
  read_next(t->data);
}

static void
retry_later (js_streams_t *st) {
  if (st->closed || !st->timer_open || uv_is_closing((uv_handle_t *) &st->retry)) return;
  uv_timer_start(&st->retry, on_retry, RETRY_MS, 0);
}

static hra_adapter_t *
lookup (void *data, const uint8_t *nsp, size_t len) {
  js_streams_t *st = data;
  for (size_t i = 0; i < st->nattached; i++) {
    attached_t *at = &st->attached[i];
    if (at->nsp_len != len || memcmp(at->nsp, nsp, len) != 0) continue;
    js_adapter_t *ja = find_adapter(st->inst, at->serial);
    return ja != NULL ? ja->a : NULL;
  }
  return NULL;
}

static void
on_reply (js_streams_t *st, const hra_reply_t *reply, int err) {
  st->pending = 0;
  if (st->closed || st->finalized) {
    streams_maybe_free(st);
    return;
  }
  instance_t *inst = st->inst;
  js_conn_t *jc = st->jc;
  if (err != 0 || reply == NULL || hra_reply_is(reply, 0, HRA_R_ERROR) || inst->exiting) {
    // Not connected, or Redis refused (NOPERM, LOADING...): the same XREAD, from the same id, later.
    retry_later(st);
    return;
  }
  // A batch holds the records of one owner: hand over another's first.
  if (inst->batch.records > 0 && inst->batch_jc != NULL && inst->batch_jc != jc) js_flush(inst->batch_jc);
  if (st->closed) return;  // JS closed the reader meanwhile
  hra_streams_on_reply(st->s, reply, lookup, st, &inst->batch);
  if (inst->batch.records > 0) inst->batch_jc = jc;
  read_next(st);
}

// The answer to XREVRANGE <stream> + - COUNT 1: where the first XREAD starts.
static void
on_start (js_streams_t *st, const hra_reply_t *reply, int err) {
  st->pending = 0;
  if (st->closed || st->finalized) {
    streams_maybe_free(st);
    return;
  }
  if (err != 0 || reply == NULL || hra_streams_on_start_reply(st->s, reply) != HRA_OK) {
    retry_later(st);
    return;
  }
  read_next(st);
}

static void
on_conn_start (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  (void) conn;
  on_start(data, reply, err);
}

static void
on_cluster_start (hra_cluster_t *cl, const hra_reply_t *reply, int err, void *data) {
  (void) cl;
  on_start(data, reply, err);
}

static void
on_conn_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  (void) conn;
  on_reply(data, reply, err);
}

static void
on_cluster_reply (hra_cluster_t *cl, const hra_reply_t *reply, int err, void *data) {
  (void) cl;
  on_reply(data, reply, err);
}

static void
read_next (js_streams_t *st) {
  if (st->closed || st->pending) return;
  if (!jc_live(st->jc)) {
    retry_later(st);
    return;
  }
  size_t name_len, id_len;
  const char *name = hra_streams_name(st->s, &name_len);
  const char *id = hra_streams_last_id(st->s, &id_len);
  if (!hra_streams_started(st->s)) {
    const char *sargv[6] = { "XREVRANGE", name, "+", "-", "COUNT", "1" };
    size_t slens[6] = { 9, name_len, 1, 1, 5, 1 };
    if (jc_command(st->jc, (const uint8_t *) name, name_len, 6, sargv, slens, on_conn_start, on_cluster_start, st) == HRA_OK)
      st->pending = 1;
    else
      retry_later(st);
    return;
  }
  const char *argv[8] = { "XREAD", "COUNT", st->count_text, "BLOCK", st->block_text, "STREAMS", name, id };
  size_t lens[8] = { 5, 5, strlen(st->count_text), 5, strlen(st->block_text), 7, name_len, id_len };
  int rc = jc_command(st->jc, (const uint8_t *) name, name_len, 8, argv, lens, on_conn_reply, on_cluster_reply, st);
  if (rc == HRA_OK)
    st->pending = 1;
  else
    retry_later(st);
}

static js_streams_t *
get_streams (napi_env env, napi_value obj) {
  bool ok = false;
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, obj, &t) != napi_ok) return NULL;
  if (t == napi_object && napi_check_object_type_tag(env, obj, &streams_tag, &ok) != napi_ok) return NULL;
  if (!ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a streams reader handle");
    return NULL;
  }
  if (napi_unwrap(env, obj, &p) != napi_ok) return NULL;
  return p;
}

static void
streams_finalize (napi_env env, void *data, void *hint) {
  (void) env;
  (void) hint;
  js_streams_t *st = data;
  st->finalized = 1;
  stop(st);
  streams_maybe_free(st);
}

// streams_init(handle, readerConnHandle, { stream, readCount, blockTimeInMs }): starts reading after the
// stream's last entry (streams.h).
static napi_value
hra_js_streams_init (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  instance_t *inst = NULL;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &inst));
  if (argc < 3) return hra_napi_type_error(env, "streams_init(handle, conn, opts)");
  js_conn_t *jc = get_conn(env, argv[1]);
  if (jc == NULL) return NULL;
  char *stream = NULL;
  uint32_t count = 100, block = 5000;
  if (hra_napi_get_named_string(env, argv[2], "stream", &stream) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "readCount", 100, &count) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "blockTimeInMs", 5000, &block) != napi_ok) {
    free(stream);
    return hra_napi_throw_last(env, "streams_init"), NULL;
  }
  if (stream == NULL || count == 0) {
    free(stream);
    return hra_napi_type_error(env, "stream is a required string and readCount at least 1");
  }
  js_streams_t *st = calloc(1, sizeof(*st));
  if (st == NULL || (st->s = hra_streams_new(stream, strlen(stream))) == NULL) {
    free(st);
    free(stream);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  free(stream);
  snprintf(st->count_text, sizeof(st->count_text), "%u", count);
  snprintf(st->block_text, sizeof(st->block_text), "%u", block);
  st->inst = inst;
  st->jc = jc;
  if (uv_timer_init(inst->loop, &st->retry) != 0) {
    hra_streams_free(st->s);
    free(st);
    napi_throw_error(env, "ERR", "uv_timer_init failed");
    return NULL;
  }
  st->retry.data = st;
  st->timer_open = 1;
  uv_unref((uv_handle_t *) &st->retry);
  if (napi_type_tag_object(env, argv[0], &streams_tag) != napi_ok || napi_wrap(env, argv[0], st, streams_finalize, NULL, NULL) != napi_ok) {
    st->finalized = 1;
    stop(st);
    return hra_napi_throw_last(env, "streams_init"), NULL;
  }
  read_next(st);
  return get_undefined(env);
}

// streams_attach(handle, adapterHandle, nsp, on): entries of namespace nsp go to that adapter (on), or
// to none any more (off).
static napi_value
hra_js_streams_attach (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return hra_napi_type_error(env, "streams_attach(handle, adapter, nsp, on)");
  js_streams_t *st = get_streams(env, argv[0]);
  if (st == NULL) return NULL;
  js_adapter_t *ja = get_adapter(env, argv[1]);
  if (ja == NULL) return NULL;
  bool on = false;
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[3], &on));
  size_t len = 0;
  HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[2], NULL, 0, &len));
  for (size_t i = 0; i < st->nattached; i++) {
    if (st->attached[i].serial != ja->serial) continue;
    free(st->attached[i].nsp);
    st->attached[i] = st->attached[--st->nattached];
    break;
  }
  if (!on) return make_bool(env, true);
  if (st->nattached == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 4;
    attached_t *n = realloc(st->attached, cap * sizeof(*n));
    if (n == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    st->attached = n;
    st->cap = cap;
  }
  char *nsp = malloc(len + 1);
  if (nsp == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[2], nsp, len + 1, &len) != napi_ok) {
    free(nsp);
    return hra_napi_throw_last(env, "streams_attach"), NULL;
  }
  st->attached[st->nattached].serial = ja->serial;
  st->attached[st->nattached].nsp = nsp;
  st->attached[st->nattached].nsp_len = len;
  st->nattached++;
  return make_bool(env, true);
}

// streams_close(handle): no XREAD is sent any more (JS closes the connection, which ends the one
// pending at once).
static napi_value
hra_js_streams_close (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_streams_t *st = get_streams(env, argv[0]);
  if (st == NULL) return NULL;
  stop(st);
  return make_bool(env, true);
}

static napi_value
hra_js_streams_stats (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o, id;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_streams_t *st = get_streams(env, argv[0]);
  if (st == NULL) return NULL;
  const hra_streams_stats_t *s = hra_streams_stats(st->s);
  size_t id_len;
  const char *last = hra_streams_last_id(st->s, &id_len);
  HRA_NAPI_CALL(env, napi_create_object(env, &o));
  HRA_NAPI_CALL(env, set_number(env, o, "replies", (double) s->replies));
  HRA_NAPI_CALL(env, set_number(env, o, "entries", (double) s->entries));
  HRA_NAPI_CALL(env, set_number(env, o, "skipped", (double) s->skipped));
  HRA_NAPI_CALL(env, set_number(env, o, "ignored", (double) s->ignored));
  HRA_NAPI_CALL(env, set_number(env, o, "invalid", (double) s->invalid));
  HRA_NAPI_CALL(env, napi_create_string_latin1(env, last, id_len, &id));
  HRA_NAPI_CALL(env, napi_set_named_property(env, o, "lastId", id));
  return o;
}

napi_status
hra_binding_streams_define (napi_env env, napi_value exports, instance_t *inst) {
  napi_property_descriptor props[] = {
    { "streams_init", NULL, hra_js_streams_init, NULL, NULL, NULL, napi_default, inst },
    { "streams_attach", NULL, hra_js_streams_attach, NULL, NULL, NULL, napi_default, inst },
    { "streams_close", NULL, hra_js_streams_close, NULL, NULL, NULL, napi_default, inst },
    { "streams_stats", NULL, hra_js_streams_stats, NULL, NULL, NULL, napi_default, inst },
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

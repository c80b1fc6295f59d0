// What the Node-API glue files share (binding_shared.c implements it; binding_conn.c, binding_adapter.c,
// binding_primus.c and binding_streams.c use it; binding.c, the module init, uses all of them). Layering: binding.c ->
// binding_conn.c, binding_adapter.c, binding_primus.c -> binding_shared.c -> the core; never upwards,
// never sideways.
#ifndef HRA_BINDING_INTERNAL_H
#define HRA_BINDING_INTERNAL_H

#include <uv.h>

#include "adapter.h"
#include "cluster.h"
#include "conn.h"
#include "napi_util.h"
#include "primus.h"
#include "subs.h"

typedef struct instance_s instance_t;
typedef struct js_adapter_s js_adapter_t;
typedef struct js_primus_s js_primus_t;

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
  js_primus_t *primus;  // Primus fronts (binding_primus.c) fed by this connection's messages
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
  napi_ref room_log;  // the Buffer JS logs created and deleted rooms into (rooms.h), pinned while a reads it
  js_adapter_t *next;  // in sub->adapters
  js_adapter_t *all_next;  // in inst->adapters
  js_adapter_t *all_prev;
};

// A Primus front (binding_primus.c) on its subscriber connection.
struct js_primus_s {
  js_conn_t *sub;
  hra_primus_t *p;
  instance_t *inst;
  int64_t memory;
  int closed;
  js_primus_t *next;  // in sub->primus
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

extern const napi_type_tag conn_tag;
extern const napi_type_tag adapter_tag;

// done() runs JS, which may create or close adapters: callers snapshot the serials of the adapters
// concerned (want(ja, arg) true), then look each one up again before acting on it.
typedef struct {
  size_t n;
  size_t cap;
  uint32_t *serials;
  uint32_t stack[16];
} serials_t;

// Handles and values
js_conn_t *
get_conn (napi_env env, napi_value obj);
js_adapter_t *
get_adapter (napi_env env, napi_value obj);
napi_value
get_undefined (napi_env env);
napi_value
make_bool (napi_env env, bool v);
napi_value
make_status (napi_env env, int err);
napi_status
set_number (napi_env env, napi_value obj, const char *name, double v);
// Reads a string or Buffer argument. A string is copied into scratch (grown as needed) and returned as
// an offset into it (*is_offset set): the caller rebases once every argument is read.
napi_status
get_bytes (napi_env env, napi_value v, hra_buf_t *scratch, const char **out, size_t *len, int *is_offset);

// Links: one connection or a cluster behind the calls adapters make
int
jc_live (const js_conn_t *jc);
int
jc_command (js_conn_t *jc, const uint8_t *key, size_t keylen, int argc, const char **argv, const size_t *lens, hra_reply_cb conn_cb, hra_cluster_reply_cb cluster_cb, void *data);
int
jc_command_sum (js_conn_t *jc, int argc, const char **argv, const size_t *lens, hra_reply_cb conn_cb, hra_cluster_reply_cb cluster_cb, void *data);
int
jc_subscribe (js_conn_t *jc, int kind, const char *name, size_t len, int subscribe);
void
jc_close (js_conn_t *jc);

// Calls into JS and the batch of records for JS
void
call_method (js_conn_t *jc, napi_ref fn_ref, size_t argc, const napi_value *argv);
void
js_event (js_conn_t *jc, int event, const char *code, const char *message, int64_t value);
void
js_flush (js_conn_t *jc);
void
on_deliver (uv_idle_t *h);

// Instance and requests
void
instance_maybe_release_hook (instance_t *inst);
js_adapter_t *
find_adapter (instance_t *inst, uint32_t serial);
void
collect_serials (instance_t *inst, serials_t *out, int (*want)(js_adapter_t *ja, const void *arg), const void *arg);
void
free_serials (serials_t *s);
// Settles every request of an adapter that uses jc (HRA_DONE_*), through the batch.
void
settle_requests (js_conn_t *jc, int status);

// The entry points of each glue file, defined on the module's exports by binding.c.
napi_status
hra_binding_conn_define (napi_env env, napi_value exports, instance_t *inst);
napi_status
hra_binding_adapter_define (napi_env env, napi_value exports, instance_t *inst);
napi_status
hra_binding_primus_define (napi_env env, napi_value exports, instance_t *inst);
napi_status
hra_binding_streams_define (napi_env env, napi_value exports, instance_t *inst);

#endif

// Node-API glue for the adapters (classic, sharded, emitter): their entry points, the host callbacks
// the core adapter calls (publish, NUMSUB, request completion, clock, deadlines) and the request timer.
#include <stdlib.h>
#include <string.h>

#include "binding_internal.h"
#include "requests.h"
#include "rooms.h"

// ---------------------------------------------------------------------------------------------------
// Requests: the adapter's host (command connection, clock, deadlines) and completion into JS

static void
adapter_release (js_adapter_t *ja) {
  hra_subs_free(&ja->interest);
  if (ja->a == NULL) return;
  hra_adapter_free(ja->a);
  ja->a = NULL;
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

static int
has_due (js_adapter_t *ja, const void *arg) {
  return hra_adapter_expire(ja->a, 0) <= *(const uint64_t *) arg;
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
adapter_subscriptions (js_adapter_t *ja, int subscribe) {
  if (!jc_live(ja->sub)) return;
  js_conn_t *c = ja->sub;
  const char *chans[3] = { hra_adapter_request_channel(ja->a), hra_adapter_response_channel(ja->a), hra_adapter_specific_channel(ja->a) };
  const char *pat = hra_adapter_pattern(ja->a);
  if (hra_adapter_is_sharded(ja->a)) {
    // The main channel and this node's response channel; room channels follow the rooms (adapter_ssub).
    const char *sch[2] = { hra_adapter_main_channel(ja->a), hra_adapter_specific_channel(ja->a) };
    for (int i = 0; i < 2; i++)
      jc_subscribe(c, hra_sharded_kind(ja->a), sch[i], strlen(sch[i]), subscribe);
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

static void
adapter_finalize (napi_env env, void *data, void *hint);

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
  bool classic = false;
  if (napi_get_named_property(env, argv[2], "classicPubSub", &ev) == napi_ok && napi_get_value_bool(env, ev, &classic) != napi_ok) classic = false;
  o.classic_pubsub = classic;
  // roomLog: a Buffer JS logs created and deleted rooms into (rooms.h), 4-byte aligned (Buffer.alloc).
  void *log_mem = NULL;
  size_t log_cap = 0;
  napi_value log;
  napi_valuetype log_type = napi_undefined;
  if (napi_get_named_property(env, argv[2], "roomLog", &log) != napi_ok || napi_typeof(env, log, &log_type) != napi_ok) {
    hra_napi_throw_last(env, "adapter_init");
    goto done;
  }
  if (log_type != napi_undefined) {
    bool is_buffer = false;
    if (napi_is_buffer(env, log, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, log, &log_mem, &log_cap) != napi_ok ||
      log_cap < 4 || ((uintptr_t) log_mem & 3) != 0) {
      hra_napi_type_error(env, "roomLog must be a 4-byte aligned Buffer of at least 4 bytes");
      goto done;
    }
  }
  ja = calloc(1, sizeof(*ja));
  if (ja == NULL || (ja->a = hra_adapter_new(&o)) == NULL) {
    free(ja);
    ja = NULL;
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto done;
  }
  // The log is pinned by a reference until the finalizer: the core reads it on every message.
  if ((log_mem != NULL && napi_create_reference(env, log, 1, &ja->room_log) != napi_ok) ||
    napi_type_tag_object(env, argv[0], &adapter_tag) != napi_ok ||
    napi_wrap(env, argv[0], ja, adapter_finalize, NULL, NULL) != napi_ok) {
    hra_napi_throw_last(env, "adapter_init");
    if (ja->room_log != NULL && napi_delete_reference(env, ja->room_log) != napi_ok) {
      // Nothing more to undo: the Buffer just stays pinned.
    }
    adapter_release(ja);
    free(ja);
    ja = NULL;
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
  if (log_mem != NULL) hra_adapter_set_room_log(ja->a, log_mem, log_cap);
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

// The adapter's own table only counts: drop its entries without references now (amortised O(1)).
static void
interest_collect (js_adapter_t *ja) {
  hra_sub_t *garbage = NULL;
  size_t n = 0;
  hra_subs_collect(&ja->interest, 0, NULL, &n, &garbage);
  hra_subs_free_garbage(garbage);
}

static void
drop_interest (hra_sub_t *sub, void *data) {
  js_conn_t *jc = data;
  for (uint32_t i = 0; i < sub->refs; i++)
    jc_subscribe(jc, sub->kind, sub->name, sub->len, 0);
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

static void
adapter_finalize (napi_env env, void *data, void *hint) {
  js_adapter_t *ja = data;
  // The JS adapter was collected without close(): unsubscribe what it held on a still-open connection
  // (queued commands only: no JS here), detach, free.
  adapter_detach(ja);
  if (ja->all_prev)
    ja->all_prev->all_next = ja->all_next;
  else if (ja->inst->adapters == ja)
    ja->inst->adapters = ja->all_next;
  if (ja->all_next) ja->all_next->all_prev = ja->all_prev;
  adapter_release(ja);
  // Only now that nothing reads the room log (ja->a is gone) may its Buffer go. Should the reference not be
  // deleted, the Buffer stays pinned (a leak of its 4 KiB): nothing else can be done in a finalizer.
  if (ja->room_log != NULL && napi_delete_reference(env, ja->room_log) != napi_ok) ja->room_log = NULL;
  free(ja);
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

// adapter_rooms_sync(handle): applies the room log now (JS calls it when the log is full).
static napi_value
hra_js_adapter_rooms_sync (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  if (ja->a == NULL) return make_bool(env, false);
  hra_adapter_sync_rooms(ja->a);
  int64_t mem = (int64_t) hra_adapter_memory(ja->a), delta = mem - ja->memory, adjusted;
  if (delta > 65536 || delta < -65536) {
    if (napi_adjust_external_memory(env, delta, &adjusted) == napi_ok) ja->memory = mem;
  }
  return make_bool(env, true);
}

// subscriptionMode 'dynamic': the node holds (on) or no longer holds the room whose JS String(room) text is
// name: SUBSCRIBE / UNSUBSCRIBE K#N#name#, reference counted (the number 5 and the string "5" share a channel).
static int
interest (js_adapter_t *ja, const char *name, size_t len, int on) {
  if (len > HRA_ROOMS_MAX_NAME) return HRA_OK;  // never subscribed
  const char *prefix = hra_adapter_prefix(ja->a);
  size_t plen = strlen(prefix);
  char *ch = malloc(plen + len + 2);
  if (ch == NULL) return HRA_ENOMEM;
  memcpy(ch, prefix, plen + 1);
  if (len) memcpy(ch + plen, name, len);
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
  interest_collect(ja);
  return r < 0 ? r : HRA_OK;
}

// adapter_room(handle, on, room, numeric): JS created (on) or deleted (!on) a room, whose JS String(room)
// text is room; numeric when it was joined as a number. C keeps only the set of rooms held (rooms.h), and in
// subscriptionMode 'dynamic' the room's channel subscription. Membership is JS's alone. (Without subscriptions
// to make, JS writes the room log instead and calls this only for a name too long for the log.)
static napi_value
hra_js_adapter_room (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return hra_napi_type_error(env, "adapter_room(handle, on, room, numeric)");
  js_adapter_t *ja = get_adapter(env, argv[0]);
  if (ja == NULL) return NULL;
  if (ja->a == NULL) return make_bool(env, false);
  bool on = false, numeric = false;
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[1], &on));
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[3], &numeric));
  char stack[256];
  char *name = NULL;
  size_t len = 0;
  if (get_string_arg(env, argv[2], stack, sizeof(stack), &name, &len) != napi_ok) return hra_napi_throw_last(env, "adapter_room"), NULL;
  int kind = numeric ? 1 : 0, err = HRA_OK;
  if (on)
    err = hra_adapter_hold(ja->a, kind, (const uint8_t *) name, len);
  else
    hra_adapter_release(ja->a, kind, (const uint8_t *) name, len);
  // The set follows the rooms Map even when the subscription fails: the caller hears of that by the throw.
  if (err == HRA_OK && hra_adapter_is_dynamic(ja->a) && jc_live(ja->sub)) err = interest(ja, name, len, on);
  if (name != stack) free(name);
  if (err < 0) {
    napi_throw_error(env, err == HRA_ENOMEM ? "ENOMEM" : "EINVAL", hra_strerror(err));
    return NULL;
  }
  int64_t mem = (int64_t) hra_adapter_memory(ja->a), delta = mem - ja->memory, adjusted;
  if (delta > 65536 || delta < -65536) {
    if (napi_adjust_external_memory(env, delta, &adjusted) == napi_ok) ja->memory = mem;
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
    // Counted in the adapter's own table too, so that a collected adapter's finalizer can drop them.
    const char *ch = (const char *) chan.data;
    if (on) {
      err = hra_subs_ref(&ja->interest, 's', ch, chan.len);
      if (err >= 0) {
        err = jc_subscribe(ja->sub, 's', ch, chan.len, 1);
        if (err < 0) hra_subs_unref(&ja->interest, 's', ch, chan.len);
      }
    } else {
      hra_sub_t *e = hra_subs_find(&ja->interest, 's', ch, chan.len);
      if (e != NULL && e->refs > 0) {
        hra_subs_unref(&ja->interest, 's', ch, chan.len);
        err = jc_subscribe(ja->sub, 's', ch, chan.len, 0);
      }
    }
    interest_collect(ja);
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

napi_status
hra_binding_adapter_define (napi_env env, napi_value exports, instance_t *inst) {
  napi_property_descriptor props[] = {
    { "adapter_init", NULL, hra_js_adapter_init, NULL, NULL, NULL, napi_default, inst },
    { "adapter_close", NULL, hra_js_adapter_close, NULL, NULL, NULL, napi_default, inst },
    { "adapter_room", NULL, hra_js_adapter_room, NULL, NULL, NULL, napi_default, inst },
    { "adapter_rooms_sync", NULL, hra_js_adapter_rooms_sync, NULL, NULL, NULL, napi_default, inst },
    { "adapter_stats", NULL, hra_js_adapter_stats, NULL, NULL, NULL, napi_default, inst },
    { "adapter_request", NULL, hra_js_adapter_request, NULL, NULL, NULL, napi_default, inst },
    { "adapter_broadcast_ack", NULL, hra_js_adapter_broadcast_ack, NULL, NULL, NULL, napi_default, inst },
    { "adapter_respond", NULL, hra_js_adapter_respond, NULL, NULL, NULL, napi_default, inst },
    { "adapter_ssub", NULL, hra_js_adapter_ssub, NULL, NULL, NULL, napi_default, inst },
    { "adapter_track", NULL, hra_js_adapter_track, NULL, NULL, NULL, napi_default, inst },
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

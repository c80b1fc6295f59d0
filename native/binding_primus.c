// Node-API glue for the Primus front (lib/primus.js): its entry points. The front is attached to a
// subscriber connection, which hands it every message (binding_conn.c); its records reach JS in that
// connection's batch, like the adapters'. Publishing goes through the client's command connection from JS.
#include <stdlib.h>
#include <string.h>

#include "binding_internal.h"

static const napi_type_tag primus_tag = { 0x6b1f3e8a2d4c5970ULL, 0x47e2a9c1b3d5f608ULL };

static js_primus_t *
get_primus (napi_env env, napi_value obj) {
  bool ok = false;
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, obj, &t) != napi_ok) return NULL;
  if (t == napi_object && napi_check_object_type_tag(env, obj, &primus_tag, &ok) != napi_ok) return NULL;
  if (!ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a Primus front handle");
    return NULL;
  }
  if (napi_unwrap(env, obj, &p) != napi_ok) return NULL;
  return p;
}

// Unsubscribes (queued commands only: no JS runs here) and leaves the connection's list.
static void
primus_detach (js_primus_t *jp) {
  js_conn_t *jc = jp->sub;
  if (jc == NULL) return;
  if (jc_live(jc)) {
    const char *pat = hra_primus_pattern(jp->p);
    jc_subscribe(jc, 'p', pat, strlen(pat), 0);
  }
  js_primus_t **pp = &jc->primus;
  while (*pp != NULL && *pp != jp)
    pp = &(*pp)->next;
  if (*pp == jp) *pp = jp->next;
  jp->sub = NULL;
  jp->next = NULL;
}

static void
primus_finalize (napi_env env, void *data, void *hint) {
  js_primus_t *jp = data;
  // Collected without close(): drop the subscription on a still-open connection, detach, free.
  primus_detach(jp);
  hra_primus_free(jp->p);
  free(jp);
}

// primus_init(handle, subConnHandle, { channel, id, jsId, maxDepth, maxMessageBytes, seedLo, seedHi })
static napi_value
hra_js_primus_init (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result = NULL;
  instance_t *inst = NULL;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &inst));
  if (argc < 3) return hra_napi_type_error(env, "primus_init(handle, sub, opts)");
  js_conn_t *jc = get_conn(env, argv[1]);
  if (jc == NULL) return NULL;
  hra_primus_opts_t o;
  memset(&o, 0, sizeof(o));
  char *channel = NULL, *id = NULL;
  uint32_t seed_lo = 0, seed_hi = 0;
  js_primus_t *jp = NULL;
  if (hra_napi_get_named_string(env, argv[2], "channel", &channel) != napi_ok ||
    hra_napi_get_named_string(env, argv[2], "id", &id) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "jsId", 0, &o.js_id) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "maxDepth", 100, &o.max_depth) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "maxMessageBytes", 64u << 20, &o.max_message_bytes) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "seedLo", 0, &seed_lo) != napi_ok ||
    hra_napi_get_named_uint32(env, argv[2], "seedHi", 0, &seed_hi) != napi_ok) {
    hra_napi_throw_last(env, "primus_init");
    goto done;
  }
  if (channel == NULL || id == NULL) {
    hra_napi_type_error(env, "channel and id are required strings");
    goto done;
  }
  o.channel = channel;
  o.id = id;
  o.seed = ((uint64_t) seed_hi << 32) | seed_lo;
  jp = calloc(1, sizeof(*jp));
  if (jp == NULL || (jp->p = hra_primus_new(&o)) == NULL) {
    free(jp);
    jp = NULL;
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto done;
  }
  if (napi_type_tag_object(env, argv[0], &primus_tag) != napi_ok || napi_wrap(env, argv[0], jp, primus_finalize, NULL, NULL) != napi_ok) {
    hra_primus_free(jp->p);
    free(jp);
    jp = NULL;
    hra_napi_throw_last(env, "primus_init");
    goto done;
  }
  jp->inst = inst;
  if (jc->open && jc_live(jc)) {
    const char *pat = hra_primus_pattern(jp->p);
    jp->sub = jc;
    jp->next = jc->primus;
    jc->primus = jp;
    jc_subscribe(jc, 'p', pat, strlen(pat), 1);
  }
done:
  free(channel);
  free(id);
  if (jp == NULL) return NULL;
  HRA_NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

// primus_close(handle): unsubscribes and detaches; the counters stay readable.
static napi_value
hra_js_primus_close (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_primus_t *jp = get_primus(env, argv[0]);
  if (jp == NULL) return NULL;
  primus_detach(jp);
  jp->closed = 1;
  return make_bool(env, true);
}

// primus_presence(handle, room, on): the room gained its first local spark (on = true) or lost its last.
static napi_value
hra_js_primus_presence (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return hra_napi_type_error(env, "primus_presence(handle, room, on)");
  js_primus_t *jp = get_primus(env, argv[0]);
  if (jp == NULL) return NULL;
  bool on = false;
  HRA_NAPI_CALL(env, napi_get_value_bool(env, argv[2], &on));
  if (jp->closed) return make_bool(env, false);
  char stack[256];
  char *name = stack;
  size_t len = 0;
  HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], stack, sizeof(stack), &len));
  if (len >= sizeof(stack) - 1) {
    HRA_NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
    name = malloc(len + 1);
    if (name == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    if (napi_get_value_string_utf8(env, argv[1], name, len + 1, &len) != napi_ok) {
      free(name);
      hra_napi_throw_last(env, "primus_presence");
      return NULL;
    }
  }
  int r = hra_primus_presence(jp->p, (const uint8_t *) name, len, on);
  if (name != stack) free(name);
  if (r < 0) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int64_t mem = (int64_t) hra_primus_memory(jp->p), delta = mem - jp->memory, adjusted;
  if ((delta > 65536 || delta < -65536) && napi_adjust_external_memory(env, delta, &adjusted) == napi_ok) jp->memory = mem;
  return make_bool(env, r == HRA_OK);
}

static napi_value
hra_js_primus_stats (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o;
  HRA_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  js_primus_t *jp = get_primus(env, argv[0]);
  if (jp == NULL) return NULL;
  const hra_primus_stats_t *st = hra_primus_stats(jp->p);
  HRA_NAPI_CALL(env, napi_create_object(env, &o));
  HRA_NAPI_CALL(env, set_number(env, o, "received", (double) st->received));
  HRA_NAPI_CALL(env, set_number(env, o, "ignoredOwn", (double) st->ignored_own));
  HRA_NAPI_CALL(env, set_number(env, o, "ignoredRoom", (double) st->ignored_room));
  HRA_NAPI_CALL(env, set_number(env, o, "delivered", (double) st->delivered));
  HRA_NAPI_CALL(env, set_number(env, o, "passthrough", (double) st->passthrough));
  HRA_NAPI_CALL(env, set_number(env, o, "jsRooms", (double) st->js_rooms));
  HRA_NAPI_CALL(env, set_number(env, o, "invalid", (double) st->invalid));
  HRA_NAPI_CALL(env, set_number(env, o, "dropped", (double) st->dropped));
  HRA_NAPI_CALL(env, set_number(env, o, "lastError", (double) st->last_error));
  return o;
}

napi_status
hra_binding_primus_define (napi_env env, napi_value exports, instance_t *inst) {
  napi_property_descriptor props[] = {
    { "primus_init", NULL, hra_js_primus_init, NULL, NULL, NULL, napi_default, inst },
    { "primus_close", NULL, hra_js_primus_close, NULL, NULL, NULL, napi_default, inst },
    { "primus_presence", NULL, hra_js_primus_presence, NULL, NULL, NULL, napi_default, inst },
    { "primus_stats", NULL, hra_js_primus_stats, NULL, NULL, NULL, napi_default, inst },
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

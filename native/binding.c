// Module init: the instance (one per Node-API environment: the batch for JS, the request timer, the
// delivery hook), its teardown, the exported constants, and the entry points of binding_conn.c,
// binding_adapter.c and binding_primus.c. Native objects are attached to plain JS "handle" objects with napi_wrap and a type
// tag; while a connection is open it holds a strong reference to its JS owner, so native code never
// calls into a collected object.
#include <stdlib.h>

#include "binding_internal.h"

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
  HRA_NAPI_CALL(env, hra_binding_conn_define(env, exports, inst));
  HRA_NAPI_CALL(env, hra_binding_adapter_define(env, exports, inst));
  HRA_NAPI_CALL(env, hra_binding_primus_define(env, exports, inst));
  HRA_NAPI_CALL(env, hra_binding_streams_define(env, exports, inst));
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
    { "TARGET_NUM", HRA_TARGET_NUM },
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
    { "REC_PRIMUS", HRA_REC_PRIMUS },
    { "F_PR_FLAGS", HRA_F_PR_FLAGS },
    { "F_PR_ROOM_OFF", HRA_F_PR_ROOM_OFF },
    { "F_PR_ROOM_LEN", HRA_F_PR_ROOM_LEN },
    { "F_PR_DATA_OFF", HRA_F_PR_DATA_OFF },
    { "F_PR_DATA_LEN", HRA_F_PR_DATA_LEN },
    { "PR_ROOM_JSON", HRA_PR_ROOM_JSON },
    { "PR_DATA_ABSENT", HRA_PR_DATA_ABSENT },
    { "PR_DATA_PACKET", HRA_PR_DATA_PACKET },
    { "REC_STREAM", HRA_REC_STREAM },
    { "F_ST_TYPE", HRA_F_ST_TYPE },
    { "F_ST_FLAGS", HRA_F_ST_FLAGS },
    { "F_ST_DATA_OFF", HRA_F_ST_DATA_OFF },
    { "F_ST_DATA_LEN", HRA_F_ST_DATA_LEN },
    { "F_ST_ID_OFF", HRA_F_ST_ID_OFF },
    { "F_ST_ID_LEN", HRA_F_ST_ID_LEN },
    { "F_ST_UID_OFF", HRA_F_ST_UID_OFF },
    { "F_ST_UID_LEN", HRA_F_ST_UID_LEN },
    { "ST_JSON", HRA_ST_JSON },
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

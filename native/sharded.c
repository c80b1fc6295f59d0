// The sharded adapter's receive path (protocol.md 2): messages SSUBSCRIBE'd on P#N#, P#N#<uid># and
// the dynamic room channels P#N#<room>#, each a ClusterAdapter message {type, data, uid, nsp} in JSON
// (first byte '{') or msgpack. Broadcasts without an ack are routed here: own-uid and namespace
// checks, the room index, and the socket.io-parser string built once (for JSON by passing the data
// array's text through when it is exactly what JSON.stringify would print). Everything else that JS
// must see (requests, the answers to its own pending requests, broadcasts C does not reproduce) goes
// to JS as one HRA_REC_SHARDED record per message, in the batch of the read wakeup.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_internal.h"
#include "jsnum.h"
#include "json.h"
#include "pipeline.h"

#define HRA_REQ_SHARDED 20  // a request id of the JS ClusterAdapter (no deadline here: JS times it out)

enum {
  ROUTE_MESSAGE = 0,
  ROUTE_RESPONSE = 1
};

// ClusterAdapter MessageType (socket.io-adapter cluster-adapter.ts)
enum {
  MT_BROADCAST = 3,
  MT_SOCKETS_JOIN = 4,
  MT_SOCKETS_LEAVE = 5,
  MT_DISCONNECT_SOCKETS = 6,
  MT_FETCH_SOCKETS = 7,
  MT_FETCH_SOCKETS_RESPONSE = 8,
  MT_SERVER_SIDE_EMIT = 9,
  MT_SERVER_SIDE_EMIT_RESPONSE = 10,
  MT_BROADCAST_CLIENT_COUNT = 11,
  MT_BROADCAST_ACK = 12
};

// ---------------------------------------------------------------------------------------------------
// JSON strings

// ---------------------------------------------------------------------------------------------------
// Records

static void
js_record (hra_adapter_t *a, hra_slice_t payload, int route, hra_batch_t *batch) {
  uint32_t extra = (uint32_t) route;
  int err = hra_batch_message(batch, HRA_REC_SHARDED, a->id, payload, &extra, 1);
  if (err) hra_adapter__invalid(a, err);
}

static int
is_integer_in (double d, double lo, double hi) {
  return d >= lo && d <= hi && d == (double) (int64_t) d;
}

// ---------------------------------------------------------------------------------------------------
// Responses: only those answering a request of ours reach JS.

static void
on_response_id (hra_adapter_t *a, const uint8_t *rid, size_t rid_len, hra_slice_t payload, int route, hra_batch_t *batch) {
  if (rid == NULL || hra_requests_find(&a->reqs, rid, rid_len) < 0) {
    a->stats.responses_ignored++;
    return;
  }
  a->stats.responses++;
  js_record(a, payload, route, batch);
}

// ---------------------------------------------------------------------------------------------------
// JSON messages

static void
on_json (hra_adapter_t *a, hra_slice_t payload, int route, hra_batch_t *batch) {
  hra_json_t j = { payload.base, payload.base + payload.len, a->max_depth };
  hra_slice_t key, v, data = { NULL, 0 }, uid = { NULL, 0 }, nsp = { NULL, 0 };
  double type = -1;
  int t, dt = 0, ut = 0, nt = 0, first = 1, rc;
  if ((rc = hra_json_object_begin(&j)) != 0) {
    hra_adapter__invalid(a, rc);
    return;
  }
  while ((rc = hra_pipeline_obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (hra_pipeline_key_is(a, key, "type")) {
      if (t != HRA_JSON_NUMBER || hra_json_number(v, &type) != 0) type = -1;
    } else if (hra_pipeline_key_is(a, key, "data")) {
      data = v, dt = t;
    } else if (hra_pipeline_key_is(a, key, "uid")) {
      uid = v, ut = t;
    } else if (hra_pipeline_key_is(a, key, "nsp")) {
      nsp = v, nt = t;
    }
  }
  if (rc < 0 || !hra_json_at_end(&j)) {
    hra_adapter__invalid(a, rc < 0 ? rc : HRA_EINVAL);
    return;
  }
  int mt = is_integer_in(type, 1, 13) ? (int) type : -1;
  if (route == ROUTE_MESSAGE) {
    if (ut == HRA_JSON_STRING && hra_pipeline_json_str_eq(a, uid, a->uid, a->uid_len)) {
      a->stats.ignored_own++;
      return;
    }
    if (!(nt == HRA_JSON_STRING && hra_pipeline_json_str_eq(a, nsp, a->nsp, a->nsp_len))) {
      a->stats.ignored_nsp++;
      return;
    }
  }
  int is_response = mt >= MT_FETCH_SOCKETS_RESPONSE && mt <= MT_BROADCAST_ACK && mt != MT_SERVER_SIDE_EMIT;
  if (route == ROUTE_RESPONSE && !is_response) {
    a->stats.responses_ignored++;  // onResponse ignores other types
    return;
  }
  if (mt < MT_BROADCAST || mt > MT_BROADCAST_ACK || dt != HRA_JSON_OBJECT) {
    hra_adapter__invalid(a, HRA_ETYPE);
    return;
  }
  // data.requestId
  hra_slice_t rid = { NULL, 0 };
  int has_rid = 0, rt = 0, sockets_t = 0, count_t = 0;
  hra_json_t d = { data.base, data.base + data.len, a->max_depth };
  first = 1;
  hra_json_object_begin(&d);
  while ((rc = hra_pipeline_obj_next(&d, &first, &key, &v, &t)) == 1) {
    if (hra_pipeline_key_is(a, key, "requestId")) {
      has_rid = 1;
      rid = v;
      rt = t;
    } else if (hra_pipeline_key_is(a, key, "sockets")) {
      sockets_t = t;
    } else if (hra_pipeline_key_is(a, key, "clientCount")) {
      count_t = t;
    }
  }
  if (rc < 0) {
    hra_adapter__invalid(a, rc);
    return;
  }
  if (is_response) {
    size_t at = a->scratch.len = 0;
    if (!has_rid || rt != HRA_JSON_STRING || hra_json_unescape(rid, &a->scratch) != 0) {
      a->stats.responses_ignored++;
      return;
    }
    // The base class counts an answer before reading it: a malformed one would count and then throw.
    if ((mt == MT_FETCH_SOCKETS_RESPONSE && sockets_t != HRA_JSON_ARRAY) || (mt == MT_BROADCAST_CLIENT_COUNT && count_t != HRA_JSON_NUMBER)) {
      hra_adapter__invalid(a, HRA_ETYPE);
      return;
    }
    on_response_id(a, a->scratch.data + at, a->scratch.len - at, payload, route, batch);
    return;
  }
  if (mt == MT_BROADCAST && !has_rid) {
    a->stats.received++;
    int err = a->js_broadcasts ? HRA_PIPELINE_TO_JS : hra_pipeline_cluster_json(a, data, batch);
    if (err == HRA_PIPELINE_TO_JS) {
      js_record(a, payload, ROUTE_MESSAGE, batch);
    } else if (err) {
      hra_adapter__invalid(a, err);
    }
    return;
  }
  // Requests: a broadcast with acks, socketsJoin/Leave, disconnectSockets, fetchSockets, serverSideEmit.
  a->stats.requests++;
  js_record(a, payload, ROUTE_MESSAGE, batch);
}

// ---------------------------------------------------------------------------------------------------
// msgpack messages (notepack.io; sent when the data holds binary)

static void
on_msgpack (hra_adapter_t *a, hra_slice_t payload, int route, hra_batch_t *batch) {
  int err = hra_mp_validate(payload.base, payload.len, a->max_depth);
  hra_mp_reader_t r;
  hra_mp_obj_t o, k, v;
  hra_slice_t raw, data = { NULL, 0 }, uid = { NULL, 0 }, nsp = { NULL, 0 };
  int uid_str = 0, nsp_str = 0, data_map = 0;
  double type = -1;
  hra_mp_reader_init(&r, payload.base, payload.len);
  if (err == 0 && (hra_mp_read(&r, &o) != 0 || o.type != HRA_MP_MAP)) err = HRA_ETYPE;
  for (uint32_t i = 0; err == 0 && i < o.count; i++) {
    if ((err = hra_pipeline_mp_member(a, &r, &k, &v, &raw)) != 0) break;
    if (hra_mp_str_is(&k, "type")) {
      if (!hra_mp_number(&v, &type)) type = -1;
    } else if (hra_mp_str_is(&k, "data")) {
      data = raw;
      data_map = v.type == HRA_MP_MAP;
    } else if (hra_mp_str_is(&k, "uid")) {
      uid = v.s;
      uid_str = v.type == HRA_MP_STR;
    } else if (hra_mp_str_is(&k, "nsp")) {
      nsp = v.s;
      nsp_str = v.type == HRA_MP_STR;
    }
  }
  if (err) {
    hra_adapter__invalid(a, err);
    return;
  }
  int mt = is_integer_in(type, 1, 13) ? (int) type : -1;
  if (route == ROUTE_MESSAGE) {
    if (uid_str && uid.len == a->uid_len && memcmp(uid.base, a->uid, a->uid_len) == 0) {
      a->stats.ignored_own++;
      return;
    }
    if (!(nsp_str && nsp.len == a->nsp_len && memcmp(nsp.base, a->nsp, a->nsp_len) == 0)) {
      a->stats.ignored_nsp++;
      return;
    }
  }
  int is_response = mt >= MT_FETCH_SOCKETS_RESPONSE && mt <= MT_BROADCAST_ACK && mt != MT_SERVER_SIDE_EMIT;
  if (route == ROUTE_RESPONSE && !is_response) {
    a->stats.responses_ignored++;
    return;
  }
  if (mt < MT_BROADCAST || mt > MT_BROADCAST_ACK || !data_map) {
    hra_adapter__invalid(a, HRA_ETYPE);
    return;
  }
  hra_slice_t rid = { NULL, 0 };
  int has_rid = 0, rid_str = 0, sockets_arr = 0, count_num = 0;
  hra_mp_reader_init(&r, data.base, data.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = hra_pipeline_mp_member(a, &r, &k, &v, &raw)) != 0) {
      hra_adapter__invalid(a, err);
      return;
    }
    if (hra_mp_str_is(&k, "requestId")) {
      // notepack's legacy undefined (d4 00 00) decodes to undefined: no request id.
      has_rid = !(v.type == HRA_MP_EXT && hra_mp_is_undefined(&v));
      rid_str = v.type == HRA_MP_STR;
      rid = v.s;
    } else if (hra_mp_str_is(&k, "sockets")) {
      sockets_arr = v.type == HRA_MP_ARRAY;
    } else if (hra_mp_str_is(&k, "clientCount")) {
      double n;
      count_num = hra_mp_number(&v, &n);
    }
  }
  if (!(mt == MT_BROADCAST && !has_rid) || a->js_broadcasts) {
    // JS decodes this with notepack: no "__proto__" key anywhere may set a prototype there.
    if (hra_pipeline_has_proto_key(payload, a->max_depth)) {
      hra_adapter__invalid(a, HRA_ENOTSUP);
      return;
    }
  }
  if (is_response) {
    if (!has_rid || !rid_str) {
      a->stats.responses_ignored++;
      return;
    }
    if ((mt == MT_FETCH_SOCKETS_RESPONSE && !sockets_arr) || (mt == MT_BROADCAST_CLIENT_COUNT && !count_num)) {
      hra_adapter__invalid(a, HRA_ETYPE);
      return;
    }
    on_response_id(a, rid.base, rid.len, payload, route, batch);
    return;
  }
  if (mt == MT_BROADCAST && !has_rid) {
    a->stats.received++;
    err = a->js_broadcasts ? HRA_PIPELINE_TO_JS : hra_pipeline_cluster_mp(a, data, batch);
    if (err == HRA_PIPELINE_TO_JS) {
      if (hra_pipeline_has_proto_key(payload, a->max_depth)) {
        hra_adapter__invalid(a, HRA_ENOTSUP);
        return;
      }
      js_record(a, payload, ROUTE_MESSAGE, batch);
    } else if (err) {
      hra_adapter__invalid(a, err);
    }
    return;
  }
  a->stats.requests++;
  js_record(a, payload, ROUTE_MESSAGE, batch);
}

// ---------------------------------------------------------------------------------------------------

static int
slice_is (hra_slice_t s, const char *z, size_t n) {
  return s.len == n && memcmp(s.base, z, n) == 0;
}

int
hra_sharded_on_message (hra_adapter_t *a, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch) {
  int route;
  hra_adapter__sync_rooms(a);
  if (slice_is(channel, a->specific, strlen(a->specific))) {
    route = ROUTE_RESPONSE;
  } else if (channel.len >= a->prefix_len && memcmp(channel.base, a->prefix, a->prefix_len) == 0 &&
    (channel.len == a->prefix_len || channel.base[channel.len - 1] == '#')) {
    // P#N# or a room channel P#N#<room>#: onMessage (the message itself says what it is).
    route = ROUTE_MESSAGE;
  } else {
    return 0;
  }
  if (payload.len == 0 || payload.len > a->max_message_bytes) {
    hra_adapter__invalid(a, payload.len ? HRA_ELIMIT : HRA_EINVAL);
    return 1;
  }
  if (payload.base[0] == '{')
    on_json(a, payload, route, batch);
  else
    on_msgpack(a, payload, route, batch);
  return 1;
}

int
hra_sharded_kind (const hra_adapter_t *a) {
  return a->classic_pubsub ? 'c' : 's';
}

int
hra_sharded_room_channel (hra_adapter_t *a, const uint8_t *room, size_t len, hra_buf_t *out) {
  out->len = 0;
  if (hra_buf_append(out, a->prefix, a->prefix_len) != 0 || hra_buf_append(out, room, len) != 0 || hra_buf_putc(out, '#') != 0) return HRA_ENOMEM;
  return HRA_OK;
}

int
hra_sharded_track (hra_adapter_t *a, const uint8_t *id, size_t len, int on) {
  int i = hra_requests_find(&a->reqs, id, len);
  if (on) {
    if (i >= 0) return HRA_OK;
    i = hra_requests_add(&a->reqs, id, len, HRA_REQ_SHARDED, 0, UINT64_MAX);
    if (i < 0) return i;
    a->reqs.items[i].state = HRA_REQ_PENDING;
  } else if (i >= 0) {
    hra_requests_remove(&a->reqs, (size_t) i);
  }
  a->stats.pending = a->reqs.len;
  return HRA_OK;
}

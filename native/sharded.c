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

// A broadcast C does not reproduce byte for byte: JS runs it through the ClusterAdapter.
#define TO_JS 2

static const char *const reserved_events[] = { "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener" };

// ---------------------------------------------------------------------------------------------------
// JSON strings

// 1 when the JSON string value q (with quotes) equals the UTF-8 bytes z.
static int
json_str_eq (hra_adapter_t *a, hra_slice_t q, const void *z, size_t n) {
  if (q.len < 2) return 0;
  if (memchr(q.base, '\\', q.len) == NULL) return q.len - 2 == n && memcmp(q.base + 1, z, n) == 0;
  size_t at = a->scratch.len;
  int eq = hra_json_unescape(q, &a->scratch) == 0 && a->scratch.len - at == n && memcmp(a->scratch.data + at, z, n) == 0;
  a->scratch.len = at;
  return eq;
}

// 1 when a raw object key (between the quotes, escapes kept) names the ASCII field.
static int
key_is (hra_adapter_t *a, hra_slice_t key, const char *name) {
  if (memchr(key.base, '\\', key.len) == NULL) return hra_json_key_is(key, name);
  hra_slice_t q = { key.base - 1, key.len + 2 };
  return json_str_eq(a, q, name, strlen(name));
}

// Members of an object, with JSON.parse's strictness (a leading comma is refused; hra_json_object_begin
// now refuses it too).
static int
obj_next (hra_json_t *j, int *first, hra_slice_t *key, hra_slice_t *value, int *type) {
  if (*first) {
    *first = 0;
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
      j->p++;
    if (j->p < j->end && *j->p == ',') return HRA_EINVAL;
  }
  return hra_json_object_next(j, key, value, type);
}

// ---------------------------------------------------------------------------------------------------
// Records

static void
js_record (hra_adapter_t *a, hra_slice_t payload, int route, hra_batch_t *batch) {
  uint32_t extra = (uint32_t) route;
  int err = hra_batch_message(batch, HRA_REC_SHARDED, a->id, payload, &extra, 1);
  if (err) hra_adapter__invalid(a, err);
}

// The classic record layout (batch.h HRA_REC_BROADCAST) from a->out, a->attachments, a->targets.
static void
broadcast_record (hra_adapter_t *a, uint32_t flags, hra_batch_t *batch) {
  hra_slice_t packet = { a->out.data, a->out.len };
  int err = hra_batch_broadcast(batch, a->id, flags, packet, a->attachments.items, a->attachments.len, a->targets);
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

static int
json_truthy (hra_slice_t v, int t) {
  double d;
  switch (t) {
    case HRA_JSON_NULL:
    case HRA_JSON_FALSE:
      return 0;
    case HRA_JSON_NUMBER:
      return hra_json_number(v, &d) == 0 && d != 0 && !isnan(d);
    case HRA_JSON_STRING:
      return v.len > 2;
    default:
      return 1;
  }
}

// Appends the room keys of a JSON array (strings and numbers) to a->skeys (names in a->scratch, by
// offset until the caller rebases). TO_JS for elements the index cannot represent.
static int
json_room_keys (hra_adapter_t *a, hra_slice_t arr, int t, size_t *n) {
  if (arr.base == NULL || t == HRA_JSON_NULL) return HRA_OK;
  if (t != HRA_JSON_ARRAY) return t == HRA_JSON_STRING ? TO_JS : HRA_ETYPE;  // new Set("ab"): two rooms
  hra_json_t j = { arr.base, arr.base + arr.len, a->max_depth };
  hra_slice_t v;
  int vt, rc = hra_json_array_begin(&j), first = 1;
  while (rc == 0 || rc == 1) {
    if (first) {
      first = 0;
      if (j.p < j.end && *j.p == ',') return HRA_EINVAL;
    }
    rc = hra_json_array_next(&j, &v, &vt);
    if (rc != 1) break;
    hra_room_key_t k = { NULL, 0, HRA_ROOM_STR };
    size_t at = a->scratch.len;
    if (vt == HRA_JSON_STRING) {
      int err = hra_json_unescape(v, &a->scratch);
      if (err) return err == HRA_ENOTSUP ? TO_JS : err;
    } else if (vt == HRA_JSON_NUMBER) {
      double d;
      char text[HRA_JSNUM_BUF];
      if (hra_json_number(v, &d) != 0) return HRA_EINVAL;
      size_t tl = hra_jsnum_format(d, text);
      if (hra_buf_append(&a->scratch, text, tl) != 0) return HRA_ENOMEM;
      k.kind = HRA_ROOM_NUM;
    } else {
      return TO_JS;
    }
    k.base = (const uint8_t *) (uintptr_t) at;
    k.len = a->scratch.len - at;
    if (*n == a->skeys_cap) {
      size_t cap = a->skeys_cap ? a->skeys_cap * 2 : 16;
      hra_room_key_t *keys = realloc(a->skeys, cap * sizeof(*keys));
      if (keys == NULL) return HRA_ENOMEM;
      a->skeys = keys;
      a->skeys_cap = cap;
    }
    a->skeys[(*n)++] = k;
  }
  return rc < 0 ? rc : HRA_OK;
}

// A JSON BROADCAST without requestId: data = {packet: {type: 2, data: [...]}, opts: {rooms, except,
// flags}}. HRA_OK (delivered or nothing to do), TO_JS, or an error (invalid).
static int
json_broadcast (hra_adapter_t *a, hra_slice_t data, hra_batch_t *batch) {
  hra_slice_t packet = { NULL, 0 }, opts = { NULL, 0 }, key, v;
  int t, pt = 0, ot = 0, first = 1, rc;
  hra_json_t j = { data.base, data.base + data.len, a->max_depth };
  if ((rc = hra_json_object_begin(&j)) != 0) return rc;
  while ((rc = obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (key_is(a, key, "packet"))
      packet = v, pt = t;
    else if (key_is(a, key, "opts"))
      opts = v, ot = t;
  }
  if (rc < 0) return rc;
  if (pt != HRA_JSON_OBJECT || ot != HRA_JSON_OBJECT) return HRA_ETYPE;
  // packet
  double type = -1;
  int has_type = 0, dt = 0, other = 0;
  hra_slice_t pdata = { NULL, 0 };
  j = (hra_json_t){ packet.base, packet.base + packet.len, a->max_depth };
  first = 1;
  hra_json_object_begin(&j);
  while ((rc = obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (key_is(a, key, "type")) {
      has_type = t == HRA_JSON_NUMBER && hra_json_number(v, &type) == 0;
    } else if (key_is(a, key, "data")) {
      pdata = v;
      dt = t;
    } else if (!key_is(a, key, "nsp")) {
      other = 1;  // an id or anything else the in-memory broadcast would act on
    }
  }
  if (rc < 0) return rc;
  if (!has_type || (type != 2 && type != 3) || dt != HRA_JSON_ARRAY) return HRA_ETYPE;
  // What socket.io-client accepts as an EVENT: a non-reserved event name or a number first.
  j = (hra_json_t){ pdata.base, pdata.base + pdata.len, a->max_depth };
  hra_json_array_begin(&j);
  if (j.p < j.end && *j.p == ',') return HRA_EINVAL;
  rc = hra_json_array_next(&j, &v, &t);
  if (type == 2) {
    if (rc != 1) return HRA_ETYPE;
    if (t == HRA_JSON_STRING) {
      for (size_t i = 0; i < sizeof(reserved_events) / sizeof(reserved_events[0]); i++) {
        if (json_str_eq(a, v, reserved_events[i], strlen(reserved_events[i]))) return HRA_ETYPE;
      }
    } else if (t != HRA_JSON_NUMBER) {
      return HRA_ETYPE;
    }
  }
  if (other || type != 2) return TO_JS;
  // opts
  hra_slice_t rooms = { NULL, 0 }, except = { NULL, 0 }, flags = { NULL, 0 };
  int rt = 0, et = 0, ft = 0;
  j = (hra_json_t){ opts.base, opts.base + opts.len, a->max_depth };
  first = 1;
  hra_json_object_begin(&j);
  while ((rc = obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (key_is(a, key, "rooms"))
      rooms = v, rt = t;
    else if (key_is(a, key, "except"))
      except = v, et = t;
    else if (key_is(a, key, "flags"))
      flags = v, ft = t;
  }
  if (rc < 0) return rc;
  uint32_t bflags = 0;
  if (ft == HRA_JSON_OBJECT) {
    j = (hra_json_t){ flags.base, flags.base + flags.len, a->max_depth };
    first = 1;
    hra_json_object_begin(&j);
    int vol = 0, cf = 0;
    while ((rc = obj_next(&j, &first, &key, &v, &t)) == 1) {
      if (key_is(a, key, "volatile"))
        vol = json_truthy(v, t);
      else if (key_is(a, key, "compress"))
        cf = t == HRA_JSON_FALSE;
    }
    if (rc < 0) return rc;
    bflags = (vol ? HRA_BFLAG_VOLATILE : 0) | (cf ? HRA_BFLAG_COMPRESS_FALSE : 0);
  }
  size_t nrooms = 0, nall = 0;
  int err;
  a->scratch.len = 0;
  if ((err = json_room_keys(a, rooms, rt, &nrooms)) != 0) return err;
  nall = nrooms;
  if ((err = json_room_keys(a, except, et, &nall)) != 0) return err;
  for (size_t i = 0; i < nall; i++)
    a->skeys[i].base = a->scratch.data + (uintptr_t) a->skeys[i].base;
  if (hra_pipeline_select(a, a->skeys, nrooms, nall) != 0) {
    a->stats.ignored_no_target++;
    return HRA_OK;
  }
  if (!hra_json_canonical(&a->ckeys, pdata.base, pdata.len, a->max_depth)) return TO_JS;
  // socket.io-parser: "2", then "<nsp>," unless the main namespace, then JSON.stringify(data).
  a->out.len = 0;
  a->attachments.len = 0;
  err = hra_buf_putc(&a->out, '2');
  if (!err && !(a->nsp_len == 1 && a->nsp[0] == '/')) err = hra_buf_append(&a->out, a->nsp, a->nsp_len) || hra_buf_putc(&a->out, ',');
  if (!err) err = hra_buf_append(&a->out, pdata.base, pdata.len);
  if (err) return HRA_ENOMEM;
  broadcast_record(a, bflags, batch);
  return HRA_OK;
}

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
  while ((rc = obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (key_is(a, key, "type")) {
      if (t != HRA_JSON_NUMBER || hra_json_number(v, &type) != 0) type = -1;
    } else if (key_is(a, key, "data")) {
      data = v, dt = t;
    } else if (key_is(a, key, "uid")) {
      uid = v, ut = t;
    } else if (key_is(a, key, "nsp")) {
      nsp = v, nt = t;
    }
  }
  if (rc < 0 || !hra_json_at_end(&j)) {
    hra_adapter__invalid(a, rc < 0 ? rc : HRA_EINVAL);
    return;
  }
  int mt = is_integer_in(type, 1, 13) ? (int) type : -1;
  if (route == ROUTE_MESSAGE) {
    if (ut == HRA_JSON_STRING && json_str_eq(a, uid, a->uid, a->uid_len)) {
      a->stats.ignored_own++;
      return;
    }
    if (!(nt == HRA_JSON_STRING && json_str_eq(a, nsp, a->nsp, a->nsp_len))) {
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
  while ((rc = obj_next(&d, &first, &key, &v, &t)) == 1) {
    if (key_is(a, key, "requestId")) {
      has_rid = 1;
      rid = v;
      rt = t;
    } else if (key_is(a, key, "sockets")) {
      sockets_t = t;
    } else if (key_is(a, key, "clientCount")) {
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
    int err = a->js_broadcasts ? TO_JS : json_broadcast(a, data, batch);
    if (err == TO_JS) {
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

// Reads a map member; refuses keys JS would turn into a name we cannot compare (containers, bin) and
// "__proto__" (notepack would set the object's prototype).
static int
mp_member (hra_adapter_t *a, hra_mp_reader_t *r, hra_mp_obj_t *k, hra_mp_obj_t *v, hra_slice_t *raw) {
  int err = hra_pipeline_next_member(r, a->max_depth, k, v, raw);
  if (err) return err;
  if (k->type == HRA_MP_ARRAY || k->type == HRA_MP_MAP || k->type == HRA_MP_BIN || k->type == HRA_MP_EXT) return HRA_ENOTSUP;
  if (hra_mp_str_is(k, "__proto__")) return HRA_ENOTSUP;
  return HRA_OK;
}

static int
mp_broadcast (hra_adapter_t *a, hra_slice_t data, hra_batch_t *batch) {
  hra_mp_reader_t r;
  hra_mp_obj_t o, k, v;
  hra_slice_t raw, packet = { NULL, 0 }, opts = { NULL, 0 };
  int err = 0;
  hra_mp_reader_init(&r, data.base, data.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = mp_member(a, &r, &k, &v, &raw)) != 0) return err;
    if (hra_mp_str_is(&k, "packet"))
      packet = v.type == HRA_MP_MAP ? raw : (hra_slice_t){ NULL, 0 };
    else if (hra_mp_str_is(&k, "opts"))
      opts = v.type == HRA_MP_MAP ? raw : (hra_slice_t){ NULL, 0 };
  }
  if (packet.base == NULL || opts.base == NULL) return HRA_ETYPE;
  hra_envelope_t env;
  memset(&env, 0, sizeof(env));
  env.type = -1;
  int other = 0;
  hra_mp_reader_init(&r, packet.base, packet.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = mp_member(a, &r, &k, &v, &raw)) != 0) return err;
    double t;
    if (hra_mp_str_is(&k, "type"))
      env.type = hra_mp_number(&v, &t) && is_integer_in(t, 0, 9) ? (int64_t) t : -1;
    else if (hra_mp_str_is(&k, "data"))
      env.data = raw;
    else if (!hra_mp_str_is(&k, "nsp"))
      other = 1;
  }
  if ((err = hra_pipeline_deliverable(&env, a->max_depth)) != 0) return err;
  if (other) return TO_JS;
  hra_slice_t rooms = { NULL, 0 }, except = { NULL, 0 };
  uint32_t bflags = 0;
  hra_mp_reader_init(&r, opts.base, opts.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = mp_member(a, &r, &k, &v, &raw)) != 0) return err;
    if (hra_mp_str_is(&k, "rooms")) {
      rooms = raw;
    } else if (hra_mp_str_is(&k, "except")) {
      except = raw;
    } else if (hra_mp_str_is(&k, "flags")) {
      bflags = 0;
      if (v.type != HRA_MP_MAP) continue;
      hra_mp_reader_t fr;
      hra_mp_obj_t fo, fk, fv;
      hra_slice_t fraw;
      hra_mp_reader_init(&fr, raw.base, raw.len);
      hra_mp_read(&fr, &fo);
      int vol = 0, cf = 0;
      for (uint32_t n = 0; n < fo.count; n++) {
        if ((err = mp_member(a, &fr, &fk, &fv, &fraw)) != 0) return err;
        if (hra_mp_str_is(&fk, "volatile"))
          vol = hra_mp_truthy(&fv);
        else if (hra_mp_str_is(&fk, "compress"))
          cf = fv.type == HRA_MP_BOOL && !fv.v.b;
      }
      bflags = (vol ? HRA_BFLAG_VOLATILE : 0) | (cf ? HRA_BFLAG_COMPRESS_FALSE : 0);
    }
  }
  // A string rooms value would be iterated character by character by new Set(): leave it to JS.
  hra_mp_obj_t ro;
  hra_mp_reader_t rr;
  hra_mp_reader_init(&rr, rooms.base, rooms.len);
  if (rooms.len && hra_mp_read(&rr, &ro) == 0 && ro.type == HRA_MP_STR) return TO_JS;
  hra_mp_reader_init(&rr, except.base, except.len);
  if (except.len && hra_mp_read(&rr, &ro) == 0 && ro.type == HRA_MP_STR) return TO_JS;
  err = hra_pipeline_prepare(a, rooms, except, (int) env.type, NULL, env.data);
  if (err == 1) {
    a->stats.ignored_no_target++;
    return HRA_OK;
  }
  if (err) return err;
  broadcast_record(a, bflags, batch);
  return HRA_OK;
}

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
    if ((err = mp_member(a, &r, &k, &v, &raw)) != 0) break;
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
    if ((err = mp_member(a, &r, &k, &v, &raw)) != 0) {
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
    err = a->js_broadcasts ? TO_JS : mp_broadcast(a, data, batch);
    if (err == TO_JS) {
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

// The receive pipeline shared by the fronts (see pipeline.h).
#include "pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "envelope.h"
#include "jsnum.h"
#include "json.h"
#include "mp.h"
#include "rooms.h"

// Appends the room keys named by a msgpack array (strings and numbers; other element types can never
// match a room we index). Number rooms get their canonical JS text, stored in numtext by offset
// because numtext may move while it grows.
static int
collect_keys (hra_adapter_t *a, hra_slice_t arr, size_t *n) {
  if (arr.len == 0) return HRA_OK;
  hra_mp_reader_t r = { arr.base, arr.base + arr.len };
  hra_mp_obj_t o;
  int err = hra_mp_read(&r, &o);
  if (err) return err;
  if (o.type == HRA_MP_NIL) return HRA_OK;
  if (o.type != HRA_MP_ARRAY) return HRA_ETYPE;
  uint32_t count = o.count;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *start = r.p;
    if ((err = hra_mp_read(&r, &o)) != 0) return err;
    hra_room_key_t k = { NULL, 0, HRA_ROOM_STR };
    double d = 0;
    int num = 0;
    if (o.type == HRA_MP_STR) {
      k.base = o.s.base;
      k.len = o.s.len;
      k.kind = HRA_ROOM_STR;
    } else if (hra_mp_number(&o, &d)) {
      num = 1;
    } else {
      // Any other element can never match a room we index: skip it (and its subtree).
      r.p = start;
      if ((err = hra_mp_skip(&r, a->max_depth)) != 0) return err;
      continue;
    }
    if (num) {
      char text[HRA_JSNUM_BUF];
      size_t tl = hra_jsnum_format(d, text);
      size_t at = a->numtext.len;
      if (hra_buf_append(&a->numtext, text, tl) != 0) return HRA_ENOMEM;
      k.base = (const uint8_t *) (uintptr_t) at;  // rebased once numtext stops growing
      k.len = tl;
      k.kind = HRA_ROOM_NUM | 0x100;
    }
    if (*n == a->keys_cap) {
      size_t cap = a->keys_cap ? a->keys_cap * 2 : 16;
      hra_room_key_t *keys = realloc(a->keys, cap * sizeof(*keys));
      if (keys == NULL) return HRA_ENOMEM;
      a->keys = keys;
      a->keys_cap = cap;
    }
    a->keys[(*n)++] = k;
  }
  return HRA_OK;
}

// What socket.io-client accepts (socket.io-parser's isPayloadValid and its ack-id parsing): an
// EVENT's data is an array whose first element is a number or a non-reserved event name, an ACK's
// data is an array, and an ack id is a plain non-negative integer. Anything else would make every
// receiving client drop its connection, so such a message is refused here, once, for all of them.
int
hra_pipeline_deliverable (const hra_envelope_t *env, unsigned max_depth) {
  static const char *reserved[] = { "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener" };
  if (env->type != 2 && env->type != 3) return HRA_ETYPE;
  if (env->data.len == 0) return HRA_ETYPE;
  hra_mp_reader_t r;
  hra_mp_obj_t o;
  hra_mp_reader_init(&r, env->data.base, env->data.len);
  if (hra_mp_read(&r, &o) != 0 || o.type != HRA_MP_ARRAY) return HRA_ETYPE;
  if (env->type == 2) {
    double d;
    if (o.count == 0 || hra_mp_read(&r, &o) != 0) return HRA_ETYPE;
    if (o.type == HRA_MP_STR) {
      for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (hra_mp_str_is(&o, reserved[i])) return HRA_ETYPE;
      }
    } else if (!hra_mp_number(&o, &d)) {
      return HRA_ETYPE;
    }
  }
  if (env->has_id) {
    double id;
    hra_mp_reader_init(&r, env->id.base, env->id.len);
    if (hra_mp_read(&r, &o) != 0 || !hra_mp_number(&o, &id)) return HRA_ETYPE;
    if (!(id >= 0 && id <= 9007199254740992.0) || id != (double) (int64_t) id) return HRA_ETYPE;
  }
  return HRA_OK;
}

int
hra_pipeline_select (hra_adapter_t *a, hra_room_key_t *keys, size_t nrooms, size_t nall) {
  size_t kept = 0, kept_rooms = 0;
  for (size_t i = 0; i < nall; i++) {
    if (i == nrooms) kept_rooms = kept;
    // A name as long as a target list's length word could not be a room of a JS string.
    if (keys[i].len < HRA_TARGET_NUM && hra_rooms_has(a->rooms, keys[i])) keys[kept++] = keys[i];
  }
  if (nall == nrooms) kept_rooms = kept;
  a->targets.keys = keys;
  a->targets.nrooms = kept_rooms;
  a->targets.nexcept = kept - kept_rooms;
  a->targets.all = kept == 0;
  return nrooms > 0 && kept_rooms == 0;
}

// Target selection and encoding shared by plain broadcasts and broadcasts with acks: fills
// a->targets, a->out and a->attachments. Returns 1 when no local socket matches (nothing encoded).
int
hra_pipeline_prepare (hra_adapter_t *a, hra_slice_t rooms, hra_slice_t except, int type, const hra_slice_t *id, hra_slice_t data) {
  size_t nrooms = 0, nall = 0;
  int err;
  a->numtext.len = 0;
  if ((err = collect_keys(a, rooms, &nrooms)) != 0) return err;
  nall = nrooms;
  if ((err = collect_keys(a, except, &nall)) != 0) return err;
  for (size_t i = 0; i < nall; i++) {
    if (a->keys[i].kind & 0x100) {
      a->keys[i].kind &= 0xff;
      a->keys[i].base = a->numtext.data + (uintptr_t) a->keys[i].base;
    }
  }
  if (hra_pipeline_select(a, a->keys, nrooms, nall) != 0) return 1;
  if (a->raw_broadcasts) return hra_pipeline_has_proto_key(data, a->max_depth) ? HRA_ENOTSUP : HRA_OK;
  hra_slice_t nsp = { (const uint8_t *) a->nsp, a->nsp_len };
  a->out.len = 0;
  a->attachments.len = 0;
  return hra_encode_packet(&a->enc, &a->out, &a->attachments, type, nsp, id, data, a->max_depth);
}

// 1 when any map inside the msgpack value has a "__proto__" key (notepack would set a prototype),
// or when the value is malformed or nested deeper than max_depth.
int
hra_pipeline_has_proto_key (hra_slice_t v, unsigned max_depth) {
  struct {
    uint32_t left;
    uint8_t is_map;
  } st[HRA_MP_MAX_DEPTH + 1];
  hra_mp_reader_t r;
  hra_mp_obj_t o;
  unsigned d = 0;
  if (max_depth > HRA_MP_MAX_DEPTH) max_depth = HRA_MP_MAX_DEPTH;
  st[0].left = 1;
  st[0].is_map = 0;
  hra_mp_reader_init(&r, v.base, v.len);
  for (;;) {
    while (st[d].left == 0) {
      if (d == 0) return r.p != r.end;
      d--;
    }
    int is_key = st[d].is_map && st[d].left % 2 == 0;
    if (hra_mp_read(&r, &o) != 0) return 1;
    st[d].left--;
    if (is_key && hra_mp_str_is(&o, "__proto__")) return 1;
    if (o.type == HRA_MP_ARRAY || o.type == HRA_MP_MAP) {
      if (d + 1 > max_depth) return 1;
      d++;
      st[d].left = o.type == HRA_MP_MAP ? o.count * 2 : o.count;
      st[d].is_map = o.type == HRA_MP_MAP;
    }
  }
}

// Reads the next member of a msgpack map: its key, the header of its value, and the value's raw bytes.
int
hra_pipeline_next_member (hra_mp_reader_t *r, unsigned max_depth, hra_mp_obj_t *key, hra_mp_obj_t *value, hra_slice_t *raw) {
  int err = hra_mp_read(r, key);
  if (err) return err;
  const uint8_t *start = r->p;
  if ((err = hra_mp_read(r, value)) != 0) return err;
  r->p = start;
  if ((err = hra_mp_skip(r, max_depth)) != 0) return err;
  raw->base = start;
  raw->len = (size_t) (r->p - start);
  return HRA_OK;
}

// ---------------------------------------------------------------------------------------------------
// ClusterAdapter BROADCAST data (socket.io-adapter's cluster messages), shared by the sharded front and
// the streams front: {packet: {type, data, nsp}, opts: {rooms, except, flags}} in JSON or msgpack.

static int
is_integer_in (double d, double lo, double hi) {
  return d >= lo && d <= hi && d == (double) (int64_t) d;
}

static const char *const reserved_events[] = { "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener" };

// 1 when the JSON string value q (with quotes) equals the UTF-8 bytes z.
int
hra_pipeline_json_str_eq (hra_adapter_t *a, hra_slice_t q, const void *z, size_t n) {
  if (q.len < 2) return 0;
  if (memchr(q.base, '\\', q.len) == NULL) return q.len - 2 == n && memcmp(q.base + 1, z, n) == 0;
  size_t at = a->scratch.len;
  int eq = hra_json_unescape(q, &a->scratch) == 0 && a->scratch.len - at == n && memcmp(a->scratch.data + at, z, n) == 0;
  a->scratch.len = at;
  return eq;
}

// 1 when a raw object key (between the quotes, escapes kept) names the ASCII field.
int
hra_pipeline_key_is (hra_adapter_t *a, hra_slice_t key, const char *name) {
  if (memchr(key.base, '\\', key.len) == NULL) return hra_json_key_is(key, name);
  hra_slice_t q = { key.base - 1, key.len + 2 };
  return hra_pipeline_json_str_eq(a, q, name, strlen(name));
}

// Members of an object, with JSON.parse's strictness (a leading comma is refused; hra_json_object_begin
// now refuses it too).
int
hra_pipeline_obj_next (hra_json_t *j, int *first, hra_slice_t *key, hra_slice_t *value, int *type) {
  if (*first) {
    *first = 0;
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
      j->p++;
    if (j->p < j->end && *j->p == ',') return HRA_EINVAL;
  }
  return hra_json_object_next(j, key, value, type);
}

// The classic record layout (batch.h HRA_REC_BROADCAST) from a->out, a->attachments, a->targets.
static void
broadcast_record (hra_adapter_t *a, uint32_t flags, hra_batch_t *batch) {
  hra_slice_t packet = { a->out.data, a->out.len };
  int err = hra_batch_broadcast(batch, a->id, flags, packet, a->attachments.items, a->attachments.len, a->targets);
  if (err) hra_adapter__invalid(a, err);
}

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
// offset until the caller rebases). HRA_PIPELINE_TO_JS for elements the index cannot represent.
static int
json_room_keys (hra_adapter_t *a, hra_slice_t arr, int t, size_t *n) {
  if (arr.base == NULL || t == HRA_JSON_NULL) return HRA_OK;
  if (t != HRA_JSON_ARRAY) return t == HRA_JSON_STRING ? HRA_PIPELINE_TO_JS : HRA_ETYPE;  // new Set("ab"): two rooms
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
      if (err) return err == HRA_ENOTSUP ? HRA_PIPELINE_TO_JS : err;
    } else if (vt == HRA_JSON_NUMBER) {
      double d;
      char text[HRA_JSNUM_BUF];
      if (hra_json_number(v, &d) != 0) return HRA_EINVAL;
      size_t tl = hra_jsnum_format(d, text);
      if (hra_buf_append(&a->scratch, text, tl) != 0) return HRA_ENOMEM;
      k.kind = HRA_ROOM_NUM;
    } else {
      return HRA_PIPELINE_TO_JS;
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
// flags}}. HRA_OK (delivered or nothing to do), HRA_PIPELINE_TO_JS, or an error (invalid).
int
hra_pipeline_cluster_json (hra_adapter_t *a, hra_slice_t data, hra_batch_t *batch) {
  hra_slice_t packet = { NULL, 0 }, opts = { NULL, 0 }, key, v;
  int t, pt = 0, ot = 0, first = 1, rc, rid = 0;
  hra_json_t j = { data.base, data.base + data.len, a->max_depth };
  if ((rc = hra_json_object_begin(&j)) != 0) return rc;
  while ((rc = hra_pipeline_obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (hra_pipeline_key_is(a, key, "packet"))
      packet = v, pt = t;
    else if (hra_pipeline_key_is(a, key, "opts"))
      opts = v, ot = t;
    else if (hra_pipeline_key_is(a, key, "requestId"))
      rid = 1;
  }
  if (rc < 0) return rc;
  if (!hra_json_at_end(&j)) return HRA_EINVAL;
  if (rid) return HRA_PIPELINE_TO_JS;
  if (pt != HRA_JSON_OBJECT || ot != HRA_JSON_OBJECT) return HRA_ETYPE;
  // packet
  double type = -1;
  int has_type = 0, dt = 0, other = 0;
  hra_slice_t pdata = { NULL, 0 };
  j = (hra_json_t){ packet.base, packet.base + packet.len, a->max_depth };
  first = 1;
  hra_json_object_begin(&j);
  while ((rc = hra_pipeline_obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (hra_pipeline_key_is(a, key, "type")) {
      has_type = t == HRA_JSON_NUMBER && hra_json_number(v, &type) == 0;
    } else if (hra_pipeline_key_is(a, key, "data")) {
      pdata = v;
      dt = t;
    } else if (!hra_pipeline_key_is(a, key, "nsp")) {
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
        if (hra_pipeline_json_str_eq(a, v, reserved_events[i], strlen(reserved_events[i]))) return HRA_ETYPE;
      }
    } else if (t != HRA_JSON_NUMBER) {
      return HRA_ETYPE;
    }
  }
  if (other || type != 2) return HRA_PIPELINE_TO_JS;
  // opts
  hra_slice_t rooms = { NULL, 0 }, except = { NULL, 0 }, flags = { NULL, 0 };
  int rt = 0, et = 0, ft = 0;
  j = (hra_json_t){ opts.base, opts.base + opts.len, a->max_depth };
  first = 1;
  hra_json_object_begin(&j);
  while ((rc = hra_pipeline_obj_next(&j, &first, &key, &v, &t)) == 1) {
    if (hra_pipeline_key_is(a, key, "rooms"))
      rooms = v, rt = t;
    else if (hra_pipeline_key_is(a, key, "except"))
      except = v, et = t;
    else if (hra_pipeline_key_is(a, key, "flags"))
      flags = v, ft = t;
  }
  if (rc < 0) return rc;
  uint32_t bflags = 0;
  if (ft == HRA_JSON_OBJECT) {
    j = (hra_json_t){ flags.base, flags.base + flags.len, a->max_depth };
    first = 1;
    hra_json_object_begin(&j);
    int vol = 0, cf = 0;
    while ((rc = hra_pipeline_obj_next(&j, &first, &key, &v, &t)) == 1) {
      if (hra_pipeline_key_is(a, key, "volatile"))
        vol = json_truthy(v, t);
      else if (hra_pipeline_key_is(a, key, "compress"))
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
  if (!hra_json_canonical(&a->ckeys, pdata.base, pdata.len, a->max_depth)) return HRA_PIPELINE_TO_JS;
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

// Reads a map member; refuses keys JS would turn into a name we cannot compare (containers, bin) and
// "__proto__" (notepack would set the object's prototype).
int
hra_pipeline_mp_member (hra_adapter_t *a, hra_mp_reader_t *r, hra_mp_obj_t *k, hra_mp_obj_t *v, hra_slice_t *raw) {
  int err = hra_pipeline_next_member(r, a->max_depth, k, v, raw);
  if (err) return err;
  if (k->type == HRA_MP_ARRAY || k->type == HRA_MP_MAP || k->type == HRA_MP_BIN || k->type == HRA_MP_EXT) return HRA_ENOTSUP;
  if (hra_mp_str_is(k, "__proto__")) return HRA_ENOTSUP;
  return HRA_OK;
}

int
hra_pipeline_cluster_mp (hra_adapter_t *a, hra_slice_t data, hra_batch_t *batch) {
  hra_mp_reader_t r;
  hra_mp_obj_t o, k, v;
  hra_slice_t raw, packet = { NULL, 0 }, opts = { NULL, 0 };
  int err = 0, rid = 0;
  hra_mp_reader_init(&r, data.base, data.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = hra_pipeline_mp_member(a, &r, &k, &v, &raw)) != 0) return err;
    if (hra_mp_str_is(&k, "packet"))
      packet = v.type == HRA_MP_MAP ? raw : (hra_slice_t){ NULL, 0 };
    else if (hra_mp_str_is(&k, "opts"))
      opts = v.type == HRA_MP_MAP ? raw : (hra_slice_t){ NULL, 0 };
    else if (hra_mp_str_is(&k, "requestId"))
      rid = 1;
  }
  if (rid) return HRA_PIPELINE_TO_JS;
  if (packet.base == NULL || opts.base == NULL) return HRA_ETYPE;
  hra_envelope_t env;
  memset(&env, 0, sizeof(env));
  env.type = -1;
  int other = 0;
  hra_mp_reader_init(&r, packet.base, packet.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = hra_pipeline_mp_member(a, &r, &k, &v, &raw)) != 0) return err;
    double t;
    if (hra_mp_str_is(&k, "type"))
      env.type = hra_mp_number(&v, &t) && is_integer_in(t, 0, 9) ? (int64_t) t : -1;
    else if (hra_mp_str_is(&k, "data"))
      env.data = raw;
    else if (!hra_mp_str_is(&k, "nsp"))
      other = 1;
  }
  if ((err = hra_pipeline_deliverable(&env, a->max_depth)) != 0) return err;
  if (other) return HRA_PIPELINE_TO_JS;
  hra_slice_t rooms = { NULL, 0 }, except = { NULL, 0 };
  uint32_t bflags = 0;
  hra_mp_reader_init(&r, opts.base, opts.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; i < o.count; i++) {
    if ((err = hra_pipeline_mp_member(a, &r, &k, &v, &raw)) != 0) return err;
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
        if ((err = hra_pipeline_mp_member(a, &fr, &fk, &fv, &fraw)) != 0) return err;
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
  if (rooms.len && hra_mp_read(&rr, &ro) == 0 && ro.type == HRA_MP_STR) return HRA_PIPELINE_TO_JS;
  hra_mp_reader_init(&rr, except.base, except.len);
  if (except.len && hra_mp_read(&rr, &ro) == 0 && ro.type == HRA_MP_STR) return HRA_PIPELINE_TO_JS;
  err = hra_pipeline_prepare(a, rooms, except, (int) env.type, NULL, env.data);
  if (err == 1) {
    a->stats.ignored_no_target++;
    return HRA_OK;
  }
  if (err) return err;
  broadcast_record(a, bflags, batch);
  return HRA_OK;
}

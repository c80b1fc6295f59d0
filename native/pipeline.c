// The receive pipeline shared by the fronts (see pipeline.h).
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "envelope.h"
#include "jsnum.h"
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

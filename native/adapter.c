#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "encoder.h"
#include "envelope.h"
#include "jsnum.h"
#include "mp.h"
#include "rooms.h"

struct hra_adapter_s {
  char *nsp;
  size_t nsp_len;
  char *uid;
  size_t uid_len;
  char *prefix;  // K#N#
  size_t prefix_len;
  char *pattern;
  char *request;
  char *response;
  char *specific;
  uint32_t id;
  uint32_t max_depth;
  uint32_t max_message_bytes;
  hra_rooms_t *rooms;
  hra_u32vec_t targets;
  hra_room_key_t *keys;  // rooms then except of the message being processed
  size_t keys_cap;
  hra_buf_t numtext;  // canonical text of number rooms named by the message
  hra_buf_t out;  // the encoded packet string
  hra_slices_t attachments;
  hra_encoder_t enc;
  hra_adapter_stats_t stats;
};

static char *
concat (const char *a, const char *b, const char *c, const char *d) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c), ld = strlen(d);
  char *s = malloc(la + lb + lc + ld + 1);
  if (s == NULL) return NULL;
  memcpy(s, a, la);
  memcpy(s + la, b, lb);
  memcpy(s + la + lb, c, lc);
  memcpy(s + la + lb + lc, d, ld);
  s[la + lb + lc + ld] = 0;
  return s;
}

hra_adapter_t *
hra_adapter_new (const hra_adapter_opts_t *o) {
  hra_adapter_t *a = calloc(1, sizeof(*a));
  if (a == NULL) return NULL;
  a->nsp = concat(o->nsp, "", "", "");
  a->uid = concat(o->uid, "", "", "");
  a->prefix = concat(o->key, "#", o->nsp, "#");
  a->pattern = concat(o->key, "#", o->nsp, "#*");
  a->request = concat(o->key, "-request#", o->nsp, "#");
  a->response = concat(o->key, "-response#", o->nsp, "#");
  a->specific = a->response ? concat(a->response, o->uid, "#", "") : NULL;
  a->rooms = hra_rooms_new(o->seed);
  if (!a->nsp || !a->uid || !a->prefix || !a->pattern || !a->request || !a->response || !a->specific || !a->rooms) {
    hra_adapter_free(a);
    return NULL;
  }
  a->nsp_len = strlen(a->nsp);
  a->uid_len = strlen(a->uid);
  a->prefix_len = strlen(a->prefix);
  a->id = o->id;
  a->max_depth = o->max_depth ? o->max_depth : 100;
  a->max_message_bytes = o->max_message_bytes ? o->max_message_bytes : 64u << 20;
  return a;
}

void
hra_adapter_free (hra_adapter_t *a) {
  if (a == NULL) return;
  free(a->nsp);
  free(a->uid);
  free(a->prefix);
  free(a->pattern);
  free(a->request);
  free(a->response);
  free(a->specific);
  if (a->rooms) hra_rooms_free(a->rooms);
  hra_u32vec_free(&a->targets);
  free(a->keys);
  hra_buf_free(&a->numtext);
  hra_buf_free(&a->out);
  hra_slices_free(&a->attachments);
  hra_encoder_free(&a->enc);
  free(a);
}

const char *
hra_adapter_pattern (const hra_adapter_t *a) {
  return a->pattern;
}

const char *
hra_adapter_request_channel (const hra_adapter_t *a) {
  return a->request;
}

const char *
hra_adapter_response_channel (const hra_adapter_t *a) {
  return a->response;
}

const char *
hra_adapter_specific_channel (const hra_adapter_t *a) {
  return a->specific;
}

const hra_adapter_stats_t *
hra_adapter_stats (const hra_adapter_t *a) {
  return &a->stats;
}

size_t
hra_adapter_memory (const hra_adapter_t *a) {
  return sizeof(*a) + hra_rooms_memory(a->rooms) + a->out.cap + a->numtext.cap + a->keys_cap * sizeof(hra_room_key_t) + a->targets.cap * 4;
}

int
hra_adapter_join (hra_adapter_t *a, uint32_t slot, int kind, const uint8_t *name, size_t len) {
  hra_room_key_t k = { name, len, kind ? HRA_ROOM_NUM : HRA_ROOM_STR };
  return hra_rooms_join(a->rooms, slot, k);
}

int
hra_adapter_leave (hra_adapter_t *a, uint32_t slot, int kind, const uint8_t *name, size_t len) {
  hra_room_key_t k = { name, len, kind ? HRA_ROOM_NUM : HRA_ROOM_STR };
  return hra_rooms_leave(a->rooms, slot, k);
}

int
hra_adapter_leave_all (hra_adapter_t *a, uint32_t slot) {
  return hra_rooms_leave_all(a->rooms, slot);
}

static int
slice_is (hra_slice_t s, const char *z, size_t n) {
  return s.len == n && memcmp(s.base, z, n) == 0;
}

static int
put_word (hra_batch_t *b, uint32_t w) {
  return hra_buf_append(&b->words, &w, sizeof(w));
}

static void
invalid (hra_adapter_t *a, int err) {
  a->stats.invalid++;
  a->stats.last_error = err;
}

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
    hra_room_key_t k;
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
static int
packet_is_deliverable (const hra_envelope_t *env, unsigned max_depth) {
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

static void
on_broadcast (hra_adapter_t *a, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch) {
  a->stats.received++;
  if (channel.len < a->prefix_len || memcmp(channel.base, a->prefix, a->prefix_len) != 0) {
    // A glob character in the key or namespace widened the pattern: not ours.
    a->stats.ignored_nsp++;
    return;
  }
  // room = channel.slice(prefix.length, -1), as upstream: everything up to the final character.
  size_t room_len = channel.len > a->prefix_len + 1 ? channel.len - 1 - a->prefix_len : 0;
  if (room_len > 0 && !hra_rooms_has_str_or_num(a->rooms, channel.base + a->prefix_len, room_len)) {
    a->stats.ignored_room++;
    return;
  }
  if (payload.len > a->max_message_bytes) {
    invalid(a, HRA_ELIMIT);
    return;
  }
  hra_envelope_t env;
  int err = hra_envelope_decode(payload.base, payload.len, a->max_depth, &env);
  if (err) {
    invalid(a, err);
    return;
  }
  if (env.uid_is_string && env.uid.len == a->uid_len && memcmp(env.uid.base, a->uid, a->uid_len) == 0) {
    a->stats.ignored_own++;
    return;
  }
  if (env.has_nsp ? !(env.nsp_is_string && slice_is(env.nsp, a->nsp, a->nsp_len)) : !(a->nsp_len == 1 && a->nsp[0] == '/')) {
    a->stats.ignored_nsp++;
    return;
  }
  if ((err = packet_is_deliverable(&env, a->max_depth)) != 0) {
    invalid(a, err);
    return;
  }
  size_t nrooms = 0, nall = 0;
  a->numtext.len = 0;
  if ((err = collect_keys(a, env.rooms, &nrooms)) != 0) {
    invalid(a, err);
    return;
  }
  nall = nrooms;
  if ((err = collect_keys(a, env.except, &nall)) != 0) {
    invalid(a, err);
    return;
  }
  for (size_t i = 0; i < nall; i++) {
    if (a->keys[i].kind & 0x100) {
      a->keys[i].kind &= 0xff;
      a->keys[i].base = a->numtext.data + (uintptr_t) a->keys[i].base;
    }
  }
  if (hra_rooms_targets(a->rooms, a->keys, nrooms, a->keys + nrooms, nall - nrooms, &a->targets) != 0) {
    invalid(a, HRA_ENOMEM);
    return;
  }
  if (a->targets.len == 0) {
    a->stats.ignored_no_target++;
    return;
  }
  hra_slice_t nsp = { (const uint8_t *) a->nsp, a->nsp_len };
  a->out.len = 0;
  a->attachments.len = 0;
  err = hra_encode_packet(&a->enc, &a->out, &a->attachments, (int) env.type, nsp, env.has_id ? &env.id : NULL, env.data, a->max_depth);
  if (err) {
    invalid(a, err);
    return;
  }
  size_t need = 1 + a->out.len;
  for (size_t i = 0; i < a->attachments.len; i++)
    need += a->attachments.items[i].len;
  if (batch->bytes.len + need > UINT32_MAX || a->attachments.len > UINT32_MAX / 4 ||
    hra_buf_reserve(&batch->bytes, need) != 0 ||
    hra_buf_reserve(&batch->words, 4 * (7 + 2 * a->attachments.len + a->targets.len)) != 0) {
    invalid(a, HRA_ENOMEM);
    return;
  }
  uint32_t flags = (env.is_volatile ? HRA_BFLAG_VOLATILE : 0) | (env.compress_false ? HRA_BFLAG_COMPRESS_FALSE : 0);
  uint32_t off = (uint32_t) batch->bytes.len;
  hra_buf_putc(&batch->bytes, '4');
  hra_buf_append(&batch->bytes, a->out.data, a->out.len);
  put_word(batch, HRA_REC_BROADCAST);
  put_word(batch, a->id);
  put_word(batch, flags);
  put_word(batch, off);
  put_word(batch, (uint32_t) (1 + a->out.len));
  put_word(batch, (uint32_t) a->attachments.len);
  for (size_t i = 0; i < a->attachments.len; i++) {
    put_word(batch, (uint32_t) batch->bytes.len);
    put_word(batch, (uint32_t) a->attachments.items[i].len);
    hra_buf_append(&batch->bytes, a->attachments.items[i].base, a->attachments.items[i].len);
  }
  put_word(batch, (uint32_t) a->targets.len);
  hra_buf_append(&batch->words, a->targets.data, a->targets.len * 4);
  batch->records++;
  a->stats.delivered++;
  a->stats.deliveries += a->targets.len;
}

static void
raw_record (hra_adapter_t *a, int kind, hra_slice_t payload, hra_batch_t *batch) {
  if (payload.len > a->max_message_bytes || batch->bytes.len + payload.len > UINT32_MAX) {
    invalid(a, HRA_ELIMIT);
    return;
  }
  uint32_t off = (uint32_t) batch->bytes.len;
  if (hra_buf_append(&batch->bytes, payload.base, payload.len) != 0 || hra_buf_reserve(&batch->words, 16) != 0) {
    batch->bytes.len = off;
    invalid(a, HRA_ENOMEM);
    return;
  }
  put_word(batch, (uint32_t) kind);
  put_word(batch, a->id);
  put_word(batch, off);
  put_word(batch, (uint32_t) payload.len);
  batch->records++;
  if (kind == HRA_REC_REQUEST)
    a->stats.requests++;
  else
    a->stats.responses++;
}

int
hra_adapter_on_message (hra_adapter_t *a, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch) {
  if (kind == 'p') {
    if (!slice_is(pattern, a->pattern, a->prefix_len + 1)) return 0;
    on_broadcast(a, channel, payload, batch);
    return 1;
  }
  if (kind != 'm') return 0;
  if (slice_is(channel, a->request, strlen(a->request))) {
    raw_record(a, HRA_REC_REQUEST, payload, batch);
    return 1;
  }
  if (slice_is(channel, a->response, strlen(a->response)) || slice_is(channel, a->specific, strlen(a->specific))) {
    raw_record(a, HRA_REC_RESPONSE, payload, batch);
    return 1;
  }
  return 0;
}

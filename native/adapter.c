#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "adapter_internal.h"
#include "encoder.h"
#include "envelope.h"
#include "jsnum.h"
#include "json.h"
#include "mp.h"
#include "pipeline.h"
#include "requests.h"
#include "rooms.h"

// Shared with sharded.c (adapter_internal.h); the short names keep this file as it was.
#define invalid(...) hra_adapter__invalid(__VA_ARGS__)
#define packet_is_deliverable(...) hra_pipeline_deliverable(__VA_ARGS__)
#define prepare_delivery(...) hra_pipeline_prepare(__VA_ARGS__)
#define has_proto_key(...) hra_pipeline_has_proto_key(__VA_ARGS__)
#define next_member(...) hra_pipeline_next_member(__VA_ARGS__)

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
  if (o->sharded && a->specific != NULL && a->prefix != NULL) {
    // ClusterAdapter channels: P#N# for everything, P#N#<uid># for the answers to this node.
    free(a->specific);
    a->specific = concat(a->prefix, o->uid, "#", "");
  }
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
  a->specific_responses = o->specific_response_channel;
  a->raw_broadcasts = o->raw_broadcasts;
  a->emitter = o->emitter;
  a->dynamic = o->dynamic;
  a->sharded = o->sharded;
  a->classic_pubsub = o->sharded && o->classic_pubsub;
  a->js_broadcasts = o->js_broadcasts;
  a->rng = o->seed ^ 0x6a09e667f3bcc909ULL;
  if (a->rng == 0) a->rng = 1;
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
  free(a->keys);
  hra_buf_free(&a->numtext);
  hra_buf_free(&a->out);
  hra_slices_free(&a->attachments);
  hra_encoder_free(&a->enc);
  hra_requests_free(&a->reqs);
  hra_buf_free(&a->msg);
  hra_buf_free(&a->chan);
  hra_buf_free(&a->scratch);
  hra_buf_free(&a->ckeys);
  free(a->skeys);
  free(a);
}

const char *
hra_adapter_pattern (const hra_adapter_t *a) {
  return a->pattern;
}

const char *
hra_adapter_prefix (const hra_adapter_t *a) {
  return a->prefix;
}

int
hra_adapter_is_dynamic (const hra_adapter_t *a) {
  return a->dynamic;
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

const char *
hra_adapter_main_channel (const hra_adapter_t *a) {
  return a->prefix;
}

int
hra_adapter_is_sharded (const hra_adapter_t *a) {
  return a->sharded;
}

const hra_adapter_stats_t *
hra_adapter_stats (const hra_adapter_t *a) {
  return &a->stats;
}

size_t
hra_adapter_memory (const hra_adapter_t *a) {
  return sizeof(*a) + hra_rooms_memory(a->rooms) + a->out.cap + a->numtext.cap + a->keys_cap * sizeof(hra_room_key_t);
}

int
hra_adapter_hold (hra_adapter_t *a, int kind, const uint8_t *name, size_t len) {
  hra_room_key_t k = { name, len, kind ? HRA_ROOM_NUM : HRA_ROOM_STR };
  hra_adapter__sync_rooms(a);  // in order with what was logged before
  return hra_rooms_add(a->rooms, k);
}

int
hra_adapter_release (hra_adapter_t *a, int kind, const uint8_t *name, size_t len) {
  hra_room_key_t k = { name, len, kind ? HRA_ROOM_NUM : HRA_ROOM_STR };
  hra_adapter__sync_rooms(a);
  return hra_rooms_remove(a->rooms, k);
}

void
hra_adapter_set_room_log (hra_adapter_t *a, uint8_t *log, size_t cap) {
  hra_adapter__sync_rooms(a);
  a->room_log = cap >= 4 ? log : NULL;
  a->room_log_cap = cap;
}

void
hra_adapter_sync_rooms (hra_adapter_t *a) {
  hra_adapter__sync_rooms(a);
}

static int
slice_is (hra_slice_t s, const char *z, size_t n) {
  return s.len == n && memcmp(s.base, z, n) == 0;
}

static void
on_broadcast (hra_adapter_t *a, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch) {
  a->stats.received++;
  if (channel.len < a->prefix_len || memcmp(channel.base, a->prefix, a->prefix_len) != 0) {
    // A glob character in the key or namespace widened the pattern: not ours.
    a->stats.ignored_nsp++;
    return;
  }
  // Our own broadcasts come back from Redis: [uid, ...] with our uid as a fixstr first is dropped before
  // anything is decoded (upstream decodes the whole message, then compares the uid).
  if (a->uid_len < 32 && payload.len > 2 + a->uid_len && payload.base[0] == 0x93 && payload.base[1] == (0xa0 | a->uid_len) &&
    memcmp(payload.base + 2, a->uid, a->uid_len) == 0) {
    a->stats.ignored_own++;
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
  err = prepare_delivery(a, env.rooms, env.except, (int) env.type, env.has_id ? &env.id : NULL, env.data);
  if (err == 1) {
    a->stats.ignored_no_target++;
    return;
  }
  if (err) {
    invalid(a, err);
    return;
  }
  uint32_t flags = (env.is_volatile ? HRA_BFLAG_VOLATILE : 0) | (env.compress_false ? HRA_BFLAG_COMPRESS_FALSE : 0);
  if (a->raw_broadcasts) {
    hra_targets_t t = a->targets;
    size_t id_len = env.has_id ? env.id.len : 0;
    if ((err = hra_batch_begin(batch, HRA_REC_RAW_BROADCAST, a->id, 6 + hra_batch_targets_words(t), env.data.len + id_len + hra_batch_targets_bytes(t))) != 0) {
      invalid(a, err);
      return;
    }
    hra_batch_word(batch, flags);
    hra_batch_word(batch, (uint32_t) env.type);
    hra_batch_slice(batch, env.data.base, env.data.len);
    hra_batch_slice(batch, env.has_id ? env.id.base : NULL, id_len);
    hra_batch_targets(batch, t);
    hra_batch_end(batch);
  } else {
    hra_slice_t packet = { a->out.data, a->out.len };
    if ((err = hra_batch_broadcast(batch, a->id, flags, packet, a->attachments.items, a->attachments.len, a->targets)) != 0) {
      invalid(a, err);
      return;
    }
  }
}

// Outgoing msgpack is written with msgpack-c's packer straight into our buffers; values that are
// already msgpack (a packet or ack argument encoded by notepack.io in JS) are appended as they are.
static int
on_pack_write (void *data, const char *buf, size_t len) {
  return hra_buf_append(data, buf, len) == 0 ? 0 : -1;
}

static int
pack_str (msgpack_packer *pk, const void *p, size_t len) {
  if ((uint64_t) len > UINT32_MAX) return HRA_ELIMIT;
  return msgpack_pack_str(pk, len) == 0 && msgpack_pack_str_body(pk, p, len) == 0 ? HRA_OK : HRA_ENOMEM;
}

static int
pack_key (msgpack_packer *pk, const char *key) {
  return pack_str(pk, key, strlen(key));
}

// JSON.stringify of a string given as UTF-8 (invalid sequences become U+FFFD first, as a JS string
// decoded from those bytes would hold them).
static int
put_str_json (hra_buf_t *b, const uint8_t *p, size_t len) {
  hra_buf_t clean = { NULL, 0, 0 };
  if (!hra_encoder_utf8_valid(p, len)) {
    if (hra_encoder_utf8_sanitize(&clean, p, len) != 0) {
      hra_buf_free(&clean);
      return HRA_ENOMEM;
    }
    p = clean.data;
    len = clean.len;
  }
  static const char hex[] = "0123456789abcdef";
  int err = hra_buf_putc(b, '"');
  for (size_t i = 0; i < len && err == 0; i++) {
    uint8_t c = p[i];
    if (c == '"' || c == '\\') {
      err = hra_buf_putc(b, '\\') || hra_buf_putc(b, c);
    } else if (c < 0x20) {
      const char *short_form = c == '\b' ? "\\b" : c == '\f' ? "\\f"
        : c == '\n'                                          ? "\\n"
        : c == '\r'                                          ? "\\r"
        : c == '\t'                                          ? "\\t"
                                                             : NULL;
      if (short_form)
        err = hra_buf_puts(b, short_form);
      else {
        char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
        err = hra_buf_puts(b, u);
      }
    } else {
      err = hra_buf_putc(b, c);
    }
  }
  if (err == 0) err = hra_buf_putc(b, '"');
  hra_buf_free(&clean);
  return err ? HRA_ENOMEM : HRA_OK;
}

static void
gen_request_id (hra_adapter_t *a, uint8_t id[6]) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  do {
    for (int i = 0; i < 6; i++) {
      a->rng ^= a->rng >> 12;
      a->rng ^= a->rng << 25;
      a->rng ^= a->rng >> 27;
      id[i] = (uint8_t) alphabet[((a->rng * 2685821657736338717ULL) >> 58) & 63];
    }
  } while (hra_requests_find(&a->reqs, id, 6) >= 0);
}

void
hra_adapter_set_host (hra_adapter_t *a, const hra_adapter_host_t *host) {
  a->host = *host;
  a->has_host = 1;
}

static uint64_t
now_ms (hra_adapter_t *a) {
  return a->host.now(a->host.data);
}

// Removes request i and reports it to JS. The entry is gone before JS runs, since JS may start new
// requests (moving entries) or close the adapter from inside done.
static void
finish (hra_adapter_t *a, size_t i, int status) {
  hra_request_t *r = &a->reqs.items[i];
  hra_buf_t acc = r->acc;
  r->acc.data = NULL;
  r->acc.len = r->acc.cap = 0;
  uint32_t token = r->token;
  int64_t received = r->received, expected = r->expected;
  int ok;
  if (r->kind == HRA_REQ_EMIT_ACK) {
    // array32 header, then the acks exactly as the servers encoded them
    uint32_t n = r->state == HRA_REQ_PENDING ? (uint32_t) r->acks_received : 0;
    uint8_t head[5] = { 0xdd, (uint8_t) (n >> 24), (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };
    hra_buf_t out = { NULL, 0, 0 };
    ok = hra_buf_append(&out, head, 5) == 0 && (n == 0 || hra_buf_append(&out, acc.data, acc.len) == 0);
    hra_buf_free(&acc);
    acc = out;
    received = r->acks_received;
    expected = r->acks_expected;
  } else {
    if (r->state != HRA_REQ_PENDING || acc.len == 0) {
      acc.len = 0;
      if (hra_buf_putc(&acc, '[') != 0) acc.len = 0;
    }
    ok = hra_buf_putc(&acc, ']') == 0;
    if (ok && r->kind == HRA_REQ_SSE) {
      // [[answers...], [indexes of undefined answers...]]
      hra_buf_t out = { NULL, 0, 0 };
      ok = hra_buf_putc(&out, '[') == 0 && hra_buf_append(&out, acc.data, acc.len) == 0 && hra_buf_puts(&out, ",[") == 0 &&
        hra_buf_append(&out, r->missing.data, r->missing.len) == 0 && hra_buf_puts(&out, "]]") == 0;
      hra_buf_free(&acc);
      acc = out;
    }
  }
  hra_requests_remove(&a->reqs, i);
  a->stats.pending = a->reqs.len;
  if (a->has_host) a->host.done(a->host.data, a, token, status, ok ? acc.data : (const uint8_t *) "[]", ok ? acc.len : 2, received, expected);
  hra_buf_free(&acc);
}

// The request with this id waits for PUBSUB NUMSUB (hra_adapter_on_count publishes it then). If the
// command cannot be sent the request is forgotten and the error returned; done is never called.
static int
ask_count (hra_adapter_t *a, const uint8_t id[6], uint32_t token, uint64_t deadline) {
  a->stats.pending = a->reqs.len;
  a->host.schedule(a->host.data, deadline);
  int err = a->host.numsub(a->host.data, a, a->request, token);
  if (err) {
    int k = hra_requests_find(&a->reqs, id, 6);
    if (k >= 0) hra_requests_remove(&a->reqs, (size_t) k);
    a->stats.pending = a->reqs.len;
  }
  return err;
}

int
hra_adapter_request (hra_adapter_t *a, int kind, uint32_t token, const uint8_t *fragment, size_t flen, uint32_t timeout_ms) {
  if (!a->has_host) return HRA_ENOTCONN;
  int rkind = kind == HRA_RT_ALL_ROOMS ? HRA_REQ_ALL_ROOMS : kind == HRA_RT_REMOTE_FETCH ? HRA_REQ_FETCH
    : kind == HRA_RT_SERVER_SIDE_EMIT                                                    ? HRA_REQ_SSE
                                                                                         : 0;
  if (rkind == 0) return HRA_EINVAL;
  uint8_t id[6];
  gen_request_id(a, id);
  uint64_t deadline = now_ms(a) + timeout_ms;
  int i = hra_requests_add(&a->reqs, id, 6, rkind, token, deadline);
  if (i < 0) return i;
  hra_request_t *r = &a->reqs.items[i];
  r->state = HRA_REQ_WAIT_COUNT;
  // The request text waits in acc until NUMSUB has answered. Field order is upstream's.
  hra_buf_t *b = &r->acc;
  char type[4];
  snprintf(type, sizeof(type), "%d", kind);
  int err = hra_buf_puts(b, "{\"uid\":\"") || hra_buf_append(b, a->uid, a->uid_len) ||
    hra_buf_puts(b, "\",\"requestId\":\"") || hra_buf_append(b, id, 6) || hra_buf_puts(b, "\",\"type\":") ||
    hra_buf_puts(b, type);
  if (!err && kind == HRA_RT_REMOTE_FETCH) err = hra_buf_puts(b, ",\"opts\":") || hra_buf_append(b, fragment, flen);
  if (!err && kind == HRA_RT_SERVER_SIDE_EMIT) err = hra_buf_puts(b, ",\"data\":") || hra_buf_append(b, fragment, flen);
  if (!err) err = hra_buf_putc(b, '}');
  if (err) {
    hra_requests_remove(&a->reqs, (size_t) i);
    return HRA_ENOMEM;
  }
  return ask_count(a, id, token, deadline);
}

void
hra_adapter_on_count (hra_adapter_t *a, uint32_t token, int64_t count) {
  size_t i = 0;
  for (; i < a->reqs.len; i++) {
    if (a->reqs.items[i].token == token && a->reqs.items[i].state == HRA_REQ_WAIT_COUNT && a->reqs.items[i].kind != HRA_REQ_ACK) break;
  }
  if (i == a->reqs.len) return;  // timed out or forgotten meanwhile
  if (count < 0) {
    finish(a, i, count == HRA_COUNT_REFUSED ? HRA_DONE_REFUSED : count == HRA_COUNT_CLOSED ? HRA_DONE_CLOSED
                                                                                           : HRA_DONE_NOTCONN);
    return;
  }
  hra_request_t *r = &a->reqs.items[i];
  // Every node but this one answers (upstream counts itself as the first answer); an emitter is not
  // a node, so every subscriber of the request channel answers it.
  r->expected = a->emitter ? count : count - 1;
  r->received = 0;
  if (r->expected <= 0) {
    finish(a, i, HRA_DONE_OK);
    return;
  }
  int err = a->host.publish(a->host.data, a->request, strlen(a->request), r->acc.data, r->acc.len);
  if (err) {
    finish(a, i, HRA_DONE_NOTCONN);
    return;
  }
  r->state = HRA_REQ_PENDING;
  r->acc.len = 0;
  if (r->kind != HRA_REQ_EMIT_ACK && hra_buf_putc(&r->acc, '[') != 0) r->acc.len = 0;
}

int
hra_adapter_broadcast_ack (hra_adapter_t *a, uint32_t token, const uint8_t *packet, size_t plen, const uint8_t *opts, size_t olen, uint32_t timeout_ms) {
  if (!a->has_host) return HRA_ENOTCONN;
  uint8_t id[6];
  gen_request_id(a, id);
  // Without a timeout upstream forgets the request at once (about 1 ms): late acks are dropped.
  uint64_t deadline = now_ms(a) + (timeout_ms ? timeout_ms : 1);
  hra_buf_t *b = &a->msg;
  b->len = 0;
  // notepack.encode({uid, requestId, type: 7, packet, opts}): a map is the concatenation of its parts.
  msgpack_packer pk;
  msgpack_packer_init(&pk, b, on_pack_write);
  int err = msgpack_pack_map(&pk, 5) || pack_key(&pk, "uid") || pack_str(&pk, a->uid, a->uid_len) ||
    pack_key(&pk, "requestId") || pack_str(&pk, id, 6) || pack_key(&pk, "type") || msgpack_pack_int(&pk, HRA_RT_BROADCAST) ||
    pack_key(&pk, "packet") || hra_buf_append(b, packet, plen) || pack_key(&pk, "opts") || hra_buf_append(b, opts, olen);
  if (err) return HRA_ENOMEM;
  int i = hra_requests_add(&a->reqs, id, 6, HRA_REQ_ACK, token, deadline);
  if (i < 0) return i;
  a->reqs.items[i].state = HRA_REQ_PENDING;
  a->stats.pending = a->reqs.len;
  err = a->host.publish(a->host.data, a->request, strlen(a->request), b->data, b->len);
  if (err) {
    hra_requests_remove(&a->reqs, (size_t) i);
    a->stats.pending = a->reqs.len;
    return err;
  }
  a->host.schedule(a->host.data, deadline);
  return HRA_OK;
}

int
hra_adapter_emit_ack (hra_adapter_t *a, uint32_t token, const uint8_t *packet, size_t plen, const uint8_t *opts, size_t olen, uint32_t timeout_ms) {
  if (!a->has_host) return HRA_ENOTCONN;
  uint8_t id[6];
  gen_request_id(a, id);
  uint64_t deadline = now_ms(a) + timeout_ms;
  int i = hra_requests_add(&a->reqs, id, 6, HRA_REQ_EMIT_ACK, token, deadline);
  if (i < 0) return i;
  hra_request_t *r = &a->reqs.items[i];
  r->state = HRA_REQ_WAIT_COUNT;
  // The request waits in acc until NUMSUB has answered; see hra_adapter_broadcast_ack for the layout.
  msgpack_packer pk;
  msgpack_packer_init(&pk, &r->acc, on_pack_write);
  int err = msgpack_pack_map(&pk, 5) || pack_key(&pk, "uid") || pack_str(&pk, a->uid, a->uid_len) ||
    pack_key(&pk, "requestId") || pack_str(&pk, id, 6) || pack_key(&pk, "type") || msgpack_pack_int(&pk, HRA_RT_BROADCAST) ||
    pack_key(&pk, "packet") || hra_buf_append(&r->acc, packet, plen) || pack_key(&pk, "opts") || hra_buf_append(&r->acc, opts, olen);
  if (err) {
    hra_requests_remove(&a->reqs, (size_t) i);
    return HRA_ENOMEM;
  }
  return ask_count(a, id, token, deadline);
}

uint64_t
hra_adapter_expire (hra_adapter_t *a, uint64_t now) {
  for (;;) {
    size_t i = 0;
    while (i < a->reqs.len && a->reqs.items[i].deadline > now)
      i++;
    if (i == a->reqs.len) break;
    // Ack broadcasts end here too (socket.io times the operation out itself); JS forgets its entry.
    finish(a, i, HRA_DONE_TIMEOUT);
  }
  return hra_requests_next_deadline(&a->reqs);
}

void
hra_adapter_fail_requests (hra_adapter_t *a, int status) {
  // done() runs JS, which may start requests (entries move): snapshot the ids, then find each again.
  size_t n = a->reqs.len;
  if (n == 0) return;
  hra_request_t *ids = malloc(n * sizeof(*ids));
  if (ids == NULL) {
    // No memory for the snapshot: the last entry each time (new ones may be among them).
    for (; n > 0 && a->reqs.len > 0; n--)
      finish(a, a->reqs.len - 1, status);
    return;
  }
  for (size_t k = 0; k < n; k++) {
    memcpy(ids[k].id, a->reqs.items[k].id, a->reqs.items[k].id_len);
    ids[k].id_len = a->reqs.items[k].id_len;
  }
  for (size_t k = 0; k < n; k++) {
    int i = hra_requests_find(&a->reqs, ids[k].id, ids[k].id_len);
    if (i >= 0) finish(a, (size_t) i, status);
  }
  free(ids);
}

void
hra_adapter_forget_requests (hra_adapter_t *a) {
  hra_requests_free(&a->reqs);
  a->stats.pending = 0;
}

static int
publish_response (hra_adapter_t *a, int common, const uint8_t *uid, size_t uid_len) {
  const char *channel = a->response;
  size_t clen = strlen(a->response);
  if (!common && a->specific_responses) {
    a->chan.len = 0;
    if (hra_buf_append(&a->chan, a->response, clen) != 0 || hra_buf_append(&a->chan, uid, uid_len) != 0 || hra_buf_putc(&a->chan, '#') != 0) return HRA_ENOMEM;
    channel = (const char *) a->chan.data;
    clen = a->chan.len;
  }
  return a->host.publish(a->host.data, channel, clen, a->msg.data, a->msg.len);
}

int
hra_adapter_respond (hra_adapter_t *a, int kind, const uint8_t *rid, size_t rid_len, const uint8_t *uid, size_t uid_len, const uint8_t *payload, size_t plen, int has_payload) {
  if (!a->has_host) return HRA_ENOTCONN;
  hra_buf_t *b = &a->msg;
  b->len = 0;
  int err = 0;
  switch (kind) {
    case HRA_RT_SOCKETS:
    case HRA_RT_REMOTE_FETCH:
    case HRA_RT_ALL_ROOMS:
      err = hra_buf_puts(b, "{\"requestId\":") || put_str_json(b, rid, rid_len) ||
        hra_buf_puts(b, kind == HRA_RT_ALL_ROOMS ? ",\"rooms\":" : ",\"sockets\":") ||
        (has_payload ? hra_buf_append(b, payload, plen) : hra_buf_puts(b, "[]")) || hra_buf_putc(b, '}');
      break;
    case HRA_RT_REMOTE_JOIN:
    case HRA_RT_REMOTE_LEAVE:
    case HRA_RT_REMOTE_DISCONNECT:
      err = hra_buf_puts(b, "{\"requestId\":") || put_str_json(b, rid, rid_len) || hra_buf_putc(b, '}');
      break;
    case HRA_RT_SERVER_SIDE_EMIT:
      // serverSideEmit acks always go to the common channel; an undefined answer leaves data out.
      err = hra_buf_puts(b, "{\"type\":6,\"requestId\":") || put_str_json(b, rid, rid_len) ||
        (has_payload && (hra_buf_puts(b, ",\"data\":") || hra_buf_append(b, payload, plen))) || hra_buf_putc(b, '}');
      if (err) return HRA_ENOMEM;
      return publish_response(a, 1, uid, uid_len);
    case HRA_RT_BROADCAST_CLIENT_COUNT:
      err = hra_buf_puts(b, "{\"type\":8,\"requestId\":") || put_str_json(b, rid, rid_len) || hra_buf_puts(b, ",\"clientCount\":") ||
        (has_payload ? hra_buf_append(b, payload, plen) : hra_buf_putc(b, '0')) || hra_buf_putc(b, '}');
      break;
    case HRA_RT_BROADCAST_ACK: {
      // notepack.encode({type: 9, requestId, packet}); an undefined ack argument encodes as nil.
      msgpack_packer pk;
      msgpack_packer_init(&pk, b, on_pack_write);
      err = msgpack_pack_map(&pk, 3) || pack_key(&pk, "type") || msgpack_pack_int(&pk, HRA_RT_BROADCAST_ACK) ||
        pack_key(&pk, "requestId") || pack_str(&pk, rid, rid_len) || pack_key(&pk, "packet") ||
        (has_payload ? hra_buf_append(b, payload, plen) : msgpack_pack_nil(&pk));
      break;
    }
    default:
      return HRA_EINVAL;
  }
  if (err) return HRA_ENOMEM;
  return publish_response(a, 0, uid, uid_len);
}

static void
raw_record (hra_adapter_t *a, int kind, hra_slice_t payload, hra_batch_t *batch) {
  int err = hra_batch_message(batch, (uint32_t) kind, a->id, payload, NULL, 0);
  if (err) invalid(a, err);
}

// Strips the brackets of a JSON array text and appends its elements to acc ("[" + elements...).
static int
append_elements (hra_buf_t *acc, hra_slice_t arr) {
  const uint8_t *p = arr.base + 1, *e = arr.base + arr.len - 1;
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
    e--;
  if (p == e) return HRA_OK;
  if (acc->len > 1 && hra_buf_putc(acc, ',') != 0) return HRA_ENOMEM;
  return hra_buf_append(acc, p, (size_t) (e - p));
}

static int
is_integer_in (double d, double lo, double hi) {
  return d >= lo && d <= hi && d == (double) (int64_t) d;
}

static void
on_response (hra_adapter_t *a, hra_slice_t payload, hra_batch_t *batch) {
  hra_slice_t rid = { NULL, 0 }, rooms = { NULL, 0 }, sockets = { NULL, 0 }, data = { NULL, 0 }, packet = { NULL, 0 };
  double type = -1, count = -1;
  int has_rooms = 0, has_sockets = 0, has_data = 0, has_count = 0, has_packet = 0;
  if (payload.len == 0 || payload.len > a->max_message_bytes) {
    invalid(a, payload.len ? HRA_ELIMIT : HRA_EINVAL);
    return;
  }
  if (payload.base[0] == '{') {
    hra_json_t j = { payload.base, payload.base + payload.len, a->max_depth };
    hra_slice_t key, value;
    int t, rc = hra_json_object_begin(&j);
    while (rc == 0 || rc == 1) {
      rc = hra_json_object_next(&j, &key, &value, &t);
      if (rc != 1) break;
      if (hra_json_key_is(key, "requestId")) {
        rid.base = t == HRA_JSON_STRING ? value.base + 1 : NULL;
        rid.len = t == HRA_JSON_STRING ? value.len - 2 : 0;
      } else if (hra_json_key_is(key, "rooms")) {
        has_rooms = t == HRA_JSON_ARRAY;
        rooms = value;
      } else if (hra_json_key_is(key, "sockets")) {
        has_sockets = t == HRA_JSON_ARRAY;
        sockets = value;
      } else if (hra_json_key_is(key, "data")) {
        has_data = 1;
        data = value;
      } else if (hra_json_key_is(key, "type")) {
        if (t != HRA_JSON_NUMBER || hra_json_number(value, &type) != 0) type = -1;
      } else if (hra_json_key_is(key, "clientCount")) {
        has_count = t == HRA_JSON_NUMBER && hra_json_number(value, &count) == 0;
      }
    }
    if (rc < 0 || !hra_json_at_end(&j)) {
      invalid(a, rc < 0 ? rc : HRA_EINVAL);
      return;
    }
  } else {
    int err = hra_mp_validate(payload.base, payload.len, a->max_depth);
    hra_mp_reader_t r;
    hra_mp_obj_t o, k;
    hra_mp_reader_init(&r, payload.base, payload.len);
    if (err == 0 && (hra_mp_read(&r, &o) != 0 || o.type != HRA_MP_MAP)) err = HRA_ETYPE;
    for (uint32_t i = 0; err == 0 && i < o.count; i++) {
      hra_mp_obj_t v;
      hra_slice_t raw;
      if ((err = next_member(&r, a->max_depth, &k, &v, &raw)) != 0) break;
      if (hra_mp_str_is(&k, "requestId")) {
        rid = v.type == HRA_MP_STR ? v.s : (hra_slice_t){ NULL, 0 };
      } else if (hra_mp_str_is(&k, "type")) {
        if (!hra_mp_number(&v, &type)) type = -1;
      } else if (hra_mp_str_is(&k, "packet")) {
        packet = raw;
        has_packet = 1;
      }
    }
    if (err) {
      invalid(a, err);
      return;
    }
  }
  int i = rid.base ? hra_requests_find(&a->reqs, rid.base, rid.len) : -1;
  if (i < 0) {
    // The common response channel carries every node's answers: most are not for us.
    a->stats.responses_ignored++;
    return;
  }
  hra_request_t *r = &a->reqs.items[i];
  a->stats.responses++;
  if (r->kind == HRA_REQ_ACK) {
    if (type == HRA_RT_BROADCAST_CLIENT_COUNT && has_count && is_integer_in(count, 0, 1e9)) {
      if (hra_batch_begin(batch, HRA_REC_ACK_COUNT, a->id, 2, 0) != 0) return;
      hra_batch_word(batch, r->token);
      hra_batch_word(batch, (uint32_t) count);
      hra_batch_end(batch);
    } else if (type == HRA_RT_BROADCAST_ACK && has_packet) {
      if (has_proto_key(packet, a->max_depth)) {
        invalid(a, HRA_ENOTSUP);
        return;
      }
      if (hra_batch_begin(batch, HRA_REC_ACK_VALUE, a->id, 3, packet.len) != 0) return;
      hra_batch_word(batch, r->token);
      hra_batch_slice(batch, packet.base, packet.len);
      hra_batch_end(batch);
    } else {
      invalid(a, HRA_ETYPE);
    }
    return;
  }
  if (r->state != HRA_REQ_PENDING) return;
  if (r->kind == HRA_REQ_EMIT_ACK) {
    if (type == HRA_RT_BROADCAST_CLIENT_COUNT && has_count && is_integer_in(count, 0, 1e9)) {
      r->received++;
      r->acks_expected += (int64_t) count;
    } else if (type == HRA_RT_BROADCAST_ACK && has_packet && !has_proto_key(packet, a->max_depth)) {
      if (hra_buf_append(&r->acc, packet.base, packet.len) != 0) {
        invalid(a, HRA_ENOMEM);
        return;
      }
      r->acks_received++;
    } else {
      invalid(a, HRA_ETYPE);
      return;
    }
    if (r->received >= r->expected && r->acks_received >= r->acks_expected) finish(a, (size_t) i, HRA_DONE_OK);
    return;
  }
  r->received++;
  int err = 0;
  if (r->kind == HRA_REQ_SSE) {
    if (r->acc.len > 1) err = hra_buf_putc(&r->acc, ',');
    if (!err) err = has_data ? hra_buf_append(&r->acc, data.base, data.len) : hra_buf_puts(&r->acc, "null");
    if (!err && !has_data) {
      // An answer without data is `undefined` upstream, which JSON cannot carry: note its index.
      char idx[24];
      snprintf(idx, sizeof(idx), "%s%lld", r->missing.len ? "," : "", (long long) (r->received - 1));
      err = hra_buf_puts(&r->missing, idx);
    }
  } else {
    // Upstream counts an answer without the list but then does not check for completion.
    int has = r->kind == HRA_REQ_ALL_ROOMS ? has_rooms : has_sockets;
    if (!has) return;
    err = append_elements(&r->acc, r->kind == HRA_REQ_ALL_ROOMS ? rooms : sockets);
  }
  if (err) {
    invalid(a, HRA_ENOMEM);
    return;
  }
  if (r->received == r->expected) finish(a, (size_t) i, HRA_DONE_OK);
}

// Another server's broadcast with acks (msgpack {uid, requestId, type: 7, packet, opts}): run it on
// our sockets. The flags are dropped, as upstream does. With no local target the client count (0)
// is answered from here; otherwise JS assigns the ack id and answers.
static void
on_broadcast_request (hra_adapter_t *a, hra_slice_t payload, hra_batch_t *batch) {
  int err = hra_mp_validate(payload.base, payload.len, a->max_depth);
  hra_slice_t uid = { (const uint8_t *) "", 0 }, rid = { NULL, 0 }, packet = { NULL, 0 }, opts = { NULL, 0 };
  double type = -1;
  hra_mp_reader_t r;
  hra_mp_obj_t o, k, v;
  hra_mp_reader_init(&r, payload.base, payload.len);
  if (err == 0 && (hra_mp_read(&r, &o) != 0 || o.type != HRA_MP_MAP)) err = HRA_ETYPE;
  for (uint32_t i = 0; err == 0 && i < o.count; i++) {
    hra_slice_t raw;
    if ((err = next_member(&r, a->max_depth, &k, &v, &raw)) != 0) break;
    if (hra_mp_str_is(&k, "uid") && v.type == HRA_MP_STR)
      uid = v.s;
    else if (hra_mp_str_is(&k, "requestId"))
      rid = v.type == HRA_MP_STR ? v.s : (hra_slice_t){ NULL, 0 };
    else if (hra_mp_str_is(&k, "type") && !hra_mp_number(&v, &type))
      type = -1;
    else if (hra_mp_str_is(&k, "packet"))
      packet = v.type == HRA_MP_MAP ? raw : (hra_slice_t){ NULL, 0 };
    else if (hra_mp_str_is(&k, "opts"))
      opts = v.type == HRA_MP_MAP ? raw : (hra_slice_t){ NULL, 0 };
    else if (hra_mp_str_is(&k, "__proto__"))
      err = HRA_ENOTSUP;
  }
  if (!err && (type != HRA_RT_BROADCAST || rid.base == NULL || packet.base == NULL)) err = HRA_ETYPE;
  if (err) {
    invalid(a, err);
    return;
  }
  if (hra_requests_find(&a->reqs, rid.base, rid.len) >= 0) {
    a->stats.ignored_own++;
    return;
  }
  // packet {type, data, nsp, id}: the receiving server sets nsp and its own ack id.
  hra_envelope_t env;
  memset(&env, 0, sizeof(env));
  env.type = -1;
  hra_mp_reader_init(&r, packet.base, packet.len);
  hra_mp_read(&r, &o);
  for (uint32_t i = 0; err == 0 && i < o.count; i++) {
    hra_slice_t raw;
    if ((err = next_member(&r, a->max_depth, &k, &v, &raw)) != 0) break;
    double t;
    if (hra_mp_str_is(&k, "type"))
      env.type = hra_mp_number(&v, &t) && is_integer_in(t, 0, 9) ? (int64_t) t : -1;
    else if (hra_mp_str_is(&k, "data"))
      env.data = raw;
    else if (hra_mp_str_is(&k, "__proto__"))
      err = HRA_ENOTSUP;
  }
  hra_slice_t rooms = { NULL, 0 }, except = { NULL, 0 };
  if (opts.base != NULL) {
    hra_mp_reader_init(&r, opts.base, opts.len);
    hra_mp_read(&r, &o);
    for (uint32_t i = 0; err == 0 && i < o.count; i++) {
      hra_slice_t raw;
      if ((err = next_member(&r, a->max_depth, &k, &v, &raw)) != 0) break;
      if (hra_mp_str_is(&k, "rooms"))
        rooms = raw;
      else if (hra_mp_str_is(&k, "except"))
        except = raw;
      else if (hra_mp_str_is(&k, "__proto__"))
        err = HRA_ENOTSUP;
    }
  }
  if (!err) err = packet_is_deliverable(&env, a->max_depth);
  if (!err) err = prepare_delivery(a, rooms, except, (int) env.type, NULL, env.data);
  if (err == 1) {
    // Every server must answer with a count, even 0, or the sender waits for its timeout.
    hra_adapter_respond(a, HRA_RT_BROADCAST_CLIENT_COUNT, rid.base, rid.len, uid.base, uid.len, (const uint8_t *) "0", 1, 1);
    a->stats.ignored_no_target++;
    return;
  }
  if (err) {
    invalid(a, err);
    return;
  }
  // The ack id goes after the type digit, the attachment count and the namespace. With a custom
  // parser the record carries the packet data's msgpack instead, marked by split = UINT32_MAX.
  size_t natt = a->attachments.len;
  uint32_t split = 1;
  if (a->raw_broadcasts) {
    natt = 0;
    split = UINT32_MAX;
    a->out.len = 0;
    if (hra_buf_append(&a->out, env.data.base, env.data.len) != 0) {
      invalid(a, HRA_ENOMEM);
      return;
    }
  } else {
    if (natt > 0) {
      char digits[24];
      split += (uint32_t) snprintf(digits, sizeof(digits), "%zu", natt) + 1;
    }
    if (!(a->nsp_len == 1 && a->nsp[0] == '/')) split += (uint32_t) a->nsp_len + 1;
  }
  size_t need = a->out.len + rid.len + uid.len;
  for (size_t i = 0; i < natt; i++)
    need += a->attachments.items[i].len;
  hra_targets_t t = a->targets;
  need += hra_batch_targets_bytes(t);
  int berr = natt > UINT32_MAX / 4 ? HRA_ELIMIT : hra_batch_begin(batch, HRA_REC_BCAST_ACK, a->id, 8 + 2 * natt + hra_batch_targets_words(t), need);
  if (berr) {
    invalid(a, berr);
    return;
  }
  hra_batch_slice(batch, a->out.data, a->out.len);
  hra_batch_word(batch, split);
  hra_batch_slice(batch, rid.base, rid.len);
  hra_batch_slice(batch, uid.base, uid.len);
  hra_batch_word(batch, (uint32_t) natt);
  for (size_t i = 0; i < natt; i++)
    hra_batch_slice(batch, a->attachments.items[i].base, a->attachments.items[i].len);
  hra_batch_targets(batch, t);
  hra_batch_end(batch);
}

static void
on_request (hra_adapter_t *a, hra_slice_t payload, hra_batch_t *batch) {
  if (payload.len == 0 || payload.len > a->max_message_bytes) {
    invalid(a, payload.len ? HRA_ELIMIT : HRA_EINVAL);
    return;
  }
  if (payload.base[0] != '{') {
    on_broadcast_request(a, payload, batch);
    return;
  }
  hra_json_t j = { payload.base, payload.base + payload.len, a->max_depth };
  hra_slice_t key, value, rid = { NULL, 0 }, uid = { NULL, 0 };
  double type = -1;
  int t, rc = hra_json_object_begin(&j);
  while (rc == 0 || rc == 1) {
    rc = hra_json_object_next(&j, &key, &value, &t);
    if (rc != 1) break;
    if (hra_json_key_is(key, "type")) {
      if (t != HRA_JSON_NUMBER || hra_json_number(value, &type) != 0) type = -1;
    } else if (hra_json_key_is(key, "requestId") && t == HRA_JSON_STRING) {
      rid.base = value.base + 1;
      rid.len = value.len - 2;
    } else if (hra_json_key_is(key, "uid") && t == HRA_JSON_STRING) {
      uid.base = value.base + 1;
      uid.len = value.len - 2;
    }
  }
  if (rc < 0 || !hra_json_at_end(&j)) {
    invalid(a, rc < 0 ? rc : HRA_EINVAL);
    return;
  }
  int own_uid = uid.base != NULL && slice_is(uid, a->uid, a->uid_len);
  switch ((int) (is_integer_in(type, 0, 9) ? type : -1)) {
    case HRA_RT_SOCKETS:
    case HRA_RT_ALL_ROOMS:
    case HRA_RT_REMOTE_FETCH:
      // Our own request comes back to us too: upstream recognises it by its pending request id.
      if (rid.base != NULL && hra_requests_find(&a->reqs, rid.base, rid.len) >= 0) {
        a->stats.ignored_own++;
        return;
      }
      break;
    case HRA_RT_SERVER_SIDE_EMIT:
    case HRA_RT_REMOTE_JOIN:
    case HRA_RT_REMOTE_LEAVE:
    case HRA_RT_REMOTE_DISCONNECT:
      // Joins, leaves and disconnects of ours were applied locally when they were sent.
      if (own_uid) {
        a->stats.ignored_own++;
        return;
      }
      break;
    default:
      invalid(a, HRA_ETYPE);
      return;
  }
  a->stats.requests++;
  raw_record(a, HRA_REC_REQUEST, payload, batch);
}

int
hra_adapter_on_message (hra_adapter_t *a, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch) {
  if (a->sharded) return 0;  // sharded.c's front: the glue hands it its messages
  hra_adapter__sync_rooms(a);
  if (kind == 'p') {
    if (!slice_is(pattern, a->pattern, a->prefix_len + 1)) return 0;
    on_broadcast(a, channel, payload, batch);
    return 1;
  }
  if (kind != 'm') return 0;
  if (a->dynamic && channel.len >= a->prefix_len && memcmp(channel.base, a->prefix, a->prefix_len) == 0) {
    // K#N# or K#N#room#: the channels of subscriptionMode 'dynamic' (no other channel of ours starts so).
    on_broadcast(a, channel, payload, batch);
    return 1;
  }
  if (slice_is(channel, a->request, strlen(a->request))) {
    on_request(a, payload, batch);
    return 1;
  }
  if (slice_is(channel, a->response, strlen(a->response)) || slice_is(channel, a->specific, strlen(a->specific))) {
    on_response(a, payload, batch);
    return 1;
  }
  return 0;
}

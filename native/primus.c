// The Primus front's receive path (see primus.h). What upstream does with a message, in
// primus-redis-rooms 0.3.2's lib/rooms.js:
//   try { chunk = JSON.parse(chunk) } catch (err) {}
//   room = self.rooms['+' + chunk.room]; if (room) room.__write(chunk.data);
// so a body that is not JSON, or JSON that is not an object, looks up the room "undefined" with data
// undefined; `null` throws (out of the Redis client's callback: the process dies), and so does a room
// whose string conversion throws ({"room": {"toString": 1}}). Those two are dropped here, and counted.
#include "primus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "jsnum.h"
#include "json.h"
#include "rooms.h"

// What room_string found.
enum {
  ROOM_NAME = 0,  // *name is the room's JS string, UTF-8
  ROOM_JS = 1,  // JS must compute it (an array, a string with a lone surrogate)
  ROOM_THROWS = 2  // converting it to a string throws a TypeError upstream
};

struct hra_primus_s {
  char *pattern;
  size_t pattern_len;
  char *channel;
  size_t channel_len;
  uint32_t js_id;
  uint32_t max_depth;
  uint32_t max_message_bytes;
  hra_rooms_t *rooms;
  size_t held;  // rooms with local sparks
  int undefined_held;  // the room "undefined" (where upstream sends what it cannot parse) is held
  hra_buf_t name;  // the room string of the message being processed, when not a slice of it
  hra_buf_t scratch;  // an unescaped object key
  hra_buf_t keys;  // the canonical-JSON check's key list
  hra_primus_stats_t stats;
};

// malloc'd "<a><sep><b>" (its length in *len), or NULL.
static char *
join (const char *a, const char *sep, const char *b, size_t *len) {
  size_t n = strlen(a) + strlen(sep) + strlen(b);
  char *s = malloc(n + 1);
  if (s != NULL) snprintf(s, n + 1, "%s%s%s", a, sep, b);
  *len = n;
  return s;
}

hra_primus_t *
hra_primus_new (const hra_primus_opts_t *o) {
  hra_primus_t *p = calloc(1, sizeof(*p));
  if (p == NULL) return NULL;
  p->pattern = join(o->channel, ".", "*", &p->pattern_len);
  p->channel = join(o->channel, ".", o->id, &p->channel_len);
  p->rooms = hra_rooms_new(o->seed);
  if (p->pattern == NULL || p->channel == NULL || p->rooms == NULL) {
    hra_primus_free(p);
    return NULL;
  }
  p->js_id = o->js_id;
  p->max_depth = o->max_depth ? o->max_depth : 100;
  p->max_message_bytes = o->max_message_bytes ? o->max_message_bytes : 64u << 20;
  return p;
}

void
hra_primus_free (hra_primus_t *p) {
  if (p == NULL) return;
  free(p->pattern);
  free(p->channel);
  hra_rooms_free(p->rooms);
  hra_buf_free(&p->name);
  hra_buf_free(&p->scratch);
  hra_buf_free(&p->keys);
  free(p);
}

const char *
hra_primus_pattern (const hra_primus_t *p) {
  return p->pattern;
}

const char *
hra_primus_channel (const hra_primus_t *p) {
  return p->channel;
}

const hra_primus_stats_t *
hra_primus_stats (const hra_primus_t *p) {
  return &p->stats;
}

size_t
hra_primus_memory (const hra_primus_t *p) {
  return sizeof(*p) + hra_rooms_memory(p->rooms) + p->name.cap + p->scratch.cap + p->keys.cap;
}

// The set of rooms held counts: a name added k times (two JS strings differing only in lone surrogates share
// their UTF-8) stays held until it has been removed k times. Membership itself is JS's (lib/primus.js).
int
hra_primus_presence (hra_primus_t *p, const uint8_t *name, size_t len, int on) {
  hra_room_key_t k = { len ? name : (const uint8_t *) "", len, HRA_ROOM_STR };
  if (on) {
    int err = hra_rooms_add(p->rooms, k);
    if (err != HRA_OK) return err;
    p->held++;
  } else {
    if (hra_rooms_remove(p->rooms, k) != 1) return 1;
    p->held--;
  }
  if (len == 9 && memcmp(name, "undefined", 9) == 0) p->undefined_held = hra_rooms_has(p->rooms, k);
  return HRA_OK;
}

static int
is_held (const hra_primus_t *p, hra_slice_t name) {
  hra_room_key_t k = { name.len ? name.base : (const uint8_t *) "", name.len, HRA_ROOM_STR };
  return hra_rooms_has(p->rooms, k);
}

static void
invalid (hra_primus_t *p, int err) {
  p->stats.invalid++;
  p->stats.last_error = err;
}

static void
drop (hra_primus_t *p, int err) {
  invalid(p, err);
  p->stats.dropped++;
}

// 1 when a raw object key (between its quotes, escapes kept) is the ASCII name once unescaped.
static int
key_is (hra_primus_t *p, hra_slice_t key, const char *name) {
  if (memchr(key.base, '\\', key.len) == NULL) return hra_json_key_is(key, name);
  hra_slice_t q = { key.base - 1, key.len + 2 };
  size_t n = strlen(name);
  p->scratch.len = 0;
  return hra_json_unescape(q, &p->scratch) == HRA_OK && p->scratch.len == n && memcmp(p->scratch.data, name, n) == 0;
}

// JSON.parse of the whole body: 0 for an object (its last "room" and "data" members in *room, *data,
// type 0 when absent), a positive HRA_JSON_* type for any other value, or a negative HRA_E* code when
// it is not JSON (or passes max_depth: HRA_EDEPTH).
static int
scan (hra_primus_t *p, hra_slice_t body, hra_slice_t *room, int *rt, hra_slice_t *data, int *dt) {
  if (body.len == 0) return HRA_ETRUNC;
  hra_json_t j = { body.base, body.base + body.len, p->max_depth };
  const uint8_t *q = body.base, *e = body.base + body.len;
  while (q < e && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
    q++;
  if (q == e || *q != '{') {
    int t = hra_json_skip(&j, NULL);
    if (t < 0) return t;
    return hra_json_at_end(&j) ? t : HRA_EINVAL;
  }
  int rc = hra_json_object_begin(&j), t;
  if (rc != HRA_OK) return rc;
  hra_slice_t key, v;
  while ((rc = hra_json_object_next(&j, &key, &v, &t)) == 1) {
    if (key_is(p, key, "room")) {
      *room = v;
      *rt = t;
    } else if (key_is(p, key, "data")) {
      *data = v;
      *dt = t;
    }
  }
  if (rc < 0) return rc;
  return hra_json_at_end(&j) ? 0 : HRA_EINVAL;
}

// `'' + room` for the room member (type t, 0 when absent): ROOM_NAME with *name set, ROOM_JS,
// ROOM_THROWS, or HRA_ENOMEM.
static int
room_string (hra_primus_t *p, hra_slice_t v, int t, hra_slice_t *name) {
  hra_slice_t inner;
  double d;
  p->name.len = 0;
  switch (t) {
    case 0:
      name->base = (const uint8_t *) "undefined";
      name->len = 9;
      return ROOM_NAME;
    case HRA_JSON_NULL:
    case HRA_JSON_TRUE:
    case HRA_JSON_FALSE:
      *name = v;  // "null", "true", "false": the literal is the string
      return ROOM_NAME;
    case HRA_JSON_STRING:
      inner.base = v.base + 1;
      inner.len = v.len - 2;
      if (memchr(inner.base, '\\', inner.len) != NULL) {
        int err = hra_json_unescape(v, &p->name);
        if (err == HRA_ENOTSUP) return ROOM_JS;  // a lone surrogate, or bytes that are not UTF-8
        if (err != HRA_OK) return err == HRA_ENOMEM ? HRA_ENOMEM : ROOM_JS;
      } else if (hra_encoder_utf8_valid(inner.base, inner.len)) {
        *name = inner;
        return ROOM_NAME;
      } else if (hra_encoder_utf8_sanitize(&p->name, inner.base, inner.len) != HRA_OK) {
        return HRA_ENOMEM;  // node_redis decodes the body as Buffer.toString does: U+FFFD per bad sequence
      }
      name->base = p->name.data;
      name->len = p->name.len;
      return ROOM_NAME;
    case HRA_JSON_NUMBER: {
      char text[HRA_JSNUM_BUF];
      if (hra_json_number(v, &d) != HRA_OK) return ROOM_JS;
      size_t n = hra_jsnum_format(d, text);
      if (hra_buf_append(&p->name, text, n) != HRA_OK) return HRA_ENOMEM;
      name->base = p->name.data;
      name->len = p->name.len;
      return ROOM_NAME;
    }
    case HRA_JSON_OBJECT: {
      // ToPrimitive: an own valueOf is not callable (JSON values never are) and the inherited one
      // returns the object; then toString: an own one is not callable either, so TypeError.
      hra_json_t j = { v.base, v.base + v.len, p->max_depth };
      hra_slice_t key, value;
      int rc = hra_json_object_begin(&j), vt;
      while (rc >= 0 && (rc = hra_json_object_next(&j, &key, &value, &vt)) == 1) {
        if (key_is(p, key, "toString")) return ROOM_THROWS;
      }
      name->base = (const uint8_t *) "[object Object]";
      name->len = 15;
      return ROOM_NAME;
    }
    default:
      return ROOM_JS;  // an array: Array.prototype.join, element by element
  }
}

// U+2028 and U+2029 (E2 80 A8, E2 80 A9) in s: Primus's encoder escapes them (spark.js, "Hack 1").
static size_t
count_separators (hra_slice_t s) {
  size_t n = 0;
  const uint8_t *q = s.base, *e = s.base + s.len;
  while (q < e && (q = memchr(q, 0xe2, (size_t) (e - q))) != NULL) {
    if (e - q >= 3 && q[1] == 0x80 && (q[2] == 0xa8 || q[2] == 0xa9)) n++;
    q++;
  }
  return n;
}

// Copies s into the batch with each line or paragraph separator written as \u2028 or \u2029.
static void
put_escaped (hra_batch_t *b, hra_slice_t s) {
  const uint8_t *run = s.base, *q = s.base, *e = s.base + s.len;
  while (q < e && (q = memchr(q, 0xe2, (size_t) (e - q))) != NULL) {
    if (e - q >= 3 && q[1] == 0x80 && (q[2] == 0xa8 || q[2] == 0xa9)) {
      hra_batch_bytes(b, run, (size_t) (q - run));
      hra_batch_bytes(b, q[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
      q += 3;
      run = q;
      continue;
    }
    q++;
  }
  hra_batch_bytes(b, run, (size_t) (e - run));
}

static int
write_record (hra_primus_t *p, hra_batch_t *b, uint32_t flags, hra_slice_t room, hra_slice_t data) {
  size_t seps = (flags & HRA_PR_DATA_PACKET) ? count_separators(data) : 0;
  size_t dlen = data.len + 3 * seps;
  if (dlen > UINT32_MAX || room.len > UINT32_MAX - dlen) return HRA_ELIMIT;
  int err = hra_batch_begin(b, HRA_REC_PRIMUS, p->js_id, 5, room.len + dlen);
  if (err) return err;
  hra_batch_word(b, flags);
  hra_batch_slice(b, room.base, room.len);
  uint32_t off = hra_batch_bytes(b, NULL, 0);
  if (seps)
    put_escaped(b, data);
  else
    hra_batch_bytes(b, data.base, data.len);
  hra_batch_word(b, off);
  hra_batch_word(b, (uint32_t) dlen);
  hra_batch_end(b);
  return HRA_OK;
}

// 1 when a key "room" could be written in s..e: the literal "room" (with its quotes) or a \u escape
// (which could spell any letter of it). One pass, eight bytes at a time, stopping only at 'm' and '\\'.
static int
may_name_room (const uint8_t *s, const uint8_t *e) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const uint8_t *q = s;
  for (;;) {
    while (e - q >= 8) {
      uint64_t w, m, b;
      memcpy(&w, q, 8);
      m = w ^ (ones * 'm');
      b = w ^ (ones * '\\');
      if ((((m - ones) & ~m) | ((b - ones) & ~b)) & highs) break;
      q += 8;
    }
    const uint8_t *stop = e - q >= 8 ? q + 8 : e;
    for (; q < stop; q++) {
      if (*q == '\\' && (e - q < 2 || q[1] == 'u')) return 1;
      if (*q == 'm' && q - s >= 4 && e - q >= 2 && q[1] == '"' && memcmp(q - 4, "\"roo", 4) == 0) return 1;
    }
    if (q >= e) return 0;
  }
}

// The shape every primus-redis-rooms node publishes starts {"room":"<name>". When that room is not held,
// nor "undefined" (where upstream sends a body it cannot parse), and no other "room" key can follow (the
// rest holds neither the literal "room" nor a \u escape that could spell it), nothing can be delivered
// whatever the rest is: 1, and the body is dropped before it is validated.
static int
surely_not_held (const hra_primus_t *p, hra_slice_t body) {
  static const char head[] = "{\"room\":\"";
  const size_t hl = sizeof(head) - 1;
  if (p->undefined_held || body.len < hl || memcmp(body.base, head, hl) != 0) return 0;
  const uint8_t *s = body.base + hl, *q = s, *e = body.base + body.len;
  while (q < e && *q != '"' && *q != '\\' && *q >= 0x20 && *q < 0x80)
    q++;
  if (q >= e || *q != '"') return 0;
  hra_slice_t name = { s, (size_t) (q - s) };
  if (is_held(p, name)) return 0;
  return !may_name_room(q + 1, e);
}

static int
slice_is (hra_slice_t s, const char *z, size_t n) {
  return s.len == n && (n == 0 || memcmp(s.base, z, n) == 0);
}

int
hra_primus_on_message (hra_primus_t *p, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch) {
  if (kind != 'p' || !slice_is(pattern, p->pattern, p->pattern_len)) return 0;
  if (slice_is(channel, p->channel, p->channel_len)) {
    p->stats.ignored_own++;  // upstream: "We already wrote to our own sparks."
    return 1;
  }
  p->stats.received++;
  if (payload.len > p->max_message_bytes) {
    drop(p, HRA_ELIMIT);
    return 1;
  }
  if (surely_not_held(p, payload)) {
    p->stats.ignored_room++;
    return 1;
  }
  hra_slice_t room = { NULL, 0 }, data = { NULL, 0 }, name = { NULL, 0 };
  int rt = 0, dt = 0;
  int shape = scan(p, payload, &room, &rt, &data, &dt);
  if (shape == HRA_EDEPTH || shape == HRA_ENOMEM || shape == HRA_JSON_NULL) {
    drop(p, shape == HRA_JSON_NULL ? HRA_ETYPE : shape);  // null: `chunk.room` throws upstream
    return 1;
  }
  if (shape != 0) {
    // Not JSON, or not an object: upstream reads room and data as undefined.
    invalid(p, shape < 0 ? shape : HRA_ETYPE);
    rt = dt = 0;
  } else if (rt != HRA_JSON_STRING) {
    invalid(p, HRA_ETYPE);  // handled as upstream does, but not what any node publishes
  }
  uint32_t flags = 0;
  int r = room_string(p, room, rt, &name);
  if (r < 0 || r == ROOM_THROWS) {
    drop(p, r < 0 ? r : HRA_ETYPE);
    return 1;
  }
  if (r == ROOM_JS) {
    flags |= HRA_PR_ROOM_JSON;
    name = room;
    if (p->held == 0) {
      p->stats.ignored_room++;
      return 1;
    }
  } else if (!is_held(p, name)) {
    p->stats.ignored_room++;
    return 1;
  }
  if (dt == 0) {
    flags |= HRA_PR_DATA_ABSENT;
    data.base = NULL;
    data.len = 0;
  } else if (hra_json_canonical(&p->keys, data.base, data.len, p->max_depth)) {
    flags |= HRA_PR_DATA_PACKET;
  }
  int err = write_record(p, batch, flags, name, data);
  if (err) {
    drop(p, err);
    return 1;
  }
  p->stats.delivered++;
  if (flags & HRA_PR_DATA_PACKET) p->stats.passthrough++;
  if (flags & HRA_PR_ROOM_JSON) p->stats.js_rooms++;
  return 1;
}

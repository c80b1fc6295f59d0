// The Redis Streams front (see streams.h).
#include "streams.h"

#include <stdlib.h>
#include <string.h>

#include "adapter_internal.h"
#include "json.h"
#include "mp.h"
#include "pipeline.h"

// ClusterAdapter MessageType values the stream carries (socket.io-adapter cluster-adapter.ts).
enum {
  MT_BROADCAST = 3,
  MT_SOCKETS_JOIN = 4,
  MT_SOCKETS_LEAVE = 5,
  MT_DISCONNECT_SOCKETS = 6
};

struct hra_streams_s {
  char *name;
  size_t name_len;
  char last_id[HRA_STREAMS_ID_MAX + 1];
  size_t last_id_len;
  int started;  // last_id is a real id (see hra_streams_last_id)
  hra_buf_t decoded;  // the msgpack bytes of a base64 `data` field
  hra_streams_stats_t stats;
};

hra_streams_t *
hra_streams_new (const char *stream, size_t len) {
  hra_streams_t *s = calloc(1, sizeof(*s));
  if (s == NULL) return NULL;
  s->name = malloc(len + 1);
  if (s->name == NULL) {
    free(s);
    return NULL;
  }
  if (len) memcpy(s->name, stream, len);
  s->name[len] = '\0';
  s->name_len = len;
  s->last_id[0] = '$';
  s->last_id[1] = '\0';
  s->last_id_len = 1;
  return s;
}

void
hra_streams_free (hra_streams_t *s) {
  if (s == NULL) return;
  hra_buf_free(&s->decoded);
  free(s->name);
  free(s);
}

const char *
hra_streams_name (const hra_streams_t *s, size_t *len) {
  *len = s->name_len;
  return s->name;
}

const char *
hra_streams_last_id (const hra_streams_t *s, size_t *len) {
  *len = s->last_id_len;
  return s->last_id;
}

int
hra_streams_started (const hra_streams_t *s) {
  return s->started;
}

static int
valid_id (hra_slice_t id);

static void
set_last_id (hra_streams_t *s, hra_slice_t id) {
  memcpy(s->last_id, id.base, id.len);
  s->last_id[id.len] = '\0';
  s->last_id_len = id.len;
}

int
hra_streams_on_start_reply (hra_streams_t *s, const hra_reply_t *r) {
  if (!hra_reply_is(r, 0, HRA_R_ARRAY)) return HRA_EINVAL;
  if (r->nodes[0].len == 0) {
    hra_slice_t zero = { (const uint8_t *) "0-0", 3 };
    set_last_id(s, zero);
  } else {
    // [[id, [fields]]]
    if (!hra_reply_is(r, 1, HRA_R_ARRAY) || r->nodes[1].len < 1 || !hra_reply_is(r, 2, HRA_R_STRING)) return HRA_EINVAL;
    hra_slice_t id = hra_reply_str(r, 2);
    if (!valid_id(id)) return HRA_EINVAL;
    set_last_id(s, id);
  }
  s->started = 1;
  return HRA_OK;
}

const hra_streams_stats_t *
hra_streams_stats (const hra_streams_t *s) {
  return &s->stats;
}

// An entry id as Redis writes it: digits, '-', digits, each part a uint64 (at most 20 digits).
static int
valid_id (hra_slice_t id) {
  size_t i = 0, a = 0, b = 0;
  while (i < id.len && id.base[i] >= '0' && id.base[i] <= '9')
    i++, a++;
  if (a == 0 || a > 20 || i >= id.len || id.base[i] != '-') return 0;
  i++;
  while (i < id.len && id.base[i] >= '0' && id.base[i] <= '9')
    i++, b++;
  return b > 0 && b <= 20 && i == id.len;
}

static int
b64val (uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict base64 (what Buffer#toString("base64") writes; padding optional) into out (reset first).
static int
base64_decode (hra_slice_t in, hra_buf_t *out) {
  size_t n = in.len;
  out->len = 0;
  while (n > 0 && in.base[n - 1] == '=' && in.len - n < 2)
    n--;
  if (n % 4 == 1) return HRA_EINVAL;
  if (hra_buf_reserve(out, n / 4 * 3 + 3) != 0) return HRA_ENOMEM;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(in.base[i]);
    if (v < 0) return HRA_EINVAL;
    acc = (acc << 6) | (uint32_t) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->data[out->len++] = (uint8_t) (acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return HRA_OK;
}

// The decimal `type` field: 1 to 99, else -1.
static int
parse_type (hra_slice_t t) {
  if (t.len == 0 || t.len > 2) return -1;
  int v = 0;
  for (size_t i = 0; i < t.len; i++) {
    if (t.base[i] < '0' || t.base[i] > '9') return -1;
    v = v * 10 + (t.base[i] - '0');
  }
  return v > 0 ? v : -1;
}

// HRA_REC_STREAM: type, flags, data (JSON text or msgpack), entry id, uid (the sender's: responses go to it).
static void
js_record (hra_adapter_t *a, int type, int json, hra_slice_t body, hra_slice_t id, hra_slice_t uid, hra_batch_t *batch) {
  int err = hra_batch_begin(batch, HRA_REC_STREAM, a->id, 8, body.len + id.len + uid.len);
  if (err) {
    hra_adapter__invalid(a, err);
    return;
  }
  hra_batch_word(batch, (uint32_t) type);
  hra_batch_word(batch, json ? HRA_ST_JSON : 0);
  hra_batch_slice(batch, body.base, body.len);
  hra_batch_slice(batch, id.base, id.len);
  hra_batch_slice(batch, uid.base, uid.len);
  hra_batch_end(batch);
}

static void
on_entry (hra_streams_t *s, hra_adapter_t *a, hra_slice_t id, hra_slice_t uid, hra_slice_t type, hra_slice_t data, hra_batch_t *batch);

// Largest decoding buffer kept between entries: one huge binary entry does not pin its size for good.
#define DECODED_KEEP (1u << 20)

void
hra_streams_on_entry (hra_streams_t *s, hra_adapter_t *a, hra_slice_t id, hra_slice_t uid, hra_slice_t type, hra_slice_t data, hra_batch_t *batch) {
  on_entry(s, a, id, uid, type, data, batch);
  if (s->decoded.cap > DECODED_KEEP) hra_buf_free(&s->decoded);
}

static void
on_entry (hra_streams_t *s, hra_adapter_t *a, hra_slice_t id, hra_slice_t uid, hra_slice_t type, hra_slice_t data, hra_batch_t *batch) {
  hra_adapter__sync_rooms(a);  // the rooms JS created or deleted since, before any room is looked up
  if (uid.base != NULL && uid.len == a->uid_len && memcmp(uid.base, a->uid, uid.len) == 0) {
    a->stats.ignored_own++;
    return;
  }
  int mt = parse_type(type);
  if (mt < 0) {
    hra_adapter__invalid(a, HRA_ETYPE);
    return;
  }
  if (mt < MT_BROADCAST || mt > MT_DISCONNECT_SOCKETS) {
    // Heartbeats and requests of other generations (0.2.x wrote them to the stream): not for 0.3.x.
    s->stats.ignored++;
    return;
  }
  if (data.base == NULL || data.len == 0) {
    hra_adapter__invalid(a, HRA_ETYPE);  // upstream throws on these, and reads them again forever
    return;
  }
  if (data.len > a->max_message_bytes) {
    hra_adapter__invalid(a, HRA_ELIMIT);
    return;
  }
  int json = data.base[0] == '{', err;
  int native = mt == MT_BROADCAST && !a->js_broadcasts;
  hra_slice_t body = data;
  if (json && native) {
    // The pipeline validates the object as it reads it (one pass, not two).
  } else if (json) {
    hra_json_t j = { data.base, data.base + data.len, a->max_depth };
    int t = hra_json_skip(&j, NULL);
    if (t < 0 || t != HRA_JSON_OBJECT || !hra_json_at_end(&j)) {
      hra_adapter__invalid(a, t < 0 ? t : HRA_EINVAL);
      return;
    }
  } else {
    hra_mp_reader_t r;
    hra_mp_obj_t o;
    if ((err = base64_decode(data, &s->decoded)) != 0 || (err = hra_mp_validate(s->decoded.data, s->decoded.len, a->max_depth)) != 0) {
      hra_adapter__invalid(a, err);
      return;
    }
    body.base = s->decoded.data;
    body.len = s->decoded.len;
    hra_mp_reader_init(&r, body.base, body.len);
    if (hra_mp_read(&r, &o) != 0 || o.type != HRA_MP_MAP) {
      hra_adapter__invalid(a, HRA_ETYPE);
      return;
    }
  }
  err = HRA_PIPELINE_TO_JS;
  if (mt == MT_BROADCAST) {
    a->stats.received++;
    if (native) err = json ? hra_pipeline_cluster_json(a, body, batch) : hra_pipeline_cluster_mp(a, body, batch);
  } else {
    a->stats.requests++;
  }
  if (err == HRA_PIPELINE_TO_JS) {
    // JS decodes this: no "__proto__" key anywhere may set a prototype there.
    if (!json && hra_pipeline_has_proto_key(body, a->max_depth)) {
      hra_adapter__invalid(a, HRA_ENOTSUP);
      return;
    }
    js_record(a, mt, json, body, id, uid, batch);
  } else if (err) {
    hra_adapter__invalid(a, err);
  }
}

static int
slice_eq (hra_slice_t s, const char *z) {
  size_t n = strlen(z);
  return s.len == n && memcmp(s.base, z, n) == 0;
}

// One entry: [id, [field, value, ...]] at node i.
static void
on_entry_node (hra_streams_t *s, const hra_reply_t *r, size_t i, hra_streams_lookup_fn lookup, void *lookup_data, hra_batch_t *batch) {
  s->stats.entries++;
  if (!hra_reply_is(r, i, HRA_R_ARRAY) || r->nodes[i].len != 2 || !hra_reply_is(r, i + 1, HRA_R_STRING)) {
    s->stats.invalid++;
    return;
  }
  hra_slice_t id = hra_reply_str(r, i + 1);
  if (!valid_id(id)) {
    s->stats.invalid++;
    return;
  }
  set_last_id(s, id);
  s->started = 1;
  size_t f = i + 2;
  if (!hra_reply_is(r, f, HRA_R_ARRAY)) {
    s->stats.skipped++;  // an entry deleted while listed: nil fields
    return;
  }
  hra_slice_t uid = { NULL, 0 }, nsp = { NULL, 0 }, type = { NULL, 0 }, data = { NULL, 0 };
  uint32_t n = r->nodes[f].len;
  size_t k = f + 1;
  for (uint32_t m = 0; m + 1 < n; m += 2) {
    if (!hra_reply_is(r, k, HRA_R_STRING) || !hra_reply_is(r, k + 1, HRA_R_STRING)) {
      s->stats.invalid++;
      return;
    }
    hra_slice_t key = hra_reply_str(r, k), v = hra_reply_str(r, k + 1);
    // As the JS clients build the entry object: a later field of the same name wins.
    if (slice_eq(key, "uid"))
      uid = v;
    else if (slice_eq(key, "nsp"))
      nsp = v;
    else if (slice_eq(key, "type"))
      type = v;
    else if (slice_eq(key, "data"))
      data = v;
    k += 2;
  }
  hra_adapter_t *a = nsp.base != NULL ? lookup(lookup_data, nsp.base, nsp.len) : NULL;
  if (a == NULL) {
    s->stats.skipped++;
    return;
  }
  hra_streams_on_entry(s, a, id, uid, type, data, batch);
}

int
hra_streams_on_reply (hra_streams_t *s, const hra_reply_t *r, hra_streams_lookup_fn lookup, void *lookup_data, hra_batch_t *batch) {
  if (hra_reply_is(r, 0, HRA_R_NIL)) return 0;
  // [[stream, [entry, ...]], ...]: one stream per reader.
  if (!hra_reply_is(r, 0, HRA_R_ARRAY)) {
    s->stats.invalid++;
    return HRA_EINVAL;
  }
  int count = 0;
  uint32_t nstreams = r->nodes[0].len;
  size_t i = 1;
  for (uint32_t si = 0; si < nstreams; si++) {
    if (!hra_reply_is(r, i, HRA_R_ARRAY) || r->nodes[i].len != 2 || !hra_reply_is(r, i + 1, HRA_R_STRING) || !hra_reply_is(r, i + 2, HRA_R_ARRAY)) {
      s->stats.invalid++;
      return HRA_EINVAL;
    }
    hra_slice_t name = hra_reply_str(r, i + 1);
    size_t list = i + 2;
    uint32_t n = r->nodes[list].len;
    if (name.len == s->name_len && memcmp(name.base, s->name, name.len) == 0) {
      s->stats.replies++;
      size_t e = list + 1;
      for (uint32_t m = 0; m < n && e < r->count; m++) {
        on_entry_node(s, r, e, lookup, lookup_data, batch);
        e = hra_reply_next(r, e);
        count++;
      }
    }
    i = hra_reply_next(r, i);
  }
  return count;
}

// libFuzzer target: the Redis Streams front (native/streams.c). Input: [selector][bytes...].
// Selector bit 0 set: the bytes are RESP, fed to the reply reader as the reader connection would (in
// input-chosen chunks), each complete reply handed to the start-reply handler (XREVRANGE) or the XREAD
// handler (bit 1). Bit 0 clear: the bytes are one entry's fields, split at 0xff into type, uid and data,
// for one of two namespace adapters (bit 2: its broadcasts go to JS, as with connection state recovery;
// bit 3: limits of 64 bytes / depth 3). Checks every record (well formed, its slices inside the batch,
// only broadcast and stream-entry records) and the last id (always "0-0", "$" or an entry id).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/adapter.h"
#include "../../native/resp.h"
#include "../../native/streams.h"
#include "batch_walk.h"

static hra_adapter_t *adapters[4];
static hra_streams_t *streams;
static hra_batch_t batch;
static hra_resp_t resp;

static void
init (void) {
  for (int i = 0; i < 4; i++) {
    hra_adapter_opts_t o;
    memset(&o, 0, sizeof(o));
    o.key = "socket.io";
    o.nsp = "/";
    o.uid = "a1a1a1a1a1a1a1a1";
    o.id = (uint32_t) i + 1;
    o.max_depth = i & 2 ? 3 : 100;
    o.max_message_bytes = i & 2 ? 64 : 1u << 20;
    o.seed = 7;
    o.sharded = 1;
    o.classic_pubsub = 1;
    o.js_broadcasts = i & 1;
    adapters[i] = hra_adapter_new(&o);
    if (adapters[i] == NULL) abort();
    if (hra_adapter_hold(adapters[i], 0, (const uint8_t *) "room1", 5) < 0) abort();
    if (hra_adapter_hold(adapters[i], 0, (const uint8_t *) "room2", 5) < 0) abort();
    if (hra_adapter_hold(adapters[i], 1, (const uint8_t *) "5", 1) < 0) abort();
  }
  streams = hra_streams_new("socket.io", 9);
  if (streams == NULL || hra_resp_reset(&resp) != HRA_OK) abort();
  resp.max_bytes = 1u << 22;
}

static hra_adapter_t *current;

static hra_adapter_t *
lookup (void *data, const uint8_t *nsp, size_t len) {
  (void) data;
  return len == 1 && nsp[0] == '/' ? current : NULL;
}

static void
check (void) {
  if (batch_walk(&batch) < 0) abort();
  size_t n = batch.words.len / 4;
  for (size_t i = 0; i < n; i += batch_walk_word(&batch, i + HRA_F_WORDS)) {
    uint32_t kind = batch_walk_word(&batch, i);
    if (kind == HRA_REC_BROADCAST) continue;
    if (kind != HRA_REC_STREAM) abort();
    uint32_t type = batch_walk_word(&batch, i + HRA_F_ST_TYPE);
    if (type < 3 || type > 6) abort();
    const size_t pairs[3] = { HRA_F_ST_DATA_OFF, HRA_F_ST_ID_OFF, HRA_F_ST_UID_OFF };
    for (int k = 0; k < 3; k++) {
      uint64_t off = batch_walk_word(&batch, i + pairs[k]), len = batch_walk_word(&batch, i + pairs[k] + 1);
      if (off + len > batch.bytes.len) abort();
    }
    if (batch_walk_word(&batch, i + HRA_F_ST_DATA_LEN) == 0) abort();
  }
  size_t idlen;
  const char *id = hra_streams_last_id(streams, &idlen);
  if (idlen == 0 || idlen > HRA_STREAMS_ID_MAX || id[idlen] != '\0') abort();
  if (!(idlen == 1 && id[0] == '$') && strchr(id, '-') == NULL) abort();
  hra_batch_reset(&batch);
}

// The next field of an entry: up to the next 0xff (absent, base NULL, once the input has ended).
static hra_slice_t
field (const uint8_t *data, size_t size, size_t *at, int *done) {
  hra_slice_t s = { NULL, 0 };
  if (*done) return s;
  const uint8_t *sep = memchr(data + *at, 0xff, size - *at);
  size_t end = sep ? (size_t) (sep - data) : size;
  s.base = data + *at;
  s.len = end - *at;
  if (sep)
    *at = end + 1;
  else
    *done = 1;
  return s;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (adapters[0] == NULL) init();
  if (size < 1) return 0;
  uint8_t sel = data[0];
  current = adapters[(sel >> 2) & 3];
  if (sel & 1) {
    // RESP replies, fed in chunks of (sel >> 4) + 1 bytes.
    size_t chunk = (size_t) (sel >> 4) + 1;
    for (size_t at = 1; at < size; at += chunk) {
      size_t n = size - at < chunk ? size - at : chunk;
      if (hra_resp_feed(&resp, (const char *) data + at, n) != HRA_OK) abort();
      hra_reply_t r;
      int rc;
      while ((rc = hra_resp_next(&resp, &r)) == 1) {
        if (sel & 2)
          (void) hra_streams_on_start_reply(streams, &r);
        else
          (void) hra_streams_on_reply(streams, &r, lookup, NULL, &batch);
        hra_resp_consumed(&resp);
        check();
      }
      if (rc < 0) {
        if (hra_resp_reset(&resp) != HRA_OK) abort();
        break;
      }
    }
    if (hra_resp_reset(&resp) != HRA_OK) abort();
    return 0;
  }
  size_t at = 1;
  int done = 0;
  hra_slice_t type = field(data, size, &at, &done);
  hra_slice_t uid = field(data, size, &at, &done);
  hra_slice_t body = field(data, size, &at, &done);
  hra_slice_t id = { (const uint8_t *) "1-0", 3 };
  hra_streams_on_entry(streams, current, id, uid, type, body, &batch);
  check();
  return 0;
}

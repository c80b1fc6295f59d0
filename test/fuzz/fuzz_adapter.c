// libFuzzer target: the whole receive pipeline of a namespace adapter (native/adapter.c), as Redis messages
// reach it: broadcasts (pattern and dynamic channels), requests and responses, in msgpack and JSON, with rooms
// held and requests pending so that responses get matched and merged. Input: a sequence of records
//   [selector byte][len hi][len lo][payload...]
// where the selector picks the channel (and, for some, the room suffix) and the adapter (pattern or dynamic,
// emitter). Every few records a request is started (its NUMSUB answered with a count from the input) and the
// clock moves so deadlines expire. Host callbacks check what the adapter hands back.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/adapter.h"
#include "batch_walk.h"

static hra_adapter_t *adapters[3];
static hra_batch_t batch;
static uint64_t clock_ms = 1000;
static uint32_t next_token = 1;
static uint32_t count_token;
static int count_pending;

static int
host_publish (void *data, const char *channel, size_t clen, const uint8_t *payload, size_t plen) {
  if (channel == NULL || (plen && payload == NULL)) abort();
  volatile uint8_t x = 0;
  for (size_t i = 0; i < plen; i++)
    x ^= payload[i];
  (void) x;
  return HRA_OK;
}

static int
host_numsub (void *data, hra_adapter_t *a, const char *channel, uint32_t token) {
  count_token = token;
  count_pending = 1;
  return HRA_OK;
}

static void
host_done (void *data, hra_adapter_t *a, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected) {
  if (len && payload == NULL) abort();
  volatile uint8_t x = 0;
  for (size_t i = 0; i < len; i++)
    x ^= payload[i];
  (void) x;
}

static uint64_t
host_now (void *data) {
  return clock_ms;
}

static void
host_schedule (void *data, uint64_t deadline) {
}

static void
init (void) {
  static const char *rooms[] = { "room1", "a", "b#c", "" };
  for (int i = 0; i < 3; i++) {
    hra_adapter_opts_t o;
    memset(&o, 0, sizeof(o));
    o.key = "socket.io";
    o.nsp = i == 1 ? "/chat" : "/";
    o.uid = "fuzzuid";
    o.id = (uint32_t) i;
    o.max_depth = 100;
    o.max_message_bytes = 1u << 20;
    o.seed = 42;
    o.specific_response_channel = i == 0;
    o.dynamic = i == 1;
    o.emitter = i == 2;
    adapters[i] = hra_adapter_new(&o);
    if (adapters[i] == NULL) abort();
    hra_adapter_host_t h = { NULL, host_publish, host_numsub, host_done, host_now, host_schedule };
    hra_adapter_set_host(adapters[i], &h);
    for (int k = 0; k < 4; k++) {
      if (hra_adapter_hold(adapters[i], 0, (const uint8_t *) rooms[k], strlen(rooms[k])) < 0) abort();
    }
    if (hra_adapter_hold(adapters[i], 1, (const uint8_t *) "5", 1) < 0) abort();
  }
}

static void
check_batch (void) {
  // Every record well formed, every (off, len) inside the bytes buffer.
  if (batch_walk(&batch) < 0) abort();
  hra_batch_reset(&batch);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (adapters[0] == NULL) init();
  size_t pos = 0;
  int records = 0;
  char channel[128];
  while (pos + 3 <= size && records < 64) {
    uint8_t sel = data[pos];
    size_t len = ((size_t) data[pos + 1] << 8) | data[pos + 2];
    pos += 3;
    if (len > size - pos) len = size - pos;
    hra_slice_t payload = { data + pos, len };
    pos += len;
    records++;
    hra_adapter_t *a = adapters[sel % 3];
    int which = (sel >> 2) % 8;
    hra_slice_t pattern = { NULL, 0 }, chan;
    int kind = 'm';
    const char *nsp = sel % 3 == 1 ? "/chat" : "/";
    switch (which) {
      case 0:  // broadcast on the main channel, by pattern
      case 1:  // ... on a room channel
        kind = 'p';
        snprintf(channel, sizeof(channel), "socket.io#%s#%s", nsp, which == 0 ? "" : ((sel >> 5) & 1) ? "room1#"
                                                                                                      : "5#");
        pattern.base = (const uint8_t *) hra_adapter_pattern(a);
        pattern.len = strlen((const char *) pattern.base);
        break;
      case 2:  // the dynamic mode's channels, by SUBSCRIBE
        snprintf(channel, sizeof(channel), "socket.io#%s#%s", nsp, ((sel >> 5) & 1) ? "a#" : "");
        break;
      case 3:
        snprintf(channel, sizeof(channel), "%s", hra_adapter_request_channel(a));
        break;
      case 4:
        snprintf(channel, sizeof(channel), "%s", hra_adapter_response_channel(a));
        break;
      case 5:
        snprintf(channel, sizeof(channel), "%s", hra_adapter_specific_channel(a));
        break;
      case 6:  // someone else's channel
        snprintf(channel, sizeof(channel), "socket.io-response#/#other#");
        break;
      default: {  // start a request, answer its NUMSUB with a count from the input, and move the clock
        int kinds[3] = { HRA_RT_ALL_ROOMS, HRA_RT_REMOTE_FETCH, HRA_RT_SERVER_SIDE_EMIT };
        int k = kinds[(sel >> 5) % 3];
        static const char frag_opts[] = "{\"rooms\":[],\"except\":[]}";
        static const char frag_data[] = "[\"ev\",1]";
        const char *frag = k == HRA_RT_REMOTE_FETCH ? frag_opts : k == HRA_RT_SERVER_SIDE_EMIT ? frag_data
                                                                                               : NULL;
        count_pending = 0;
        if (hra_adapter_request(a, k, next_token++, (const uint8_t *) frag, frag ? strlen(frag) : 0, 5000) == HRA_OK && count_pending) {
          count_pending = 0;
          hra_adapter_on_count(a, count_token, len ? (int64_t) (payload.base[0] % 5) - 1 : 3);
        }
        clock_ms += 700;
        for (int i = 0; i < 3; i++)
          (void) hra_adapter_expire(adapters[i], clock_ms);
        continue;
      }
    }
    chan.base = (const uint8_t *) channel;
    chan.len = strlen(channel);
    (void) hra_adapter_on_message(a, kind, pattern, chan, payload, &batch);
    check_batch();
  }
  return 0;
}

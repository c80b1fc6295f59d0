// libFuzzer target: the sharded adapter's receive path (native/sharded.c) on ClusterAdapter messages, JSON or
// msgpack, on the main, room and own response channels, with rooms joined and two request ids tracked so
// responses are matched. Input: [channel selector][payload...].
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/adapter_internal.h"
#include "batch_walk.h"

static hra_adapter_t *adapters[2];
static hra_batch_t batch;

static void
init (void) {
  for (int i = 0; i < 2; i++) {
    hra_adapter_opts_t o;
    memset(&o, 0, sizeof(o));
    o.key = "socket.io";
    o.nsp = "/";
    o.uid = "a1a1a1a1a1a1a1a1";
    o.id = (uint32_t) i;
    o.max_depth = 100;
    o.max_message_bytes = 1u << 20;
    o.seed = 7;
    o.sharded = 1;
    o.js_broadcasts = i == 1;
    adapters[i] = hra_adapter_new(&o);
    if (adapters[i] == NULL) abort();
    if (hra_adapter_hold(adapters[i], 0, (const uint8_t *) "room1", 5) < 0) abort();
    if (hra_adapter_hold(adapters[i], 0, (const uint8_t *) "room2", 5) < 0) abort();
    if (hra_adapter_hold(adapters[i], 1, (const uint8_t *) "5", 1) < 0) abort();
    hra_sharded_track(adapters[i], (const uint8_t *) "f000000000000001", 16, 1);
    hra_sharded_track(adapters[i], (const uint8_t *) "f000000000000002", 16, 1);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (adapters[0] == NULL) init();
  if (size < 1) return 0;
  static const char *channels[] = { "socket.io#/#", "socket.io#/#room1#", "socket.io#/#a1a1a1a1a1a1a1a1#", "socket.io#/#other#", "socket.io#/x#" };
  const char *ch = channels[data[0] % 5];
  hra_slice_t channel = { (const uint8_t *) ch, strlen(ch) };
  hra_slice_t payload = { data + 1, size - 1 };
  (void) hra_sharded_on_message(adapters[(data[0] >> 3) & 1], channel, payload, &batch);
  if (batch_walk(&batch) < 0) abort();
  hra_batch_reset(&batch);
  return 0;
}

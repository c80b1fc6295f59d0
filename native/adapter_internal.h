// The adapter's state and the receive-path helpers shared by the classic pipeline (adapter.c) and the
// sharded one (sharded.c). Internal to the addon: nothing outside native/ includes this.
#ifndef HRA_ADAPTER_INTERNAL_H
#define HRA_ADAPTER_INTERNAL_H

#include "adapter.h"
#include "encoder.h"
#include "envelope.h"
#include "mp.h"
#include "requests.h"
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
  hra_rooms_t *rooms;  // the rooms held here (membership itself is JS's)
  uint8_t *room_log;  // JS's log of rooms created and deleted since (rooms.h), owned by the glue; or NULL
  size_t room_log_cap;
  hra_targets_t targets;  // of the message being processed: its held rooms and exceptions (in keys or skeys)
  hra_room_key_t *keys;  // rooms then except of the message being processed
  size_t keys_cap;
  hra_buf_t numtext;  // canonical text of number rooms named by the message
  hra_buf_t out;  // the encoded packet string
  hra_slices_t attachments;
  hra_encoder_t enc;
  hra_adapter_stats_t stats;
  hra_adapter_host_t host;
  int has_host;
  int specific_responses;
  int raw_broadcasts;
  int emitter;
  int dynamic;
  hra_requests_t reqs;
  uint64_t rng;
  hra_buf_t msg;  // a request or response being composed
  hra_buf_t chan;  // a response channel name being composed
  int sharded;  // createShardedAdapter: SSUBSCRIBE'd channels, ClusterAdapter messages (sharded.c)
  int classic_pubsub;  // sharded: SUBSCRIBE'd instead (the streams adapter's requests and responses)
  int js_broadcasts;  // sharded: hand every broadcast to JS (custom parser, connection state recovery)
  hra_buf_t scratch;  // sharded: unescaped JSON strings of the message being processed
  hra_room_key_t *skeys;  // sharded: room keys of the message being processed
  hra_buf_t ckeys;  // sharded: object keys seen by the canonical-JSON check
  size_t skeys_cap;
};

// Applies what JS logged about rooms since the last message, before anything is looked up.
static inline void
hra_adapter__sync_rooms (hra_adapter_t *a) {
  uint32_t used;
  if (a->room_log == NULL) return;
  memcpy(&used, a->room_log, 4);
  if (used != 0) hra_rooms_apply_log(a->rooms, a->room_log, a->room_log_cap);
}

// A message was malformed, over a limit or of a shape we refuse: count it.
static inline void
hra_adapter__invalid (hra_adapter_t *a, int err) {
  a->stats.invalid++;
  a->stats.last_error = err;
}

#endif  // HRA_ADAPTER_INTERNAL_H

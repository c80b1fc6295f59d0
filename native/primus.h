// The Primus front (lib/primus.js), on the wire the same as primus-redis-rooms 0.3.2: every node
// PSUBSCRIBEs <channel>.* and publishes JSON.stringify({ room, data }) on <channel>.<its id>. For each
// message this front checks the pattern and skips the node's own channel, scans the JSON body (never
// builds it), reduces `room` to the JS string upstream's `rooms['+' + chunk.room]` would look up, asks
// the set of rooms held (rooms.h: keyed 32-bit fingerprints, the same set the socket.io adapter uses; a
// rare false yes reaches JS, whose table then has no such room) whether a local spark may be in that
// room, and only then writes a HRA_REC_PRIMUS record
// (batch.h) for JS, with the data member's bytes passed through when they are exactly what Primus's
// JSON encoder would send. Plain C, no Node-API: a fuzzer drives it directly.
#ifndef HRA_PRIMUS_H
#define HRA_PRIMUS_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "common.h"

typedef struct hra_primus_s hra_primus_t;

typedef struct {
  const char *channel;  // the `channel` option ("primus" by default)
  const char *id;  // this node's id (a uuid); it publishes on <channel>.<id>
  uint32_t js_id;  // written into every record: the JS object's id on its client
  uint32_t max_depth;  // deeper messages are dropped (counted)
  uint32_t max_message_bytes;  // larger messages are dropped (counted)
  uint64_t seed;  // key of the room set's fingerprints
} hra_primus_opts_t;

typedef struct {
  uint64_t received;  // messages on <channel>.* from other nodes
  uint64_t ignored_own;  // this node's own messages coming back
  uint64_t ignored_room;  // no local spark in the room (or nothing to deliver): dropped in C
  uint64_t delivered;  // records handed to JS
  uint64_t passthrough;  // ... whose data bytes are the packet as is (no JSON.parse in JS)
  uint64_t js_rooms;  // ... whose room string JS computes (an array, a string with a lone surrogate)
  uint64_t invalid;  // not of the shape primus-redis-rooms publishes (then handled as it would, or dropped)
  uint64_t dropped;  // invalid messages dropped because upstream would crash on them or they pass a limit
  int last_error;  // HRA_E* code of the last invalid message
} hra_primus_stats_t;

// NULL when out of memory. The strings are copied.
hra_primus_t *
hra_primus_new (const hra_primus_opts_t *o);

void
hra_primus_free (hra_primus_t *p);

// <channel>.* (PSUBSCRIBE) and <channel>.<id> (PUBLISH), NUL-terminated.
const char *
hra_primus_pattern (const hra_primus_t *p);

const char *
hra_primus_channel (const hra_primus_t *p);

// A room gained its first local spark (on = 1) or lost its last one (on = 0). name is the room's JS
// string as UTF-8 (a lone surrogate as U+FFFD, as Node-API converts it). Counted: two JS names with the
// same UTF-8 are two rooms. Returns HRA_OK, HRA_ENOMEM (nothing changed) or, for on = 0, 1 when
// nothing was held under that name.
int
hra_primus_presence (hra_primus_t *p, const uint8_t *name, size_t len, int on);

// Routes one pub/sub message (kind 'p' for a pmessage). Returns 1 when it came on this front's pattern,
// whatever became of it, else 0.
int
hra_primus_on_message (hra_primus_t *p, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch);

const hra_primus_stats_t *
hra_primus_stats (const hra_primus_t *p);

// Bytes held, for napi_adjust_external_memory.
size_t
hra_primus_memory (const hra_primus_t *p);

#endif  // HRA_PRIMUS_H

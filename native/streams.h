// The Redis Streams front (lib/streams.js), on the wire the same as @socket.io/redis-streams-adapter
// 0.3.x: every namespace writes `XADD <stream> MAXLEN ~ <maxLen> * uid <uid> nsp <nsp> type <type> data
// <data>`, and each server reads the stream with `XREAD COUNT <n> BLOCK <ms> STREAMS <stream> <last id>`.
// This front takes one XREAD reply, walks its entries, keeps the last id (every entry moves it, a
// malformed one too, so a poison entry is read once), drops the entries of other namespaces and this
// node's own, and hands each broadcast to the shared pipeline (room filter, one encoding, a
// HRA_REC_BROADCAST record). What JS must run (socketsJoin/Leave, disconnectSockets, broadcasts only the
// ClusterAdapter reproduces) becomes a HRA_REC_STREAM record with the entry id. Plain C, no Node-API.
#ifndef HRA_STREAMS_H
#define HRA_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "batch.h"
#include "common.h"
#include "resp.h"

// Longest entry id kept: "<ms>-<seq>", two uint64 in decimal.
#define HRA_STREAMS_ID_MAX 41

typedef struct hra_streams_s hra_streams_t;

// The namespace adapter for the `nsp` of an entry, or NULL when this server has none.
typedef hra_adapter_t *(*hra_streams_lookup_fn)(void *data, const uint8_t *nsp, size_t len);

typedef struct {
  uint64_t replies;  // XREAD replies with entries
  uint64_t entries;  // entries read
  uint64_t skipped;  // entries without nsp, or for a namespace this server does not have
  uint64_t ignored;  // entries of a type the stream never carries in 0.3.x (heartbeats, requests)
  uint64_t invalid;  // replies or entries not of the shape Redis or upstream write (no adapter to count them)
} hra_streams_stats_t;

// NULL when out of memory. The stream name is copied.
hra_streams_t *
hra_streams_new (const char *stream, size_t len);

void
hra_streams_free (hra_streams_t *s);

const char *
hra_streams_name (const hra_streams_t *s, size_t *len);

// The id the next XREAD starts after. Before the first XREAD the reader asks for the stream's last entry
// (XREVRANGE <stream> + - COUNT 1) and starts after it ("0-0" for an empty or missing stream), so no read
// ever uses "$": what is written while a reader is away, even before it has read its first entry, is read
// when it is back.
const char *
hra_streams_last_id (const hra_streams_t *s, size_t *len);

// 1 once the starting id is known (hra_streams_on_start_reply took an answer).
int
hra_streams_started (const hra_streams_t *s);

// Takes the answer to XREVRANGE <stream> + - COUNT 1. HRA_OK, or HRA_EINVAL when it is not one (ask again).
int
hra_streams_on_start_reply (hra_streams_t *s, const hra_reply_t *r);

// Takes one XREAD reply (nil: the block timed out). Returns the number of entries read, or HRA_EINVAL
// when the reply is not an XREAD answer (counted; nothing changes).
int
hra_streams_on_reply (hra_streams_t *s, const hra_reply_t *r, hra_streams_lookup_fn lookup, void *lookup_data, hra_batch_t *batch);

// One entry's fields (uid, nsp, type, data; absent ones have base NULL) for the adapter of its
// namespace; id is its entry id. Used by hra_streams_on_reply; a fuzzer drives it directly.
void
hra_streams_on_entry (hra_streams_t *s, hra_adapter_t *a, hra_slice_t id, hra_slice_t uid, hra_slice_t type, hra_slice_t data, hra_batch_t *batch);

const hra_streams_stats_t *
hra_streams_stats (const hra_streams_t *s);

#endif  // HRA_STREAMS_H

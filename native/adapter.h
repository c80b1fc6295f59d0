// The classic adapter's receive pipeline for one namespace node (spec 1.3): channel checks, the
// native room index, envelope decoding, own-uid and namespace checks, target selection and packet
// encoding, appending deliveries to a batch (batch.h) that JS consumes once per read wakeup. Plain C.
// hra_adapter_new copies its strings; hra_adapter_free releases everything it owns.
#ifndef HRA_ADAPTER_H
#define HRA_ADAPTER_H

#include <stdint.h>

#include "batch.h"
#include "common.h"

// Request kinds (the upstream RequestType codes) for hra_adapter_request / hra_adapter_respond.
enum {
  HRA_RT_SOCKETS = 0,
  HRA_RT_ALL_ROOMS = 1,
  HRA_RT_REMOTE_JOIN = 2,
  HRA_RT_REMOTE_LEAVE = 3,
  HRA_RT_REMOTE_DISCONNECT = 4,
  HRA_RT_REMOTE_FETCH = 5,
  HRA_RT_SERVER_SIDE_EMIT = 6,
  HRA_RT_BROADCAST = 7,
  HRA_RT_BROADCAST_CLIENT_COUNT = 8,
  HRA_RT_BROADCAST_ACK = 9
};

// Completion statuses passed to host->done.
enum {
  HRA_DONE_OK = 0,
  HRA_DONE_TIMEOUT = 1,
  HRA_DONE_NOTCONN = 2,
  HRA_DONE_REFUSED = 3,  // Redis answered the request's PUBSUB NUMSUB with an error (e.g. NOPERM)
  HRA_DONE_CLOSED = 4  // the Redis client (a connection the request needs) was closed first
};

typedef struct hra_adapter_s hra_adapter_t;

// What the adapter needs from its environment (the binding): the command connection and the clock.
typedef struct {
  void *data;
  // PUBLISH through the command connection; HRA_OK or HRA_ENOTCONN (dropped).
  int (*publish)(void *data, const char *channel, size_t clen, const uint8_t *payload, size_t plen);
  // PUBSUB NUMSUB channel; the answer comes back through hra_adapter_on_count(token, ...).
  int (*numsub)(void *data, hra_adapter_t *a, const char *channel, uint32_t token);
  // A request finished: payload is a JSON array text of the merged answers (partial on timeout), or
  // for an emitter's broadcast with acks a msgpack array.
  void (*done)(void *data, hra_adapter_t *a, uint32_t token, int status, const uint8_t *payload, size_t len, int64_t received, int64_t expected);
  uint64_t (*now)(void *data);
  // A deadline was set: make sure hra_adapter_expire runs by then.
  void (*schedule)(void *data, uint64_t deadline);
} hra_adapter_host_t;

#define HRA_BFLAG_VOLATILE 1u
#define HRA_BFLAG_COMPRESS_FALSE 2u

typedef struct {
  uint64_t received;  // broadcast messages seen on this node's channels
  uint64_t ignored_room;  // dropped before decoding: the node holds no such room
  uint64_t ignored_own;  // our own publish echoed back
  uint64_t ignored_nsp;  // for another namespace
  uint64_t ignored_no_target;  // decoded, but the node holds none of its rooms (JS counts the deliveries)
  uint64_t invalid;  // malformed, over a limit, or of a shape we refuse
  uint64_t requests;  // request-channel messages handed to JS
  uint64_t responses;  // responses matched to a pending request of ours
  uint64_t responses_ignored;  // responses for requests of other nodes, or finished ones
  uint64_t pending;  // requests and ack broadcasts currently pending
  int last_error;  // HRA_E* code of the last invalid message
} hra_adapter_stats_t;

typedef struct {
  const char *key;
  const char *nsp;
  const char *uid;
  uint32_t id;  // the JS-side adapter id written into batch records
  uint32_t max_depth;
  uint32_t max_message_bytes;
  uint64_t seed;  // hash seed for the room index
  int specific_response_channel;  // publishOnSpecificResponseChannel
  int raw_broadcasts;  // the server uses a custom parser: hand JS the packet data instead of bytes
  int emitter;  // an Emitter, not a server: it does not answer nor count itself among the servers
  int dynamic;  // subscriptionMode 'dynamic': broadcasts arrive by SUBSCRIBE on K#N# and K#N#room#
  int sharded;  // createShardedAdapter (protocol.md 2): key is the channelPrefix
  int js_broadcasts;  // sharded: broadcasts go to JS as HRA_REC_SHARDED records (CSR, custom parser)
  int classic_pubsub;  // sharded: the same channels and messages over SUBSCRIBE/PUBLISH (the streams adapter)
} hra_adapter_opts_t;

hra_adapter_t *
hra_adapter_new (const hra_adapter_opts_t *opts);

void
hra_adapter_free (hra_adapter_t *a);

// The channels this node subscribes to (NUL-terminated; lengths via strlen).
const char *
hra_adapter_pattern (const hra_adapter_t *a);  // K#N#*  (PSUBSCRIBE)

const char *
hra_adapter_prefix (const hra_adapter_t *a);  // K#N#  (SUBSCRIBE in dynamic mode; room channels extend it)

int
hra_adapter_is_dynamic (const hra_adapter_t *a);

const char *
hra_adapter_request_channel (const hra_adapter_t *a);  // K-request#N#

const char *
hra_adapter_response_channel (const hra_adapter_t *a);  // K-response#N#

const char *
hra_adapter_specific_channel (const hra_adapter_t *a);  // K-response#N#uid# (sharded: P#N#uid#)

// Sharded: the main channel P#N# (SSUBSCRIBE, SPUBLISH, PUBSUB SHARDNUMSUB).
const char *
hra_adapter_main_channel (const hra_adapter_t *a);

int
hra_adapter_is_sharded (const hra_adapter_t *a);

// Sharded: the subscription kind of its channels, 's' (SSUBSCRIBE) or 'c' (SUBSCRIBE: classic_pubsub).
int
hra_sharded_kind (const hra_adapter_t *a);

// Sharded (sharded.c's front): routes one SSUBSCRIBE'd message (kind 's'); 1 when the channel belongs to
// this adapter. No Node dependency: a fuzzer can drive it with an adapter from hra_adapter_new
// (opts.sharded = 1). hra_adapter_on_message ignores the messages of a sharded adapter.
int
hra_sharded_on_message (hra_adapter_t *a, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch);

// Sharded: writes the room channel P#N#<room># into out (reset first).
int
hra_sharded_room_channel (hra_adapter_t *a, const uint8_t *room, size_t len, hra_buf_t *out);

// Sharded: a request id of this node's ClusterAdapter is pending (on = 1) or finished (on = 0).
// Responses whose id is not pending are dropped in C and counted in responses_ignored.
int
hra_sharded_track (hra_adapter_t *a, const uint8_t *id, size_t len, int on);

// The rooms held here (rooms.h): JS created (hold) or deleted (release) a room. kind: 0 string room, 1 number
// room (name is the JS String(number) text). hold returns HRA_OK or an HRA_E* code, release 1 or 0.
int
hra_adapter_hold (hra_adapter_t *a, int kind, const uint8_t *name, size_t len);

int
hra_adapter_release (hra_adapter_t *a, int kind, const uint8_t *name, size_t len);

// The room log JS writes (rooms.h), borrowed: the caller keeps it alive and unmoved until it sets another (or
// NULL), and may call hra_adapter_sync_rooms at any time; messages apply it first on their own.
void
hra_adapter_set_room_log (hra_adapter_t *a, uint8_t *log, size_t cap);

void
hra_adapter_sync_rooms (hra_adapter_t *a);

// Routes one pub/sub message. Returns 1 when it belonged to this adapter (whatever became of it).
int
hra_adapter_on_message (hra_adapter_t *a, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch);

void
hra_adapter_set_host (hra_adapter_t *a, const hra_adapter_host_t *host);

// Starts a request of kind HRA_RT_ALL_ROOMS, HRA_RT_REMOTE_FETCH (fragment: the JSON of opts) or
// HRA_RT_SERVER_SIDE_EMIT with an ack (fragment: the JSON of the data array): PUBSUB NUMSUB, then
// PUBLISH, then answers are merged until the count is reached or timeout_ms passes. Completion goes
// to host->done. Returns HRA_OK, or HRA_ENOTCONN / HRA_ENOMEM (then done is never called).
int
hra_adapter_request (hra_adapter_t *a, int kind, uint32_t token, const uint8_t *fragment, size_t flen, uint32_t timeout_ms);

#define HRA_COUNT_REFUSED (-2)  // for hra_adapter_on_count: Redis answered NUMSUB with an error
#define HRA_COUNT_CLOSED (-3)  // for hra_adapter_on_count: the connection was closed before NUMSUB was answered

// The NUMSUB answer for a request (count < 0: the command failed).
void
hra_adapter_on_count (hra_adapter_t *a, uint32_t token, int64_t count);

// Publishes a broadcast-with-acks request: the msgpack map {uid, requestId, type: 7, packet, opts}
// built from the msgpack of packet and opts; client counts and acks for it come back as batch
// records until timeout_ms passes.
int
hra_adapter_broadcast_ack (hra_adapter_t *a, uint32_t token, const uint8_t *packet, size_t plen, const uint8_t *opts, size_t olen, uint32_t timeout_ms);

// An emitter's broadcast with acks: PUBSUB NUMSUB gives the number of servers, then the msgpack
// request {uid, requestId, type: 7, packet, opts} is published; each server's client count and
// every client ack are merged here. done gets a msgpack array of the acks (partial on timeout).
int
hra_adapter_emit_ack (hra_adapter_t *a, uint32_t token, const uint8_t *packet, size_t plen, const uint8_t *opts, size_t olen, uint32_t timeout_ms);

// Answers another node's request (kind is the request's type; 8 and 9 for client counts and acks).
// payload: JSON text (kinds 0, 1, 5, 6), decimal count (8), msgpack (9), or NULL (nothing / undefined).
int
hra_adapter_respond (hra_adapter_t *a, int kind, const uint8_t *rid, size_t rid_len, const uint8_t *uid, size_t uid_len, const uint8_t *payload, size_t plen, int has_payload);

// Completes every request whose deadline has passed; returns the next deadline (UINT64_MAX: none).
uint64_t
hra_adapter_expire (hra_adapter_t *a, uint64_t now);

// Completes every pending request with status (HRA_DONE_NOTCONN, HRA_DONE_CLOSED): a connection the
// requests need was lost or closed, so no answer can come. Requests started from inside done are
// left alone.
void
hra_adapter_fail_requests (hra_adapter_t *a, int status);

// Forgets every pending request without calling done (close(): JS rejects its own promises).
void
hra_adapter_forget_requests (hra_adapter_t *a);

const hra_adapter_stats_t *
hra_adapter_stats (const hra_adapter_t *a);

size_t
hra_adapter_memory (const hra_adapter_t *a);

#endif  // HRA_ADAPTER_H

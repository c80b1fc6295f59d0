// The classic adapter's receive pipeline for one namespace node (spec 1.3): channel checks, the
// native room index, envelope decoding, own-uid and namespace checks, target selection and packet
// encoding, appending deliveries to a batch that JS consumes once per read wakeup. Plain C.
// hra_adapter_new copies its strings; hra_adapter_free releases everything it owns.
#ifndef HRA_ADAPTER_H
#define HRA_ADAPTER_H

#include <stdint.h>

#include "common.h"

typedef struct hra_adapter_s hra_adapter_t;

// A batch is a list of records in `words` (uint32) whose strings and attachments live in `bytes`.
// HRA_REC_BROADCAST: kind, adapter id, flags, off, len, natt, (off, len) x natt, ntargets, slot x ntargets
//   bytes[off] is '4' (the engine.io message type) followed by the socket.io packet string.
// HRA_REC_REQUEST / HRA_REC_RESPONSE: kind, adapter id, off, len (the raw payload)
enum {
  HRA_REC_BROADCAST = 1,
  HRA_REC_REQUEST = 2,
  HRA_REC_RESPONSE = 3
};

#define HRA_BFLAG_VOLATILE 1u
#define HRA_BFLAG_COMPRESS_FALSE 2u

typedef struct {
  hra_buf_t bytes;
  hra_buf_t words;
  size_t records;
} hra_batch_t;

typedef struct {
  uint64_t received;  // broadcast messages seen on this node's channels
  uint64_t delivered;  // broadcast messages delivered to at least one local socket
  uint64_t deliveries;  // socket deliveries
  uint64_t ignored_room;  // dropped before decoding: the node holds no such room
  uint64_t ignored_own;  // our own publish echoed back
  uint64_t ignored_nsp;  // for another namespace
  uint64_t ignored_no_target;  // decoded, but no local socket matched
  uint64_t invalid;  // malformed, over a limit, or of a shape we refuse
  uint64_t requests;  // request-channel messages handed to JS
  uint64_t responses;  // response-channel messages handed to JS
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
} hra_adapter_opts_t;

hra_adapter_t *
hra_adapter_new (const hra_adapter_opts_t *opts);

void
hra_adapter_free (hra_adapter_t *a);

// The channels this node subscribes to (NUL-terminated; lengths via strlen).
const char *
hra_adapter_pattern (const hra_adapter_t *a);  // K#N#*  (PSUBSCRIBE)

const char *
hra_adapter_request_channel (const hra_adapter_t *a);  // K-request#N#

const char *
hra_adapter_response_channel (const hra_adapter_t *a);  // K-response#N#

const char *
hra_adapter_specific_channel (const hra_adapter_t *a);  // K-response#N#uid#

// Room membership mirror. kind: 0 string room, 1 number room (name is the JS String(number) text).
int
hra_adapter_join (hra_adapter_t *a, uint32_t slot, int kind, const uint8_t *name, size_t len);

int
hra_adapter_leave (hra_adapter_t *a, uint32_t slot, int kind, const uint8_t *name, size_t len);

int
hra_adapter_leave_all (hra_adapter_t *a, uint32_t slot);

// Routes one pub/sub message. Returns 1 when it belonged to this adapter (whatever became of it).
int
hra_adapter_on_message (hra_adapter_t *a, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload, hra_batch_t *batch);

const hra_adapter_stats_t *
hra_adapter_stats (const hra_adapter_t *a);

size_t
hra_adapter_memory (const hra_adapter_t *a);

#endif  // HRA_ADAPTER_H

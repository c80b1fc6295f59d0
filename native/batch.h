// The records handed to JS once per read wakeup. This file is their one writer; lib/batch.js is their one
// reader. Plain C, no Node-API.
//
// A batch is a list of records in `words` (uint32) whose strings and attachments live in `bytes`, referenced
// by (offset, length) pairs. Every record starts with a header of HRA_BATCH_HEADER words:
//   kind, total words of the record (header included), adapter id, position of its target list (0: none)
// so a reader can step over a record it does not know. The other fields sit at the HRA_F_* positions
// (relative to the record's first word), exported to JS as F_* constants:
//   HRA_REC_BROADCAST: flags, off, len, natt, then (off, len) x natt, then a target list.
//     bytes[off] is '4' (the engine.io message type) followed by the socket.io packet string.
//   HRA_REC_RAW_BROADCAST: flags, type, data off, data len, id off, id len (0: none), target list:
//     a broadcast for a server with a custom parser (JS encodes it).
//   HRA_REC_BCAST_ACK: off, len, split, rid off, rid len, uid off, uid len, natt, (off, len) x natt, target
//     list: another server's broadcast with acks, to run locally. The packet string has no ack id; JS
//     inserts the id at byte `split` of the string (0xffffffff: the packet data is msgpack, JS encodes).
//   HRA_REC_REQUEST / HRA_REC_RESPONSE: off, len (the raw payload)
//   HRA_REC_SHARDED: off, len, route: a sharded ClusterAdapter message for JS; route 1: it came on this
//     node's response channel (onResponse), 0 otherwise (onMessage).
//   HRA_REC_ACK_COUNT: token, count (a server's client count for a broadcast with acks)
//   HRA_REC_ACK_VALUE: token, off, len (msgpack of one client's ack argument)
//   HRA_REC_DONE: token, status, received, expected, off, len: a request finished (HRA_DONE_*), with the
//     merged answers; received and expected are int32 (-1: unknown).
//   HRA_REC_PRIMUS: flags, room off, room len, data off, data len: a Primus message (primus.c) for a room
//     with local sparks. Flags (HRA_PR_*): ROOM_JSON, the room bytes are the JSON text of the room value
//     and JS computes its string ('' + JSON.parse(text)), else they are the room's JS string in UTF-8;
//     DATA_ABSENT, no data member (upstream writes undefined); DATA_PACKET, the data bytes are exactly
//     what Primus's JSON encoder would send (canonical JSON, U+2028/U+2029 escaped), else they are the
//     data member's JSON text for JS to parse.
//   HRA_REC_STREAM: type, flags, data off, data len, id off, id len, uid off, uid len: a stream entry (streams.c) for the
//     ClusterAdapter, with its entry id (the offset). Flags: HRA_ST_JSON, the data is JSON text, else the
//     msgpack bytes its base64 `data` field held.
//
// A target list says which local sockets get the record, by rooms (JS holds the membership, in the adapter's
// `rooms`/`sids` Maps, and walks it as socket.io-adapter's apply() does). It is either a marker alone:
//   HRA_TARGETS_ALL: every local socket of the adapter (no rooms, no exception held here), in JS's own
//     first-join order;
//   HRA_TARGETS_SAME: the same rooms as the last target list written in this batch, which was for the same
//     adapter (a burst to one room costs one list, not one per message);
// or nrooms, nexcept, then (off, len) x (nrooms + nexcept): the rooms, then the exceptions, each a name in
//   `bytes`, its len word or'ed with HRA_TARGET_NUM for a room joined with a number (JS key: Number(name)).
//   Only rooms this node holds are listed; nrooms == 0 means every local socket minus the exceptions.
// A batch has a size cap: the glue flushes it to JS between two messages once hra_batch_full() says so.
#ifndef HRA_BATCH_H
#define HRA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "rooms.h"

enum {
  HRA_REC_BROADCAST = 1,
  HRA_REC_REQUEST = 2,
  HRA_REC_RESPONSE = 3,
  HRA_REC_ACK_COUNT = 5,
  HRA_REC_ACK_VALUE = 6,
  HRA_REC_BCAST_ACK = 7,
  HRA_REC_RAW_BROADCAST = 8,
  HRA_REC_SHARDED = 9,
  HRA_REC_DONE = 10,
  HRA_REC_PRIMUS = 11,
  HRA_REC_STREAM = 12
};

#define HRA_PR_ROOM_JSON 1u
#define HRA_PR_DATA_ABSENT 2u
#define HRA_PR_DATA_PACKET 4u

#define HRA_ST_JSON 1u

#define HRA_BATCH_HEADER 4u
#define HRA_TARGETS_ALL 0xffffffffu
#define HRA_TARGETS_SAME 0xfffffffeu
#define HRA_TARGET_NUM 0x80000000u
#define HRA_BATCH_DEFAULT_CAP (4u << 20)

// Field positions, relative to a record's first word (the header is words 0-3).
enum {
  HRA_F_KIND = 0,
  HRA_F_WORDS = 1,
  HRA_F_ADAPTER = 2,
  HRA_F_TARGETS_AT = 3,
  // HRA_REC_BROADCAST
  HRA_F_BC_FLAGS = 4,
  HRA_F_BC_OFF = 5,
  HRA_F_BC_LEN = 6,
  HRA_F_BC_NATT = 7,
  HRA_F_BC_ATT = 8,
  // HRA_REC_RAW_BROADCAST
  HRA_F_RAW_FLAGS = 4,
  HRA_F_RAW_TYPE = 5,
  HRA_F_RAW_DATA_OFF = 6,
  HRA_F_RAW_DATA_LEN = 7,
  HRA_F_RAW_ID_OFF = 8,
  HRA_F_RAW_ID_LEN = 9,
  // HRA_REC_BCAST_ACK
  HRA_F_BA_OFF = 4,
  HRA_F_BA_LEN = 5,
  HRA_F_BA_SPLIT = 6,
  HRA_F_BA_RID_OFF = 7,
  HRA_F_BA_RID_LEN = 8,
  HRA_F_BA_UID_OFF = 9,
  HRA_F_BA_UID_LEN = 10,
  HRA_F_BA_NATT = 11,
  HRA_F_BA_ATT = 12,
  // HRA_REC_REQUEST, HRA_REC_RESPONSE, HRA_REC_SHARDED
  HRA_F_MSG_OFF = 4,
  HRA_F_MSG_LEN = 5,
  HRA_F_MSG_ROUTE = 6,
  // HRA_REC_ACK_COUNT, HRA_REC_ACK_VALUE
  HRA_F_ACK_TOKEN = 4,
  HRA_F_ACK_COUNT = 5,
  HRA_F_ACK_OFF = 5,
  HRA_F_ACK_LEN = 6,
  // HRA_REC_DONE
  HRA_F_DONE_TOKEN = 4,
  HRA_F_DONE_STATUS = 5,
  HRA_F_DONE_RECEIVED = 6,
  HRA_F_DONE_EXPECTED = 7,
  HRA_F_DONE_OFF = 8,
  HRA_F_DONE_LEN = 9,
  // HRA_REC_PRIMUS
  HRA_F_PR_FLAGS = 4,
  HRA_F_PR_ROOM_OFF = 5,
  HRA_F_PR_ROOM_LEN = 6,
  HRA_F_PR_DATA_OFF = 7,
  HRA_F_PR_DATA_LEN = 8,
  // HRA_REC_STREAM
  HRA_F_ST_TYPE = 4,
  HRA_F_ST_FLAGS = 5,
  HRA_F_ST_DATA_OFF = 6,
  HRA_F_ST_DATA_LEN = 7,
  HRA_F_ST_ID_OFF = 8,
  HRA_F_ST_ID_LEN = 9,
  HRA_F_ST_UID_OFF = 10,
  HRA_F_ST_UID_LEN = 11
};

typedef struct {
  hra_buf_t bytes;
  hra_buf_t words;
  size_t records;
  size_t cap;  // bytes + words past which hra_batch_full() is true (0: HRA_BATCH_DEFAULT_CAP)
  size_t start;  // word index of the record being written
  // The last explicit target list of this batch, for HRA_TARGETS_SAME: its rooms, copied (kind, length, bytes
  // each), since the names it points to in `bytes` cannot be compared without knowing where each ends.
  hra_buf_t last;
  size_t last_nrooms;
  size_t last_nexcept;
  size_t last_list;  // word index of its first word, when has_last
  uint32_t last_adapter;
  int has_last;
} hra_batch_t;

// A target list to write: rooms then exceptions (only those held here), or every local socket (then keys may
// be empty).
typedef struct {
  const hra_room_key_t *keys;
  size_t nrooms;
  size_t nexcept;
  int all;
} hra_targets_t;

// Opens a record of `kind` for adapter `adapter`, reserving room for `words` more words and `bytes` bytes
// (a record writes within what it reserved, so the appends below cannot fail). Returns HRA_OK, HRA_ELIMIT
// (the batch would pass 4 GiB of bytes) or HRA_ENOMEM; on error nothing was written.
int
hra_batch_begin (hra_batch_t *b, uint32_t kind, uint32_t adapter, size_t words, size_t bytes);

void
hra_batch_word (hra_batch_t *b, uint32_t w);

// Appends p[0..n) to `bytes` and writes its (offset, length) pair.
void
hra_batch_slice (hra_batch_t *b, const void *p, size_t n);

// Appends bytes (no words): for a string built in pieces. Returns the offset it starts at.
uint32_t
hra_batch_bytes (hra_batch_t *b, const void *p, size_t n);

// Writes a target list (counts + rooms, or a marker) and records its position in the header. Room names longer
// than what fits a len word (2^31 bytes) must not be passed.
void
hra_batch_targets (hra_batch_t *b, hra_targets_t t);

// Closes the record: its length goes into the header.
void
hra_batch_end (hra_batch_t *b);

// Drops the record being written (after hra_batch_begin, before hra_batch_end).
void
hra_batch_cancel (hra_batch_t *b);

// Words to reserve for a target list.
static inline size_t
hra_batch_targets_words (hra_targets_t t) {
  return t.all ? 1 : 2 + 2 * (t.nrooms + t.nexcept);
}

// Bytes to reserve for a target list (its room names).
static inline size_t
hra_batch_targets_bytes (hra_targets_t t) {
  size_t n = 0;
  if (!t.all) {
    for (size_t i = 0; i < t.nrooms + t.nexcept; i++)
      n += t.keys[i].len;
  }
  return n;
}

// The whole HRA_REC_BROADCAST record: '4' + packet, its attachments, its targets.
int
hra_batch_broadcast (hra_batch_t *b, uint32_t adapter, uint32_t flags, hra_slice_t packet, const hra_slice_t *att, size_t natt, hra_targets_t t);

// A record of (off, len) for one payload, plus `extra` words after it (HRA_REC_REQUEST/RESPONSE/SHARDED).
int
hra_batch_message (hra_batch_t *b, uint32_t kind, uint32_t adapter, hra_slice_t payload, const uint32_t *extra, size_t nextra);

// 1 when the batch has reached its cap and should be handed to JS before the next message.
int
hra_batch_full (const hra_batch_t *b);

// Empties the batch after JS has had it (keeps its buffers unless they grew past the cap).
void
hra_batch_reset (hra_batch_t *b);

void
hra_batch_free (hra_batch_t *b);

#endif  // HRA_BATCH_H

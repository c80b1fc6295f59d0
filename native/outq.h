// The commands of one connection, in order, each with the callback its reply goes to. A connection uses one
// queue for its wire (written, or waiting to be) and one for what it holds while it has no connection. Bytes
// are kept until the command is popped (answered, or moved elsewhere), so that what a lost connection's peer
// never received can be sent again. They live in chunks that never move once written into (a write in
// flight points into them); a command never spans two chunks. Offsets count every byte ever queued. No
// libuv or Node dependency.
#ifndef HRA_OUTQ_H
#define HRA_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "resp.h"

typedef struct hra_conn_s hra_conn_t;

// The reply callback gets reply == NULL and err < 0 (HRA_E* or a libuv code) when the command never
// got an answer (connection lost or closed). An error reply from Redis comes as a HRA_R_ERROR node.
typedef void (*hra_reply_cb)(hra_conn_t *conn, const hra_reply_t *reply, int err, void *data);

typedef struct {
  hra_reply_cb cb;  // NULL: fire and forget (PUBLISH)
  void *data;
  size_t len;  // bytes of the command (set when queued)
  uint64_t t_ms;  // when it was first queued (kept when moved to another queue)
  uint32_t expect;  // subscription confirmations still expected (0: a plain command)
  uint8_t internal;  // an internal command whose cb gets the conn itself as data
  uint8_t sub_kind;  // with expect: 'c', 'p' or 's', and whether it subscribes (1) or unsubscribes
  uint8_t sub_dir;
  uint8_t abandoned;  // its callback already had ENOTCONN: a late reply is dropped
} hra_outq_entry_t;

typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
  uint64_t start;  // offset of data[0]
} hra_outq_chunk_t;

typedef struct {
  hra_outq_chunk_t *chunks;  // chunks[0] holds the oldest bytes not released
  size_t nchunks;
  size_t chunks_cap;
  hra_outq_chunk_t spare;  // a released chunk kept for reuse
  uint64_t head;  // offset of the first byte not released (the front entry's first byte)
  uint64_t wpos;  // offset of the first byte not handed to a write
  uint64_t end;  // offset past the last byte
  uint64_t wip;  // while writing: offset where the write in flight starts
  int writing;
  hra_outq_entry_t *ents;
  size_t ents_cap;
  size_t ents_head;
  size_t ents_len;
} hra_outq_t;

void
hra_outq_free (hra_outq_t *q);

// Formats argv as a RESP command at the end and queues e (its len is set). HRA_OK or HRA_ENOMEM (nothing
// queued).
int
hra_outq_push (hra_outq_t *q, const hra_outq_entry_t *e, int argc, const char **argv, const size_t *argvlen);

// Queues e with bytes already formatted (len bytes, e->len is set to it). HRA_OK or HRA_ENOMEM.
int
hra_outq_push_raw (hra_outq_t *q, const hra_outq_entry_t *e, const uint8_t *bytes, size_t len);

static inline size_t
hra_outq_count (const hra_outq_t *q) {
  return q->ents_len;
}

// Bytes queued and not released: unanswered, or not written yet.
static inline size_t
hra_outq_bytes (const hra_outq_t *q) {
  return (size_t) (q->end - q->head);
}

// Bytes not handed to a write yet.
static inline size_t
hra_outq_unwritten (const hra_outq_t *q) {
  return (size_t) (q->end - q->wpos);
}

static inline hra_outq_entry_t *
hra_outq_front (hra_outq_t *q) {
  return q->ents_len ? &q->ents[q->ents_head] : NULL;
}

static inline hra_outq_entry_t *
hra_outq_back (hra_outq_t *q) {
  return q->ents_len ? &q->ents[(q->ents_head + q->ents_len - 1) % q->ents_cap] : NULL;
}

// The i-th entry from the front (i < count).
static inline hra_outq_entry_t *
hra_outq_at (hra_outq_t *q, size_t i) {
  return &q->ents[(q->ents_head + i) % q->ents_cap];
}

// The front entry's bytes (its len of them), valid until it is popped. NULL when empty.
const uint8_t *
hra_outq_front_bytes (const hra_outq_t *q);

// Takes the front entry (into *out unless NULL) and releases its bytes. The queue must not be empty.
void
hra_outq_pop (hra_outq_t *q, hra_outq_entry_t *out);

// Drops the front entries queued more than max_age ms before now; returns how many.
size_t
hra_outq_expire (hra_outq_t *q, uint64_t now, uint64_t max_age);

// Moves the front entry of src to the end of dst, bytes copied. HRA_OK, or HRA_ENOMEM: it is dropped.
int
hra_outq_move_front (hra_outq_t *dst, hra_outq_t *src);

// Moves every entry of src to the end of dst, in order; returns how many were dropped (no memory).
size_t
hra_outq_move_all (hra_outq_t *dst, hra_outq_t *src);

// Fills bufs (at most max) with the bytes not yet handed to a write, each slice at most max_slice bytes.
// Returns the number of slices; *total gets their byte count.
unsigned
hra_outq_pending (const hra_outq_t *q, hra_slice_t *bufs, unsigned max, size_t max_slice, size_t *total);

// A write of the next n bytes started: they stay in place until hra_outq_write_done.
void
hra_outq_written (hra_outq_t *q, size_t n);

void
hra_outq_write_done (hra_outq_t *q);

#endif  // HRA_OUTQ_H

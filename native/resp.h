// Reply parsing: hiredis's reader (redisReaderCreateWithFunctions) with reply functions of our own that allocate
// nothing per reply. Each complete reply is a flat pre-order list of nodes plus an arena holding the string
// bytes, copied at once because the reader compacts its buffer. No libuv or Node dependency (fuzzed alone).
#ifndef HRA_RESP_H
#define HRA_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

// Reply nodes, in pre-order: an array node is followed by its elements (each with its subtree).
enum {
  HRA_R_STRING = 1,
  HRA_R_STATUS,
  HRA_R_ERROR,
  HRA_R_INTEGER,
  HRA_R_NIL,
  HRA_R_ARRAY,
  HRA_R_DOUBLE,
  HRA_R_BOOL
};

typedef struct {
  uint8_t type;
  uint32_t len;  // string length, or element count of an array
  int64_t integer;
  size_t off;  // offset of the string bytes in the reply's data
} hra_reply_node_t;

typedef struct {
  const hra_reply_node_t *nodes;
  size_t count;
  const uint8_t *data;  // string bytes: node.off is relative to this
} hra_reply_t;

typedef struct {
  void *reader;  // redisReader *
  hra_reply_node_t *nodes;
  size_t nnodes;
  size_t cap_nodes;
  hra_buf_t strs;
  int oom;
  // Bound of one reply's parsed form (its node list plus its string arena), in bytes; 0: none. Kept
  // across hra_resp_reset. A reply that would exceed it fails with HRA_ELIMIT, whatever its shape: an
  // array of millions of small integers costs more here than on the wire.
  size_t max_bytes;
  int too_big;
  // Bytes fed and not yet parsed. Arrays of bulk strings (every pub/sub message) are parsed here directly,
  // without copying: their nodes point into `in`. Any other reply is handed to hiredis's reader exactly, once
  // complete, so that the reader is empty between replies; what cannot be sized goes to the reader
  // HRA_RESP_CHUNK bytes at a time, since it compacts its buffer (moves what is left to the front) each time a
  // reply ends 1 KiB or more into it: a 64 KiB read of small replies fed at once was moved about 60 times over.
  hra_buf_t in;
  size_t in_pos;
  int hiredis_only;  // for tests: every reply through hiredis's reader, the reference the direct path must match
} hra_resp_t;

#define HRA_RESP_CHUNK 2048

// (Re)creates the reader, dropping anything buffered. HRA_OK or HRA_ENOMEM.
int
hra_resp_reset (hra_resp_t *p);

void
hra_resp_free (hra_resp_t *p);

// Appends bytes read from the socket (copied: buf may be reused once this returns). HRA_OK or HRA_ENOMEM.
int
hra_resp_feed (hra_resp_t *p, const char *buf, size_t len);

// 1: a complete reply is in *out (valid until hra_resp_consumed or hra_resp_feed); 0: more bytes are needed;
// HRA_ENOMEM, HRA_ELIMIT (over max_bytes) or HRA_EINVAL (protocol error): the stream is unusable, reset it.
int
hra_resp_next (hra_resp_t *p, hra_reply_t *out);

// The reply returned by hra_resp_next has been handled: reuse its arena.
void
hra_resp_consumed (hra_resp_t *p);

// Bytes fed but not yet consumed by complete replies (an incomplete reply being buffered, and what is left
// after hra_resp_next stopped early).
size_t
hra_resp_buffered (const hra_resp_t *p);

// Reply helpers.
static inline int
hra_reply_is (const hra_reply_t *r, size_t i, int type) {
  return r != NULL && i < r->count && r->nodes[i].type == type;
}

static inline hra_slice_t
hra_reply_str (const hra_reply_t *r, size_t i) {
  hra_slice_t s = { NULL, 0 };
  if (r != NULL && i < r->count) {
    int t = r->nodes[i].type;
    if (t == HRA_R_STRING || t == HRA_R_STATUS || t == HRA_R_ERROR) {
      // Empty strings before any byte reached the arena leave data NULL (NULL + 0 is undefined in C).
      s.base = r->data != NULL ? r->data + r->nodes[i].off : (const uint8_t *) "";
      s.len = r->nodes[i].len;
    }
  }
  return s;
}

// The code word of a Redis error reply ("NOPERM", "WRONGTYPE"...), or "EREDIS" when there is none.
void
hra_redis_error_code (hra_slice_t msg, char *code, size_t cap);

// At least the bytes hra_resp_format_command appends for argv (0: the lengths overflow). With that much
// room left in out, it appends without reallocating.
size_t
hra_resp_format_bound (int argc, const size_t *argvlen);

// Appends argv (explicit lengths) to out as a RESP array of bulk strings, what redisFormatCommandArgv
// produces. HRA_OK or HRA_ENOMEM (out unchanged).
int
hra_resp_format_command (hra_buf_t *out, int argc, const char **argv, const size_t *argvlen);

// Index of the node that follows the subtree rooted at i.
size_t
hra_reply_next (const hra_reply_t *r, size_t i);

#endif  // HRA_RESP_H

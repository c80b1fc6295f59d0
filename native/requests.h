// Pending requests of one adapter, keyed by request id: what kind of request, the JS token to
// complete, how many answers are expected and received, the merged answers, and a deadline. The
// table owns its entries and their buffers; entries are addressed by index and may move when others
// are removed, so never keep an entry pointer across a removal.
#ifndef HRA_REQUESTS_H
#define HRA_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define HRA_REQ_ID_MAX 32

enum {
  HRA_REQ_ALL_ROOMS = 1,
  HRA_REQ_FETCH = 5,
  HRA_REQ_SSE = 6,  // serverSideEmit with an ack
  HRA_REQ_ACK = 7,  // broadcast with acks: client counts and acks stream to JS, no completion
  HRA_REQ_EMIT_ACK = 8  // an emitter's broadcast with acks: counts and acks are merged here
};

enum {
  HRA_REQ_WAIT_COUNT = 1,  // waiting for PUBSUB NUMSUB before publishing
  HRA_REQ_PENDING  // published, collecting answers
};

typedef struct {
  uint8_t id[HRA_REQ_ID_MAX];
  uint8_t id_len;
  uint8_t kind;
  uint8_t state;
  uint32_t token;  // the JS side's handle for this request
  int64_t expected;  // answers still owed counts down from here; see adapter.c
  int64_t received;
  int64_t acks_expected;  // HRA_REQ_EMIT_ACK: the sum of the client counts received so far
  int64_t acks_received;
  uint64_t deadline;  // loop time in ms
  hra_buf_t acc;  // merged answers: comma-separated JSON values
  hra_buf_t missing;  // HRA_REQ_SSE: comma-separated indexes of answers that had no data (undefined)
} hra_request_t;

typedef struct {
  hra_request_t *items;
  size_t len;
  size_t cap;
  uint32_t *index;  // open addressing: item index + 1, 0 = empty
  size_t index_cap;  // a power of two
} hra_requests_t;

// Adds a request; returns its index, or HRA_ENOMEM / HRA_EINVAL (id too long) / HRA_ELIMIT (id taken).
int
hra_requests_add (hra_requests_t *t, const uint8_t *id, size_t id_len, int kind, uint32_t token, uint64_t deadline);

// Index of the request with this id, or -1.
int
hra_requests_find (const hra_requests_t *t, const uint8_t *id, size_t id_len);

// Removes the entry at index i (frees its buffer). The last entry moves into slot i.
void
hra_requests_remove (hra_requests_t *t, size_t i);

// Earliest deadline, or UINT64_MAX when empty.
uint64_t
hra_requests_next_deadline (const hra_requests_t *t);

void
hra_requests_free (hra_requests_t *t);

#endif  // HRA_REQUESTS_H

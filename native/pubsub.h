// The pub/sub side of a connection's protocol. The subscription commands it queues: the changes of the
// current loop turn, or after a reconnect the whole wanted set, one command per kind and direction in
// chunks of channels, sharded ones grouped by hash slot, each entry expecting one confirmation per channel.
// And what a reply in subscriber mode is: a message, a subscription confirmation, or a plain reply.
// No libuv or Node.
#ifndef HRA_PUBSUB_H
#define HRA_PUBSUB_H

#include <stdint.h>

#include "outq.h"
#include "subs.h"

// Takes the turn's changes from subs; when connected, queues the commands for them on q (otherwise
// nothing: the next connection gets the whole wanted set). Returns 1 when something was queued, 0 when
// not, HRA_ENOMEM (the changes are forgotten: the caller must reconnect, which restores the wanted set).
int
hra_pubsub_changes (hra_outq_t *q, hra_subs_t *subs, int connected, uint64_t now_ms);

// Queues subscribe commands for every wanted entry (a new connection): 1 when something was queued, 0
// when nothing is wanted, HRA_ENOMEM.
int
hra_pubsub_restore (hra_outq_t *q, hra_subs_t *subs, uint64_t now_ms);

typedef struct {
  int what;  // 0: a plain reply; 'm', 'p', 's': a message, pmessage, smessage; 'c': a confirmation
  int kind;  // with 'c': 'c' (SUBSCRIBE), 'p' or 's'
  int subscribed;  // with 'c': 1 subscribe, 0 unsubscribe
  int named;  // with 'c': the channel is in channel
  hra_slice_t pattern;  // 'p' only
  hra_slice_t channel;
  hra_slice_t payload;
} hra_push_t;

// Classifies a reply read in subscriber mode (RESP2 pushes are arrays). Returns p->what.
int
hra_pubsub_classify (const hra_reply_t *r, hra_push_t *p);

#endif  // HRA_PUBSUB_H

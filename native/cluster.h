// A Redis Cluster client built from hra_conn_t connections: the slot map from CLUSTER SLOTS, one
// connection per node (masters and replicas), key routing by CRC16 with hash tags, MOVED and ASK
// redirects, periodic and on-error topology refresh, and subscriptions that follow their owner:
// each sharded channel lives on the master of its slot, the classic channels and patterns on one
// chosen master; when the topology changes (failover, slot migration, a lost node) they move, and a
// check every tick resubscribes whatever is wanted but not confirmed on its owner.
// hra_cluster_close() is asynchronous; the owner frees the struct in on_closed.
#ifndef HRA_CLUSTER_H
#define HRA_CLUSTER_H

#include <stdint.h>
#include <uv.h>

#include "cluster_slots.h"
#include "common.h"
#include "conn.h"

typedef struct hra_cluster_s hra_cluster_t;

// As hra_reply_cb: reply == NULL with err < 0 when the command got no answer.
typedef void (*hra_cluster_reply_cb)(hra_cluster_t *cl, const hra_reply_t *reply, int err, void *data);

// The same events as a single connection (HRA_EV_*): CONNECT once the first node is connected, READY
// when every slot has a master whose connection is ready, DISCONNECT when that stops being true,
// ERROR for node errors (the message names the node). on_message and on_flush come from every node.
typedef struct {
  void (*on_event)(hra_cluster_t *cl, int event, const char *code, const char *message, int64_t value);
  void (*on_message)(hra_cluster_t *cl, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload);
  void (*on_flush)(hra_cluster_t *cl);
  void (*on_closed)(hra_cluster_t *cl);
} hra_cluster_cbs_t;

typedef struct {
  const char *host;
  int port;
} hra_cluster_seed_t;

typedef struct {
  uint64_t refreshes;  // CLUSTER SLOTS answers applied
  uint64_t moved;  // MOVED redirects followed
  uint64_t ask;  // ASK redirects followed
  uint64_t sub_moves;  // subscriptions moved to another node
  uint64_t sub_retries;  // subscriptions sent again because their owner had not confirmed them
  uint64_t sub_lost;  // subscriptions dropped by a node without being asked
  uint64_t commands_dropped;  // refused: no ready node for the key
  uint32_t nodes;
  uint32_t masters;
  uint32_t slots_covered;
} hra_cluster_stats_t;

// Creates a cluster client (not yet connecting). node_opts is the template for every node's
// connection (credentials, timeouts, health check; host, port, path and db are ignored). Copies all
// strings. Returns NULL on ENOMEM or without seeds.
hra_cluster_t *
hra_cluster_new (uv_loop_t *loop, const hra_conn_opts_t *node_opts, const hra_cluster_seed_t *seeds, size_t nseeds, const hra_cluster_cbs_t *cbs, void *data);

void *
hra_cluster_data (hra_cluster_t *cl);

// HRA_CONN_READY when every slot has a ready master, HRA_CONN_CONNECTING otherwise (HRA_CONN_CLOSING
// / HRA_CONN_CLOSED once closing).
int
hra_cluster_state (hra_cluster_t *cl);

int
hra_cluster_start (hra_cluster_t *cl);

// Starts closing every node: pending commands get err = HRA_ECLOSED, then on_closed fires. Idempotent.
void
hra_cluster_close (hra_cluster_t *cl);

void
hra_cluster_free (hra_cluster_t *cl);

void
hra_cluster_ref (hra_cluster_t *cl);

void
hra_cluster_unref (hra_cluster_t *cl);

// Sends a command to the master of key's slot (key == NULL: to the node chosen for keyless commands,
// a ready master). MOVED and ASK answers are followed (at most 5 redirects) before cb sees a reply.
// Returns HRA_ENOTCONN when that node is not ready (not queued, cb not called), like hra_conn_command.
int
hra_cluster_command (hra_cluster_t *cl, const uint8_t *key, size_t keylen, int argc, const char **argv, const size_t *argvlen, hra_cluster_reply_cb cb, void *data);

// Sends a command to every ready node (masters and replicas) and answers once: integer elements of
// the replies are summed position by position (PUBSUB NUMSUB a b -> [a, sum, b, sum]); other
// elements come from the first answer. An error answer counts only when no node answered otherwise.
int
hra_cluster_command_sum (hra_cluster_t *cl, int argc, const char **argv, const size_t *argvlen, hra_cluster_reply_cb cb, void *data);

// Routes a command by its name: PUBSUB NUMSUB is summed over all nodes; SPUBLISH, SSUBSCRIBE,
// PUBSUB SHARDNUMSUB go by their (first) channel; EVAL/EVALSHA/FCALL by their first key; known
// keyless commands (PUBLISH, PING, INFO, CLUSTER, ...) to the keyless node; anything else by argv[1].
int
hra_cluster_command_auto (hra_cluster_t *cl, int argc, const char **argv, const size_t *argvlen, hra_cluster_reply_cb cb, void *data);

// Reference-counted subscriptions, as hra_conn_subscribe: kind 's' lives on its slot's master, 'c'
// and 'p' on the node chosen for classic pub/sub (PUBLISH reaches every node of a cluster).
int
hra_cluster_subscribe (hra_cluster_t *cl, int kind, const char *name, size_t len);

int
hra_cluster_unsubscribe (hra_cluster_t *cl, int kind, const char *name, size_t len);

// Wanted subscriptions of a kind confirmed by the node they belong to now.
size_t
hra_cluster_subscription_count (hra_cluster_t *cl, int kind);

// Fills the cluster's counters and the sum of its node connections' counters.
void
hra_cluster_stats (hra_cluster_t *cl, hra_cluster_stats_t *out, hra_conn_stats_t *conns);

#endif  // HRA_CLUSTER_H

// The cluster client's pure parts, which know nothing of connections or nodes: reading a CLUSTER
// SLOTS reply (validated whole, then walked range by range, each endpoint, master first, named to a
// visitor, so a hostile reply is refused before anything changes) and routing a command (which key,
// if any, picks its node).
#ifndef HRA_CLUSTER_SLOTS_H
#define HRA_CLUSTER_SLOTS_H

#include <stddef.h>

#include "resp.h"

#define HRA_CLUSTER_SLOTS 16384
#define HRA_CLUSTER_MAX_HOST 255

// One endpoint of the slot range [lo, hi]. host is not NUL-terminated: it points into the reply, or
// at self_host for an empty endpoint ("the node you asked"). Returns HRA_OK to go on, or an error
// that stops the walk and is returned by hra_cluster_slots_walk.
typedef int (*hra_cluster_slots_visit)(void *ctx, const char *host, size_t hlen, int port, int is_master, int lo, int hi);

// Returns HRA_EINVAL for a malformed reply (not an array of ranges, a range out of bounds, ranges
// naming more than 16384 slots in all, a range without a usable master). Unusable replica entries
// ("?" hosts, bad ports) are skipped. With visit == NULL it only validates.
int
hra_cluster_slots_walk (const hra_reply_t *r, const char *self_host, hra_cluster_slots_visit visit, void *ctx);

// Where a command goes in a cluster: HRA_ROUTE_KEY to the owner of the slot of argv[*key] (the first
// key: argv[1], or argv[3] for EVAL/EVALSHA/FCALL with keys), HRA_ROUTE_SUM to every node with the
// integer answers summed (PUBSUB NUMSUB / SHARDNUMSUB), HRA_ROUTE_ANY to any node (keyless commands),
// HRA_ROUTE_INVALID for no command or a NULL argument.
enum { HRA_ROUTE_INVALID = 0,
  HRA_ROUTE_KEY,
  HRA_ROUTE_SUM,
  HRA_ROUTE_ANY };

int
hra_cluster_route (int argc, const char **argv, const size_t *argvlen, int *key);

#endif

#include <string.h>

#include "cluster_slots.h"

// One endpoint entry of a range: [host, port, id?, ...]. Returns the index after it, or 0 when it
// cannot be used.
static size_t
parse_endpoint (const hra_reply_t *r, size_t i, const char *self_host, const char **host, size_t *hlen, int *port) {
  if (!hra_reply_is(r, i, HRA_R_ARRAY) || r->nodes[i].len < 2) return 0;
  size_t end = hra_reply_next(r, i);
  if (!hra_reply_is(r, i + 1, HRA_R_STRING) || !hra_reply_is(r, i + 2, HRA_R_INTEGER)) return 0;
  hra_slice_t h = hra_reply_str(r, i + 1);
  int64_t p = r->nodes[i + 2].integer;
  if (p <= 0 || p > 65535 || h.len > HRA_CLUSTER_MAX_HOST) return 0;
  *host = (const char *) h.base;
  *hlen = h.len;
  if (h.len == 0 || (h.len == 1 && h.base[0] == '?')) {
    // "The node we are talking to" (an empty endpoint) or unknown ("?").
    if (h.len == 1 || self_host == NULL) return 0;
    *host = self_host;
    *hlen = strlen(self_host);
  }
  *port = (int) p;
  return end;
}

static int
walk (const hra_reply_t *r, const char *self_host, hra_cluster_slots_visit visit, void *ctx) {
  if (!hra_reply_is(r, 0, HRA_R_ARRAY)) return HRA_EINVAL;
  uint32_t nranges = r->nodes[0].len;
  size_t i = 1;
  int64_t total = 0;  // slots named over all ranges: more than exist means overlapping ranges
  for (uint32_t k = 0; k < nranges; k++) {
    if (!hra_reply_is(r, i, HRA_R_ARRAY) || r->nodes[i].len < 3) return HRA_EINVAL;
    size_t end = hra_reply_next(r, i);
    uint32_t m = r->nodes[i].len;
    if (!hra_reply_is(r, i + 1, HRA_R_INTEGER) || !hra_reply_is(r, i + 2, HRA_R_INTEGER)) return HRA_EINVAL;
    int64_t lo = r->nodes[i + 1].integer, hi = r->nodes[i + 2].integer;
    if (lo < 0 || hi < lo || hi >= HRA_CLUSTER_SLOTS) return HRA_EINVAL;
    total += hi - lo + 1;
    if (total > HRA_CLUSTER_SLOTS) return HRA_EINVAL;
    size_t j = i + 3;
    for (uint32_t e = 2; e < m; e++) {
      const char *host;
      size_t hlen;
      int port;
      size_t next = parse_endpoint(r, j, self_host, &host, &hlen, &port);
      if (next == 0) {
        if (e == 2) return HRA_EINVAL;  // a range without a usable master
        j = hra_reply_next(r, j);
        continue;
      }
      if (visit != NULL) {
        int err = visit(ctx, host, hlen, port, e == 2, (int) lo, (int) hi);
        if (err != HRA_OK) return err;
      }
      j = next;
    }
    i = end;
  }
  return HRA_OK;
}

int
hra_cluster_slots_walk (const hra_reply_t *r, const char *self_host, hra_cluster_slots_visit visit, void *ctx) {
  // Validate the whole reply before the visitor sees any of it.
  int err = walk(r, self_host, NULL, NULL);
  if (err != HRA_OK || visit == NULL) return err;
  return walk(r, self_host, visit, ctx);
}

static int
arg_is (const char *arg, size_t len, const char *lit) {
  size_t n = strlen(lit);
  if (len != n) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = arg[i];
    if (ch >= 'a' && ch <= 'z') ch = (char) (ch - 'a' + 'A');
    if (ch != lit[i]) return 0;
  }
  return 1;
}

int
hra_cluster_route (int argc, const char **argv, const size_t *argvlen, int *key) {
  static const char *const keyless[] = { "PUBLISH", "PING", "ECHO", "INFO", "CLUSTER", "CLIENT", "CONFIG", "DBSIZE", "TIME", "COMMAND", "SCRIPT", "FUNCTION", "HELLO", "ACL", "LATENCY", "MEMORY", "SLOWLOG", "LASTSAVE", "ROLE", "WAIT", "FLUSHALL", "FLUSHDB", "KEYS", "SCAN", "RANDOMKEY", "READONLY", "READWRITE", "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "PUBSUB", "QUIT" };
  *key = -1;
  if (argc < 1 || argv == NULL || argvlen == NULL || argv[0] == NULL) return HRA_ROUTE_INVALID;
  for (int i = 0; i < argc; i++) {
    if (argv[i] == NULL) return HRA_ROUTE_INVALID;
  }
  // The sharded adapter's every broadcast: routed by its channel without walking the lists below.
  if (argc >= 2 && arg_is(argv[0], argvlen[0], "SPUBLISH")) return *key = 1, HRA_ROUTE_KEY;
  // PUBSUB NUMSUB is summed over every node, as upstream does. A shard channel's subscribers sit on
  // the nodes of its slot's shard (the master, and replicas for clients that read from them); every
  // other node answers 0, so the sum is the count for SHARDNUMSUB too.
  if (arg_is(argv[0], argvlen[0], "PUBSUB") && argc >= 2 && (arg_is(argv[1], argvlen[1], "NUMSUB") || arg_is(argv[1], argvlen[1], "SHARDNUMSUB")))
    return HRA_ROUTE_SUM;
  if ((arg_is(argv[0], argvlen[0], "EVAL") || arg_is(argv[0], argvlen[0], "EVALSHA") || arg_is(argv[0], argvlen[0], "FCALL")) && argc >= 4 &&
    !(argvlen[2] == 1 && argv[2][0] == '0')) {
    return *key = 3, HRA_ROUTE_KEY;
  }
  if (argc >= 2) {
    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++) {
      if (arg_is(argv[0], argvlen[0], keyless[i])) return HRA_ROUTE_ANY;
    }
    return *key = 1, HRA_ROUTE_KEY;
  }
  return HRA_ROUTE_ANY;
}

// The cluster client's pure parts (native/cluster_slots.c), without Node, under ASan/UBSan: reading
// CLUSTER SLOTS replies, well-formed and hostile, and routing commands to a key, every node or any.
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/cluster_slots.h"

typedef struct {
  int calls;
  int masters;
  int last_lo, last_hi, last_port;
  char last_host[64];
  int fail_at;  // return an error from this call (1-based), 0: never
} seen_t;

static int
visit (void *ctx, const char *host, size_t hlen, int port, int is_master, int lo, int hi) {
  seen_t *s = ctx;
  s->calls++;
  s->masters += is_master;
  assert(hlen < sizeof(s->last_host));
  memcpy(s->last_host, host, hlen);
  s->last_host[hlen] = 0;
  s->last_lo = lo, s->last_hi = hi, s->last_port = port;
  return s->calls == s->fail_at ? HRA_ELIMIT : HRA_OK;
}

// Parses one RESP reply from text and walks it.
static int
walk_text (const char *text, const char *self, seen_t *seen) {
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
  p.max_bytes = 1 << 20;
  assert(hra_resp_reset(&p) == HRA_OK);
  assert(hra_resp_feed(&p, text, strlen(text)) == HRA_OK);
  hra_reply_t r;
  assert(hra_resp_next(&p, &r) == 1);
  int err = hra_cluster_slots_walk(&r, self, seen ? visit : NULL, seen);
  hra_resp_consumed(&p);
  hra_resp_free(&p);
  return err;
}

#define RANGE(lo, hi, master, replica) "*4\r\n:" #lo "\r\n:" #hi "\r\n" master replica
#define EP(host, port) "*3\r\n$" #host "\r\n:" #port "\r\n$2\r\nid\r\n"

static void
test_slots (void) {
  seen_t s = { 0 };
  // Three ranges covering every slot, each with a master and a replica; the second master is the
  // node we asked (an empty host).
  const char *ok = "*3\r\n" RANGE(0, 5460, "*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n", "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n") RANGE(
    5461, 10922, "*3\r\n$0\r\n\r\n:7001\r\n$2\r\nid\r\n", "*3\r\n$9\r\n127.0.0.1\r\n:7004\r\n$2\r\nid\r\n") RANGE(10923, 16383, "*3\r\n$9\r\n127.0.0.1\r\n:7002\r\n$2\r\nid\r\n", "*3\r\n$1\r\n?\r\n:7005\r\n$2\r\nid\r\n");
  assert(walk_text(ok, "seed.example", &s) == HRA_OK);
  // 3 masters + 2 replicas: the "?" replica is skipped
  assert(s.calls == 5 && s.masters == 3);
  assert(s.last_lo == 10923 && s.last_hi == 16383 && s.last_port == 7002);
  // the empty host is the node asked
  memset(&s, 0, sizeof(s));
  s.fail_at = 3;
  assert(walk_text(ok, "seed.example", &s) == HRA_ELIMIT);
  assert(s.calls == 3 && strcmp(s.last_host, "seed.example") == 0 && s.last_port == 7001);
  // validation only
  assert(walk_text(ok, "x", NULL) == HRA_OK);

  // Hostile: every one refused before the visitor sees anything.
  const char *bad[] = {
    ":1\r\n",  // not an array
    "*1\r\n*2\r\n:0\r\n:1\r\n",  // a range without a master
    "*1\r\n" RANGE(0, 16384, "*2\r\n$1\r\nh\r\n:1\r\n", "*0\r\n"),  // past the last slot
    "*1\r\n" RANGE(10, 5, "*2\r\n$1\r\nh\r\n:1\r\n", "*0\r\n"),  // hi < lo
    "*1\r\n" RANGE(-1, 5, "*2\r\n$1\r\nh\r\n:1\r\n", "*0\r\n"),  // negative
    "*2\r\n" RANGE(0, 16383, "*2\r\n$1\r\nh\r\n:1\r\n", "*0\r\n") RANGE(0, 0, "*2\r\n$1\r\nh\r\n:1\r\n", "*0\r\n"),  // overlap
    "*1\r\n" RANGE(0, 1, "*2\r\n$1\r\n?\r\n:1\r\n", "*0\r\n"),  // unknown master
    "*1\r\n" RANGE(0, 1, "*2\r\n$1\r\nh\r\n:0\r\n", "*0\r\n"),  // port 0
    "*1\r\n" RANGE(0, 1, "*2\r\n$1\r\nh\r\n:65536\r\n", "*0\r\n"),  // port too big
    "*1\r\n" RANGE(0, 1, "*2\r\n:1\r\n:1\r\n", "*0\r\n"),  // host not a string
    "*2\r\n" RANGE(0, 1, "*2\r\n$1\r\nh\r\n:1\r\n", "*0\r\n") ":5\r\n",  // a later range malformed
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memset(&s, 0, sizeof(s));
    int err = walk_text(bad[i], "self", &s);
    if (err != HRA_EINVAL || s.calls != 0) {
      fprintf(stderr, "hostile reply %zu: err %d, %d visits\n", i, err, s.calls);
      abort();
    }
  }
  // An empty host with no node to stand for it is unusable.
  memset(&s, 0, sizeof(s));
  assert(walk_text("*1\r\n" RANGE(0, 1, "*2\r\n$0\r\n\r\n:1\r\n", "*0\r\n"), NULL, &s) == HRA_EINVAL);
  // A host over 255 bytes is unusable.
  char big[600];
  int n = snprintf(big, sizeof(big), "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$256\r\n%0256d\r\n:1\r\n", 0);
  assert(n > 0 && (size_t) n < sizeof(big));
  assert(walk_text(big, "self", &s) == HRA_EINVAL);
  printf("cluster slots: ok\n");
}

static int
route (int *key, int argc, ...) {
  const char *argv[8];
  size_t lens[8];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc; i++) {
    argv[i] = va_arg(ap, const char *);
    lens[i] = strlen(argv[i]);
  }
  va_end(ap);
  return hra_cluster_route(argc, argv, lens, key);
}

static void
test_route (void) {
  int key;
  assert(route(&key, 3, "SPUBLISH", "ch", "m") == HRA_ROUTE_KEY && key == 1);
  assert(route(&key, 3, "spublish", "ch", "m") == HRA_ROUTE_KEY && key == 1);
  assert(route(&key, 3, "PUBLISH", "ch", "m") == HRA_ROUTE_ANY && key == -1);
  assert(route(&key, 3, "pubsub", "numsub", "ch") == HRA_ROUTE_SUM);
  assert(route(&key, 3, "PUBSUB", "SHARDNUMSUB", "ch") == HRA_ROUTE_SUM);
  assert(route(&key, 2, "PUBSUB", "CHANNELS") == HRA_ROUTE_ANY);
  assert(route(&key, 2, "GET", "k") == HRA_ROUTE_KEY && key == 1);
  assert(route(&key, 5, "EVAL", "return 1", "1", "k", "a") == HRA_ROUTE_KEY && key == 3);
  // no keys: routed by its first argument, as any node would do
  assert(route(&key, 3, "EVALSHA", "abc", "0") == HRA_ROUTE_KEY && key == 1);
  assert(route(&key, 1, "PING") == HRA_ROUTE_ANY);
  assert(route(&key, 2, "CLUSTER", "SLOTS") == HRA_ROUTE_ANY);
  assert(route(&key, 0) == HRA_ROUTE_INVALID);
  const char *argv[2] = { "GET", NULL };
  size_t lens[2] = { 3, 0 };
  assert(hra_cluster_route(2, argv, lens, &key) == HRA_ROUTE_INVALID);
  printf("cluster route: ok\n");
}

int
main (void) {
  test_slots();
  test_route();
  return 0;
}

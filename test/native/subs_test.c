// Model check of native/subs.c: random refs/unrefs over a small channel universe, with turns (collect),
// disconnects and restores. A simulated Redis applies every change that would be sent; after every turn the
// set Redis holds must equal the set of channels with references, and no change may be sent twice or for a
// channel whose state Redis already has. Run under ASan/UBSan: make -C test/native subs
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/common.h"
#include "../../native/subs.h"

#define NCHAN 64
#define KINDS 3

static const int kinds[KINDS] = { 'c', 'p', 's' };
static int failures;

#define CHECK(cond, ...) \
  do { \
    if (!(cond)) { \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__); \
      fprintf(stderr, "\n"); \
      failures++; \
      return; \
    } \
  } while (0)

static uint64_t rng = 0x1234567887654321ULL;

static uint32_t
rnd (uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t) (rng % n);
}

static void
chan_name (int i, char *buf, size_t cap) {
  // Some names share prefixes and some are long, to exercise the hash's tail handling.
  if (i % 7 == 0)
    snprintf(buf, cap, "socket.io#/#a-much-longer-room-name-that-spans-several-hash-blocks-%d#", i);
  else
    snprintf(buf, cap, "socket.io#/#r%d#", i);
}

static void
run (uint64_t seed, int steps) {
  hra_subs_t s;
  hra_subs_init(&s, seed);
  int refs[KINDS][NCHAN];
  int redis[KINDS][NCHAN];  // what the simulated Redis holds on the current connection
  memset(refs, 0, sizeof(refs));
  memset(redis, 0, sizeof(redis));
  int connected = 1;
  char name[128];
  for (int step = 0; step < steps; step++) {
    uint32_t op = rnd(100);
    int k = (int) rnd(KINDS), i = (int) rnd(NCHAN);
    chan_name(i, name, sizeof(name));
    if (op < 44) {
      int r = hra_subs_ref(&s, kinds[k], name, strlen(name));
      CHECK(r >= 0, "ref failed %d", r);
      CHECK(r == (refs[k][i] == 0), "ref dirty result %d with refs %d", r, refs[k][i]);
      refs[k][i]++;
    } else if (op < 88) {
      int r = hra_subs_unref(&s, kinds[k], name, strlen(name));
      CHECK(r == (refs[k][i] == 1), "unref dirty result %d with refs %d", r, refs[k][i]);
      if (refs[k][i] > 0) refs[k][i]--;
    } else if (op < 95) {
      // End of a turn: collect and apply to the simulated Redis.
      size_t cap = hra_subs_dirty_count(&s), n = 0;
      hra_sub_change_t *ch = malloc((cap ? cap : 1) * sizeof(*ch));
      CHECK(ch != NULL, "oom");
      hra_sub_t *garbage = NULL;
      hra_subs_collect(&s, connected, ch, &n, &garbage);
      for (size_t j = 0; j < n; j++) {
        int kk = ch[j].sub->kind == 'c' ? 0 : ch[j].sub->kind == 'p' ? 1
                                                                     : 2;
        int idx = -1;
        for (int t = 0; t < NCHAN; t++) {
          char nm[128];
          chan_name(t, nm, sizeof(nm));
          if (strlen(nm) == ch[j].sub->len && memcmp(nm, ch[j].sub->name, ch[j].sub->len) == 0) idx = t;
        }
        if (idx < 0 || redis[kk][idx] == ch[j].subscribe) {
          free(ch);
          hra_subs_free_garbage(garbage);
          CHECK(0, "useless or unknown change for channel %d", idx);
        }
        redis[kk][idx] = ch[j].subscribe;
        hra_subs_mark_confirmed(&s, ch[j].sub->kind, ch[j].sub->name, ch[j].sub->len, ch[j].subscribe);
      }
      free(ch);
      hra_subs_free_garbage(garbage);
      if (connected) {
        for (int kk = 0; kk < KINDS; kk++) {
          size_t wanted = 0;
          for (int t = 0; t < NCHAN; t++) {
            CHECK(redis[kk][t] == (refs[kk][t] > 0), "kind %c channel %d: redis %d refs %d", kinds[kk], t, redis[kk][t], refs[kk][t]);
            wanted += refs[kk][t] > 0;
          }
          CHECK(hra_subs_wanted_count(&s, kinds[kk]) == wanted, "wanted count");
          CHECK(hra_subs_confirmed_count(&s, kinds[kk]) == wanted, "confirmed count");
        }
      }
      size_t live = 0;
      for (int kk = 0; kk < KINDS; kk++)
        for (int t = 0; t < NCHAN; t++)
          live += refs[kk][t] > 0;
      CHECK(s.count == live, "table holds %zu entries, %zu wanted", s.count, live);
    } else if (op < 97) {
      // Redis drops one subscription by itself (a cluster node's sunsubscribe push when a slot moves away);
      // the owner forces it to be sent again, and the next turn must send exactly that subscribe.
      if (!connected) continue;
      int r;
      if (refs[k][i] > 0 && redis[k][i]) {
        redis[k][i] = 0;
        hra_subs_mark_confirmed(&s, kinds[k], name, strlen(name), 0);
        r = hra_subs_force(&s, kinds[k], name, strlen(name));
        CHECK(r == 0 || r == 1, "force result %d", r);
      } else if (refs[k][i] == 0) {
        r = hra_subs_force(&s, kinds[k], name, strlen(name));
        CHECK(r == 0, "force of an unwanted channel made it dirty");
      }
    } else if (op < 99) {
      // The connection drops: Redis forgets everything.
      hra_subs_reset_sent(&s);
      memset(redis, 0, sizeof(redis));
      connected = 0;
    } else if (!connected) {
      // Reconnected: the owner drops the turn's changes and restores the whole wanted set.
      hra_sub_t *garbage = NULL;
      size_t n = 0;
      hra_subs_collect(&s, 0, NULL, &n, &garbage);
      hra_subs_free_garbage(garbage);
      for (size_t b = 0; b < s.nbuckets; b++) {
        for (hra_sub_t *e = s.buckets[b]; e != NULL; e = e->next) {
          if (e->refs == 0) continue;
          int kk = e->kind == 'c' ? 0 : e->kind == 'p' ? 1
                                                       : 2;
          for (int t = 0; t < NCHAN; t++) {
            char nm[128];
            chan_name(t, nm, sizeof(nm));
            if (strlen(nm) == e->len && memcmp(nm, e->name, e->len) == 0) redis[kk][t] = 1;
          }
          e->sent = 1;
          e->confirmed = 1;
        }
      }
      connected = 1;
    }
  }
  hra_subs_free(&s);
}

int
main (void) {
  for (uint64_t seed = 1; seed <= 200 && failures == 0; seed++)
    run(seed, 20000);
  // Unknown kinds are refused; unref of an unknown channel is a no-op.
  hra_subs_t s;
  hra_subs_init(&s, 7);
  if (hra_subs_ref(&s, 'x', "a", 1) != HRA_EINVAL) failures++;
  if (hra_subs_unref(&s, 'c', "a", 1) != 0) failures++;
  if (hra_subs_ref(&s, 'c', "", 0) != 1) failures++;  // the empty name is a valid channel
  hra_subs_free(&s);
  if (failures) {
    fprintf(stderr, "subs_test: %d failure(s)\n", failures);
    return 1;
  }
  printf("subs_test: 200 seeds x 20000 operations, model agrees\n");
  return 0;
}

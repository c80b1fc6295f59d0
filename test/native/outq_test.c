// Model check of native/outq.c: random pushes (formatted or raw), writes (slices taken, then completed
// later), pops, moves between queues and expiries, against a model that keeps every command's expected
// bytes. After every step: the front entry's bytes are its command's, the byte counts add up, and the
// slices of a write in flight still hold what was handed over (ASan catches a chunk freed under them).
// Run under ASan/UBSan: make -C test/native outq
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/outq.h"

#define STEPS 200000
#define MODEL_MAX 4096

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

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd (uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t) (rng % n);
}

typedef struct {
  uint8_t *bytes;
  size_t len;
  uint64_t t;
} cmd_t;

typedef struct {
  hra_outq_t q;
  cmd_t cmds[MODEL_MAX];
  size_t head, n;
} model_t;

static model_t a, b;

// The write in flight on a: copies of what its slices held when handed over.
static hra_slice_t wr_slices[8];
static uint8_t *wr_copy[8];
static unsigned wr_n;

static void
model_push (model_t *m, const uint8_t *bytes, size_t len, uint64_t t) {
  cmd_t *c = &m->cmds[(m->head + m->n) % MODEL_MAX];
  c->bytes = malloc(len);
  memcpy(c->bytes, bytes, len);
  c->len = len;
  c->t = t;
  m->n++;
}

static void
model_pop (model_t *m) {
  free(m->cmds[m->head].bytes);
  m->head = (m->head + 1) % MODEL_MAX;
  m->n--;
}

static void
push_formatted (model_t *m, uint64_t t) {
  if (m->n == MODEL_MAX) return;
  // Mostly small commands, now and then one larger than a chunk.
  size_t big = rnd(50) == 0 ? 70000 + rnd(100000) : rnd(300);
  int argc = 1 + (int) rnd(3);
  const char *argv[3];
  size_t lens[3];
  char *bufs[3];
  for (int i = 0; i < argc; i++) {
    lens[i] = i == argc - 1 ? big : rnd(20);
    bufs[i] = malloc(lens[i] + 1);
    for (size_t k = 0; k < lens[i]; k++)
      bufs[i][k] = (char) ('a' + rnd(26));
    argv[i] = bufs[i];
  }
  hra_buf_t expect = { NULL, 0, 0 };
  hra_resp_format_command(&expect, argc, argv, lens);
  hra_outq_entry_t e;
  memset(&e, 0, sizeof(e));
  e.t_ms = t;
  e.data = (void *) (uintptr_t) t;
  if (hra_outq_push(&m->q, &e, argc, argv, lens) == HRA_OK) model_push(m, expect.data, expect.len, t);
  hra_buf_free(&expect);
  for (int i = 0; i < argc; i++)
    free(bufs[i]);
}

static void
check (model_t *m) {
  CHECK(hra_outq_count(&m->q) == m->n, "count %zu, model %zu", hra_outq_count(&m->q), m->n);
  size_t sum = 0;
  for (size_t i = 0; i < m->n; i++)
    sum += m->cmds[(m->head + i) % MODEL_MAX].len;
  CHECK(hra_outq_bytes(&m->q) == sum, "bytes %zu, model %zu", hra_outq_bytes(&m->q), sum);
  CHECK(hra_outq_unwritten(&m->q) <= sum, "unwritten %zu > %zu", hra_outq_unwritten(&m->q), sum);
  if (m->n == 0) return;
  const cmd_t *c = &m->cmds[m->head];
  const hra_outq_entry_t *e = hra_outq_front(&m->q);
  const uint8_t *bytes = hra_outq_front_bytes(&m->q);
  CHECK(e != NULL && bytes != NULL && e->len == c->len, "front entry");
  CHECK(memcmp(bytes, c->bytes, c->len) == 0, "front bytes differ");
  CHECK(e->t_ms == c->t, "front entry is not the model's");
}

static void
write_start (void) {
  if (a.q.writing) return;
  size_t total = 0;
  wr_n = hra_outq_pending(&a.q, wr_slices, 1 + rnd(8), 1 + rnd(100000), &total);
  if (wr_n == 0) return;
  for (unsigned i = 0; i < wr_n; i++) {
    wr_copy[i] = malloc(wr_slices[i].len);
    memcpy(wr_copy[i], wr_slices[i].base, wr_slices[i].len);
  }
  hra_outq_written(&a.q, total);
}

static void
write_done (void) {
  if (!a.q.writing) return;
  for (unsigned i = 0; i < wr_n; i++) {
    CHECK(memcmp(wr_copy[i], wr_slices[i].base, wr_slices[i].len) == 0, "bytes under a write in flight changed");
    free(wr_copy[i]);
  }
  wr_n = 0;
  hra_outq_write_done(&a.q);
}

int
main (void) {
  uint64_t t = 0;
  int draining = 0;
  for (int step = 0; step < STEPS && failures == 0; step++) {
    t += rnd(3);
    // Phases that fill the queues and phases that drain them, so that replies reach the bytes of a write
    // still in flight, and chunks empty out under it.
    if (step % 500 == 0) draining = rnd(2);
    switch (rnd(10)) {
      case 0:
      case 1:
      case 2:
        if (!draining || rnd(4) == 0) push_formatted(&a, t);
        break;
      case 3:
        write_start();
        break;
      case 4:
        write_done();
        break;
      case 5:
      case 6:
        for (int k = draining ? 3 : 1; k > 0; k--)
          // A reply: only for something written (and a write never completes out of order).
          if (a.n > 0 && a.q.head + hra_outq_front(&a.q)->len <= a.q.wpos) {
            hra_outq_pop(&a.q, NULL);
            model_pop(&a);
          }
        break;
      case 7:
        // Held: moved from the wire (salvage) or back to it (replay), bytes copied.
        if (a.n > 0 && b.n < MODEL_MAX && rnd(2)) {
          cmd_t c = a.cmds[a.head];
          if (hra_outq_move_front(&b.q, &a.q) == HRA_OK) model_push(&b, c.bytes, c.len, c.t);
          model_pop(&a);
        } else if (b.n > 0 && a.n < MODEL_MAX) {
          cmd_t c = b.cmds[b.head];
          if (hra_outq_move_front(&a.q, &b.q) == HRA_OK) model_push(&a, c.bytes, c.len, c.t);
          model_pop(&b);
        }
        break;
      case 8: {
        uint64_t age = rnd(400);
        size_t n = hra_outq_expire(&b.q, t, age), k = 0;
        while (b.n > 0 && t - b.cmds[b.head].t > age) {
          model_pop(&b);
          k++;
        }
        if (n != k) {
          fprintf(stderr, "FAIL: expired %zu, model %zu\n", n, k);
          failures++;
        }
        break;
      }
      case 9:
        push_formatted(&b, t);
        break;
    }
    check(&a);
    check(&b);
  }
  write_done();
  while (a.n > 0)
    model_pop(&a);
  while (b.n > 0)
    model_pop(&b);
  hra_outq_free(&a.q);
  hra_outq_free(&b.q);
  if (failures) return 1;
  printf("outq_test: %d steps ok\n", STEPS);
  return 0;
}

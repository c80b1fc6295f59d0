// Unit and differential tests for native/rooms.c. rooms.c is compiled into this
// file so that allocation failures can be injected (HRA_ROOMS_REALLOC) and the
// index's internal invariants checked after each step.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *
hra_test_realloc (void *p, size_t n);
#define HRA_ROOMS_REALLOC hra_test_realloc
#include "../../native/rooms.c"

static int failures;
static int checks;

#define CHECK(cond) \
  do { \
    checks++; \
    if (!(cond)) { \
      failures++; \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    } \
  } while (0)

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t
rng (void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545f4914f6cdd1du;
}

static uint32_t
rnd (uint32_t n) {
  return (uint32_t) ((rng() >> 33) % n);
}

// Allocation failure injection: fail the nth call from now (countdown) or each
// call with probability rate/1000.
static long fail_countdown;
static uint32_t fail_rate;
static long injected;

static void *
hra_test_realloc (void *p, size_t n) {
  if (fail_countdown > 0 && --fail_countdown == 0) {
    injected++;
    return NULL;
  }
  if (fail_rate && rnd(1000) < fail_rate) {
    injected++;
    return NULL;
  }
  return realloc(p, n);
}

#ifdef HRA_TEST_JSNUM_STUB
// Test-only stand-ins for jsnum.c, good enough for the inputs used here. The
// real build links jsnum.c.
static int
stub_space (uint8_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0d);
}

int
hra_jsnum_is_numeric_string (const uint8_t *s, size_t len) {
  size_t a = 0, b = len;
  while (a < b && stub_space(s[a]))
    a++;
  while (b > a && stub_space(s[b - 1]))
    b--;
  if (a == b) return 1;  // Number("") === 0
  if (b - a > 2 && s[a] == '0' && strchr("xXoObB", s[a + 1]) != NULL) {
    for (size_t i = a + 2; i < b; i++) {
      if (strchr("0123456789abcdefABCDEF", s[i]) == NULL) return 0;
    }
    return 1;
  }
  size_t st, pl;
  if (!parse_float_prefix(s + a, b - a, &st, &pl)) return 0;
  return st == 0 && pl == b - a;
}

int
hra_jsnum_from_js_string (const uint8_t *s, size_t len, double *out) {
  char buf[128];
  if (len >= sizeof(buf)) return HRA_ELIMIT;
  memcpy(buf, s, len);
  buf[len] = 0;
  *out = strtod(buf, NULL);
  return HRA_OK;
}

size_t
hra_jsnum_format (double d, char out[32]) {
  if (isinf(d)) return (size_t) snprintf(out, 32, "%s", d < 0 ? "-Infinity" : "Infinity");
  if (d == 0) return (size_t) snprintf(out, 32, "0");
  if (d == (double) (int64_t) d && d > -1e15 && d < 1e15) return (size_t) snprintf(out, 32, "%lld", (long long) d);
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, 32, "%.*g", prec, d);
    if (strtod(out, NULL) == d) break;
  }
  return strlen(out);
}
#endif

static hra_room_key_t
str_key (const char *s) {
  return (hra_room_key_t){ (const uint8_t *) s, strlen(s), HRA_ROOM_STR };
}

static hra_room_key_t
num_key (const char *s) {
  return (hra_room_key_t){ (const uint8_t *) s, strlen(s), HRA_ROOM_NUM };
}

// Walks every internal structure and checks it against the others, including
// the byte count.
static void
check_invariants (hra_rooms_t *r) {
  size_t count = 0, num = 0, live_sum = 0, bytes = sizeof(*r);
  bytes += r->rtab_cap * sizeof(rent_t) + r->mtab_cap * sizeof(memb_t) + r->socks_len * sizeof(sock_t);
  bytes += (size_t) r->order_cap * 4 + (size_t) r->rooms_cap * sizeof(room_t);
  size_t rtab_used = 0, mtab_used = 0;
  for (size_t i = 0; i < r->rtab_cap; i++)
    rtab_used += r->rtab[i].id1 != 0;
  for (size_t i = 0; i < r->mtab_cap; i++)
    mtab_used += r->mtab[i].room1 != 0;
  for (uint32_t id = 0; id < r->rooms_len; id++) {
    room_t *rm = &r->rooms[id];
    if (rm->name == NULL) continue;
    count++;
    num += rm->kind == HRA_ROOM_NUM;
    bytes += (rm->len ? rm->len : 1) + (size_t) rm->mcap * 4;
    hra_room_key_t k = { rm->name, rm->len, rm->kind };
    CHECK(room_lookup(r, k) == id);
    CHECK(rm->live > 0 && rm->mlen >= rm->live && rm->mlen <= rm->mcap);
    CHECK(rm->members[rm->mlen - 1] != TOMB);
    CHECK(rm->mlen - rm->live <= rm->live);
    uint32_t live = 0;
    for (uint32_t i = 0; i < rm->mlen; i++) {
      uint32_t slot = rm->members[i];
      if (slot == TOMB) continue;
      live++;
      memb_t *m = memb_find(r, id, slot);
      CHECK(m != NULL);
      if (m == NULL) continue;
      CHECK(m->room_pos == i);
      CHECK(slot < r->socks_len && m->sock_pos < r->socks[slot].n && r->socks[slot].rooms[m->sock_pos] == id);
      CHECK(r->socks[slot].order_pos != NONE);
    }
    CHECK(live == rm->live);
    live_sum += live;
  }
  CHECK(count == r->count && count == rtab_used && num == r->num_count);
  CHECK(live_sum == r->mtab_count && live_sum == mtab_used);
  size_t socks_sum = 0;
  for (size_t i = 0; i < r->socks_len; i++) {
    socks_sum += r->socks[i].n;
    bytes += (size_t) r->socks[i].cap * 4;
    if (r->socks[i].order_pos != NONE) CHECK(r->order[r->socks[i].order_pos] == i);
  }
  CHECK(socks_sum == live_sum);
  uint32_t olive = 0;
  for (uint32_t i = 0; i < r->order_len; i++) {
    if (r->order[i] != TOMB) olive++;
  }
  CHECK(olive == r->order_live);
  CHECK(r->order_len == 0 || r->order[r->order_len - 1] != TOMB);
  CHECK(bytes == hra_rooms_memory(r));
}

// ---- reference model: naive arrays, the JS adapter's semantics spelled out
// directly ----

#define NKEYS 24
#define NSLOTS 44

typedef struct {
  int kind;
  const char *name;
  size_t len;
  uint32_t mem[NSLOTS];
  size_t n;
} mroom_t;

static mroom_t model_rooms[NKEYS];
static uint32_t model_sids[NSLOTS];
static size_t model_nsids;
static uint32_t slot_values[NSLOTS];

static const char long_name[] = "a-rather-long-room-name-that-spans-several-16-byte-blocks-of-the-hash";

static void
model_init (void) {
  static const struct {
    int kind;
    const char *name;
    size_t len;
  } keys[NKEYS] = {
    { HRA_ROOM_STR, "r0", 2 },
    { HRA_ROOM_STR, "r1", 2 },
    { HRA_ROOM_STR, "r2", 2 },
    { HRA_ROOM_STR, "r3", 2 },
    { HRA_ROOM_STR, "r4", 2 },
    { HRA_ROOM_STR, "r5", 2 },
    { HRA_ROOM_STR, "r6", 2 },
    { HRA_ROOM_STR, "r7", 2 },
    { HRA_ROOM_STR, "", 0 },
    { HRA_ROOM_STR, "a\0b", 3 },
    { HRA_ROOM_STR, "a\0c", 3 },
    { HRA_ROOM_STR, "x#y#", 4 },
    { HRA_ROOM_STR, "1", 1 },
    { HRA_ROOM_STR, "123", 3 },
    { HRA_ROOM_NUM, "1", 1 },
    { HRA_ROOM_NUM, "123", 3 },
    { HRA_ROOM_NUM, "0", 1 },
    { HRA_ROOM_NUM, "-1.5", 4 },
    { HRA_ROOM_NUM, "1000", 4 },
    { HRA_ROOM_STR, long_name, sizeof(long_name) - 1 },
    { HRA_ROOM_STR, "abcdefgh", 8 },
    { HRA_ROOM_STR, "abcdefghi", 9 },
    { HRA_ROOM_STR, "abcdefghijklmnop", 16 },
    { HRA_ROOM_STR, "abcdefghijklmnopq", 17 },
  };
  for (int i = 0; i < NKEYS; i++) {
    model_rooms[i] = (mroom_t){ keys[i].kind, keys[i].name, keys[i].len, { 0 }, 0 };
  }
  model_nsids = 0;
  for (uint32_t i = 0; i < NSLOTS; i++)
    slot_values[i] = i;
  // A few sparse slots, so the slot array grows lazily past unused entries.
  slot_values[NSLOTS - 4] = 1000;
  slot_values[NSLOTS - 3] = 4097;
  slot_values[NSLOTS - 2] = 65537;
  slot_values[NSLOTS - 1] = 300000;
}

static hra_room_key_t
model_key (int k) {
  return (hra_room_key_t){ (const uint8_t *) model_rooms[k].name, model_rooms[k].len, model_rooms[k].kind };
}

static int
model_find (const uint32_t *a, size_t n, uint32_t v) {
  for (size_t i = 0; i < n; i++) {
    if (a[i] == v) return (int) i;
  }
  return -1;
}

static void
model_erase (uint32_t *a, size_t *n, int i) {
  memmove(a + i, a + i + 1, (*n - (size_t) i - 1) * sizeof(uint32_t));
  (*n)--;
}

static int
model_join (uint32_t slot, int k) {
  if (model_find(model_sids, model_nsids, slot) < 0) model_sids[model_nsids++] = slot;
  mroom_t *m = &model_rooms[k];
  if (model_find(m->mem, m->n, slot) >= 0) return 0;
  m->mem[m->n++] = slot;
  return 1;
}

static int
model_leave (uint32_t slot, int k) {
  mroom_t *m = &model_rooms[k];
  int i = model_find(m->mem, m->n, slot);
  if (i < 0) return 0;
  model_erase(m->mem, &m->n, i);
  return 1;
}

static int
model_leave_all (uint32_t slot) {
  int n = 0;
  for (int k = 0; k < NKEYS; k++)
    n += model_leave(slot, k);
  int i = model_find(model_sids, model_nsids, slot);
  if (i >= 0) model_erase(model_sids, &model_nsids, i);
  return n;
}

static size_t
model_targets (const int *rooms, size_t nrooms, const int *except, size_t nexcept, uint32_t *out) {
  uint32_t excluded[NSLOTS];
  size_t nex = 0, n = 0;
  for (size_t e = 0; e < nexcept; e++) {
    mroom_t *m = &model_rooms[except[e]];
    for (size_t i = 0; i < m->n; i++) {
      if (model_find(excluded, nex, m->mem[i]) < 0) excluded[nex++] = m->mem[i];
    }
  }
  if (nrooms == 0) {
    for (size_t i = 0; i < model_nsids; i++) {
      if (model_find(excluded, nex, model_sids[i]) < 0) out[n++] = model_sids[i];
    }
    return n;
  }
  for (size_t k = 0; k < nrooms; k++) {
    mroom_t *m = &model_rooms[rooms[k]];
    for (size_t i = 0; i < m->n; i++) {
      if (model_find(excluded, nex, m->mem[i]) < 0 && model_find(out, n, m->mem[i]) < 0) out[n++] = m->mem[i];
    }
  }
  return n;
}

static size_t
model_count (void) {
  size_t n = 0;
  for (int k = 0; k < NKEYS; k++)
    n += model_rooms[k].n > 0;
  return n;
}

// Strings for has_str_or_num and the canonical NUM room JS would look up
// (String(parseFloat(s))), or NULL when !isNaN(s) && !isNaN(parseFloat(s)) is
// false.
static const struct {
  const char *s;
  const char *num;
} probe_strings[] = {
  { "1", "1" },
  { "123", "123" },
  { " 123 ", "123" },
  { "1e0", "1" },
  { "0x1", "0" },
  { "-1.5", "-1.5" },
  { "-1.50e0", "-1.5" },
  { "abc", NULL },
  { "", NULL },
  { "1abc", NULL },
  { ".5", "0.5" },
  { "1e3", "1000" },
  { "r1", NULL },
  { "x#y#", NULL },
  { "\t1000\n", "1000" },
  { "00", "0" },
  { "-0", "0" },
  { "1000.", "1000" },
};

static void
check_probes (hra_rooms_t *r) {
  for (size_t i = 0; i < sizeof(probe_strings) / sizeof(probe_strings[0]); i++) {
    const char *s = probe_strings[i].s;
    int want =
      hra_rooms_has(r, str_key(s)) || (probe_strings[i].num != NULL && hra_rooms_has(r, num_key(probe_strings[i].num)));
    int got = hra_rooms_has_str_or_num(r, (const uint8_t *) s, strlen(s));
    CHECK(got == want);
    if (got != want) fprintf(stderr, "  has_str_or_num(\"%s\") = %d, want %d\n", s, got, want);
  }
}

// Runs random operations against the index and the model. With fail_rate set,
// operations that report HRA_ENOMEM are not applied to the model, which checks
// that a failed call changed nothing.
static void
differential (uint64_t seed, int ops, uint32_t rate) {
  model_init();
  rng_state = seed;
  hra_rooms_t *r = hra_rooms_new(seed);
  CHECK(r != NULL);
  if (r == NULL) return;
  hra_u32vec_t out = { 0 };
  uint32_t want[NSLOTS];
  long enomem = 0;
  fail_rate = rate;
  for (int op = 0; op < ops; op++) {
    uint32_t p = rnd(100);
    uint32_t slot = slot_values[rnd(NSLOTS)];
    int k = (int) rnd(NKEYS);
    if (p < 45) {
      int got = hra_rooms_join(r, slot, model_key(k));
      if (got == HRA_ENOMEM) {
        enomem++;
      } else {
        int exp = model_join(slot, k);
        CHECK(got == exp);
      }
    } else if (p < 75) {
      CHECK(hra_rooms_leave(r, slot, model_key(k)) == model_leave(slot, k));
    } else if (p < 80) {
      CHECK(hra_rooms_leave_all(r, slot) == model_leave_all(slot));
    } else if (p < 97) {
      int rooms[4], except[4];
      hra_room_key_t rk[4], ek[4];
      size_t nr = rnd(5), ne = rnd(100) < 40 ? 0 : rnd(5);
      for (size_t i = 0; i < nr; i++) {
        rooms[i] = (int) rnd(NKEYS);
        // Duplicates can only come from C callers (JS passes a Set), but must
        // not emit a slot twice.
        rk[i] = model_key(rooms[i]);
      }
      for (size_t i = 0; i < ne; i++) {
        except[i] = (int) rnd(NKEYS);
        ek[i] = model_key(except[i]);
      }
      size_t n = model_targets(rooms, nr, except, ne, want);
      CHECK(hra_rooms_targets(r, rk, nr, ek, ne, &out) == HRA_OK);
      CHECK(out.len == n);
      CHECK(n == 0 || memcmp(out.data, want, n * sizeof(uint32_t)) == 0);
    } else {
      CHECK(hra_rooms_has(r, model_key(k)) == (model_rooms[k].n > 0));
      check_probes(r);
    }
    CHECK(hra_rooms_count(r) == model_count());
    if (op % 997 == 0) check_invariants(r);
    if (failures > 20) break;
  }
  fail_rate = 0;
  check_invariants(r);
  // Drain: every room must disappear and the slot array, tables and order must
  // give their memory back.
  for (uint32_t i = 0; i < NSLOTS; i++) {
    CHECK(hra_rooms_leave_all(r, slot_values[i]) == model_leave_all(slot_values[i]));
  }
  CHECK(hra_rooms_count(r) == 0 && r->mtab_count == 0 && r->order_live == 0);
  CHECK(hra_rooms_targets(r, NULL, 0, NULL, 0, &out) == HRA_OK && out.len == 0);
  check_invariants(r);
  if (rate) {
    printf(
      "  differential seed %llx with %u/1000 allocation failures: %ld "
      "ENOMEM joins\n",
      (unsigned long long) seed, rate, enomem);
    CHECK(enomem > 0);
  }
  hra_u32vec_free(&out);
  hra_rooms_free(r);
}

static void
expect_targets (hra_rooms_t *r, const hra_room_key_t *rooms, size_t nrooms, const hra_room_key_t *except,
  size_t nexcept, const uint32_t *want, size_t nwant, int line) {
  hra_u32vec_t out = { 0 };
  int err = hra_rooms_targets(r, rooms, nrooms, except, nexcept, &out);
  int ok = err == HRA_OK && out.len == nwant && (nwant == 0 || memcmp(out.data, want, nwant * 4) == 0);
  checks++;
  if (!ok) {
    failures++;
    fprintf(stderr, "%s:%d: targets mismatch: got", __FILE__, line);
    for (size_t i = 0; i < out.len; i++)
      fprintf(stderr, " %u", out.data[i]);
    fprintf(stderr, ", want");
    for (size_t i = 0; i < nwant; i++)
      fprintf(stderr, " %u", want[i]);
    fprintf(stderr, "\n");
  }
  hra_u32vec_free(&out);
}

#define EXPECT_TARGETS(r, rooms, nrooms, except, nexcept, ...) \
  do { \
    static const uint32_t want_[] = { __VA_ARGS__ }; \
    expect_targets(r, rooms, nrooms, except, nexcept, want_ + 1, sizeof(want_) / 4 - 1, __LINE__); \
  } while (0)

static void
edge_cases (void) {
  hra_rooms_t *r = hra_rooms_new(42);
  CHECK(r != NULL);
  if (r == NULL) return;
  hra_room_key_t a = str_key("a"), b = str_key("b"), none = str_key("none");

  // Empty index. (The first EXPECT_TARGETS value is a placeholder so the list
  // may be empty.)
  CHECK(hra_rooms_count(r) == 0);
  CHECK(!hra_rooms_has(r, a));
  CHECK(hra_rooms_leave(r, 3, a) == 0);
  CHECK(hra_rooms_leave(r, 1u << 31, a) == 0);
  CHECK(hra_rooms_leave_all(r, 3) == 0);
  CHECK(hra_rooms_leave_all(r, UINT32_MAX) == 0);
  EXPECT_TARGETS(r, NULL, 0, NULL, 0, 0);
  EXPECT_TARGETS(r, &a, 1, &b, 1, 0);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "", 0));
  check_invariants(r);

  // Join / rejoin / leave of a non-member.
  CHECK(hra_rooms_join(r, 1, a) == 1);
  CHECK(hra_rooms_join(r, 1, a) == 0);
  CHECK(hra_rooms_join(r, 2, a) == 1);
  CHECK(hra_rooms_join(r, 3, a) == 1);
  CHECK(hra_rooms_leave(r, 9, a) == 0);
  CHECK(hra_rooms_leave(r, 1, b) == 0);
  CHECK(hra_rooms_leave(r, 1, none) == 0);
  CHECK(hra_rooms_count(r) == 1);
  // Leaving and rejoining moves a socket to the end, like a JS Set.
  CHECK(hra_rooms_leave(r, 1, a) == 1);
  CHECK(hra_rooms_join(r, 1, a) == 1);
  EXPECT_TARGETS(r, &a, 1, NULL, 0, 0, 2, 3, 1);
  // ...but the sids order is first-join order, kept while the socket stays
  // registered.
  EXPECT_TARGETS(r, NULL, 0, NULL, 0, 0, 1, 2, 3);

  // A socket in several target rooms is emitted once, at its first room's
  // position.
  CHECK(hra_rooms_join(r, 4, b) == 1);
  CHECK(hra_rooms_join(r, 2, b) == 1);
  hra_room_key_t ab[] = { b, a, none };
  EXPECT_TARGETS(r, ab, 3, NULL, 0, 0, 4, 2, 3, 1);
  hra_room_key_t aa[] = { a, a };
  EXPECT_TARGETS(r, aa, 2, NULL, 0, 0, 2, 3, 1);

  // Except: rooms that exist exclude their members; missing except rooms are
  // ignored.
  EXPECT_TARGETS(r, &a, 1, &b, 1, 0, 3, 1);
  hra_room_key_t exc[] = { none, b };
  EXPECT_TARGETS(r, NULL, 0, exc, 2, 0, 1, 3);
  EXPECT_TARGETS(r, &b, 1, &a, 1, 0, 4);
  EXPECT_TARGETS(r, &a, 1, &a, 1, 0);
  EXPECT_TARGETS(r, &none, 1, NULL, 0, 0);

  // The JS adapter's del() keeps the socket in sids: it still receives
  // broadcasts to all until delAll.
  CHECK(hra_rooms_leave(r, 4, b) == 1);
  EXPECT_TARGETS(r, NULL, 0, NULL, 0, 0, 1, 2, 3, 4);
  CHECK(hra_rooms_leave_all(r, 4) == 0);
  EXPECT_TARGETS(r, NULL, 0, NULL, 0, 0, 1, 2, 3);
  CHECK(hra_rooms_leave_all(r, 2) == 2);
  CHECK(!hra_rooms_has(r, b));
  CHECK(hra_rooms_count(r) == 1);
  EXPECT_TARGETS(r, NULL, 0, NULL, 0, 0, 1, 3);
  // A reused slot starts over at the end of the sids order.
  CHECK(hra_rooms_join(r, 2, b) == 1);
  EXPECT_TARGETS(r, NULL, 0, NULL, 0, 0, 1, 3, 2);
  check_invariants(r);

  // NUM and STR rooms with the same text are different rooms.
  CHECK(hra_rooms_join(r, 5, str_key("123")) == 1);
  CHECK(!hra_rooms_has(r, num_key("123")));
  CHECK(hra_rooms_join(r, 6, num_key("123")) == 1);
  CHECK(hra_rooms_join(r, 6, num_key("123")) == 0);
  EXPECT_TARGETS(r, (hra_room_key_t[]){ str_key("123") }, 1, NULL, 0, 0, 5);
  EXPECT_TARGETS(r, (hra_room_key_t[]){ num_key("123") }, 1, NULL, 0, 0, 6);
  CHECK(hra_rooms_leave(r, 6, str_key("123")) == 0);
  CHECK(hra_rooms_leave(r, 5, num_key("123")) == 0);

  // Names with NUL and '#', and the empty name.
  hra_room_key_t nul1 = { (const uint8_t *) "x\0y#", 4, HRA_ROOM_STR };
  hra_room_key_t nul2 = { (const uint8_t *) "x\0z#", 4, HRA_ROOM_STR };
  hra_room_key_t empty = { NULL, 0, HRA_ROOM_STR };
  CHECK(hra_rooms_join(r, 7, nul1) == 1);
  CHECK(!hra_rooms_has(r, nul2));
  CHECK(!hra_rooms_has(r, str_key("x")));
  CHECK(hra_rooms_join(r, 8, empty) == 1);
  CHECK(hra_rooms_has(r, str_key("")));
  hra_room_key_t nul_empty[] = { nul1, empty };
  EXPECT_TARGETS(r, nul_empty, 2, NULL, 0, 0, 7, 8);

  // Limits and bad input: nothing changes.
  size_t before = hra_rooms_count(r), mem = hra_rooms_memory(r);
  uint8_t *big = calloc(HRA_ROOMS_MAX_NAME + 1, 1);
  CHECK(big != NULL);
  if (big != NULL) {
    CHECK(hra_rooms_join(r, 1, (hra_room_key_t){ big, HRA_ROOMS_MAX_NAME + 1, HRA_ROOM_STR }) == HRA_ELIMIT);
    CHECK(!hra_rooms_has(r, (hra_room_key_t){ big, HRA_ROOMS_MAX_NAME + 1, HRA_ROOM_STR }));
    CHECK(hra_rooms_count(r) == before && hra_rooms_memory(r) == mem);
    CHECK(hra_rooms_join(r, 1, (hra_room_key_t){ big, HRA_ROOMS_MAX_NAME, HRA_ROOM_STR }) == 1);
    CHECK(hra_rooms_has(r, (hra_room_key_t){ big, HRA_ROOMS_MAX_NAME, HRA_ROOM_STR }));
    CHECK(hra_rooms_leave(r, 1, (hra_room_key_t){ big, HRA_ROOMS_MAX_NAME, HRA_ROOM_STR }) == 1);
    free(big);
  }
  // The successful join above may have grown the tables: take a new snapshot.
  mem = hra_rooms_memory(r);
  CHECK(hra_rooms_join(r, 1u << 31, a) == HRA_ELIMIT);
  CHECK(hra_rooms_join(r, UINT32_MAX, a) == HRA_ELIMIT);
  CHECK(hra_rooms_join(r, 1, (hra_room_key_t){ (const uint8_t *) "a", 1, 7 }) == HRA_EINVAL);
  CHECK(hra_rooms_join(r, 1, (hra_room_key_t){ NULL, 3, HRA_ROOM_STR }) == HRA_EINVAL);
  CHECK(hra_rooms_count(r) == before && hra_rooms_memory(r) == mem);
  check_invariants(r);
  hra_rooms_free(r);

  // has_str_or_num: the classic adapter's channel check.
  r = hra_rooms_new(7);
  CHECK(r != NULL);
  if (r == NULL) return;
  const char *probes[] = { "123", "1e3", " 12 ", "0x10", "abc", "", "12", "0" };
  CHECK(hra_rooms_join(r, 1, str_key("abc")) == 1);
  // No NUM room yet: only exact STR rooms match (the numeric path is skipped).
  CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) "abc", 3));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "123", 3));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "", 0));
  CHECK(hra_rooms_join(r, 1, num_key("123")) == 1);
  int want1[] = { 1, 0, 0, 0, 1, 0, 0, 0 };
  for (int i = 0; i < 8; i++)
    CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) probes[i], strlen(probes[i])) == want1[i]);
  CHECK(hra_rooms_join(r, 1, num_key("1000")) == 1);
  CHECK(hra_rooms_join(r, 1, num_key("12")) == 1);
  int want2[] = { 1, 1, 1, 0, 1, 0, 1, 0 };
  for (int i = 0; i < 8; i++)
    CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) probes[i], strlen(probes[i])) == want2[i]);
  // parseFloat("0x10") is 0, so "0x10" matches the NUM room 0 (not 16).
  CHECK(hra_rooms_join(r, 1, num_key("16")) == 1);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "0x10", 4));
  CHECK(hra_rooms_join(r, 1, num_key("0")) == 1);
  int want3[] = { 1, 1, 1, 1, 1, 0, 1, 1 };
  for (int i = 0; i < 8; i++)
    CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) probes[i], strlen(probes[i])) == want3[i]);
  // "" and "  " are not numeric: parseFloat gives NaN although Number gives 0.
  CHECK(hra_rooms_join(r, 1, num_key("1")) == 1);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "", 0));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "  ", 2));
  // Number("1e") is NaN, so "1e" is not numeric although parseFloat reads 1.
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "1e", 2));
  CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) "1.", 2));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "1 2", 3));
  check_invariants(r);
  // Leaving the last NUM room switches the numeric path off again.
  CHECK(hra_rooms_leave_all(r, 1) == 7);
  CHECK(r->num_count == 0 && hra_rooms_count(r) == 0);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "123", 3));
  hra_rooms_free(r);
}

// parse_float_prefix must find exactly the text JS's parseFloat reads.
static void
parse_float_cases (void) {
  static const struct {
    const char *s;
    const char *prefix;  // NULL: parseFloat gives NaN
  } cases[] = {
    { "123", "123" },
    { " 12 ", "12" },
    { "0x10", "0" },
    { "1e3", "1e3" },
    { "1e", "1" },
    { "1e+", "1" },
    { "1e-5x", "1e-5" },
    { ".5", ".5" },
    { "5.", "5." },
    { ".", NULL },
    { "-.5e1", "-.5e1" },
    { "+-1", NULL },
    { "abc", NULL },
    { "", NULL },
    { "  ", NULL },
    { "-Infinity", "-Infinity" },
    { "Infinityx", "Infinity" },
    { "infinity", NULL },
    { "\xc2\xa0\xef\xbb\xbf\xe3\x80\x80"
      "7",
      "7" },
    { "\xe2\x80\x8b"
      "7",
      NULL },
    { "1.2.3", "1.2" },
    { "1_000", "1" },
    { "\n\t-0", "-0" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t st = 0, len = 0;
    int ok = parse_float_prefix((const uint8_t *) cases[i].s, strlen(cases[i].s), &st, &len);
    int good = cases[i].prefix == NULL
      ? !ok
      : ok && len == strlen(cases[i].prefix) && memcmp(cases[i].s + st, cases[i].prefix, len) == 0;
    CHECK(good);
    if (!good) fprintf(stderr, "  parse_float_prefix(\"%s\")\n", cases[i].s);
  }
}

// A 100k-member room: leaves in random order must keep join order, and memory
// must come back.
static void
big_room (void) {
  enum { N = 100000 };
  hra_rooms_t *r = hra_rooms_new(99);
  CHECK(r != NULL);
  if (r == NULL) return;
  size_t base = hra_rooms_memory(r);
  hra_room_key_t big = str_key("big"), other = str_key("other");
  static uint32_t perm[N], want[N];
  static uint8_t gone[N];
  clock_t t0 = clock();
  for (uint32_t i = 0; i < N; i++) {
    CHECK(hra_rooms_join(r, i, big) == 1);
    if (i % 10 == 0) CHECK(hra_rooms_join(r, i, other) == 1);
    perm[i] = i;
  }
  clock_t t1 = clock();
  for (uint32_t i = N - 1; i > 0; i--) {
    uint32_t j = rnd(i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  hra_u32vec_t out = { 0 };
  for (uint32_t i = 0; i < N * 9 / 10; i++) {
    CHECK(hra_rooms_leave(r, perm[i], big) == 1);
    gone[perm[i]] = 1;
    if (i % 20000 == 0) {
      size_t n = 0;
      for (uint32_t s = 0; s < N; s++) {
        if (!gone[s]) want[n++] = s;
      }
      CHECK(hra_rooms_targets(r, &big, 1, NULL, 0, &out) == HRA_OK);
      CHECK(out.len == n && memcmp(out.data, want, n * 4) == 0);
    }
  }
  clock_t t2 = clock();
  size_t n = 0;
  for (uint32_t s = 0; s < N; s++) {
    if (!gone[s]) want[n++] = s;
  }
  CHECK(hra_rooms_targets(r, &big, 1, NULL, 0, &out) == HRA_OK);
  CHECK(out.len == n && memcmp(out.data, want, n * 4) == 0);
  CHECK(hra_rooms_targets(r, NULL, 0, &other, 1, &out) == HRA_OK);
  CHECK(out.len == N - N / 10);
  check_invariants(r);
  clock_t t3 = clock();
  for (int rep = 0; rep < 100; rep++)
    hra_rooms_targets(r, NULL, 0, &other, 1, &out);
  clock_t t4 = clock();
  for (uint32_t s = 0; s < N; s++)
    hra_rooms_leave_all(r, s);
  CHECK(hra_rooms_count(r) == 0);
  check_invariants(r);
  // The slot array stays sized for the largest slot seen (JS reuses slots);
  // tables shrink back.
  size_t left = hra_rooms_memory(r) - base - r->socks_len * sizeof(sock_t) - (size_t) r->rooms_cap * sizeof(room_t);
  CHECK(left < 64 * 1024);
  printf(
    "  big room: %d joins %.0f ns/op, %d leaves %.0f ns/op, broadcast-all "
    "minus except over %d sockets %.2f ms\n",
    N + N / 10, 1e9 * (double) (t1 - t0) / CLOCKS_PER_SEC / (N + N / 10), N * 9 / 10,
    1e9 * (double) (t2 - t1) / CLOCKS_PER_SEC / (N * 9 / 10), N, 1e3 * (double) (t4 - t3) / CLOCKS_PER_SEC / 100);
  hra_u32vec_free(&out);
  hra_rooms_free(r);
}

static void
alloc_failures (void) {
  // Every allocation of hra_rooms_new can fail without leaking (LeakSanitizer
  // checks at exit).
  for (long k = 1; k <= 3; k++) {
    fail_countdown = k;
    hra_rooms_t *r = hra_rooms_new(1);
    CHECK(r == NULL);
    fail_countdown = 0;
  }
  // Each allocation step of a join that creates a room, a socket and registers
  // it.
  hra_rooms_t *r = hra_rooms_new(1);
  CHECK(r != NULL);
  if (r == NULL) return;
  for (int i = 0; i < 40; i++) {
    char name[16];
    snprintf(name, sizeof(name), "room%d", i);
    for (long k = 1;; k++) {
      size_t count = hra_rooms_count(r);
      fail_countdown = k;
      int rc = hra_rooms_join(r, (uint32_t) i * 7, str_key(name));
      long left = fail_countdown;
      fail_countdown = 0;
      if (rc == 1) {
        CHECK(left > 0);
        break;
      }
      CHECK(rc == HRA_ENOMEM);
      CHECK(hra_rooms_count(r) == count && !hra_rooms_has(r, str_key(name)));
      check_invariants(r);
      if (k > 20) break;
    }
  }
  check_invariants(r);
  hra_rooms_free(r);
}

int
main (void) {
  edge_cases();
  parse_float_cases();
  alloc_failures();
  differential(0x1234567887654321u, 100000, 0);
  differential(0xdeadbeefcafef00du, 100000, 0);
  differential(0x0badc0ffee0ddf00u, 50000, 30);
  big_room();
  printf("rooms_test: %d checks, %d failures, %ld injected allocation failures\n", checks, failures, injected);
  return failures ? 1 : 0;
}

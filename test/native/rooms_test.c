// Unit and differential tests for native/rooms.c, the set of rooms a node holds. rooms.c is compiled into this
// file so that allocation failures can be injected (HRA_ROOMS_REALLOC) and the table's invariants checked after
// each step.
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

// Walks the table: every stored fingerprint is reachable from its home without crossing an empty entry (what
// backward-shift deletion must preserve), the counts agree, the load stays under 3/4.
static void
check_invariants (hra_rooms_t *r) {
  size_t used = 0, mask = r->cap - 1;
  CHECK(r->cap >= TAB_MIN && (r->cap & mask) == 0);
  for (size_t i = 0; i < r->cap; i++) {
    uint32_t f = r->tab[i];
    if (f == 0) continue;
    used++;
    for (size_t j = f & mask; j != i; j = (j + 1) & mask) {
      if (r->tab[j] == 0) {
        CHECK(!"fingerprint unreachable from its home");
        break;
      }
    }
  }
  CHECK(used == r->count);
  CHECK(r->count * 4 <= r->cap * 3);
  CHECK(r->num_count <= r->count);
  CHECK(hra_rooms_memory(r) == sizeof(*r) + r->cap * sizeof(uint32_t));
}

// ---- reference model: how many times each key was created and not yet deleted (JS creates a room once, but
// the set must count, and two rooms may share a fingerprint) ----

#define NKEYS 24

static struct {
  int kind;
  const char *name;
  size_t len;
  int n;
} model[NKEYS];

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
    model[i].kind = keys[i].kind;
    model[i].name = keys[i].name;
    model[i].len = keys[i].len;
    model[i].n = 0;
  }
}

static hra_room_key_t
model_key (int k) {
  return (hra_room_key_t){ (const uint8_t *) model[k].name, model[k].len, model[k].kind };
}

static size_t
model_count (void) {
  size_t n = 0;
  for (int k = 0; k < NKEYS; k++)
    n += (size_t) model[k].n;
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

// Runs random creations and deletions against the set and the model. With fail_rate set, creations that report
// HRA_ENOMEM are not applied to the model, which checks that a failed call changed nothing. The keys are few, so
// no two share a fingerprint for the seeds used: has() must then answer exactly.
static void
differential (uint64_t seed, int ops, uint32_t rate) {
  model_init();
  rng_state = seed;
  hra_rooms_t *r = hra_rooms_new(seed);
  CHECK(r != NULL);
  if (r == NULL) return;
  long enomem = 0;
  fail_rate = rate;
  for (int op = 0; op < ops; op++) {
    uint32_t p = rnd(100);
    int k = (int) rnd(NKEYS);
    if (p < 45) {
      int got = hra_rooms_add(r, model_key(k));
      if (got == HRA_ENOMEM) {
        enomem++;
      } else {
        CHECK(got == HRA_OK);
        model[k].n++;
      }
    } else if (p < 85) {
      int got = hra_rooms_remove(r, model_key(k));
      CHECK(got == (model[k].n > 0));
      if (model[k].n > 0) model[k].n--;
    } else {
      CHECK(hra_rooms_has(r, model_key(k)) == (model[k].n > 0));
      check_probes(r);
    }
    CHECK(hra_rooms_count(r) == model_count());
    if (op % 997 == 0) check_invariants(r);
    if (failures > 20) break;
  }
  fail_rate = 0;
  check_invariants(r);
  for (int k = 0; k < NKEYS; k++) {
    while (model[k].n > 0) {
      CHECK(hra_rooms_remove(r, model_key(k)) == 1);
      model[k].n--;
    }
    CHECK(!hra_rooms_has(r, model_key(k)));
  }
  CHECK(hra_rooms_count(r) == 0 && r->num_count == 0);
  check_invariants(r);
  if (rate) {
    printf("  differential seed %llx with %u/1000 allocation failures: %ld ENOMEM creations\n", (unsigned long long) seed, rate, enomem);
    CHECK(enomem > 0);
  }
  hra_rooms_free(r);
}

static void
edge_cases (void) {
  hra_rooms_t *r = hra_rooms_new(42);
  CHECK(r != NULL);
  if (r == NULL) return;
  hra_room_key_t a = str_key("a"), b = str_key("b");

  CHECK(hra_rooms_count(r) == 0);
  CHECK(!hra_rooms_has(r, a));
  CHECK(hra_rooms_remove(r, a) == 0);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "", 0));

  // Counted: a room created twice (two tables in step, or a caller's mistake) must be deleted twice.
  CHECK(hra_rooms_add(r, a) == HRA_OK);
  CHECK(hra_rooms_add(r, a) == HRA_OK);
  CHECK(hra_rooms_remove(r, a) == 1);
  CHECK(hra_rooms_has(r, a));
  CHECK(hra_rooms_remove(r, a) == 1);
  CHECK(!hra_rooms_has(r, a));
  CHECK(hra_rooms_remove(r, b) == 0);

  // NUM and STR rooms with the same text are different rooms.
  CHECK(hra_rooms_add(r, str_key("123")) == HRA_OK);
  CHECK(!hra_rooms_has(r, num_key("123")));
  CHECK(hra_rooms_remove(r, num_key("123")) == 0);
  CHECK(hra_rooms_add(r, num_key("123")) == HRA_OK);
  CHECK(r->num_count == 1);
  CHECK(hra_rooms_remove(r, str_key("123")) == 1);
  CHECK(hra_rooms_has(r, num_key("123")) && !hra_rooms_has(r, str_key("123")));
  CHECK(hra_rooms_remove(r, num_key("123")) == 1 && r->num_count == 0);

  // Names with NUL and '#', the empty name, and a long one (no length limit: nothing is copied).
  hra_room_key_t nul1 = { (const uint8_t *) "x\0y#", 4, HRA_ROOM_STR };
  hra_room_key_t nul2 = { (const uint8_t *) "x\0z#", 4, HRA_ROOM_STR };
  hra_room_key_t empty = { NULL, 0, HRA_ROOM_STR };
  CHECK(hra_rooms_add(r, nul1) == HRA_OK);
  CHECK(!hra_rooms_has(r, nul2));
  CHECK(!hra_rooms_has(r, str_key("x")));
  CHECK(hra_rooms_add(r, empty) == HRA_OK);
  CHECK(hra_rooms_has(r, str_key("")));
  uint8_t *big = calloc(HRA_ROOMS_MAX_NAME + 2, 1);
  CHECK(big != NULL);
  if (big != NULL) {
    hra_room_key_t k = { big, HRA_ROOMS_MAX_NAME + 1, HRA_ROOM_STR };
    CHECK(hra_rooms_add(r, k) == HRA_OK);
    CHECK(hra_rooms_has(r, k));
    CHECK(!hra_rooms_has(r, (hra_room_key_t){ big, HRA_ROOMS_MAX_NAME, HRA_ROOM_STR }));
    CHECK(hra_rooms_remove(r, k) == 1);
    free(big);
  }

  // Bad input: nothing changes.
  size_t before = hra_rooms_count(r), mem = hra_rooms_memory(r);
  CHECK(hra_rooms_add(r, (hra_room_key_t){ (const uint8_t *) "a", 1, 7 }) == HRA_EINVAL);
  CHECK(hra_rooms_add(r, (hra_room_key_t){ NULL, 3, HRA_ROOM_STR }) == HRA_EINVAL);
  CHECK(hra_rooms_remove(r, (hra_room_key_t){ NULL, 3, HRA_ROOM_STR }) == 0);
  CHECK(!hra_rooms_has(r, (hra_room_key_t){ (const uint8_t *) "a", 1, 7 }));
  CHECK(hra_rooms_count(r) == before && hra_rooms_memory(r) == mem);
  check_invariants(r);
  hra_rooms_free(r);

  // has_str_or_num: the classic adapter's channel check.
  r = hra_rooms_new(7);
  CHECK(r != NULL);
  if (r == NULL) return;
  const char *probes[] = { "123", "1e3", " 12 ", "0x10", "abc", "", "12", "0" };
  CHECK(hra_rooms_add(r, str_key("abc")) == HRA_OK);
  // No NUM room yet: only exact STR rooms match (the numeric path is skipped).
  CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) "abc", 3));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "123", 3));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "", 0));
  CHECK(hra_rooms_add(r, num_key("123")) == HRA_OK);
  int want1[] = { 1, 0, 0, 0, 1, 0, 0, 0 };
  for (int i = 0; i < 8; i++)
    CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) probes[i], strlen(probes[i])) == want1[i]);
  CHECK(hra_rooms_add(r, num_key("1000")) == HRA_OK);
  CHECK(hra_rooms_add(r, num_key("12")) == HRA_OK);
  int want2[] = { 1, 1, 1, 0, 1, 0, 1, 0 };
  for (int i = 0; i < 8; i++)
    CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) probes[i], strlen(probes[i])) == want2[i]);
  // parseFloat("0x10") is 0, so "0x10" matches the NUM room 0 (not 16).
  CHECK(hra_rooms_add(r, num_key("16")) == HRA_OK);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "0x10", 4));
  CHECK(hra_rooms_add(r, num_key("0")) == HRA_OK);
  int want3[] = { 1, 1, 1, 1, 1, 0, 1, 1 };
  for (int i = 0; i < 8; i++)
    CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) probes[i], strlen(probes[i])) == want3[i]);
  // "" and "  " are not numeric: parseFloat gives NaN although Number gives 0.
  CHECK(hra_rooms_add(r, num_key("1")) == HRA_OK);
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "", 0));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "  ", 2));
  // Number("1e") is NaN, so "1e" is not numeric although parseFloat reads 1.
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "1e", 2));
  CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) "1.", 2));
  CHECK(!hra_rooms_has_str_or_num(r, (const uint8_t *) "1 2", 3));
  check_invariants(r);
  // Deleting the last NUM room switches the numeric path off again.
  const char *nums[] = { "123", "1000", "12", "16", "0", "1" };
  for (int i = 0; i < 6; i++)
    CHECK(hra_rooms_remove(r, num_key(nums[i])) == 1);
  CHECK(r->num_count == 0 && hra_rooms_count(r) == 1);
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

// 200k rooms (a server whose sockets each hold their own room): every one is found, rooms never created are
// found only at the rate the fingerprints allow, deletions in random order keep every other room reachable, and
// the table shrinks back.
static void
many_rooms (void) {
  enum { N = 200000,
    PROBES = 1000000 };
  hra_rooms_t *r = hra_rooms_new(99);
  CHECK(r != NULL);
  if (r == NULL) return;
  size_t base = hra_rooms_memory(r);
  static char names[N][24];
  static uint32_t perm[N];
  for (uint32_t i = 0; i < N; i++) {
    snprintf(names[i], sizeof(names[i]), "sid-%08x%08x", i * 2654435761u, i);
    perm[i] = i;
  }
  clock_t t0 = clock();
  for (uint32_t i = 0; i < N; i++)
    CHECK(hra_rooms_add(r, str_key(names[i])) == HRA_OK);
  clock_t t1 = clock();
  size_t missing = 0;
  for (uint32_t i = 0; i < N; i++)
    missing += !hra_rooms_has(r, str_key(names[i]));
  CHECK(missing == 0);
  check_invariants(r);
  size_t held_bytes = hra_rooms_memory(r);
  char probe[32];
  size_t false_yes = 0;
  clock_t t2 = clock();
  for (uint32_t i = 0; i < PROBES; i++) {
    snprintf(probe, sizeof(probe), "other-%u", i);
    false_yes += (size_t) hra_rooms_has(r, str_key(probe));
  }
  clock_t t3 = clock();
  // About count / 2^32 per probe, times the fingerprints sharing a home: ~50 expected here.
  CHECK(false_yes < 500);
  for (uint32_t i = N - 1; i > 0; i--) {
    uint32_t j = rnd(i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (uint32_t i = 0; i < N; i++) {
    CHECK(hra_rooms_remove(r, str_key(names[perm[i]])) == 1);
    if (i % 50000 == 0) {
      check_invariants(r);
      for (uint32_t k = i + 1; k < N; k += 97)
        CHECK(hra_rooms_has(r, str_key(names[perm[k]])));
    }
  }
  CHECK(hra_rooms_count(r) == 0);
  CHECK(hra_rooms_memory(r) <= base * 2);
  check_invariants(r);
  printf("  %d rooms: %.0f ns per creation, %.0f ns per lookup of a room not held, %zu of %d such lookups said yes, %zu bytes held (%.1f per room)\n", N,
    1e9 * (double) (t1 - t0) / CLOCKS_PER_SEC / N, 1e9 * (double) (t3 - t2) / CLOCKS_PER_SEC / PROBES, false_yes, PROBES, held_bytes, (double) held_bytes / N);
  hra_rooms_free(r);
}

static void
alloc_failures (void) {
  // Every allocation of hra_rooms_new can fail without leaking (LeakSanitizer checks at exit).
  for (long k = 1; k <= 2; k++) {
    fail_countdown = k;
    hra_rooms_t *r = hra_rooms_new(1);
    CHECK(r == NULL);
    fail_countdown = 0;
  }
  // A creation that must grow the table fails cleanly, then succeeds.
  hra_rooms_t *r = hra_rooms_new(1);
  CHECK(r != NULL);
  if (r == NULL) return;
  for (int i = 0; i < 1000; i++) {
    char name[16];
    snprintf(name, sizeof(name), "room%d", i);
    size_t count = hra_rooms_count(r), mem = hra_rooms_memory(r);
    fail_countdown = 1;
    int rc = hra_rooms_add(r, str_key(name));
    long left = fail_countdown;
    fail_countdown = 0;
    if (left == 0) {
      CHECK(rc == HRA_ENOMEM);
      CHECK(hra_rooms_count(r) == count && hra_rooms_memory(r) == mem && !hra_rooms_has(r, str_key(name)));
      CHECK(hra_rooms_add(r, str_key(name)) == HRA_OK);
    } else {
      CHECK(rc == HRA_OK);
    }
    CHECK(hra_rooms_has(r, str_key(name)));
  }
  check_invariants(r);
  // Shrinking may fail: the larger table is kept and stays correct.
  fail_rate = 1000;
  for (int i = 0; i < 990; i++) {
    char name[16];
    snprintf(name, sizeof(name), "room%d", i);
    CHECK(hra_rooms_remove(r, str_key(name)) == 1);
  }
  fail_rate = 0;
  check_invariants(r);
  CHECK(hra_rooms_count(r) == 10 && hra_rooms_has(r, str_key("room995")));
  hra_rooms_free(r);
}

// Appends one record to a room log as lib/adapter.js writes it.
static size_t
log_put (uint8_t *log, size_t at, const char *name, size_t len, uint32_t flags) {
  uint32_t head = (uint32_t) len | flags;
  memcpy(log + at, &head, 4);
  memcpy(log + at + 4, name, len);
  return at + 4 + ((len + 3) & ~(size_t) 3);
}

static void
log_set_used (uint8_t *log, size_t end) {
  uint32_t used = (uint32_t) (end - 4);
  memcpy(log, &used, 4);
}

static uint32_t
log_used (const uint8_t *log) {
  uint32_t used;
  memcpy(&used, log, 4);
  return used;
}

static void
room_log (void) {
  static uint8_t log[256];
  hra_rooms_t *r = hra_rooms_new(5);
  CHECK(r != NULL);
  if (r == NULL) return;
  // Creations and deletions apply in order; names of every length pad to 4 bytes; NUM rooms are their own.
  size_t at = 4;
  at = log_put(log, at, "a", 1, HRA_ROOMS_LOG_ON);
  at = log_put(log, at, "bcde", 4, HRA_ROOMS_LOG_ON);
  at = log_put(log, at, "", 0, HRA_ROOMS_LOG_ON);
  at = log_put(log, at, "12", 2, HRA_ROOMS_LOG_ON | HRA_ROOMS_LOG_NUM);
  at = log_put(log, at, "x\0yz#", 5, HRA_ROOMS_LOG_ON);
  at = log_put(log, at, "a", 1, 0);
  log_set_used(log, at);
  hra_rooms_apply_log(r, log, sizeof(log));
  CHECK(log_used(log) == 0);
  CHECK(hra_rooms_count(r) == 4 && r->num_count == 1 && !r->lossy);
  CHECK(!hra_rooms_has(r, str_key("a")) && hra_rooms_has(r, str_key("bcde")) && hra_rooms_has(r, str_key("")));
  CHECK(hra_rooms_has(r, num_key("12")) && !hra_rooms_has(r, str_key("12")));
  CHECK(hra_rooms_has(r, (hra_room_key_t){ (const uint8_t *) "x\0yz#", 5, HRA_ROOM_STR }));
  CHECK(hra_rooms_has_str_or_num(r, (const uint8_t *) "12.0", 4));
  // An empty log changes nothing.
  hra_rooms_apply_log(r, log, sizeof(log));
  CHECK(hra_rooms_count(r) == 4);
  at = log_put(log, 4, "12", 2, HRA_ROOMS_LOG_NUM);
  log_set_used(log, at);
  hra_rooms_apply_log(r, log, sizeof(log));
  CHECK(hra_rooms_count(r) == 3 && r->num_count == 0);
  check_invariants(r);

  // A record running past the bytes used, or a used count past the log: lossy, every room may be held (nothing
  // held is dropped), and the log is emptied.
  at = log_put(log, 4, "abcdefgh", 8, HRA_ROOMS_LOG_ON);
  log_set_used(log, at - 4);
  hra_rooms_apply_log(r, log, sizeof(log));
  CHECK(r->lossy && log_used(log) == 0 && hra_rooms_has(r, str_key("never")));
  hra_rooms_free(r);
  r = hra_rooms_new(5);
  CHECK(r != NULL);
  if (r == NULL) return;
  uint32_t huge = 1000;
  memcpy(log, &huge, 4);
  hra_rooms_apply_log(r, log, sizeof(log));
  CHECK(r->lossy && log_used(log) == 0);
  hra_rooms_free(r);

  // A creation that fails for memory: lossy too.
  r = hra_rooms_new(5);
  CHECK(r != NULL);
  if (r == NULL) return;
  at = 4;
  for (int i = 0; i < 20; i++) {
    char name[16];
    snprintf(name, sizeof(name), "r%d", i);
    at = log_put(log, at, name, strlen(name), HRA_ROOMS_LOG_ON);
  }
  log_set_used(log, at);
  fail_rate = 1000;
  hra_rooms_apply_log(r, log, sizeof(log));
  fail_rate = 0;
  CHECK(r->lossy && hra_rooms_has(r, str_key("r19")) && log_used(log) == 0);
  hra_rooms_free(r);
}

int
main (void) {
  edge_cases();
  parse_float_cases();
  for (uint64_t seed = 1; seed <= 8; seed++)
    differential(seed * 0x9e3779b97f4a7c15u, 20000, 0);
  differential(0xfeedu, 20000, 50);
  alloc_failures();
  room_log();
  many_rooms();
  printf("rooms_test: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}

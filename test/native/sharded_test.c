// Plain-C tests of the sharded receive path: hra_sharded_on_message on an adapter made with
// hra_adapter_new (no Node), the canonical-JSON check, and a pseudo-random garbage run (what a
// fuzzer would do, in miniature). Built by test/native/Makefile.sharded under ASan/UBSan.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/adapter_internal.h"
#include "../../native/json.h"
#include "../fuzz/batch_walk.h"

static int failures;

#define CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
      failures++; \
    } \
  } while (0)

static hra_slice_t
S (const char *z) {
  hra_slice_t s = { (const uint8_t *) z, strlen(z) };
  return s;
}

#define word batch_walk_word

static void
reset (hra_batch_t *b) {
  CHECK(batch_walk(b) >= 0);  // every record well formed before it is dropped
  hra_batch_reset(b);
}

// The first word of the first record's target list.
static uint32_t
targets0 (const hra_batch_t *b) {
  return word(b, word(b, HRA_F_TARGETS_AT));
}

static int
canonical (const char *z) {
  hra_buf_t keys = { NULL, 0, 0 };
  int r = hra_json_canonical(&keys, (const uint8_t *) z, strlen(z), 100);
  hra_buf_free(&keys);
  return r;
}

int
main (void) {
  // canonical JSON: exactly JSON.stringify(JSON.parse(text))
  CHECK(canonical("[\"e\",1,\"two\",{\"a\":[true,false,null]}]"));
  CHECK(canonical("[1e+21,1e-7,0.1,-5,\"\\u0001\\n\\\"\\\\\",\"\xc3\xa9\"]"));
  CHECK(canonical("[{\"0\":1,\"1\":2,\"x\":3}]"));
  CHECK(!canonical("[ 1]"));
  CHECK(!canonical("[1.0]"));
  CHECK(!canonical("[-0]"));
  CHECK(!canonical("[1e21]"));
  CHECK(!canonical("[\"\\/\"]"));
  CHECK(!canonical("[\"\\u0041\"]"));
  CHECK(!canonical("[\"\\u000A\"]"));
  CHECK(!canonical("[\"\\ud800\"]"));
  CHECK(!canonical("[{\"a\":1,\"a\":2}]"));
  CHECK(!canonical("[{\"b\":1,\"1\":2}]"));
  CHECK(!canonical("[{\"2\":1,\"1\":2}]"));
  CHECK(!canonical("[{\"__proto__\":1}]"));
  CHECK(!canonical("[\"\xff\"]"));
  CHECK(!canonical("[1,]"));
  // every JSON value type, not only arrays (json.c serves the Primus front too)
  CHECK(canonical("{}"));
  CHECK(canonical("{\"a\":[1,{}],\"b\":\"x\"}"));
  CHECK(canonical("\"str\\n\""));
  CHECK(canonical("-1.5"));
  CHECK(canonical("true"));
  CHECK(canonical("false"));
  CHECK(canonical("null"));
  CHECK(canonical("\"\xe2\x80\xa8\""));  // U+2028 raw, as JSON.stringify writes it
  CHECK(!canonical(" 1"));
  CHECK(!canonical("1 "));
  CHECK(!canonical("-0"));
  CHECK(!canonical("1E3"));
  CHECK(!canonical("tru"));
  CHECK(!canonical("\"a"));
  CHECK(!canonical("{\"a\":1,}"));
  CHECK(!canonical("{\"a\" :1}"));
  CHECK(!canonical("\"\xed\xa0\x80\""));  // a surrogate encoded in UTF-8 (not UTF-8)
  CHECK(!canonical("[1e400]"));

  hra_adapter_opts_t o;
  memset(&o, 0, sizeof(o));
  o.key = "socket.io";
  o.nsp = "/";
  o.uid = "a1a1a1a1a1a1a1a1";
  o.id = 7;
  o.seed = 0x1234567890abcdefULL;
  o.sharded = 1;
  hra_adapter_t *a = hra_adapter_new(&o);
  CHECK(a != NULL);
  if (a == NULL) return 1;
  CHECK(hra_adapter_hold(a, 0, (const uint8_t *) "room1", 5) == HRA_OK);
  CHECK(hra_adapter_hold(a, 0, (const uint8_t *) "room2", 5) == HRA_OK);
  hra_batch_t b;
  memset(&b, 0, sizeof(b));

  // SH1 from another node: one broadcast record to every local socket, the packet string passed through
  const char *sh1 = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"hello\",\"world\",42]},\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},\"uid\":\"b1b1b1b1b1b1b1b1\",\"nsp\":\"/\"}";
  CHECK(hra_sharded_on_message(a, S("socket.io#/#"), S(sh1), &b) == 1);
  CHECK(b.records == 1 && word(&b, HRA_F_KIND) == HRA_REC_BROADCAST && word(&b, HRA_F_ADAPTER) == 7);
  CHECK(word(&b, HRA_F_BC_LEN) == 22 && memcmp(b.bytes.data + word(&b, HRA_F_BC_OFF), "42[\"hello\",\"world\",42]", 22) == 0);
  CHECK(targets0(&b) == HRA_TARGETS_ALL);  // no rooms, no exceptions: every local socket
  reset(&b);

  // to room1 only, on its channel; our own uid is ignored; another namespace is ignored
  const char *r1 = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"x\"]},\"opts\":{\"rooms\":[\"room\\u0031\"],\"except\":[],\"flags\":{\"volatile\":true}}},\"uid\":\"b1\",\"nsp\":\"/\"}";
  CHECK(hra_sharded_on_message(a, S("socket.io#/#room1#"), S(r1), &b) == 1);
  // (the room named as a JSON escape: its unescaped name is listed, no exception)
  uint32_t at = word(&b, HRA_F_TARGETS_AT);
  CHECK(b.records == 1 && word(&b, HRA_F_BC_FLAGS) == HRA_BFLAG_VOLATILE && targets0(&b) == 1 && word(&b, at + 1) == 0);
  CHECK(word(&b, at + 3) == 5 && memcmp(b.bytes.data + word(&b, at + 2), "room1", 5) == 0);
  reset(&b);
  // rooms not held here: nothing for JS; held exceptions are listed, others left out
  const char *r3 = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"x\"]},\"opts\":{\"rooms\":[\"room3\",7],\"except\":[],\"flags\":{}}},\"uid\":\"b1\",\"nsp\":\"/\"}";
  uint64_t no_target = hra_adapter_stats(a)->ignored_no_target;
  CHECK(hra_sharded_on_message(a, S("socket.io#/#"), S(r3), &b) == 1 && b.records == 0 && hra_adapter_stats(a)->ignored_no_target == no_target + 1);
  const char *ex = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"x\"]},\"opts\":{\"rooms\":[\"room3\",\"room2\"],\"except\":[\"room1\",\"nope\"],\"flags\":{}}},\"uid\":\"b1\",\"nsp\":\"/\"}";
  CHECK(hra_sharded_on_message(a, S("socket.io#/#"), S(ex), &b) == 1 && b.records == 1);
  at = word(&b, HRA_F_TARGETS_AT);
  CHECK(word(&b, at) == 1 && word(&b, at + 1) == 1);
  CHECK(memcmp(b.bytes.data + word(&b, at + 2), "room2", 5) == 0 && memcmp(b.bytes.data + word(&b, at + 4), "room1", 5) == 0);
  reset(&b);
  const char *own = "{\"type\":3,\"data\":{},\"uid\":\"a1a1a1a1a1a1a1a1\",\"nsp\":\"/\"}";
  CHECK(hra_sharded_on_message(a, S("socket.io#/#"), S(own), &b) == 1 && b.records == 0 && hra_adapter_stats(a)->ignored_own == 1);
  CHECK(hra_sharded_on_message(a, S("socket.io#/admin#"), S(sh1), &b) == 0);

  // not canonical: the raw message goes to JS
  const char *loose = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"x\", 1.0]},\"opts\":{\"rooms\":[],\"except\":[]}},\"uid\":\"b1\",\"nsp\":\"/\"}";
  CHECK(hra_sharded_on_message(a, S("socket.io#/#"), S(loose), &b) == 1);
  CHECK(b.records == 1 && word(&b, HRA_F_KIND) == HRA_REC_SHARDED && word(&b, HRA_F_MSG_ROUTE) == 0);
  reset(&b);

  // requests go to JS; responses only when their id is pending
  const char *req = "{\"type\":7,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"requestId\":\"f000000000000003\"},\"uid\":\"b1\",\"nsp\":\"/\"}";
  CHECK(hra_sharded_on_message(a, S("socket.io#/#"), S(req), &b) == 1 && b.records == 1);
  reset(&b);
  const char *resp = "{\"type\":10,\"data\":{\"requestId\":\"f000000000000002\",\"packet\":2},\"uid\":\"b1\",\"nsp\":\"/\"}";
  hra_slice_t me = S("socket.io#/#a1a1a1a1a1a1a1a1#");
  CHECK(hra_sharded_on_message(a, me, S(resp), &b) == 1 && b.records == 0 && hra_adapter_stats(a)->responses_ignored == 1);
  CHECK(hra_sharded_track(a, (const uint8_t *) "f000000000000002", 16, 1) == 0);
  CHECK(hra_sharded_on_message(a, me, S(resp), &b) == 1 && b.records == 1 && word(&b, HRA_F_MSG_ROUTE) == 1);
  CHECK(hra_sharded_track(a, (const uint8_t *) "f000000000000002", 16, 0) == 0);
  reset(&b);

  // garbage: random bytes, and every truncation of the messages above, never crash
  uint64_t x = 88172645463325252ULL;
  uint8_t buf[512];
  const char *msgs[] = { sh1, r1, loose, req, resp };
  for (int round = 0; round < 200000; round++) {
    size_t n;
    if (round % 2 == 0) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      n = x % sizeof(buf);
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t) x;
      }
      if (round % 4 == 0 && n > 0) buf[0] = '{';
    } else {
      const char *m = msgs[(round / 2) % 5];
      size_t len = strlen(m);
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      n = x % len;
      memcpy(buf, m, n);
      if (n > 0 && round % 3 == 0) buf[x % n] ^= (uint8_t) (x >> 8);
    }
    hra_slice_t p = { buf, n };
    hra_sharded_on_message(a, round % 3 ? S("socket.io#/#") : me, p, &b);
    if (b.bytes.len > (1u << 20)) reset(&b);
  }
  CHECK(hra_adapter_stats(a)->invalid > 1000);
  hra_batch_free(&b);
  hra_adapter_free(a);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("sharded_test: ok\n");
  return 0;
}

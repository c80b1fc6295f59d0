// The reply parser (native/resp.c), without Node, under ASan/UBSan: the bound of one reply's parsed form
// (max_bytes) holds whatever the reply's shape, arrays of bulk strings parsed in place match hiredis's
// reading of everything else, however the bytes are split, and big reads come out whole and in order.
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/resp.h"

static int
feed (hra_resp_t *p, const char *s, size_t n) {
  return hra_resp_feed(p, s, n);
}

// "*2147483647\r\n" and then 64 MiB of ":1\r\n", fed 64 KiB at a time: without counting the nodes the
// node list grows to 16M entries (384 MiB) while the bytes buffered stay tiny.
static void
test_huge_aggregate (void) {
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
  p.max_bytes = (size_t) 1 << 20;
  assert(hra_resp_reset(&p) == HRA_OK);
  const char *head = "*2147483647\r\n";
  assert(feed(&p, head, strlen(head)) == HRA_OK);
  size_t chunk = 64 * 1024;
  char *ints = malloc(chunk);
  assert(ints != NULL);
  for (size_t i = 0; i < chunk; i += 4)
    memcpy(ints + i, ":1\r\n", 4);
  int r = 0;
  size_t fed = 0;
  hra_reply_t reply;
  while (fed < ((size_t) 64 << 20)) {
    assert(feed(&p, ints, chunk) == HRA_OK);
    fed += chunk;
    r = hra_resp_next(&p, &reply);
    if (r != 0) break;
    assert(hra_resp_buffered(&p) <= p.max_bytes);
  }
  printf("huge aggregate: result %d after %zu MiB, %zu nodes (%zu bytes)\n", r, fed >> 20, p.nnodes, p.cap_nodes * sizeof(hra_reply_node_t));
  assert(r == HRA_ELIMIT);
  assert(p.nnodes * sizeof(hra_reply_node_t) <= p.max_bytes);
  assert(p.cap_nodes * sizeof(hra_reply_node_t) <= 2 * p.max_bytes);
  // After a reset the stream is usable again and the memory is given back.
  assert(hra_resp_reset(&p) == HRA_OK);
  assert(p.cap_nodes * sizeof(hra_reply_node_t) <= 2 * p.max_bytes);
  assert(feed(&p, ":7\r\n", 4) == HRA_OK);
  assert(hra_resp_next(&p, &reply) == 1 && reply.count == 1 && reply.nodes[0].integer == 7);
  hra_resp_consumed(&p);
  free(ints);
  hra_resp_free(&p);
}

// Strings count against the same bound (the arena), and a reply within it parses.
static void
test_strings (void) {
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
  p.max_bytes = 4096;
  assert(hra_resp_reset(&p) == HRA_OK);
  hra_reply_t reply;
  const char *ok = "*2\r\n$5\r\nhello\r\n:42\r\n";
  assert(feed(&p, ok, strlen(ok)) == HRA_OK);
  assert(hra_resp_next(&p, &reply) == 1);
  assert(reply.count == 3 && reply.nodes[0].type == HRA_R_ARRAY && reply.nodes[2].integer == 42);
  hra_slice_t s = hra_reply_str(&reply, 1);
  assert(s.len == 5 && memcmp(s.base, "hello", 5) == 0);
  hra_resp_consumed(&p);
  // 8 strings of 1000 bytes: 8000 arena bytes > 4096.
  char buf[1100];
  assert(feed(&p, "*8\r\n", 4) == HRA_OK);
  int r = 0;
  for (int i = 0; i < 8 && r == 0; i++) {
    memcpy(buf, "$1000\r\n", 7);
    memset(buf + 7, 'x', 1000);
    memcpy(buf + 1007, "\r\n", 2);
    assert(feed(&p, buf, 1009) == HRA_OK);
    r = hra_resp_next(&p, &reply);
  }
  assert(r == HRA_ELIMIT);
  hra_resp_free(&p);
  // max_bytes 0: no bound.
  memset(&p, 0, sizeof(p));
  assert(hra_resp_reset(&p) == HRA_OK);
  assert(feed(&p, "*8\r\n", 4) == HRA_OK);
  for (int i = 0; i < 8; i++)
    assert(feed(&p, buf, 1009) == HRA_OK);
  assert(hra_resp_next(&p, &reply) == 1 && reply.count == 9);
  hra_resp_free(&p);
}

// A whole read of many pmessages, and one reply much larger than a feed slice, fed at once: every reply
// comes out in order, and the bytes buffered count what is still waiting to reach the reader.
static void
test_big_reads (void) {
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
  p.max_bytes = (size_t) 1 << 24;
  assert(hra_resp_reset(&p) == HRA_OK);
  size_t cap = (size_t) 1 << 20, len = 0;
  char *buf = malloc(cap);
  assert(buf != NULL);
  int n = 0;
  while (len + 128 < cap / 2)
    len += (size_t) snprintf(buf + len, cap - len, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$%d\r\n%0*d\r\n", 6 + n % 5, 6 + n % 5, n), n++;
  size_t big = 300000;
  len += (size_t) snprintf(buf + len, cap - len, "$%zu\r\n", big);
  memset(buf + len, 'x', big);
  len += big;
  memcpy(buf + len, "\r\n:5\r\n", 6);
  len += 6;
  assert(feed(&p, buf, len) == HRA_OK);
  assert(hra_resp_buffered(&p) == len);
  hra_reply_t reply;
  for (int i = 0; i < n; i++) {
    assert(hra_resp_next(&p, &reply) == 1);
    assert(reply.count == 4 && reply.nodes[3].len == (uint32_t) (6 + i % 5));
    char digits[16];
    memcpy(digits, reply.data + reply.nodes[3].off, reply.nodes[3].len);
    digits[reply.nodes[3].len] = 0;
    assert(atoi(digits) == i);
    hra_resp_consumed(&p);
  }
  assert(hra_resp_next(&p, &reply) == 1 && reply.count == 1 && reply.nodes[0].len == big);
  hra_resp_consumed(&p);
  assert(hra_resp_next(&p, &reply) == 1 && reply.nodes[0].integer == 5);
  hra_resp_consumed(&p);
  assert(hra_resp_next(&p, &reply) == 0 && hra_resp_buffered(&p) == 0);
  free(buf);
  hra_resp_free(&p);
}

// A stream of replies of every kind, as Redis writes them to a subscriber and a command connection.
static const char stream[] =
  "*4\r\n$8\r\npmessage\r\n$13\r\nsocket.io#/#*\r\n$18\r\nsocket.io#/#room1#\r\n$5\r\nhe\r\no\r\n"
  ":42\r\n"
  "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$0\r\n\r\n"
  "*3\r\n$10\r\npsubscribe\r\n$13\r\nsocket.io#/#*\r\n:1\r\n"
  "+OK\r\n"
  "*2\r\n*1\r\n$1\r\na\r\n$-1\r\n"
  "*9\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n"
  "-ERR no\r\n"
  "*1\r\n$3\r\nend\r\n";

// What every reply of the stream must be, flattened: type/len per node, strings by content.
static const char *expected[] = {
  "A4 S:pmessage S:socket.io#/#* S:socket.io#/#room1# S:he\r\no",
  "I42",
  "A3 S:message S:ch S:",
  "A3 S:psubscribe S:socket.io#/#* I1",
  "T:OK",
  "A2 A1 S:a N",
  "A9 S:1 S:2 S:3 S:4 S:5 S:6 S:7 S:8 S:9",
  "E:ERR no",
  "A1 S:end",
};

static void
flatten (const hra_reply_t *r, char *out, size_t cap) {
  size_t at = 0;
  out[0] = 0;
  for (size_t i = 0; i < r->count; i++) {
    const hra_reply_node_t *n = &r->nodes[i];
    hra_slice_t s = hra_reply_str(r, i);
    char head[32];
    if (n->type == HRA_R_ARRAY)
      snprintf(head, sizeof(head), "A%u", n->len);
    else if (n->type == HRA_R_INTEGER)
      snprintf(head, sizeof(head), "I%lld", (long long) n->integer);
    else if (n->type == HRA_R_NIL)
      snprintf(head, sizeof(head), "N");
    else
      snprintf(head, sizeof(head), "%c:", n->type == HRA_R_STRING ? 'S' : n->type == HRA_R_STATUS ? 'T'
                                                                                                  : 'E');
    at += (size_t) snprintf(out + at, cap - at, "%s%s%.*s", i ? " " : "", head, (int) s.len, (const char *) s.base);
  }
}

// The stream split at every position into two feeds (and byte by byte): the same replies each time; arrays of
// bulk strings point into what was read (parsed in place), the others into the arena (hiredis).
static void
test_direct_path (void) {
  size_t n = sizeof(stream) - 1, nexp = sizeof(expected) / sizeof(expected[0]);
  char got[256];
  for (size_t split = 0; split <= n + 1; split++) {
    hra_resp_t p;
    memset(&p, 0, sizeof(p));
    assert(hra_resp_reset(&p) == HRA_OK);
    size_t k = 0, direct = 0;
    for (size_t at = 0; at < n;) {
      size_t step = split == n + 1 ? 1 : at == 0 && split > 0 ? split
                                                              : n - at;
      if (step > n - at) step = n - at;
      assert(feed(&p, stream + at, step) == HRA_OK);
      at += step;
      hra_reply_t reply;
      int r;
      while ((r = hra_resp_next(&p, &reply)) == 1) {
        assert(k < nexp);
        flatten(&reply, got, sizeof(got));
        if (strcmp(got, expected[k]) != 0) {
          fprintf(stderr, "split %zu, reply %zu: %s, want %s\n", split, k, got, expected[k]);
          assert(0);
        }
        direct += reply.data == p.in.data;
        k++;
        hra_resp_consumed(&p);
      }
      assert(r == 0);
    }
    assert(k == nexp && hra_resp_buffered(&p) == 0);
    // pmessage, message, the last one; the 9 strings (more than FAST_MAX) and the others went through hiredis
    assert(direct == 3);
    hra_resp_free(&p);
  }
}

// A bulk string of 1 MiB arriving 64 KiB at a time waits in what was read, then is parsed in place; one over
// max_bytes is refused as hiredis refuses it.
static void
test_direct_big (void) {
  size_t big = (size_t) 1 << 20, chunk = 64 * 1024;
  char head[64];
  int hl = snprintf(head, sizeof(head), "*2\r\n$7\r\nmessage\r\n$%zu\r\n", big);
  char *all = malloc((size_t) hl + big + 2);
  assert(all != NULL);
  memcpy(all, head, (size_t) hl);
  memset(all + hl, 'b', big);
  memcpy(all + hl + big, "\r\n", 2);
  size_t total = (size_t) hl + big + 2;
  for (int bounded = 0; bounded < 2; bounded++) {
    hra_resp_t p;
    memset(&p, 0, sizeof(p));
    p.max_bytes = bounded ? big / 2 : 0;
    assert(hra_resp_reset(&p) == HRA_OK);
    hra_reply_t reply;
    int r = 0;
    for (size_t at = 0; at < total && r == 0; at += chunk) {
      assert(feed(&p, all + at, total - at < chunk ? total - at : chunk) == HRA_OK);
      r = hra_resp_next(&p, &reply);
    }
    if (bounded) {
      assert(r == HRA_ELIMIT);
    } else {
      assert(r == 1 && reply.count == 3 && reply.data == p.in.data);
      hra_slice_t s = hra_reply_str(&reply, 2);
      assert(s.len == big && s.base[0] == 'b' && s.base[big - 1] == 'b');
      hra_resp_consumed(&p);
      assert(hra_resp_next(&p, &reply) == 0 && hra_resp_buffered(&p) == 0);
    }
    hra_resp_free(&p);
  }
  free(all);
}

int
main (void) {
  test_huge_aggregate();
  test_strings();
  test_big_reads();
  test_direct_path();
  test_direct_big();
  printf("resp_test: ok\n");
  return 0;
}

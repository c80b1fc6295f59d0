// The reply parser (native/resp.c) on hiredis's reader, without Node, under ASan/UBSan: the bound of one
// reply's parsed form (max_bytes) holds whatever the reply's shape; big reads come out whole and in order.
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

int
main (void) {
  test_huge_aggregate();
  test_strings();
  test_big_reads();
  printf("resp_test: ok\n");
  return 0;
}

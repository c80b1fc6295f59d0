// The pure parts of Sentinel support, without Node, under ASan/UBSan: reading Sentinel answers
// (native/sentinel_parse.c), well-formed and hostile, and the handshake's verdicts (native/handshake.c):
// the ROLE check, NOPERM, NOAUTH, courtesies, and READONLY from a demoted master; and the endpoint copies a
// connection keeps (native/endpoint.c: a Sentinel's answer changes with its next one).
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/handshake.h"
#include "../../native/sentinel_parse.h"

typedef struct {
  hra_resp_t p;
  hra_reply_t r;
} parsed_t;

static void
parse (parsed_t *x, const char *text, size_t len) {
  memset(&x->p, 0, sizeof(x->p));
  x->p.max_bytes = 1 << 20;
  assert(hra_resp_reset(&x->p) == HRA_OK);
  assert(hra_resp_feed(&x->p, text, len) == HRA_OK);
  assert(hra_resp_next(&x->p, &x->r) == 1);
}

static void
done (parsed_t *x) {
  hra_resp_consumed(&x->p);
  hra_resp_free(&x->p);
}

static int
master_of (const char *text, hra_sentinel_addr_t *a) {
  parsed_t x;
  parse(&x, text, strlen(text));
  int r = hra_sentinel_parse_master(&x.r, a);
  done(&x);
  return r;
}

static void
test_master (void) {
  hra_sentinel_addr_t a;
  assert(master_of("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", &a) == HRA_OK);
  assert(strcmp(a.host, "127.0.0.1") == 0 && a.port == 6380);
  assert(master_of("*2\r\n$3\r\n::1\r\n$5\r\n65535\r\n", &a) == HRA_OK && a.port == 65535);
  assert(master_of("*2\r\n$15\r\nredis-0.example\r\n$4\r\n6379\r\n", &a) == HRA_OK);
  // Unknown: nil bulk, nil array, empty array, "No such master".
  assert(master_of("$-1\r\n", &a) == HRA_SENTINEL_UNKNOWN);
  assert(master_of("*-1\r\n", &a) == HRA_SENTINEL_UNKNOWN);
  assert(master_of("*0\r\n", &a) == HRA_SENTINEL_UNKNOWN);
  assert(master_of("-ERR No such master with that name\r\n", &a) == HRA_SENTINEL_UNKNOWN);
  assert(master_of("-NOAUTH Authentication required.\r\n", &a) == HRA_ETYPE);
  // Hostile shapes and values.
  const char *bad[] = {
    "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n",
    "*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n",
    "*2\r\n$9\r\n127.0.0.1\r\n$6\r\n000001\r\n",
    "*2\r\n$9\r\n127.0.0.1\r\n$2\r\n-1\r\n",
    "*2\r\n$9\r\n127.0.0.1\r\n$0\r\n\r\n",
    "*2\r\n$0\r\n\r\n$4\r\n6379\r\n",
    "*2\r\n$5\r\na b c\r\n$4\r\n6379\r\n",
    "*2\r\n$3\r\na/b\r\n$4\r\n6379\r\n",
    "*2\r\n:1\r\n:2\r\n",
    "*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n1\r\n",
    "*1\r\n$1\r\na\r\n",
    "*2\r\n*0\r\n$1\r\n1\r\n",
    ":1\r\n",
    "+OK\r\n",
    "$9\r\n127.0.0.1\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    parsed_t x;
    parse(&x, bad[i], strlen(bad[i]));
    assert(hra_sentinel_parse_master(&x.r, &a) == HRA_EINVAL);
    done(&x);
  }
  // A NUL inside the host.
  static const char nul[] = "*2\r\n$3\r\na\0b\r\n$4\r\n6379\r\n";
  parsed_t x;
  parse(&x, nul, sizeof(nul) - 1);
  assert(hra_sentinel_parse_master(&x.r, &a) == HRA_EINVAL);
  done(&x);
  // A host of 255 bytes is fine, 256 is not.
  char text[600];
  char host[300];
  memset(host, 'h', sizeof(host));
  snprintf(text, sizeof(text), "*2\r\n$255\r\n%.255s\r\n$4\r\n6379\r\n", host);
  assert(master_of(text, &a) == HRA_OK && strlen(a.host) == 255);
  snprintf(text, sizeof(text), "*2\r\n$256\r\n%.256s\r\n$4\r\n6379\r\n", host);
  assert(master_of(text, &a) == HRA_EINVAL);
}

typedef struct {
  int calls;
  int usable;
  int last_port;
  int stop_at;
} seen_t;

static int
visit (void *ctx, const hra_sentinel_addr_t *a, int usable) {
  seen_t *s = ctx;
  s->calls++;
  s->usable += usable;
  s->last_port = a->port;
  return s->calls == s->stop_at ? HRA_ELIMIT : HRA_OK;
}

static int
walk_text (const char *text, size_t max, seen_t *s) {
  parsed_t x;
  parse(&x, text, strlen(text));
  int r = hra_sentinel_walk(&x.r, max, visit, s);
  done(&x);
  return r;
}

static void
test_walk (void) {
  seen_t s;
  // Two replicas: one healthy, one down; then a sentinel without master-link-status.
  const char *list =
    "*3\r\n"
    "*8\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n7001\r\n$5\r\nflags\r\n$5\r\nslave\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n"
    "*8\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n7002\r\n$5\r\nflags\r\n$12\r\nslave,s_down\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n"
    "*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$5\r\n26379\r\n$5\r\nflags\r\n$8\r\nsentinel\r\n";
  memset(&s, 0, sizeof(s));
  assert(walk_text(list, 100, &s) == HRA_OK);
  assert(s.calls == 3 && s.usable == 2 && s.last_port == 26379);
  // Bounded: only the first max instances.
  memset(&s, 0, sizeof(s));
  assert(walk_text(list, 1, &s) == HRA_OK && s.calls == 1);
  // The visitor can stop the walk.
  memset(&s, 0, sizeof(s));
  s.stop_at = 2;
  assert(walk_text(list, 100, &s) == HRA_ELIMIT && s.calls == 2);
  // Flags: o_down, disconnected; a link not ok.
  memset(&s, 0, sizeof(s));
  assert(walk_text("*3\r\n"
                   "*6\r\n$2\r\nip\r\n$1\r\na\r\n$4\r\nport\r\n$1\r\n1\r\n$5\r\nflags\r\n$12\r\nslave,o_down\r\n"
                   "*6\r\n$2\r\nip\r\n$1\r\na\r\n$4\r\nport\r\n$1\r\n1\r\n$5\r\nflags\r\n$18\r\ndisconnected,slave\r\n"
                   "*6\r\n$2\r\nip\r\n$1\r\na\r\n$4\r\nport\r\n$1\r\n1\r\n$18\r\nmaster-link-status\r\n$3\r\nerr\r\n",
           100, &s) == HRA_OK);
  assert(s.calls == 3 && s.usable == 0);
  // Entries without a valid address are skipped; a flag that only contains "s_down" as a substring is not it.
  memset(&s, 0, sizeof(s));
  assert(walk_text("*3\r\n"
                   "*2\r\n$2\r\nip\r\n$1\r\na\r\n"
                   "*4\r\n$2\r\nip\r\n$3\r\na b\r\n$4\r\nport\r\n$1\r\n1\r\n"
                   "*6\r\n$2\r\nip\r\n$1\r\na\r\n$4\r\nport\r\n$1\r\n9\r\n$5\r\nflags\r\n$7\r\nxs_down\r\n",
           100, &s) == HRA_OK);
  assert(s.calls == 1 && s.usable == 1 && s.last_port == 9);
  // Malformed: not an array, an odd entry, a non-string field, an entry that is not an array.
  const char *bad[] = { ":1\r\n", "*1\r\n*1\r\n$2\r\nip\r\n", "*1\r\n*2\r\n$2\r\nip\r\n:1\r\n", "*1\r\n$2\r\nip\r\n", "*1\r\n*2\r\n*0\r\n$1\r\na\r\n" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memset(&s, 0, sizeof(s));
    assert(walk_text(bad[i], 100, &s) == HRA_EINVAL);
  }
  memset(&s, 0, sizeof(s));
  assert(walk_text("-ERR No such master with that name\r\n", 100, &s) == HRA_SENTINEL_UNKNOWN);
  assert(walk_text("-NOPERM this user has no permissions\r\n", 100, &s) == HRA_ETYPE);
  assert(walk_text("*0\r\n", 100, &s) == HRA_OK);
}

static int
sw (const char *text, hra_sentinel_addr_t *from, hra_sentinel_addr_t *to) {
  hra_slice_t m = { (const uint8_t *) text, strlen(text) };
  return hra_sentinel_parse_switch(m, "mymaster", from, to);
}

static void
test_switch (void) {
  hra_sentinel_addr_t a, b;
  assert(sw("mymaster 10.0.0.1 6379 10.0.0.2 6380", &a, &b) == HRA_OK);
  assert(strcmp(a.host, "10.0.0.1") == 0 && a.port == 6379 && strcmp(b.host, "10.0.0.2") == 0 && b.port == 6380);
  assert(sw("other 10.0.0.1 6379 10.0.0.2 6380", &a, &b) == HRA_SENTINEL_UNKNOWN);
  assert(sw("mymasterx 10.0.0.1 6379 10.0.0.2 6380", &a, &b) == HRA_SENTINEL_UNKNOWN);
  const char *bad[] = { "", "mymaster", "mymaster 1 2 3", "mymaster 10.0.0.1 6379 10.0.0.2 6380 extra", "mymaster 10.0.0.1 6379 10.0.0.2 0", "mymaster 10.0.0.1 x 10.0.0.2 1",
    "mymaster 10.0.0.1 6379 a/b 1", "mymaster 10.0.0.1 6379 10.0.0.2 99999" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert(sw(bad[i], &a, &b) == HRA_EINVAL);
  hra_slice_t none = { NULL, 0 };
  assert(hra_sentinel_parse_switch(none, "mymaster", &a, &b) == HRA_EINVAL);
}

static int
judge (const hra_handshake_step_t *st, const char *text, const hra_endpoint_t *ep, char *code) {
  parsed_t x;
  char msg[256];
  parse(&x, text, strlen(text));
  int r = hra_handshake_judge(st, &x.r, ep, code, 32, msg, sizeof(msg));
  done(&x);
  return r;
}

static void
test_handshake (void) {
  hra_handshake_t hs;
  hra_handshake_build(&hs, "alice", "pw", 3, "cli", 1);
  assert(hs.count == 5);
  assert(strcmp(hs.steps[0].argv[0], "AUTH") == 0 && hs.steps[0].argc == 3 && hs.steps[0].kind == HRA_STEP_STRICT);
  assert(strcmp(hs.steps[1].argv[1], "3") == 0 && hs.steps[1].lens[1] == 1);
  assert(hs.steps[2].kind == HRA_STEP_COURTESY && hs.steps[3].kind == HRA_STEP_ROLE && hs.steps[4].kind == HRA_STEP_PING);
  assert(hra_handshake_step(&hs, HRA_STEP_ROLE) == &hs.steps[3] && hra_handshake_step(&hs, HRA_STEP_PING) == &hs.steps[4]);
  hra_handshake_build(&hs, NULL, NULL, 0, NULL, 0);
  assert(hs.count == 1 && hs.steps[0].kind == HRA_STEP_PING);
  assert(hra_handshake_step(&hs, HRA_STEP_ROLE) == NULL);
  hra_handshake_build(&hs, NULL, "pw", 0, NULL, 0);
  assert(hs.count == 2 && hs.steps[0].argc == 2);

  hra_handshake_step_t strict = { HRA_STEP_STRICT, 0, { NULL }, { 0 } }, courtesy = { HRA_STEP_COURTESY, 0, { NULL }, { 0 } };
  hra_handshake_step_t ping = { HRA_STEP_PING, 0, { NULL }, { 0 } }, role = { HRA_STEP_ROLE, 0, { NULL }, { 0 } };
  hra_endpoint_t master = { "10.0.0.1", 6379, NULL, "master" }, replica = { "10.0.0.2", 6379, NULL, "slave" }, fixed = { "h", 1, NULL, NULL };
  char code[32];
  assert(judge(&strict, "+OK\r\n", &fixed, code) == HRA_OK);
  assert(judge(&strict, "-WRONGPASS invalid username-password pair\r\n", &fixed, code) != HRA_OK && strcmp(code, "WRONGPASS") == 0);
  assert(judge(&strict, "-\r\n", &fixed, code) != HRA_OK && strcmp(code, "ERR") == 0);
  assert(judge(&courtesy, "-NOPERM no\r\n", &fixed, code) == HRA_OK);
  assert(judge(&ping, "-NOPERM no\r\n", &fixed, code) == HRA_OK);
  assert(judge(&ping, "-NOAUTH Authentication required.\r\n", &fixed, code) != HRA_OK && strcmp(code, "NOAUTH") == 0);
  const char *role_master = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
  const char *role_slave = "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n";
  assert(judge(&role, role_master, &master, code) == HRA_OK);
  assert(judge(&role, role_slave, &master, code) != HRA_OK && strcmp(code, "EROLE") == 0);
  assert(judge(&role, role_slave, &replica, code) == HRA_OK);
  assert(judge(&role, role_master, &replica, code) != HRA_OK && strcmp(code, "EROLE") == 0);
  assert(judge(&role, "*2\r\n$8\r\nsentinel\r\n*0\r\n", &master, code) != HRA_OK);
  assert(judge(&role, ":1\r\n", &master, code) != HRA_OK);
  assert(judge(&role, "*0\r\n", &master, code) != HRA_OK);
  assert(judge(&role, "*1\r\n:1\r\n", &master, code) != HRA_OK);
  assert(judge(&role, "-NOPERM this user has no permissions to run the 'role' command\r\n", &master, code) == HRA_OK);
  assert(judge(&role, "-ERR unknown command\r\n", &master, code) != HRA_OK && strcmp(code, "ERR") == 0);
  assert(judge(&role, role_slave, &fixed, code) == HRA_OK);

  parsed_t x;
  const char *ro = "-READONLY You can't write against a read only replica.\r\n";
  parse(&x, ro, strlen(ro));
  assert(hra_handshake_demoted(&x.r, &master) == 1);
  assert(hra_handshake_demoted(&x.r, &replica) == 0);
  assert(hra_handshake_demoted(&x.r, &fixed) == 0);
  assert(hra_handshake_demoted(&x.r, NULL) == 0);
  done(&x);
  parse(&x, "-ERR READONLY\r\n", 15);
  assert(hra_handshake_demoted(&x.r, &master) == 0);
  done(&x);
  parse(&x, "+READONLY\r\n", 11);
  assert(hra_handshake_demoted(&x.r, &master) == 0);
  done(&x);
}

static void
test_endpoint_copy (void) {
  char host[16] = "10.0.0.1";
  hra_endpoint_t answer = { host, 6379, NULL, "master" };
  hra_endpoint_copy_t k;
  memset(&k, 0, sizeof(k));
  assert(hra_endpoint_keep(&k, &answer) == HRA_OK);
  strcpy(host, "10.0.0.2");  // the provider's next answer overwrites its own
  assert(strcmp(k.ep.host, "10.0.0.1") == 0 && k.ep.port == 6379 && k.ep.path == NULL && strcmp(k.ep.role, "master") == 0);
  assert(!hra_endpoint_same(&k.ep, &answer));
  answer.port = 6380;
  strcpy(host, "10.0.0.1");
  assert(!hra_endpoint_same(&k.ep, &answer));
  answer.port = 6379;
  answer.role = NULL;
  assert(hra_endpoint_same(&k.ep, &answer));  // the node, whatever the role
  hra_endpoint_t unix_ep = { NULL, 0, "/tmp/r.sock", NULL };
  assert(hra_endpoint_keep(&k, &unix_ep) == HRA_OK);  // the previous copy is freed (ASan: no leak)
  assert(k.ep.host == NULL && strcmp(k.ep.path, "/tmp/r.sock") == 0 && k.ep.role == NULL);
  assert(hra_endpoint_same(&k.ep, &unix_ep) && !hra_endpoint_same(&k.ep, &answer));
  hra_endpoint_forget(&k);
  assert(k.mem == NULL);
}

int
main (void) {
  test_master();
  test_walk();
  test_switch();
  test_handshake();
  test_endpoint_copy();
  printf("sentinel_test: ok\n");
  return 0;
}

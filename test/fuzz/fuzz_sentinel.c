// libFuzzer target: what a Sentinel (or a node asked ROLE) may send, read as native/endpoint_sentinel.c and
// native/conn.c read it. The input is a stream of RESP replies; each complete one goes through every reader
// of Sentinel answers (get-master-addr-by-name, replicas / sentinels lists) and every handshake verdict
// (ROLE for a master and for a replica, AUTH, PING, READONLY). The input's bytes are also a +switch-master
// message. Every address accepted must be a checked host (1 to 255 host characters, NUL-terminated) and a
// port in 1..65535.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/handshake.h"
#include "../../native/sentinel_parse.h"

static void
check_addr (const hra_sentinel_addr_t *a) {
  size_t n = strnlen(a->host, sizeof(a->host));
  if (n == 0 || n > HRA_SENTINEL_MAX_HOST || a->port < 1 || a->port > 65535) abort();
  for (size_t i = 0; i < n; i++) {
    char c = a->host[i];
    if (c == ' ' || c == '\r' || c == '\n' || c == '/' || c == '@') abort();
  }
}

static int
visit (void *ctx, const hra_sentinel_addr_t *a, int usable) {
  check_addr(a);
  (*(unsigned *) ctx)++;
  return HRA_OK;
}

static void
judge_all (const hra_reply_t *r) {
  static const hra_endpoint_t eps[3] = { { "10.0.0.1", 6379, NULL, "master" }, { "10.0.0.2", 6379, NULL, "slave" }, { "h", 1, NULL, NULL } };
  for (int kind = HRA_STEP_STRICT; kind <= HRA_STEP_ROLE; kind++) {
    hra_handshake_step_t st = { kind, 0, { NULL }, { 0 } };
    for (int e = 0; e < 3; e++) {
      char code[32], text[256];
      code[0] = text[0] = 1;
      if (hra_handshake_judge(&st, r, &eps[e], code, sizeof(code), text, sizeof(text)) != HRA_OK) {
        if (strnlen(code, sizeof(code)) == sizeof(code) || strnlen(text, sizeof(text)) == sizeof(text)) abort();
      }
    }
  }
  for (int e = 0; e < 3; e++) (void) hra_handshake_demoted(r, &eps[e]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  hra_slice_t whole = { data, size };
  hra_sentinel_addr_t from, to;
  if (hra_sentinel_parse_switch(whole, "mymaster", &from, &to) == HRA_OK) {
    check_addr(&from);
    check_addr(&to);
  }
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
  p.max_bytes = 1u << 20;
  if (hra_resp_reset(&p) != HRA_OK) return 0;
  if (hra_resp_feed(&p, (const char *) data, size) == HRA_OK) {
    hra_reply_t r;
    while (hra_resp_next(&p, &r) == 1) {
      hra_sentinel_addr_t a;
      if (hra_sentinel_parse_master(&r, &a) == HRA_OK) check_addr(&a);
      unsigned n = 0;
      int err = hra_sentinel_walk(&r, 256, visit, &n);
      if (n > 256 || (err != HRA_OK && err != HRA_EINVAL && err != HRA_ETYPE && err != HRA_SENTINEL_UNKNOWN)) abort();
      judge_all(&r);
      hra_resp_consumed(&p);
    }
  }
  hra_resp_free(&p);
  return 0;
}

// libFuzzer target: the RESP reader path exactly as native/conn.c drives it (arrays of bulk strings parsed in
// place, anything else through hiredis's reader with our no-allocation reply functions and string arena), fed in
// chunks whose sizes come from the input, with every complete reply walked and checked (node strings inside
// their bytes, subtrees inside the node list) and compared with what hiredis's reader alone makes of the same
// bytes fed at once: the same replies, node for node, and an error at the same reply.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/resp.h"

#define MAX_BUFFERED (1u << 20)  // like maxReplyMB, small so the fuzzer hits the limit

static void
check_reply (const hra_reply_t *r, size_t arena_len) {
  if (r->count == 0) abort();
  for (size_t i = 0; i < r->count; i++) {
    const hra_reply_node_t *n = &r->nodes[i];
    if (n->type < HRA_R_STRING || n->type > HRA_R_BOOL) abort();
    if (n->type == HRA_R_STRING || n->type == HRA_R_STATUS || n->type == HRA_R_ERROR) {
      if (n->off > arena_len || n->len > arena_len - n->off) abort();
      hra_slice_t s = hra_reply_str(r, i);
      volatile uint8_t sink = 0;
      for (size_t k = 0; k < s.len; k++)
        sink ^= s.base[k];
      (void) sink;
    }
  }
  // The whole reply is one subtree: walking it from the root ends exactly at the end.
  if (hra_reply_next(r, 0) != r->count) abort();
  for (size_t i = 0; i < r->count; i++) {
    size_t j = hra_reply_next(r, i);
    if (j <= i || j > r->count) abort();
  }
}

// The reference: every reply of the input through hiredis's reader, fed at once, flattened and kept.
typedef struct {
  hra_reply_node_t *nodes;
  uint8_t *bytes;
  size_t count;
} kept_t;

static size_t
reference (const uint8_t *data, size_t size, kept_t *out, size_t max, int *err) {
  hra_resp_t q;
  memset(&q, 0, sizeof(q));
  q.hiredis_only = 1;
  q.max_bytes = MAX_BUFFERED;
  *err = 0;
  if (hra_resp_reset(&q) != HRA_OK || hra_resp_feed(&q, (const char *) data, size) != HRA_OK) abort();
  size_t n = 0;
  hra_reply_t r;
  int rc;
  while (n < max && (rc = hra_resp_next(&q, &r)) == 1) {
    out[n].count = r.count;
    out[n].nodes = malloc(r.count * sizeof(hra_reply_node_t));
    out[n].bytes = malloc(q.strs.len + 1);
    if (out[n].nodes == NULL || out[n].bytes == NULL) abort();
    memcpy(out[n].nodes, r.nodes, r.count * sizeof(hra_reply_node_t));
    if (q.strs.len) memcpy(out[n].bytes, q.strs.data, q.strs.len);
    hra_resp_consumed(&q);
    n++;
  }
  if (n < max && rc < 0) *err = rc;
  hra_resp_free(&q);
  return n;
}

static void
same_reply (const hra_reply_t *r, const kept_t *k) {
  if (r->count != k->count) abort();
  for (size_t i = 0; i < r->count; i++) {
    const hra_reply_node_t *a = &r->nodes[i], *b = &k->nodes[i];
    if (a->type != b->type || a->len != b->len || a->integer != b->integer) abort();
    if (a->type == HRA_R_STRING || a->type == HRA_R_STATUS || a->type == HRA_R_ERROR) {
      if (a->len && memcmp(r->data + a->off, k->bytes + b->off, a->len) != 0) abort();
    }
  }
}

#define MAX_KEPT 4096

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static kept_t kept[MAX_KEPT];
  int ref_err = 0;
  size_t nref = reference(data + 1, size - 1, kept, MAX_KEPT, &ref_err);
  size_t got = 0;
  int err = 0, stopped = 0;
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
  p.max_bytes = MAX_BUFFERED;
  if (hra_resp_reset(&p) != HRA_OK) return 0;
  // The first byte picks the chunk pattern: 0 = all at once, else chunks of 1..k bytes.
  size_t k = data[0];
  data++;
  size = size - 1;
  size_t pos = 0, step = 0;
  while (pos < size) {
    size_t chunk = k == 0 ? size - pos : 1 + (size_t) ((data[pos] + step++) % k);
    if (chunk > size - pos) chunk = size - pos;
    if (hra_resp_feed(&p, (const char *) data + pos, chunk) != HRA_OK) break;
    pos += chunk;
    int r = 0;
    hra_reply_t reply;
    while ((r = hra_resp_next(&p, &reply)) == 1) {
      // A reply parsed in place points into what was read; any other into the arena.
      check_reply(&reply, reply.data == p.in.data ? p.in.len : p.strs.len);
      if (got < nref) same_reply(&reply, &kept[got]);
      got++;
      hra_resp_consumed(&p);
    }
    if (r < 0) {  // a protocol error: conn.c drops the connection
      err = r;
      break;
    }
    if (hra_resp_buffered(&p) > MAX_BUFFERED) {  // conn.c: EMSGSIZE
      stopped = 1;
      break;
    }
  }
  size_t waiting = hra_resp_buffered(&p);
  hra_resp_free(&p);
  if (nref < MAX_KEPT && !stopped) {
    // Every reply hiredis found, no more, and an error where it failed (out of memory aside), or, for a reply
    // that is not an array of bulk strings, still waiting for its end: such a reply goes to hiredis whole.
    if (got != nref && !(err == HRA_ENOMEM && got < nref)) abort();
    if (err == 0 && ref_err != 0 && waiting == 0) abort();
    if (err != 0 && err != HRA_ENOMEM && ref_err == 0) abort();
  }
  for (size_t i = 0; i < nref; i++) {
    free(kept[i].nodes);
    free(kept[i].bytes);
  }
  return 0;
}

// libFuzzer target: the RESP reader path exactly as native/conn.c drives it (hiredis's reader with our
// no-allocation reply functions and string arena), fed in chunks whose sizes come from the input, with
// every complete reply walked and checked: node strings inside the arena, subtrees inside the node list.
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

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  hra_resp_t p;
  memset(&p, 0, sizeof(p));
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
      check_reply(&reply, p.strs.len);
      hra_resp_consumed(&p);
    }
    if (r < 0) break;  // a protocol error: conn.c drops the connection
    if (hra_resp_buffered(&p) > MAX_BUFFERED) break;  // conn.c: EMSGSIZE
  }
  hra_resp_free(&p);
  return 0;
}

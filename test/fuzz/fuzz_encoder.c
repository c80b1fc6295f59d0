// libFuzzer target: the msgpack -> socket.io-parser string encoder on arbitrary msgpack. Properties: on
// success the output is valid UTF-8, its JSON part is valid JSON (checked with native/json.c), the header
// counts exactly the attachments produced, and every attachment lies inside the input; on error nothing
// was appended.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/encoder.h"
#include "../../native/json.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int type = (data[0] & 1) ? 3 : 2;
  int with_id = (data[0] & 2) != 0;
  int nsp_kind = (data[0] >> 2) & 3;
  unsigned depth = 1 + (data[0] >> 4) * 8;
  data++;
  size--;
  // With an id, the first msgpack value is the id and the rest is the data (split at a byte from the input).
  hra_slice_t id = { NULL, 0 };
  if (with_id) {
    size_t split = data[0] % size;
    id.base = data + 1;
    id.len = split > 0 ? split - 1 : 0;
    data += split;
    size -= split;
    if (id.len == 0) with_id = 0;
  }
  static const char *nsps[4] = { "/", "/chat", "", "/a,b" };
  hra_slice_t nsp = { (const uint8_t *) nsps[nsp_kind], strlen(nsps[nsp_kind]) };
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  hra_buf_t out = { 0 };
  hra_slices_t att = { 0 };
  // Something already in the buffers: errors must restore these lengths.
  hra_buf_append(&out, "x", 1);
  hra_slices_push(&att, (hra_slice_t){ (const uint8_t *) "y", 1 });
  int err = hra_encode_packet(&enc, &out, &att, type, nsp, with_id ? &id : NULL, (hra_slice_t){ data, size }, depth);
  if (err != HRA_OK) {
    if (out.len != 1 || att.len != 1) abort();
  } else {
    const uint8_t *p = out.data + 1, *end = out.data + out.len;
    if (!hra_encoder_utf8_valid(p, (size_t) (end - p))) abort();
    // header: type digit (+3 for binary), optional "<n>-", optional "nsp,", optional id digits, then JSON
    if (p >= end || (*p != '2' && *p != '3' && *p != '5' && *p != '6')) abort();
    int binary = *p == '5' || *p == '6';
    p++;
    size_t natt = 0;
    if (binary) {
      while (p < end && *p >= '0' && *p <= '9')
        natt = natt * 10 + (size_t) (*p++ - '0');
      if (p >= end || *p++ != '-') abort();
    }
    if (natt != att.len - 1) abort();
    for (size_t i = 1; i < att.len; i++) {
      hra_slice_t a = att.items[i];
      if (a.len && (a.base < data || a.base + a.len > data + size)) abort();
    }
    if (nsp.len > 1) {
      if ((size_t) (end - p) < nsp.len + 1 || memcmp(p, nsp.base, nsp.len) != 0 || p[nsp.len] != ',') abort();
      p += nsp.len + 1;
    }
    if (!with_id) {
      // without an id the JSON follows at once; with one, the id's String() text comes first, which the
      // check below cannot separate from a JSON number: only check what it can.
      if (p < end) {
        hra_json_t j = { p, end, 1000 };
        if (hra_json_skip(&j, NULL) < 0 || !hra_json_at_end(&j)) {
          fprintf(stderr, "invalid JSON: %.*s\n", (int) (end - p), (const char *) p);
          abort();
        }
      }
    }
  }
  hra_buf_free(&out);
  hra_slices_free(&att);
  hra_encoder_free(&enc);
  return 0;
}

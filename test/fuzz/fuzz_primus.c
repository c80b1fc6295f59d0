// libFuzzer target: the Primus front's receive path (native/primus.c) on primus-redis-rooms messages, with a
// set of rooms held (the names the off-shape messages resolve to, a long name, two JS names sharing one
// UTF-8) and released again. Input: [selector][payload...]; the selector picks the channel (another node's,
// this node's own, a pattern of another front) and the front (limits of 1 MiB / depth 100, or 64 / depth 3).
// Checks every record: well formed, its slices inside the batch, its room valid UTF-8 unless JS computes it,
// a pass-through packet valid UTF-8 with no raw U+2028/U+2029.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/encoder.h"
#include "../../native/primus.h"
#include "batch_walk.h"

static hra_primus_t *fronts[2];
static hra_batch_t batch;
static uint8_t long_name[70000];

static const char *const held[] = { "r", "undefined", "a,b", "[object Object]", "5", "true", "null", "Infinity", "\xef\xbf\xbd", "__proto__", "" };

static void
init (void) {
  for (int i = 0; i < 2; i++) {
    hra_primus_opts_t o = { "primus", "me", (uint32_t) i + 1, i ? 3 : 100, i ? 64 : 1u << 20, 0x1234 };
    fronts[i] = hra_primus_new(&o);
    if (fronts[i] == NULL) abort();
    for (size_t k = 0; k < sizeof(held) / sizeof(held[0]); k++) {
      if (hra_primus_presence(fronts[i], (const uint8_t *) held[k], strlen(held[k]), 1) != HRA_OK) abort();
    }
    // a second JS room with the same UTF-8 (a lone surrogate), then released: "\xef\xbf\xbd" stays held
    if (hra_primus_presence(fronts[i], (const uint8_t *) "\xef\xbf\xbd", 3, 1) != HRA_OK) abort();
    if (hra_primus_presence(fronts[i], (const uint8_t *) "\xef\xbf\xbd", 3, 0) != HRA_OK) abort();
    memset(long_name, 'L', sizeof(long_name));
    if (hra_primus_presence(fronts[i], long_name, sizeof(long_name), 1) != HRA_OK) abort();
  }
}

static uint32_t
word (size_t i) {
  return batch_walk_word(&batch, i);
}

static void
check_records (void) {
  if (batch_walk(&batch) < 0) abort();
  size_t n = batch.words.len / 4;
  for (size_t i = 0; i < n; i += word(i + HRA_F_WORDS)) {
    if (word(i) != HRA_REC_PRIMUS) abort();
    uint32_t flags = word(i + HRA_F_PR_FLAGS);
    uint64_t roff = word(i + HRA_F_PR_ROOM_OFF), rlen = word(i + HRA_F_PR_ROOM_LEN);
    uint64_t doff = word(i + HRA_F_PR_DATA_OFF), dlen = word(i + HRA_F_PR_DATA_LEN);
    if (roff + rlen > batch.bytes.len || doff + dlen > batch.bytes.len) abort();
    if (flags & ~(HRA_PR_ROOM_JSON | HRA_PR_DATA_ABSENT | HRA_PR_DATA_PACKET)) abort();
    if ((flags & HRA_PR_DATA_ABSENT) && dlen != 0) abort();
    if (!(flags & HRA_PR_ROOM_JSON) && !hra_encoder_utf8_valid(batch.bytes.data + roff, rlen)) abort();
    if (flags & HRA_PR_DATA_PACKET) {
      const uint8_t *d = batch.bytes.data + doff;
      if (dlen == 0 || !hra_encoder_utf8_valid(d, dlen)) abort();
      for (uint64_t k = 0; k + 2 < dlen; k++) {
        if (d[k] == 0xe2 && d[k + 1] == 0x80 && (d[k + 2] == 0xa8 || d[k + 2] == 0xa9)) abort();
      }
    }
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (fronts[0] == NULL) init();
  if (size < 1) return 0;
  static const char *channels[] = { "primus.other", "primus.me", "primus.", "primus.x.y" };
  const char *ch = channels[data[0] & 3];
  const char *pat = (data[0] & 8) ? "other.*" : "primus.*";
  hra_slice_t pattern = { (const uint8_t *) pat, strlen(pat) };
  hra_slice_t channel = { (const uint8_t *) ch, strlen(ch) };
  hra_slice_t payload = { size > 1 ? data + 1 : NULL, size - 1 };
  hra_primus_t *p = fronts[(data[0] >> 4) & 1];
  int kind = (data[0] & 0x40) ? 'c' : 'p';
  (void) hra_primus_on_message(p, kind, pattern, channel, payload, &batch);
  check_records();
  hra_batch_reset(&batch);
  return 0;
}

// Plain-C test of native/batch.c, the one writer of the records JS reads (lib/batch.js is the reader):
// self-describing headers, target lists and their ALL / SAME markers, cancel, the cap, limits. Run under
// ASan/UBSan: make -C test/native batch
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/batch.h"
#include "../fuzz/batch_walk.h"

static int failures;

#define CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++; \
    } \
  } while (0)

static uint32_t
word (const hra_batch_t *b, size_t i) {
  uint32_t w;
  memcpy(&w, b->words.data + 4 * i, 4);
  return w;
}

#define walk batch_walk

static hra_slice_t
S (const char *z) {
  hra_slice_t s = { (const uint8_t *) z, strlen(z) };
  return s;
}

int
main (void) {
  hra_batch_t b;
  memset(&b, 0, sizeof(b));
  uint32_t slots[3] = { 4, 9, 2 };
  hra_targets_t list = { slots, 3, 0 };
  hra_targets_t all = { NULL, 0, 1 };
  hra_slice_t att[2] = { S("\x01\x02"), S("xyz") };

  // a broadcast: header, flags, the '4' + packet bytes, attachments, then its target list
  CHECK(hra_batch_broadcast(&b, 7, 3, S("2[\"a\"]"), att, 2, list) == HRA_OK);
  CHECK(b.records == 1 && word(&b, HRA_F_KIND) == HRA_REC_BROADCAST && word(&b, HRA_F_ADAPTER) == 7);
  CHECK(word(&b, HRA_F_BC_FLAGS) == 3 && word(&b, HRA_F_BC_NATT) == 2);
  CHECK(word(&b, HRA_F_BC_LEN) == 7 && memcmp(b.bytes.data + word(&b, HRA_F_BC_OFF), "42[\"a\"]", 7) == 0);
  CHECK(word(&b, HRA_F_BC_ATT + 1) == 2 && memcmp(b.bytes.data + word(&b, HRA_F_BC_ATT + 2), "xyz", 3) == 0);
  uint32_t at = word(&b, HRA_F_TARGETS_AT);
  CHECK(at == HRA_F_BC_ATT + 4 && word(&b, at) == 3 && word(&b, at + 1) == 4 && word(&b, at + 3) == 2);
  CHECK(word(&b, HRA_F_WORDS) == at + 4 && walk(&b) == 1);

  // the same list for the same adapter: a marker, not the list again
  size_t before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 7, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  size_t r2 = before / 4;
  CHECK(word(&b, r2 + word(&b, r2 + HRA_F_TARGETS_AT)) == HRA_TARGETS_SAME && word(&b, r2 + HRA_F_WORDS) == HRA_F_BC_ATT + 1);
  // ... but for another adapter, or with other slots, the list is written out
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == 3);
  slots[1] = 10;
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == 3);
  // every local socket: a marker, whatever the slots
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, all) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == HRA_TARGETS_ALL);
  CHECK(walk(&b) == 5 && b.records == 5);

  // a message record with an extra word; a cancelled record leaves nothing, and is no SAME reference
  uint32_t route = 1;
  CHECK(hra_batch_message(&b, HRA_REC_SHARDED, 8, S("{}"), &route, 1) == HRA_OK);
  before = b.words.len;
  CHECK(hra_batch_begin(&b, HRA_REC_BCAST_ACK, 8, 1 + 3, 0) == HRA_OK);
  slots[1] = 11;
  hra_batch_targets(&b, list);
  hra_batch_cancel(&b);
  CHECK(b.words.len == before && b.records == 6);
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == 3);
  CHECK(walk(&b) == 7);

  // limits: a record whose bytes would pass 4 GiB is refused and writes nothing
  before = b.words.len;
  CHECK(hra_batch_begin(&b, HRA_REC_REQUEST, 1, 2, (size_t) UINT32_MAX) == HRA_ELIMIT && b.words.len == before);

  // the cap: full once bytes + words reach it; reset empties it and forgets the SAME reference
  b.cap = 256;
  CHECK(!hra_batch_full(&b) || b.bytes.len + b.words.len >= 256);
  while (!hra_batch_full(&b))
    CHECK(hra_batch_broadcast(&b, 9, 0, S("2[\"padding padding\"]"), NULL, 0, list) == HRA_OK);
  CHECK(b.bytes.len + b.words.len >= 256);
  hra_batch_reset(&b);
  CHECK(b.records == 0 && b.words.len == 0 && b.bytes.len == 0 && !hra_batch_full(&b));
  CHECK(hra_batch_broadcast(&b, 9, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  CHECK(word(&b, word(&b, HRA_F_TARGETS_AT)) == 3);
  hra_batch_free(&b);

  if (failures) {
    fprintf(stderr, "batch_test: %d failure(s)\n", failures);
    return 1;
  }
  printf("batch_test: ok\n");
  return 0;
}

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

static hra_room_key_t
R (const char *z) {
  hra_room_key_t k = { (const uint8_t *) z, strlen(z), HRA_ROOM_STR };
  return k;
}

// The i-th name of the target list at word `at`: 1 when it is z (of kind), read as lib/batch.js reads it.
static int
name_is (const hra_batch_t *b, uint32_t at, uint32_t i, const char *z, int kind) {
  uint32_t off = word(b, at + 2 + 2 * i), w = word(b, at + 3 + 2 * i);
  uint32_t len = w & ~HRA_TARGET_NUM;
  if ((kind == HRA_ROOM_NUM) != ((w & HRA_TARGET_NUM) != 0)) return 0;
  return len == strlen(z) && memcmp(b->bytes.data + off, z, len) == 0;
}

int
main (void) {
  hra_batch_t b;
  memset(&b, 0, sizeof(b));
  hra_room_key_t keys[3] = { R("r1"), { (const uint8_t *) "7", 1, HRA_ROOM_NUM }, R("sid-x") };
  hra_targets_t list = { keys, 2, 1, 0 };
  hra_targets_t all = { NULL, 0, 0, 1 };
  hra_slice_t att[2] = { S("\x01\x02"), S("xyz") };

  // a broadcast: header, flags, the '4' + packet bytes, attachments, then its target list: 2 rooms (one a
  // number), 1 exception, each a name in bytes
  CHECK(hra_batch_broadcast(&b, 7, 3, S("2[\"a\"]"), att, 2, list) == HRA_OK);
  CHECK(b.records == 1 && word(&b, HRA_F_KIND) == HRA_REC_BROADCAST && word(&b, HRA_F_ADAPTER) == 7);
  CHECK(word(&b, HRA_F_BC_FLAGS) == 3 && word(&b, HRA_F_BC_NATT) == 2);
  CHECK(word(&b, HRA_F_BC_LEN) == 7 && memcmp(b.bytes.data + word(&b, HRA_F_BC_OFF), "42[\"a\"]", 7) == 0);
  CHECK(word(&b, HRA_F_BC_ATT + 1) == 2 && memcmp(b.bytes.data + word(&b, HRA_F_BC_ATT + 2), "xyz", 3) == 0);
  uint32_t at = word(&b, HRA_F_TARGETS_AT);
  CHECK(at == HRA_F_BC_ATT + 4 && word(&b, at) == 2 && word(&b, at + 1) == 1);
  CHECK(name_is(&b, at, 0, "r1", HRA_ROOM_STR) && name_is(&b, at, 1, "7", HRA_ROOM_NUM) && name_is(&b, at, 2, "sid-x", HRA_ROOM_STR));
  CHECK(word(&b, HRA_F_WORDS) == at + 8 && walk(&b) == 1);

  // the same rooms for the same adapter: a marker, not the list again
  size_t before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 7, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  size_t r2 = before / 4;
  CHECK(word(&b, r2 + word(&b, r2 + HRA_F_TARGETS_AT)) == HRA_TARGETS_SAME && word(&b, r2 + HRA_F_WORDS) == HRA_F_BC_ATT + 1);
  // ... the same names from other memory too (they are compared, not their addresses)
  char copy[3] = "r1";
  hra_room_key_t keys2[3] = { R(copy), keys[1], keys[2] };
  hra_targets_t list2 = { keys2, 2, 1, 0 };
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 7, 0, S("2[1]"), NULL, 0, list2) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == HRA_TARGETS_SAME);
  // ... but for another adapter, another name, another kind or another split, the list is written out
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == 2);
  copy[1] = '2';
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list2) == HRA_OK);
  at = (uint32_t) (before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT));
  CHECK(word(&b, at) == 2 && name_is(&b, at, 0, "r2", HRA_ROOM_STR));
  keys2[1].kind = HRA_ROOM_STR;
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list2) == HRA_OK);
  at = (uint32_t) (before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT));
  CHECK(word(&b, at) == 2 && name_is(&b, at, 1, "7", HRA_ROOM_STR));
  list2.nrooms = 3;
  list2.nexcept = 0;
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list2) == HRA_OK);
  at = (uint32_t) (before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT));
  CHECK(word(&b, at) == 3 && word(&b, at + 1) == 0);
  // every local socket: a marker
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, all) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == HRA_TARGETS_ALL);
  // every local socket minus exceptions: no rooms, the exceptions
  hra_targets_t minus = { keys + 2, 0, 1, 0 };
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, minus) == HRA_OK);
  at = (uint32_t) (before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT));
  CHECK(word(&b, at) == 0 && word(&b, at + 1) == 1 && name_is(&b, at, 0, "sid-x", HRA_ROOM_STR));
  CHECK(walk(&b) == 9 && b.records == 9);

  // a message record with an extra word; a cancelled record leaves nothing, and is no SAME reference
  uint32_t route = 1;
  CHECK(hra_batch_message(&b, HRA_REC_SHARDED, 8, S("{}"), &route, 1) == HRA_OK);
  before = b.words.len;
  CHECK(hra_batch_begin(&b, HRA_REC_BCAST_ACK, 8, hra_batch_targets_words(list), hra_batch_targets_bytes(list)) == HRA_OK);
  hra_batch_targets(&b, list);
  hra_batch_cancel(&b);
  CHECK(b.words.len == before && b.records == 10);
  before = b.words.len;
  CHECK(hra_batch_broadcast(&b, 8, 0, S("2[1]"), NULL, 0, list) == HRA_OK);
  CHECK(word(&b, before / 4 + word(&b, before / 4 + HRA_F_TARGETS_AT)) == 2);
  CHECK(walk(&b) == 11);

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
  CHECK(word(&b, word(&b, HRA_F_TARGETS_AT)) == 2);
  CHECK(walk(&b) == 1);
  hra_batch_free(&b);

  if (failures) {
    fprintf(stderr, "batch_test: %d failure(s)\n", failures);
    return 1;
  }
  printf("batch_test: ok\n");
  return 0;
}

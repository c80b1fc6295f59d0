// Walks a batch as lib/batch.js does and checks every record is well formed: its length steps exactly to
// the next record, its target list lies inside it (counts + rooms, or a marker) with every room name inside
// bytes, and every (offset, length) pair of a broadcast lies inside bytes. Shared by the fuzz targets and test/native/batch_test.c.
#ifndef HRA_BATCH_WALK_H
#define HRA_BATCH_WALK_H

#include <string.h>

#include "../../native/batch.h"

static uint32_t
batch_walk_word (const hra_batch_t *b, size_t i) {
  uint32_t w;
  memcpy(&w, b->words.data + 4 * i, 4);
  return w;
}

// The number of records, or -1 when one is malformed.
static int
batch_walk (const hra_batch_t *b) {
  if (b->words.len % 4) return -1;
  size_t n = b->words.len / 4, i = 0;
  int records = 0;
  while (i < n) {
    if (n - i < HRA_BATCH_HEADER) return -1;
    uint32_t len = batch_walk_word(b, i + HRA_F_WORDS);
    if (len < HRA_BATCH_HEADER || len > n - i) return -1;
    uint32_t at = batch_walk_word(b, i + HRA_F_TARGETS_AT);
    if (at != 0) {
      if (at < HRA_BATCH_HEADER || at >= len) return -1;
      uint32_t first = batch_walk_word(b, i + at);
      if (first != HRA_TARGETS_ALL && first != HRA_TARGETS_SAME) {
        if (len - at < 2) return -1;
        uint64_t names = (uint64_t) first + batch_walk_word(b, i + at + 1);
        if (2 * names > len - at - 2) return -1;
        for (uint64_t k = 0; k < names; k++) {
          uint32_t w = batch_walk_word(b, i + at + 3 + 2 * k);
          uint64_t end = (uint64_t) batch_walk_word(b, i + at + 2 + 2 * k) + (w & ~HRA_TARGET_NUM);
          if (end > b->bytes.len) return -1;
        }
      }
    }
    if (batch_walk_word(b, i) == HRA_REC_BROADCAST) {
      uint32_t natt = batch_walk_word(b, i + HRA_F_BC_NATT);
      if (natt > (len - HRA_F_BC_ATT) / 2) return -1;
      for (uint32_t k = 0; k <= natt; k++) {
        size_t p = k == 0 ? i + HRA_F_BC_OFF : i + HRA_F_BC_ATT + 2 * (k - 1);
        uint64_t end = (uint64_t) batch_walk_word(b, p) + batch_walk_word(b, p + 1);
        if (end > b->bytes.len) return -1;
      }
      if (b->bytes.data[batch_walk_word(b, i + HRA_F_BC_OFF)] != '4') return -1;
    }
    i += len;
    records++;
  }
  return (size_t) records == b->records ? records : -1;
}

#endif  // HRA_BATCH_WALK_H

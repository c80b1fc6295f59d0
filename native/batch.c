// The one writer of batch records (see batch.h).
#include "batch.h"

#include <string.h>

static void
put (hra_batch_t *b, uint32_t w) {
  // Within what hra_batch_begin reserved.
  memcpy(b->words.data + b->words.len, &w, sizeof(w));
  b->words.len += sizeof(w);
}

static uint32_t *
word_at (hra_batch_t *b, size_t index) {
  return (uint32_t *) (void *) (b->words.data + 4 * index);
}

int
hra_batch_begin (hra_batch_t *b, uint32_t kind, uint32_t adapter, size_t words, size_t bytes) {
  if (b->bytes.len + bytes > UINT32_MAX || words > (SIZE_MAX / 4) - HRA_BATCH_HEADER) return HRA_ELIMIT;
  if (b->words.len / 4 + HRA_BATCH_HEADER + words > UINT32_MAX) return HRA_ELIMIT;
  if (hra_buf_reserve(&b->bytes, bytes) != 0) return HRA_ENOMEM;
  if (hra_buf_reserve(&b->words, 4 * (HRA_BATCH_HEADER + words)) != 0) return HRA_ENOMEM;
  b->start = b->words.len / 4;
  put(b, kind);
  put(b, 0);  // length, set by hra_batch_end
  put(b, adapter);
  put(b, 0);  // target list position, set by hra_batch_targets
  return HRA_OK;
}

void
hra_batch_word (hra_batch_t *b, uint32_t w) {
  put(b, w);
}

uint32_t
hra_batch_bytes (hra_batch_t *b, const void *p, size_t n) {
  uint32_t off = (uint32_t) b->bytes.len;
  if (n) memcpy(b->bytes.data + b->bytes.len, p, n);
  b->bytes.len += n;
  return off;
}

void
hra_batch_slice (hra_batch_t *b, const void *p, size_t n) {
  put(b, hra_batch_bytes(b, p, n));
  put(b, (uint32_t) n);
}

// 1 when t names the same rooms, in the same order, as the last list written (for the same adapter).
static int
same_as_last (const hra_batch_t *b, uint32_t adapter, hra_targets_t t) {
  if (!b->has_last || b->last_adapter != adapter || b->last_nrooms != t.nrooms || b->last_nexcept != t.nexcept) return 0;
  const uint8_t *p = b->last.data, *end = b->last.data + b->last.len;
  for (size_t i = 0; i < t.nrooms + t.nexcept; i++) {
    uint32_t head = (uint32_t) t.keys[i].len | (t.keys[i].kind == HRA_ROOM_NUM ? HRA_TARGET_NUM : 0), stored;
    if ((size_t) (end - p) < 4) return 0;
    memcpy(&stored, p, 4);
    p += 4;
    if (stored != head || (size_t) (end - p) < t.keys[i].len) return 0;
    if (t.keys[i].len && memcmp(p, t.keys[i].base, t.keys[i].len) != 0) return 0;
    p += t.keys[i].len;
  }
  return p == end;
}

// Keeps a copy of the list just written, for the next same_as_last; without memory, just forgets the last.
static void
remember (hra_batch_t *b, uint32_t adapter, hra_targets_t t, size_t at) {
  b->has_last = 0;
  b->last.len = 0;
  for (size_t i = 0; i < t.nrooms + t.nexcept; i++) {
    uint32_t head = (uint32_t) t.keys[i].len | (t.keys[i].kind == HRA_ROOM_NUM ? HRA_TARGET_NUM : 0);
    if (hra_buf_append(&b->last, &head, 4) != 0 || hra_buf_append(&b->last, t.keys[i].base, t.keys[i].len) != 0) return;
  }
  b->has_last = 1;
  b->last_nrooms = t.nrooms;
  b->last_nexcept = t.nexcept;
  b->last_list = at;
  b->last_adapter = adapter;
}

void
hra_batch_targets (hra_batch_t *b, hra_targets_t t) {
  size_t at = b->words.len / 4;
  uint32_t adapter = *word_at(b, b->start + HRA_F_ADAPTER);
  *word_at(b, b->start + HRA_F_TARGETS_AT) = (uint32_t) (at - b->start);
  if (t.all) {
    put(b, HRA_TARGETS_ALL);
    return;
  }
  if (same_as_last(b, adapter, t)) {
    put(b, HRA_TARGETS_SAME);
    return;
  }
  put(b, (uint32_t) t.nrooms);
  put(b, (uint32_t) t.nexcept);
  for (size_t i = 0; i < t.nrooms + t.nexcept; i++) {
    put(b, hra_batch_bytes(b, t.keys[i].base, t.keys[i].len));
    put(b, (uint32_t) t.keys[i].len | (t.keys[i].kind == HRA_ROOM_NUM ? HRA_TARGET_NUM : 0));
  }
  remember(b, adapter, t, at);
}

void
hra_batch_end (hra_batch_t *b) {
  *word_at(b, b->start + HRA_F_WORDS) = (uint32_t) (b->words.len / 4 - b->start);
  b->records++;
}

void
hra_batch_cancel (hra_batch_t *b) {
  if (b->has_last && b->last_list >= b->start) b->has_last = 0;
  b->words.len = 4 * b->start;
}

int
hra_batch_broadcast (hra_batch_t *b, uint32_t adapter, uint32_t flags, hra_slice_t packet, const hra_slice_t *att, size_t natt, hra_targets_t t) {
  size_t bytes = 1 + packet.len;
  for (size_t i = 0; i < natt; i++) {
    if (att[i].len > UINT32_MAX - bytes) return HRA_ELIMIT;
    bytes += att[i].len;
  }
  if (natt > UINT32_MAX / 4) return HRA_ELIMIT;
  size_t tbytes = hra_batch_targets_bytes(t);
  if (tbytes > UINT32_MAX - bytes) return HRA_ELIMIT;
  int err = hra_batch_begin(b, HRA_REC_BROADCAST, adapter, 4 + 2 * natt + hra_batch_targets_words(t), bytes + tbytes);
  if (err) return err;
  put(b, flags);
  uint32_t off = hra_batch_bytes(b, "4", 1);
  hra_batch_bytes(b, packet.base, packet.len);
  put(b, off);
  put(b, (uint32_t) (1 + packet.len));
  put(b, (uint32_t) natt);
  for (size_t i = 0; i < natt; i++)
    hra_batch_slice(b, att[i].base, att[i].len);
  hra_batch_targets(b, t);
  hra_batch_end(b);
  return HRA_OK;
}

int
hra_batch_message (hra_batch_t *b, uint32_t kind, uint32_t adapter, hra_slice_t payload, const uint32_t *extra, size_t nextra) {
  int err = hra_batch_begin(b, kind, adapter, 2 + nextra, payload.len);
  if (err) return err;
  hra_batch_slice(b, payload.base, payload.len);
  for (size_t i = 0; i < nextra; i++)
    put(b, extra[i]);
  hra_batch_end(b);
  return HRA_OK;
}

int
hra_batch_full (const hra_batch_t *b) {
  size_t cap = b->cap ? b->cap : HRA_BATCH_DEFAULT_CAP;
  return b->bytes.len + b->words.len >= cap;
}

void
hra_batch_reset (hra_batch_t *b) {
  size_t cap = b->cap ? b->cap : HRA_BATCH_DEFAULT_CAP;
  b->bytes.len = 0;
  b->words.len = 0;
  b->records = 0;
  b->has_last = 0;
  b->last.len = 0;
  // Do not keep a huge buffer around after one burst.
  if (b->bytes.cap > 2 * cap) hra_buf_free(&b->bytes);
  if (b->words.cap > 2 * cap) hra_buf_free(&b->words);
  if (b->last.cap > cap) hra_buf_free(&b->last);
}

void
hra_batch_free (hra_batch_t *b) {
  hra_buf_free(&b->bytes);
  hra_buf_free(&b->words);
  hra_buf_free(&b->last);
  b->records = 0;
  b->has_last = 0;
}

// A connection's queue of commands (outq.h): entries in a ring, bytes in chunks that never move.
#include <stdlib.h>
#include <string.h>

#include "outq.h"

#define CHUNK ((size_t) 64 * 1024)  // a command larger than this gets a chunk of its own size

// Frees (or keeps for reuse) the chunks at the front whose bytes are all released and that no write in
// flight points into. The last chunk, once empty, is reused in place when it has the usual size.
static void
release_chunks (hra_outq_t *q) {
  while (q->nchunks > 0) {
    hra_outq_chunk_t *c0 = &q->chunks[0];
    uint64_t c0end = c0->start + c0->len;
    if (c0end > q->head || (q->writing && c0end > q->wip)) return;
    if (q->nchunks == 1 && c0->cap == CHUNK) {
      c0->len = 0;
      c0->start = q->end;
      return;
    }
    hra_outq_chunk_t gone = *c0;
    q->nchunks--;
    memmove(q->chunks, q->chunks + 1, q->nchunks * sizeof(*q->chunks));
    if (q->spare.data == NULL && gone.cap == CHUNK)
      q->spare = gone;
    else
      free(gone.data);
  }
}

// The last chunk, with at least need bytes free (a new chunk when it has not). NULL on ENOMEM.
static hra_outq_chunk_t *
room (hra_outq_t *q, size_t need) {
  if (q->nchunks > 0) {
    hra_outq_chunk_t *t = &q->chunks[q->nchunks - 1];
    if (t->cap - t->len >= need) return t;
  }
  if (q->nchunks == q->chunks_cap) {
    size_t cap = q->chunks_cap ? q->chunks_cap * 2 : 4;
    hra_outq_chunk_t *a = realloc(q->chunks, cap * sizeof(*a));
    if (a == NULL) return NULL;
    q->chunks = a;
    q->chunks_cap = cap;
  }
  hra_outq_chunk_t c;
  memset(&c, 0, sizeof(c));
  if (need <= CHUNK && q->spare.data != NULL) {
    c = q->spare;
    memset(&q->spare, 0, sizeof(q->spare));
  } else {
    c.cap = need > CHUNK ? need : CHUNK;
    c.data = malloc(c.cap);
    if (c.data == NULL) return NULL;
  }
  c.len = 0;
  c.start = q->end;
  q->chunks[q->nchunks++] = c;
  return &q->chunks[q->nchunks - 1];
}

// Room for one more entry in the ring.
static int
reserve_entry (hra_outq_t *q) {
  if (q->ents_len < q->ents_cap) return HRA_OK;
  size_t cap = q->ents_cap ? q->ents_cap * 2 : 32;
  if (cap > SIZE_MAX / sizeof(hra_outq_entry_t)) return HRA_ENOMEM;
  hra_outq_entry_t *a = malloc(cap * sizeof(*a));
  if (a == NULL) return HRA_ENOMEM;
  if (q->ents_cap > 0) {  // an empty ring (cap 0) has no entries to move
    for (size_t i = 0; i < q->ents_len; i++)
      a[i] = q->ents[(q->ents_head + i) % q->ents_cap];
  }
  free(q->ents);
  q->ents = a;
  q->ents_cap = cap;
  q->ents_head = 0;
  return HRA_OK;
}

static void
add_entry (hra_outq_t *q, const hra_outq_entry_t *e, size_t len) {
  hra_outq_entry_t *d = &q->ents[(q->ents_head + q->ents_len) % q->ents_cap];
  *d = *e;
  d->len = len;
  q->ents_len++;
  q->end += len;
}

int
hra_outq_push (hra_outq_t *q, const hra_outq_entry_t *e, int argc, const char **argv, const size_t *argvlen) {
  size_t need = hra_resp_format_bound(argc, argvlen);
  if (need == 0 || reserve_entry(q) != HRA_OK) return HRA_ENOMEM;
  hra_outq_chunk_t *t = room(q, need);
  if (t == NULL) return HRA_ENOMEM;
  // need is the formatter's own bound: with that much room it appends in place, never reallocating.
  hra_buf_t view = { t->data, t->len, t->cap };
  if (hra_resp_format_command(&view, argc, argv, argvlen) != HRA_OK) return HRA_ENOMEM;
  size_t len = view.len - t->len;
  t->len = view.len;
  add_entry(q, e, len);
  return HRA_OK;
}

int
hra_outq_push_raw (hra_outq_t *q, const hra_outq_entry_t *e, const uint8_t *bytes, size_t len) {
  if (len == 0 || reserve_entry(q) != HRA_OK) return HRA_ENOMEM;
  hra_outq_chunk_t *t = room(q, len);
  if (t == NULL) return HRA_ENOMEM;
  memcpy(t->data + t->len, bytes, len);
  t->len += len;
  add_entry(q, e, len);
  return HRA_OK;
}

const uint8_t *
hra_outq_front_bytes (const hra_outq_t *q) {
  if (q->ents_len == 0) return NULL;
  for (size_t i = 0; i < q->nchunks; i++) {
    const hra_outq_chunk_t *c = &q->chunks[i];
    if (q->head >= c->start && q->head < c->start + c->len) return c->data + (q->head - c->start);
  }
  return NULL;
}

void
hra_outq_pop (hra_outq_t *q, hra_outq_entry_t *out) {
  hra_outq_entry_t e = q->ents[q->ents_head];
  q->ents_head = (q->ents_head + 1) % q->ents_cap;
  q->ents_len--;
  q->head += e.len;
  if (q->wpos < q->head) q->wpos = q->head;
  if (out != NULL) *out = e;
  release_chunks(q);
}

size_t
hra_outq_expire (hra_outq_t *q, uint64_t now, uint64_t max_age) {
  size_t n = 0;
  while (q->ents_len > 0 && now - q->ents[q->ents_head].t_ms > max_age) {
    hra_outq_pop(q, NULL);
    n++;
  }
  return n;
}

int
hra_outq_move_front (hra_outq_t *dst, hra_outq_t *src) {
  hra_outq_entry_t e = src->ents[src->ents_head];
  const uint8_t *b = hra_outq_front_bytes(src);
  int err = b == NULL ? HRA_ENOMEM : hra_outq_push_raw(dst, &e, b, e.len);
  hra_outq_pop(src, NULL);
  return err;
}

size_t
hra_outq_move_all (hra_outq_t *dst, hra_outq_t *src) {
  size_t lost = 0;
  while (src->ents_len > 0)
    lost += hra_outq_move_front(dst, src) != HRA_OK;
  return lost;
}

unsigned
hra_outq_pending (const hra_outq_t *q, hra_slice_t *bufs, unsigned max, size_t max_slice, size_t *total) {
  unsigned n = 0;
  size_t sum = 0;
  for (size_t i = 0; i < q->nchunks && n < max; i++) {
    const hra_outq_chunk_t *c = &q->chunks[i];
    uint64_t cend = c->start + c->len;
    if (cend <= q->wpos) continue;
    size_t off = q->wpos > c->start ? (size_t) (q->wpos - c->start) : 0;
    while (off < c->len && n < max) {
      size_t k = c->len - off < max_slice ? c->len - off : max_slice;
      bufs[n].base = c->data + off;
      bufs[n].len = k;
      n++;
      sum += k;
      off += k;
    }
  }
  *total = sum;
  return n;
}

void
hra_outq_written (hra_outq_t *q, size_t n) {
  q->wip = q->wpos;
  q->wpos += n;
  q->writing = 1;
}

void
hra_outq_write_done (hra_outq_t *q) {
  q->writing = 0;
  release_chunks(q);
}

void
hra_outq_free (hra_outq_t *q) {
  for (size_t i = 0; i < q->nchunks; i++)
    free(q->chunks[i].data);
  free(q->chunks);
  free(q->spare.data);
  free(q->ents);
  memset(q, 0, sizeof(*q));
}

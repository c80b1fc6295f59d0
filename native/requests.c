#include <stdlib.h>
#include <string.h>

#include "requests.h"

static uint32_t
hash_id (const uint8_t *id, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= id[i];
    h *= 16777619u;
  }
  return h;
}

static int
rebuild_index (hra_requests_t *t, size_t cap) {
  uint32_t *index = calloc(cap, sizeof(*index));
  if (index == NULL) return HRA_ENOMEM;
  for (size_t i = 0; i < t->len; i++) {
    size_t pos = hash_id(t->items[i].id, t->items[i].id_len) & (cap - 1);
    while (index[pos] != 0)
      pos = (pos + 1) & (cap - 1);
    index[pos] = (uint32_t) i + 1;
  }
  free(t->index);
  t->index = index;
  t->index_cap = cap;
  return HRA_OK;
}

static size_t
index_slot (const hra_requests_t *t, const uint8_t *id, size_t len, int *found) {
  size_t mask = t->index_cap - 1;
  size_t pos = hash_id(id, len) & mask;
  for (;;) {
    uint32_t v = t->index[pos];
    if (v == 0) {
      *found = 0;
      return pos;
    }
    const hra_request_t *r = &t->items[v - 1];
    if (r->id_len == len && memcmp(r->id, id, len) == 0) {
      *found = 1;
      return pos;
    }
    pos = (pos + 1) & mask;
  }
}

int
hra_requests_find (const hra_requests_t *t, const uint8_t *id, size_t id_len) {
  if (t->len == 0 || id_len > HRA_REQ_ID_MAX) return -1;
  int found;
  size_t pos = index_slot(t, id, id_len, &found);
  return found ? (int) t->index[pos] - 1 : -1;
}

int
hra_requests_add (hra_requests_t *t, const uint8_t *id, size_t id_len, int kind, uint32_t token, uint64_t deadline) {
  if (id_len == 0 || id_len > HRA_REQ_ID_MAX) return HRA_EINVAL;
  if (t->len >= INT32_MAX) return HRA_ELIMIT;
  if ((t->len + 1) * 2 > t->index_cap) {
    size_t cap = t->index_cap ? t->index_cap * 2 : 64;
    if (rebuild_index(t, cap) != 0) return HRA_ENOMEM;
  }
  int found;
  size_t pos = index_slot(t, id, id_len, &found);
  if (found) return HRA_ELIMIT;
  if (t->len == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    hra_request_t *items = realloc(t->items, cap * sizeof(*items));
    if (items == NULL) return HRA_ENOMEM;
    t->items = items;
    t->cap = cap;
  }
  hra_request_t *r = &t->items[t->len];
  memset(r, 0, sizeof(*r));
  memcpy(r->id, id, id_len);
  r->id_len = (uint8_t) id_len;
  r->kind = (uint8_t) kind;
  r->token = token;
  r->deadline = deadline;
  t->index[pos] = (uint32_t) t->len + 1;
  return (int) t->len++;
}

// Deletes index slot pos with backward-shift, so lookups never need tombstones.
static void
index_delete (hra_requests_t *t, size_t pos) {
  size_t mask = t->index_cap - 1;
  size_t hole = pos;
  size_t i = (pos + 1) & mask;
  while (t->index[i] != 0) {
    const hra_request_t *r = &t->items[t->index[i] - 1];
    size_t home = hash_id(r->id, r->id_len) & mask;
    // Move the entry back into the hole unless its home lies cyclically in (hole, i].
    int between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!between) {
      t->index[hole] = t->index[i];
      hole = i;
    }
    i = (i + 1) & mask;
  }
  t->index[hole] = 0;
}

void
hra_requests_remove (hra_requests_t *t, size_t i) {
  if (i >= t->len) return;
  int found;
  size_t pos = index_slot(t, t->items[i].id, t->items[i].id_len, &found);
  if (found) index_delete(t, pos);
  hra_buf_free(&t->items[i].acc);
  hra_buf_free(&t->items[i].missing);
  size_t last = t->len - 1;
  if (i != last) {
    t->items[i] = t->items[last];
    size_t lpos = index_slot(t, t->items[i].id, t->items[i].id_len, &found);
    if (found) t->index[lpos] = (uint32_t) i + 1;
  }
  t->len--;
  if (t->len == 0 && t->cap > 64) {
    // A burst is over: give the memory back.
    free(t->items);
    t->items = NULL;
    t->cap = 0;
    free(t->index);
    t->index = NULL;
    t->index_cap = 0;
  }
}

uint64_t
hra_requests_next_deadline (const hra_requests_t *t) {
  uint64_t d = UINT64_MAX;
  for (size_t i = 0; i < t->len; i++) {
    if (t->items[i].deadline < d) d = t->items[i].deadline;
  }
  return d;
}

void
hra_requests_free (hra_requests_t *t) {
  for (size_t i = 0; i < t->len; i++) {
    hra_buf_free(&t->items[i].acc);
    hra_buf_free(&t->items[i].missing);
  }
  free(t->items);
  free(t->index);
  memset(t, 0, sizeof(*t));
}

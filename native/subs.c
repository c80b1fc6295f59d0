#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "subs.h"

#define MAX_LOAD 2  // entries per bucket before the table doubles

void
hra_subs_init (hra_subs_t *s, uint64_t seed) {
  memset(s, 0, sizeof(*s));
  s->k0 = hra_splitmix(&seed);
  s->k1 = hra_splitmix(&seed);
}

static uint64_t
sub_hash (const hra_subs_t *s, int kind, const char *name, size_t len) {
  const uint64_t k[3] = { s->k0, s->k1, s->k0 ^ s->k1 };
  return hra_keyed_hash(k, (uint64_t) kind, (const uint8_t *) name, len);
}

void
hra_subs_free (hra_subs_t *s) {
  for (size_t i = 0; i < s->nbuckets; i++) {
    hra_sub_t *e = s->buckets[i];
    while (e != NULL) {
      hra_sub_t *next = e->next;
      free(e);
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = NULL;
  s->nbuckets = 0;
  s->count = 0;
  s->dirty = NULL;
  s->ndirty = 0;
}

static hra_sub_t *
find_hashed (const hra_subs_t *s, uint64_t h, int kind, const char *name, size_t len) {
  if (s->nbuckets == 0) return NULL;
  for (hra_sub_t *e = s->buckets[h & (s->nbuckets - 1)]; e != NULL; e = e->next) {
    if (e->hash == h && e->kind == kind && e->len == len && memcmp(e->name, name, len) == 0) return e;
  }
  return NULL;
}

hra_sub_t *
hra_subs_find (const hra_subs_t *s, int kind, const char *name, size_t len) {
  if (s->nbuckets == 0) return NULL;
  return find_hashed(s, sub_hash(s, kind, name, len), kind, name, len);
}

static int
grow (hra_subs_t *s) {
  size_t ncap = s->nbuckets ? s->nbuckets * 2 : 16;
  hra_sub_t **nb = calloc(ncap, sizeof(void *));  // calloc checks ncap * size for overflow
  if (nb == NULL) return HRA_ENOMEM;
  for (size_t i = 0; i < s->nbuckets; i++) {
    hra_sub_t *e = s->buckets[i];
    while (e != NULL) {
      hra_sub_t *next = e->next;
      size_t j = e->hash & (ncap - 1);
      e->next = nb[j];
      nb[j] = e;
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = nb;
  s->nbuckets = ncap;
  return HRA_OK;
}

static void
mark_dirty (hra_subs_t *s, hra_sub_t *e) {
  if (e->dirty) return;
  e->dirty = 1;
  e->dirty_next = s->dirty;
  s->dirty = e;
  s->ndirty++;
}

int
hra_subs_ref (hra_subs_t *s, int kind, const char *name, size_t len) {
  if (kind != 'c' && kind != 'p' && kind != 's') return HRA_EINVAL;
  uint64_t h = sub_hash(s, kind, name, len);
  hra_sub_t *e = find_hashed(s, h, kind, name, len);
  if (e != NULL) {
    if (e->refs == UINT32_MAX) return HRA_ELIMIT;
    if (e->refs++ > 0) return 0;
    // Back from zero within the same turn: wanted again, whatever was sent.
    mark_dirty(s, e);
    return 1;
  }
  if ((s->count + 1 > s->nbuckets * MAX_LOAD) && grow(s) != HRA_OK) return HRA_ENOMEM;
  if (len > SIZE_MAX - sizeof(*e)) return HRA_ENOMEM;
  e = malloc(sizeof(*e) + len);
  if (e == NULL) return HRA_ENOMEM;
  memset(e, 0, sizeof(*e));
  e->hash = h;
  e->refs = 1;
  e->kind = (uint8_t) kind;
  e->len = len;
  if (len) memcpy(e->name, name, len);
  size_t j = h & (s->nbuckets - 1);
  e->next = s->buckets[j];
  s->buckets[j] = e;
  s->count++;
  mark_dirty(s, e);
  return 1;
}

int
hra_subs_unref (hra_subs_t *s, int kind, const char *name, size_t len) {
  hra_sub_t *e = hra_subs_find(s, kind, name, len);
  if (e == NULL || e->refs == 0) return 0;
  if (--e->refs > 0) return 0;
  mark_dirty(s, e);
  return 1;
}

int
hra_subs_force (hra_subs_t *s, int kind, const char *name, size_t len) {
  hra_sub_t *e = hra_subs_find(s, kind, name, len);
  if (e == NULL || e->refs == 0) return 0;
  e->sent = 0;
  e->confirmed = 0;
  if (e->dirty) return 0;
  mark_dirty(s, e);
  return 1;
}

void
hra_subs_reset_sent (hra_subs_t *s) {
  for (size_t i = 0; i < s->nbuckets; i++) {
    for (hra_sub_t *e = s->buckets[i]; e != NULL; e = e->next) {
      e->sent = 0;
      e->confirmed = 0;
    }
  }
}

static void
unlink_entry (hra_subs_t *s, hra_sub_t *e) {
  hra_sub_t **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
  while (*pp != NULL && *pp != e)
    pp = &(*pp)->next;
  if (*pp == e) *pp = e->next;
  s->count--;
}

void
hra_subs_collect (hra_subs_t *s, int connected, hra_sub_change_t *out, size_t *n, hra_sub_t **garbage) {
  size_t k = 0;
  hra_sub_t *e = s->dirty;
  s->dirty = NULL;
  s->ndirty = 0;
  while (e != NULL) {
    hra_sub_t *next = e->dirty_next;
    e->dirty = 0;
    e->dirty_next = NULL;
    int want = e->refs > 0;
    if (connected && want != e->sent) {
      if (out != NULL) {
        out[k].sub = e;
        out[k].subscribe = want;
        k++;
      }
      e->sent = (uint8_t) want;
      if (!want) e->confirmed = 0;
    }
    if (!want) {
      unlink_entry(s, e);
      e->next = *garbage;
      *garbage = e;
    }
    e = next;
  }
  *n = k;
}

void
hra_subs_free_garbage (hra_sub_t *garbage) {
  while (garbage != NULL) {
    hra_sub_t *next = garbage->next;
    free(garbage);
    garbage = next;
  }
}

void
hra_subs_each (hra_subs_t *s, void (*fn)(hra_sub_t *sub, void *data), void *data) {
  for (size_t i = 0; i < s->nbuckets; i++) {
    for (hra_sub_t *e = s->buckets[i]; e != NULL; e = e->next) {
      if (e->refs > 0) fn(e, data);
    }
  }
}

void
hra_subs_mark_confirmed (hra_subs_t *s, int kind, const char *name, size_t len, int subscribed) {
  hra_sub_t *e = hra_subs_find(s, kind, name, len);
  // A late confirmation of a subscribe that was already undone must not count as confirmed.
  if (e != NULL) e->confirmed = (uint8_t) (subscribed && e->sent);
}

static size_t
count_if (const hra_subs_t *s, int kind, int confirmed) {
  size_t n = 0;
  for (size_t i = 0; i < s->nbuckets; i++) {
    for (const hra_sub_t *e = s->buckets[i]; e != NULL; e = e->next) {
      if (e->kind == kind && e->refs > 0 && (!confirmed || e->confirmed)) n++;
    }
  }
  return n;
}

size_t
hra_subs_confirmed_count (const hra_subs_t *s, int kind) {
  return count_if(s, kind, 1);
}

size_t
hra_subs_wanted_count (const hra_subs_t *s, int kind) {
  return count_if(s, kind, 0);
}

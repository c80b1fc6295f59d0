// The subscriptions a connection wants, reference counted and keyed by (kind, channel) in a keyed hash, so
// thousands of room channels cost O(1) per change. Changes are not sent at once: they are marked dirty and the
// connection collects them once per loop turn (hra_subs_collect), so a join and a leave of the same room in one
// tick send nothing, and a burst of joins becomes one SUBSCRIBE per kind. No libuv or Node dependency.
#ifndef HRA_SUBS_H
#define HRA_SUBS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hra_sub_s hra_sub_t;

struct hra_sub_s {
  hra_sub_t *next;  // hash chain
  hra_sub_t *dirty_next;
  uint64_t hash;
  uint32_t refs;
  uint8_t kind;  // 'c' SUBSCRIBE, 'p' PSUBSCRIBE, 's' SSUBSCRIBE
  uint8_t sent;  // a subscribe went out on the current connection (and no unsubscribe since)
  uint8_t confirmed;  // Redis confirmed it on the current connection
  uint8_t dirty;
  size_t len;
  char name[];
};

typedef struct {
  hra_sub_t **buckets;
  size_t nbuckets;  // a power of two (0 before the first insert)
  size_t count;
  hra_sub_t *dirty;
  size_t ndirty;
  uint64_t k0, k1;
} hra_subs_t;

void
hra_subs_init (hra_subs_t *s, uint64_t seed);

void
hra_subs_free (hra_subs_t *s);

hra_sub_t *
hra_subs_find (const hra_subs_t *s, int kind, const char *name, size_t len);

// Adds a reference. Returns 1 if the entry became dirty (a change to send), 0 if not, HRA_ENOMEM (nothing
// changed) or HRA_EINVAL (unknown kind).
int
hra_subs_ref (hra_subs_t *s, int kind, const char *name, size_t len);

// Drops a reference (no-op for an unknown channel). Returns 1 if the entry became dirty, else 0.
int
hra_subs_unref (hra_subs_t *s, int kind, const char *name, size_t len);

// A wanted entry must be subscribed again (the server dropped it): marks it unsent and dirty. Returns 1 if it
// became dirty, 0 if it already was or is not wanted.
int
hra_subs_force (hra_subs_t *s, int kind, const char *name, size_t len);

// The connection was lost or replaced: nothing is sent or confirmed any more.
void
hra_subs_reset_sent (hra_subs_t *s);

// One change to send: subscribe (1) or unsubscribe (0) `sub` of `kind`.
typedef struct {
  const hra_sub_t *sub;
  int subscribe;
} hra_sub_change_t;

// Takes the dirty list. When `connected`, fills out (capacity ndirty at least: use hra_subs_dirty_count) with
// the changes Redis must see, marking entries sent/unsent; otherwise nothing is sent. *n gets the number of
// changes. Entries with no references left are unlinked from the table and chained on *garbage (through
// `next`); the caller frees them with hra_subs_free_garbage once it no longer needs their names.
void
hra_subs_collect (hra_subs_t *s, int connected, hra_sub_change_t *out, size_t *n, hra_sub_t **garbage);

void
hra_subs_free_garbage (hra_sub_t *garbage);

static inline size_t
hra_subs_dirty_count (const hra_subs_t *s) {
  return s->ndirty;
}

// Calls fn for every entry with references (restoring after a reconnect).
void
hra_subs_each (hra_subs_t *s, void (*fn)(hra_sub_t *sub, void *data), void *data);

void
hra_subs_mark_confirmed (hra_subs_t *s, int kind, const char *name, size_t len, int subscribed);

// Entries of kind that Redis has confirmed on the current connection.
size_t
hra_subs_confirmed_count (const hra_subs_t *s, int kind);

// Entries of kind that are wanted (at least one reference).
size_t
hra_subs_wanted_count (const hra_subs_t *s, int kind);

#endif  // HRA_SUBS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rooms.h"

// From jsnum.h (jsnum.c); declared here so this module builds and tests before that header exists.
int
hra_jsnum_is_numeric_string (const uint8_t *s, size_t len);
int
hra_jsnum_from_js_string (const uint8_t *s, size_t len, double *out);
size_t
hra_jsnum_format (double d, char out[32]);

// Every allocation goes through this one function so the unit test can inject failures.
#ifndef HRA_ROOMS_REALLOC
#define HRA_ROOMS_REALLOC realloc
#endif

// Marks a removed entry in a room's member array and in the sids order array; valid slots are < 2^31.
#define TOMB UINT32_MAX
#define NONE UINT32_MAX

typedef struct {
  uint8_t *name;  // owned copy, NULL while this entry is on the free list
  uint32_t len;
  int kind;
  uint32_t hash;  // low half of the keyed hash, also kept in the room table
  uint32_t *members;  // slots in join order, TOMB where a member left
  uint32_t mlen;  // used entries of members, tombstones included
  uint32_t mcap;
  uint32_t live;  // members; the room exists while this is > 0
  uint32_t next_free;
} room_t;

typedef struct {
  uint32_t *rooms;  // room ids, unordered (swap-remove): a socket's own room order is not observable here
  uint32_t n;
  uint32_t cap;
  uint32_t mark;  // generation stamp for hra_rooms_targets
  uint32_t order_pos;  // index in the sids order array, NONE while unregistered
} sock_t;

// Room table entry: id1 is room id + 1, so a zeroed table is empty.
typedef struct {
  uint32_t hash;
  uint32_t id1;
} rent_t;

// Membership (room, slot) with the positions that make leave O(1). room1 is room id + 1, 0 when empty.
typedef struct {
  uint32_t room1;
  uint32_t slot;
  uint32_t room_pos;  // index in the room's members
  uint32_t sock_pos;  // index in the socket's rooms
} memb_t;

struct hra_rooms_s {
  uint64_t k0, k1, k2;  // hash keys derived from the caller's seed

  room_t *rooms;
  uint32_t rooms_len;
  uint32_t rooms_cap;
  uint32_t free_head;
  size_t count;
  size_t num_count;

  rent_t *rtab;
  size_t rtab_cap;  // power of two

  memb_t *mtab;
  size_t mtab_cap;  // power of two
  size_t mtab_count;

  sock_t *socks;
  size_t socks_len;

  uint32_t *order;  // registered slots in first-join order, TOMB where one left
  uint32_t order_len;
  uint32_t order_cap;
  uint32_t order_live;

  uint32_t gen;
  size_t bytes;
};

#define RTAB_MIN 16
#define MTAB_MIN 16

static void *
mem_resize (hra_rooms_t *r, void *p, size_t old_size, size_t new_size) {
  void *q = HRA_ROOMS_REALLOC(p, new_size);
  if (q == NULL) return NULL;
  r->bytes = r->bytes - old_size + new_size;
  return q;
}

static void *
mem_zalloc (hra_rooms_t *r, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  void *p = mem_resize(r, NULL, 0, n * size);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

static void
mem_free (hra_rooms_t *r, void *p, size_t size) {
  if (p == NULL) return;
  free(p);
  r->bytes -= size;
}

// Ensures room for one more element in a uint32 array, doubling its capacity.
static int
reserve_u32 (hra_rooms_t *r, uint32_t **a, uint32_t len, uint32_t *cap) {
  if (len < *cap) return HRA_OK;
  if (*cap >= UINT32_MAX / 2) return HRA_ELIMIT;
  uint32_t ncap = *cap ? *cap * 2 : 1;
  uint32_t *p = mem_resize(r, *a, (size_t) *cap * 4, (size_t) ncap * 4);
  if (p == NULL) return HRA_ENOMEM;
  *a = p;
  *cap = ncap;
  return HRA_OK;
}

// Gives back memory of an array that shrank to a quarter of its capacity; failure just keeps the larger block.
static void
shrink_u32 (hra_rooms_t *r, uint32_t **a, uint32_t len, uint32_t *cap) {
  if (*cap < 16 || len > *cap / 4) return;
  uint32_t ncap = *cap / 2;
  uint32_t *p = mem_resize(r, *a, (size_t) *cap * 4, (size_t) ncap * 4);
  if (p == NULL) return;
  *a = p;
  *cap = ncap;
}

// Keyed hash of a room key (see hra_keyed_hash).
static uint32_t
hash_key (const hra_rooms_t *r, int kind, const uint8_t *p, size_t n) {
  const uint64_t k[3] = { r->k0, r->k1, r->k2 };
  uint64_t h = hra_keyed_hash(k, (uint64_t) kind, p, n);
  return (uint32_t) (h ^ (h >> 32));
}

static size_t
memb_home (const hra_rooms_t *r, uint32_t room1, uint32_t slot) {
  // Room ids and slots are ours and JS's, not attacker-chosen, so a keyed bijective mixer suffices.
  uint64_t x = (((uint64_t) room1 << 32) | slot) ^ r->k0;
  x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdu;
  x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53u;
  x ^= x >> 33;
  return (size_t) x & (r->mtab_cap - 1);
}

static int
key_valid (hra_room_key_t key) {
  if (key.kind != HRA_ROOM_STR && key.kind != HRA_ROOM_NUM) return 0;
  if (key.len > HRA_ROOMS_MAX_NAME) return 0;
  return key.len == 0 || key.base != NULL;
}

// Returns the room id of key, or NONE.
static uint32_t
room_find (const hra_rooms_t *r, hra_room_key_t key, uint32_t h) {
  size_t mask = r->rtab_cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const rent_t *e = &r->rtab[i];
    if (e->id1 == 0) return NONE;
    if (e->hash != h) continue;
    const room_t *rm = &r->rooms[e->id1 - 1];
    if (rm->kind == key.kind && rm->len == key.len && (key.len == 0 || memcmp(rm->name, key.base, key.len) == 0)) return e->id1 - 1;
  }
}

static uint32_t
room_lookup (const hra_rooms_t *r, hra_room_key_t key) {
  if (!key_valid(key)) return NONE;
  return room_find(r, key, hash_key(r, key.kind, key.base, key.len));
}

static void
rtab_put (rent_t *tab, size_t cap, uint32_t hash, uint32_t id1) {
  size_t mask = cap - 1;
  size_t i = hash & mask;
  while (tab[i].id1 != 0)
    i = (i + 1) & mask;
  tab[i].hash = hash;
  tab[i].id1 = id1;
}

static int
rtab_resize (hra_rooms_t *r, size_t ncap) {
  rent_t *tab = mem_zalloc(r, ncap, sizeof(rent_t));
  if (tab == NULL) return HRA_ENOMEM;
  for (size_t i = 0; i < r->rtab_cap; i++) {
    if (r->rtab[i].id1 != 0) rtab_put(tab, ncap, r->rtab[i].hash, r->rtab[i].id1);
  }
  mem_free(r, r->rtab, r->rtab_cap * sizeof(rent_t));
  r->rtab = tab;
  r->rtab_cap = ncap;
  return HRA_OK;
}

// Linear probing with backward-shift deletion: no tombstones, so probe lengths never degrade over time.
static void
rtab_erase (hra_rooms_t *r, uint32_t hash, uint32_t id1) {
  size_t mask = r->rtab_cap - 1;
  size_t i = hash & mask;
  while (r->rtab[i].id1 != id1)
    i = (i + 1) & mask;
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (r->rtab[j].id1 == 0) break;
    size_t home = r->rtab[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      r->rtab[i] = r->rtab[j];
      i = j;
    }
  }
  r->rtab[i].id1 = 0;
  r->rtab[i].hash = 0;
}

static memb_t *
memb_find (const hra_rooms_t *r, uint32_t room, uint32_t slot) {
  size_t mask = r->mtab_cap - 1;
  for (size_t i = memb_home(r, room + 1, slot);; i = (i + 1) & mask) {
    memb_t *m = &r->mtab[i];
    if (m->room1 == 0) return NULL;
    if (m->room1 == room + 1 && m->slot == slot) return m;
  }
}

static void
memb_put (hra_rooms_t *r, memb_t m) {
  size_t mask = r->mtab_cap - 1;
  size_t i = memb_home(r, m.room1, m.slot);
  while (r->mtab[i].room1 != 0)
    i = (i + 1) & mask;
  r->mtab[i] = m;
}

static int
mtab_resize (hra_rooms_t *r, size_t ncap) {
  memb_t *old = r->mtab;
  size_t ocap = r->mtab_cap;
  memb_t *tab = mem_zalloc(r, ncap, sizeof(memb_t));
  if (tab == NULL) return HRA_ENOMEM;
  r->mtab = tab;
  r->mtab_cap = ncap;
  for (size_t i = 0; i < ocap; i++) {
    if (old[i].room1 != 0) memb_put(r, old[i]);
  }
  mem_free(r, old, ocap * sizeof(memb_t));
  return HRA_OK;
}

static void
memb_erase (hra_rooms_t *r, memb_t *m) {
  size_t mask = r->mtab_cap - 1;
  size_t i = (size_t) (m - r->mtab);
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (r->mtab[j].room1 == 0) break;
    size_t home = memb_home(r, r->mtab[j].room1, r->mtab[j].slot);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      r->mtab[i] = r->mtab[j];
      i = j;
    }
  }
  memset(&r->mtab[i], 0, sizeof(memb_t));
  r->mtab_count--;
}

// Called only where no memb_t pointer is held: it may rehash.
static void
mtab_maybe_shrink (hra_rooms_t *r) {
  if (r->mtab_cap > MTAB_MIN && r->mtab_count < r->mtab_cap / 8) mtab_resize(r, r->mtab_cap / 2);
}

static int
socks_cover (hra_rooms_t *r, uint32_t slot) {
  if (slot < r->socks_len) return HRA_OK;
  size_t n = r->socks_len ? r->socks_len : 16;
  while (n <= slot)
    n *= 2;
  if (n > (size_t) HRA_ROOMS_MAX_SLOT + 1) n = (size_t) HRA_ROOMS_MAX_SLOT + 1;
  if (n > SIZE_MAX / sizeof(sock_t)) return HRA_ENOMEM;
  sock_t *s = mem_resize(r, r->socks, r->socks_len * sizeof(sock_t), n * sizeof(sock_t));
  if (s == NULL) return HRA_ENOMEM;
  for (size_t i = r->socks_len; i < n; i++) {
    s[i] = (sock_t){ NULL, 0, 0, 0, NONE };
  }
  r->socks = s;
  r->socks_len = n;
  return HRA_OK;
}

// Creates an empty room. Everything that can fail happens before the index changes.
static int
room_create (hra_rooms_t *r, hra_room_key_t key, uint32_t h, uint32_t *id_out) {
  if (r->count >= HRA_ROOMS_MAX_SLOT) return HRA_ELIMIT;
  if ((r->count + 1) * 4 > r->rtab_cap * 3 && rtab_resize(r, r->rtab_cap * 2) != 0) return HRA_ENOMEM;
  if (r->free_head == NONE && r->rooms_len == r->rooms_cap) {
    uint32_t ncap = r->rooms_cap ? r->rooms_cap * 2 : 16;
    room_t *rooms = mem_resize(r, r->rooms, (size_t) r->rooms_cap * sizeof(room_t), (size_t) ncap * sizeof(room_t));
    if (rooms == NULL) return HRA_ENOMEM;
    r->rooms = rooms;
    r->rooms_cap = ncap;
  }
  // Allocate at least one byte so a live room's name is never NULL (NULL marks free entries).
  uint8_t *name = mem_resize(r, NULL, 0, key.len ? key.len : 1);
  if (name == NULL) return HRA_ENOMEM;
  uint32_t *members = mem_resize(r, NULL, 0, sizeof(uint32_t));
  if (members == NULL) {
    mem_free(r, name, key.len ? key.len : 1);
    return HRA_ENOMEM;
  }
  if (key.len) memcpy(name, key.base, key.len);

  uint32_t id;
  if (r->free_head != NONE) {
    id = r->free_head;
    r->free_head = r->rooms[id].next_free;
  } else {
    id = r->rooms_len++;
  }
  r->rooms[id] = (room_t){ name, (uint32_t) key.len, key.kind, h, members, 0, 1, 0, NONE };
  rtab_put(r->rtab, r->rtab_cap, h, id + 1);
  r->count++;
  if (key.kind == HRA_ROOM_NUM) r->num_count++;
  *id_out = id;
  return HRA_OK;
}

static void
room_delete (hra_rooms_t *r, uint32_t id) {
  room_t *rm = &r->rooms[id];
  rtab_erase(r, rm->hash, id + 1);
  mem_free(r, rm->name, rm->len ? rm->len : 1);
  mem_free(r, rm->members, (size_t) rm->mcap * 4);
  if (rm->kind == HRA_ROOM_NUM) r->num_count--;
  r->count--;
  *rm = (room_t){ 0 };
  rm->next_free = r->free_head;
  r->free_head = id;
  if (r->rtab_cap > RTAB_MIN && r->count < r->rtab_cap / 8) rtab_resize(r, r->rtab_cap / 2);
}

// Squeezes out tombstones, keeping join order; each member's stored position is updated.
static void
room_compact (hra_rooms_t *r, uint32_t id) {
  room_t *rm = &r->rooms[id];
  uint32_t j = 0;
  for (uint32_t i = 0; i < rm->mlen; i++) {
    uint32_t slot = rm->members[i];
    if (slot == TOMB) continue;
    if (i != j) {
      rm->members[j] = slot;
      memb_find(r, id, slot)->room_pos = j;
    }
    j++;
  }
  rm->mlen = j;
  shrink_u32(r, &rm->members, rm->mlen, &rm->mcap);
}

// Compaction runs when tombstones outnumber members, so its cost is paid for by the leaves that made them.
static void
room_remove_at (hra_rooms_t *r, uint32_t id, uint32_t pos) {
  room_t *rm = &r->rooms[id];
  rm->members[pos] = TOMB;
  rm->live--;
  if (rm->live == 0) {
    room_delete(r, id);
    return;
  }
  while (rm->members[rm->mlen - 1] == TOMB)
    rm->mlen--;
  if (rm->mlen - rm->live > rm->live) room_compact(r, id);
}

static void
order_remove (hra_rooms_t *r, sock_t *s) {
  r->order[s->order_pos] = TOMB;
  s->order_pos = NONE;
  r->order_live--;
  while (r->order_len > 0 && r->order[r->order_len - 1] == TOMB)
    r->order_len--;
  if (r->order_len - r->order_live > r->order_live) {
    uint32_t j = 0;
    for (uint32_t i = 0; i < r->order_len; i++) {
      uint32_t slot = r->order[i];
      if (slot == TOMB) continue;
      r->order[j] = slot;
      r->socks[slot].order_pos = j;
      j++;
    }
    r->order_len = j;
    shrink_u32(r, &r->order, r->order_len, &r->order_cap);
  }
}

int
hra_u32vec_reserve (hra_u32vec_t *v, size_t extra) {
  if (v->cap - v->len >= extra) return HRA_OK;
  if (extra > SIZE_MAX / 8 - v->len) return HRA_ENOMEM;
  size_t need = v->len + extra;
  size_t cap = v->cap ? v->cap : 64;
  while (cap < need)
    cap *= 2;
  uint32_t *data = realloc(v->data, cap * sizeof(uint32_t));
  if (data == NULL) return HRA_ENOMEM;
  v->data = data;
  v->cap = cap;
  return HRA_OK;
}

void
hra_u32vec_free (hra_u32vec_t *v) {
  free(v->data);
  v->data = NULL;
  v->len = 0;
  v->cap = 0;
}

hra_rooms_t *
hra_rooms_new (uint64_t seed) {
  hra_rooms_t *r = HRA_ROOMS_REALLOC(NULL, sizeof(*r));
  if (r == NULL) return NULL;
  memset(r, 0, sizeof(*r));
  r->bytes = sizeof(*r);
  r->k0 = hra_splitmix(&seed);
  r->k1 = hra_splitmix(&seed);
  r->k2 = hra_splitmix(&seed);
  r->free_head = NONE;
  r->rtab = mem_zalloc(r, RTAB_MIN, sizeof(rent_t));
  r->mtab = mem_zalloc(r, MTAB_MIN, sizeof(memb_t));
  if (r->rtab == NULL || r->mtab == NULL) {
    free(r->rtab);
    free(r->mtab);
    free(r);
    return NULL;
  }
  r->rtab_cap = RTAB_MIN;
  r->mtab_cap = MTAB_MIN;
  return r;
}

void
hra_rooms_free (hra_rooms_t *r) {
  if (r == NULL) return;
  for (uint32_t i = 0; i < r->rooms_len; i++) {
    free(r->rooms[i].name);
    free(r->rooms[i].members);
  }
  for (size_t i = 0; i < r->socks_len; i++) {
    free(r->socks[i].rooms);
  }
  free(r->rooms);
  free(r->rtab);
  free(r->mtab);
  free(r->socks);
  free(r->order);
  free(r);
}

int
hra_rooms_join (hra_rooms_t *r, uint32_t slot, hra_room_key_t key) {
  if (key.kind != HRA_ROOM_STR && key.kind != HRA_ROOM_NUM) return HRA_EINVAL;
  if (slot > HRA_ROOMS_MAX_SLOT || key.len > HRA_ROOMS_MAX_NAME) return HRA_ELIMIT;
  if (key.len != 0 && key.base == NULL) return HRA_EINVAL;
  uint32_t h = hash_key(r, key.kind, key.base, key.len);
  uint32_t id = room_find(r, key, h);
  if (id != NONE && slot < r->socks_len && memb_find(r, id, slot) != NULL) return 0;

  // Reserve everything before changing anything, so that a failure leaves the index exactly as it was. The room
  // is created last: it is the only step that would need undoing if a later one failed.
  int err = socks_cover(r, slot);
  if (err != 0) return err;
  sock_t *s = &r->socks[slot];
  if ((r->mtab_count + 1) * 4 > r->mtab_cap * 3 && mtab_resize(r, r->mtab_cap * 2) != 0) return HRA_ENOMEM;
  if ((err = reserve_u32(r, &s->rooms, s->n, &s->cap)) != 0) return err;
  if (s->order_pos == NONE && (err = reserve_u32(r, &r->order, r->order_len, &r->order_cap)) != 0) return err;
  if (id == NONE) {
    if ((err = room_create(r, key, h, &id)) != 0) return err;
  } else {
    room_t *rm = &r->rooms[id];
    if ((err = reserve_u32(r, &rm->members, rm->mlen, &rm->mcap)) != 0) return err;
  }

  room_t *rm = &r->rooms[id];
  uint32_t room_pos = rm->mlen++;
  rm->members[room_pos] = slot;
  rm->live++;
  uint32_t sock_pos = s->n++;
  s->rooms[sock_pos] = id;
  memb_put(r, (memb_t){ id + 1, slot, room_pos, sock_pos });
  r->mtab_count++;
  if (s->order_pos == NONE) {
    s->order_pos = r->order_len;
    r->order[r->order_len++] = slot;
    r->order_live++;
  }
  return 1;
}

int
hra_rooms_leave (hra_rooms_t *r, uint32_t slot, hra_room_key_t key) {
  if (slot >= r->socks_len) return 0;
  uint32_t id = room_lookup(r, key);
  if (id == NONE) return 0;
  memb_t *m = memb_find(r, id, slot);
  if (m == NULL) return 0;
  uint32_t room_pos = m->room_pos, sock_pos = m->sock_pos;
  memb_erase(r, m);

  sock_t *s = &r->socks[slot];
  uint32_t last = s->rooms[--s->n];
  if (sock_pos != s->n) {
    s->rooms[sock_pos] = last;
    memb_find(r, last, slot)->sock_pos = sock_pos;
  }
  room_remove_at(r, id, room_pos);
  mtab_maybe_shrink(r);
  return 1;
}

int
hra_rooms_leave_all (hra_rooms_t *r, uint32_t slot) {
  if (slot >= r->socks_len) return 0;
  sock_t *s = &r->socks[slot];
  uint32_t n = s->n;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = s->rooms[i];
    memb_t *m = memb_find(r, id, slot);
    uint32_t room_pos = m->room_pos;
    memb_erase(r, m);
    room_remove_at(r, id, room_pos);
  }
  // The slot may now be reused by JS for another socket: give its list back.
  mem_free(r, s->rooms, (size_t) s->cap * 4);
  s->rooms = NULL;
  s->n = 0;
  s->cap = 0;
  if (s->order_pos != NONE) order_remove(r, s);
  mtab_maybe_shrink(r);
  return n > INT32_MAX ? INT32_MAX : (int) n;
}

int
hra_rooms_has (const hra_rooms_t *r, hra_room_key_t key) {
  return room_lookup(r, key) != NONE;
}

// Decodes one JS StrWhiteSpaceChar (WhiteSpace or LineTerminator) in UTF-8 at s; returns its length or 0.
static size_t
js_space (const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c == 0x09 || c == 0x0a || c == 0x0b || c == 0x0c || c == 0x0d || c == 0x20) return 1;
  if (n >= 2 && c == 0xc2 && s[1] == 0xa0) return 2;  // U+00A0
  if (n < 3) return 0;
  uint32_t cp = ((uint32_t) c << 16) | ((uint32_t) s[1] << 8) | s[2];
  if (cp == 0xe19a80) return 3;  // U+1680
  if (cp >= 0xe28080 && cp <= 0xe2808a) return 3;  // U+2000..U+200A
  if (cp == 0xe280a8 || cp == 0xe280a9 || cp == 0xe280af) return 3;  // U+2028, U+2029, U+202F
  if (cp == 0xe2819f || cp == 0xe38080 || cp == 0xefbbbf) return 3;  // U+205F, U+3000, U+FEFF
  return 0;
}

static size_t
digits (const uint8_t *s, size_t i, size_t n) {
  while (i < n && s[i] >= '0' && s[i] <= '9')
    i++;
  return i;
}

// Finds the text parseFloat(s) reads: after leading white space, the longest StrDecimalLiteral prefix. Returns 0
// when there is none (parseFloat gives NaN).
static int
parse_float_prefix (const uint8_t *s, size_t n, size_t *start, size_t *len) {
  size_t i = 0, w;
  while (i < n && (w = js_space(s + i, n - i)) != 0)
    i += w;
  size_t b = i;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (n - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) {
    *start = b;
    *len = i + 8 - b;
    return 1;
  }
  size_t d0 = i;
  i = digits(s, i, n);
  size_t nd = i - d0;
  if (i < n && s[i] == '.') {
    size_t f0 = i + 1;
    size_t f1 = digits(s, f0, n);
    if (nd > 0 || f1 > f0) {
      nd += f1 - f0;
      i = f1;
    }
  }
  if (nd == 0) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t e = i + 1;
    if (e < n && (s[e] == '+' || s[e] == '-')) e++;
    size_t e1 = digits(s, e, n);
    if (e1 > e) i = e1;
  }
  *start = b;
  *len = i - b;
  return 1;
}

int
hra_rooms_has_str_or_num (const hra_rooms_t *r, const uint8_t *s, size_t len) {
  if (hra_rooms_has(r, (hra_room_key_t){ s, len, HRA_ROOM_STR })) return 1;
  if (r->num_count == 0 || (len != 0 && s == NULL)) return 0;
  // JS: !isNaN(room) && !isNaN(parseFloat(room)), then rooms.has(parseFloat(room)).
  size_t start, plen;
  if (!parse_float_prefix(s, len, &start, &plen)) return 0;
  if (!hra_jsnum_is_numeric_string(s, len)) return 0;
  // The prefix is a plain decimal literal, on which Number() and parseFloat() agree, so this is right whichever
  // of the two the converter implements. Its return convention is not relied on: an untouched NaN means it
  // refused, and then we cannot tell, so we answer yes rather than risk dropping a message.
  double d = NAN;
  hra_jsnum_from_js_string(s + start, plen, &d);
  if (isnan(d)) return 1;
  char buf[32];
  size_t n = hra_jsnum_format(d, buf);
  if (n == 0 || n > sizeof(buf)) return 1;
  return hra_rooms_has(r, (hra_room_key_t){ (const uint8_t *) buf, n, HRA_ROOM_NUM });
}

int
hra_rooms_targets (hra_rooms_t *r, const hra_room_key_t *rooms, size_t nrooms, const hra_room_key_t *except, size_t nexcept, hra_u32vec_t *out) {
  out->len = 0;
  // Two fresh stamps per call make old marks meaningless, so the mark array is never cleared, except once
  // every 2^31 calls when the counter wraps.
  if (r->gen >= UINT32_MAX - 2) {
    for (size_t i = 0; i < r->socks_len; i++)
      r->socks[i].mark = 0;
    r->gen = 0;
  }
  uint32_t ex = ++r->gen;
  uint32_t seen = ++r->gen;

  for (size_t k = 0; k < nexcept; k++) {
    uint32_t id = room_lookup(r, except[k]);
    if (id == NONE) continue;
    const room_t *rm = &r->rooms[id];
    for (uint32_t i = 0; i < rm->mlen; i++) {
      if (rm->members[i] != TOMB) r->socks[rm->members[i]].mark = ex;
    }
  }

  if (nrooms == 0) {
    if (hra_u32vec_reserve(out, r->order_live) != 0) return HRA_ENOMEM;
    for (uint32_t i = 0; i < r->order_len; i++) {
      uint32_t slot = r->order[i];
      if (slot != TOMB && r->socks[slot].mark != ex) out->data[out->len++] = slot;
    }
    return HRA_OK;
  }

  for (size_t k = 0; k < nrooms; k++) {
    uint32_t id = room_lookup(r, rooms[k]);
    if (id == NONE) continue;
    const room_t *rm = &r->rooms[id];
    if (hra_u32vec_reserve(out, rm->live) != 0) {
      out->len = 0;
      return HRA_ENOMEM;
    }
    for (uint32_t i = 0; i < rm->mlen; i++) {
      uint32_t slot = rm->members[i];
      if (slot == TOMB) continue;
      sock_t *s = &r->socks[slot];
      if (s->mark == ex || s->mark == seen) continue;
      s->mark = seen;
      out->data[out->len++] = slot;
    }
  }
  return HRA_OK;
}

size_t
hra_rooms_count (const hra_rooms_t *r) {
  return r->count;
}

size_t
hra_rooms_memory (const hra_rooms_t *r) {
  return r->bytes;
}

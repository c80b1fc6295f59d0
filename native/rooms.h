// The rooms one namespace adapter holds locally, for the receive path's "is this room ours?" before anything is
// decoded. Membership itself (which sockets are in which room) lives only in JS, in socket.io-adapter's
// `rooms`/`sids` Maps: JS tells this set when a room is created (its first member) and deleted (its last).
// One 32-bit keyed fingerprint per room, in an open-addressing table: no names are stored, so hra_rooms_has may
// answer 1 for a room that is not held (about once in 2^32 / count lookups: harmless, JS then finds no member)
// but never 0 for a held one. hra_rooms_t owns its table; free it with hra_rooms_free.
#ifndef HRA_ROOMS_H
#define HRA_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

// Room kinds. A NUM room is a room joined with a JS number (socket.join(123)); its bytes are the canonical
// String(number) text, formatted by the caller. "123" (STR) and 123 (NUM) are different rooms, as in a JS Map.
#define HRA_ROOM_STR 0
#define HRA_ROOM_NUM 1

#define HRA_ROOMS_MAX_NAME 65536u  // dynamic subscriptions are not made for longer room names

typedef struct hra_rooms_s hra_rooms_t;

typedef struct {
  const uint8_t *base;
  size_t len;
  int kind;  // HRA_ROOM_STR or HRA_ROOM_NUM
} hra_room_key_t;

// seed should be random per process (or per table): it keys the fingerprints, so hostile room names can
// neither flood a probe sequence nor be chosen to collide with a held room. Returns NULL when out of memory.
hra_rooms_t *
hra_rooms_new (uint64_t seed);

void
hra_rooms_free (hra_rooms_t *r);

// A room was created: its first member joined. The set counts rooms, so a room created twice must be deleted
// twice (JS reports each creation and deletion exactly once). Returns HRA_OK, HRA_EINVAL (bad kind) or
// HRA_ENOMEM (nothing changed).
int
hra_rooms_add (hra_rooms_t *r, hra_room_key_t key);

// A room was deleted: its last member left. Returns 1 if a fingerprint was removed, 0 if none matched; never
// fails.
int
hra_rooms_remove (hra_rooms_t *r, hra_room_key_t key);

// 1 if the room may be held (see above), else 0.
int
hra_rooms_has (const hra_rooms_t *r, hra_room_key_t key);

// The classic adapter's pre-decode channel check: 1 if the STR room s may be held or, when s is numeric by JS
// rules (!isNaN(s) && !isNaN(parseFloat(s))), the NUM room String(parseFloat(s)) may be held. Like
// hra_rooms_has it may answer 1 falsely but never 0 for a room that is held.
int
hra_rooms_has_str_or_num (const hra_rooms_t *r, const uint8_t *s, size_t len);

// The room log: creations and deletions written by JS into memory it shares with C (lib/adapter.js), so that a
// room created costs JS no call into C. Its first u32 (native byte order) is the number of bytes of records after
// it; each record is a u32 head, the name's length or'ed with the flags below, then the name, padded to a
// multiple of 4 bytes. Applies every record in order and empties the log (the first u32 back to 0). A record
// that would not fit, or a creation that fails for memory, makes the set lossy: from then on hra_rooms_has
// answers 1 for every room (nothing held is ever dropped; misses then reach JS).
#define HRA_ROOMS_LOG_NUM 0x80000000u  // a room joined with a number
#define HRA_ROOMS_LOG_ON 0x40000000u  // created (else deleted)
#define HRA_ROOMS_LOG_LEN 0x3fffffffu

void
hra_rooms_apply_log (hra_rooms_t *r, uint8_t *log, size_t cap);

// Number of rooms held.
size_t
hra_rooms_count (const hra_rooms_t *r);

// Bytes held by the set, for napi_adjust_external_memory.
size_t
hra_rooms_memory (const hra_rooms_t *r);

#endif  // HRA_ROOMS_H

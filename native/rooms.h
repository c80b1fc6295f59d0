// Room index of one namespace adapter: rooms <-> socket slots, mirroring socket.io-adapter's `rooms`/`sids` Maps.
// hra_rooms_t owns copies of all room names (keys are borrowed only for the duration of a call); free it with
// hra_rooms_free. hra_u32vec_t is owned by the caller, reusable across calls, and freed with hra_u32vec_free.
#ifndef HRA_ROOMS_H
#define HRA_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

// Room kinds. A NUM room is a room joined with a JS number (socket.join(123)); its bytes are the canonical
// String(number) text, formatted by the caller. "123" (STR) and 123 (NUM) are different rooms, as in a JS Map.
#define HRA_ROOM_STR 0
#define HRA_ROOM_NUM 1

#define HRA_ROOMS_MAX_NAME 65536u  // longer room names are rejected with HRA_ELIMIT
#define HRA_ROOMS_MAX_SLOT 0x7fffffffu  // larger slots are rejected with HRA_ELIMIT

typedef struct hra_rooms_s hra_rooms_t;

typedef struct {
  const uint8_t *base;
  size_t len;
  int kind;  // HRA_ROOM_STR or HRA_ROOM_NUM
} hra_room_key_t;

// A growable uint32 vector; zero-initialise it ({ 0 }) before first use.
typedef struct {
  uint32_t *data;
  size_t len;
  size_t cap;
} hra_u32vec_t;

int
hra_u32vec_reserve (hra_u32vec_t *v, size_t extra);

void
hra_u32vec_free (hra_u32vec_t *v);

// seed should be random per process (or per table): it keys the hashes so hostile room names cannot flood a
// bucket. Returns NULL when out of memory.
hra_rooms_t *
hra_rooms_new (uint64_t seed);

void
hra_rooms_free (hra_rooms_t *r);

// Adds slot to the room, creating the room if needed. A slot's first join registers it in the `sids` order.
// Returns 1 if added, 0 if already a member, HRA_ELIMIT (slot or name too large), HRA_EINVAL (bad kind) or
// HRA_ENOMEM; on error nothing changed.
int
hra_rooms_join (hra_rooms_t *r, uint32_t slot, hra_room_key_t key);

// Removes slot from the room and deletes the room when it becomes empty. Like the JS adapter's del(), the slot
// stays registered in the `sids` order even when it leaves its last room; only hra_rooms_leave_all unregisters it.
// Returns 1 if removed, 0 if not a member; never fails.
int
hra_rooms_leave (hra_rooms_t *r, uint32_t slot, hra_room_key_t key);

// The JS adapter's delAll(): leaves every room of slot (O(rooms of slot)) and unregisters it, after which JS may
// reuse the slot. Returns the number of rooms left; never fails.
int
hra_rooms_leave_all (hra_rooms_t *r, uint32_t slot);

// 1 if the room exists, else 0.
int
hra_rooms_has (const hra_rooms_t *r, hra_room_key_t key);

// The classic adapter's pre-decode channel check: 1 if the STR room s exists or, when s is numeric by JS rules
// (!isNaN(s) && !isNaN(parseFloat(s))), the NUM room String(parseFloat(s)) exists. It may answer 1 falsely
// (harmless: the message is filtered after decoding) but never 0 for a room that exists.
int
hra_rooms_has_str_or_num (const hra_rooms_t *r, const uint8_t *s, size_t len);

// The in-memory adapter's apply() target selection. Replaces out's contents with the selected slots: with
// nrooms > 0, the members of each existing room in order, each slot once, minus the members of every existing
// except room; with nrooms == 0, every registered slot in first-join order, minus the excluded ones. Rooms that
// do not exist are ignored. Returns HRA_OK or HRA_ENOMEM (out->len is then 0).
int
hra_rooms_targets (hra_rooms_t *r, const hra_room_key_t *rooms, size_t nrooms, const hra_room_key_t *except, size_t nexcept, hra_u32vec_t *out);

// Number of rooms.
size_t
hra_rooms_count (const hra_rooms_t *r);

// Bytes held by the index, for napi_adjust_external_memory.
size_t
hra_rooms_memory (const hra_rooms_t *r);

#endif  // HRA_ROOMS_H

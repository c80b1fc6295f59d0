// Decoder for the classic broadcast message [uid, packet, opts] (protocol.md 1.3) into slices of the
// caller's msgpack bytes. It allocates nothing; the result is valid while the bytes are.
#ifndef HRA_ENVELOPE_H
#define HRA_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct {
  // uid: the string's raw bytes when uid_is_string, otherwise the raw msgpack of the value.
  int uid_is_string;
  hra_slice_t uid;

  // packet.type; always an integer-valued number (otherwise the decode fails with HRA_ETYPE).
  int64_t type;

  // packet.nsp: has_nsp is 0 when the key is absent (or legacy undefined): treat as "/". When
  // has_nsp is 1 and nsp_is_string is 0 (nil, number, ...) upstream drops the message.
  int has_nsp;
  int nsp_is_string;
  hra_slice_t nsp;  // raw string bytes (not UTF-8 checked)

  hra_slice_t data;  // raw msgpack of packet.data; len 0 when absent
  int has_id;  // packet.id present and not nil / legacy undefined
  hra_slice_t id;  // raw msgpack of packet.id when has_id

  // opts.rooms / opts.except: raw msgpack of the array (len 0 and count 0 when absent or nil).
  hra_slice_t rooms;
  uint32_t rooms_count;
  hra_slice_t except;
  uint32_t except_count;

  int is_volatile;  // JS truthiness of opts.flags.volatile
  int compress_false;  // opts.flags.compress === false
} hra_envelope_t;

// Validates the whole message (one msgpack value, no trailing bytes, nesting <= max_depth) and fills
// *env. Map key order does not matter, the last duplicate wins, unknown keys are ignored.
// Errors:
//   HRA_EINVAL / HRA_ETRUNC / HRA_EDEPTH  malformed message
//   HRA_ETYPE    top level not an array, fewer than 3 elements, packet not a map, packet.type not an
//                integer-valued number, opts not a map (an array opts is accepted as empty, as
//                upstream reads no field of it), rooms/except neither array nor nil
//   HRA_ENOTSUP  in packet/opts/flags: a "__proto__" key whose value is an object (map, array,
//                bin, ext other than legacy undefined), or a key that is an array/map/bin; in the
//                packet: an unknown key holding a container, bin or non-Date ext (hasBinary would
//                see it). Each of these could change what upstream does.
int
hra_envelope_decode (const uint8_t *p, size_t len, unsigned max_depth, hra_envelope_t *env);

#endif  // HRA_ENVELOPE_H

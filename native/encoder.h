// socket.io-parser 4.2.x Encoder.encode() for a packet whose fields are notepack.io-encoded msgpack:
// the output bytes equal what an upstream server sends for the JS value notepack decodes. The caller
// owns every buffer; attachments are slices into the input msgpack (zero copy).
#ifndef HRA_ENCODER_H
#define HRA_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

// A growable array of borrowed slices (owned array, borrowed bytes).
typedef struct {
  hra_slice_t *items;
  size_t len;
  size_t cap;
} hra_slices_t;

int
hra_slices_push (hra_slices_t *v, hra_slice_t s);

void
hra_slices_free (hra_slices_t *v);

// Reusable scratch space for hra_encode_packet; zero-initialise it (or call hra_encoder_init),
// reuse it across packets, free it with hra_encoder_free. The fields are internal. One per thread.
typedef struct {
  hra_buf_t keys;  // map keys that had to be rewritten (numbers, invalid UTF-8)
  void *ents;  // stack of map entries, one frame per open map
  size_t ents_len;
  size_t ents_cap;
  uint32_t *idx;  // sort scratch
  size_t idx_cap;
} hra_encoder_t;

void
hra_encoder_init (hra_encoder_t *enc);

void
hra_encoder_free (hra_encoder_t *enc);

// Encodes one packet. type must be 2 (EVENT) or 3 (ACK), otherwise HRA_ENOTSUP. nsp is the
// namespace name (bytes written as-is; omitted when empty or "/"). id_mp is the msgpack of the ack id
// or NULL; nil and legacy undefined count as absent; numbers, strings and booleans are printed with
// String(), anything else is HRA_ENOTSUP. data_mp is the msgpack of packet.data (len 0: absent).
//
// Appends the packet string (the header plus JSON: the first element of Encoder.encode's result)
// to out and one slice per binary attachment to attachments, in order (the count written in the
// "<n>-" header prefix is the number appended by this call). On error both are restored to their
// previous lengths. Nesting is limited to max_depth (clamped to HRA_MP_MAX_DEPTH; the writer
// recurses once per level, so keep it modest). Errors:
//   HRA_EINVAL / HRA_ETRUNC  malformed msgpack or trailing bytes (notepack would throw too)
//   HRA_EDEPTH   nesting deeper than max_depth
//   HRA_ENOTSUP  a construct whose upstream result we do not reproduce: map keys that are
//                arrays, maps, bin or exts (other than legacy undefined); an id that is not a
//                number, string, boolean or nil; a "__proto__" chain ending in an ArrayBuffer, or in
//                a Buffer/Date without a shadowing "toJSON" key (upstream throws), or a Date chain
//                around binary; an own "__proto__" property (after a null prototype) in a packet
//                with binary; type other than 2 and 3
//   HRA_ENOMEM
int
hra_encode_packet (hra_encoder_t *enc, hra_buf_t *out, hra_slices_t *attachments, int type, hra_slice_t nsp, const hra_slice_t *id_mp, hra_slice_t data_mp, unsigned max_depth);

// 1 when [p, p+len) is valid UTF-8 (so Buffer.toString('utf8') would not replace anything).
int
hra_encoder_utf8_valid (const uint8_t *p, size_t len);

// Appends the UTF-8 of Buffer.toString('utf8') of the bytes (WHATWG decoding: each maximal invalid
// subpart becomes U+FFFD). Use it to compare msgpack strings the way JS compares decoded strings.
int
hra_encoder_utf8_sanitize (hra_buf_t *out, const uint8_t *p, size_t len);

#endif  // HRA_ENCODER_H

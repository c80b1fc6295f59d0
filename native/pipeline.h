// The transport-independent part of the receive path, shared by the fronts (adapter.c for classic
// pub/sub, sharded.c for sharded pub/sub): validation of a decoded packet, target selection against the
// room index, packet encoding. A front turns its transport's message into calls of these, then writes a
// record with batch.h. Fronts depend on this file, never on each other. Plain C.
#ifndef HRA_PIPELINE_H
#define HRA_PIPELINE_H

#include "adapter_internal.h"

// HRA_OK when the envelope's packet can be delivered as is: a known type, data an array whose first
// element is not a reserved event name, an id that is a safe integer; else an HRA_E* code.
int
hra_pipeline_deliverable (const hra_envelope_t *env, unsigned max_depth);

// Target selection: keeps, in place, the keys (nrooms rooms, then the exceptions up to nall) of rooms held here,
// and describes them in a->targets for the batch writer. Returns 1 when the message names rooms and none is
// held here (no local socket can match), else HRA_OK.
int
hra_pipeline_select (hra_adapter_t *a, hra_room_key_t *keys, size_t nrooms, size_t nall);

// Target selection and encoding for msgpack rooms/except/data: fills a->targets, a->out and
// a->attachments. Returns 1 when no local socket can match (nothing encoded), else HRA_OK or an HRA_E* code.
int
hra_pipeline_prepare (hra_adapter_t *a, hra_slice_t rooms, hra_slice_t except, int type, const hra_slice_t *id, hra_slice_t data);

// 1 when any map inside the msgpack value has a "__proto__" key (notepack would set a prototype), or
// when the value is malformed or nested deeper than max_depth.
int
hra_pipeline_has_proto_key (hra_slice_t v, unsigned max_depth);

// Reads the next member of a msgpack map: its key, the header of its value, and the value's raw bytes.
int
hra_pipeline_next_member (hra_mp_reader_t *r, unsigned max_depth, hra_mp_obj_t *key, hra_mp_obj_t *value, hra_slice_t *raw);

#endif  // HRA_PIPELINE_H

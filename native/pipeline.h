// The transport-independent part of the receive path, shared by the fronts (adapter.c for classic
// pub/sub, sharded.c for sharded pub/sub, streams.c for Redis Streams): validation of a decoded packet, target selection against the
// room index, packet encoding. A front turns its transport's message into calls of these, then writes a
// record with batch.h. Fronts depend on this file, never on each other. Plain C.
#ifndef HRA_PIPELINE_H
#define HRA_PIPELINE_H

#include "adapter_internal.h"
#include "json.h"

// A broadcast C does not reproduce byte for byte: the front hands it to JS (the ClusterAdapter runs it).
#define HRA_PIPELINE_TO_JS 2

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

// JSON helpers for ClusterAdapter messages: 1 when the JSON string value q (with quotes) equals the
// bytes z; 1 when a raw object key (between the quotes, escapes kept) names the ASCII field; the next
// member of an object with JSON.parse's strictness (1: a member, 0: the end, < 0: an error).
int
hra_pipeline_json_str_eq (hra_adapter_t *a, hra_slice_t q, const void *z, size_t n);

int
hra_pipeline_key_is (hra_adapter_t *a, hra_slice_t key, const char *name);

int
hra_pipeline_obj_next (hra_json_t *j, int *first, hra_slice_t *key, hra_slice_t *value, int *type);

// A msgpack map member; refuses keys JS would turn into a name we cannot compare (containers, bin) and
// "__proto__" (a decoder would set the object's prototype).
int
hra_pipeline_mp_member (hra_adapter_t *a, hra_mp_reader_t *r, hra_mp_obj_t *k, hra_mp_obj_t *v, hra_slice_t *raw);

// A ClusterAdapter BROADCAST's data ({packet: {type: 2, data}, opts: {rooms, except, flags}}), JSON (the
// text of one object, validated here as it is read) or msgpack (validated by the caller, a map): selects
// the local targets, encodes the packet once and writes a HRA_REC_BROADCAST record. HRA_OK (delivered, or
// no local target: counted), HRA_PIPELINE_TO_JS (valid, but only JS reproduces it exactly; a requestId
// member, a broadcast with acks, is always for JS), or an HRA_E* code (invalid).
int
hra_pipeline_cluster_json (hra_adapter_t *a, hra_slice_t data, hra_batch_t *batch);

int
hra_pipeline_cluster_mp (hra_adapter_t *a, hra_slice_t data, hra_batch_t *batch);

#endif  // HRA_PIPELINE_H

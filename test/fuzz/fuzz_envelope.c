// libFuzzer target: the classic broadcast envelope ([uid, packet, opts] in msgpack) and, when it decodes,
// the packet encoded to socket.io-parser's string, as the receive pipeline does.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/encoder.h"
#include "../../native/envelope.h"
#include "../../native/mp.h"

static void
check_slice (hra_slice_t s, const uint8_t *base, size_t size) {
  if (s.len == 0) return;
  if (s.base < base || s.base > base + size || s.len > (size_t) (base + size - s.base)) abort();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  hra_envelope_t env;
  memset(&env, 0, sizeof(env));
  int err = hra_envelope_decode(data, size, 100, &env);
  if (err != HRA_OK) return 0;
  check_slice(env.uid, data, size);
  check_slice(env.nsp, data, size);
  check_slice(env.data, data, size);
  check_slice(env.rooms, data, size);
  check_slice(env.except, data, size);
  if (env.has_id) check_slice(env.id, data, size);
  // rooms / except are arrays the pipeline walks element by element
  hra_slice_t arrs[2] = { env.rooms, env.except };
  for (int i = 0; i < 2; i++) {
    if (arrs[i].len == 0) continue;
    hra_mp_reader_t r;
    hra_mp_obj_t o;
    hra_mp_reader_init(&r, arrs[i].base, arrs[i].len);
    if (hra_mp_read(&r, &o) != 0 || o.type != HRA_MP_ARRAY) abort();
    for (uint32_t k = 0; k < o.count; k++) {
      if (hra_mp_skip(&r, 100) != 0) abort();  // decode validated it
    }
  }
  hra_encoder_t enc;
  hra_encoder_init(&enc);
  hra_buf_t out = { 0 };
  hra_slices_t att = { 0 };
  hra_slice_t nsp = env.has_nsp && env.nsp_is_string ? env.nsp : (hra_slice_t){ (const uint8_t *) "/", 1 };
  (void) hra_encode_packet(&enc, &out, &att, (int) env.type, nsp, env.has_id ? &env.id : NULL, env.data, 100);
  hra_buf_free(&out);
  hra_slices_free(&att);
  hra_encoder_free(&enc);
  return 0;
}

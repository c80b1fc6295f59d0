// libFuzzer target: the validating JSON scanner used on request and response payloads. Walks the input
// the way the request/response paths do (objects by member, arrays by element, numbers parsed) and checks
// that every slice it returns lies inside the input and that skip and the iterators agree. Also the
// canonical-JSON check (a text it accepts must be one JSON value, no white space) and the string unescaper.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/json.h"

static const uint8_t *lo, *hi;
static hra_buf_t scratch;

static void
in_input (hra_slice_t s) {
  if (s.len && (s.base < lo || s.base + s.len > hi)) abort();
}

static void
walk (hra_slice_t v, int type, int depth) {
  in_input(v);
  if (depth > 64) return;
  hra_json_t j = { v.base, v.base + v.len, 100 };
  if (type == HRA_JSON_OBJECT) {
    if (hra_json_object_begin(&j) < 0) abort();  // skip already validated it
    hra_slice_t key, val;
    int t, r;
    while ((r = hra_json_object_next(&j, &key, &val, &t)) == 1) {
      in_input(key);
      (void) hra_json_key_is(key, "requestId");
      walk(val, t, depth + 1);
    }
    if (r < 0) abort();
  } else if (type == HRA_JSON_ARRAY) {
    if (hra_json_array_begin(&j) < 0) abort();
    hra_slice_t val;
    int t, r;
    while ((r = hra_json_array_next(&j, &val, &t)) == 1)
      walk(val, t, depth + 1);
    if (r < 0) abort();
  } else if (type == HRA_JSON_STRING) {
    scratch.len = 0;
    int err = hra_json_unescape(v, &scratch);
    if (err != HRA_OK && err != HRA_ENOTSUP) abort();  // the scanner validated it
  } else if (type == HRA_JSON_NUMBER) {
    double d;
    if (hra_json_number(v, &d) != HRA_OK) abort();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  lo = data;
  hi = data + size;
  hra_json_t j = { data, data + size, 100 };
  hra_slice_t v;
  if (hra_json_canonical(&scratch, data, size, 100)) {
    hra_json_t c = { data, data + size, 256 };
    if (hra_json_skip(&c, NULL) < 0 || c.p != data + size) abort();
  }
  int type = hra_json_skip(&j, &v);
  if (type < 0) return 0;
  walk(v, type, 0);
  (void) hra_json_at_end(&j);
  return 0;
}

#include <stdlib.h>

#include "common.h"

int
hra_buf_reserve (hra_buf_t *b, size_t extra) {
  if (b->cap - b->len >= extra) return HRA_OK;
  if (extra > SIZE_MAX / 2 - b->len) return HRA_ENOMEM;
  size_t need = b->len + extra;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  uint8_t *data = realloc(b->data, cap);
  if (data == NULL) return HRA_ENOMEM;
  b->data = data;
  b->cap = cap;
  return HRA_OK;
}

void
hra_buf_free (hra_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

const char *
hra_strerror (int err) {
  switch (err) {
    case HRA_OK:
      return "ok";
    case HRA_ENOMEM:
      return "out of memory";
    case HRA_EINVAL:
      return "malformed message";
    case HRA_ETRUNC:
      return "truncated message: a length exceeds the bytes left";
    case HRA_EDEPTH:
      return "message nested too deeply";
    case HRA_ELIMIT:
      return "message exceeds a configured limit";
    case HRA_ETYPE:
      return "message field has the wrong type";
    case HRA_ENOTSUP:
      return "message uses an unsupported construct";
    case HRA_ECLOSED:
      return "closed";
    case HRA_ENOTCONN:
      return "not connected";
    default:
      return "unknown error";
  }
}

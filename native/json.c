#include <stdlib.h>
#include <string.h>

#include "json.h"

static void
skip_ws (hra_json_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

int
hra_json_at_end (hra_json_t *j) {
  skip_ws(j);
  return j->p == j->end;
}

// Skips a string starting at the opening quote. Control characters are not allowed raw.
static int
skip_string (hra_json_t *j) {
  j->p++;
  while (j->p < j->end) {
    uint8_t c = *j->p++;
    if (c == '"') return HRA_OK;
    if (c < 0x20) return HRA_EINVAL;
    if (c == '\\') {
      if (j->p >= j->end) return HRA_ETRUNC;
      c = *j->p++;
      switch (c) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          break;
        case 'u':
          if (j->end - j->p < 4) return HRA_ETRUNC;
          for (int i = 0; i < 4; i++) {
            if (hra_json_hexval(j->p[i]) < 0) return HRA_EINVAL;
          }
          j->p += 4;
          break;
        default:
          return HRA_EINVAL;
      }
    }
  }
  return HRA_ETRUNC;
}

static int
skip_number (hra_json_t *j) {
  const uint8_t *p = j->p, *e = j->end;
  if (p < e && *p == '-') p++;
  if (p >= e) return HRA_ETRUNC;
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9') {
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  } else
    return HRA_EINVAL;
  if (p < e && *p == '.') {
    p++;
    if (p >= e || *p < '0' || *p > '9') return HRA_EINVAL;
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (p >= e || *p < '0' || *p > '9') return HRA_EINVAL;
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  j->p = p;
  return HRA_OK;
}

static int
skip_literal (hra_json_t *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t) (j->end - j->p) < n) return HRA_ETRUNC;
  if (memcmp(j->p, lit, n) != 0) return HRA_EINVAL;
  j->p += n;
  return HRA_OK;
}

// Containers are skipped iteratively with a small stack of open brackets, so hostile nesting costs
// neither C stack nor more than max_depth bytes of state.
static int
skip_container (hra_json_t *j) {
  uint8_t stack[256];
  unsigned limit = j->max_depth < sizeof(stack) ? j->max_depth : sizeof(stack);
  unsigned depth = 0;
  int expect_value = 1;
  for (;;) {
    skip_ws(j);
    if (j->p >= j->end) return HRA_ETRUNC;
    uint8_t c = *j->p;
    uint8_t top = depth ? stack[depth - 1] : 0;
    if (expect_value) {
      if (c == '[' || c == '{') {
        if (depth >= limit) return HRA_EDEPTH;
        stack[depth++] = c;
        j->p++;
        skip_ws(j);
        if (j->p >= j->end) return HRA_ETRUNC;
        if (*j->p == (c == '[' ? ']' : '}')) {
          j->p++;
          depth--;
          expect_value = 0;
          if (depth == 0) return HRA_OK;
          continue;
        }
        if (c == '{') {
          if (*j->p != '"') return HRA_EINVAL;
          int err = skip_string(j);
          if (err) return err;
          skip_ws(j);
          if (j->p >= j->end) return HRA_ETRUNC;
          if (*j->p++ != ':') return HRA_EINVAL;
        }
        continue;
      }
      int err;
      if (c == '"')
        err = skip_string(j);
      else if (c == '-' || (c >= '0' && c <= '9'))
        err = skip_number(j);
      else if (c == 't')
        err = skip_literal(j, "true");
      else if (c == 'f')
        err = skip_literal(j, "false");
      else if (c == 'n')
        err = skip_literal(j, "null");
      else
        err = HRA_EINVAL;
      if (err) return err;
      expect_value = 0;
      continue;
    }
    // After a value inside a container: a comma or the closing bracket.
    if (c == ',') {
      j->p++;
      if (top == '{') {
        skip_ws(j);
        if (j->p >= j->end) return HRA_ETRUNC;
        if (*j->p != '"') return HRA_EINVAL;
        int err = skip_string(j);
        if (err) return err;
        skip_ws(j);
        if (j->p >= j->end) return HRA_ETRUNC;
        if (*j->p++ != ':') return HRA_EINVAL;
      }
      expect_value = 1;
      continue;
    }
    if ((top == '[' && c == ']') || (top == '{' && c == '}')) {
      j->p++;
      depth--;
      if (depth == 0) return HRA_OK;
      continue;
    }
    return HRA_EINVAL;
  }
}

int
hra_json_skip (hra_json_t *j, hra_slice_t *value) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  const uint8_t *start = j->p;
  uint8_t c = *j->p;
  int type, err;
  switch (c) {
    case '"':
      type = HRA_JSON_STRING;
      err = skip_string(j);
      break;
    case '[':
      type = HRA_JSON_ARRAY;
      err = skip_container(j);
      break;
    case '{':
      type = HRA_JSON_OBJECT;
      err = skip_container(j);
      break;
    case 't':
      type = HRA_JSON_TRUE;
      err = skip_literal(j, "true");
      break;
    case 'f':
      type = HRA_JSON_FALSE;
      err = skip_literal(j, "false");
      break;
    case 'n':
      type = HRA_JSON_NULL;
      err = skip_literal(j, "null");
      break;
    default:
      if (c == '-' || (c >= '0' && c <= '9')) {
        type = HRA_JSON_NUMBER;
        err = skip_number(j);
      } else {
        return HRA_EINVAL;
      }
  }
  if (err) return err;
  if (value) {
    value->base = start;
    value->len = (size_t) (j->p - start);
  }
  return type;
}

int
hra_json_object_begin (hra_json_t *j) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != '{') return HRA_ETYPE;
  j->p++;
  // next() takes the comma before each member; before the first there is none (JSON.parse refuses "{,").
  skip_ws(j);
  if (j->p < j->end && *j->p == ',') return HRA_EINVAL;
  return HRA_OK;
}

int
hra_json_object_next (hra_json_t *j, hra_slice_t *key, hra_slice_t *value, int *type) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p == '}') {
    j->p++;
    return 0;
  }
  if (*j->p == ',') {
    j->p++;
    skip_ws(j);
    if (j->p >= j->end) return HRA_ETRUNC;
  }
  if (*j->p != '"') return HRA_EINVAL;
  const uint8_t *ks = j->p + 1;
  int err = skip_string(j);
  if (err) return err;
  key->base = ks;
  key->len = (size_t) (j->p - 1 - ks);
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p++ != ':') return HRA_EINVAL;
  int t = hra_json_skip(j, value);
  if (t < 0) return t;
  *type = t;
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != ',' && *j->p != '}') return HRA_EINVAL;
  return 1;
}

int
hra_json_array_begin (hra_json_t *j) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != '[') return HRA_ETYPE;
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == ',') return HRA_EINVAL;
  return HRA_OK;
}

int
hra_json_array_next (hra_json_t *j, hra_slice_t *value, int *type) {
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p == ']') {
    j->p++;
    return 0;
  }
  if (*j->p == ',') j->p++;
  int t = hra_json_skip(j, value);
  if (t < 0) return t;
  *type = t;
  skip_ws(j);
  if (j->p >= j->end) return HRA_ETRUNC;
  if (*j->p != ',' && *j->p != ']') return HRA_EINVAL;
  return 1;
}

int
hra_json_number (hra_slice_t s, double *out) {
  char buf[64];
  if (s.len == 0 || s.len >= sizeof(buf)) {
    // Very long number literals are legal JSON; strtod needs a NUL-terminated copy.
    char *heap = malloc(s.len + 1);
    if (heap == NULL) return HRA_ENOMEM;
    memcpy(heap, s.base, s.len);
    heap[s.len] = 0;
    char *endp = NULL;
    *out = strtod(heap, &endp);
    int ok = endp == heap + s.len && s.len > 0;
    free(heap);
    return ok ? HRA_OK : HRA_EINVAL;
  }
  memcpy(buf, s.base, s.len);
  buf[s.len] = 0;
  char *endp = NULL;
  *out = strtod(buf, &endp);
  return endp == buf + s.len ? HRA_OK : HRA_EINVAL;
}

int
hra_json_key_is (hra_slice_t key, const char *name) {
  size_t n = strlen(name);
  return key.len == n && memcmp(key.base, name, n) == 0;
}

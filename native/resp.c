#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

// Reply arena: hiredis's reader calls these while parsing. Strings are copied into our arena at once,
// because the reader compacts its buffer (moving the bytes) before redisReaderGetReply returns.

// Whether the reply being parsed may grow by one node and extra arena bytes within max_bytes.
static int
within_limit (hra_resp_t *c, size_t extra) {
  if (c->max_bytes == 0) return 1;
  size_t used = (c->nnodes + 1) * sizeof(hra_reply_node_t);
  if (used > c->max_bytes || c->strs.len > c->max_bytes - used || extra > c->max_bytes - used - c->strs.len) {
    c->too_big = 1;
    return 0;
  }
  return 1;
}

static void *
push_node (hra_resp_t *c, int type, uint32_t len, int64_t integer) {
  if (!within_limit(c, 0)) return NULL;
  if (c->nnodes == c->cap_nodes) {
    size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 64;
    hra_reply_node_t *n = realloc(c->nodes, cap * sizeof(*n));
    if (n == NULL) {
      c->oom = 1;
      return NULL;
    }
    c->nodes = n;
    c->cap_nodes = cap;
  }
  hra_reply_node_t *node = &c->nodes[c->nnodes];
  node->type = (uint8_t) type;
  node->len = len;
  node->integer = integer;
  node->off = c->strs.len;
  c->nnodes++;
  // Never NULL: hiredis takes NULL for out-of-memory.
  return (void *) (uintptr_t) c->nnodes;
}

static void *
on_create_string (const redisReadTask *task, char *str, size_t len) {
  hra_resp_t *c = task->privdata;
  if (len > UINT32_MAX) {
    c->oom = 1;
    return NULL;
  }
  if (!within_limit(c, len)) return NULL;
  int type = task->type == REDIS_REPLY_ERROR ? HRA_R_ERROR : task->type == REDIS_REPLY_STATUS ? HRA_R_STATUS
                                                                                              : HRA_R_STRING;
  void *obj = push_node(c, type, (uint32_t) len, 0);
  if (obj == NULL) return NULL;
  if (hra_buf_append(&c->strs, str, len) != 0) {
    c->oom = 1;
    return NULL;
  }
  return obj;
}

#if HIREDIS_MAJOR >= 1
static void *
on_create_array (const redisReadTask *task, size_t n) {
#else
static void *
on_create_array (const redisReadTask *task, int n) {
#endif
  hra_resp_t *c = task->privdata;
  // The count is only recorded, never used to allocate: a hostile count costs nothing.
#if HIREDIS_MAJOR >= 1
  if ((uint64_t) n > UINT32_MAX) return NULL;
#else
  if (n < 0) return NULL;
#endif
  return push_node(c, HRA_R_ARRAY, (uint32_t) n, 0);
}

static void *
on_create_integer (const redisReadTask *task, long long value) {
  return push_node(task->privdata, HRA_R_INTEGER, 0, value);
}

static void *
on_create_nil (const redisReadTask *task) {
  return push_node(task->privdata, HRA_R_NIL, 0, 0);
}

#if HIREDIS_MAJOR >= 1
static void *
on_create_double (const redisReadTask *task, double value, char *str, size_t len) {
  return on_create_string(task, str, len);
}

static void *
on_create_bool (const redisReadTask *task, int value) {
  return push_node(task->privdata, HRA_R_BOOL, 0, value);
}
#endif

static void
on_free_object (void *obj) {
  // The arena is reset after every complete reply; nothing to free per object.
}

static redisReplyObjectFunctions reply_fns = {
  .createString = on_create_string,
  .createArray = on_create_array,
  .createInteger = on_create_integer,
#if HIREDIS_MAJOR >= 1
  .createDouble = on_create_double,
  .createBool = on_create_bool,
#endif
  .createNil = on_create_nil,
  .freeObject = on_free_object,
};

int
hra_resp_reset (hra_resp_t *p) {
  if (p->reader != NULL) redisReaderFree(p->reader);
  redisReader *r = redisReaderCreateWithFunctions(&reply_fns);
  p->reader = r;
  p->nnodes = 0;
  p->strs.len = 0;
  // A stream that ended on a huge reply does not keep its memory.
  if (p->cap_nodes > 65536) {
    free(p->nodes);
    p->nodes = NULL;
    p->cap_nodes = 0;
  }
  if (p->strs.cap > ((size_t) 1 << 20)) hra_buf_free(&p->strs);
  p->in.len = 0;
  p->in_pos = 0;
  if (p->in.cap > ((size_t) 1 << 20)) hra_buf_free(&p->in);
  p->oom = 0;
  p->too_big = 0;
  if (r == NULL) return HRA_ENOMEM;
  r->privdata = p;
  return HRA_OK;
}

void
hra_resp_free (hra_resp_t *p) {
  if (p->reader != NULL) redisReaderFree(p->reader);
  p->reader = NULL;
  free(p->nodes);
  p->nodes = NULL;
  p->nnodes = p->cap_nodes = 0;
  hra_buf_free(&p->strs);
  hra_buf_free(&p->in);
  p->in_pos = 0;
}

int
hra_resp_feed (hra_resp_t *p, const char *buf, size_t len) {
  if (p->reader == NULL) return HRA_ENOMEM;
  if (p->in_pos == p->in.len) {
    p->in.len = p->in_pos = 0;
    // A big reply parsed in place does not keep its memory once it is done (hiredis does the same).
    if (p->in.cap > ((size_t) 256 << 10)) hra_buf_free(&p->in);
  } else if (p->in_pos >= p->in.len - p->in_pos) {
    // What is left (an incomplete reply) is no longer than what was consumed before it: moving it to the
    // front costs at most what reading those bytes did.
    memmove(p->in.data, p->in.data + p->in_pos, p->in.len - p->in_pos);
    p->in.len -= p->in_pos;
    p->in_pos = 0;
  }
  return hra_buf_append(&p->in, buf, len);
}

// A canonical RESP count at b[*pos..len): "0", or a digit 1-9 then at most 9 more digits, then CRLF. 1 with *v
// and *pos past the CRLF; 0 when the bytes end first; -1 for anything else (hiredis decides what that is).
static int
read_count (const uint8_t *b, size_t len, size_t *pos, uint64_t *v) {
  size_t i = *pos, start = i;
  uint64_t x = 0;
  while (i < len && b[i] >= '0' && b[i] <= '9') {
    if (i - start == 10 || (i > start && x == 0)) return -1;
    x = x * 10 + (uint64_t) (b[i] - '0');
    i++;
  }
  if (i == len || (i + 1 == len && b[i] == '\r')) return i - start <= 10 ? 0 : -1;
  if (i == start || b[i] != '\r' || b[i + 1] != '\n') return -1;
  *v = x;
  *pos = i + 2;
  return 1;
}

// The shape of every pub/sub message (and most replies worth the trouble): an array of 1 to FAST_MAX bulk
// strings, all canonical. Parsed straight from what was read, nothing copied: the strings stay in p->in, where
// the reply's nodes point. 1: a reply in *out, *used its bytes; 0: a prefix of such a reply, more bytes needed;
// -1: anything else, for hiredis (so is a reply over max_bytes: hiredis then fails it with HRA_ELIMIT).
#define FAST_MAX 8

static int
fast_reply (hra_resp_t *p, hra_reply_t *out, size_t *used) {
  const uint8_t *b = p->in.data + p->in_pos;
  size_t len = p->in.len - p->in_pos, pos = 1, bytes = 0;
  uint64_t count, n;
  if (len == 0) return 0;
  if (b[0] != '*') return -1;
  int rc = read_count(b, len, &pos, &count);
  if (rc <= 0) return rc;
  if (count == 0 || count > FAST_MAX) return -1;
  if (p->cap_nodes < FAST_MAX + 1) {
    hra_reply_node_t *nodes = realloc(p->nodes, (FAST_MAX + 1) * sizeof(*nodes));
    if (nodes == NULL) return -1;
    p->nodes = nodes;
    p->cap_nodes = FAST_MAX + 1;
  }
  p->nodes[0] = (hra_reply_node_t){ HRA_R_ARRAY, (uint32_t) count, 0, 0 };
  for (uint64_t i = 1; i <= count; i++) {
    if (pos == len) return 0;
    if (b[pos++] != '$') return -1;
    if ((rc = read_count(b, len, &pos, &n)) <= 0) return rc;
    if (n > INT32_MAX) return -1;
    if (len - pos < n + 2) return 0;
    if (b[pos + n] != '\r' || b[pos + n + 1] != '\n') return -1;
    p->nodes[i] = (hra_reply_node_t){ HRA_R_STRING, (uint32_t) n, 0, p->in_pos + pos };
    pos += n + 2;
    bytes += n;
  }
  if (p->max_bytes != 0 && ((count + 1) * sizeof(hra_reply_node_t) > p->max_bytes || bytes > p->max_bytes - (count + 1) * sizeof(hra_reply_node_t))) return -1;
  p->nnodes = (size_t) count + 1;
  out->nodes = p->nodes;
  out->count = p->nnodes;
  out->data = p->in.data;
  *used = pos;
  return 1;
}

// The length of the first reply at b[0..len), any RESP2 shape, without parsing it: 1 with *n, 0 when the bytes
// end first, -1 when it is not plain RESP2 with canonical counts up to INT32_MAX nested at most 7 deep
// (hiredis's own limit).
static int
reply_extent (const uint8_t *b, size_t len, size_t *n) {
  uint64_t owed[8];
  int depth = 0, rc;
  size_t pos = 0;
  owed[0] = 1;
  while (depth >= 0) {
    if (owed[depth] == 0) {
      depth--;
      continue;
    }
    owed[depth]--;
    if (pos == len) return 0;
    uint8_t t = b[pos++];
    uint64_t v;
    if (t == '+' || t == '-' || t == ':') {
      const uint8_t *cr = memchr(b + pos, '\r', len - pos);
      for (;;) {
        if (cr == NULL || cr + 1 == b + len) return 0;
        if (cr[1] == '\n') break;
        cr = memchr(cr + 1, '\r', (size_t) (b + len - cr - 1));
      }
      pos = (size_t) (cr - b) + 2;
    } else if (t == '$' || t == '*') {
      if (pos < len && b[pos] == '-') {  // "-1": nil
        if (len - pos < 4) return 0;
        if (memcmp(b + pos, "-1\r\n", 4) != 0) return -1;
        pos += 4;
        continue;
      }
      if ((rc = read_count(b, len, &pos, &v)) <= 0) return rc;
      // hiredis 0.14 reads counts into an int: past INT32_MAX, what it makes of one is its own business.
      if (v > INT32_MAX) return -1;
      if (t == '$') {
        if (len - pos < v + 2) return 0;
        pos += v + 2;
      } else if (v > 0) {
        if (depth == 7) return -1;
        owed[++depth] = v;
      }
    } else {
      return -1;
    }
  }
  *n = pos;
  return 1;
}

// A reply other than an array of bulk strings, bigger than this, that has not all arrived goes to hiredis as it
// comes, instead of being scanned again from its start on every read.
#define STAGE_MAX (64u << 10)

int
hra_resp_next (hra_resp_t *p, hra_reply_t *out) {
  if (p->reader == NULL) return HRA_ENOMEM;
  for (;;) {
    redisReader *r = p->reader;
    size_t avail = p->in.len - p->in_pos, n = 0;
    if (r->len == r->pos && r->ridx == -1 && !p->hiredis_only) {
      // hiredis holds nothing: the next reply starts at in_pos.
      if (avail == 0) {
        p->in.len = p->in_pos = 0;
        return 0;
      }
      int rc = fast_reply(p, out, &n);
      if (rc == 1) {
        p->in_pos += n;
        return 1;
      }
      if (rc == 0) return 0;  // however big: looking at it again costs FAST_MAX headers at most
      rc = reply_extent(p->in.data + p->in_pos, avail, &n);
      if (rc == 0 && avail <= STAGE_MAX) return 0;
      if (rc != 1) n = 0;  // not plain RESP2, or big and incomplete: hiredis takes it in chunks
    }
    void *obj = NULL;
    if (n == 0 && r->len - r->pos < HRA_RESP_CHUNK && avail > 0) {
      // A reply hiredis is in the middle of, or one we cannot size: a chunk at a time (see HRA_RESP_CHUNK).
      n = avail > HRA_RESP_CHUNK ? HRA_RESP_CHUNK : avail;
    } else if (n == 0) {
      n = avail;
    }
    if (n > 0) {
      if (redisReaderFeed(r, (const char *) p->in.data + p->in_pos, n) != REDIS_OK) return HRA_ENOMEM;
      p->in_pos += n;
    }
    if (redisReaderGetReply(r, &obj) != REDIS_OK) return p->too_big ? HRA_ELIMIT : p->oom ? HRA_ENOMEM
                                                                                          : HRA_EINVAL;
    if (obj != NULL) {
      out->nodes = p->nodes;
      out->count = p->nnodes;
      out->data = p->strs.data;
      return 1;
    }
    if (p->in_pos == p->in.len) {
      p->in.len = p->in_pos = 0;
      return 0;
    }
  }
}

void
hra_resp_consumed (hra_resp_t *p) {
  p->nnodes = 0;
  p->strs.len = 0;
}

size_t
hra_resp_buffered (const hra_resp_t *p) {
  const redisReader *r = p->reader;
  return (r != NULL ? r->len - r->pos : 0) + (p->in.len - p->in_pos);
}

size_t
hra_reply_next (const hra_reply_t *r, size_t i) {
  // Walk forward counting the elements still owed by the arrays opened inside the subtree.
  size_t owed = 1;
  while (owed > 0 && i < r->count) {
    owed--;
    if (r->nodes[i].type == HRA_R_ARRAY) owed += r->nodes[i].len;
    i++;
  }
  return i;
}

// "<prefix><n>\r\n" without snprintf.
static char *
put_header (char *p, char prefix, size_t n) {
  char digits[24];
  int k = 0;
  do {
    digits[k++] = (char) ('0' + n % 10);
    n /= 10;
  } while (n > 0);
  *p++ = prefix;
  while (k > 0)
    *p++ = digits[--k];
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

// Formats the command as a RESP array of bulk strings (what redisFormatCommandArgv produces) straight into
// out: no allocation per command once the buffer has grown.
size_t
hra_resp_format_bound (int argc, const size_t *argvlen) {
  size_t need = 24 + 2;
  for (int i = 0; i < argc; i++) {
    if (argvlen[i] > SIZE_MAX / 2 - need) return 0;
    need += 24 + 2 + argvlen[i] + 2;
  }
  return need;
}

int
hra_resp_format_command (hra_buf_t *out, int argc, const char **argv, const size_t *argvlen) {
  size_t need = hra_resp_format_bound(argc, argvlen);
  if (need == 0 || hra_buf_reserve(out, need) != HRA_OK) return HRA_ENOMEM;
  char *start = (char *) out->data + out->len;
  char *p = put_header(start, '*', (size_t) argc);
  for (int i = 0; i < argc; i++) {
    p = put_header(p, '$', argvlen[i]);
    if (argvlen[i]) memcpy(p, argv[i], argvlen[i]);
    p += argvlen[i];
    *p++ = '\r';
    *p++ = '\n';
  }
  out->len += (size_t) (p - start);
  return HRA_OK;
}

void
hra_redis_error_code (hra_slice_t msg, char *code, size_t cap) {
  // Redis errors start with an upper-case code word ("NOPERM this user has no permissions ...").
  size_t n = 0;
  while (n < msg.len && n + 1 < cap && msg.base[n] >= 'A' && msg.base[n] <= 'Z')
    n++;
  if (n == 0 || (n < msg.len && msg.base[n] != ' ')) {
    snprintf(code, cap, "%s", "EREDIS");
    return;
  }
  memcpy(code, msg.base, n);
  code[n] = 0;
}

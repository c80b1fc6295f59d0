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
  p->oom = 0;
  p->too_big = 0;
  p->backlog.len = p->backlog_at = 0;
  if (p->backlog.cap > ((size_t) 1 << 20)) hra_buf_free(&p->backlog);
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
  hra_buf_free(&p->backlog);
  p->backlog_at = 0;
}

// The reader is given at most FEED_SLICE bytes at a time, the rest waiting in our backlog: each time it
// has consumed 1 KiB it moves everything it holds unread to the front of its buffer, so a 64 KiB read
// fed whole costs up to 63 bytes moved per byte parsed (about a fifth of the receive path's CPU for
// 200-byte pmessages); fed in slices, at most a few.
#define FEED_SLICE 4096

static int
feed_slice (hra_resp_t *p) {
  size_t left = p->backlog.len - p->backlog_at;
  size_t n = left < FEED_SLICE ? left : FEED_SLICE;
  if (redisReaderFeed(p->reader, (const char *) p->backlog.data + p->backlog_at, n) != REDIS_OK) return HRA_ENOMEM;
  p->backlog_at += n;
  if (p->backlog_at == p->backlog.len) p->backlog.len = p->backlog_at = 0;
  return HRA_OK;
}

int
hra_resp_feed (hra_resp_t *p, const char *buf, size_t len) {
  if (p->reader == NULL) return HRA_ENOMEM;
  if (p->backlog.len == 0) {
    size_t n = len < FEED_SLICE ? len : FEED_SLICE;
    if (redisReaderFeed(p->reader, buf, n) != REDIS_OK) return HRA_ENOMEM;
    buf += n;
    len -= n;
  }
  return hra_buf_append(&p->backlog, buf, len);
}

int
hra_resp_next (hra_resp_t *p, hra_reply_t *out) {
  if (p->reader == NULL) return HRA_ENOMEM;
  void *obj = NULL;
  for (;;) {
    if (redisReaderGetReply(p->reader, &obj) != REDIS_OK) return p->too_big ? HRA_ELIMIT : p->oom ? HRA_ENOMEM
                                                                                                  : HRA_EINVAL;
    if (obj != NULL || p->backlog.len == 0) break;
    if (feed_slice(p) != HRA_OK) return HRA_ENOMEM;
  }
  if (obj == NULL) return 0;
  out->nodes = p->nodes;
  out->count = p->nnodes;
  out->data = p->strs.data;
  return 1;
}

void
hra_resp_consumed (hra_resp_t *p) {
  p->nnodes = 0;
  p->strs.len = 0;
}

size_t
hra_resp_buffered (const hra_resp_t *p) {
  const redisReader *r = p->reader;
  return (r != NULL ? r->len - r->pos : 0) + (p->backlog.len - p->backlog_at);
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

// Reading a Sentinel's answers (see sentinel_parse.h).
#include <string.h>

#include "sentinel_parse.h"

static int
host_char (uint8_t ch) {
  // Host names, IPv4 and IPv6 literals (with a zone): nothing that could end or escape a string.
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '%';
}

int
hra_sentinel_addr_set (hra_sentinel_addr_t *out, hra_slice_t host, hra_slice_t port_text, int64_t port_int) {
  if (host.len == 0 || host.len > HRA_SENTINEL_MAX_HOST) return HRA_EINVAL;
  for (size_t i = 0; i < host.len; i++) {
    if (!host_char(host.base[i])) return HRA_EINVAL;
  }
  int64_t port = port_int;
  if (port_text.base != NULL) {
    if (port_text.len == 0 || port_text.len > 5) return HRA_EINVAL;
    port = 0;
    for (size_t i = 0; i < port_text.len; i++) {
      if (port_text.base[i] < '0' || port_text.base[i] > '9') return HRA_EINVAL;
      port = port * 10 + (port_text.base[i] - '0');
    }
  }
  if (port <= 0 || port > 65535) return HRA_EINVAL;
  memcpy(out->host, host.base, host.len);
  out->host[host.len] = 0;
  out->port = (int) port;
  return HRA_OK;
}

static int
slice_is (hra_slice_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && (n == 0 || memcmp(s.base, lit, n) == 0);
}

// "-ERR No such master with that name" is how a Sentinel says it does not know the name.
static int
error_reply (const hra_reply_t *r) {
  hra_slice_t m = hra_reply_str(r, 0);
  static const char unknown[] = "No such master";
  for (size_t i = 0; i + sizeof(unknown) - 1 <= m.len; i++) {
    if (memcmp(m.base + i, unknown, sizeof(unknown) - 1) == 0) return HRA_SENTINEL_UNKNOWN;
  }
  return HRA_ETYPE;
}

int
hra_sentinel_parse_master (const hra_reply_t *r, hra_sentinel_addr_t *out) {
  if (hra_reply_is(r, 0, HRA_R_NIL)) return HRA_SENTINEL_UNKNOWN;
  if (hra_reply_is(r, 0, HRA_R_ERROR)) return error_reply(r);
  // A nil multi-bulk (*-1) is how older Sentinels say "unknown".
  if (hra_reply_is(r, 0, HRA_R_ARRAY) && r->nodes[0].len == 0) return HRA_SENTINEL_UNKNOWN;
  if (!hra_reply_is(r, 0, HRA_R_ARRAY) || r->nodes[0].len != 2 || !hra_reply_is(r, 1, HRA_R_STRING) || !hra_reply_is(r, 2, HRA_R_STRING)) return HRA_EINVAL;
  return hra_sentinel_addr_set(out, hra_reply_str(r, 1), hra_reply_str(r, 2), 0);
}

static int
has_flag (hra_slice_t flags, const char *flag) {
  size_t n = strlen(flag), i = 0;
  while (i < flags.len) {
    size_t j = i;
    while (j < flags.len && flags.base[j] != ',')
      j++;
    if (j - i == n && memcmp(flags.base + i, flag, n) == 0) return 1;
    i = j + 1;
  }
  return 0;
}

// One instance: an array of field-value pairs of strings. Returns the index after it, or 0 when its
// shape is wrong; *valid says whether its address could be read.
static size_t
read_instance (const hra_reply_t *r, size_t i, hra_sentinel_addr_t *addr, int *valid, int *usable) {
  if (!hra_reply_is(r, i, HRA_R_ARRAY) || r->nodes[i].len % 2 != 0) return 0;
  uint32_t n = r->nodes[i].len;
  size_t j = i + 1;
  hra_slice_t ip = { NULL, 0 }, port = { NULL, 0 };
  int have_ip = 0, have_port = 0;
  *usable = 1;
  for (uint32_t k = 0; k < n; k += 2, j += 2) {
    if (!hra_reply_is(r, j, HRA_R_STRING) || !hra_reply_is(r, j + 1, HRA_R_STRING)) return 0;
    hra_slice_t key = hra_reply_str(r, j), value = hra_reply_str(r, j + 1);
    if (slice_is(key, "ip")) {
      ip = value;
      have_ip = 1;
    } else if (slice_is(key, "port")) {
      port = value;
      have_port = 1;
    } else if (slice_is(key, "flags")) {
      if (has_flag(value, "s_down") || has_flag(value, "o_down") || has_flag(value, "disconnected")) *usable = 0;
    } else if (slice_is(key, "master-link-status")) {
      if (!slice_is(value, "ok")) *usable = 0;
    }
  }
  *valid = have_ip && have_port && hra_sentinel_addr_set(addr, ip, port, 0) == HRA_OK;
  return j;
}

int
hra_sentinel_walk (const hra_reply_t *r, size_t max, hra_sentinel_visit visit, void *ctx) {
  if (hra_reply_is(r, 0, HRA_R_ERROR)) return error_reply(r);
  if (!hra_reply_is(r, 0, HRA_R_ARRAY)) return HRA_EINVAL;
  uint32_t n = r->nodes[0].len;
  size_t i = 1;
  for (uint32_t k = 0; k < n && k < max; k++) {
    hra_sentinel_addr_t addr;
    int valid = 0, usable = 0;
    size_t next = read_instance(r, i, &addr, &valid, &usable);
    if (next == 0) return HRA_EINVAL;
    if (valid && visit != NULL) {
      int err = visit(ctx, &addr, usable);
      if (err != HRA_OK) return err;
    }
    i = next;
  }
  return HRA_OK;
}

// The next space-separated word of msg from *pos.
static hra_slice_t
word (hra_slice_t msg, size_t *pos) {
  size_t i = *pos;
  while (i < msg.len && msg.base[i] == ' ')
    i++;
  size_t start = i;
  while (i < msg.len && msg.base[i] != ' ')
    i++;
  *pos = i;
  hra_slice_t w = { msg.base + start, i - start };
  return w;
}

int
hra_sentinel_parse_switch (hra_slice_t msg, const char *name, hra_sentinel_addr_t *from, hra_sentinel_addr_t *to) {
  if (msg.base == NULL) return HRA_EINVAL;
  size_t pos = 0;
  hra_slice_t w[5];
  for (int k = 0; k < 5; k++) {
    w[k] = word(msg, &pos);
    if (w[k].len == 0) return HRA_EINVAL;
  }
  if (word(msg, &pos).len != 0) return HRA_EINVAL;
  if (!slice_is(w[0], name)) return HRA_SENTINEL_UNKNOWN;
  if (hra_sentinel_addr_set(from, w[1], w[2], 0) != HRA_OK || hra_sentinel_addr_set(to, w[3], w[4], 0) != HRA_OK) return HRA_EINVAL;
  return HRA_OK;
}

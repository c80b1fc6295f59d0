// What a Sentinel answers, read and validated before anything is used (pure: no connection; tested and
// fuzzed without Node): the master's address (SENTINEL get-master-addr-by-name), the instances it lists
// (SENTINEL replicas / sentinels: arrays of field-value pairs) and the text of a +switch-master event.
// Every host is checked (1 to 255 bytes of host-name or IP characters) and copied, every port checked.
#ifndef HRA_SENTINEL_PARSE_H
#define HRA_SENTINEL_PARSE_H

#include <stddef.h>

#include "common.h"
#include "resp.h"

#define HRA_SENTINEL_MAX_HOST 255
#define HRA_SENTINEL_UNKNOWN 1  // the Sentinel knows no master of that name

typedef struct {
  char host[HRA_SENTINEL_MAX_HOST + 1];
  int port;
} hra_sentinel_addr_t;

// Reads a host (not NUL-terminated) and a port given as text or as an integer: HRA_OK, or HRA_EINVAL.
int
hra_sentinel_addr_set (hra_sentinel_addr_t *out, hra_slice_t host, hra_slice_t port_text, int64_t port_int);

// SENTINEL get-master-addr-by-name: HRA_OK with *out, HRA_SENTINEL_UNKNOWN (nil), HRA_ETYPE (an error
// reply: the caller reads it) or HRA_EINVAL (anything else).
int
hra_sentinel_parse_master (const hra_reply_t *r, hra_sentinel_addr_t *out);

// One instance of a SENTINEL replicas / sentinels answer. usable: none of the flags s_down, o_down,
// disconnected, and a master-link-status of "ok" when there is one (replicas). Returns HRA_OK to go on.
typedef int (*hra_sentinel_visit)(void *ctx, const hra_sentinel_addr_t *addr, int usable);

// Walks the first max instances (the rest are ignored); an entry without a valid ip and port is skipped.
// HRA_OK, HRA_SENTINEL_UNKNOWN ("No such master"), HRA_ETYPE (another error reply), HRA_EINVAL (not an
// array of arrays of field-value pairs), or what visit returned when it stopped the walk.
int
hra_sentinel_walk (const hra_reply_t *r, size_t max, hra_sentinel_visit visit, void *ctx);

// The message of a +switch-master event: "<name> <old-ip> <old-port> <new-ip> <new-port>". HRA_OK with
// *from and *to when it is about master name; HRA_SENTINEL_UNKNOWN when about another; HRA_EINVAL.
int
hra_sentinel_parse_switch (hra_slice_t msg, const char *name, hra_sentinel_addr_t *from, hra_sentinel_addr_t *to);

#endif  // HRA_SENTINEL_PARSE_H

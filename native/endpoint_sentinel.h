// The Sentinel endpoint provider: a connection goes where a Redis Sentinel says the master (or a replica)
// of a name is now. It talks to the Sentinels over connections of its own (conn.c): one asks (SENTINEL
// get-master-addr-by-name, SENTINEL replicas, and SENTINEL sentinels to learn the others), a few others
// watch +switch-master; each goes to the known Sentinels in turn, so one that is down is skipped. Its
// owner (the data connection) hears the answers and the switches through endpoint.h's callbacks only.
#ifndef HRA_ENDPOINT_SENTINEL_H
#define HRA_ENDPOINT_SENTINEL_H

#include <uv.h>

#include "conn.h"
#include "endpoint.h"

#define HRA_SENTINEL_MAX 32  // Sentinels known, given and learned
#define HRA_SENTINEL_WATCHERS 3  // connections subscribed to +switch-master (on different Sentinels)

typedef struct {
  const char *host;
  int port;
} hra_sentinel_node_t;

typedef struct {
  const char *name;  // the master's name in the Sentinels' configuration
  int replica;  // 0: the master; 1: a replica Sentinel reports healthy (the master when it reports none)
  const hra_sentinel_node_t *sentinels;  // 1 to HRA_SENTINEL_MAX
  size_t count;
  // The Sentinel connections' settings: username and password are the Sentinels' (sentinelUsername,
  // sentinelPassword), the timeouts, backoff, health check and maxReplyMB the data connection's. host,
  // port, path, db, name and endpoint are ignored. tls: the Sentinels' TLS settings (NULL: plain TCP), of
  // which the provider takes a reference; SNI and verification name each Sentinel by its host.
  hra_conn_opts_t conn;
} hra_sentinel_opts_t;

// Copies every string. NULL on ENOMEM or bad options. Nothing is opened before the first ask, so a
// provider never asked is freed at once.
hra_endpoint_provider_t *
hra_endpoint_sentinel_new (uv_loop_t *loop, const hra_sentinel_opts_t *opts);

#endif  // HRA_ENDPOINT_SENTINEL_H

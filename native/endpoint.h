// Where a connection connects: an endpoint provider, asked on every connect attempt (the first one and
// every reconnect). Today the only provider is a fixed address from the options (a host and port, or a
// unix socket path); a Sentinel provider will answer with the current master instead. A provider
// knows nothing of sockets or of the connection that asks it.
#ifndef HRA_ENDPOINT_H
#define HRA_ENDPOINT_H

#include "common.h"

// One answer. Its strings belong to the provider and stay valid until the provider is asked again or
// freed.
typedef struct {
  const char *host;  // a host name or an IP literal (NULL when path is set)
  int port;
  const char *path;  // a unix socket path (NULL for TCP)
} hra_endpoint_t;

typedef struct hra_endpoint_provider_s hra_endpoint_provider_t;

typedef struct {
  // Fills *out with where the next attempt goes: HRA_OK, or a HRA_E* code (no endpoint known now: the
  // connection reports it and retries after its backoff).
  int (*next)(hra_endpoint_provider_t *p, hra_endpoint_t *out);
  void (*free)(hra_endpoint_provider_t *p);
} hra_endpoint_vt_t;

struct hra_endpoint_provider_s {
  const hra_endpoint_vt_t *vt;
};

// A provider that always answers the same address: path set means a unix socket, else host (NULL:
// 127.0.0.1) and port (<= 0: 6379). Copies the strings. NULL on ENOMEM.
hra_endpoint_provider_t *
hra_endpoint_fixed_new (const char *host, int port, const char *path);

static inline int
hra_endpoint_next (hra_endpoint_provider_t *p, hra_endpoint_t *out) {
  return p->vt->next(p, out);
}

static inline void
hra_endpoint_free (hra_endpoint_provider_t *p) {
  if (p != NULL) p->vt->free(p);
}

#endif  // HRA_ENDPOINT_H

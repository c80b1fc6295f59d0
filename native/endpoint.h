// Where a connection connects: an endpoint provider, asked on every connect attempt (the first one and
// every reconnect). The fixed provider (endpoint.c) answers the address of the options (a host and
// port, or a unix socket path) at once; the Sentinel provider (endpoint_sentinel.c) asks a Sentinel
// and answers later. A provider knows nothing of sockets or of the connection that asks it: it
// answers, and reports changes, through the callbacks its owner set (owner_cbs), never by a call.
#ifndef HRA_ENDPOINT_H
#define HRA_ENDPOINT_H

#include "common.h"

// One answer. Its strings belong to the provider and stay valid until the provider is asked again or
// freed.
typedef struct {
  const char *host;  // a host name or an IP literal (NULL when path is set)
  int port;
  const char *path;  // a unix socket path (NULL for TCP)
  // What the node must answer to ROLE before the connection is used ("master" or "slave"), when the
  // provider sets checks_role; NULL: whatever it is.
  const char *role;
} hra_endpoint_t;

// An answer kept past the provider's next one: its strings copied into memory of its own.
typedef struct {
  hra_endpoint_t ep;
  char *mem;
} hra_endpoint_copy_t;

// Copies src into k, freeing what k held: HRA_OK, or HRA_ENOMEM (k unchanged).
int
hra_endpoint_keep (hra_endpoint_copy_t *k, const hra_endpoint_t *src);

void
hra_endpoint_forget (hra_endpoint_copy_t *k);

// 1 when a and b name the same node: the same unix socket path, or the same host and port.
int
hra_endpoint_same (const hra_endpoint_t *a, const hra_endpoint_t *b);

typedef struct hra_endpoint_provider_s hra_endpoint_provider_t;

// The owner's side, set once before the first ask. Every callback runs on the loop thread.
typedef struct {
  // The answer to ask(): status HRA_OK and *ep, or an error (code and message say why: the owner reports
  // it and asks again after its backoff). May come before ask() returns; never after close().
  void (*on_answer)(hra_endpoint_provider_t *p, int status, const hra_endpoint_t *ep, const char *code, const char *message);
  // Where to go has changed (a failover): the owner leaves the node it is on, or stops waiting to retry,
  // and asks again. message says what happened.
  void (*on_change)(hra_endpoint_provider_t *p, const char *message);
  // The close close() returned 1 for is complete.
  void (*on_closed)(hra_endpoint_provider_t *p);
} hra_endpoint_owner_cbs_t;

typedef struct {
  // Starts finding where the next attempt goes; on_answer follows once. Asking again before the answer
  // replaces the question (one answer follows).
  void (*ask)(hra_endpoint_provider_t *p);
  // Stops everything (no callback but on_closed follows). Returns 1 when on_closed follows, 0 when there
  // was nothing to wait for.
  int (*close)(hra_endpoint_provider_t *p);
  // Whether the provider's own handles (if any) keep the loop alive.
  void (*ref)(hra_endpoint_provider_t *p, int on);
  // Frees a provider that was never asked, or whose close is complete.
  void (*free)(hra_endpoint_provider_t *p);
} hra_endpoint_vt_t;

struct hra_endpoint_provider_s {
  const hra_endpoint_vt_t *vt;
  const hra_endpoint_owner_cbs_t *owner_cbs;
  void *owner;
  int checks_role;  // answers carry a role the owner checks (ROLE) before using the node
};

// A provider that always answers the same address: path set means a unix socket, else host (NULL:
// 127.0.0.1) and port (<= 0: 6379). Copies the strings. NULL on ENOMEM.
hra_endpoint_provider_t *
hra_endpoint_fixed_new (const char *host, int port, const char *path);

static inline void
hra_endpoint_ask (hra_endpoint_provider_t *p) {
  p->vt->ask(p);
}

static inline int
hra_endpoint_close (hra_endpoint_provider_t *p) {
  return p->vt->close(p);
}

static inline void
hra_endpoint_ref (hra_endpoint_provider_t *p, int on) {
  p->vt->ref(p, on);
}

static inline void
hra_endpoint_free (hra_endpoint_provider_t *p) {
  if (p != NULL) p->vt->free(p);
}

#endif  // HRA_ENDPOINT_H

// The fixed endpoint provider: the address given in the options, on every attempt.
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

typedef struct {
  hra_endpoint_provider_t base;
  char *host;
  char *path;
  int port;
} fixed_t;

static void
fixed_ask (hra_endpoint_provider_t *p) {
  fixed_t *f = (fixed_t *) p;
  hra_endpoint_t ep = { f->path != NULL ? NULL : f->host, f->port, f->path, NULL };
  p->owner_cbs->on_answer(p, HRA_OK, &ep, NULL, NULL);
}

static int
fixed_close (hra_endpoint_provider_t *p) {
  return 0;
}

static void
fixed_ref (hra_endpoint_provider_t *p, int on) {
}

static void
fixed_free (hra_endpoint_provider_t *p) {
  fixed_t *f = (fixed_t *) p;
  free(f->host);
  free(f->path);
  free(f);
}

static const hra_endpoint_vt_t fixed_vt = { fixed_ask, fixed_close, fixed_ref, fixed_free };

static char *
dup_str (const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d != NULL) memcpy(d, s, n + 1);
  return d;
}

static size_t
len_or_0 (const char *s) {
  return s != NULL ? strlen(s) + 1 : 0;
}

static const char *
put (char **at, const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  memcpy(*at, s, n);
  *at += n;
  return *at - n;
}

int
hra_endpoint_keep (hra_endpoint_copy_t *k, const hra_endpoint_t *src) {
  char *mem = malloc(len_or_0(src->host) + len_or_0(src->path) + len_or_0(src->role) + 1);
  if (mem == NULL) return HRA_ENOMEM;
  free(k->mem);
  k->mem = mem;
  k->ep.port = src->port;
  k->ep.host = put(&mem, src->host);
  k->ep.path = put(&mem, src->path);
  k->ep.role = put(&mem, src->role);
  return HRA_OK;
}

void
hra_endpoint_forget (hra_endpoint_copy_t *k) {
  free(k->mem);
  memset(k, 0, sizeof(*k));
}

static int
same_str (const char *a, const char *b) {
  return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

int
hra_endpoint_same (const hra_endpoint_t *a, const hra_endpoint_t *b) {
  if (a->path != NULL || b->path != NULL) return same_str(a->path, b->path);
  return a->port == b->port && same_str(a->host, b->host);
}

hra_endpoint_provider_t *
hra_endpoint_fixed_new (const char *host, int port, const char *path) {
  fixed_t *f = calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  f->base.vt = &fixed_vt;
  f->port = port > 0 ? port : 6379;
  f->host = dup_str(host != NULL ? host : "127.0.0.1");
  f->path = path != NULL ? dup_str(path) : NULL;
  if (f->host == NULL || (path != NULL && f->path == NULL)) {
    fixed_free(&f->base);
    return NULL;
  }
  return &f->base;
}

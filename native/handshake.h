// The connection handshake as data: the commands a connection sends on every new connection before it
// counts as ready (built once from the options), and the verdict on each one's reply; also the one reply
// that later means the node is no longer what the handshake found (READONLY from a demoted master).
// Pure: no libuv, no connection (conn.c sends the steps and acts on the verdicts), tested without Node.
#ifndef HRA_HANDSHAKE_H
#define HRA_HANDSHAKE_H

#include <stddef.h>

#include "endpoint.h"
#include "resp.h"

#define HRA_HANDSHAKE_MAX 5  // AUTH, SELECT, CLIENT SETNAME, ROLE, PING

enum {
  HRA_STEP_STRICT = 1,  // an error reply fails the handshake (AUTH, SELECT)
  HRA_STEP_COURTESY,  // an error reply is ignored (CLIENT SETNAME: an ACL user may not be allowed it)
  HRA_STEP_PING,  // any answer proves Redis is there; only NOAUTH (a password missing) fails
  HRA_STEP_ROLE  // the node must have the role the endpoint provider said it has
};

typedef struct {
  int kind;
  int argc;
  const char *argv[3];
  size_t lens[3];
} hra_handshake_step_t;

typedef struct {
  hra_handshake_step_t steps[HRA_HANDSHAKE_MAX];
  int count;
  char db[16];
} hra_handshake_t;

// Builds the steps, in order: AUTH when password is set (with username when set), SELECT for db > 0,
// CLIENT SETNAME when name is set, ROLE when check_role, then PING, always (ready means Redis answered).
// The strings are borrowed: they must outlive hs (the connection owns them).
void
hra_handshake_build (hra_handshake_t *hs, const char *username, const char *password, int db, const char *name, int check_role);

// The step of that kind (HRA_STEP_*), or NULL when there is none.
hra_handshake_step_t *
hra_handshake_step (hra_handshake_t *hs, int kind);

// The verdict on the reply to step st, for the node at ep: HRA_OK, or HRA_EINVAL with a short upper-case
// code (Redis's own, or EROLE) and a message written to code and text.
int
hra_handshake_judge (const hra_handshake_step_t *st, const hra_reply_t *reply, const hra_endpoint_t *ep, char *code, size_t code_cap, char *text, size_t text_cap);

// 1 when reply is a READONLY error from a node ep says is the master: it was demoted (a failover), and
// the connection must go and find the new one.
int
hra_handshake_demoted (const hra_reply_t *reply, const hra_endpoint_t *ep);

#endif  // HRA_HANDSHAKE_H

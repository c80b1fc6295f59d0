// The handshake's steps and the verdict on their replies (see handshake.h).
#include <stdio.h>
#include <string.h>

#include "handshake.h"

static void
add_step (hra_handshake_t *hs, int kind, int argc, const char *a0, const char *a1, const char *a2) {
  hra_handshake_step_t *st = &hs->steps[hs->count++];
  const char *args[3] = { a0, a1, a2 };
  st->kind = kind;
  st->argc = argc;
  for (int i = 0; i < argc; i++) {
    st->argv[i] = args[i];
    st->lens[i] = strlen(args[i]);
  }
}

void
hra_handshake_build (hra_handshake_t *hs, const char *username, const char *password, int db, const char *name, int check_role) {
  hs->count = 0;
  if (password != NULL) {
    if (username != NULL)
      add_step(hs, HRA_STEP_STRICT, 3, "AUTH", username, password);
    else
      add_step(hs, HRA_STEP_STRICT, 2, "AUTH", password, NULL);
  }
  if (db > 0) {
    snprintf(hs->db, sizeof(hs->db), "%d", db);
    add_step(hs, HRA_STEP_STRICT, 2, "SELECT", hs->db, NULL);
  }
  if (name != NULL) add_step(hs, HRA_STEP_COURTESY, 3, "CLIENT", "SETNAME", name);
  if (check_role) add_step(hs, HRA_STEP_ROLE, 1, "ROLE", NULL, NULL);
  // The last step, always: ready means Redis answered. A TCP accept alone proves nothing (a proxy
  // whose Redis is gone, a frozen server); the connect timer, still running, bounds the wait.
  add_step(hs, HRA_STEP_PING, 1, "PING", NULL, NULL);
}

hra_handshake_step_t *
hra_handshake_step (hra_handshake_t *hs, int kind) {
  for (int i = 0; i < hs->count; i++) {
    if (hs->steps[i].kind == kind) return &hs->steps[i];
  }
  return NULL;
}

static int
refused (hra_slice_t msg, char *code, size_t code_cap, char *text, size_t text_cap) {
  size_t i = 0;
  while (i < msg.len && i + 1 < code_cap && msg.base[i] != ' ') {
    code[i] = (char) msg.base[i];
    i++;
  }
  code[i] = 0;
  if (i == 0) snprintf(code, code_cap, "ERR");
  snprintf(text, text_cap, "Redis refused the connection handshake: %.*s", (int) (msg.len > 200 ? 200 : msg.len), (const char *) msg.base);
  return HRA_EINVAL;
}

static int
slice_is (hra_slice_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && (n == 0 || memcmp(s.base, lit, n) == 0);
}

int
hra_handshake_judge (const hra_handshake_step_t *st, const hra_reply_t *reply, const hra_endpoint_t *ep, char *code, size_t code_cap, char *text, size_t text_cap) {
  int error = hra_reply_is(reply, 0, HRA_R_ERROR);
  hra_slice_t msg = hra_reply_str(reply, 0);
  char word[32];
  if (error) hra_redis_error_code(msg, word, sizeof(word));
  switch (st->kind) {
    case HRA_STEP_COURTESY:
      return HRA_OK;
    case HRA_STEP_PING:
      return error && strcmp(word, "NOAUTH") == 0 ? refused(msg, code, code_cap, text, text_cap) : HRA_OK;
    case HRA_STEP_ROLE: {
      // An ACL user without ROLE (it is in @admin) cannot check: the provider's word stands, and a write
      // refused with READONLY still sends the connection away from a demoted master.
      if (error) return strcmp(word, "NOPERM") == 0 ? HRA_OK : refused(msg, code, code_cap, text, text_cap);
      if (ep == NULL || ep->role == NULL) return HRA_OK;
      hra_slice_t role = { NULL, 0 };
      if (hra_reply_is(reply, 0, HRA_R_ARRAY) && reply->nodes[0].len >= 1 && hra_reply_is(reply, 1, HRA_R_STRING)) role = hra_reply_str(reply, 1);
      if (slice_is(role, ep->role)) return HRA_OK;
      snprintf(code, code_cap, "EROLE");
      snprintf(text, text_cap, "%s:%d answers ROLE \"%.*s\", not \"%s\" as Sentinel said: asking Sentinel again", ep->host != NULL ? ep->host : "?", ep->port,
        (int) (role.len > 32 ? 32 : role.len), role.len ? (const char *) role.base : "", ep->role);
      return HRA_EINVAL;
    }
    default:
      return error ? refused(msg, code, code_cap, text, text_cap) : HRA_OK;
  }
}

int
hra_handshake_demoted (const hra_reply_t *reply, const hra_endpoint_t *ep) {
  if (ep == NULL || ep->role == NULL || strcmp(ep->role, "master") != 0 || !hra_reply_is(reply, 0, HRA_R_ERROR)) return 0;
  hra_slice_t msg = hra_reply_str(reply, 0);
  return msg.len >= 8 && memcmp(msg.base, "READONLY", 8) == 0;
}

// The Sentinel endpoint provider (see endpoint_sentinel.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_sentinel.h"
#include "sentinel_parse.h"
#include "tls.h"

#define MAX_REPLICAS 256  // instances read from one SENTINEL replicas answer
#define HINT_MS 5000  // for this long, a +switch-master's new master is taken without asking again

typedef struct sentinel_s sentinel_t;

// The endpoint provider of the provider's own connections: the known Sentinels in turn, so a connection
// that fails goes to the next one.
typedef struct {
  hra_endpoint_provider_t base;
  sentinel_t *s;
  size_t next;
  size_t current;
} rotor_t;

struct sentinel_s {
  hra_endpoint_provider_t base;  // what the data connection asks
  uv_loop_t *loop;
  char *name;
  int replica;
  hra_conn_opts_t copts;  // the Sentinel connections' settings (username, password and a tls reference owned here)
  hra_sentinel_addr_t known[HRA_SENTINEL_MAX];  // given, then learned; never removed, so their hosts stay put
  size_t nknown;
  hra_conn_t *query;  // asks the questions
  rotor_t *query_rotor;  // owned by query
  hra_conn_t *watch[HRA_SENTINEL_WATCHERS];  // subscribed to +switch-master
  size_t nwatch;
  uv_timer_t deadline;  // bounds a question
  int started;
  int closing;
  int pending;  // closes still to come
  int refed;
  uint64_t rng;
  // The question in progress.
  int asking;
  int inflight;  // a question's SENTINEL command awaits its reply
  unsigned tried;  // Sentinels that failed it (down, refused us, knew no usable answer)
  unsigned unknown;  // of those, the ones that knew no master of that name
  char why[256];
  int verify;  // check the master once the query connection is ready (a watcher may have missed a switch)
  // The last answer (the node the owner is on), and the new master of a +switch-master, taken at the
  // next question without asking (the asked Sentinel may learn of the switch up to a second later).
  hra_sentinel_addr_t answer;
  int answered;
  hra_sentinel_addr_t hint;
  uint64_t hint_ms;  // when the hint came; 0: none
};

static const hra_conn_cbs_t conn_cbs;

static int
same (const hra_sentinel_addr_t *a, const hra_sentinel_addr_t *b) {
  return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static uint32_t
next_random (sentinel_t *s) {
  // xorshift64*: spreads a fleet over the replicas, no security role.
  s->rng ^= s->rng >> 12;
  s->rng ^= s->rng << 25;
  s->rng ^= s->rng >> 27;
  return (uint32_t) ((s->rng * 2685821657736338717ULL) >> 32);
}

// ---------------------------------------------------------------------------------------------------
// The rotor: the Sentinels in turn

static void
rotor_ask (hra_endpoint_provider_t *p) {
  rotor_t *r = (rotor_t *) p;
  sentinel_t *s = r->s;
  r->current = r->next % s->nknown;
  r->next = r->current + 1;
  hra_endpoint_t ep = { s->known[r->current].host, s->known[r->current].port, NULL, NULL };
  p->owner_cbs->on_answer(p, HRA_OK, &ep, NULL, NULL);
}

static int
rotor_close (hra_endpoint_provider_t *p) {
  return 0;
}

static void
rotor_ref (hra_endpoint_provider_t *p, int on) {
}

static void
rotor_free (hra_endpoint_provider_t *p) {
  free(p);
}

static const hra_endpoint_vt_t rotor_vt = { rotor_ask, rotor_close, rotor_ref, rotor_free };

// A connection to the Sentinels, starting with the one at offset. NULL on ENOMEM.
static hra_conn_t *
new_conn (sentinel_t *s, size_t offset, rotor_t **rotor) {
  rotor_t *r = calloc(1, sizeof(*r));
  if (r == NULL) return NULL;
  r->base.vt = &rotor_vt;
  r->s = s;
  r->next = offset;
  hra_conn_opts_t o = s->copts;
  o.endpoint = &r->base;  // taken by hra_conn_new, also when it fails
  hra_conn_t *c = hra_conn_new(s->loop, &o, &conn_cbs, s);
  if (c == NULL) return NULL;
  if (!s->refed) hra_conn_unref(c);
  if (rotor != NULL) *rotor = r;
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Answering the owner

static void
answer_ok (sentinel_t *s, const hra_sentinel_addr_t *addr, const char *role) {
  s->asking = 0;
  uv_timer_stop(&s->deadline);
  if (addr != &s->answer) s->answer = *addr;
  s->answered = 1;
  hra_endpoint_t ep = { s->answer.host, s->answer.port, NULL, role };
  s->base.owner_cbs->on_answer(&s->base, HRA_OK, &ep, NULL, NULL);
}

static void
answer_error (sentinel_t *s, const char *code, const char *text) {
  s->asking = 0;
  uv_timer_stop(&s->deadline);
  s->base.owner_cbs->on_answer(&s->base, HRA_EINVAL, NULL, code, text);
}

static const char *
wanted (const sentinel_t *s) {
  return s->replica ? "a replica" : "the master";
}

// Every known Sentinel failed the question: say why.
static void
give_up (sentinel_t *s) {
  char text[512];
  if (s->unknown > 0 && s->unknown == s->tried) {
    snprintf(text, sizeof(text), "no Sentinel knows a master named \"%s\" (%u asked)", s->name, s->tried);
    answer_error(s, "EUNKNOWNMASTER", text);
    return;
  }
  snprintf(text, sizeof(text), "no Sentinel could say where %s of \"%s\" is (%u of %zu tried; last: %s)", wanted(s), s->name, s->tried, s->nknown, s->why);
  answer_error(s, "ESENTINEL", text);
}

// One Sentinel failed the question: the next one is tried, until each has been.
static void
failed_one (sentinel_t *s, int unknown, const char *why) {
  if (!s->asking) return;
  s->tried++;
  if (unknown) s->unknown++;
  const hra_sentinel_addr_t *at = &s->known[s->query_rotor->current];
  // Bounded parts: the message always fits, the host and the reason cut short if they must be.
  snprintf(s->why, sizeof(s->why), "Sentinel %.100s:%d: %.120s", at->host, at->port, why);
  if (s->tried >= s->nknown) {
    give_up(s);
    return;
  }
  // The Sentinel answered, but nothing usable: leave it for the next one (a lost one is left already).
  if (hra_conn_state(s->query) == HRA_CONN_READY) s->query_rotor->base.owner_cbs->on_change(&s->query_rotor->base, "asking the next Sentinel");
}

// Where to go changed: the owner leaves its node, or retries now.
static void
poke (sentinel_t *s, const char *text) {
  s->base.owner_cbs->on_change(&s->base, text);
}

// ---------------------------------------------------------------------------------------------------
// Questions

static int
sentinel_command (sentinel_t *s, const char *sub, hra_reply_cb cb) {
  const char *argv[3] = { "SENTINEL", sub, s->name };
  size_t lens[3] = { 8, strlen(sub), strlen(s->name) };
  return hra_conn_command(s->query, 3, argv, lens, cb, s);
}

static void
on_master_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data);
static void
on_replicas_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data);

static void
send_question (sentinel_t *s) {
  if (!s->asking || s->inflight || s->closing || hra_conn_state(s->query) != HRA_CONN_READY) return;
  // Not sent now (the connection is at its output bound): sent at the next ready, or the deadline answers.
  if (sentinel_command(s, s->replica ? "replicas" : "get-master-addr-by-name", s->replica ? on_replicas_reply : on_master_reply) == HRA_OK) s->inflight = 1;
}

static void
reply_failed (sentinel_t *s, const hra_reply_t *reply, int r) {
  char why[160];
  hra_slice_t m = hra_reply_str(reply, 0);
  if (r == HRA_ETYPE)
    snprintf(why, sizeof(why), "%.*s", (int) (m.len > 120 ? 120 : m.len), m.len ? (const char *) m.base : "");
  else
    snprintf(why, sizeof(why), r == HRA_SENTINEL_UNKNOWN ? "knows no master named \"%.40s\"" : "answered something that is not an address (%.40s)", s->name);
  failed_one(s, r == HRA_SENTINEL_UNKNOWN, why);
}

static void
on_master_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  sentinel_t *s = data;
  s->inflight = 0;
  // A lost connection is counted by its error event; the question goes out again at the next ready.
  if (s->closing || reply == NULL || !s->asking) return;
  hra_sentinel_addr_t a;
  int r = hra_sentinel_parse_master(reply, &a);
  if (r == HRA_OK) {
    answer_ok(s, &a, "master");
    return;
  }
  reply_failed(s, reply, r);
}

typedef struct {
  sentinel_t *s;
  hra_sentinel_addr_t pick;
  unsigned usable;
} pick_t;

// Reservoir sampling: each usable replica is picked with the same chance, in one pass, without a list.
static int
visit_replica (void *ctx, const hra_sentinel_addr_t *addr, int usable) {
  pick_t *p = ctx;
  if (!usable) return HRA_OK;
  p->usable++;
  if (next_random(p->s) % p->usable == 0) p->pick = *addr;
  return HRA_OK;
}

static void
on_replicas_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  sentinel_t *s = data;
  s->inflight = 0;
  if (s->closing || reply == NULL || !s->asking) return;
  pick_t p;
  memset(&p, 0, sizeof(p));
  p.s = s;
  int r = hra_sentinel_walk(reply, MAX_REPLICAS, visit_replica, &p);
  if (r != HRA_OK) {
    reply_failed(s, reply, r);
    return;
  }
  if (p.usable > 0) {
    answer_ok(s, &p.pick, "slave");
    return;
  }
  // No healthy replica: the master serves (reading from it is what a replica would have given).
  if (sentinel_command(s, "get-master-addr-by-name", on_master_reply) == HRA_OK) s->inflight = 1;
}

static int
learn_one (void *ctx, const hra_sentinel_addr_t *addr, int usable) {
  sentinel_t *s = ctx;
  for (size_t i = 0; i < s->nknown; i++) {
    if (same(&s->known[i], addr)) return HRA_OK;
  }
  if (s->nknown < HRA_SENTINEL_MAX) s->known[s->nknown++] = *addr;
  return HRA_OK;
}

static void
ensure_watchers (sentinel_t *s);

// SENTINEL sentinels: the other Sentinels of the name, so that losing every given one is survivable.
static void
on_sentinels_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  sentinel_t *s = data;
  if (s->closing || reply == NULL) return;
  if (hra_sentinel_walk(reply, HRA_SENTINEL_MAX, learn_one, s) == HRA_OK) ensure_watchers(s);
}

// The master as a Sentinel sees it now, against the one the owner is on.
static void
on_verify_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  sentinel_t *s = data;
  if (s->closing || reply == NULL) return;
  hra_sentinel_addr_t a;
  if (hra_sentinel_parse_master(reply, &a) != HRA_OK || !s->answered || same(&a, &s->answer)) return;
  s->hint = a;
  s->hint_ms = uv_now(s->loop);
  char text[400];
  snprintf(text, sizeof(text), "Sentinel names %s:%d the master of \"%.40s\" now", a.host, a.port, s->name);
  poke(s, text);
}

static void
verify (sentinel_t *s) {
  s->verify = 1;
  if (s->replica || !s->answered || hra_conn_state(s->query) != HRA_CONN_READY) return;
  if (sentinel_command(s, "get-master-addr-by-name", on_verify_reply) == HRA_OK) s->verify = 0;
}

// ---------------------------------------------------------------------------------------------------
// The Sentinel connections' events

static void
on_conn_event (hra_conn_t *conn, int event, const char *code, const char *message, int64_t value) {
  sentinel_t *s = hra_conn_data(conn);
  if (s->closing) return;
  if (conn == s->query) {
    if (event == HRA_EV_READY) {
      send_question(s);  // first: its answer must not wait behind a long list of Sentinels
      sentinel_command(s, "sentinels", on_sentinels_reply);
      if (s->verify) verify(s);
    } else if (event == HRA_EV_ERROR) {
      char why[200];
      snprintf(why, sizeof(why), "%s: %s", code != NULL ? code : "ERR", message != NULL ? message : "error");
      failed_one(s, 0, why);
    }
    return;
  }
  // A watcher (re)subscribed: a switch may have happened while it was away.
  if (event == HRA_EV_READY) verify(s);
}

static void
on_conn_message (hra_conn_t *conn, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload) {
  sentinel_t *s = hra_conn_data(conn);
  static const char ev[] = "+switch-master";
  if (s->closing || kind != 'm' || channel.len != sizeof(ev) - 1 || memcmp(channel.base, ev, sizeof(ev) - 1) != 0) return;
  hra_sentinel_addr_t from, to;
  if (hra_sentinel_parse_switch(payload, s->name, &from, &to) != HRA_OK) return;
  s->hint = to;
  s->hint_ms = uv_now(s->loop);
  // Every watcher reports the switch: only the first one that concerns the owner's node moves it.
  int moved = s->replica ? same(&s->answer, &from) || same(&s->answer, &to) : !same(&s->answer, &to);
  if (s->answered && !moved) return;
  char text[600];
  snprintf(text, sizeof(text), "Sentinel switched the master of \"%.40s\" from %s:%d to %s:%d", s->name, from.host, from.port, to.host, to.port);
  poke(s, text);
}

static void
on_conn_flush (hra_conn_t *conn) {
}

static void
on_conn_closed (hra_conn_t *conn) {
  sentinel_t *s = hra_conn_data(conn);
  if (--s->pending == 0) s->base.owner_cbs->on_closed(&s->base);
}

static const hra_conn_cbs_t conn_cbs = { on_conn_event, on_conn_message, on_conn_flush, on_conn_closed, NULL };

static void
ensure_watchers (sentinel_t *s) {
  while (s->nwatch < HRA_SENTINEL_WATCHERS && s->nwatch < s->nknown) {
    // Each watcher starts at a different Sentinel, so a switch is heard from the first to announce it.
    hra_conn_t *w = new_conn(s, s->nwatch, NULL);
    if (w == NULL) return;  // out of memory: fewer watchers
    s->watch[s->nwatch++] = w;
    hra_conn_subscribe(w, 'c', "+switch-master", 14);
    hra_conn_start(w);
  }
}

// ---------------------------------------------------------------------------------------------------
// The provider

static void
on_deadline (uv_timer_t *t) {
  sentinel_t *s = t->data;
  if (!s->asking) return;
  char text[512];
  snprintf(text, sizeof(text), "no Sentinel said where %s of \"%s\" is within %u ms (%u of %zu failed%s%s)", wanted(s), s->name, s->copts.connect_timeout_ms, s->tried, s->nknown,
    s->why[0] ? "; last: " : "", s->why);
  answer_error(s, "ESENTINEL", text);
}

static int
start (sentinel_t *s) {
  uv_timer_init(s->loop, &s->deadline);
  s->deadline.data = s;
  if (!s->refed) uv_unref((uv_handle_t *) &s->deadline);
  s->started = 1;
  s->query = new_conn(s, 0, &s->query_rotor);
  if (s->query == NULL) return HRA_ENOMEM;
  hra_conn_start(s->query);
  ensure_watchers(s);
  return HRA_OK;
}

static void
sentinel_ask (hra_endpoint_provider_t *p) {
  sentinel_t *s = (sentinel_t *) p;
  if (s->closing) return;
  s->asking = 1;
  s->tried = 0;
  s->unknown = 0;
  s->why[0] = 0;
  if (!s->started && start(s) != HRA_OK) {
    answer_error(s, "ENOMEM", "out of memory while starting the Sentinel connections");
    return;
  }
  if (s->query == NULL) {
    answer_error(s, "ENOMEM", "out of memory while starting the Sentinel connections");
    return;
  }
  if (!s->replica && s->hint_ms != 0 && uv_now(s->loop) - s->hint_ms < HINT_MS) {
    // Once: if the node is not the master after all, its ROLE says so and the next question is asked.
    hra_sentinel_addr_t h = s->hint;
    s->hint_ms = 0;
    answer_ok(s, &h, "master");
    return;
  }
  uv_timer_start(&s->deadline, on_deadline, s->copts.connect_timeout_ms, 0);
  send_question(s);
}

static void
on_deadline_closed (uv_handle_t *h) {
  sentinel_t *s = h->data;
  if (--s->pending == 0) s->base.owner_cbs->on_closed(&s->base);
}

static int
sentinel_close (hra_endpoint_provider_t *p) {
  sentinel_t *s = (sentinel_t *) p;
  if (s->closing) return 0;
  s->closing = 1;
  s->asking = 0;
  if (!s->started) return 0;
  uv_timer_stop(&s->deadline);
  // Counted in full before any close starts: no close completes before its conn's handles are closed.
  s->pending = 1 + (s->query != NULL) + (int) s->nwatch;
  uv_close((uv_handle_t *) &s->deadline, on_deadline_closed);
  if (s->query != NULL) hra_conn_close(s->query);
  for (size_t i = 0; i < s->nwatch; i++)
    hra_conn_close(s->watch[i]);
  return 1;
}

static void
sentinel_ref (hra_endpoint_provider_t *p, int on) {
  sentinel_t *s = (sentinel_t *) p;
  s->refed = on;
  if (!s->started || s->closing) return;
  if (on)
    uv_ref((uv_handle_t *) &s->deadline);
  else
    uv_unref((uv_handle_t *) &s->deadline);
  if (s->query != NULL) (on ? hra_conn_ref : hra_conn_unref)(s->query);
  for (size_t i = 0; i < s->nwatch; i++)
    (on ? hra_conn_ref : hra_conn_unref)(s->watch[i]);
}

static void
sentinel_free (hra_endpoint_provider_t *p) {
  sentinel_t *s = (sentinel_t *) p;
  hra_conn_free(s->query);
  for (size_t i = 0; i < s->nwatch; i++)
    hra_conn_free(s->watch[i]);
  free(s->name);
  free(s->copts.username);
  free(s->copts.password);
  hra_tls_unref(s->copts.tls);
  free(s);
}

static const hra_endpoint_vt_t sentinel_vt = { sentinel_ask, sentinel_close, sentinel_ref, sentinel_free };

static char *
dup_str (const char *v) {
  size_t n = strlen(v);
  char *d = malloc(n + 1);
  if (d != NULL) memcpy(d, v, n + 1);
  return d;
}

hra_endpoint_provider_t *
hra_endpoint_sentinel_new (uv_loop_t *loop, const hra_sentinel_opts_t *o) {
  if (o->name == NULL || o->name[0] == 0 || o->count == 0 || o->count > HRA_SENTINEL_MAX) return NULL;
  sentinel_t *s = calloc(1, sizeof(*s));
  if (s == NULL) return NULL;
  s->base.vt = &sentinel_vt;
  s->base.checks_role = 1;
  s->loop = loop;
  s->replica = o->replica;
  s->refed = 1;
  s->rng = uv_hrtime() ^ (uint64_t) (uintptr_t) s;
  if (s->rng == 0) s->rng = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < o->count; i++) {
    const char *h = o->sentinels[i].host != NULL ? o->sentinels[i].host : "127.0.0.1";
    hra_slice_t host = { (const uint8_t *) h, strlen(h) }, none = { NULL, 0 };
    hra_sentinel_addr_t a;
    if (hra_sentinel_addr_set(&a, host, none, o->sentinels[i].port) != HRA_OK) {
      free(s);
      return NULL;
    }
    learn_one(s, &a, 1);
  }
  // The Sentinel connections: no database, no name, no provider of their own but the rotor.
  s->copts = o->conn;
  s->copts.endpoint = NULL;
  s->copts.host = NULL;
  s->copts.path = NULL;
  s->copts.db = 0;
  s->copts.name = NULL;
  s->copts.username = o->conn.username != NULL ? dup_str(o->conn.username) : NULL;
  s->copts.password = o->conn.password != NULL ? dup_str(o->conn.password) : NULL;
  // Each Sentinel connection's stream takes a reference of its own; this one lasts as long as the provider.
  if (s->copts.tls != NULL) hra_tls_ref(s->copts.tls);
  s->name = dup_str(o->name);
  if (s->name == NULL || (o->conn.username != NULL && s->copts.username == NULL) || (o->conn.password != NULL && s->copts.password == NULL)) {
    sentinel_free(&s->base);
    return NULL;
  }
  if (s->copts.connect_timeout_ms == 0) s->copts.connect_timeout_ms = 10000;
  return &s->base;
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "tls.h"

#define TICK_MS 250
#define REFRESH_EVERY_MS 5000  // periodic refresh while all is well
#define REFRESH_DEGRADED_MS 500  // while some slot has no ready master
#define REFRESH_MIN_GAP_MS 100  // on-error refreshes closer than this wait for the next tick
#define CONFIRM_WAIT_MS 1500  // a subscription unconfirmed this long on a ready owner is sent again
#define MAX_REDIRECTS 5
#define MAX_NODES 1000  // Redis Cluster's documented maximum size: a topology naming more is refused
#define NO_SUB UINT32_MAX
#define MAX_SUBS (1u << 30)

typedef struct node_s node_t;
typedef struct cmd_s cmd_t;

struct node_s {
  hra_cluster_t *cl;
  hra_conn_t *conn;
  char *host;
  int port;
  uint8_t master;
  uint8_t in_topology;
  uint8_t closing;
  uint8_t control;  // the spare connection for CLUSTER SLOTS (not in the node list)
  uint8_t fresh;  // created while applying a topology that may still be refused
  uint32_t nsubs;  // subscriptions placed here: such a connection cannot run commands
  uint64_t ready_ms;
  cmd_t *wait_head;  // redirected commands waiting for this node's connection
  cmd_t *wait_tail;
  node_t *next;
};

// A routed command, kept until its final answer so that a redirect can send it again.
struct cmd_s {
  hra_cluster_t *cl;
  hra_cluster_reply_cb cb;
  void *data;
  int argc;
  const char **argv;
  size_t *lens;
  int slot;  // -1: keyless
  uint8_t redirects;
  uint8_t asking;
  cmd_t *next;  // in a node's wait list
};

typedef struct {
  char *name;
  size_t len;
  uint32_t refs;
  uint8_t kind;
  uint16_t slot;
  node_t *node;  // where it is subscribed now (NULL: nowhere yet)
  uint64_t placed_ms;
  uint64_t ok_ms;  // when its owner was last seen confirming it (0: not since it was placed)
  uint32_t hash;
  uint32_t hnext;  // next index in its hash chain
} csub_t;

typedef struct {
  hra_cluster_t *cl;
  hra_cluster_reply_cb cb;
  void *data;
  int remaining;
  int last_err;
  int have;  // 0 none, 1 an error reply, 2 a good reply
  hra_reply_node_t *nodes;
  size_t count;
  uint8_t *bytes;
} sum_t;

struct hra_cluster_s {
  uv_loop_t *loop;
  hra_conn_opts_t opts;
  hra_cluster_seed_t *seeds;
  size_t nseeds;
  hra_cluster_cbs_t cbs;
  void *data;
  node_t *nodes;
  size_t nnodes;  // in the list (at most MAX_NODES)
  size_t nclosing;  // node connections still closing
  node_t *any;  // keyless commands
  node_t *pubsub;  // classic subscriptions
  node_t *ctl;  // asks CLUSTER SLOTS when every ready node connection is subscribed
  csub_t *subs;
  size_t nsubs;
  size_t cap_subs;
  uint32_t *buckets;  // hash of (kind, name) -> index in subs; NO_SUB ends a chain
  size_t nbuckets;
  uint64_t hash_k[3];  // keys of the subscription hash (channel names can come from room names)
  uv_timer_t timer;
  int timer_closing;
  int started;
  int closing;
  int closed;
  int refed;
  int ready;
  int have_topology;
  int connected_once;
  int refresh_inflight;
  int refresh_wanted;
  int cluster_error_reported;
  uint64_t last_refresh_ms;
  unsigned rr;
  hra_cluster_stats_t stats;
  node_t *slots[HRA_CLUSTER_SLOTS];
  node_t *tmp[HRA_CLUSTER_SLOTS];
};

static const hra_conn_cbs_t node_cbs;

static void
refresh_soon (hra_cluster_t *cl);
static void
place_all (hra_cluster_t *cl);
static void
update_ready (hra_cluster_t *cl);
static void
maybe_finish_close (hra_cluster_t *cl);

// ---------------------------------------------------------------------------------------------------
// Nodes

static uint64_t
now_ms (hra_cluster_t *cl) {
  return uv_now(cl->loop);
}

static int
node_ready (const node_t *n) {
  return n != NULL && !n->closing && hra_conn_state(n->conn) == HRA_CONN_READY;
}

static node_t *
node_find (hra_cluster_t *cl, const char *host, size_t hlen, int port) {
  for (node_t *n = cl->nodes; n != NULL; n = n->next) {
    if (n->port == port && strlen(n->host) == hlen && memcmp(n->host, host, hlen) == 0) return n;
  }
  return NULL;
}

static node_t *
node_create (hra_cluster_t *cl, const char *host, size_t hlen, int port) {
  node_t *n;
  if (hlen == 0 || hlen > HRA_CLUSTER_MAX_HOST || port <= 0 || port > 65535 || memchr(host, 0, hlen) != NULL) return NULL;
  n = calloc(1, sizeof(*n));
  if (n == NULL) return NULL;
  n->host = malloc(hlen + 1);
  if (n->host == NULL) {
    free(n);
    return NULL;
  }
  memcpy(n->host, host, hlen);
  n->host[hlen] = 0;
  n->port = port;
  n->cl = cl;
  hra_conn_opts_t o = cl->opts;
  o.host = n->host;
  o.port = port;
  o.path = NULL;
  o.db = 0;
  n->conn = hra_conn_new(cl->loop, &o, &node_cbs, n);
  if (n->conn == NULL) {
    free(n->host);
    free(n);
    return NULL;
  }
  if (!cl->refed) hra_conn_unref(n->conn);
  return n;
}

// The node for an endpoint, created (and started) if new. NULL on ENOMEM, for an invalid endpoint, or when
// the cluster already has MAX_NODES nodes (a MOVED answer or a topology naming endless endpoints must not
// open endless connections).
static node_t *
node_get (hra_cluster_t *cl, const char *host, size_t hlen, int port) {
  node_t *n = node_find(cl, host, hlen, port);
  if (n != NULL) return n;
  if (cl->nnodes >= MAX_NODES) return NULL;
  n = node_create(cl, host, hlen, port);
  if (n == NULL) return NULL;
  n->next = cl->nodes;
  cl->nodes = n;
  cl->nnodes++;
  if (cl->started) hra_conn_start(n->conn);
  return n;
}

static void
cmd_free (cmd_t *c) {
  free(c);
}

static void
cmd_finish (cmd_t *c, const hra_reply_t *reply, int err) {
  if (c->cb != NULL) c->cb(c->cl, reply, err, c->data);
  cmd_free(c);
}

static void
wait_fail_all (node_t *n, int err) {
  cmd_t *c = n->wait_head;
  n->wait_head = n->wait_tail = NULL;
  while (c != NULL) {
    cmd_t *next = c->next;
    cmd_finish(c, NULL, err);
    c = next;
  }
}

// Takes a node out of service: nothing routes to it any more, its connection closes.
static void
node_drop (hra_cluster_t *cl, node_t *n) {
  node_t **pp = &cl->nodes;
  while (*pp != NULL && *pp != n)
    pp = &(*pp)->next;
  if (*pp == n) {
    *pp = n->next;
    cl->nnodes--;
  }
  n->next = NULL;
  n->closing = 1;
  for (size_t s = 0; s < HRA_CLUSTER_SLOTS; s++) {
    if (cl->slots[s] == n) {
      cl->slots[s] = NULL;
      cl->stats.slots_covered--;
    }
  }
  if (cl->any == n) cl->any = NULL;
  if (cl->pubsub == n) cl->pubsub = NULL;
  if (cl->ctl == n) cl->ctl = NULL;
  for (size_t i = 0; i < cl->nsubs; i++) {
    // Orphaned: the next placement puts it on the slot's new owner.
    if (cl->subs[i].node == n) cl->subs[i].node = NULL, cl->stats.sub_moves++;
  }
  cl->nclosing++;
  wait_fail_all(n, HRA_ENOTCONN);
  hra_conn_close(n->conn);
}

static int
pickable (const node_t *n, int masters_only, int unsubscribed) {
  return node_ready(n) && (!masters_only || n->master) && (!unsubscribed || n->nsubs == 0);
}

// A ready node, round robin (so that refreshes do not always ask the same one). unsubscribed: only
// connections without subscriptions, which can run commands.
static node_t *
pick_ready (hra_cluster_t *cl, int masters_only, int unsubscribed) {
  size_t count = 0;
  for (node_t *n = cl->nodes; n != NULL; n = n->next) {
    if (pickable(n, masters_only, unsubscribed)) count++;
  }
  if (count == 0) return NULL;
  size_t k = cl->rr++ % count;
  for (node_t *n = cl->nodes; n != NULL; n = n->next) {
    if (pickable(n, masters_only, unsubscribed) && k-- == 0) return n;
  }
  return NULL;
}

static node_t *
keyless_node (hra_cluster_t *cl) {
  if (node_ready(cl->any) && cl->any->nsubs == 0 && (cl->any->master || !cl->have_topology)) return cl->any;
  node_t *n = pick_ready(cl, cl->have_topology, 1);
  if (n == NULL) n = pick_ready(cl, 0, 1);
  cl->any = n;
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Commands

static cmd_t *
cmd_new (hra_cluster_t *cl, int argc, const char **argv, const size_t *lens, hra_cluster_reply_cb cb, void *data) {
  size_t bytes = 0;
  for (int i = 0; i < argc; i++) {
    if (lens[i] > SIZE_MAX / 2 - bytes) return NULL;
    bytes += lens[i];
  }
  size_t head = sizeof(cmd_t) + (size_t) argc * (sizeof(char *) + sizeof(size_t));
  cmd_t *c = malloc(head + bytes + 1);
  if (c == NULL) return NULL;
  memset(c, 0, sizeof(*c));
  c->cl = cl;
  c->cb = cb;
  c->data = data;
  c->argc = argc;
  c->argv = (const char **) (void *) (c + 1);
  c->lens = (size_t *) (void *) (c->argv + argc);
  char *p = (char *) (c->lens + argc);
  for (int i = 0; i < argc; i++) {
    if (lens[i]) memcpy(p, argv[i], lens[i]);
    c->argv[i] = p;
    c->lens[i] = lens[i];
    p += lens[i];
  }
  c->slot = -1;
  return c;
}

static void
on_cmd_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data);

static int
cmd_send (cmd_t *c, node_t *n) {
  if (c->asking) {
    const char *argv[1] = { "ASKING" };
    size_t lens[1] = { 6 };
    int err = hra_conn_command(n->conn, 1, argv, lens, NULL, NULL);
    if (err) return err;
  }
  return hra_conn_command(n->conn, c->argc, c->argv, c->lens, on_cmd_reply, c);
}

static void
wait_flush (node_t *n) {
  cmd_t *c = n->wait_head;
  n->wait_head = n->wait_tail = NULL;
  while (c != NULL) {
    cmd_t *next = c->next;
    c->next = NULL;
    int err = cmd_send(c, n);
    if (err) cmd_finish(c, NULL, err);
    c = next;
  }
}

static void
wait_push (node_t *n, cmd_t *c) {
  c->next = NULL;
  if (n->wait_tail)
    n->wait_tail->next = c;
  else
    n->wait_head = c;
  n->wait_tail = c;
}

static int
starts_with (hra_slice_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len >= n && memcmp(s.base, lit, n) == 0;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK ...": the slot and the endpoint (the host may be an IPv6
// address with colons of its own: the port follows the last one; an empty host is the answering node).
static node_t *
redirect_target (hra_cluster_t *cl, node_t *from, hra_slice_t msg, int *slot) {
  size_t i = 0;
  while (i < msg.len && msg.base[i] != ' ')
    i++;
  i++;
  long s = 0;
  size_t digits = 0;
  while (i < msg.len && msg.base[i] >= '0' && msg.base[i] <= '9' && digits < 6) {
    s = s * 10 + (msg.base[i] - '0');
    i++, digits++;
  }
  if (digits == 0 || s >= HRA_CLUSTER_SLOTS || i >= msg.len || msg.base[i] != ' ') return NULL;
  i++;
  size_t start = i, colon = 0;
  int have_colon = 0;
  for (; i < msg.len && msg.base[i] != ' '; i++) {
    if (msg.base[i] == ':') colon = i, have_colon = 1;
  }
  if (!have_colon) return NULL;
  long port = 0;
  for (size_t k = colon + 1; k < i; k++) {
    if (msg.base[k] < '0' || msg.base[k] > '9' || port > 65535) return NULL;
    port = port * 10 + (msg.base[k] - '0');
  }
  if (port <= 0 || port > 65535) return NULL;
  *slot = (int) s;
  const char *host = (const char *) msg.base + start;
  size_t hlen = colon - start;
  if (hlen == 0 && from != NULL) host = from->host, hlen = strlen(from->host);
  if (hlen == 1 && host[0] == '?') return NULL;
  return node_get(cl, host, hlen, (int) port);
}

static void
on_cmd_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  cmd_t *c = data;
  hra_cluster_t *cl = c->cl;
  node_t *from = hra_conn_data(conn);
  if (reply != NULL && hra_reply_is(reply, 0, HRA_R_ERROR) && !cl->closing) {
    hra_slice_t msg = hra_reply_str(reply, 0);
    int moved = starts_with(msg, "MOVED "), ask = starts_with(msg, "ASK ");
    if ((moved || ask) && c->redirects < MAX_REDIRECTS) {
      int slot = -1;
      node_t *to = redirect_target(cl, from, msg, &slot);
      refresh_soon(cl);
      if (to != NULL) {
        c->redirects++;
        if (moved) {
          cl->stats.moved++;
          if (cl->slots[slot] == NULL) cl->stats.slots_covered++;
          cl->slots[slot] = to;
          to->master = 1;
          c->asking = 0;
        } else {
          cl->stats.ask++;
          c->asking = 1;
        }
        if (node_ready(to)) {
          if (cmd_send(c, to) == HRA_OK) return;
        } else if (!to->closing) {
          wait_push(to, c);
          return;
        }
      }
    } else if (starts_with(msg, "CLUSTERDOWN") || starts_with(msg, "TRYAGAIN")) {
      refresh_soon(cl);
    }
  }
  cmd_finish(c, reply, err);
}

int
hra_cluster_command (hra_cluster_t *cl, const uint8_t *key, size_t keylen, int argc, const char **argv, const size_t *argvlen, hra_cluster_reply_cb cb, void *data) {
  if (cl->closing) return HRA_ECLOSED;
  int slot = key != NULL ? hra_cluster_key_slot(key, keylen) : -1;
  node_t *n = slot >= 0 ? cl->slots[slot] : keyless_node(cl);
  if (!node_ready(n)) {
    cl->stats.commands_dropped++;
    if (slot >= 0) refresh_soon(cl);
    return HRA_ENOTCONN;
  }
  if (slot < 0 && cb == NULL) return hra_conn_command(n->conn, argc, argv, argvlen, NULL, NULL);
  cmd_t *c = cmd_new(cl, argc, argv, argvlen, cb, data);
  if (c == NULL) return HRA_ENOMEM;
  c->slot = slot;
  int err = cmd_send(c, n);
  if (err) cmd_free(c);
  return err;
}

// ---------------------------------------------------------------------------------------------------
// Summed commands

static size_t
reply_bytes (const hra_reply_t *r) {
  size_t end = 0;
  for (size_t i = 0; i < r->count; i++) {
    int t = r->nodes[i].type;
    if ((t == HRA_R_STRING || t == HRA_R_STATUS || t == HRA_R_ERROR) && r->nodes[i].off + r->nodes[i].len > end) end = r->nodes[i].off + r->nodes[i].len;
  }
  return end;
}

static int
sum_keep (sum_t *s, const hra_reply_t *r, int have) {
  size_t nb = reply_bytes(r);
  hra_reply_node_t *nodes = malloc(r->count * sizeof(*nodes) + 1);
  uint8_t *bytes = malloc(nb + 1);
  if (nodes == NULL || bytes == NULL) {
    free(nodes);
    free(bytes);
    return HRA_ENOMEM;
  }
  memcpy(nodes, r->nodes, r->count * sizeof(*nodes));
  if (nb) memcpy(bytes, r->data, nb);
  free(s->nodes);
  free(s->bytes);
  s->nodes = nodes;
  s->bytes = bytes;
  s->count = r->count;
  s->have = have;
  return HRA_OK;
}

static void
on_sum_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  sum_t *s = data;
  if (reply == NULL) {
    s->last_err = err;
  } else if (hra_reply_is(reply, 0, HRA_R_ERROR)) {
    if (s->have == 0 && sum_keep(s, reply, 1) != HRA_OK) s->last_err = HRA_ENOMEM;
  } else if (s->have < 2) {
    if (sum_keep(s, reply, 2) != HRA_OK) s->last_err = HRA_ENOMEM;
  } else if (s->count == reply->count) {
    for (size_t i = 0; i < reply->count; i++) {
      if (s->nodes[i].type == HRA_R_INTEGER && reply->nodes[i].type == HRA_R_INTEGER) s->nodes[i].integer += reply->nodes[i].integer;
    }
  }
  if (--s->remaining > 0) return;
  if (s->cb != NULL) {
    if (s->have) {
      hra_reply_t r = { s->nodes, s->count, s->bytes };
      s->cb(s->cl, &r, 0, s->data);
    } else {
      s->cb(s->cl, NULL, s->last_err ? s->last_err : HRA_ENOTCONN, s->data);
    }
  }
  free(s->nodes);
  free(s->bytes);
  free(s);
}

int
hra_cluster_command_sum (hra_cluster_t *cl, int argc, const char **argv, const size_t *argvlen, hra_cluster_reply_cb cb, void *data) {
  if (cl->closing) return HRA_ECLOSED;
  size_t ready = 0;
  for (node_t *n = cl->nodes; n != NULL; n = n->next) {
    if (node_ready(n) && n->nsubs == 0 && (n->in_topology || !cl->have_topology)) ready++;
  }
  if (ready == 0) {
    cl->stats.commands_dropped++;
    return HRA_ENOTCONN;
  }
  sum_t *s = calloc(1, sizeof(*s));
  if (s == NULL) return HRA_ENOMEM;
  s->cl = cl;
  s->cb = cb;
  s->data = data;
  // Hold one count while sending, so that a synchronous failure cannot finish the sum early.
  s->remaining = 1;
  size_t sent = 0;
  for (node_t *n = cl->nodes; n != NULL; n = n->next) {
    if (!node_ready(n) || n->nsubs > 0 || !(n->in_topology || !cl->have_topology)) continue;
    s->remaining++;
    if (hra_conn_command(n->conn, argc, argv, argvlen, on_sum_reply, s) != HRA_OK)
      s->remaining--;
    else
      sent++;
  }
  if (sent == 0) {
    free(s);
    return HRA_ENOTCONN;
  }
  on_sum_reply(NULL, NULL, HRA_ENOTCONN, s);  // releases the count held while sending
  return HRA_OK;
}

int
hra_cluster_command_auto (hra_cluster_t *cl, int argc, const char **argv, const size_t *argvlen, hra_cluster_reply_cb cb, void *data) {
  int key = -1;
  switch (hra_cluster_route(argc, argv, argvlen, &key)) {
    case HRA_ROUTE_KEY:
      return hra_cluster_command(cl, (const uint8_t *) argv[key], argvlen[key], argc, argv, argvlen, cb, data);
    case HRA_ROUTE_SUM:
      return hra_cluster_command_sum(cl, argc, argv, argvlen, cb, data);
    case HRA_ROUTE_ANY:
      return hra_cluster_command(cl, NULL, 0, argc, argv, argvlen, cb, data);
    default:
      return HRA_EINVAL;
  }
}

// ---------------------------------------------------------------------------------------------------
// Subscriptions

static uint32_t
sub_hash (const hra_cluster_t *cl, int kind, const char *name, size_t len) {
  return (uint32_t) hra_keyed_hash(cl->hash_k, (uint64_t) kind, (const uint8_t *) name, len);
}

static csub_t *
sub_find (hra_cluster_t *cl, int kind, const char *name, size_t len) {
  if (cl->nbuckets == 0) return NULL;
  uint32_t h = sub_hash(cl, kind, name, len);
  for (uint32_t i = cl->buckets[h & (cl->nbuckets - 1)]; i != NO_SUB; i = cl->subs[i].hnext) {
    csub_t *s = &cl->subs[i];
    if (s->hash == h && s->kind == kind && s->len == len && memcmp(s->name, name, len) == 0) return s;
  }
  return NULL;
}

static void
sub_link (hra_cluster_t *cl, uint32_t i) {
  uint32_t *b = &cl->buckets[cl->subs[i].hash & (cl->nbuckets - 1)];
  cl->subs[i].hnext = *b;
  *b = i;
}

static void
sub_unlink (hra_cluster_t *cl, uint32_t i) {
  uint32_t *p = &cl->buckets[cl->subs[i].hash & (cl->nbuckets - 1)];
  while (*p != NO_SUB && *p != i)
    p = &cl->subs[*p].hnext;
  if (*p == i) *p = cl->subs[i].hnext;
}

// Room for one more subscription: the array and (at a load of 1/2) the buckets.
static int
sub_reserve (hra_cluster_t *cl) {
  if (cl->nsubs >= MAX_SUBS) return HRA_ELIMIT;
  if (cl->nsubs == cl->cap_subs) {
    size_t cap = cl->cap_subs ? cl->cap_subs * 2 : 16;
    csub_t *subs = realloc(cl->subs, cap * sizeof(*subs));
    if (subs == NULL) return HRA_ENOMEM;
    cl->subs = subs;
    cl->cap_subs = cap;
  }
  if ((cl->nsubs + 1) * 2 > cl->nbuckets) {
    size_t nb = cl->nbuckets ? cl->nbuckets * 2 : 32;
    uint32_t *b = malloc(nb * sizeof(*b));
    if (b == NULL) return HRA_ENOMEM;
    for (size_t i = 0; i < nb; i++)
      b[i] = NO_SUB;
    free(cl->buckets);
    cl->buckets = b;
    cl->nbuckets = nb;
    for (size_t i = 0; i < cl->nsubs; i++)
      sub_link(cl, (uint32_t) i);
  }
  return HRA_OK;
}

// Puts a subscription where it belongs now (force: send it again even where it already is).
static void
sub_place (hra_cluster_t *cl, csub_t *s, int force) {
  node_t *to = s->kind == 's' ? cl->slots[s->slot] : cl->pubsub;
  if (to == s->node && !force) return;
  s->ok_ms = 0;
  if (to == s->node && to != NULL) {
    // Same owner, not confirmed: send the subscribe again (an unsubscribe and a subscribe in the same loop
    // turn would cancel out in the connection's table).
    s->placed_ms = now_ms(cl);
    if (!to->closing) hra_conn_resubscribe(to->conn, s->kind, s->name, s->len);
    return;
  }
  if (s->node != NULL) {
    s->node->nsubs--;
    if (!s->node->closing) hra_conn_unsubscribe(s->node->conn, s->kind, s->name, s->len);
  }
  if (to != s->node && s->node != NULL) cl->stats.sub_moves++;
  s->node = NULL;
  s->placed_ms = now_ms(cl);
  if (to != NULL && hra_conn_subscribe(to->conn, s->kind, s->name, s->len) == HRA_OK) {
    s->node = to;
    to->nsubs++;
  }
}

int
hra_cluster_subscribe (hra_cluster_t *cl, int kind, const char *name, size_t len) {
  if (cl->closing) return HRA_ECLOSED;
  csub_t *s = sub_find(cl, kind, name, len);
  if (s != NULL) {
    s->refs++;
    return HRA_OK;
  }
  int err = sub_reserve(cl);
  if (err) return err;
  char *copy = malloc(len ? len : 1);
  if (copy == NULL) return HRA_ENOMEM;
  memcpy(copy, name, len);
  uint32_t i = (uint32_t) cl->nsubs++;
  s = &cl->subs[i];
  memset(s, 0, sizeof(*s));
  s->name = copy;
  s->len = len;
  s->refs = 1;
  s->kind = (uint8_t) kind;
  s->slot = hra_cluster_key_slot((const uint8_t *) name, len);
  s->hash = sub_hash(cl, kind, name, len);
  sub_link(cl, i);
  sub_place(cl, s, 0);
  return HRA_OK;
}

int
hra_cluster_unsubscribe (hra_cluster_t *cl, int kind, const char *name, size_t len) {
  csub_t *s = sub_find(cl, kind, name, len);
  if (s == NULL) return HRA_OK;
  if (--s->refs > 0) return HRA_OK;
  node_t *n = s->node;
  char *copy = s->name;
  uint32_t i = (uint32_t) (s - cl->subs), last = (uint32_t) cl->nsubs - 1;
  sub_unlink(cl, i);
  if (i != last) {
    sub_unlink(cl, last);
    cl->subs[i] = cl->subs[last];
    sub_link(cl, i);
  }
  cl->nsubs--;
  if (n != NULL) n->nsubs--;
  if (n != NULL && !n->closing) hra_conn_unsubscribe(n->conn, kind, copy, len);
  free(copy);
  return HRA_OK;
}

size_t
hra_cluster_subscription_count (hra_cluster_t *cl, int kind) {
  size_t count = 0;
  for (size_t i = 0; i < cl->nsubs; i++) {
    csub_t *s = &cl->subs[i];
    if (s->kind == kind && s->node != NULL && !s->node->closing && hra_conn_subscription_confirmed(s->node->conn, kind, s->name, s->len) == 1) count++;
  }
  return count;
}

// Chooses the node for classic pub/sub (a ready master, the current one while it stays ready) and
// puts every subscription on its owner.
static void
place_all (hra_cluster_t *cl) {
  if (!(node_ready(cl->pubsub) && (cl->pubsub->master || !cl->have_topology))) {
    node_t *n = pick_ready(cl, cl->have_topology, 0);
    if (n != NULL) cl->pubsub = n;
  }
  for (size_t i = 0; i < cl->nsubs; i++)
    sub_place(cl, &cl->subs[i], 0);
}

// Every wanted subscription must be confirmed by its owner: send again what stays unconfirmed.
static void
verify_subscriptions (hra_cluster_t *cl) {
  uint64_t now = now_ms(cl);
  for (size_t i = 0; i < cl->nsubs; i++) {
    csub_t *s = &cl->subs[i];
    if (s->node == NULL || !node_ready(s->node)) continue;
    uint64_t since = s->placed_ms > s->node->ready_ms ? s->placed_ms : s->node->ready_ms;
    if (s->ok_ms != 0 && s->ok_ms >= since) continue;  // confirmed since it was (re)sent
    if (hra_conn_subscription_confirmed(s->node->conn, s->kind, s->name, s->len) == 1) {
      s->ok_ms = now > since ? now : since;
      continue;
    }
    if (now - since < CONFIRM_WAIT_MS) continue;
    cl->stats.sub_retries++;
    cl->refresh_wanted = 1;
    sub_place(cl, s, 1);
  }
}

// ---------------------------------------------------------------------------------------------------
// Topology

static int
refresh_due (hra_cluster_t *cl, uint64_t now) {
  if (cl->refresh_wanted) return now - cl->last_refresh_ms >= REFRESH_MIN_GAP_MS;
  if (!cl->ready) return now - cl->last_refresh_ms >= REFRESH_DEGRADED_MS;
  return now - cl->last_refresh_ms >= REFRESH_EVERY_MS;
}

static void
on_slots_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data);

static void
add_seeds (hra_cluster_t *cl) {
  for (size_t i = 0; i < cl->nseeds; i++)
    node_get(cl, cl->seeds[i].host, strlen(cl->seeds[i].host), cl->seeds[i].port);
}

static void
ctl_ensure (hra_cluster_t *cl) {
  if (cl->ctl != NULL) {
    // Connecting: keep it while its node is still up; otherwise aim elsewhere.
    node_t *same = node_find(cl, cl->ctl->host, strlen(cl->ctl->host), cl->ctl->port);
    if (same != NULL && node_ready(same)) return;
    node_drop(cl, cl->ctl);
  }
  node_t *target = pick_ready(cl, 0, 0);
  if (target == NULL) return;
  node_t *ctl = node_create(cl, target->host, strlen(target->host), target->port);
  if (ctl == NULL) return;
  ctl->control = 1;
  cl->ctl = ctl;
  hra_conn_start(ctl->conn);
}

static void
refresh_now (hra_cluster_t *cl) {
  if (cl->closing || !cl->started) return;
  if (cl->refresh_inflight) {
    cl->refresh_wanted = 1;
    return;
  }
  node_t *n = pick_ready(cl, 0, 1);
  if (n == NULL && node_ready(cl->ctl)) n = cl->ctl;
  if (n == NULL) {
    // Every ready connection is subscribed (a subscriber cannot run CLUSTER SLOTS): open the spare
    // one to a ready node. Nobody ready at all: make sure the seeds are being tried too.
    ctl_ensure(cl);
    if (pick_ready(cl, 0, 0) == NULL) add_seeds(cl);
    cl->refresh_wanted = 1;
    return;
  }
  const char *argv[2] = { "CLUSTER", "SLOTS" };
  size_t lens[2] = { 7, 5 };
  if (hra_conn_command(n->conn, 2, argv, lens, on_slots_reply, n) != HRA_OK) {
    cl->refresh_wanted = 1;
    return;
  }
  cl->refresh_inflight = 1;
  cl->refresh_wanted = 0;
  cl->last_refresh_ms = now_ms(cl);
}

static void
refresh_soon (hra_cluster_t *cl) {
  cl->refresh_wanted = 1;
  if (now_ms(cl) - cl->last_refresh_ms >= REFRESH_MIN_GAP_MS) refresh_now(cl);
}

// Maps one endpoint of a CLUSTER SLOTS range to its node, creating it if new (marked fresh: the
// whole reply may still be refused), and records the master of the range in the pending map.
static int
visit_endpoint (void *ctx, const char *host, size_t hlen, int port, int is_master, int lo, int hi) {
  hra_cluster_t *cl = ctx;
  node_t *n = node_find(cl, host, hlen, port);
  if (n == NULL) {
    if (cl->nnodes >= MAX_NODES) return HRA_ELIMIT;
    n = node_get(cl, host, hlen, port);
    if (n == NULL) return HRA_ENOMEM;
    n->fresh = 1;
  }
  n->in_topology = 1;
  if (is_master) {
    n->master = 1;
    for (int s = lo; s <= hi; s++)
      cl->tmp[s] = n;
  }
  return HRA_OK;
}

static void
report (hra_cluster_t *cl, const char *code, const char *message) {
  cl->cbs.on_event(cl, HRA_EV_ERROR, code, message, 0);
}

static void
apply_topology (hra_cluster_t *cl, const node_t *from, const hra_reply_t *r) {
  if (hra_cluster_slots_walk(r, from->host, NULL, NULL) != HRA_OK) {
    report(cl, "EPROTO", "unexpected CLUSTER SLOTS reply (malformed, or overlapping slot ranges)");
    return;
  }
  memset(cl->tmp, 0, sizeof(cl->tmp));
  for (node_t *n = cl->nodes; n != NULL; n = n->next)
    n->in_topology = 0, n->master = 0, n->fresh = 0;
  int err = hra_cluster_slots_walk(r, from->host, visit_endpoint, cl);
  if (err != HRA_OK) {
    // Refused half way: keep the old map and the nodes it knew; drop the ones this reply created.
    for (node_t *n = cl->nodes; n != NULL; n = n->next)
      n->in_topology = 1;
    for (size_t s = 0; s < HRA_CLUSTER_SLOTS; s++) {
      if (cl->slots[s] != NULL) cl->slots[s]->master = 1;
    }
    for (;;) {
      node_t *fresh = NULL;
      for (node_t *n = cl->nodes; n != NULL && fresh == NULL; n = n->next) {
        if (n->fresh) fresh = n;
      }
      if (fresh == NULL || cl->closing) break;
      fresh->fresh = 0;
      node_drop(cl, fresh);
    }
    if (err == HRA_ELIMIT)
      report(cl, "ELIMIT", "CLUSTER SLOTS names more than 1000 nodes: topology refused");
    else
      report(cl, "ENOMEM", "out of memory while applying the cluster topology");
    return;
  }
  for (node_t *n = cl->nodes; n != NULL; n = n->next)
    n->fresh = 0;
  memcpy(cl->slots, cl->tmp, sizeof(cl->slots));
  cl->have_topology = 1;
  cl->stats.refreshes++;
  // The spare connection is kept only while some node's connection cannot run commands.
  if (cl->ctl != NULL && pick_ready(cl, 0, 1) != NULL) node_drop(cl, cl->ctl);
  uint32_t covered = 0;
  for (size_t s = 0; s < HRA_CLUSTER_SLOTS; s++)
    covered += cl->slots[s] != NULL;
  cl->stats.slots_covered = covered;
  // Nodes the cluster no longer lists (failed masters, seeds named differently) are closed. Each drop
  // may run callbacks: look for the next one from the start.
  for (;;) {
    node_t *gone = NULL;
    for (node_t *n = cl->nodes; n != NULL && gone == NULL; n = n->next) {
      if (!n->in_topology) gone = n;
    }
    if (gone == NULL || cl->closing) break;
    node_drop(cl, gone);
  }
  place_all(cl);
  update_ready(cl);
}

static void
on_slots_reply (hra_conn_t *conn, const hra_reply_t *reply, int err, void *data) {
  node_t *from = data;
  hra_cluster_t *cl = from->cl;
  cl->refresh_inflight = 0;
  if (cl->closing) return;
  if (reply == NULL) {
    cl->refresh_wanted = 1;
    return;
  }
  if (hra_reply_is(reply, 0, HRA_R_ERROR)) {
    cl->refresh_wanted = 1;
    if (!cl->cluster_error_reported) {
      cl->cluster_error_reported = 1;
      hra_slice_t m = hra_reply_str(reply, 0);
      char text[300];
      snprintf(text, sizeof(text), "CLUSTER SLOTS failed on %s:%d: %.*s", from->host, from->port, (int) (m.len > 200 ? 200 : m.len), (const char *) m.base);
      report(cl, "ECLUSTER", text);
    }
    return;
  }
  apply_topology(cl, from, reply);
}

static void
update_ready (hra_cluster_t *cl) {
  if (cl->closing) return;
  int ready = cl->have_topology && cl->stats.slots_covered == HRA_CLUSTER_SLOTS;
  for (node_t *n = cl->nodes; n != NULL && ready; n = n->next) {
    if (n->master && n->in_topology && !node_ready(n)) ready = 0;
  }
  if (ready == cl->ready) return;
  cl->ready = ready;
  cl->cbs.on_event(cl, ready ? HRA_EV_READY : HRA_EV_DISCONNECT, NULL, NULL, 0);
}

static void
on_tick (uv_timer_t *t) {
  hra_cluster_t *cl = t->data;
  if (cl->closing) return;
  uint64_t now = now_ms(cl);
  if (refresh_due(cl, now)) refresh_now(cl);
  if (cl->closing) return;
  place_all(cl);
  verify_subscriptions(cl);
  update_ready(cl);
}

// ---------------------------------------------------------------------------------------------------
// Node connection callbacks

static void
node_on_event (hra_conn_t *conn, int event, const char *code, const char *message, int64_t value) {
  node_t *n = hra_conn_data(conn);
  hra_cluster_t *cl = n->cl;
  if (n->closing || cl->closing) return;
  if (n->control) {
    if (event == HRA_EV_READY) refresh_now(cl);
    return;
  }
  switch (event) {
    case HRA_EV_CONNECT:
      if (!cl->connected_once) {
        cl->connected_once = 1;
        cl->cbs.on_event(cl, HRA_EV_CONNECT, NULL, NULL, 0);
      }
      break;
    case HRA_EV_READY:
      n->ready_ms = now_ms(cl);
      wait_flush(n);
      if (cl->closing || n->closing) return;
      if (!cl->have_topology)
        refresh_now(cl);
      else
        refresh_soon(cl);
      if (cl->closing) return;
      place_all(cl);
      update_ready(cl);
      break;
    case HRA_EV_DISCONNECT:
      refresh_soon(cl);
      if (cl->closing) return;
      place_all(cl);
      update_ready(cl);
      break;
    case HRA_EV_RECONNECTING:
      wait_fail_all(n, HRA_ENOTCONN);
      break;
    case HRA_EV_ERROR: {
      if (code != NULL && strcmp(code, "ESUBSCRIBE") == 0 && message != NULL && (strstr(message, "MOVED") != NULL || strstr(message, "CLUSTERDOWN") != NULL)) {
        // A subscription sent to a node that no longer owns the slot: the refresh moves it.
        refresh_soon(cl);
        return;
      }
      char text[400];
      snprintf(text, sizeof(text), "cluster node %s:%d: %s", n->host, n->port, message != NULL ? message : "error");
      cl->cbs.on_event(cl, HRA_EV_ERROR, code, text, value);
      break;
    }
  }
}

static void
node_on_message (hra_conn_t *conn, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload) {
  node_t *n = hra_conn_data(conn);
  if (n->cl->closing) return;
  n->cl->cbs.on_message(n->cl, kind, pattern, channel, payload);
}

static void
node_on_flush (hra_conn_t *conn) {
  node_t *n = hra_conn_data(conn);
  n->cl->cbs.on_flush(n->cl);
}

static void
node_on_sub_lost (hra_conn_t *conn, int kind, hra_slice_t name) {
  node_t *n = hra_conn_data(conn);
  hra_cluster_t *cl = n->cl;
  if (n->closing || cl->closing) return;
  csub_t *s = sub_find(cl, kind, (const char *) name.base, name.len);
  if (s == NULL || s->node != n) return;
  s->ok_ms = 0;
  cl->stats.sub_lost++;
  // The slot moved away: learn its new owner now; the tick moves the subscription there.
  refresh_soon(cl);
}

static void
node_on_closed (hra_conn_t *conn) {
  node_t *n = hra_conn_data(conn);
  hra_cluster_t *cl = n->cl;
  wait_fail_all(n, HRA_ECLOSED);
  hra_conn_free(n->conn);
  free(n->host);
  free(n);
  cl->nclosing--;
  maybe_finish_close(cl);
}

static const hra_conn_cbs_t node_cbs = { node_on_event, node_on_message, node_on_flush, node_on_closed, node_on_sub_lost };

// ---------------------------------------------------------------------------------------------------
// Lifecycle

static char *
dup_str (const char *s, int *ok) {
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d == NULL) {
    *ok = 0;
    return NULL;
  }
  memcpy(d, s, n + 1);
  return d;
}

hra_cluster_t *
hra_cluster_new (uv_loop_t *loop, const hra_conn_opts_t *node_opts, const hra_cluster_seed_t *seeds, size_t nseeds, const hra_cluster_cbs_t *cbs, void *data) {
  if (nseeds == 0 || nseeds > 1024) return NULL;
  hra_cluster_t *cl = calloc(1, sizeof(*cl));
  if (cl == NULL) return NULL;
  int ok = 1;
  cl->loop = loop;
  cl->opts = *node_opts;
  uint64_t seed = uv_hrtime() ^ (uint64_t) (uintptr_t) cl;
  for (int i = 0; i < 3; i++)
    cl->hash_k[i] = hra_splitmix(&seed);
  cl->opts.host = NULL;
  cl->opts.path = NULL;
  cl->opts.db = 0;
  cl->opts.username = dup_str(node_opts->username, &ok);
  cl->opts.password = dup_str(node_opts->password, &ok);
  cl->opts.name = dup_str(node_opts->name, &ok);
  if (cl->opts.tls != NULL) hra_tls_ref(cl->opts.tls);  // every node's connection is made with it
  cl->cbs = *cbs;
  cl->data = data;
  cl->refed = 1;
  cl->seeds = calloc(nseeds, sizeof(*cl->seeds));
  if (cl->seeds == NULL) ok = 0;
  for (size_t i = 0; ok && i < nseeds; i++) {
    char *h = dup_str(seeds[i].host != NULL ? seeds[i].host : "127.0.0.1", &ok);
    if (h == NULL) break;
    cl->seeds[i].host = h;
    cl->seeds[i].port = seeds[i].port > 0 ? seeds[i].port : 6379;
    cl->nseeds++;
  }
  // Nothing is registered with the loop before the timer: a failure up to here only frees memory.
  if (!ok || uv_timer_init(loop, &cl->timer) != 0) {
    hra_cluster_free(cl);
    return NULL;
  }
  cl->timer.data = cl;
  uv_unref((uv_handle_t *) &cl->timer);
  return cl;
}

void *
hra_cluster_data (hra_cluster_t *cl) {
  return cl->data;
}

int
hra_cluster_state (hra_cluster_t *cl) {
  if (cl->closed) return HRA_CONN_CLOSED;
  if (cl->closing) return HRA_CONN_CLOSING;
  return cl->ready ? HRA_CONN_READY : HRA_CONN_CONNECTING;
}

int
hra_cluster_start (hra_cluster_t *cl) {
  if (cl->closing) return HRA_ECLOSED;
  if (cl->started) return HRA_OK;
  cl->started = 1;
  uv_timer_start(&cl->timer, on_tick, TICK_MS, TICK_MS);
  add_seeds(cl);  // started as they are created
  return cl->nodes != NULL ? HRA_OK : HRA_ENOMEM;
}

static void
on_timer_closed (uv_handle_t *h) {
  hra_cluster_t *cl = h->data;
  cl->timer_closing = 2;
  maybe_finish_close(cl);
}

static void
maybe_finish_close (hra_cluster_t *cl) {
  if (!cl->closing || cl->closed || cl->nodes != NULL || cl->nclosing > 0 || cl->timer_closing != 2) return;
  cl->closed = 1;
  cl->cbs.on_closed(cl);
}

void
hra_cluster_close (hra_cluster_t *cl) {
  if (cl->closing) return;
  cl->closing = 1;
  cl->ready = 0;
  uv_timer_stop(&cl->timer);
  cl->timer_closing = 1;
  uv_close((uv_handle_t *) &cl->timer, on_timer_closed);
  while (cl->nodes != NULL)
    node_drop(cl, cl->nodes);
  if (cl->ctl != NULL) node_drop(cl, cl->ctl);
  maybe_finish_close(cl);
}

void
hra_cluster_free (hra_cluster_t *cl) {
  if (cl == NULL) return;
  for (size_t i = 0; i < cl->nsubs; i++)
    free(cl->subs[i].name);
  free(cl->subs);
  free(cl->buckets);
  for (size_t i = 0; i < cl->nseeds; i++)
    free((char *) cl->seeds[i].host);
  free(cl->seeds);
  free(cl->opts.username);
  free(cl->opts.password);
  free(cl->opts.name);
  hra_tls_unref(cl->opts.tls);
  free(cl);
}

void
hra_cluster_ref (hra_cluster_t *cl) {
  cl->refed = 1;
  for (node_t *n = cl->nodes; n != NULL; n = n->next)
    hra_conn_ref(n->conn);
}

void
hra_cluster_unref (hra_cluster_t *cl) {
  cl->refed = 0;
  for (node_t *n = cl->nodes; n != NULL; n = n->next)
    hra_conn_unref(n->conn);
}

void
hra_cluster_stats (hra_cluster_t *cl, hra_cluster_stats_t *out, hra_conn_stats_t *conns) {
  *out = cl->stats;
  memset(conns, 0, sizeof(*conns));
  out->nodes = 0;
  out->masters = 0;
  for (node_t *n = cl->nodes; n != NULL; n = n->next) {
    out->nodes++;
    if (n->master) out->masters++;
    const hra_conn_stats_t *s = hra_conn_stats(n->conn);
    conns->connects += s->connects;
    conns->disconnects += s->disconnects;
    conns->replies += s->replies;
    conns->messages += s->messages;
    conns->commands_dropped += s->commands_dropped;
    conns->commands_refused_full += s->commands_refused_full;
    conns->unanswered += s->unanswered;
    conns->bytes_read += s->bytes_read;
    conns->bytes_written += s->bytes_written;
  }
}

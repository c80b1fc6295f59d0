// Subscription commands (pubsub.h).
#include <stdlib.h>
#include <string.h>

#include "pubsub.h"

#define SUB_CHUNK 512  // channels per command

static const int kinds[3] = { 'c', 'p', 's' };

static const char *
sub_command (int kind, int subscribe) {
  switch (kind) {
    case 'p':
      return subscribe ? "PSUBSCRIBE" : "PUNSUBSCRIBE";
    case 's':
      return subscribe ? "SSUBSCRIBE" : "SUNSUBSCRIBE";
    default:
      return subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE";
  }
}

static int
send_chunks (hra_outq_t *q, int kind, int subscribe, const char **names, const size_t *lens, size_t n, uint64_t now_ms) {
  const char *argv[SUB_CHUNK + 1];
  size_t argvlen[SUB_CHUNK + 1];
  size_t done = 0;
  while (done < n) {
    size_t k = n - done < SUB_CHUNK ? n - done : SUB_CHUNK;
    argv[0] = sub_command(kind, subscribe);
    argvlen[0] = strlen(argv[0]);
    for (size_t i = 0; i < k; i++) {
      argv[i + 1] = names[done + i];
      argvlen[i + 1] = lens[done + i];
    }
    hra_outq_entry_t e;
    memset(&e, 0, sizeof(e));
    e.expect = (uint32_t) k;
    e.sub_kind = (uint8_t) kind;
    e.sub_dir = (uint8_t) subscribe;
    e.t_ms = now_ms;
    int err = hra_outq_push(q, &e, (int) k + 1, argv, argvlen);
    if (err) return err;
    done += k;
  }
  return HRA_OK;
}

typedef struct {
  uint16_t slot;
  size_t idx;
} slot_idx_t;

static int
cmp_slot_idx (const void *a, const void *b) {
  const slot_idx_t *x = a, *y = b;
  if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

// Sharded channels go out grouped by hash slot: on a cluster node one SSUBSCRIBE naming channels of
// different slots fails with CROSSSLOT (a standalone server does not mind either way).
static int
send_command (hra_outq_t *q, int kind, int subscribe, const char **names, const size_t *lens, size_t n, uint64_t now_ms) {
  if (kind != 's' || n < 2) return send_chunks(q, kind, subscribe, names, lens, n, now_ms);
  slot_idx_t *order = malloc(n * sizeof(*order));
  const char **gnames = malloc(n * sizeof(*gnames));
  size_t *glens = malloc(n * sizeof(*glens));
  int err = HRA_OK;
  if (order == NULL || gnames == NULL || glens == NULL) {
    // No memory to sort: one channel per command is always slot-safe.
    for (size_t i = 0; i < n && err == HRA_OK; i++)
      err = send_chunks(q, kind, subscribe, &names[i], &lens[i], 1, now_ms);
  } else {
    for (size_t i = 0; i < n; i++) {
      order[i].slot = hra_cluster_key_slot((const uint8_t *) names[i], lens[i]);
      order[i].idx = i;
    }
    qsort(order, n, sizeof(*order), cmp_slot_idx);
    size_t i = 0;
    while (i < n && err == HRA_OK) {
      size_t m = 0;
      uint16_t slot = order[i].slot;
      for (; i < n && order[i].slot == slot; i++, m++) {
        gnames[m] = names[order[i].idx];
        glens[m] = lens[order[i].idx];
      }
      err = send_chunks(q, kind, subscribe, gnames, glens, m, now_ms);
    }
  }
  free(order);
  free(gnames);
  free(glens);
  return err;
}

int
hra_pubsub_changes (hra_outq_t *q, hra_subs_t *subs, int connected, uint64_t now_ms) {
  size_t cap = hra_subs_dirty_count(subs);
  if (cap == 0) return 0;
  hra_sub_t *garbage = NULL;
  hra_sub_change_t *changes = connected ? malloc(cap * sizeof(*changes)) : NULL;
  const char **names = connected ? malloc(cap * sizeof(*names)) : NULL;
  size_t *lens = connected ? malloc(cap * sizeof(*lens)) : NULL;
  size_t n = 0;
  if (connected && (changes == NULL || names == NULL || lens == NULL)) {
    // Forget what was sent: the reconnect that follows restores exactly the wanted set.
    hra_subs_collect(subs, 0, NULL, &n, &garbage);
    hra_subs_free_garbage(garbage);
    free(changes);
    free(names);
    free(lens);
    return HRA_ENOMEM;
  }
  hra_subs_collect(subs, connected, changes, &n, &garbage);
  int err = HRA_OK;
  // Nothing is collected while disconnected (changes is NULL then): the reconnect sends the wanted set.
  for (int k = 0; k < 3 && err == HRA_OK && n > 0 && changes != NULL; k++) {
    for (int subscribe = 1; subscribe >= 0 && err == HRA_OK; subscribe--) {
      size_t m = 0;
      for (size_t i = 0; i < n; i++) {
        if (changes[i].sub->kind != kinds[k] || changes[i].subscribe != subscribe) continue;
        names[m] = changes[i].sub->name;
        lens[m] = changes[i].sub->len;
        m++;
      }
      if (m > 0) err = send_command(q, kinds[k], subscribe, names, lens, m, now_ms);
    }
  }
  hra_subs_free_garbage(garbage);
  free(changes);
  free(names);
  free(lens);
  return err ? err : n > 0;
}

typedef struct {
  const char **names;
  size_t *lens;
  size_t n;
  int kind;
} restore_ctx_t;

static void
restore_one (hra_sub_t *sub, void *data) {
  restore_ctx_t *r = data;
  if (sub->kind != r->kind) return;
  sub->sent = 1;
  sub->confirmed = 0;
  r->names[r->n] = sub->name;
  r->lens[r->n] = sub->len;
  r->n++;
}

int
hra_pubsub_restore (hra_outq_t *q, hra_subs_t *subs, uint64_t now_ms) {
  // Changes of the turn not yet sent are subsumed: the new connection gets the whole wanted set.
  hra_sub_t *garbage = NULL;
  size_t dropped = 0;
  hra_subs_collect(subs, 0, NULL, &dropped, &garbage);
  hra_subs_free_garbage(garbage);
  size_t total = subs->count;
  if (total == 0) return 0;
  restore_ctx_t r;
  r.names = malloc(total * sizeof(*r.names));
  r.lens = malloc(total * sizeof(*r.lens));
  int err = HRA_OK;
  int any = 0;
  if (r.names == NULL || r.lens == NULL) {
    err = HRA_ENOMEM;
    goto done;
  }
  for (int k = 0; k < 3 && err == HRA_OK; k++) {
    r.n = 0;
    r.kind = kinds[k];
    hra_subs_each(subs, restore_one, &r);
    if (r.n > 0) {
      err = send_command(q, kinds[k], 1, r.names, r.lens, r.n, now_ms);
      any = 1;
    }
  }
done:
  free(r.names);
  free(r.lens);
  return err ? err : any;
}

static int
slice_eq (hra_slice_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.base, lit, n) == 0;
}

int
hra_pubsub_classify (const hra_reply_t *r, hra_push_t *p) {
  static const struct {
    const char *name;
    int kind, subscribed;
  } confirmations[] = { { "subscribe", 'c', 1 }, { "psubscribe", 'p', 1 }, { "ssubscribe", 's', 1 }, { "unsubscribe", 'c', 0 }, { "punsubscribe", 'p', 0 }, { "sunsubscribe", 's', 0 } };
  memset(p, 0, sizeof(*p));
  if (r->count < 2 || r->nodes[0].type != HRA_R_ARRAY || r->nodes[1].type != HRA_R_STRING) return 0;
  hra_slice_t kind = hra_reply_str(r, 1);
  uint32_t n = r->nodes[0].len;
  if (kind.len < 7 || n < 3) return 0;
  int s2 = hra_reply_is(r, 2, HRA_R_STRING), s3 = hra_reply_is(r, 3, HRA_R_STRING);
  if (n == 3 && s2 && s3 && (slice_eq(kind, "message") || slice_eq(kind, "smessage"))) {
    p->what = kind.base[0] == 's' ? 's' : 'm';
    p->channel = hra_reply_str(r, 2);
    p->payload = hra_reply_str(r, 3);
    return p->what;
  }
  if (n == 4 && s2 && s3 && hra_reply_is(r, 4, HRA_R_STRING) && slice_eq(kind, "pmessage")) {
    p->what = 'p';
    p->pattern = hra_reply_str(r, 2);
    p->channel = hra_reply_str(r, 3);
    p->payload = hra_reply_str(r, 4);
    return p->what;
  }
  for (size_t i = 0; i < sizeof(confirmations) / sizeof(confirmations[0]); i++) {
    if (!slice_eq(kind, confirmations[i].name)) continue;
    p->what = 'c';
    p->kind = confirmations[i].kind;
    p->subscribed = confirmations[i].subscribed;
    p->named = s2;
    if (s2) p->channel = hra_reply_str(r, 2);
    return p->what;
  }
  return 0;
}

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "endpoint.h"
#include "handshake.h"
#include "stream.h"
#include "subs.h"

#define READ_CHUNK (64 * 1024)
#define SUB_CHUNK 512  // channels per SUBSCRIBE command when restoring subscriptions
#define CLOSE_FLUSH_MS 250
#define WRITE_CHUNK ((size_t) 1 << 30)  // bytes per uv_write: uv_buf_init takes an unsigned int
#define DEFAULT_MAX_OUTPUT ((size_t) 32 * 1024 * 1024)

typedef struct {
  hra_reply_cb cb;
  void *data;
  uint32_t expect;  // subscription confirmations still expected (0: a plain command)
  uint8_t internal;  // an internal command whose cb gets the conn itself as data
  uint8_t sub_kind;  // with expect: 'c', 'p' or 's', and whether it subscribes (1) or unsubscribes
  uint8_t sub_dir;
} fifo_entry_t;

struct hra_conn_s {
  uv_loop_t *loop;
  hra_conn_opts_t opts;
  hra_conn_cbs_t cbs;
  void *data;
  int state;
  int closing;
  int close_flushing;
  int refed;
  int pending;  // handles being closed and requests in flight that still point at us
  int subscriber_mode;

  hra_stream_t *stream;  // the byte stream to Redis (stream.h): TCP, a unix socket, or TLS over TCP
  int sock_connected;
  int stream_closing;  // a close of the stream is on its way (on_stream_closed follows)

  hra_endpoint_provider_t *endpoint;  // asked for where to go on every connect attempt
  hra_endpoint_t ep;  // its last answer: the endpoint of the current attempt
  int asking;  // an answer is awaited

  uv_timer_t timer;  // connect timeout, reconnect delay, close flush deadline
  uv_timer_t health;
  uint64_t last_read_ms;
  uint64_t last_error_event_ms;  // error replies without a callback are reported at most once a second
  int error_event_sent;
  uint64_t ping_sent_ms;
  int ping_outstanding;
  unsigned attempt;
  uint64_t rng;

  hra_resp_t resp;

  hra_buf_t out;
  hra_buf_t inflight;  // being written; bytes before inflight_off are handed to the socket
  size_t inflight_off;
  int writing;
  size_t write_queued;  // the socket's write queue size at the last progress check
  uint64_t write_progress_ms;  // when the socket last took bytes (or a write started)
  size_t fifo_max;  // reply callbacks allowed to wait (max_output_bytes' worth of entries)

  fifo_entry_t *fifo;
  size_t fifo_cap;
  size_t fifo_head;
  size_t fifo_len;

  hra_subs_t subs;
  uv_prepare_t subflush;  // sends the turn's subscription changes before the loop polls again
  int subflush_active;
  int write_error;  // a uv_write that failed at once; the connection fails from the prepare hook

  hra_handshake_t hs;  // the steps (handshake.h), built once from the options, run in order
  int handshake_left;
  hra_conn_stats_t stats;
  char rbuf[READ_CHUNK];
};

static void
start_connect (hra_conn_t *c);
static void
fail_connection (hra_conn_t *c, const char *code, const char *message);
static void
flush (hra_conn_t *c);
static void
schedule_subflush (hra_conn_t *c);
static void
finish_close (hra_conn_t *c);

static int
reader_reset (hra_conn_t *c) {
  return hra_resp_reset(&c->resp);
}

// ---------------------------------------------------------------------------------------------------
// Command FIFO

static int
fifo_push (hra_conn_t *c, hra_reply_cb cb, void *data, uint32_t expect, int internal) {
  if (c->fifo_len == c->fifo_cap) {
    size_t cap = c->fifo_cap ? c->fifo_cap * 2 : 32;
    fifo_entry_t *f = malloc(cap * sizeof(*f));
    if (f == NULL) return HRA_ENOMEM;
    for (size_t i = 0; i < c->fifo_len; i++)
      f[i] = c->fifo[(c->fifo_head + i) % c->fifo_cap];
    free(c->fifo);
    c->fifo = f;
    c->fifo_cap = cap;
    c->fifo_head = 0;
  }
  fifo_entry_t *e = &c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap];
  e->cb = cb;
  e->data = data;
  e->expect = expect;
  e->internal = (uint8_t) internal;
  e->sub_kind = 0;
  e->sub_dir = 0;
  c->fifo_len++;
  return HRA_OK;
}

static fifo_entry_t *
fifo_front (hra_conn_t *c) {
  return c->fifo_len ? &c->fifo[c->fifo_head] : NULL;
}

static fifo_entry_t
fifo_pop (hra_conn_t *c) {
  fifo_entry_t e = c->fifo[c->fifo_head];
  c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
  c->fifo_len--;
  return e;
}

// Every pending callback gets err and no reply; commands sent without one (PUBLISH) are counted as
// unanswered, since nobody else will know they were lost. Callbacks may queue new commands (refused
// while we are not ready) or close the connection, so entries are popped one at a time.
static void
fifo_fail_all (hra_conn_t *c, int err) {
  size_t n = c->fifo_len;
  while (n-- > 0 && c->fifo_len > 0) {
    fifo_entry_t e = fifo_pop(c);
    if (e.cb != NULL)
      e.cb(c, NULL, err, e.internal ? (void *) c : e.data);
    else if (e.expect == 0)
      c->stats.unanswered++;
  }
}

// ---------------------------------------------------------------------------------------------------
// Writing

// Formats the command into the output buffer (no allocation per command once it has grown) and
// writes.
static int
queue_command (hra_conn_t *c, int argc, const char **argv, const size_t *argvlen) {
  int err = hra_resp_format_command(&c->out, argc, argv, argvlen);
  if (err) return err;
  flush(c);
  return HRA_OK;
}

// Bytes of queued commands we hold: not yet written, or in a write the socket has not finished.
static size_t
output_backlog (const hra_conn_t *c) {
  return c->out.len + c->inflight.len;
}

static void
on_write (hra_stream_t *s, int status) {
  hra_conn_t *c = s->data;
  c->writing = 0;
  c->write_queued = 0;
  if (status < 0) {
    c->inflight.len = 0;
    c->inflight_off = 0;
    if (status != UV_ECANCELED && !c->closing) fail_connection(c, uv_err_name(status), uv_strerror(status));
    return;
  }
  if (c->inflight_off >= c->inflight.len) {
    c->inflight.len = 0;
    c->inflight_off = 0;
  }
  flush(c);
  if (c->close_flushing && !c->writing && c->out.len == 0) finish_close(c);
}

// Writes the next chunk: the rest of inflight, or else what has been queued in out meanwhile (the two
// buffers swap). A chunk is at most WRITE_CHUNK bytes, so no length is ever cut by the unsigned int of
// uv_buf_init.
static void
flush (hra_conn_t *c) {
  if (c->writing || !c->sock_connected || c->write_error) return;
  if (c->inflight_off >= c->inflight.len) {
    if (c->out.len == 0) return;
    hra_buf_t tmp = c->inflight;
    c->inflight = c->out;
    c->out = tmp;
    c->out.len = 0;
    c->inflight_off = 0;
  }
  size_t n = c->inflight.len - c->inflight_off;
  if (n > WRITE_CHUNK) n = WRITE_CHUNK;
  uv_buf_t b = uv_buf_init((char *) c->inflight.data + c->inflight_off, (unsigned int) n);
  int err = c->stream->vt->write(c->stream, &b, 1);
  if (err) {
    // Not fail_connection() here: flush() runs inside hra_conn_command, whose caller must not see reply
    // callbacks (failed by fail_connection) before it returns. The prepare hook fails the connection
    // before the loop polls again.
    c->inflight.len = 0;
    c->inflight_off = 0;
    c->write_error = err;
    schedule_subflush(c);
    return;
  }
  c->inflight_off += n;
  c->stats.bytes_written += n;
  c->writing = 1;
  c->write_queued = c->stream->vt->write_queue_size(c->stream);
  c->write_progress_ms = uv_now(c->loop);
}

// ---------------------------------------------------------------------------------------------------
// Subscriptions

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
send_sub_chunks (hra_conn_t *c, int kind, int subscribe, const char **names, const size_t *lens, size_t n) {
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
    int err = fifo_push(c, NULL, NULL, (uint32_t) k, 0);
    if (err) return err;
    fifo_entry_t *e = &c->fifo[(c->fifo_head + c->fifo_len - 1) % c->fifo_cap];
    e->sub_kind = (uint8_t) kind;
    e->sub_dir = (uint8_t) subscribe;
    err = queue_command(c, (int) k + 1, argv, argvlen);
    if (err) return err;
    done += k;
  }
  c->subscriber_mode = 1;
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
send_sub_command (hra_conn_t *c, int kind, int subscribe, const char **names, const size_t *lens, size_t n) {
  if (kind != 's' || n < 2) return send_sub_chunks(c, kind, subscribe, names, lens, n);
  slot_idx_t *order = malloc(n * sizeof(*order));
  const char **gnames = malloc(n * sizeof(*gnames));
  size_t *glens = malloc(n * sizeof(*glens));
  int err = HRA_OK;
  if (order == NULL || gnames == NULL || glens == NULL) {
    // No memory to sort: one channel per command is always slot-safe.
    for (size_t i = 0; i < n && err == HRA_OK; i++)
      err = send_sub_chunks(c, kind, subscribe, &names[i], &lens[i], 1);
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
      err = send_sub_chunks(c, kind, subscribe, gnames, glens, m);
    }
  }
  free(order);
  free(gnames);
  free(glens);
  return err;
}

static void
on_subflush (uv_prepare_t *p);

static void
schedule_subflush (hra_conn_t *c) {
  if (c->subflush_active || c->closing) return;
  c->subflush_active = 1;
  uv_prepare_start(&c->subflush, on_subflush);
}

// Sends every subscription change made since the last turn: one command per kind and direction (in chunks
// of SUB_CHUNK), nothing for a channel subscribed and unsubscribed again within the turn.
static void
send_sub_changes (hra_conn_t *c) {
  static const int kinds[3] = { 'c', 'p', 's' };
  size_t cap = hra_subs_dirty_count(&c->subs);
  if (cap == 0) return;
  int connected = c->state == HRA_CONN_READY;
  hra_sub_t *garbage = NULL;
  hra_sub_change_t *changes = connected ? malloc(cap * sizeof(*changes)) : NULL;
  const char **names = connected ? malloc(cap * sizeof(*names)) : NULL;
  size_t *lens = connected ? malloc(cap * sizeof(*lens)) : NULL;
  if (connected && (changes == NULL || names == NULL || lens == NULL)) {
    // Forget what was sent: the reconnect that follows restores exactly the wanted set.
    size_t n = 0;
    hra_subs_collect(&c->subs, 0, NULL, &n, &garbage);
    hra_subs_free_garbage(garbage);
    free(changes);
    free(names);
    free(lens);
    fail_connection(c, "ENOMEM", "out of memory while subscribing");
    return;
  }
  size_t n = 0;
  hra_subs_collect(&c->subs, connected, changes, &n, &garbage);
  int err = HRA_OK;
  for (int k = 0; k < 3 && err == HRA_OK && n > 0; k++) {
    for (int subscribe = 1; subscribe >= 0 && err == HRA_OK; subscribe--) {
      size_t m = 0;
      for (size_t i = 0; i < n; i++) {
        if (changes[i].sub->kind != kinds[k] || changes[i].subscribe != subscribe) continue;
        names[m] = changes[i].sub->name;
        lens[m] = changes[i].sub->len;
        m++;
      }
      if (m > 0) err = send_sub_command(c, kinds[k], subscribe, names, lens, m);
    }
  }
  hra_subs_free_garbage(garbage);
  free(changes);
  free(names);
  free(lens);
  if (err) fail_connection(c, "ENOMEM", "out of memory while subscribing");
}

static void
on_subflush (uv_prepare_t *p) {
  hra_conn_t *c = p->data;
  uv_prepare_stop(p);
  c->subflush_active = 0;
  if (c->write_error) {
    int err = c->write_error;
    c->write_error = 0;
    fail_connection(c, uv_err_name(err), uv_strerror(err));
    return;
  }
  send_sub_changes(c);
}

int
hra_conn_subscribe (hra_conn_t *c, int kind, const char *name, size_t len) {
  if (c->closing) return HRA_ECLOSED;
  int r = hra_subs_ref(&c->subs, kind, name, len);
  if (r < 0) return r;
  if (r > 0) schedule_subflush(c);
  return HRA_OK;
}

int
hra_conn_unsubscribe (hra_conn_t *c, int kind, const char *name, size_t len) {
  if (hra_subs_unref(&c->subs, kind, name, len) > 0) schedule_subflush(c);
  return HRA_OK;
}

int
hra_conn_subscription_confirmed (hra_conn_t *c, int kind, const char *name, size_t len) {
  const hra_sub_t *s = hra_subs_find(&c->subs, kind, name, len);
  if (s == NULL || s->refs == 0) return -1;
  return s->confirmed ? 1 : 0;
}

int
hra_conn_resubscribe (hra_conn_t *c, int kind, const char *name, size_t len) {
  if (c->closing) return HRA_ECLOSED;
  if (hra_subs_force(&c->subs, kind, name, len) > 0) schedule_subflush(c);
  return HRA_OK;
}

size_t
hra_conn_subscription_count (hra_conn_t *c, int kind) {
  return hra_subs_confirmed_count(&c->subs, kind);
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

static int
restore_subscriptions (hra_conn_t *c) {
  static const int kinds[3] = { 'c', 'p', 's' };
  // Changes of the turn not yet sent are subsumed: the new connection gets the whole wanted set.
  hra_sub_t *garbage = NULL;
  size_t dropped = 0;
  hra_subs_collect(&c->subs, 0, NULL, &dropped, &garbage);
  hra_subs_free_garbage(garbage);
  size_t total = c->subs.count;
  if (total == 0) return HRA_OK;
  restore_ctx_t r;
  r.names = malloc(total * sizeof(*r.names));
  r.lens = malloc(total * sizeof(*r.lens));
  int err = HRA_OK;
  if (r.names == NULL || r.lens == NULL) {
    err = HRA_ENOMEM;
    goto done;
  }
  for (int k = 0; k < 3 && err == HRA_OK; k++) {
    r.n = 0;
    r.kind = kinds[k];
    hra_subs_each(&c->subs, restore_one, &r);
    if (r.n > 0) err = send_sub_command(c, kinds[k], 1, r.names, r.lens, r.n);
  }
done:
  free(r.names);
  free(r.lens);
  return err;
}

static void
mark_confirmed (hra_conn_t *c, int kind, hra_slice_t name, int subscribed) {
  hra_subs_mark_confirmed(&c->subs, kind, (const char *) name.base, name.len, subscribed);
}

// ---------------------------------------------------------------------------------------------------
// Reply dispatch

static int
slice_eq (hra_slice_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.base, lit, n) == 0;
}

static void
deliver_to_fifo (hra_conn_t *c, const hra_reply_t *reply) {
  if (c->fifo_len == 0) {
    // A reply nobody asked for: the stream is out of step with our FIFO; start over.
    fail_connection(c, "EPROTO", "unexpected reply from Redis");
    return;
  }
  fifo_entry_t e = fifo_pop(c);
  if (e.expect > 0 && hra_reply_is(reply, 0, HRA_R_ERROR)) {
    hra_slice_t msg = hra_reply_str(reply, 0);
    char text[256];
    snprintf(text, sizeof(text), "%s failed: %.*s", "subscription", (int) (msg.len > 200 ? 200 : msg.len), (const char *) msg.base);
    c->cbs.on_event(c, HRA_EV_ERROR, "ESUBSCRIBE", text, 0);
  }
  if (e.cb == NULL && e.expect == 0 && hra_reply_is(reply, 0, HRA_R_ERROR)) {
    // Nobody waits for this reply (a PUBLISH): count it, and tell the owner, at most once a second.
    c->stats.command_errors++;
    uint64_t now = uv_now(c->loop);
    if (!c->error_event_sent || now - c->last_error_event_ms >= 1000) {
      c->error_event_sent = 1;
      c->last_error_event_ms = now;
      hra_slice_t msg = hra_reply_str(reply, 0);
      char code[32];
      hra_redis_error_code(msg, code, sizeof(code));
      char text[256];
      snprintf(text, sizeof(text), "Redis refused a command: %.*s", (int) (msg.len > 200 ? 200 : msg.len), (const char *) msg.base);
      c->cbs.on_event(c, HRA_EV_ERROR, code, text, 0);
    }
    return;
  }
  if (e.cb != NULL) e.cb(c, reply, 0, e.internal ? (void *) c : e.data);
}

static void
dispatch_reply (hra_conn_t *c, const hra_reply_t *r) {
  c->stats.replies++;
  if (c->subscriber_mode && r->count >= 2 && r->nodes[0].type == HRA_R_ARRAY && r->nodes[1].type == HRA_R_STRING) {
    hra_slice_t kind = hra_reply_str(r, 1);
    uint32_t n = r->nodes[0].len;
    if (kind.len >= 7 && n >= 3) {
      if (n == 3 && slice_eq(kind, "message") && hra_reply_is(r, 2, HRA_R_STRING) && hra_reply_is(r, 3, HRA_R_STRING)) {
        hra_slice_t none = { NULL, 0 };
        c->stats.messages++;
        c->cbs.on_message(c, 'm', none, hra_reply_str(r, 2), hra_reply_str(r, 3));
        return;
      }
      if (n == 4 && slice_eq(kind, "pmessage") && hra_reply_is(r, 2, HRA_R_STRING) && hra_reply_is(r, 3, HRA_R_STRING) && hra_reply_is(r, 4, HRA_R_STRING)) {
        c->stats.messages++;
        c->cbs.on_message(c, 'p', hra_reply_str(r, 2), hra_reply_str(r, 3), hra_reply_str(r, 4));
        return;
      }
      if (n == 3 && slice_eq(kind, "smessage") && hra_reply_is(r, 2, HRA_R_STRING) && hra_reply_is(r, 3, HRA_R_STRING)) {
        hra_slice_t none = { NULL, 0 };
        c->stats.messages++;
        c->cbs.on_message(c, 's', none, hra_reply_str(r, 2), hra_reply_str(r, 3));
        return;
      }
      int sub = -1, skind = 0;
      if (slice_eq(kind, "subscribe"))
        sub = 1, skind = 'c';
      else if (slice_eq(kind, "psubscribe"))
        sub = 1, skind = 'p';
      else if (slice_eq(kind, "ssubscribe"))
        sub = 1, skind = 's';
      else if (slice_eq(kind, "unsubscribe"))
        sub = 0, skind = 'c';
      else if (slice_eq(kind, "punsubscribe"))
        sub = 0, skind = 'p';
      else if (slice_eq(kind, "sunsubscribe"))
        sub = 0, skind = 's';
      if (sub >= 0) {
        if (hra_reply_is(r, 2, HRA_R_STRING)) mark_confirmed(c, skind, hra_reply_str(r, 2), sub);
        fifo_entry_t *head = fifo_front(c);
        if (head == NULL || head->expect == 0 || head->sub_kind != skind || head->sub_dir != sub) {
          // Not the answer to a command of ours: a push from the server.
          if (sub == 0 && c->cbs.on_sub_lost != NULL && hra_reply_is(r, 2, HRA_R_STRING)) {
            hra_slice_t name = hra_reply_str(r, 2);
            const hra_sub_t *s = hra_subs_find(&c->subs, skind, (const char *) name.base, name.len);
            if (s != NULL && s->refs > 0) c->cbs.on_sub_lost(c, skind, name);
          }
          return;
        }
        if (head != NULL && head->expect > 0) {
          if (--head->expect == 0) {
            fifo_entry_t e = fifo_pop(c);
            if (e.cb != NULL) e.cb(c, r, 0, e.internal ? (void *) c : e.data);
          }
        }
        // A confirmation we did not ask for (a server-side sunsubscribe on slot migration) is only
        // recorded above.
        return;
      }
    }
  }
  deliver_to_fifo(c, r);
  // A master demoted under us (a Sentinel failover) refuses writes: leave it, ask where the master went.
  if (hra_handshake_demoted(r, &c->ep)) fail_connection(c, "READONLY", "the node is no longer the master (READONLY): asking Sentinel again");
}

// ---------------------------------------------------------------------------------------------------
// Reading

static void
on_read (hra_stream_t *s, ssize_t nread, const char *buf) {
  hra_conn_t *c = s->data;
  // While closing (flushing the last writes) replies and messages are no longer wanted.
  if (nread == 0 || c->closing) return;
  if (nread < 0) {
    if (nread == UV_EOF)
      fail_connection(c, "ECONNRESET", "connection closed by Redis");
    else
      fail_connection(c, uv_err_name((int) nread), uv_strerror((int) nread));
    return;
  }
  c->stats.bytes_read += (uint64_t) nread;
  c->last_read_ms = uv_now(c->loop);
  c->ping_outstanding = 0;  // any byte proves the peer is alive; the PING reply still pops its entry
  if (hra_resp_feed(&c->resp, buf, (size_t) nread) != HRA_OK) {
    fail_connection(c, "ENOMEM", "out of memory while reading");
    return;
  }
  int any = 0;
  for (;;) {
    hra_reply_t reply;
    int r = hra_resp_next(&c->resp, &reply);
    if (r == HRA_ELIMIT) {
      fail_connection(c, "EMSGSIZE", "a reply from Redis exceeds maxReplyMB (counting its parsed elements)");
      break;
    }
    if (r < 0) {
      fail_connection(c, r == HRA_ENOMEM ? "ENOMEM" : "EPROTO", r == HRA_ENOMEM ? "out of memory while parsing a reply" : "protocol error in a reply from Redis");
      break;
    }
    if (r == 0) {
      // An incomplete reply stays in the reader: bound how much of it we are willing to buffer.
      if (hra_resp_buffered(&c->resp) > c->opts.max_reply_bytes) {
        fail_connection(c, "EMSGSIZE", "a reply from Redis exceeds maxReplyBytes");
      }
      break;
    }
    any = 1;
    dispatch_reply(c, &reply);
    hra_resp_consumed(&c->resp);
    if (c->closing || (c->state != HRA_CONN_READY && c->state != HRA_CONN_HANDSHAKE)) break;
  }
  // Messages parsed before a failure are still good: hand them over in any case.
  if (any) c->cbs.on_flush(c);
}

// ---------------------------------------------------------------------------------------------------
// Connection lifecycle

static uint32_t
next_random (hra_conn_t *c) {
  // xorshift64*: jitter only, no security role.
  c->rng ^= c->rng >> 12;
  c->rng ^= c->rng << 25;
  c->rng ^= c->rng >> 27;
  return (uint32_t) ((c->rng * 2685821657736338717ULL) >> 32);
}

static void
on_timer_retry (uv_timer_t *t) {
  hra_conn_t *c = t->data;
  if (c->closing) return;
  start_connect(c);
}

static void
schedule_retry (hra_conn_t *c) {
  if (c->closing) return;
  uint64_t delay = c->opts.retry_base_ms;
  unsigned shift = c->attempt < 20 ? c->attempt : 20;
  delay <<= shift;
  if (delay > c->opts.retry_max_ms) delay = c->opts.retry_max_ms;
  // Full jitter on the upper half, so a fleet does not reconnect in lockstep.
  delay = delay / 2 + (delay / 2 ? next_random(c) % (delay / 2 + 1) : 0);
  c->attempt++;
  c->state = HRA_CONN_WAIT_RETRY;
  c->cbs.on_event(c, HRA_EV_RECONNECTING, NULL, NULL, (int64_t) delay);
  if (c->closing) return;
  c->timer.data = c;
  uv_timer_start(&c->timer, on_timer_retry, delay, 0);
}

static void
on_stream_closed (hra_stream_t *s) {
  hra_conn_t *c = s->data;
  c->stream_closing = 0;
  c->pending--;
  if (c->closing) {
    finish_close(c);
    return;
  }
  schedule_retry(c);
}

// Closes the stream; a reconnect is scheduled once it is closed (at once when it was idle), unless
// the connection is closing.
static void
close_stream (hra_conn_t *c) {
  c->sock_connected = 0;
  if (c->stream_closing) return;
  if (c->stream->vt->close(c->stream)) {
    c->stream_closing = 1;
    c->pending++;
  } else if (!c->closing) {
    schedule_retry(c);
  }
}

static void
fail_connection (hra_conn_t *c, const char *code, const char *message) {
  if (c->closing) return;
  int was = c->state;
  if (was == HRA_CONN_WAIT_RETRY || was == HRA_CONN_IDLE) return;
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->health);
  c->state = HRA_CONN_WAIT_RETRY;
  if (was == HRA_CONN_READY || was == HRA_CONN_HANDSHAKE) c->stats.disconnects++;
  c->out.len = 0;
  c->ping_outstanding = 0;
  c->subscriber_mode = 0;
  hra_subs_reset_sent(&c->subs);
  if (reader_reset(c) != 0) c->resp.oom = 1;
  // Report first, then fail the pending commands: callbacks see a consistent "not connected" state.
  if (code != NULL) c->cbs.on_event(c, HRA_EV_ERROR, code, message, 0);
  if (c->closing) return;
  if (was == HRA_CONN_READY || was == HRA_CONN_HANDSHAKE) c->cbs.on_event(c, HRA_EV_DISCONNECT, code, message, 0);
  if (c->closing) return;
  fifo_fail_all(c, HRA_ENOTCONN);
  if (c->closing) return;
  close_stream(c);
}

static void
on_health (uv_timer_t *t);
static void
on_connect_timeout (uv_timer_t *t);

static void
on_ready (hra_conn_t *c) {
  uv_timer_stop(&c->timer);
  c->state = HRA_CONN_READY;
  c->attempt = 0;
  int err = restore_subscriptions(c);
  if (err) {
    fail_connection(c, "ENOMEM", "out of memory while restoring subscriptions");
    return;
  }
  c->last_read_ms = uv_now(c->loop);
  if (c->opts.health_interval_ms > 0) {
    uint64_t period = c->opts.health_interval_ms < c->opts.health_timeout_ms ? c->opts.health_interval_ms : c->opts.health_timeout_ms;
    period = period / 2 > 50 ? period / 2 : 50;
    uv_timer_start(&c->health, on_health, period, period);
  }
  c->cbs.on_event(c, HRA_EV_READY, NULL, NULL, 0);
}

// Each step's reply, in order: handshake.c's verdict fails the connection or counts the step done, and
// the last one makes the connection ready.
static void
on_step_reply (hra_conn_t *c_, const hra_reply_t *reply, int err, void *data) {
  hra_conn_t *c = data;
  if (reply == NULL) return;  // the connection failed; fail_connection already reported it
  char code[32], text[256];
  const hra_handshake_step_t *st = &c->hs.steps[c->hs.count - c->handshake_left];
  if (hra_handshake_judge(st, reply, &c->ep, code, sizeof(code), text, sizeof(text)) != HRA_OK) {
    fail_connection(c, code, text);
    return;
  }
  if (--c->handshake_left == 0) on_ready(c);
}

// Sends every step at once (pipelined); each reply callback counts down handshake_left, and the last
// one makes the connection ready.
static void
start_handshake (hra_conn_t *c) {
  int err = 0;
  c->state = HRA_CONN_HANDSHAKE;
  c->handshake_left = 0;
  for (int i = 0; i < c->hs.count && !err; i++) {
    hra_handshake_step_t *st = &c->hs.steps[i];
    c->handshake_left++;
    err = fifo_push(c, on_step_reply, NULL, 0, 1) || queue_command(c, st->argc, st->argv, st->lens);
  }
  if (err) fail_connection(c, "ENOMEM", "out of memory during the handshake");
}

// The stream's connect attempt is over.
static void
on_stream_connect (hra_stream_t *s, int status) {
  hra_conn_t *c = s->data;
  if (c->closing) return;
  uv_timer_stop(&c->timer);
  if (status < 0) {
    // Reported through on_stream_error already.
    schedule_retry(c);
    return;
  }
  c->sock_connected = 1;
  c->stats.connects++;
  c->stream->vt->hints(c->stream, 1, c->opts.keepalive_s);
  int err = c->stream->vt->read_start(c->stream, c->rbuf, sizeof(c->rbuf));
  if (err) {
    c->state = HRA_CONN_CONNECTING;
    fail_connection(c, uv_err_name(err), uv_strerror(err));
    return;
  }
  c->cbs.on_event(c, HRA_EV_CONNECT, NULL, NULL, 0);
  if (c->closing) return;
  // connectTimeout also bounds the handshake: Redis must answer within it.
  c->timer.data = c;
  uv_timer_start(&c->timer, on_connect_timeout, c->opts.connect_timeout_ms, 0);
  start_handshake(c);
}

// A step of the attempt failed (an address refused, a name not resolved): reported; the stream goes on
// with the next address, or ends the attempt.
static void
on_stream_error (hra_stream_t *s, const char *code, const char *message) {
  hra_conn_t *c = s->data;
  if (c->sock_connected) {  // the connected stream failed (a TLS alert): the connection goes
    fail_connection(c, code, message);
    return;
  }
  uv_timer_stop(&c->timer);
  c->state = HRA_CONN_WAIT_RETRY;
  c->cbs.on_event(c, HRA_EV_ERROR, code, message, 0);
}

// The attempt resolves a name or connects to an address: each gets connectTimeout.
static void
on_stream_connecting (hra_stream_t *s, int resolving) {
  hra_conn_t *c = s->data;
  c->state = resolving ? HRA_CONN_RESOLVING : HRA_CONN_CONNECTING;
  c->timer.data = c;
  uv_timer_start(&c->timer, on_connect_timeout, c->opts.connect_timeout_ms, 0);
}

static void
on_connect_timeout (uv_timer_t *t) {
  hra_conn_t *c = t->data;
  if (c->state == HRA_CONN_HANDSHAKE) {
    char text[128];
    snprintf(text, sizeof(text), "Redis did not answer the connection handshake within %u ms", c->opts.connect_timeout_ms);
    fail_connection(c, "ETIMEDOUT", text);
    return;
  }
  if (c->state != HRA_CONN_CONNECTING && c->state != HRA_CONN_RESOLVING) return;
  char text[96];
  snprintf(text, sizeof(text), "connect timed out after %u ms", c->opts.connect_timeout_ms);
  c->cbs.on_event(c, HRA_EV_ERROR, "ETIMEDOUT", text, 0);
  if (c->closing) return;
  // Resolving: a lookup still queued is taken back (its end retries); one already running goes on with
  // its answer. Connecting: the socket is closed and the attempt fails (a retry follows).
  if (c->state == HRA_CONN_CONNECTING) c->state = HRA_CONN_WAIT_RETRY;
  c->stream->vt->abort(c->stream);
}

static void
start_connect (hra_conn_t *c) {
  if (c->closing) return;
  if (reader_reset(c) != 0) {
    c->cbs.on_event(c, HRA_EV_ERROR, "ENOMEM", "out of memory", 0);
    schedule_retry(c);
    return;
  }
  c->out.len = 0;
  c->write_error = 0;
  c->subscriber_mode = 0;
  // A new attempt: ask where to go now (on_endpoint_answer, maybe at once).
  c->state = HRA_CONN_RESOLVING;
  c->asking = 1;
  hra_endpoint_ask(c->endpoint);
}

static void
on_endpoint_answer (hra_endpoint_provider_t *p, int status, const hra_endpoint_t *ep, const char *code, const char *message) {
  hra_conn_t *c = p->owner;
  if (!c->asking || c->closing) return;
  c->asking = 0;
  if (status != HRA_OK) {
    c->cbs.on_event(c, HRA_EV_ERROR, code != NULL ? code : "ENOENDPOINT", message != NULL ? message : "no Redis endpoint is known", 0);
    schedule_retry(c);
    return;
  }
  c->ep = *ep;
  c->stream->vt->connect(c->stream, &c->ep);
}

// Where to go changed (a failover): leave the node we are on, or retry now rather than after the backoff.
static void
on_endpoint_change (hra_endpoint_provider_t *p, const char *message) {
  hra_conn_t *c = p->owner;
  if (c->closing || c->asking) return;
  c->attempt = 0;
  if (c->state != HRA_CONN_WAIT_RETRY)
    fail_connection(c, NULL, message);
  else if (uv_is_active((uv_handle_t *) &c->timer))  // in WAIT_RETRY an active timer is the retry's
    uv_timer_start(&c->timer, on_timer_retry, 0, 0);
}

static void
on_endpoint_closed (hra_endpoint_provider_t *p) {
  hra_conn_t *c = p->owner;
  c->pending--;
  finish_close(c);
}

static void
on_ping_reply (hra_conn_t *c_, const hra_reply_t *reply, int err, void *data) {
  hra_conn_t *c = data;
  if (reply != NULL) c->ping_outstanding = 0;
}

static void
on_health (uv_timer_t *t) {
  hra_conn_t *c = t->data;
  if (c->state != HRA_CONN_READY || c->closing) return;
  uint64_t now = uv_now(c->loop);
  if (c->writing) {
    // Redis (or whatever holds the socket) must keep taking our bytes: a write queue that has not
    // shrunk for healthTimeout means it stopped reading, and the backlog only grows from here.
    size_t q = c->stream->vt->write_queue_size(c->stream);
    if (q < c->write_queued) {
      c->write_queued = q;
      c->write_progress_ms = now;
    } else if (now - c->write_progress_ms >= c->opts.health_timeout_ms) {
      char text[160];
      snprintf(text, sizeof(text), "Redis has not read our output for %u ms (%zu bytes waiting): the connection is considered dead", c->opts.health_timeout_ms, output_backlog(c));
      fail_connection(c, "ETIMEDOUT", text);
      return;
    }
  }
  if (c->ping_outstanding) {
    if (now - c->ping_sent_ms >= c->opts.health_timeout_ms && now - c->last_read_ms >= c->opts.health_timeout_ms) {
      char text[128];
      snprintf(text, sizeof(text), "no reply from Redis within %u ms: the connection is considered dead", c->opts.health_timeout_ms);
      fail_connection(c, "ETIMEDOUT", text);
    }
    return;
  }
  if (now - c->last_read_ms < c->opts.health_interval_ms) return;
  const char *argv[1] = { "PING" };
  size_t lens[1] = { 4 };
  if (fifo_push(c, on_ping_reply, NULL, 0, 1) != 0 || queue_command(c, 1, argv, lens) != 0) {
    fail_connection(c, "ENOMEM", "out of memory");
    return;
  }
  c->ping_outstanding = 1;
  c->ping_sent_ms = now;
}

// ---------------------------------------------------------------------------------------------------
// Public API

static char *
dup_or_null (const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d != NULL) memcpy(d, s, n + 1);
  return d;
}

static void
free_opts (hra_conn_opts_t *o) {
  free(o->host);
  free(o->path);
  free(o->username);
  free(o->password);
  free(o->name);
}

static const hra_stream_cbs_t stream_cbs = { on_stream_error, on_stream_connecting, on_stream_connect, on_read, on_write, on_stream_closed };
static const hra_endpoint_owner_cbs_t endpoint_cbs = { on_endpoint_answer, on_endpoint_change, on_endpoint_closed };

hra_conn_t *
hra_conn_new (uv_loop_t *loop, const hra_conn_opts_t *opts, const hra_conn_cbs_t *cbs, void *data) {
  hra_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    hra_endpoint_free(opts->endpoint);
    return NULL;
  }
  c->loop = loop;
  c->opts = *opts;
  // Where to connect is the endpoint provider's business: the caller's (taken), or a fixed address.
  c->endpoint = opts->endpoint != NULL ? opts->endpoint : hra_endpoint_fixed_new(opts->host, opts->port, opts->path);
  c->opts.endpoint = NULL;
  c->opts.host = NULL;
  c->opts.path = NULL;
  c->opts.username = dup_or_null(opts->username);
  c->opts.password = dup_or_null(opts->password);
  c->opts.name = dup_or_null(opts->name);
  c->stream = hra_stream_new(loop, opts->tls, &stream_cbs, c);
  c->opts.tls = NULL;  // the stream holds its own reference
  if (c->stream == NULL || c->endpoint == NULL || (opts->username && !c->opts.username) || (opts->password && !c->opts.password) ||
    (opts->name && !c->opts.name)) {
    if (c->stream != NULL) c->stream->vt->free(c->stream);
    hra_endpoint_free(c->endpoint);
    free_opts(&c->opts);
    free(c);
    return NULL;
  }
  if (c->opts.connect_timeout_ms == 0) c->opts.connect_timeout_ms = 10000;
  if (c->opts.retry_base_ms == 0) c->opts.retry_base_ms = 50;
  if (c->opts.retry_max_ms == 0) c->opts.retry_max_ms = 1000;
  if (c->opts.health_timeout_ms == 0) c->opts.health_timeout_ms = 5000;
  if (c->opts.max_reply_bytes == 0) c->opts.max_reply_bytes = (size_t) 512 * 1024 * 1024;
  if (c->opts.max_output_bytes == 0) c->opts.max_output_bytes = DEFAULT_MAX_OUTPUT;
  c->resp.max_bytes = c->opts.max_reply_bytes;
  c->endpoint->owner_cbs = &endpoint_cbs;
  c->endpoint->owner = c;
  hra_handshake_build(&c->hs, c->opts.username, c->opts.password, c->opts.db, c->opts.name, c->endpoint->checks_role);
  c->fifo_max = c->opts.max_output_bytes / sizeof(fifo_entry_t);
  if (c->fifo_max < 1024) c->fifo_max = 1024;
  c->cbs = *cbs;
  c->data = data;
  c->refed = 1;
  c->rng = uv_hrtime() ^ (uint64_t) (uintptr_t) c;
  if (c->rng == 0) c->rng = 0x9e3779b97f4a7c15ULL;
  uv_timer_init(loop, &c->timer);
  uv_timer_init(loop, &c->health);
  uv_prepare_init(loop, &c->subflush);
  c->subflush.data = c;
  uv_unref((uv_handle_t *) &c->subflush);
  hra_subs_init(&c->subs, c->rng ^ (uint64_t) (uintptr_t) &c->subs);
  c->timer.data = c;
  c->health.data = c;
  // The health timer never keeps the process alive by itself.
  uv_unref((uv_handle_t *) &c->health);
  c->state = HRA_CONN_IDLE;
  return c;
}

void *
hra_conn_data (hra_conn_t *c) {
  return c->data;
}

int
hra_conn_state (hra_conn_t *c) {
  return c->state;
}

const hra_conn_stats_t *
hra_conn_stats (hra_conn_t *c) {
  return &c->stats;
}

int
hra_conn_start (hra_conn_t *c) {
  if (c->closing) return HRA_ECLOSED;
  if (c->state != HRA_CONN_IDLE) return HRA_OK;
  start_connect(c);
  return HRA_OK;
}

int
hra_conn_command (hra_conn_t *c, int argc, const char **argv, const size_t *argvlen, hra_reply_cb cb, void *data) {
  if (c->closing) return HRA_ECLOSED;
  if (c->state != HRA_CONN_READY) {
    c->stats.commands_dropped++;
    return HRA_ENOTCONN;
  }
  // The bound: past it nothing is queued (the caller counts a dropped publish, rejects a command).
  // Memory stays under max_output_bytes plus the last command accepted, and as much for callbacks.
  if (output_backlog(c) >= c->opts.max_output_bytes || c->fifo_len >= c->fifo_max) {
    c->stats.commands_refused_full++;
    return HRA_ENOBUFS;
  }
  int err = fifo_push(c, cb, data, 0, 0);
  if (err) return err;
  err = queue_command(c, argc, argv, argvlen);
  if (err) {
    // Take the entry back: it was the last one pushed.
    c->fifo_len--;
    return err;
  }
  return HRA_OK;
}

static void
on_handle_close (uv_handle_t *h) {
  hra_conn_t *c = h->data;
  c->pending--;
  finish_close(c);
}

static void
finish_close (hra_conn_t *c) {
  if (c->close_flushing) {
    // hra_conn_close() asked to flush first; now really close.
    c->close_flushing = 0;
    uv_timer_stop(&c->timer);
    close_stream(c);
    c->pending += 3;
    uv_close((uv_handle_t *) &c->timer, on_handle_close);
    uv_close((uv_handle_t *) &c->health, on_handle_close);
    uv_close((uv_handle_t *) &c->subflush, on_handle_close);
    if (hra_endpoint_close(c->endpoint)) c->pending++;
    return;
  }
  if (c->pending > 0 || c->state == HRA_CONN_CLOSED) return;
  c->state = HRA_CONN_CLOSED;
  c->cbs.on_closed(c);
}

static void
on_close_flush_timeout (uv_timer_t *t) {
  hra_conn_t *c = t->data;
  if (c->close_flushing) finish_close(c);
}

void
hra_conn_close (hra_conn_t *c) {
  if (c->closing) return;
  // The last unsubscribes of the owner's close() go out with the final flush.
  if (c->state == HRA_CONN_READY) send_sub_changes(c);
  uv_prepare_stop(&c->subflush);
  c->subflush_active = 0;
  c->closing = 1;
  int was = c->state;
  c->state = HRA_CONN_CLOSING;
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->health);
  fifo_fail_all(c, HRA_ECLOSED);
  c->close_flushing = 1;
  if (was == HRA_CONN_READY && c->sock_connected && (c->writing || c->out.len > 0)) {
    // Let queued commands (the last publishes, the unsubscribes) reach Redis, for a short while.
    flush(c);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_close_flush_timeout, CLOSE_FLUSH_MS, 0);
    return;
  }
  finish_close(c);
}

void
hra_conn_free (hra_conn_t *c) {
  if (c == NULL) return;
  if (c->stream != NULL) c->stream->vt->free(c->stream);
  hra_resp_free(&c->resp);
  hra_subs_free(&c->subs);
  free(c->fifo);
  hra_buf_free(&c->out);
  hra_buf_free(&c->inflight);
  free_opts(&c->opts);
  hra_endpoint_free(c->endpoint);
  free(c);
}

void
hra_conn_ref (hra_conn_t *c) {
  c->refed = 1;
  c->stream->vt->ref(c->stream);
  uv_ref((uv_handle_t *) &c->timer);
  hra_endpoint_ref(c->endpoint, 1);
}

void
hra_conn_unref (hra_conn_t *c) {
  c->refed = 0;
  c->stream->vt->unref(c->stream);
  uv_unref((uv_handle_t *) &c->timer);
  hra_endpoint_ref(c->endpoint, 0);
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "endpoint.h"
#include "handshake.h"
#include "pubsub.h"
#include "standby.h"
#include "stream.h"
#include "subs.h"

#define READ_CHUNK (64 * 1024)
#define CLOSE_FLUSH_MS 250
#define WRITE_CHUNK ((size_t) 1 << 30)  // bytes per buffer: uv_buf_init takes an unsigned int
#define WRITE_BUFS 16  // buffers per write
#define DEFAULT_MAX_OUTPUT ((size_t) 32 * 1024 * 1024)

// Whose question to the endpoint provider is out.
enum {
  ASK_CONN = 1,  // the connection's attempt
  ASK_STANDBY  // its replacement's, on probation
};

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
  int ever_ready;  // it has been ready once: publishes are held while it is replaced

  hra_stream_t *stream;  // the byte stream to Redis (stream.h): TCP, a unix socket, or TLS over TCP
  int sock_connected;
  int stream_closing;  // a close of the stream is on its way (on_stream_closed follows)

  // On probation, the replacement being proven in a second stream (standby.h); after a takeover, the
  // stream it took over from, being reset.
  hra_standby_t sb;
  // On probation Redis spoke on the old stream, which is kept (resume): 1 while that read is dispatched, 2
  // while its ROLE is asked (behind Sentinel); the owner hears it is ready after that (resumed).
  int resuming;

  hra_endpoint_provider_t *endpoint;  // asked for where to go on every connect attempt
  hra_endpoint_copy_t ep;  // the node of the current attempt (a copy: the provider's answer changes)
  int asking;  // an answer is awaited: ASK_CONN for an attempt of the connection, ASK_STANDBY for the replacement

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

  hra_outq_t wire;  // commands queued on the connection, bytes kept until answered (outq.h)
  hra_outq_t held;  // publishes held while the connection is replaced
  size_t write_queued;  // the socket's write queue size at the last progress check
  uint64_t write_progress_ms;  // when the socket last took bytes (or a write started)
  size_t ents_max;  // reply callbacks allowed to wait (max_output_bytes' worth of entries)

  hra_subs_t subs;
  uv_prepare_t subflush;  // sends the turn's subscription changes before the loop polls again
  int subflush_active;
  int write_error;  // a write that failed at once; the connection fails from the prepare hook

  hra_handshake_t hs;  // built once from the options, run in order on every new stream
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

// Ends the replacement, if any; its question to the provider, if out, goes unanswered.
static void
standby_stop (hra_conn_t *c) {
  if (c->asking == ASK_STANDBY) c->asking = 0;
  hra_standby_stop(&c->sb);
}

static int
reader_reset (hra_conn_t *c) {
  return hra_resp_reset(&c->resp);
}

// ---------------------------------------------------------------------------------------------------
// Pending commands

// Gives a command that will get no reply its answer: err for a callback, a count for a publish (nobody else
// will know it was lost).
static void
fail_entry (hra_conn_t *c, const hra_outq_entry_t *e, int err) {
  if (e->abandoned) return;
  if (e->cb != NULL)
    e->cb(c, NULL, err, e->internal ? (void *) c : e->data);
  else if (e->expect == 0)
    c->stats.unanswered++;
}

// Every pending command gets its answer (err) now, but stays in the queue, bytes included: what is not
// written yet may still go out (the last flush of close()), and a late reply still finds its place.
// Callbacks may queue new commands or close the connection, so each entry is marked before its callback.
static void
abandon_pending (hra_conn_t *c, int err, int requests_only) {
  for (size_t i = 0; i < hra_outq_count(&c->wire); i++) {
    hra_outq_entry_t *p = hra_outq_at(&c->wire, i);
    if (p->abandoned || (requests_only && (p->cb == NULL || p->internal))) continue;
    hra_outq_entry_t e = *p;
    p->abandoned = 1;
    p->cb = NULL;
    fail_entry(c, &e, err);
    if (c->closing && err != HRA_ECLOSED) return;
  }
}

static hra_outq_entry_t
new_entry (hra_conn_t *c, hra_reply_cb cb, void *data, int internal) {
  hra_outq_entry_t e;
  memset(&e, 0, sizeof(e));
  e.cb = cb;
  e.data = data;
  e.internal = (uint8_t) internal;
  e.t_ms = uv_now(c->loop);
  return e;
}

// Formats the command at the end of the wire (no allocation per command once its chunk exists) and writes.
static int
queue_command (hra_conn_t *c, hra_reply_cb cb, void *data, int internal, int argc, const char **argv, const size_t *argvlen) {
  hra_outq_entry_t e = new_entry(c, cb, data, internal);
  int err = hra_outq_push(&c->wire, &e, argc, argv, argvlen);
  if (err) return err;
  flush(c);
  return HRA_OK;
}

// The held publishes go out on the connection that is ready now, in order, after its subscriptions and
// before anything queued from here on; those older than hold_ms are dropped and counted.
static void
replay_held (hra_conn_t *c) {
  c->stats.held_dropped += hra_outq_expire(&c->held, uv_now(c->loop), c->opts.hold_ms);
  size_t n = hra_outq_count(&c->held), lost = hra_outq_move_all(&c->wire, &c->held);
  c->stats.held_dropped += lost;
  c->stats.replayed += n - lost;
  hra_outq_free(&c->held);
  flush(c);
}

// The connection is lost (its stream already reset): what its peer's host never received, because it was
// never written or (known) not acknowledged, is held for the next connection, ahead of what was held
// meanwhile. Everything else pending fails with err; publishes among them count as unanswered.
static void
salvage (hra_conn_t *c, int known, size_t unacked, int err) {
  hra_outq_t *w = &c->wire;
  uint64_t keep_from = w->wpos;
  if (known) keep_from -= unacked < w->wpos - w->head ? unacked : w->wpos - w->head;
  hra_outq_t moved;
  memset(&moved, 0, sizeof(moved));
  size_t n = hra_outq_count(w);
  while (n-- > 0 && hra_outq_count(w) > 0 && !c->closing) {
    hra_outq_entry_t e = *hra_outq_front(w);
    int publish = e.cb == NULL && e.expect == 0 && !e.internal && !e.abandoned;
    if (publish && c->opts.hold_ms > 0 && w->head + e.len > keep_from) {
      c->stats.held_dropped += hra_outq_move_front(&moved, w) != HRA_OK;
      continue;
    }
    hra_outq_pop(w, NULL);
    fail_entry(c, &e, err);
  }
  if (c->closing) {
    c->stats.held_dropped += hra_outq_count(&moved);
    hra_outq_free(&moved);
    return;
  }
  if (hra_outq_count(&moved) == 0) return;
  c->stats.held_dropped += hra_outq_move_all(&moved, &c->held);
  hra_outq_free(&c->held);
  c->held = moved;
}

// ---------------------------------------------------------------------------------------------------
// Writing

static void
on_write (hra_stream_t *s, int status);

// Writes what is not written yet, in one write of up to WRITE_BUFS buffers; the next one follows its
// completion. The bytes stay where they are until their command is answered.
static void
flush (hra_conn_t *c) {
  if (c->wire.writing || !c->sock_connected || c->write_error) return;
  hra_slice_t slices[WRITE_BUFS];
  uv_buf_t bufs[WRITE_BUFS];
  size_t total = 0;
  unsigned n = hra_outq_pending(&c->wire, slices, WRITE_BUFS, WRITE_CHUNK, &total);
  if (n == 0) return;
  for (unsigned i = 0; i < n; i++)
    bufs[i] = uv_buf_init((char *) slices[i].base, (unsigned int) slices[i].len);
  int err = c->stream->vt->write(c->stream, bufs, n);
  if (err) {
    // Not fail_connection() here: flush() runs inside hra_conn_command, whose caller must not see reply
    // callbacks (failed by fail_connection) before it returns. The prepare hook fails the connection
    // before the loop polls again. The bytes count as never written.
    c->write_error = err;
    schedule_subflush(c);
    return;
  }
  hra_outq_written(&c->wire, total);
  c->stats.bytes_written += total;
  c->write_queued = c->stream->vt->write_queue_size(c->stream);
  c->write_progress_ms = uv_now(c->loop);
}

// ---------------------------------------------------------------------------------------------------
// Subscriptions

static void
on_subflush (uv_prepare_t *p);

static void
schedule_subflush (hra_conn_t *c) {
  if (c->subflush_active || c->closing) return;
  c->subflush_active = 1;
  uv_prepare_start(&c->subflush, on_subflush);
}

// Sends every subscription change made since the last turn (pubsub.h). On probation they go to the
// connection being watched: if it comes back, it has them; if it is replaced, the replacement gets the whole
// wanted set anyway.
static void
send_sub_changes (hra_conn_t *c) {
  int connected = c->state == HRA_CONN_READY || c->state == HRA_CONN_PROBATION;
  int r = hra_pubsub_changes(&c->wire, &c->subs, connected, uv_now(c->loop));
  if (r < 0) {
    fail_connection(c, "ENOMEM", "out of memory while subscribing");
    return;
  }
  if (r > 0) {
    c->subscriber_mode = 1;
    flush(c);
  }
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

// ---------------------------------------------------------------------------------------------------
// Reply dispatch

static void
deliver_reply (hra_conn_t *c, const hra_reply_t *reply) {
  if (hra_outq_count(&c->wire) == 0) {
    // A reply nobody asked for: the stream is out of step with our queue; start over.
    fail_connection(c, "EPROTO", "unexpected reply from Redis");
    return;
  }
  hra_outq_entry_t e;
  hra_outq_pop(&c->wire, &e);
  if (e.abandoned) return;  // its callback had ENOTCONN when the connection went on probation
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
  hra_push_t p;
  if (!c->subscriber_mode || hra_pubsub_classify(r, &p) == 0) {
    // A master demoted under us (a Sentinel failover) refuses writes: leave it, ask where the master went.
    int demoted = hra_handshake_demoted(r, &c->ep.ep);
    deliver_reply(c, r);
    if (demoted) fail_connection(c, "READONLY", "the node is no longer the master (READONLY): asking Sentinel again");
    return;
  }
  if (p.what != 'c') {
    c->stats.messages++;
    c->cbs.on_message(c, p.what, p.pattern, p.channel, p.payload);
    return;
  }
  if (p.named) hra_subs_mark_confirmed(&c->subs, p.kind, (const char *) p.channel.base, p.channel.len, p.subscribed);
  hra_outq_entry_t *head = hra_outq_front(&c->wire);
  if (head == NULL || head->expect == 0 || head->sub_kind != p.kind || head->sub_dir != p.subscribed) {
    // Not the answer to a command of ours: a push from the server (a sunsubscribe when a cluster slot
    // moves away), only recorded above, and reported when we still want the channel.
    if (!p.subscribed && p.named && c->cbs.on_sub_lost != NULL) {
      const hra_sub_t *s = hra_subs_find(&c->subs, p.kind, (const char *) p.channel.base, p.channel.len);
      if (s != NULL && s->refs > 0) c->cbs.on_sub_lost(c, p.kind, p.channel);
    }
    return;
  }
  if (--head->expect == 0) {
    hra_outq_entry_t e;
    hra_outq_pop(&c->wire, &e);
    if (e.cb != NULL && !e.abandoned) e.cb(c, r, 0, e.internal ? (void *) c : e.data);
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading

static void
resume (hra_conn_t *c);
static void
resume_check (hra_conn_t *c);

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
  if (c->state == HRA_CONN_PROBATION) {
    // Redis speaks on the connection we gave up on before its replacement could take over: it was frozen,
    // not gone. Keep it; what it read while frozen runs now, and its subscriber gets the messages.
    resume(c);
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
  if (c->resuming == 1) resume_check(c);
  // Messages parsed before a failure are still good: hand them over in any case.
  if (any) c->cbs.on_flush(c);
}

static void
on_write (hra_stream_t *s, int status) {
  hra_conn_t *c = s->data;
  hra_outq_write_done(&c->wire);
  c->write_queued = 0;
  if (status < 0) {
    if (status != UV_ECANCELED && !c->closing) fail_connection(c, uv_err_name(status), uv_strerror(status));
    return;
  }
  flush(c);
  if (c->close_flushing && !c->wire.writing && hra_outq_unwritten(&c->wire) == 0) finish_close(c);
}

// ---------------------------------------------------------------------------------------------------
// Connection lifecycle

static void
on_timer_retry (uv_timer_t *t) {
  hra_conn_t *c = t->data;
  if (c->closing) return;
  start_connect(c);
}

static void
schedule_retry (hra_conn_t *c) {
  if (c->closing) return;
  uint64_t delay = hra_backoff_ms(&c->rng, c->opts.retry_base_ms, c->opts.retry_max_ms, c->attempt++);
  c->state = HRA_CONN_WAIT_RETRY;
  c->cbs.on_event(c, HRA_EV_RECONNECTING, NULL, NULL, (int64_t) delay);
  if (c->closing) return;
  c->timer.data = c;
  uv_timer_start(&c->timer, on_timer_retry, delay, 0);
}

static void
on_stream_closed (hra_stream_t *s) {
  hra_conn_t *c = s->data;
  c->pending--;
  c->stream_closing = 0;
  if (c->closing) {
    finish_close(c);
    return;
  }
  schedule_retry(c);
}

// Closes the stream (with reset: what the peer has not acknowledged is discarded). A reconnect is scheduled
// once it is closed; returns 1 when it was idle and the caller must schedule it now (unless closing).
static int
close_stream (hra_conn_t *c, int reset) {
  c->sock_connected = 0;
  if (c->stream_closing) return 0;
  if (reset ? c->stream->vt->close_reset(c->stream) : c->stream->vt->close(c->stream)) {
    c->stream_closing = 1;
    c->pending++;
    return 0;
  }
  return 1;
}

static void
fail_connection (hra_conn_t *c, const char *code, const char *message) {
  if (c->closing) return;
  // Resuming (a READONLY in the resumed read), the owner has not heard it is ready: still on probation.
  int was = c->resuming ? HRA_CONN_PROBATION : c->state;
  if (was == HRA_CONN_WAIT_RETRY || was == HRA_CONN_IDLE) return;
  // First, before the peer can acknowledge more: what it has not, and a reset so that it never arrives.
  size_t unacked = 0;
  int known = c->sock_connected && c->stream->vt->unacked(c->stream, &unacked) == HRA_OK;
  int retry_now = close_stream(c, 1);
  hra_outq_write_done(&c->wire);  // the socket is closed: no write points into the queue any more
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->health);
  standby_stop(c);
  c->state = HRA_CONN_WAIT_RETRY;
  c->resuming = 0;
  if (was == HRA_CONN_READY || was == HRA_CONN_HANDSHAKE) c->stats.disconnects++;
  c->ping_outstanding = 0;
  c->subscriber_mode = 0;
  hra_subs_reset_sent(&c->subs);
  if (reader_reset(c) != 0) c->resp.oom = 1;
  // Report first, then fail the pending commands: callbacks see a consistent "not connected" state. On
  // probation both were reported already.
  if (code != NULL) c->cbs.on_event(c, HRA_EV_ERROR, code, message, 0);
  if (c->closing) return;
  if (was == HRA_CONN_READY || was == HRA_CONN_HANDSHAKE) c->cbs.on_event(c, HRA_EV_DISCONNECT, code, message, 0);
  if (c->closing) return;
  salvage(c, known, unacked, HRA_ENOTCONN);
  if (retry_now && !c->closing) schedule_retry(c);
}

static void
on_health (uv_timer_t *t);
static void
on_connect_timeout (uv_timer_t *t);

static void
start_health (hra_conn_t *c) {
  if (c->opts.health_interval_ms == 0) return;
  uint64_t period = c->opts.health_interval_ms < c->opts.health_timeout_ms ? c->opts.health_interval_ms : c->opts.health_timeout_ms;
  period = period / 2 > 50 ? period / 2 : 50;
  uv_timer_start(&c->health, on_health, period, period);
}

// Ready: the subscriptions are restored and the held publishes sent, in that order, before the owner hears
// of it (what it publishes from its handler goes after them).
static void
on_ready (hra_conn_t *c) {
  uv_timer_stop(&c->timer);
  c->state = HRA_CONN_READY;
  c->attempt = 0;
  c->ever_ready = 1;
  int err = hra_pubsub_restore(&c->wire, &c->subs, uv_now(c->loop));
  if (err < 0) {
    fail_connection(c, "ENOMEM", "out of memory while restoring subscriptions");
    return;
  }
  if (err > 0) c->subscriber_mode = 1;
  replay_held(c);
  c->last_read_ms = uv_now(c->loop);
  start_health(c);
  c->cbs.on_event(c, HRA_EV_READY, NULL, NULL, 0);
}

// ---------------------------------------------------------------------------------------------------
// Probation: the health check gave up on the connection (healthTimeout without a byte from Redis). It
// stays open while a replacement connects (standby.c); whichever hears from Redis first wins. A frozen
// Redis (SIGSTOP, a fork, a VM pause) speaks on the old connection first once it resumes: it keeps it,
// everything it acknowledged while frozen runs, and the old subscriber is still there to get the messages
// (replaced, it would not be: those messages would be lost). A dead path (no FIN) never speaks, and the
// replacement takes over as soon as Redis has answered it, with what the old one's peer never acknowledged
// (salvage). Requests reject at once either way; publishes are held meanwhile. Behind Sentinel the master
// can move meanwhile: a +switch-master (on_endpoint_change), a READONLY in what the old connection answers
// when it resumes, or a replacement sent to another master leaves the old node at once (fail_connection),
// and the held publishes go to the new master.

static const hra_stream_cbs_t stream_cbs;

static void
start_probation (hra_conn_t *c, const char *text) {
  if (hra_standby_busy(&c->sb)) {
    // The spare stream is still being reset after a takeover: no replacement can start; fail as before.
    fail_connection(c, "ETIMEDOUT", text);
    return;
  }
  uv_timer_stop(&c->health);
  // Silent again while resuming: the owner has not heard it was back.
  int again = c->resuming != 0;
  c->resuming = 0;
  c->state = HRA_CONN_PROBATION;
  if (!again) c->stats.disconnects++;
  c->cbs.on_event(c, HRA_EV_ERROR, "ETIMEDOUT", text, 0);
  if (c->closing) return;
  if (!again) c->cbs.on_event(c, HRA_EV_DISCONNECT, "ETIMEDOUT", text, 0);
  if (c->closing) return;
  abandon_pending(c, HRA_ENOTCONN, 1);
  if (c->closing || c->state != HRA_CONN_PROBATION) return;
  hra_standby_start(&c->sb);
}

// The old connection spoke first: it is kept, and what it read is dispatched as a ready connection's. The
// held publishes go out, and the owner hears it is ready, once that read is done (resume_check) and,
// behind Sentinel, once the node has answered ROLE as the master still: the node may have been demoted
// while we did not hear from it (a READONLY, or another role, leaves it for the new master, where they go
// instead). Until then publishes are still held, behind them.
static void
resume (hra_conn_t *c) {
  standby_stop(c);
  c->state = HRA_CONN_READY;
  c->resuming = 1;
  c->stats.resumed++;
  c->last_read_ms = uv_now(c->loop);
  c->ping_outstanding = 0;
  c->write_progress_ms = c->last_read_ms;
  start_health(c);
}

static void
resumed (hra_conn_t *c) {
  c->resuming = 0;
  replay_held(c);
  c->cbs.on_event(c, HRA_EV_READY, NULL, NULL, 0);
}

// ROLE's reply comes after everything the node still had to answer.
static void
on_resume_role (hra_conn_t *c_, const hra_reply_t *reply, int err, void *data) {
  hra_conn_t *c = data;
  if (reply == NULL || c->resuming != 2) return;
  char code[32], text[256];
  if (hra_handshake_judge(hra_handshake_step(&c->hs, HRA_STEP_ROLE), reply, &c->ep.ep, code, sizeof(code), text, sizeof(text)) != HRA_OK) {
    fail_connection(c, code, text);
    return;
  }
  resumed(c);
}

// A subscriber connection cannot send ROLE (RESP2 allows only subscription commands and PING there), and
// publishes are not held on it: it resumes at once.
static void
resume_check (hra_conn_t *c) {
  hra_handshake_step_t *role = hra_handshake_step(&c->hs, HRA_STEP_ROLE);
  if (role == NULL || c->subscriber_mode) {
    resumed(c);
    return;
  }
  c->resuming = 2;
  if (queue_command(c, on_resume_role, NULL, 1, role->argc, role->argv, role->lens) != HRA_OK) fail_connection(c, "ENOMEM", "out of memory");
}

// The replacement answered and the old connection stayed silent through the grace period: the old one is
// reset and the replacement becomes the connection.
static void
take_over (hra_standby_t *sb) {
  hra_conn_t *c = sb->data;
  if (c->closing || c->state != HRA_CONN_PROBATION) {
    hra_standby_stop(sb);
    return;
  }
  size_t unacked = 0;
  int known = c->stream->vt->unacked(c->stream, &unacked) == HRA_OK;
  hra_standby_take(sb, &c->stream, &c->ep, &stream_cbs, c);
  hra_outq_write_done(&c->wire);
  c->state = HRA_CONN_HANDSHAKE;
  c->stats.replaced++;
  c->sock_connected = 1;
  c->write_queued = 0;
  c->ping_outstanding = 0;
  c->subscriber_mode = 0;
  hra_subs_reset_sent(&c->subs);
  // The old wire's commands, judged by the old stream's count, before anything else can go on the new one.
  salvage(c, known, unacked, HRA_ENOTCONN);
  if (c->closing) return;
  if (reader_reset(c) != 0) {
    c->resp.oom = 1;
    fail_connection(c, "ENOMEM", "out of memory");
    return;
  }
  c->cbs.on_event(c, HRA_EV_CONNECT, NULL, NULL, 0);
  if (c->closing) return;
  on_ready(c);
}

// The replacement asks where to go the way every attempt does (a Sentinel answers later).
static void
on_standby_ask (hra_standby_t *sb) {
  hra_conn_t *c = sb->data;
  c->asking = ASK_STANDBY;
  hra_endpoint_ask(c->endpoint);
}

// The replacement's answer. A master other than the old connection's node means that node is no longer
// the master (a failover whose +switch-master we missed): the old connection must not be resumed there, so
// it is left now, with what it holds, and the next attempt asks again. Replicas may differ: any will do.
static void
standby_answer (hra_conn_t *c, int status, const hra_endpoint_t *ep, const char *code, const char *message) {
  if (c->state != HRA_CONN_PROBATION) return;
  if (status == HRA_OK && ep->role != NULL && strcmp(ep->role, "master") == 0 && !hra_endpoint_same(ep, &c->ep.ep)) {
    char text[160];
    snprintf(text, sizeof(text), "the master is %.64s:%d now: leaving the connection given up on", ep->host != NULL ? ep->host : "?", ep->port);
    c->attempt = 0;
    fail_connection(c, NULL, text);
    return;
  }
  hra_standby_answer(&c->sb, status, ep, code, message);
}

static void
on_standby_event (hra_standby_t *sb, int event, const char *code, const char *message, int64_t value) {
  hra_conn_t *c = sb->data;
  if (event == HRA_EV_CONNECT)
    c->stats.connects++;  // the owner hears of it when the replacement takes over
  else
    c->cbs.on_event(c, event, code, message, value);
}

static void
on_standby_closed (hra_standby_t *sb) {
  hra_conn_t *c = sb->data;
  c->pending--;
  finish_close(c);
}

// ---------------------------------------------------------------------------------------------------
// Handshake and connect

// Each step's reply, in order: handshake.c's verdict fails the connection or counts the step done, and the
// last one makes the connection ready.
static void
on_step_reply (hra_conn_t *c_, const hra_reply_t *reply, int err, void *data) {
  hra_conn_t *c = data;
  if (reply == NULL || c->handshake_left <= 0) return;  // the connection failed; fail_connection reported it
  char code[32], text[256];
  const hra_handshake_step_t *st = &c->hs.steps[c->hs.count - c->handshake_left];
  if (hra_handshake_judge(st, reply, &c->ep.ep, code, sizeof(code), text, sizeof(text)) != HRA_OK) {
    fail_connection(c, code, text);
    return;
  }
  if (--c->handshake_left == 0) on_ready(c);
}

// Sends every step at once (pipelined); each reply counts down handshake_left, and the last one makes the
// connection ready.
static void
start_handshake (hra_conn_t *c) {
  int err = 0;
  c->state = HRA_CONN_HANDSHAKE;
  c->handshake_left = 0;
  for (int i = 0; i < c->hs.count && !err; i++) {
    hra_handshake_step_t *st = &c->hs.steps[i];
    err = queue_command(c, on_step_reply, NULL, 1, st->argc, st->argv, st->lens);
    if (!err) c->handshake_left++;
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
  c->write_error = 0;
  c->subscriber_mode = 0;
  // A new attempt: ask where to go now (on_endpoint_answer, maybe at once).
  c->state = HRA_CONN_RESOLVING;
  c->asking = ASK_CONN;
  hra_endpoint_ask(c->endpoint);
}

static void
on_endpoint_answer (hra_endpoint_provider_t *p, int status, const hra_endpoint_t *ep, const char *code, const char *message) {
  hra_conn_t *c = p->owner;
  int who = c->asking;
  if (who == 0 || c->closing) return;
  c->asking = 0;
  if (who == ASK_STANDBY) {
    standby_answer(c, status, ep, code, message);
    return;
  }
  if (status == HRA_OK && hra_endpoint_keep(&c->ep, ep) != HRA_OK) status = HRA_ENOMEM, code = "ENOMEM", message = "out of memory";
  if (status != HRA_OK) {
    c->cbs.on_event(c, HRA_EV_ERROR, code != NULL ? code : "ENOENDPOINT", message != NULL ? message : "no Redis endpoint is known", 0);
    schedule_retry(c);
    return;
  }
  c->stream->vt->connect(c->stream, &c->ep.ep);
}

// Where to go changed (a failover): leave the node we are on (on probation, its replacement's attempt too),
// or retry now rather than after the backoff.
static void
on_endpoint_change (hra_endpoint_provider_t *p, const char *message) {
  hra_conn_t *c = p->owner;
  if (c->closing || c->asking == ASK_CONN) return;
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
  if (c->wire.writing) {
    // Redis (or whatever holds the socket) must keep taking our bytes: a write queue that has not
    // shrunk for healthTimeout means it stopped reading, and the backlog only grows from here.
    size_t q = c->stream->vt->write_queue_size(c->stream);
    if (q < c->write_queued) {
      c->write_queued = q;
      c->write_progress_ms = now;
    } else if (now - c->write_progress_ms >= c->opts.health_timeout_ms) {
      char text[160];
      snprintf(text, sizeof(text), "Redis has not read our output for %u ms (%zu bytes waiting): the connection is considered dead", c->opts.health_timeout_ms, hra_outq_unwritten(&c->wire) + q);
      start_probation(c, text);
      return;
    }
  }
  if (c->ping_outstanding) {
    if (now - c->ping_sent_ms >= c->opts.health_timeout_ms && now - c->last_read_ms >= c->opts.health_timeout_ms) {
      char text[128];
      snprintf(text, sizeof(text), "no reply from Redis within %u ms: the connection is considered dead", c->opts.health_timeout_ms);
      start_probation(c, text);
    }
    return;
  }
  if (now - c->last_read_ms < c->opts.health_interval_ms) return;
  const char *argv[1] = { "PING" };
  size_t lens[1] = { 4 };
  if (queue_command(c, on_ping_reply, NULL, 1, 1, argv, lens) != 0) {
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
static const hra_standby_cbs_t standby_cbs = { on_standby_ask, on_standby_event, take_over, on_standby_closed };

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
  hra_tls_t *tls = opts->tls;  // borrowed until init returns: the streams hold their own references
  c->opts.tls = NULL;
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
  c->ents_max = c->opts.max_output_bytes / sizeof(hra_outq_entry_t);
  if (c->ents_max < 1024) c->ents_max = 1024;
  c->cbs = *cbs;
  c->data = data;
  c->refed = 1;
  c->rng = uv_hrtime() ^ (uint64_t) (uintptr_t) c;
  if (c->rng == 0) c->rng = 0x9e3779b97f4a7c15ULL;
  hra_standby_opts_t so = { c->opts.connect_timeout_ms, c->opts.retry_base_ms, c->opts.retry_max_ms, c->opts.keepalive_s, c->opts.max_reply_bytes, tls };
  if (hra_standby_init(&c->sb, loop, &so, &c->hs, c->rbuf, sizeof(c->rbuf), &standby_cbs, c) != HRA_OK) {
    c->stream->vt->free(c->stream);
    hra_endpoint_free(c->endpoint);
    free_opts(&c->opts);
    free(c);
    return NULL;
  }
  c->sb.bytes_read = &c->stats.bytes_read;
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
  c->stats.held = hra_outq_count(&c->held);
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
  int ready = c->state == HRA_CONN_READY && !c->resuming;
  // A publish while a connection that was ready is replaced is held (a connection never ready refuses:
  // a wrong address fails fast). Requests are refused at once.
  if (!ready && (cb != NULL || !c->ever_ready || c->opts.hold_ms == 0)) {
    c->stats.commands_dropped++;
    return HRA_ENOTCONN;
  }
  if (!ready) c->stats.held_dropped += hra_outq_expire(&c->held, uv_now(c->loop), c->opts.hold_ms);
  // The bound: past it nothing is queued (the caller counts a dropped publish, rejects a command).
  // Memory stays under max_output_bytes plus the last command accepted, and as much for callbacks.
  if (hra_outq_bytes(&c->wire) + hra_outq_bytes(&c->held) >= c->opts.max_output_bytes || hra_outq_count(&c->wire) + hra_outq_count(&c->held) >= c->ents_max) {
    c->stats.commands_refused_full++;
    return HRA_ENOBUFS;
  }
  if (ready) return queue_command(c, cb, data, 0, argc, argv, argvlen);
  hra_outq_entry_t e = new_entry(c, NULL, data, 0);
  return hra_outq_push(&c->held, &e, argc, argv, argvlen);
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
    close_stream(c, 0);
    c->pending += 3;
    uv_close((uv_handle_t *) &c->timer, on_handle_close);
    uv_close((uv_handle_t *) &c->health, on_handle_close);
    uv_close((uv_handle_t *) &c->subflush, on_handle_close);
    if (hra_endpoint_close(c->endpoint)) c->pending++;
    if (hra_standby_close(&c->sb)) c->pending++;
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
  c->resuming = 0;  // its held publishes are dropped with the others
  // The last unsubscribes of the owner's close() go out with the final flush.
  if (c->state == HRA_CONN_READY) send_sub_changes(c);
  uv_prepare_stop(&c->subflush);
  c->subflush_active = 0;
  c->closing = 1;
  int was = c->state;
  c->state = HRA_CONN_CLOSING;
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->health);
  standby_stop(c);
  // Callbacks get ECLOSED; the bytes stay, for the last flush.
  abandon_pending(c, HRA_ECLOSED, 0);
  c->stats.held_dropped += hra_outq_count(&c->held);
  hra_outq_free(&c->held);
  c->close_flushing = 1;
  if (was == HRA_CONN_READY && c->sock_connected && (c->wire.writing || hra_outq_unwritten(&c->wire) > 0)) {
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
  hra_standby_free(&c->sb);
  hra_endpoint_forget(&c->ep);
  hra_resp_free(&c->resp);
  hra_subs_free(&c->subs);
  hra_outq_free(&c->wire);
  hra_outq_free(&c->held);
  free_opts(&c->opts);
  hra_endpoint_free(c->endpoint);
  free(c);
}

void
hra_conn_ref (hra_conn_t *c) {
  c->refed = 1;
  c->stream->vt->ref(c->stream);
  hra_standby_ref(&c->sb, 1);
  uv_ref((uv_handle_t *) &c->timer);
  hra_endpoint_ref(c->endpoint, 1);
}

void
hra_conn_unref (hra_conn_t *c) {
  c->refed = 0;
  c->stream->vt->unref(c->stream);
  hra_standby_ref(&c->sb, 0);
  uv_unref((uv_handle_t *) &c->timer);
  hra_endpoint_ref(c->endpoint, 0);
}

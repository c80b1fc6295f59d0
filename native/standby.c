// The replacement of a connection on probation (see standby.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "standby.h"

#define WRITE_MAX ((size_t) 1 << 30)  // uv_buf_init takes an unsigned int

static const hra_stream_cbs_t stream_cbs;

static void
on_timer (uv_timer_t *t);

static void
retry (hra_standby_t *sb) {
  if (!sb->active) return;
  uint64_t delay = hra_backoff_ms(&sb->rng, sb->opts.retry_base_ms, sb->opts.retry_max_ms, sb->attempt++);
  sb->state = HRA_SB_WAITING;
  sb->cbs->on_event(sb, HRA_EV_RECONNECTING, NULL, NULL, (int64_t) delay);
  if (!sb->active || sb->state != HRA_SB_WAITING) return;
  uv_timer_start(&sb->timer, on_timer, delay, 0);
}

// Resets the stream; the standby is idle again once it is closed (then, when still active, another
// attempt follows after the backoff).
static void
reset_stream (hra_standby_t *sb) {
  uv_timer_stop(&sb->timer);
  sb->state = HRA_SB_CLOSING;
  if (sb->stream->vt->close_reset(sb->stream)) {
    sb->pending++;
    return;
  }
  sb->state = HRA_SB_IDLE;
  retry(sb);
}

// The attempt failed: reported, the stream reset, another attempt follows.
static void
fail (hra_standby_t *sb, const char *code, const char *message) {
  uv_timer_stop(&sb->timer);
  sb->cbs->on_event(sb, HRA_EV_ERROR, code, message, 0);
  // Stopped meanwhile: the stream is being reset already.
  if (sb->active) reset_stream(sb);
}

static void
ask (hra_standby_t *sb) {
  if (hra_resp_reset(&sb->resp) != HRA_OK) {
    sb->cbs->on_event(sb, HRA_EV_ERROR, "ENOMEM", "out of memory", 0);
    retry(sb);
    return;
  }
  sb->state = HRA_SB_ASKING;
  sb->cbs->ask(sb);
}

// The timer: the end of the backoff, the connect or handshake deadline, or the end of the grace.
static void
on_timer (uv_timer_t *t) {
  hra_standby_t *sb = t->data;
  if (!sb->active) return;
  char text[128];
  switch (sb->state) {
    case HRA_SB_WAITING:
      ask(sb);
      break;
    case HRA_SB_CONNECTING:
      snprintf(text, sizeof(text), "connect timed out after %u ms", sb->opts.connect_timeout_ms);
      sb->cbs->on_event(sb, HRA_EV_ERROR, "ETIMEDOUT", text, 0);
      if (sb->active && sb->state == HRA_SB_CONNECTING) sb->stream->vt->abort(sb->stream);
      break;
    case HRA_SB_HANDSHAKE:
      snprintf(text, sizeof(text), "Redis did not answer the connection handshake within %u ms", sb->opts.connect_timeout_ms);
      fail(sb, "ETIMEDOUT", text);
      break;
    case HRA_SB_GRACE:
      sb->cbs->on_proven(sb);
      break;
  }
}

int
hra_standby_init (hra_standby_t *sb, uv_loop_t *loop, const hra_standby_opts_t *opts, hra_handshake_t *hs, char *rbuf, size_t rbuf_cap,
  const hra_standby_cbs_t *cbs, void *data) {
  memset(sb, 0, sizeof(*sb));
  // The replacement speaks what the connection speaks: over TLS when it does.
  sb->stream = hra_stream_new(loop, opts->tls, &stream_cbs, sb);
  if (sb->stream == NULL) return HRA_ENOMEM;
  sb->loop = loop;
  sb->opts = *opts;
  sb->hs = hs;
  sb->rbuf = rbuf;
  sb->rbuf_cap = rbuf_cap;
  sb->cbs = cbs;
  sb->data = data;
  sb->resp.max_bytes = opts->max_reply_bytes;
  sb->rng = uv_hrtime() ^ (uint64_t) (uintptr_t) sb;
  if (sb->rng == 0) sb->rng = 0x9e3779b97f4a7c15ULL;
  uv_timer_init(loop, &sb->timer);
  sb->timer.data = sb;
  return HRA_OK;
}

// From the next loop turn: not inside the owner's health check.
void
hra_standby_start (hra_standby_t *sb) {
  if (sb->closing || sb->state != HRA_SB_IDLE) return;
  sb->active = 1;
  sb->attempt = 0;
  sb->state = HRA_SB_WAITING;
  uv_timer_start(&sb->timer, on_timer, 0, 0);
}

void
hra_standby_answer (hra_standby_t *sb, int status, const hra_endpoint_t *ep, const char *code, const char *message) {
  if (!sb->active || sb->state != HRA_SB_ASKING) return;
  if (status == HRA_OK && hra_endpoint_keep(&sb->ep, ep) != HRA_OK) {
    status = HRA_ENOMEM;
    code = "ENOMEM";
    message = "out of memory";
  }
  if (status != HRA_OK) {
    sb->state = HRA_SB_IDLE;
    sb->cbs->on_event(sb, HRA_EV_ERROR, code != NULL ? code : "ENOENDPOINT", message != NULL ? message : "no Redis endpoint is known", 0);
    if (sb->state == HRA_SB_IDLE) retry(sb);
    return;
  }
  sb->state = HRA_SB_CONNECTING;
  sb->stream->vt->connect(sb->stream, &sb->ep.ep);
}

void
hra_standby_stop (hra_standby_t *sb) {
  sb->active = 0;
  uv_timer_stop(&sb->timer);
  switch (sb->state) {
    case HRA_SB_WAITING:
    case HRA_SB_ASKING:
      sb->state = HRA_SB_IDLE;
      break;
    case HRA_SB_CONNECTING:
    case HRA_SB_HANDSHAKE:
    case HRA_SB_GRACE:
      reset_stream(sb);
      break;
  }
}

void
hra_standby_take (hra_standby_t *sb, hra_stream_t **stream, hra_endpoint_copy_t *ep, const hra_stream_cbs_t *cbs, void *data) {
  hra_stream_t *old = *stream;
  hra_endpoint_copy_t k = *ep;
  sb->active = 0;
  *stream = sb->stream;
  (*stream)->cbs = cbs;
  (*stream)->data = data;
  *ep = sb->ep;
  sb->stream = old;
  old->cbs = &stream_cbs;
  old->data = sb;
  sb->ep = k;
  reset_stream(sb);
}

void
hra_standby_ref (hra_standby_t *sb, int on) {
  if (on) {
    sb->stream->vt->ref(sb->stream);
    uv_ref((uv_handle_t *) &sb->timer);
  } else {
    sb->stream->vt->unref(sb->stream);
    uv_unref((uv_handle_t *) &sb->timer);
  }
}

static void
closed_one (hra_standby_t *sb) {
  if (--sb->pending == 0 && sb->closing) sb->cbs->on_closed(sb);
}

static void
on_timer_closed (uv_handle_t *h) {
  closed_one(h->data);
}

int
hra_standby_close (hra_standby_t *sb) {
  if (sb->closing) return 0;
  hra_standby_stop(sb);
  sb->closing = 1;
  sb->pending++;
  uv_close((uv_handle_t *) &sb->timer, on_timer_closed);
  return 1;
}

void
hra_standby_free (hra_standby_t *sb) {
  if (sb->stream != NULL) sb->stream->vt->free(sb->stream);
  sb->stream = NULL;
  hra_resp_free(&sb->resp);
  hra_buf_free(&sb->out);
  hra_endpoint_forget(&sb->ep);
}

// ---------------------------------------------------------------------------------------------------
// The stream

// Connected: the handshake goes out in one write.
static void
send_handshake (hra_standby_t *sb) {
  sb->stream->vt->hints(sb->stream, 1, sb->opts.keepalive_s);
  sb->out.len = 0;
  int oom = 0;
  for (int i = 0; i < sb->hs->count && !oom; i++)
    oom = hra_resp_format_command(&sb->out, sb->hs->steps[i].argc, sb->hs->steps[i].argv, sb->hs->steps[i].lens) != HRA_OK;
  oom = oom || sb->out.len > WRITE_MAX;
  uv_buf_t b = uv_buf_init((char *) sb->out.data, (unsigned int) sb->out.len);
  // Kept apart: HRA_ENOMEM (-1) is also a libuv code (UV_EPERM).
  int err = oom ? 0 : sb->stream->vt->read_start(sb->stream, sb->rbuf, sb->rbuf_cap);
  if (!oom && !err) err = sb->stream->vt->write(sb->stream, &b, 1);
  if (oom || err) {
    fail(sb, oom ? "ENOMEM" : uv_err_name(err), oom ? "out of memory" : uv_strerror(err));
    return;
  }
  sb->state = HRA_SB_HANDSHAKE;
  sb->left = sb->hs->count;
  uv_timer_start(&sb->timer, on_timer, sb->opts.connect_timeout_ms, 0);
}

static void
on_stream_connect (hra_stream_t *s, int status) {
  hra_standby_t *sb = s->data;
  if (!sb->active || sb->state != HRA_SB_CONNECTING) return;
  uv_timer_stop(&sb->timer);
  if (status < 0) {
    // Reported through on_stream_error already; the stream is idle again.
    sb->state = HRA_SB_IDLE;
    retry(sb);
    return;
  }
  sb->cbs->on_event(sb, HRA_EV_CONNECT, NULL, NULL, 0);
  if (sb->active && sb->state == HRA_SB_CONNECTING) send_handshake(sb);
}

static void
on_stream_error (hra_stream_t *s, const char *code, const char *message) {
  hra_standby_t *sb = s->data;
  uv_timer_stop(&sb->timer);
  if (sb->active) sb->cbs->on_event(sb, HRA_EV_ERROR, code, message, 0);
}

// Each address (or name lookup) gets connectTimeout.
static void
on_stream_connecting (hra_stream_t *s, int resolving) {
  hra_standby_t *sb = s->data;
  if (sb->active && sb->state == HRA_SB_CONNECTING) uv_timer_start(&sb->timer, on_timer, sb->opts.connect_timeout_ms, 0);
}

// The handshake's replies, judged in order against the node the provider named; the last one starts the
// grace period.
static void
on_stream_read (hra_stream_t *s, ssize_t nread, const char *buf) {
  hra_standby_t *sb = s->data;
  if (nread == 0 || !sb->active || (sb->state != HRA_SB_HANDSHAKE && sb->state != HRA_SB_GRACE)) return;
  if (nread < 0) {
    fail(sb, nread == UV_EOF ? "ECONNRESET" : uv_err_name((int) nread), nread == UV_EOF ? "connection closed by Redis" : uv_strerror((int) nread));
    return;
  }
  if (sb->bytes_read != NULL) *sb->bytes_read += (uint64_t) nread;
  if (hra_resp_feed(&sb->resp, buf, (size_t) nread) != HRA_OK) {
    fail(sb, "ENOMEM", "out of memory while reading");
    return;
  }
  hra_reply_t reply;
  int r;
  while ((r = hra_resp_next(&sb->resp, &reply)) == 1) {
    char code[32], text[256];
    int refused = sb->left > 0 && hra_handshake_judge(&sb->hs->steps[sb->hs->count - sb->left], &reply, &sb->ep.ep, code, sizeof(code), text, sizeof(text)) != HRA_OK;
    hra_resp_consumed(&sb->resp);
    if (refused) {
      fail(sb, code, text);
      return;
    }
    if (sb->left > 0 && --sb->left == 0) {
      sb->state = HRA_SB_GRACE;
      uv_timer_start(&sb->timer, on_timer, HRA_STANDBY_GRACE_MS, 0);
    }
  }
  if (r < 0) fail(sb, "EPROTO", "protocol error in a reply from Redis");
}

static void
on_stream_write (hra_stream_t *s, int status) {
  hra_standby_t *sb = s->data;
  // A cancelled write is the stream being reset (or a retired connection's).
  if (status < 0 && status != UV_ECANCELED && sb->active && (sb->state == HRA_SB_HANDSHAKE || sb->state == HRA_SB_GRACE)) fail(sb, uv_err_name(status), uv_strerror(status));
}

static void
on_stream_closed (hra_stream_t *s) {
  hra_standby_t *sb = s->data;
  sb->state = HRA_SB_IDLE;
  retry(sb);
  closed_one(sb);
}

static const hra_stream_cbs_t stream_cbs = { on_stream_error, on_stream_connecting, on_stream_connect, on_stream_read, on_stream_write, on_stream_closed };

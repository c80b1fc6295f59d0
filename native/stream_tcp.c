// The TCP and unix-socket stream (stream.h): uv_tcp_t with names resolved by uv_getaddrinfo and every
// address of the answer tried in order, or uv_pipe_t for a path. One attempt at a time; the stream is
// reused for the next one.
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <linux/sockios.h>
#include <sys/ioctl.h>
#endif

#include "stream.h"

enum { AFTER_NEXT_ADDR = 1,
  AFTER_FAIL };

typedef struct {
  hra_stream_t base;
  uv_loop_t *loop;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } sock;
  int sock_open;
  int after_close;  // what on_sock_close does next: AFTER_NEXT_ADDR or AFTER_FAIL
  int fail_status;  // with AFTER_FAIL: the status on_connect gets
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai_req;
  int gai_active;
  struct addrinfo *ai_list;
  struct addrinfo *ai_next;
  hra_endpoint_t ep;  // the endpoint of the current attempt
  int busy;  // requests and handle closes in flight
  int stopped;  // close() was called: the attempt goes no further, no on_connect
  int close_wanted;  // on_closed is owed once busy is 0
  int refed;
  uv_write_t write_req;
  char *rbuf;
  size_t rcap;
} tcp_stream_t;

static void
connect_next (tcp_stream_t *t);

static void
free_addresses (tcp_stream_t *t) {
  if (t->ai_list != NULL) uv_freeaddrinfo(t->ai_list);
  t->ai_list = NULL;
  t->ai_next = NULL;
}

// After busy went down while stopped: the close is complete once nothing is in flight.
static void
settle (tcp_stream_t *t) {
  if (!t->close_wanted || t->busy > 0) return;
  t->close_wanted = 0;
  t->base.cbs->on_closed(&t->base);
}

static void
attempt_failed (tcp_stream_t *t, int status) {
  free_addresses(t);
  t->base.cbs->on_connect(&t->base, status);
}

static void
report (tcp_stream_t *t, const char *code, const char *message) {
  t->base.cbs->on_error(&t->base, code, message);
}

static void
on_sock_close (uv_handle_t *handle) {
  tcp_stream_t *t = handle->data;
  t->sock_open = 0;
  t->busy--;
  if (t->stopped) {
    settle(t);
    return;
  }
  if (t->after_close == AFTER_NEXT_ADDR && t->ai_next != NULL) {
    connect_next(t);
    return;
  }
  attempt_failed(t, t->fail_status);
}

static void
close_socket (tcp_stream_t *t, int after, int status) {
  t->after_close = after;
  t->fail_status = status;
  if (t->sock_open && !uv_is_closing(&t->sock.handle)) {
    t->busy++;
    uv_close(&t->sock.handle, on_sock_close);
  } else if (!t->sock_open) {
    if (after == AFTER_NEXT_ADDR && t->ai_next != NULL)
      connect_next(t);
    else
      attempt_failed(t, status);
  }
}

static void
on_connect_done (uv_connect_t *req, int status) {
  tcp_stream_t *t = req->data;
  t->busy--;
  if (t->stopped) {
    settle(t);
    return;
  }
  if (status == UV_ECANCELED) return;  // our abort closed the socket: on_sock_close goes on
  if (status < 0) {
    char text[160];
    snprintf(text, sizeof(text), "connect to %s%s%d failed: %s", t->ep.path ? t->ep.path : t->ep.host, t->ep.path ? "" : ":", t->ep.path ? 0 : t->ep.port, uv_strerror(status));
    report(t, uv_err_name(status), text);
    if (t->stopped) return;
    int next = t->ai_next != NULL;
    if (!next) free_addresses(t);
    close_socket(t, next ? AFTER_NEXT_ADDR : AFTER_FAIL, status);
    return;
  }
  free_addresses(t);
  t->base.cbs->on_connect(&t->base, 0);
}

static void
connect_addr (tcp_stream_t *t, const struct sockaddr *addr) {
  int err = uv_tcp_init(t->loop, &t->sock.tcp);
  if (err) {
    report(t, uv_err_name(err), uv_strerror(err));
    if (t->stopped) return;
    attempt_failed(t, err);
    return;
  }
  t->sock.handle.data = t;
  t->sock_open = 1;
  if (!t->refed) uv_unref(&t->sock.handle);
  t->connect_req.data = t;
  err = uv_tcp_connect(&t->connect_req, &t->sock.tcp, addr, on_connect_done);
  if (err) {
    report(t, uv_err_name(err), uv_strerror(err));
    if (t->stopped) return;
    close_socket(t, t->ai_next != NULL ? AFTER_NEXT_ADDR : AFTER_FAIL, err);
    return;
  }
  t->busy++;
  t->base.cbs->on_connecting(&t->base, 0);
}

static void
connect_next (tcp_stream_t *t) {
  struct addrinfo *ai = t->ai_next;
  t->ai_next = ai->ai_next;
  connect_addr(t, ai->ai_addr);
}

static void
on_resolved (uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  tcp_stream_t *t = req->data;
  t->gai_active = 0;
  t->busy--;
  if (t->stopped) {
    if (res != NULL) uv_freeaddrinfo(res);
    settle(t);
    return;
  }
  if (status == UV_EAI_CANCELED) {
    // abort() cancelled it; the owner has reported its timeout.
    if (res != NULL) uv_freeaddrinfo(res);
    attempt_failed(t, UV_ECANCELED);
    return;
  }
  if (status < 0 || res == NULL) {
    if (res != NULL) uv_freeaddrinfo(res);
    char text[160];
    snprintf(text, sizeof(text), "cannot resolve %s: %s", t->ep.host, uv_strerror(status));
    report(t, status == UV_EAI_NONAME ? "ENOTFOUND" : uv_err_name(status), text);
    if (t->stopped) return;
    attempt_failed(t, status < 0 ? status : UV_EAI_NONAME);
    return;
  }
  free_addresses(t);
  t->ai_list = res;
  t->ai_next = res;
  connect_next(t);
}

static void
tcp_connect (hra_stream_t *s, const hra_endpoint_t *ep) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  t->stopped = 0;
  t->ep = *ep;
  free_addresses(t);
  if (ep->path != NULL) {
    int err = uv_pipe_init(t->loop, &t->sock.pipe, 0);
    if (err) {
      report(t, uv_err_name(err), uv_strerror(err));
      if (t->stopped) return;
      attempt_failed(t, err);
      return;
    }
    t->sock.handle.data = t;
    t->sock_open = 1;
    if (!t->refed) uv_unref(&t->sock.handle);
    t->connect_req.data = t;
    uv_pipe_connect(&t->connect_req, &t->sock.pipe, ep->path, on_connect_done);
    t->busy++;
    t->base.cbs->on_connecting(&t->base, 0);
    return;
  }
  // IP literals need no resolver round trip through the thread pool.
  struct sockaddr_storage ss;
  if (uv_ip4_addr(ep->host, ep->port, (struct sockaddr_in *) &ss) == 0 || uv_ip6_addr(ep->host, ep->port, (struct sockaddr_in6 *) &ss) == 0) {
    connect_addr(t, (const struct sockaddr *) &ss);
    return;
  }
  char port[16];
  snprintf(port, sizeof(port), "%d", ep->port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  t->gai_req.data = t;
  int err = uv_getaddrinfo(t->loop, &t->gai_req, on_resolved, ep->host, port, &hints);
  if (err) {
    report(t, uv_err_name(err), uv_strerror(err));
    if (t->stopped) return;
    attempt_failed(t, err);
    return;
  }
  t->gai_active = 1;
  t->busy++;
  t->base.cbs->on_connecting(&t->base, 1);
}

static void
tcp_abort (hra_stream_t *s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  if (t->gai_active) {
    // Take the lookup back if it is still queued (the thread pool may be busy for long): its callback
    // then comes with UV_EAI_CANCELED. One already running cannot be stopped; it goes on with the answer.
    uv_cancel((uv_req_t *) &t->gai_req);
    return;
  }
  free_addresses(t);
  close_socket(t, AFTER_FAIL, UV_ETIMEDOUT);
}

static void
on_alloc (uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  tcp_stream_t *t = handle->data;
  buf->base = t->rbuf;
  buf->len = t->rcap;
}

static void
on_read (uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  tcp_stream_t *t = stream->data;
  if (nread == 0) return;
  t->base.cbs->on_read(&t->base, nread, buf->base);
}

static int
tcp_read_start (hra_stream_t *s, char *buf, size_t cap) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  t->rbuf = buf;
  t->rcap = cap;
  return uv_read_start(&t->sock.stream, on_alloc, on_read);
}

static int
tcp_read_stop (hra_stream_t *s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  return t->sock_open ? uv_read_stop(&t->sock.stream) : 0;
}

static void
on_write (uv_write_t *req, int status) {
  tcp_stream_t *t = req->data;
  t->base.cbs->on_write(&t->base, status);
}

static int
tcp_write (hra_stream_t *s, const uv_buf_t *bufs, unsigned nbufs) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  t->write_req.data = t;
  return uv_write(&t->write_req, &t->sock.stream, bufs, nbufs, on_write);
}

static size_t
tcp_write_queue_size (hra_stream_t *s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  return t->sock_open ? uv_stream_get_write_queue_size(&t->sock.stream) : 0;
}

// SIOCOUTQ counts what the kernel holds that the peer has not acknowledged; libuv's own queue comes on top.
// On a unix socket the kernel's count is what the peer has not read yet, which it may still read after we
// close: unknown, like any other platform.
static int
tcp_unacked (hra_stream_t *s, size_t *n) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  *n = 0;
  if (!t->sock_open || t->sock.handle.type != UV_TCP) return HRA_ENOTSUP;
#if defined(__linux__) && defined(SIOCOUTQ)
  uv_os_fd_t fd;
  int queued = 0;
  if (uv_fileno(&t->sock.handle, &fd) != 0 || ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) return HRA_ENOTSUP;
  *n = (size_t) queued + uv_stream_get_write_queue_size(&t->sock.stream);
  return HRA_OK;
#else
  return HRA_ENOTSUP;
#endif
}

static int
close_socket_now (hra_stream_t *s, int reset) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  t->stopped = 1;
  if (t->gai_active) uv_cancel((uv_req_t *) &t->gai_req);
  free_addresses(t);
  if (t->sock_open && !uv_is_closing(&t->sock.handle)) {
    t->busy++;
    // A reset needs a connected TCP socket; uv_tcp_close_reset refuses anything else, then we close.
    if (!reset || t->sock.handle.type != UV_TCP || uv_tcp_close_reset(&t->sock.tcp, on_sock_close) != 0) uv_close(&t->sock.handle, on_sock_close);
  }
  if (t->busy == 0) return 0;
  t->close_wanted = 1;
  return 1;
}

static int
tcp_close (hra_stream_t *s) {
  return close_socket_now(s, 0);
}

static int
tcp_close_reset (hra_stream_t *s) {
  return close_socket_now(s, 1);
}

static void
tcp_ref (hra_stream_t *s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  t->refed = 1;
  if (t->sock_open) uv_ref(&t->sock.handle);
}

static void
tcp_unref (hra_stream_t *s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  t->refed = 0;
  if (t->sock_open) uv_unref(&t->sock.handle);
}

static void
tcp_hints (hra_stream_t *s, int nodelay, unsigned keepalive_s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  if (!t->sock_open || t->sock.handle.type != UV_TCP) return;
  if (nodelay) uv_tcp_nodelay(&t->sock.tcp, 1);
  if (keepalive_s > 0) uv_tcp_keepalive(&t->sock.tcp, 1, keepalive_s);
}

static void
tcp_free (hra_stream_t *s) {
  tcp_stream_t *t = (tcp_stream_t *) s;
  free_addresses(t);
  free(t);
}

static const hra_stream_vt_t tcp_vt = {
  .connect = tcp_connect,
  .abort = tcp_abort,
  .read_start = tcp_read_start,
  .read_stop = tcp_read_stop,
  .write = tcp_write,
  .write_queue_size = tcp_write_queue_size,
  .unacked = tcp_unacked,
  .close = tcp_close,
  .close_reset = tcp_close_reset,
  .ref = tcp_ref,
  .unref = tcp_unref,
  .hints = tcp_hints,
  .free = tcp_free,
};

hra_stream_t *
hra_stream_tcp_new (uv_loop_t *loop, const hra_stream_cbs_t *cbs, void *data) {
  tcp_stream_t *t = calloc(1, sizeof(*t));
  if (t == NULL) return NULL;
  t->base.vt = &tcp_vt;
  t->base.cbs = cbs;
  t->base.data = data;
  t->loop = loop;
  t->refed = 1;
  return &t->base;
}

// A byte stream under a connection: connect to an endpoint, write buffers, read bytes, close. conn.c
// sees only this vtable; stream_tcp.c implements it for TCP (names resolved with uv_getaddrinfo, every
// address tried in order) and unix sockets, stream_tls.c for TLS over a TCP stream.
// Every callback runs on the loop thread; a stream is reused for the next attempt once idle again.
#ifndef HRA_STREAM_H
#define HRA_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "endpoint.h"

typedef struct hra_stream_s hra_stream_t;

typedef struct {
  // Something failed during a connect attempt (a name not resolved, an address refused, a timeout, a
  // TLS handshake refused): code is short and upper-case ("ECONNREFUSED", "CERT_HAS_EXPIRED"), message
  // human readable. The attempt may go on with the next address. Or, after on_connect(0), the connected
  // stream failed in a way a libuv code cannot tell (a TLS alert, a corrupt record): the owner fails the
  // connection with that code and closes the stream. The owner may close the stream from here.
  void (*on_error)(hra_stream_t *s, const char *code, const char *message);
  // The attempt now resolves a name (resolving = 1) or connects to one address (0): the owner
  // (re)starts its connect timer.
  void (*on_connecting)(hra_stream_t *s, int resolving);
  // The attempt is over: status 0 connected; < 0 failed (reported through on_error already), and the
  // stream is idle again. Not called for an attempt ended by close().
  void (*on_connect)(hra_stream_t *s, int status);
  // nread > 0 bytes were read into the buffer given to read_start; nread < 0 is a libuv error (UV_EOF:
  // the peer closed).
  void (*on_read)(hra_stream_t *s, ssize_t nread, const char *buf);
  // The write started by write() is done (status < 0: it failed; UV_ECANCELED: the stream was closed).
  void (*on_write)(hra_stream_t *s, int status);
  // The close close() returned 1 for is complete: the stream is idle.
  void (*on_closed)(hra_stream_t *s);
} hra_stream_cbs_t;

typedef struct {
  // Starts an attempt; on_connect ends it, possibly before this returns.
  void (*connect)(hra_stream_t *s, const hra_endpoint_t *ep);
  // Ends the attempt in progress as failed (the owner's connect timeout): a socket being connected is
  // closed and on_connect follows; a name lookup still queued is cancelled (on_connect follows), one
  // already running cannot be stopped and goes on with its answer.
  void (*abort)(hra_stream_t *s);
  int (*read_start)(hra_stream_t *s, char *buf, size_t cap);
  int (*read_stop)(hra_stream_t *s);
  // One write at a time: on_write follows unless this returns an error (< 0).
  int (*write)(hra_stream_t *s, const uv_buf_t *bufs, unsigned nbufs);
  // Bytes handed to write() that the socket has not taken yet.
  size_t (*write_queue_size)(hra_stream_t *s);
  // Bytes handed to write() that the peer's host has not acknowledged: still queued here, or sent and not
  // acknowledged (TCP on Linux: SIOCOUTQ). HRA_ENOTSUP when the transport cannot tell; then whatever was
  // written may have arrived.
  int (*unacked)(hra_stream_t *s, size_t *n);
  // Closes the socket and stops any attempt (no on_connect follows). Returns 1 when on_closed follows
  // (once, however often close is called before it), 0 when there was nothing to wait for.
  int (*close)(hra_stream_t *s);
  // Like close(), but what the peer has not acknowledged is discarded instead of being sent later (a TCP
  // reset), so what unacked() counted is known never to arrive. A transport that cannot reset closes.
  int (*close_reset)(hra_stream_t *s);
  void (*ref)(hra_stream_t *s);
  void (*unref)(hra_stream_t *s);
  // Hints for a connected stream; a transport they do not apply to ignores them.
  void (*hints)(hra_stream_t *s, int nodelay, unsigned keepalive_s);
  // Frees an idle stream.
  void (*free)(hra_stream_t *s);
} hra_stream_vt_t;

// Between two callbacks an owner may hand a stream to another (a replacement taking over: standby.c) by
// setting cbs and data; every callback reads them anew.
struct hra_stream_s {
  const hra_stream_vt_t *vt;
  const hra_stream_cbs_t *cbs;
  void *data;  // the owner's
};

// A TCP or unix-socket stream (chosen per attempt by the endpoint: a path means a unix socket). NULL
// on ENOMEM.
hra_stream_t *
hra_stream_tcp_new (uv_loop_t *loop, const hra_stream_cbs_t *cbs, void *data);

typedef struct hra_tls_s hra_tls_t;

// A TLS stream over inner, which it takes over (its callbacks become the TLS stream's; it is freed with
// it, or at once when this fails): the handshake is part of connect (on_connect(0) means the server's
// certificate was verified as tls says), SNI and the name verified are tls's servername or else each
// endpoint's host. Holds a reference to tls. NULL on ENOMEM.
hra_stream_t *
hra_stream_tls_wrap (hra_stream_t *inner, hra_tls_t *tls, const hra_stream_cbs_t *cbs, void *data);

// The stream a connection talks through: TCP (or a unix socket), under TLS when tls is not NULL.
static inline hra_stream_t *
hra_stream_new (uv_loop_t *loop, hra_tls_t *tls, const hra_stream_cbs_t *cbs, void *data) {
  hra_stream_t *s = hra_stream_tcp_new(loop, cbs, data);
  return tls == NULL || s == NULL ? s : hra_stream_tls_wrap(s, tls, cbs, data);
}

#endif  // HRA_STREAM_H

// The TLS stream (stream.h): OpenSSL over an inner byte stream (TCP) through two memory BIOs, so the
// socket stays libuv's and OpenSSL never sees a file descriptor. connect() is the inner connect, then the
// handshake: on_connect(0) comes once the server's certificate is verified. Every inner read is fed to
// OpenSSL at once and its plaintext handed over in one on_read (the connection's flush point stays one
// per socket read). write() encrypts the owner's bytes a record (PIECE) at a time and hands the inner
// stream at most OUT_TARGET bytes of ciphertext per write, so a large write is never held twice in full.
// Renegotiation is declined (tls.c); TLS 1.3 key updates and session tickets are handled inside SSL_read
// (an answer OpenSSL queues is sent after the read); close_notify reads as UV_EOF. A fatal TLS error
// reaches the owner through on_error with Node's code for it (tls.h).
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ossl.h"
#include "stream.h"
#include "tls.h"

#define CIPHER_CHUNK ((size_t) 64 * 1024)  // the inner read buffer
#define PIECE ((size_t) 16 * 1024)  // plaintext per SSL_write_ex: one full record
#define OUT_TARGET ((size_t) 64 * 1024)  // ciphertext gathered before an inner write starts
#define OUT_CAP (OUT_TARGET + PIECE + 1024)  // what a record added below OUT_TARGET can reach
#define MAX_WBUFS 4

enum { TS_IDLE = 0,
  TS_CONNECTING,  // the inner stream's attempt
  TS_HANDSHAKE,
  TS_FAILING,  // the handshake failed: on_connect(fail_status) once the inner stream is closed
  TS_OPEN,
  TS_CLOSING };  // the owner's close(): on_closed once the inner stream is closed

#define TLS_EFAIL (-4100)  // pump() and others: a TLS failure, described in code and msg

typedef struct {
  hra_stream_t base;
  hra_stream_t *inner;
  hra_tls_t *tls;
  SSL *ssl;
  BIO *rbio;  // ciphertext from the server (owned by ssl)
  BIO *wbio;  // ciphertext for the server (owned by ssl)
  int state;
  int close_wanted;  // the owner's close() waits for the inner stream's on_closed
  int fail_status;
  unsigned epoch;  // bumped by connect() and close(): a callback that sees it change returns at once
  char *host;  // the attempt's host (a copy): SNI, verification, messages
  int port;
  char *rbuf;  // the owner's plaintext buffer
  size_t rcap;
  int reading;
  int inner_reading;
  // The owner's write: its buffers, until every byte is encrypted and the ciphertext written.
  uv_buf_t wbufs[MAX_WBUFS];
  unsigned nwbufs;
  unsigned wcur;
  size_t woff;
  int owner_writing;
  int write_wants_read;  // SSL_write_ex waits for the server (possible in theory, handled anyway)
  char *out;  // ciphertext in the inner stream's write (one at a time, as the owner's)
  size_t out_len;
  int inner_writing;
  char code[64];  // the last failure, for on_error
  char msg[384];
  char cipher[CIPHER_CHUNK];
} tls_stream_t;

static const char *
verify_name (const tls_stream_t *t) {
  const char *s = hra_tls_servername(t->tls);
  return s != NULL ? s : t->host;
}

static int
is_ip_literal (const char *s) {
  unsigned char addr[16];
  return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

static void
free_ssl (tls_stream_t *t) {
  if (t->ssl != NULL) SSL_free(t->ssl);  // frees both BIOs
  t->ssl = NULL;
  t->rbio = NULL;
  t->wbio = NULL;
  t->write_wants_read = 0;
}

static void
set_error (tls_stream_t *t, const char *code, const char *message) {
  snprintf(t->code, sizeof(t->code), "%s", code);
  snprintf(t->msg, sizeof(t->msg), "TLS to %s:%d: %s", t->host != NULL ? t->host : "?", t->port, message);
}

static void
describe (tls_stream_t *t, int ssl_err) {
  char peer[300];
  snprintf(peer, sizeof(peer), "%s:%d", t->host != NULL ? t->host : "?", t->port);
  hra_tls_describe(t->ssl, ssl_err, peer, verify_name(t), t->code, sizeof(t->code), t->msg, sizeof(t->msg));
}

// Ciphertext OpenSSL produced, moved to the output buffer as far as it fits.
static void
drain (tls_stream_t *t) {
  size_t pending = BIO_ctrl_pending(t->wbio);
  size_t room = OUT_CAP - t->out_len;
  size_t n = pending < room ? pending : room;
  if (n == 0) return;
  int got = BIO_read(t->wbio, t->out + t->out_len, (int) n);
  if (got > 0) t->out_len += (size_t) got;
}

static int
owner_bytes_left (const tls_stream_t *t) {
  return t->owner_writing && t->wcur < t->nwbufs;
}

static void
advance (tls_stream_t *t, size_t n) {
  t->woff += n;
  while (t->wcur < t->nwbufs && t->woff >= t->wbufs[t->wcur].len) {
    t->wcur++;
    t->woff = 0;
  }
}

// Moves bytes toward the server: what OpenSSL queued (handshake messages, alerts, a key update's
// answer) and, while the owner has a write, more of its plaintext, encrypted. Starts an inner write when
// there is anything and none is in flight. 0, or < 0: a libuv code, or TLS_EFAIL with code and msg set.
static int
pump (tls_stream_t *t) {
  if (t->inner_writing || t->ssl == NULL) return 0;
  t->out_len = 0;
  drain(t);
  while (t->state == TS_OPEN && owner_bytes_left(t) && !t->write_wants_read && t->out_len < OUT_TARGET && BIO_ctrl_pending(t->wbio) == 0) {
    const uv_buf_t *b = &t->wbufs[t->wcur];
    size_t n = b->len - t->woff;
    if (n > PIECE) n = PIECE;
    size_t done = 0;
    ERR_clear_error();
    int r = SSL_write_ex(t->ssl, b->base + t->woff, n, &done);
    if (r == 1) {
      advance(t, done);
      drain(t);
      continue;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
      t->write_wants_read = 1;
      ERR_clear_error();
      break;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      break;
    }
    describe(t, e);
    return TLS_EFAIL;
  }
  if (t->out_len == 0) return 0;
  uv_buf_t ob = uv_buf_init(t->out, (unsigned int) t->out_len);
  int err = t->inner->vt->write(t->inner, &ob, 1);
  if (err) return err;
  t->inner_writing = 1;
  return 0;
}

// A failure on the open stream: the owner fails its connection (and closes us).
static void
fail_open (tls_stream_t *t, int err) {
  if (err != TLS_EFAIL) set_error(t, uv_err_name(err), uv_strerror(err));
  t->base.cbs->on_error(&t->base, t->code, t->msg);
}

// Ends the attempt as failed once the inner stream is closed.
static void
fail_attempt (tls_stream_t *t, int status) {
  free_ssl(t);
  t->state = TS_FAILING;
  t->fail_status = status;
  if (t->inner->vt->close(t->inner)) return;  // inner_on_closed goes on
  t->state = TS_IDLE;
  t->base.cbs->on_connect(&t->base, status);
}

static void
handshake_failed (tls_stream_t *t, int status) {
  unsigned epoch = t->epoch;
  t->base.cbs->on_error(&t->base, t->code, t->msg);
  if (t->epoch != epoch) return;  // the owner closed us
  fail_attempt(t, status);
}

static void
read_plain (tls_stream_t *t);

static void
handshake (tls_stream_t *t) {
  ERR_clear_error();
  int r = SSL_do_handshake(t->ssl);
  int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
  if (r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    describe(t, e);
    // OpenSSL queued an alert for the server: let it go out if it can before the socket closes.
    char code[sizeof(t->code)], msg[sizeof(t->msg)];
    memcpy(code, t->code, sizeof(code));
    memcpy(msg, t->msg, sizeof(msg));
    pump(t);
    memcpy(t->code, code, sizeof(code));
    memcpy(t->msg, msg, sizeof(msg));
    handshake_failed(t, UV_EPROTO);
    return;
  }
  ERR_clear_error();
  int err = pump(t);  // the ClientHello, or our Finished
  if (err) {
    if (err != TLS_EFAIL) set_error(t, uv_err_name(err), uv_strerror(err));
    handshake_failed(t, err == TLS_EFAIL ? UV_EPROTO : err);
    return;
  }
  if (r != 1) return;
  t->state = TS_OPEN;
  unsigned epoch = t->epoch;
  t->base.cbs->on_connect(&t->base, 0);
  if (t->epoch != epoch || t->state != TS_OPEN) return;
  // Application data that came with the server's last handshake flight.
  if (t->reading) read_plain(t);
}

static int
start_ssl (tls_stream_t *t) {
  SSL *ssl = SSL_new(hra_tls_ctx(t->tls));
  BIO *r = BIO_new(BIO_s_mem());
  BIO *w = BIO_new(BIO_s_mem());
  if (ssl == NULL || r == NULL || w == NULL) {
    if (ssl != NULL) SSL_free(ssl);
    if (r != NULL) BIO_free(r);
    if (w != NULL) BIO_free(w);
    ERR_clear_error();
    set_error(t, "ENOMEM", "out of memory");
    return UV_ENOMEM;
  }
  SSL_set_bio(ssl, r, w);  // ssl owns both from here
  SSL_set_connect_state(ssl);
  t->ssl = ssl;
  t->rbio = r;
  t->wbio = w;
  const char *name = verify_name(t);
  int ip = is_ip_literal(name);
  // SNI carries host names only (RFC 6066), as Node sends it.
  if (!ip && name[0] != 0 && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *) name) != 1) {
    ERR_clear_error();
    set_error(t, "ERR_INVALID_REDIS_TARGET", "the host name cannot be sent as SNI");
    return UV_EINVAL;
  }
  if (hra_tls_verify(t->tls)) {
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name) : X509_VERIFY_PARAM_set1_host(vp, name, 0)) != 1) {
      ERR_clear_error();
      set_error(t, "ERR_INVALID_REDIS_TARGET", "the host name cannot be verified");
      return UV_EINVAL;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// The inner stream's callbacks

static void
inner_on_error (hra_stream_t *in, const char *code, const char *message) {
  tls_stream_t *t = in->data;
  if (t->state == TS_CONNECTING) t->base.cbs->on_error(&t->base, code, message);
}

static void
inner_on_connecting (hra_stream_t *in, int resolving) {
  tls_stream_t *t = in->data;
  if (t->state == TS_CONNECTING) t->base.cbs->on_connecting(&t->base, resolving);
}

static void
inner_on_connect (hra_stream_t *in, int status) {
  tls_stream_t *t = in->data;
  if (t->state != TS_CONNECTING) return;
  if (status < 0) {
    t->state = TS_IDLE;
    t->base.cbs->on_connect(&t->base, status);
    return;
  }
  // The owner's connect timer still runs: it bounds the handshake too (abort()).
  t->state = TS_HANDSHAKE;
  t->code[0] = 0;
  // Our handshake flights are small writes in a row: no Nagle delay between them.
  t->inner->vt->hints(t->inner, 1, 0);
  int err = start_ssl(t);
  if (err == 0) {
    err = t->inner->vt->read_start(t->inner, t->cipher, sizeof(t->cipher));
    if (err) set_error(t, uv_err_name(err), uv_strerror(err));
    t->inner_reading = err == 0;
  }
  if (err) {
    handshake_failed(t, err);
    return;
  }
  handshake(t);
}

static int
feed (tls_stream_t *t, const char *buf, ssize_t nread) {
  if ((size_t) nread > CIPHER_CHUNK || BIO_write(t->rbio, buf, (int) nread) != (int) nread) {
    ERR_clear_error();
    set_error(t, "ENOMEM", "out of memory while reading");
    return UV_ENOMEM;
  }
  return 0;
}

// Decrypts what the read BIO holds into the owner's buffer, one on_read per buffer filled.
static void
read_plain (tls_stream_t *t) {
  unsigned epoch = t->epoch;
  for (;;) {
    size_t fill = 0;
    int e = SSL_ERROR_NONE;
    // SSL_get_error needs an empty queue before the call; a successful read leaves nothing in it.
    ERR_clear_error();
    while (fill < t->rcap) {
      size_t n = 0;
      int r = SSL_read_ex(t->ssl, t->rbuf + fill, t->rcap - fill, &n);
      if (r == 1) {
        fill += n;
        continue;
      }
      e = SSL_get_error(t->ssl, r);
      break;
    }
    int fatal = e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_ZERO_RETURN;
    if (fatal) describe(t, e);
    if (fill > 0) {
      t->base.cbs->on_read(&t->base, (ssize_t) fill, t->rbuf);
      if (t->epoch != epoch || !t->reading || t->state != TS_OPEN) return;
    }
    if (e == SSL_ERROR_NONE) continue;  // the buffer filled up: more may be waiting
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      // close_notify: the server ended the session.
      t->base.cbs->on_read(&t->base, UV_EOF, NULL);
      return;
    }
    t->base.cbs->on_error(&t->base, t->code, t->msg);
    return;
  }
  // What the reads made OpenSSL queue, and a write that waited for the server, go out now.
  ERR_clear_error();
  t->write_wants_read = 0;
  int err = pump(t);
  if (err) fail_open(t, err);
}

static void
inner_on_read (hra_stream_t *in, ssize_t nread, const char *buf) {
  tls_stream_t *t = in->data;
  if (t->state == TS_HANDSHAKE) {
    int err = nread < 0 ? (int) nread : feed(t, buf, nread);
    if (nread == UV_EOF)
      set_error(t, "ECONNRESET", "the server closed the connection before the TLS handshake was complete");
    else if (nread < 0)
      set_error(t, uv_err_name(err), uv_strerror(err));
    if (err) {
      handshake_failed(t, err);
      return;
    }
    handshake(t);
    return;
  }
  if (t->state != TS_OPEN) return;
  if (nread < 0) {
    t->base.cbs->on_read(&t->base, nread, NULL);
    return;
  }
  int err = feed(t, buf, nread);
  if (err) {
    t->base.cbs->on_error(&t->base, t->code, t->msg);
    return;
  }
  if (t->reading) read_plain(t);
}

static void
inner_on_write (hra_stream_t *in, int status) {
  tls_stream_t *t = in->data;
  t->inner_writing = 0;
  t->out_len = 0;
  if (status < 0) {
    if (t->state == TS_HANDSHAKE) {
      set_error(t, uv_err_name(status), uv_strerror(status));
      handshake_failed(t, status);
    } else if (t->state == TS_OPEN && t->owner_writing) {
      t->owner_writing = 0;
      t->base.cbs->on_write(&t->base, status);
    }
    // Closing: a write of the owner still pending is settled when the inner stream is closed.
    return;
  }
  if (t->state != TS_HANDSHAKE && t->state != TS_OPEN) return;
  if (t->state == TS_OPEN && t->owner_writing && !owner_bytes_left(t) && BIO_ctrl_pending(t->wbio) == 0) {
    unsigned epoch = t->epoch;
    t->owner_writing = 0;
    t->base.cbs->on_write(&t->base, 0);
    if (t->epoch != epoch || t->state != TS_OPEN) return;
  }
  int err = pump(t);
  if (err == 0) return;
  if (t->state == TS_HANDSHAKE) {
    if (err != TLS_EFAIL) set_error(t, uv_err_name(err), uv_strerror(err));
    handshake_failed(t, err == TLS_EFAIL ? UV_EPROTO : err);
  } else {
    fail_open(t, err);
  }
}

static void
inner_on_closed (hra_stream_t *in) {
  tls_stream_t *t = in->data;
  if (t->close_wanted) {
    t->close_wanted = 0;
    t->state = TS_IDLE;
    if (t->owner_writing) {
      // As a TCP stream does: the write in flight at close ends with UV_ECANCELED, before on_closed.
      t->owner_writing = 0;
      t->base.cbs->on_write(&t->base, UV_ECANCELED);
    }
    t->base.cbs->on_closed(&t->base);  // last: the owner may free us
    return;
  }
  if (t->state == TS_FAILING) {
    t->state = TS_IDLE;
    t->base.cbs->on_connect(&t->base, t->fail_status);
  }
}

// ---------------------------------------------------------------------------------------------------
// The vtable

static void
tls_connect (hra_stream_t *s, const hra_endpoint_t *ep) {
  tls_stream_t *t = (tls_stream_t *) s;
  t->epoch++;
  t->state = TS_CONNECTING;
  t->port = ep->port;
  t->reading = 0;
  t->inner_reading = 0;
  t->owner_writing = 0;
  t->inner_writing = 0;
  t->out_len = 0;
  free(t->host);
  t->host = ep->path == NULL && ep->host != NULL ? strdup(ep->host) : NULL;
  if (t->host == NULL) {
    const char *why = ep->path != NULL ? "TLS over a unix socket is not supported" : "out of memory";
    t->state = TS_IDLE;
    unsigned epoch = t->epoch;
    t->base.cbs->on_error(&t->base, ep->path != NULL ? "EINVAL" : "ENOMEM", why);
    if (t->epoch != epoch) return;
    t->base.cbs->on_connect(&t->base, ep->path != NULL ? UV_EINVAL : UV_ENOMEM);
    return;
  }
  t->inner->vt->connect(t->inner, ep);
}

static void
tls_abort (hra_stream_t *s) {
  tls_stream_t *t = (tls_stream_t *) s;
  if (t->state == TS_CONNECTING)
    t->inner->vt->abort(t->inner);
  else if (t->state == TS_HANDSHAKE)
    fail_attempt(t, UV_ETIMEDOUT);  // the owner has reported its timeout
}

static int
tls_read_start (hra_stream_t *s, char *buf, size_t cap) {
  tls_stream_t *t = (tls_stream_t *) s;
  if (cap == 0) return UV_EINVAL;
  if (t->state != TS_OPEN) return UV_ENOTCONN;
  t->rbuf = buf;
  t->rcap = cap;
  t->reading = 1;
  if (!t->inner_reading) {
    int err = t->inner->vt->read_start(t->inner, t->cipher, sizeof(t->cipher));
    if (err) return err;
    t->inner_reading = 1;
  }
  return 0;
}

static int
tls_read_stop (hra_stream_t *s) {
  tls_stream_t *t = (tls_stream_t *) s;
  t->reading = 0;
  t->inner_reading = 0;
  return t->inner->vt->read_stop(t->inner);
}

static int
tls_write (hra_stream_t *s, const uv_buf_t *bufs, unsigned nbufs) {
  tls_stream_t *t = (tls_stream_t *) s;
  if (t->state != TS_OPEN || t->ssl == NULL) return UV_ENOTCONN;
  if (t->owner_writing) return UV_EBUSY;
  if (nbufs == 0 || nbufs > MAX_WBUFS) return UV_EINVAL;
  size_t total = 0;
  for (unsigned i = 0; i < nbufs; i++)
    total += bufs[i].len;
  // A zero-byte write would have nothing to complete it; the connection never makes one.
  if (total == 0) return UV_EINVAL;
  memcpy(t->wbufs, bufs, nbufs * sizeof(*bufs));
  t->nwbufs = nbufs;
  t->wcur = 0;
  t->woff = 0;
  advance(t, 0);
  t->owner_writing = 1;
  // Never a callback from here (the owner sets its own state after this returns): a failure is returned.
  int err = pump(t);
  if (err) t->owner_writing = 0;
  return err == TLS_EFAIL ? UV_EPROTO : err;
}

static size_t
tls_write_queue_size (hra_stream_t *s) {
  tls_stream_t *t = (tls_stream_t *) s;
  size_t n = t->inner_writing ? 0 : t->out_len;
  if (t->owner_writing) {
    for (unsigned i = t->wcur; i < t->nwbufs; i++)
      n += t->wbufs[i].len - (i == t->wcur ? t->woff : 0);
  }
  if (t->wbio != NULL) n += BIO_ctrl_pending(t->wbio);
  return n + t->inner->vt->write_queue_size(t->inner);
}

static int
close_stream (hra_stream_t *s, int reset) {
  tls_stream_t *t = (tls_stream_t *) s;
  t->epoch++;
  t->reading = 0;
  t->inner_reading = 0;
  if (!reset && t->state == TS_OPEN && t->ssl != NULL && !t->inner_writing) {
    // close_notify, best effort: libuv tries a write at once, before the socket is closed below.
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
    t->out_len = 0;
    drain(t);
    if (t->out_len > 0) {
      uv_buf_t ob = uv_buf_init(t->out, (unsigned int) t->out_len);
      if (t->inner->vt->write(t->inner, &ob, 1) == 0) t->inner_writing = 1;
    }
  }
  free_ssl(t);
  t->state = TS_CLOSING;
  if (reset ? t->inner->vt->close_reset(t->inner) : t->inner->vt->close(t->inner)) {
    t->close_wanted = 1;
    return 1;
  }
  t->state = TS_IDLE;
  t->owner_writing = 0;
  return 0;
}

static int
tls_close (hra_stream_t *s) {
  return close_stream(s, 0);
}

// No close_notify: the TCP reset under it discards whatever the server has not acknowledged.
static int
tls_close_reset (hra_stream_t *s) {
  return close_stream(s, 1);
}

// Plaintext bytes cannot be matched to the ciphertext the server's host acknowledged, except in the case
// that matters after a freeze: everything written was encrypted, sent and acknowledged (nothing unacked).
static int
tls_unacked (hra_stream_t *s, size_t *n) {
  tls_stream_t *t = (tls_stream_t *) s;
  size_t inner = 0;
  if (t->inner->vt->unacked(t->inner, &inner) != HRA_OK) return HRA_ENOTSUP;
  if (inner > 0 || tls_write_queue_size(s) > 0) return HRA_ENOTSUP;
  *n = 0;
  return HRA_OK;
}

static void
tls_ref (hra_stream_t *s) {
  tls_stream_t *t = (tls_stream_t *) s;
  t->inner->vt->ref(t->inner);
}

static void
tls_unref (hra_stream_t *s) {
  tls_stream_t *t = (tls_stream_t *) s;
  t->inner->vt->unref(t->inner);
}

static void
tls_hints (hra_stream_t *s, int nodelay, unsigned keepalive_s) {
  tls_stream_t *t = (tls_stream_t *) s;
  t->inner->vt->hints(t->inner, nodelay, keepalive_s);
}

static void
tls_free (hra_stream_t *s) {
  tls_stream_t *t = (tls_stream_t *) s;
  free_ssl(t);
  t->inner->vt->free(t->inner);
  hra_tls_unref(t->tls);
  free(t->out);
  free(t->host);
  free(t);
}

static const hra_stream_vt_t tls_vt = {
  .connect = tls_connect,
  .abort = tls_abort,
  .read_start = tls_read_start,
  .read_stop = tls_read_stop,
  .write = tls_write,
  .write_queue_size = tls_write_queue_size,
  .unacked = tls_unacked,
  .close = tls_close,
  .close_reset = tls_close_reset,
  .ref = tls_ref,
  .unref = tls_unref,
  .hints = tls_hints,
  .free = tls_free,
};

static const hra_stream_cbs_t inner_cbs = {
  inner_on_error,
  inner_on_connecting,
  inner_on_connect,
  inner_on_read,
  inner_on_write,
  inner_on_closed,
};

hra_stream_t *
hra_stream_tls_wrap (hra_stream_t *inner, hra_tls_t *tls, const hra_stream_cbs_t *cbs, void *data) {
  tls_stream_t *t = calloc(1, sizeof(*t));
  char *out = malloc(OUT_CAP);
  if (t == NULL || out == NULL) {
    free(t);
    free(out);
    inner->vt->free(inner);
    return NULL;
  }
  t->base.vt = &tls_vt;
  t->base.cbs = cbs;
  t->base.data = data;
  t->inner = inner;
  inner->cbs = &inner_cbs;
  inner->data = t;
  t->tls = tls;
  hra_tls_ref(tls);
  t->out = out;
  return &t->base;
}

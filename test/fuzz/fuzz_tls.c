// libFuzzer target: native/stream_tls.c's read and write paths over an inner stream that this harness
// drives by hand (a byte pipe, writes completed on the next "loop turn"), against an in-memory OpenSSL
// server. The first input byte picks the mode:
//   0: the input is the server's whole answer to our ClientHello (garbage handshakes must fail cleanly);
//   1: a real handshake, then the input as raw bytes after it (garbage records);
//   2: a real handshake, then the input sent by the server as application data in input-chosen record
//      sizes, read in input-chosen chunk sizes: the plaintext must arrive intact and in order, and our own
//      writes (the input again) must reach the server intact;
//   3: as 2, with one byte of the server's ciphertext flipped at an input-chosen position (must fail).
// In every mode the stream is then closed and freed: a leak or a use after free is a finding.
// OpenSSL is the system's (linked) here, not Node's; the code under test is the same.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../native/ossl.h"
#include "../../native/stream.h"
#include "../../native/tls.h"

// libuv's error helpers, the only libuv functions stream_tls.c calls (no loop here).
const char *
uv_err_name (int err) {
  return err == UV_EOF ? "EOF" : "EFUZZ";
}

const char *
uv_strerror (int err) {
  return "fuzz inner stream error";
}

uv_buf_t
uv_buf_init (char *base, unsigned int len) {
  uv_buf_t b;
  b.base = base;
  b.len = len;
  return b;
}

// ---------------------------------------------------------------------------------------------------
// The inner stream: what the TLS stream writes goes to `to_server`; the harness feeds its reads.

typedef struct {
  hra_stream_t base;
  char *rbuf;
  size_t rcap;
  int reading;
  int write_pending;
  int closing;  // close() returned 1: on_closed is owed
  int open;
  uint8_t *to_server;
  size_t to_server_len;
} pipe_stream_t;

static void
pipe_connect (hra_stream_t *s, const hra_endpoint_t *ep) {
  ((pipe_stream_t *) s)->open = 1;  // the harness calls on_connect
}

static void
pipe_abort (hra_stream_t *s) {
}

static int
pipe_read_start (hra_stream_t *s, char *buf, size_t cap) {
  pipe_stream_t *p = (pipe_stream_t *) s;
  p->rbuf = buf;
  p->rcap = cap;
  p->reading = 1;
  return 0;
}

static int
pipe_read_stop (hra_stream_t *s) {
  ((pipe_stream_t *) s)->reading = 0;
  return 0;
}

static int
pipe_write (hra_stream_t *s, const uv_buf_t *bufs, unsigned nbufs) {
  pipe_stream_t *p = (pipe_stream_t *) s;
  if (p->write_pending || !p->open) abort();  // the TLS stream must keep to one write at a time
  for (unsigned i = 0; i < nbufs; i++) {
    p->to_server = realloc(p->to_server, p->to_server_len + bufs[i].len);
    if (p->to_server == NULL) abort();
    memcpy(p->to_server + p->to_server_len, bufs[i].base, bufs[i].len);
    p->to_server_len += bufs[i].len;
  }
  p->write_pending = 1;
  return 0;
}

static size_t
pipe_write_queue_size (hra_stream_t *s) {
  return 0;
}

static int
pipe_close (hra_stream_t *s) {
  pipe_stream_t *p = (pipe_stream_t *) s;
  p->reading = 0;
  if (p->closing) return 1;  // still owed from an earlier close
  if (!p->open && !p->write_pending) return 0;
  p->open = 0;
  p->closing = 1;
  return 1;
}

static void
pipe_noop (hra_stream_t *s) {
}

static void
pipe_hints (hra_stream_t *s, int nodelay, unsigned keepalive_s) {
}

static void
pipe_free (hra_stream_t *s) {
  pipe_stream_t *p = (pipe_stream_t *) s;
  free(p->to_server);
  free(p);
}

static int
pipe_unacked (hra_stream_t *s, size_t *n) {
  *n = 0;
  return HRA_OK;
}

static const hra_stream_vt_t pipe_vt = {
  .connect = pipe_connect,
  .abort = pipe_abort,
  .read_start = pipe_read_start,
  .read_stop = pipe_read_stop,
  .write = pipe_write,
  .write_queue_size = pipe_write_queue_size,
  .unacked = pipe_unacked,
  .close = pipe_close,
  .close_reset = pipe_close,
  .ref = pipe_noop,
  .unref = pipe_noop,
  .hints = pipe_hints,
  .free = pipe_free,
};

// ---------------------------------------------------------------------------------------------------
// The owner: records what the TLS stream reports.

typedef struct {
  int connected;  // 1 ok, -1 failed
  int errors;
  int closed;
  int eof;
  int write_done;
  uint8_t *plain;
  size_t plain_len;
  char rbuf[4096];  // small, so plaintext arrives in several on_read calls
} owner_t;

static owner_t owner;

static void
on_error (hra_stream_t *s, const char *code, const char *message) {
  if (code == NULL || message == NULL || code[0] == 0) abort();
  owner.errors++;
}

static void
on_connecting (hra_stream_t *s, int resolving) {
}

static void
on_connect (hra_stream_t *s, int status) {
  owner.connected = status == 0 ? 1 : -1;
  if (status == 0 && s->vt->read_start(s, owner.rbuf, sizeof(owner.rbuf)) != 0) abort();
}

static void
on_read (hra_stream_t *s, ssize_t nread, const char *buf) {
  if (nread < 0) {
    owner.eof = 1;
    return;
  }
  if (buf != owner.rbuf || (size_t) nread > sizeof(owner.rbuf)) abort();
  owner.plain = realloc(owner.plain, owner.plain_len + (size_t) nread);
  if (owner.plain == NULL) abort();
  memcpy(owner.plain + owner.plain_len, buf, (size_t) nread);
  owner.plain_len += (size_t) nread;
}

static void
on_write (hra_stream_t *s, int status) {
  owner.write_done = status == 0 ? 1 : -1;
}

static void
on_closed (hra_stream_t *s) {
  owner.closed = 1;
}

static const hra_stream_cbs_t owner_cbs = { on_error, on_connecting, on_connect, on_read, on_write, on_closed };

// ---------------------------------------------------------------------------------------------------
// The server: an in-memory OpenSSL server with a self-signed certificate for fuzz.example.

static SSL_CTX *server_ctx;
static hra_tls_t *client_tls;

static void
init_once (void) {
  if (server_ctx != NULL) return;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  if (key == NULL || x == NULL) abort();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "fuzz.example", -1, -1, 0);
  X509_set_issuer_name(x, name);
  if (X509_sign(x, key, EVP_sha256()) == 0) abort();
  server_ctx = SSL_CTX_new(TLS_server_method());
  if (server_ctx == NULL || SSL_CTX_use_certificate(server_ctx, x) != 1 || SSL_CTX_use_PrivateKey(server_ctx, key) != 1) abort();
  SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_OFF);
  BIO *pem = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(pem, x);
  char *ca = NULL;
  long ca_len = BIO_get_mem_data(pem, &ca);
  hra_tls_opts_t o;
  memset(&o, 0, sizeof(o));
  o.ca = ca;
  o.ca_len = (size_t) ca_len;
  o.servername = "fuzz.example";
  o.reject_unauthorized = 1;
  char code[64], msg[256];
  if (hra_tls_new(&o, &client_tls, code, sizeof(code), msg, sizeof(msg)) != 0) abort();
  BIO_free(pem);
  X509_free(x);
  EVP_PKEY_free(key);
}

typedef struct {
  SSL *ssl;
  BIO *in;  // what the client sent
  BIO *out;  // what the server sends
} server_t;

static void
server_new (server_t *sv) {
  sv->ssl = SSL_new(server_ctx);
  sv->in = BIO_new(BIO_s_mem());
  sv->out = BIO_new(BIO_s_mem());
  if (sv->ssl == NULL || sv->in == NULL || sv->out == NULL) abort();
  SSL_set_bio(sv->ssl, sv->in, sv->out);
  SSL_set_accept_state(sv->ssl);
}

// ---------------------------------------------------------------------------------------------------
// The loop: completes the inner write, hands its bytes to the server, and feeds the server's output
// (mutated by `mutate`) to the TLS stream in chunks.

typedef struct {
  pipe_stream_t *inner;
  hra_stream_t *tls;
  server_t *sv;
  const uint8_t *chunks;  // chunk sizes, cycled
  size_t nchunks;
  size_t ci;
  long flip;  // ciphertext byte to flip (-1: none)
  size_t fed;
} loop_t;

static void
feed (loop_t *l, const uint8_t *p, size_t n) {
  while (n > 0 && l->inner->reading) {
    size_t k = l->nchunks ? 1 + l->chunks[l->ci++ % l->nchunks] * 64u : n;
    if (k > n) k = n;
    if (k > l->inner->rcap) k = l->inner->rcap;
    memcpy(l->inner->rbuf, p, k);
    if (l->flip >= 0 && (size_t) l->flip >= l->fed && (size_t) l->flip < l->fed + k) l->inner->rbuf[l->flip - (long) l->fed] ^= 0x5a;
    l->fed += k;
    p += k;
    n -= k;
    l->inner->base.cbs->on_read(&l->inner->base, (ssize_t) k, l->inner->rbuf);
  }
}

// One turn: server input, server handshake progress and output, our write's completion.
static void
turn (loop_t *l) {
  pipe_stream_t *in = l->inner;
  if (in->to_server_len > 0 && l->sv != NULL) {
    BIO_write(SSL_get_rbio(l->sv->ssl), in->to_server, (int) in->to_server_len);
    in->to_server_len = 0;
    if (!SSL_is_init_finished(l->sv->ssl)) SSL_do_handshake(l->sv->ssl);
  }
  in->to_server_len = 0;
  if (in->write_pending) {
    in->write_pending = 0;
    in->base.cbs->on_write(&in->base, 0);
  }
  if (l->sv != NULL) {
    char tmp[16384];
    int n;
    while ((n = BIO_read(SSL_get_wbio(l->sv->ssl), tmp, sizeof(tmp))) > 0)
      feed(l, (const uint8_t *) tmp, (size_t) n);
  }
  ERR_clear_error();
}

static void
close_and_free (loop_t *l) {
  hra_stream_t *s = l->tls;
  if (s->vt->close(s)) {
    if (!l->inner->closing) abort();
    if (l->inner->write_pending) {
      l->inner->write_pending = 0;
      l->inner->base.cbs->on_write(&l->inner->base, UV_ECANCELED);
    }
    l->inner->closing = 0;
    l->inner->base.cbs->on_closed(&l->inner->base);
    if (!owner.closed) abort();
  }
  s->vt->free(s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  init_once();
  memset(&owner, 0, sizeof(owner));
  int mode = data[0] % 4;
  uint8_t nchunks = data[1] % 8;
  const uint8_t *chunks = data + 2;
  if (size < 2u + nchunks) return 0;
  const uint8_t *body = data + 2 + nchunks;
  size_t body_len = size - 2 - nchunks;

  pipe_stream_t *inner = calloc(1, sizeof(*inner));
  if (inner == NULL) abort();
  inner->base.vt = &pipe_vt;
  hra_stream_t *tls = hra_stream_tls_wrap(&inner->base, client_tls, &owner_cbs, NULL);
  if (tls == NULL) abort();
  server_t sv;
  memset(&sv, 0, sizeof(sv));
  loop_t l = { inner, tls, NULL, chunks, nchunks, 0, -1, 0 };
  hra_endpoint_t ep = { .host = "127.0.0.1", .port = 6379 };
  tls->vt->connect(tls, &ep);
  inner->base.cbs->on_connect(&inner->base, 0);

  if (mode == 0) {
    turn(&l);
    feed(&l, body, body_len);
    turn(&l);
  } else {
    server_new(&sv);
    l.sv = &sv;
    for (int i = 0; i < 8 && owner.connected == 0; i++)
      turn(&l);
    if (owner.connected != 1) abort();  // a clean handshake must succeed
    if (mode == 1) {
      feed(&l, body, body_len);
      turn(&l);
    } else {
      for (int i = 0; i < 8 && !SSL_is_init_finished(sv.ssl); i++)
        turn(&l);
      if (!SSL_is_init_finished(sv.ssl)) abort();
      if (mode == 3 && body_len > 0) l.flip = (long) (l.fed + 5 + body[0] % (body_len + 16));
      // The server sends the body in records of input-chosen sizes; we send it back through write().
      size_t off = 0, k = 0;
      while (off < body_len) {
        size_t n = 1 + (size_t) body[off] * 37u;
        if (n > body_len - off) n = body_len - off;
        if (SSL_write(sv.ssl, body + off, (int) n) != (int) n) abort();
        off += n;
        k++;
      }
      if (body_len > 0) {
        uv_buf_t b = uv_buf_init((char *) body, (unsigned int) body_len);
        if (tls->vt->write(tls, &b, 1) != 0) abort();
      }
      for (int i = 0; i < 64 && (owner.write_done == 0 || owner.plain_len < body_len) && owner.errors == 0; i++)
        turn(&l);
      if (mode == 2) {
        if (owner.errors != 0 || owner.plain_len != body_len || (body_len > 0 && memcmp(owner.plain, body, body_len) != 0)) abort();
        if (body_len > 0 && owner.write_done != 1) abort();
        // What we wrote reached the server intact.
        uint8_t *back = malloc(body_len + 1);
        size_t got = 0;
        int r;
        while (back != NULL && got < body_len && (r = SSL_read(sv.ssl, back + got, (int) (body_len - got))) > 0)
          got += (size_t) r;
        if (back == NULL || got != body_len || memcmp(back, body, body_len) != 0) abort();
        free(back);
        (void) k;
      }
    }
  }
  close_and_free(&l);
  if (sv.ssl != NULL) SSL_free(sv.ssl);
  free(owner.plain);
  ERR_clear_error();
  return 0;
}

// The TLS context of a client (tls.h) and the description of TLS failures, with Node's codes.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ossl.h"
#include "tls.h"

struct hra_tls_s {
  int refs;
  SSL_CTX *ctx;
  char *servername;
  int verify;
};

int
hra_tls_available (char *msg, size_t msg_cap) {
  const char *missing = NULL;
#define HRA_OSSL_CHECK(name) \
  if (missing == NULL && &(name) == NULL) missing = #name;
  HRA_OSSL_FUNCTIONS(HRA_OSSL_CHECK)
#undef HRA_OSSL_CHECK
  if (missing != NULL) {
    snprintf(msg, msg_cap, "TLS needs the OpenSSL 3 functions Node exports, and this Node.js has none (%s is missing; Electron and other builds on BoringSSL do not export them)", missing);
    return 0;
  }
  unsigned long v = OpenSSL_version_num();
  if (v < HRA_OSSL_MIN_VERSION) {
    snprintf(msg, msg_cap, "TLS needs OpenSSL 3.0 or later, and this Node.js carries %s", OpenSSL_version(OPENSSL_VERSION));
    return 0;
  }
  return 1;
}

// The first error of the queue as "ERR_SSL_<REASON>" (Node's form) and its text; empties the queue.
static void
queue_error (char *code, size_t code_cap, char *text, size_t text_cap) {
  unsigned long e = ERR_get_error();
  if (text_cap > 0) text[0] = 0;
  if (code_cap > 0) code[0] = 0;
  if (e != 0) {
    ERR_error_string_n(e, text, text_cap);
    const char *reason = ERR_reason_error_string(e);
    if (reason != NULL && code_cap > 8) {
      size_t n = snprintf(code, code_cap, "ERR_SSL_");
      for (const char *p = reason; *p != 0 && n + 1 < code_cap; p++)
        code[n++] = *p == ' ' ? '_' : (char) toupper((unsigned char) *p);
      code[n] = 0;
    }
  }
  ERR_clear_error();
}

static int
fail (char *code, size_t code_cap, const char *c, char *msg, size_t msg_cap, const char *what) {
  char text[256];
  char ignored[64];
  queue_error(ignored, sizeof(ignored), text, sizeof(text));
  snprintf(code, code_cap, "%s", c);
  snprintf(msg, msg_cap, "%s%s%s", what, text[0] ? ": " : "", text);
  return -1;
}

static int
add_cas (SSL_CTX *ctx, const char *pem, size_t len) {
  if (len > 0x7fffffff) return 0;
  BIO *bio = BIO_new_mem_buf(pem, (int) len);
  if (bio == NULL) return 0;
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    // A certificate given twice is not an error.
    if (X509_STORE_add_cert(store, x) == 1) added++;
    X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error();  // the read past the last certificate ends with "no start line"
  return added;
}

static int
use_cert_chain (SSL_CTX *ctx, const char *pem, size_t len) {
  if (len > 0x7fffffff) return 0;
  BIO *bio = BIO_new_mem_buf(pem, (int) len);
  if (bio == NULL) return 0;
  X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  int ok = leaf != NULL && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  X509 *x;
  while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    // add0: the context owns x once this succeeds.
    if (SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 0, x) != 1) {
      X509_free(x);
      ok = 0;
    }
  }
  BIO_free(bio);
  return ok;
}

// The passphrase callback: never OpenSSL's default one, which would prompt on the terminal.
static int
on_passphrase (char *buf, int size, int rwflag, void *u) {
  const char *pass = u;
  if (pass == NULL || size <= 0) return 0;
  size_t n = strlen(pass);
  if (n > (size_t) size) return 0;
  memcpy(buf, pass, n);  // NOLINT(bugprone-not-null-terminated-result): OpenSSL takes the length returned
  return (int) n;
}

static int
use_key (SSL_CTX *ctx, const char *pem, size_t len, const char *passphrase) {
  if (len > 0x7fffffff) return 0;
  BIO *bio = BIO_new_mem_buf(pem, (int) len);
  if (bio == NULL) return 0;
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, on_passphrase, (void *) passphrase);
  BIO_free(bio);
  int ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  return ok;
}

int
hra_tls_new (const hra_tls_opts_t *o, hra_tls_t **out, char *code, size_t code_cap, char *msg, size_t msg_cap) {
  *out = NULL;
  if (!hra_tls_available(msg, msg_cap)) {
    snprintf(code, code_cap, "ERR_TLS_UNAVAILABLE");
    return -1;
  }
  ERR_clear_error();
  hra_tls_t *t = calloc(1, sizeof(*t));
  if (t == NULL) return fail(code, code_cap, "ENOMEM", msg, msg_cap, "out of memory");
  t->refs = 1;
  t->verify = o->reject_unauthorized != 0;
  if (o->servername != NULL && (t->servername = strdup(o->servername)) == NULL) {
    hra_tls_unref(t);
    return fail(code, code_cap, "ENOMEM", msg, msg_cap, "out of memory");
  }
  t->ctx = SSL_CTX_new(TLS_client_method());
  if (t->ctx == NULL) {
    hra_tls_unref(t);
    return fail(code, code_cap, "ENOMEM", msg, msg_cap, "cannot create a TLS context");
  }
  // No renegotiation (a server's request is declined with a warning, as TLS 1.3 has none); no
  // compression (CRIME).
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // TLS 1.3 suites in the order browsers and Go offer them: AES-128-GCM first (OpenSSL's and Node's
  // default puts AES-256-GCM first, a third slower per byte here, and Redis picks the client's first).
  SSL_CTX_set_ciphersuites(t->ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  // Whole socket reads go into OpenSSL's buffer at once, not a record header and then its body.
  SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_READ_AHEAD, 1, NULL);
  SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, o->min_version > 0 ? o->min_version : TLS1_2_VERSION, NULL);
  if (o->max_version > 0) SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, o->max_version, NULL);
  SSL_CTX_set_verify(t->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  const char *bad = NULL;
  if (o->ca != NULL && add_cas(t->ctx, o->ca, o->ca_len) == 0)
    bad = "`tls.ca` holds no PEM certificate OpenSSL can read";
  else if (o->cert != NULL && !use_cert_chain(t->ctx, o->cert, o->cert_len))
    bad = "`tls.cert` is not a PEM certificate OpenSSL can use";
  else if (o->key != NULL && !use_key(t->ctx, o->key, o->key_len, o->passphrase))
    bad = "`tls.key` cannot be read (wrong passphrase?) or does not match `tls.cert`";
  if (bad != NULL) {
    hra_tls_unref(t);
    return fail(code, code_cap, "ERR_INVALID_REDIS_TARGET", msg, msg_cap, bad);
  }
  ERR_clear_error();
  *out = t;
  return 0;
}

void
hra_tls_ref (hra_tls_t *t) {
  t->refs++;
}

void
hra_tls_unref (hra_tls_t *t) {
  if (t == NULL || --t->refs > 0) return;
  if (t->ctx != NULL) SSL_CTX_free(t->ctx);
  free(t->servername);
  free(t);
}

struct ssl_ctx_st *
hra_tls_ctx (const hra_tls_t *t) {
  return t->ctx;
}

const char *
hra_tls_servername (const hra_tls_t *t) {
  return t->servername;
}

int
hra_tls_verify (const hra_tls_t *t) {
  return t->verify;
}

// Node's names for certificate verification results (src/crypto/crypto_common.cc).
static const char *
verify_code (long v) {
  switch (v) {
#define HRA_X509_CASE(name) \
  case X509_V_ERR_##name: \
    return #name;
    HRA_X509_CASE(UNABLE_TO_GET_ISSUER_CERT)
    HRA_X509_CASE(UNABLE_TO_GET_CRL)
    HRA_X509_CASE(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    HRA_X509_CASE(UNABLE_TO_DECRYPT_CRL_SIGNATURE)
    HRA_X509_CASE(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    HRA_X509_CASE(CERT_SIGNATURE_FAILURE)
    HRA_X509_CASE(CRL_SIGNATURE_FAILURE)
    HRA_X509_CASE(CERT_NOT_YET_VALID)
    HRA_X509_CASE(CERT_HAS_EXPIRED)
    HRA_X509_CASE(CRL_NOT_YET_VALID)
    HRA_X509_CASE(CRL_HAS_EXPIRED)
    HRA_X509_CASE(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    HRA_X509_CASE(ERROR_IN_CERT_NOT_AFTER_FIELD)
    HRA_X509_CASE(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    HRA_X509_CASE(ERROR_IN_CRL_NEXT_UPDATE_FIELD)
    HRA_X509_CASE(OUT_OF_MEM)
    HRA_X509_CASE(DEPTH_ZERO_SELF_SIGNED_CERT)
    HRA_X509_CASE(SELF_SIGNED_CERT_IN_CHAIN)
    HRA_X509_CASE(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    HRA_X509_CASE(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    HRA_X509_CASE(CERT_CHAIN_TOO_LONG)
    HRA_X509_CASE(CERT_REVOKED)
    HRA_X509_CASE(INVALID_CA)
    HRA_X509_CASE(PATH_LENGTH_EXCEEDED)
    HRA_X509_CASE(INVALID_PURPOSE)
    HRA_X509_CASE(CERT_UNTRUSTED)
    HRA_X509_CASE(CERT_REJECTED)
#undef HRA_X509_CASE
    default:
      return "UNSPECIFIED";
  }
}

void
hra_tls_describe (struct ssl_st *ssl, int ssl_err, const char *peer, const char *name, char *code, size_t code_cap, char *msg, size_t msg_cap) {
  long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    ERR_clear_error();
    snprintf(code, code_cap, "ERR_TLS_CERT_ALTNAME_INVALID");
    snprintf(msg, msg_cap, "TLS to %s: Hostname/IP does not match certificate's altnames: %s %s is not in the cert's altnames", peer,
      v == X509_V_ERR_IP_ADDRESS_MISMATCH ? "IP:" : "Host:", name);
    return;
  }
  if (v != X509_V_OK) {
    ERR_clear_error();
    snprintf(code, code_cap, "%s", verify_code(v));
    snprintf(msg, msg_cap, "TLS to %s: %s", peer, X509_verify_cert_error_string(v));
    return;
  }
  char text[256];
  queue_error(code, code_cap, text, sizeof(text));
  if (code[0] != 0) {
    snprintf(msg, msg_cap, "TLS to %s failed: %s", peer, text);
    return;
  }
  // SSL_ERROR_SYSCALL with nothing queued: the peer went away (memory BIOs have no errno of their own).
  snprintf(code, code_cap, "%s", ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN ? "ECONNRESET" : "EPROTO");
  snprintf(msg, msg_cap, "TLS to %s failed (OpenSSL error %d)", peer, ssl_err);
}

// TLS settings shared by the connections of one client: an OpenSSL context built once from the options
// (the CAs to trust, the client certificate and key, protocol versions, whether to verify) and the name to
// verify. Reference counted, on the loop thread only: each TLS stream and a cluster hold one, the creator
// one until it unrefs. OpenSSL is the one Node carries (ossl.h).
#ifndef HRA_TLS_H
#define HRA_TLS_H

#include <stddef.h>

typedef struct hra_tls_s hra_tls_t;
struct ssl_ctx_st;
struct ssl_st;

typedef struct {
  const char *ca;  // PEM certificates to trust; required (the JS side passes Node's root store by default)
  size_t ca_len;
  const char *cert;  // PEM client certificate, then its chain; NULL: no client certificate
  size_t cert_len;
  const char *key;  // PEM private key of cert (required with cert)
  size_t key_len;
  const char *passphrase;  // of an encrypted key; NULL: none
  const char *servername;  // SNI and the name verified; NULL: the host of each endpoint
  int reject_unauthorized;  // verify the chain and the name; 0 accepts any certificate
  int min_version;  // a TLS1_x_VERSION; 0: TLS 1.2
  int max_version;  // 0: the highest
} hra_tls_opts_t;

// 1 when OpenSSL 3 is there to use; 0 with msg saying what is missing.
int
hra_tls_available (char *msg, size_t msg_cap);

// Builds the context. 0 and *out, or < 0 with code (e.g. "ERR_TLS_UNAVAILABLE", "ENOMEM",
// "ERR_INVALID_REDIS_TARGET") and msg set. Copies what it keeps of o.
int
hra_tls_new (const hra_tls_opts_t *o, hra_tls_t **out, char *code, size_t code_cap, char *msg, size_t msg_cap);

void
hra_tls_ref (hra_tls_t *t);

// NULL is allowed.
void
hra_tls_unref (hra_tls_t *t);

struct ssl_ctx_st *
hra_tls_ctx (const hra_tls_t *t);

// The servername option, or NULL.
const char *
hra_tls_servername (const hra_tls_t *t);

int
hra_tls_verify (const hra_tls_t *t);

// After a failed handshake, read or write (ssl_err from SSL_get_error): a code as Node gives it (the
// X509 verification codes such as CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID for a name mismatch,
// ERR_SSL_<reason> for other OpenSSL errors, ECONNRESET for a peer gone mid-handshake) and a message
// naming peer ("host:port") and name (what was verified). Empties this thread's OpenSSL error queue.
void
hra_tls_describe (struct ssl_st *ssl, int ssl_err, const char *peer, const char *name, char *code, size_t code_cap, char *msg, size_t msg_cap);

#endif  // HRA_TLS_H

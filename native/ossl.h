// OpenSSL as Node itself carries it. The addon compiles against the OpenSSL headers node-gyp ships with
// Node's (include/node/openssl) and links no libssl: the functions are those the node executable exports
// (or the libssl a distribution's node is linked with). Every one the addon calls is listed here and
// declared weak, so the binary still loads where they are missing (Electron, a BoringSSL build) and TLS
// then fails at first use with a clear error (hra_tls_available) instead of a crash at load or at call.
// Files calling OpenSSL include this header, never <openssl/...> directly: a single strong reference
// would make its symbol required again. Every call leaves this thread's OpenSSL error queue empty, since
// Node's own crypto shares it.
#ifndef HRA_OSSL_H
#define HRA_OSSL_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

// OpenSSL 3.0 or later: the headers and the library in the process must be of that series.
#define HRA_OSSL_MIN_VERSION 0x30000000L

#define HRA_OSSL_FUNCTIONS(X) \
  X(OpenSSL_version_num) \
  X(OpenSSL_version) \
  X(ERR_clear_error) \
  X(ERR_get_error) \
  X(ERR_error_string_n) \
  X(ERR_reason_error_string) \
  X(TLS_client_method) \
  X(SSL_CTX_new) \
  X(SSL_CTX_free) \
  X(SSL_CTX_ctrl) \
  X(SSL_CTX_set_options) \
  X(SSL_CTX_set_ciphersuites) \
  X(SSL_CTX_set_verify) \
  X(SSL_CTX_get_cert_store) \
  X(SSL_CTX_use_certificate) \
  X(SSL_CTX_use_PrivateKey) \
  X(SSL_CTX_check_private_key) \
  X(X509_STORE_add_cert) \
  X(X509_free) \
  X(X509_verify_cert_error_string) \
  X(EVP_PKEY_free) \
  X(PEM_read_bio_X509) \
  X(PEM_read_bio_PrivateKey) \
  X(BIO_new_mem_buf) \
  X(BIO_new) \
  X(BIO_s_mem) \
  X(BIO_free) \
  X(BIO_read) \
  X(BIO_write) \
  X(BIO_ctrl_pending) \
  X(SSL_new) \
  X(SSL_free) \
  X(SSL_set_bio) \
  X(SSL_set_connect_state) \
  X(SSL_ctrl) \
  X(SSL_get0_param) \
  X(X509_VERIFY_PARAM_set1_host) \
  X(X509_VERIFY_PARAM_set1_ip_asc) \
  X(X509_VERIFY_PARAM_set_hostflags) \
  X(SSL_do_handshake) \
  X(SSL_read_ex) \
  X(SSL_write_ex) \
  X(SSL_get_error) \
  X(SSL_shutdown) \
  X(SSL_get_verify_result)

#define HRA_OSSL_WEAK(name) extern __typeof__(name) name __attribute__((weak));
HRA_OSSL_FUNCTIONS(HRA_OSSL_WEAK)
#undef HRA_OSSL_WEAK

#endif  // HRA_OSSL_H

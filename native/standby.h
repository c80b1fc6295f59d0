// The replacement a connection opens while it is on probation (conn.c: the health check gave up on it, but
// it stays open): a second stream that asks where to go, connects, sends the handshake and judges each
// reply (handshake.h), retrying with backoff, until Redis has answered it all and a grace period has passed
// without the old connection speaking. Then the owner takes the stream (hra_standby_take) and hands over
// the old one, which the standby resets. It knows nothing of the connection: it asks for an endpoint and
// reports through its owner's callbacks, never by a call, so conn.c reaches it without a cycle.
#ifndef HRA_STANDBY_H
#define HRA_STANDBY_H

#include <stdint.h>
#include <uv.h>

#include "endpoint.h"
#include "handshake.h"
#include "resp.h"
#include "stream.h"

// A replacement that has answered its handshake waits this long for the connection it replaces to speak
// first. A Redis that resumes answers the old connection before the new one (it reads the old socket
// first, and must accept the new one before reading it): only a path reordering two flows beats that.
#define HRA_STANDBY_GRACE_MS 50

enum {
  HRA_SB_IDLE = 0,
  HRA_SB_WAITING,  // the backoff before the next attempt
  HRA_SB_ASKING,  // the owner asked its endpoint provider (a Sentinel answers later)
  HRA_SB_CONNECTING,
  HRA_SB_HANDSHAKE,
  HRA_SB_GRACE,  // answered; waiting HRA_STANDBY_GRACE_MS for the old connection
  HRA_SB_CLOSING  // the stream is being reset (a failed or unneeded replacement, or a retired connection)
};

typedef struct hra_standby_s hra_standby_t;

// The owner's side. Every callback runs on the loop thread; the owner may stop the standby from any.
typedef struct {
  // Where the next attempt goes: the owner asks its endpoint provider and passes the answer to
  // hra_standby_answer (maybe before this returns).
  void (*ask)(hra_standby_t *sb);
  // HRA_EV_CONNECT (a replacement's socket is connected), HRA_EV_ERROR (an attempt failed: code and
  // message say why) and HRA_EV_RECONNECTING (value: the delay before the next attempt), in conn.h's terms.
  void (*on_event)(hra_standby_t *sb, int event, const char *code, const char *message, int64_t value);
  // Redis answered the replacement and the grace period is over: the owner takes it (hra_standby_take) or
  // stops the standby.
  void (*on_proven)(hra_standby_t *sb);
  // The close hra_standby_close returned 1 for is complete.
  void (*on_closed)(hra_standby_t *sb);
} hra_standby_cbs_t;

typedef struct {
  uint32_t connect_timeout_ms;  // for the connect, and again for the handshake's answers
  uint32_t retry_base_ms;
  uint32_t retry_max_ms;
  uint32_t keepalive_s;
  size_t max_reply_bytes;
  hra_tls_t *tls;  // the connection's TLS settings (NULL: plain TCP); the replacement's stream takes its own reference
} hra_standby_opts_t;

struct hra_standby_s {
  uv_loop_t *loop;
  const hra_standby_cbs_t *cbs;
  void *data;  // the owner's
  hra_standby_opts_t opts;
  hra_handshake_t *hs;  // the owner's steps (read, never changed)
  char *rbuf;  // the owner's read buffer (reads of the two streams never overlap)
  size_t rbuf_cap;
  int state;  // HRA_SB_*
  int active;  // the owner wants a replacement: a failed attempt is followed by another
  int closing;
  int pending;  // the stream's close and the timer's still to come
  int left;  // handshake replies still awaited
  unsigned attempt;
  uint64_t rng;
  hra_stream_t *stream;
  hra_endpoint_copy_t ep;  // where the attempt goes
  hra_resp_t resp;
  hra_buf_t out;  // the handshake, being written
  uv_timer_t timer;  // backoff, connect and handshake deadline, grace
  uint64_t *bytes_read;  // the owner's counter (NULL: none), the replacement's bytes added
};

// Creates the spare stream and the timer. HRA_OK, or HRA_ENOMEM (nothing to close, nothing to free).
int
hra_standby_init (hra_standby_t *sb, uv_loop_t *loop, const hra_standby_opts_t *opts, hra_handshake_t *hs, char *rbuf, size_t rbuf_cap,
  const hra_standby_cbs_t *cbs, void *data);

// 1 while the stream is in use (a replacement in progress, or a retired stream still being reset).
static inline int
hra_standby_busy (const hra_standby_t *sb) {
  return sb->state != HRA_SB_IDLE;
}

// Starts a replacement (the owner must check hra_standby_busy first): ask, connect, handshake, from the
// next loop turn on.
void
hra_standby_start (hra_standby_t *sb);

// The answer to ask(), as endpoint.h's on_answer has it: the attempt connects there, or is reported
// failed and retried after the backoff. Ignored unless the standby is asking.
void
hra_standby_answer (hra_standby_t *sb, int status, const hra_endpoint_t *ep, const char *code, const char *message);

// Ends the replacement for good, no callback follows (a question out stays unanswered: the owner drops
// its answer). The stream is reset; the standby is busy until that is done.
void
hra_standby_stop (hra_standby_t *sb);

// After on_proven: the replacement's stream goes to the owner (*stream, with the owner's callbacks, and
// *ep: where it is), the owner's old stream (and endpoint) to the standby, which resets it: what its peer
// has not acknowledged is discarded.
void
hra_standby_take (hra_standby_t *sb, hra_stream_t **stream, hra_endpoint_copy_t *ep, const hra_stream_cbs_t *cbs, void *data);

void
hra_standby_ref (hra_standby_t *sb, int on);

// Stops everything and closes the timer and the stream: 1 when on_closed follows, 0 when not.
int
hra_standby_close (hra_standby_t *sb);

// Frees what init allocated, after a close that is complete (or for a standby never used: its timer
// must be closed first, so the owner closes it in any case).
void
hra_standby_free (hra_standby_t *sb);

#endif  // HRA_STANDBY_H

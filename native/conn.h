// One Redis connection on Node's libuv loop. It asks its endpoint provider (endpoint.h) where to go on
// every attempt (a fixed address, or the node a Sentinel names) and talks through a byte stream
// (stream.h: TCP, a unix socket, or TLS over TCP), parses replies with hiredis's reader (through reply functions
// of our own that allocate nothing per reply), formats commands as RESP (resp.h) and pipelines them. Its
// handshake is a list of steps (handshake.h). It reconnects with capped exponential backoff and jitter
// and restores its subscriptions. hra_conn_close() is asynchronous; the owner frees the struct in
// on_closed.
#ifndef HRA_CONN_H
#define HRA_CONN_H

#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "outq.h"
#include "resp.h"

typedef struct hra_conn_s hra_conn_t;
typedef struct hra_tls_s hra_tls_t;

enum {
  HRA_CONN_IDLE = 0,
  HRA_CONN_RESOLVING,
  HRA_CONN_CONNECTING,
  HRA_CONN_HANDSHAKE,
  HRA_CONN_READY,
  HRA_CONN_WAIT_RETRY,
  HRA_CONN_CLOSING,
  HRA_CONN_CLOSED,
  // The health check gave up on the connection (nothing from Redis for healthTimeout) but it is kept open
  // while a replacement connects: the first of the two to hear from Redis wins (see hra_conn_command).
  HRA_CONN_PROBATION
};

// Events reported to the owner through on_event.
enum {
  HRA_EV_CONNECT = 1,  // the socket is connected (the handshake starts)
  HRA_EV_READY,  // the handshake is done; subscriptions have been re-sent
  HRA_EV_ERROR,  // something failed; code and message say what
  HRA_EV_RECONNECTING,  // a reconnect is scheduled; value is the delay in ms
  HRA_EV_DISCONNECT  // the connection was lost (a reconnect follows unless closing)
};

typedef struct {
  // A connection event (HRA_EV_*). code is a short upper-case code such as "ECONNREFUSED", message is
  // human readable; both may be NULL. Neither contains credentials.
  void (*on_event)(hra_conn_t *conn, int event, const char *code, const char *message, int64_t value);
  // A pub/sub message: kind is 'm' (message), 'p' (pmessage) or 's' (smessage). pattern is empty unless 'p'.
  void (*on_message)(hra_conn_t *conn, int kind, hra_slice_t pattern, hra_slice_t channel, hra_slice_t payload);
  // Called once after every read wakeup that parsed at least one reply: the batch flush point.
  void (*on_flush)(hra_conn_t *conn);
  // The close started by hra_conn_close() is complete: no callback follows, the owner may free.
  void (*on_closed)(hra_conn_t *conn);
  // Optional (may be NULL): Redis dropped a subscription we still hold without being asked (the
  // `sunsubscribe` push a cluster node sends when the channel's slot moves away). The entry stays
  // wanted (restored on reconnect); the owner decides where it belongs now.
  void (*on_sub_lost)(hra_conn_t *conn, int kind, hra_slice_t name);
} hra_conn_cbs_t;

typedef struct {
  // Where to connect, asked on every attempt (endpoint.h); NULL: host and port, or path, below. The
  // connection takes it (and frees it, also when hra_conn_new fails); its checks_role adds a ROLE step.
  struct hra_endpoint_provider_s *endpoint;
  char *host;  // NULL with path set for a unix socket
  int port;
  char *path;
  char *username;
  char *password;
  int db;
  char *name;  // CLIENT SETNAME (NULL: none)
  uint32_t connect_timeout_ms;
  uint32_t retry_base_ms;
  uint32_t retry_max_ms;
  uint32_t health_interval_ms;  // PING when idle this long; 0 disables
  uint32_t health_timeout_ms;  // a PING unanswered this long means the connection is dead
  uint32_t keepalive_s;  // TCP keepalive delay; 0 disables
  size_t max_reply_bytes;  // largest reply buffered before the connection is dropped
  // Bound of the output: commands are refused with HRA_ENOBUFS while this many bytes of commands wait
  // (to be written, for their reply, or held), or while as many bytes' worth of reply callbacks wait.
  // 0: 32 MiB.
  size_t max_output_bytes;
  hra_tls_t *tls;  // TLS settings (tls.h), NULL for plain TCP; the connection's stream takes a reference
  // How long a publish may be held while the connection is being replaced (0: not held, refused at once).
  uint32_t hold_ms;
} hra_conn_opts_t;

typedef struct {
  uint64_t connects;
  uint64_t disconnects;
  uint64_t replies;
  uint64_t messages;
  uint64_t commands_dropped;  // commands refused while not connected
  uint64_t commands_refused_full;  // commands refused because the output was at max_output_bytes
  uint64_t unanswered;  // commands without a reply callback (PUBLISH) sent but lost with the connection
  uint64_t command_errors;  // error replies to commands sent without a callback (e.g. NOPERM on PUBLISH)
  uint64_t held;  // publishes held now, waiting for a ready connection
  uint64_t held_dropped;  // held publishes dropped: older than hold_ms when they could go, or held at close
  uint64_t replayed;  // held publishes sent once a connection was ready again
  uint64_t resumed;  // connections the health check gave up on that answered first and were kept
  uint64_t replaced;  // connections the health check gave up on that a replacement took over from
  uint64_t bytes_read;
  uint64_t bytes_written;
} hra_conn_stats_t;

struct hra_conn_s;

// Creates a connection (not yet connecting). Copies the strings of opts. Returns NULL on ENOMEM.
hra_conn_t *
hra_conn_new (uv_loop_t *loop, const hra_conn_opts_t *opts, const hra_conn_cbs_t *cbs, void *data);

void *
hra_conn_data (hra_conn_t *conn);

int
hra_conn_state (hra_conn_t *conn);

const hra_conn_stats_t *
hra_conn_stats (hra_conn_t *conn);

int
hra_conn_start (hra_conn_t *conn);

// Starts closing: pending commands get err = HRA_ECLOSED, then on_closed fires. Idempotent.
void
hra_conn_close (hra_conn_t *conn);

// Frees a connection whose on_closed has fired (a connection that never started must be closed too:
// its timers are registered with the loop from hra_conn_new on).
void
hra_conn_free (hra_conn_t *conn);

void
hra_conn_ref (hra_conn_t *conn);

void
hra_conn_unref (hra_conn_t *conn);

// Queues a command (argv with explicit lengths). cb may be NULL. Returns HRA_ENOTCONN when the
// connection is not ready, HRA_ENOBUFS when the output is at max_output_bytes (in both cases the
// command is not queued and cb is not called). cb never runs before this returns.
//
// A command without a callback (a publish) is held instead while a connection that was ready once is
// being replaced, for hold_ms at most, and sent in order once a connection is ready again. A lost
// connection's publishes that its peer's host never acknowledged (TCP on Linux: SIOCOUTQ, then a reset so
// they never arrive late) or that were never written are held too, ahead of the others: none is sent
// twice. Elsewhere only the unwritten ones are held; the others count as unanswered.
int
hra_conn_command (hra_conn_t *conn, int argc, const char **argv, const size_t *argvlen, hra_reply_cb cb, void *data);

// Subscription bookkeeping, reference counted: kind is 'c' (SUBSCRIBE), 'p' (PSUBSCRIBE) or 's'
// (SSUBSCRIBE). The command is sent when the count goes from 0 to 1 (or 1 to 0), now if ready,
// otherwise when the next connection is ready.
int
hra_conn_subscribe (hra_conn_t *conn, int kind, const char *name, size_t len);

int
hra_conn_unsubscribe (hra_conn_t *conn, int kind, const char *name, size_t len);

// Number of subscriptions of a kind that Redis has confirmed on the current connection.
size_t
hra_conn_subscription_count (hra_conn_t *conn, int kind);

// One subscription's state: 1 confirmed by Redis on the current connection, 0 wanted but not (yet)
// confirmed, -1 not wanted.
int
hra_conn_subscription_confirmed (hra_conn_t *conn, int kind, const char *name, size_t len);

// Sends the subscribe command for a wanted subscription again on the next loop turn, even though it was
// sent (the server dropped it, or never confirmed it). No-op for one that is not wanted.
int
hra_conn_resubscribe (hra_conn_t *conn, int kind, const char *name, size_t len);

#endif  // HRA_CONN_H

/* transport: the thin ZeroMQ adapter between a node and the street (DESIGN 9).
 *
 * It owns one ZeroMQ context per transport and, inside it, the data socket
 * (a ROUTER bound by the hub, or a DEALER connected by a committee), a socket
 * monitor (PAIR on inproc) and, on the hub, the ZAP handler (REP bound to
 * inproc://zeromq.zap.01). Everything is serviced from the caller's thread by
 * li_transport_poll: no thread of ours, no callback from another thread, no
 * static state. It knows nothing of the sync protocol (node/session.c): it
 * moves opaque messages of at most LI_MSG_BYTES_MAX bytes and tells who sent
 * them.
 *
 * Invariants:
 *  1. Every connection is CURVE-encrypted; the X25519 keys are derived from
 *     the Ed25519 identities (li_curve_keys), so a node has one key file.
 *  2. The hub admits a connection only when admit() maps the client's CURVE
 *     key to an Ed25519 key; that key becomes the ZAP user id and every
 *     message delivered carries it in peer_key, read back from the message's
 *     "User-Id" property. Nothing the peer sends (routing id, payload) is
 *     ever used for identity. A committee's peer_key is the hub key it
 *     pinned with ZMQ_CURVE_SERVERKEY.
 *  3. A delivered message is exactly one frame of 0..LI_MSG_BYTES_MAX bytes
 *     (plus the routing id on the hub). Larger messages make libzmq drop the
 *     connection (ZMQ_MAXMSGSIZE, set with room for CURVE's framing), or,
 *     a few bytes over, are dropped and logged with the sender's key;
 *     multi-part messages are drained, logged and counted in stats.dropped,
 *     never delivered.
 *  4. Sends never block: a full queue or an unconnected hub is
 *     LI_ERR_TIMEOUT (retry later), a vanished peer LI_ERR_NOT_FOUND.
 *  5. Handshakes stall unless someone calls li_transport_poll: the ZAP
 *     handler runs inside it. A hub must poll often (the event loop does).
 *
 * Hub peers are told apart by routing id. Stable libzmq 4.3 cannot say which
 * routing id a dropped connection had (ZMQ_ROUTER_NOTIFY is draft API), so
 * the hub only counts disconnects (stats.disconnects); sessions notice a
 * lost peer by their own timeout or by LI_ERR_NOT_FOUND on send.
 *
 *   committee:  li_transport_committee_new --> CONNECTING
 *     CONNECTING --poll: HANDSHAKE_SUCCEEDED--> CONNECTED (li_transport_connected)
 *     CONNECTED  --poll: DISCONNECTED (heartbeat, hub gone)--> CONNECTING
 *     CONNECTING --poll: HANDSHAKE_FAILED_AUTH--> REFUSED (logged; libzmq
 *                  never retries a refused key)
 *     REFUSED    --poll, after 5 s doubling to 60 s--> CONNECTING (so a key
 *                  added to the hub's roster later gets in without a restart)
 *   any --li_transport_destroy--> closed */
#ifndef LI_TRANSPORT_H
#define LI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "keys.h"
#include "li_limits.h"

/* Limits (LI_TRANSPORT_HWM, LI_PEER_ID_MAX, LI_ENDPOINT_MAX) are in
 * li_limits.h; what follows are tunables. */
/* Unsent messages at close are kept this long, then dropped. */
#define LI_TRANSPORT_LINGER_MS 1000
/* A CURVE handshake that has not finished by then is dropped. */
#define LI_TRANSPORT_HANDSHAKE_MS 5000
/* Heartbeats: a link silent for TIMEOUT is declared dead. */
#define LI_TRANSPORT_HEARTBEAT_MS 2000
#define LI_TRANSPORT_HEARTBEAT_TIMEOUT_MS 6000
/* Committee reconnect backoff (libzmq doubles from MIN up to MAX). */
#define LI_TRANSPORT_RECONNECT_MIN_MS 200
#define LI_TRANSPORT_RECONNECT_MAX_MS 5000

typedef struct li_transport li_transport;

/* A hub peer: the ROUTER routing id of one connection. */
typedef struct {
  uint8_t id[LI_PEER_ID_MAX];
  size_t len;
} li_peer_id;

/* One received message. data is malloc'd and owned by the caller:
 * release it with li_transport_msg_free. */
typedef struct {
  li_peer_id peer;               /* hub: sender's routing id; committee: len 0 */
  uint8_t peer_key[LI_PK_BYTES]; /* authenticated Ed25519 key of the sender */
  uint8_t *data;
  size_t len;
} li_transport_msg;

/* The hub's admission decision, called from li_transport_poll (the caller's
 * thread). Returns 0 and writes the Ed25519 key the CURVE key belongs to,
 * or -1 to refuse. */
typedef int (*li_transport_admit_fn)(void *ctx, const uint8_t curve_pk[32],
                                     uint8_t ed_pk_out[LI_PK_BYTES]);

/* A ready admit function over a list of Ed25519 keys (the roster): pass
 * li_transport_admit_roster and a li_transport_roster as admit_ctx. keys is
 * borrowed and must outlive the transport (or be swapped between polls). */
typedef struct {
  const uint8_t (*keys)[LI_PK_BYTES];
  size_t n;
} li_transport_roster;
int li_transport_admit_roster(void *roster, const uint8_t curve_pk[32],
                              uint8_t ed_pk_out[LI_PK_BYTES]);

typedef struct {
  uint64_t sent;               /* messages accepted by send */
  uint64_t received;           /* messages delivered by poll */
  uint64_t dropped;            /* malformed messages discarded (invariant 3) */
  uint64_t admitted;           /* hub: ZAP admissions */
  uint64_t refused;            /* hub: ZAP refusals (key not in the roster) */
  uint64_t connects;           /* handshakes that succeeded */
  uint64_t disconnects;        /* connections closed (refused ones included) */
  uint64_t auth_failures;      /* committee: the hub refused our key */
  uint64_t handshake_failures; /* other handshake failures (protocol, keys) */
  uint64_t drops;              /* hub: connections closed by li_transport_drop */
} li_transport_stats;

/* Binds a ROUTER at endpoint ("tcp://0.0.0.0:7700"; "tcp://127.0.0.1:*"
 * picks a free port, see li_transport_endpoint). admit and admit_ctx are
 * borrowed for the transport's life. On failure *out is NULL and the error
 * says why: LI_ERR_IO (bind failed, e.g. address in use), LI_ERR_KEY
 * (unusable identity), LI_ERR_NOMEM. */
li_err li_transport_hub_new(const li_identity *id, const char *endpoint, li_transport_admit_fn admit, void *admit_ctx,
                            li_transport **out, li_errbuf *eb);

/* Connects a DEALER to the hub at endpoint, pinning the hub's Ed25519 key.
 * Connection happens in the background (see the diagram). On failure *out
 * is NULL: LI_ERR_CONFIG (bad endpoint), LI_ERR_KEY (unusable key),
 * LI_ERR_IO, LI_ERR_NOMEM. */
li_err li_transport_committee_new(const li_identity *id, const char *endpoint, const uint8_t hub_ed_pk[LI_PK_BYTES],
                                  li_transport **out, li_errbuf *eb);

/* Closes everything, waiting at most LI_TRANSPORT_LINGER_MS for unsent
 * messages; sets *t to NULL. Safe on NULL and twice. */
void li_transport_destroy(li_transport **t);

/* Queues one message without blocking. to is the peer on the hub, NULL on a
 * committee. LI_ERR_TOO_BIG over LI_MSG_BYTES_MAX, LI_ERR_TIMEOUT when the
 * peer's queue is full or the hub is not connected (retry later),
 * LI_ERR_NOT_FOUND when the hub has no such peer (it went away), LI_ERR_IO
 * otherwise. Nothing is sent on failure. */
li_err li_transport_send(li_transport *t, const li_peer_id *to, const uint8_t *msg, size_t len,
                         li_errbuf *eb);

/* Hub: closes the connection the peer's last message came from (its key
 * left the roster). The committee's next handshake meets ZAP again. A peer
 * whose connection is already gone is ignored; a committee transport
 * ignores it. Never fails. */
void li_transport_drop(li_transport *t, const li_peer_id *peer);

/* Waits up to timeout_ms (>= 0) for a message, servicing ZAP requests and
 * monitor events meanwhile. Returns 1 with *out filled (free it with
 * li_transport_msg_free), 0 on timeout, on a signal (EINTR, so a handler
 * can stop the loop) or, on a committee, as soon as the link to the hub came
 * up or went down (li_transport_connected tells which), -1 with eb set on a
 * socket error (out untouched). */
int li_transport_poll(li_transport *t, int timeout_ms, li_transport_msg *out, li_errbuf *eb);

void li_transport_msg_free(li_transport_msg *m);

/* Committee: true between a successful handshake and the next disconnect.
 * Hub: always true once bound. Updated by li_transport_poll. */
bool li_transport_connected(const li_transport *t);

/* The bound endpoint on the hub (the real port when bound to "*"), the
 * connect endpoint on a committee. Borrowed; valid for the transport's life. */
const char *li_transport_endpoint(const li_transport *t);

void li_transport_get_stats(const li_transport *t, li_transport_stats *out);

/* The CURVE public key of an Ed25519 key in Z85 (40 characters and a NUL),
 * as the hub names a refused key (`linli id --curve`); -1 for a key that
 * has no CURVE form. */
#define LI_CURVE_TEXT_LEN 40
int li_transport_curve_text(const uint8_t ed_pk[LI_PK_BYTES], char out[LI_CURVE_TEXT_LEN + 1]);

#endif

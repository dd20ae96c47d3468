/* driver: one node's sync logic above its sessions, sans-IO (DESIGN 15).
 *
 * `linli serve` drives it with ZeroMQ and the system clock; linli-sim drives
 * the very same code with its virtual network and clocks. It never touches
 * a socket, a clock or a random source: the adapter feeds it inputs with
 * the time, and takes outputs from it after every input.
 *
 * Owns: the peer table (one entry per peer key, and a session per
 * connection: a new session for every connection, a reconnect included),
 * the seal schedule, fan-out of new commits to every session entitled to
 * them, the scopes each peer reads (from the roster), the roster re-check,
 * the peer state that `status` and `report` show (linli_peers), and the
 * rate limit on warnings a peer's input causes. The replica is borrowed.
 *
 * Inputs (each takes li_now: a monotonic ms for timers, and the node's wall
 * clock for sealing and the skew guard):
 *   li_driver_link(conn, key, up)    committee: the link to the hub came up or went down
 *   li_driver_recv(conn, key, msg)   one message from an authenticated peer key
 *   li_driver_tick()                 time passes: seal, timers, roster re-check, save
 *   li_driver_stop()                 shutting down: seal what is pending, save
 * Outputs (li_driver_next_out, in order):
 *   LI_OUT_SEND   bytes for a connection
 *   LI_OUT_DROP   close a connection (its key is no longer an active member)
 *   LI_OUT_LOG    a line for the log, with its level
 *   LI_OUT_PEER   a peer's state changed (connected, synced, lost, removed)
 *
 * A peer's life (the hub: one per committee key; a committee: the hub):
 *
 *   UNLINKED --s_link(): recv from an active member (hub), link up or recv (committee)--> LINKED
 *   LINKED --s_link(): recv on another connection of the key--> LINKED (new session)
 *   LINKED --s_unlink(): link down (committee); key left the roster (DROP);
 *            silent for S_FORGET_MS (hub)--> UNLINKED
 *
 * The hub learns of a connection from its first message (stable libzmq
 * cannot say which routing id a closed connection had), so only committees
 * get link inputs. */
#ifndef LI_DRIVER_H
#define LI_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "log.h"
#include "replica.h"
#include "session.h"

/* One connection of the transport (the hub: a ROUTER routing id; a
 * committee: its one connection, any id it likes). Opaque bytes. */
typedef struct {
  uint8_t id[LI_PEER_ID_MAX];
  size_t len;
} li_conn;

typedef struct {
  uint64_t ms;      /* monotonic milliseconds: timers */
  uint64_t wall_ms; /* the node's wall clock: HLC, skew guard, last contact */
} li_now;

typedef struct {
  li_role role;
  uint8_t self[LI_PK_BYTES];
  uint8_t network[LI_PK_BYTES]; /* the hub's key: a committee's only peer */
  uint32_t seal_interval_ms;
  uint32_t batch_rows_max, batch_bytes_max, window;
  uint32_t heartbeat_ms, peer_timeout_ms, retry_ms;
  uint64_t max_skew_ms;
  /* NULL: the replica's own store (store.c). A wrapper (the simulator's)
   * must keep its li_store's wall_ms current itself. */
  const li_store_vt *store;
  void *store_ctx;
} li_driver_cfg;

/* The DDL of the tables the driver keeps for status and report
 * (linli_peers, linli_stuck, linli_serve), run once at create. */
extern const char li_driver_sql[];

/* The settings of a node's config (linli.conf [sync]). */
void li_driver_cfg_from(li_driver_cfg *dc, const li_config *c, const uint8_t self[LI_PK_BYTES]);

typedef enum { LI_OUT_SEND = 1, LI_OUT_DROP, LI_OUT_LOG, LI_OUT_PEER } li_out_kind;

typedef enum {
  LI_CHANGE_CONNECTED = 1, /* a new session on a new connection */
  LI_CHANGE_SYNCED,        /* an exchange completed both ways */
  LI_CHANGE_LOST,          /* the session timed out, or the link went down */
  LI_CHANGE_REMOVED,       /* the key left the roster; its connection is dropped */
} li_peer_change;

typedef struct {
  li_out_kind kind;
  li_conn conn;                  /* SEND, DROP */
  uint8_t *data;                 /* SEND: malloc'd, the caller frees it */
  size_t len;
  li_log_level level;            /* LOG */
  char text[LI_ERRBUF_SIZE + 128]; /* LOG; PEER: the peer's name */
  uint8_t key[LI_PK_BYTES];      /* SEND, DROP, PEER */
  li_peer_change change;         /* PEER */
  uint32_t stuck_ours;           /* PEER: chains of ours the peer could not take in the last complete exchange */
} li_out;

typedef struct {
  uint64_t sessions;          /* sessions created (connections seen) */
  uint64_t reconnects;        /* of them, for a key that had a session before */
  uint64_t fanouts;           /* other sessions told of commits an apply produced */
  uint64_t seals, sealed_commits, seal_failures;
  uint64_t drops;             /* connections dropped (roster) */
  uint64_t refused;           /* messages from keys that are not active members */
  uint64_t roster_changes;    /* roster re-checks that found a change */
} li_driver_stats;

typedef struct {
  bool linked;
  char name[LI_NAME_MAX + 1];
  li_session_info session;    /* zeroes when not linked */
  uint64_t last_contact_wall_ms;
  char last_error[160];       /* the last rejection, refusal or fork in the exchanges with it ("" none) */
} li_driver_peer_info;

typedef struct li_driver li_driver;

/* NULL with eb set (LI_ERR_NOMEM, LI_ERR_CONFIG for a bad cfg). r must
 * outlive the driver and have its identity set (the driver seals). */
li_driver *li_driver_new(const li_driver_cfg *cfg, li_replica *r, li_errbuf *eb);
/* Frees everything; outputs not taken are dropped. Safe on NULL and twice. */
void li_driver_destroy(li_driver **d);

void li_driver_link(li_driver *d, const li_conn *conn, const uint8_t key[LI_PK_BYTES], bool up, li_now now);
void li_driver_recv(li_driver *d, const li_conn *conn, const uint8_t key[LI_PK_BYTES], const uint8_t *msg,
                    size_t len, li_now now);
void li_driver_tick(li_driver *d, li_now now);
void li_driver_stop(li_driver *d, li_now now);

/* Takes the next output; false if none. A SEND's data becomes the caller's. */
bool li_driver_next_out(li_driver *d, li_out *out);
/* When li_driver_tick is due next (monotonic ms). */
uint64_t li_driver_next_deadline(const li_driver *d);

void li_driver_stats_get(const li_driver *d, li_driver_stats *out);
/* Whether the node may seal now, and whether merge may seal pending local
 * writes first (node/gate.h); a store wrapper (the simulator's) copies the
 * latter into its li_store before each apply. */
bool li_driver_may_seal(const li_driver *d);
bool li_driver_may_seal_first(const li_driver *d);
/* What holds sealing back, in words (English / Chinese); "" when nothing. */
void li_driver_seal_state(const li_driver *d, char *out, size_t cap);

/* false when the driver has no entry for key. */
bool li_driver_peer(const li_driver *d, const uint8_t key[LI_PK_BYTES], li_driver_peer_info *out);

#endif

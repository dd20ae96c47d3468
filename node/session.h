/* session: the sync protocol with one peer, as a sans-IO state machine
 * (DESIGN 7, 8).
 *
 * It never touches a socket, a clock or a random source: the adapter feeds
 * it received messages and the current time, and takes from it the messages
 * to send and events to log. Storage is reached through li_store_vt
 * (node/store.c backs it with a replica; tests and the simulator may use
 * their own), whose apply must be durable before it returns: the session
 * acknowledges a batch only after apply returned.
 *
 *   IDLE --start()/recv(hello)--> HELLO_SENT --recv(hello)--> SYNCING
 *   SYNCING --peer silent > peer_timeout_ms--> IDLE (event PEER_LOST)
 *   any --recv(refuse) or protocol error--> IDLE (event REFUSED / PROTOCOL)
 *   (a Hello of a protocol range without ours is a protocol error: LI_ERR_VERSION)
 *   SYNCING --rejected ack or retry_ms without progress--> new exchange
 *
 * The exchange: both sides send Hello with their chain heads for the scopes
 * the other may read. Each side then sends, in batches of at most
 * batch_rows_max commits and batch_bytes_max bytes, with at most `window`
 * batches unacknowledged, every commit the other lacks, in (hlc, origin,
 * seq) order. A head the other reports whose hash differs from ours at that
 * seq is a fork: reported (ForkReport and event FORK), never resolved here.
 * Chains are independent: a commit the receiver cannot apply (clock ahead,
 * a gap, a bad signature ...) stops its own chain, named in the Ack, for
 * the rest of the exchange; every other chain goes on. The next exchange
 * (a retry, or the initiator's periodic anti-entropy) offers it again.
 * Reconnects and lost messages need nothing special: a new exchange starts
 * from the heads again, and duplicates are idempotent.
 *
 * Invariants: out-queue length <= window + 4; in-flight batches <= window;
 * every message queued is <= LI_MSG_BYTES_MAX bytes. */
#ifndef LI_SESSION_H
#define LI_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "keys.h"
#include "commit.h"
#include "heads.h" /* li_head, li_heads, li_range, li_blobs */
#include "scope.h"

/* Protocol versions (docs/protocol.md, "Versions"): a Hello names the
 * highest and the lowest version its sender speaks; the two sides speak the
 * highest both speak, and refuse (LI_ERR_VERSION) a peer whose range misses
 * ours. A newer node sends an older one only what the agreed version
 * defines. Unknown fields of the unsigned sync messages are skipped; the
 * signed bytes (SignedCommit, Commit) admit none (commit.h). */
#define LI_PROTOCOL_VERSION 1
#define LI_PROTOCOL_VERSION_MIN 1

/* A chain the store could not go on with in a batch: its commits from #seq
 * on were not applied (the batch's other chains were). */
typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
  li_err code;
  char message[LI_ERRBUF_SIZE];
} li_chain_reject;

/* What the store did with a batch. rejects is malloc'd by the store (or
 * NULL); li_apply_result_clear frees it. */
typedef struct {
  uint32_t applied;     /* commits applied */
  uint32_t duplicates;  /* already held */
  uint32_t sealed;      /* local commits the store sealed first (new for every peer) */
  uint32_t refused;     /* row changes refused alone (linli_refused), their commits applied */
  char refused_first[LI_ERRBUF_SIZE]; /* when refused: the newest in words, told to the sender */
  li_chain_reject *rejects; /* one per rejected chain, in batch order */
  size_t nrejects;
} li_apply_result;

void li_apply_result_clear(li_apply_result *r);
/* Appends a rejection (the first of its chain only); false when out of memory. */
bool li_apply_result_reject(li_apply_result *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                            li_err code, const char *message);
/* Whether commit (origin, scope, seq) falls in a rejected chain's tail. */
bool li_apply_result_skipped(const li_apply_result *r, const uint8_t origin[LI_PK_BYTES], const char *scope,
                             uint64_t seq);

typedef struct {
  /* Heads of every chain in the given scopes. */
  li_err (*heads)(void *ctx, const li_scopes *scopes, li_heads *out, li_errbuf *eb);
  /* Hash of the stored commit at a position; *found = false if absent. */
  li_err (*hash_at)(void *ctx, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                    uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb);
  /* The next commits of the ranges in (hlc, origin, seq) order: at most
   * max_count commits and max_bytes bytes (but at least one if any). */
  li_err (*fetch)(void *ctx, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                  li_blobs *out, li_errbuf *eb);
  /* Verifies and durably applies commits chain by chain: a rejected commit
   * stops its own chain for the rest of the batch (res->rejects names it),
   * never the others. A rejection is LI_OK; an error return means the
   * store itself failed and applied nothing. The store knows its own wall
   * clock (skew guard). */
  li_err (*apply)(void *ctx, const li_blob *commits, size_t n, li_apply_result *res, li_errbuf *eb);
} li_store_vt;

typedef struct {
  uint8_t network[LI_PK_BYTES];
  uint8_t self[LI_PK_BYTES];
  uint8_t peer[LI_PK_BYTES];   /* authenticated by the transport */
  li_scopes peer_reads;         /* what we may send the peer */
  bool initiator;               /* the committee side starts exchanges */
  uint32_t batch_rows_max, batch_bytes_max, window;
  uint32_t heartbeat_ms, peer_timeout_ms;
  uint32_t retry_ms;            /* delay before a new exchange after a rejection or loss */
} li_session_cfg;

typedef enum {
  LI_SESSION_IDLE = 0,
  LI_SESSION_HELLO_SENT,
  LI_SESSION_SYNCING,
} li_session_state;

typedef enum {
  LI_EV_SYNCED = 1,   /* both directions caught up: counts in the event */
  LI_EV_REJECTED,     /* the peer could not go on with one of our chains (chain, code, message),
                         or its store failed (no chain) */
  LI_EV_REJECTED_IN,  /* we could not go on with one of the peer's chains (chain, code, message) */
  LI_EV_FORK,         /* a fork in head hashes (message) */
  LI_EV_REFUSED,      /* the peer refused the exchange (code, message) */
  LI_EV_PROTOCOL,     /* the peer sent something malformed (message) */
  LI_EV_PEER_LOST,    /* no message within peer_timeout_ms */
  LI_EV_STORE,        /* our own store failed (code, message): the exchange ends, retried later */
  LI_EV_APPLIED,      /* the peer's batch gave the store new commits (applied, sealed) */
  LI_EV_REFUSED_ROWS, /* the peer applied our batch but refused row changes of it alone (applied: how many;
                       * message: the newest, as the peer put it: untrusted text) */
} li_event_kind;

typedef struct {
  li_event_kind kind;
  li_err code;
  char message[LI_ERRBUF_SIZE];
  uint64_t sent_commits, recv_commits; /* LI_EV_SYNCED: this exchange's totals */
  uint32_t stuck_ours, stuck_theirs;   /* LI_EV_SYNCED: chains left out of this exchange (rejected) */
  uint32_t applied, sealed;            /* LI_EV_APPLIED: as in li_apply_result */
  li_scopes touched;                   /* LI_EV_APPLIED: the scopes of the batch's commits (all: more than two,
                                        * or one it could not read): the other peers that read none of them
                                        * have nothing new from it */
  bool has_chain;                      /* REJECTED, REJECTED_IN: the chain below is named */
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;                        /* the first commit of it not applied */
} li_event;

typedef struct {
  li_session_state state;
  uint64_t last_recv_ms;         /* 0: never */
  uint64_t exchanges;
  uint64_t commits_sent, commits_recv, batches_sent, batches_recv;
  uint64_t behind_them;          /* commits the peer has that we lack, from its hello */
  uint64_t behind_us;            /* commits we have that the peer lacks (not yet acked) */
  uint64_t rejected[LI_ERR__COUNT];
  uint32_t in_flight;
  uint64_t flight_bytes;         /* bytes of the batches in flight */
  bool caught_up;                /* both directions done in the current exchange (stuck chains aside) */
  uint64_t peer_wall_ms;         /* the peer's wall clock in its last Hello, 0: none */
  uint64_t peer_wall_seen_ms;    /* our wall clock when that Hello arrived */
  uint32_t peer_schema_version;  /* the street schema version in its last Hello, 0: none */
  uint32_t protocol;             /* the protocol version agreed in the current exchange, 0: none yet */
  uint32_t stuck_ours;           /* our chains the peer rejected in this exchange */
  uint32_t stuck_theirs;         /* the peer's chains we rejected in this exchange */
} li_session_info;

typedef struct li_session li_session;

/* NULL when out of memory. The store and cfg are copied/borrowed: store_ctx
 * must outlive the session. */
li_session *li_session_new(const li_session_cfg *cfg, const li_store_vt *store, void *store_ctx);
void li_session_destroy(li_session **s);

/* Starts a new exchange now (sends Hello). */
li_err li_session_start(li_session *s, uint64_t now_ms, li_errbuf *eb);
/* One received message. Malformed input is answered with Refuse and an
 * event, never a crash; returns the error for the adapter's log. */
li_err li_session_recv(li_session *s, const uint8_t *msg, size_t len, uint64_t now_ms, li_errbuf *eb);
/* Time passes: heartbeats, timeouts, retries, sending more within the window. */
void li_session_tick(li_session *s, uint64_t now_ms);
/* New local commits exist (sealed or received from another peer): send them. */
void li_session_local_changed(li_session *s, uint64_t now_ms);

/* Takes the next message to send (caller frees *msg); false if none. */
bool li_session_next_out(li_session *s, uint8_t **msg, size_t *len);
/* Takes the next event; false if none. */
bool li_session_next_event(li_session *s, li_event *ev);
/* When the adapter should call tick next (absolute ms). */
uint64_t li_session_next_deadline(const li_session *s);

void li_session_info_get(const li_session *s, li_session_info *out);

/* The node's wall clock, for the Hellos it sends (the adapter sets it
 * before every input; the session never reads a clock). */
void li_session_set_wall(li_session *s, uint64_t wall_ms);
/* The node's street schema version, for the Hellos it sends (the adapter
 * sets it before every input; the hub's report shows who lags). */
void li_session_set_schema(li_session *s, uint32_t version);
/* The batch bytes we want unacknowledged from the peer at once (0: no
 * limit): told in our next Hello, and in every Ack. */
void li_session_set_recv_window(li_session *s, uint32_t hello_bytes, uint32_t ack_bytes);

/* The peer's head of (origin, scope) from its Hello of the current
 * exchange: false when no Hello of this exchange has arrived yet; *seq 0
 * when the peer holds none of that chain. hash may be NULL. */
bool li_session_peer_head(const li_session *s, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq,
                          uint8_t hash[LI_HASH_BYTES]);

/* How far this exchange has sent one of our chains (a rejection winds it
 * back); false when the chain is not ours to send or is left out (stuck,
 * forked). */
bool li_session_sent(const li_session *s, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq);

#endif

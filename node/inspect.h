/* inspect: what a node holds, as data: its status, the audit log, the
 * verification of every stored commit, the conflicts kept for review and
 * per-scope content digests.
 *
 * Owns: the read-only queries behind `linli status`, `log`, `verify`,
 * `conflicts` and `digest`. It prints nothing (node/render.c shows the data
 * as text or JSON) and writes nothing.
 *
 *   li_inspect_status ──▶ li_status (free: li_inspect_status_free)
 *   li_inspect_log_open ──li_inspect_log_next…──▶ li_log_entry ──li_inspect_log_close
 *   li_inspect_verify ──▶ li_verify_result (free: li_inspect_verify_free)
 *   li_inspect_conflicts_open ──…_next…──▶ li_conflict ──…_close
 *   li_inspect_digest ──▶ li_scope_digest[] (free with free())
 *
 * The log and the conflicts are read through cursors, one entry at a time:
 * both tables only grow (a hub holds every commit of the street), so
 * returning them whole would make memory grow with them.
 *
 * Chains (linli_log, linli_vv) are read through node/chain.h, the one
 * module that reads and advances them: heads and stored commits as stored,
 * judged here (a malformed row is data, as below). Roster names come from
 * roster.h.
 *
 * Invariants:
 *  1. On failure nothing is returned: lists are NULL with n = 0, and a free
 *     function is still safe to call.
 *  2. Stored text is kept as stored (cut at a character boundary to a
 *     bound), never cleaned here: it is untrusted wherever it is shown, and
 *     making it safe is the renderer's job (out.h).
 *  3. Every list is bounded: LI_INSPECT_ROWS_MAX rows (over it
 *     LI_ERR_LIMIT), LI_VERIFY_PROBLEMS_MAX problems kept (all counted).
 *  4. Status is read in one snapshot: its numbers agree with each other.
 *
 * Failure: LI_ERR_DB on a database error, LI_ERR_NOMEM, LI_ERR_LIMIT as in
 * invariant 3. A stored commit that fails verification is data (an entry
 * or a problem), not an error. */
#ifndef LI_INSPECT_H
#define LI_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "node.h"
#include "replica.h"

/* ---- status ---- */

/* One chain (origin, scope) this replica holds. */
typedef struct {
  bool origin_ok;                         /* the stored origin is a 32-byte key */
  uint8_t origin[LI_PK_BYTES];
  char origin_name[LI_NAME_MAX + 1];      /* roster name (li_roster_name_of); "?" when not a key */
  char scope[LI_INSPECT_TEXT_MAX + 1];
  uint64_t seq;                           /* the applied head */
  uint64_t last_hlc;                      /* HLC of its newest stored commit; 0 when none */
} li_chain_status;

typedef enum {
  LI_PEER_CONNECTED = 0,
  LI_PEER_UNREACHABLE,  /* the daemon runs, the peer does not answer */
  LI_PEER_DAEMON_DOWN,  /* nobody refreshed the row lately: `linli serve` is not running */
} li_peer_state;

/* A sync peer as `linli serve` last recorded it (linli_peers). */
typedef struct {
  char name[LI_INSPECT_TEXT_MAX + 1];     /* "?" when none stored */
  bool key_ok;
  uint8_t key[LI_PK_BYTES];
  li_peer_state state;
  bool contact_known;
  uint64_t last_contact_ms;
  int64_t commits_we_lack, commits_they_lack;
  int64_t commits_sent, commits_received;
  int64_t rejected_in, rejected_out;
  char last_error[LI_ERRBUF_SIZE];        /* "" when none */
  int64_t refused_rows;                   /* row changes of ours it refused alone, commits applied */
  char refused_last[LI_ERRBUF_SIZE];      /* the newest, in the peer's words (untrusted), "" when none */
  int64_t ex_announced, ex_received;      /* the current exchange: commits the peer announced we lack, received */
} li_peer_status;

typedef struct {
  char reason[LI_INSPECT_TEXT_MAX + 1];   /* li_errname() of the rejection, as stored */
  int64_t n;
} li_reject_count;

/* An origin that equivocated and is no longer accepted. */
typedef struct {
  bool origin_ok;
  uint8_t origin[LI_PK_BYTES];
  char reason[LI_ERRBUF_SIZE];
} li_ban;

/* A chain left out of the last exchange with a peer (linli_stuck, as the
 * daemon or `sync --once` last saved it), with the command that frees it. */
typedef struct {
  char peer[LI_INSPECT_TEXT_MAX + 1];     /* the peer's roster name */
  bool ours;                              /* true: the peer could not take it from us */
  bool origin_ok;
  uint8_t origin[LI_PK_BYTES];
  char origin_name[LI_NAME_MAX + 1];
  char scope[LI_INSPECT_TEXT_MAX + 1];
  int64_t seq;                            /* the first commit that did not go */
  char code[LI_INSPECT_TEXT_MAX + 1];     /* li_errname() of why */
  char message[LI_ERRBUF_SIZE];
  uint64_t since_ms;
  char fix[LI_ERRBUF_SIZE];               /* what to do (li_inspect_stuck_fix) */
} li_stuck_status;

/* A row change merge refused alone, its commit applied (linli_refused). */
typedef struct {
  char origin_name[LI_NAME_MAX + 1];
  char scope[LI_INSPECT_TEXT_MAX + 1];
  int64_t seq;
  char table[LI_INSPECT_TEXT_MAX + 1];
  char pk[LI_INSPECT_TEXT_MAX + 1];
  char reason[LI_INSPECT_TEXT_MAX + 1];
  char message[LI_ERRBUF_SIZE];
  uint64_t recorded_ms;
} li_refused_status;

/* A tracked table changed by hand: nothing of it is sealed meanwhile. */
typedef struct {
  char table[LI_INSPECT_TEXT_MAX + 1];
  char what[LI_ERRBUF_SIZE];              /* the difference and the way back */
  int64_t kept;                           /* its change markers kept unsealed */
} li_drift_status;

/* What `linli status` shows. It grows by sections: a new field or list is
 * added, zero meaning "none", so a renderer that does not know it yet
 * stays correct. */
typedef struct {
  /* the node */
  char name[LI_NAME_MAX + 1];
  li_role role;
  char scope[LI_SCOPE_MAX + 1];
  uint8_t self[LI_PK_BYTES];
  uint8_t network[LI_PK_BYTES];
  uint64_t hlc;                 /* the node's clock as last stored; 0: never sealed nor applied */
  uint32_t schema_version;      /* the street schema version (migrate.h) */
  /* local state */
  int64_t unsealed_changes;     /* dirty row markers not sealed yet */
  int64_t conflicts;            /* rows in linli_conflicts */
  int64_t held_clock_ahead;     /* commits held for a clock too far ahead */
  /* lists, each malloc'd (NULL when empty) */
  li_chain_status *chains;      /* by scope, then origin */
  size_t nchains;
  li_peer_status *peers;        /* by name */
  size_t npeers;
  li_reject_count *rejected;    /* by reason */
  size_t nrejected;
  li_ban *banned;
  size_t nbanned;
  /* what the daemon last saved about itself (linli_serve): what holds
   * sealing back (the seal gate, the clock guard, a fork), "" when nothing */
  bool serve_known;             /* `serve` or `sync --once` ran at least once */
  bool serve_running;           /* it saved its state within the last seconds */
  uint64_t serve_saved_ms;
  char seal[LI_SEAL_TEXT_MAX + 1];
  bool clock_known;             /* the hub's clock was heard */
  int64_t clock_ahead_ms;       /* this node's clock minus the hub's */
  li_stuck_status *stuck;       /* by peer, side, scope */
  size_t nstuck;
  int64_t refused_total;        /* rows in linli_refused */
  li_refused_status *refused;   /* the newest LI_STATUS_REFUSED_SHOWN of them, newest first */
  size_t nrefused;
  bool recover_pending;         /* `linli recover` ran and waits for the hub's view */
  uint8_t recovered_from[LI_PK_BYTES];
  li_drift_status *drift;       /* tracked tables changed by hand (capture.h invariant 8), id order */
  size_t ndrift;
} li_status;

/* What to do about a stuck chain: one line naming the command, by the
 * reason (code: an li_errname) and its side (ours: the peer could not take
 * our chain). origin_name and peer are shown as given (roster names). */
void li_inspect_stuck_fix(const char *code, bool ours, const char *origin_name, const char *peer, char *out,
                          size_t cap);

/* The status of node n; now_ms (the wall clock) tells a running daemon from
 * a stopped one. */
li_err li_inspect_status(li_status *out, li_node *n, uint64_t now_ms, li_errbuf *eb);
/* Frees the lists and zeroes *s; safe twice. */
void li_inspect_status_free(li_status *s);

/* ---- log ---- */

typedef enum { LI_CHANGE_INSERTED = 0, LI_CHANGE_SET, LI_CHANGE_DELETED } li_change_kind;

/* One row change of a commit. Pointers live in the cursor (see
 * li_inspect_log_next). */
typedef struct {
  const char *table;
  li_change_kind kind;
  size_t npk;
  Linli__Value *const *pk;          /* key values, in key order */
  size_t ncols;                     /* 0 for a delete */
  const char *const *col_names;     /* the columns set, in commit order */
  Linli__Value *const *values;      /* their values */
} li_change;

typedef struct {
  /* false: the stored bytes fail verification; error says why, and only
   * the log row's own columns below (origin, scope, seq) are set */
  bool verified;
  char error[LI_ERRBUF_SIZE];
  bool origin_ok;
  uint8_t origin[LI_PK_BYTES];
  char origin_name[LI_NAME_MAX + 1];
  char scope[LI_INSPECT_TEXT_MAX + 1];
  int64_t seq;
  uint64_t hlc;                     /* verified only */
  const li_change *changes;         /* those the filter matches, commit order */
  size_t nchanges;
} li_log_entry;

/* Which changes to show; NULL fields match everything. pk matches a
 * single-column text key. */
typedef struct {
  const char *table;
  const char *pk;
} li_log_filter;

typedef struct li_log_cursor li_log_cursor;

/* Every stored commit in (hlc, origin, seq) order. filter may be NULL; it
 * is borrowed until close. */
li_err li_inspect_log_open(li_log_cursor **out, li_replica *r, const li_log_filter *filter, li_errbuf *eb);
/* The next commit with a change the filter matches, or one that fails
 * verification (whatever the filter). *entry is the cursor's and valid
 * until the next call; NULL at the end. */
li_err li_inspect_log_next(li_log_cursor *c, const li_log_entry **entry, li_errbuf *eb);
/* Safe on NULL and twice. */
void li_inspect_log_close(li_log_cursor **c);

/* ---- verify ---- */

typedef enum {
  LI_PROBLEM_COMMIT = 0, /* a stored commit: signature, columns, hash or chain link */
  LI_PROBLEM_HEAD,       /* a chain head (linli_vv) that is not its last stored commit */
} li_problem_kind;

typedef struct {
  li_problem_kind kind;
  char scope[LI_INSPECT_TEXT_MAX + 1];   /* "?" when none stored */
  int64_t seq;
  char who[LI_NAME_MAX + 1];             /* commit: roster name of its stored origin, "?" when not a key */
  char what[LI_ERRBUF_SIZE];             /* commit: what is wrong */
} li_verify_problem;

typedef struct {
  int64_t checked;              /* stored commits checked */
  int64_t problems_total;       /* every problem found */
  li_verify_problem *problems;  /* the first LI_VERIFY_PROBLEMS_MAX of them, malloc'd */
  size_t nproblems;
} li_verify_result;

/* Re-checks every stored commit's signature, its log columns against the
 * signed commit, its hash and its link to the previous one, and every chain
 * head against the last stored commit. */
li_err li_inspect_verify(li_verify_result *out, li_replica *r, li_errbuf *eb);
void li_inspect_verify_free(li_verify_result *v);

/* ---- conflicts ---- */

/* A value that lost to a concurrent write. Text is the cursor's (valid
 * until the next call); values are as SQL quote() writes them ('text',
 * 12, NULL, X'00FF'). */
typedef struct {
  const char *table, *pk, *column;
  const char *loser, *winner;
  char loser_origin[LI_NAME_MAX + 1];   /* roster names; "?" when not a key */
  char winner_origin[LI_NAME_MAX + 1];
  uint64_t loser_hlc, winner_hlc;
} li_conflict;

typedef struct li_conflict_cursor li_conflict_cursor;

/* Every recorded conflict, oldest first. */
li_err li_inspect_conflicts_open(li_conflict_cursor **out, li_replica *r, li_errbuf *eb);
/* *conflict: the next one, or NULL at the end. */
li_err li_inspect_conflicts_next(li_conflict_cursor *c, const li_conflict **conflict, li_errbuf *eb);
void li_inspect_conflicts_close(li_conflict_cursor **c);

/* ---- digest ---- */

/* Every tracked row of a scope (each value's type and exact bytes, in key
 * order, table by table): two replicas hold the same data of a scope
 * exactly when their digests are equal. */
typedef struct {
  char scope[LI_INSPECT_TEXT_MAX + 1];
  uint8_t hash[LI_HASH_BYTES];
  int64_t rows;
} li_scope_digest;

/* The digest of each scope present in a tracked table, by scope (only that
 * scope when only_scope is not NULL). *out is malloc'd (NULL when none). */
li_err li_inspect_digest(li_scope_digest **out, size_t *n, li_replica *r, const char *only_scope, li_errbuf *eb);

#endif

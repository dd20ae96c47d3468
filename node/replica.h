/* replica: a node's SQLite database and what linli keeps in it besides
 * the data.
 *
 * Owns: opening/creating replica.db (WAL, foreign keys on, the PRAGMAs
 * below), transactions and savepoints (and how long its write transactions
 * held SQLite's write lock, li_replica_lock_stats), linli_meta (the node's facts) and
 * the origin index (linli_origins and its cache), the internal tables
 * without a module of their own, and the statements of rowclock and seal.
 * Other modules own the rest of the file:
 *   capture.h  linli_tables, linli_dirty, linli_applying and the triggers
 *   chain.h    linli_log, linli_vv
 *   roster.h   roster
 *   rowclock.h the rows of linli_clock
 *   apply.h    the rows of linli_conflicts and linli_refused
 *
 * Internal tables:
 *   linli_meta(key, value)                node facts: role, scope, network, self, hlc, schema_version
 *   linli_migrations(version, ...)        street schema migrations applied here (migrate.h)
 *   linli_tables(id, name, cols)          tracked tables (capture)
 *   linli_dirty(rowid, tbl, scope, pk, op, mask, ms)
 *                                          written by the capture triggers only, emptied by seal
 *   linli_applying(x)                     one row while remote changes are applied
 *                                          (inside that transaction), silences capture
 *   linli_origins(idx, key)               32-byte origin keys <-> small local indexes
 *   linli_clock(tbl, pk, scope, cl, vers) one row per data row ever seen, keyed
 *                                          (tbl, scope, pk): its causal length and
 *                                          per-column (hlc, origin idx) as 12 bytes a
 *                                          column (u64 hlc, u32 idx, LE)
 *   linli_log(origin, scope, seq, hlc, hash, sc)   every verified commit (chain)
 *   linli_vv(origin, scope, seq, head)    applied head of each chain (chain)
 *   linli_conflicts(...)                  losing values of concurrent writes (apply.h)
 *   linli_refused(...)                    row changes merge refused, one row each (apply.h)
 *   linli_evidence(...), linli_banned(origin)   equivocations
 *   linli_rejects(reason, n)              rejected inputs by reason (status)
 *   linli_peers(key, name, connected, last_contact_ms, behind_them, behind_us, ...)
 *                                          sync peers as `linli serve` last saw them
 *
 * Transactions, as this module's functions move between them:
 *
 *   none --begin()|begin_read()--> open --commit()--> none
 *   open --rollback(), or commit() failing--> none   (origins since begin forgotten)
 *   open --savepoint()--> in savepoint --release()--> open
 *   in savepoint --rollback_to()--> open              (origins since savepoint forgotten)
 *   in savepoint --rollback()--> none
 *
 * Invariants:
 *  1. linli_dirty is empty whenever remote commits are applied (merge seals
 *     pending local writes first, in the same transaction).
 *  2. For every (origin, scope) in linli_vv, linli_log holds seq 1..head
 *     and head is the hash of the last one (chain.h, invariant 1).
 *  3. A data row exists iff its linli_clock row has an odd cl (for rows
 *     written through linli; rows written before tracking are sealed as new).
 *  4. The origin cache holds exactly the linli_origins rows this connection
 *     inserted or loaded and did not roll back: origins[idx] is the key of
 *     idx for 1 <= idx < norigins. Index 0 means "no origin".
 *  5. A rollback (to the start of the transaction, or to a savepoint)
 *     restores norigins to what it was there: the rolled-back rows are gone
 *     and SQLite gives their indexes out again, so a cache that kept them
 *     would attribute column versions to the wrong key. Callers never repair
 *     the cache themselves.
 *  6. At most one savepoint, inside a transaction; the catalogue holds at
 *     most LI_TABLES_MAX tables (capture.h).
 * 1-3 hold in the file; 4-6 are checked by s_check in replica.c.
 *
 * Failure: LI_ERR_DB with SQLite's message, LI_ERR_NOT_INIT for a file that
 * is not a replica, LI_ERR_EXISTS, LI_ERR_CONFIG for a schema that does not
 * load, LI_ERR_TAMPERED for a malformed internal row, LI_ERR_LIMIT. */
#ifndef LI_REPLICA_H
#define LI_REPLICA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "capture.h"
#include "config.h"
#include "err.h"
#include "keys.h"
#include "li_limits.h"

/* The street schema version of a new replica (its built-in or --schema
 * schema); each migration adds one (migrate.h). */
#define LI_SCHEMA_VERSION 1

/* The fields are public for the modules and tests written before the
 * accessors below; new code uses the accessors. */
struct li_replica {
  sqlite3 *db;
  const li_identity *id; /* set by the node when it can sign (seal); may be NULL */
  li_role role;
  char scope[LI_SCOPE_MAX + 1];
  uint8_t network[LI_PK_BYTES];
  uint8_t self[LI_PK_BYTES];
  li_table *tables;      /* capture's catalogue, LI_TABLES_MAX slots */
  int ntables;
  int64_t catalogue_schema; /* PRAGMA schema_version the catalogue was read at (li_replica_catalogue_fresh) */
  uint32_t schema_version;  /* the street schema version (linli_meta), read with the catalogue */
  uint8_t (*origins)[LI_PK_BYTES]; /* idx -> key; idx 0 unused */
  int norigins, origins_cap;
  int txn_origins;       /* norigins at begin; -1: no transaction of ours */
  int sp_origins;        /* norigins at the savepoint; -1: none */
  sqlite3_stmt *st_clock_get, *st_clock_put, *st_dirty_clear;
  sqlite3_stmt *st_clock_put_many[LI_BULK_SIZES]; /* rowclock.c's, prepared on first use */
  struct li_chain_stmts *chain_st; /* chain.c's */
  /* write-lock hold (li_replica_lock_stats): CLOCK_MONOTONIC ns when the
   * open write transaction began (0: none of ours), and the holds ended */
  uint64_t lock_t0_ns, lock_hold_max_ns, lock_hold_total_ns, lock_holds;
};

/* Creates replica.db at path for a new node (fails if it exists), installs
 * the internal tables, the roster and schema_sql (NULL: the built-in
 * config/schema/street.sql), and tracks every table of schema_sql. */
li_err li_replica_create(const char *path, li_role role, const char *scope,
                         const uint8_t network[LI_PK_BYTES], const uint8_t self[LI_PK_BYTES],
                         const char *schema_sql, li_replica **out, li_errbuf *eb);
/* Opens an existing replica; LI_ERR_NOT_INIT if it is not one. */
li_err li_replica_open(const char *path, li_replica **out, li_errbuf *eb);
/* The same, strictly for reading (`linli web`): the file is opened
 * SQLITE_OPEN_READONLY and PRAGMA query_only is on, so every write fails.
 * It reads beside a running `serve` through WAL. */
li_err li_replica_open_readonly(const char *path, li_replica **out, li_errbuf *eb);
void li_replica_close(li_replica **r);

/* Read-only views of what was loaded at open (valid until close). */
sqlite3 *li_replica_db(li_replica *r);
li_role li_replica_role(const li_replica *r);
const char *li_replica_scope(const li_replica *r);
const uint8_t *li_replica_network(const li_replica *r);
const uint8_t *li_replica_self(const li_replica *r);
/* The street schema version (linli_meta 'schema_version', DESIGN 14) as
 * of the catalogue in memory. */
uint32_t li_replica_schema_version(const li_replica *r);
/* When the database schema changed since the catalogue was read (a
 * migration, by this process or another, or ALTER TABLE by hand), reads
 * the catalogue and the schema version again. Seal and merge call it
 * before they use the catalogue. */
li_err li_replica_catalogue_fresh(li_replica *r, li_errbuf *eb);
/* A migration changed the catalogue in memory along with the file: both
 * are current, at schema_version (migrate.c). */
void li_replica_catalogue_current(li_replica *r, uint32_t schema_version);
/* SQLite's PRAGMA data_version: it moves when another connection (another
 * process: `linli commit`, `schema apply`, a staff member's program)
 * committed a change, never for this connection's own. -1 on error. */
int64_t li_replica_data_version(li_replica *r);
/* Origins in the cache (invariant 4). */
int li_replica_origin_count(const li_replica *r);

/* Origin index of a key, adding it when absent (in the caller's
 * transaction: a rollback forgets it again, invariant 5). */
li_err li_replica_origin_idx(li_replica *r, const uint8_t key[LI_PK_BYTES], int *idx, li_errbuf *eb);
const uint8_t *li_replica_origin_key(const li_replica *r, int idx);

/* linli_meta access. get returns LI_ERR_NOT_FOUND when absent. */
li_err li_meta_get_int(li_replica *r, const char *key, int64_t *out);
li_err li_meta_set_int(li_replica *r, const char *key, int64_t v, li_errbuf *eb);
/* A blob of exactly n bytes; LI_ERR_NOT_FOUND when absent or of another size. */
li_err li_meta_get_blob(li_replica *r, const char *key, void *out, int n);
li_err li_meta_set_blob(li_replica *r, const char *key, const void *p, int n, li_errbuf *eb);
li_err li_meta_delete(li_replica *r, const char *key, li_errbuf *eb);

/* A new identity for this node (linli recover): linli_meta 'self' and the
 * copy in memory, in the caller's transaction. */
li_err li_replica_set_self(li_replica *r, const uint8_t self[LI_PK_BYTES], li_errbuf *eb);

/* Transactions (the diagram above). begin: BEGIN IMMEDIATE, a write
 * transaction; begin_read: BEGIN, one consistent snapshot for several
 * reads. commit rolls back when COMMIT fails. rollback is a no-op when
 * nothing is open. Both restore the origin cache (invariant 5). Asserts:
 * begin with a transaction of ours already open. */
li_err li_replica_begin(li_replica *r, li_errbuf *eb);
li_err li_replica_begin_read(li_replica *r, li_errbuf *eb);
li_err li_replica_commit(li_replica *r, li_errbuf *eb);
void li_replica_rollback(li_replica *r);

/* How long this connection held SQLite's write lock in the write
 * transactions of li_replica_begin (BEGIN IMMEDIATE returned .. COMMIT or
 * ROLLBACK returned, one CLOCK_MONOTONIC read at each end): while one is
 * open every other writer of the file (a staff member's sqlite3) waits or
 * gets "database is locked". Writes outside li_replica_begin (a caller's
 * own BEGIN) are not seen. reset starts counting again (benchmarks,
 * status). */
typedef struct {
  uint64_t holds;        /* write transactions ended */
  uint64_t max_ns;       /* the longest one */
  uint64_t total_ns;     /* all of them */
} li_replica_lock_stats;
void li_replica_lock_stats_get(const li_replica *r, li_replica_lock_stats *out);
void li_replica_lock_stats_reset(li_replica *r);

/* One savepoint inside an open write transaction (merge: a rejected commit
 * is undone alone). release keeps its changes; rollback_to undoes them,
 * origins included, and releases it. Asserts: no savepoint open for
 * savepoint, one open for the others. */
li_err li_replica_savepoint(li_replica *r, li_errbuf *eb);
li_err li_replica_release(li_replica *r, li_errbuf *eb);
void li_replica_rollback_to(li_replica *r);

/* Wraps sqlite3_errmsg into eb; returns LI_ERR_DB. */
li_err li_db_fail(li_replica *r, li_errbuf *eb, const char *what);

/* Executes SQL with no result rows. */
li_err li_exec(li_replica *r, const char *sql, li_errbuf *eb);

/* Count a rejected input by reason (kept in linli_rejects for status). */
void li_replica_count_reject(li_replica *r, li_err reason);

/* The number of dirty (unsealed) row markers. */
int64_t li_replica_dirty_count(li_replica *r);

/* The PRAGMAs every replica connection runs (benchmarks use them for their
 * plain baseline, so it is measured under the same settings). */
extern const char li_replica_pragmas[];
/* The page cache of this connection, in MiB (linli.conf's cache_mib; the
 * PRAGMAs above set 64 MiB for connections of tools and benchmarks). Fails
 * only as the PRAGMA does. */
li_err li_replica_set_cache(li_replica *r, uint32_t cache_mib, li_errbuf *eb);

/* The one-row INSERT one (... VALUES(...) with anonymous ? parameters)
 * with its VALUES tuple k times, prepared to be kept (apply's and
 * rowclock's statements of many rows); NULL when SQLite cannot prepare it
 * (over one of its limits) or one's parameters are numbered. */
sqlite3_stmt *li_replica_prepare_rows(li_replica *r, sqlite3_stmt *one, int k);

/* Built-in default schema text. */
extern const char li_street_sql[];

#endif

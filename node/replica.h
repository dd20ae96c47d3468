/* replica: a node's SQLite database and everything linli keeps in it.
 *
 * Owns: opening/creating replica.db (WAL, foreign keys on), the internal
 * tables (linli_*), the tracked-table catalogue and its capture triggers,
 * the origin index, and cached prepared statements.
 *
 * Internal tables:
 *   linli_meta(key, value)                node facts: role, scope, network, self, hlc, schema_version
 *   linli_tables(id, name, cols)          tracked tables (cols: JSON array, table order)
 *   linli_dirty(rowid, tbl, scope, pk, op, mask, ms)
 *                                          written by the capture triggers only
 *   linli_applying(x)                     one row while remote changes are applied
 *                                          (inside that transaction), silences capture
 *   linli_origins(idx, key)               32-byte origin keys <-> small local indexes
 *   linli_clock(tbl, pk, scope, cl, vers) one row per data row ever seen: its scope,
 *                                          causal length and per-column (hlc, origin idx)
 *                                          as 12 bytes a column (u64 hlc, u32 idx, LE)
 *   linli_log(origin, scope, seq, hlc, hash, sc)   every verified commit (sc: SignedCommit bytes)
 *   linli_vv(origin, scope, seq, head)    applied head of each chain
 *   linli_conflicts(...)                  losing values of concurrent writes
 *   linli_evidence(...), linli_banned(origin)   equivocations
 *   linli_rejects(reason, n)              rejected inputs by reason (status)
 *   linli_peers(key, name, connected, last_contact_ms, behind_them, behind_us, ...)
 *                                          sync peers as `linli serve` last saw them
 *
 * Invariants:
 *  1. linli_dirty is empty whenever remote commits are applied (merge seals
 *     pending local writes first, in the same transaction).
 *  2. For every (origin, scope) in linli_vv, linli_log holds seq 1..head
 *     and head is the hash of the last one.
 *  3. A data row exists iff its linli_clock row has an odd cl (for rows
 *     written through linli; rows written before tracking are sealed as new).
 */
#ifndef LI_REPLICA_H
#define LI_REPLICA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "keys.h"
#include "li_limits.h"

#define LI_SCHEMA_VERSION 1

/* Declared type affinity of a column, for the type check of remote values. */
typedef enum { LI_AFF_ANY = 0, LI_AFF_TEXT, LI_AFF_INT, LI_AFF_REAL, LI_AFF_BLOB } li_affinity;

#define LI_UPD_CACHE 8

typedef struct {
  int id;
  char *name;
  int ncols;
  char **cols;
  li_affinity *aff;
  int npk;
  int pk[LI_PK_COLS_MAX]; /* column indexes, key order */
  int scope_col;
  sqlite3_stmt *sel;      /* SELECT all cols WHERE pk */
  sqlite3_stmt *ins;      /* INSERT all cols */
  sqlite3_stmt *del;      /* DELETE WHERE pk */
  struct { uint64_t mask; sqlite3_stmt *st; } upd[LI_UPD_CACHE];
  int upd_next;
} li_table;

typedef struct li_replica {
  sqlite3 *db;
  const li_identity *id; /* set by the node when it can sign (seal); may be NULL */
  li_role role;
  char scope[LI_SCOPE_MAX + 1];
  uint8_t network[LI_PK_BYTES];
  uint8_t self[LI_PK_BYTES];
  li_table *tables;
  int ntables;
  uint8_t (*origins)[LI_PK_BYTES]; /* idx -> key; idx 0 unused */
  int norigins, origins_cap;
  sqlite3_stmt *st_clock_get, *st_clock_put, *st_log_put, *st_log_get, *st_vv_get,
      *st_vv_put, *st_dirty_clear, *st_log_by_hlc;
} li_replica;

/* Creates replica.db at path for a new node (fails if it exists), installs
 * the internal tables, the roster and schema_sql (NULL: the built-in
 * config/schema/street.sql), and tracks every table of schema_sql. */
li_err li_replica_create(const char *path, li_role role, const char *scope,
                         const uint8_t network[LI_PK_BYTES], const uint8_t self[LI_PK_BYTES],
                         const char *schema_sql, li_replica **out, li_errbuf *eb);
/* Opens an existing replica; LI_ERR_NOT_INIT if it is not one. */
li_err li_replica_open(const char *path, li_replica **out, li_errbuf *eb);
void li_replica_close(li_replica **r);

/* Starts tracking an existing user table (capture triggers, catalogue).
 * Refuses (LI_ERR_TRACK) a table without a primary key, whose only key is an
 * INTEGER rowid alias, without a TEXT `scope` column, or with too many columns. */
li_err li_replica_track(li_replica *r, const char *table, li_errbuf *eb);

li_table *li_replica_table(li_replica *r, const char *name);
li_table *li_replica_table_by_id(li_replica *r, int id);

/* Origin index of a key, adding it when absent. */
li_err li_replica_origin_idx(li_replica *r, const uint8_t key[LI_PK_BYTES], int *idx, li_errbuf *eb);
const uint8_t *li_replica_origin_key(const li_replica *r, int idx);

/* linli_meta access. get returns LI_ERR_NOT_FOUND when absent. */
li_err li_meta_get_int(li_replica *r, const char *key, int64_t *out);
li_err li_meta_set_int(li_replica *r, const char *key, int64_t v, li_errbuf *eb);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
li_err li_replica_begin(li_replica *r, li_errbuf *eb);
li_err li_replica_commit(li_replica *r, li_errbuf *eb);
void li_replica_rollback(li_replica *r);

/* Wraps sqlite3_errmsg into eb; returns LI_ERR_DB. */
li_err li_db_fail(li_replica *r, li_errbuf *eb, const char *what);

/* Executes SQL with no result rows. */
li_err li_exec(li_replica *r, const char *sql, li_errbuf *eb);

/* Chains (invariant 2). vv_get: the applied head of (origin, scope), seq 0
 * and a zero head when none; head may be NULL. log_hash: the hash stored at
 * a position, *found false when none. append: stores a verified commit and
 * advances the head, in the caller's transaction. Malformed stored rows are
 * LI_ERR_TAMPERED. */
li_err li_replica_vv_get(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq,
                         uint8_t head[LI_HASH_BYTES], li_errbuf *eb);
li_err li_replica_log_hash(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                           uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb);
li_err li_replica_append(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                         uint64_t hlc, const uint8_t hash[LI_HASH_BYTES], const uint8_t *sc, size_t sc_len,
                         uint64_t now_ms, li_errbuf *eb);

/* Count a rejected input by reason (kept in linli_rejects for status). */
void li_replica_count_reject(li_replica *r, li_err reason);

/* The number of dirty (unsealed) row markers. */
int64_t li_replica_dirty_count(li_replica *r);

/* The PRAGMAs every replica connection runs (benchmarks use them for their
 * plain baseline, so it is measured under the same settings). */
extern const char li_replica_pragmas[];

/* Built-in default schema text. */
extern const char li_street_sql[];

#endif

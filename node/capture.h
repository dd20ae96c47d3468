/* capture: which tables linli tracks, and the pure-SQL triggers that
 * record every local write to them (DESIGN 1).
 *
 * Owns the catalogue (linli_tables and its copy in memory, li_table, with
 * each table's prepared statements), the capture triggers, and the DDL of
 * linli_tables, linli_dirty and linli_applying (li_capture_sql). Seal turns
 * the markers in linli_dirty into commits and empties it; merge silences
 * the triggers with the row in linli_applying while it applies remote
 * changes (SQLite has one writer, so nothing local slips in meanwhile).
 *
 * A table, as tracking takes it:
 *
 *   untracked --li_capture_track(): refused (LI_ERR_TRACK, ...)--> untracked
 *   untracked --li_capture_track(): catalogue row + triggers + a marker per
 *               existing row, one transaction--> tracked (forever: there is
 *               no untrack; the hub's schema commits only add, DESIGN 14)
 *
 * A row is identified by (table, scope, the other key columns): every
 * tracked table's PRIMARY KEY includes scope, so a key used in one scope
 * can never collide with, or block, a row of another scope, whatever order
 * commits arrive in (docs/design-notes.md, "Row identity").
 *
 * Invariants:
 *  1. Every tracked table has its five triggers linli_<id>_ai, _au, _ak,
 *     _ad and _bm, created in the transaction that added its linli_tables
 *     row. Their names hold the table's id, never its name.
 *  2. The triggers only record which row changed: (table id, scope, key
 *     columns besides scope, op 1 insert / 2 update / 3 delete, mask of
 *     changed columns, wall-clock ms) into linli_dirty. They call no custom
 *     SQL function, so any SQLite client's writes are captured, and they
 *     are silent while linli_applying holds a row. An update of the key is
 *     recorded as a delete and an insert.
 *  3. The triggers refuse (RAISE(ABORT, 'linli: ...'), in the writer's own
 *     statement): on a committee, a row whose scope (new or old) is not its
 *     own; on the hub, a scope that is not 1..LI_SCOPE_MAX characters of
 *     [a-z0-9_-]; an update that moves a row to another scope; and every
 *     value a receiver would refuse or store differently (DESIGN 13),
 *     naming table and column: text or a blob in an INTEGER or REAL column,
 *     a blob in a TEXT column, text holding a NUL byte, NULL in a key
 *     column, a blob in a composite key, a value over LI_VALUE_BYTES_MAX,
 *     a row over LI_ROW_BYTES_MAX. An UPDATE answers only for the columns
 *     it changes.
 *  4. A tracked table has a TEXT column `scope` that is part of its primary
 *     key, and at least one key column besides it; pk[] holds those others
 *     in key order (at most LI_PK_COLS_MAX; no BLOB among them when there
 *     are several), and they are what a commit's RowChange.pk carries. At
 *     most LI_TABLE_COLS_MAX columns; its sel, ins and del are prepared.
 *  5. At most LI_TABLES_MAX tables, ids positive and unique; r->tables
 *     holds them in linli_tables id order.
 *  6. When tracking starts, every row already in the table gets an insert
 *     marker, so the next seal publishes it.
 *  7. When tracking starts, no row of the table breaks a rule of
 *     invariant 3 (tracking is refused, naming the row, otherwise).
 *  8. A table whose live columns differ from those its triggers were built
 *     for (linli_tables.cols: someone ran ALTER TABLE by hand) has drift
 *     set, naming the difference and the way back. Seal keeps its markers
 *     and seals nothing of it (li_seal_stats.held_rows) until the columns
 *     match again: a change the triggers could not see whole is never
 *     sealed as if it were.
 *
 * Failure: LI_ERR_TRACK (with the reason) for a table that cannot be
 * tracked, LI_ERR_EXISTS when already tracked, LI_ERR_NOT_FOUND when there
 * is no such table, LI_ERR_LIMIT, LI_ERR_NOMEM, LI_ERR_DB. Nothing is left
 * behind by a failed track. */
#ifndef LI_CAPTURE_H
#define LI_CAPTURE_H

#include <sqlite3.h>
#include <stdint.h>
#include "err.h"
#include "li_limits.h"
#include "linli.pb-c.h"

typedef struct li_replica li_replica;

/* apply inserts new rows LI_BULK_ROWS at a time, then 16 (fewer one by
 * one: a statement of 4 saved less than the first use of a table costs);
 * clock rows are written in statements of the same sizes (rowclock.h). */
#define LI_BULK_ROWS 64
#define LI_BULK_SIZES 2

/* Declared type affinity of a column, for the type check of remote values. */
typedef enum { LI_AFF_ANY = 0, LI_AFF_TEXT, LI_AFF_INT, LI_AFF_REAL, LI_AFF_BLOB } li_affinity;

typedef struct {
  int id;
  char *name;
  int ncols;
  char **cols;
  li_affinity *aff;
  int npk;
  int pk[LI_PK_COLS_MAX]; /* key columns besides scope: column indexes, key order */
  int scope_col;          /* part of the key too */
  uint64_t notnull;       /* bit i: column i is declared NOT NULL */
  sqlite3_stmt *sel;      /* SELECT all cols WHERE pk columns = ?... AND scope = ? */
  sqlite3_stmt *ins;      /* INSERT all cols */
  sqlite3_stmt *del;      /* DELETE WHERE pk columns = ?... AND scope = ? */
  struct { uint64_t mask; sqlite3_stmt *st; } upd[LI_UPD_CACHE];
  int upd_next;
  sqlite3_stmt *seal;     /* seal.c's read of the table's markers (seal.h), prepared there on first use */
  /* apply's (apply.c): the INSERT of k rows into the table, k =
   * LI_BULK_ROWS >> (2 * i), prepared on first use; and whether rows may
   * be inserted k at a time (1 yes, -1 no, 0 not known) as of the
   * catalogue's schema_version bulk_schema */
  sqlite3_stmt *bulk_ins[LI_BULK_SIZES];
  sqlite3_stmt *bulk_get; /* and the clocks of LI_BULK_ROWS rows, read at once */
  int bulk_ok;
  int64_t bulk_schema;
  char *drift;            /* invariant 8: what changed by hand, NULL when nothing */
  sqlite3_value **dflt;   /* each column's constant DEFAULT, or NULL (LI_TABLE_COLS_MAX + 1 slots) */
} li_table;

/* DDL of linli_tables, linli_dirty and linli_applying, run once at create. */
extern const char li_capture_sql[];

/* Starts tracking an existing user table (invariants 1, 4, 6, 7), in its
 * own transaction or the caller's open one. */
li_err li_capture_track(li_replica *r, const char *table, li_errbuf *eb);

/* A tracked table gained columns at the end (a migration, in the caller's
 * open transaction): its triggers, linli_tables.cols and statements are
 * built again for the columns it has now, keeping its id, so the new
 * columns are captured from this transaction on (invariant 1). A table
 * whose earlier columns changed is refused (LI_ERR_TRACK). */
li_err li_capture_rebuild(li_replica *r, const char *table, li_errbuf *eb);

/* Tracks every user table of the database, `roster` first, then in the
 * order they were created (replica create). */
li_err li_capture_track_all(li_replica *r, li_errbuf *eb);

/* Reads the catalogue of an existing replica and prepares its statements.
 * A table that can no longer be tracked (dropped, altered) is an error. */
li_err li_capture_load(li_replica *r, li_errbuf *eb);

/* Frees the catalogue (replica close). */
void li_capture_free(li_replica *r);

/* A tracked table by name or id; NULL when not tracked. */
li_table *li_capture_table(li_replica *r, const char *name);
li_table *li_capture_table_by_id(li_replica *r, int id);

/* The number of tracked tables, and the i-th (0 <= i < count), id order. */
int li_capture_count(const li_replica *r);
li_table *li_capture_table_at(li_replica *r, int i);

/* The UPDATE of t setting the columns of mask (then the key columns
 * besides scope, then scope, as parameters), from the table's small cache;
 * NULL when it cannot be prepared. */
sqlite3_stmt *li_capture_update_stmt(li_replica *r, li_table *t, uint64_t mask);

/* Marks a row unsealed again (linli recover): a marker of op (1 insert:
 * the row as it is now, every column; 3 delete) for the row (t, scope,
 * key), key being li_rowclock_key's of the key columns besides scope (what
 * the triggers record in linli_dirty.pk), as if a local program had just
 * written it. */
li_err li_capture_mark(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key, int op,
                       li_errbuf *eb);

#endif

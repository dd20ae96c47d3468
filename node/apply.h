/* apply: the row changes of one verified commit, applied to the replica
 * (DESIGN 4 and 13).
 *
 * Owns what a commit does to rows once merge has accepted it (signature,
 * chain, authority, clock and deps are merge's): column LWW by (hlc,
 * origin key), causal length for row existence, the losing values of
 * concurrent writes (linli_conflicts), the refusal of a row change that
 * fails validation (linli_refused), and, while a node takes back its own
 * commits without sealing (merge.h), the local edits it keeps and the rows
 * of pending local edits (linli_dirty, read only). Merge owns the commit,
 * the batch and its transaction; rowclock owns the layout of linli_clock.
 *
 * A row is (table, scope, key columns besides scope) and a commit's rows
 * are all of its scope (capture.h). One row change, as li_apply_commit
 * takes it:
 *
 *   change --s_validate(): refused--> s_refuse(): one linli_refused row
 *   change --stale (lower causal length, or both deleted)--> nothing
 *   change --s_generation(): one INSERT, UPDATE or DELETE--> applied
 *                                                          | refused (constraint): s_refuse()
 *   change --s_columns(): the winning columns in one UPDATE--> applied
 *                        (a constraint fails: column by column, the failing ones refused)
 *
 * Reasons a row change is refused (linli_refused.reason, stable names):
 *   unknown_table   the commit changes a table this replica does not track
 *   unknown_column  the change sets a column the table does not have here
 *   key             its key values are not the table's key columns besides
 *                   scope (count, a NULL, a class the column cannot hold),
 *                   or it sets a key column
 *   type            a value of a class the column cannot hold (li_value_fits)
 *   out_of_scope    it sets scope to another scope than its commit's
 *   constraint      a CHECK, NOT NULL, UNIQUE, FOREIGN KEY or a trigger's
 *                   RAISE refused the write
 *
 * Invariants:
 *  1. A refused change leaves its row and linli_clock as they were: every
 *     row effect is one statement (SQLite undoes a statement that fails a
 *     constraint), and its clock and conflicts are written only after it
 *     succeeded. The commit is applied all the same: its chain advances.
 *     New rows (a new generation of a row that is not there) may share one
 *     INSERT, in the commit's order, where that ends as one at a time
 *     would (apply.c, s_bulk_allowed); when it fails a constraint, SQLite
 *     undoes it whole and its rows are written one at a time.
 *  2. The first five reasons depend on the commit and the schema alone, so
 *     every replica refuses the same changes. A constraint is checked on
 *     what is written: a new generation writes only the change's values
 *     (the same everywhere); an update writes the columns that win, and
 *     when that fails each winning column is tried alone, so a value that
 *     fails a constraint on its own (a one-column CHECK, NOT NULL) is
 *     refused wherever it wins, and the rows converge. A constraint over
 *     several columns or rows (a CHECK of two columns, UNIQUE, a foreign
 *     key) depends on the row's state and can be decided differently
 *     (docs/design-notes.md).
 *  3. A column version changes only when its value was written.
 *
 * Failure: li_apply_commit returns LI_OK when every change was applied or
 * refused; LI_ERR_TAMPERED when linli_clock is malformed or names a row
 * that is missing (the replica was edited with capture off), LI_ERR_TYPE
 * when a take-back cannot write a local edit back (a constraint),
 * LI_ERR_DB, LI_ERR_NOMEM: then the caller undoes the commit. */
#ifndef LI_APPLY_H
#define LI_APPLY_H

#include <stdint.h>
#include "arena.h"
#include "commit.h"
#include "err.h"
#include "replica.h"

typedef struct {
  int64_t rows;  /* row changes applied */
  int conflicts; /* losing values recorded */
  int refused;   /* row changes refused (whole or some of their columns) */
} li_apply_stats;

typedef struct {
  int origin_idx;   /* the commit's origin, local index */
  uint64_t wall_ms; /* refusals and conflicts are stamped with it */
  /* A commit merged with seal_first off (merge.h: this node has not taken
   * back its own commits yet, or its clock is ahead). A row with a
   * pending local edit (a linli_dirty marker of (table, scope, key)) gets
   * the commit in its clock and in the columns not edited here, and keeps
   * its local existence and edited values, which the next seal stamps with
   * a greater HLC. A local edit that can no longer be written back stops
   * the commit (LI_ERR_TYPE for a constraint). */
  bool take_back;
} li_apply_opts;

/* Applies every row change of c, a commit merge has verified, inside the
 * caller's write transaction with capture silenced; decoded values go to
 * arena a. Adds to st. */
li_err li_apply_commit(li_replica *r, li_arena *a, const li_commit *c, const li_apply_opts *o, li_apply_stats *st,
                       li_errbuf *eb);


#endif

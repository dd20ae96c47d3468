/* seal: turns the dirty markers left by the capture triggers into signed
 * commits, one or more per scope (at most LI_COMMIT_ROWS_MAX rows each),
 * chained to this node's previous commit of that scope.
 *
 * For each changed row it reads the row as it is now, so edits between two
 * seals coalesce; the markers' column masks say which columns changed.
 * Causal length: a new row gets 1, a deleted row the next even number, a row
 * deleted and inserted again between two seals (or resurrected) the next odd
 * number. The same transaction updates linli_clock, linli_log, linli_vv,
 * the node's HLC, and empties linli_dirty.
 *
 * The markers are read in one pass per table: a statement cached on the
 * table (li_table.seal) yields each marker with its row's clock and the row
 * as it is now, in the order sealed (scope, table id, key, then as
 * written); the clocks go back 32 rows to a statement (li_rowclock_batch).
 * Tables of a composite key read the clock and the row per row. */
#ifndef LI_SEAL_H
#define LI_SEAL_H

#include <stdint.h>
#include "err.h"
#include "replica.h"

typedef struct {
  int commits;
  int64_t rows;
  /* rows of tables changed by hand (capture.h invariant 8): their markers
   * are kept, nothing of them is sealed; held says what changed (the first
   * such table), "" when none */
  int64_t held_rows;
  char held[LI_ERRBUF_SIZE];
} li_seal_stats;

/* Runs inside the caller's write transaction. r->id must be set. When the
 * database schema changed since the catalogue was read (someone ran ALTER
 * TABLE while this process runs), the catalogue is read again first. */
li_err li_seal_locked(li_replica *r, uint64_t wall_ms, li_seal_stats *st, li_errbuf *eb);
/* Its own transaction; nothing is written on error. */
li_err li_seal(li_replica *r, uint64_t wall_ms, li_seal_stats *st, li_errbuf *eb);

/* The hub's signed schema commit of a migration (migrate.h): the next
 * commit of its street chain, carrying the statements and stamped with the
 * new schema version, in the caller's transaction. *hlc and *seq get its
 * stamp and position. */
li_err li_seal_migration(li_replica *r, uint64_t wall_ms, uint32_t version, char *const *stmts, size_t n,
                         uint64_t *hlc, uint64_t *seq, li_errbuf *eb);

/* The node's HLC as stored in linli_meta, and storing it back. */
li_err li_replica_hlc_load(li_replica *r, uint64_t *hlc, li_errbuf *eb);
li_err li_replica_hlc_store(li_replica *r, uint64_t hlc, li_errbuf *eb);

#endif

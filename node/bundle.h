/* bundle: commit files for stations that are offline for days (USB stick).
 *
 * Format (see proto/linli.proto): magic "LINLIBN1", then frames of a 4-byte
 * big-endian length and a protobuf message: one Bundle header, SignedCommit
 * frames in (hlc, origin) order (a linear extension of causality, so a
 * receiver can apply them in file order), one BundleEnd with the count and a
 * BLAKE2b-256 digest of every frame before it. A truncated or extended file
 * is detected by the trailer; every commit is still verified on its own.
 *
 * What it owns: the file format, the writer and the reader, and who an
 * export is for. The commits come from the chain module (export) and go to
 * merge (import).
 *
 *   export: header --s_write_commit() per stored commit--> trailer --fsync, rename--> path
 *   import: s_open_file() --s_read_header()--> begin --s_read_frames(): batches
 *           to merge, PER_CHAIN--> trailer checked --s_finish(): commit | rollback + count
 *           a commit refused after it wrote rows --s_restart(): rollback, rewind--> begin
 *
 * Invariants (s_check on the import state):
 *  1. Export writes one frame per stored commit the reader may read, in
 *     (hlc, origin, seq) order; the trailer counts them and hashes every
 *     frame before it.
 *  2. A bundle appears at its path only complete (temp file, fsync, rename).
 *  3. Import memory is bounded by one frame and one batch: at most
 *     LI_IMPORT_BATCH_COMMITS commits and under LI_IMPORT_BATCH_BYTES plus
 *     one frame (a batch is merged as soon as it reaches either), and by the
 *     list of stopped chains (LI_MERGE_REJECTS_MAX).
 *  4. Nothing is read past the size fstat gave (off <= size).
 *  5. A fault of the file (not a bundle, truncated, a frame over the cap, a
 *     bad trailer or digest, another network) changes nothing: every batch
 *     is merged inside one transaction of ours, committed only once the
 *     trailer checked out; otherwise it is rolled back (the replica restores
 *     its own caches) and zero applied is reported.
 *  6. In a sound file chains are independent (DESIGN 13): batches are merged
 *     PER_CHAIN with one list of stopped chains for the whole file, so a
 *     refused commit stops only its own (origin, scope) chain, whose
 *     commits before it are applied. A commit refused after it wrote rows
 *     makes the import start over without its chain, at most once a chain
 *     (restarts <= LI_MERGE_REJECTS_MAX).
 *  7. A rejected commit's position is within the commits read. */
#ifndef LI_BUNDLE_H
#define LI_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "merge.h"
#include "replica.h"

typedef struct {
  uint64_t commits;
  uint64_t bytes;
} li_bundle_export_stats;

/* Whom `bundle export --for NAME` writes for (finding 1 of issue 9): an
 * active roster member by name reads what the roster says: the hub every
 * scope, a committee its own and the street's. The hub can be named before
 * this node holds any roster (a fresh committee): "hub", or its key as
 * `linli id` prints it on the hub (the network key, or hub_key from this
 * node's linli.conf; may be NULL). LI_ERR_NOT_FOUND with what to type
 * instead, LI_ERR_DB, LI_ERR_TAMPERED for a malformed roster row. */
typedef struct {
  bool hub;                     /* every scope this node holds */
  char scope[LI_SCOPE_MAX + 1]; /* else: this scope and the street's */
} li_bundle_recipient;
li_err li_bundle_recipient_of(li_replica *r, const char *name, const uint8_t hub_key[LI_PK_BYTES],
                              li_bundle_recipient *out, li_errbuf *eb);

/* Writes every commit of the scopes `for_scope` may read (its own scope and
 * "street"; NULL: every commit) to path, atomically (temp file + rename). */
li_err li_bundle_export(li_replica *r, const char *path, const char *for_name, const char *for_scope,
                        uint64_t wall_ms, li_bundle_export_stats *st, li_errbuf *eb);

/* Called after each batch an import applied: commits read so far, and
 * bytes read of the file's size (for a progress line on a terminal). */
typedef void (*li_bundle_progress_fn)(void *ctx, uint64_t commits, uint64_t bytes_read, uint64_t bytes_total);

typedef struct {
  uint64_t commits;         /* commit frames in the file */
  li_merge_stats merge;     /* summed over the batches; reject and rejected_at (a frame index): the first */
  li_merge_rejects rejects; /* every chain stopped, in file order (li_bundle_import_stats_clear frees it) */
  int restarts;             /* invariant 6 */
} li_bundle_import_stats;

/* Reads a bundle and applies every chain it can, in one transaction
 * (invariants 5 and 6; o->mode and o->rejects are the import's own).
 * Returns LI_OK when every commit was applied or already held. When chains
 * were stopped (st->merge.rejected > 0): the first one's error and message,
 * after committing the rest; st->rejects names each (counted for status,
 * a fork's evidence kept). Otherwise nothing is applied: a fault of the
 * file (LI_ERR_NOT_BUNDLE, LI_ERR_TRUNCATED, LI_ERR_TOO_BIG, LI_ERR_DECODE,
 * LI_ERR_WRONG_NETWORK, LI_ERR_TAMPERED for the digest, LI_ERR_IO; counted)
 * or of the store (LI_ERR_DB, LI_ERR_NOMEM). st is filled either way; clear
 * it with li_bundle_import_stats_clear. */
li_err li_bundle_import(li_replica *r, const char *path, const li_merge_opts *o, li_bundle_import_stats *st,
                        li_errbuf *eb);
/* The same, calling progress(ctx, ...) after each batch it applied. */
li_err li_bundle_import_with(li_replica *r, const char *path, const li_merge_opts *o, li_bundle_progress_fn progress,
                             void *ctx, li_bundle_import_stats *st, li_errbuf *eb);
void li_bundle_import_stats_clear(li_bundle_import_stats *st);

/* Whether the file holds commits of this node's own chain beyond the
 * head it holds (a restored backup importing the hub's bundle): it must
 * import them without sealing first (li_merge_opts.seal_first off), or it
 * would fork its own chain. Reads commit positions only. */
li_err li_bundle_own_ahead(li_replica *r, const char *path, bool *ahead, li_errbuf *eb);

#endif

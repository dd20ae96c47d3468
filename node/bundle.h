/* bundle: commit files for stations that are offline for days (USB stick).
 *
 * Format (see proto/linli.proto): magic "LINLIBN1", then frames of a 4-byte
 * big-endian length and a protobuf message: one Bundle header, SignedCommit
 * frames in (hlc, origin) order (a linear extension of causality, so a
 * receiver can apply them in file order), one BundleEnd with the count and a
 * BLAKE2b-256 digest of every frame before it. A truncated or extended file
 * is detected by the trailer; every commit is still verified on its own.
 *
 * What it owns: the file format, the writer and the reader. The commits
 * come from the chain module (export) and go to merge (import).
 *
 *   export: header --s_write_commit() per stored commit--> trailer --fsync, rename--> path
 *   import: s_open_file() --s_read_header()--> begin --s_read_frames(): batches
 *           to merge--> trailer checked --s_finish(): commit | rollback + count
 *
 * Invariants (s_check on the import state):
 *  1. Export writes one frame per stored commit the reader may read, in
 *     (hlc, origin, seq) order; the trailer counts them and hashes every
 *     frame before it.
 *  2. A bundle appears at its path only complete (temp file, fsync, rename).
 *  3. Import memory is bounded by one frame and one batch: at most
 *     LI_IMPORT_BATCH_COMMITS commits and under LI_IMPORT_BATCH_BYTES plus
 *     one frame (a batch is merged as soon as it reaches either).
 *  4. Nothing is read past the size fstat gave (off <= size).
 *  5. Import is all-or-nothing: every batch is merged in one transaction of
 *     ours; any failure rolls it all back (the replica restores its own
 *     caches) and reports zero applied.
 *  6. A rejected commit's position is within the commits read. */
#ifndef LI_BUNDLE_H
#define LI_BUNDLE_H

#include <stdint.h>
#include "err.h"
#include "merge.h"
#include "replica.h"

typedef struct {
  uint64_t commits;
  uint64_t bytes;
} li_bundle_export_stats;

/* Writes every commit of the scopes `for_scope` may read (its own scope and
 * "street"; NULL: every commit) to path, atomically (temp file + rename). */
li_err li_bundle_export(li_replica *r, const char *path, const char *for_name, const char *for_scope,
                        uint64_t wall_ms, li_bundle_export_stats *st, li_errbuf *eb);

/* Reads and applies a bundle all-or-nothing. Errors: LI_ERR_NOT_BUNDLE,
 * LI_ERR_TRUNCATED, LI_ERR_TOO_BIG, LI_ERR_DECODE, LI_ERR_WRONG_NETWORK, and
 * every merge rejection (st->merge.reject). */
typedef struct {
  uint64_t commits;        /* commit frames in the file */
  li_merge_stats merge;    /* summed over the batches */
} li_bundle_import_stats;
li_err li_bundle_import(li_replica *r, const char *path, const li_merge_opts *o, li_bundle_import_stats *st,
                        li_errbuf *eb);

#endif

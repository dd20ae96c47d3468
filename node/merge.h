/* merge: verify and apply commits from other replicas (DESIGN 3, 4, 5, 11, 12).
 *
 * Order of checks for each commit, all before any row is touched:
 * size, signature over the exact bytes, network (li_commit_open); banned
 * origin; chain (duplicate -> LI_ERR_REPLAY, same seq other hash or wrong
 * prev -> LI_ERR_FORK, seq beyond head+1 -> LI_ERR_GAP); authority (roster);
 * skew guard; dependencies present. Nothing else refuses a commit
 * (DESIGN 13): a row change that fails validation (unknown table or column,
 * wrong type, another scope, a constraint) is refused alone, recorded in
 * linli_refused and counted in refused, and the commit is applied.
 *
 * Applying (apply.h): column LWW by (hlc, origin key), causal length for
 * row existence, losing values of concurrent writes recorded in
 * linli_conflicts. Idempotent: an applied commit is recognised by its chain
 * position.
 *
 * A batch is one SQLite transaction. It first seals pending local writes
 * (invariant 1 of replica.h), then applies commits in order; with
 * LI_MERGE_ALL_OR_NOTHING any rejection rolls everything back, otherwise the
 * commits before the first rejection are kept and the rest left for later. */
#ifndef LI_MERGE_H
#define LI_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "commit.h"
#include "err.h"
#include "keys.h"
#include "replica.h"

typedef enum { LI_MERGE_ALL_OR_NOTHING = 1, LI_MERGE_KEEP_PREFIX = 2 } li_merge_mode;

typedef struct {
  uint64_t wall_ms;
  uint64_t max_skew_ms;
  li_merge_mode mode;
} li_merge_opts;

typedef struct {
  int applied;       /* commits applied */
  int duplicates;    /* already present, skipped */
  int64_t rows;      /* row changes applied */
  int conflicts;     /* losing values recorded */
  int refused;       /* row changes refused (linli_refused), their commits applied */
  int sealed;        /* local commits sealed first */
  int rejected_at;   /* index of the rejected commit, -1 if none */
  li_err reject;     /* why, LI_OK if none */
} li_merge_stats;


/* Applies n SignedCommit blobs in one transaction (see above). Called inside
 * a transaction the caller opened, it neither commits nor rolls back, and
 * leaves counting and fork evidence to the caller (who can re-run the
 * rejected commit alone, outside a transaction, to record them). Returns LI_OK
 * when nothing was rejected; otherwise the rejection's error (with
 * st->rejected_at), after rollback (all-or-nothing) or after committing the
 * prefix. A fork is recorded as evidence and its origin banned in a
 * transaction of its own, whatever the mode. Database errors always roll back. */
li_err li_merge_batch(li_replica *r, const li_blob *commits, size_t n, const li_merge_opts *o, li_merge_stats *st,
                      li_errbuf *eb);

#endif

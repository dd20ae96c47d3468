/* merge: verify and apply commits from other replicas (DESIGN 3, 4, 5, 11,
 * 12, 13).
 *
 * Order of checks for each commit: size, signature over the exact bytes,
 * network (li_commit_open); banned origin; chain (duplicate ->
 * LI_ERR_REPLAY, same seq other hash or wrong prev -> LI_ERR_FORK, seq
 * beyond head+1 -> LI_ERR_GAP); authority (roster); skew guard;
 * dependencies present; held (below). These commit-level checks only read:
 * a commit that fails one has written nothing. Nothing else refuses a
 * commit (DESIGN 13): a row change that fails validation (unknown table or
 * column, wrong type, another scope, a constraint) is refused alone,
 * recorded in linli_refused and counted in refused, and the commit is
 * applied. What can still stop a commit after it wrote rows is a replica
 * found inconsistent (LI_ERR_TAMPERED: linli_clock malformed, or a row it
 * names missing) or a take-back that cannot restore a local edit.
 *
 * Applying (apply.h): column LWW by (hlc, origin key), causal length for
 * row existence, losing values of concurrent writes recorded in
 * linli_conflicts. Idempotent: an applied commit is recognised by its chain
 * position.
 *
 * A batch is one SQLite transaction. With seal_first it first seals pending
 * local writes (invariant 1 of replica.h), then applies commits in order:
 *  - LI_MERGE_ALL_OR_NOTHING: any rejection rolls everything back.
 *  - LI_MERGE_PER_CHAIN (DESIGN 13: a stuck chain blocks only itself): a
 *    rejected commit stops its own (origin, scope) chain for the rest of the
 *    batch; its later commits there are skipped unread, and every other
 *    chain goes on, in the same transaction. Nothing is redone for a
 *    commit-level rejection. A commit stopped after it wrote rows (see
 *    above; rare) is the one case that needs an undo: the batch is
 *    rolled back and merged again without that chain (merge does this in
 *    its own transaction; in a caller's it asks the caller to, st->redo).
 *
 * Forks: both commits are kept as evidence in linli_evidence and the origin
 * is banned (linli_banned), except this replica's own key and the network
 * key, which are never banned (DESIGN 13): the fork is logged and counted
 * (st->forks_kept) and the chain stays stopped at it.
 *
 * seal_first off (a node that has not yet taken back its own chains after a
 * restore, DESIGN 13: it must not seal, or it would reuse sequence numbers):
 * nothing is sealed; every commit is applied, but a row with a pending
 * local edit (a linli_dirty marker) keeps its local values and existence
 * for the edited columns, to be sealed afterwards with a greater HLC
 * (apply.h, take_back): the edit wins as if it had been made just after
 * the commit arrived. Holding such a commit of another origin instead (as
 * an earlier version did) deadlocks when our own commit being taken back
 * depends on it (linli-sim found it). A row is (table, scope, key) here as
 * everywhere. */
#ifndef LI_MERGE_H
#define LI_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "commit.h"
#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "replica.h"

typedef enum { LI_MERGE_ALL_OR_NOTHING = 1, LI_MERGE_PER_CHAIN = 2 } li_merge_mode;

/* A chain a PER_CHAIN batch stopped: its commits from #seq on were not
 * applied. A commit that names no readable chain stops only itself and is
 * listed with a zero origin, an empty scope and seq 0. */
typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;       /* the first commit not applied; for a gap, head + 1: what the sender should send next */
  li_err code;        /* why (never LI_OK) */
  char message[LI_ERRBUF_SIZE];
  uint32_t skipped;   /* later commits of the chain left out, unread */
  bool after_writes;  /* refused after it had written rows: a rollback must keep the chain out (see below) */
  bool undone;        /* merge's own: the rejection was rolled back, to be noted again when its commit comes by */
} li_merge_reject;

/* The chains stopped so far; the caller owns it (zero-initialised, freed by
 * li_merge_rejects_clear). A list kept across batches (bundle import) keeps
 * a chain stopped for the whole import. At most LI_MERGE_REJECTS_MAX are
 * named; rejections past that are counted in overflow. */
typedef struct {
  li_merge_reject *v;
  size_t n, cap;
  uint32_t overflow;
} li_merge_rejects;

void li_merge_rejects_clear(li_merge_rejects *l);
/* The transaction that applied the batches of l was rolled back: the
 * rejections it found are forgotten (they will be found again), except
 * those with after_writes, which must stay out of the next try. */
void li_merge_rejects_rolled_back(li_merge_rejects *l);
/* The entry of chain (origin, scope), or NULL. */
const li_merge_reject *li_merge_rejects_find(const li_merge_rejects *l, const uint8_t origin[LI_PK_BYTES],
                                             const char *scope);

typedef struct {
  uint64_t wall_ms;
  uint64_t max_skew_ms;
  li_merge_mode mode;
  /* Seal pending local writes first (the sync store and bundle import do).
   * Off only until this node has taken back its own chains (see above). */
  bool seal_first;
  /* PER_CHAIN: where stopped chains are listed and looked up (may already
   * hold chains stopped by earlier batches); NULL: a list of merge's own,
   * freed on return. Not used by ALL_OR_NOTHING. */
  li_merge_rejects *rejects;
} li_merge_opts;

typedef struct {
  int applied;       /* commits applied */
  int duplicates;    /* already present, skipped */
  int verified;      /* signatures checked (a copy of a held commit is recognised without one) */
  int64_t rows;      /* row changes applied */
  int conflicts;     /* losing values recorded */
  int refused;       /* row changes refused (linli_refused), their commits applied */
  int sealed;        /* local commits sealed first */
  int rejected_at;   /* index of the (first) rejected commit, -1 if none */
  li_err reject;     /* why, LI_OK if none */
  int rejected;      /* PER_CHAIN: chains stopped by this batch */
  int skipped;       /* PER_CHAIN: commits left out behind a stopped chain */
  int forks_kept;    /* forks of this replica's own key or the network key: evidence kept, not banned */
  int redos;         /* PER_CHAIN, our transaction: times the batch was rolled back and merged again */
  bool redo;         /* PER_CHAIN in a caller's transaction: roll back, li_merge_rejects_rolled_back, merge again */
} li_merge_stats;

/* Applies n SignedCommit blobs (see above) in one transaction, ours, or the
 * caller's when one is open (then merge neither commits nor rolls back).
 *
 * ALL_OR_NOTHING returns LI_OK when nothing was rejected; otherwise the
 * rejection's error with st->rejected_at, after rolling back (ours) or for
 * the caller to roll back. In our transaction the rejection is counted and
 * a fork recorded in a transaction of their own; in a caller's, both are
 * left to the caller (who can merge the rejected commit alone, outside a
 * transaction, to record them).
 *
 * PER_CHAIN returns LI_OK when the batch was applied, whatever it rejected
 * (st->reject and st->rejected_at name the first, o->rejects every stopped
 * chain; each is counted and a fork's evidence written in the batch's own
 * transaction). In a caller's transaction a commit refused after it wrote
 * rows ends the batch at once: its chain is listed (after_writes), st->redo
 * is set and its error returned; the caller must roll back, call
 * li_merge_rejects_rolled_back and merge everything again.
 *
 * Any other error (LI_ERR_DB, LI_ERR_NOMEM, ..., with st->reject LI_OK)
 * means nothing was applied: our transaction is rolled back, and a list
 * passed in is as it was. */
li_err li_merge_batch(li_replica *r, const li_blob *commits, size_t n, const li_merge_opts *o, li_merge_stats *st,
                      li_errbuf *eb);

#endif

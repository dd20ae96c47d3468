/* chain: the per-(origin, scope) hash chains of signed commits (DESIGN 3, 7).
 *
 * Owns linli_log (every verified commit, as its SignedCommit bytes) and
 * linli_vv (the applied head of each chain); their DDL is li_chain_sql.
 * This is the only module that reads or advances them: seal and merge
 * append, the sync store reads heads and fetches commits, bundle export and
 * the CLI iterate the log, roster reads a head to revoke after it.
 *
 * One chain, as append advances it (it never goes back: a rollback of the
 * caller's transaction undoes an append with everything else in it):
 *
 *   (none: seq 0, zero head) --append(#1)--> #1 --append(#2, prev = hash #1)--> #2 ...
 *
 * Invariants:
 *  1. For every (origin, scope) in linli_vv with head (seq, hash), linli_log
 *     holds exactly #1..#seq of that chain and #seq has that hash
 *     (invariant 2 of replica.h; li_chain_each_bad_head lists violations).
 *  2. A commit is appended only at head + 1 and, beyond #1, only when its
 *     prev hash is the head's hash. Callers check this first (merge answers
 *     LI_ERR_GAP or LI_ERR_FORK, seal reads the head it chains to), so
 *     append asserts it.
 *  3. The log row and the head advance together, in the caller's write
 *     transaction: append asserts one is open.
 *  4. A stored row is never rewritten or removed.
 *  5. Stored rows are input like any other: a malformed head, hash or key is
 *     LI_ERR_TAMPERED with a sentence, never an abort (except where a
 *     function below hands the raw row to its caller to judge).
 *
 * Failure: LI_ERR_DB on a database error, LI_ERR_NOMEM, LI_ERR_TAMPERED as
 * above; an error returned by a caller's callback stops the iteration and
 * is returned as it is. */
#ifndef LI_CHAIN_H
#define LI_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "keys.h"
#include "replica.h"
#include "heads.h" /* li_head, li_heads, li_range, li_blobs */
#include "scope.h"

/* The DDL of linli_log, its indexes and linli_vv, run once at create. */
extern const char li_chain_sql[];

/* The cached statements, prepared at open/create and finalized at close. */
li_err li_chain_prepare(li_replica *r, li_errbuf *eb);
void li_chain_finalize(li_replica *r);

/* ---- one chain ---- */

/* The applied head of (origin, scope): seq 0 and a zero hash when there is
 * none. head may be NULL. */
li_err li_chain_head(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq,
                     uint8_t head[LI_HASH_BYTES], li_errbuf *eb);

/* The hash stored at a position; *found false when there is none. */
li_err li_chain_hash_at(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb);

/* The seq of the origin's commit stamped hlc in scope; *found false when
 * none (merge: was a local write known to an incoming commit?). */
li_err li_chain_seq_at_hlc(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t hlc,
                           uint64_t *seq, bool *found, li_errbuf *eb);

/* Stores a verified commit at #seq and makes it the head (invariants 2, 3):
 * prev is the commit's prev hash, NULL for #1. sc is copied. */
li_err li_chain_append(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                       uint64_t hlc, const uint8_t hash[LI_HASH_BYTES], const uint8_t prev[LI_HASH_BYTES],
                       const uint8_t *sc, size_t sc_len, uint64_t now_ms, li_errbuf *eb);

/* The one exception to invariant 4 (linli recover, node/recover.c): the
 * commits of (origin, scope) after keep seq leave the log and the head
 * goes back to keep (none: the chain is gone). Only for a key this node
 * used to sign with, whose later commits the street never took and never
 * will (its key was revoked after keep). In the caller's transaction. */
li_err li_chain_abandon(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t keep,
                        li_errbuf *eb);

/* ---- many chains ---- */

/* Heads of every chain in scopes (NULL: all), by scope then origin, into
 * out (emptied first, grown as needed; the caller frees it). */
li_err li_chain_heads(li_replica *r, const li_scopes *scopes, li_heads *out, li_errbuf *eb);

/* The next commits of the ranges in (hlc, origin, seq) order, at most
 * max_count commits and max_bytes bytes but at least one if any, appended
 * to out (emptied first; each out->v[i].sc is malloc'd). A k-way merge over
 * one index scan per range, so a batch costs O(ranges + batch) and never
 * scans the whole log. */
li_err li_chain_fetch(li_replica *r, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                      li_blobs *out, li_errbuf *eb);

/* A commit's deps (DESIGN 3): the head seq of every other origin's chain
 * of scope, by origin key, at most max of them (the rest are left out). */
typedef struct {
  uint8_t origin[LI_PK_BYTES];
  uint64_t seq;
} li_chain_dep;
li_err li_chain_deps(li_replica *r, const char *scope, const uint8_t except[LI_PK_BYTES], li_chain_dep *out,
                     size_t max, size_t *n, li_errbuf *eb);

/* ---- reading the log as it is stored (status, log, verify, export) ---- */

/* A linli_vv row exactly as stored, not validated: the caller judges it
 * (status shows a malformed head instead of stopping), with the hlc of the
 * chain's newest stored commit (0 when none is stored). Pointers are valid
 * during the callback only; scope may be NULL. */
typedef struct {
  const uint8_t *origin;
  size_t origin_len;
  const char *scope;
  int64_t seq;
  const uint8_t *head;
  size_t head_len;
  uint64_t newest_hlc;
} li_chain_info;
typedef li_err (*li_chain_info_fn)(void *ctx, const li_chain_info *ci, li_errbuf *eb);

/* Every chain, by scope then origin. */
li_err li_chain_each_head(li_replica *r, li_chain_info_fn fn, void *ctx, li_errbuf *eb);

/* A linli_log row exactly as stored, not validated: the caller judges it
 * (verify reports a malformed row instead of stopping). Pointers are valid
 * during the callback only; scope may be NULL. */
typedef struct {
  const uint8_t *origin;
  size_t origin_len;
  const char *scope;
  int64_t seq, hlc;
  const uint8_t *hash;
  size_t hash_len;
  const uint8_t *sc;
  size_t sc_len;
  int64_t applied_ms;
} li_chain_row;
typedef li_err (*li_chain_row_fn)(void *ctx, const li_chain_row *row, li_errbuf *eb);

typedef enum {
  LI_CHAIN_BY_HLC = 1, /* (hlc, origin, seq): a linear extension of causality (log, bundles) */
  LI_CHAIN_BY_CHAIN,   /* (origin, scope, seq): chain by chain (verify) */
} li_chain_order;

/* Every stored commit of scopes (NULL: all) in that order. */
li_err li_chain_each_commit(li_replica *r, li_chain_order order, const li_scopes *scopes, li_chain_row_fn fn,
                            void *ctx, li_errbuf *eb);

/* The same rows one at a time, for a caller that hands them out one by one
 * (inspect's log, verify): the log only grows, so nothing holds all of it.
 *
 *   li_chain_cursor_open ──li_chain_cursor_next… (*done at the end)──▶ li_chain_cursor_close
 *
 * An open cursor holds a read statement on the replica's connection: close
 * it before the replica. */
typedef struct li_chain_cursor li_chain_cursor;

/* *out: a new cursor over the stored commits of scopes (NULL: all, copied)
 * in that order; NULL on failure. */
li_err li_chain_cursor_open(li_replica *r, li_chain_order order, const li_scopes *scopes, li_chain_cursor **out,
                            li_errbuf *eb);
/* The next row (as stored, as above; its pointers are valid until the next
 * call or close), or *done at the end (and on every call after it). */
li_err li_chain_cursor_next(li_chain_cursor *c, li_chain_row *row, bool *done, li_errbuf *eb);
/* Frees the cursor and nulls *c; safe on NULL and twice. */
void li_chain_cursor_close(li_chain_cursor **c);

/* The stored commit at a position, if any (*found), given to fn. */
li_err li_chain_commit_at(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                          li_chain_row_fn fn, void *ctx, bool *found, li_errbuf *eb);

/* Commits of origin (any scope) stored after after_ms (their applied_ms). */
li_err li_chain_count_since(li_replica *r, const uint8_t origin[LI_PK_BYTES], int64_t after_ms, int64_t *n,
                            li_errbuf *eb);

/* The newest hlc among origin's stored commits (any scope); *found false
 * when it has none. */
li_err li_chain_newest_hlc(li_replica *r, const uint8_t origin[LI_PK_BYTES], uint64_t *hlc, bool *found,
                           li_errbuf *eb);

/* The newest hlc among all stored commits but those of chain (origin,
 * scope) after seq after (after < 0: all of that chain); 0 when none
 * (linli recover: the newest hlc the street accepted). The value is read
 * as stored, not validated: the caller takes the larger of it and its
 * wall clock. */
li_err li_chain_newest_hlc_but(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, int64_t after,
                               uint64_t *hlc, li_errbuf *eb);

/* Heads that break invariant 1 (the head's row is missing or has another
 * hash, or a later row exists), given to fn as (scope, seq); the row is
 * raw, only scope and seq are set. */
li_err li_chain_each_bad_head(li_replica *r, li_chain_row_fn fn, void *ctx, li_errbuf *eb);

#endif

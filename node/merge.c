/* merge: verify and apply remote commits. merge.h says the order of the
 * checks, how commits are applied and what each mode keeps.
 *
 * What it owns: the batch (its transaction or savepoints, its clock, its
 * statistics) and the rows it writes about commits: linli_evidence,
 * linli_banned. What a commit does to rows (and linli_conflicts,
 * linli_refused) is apply.c's, chains are chain.c's, the origin cache and
 * transactions replica.c's, the catalogue capture.c's.
 *
 *   li_merge_batch --s_batch_open()--> OPEN --s_apply_one() per commit--> OPEN --s_batch_close()--> done
 *   OPEN --rejection, ALL_OR_NOTHING--> rolled back (ours) or left to the caller (theirs)
 *   OPEN --rejection, KEEP_PREFIX, our transaction--> rolled back --s_pass() over the prefix--> OPEN
 *   OPEN --rejection, KEEP_PREFIX, the caller's--> li_replica_rollback_to() --s_batch_close()--> done
 *   done|rolled back --s_report()--> rejection counted, fork evidence in a transaction of its own
 *
 * Invariants (s_check, and s_check_applying where the database is read):
 *  1. rejected_at < 0 exactly when reject is LI_OK; no count is negative.
 *  2. While commits are applied a write transaction is open and
 *     linli_applying holds a row, so capture records none of it.
 *  3. While commits are applied linli_dirty is empty when this node can
 *     seal: local writes are sealed first, in the same transaction
 *     (invariant 1 of replica.h).
 *  4. A savepoint per commit only inside a caller's transaction (ours is
 *     rolled back and the prefix applied again instead; li_merge_batch
 *     says why).
 *  5. After a commit is applied the batch's clock is at least its hlc, so
 *     the HLC stored at close never goes back.
 *  6. Fork evidence is pending only for an LI_ERR_FORK rejection.
 *  7. No row is touched before every check of its commit passed
 *     (s_merge_one), and a rejected commit leaves nothing behind.
 *  8. Merge never repairs the origin cache: rollbacks restore it. */
#include "merge.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "arena.h"
#include "chain.h"
#include "commit.h"
#include "hlc.h"
#include "log.h"
#include "roster.h"
#include "seal.h"

typedef struct {
  li_replica *r;
  const li_merge_opts *o;
  li_merge_stats *st;
  li_arena a;
  li_hlc clock;
  const li_commit *c;
  int origin_idx;
  /* fork evidence, filled when a chain check finds one */
  bool fork;
  uint64_t fork_seq;
  /* the batch */
  bool own;      /* we opened the transaction (else it is the caller's) */
  bool sp;       /* a savepoint around each commit */
  li_commit cur; /* the commit being applied; c points here once opened */
} s_merger;

static bool s_banned(li_replica *r, const uint8_t *origin) {
  sqlite3_stmt *st = NULL;
  bool b = false;
  if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM linli_banned WHERE origin=?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
    b = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return b;
}

static li_err s_check_chain(s_merger *m, li_errbuf *eb) {
  const li_commit *c = m->c;
  char name[128];
  li_commit_name(c->origin, c->scope, c->seq, name, sizeof name);
  if (s_banned(m->r, c->origin))
    return li_fail(eb, LI_ERR_BANNED, "%s: its origin equivocated earlier and is no longer accepted", name);
  uint64_t seq_l;
  uint8_t head[LI_HASH_BYTES];
  li_err e = li_chain_head(m->r, c->origin, c->scope, &seq_l, head, eb);
  if (e) return e;
  if (c->seq <= seq_l) {
    uint8_t have[LI_HASH_BYTES];
    bool found;
    if ((e = li_chain_hash_at(m->r, c->origin, c->scope, c->seq, have, &found, eb))) return e;
    if (found && memcmp(have, c->hash, LI_HASH_BYTES) == 0)
      return li_fail(eb, LI_ERR_REPLAY, "%s is already applied", name);
    m->fork = true;
    m->fork_seq = c->seq;
    return li_fail(eb, LI_ERR_FORK, "%s differs from the commit already applied at that position: the origin signed two "
                   "commits with one sequence number (equivocation)", name);
  }
  if (c->seq > seq_l + 1)
    return li_fail(eb, LI_ERR_GAP, "%s arrived but this replica has only up to #%llu of that chain", name,
                   (unsigned long long)seq_l);
  if (c->seq > 1 && memcmp(c->c->prev.data, head, LI_HASH_BYTES) != 0) {
    m->fork = true;
    m->fork_seq = seq_l;
    return li_fail(eb, LI_ERR_FORK, "%s does not chain to the #%llu this replica holds (equivocation)", name,
                   (unsigned long long)seq_l);
  }
  return LI_OK;
}

static li_err s_check_deps(s_merger *m, li_errbuf *eb) {
  const Linli__Commit *c = m->c->c;
  for (size_t i = 0; i < c->n_deps; i++) {
    uint64_t have;
    li_err e = li_chain_head(m->r, c->deps[i]->origin.data, c->scope, &have, NULL, eb);
    if (e) return e;
    if (have < c->deps[i]->seq) {
      char name[128], dep[128];
      li_commit_name(m->c->origin, c->scope, c->seq, name, sizeof name);
      li_commit_name(c->deps[i]->origin.data, c->scope, c->deps[i]->seq, dep, sizeof dep);
      return li_fail(eb, LI_ERR_MISSING_DEPS, "%s depends on %s, which this replica lacks (has #%llu)", name, dep,
                     (unsigned long long)have);
    }
  }
  return LI_OK;
}

static li_err s_merge_one(s_merger *m, li_errbuf *eb) {
  const li_commit *c = m->c;
  li_err e;
  if ((e = s_check_chain(m, eb))) return e;
  if ((e = li_roster_may_write(m->r, c->origin, c->scope, c->seq, eb))) return e;
  if (li_hlc_too_far_ahead(c->hlc, m->o->wall_ms, m->o->max_skew_ms)) {
    char name[128], when[48];
    li_commit_name(c->origin, c->scope, c->seq, name, sizeof name);
    li_hlc_format(c->hlc, when, sizeof when);
    return li_fail(eb, LI_ERR_CLOCK_AHEAD,
                   "%s is stamped %s, more than %llu s ahead of this computer's clock; held until the clocks agree "
                   "(check the date on both machines)",
                   name, when, (unsigned long long)(m->o->max_skew_ms / 1000));
  }
  if ((e = s_check_deps(m, eb))) return e;
  if ((e = li_replica_origin_idx(m->r, c->origin, &m->origin_idx, eb))) return e;
  li_apply_stats as = {0};
  if ((e = li_apply_commit(m->r, &m->a, c, m->origin_idx, m->o->wall_ms, &as, eb))) return e;
  if ((e = li_chain_append(m->r, c->origin, c->scope, c->seq, c->hlc, c->hash, c->seq > 1 ? c->c->prev.data : NULL,
                           c->sc, c->sc_len, m->o->wall_ms, eb)))
    return e;
  m->st->rows += as.rows;
  m->st->conflicts += as.conflicts;
  m->st->refused += as.refused;
  li_hlc_recv(&m->clock, c->hlc);
  assert(m->clock.last >= c->hlc); /* invariant 5 */
  return LI_OK;
}

typedef struct {
  sqlite3_stmt *st; /* the prepared insert into linli_evidence */
  uint64_t now;
  bool ok;
} s_evidence;

/* One side of an equivocation into linli_evidence. A malformed stored row
 * is kept as it is: it is evidence too. */
static li_err s_evidence_put(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  s_evidence *ev = ctx;
  sqlite3_bind_blob(ev->st, 1, row->origin, (int)row->origin_len, SQLITE_STATIC);
  sqlite3_bind_text(ev->st, 2, row->scope, -1, SQLITE_STATIC);
  sqlite3_bind_int64(ev->st, 3, row->seq);
  sqlite3_bind_blob(ev->st, 4, row->hash, (int)row->hash_len, SQLITE_STATIC);
  sqlite3_bind_blob(ev->st, 5, row->sc, (int)row->sc_len, SQLITE_STATIC);
  sqlite3_bind_int64(ev->st, 6, (int64_t)ev->now);
  ev->ok = sqlite3_step(ev->st) == SQLITE_DONE;
  sqlite3_reset(ev->st);
  sqlite3_clear_bindings(ev->st);
  return LI_OK;
}

static bool s_ban(li_replica *r, const li_commit *c, uint64_t seq) {
  sqlite3_stmt *st = NULL;
  bool ok = false;
  if (sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO linli_banned(origin, reason) VALUES(?, ?)", -1, &st, NULL) ==
      SQLITE_OK) {
    char why[96];
    snprintf(why, sizeof why, "equivocation in scope %s at seq %llu", c->scope, (unsigned long long)seq);
    sqlite3_bind_blob(st, 1, c->origin, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, why, -1, SQLITE_TRANSIENT);
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  return ok;
}

/* Evidence of an equivocation, in a transaction of its own: our commit at
 * seq (if stored), theirs, and the ban of the origin. */
static void s_record_fork(li_replica *r, const li_blob *theirs, const li_commit *c, uint64_t seq, uint64_t now) {
  li_errbuf eb;
  if (li_replica_begin(r, &eb) != LI_OK) return;
  s_evidence ev = {.now = now, .ok = true};
  bool found;
  if (sqlite3_prepare_v2(r->db,
                         "INSERT OR IGNORE INTO linli_evidence(origin, scope, seq, hash, sc, seen_ms) VALUES(?,?,?,?,?,?)",
                         -1, &ev.st, NULL) != SQLITE_OK ||
      li_chain_commit_at(r, c->origin, c->scope, seq, s_evidence_put, &ev, &found, &eb) != LI_OK)
    ev.ok = false;
  if (ev.ok) {
    li_chain_row row = {.origin = c->origin, .origin_len = LI_PK_BYTES, .scope = c->scope, .seq = (int64_t)c->seq,
                        .hash = c->hash, .hash_len = LI_HASH_BYTES, .sc = theirs->sc, .sc_len = theirs->len};
    s_evidence_put(&ev, &row, &eb);
  }
  sqlite3_finalize(ev.st);
  if (ev.ok) ev.ok = s_ban(r, c, seq);
  if (ev.ok) li_replica_commit(r, &eb);
  else li_replica_rollback(r);
  char t[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->origin, t);
  log_warnx("EQUIVOCATION: origin %s signed two different commits at %s#%llu; evidence kept, origin no longer accepted",
            t, c->scope, (unsigned long long)seq);
}

/* ---- a batch ---- */

/* The transaction is open (ours or the caller's), capture is silenced and
 * pending local writes are sealed: invariants 2 and 3. Reads the database,
 * so it runs once a batch, not once a commit. */
static bool s_check_applying(const s_merger *m) {
  sqlite3_stmt *st = NULL;
  int64_t applying = -1;
  if (sqlite3_prepare_v2(m->r->db, "SELECT count(*) FROM linli_applying", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    applying = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return !sqlite3_get_autocommit(m->r->db) && applying >= 1 && (!m->r->id || li_replica_dirty_count(m->r) == 0);
}

/* Invariants 1, 4 and 6 on what is in memory. */
static bool s_check(const s_merger *m) {
  const li_merge_stats *st = m->st;
  if ((st->rejected_at < 0) != (st->reject == LI_OK)) return false;
  if (st->applied < 0 || st->duplicates < 0 || st->rows < 0 || st->conflicts < 0 || st->sealed < 0 || st->refused < 0)
    return false;
  if (m->sp && m->own) return false; /* a savepoint only in a caller's transaction */
  return !m->fork || st->reject == LI_ERR_FORK;
}

/* OPEN: our transaction (when we own one), local writes sealed, clock
 * loaded, capture silenced. */
static li_err s_batch_open(s_merger *m, li_errbuf *eb) {
  li_replica *r = m->r;
  li_err e = m->own ? li_replica_begin(r, eb) : LI_OK;
  if (e) return e;
  if (r->id) {
    li_seal_stats ss;
    if ((e = li_seal_locked(r, m->o->wall_ms, &ss, eb))) return e;
    m->st->sealed = ss.commits;
  }
  uint64_t last = 0;
  if ((e = li_replica_hlc_load(r, &last, eb))) return e;
  li_hlc_init(&m->clock, last);
  if ((e = li_exec(r, "INSERT INTO linli_applying VALUES(1)", eb))) return e;
  assert(s_check_applying(m));
  return LI_OK;
}

/* One commit: LI_OK when applied or already there (counted), the
 * rejection, or LI_ERR_DB / LI_ERR_NOMEM. With a savepoint, a rejected or
 * failed commit is undone alone (origins included, by the replica). */
static li_err s_apply_one(s_merger *m, const li_blob *b, li_errbuf *eb) {
  li_arena_reset(&m->a);
  m->fork = false;
  m->c = NULL;
  li_err e;
  if (m->sp && (e = li_replica_savepoint(m->r, eb))) return e;
  e = li_commit_open(m->r->network, b->sc, b->len, &m->a, &m->cur, eb);
  if (e == LI_OK) {
    m->c = &m->cur;
    e = s_merge_one(m, eb);
  }
  if (e == LI_OK || e == LI_ERR_REPLAY) {
    if (e == LI_OK) m->st->applied++;
    else m->st->duplicates++;
    return m->sp ? li_replica_release(m->r, eb) : LI_OK;
  }
  if (m->sp) li_replica_rollback_to(m->r);
  return e;
}

/* CLOSE: capture back on, the clock stored, our transaction committed. */
static li_err s_batch_close(s_merger *m, li_errbuf *eb) {
  assert(s_check_applying(m));
  li_err e;
  if ((e = li_exec(m->r, "DELETE FROM linli_applying", eb))) return e;
  if ((e = li_replica_hlc_store(m->r, m->clock.last, eb))) return e;
  return m->own ? li_replica_commit(m->r, eb) : LI_OK;
}

/* One pass over commits[0..limit): open, apply in order, close. A
 * rejection stops it (st->rejected_at, st->reject); with savepoints the
 * rejected commit is undone alone and the pass closes with the prefix,
 * otherwise the rejection is returned with the transaction still open. */
static li_err s_pass(s_merger *m, const li_blob *commits, size_t limit, li_errbuf *eb) {
  li_err e = s_batch_open(m, eb);
  if (e) return e;
  for (size_t i = 0; i < limit; i++) {
    e = s_apply_one(m, &commits[i], eb);
    if (e == LI_ERR_DB || e == LI_ERR_NOMEM) return e;
    if (e != LI_OK) {
      m->st->rejected_at = (int)i;
      m->st->reject = e;
    }
    assert(s_check(m));
    if (e == LI_OK) continue;
    if (!m->sp) return e;
    break;
  }
  return s_batch_close(m, eb);
}

/* The first pass's rejection, kept across the second pass. */
typedef struct {
  li_err e;
  int at;
  bool fork;
  uint64_t fork_seq;
  char msg[LI_ERRBUF_SIZE];
} s_redo;

/* After the second pass committed the prefix: report the first pass's
 * rejection, and open the rejected commit again for its fork evidence. */
static void s_redo_report(s_merger *m, const s_redo *redo, const li_blob *commits, li_errbuf *eb) {
  m->st->reject = redo->e;
  m->st->rejected_at = redo->at;
  m->fork = redo->fork;
  m->fork_seq = redo->fork_seq;
  if (eb) memcpy(eb->msg, redo->msg, sizeof eb->msg);
  li_arena_reset(&m->a);
  li_errbuf tmp;
  if (m->fork && li_commit_open(m->r->network, commits[redo->at].sc, commits[redo->at].len, &m->a, &m->cur, &tmp) != LI_OK)
    m->fork = false;
}

/* Counting and fork evidence for a rejection, outside the batch's
 * transaction (only when we owned it: otherwise the caller does this). */
static void s_report(s_merger *m, const li_blob *commits) {
  li_replica_count_reject(m->r, m->st->reject);
  if (m->fork) s_record_fork(m->r, &commits[m->st->rejected_at], &m->cur, m->fork_seq, m->o->wall_ms);
}

li_err li_merge_batch(li_replica *r, const li_blob *commits, size_t n, const li_merge_opts *o, li_merge_stats *st,
                      li_errbuf *eb) {
  li_merge_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  st->rejected_at = -1;
  s_merger m;
  memset(&m, 0, sizeof m);
  m.r = r;
  m.o = o;
  m.st = st;
  li_arena_init(&m.a);
  /* inside a caller's transaction (bundle import), the caller commits or rolls back */
  m.own = sqlite3_get_autocommit(r->db) != 0;
  /* A savepoint per commit lets KEEP_PREFIX undo a rejected commit alone.
   * All-or-nothing discards the whole batch on a rejection anyway (we roll
   * back, or the caller does), so it goes without: while a savepoint is open
   * SQLite cannot truncate its sub-journal, and every row statement (they
   * use statement journals: triggers, OR REPLACE) appends the pages it
   * touches to it, ~14 KB of temp-file writes per row applied.
   * KEEP_PREFIX in our own transaction goes without too: on a rejection it
   * rolls everything back and applies the commits before it again (a second
   * pass only when something is rejected). Only KEEP_PREFIX inside a
   * caller's transaction, which we may not roll back, uses savepoints. */
  m.sp = o->mode != LI_MERGE_ALL_OR_NOTHING && !m.own;
  size_t limit = n;
  s_redo redo = {.e = LI_OK, .at = -1};
  li_err e;
  for (;;) {
    e = s_pass(&m, commits, limit, eb);
    if (e == LI_OK || e != st->reject || o->mode == LI_MERGE_ALL_OR_NOTHING) break;
    /* KEEP_PREFIX in our transaction: commit i may have written rows before
     * its rejection; start over and keep commits[0..i) only (limit shrinks,
     * so this ends) */
    redo = (s_redo){.e = e, .at = st->rejected_at, .fork = m.fork, .fork_seq = m.fork_seq};
    if (eb) memcpy(redo.msg, eb->msg, sizeof redo.msg);
    li_replica_rollback(r);
    limit = (size_t)st->rejected_at;
    memset(st, 0, sizeof *st);
    st->rejected_at = -1;
  }
  if (e == LI_OK) {
    if (redo.e) s_redo_report(&m, &redo, commits, eb);
    if (st->reject && m.own) s_report(&m, commits);
  } else if (m.own) { /* otherwise the caller rolls back, counts and records */
    li_replica_rollback(r);
    if (st->reject) s_report(&m, commits);
    st->applied = 0;
    st->rows = 0;
  }
  li_arena_free(&m.a);
  return e == LI_OK ? st->reject : e;
}

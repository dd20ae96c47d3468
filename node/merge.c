/* merge: verify and apply remote commits. merge.h says the order of the
 * checks, how commits are applied and what each mode keeps.
 *
 * What it owns: the batch (its transaction, its clock, its statistics, the
 * chains it stops) and the rows it writes about commits: linli_evidence,
 * linli_banned. What a commit does to rows (and linli_conflicts,
 * linli_refused, the take-back of our own commits) is apply.c's, chains are
 * chain.c's, the origin cache and transactions replica.c's, the catalogue
 * capture.c's.
 *
 *   li_merge_batch --s_batch_open()--> OPEN --s_apply_one() per commit--> OPEN --s_batch_close()--> done
 *   OPEN --rejection, ALL_OR_NOTHING--> rolled back (ours) or left to the caller (theirs)
 *                   --s_report()--> counted, fork evidence in a transaction of its own
 *   OPEN --rejection, PER_CHAIN--> s_stop_chain(): listed, counted, fork evidence --> OPEN (the chain skipped)
 *   OPEN --PER_CHAIN rejection after writes, ours--> rolled back --s_pass_chains() without the chain--> OPEN
 *   OPEN --PER_CHAIN rejection after writes, theirs--> st->redo: the caller rolls back and merges again
 *
 * Invariants (s_check, and s_check_applying where the database is read):
 *  1. rejected_at < 0 exactly when reject is LI_OK; no count is negative.
 *  2. While commits are applied a write transaction is open and
 *     linli_applying holds a row, so capture records none of it.
 *  3. While commits are applied with seal_first, linli_dirty holds only the
 *     markers seal kept (of tables changed by hand, capture.h invariant 8)
 *     when this node can seal: local writes are sealed first, in the same
 *     transaction (invariant 1 of replica.h). Without it, a row with a
 *     marker keeps its local edit whoever's commit meets it (apply.h,
 *     take_back).
 *  4. The list of stopped chains holds at most LI_MERGE_REJECTS_MAX entries,
 *     each with a reason; a chain in it has none of its commits applied
 *     after the entry's seq by this batch (s_pass_chains skips them).
 *  5. After a commit is applied the batch's clock is at least its hlc, so
 *     the HLC stored at close never goes back.
 *  6. Fork evidence is pending only for an opened commit refused with
 *     LI_ERR_FORK.
 *  7. No row is touched before every commit-level check of its commit
 *     passed (s_merge_one sets writing after them), so a commit refused by
 *     one has written nothing and needs no undo.
 *  8. Merge never repairs the origin cache: rollbacks restore it.
 *  9. This replica's own key and the network key are never banned (s_ban). */
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
#include "migrate.h"
#include "roster.h"
#include "scope.h"
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
  /* the commit being applied */
  bool writing;  /* its checks passed: it may have written (invariant 7) */
  li_commit cur; /* c points here once opened */
  /* the batch */
  bool own;              /* we opened the transaction (else it is the caller's) */
  li_merge_rejects *rej; /* PER_CHAIN: the stopped chains (o->rejects or our own) */
  int64_t held_rows;     /* markers seal_first kept (tables changed by hand, capture.h invariant 8) */
  bool migrated;         /* a schema commit was applied in this pass (chains held for it go again) */
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

/* DESIGN 14: a schema commit comes from the hub's street chain alone and
 * makes the next version (*migrate: apply it); any other commit of a newer
 * version than this replica's waits for its migration (held, not refused:
 * it is offered again and applies once the migration is in). */
static li_err s_check_schema(s_merger *m, bool *migrate, li_errbuf *eb) {
  const li_commit *c = m->c;
  uint32_t have = li_replica_schema_version(m->r), v = c->c->schema_version;
  char name[128];
  li_commit_name(c->origin, c->scope, c->seq, name, sizeof name);
  if (c->c->migration) {
    if (memcmp(c->origin, m->r->network, LI_PK_BYTES) != 0 || strcmp(c->scope, LI_SCOPE_STREET) != 0)
      return li_fail(eb, LI_ERR_MIGRATION, "%s carries a schema migration, which only the hub's street chain may",
                     name);
    if (v > have + 1)
      return li_fail(eb, LI_ERR_SCHEMA_AHEAD, "%s migrates to schema version %u, this replica is at %u; held until "
                     "the versions between arrive", name, v, have);
    *migrate = v == have + 1; /* an older one is in already (a restored hub taking its chain back) */
    return LI_OK;
  }
  if (v > have)
    return li_fail(eb, LI_ERR_SCHEMA_AHEAD, "%s was sealed under schema version %u, this replica is at %u; held until "
                   "the hub's migration arrives (it comes in the street chain)", name, v, have);
  return LI_OK;
}

/* Applies a schema commit's migration: checked here as the hub checked it,
 * then applied with the capture rebuild, in the batch's transaction. */
static li_err s_migrate(s_merger *m, li_errbuf *eb) {
  const Linli__Migration *mg = m->c->c->migration;
  li_migration mig;
  li_errbuf t = {{0}};
  char name[128];
  li_commit_name(m->c->origin, m->c->scope, m->c->seq, name, sizeof name);
  li_err e = li_migration_check_list(li_replica_db(m->r), mg->statements, mg->n_statements, &mig, &t);
  int64_t dirty = li_replica_dirty_count(m->r);
  if (e == LI_OK) {
    mig.version = mg->version;
    e = li_migration_apply(m->r, &mig, m->c->hlc, m->c->seq, m->o->wall_ms, &t);
  }
  /* a table of this node's own adopted as the new one (migrate.h): its rows
   * got insert markers, kept like the markers of a table changed by hand,
   * for the next seal to publish (invariant 3 counts them) */
  if (e == LI_OK) m->held_rows += li_replica_dirty_count(m->r) - dirty;
  li_migration_free(&mig);
  if (e == LI_OK) {
    m->migrated = true;
    log_info("schema: migrated to version %u (%s, %zu statement(s))", mg->version, name, mg->n_statements);
    return LI_OK;
  }
  if (e == LI_ERR_DB || e == LI_ERR_NOMEM) return li_fail(eb, e, "%s", t.msg);
  return li_fail(eb, LI_ERR_MIGRATION, "schema v%u not applied: %s", mg->version, t.msg);
}

static li_err s_merge_one(s_merger *m, li_errbuf *eb) {
  const li_commit *c = m->c;
  li_err e;
  if ((e = s_check_chain(m, eb))) return e;
  if ((e = li_roster_may_write(m->r, c->origin, c->scope, c->seq, eb))) return e;
  /* our own commits coming back (a restored backup takes them back) are
   * ours whatever their stamp: holding them for the clock would stop our
   * own chain (linli-sim found it) */
  bool own = memcmp(c->origin, m->r->self, LI_PK_BYTES) == 0;
  if (!own && li_hlc_too_far_ahead(c->hlc, m->o->wall_ms, m->o->max_skew_ms)) {
    char name[128], when[48];
    li_commit_name(c->origin, c->scope, c->seq, name, sizeof name);
    li_hlc_format(c->hlc, when, sizeof when);
    return li_fail(eb, LI_ERR_CLOCK_AHEAD,
                   "%s is stamped %s, more than %llu s ahead of this computer's clock; held until the clocks agree "
                   "(check the date on both machines)",
                   name, when, (unsigned long long)(m->o->max_skew_ms / 1000));
  }
  if ((e = s_check_deps(m, eb))) return e;
  bool migrate = false;
  if ((e = s_check_schema(m, &migrate, eb))) return e;
  m->writing = true; /* invariant 7: every check above only read */
  if ((e = li_replica_origin_idx(m->r, c->origin, &m->origin_idx, eb))) return e;
  li_apply_opts ao = {.origin_idx = m->origin_idx,
                      .wall_ms = m->o->wall_ms,
                      .take_back = !m->o->seal_first};
  li_apply_stats as = {0};
  if (migrate) e = s_migrate(m, eb);
  else if (!c->c->migration) e = li_apply_commit(m->r, &m->a, c, &ao, &as, eb);
  if (e) return e;
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
  int added; /* rows new to linli_evidence */
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
  if (ev->ok) ev->added += sqlite3_changes(sqlite3_db_handle(ev->st));
  sqlite3_reset(ev->st);
  sqlite3_clear_bindings(ev->st);
  return LI_OK;
}

/* Whether a key may be banned: never this replica's own nor the network's
 * (DESIGN 13, invariant 9). A fork of either comes from a restored backup
 * or a copied node folder of an honest node, and banning would make it
 * worse: without the network key no roster change or street data arrives
 * again, without our own key our own commits cannot come back. */
static bool s_may_ban(const li_replica *r, const uint8_t *origin) {
  return memcmp(origin, r->self, LI_PK_BYTES) != 0 && memcmp(origin, r->network, LI_PK_BYTES) != 0;
}

static bool s_ban(li_replica *r, const li_commit *c, uint64_t seq) {
  assert(s_may_ban(r, c->origin)); /* invariant 9 */
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

static void s_fork_log(const li_replica *r, const li_commit *c, uint64_t seq, bool kept) {
  char t[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->origin, t);
  if (!kept)
    log_warnx("EQUIVOCATION: origin %s signed two different commits at %s#%llu; evidence kept, origin no longer "
              "accepted",
              t, c->scope, (unsigned long long)seq);
  else
    log_warnx("FORK of %s chain %s#%llu (key %s): two different commits with one sequence number, as after a restored "
              "backup or a copied node folder; evidence kept, the key is not banned, and that chain stays stopped at "
              "the fork",
              memcmp(c->origin, r->self, LI_PK_BYTES) == 0 ? "this node's own" : "the network (hub) key's", c->scope,
              (unsigned long long)seq, t);
}

/* Evidence of an equivocation, in the open transaction: the commit held at
 * seq (if stored) and theirs; then the ban of the origin unless the key
 * may not be banned (*kept: reported only). false on a database error. */
static bool s_fork_evidence(li_replica *r, const li_blob *theirs, const li_commit *c, uint64_t seq, uint64_t now,
                            bool *kept) {
  li_errbuf eb;
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
  *kept = !s_may_ban(r, c->origin);
  if (ev.ok && !*kept) ev.ok = s_ban(r, c, seq);
  /* a fork of a key that is not banned is met again at every exchange:
   * said once, when its evidence is new */
  if (ev.ok && ev.added) s_fork_log(r, c, seq, *kept);
  return ev.ok;
}

/* ---- the stopped chains (PER_CHAIN) ---- */

void li_merge_rejects_clear(li_merge_rejects *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* Forgets the entries from `from` on, except those whose chain must stay
 * out of the next try (after_writes): their rejection was rolled back too,
 * so it is noted again when their commit comes by (undone). */
static void s_rejects_forget(li_merge_rejects *l, size_t from) {
  size_t k = from;
  for (size_t i = from; i < l->n; i++) {
    if (!l->v[i].after_writes) continue;
    l->v[k] = l->v[i];
    l->v[k].skipped = 0;
    l->v[k].undone = true;
    k++;
  }
  l->n = k;
}

void li_merge_rejects_rolled_back(li_merge_rejects *l) {
  s_rejects_forget(l, 0);
  l->overflow = 0;
}

const li_merge_reject *li_merge_rejects_find(const li_merge_rejects *l, const uint8_t origin[LI_PK_BYTES],
                                             const char *scope) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].scope[0] && strcmp(l->v[i].scope, scope) == 0 && memcmp(l->v[i].origin, origin, LI_PK_BYTES) == 0)
      return &l->v[i];
  return NULL;
}

/* A new zeroed entry; NULL when the list is full (counted in overflow) or,
 * with *nomem, out of memory. */
static li_merge_reject *s_rejects_add(li_merge_rejects *l, bool *nomem) {
  *nomem = false;
  if (l->n >= LI_MERGE_REJECTS_MAX) {
    l->overflow++;
    return NULL;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    if (cap > LI_MERGE_REJECTS_MAX) cap = LI_MERGE_REJECTS_MAX;
    li_merge_reject *v = realloc(l->v, cap * sizeof *v);
    if (!v) {
      *nomem = true;
      return NULL;
    }
    l->v = v;
    l->cap = cap;
  }
  li_merge_reject *x = &l->v[l->n++];
  memset(x, 0, sizeof *x);
  return x;
}

/* What a list held when a call began, to put it back when the call's
 * transaction is rolled back (the entries before it stay, their skip counts
 * as they were). */
typedef struct {
  size_t n;
  uint32_t overflow;
  uint32_t *skipped;
} s_rej_mark;

static bool s_mark_take(s_rej_mark *k, const li_merge_rejects *l) {
  k->n = l->n;
  k->overflow = l->overflow;
  k->skipped = l->n ? malloc(l->n * sizeof *k->skipped) : NULL;
  for (size_t i = 0; k->skipped && i < l->n; i++) k->skipped[i] = l->v[i].skipped;
  return k->skipped || !l->n;
}

/* keep: the entries this call stopped after writes stay (a redo). */
static void s_mark_restore(const s_rej_mark *k, li_merge_rejects *l, bool keep) {
  if (keep) s_rejects_forget(l, k->n);
  else l->n = k->n;
  l->overflow = k->overflow;
  for (size_t i = 0; i < k->n; i++) l->v[i].skipped = k->skipped[i];
}

/* A commit's chain position, as it claims it or as verified. */
typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
} s_pos;

/* The position a commit claims, read without verifying it (to skip the
 * commits of a stopped chain, and to name the chain of one that cannot be
 * opened); false when it names no valid chain. */
static bool s_claimed(const li_blob *b, s_pos *p) {
  return li_commit_pos(b->sc, b->len, p->origin, p->scope, &p->seq) && li_valid_scope(p->scope) && p->seq >= 1;
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
  bool sealed = !m->r->id || !m->o->seal_first || li_replica_dirty_count(m->r) == m->held_rows;
  return !sqlite3_get_autocommit(m->r->db) && applying >= 1 && sealed;
}

/* Invariants 1, 4 (the list's bounds and reasons) and 6, on what is in memory. */
static bool s_check(const s_merger *m) {
  const li_merge_stats *st = m->st;
  if ((st->rejected_at < 0) != (st->reject == LI_OK)) return false;
  if (st->applied < 0 || st->duplicates < 0 || st->verified < 0 || st->rows < 0 || st->conflicts < 0 || st->sealed < 0 || st->refused < 0)
    return false;
  if (st->rejected < 0 || st->skipped < 0 || st->forks_kept < 0 || st->redos < 0) return false;
  if (m->rej) {
    if (m->rej->n > LI_MERGE_REJECTS_MAX || m->rej->n > m->rej->cap) return false;
    for (size_t i = 0; i < m->rej->n; i++)
      if (m->rej->v[i].code == LI_OK) return false;
  }
  return !m->fork || (m->c && (m->o->mode == LI_MERGE_PER_CHAIN || m->st->reject == LI_ERR_FORK));
}

/* OPEN: our transaction (when we own one), local writes sealed (with
 * seal_first), clock loaded, capture silenced. */
static li_err s_batch_open(s_merger *m, li_errbuf *eb) {
  li_replica *r = m->r;
  li_err e = m->own ? li_replica_begin(r, eb) : LI_OK;
  if (e) return e;
  if (r->id && m->o->seal_first) {
    li_seal_stats ss;
    if ((e = li_seal_locked(r, m->o->wall_ms, &ss, eb))) return e;
    m->st->sealed = ss.commits;
    m->held_rows = ss.held_rows;
  }
  /* another process may have migrated or altered the schema meanwhile */
  if ((e = li_replica_catalogue_fresh(r, eb))) return e;
  uint64_t last = 0;
  if ((e = li_replica_hlc_load(r, &last, eb))) return e;
  li_hlc_init(&m->clock, last);
  if ((e = li_exec(r, "INSERT INTO linli_applying VALUES(1)", eb))) return e;
  assert(s_check_applying(m));
  return LI_OK;
}

/* A copy of a commit this replica holds: the position it claims holds a
 * commit of the same hash, so its Commit bytes are the very ones verified
 * when that was applied, and it is a duplicate without a signature check
 * (issue 12: a peer replaying held commits made the hub check every copy,
 * 10 s of its one thread for five 12 MB batches). Whatever else the copy's
 * SignedCommit says (its signature, its network) changes nothing: nothing
 * of it is applied. */
static bool s_held(const s_merger *m, const li_blob *b) {
  s_pos p;
  uint8_t hash[LI_HASH_BYTES], have[LI_HASH_BYTES];
  bool found = false;
  li_errbuf tmp;
  return s_claimed(b, &p) && li_commit_claimed_hash(b->sc, b->len, hash) &&
         li_chain_hash_at(m->r, p.origin, p.scope, p.seq, have, &found, &tmp) == LI_OK && found &&
         memcmp(have, hash, LI_HASH_BYTES) == 0;
}

/* One commit: LI_OK when applied or LI_ERR_REPLAY when already there (both
 * counted), the rejection, or LI_ERR_DB / LI_ERR_NOMEM. */
static li_err s_apply_one(s_merger *m, const li_blob *b, li_errbuf *eb) {
  li_arena_reset(&m->a);
  m->fork = m->writing = false;
  m->c = NULL;
  if (s_held(m, b)) {
    m->st->duplicates++;
    return li_fail(eb, LI_ERR_REPLAY, "a copy of a commit already applied");
  }
  m->st->verified++;
  li_err e = li_commit_open(m->r->network, b->sc, b->len, &m->a, &m->cur, eb);
  if (e == LI_OK) {
    m->c = &m->cur;
    e = s_merge_one(m, eb);
  }
  if (e == LI_OK) m->st->applied++;
  else if (e == LI_ERR_REPLAY) m->st->duplicates++;
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

static bool s_failure(li_err e) { return e == LI_ERR_DB || e == LI_ERR_NOMEM; }

/* A rejection of commit i in this batch: the first one goes to the stats
 * and eb, every one is counted for status. */
static void s_note_reject(s_merger *m, size_t i, li_err why, const char *msg, li_errbuf *eb) {
  if (m->st->rejected_at < 0) {
    m->st->rejected_at = (int)i;
    m->st->reject = why;
    if (eb) snprintf(eb->msg, sizeof eb->msg, "%s", msg);
  }
  m->st->rejected++;
  if (why != LI_ERR_SCHEMA_AHEAD) li_replica_count_reject(m->r, why); /* a hold is not a rejection */
}

/* PER_CHAIN: commit i was refused (why, ceb). Its chain is listed, named
 * by the verified commit when it was opened, else by the position it
 * claims (a gap names head + 1, what the sender should send next), and a
 * fork's evidence is written in the batch. An error only when the store
 * failed, or when a chain refused after writes cannot be listed (a redo
 * would meet it again). */
static li_err s_stop_chain(s_merger *m, size_t i, const li_blob *b, li_err why, const li_errbuf *ceb, li_errbuf *eb) {
  const char *msg = ceb->msg[0] ? ceb->msg : li_strerror(why);
  s_note_reject(m, i, why, msg, eb);
  s_pos p;
  bool named = m->c != NULL;
  if (named) {
    memcpy(p.origin, m->c->origin, LI_PK_BYTES);
    snprintf(p.scope, sizeof p.scope, "%s", m->c->scope);
    p.seq = m->c->seq;
  } else if (!(named = s_claimed(b, &p))) {
    memset(&p, 0, sizeof p);
  }
  uint64_t head;
  li_errbuf tmp;
  if (named && why == LI_ERR_GAP && li_chain_head(m->r, p.origin, p.scope, &head, NULL, &tmp) == LI_OK &&
      head + 1 < p.seq)
    p.seq = head + 1;
  bool nomem;
  li_merge_reject *x = s_rejects_add(m->rej, &nomem);
  if (nomem) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the list of refused chains");
  if (!x && m->writing)
    return li_fail(eb, LI_ERR_LIMIT, "over %d chains refused in one batch (LI_MERGE_REJECTS_MAX); last: %s",
                   LI_MERGE_REJECTS_MAX, msg);
  if (x) {
    memcpy(x->origin, p.origin, LI_PK_BYTES);
    snprintf(x->scope, sizeof x->scope, "%s", p.scope);
    x->seq = p.seq;
    x->code = why;
    snprintf(x->message, sizeof x->message, "%s", msg);
    x->after_writes = m->writing;
  }
  bool kept = false;
  if (m->fork && !s_fork_evidence(m->r, b, m->c, m->fork_seq, m->o->wall_ms, &kept))
    return li_db_fail(m->r, eb, "linli_evidence");
  m->st->forks_kept += kept;
  return LI_OK;
}

/* PER_CHAIN: a commit of a listed chain at or after its stop is skipped
 * unread. The very commit a rolled-back rejection stopped at is noted again
 * (the rollback took its count away). true when skipped. */
static bool s_skip(s_merger *m, size_t i, const li_blob *b, li_errbuf *eb) {
  s_pos p;
  if (!m->rej->n || !s_claimed(b, &p)) return false;
  li_merge_reject *x = (li_merge_reject *)li_merge_rejects_find(m->rej, p.origin, p.scope);
  if (!x || p.seq < x->seq) return false;
  if (x->undone && p.seq == x->seq) {
    x->undone = false;
    s_note_reject(m, i, x->code, x->message, eb);
    return true;
  }
  x->skipped++;
  m->st->skipped++;
  return true;
}

/* A migration was applied in this pass: the chains the pass held for a
 * newer schema (listed from index from on) are let go, to be tried again.
 * true when there were any. */
static bool s_release_held(s_merger *m, size_t from, const li_blob *commits, size_t n, li_errbuf *eb) {
  size_t k = from;
  bool any = false;
  for (size_t i = from; i < m->rej->n; i++) {
    if (m->rej->v[i].code == LI_ERR_SCHEMA_AHEAD && !m->rej->v[i].after_writes) {
      any = true;
      m->st->rejected--;
      m->st->skipped -= (int)m->rej->v[i].skipped;
      continue;
    }
    m->rej->v[k++] = m->rej->v[i];
  }
  m->rej->n = k;
  /* when the first rejection the stats name was such a hold, the first
   * chain of this pass still listed takes its place, with the index of the
   * commit it stopped at */
  if (any && m->st->reject == LI_ERR_SCHEMA_AHEAD) {
    m->st->reject = LI_OK;
    m->st->rejected_at = -1;
    if (eb) eb->msg[0] = 0;
    if (k > from) {
      const li_merge_reject *x = &m->rej->v[from];
      m->st->reject = x->code;
      m->st->rejected_at = 0;
      for (size_t i = 0; i < n; i++) { /* the commit it stopped at, by the position it claims */
        s_pos p;
        if (s_claimed(&commits[i], &p) && p.seq == x->seq && strcmp(p.scope, x->scope) == 0 &&
            memcmp(p.origin, x->origin, LI_PK_BYTES) == 0) {
          m->st->rejected_at = (int)i;
          break;
        }
      }
      if (eb) snprintf(eb->msg, sizeof eb->msg, "%s", x->message);
    }
  }
  return any;
}

/* PER_CHAIN: one pass over the batch. A commit refused after it wrote rows
 * ends the pass at once with *redo set, its rejection returned and the
 * transaction left open for the caller of this function to roll back. */
static li_err s_pass_chains(s_merger *m, const li_blob *commits, size_t n, bool *redo, li_errbuf *eb) {
  li_err e = s_batch_open(m, eb);
  if (e) return e;
  size_t from = m->rej->n;
  m->migrated = false;
  for (size_t i = 0; i < n; i++) {
    if (s_skip(m, i, &commits[i], eb)) continue;
    li_errbuf ceb = {{0}};
    li_err got = s_apply_one(m, &commits[i], &ceb);
    if (s_failure(got)) return li_fail(eb, got, "%s", ceb.msg);
    bool rejected = got != LI_OK && got != LI_ERR_REPLAY;
    if (rejected && (e = s_stop_chain(m, i, &commits[i], got, &ceb, eb))) return e;
    assert(s_check(m));
    if (rejected && m->writing) {
      *redo = true;
      return got;
    }
    /* the batch again, once, for the chains a migration of it let go (a
     * commit already applied is recognised as such) */
    if (i + 1 == n && m->migrated) {
      m->migrated = false;
      if (s_release_held(m, from, commits, n, eb)) i = (size_t)-1;
    }
  }
  return s_batch_close(m, eb);
}

static void s_stats_reset(li_merge_stats *st) {
  int redos = st->redos;
  memset(st, 0, sizeof *st);
  st->rejected_at = -1;
  st->redos = redos;
}

/* PER_CHAIN (merge.h). In our transaction a commit refused after it wrote
 * rows rolls the batch back and it is merged again with that chain listed,
 * so it is skipped; each redo lists one more chain, so this ends. */
static li_err s_per_chain(s_merger *m, const li_blob *commits, size_t n, li_errbuf *eb) {
  s_rej_mark mark;
  if (!s_mark_take(&mark, m->rej)) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  li_err e;
  bool redo;
  for (;;) {
    redo = false;
    e = s_pass_chains(m, commits, n, &redo, eb);
    if (!redo || !m->own) break;
    li_replica_rollback(m->r);
    s_mark_restore(&mark, m->rej, true);
    s_stats_reset(m->st);
    m->st->redos++;
  }
  if (redo) {
    m->st->redo = true; /* the caller's transaction: it rolls back and merges again */
  } else if (e) {       /* the store failed: nothing was applied */
    if (m->own) li_replica_rollback(m->r);
    s_mark_restore(&mark, m->rej, false);
    s_stats_reset(m->st);
  }
  free(mark.skipped);
  return e;
}

/* ALL_OR_NOTHING (merge.h): the first rejection ends the batch; in our
 * transaction it is rolled back, the rejection counted and a fork's
 * evidence recorded in a transaction of its own. */
static li_err s_all_or_nothing(s_merger *m, const li_blob *commits, size_t n, li_errbuf *eb) {
  li_err e = s_batch_open(m, eb);
  for (size_t i = 0; e == LI_OK && i < n; i++) {
    e = s_apply_one(m, &commits[i], eb);
    if (e == LI_ERR_REPLAY) e = LI_OK;
    if (e && !s_failure(e)) m->st->rejected_at = (int)i, m->st->reject = e;
    assert(s_check(m));
  }
  if (e == LI_OK) e = s_batch_close(m, eb);
  if (e == LI_OK || !m->own) return e; /* a caller's transaction: it rolls back, counts and records */
  li_replica_rollback(m->r);
  m->st->applied = 0;
  m->st->rows = 0;
  m->st->conflicts = 0;
  m->st->refused = 0;
  if (!m->st->reject) return e;
  if (m->st->reject != LI_ERR_SCHEMA_AHEAD) li_replica_count_reject(m->r, m->st->reject); /* a hold is not a rejection */
  li_errbuf tmp;
  bool kept = false;
  if (m->fork && li_replica_begin(m->r, &tmp) == LI_OK) {
    if (s_fork_evidence(m->r, &commits[m->st->rejected_at], m->c, m->fork_seq, m->o->wall_ms, &kept))
      li_replica_commit(m->r, &tmp);
    else
      li_replica_rollback(m->r);
  }
  m->st->forks_kept += kept;
  return e;
}

li_err li_merge_batch(li_replica *r, const li_blob *commits, size_t n, const li_merge_opts *o, li_merge_stats *st,
                      li_errbuf *eb) {
  assert(o->mode == LI_MERGE_ALL_OR_NOTHING || o->mode == LI_MERGE_PER_CHAIN);
  li_merge_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  st->rejected_at = -1;
  li_merge_rejects mine = {0};
  s_merger m;
  memset(&m, 0, sizeof m);
  m.r = r;
  m.o = o;
  m.st = st;
  m.own = sqlite3_get_autocommit(r->db) != 0; /* else the caller's transaction (bundle import) */
  li_arena_init(&m.a);
  li_err e;
  if (o->mode == LI_MERGE_PER_CHAIN) {
    m.rej = o->rejects ? o->rejects : &mine;
    e = s_per_chain(&m, commits, n, eb);
  } else {
    e = s_all_or_nothing(&m, commits, n, eb);
  }
  li_merge_rejects_clear(&mine);
  li_arena_free(&m.a);
  return e;
}

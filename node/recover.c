/* recover: a new key for a committee, and settling what the old one left.
 * See recover.h. */
#include "recover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "capture.h"
#include "chain.h"
#include "commit.h"
#include "hlc.h"
#include "roster.h"
#include "rowclock.h"
#include "seal.h"
#include "value.h"

#define S_META_FROM "recovered_from"
/* The first seq of the old chain the hub was seen to hold differently (a
 * fork the daemon saved in linli_stuck before recover): the hub's view
 * agrees with ours only below it. */
#define S_META_FORK "recover_fork_seq"

bool li_recover_pending(li_replica *r, uint8_t old_key[LI_PK_BYTES]) {
  uint8_t k[LI_PK_BYTES];
  if (li_meta_get_blob(r, S_META_FROM, k, LI_PK_BYTES) != LI_OK) return false;
  if (old_key) memcpy(old_key, k, LI_PK_BYTES);
  return true;
}

/* The newest HLC the street accepted: every commit this node holds but its
 * own chain's beyond what the hub was last seen to hold (those may be
 * stamped in the future by a clock that was ahead; hub_seq < 0: unknown,
 * then none of its own counts). */
static li_err s_accepted_hlc(li_replica *r, const uint8_t self[LI_PK_BYTES], int64_t hub_seq, uint64_t *out,
                             li_errbuf *eb) {
  return li_chain_newest_hlc_but(r, self, r->scope, hub_seq, out, eb);
}

/* The hub's seq of our own chain at its last Hello, as the daemon saved it
 * (-1 when never seen). */
static int64_t s_hub_seen_seq(li_replica *r) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(r->db, "SELECT value FROM linli_serve WHERE key='hub_own_seq' AND typeof(value)='integer'",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* What the daemon saved about the old key (a fork, its stuck chains) no
 * longer holds: the next exchange saves it anew. Where the old chain forked
 * is kept for the settle. */
static li_err s_forget_stuck(li_replica *r, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  int64_t fork = 0;
  if (sqlite3_prepare_v2(r->db, "SELECT min(seq) FROM linli_stuck WHERE side='ours' AND code=? AND origin=? AND scope=?",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "recover: linli_stuck");
  sqlite3_bind_text(st, 1, li_errname(LI_ERR_FORK), -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, r->self, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, r->scope, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) fork = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  li_err e = fork > 0 ? li_meta_set_int(r, S_META_FORK, fork, eb) : li_meta_delete(r, S_META_FORK, eb);
  if (e) return e;
  if (sqlite3_exec(r->db, "DELETE FROM linli_stuck; DELETE FROM linli_serve WHERE key='seal'", NULL, NULL, NULL) !=
      SQLITE_OK)
    return li_db_fail(r, eb, "recover: linli_stuck");
  return LI_OK;
}

/* The new key in use in the replica, the old one recorded, the clock reset,
 * what was saved about the old key forgotten: one transaction. */
static li_err s_switch(li_replica *r, const uint8_t old[LI_PK_BYTES], const uint8_t new_pk[LI_PK_BYTES],
                       uint64_t wall_ms, li_recover_report *rep, li_errbuf *eb) {
  int64_t hub_seq = s_hub_seen_seq(r);
  uint64_t accepted = 0;
  li_err e = s_accepted_hlc(r, old, hub_seq, &accepted, eb);
  if (e) return e;
  uint64_t wall = LI_HLC_MAKE(wall_ms, 0);
  /* what the next seal starts from (it takes the later of its own wall
   * clock and this); the wall clock now is not stored: when the date is
   * wrong at recover time it would stamp the new chain in the future too
   * (linli-sim found it), while the seal gate's clock guard stops sealing
   * until the date is right */
  rep->hlc = accepted > wall ? accepted : wall;
  if ((e = li_replica_begin(r, eb))) return e;
  if ((e = li_meta_set_blob(r, S_META_FROM, old, LI_PK_BYTES, eb)) || (e = s_forget_stuck(r, eb)) ||
      (e = li_replica_hlc_store(r, accepted, eb)) || (e = li_replica_set_self(r, new_pk, eb))) {
    li_replica_rollback(r);
    memcpy(r->self, old, LI_PK_BYTES);
    return e;
  }
  return li_replica_commit(r, eb);
}

li_err li_recover_replica(li_replica *r, const uint8_t new_pk[LI_PK_BYTES], uint64_t wall_ms, li_recover_report *rep,
                          li_errbuf *eb) {
  uint8_t old[LI_PK_BYTES];
  memcpy(old, r->self, LI_PK_BYTES);
  memcpy(rep->old_key, old, LI_PK_BYTES);
  memcpy(rep->new_key, new_pk, LI_PK_BYTES);
  return s_switch(r, old, new_pk, wall_ms, rep, eb);
}

li_err li_recover(li_node *n, uint64_t wall_ms, li_recover_report *rep, li_errbuf *eb) {
  memset(rep, 0, sizeof *rep);
  if (n->cfg.role != LI_ROLE_COMMITTEE)
    return li_fail(eb, LI_ERR_ROLE, "the hub's key is the street's network id and cannot be replaced this way");
  uint8_t pending[LI_PK_BYTES];
  if (li_recover_pending(n->r, pending)) {
    char t[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(pending, t);
    return li_fail(eb, LI_ERR_EXISTS,
                   "a recovery from key %s is still waiting for the hub's view of it: connect to the hub ('linli sync "
                   "--once') or import a bundle of the hub first",
                   t);
  }
  char kp[LI_PATH_MAX + 64], newp[LI_PATH_MAX + 80];
  li_node_path(n, n->cfg.key_file, kp, sizeof kp);
  snprintf(newp, sizeof newp, "%s.new", kp);
  time_t now = (time_t)(wall_ms / 1000);
  struct tm tm;
  gmtime_r(&now, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(rep->old_key_file, sizeof rep->old_key_file, "%s.old-%s", kp, stamp);
  li_identity id;
  li_err e = li_identity_generate(&id);
  if (e) return li_fail(eb, e, "cannot generate a key");
  unlink(newp); /* a leftover of a run that stopped before the replica knew it */
  if ((e = li_identity_save(&id, newp, eb))) goto out;
  if ((e = li_recover_replica(n->r, id.pk, wall_ms, rep, eb))) {
    unlink(newp);
    goto out;
  }
  /* from here the replica names the new key: li_node_open finishes these
   * renames if they are interrupted */
  if (rename(kp, rep->old_key_file) != 0 || rename(newp, kp) != 0) {
    e = li_fail(eb, LI_ERR_IO, "cannot put the new key in place (%s): %s; 'linli status' finishes it", kp,
                strerror(errno));
    goto out;
  }
  n->id = id;
  n->r->id = &n->id;
  bool settled = false;
  e = li_recover_settle_from_roster(n->r, &settled, &rep->rows_unsealed, eb);
  rep->settled = settled;
out:
  li_identity_wipe(&id);
  return e;
}

/* ---- settling ---- */

/* One row (t, scope, key) an abandoned commit wrote: unsealed again, so
 * the next seal publishes it under the new key as it is now. A row that
 * exists here is marked inserted (every column is published). A row that
 * is gone is marked deleted; when its clock says deleted already, its
 * causal length goes back by one, so the seal publishes the deletion again
 * (with the causal length the abandoned commit had): the street may still
 * hold the row alive. */
static li_err s_unseal_row(li_replica *r, li_arena *a, li_table *t, const char *scope, const Linli__RowChange *ch,
                           int64_t *rows, li_errbuf *eb) {
  const Linli__Value *key = NULL;
  li_err e = li_rowclock_key(r, a, t, ch->pk, ch->n_pk, &key, eb);
  if (e) return e;
  li_rowclock rc;
  if ((e = li_rowclock_get(r, t, scope, key, &rc, eb))) return e;
  for (int i = 0; i < t->npk; i++) li_value_bind(t->sel, i + 1, ch->pk[i]);
  sqlite3_bind_text(t->sel, t->npk + 1, scope, -1, SQLITE_STATIC);
  int step = sqlite3_step(t->sel);
  sqlite3_reset(t->sel);
  sqlite3_clear_bindings(t->sel);
  if (step != SQLITE_ROW && step != SQLITE_DONE) return li_db_fail(r, eb, t->name);
  bool exists = step == SQLITE_ROW;
  /* a clock that says deleted, of a row the hub may never have seen
   * deleted: gone now, the clock goes back by one so the next seal
   * publishes the delete again at this causal length; there now (written
   * again here), it goes on by one, a new generation, so that whatever the
   * row is at the next seal (still there, or deleted again first) goes out
   * above the delete. (linli-sim found both: seeds 294 and 70 of
   * --faults everything.) */
  if (rc.exists && rc.cl > 0 && rc.cl % 2 == 0) {
    rc.cl += exists ? 1 : -1;
    if ((e = li_rowclock_put(r, t, scope, key, &rc, eb))) return e;
  }
  (*rows)++;
  return li_capture_mark(r, t, scope, key, exists ? 1 : 3, eb);
}

/* Every row of one abandoned commit. */
static li_err s_unseal_commit(li_replica *r, const li_chain_row *row, int64_t *rows, li_errbuf *eb) {
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  li_err e = li_commit_open(r->network, row->sc, row->sc_len, &a, &c, eb);
  for (size_t i = 0; e == LI_OK && i < c.c->n_tables; i++) {
    const Linli__TableChanges *tc = c.c->tables[i];
    li_table *t = li_capture_table(r, tc->table);
    if (!t) continue; /* a table dropped since cannot be written anyway */
    for (size_t j = 0; e == LI_OK && j < tc->n_rows; j++) e = s_unseal_row(r, &a, t, c.scope, tc->rows[j], rows, eb);
  }
  li_arena_free(&a);
  return e;
}

typedef struct {
  li_replica *r;
  int64_t rows;
} s_settle;

static li_err s_each_abandoned(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  s_settle *s = ctx;
  return s_unseal_commit(s->r, row, &s->rows, eb);
}

/* How much of the old chain the hub holds as we do: its seq, unless the
 * chains forked below it (the fork seen before recover; or the hub's head
 * differs from ours at that seq, with no fork point known: then nothing is
 * taken as agreed, and every row of the old chain is sealed again, which
 * repeats some rows and loses none). */
static li_err s_agreed(li_replica *r, const uint8_t old[LI_PK_BYTES], uint64_t head, uint64_t hub_seq,
                       const uint8_t *hub_hash, uint64_t *agreed, li_errbuf *eb) {
  int64_t fork = 0;
  li_meta_get_int(r, S_META_FORK, &fork); /* absent: 0 */
  *agreed = hub_seq < head ? hub_seq : head;
  if (fork > 0 && (uint64_t)fork - 1 < *agreed) *agreed = (uint64_t)fork - 1;
  if (!hub_hash || hub_seq == 0 || hub_seq > head || *agreed < hub_seq) return LI_OK;
  uint8_t ours[LI_HASH_BYTES];
  bool found = false;
  li_err e = li_chain_hash_at(r, old, r->scope, hub_seq, ours, &found, eb);
  if (e) return e;
  if (!found || memcmp(ours, hub_hash, LI_HASH_BYTES) != 0) *agreed = 0;
  return LI_OK;
}

li_err li_recover_settle(li_replica *r, uint64_t hub_seq, const uint8_t *hub_hash, int64_t *rows, li_errbuf *eb) {
  uint8_t old[LI_PK_BYTES];
  if (!li_recover_pending(r, old)) return LI_OK;
  s_settle s = {.r = r};
  li_err e = li_replica_begin(r, eb);
  if (e) return e;
  uint64_t head = 0;
  if ((e = li_chain_head(r, old, r->scope, &head, NULL, eb))) goto fail;
  if ((e = s_agreed(r, old, head, hub_seq, hub_hash, &hub_seq, eb))) goto fail;
  for (uint64_t seq = hub_seq + 1; seq <= head && e == LI_OK; seq++) {
    bool found = false;
    e = li_chain_commit_at(r, old, r->scope, seq, s_each_abandoned, &s, &found, eb);
  }
  if (e) goto fail;
  if (head > hub_seq && (e = li_chain_abandon(r, old, r->scope, hub_seq, eb))) goto fail;
  /* the new key's commits come after every commit that stays, the old
   * key's kept ones too: recover could not count those while the hub's
   * view was unknown, and a row written again now must win over them
   * (linli-sim found a re-edit losing to the old key's stamp) */
  uint64_t kept = 0, now_hlc = 0;
  if ((e = li_chain_newest_hlc_but(r, old, r->scope, (int64_t)hub_seq, &kept, eb)) ||
      (e = li_replica_hlc_load(r, &now_hlc, eb)))
    goto fail;
  if (kept > now_hlc && (e = li_replica_hlc_store(r, kept, eb))) goto fail;
  if ((e = li_meta_delete(r, S_META_FROM, eb)) || (e = li_meta_delete(r, S_META_FORK, eb))) goto fail;
  if ((e = li_replica_commit(r, eb))) return e;
  if (rows) *rows = s.rows;
  return LI_OK;
fail:
  li_replica_rollback(r);
  return e;
}

li_err li_recover_settle_from_roster(li_replica *r, bool *settled, int64_t *rows, li_errbuf *eb) {
  *settled = false;
  uint8_t old[LI_PK_BYTES];
  if (!li_recover_pending(r, old)) return LI_OK;
  li_member m;
  li_errbuf tmp;
  /* the old key's row: revoked (by roster replace) with the seq the hub held */
  if (li_roster_by_key_any(r, old, &m, &tmp) != LI_OK || !m.revoked) return LI_OK;
  *settled = true;
  return li_recover_settle(r, m.revoked_after_seq, NULL, rows, eb);
}

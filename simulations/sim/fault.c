/* fault: the faults linli-sim injects (see sim_fault in sim.h): partitions,
 * the network's mood, crashes, clock skew, and the hostile node, which
 * holds a valid admitted key and sends forged, out-of-scope, equivocating,
 * replayed and garbage input on its own connection, and valid commits
 * carrying a row every receiver refuses. Also the street office's schema
 * migrations (DESIGN 14): at random moments, most often while a committee
 * is cut off, the hub runs `linli schema apply` with the next one a seed
 * draws from a fixed list; it owns w->mig_done and w->schema_version
 * (invariant: schema_version == 1 + popcount(mig_done), and every
 * migration applied had the one it builds on applied before it). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "hlc.h"
#include "linli.pb-c.h"
#include "migrate.h"
#include "recover.h"
#include "roster.h"
#include "sim.h"
#include "sync.pb-c.h"

/* A care_visits row of the hostile node, every column as seal sends a new
 * row (scope included); its key goes in pk[0] (the caller's). */
typedef struct {
  Linli__Value v[6], *vals[6], *pk[1];
  uint32_t cols[6];
  char id[48];
  Linli__RowChange rc;
} s_hrow;

static const char *const s_hcols[] = {"id", "scope", "resident_ref", "visited_on", "kind", "follow_up", "note", "x"};

/* bad: 0 none, 1 an INTEGER in the TEXT column note, 2 an unknown column
 * (the commit's table names it; the row sets it), 3 (the caller's) the row
 * in an unknown table. */
static void s_hostile_row(sim_world *w, s_hrow *h, const char *scope, int bad, const char *squat) {
  if (squat) snprintf(h->id, sizeof h->id, "%s-v%u", squat, sim_below(&w->rng, 8)); /* a key the workload uses there */
  else snprintf(h->id, sizeof h->id, "%s-forged-%llu", scope, (unsigned long long)sim_rand(&w->rng) % 1000);
  for (int i = 0; i < 6; i++) linli__value__init(&h->v[i]), h->vals[i] = &h->v[i], h->cols[i] = (uint32_t)(i + 1);
  h->v[0].v_case = LINLI__VALUE__V_T, h->v[0].t = (char *)scope;
  h->v[1].v_case = LINLI__VALUE__V_T, h->v[1].t = "R-FORGED";
  h->v[2].v_case = LINLI__VALUE__V_T, h->v[2].t = "2025-01-01";
  h->v[3].v_case = LINLI__VALUE__V_T, h->v[3].t = "探访";
  h->v[4].v_case = LINLI__VALUE__V_I, h->v[4].i = 0;
  h->v[5].v_case = LINLI__VALUE__V_T, h->v[5].t = "ok";
  if (bad == 1) h->v[5].v_case = LINLI__VALUE__V_I, h->v[5].i = 5;
  if (bad == 2) h->cols[5] = 7; /* "x" */
  linli__row_change__init(&h->rc);
  h->rc.n_pk = 1, h->rc.pk = h->pk, h->rc.cl = 1;
  h->rc.n_cols = 6, h->rc.cols = h->cols, h->rc.n_values = 6, h->rc.values = h->vals;
}

/* A signed commit of the hostile node: scope and seq of its choosing, one
 * good row, and with bad_row a second row every receiver refuses (the
 * commit is applied all the same, DESIGN 13). */
static uint8_t *s_hostile_commit(sim_world *w, sim_node *nd, const char *scope, uint64_t seq, const uint8_t *prev,
                                 int bad_row, const char *squat, size_t *len) {
  s_hrow h[2];
  Linli__Value idv[2];
  Linli__RowChange *rows[2];
  Linli__TableChanges tc[2] = {LINLI__TABLE_CHANGES__INIT, LINLI__TABLE_CHANGES__INIT}, *tables[2] = {&tc[0], &tc[1]};
  int n = bad_row ? 2 : 1;
  for (int i = 0; i < n; i++) {
    s_hostile_row(w, &h[i], scope, i ? bad_row : 0, squat);
    linli__value__init(&idv[i]);
    idv[i].v_case = LINLI__VALUE__V_T, idv[i].t = h[i].id;
    h[i].pk[0] = &idv[i];
    rows[i] = &h[i].rc;
    tc[i].table = i && bad_row == 3 ? "no_such_table" : "care_visits";
    tc[i].columns = (char **)s_hcols, tc[i].n_columns = 8, tc[i].rows = &rows[i], tc[i].n_rows = 1;
  }
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin.data = nd->id.pk, c.origin.len = LI_PK_BYTES;
  c.scope = (char *)scope;
  c.seq = seq;
  if (seq > 1) c.prev.data = (uint8_t *)prev, c.prev.len = LI_HASH_BYTES;
  c.hlc = LI_HLC_MAKE(sim_wall(w, nd), 7);
  c.schema_version = LI_SCHEMA_VERSION;
  c.tables = tables, c.n_tables = (size_t)n;
  uint8_t *out = NULL, hash[LI_HASH_BYTES];
  li_errbuf eb;
  if (li_commit_seal(&nd->id, w->n[SIM_HUB].id.pk, &c, &out, len, hash, &eb) != LI_OK) return NULL;
  return out;
}

static uint8_t *s_batch_env(const uint8_t *commit, size_t clen, size_t *len) {
  ProtobufCBinaryData b = {.len = clen, .data = (uint8_t *)commit};
  Linli__Batch batch = LINLI__BATCH__INIT;
  batch.exchange = 1, batch.id = 1, batch.commits = &b, batch.n_commits = 1;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_BATCH, env.batch = &batch;
  *len = linli__envelope__get_packed_size(&env);
  uint8_t *out = malloc(*len);
  if (out) linli__envelope__pack(&env, out);
  return out;
}

/* The hub's head of the hostile's chain in its own scope (0 if none). */
static uint64_t s_hub_head(sim_world *w, const uint8_t *origin, const char *scope, uint8_t prev[LI_HASH_BYTES],
                           uint8_t prevprev[LI_HASH_BYTES]) {
  sqlite3_stmt *st = NULL;
  uint64_t seq = 0;
  if (sqlite3_prepare_v2(w->n[SIM_HUB].r->db, "SELECT seq, hash FROM linli_log WHERE origin=? AND scope=? ORDER BY seq DESC LIMIT 2", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  int row = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (row == 0) seq = (uint64_t)sqlite3_column_int64(st, 0), memcpy(prev, sqlite3_column_blob(st, 1), LI_HASH_BYTES);
    else memcpy(prevprev, sqlite3_column_blob(st, 1), LI_HASH_BYTES);
    row++;
  }
  sqlite3_finalize(st);
  return seq;
}

static void s_hostile(sim_world *w, sim_node *nd) {
  sim_node *hub = &w->n[SIM_HUB];
  li_driver_peer_info in;
  if (!nd->up || !hub->up || !sim_link_up(w, nd->idx) || !nd->conn || !li_driver_peer(hub->drv, nd->id.pk, &in) ||
      !in.linked)
    return;
  if (in.session.state == LI_SESSION_IDLE) return; /* a batch would just be refused as out of place */
  static const sim_fault kinds[] = {F_HOSTILE_FORGE, F_HOSTILE_SCOPE, F_HOSTILE_EQUIVOCATE, F_HOSTILE_REPLAY,
                                     F_HOSTILE_GARBAGE, F_HOSTILE_BAD_ROW, F_HOSTILE_SQUAT};
  sim_fault f = kinds[sim_below(&w->rng, sizeof kinds / sizeof kinds[0])];
  if (!sim_enabled(w, f)) return;
  uint8_t *msg = NULL, *commit = NULL;
  size_t len = 0, clen = 0;
  uint8_t prev[LI_HASH_BYTES] = {0}, prevprev[LI_HASH_BYTES] = {0};
  uint64_t head = s_hub_head(w, nd->id.pk, nd->scope, prev, prevprev);
  int forged_before = nd->hostile_seq_forged;
  switch (f) {
  case F_HOSTILE_FORGE:
    commit = s_hostile_commit(w, nd, nd->scope, head + 1, prev, 0, NULL, &clen);
    if (commit && clen > 10) commit[clen - 3] ^= 0x55; /* inside the signature */
    break;
  case F_HOSTILE_SCOPE: {
    const char *victim = w->n[1].scope;
    commit = s_hostile_commit(w, nd, victim, 1, NULL, 0, NULL, &clen);
    break;
  }
  case F_HOSTILE_EQUIVOCATE:
    if (head == 0) return;
    commit = s_hostile_commit(w, nd, nd->scope, head, prevprev, 0, NULL, &clen);
    if (commit) nd->hostile_seq_forged = (int)head;
    break;
  case F_HOSTILE_BAD_ROW: /* valid and next in its chain: applied, the bad row refused */
    commit = s_hostile_commit(w, nd, nd->scope, head + 1, prev, 1 + (int)sim_below(&w->rng, 3), NULL, &clen);
    break;
  case F_HOSTILE_SQUAT: /* valid, in its own scope, with the keys of an honest scope's rows: another row */
    commit = s_hostile_commit(w, nd, nd->scope, head + 1, prev, 0, w->n[1 + sim_below(&w->rng, (uint32_t)(w->count - 2))].scope,
                              &clen);
    break;
  case F_HOSTILE_REPLAY: {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(nd->r->db, "SELECT sc FROM linli_log ORDER BY seq LIMIT 1", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      clen = (size_t)sqlite3_column_bytes(st, 0);
      commit = malloc(clen ? clen : 1);
      if (commit) memcpy(commit, sqlite3_column_blob(st, 0), clen);
    }
    sqlite3_finalize(st);
    break;
  }
  default: /* garbage */
    len = 1 + sim_below(&w->rng, 200);
    msg = malloc(len);
    for (size_t i = 0; msg && i < len; i++) msg[i] = (uint8_t)sim_rand(&w->rng);
  }
  if (commit) {
    msg = s_batch_env(commit, clen, &len);
    free(commit);
  }
  if (!msg) return;
  w->faults[f]++;
  sim_trace(w, "HOSTILE %s", sim_fault_names[f]);
  /* on the hostile node's own connection, as if it had sent it */
  li_conn id = sim_conn_id(nd->idx, nd->conn);
  li_driver_recv(hub->drv, &id, nd->id.pk, msg, len, sim_now(w, hub));
  /* a batch that met a session just made for this connection (the hub had
   * not seen it yet) is refused as out of place, unread: nothing was
   * equivocated to the hub then */
  if (f == F_HOSTILE_EQUIVOCATE && li_driver_peer(hub->drv, nd->id.pk, &in) && in.session.state == LI_SESSION_IDLE)
    nd->hostile_seq_forged = forged_before;
  sim_flush(w, hub);
  free(msg);
}

/* ---- restored backups and `linli recover` ---- */

/* A committee's backup: its replica as it is now, into path.snap. */
static void s_snapshot(sim_world *w, sim_node *nd) {
  char snap[600], *sql;
  snprintf(snap, sizeof snap, "%s.snap", nd->path);
  unlink(snap);
  sql = sqlite3_mprintf("VACUUM INTO %Q", snap);
  int rc = sql ? sqlite3_exec(nd->r->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  nd->has_snap = rc == SQLITE_OK;
  sim_trace(w, "SNAPSHOT %s rc=%d", nd->name, rc);
}

static bool s_copy(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
  bool ok = a && b;
  char buf[65536];
  size_t n;
  while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
  if (a) fclose(a);
  if (b && fclose(b) != 0) ok = false;
  return ok;
}

/* The committee stops and starts again from its last snapshot: what it
 * wrote and sealed since is gone from it; what reached the hub it must take
 * back before it seals (the seal gate), so its chain never forks. */
static void s_restore(sim_world *w, sim_node *nd) {
  char snap[600], side[600];
  snprintf(snap, sizeof snap, "%s.snap", nd->path);
  sim_crash(w, nd, F_RESTORE);
  unlink(nd->path);
  snprintf(side, sizeof side, "%s-wal", nd->path), unlink(side);
  snprintf(side, sizeof side, "%s-shm", nd->path), unlink(side);
  if (!s_copy(snap, nd->path)) sim_fail(w, "%s: cannot restore its snapshot", nd->name);
}

/* The committee runs `linli recover` (a new key; the old one's chain as the
 * hub holds it is final, the rest sealed again) and the street office
 * `linli roster replace`, both while it is stopped. */
static void s_recover(sim_world *w, sim_node *nd) {
  sim_node *hub = &w->n[SIM_HUB];
  li_errbuf eb = {{0}};
  sim_crash(w, nd, F_RECOVER);
  li_replica *r = NULL;
  if (li_replica_open(nd->path, &r, &eb) != LI_OK) {
    sim_fail(w, "%s: recover cannot open its replica: %s", nd->name, eb.msg);
    return;
  }
  if (li_recover_pending(r, NULL)) { /* an earlier one waits for the hub: linli recover refuses */
    sim_trace(w, "RECOVER %s refused: one is pending", nd->name);
    li_replica_close(&r);
    return;
  }
  li_identity id;
  uint8_t seed[32];
  uint64_t k[3] = {w->o.seed, (uint64_t)nd->idx, 100 + (uint64_t)nd->nold};
  crypto_generichash(seed, sizeof seed, (const unsigned char *)k, sizeof k, NULL, 0);
  crypto_sign_seed_keypair(id.pk, id.sk, seed);
  li_recover_report rep;
  memset(&rep, 0, sizeof rep);
  li_err e = li_recover_replica(r, id.pk, sim_wall(w, nd), &rep, &eb);
  li_replica_close(&r);
  if (e) {
    sim_fail(w, "%s: recover: %s", nd->name, li_errmsg(&eb, e));
    return;
  }
  memcpy(nd->old_keys[nd->nold++], nd->id.pk, LI_PK_BYTES);
  /* a backup from before is of the old key, revoked now: restoring it would
   * need `recover` again (README); the office takes a new backup instead */
  nd->has_snap = false;
  li_identity_wipe(&nd->id);
  nd->id = id;
  memcpy(nd->dcfg.self, id.pk, LI_PK_BYTES);
  char pk[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(id.pk, pk);
  uint64_t after = 0;
  if (li_roster_replace(hub->r, nd->name, pk, sim_wall(w, hub), &after, &eb) != LI_OK)
    sim_fail(w, "hub: roster replace %s: %s", nd->name, eb.msg);
  sim_trace(w, "RECOVER %s: new key, the old revoked after #%llu", nd->name, (unsigned long long)after);
}

/* Backups, restores and recoveries of honest committees. */
static void s_liveness(sim_world *w) {
  sim_rng *r = &w->rng;
  sim_node *nd = &w->n[1 + sim_below(r, (uint32_t)(w->count - 1))];
  if (nd->hostile || !nd->up) return;
  if (sim_enabled(w, F_RESTORE) && sim_chance_10k(r, 20)) s_snapshot(w, nd);
  else if (sim_enabled(w, F_RESTORE) && nd->has_snap && sim_chance_10k(r, 12)) s_restore(w, nd);
  else if (sim_enabled(w, F_RECOVER) && w->n[SIM_HUB].up && nd->nold < SIM_OLD_KEYS_MAX && sim_chance_10k(r, 6))
    s_recover(w, nd);
}

/* ---- schema migrations (DESIGN 14) ---- */

/* The street's migrations. A run applies some of them, each at most once,
 * in an order drawn from the seed (versions 2, 3, ... in that order); one
 * with a dep waits until that one is in. workload.c writes what they add
 * as soon as a replica has it. */
static const struct {
  const char *sql;
  int dep; /* the index of the migration it builds on, -1: none */
} s_migrations[] = {
    {"ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT ''", -1},
    {"ALTER TABLE care_visits ADD COLUMN minutes INTEGER NOT NULL DEFAULT 0", -1},
    {"CREATE TABLE volunteer_hours (id TEXT NOT NULL, scope TEXT NOT NULL, hours REAL NOT NULL DEFAULT 0, "
     "note TEXT, PRIMARY KEY (id, scope))",
     -1},
    {"CREATE INDEX hazards_scope_deadline ON hazards(scope, deadline)", -1},
    {"ALTER TABLE hazards ADD COLUMN verified_by TEXT", -1},
    {"ALTER TABLE notices ADD COLUMN priority INTEGER DEFAULT 0; "
     "CREATE INDEX notices_priority ON notices(scope, priority)",
     -1},
    {"ALTER TABLE volunteer_hours ADD COLUMN task TEXT NOT NULL DEFAULT '助老'", 2},
    {"CREATE INDEX volunteer_hours_task ON volunteer_hours(scope, task)", 6},
};

/* Migrations the hub must refuse, changing nothing: tried now and then
 * between the real ones (the checker's refusals under load). */
static const char *const s_refused[] = {
    "DROP TABLE hazards",
    "ALTER TABLE hazards RENAME COLUMN location TO place",
    "ALTER TABLE care_visits ADD COLUMN mins INTEGER DEFAULT 0 CHECK (mins >= 0)",
    "ALTER TABLE meal_points ADD COLUMN owner TEXT NOT NULL",
    "CREATE UNIQUE INDEX hazards_location ON hazards(location)",
};

#define S_NMIG ((int)(sizeof s_migrations / sizeof s_migrations[0]))
_Static_assert(S_NMIG <= SIM_MIGRATIONS_MAX, "mig_done has a bit per migration");

static bool s_mig_check(const sim_world *w) {
  if (w->schema_version != 1u + (uint32_t)__builtin_popcount(w->mig_done)) return false;
  for (int k = 0; k < S_NMIG; k++)
    if ((w->mig_done >> k & 1u) && s_migrations[k].dep >= 0 && !(w->mig_done >> s_migrations[k].dep & 1u)) return false;
  return true;
}

/* Whether an honest committee is cut off from the hub now. */
static bool s_some_cut(const sim_world *w) {
  for (int c = 1; c < w->count; c++)
    if (!w->n[c].hostile && !sim_link_up(w, c)) return true;
  return false;
}

/* Now and then, the hub applies the next migration: five times as often
 * while a committee is cut off, so that committees keep writing under the
 * old schema and the migration reaches them after the heal. */
static void s_migrate(sim_world *w) {
  sim_rng *r = &w->rng;
  sim_node *hub = &w->n[SIM_HUB];
  assert(s_mig_check(w));
  if (!hub->up) return;
  bool cut = s_some_cut(w);
  if (!sim_chance_10k(r, cut ? 50 : 10)) return;
  int ready[S_NMIG], n = 0;
  for (int k = 0; k < S_NMIG; k++)
    if (!(w->mig_done >> k & 1u) && (s_migrations[k].dep < 0 || (w->mig_done >> s_migrations[k].dep & 1u)))
      ready[n++] = k;
  if (n == 0) return;
  int k = ready[sim_below(r, (uint32_t)n)];
  li_errbuf eb = {{0}};
  uint32_t v = 0;
  if (sim_chance(r, 250)) { /* one in four */
    const char *bad = s_refused[sim_below(r, (uint32_t)(sizeof s_refused / sizeof *s_refused))];
    li_err be = li_schema_apply(hub->r, bad, sim_wall(w, hub), &v, &eb);
    if (be != LI_ERR_MIGRATION || li_replica_schema_version(hub->r) != w->schema_version) {
      sim_fail(w, "hub: the migration '%s' was not refused (%s), or it changed the version", bad, li_errname(be));
      return;
    }
    w->counts.mig_refused++;
    sim_trace(w, "MIGRATE refused, nothing changed: %s: %s", bad, eb.msg);
    eb.msg[0] = 0;
  }
  li_err e = li_schema_apply(hub->r, s_migrations[k].sql, sim_wall(w, hub), &v, &eb);
  if (e) {
    sim_fail(w, "hub: schema apply of migration %d (%s): %s", k, s_migrations[k].sql, li_errmsg(&eb, e));
    return;
  }
  if (v != w->schema_version + 1 || li_replica_schema_version(hub->r) != v) {
    sim_fail(w, "hub: schema apply made version %u (replica says %u), expected %u", v, li_replica_schema_version(hub->r),
             w->schema_version + 1);
    return;
  }
  w->mig_done |= 1u << k;
  w->schema_version = v;
  w->faults[F_MIGRATE]++;
  if (cut && !w->counts.mig_cut++) w->counts.mig_cut_runs = 1;
  sim_trace(w, "MIGRATE hub to schema version %u%s: %s", v, cut ? " (a committee is cut off)" : "", s_migrations[k].sql);
  assert(s_mig_check(w));
}

void sim_faults(sim_world *w) {
  sim_rng *r = &w->rng;
  if (sim_chance(r, 8)) sim_partition(w);
  if (sim_chance(r, 10)) sim_heal(w);
  if (sim_chance(r, 6)) {
    /* the network's mood changes */
    w->drop_pm = sim_enabled(w, F_DROP) && sim_chance(r, 500) ? sim_below(r, 150) : 0;
    w->dup_pm = sim_enabled(w, F_DUP) && sim_chance(r, 500) ? sim_below(r, 150) : 0;
    w->reorder_pm = sim_enabled(w, F_REORDER) && sim_chance(r, 500) ? sim_below(r, 300) : 0;
    w->delay_pm = sim_enabled(w, F_DELAY) && sim_chance(r, 500) ? sim_below(r, 100) : 0;
    sim_trace(w, "NET drop %u dup %u reorder %u delay %u", w->drop_pm, w->dup_pm, w->reorder_pm, w->delay_pm);
  }
  if (sim_chance(r, 3)) {
    sim_node *nd = &w->n[sim_below(r, (uint32_t)w->count)];
    if (nd->up && !nd->hostile) {
      if (sim_enabled(w, F_CRASH_MID_TXN) && sim_chance(r, 400)) {
        sim_workload_open_txn(w, nd);
        sim_crash(w, nd, F_CRASH_MID_TXN);
      } else if (sim_enabled(w, F_CRASH)) {
        sim_crash(w, nd, F_CRASH);
      }
    }
  }
  if (sim_chance(r, 4)) {
    sim_node *nd = &w->n[1 + sim_below(r, (uint32_t)(w->count - 1))];
    if (nd->skew_ms == 0 && !nd->hostile) {
      if (sim_enabled(w, F_CLOCK_JUMP) && sim_chance(r, 150)) {
        nd->skew_ms = SIM_JUMP_MS + (int64_t)sim_below(r, 86400000);
        w->faults[F_CLOCK_JUMP]++;
      } else if (sim_enabled(w, F_SKEW_AHEAD) && sim_chance(r, 500)) {
        nd->skew_ms = SIM_AHEAD_MS;
        w->faults[F_SKEW_AHEAD]++;
      } else if (sim_enabled(w, F_SKEW_BEHIND)) {
        nd->skew_ms = -(int64_t)(1000 + sim_below(r, 30000));
        w->faults[F_SKEW_BEHIND]++;
      }
      sim_trace(w, "SKEW %s %lld ms", nd->name, (long long)nd->skew_ms);
    } else if (nd->skew_ms != 0 && sim_chance(r, 300)) {
      nd->skew_ms = 0;
      sim_trace(w, "CLOCK FIXED %s", nd->name);
    }
  }
  s_liveness(w);
  if (sim_enabled(w, F_MIGRATE)) s_migrate(w);
  for (int i = 0; i < w->count; i++)
    if (w->n[i].hostile && sim_chance(r, 30)) s_hostile(w, &w->n[i]);
}


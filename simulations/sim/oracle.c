/* oracle: the end-of-run invariants of linli-sim.
 *
 * The expected state is computed by an independent model of DESIGN 4: every
 * commit the hub holds is folded, in any order, into an in-memory table of
 * rows (causal length) and columns (value, hlc, origin), where a greater
 * causal length starts the row afresh and within one causal length each
 * column keeps the value of the greatest (hlc, origin key). Then:
 *  1. every honest node's sealed commits are held by the hub (nothing sealed
 *     is lost), and every committee holds every commit of the scopes it reads
 *     and none of the others;
 *  2. the hub's tracked tables equal the model on every scope, and every
 *     honest committee's equal it on its scope and 'street';
 *  3. the hostile node's commits the hub holds are all in its own scope, and
 *     an equivocation it was seen to make is recorded with evidence and a ban;
 *  4. PRAGMA integrity_check is ok everywhere. */
#include <string.h>

#include "commit.h"
#include "sim.h"
#include "value.h"

static bool s_integrity(sim_world *w, sim_node *nd) {
  sqlite3_stmt *st = NULL;
  bool ok = sqlite3_prepare_v2(nd->r->db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
  sqlite3_finalize(st);
  if (!ok) sim_fail(w, "%s: PRAGMA integrity_check is not ok", nd->name);
  return ok;
}

/* Every (origin, scope, seq, hash) of `sub` that `cond` selects is in `sup`. */
static bool s_log_subset(sim_world *w, sim_node *sub, sim_node *sup, const char *cond, const char *what) {
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT origin, scope, seq, hash FROM linli_log WHERE %s", cond);
  sqlite3_stmt *a = NULL, *b = NULL;
  if (sqlite3_prepare_v2(sub->r->db, sql, -1, &a, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(sup->r->db, "SELECT hash FROM linli_log WHERE origin=? AND scope=? AND seq=?", -1, &b, NULL) !=
          SQLITE_OK) {
    sqlite3_finalize(a);
    sim_fail(w, "oracle: cannot query logs");
    return false;
  }
  sqlite3_bind_blob(a, 1, sub->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  bool ok = true;
  while (ok && sqlite3_step(a) == SQLITE_ROW) {
    sqlite3_bind_value(b, 1, sqlite3_column_value(a, 0));
    sqlite3_bind_value(b, 2, sqlite3_column_value(a, 1));
    sqlite3_bind_value(b, 3, sqlite3_column_value(a, 2));
    if (sqlite3_step(b) != SQLITE_ROW || sqlite3_column_bytes(b, 0) != sqlite3_column_bytes(a, 3) ||
        memcmp(sqlite3_column_blob(b, 0), sqlite3_column_blob(a, 3), LI_HASH_BYTES) != 0) {
      sim_fail(w, "%s: %s lacks %s#%lld held by %s", what, sup->name, sqlite3_column_text(a, 1),
               (long long)sqlite3_column_int64(a, 2), sub->name);
      ok = false;
    }
    sqlite3_reset(b);
  }
  sqlite3_finalize(a);
  sqlite3_finalize(b);
  return ok;
}

/* ---- the model ---- */

static bool s_model_build(sim_world *w, sqlite3 *m) {
  if (sqlite3_exec(m,
                   "CREATE TABLE o_row(tbl TEXT, pk ANY, cl INTEGER, PRIMARY KEY(tbl, pk));"
                   "CREATE TABLE o_col(tbl TEXT, pk ANY, col TEXT, val ANY, hlc INTEGER, origin BLOB,"
                   " PRIMARY KEY(tbl, pk, col));",
                   NULL, NULL, NULL) != SQLITE_OK)
    return false;
  sqlite3_stmt *q = NULL, *get = NULL, *setrow = NULL, *clear = NULL, *getcol = NULL, *setcol = NULL;
  sqlite3_prepare_v2(w->n[SIM_HUB].r->db, "SELECT sc FROM linli_log ORDER BY id DESC", -1, &q, NULL);
  sqlite3_prepare_v2(m, "SELECT cl FROM o_row WHERE tbl=? AND pk=?", -1, &get, NULL);
  sqlite3_prepare_v2(m, "INSERT OR REPLACE INTO o_row VALUES(?,?,?)", -1, &setrow, NULL);
  sqlite3_prepare_v2(m, "DELETE FROM o_col WHERE tbl=? AND pk=?", -1, &clear, NULL);
  sqlite3_prepare_v2(m, "SELECT hlc, origin FROM o_col WHERE tbl=? AND pk=? AND col=?", -1, &getcol, NULL);
  sqlite3_prepare_v2(m, "INSERT OR REPLACE INTO o_col VALUES(?,?,?,?,?,?)", -1, &setcol, NULL);
  li_arena a;
  li_arena_init(&a);
  bool ok = q && get && setrow && clear && getcol && setcol;
  while (ok && sqlite3_step(q) == SQLITE_ROW) {
    li_arena_reset(&a);
    li_commit c;
    li_errbuf eb;
    if (li_commit_open(w->n[SIM_HUB].id.pk, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), &a, &c, &eb)) {
      sim_fail(w, "oracle: a commit the hub holds does not open: %s", eb.msg);
      ok = false;
      break;
    }
    for (size_t t = 0; t < c.c->n_tables; t++) {
      const Linli__TableChanges *tc = c.c->tables[t];
      for (size_t j = 0; j < tc->n_rows; j++) {
        const Linli__RowChange *ch = tc->rows[j];
        if (ch->n_pk != 1) continue; /* the street schema has single keys */
        sqlite3_bind_text(get, 1, tc->table, -1, SQLITE_STATIC);
        li_value_bind(get, 2, ch->pk[0]);
        int64_t cl = sqlite3_step(get) == SQLITE_ROW ? sqlite3_column_int64(get, 0) : 0;
        sqlite3_reset(get);
        int64_t in = (int64_t)ch->cl;
        if (in < cl || (in == cl && in % 2 == 0)) continue;
        if (in > cl) {
          sqlite3_bind_text(setrow, 1, tc->table, -1, SQLITE_STATIC);
          li_value_bind(setrow, 2, ch->pk[0]);
          sqlite3_bind_int64(setrow, 3, in);
          sqlite3_step(setrow), sqlite3_reset(setrow);
          sqlite3_bind_text(clear, 1, tc->table, -1, SQLITE_STATIC);
          li_value_bind(clear, 2, ch->pk[0]);
          sqlite3_step(clear), sqlite3_reset(clear);
        }
        for (size_t k = 0; k < ch->n_cols; k++) {
          const char *col = tc->columns[ch->cols[k]];
          sqlite3_bind_text(getcol, 1, tc->table, -1, SQLITE_STATIC);
          li_value_bind(getcol, 2, ch->pk[0]);
          sqlite3_bind_text(getcol, 3, col, -1, SQLITE_STATIC);
          bool take = true;
          if (sqlite3_step(getcol) == SQLITE_ROW) {
            uint64_t h = (uint64_t)sqlite3_column_int64(getcol, 0);
            if (h > c.hlc) take = false;
            else if (h == c.hlc) take = memcmp(c.origin, sqlite3_column_blob(getcol, 1), LI_PK_BYTES) > 0;
          }
          sqlite3_reset(getcol);
          if (!take) continue;
          sqlite3_bind_text(setcol, 1, tc->table, -1, SQLITE_STATIC);
          li_value_bind(setcol, 2, ch->pk[0]);
          sqlite3_bind_text(setcol, 3, col, -1, SQLITE_STATIC);
          li_value_bind(setcol, 4, ch->values[k]);
          sqlite3_bind_int64(setcol, 5, (int64_t)c.hlc);
          sqlite3_bind_blob(setcol, 6, c.origin, LI_PK_BYTES, SQLITE_STATIC);
          sqlite3_step(setcol), sqlite3_reset(setcol);
        }
      }
    }
  }
  li_arena_free(&a);
  sqlite3_finalize(q), sqlite3_finalize(get), sqlite3_finalize(setrow), sqlite3_finalize(clear);
  sqlite3_finalize(getcol), sqlite3_finalize(setcol);
  return ok;
}

/* Rows of table t in the scopes (a SQL list) as one text, from the node and
 * from the model, compared. */
static bool s_compare_table(sim_world *w, sqlite3 *m, sim_node *nd, const li_table *t, const char *scopes) {
  /* the node: quote() of every column in table order */
  char *cols = sqlite3_mprintf("quote(\"%w\")", t->cols[0]);
  for (int i = 1; i < t->ncols; i++) {
    char *n2 = sqlite3_mprintf("%s || '|' || quote(\"%w\")", cols, t->cols[i]);
    sqlite3_free(cols);
    cols = n2;
  }
  char *qa = sqlite3_mprintf("SELECT group_concat(r, char(10)) FROM (SELECT %s AS r FROM \"%w\" WHERE scope IN (%s) ORDER BY \"%w\")",
                             cols, t->name, scopes, t->cols[t->pk[0]]);
  sqlite3_free(cols);
  /* the model: the same text from o_row/o_col */
  char *mc = NULL;
  for (int i = 0; i < t->ncols; i++) {
    char *part = i == t->pk[0] ? sqlite3_mprintf("quote(r.pk)")
                               : sqlite3_mprintf("quote((SELECT val FROM o_col c WHERE c.tbl=r.tbl AND c.pk=r.pk AND c.col=%Q))",
                                                 t->cols[i]);
    char *n2 = mc ? sqlite3_mprintf("%s || '|' || %s", mc, part) : sqlite3_mprintf("%s", part);
    sqlite3_free(mc);
    sqlite3_free(part);
    mc = n2;
  }
  char *qb = sqlite3_mprintf(
      "SELECT group_concat(x, char(10)) FROM (SELECT %s AS x FROM o_row r WHERE r.tbl=%Q AND r.cl %% 2 = 1 AND "
      "(SELECT val FROM o_col c WHERE c.tbl=r.tbl AND c.pk=r.pk AND c.col='scope') IN (%s) ORDER BY r.pk)",
      mc, t->name, scopes);
  sqlite3_free(mc);
  sqlite3_stmt *sa = NULL, *sb = NULL;
  bool ok = sqlite3_prepare_v2(nd->r->db, qa, -1, &sa, NULL) == SQLITE_OK && sqlite3_step(sa) == SQLITE_ROW &&
            sqlite3_prepare_v2(m, qb, -1, &sb, NULL) == SQLITE_OK && sqlite3_step(sb) == SQLITE_ROW;
  if (!ok) {
    sim_fail(w, "oracle: cannot compare table %s: %s / %s", t->name, sqlite3_errmsg(nd->r->db), sqlite3_errmsg(m));
  } else {
    const char *x = (const char *)sqlite3_column_text(sa, 0), *y = (const char *)sqlite3_column_text(sb, 0);
    if ((x || y) && (!x || !y || strcmp(x, y) != 0)) {
      sim_fail(w, "%s: table %s on scopes %s differs from the model:\n  replica: %.300s\n  model:   %.300s", nd->name,
               t->name, scopes, x ? x : "(none)", y ? y : "(none)");
      ok = false;
    }
  }
  sqlite3_finalize(sa);
  sqlite3_finalize(sb);
  sqlite3_free(qa);
  sqlite3_free(qb);
  return ok;
}

bool sim_check_final(sim_world *w) {
  sim_node *hub = &w->n[SIM_HUB];
  for (int i = 0; i < w->count; i++)
    if (w->n[i].up && !s_integrity(w, &w->n[i])) return false;
  for (int i = 1; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (nd->hostile) continue;
    if (!s_log_subset(w, nd, hub, "origin = ?1", "nothing sealed is lost")) return false;
    char cond[128];
    snprintf(cond, sizeof cond, "scope IN ('%s', 'street') OR ?1 IS NULL", nd->scope);
    if (!s_log_subset(w, hub, nd, cond, "every commit of a readable scope arrives")) return false;
    sqlite3_stmt *st = NULL;
    int foreign = 0;
    if (sqlite3_prepare_v2(nd->r->db, "SELECT count(*) FROM linli_log WHERE scope NOT IN (?, 'street')", -1, &st, NULL) ==
        SQLITE_OK) {
      sqlite3_bind_text(st, 1, nd->scope, -1, SQLITE_STATIC);
      if (sqlite3_step(st) == SQLITE_ROW) foreign = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (foreign) return sim_fail(w, "%s holds %d commit(s) of scopes it may not read", nd->name, foreign), false;
  }
  sqlite3 *m = NULL;
  if (sqlite3_open(":memory:", &m) != SQLITE_OK || !s_model_build(w, m)) {
    sqlite3_close(m);
    if (!w->failure[0]) sim_fail(w, "oracle: cannot build the model");
    return false;
  }
  bool ok = true;
  for (int i = 0; ok && i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (nd->hostile) continue;
    for (int t = 0; ok && t < nd->r->ntables; t++) {
      const li_table *tb = &nd->r->tables[t];
      if (nd->hub) { /* every scope, one by one */
        for (int c = 0; ok && c < w->count; c++) {
          char one[64];
          snprintf(one, sizeof one, "'%s'", w->n[c].scope);
          ok = s_compare_table(w, m, nd, tb, one);
        }
      } else {
        char scopes[128];
        snprintf(scopes, sizeof scopes, "'%s', 'street'", nd->scope);
        ok = s_compare_table(w, m, nd, tb, scopes);
      }
    }
  }
  sqlite3_close(m);
  if (!ok) return false;
  /* the hostile node */
  for (int i = 1; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (!nd->hostile) continue;
    sqlite3_stmt *st = NULL;
    int outside = 0, banned = 0, evidence = 0;
    if (sqlite3_prepare_v2(hub->r->db,
                           "SELECT (SELECT count(*) FROM linli_log WHERE origin=?1 AND scope<>?2),"
                           " (SELECT count(*) FROM linli_banned WHERE origin=?1),"
                           " (SELECT count(*) FROM linli_evidence WHERE origin=?1)",
                           -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_blob(st, 1, nd->id.pk, LI_PK_BYTES, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, nd->scope, -1, SQLITE_STATIC);
      if (sqlite3_step(st) == SQLITE_ROW)
        outside = sqlite3_column_int(st, 0), banned = sqlite3_column_int(st, 1), evidence = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    if (outside) return sim_fail(w, "the hub applied %d commit(s) the hostile node wrote outside its scope", outside), false;
    if (nd->hostile_seq_forged && (!banned || evidence < 2))
      return sim_fail(w, "the hostile node equivocated at #%d but the hub holds no evidence or ban", nd->hostile_seq_forged),
             false;
  }
  return true;
}

bool sim_converged(sim_world *w) {
  /* cheap: the hub's heads equal every honest committee's on its readable scopes */
  sim_node *hub = &w->n[SIM_HUB];
  for (int i = 1; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (nd->hostile || !nd->up) continue;
    const char *sql =
        "SELECT group_concat(x, ',') FROM (SELECT hex(origin) || scope || seq AS x FROM linli_vv WHERE scope IN (?1, "
        "'street') ORDER BY origin, scope)";
    sqlite3_stmt *a = NULL, *b = NULL;
    bool same = sqlite3_prepare_v2(hub->r->db, sql, -1, &a, NULL) == SQLITE_OK &&
                sqlite3_prepare_v2(nd->r->db, sql, -1, &b, NULL) == SQLITE_OK;
    if (same) {
      sqlite3_bind_text(a, 1, nd->scope, -1, SQLITE_STATIC);
      sqlite3_bind_text(b, 1, nd->scope, -1, SQLITE_STATIC);
      same = sqlite3_step(a) == SQLITE_ROW && sqlite3_step(b) == SQLITE_ROW;
      const char *x = same ? (const char *)sqlite3_column_text(a, 0) : NULL;
      const char *y = same ? (const char *)sqlite3_column_text(b, 0) : NULL;
      same = same && ((!x && !y) || (x && y && strcmp(x, y) == 0));
    }
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    if (!same) return false;
  }
  return true;
}

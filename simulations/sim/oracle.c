/* oracle: the end-of-run invariants of linli-sim.
 *
 * The expected state is computed by an independent model of DESIGN 4: every
 * commit the hub holds is folded, in any order, into an in-memory table of
 * rows (causal length) and columns (value, hlc, origin), where a greater
 * causal length starts the row afresh and within one causal length each
 * column keeps the value of the greatest (hlc, origin key); a column no
 * change of the generation set holds its constant DEFAULT (a row a commit
 * of an older schema made, or one a migration gave a column), else NULL.
 * The model knows the tables and columns of the hub's schema at the end,
 * migrations included. Then:
 *  1. every honest node's sealed commits are held by the hub (nothing sealed
 *     is lost), and every committee holds every commit of the scopes it reads
 *     and none of the others;
 *  2. the hub's tracked tables equal the model on every scope, and every
 *     honest committee's equal it on its scope and 'street'; rows are
 *     (table, scope, key), keys of any number of columns;
 *  2b. no row change of an honest node was refused anywhere (linli_refused
 *     holds the hostile node's only);
 *  2c. liveness (issue 9): no honest node banned an honest key (also one
 *     replaced by `recover`) or holds a stuck chain of one; what a node
 *     sealed before a `recover` and kept is held by the hub too;
 *  3. the hostile node's commits the hub holds are all in its own scope, and
 *     an equivocation it was seen to make is recorded with evidence and a ban;
 *  4. PRAGMA integrity_check is ok everywhere;
 *  5. schema (DESIGN 14): every honest replica is at the hub's schema
 *     version with the same linli_migrations (version, statements, schema
 *     commit), tracks the same tables with the same columns (PRAGMA
 *     table_xinfo) and indexes as the hub, and no tracked table's triggers
 *     lag its columns (capture drift). Checked before 2, which then covers
 *     the migrated columns and tables: nothing written before or after a
 *     migration, under either schema, is lost. */
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

/* Every (origin, scope, seq, hash) of `sub` that `cond` selects is in `sup`
 * (?1 in cond: key). */
static bool s_log_subset(sim_world *w, sim_node *sub, sim_node *sup, const uint8_t *key, const char *cond,
                         const char *what) {
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
  sqlite3_bind_blob(a, 1, key, LI_PK_BYTES, SQLITE_STATIC);
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

/* A row is (table, scope, key columns besides scope) (node/capture.h). The
 * model keys its rows by (table, scope, the key's text), keeps the key
 * columns' values in o_key and every other column's (value, hlc, origin)
 * in o_col. */
typedef struct {
  sqlite3 *m;
  sqlite3_stmt *get, *setrow, *clear, *getcol, *setcol, *setkey;
} s_model;

static const char s_model_sql[] =
    "CREATE TABLE o_row(tbl TEXT, scope TEXT, pk TEXT, cl INTEGER, PRIMARY KEY(tbl, scope, pk));"
    "CREATE TABLE o_key(tbl TEXT, scope TEXT, pk TEXT, col TEXT, val, PRIMARY KEY(tbl, scope, pk, col));"
    "CREATE TABLE o_col(tbl TEXT, scope TEXT, pk TEXT, col TEXT, val, hlc INTEGER, origin BLOB,"
    " PRIMARY KEY(tbl, scope, pk, col));";

static bool s_model_open(s_model *md, sqlite3 *m) {
  memset(md, 0, sizeof *md);
  md->m = m;
  return sqlite3_exec(m, s_model_sql, NULL, NULL, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(m, "SELECT cl FROM o_row WHERE tbl=?1 AND scope=?2 AND pk=?3", -1, &md->get, NULL) == 0 &&
         sqlite3_prepare_v2(m, "INSERT OR REPLACE INTO o_row VALUES(?1,?2,?3,?4)", -1, &md->setrow, NULL) == 0 &&
         sqlite3_prepare_v2(m, "DELETE FROM o_col WHERE tbl=?1 AND scope=?2 AND pk=?3", -1, &md->clear, NULL) == 0 &&
         sqlite3_prepare_v2(m, "SELECT hlc, origin FROM o_col WHERE tbl=?1 AND scope=?2 AND pk=?3 AND col=?4", -1,
                            &md->getcol, NULL) == 0 &&
         sqlite3_prepare_v2(m, "INSERT OR REPLACE INTO o_col VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &md->setcol, NULL) == 0 &&
         sqlite3_prepare_v2(m, "INSERT OR REPLACE INTO o_key VALUES(?1,?2,?3,?4,?5)", -1, &md->setkey, NULL) == 0;
}

static void s_model_close(s_model *md) {
  sqlite3_finalize(md->get), sqlite3_finalize(md->setrow), sqlite3_finalize(md->clear);
  sqlite3_finalize(md->getcol), sqlite3_finalize(md->setcol), sqlite3_finalize(md->setkey);
}

/* The key of a change as text: each value's type, length and content. */
static void s_key_text(const Linli__RowChange *ch, char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  for (size_t k = 0; k < ch->n_pk && n < cap; k++) {
    const Linli__Value *v = ch->pk[k];
    if (v->v_case == LINLI__VALUE__V_I) n += (size_t)snprintf(out + n, cap - n, "i%lld;", (long long)v->i);
    else if (v->v_case == LINLI__VALUE__V_F) n += (size_t)snprintf(out + n, cap - n, "f%.17g;", v->f);
    else if (v->v_case == LINLI__VALUE__V_T) n += (size_t)snprintf(out + n, cap - n, "t%zu:%s;", strlen(v->t), v->t);
    else if (v->v_case == LINLI__VALUE__V_B) {
      n += (size_t)snprintf(out + n, cap - n, "b%zu:", v->b.len);
      for (size_t i = 0; i < v->b.len && n < cap; i++) n += (size_t)snprintf(out + n, cap - n, "%02x", v->b.data[i]);
    } else n += (size_t)snprintf(out + n, cap - n, "n;");
  }
}

static int s_col_of(const li_table *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (strcmp(t->cols[i], name) == 0) return i;
  return -1;
}

static bool s_is_key_col(const li_table *t, int col) {
  for (int i = 0; i < t->npk; i++)
    if (t->pk[i] == col) return true;
  return false;
}

/* A number in a TEXT column: a class the column cannot hold. */
static bool s_wrong_class(const li_table *t, int col, const Linli__Value *v) {
  return t->aff[col] == LI_AFF_TEXT && (v->v_case == LINLI__VALUE__V_I || v->v_case == LINLI__VALUE__V_F);
}

/* Whether every replica refuses the change on the commit and the schema
 * alone (node/apply.h), decided here on its own: an unknown table or
 * column, a key that is not the table's, a key column or another scope
 * set, a number in a TEXT column. (Constraint refusals are not modelled:
 * the simulator makes none.) */
static bool s_model_refuses(const li_table *t, const char *scope, const Linli__TableChanges *tc,
                            const Linli__RowChange *ch) {
  if (!t || ch->n_pk != (size_t)t->npk) return true;
  for (int i = 0; i < t->npk; i++)
    if (ch->pk[i]->v_case == LINLI__VALUE__V_NULL || s_wrong_class(t, t->pk[i], ch->pk[i])) return true;
  for (size_t k = 0; k < ch->n_cols; k++) {
    const Linli__Value *v = ch->values[k];
    int j = s_col_of(t, tc->columns[ch->cols[k]]);
    if (j < 0 || (j != t->scope_col && (s_is_key_col(t, j) || s_wrong_class(t, j, v)))) return true;
    if (j == t->scope_col && (v->v_case != LINLI__VALUE__V_T || strcmp(v->t, scope) != 0)) return true;
  }
  return false;
}

static void s_bind_row(sqlite3_stmt *st, const char *tbl, const char *scope, const char *pk) {
  sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, pk, -1, SQLITE_STATIC);
}

/* A new generation: the row starts afresh with its key values, and every
 * other column with a constant DEFAULT holds it at hlc 0 (any write of the
 * generation wins over it). */
static void s_model_generation(s_model *md, const li_table *t, const char *scope, const char *pk,
                               const Linli__RowChange *ch, int64_t cl) {
  static const uint8_t nobody[LI_PK_BYTES];
  s_bind_row(md->setrow, t->name, scope, pk);
  sqlite3_bind_int64(md->setrow, 4, cl);
  sqlite3_step(md->setrow), sqlite3_reset(md->setrow);
  s_bind_row(md->clear, t->name, scope, pk);
  sqlite3_step(md->clear), sqlite3_reset(md->clear);
  for (int i = 0; cl % 2 == 1 && i < t->ncols; i++) {
    if (i == t->scope_col || s_is_key_col(t, i) || !t->dflt[i]) continue;
    s_bind_row(md->setcol, t->name, scope, pk);
    sqlite3_bind_text(md->setcol, 4, t->cols[i], -1, SQLITE_STATIC);
    sqlite3_bind_value(md->setcol, 5, t->dflt[i]);
    sqlite3_bind_int64(md->setcol, 6, 0);
    sqlite3_bind_blob(md->setcol, 7, nobody, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_step(md->setcol), sqlite3_reset(md->setcol);
  }
  for (int i = 0; i < t->npk; i++) {
    s_bind_row(md->setkey, t->name, scope, pk);
    sqlite3_bind_text(md->setkey, 4, t->cols[t->pk[i]], -1, SQLITE_STATIC);
    li_value_bind(md->setkey, 5, ch->pk[i]);
    sqlite3_step(md->setkey), sqlite3_reset(md->setkey);
  }
}

/* One column of a change: the greater (hlc, origin key) keeps its value. */
static void s_model_column(s_model *md, const li_commit *c, const char *tbl, const char *pk, const char *col,
                           const Linli__Value *v) {
  s_bind_row(md->getcol, tbl, c->scope, pk);
  sqlite3_bind_text(md->getcol, 4, col, -1, SQLITE_STATIC);
  bool take = true;
  if (sqlite3_step(md->getcol) == SQLITE_ROW) {
    uint64_t h = (uint64_t)sqlite3_column_int64(md->getcol, 0);
    if (h > c->hlc) take = false;
    else if (h == c->hlc) take = memcmp(c->origin, sqlite3_column_blob(md->getcol, 1), LI_PK_BYTES) > 0;
  }
  sqlite3_reset(md->getcol);
  if (!take) return;
  s_bind_row(md->setcol, tbl, c->scope, pk);
  sqlite3_bind_text(md->setcol, 4, col, -1, SQLITE_STATIC);
  li_value_bind(md->setcol, 5, v);
  sqlite3_bind_int64(md->setcol, 6, (int64_t)c->hlc);
  sqlite3_bind_blob(md->setcol, 7, c->origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_step(md->setcol), sqlite3_reset(md->setcol);
}

/* One row change folded in (causal length, then the columns). */
static void s_model_row(s_model *md, const li_table *t, const li_commit *c, const Linli__TableChanges *tc,
                        const Linli__RowChange *ch) {
  if (s_model_refuses(t, c->scope, tc, ch)) return;
  char pk[1024];
  s_key_text(ch, pk, sizeof pk);
  s_bind_row(md->get, t->name, c->scope, pk);
  int64_t cl = sqlite3_step(md->get) == SQLITE_ROW ? sqlite3_column_int64(md->get, 0) : 0;
  sqlite3_reset(md->get);
  int64_t in = (int64_t)ch->cl;
  if (in < cl || (in == cl && in % 2 == 0)) return;
  if (in > cl) s_model_generation(md, t, c->scope, pk, ch, in);
  for (size_t k = 0; k < ch->n_cols; k++) {
    const char *col = tc->columns[ch->cols[k]];
    if (strcmp(col, "scope") != 0) s_model_column(md, c, t->name, pk, col, ch->values[k]);
  }
}

/* Every commit the hub holds, folded into the model (newest first: the
 * order must not matter). */
static bool s_model_build(sim_world *w, s_model *md) {
  sqlite3_stmt *q = NULL;
  li_replica *hub = w->n[SIM_HUB].r;
  if (sqlite3_prepare_v2(hub->db, "SELECT sc FROM linli_log ORDER BY id DESC", -1, &q, NULL) != SQLITE_OK) return false;
  li_arena a;
  li_arena_init(&a);
  bool ok = true;
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
      const li_table *tb = strncmp(tc->table, "linli_", 6) == 0 ? NULL : li_capture_table(hub, tc->table);
      for (size_t j = 0; j < tc->n_rows; j++) s_model_row(md, tb, &c, tc, tc->rows[j]);
    }
  }
  li_arena_free(&a);
  sqlite3_finalize(q);
  return ok;
}

/* The node's rows of table t in the scopes (an SQL list), one text, in
 * (scope, key) order; sqlite3_free it. */
static char *s_node_rows_sql(const li_table *t, const char *scopes) {
  sqlite3_str *x = sqlite3_str_new(NULL);
  sqlite3_str_appendall(x, "SELECT group_concat(r, char(10)) FROM (SELECT ");
  for (int i = 0; i < t->ncols; i++) sqlite3_str_appendf(x, "%squote(\"%w\")", i ? " || '|' || " : "", t->cols[i]);
  sqlite3_str_appendf(x, " AS r FROM \"%w\" WHERE scope IN (%s) ORDER BY scope", t->name, scopes);
  for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(x, ", \"%w\"", t->cols[t->pk[i]]);
  sqlite3_str_appendall(x, ")");
  return sqlite3_str_finish(x);
}

/* The same text from the model. */
static char *s_model_rows_sql(const li_table *t, const char *scopes) {
  static const char rowof[] = "x.tbl=r.tbl AND x.scope=r.scope AND x.pk=r.pk";
  sqlite3_str *x = sqlite3_str_new(NULL);
  sqlite3_str_appendall(x, "SELECT group_concat(x, char(10)) FROM (SELECT ");
  for (int i = 0; i < t->ncols; i++) {
    const char *sep = i ? " || '|' || " : "";
    if (i == t->scope_col) sqlite3_str_appendf(x, "%squote(r.scope)", sep);
    else
      sqlite3_str_appendf(x, "%squote((SELECT val FROM %s x WHERE %s AND x.col=%Q))", sep,
                          s_is_key_col(t, i) ? "o_key" : "o_col", rowof, t->cols[i]);
  }
  sqlite3_str_appendf(x, " AS x FROM o_row r WHERE r.tbl=%Q AND r.cl %% 2 = 1 AND r.scope IN (%s) ORDER BY r.scope",
                      t->name, scopes);
  for (int i = 0; i < t->npk; i++)
    sqlite3_str_appendf(x, ", (SELECT val FROM o_key x WHERE %s AND x.col=%Q)", rowof, t->cols[t->pk[i]]);
  sqlite3_str_appendall(x, ")");
  return sqlite3_str_finish(x);
}

/* Rows of table t in the scopes (a SQL list) as one text, from the node and
 * from the model, compared. */
static bool s_compare_table(sim_world *w, sqlite3 *m, sim_node *nd, const li_table *t, const char *scopes) {
  char *qa = s_node_rows_sql(t, scopes), *qb = s_model_rows_sql(t, scopes);
  sqlite3_stmt *sa = NULL, *sb = NULL;
  bool ok = qa && qb && sqlite3_prepare_v2(nd->r->db, qa, -1, &sa, NULL) == SQLITE_OK &&
            sqlite3_step(sa) == SQLITE_ROW && sqlite3_prepare_v2(m, qb, -1, &sb, NULL) == SQLITE_OK &&
            sqlite3_step(sb) == SQLITE_ROW;
  if (!ok) {
    sim_fail(w, "oracle: cannot compare table %s: %s / %s", t->name, sqlite3_errmsg(nd->r->db), sqlite3_errmsg(m));
  } else {
    const char *x = (const char *)sqlite3_column_text(sa, 0), *y = (const char *)sqlite3_column_text(sb, 0);
    if ((x || y) && (!x || !y || strcmp(x, y) != 0)) {
      /* from the first line that differs: rows are one per line, in key order */
      size_t at = 0, line = 0;
      while (x && y && x[at] && x[at] == y[at]) {
        if (x[at] == '\n') line = at + 1;
        at++;
      }
      sim_fail(w, "%s: table %s on scopes %s differs from the model, from:\n  replica: %.300s\n  model:   %.300s",
               nd->name, t->name, scopes, x ? x + line : "(none)", y ? y + line : "(none)");
      ok = false;
    }
  }
  sqlite3_finalize(sa);
  sqlite3_finalize(sb);
  sqlite3_free(qa);
  sqlite3_free(qb);
  return ok;
}

/* Nothing an honest node wrote was refused anywhere (its writes are
 * checked at the source): every linli_refused row is the hostile node's. */
static bool s_no_honest_refusal(sim_world *w, sim_node *nd) {
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  const uint8_t *hostile = NULL;
  for (int i = 1; i < w->count; i++)
    if (w->n[i].hostile) hostile = w->n[i].id.pk;
  if (sqlite3_prepare_v2(nd->r->db, "SELECT count(*) FROM linli_refused WHERE ?1 IS NULL OR origin <> ?1", -1, &st,
                         NULL) == SQLITE_OK) {
    if (hostile) sqlite3_bind_blob(st, 1, hostile, LI_PK_BYTES, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  if (n == 0) return true;
  char first[600] = "?";
  if (sqlite3_prepare_v2(nd->r->db,
                         "SELECT scope || '#' || seq || ' ' || tbl || ' ' || pk || ': ' || reason || ': ' || message"
                         " FROM linli_refused WHERE ?1 IS NULL OR origin <> ?1 ORDER BY id LIMIT 1",
                         -1, &st, NULL) == SQLITE_OK) {
    if (hostile) sqlite3_bind_blob(st, 1, hostile, LI_PK_BYTES, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(first, sizeof first, "%s", (const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sim_fail(w, "%s: %lld row change(s) of honest nodes were refused (linli_refused), the first: %s", nd->name,
           (long long)n, first);
  return false;
}

/* Whether key is an honest node's, now or before a `recover`. */
static bool s_honest_key(const sim_world *w, const uint8_t *key, int len) {
  if (len != LI_PK_BYTES) return false;
  for (int i = 0; i < w->count; i++) {
    const sim_node *nd = &w->n[i];
    if (nd->hostile) continue;
    if (memcmp(nd->id.pk, key, LI_PK_BYTES) == 0) return true;
    for (int k = 0; k < nd->nold; k++)
      if (memcmp(nd->old_keys[k], key, LI_PK_BYTES) == 0) return true;
  }
  return false;
}

/* The head of (origin, scope) in a node's replica, 0 when none. */
static int64_t s_head(sim_node *nd, const void *origin, int olen, const unsigned char *scope) {
  sqlite3_stmt *st = NULL;
  int64_t seq = 0;
  if (sqlite3_prepare_v2(nd->r->db, "SELECT seq FROM linli_vv WHERE origin = ? AND scope = ?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_blob(st, 1, origin, olen, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, (const char *)scope, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) seq = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return seq;
}

/* Issue 9's liveness: on an honest node, nobody banned an honest key, and
 * no chain of an honest key is stuck: one linli_stuck names (as the daemon
 * last saved it) and the receiving replica still lacks. The hostile peer's
 * entries are as of its last contact (it is unplugged for good). */
static bool s_liveness(sim_world *w, sim_node *nd) {
  sqlite3_stmt *st = NULL;
  bool ok = true;
  if (sqlite3_prepare_v2(nd->r->db, "SELECT origin, reason FROM linli_banned", -1, &st, NULL) == SQLITE_OK)
    while (ok && sqlite3_step(st) == SQLITE_ROW)
      if (s_honest_key(w, sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0)))
        ok = false, sim_fail(w, "%s banned an honest key: %s", nd->name, sqlite3_column_text(st, 1));
  sqlite3_finalize(st);
  if (!ok) return false;
  if (sqlite3_prepare_v2(nd->r->db,
                         "SELECT peer, side = 'ours', origin, scope, seq, scope || '#' || seq || ' ' || side || ': ' ||"
                         " code || ': ' || coalesce(message, '') FROM linli_stuck",
                         -1, &st, NULL) != SQLITE_OK)
    return sim_fail(w, "oracle: %s: %s", nd->name, sqlite3_errmsg(nd->r->db)), false;
  while (ok && sqlite3_step(st) == SQLITE_ROW) {
    const void *peer = sqlite3_column_blob(st, 0), *origin = sqlite3_column_blob(st, 2);
    int olen = sqlite3_column_bytes(st, 2);
    if (!s_honest_key(w, origin, olen)) continue;
    sim_node *to = sqlite3_column_int(st, 1) ? NULL : nd; /* the replica that should hold it */
    for (int i = 0; !to && i < w->count; i++)
      if (sqlite3_column_bytes(st, 0) == LI_PK_BYTES && memcmp(w->n[i].id.pk, peer, LI_PK_BYTES) == 0) to = &w->n[i];
    if (!to || to->hostile || !to->up) continue;
    if (s_head(to, origin, olen, sqlite3_column_text(st, 3)) >= sqlite3_column_int64(st, 4)) continue;
    ok = false;
    sim_fail(w, "%s: a chain of an honest key is stuck: %s", nd->name, sqlite3_column_text(st, 5));
  }
  sqlite3_finalize(st);
  return ok;
}

/* One text from a query's first column, "" when NULL; sqlite3_free it.
 * NULL with the failure set when the query fails. */
static char *s_text(sim_world *w, sim_node *nd, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *out = NULL;
  if (sqlite3_prepare_v2(nd->r->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
  else sim_fail(w, "oracle: %s: %s: %s", nd->name, sqlite3_errmsg(nd->r->db), sql);
  sqlite3_finalize(st);
  return out;
}

/* Invariant 5: nd is on the hub's schema. */
static bool s_schema_same(sim_world *w, sim_node *nd) {
  static const struct {
    const char *what, *sql;
  } q[] = {
      {"schema migrations (linli_migrations)",
       "SELECT group_concat(x, char(10)) FROM (SELECT version || ' ' || statements || ' #' || seq || ' ' || hlc AS x"
       " FROM linli_migrations ORDER BY version)"},
      {"tracked tables (linli_tables)",
       "SELECT group_concat(x, char(10)) FROM (SELECT name || ' ' || cols AS x FROM linli_tables ORDER BY name)"},
      {"columns (PRAGMA table_xinfo)",
       "SELECT group_concat(x, char(10)) FROM (SELECT t.name || '.' || p.name || ' ' || p.cid || ' ' || p.type || ' '"
       " || p.\"notnull\" || ' ' || quote(p.dflt_value) || ' ' || p.pk || ' ' || p.hidden AS x"
       " FROM linli_tables t, pragma_table_xinfo(t.name) p ORDER BY t.name, p.cid)"},
      {"indexes",
       "SELECT group_concat(x, char(10)) FROM (SELECT m.tbl_name || ' ' || m.name || ' ' || coalesce(m.sql, '') AS x"
       " FROM sqlite_master m JOIN linli_tables t ON t.name = m.tbl_name WHERE m.type = 'index'"
       " ORDER BY m.tbl_name, m.name)"},
  };
  sim_node *hub = &w->n[SIM_HUB];
  li_errbuf eb = {{0}};
  for (sim_node *x = nd;; x = hub) {
    li_err e = li_replica_catalogue_fresh(x->r, &eb);
    if (e) return sim_fail(w, "oracle: %s: catalogue: %s", x->name, li_errmsg(&eb, e)), false;
    for (int t = 0; t < x->r->ntables; t++)
      if (x->r->tables[t].drift)
        return sim_fail(w, "%s: table %s: capture lags its columns: %s", x->name, x->r->tables[t].name,
                        x->r->tables[t].drift),
               false;
    if (x == hub) break;
  }
  uint32_t have = li_replica_schema_version(nd->r), want = li_replica_schema_version(hub->r);
  if (want != w->schema_version)
    return sim_fail(w, "hub: schema version %u, but it applied migrations up to %u", want, w->schema_version), false;
  if (have != want) return sim_fail(w, "%s: schema version %u, the hub's is %u", nd->name, have, want), false;
  bool ok = true;
  for (size_t k = 0; ok && k < sizeof q / sizeof q[0]; k++) {
    char *a = s_text(w, nd, q[k].sql), *b = a ? s_text(w, hub, q[k].sql) : NULL;
    ok = a && b;
    if (ok && strcmp(a, b) != 0) {
      size_t at = 0, line = 0;
      while (a[at] && a[at] == b[at]) {
        if (a[at] == '\n') line = at + 1;
        at++;
      }
      sim_fail(w, "%s: %s differ from the hub's, from:\n  replica: %.300s\n  hub:     %.300s", nd->name, q[k].what,
               a + line, b + line);
      ok = false;
    }
    sqlite3_free(a);
    sqlite3_free(b);
  }
  return ok;
}

bool sim_check_final(sim_world *w) {
  sim_node *hub = &w->n[SIM_HUB];
  for (int i = 0; i < w->count; i++)
    if (w->n[i].up && !s_integrity(w, &w->n[i])) return false;
  for (int i = 1; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (nd->hostile) continue;
    if (!s_log_subset(w, nd, hub, nd->id.pk, "origin = ?1", "nothing sealed is lost")) return false;
    for (int k = 0; k < nd->nold; k++) /* what it sealed before `recover` and kept */
      if (!s_log_subset(w, nd, hub, nd->old_keys[k], "origin = ?1", "nothing sealed before recover is lost"))
        return false;
    char cond[128];
    snprintf(cond, sizeof cond, "scope IN ('%s', 'street') OR ?1 IS NULL", nd->scope);
    if (!s_log_subset(w, hub, nd, nd->id.pk, cond, "every commit of a readable scope arrives")) return false;
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
  for (int i = 0; i < w->count; i++)
    if (!w->n[i].hostile && (!s_no_honest_refusal(w, &w->n[i]) || !s_liveness(w, &w->n[i]))) return false;
  for (int i = 1; i < w->count; i++)
    if (!w->n[i].hostile && !s_schema_same(w, &w->n[i])) return false;
  sqlite3 *m = NULL;
  s_model md = {0};
  bool built = sqlite3_open(":memory:", &m) == SQLITE_OK && s_model_open(&md, m) && s_model_build(w, &md);
  s_model_close(&md);
  if (!built) {
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

/* apply: a verified commit's row changes -> rows, conflicts and refusals.
 * See apply.h for the states of a row change, the reasons of a refusal
 * and the invariants. */
#include "apply.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "rowclock.h"
#include "value.h"

/* Why a change is refused; the name is what linli_refused.reason holds. */
#define S_UNKNOWN_TABLE "unknown_table"
#define S_UNKNOWN_COLUMN "unknown_column"
#define S_KEY "key"
#define S_TYPE "type"
#define S_SCOPE "out_of_scope"
#define S_CONSTRAINT "constraint"

typedef struct {
  li_replica *r;
  li_arena *a;
  const li_commit *c;
  int origin_idx;
  uint64_t wall_ms;
  li_apply_stats *st;
  /* the table whose changes are applied */
  const Linli__TableChanges *tc;
  li_table *t;                   /* NULL: not tracked here */
  int colmap[LI_TABLE_COLS_MAX]; /* tc->columns index -> t's column, -1 when t has none */
  sqlite3_stmt *dirty_q;         /* take-back only: the markers of one row */
  /* new rows of t held back to be inserted many at a time (s_flush), not
   * with take-back (group false); pend and ahead are allocated on first use */
  bool group;
  struct s_pending *pend;
  int npend;
  /* the clocks of rows ahead..ahead + LI_BULK_ROWS - 1 of tc, read at once
   * (s_read_ahead), and the row being applied */
  struct s_ahead *ahead;
  size_t ahead_first, row_at;
  bool ahead_read;
} s_applier;

/* A new row held back: a new generation (cl_in, odd) of a row that is not
 * there (its clock's cl, even; 0: no clock). */
typedef struct s_pending {
  const Linli__RowChange *ch;
  const Linli__Value *key;
  const Linli__Value *vals[LI_TABLE_COLS_MAX];
  int64_t cl, cl_in;
} s_pending;

/* A row's clock read ahead: usable when no row before it since the read
 * may have written it (clean). */
typedef struct s_ahead {
  bool clean, found;
  int64_t cl;
  int n;
  unsigned char vers[LI_ROWCLOCK_VERS_MAX];
} s_ahead;

/* A refusal of a change: reason NULL when there is none. cols: the table
 * columns refused when only some were (0: the whole change). */
typedef struct {
  const char *reason;
  char msg[LI_ERRBUF_SIZE];
  uint64_t cols;
} s_refusal;

static void s_refusal_set(s_refusal *f, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_refusal_set(s_refusal *f, const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  f->reason = reason;
  vsnprintf(f->msg, sizeof f->msg, fmt, ap);
  va_end(ap);
}

/* A losing or overwritten value of a concurrent write, recorded in
 * linli_conflicts once the write succeeded (invariant 1). */
typedef struct {
  int col, o_l;
  uint64_t h_l;
  sqlite3_value *local; /* sqlite3_value_dup'd */
  bool incoming_wins;
} s_loser;

/* Invariant 1's bookkeeping, in memory: counts never go down or below
 * zero, and the column map of the table being applied points into it. */
static bool s_check(const s_applier *ap) {
  const li_apply_stats *st = ap->st;
  if (!ap->r || !ap->c || !st || st->rows < 0 || st->conflicts < 0 || st->refused < 0) return false;
  if (!ap->tc) return true;
  if (ap->tc->n_columns > LI_TABLE_COLS_MAX) return false;
  for (size_t k = 0; k < ap->tc->n_columns; k++)
    if (ap->colmap[k] < -1 || (ap->colmap[k] >= 0 && (!ap->t || ap->colmap[k] >= ap->t->ncols))) return false;
  return true;
}

/* ---- LWW ---- */

/* (h1, o1) > (h2, o2) with origins compared by key bytes. */
static int s_newer(li_replica *r, uint64_t h1, int o1, uint64_t h2, int o2) {
  if (o2 == 0) return 1;
  if (h1 != h2) return h1 > h2;
#ifdef LI_BUG_LWW_TIEBREAK
  /* deliberate bug, only in the simulator's self-test build: ties broken by
   * the local origin index, which differs between replicas */
  return o1 > o2;
#endif
  const uint8_t *k1 = li_replica_origin_key(r, o1), *k2 = li_replica_origin_key(r, o2);
  if (!k1 || !k2) return o1 > o2;
  return memcmp(k1, k2, LI_PK_BYTES) > 0;
}

/* Was the local write (origin idx, hlc) unknown to the incoming commit? */
static bool s_concurrent(const s_applier *ap, int o_l, uint64_t h_l) {
  const uint8_t *k = li_replica_origin_key(ap->r, o_l);
  if (!k || o_l == ap->origin_idx) return false;
  uint64_t at = 0;
  bool found = false;
  li_errbuf tmp;
  /* a local write whose commit cannot be found counts as unknown to the
   * incoming commit: its loser is recorded rather than lost */
  if (li_chain_seq_at_hlc(ap->r, k, ap->c->scope, h_l, &at, &found, &tmp) != LI_OK) found = false;
  int64_t seq_l = found ? (int64_t)at : INT64_MAX;
  const Linli__Commit *c = ap->c->c;
  for (size_t i = 0; i < c->n_deps; i++)
    if (memcmp(c->deps[i]->origin.data, k, LI_PK_BYTES) == 0) return (int64_t)c->deps[i]->seq < seq_l;
  return true;
}

/* ---- conflicts ---- */

static li_err s_conflict(const s_applier *ap, const Linli__Value *key, const s_loser *lo, const Linli__Value *incoming,
                         li_errbuf *eb) {
  static const char sql[] =
      "INSERT OR IGNORE INTO linli_conflicts(tbl, pk, col, loser, loser_origin, loser_hlc, winner, winner_origin,"
      " winner_hlc, recorded_ms) VALUES(?,?,?,?,?,?,?,?,?,?)";
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(ap->r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(ap->r, eb, "linli_conflicts");
  const uint8_t *k_l = li_replica_origin_key(ap->r, lo->o_l);
  /* (value, origin, hlc) of the local write and of the incoming one, each
   * at the loser's parameters (4-6) or the winner's (7-9) */
  int at_local = lo->incoming_wins ? 4 : 7, at_incoming = lo->incoming_wins ? 7 : 4;
  sqlite3_bind_text(st, 1, ap->t->name, -1, SQLITE_STATIC);
  li_value_bind(st, 2, key);
  sqlite3_bind_text(st, 3, ap->t->cols[lo->col], -1, SQLITE_STATIC);
  sqlite3_bind_value(st, at_local, lo->local);
  sqlite3_bind_blob(st, at_local + 1, k_l, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_int64(st, at_local + 2, (int64_t)lo->h_l);
  li_value_bind(st, at_incoming, incoming);
  sqlite3_bind_blob(st, at_incoming + 1, ap->c->origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_int64(st, at_incoming + 2, (int64_t)ap->c->hlc);
  sqlite3_bind_int64(st, 10, (int64_t)ap->wall_ms);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return li_db_fail(ap->r, eb, "linli_conflicts");
  ap->st->conflicts++;
  return LI_OK;
}

/* ---- refusals ---- */

/* SELECT json_array(key values), json_object(name, value, ...) over
 * numbered parameters; a blob becomes the text x'HEX' (JSON has no bytes).
 * sqlite3_free it. */
static char *s_refused_json_sql(size_t npk, int nvals) {
  sqlite3_str *x = sqlite3_str_new(NULL);
  int p = 1;
  sqlite3_str_appendall(x, "SELECT json_array(");
  for (size_t k = 0; k < npk; k++, p++)
    sqlite3_str_appendf(x, "%sCASE WHEN typeof(?%d) = 'blob' THEN 'x''' || hex(?%d) || '''' ELSE ?%d END",
                        k ? "," : "", p, p, p);
  sqlite3_str_appendall(x, "), json_object(");
  for (int k = 0; k < nvals; k++, p += 2)
    sqlite3_str_appendf(x, "%s?%d, CASE WHEN typeof(?%d) = 'blob' THEN 'x''' || hex(?%d) || '''' ELSE ?%d END",
                        k ? "," : "", p, p + 1, p + 1, p + 1);
  sqlite3_str_appendall(x, ")");
  return sqlite3_str_finish(x);
}

/* Whether value k of ch is among the refused ones of f. */
static bool s_refused_value(const s_applier *ap, const Linli__RowChange *ch, size_t k, const s_refusal *f) {
  if (f->cols == 0) return true;
  int j = ap->colmap[ch->cols[k]];
  return j >= 0 && (f->cols & (UINT64_C(1) << j));
}

/* The key and the refused values of ch as JSON, bound into ins at 5 and 8. */
static li_err s_refused_json(const s_applier *ap, const Linli__RowChange *ch, const s_refusal *f, sqlite3_stmt *ins,
                             li_errbuf *eb) {
  int nvals = 0;
  for (size_t k = 0; k < ch->n_cols; k++) nvals += s_refused_value(ap, ch, k, f);
  char *sql = s_refused_json_sql(ch->n_pk, nvals);
  sqlite3_stmt *st = NULL;
  if (!sql || sqlite3_prepare_v2(ap->r->db, sql, -1, &st, NULL) != SQLITE_OK) {
    sqlite3_free(sql);
    return li_db_fail(ap->r, eb, "linli_refused");
  }
  sqlite3_free(sql);
  int p = 1;
  for (size_t k = 0; k < ch->n_pk; k++) li_value_bind(st, p++, ch->pk[k]);
  for (size_t k = 0; k < ch->n_cols; k++) {
    if (!s_refused_value(ap, ch, k, f)) continue;
    sqlite3_bind_text(st, p++, ap->tc->columns[ch->cols[k]], -1, SQLITE_STATIC);
    li_value_bind(st, p++, ch->values[k]);
  }
  li_err e = LI_OK;
  if (sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_bind_value(ins, 5, sqlite3_column_value(st, 0));
    sqlite3_bind_value(ins, 8, sqlite3_column_value(st, 1));
  } else {
    e = li_db_fail(ap->r, eb, "linli_refused");
  }
  sqlite3_finalize(st);
  return e;
}

/* Records a refused change in linli_refused and counts it. */
static li_err s_refuse(const s_applier *ap, const Linli__RowChange *ch, const s_refusal *f, li_errbuf *eb) {
  sqlite3_stmt *ins = NULL;
  if (sqlite3_prepare_v2(ap->r->db,
                         "INSERT INTO linli_refused(origin, scope, seq, tbl, pk, reason, message, vals, recorded_ms)"
                         " VALUES(?,?,?,?,?,?,?,?,?)",
                         -1, &ins, NULL) != SQLITE_OK)
    return li_db_fail(ap->r, eb, "linli_refused");
  sqlite3_bind_blob(ins, 1, ap->c->origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(ins, 2, ap->c->scope, -1, SQLITE_STATIC);
  sqlite3_bind_int64(ins, 3, (int64_t)ap->c->seq);
  sqlite3_bind_text(ins, 4, ap->tc->table, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 6, f->reason, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 7, f->msg, -1, SQLITE_STATIC);
  sqlite3_bind_int64(ins, 9, (int64_t)ap->wall_ms);
  li_err e = s_refused_json(ap, ch, f, ins, eb);
  if (e == LI_OK && sqlite3_step(ins) != SQLITE_DONE) e = li_db_fail(ap->r, eb, "linli_refused");
  sqlite3_finalize(ins);
  if (e == LI_OK) ap->st->refused++;
  return e;
}

/* ---- validation (the reasons that depend on the commit and schema alone) ---- */

static bool s_is_key(const li_table *t, int col) {
  for (int i = 0; i < t->npk; i++)
    if (t->pk[i] == col) return true;
  return false;
}

/* The key values of ch against the table's key columns besides scope. */
static bool s_validate_key(const s_applier *ap, const Linli__RowChange *ch, s_refusal *f) {
  const li_table *t = ap->t;
  if (ch->n_pk != (size_t)t->npk) {
    s_refusal_set(f, S_KEY, "table %s has %d key column(s) besides scope; the change names %zu", t->name, t->npk,
                  ch->n_pk);
    return false;
  }
  for (int i = 0; i < t->npk; i++) {
    char shown[64];
    li_value_format(ch->pk[i], shown, sizeof shown);
    if (ch->pk[i]->v_case == LINLI__VALUE__V_NULL || !li_value_fits(ch->pk[i], t->aff[t->pk[i]])) {
      s_refusal_set(f, S_KEY, "table %s: key column %s cannot hold %s", t->name, t->cols[t->pk[i]], shown);
      return false;
    }
  }
  return true;
}

/* One value of ch (k) into vals, or the refusal it earns. scope may be
 * repeated when it is the commit's (the key already says so). */
static bool s_validate_value(const s_applier *ap, const Linli__RowChange *ch, size_t k, const Linli__Value **vals,
                             s_refusal *f) {
  const li_table *t = ap->t;
  const Linli__Value *v = ch->values[k];
  int j = ap->colmap[ch->cols[k]];
  char shown[64];
  if (j < 0) {
    s_refusal_set(f, S_UNKNOWN_COLUMN, "table %s has no column %s here", t->name, ap->tc->columns[ch->cols[k]]);
  } else if (j == t->scope_col) {
    if (v->v_case == LINLI__VALUE__V_T && strcmp(v->t, ap->c->scope) == 0) return true;
    li_value_format(v, shown, sizeof shown);
    s_refusal_set(f, S_SCOPE, "table %s: the change names scope %s in a commit of scope %s", t->name, shown,
                  ap->c->scope);
  } else if (s_is_key(t, j)) {
    s_refusal_set(f, S_KEY, "table %s: the change sets key column %s", t->name, t->cols[j]);
  } else if (!li_value_fits(v, t->aff[j])) {
    li_value_format(v, shown, sizeof shown);
    s_refusal_set(f, S_TYPE, "table %s: column %s cannot hold %s", t->name, t->cols[j], shown);
  } else {
    vals[j] = v;
    return true;
  }
  return false;
}

/* Every check of ch that depends on the commit and the schema alone
 * (invariant 2); vals gets its values by table column. */
static bool s_validate(const s_applier *ap, const Linli__RowChange *ch, const Linli__Value **vals, s_refusal *f) {
  if (!ap->t) {
    s_refusal_set(f, S_UNKNOWN_TABLE, "commit changes table '%s', which this replica does not track", ap->tc->table);
    return false;
  }
  if (!s_validate_key(ap, ch, f)) return false;
  for (size_t k = 0; k < ch->n_cols; k++)
    if (!s_validate_value(ap, ch, k, vals, f)) return false;
  return true;
}

/* ---- statements ---- */

/* Binds the row's key (key columns besides scope, then scope) at first. */
static void s_bind_key(const s_applier *ap, sqlite3_stmt *st, int first, const Linli__RowChange *ch) {
  for (int i = 0; i < ap->t->npk; i++) li_value_bind(st, first + i, ch->pk[i]);
  sqlite3_bind_text(st, first + ap->t->npk, ap->c->scope, -1, SQLITE_STATIC);
}

/* Steps a row statement that must change one row. A constraint (CHECK, NOT
 * NULL, UNIQUE, FOREIGN KEY, a trigger's RAISE) or a datatype mismatch
 * refuses the change (f, SQLite's message; SQLite undid the statement);
 * no row changed is LI_ERR_TAMPERED; anything else LI_ERR_DB. */
static li_err s_step(const s_applier *ap, sqlite3_stmt *st, s_refusal *f, li_errbuf *eb) {
  sqlite3 *db = ap->r->db;
  int rc = sqlite3_step(st);
  li_err e = LI_OK;
  int code = sqlite3_extended_errcode(db) & 0xff;
  if (rc == SQLITE_DONE && sqlite3_changes(db) != 1)
    e = li_fail(eb, LI_ERR_TAMPERED, "table %s: a row linli_clock says exists is missing (edited with capture off?)",
                ap->t->name);
  else if (rc != SQLITE_DONE && (code == SQLITE_CONSTRAINT || code == SQLITE_MISMATCH) && !sqlite3_get_autocommit(db))
    s_refusal_set(f, S_CONSTRAINT, "table %s: %s", ap->t->name, sqlite3_errmsg(db));
  else if (rc != SQLITE_DONE)
    e = li_fail(eb, LI_ERR_DB, "%s: %s", ap->t->name, sqlite3_errmsg(db));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

/* ---- one row change ---- */

/* A new generation of the row (cl_in > rc->cl), in one statement: an odd
 * cl_in makes the row the change's values (elsewhere the column's DEFAULT,
 * else NULL: a row is sent whole, so only a column the sender's older
 * schema did not have is missing, and a replica that migrated with the
 * row in it gave the row that DEFAULT too), versioned by
 * this commit; an even one deletes it. A row that is there is updated in
 * place rather than deleted and inserted, so a failing constraint leaves
 * the old generation whole (invariant 1). */
static li_err s_generation(s_applier *ap, const Linli__RowChange *ch, const Linli__Value *key,
                           const Linli__Value **vals, int64_t cl_in, li_rowclock *rc, s_refusal *f, li_errbuf *eb) {
  li_table *t = ap->t;
  bool alive = rc->cl % 2 == 1, odd = cl_in % 2 == 1;
  sqlite3_stmt *st = NULL;
  uint64_t mask = (UINT64_C(1) << t->ncols) - 1;
  for (int i = 0; i < t->npk; i++) mask &= ~(UINT64_C(1) << t->pk[i]);
  mask &= ~(UINT64_C(1) << t->scope_col);
  if (alive && odd && mask) { /* (a table of key columns alone has nothing to set) */
    if (!(st = li_capture_update_stmt(ap->r, t, mask))) return li_db_fail(ap->r, eb, "cannot prepare an update");
    int n = 1;
    for (int i = 0; i < t->ncols; i++) {
      if (!(mask & (UINT64_C(1) << i))) continue;
      if (vals[i]) li_value_bind(st, n++, vals[i]);
      else if (t->dflt[i]) sqlite3_bind_value(st, n++, t->dflt[i]);
      else sqlite3_bind_null(st, n++);
    }
    s_bind_key(ap, st, n, ch);
  } else if (alive && !odd) {
    s_bind_key(ap, st = t->del, 1, ch);
  } else if (!alive && odd) {
    st = t->ins;
    for (int i = 0; i < t->ncols; i++)
      if (vals[i]) li_value_bind(st, i + 1, vals[i]);
      else if (t->dflt[i]) sqlite3_bind_value(st, i + 1, t->dflt[i]);
    for (int i = 0; i < t->npk; i++) li_value_bind(st, t->pk[i] + 1, ch->pk[i]);
    sqlite3_bind_text(st, t->scope_col + 1, ap->c->scope, -1, SQLITE_STATIC);
  }
  li_err e = st ? s_step(ap, st, f, eb) : LI_OK;
  if (e || f->reason) return e;
  for (int i = 0; i < t->ncols; i++) {
    bool written = odd && vals[i];
    rc->hlc[i] = written ? ap->c->hlc : 0;
    rc->origin[i] = written ? (uint32_t)ap->origin_idx : 0;
  }
  rc->cl = cl_in;
  return li_rowclock_put(ap->r, t, ap->c->scope, key, rc, eb);
}

/* The same generation, alive: column by column, the greater (hlc, origin)
 * wins (*mask gets the winners); a losing or overwritten concurrent value
 * goes to lo (recorded once the write succeeded). */
static li_err s_compare(const s_applier *ap, const Linli__RowChange *ch, const Linli__Value **vals,
                        const li_rowclock *rc, uint64_t *mask, s_loser *lo, int *nlo, li_errbuf *eb) {
  li_table *t = ap->t;
  s_bind_key(ap, t->sel, 1, ch);
  li_err e = LI_OK;
  *mask = 0;
  *nlo = 0;
  if (sqlite3_step(t->sel) != SQLITE_ROW)
    e = li_fail(eb, LI_ERR_TAMPERED, "table %s: a row linli_clock says exists is missing (edited with capture off?)",
                t->name);
  for (int j = 0; j < t->ncols && e == LI_OK; j++) {
    if (!vals[j]) continue;
    int o_l = (int)rc->origin[j];
    uint64_t h_l = rc->hlc[j];
    if (o_l == ap->origin_idx && h_l == ap->c->hlc) continue; /* the same write */
    bool wins = s_newer(ap->r, ap->c->hlc, ap->origin_idx, h_l, o_l);
    bool differs = !li_value_equals_column(vals[j], t->sel, j);
    if (wins) *mask |= UINT64_C(1) << j;
    if (!differs || (wins && (o_l == 0 || !s_concurrent(ap, o_l, h_l)))) continue;
    sqlite3_value *local = sqlite3_value_dup(sqlite3_column_value(t->sel, j));
    if (!local) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
    else lo[(*nlo)++] = (s_loser){.col = j, .o_l = o_l, .h_l = h_l, .local = local, .incoming_wins = wins};
  }
  sqlite3_reset(t->sel);
  sqlite3_clear_bindings(t->sel);
  return e;
}

/* Writes the columns of mask in one UPDATE. */
static li_err s_update(s_applier *ap, const Linli__RowChange *ch, const Linli__Value **vals, uint64_t mask,
                       s_refusal *f, li_errbuf *eb) {
  sqlite3_stmt *up = li_capture_update_stmt(ap->r, ap->t, mask);
  if (!up) return li_db_fail(ap->r, eb, "cannot prepare an update");
  int n = 1;
  for (int j = 0; j < ap->t->ncols; j++)
    if (mask & (UINT64_C(1) << j)) li_value_bind(up, n++, vals[j]);
  s_bind_key(ap, up, n, ch);
  return s_step(ap, up, f, eb);
}

/* Writes the winning columns; when a constraint refuses them together,
 * each alone, and the ones refused alone leave *mask and go to f->cols
 * (invariant 2: a value refused on its own is refused wherever it wins). */
static li_err s_write_columns(s_applier *ap, const Linli__RowChange *ch, const Linli__Value **vals, uint64_t *mask,
                              s_refusal *f, li_errbuf *eb) {
  li_err e = s_update(ap, ch, vals, *mask, f, eb);
  if (e || !f->reason) return e;
  s_refusal one = {0};
  f->reason = NULL;
  f->msg[0] = 0;
  for (int j = 0; j < ap->t->ncols && e == LI_OK; j++) {
    if (!(*mask & (UINT64_C(1) << j))) continue;
    one.reason = NULL;
    if ((e = s_update(ap, ch, vals, UINT64_C(1) << j, &one, eb)) || !one.reason) continue;
    *mask &= ~(UINT64_C(1) << j);
    f->cols |= UINT64_C(1) << j;
    if (!f->reason) { /* the first column's message stands for all */
      f->reason = one.reason;
      memcpy(f->msg, one.msg, sizeof f->msg);
    }
  }
  return e;
}

/* The same generation: compare, write the winners, then record the
 * conflicts of the values written or kept, and the new versions. */
static li_err s_columns(s_applier *ap, const Linli__RowChange *ch, const Linli__Value *key, const Linli__Value **vals,
                        li_rowclock *rc, s_refusal *f, li_errbuf *eb) {
  s_loser lo[LI_TABLE_COLS_MAX];
  int nlo = 0;
  uint64_t mask = 0;
  li_err e = s_compare(ap, ch, vals, rc, &mask, lo, &nlo, eb);
  if (e == LI_OK && mask) e = s_write_columns(ap, ch, vals, &mask, f, eb);
  for (int k = 0; k < nlo; k++) {
    bool written = !lo[k].incoming_wins || (mask & (UINT64_C(1) << lo[k].col));
    if (e == LI_OK && written) e = s_conflict(ap, key, &lo[k], vals[lo[k].col], eb);
    sqlite3_value_free(lo[k].local);
  }
  if (e || !mask) return e;
  for (int j = 0; j < ap->t->ncols; j++)
    if (mask & (UINT64_C(1) << j)) rc->hlc[j] = ap->c->hlc, rc->origin[j] = (uint32_t)ap->origin_idx;
  return li_rowclock_put(ap->r, ap->t, ap->c->scope, key, rc, eb);
}

/* Counts a row change written, whole or in part, and records its refusal. */
static li_err s_applied(s_applier *ap, const Linli__RowChange *ch, const s_refusal *f, li_errbuf *eb) {
  if (!f->reason || f->cols) ap->st->rows++;
  return f->reason ? s_refuse(ap, ch, f, eb) : LI_OK;
}

/* ---- new rows, many at a time ---- */

/* Whether new rows of t inserted many in one statement end as they would
 * one at a time. They do unless the statement's outcome depends on more
 * than each row's own checks: a foreign key from or to t (SQLite counts
 * immediate violations per statement, so a row's missing parent could come
 * later in it), a trigger besides capture's (it sees the rows before), or
 * an ON CONFLICT clause (FAIL keeps the rows before a failing one). The
 * trigger test names capture's own triggers of t exactly: a trigger of the
 * staff's that merely looks like one (linli_9_zz) still counts. The answer
 * is kept on t for the catalogue's schema_version: the catalogue is read
 * again when the schema changed by hand (li_replica_catalogue_fresh, at
 * every batch) and moves on with a migration (li_replica_catalogue_current),
 * so nothing needs asking SQLite again. */
static li_err s_bulk_allowed(s_applier *ap, bool *ok, li_errbuf *eb) {
  static const char sql[] =
      "SELECT EXISTS(SELECT 1 FROM pragma_foreign_key_list(?1))"
      " OR EXISTS(SELECT 1 FROM sqlite_schema s, pragma_foreign_key_list(s.name) f"
      "           WHERE s.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE)"
      " OR EXISTS(SELECT 1 FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE"
      "           AND name NOT IN (SELECT printf('linli_%d_%s', ?2, value)"
      "                            FROM json_each('[\"ai\",\"au\",\"ak\",\"ad\",\"bm\"]')))"
      " OR EXISTS(SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE"
      "           AND sql LIKE '%conflict%')";
  li_table *t = ap->t;
  int64_t version = ap->r->catalogue_schema;
  if (t->bulk_ok && t->bulk_schema == version) {
    *ok = t->bulk_ok > 0;
    return LI_OK;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(ap->r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(ap->r, eb, "sqlite_schema");
  sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, t->id);
  li_err e = LI_OK;
  if (sqlite3_step(st) == SQLITE_ROW) {
    t->bulk_schema = version;
    t->bulk_ok = sqlite3_column_int(st, 0) ? -1 : 1;
    *ok = t->bulk_ok > 0;
  } else {
    e = li_db_fail(ap->r, eb, "sqlite_schema");
  }
  sqlite3_finalize(st);
  return e;
}

/* Inserts the k = LI_BULK_ROWS >> (2 * z) new rows of p in one statement,
 * then their clocks in another (*done). A constraint that fails undoes the
 * statement whole (the tables that take new rows this way have no ON
 * CONFLICT clause) and leaves *done false: the caller writes the rows one
 * at a time, so that exactly the failing ones are refused (invariant 1). */
static li_err s_bulk(s_applier *ap, const s_pending *p, int z, bool *done, li_errbuf *eb) {
  li_table *t = ap->t;
  sqlite3 *db = ap->r->db;
  int k = LI_BULK_ROWS >> (2 * z);
  *done = false;
  if (!t->bulk_ins[z]) t->bulk_ins[z] = li_replica_prepare_rows(ap->r, t->ins, k);
  sqlite3_stmt *put = li_rowclock_put_many(ap->r, z);
  if (!t->bulk_ins[z] || !put) { /* (over a limit of SQLite's): one at a time */
    t->bulk_ok = -1;
    return LI_OK;
  }
  sqlite3_stmt *ins = t->bulk_ins[z];
  for (int j = 0; j < k; j++) { /* as s_generation binds t->ins, every parameter */
    int at = j * t->ncols + 1;
    for (int i = 0; i < t->ncols; i++)
      if (p[j].vals[i]) li_value_bind(ins, at + i, p[j].vals[i]);
      else if (t->dflt[i]) sqlite3_bind_value(ins, at + i, t->dflt[i]);
      else sqlite3_bind_null(ins, at + i);
    for (int i = 0; i < t->npk; i++) li_value_bind(ins, at + t->pk[i], p[j].ch->pk[i]);
    sqlite3_bind_text(ins, at + t->scope_col, ap->c->scope, -1, SQLITE_STATIC);
  }
  int rc = sqlite3_step(ins), code = sqlite3_extended_errcode(db) & 0xff;
  li_err e = LI_OK;
  if (rc == SQLITE_DONE && sqlite3_changes(db) != k)
    e = li_fail(eb, LI_ERR_TAMPERED, "table %s: a row linli_clock says exists is missing (edited with capture off?)",
                t->name);
  else if (rc != SQLITE_DONE && !((code == SQLITE_CONSTRAINT || code == SQLITE_MISMATCH) && !sqlite3_get_autocommit(db)))
    e = li_fail(eb, LI_ERR_DB, "%s: %s", t->name, sqlite3_errmsg(db));
  sqlite3_reset(ins);
  if (e || rc != SQLITE_DONE) return e;
  li_rowclock c = {0};
  unsigned char vers[LI_ROWCLOCK_VERS_MAX];
  for (int j = 0; j < k; j++) { /* as s_generation's clock of an insert */
    for (int i = 0; i < t->ncols; i++) {
      c.hlc[i] = p[j].vals[i] ? ap->c->hlc : 0;
      c.origin[i] = p[j].vals[i] ? (uint32_t)ap->origin_idx : 0;
    }
    li_rowclock_bind(put, j, t->id, ap->c->scope, p[j].key, p[j].cl_in, vers, li_rowclock_vers(t, &c, vers),
                     SQLITE_TRANSIENT);
  }
  rc = sqlite3_step(put);
  sqlite3_reset(put);
  if (rc != SQLITE_DONE) return li_db_fail(ap->r, eb, "linli_clock");
  ap->st->rows += k;
  *done = true;
  return LI_OK;
}

/* A held-back new row, alone: s_apply_row's new generation. */
static li_err s_new_row(s_applier *ap, s_pending *p, li_errbuf *eb) {
  li_rowclock rc = {.exists = p->cl > 0, .cl = p->cl};
  s_refusal f = {0};
  li_err e = s_generation(ap, p->ch, p->key, p->vals, p->cl_in, &rc, &f, eb);
  return e ? e : s_applied(ap, p->ch, &f, eb);
}

/* Writes the held-back new rows in their order: LI_BULK_ROWS or 16 at
 * a time while that many remain and the table allows it (s_bulk_allowed),
 * the rest, and the rows of a statement a constraint failed, one by one. */
static li_err s_flush(s_applier *ap, li_errbuf *eb) {
  int n = ap->npend, i = 0;
  ap->npend = 0;
  li_err e = LI_OK;
  bool bulk = false;
  if (n >= LI_BULK_ROWS >> (2 * (LI_BULK_SIZES - 1))) e = s_bulk_allowed(ap, &bulk, eb);
  while (e == LI_OK && i < n) {
    int z = 0, k = 1;
    bool done = false;
    while (z < LI_BULK_SIZES && LI_BULK_ROWS >> (2 * z) > n - i) z++;
    if (z < LI_BULK_SIZES && bulk && ap->t->bulk_ok > 0) {
      k = LI_BULK_ROWS >> (2 * z);
      e = s_bulk(ap, &ap->pend[i], z, &done, eb);
    }
    for (int j = i; j < i + k && e == LI_OK && !done; j++) e = s_new_row(ap, &ap->pend[j], eb);
    i += k;
  }
  return e;
}

/* Whether keys a and b may name the same linli_clock row: equal values of
 * one class, or values of two classes (SQL finds 1 and 1.0 equal). */
static bool s_key_clash(const Linli__Value *a, const Linli__Value *b) {
  if (a->v_case != b->v_case) return true;
  switch (a->v_case) {
  case LINLI__VALUE__V_I: return a->i == b->i;
  case LINLI__VALUE__V_F: return a->f == b->f;
  case LINLI__VALUE__V_T: return strcmp(a->t, b->t) == 0;
  case LINLI__VALUE__V_B: return a->b.len == b->b.len && (!a->b.len || memcmp(a->b.data, b->b.data, a->b.len) == 0);
  default: return true;
  }
}

/* Reads the clocks of rows first.. of the table being applied (up to
 * LI_BULK_ROWS) in one statement, after writing the rows held back. A
 * row's clock is kept as clean when no row between the read and it has a
 * key that may be its own (s_key_clash), so it is what reading it at its
 * turn would find. Tables with one key column besides scope only (a key of
 * several is made by a statement of its own, li_rowclock_key). */
static li_err s_read_ahead(s_applier *ap, size_t first, li_errbuf *eb) {
  li_table *t = ap->t;
  const Linli__TableChanges *tc = ap->tc;
  li_err e = s_flush(ap, eb);
  if (e) return e;
  if (!ap->ahead && !(ap->ahead = malloc(sizeof *ap->ahead * LI_BULK_ROWS)))
    return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  if (!t->bulk_get) {
    sqlite3_str *x = sqlite3_str_new(ap->r->db);
    sqlite3_str_appendall(x, "WITH k(i, pk) AS (VALUES");
    for (int i = 0; i < LI_BULK_ROWS; i++) sqlite3_str_appendf(x, "%s(%d, ?%d)", i ? "," : "", i, i + 3);
    sqlite3_str_appendall(x, ") SELECT k.i, c.cl, c.vers FROM k JOIN linli_clock c ON c.tbl = ?1 AND c.scope = ?2"
                             " AND c.pk = k.pk");
    char *sql = sqlite3_str_finish(x);
    if (!sql || sqlite3_prepare_v3(ap->r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->bulk_get, NULL) != SQLITE_OK)
      t->bulk_get = NULL;
    sqlite3_free(sql);
    if (!t->bulk_get) return li_db_fail(ap->r, eb, "linli_clock");
  }
  sqlite3_stmt *st = t->bulk_get;
  ap->ahead_first = first;
  ap->ahead_read = true;
  sqlite3_bind_int(st, 1, t->id);
  sqlite3_bind_text(st, 2, ap->c->scope, -1, SQLITE_STATIC);
  for (int i = 0; i < LI_BULK_ROWS; i++) {
    const Linli__RowChange *ch = first + (size_t)i < tc->n_rows ? tc->rows[first + (size_t)i] : NULL;
    s_ahead *a = &ap->ahead[i];
    a->found = false;
    a->clean = ch && ch->n_pk == 1 && ch->pk[0]->v_case != LINLI__VALUE__V_NULL;
    for (int j = 0; j < i && a->clean; j++)
      if (tc->rows[first + (size_t)j]->n_pk != 1 || s_key_clash(tc->rows[first + (size_t)j]->pk[0], ch->pk[0]))
        a->clean = false;
    if (a->clean) li_value_bind(st, i + 3, ch->pk[0]);
    else sqlite3_bind_null(st, i + 3);
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int i = sqlite3_column_int(st, 0), n = sqlite3_column_bytes(st, 2);
    s_ahead *a = &ap->ahead[i];
    a->found = true;
    a->cl = sqlite3_column_int64(st, 1);
    a->n = n <= (int)sizeof a->vers ? n : -1; /* -1: too long, malformed */
    if (a->n > 0) memcpy(a->vers, sqlite3_column_blob(st, 2), (size_t)n);
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? LI_OK : li_db_fail(ap->r, eb, "linli_clock");
}

/* The clock of the row being applied, from the read ahead when it is
 * clean there, else read now (after writing the rows held back when its
 * key may be one of theirs). Clocks are read ahead only while at least
 * S_AHEAD_MIN rows remain: the statement looks up LI_BULK_ROWS keys
 * whatever their number, which costs more than a few single reads. */
#define S_AHEAD_MIN 16
static li_err s_clock(s_applier *ap, const Linli__Value *key, li_rowclock *rc, li_errbuf *eb) {
  size_t j = ap->row_at;
  li_err e = LI_OK;
  if (ap->group && ap->t->npk == 1 && ap->tc->n_rows - j >= S_AHEAD_MIN &&
      (!ap->ahead_read || j < ap->ahead_first || j >= ap->ahead_first + LI_BULK_ROWS))
    e = s_read_ahead(ap, j, eb);
  if (e) return e;
  if (ap->ahead_read && j >= ap->ahead_first && j < ap->ahead_first + LI_BULK_ROWS &&
      ap->ahead[j - ap->ahead_first].clean) {
    const s_ahead *a = &ap->ahead[j - ap->ahead_first];
    if (a->found) return li_rowclock_decode(ap->t, a->cl, a->vers, a->n, rc, eb);
    *rc = (li_rowclock){0};
    return LI_OK;
  }
  for (int i = 0; i < ap->npend && e == LI_OK; i++)
    if (s_key_clash(ap->pend[i].key, key)) e = s_flush(ap, eb);
  return e ? e : li_rowclock_get(ap->r, ap->t, ap->c->scope, key, rc, eb);
}

/* A validated row change against the row's clock: stale, a new
 * generation, or the same generation column by column; refused when its
 * write fails a constraint. A new generation of a row that is not there
 * (an insert, the common case) is held back and written with the next
 * ones (s_flush); every other write first writes the held-back rows, and
 * a row whose key may be one of theirs reads its clock after them, so the
 * rows are written as one at a time in the commit's order would be. */
static li_err s_apply_row(s_applier *ap, const Linli__RowChange *ch, const Linli__Value *key,
                          const Linli__Value **vals, li_errbuf *eb) {
  s_refusal f = {0};
  li_rowclock rc;
  li_err e = s_clock(ap, key, &rc, eb);
  if (e) return e;
  int64_t cl_in = (int64_t)ch->cl;
#ifdef LI_BUG_CAUSAL_LENGTH
  /* deliberate bug, only in the simulator's self-test build: a stale delete
   * (lower causal length) still deletes */
  if (cl_in < rc.cl && cl_in % 2 == 0 && rc.cl % 2 == 1) cl_in = rc.cl + 1;
#endif
  if (cl_in < rc.cl || (cl_in == rc.cl && cl_in % 2 == 0)) return LI_OK; /* stale or both deleted */
  if (ap->group && cl_in > rc.cl && rc.cl % 2 == 0 && cl_in % 2 == 1) {
    if (!ap->pend && !(ap->pend = malloc(sizeof *ap->pend * LI_BULK_ROWS)))
      return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    s_pending *p = &ap->pend[ap->npend++];
    *p = (s_pending){.ch = ch, .key = key, .cl = rc.cl, .cl_in = cl_in};
    memcpy(p->vals, vals, sizeof p->vals[0] * (size_t)ap->t->ncols);
    return ap->npend == LI_BULK_ROWS ? s_flush(ap, eb) : LI_OK;
  }
  if ((e = s_flush(ap, eb))) return e;
  if (cl_in > rc.cl) e = s_generation(ap, ch, key, vals, cl_in, &rc, &f, eb);
  else e = s_columns(ap, ch, key, vals, &rc, &f, eb);
  return e ? e : s_applied(ap, ch, &f, eb);
}

/* ---- take-back: our own commits while seal_first is off (merge.h) ---- */

/* Prepares the query of one row's markers: (tbl, scope, key). */
static li_err s_dirty_prepare(li_replica *r, sqlite3_stmt **q, li_errbuf *eb) {
  if (sqlite3_prepare_v2(r->db, "SELECT mask FROM linli_dirty WHERE tbl = ?1 AND scope = ?2 AND pk = ?3", -1, q,
                         NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_dirty");
  return LI_OK;
}

/* The pending local edits of the row (t, scope, key): its linli_dirty
 * markers' column masks ORed (an insert marks every column), *found false
 * when it has none. */
static li_err s_dirty_of(li_replica *r, sqlite3_stmt *q, const li_table *t, const char *scope,
                         const Linli__Value *key, uint64_t *mask, bool *found, li_errbuf *eb) {
  sqlite3_bind_int(q, 1, t->id);
  sqlite3_bind_text(q, 2, scope, -1, SQLITE_STATIC);
  li_value_bind(q, 3, key);
  *mask = 0;
  *found = false;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    *mask |= (uint64_t)sqlite3_column_int64(q, 0);
    *found = true;
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_dirty");
}

/* A data row as it is here before a take-back touches it. */
typedef struct {
  bool exists;
  sqlite3_value *v[LI_TABLE_COLS_MAX]; /* every column, copied (exists only) */
} s_local_row;

static void s_local_free(s_local_row *lr, const li_table *t) {
  for (int i = 0; i < t->ncols; i++) sqlite3_value_free(lr->v[i]), lr->v[i] = NULL;
}

static li_err s_local_read(const s_applier *ap, const Linli__RowChange *ch, s_local_row *lr, li_errbuf *eb) {
  li_table *t = ap->t;
  memset(lr, 0, sizeof *lr);
  s_bind_key(ap, t->sel, 1, ch);
  int rc = sqlite3_step(t->sel);
  lr->exists = rc == SQLITE_ROW;
  bool nomem = false;
  for (int i = 0; lr->exists && i < t->ncols; i++)
    nomem |= !(lr->v[i] = sqlite3_value_dup(sqlite3_column_value(t->sel, i)));
  sqlite3_reset(t->sel);
  sqlite3_clear_bindings(t->sel);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return li_db_fail(ap->r, eb, t->name);
  return nomem ? li_fail(eb, LI_ERR_NOMEM, "out of memory") : LI_OK;
}

/* Steps a statement that puts a local edit back. It wrote the row here
 * before, so a failure stops the commit (a constraint: LI_ERR_TYPE). */
static li_err s_exec_local(const s_applier *ap, sqlite3_stmt *st, li_errbuf *eb) {
  int rc = sqlite3_step(st);
  li_err e = LI_OK;
  if (rc != SQLITE_DONE) {
    int code = sqlite3_extended_errcode(ap->r->db) & 0xff;
    e = li_fail(eb, code == SQLITE_CONSTRAINT ? LI_ERR_TYPE : LI_ERR_DB,
                "table %s: a local edit not sealed yet cannot be kept: %s", ap->t->name, sqlite3_errmsg(ap->r->db));
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

/* Gives the row its local existence back, and when it exists the local
 * values of the columns in mask (key columns are never rewritten). */
static li_err s_local_restore(s_applier *ap, const Linli__RowChange *ch, const s_local_row *lr, uint64_t mask,
                              li_errbuf *eb) {
  li_table *t = ap->t;
  s_local_row now;
  li_err e = s_local_read(ap, ch, &now, eb);
  s_local_free(&now, t);
  if (e) return e;
  if (!lr->exists) {
    if (!now.exists) return LI_OK;
    s_bind_key(ap, t->del, 1, ch);
    return s_exec_local(ap, t->del, eb);
  }
  if (!now.exists) {
    for (int i = 0; i < t->ncols; i++) sqlite3_bind_value(t->ins, i + 1, lr->v[i]);
    return s_exec_local(ap, t->ins, eb);
  }
  for (int i = 0; i < t->npk; i++) mask &= ~(UINT64_C(1) << t->pk[i]);
  mask &= ~(UINT64_C(1) << t->scope_col);
  mask &= (UINT64_C(1) << t->ncols) - 1;
  if (!mask) return LI_OK;
  sqlite3_stmt *up = li_capture_update_stmt(ap->r, t, mask);
  if (!up) return li_db_fail(ap->r, eb, "cannot prepare an update");
  int n = 1;
  for (int j = 0; j < t->ncols; j++)
    if (mask & (UINT64_C(1) << j)) sqlite3_bind_value(up, n++, lr->v[j]);
  s_bind_key(ap, up, n, ch);
  return s_exec_local(ap, up, eb);
}

/* A row of our own chain with a pending local edit (mask: the columns it
 * changed; merge.h, seal_first off): the commit goes to the row's clock and
 * to the columns nobody edited here since; the row keeps its local
 * existence and edited values, which are newer and which the next seal
 * stamps with a greater HLC. Nothing is lost and the chain does not fork
 * (DESIGN 13). The data row is first brought in line with its clock where
 * the edit made them differ, so s_apply_row meets the states it knows. */
static li_err s_take_back(s_applier *ap, const Linli__RowChange *ch, const Linli__Value *key,
                          const Linli__Value **vals, uint64_t mask, li_errbuf *eb) {
  li_table *t = ap->t;
  li_rowclock rc;
  li_err e = li_rowclock_get(ap->r, t, ap->c->scope, key, &rc, eb);
  if (e) return e;
  s_local_row lr;
  if ((e = s_local_read(ap, ch, &lr, eb))) goto out;
  bool alive = rc.cl % 2 == 1;
  if (alive && !lr.exists) {
    /* deleted here: only the clock takes the incoming generation, so that
     * the seal of the delete comes after it (it publishes cl + 1) */
    if ((int64_t)ch->cl <= rc.cl) goto out;
    rc.cl = (int64_t)ch->cl;
    for (int i = 0; i < t->ncols; i++) rc.hlc[i] = 0, rc.origin[i] = 0;
    e = li_rowclock_put(ap->r, t, ap->c->scope, key, &rc, eb);
    goto out;
  }
  if (!alive && lr.exists) { /* inserted here: the whole row is local */
    mask = ~UINT64_C(0);
    s_bind_key(ap, t->del, 1, ch);
    if ((e = s_exec_local(ap, t->del, eb))) goto out;
  }
  if ((e = s_apply_row(ap, ch, key, vals, eb))) goto out;
  if ((e = s_local_restore(ap, ch, &lr, mask, eb))) goto out;
  /* the commit began a new generation of a row that stays here: the row
   * kept is the local one whole, so the next seal must publish it whole
   * (every column), or replicas would hold the new generation's values
   * where this one keeps its own (linli-sim found it) */
  if (lr.exists && (int64_t)ch->cl != rc.cl) e = li_capture_mark(ap->r, t, ap->c->scope, key, 1, eb);
out:
  s_local_free(&lr, t);
  return e;
}

/* ---- a row change: validated, then applied ---- */

/* One row change: validated, then applied or refused (apply.h); with
 * take-back, a row with a pending local edit keeps it. */
static li_err s_row(s_applier *ap, const Linli__RowChange *ch, li_errbuf *eb) {
  const Linli__Value *vals[LI_TABLE_COLS_MAX] = {0};
  s_refusal f = {0};
  if (!s_validate(ap, ch, vals, &f)) {
    li_err e = s_flush(ap, eb);
    return e ? e : s_refuse(ap, ch, &f, eb);
  }
  const Linli__Value *key = NULL;
  li_err e = li_rowclock_key(ap->r, ap->a, ap->t, ch->pk, ch->n_pk, &key, eb);
  if (e) return e;
  if (ap->dirty_q) {
    uint64_t mask = 0;
    bool found = false;
    if ((e = s_dirty_of(ap->r, ap->dirty_q, ap->t, ap->c->scope, key, &mask, &found, eb))) return e;
    if (found) return s_take_back(ap, ch, key, vals, mask, eb);
  }
  return s_apply_row(ap, ch, key, vals, eb);
}

/* ---- a commit ---- */

/* The table of tc and the map of its columns (unknown ones -1). */
static void s_table(s_applier *ap, const Linli__TableChanges *tc) {
  ap->tc = tc;
  ap->ahead_read = false;
  ap->t = strncmp(tc->table, "linli_", 6) == 0 ? NULL : li_capture_table(ap->r, tc->table);
  for (size_t k = 0; k < tc->n_columns; k++) {
    ap->colmap[k] = -1;
    for (int j = 0; ap->t && j < ap->t->ncols; j++)
      if (strcmp(ap->t->cols[j], tc->columns[k]) == 0) ap->colmap[k] = j;
  }
}

li_err li_apply_commit(li_replica *r, li_arena *a, const li_commit *c, const li_apply_opts *o, li_apply_stats *st,
                       li_errbuf *eb) {
  assert(r && a && c && o && st && !sqlite3_get_autocommit(r->db));
  s_applier ap = {.r = r, .a = a, .c = c, .origin_idx = o->origin_idx, .wall_ms = o->wall_ms, .st = st};
  ap.group = !o->take_back;
  assert(s_check(&ap));
  li_err e = o->take_back ? s_dirty_prepare(r, &ap.dirty_q, eb) : LI_OK;
  for (size_t i = 0; i < c->c->n_tables && e == LI_OK; i++) {
    s_table(&ap, c->c->tables[i]);
    assert(s_check(&ap));
    for (size_t j = 0; j < ap.tc->n_rows && e == LI_OK; j++) {
      ap.row_at = j;
      e = s_row(&ap, ap.tc->rows[j], eb);
    }
    if (e == LI_OK) e = s_flush(&ap, eb);
  }
  free(ap.pend);
  free(ap.ahead);
  sqlite3_finalize(ap.dirty_q);
  assert(s_check(&ap));
  return e;
}

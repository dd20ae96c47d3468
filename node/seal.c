/* seal: dirty markers -> signed commits. See seal.h. */
#include "seal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "chain.h"
#include "commit.h"
#include "hlc.h"
#include "rowclock.h"
#include "scope.h"
#include "value.h"

li_err li_replica_hlc_load(li_replica *r, uint64_t *hlc, li_errbuf *eb) {
  int64_t v = 0;
  if (li_meta_get_int(r, "hlc", &v) != LI_OK || v < 0)
    return li_fail(eb, LI_ERR_TAMPERED, "linli_meta has no valid hlc");
  *hlc = (uint64_t)v;
  return LI_OK;
}

li_err li_replica_hlc_store(li_replica *r, uint64_t hlc, li_errbuf *eb) {
  return li_meta_set_int(r, "hlc", (int64_t)hlc, eb);
}

typedef struct {
  li_replica *r;
  li_arena a;
  li_hlc clock;
  uint64_t wall_ms;
  int self_idx;
  /* the commit being built */
  bool open;
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq, hlc;
  uint8_t prev[LI_HASH_BYTES];
  Linli__TableChanges *tables[LI_COMMIT_TABLES_MAX];
  size_t ntables;
  Linli__RowChange **rows; /* rows of the last table, LI_COMMIT_ROWS_MAX slots */
  size_t nrows_table, nrows;
  size_t bytes_est;
  li_seal_stats *st;
  bool held;               /* a table's markers were kept (drift) */
  li_rowclock_batch *clocks; /* the clocks of the rows sealed, written before s_flush resets the arena */
} s_sealer;

/* The markers sealed: all of them, or, when a table's were kept, those of
 * every other table. */
static li_err s_clear(s_sealer *s, li_errbuf *eb) {
  li_replica *r = s->r;
  if (!s->held) {
    int rc = sqlite3_step(r->st_dirty_clear);
    sqlite3_reset(r->st_dirty_clear);
    return rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_dirty");
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "DELETE FROM linli_dirty WHERE tbl = ?", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_dirty");
  li_err e = LI_OK;
  for (int i = 0; i < li_capture_count(r) && !e; i++) {
    const li_table *t = li_capture_table_at(r, i);
    if (t->drift) continue;
    sqlite3_bind_int(st, 1, t->id);
    if (sqlite3_step(st) != SQLITE_DONE) e = li_db_fail(r, eb, "linli_dirty");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return e;
}

static void s_close_table(s_sealer *s) {
  if (s->ntables == 0) return;
  Linli__TableChanges *tc = s->tables[s->ntables - 1];
  if (tc->rows) return; /* already closed */
  tc->n_rows = s->nrows_table;
  tc->rows = li_arena_alloc(&s->a, sizeof(*tc->rows) * (s->nrows_table ? s->nrows_table : 1));
  if (tc->rows) memcpy(tc->rows, s->rows, sizeof(*tc->rows) * s->nrows_table);
}

static li_err s_start(s_sealer *s, const char *scope, li_errbuf *eb) {
  li_replica *r = s->r;
  snprintf(s->scope, sizeof s->scope, "%s", scope);
  li_err e = li_chain_head(r, r->self, scope, &s->seq, s->prev, eb);
  if (e) return e;
  s->seq++;
  if ((e = li_hlc_now(&s->clock, s->wall_ms, &s->hlc))) return li_fail(eb, e, "clock overflow");
  s->ntables = 0;
  s->nrows = s->nrows_table = 0;
  s->bytes_est = 0;
  s->open = true;
  return LI_OK;
}

/* deps: every other origin's head of the commit's scope (DESIGN 3). */
static li_err s_deps(s_sealer *s, Linli__Dep **deps, size_t *n, li_errbuf *eb) {
  li_chain_dep *heads = malloc(sizeof *heads * LI_DEPS_MAX);
  if (!heads) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  size_t nheads = 0;
  li_err e = li_chain_deps(s->r, s->scope, s->r->self, heads, LI_DEPS_MAX, &nheads, eb);
  *n = 0;
  for (size_t i = 0; e == LI_OK && i < nheads; i++) {
    Linli__Dep *d = li_arena_alloc(&s->a, sizeof *d);
    uint8_t *o = li_arena_alloc(&s->a, LI_PK_BYTES);
    if (!d || !o) {
      e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
      break;
    }
    linli__dep__init(d);
    memcpy(o, heads[i].origin, LI_PK_BYTES);
    d->origin.data = o;
    d->origin.len = LI_PK_BYTES;
    d->seq = heads[i].seq;
    deps[(*n)++] = d;
  }
  free(heads);
  return e;
}

/* The commit s_start opened, with its body in c (tables, or a migration,
 * and the schema version): the chain position, stamp and deps filled in,
 * signed and appended to this node's chain of s->scope. */
static li_err s_seal_commit(s_sealer *s, Linli__Commit *c, li_errbuf *eb) {
  li_replica *r = s->r;
  c->origin.data = r->self;
  c->origin.len = LI_PK_BYTES;
  c->scope = s->scope;
  c->seq = s->seq;
  if (s->seq > 1) {
    c->prev.data = s->prev;
    c->prev.len = LI_HASH_BYTES;
  }
  c->hlc = s->hlc;
  Linli__Dep *deps[LI_DEPS_MAX];
  li_err e = s_deps(s, deps, &c->n_deps, eb);
  if (e) return e;
  c->deps = deps;
  uint8_t *sc = NULL, hash[LI_HASH_BYTES];
  size_t sc_len = 0;
  if ((e = li_commit_seal(r->id, r->network, c, &sc, &sc_len, hash, eb))) return e;
  e = li_chain_append(r, r->self, s->scope, s->seq, s->hlc, hash, s->seq > 1 ? s->prev : NULL, sc, sc_len, s->wall_ms,
                      eb);
  free(sc);
  c->deps = NULL; /* deps lived on this stack */
  return e;
}

static li_err s_flush(s_sealer *s, li_errbuf *eb) {
  li_err e = s->clocks ? li_rowclock_batch_flush(s->r, s->clocks, eb) : LI_OK;
  if (e || !s->open) return e;
  s->open = false;
  if (s->nrows == 0) {
    li_arena_reset(&s->a);
    return LI_OK;
  }
  s_close_table(s);
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.schema_version = s->r->schema_version;
  c.tables = s->tables;
  c.n_tables = s->ntables;
  e = s_seal_commit(s, &c, eb);
  if (e) return e;
  s->st->commits++;
  s->st->rows += (int64_t)s->nrows;
  li_arena_reset(&s->a);
  return LI_OK;
}

/* Key values of a dirty marker: the value itself, or the JSON array's items. */
static li_err s_pk_values(s_sealer *s, const li_table *t, Linli__Value *key, Linli__Value ***out, li_errbuf *eb) {
  Linli__Value **pk = li_arena_alloc(&s->a, sizeof(*pk) * (size_t)t->npk);
  if (!pk) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  if (t->npk == 1) {
    pk[0] = key;
    *out = pk;
    return LI_OK;
  }
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(s->r->db, "SELECT value FROM json_each(?)", -1, &q, NULL) != SQLITE_OK)
    return li_db_fail(s->r, eb, "json_each");
  li_value_bind(q, 1, key);
  int n = 0;
  while (sqlite3_step(q) == SQLITE_ROW && n < t->npk) {
    pk[n] = li_value_from_column(&s->a, q, 0);
    if (!pk[n++]) break;
  }
  sqlite3_finalize(q);
  if (n != t->npk || !pk[n - 1]) return li_fail(eb, LI_ERR_TAMPERED, "malformed composite key in linli_dirty");
  *out = pk;
  return LI_OK;
}

/* What one coalesced dirty row publishes: the row's next causal length and
 * the columns to emit, or nothing (skip). */
typedef struct {
  bool skip;
  int64_t cl;
  uint64_t emit;
} s_plan;

/* Decides the plan from the row's clock and the row as it is now (t->sel,
 * stepped: exists says whether it found the row). Both are of the row
 * (table, this commit's scope, key): a row never changes scope, a write
 * that moves one is an insert in the other scope (capture.h). */
static void s_row_plan(const li_table *t, const li_rowclock *rc, bool exists, uint64_t mask, bool saw_delete,
                       s_plan *p) {
  p->skip = true;
  p->cl = rc->cl;
  p->emit = 0;
  if (!exists) {
    if (p->cl % 2 == 0) return; /* never published, or already deleted */
    p->cl += 1;
    p->skip = false;
    return;
  }
  uint64_t all = (UINT64_C(1) << t->ncols) - 1;
  if (p->cl % 2 == 0) { /* new, or resurrected */
    p->cl += 1;
    p->emit = all;
  } else if (saw_delete) { /* deleted and inserted again between two seals */
    p->cl += 2;
    p->emit = all;
  } else {
    p->emit = mask & all;
  }
  /* the key travels in RowChange.pk; scope, the commit's, is sent with a
   * new generation only (an update never changes it), so that a new row
   * reads whole in the log */
  for (int i = 0; i < t->npk; i++) p->emit &= ~(UINT64_C(1) << t->pk[i]);
  p->skip = p->emit == 0 && p->cl == rc->cl; /* an update that changed nothing */
}

/* The RowChange of a plan, column i's value vals[i] (set for each column
 * the plan emits); the columns it emits get this commit's version in rc. */
static li_err s_row_change(s_sealer *s, const li_table *t, Linli__Value **pk, const s_plan *p,
                           Linli__Value *const *vals, li_rowclock *rc, Linli__RowChange **out, li_errbuf *eb) {
  Linli__RowChange *ch = li_arena_alloc(&s->a, sizeof *ch);
  if (!ch) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  linli__row_change__init(ch);
  ch->pk = pk;
  ch->n_pk = (size_t)t->npk;
  ch->cl = (uint64_t)p->cl;
  int ncols = __builtin_popcountll(p->emit);
  if (ncols) {
    ch->cols = li_arena_alloc(&s->a, sizeof(*ch->cols) * (size_t)ncols);
    ch->values = li_arena_alloc(&s->a, sizeof(*ch->values) * (size_t)ncols);
    if (!ch->cols || !ch->values) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  if (p->cl != rc->cl) /* a new generation starts with fresh column versions */
    for (int i = 0; i < t->ncols; i++) rc->hlc[i] = 0, rc->origin[i] = 0;
  for (int i = 0; i < t->ncols; i++) {
    if (!(p->emit & (UINT64_C(1) << i))) continue;
    Linli__Value *v = vals[i];
    if ((v->v_case == LINLI__VALUE__V_T && strlen(v->t) > LI_VALUE_BYTES_MAX) ||
        (v->v_case == LINLI__VALUE__V_B && v->b.len > LI_VALUE_BYTES_MAX))
      return li_fail(eb, LI_ERR_TOO_BIG, "table %s column %s: a value over %u bytes (LI_VALUE_BYTES_MAX)", t->name,
                     t->cols[i], LI_VALUE_BYTES_MAX);
    if (v->v_case == LINLI__VALUE__V_T) s->bytes_est += strlen(v->t);
    if (v->v_case == LINLI__VALUE__V_B) s->bytes_est += v->b.len;
    s->bytes_est += 4;
    ch->cols[ch->n_cols++] = (uint32_t)i;
    ch->values[ch->n_values++] = v;
    rc->hlc[i] = s->hlc;
    rc->origin[i] = (uint32_t)s->self_idx;
  }
  *out = ch;
  return LI_OK;
}

/* Appends a RowChange to the open commit, opening a TableChanges when the
 * table changes. */
static li_err s_row_append(s_sealer *s, li_table *t, Linli__RowChange *ch, li_errbuf *eb) {
  if (s->ntables == 0 || strcmp(s->tables[s->ntables - 1]->table, t->name) != 0) {
    s_close_table(s);
    if (s->ntables >= LI_COMMIT_TABLES_MAX)
      return li_fail(eb, LI_ERR_LIMIT, "over %d tables in one commit (LI_COMMIT_TABLES_MAX)", LI_COMMIT_TABLES_MAX);
    Linli__TableChanges *tc = li_arena_alloc(&s->a, sizeof *tc);
    if (!tc) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    linli__table_changes__init(tc);
    tc->table = t->name;
    tc->columns = t->cols;
    tc->n_columns = (size_t)t->ncols;
    s->tables[s->ntables++] = tc;
    s->nrows_table = 0;
  }
  s->rows[s->nrows_table++] = ch;
  s->nrows++;
  s->bytes_est += 16;
  return LI_OK;
}

/* The values of the columns in cols, column i read from st's column base + i
 * (the row as it is now) into vals[i]. */
static li_err s_row_values(s_sealer *s, const li_table *t, uint64_t cols, sqlite3_stmt *st, int base,
                           Linli__Value **vals, li_errbuf *eb) {
  for (int i = 0; i < t->ncols; i++)
    if ((cols & (UINT64_C(1) << i)) && !(vals[i] = li_value_from_column(&s->a, st, base + i)))
      return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  return LI_OK;
}

/* A plan that publishes: its RowChange appended to the open commit, the
 * row's clock (rc, as read) queued to be written back with the new
 * versions (s->clocks, as li_rowclock_put writes it). */
static li_err s_row_emit(s_sealer *s, li_table *t, const Linli__Value *key, Linli__Value **pk, const s_plan *p,
                         Linli__Value *const *vals, li_rowclock *rc, li_errbuf *eb) {
  Linli__RowChange *ch = NULL;
  li_err e = s_row_change(s, t, pk, p, vals, rc, &ch, eb);
  if (e) return e;
  rc->cl = p->cl;
  if ((e = li_rowclock_batch_add(s->r, s->clocks, t, s->scope, key, rc, eb))) return e;
  return s_row_append(s, t, ch, eb);
}

/* One coalesced dirty row -> at most one RowChange in the open commit,
 * the clock read with li_rowclock_get and the row with t->sel: a table of
 * a composite key (its markers' pk is the JSON array of the key columns),
 * or a row whose clock this seal may have written already (s_group). It
 * reads the row as it is now, so edits between two seals coalesce. */
static li_err s_row(s_sealer *s, li_table *t, Linli__Value *key, uint64_t mask, bool saw_delete, li_errbuf *eb) {
  li_replica *r = s->r;
  Linli__Value **pk = NULL;
  li_err e = s_pk_values(s, t, key, &pk, eb);
  if (e) return e;
  li_rowclock rc;
  if ((e = li_rowclock_batch_flush(r, s->clocks, eb)) || (e = li_rowclock_get(r, t, s->scope, key, &rc, eb)))
    return e;
  for (int i = 0; i < t->npk; i++) li_value_bind(t->sel, i + 1, pk[i]);
  sqlite3_bind_text(t->sel, t->npk + 1, s->scope, -1, SQLITE_STATIC);
  int step = sqlite3_step(t->sel);
  s_plan p = {.skip = true};
  Linli__Value *vals[LI_TABLE_COLS_MAX];
  if (step != SQLITE_ROW && step != SQLITE_DONE) e = li_db_fail(r, eb, t->name);
  if (e == LI_OK) s_row_plan(t, &rc, step == SQLITE_ROW, mask, saw_delete, &p);
  if (e == LI_OK && !p.skip) e = s_row_values(s, t, p.emit, t->sel, 0, vals, eb);
  sqlite3_reset(t->sel);
  sqlite3_clear_bindings(t->sel);
  if (e || p.skip) return e;
  return s_row_emit(s, t, key, pk, &p, vals, &rc, eb);
}

/* ---- reading the markers: one pass per table ---- */

/* Columns of a table's marker statement (s_table_stmt). */
enum { S_Q_SCOPE, S_Q_PK, S_Q_OP, S_Q_MASK, S_Q_CL, S_Q_VERS, S_Q_ROW };

/* t->seal, prepared on first use (capture frees it with the table): t's
 * markers in the order they are sealed (scope, key, then as written).
 * For a single key column each also carries the row's clock (S_Q_CL and
 * S_Q_VERS, NULL when there is none) and the row as it is now (from
 * S_Q_ROW, t's columns in order, all NULL when there is none), so one step
 * replaces a clock read and a t->sel per row. The joins compare as those
 * reads do: linli_clock's pk, like the marker's, has no affinity, and t's
 * key and scope columns stand on the left so that their affinity and
 * collation apply to the marker's values, as they apply to a bound
 * parameter in t->sel. The ORDER BY sorts the whole join before the first
 * row comes out, so what the seal writes meanwhile is not read back. */
static li_err s_table_stmt(li_replica *r, li_table *t, li_errbuf *eb) {
  if (t->seal) return LI_OK;
  sqlite3_str *x = sqlite3_str_new(r->db);
  sqlite3_str_appendall(x, "SELECT d.scope, d.pk, d.op, d.mask");
  if (t->npk == 1) {
    sqlite3_str_appendall(x, ", c.cl, c.vers");
    for (int i = 0; i < t->ncols; i++) sqlite3_str_appendf(x, ", t.\"%w\"", t->cols[i]);
    sqlite3_str_appendf(x,
                        " FROM linli_dirty d LEFT JOIN linli_clock c ON c.tbl = d.tbl AND c.scope = d.scope AND "
                        "c.pk = d.pk LEFT JOIN \"%w\" t ON t.\"%w\" = d.pk AND t.\"%w\" = d.scope",
                        t->name, t->cols[t->pk[0]], t->cols[t->scope_col]);
  } else {
    sqlite3_str_appendall(x, " FROM linli_dirty d");
  }
  sqlite3_str_appendall(x, " WHERE d.tbl = ?1 ORDER BY d.scope, d.pk, d.rowid");
  char *sql = sqlite3_str_finish(x);
  if (!sql) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  li_err e = LI_OK;
  if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->seal, NULL) != SQLITE_OK)
    e = li_db_fail(r, eb, t->name);
  sqlite3_free(sql);
  return e;
}

/* A table's markers being read (t->seal, stepped: rc its last result). */
typedef struct {
  li_table *t;
  sqlite3_stmt *q;
  int rc;
  Linli__Value last; /* the key of its last group, for s_clock_seen (numbers only) */
} s_cursor;

/* Whether two keys are numbers SQLite holds equal (1 and 1.0): markers of
 * one row under keys li_value_equals_column tells apart, sealed as two
 * groups in a row (ORDER BY puts them together) as the old per-row reads
 * did; the second must read the clock the first wrote. */
static bool s_clock_seen(const Linli__Value *a, const Linli__Value *b) {
  bool ai = a->v_case == LINLI__VALUE__V_I, bi = b->v_case == LINLI__VALUE__V_I;
  if ((!ai && a->v_case != LINLI__VALUE__V_F) || (!bi && b->v_case != LINLI__VALUE__V_F)) return false;
  if (ai && bi) return a->i == b->i;
  return (ai ? (double)a->i : a->f) == (bi ? (double)b->i : b->f);
}

/* The markers of one row, from c's current row on: their masks ORed and
 * whether one was a delete, sealed with the clock and the row the first
 * one carries (s_row for a composite key). Leaves c on the next row's
 * first marker. */
static li_err s_group(s_sealer *s, s_cursor *c, li_errbuf *eb) {
  sqlite3_stmt *q = c->q;
  li_table *t = c->t;
  const char *scope = (const char *)sqlite3_column_text(q, S_Q_SCOPE);
  if (!scope || !li_valid_scope(scope)) return li_fail(eb, LI_ERR_TAMPERED, "linli_dirty holds a row without a valid scope");
  li_err e;
  if (!s->open || strcmp(s->scope, scope) != 0 || s->nrows >= LI_COMMIT_ROWS_MAX ||
      s->bytes_est >= LI_COMMIT_BYTES_MAX / 2) {
    char sc[LI_SCOPE_MAX + 1];
    snprintf(sc, sizeof sc, "%s", scope);
    if ((e = s_flush(s, eb)) || (e = s_start(s, sc, eb))) return e;
  }
  /* the group's first row stays current in q until we step past the group;
   * copy what the group needs so that it survives stepping */
  Linli__Value *key = li_value_from_column(&s->a, q, S_Q_PK);
  if (!key) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  bool fast = t->npk == 1 && !s_clock_seen(&c->last, key);
  c->last = *key;
  li_rowclock rc;
  bool exists = false;
  Linli__Value *vals[LI_TABLE_COLS_MAX];
  if (fast) {
    if ((e = li_rowclock_from_columns(t, q, S_Q_CL, &rc, eb))) return e;
    exists = sqlite3_column_type(q, S_Q_ROW + t->scope_col) != SQLITE_NULL;
    uint64_t cols = (UINT64_C(1) << t->ncols) - 1;
    for (int i = 0; i < t->npk; i++) cols &= ~(UINT64_C(1) << t->pk[i]);
    if (exists && (e = s_row_values(s, t, cols, q, S_Q_ROW, vals, eb))) return e;
  }
  uint64_t mask = 0;
  bool saw_delete = false;
  do {
    mask |= (uint64_t)sqlite3_column_int64(q, S_Q_MASK);
    saw_delete |= sqlite3_column_int(q, S_Q_OP) == 3;
    c->rc = sqlite3_step(q);
  } while (c->rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, S_Q_SCOPE), s->scope) == 0 &&
           li_value_equals_column(key, q, S_Q_PK));
  if (c->rc != SQLITE_ROW && c->rc != SQLITE_DONE) return li_db_fail(s->r, eb, "linli_dirty");
  if (!fast) return s_row(s, t, key, mask, saw_delete, eb);
  s_plan p;
  s_row_plan(t, &rc, exists, mask, saw_delete, &p);
  if (p.skip) return LI_OK;
  Linli__Value **pk = NULL;
  if ((e = s_pk_values(s, t, key, &pk, eb))) return e;
  return s_row_emit(s, t, key, pk, &p, vals, &rc, eb);
}

/* Which tables have markers (one scan of linli_dirty). A drift table's
 * are counted and kept (capture.h invariant 8; held names the one whose
 * markers come first); every other one gets a cursor in cur (id order),
 * stepped to its first marker. */
static li_err s_cursors(s_sealer *s, s_cursor *cur, int *ncur, li_errbuf *eb) {
  li_replica *r = s->r;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT tbl, count(*), min(ifnull(scope, '')) FROM linli_dirty GROUP BY tbl ORDER BY tbl", -1,
                         &q, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_dirty");
  li_err e = LI_OK;
  char *held_scope = NULL;
  int rc;
  while (e == LI_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    int tbl = sqlite3_column_int(q, 0);
    li_table *t = li_capture_table_by_id(r, tbl);
    if (!t) {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_dirty names table id %d, which is not tracked", tbl);
    } else if (t->drift) {
      const char *first = (const char *)sqlite3_column_text(q, 2);
      s->st->held_rows += sqlite3_column_int64(q, 1);
      if (!held_scope || strcmp(first ? first : "", held_scope) < 0) {
        free(held_scope);
        held_scope = strdup(first ? first : "");
        if (!held_scope) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
        snprintf(s->st->held, sizeof s->st->held, "%s", t->drift);
      }
      s->held = true;
    } else if ((e = s_table_stmt(r, t, eb)) == LI_OK) {
      s_cursor *c = &cur[(*ncur)++];
      memset(c, 0, sizeof *c);
      c->t = t;
      c->q = t->seal;
      sqlite3_bind_int(c->q, 1, t->id);
      c->rc = sqlite3_step(c->q);
      if (c->rc != SQLITE_ROW && c->rc != SQLITE_DONE) e = li_db_fail(r, eb, t->name);
    }
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_dirty");
  sqlite3_finalize(q);
  free(held_scope);
  return e;
}

/* The cursor whose current marker is sealed next: the smallest scope
 * (NULL first), then the smallest table id, as ORDER BY scope, tbl would
 * put them; NULL when every cursor is done. */
static s_cursor *s_next(s_cursor *cur, int ncur) {
  s_cursor *best = NULL;
  const char *best_scope = NULL;
  for (int i = 0; i < ncur; i++) {
    if (cur[i].rc != SQLITE_ROW) continue;
    const char *sc = (const char *)sqlite3_column_text(cur[i].q, S_Q_SCOPE);
    if (!sc) return &cur[i]; /* s_group refuses it */
    if (!best || strcmp(sc, best_scope) < 0) best = &cur[i], best_scope = sc;
  }
  return best;
}

li_err li_seal_locked(li_replica *r, uint64_t wall_ms, li_seal_stats *st, li_errbuf *eb) {
  assert(r->id && !sqlite3_get_autocommit(r->db));
  li_seal_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  s_sealer s;
  memset(&s, 0, sizeof s);
  s.r = r;
  s.st = st;
  s.wall_ms = wall_ms;
  li_arena_init(&s.a);
  uint64_t last = 0;
  li_err e = li_replica_catalogue_fresh(r, eb); /* capture.h invariant 8 needs the schema as it is now */
  if (e == LI_OK) e = li_replica_hlc_load(r, &last, eb);
  if (e) return e;
  li_hlc_init(&s.clock, last);
  if ((e = li_replica_origin_idx(r, r->self, &s.self_idx, eb))) return e;
  s.rows = malloc(sizeof(*s.rows) * LI_COMMIT_ROWS_MAX);
  s.clocks = calloc(1, sizeof *s.clocks);
  s_cursor *cur = calloc((size_t)li_capture_count(r) + 1, sizeof *cur);
  int ncur = 0;
  if (!s.rows || !s.clocks || !cur) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
  if (e == LI_OK) e = s_cursors(&s, cur, &ncur, eb);
  for (s_cursor *c; e == LI_OK && (c = s_next(cur, ncur));) e = s_group(&s, c, eb);
  for (int i = 0; i < ncur; i++) sqlite3_reset(cur[i].q);
  free(cur);
  if (e == LI_OK) e = s_flush(&s, eb);
  if (e == LI_OK) e = s_clear(&s, eb);
  if (e == LI_OK) e = li_replica_hlc_store(r, s.clock.last, eb);
  free(s.clocks);
  free(s.rows);
  li_arena_free(&s.a);
  return e;
}

li_err li_seal_migration(li_replica *r, uint64_t wall_ms, uint32_t version, char *const *stmts, size_t n,
                         uint64_t *hlc, uint64_t *seq, li_errbuf *eb) {
  assert(r->id && !sqlite3_get_autocommit(r->db) && li_replica_role(r) == LI_ROLE_HUB);
  s_sealer s;
  memset(&s, 0, sizeof s);
  s.r = r;
  s.wall_ms = wall_ms;
  uint64_t last = 0;
  li_err e = li_replica_hlc_load(r, &last, eb);
  if (e) return e;
  li_hlc_init(&s.clock, last);
  li_arena_init(&s.a);
  Linli__Migration mig = LINLI__MIGRATION__INIT;
  mig.version = version;
  mig.statements = (char **)stmts;
  mig.n_statements = n;
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.schema_version = version;
  c.migration = &mig;
  if ((e = s_start(&s, LI_SCOPE_STREET, eb)) == LI_OK && (e = s_seal_commit(&s, &c, eb)) == LI_OK)
    e = li_replica_hlc_store(r, s.clock.last, eb);
  if (e == LI_OK) *hlc = s.hlc, *seq = s.seq;
  li_arena_free(&s.a);
  return e;
}

li_err li_seal(li_replica *r, uint64_t wall_ms, li_seal_stats *st, li_errbuf *eb) {
  li_err e = li_replica_begin(r, eb);
  if (e) return e;
  e = li_seal_locked(r, wall_ms, st, eb);
  if (e) {
    li_replica_rollback(r);
    return e;
  }
  return li_replica_commit(r, eb);
}

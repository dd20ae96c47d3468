/* capture: the catalogue of tracked tables and their capture triggers. See
 * capture.h for what it owns and its invariants. */
#include "capture.h"

#include "value.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica.h"

const char li_capture_sql[] =
    "CREATE TABLE linli_tables(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, cols TEXT NOT NULL);\n"
    /* pk has no declared type, so no affinity: a TEXT key '1001' stays
     * TEXT (ANY would mean NUMERIC here and make it an INTEGER) */
    "CREATE TABLE linli_dirty(tbl INTEGER NOT NULL, scope TEXT, pk, op INTEGER NOT NULL,\n"
    "  mask INTEGER NOT NULL, ms INTEGER NOT NULL);\n"
    "CREATE TABLE linli_applying(x INTEGER);\n";

/* ---- invariants ---- */

/* Invariant 4 for one catalogued table. */
static bool s_check_table(const li_table *t) {
  if (!t->name || t->id <= 0 || t->ncols < 1 || t->ncols > LI_TABLE_COLS_MAX) return false;
  if (t->npk < 1 || t->npk > LI_PK_COLS_MAX) return false;
  if (t->scope_col < 0 || t->scope_col >= t->ncols || t->aff[t->scope_col] != LI_AFF_TEXT) return false;
  for (int i = 0; i < t->npk; i++)
    if (t->pk[i] < 0 || t->pk[i] >= t->ncols || t->pk[i] == t->scope_col) return false;
  return t->sel && t->ins && t->del;
}

/* Invariants 4 and 5 over the catalogue in memory. */
static bool s_check(const li_replica *r) {
  if (r->ntables < 0 || r->ntables > LI_TABLES_MAX) return false;
  for (int i = 0; i < r->ntables; i++) {
    if (!s_check_table(&r->tables[i])) return false;
    if (i > 0 && r->tables[i].id <= r->tables[i - 1].id) return false;
  }
  return true;
}

/* Invariant 1 for a table just tracked (the database is ours: the
 * triggers were created in this transaction). */
static bool s_has_triggers(li_replica *r, const li_table *t) {
  sqlite3_stmt *st = NULL;
  int n = -1;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name IN "
                         "(?1 || '_ai', ?1 || '_au', ?1 || '_ak', ?1 || '_ad', ?1 || '_bm')",
                         -1, &st, NULL) == SQLITE_OK) {
    char tid[32];
    snprintf(tid, sizeof tid, "linli_%d", t->id);
    sqlite3_bind_text(st, 1, tid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  return n == 5;
}

/* ---- SQL text helpers ---- */

/* Appends name quoted as an SQL identifier. */
static void s_ident(char *buf, size_t cap, const char *name) {
  size_t n = strlen(buf);
  if (n + 1 >= cap) return;
  buf[n++] = '"';
  for (const char *p = name; *p && n + 3 < cap; p++) {
    if (*p == '"') buf[n++] = '"';
    buf[n++] = *p;
  }
  buf[n++] = '"';
  buf[n] = 0;
}

static void s_cat(char *buf, size_t cap, const char *s) {
  size_t n = strlen(buf);
  snprintf(buf + n, cap - n, "%s", s);
}

/* ---- describing a table ---- */

static li_affinity s_affinity(const char *decl) {
  /* SQLite's affinity rules (datatype3.html section 3.1), in their order. */
  char up[64];
  size_t i;
  for (i = 0; decl && decl[i] && i < sizeof up - 1; i++)
    up[i] = (char)((decl[i] >= 'a' && decl[i] <= 'z') ? decl[i] - 32 : decl[i]);
  up[i] = 0;
  if (strstr(up, "INT")) return LI_AFF_INT;
  if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT")) return LI_AFF_TEXT;
  if (!decl || !decl[0] || strstr(up, "BLOB")) return LI_AFF_BLOB;
  if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB")) return LI_AFF_REAL;
  return LI_AFF_ANY; /* NUMERIC */
}

static void s_table_free(li_table *t) {
  for (int i = 0; i < t->ncols; i++) free(t->cols[i]);
  free(t->cols);
  free(t->aff);
  free(t->name);
  sqlite3_finalize(t->sel);
  sqlite3_finalize(t->ins);
  sqlite3_finalize(t->del);
  sqlite3_finalize(t->seal);
  for (int i = 0; i < LI_UPD_CACHE; i++) sqlite3_finalize(t->upd[i].st);
  for (int i = 0; i < LI_BULK_SIZES; i++) sqlite3_finalize(t->bulk_ins[i]);
  sqlite3_finalize(t->bulk_get);
  for (int i = 0; t->dflt && i < t->ncols; i++) sqlite3_value_free(t->dflt[i]);
  free(t->dflt);
  free(t->drift);
  memset(t, 0, sizeof *t);
}

/* The value of a column's DEFAULT expression (dflt_value of table_info),
 * or NULL for none or one that is not a constant (apply.c fills a column a
 * commit of an older schema version did not know with it). */
static sqlite3_value *s_default(li_replica *r, const char *expr) {
  /* a literal only: "(expression)" and CURRENT_* differ from row to row
   * and replica to replica (ADD COLUMN allows literals alone) */
  if (!expr || !expr[0] || expr[0] == '(' || sqlite3_strnicmp(expr, "CURRENT_", 8) == 0) return NULL;
  char *sql = sqlite3_mprintf("SELECT %s", expr);
  sqlite3_stmt *st = NULL;
  sqlite3_value *v = NULL;
  const char *tail = NULL;
  if (sql && sqlite3_prepare_v2(r->db, sql, -1, &st, &tail) == SQLITE_OK && st && (!tail || !*tail) &&
      sqlite3_stmt_readonly(st) && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_count(st) == 1)
    v = sqlite3_value_dup(sqlite3_column_value(st, 0));
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return v;
}

/* Columns, affinities and the scope column from PRAGMA table_info;
 * pkpos[i] gets column i's position in the key (0: not in it). */
static li_err s_describe_columns(li_replica *r, const char *name, li_table *t, int *pkpos, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT name, type, pk, \"notnull\", dflt_value FROM pragma_table_info(?) ORDER BY cid",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "table_info");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  memset(t, 0, sizeof *t);
  t->scope_col = -1;
  t->cols = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->cols);
  t->aff = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->aff);
  t->dflt = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->dflt);
  t->name = strdup(name);
  li_err e = LI_OK;
  if (!t->cols || !t->aff || !t->dflt || !t->name) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
  while (e == LI_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (t->ncols >= LI_TABLE_COLS_MAX) {
      e = li_fail(eb, LI_ERR_TRACK, "table '%s' has more than %d columns (LI_TABLE_COLS_MAX)", name,
                  LI_TABLE_COLS_MAX);
      break;
    }
    const char *cn = (const char *)sqlite3_column_text(st, 0);
    t->cols[t->ncols] = strdup(cn ? cn : "");
    t->aff[t->ncols] = s_affinity((const char *)sqlite3_column_text(st, 1));
    pkpos[t->ncols] = sqlite3_column_int(st, 2);
    if (sqlite3_column_int(st, 3)) t->notnull |= UINT64_C(1) << t->ncols;
    t->dflt[t->ncols] = s_default(r, (const char *)sqlite3_column_text(st, 4));
    if (cn && strcmp(cn, "scope") == 0) {
      t->scope_col = t->ncols;
      if (t->aff[t->ncols] != LI_AFF_TEXT)
        e = li_fail(eb, LI_ERR_TRACK, "table '%s': column scope must be declared TEXT", name);
    }
    t->ncols++;
  }
  sqlite3_finalize(st);
  if (e == LI_OK && t->ncols == 0) e = li_fail(eb, LI_ERR_NOT_FOUND, "no table named '%s' in the replica", name);
  return e;
}

/* The key columns besides scope in key order (pk[]), and the rules on
 * keys (invariant 4). A row is (scope, the other key columns): two scopes
 * using one key hold two rows, so no write of one scope can collide with,
 * or block, a row of another, whatever order commits arrive in. */
static li_err s_describe_key(const char *name, li_table *t, const int *pkpos, li_errbuf *eb) {
  bool scope_in_key = false;
  for (int k = 1; k <= t->ncols; k++)
    for (int i = 0; i < t->ncols; i++) {
      if (pkpos[i] != k) continue;
      if (i == t->scope_col) {
        scope_in_key = true;
        continue;
      }
      if (t->npk >= LI_PK_COLS_MAX)
        return li_fail(eb, LI_ERR_TRACK, "table '%s' has more than %d key columns besides scope (LI_PK_COLS_MAX)",
                       name, LI_PK_COLS_MAX);
      t->pk[t->npk++] = i;
    }
  if (!scope_in_key && t->npk == 0)
    return li_fail(eb, LI_ERR_TRACK,
                   "table '%s' has no PRIMARY KEY: rows could not be matched between replicas; declare one "
                   "that includes scope, e.g. PRIMARY KEY (id, scope)",
                   name);
  if (!scope_in_key)
    return li_fail(eb, LI_ERR_TRACK,
                   "table '%s': its PRIMARY KEY must include the column scope, so that a key used in one scope "
                   "never blocks another scope's row; e.g. PRIMARY KEY (%s, scope)",
                   name, t->cols[t->pk[0]]);
  if (t->npk == 0)
    return li_fail(eb, LI_ERR_TRACK,
                   "table '%s': its PRIMARY KEY is scope alone; add a key column besides it, e.g. "
                   "PRIMARY KEY (id, scope)",
                   name);
  if (t->npk > 1)
    for (int i = 0; i < t->npk; i++)
      if (t->aff[t->pk[i]] == LI_AFF_BLOB)
        return li_fail(eb, LI_ERR_TRACK, "table '%s': a composite key may not have BLOB columns", name);
  return LI_OK;
}

/* Reads a table's columns and key into t and checks that it can be
 * tracked. On error t may hold allocations: the caller frees it. */
static li_err s_table_describe(li_replica *r, const char *name, li_table *t, li_errbuf *eb) {
  int pkpos[LI_TABLE_COLS_MAX + 1];
  li_err e = s_describe_columns(r, name, t, pkpos, eb);
  if (e == LI_OK && t->scope_col < 0)
    e = li_fail(eb, LI_ERR_TRACK,
                "table '%s' has no TEXT column 'scope': every tracked row must name the scope (committee code or "
                "'street') it belongs to, as part of its key: add scope TEXT NOT NULL and PRIMARY KEY (id, scope)",
                name);
  if (e == LI_OK) e = s_describe_key(name, t, pkpos, eb);
  return e;
}

static li_err s_prepare(li_replica *r, const char *sql, sqlite3_stmt **st, li_errbuf *eb) {
  if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, sql);
  return LI_OK;
}

/* Appends the table's columns as a quoted, comma-separated list. */
static void s_col_list(char *sql, size_t cap, const li_table *t) {
  for (int i = 0; i < t->ncols; i++) {
    if (i) s_cat(sql, cap, ",");
    s_ident(sql, cap, t->cols[i]);
  }
}

/* The table's sel, del and ins statements (invariant 4). sel and del take
 * the key columns besides scope, then scope. */
static li_err s_table_prepare(li_replica *r, li_table *t, li_errbuf *eb) {
  char sql[8192];
  char where[2048] = "";
  for (int i = 0; i < t->npk; i++) {
    s_ident(where, sizeof where, t->cols[t->pk[i]]);
    s_cat(where, sizeof where, "=? AND ");
  }
  s_ident(where, sizeof where, t->cols[t->scope_col]);
  s_cat(where, sizeof where, "=?");
  snprintf(sql, sizeof sql, "SELECT ");
  s_col_list(sql, sizeof sql, t);
  s_cat(sql, sizeof sql, " FROM ");
  s_ident(sql, sizeof sql, t->name);
  s_cat(sql, sizeof sql, " WHERE ");
  s_cat(sql, sizeof sql, where);
  li_err e = s_prepare(r, sql, &t->sel, eb);
  if (e) return e;
  snprintf(sql, sizeof sql, "DELETE FROM ");
  s_ident(sql, sizeof sql, t->name);
  s_cat(sql, sizeof sql, " WHERE ");
  s_cat(sql, sizeof sql, where);
  if ((e = s_prepare(r, sql, &t->del, eb))) return e;
  snprintf(sql, sizeof sql, "INSERT INTO ");
  s_ident(sql, sizeof sql, t->name);
  s_cat(sql, sizeof sql, "(");
  s_col_list(sql, sizeof sql, t);
  s_cat(sql, sizeof sql, ") VALUES(");
  for (int i = 0; i < t->ncols; i++) s_cat(sql, sizeof sql, i ? ",?" : "?");
  s_cat(sql, sizeof sql, ")");
  return s_prepare(r, sql, &t->ins, eb);
}

/* ---- the catalogue ---- */

static char *s_cols_json(const li_table *t);

/* Whether column name is among t's live columns. */
static bool s_has_col(const li_table *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (strcmp(t->cols[i], name) == 0) return true;
  return false;
}

/* Invariant 8: t->drift when the live columns are not those tracking was
 * built for (stored: linli_tables.cols). */
static li_err s_drift(li_replica *r, li_table *t, const char *stored, li_errbuf *eb) {
  char *live = s_cols_json(t);
  if (!live) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  bool same = stored && strcmp(live, stored) == 0;
  free(live);
  if (same) return LI_OK;
  sqlite3_str *added = sqlite3_str_new(NULL), *gone = sqlite3_str_new(NULL);
  sqlite3_stmt *st = NULL;
  bool parsed = false;
  if (stored && sqlite3_prepare_v2(r->db, "SELECT value FROM json_each(?) WHERE json_valid(?)", -1, &st, NULL) ==
                    SQLITE_OK) {
    sqlite3_bind_text(st, 1, stored, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stored, -1, SQLITE_STATIC);
    char *was[LI_TABLE_COLS_MAX + 1];
    int nwas = 0;
    while (sqlite3_step(st) == SQLITE_ROW && nwas <= LI_TABLE_COLS_MAX) {
      const char *c = (const char *)sqlite3_column_text(st, 0);
      was[nwas] = strdup(c ? c : "");
      if (!was[nwas]) break;
      if (!s_has_col(t, was[nwas])) sqlite3_str_appendf(gone, "%s%s", sqlite3_str_length(gone) ? ", " : "", was[nwas]);
      nwas++;
    }
    parsed = nwas > 0;
    for (int i = 0; i < t->ncols; i++) {
      bool found = false;
      for (int k = 0; k < nwas && !found; k++) found = strcmp(was[k], t->cols[i]) == 0;
      if (!found) sqlite3_str_appendf(added, "%s%s", sqlite3_str_length(added) ? ", " : "", t->cols[i]);
    }
    for (int k = 0; k < nwas; k++) free(was[k]);
  }
  sqlite3_finalize(st);
  char *a = sqlite3_str_finish(added), *g = sqlite3_str_finish(gone);
  sqlite3_str *m = sqlite3_str_new(NULL);
  sqlite3_str_appendf(m, "table '%s' was changed by hand after linli began tracking it (", t->name);
  if (!parsed) sqlite3_str_appendall(m, "its columns differ");
  if (parsed && a && a[0]) sqlite3_str_appendf(m, "added: %s", a);
  if (parsed && g && g[0]) sqlite3_str_appendf(m, "%sgone: %s", a && a[0] ? "; " : "", g);
  if (parsed && !(a && a[0]) && !(g && g[0])) sqlite3_str_appendall(m, "columns reordered or renamed");
  sqlite3_str_appendf(m,
                      "): its changes are kept unsealed; undo the change (ALTER TABLE back to the columns %s) and "
                      "they are sealed as usual. A schema change reaches every committee as a street schema "
                      "migration",
                      stored ? stored : "?");
  sqlite3_free(a);
  sqlite3_free(g);
  char *msg = sqlite3_str_finish(m);
  if (!msg) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  t->drift = strdup(msg);
  sqlite3_free(msg);
  return t->drift ? LI_OK : li_fail(eb, LI_ERR_NOMEM, "out of memory");
}

li_err li_capture_load(li_replica *r, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT id, name, cols FROM linli_tables ORDER BY id", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_tables");
  li_err e = LI_OK;
  while (e == LI_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (r->ntables >= LI_TABLES_MAX) {
      e = li_fail(eb, LI_ERR_LIMIT, "more than %d tracked tables (LI_TABLES_MAX)", LI_TABLES_MAX);
      break;
    }
    li_table *t = &r->tables[r->ntables];
    const char *name = (const char *)sqlite3_column_text(st, 1);
    e = s_table_describe(r, name ? name : "", t, eb);
    t->id = sqlite3_column_int(st, 0);
    r->ntables++; /* freed by li_capture_free, also when incomplete */
    if (e == LI_OK) e = s_table_prepare(r, t, eb);
    if (e == LI_OK) e = s_drift(r, t, (const char *)sqlite3_column_text(st, 2), eb);
  }
  sqlite3_finalize(st);
  assert(e != LI_OK || s_check(r));
  return e;
}

void li_capture_free(li_replica *r) {
  if (!r->tables) return;
  for (int i = 0; i < r->ntables; i++) s_table_free(&r->tables[i]);
  r->ntables = 0;
}

li_table *li_capture_table(li_replica *r, const char *name) {
  for (int i = 0; i < r->ntables; i++)
    if (strcmp(r->tables[i].name, name) == 0) return &r->tables[i];
  return NULL;
}

li_table *li_capture_table_by_id(li_replica *r, int id) {
  for (int i = 0; i < r->ntables; i++)
    if (r->tables[i].id == id) return &r->tables[i];
  return NULL;
}

int li_capture_count(const li_replica *r) { return r->ntables; }

li_table *li_capture_table_at(li_replica *r, int i) {
  assert(i >= 0 && i < r->ntables);
  return &r->tables[i];
}

sqlite3_stmt *li_capture_update_stmt(li_replica *r, li_table *t, uint64_t mask) {
  for (int i = 0; i < LI_UPD_CACHE; i++)
    if (t->upd[i].st && t->upd[i].mask == mask) return t->upd[i].st;
  size_t cap = 8192;
  char *sql = malloc(cap);
  if (!sql) return NULL;
  size_t n = (size_t)snprintf(sql, cap, "UPDATE \"%s\" SET ", t->name);
  int first = 1;
  for (int i = 0; i < t->ncols && n < cap; i++)
    if (mask & (UINT64_C(1) << i)) {
      n += (size_t)snprintf(sql + n, cap - n, "%s\"%s\"=?", first ? "" : ",", t->cols[i]);
      first = 0;
    }
  for (int i = 0; i < t->npk && n < cap; i++)
    n += (size_t)snprintf(sql + n, cap - n, "%s\"%s\"=?", i ? " AND " : " WHERE ", t->cols[t->pk[i]]);
  if (n < cap) n += (size_t)snprintf(sql + n, cap - n, " AND \"%s\"=?", t->cols[t->scope_col]);
  sqlite3_stmt *st = NULL;
  /* names are quoted without doubling quotes here: a name holding one is
   * refused (merge reports it) rather than mis-quoted */
  if (n >= cap || strchr(t->name, '"') ||
      sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    free(sql);
    return NULL;
  }
  free(sql);
  int slot = t->upd_next;
  t->upd_next = (t->upd_next + 1) % LI_UPD_CACHE;
  sqlite3_finalize(t->upd[slot].st);
  t->upd[slot].st = st;
  t->upd[slot].mask = mask;
  return st;
}

/* ---- capture triggers ---- */

#define S_NOT_APPLYING "NOT EXISTS (SELECT 1 FROM linli_applying)"
#define S_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

/* The key of record rec (NEW, OLD or an alias) as the triggers store it:
 * the key columns besides scope, the value itself when there is one, else
 * a JSON array. sqlite3_free it; NULL when out of memory. */
static char *s_pk_sql(const li_table *t, const char *rec) {
  sqlite3_str *x = sqlite3_str_new(NULL);
  sqlite3_str_appendall(x, t->npk > 1 ? "json_array(" : "");
  for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(x, "%s%s.\"%w\"", i ? "," : "", rec, t->cols[t->pk[i]]);
  sqlite3_str_appendall(x, t->npk > 1 ? ")" : "");
  return sqlite3_str_finish(x);
}

static bool s_is_key(const li_table *t, int col) {
  for (int i = 0; i < t->npk; i++)
    if (t->pk[i] == col) return true;
  return false;
}

/* One refusal of a written value: the SQL condition on the record NEW that
 * finds it, and the message RAISE gives the writer. Every rule stands for
 * something a receiver would refuse or store differently (DESIGN 13), so
 * the writer hears of it now, in its own statement, where it can be fixed. */
typedef struct {
  char *cond, *msg; /* sqlite3_mprintf'd */
  int col;          /* the column it checks; -1: the whole row */
} s_rule;

typedef struct {
  s_rule v[4 * LI_TABLE_COLS_MAX + 1]; /* s_column_rules adds at most 4 a column */
  int n;
  bool nomem;
} s_rules;

static void s_rule_add(s_rules *rs, int col, char *cond, char *msg) {
  assert(rs->n < (int)(sizeof rs->v / sizeof rs->v[0]));
  if (!cond || !msg) {
    rs->nomem = true;
    sqlite3_free(cond);
    sqlite3_free(msg);
    return;
  }
  rs->v[rs->n++] = (s_rule){cond, msg, col};
}

static void s_rules_free(s_rules *rs) {
  for (int k = 0; k < rs->n; k++) sqlite3_free(rs->v[k].cond), sqlite3_free(rs->v[k].msg);
  rs->n = 0;
}

/* The rules of column i. They run on every write, so each is one cheap
 * test: SQLite orders NULL < numbers < text < blob (datatype3.html 4.1),
 * so `x >= ''` finds text or a blob and `x >= x''` a blob in one
 * comparison. A number in a TEXT column needs no rule (SQLite stores its
 * text); scope has refusals of its own (s_scope_sql). */
static void s_column_rules(const li_table *t, int i, s_rules *rs) {
  const char *tn = t->name, *cn = t->cols[i];
  if (i == t->scope_col) return;
  if (s_is_key(t, i) && !(t->notnull & (UINT64_C(1) << i))) /* else SQLite refuses NULL itself */
    s_rule_add(rs, i, sqlite3_mprintf("NEW.\"%w\" IS NULL", cn),
               sqlite3_mprintf("linli: %s.%s: a key column may not be NULL", tn, cn));
  switch (t->aff[i]) {
  case LI_AFF_INT:
  case LI_AFF_REAL:
    s_rule_add(rs, i, sqlite3_mprintf("NEW.\"%w\" >= ''", cn),
               sqlite3_mprintf("linli: %s.%s: %s column takes a number or NULL, not text or a blob", tn, cn,
                               t->aff[i] == LI_AFF_INT ? "an INTEGER" : "a REAL"));
    return; /* a number is at most 8 bytes */
  case LI_AFF_TEXT:
    s_rule_add(rs, i, sqlite3_mprintf("NEW.\"%w\" >= x''", cn),
               sqlite3_mprintf("linli: %s.%s: a TEXT column takes text or NULL, not a blob", tn, cn));
    s_rule_add(rs, i, sqlite3_mprintf("instr(CAST(NEW.\"%w\" AS BLOB), x'00') > 0", cn),
               sqlite3_mprintf("linli: %s.%s: text with a NUL byte would be cut at the NUL on other replicas; "
                               "remove the NUL", tn, cn));
    break;
  default: /* NUMERIC or no affinity: any class is kept as it is */
    if (s_is_key(t, i) && t->npk > 1)
      s_rule_add(rs, i, sqlite3_mprintf("typeof(NEW.\"%w\") = 'blob'", cn),
                 sqlite3_mprintf("linli: %s.%s: a column of a composite key takes no blob", tn, cn));
    s_rule_add(rs, i, sqlite3_mprintf("typeof(NEW.\"%w\") = 'text' AND instr(CAST(NEW.\"%w\" AS BLOB), x'00') > 0", cn, cn),
               sqlite3_mprintf("linli: %s.%s: text with a NUL byte would be cut at the NUL on other replicas; "
                               "remove the NUL", tn, cn));
  }
  s_rule_add(rs, i, sqlite3_mprintf("length(CAST(NEW.\"%w\" AS BLOB)) > %u", cn, LI_VALUE_BYTES_MAX),
             sqlite3_mprintf("linli: %s.%s: a value over %u bytes (LI_VALUE_BYTES_MAX)", tn, cn, LI_VALUE_BYTES_MAX));
}

/* The rule of the whole row (LI_ROW_BYTES_MAX): the bytes of the columns
 * that can hold text or a blob; none when they cannot add up to it. */
static void s_row_rule(const li_table *t, s_rules *rs) {
  sqlite3_str *x = sqlite3_str_new(NULL);
  int n = 0;
  for (int i = 0; i < t->ncols; i++)
    if (i != t->scope_col && t->aff[i] != LI_AFF_INT && t->aff[i] != LI_AFF_REAL)
      sqlite3_str_appendf(x, "%scoalesce(length(CAST(NEW.\"%w\" AS BLOB)), 0)", n++ ? " + " : "", t->cols[i]);
  sqlite3_str_appendf(x, " > %u", LI_ROW_BYTES_MAX);
  char *cond = sqlite3_str_finish(x);
  if ((uint64_t)n * LI_VALUE_BYTES_MAX <= LI_ROW_BYTES_MAX) {
    sqlite3_free(cond);
    return;
  }
  s_rule_add(rs, -1, cond,
             sqlite3_mprintf("linli: %s: a row over %u bytes (LI_ROW_BYTES_MAX) does not fit in one commit", t->name,
                             LI_ROW_BYTES_MAX));
}

static void s_rules_of(const li_table *t, s_rules *rs) {
  rs->n = 0;
  rs->nomem = false;
  for (int i = 0; i < t->ncols; i++) s_column_rules(t, i, rs);
  s_row_rule(t, rs);
}

/* The rules as WHEN arms of the trigger's one CASE (s_checks_sql). In an
 * UPDATE (changed), a column's rules run only when the column changed: the
 * writer answers for what it writes, not for a value that arrived from a
 * peer; and a key column's rules not at all, since the update trigger runs
 * only when the key did not change (a key update is _ak's, which checks
 * every column). */
static void s_rules_sql(sqlite3_str *x, const li_table *t, const s_rules *rs, bool changed) {
  for (int k = 0; k < rs->n; k++) {
    const s_rule *u = &rs->v[k];
    if (changed && u->col >= 0 && s_is_key(t, u->col)) continue;
    if (changed && u->col >= 0)
      sqlite3_str_appendf(x, " WHEN NEW.\"%w\" IS NOT OLD.\"%w\" AND (%s) THEN RAISE(ABORT, '%q')", t->cols[u->col],
                          t->cols[u->col], u->cond, u->msg);
    else
      sqlite3_str_appendf(x, " WHEN %s THEN RAISE(ABORT, '%q')", u->cond, u->msg);
  }
}

/* The scope refusals of invariant 3 for record rec (NEW or OLD), as WHEN
 * arms of the trigger's CASE: on a committee, a row of another scope (new
 * or old); on the hub, a scope that is not a valid code (new only: old
 * rows were checked when written). */
static void s_scope_sql(sqlite3_str *x, const li_replica *r, const char *rec) {
  /* the committee's scope is validated ([a-z0-9_-]) so it needs no quoting */
  if (r->role == LI_ROLE_COMMITTEE)
    sqlite3_str_appendf(x,
                        " WHEN %s.scope IS NOT '%s' THEN RAISE(ABORT, 'linli: this committee may only %s rows whose "
                        "scope is ''%s''')",
                        rec, r->scope, strcmp(rec, "NEW") == 0 ? "write" : "change or delete", r->scope);
  else if (strcmp(rec, "NEW") == 0)
    sqlite3_str_appendf(x,
                        " WHEN NEW.scope IS NULL OR typeof(NEW.scope) <> 'text' OR length(NEW.scope) NOT BETWEEN 1 "
                        "AND %d OR NEW.scope GLOB '*[^a-z0-9_-]*' THEN RAISE(ABORT, 'linli: scope must be a "
                        "committee code or ''street'' (1-%d characters of a-z 0-9 _ -)')",
                        LI_SCOPE_MAX, LI_SCOPE_MAX);
}

/* A trigger's refusals as one statement, SELECT CASE WHEN refused THEN
 * RAISE(...) ... END: the arms are tried in the order the separate
 * statements ran before (the scopes of scope1 and scope2, then the
 * rules), so the first refusal gives the same message. One statement
 * instead of one per rule keeps the trigger program's register frame
 * small, which SQLite allocates and zeroes for every row written
 * (docs/benchmarks.md, issue 14, "Capture"). Nothing when there is no
 * arm; false when out of memory. */
static bool s_checks_sql(sqlite3_str *x, const li_replica *r, const li_table *t, const s_rules *rs, const char *scope1,
                         const char *scope2, bool changed) {
  sqlite3_str *arms = sqlite3_str_new(NULL);
  if (scope1) s_scope_sql(arms, r, scope1);
  if (scope2) s_scope_sql(arms, r, scope2);
  if (rs) s_rules_sql(arms, t, rs, changed);
  bool ok = sqlite3_str_errcode(arms) == SQLITE_OK;
  char *a = sqlite3_str_finish(arms);
  if (ok && a) sqlite3_str_appendf(x, "SELECT CASE%s END;", a);
  sqlite3_free(a);
  return ok;
}

/* "the key did not change" (scope included), and the changed-columns mask. */
static void s_update_exprs(sqlite3_str *same, sqlite3_str *mask, const li_table *t) {
  for (int i = 0; i < t->npk; i++)
    sqlite3_str_appendf(same, "NEW.\"%w\" IS OLD.\"%w\" AND ", t->cols[t->pk[i]], t->cols[t->pk[i]]);
  sqlite3_str_appendall(same, "NEW.scope IS OLD.scope");
  for (int i = 0; i < t->ncols; i++)
    sqlite3_str_appendf(mask, "%s((NEW.\"%w\" IS NOT OLD.\"%w\") << %d)", i ? "|" : "", t->cols[i], t->cols[i], i);
}

/* A marker statement: INSERT INTO linli_dirty for record rec. */
static void s_marker_sql(sqlite3_str *x, const li_table *t, const char *rec, const char *pk, int op,
                         const char *mask) {
  sqlite3_str_appendf(x, "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) VALUES(%d, %s.scope, %s, %d, %s, " S_NOW_MS
                         ");", t->id, rec, pk, op, mask);
}

/* The five triggers' text (sqlite3_free it; NULL when out of memory). One
 * AFTER trigger per operation does the checks (RAISE(ABORT) in an AFTER
 * trigger undoes the statement just as in a BEFORE one) and records the
 * change: every trigger program costs its invocation (measured ~5k
 * instructions a row), so the checks share the recording trigger instead
 * of having triggers of their own. The BEFORE UPDATE OF scope trigger only
 * fires for statements that set scope. Names: linli_<id>_<kind>,
 * independent of the table's name (invariant 1). */
static char *s_triggers_sql(const li_replica *r, const li_table *t, const s_rules *rs) {
  char *pkn = s_pk_sql(t, "NEW"), *pko = s_pk_sql(t, "OLD"), all[24];
  sqlite3_str *same = sqlite3_str_new(NULL), *mask = sqlite3_str_new(NULL), *x = sqlite3_str_new(NULL);
  s_update_exprs(same, mask, t);
  char *same_s = sqlite3_str_finish(same), *mask_s = sqlite3_str_finish(mask);
  snprintf(all, sizeof all, "%lld", (long long)((UINT64_C(1) << t->ncols) - 1));
  const char *tn = t->name;
  int id = t->id;
  sqlite3_str_appendf(x, "CREATE TRIGGER linli_%d_ai AFTER INSERT ON \"%w\" WHEN " S_NOT_APPLYING " BEGIN ", id, tn);
  bool checks = s_checks_sql(x, r, t, rs, "NEW", NULL, false);
  s_marker_sql(x, t, "NEW", pkn ? pkn : "", 1, all);
  /* the flag first: an applied row costs only the check that skips it */
  sqlite3_str_appendf(x, " END;\nCREATE TRIGGER linli_%d_au AFTER UPDATE ON \"%w\" WHEN " S_NOT_APPLYING " AND (%s)"
                         " BEGIN ", id, tn, same_s ? same_s : "");
  checks = s_checks_sql(x, r, t, rs, "OLD", NULL, true) && checks;
  s_marker_sql(x, t, "NEW", pkn ? pkn : "", 2, mask_s ? mask_s : "");
  sqlite3_str_appendf(x, " END;\nCREATE TRIGGER linli_%d_ak AFTER UPDATE ON \"%w\" WHEN " S_NOT_APPLYING " AND NOT (%s)"
                         " BEGIN ", id, tn, same_s ? same_s : "");
  checks = s_checks_sql(x, r, t, rs, "OLD", "NEW", false) && checks;
  s_marker_sql(x, t, "OLD", pko ? pko : "", 3, "0");
  s_marker_sql(x, t, "NEW", pkn ? pkn : "", 1, all);
  sqlite3_str_appendf(x, " END;\nCREATE TRIGGER linli_%d_ad AFTER DELETE ON \"%w\" WHEN " S_NOT_APPLYING " BEGIN ", id,
                      tn);
  checks = s_checks_sql(x, r, t, NULL, "OLD", NULL, false) && checks;
  s_marker_sql(x, t, "OLD", pko ? pko : "", 3, "0");
  sqlite3_str_appendf(x, " END;\nCREATE TRIGGER linli_%d_bm BEFORE UPDATE OF scope ON \"%w\" WHEN NEW.scope IS NOT "
                         "OLD.scope AND " S_NOT_APPLYING " BEGIN SELECT RAISE(ABORT, 'linli: a row cannot move to "
                         "another scope; delete it and insert it anew in the other scope'); END;\n", id, tn);
  bool ok = checks && pkn && pko && same_s && mask_s;
  sqlite3_free(pkn), sqlite3_free(pko), sqlite3_free(same_s), sqlite3_free(mask_s);
  char *sql = sqlite3_str_finish(x);
  if (!ok) sqlite3_free(sql);
  return ok ? sql : NULL;
}

static li_err s_create_triggers(li_replica *r, const li_table *t, const s_rules *rs, li_errbuf *eb) {
  char *sql = rs->nomem ? NULL : s_triggers_sql(r, t, rs);
  if (!sql) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  li_err e = li_exec(r, sql, eb);
  sqlite3_free(sql);
  return e;
}

/* ---- tracking ---- */

/* The table's columns as a JSON array of names, malloc'd (linli_tables.cols). */
static char *s_cols_json(const li_table *t) {
  size_t ncap = 16;
  for (int i = 0; i < t->ncols; i++) ncap += strlen(t->cols[i]) * 2 + 4;
  char *cols = malloc(ncap);
  if (!cols) return NULL;
  strcpy(cols, "[");
  for (int i = 0; i < t->ncols; i++) {
    strcat(cols, i ? ",\"" : "\"");
    strcat(cols, t->cols[i]);
    strcat(cols, "\"");
  }
  strcat(cols, "]");
  return cols;
}

/* The catalogue row of t: a new one (t->id 0; sets t->id), or its
 * columns again (a migration added some, li_capture_rebuild). */
static li_err s_catalogue_put(li_replica *r, li_table *t, li_errbuf *eb) {
  char *cols = s_cols_json(t);
  if (!cols) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  bool insert = t->id == 0;
  sqlite3_stmt *st = NULL;
  li_err e = LI_OK;
  if (sqlite3_prepare_v2(r->db,
                         insert ? "INSERT INTO linli_tables(cols, name) VALUES(?1, ?2)"
                                : "UPDATE linli_tables SET cols = ?1 WHERE id = ?3",
                         -1, &st, NULL) != SQLITE_OK) {
    e = li_db_fail(r, eb, "linli_tables");
  } else {
    sqlite3_bind_text(st, 1, cols, -1, SQLITE_STATIC);
    if (insert) sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
    else sqlite3_bind_int(st, 3, t->id);
    if (sqlite3_step(st) != SQLITE_DONE) e = li_db_fail(r, eb, "linli_tables");
    else if (insert) t->id = (int)sqlite3_last_insert_rowid(r->db);
  }
  sqlite3_finalize(st);
  free(cols);
  return e;
}

/* Invariant 6: rows already in the table become dirty, so the first seal
 * publishes them. */
static li_err s_mark_existing(li_replica *r, const li_table *t, li_errbuf *eb) {
  char *pk = s_pk_sql(t, "t");
  char *sql = pk ? sqlite3_mprintf("INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) SELECT %d, t.scope, %s, 1, %lld, "
                                   S_NOW_MS " FROM \"%w\" AS t",
                                   t->id, pk, (long long)((UINT64_C(1) << t->ncols) - 1), t->name)
                 : NULL;
  li_err e = sql ? li_exec(r, sql, eb) : li_fail(eb, LI_ERR_NOMEM, "out of memory");
  sqlite3_free(pk);
  sqlite3_free(sql);
  return e;
}

/* Invariant 7 for the rows already in the table: the first one a rule
 * refuses makes tracking fail, naming the row, so that nothing is sealed
 * that receivers would refuse. The rules are written on NEW; the table is
 * read under that name. */
static li_err s_check_existing(li_replica *r, const li_table *t, const s_rules *rs, li_errbuf *eb) {
  if (rs->n == 0) return LI_OK;
  sqlite3_str *x = sqlite3_str_new(NULL);
  sqlite3_str_appendall(x, "SELECT CASE");
  for (int k = 0; k < rs->n; k++) sqlite3_str_appendf(x, " WHEN %s THEN %Q", rs->v[k].cond, rs->v[k].msg + 7);
  char *key = s_pk_sql(t, "NEW");
  sqlite3_str_appendf(x, " END AS m, NEW.scope, quote(%s) FROM \"%w\" AS NEW WHERE m IS NOT NULL LIMIT 1",
                      key ? key : "NULL", t->name);
  sqlite3_free(key);
  char *sql = sqlite3_str_finish(x);
  sqlite3_stmt *st = NULL;
  li_err e = LI_OK;
  if (!sql) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) e = li_db_fail(r, eb, "checking existing rows");
  int rc = e ? SQLITE_DONE : sqlite3_step(st);
  if (rc == SQLITE_ROW)
    e = li_fail(eb, LI_ERR_TRACK, "table '%s' holds a row that other replicas would refuse (scope %s, key %s): %s; "
                "correct it, then track the table", t->name, (const char *)sqlite3_column_text(st, 1),
                (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 0));
  else if (rc != SQLITE_DONE)
    e = li_db_fail(r, eb, "checking existing rows");
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return e;
}

li_err li_capture_track(li_replica *r, const char *name, li_errbuf *eb) {
  assert(s_check(r));
  if (strncmp(name, "linli_", 6) == 0 || strncmp(name, "sqlite_", 7) == 0)
    return li_fail(eb, LI_ERR_TRACK, "'%s' is an internal table", name);
  if (li_capture_table(r, name)) return li_fail(eb, LI_ERR_EXISTS, "table '%s' is already tracked", name);
  if (r->ntables >= LI_TABLES_MAX)
    return li_fail(eb, LI_ERR_LIMIT, "more than %d tracked tables (LI_TABLES_MAX)", LI_TABLES_MAX);
  li_table t;
  memset(&t, 0, sizeof t);
  s_rules *rs = malloc(sizeof *rs);
  if (!rs) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  rs->n = 0;
  li_err e = s_table_describe(r, name, &t, eb);
  if (e == LI_OK) s_rules_of(&t, rs);
  bool started = e == LI_OK && sqlite3_get_autocommit(r->db);
  if (started) e = li_replica_begin(r, eb);
  if (e == LI_OK) e = s_catalogue_put(r, &t, eb);
  if (e == LI_OK) e = s_check_existing(r, &t, rs, eb);
  if (e == LI_OK) e = s_create_triggers(r, &t, rs, eb);
  if (e == LI_OK) e = s_mark_existing(r, &t, eb);
  if (e == LI_OK) e = s_table_prepare(r, &t, eb);
  assert(e != LI_OK || s_has_triggers(r, &t));
  if (e == LI_OK && started) e = li_replica_commit(r, eb);
  if (e == LI_OK) {
    r->tables[r->ntables++] = t;
    memset(&t, 0, sizeof t);
  } else if (started) {
    li_replica_rollback(r);
  }
  s_table_free(&t);
  s_rules_free(rs);
  free(rs);
  assert(s_check(r));
  return e;
}

static li_err s_drop_triggers(li_replica *r, int id, li_errbuf *eb) {
  char *sql = sqlite3_mprintf("DROP TRIGGER IF EXISTS linli_%d_ai; DROP TRIGGER IF EXISTS linli_%d_au; "
                              "DROP TRIGGER IF EXISTS linli_%d_ak; DROP TRIGGER IF EXISTS linli_%d_ad; "
                              "DROP TRIGGER IF EXISTS linli_%d_bm;",
                              id, id, id, id, id);
  li_err e = sql ? li_exec(r, sql, eb) : li_fail(eb, LI_ERR_NOMEM, "out of memory");
  sqlite3_free(sql);
  return e;
}

li_err li_capture_rebuild(li_replica *r, const char *name, li_errbuf *eb) {
  assert(s_check(r) && !sqlite3_get_autocommit(r->db));
  li_table *old = li_capture_table(r, name);
  if (!old) return li_fail(eb, LI_ERR_NOT_FOUND, "table '%s' is not tracked", name);
  li_table t;
  memset(&t, 0, sizeof t);
  s_rules *rs = malloc(sizeof *rs);
  if (!rs) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  rs->n = 0;
  rs->nomem = false;
  li_err e = s_table_describe(r, name, &t, eb);
  t.id = old->id;
  /* columns are only ever added at the end (migrate.h): the markers'
   * masks and the stored column versions keep their meaning */
  if (e == LI_OK && t.ncols < old->ncols)
    e = li_fail(eb, LI_ERR_TRACK, "table '%s' lost columns; a migration only adds them", name);
  for (int i = 0; e == LI_OK && i < old->ncols; i++)
    if (strcmp(t.cols[i], old->cols[i]) != 0)
      e = li_fail(eb, LI_ERR_TRACK, "table '%s': column %d is '%s', was '%s'; a migration only adds columns at the end",
                  name, i + 1, t.cols[i], old->cols[i]);
  if (e == LI_OK) s_rules_of(&t, rs);
  if (e == LI_OK) e = s_drop_triggers(r, t.id, eb);
  if (e == LI_OK) e = s_create_triggers(r, &t, rs, eb);
  if (e == LI_OK) e = s_catalogue_put(r, &t, eb);
  if (e == LI_OK) e = s_table_prepare(r, &t, eb);
  assert(e != LI_OK || s_has_triggers(r, &t));
  if (e == LI_OK) {
    s_table_free(old);
    *old = t;
    memset(&t, 0, sizeof t);
  }
  s_table_free(&t);
  s_rules_free(rs);
  free(rs);
  assert(s_check(r));
  return e;
}

li_err li_capture_track_all(li_replica *r, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  char names[LI_TABLES_MAX][LI_TABLE_NAME_MAX + 1];
  int n = 0;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'linli\\_%' ESCAPE '\\'"
                         " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name = 'roster' DESC, rowid",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "sqlite_master");
  li_err e = LI_OK;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *nm = (const char *)sqlite3_column_text(st, 0);
    if (n >= LI_TABLES_MAX || strlen(nm) >= sizeof names[0]) {
      e = li_fail(eb, LI_ERR_LIMIT, "schema has over %d tables (LI_TABLES_MAX) or a table name over %d bytes (LI_TABLE_NAME_MAX)",
                  LI_TABLES_MAX, LI_TABLE_NAME_MAX);
      break;
    }
    snprintf(names[n++], sizeof names[0], "%s", nm);
  }
  sqlite3_finalize(st);
  for (int i = 0; e == LI_OK && i < n; i++) e = li_capture_track(r, names[i], eb);
  return e;
}

li_err li_capture_mark(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key, int op,
                       li_errbuf *eb) {
  assert(op == 1 || op == 3);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "INSERT INTO linli_dirty(tbl, scope, pk, op, mask, ms) VALUES(?, ?, ?, ?, ?, " S_NOW_MS ")",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_dirty");
  sqlite3_bind_int(st, 1, t->id);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  li_value_bind(st, 3, key);
  sqlite3_bind_int(st, 4, op);
  sqlite3_bind_int64(st, 5, op == 1 ? (int64_t)((UINT64_C(1) << t->ncols) - 1) : 0);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_dirty");
}

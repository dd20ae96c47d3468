/* capture: the catalogue of tracked tables and their capture triggers. See
 * capture.h for what it owns and its invariants. */
#include "capture.h"

#include "value.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replica.h"

const char li_capture_sql[] =
    "CREATE TABLE linli_tables(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, cols TEXT NOT NULL);\n"
    "CREATE TABLE linli_dirty(tbl INTEGER NOT NULL, scope TEXT, pk ANY, op INTEGER NOT NULL,\n"
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

/* The key of record rec (NEW, OLD or an alias) as the triggers store it:
 * the value itself, or a JSON array for a composite key. */
static void s_pk_expr(char *buf, size_t cap, const li_table *t, const char *rec) {
  buf[0] = 0;
  if (t->npk > 1) s_cat(buf, cap, "json_array(");
  for (int i = 0; i < t->npk; i++) {
    if (i) s_cat(buf, cap, ",");
    s_cat(buf, cap, rec);
    s_cat(buf, cap, ".");
    s_ident(buf, cap, t->cols[t->pk[i]]);
  }
  if (t->npk > 1) s_cat(buf, cap, ")");
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
  for (int i = 0; i < LI_UPD_CACHE; i++) sqlite3_finalize(t->upd[i].st);
  memset(t, 0, sizeof *t);
}

/* Columns, affinities and the scope column from PRAGMA table_info;
 * pkpos[i] gets column i's position in the key (0: not in it). */
static li_err s_describe_columns(li_replica *r, const char *name, li_table *t, int *pkpos, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", -1, &st, NULL) !=
      SQLITE_OK)
    return li_db_fail(r, eb, "table_info");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  memset(t, 0, sizeof *t);
  t->scope_col = -1;
  t->cols = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->cols);
  t->aff = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->aff);
  t->name = strdup(name);
  li_err e = LI_OK;
  if (!t->cols || !t->aff || !t->name) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
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

/* Whether a table's single INTEGER key is the rowid: every committee would
 * count 1, 2, 3... */
static bool s_is_rowid_alias(li_replica *r, const char *name) {
  sqlite3_stmt *q = NULL;
  bool alias = false;
  if (sqlite3_prepare_v2(r->db, "SELECT type FROM pragma_table_info(?) WHERE pk=1", -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
      const char *ty = (const char *)sqlite3_column_text(q, 0);
      alias = ty && strcasecmp(ty, "INTEGER") == 0;
    }
  }
  sqlite3_finalize(q);
  return alias;
}

/* The key columns in key order, and the rules on keys (invariant 4). */
static li_err s_describe_key(li_replica *r, const char *name, li_table *t, const int *pkpos, li_errbuf *eb) {
  for (int k = 1; k <= t->ncols; k++)
    for (int i = 0; i < t->ncols; i++)
      if (pkpos[i] == k) {
        if (t->npk >= LI_PK_COLS_MAX)
          return li_fail(eb, LI_ERR_TRACK, "table '%s' has more than %d key columns (LI_PK_COLS_MAX)", name,
                         LI_PK_COLS_MAX);
        t->pk[t->npk++] = i;
      }
  if (t->npk == 0)
    return li_fail(eb, LI_ERR_TRACK,
                   "table '%s' has no PRIMARY KEY: rows could not be matched between replicas; "
                   "add a TEXT primary key (e.g. id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(16)))))",
                   name);
  if (t->npk == 1 && t->aff[t->pk[0]] == LI_AFF_INT && s_is_rowid_alias(r, name))
    return li_fail(eb, LI_ERR_TRACK,
                   "table '%s': its only key '%s' is an INTEGER PRIMARY KEY (the rowid), so ids "
                   "made by different committees would collide; use a TEXT key instead",
                   name, t->cols[t->pk[0]]);
  return LI_OK;
}

/* The rules on the scope column and composite keys (invariant 4). */
static li_err s_check_trackable(const char *name, const li_table *t, li_errbuf *eb) {
  if (t->scope_col < 0)
    return li_fail(eb, LI_ERR_TRACK,
                   "table '%s' has no TEXT column 'scope': every tracked row must name the scope "
                   "(committee code or 'street') it belongs to",
                   name);
  for (int i = 0; i < t->npk; i++)
    if (t->pk[i] == t->scope_col)
      return li_fail(eb, LI_ERR_TRACK, "table '%s': scope may not be part of the primary key", name);
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
  if (e == LI_OK) e = s_describe_key(r, name, t, pkpos, eb);
  if (e == LI_OK) e = s_check_trackable(name, t, eb);
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

/* The table's sel, del and ins statements (invariant 4). */
static li_err s_table_prepare(li_replica *r, li_table *t, li_errbuf *eb) {
  char sql[8192];
  char where[2048] = "";
  for (int i = 0; i < t->npk; i++) {
    if (i) s_cat(where, sizeof where, " AND ");
    s_ident(where, sizeof where, t->cols[t->pk[i]]);
    s_cat(where, sizeof where, "=?");
  }
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

li_err li_capture_load(li_replica *r, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT id, name FROM linli_tables ORDER BY id", -1, &st, NULL) != SQLITE_OK)
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

/* The refusals of invariant 3 as trigger statements: scope_new and
 * scope_old check a written row's scope (scope_old is empty on the hub),
 * key_new a key's scope in linli_clock. */
typedef struct {
  char scope_new[512], scope_old[512], key_new[1600];
} s_refusals;

static void s_refusals_of(const li_replica *r, const li_table *t, const char *pkn, s_refusals *f) {
  f->scope_old[0] = 0;
  if (r->role == LI_ROLE_COMMITTEE) {
    /* the scope literal is validated ([a-z0-9_-]) so it needs no quoting */
    snprintf(f->scope_new, sizeof f->scope_new,
             "SELECT RAISE(ABORT, 'linli: this committee may only write rows whose scope is ''%s''') "
             "WHERE NEW.scope IS NOT '%s';",
             r->scope, r->scope);
    snprintf(f->scope_old, sizeof f->scope_old,
             "SELECT RAISE(ABORT, 'linli: this committee may only change or delete rows whose scope is ''%s''') "
             "WHERE OLD.scope IS NOT '%s';",
             r->scope, r->scope);
  } else {
    snprintf(f->scope_new, sizeof f->scope_new,
             "SELECT RAISE(ABORT, 'linli: scope must be a committee code or ''street'' (1-%d characters of a-z 0-9 _ -)') "
             "WHERE NEW.scope IS NULL OR typeof(NEW.scope) <> 'text' OR length(NEW.scope) NOT BETWEEN 1 AND %d "
             "OR NEW.scope GLOB '*[^a-z0-9_-]*';",
             LI_SCOPE_MAX, LI_SCOPE_MAX);
  }
  snprintf(f->key_new, sizeof f->key_new,
           "SELECT RAISE(ABORT, 'linli: this key was used in another scope; insert the row under a new key') "
           "WHERE EXISTS (SELECT 1 FROM linli_clock WHERE tbl=%d AND pk=%s AND scope IS NOT NEW.scope);",
           t->id, pkn);
}

/* same: "the key did not change"; mask: the changed-columns bit mask. */
static void s_update_exprs(const li_table *t, char *same, size_t same_cap, char *mask, size_t mask_cap) {
  same[0] = 0;
  for (int i = 0; i < t->npk; i++) {
    char c[300] = "";
    s_ident(c, sizeof c, t->cols[t->pk[i]]);
    snprintf(same + strlen(same), same_cap - strlen(same), "%sNEW.%s IS OLD.%s", i ? " AND " : "", c, c);
  }
  mask[0] = 0;
  for (int i = 0; i < t->ncols; i++) {
    char c[300] = "";
    s_ident(c, sizeof c, t->cols[i]);
    snprintf(mask + strlen(mask), mask_cap - strlen(mask), "%s((NEW.%s IS NOT OLD.%s) << %d)", i ? "|" : "", c, c,
             i);
  }
}

/* One AFTER trigger per operation does the checks (RAISE(ABORT) in an AFTER
 * trigger undoes the statement just as in a BEFORE one) and records the
 * change: every trigger program costs its invocation (measured ~5k
 * instructions a row), so the checks share the recording trigger instead of
 * having triggers of their own. The BEFORE UPDATE OF scope trigger only
 * fires for statements that set scope. Names: linli_<id>_<kind>,
 * independent of the table's name (invariant 1). */
static li_err s_create_triggers(li_replica *r, const li_table *t, li_errbuf *eb) {
  size_t cap = 65536;
  char *sql = malloc(cap);
  char *mask = malloc(cap / 4);
  s_refusals *f = malloc(sizeof *f);
  char pkn[1024], pko[1024], same[2048], tn[300] = "", tid[300];
  li_err e = LI_OK;
  if (!sql || !mask || !f) {
    e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
    goto out;
  }
  s_ident(tn, sizeof tn, t->name);
  s_pk_expr(pkn, sizeof pkn, t, "NEW");
  s_pk_expr(pko, sizeof pko, t, "OLD");
  s_update_exprs(t, same, sizeof same, mask, cap / 4);
  s_refusals_of(r, t, pkn, f);
  long long all = (long long)((UINT64_C(1) << t->ncols) - 1);
  snprintf(tid, sizeof tid, "linli_%d", t->id);
  int n = snprintf(
      sql, cap,
      "CREATE TRIGGER %s_ai AFTER INSERT ON %s WHEN " S_NOT_APPLYING " BEGIN %s %s "
      "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) VALUES(%d, NEW.scope, %s, 1, %lld, " S_NOW_MS "); END;\n"
      "CREATE TRIGGER %s_au AFTER UPDATE ON %s WHEN (%s) AND " S_NOT_APPLYING " BEGIN %s "
      "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) VALUES(%d, NEW.scope, %s, 2, %s, " S_NOW_MS "); END;\n"
      "CREATE TRIGGER %s_ak AFTER UPDATE ON %s WHEN NOT (%s) AND " S_NOT_APPLYING " BEGIN %s %s "
      "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) VALUES(%d, OLD.scope, %s, 3, 0, " S_NOW_MS ");"
      "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) VALUES(%d, NEW.scope, %s, 1, %lld, " S_NOW_MS "); END;\n"
      "CREATE TRIGGER %s_ad AFTER DELETE ON %s WHEN " S_NOT_APPLYING " BEGIN %s "
      "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) VALUES(%d, OLD.scope, %s, 3, 0, " S_NOW_MS "); END;\n"
      "CREATE TRIGGER %s_bm BEFORE UPDATE OF scope ON %s WHEN NEW.scope IS NOT OLD.scope AND " S_NOT_APPLYING
      " BEGIN SELECT RAISE(ABORT, 'linli: a row cannot move to another scope; delete it and insert it anew under a "
      "new key'); END;\n",
      tid, tn, f->scope_new, f->key_new, t->id, pkn, all,                      /* ai */
      tid, tn, same, f->scope_old, t->id, pkn, mask,                           /* au */
      tid, tn, same, f->scope_old, f->key_new, t->id, pko, t->id, pkn, all,    /* ak */
      tid, tn, f->scope_old, t->id, pko,                                       /* ad */
      tid, tn);                                                                /* bm */
  e = (size_t)n >= cap ? li_fail(eb, LI_ERR_LIMIT, "trigger text too long") : li_exec(r, sql, eb);
out:
  free(sql);
  free(mask);
  free(f);
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

/* The catalogue row of t; sets t->id. */
static li_err s_catalogue_insert(li_replica *r, li_table *t, li_errbuf *eb) {
  char *cols = s_cols_json(t);
  if (!cols) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  sqlite3_stmt *st = NULL;
  li_err e = LI_OK;
  if (sqlite3_prepare_v2(r->db, "INSERT INTO linli_tables(name, cols) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK) {
    e = li_db_fail(r, eb, "linli_tables");
  } else {
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cols, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) e = li_db_fail(r, eb, "linli_tables");
    else t->id = (int)sqlite3_last_insert_rowid(r->db);
  }
  sqlite3_finalize(st);
  free(cols);
  return e;
}

/* Invariant 6: rows already in the table become dirty, so the first seal
 * publishes them. */
static li_err s_mark_existing(li_replica *r, const li_table *t, li_errbuf *eb) {
  char sql[4096], pk[1024], tn[300] = "";
  s_pk_expr(pk, sizeof pk, t, "t");
  s_ident(tn, sizeof tn, t->name);
  snprintf(sql, sizeof sql,
           "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) SELECT %d, t.scope, %s, 1, %lld, " S_NOW_MS
           " FROM %s AS t",
           t->id, pk, (long long)((UINT64_C(1) << t->ncols) - 1), tn);
  return li_exec(r, sql, eb);
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
  li_err e = s_table_describe(r, name, &t, eb);
  bool started = e == LI_OK && sqlite3_get_autocommit(r->db);
  if (started) e = li_replica_begin(r, eb);
  if (e == LI_OK) e = s_catalogue_insert(r, &t, eb);
  if (e == LI_OK) e = s_create_triggers(r, &t, eb);
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

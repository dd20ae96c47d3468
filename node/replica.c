/* replica: opening the database, the internal tables, tracking and capture
 * triggers, the origin index. See replica.h for the invariants. */
#include "replica.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "roster.h"

static const char s_internal_sql[] =
    "CREATE TABLE linli_meta(key TEXT PRIMARY KEY NOT NULL, value ANY) WITHOUT ROWID;\n"
    "CREATE TABLE linli_tables(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, cols TEXT NOT NULL);\n"
    "CREATE TABLE linli_dirty(tbl INTEGER NOT NULL, scope TEXT, pk ANY, op INTEGER NOT NULL,\n"
    "  mask INTEGER NOT NULL, ms INTEGER NOT NULL);\n"
    "CREATE TABLE linli_applying(x INTEGER);\n"
    "CREATE TABLE linli_origins(idx INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE);\n"
    "CREATE TABLE linli_clock(tbl INTEGER NOT NULL, pk ANY NOT NULL, scope TEXT NOT NULL, cl INTEGER NOT NULL,\n"
    "  vers BLOB NOT NULL, PRIMARY KEY(tbl, pk)) WITHOUT ROWID;\n"
    "CREATE TABLE linli_log(id INTEGER PRIMARY KEY, origin BLOB NOT NULL, scope TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL, hlc INTEGER NOT NULL, hash BLOB NOT NULL, sc BLOB NOT NULL,\n"
    "  applied_ms INTEGER NOT NULL, UNIQUE(origin, scope, seq));\n"
    "CREATE INDEX linli_log_hlc ON linli_log(origin, scope, hlc);\n"
    "CREATE INDEX linli_log_order ON linli_log(hlc, origin);\n"
    "CREATE TABLE linli_vv(origin BLOB NOT NULL, scope TEXT NOT NULL, seq INTEGER NOT NULL,\n"
    "  head BLOB NOT NULL, PRIMARY KEY(origin, scope)) WITHOUT ROWID;\n"
    "CREATE TABLE linli_conflicts(id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, pk TEXT NOT NULL,\n"
    "  col TEXT NOT NULL, loser ANY, loser_origin BLOB NOT NULL, loser_hlc INTEGER NOT NULL,\n"
    "  winner ANY, winner_origin BLOB NOT NULL, winner_hlc INTEGER NOT NULL,\n"
    "  recorded_ms INTEGER NOT NULL, UNIQUE(tbl, pk, col, loser_origin, loser_hlc));\n"
    "CREATE TABLE linli_evidence(id INTEGER PRIMARY KEY, origin BLOB NOT NULL, scope TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL, hash BLOB NOT NULL, sc BLOB NOT NULL, seen_ms INTEGER NOT NULL,\n"
    "  UNIQUE(origin, scope, seq, hash));\n"
    "CREATE TABLE linli_banned(origin BLOB PRIMARY KEY NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE linli_rejects(reason TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL) WITHOUT ROWID;\n"
    /* Sync peers as the serving daemon last saw them (status, report). */
    "CREATE TABLE linli_peers(key BLOB PRIMARY KEY NOT NULL, name TEXT, connected INTEGER NOT NULL DEFAULT 0,\n"
    "  last_contact_ms INTEGER, behind_them INTEGER NOT NULL DEFAULT 0, behind_us INTEGER NOT NULL DEFAULT 0,\n"
    "  commits_sent INTEGER NOT NULL DEFAULT 0, commits_recv INTEGER NOT NULL DEFAULT 0,\n"
    "  rejected_in INTEGER NOT NULL DEFAULT 0, rejected_out INTEGER NOT NULL DEFAULT 0,\n"
    "  last_error TEXT, updated_ms INTEGER) WITHOUT ROWID;\n";

li_err li_db_fail(li_replica *r, li_errbuf *eb, const char *what) {
  return li_fail(eb, LI_ERR_DB, "%s: %s", what, r && r->db ? sqlite3_errmsg(r->db) : "no database");
}

li_err li_exec(li_replica *r, const char *sql, li_errbuf *eb) {
  char *msg = NULL;
  if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    li_err e = li_fail(eb, LI_ERR_DB, "%s", msg ? msg : sqlite3_errmsg(r->db));
    sqlite3_free(msg);
    return e;
  }
  return LI_OK;
}

li_err li_replica_begin(li_replica *r, li_errbuf *eb) {
  if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "cannot start a write transaction");
  return LI_OK;
}

li_err li_replica_commit(li_replica *r, li_errbuf *eb) {
  if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    li_err e = li_db_fail(r, eb, "cannot commit");
    li_replica_rollback(r);
    return e;
  }
  return LI_OK;
}

void li_replica_rollback(li_replica *r) {
  if (!sqlite3_get_autocommit(r->db)) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

static li_err s_prepare(li_replica *r, const char *sql, sqlite3_stmt **st, li_errbuf *eb) {
  if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, sql);
  return LI_OK;
}

li_err li_meta_get_int(li_replica *r, const char *key, int64_t *out) {
  sqlite3_stmt *st = NULL;
  li_err e = LI_ERR_NOT_FOUND;
  if (sqlite3_prepare_v2(r->db, "SELECT value FROM linli_meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
    return LI_ERR_DB;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    e = LI_OK;
  }
  sqlite3_finalize(st);
  return e;
}

static li_err s_meta_set(li_replica *r, const char *key, int type, int64_t i, const void *p, int n,
                         li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO linli_meta(key, value) VALUES(?, ?)", -1, &st,
                         NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "meta");
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (type == SQLITE_INTEGER) sqlite3_bind_int64(st, 2, i);
  else if (type == SQLITE_TEXT) sqlite3_bind_text(st, 2, p, n, SQLITE_TRANSIENT);
  else sqlite3_bind_blob(st, 2, p, n, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "meta");
}

li_err li_meta_set_int(li_replica *r, const char *key, int64_t v, li_errbuf *eb) {
  return s_meta_set(r, key, SQLITE_INTEGER, v, NULL, 0, eb);
}

static li_err s_meta_get_blob(li_replica *r, const char *key, void *out, int n, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e;
  if (sqlite3_prepare_v2(r->db, "SELECT value FROM linli_meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "meta");
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == n) {
    memcpy(out, sqlite3_column_blob(st, 0), (size_t)n);
    e = LI_OK;
  } else {
    e = li_fail(eb, LI_ERR_NOT_INIT, "replica lacks or has a malformed linli_meta '%s'", key);
  }
  sqlite3_finalize(st);
  return e;
}

static li_err s_meta_get_text(li_replica *r, const char *key, char *out, size_t cap, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e;
  if (sqlite3_prepare_v2(r->db, "SELECT value FROM linli_meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "meta");
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT &&
      (size_t)sqlite3_column_bytes(st, 0) < cap) {
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    e = LI_OK;
  } else {
    e = li_fail(eb, LI_ERR_NOT_INIT, "replica lacks or has a malformed linli_meta '%s'", key);
  }
  sqlite3_finalize(st);
  return e;
}

/* ---- origins ---- */

static li_err s_origins_push(li_replica *r, int idx, const uint8_t *key) {
  if (idx >= r->origins_cap) {
    int cap = r->origins_cap ? r->origins_cap * 2 : 16;
    while (cap <= idx) cap *= 2;
    void *p = realloc(r->origins, (size_t)cap * LI_PK_BYTES);
    if (!p) return LI_ERR_NOMEM;
    r->origins = p;
    memset(r->origins + r->origins_cap, 0, (size_t)(cap - r->origins_cap) * LI_PK_BYTES);
    r->origins_cap = cap;
  }
  memcpy(r->origins[idx], key, LI_PK_BYTES);
  if (idx + 1 > r->norigins) r->norigins = idx + 1;
  return LI_OK;
}

li_err li_replica_origin_idx(li_replica *r, const uint8_t key[LI_PK_BYTES], int *idx, li_errbuf *eb) {
  for (int i = 1; i < r->norigins; i++)
    if (memcmp(r->origins[i], key, LI_PK_BYTES) == 0) {
      *idx = i;
      return LI_OK;
    }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "INSERT INTO linli_origins(key) VALUES(?)", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "origins");
  sqlite3_bind_blob(st, 1, key, LI_PK_BYTES, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return li_db_fail(r, eb, "origins");
  int64_t id = sqlite3_last_insert_rowid(r->db);
  if (id <= 0 || id > LI_ORIGINS_MAX)
    return li_fail(eb, LI_ERR_LIMIT, "over %d origins (signing keys) in one replica (LI_ORIGINS_MAX)", LI_ORIGINS_MAX);
  if (s_origins_push(r, (int)id, key) != LI_OK) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  *idx = (int)id;
  return LI_OK;
}

const uint8_t *li_replica_origin_key(const li_replica *r, int idx) {
  if (idx <= 0 || idx >= r->norigins) return NULL;
  return r->origins[idx];
}

static li_err s_load_origins(li_replica *r, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  r->norigins = 1;
  if (sqlite3_prepare_v2(r->db, "SELECT idx, key FROM linli_origins ORDER BY idx", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "origins");
  li_err e = LI_OK;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t idx = sqlite3_column_int64(st, 0);
    if (idx <= 0 || idx > LI_ORIGINS_MAX || sqlite3_column_bytes(st, 1) != LI_PK_BYTES) {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_origins row %lld is malformed", (long long)idx);
      break;
    }
    if (s_origins_push(r, (int)idx, sqlite3_column_blob(st, 1)) != LI_OK) {
      e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
      break;
    }
  }
  sqlite3_finalize(st);
  return e;
}

/* ---- catalogue ---- */

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

/* Appends "q" quoted as an SQL identifier. */
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

/* Reads a table's columns and key from PRAGMA table_info into t.
 * why_not gets a sentence when the table cannot be tracked. */
static li_err s_table_describe(li_replica *r, const char *name, li_table *t, li_errbuf *eb) {
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid");
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(r, eb, "table_info");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  memset(t, 0, sizeof *t);
  t->scope_col = -1;
  t->cols = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->cols);
  t->aff = calloc(LI_TABLE_COLS_MAX + 1, sizeof *t->aff);
  t->name = strdup(name);
  li_err e = LI_OK;
  int pkpos[LI_TABLE_COLS_MAX + 1];
  if (!t->cols || !t->aff || !t->name) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
  while (e == LI_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (t->ncols >= LI_TABLE_COLS_MAX) {
      e = li_fail(eb, LI_ERR_TRACK, "table '%s' has more than %d columns (LI_TABLE_COLS_MAX)", name,
                  LI_TABLE_COLS_MAX);
      break;
    }
    const char *cn = (const char *)sqlite3_column_text(st, 0);
    const char *ty = (const char *)sqlite3_column_text(st, 1);
    int pk = sqlite3_column_int(st, 2);
    t->cols[t->ncols] = strdup(cn ? cn : "");
    t->aff[t->ncols] = s_affinity(ty);
    pkpos[t->ncols] = pk;
    if (cn && strcmp(cn, "scope") == 0) {
      t->scope_col = t->ncols;
      if (t->aff[t->ncols] != LI_AFF_TEXT)
        e = li_fail(eb, LI_ERR_TRACK, "table '%s': column scope must be declared TEXT", name);
    }
    t->ncols++;
  }
  sqlite3_finalize(st);
  if (e != LI_OK) return e;
  if (t->ncols == 0) return li_fail(eb, LI_ERR_NOT_FOUND, "no table named '%s' in the replica", name);
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
  if (t->npk == 1 && t->aff[t->pk[0]] == LI_AFF_INT) {
    /* An INTEGER PRIMARY KEY is the rowid: every committee would count 1, 2, 3... */
    sqlite3_stmt *q = NULL;
    int alias = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT type FROM pragma_table_info(?) WHERE pk=1", -1, &q, NULL) == SQLITE_OK) {
      sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW) {
        const char *ty = (const char *)sqlite3_column_text(q, 0);
        alias = ty && strcasecmp(ty, "INTEGER") == 0;
      }
      sqlite3_finalize(q);
    }
    if (alias)
      return li_fail(eb, LI_ERR_TRACK,
                     "table '%s': its only key '%s' is an INTEGER PRIMARY KEY (the rowid), so ids "
                     "made by different committees would collide; use a TEXT key instead",
                     name, t->cols[t->pk[0]]);
  }
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

static li_err s_table_prepare(li_replica *r, li_table *t, li_errbuf *eb) {
  char sql[8192];
  char where[2048] = "";
  for (int i = 0; i < t->npk; i++) {
    if (i) s_cat(where, sizeof where, " AND ");
    s_ident(where, sizeof where, t->cols[t->pk[i]]);
    s_cat(where, sizeof where, "=?");
  }
  snprintf(sql, sizeof sql, "SELECT ");
  for (int i = 0; i < t->ncols; i++) {
    if (i) s_cat(sql, sizeof sql, ",");
    s_ident(sql, sizeof sql, t->cols[i]);
  }
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
  for (int i = 0; i < t->ncols; i++) {
    if (i) s_cat(sql, sizeof sql, ",");
    s_ident(sql, sizeof sql, t->cols[i]);
  }
  s_cat(sql, sizeof sql, ") VALUES(");
  for (int i = 0; i < t->ncols; i++) s_cat(sql, sizeof sql, i ? ",?" : "?");
  s_cat(sql, sizeof sql, ")");
  return s_prepare(r, sql, &t->ins, eb);
}

static li_err s_load_tables(li_replica *r, li_errbuf *eb) {
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
    r->ntables++;
    if (e == LI_OK) e = s_table_prepare(r, t, eb);
  }
  sqlite3_finalize(st);
  return e;
}

li_table *li_replica_table(li_replica *r, const char *name) {
  for (int i = 0; i < r->ntables; i++)
    if (strcmp(r->tables[i].name, name) == 0) return &r->tables[i];
  return NULL;
}

li_table *li_replica_table_by_id(li_replica *r, int id) {
  for (int i = 0; i < r->ntables; i++)
    if (r->tables[i].id == id) return &r->tables[i];
  return NULL;
}

/* ---- capture triggers ---- */

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

#define S_NOT_APPLYING "NOT EXISTS (SELECT 1 FROM linli_applying)"
#define S_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

/* One AFTER trigger per operation does the checks (RAISE(ABORT) in an AFTER
 * trigger undoes the statement just as in a BEFORE one) and records the
 * change: every trigger program costs its invocation (measured ~5k
 * instructions a row), so the checks share the recording trigger instead of
 * having triggers of their own. Checks:
 *  - committee: only rows of its own scope are written (before and after);
 *  - hub: a scope is a valid code;
 *  - a key stays bound to the scope it was published in (linli_clock keeps
 *    it after a delete): re-using it in another scope would make every seal
 *    fail and every replica refuse the row;
 *  - a row never moves to another scope (BEFORE UPDATE OF scope, which only
 *    fires for statements that set scope). */
static li_err s_create_triggers(li_replica *r, const li_table *t, li_errbuf *eb) {
  size_t cap = 65536;
  char *sql = malloc(cap);
  char *mask = malloc(cap / 4);
  char pkn[1024], pko[1024], same[2048] = "", tn[300] = "", tid[300];
  char scope_new[512] = "", scope_old[512] = "";
  if (!sql || !mask) {
    free(sql);
    free(mask);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  s_ident(tn, sizeof tn, t->name);
  s_pk_expr(pkn, sizeof pkn, t, "NEW");
  s_pk_expr(pko, sizeof pko, t, "OLD");
  for (int i = 0; i < t->npk; i++) {
    char c[300] = "";
    s_ident(c, sizeof c, t->cols[t->pk[i]]);
    snprintf(same + strlen(same), sizeof same - strlen(same), "%sNEW.%s IS OLD.%s", i ? " AND " : "", c, c);
  }
  mask[0] = 0;
  for (int i = 0; i < t->ncols; i++) {
    char c[300] = "";
    s_ident(c, sizeof c, t->cols[i]);
    snprintf(mask + strlen(mask), cap / 4 - strlen(mask), "%s((NEW.%s IS NOT OLD.%s) << %d)", i ? "|" : "", c,
             c, i);
  }
  if (r->role == LI_ROLE_COMMITTEE) {
    /* the scope literal is validated ([a-z0-9_-]) so it needs no quoting */
    snprintf(scope_new, sizeof scope_new,
             "SELECT RAISE(ABORT, 'linli: this committee may only write rows whose scope is ''%s''') "
             "WHERE NEW.scope IS NOT '%s';",
             r->scope, r->scope);
    snprintf(scope_old, sizeof scope_old,
             "SELECT RAISE(ABORT, 'linli: this committee may only change or delete rows whose scope is ''%s''') "
             "WHERE OLD.scope IS NOT '%s';",
             r->scope, r->scope);
  } else {
    snprintf(scope_new, sizeof scope_new,
             "SELECT RAISE(ABORT, 'linli: scope must be a committee code or ''street'' (1-%d characters of a-z 0-9 _ -)') "
             "WHERE NEW.scope IS NULL OR typeof(NEW.scope) <> 'text' OR length(NEW.scope) NOT BETWEEN 1 AND %d "
             "OR NEW.scope GLOB '*[^a-z0-9_-]*';",
             LI_SCOPE_MAX, LI_SCOPE_MAX);
  }
  char key_new[1600];
  snprintf(key_new, sizeof key_new,
           "SELECT RAISE(ABORT, 'linli: this key was used in another scope; insert the row under a new key') "
           "WHERE EXISTS (SELECT 1 FROM linli_clock WHERE tbl=%d AND pk=%s AND scope IS NOT NEW.scope);",
           t->id, pkn);
  long long all = (long long)((UINT64_C(1) << t->ncols) - 1);
  /* trigger names: linli_<id>_<kind>, independent of the table's name */
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
      tid, tn, scope_new, key_new, t->id, pkn, all,                     /* ai */
      tid, tn, same, scope_old, t->id, pkn, mask,                       /* au */
      tid, tn, same, scope_old, key_new, t->id, pko, t->id, pkn, all,   /* ak */
      tid, tn, scope_old, t->id, pko,                                   /* ad */
      tid, tn);                                                         /* bm */
  li_err e = (size_t)n >= cap ? li_fail(eb, LI_ERR_LIMIT, "trigger text too long") : li_exec(r, sql, eb);
  free(sql);
  free(mask);
  return e;
}

li_err li_replica_track(li_replica *r, const char *name, li_errbuf *eb) {
  if (strncmp(name, "linli_", 6) == 0 || strncmp(name, "sqlite_", 7) == 0)
    return li_fail(eb, LI_ERR_TRACK, "'%s' is an internal table", name);
  if (li_replica_table(r, name)) return li_fail(eb, LI_ERR_EXISTS, "table '%s' is already tracked", name);
  if (r->ntables >= LI_TABLES_MAX)
    return li_fail(eb, LI_ERR_LIMIT, "more than %d tracked tables (LI_TABLES_MAX)", LI_TABLES_MAX);
  li_table t;
  li_err e = s_table_describe(r, name, &t, eb);
  if (e) {
    s_table_free(&t);
    return e;
  }
  sqlite3_stmt *st = NULL;
  char *cols = NULL;
  size_t ncap = 16;
  for (int i = 0; i < t.ncols; i++) ncap += strlen(t.cols[i]) * 2 + 4;
  cols = malloc(ncap);
  if (!cols) {
    s_table_free(&t);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  strcpy(cols, "[");
  for (int i = 0; i < t.ncols; i++) {
    strcat(cols, i ? ",\"" : "\"");
    strcat(cols, t.cols[i]);
    strcat(cols, "\"");
  }
  strcat(cols, "]");
  int started = sqlite3_get_autocommit(r->db);
  if (started && (e = li_replica_begin(r, eb))) goto out;
  if (sqlite3_prepare_v2(r->db, "INSERT INTO linli_tables(name, cols) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK) {
    e = li_db_fail(r, eb, "linli_tables");
    goto out;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cols, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_tables");
    goto out;
  }
  t.id = (int)sqlite3_last_insert_rowid(r->db);
  if ((e = s_create_triggers(r, &t, eb))) goto out;
  /* Rows already in the table become dirty: the first seal publishes them. */
  {
    char sql[4096], pk[1024], tn[300] = "";
    s_pk_expr(pk, sizeof pk, &t, "t");
    s_ident(tn, sizeof tn, t.name);
    snprintf(sql, sizeof sql,
             "INSERT INTO linli_dirty(tbl,scope,pk,op,mask,ms) SELECT %d, t.scope, %s, 1, %lld, " S_NOW_MS
             " FROM %s AS t",
             t.id, pk, (long long)((UINT64_C(1) << t.ncols) - 1), tn);
    if ((e = li_exec(r, sql, eb))) goto out;
  }
  if ((e = s_table_prepare(r, &t, eb))) goto out;
  if (started && (e = li_replica_commit(r, eb))) goto out;
  r->tables[r->ntables++] = t;
  memset(&t, 0, sizeof t);
out:
  if (e && started) li_replica_rollback(r);
  sqlite3_finalize(st);
  free(cols);
  s_table_free(&t);
  return e;
}

/* ---- open / create ---- */

const char li_replica_pragmas[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
    "PRAGMA recursive_triggers=OFF; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;";

static li_err s_open_db(const char *path, int flags, li_replica **out, li_errbuf *eb) {
  li_replica *r = calloc(1, sizeof *r);
  if (!r) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  r->tables = calloc(LI_TABLES_MAX, sizeof *r->tables);
  if (!r->tables) {
    free(r);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  if (sqlite3_open_v2(path, &r->db, flags, NULL) != SQLITE_OK) {
    li_err e = li_fail(eb, LI_ERR_DB, "cannot open replica %s: %s", path, r->db ? sqlite3_errmsg(r->db) : "?");
    li_replica_close(&r);
    return e;
  }
  sqlite3_busy_timeout(r->db, 10000);
  sqlite3_extended_result_codes(r->db, 1);
  li_err e = li_exec(r, li_replica_pragmas, eb);
  if (e) {
    li_replica_close(&r);
    return e;
  }
  *out = r;
  return LI_OK;
}

static li_err s_prepare_common(li_replica *r, li_errbuf *eb) {
  li_err e;
  if ((e = s_prepare(r, "SELECT cl, vers, scope FROM linli_clock WHERE tbl=? AND pk=?", &r->st_clock_get, eb))) return e;
  if ((e = s_prepare(r, "INSERT OR REPLACE INTO linli_clock(tbl, pk, cl, vers, scope) VALUES(?,?,?,?,?)", &r->st_clock_put,
                     eb)))
    return e;
  if ((e = s_prepare(r,
                     "INSERT INTO linli_log(origin, scope, seq, hlc, hash, sc, applied_ms) VALUES(?,?,?,?,?,?,?)",
                     &r->st_log_put, eb)))
    return e;
  if ((e = s_prepare(r, "SELECT hash FROM linli_log WHERE origin=? AND scope=? AND seq=?", &r->st_log_get, eb)))
    return e;
  if ((e = s_prepare(r, "SELECT seq, head FROM linli_vv WHERE origin=? AND scope=?", &r->st_vv_get, eb))) return e;
  if ((e = s_prepare(r, "INSERT OR REPLACE INTO linli_vv(origin, scope, seq, head) VALUES(?,?,?,?)", &r->st_vv_put,
                     eb)))
    return e;
  if ((e = s_prepare(r, "SELECT seq FROM linli_log WHERE origin=? AND scope=? AND hlc=?", &r->st_log_by_hlc, eb)))
    return e;
  return s_prepare(r, "DELETE FROM linli_dirty", &r->st_dirty_clear, eb);
}

static li_err s_load_meta(li_replica *r, li_errbuf *eb) {
  int64_t role = 0, ver = 0;
  li_err e;
  if (li_meta_get_int(r, "role", &role) != LI_OK || (role != LI_ROLE_HUB && role != LI_ROLE_COMMITTEE))
    return li_fail(eb, LI_ERR_NOT_INIT, "replica has no valid role in linli_meta");
  r->role = (li_role)role;
  if (li_meta_get_int(r, "schema_version", &ver) != LI_OK || ver != LI_SCHEMA_VERSION)
    return li_fail(eb, LI_ERR_NOT_INIT, "replica schema version %lld is not %d", (long long)ver, LI_SCHEMA_VERSION);
  if ((e = s_meta_get_text(r, "scope", r->scope, sizeof r->scope, eb))) return e;
  if ((e = s_meta_get_blob(r, "network", r->network, LI_PK_BYTES, eb))) return e;
  return s_meta_get_blob(r, "self", r->self, LI_PK_BYTES, eb);
}

li_err li_replica_open(const char *path, li_replica **out, li_errbuf *eb) {
  struct stat sb;
  if (stat(path, &sb) != 0)
    return li_fail(eb, LI_ERR_NOT_INIT, "no replica at %s (run 'linli init' first)", path);
  li_replica *r = NULL;
  li_err e = s_open_db(path, SQLITE_OPEN_READWRITE, &r, eb);
  if (e) return e;
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_prepare_v2(r->db, "SELECT 1 FROM sqlite_master WHERE name='linli_meta'", -1, &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  if (!ok) e = li_fail(eb, LI_ERR_NOT_INIT, "%s is not a linli replica (no linli_meta table)", path);
  if (!e) e = s_load_meta(r, eb);
  if (!e) e = s_load_origins(r, eb);
  if (!e) e = s_load_tables(r, eb);
  if (!e) e = s_prepare_common(r, eb);
  if (e) {
    li_replica_close(&r);
    return e;
  }
  *out = r;
  return LI_OK;
}

static li_err s_track_all(li_replica *r, li_errbuf *eb) {
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
  for (int i = 0; e == LI_OK && i < n; i++) e = li_replica_track(r, names[i], eb);
  return e;
}

li_err li_replica_create(const char *path, li_role role, const char *scope, const uint8_t network[LI_PK_BYTES],
                         const uint8_t self[LI_PK_BYTES], const char *schema_sql, li_replica **out,
                         li_errbuf *eb) {
  struct stat sb;
  if (stat(path, &sb) == 0) return li_fail(eb, LI_ERR_EXISTS, "%s already exists; not overwriting it", path);
  li_replica *r = NULL;
  li_err e = s_open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &r, eb);
  if (e) return e;
  r->role = role;
  snprintf(r->scope, sizeof r->scope, "%s", scope);
  memcpy(r->network, network, LI_PK_BYTES);
  memcpy(r->self, self, LI_PK_BYTES);
  r->norigins = 1;
  if ((e = li_replica_begin(r, eb))) goto fail;
  if ((e = li_exec(r, s_internal_sql, eb)) || (e = li_exec(r, li_roster_sql, eb))) goto fail;
  if ((e = li_meta_set_int(r, "role", role, eb))) goto fail;
  if ((e = li_meta_set_int(r, "schema_version", LI_SCHEMA_VERSION, eb))) goto fail;
  if ((e = li_meta_set_int(r, "hlc", 0, eb))) goto fail;
  if ((e = s_meta_set(r, "scope", SQLITE_TEXT, 0, scope, -1, eb))) goto fail;
  if ((e = s_meta_set(r, "network", SQLITE_BLOB, 0, network, LI_PK_BYTES, eb))) goto fail;
  if ((e = s_meta_set(r, "self", SQLITE_BLOB, 0, self, LI_PK_BYTES, eb))) goto fail;
  if ((e = li_exec(r, schema_sql ? schema_sql : li_street_sql, eb))) {
    char tmp[LI_ERRBUF_SIZE];
    snprintf(tmp, sizeof tmp, "%s", eb ? eb->msg : "");
    e = li_fail(eb, LI_ERR_CONFIG, "schema does not load: %s", tmp);
    goto fail;
  }
  if ((e = s_track_all(r, eb))) goto fail;
  if ((e = s_prepare_common(r, eb))) goto fail;
  if ((e = li_replica_commit(r, eb))) goto fail;
  *out = r;
  return LI_OK;
fail:
  li_replica_rollback(r);
  li_replica_close(&r);
  unlink(path);
  return e;
}

void li_replica_close(li_replica **rp) {
  if (!rp || !*rp) return;
  li_replica *r = *rp;
  for (int i = 0; i < r->ntables; i++) s_table_free(&r->tables[i]);
  free(r->tables);
  free(r->origins);
  sqlite3_finalize(r->st_clock_get);
  sqlite3_finalize(r->st_clock_put);
  sqlite3_finalize(r->st_log_put);
  sqlite3_finalize(r->st_log_get);
  sqlite3_finalize(r->st_vv_get);
  sqlite3_finalize(r->st_vv_put);
  sqlite3_finalize(r->st_dirty_clear);
  sqlite3_finalize(r->st_log_by_hlc);
  if (r->db) sqlite3_close_v2(r->db);
  free(r);
  *rp = NULL;
}

void li_replica_count_reject(li_replica *r, li_err reason) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "INSERT INTO linli_rejects(reason, n) VALUES(?, 1) ON CONFLICT(reason) DO UPDATE SET n = n + 1",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, li_errname(reason), -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) log_warnx("cannot count a rejection: %s", sqlite3_errmsg(r->db));
  sqlite3_finalize(st);
}

int64_t li_replica_dirty_count(li_replica *r) {
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM linli_dirty", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* ---- chains: the one place linli_log and linli_vv are read and advanced ---- */

li_err li_replica_vv_get(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq,
                         uint8_t head[LI_HASH_BYTES], li_errbuf *eb) {
  sqlite3_stmt *st = r->st_vv_get;
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  *seq = 0;
  if (head) memset(head, 0, LI_HASH_BYTES);
  li_err e = LI_OK;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *seq = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) != LI_HASH_BYTES || sqlite3_column_int64(st, 0) < 1)
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_vv holds a malformed head for scope %s (run 'linli verify')", scope);
    else if (head) memcpy(head, sqlite3_column_blob(st, 1), LI_HASH_BYTES);
  } else if (rc != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_vv");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

li_err li_replica_log_hash(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                           uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  sqlite3_stmt *st = r->st_log_get;
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  *found = false;
  li_err e = LI_OK;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_bytes(st, 0) == LI_HASH_BYTES) {
      memcpy(out, sqlite3_column_blob(st, 0), LI_HASH_BYTES);
      *found = true;
    } else {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_log holds a malformed hash for %s#%llu (run 'linli verify')", scope,
                  (unsigned long long)seq);
    }
  } else if (rc != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_log");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

static li_err s_step_once(li_replica *r, sqlite3_stmt *st, const char *what, li_errbuf *eb) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, what);
}

li_err li_replica_append(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                         uint64_t hlc, const uint8_t hash[LI_HASH_BYTES], const uint8_t *sc, size_t sc_len,
                         uint64_t now_ms, li_errbuf *eb) {
  sqlite3_stmt *st = r->st_log_put;
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  sqlite3_bind_int64(st, 4, (int64_t)hlc);
  sqlite3_bind_blob(st, 5, hash, LI_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_blob(st, 6, sc, (int)sc_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, (int64_t)now_ms);
  li_err e = s_step_once(r, st, "linli_log", eb);
  if (e) return e;
  st = r->st_vv_put;
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  sqlite3_bind_blob(st, 4, hash, LI_HASH_BYTES, SQLITE_STATIC);
  return s_step_once(r, st, "linli_vv", eb);
}

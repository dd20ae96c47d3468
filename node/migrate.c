/* migrate: street schema migrations. See migrate.h for what it owns, the
 * rules and the invariants. */
#include "migrate.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "scope.h"
#include "seal.h"

/* The scratch database's bounds: hostile text is parsed and run there. */
#define S_SCRATCH_STEPS 200000 /* progress callbacks (of 100 VM ops) before a statement is stopped */
#define S_WORDS 8              /* leading keywords read to classify a statement */

void li_migration_free(li_migration *m) {
  for (int i = 0; i < m->n; i++) free(m->stmt[i]), free(m->table[i]), free(m->name[i]);
  memset(m, 0, sizeof *m);
}

/* Invariant 1 of a checked migration. */
static bool s_check(const li_migration *m) {
  if (m->n < 1 || m->n > LI_MIGRATION_STMTS_MAX) return false;
  size_t bytes = 0;
  for (int i = 0; i < m->n; i++) {
    if (!m->stmt[i] || !m->stmt[i][0] || !m->table[i]) return false;
    if (m->kind[i] < LI_MIG_ADD_COLUMN || m->kind[i] > LI_MIG_CREATE_INDEX) return false;
    if ((m->kind[i] == LI_MIG_CREATE_TABLE) != (m->name[i] == NULL)) return false;
    bytes += strlen(m->stmt[i]);
  }
  return bytes <= LI_MIGRATION_BYTES_MAX;
}

/* Whether s[0..n) is valid UTF-8 (statements travel as protobuf strings,
 * which receivers decode as UTF-8). */
static bool s_utf8_ok(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    size_t k = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (k == 9 || (size_t)(end - p) <= k) return k == 0;
    uint32_t cp = k == 0 ? c : k == 1 ? (c & 0x1f) : k == 2 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i <= k; i++) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    p += k + 1;
  }
  return true;
}

/* ---- reading the leading keywords ---- */

/* Skips white space and comments; NULL at an unterminated comment. */
static const char *s_skip(const char *p) {
  for (;;) {
    while (*p && isspace((unsigned char)*p)) p++;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') p++;
    } else if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      if (!e) return p + strlen(p);
      p = e + 2;
    } else {
      return p;
    }
  }
}

static bool s_word_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80; }

/* The next token at or after p (space and comments skipped): a bare word
 * (*len bytes at *word), or a quoted name or text, or punctuation (*word
 * NULL: never a keyword). Returns where the token ends; NULL at the end. */
static const char *s_token(const char *p, const char **word, size_t *len) {
  p = s_skip(p);
  *word = NULL;
  *len = 0;
  if (!*p) return NULL;
  if (*p == '\'' || *p == '"' || *p == '`' || *p == '[') {
    char close = *p == '[' ? ']' : *p;
    p++;
    while (*p && *p != close) p++;
    return *p ? p + 1 : p;
  }
  if (!s_word_char(*p) || *p == '$') return p + 1;
  *word = p;
  while (s_word_char(*p)) p++;
  *len = (size_t)(p - *word);
  return p;
}

/* The first S_WORDS tokens of a statement, bare words upper-cased, quoted
 * ones and punctuation as "" (they are never keywords). Returns how many. */
static int s_words(const char *p, char w[S_WORDS][16]) {
  int n = 0;
  const char *word;
  size_t len;
  while (n < S_WORDS && (p = s_token(p, &word, &len))) {
    size_t k = 0;
    for (; word && k < len && k < 15; k++) w[n][k] = (char)toupper((unsigned char)word[k]);
    w[n++][k] = 0;
  }
  return n;
}

static bool s_has_word(char w[S_WORDS][16], int n, const char *word) {
  for (int i = 0; i < n; i++)
    if (strcmp(w[i], word) == 0) return true;
  return false;
}

/* Whether the whole statement holds the bare word (SELECT in CREATE TABLE
 * ... AS SELECT, REFERENCES anywhere). Quoted text never counts. */
static bool s_mentions(const char *p, const char *word) {
  size_t wl = strlen(word), len;
  const char *w;
  while ((p = s_token(p, &w, &len)))
    if (w && len == wl && sqlite3_strnicmp(w, word, (int)wl) == 0) return true;
  return false;
}

/* The kind a statement claims by its keywords, or a refusal in eb. */
static li_err s_classify(const char *stmt, int no, li_mig_kind *kind, li_errbuf *eb) {
  char w[S_WORDS][16];
  int n = s_words(stmt, w);
  const char *only = "a migration holds only ALTER TABLE ... ADD COLUMN, CREATE TABLE and CREATE INDEX";
  if (n >= 2 && strcmp(w[0], "ALTER") == 0 && strcmp(w[1], "TABLE") == 0) {
    if (s_has_word(w, n, "RENAME"))
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d renames (RENAME): committees offline would write to the old "
                     "name and lose it; not additive: refused", no);
    if (s_has_word(w, n, "DROP"))
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d drops a column (DROP COLUMN): committees hold its data; "
                     "not additive: refused", no);
    if (!s_has_word(w, n, "ADD")) return li_fail(eb, LI_ERR_MIGRATION, "statement %d: %s", no, only);
    *kind = LI_MIG_ADD_COLUMN;
    return LI_OK;
  }
  if (n >= 1 && strcmp(w[0], "DROP") == 0)
    return li_fail(eb, LI_ERR_MIGRATION, "statement %d drops (DROP %s): committees hold its data; not additive: "
                   "refused", no, n > 1 ? w[1] : "");
  if (n >= 2 && strcmp(w[0], "CREATE") == 0) {
    if (strcmp(w[1], "TABLE") == 0) {
      if (s_mentions(stmt, "SELECT"))
        return li_fail(eb, LI_ERR_MIGRATION, "statement %d: CREATE TABLE ... AS SELECT has no PRIMARY KEY to track; "
                       "declare the table's columns", no);
      *kind = LI_MIG_CREATE_TABLE;
      return LI_OK;
    }
    if (strcmp(w[1], "INDEX") == 0) {
      *kind = LI_MIG_CREATE_INDEX;
      return LI_OK;
    }
    if (strcmp(w[1], "UNIQUE") == 0)
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d: a UNIQUE index would make one replica refuse rows another "
                     "accepted; create a plain INDEX", no);
    if (strcmp(w[1], "TEMP") == 0 || strcmp(w[1], "TEMPORARY") == 0)
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d: a TEMP object is not part of the street schema", no);
  }
  if (n >= 1 && (strcmp(w[0], "INSERT") == 0 || strcmp(w[0], "UPDATE") == 0 || strcmp(w[0], "DELETE") == 0 ||
                 strcmp(w[0], "REPLACE") == 0 || strcmp(w[0], "WITH") == 0))
    return li_fail(eb, LI_ERR_MIGRATION, "statement %d changes rows, not the schema: write rows the usual way, they "
                   "are synced as they are", no);
  return li_fail(eb, LI_ERR_MIGRATION, "statement %d (%s %s): %s", no, n > 0 ? w[0] : "", n > 1 ? w[1] : "", only);
}

/* ---- the schema, as the checker compares it ---- */

typedef struct {
  int n;
  char **name;  /* tables then indexes, name[i] */
  char **desc;  /* a table: its columns (name, type, notnull, dflt or 0x1e, pk: fields split by 0x1f, a line
                   each), then "fk N"; 
                   an index: "index ON tbl unique=U" */
  bool *index;
} s_schema;

static void s_schema_free(s_schema *s) {
  for (int i = 0; i < s->n; i++) sqlite3_free(s->name[i]), sqlite3_free(s->desc[i]);
  free(s->name), free(s->desc), free(s->index);
  memset(s, 0, sizeof *s);
}

static const char s_snapshot_sql[] =
    "SELECT m.name, 0, (SELECT group_concat(x, char(10)) FROM (SELECT p.name || char(31) || p.type || char(31) ||"
    " p.\"notnull\" || char(31) || ifnull(p.dflt_value, char(30)) || char(31) || p.pk AS x"
    " FROM pragma_table_xinfo(m.name) AS p ORDER BY p.cid))"
    " || char(10) || 'fk ' || (SELECT count(*) FROM pragma_foreign_key_list(m.name))"
    " FROM sqlite_master AS m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    " UNION ALL SELECT m.name, 1, 'index ON ' || m.tbl_name || ' unique=' ||"
    " (SELECT il.\"unique\" FROM pragma_index_list(m.tbl_name) AS il WHERE il.name = m.name)"
    " FROM sqlite_master AS m WHERE m.type = 'index' AND m.sql IS NOT NULL ORDER BY 2, 1";

static li_err s_snapshot(sqlite3 *db, s_schema *s, li_errbuf *eb) {
  memset(s, 0, sizeof *s);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, s_snapshot_sql, -1, &st, NULL) != SQLITE_OK)
    return li_fail(eb, LI_ERR_DB, "reading the schema: %s", sqlite3_errmsg(db));
  int cap = 0, rc;
  li_err e = LI_OK;
  while (e == LI_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (s->n == cap) {
      cap = cap ? cap * 2 : 32;
      char **nn = realloc(s->name, sizeof *nn * (size_t)cap), **dd = nn ? realloc(s->desc, sizeof *dd * (size_t)cap) : NULL;
      if (nn) s->name = nn;
      if (dd) s->desc = dd;
      bool *ii = dd ? realloc(s->index, sizeof *ii * (size_t)cap) : NULL;
      if (ii) s->index = ii;
      if (!nn || !dd || !ii) {
        e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
        break;
      }
    }
    s->name[s->n] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    s->desc[s->n] = sqlite3_mprintf("%s", sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
    s->index[s->n] = sqlite3_column_int(st, 1) != 0;
    s->n++;
    if (!s->name[s->n - 1] || !s->desc[s->n - 1]) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_fail(eb, LI_ERR_DB, "reading the schema: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  if (e) s_schema_free(s);
  return e;
}

static int s_find(const s_schema *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (sqlite3_stricmp(s->name[i], name) == 0) return i;
  return -1;
}

/* The column lines of a table's description (without the fk line). */
static size_t s_cols_len(const char *desc) {
  const char *fk = strstr(desc, "\nfk ");
  return fk ? (size_t)(fk - desc) : strlen(desc);
}

/* A column line (name, type, notnull, dflt, pk split by 0x1f) of a NOT NULL
 * column with no default: none at all, or the literal NULL (table_xinfo
 * shows "DEFAULT NULL" as the text NULL). */
static bool s_not_null_no_default(const char *line, const char *end) {
  const char *f[5];
  int n = 0;
  f[n++] = line;
  for (const char *p = line; p < end && n < 5; p++)
    if (*p == '\x1f') f[n++] = p + 1;
  if (n != 5 || f[2][0] != '1') return false;
  size_t dl = (size_t)(f[4] - 1 - f[3]);
  const char *d = f[3];
  while (dl && *d == '(' && d[dl - 1] == ')') d++, dl -= 2; /* DEFAULT (NULL) */
  return (dl == 1 && d[0] == '\x1e') || (dl == 4 && sqlite3_strnicmp(d, "NULL", 4) == 0);
}

/* What statement no (kind) did, comparing a (before) with b (after): it
 * must change exactly one thing of its kind and nothing else. Sets
 * *table and *name (malloc'd). */
static li_err s_compare(const s_schema *a, const s_schema *b, li_mig_kind kind, int no, char **table, char **name,
                        li_errbuf *eb) {
  for (int i = 0; i < a->n; i++)
    if (s_find(b, a->name[i]) < 0)
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d removes or renames '%s': not additive: refused", no, a->name[i]);
  int added = -1, changed = -1;
  for (int i = 0; i < b->n; i++) {
    int k = s_find(a, b->name[i]);
    if (k < 0) {
      if (added >= 0) return li_fail(eb, LI_ERR_MIGRATION, "statement %d creates more than one thing", no);
      added = i;
    } else if (strcmp(a->desc[k], b->desc[i]) != 0) {
      if (changed >= 0) return li_fail(eb, LI_ERR_MIGRATION, "statement %d changes more than one table", no);
      changed = i;
    }
  }
  if (kind == LI_MIG_ADD_COLUMN) {
    if (added >= 0 || changed < 0) return li_fail(eb, LI_ERR_MIGRATION, "statement %d adds no column", no);
    const char *was = a->desc[s_find(a, b->name[changed])], *now = b->desc[changed];
    size_t wl = s_cols_len(was), nl = s_cols_len(now);
    if (nl <= wl || strncmp(was, now, wl) != 0 || now[wl] != '\n' || strchr(now + wl + 1, '\n') < now + nl)
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d changes table '%s' other than by adding one column at the "
                     "end: not additive: refused", no, b->name[changed]);
    if (strcmp(strstr(was, "\nfk ") ? strstr(was, "\nfk ") : "", strstr(now, "\nfk ") ? strstr(now, "\nfk ") : "") != 0)
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d adds a foreign key to table '%s': rows arrive in commit "
                     "order, not in the order references need; refused", no, b->name[changed]);
    /* the new column's line: "name type notnull dflt pk" (dflt "-": none);
     * SQLite refuses NOT NULL without a default only on a table with rows,
     * and the scratch copy has none: every replica with rows would fail */
    const char *line = now + wl + 1;
    const char *sp = strchr(line, '\x1f');
    if (s_not_null_no_default(line, now + nl))
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d adds a NOT NULL column without a DEFAULT: the rows "
                     "committees already hold would have no value for it; give it a DEFAULT", no);
    if (!sp || sp == line)
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d adds a column with an empty name; commits name columns, "
                     "and an empty name is refused everywhere", no);
    *table = strdup(b->name[changed]);
    *name = strndup(line, (size_t)(sp - line));
    return *table && *name ? LI_OK : li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  if (changed >= 0)
    return li_fail(eb, LI_ERR_MIGRATION, "statement %d changes table '%s': not additive: refused", no, b->name[changed]);
  if (added < 0) return li_fail(eb, LI_ERR_MIGRATION, "statement %d creates nothing (does it exist already?)", no);
  if (kind == LI_MIG_CREATE_TABLE) {
    if (b->index[added]) return li_fail(eb, LI_ERR_MIGRATION, "statement %d creates an index, not a table", no);
    *table = strdup(b->name[added]);
    *name = NULL;
    return *table ? LI_OK : li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  if (!b->index[added]) return li_fail(eb, LI_ERR_MIGRATION, "statement %d creates a table, not an index", no);
  if (!b->name[added][0]) return li_fail(eb, LI_ERR_MIGRATION, "statement %d creates an index with an empty name", no);
  if (strstr(b->desc[added], " unique=1"))
    return li_fail(eb, LI_ERR_MIGRATION, "statement %d: a UNIQUE index would make one replica refuse rows another "
                   "accepted; create a plain INDEX", no);
  const char *on = b->desc[added] + strlen("index ON "), *end = strstr(on, " unique=");
  *table = end ? strndup(on, (size_t)(end - on)) : NULL;
  *name = strdup(b->name[added]);
  return *table && *name ? LI_OK : li_fail(eb, LI_ERR_NOMEM, "out of memory");
}

/* The rules of capture a new table must meet, read from the scratch copy
 * (the hub's apply then tracks it with capture's own checks). */
static li_err s_new_table(sqlite3 *db, const char *table, int no, li_errbuf *eb) {
  if (!table[0]) return li_fail(eb, LI_ERR_MIGRATION, "statement %d creates a table with an empty name", no);
  if (sqlite3_strnicmp(table, "linli_", 6) == 0)
    return li_fail(eb, LI_ERR_MIGRATION, "statement %d: table names beginning linli_ are linli's own", no);
  if (strlen(table) > LI_TABLE_NAME_MAX)
    return li_fail(eb, LI_ERR_MIGRATION, "statement %d: table name over %d bytes (LI_TABLE_NAME_MAX)", no,
                   LI_TABLE_NAME_MAX);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT count(*), sum(name = 'scope' AND pk > 0 AND upper(type) = 'TEXT'),"
                         " sum(pk > 0 AND name <> 'scope'), sum(pk > 0 AND name <> 'scope' AND"
                         " (upper(type) NOT LIKE '%CHAR%' AND upper(type) NOT LIKE '%CLOB%' AND upper(type) NOT LIKE '%TEXT%')),"
                         " (SELECT count(*) FROM pragma_foreign_key_list(?1)), sum(name = '')"
                         " FROM pragma_table_xinfo(?1)",
                         -1, &st, NULL) != SQLITE_OK)
    return li_fail(eb, LI_ERR_DB, "reading table %s: %s", table, sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  li_err e = LI_OK;
  if (sqlite3_step(st) != SQLITE_ROW) {
    e = li_fail(eb, LI_ERR_DB, "reading table %s: %s", table, sqlite3_errmsg(db));
  } else if (sqlite3_column_int(st, 0) > LI_TABLE_COLS_MAX) {
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' has over %d columns (LI_TABLE_COLS_MAX)", no, table,
                LI_TABLE_COLS_MAX);
  } else if (sqlite3_column_int(st, 1) != 1) {
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' needs a column scope TEXT in its PRIMARY KEY (a row "
                "is (scope, key)), e.g. PRIMARY KEY (id, scope)", no, table);
  } else if (sqlite3_column_int(st, 2) < 1 || sqlite3_column_int(st, 3) > 0) {
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' needs a TEXT key column besides scope, e.g. id TEXT "
                "NOT NULL and PRIMARY KEY (id, scope)", no, table);
  } else if (sqlite3_column_int(st, 5) > 0) {
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' has a column with an empty name; commits name "
                "columns, and an empty name is refused everywhere", no, table);
  } else if (sqlite3_column_int(st, 4) > 0) {
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' has a FOREIGN KEY; rows arrive in commit order, not "
                "in the order references need: refused", no, table);
  }
  sqlite3_finalize(st);
  return e;
}

/* ---- the scratch database ---- */

static int s_progress(void *ctx) {
  int *left = ctx;
  return --*left <= 0;
}

/* An in-memory copy of db's tracked tables, and their indexes when
 * with_indexes (the hub's check). A receiver checks without its indexes:
 * an index it made by hand must not stop the street's migration (applying
 * skips an index whose name is there). */
static li_err s_scratch(sqlite3 *db, bool with_indexes, sqlite3 **out, int *budget, li_errbuf *eb) {
  sqlite3 *s = NULL;
  if (sqlite3_open_v2(":memory:", &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
    sqlite3_close(s);
    return li_fail(eb, LI_ERR_NOMEM, "cannot open a scratch database");
  }
  sqlite3_limit(s, SQLITE_LIMIT_LENGTH, LI_MIGRATION_BYTES_MAX * 4);
  sqlite3_limit(s, SQLITE_LIMIT_SQL_LENGTH, LI_SCHEMA_BYTES_MAX);
  sqlite3_limit(s, SQLITE_LIMIT_COLUMN, LI_TABLE_COLS_MAX + 8);
  sqlite3_limit(s, SQLITE_LIMIT_EXPR_DEPTH, 64);
  sqlite3_limit(s, SQLITE_LIMIT_COMPOUND_SELECT, 4);
  sqlite3_limit(s, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(s, SQLITE_LIMIT_TRIGGER_DEPTH, 1);
  sqlite3_limit(s, SQLITE_LIMIT_FUNCTION_ARG, 16);
  sqlite3_limit(s, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 256);
  sqlite3_db_config(s, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
  sqlite3_db_config(s, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config(s, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
  sqlite3_progress_handler(s, 100, s_progress, budget);
  bool replica = false;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'linli_tables'", -1, &st,
                         NULL) == SQLITE_OK)
    replica = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  const char *q = replica ? "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN (SELECT name FROM "
                            "linli_tables) AND (type = 'table' OR (type = 'index' AND ?1)) ORDER BY type = 'index', rowid"
                          : "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND (type = 'table' OR (type = 'index' "
                            "AND ?1)) AND tbl_name NOT LIKE 'linli\\_%' ESCAPE '\\' AND tbl_name NOT LIKE 'sqlite\\_%' "
                            "ESCAPE '\\' ORDER BY type = 'index', rowid";
  li_err e = LI_OK;
  if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
    e = li_fail(eb, LI_ERR_DB, "reading the schema: %s", sqlite3_errmsg(db));
  else
    sqlite3_bind_int(st, 1, with_indexes);
  while (e == LI_OK && sqlite3_step(st) == SQLITE_ROW) {
    char *err = NULL;
    if (sqlite3_exec(s, (const char *)sqlite3_column_text(st, 0), NULL, NULL, &err) != SQLITE_OK)
      e = li_fail(eb, LI_ERR_DB, "copying the schema: %s", err ? err : "?");
    sqlite3_free(err);
  }
  sqlite3_finalize(st);
  if (e) {
    sqlite3_close(s);
    return e;
  }
  *out = s;
  return LI_OK;
}

/* The statement's text: trimmed of space, leading comments and ';'. */
static char *s_trim(const char *p, size_t len) {
  const char *end = p + len;
  for (;;) { /* space, comments and the ';' of empty statements before it */
    const char *q = s_skip(p);
    while (q < end && *q == ';') q++;
    if (q >= end) return NULL;
    if (q == p) break;
    p = q;
  }
  while (end > p && (isspace((unsigned char)end[-1]) || end[-1] == ';')) end--;
  return end > p ? strndup(p, (size_t)(end - p)) : NULL;
}

/* One statement (its text at *p, of which SQLite reads one): classified,
 * run on the scratch copy, compared. *p moves past it; *done at the end. */
static li_err s_check_one(sqlite3 *s, const char **p, li_migration *m, bool *done, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  int no = m->n + 1;
  int rc = sqlite3_prepare_v2(s, *p, -1, &st, &tail);
  if (rc == SQLITE_OK && !st) { /* only space or comments left */
    *done = true;
    return LI_OK;
  }
  char *text = s_trim(*p, tail ? (size_t)(tail - *p) : strlen(*p));
  li_err e = LI_OK;
  li_mig_kind kind = 0;
  if (!text) e = li_fail(eb, LI_ERR_MIGRATION, "statement %d is empty", no);
  if (e == LI_OK) e = s_classify(text, no, &kind, eb);
  if (e == LI_OK && rc != SQLITE_OK)
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: %s (only tracked tables may be altered or indexed)", no,
                sqlite3_errmsg(s));
  if (e == LI_OK && m->n >= LI_MIGRATION_STMTS_MAX)
    e = li_fail(eb, LI_ERR_MIGRATION, "over %d statements (LI_MIGRATION_STMTS_MAX)", LI_MIGRATION_STMTS_MAX);
  if (e == LI_OK && kind == LI_MIG_ADD_COLUMN && s_mentions(text, "CHECK"))
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d adds a column with a CHECK: SQLite checks it against every row a "
                "replica holds, which the hub cannot see, so one replica could refuse the migration; add the column "
                "without CHECK", no);
  if (e == LI_OK && kind != LI_MIG_CREATE_TABLE && s_mentions(text, "REFERENCES"))
    e = li_fail(eb, LI_ERR_MIGRATION, "statement %d adds a foreign key (REFERENCES): rows arrive in commit order, "
                "not in the order references need; refused", no);
  s_schema before = {0}, after = {0};
  if (e == LI_OK) e = s_snapshot(s, &before, eb);
  if (e == LI_OK) {
    rc = sqlite3_step(st);
    const char *msg = rc == SQLITE_INTERRUPT ? "takes too long to run" : sqlite3_errmsg(s);
    /* on a receiver: a column of that name added by hand (status shows the
     * drift); dropping it lets the migration add it */
    bool dup = kind == LI_MIG_ADD_COLUMN && strncmp(msg, "duplicate column name", 21) == 0;
    if (rc != SQLITE_DONE)
      e = li_fail(eb, LI_ERR_MIGRATION, "statement %d: %s%s", no, msg,
                  dup ? " (added by hand here? drop it with ALTER TABLE ... DROP COLUMN and the migration adds it)"
                      : "");
  }
  sqlite3_finalize(st);
  if (e == LI_OK) e = s_snapshot(s, &after, eb);
  char *table = NULL, *name = NULL;
  if (e == LI_OK) e = s_compare(&before, &after, kind, no, &table, &name, eb);
  if (e == LI_OK && kind == LI_MIG_CREATE_TABLE) e = s_new_table(s, table, no, eb);
  s_schema_free(&before);
  s_schema_free(&after);
  if (e == LI_OK) {
    m->stmt[m->n] = text;
    m->kind[m->n] = kind;
    m->table[m->n] = table;
    m->name[m->n] = name;
    m->n++;
    *p = tail;
  } else {
    free(text), free(table), free(name);
  }
  return e;
}

li_err li_migration_check(sqlite3 *db, const char *sql, li_migration *out, li_errbuf *eb) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(sql);
  if (len > LI_MIGRATION_BYTES_MAX)
    return li_fail(eb, LI_ERR_TOO_BIG, "migration of %zu bytes is over %u (LI_MIGRATION_BYTES_MAX)", len,
                   LI_MIGRATION_BYTES_MAX);
  if (!s_utf8_ok(sql, len)) return li_fail(eb, LI_ERR_MIGRATION, "the migration is not valid UTF-8 text");
  int budget = S_SCRATCH_STEPS;
  sqlite3 *s = NULL;
  li_err e = s_scratch(db, true, &s, &budget, eb);
  if (e) return e;
  const char *p = sql;
  bool done = false;
  while (e == LI_OK && !done && p && *p) e = s_check_one(s, &p, out, &done, eb);
  sqlite3_close(s);
  if (e == LI_OK && out->n == 0) e = li_fail(eb, LI_ERR_MIGRATION, "the migration holds no statement");
  if (e) li_migration_free(out);
  assert(e != LI_OK || s_check(out));
  return e;
}

li_err li_migration_check_list(sqlite3 *db, char *const *stmts, size_t n, li_migration *out, li_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (n == 0 || n > LI_MIGRATION_STMTS_MAX)
    return li_fail(eb, LI_ERR_MIGRATION, "a migration holds 1..%d statements, not %zu", LI_MIGRATION_STMTS_MAX, n);
  int budget = S_SCRATCH_STEPS;
  sqlite3 *s = NULL;
  li_err e = s_scratch(db, false, &s, &budget, eb);
  for (size_t i = 0; e == LI_OK && i < n; i++) {
    const char *p = stmts[i];
    if (!s_utf8_ok(p, strlen(p))) { /* a commit's text: checked like a file's */
      e = li_fail(eb, LI_ERR_MIGRATION, "migration entry %zu is not valid UTF-8 text", i + 1);
      break;
    }
    bool done = false;
    int before = out->n;
    e = s_check_one(s, &p, out, &done, eb);
    /* each entry is exactly one statement */
    if (e == LI_OK && (done || out->n != before + 1 || (p && *s_skip(p))))
      e = li_fail(eb, LI_ERR_MIGRATION, "migration entry %zu is not exactly one statement", i + 1);
  }
  sqlite3_close(s);
  if (e) li_migration_free(out);
  assert(e != LI_OK || s_check(out));
  return e;
}

/* ---- applying ---- */

static bool s_exists(li_replica *r, const char *type, const char *name, char **sql) {
  sqlite3_stmt *st = NULL;
  bool found = false;
  if (sqlite3_prepare_v2(r->db, "SELECT sql FROM sqlite_master WHERE type = ? AND name = ? COLLATE NOCASE", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if ((found = sqlite3_step(st) == SQLITE_ROW) && sql)
      *sql = sqlite3_column_text(st, 0) ? strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
  }
  sqlite3_finalize(st);
  return found;
}

static bool s_has_column(li_replica *r, const char *table, const char *col) {
  sqlite3_stmt *st = NULL;
  bool found = false;
  if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM pragma_table_xinfo(?) WHERE name = ? COLLATE NOCASE", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

static li_err s_apply_one(li_replica *r, const li_migration *m, int i, li_errbuf *eb) {
  int no = i + 1;
  char *have = NULL;
  li_errbuf t = {{0}};
  li_err e = LI_OK;
  switch (m->kind[i]) {
  case LI_MIG_ADD_COLUMN:
    if (!li_capture_table(r, m->table[i]))
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' is not tracked here", no, m->table[i]);
    if (!s_has_column(r, m->table[i], m->name[i]) && (e = li_exec(r, m->stmt[i], &t))) break;
    e = li_capture_rebuild(r, m->table[i], &t);
    break;
  case LI_MIG_CREATE_TABLE:
    if (li_capture_table(r, m->table[i]))
      return li_fail(eb, LI_ERR_MIGRATION, "statement %d: table '%s' is tracked already", no, m->table[i]);
    if (s_exists(r, "table", m->table[i], &have) || s_exists(r, "view", m->table[i], NULL)) {
      bool same = have && strcmp(have, m->stmt[i]) == 0;
      free(have);
      if (!same)
        return li_fail(eb, LI_ERR_MIGRATION,
                       "'%s' is a table of this node's own: rename it (ALTER TABLE %s RENAME TO %s_local) and the "
                       "migration applies (statement %d)",
                       m->table[i], m->table[i], m->table[i], no);
    } else if ((e = li_exec(r, m->stmt[i], &t))) {
      break;
    }
    e = li_capture_track(r, m->table[i], &t);
    break;
  case LI_MIG_CREATE_INDEX:
    if (!s_exists(r, "index", m->name[i], NULL)) e = li_exec(r, m->stmt[i], &t);
    break;
  }
  if (e == LI_ERR_DB && sqlite3_get_autocommit(r->db)) return li_fail(eb, e, "%s", t.msg); /* the transaction is gone */
  return e ? li_fail(eb, LI_ERR_MIGRATION, "statement %d: %s", no, t.msg) : LI_OK;
}

static li_err s_record(li_replica *r, const li_migration *m, uint64_t hlc, uint64_t seq, uint64_t wall_ms,
                       li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "INSERT INTO linli_migrations(version, statements, hlc, seq, applied_ms) VALUES(?, '[]', ?, ?, ?)",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_migrations");
  sqlite3_bind_int64(st, 1, m->version);
  sqlite3_bind_int64(st, 2, (int64_t)hlc);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  sqlite3_bind_int64(st, 4, (int64_t)wall_ms);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return li_db_fail(r, eb, "linli_migrations");
  if (sqlite3_prepare_v2(r->db, "UPDATE linli_migrations SET statements = json_insert(statements, '$[#]', ?) WHERE version = ?",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_migrations");
  for (int i = 0; i < m->n && rc == SQLITE_DONE; i++) {
    sqlite3_bind_text(st, 1, m->stmt[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, m->version);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return li_db_fail(r, eb, "linli_migrations");
  return li_meta_set_int(r, "schema_version", m->version, eb);
}

li_err li_migration_apply(li_replica *r, const li_migration *m, uint64_t hlc, uint64_t seq, uint64_t wall_ms,
                          li_errbuf *eb) {
  assert(s_check(m) && !sqlite3_get_autocommit(r->db));
  if (m->version != li_replica_schema_version(r) + 1)
    return li_fail(eb, LI_ERR_MIGRATION, "migration to version %u, but this replica is at version %u", m->version,
                   li_replica_schema_version(r));
  li_err e = LI_OK;
  for (int i = 0; e == LI_OK && i < m->n; i++) e = s_apply_one(r, m, i, eb);
  if (e == LI_OK) e = s_record(r, m, hlc, seq, wall_ms, eb);
  if (e == LI_OK) li_replica_catalogue_current(r, m->version);
  return e;
}

/* ---- the hub ---- */

static li_err s_hub_apply(li_replica *r, li_migration *m, uint64_t wall_ms, uint32_t *version, li_errbuf *eb) {
  m->version = li_replica_schema_version(r) + 1;
  uint64_t hlc = 0, seq = 0;
  li_err e = li_seal_migration(r, wall_ms, m->version, (char *const *)m->stmt, (size_t)m->n, &hlc, &seq, eb);
  if (e == LI_OK) e = li_migration_apply(r, m, hlc, seq, wall_ms, eb);
  if (e == LI_OK && version) *version = m->version;
  return e;
}

static li_err s_hub_only(li_replica *r, li_errbuf *eb) {
  if (li_replica_role(r) == LI_ROLE_HUB) return LI_OK;
  return li_fail(eb, LI_ERR_ROLE, "only the street office's hub changes the street schema, and every committee "
                 "follows it; ask the street office (a table of this committee's own can stay local and untracked)");
}

li_err li_schema_apply(li_replica *r, const char *sql, uint64_t wall_ms, uint32_t *version, li_errbuf *eb) {
  li_err e = s_hub_only(r, eb);
  if (e) return e;
  if ((e = li_replica_begin(r, eb))) return e;
  li_migration m;
  memset(&m, 0, sizeof m);
  /* local writes pending are sealed under the version they were made in */
  e = li_seal_locked(r, wall_ms, NULL, eb);
  if (e == LI_OK) e = li_migration_check(li_replica_db(r), sql, &m, eb);
  if (e == LI_OK) e = s_hub_apply(r, &m, wall_ms, version, eb);
  if (e == LI_OK) e = li_replica_commit(r, eb);
  if (e) li_replica_rollback(r);
  li_migration_free(&m);
  return e;
}

li_err li_schema_track(li_replica *r, const char *table, uint64_t wall_ms, uint32_t *version, li_errbuf *eb) {
  li_err e = s_hub_only(r, eb);
  if (e) return e;
  if (li_capture_table(r, table)) return li_fail(eb, LI_ERR_EXISTS, "table '%s' is already tracked", table);
  char *sql = NULL;
  if (!s_exists(r, "table", table, &sql) || !sql) {
    free(sql);
    return li_fail(eb, LI_ERR_NOT_FOUND, "no table named '%s' in the replica", table);
  }
  /* the table is there, so checking its own CREATE TABLE on the scratch
   * copy (tracked tables only) creates it there: the usual check */
  e = li_schema_apply(r, sql, wall_ms, version, eb);
  free(sql);
  return e;
}

li_err li_migration_each(li_replica *r, li_err (*fn)(void *ctx, const li_migration_row *row, li_errbuf *eb), void *ctx,
                         li_errbuf *eb) {
  sqlite3_stmt *st = NULL, *js = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT version, statements, hlc, seq, applied_ms FROM linli_migrations ORDER BY version",
                         -1, &st, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(r->db, "SELECT value FROM json_each(?1) WHERE json_valid(?1) AND type = 'text'", -1, &js,
                         NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return li_db_fail(r, eb, "linli_migrations");
  }
  li_err e = LI_OK;
  int rc;
  while (e == LI_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_migration_row row = {.version = (uint32_t)sqlite3_column_int64(st, 0),
                            .hlc = (uint64_t)sqlite3_column_int64(st, 2),
                            .seq = (uint64_t)sqlite3_column_int64(st, 3),
                            .applied_ms = (uint64_t)sqlite3_column_int64(st, 4)};
    sqlite3_bind_value(js, 1, sqlite3_column_value(st, 1));
    char *keep[LI_MIGRATION_STMTS_MAX];
    while (row.n < LI_MIGRATION_STMTS_MAX && sqlite3_step(js) == SQLITE_ROW) {
      keep[row.n] = strdup((const char *)sqlite3_column_text(js, 0));
      if (!keep[row.n]) break;
      row.stmt[row.n] = keep[row.n];
      row.n++;
    }
    sqlite3_reset(js);
    e = fn(ctx, &row, eb);
    for (int i = 0; i < row.n; i++) free(keep[i]);
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_migrations");
  sqlite3_finalize(st);
  sqlite3_finalize(js);
  return e;
}

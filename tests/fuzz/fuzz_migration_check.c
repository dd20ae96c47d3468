/* fuzz_migration_check: the schema migration checker on hostile SQL text.
 * The base is an in-memory database loaded once with the built-in street
 * schema (li_street_sql). The input, up to its first NUL, is a migration
 * file for li_migration_check; when it holds NUL bytes, the whole input
 * split on them is a statement list for li_migration_check_list (a schema
 * commit's Migration, whose strings cannot hold a NUL).
 *
 * Beyond "no crash, no leak": an accepted migration holds migrate.h
 * invariant 1 (1..LI_MIGRATION_STMTS_MAX trimmed statements, each a slice
 * of the text in order, with its kind and target), names only tables that
 * are there or that it creates, creates only names that are not, and no
 * name is empty (commit.c refuses a commit naming an empty table or
 * column, so every chain writing to it would stop); the statements the
 * file check accepts are accepted alike, one entry each, by the list check
 * (what every replica runs on the hub's schema commit); a refusal is
 * LI_ERR_MIGRATION or LI_ERR_TOO_BIG with a reason and a zeroed output;
 * and the base database never changes (sqlite_master, the schema cookie,
 * no row written, no transaction left open). */
#include <ctype.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li_limits.h"
#include "migrate.h"
#include "replica.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *s_db;
static char *s_master;        /* sqlite_master of the base as loaded */
static int s_cookie;          /* its PRAGMA schema_version */
static sqlite3_stmt *s_name;  /* a table or index of the base by name */
static sqlite3_stmt *s_col;   /* a column of a base table */

static void s_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_migration_check: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

static char *s_master_text(void) {
  sqlite3_stmt *st = NULL;
  char *out = NULL;
  if (sqlite3_prepare_v2(s_db,
                         "SELECT group_concat(x, char(30)) FROM (SELECT type || char(31) || name || char(31) || tbl_name"
                         " || char(31) || rootpage || char(31) || ifnull(sql, '') AS x FROM sqlite_master ORDER BY rowid)",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (!out) s_fail("reading the base's sqlite_master", sqlite3_errmsg(s_db));
  return out;
}

static int s_cookie_now(void) {
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_prepare_v2(s_db, "PRAGMA schema_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char *err = NULL;
  if (sqlite3_open_v2(":memory:", &s_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
      sqlite3_exec(s_db, li_street_sql, NULL, NULL, &err) != SQLITE_OK)
    s_fail("loading the street schema", err ? err : sqlite3_errmsg(s_db));
  if (sqlite3_prepare_v2(s_db, "SELECT type FROM sqlite_master WHERE name = ?1 COLLATE NOCASE", -1, &s_name, NULL) ||
      sqlite3_prepare_v2(s_db, "SELECT 1 FROM pragma_table_xinfo(?1) WHERE name = ?2 COLLATE NOCASE", -1, &s_col, NULL))
    s_fail("preparing the oracle's queries", sqlite3_errmsg(s_db));
  s_master = s_master_text();
  s_cookie = s_cookie_now();
  return 0;
}

/* The base database is exactly as loaded. */
static void s_base_unchanged(const char *after) {
  char *now = s_master_text();
  if (strcmp(now, s_master) != 0) s_fail("the base's sqlite_master changed", after);
  free(now);
  if (s_cookie_now() != s_cookie) s_fail("the base's schema cookie changed", after);
  if (sqlite3_total_changes(s_db) != 0) s_fail("a row of the base was written", after);
  if (!sqlite3_get_autocommit(s_db)) s_fail("a transaction was left open on the base", after);
}

/* "table", "index" or NULL: what the base has by that name. */
static const char *s_base_type(const char *name, char buf[8]) {
  sqlite3_reset(s_name);
  sqlite3_bind_text(s_name, 1, name, -1, SQLITE_STATIC);
  const char *t = NULL;
  if (sqlite3_step(s_name) == SQLITE_ROW) t = (const char *)sqlite3_column_text(s_name, 0);
  snprintf(buf, 8, "%s", t ? t : "");
  sqlite3_reset(s_name);
  return buf[0] ? buf : NULL;
}

static bool s_base_column(const char *table, const char *col) {
  sqlite3_reset(s_col);
  sqlite3_bind_text(s_col, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(s_col, 2, col, -1, SQLITE_STATIC);
  bool found = sqlite3_step(s_col) == SQLITE_ROW;
  sqlite3_reset(s_col);
  return found;
}

/* Whether statement j < i of m created the table (or index) t. */
static bool s_made_before(const li_migration *m, int i, li_mig_kind kind, const char *t) {
  for (int j = 0; j < i; j++)
    if (m->kind[j] == kind && sqlite3_stricmp(kind == LI_MIG_CREATE_TABLE ? m->table[j] : m->name[j], t) == 0)
      return true;
  return false;
}

/* Invariant 1, and that each statement names what is there and creates
 * what is not. n: the number of statements expected (-1: any). */
static void s_check_ok(const li_migration *m, int n) {
  if (m->n < 1 || m->n > LI_MIGRATION_STMTS_MAX || (n >= 0 && m->n != n)) s_fail("accepted with a bad count", NULL);
  if (m->version != 0) s_fail("the checker set a version", NULL);
  size_t bytes = 0;
  char tb[8];
  for (int i = 0; i < m->n; i++) {
    const char *s = m->stmt[i], *t = m->table[i], *name = m->name[i];
    if (!s || !s[0] || !t || !t[0]) s_fail("an accepted statement lacks its text or table", s);
    size_t len = strlen(s);
    bytes += len;
    if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1]) || s[len - 1] == ';')
      s_fail("an accepted statement is not trimmed", s);
    switch (m->kind[i]) {
    case LI_MIG_ADD_COLUMN:
      if (!name || !name[0]) s_fail("ADD COLUMN without its column", s);
      if (s_base_type(t, tb) ? strcmp(tb, "table") != 0 || s_base_column(t, name)
                             : !s_made_before(m, i, LI_MIG_CREATE_TABLE, t))
        s_fail("ADD COLUMN to a table that is not there, or of a column that is", s);
      break;
    case LI_MIG_CREATE_TABLE:
      if (name) s_fail("CREATE TABLE with a name", s);
      if (s_base_type(t, tb) || s_made_before(m, i, LI_MIG_CREATE_TABLE, t) || s_made_before(m, i, LI_MIG_CREATE_INDEX, t))
        s_fail("CREATE TABLE of a name that is there", s);
      if (sqlite3_strnicmp(t, "linli_", 6) == 0 || sqlite3_strnicmp(t, "sqlite_", 7) == 0)
        s_fail("CREATE TABLE of a reserved name", s);
      break;
    case LI_MIG_CREATE_INDEX:
      if (!name || !name[0]) s_fail("CREATE INDEX without its name", s);
      if (s_base_type(name, tb) || s_made_before(m, i, LI_MIG_CREATE_TABLE, name) ||
          s_made_before(m, i, LI_MIG_CREATE_INDEX, name))
        s_fail("CREATE INDEX of a name that is there", s);
      if (s_base_type(t, tb) ? strcmp(tb, "table") != 0 : !s_made_before(m, i, LI_MIG_CREATE_TABLE, t))
        s_fail("CREATE INDEX on a table that is not there", s);
      break;
    default:
      s_fail("accepted with an invalid kind", s);
    }
  }
  if (bytes > LI_MIGRATION_BYTES_MAX) s_fail("accepted over LI_MIGRATION_BYTES_MAX", NULL);
}

static void s_check_refused(li_err e, const li_migration *m, const li_errbuf *eb) {
  static const li_migration zero;
  if (e != LI_ERR_MIGRATION && e != LI_ERR_TOO_BIG) s_fail(li_errname(e), eb->msg);
  if (!eb->msg[0]) s_fail("refused without a reason", NULL);
  if (memcmp(m, &zero, sizeof zero) != 0) s_fail("a refusal left output behind", eb->msg);
}

/* The file check's statements, as the hub seals them, pass every
 * replica's list check with the same reading. */
static void s_relist(const li_migration *m) {
  li_migration back;
  li_errbuf eb = {{0}};
  li_err e = li_migration_check_list(s_db, m->stmt, (size_t)m->n, &back, &eb);
  s_base_unchanged("after li_migration_check_list of an accepted file");
  if (e != LI_OK) s_fail("the list check refuses what the file check accepted", eb.msg);
  s_check_ok(&back, m->n);
  for (int i = 0; i < m->n; i++)
    if (strcmp(back.stmt[i], m->stmt[i]) != 0 || back.kind[i] != m->kind[i] ||
        strcmp(back.table[i], m->table[i]) != 0 || (back.name[i] == NULL) != (m->name[i] == NULL) ||
        (m->name[i] && strcmp(back.name[i], m->name[i]) != 0))
      s_fail("the list check reads a statement otherwise", m->stmt[i]);
  li_migration_free(&back);
}

static void s_file(const char *text) {
  li_migration m;
  li_errbuf eb = {{0}};
  li_err e = li_migration_check(s_db, text, &m, &eb);
  s_base_unchanged("after li_migration_check");
  if (e != LI_OK) {
    s_check_refused(e, &m, &eb);
    return;
  }
  s_check_ok(&m, -1);
  const char *at = text; /* each statement is a slice of the text, in order */
  for (int i = 0; i < m.n; i++) {
    const char *p = strstr(at, m.stmt[i]);
    if (!p) s_fail("an accepted statement is not a slice of the text", m.stmt[i]);
    at = p + strlen(m.stmt[i]);
  }
  s_relist(&m);
  li_migration_free(&m);
}

static void s_list(char *const *entries, size_t n) {
  li_migration m;
  li_errbuf eb = {{0}};
  li_err e = li_migration_check_list(s_db, entries, n, &m, &eb);
  s_base_unchanged("after li_migration_check_list");
  if (e != LI_OK) {
    s_check_refused(e, &m, &eb);
    return;
  }
  s_check_ok(&m, (int)n);
  for (size_t i = 0; i < n; i++)
    if (!strstr(entries[i], m.stmt[i])) s_fail("an accepted statement is not a slice of its entry", m.stmt[i]);
  li_migration_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  s_file(text);
  size_t n = 1;
  for (size_t i = 0; i < size; i++) n += text[i] == 0;
  /* a list of one entry is the file check's first statement again (and
   * every accepted file is relisted): lists start at two entries. A
   * schema commit's statements together are at most LI_MIGRATION_BYTES_MAX
   * (commit.c checks it before merge calls this). */
  if (n > 1 && size <= LI_MIGRATION_BYTES_MAX) {
    char **entries = malloc(n * sizeof *entries);
    if (entries) {
      entries[0] = text;
      for (size_t i = 0, k = 1; i < size; i++)
        if (text[i] == 0) entries[k++] = text + i + 1;
      s_list(entries, n);
      free(entries);
    }
  }
  free(text);
  return 0;
}

/* Tests of node/migrate.c and of migrations where merge meets them (DESIGN
 * 14: the hub is the one schema authority), on real replicas in temporary
 * directories.
 *
 *  1. The checker, table-driven like test_hostile_table.c: every case is
 *     {name, SQL text, verdict, a substring of the reason or what was
 *     accepted}, run by one driver against a real hub replica. Before and
 *     after each case the driver takes a snapshot (s_snap: the replica's
 *     `SELECT type,name,sql FROM sqlite_master ORDER BY 1,2`, linli_meta's
 *     schema_version, linli_migrations, PRAGMA schema_version, the cached
 *     version and tu_snapshot's digest of rows and internal tables): it
 *     must be identical for every case, accepted or not (the checker
 *     changes nothing). An accepted text is checked again as receivers
 *     check it (li_migration_check_list of its statements), and a refused
 *     one too where it could reach them. The control (snapshot_sees_apply)
 *     shows the snapshot does see a migration once it is applied.
 *  2. li_schema_apply on the hub: version, linli_migrations, the signed
 *     schema commit in (hub, street), pending writes sealed first under the
 *     old version, the new column captured in the same transaction; a
 *     refusal (by the checker, or later by the apply itself) changes
 *     nothing and seals nothing; LI_ERR_ROLE on a committee.
 *  3. Merge on a committee: the schema commit applies (column, table, index,
 *     triggers rebuilt); a commit of the new version is held, not counted
 *     as a rejection, and applied in the same batch once the batch's
 *     migration is in (second pass), or in a later batch; a Migration from
 *     another origin or scope is refused and stops only its own chain; an
 *     old-version commit into a table that gained a column takes the
 *     column's DEFAULT, and hub and committee agree.
 *     A batch rolled back after its migration leaves the file as it was.
 *  4. A committee table of its own with a new table's name: the migration
 *     names it and the way to move it aside; after the rename it applies.
 *     `track` on the hub of a table it made by hand.
 *
 * Regressions: the tests named test_regr_* and the checker cases marked
 * "Regression" failed on the first version of the migration code and keep
 * what was fixed fixed:
 *   not_null_default_null, test_regr_not_null_default_null   (migrate.c checker)
 *   empty_statement_between, leading_semicolon               (migrate.c s_trim)
 *   test_regr_local_table_same_definition    (merge.c aborted on the adopted rows' markers)
 *   test_regr_release_keeps_other_refusals   (merge.c s_release_held stats)
 *   test_regr_cached_version_after_rollback  (replica.c rollback) */
#include "testnode.h"

#include "capture.h"
#include "chain.h"
#include "li_limits.h"
#include "migrate.h"
#include "replica.h"

/* ---- snapshots: what the checker and a refused migration must not change ---- */

typedef struct {
  char *master;     /* SELECT type,name,sql FROM sqlite_master ORDER BY 1,2 */
  char *meta;       /* linli_meta schema_version */
  char *migrations; /* linli_migrations */
  int64_t cookie;   /* PRAGMA schema_version */
  uint32_t version; /* li_replica_schema_version (the cached one) */
  uint8_t data[LI_HASH_BYTES]; /* tu_snapshot: tracked rows, log, vv, clock, dirty, meta... */
} s_snap;

static void s_snap_take(li_node *n, s_snap *s) {
  sqlite3 *db = n->r->db;
  s->master = tu_dump(db, "SELECT type, name, sql FROM sqlite_master ORDER BY 1, 2");
  s->meta = tu_dump(db, "SELECT value FROM linli_meta WHERE key = 'schema_version'");
  s->migrations = tu_dump(db, "SELECT * FROM linli_migrations ORDER BY version");
  s->cookie = tu_db_int(db, "PRAGMA schema_version");
  s->version = li_replica_schema_version(n->r);
  tu_snapshot(db, s->data);
}

static void s_snap_free(s_snap *s) {
  free(s->master), free(s->meta), free(s->migrations);
  memset(s, 0, sizeof *s);
}

/* The first line where a and b differ, for a readable failure. */
static void s_first_diff(const char *a, const char *b, char *out, size_t cap) {
  size_t i = 0, line = 0;
  while (a[i] && a[i] == b[i]) i++;
  while (line < i && a[i - line - 1] != '\n') line++;
  const char *la = a + i - line, *lb = b + i - line;
  snprintf(out, cap, "before: %.*s | after: %.*s", (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
}

/* What differs between two snapshots, in out ("" when nothing; file: the
 * file alone, not the version cached in memory). */
static void s_snap_diff(const s_snap *a, const s_snap *b, bool file, const char *what, char *out, size_t cap) {
  char d[1000];
  out[0] = 0;
  if (strcmp(a->master, b->master) != 0) {
    s_first_diff(a->master, b->master, d, sizeof d);
    snprintf(out, cap, "%s: sqlite_master changed (%s)", what, d);
  } else if (strcmp(a->meta, b->meta) != 0) {
    snprintf(out, cap, "%s: schema_version changed: %s -> %s", what, a->meta, b->meta);
  } else if (strcmp(a->migrations, b->migrations) != 0) {
    snprintf(out, cap, "%s: linli_migrations changed", what);
  } else if (a->cookie != b->cookie) {
    snprintf(out, cap, "%s: PRAGMA schema_version changed", what);
  } else if (memcmp(a->data, b->data, sizeof a->data) != 0) {
    snprintf(out, cap, "%s: rows or internal tables changed", what);
  } else if (!file && a->version != b->version) {
    snprintf(out, cap, "%s: the cached schema version changed: %u -> %u", what, a->version, b->version);
  }
}

static void s_snap_same(const s_snap *a, const s_snap *b, const char *what) {
  char why[1200];
  s_snap_diff(a, b, false, what, why, sizeof why);
  if (why[0]) fail_msg("%s", why);
}

static void s_snap_same_file(const s_snap *a, const s_snap *b, const char *what) {
  char why[1200];
  s_snap_diff(a, b, true, what, why, sizeof why);
  if (why[0]) fail_msg("%s", why);
}

/* ---- small helpers ---- */

static const char s_control_sql[] = "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT ''";
static const char s_patrols_sql[] =
    "CREATE TABLE patrols(id TEXT NOT NULL, scope TEXT NOT NULL, route TEXT, PRIMARY KEY(id, scope))";

/* li_schema_apply that must succeed; returns the new version. */
static uint32_t s_apply(li_node *hub, const char *sql) {
  uint32_t v = 0;
  li_errbuf eb = {{0}};
  li_err e = li_schema_apply(hub->r, sql, li_wall_ms(), &v, &eb);
  if (e) fail_msg("schema apply (%s): %s (%s)", sql, li_errname(e), eb.msg);
  return v;
}

static uint64_t s_head(li_node *n, const uint8_t origin[LI_PK_BYTES], const char *scope) {
  uint64_t seq = 0;
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_head(n->r, origin, scope, &seq, NULL, &eb), LI_OK);
  return seq;
}

/* The stored commit origin/scope/seq of n's log (b.sc malloc'd). */
static li_blob s_commit(li_node *n, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq) {
  size_t len = 0;
  uint8_t *p = tu_log_commit(n, origin, scope, seq, &len);
  return (li_blob){p, len};
}

static void s_blobs_free(li_blob *v, size_t n) {
  for (size_t i = 0; i < n; i++) free((void *)v[i].sc);
}

/* A PER_CHAIN batch, as the sync store and bundle import merge (rej: NULL
 * for merge's own list). */
static li_err s_merge_chains(li_node *to, const li_blob *v, size_t n, li_merge_rejects *rej, li_merge_stats *st,
                             li_errbuf *eb) {
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_PER_CHAIN,
                     .seal_first = true, .rejects = rej};
  memset(eb, 0, sizeof *eb);
  return li_merge_batch(to->r, v, n, &o, st, eb);
}

/* Decodes a stored commit of n (its network) into c, in arena a. */
static void s_open(li_node *n, li_blob b, li_arena *a, li_commit *c) {
  li_errbuf eb = {{0}};
  li_err e = li_commit_open(n->r->network, b.sc, b.len, a, c, &eb);
  if (e) fail_msg("li_commit_open: %s (%s)", li_errname(e), eb.msg);
}

static int64_t s_rejects_counted(li_node *n) { return tu_int(n, "SELECT coalesce(sum(n), 0) FROM linli_rejects"); }

static bool s_has_column(li_node *n, const char *table, const char *col) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_xinfo('%s') WHERE name = '%s'", table, col);
  return tu_int(n, sql) == 1;
}

static bool s_tracked(li_node *n, const char *table) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM linli_tables WHERE name = '%s'", table);
  return tu_int(n, sql) == 1 && li_capture_table(n->r, table) != NULL;
}

/* The hub's commit #seq of (hub, scope) carries table.column = value in
 * its first row change of that table, and was sealed under version v. */
static void s_commit_carries(li_node *hub, const char *scope, uint64_t seq, uint32_t v, const char *table,
                             const char *col, const char *value) {
  li_blob b = s_commit(hub, hub->id.pk, scope, seq);
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  s_open(hub, b, &a, &c);
  assert_int_equal(c.c->schema_version, v);
  assert_null(c.c->migration);
  bool found = false;
  for (size_t t = 0; t < c.c->n_tables && !found; t++) {
    const Linli__TableChanges *tc = c.c->tables[t];
    if (strcmp(tc->table, table) != 0) continue;
    const Linli__RowChange *rc = tc->rows[0];
    for (size_t k = 0; k < rc->n_cols; k++)
      if (strcmp(tc->columns[rc->cols[k]], col) == 0) {
        assert_int_equal(rc->values[k]->v_case, LINLI__VALUE__V_T);
        assert_string_equal(rc->values[k]->t, value);
        found = true;
      }
  }
  if (!found) fail_msg("%s#%llu carries no %s.%s", scope, (unsigned long long)seq, table, col);
  li_arena_free(&a);
  free((void *)b.sc);
}

/* ---- commits built by hand: a Migration where none may be ---- */

/* sp's commit (no rows unless sp has some) stamped schema version v, with
 * mig (NULL: none), signed (caller frees); its hash in hash. */
static uint8_t *s_sign(const tu_spec *sp, uint32_t v, Linli__Migration *mig, size_t *len, uint8_t hash[LI_HASH_BYTES]) {
  tu_commit_mem *m = malloc(sizeof *m);
  assert_non_null(m);
  tu_commit_build(m, sp);
  m->c.schema_version = v;
  m->c.migration = mig;
  size_t clen;
  uint8_t *c = tu_commit_pack(&m->c, &clen);
  li_hash(c, clen, hash);
  uint8_t *sc = tu_wrap(sp->signer, sp->network, c, clen, len);
  free(c);
  free(m);
  return sc;
}

/* ======================================================================
 * 1. the checker, table-driven
 * ====================================================================== */

typedef struct {
  const char *name;
  const char *sql;          /* the text, or NULL: build() makes it */
  char *(*build)(void);     /* malloc'd text */
  li_err want;
  const char *msg_has;      /* refused: text the reason must contain */
  int n;                    /* accepted: statements */
  li_mig_kind kind[3];      /* accepted: the first statements' kinds, tables and names */
  const char *table[3];
  const char *stmt_name[3];
  const char *stmt0;        /* accepted: the first statement exactly as stored, or NULL */
  bool no_list;             /* refused before parsing (size, UTF-8): receivers never see such text */
} s_ccase;

static char *s_too_big(void) {
  size_t cap = LI_MIGRATION_BYTES_MAX + 64;
  char *p = malloc(cap + 1);
  assert_non_null(p);
  int k = snprintf(p, cap, "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '");
  memset(p + k, 'a', cap - (size_t)k - 1);
  p[cap - 1] = '\'';
  p[cap] = 0;
  return p;
}

/* The largest text allowed: one statement of exactly LI_MIGRATION_BYTES_MAX bytes. */
static char *s_at_limit(void) {
  size_t cap = LI_MIGRATION_BYTES_MAX;
  char *p = malloc(cap + 1);
  assert_non_null(p);
  int k = snprintf(p, cap, "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '");
  memset(p + k, 'a', cap - (size_t)k - 1);
  p[cap - 1] = '\'';
  p[cap] = 0;
  assert_int_equal(strlen(p), LI_MIGRATION_BYTES_MAX);
  return p;
}

static char *s_indexes(int n) {
  char *p = malloc((size_t)n * 64 + 1);
  assert_non_null(p);
  p[0] = 0;
  size_t off = 0;
  for (int i = 0; i < n; i++) off += (size_t)sprintf(p + off, "CREATE INDEX hz_%d ON hazards(location);\n", i);
  return p;
}
static char *s_too_many(void) { return s_indexes(LI_MIGRATION_STMTS_MAX + 1); }
static char *s_max_stmts(void) { return s_indexes(LI_MIGRATION_STMTS_MAX); }

static const s_ccase s_ccases[] = {
    /* ---- accepted ---- */
    {"control_add_column", s_control_sql, NULL, LI_OK, NULL, 1, {LI_MIG_ADD_COLUMN}, {"hazards"}, {"photo_ref"},
     s_control_sql, false},
    {"add_without_column_keyword", "ALTER TABLE hazards ADD photo_ref TEXT", NULL, LI_OK, NULL, 1,
     {LI_MIG_ADD_COLUMN}, {"hazards"}, {"photo_ref"}, NULL, false},
    {"add_not_null_with_default", "ALTER TABLE hazards ADD COLUMN level TEXT NOT NULL DEFAULT 'low'", NULL, LI_OK,
     NULL, 1, {LI_MIG_ADD_COLUMN}, {"hazards"}, {"level"}, NULL, false},
    {"create_tracked_table", s_patrols_sql, NULL, LI_OK, NULL, 1, {LI_MIG_CREATE_TABLE}, {"patrols"}, {NULL},
     s_patrols_sql, false},
    {"create_table_scope_first", "CREATE TABLE patrols(id TEXT, scope TEXT, PRIMARY KEY(scope, id))", NULL, LI_OK,
     NULL, 1, {LI_MIG_CREATE_TABLE}, {"patrols"}, {NULL}, NULL, false},
    {"create_index", "CREATE INDEX hazards_deadline ON hazards(deadline)", NULL, LI_OK, NULL, 1, {LI_MIG_CREATE_INDEX},
     {"hazards"}, {"hazards_deadline"}, NULL, false},
    {"several_with_comments",
     "-- 2025: photos of hazards; and patrols\n"
     "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '';\n"
     "/* a table for the patrols; the ';' here is a comment's */\n"
     "CREATE TABLE patrols(id TEXT NOT NULL, scope TEXT NOT NULL, -- who walked\n"
     "  route TEXT, PRIMARY KEY(id, scope));\n"
     "CREATE INDEX patrols_route ON patrols(route); -- the end\n",
     NULL, LI_OK, NULL, 3, {LI_MIG_ADD_COLUMN, LI_MIG_CREATE_TABLE, LI_MIG_CREATE_INDEX},
     {"hazards", "patrols", "patrols"}, {"photo_ref", NULL, "patrols_route"}, s_control_sql, false},
    /* Regression (minor, node/migrate.c s_trim/s_check_one): an empty statement
     * (";;", or a text starting with ";") is valid SQL that SQLite skips,
     * but the statement after it keeps the ';' in its text, so its
     * keywords read as "" and it is refused as "statement 2 ( ): a
     * migration holds only ..." although it is a CREATE INDEX */
    {"empty_statement_between", "CREATE INDEX hz_a ON hazards(location);;\n; CREATE INDEX hz_b ON hazards(stage)", NULL,
     LI_OK, NULL, 2, {LI_MIG_CREATE_INDEX, LI_MIG_CREATE_INDEX}, {"hazards", "hazards"}, {"hz_a", "hz_b"},
     "CREATE INDEX hz_a ON hazards(location)", false},
    {"leading_semicolon", ";\n" "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT ''", NULL, LI_OK, NULL, 1,
     {LI_MIG_ADD_COLUMN}, {"hazards"}, {"photo_ref"}, s_control_sql, false},
    {"at_byte_limit", NULL, s_at_limit, LI_OK, NULL, 1, {LI_MIG_ADD_COLUMN}, {"hazards"}, {"photo_ref"}, NULL, false},
    {"at_statement_limit", NULL, s_max_stmts, LI_OK, NULL, LI_MIGRATION_STMTS_MAX, {LI_MIG_CREATE_INDEX},
     {"hazards"}, {"hz_0"}, NULL, false},
    /* ---- refused: not additive ---- */
    {"drop_table", "DROP TABLE notices", NULL, LI_ERR_MIGRATION, "drops", 0, {0}, {0}, {0}, NULL, false},
    {"drop_index", "DROP INDEX hazards_scope_stage", NULL, LI_ERR_MIGRATION, "drops", 0, {0}, {0}, {0}, NULL, false},
    {"rename_table", "ALTER TABLE hazards RENAME TO hazards_old", NULL, LI_ERR_MIGRATION, "RENAME", 0, {0}, {0}, {0},
     NULL, false},
    {"rename_column", "ALTER TABLE hazards RENAME COLUMN location TO place", NULL, LI_ERR_MIGRATION, "RENAME", 0, {0},
     {0}, {0}, NULL, false},
    {"drop_column", "ALTER TABLE hazards DROP COLUMN description", NULL, LI_ERR_MIGRATION, "DROP COLUMN", 0, {0}, {0},
     {0}, NULL, false},
    {"second_statement_drops", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT; DROP TABLE notices", NULL,
     LI_ERR_MIGRATION, "statement 2", 0, {0}, {0}, {0}, NULL, false},
    /* ---- refused: columns receivers could not fill or keep ---- */
    {"not_null_without_default", "ALTER TABLE hazards ADD COLUMN level TEXT NOT NULL", NULL, LI_ERR_MIGRATION,
     "NOT NULL", 0, {0}, {0}, {0}, NULL, false},
    /* Regression: DEFAULT NULL is no default (SQLite refuses the ALTER on a table
     * with rows: "Cannot add a NOT NULL column with default value NULL"),
     * but pragma_table_xinfo shows dflt_value 'NULL', so the checker's
     * scratch copy (no rows) lets it through; see test_regr_not_null_default_null */
    {"not_null_default_null", "ALTER TABLE hazards ADD COLUMN level TEXT NOT NULL DEFAULT NULL", NULL,
     LI_ERR_MIGRATION, "NOT NULL", 0, {0}, {0}, {0}, NULL, false},
    {"column_references", "ALTER TABLE hazards ADD COLUMN notice_id TEXT REFERENCES notices(id)", NULL,
     LI_ERR_MIGRATION, "REFERENCES", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_foreign_key",
     "CREATE TABLE patrols(id TEXT NOT NULL, scope TEXT NOT NULL, notice_id TEXT, PRIMARY KEY(id, scope),"
     " FOREIGN KEY(notice_id, scope) REFERENCES notices(id, scope))",
     NULL, LI_ERR_MIGRATION, "FOREIGN KEY", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_column_references",
     "CREATE TABLE patrols(id TEXT NOT NULL, scope TEXT NOT NULL, notice_id TEXT REFERENCES notices(id),"
     " PRIMARY KEY(id, scope))",
     NULL, LI_ERR_MIGRATION, "FOREIGN KEY", 0, {0}, {0}, {0}, NULL, false},
    /* ---- refused: tables capture could not track ---- */
    {"create_table_without_scope", "CREATE TABLE patrols(id TEXT PRIMARY KEY, route TEXT)", NULL, LI_ERR_MIGRATION,
     "needs a column scope TEXT in its PRIMARY KEY", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_scope_not_in_key", "CREATE TABLE patrols(id TEXT PRIMARY KEY, scope TEXT NOT NULL, route TEXT)",
     NULL, LI_ERR_MIGRATION, "needs a column scope TEXT in its PRIMARY KEY", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_integer_scope", "CREATE TABLE patrols(id TEXT, scope INTEGER, PRIMARY KEY(id, scope))", NULL,
     LI_ERR_MIGRATION, "needs a column scope TEXT", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_integer_key", "CREATE TABLE patrols(id INTEGER NOT NULL, scope TEXT NOT NULL, PRIMARY KEY(id, scope))",
     NULL, LI_ERR_MIGRATION, "needs a TEXT key column besides scope", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_rowid_key", "CREATE TABLE patrols(id INTEGER PRIMARY KEY, scope TEXT)", NULL, LI_ERR_MIGRATION,
     "in its PRIMARY KEY", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_only_scope_key", "CREATE TABLE patrols(scope TEXT PRIMARY KEY, route TEXT)", NULL,
     LI_ERR_MIGRATION, "needs a TEXT key column besides scope", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_as_select", "CREATE TABLE patrols AS SELECT * FROM hazards", NULL, LI_ERR_MIGRATION, "AS SELECT",
     0, {0}, {0}, {0}, NULL, false},
    {"create_table_linli_name", "CREATE TABLE linli_patrols(id TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY(id, scope))",
     NULL, LI_ERR_MIGRATION, "linli_", 0, {0}, {0}, {0}, NULL, false},
    {"create_table_if_not_exists_existing",
     "CREATE TABLE IF NOT EXISTS hazards(id TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY(id, scope))", NULL,
     LI_ERR_MIGRATION, "creates nothing", 0, {0}, {0}, {0}, NULL, false},
    /* (a receiver checks without its indexes, so that one it made by hand
     * never stops the street's migration: there the statement is accepted
     * and applying skips the index that is there) */
    {"create_index_if_not_exists_existing", "CREATE INDEX IF NOT EXISTS hazards_scope_stage ON hazards(scope, stage)",
     NULL, LI_ERR_MIGRATION, "creates nothing", 0, {0}, {0}, {0}, NULL, true},
    {"add_column_check", "ALTER TABLE hazards ADD COLUMN level INTEGER DEFAULT 1 CHECK (level = 0)", NULL,
     LI_ERR_MIGRATION, "CHECK", 0, {0}, {0}, {0}, NULL, false},
    {"add_column_empty_name", "ALTER TABLE hazards ADD ''", NULL, LI_ERR_MIGRATION, "empty name", 0, {0}, {0}, {0},
     NULL, false},
    {"create_table_empty_column", "CREATE TABLE patrols(id TEXT NOT NULL, scope TEXT NOT NULL, \"\" TEXT,"
     " PRIMARY KEY(id, scope))", NULL, LI_ERR_MIGRATION, "empty name", 0, {0}, {0}, {0}, NULL, false},
    {"create_index_empty_name", "CREATE INDEX \"\" ON hazards(location)", NULL, LI_ERR_MIGRATION, "empty name", 0,
     {0}, {0}, {0}, NULL, false},
    /* ---- refused: not a migration's kind ---- */
    {"create_unique_index", "CREATE UNIQUE INDEX hazards_loc ON hazards(location)", NULL, LI_ERR_MIGRATION, "UNIQUE", 0,
     {0}, {0}, {0}, NULL, false},
    {"create_temp_table", "CREATE TEMP TABLE patrols(id TEXT, scope TEXT, PRIMARY KEY(id, scope))", NULL,
     LI_ERR_MIGRATION, "TEMP", 0, {0}, {0}, {0}, NULL, false},
    {"create_trigger", "CREATE TRIGGER hz_ai AFTER INSERT ON hazards BEGIN SELECT 1; END", NULL, LI_ERR_MIGRATION,
     "a migration holds only", 0, {0}, {0}, {0}, NULL, false},
    {"create_view", "CREATE VIEW open_hazards AS SELECT * FROM hazards WHERE stage <> '销号'", NULL, LI_ERR_MIGRATION,
     "a migration holds only", 0, {0}, {0}, {0}, NULL, false},
    {"insert", "INSERT INTO notices(id, scope, title) VALUES('n9', 'street', 'x')", NULL, LI_ERR_MIGRATION,
     "changes rows", 0, {0}, {0}, {0}, NULL, false},
    {"update", "UPDATE hazards SET stage = '销号'", NULL, LI_ERR_MIGRATION, "changes rows", 0, {0}, {0}, {0}, NULL,
     false},
    {"delete", "DELETE FROM hazards", NULL, LI_ERR_MIGRATION, "changes rows", 0, {0}, {0}, {0}, NULL, false},
    {"pragma", "PRAGMA foreign_keys = OFF", NULL, LI_ERR_MIGRATION, "a migration holds only", 0, {0}, {0}, {0}, NULL,
     false},
    {"attach", "ATTACH DATABASE '/tmp/linli-attach-test.db' AS x", NULL, LI_ERR_MIGRATION, "a migration holds only", 0,
     {0}, {0}, {0}, NULL, false},
    /* ---- refused: tables that are not the street's ---- */
    {"alter_untracked_table", "ALTER TABLE local_notes ADD COLUMN extra TEXT", NULL, LI_ERR_MIGRATION,
     "only tracked tables", 0, {0}, {0}, {0}, NULL, false},
    {"alter_linli_table", "ALTER TABLE linli_meta ADD COLUMN extra TEXT", NULL, LI_ERR_MIGRATION,
     "only tracked tables", 0, {0}, {0}, {0}, NULL, false},
    {"index_untracked_table", "CREATE INDEX local_notes_body ON local_notes(body)", NULL, LI_ERR_MIGRATION,
     "only tracked tables", 0, {0}, {0}, {0}, NULL, false},
    /* ---- refused: not a migration text ---- */
    {"empty", "", NULL, LI_ERR_MIGRATION, "holds no statement", 0, {0}, {0}, {0}, NULL, false},
    {"only_comments", "-- nothing here\n/* nor here */\n  \n", NULL, LI_ERR_MIGRATION, "holds no statement", 0, {0},
     {0}, {0}, NULL, false},
    {"only_semicolons", " ; ;\n;", NULL, LI_ERR_MIGRATION, "holds no statement", 0, {0}, {0}, {0}, NULL, false},
    {"syntax_error", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT", NULL, LI_ERR_MIGRATION, "statement 1", 0,
     {0}, {0}, {0}, NULL, false},
    {"syntax_error_second", "CREATE INDEX hz_a ON hazards(location); CREATE INDEX hz_b ON hazards(", NULL,
     LI_ERR_MIGRATION, "statement 2", 0, {0}, {0}, {0}, NULL, false},
    {"over_byte_limit", NULL, s_too_big, LI_ERR_TOO_BIG, "LI_MIGRATION_BYTES_MAX", 0, {0}, {0}, {0}, NULL, true},
    {"invalid_utf8", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '\xff\xfe'", NULL, LI_ERR_MIGRATION,
     "UTF-8", 0, {0}, {0}, {0}, NULL, true},
    {"utf8_surrogate", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '\xed\xa0\x80'", NULL, LI_ERR_MIGRATION,
     "UTF-8", 0, {0}, {0}, {0}, NULL, true},
    {"over_statement_limit", NULL, s_too_many, LI_ERR_MIGRATION, "LI_MIGRATION_STMTS_MAX", 0, {0}, {0}, {0}, NULL,
     false},
};

typedef struct {
  tu_street s; /* first: tu_fx_teardown frees it */
  const s_ccase *c;
} s_cfx;

static int s_cfx_setup(void **state) {
  s_cfx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->c = *state;
  tu_street_new(&f->s, NULL);
  /* a row in a tracked table, a pending write and a table of the hub's own */
  tu_exec(f->s.hub, "INSERT INTO hazards(id, scope, category, location, found_on) "
                    "VALUES('h1', 'street', '消防', '新华路12号', '2025-03-01')");
  tu_seal(f->s.hub, li_wall_ms());
  tu_exec(f->s.hub, "UPDATE hazards SET stage = '交办' WHERE id = 'h1'");
  tu_exec(f->s.hub, "CREATE TABLE local_notes(id TEXT, scope TEXT, body TEXT, PRIMARY KEY(id, scope));"
                    "INSERT INTO local_notes VALUES('x', 'street', 'ours')");
  *state = f;
  return 0;
}


static void s_check_case(void **state) {
  s_cfx *f = *state;
  const s_ccase *c = f->c;
  li_node *hub = f->s.hub;
  char *sql = c->build ? c->build() : strdup(c->sql);
  assert_non_null(sql);
  s_snap before, after;
  s_snap_take(hub, &before);
  li_migration m;
  li_errbuf eb = {{0}};
  li_err got = li_migration_check(hub->r->db, sql, &m, &eb);
  printf("case %s: %s: %s\n", c->name, li_errname(got), got ? eb.msg : "accepted");
  fflush(stdout);
  s_snap_take(hub, &after);
  /* the verdict: on a failure everything is freed first (a case that
   * fails fails here, and must not leak under ASan) */
  char why[1400];
  s_snap_diff(&before, &after, false, c->name, why, sizeof why);
  if (!why[0] && got != c->want)
    snprintf(why, sizeof why, "case %s: expected %s, got %s (%s)", c->name, li_errname(c->want), li_errname(got),
             eb.msg);
  if (!why[0] && got != LI_OK && !eb.msg[0]) snprintf(why, sizeof why, "case %s: %s without a reason", c->name, li_errname(got));
  if (!why[0] && got != LI_OK && c->msg_has && !strstr(eb.msg, c->msg_has))
    snprintf(why, sizeof why, "case %s: the reason does not mention \"%s\": %s", c->name, c->msg_has, eb.msg);
  if (!why[0] && got != LI_OK && m.n != 0) snprintf(why, sizeof why, "case %s: refused, but statements handed back", c->name);
  /* receivers check a Migration's statements one by one: the same text as
   * one entry is refused there too */
  if (!why[0] && got != LI_OK && !c->no_list) {
    li_migration m2;
    li_errbuf eb2 = {{0}};
    char *one[1] = {sql};
    if (li_migration_check_list(hub->r->db, one, 1, &m2, &eb2) == LI_OK) {
      li_migration_free(&m2);
      snprintf(why, sizeof why, "case %s: refused as a file, but accepted as a schema commit's statement", c->name);
    }
  }
  if (why[0] || got != LI_OK) {
    if (got == LI_OK) li_migration_free(&m);
    s_snap_free(&before);
    s_snap_free(&after);
    free(sql);
    if (why[0]) fail_msg("%s", why);
    return;
  }
  assert_int_equal(m.n, c->n);
  for (int i = 0; i < c->n && i < 3; i++) {
    if (!c->table[i]) break;
    assert_int_equal(m.kind[i], c->kind[i]);
    assert_string_equal(m.table[i], c->table[i]);
    if (c->stmt_name[i]) assert_string_equal(m.name[i], c->stmt_name[i]);
    else assert_null(m.name[i]);
  }
  if (c->stmt0) assert_string_equal(m.stmt[0], c->stmt0);
  for (int i = 0; i < m.n; i++) {
    assert_true(m.stmt[i][0] != 0);
    size_t l = strlen(m.stmt[i]);
    assert_true(m.stmt[i][l - 1] != ';' && strchr(" ;-/\n", m.stmt[i][0]) == NULL);
  }
  /* receivers check the same statements one by one, with the same result */
  li_migration m2;
  li_errbuf eb2 = {{0}};
  li_err got2 = li_migration_check_list(hub->r->db, m.stmt, (size_t)m.n, &m2, &eb2);
  if (got2) fail_msg("case %s: accepted as a file, refused as a schema commit: %s (%s)", c->name, li_errname(got2),
                     eb2.msg);
  assert_int_equal(m2.n, m.n);
  for (int i = 0; i < m.n; i++) {
    assert_string_equal(m2.stmt[i], m.stmt[i]);
    assert_int_equal(m2.kind[i], m.kind[i]);
    assert_string_equal(m2.table[i], m.table[i]);
  }
  li_migration_free(&m2);
  li_migration_free(&m);
  assert_int_equal(m.n, 0);
  s_snap_free(&after);
  s_snap_take(hub, &after); /* the receivers' check changed nothing either */
  s_snap_same(&before, &after, c->name);
  s_snap_free(&before);
  s_snap_free(&after);
  free(sql);
}

/* The control: the snapshot does see a migration applied. */
static void test_snapshot_sees_apply(void **state) {
  s_cfx *f = *state;
  s_snap before, after;
  s_snap_take(f->s.hub, &before);
  assert_int_equal(s_apply(f->s.hub, s_control_sql), 2);
  s_snap_take(f->s.hub, &after);
  assert_string_not_equal(before.master, after.master);
  assert_string_not_equal(before.meta, after.meta);
  assert_string_not_equal(before.migrations, after.migrations);
  assert_int_not_equal(before.cookie, after.cookie);
  assert_int_not_equal(before.version, after.version);
  assert_memory_not_equal(before.data, after.data, sizeof before.data);
  s_snap_free(&before);
  s_snap_free(&after);
}

/* ======================================================================
 * 2. li_schema_apply on the hub
 * ====================================================================== */

typedef tu_fx fx;

/* A hub, committees c07 and c08 admitted, a street notice; c07 and c08 hold
 * everything of the hub so far. */
static int fx_setup(void **state) {
  fx *f = tu_fx_new();
  tu_exec(f->hub, "INSERT INTO notices(id, scope, title) VALUES('n1', 'street', '防汛通知')");
  tu_seal(f->hub, li_wall_ms());
  tu_sync(f->hub, f->c07, li_wall_ms());
  tu_sync(f->hub, f->c08, li_wall_ms());
  *state = f;
  return 0;
}


static void test_hub_apply(void **state) {
  fx *f = *state;
  li_node *hub = f->hub;
  tu_exec(hub, "INSERT INTO hazards(id, scope, category, location, found_on) "
               "VALUES('h1', 'street', '燃气', '新华路3号', '2025-03-02')");
  uint64_t head0 = s_head(hub, hub->id.pk, "street");
  assert_int_equal(li_replica_schema_version(hub->r), 1);
  uint32_t v = s_apply(hub, s_control_sql);
  assert_int_equal(v, 2);
  assert_int_equal(li_replica_schema_version(hub->r), 2);
  assert_string_equal(tu_text(hub, "SELECT value FROM linli_meta WHERE key = 'schema_version'"), "2");
  assert_true(s_has_column(hub, "hazards", "photo_ref"));
  assert_string_equal(tu_text(hub, "SELECT photo_ref FROM hazards WHERE id = 'h1'"), "");
  /* the pending write sealed first, under version 1; then the schema commit */
  assert_int_equal(s_head(hub, hub->id.pk, "street"), head0 + 2);
  s_commit_carries(hub, "street", head0 + 1, 1, "hazards", "location", "新华路3号");
  li_blob b = s_commit(hub, hub->id.pk, "street", head0 + 2);
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  s_open(hub, b, &a, &c);
  assert_memory_equal(c.origin, hub->id.pk, LI_PK_BYTES);
  assert_string_equal(c.scope, "street");
  assert_int_equal(c.c->schema_version, 2);
  assert_non_null(c.c->migration);
  assert_int_equal(c.c->migration->version, 2);
  assert_int_equal(c.c->migration->n_statements, 1);
  assert_string_equal(c.c->migration->statements[0], s_control_sql);
  assert_int_equal(c.c->n_tables, 0);
  /* linli_migrations: the statements, and the commit's stamp and position */
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_migrations"), 1);
  char want[256];
  snprintf(want, sizeof want, "[\"%s\"]", s_control_sql);
  assert_string_equal(tu_text(hub, "SELECT statements FROM linli_migrations WHERE version = 2"), want);
  char q[200];
  snprintf(q, sizeof q, "SELECT hlc = %llu AND seq = %llu FROM linli_migrations WHERE version = 2",
           (unsigned long long)c.hlc, (unsigned long long)c.seq);
  assert_int_equal(tu_int(hub, q), 1);
  li_arena_free(&a);
  free((void *)b.sc);
  /* the triggers were rebuilt in the same transaction: a write of the new
   * column alone is captured, and the next seal carries it */
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_dirty"), 0);
  assert_true(strstr(tu_text(hub, "SELECT cols FROM linli_tables WHERE name = 'hazards'"), "photo_ref") != NULL);
  tu_exec(hub, "UPDATE hazards SET photo_ref = 'h1.jpg' WHERE id = 'h1'");
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_dirty"), 1);
  int64_t cid = tu_int(hub, "SELECT cid FROM pragma_table_info('hazards') WHERE name = 'photo_ref'");
  char mq[128];
  snprintf(mq, sizeof mq, "SELECT mask & (1 << %lld) != 0 FROM linli_dirty", (long long)cid);
  assert_int_equal(tu_int(hub, mq), 1);
  li_seal_stats st = tu_seal(hub, li_wall_ms());
  assert_int_equal(st.commits, 1);
  assert_int_equal(s_head(hub, hub->id.pk, "street"), head0 + 3);
  s_commit_carries(hub, "street", head0 + 3, 2, "hazards", "photo_ref", "h1.jpg");
  /* li_migration_each reads it back */
  assert_int_equal(tu_int(hub, "SELECT json_array_length(statements) FROM linli_migrations"), 1);
}

static void test_hub_apply_refused_changes_nothing(void **state) {
  fx *f = *state;
  li_node *hub = f->hub;
  tu_exec(hub, "INSERT INTO notices(id, scope, title) VALUES('n2', 'street', '待封存')"); /* pending */
  uint64_t head0 = s_head(hub, hub->id.pk, "street");
  static const char *const bad[] = {"DROP TABLE notices",
                                    "ALTER TABLE hazards ADD COLUMN photo_ref TEXT; DROP TABLE notices",
                                    "ALTER TABLE hazards ADD COLUMN level TEXT NOT NULL",
                                    "CREATE UNIQUE INDEX u ON hazards(location)",
                                    ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s_snap before, after;
    s_snap_take(hub, &before);
    uint32_t v = 77;
    li_errbuf eb = {{0}};
    li_err e = li_schema_apply(hub->r, bad[i], li_wall_ms(), &v, &eb);
    printf("refused apply %zu: %s: %s\n", i, li_errname(e), eb.msg);
    assert_int_equal(e, LI_ERR_MIGRATION);
    assert_true(eb.msg[0] != 0);
    assert_int_equal(v, 77);
    s_snap_take(hub, &after);
    s_snap_same(&before, &after, bad[i]);
    assert_int_equal(s_head(hub, hub->id.pk, "street"), head0); /* nothing sealed, not even the pending write */
    assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_dirty"), 1);
    s_snap_free(&before);
    s_snap_free(&after);
  }
  /* the pending write is sealed as before, under version 1 */
  tu_seal(hub, li_wall_ms());
  s_commit_carries(hub, "street", head0 + 1, 1, "notices", "title", "待封存");
}

/* The check passes (the scratch copy holds tracked tables only) but the
 * apply meets the hub's own table of that name: statement 1 was applied
 * and its capture rebuilt before statement 2 failed; all of it is undone,
 * the cached catalogue and version included. */
static void test_hub_apply_fails_late(void **state) {
  fx *f = *state;
  li_node *hub = f->hub;
  tu_exec(hub, "CREATE TABLE patrols(id TEXT, note TEXT); INSERT INTO patrols VALUES('p0', 'hub note')");
  uint64_t head0 = s_head(hub, hub->id.pk, "street");
  char sql[512];
  snprintf(sql, sizeof sql, "%s;\n%s;", s_control_sql, s_patrols_sql);
  s_snap before, after;
  s_snap_take(hub, &before);
  uint32_t v = 0;
  li_errbuf eb = {{0}};
  li_err e = li_schema_apply(hub->r, sql, li_wall_ms(), &v, &eb);
  printf("late refusal: %s: %s\n", li_errname(e), eb.msg);
  assert_int_equal(e, LI_ERR_MIGRATION);
  assert_non_null(strstr(eb.msg, "'patrols'"));
  assert_non_null(strstr(eb.msg, "ALTER TABLE patrols RENAME TO patrols_local"));
  s_snap_take(hub, &after);
  s_snap_same(&before, &after, "late refusal");
  assert_int_equal(s_head(hub, hub->id.pk, "street"), head0);
  /* a write to hazards now is sealed under version 1 without the column
   * statement 1 had added */
  tu_exec(hub, "INSERT INTO hazards(id, scope, category, location, found_on) "
               "VALUES('h2', 'street', '消防', '新华路5号', '2025-03-03')");
  tu_seal(hub, li_wall_ms());
  li_blob b = s_commit(hub, hub->id.pk, "street", head0 + 1);
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  s_open(hub, b, &a, &c);
  assert_int_equal(c.c->schema_version, 1);
  assert_int_equal(c.c->n_tables, 1);
  for (size_t k = 0; k < c.c->tables[0]->n_columns; k++) assert_string_not_equal(c.c->tables[0]->columns[k], "photo_ref");
  li_arena_free(&a);
  free((void *)b.sc);
  /* moved aside, the same migration applies */
  tu_exec(hub, "ALTER TABLE patrols RENAME TO patrols_local");
  assert_int_equal(s_apply(hub, sql), 2);
  assert_true(s_tracked(hub, "patrols"));
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM patrols_local"), 1);
  s_snap_free(&before);
  s_snap_free(&after);
}

static void test_committee_apply_is_role_error(void **state) {
  fx *f = *state;
  s_snap before, after;
  s_snap_take(f->c07, &before);
  uint32_t v = 0;
  li_errbuf eb = {{0}};
  li_err e = li_schema_apply(f->c07->r, s_control_sql, li_wall_ms(), &v, &eb);
  printf("committee: %s: %s\n", li_errname(e), eb.msg);
  assert_int_equal(e, LI_ERR_ROLE);
  assert_non_null(strstr(eb.msg, "hub"));
  s_snap_take(f->c07, &after);
  s_snap_same(&before, &after, "schema apply on a committee");
  s_snap_free(&before);
  s_snap_free(&after);
}

/* ======================================================================
 * 3. merge on a committee
 * ====================================================================== */

static void test_merge_schema_commit(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07;
  char sql[600];
  snprintf(sql, sizeof sql, "%s;\n%s;\nCREATE INDEX hazards_photo ON hazards(photo_ref);", s_control_sql,
           s_patrols_sql);
  assert_int_equal(s_apply(hub, sql), 2);
  li_merge_stats st = tu_sync(hub, c07, li_wall_ms());
  assert_int_equal(st.applied, 1);
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_string_equal(tu_text(c07, "SELECT value FROM linli_meta WHERE key = 'schema_version'"), "2");
  assert_true(s_has_column(c07, "hazards", "photo_ref"));
  assert_true(s_tracked(c07, "patrols"));
  assert_int_equal(tu_int(c07, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'hazards_photo'"), 1);
  /* the same schema and the same catalogue entry as the hub's */
  static const char q_schema[] = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND "
                                 "tbl_name IN ('hazards', 'patrols') ORDER BY 1, 2";
  static const char q_mig[] = "SELECT version, statements, hlc, seq FROM linli_migrations";
  char *hs = tu_dump(hub->r->db, q_schema), *cs = tu_dump(c07->r->db, q_schema);
  assert_string_equal(hs, cs);
  free(hs), free(cs);
  hs = tu_dump(hub->r->db, q_mig), cs = tu_dump(c07->r->db, q_mig);
  assert_string_equal(hs, cs);
  free(hs), free(cs);
  /* triggers rebuilt: local writes to the new column and table captured */
  tu_exec(c07, "INSERT INTO hazards(id, scope, category, location, found_on) "
               "VALUES('h7', 'c07', '电动自行车', '新华路7弄', '2025-03-04')");
  tu_seal(c07, li_wall_ms());
  tu_sync(c07, hub, li_wall_ms());
  tu_exec(c07, "UPDATE hazards SET photo_ref = 'c07.jpg' WHERE id = 'h7'");
  tu_exec(c07, "INSERT INTO patrols(id, scope, route) VALUES('p1', 'c07', '北线')");
  assert_int_equal(tu_int(c07, "SELECT count(*) FROM linli_dirty"), 2);
  tu_seal(c07, li_wall_ms());
  /* c07's commits carry version 2 and reach the hub whole */
  li_merge_stats hs_st = tu_sync(c07, hub, li_wall_ms());
  assert_int_equal(hs_st.applied, 1);
  assert_string_equal(tu_text(hub, "SELECT photo_ref FROM hazards WHERE id = 'h7' AND scope = 'c07'"), "c07.jpg");
  assert_string_equal(tu_text(hub, "SELECT route FROM patrols WHERE id = 'p1' AND scope = 'c07'"), "北线");
  uint8_t dh[LI_HASH_BYTES], dc[LI_HASH_BYTES];
  tu_tables_digest_scope(hub->r->db, "c07", dh);
  tu_tables_digest_scope(c07->r->db, "c07", dc);
  assert_memory_equal(dh, dc, sizeof dh);
}

/* The hub's row in scope c07 sealed after the migration: (hub, c07)#1 of
 * version 2. Returns it and the schema commit (both malloc'd). */
static void s_v2_pair(fx *f, li_blob *data, li_blob *schema) {
  li_node *hub = f->hub;
  assert_int_equal(s_apply(hub, s_control_sql), 2);
  uint64_t sseq = s_head(hub, hub->id.pk, "street");
  tu_exec(hub, "INSERT INTO hazards(id, scope, category, location, found_on, photo_ref) "
               "VALUES('h-assigned', 'c07', '九小场所', '新华路9号', '2025-03-05', 'street.jpg')");
  tu_seal(hub, li_wall_ms());
  assert_int_equal(s_head(hub, hub->id.pk, "c07"), 1);
  *data = s_commit(hub, hub->id.pk, "c07", 1);
  *schema = s_commit(hub, hub->id.pk, "street", sseq);
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  s_open(hub, *data, &a, &c);
  assert_int_equal(c.c->schema_version, 2);
  li_arena_reset(&a);
  s_open(hub, *schema, &a, &c);
  assert_non_null(c.c->migration);
  li_arena_free(&a);
}

static void test_merge_held_then_applied_same_batch(void **state) {
  fx *f = *state;
  li_node *c07 = f->c07;
  li_blob v[2];
  s_v2_pair(f, &v[0], &v[1]); /* the version-2 commit first, the migration after it */
  int64_t rejects0 = s_rejects_counted(c07);
  li_merge_rejects rej = {0};
  li_merge_stats st;
  li_errbuf eb;
  li_err e = s_merge_chains(c07, v, 2, &rej, &st, &eb);
  printf("same batch: %s applied %d rejected %d reject %s (%s)\n", li_errname(e), st.applied, st.rejected,
         li_errname(st.reject), eb.msg);
  assert_int_equal(e, LI_OK);
  assert_int_equal(st.applied, 2);
  assert_int_equal(st.rejected, 0);
  assert_int_equal(st.skipped, 0);
  assert_int_equal(st.reject, LI_OK);
  assert_int_equal(st.rejected_at, -1);
  assert_int_equal(rej.n, 0);
  assert_int_equal(s_rejects_counted(c07), rejects0); /* a hold is not a rejection */
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_string_equal(tu_text(c07, "SELECT photo_ref FROM hazards WHERE id = 'h-assigned' AND scope = 'c07'"),
                      "street.jpg");
  assert_int_equal(s_head(c07, f->hub->id.pk, "c07"), 1);
  li_merge_rejects_clear(&rej);
  s_blobs_free(v, 2);
}

static void test_merge_held_until_migration_arrives(void **state) {
  fx *f = *state;
  li_node *c07 = f->c07;
  li_blob data, schema;
  s_v2_pair(f, &data, &schema);
  int64_t rejects0 = s_rejects_counted(c07);
  s_snap before, after;
  s_snap_take(c07, &before);
  /* alone: held, again and again, changing nothing */
  for (int round = 0; round < 2; round++) {
    li_merge_rejects rej = {0};
    li_merge_stats st;
    li_errbuf eb;
    assert_int_equal(s_merge_chains(c07, &data, 1, &rej, &st, &eb), LI_OK);
    printf("held: %s (%s)\n", li_errname(st.reject), eb.msg);
    assert_int_equal(st.applied, 0);
    assert_int_equal(st.reject, LI_ERR_SCHEMA_AHEAD);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(rej.n, 1);
    assert_int_equal(rej.v[0].code, LI_ERR_SCHEMA_AHEAD);
    assert_string_equal(rej.v[0].scope, "c07");
    assert_int_equal(rej.v[0].seq, 1);
    assert_non_null(strstr(rej.v[0].message, "schema version 2"));
    li_merge_rejects_clear(&rej);
  }
  assert_int_equal(s_rejects_counted(c07), rejects0);
  s_snap_take(c07, &after);
  s_snap_same(&before, &after, "a held commit");
  assert_int_equal(tu_int(c07, "SELECT count(*) FROM hazards WHERE id = 'h-assigned'"), 0);
  /* the migration arrives alone, then the held commit applies */
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_merge_chains(c07, &schema, 1, NULL, &st, &eb), LI_OK);
  assert_int_equal(st.applied, 1);
  assert_int_equal(st.reject, LI_OK);
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_int_equal(s_merge_chains(c07, &data, 1, NULL, &st, &eb), LI_OK);
  assert_int_equal(st.applied, 1);
  assert_int_equal(st.reject, LI_OK);
  assert_string_equal(tu_text(c07, "SELECT photo_ref FROM hazards WHERE id = 'h-assigned'"), "street.jpg");
  s_snap_free(&before);
  s_snap_free(&after);
  free((void *)data.sc);
  free((void *)schema.sc);
}

/* A batch with a held commit, a commit refused for good (c08 writing scope
 * c07) and the migration: the held chain is let go and applied, the
 * refusal stays, in the list and in the stats. */
static void test_regr_release_keeps_other_refusals(void **state) {
  fx *f = *state;
  li_node *c07 = f->c07;
  li_blob v[3];
  s_v2_pair(f, &v[0], &v[2]);
  const char *cols[] = {"resident_ref", "visited_on"};
  Linli__Value va, vb;
  Linli__Value *vals[] = {tu_v_text(&va, "R-8"), tu_v_text(&vb, "2025-03-11")};
  tu_spec sp = {.signer = &f->c08->id, .network = f->hub->r->network, .scope = "c07", .seq = 1,
                .hlc = LI_HLC_MAKE(li_wall_ms(), 0), .nrows = 1,
                .rows = {{.table = "care_visits", .id = "v8", .ncols = 2, .cols = cols, .vals = vals}}};
  size_t len;
  uint8_t h[LI_HASH_BYTES];
  v[1].sc = s_sign(&sp, 1, NULL, &len, h), v[1].len = len;
  int64_t rejects0 = s_rejects_counted(c07);
  li_merge_rejects rej = {0};
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_merge_chains(c07, v, 3, &rej, &st, &eb), LI_OK);
  printf("held + refused + migration: applied %d rejected %d reject %s at %d (%s)\n", st.applied, st.rejected,
         li_errname(st.reject), st.rejected_at, eb.msg);
  assert_int_equal(st.applied, 2);
  assert_string_equal(tu_text(c07, "SELECT photo_ref FROM hazards WHERE id = 'h-assigned'"), "street.jpg");
  assert_int_equal(rej.n, 1);
  assert_memory_equal(rej.v[0].origin, f->c08->id.pk, LI_PK_BYTES);
  assert_int_equal(rej.v[0].code, LI_ERR_SCOPE);
  assert_int_equal(s_rejects_counted(c07), rejects0 + 1);
  assert_int_equal(st.rejected, 1);
  li_merge_rejects_clear(&rej);
  s_blobs_free(v, 3);
  /* Regression (node/merge.c s_release_held): letting the held chain go resets
   * st->reject and st->rejected_at whenever the first rejection was the
   * hold, forgetting the refusal that came after it (bundle import reports
   * the first refusal from these) */
  if (st.reject != LI_ERR_SCOPE || st.rejected_at != 1)
    fail_msg("the stats forgot the refusal of commit 1: reject %s, rejected_at %d (expected scope at 1)",
             li_errname(st.reject), st.rejected_at);
}

/* A Migration outside the hub's street chain is refused (LI_ERR_MIGRATION)
 * and stops its own chain only: on the hub from committee c07 (its own
 * scope), on c07 from the hub in scope c07. */
static void test_merge_migration_from_wrong_chain(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07, *c08 = f->c08;
  char *stmts[] = {(char *)s_control_sql};
  Linli__Migration mig = LINLI__MIGRATION__INIT;
  mig.version = 2;
  mig.n_statements = 1;
  mig.statements = stmts;
  uint64_t t = li_wall_ms();

  /* on the hub: c07#1 carries a migration, c07#2 follows it; c08#1 is fine */
  tu_exec(c08, "INSERT INTO disputes(id, scope, parties_ref, opened_on) VALUES('d1', 'c08', 'P-1', '2025-03-06')");
  tu_seal(c08, t);
  li_blob v[3];
  uint8_t h1[LI_HASH_BYTES], h2[LI_HASH_BYTES];
  tu_spec sp = {.signer = &c07->id, .network = hub->r->network, .scope = "c07", .seq = 1, .hlc = LI_HLC_MAKE(t, 1)};
  size_t len;
  v[0].sc = s_sign(&sp, 2, &mig, &len, h1), v[0].len = len;
  const char *cols[] = {"resident_ref", "visited_on"};
  Linli__Value va, vb;
  Linli__Value *vals[] = {tu_v_text(&va, "R-9"), tu_v_text(&vb, "2025-03-07")};
  tu_spec sp2 = {.signer = &c07->id, .network = hub->r->network, .scope = "c07", .seq = 2, .prev = h1,
                 .hlc = LI_HLC_MAKE(t, 2), .nrows = 1,
                 .rows = {{.table = "care_visits", .id = "v9", .ncols = 2, .cols = cols, .vals = vals}}};
  v[1].sc = s_sign(&sp2, 1, NULL, &len, h2), v[1].len = len;
  v[2] = s_commit(c08, c08->id.pk, "c08", 1);
  int64_t rejects0 = s_rejects_counted(hub);
  li_merge_rejects rej = {0};
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_merge_chains(hub, v, 3, &rej, &st, &eb), LI_OK);
  printf("committee migration: %s (%s)\n", li_errname(st.reject), eb.msg);
  assert_int_equal(st.reject, LI_ERR_MIGRATION);
  assert_int_equal(st.rejected_at, 0);
  assert_non_null(strstr(eb.msg, "only the hub's street chain"));
  assert_int_equal(st.applied, 1); /* c08#1 */
  assert_int_equal(st.skipped, 1); /* c07#2 */
  assert_int_equal(rej.n, 1);
  assert_memory_equal(rej.v[0].origin, c07->id.pk, LI_PK_BYTES);
  assert_string_equal(rej.v[0].scope, "c07");
  assert_int_equal(rej.v[0].seq, 1);
  assert_int_equal(rej.v[0].code, LI_ERR_MIGRATION);
  assert_int_equal(s_rejects_counted(hub), rejects0 + 1);
  assert_int_equal(li_replica_schema_version(hub->r), 1);
  assert_false(s_has_column(hub, "hazards", "photo_ref"));
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_migrations"), 0);
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM disputes WHERE id = 'd1'"), 1);
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM care_visits WHERE id = 'v9'"), 0);
  assert_int_equal(s_head(hub, c07->id.pk, "c07"), 0);
  li_merge_rejects_clear(&rej);
  s_blobs_free(v, 3);

  /* on c07: the hub's key, but scope c07; the hub's street chain goes on */
  tu_exec(hub, "INSERT INTO notices(id, scope, title) VALUES('n3', 'street', '第三号')");
  tu_seal(hub, li_wall_ms());
  uint64_t sh = s_head(hub, hub->id.pk, "street");
  tu_spec sp3 = {.signer = &hub->id, .network = hub->r->network, .scope = "c07", .seq = 1, .hlc = LI_HLC_MAKE(t, 3)};
  v[0].sc = s_sign(&sp3, 2, &mig, &len, h1), v[0].len = len;
  v[1] = s_commit(hub, hub->id.pk, "street", sh);
  rejects0 = s_rejects_counted(c07);
  assert_int_equal(s_merge_chains(c07, v, 2, &rej, &st, &eb), LI_OK);
  printf("hub migration in scope c07: %s (%s)\n", li_errname(st.reject), eb.msg);
  assert_int_equal(st.reject, LI_ERR_MIGRATION);
  assert_int_equal(st.applied, 1);
  assert_int_equal(rej.n, 1);
  assert_memory_equal(rej.v[0].origin, hub->id.pk, LI_PK_BYTES);
  assert_string_equal(rej.v[0].scope, "c07");
  assert_int_equal(s_rejects_counted(c07), rejects0 + 1);
  assert_int_equal(li_replica_schema_version(c07->r), 1);
  assert_false(s_has_column(c07, "hazards", "photo_ref"));
  assert_int_equal(tu_int(c07, "SELECT count(*) FROM notices WHERE id = 'n3'"), 1);
  li_merge_rejects_clear(&rej);
  s_blobs_free(v, 2);
}

/* c07 writes under version 1 while the hub adds a column with DEFAULT 'x':
 * the hub gives c07's row 'x', c07 gets 'x' from its own ALTER, and the
 * replicas agree. */
static void test_merge_old_commit_takes_default(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07;
  tu_exec(c07, "INSERT INTO hazards(id, scope, category, location, found_on) "
               "VALUES('h-old', 'c07', '老旧小区', '新华路1弄', '2025-03-08')");
  tu_seal(c07, li_wall_ms());
  assert_int_equal(s_apply(hub, "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT 'x'"), 2);
  /* the hub at version 2 takes c07's version-1 commit */
  li_blob b = s_commit(c07, c07->id.pk, "c07", 1);
  li_merge_rejects rej = {0};
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_merge_chains(hub, &b, 1, &rej, &st, &eb), LI_OK);
  assert_int_equal(st.applied, 1);
  assert_int_equal(st.refused, 0);
  assert_int_equal(st.reject, LI_OK);
  assert_string_equal(tu_text(hub, "SELECT photo_ref FROM hazards WHERE id = 'h-old' AND scope = 'c07'"), "x");
  li_merge_rejects_clear(&rej);
  free((void *)b.sc);
  /* c07 migrates: the same value, the same tables */
  tu_sync(hub, c07, li_wall_ms());
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_string_equal(tu_text(c07, "SELECT photo_ref FROM hazards WHERE id = 'h-old'"), "x");
  uint8_t dh[LI_HASH_BYTES], dc[LI_HASH_BYTES];
  tu_tables_digest_scope(hub->r->db, "c07", dh);
  tu_tables_digest_scope(c07->r->db, "c07", dc);
  assert_memory_equal(dh, dc, sizeof dh);
  /* and a later edit of the new column on either side converges */
  tu_exec(c07, "UPDATE hazards SET photo_ref = 'after.jpg' WHERE id = 'h-old'");
  tu_seal(c07, li_wall_ms());
  tu_sync(c07, hub, li_wall_ms());
  assert_string_equal(tu_text(hub, "SELECT photo_ref FROM hazards WHERE id = 'h-old'"), "after.jpg");
  tu_tables_digest_scope(hub->r->db, "c07", dh);
  tu_tables_digest_scope(c07->r->db, "c07", dc);
  assert_memory_equal(dh, dc, sizeof dh);
}

/* An all-or-nothing batch that applies the hub's migration and then meets a
 * gap (the hub's commit #2 of scope c07, whose #1 never came) is rolled
 * back whole. v[0] is the schema commit (the caller frees v[0..1]). */
static li_err s_rolled_back_batch(fx *f, li_blob v[2], li_merge_stats *st, li_errbuf *eb) {
  li_node *hub = f->hub;
  assert_int_equal(s_apply(hub, s_control_sql), 2);
  v[0] = s_commit(hub, hub->id.pk, "street", s_head(hub, hub->id.pk, "street"));
  uint8_t h[LI_HASH_BYTES];
  memset(h, 7, sizeof h);
  const char *cols[] = {"title"};
  Linli__Value va;
  Linli__Value *vals[] = {tu_v_text(&va, "t")};
  tu_spec sp = {.signer = &hub->id, .network = hub->r->network, .scope = "c07", .seq = 2, .prev = h,
                .hlc = LI_HLC_MAKE(li_wall_ms(), 0), .nrows = 1,
                .rows = {{.table = "notices", .id = "gap", .ncols = 1, .cols = cols, .vals = vals}}};
  size_t len;
  v[1].sc = s_sign(&sp, 2, NULL, &len, h), v[1].len = len;
  return tu_merge(f->c07, v, 2, LI_MERGE_ALL_OR_NOTHING, li_wall_ms(), st, eb);
}

static void test_merge_rolled_back_migration(void **state) {
  fx *f = *state;
  li_node *c07 = f->c07;
  s_snap before, after;
  s_snap_take(c07, &before);
  li_blob v[2];
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_rolled_back_batch(f, v, &st, &eb), LI_ERR_GAP);
  assert_int_equal(st.rejected_at, 1);
  s_snap_take(c07, &after);
  s_snap_same_file(&before, &after, "a rolled-back batch with a migration");
  /* the catalogue is read again before it is used: a local write is
   * captured for the columns the file has, and sealed under version 1 */
  tu_exec(c07, "INSERT INTO hazards(id, scope, category, location, found_on) "
               "VALUES('h-rb', 'c07', '消防', '新华路4号', '2025-03-10')");
  li_seal_stats ss = tu_seal(c07, li_wall_ms());
  assert_int_equal(ss.commits, 1);
  assert_int_equal(ss.held_rows, 0);
  assert_int_equal(li_replica_schema_version(c07->r), 1);
  /* and the migration applies afterwards, alone */
  assert_int_equal(tu_merge(c07, v, 1, LI_MERGE_ALL_OR_NOTHING, li_wall_ms(), &st, &eb), LI_OK);
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_true(s_has_column(c07, "hazards", "photo_ref"));
  s_snap_free(&before);
  s_snap_free(&after);
  s_blobs_free(v, 2);
}

/* Regression (minor, node/replica.c li_replica_rollback): the rollback marks the
 * catalogue stale but leaves r->schema_version at the rolled-back
 * migration's version, and li_replica_schema_version() returns it until
 * the next seal or merge reads the catalogue again. The driver tells peers
 * that number (li_session_set_schema every tick), so a committee whose
 * batch was rolled back announces a version it does not have. */
static void test_regr_cached_version_after_rollback(void **state) {
  fx *f = *state;
  li_blob v[2];
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_rolled_back_batch(f, v, &st, &eb), LI_ERR_GAP);
  assert_string_equal(tu_text(f->c07, "SELECT value FROM linli_meta WHERE key = 'schema_version'"), "1");
  uint32_t cached = li_replica_schema_version(f->c07->r);
  s_blobs_free(v, 2);
  if (cached != 1) fail_msg("after the rollback the replica is at version 1, but li_replica_schema_version says %u", cached);
}

/* ======================================================================
 * 4. a committee's own table with a new table's name
 * ====================================================================== */

static void test_merge_local_table_in_the_way(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07;
  tu_exec(c07, "CREATE TABLE patrols(id TEXT, note TEXT); INSERT INTO patrols VALUES('mine', '本会自用')");
  assert_int_equal(s_apply(hub, s_patrols_sql), 2);
  tu_blobs b = tu_log(hub, "c07");
  s_snap before, after;
  s_snap_take(c07, &before);
  char *local = tu_dump(c07->r->db, "SELECT * FROM patrols");
  /* chain by chain: the street chain stops at the migration, named */
  li_merge_rejects rej = {0};
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(s_merge_chains(c07, b.v, b.n, &rej, &st, &eb), LI_OK);
  printf("local table: %s (%s)\n", li_errname(st.reject), eb.msg);
  assert_int_equal(st.reject, LI_ERR_MIGRATION);
  assert_non_null(strstr(eb.msg, "'patrols'"));
  assert_non_null(strstr(eb.msg, "ALTER TABLE patrols RENAME TO patrols_local"));
  assert_int_equal(rej.n, 1);
  assert_string_equal(rej.v[0].scope, "street");
  assert_int_equal(rej.v[0].code, LI_ERR_MIGRATION);
  li_merge_rejects_clear(&rej);
  s_snap_take(c07, &after);
  s_snap_same(&before, &after, "a migration refused for a local table");
  char *local2 = tu_dump(c07->r->db, "SELECT * FROM patrols");
  assert_string_equal(local, local2);
  free(local2);
  assert_false(s_tracked(c07, "patrols"));
  /* all or nothing: the same error, the same words */
  li_err e = tu_merge(c07, b.v, b.n, LI_MERGE_ALL_OR_NOTHING, li_wall_ms(), &st, &eb);
  assert_int_equal(e, LI_ERR_MIGRATION);
  assert_non_null(strstr(eb.msg, "RENAME TO patrols_local"));
  /* moved aside as the message says, merging again succeeds */
  tu_exec(c07, "ALTER TABLE patrols RENAME TO patrols_local");
  assert_int_equal(s_merge_chains(c07, b.v, b.n, NULL, &st, &eb), LI_OK);
  assert_int_equal(st.reject, LI_OK);
  assert_int_equal(st.applied, 1);
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_true(s_tracked(c07, "patrols"));
  char *moved = tu_dump(c07->r->db, "SELECT * FROM patrols_local");
  assert_string_equal(local, moved);
  free(moved);
  assert_false(s_tracked(c07, "patrols_local"));
  /* the new table is captured */
  tu_exec(c07, "INSERT INTO patrols(id, scope, route) VALUES('p1', 'c07', '南线')");
  assert_int_equal(tu_int(c07, "SELECT count(*) FROM linli_dirty"), 1);
  free(local);
  tu_blobs_free(&b);
  s_snap_free(&before);
  s_snap_free(&after);
}

/* In a child process (tu_aborts): c07 opened on its own connection merges
 * the blobs chain by chain; exits 3 when the merge is refused. */
typedef struct {
  char dir[300];
  const tu_blobs *b;
} s_child_merge;

static void s_merge_in_child(void *arg) {
  const s_child_merge *cm = arg;
  li_node n;
  li_errbuf eb;
  if (li_node_open(&n, cm->dir, &eb) != LI_OK) _exit(2);
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_PER_CHAIN,
                     .seal_first = true};
  li_merge_stats st;
  li_err e = li_merge_batch(n.r, cm->b->v, cm->b->n, &o, &st, &eb);
  if (e || st.reject) _exit(3);
  li_node_close(&n);
}

/* A local table of exactly the migration's definition is tracked as it is
 * (migrate.h): kept, not created again, its rows published by the next
 * seal.
 *
 * Regression (node/merge.c with node/migrate.c): li_migration_apply tracks the
 * existing table with li_capture_track, which gives every row already in
 * it an insert marker in linli_dirty (capture.h invariant 6) inside the
 * merge's transaction, so merge's invariant 3 (linli_dirty holds only the
 * markers seal kept while commits are applied) fails and s_batch_close's
 * assert(s_check_applying(m)) aborts the process: every sync of such a
 * committee ends in SIGABRT. The merge runs in a child process here so
 * the abort fails this test alone. */
static void test_regr_local_table_same_definition(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07;
  tu_exec(c07, s_patrols_sql);
  tu_exec(c07, "INSERT INTO patrols(id, scope, route) VALUES('early', 'c07', '东线')");
  tu_seal(c07, li_wall_ms()); /* nothing of patrols: it is not tracked yet */
  assert_int_equal(s_apply(hub, s_patrols_sql), 2);
  tu_blobs b = tu_log(hub, "c07");
  s_child_merge cm = {.b = &b};
  snprintf(cm.dir, sizeof cm.dir, "%s/c07", f->s.dir);
  bool aborted = tu_aborts(s_merge_in_child, &cm);
  tu_blobs_free(&b);
  if (aborted)
    fail_msg("merging the migration into a committee with a local table of the same definition aborted "
             "(node/merge.c s_batch_close: assert(s_check_applying(m)))");
  assert_string_equal(tu_text(c07, "SELECT value FROM linli_meta WHERE key = 'schema_version'"), "2");
  assert_string_equal(tu_text(c07, "SELECT route FROM patrols WHERE id = 'early'"), "东线");
  assert_int_equal(tu_int(c07, "SELECT count(*) FROM linli_tables WHERE name = 'patrols'"), 1);
  tu_seal(c07, li_wall_ms());
  assert_true(s_tracked(c07, "patrols"));
  tu_sync(c07, hub, li_wall_ms());
  assert_string_equal(tu_text(hub, "SELECT route FROM patrols WHERE id = 'early' AND scope = 'c07'"), "东线");
}

/* `track` on the hub of a table it made by hand is a migration of the
 * table's own CREATE TABLE: kept with its rows, published by the next
 * seal; a committee creates it and receives the rows. */
static void test_hub_track_existing_table(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07;
  tu_exec(hub, "CREATE TABLE IF NOT EXISTS patrols(id TEXT NOT NULL, scope TEXT NOT NULL, route TEXT,"
               " PRIMARY KEY(id, scope))");
  tu_exec(hub, "INSERT INTO patrols VALUES('s1', 'street', '全街'), ('a7', 'c07', '七弄')");
  uint32_t v = 0;
  li_errbuf eb = {{0}};
  li_err e = li_schema_track(hub->r, "patrols", li_wall_ms(), &v, &eb);
  if (e) fail_msg("track: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(v, 2);
  assert_true(s_tracked(hub, "patrols"));
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM patrols"), 2);
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_dirty"), 2);
  assert_int_equal(li_schema_track(hub->r, "patrols", li_wall_ms(), &v, &eb), LI_ERR_EXISTS);
  assert_int_equal(li_schema_track(hub->r, "no_such", li_wall_ms(), &v, &eb), LI_ERR_NOT_FOUND);
  tu_seal(hub, li_wall_ms());
  tu_sync(hub, c07, li_wall_ms());
  assert_int_equal(li_replica_schema_version(c07->r), 2);
  assert_true(s_tracked(c07, "patrols"));
  assert_string_equal(tu_text(c07, "SELECT group_concat(id || ':' || route, ',') FROM "
                                   "(SELECT id, route FROM patrols ORDER BY id)"),
                      "a7:七弄,s1:全街");
  uint8_t dh[LI_HASH_BYTES], dc[LI_HASH_BYTES];
  tu_tables_digest_scope(hub->r->db, "c07", dh);
  tu_tables_digest_scope(c07->r->db, "c07", dc);
  assert_memory_equal(dh, dc, sizeof dh);
}

/* Regression (node/migrate.c, s_compare): "NOT NULL DEFAULT NULL" passes the
 * checker (the scratch copy has no rows, and pragma_table_xinfo reports the
 * default as the text 'NULL', not as none). A hub whose hazards table is
 * empty applies and seals it; a committee holding hazards rows the hub has
 * not seen yet cannot: SQLite refuses the ALTER ("Cannot add a NOT NULL
 * column with default value NULL"), so the hub's street chain stops at the
 * schema commit on that committee for good. The checker should refuse it
 * like a NOT NULL column without DEFAULT. */
static void test_regr_not_null_default_null(void **state) {
  fx *f = *state;
  li_node *hub = f->hub, *c07 = f->c07;
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM hazards"), 0);
  tu_exec(c07, "INSERT INTO hazards(id, scope, category, location, found_on) "
               "VALUES('offline', 'c07', '其他', '新华路2号', '2025-03-09')");
  uint32_t v = 0;
  li_errbuf eb = {{0}};
  li_err e = li_schema_apply(hub->r, "ALTER TABLE hazards ADD COLUMN level TEXT NOT NULL DEFAULT NULL", li_wall_ms(),
                             &v, &eb);
  if (e == LI_OK) {
    tu_blobs b = tu_log(hub, "c07");
    li_merge_stats st;
    li_errbuf meb;
    assert_int_equal(s_merge_chains(c07, b.v, b.n, NULL, &st, &meb), LI_OK);
    tu_blobs_free(&b);
    fail_msg("the hub applied a NOT NULL DEFAULT NULL column (version %u); committee c07, holding a hazards row, "
             "then gets: %s (%s)",
             v, li_errname(st.reject), meb.msg);
  }
  assert_int_equal(e, LI_ERR_MIGRATION);
  assert_non_null(strstr(eb.msg, "NOT NULL"));
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  enum { N = sizeof s_ccases / sizeof s_ccases[0] };
  static const s_ccase control = {"snapshot_sees_apply", s_control_sql, NULL, LI_OK, NULL, 0, {0}, {0}, {0}, NULL, false};
  struct CMUnitTest checker[N + 1];
  for (size_t i = 0; i < N; i++)
    checker[i] = (struct CMUnitTest){.name = s_ccases[i].name,
                                     .test_func = s_check_case,
                                     .setup_func = s_cfx_setup,
                                     .teardown_func = tu_fx_teardown,
                                     .initial_state = (void *)&s_ccases[i]};
  checker[N] = (struct CMUnitTest){.name = control.name,
                                   .test_func = test_snapshot_sees_apply,
                                   .setup_func = s_cfx_setup,
                                   .teardown_func = tu_fx_teardown,
                                   .initial_state = (void *)&control};
  const struct CMUnitTest flows[] = {
      cmocka_unit_test_setup_teardown(test_hub_apply, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_hub_apply_refused_changes_nothing, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_hub_apply_fails_late, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_committee_apply_is_role_error, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_schema_commit, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_held_then_applied_same_batch, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_held_until_migration_arrives, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_regr_release_keeps_other_refusals, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_migration_from_wrong_chain, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_old_commit_takes_default, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_rolled_back_migration, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_local_table_in_the_way, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_hub_track_existing_table, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_regr_local_table_same_definition, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_regr_not_null_default_null, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_regr_cached_version_after_rollback, fx_setup, tu_fx_teardown),
  };
  int failed = cmocka_run_group_tests_name("migration checker (table)", checker, NULL, NULL);
  failed += cmocka_run_group_tests_name("migrations: hub apply and merge", flows, NULL, NULL);
  return failed;
}

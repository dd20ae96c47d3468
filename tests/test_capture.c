/* capture: which tables can be tracked, what the triggers record, what
 * they refuse (capture.h, invariants 1-6). Table-driven like
 * test_hostile_table.c: a refused write must leave the table and
 * linli_dirty exactly as they were (before/after snapshots), and a control
 * write shows the snapshot sees a change. */
#include "testnode.h"

#include "capture.h"
#include "replica.h"

typedef struct {
  char dir[256];
  li_replica *r;
} fx;

static const char s_schema[] = "CREATE TABLE notes(id TEXT PRIMARY KEY, scope TEXT NOT NULL, body TEXT, n INT);"
                               "CREATE TABLE pairs(a TEXT, b INT, scope TEXT, v TEXT, PRIMARY KEY(a, b));";

static int s_setup(void **state, li_role role, const char *scope) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  f->r = tu_replica_new(f->dir, role, scope, s_schema);
  *state = f;
  return 0;
}
static int fx_committee(void **state) { return s_setup(state, LI_ROLE_COMMITTEE, "c07"); }
static int fx_hub(void **state) { return s_setup(state, LI_ROLE_HUB, "street"); }

static int fx_teardown(void **state) {
  fx *f = *state;
  li_replica_close(&f->r);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static int64_t s_triggers(fx *f, int id) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name GLOB 'linli_%d_*'", id);
  return tu_db_int(li_replica_db(f->r), sql);
}

/* ---- tracking rules (invariants 1, 4, 5) ---- */

static void test_tracking_rules(void **state) {
  fx *f = *state;
  char many[4096] = "CREATE TABLE many(id TEXT PRIMARY KEY, scope TEXT";
  for (int i = 0; i < LI_TABLE_COLS_MAX; i++) snprintf(many + strlen(many), sizeof many - strlen(many), ", c%d", i);
  strcat(many, ")");
  const struct {
    const char *table, *ddl;
    li_err want;
    const char *msg_has;
  } cases[] = {
      {"text_key", "CREATE TABLE text_key(id TEXT PRIMARY KEY, scope TEXT)", LI_OK, NULL},
      {"int_key", "CREATE TABLE int_key(id INT PRIMARY KEY, scope TEXT)", LI_OK, NULL}, /* INT is not the rowid */
      {"composite", "CREATE TABLE composite(a TEXT, b INTEGER, scope TEXT, PRIMARY KEY(a, b))", LI_OK, NULL},
      {"no_key", "CREATE TABLE no_key(id TEXT, scope TEXT)", LI_ERR_TRACK, "no PRIMARY KEY"},
      {"rowid", "CREATE TABLE rowid(id INTEGER PRIMARY KEY, scope TEXT)", LI_ERR_TRACK, "INTEGER PRIMARY KEY"},
      {"no_scope", "CREATE TABLE no_scope(id TEXT PRIMARY KEY)", LI_ERR_TRACK, "no TEXT column 'scope'"},
      {"int_scope", "CREATE TABLE int_scope(id TEXT PRIMARY KEY, scope INT)", LI_ERR_TRACK, "declared TEXT"},
      {"scope_key", "CREATE TABLE scope_key(id TEXT, scope TEXT, PRIMARY KEY(id, scope))", LI_ERR_TRACK,
       "part of the primary key"},
      {"blob_key", "CREATE TABLE blob_key(a TEXT, b BLOB, scope TEXT, PRIMARY KEY(a, b))", LI_ERR_TRACK, "BLOB"},
      {"many", many, LI_ERR_TRACK, "LI_TABLE_COLS_MAX"},
      {"linli_mine", NULL, LI_ERR_TRACK, "internal"},
      {"nowhere", NULL, LI_ERR_NOT_FOUND, "no table"},
      {"notes", NULL, LI_ERR_EXISTS, "already tracked"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (cases[i].ddl) tu_db_exec(li_replica_db(f->r), cases[i].ddl);
    int n0 = li_capture_count(f->r);
    int64_t rows0 = tu_db_int(li_replica_db(f->r), "SELECT count(*) FROM linli_tables");
    int64_t trig0 = tu_db_int(li_replica_db(f->r), "SELECT count(*) FROM sqlite_master WHERE type='trigger'");
    li_errbuf eb = {{0}};
    li_err e = li_capture_track(f->r, cases[i].table, &eb);
    print_message("case %s: %s: %s\n", cases[i].table, li_errname(e), e ? eb.msg : "");
    assert_int_equal(e, cases[i].want);
    if (e) {
      assert_non_null(strstr(eb.msg, cases[i].msg_has));
      assert_int_equal(li_capture_count(f->r), n0); /* nothing left behind */
      assert_int_equal(tu_db_int(li_replica_db(f->r), "SELECT count(*) FROM linli_tables"), rows0);
      assert_int_equal(tu_db_int(li_replica_db(f->r), "SELECT count(*) FROM sqlite_master WHERE type='trigger'"), trig0);
      continue;
    }
    li_table *t = li_capture_table(f->r, cases[i].table);
    assert_non_null(t);
    assert_ptr_equal(li_capture_table_by_id(f->r, t->id), t);
    assert_ptr_equal(li_capture_table_at(f->r, n0), t);
    assert_int_equal(s_triggers(f, t->id), 5); /* invariant 1 */
    assert_true(t->scope_col >= 0);
  }
}

/* A tracked table that can no longer be tracked (dropped) fails open. */
static void test_open_checks_the_catalogue(void **state) {
  fx *f = *state;
  char path[300];
  snprintf(path, sizeof path, "%s/replica.db", f->dir);
  tu_db_exec(li_replica_db(f->r), "DROP TABLE pairs");
  li_replica_close(&f->r);
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_open(path, &f->r, &eb), LI_ERR_NOT_FOUND);
  assert_null(f->r);
}

/* ---- existing rows become dirty (invariant 6) ---- */

static void test_existing_rows_become_dirty(void **state) {
  fx *f = *state;
  tu_db_exec(li_replica_db(f->r), "CREATE TABLE later(a TEXT, b INT, scope TEXT, v TEXT, PRIMARY KEY(a, b));"
                    "INSERT INTO later VALUES('x', 1, 'c07', 'one'), ('y', 2, 'c07', NULL);");
  assert_int_equal(li_replica_dirty_count(f->r), 0);
  li_errbuf eb = {{0}};
  assert_int_equal(li_capture_track(f->r, "later", &eb), LI_OK);
  char *got = tu_dump(li_replica_db(f->r), "SELECT scope, pk, op, mask FROM linli_dirty ORDER BY pk");
  assert_string_equal(got, "'c07'|'[\"x\",1]'|1|15\n'c07'|'[\"y\",2]'|1|15\n");
  free(got);
}

/* ---- what the triggers record (invariant 2) ---- */

static void test_triggers_record(void **state) {
  fx *f = *state;
  const struct {
    const char *name, *sql, *dirty; /* dirty: the markers after sql, "tbl|scope|pk|op|mask" */
  } cases[] = {
      {"insert", "INSERT INTO notes VALUES('k1', 'c07', 'hi', 1)", "2|'c07'|'k1'|1|15\n"},
      {"update one column", "UPDATE notes SET n = 2 WHERE id = 'k0'", "2|'c07'|'k0'|2|8\n"},
      {"update nothing", "UPDATE notes SET n = n WHERE id = 'k0'", "2|'c07'|'k0'|2|0\n"},
      {"update the key", "UPDATE notes SET id = 'k9' WHERE id = 'k0'", "2|'c07'|'k0'|3|0\n2|'c07'|'k9'|1|15\n"},
      {"delete", "DELETE FROM notes WHERE id = 'k0'", "2|'c07'|'k0'|3|0\n"},
      {"composite key", "INSERT INTO pairs VALUES('p', 3, 'c07', 'v')", "3|'c07'|'[\"p\",3]'|1|15\n"},
      {"while applying", "INSERT INTO linli_applying VALUES(1); INSERT INTO notes VALUES('k2', 'c07', 'x', 0); "
                         "DELETE FROM notes WHERE id = 'k0'; DELETE FROM linli_applying",
       ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tu_db_exec(li_replica_db(f->r), "DELETE FROM notes; DELETE FROM pairs; INSERT INTO notes VALUES('k0', 'c07', 'zero', 0); "
                      "DELETE FROM linli_dirty");
    tu_db_exec(li_replica_db(f->r), cases[i].sql);
    char *got = tu_dump(li_replica_db(f->r), "SELECT tbl, scope, pk, op, mask FROM linli_dirty ORDER BY rowid");
    print_message("case %s\n", cases[i].name);
    assert_string_equal(got, cases[i].dirty);
    free(got);
  }
  assert_int_equal(li_capture_table(f->r, "notes")->id, 2); /* the roster is 1 */
}

/* ---- what the triggers refuse (invariant 3) ---- */

/* The rows a refusal must leave alone. */
static char *s_snapshot(fx *f) {
  char *a = tu_dump(li_replica_db(f->r), "SELECT * FROM notes ORDER BY id");
  char *b = tu_dump(li_replica_db(f->r), "SELECT tbl, scope, pk, op, mask FROM linli_dirty ORDER BY rowid");
  size_t n = strlen(a) + strlen(b) + 8;
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, "%s--\n%s", a, b);
  free(a);
  free(b);
  return s;
}

typedef struct {
  const char *name, *sql, *msg_has; /* msg_has NULL: the control, which must succeed and change the snapshot */
} s_refusal;

static void s_refusals(fx *f, const s_refusal *cases, size_t n, const char *setup) {
  for (size_t i = 0; i < n; i++) {
    tu_db_exec(li_replica_db(f->r), "DELETE FROM linli_applying; INSERT INTO linli_applying VALUES(1); DELETE FROM notes; "
                      "DELETE FROM linli_clock; DELETE FROM linli_applying");
    tu_db_exec(li_replica_db(f->r), setup);
    tu_db_exec(li_replica_db(f->r), "DELETE FROM linli_dirty");
    char *before = s_snapshot(f), msg[512];
    int rc = tu_exec_rc(li_replica_db(f->r), cases[i].sql, msg, sizeof msg);
    char *after = s_snapshot(f);
    print_message("case %s: %s\n", cases[i].name, msg);
    if (cases[i].msg_has) {
      assert_int_not_equal(rc, SQLITE_OK);
      assert_non_null(strstr(msg, cases[i].msg_has));
      assert_string_equal(before, after);
    } else {
      assert_int_equal(rc, SQLITE_OK);
      assert_string_not_equal(before, after);
    }
    free(before);
    free(after);
  }
}

static void test_committee_refusals(void **state) {
  fx *f = *state;
  /* k07 of this committee and k08 of c08, arrived "from a peer" (capture silenced) */
  const char *setup = "INSERT INTO linli_applying VALUES(1); INSERT INTO notes VALUES('k07', 'c07', 'a', 0), "
                      "('k08', 'c08', 'b', 0); INSERT INTO linli_clock VALUES(2, 'k07', 'c07', 1, x''), "
                      "(2, 'k08', 'c08', 1, x''), (2, 'gone', 'c07', 2, x''); DELETE FROM linli_applying";
  const s_refusal cases[] = {
      {"control", "UPDATE notes SET body = 'ok' WHERE id = 'k07'", NULL},
      {"insert into another scope", "INSERT INTO notes VALUES('n1', 'c08', 'x', 0)", "may only write rows whose scope is 'c07'"},
      {"change another scope's row", "UPDATE notes SET body = 'x' WHERE id = 'k08'", "may only change or delete"},
      {"delete another scope's row", "DELETE FROM notes WHERE id = 'k08'", "may only change or delete"},
      {"move a row", "UPDATE notes SET scope = 'c08' WHERE id = 'k07'", "cannot move to another scope"},
      {"re-key into another scope's key", "UPDATE notes SET id = 'k08x' WHERE id = 'k08'", "may only change or delete"},
  };
  s_refusals(f, cases, sizeof cases / sizeof cases[0], setup);
}

static void test_hub_refusals(void **state) {
  fx *f = *state;
  /* 'gone' was published in c07 and deleted since, k08 lives in c08:
   * linli_clock keeps the scope a key was published in */
  const char *setup = "INSERT INTO linli_applying VALUES(1); INSERT INTO notes VALUES('k07', 'c07', 'a', 0); "
                      "INSERT INTO linli_clock VALUES(2, 'k07', 'c07', 1, x''), (2, 'gone', 'c07', 2, x''), "
                      "(2, 'k08', 'c08', 1, x''); DELETE FROM linli_applying";
  const s_refusal cases[] = {
      {"control", "INSERT INTO notes VALUES('gone', 'c07', 'back', 0)", NULL},
      {"bad scope", "INSERT INTO notes VALUES('n1', 'C 7', 'x', 0)", "scope must be a committee code"},
      {"empty scope", "INSERT INTO notes VALUES('n1', '', 'x', 0)", "scope must be a committee code"},
      {"key of another scope", "INSERT INTO notes VALUES('gone', 'c08', 'x', 0)", "used in another scope"},
      /* a key update is a delete and an insert: the insert half is checked too */
      {"re-key to a key of another scope", "UPDATE notes SET id = 'k08' WHERE id = 'k07'", "used in another scope"},
      {"move a row", "UPDATE notes SET scope = 'c08' WHERE id = 'k07'", "cannot move to another scope"},
  };
  s_refusals(f, cases, sizeof cases / sizeof cases[0], setup);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tracking_rules, fx_committee, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_checks_the_catalogue, fx_committee, fx_teardown),
      cmocka_unit_test_setup_teardown(test_existing_rows_become_dirty, fx_committee, fx_teardown),
      cmocka_unit_test_setup_teardown(test_triggers_record, fx_committee, fx_teardown),
      cmocka_unit_test_setup_teardown(test_committee_refusals, fx_committee, fx_teardown),
      cmocka_unit_test_setup_teardown(test_hub_refusals, fx_hub, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

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

static const char s_schema[] =
    "CREATE TABLE notes(id TEXT, scope TEXT NOT NULL, body TEXT, n INT, PRIMARY KEY(id, scope));"
    "CREATE TABLE pairs(a TEXT, b INT, scope TEXT, v TEXT, PRIMARY KEY(a, b, scope));"
    /* one column of each kind the value rules tell apart (invariant 3) */
    "CREATE TABLE kinds(id TEXT NOT NULL, scope TEXT NOT NULL, i INTEGER CHECK (i IS NULL OR i >= 0), r REAL, t TEXT,"
    " n NUMERIC, b BLOB, PRIMARY KEY(id, scope));";

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
  char many[4096] = "CREATE TABLE many(id TEXT, scope TEXT";
  for (int i = 0; i < LI_TABLE_COLS_MAX; i++) snprintf(many + strlen(many), sizeof many - strlen(many), ", c%d", i);
  strcat(many, ", PRIMARY KEY(id, scope))");
  const struct {
    const char *table, *ddl;
    li_err want;
    const char *msg_has;
  } cases[] = {
      {"text_key", "CREATE TABLE text_key(id TEXT, scope TEXT, PRIMARY KEY(id, scope))", LI_OK, NULL},
      /* counting 1, 2, 3... per committee is fine: the key includes scope */
      {"int_key", "CREATE TABLE int_key(id INTEGER, scope TEXT, PRIMARY KEY(id, scope))", LI_OK, NULL},
      {"scope_first", "CREATE TABLE scope_first(id TEXT, scope TEXT, PRIMARY KEY(scope, id))", LI_OK, NULL},
      {"composite", "CREATE TABLE composite(a TEXT, b INTEGER, scope TEXT, PRIMARY KEY(a, scope, b))", LI_OK, NULL},
      {"no_key", "CREATE TABLE no_key(id TEXT, scope TEXT)", LI_ERR_TRACK, "no PRIMARY KEY"},
      {"no_key_fix", "CREATE TABLE no_key_fix(id TEXT, scope TEXT)", LI_ERR_TRACK, "PRIMARY KEY (id, scope)"},
      /* the old rule's keys: scope outside the key */
      {"rowid", "CREATE TABLE rowid(id INTEGER PRIMARY KEY, scope TEXT)", LI_ERR_TRACK, "PRIMARY KEY (id, scope)"},
      {"key_without_scope", "CREATE TABLE key_without_scope(id TEXT PRIMARY KEY, scope TEXT)", LI_ERR_TRACK,
       "must include the column scope"},
      {"pair_without_scope", "CREATE TABLE pair_without_scope(a TEXT, b INT, scope TEXT, PRIMARY KEY(a, b))",
       LI_ERR_TRACK, "PRIMARY KEY (a, scope)"},
      {"scope_alone", "CREATE TABLE scope_alone(scope TEXT PRIMARY KEY, v TEXT)", LI_ERR_TRACK, "scope alone"},
      {"no_scope", "CREATE TABLE no_scope(id TEXT PRIMARY KEY)", LI_ERR_TRACK, "no TEXT column 'scope'"},
      {"int_scope", "CREATE TABLE int_scope(id TEXT, scope INT, PRIMARY KEY(id, scope))", LI_ERR_TRACK,
       "declared TEXT"},
      {"blob_key", "CREATE TABLE blob_key(a TEXT, b BLOB, scope TEXT, PRIMARY KEY(a, b, scope))", LI_ERR_TRACK, "BLOB"},
      /* invariant 7: a row already there that receivers would refuse */
      {"bad_row", "CREATE TABLE bad_row(id TEXT, scope TEXT, n INTEGER, PRIMARY KEY(id, scope));"
                  "INSERT INTO bad_row VALUES('r1', 'c07', 5), ('r2', 'c07', '约30')",
       LI_ERR_TRACK, "(scope c07, key 'r2'): bad_row.n: an INTEGER column takes a number"},
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
  tu_db_exec(li_replica_db(f->r), "CREATE TABLE later(a TEXT, b INT, scope TEXT, v TEXT, PRIMARY KEY(a, b, scope));"
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
  char *a = tu_dump(li_replica_db(f->r), "SELECT 'notes', id, scope, body, n, NULL, NULL, NULL FROM notes UNION ALL "
                                         "SELECT 'kinds', id, scope, i, r, t, n, length(b) FROM kinds ORDER BY 1, 2, 3");
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
                      "DELETE FROM kinds; DELETE FROM linli_clock; DELETE FROM linli_applying");
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
      /* a key another scope uses is another row (finding 7: it used to be
       * refused, or to block the other scope's chain) */
      {"the key of another scope's row", "INSERT INTO notes VALUES('k08', 'c07', 'mine', 0)", NULL},
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
      {"blob scope", "INSERT INTO notes VALUES('n1', x'633037', 'x', 0)", "scope must be a committee code"},
      /* a row is (scope, key): keys of other scopes are other rows */
      {"key of another scope", "INSERT INTO notes VALUES('gone', 'c08', 'x', 0)", NULL},
      {"re-key to a key of another scope", "UPDATE notes SET id = 'k08' WHERE id = 'k07'", NULL},
      {"move a row", "UPDATE notes SET scope = 'c08' WHERE id = 'k07'", "cannot move to another scope"},
  };
  s_refusals(f, cases, sizeof cases / sizeof cases[0], setup);
}

/* Values a receiver would refuse or store differently are refused at the
 * source, naming table and column (DESIGN 13; issue 9 findings 3 and 4).
 * 'peer' holds a bad value that arrived from a peer (capture silenced). */
static void test_value_refusals(void **state) {
  fx *f = *state;
  const char *setup = "INSERT INTO kinds VALUES('k1', 'c07', 1, 1.5, 't', 'n', x'00');"
                      "INSERT INTO linli_applying VALUES(1); INSERT INTO kinds(id, scope, i) VALUES('peer', 'c07', '约30');"
                      "DELETE FROM linli_applying";
  const s_refusal cases[] = {
      {"control: one value of each kind", "INSERT INTO kinds VALUES('k2', 'c07', 30, 2.5, '约30', 'x', x'0001')", NULL},
      {"control: NULLs", "INSERT INTO kinds(id, scope) VALUES('k2', 'c07')", NULL},
      {"control: number-like text is a number", "INSERT INTO kinds(id, scope, i, r) VALUES('k2', 'c07', '30', '2.5')",
       NULL},
      {"control: a number in a TEXT column is its text", "INSERT INTO kinds(id, scope, t) VALUES('k2', 'c07', 12)", NULL},
      /* finding 3: the CHECK (i >= 0) lets text through (text > numbers) */
      {"text in an INTEGER column", "INSERT INTO kinds(id, scope, i) VALUES('k2', 'c07', '约30')",
       "linli: kinds.i: an INTEGER column takes a number or NULL, not text or a blob"},
      {"empty text in an INTEGER column", "INSERT INTO kinds(id, scope, i) VALUES('k2', 'c07', '')", "kinds.i: an INTEGER"},
      {"blob in an INTEGER column", "INSERT INTO kinds(id, scope, i) VALUES('k2', 'c07', x'01')", "kinds.i: an INTEGER"},
      {"text in a REAL column", "INSERT INTO kinds(id, scope, r) VALUES('k2', 'c07', 'abc')",
       "linli: kinds.r: a REAL column takes a number or NULL"},
      {"blob in a TEXT column", "INSERT INTO kinds(id, scope, t) VALUES('k2', 'c07', x'41')",
       "linli: kinds.t: a TEXT column takes text or NULL, not a blob"},
      /* finding 4: sealed, the text was cut at the NUL */
      {"NUL in TEXT", "INSERT INTO kinds(id, scope, t) VALUES('k2', 'c07', 'a' || char(0) || 'b')",
       "linli: kinds.t: text with a NUL byte"},
      {"NUL in text of a NUMERIC column", "INSERT INTO kinds(id, scope, n) VALUES('k2', 'c07', 'x' || char(0))",
       "linli: kinds.n: text with a NUL byte"},
      {"NUL in a key", "INSERT INTO notes VALUES('a' || char(0), 'c07', 'x', 0)", "linli: notes.id: text with a NUL"},
      {"control: NUL in a blob", "INSERT INTO kinds(id, scope, b) VALUES('k2', 'c07', x'410042')", NULL},
      {"NULL key", "INSERT INTO notes VALUES(NULL, 'c07', 'x', 0)", "linli: notes.id: a key column may not be NULL"},
      {"text over LI_VALUE_BYTES_MAX", "INSERT INTO kinds(id, scope, t) VALUES('k2', 'c07', printf('%.*c', 1048577, 'x'))",
       "linli: kinds.t: a value over 1048576 bytes (LI_VALUE_BYTES_MAX)"},
      {"control: text of LI_VALUE_BYTES_MAX", "INSERT INTO kinds(id, scope, t) VALUES('k2', 'c07', printf('%.*c', 1048576, "
                                              "'x'))", NULL},
      {"blob over LI_VALUE_BYTES_MAX", "INSERT INTO kinds(id, scope, b) VALUES('k2', 'c07', zeroblob(1048577))",
       "linli: kinds.b: a value over"},
      {"row over LI_ROW_BYTES_MAX", "INSERT INTO kinds(id, scope, t, b) VALUES('k2', 'c07', printf('%.*c', 1000000, "
                                    "'x'), zeroblob(600000))",
       "linli: kinds: a row over 1572864 bytes (LI_ROW_BYTES_MAX)"},
      {"update to text in an INTEGER column", "UPDATE kinds SET i = '约30' WHERE id = 'k1'", "kinds.i: an INTEGER"},
      {"re-key keeps the rules", "UPDATE kinds SET id = 'k9', t = x'00' WHERE id = 'k1'", "kinds.t: a TEXT column"},
      /* the writer answers for what it writes, not for a peer's value */
      {"control: update beside a peer's bad value", "UPDATE kinds SET t = 'ok' WHERE id = 'peer'", NULL},
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
      cmocka_unit_test_setup_teardown(test_value_refusals, fx_committee, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* replica: create, open, meta, and the origin cache with its restore on a
 * rollback and on a savepoint rollback (replica.h, invariants 4 and 5).
 *
 * The origin cases run on a bare replica (tu_replica_new) and walk the
 * transaction diagram of replica.h; the last case goes through merge, whose
 * hand repair of the cache this restore replaced. */
#include "testnode.h"

#include "merge.h"
#include "replica.h"

static const char s_schema[] = "CREATE TABLE notes(id TEXT, scope TEXT NOT NULL, body TEXT, PRIMARY KEY(id, scope));";

typedef struct {
  char dir[256];
  char path[300];
  li_replica *r;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  snprintf(f->path, sizeof f->path, "%s/replica.db", f->dir);
  f->r = tu_replica_new(f->dir, LI_ROLE_COMMITTEE, "c07", s_schema);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  li_replica_close(&f->r);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static void s_reopen(fx *f) {
  li_replica_close(&f->r);
  li_errbuf eb = {{0}};
  li_err e = li_replica_open(f->path, &f->r, &eb);
  if (e) fail_msg("reopen: %s (%s)", li_errname(e), eb.msg);
}

/* Adds the key filled with `fill` to the cache; returns its index. */
static int s_origin(fx *f, uint8_t fill) {
  uint8_t k[LI_PK_BYTES];
  tu_key(k, fill);
  int idx = 0;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_origin_idx(f->r, k, &idx, &eb), LI_OK);
  return idx;
}

/* The index holds the key filled with `fill` (0: the index is unused). */
static void s_assert_origin(fx *f, int idx, uint8_t fill) {
  const uint8_t *got = li_replica_origin_key(f->r, idx);
  if (!fill) {
    assert_null(got);
    return;
  }
  uint8_t k[LI_PK_BYTES];
  tu_key(k, fill);
  assert_non_null(got);
  assert_memory_equal(got, k, LI_PK_BYTES);
}

/* ---- create, open, meta ---- */

static void test_create_then_open(void **state) {
  fx *f = *state;
  s_reopen(f);
  uint8_t net[LI_PK_BYTES], self[LI_PK_BYTES];
  tu_key(net, TU_NETWORK_FILL);
  tu_key(self, TU_SELF_FILL);
  assert_int_equal(li_replica_role(f->r), LI_ROLE_COMMITTEE);
  assert_string_equal(li_replica_scope(f->r), "c07");
  assert_memory_equal(li_replica_network(f->r), net, LI_PK_BYTES);
  assert_memory_equal(li_replica_self(f->r), self, LI_PK_BYTES);
  int64_t v = 0;
  assert_int_equal(li_meta_get_int(f->r, "schema_version", &v), LI_OK);
  assert_int_equal(v, LI_SCHEMA_VERSION);
  /* the roster and the schema's table are tracked, roster first */
  assert_int_equal(li_capture_count(f->r), 2);
  assert_string_equal(li_capture_table_at(f->r, 0)->name, "roster");
  assert_string_equal(li_capture_table_at(f->r, 1)->name, "notes");
  /* its own key is origin 1 from the start */
  assert_int_equal(li_replica_origin_count(f->r), 1);
  s_assert_origin(f, 1, TU_SELF_FILL);
  assert_int_equal(li_replica_dirty_count(f->r), 0);
}

static void test_meta(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  int64_t v = 0;
  assert_int_equal(li_meta_get_int(f->r, "no_such_key", &v), LI_ERR_NOT_FOUND);
  assert_int_equal(li_meta_set_int(f->r, "answer", 42, &eb), LI_OK);
  s_reopen(f);
  assert_int_equal(li_meta_get_int(f->r, "answer", &v), LI_OK);
  assert_int_equal(v, 42);
}

static void test_create_refuses_an_existing_file(void **state) {
  fx *f = *state;
  uint8_t k[LI_PK_BYTES];
  tu_key(k, 1);
  li_replica *r = NULL;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_create(f->path, LI_ROLE_HUB, "street", k, k, NULL, &r, &eb), LI_ERR_EXISTS);
  assert_null(r);
  assert_non_null(strstr(eb.msg, "already exists"));
  /* untouched: still the committee's replica */
  s_reopen(f);
  assert_string_equal(li_replica_scope(f->r), "c07");
}

static void test_create_with_a_bad_schema_leaves_nothing(void **state) {
  fx *f = *state;
  char path[300];
  snprintf(path, sizeof path, "%s/bad.db", f->dir);
  uint8_t k[LI_PK_BYTES];
  tu_key(k, 1);
  li_replica *r = NULL;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_create(path, LI_ROLE_HUB, "street", k, k, "CREATE TABLE (", &r, &eb), LI_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, "schema does not load"));
  assert_int_equal(access(path, F_OK), -1);
  /* an untrackable table is refused the same way */
  assert_int_equal(li_replica_create(path, LI_ROLE_HUB, "street", k, k, "CREATE TABLE t(x TEXT);", &r, &eb),
                   LI_ERR_TRACK);
  assert_int_equal(access(path, F_OK), -1);
}

/* Files that are not replicas, and replicas whose facts are wrong. */
static void test_open_refuses(void **state) {
  fx *f = *state;
  struct {
    const char *name, *sql; /* sql: run on the file first (NULL: no file) */
  } cases[] = {
      {"missing", NULL},
      {"plain_sqlite", "CREATE TABLE x(y);"},
      {"bad_role", "CREATE TABLE linli_meta(key TEXT PRIMARY KEY, value ANY); INSERT INTO linli_meta VALUES('role', 7)"},
      {"old_schema", "CREATE TABLE linli_meta(key TEXT PRIMARY KEY, value ANY); INSERT INTO linli_meta VALUES('role', 1),"
                     "('schema_version', 0)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[300];
    snprintf(path, sizeof path, "%s/%s.db", f->dir, cases[i].name);
    if (cases[i].sql) {
      sqlite3 *db = NULL;
      assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
      tu_db_exec(db, cases[i].sql);
      sqlite3_close(db);
    }
    li_replica *r = NULL;
    li_errbuf eb = {{0}};
    li_err e = li_replica_open(path, &r, &eb);
    print_message("case %s: %s: %s\n", cases[i].name, li_errname(e), eb.msg);
    assert_int_equal(e, LI_ERR_NOT_INIT);
    assert_null(r);
    assert_true(eb.msg[0] != 0);
  }
}

/* ---- the origin cache ---- */

static void test_origins_are_stable(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xA1), 2);
  assert_int_equal(s_origin(f, 0xB2), 3);
  assert_int_equal(s_origin(f, 0xA1), 2); /* known: the same index */
  assert_int_equal(li_replica_commit(f->r, &eb), LI_OK);
  s_assert_origin(f, 0, 0);
  s_assert_origin(f, 4, 0);
  s_reopen(f);
  assert_int_equal(li_replica_origin_count(f->r), 3);
  s_assert_origin(f, 2, 0xA1);
  s_assert_origin(f, 3, 0xB2);
}

/* Invariant 5: rolled back, an origin is forgotten, and the index SQLite
 * gives out again names the new key, in memory and on disk alike. */
static void test_rollback_forgets_origins(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xA1), 2);
  assert_int_equal(li_replica_commit(f->r, &eb), LI_OK);

  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xC3), 3);
  li_replica_rollback(f->r);
  assert_int_equal(li_replica_origin_count(f->r), 2);
  s_assert_origin(f, 3, 0);

  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xD4), 3); /* the index is reused */
  s_assert_origin(f, 3, 0xD4);
  assert_int_equal(li_replica_commit(f->r, &eb), LI_OK);
  li_replica_rollback(f->r); /* nothing open: a no-op */
  assert_int_equal(li_replica_origin_count(f->r), 3);
  s_reopen(f);
  s_assert_origin(f, 3, 0xD4);
}

static void test_savepoint_rollback_forgets_only_its_origins(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xA1), 2);
  assert_int_equal(li_replica_savepoint(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xB2), 3);
  li_replica_rollback_to(f->r);
  assert_int_equal(li_replica_origin_count(f->r), 2);
  s_assert_origin(f, 2, 0xA1);
  s_assert_origin(f, 3, 0);
  /* released, a savepoint's origins belong to the transaction */
  assert_int_equal(li_replica_savepoint(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xC3), 3);
  assert_int_equal(li_replica_release(f->r, &eb), LI_OK);
  assert_int_equal(li_replica_commit(f->r, &eb), LI_OK);
  s_reopen(f);
  assert_int_equal(li_replica_origin_count(f->r), 3);
  s_assert_origin(f, 3, 0xC3);
  /* a rollback of the whole transaction takes a released savepoint's too */
  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(li_replica_savepoint(f->r, &eb), LI_OK);
  assert_int_equal(s_origin(f, 0xE5), 4);
  assert_int_equal(li_replica_release(f->r, &eb), LI_OK);
  li_replica_rollback(f->r);
  assert_int_equal(li_replica_origin_count(f->r), 3);
  s_assert_origin(f, 4, 0);
}

/* In the death tests' child: its own connection to the replica at path. */
static li_replica *s_open_child(const char *path) {
  li_replica *r = NULL;
  li_errbuf eb;
  if (li_replica_open(path, &r, &eb) != LI_OK) _exit(2);
  return r;
}

static void s_begin_twice(void *path) {
  li_replica *r = s_open_child(path);
  li_errbuf eb;
  li_replica_begin(r, &eb);
  li_replica_begin(r, &eb);
}

static void s_release_without_savepoint(void *path) {
  li_replica *r = s_open_child(path);
  li_errbuf eb;
  li_replica_begin(r, &eb);
  li_replica_release(r, &eb);
}

static void s_savepoint_outside_a_transaction(void *path) {
  li_errbuf eb;
  li_replica_savepoint(s_open_child(path), &eb);
}

/* Misuse of the transaction functions is an assertion (STYLE.md); the
 * control shows the child does not die of anything else. */
static void s_control(void *path) { li_replica_close(&(li_replica *){s_open_child(path)}); }

static void test_misuse_asserts(void **state) {
  fx *f = *state;
  assert_false(tu_aborts(s_control, f->path));
  assert_true(tu_aborts(s_begin_twice, f->path));
  assert_true(tu_aborts(s_release_without_savepoint, f->path));
  assert_true(tu_aborts(s_savepoint_outside_a_transaction, f->path));
}

/* Through merge: an all-or-nothing batch rejected after a new origin's
 * commit was applied leaves that origin unknown, and applying it later
 * gives it an index that names its key. Merge used to repair this by hand. */
static void test_rejected_batch_forgets_its_origin(void **state) {
  fx *f = *state;
  tu_pair s;
  tu_pair_new(f->dir, &s);
  li_errbuf eb = {{0}};
  tu_db_exec(li_replica_db(s.c07->r), "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-1','2025-03-01')");
  assert_int_equal(li_seal(s.c07->r, li_wall_ms(), NULL, &eb), LI_OK);
  li_blob batch[2];
  tu_own_commit(s.c07, "c07", 1, &batch[0]);
  static const uint8_t garbage[] = {1, 2, 3};
  batch[1] = (li_blob){garbage, sizeof garbage};
  li_replica *hub = s.hub->r;
  int before = li_replica_origin_count(hub);
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = 300000, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_merge_stats st;
  assert_int_equal(li_merge_batch(hub, batch, 2, &o, &st, &eb), LI_ERR_DECODE);
  assert_int_equal(st.rejected_at, 1);
  assert_int_equal(li_replica_origin_count(hub), before);
  s_assert_origin(&(fx){.r = hub}, before + 1, 0);
  assert_int_equal(li_merge_batch(hub, batch, 1, &o, &st, &eb), LI_OK);
  assert_int_equal(li_replica_origin_count(hub), before + 1);
  assert_memory_equal(li_replica_origin_key(hub, before + 1), s.c07->id.pk, LI_PK_BYTES);
  free((void *)batch[0].sc);
  tu_pair_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_then_open, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_meta, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_create_refuses_an_existing_file, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_create_with_a_bad_schema_leaves_nothing, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_refuses, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_origins_are_stable, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_rollback_forgets_origins, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_savepoint_rollback_forgets_only_its_origins, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_misuse_asserts, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_rejected_batch_forgets_its_origin, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

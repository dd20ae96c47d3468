/* Tests of capture, seal and merge through the library: a hub and a
 * committee in temporary node directories, rows written with plain SQL,
 * sealed into commits and exchanged with bundles.
 *
 * Covered: commit and row counts of seal; coalescing of edits between two
 * seals; the scope triggers (a committee writes only its scope, no row
 * changes scope); which tables can be tracked; a user table tracked later;
 * the roster gate at the hub; identical tables after an exchange; idempotent
 * re-import; concurrent edits of one column converging to the same winner
 * on both sides whatever the import order, with the loser recorded. */
#include "testnode.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include "bundle.h"
#include "capture.h"
#include "hlc.h"
#include "merge.h"
#include "node.h"
#include "replica.h"
#include "seal.h"

/* ---- helpers ---- */

typedef struct {
  char dir[256];
  li_node *hub, *c07;
  char hub_key[LI_PK_TEXT_LEN + 1], c07_key[LI_PK_TEXT_LEN + 1];
  int nbundle;
} fx;



static li_node *s_committee(fx *f, const char *name, const char *scope) {
  char d[300];
  snprintf(d, sizeof d, "%s/%s", f->dir, name);
  return tu_node_new(d, LI_ROLE_COMMITTEE, name, scope, f->hub_key);
}

static void s_roster_add(li_node *hub, const char *name, li_node *c, const char *scope) {
  char k[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->id.pk, k);
  li_errbuf eb = {{0}};
  li_err e = li_roster_add(hub->r, name, k, scope, li_wall_ms(), &eb);
  if (e) fail_msg("roster add %s: %s (%s)", name, li_errname(e), eb.msg);
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  char d[300];
  snprintf(d, sizeof d, "%s/hub", f->dir);
  f->hub = tu_node_new(d, LI_ROLE_HUB, "hub", NULL, NULL);
  li_pk_to_text(f->hub->id.pk, f->hub_key);
  f->c07 = s_committee(f, "c07", "c07");
  li_pk_to_text(f->c07->id.pk, f->c07_key);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  tu_node_free(&f->hub);
  tu_node_free(&f->c07);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static void s_exec(li_node *n, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(n->r->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fail_msg("SQL failed (%d: %s): %s", rc, msg ? msg : "?", sql);
}

/* Runs sql, which must be refused by a linli trigger. */
static void s_exec_refused(li_node *n, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(n->r->db, sql, NULL, NULL, &msg);
  if ((rc & 0xff) != SQLITE_CONSTRAINT) fail_msg("expected SQLITE_CONSTRAINT, got %d (%s) for %s", rc, msg ? msg : "", sql);
  if (!msg || !strstr(msg, "linli:")) fail_msg("refusal without a linli message: %s", msg ? msg : "(none)");
  sqlite3_free(msg);
}

static li_seal_stats s_seal_at(li_node *n, uint64_t wall) {
  li_seal_stats st;
  li_errbuf eb = {{0}};
  li_err e = li_seal(n->r, wall, &st, &eb);
  if (e) fail_msg("seal: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(li_replica_dirty_count(n->r), 0);
  return st;
}

static li_seal_stats s_seal(li_node *n) { return s_seal_at(n, li_wall_ms()); }

static int64_t s_int(li_node *n, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("prepare: %s", sql);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Text of the first column of the first row ("" when none or NULL); static buffer. */
static const char *s_text(li_node *n, const char *sql) {
  static char buf[4][512];
  static int k;
  char *out = buf[k++ % 4];
  out[0] = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("prepare: %s", sql);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, 512, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

typedef struct {
  char *p;
  size_t n, cap;
} s_buf;

static void s_put(s_buf *b, const void *p, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void s_putf(s_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_putf(s_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  s_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Every row of a query, every value tagged with its type. */
static void s_dump_query(sqlite3 *db, const char *sql, s_buf *b) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
  int nc = sqlite3_column_count(st);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < nc; i++) {
      switch (sqlite3_column_type(st, i)) {
      case SQLITE_NULL: s_put(b, "N|", 2); break;
      case SQLITE_INTEGER: s_putf(b, "I%lld|", (long long)sqlite3_column_int64(st, i)); break;
      case SQLITE_FLOAT: s_putf(b, "F%.17g|", sqlite3_column_double(st, i)); break;
      case SQLITE_TEXT: {
        int n = sqlite3_column_bytes(st, i);
        s_putf(b, "T%d:", n);
        s_put(b, sqlite3_column_text(st, i), (size_t)n);
        s_put(b, "|", 1);
        break;
      }
      default: {
        int n = sqlite3_column_bytes(st, i);
        const unsigned char *p = sqlite3_column_blob(st, i);
        s_putf(b, "B%d:", n);
        for (int k = 0; k < n; k++) s_putf(b, "%02x", p[k]);
        s_put(b, "|", 1);
      }
      }
    }
    s_put(b, "\n", 1);
  }
  sqlite3_finalize(st);
}

/* Every tracked table (all rows, key order). Caller frees. */
static char *s_dump_tables(li_node *n) {
  s_buf b = {0};
  s_put(&b, "", 0);
  for (int i = 0; i < n->r->ntables; i++) {
    const li_table *t = &n->r->tables[i];
    char sql[1024];
    int k = snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY ", t->name);
    for (int j = 0; j < t->npk; j++) k += snprintf(sql + k, sizeof sql - (size_t)k, "%s\"%s\"", j ? "," : "", t->cols[t->pk[j]]);
    s_putf(&b, "== %s\n", t->name);
    s_dump_query(n->r->db, sql, &b);
  }
  return b.p;
}

/* Tables plus the commit log and version vector. */
static char *s_snapshot(li_node *n) {
  char *t = s_dump_tables(n);
  s_buf b = {0};
  s_put(&b, t, strlen(t));
  free(t);
  s_put(&b, "== log\n", 7);
  s_dump_query(n->r->db, "SELECT origin, scope, seq, hlc, hash, sc FROM linli_log ORDER BY origin, scope, seq", &b);
  s_put(&b, "== vv\n", 6);
  s_dump_query(n->r->db, "SELECT origin, scope, seq, head FROM linli_vv ORDER BY origin, scope", &b);
  s_put(&b, "== clock\n", 9);
  s_dump_query(n->r->db, "SELECT tbl, pk, scope, cl, vers FROM linli_clock ORDER BY tbl, pk", &b);
  return b.p;
}

static void s_assert_same_tables(li_node *a, li_node *b) {
  char *da = s_dump_tables(a), *db = s_dump_tables(b);
  if (strcmp(da, db) != 0) {
    print_error("tables differ:\n--- %s\n%s\n--- %s\n%s\n", a->cfg.name, da, b->cfg.name, db);
    free(da);
    free(db);
    fail_msg("replicas differ after exchange");
  }
  free(da);
  free(db);
}

static li_merge_opts s_opts(void) {
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = 300000, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  return o;
}

static void s_export(fx *f, li_node *from, const char *for_name, const char *for_scope, char *path) {
  snprintf(path, 300, "%s/b%03d.linli", f->dir, f->nbundle++);
  li_errbuf eb = {{0}};
  li_bundle_export_stats xs;
  li_err e = li_bundle_export(from->r, path, for_name, for_scope, li_wall_ms(), &xs, &eb);
  if (e) fail_msg("export: %s (%s)", li_errname(e), eb.msg);
}

static li_err s_import(li_node *to, const char *path, li_bundle_import_stats *st, li_errbuf *eb) {
  li_merge_opts o = s_opts();
  memset(eb, 0, sizeof *eb);
  return li_bundle_import(to->r, path, &o, st, eb);
}

/* Export from -> import to; must succeed. Returns the import stats. */
static li_bundle_import_stats s_xfer(fx *f, li_node *from, li_node *to) {
  char path[300];
  const char *for_scope = to->cfg.role == LI_ROLE_COMMITTEE ? to->cfg.scope : NULL;
  s_export(f, from, to->cfg.name, for_scope, path);
  li_bundle_import_stats st;
  li_errbuf eb;
  li_err e = s_import(to, path, &st, &eb);
  if (e) fail_msg("import %s -> %s: %s (%s)", from->cfg.name, to->cfg.name, li_errname(e), eb.msg);
  return st;
}

/* ---- tests ---- */

static void test_seal_counts(void **state) {
  fx *f = *state;
  li_node *c = f->c07;
  li_seal_stats st = s_seal(c);
  assert_int_equal(st.commits, 0);
  assert_int_equal(st.rows, 0);
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES"
            "('v1','c07','R-001','2025-03-01'),('v2','c07','R-002','2025-03-02'),('v3','c07','R-003','2025-03-03');"
            "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h1','c07','燃气','3号楼','2025-03-04');");
  assert_int_equal(li_replica_dirty_count(c->r), 4);
  st = s_seal(c);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 4);
  /* nothing new: no commit */
  st = s_seal(c);
  assert_int_equal(st.commits, 0);
  assert_int_equal(st.rows, 0);
  /* an update that sets the same value captures a marker but no change */
  s_exec(c, "UPDATE care_visits SET resident_ref='R-001' WHERE id='v1'");
  st = s_seal(c);
  assert_int_equal(st.rows, 0);
  s_exec(c, "UPDATE care_visits SET outcome='良好' WHERE id='v2'");
  st = s_seal(c);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 1);
  s_exec(c, "DELETE FROM care_visits WHERE id='v3'");
  st = s_seal(c);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 1);
  assert_int_equal(s_int(c, "SELECT cl FROM linli_clock WHERE pk='v3'"), 2);
  assert_int_equal(s_int(c, "SELECT cl FROM linli_clock WHERE pk='v2'"), 1);
  /* the chain: three commits of scope c07, seq 1..3, head = last hash */
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_log WHERE scope='c07'"), 3);
  assert_int_equal(s_int(c, "SELECT seq FROM linli_vv WHERE scope='c07'"), 3);
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_vv v JOIN linli_log l ON l.origin=v.origin AND "
                            "l.scope=v.scope AND l.seq=v.seq AND l.hash=v.head"),
                   1);
  /* deleting a row and inserting it again starts a new generation */
  s_exec(c, "DELETE FROM care_visits WHERE id='v1';"
            "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-009','2025-04-01')");
  st = s_seal(c);
  assert_int_equal(st.rows, 1);
  assert_int_equal(s_int(c, "SELECT cl FROM linli_clock WHERE pk='v1'"), 3);
  /* a re-insert of a deleted row resurrects it */
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v3','c07','R-003','2025-03-03')");
  st = s_seal(c);
  assert_int_equal(st.rows, 1);
  assert_int_equal(s_int(c, "SELECT cl FROM linli_clock WHERE pk='v3'"), 3);
}

static void test_seal_coalesces(void **state) {
  fx *f = *state;
  li_node *c = f->c07;
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01');"
            "UPDATE care_visits SET visitor='王' WHERE id='v1';"
            "UPDATE care_visits SET outcome='良好', follow_up=1 WHERE id='v1';"
            "UPDATE care_visits SET visitor='李' WHERE id='v1';");
  assert_int_equal(li_replica_dirty_count(c->r), 4);
  li_seal_stats st = s_seal(c);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 1);
  /* inserted and deleted between two seals: never published */
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('tmp','c07','R-000','2025-03-01');"
            "UPDATE care_visits SET note='x' WHERE id='tmp'; DELETE FROM care_visits WHERE id='tmp';");
  st = s_seal(c);
  assert_int_equal(st.commits, 0);
  assert_int_equal(st.rows, 0);
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_clock WHERE pk='tmp'"), 0);
  /* several updates of an existing row: one change */
  s_exec(c, "UPDATE care_visits SET note='a' WHERE id='v1'; UPDATE care_visits SET note='b' WHERE id='v1';"
            "UPDATE care_visits SET kind='助餐' WHERE id='v1';");
  st = s_seal(c);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 1);
  /* the coalesced commits carry the final values */
  s_roster_add(f->hub, "c07", c, "c07");
  s_xfer(f, c, f->hub);
  assert_string_equal(s_text(f->hub, "SELECT visitor || outcome || follow_up || note || kind FROM care_visits WHERE id='v1'"),
                      "李良好1b助餐");
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM care_visits"), 1);
  s_xfer(f, f->hub, c);
  s_assert_same_tables(f->hub, c);
}

static void test_scope_triggers(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  /* a committee writes only its own scope */
  s_exec_refused(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('x1','c08','R-1','2025-03-01')");
  s_exec_refused(c, "INSERT INTO notices(id, scope, title) VALUES('n0','street','not ours')");
  /* a NULL scope: the schema's NOT NULL refuses it before any trigger runs */
  {
    char *msg = NULL;
    int rc = sqlite3_exec(c->r->db, "INSERT INTO care_visits(id, resident_ref, visited_on, scope) VALUES('x2','R-1','2025-03-01',NULL)", NULL, NULL, &msg);
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    sqlite3_free(msg);
  }
  assert_int_equal(s_int(c, "SELECT count(*) FROM care_visits"), 0);
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  /* no row changes scope, on the committee or the hub */
  s_exec_refused(c, "UPDATE care_visits SET scope='c08' WHERE id='v1'");
  s_exec_refused(c, "UPDATE care_visits SET scope='street', note='moved' WHERE id='v1'");
  assert_string_equal(s_text(c, "SELECT scope FROM care_visits WHERE id='v1'"), "c07");
  s_exec(h, "INSERT INTO notices(id, scope, title) VALUES('n1','street','防汛通知');"
            "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h1','c07','消防','5号楼','2025-03-04')");
  s_exec_refused(h, "UPDATE hazards SET scope='c08' WHERE id='h1'");
  s_exec_refused(h, "UPDATE notices SET scope='c07' WHERE id='n1'");
  /* the hub may write any scope, but only well-formed ones */
  s_exec_refused(h, "INSERT INTO notices(id, scope, title) VALUES('n2','Bad Scope','x')");
  s_exec_refused(h, "INSERT INTO notices(id, scope, title) VALUES('n3','','x')");
  /* only the accepted writes are captured */
  assert_int_equal(li_replica_dirty_count(c->r), 1);
  assert_int_equal(li_replica_dirty_count(h->r), 2);
  s_seal(c);
  s_seal(h);
  /* street and hub-written c07 rows reach the committee, which may not change the street ones */
  s_roster_add(h, "c07", c, "c07");
  s_xfer(f, h, c);
  assert_string_equal(s_text(c, "SELECT title FROM notices WHERE id='n1'"), "防汛通知");
  s_exec_refused(c, "UPDATE notices SET title='改' WHERE id='n1'");
  s_exec_refused(c, "DELETE FROM notices WHERE id='n1'");
  s_exec_refused(c, "DELETE FROM roster");
  /* a hub-written row of the committee's scope is the committee's to edit */
  s_exec(c, "UPDATE hazards SET stage='整改' WHERE id='h1'");
  assert_int_equal(li_replica_dirty_count(c->r), 1);
  s_seal(c);
  s_xfer(f, c, h);
  assert_string_equal(s_text(h, "SELECT stage FROM hazards WHERE id='h1'"), "整改");
  s_assert_same_tables(h, c);
}

/* A row is (scope, key) (capture.h): the same key in two scopes is two
 * rows, whichever is written or sealed first; one's changes never touch
 * the other. Before issue 9 a key published in one scope was refused in
 * every other, and blocked its chain at the receivers (finding 7). */
static void test_key_per_scope(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  s_roster_add(h, "c07", c, "c07");
  s_exec(h, "INSERT INTO notices(id, scope, title) VALUES('n1','street','t1'), ('k1','c07','k')");
  s_seal(h);
  /* the same key in another scope, after the first was sealed */
  s_exec(h, "INSERT INTO notices(id, scope, title) VALUES('n1','c07','t2');"
            "UPDATE notices SET title='t1b' WHERE id='n1' AND scope='street'");
  li_seal_stats st = s_seal(h);
  assert_int_equal(st.commits, 2);
  assert_int_equal(st.rows, 2);
  /* inserted, deleted and inserted in another scope before a seal: only
   * the row that exists is published */
  s_exec(h, "INSERT INTO notices(id, scope, title) VALUES('n2','street','t'); DELETE FROM notices WHERE id='n2';"
            "INSERT INTO notices(id, scope, title) VALUES('n2','c07','moved')");
  st = s_seal(h);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 1);
  s_xfer(f, h, c);
  assert_string_equal(s_text(c, "SELECT group_concat(x, ',') FROM (SELECT id || scope || title AS x FROM notices "
                                "ORDER BY id, scope)"),
                      "k1c07k,n1c07t2,n1streett1b,n2c07moved");
  /* the committee edits its own n1; the street's n1 is not its to touch */
  s_exec(c, "UPDATE notices SET title='mine' WHERE id='n1' AND scope='c07'");
  s_exec_refused(c, "UPDATE notices SET title='x' WHERE id='n1'");
  s_exec(h, "DELETE FROM notices WHERE id='n1' AND scope='street'");
  s_seal(h);
  s_seal(c);
  s_xfer(f, h, c);
  s_xfer(f, c, h);
  assert_string_equal(s_text(h, "SELECT group_concat(scope || title, ',') FROM notices WHERE id='n1'"), "c07mine");
  s_assert_same_tables(h, c);
}

static void s_track_refused(li_node *n, const char *create, const char *table, const char *words) {
  s_exec(n, create);
  li_errbuf eb = {{0}};
  li_err e = li_capture_track(n->r, table, &eb);
  if (e != LI_ERR_TRACK) fail_msg("track %s: expected track, got %s (%s)", table, li_errname(e), eb.msg);
  if (!strstr(eb.msg, words)) fail_msg("track %s: message '%s' lacks '%s'", table, eb.msg, words);
  assert_null(li_capture_table(n->r, table));
  /* and nothing is captured from it */
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM linli_tables WHERE name='%s'", table);
  assert_int_equal(s_int(n, sql), 0);
}

static void test_track_refusals(void **state) {
  fx *f = *state;
  li_node *c = f->c07;
  s_track_refused(c, "CREATE TABLE nopk(a TEXT, scope TEXT)", "nopk", "PRIMARY KEY");
  s_track_refused(c, "CREATE TABLE intpk(id INTEGER PRIMARY KEY, scope TEXT, v TEXT)", "intpk", "PRIMARY KEY (id, scope)");
  s_track_refused(c, "CREATE TABLE keynoscope(id TEXT PRIMARY KEY, scope TEXT)", "keynoscope", "must include the column scope");
  s_track_refused(c, "CREATE TABLE noscope(id TEXT PRIMARY KEY, area TEXT)", "noscope", "scope");
  s_track_refused(c, "CREATE TABLE intscope(id TEXT PRIMARY KEY, scope INTEGER)", "intscope", "scope");
  li_errbuf eb = {{0}};
  assert_int_equal(li_capture_track(c->r, "linli_log", &eb), LI_ERR_TRACK);
  assert_true(eb.msg[0] != 0);
  memset(&eb, 0, sizeof eb);
  assert_int_equal(li_capture_track(c->r, "care_visits", &eb), LI_ERR_EXISTS);
  memset(&eb, 0, sizeof eb);
  assert_int_equal(li_capture_track(c->r, "no_such_table", &eb), LI_ERR_NOT_FOUND);
  /* writes to the refused tables leave no markers */
  s_exec(c, "INSERT INTO nopk VALUES('a','c07'); INSERT INTO intpk(scope, v) VALUES('c07','x')");
  assert_int_equal(li_replica_dirty_count(c->r), 0);
}

static const char s_notes_sql[] =
    "CREATE TABLE notes(id TEXT NOT NULL, scope TEXT NOT NULL, body TEXT, n INTEGER, PRIMARY KEY(id, scope))";

static void test_track_user_table(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  li_errbuf eb = {{0}};
  s_exec(h, s_notes_sql);
  assert_int_equal(li_capture_track(h->r, "notes", &eb), LI_OK);
  s_exec(c, s_notes_sql);
  /* a row written before tracking is published by the first seal */
  s_exec(c, "INSERT INTO notes VALUES('k0','c07','before tracking', 0)");
  assert_int_equal(li_replica_dirty_count(c->r), 0);
  assert_int_equal(li_capture_track(c->r, "notes", &eb), LI_OK);
  assert_non_null(li_capture_table(c->r, "notes"));
  assert_int_equal(li_replica_dirty_count(c->r), 1);
  s_exec(c, "INSERT INTO notes VALUES('k1','c07','after', 1)");
  s_exec_refused(c, "INSERT INTO notes VALUES('k2','c08','elsewhere', 2)");
  li_seal_stats st = s_seal(c);
  assert_int_equal(st.commits, 1);
  assert_int_equal(st.rows, 2);
  s_roster_add(h, "c07", c, "c07");
  li_bundle_import_stats is = s_xfer(f, c, h);
  assert_int_equal(is.merge.applied, 1);
  assert_int_equal(is.merge.rows, 2);
  assert_int_equal(s_int(h, "SELECT sum(n) FROM notes WHERE scope='c07'"), 1);
  /* the table stays tracked after reopening */
  char dir[300];
  snprintf(dir, sizeof dir, "%s/c07", f->dir);
  tu_node_free(&f->c07);
  f->c07 = calloc(1, sizeof *f->c07);
  assert_int_equal(li_node_open(f->c07, dir, &eb), LI_OK);
  c = f->c07;
  assert_non_null(li_capture_table(c->r, "notes"));
  s_exec(c, "UPDATE notes SET body='edited' WHERE id='k0'");
  st = s_seal(c);
  assert_int_equal(st.rows, 1);
  s_xfer(f, c, h);
  assert_string_equal(s_text(h, "SELECT body FROM notes WHERE id='k0'"), "edited");
  s_xfer(f, h, c);
  s_assert_same_tables(h, c);
}

/* The one-pass read (seal.h): markers of several tables merged in order,
 * clocks written in batches of 32 and a remainder, a key typed by its
 * column's affinity ('7' finds the INTEGER row 7), and a key moved from 3
 * to 3.0 in an untyped column, where SQLite holds both equal: the second
 * group reads the clock the first wrote, and the stored key is the last. */
static void test_seal_one_pass(void **state) {
  fx *f = *state;
  li_node *c = f->c07;
  li_errbuf eb = {{0}};
  s_exec(c, "CREATE TABLE ni(id INTEGER NOT NULL, scope TEXT NOT NULL, v TEXT, PRIMARY KEY(id, scope));"
            "CREATE TABLE nu(id NOT NULL, scope TEXT NOT NULL, v, PRIMARY KEY(id, scope));"
            "CREATE TABLE nc(a INTEGER NOT NULL, b TEXT NOT NULL, scope TEXT NOT NULL, v, PRIMARY KEY(a, b, scope))");
  assert_int_equal(li_capture_track(c->r, "ni", &eb), LI_OK);
  assert_int_equal(li_capture_track(c->r, "nu", &eb), LI_OK);
  assert_int_equal(li_capture_track(c->r, "nc", &eb), LI_OK);
  s_exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70)"
            "  INSERT INTO ni SELECT i, 'c07', 'v' || i FROM n;"
            "INSERT INTO nu VALUES(1001, 'c07', 'int'), ('1001', 'c07', 'text'), (3, 'c07', 'three');"
            "INSERT INTO nc VALUES(1, 'x', 'c07', 1), (1, 'y', 'c07', 2);"
            "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c07', 'R-001', '2025-03-01');"
            "UPDATE ni SET v = 'seven' WHERE id = '7'; UPDATE nu SET id = 3.0 WHERE id = 3;"
            "UPDATE nu SET v = 'moved' WHERE id = 3");
  li_seal_stats st = s_seal(c);
  assert_int_equal(st.commits, 1);
  /* 3 and 3.0 are two groups (li_value_equals_column tells them apart),
   * each a change of the same row, as before the one-pass read */
  assert_int_equal(st.rows, 70 + 3 + 1 + 2 + 1);
  assert_int_equal(li_replica_dirty_count(c->r), 0);
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_clock c JOIN linli_tables t ON t.id = c.tbl "
                            "WHERE t.name = 'ni' AND c.cl = 1 AND typeof(c.pk) = 'integer'"),
                   70);
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_clock c JOIN linli_tables t ON t.id = c.tbl "
                            "WHERE t.name = 'nu'"),
                   3);
  assert_string_equal(s_text(c, "SELECT typeof(c.pk) || c.cl FROM linli_clock c JOIN linli_tables t ON t.id = c.tbl "
                                "WHERE t.name = 'nu' AND c.pk = 3"),
                      "real1");
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_clock c JOIN linli_tables t ON t.id = c.tbl "
                            "WHERE t.name = 'nc'"),
                   2);
  /* the next seal finds the clocks: an update is an update, a delete the next generation */
  s_exec(c, "UPDATE ni SET v = 'again' WHERE id = 7; DELETE FROM ni WHERE id = 8; DELETE FROM nu WHERE id = 3");
  st = s_seal(c);
  assert_int_equal(st.rows, 3);
  assert_int_equal(s_int(c, "SELECT sum(c.cl) FROM linli_clock c JOIN linli_tables t ON t.id = c.tbl "
                            "WHERE t.name = 'ni' AND c.pk IN (7, 8)"),
                   1 + 2);
  assert_int_equal(s_int(c, "SELECT c.cl FROM linli_clock c JOIN linli_tables t ON t.id = c.tbl "
                            "WHERE t.name = 'nu' AND c.pk = 3"),
                   2);
}

static void test_roster_gate(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  s_seal(c);
  char path[300];
  s_export(f, c, "hub", NULL, path);
  char *before = s_snapshot(h);
  li_bundle_import_stats st;
  li_errbuf eb;
  li_err e = s_import(h, path, &st, &eb);
  assert_int_equal(e, LI_ERR_UNKNOWN_SIGNER);
  assert_true(eb.msg[0] != 0);
  assert_int_equal(st.merge.applied, 0);
  li_bundle_import_stats_clear(&st); /* the stopped chain */
  char *after = s_snapshot(h);
  assert_string_equal(before, after);
  free(before);
  free(after);
  assert_int_equal(s_int(h, "SELECT n FROM linli_rejects WHERE reason='unknown_signer'"), 1);
  /* once the hub lists it, the same bundle is accepted */
  s_roster_add(h, "c07", c, "c07");
  e = s_import(h, path, &st, &eb);
  if (e) fail_msg("import: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(st.merge.applied, 1);
  assert_int_equal(s_int(h, "SELECT count(*) FROM care_visits WHERE id='v1'"), 1);
  /* the committee accepts the hub's commits without a roster of its own (hub key = network) */
  assert_int_equal(s_int(c, "SELECT count(*) FROM roster"), 0);
  st = s_xfer(f, h, c);
  assert_true(st.merge.applied >= 2);
  assert_int_equal(s_int(c, "SELECT count(*) FROM roster"), 2);
  s_assert_same_tables(h, c);
}

static void test_exchange_identical(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  s_roster_add(h, "c07", c, "c07");
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on, visitor, follow_up, note) VALUES"
            "('v1','c07','R-001','2025-03-01','王',1,NULL),('v2','c07','R-002','2025-03-02',NULL,0,'引号''和\"符号');"
            "INSERT INTO hazards(id, scope, category, location, found_on, deadline) VALUES"
            "('h1','c07','电动自行车','7号楼车棚','2025-03-04','2025-03-20');"
            "INSERT INTO meal_points(id, scope, place, capacity) VALUES('m1','c07','社区食堂',40);");
  s_seal(c);
  s_exec(h, "INSERT INTO notices(id, scope, title, body) VALUES('n1','street','防汛通知','各社区做好准备');"
            "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h2','c07','燃气','菜场','2025-03-05');"
            "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h3','c08','消防','学校','2025-03-05');");
  s_seal(h);
  li_bundle_import_stats st = s_xfer(f, c, h);
  assert_int_equal(st.merge.applied, 1);
  assert_int_equal(st.merge.rows, 4);
  st = s_xfer(f, h, c);
  /* the committee receives its scope and street, not c08 */
  assert_int_equal(s_int(c, "SELECT count(*) FROM hazards WHERE scope='c08'"), 0);
  assert_int_equal(s_int(c, "SELECT count(*) FROM hazards"), 2);
  assert_int_equal(s_int(c, "SELECT count(*) FROM linli_log WHERE scope='c08'"), 0);
  /* the hub's tables restricted to what the committee reads equal the committee's */
  s_exec(h, "DELETE FROM hazards WHERE id='h3'");
  s_seal(h);
  s_xfer(f, h, c);
  s_assert_same_tables(h, c);
  /* more edits both ways, deletes included */
  s_exec(c, "UPDATE care_visits SET outcome='需跟进', follow_up=1 WHERE id='v2'; DELETE FROM meal_points WHERE id='m1';"
            "UPDATE hazards SET stage='交办', assigned_to='物业' WHERE id='h2'");
  s_seal(c);
  s_exec(h, "UPDATE hazards SET stage='复核' WHERE id='h1'; UPDATE notices SET body=NULL WHERE id='n1'");
  s_seal(h);
  s_xfer(f, c, h);
  s_xfer(f, h, c);
  s_assert_same_tables(h, c);
  assert_string_equal(s_text(c, "SELECT stage || assigned_to FROM hazards WHERE id='h2'"), "交办物业");
  assert_string_equal(s_text(h, "SELECT stage FROM hazards WHERE id='h1'"), "复核");
  assert_int_equal(s_int(h, "SELECT count(*) FROM meal_points"), 0);
  /* importing the same bundle again changes nothing */
  char path[300];
  s_export(f, c, "hub", NULL, path);
  char *before = s_snapshot(h);
  li_errbuf eb;
  li_err e = s_import(h, path, &st, &eb);
  assert_int_equal(e, LI_OK);
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.merge.rows, 0);
  assert_int_equal(st.merge.duplicates, (int)st.commits);
  assert_true(st.commits > 0);
  e = s_import(h, path, &st, &eb);
  assert_int_equal(e, LI_OK);
  assert_int_equal(st.merge.applied, 0);
  char *after = s_snapshot(h);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* and the same on the committee for the hub's bundle */
  s_export(f, h, "c07", "c07", path);
  before = s_snapshot(c);
  assert_int_equal(s_import(c, path, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 0);
  after = s_snapshot(c);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

/* Both sides edit care_visits v1's visitor (and each a column of its own)
 * concurrently; `later` seals second, one second later, so its write wins.
 * hub_first: the hub imports first. */
static void s_concurrent_case(bool hub_later, bool hub_first) {
  fx *f = NULL;
  assert_int_equal(fx_setup((void **)&f), 0);
  li_node *c = f->c07, *h = f->hub;
  s_roster_add(h, "c07", c, "c07");
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on, visitor) VALUES('v1','c07','R-001','2025-03-01','起')");
  s_seal(c);
  s_xfer(f, c, h);
  s_xfer(f, h, c);
  s_exec(c, "UPDATE care_visits SET visitor='委员会', outcome='committee outcome' WHERE id='v1'");
  s_exec(h, "UPDATE care_visits SET visitor='街道', note='hub note' WHERE id='v1'");
  uint64_t now = li_wall_ms();
  if (hub_later) {
    s_seal_at(c, now);
    s_seal_at(h, now + 1000);
  } else {
    s_seal_at(h, now);
    s_seal_at(c, now + 1000);
  }
  const char *win = hub_later ? "街道" : "委员会", *lose = hub_later ? "委员会" : "街道";
  if (hub_first) {
    s_xfer(f, c, h);
    s_xfer(f, h, c);
  } else {
    s_xfer(f, h, c);
    s_xfer(f, c, h);
  }
  li_node *both[2] = {h, c};
  for (int i = 0; i < 2; i++) {
    li_node *n = both[i];
    assert_string_equal(s_text(n, "SELECT visitor FROM care_visits WHERE id='v1'"), win);
    /* the columns only one side wrote keep that side's value */
    assert_string_equal(s_text(n, "SELECT outcome FROM care_visits WHERE id='v1'"), "committee outcome");
    assert_string_equal(s_text(n, "SELECT note FROM care_visits WHERE id='v1'"), "hub note");
    assert_int_equal(s_int(n, "SELECT count(*) FROM linli_conflicts"), 1);
    assert_string_equal(s_text(n, "SELECT tbl || '/' || pk || '/' || col FROM linli_conflicts"), "care_visits/v1/visitor");
    assert_string_equal(s_text(n, "SELECT loser FROM linli_conflicts"), lose);
    assert_string_equal(s_text(n, "SELECT winner FROM linli_conflicts"), win);
    assert_true(s_int(n, "SELECT winner_hlc > loser_hlc FROM linli_conflicts") == 1);
  }
  s_assert_same_tables(h, c);
  /* a later, causally informed edit is not a conflict */
  s_exec(c, "UPDATE care_visits SET visitor='后来' WHERE id='v1'");
  s_seal(c);
  s_xfer(f, c, h);
  assert_string_equal(s_text(h, "SELECT visitor FROM care_visits WHERE id='v1'"), "后来");
  assert_int_equal(s_int(h, "SELECT count(*) FROM linli_conflicts"), 1);
  fx_teardown((void **)&f);
}

static void test_concurrent_same_column(void **state) {
  (void)state;
  for (int hub_later = 0; hub_later < 2; hub_later++)
    for (int hub_first = 0; hub_first < 2; hub_first++) s_concurrent_case(hub_later, hub_first);
}

/* Equal HLCs: the tie is broken by origin key, the same way on both sides. */
static void test_concurrent_tie(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  s_roster_add(h, "c07", c, "c07");
  uint64_t t0 = li_wall_ms();
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  s_seal_at(c, t0);
  s_xfer(f, c, h);
  s_xfer(f, h, c);
  /* both clocks have seen the same HLCs; a later wall time gives both (t, 0) */
  uint64_t hc = 0, hh = 0;
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_hlc_load(c->r, &hc, &eb), LI_OK);
  assert_int_equal(li_replica_hlc_load(h->r, &hh, &eb), LI_OK);
  uint64_t t1 = LI_HLC_MS(hc > hh ? hc : hh) + 10;
  s_exec(c, "UPDATE care_visits SET visitor='C' WHERE id='v1'");
  s_exec(h, "UPDATE care_visits SET visitor='H' WHERE id='v1'");
  s_seal_at(c, t1);
  s_seal_at(h, t1);
  assert_int_equal(s_int(c, "SELECT hlc FROM linli_log WHERE scope='c07' ORDER BY hlc DESC LIMIT 1"),
                   (int64_t)LI_HLC_MAKE(t1, 0));
  assert_int_equal(s_int(h, "SELECT hlc FROM linli_log WHERE scope='c07' ORDER BY hlc DESC LIMIT 1"),
                   (int64_t)LI_HLC_MAKE(t1, 0));
  s_xfer(f, c, h);
  s_xfer(f, h, c);
  const char *win = memcmp(h->id.pk, c->id.pk, LI_PK_BYTES) > 0 ? "H" : "C";
  assert_string_equal(s_text(h, "SELECT visitor FROM care_visits WHERE id='v1'"), win);
  assert_string_equal(s_text(c, "SELECT visitor FROM care_visits WHERE id='v1'"), win);
  assert_string_equal(s_text(h, "SELECT loser FROM linli_conflicts"), win[0] == 'H' ? "C" : "H");
  assert_string_equal(s_text(c, "SELECT loser FROM linli_conflicts"), win[0] == 'H' ? "C" : "H");
  s_assert_same_tables(h, c);
}

/* Delete on one side, update on the other: the delete wins (causal length). */
static void test_delete_wins_over_update(void **state) {
  fx *f = *state;
  li_node *c = f->c07, *h = f->hub;
  s_roster_add(h, "c07", c, "c07");
  s_exec(c, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  s_seal(c);
  s_xfer(f, c, h);
  s_xfer(f, h, c);
  s_exec(c, "DELETE FROM care_visits WHERE id='v1'");
  s_exec(h, "UPDATE care_visits SET note='late edit' WHERE id='v1'");
  s_seal(c);
  s_seal(h);
  s_xfer(f, h, c);
  s_xfer(f, c, h);
  assert_int_equal(s_int(h, "SELECT count(*) FROM care_visits"), 0);
  assert_int_equal(s_int(c, "SELECT count(*) FROM care_visits"), 0);
  /* re-inserting it afterwards brings it back everywhere */
  s_exec(h, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-05-01')");
  s_seal(h);
  s_xfer(f, h, c);
  assert_string_equal(s_text(c, "SELECT visited_on FROM care_visits WHERE id='v1'"), "2025-05-01");
  assert_int_equal(s_int(c, "SELECT cl FROM linli_clock WHERE pk='v1'"), 3);
  s_assert_same_tables(h, c);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_seal_counts, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_seal_coalesces, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_seal_one_pass, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_scope_triggers, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_key_per_scope, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_track_refusals, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_track_user_table, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_roster_gate, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_exchange_identical, fx_setup, fx_teardown),
      cmocka_unit_test(test_concurrent_same_column),
      cmocka_unit_test_setup_teardown(test_concurrent_tie, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_delete_wins_over_update, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

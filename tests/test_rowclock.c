/* Tests of node/rowclock.c on real replicas: li_rowclock_get / put round
 * trips and the stored layout, li_rowclock_key for composite keys (the JSON
 * array text SQLite's json_array makes, which is what the capture triggers
 * record), and every malformed stored row refused as LI_ERR_TAMPERED.
 *
 * What the other tests do not cover: the street schema has only single TEXT
 * keys, so no other test reaches composite keys (here: keys of TEXT, INTEGER
 * and REAL columns, declared in another order than the columns), nor reads
 * linli_clock rows that were altered outside linli. The composite-key rows
 * also go through seal and merge both ways, checking that the key text the
 * trigger records and the one merge computes name the same clock row. */
#include "testnode.h"

#include "arena.h"
#include "capture.h"
#include "rowclock.h"
#include "value.h"

static const char s_schema[] =
    "CREATE TABLE items(id TEXT NOT NULL, scope TEXT NOT NULL, x TEXT, y INTEGER, z REAL, PRIMARY KEY(id, scope));\n"
    "CREATE TABLE pairs(a TEXT NOT NULL, b INTEGER NOT NULL, scope TEXT NOT NULL, v TEXT, PRIMARY KEY(a, b, scope));\n"
    "CREATE TABLE triples(a TEXT NOT NULL, b REAL NOT NULL, scope TEXT NOT NULL, c TEXT NOT NULL, v TEXT,\n"
    "  PRIMARY KEY(c, scope, a, b));\n"
    "CREATE TABLE tags(name TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY(name, scope));\n";

typedef struct {
  tu_street s;
  li_node *hub, *c07;
  li_arena a;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_street_new(&f->s, s_schema);
  f->hub = f->s.hub;
  f->c07 = tu_street_committee(&f->s, "c07", "c07", true, s_schema);
  tu_sync(f->hub, f->c07, f->s.t0 + 1000); /* the roster */
  li_arena_init(&f->a);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  li_arena_free(&f->a);
  tu_street_free(&f->s);
  free(f);
  return 0;
}

static li_table *s_table(li_node *n, const char *name) {
  li_table *t = li_capture_table(n->r, name);
  assert_non_null(t);
  return t;
}

/* ---- get / put ---- */

static void s_fill(li_rowclock *rc, int ncols, uint64_t seed) {
  memset(rc, 0, sizeof *rc);
  rc->cl = 3;
  for (int i = 0; i < ncols; i++) {
    rc->hlc[i] = seed * 0x0101010101010101u + (uint64_t)i;
    rc->origin[i] = (uint32_t)(seed * 0x01010101u) + (uint32_t)i;
  }
}

static void s_assert_same(const li_rowclock *a, const li_rowclock *b, int ncols) {
  assert_int_equal(a->exists, b->exists);
  assert_int_equal(a->cl, b->cl);
  for (int i = 0; i < ncols; i++) {
    assert_int_equal(a->hlc[i], b->hlc[i]);
    assert_int_equal(a->origin[i], b->origin[i]);
  }
}

static void test_put_get_round_trip(void **state) {
  fx *f = *state;
  li_table *t = s_table(f->hub, "items");
  Linli__Value key;
  tu_v_text(&key, "row-1");
  li_errbuf eb = {{0}};
  li_rowclock in, out;
  /* absent: exists false, everything zero (the garbage before is cleared) */
  memset(&out, 0xAB, sizeof out);
  assert_int_equal(li_rowclock_get(f->hub->r, t, "c07", &key, &out, &eb), LI_OK);
  assert_false(out.exists);
  assert_int_equal(out.cl, 0);
  for (int i = 0; i < t->ncols; i++) assert_true(out.hlc[i] == 0 && out.origin[i] == 0);

  static const uint64_t seeds[] = {1, 0xFF, 0x80};
  for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
    s_fill(&in, t->ncols, seeds[k]); /* 0xFF: every bit of hlc and origin set */
    in.exists = true;
    in.cl = (int64_t)(2 * k + 1);
    assert_int_equal(li_rowclock_put(f->hub->r, t, "c07", &key, &in, &eb), LI_OK);
    memset(&out, 0xAB, sizeof out);
    assert_int_equal(li_rowclock_get(f->hub->r, t, "c07", &key, &out, &eb), LI_OK);
    s_assert_same(&in, &out, t->ncols);
  }
  /* put replaces: one row per key */
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM linli_clock WHERE pk='row-1'"), 1);
  /* stored layout: 12 bytes a column, u64 hlc then u32 origin, little-endian */
  s_fill(&in, t->ncols, 1);
  in.hlc[1] = 0x0102030405060708u;
  in.origin[1] = 0x0A0B0C0Du;
  assert_int_equal(li_rowclock_put(f->hub->r, t, "c07", &key, &in, &eb), LI_OK);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT length(vers) FROM linli_clock WHERE tbl=%d AND pk='row-1'", t->id);
  assert_int_equal(tu_int(f->hub, sql), 12 * t->ncols);
  snprintf(sql, sizeof sql, "SELECT hex(substr(vers, 13, 12)) FROM linli_clock WHERE tbl=%d AND pk='row-1'", t->id);
  assert_string_equal(tu_text(f->hub, sql), "08070605040302010D0C0B0A");
  /* the same key in another table, or in another scope, is another row */
  li_table *p = s_table(f->hub, "pairs");
  assert_int_equal(li_rowclock_get(f->hub->r, p, "c07", &key, &out, &eb), LI_OK);
  assert_false(out.exists);
  assert_int_equal(li_rowclock_get(f->hub->r, t, "c08", &key, &out, &eb), LI_OK);
  assert_false(out.exists);
  s_fill(&in, t->ncols, 2);
  in.cl = 8;
  assert_int_equal(li_rowclock_put(f->hub->r, t, "c08", &key, &in, &eb), LI_OK);
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM linli_clock WHERE pk='row-1'"), 2);
  assert_int_equal(li_rowclock_get(f->hub->r, t, "c07", &key, &out, &eb), LI_OK);
  assert_int_equal(out.cl, 3);
  assert_int_equal(out.hlc[1], 0x0102030405060708u);
}

/* A row stored with fewer columns than the table has now (a column added
 * since) reads with zeros for the rest. */
static void test_get_short_row(void **state) {
  fx *f = *state;
  li_table *t = s_table(f->hub, "items");
  char sql[300];
  snprintf(sql, sizeof sql,
           "INSERT INTO linli_clock(tbl, pk, scope, cl, vers) VALUES(%d, 'short', 'c07', 1, "
           "x'010000000000000002000000" "030000000000000004000000')",
           t->id);
  tu_exec(f->hub, sql);
  Linli__Value key;
  tu_v_text(&key, "short");
  li_rowclock out;
  memset(&out, 0xAB, sizeof out);
  li_errbuf eb = {{0}};
  assert_int_equal(li_rowclock_get(f->hub->r, t, "c07", &key, &out, &eb), LI_OK);
  assert_true(out.exists);
  assert_int_equal(out.cl, 1);
  assert_int_equal(out.hlc[0], 1);
  assert_int_equal(out.origin[0], 2);
  assert_int_equal(out.hlc[1], 3);
  assert_int_equal(out.origin[1], 4);
  for (int i = 2; i < t->ncols; i++) assert_true(out.hlc[i] == 0 && out.origin[i] == 0);
}

/* ---- composite keys ---- */

/* SQLite's json_array of the values, computed here on its own. */
static void s_json_array(li_node *n, Linli__Value *const *pk, size_t npk, char *out, size_t cap) {
  char sql[64] = "SELECT json_array(?";
  for (size_t i = 1; i < npk; i++) strcat(sql, ",?");
  strcat(sql, ")");
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL), SQLITE_OK);
  for (size_t i = 0; i < npk; i++) li_value_bind(st, (int)i + 1, pk[i]);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

typedef struct {
  const char *name;
  const char *a;   /* pairs.a (TEXT) */
  int64_t b;       /* pairs.b (INTEGER) */
} s_pair_case;

static const s_pair_case s_pairs[] = {
    {"plain", "x", 3},
    {"empty_text", "", 0},
    {"quote_and_backslash", "a\"b\\c", -1},
    {"utf8", "新华路12号", 12},
    {"control_chars", "a\nb\tc\x01", 7},
    {"slash_and_brackets", "[1,2]/\"]", INT64_MAX},
    {"number_like", "12", INT64_MIN},
};

/* li_rowclock_key = json_array, and = what the capture trigger records in
 * linli_dirty for the same row written with SQL. */
static void test_composite_key_text(void **state) {
  fx *f = *state;
  li_table *t = s_table(f->hub, "pairs");
  li_errbuf eb = {{0}};
  for (size_t i = 0; i < sizeof s_pairs / sizeof s_pairs[0]; i++) {
    Linli__Value va, vb, *pk[2] = {tu_v_text(&va, s_pairs[i].a), tu_v_int(&vb, s_pairs[i].b)};
    const Linli__Value *key = NULL;
    assert_int_equal(li_rowclock_key(f->hub->r, &f->a, t, pk, 2, &key, &eb), LI_OK);
    assert_int_equal(key->v_case, LINLI__VALUE__V_T);
    char want[512];
    s_json_array(f->hub, pk, 2, want, sizeof want);
    assert_string_equal(key->t, want);
    /* the trigger's text for the same row */
    tu_exec(f->hub, "DELETE FROM linli_dirty");
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "INSERT INTO pairs(a, b, scope) VALUES(?, ?, 'street')", -1, &st,
                                        NULL),
                     SQLITE_OK);
    li_value_bind(st, 1, pk[0]);
    li_value_bind(st, 2, pk[1]);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT pk FROM linli_dirty", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    if (!li_value_equals_column(key, q, 0))
      fail_msg("case %s: li_rowclock_key %s, the trigger recorded %s", s_pairs[i].name, key->t,
               (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
  }
  /* one key value: the value itself, not an array */
  li_table *it = s_table(f->hub, "items");
  Linli__Value one, *pk1[1] = {tu_v_text(&one, "row-1")};
  const Linli__Value *key = NULL;
  assert_int_equal(li_rowclock_key(f->hub->r, &f->a, it, pk1, 1, &key, &eb), LI_OK);
  assert_ptr_equal(key, pk1[0]);
  /* a change naming another number of key values */
  assert_int_equal(li_rowclock_key(f->hub->r, &f->a, t, pk1, 1, &key, &eb), LI_ERR_SCHEMA);
  assert_non_null(strstr(eb.msg, "pairs"));
  Linli__Value *pk3[3] = {pk1[0], pk1[0], pk1[0]};
  assert_int_equal(li_rowclock_key(f->hub->r, &f->a, it, pk3, 3, &key, &eb), LI_ERR_SCHEMA);
}

/* Composite-key rows through seal and merge, both ways: each data row keeps
 * one clock row, at the same key text, on both replicas, and updates from
 * either side find it. triples declares its key (c, a, b) in another order
 * than its columns and has a REAL key column. */
static void test_composite_key_through_merge(void **state) {
  fx *f = *state;
  uint64_t t0 = f->s.t0;
  tu_exec(f->c07, "INSERT INTO pairs(a, b, scope, v) VALUES('x', 3, 'c07', 'one'), ('新\"', -1, 'c07', 'two');"
                  "INSERT INTO triples(a, b, scope, c, v) VALUES('a', 1.5, 'c07', 'c', 'one'), ('a', 2.0, 'c07', 'c', 'two')");
  tu_seal(f->c07, t0 + 2000);
  tu_sync(f->c07, f->hub, t0 + 3000);
  tu_exec(f->hub, "UPDATE pairs SET v = 'hub' WHERE a = 'x'; UPDATE triples SET v = 'hub' WHERE b = 2.0");
  tu_seal(f->hub, t0 + 4000);
  tu_sync(f->hub, f->c07, t0 + 5000);
  tu_exec(f->c07, "UPDATE pairs SET v = 'c07' WHERE b = -1; UPDATE triples SET v = 'c07' WHERE b = 1.5");
  tu_seal(f->c07, t0 + 6000);
  tu_sync(f->c07, f->hub, t0 + 7000);
  li_node *both[2] = {f->hub, f->c07};
  for (int i = 0; i < 2; i++) {
    li_node *n = both[i];
    assert_string_equal(tu_text(n, "SELECT group_concat(v, ',') FROM (SELECT v FROM pairs ORDER BY b)"), "c07,hub");
    assert_string_equal(tu_text(n, "SELECT group_concat(v, ',') FROM (SELECT v FROM triples ORDER BY b)"), "c07,hub");
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM linli_clock WHERE tbl IN (SELECT id FROM linli_tables WHERE name IN "
                              "('pairs','triples'))");
    assert_int_equal(tu_int(n, sql), 4);
    assert_int_equal(tu_int(n, "SELECT count(*) FROM linli_clock WHERE pk = json_array('c', 'a', 1.5)"), 1);
    assert_int_equal(tu_int(n, "SELECT count(*) FROM linli_clock WHERE pk = json_array('新\"', -1)"), 1);
  }
  uint8_t a[LI_HASH_BYTES], b[LI_HASH_BYTES];
  tu_tables_digest(f->hub->r->db, a);
  tu_tables_digest(f->c07->r->db, b);
  assert_memory_equal(a, b, LI_HASH_BYTES);
  /* a delete from the hub reaches the committee through the same key */
  tu_exec(f->hub, "DELETE FROM triples WHERE b = 1.5");
  tu_seal(f->hub, t0 + 8000);
  tu_sync(f->hub, f->c07, t0 + 9000);
  assert_int_equal(tu_int(f->c07, "SELECT count(*) FROM triples"), 1);
  assert_int_equal(tu_int(f->c07, "SELECT cl FROM linli_clock WHERE pk = json_array('c', 'a', 1.5)"), 2);
}

/* ---- malformed stored rows ---- */

typedef struct {
  const char *name;
  const char *cl;      /* SQL expressions of the stored row */
  const char *vers;
  const char *scope;
} s_bad_case;

static const s_bad_case s_bad[] = {
    {"cl_zero", "0", "x''", "'c07'"},
    {"cl_negative", "-1", "x''", "'c07'"},
    {"cl_text", "'abc'", "x''", "'c07'"},
    {"vers_not_multiple_of_12", "1", "zeroblob(13)", "'c07'"},
    {"vers_one_byte", "1", "x'00'", "'c07'"},
    {"vers_more_columns_than_table", "1", "zeroblob(12 * 6)", "'c07'"}, /* items has 5 */
};

static void test_malformed_rows(void **state) {
  fx *f = *state;
  li_table *t = s_table(f->hub, "items");
  assert_int_equal(t->ncols, 5);
  Linli__Value key, good;
  tu_v_text(&key, "bad");
  tu_v_text(&good, "good");
  li_errbuf eb = {{0}};
  li_rowclock rc, out;
  s_fill(&rc, t->ncols, 9);
  assert_int_equal(li_rowclock_put(f->hub->r, t, "c07", &good, &rc, &eb), LI_OK);
  for (size_t i = 0; i < sizeof s_bad / sizeof s_bad[0]; i++) {
    char sql[400];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO linli_clock(tbl, pk, cl, vers, scope) VALUES(%d, 'bad', %s, %s, %s)",
             t->id, s_bad[i].cl, s_bad[i].vers, s_bad[i].scope);
    tu_exec(f->hub, sql);
    memset(&eb, 0, sizeof eb);
    li_err e = li_rowclock_get(f->hub->r, t, "c07", &key, &out, &eb);
    if (e != LI_ERR_TAMPERED) fail_msg("case %s: expected tampered, got %s", s_bad[i].name, li_errname(e));
    if (!strstr(eb.msg, "items")) fail_msg("case %s: the message does not name the table: %s", s_bad[i].name, eb.msg);
    /* the statement was reset: the next read works */
    assert_int_equal(li_rowclock_get(f->hub->r, t, "c07", &good, &out, &eb), LI_OK);
    assert_true(out.exists);
    assert_int_equal(out.hlc[4], rc.hlc[4]);
  }
  /* control: the same row well-formed reads fine */
  char sql[200];
  snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO linli_clock(tbl, pk, cl, vers, scope) VALUES(%d, 'bad', 2, zeroblob(60), 'c07')",
           t->id);
  tu_exec(f->hub, sql);
  assert_int_equal(li_rowclock_get(f->hub->r, t, "c07", &key, &out, &eb), LI_OK);
  assert_int_equal(out.cl, 2);
}

/* A malformed clock row met by merge refuses the commit and changes nothing. */
static void test_malformed_row_refuses_merge(void **state) {
  fx *f = *state;
  uint64_t t0 = f->s.t0;
  tu_exec(f->c07, "INSERT INTO items(id, scope, x) VALUES('i1', 'c07', 'one')");
  tu_seal(f->c07, t0 + 2000);
  tu_sync(f->c07, f->hub, t0 + 3000);
  tu_exec(f->c07, "UPDATE items SET x = 'two' WHERE id = 'i1'");
  tu_seal(f->c07, t0 + 4000);
  tu_exec(f->hub, "UPDATE linli_clock SET vers = zeroblob(13) WHERE pk = 'i1'");
  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
  tu_snapshot(f->hub->r->db, before);
  size_t len;
  uint8_t *sc = tu_log_commit(f->c07, f->c07->id.pk, "c07", 2, &len);
  li_blob b = {sc, len};
  li_merge_stats st;
  li_errbuf eb;
  assert_int_equal(tu_merge(f->hub, &b, 1, LI_MERGE_ALL_OR_NOTHING, t0 + 5000, &st, &eb), LI_ERR_TAMPERED);
  tu_snapshot(f->hub->r->db, after);
  assert_memory_equal(before, after, LI_HASH_BYTES);
  assert_string_equal(tu_text(f->hub, "SELECT x FROM items WHERE id = 'i1'"), "one");
  free(sc);
}

/* A TEXT key that looks like a number ('1001', '07') keeps its class in
 * linli_dirty and linli_clock (their pk has no affinity; declared ANY it
 * was NUMERIC): the commit carries it as TEXT, the hub applies it, and '7'
 * and '07' are two rows with two clocks. Before the fix the hub refused the
 * commit (type) and the writer's chain stalled for good. */
static void test_numeric_text_keys(void **state) {
  fx *f = *state;
  uint64_t t0 = f->s.t0;
  tu_exec(f->c07, "INSERT INTO items(id, scope, x) VALUES('1001', 'c07', 'case 1001')");
  assert_string_equal(tu_text(f->c07, "SELECT typeof(pk) FROM linli_dirty"), "text");
  tu_seal(f->c07, t0 + 2000);
  tu_blobs b = tu_log(f->c07, "c07");
  li_merge_stats st;
  li_errbuf eb;
  li_err e = tu_merge(f->hub, b.v, b.n, LI_MERGE_ALL_OR_NOTHING, t0 + 3000, &st, &eb);
  tu_blobs_free(&b);
  if (e) fail_msg("merge of a row keyed '1001': %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(st.refused, 0);
  assert_string_equal(tu_text(f->hub, "SELECT typeof(id) || ':' || id FROM items"), "text:1001");
  assert_string_equal(tu_text(f->hub, "SELECT typeof(pk) || ':' || pk FROM linli_clock WHERE pk = '1001'"),
                      "text:1001");
  tu_exec(f->c07, "INSERT INTO items(id, scope, x) VALUES('7', 'c07', 'seven'), ('07', 'c07', 'oh seven')");
  assert_int_equal(tu_int(f->c07, "SELECT count(DISTINCT pk) FROM linli_dirty"), 2);
  tu_seal(f->c07, t0 + 4000);
  assert_int_equal(tu_int(f->c07, "SELECT count(*) FROM linli_clock WHERE typeof(pk) = 'integer'"), 0);
  assert_int_equal(tu_int(f->c07, "SELECT count(*) FROM linli_clock WHERE pk IN ('7', '07')"), 2);
  tu_sync(f->c07, f->hub, t0 + 5000);
  assert_string_equal(tu_text(f->hub, "SELECT group_concat(x, ',') FROM (SELECT x FROM items WHERE id IN ('7', '07') "
                                      "ORDER BY id)"),
                      "oh seven,seven");
}

/* A table of key columns alone: a row deleted and inserted again between
 * two seals is a new generation of a row the receiver holds, with nothing
 * to set (no UPDATE can be made of no columns), and a delete. */
static void test_key_only_table(void **state) {
  fx *f = *state;
  uint64_t t0 = f->s.t0;
  tu_exec(f->c07, "INSERT INTO tags VALUES('urgent', 'c07'), ('old', 'c07')");
  tu_seal(f->c07, t0 + 2000);
  tu_sync(f->c07, f->hub, t0 + 3000);
  tu_exec(f->c07, "DELETE FROM tags WHERE name = 'urgent'; INSERT INTO tags VALUES('urgent', 'c07');"
                  "DELETE FROM tags WHERE name = 'old'");
  tu_seal(f->c07, t0 + 4000);
  li_merge_stats st = tu_sync(f->c07, f->hub, t0 + 5000);
  assert_int_equal(st.refused, 0);
  assert_string_equal(tu_text(f->hub, "SELECT group_concat(name) FROM tags"), "urgent");
  assert_int_equal(tu_int(f->hub, "SELECT cl FROM linli_clock WHERE pk = 'urgent'"), 3);
  assert_int_equal(tu_int(f->hub, "SELECT cl FROM linli_clock WHERE pk = 'old'"), 2);
}

/* Clock rows written many to a statement (li_rowclock_put_many, for seal
 * and apply) read back as put writes them; and the statements of many rows
 * repeat the last VALUES tuple of the one-row statement, also when a quoted
 * name holds " VALUES(" (control: a plain one-row INSERT), and are refused
 * for numbered parameters. */
static void test_put_many(void **state) {
  fx *f = *state;
  li_replica *r = f->c07->r;
  li_table *t = s_table(f->c07, "items");
  int k = LI_BULK_ROWS >> 2;
  sqlite3_stmt *st = li_rowclock_put_many(r, 1);
  assert_non_null(st);
  assert_ptr_equal(st, li_rowclock_put_many(r, 1)); /* kept on the replica */
  assert_int_equal(sqlite3_bind_parameter_count(st), 5 * k);
  li_rowclock rc[LI_BULK_ROWS >> 2];
  Linli__Value key[LI_BULK_ROWS >> 2];
  char ids[LI_BULK_ROWS >> 2][16];
  unsigned char vers[LI_BULK_ROWS >> 2][LI_ROWCLOCK_VERS_MAX];
  assert_int_equal(sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  for (int j = 0; j < k; j++) {
    memset(&rc[j], 0, sizeof rc[j]);
    rc[j].cl = 2 * j + 1;
    for (int i = 0; i < t->ncols; i++) rc[j].hlc[i] = 1000u * (unsigned)j + (unsigned)i, rc[j].origin[i] = (unsigned)i;
    snprintf(ids[j], sizeof ids[j], "m%02d", j);
    linli__value__init(&key[j]);
    key[j].v_case = LINLI__VALUE__V_T;
    key[j].t = ids[j];
    li_rowclock_bind(st, j, t->id, "c07", &key[j], rc[j].cl, vers[j], li_rowclock_vers(t, &rc[j], vers[j]),
                     SQLITE_STATIC);
  }
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_reset(st);
  assert_int_equal(sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  for (int j = 0; j < k; j++) {
    li_rowclock got;
    li_errbuf eb = {{0}};
    assert_int_equal(li_rowclock_get(r, t, "c07", &key[j], &got, &eb), LI_OK);
    assert_true(got.exists);
    assert_int_equal(got.cl, rc[j].cl);
    for (int i = 0; i < t->ncols; i++) {
      assert_int_equal(got.hlc[i], rc[j].hlc[i]);
      assert_int_equal(got.origin[i], rc[j].origin[i]);
    }
  }
  static const struct {
    const char *sql;
    int params;
  } cases[] = {
      {"INSERT INTO \"odd VALUES(x\"(\"a VALUES(\", b) VALUES(?, ?)", 2},
      {"INSERT INTO linli_rejects(reason, n) VALUES(?, ?)", 2}, /* control */
      {"INSERT INTO linli_rejects(reason, n) VALUES(?1, ?2)", 0}, /* numbered: not repeatable */
  };
  assert_int_equal(sqlite3_exec(r->db, "CREATE TEMP TABLE \"odd VALUES(x\"(\"a VALUES(\", b)", NULL, NULL, NULL),
                   SQLITE_OK);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    sqlite3_stmt *one = NULL, *many = NULL;
    assert_int_equal(sqlite3_prepare_v2(r->db, cases[c].sql, -1, &one, NULL), SQLITE_OK);
    many = li_replica_prepare_rows(r, one, 3);
    if (cases[c].params == 0) assert_null(many);
    else assert_int_equal(sqlite3_bind_parameter_count(many), 3 * cases[c].params);
    sqlite3_finalize(many);
    sqlite3_finalize(one);
  }
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_round_trip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_put_many, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_get_short_row, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_composite_key_text, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_composite_key_through_merge, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_malformed_rows, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_malformed_row_refuses_merge, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_numeric_text_keys, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_key_only_table, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests_name("rowclock", tests, NULL, NULL);
}

/* Tests of node/value.c on a real replica whose schema has a column of
 * every SQLite affinity (and declared types that map to them by SQLite's
 * rules): every Value case to and from SQLite, li_value_equals_column across
 * types, li_value_fits per affinity, and li_value_format of untrusted text.
 *
 * What the other tests do not cover: no other test reaches REAL, BLOB,
 * NUMERIC or untyped columns (the street schema has TEXT and INTEGER only),
 * nor value.c on its own. The hostile tests check that merge refuses a
 * wrong type; here li_value_fits is checked against what SQLite itself
 * stores (value.h invariant 2): every value a replica can hold fits, and
 * stored again it stays the same. That property found a bug, marked BUG
 * below. */
#include "testnode.h"

#include <math.h>

#include "arena.h"
#include "capture.h"
#include "value.h"

static const char s_schema[] =
    "CREATE TABLE kinds(id TEXT NOT NULL, scope TEXT NOT NULL, i INTEGER, t TEXT, r REAL, b BLOB,\n"
    "  n NUMERIC, u, vc VARCHAR(10), bi BIGINT, dp DOUBLE PRECISION, fp FLOATING POINT, dc DECIMAL(10,2),\n"
    "  ci CHARINT, d DATE, PRIMARY KEY(id, scope));\n";

/* Column, and its affinity by SQLite's rules (datatype3.html 3.1). */
static const struct {
  const char *col;
  li_affinity aff;
} s_cols[] = {
    {"i", LI_AFF_INT},   {"t", LI_AFF_TEXT},  {"r", LI_AFF_REAL}, {"b", LI_AFF_BLOB}, {"n", LI_AFF_ANY},
    {"u", LI_AFF_BLOB},  {"vc", LI_AFF_TEXT}, {"bi", LI_AFF_INT}, {"dp", LI_AFF_REAL},
    {"fp", LI_AFF_INT}, /* "FLOATING POINT" holds "INT": rule 1 comes first */
    {"dc", LI_AFF_ANY},  {"ci", LI_AFF_INT},  {"d", LI_AFF_ANY},
};
#define S_NCOLS (sizeof s_cols / sizeof s_cols[0])

typedef struct {
  tu_street s;
  li_node *hub;
  li_table *t;
  li_arena a;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_street_new(&f->s, s_schema);
  f->hub = f->s.hub;
  f->t = li_capture_table(f->hub->r, "kinds");
  assert_non_null(f->t);
  tu_exec(f->hub, "INSERT INTO kinds(id, scope) VALUES('k1', 'street')");
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

static int s_col_index(const li_table *t, const char *col) {
  for (int i = 0; i < t->ncols; i++)
    if (strcmp(t->cols[i], col) == 0) return i;
  fail_msg("no column %s", col);
  return -1;
}

static bool s_same_value(const Linli__Value *a, const Linli__Value *b) {
  if (a->v_case != b->v_case) return false;
  switch (a->v_case) {
  case LINLI__VALUE__V_I: return a->i == b->i;
  case LINLI__VALUE__V_F: return memcmp(&a->f, &b->f, sizeof a->f) == 0 || a->f == b->f;
  case LINLI__VALUE__V_T: return strcmp(a->t, b->t) == 0;
  case LINLI__VALUE__V_B: return a->b.len == b->b.len && (a->b.len == 0 || memcmp(a->b.data, b->b.data, a->b.len) == 0);
  default: return true;
  }
}

static const char *s_case_name(const Linli__Value *v) {
  switch (v->v_case) {
  case LINLI__VALUE__V_I: return "INTEGER";
  case LINLI__VALUE__V_F: return "REAL";
  case LINLI__VALUE__V_T: return "TEXT";
  case LINLI__VALUE__V_B: return "BLOB";
  case LINLI__VALUE__V_NULL: return "NULL";
  default: return "unset";
  }
}

/* ---- to and from SQLite ---- */

static const uint8_t s_bytes3[] = {0x00, 0x01, 0xff};

typedef struct {
  const char *name;
  Linli__Value v;
  bool same;          /* comes back as it went in */
} s_rt_case;

static void test_round_trip(void **state) {
  fx *f = *state;
  s_rt_case cases[] = {
      {"null", {.v_case = LINLI__VALUE__V_NULL, .null = 1}, true},
      {"int_zero", {.v_case = LINLI__VALUE__V_I, .i = 0}, true},
      {"int_negative", {.v_case = LINLI__VALUE__V_I, .i = -7}, true},
      {"int_min", {.v_case = LINLI__VALUE__V_I, .i = INT64_MIN}, true},
      {"int_max", {.v_case = LINLI__VALUE__V_I, .i = INT64_MAX}, true},
      {"real_half", {.v_case = LINLI__VALUE__V_F, .f = 0.5}, true},
      {"real_tenth", {.v_case = LINLI__VALUE__V_F, .f = 0.1}, true},
      {"real_huge", {.v_case = LINLI__VALUE__V_F, .f = -1e300}, true},
      {"real_integral", {.v_case = LINLI__VALUE__V_F, .f = 2.0}, true},
      {"real_infinity", {.v_case = LINLI__VALUE__V_F, .f = INFINITY}, true},
      {"real_nan", {.v_case = LINLI__VALUE__V_F, .f = NAN}, false}, /* SQLite stores NULL */
      {"text_empty", {.v_case = LINLI__VALUE__V_T, .t = ""}, true},
      {"text_ascii", {.v_case = LINLI__VALUE__V_T, .t = "R-001"}, true},
      {"text_utf8", {.v_case = LINLI__VALUE__V_T, .t = "邻里 新华路12号"}, true},
      {"text_quote", {.v_case = LINLI__VALUE__V_T, .t = "it's \"x\""}, true},
      {"text_number", {.v_case = LINLI__VALUE__V_T, .t = "12"}, true},
      {"blob_empty", {.v_case = LINLI__VALUE__V_B, .b = {0, NULL}}, true},
      {"blob_bytes", {.v_case = LINLI__VALUE__V_B, .b = {sizeof s_bytes3, (uint8_t *)s_bytes3}}, true},
  };
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT ?", -1, &st, NULL), SQLITE_OK);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const s_rt_case *c = &cases[i];
    assert_int_equal(li_value_bind(st, 1, &c->v), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    Linli__Value *out = li_value_from_column(&f->a, st, 0);
    Linli__Value *out2 = li_value_from_sqlite(&f->a, sqlite3_column_value(st, 0));
    assert_non_null(out);
    assert_non_null(out2);
    assert_true(s_same_value(out, out2));
    if (s_same_value(&c->v, out) != c->same)
      fail_msg("case %s: went in as %s, came back as %s", c->name, s_case_name(&c->v), s_case_name(out));
    assert_true(li_value_equals_column(out, st, 0));
    assert_int_equal(li_value_equals_column(&c->v, st, 0), c->same);
    if (!c->same) assert_int_equal(out->v_case, LINLI__VALUE__V_NULL);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  sqlite3_finalize(st);
}

/* li_value_equals_column compares type and content: no cross-type equality. */
static void test_equals_column(void **state) {
  fx *f = *state;
  Linli__Value v;
  static const struct {
    const char *sql;     /* the column */
    int kind;            /* 0 null, 1 int, 2 real, 3 text, 4 blob */
    int64_t i;
    double r;
    const char *t;       /* text, or blob bytes */
    size_t n;
    bool equal;
  } cases[] = {
      {"NULL", 0, 0, 0, NULL, 0, true},
      {"''", 0, 0, 0, NULL, 0, false},
      {"1", 1, 1, 0, NULL, 0, true},
      {"1", 1, 2, 0, NULL, 0, false},
      {"1.0", 1, 1, 0, NULL, 0, false},
      {"'1'", 1, 1, 0, NULL, 0, false},
      {"NULL", 1, 0, 0, NULL, 0, false},
      {"1.5", 2, 0, 1.5, NULL, 0, true},
      {"1", 2, 0, 1.0, NULL, 0, false},
      {"-0.0", 2, 0, 0.0, NULL, 0, true}, /* numerically equal */
      {"'abc'", 3, 0, 0, "abc", 3, true},
      {"'abcd'", 3, 0, 0, "abc", 3, false},
      {"'ab'", 3, 0, 0, "abc", 3, false},
      {"x'616263'", 3, 0, 0, "abc", 3, false},
      {"12", 3, 0, 0, "12", 2, false},
      {"NULL", 3, 0, 0, "", 0, false},
      {"x'616263'", 4, 0, 0, "abc", 3, true},
      {"'abc'", 4, 0, 0, "abc", 3, false},
      {"x''", 4, 0, 0, "", 0, true},
      {"x'6162'", 4, 0, 0, "abc", 3, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    switch (cases[i].kind) {
    case 0: tu_v_null(&v); break;
    case 1: tu_v_int(&v, cases[i].i); break;
    case 2: tu_v_real(&v, cases[i].r); break;
    case 3: tu_v_text(&v, cases[i].t); break;
    default: tu_v_blob(&v, cases[i].t, cases[i].n);
    }
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT %s", cases[i].sql);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    if (li_value_equals_column(&v, st, 0) != cases[i].equal)
      fail_msg("case %zu: %s value vs column %s: expected %s", i, s_case_name(&v), cases[i].sql,
               cases[i].equal ? "equal" : "different");
    sqlite3_finalize(st);
  }
}

/* ---- li_value_fits ---- */

/* The catalogue's affinity of each column follows SQLite's rules, and
 * agrees with how SQLite stores '12' and 12 in it. */
static void test_affinities(void **state) {
  fx *f = *state;
  for (size_t i = 0; i < S_NCOLS; i++) {
    int j = s_col_index(f->t, s_cols[i].col);
    if (f->t->aff[j] != s_cols[i].aff)
      fail_msg("column %s: affinity %d, expected %d", s_cols[i].col, f->t->aff[j], s_cols[i].aff);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE kinds SET \"%s\" = '12' WHERE id='k1'", s_cols[i].col);
    tu_exec(f->hub, sql);
    snprintf(sql, sizeof sql, "SELECT typeof(\"%s\") FROM kinds WHERE id='k1'", s_cols[i].col);
    const char *text_in = tu_text(f->hub, sql);
    snprintf(sql, sizeof sql, "UPDATE kinds SET \"%s\" = 12 WHERE id='k1'", s_cols[i].col);
    tu_exec(f->hub, sql);
    snprintf(sql, sizeof sql, "SELECT typeof(\"%s\") FROM kinds WHERE id='k1'", s_cols[i].col);
    const char *int_in = tu_text(f->hub, sql);
    const char *want_text = s_cols[i].aff == LI_AFF_TEXT || s_cols[i].aff == LI_AFF_BLOB ? "text"
                            : s_cols[i].aff == LI_AFF_REAL                              ? "real"
                                                                                        : "integer";
    const char *want_int = s_cols[i].aff == LI_AFF_TEXT ? "text" : s_cols[i].aff == LI_AFF_REAL ? "real" : "integer";
    if (strcmp(text_in, want_text) != 0 || strcmp(int_in, want_int) != 0)
      fail_msg("column %s stores '12' as %s and 12 as %s", s_cols[i].col, text_in, int_in);
  }
}

/* The matrix: an INTEGER or REAL never fits a TEXT column; everything else fits. */
static void test_fits_matrix(void **state) {
  (void)state;
  Linli__Value vs[5];
  tu_v_null(&vs[0]);
  tu_v_int(&vs[1], 1);
  tu_v_real(&vs[2], 1.5);
  tu_v_text(&vs[3], "x");
  tu_v_blob(&vs[4], "x", 1);
  static const li_affinity affs[] = {LI_AFF_ANY, LI_AFF_TEXT, LI_AFF_INT, LI_AFF_REAL, LI_AFF_BLOB};
  /*                          NULL   INT    REAL   TEXT   BLOB */
  static const bool want[5][5] = {{true, true, true, true, true},     /* ANY (NUMERIC) */
                                  {true, false, false, true, true},   /* TEXT */
                                  {true, true, true, true, true},     /* INTEGER */
                                  {true, true, true, true, true},     /* REAL */
                                  {true, true, true, true, true}};    /* BLOB */
  for (size_t a = 0; a < 5; a++)
    for (size_t k = 0; k < 5; k++)
      if (li_value_fits(&vs[k], affs[a]) != want[a][k])
        fail_msg("li_value_fits(%s, affinity %d) should be %s", s_case_name(&vs[k]), affs[a], want[a][k] ? "true" : "false");
}

/* BUG (found in issue 8, fixed in node/value.c): li_value_fits refused
 * values that SQLite keeps in a column, so a commit sealed by an honest
 * replica could be refused by every other with LI_ERR_TYPE, which stalls
 * the writer's chain for good (DESIGN 13): a text or a fractional number
 * in an INTEGER column, a blob in a TEXT column, a text in a REAL column.
 * Property: every value SQLite stores in a column fits its affinity, and
 * bound into the column again it is stored unchanged (so every replica
 * holds what the writer holds). test_merge has the end-to-end case. The
 * capture triggers now refuse most of these at the source (test_capture),
 * so they are written here with capture silenced, as values from a peer. */
static void test_fits_what_sqlite_stores(void **state) {
  fx *f = *state;
  tu_exec(f->hub, "INSERT INTO linli_applying VALUES(1)");
  static const char *const literals[] = {"NULL",   "0",      "-7",  "9223372036854775807", "1.5",     "2.0",
                                         "1e300",  "''",     "'abc'", "'12'",              "' 12 '",  "'1.5'",
                                         "'0x10'", "x''",    "x'00ff'", "'邻里'",          "'1e999'", "-0.0"};
  for (size_t i = 0; i < S_NCOLS; i++) {
    int j = s_col_index(f->t, s_cols[i].col);
    for (size_t k = 0; k < sizeof literals / sizeof literals[0]; k++) {
      char sql[200];
      snprintf(sql, sizeof sql, "UPDATE kinds SET \"%s\" = %s WHERE id='k1'", s_cols[i].col, literals[k]);
      tu_exec(f->hub, sql);
      snprintf(sql, sizeof sql, "SELECT \"%s\" FROM kinds WHERE id='k1'", s_cols[i].col);
      sqlite3_stmt *st = NULL;
      assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, sql, -1, &st, NULL), SQLITE_OK);
      assert_int_equal(sqlite3_step(st), SQLITE_ROW);
      Linli__Value *v = li_value_from_column(&f->a, st, 0);
      assert_non_null(v);
      sqlite3_finalize(st);
      if (!li_value_fits(v, f->t->aff[j]))
        fail_msg("BUG: column %s holds %s as %s, but li_value_fits refuses it: a replica sealing it would be "
                 "refused by every other",
                 s_cols[i].col, literals[k], s_case_name(v));
      /* stored again, through the statement merge uses, it stays the same */
      snprintf(sql, sizeof sql, "UPDATE kinds SET \"%s\" = ? WHERE id='k1'", s_cols[i].col);
      assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, sql, -1, &st, NULL), SQLITE_OK);
      li_value_bind(st, 1, v);
      assert_int_equal(sqlite3_step(st), SQLITE_DONE);
      sqlite3_finalize(st);
      snprintf(sql, sizeof sql, "SELECT \"%s\" FROM kinds WHERE id='k1'", s_cols[i].col);
      assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, sql, -1, &st, NULL), SQLITE_OK);
      assert_int_equal(sqlite3_step(st), SQLITE_ROW);
      if (!li_value_equals_column(v, st, 0))
        fail_msg("column %s: %s did not survive being stored again", s_cols[i].col, literals[k]);
      sqlite3_finalize(st);
    }
  }
  tu_exec(f->hub, "DELETE FROM linli_applying");
}

/* What a TEXT column refuses it never holds: SQLite stores numbers in it as text. */
static void test_text_column_never_holds_numbers(void **state) {
  fx *f = *state;
  static const char *const numbers[] = {"0", "-7", "1.5", "1e300", "9223372036854775807"};
  for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++) {
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE kinds SET t = %s, vc = %s WHERE id='k1'", numbers[k], numbers[k]);
    tu_exec(f->hub, sql);
    assert_string_equal(tu_text(f->hub, "SELECT typeof(t) || typeof(vc) FROM kinds WHERE id='k1'"), "texttext");
  }
}

/* ---- li_value_format ---- */

typedef struct {
  const char *name;
  Linli__Value v;
  size_t cap;
  const char *want;
} s_fmt_case;

static void test_format(void **state) {
  (void)state;
  static char long_a[301], long_cjk[3 * 100 + 1], long_nl[201];
  memset(long_a, 'a', 300);
  for (int i = 0; i < 100; i++) memcpy(long_cjk + 3 * i, "邻", 3);
  memset(long_nl, '\n', 200);
  s_fmt_case cases[] = {
      {"null", {.v_case = LINLI__VALUE__V_NULL, .null = 1}, 64, "NULL"},
      {"int", {.v_case = LINLI__VALUE__V_I, .i = -5}, 64, "-5"},
      {"int_min", {.v_case = LINLI__VALUE__V_I, .i = INT64_MIN}, 64, "-9223372036854775808"},
      {"real", {.v_case = LINLI__VALUE__V_F, .f = 0.1}, 64, "0.10000000000000001"},
      {"real_inf", {.v_case = LINLI__VALUE__V_F, .f = INFINITY}, 64, "inf"},
      {"blob", {.v_case = LINLI__VALUE__V_B, .b = {3, (uint8_t *)"abc"}}, 64, "x'<3 bytes>'"},
      {"text", {.v_case = LINLI__VALUE__V_T, .t = "abc"}, 64, "'abc'"},
      {"text_empty", {.v_case = LINLI__VALUE__V_T, .t = ""}, 64, "''"},
      {"text_utf8", {.v_case = LINLI__VALUE__V_T, .t = "新华路12号"}, 64, "'新华路12号'"},
      {"text_quote", {.v_case = LINLI__VALUE__V_T, .t = "it's"}, 64, "'it''s'"},
      {"text_backslash", {.v_case = LINLI__VALUE__V_T, .t = "a\\x0a"}, 64, "'a\\\\x0a'"},
      {"text_newline", {.v_case = LINLI__VALUE__V_T, .t = "a\nb\r"}, 64, "'a\\x0ab\\x0d'"},
      {"text_terminal_escape", {.v_case = LINLI__VALUE__V_T, .t = "\x1b[2J\x1b]0;pwned\x07"}, 64,
       "'\\x1b[2J\\x1b]0;pwned\\x07'"},
      {"text_del", {.v_case = LINLI__VALUE__V_T, .t = "\x7f"}, 64, "'\\x7f'"},
      {"text_c1_control", {.v_case = LINLI__VALUE__V_T, .t = "a\xc2\x9b" "31m"}, 64, "'a\\u{009b}31m'"},
      {"text_bidi_override", {.v_case = LINLI__VALUE__V_T, .t = "abc\xe2\x80\xae" "fed"}, 64, "'abc\\u{202e}fed'"},
      {"text_line_separator", {.v_case = LINLI__VALUE__V_T, .t = "a\xe2\x80\xa8" "b"}, 64, "'a\\u{2028}b'"},
      {"text_invalid_utf8", {.v_case = LINLI__VALUE__V_T, .t = "a\xff\xc3(\xe2\x82"}, 64, "'a\\xff\\xc3(\\xe2\\x82'"},
      {"text_overlong_utf8", {.v_case = LINLI__VALUE__V_T, .t = "\xc0\xaf"}, 64, "'\\xc0\\xaf'"},
      {"text_surrogate", {.v_case = LINLI__VALUE__V_T, .t = "\xed\xa0\x80"}, 64, "'\\xed\\xa0\\x80'"},
      /* cut: at a character boundary, never inside an escape, marked */
      {"cut_ascii", {.v_case = LINLI__VALUE__V_T, .t = long_a}, 12, "'aaaaaa...'"},
      {"cut_cjk_11", {.v_case = LINLI__VALUE__V_T, .t = long_cjk}, 11, "'邻...'"},
      {"cut_cjk_12", {.v_case = LINLI__VALUE__V_T, .t = long_cjk}, 12, "'邻邻...'"},
      {"cut_cjk_14", {.v_case = LINLI__VALUE__V_T, .t = long_cjk}, 14, "'邻邻...'"},
      {"cut_cjk_15", {.v_case = LINLI__VALUE__V_T, .t = long_cjk}, 15, "'邻邻邻...'"},
      {"cut_escape", {.v_case = LINLI__VALUE__V_T, .t = long_nl}, 14, "'\\x0a\\x0a...'"},
      {"fits_exactly", {.v_case = LINLI__VALUE__V_T, .t = "abc"}, 6, "'abc'"},
      {"one_short", {.v_case = LINLI__VALUE__V_T, .t = "abc"}, 5, "...'"},
      {"tiny", {.v_case = LINLI__VALUE__V_T, .t = "abc"}, 3, ".."},
      {"cap_one", {.v_case = LINLI__VALUE__V_T, .t = "abc"}, 1, ""},
      {"int_cut", {.v_case = LINLI__VALUE__V_I, .i = 123456}, 4, "123"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[512];
    memset(buf, 0x55, sizeof buf);
    li_value_format(&cases[i].v, buf, cases[i].cap);
    if (strcmp(buf, cases[i].want) != 0) fail_msg("case %s: got %s, expected %s", cases[i].name, buf, cases[i].want);
    assert_true(strlen(buf) < cases[i].cap);
    assert_int_equal((unsigned char)buf[cases[i].cap], 0x55); /* nothing written past cap */
  }
  /* cap 0 writes nothing */
  char one = 'z';
  li_value_format(&cases[6].v, &one, 0);
  assert_int_equal(one, 'z');
}

/* Whatever the bytes and the room: valid UTF-8 without control characters
 * (value.h invariant 3), within cap. Deterministic inputs. */
static void test_format_any_bytes(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15u;
  char text[64], buf[80];
  for (int round = 0; round < 20000; round++) {
    size_t n = (size_t)(round % 63);
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      text[i] = (char)((x & 3) == 0 ? (x >> 8) % 32 : (x >> 8) % 256); /* many controls */
      if (text[i] == 0) text[i] = '\x01';
    }
    text[n] = 0;
    Linli__Value v;
    tu_v_text(&v, text);
    size_t cap = 1 + (size_t)(x % sizeof buf);
    li_value_format(&v, buf, cap);
    size_t len = strlen(buf);
    assert_true(len < cap);
    const unsigned char *p = (const unsigned char *)buf;
    for (size_t i = 0; i < len;) {
      if (p[i] < 0x20 || p[i] == 0x7f) fail_msg("control byte 0x%02x in the output", p[i]);
      size_t k = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3 : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
      if (k == 0 || i + k > len) fail_msg("invalid UTF-8 in the output at %zu: %s", i, buf);
      for (size_t j = 1; j < k; j++)
        if ((p[i + j] & 0xC0) != 0x80) fail_msg("invalid UTF-8 in the output at %zu", i);
      if (k == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) fail_msg("C1 control in the output");
      i += k;
    }
  }
}

/* Issue 9 finding 4: a TEXT value holding a NUL byte (SQLite allows it,
 * e.g. CAST(x'610062' AS TEXT) or a bind with an explicit length) cannot
 * be carried by a Value, whose text is a C string: sealed, it was cut at the
 * NUL, so the writer kept "a\0b" and every other replica got "a",
 * silently. The capture trigger now refuses it in the writer's statement,
 * naming table and column; nothing is recorded, nothing reaches a peer. A
 * blob may hold NUL bytes (control). */
static void test_text_with_nul_refused(void **state) {
  fx *f = *state;
  li_node *c = tu_street_committee(&f->s, "c07", "c07", true, s_schema);
  tu_exec(f->hub, "DELETE FROM linli_dirty");
  static const char *const writes[] = {
      "INSERT INTO kinds(id, scope, t) VALUES('k2', 'street', CAST(x'610062' AS TEXT))",
      "INSERT INTO kinds(id, scope, vc) VALUES('k2', 'street', 'a' || char(0) || 'b')",
      "UPDATE kinds SET t = CAST(x'610062' AS TEXT) WHERE id = 'k1'",
  };
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    char msg[512];
    assert_int_equal(tu_exec_rc(f->hub->r->db, writes[i], msg, sizeof msg) & 0xff, SQLITE_CONSTRAINT);
    if (!strstr(msg, "linli: kinds.") || !strstr(msg, "NUL"))
      fail_msg("write %zu: the message does not name the column and the NUL: %s", i, msg);
  }
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM kinds WHERE id = 'k2'"), 0);
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM linli_dirty"), 0);
  tu_exec(f->hub, "INSERT INTO kinds(id, scope, b) VALUES('k3', 'street', x'610062')");
  tu_seal(f->hub, f->s.t0 + 1000);
  tu_sync(f->hub, c, f->s.t0 + 2000);
  assert_int_equal(tu_int(c, "SELECT length(b) FROM kinds WHERE id = 'k3'"), 3);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_equals_column, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_affinities, fx_setup, fx_teardown),
      cmocka_unit_test(test_fits_matrix),
      cmocka_unit_test_setup_teardown(test_fits_what_sqlite_stores, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_text_column_never_holds_numbers, fx_setup, fx_teardown),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_format_any_bytes),
      cmocka_unit_test_setup_teardown(test_text_with_nul_refused, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests_name("value", tests, NULL, NULL);
}

/* Tests of node/out.c, table-driven: one row per input, the exact output
 * expected, and one driver per kind of output.
 *
 *   s_text_cases   untrusted text -> JSON string, CSV field, terminal text
 *                  (every row checks all three);
 *   s_bad_utf8     every invalid sequence (cut short, overlong, surrogate,
 *                  past U+10FFFF, a lone continuation, bytes never used) at
 *                  the start, in the middle and at the end of a string,
 *                  through all three outputs: one U+FFFD per bad byte;
 *   s_width_cases  terminal columns (CJK 2, combining and zero-width 0,
 *                  controls shown as '?' 1);
 *   s_clean_cases  cuts at a width with '~' (CJK, combining marks, bytes);
 *   s_json_cases   writer programs and the exact document each writes;
 *   s_misuse       writer calls that would make invalid JSON: each must
 *                  abort (assert), run in a child process;
 *   tables, CSV records, and the layout of li_out_pad.
 *
 * Every JSON and every output is also checked by two small validators of
 * the test's own (a JSON grammar and a strict UTF-8 decoder), and a control
 * case proves each validator can fail. */
#include "testutil.h"

#include <stdbool.h>
#include <sys/wait.h>

#include "out.h"

/* ---- capturing output ---- */

typedef struct {
  FILE *f;
  char *buf;
  size_t len;
} s_cap;

static void s_cap_open(s_cap *c) {
  c->buf = NULL;
  c->len = 0;
  c->f = open_memstream(&c->buf, &c->len);
  assert_non_null(c->f);
}

/* Closes the stream; the text stays in c->buf (caller frees). */
static const char *s_cap_close(s_cap *c) {
  assert_int_equal(fclose(c->f), 0);
  return c->buf;
}

/* ---- validators of the test's own ---- */

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or values past
 * U+10FFFF. */
static bool s_valid_utf8(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || i + len > n) return false;
    unsigned v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      v = (v << 6) | (p[i + k] & 0x3F);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

static const char *s_json_value(const char *p, int depth);

static const char *s_json_ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  return p;
}

static const char *s_json_string(const char *p) {
  if (*p++ != '"') return NULL;
  while (*p && *p != '"') {
    if ((unsigned char)*p < 0x20) return NULL;
    if (*p == '\\') {
      p++;
      if (*p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!p[i] || !strchr("0123456789abcdefABCDEF", p[i])) return NULL;
        p += 4;
      } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
        return NULL;
      }
    }
    p++;
  }
  return *p == '"' ? p + 1 : NULL;
}

static const char *s_json_seq(const char *p, char close, bool keys, int depth) {
  p = s_json_ws(p + 1);
  if (*p == close) return p + 1;
  for (;;) {
    if (keys) {
      if (!(p = s_json_string(s_json_ws(p)))) return NULL;
      p = s_json_ws(p);
      if (*p++ != ':') return NULL;
    }
    if (!(p = s_json_value(p, depth + 1))) return NULL;
    p = s_json_ws(p);
    if (*p == close) return p + 1;
    if (*p++ != ',') return NULL;
  }
}

static const char *s_json_value(const char *p, int depth) {
  if (depth > 32) return NULL;
  p = s_json_ws(p);
  if (*p == '{') return s_json_seq(p, '}', true, depth);
  if (*p == '[') return s_json_seq(p, ']', false, depth);
  if (*p == '"') return s_json_string(p);
  if (!strncmp(p, "true", 4)) return p + 4;
  if (!strncmp(p, "false", 5)) return p + 5;
  if (!strncmp(p, "null", 4)) return p + 4;
  if (*p != '-' && (*p < '0' || *p > '9')) return NULL;
  char *end;
  strtod(p, &end);
  return end == p ? NULL : end;
}

static bool s_valid_json(const char *j) {
  const char *end = s_json_value(j, 0);
  return end && !*s_json_ws(end);
}

static void test_validators_can_fail(void **state) {
  (void)state;
  /* control: what the checks below rely on rejects what it must */
  assert_true(s_valid_utf8("a中\xF0\x9F\x98\x80", 8));
  const char *bad_utf8[] = {"\xff", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE4\xB8", "\x80"};
  for (size_t i = 0; i < sizeof bad_utf8 / sizeof *bad_utf8; i++)
    assert_false(s_valid_utf8(bad_utf8[i], strlen(bad_utf8[i])));
  assert_true(s_valid_json("{\"a\":[1,-2.5,\"x\\u0001\",null,true]}\n"));
  const char *bad_json[] = {"{\"a\":1,}", "[1 2]", "{\"a\"}", "\"a\nb\"", "{} {}", "[", "\"\\x\""};
  for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) assert_false(s_valid_json(bad_json[i]));
}

/* ---- untrusted text through the three outputs ---- */

typedef struct {
  const char *name;
  const char *in;
  const char *json;     /* li_json_str as a whole document, without the newline */
  const char *csv;      /* li_csv_text as one field */
  const char *terminal; /* li_out_text */
} s_text_case;

static const s_text_case s_text_cases[] = {
    {"empty", "", "\"\"", "", ""},
    {"plain", "c07 居委会", "\"c07 居委会\"", "c07 居委会", "c07 居委会"},
    {"quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\"", "\"a\"\"b\\c\"", "a\"b\\c"},
    {"newline, CR, tab", "a\nb\rc\td", "\"a\\nb\\rc\\td\"", "\"a\nb\rc\td\"", "a?b?c?d"},
    {"C0 and ESC", "\x01x\x1b[31m", "\"\\u0001x\\u001b[31m\"", "\x01x\x1b[31m", "?x?[31m"},
    {"DEL", "a\x7f", "\"a\\u007f\"", "a\x7f", "a?"},
    {"C1 (U+0085, U+009B)", "a\xC2\x85\xC2\x9B", "\"a\\u0085\\u009b\"", "a\xC2\x85\xC2\x9B", "a??"},
    {"line and paragraph separators", "a\xE2\x80\xA8\xE2\x80\xA9", "\"a\\u2028\\u2029\"", "a\xE2\x80\xA8\xE2\x80\xA9",
     "a??"},
    {"bidi override and isolates", "\xE2\x80\xAEgnp.exe\xE2\x81\xA6", "\"\xE2\x80\xAEgnp.exe\xE2\x81\xA6\"",
     "\xE2\x80\xAEgnp.exe\xE2\x81\xA6", "?gnp.exe?"},
    {"zero-width joiner is kept", "a\xE2\x80\x8D", "\"a\xE2\x80\x8D\"", "a\xE2\x80\x8D", "a\xE2\x80\x8D"},
    {"emoji", "\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\"", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
    {"formula =", "=HYPERLINK(\"x\")", "\"=HYPERLINK(\\\"x\\\")\"", "\"'=HYPERLINK(\"\"x\"\")\"", "=HYPERLINK(\"x\")"},
    {"formula +", "+1", "\"+1\"", "'+1", "+1"},
    {"formula -", "-1+2", "\"-1+2\"", "'-1+2", "-1+2"},
    {"formula @", "@SUM(A1)", "\"@SUM(A1)\"", "'@SUM(A1)", "@SUM(A1)"},
    {"formula after tab", "\t=1", "\"\\t=1\"", "'\t=1", "?=1"},
    {"formula after CR", "\r=1", "\"\\r=1\"", "\"'\r=1\"", "?=1"},
    {"= later is no formula", "a=1", "\"a=1\"", "a=1", "a=1"},
    {"comma", "a,b", "\"a,b\"", "\"a,b\"", "a,b"},
    {"invalid byte", "a\xffz", "\"a\xEF\xBF\xBDz\"", "a\xEF\xBF\xBDz", "a\xEF\xBF\xBDz"},
};

static void s_check_text_case(const s_text_case *c) {
  s_cap cap;
  s_cap_open(&cap);
  li_json j;
  li_json_init(&j, cap.f);
  li_json_str(&j, c->in);
  li_json_end(&j);
  const char *out = s_cap_close(&cap);
  if (strncmp(out, c->json, strlen(c->json)) != 0 || strcmp(out + strlen(c->json), "\n") != 0)
    fail_msg("case %s: JSON %s, want %s", c->name, out, c->json);
  if (!s_valid_json(out) || !s_valid_utf8(out, strlen(out))) fail_msg("case %s: JSON not valid: %s", c->name, out);
  free(cap.buf);

  s_cap_open(&cap);
  li_csv csv = {.f = cap.f};
  li_csv_text(&csv, c->in);
  out = s_cap_close(&cap);
  if (strcmp(out, c->csv) != 0) fail_msg("case %s: CSV '%s', want '%s'", c->name, out, c->csv);
  free(cap.buf);

  s_cap_open(&cap);
  li_out_text(cap.f, c->in);
  out = s_cap_close(&cap);
  if (strcmp(out, c->terminal) != 0) fail_msg("case %s: terminal '%s', want '%s'", c->name, out, c->terminal);
  if (!s_valid_utf8(out, strlen(out))) fail_msg("case %s: terminal text not UTF-8", c->name);
  free(cap.buf);
}

static void test_text_cases(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_text_cases / sizeof *s_text_cases; i++) s_check_text_case(&s_text_cases[i]);
}

/* ---- invalid UTF-8 in every position ---- */

typedef struct {
  const char *name;
  const char *bytes;
  int replaced; /* U+FFFD written for it: one per byte that starts no valid sequence */
  const char *kept; /* what of it survives after the replacements ("" when nothing) */
} s_bad;

static const s_bad s_bad_utf8[] = {
    {"lone continuation", "\x80", 1, ""},
    {"byte 0xFF", "\xff", 1, ""},
    {"byte 0xFE", "\xfe", 1, ""},
    {"lead 0xF5 (past U+10FFFF)", "\xF5\x80\x80\x80", 4, ""},
    {"overlong NUL", "\xC0\x80", 2, ""},
    {"overlong '/' in 2", "\xC1\xAF", 2, ""},
    {"overlong in 3", "\xE0\x80\xAF", 3, ""},
    {"overlong in 4", "\xF0\x80\x80\xAF", 4, ""},
    {"surrogate D800", "\xED\xA0\x80", 3, ""},
    {"surrogate DFFF", "\xED\xBF\xBF", 3, ""},
    {"past U+10FFFF", "\xF4\x90\x80\x80", 4, ""},
    {"2-byte cut short", "\xC3", 1, ""},
    {"3-byte cut short", "\xE4\xB8", 2, ""},
    {"4-byte cut short", "\xF0\x9F\x98", 3, ""},
    {"lead then ASCII", "\xE4x", 1, "x"},
    {"two leads", "\xE4\xE4\xB8\xAD", 1, "中"},
};

/* One bad sequence at position pos (0 start, 1 middle, 2 end) of a string;
 * want is the same string with the sequence repaired. */
static void s_bad_strings(const s_bad *b, int pos, char *in, char *want) {
  static const char *const pre[3] = {"", "居", "居委"}, *const post[3] = {"会z", "会", ""};
  char repl[64] = "";
  for (int i = 0; i < b->replaced; i++) strcat(repl, "\xEF\xBF\xBD");
  strcat(repl, b->kept);
  sprintf(in, "%s%s%s", pre[pos], b->bytes, post[pos]);
  sprintf(want, "%s%s%s", pre[pos], repl, post[pos]);
}

static void test_bad_utf8_everywhere(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_bad_utf8 / sizeof *s_bad_utf8; i++) {
    for (int pos = 0; pos < 3; pos++) {
      const s_bad *b = &s_bad_utf8[i];
      char in[128], want[128], want_json[160];
      s_bad_strings(b, pos, in, want);
      snprintf(want_json, sizeof want_json, "\"%s\"\n", want);
      s_cap cap;
      s_cap_open(&cap);
      li_json j;
      li_json_init(&j, cap.f);
      li_json_str(&j, in);
      li_json_end(&j);
      const char *out = s_cap_close(&cap);
      if (strcmp(out, want_json) != 0) fail_msg("%s at %d: JSON %s, want %s", b->name, pos, out, want_json);
      assert_true(s_valid_utf8(out, strlen(out)) && s_valid_json(out));
      free(cap.buf);
      s_cap_open(&cap);
      li_out_text(cap.f, in);
      li_csv csv = {.f = cap.f};
      li_csv_text(&csv, in);
      out = s_cap_close(&cap);
      char want2[300];
      snprintf(want2, sizeof want2, "%s%s", want, want);
      if (strcmp(out, want2) != 0) fail_msg("%s at %d: terminal+CSV '%s', want '%s'", b->name, pos, out, want2);
      free(cap.buf);
      assert_int_equal(li_out_width(in), li_out_width(want));
    }
  }
}

/* ---- terminal columns and cuts ---- */

typedef struct {
  const char *in;
  int width;
} s_width_case;

static const s_width_case s_width_cases[] = {
    {"", 0},
    {"abc", 3},
    {"居委会", 6},                    /* CJK ideographs: 2 */
    {"ｃ０７", 6},                    /* fullwidth forms: 2 */
    {"\xE3\x80\x80", 2},              /* ideographic space */
    {"한국", 4},                      /* Hangul syllables */
    {"\xF0\x9F\x98\x80", 2},          /* emoji presentation */
    {"e\xCC\x81", 1},                 /* e + combining acute */
    {"a\xE2\x80\x8B" "b", 2},         /* zero-width space */
    {"\x1b[31m", 5},                  /* ESC shown as '?' */
    {"\xff\xfe", 2},                  /* each bad byte as U+FFFD */
    {"\xE2\x80\xAE", 1},              /* bidi override as '?' */
};

static void test_widths(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_width_cases / sizeof *s_width_cases; i++)
    if (li_out_width(s_width_cases[i].in) != s_width_cases[i].width)
      fail_msg("width of '%s': %d, want %d", s_width_cases[i].in, li_out_width(s_width_cases[i].in),
               s_width_cases[i].width);
}

typedef struct {
  const char *in;
  int cols;
  size_t cap;
  const char *want;
} s_clean_case;

static const s_clean_case s_clean_cases[] = {
    {"abcd", 4, 64, "abcd"},              /* fits exactly: no cut */
    {"abcde", 4, 64, "abc~"},             /* the '~' counts in the width */
    {"居委会", 6, 64, "居委会"},
    {"居委会", 5, 64, "居委~"},
    {"居委会", 4, 64, "居~"},             /* 委 would fit, but not with the '~' */
    {"a居", 2, 64, "a~"},
    {"居", 1, 64, "~"},                   /* not even one wide character fits */
    {"e\xCC\x81\xCC\x81x", 2, 64, "e\xCC\x81\xCC\x81x"},
    {"ab\xCC\x81" "cd", 3, 64, "ab\xCC\x81~"}, /* a mark stays with its letter */
    {"\x1b[2J", 8, 64, "?[2J"},
    {"\x1b[2Jabcdef", 4, 64, "?[2~"},
    {"\xff" "abc", 3, 64, "\xEF\xBF\xBD" "a~"},
    {"abcdefghijkl", 32, 8, "abcdef~"}, /* bytes run out first: cap 8 holds 6 + '~' + NUL */
};

static void test_clean_and_cut(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_clean_cases / sizeof *s_clean_cases; i++) {
    const s_clean_case *c = &s_clean_cases[i];
    char out[64];
    memset(out, 'X', sizeof out);
    li_out_clean(out, c->cap, c->in, c->cols);
    if (strcmp(out, c->want) != 0) fail_msg("clean '%s' to %d: '%s', want '%s'", c->in, c->cols, out, c->want);
    assert_true(strlen(out) < c->cap);
    assert_true(li_out_width(out) <= c->cols);
  }
  /* many zero-width marks: bounded by bytes, still within the width */
  char marks[2 * 300 + 2] = "a";
  for (int i = 0; i < 300; i++) strcat(marks, "\xCC\x81");
  char out[LI_OUT_CELL_BYTES];
  li_out_clean(out, sizeof out, marks, 4);
  assert_true(strlen(out) < sizeof out);
  assert_int_equal(out[strlen(out) - 1], '~');
  assert_true(li_out_width(out) <= 4);
  assert_true(s_valid_utf8(out, strlen(out)));
}

static void test_pad(void **state) {
  (void)state;
  s_cap cap;
  s_cap_open(&cap);
  li_out_pad(cap.f, "ab", 5, 32);
  fputc('|', cap.f);
  li_out_pad(cap.f, "居委", 6, 32);
  fputc('|', cap.f);
  li_out_pad(cap.f, "toolong", 3, 32); /* like %-3s: never cut to the width */
  fputc('|', cap.f);
  li_out_pad(cap.f, "abcdefgh", 10, 4); /* but cut at cols_max */
  fputc('|', cap.f);
  li_out_pad(cap.f, "\x1b", 2, 32);
  fputc('|', cap.f);
  assert_string_equal(s_cap_close(&cap), "ab   |居委  |toolong|abc~      |? |");
  free(cap.buf);
}

/* ---- tables ---- */

static void test_table(void **state) {
  (void)state;
  static const li_out_col cols[3] = {{"name", LI_OUT_LEFT}, {"数", LI_OUT_RIGHT}, {"note", LI_OUT_LEFT}};
  const char *rows[3][3] = {
      {"c07", "1", "ok"}, {"居委会", "12345", "x"}, {"evil\x1b[2J\xff", "3", "last column is not padded"}};
  li_out_table t;
  li_out_table_init(&t, cols, 3);
  for (int i = 0; i < 3; i++) li_out_table_fit(&t, rows[i]);
  s_cap cap;
  s_cap_open(&cap);
  li_out_table_header(cap.f, &t);
  li_out_table_rule(cap.f, &t);
  for (int i = 0; i < 3; i++) li_out_table_row(cap.f, &t, rows[i]);
  const char *out = s_cap_close(&cap);
  assert_string_equal(out,
                      "name          数  note\n"
                      "-------------------------------------------\n"
                      "c07            1  ok\n"
                      "居委会     12345  x\n"
                      "evil?[2J\xEF\xBF\xBD      3  last column is not padded\n");
  free(cap.buf);
  /* a cell wider than LI_OUT_CELL_COLS_MAX is cut */
  char wide[3 * 100 + 1] = "";
  for (int i = 0; i < 100; i++) strcat(wide, "居");
  const char *row[3] = {wide, "1", ""};
  li_out_table_fit(&t, row);
  assert_int_equal(t.width[0], LI_OUT_CELL_COLS_MAX - 1);
}

/* ---- the JSON writer ---- */

typedef struct {
  const char *name;
  void (*build)(li_json *j);
  const char *want;
} s_json_case;

static void b_empty_object(li_json *j) {
  li_json_object(j);
  li_json_object_end(j);
}
static void b_empty_array(li_json *j) {
  li_json_array(j);
  li_json_array_end(j);
}
static void b_scalars(li_json *j) {
  li_json_array(j);
  li_json_int(j, -5);
  li_json_int(j, INT64_MIN);
  li_json_uint(j, UINT64_MAX);
  li_json_bool(j, true);
  li_json_bool(j, false);
  li_json_null(j);
  li_json_str(j, NULL);
  li_json_str(j, "s");
  li_json_array_end(j);
}
static void b_fixed(li_json *j) {
  li_json_array(j);
  li_json_fixed(j, 667, 1);
  li_json_fixed(j, 1000, 1);
  li_json_fixed(j, 0, 1);
  li_json_fixed(j, -5, 1);
  li_json_fixed(j, 5, 3);
  li_json_fixed(j, INT64_MIN, 2);
  li_json_array_end(j);
}
static void b_nested(li_json *j) {
  li_json_object(j);
  li_json_kstr(j, "a", "x");
  li_json_key(j, "b");
  li_json_array(j);
  li_json_object(j);
  li_json_object_end(j);
  li_json_array(j);
  li_json_int(j, 1);
  li_json_array_end(j);
  li_json_object(j);
  li_json_kint(j, "c", 2);
  li_json_kbool(j, "d", false);
  li_json_object_end(j);
  li_json_array_end(j);
  li_json_kint(j, "e", 3);
  li_json_object_end(j);
}
static void b_hostile_keys(li_json *j) {
  li_json_object(j);
  li_json_kint(j, "\"}", 1);
  li_json_kint(j, "a\nb\xff", 2);
  li_json_object_end(j);
}
static void b_layout(li_json *j) {
  /* the report's layout: one item a line, the closing bracket on its own */
  li_json_object(j);
  li_json_key(j, "rows");
  li_json_array(j);
  for (int i = 0; i < 2; i++) {
    li_json_space(j, "\n  ");
    li_json_int(j, i);
  }
  li_json_space(j, "\n");
  li_json_array_end(j);
  li_json_space(j, "\n");
  li_json_kint(j, "n", 2);
  li_json_object_end(j);
}
static void b_scalar_document(li_json *j) { li_json_str(j, "only"); }
static void b_deep(li_json *j) {
  for (int i = 0; i < LI_JSON_DEPTH_MAX; i++) li_json_array(j);
  for (int i = 0; i < LI_JSON_DEPTH_MAX; i++) li_json_array_end(j);
}

static const s_json_case s_json_cases[] = {
    {"empty object", b_empty_object, "{}\n"},
    {"empty array", b_empty_array, "[]\n"},
    {"scalars", b_scalars, "[-5,-9223372036854775808,18446744073709551615,true,false,null,null,\"s\"]\n"},
    {"fixed decimals", b_fixed, "[66.7,100.0,0.0,-0.5,0.005,-92233720368547758.08]\n"},
    {"nested", b_nested, "{\"a\":\"x\",\"b\":[{},[1],{\"c\":2,\"d\":false}],\"e\":3}\n"},
    {"hostile keys", b_hostile_keys, "{\"\\\"}\":1,\"a\\nb\xEF\xBF\xBD\":2}\n"},
    {"layout", b_layout, "{\"rows\":[\n  0,\n  1\n],\n\"n\":2}\n"},
    {"a scalar document", b_scalar_document, "\"only\"\n"},
    {"as deep as allowed", b_deep, NULL},
};

static void test_json_writer(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_json_cases / sizeof *s_json_cases; i++) {
    const s_json_case *c = &s_json_cases[i];
    s_cap cap;
    s_cap_open(&cap);
    li_json j;
    li_json_init(&j, cap.f);
    c->build(&j);
    li_json_end(&j);
    const char *out = s_cap_close(&cap);
    if (c->want && strcmp(out, c->want) != 0) fail_msg("case %s: %s, want %s", c->name, out, c->want);
    if (!s_valid_json(out) || !s_valid_utf8(out, strlen(out))) fail_msg("case %s: not valid JSON: %s", c->name, out);
    free(cap.buf);
  }
}

/* Calls that would write invalid JSON: each must stop at an assertion. */
static void m_value_without_key(li_json *j) {
  li_json_object(j);
  li_json_int(j, 1);
}
static void m_key_in_array(li_json *j) {
  li_json_array(j);
  li_json_key(j, "a");
}
static void m_key_twice(li_json *j) {
  li_json_object(j);
  li_json_key(j, "a");
  li_json_key(j, "b");
}
static void m_close_after_key(li_json *j) {
  li_json_object(j);
  li_json_key(j, "a");
  li_json_object_end(j);
}
static void m_wrong_close(li_json *j) {
  li_json_object(j);
  li_json_array_end(j);
}
static void m_close_nothing(li_json *j) { li_json_array_end(j); }
static void m_two_documents(li_json *j) {
  li_json_int(j, 1);
  li_json_int(j, 2);
}
static void m_end_unfinished(li_json *j) {
  li_json_array(j);
  li_json_end(j);
}
static void m_end_empty(li_json *j) { li_json_end(j); }
static void m_too_deep(li_json *j) {
  for (int i = 0; i <= LI_JSON_DEPTH_MAX; i++) li_json_array(j);
}
static void m_not_space(li_json *j) { li_json_space(j, " x"); }
static void m_csv_plain_comma(li_json *j) {
  li_csv c = {.f = j->f};
  li_csv_plain(&c, "a,b");
}

typedef struct {
  const char *name;
  void (*misuse)(li_json *j);
} s_misuse_case;

static const s_misuse_case s_misuse[] = {
    {"value in an object without a key", m_value_without_key},
    {"key in an array", m_key_in_array},
    {"two keys in a row", m_key_twice},
    {"object closed after a key", m_close_after_key},
    {"object closed as an array", m_wrong_close},
    {"closing with nothing open", m_close_nothing},
    {"a second document", m_two_documents},
    {"end with an array open", m_end_unfinished},
    {"end of nothing", m_end_empty},
    {"deeper than LI_JSON_DEPTH_MAX", m_too_deep},
    {"layout that is not whitespace", m_not_space},
    {"CSV plain field that needs quoting", m_csv_plain_comma},
};

static void test_misuse_aborts(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_misuse / sizeof *s_misuse; i++) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      FILE *devnull = fopen("/dev/null", "w");
      if (!devnull) _exit(2);
      /* the assertion message is expected: keep the test's output clean */
      if (!freopen("/dev/null", "w", stderr)) _exit(2);
      li_json j;
      li_json_init(&j, devnull);
      s_misuse[i].misuse(&j);
      _exit(0); /* reached only when nothing stopped the misuse */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
      fail_msg("misuse '%s' was not stopped by an assertion (status %d)", s_misuse[i].name, status);
  }
}

/* ---- CSV records ---- */

static void test_csv_record(void **state) {
  (void)state;
  s_cap cap;
  s_cap_open(&cap);
  li_csv c;
  li_csv_begin(&c, cap.f);
  li_csv_text(&c, "name");
  li_csv_text(&c, "n");
  li_csv_end_row(&c);
  li_csv_text(&c, "=cmd|'/c calc'!A0");
  li_csv_int(&c, -5);
  li_csv_plain(&c, "-");
  li_csv_text(&c, NULL);
  li_csv_text(&c, "");
  li_csv_end_row(&c);
  li_csv_end_row(&c); /* an empty record */
  assert_string_equal(s_cap_close(&cap), "\xEF\xBB\xBFname,n\r\n'=cmd|'/c calc'!A0,-5,-,,\r\n\r\n");
  free(cap.buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validators_can_fail), cmocka_unit_test(test_text_cases),
      cmocka_unit_test(test_bad_utf8_everywhere), cmocka_unit_test(test_widths),
      cmocka_unit_test(test_clean_and_cut),       cmocka_unit_test(test_pad),
      cmocka_unit_test(test_table),               cmocka_unit_test(test_json_writer),
      cmocka_unit_test(test_misuse_aborts),       cmocka_unit_test(test_csv_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

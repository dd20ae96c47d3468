/* The dashboard without a browser or a socket: HTML escaping (out.h rule
 * 5), the listen-address rule, and li_web_page on a hub whose committees
 * wrote hostile text, read through a read-only node.
 * Table-driven where the cases are alike, each table with a control case
 * (plain text, a loopback address) that must pass through unchanged. */
#include "testnode.h"

#include "out.h"
#include "report.h"
#include "web.h"
#include "webpage.h"

/* ---- li_html_text, li_url_part ---- */

typedef struct {
  const char *name, *in, *want;
} s_esc;

static const s_esc s_html_cases[] = {
    {"control: plain Chinese", "燃气 3号楼", "燃气 3号楼"},
    {"img onerror", "<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"},
    {"script", "<script>window.__pwned=1</script>", "&lt;script&gt;window.__pwned=1&lt;/script&gt;"},
    {"attribute break-out", "\" onmouseover=\"x", "&quot; onmouseover=&quot;x"},
    {"single quote", "' autofocus '", "&#39; autofocus &#39;"},
    {"entity", "&lt;", "&amp;lt;"},
    {"control chars", "a\x01" "b\x7f" "c", "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c"},
    {"invalid utf-8", "a\xff" "b", "a\xef\xbf\xbd" "b"},
    {"bidi override", "x\xe2\x80\xae" "y", "x\xef\xbf\xbd" "y"},
    {"newline and tab stay", "a\nb\tc", "a\nb\tc"},
};

static char *s_capture(void (*fn)(FILE *, const char *), const char *in) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  fn(f, in);
  assert_int_equal(fclose(f), 0);
  return buf;
}

static void test_html_text(void **state) {
  for (size_t i = 0; i < sizeof s_html_cases / sizeof *s_html_cases; i++) {
    char *out = s_capture(li_html_text, s_html_cases[i].in);
    if (strcmp(out, s_html_cases[i].want) != 0) fail_msg("%s: got [%s]", s_html_cases[i].name, out);
    free(out);
  }
}

static void test_url_part(void **state) {
  static const s_esc cases[] = {
      {"control: unreserved", "c03-h1_x.y~", "c03-h1_x.y~"},
      {"query breakers", "a&b=c#d?e", "a%26b%3Dc%23d%3Fe"},
      {"quote and angle", "\"><", "%22%3E%3C"},
      {"utf-8", "燃", "%E7%87%83"},
      {"space and slash", "a b/c", "a%20b%2Fc"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *out = s_capture(li_url_part, cases[i].in);
    if (strcmp(out, cases[i].want) != 0) fail_msg("%s: got [%s]", cases[i].name, out);
    free(out);
  }
}

/* ---- --listen ---- */

static void test_parse_listen(void **state) {
  static const struct {
    const char *in;
    li_err err;
    const char *host;
    int port;
    bool loopback, v6;
  } cases[] = {
      {"127.0.0.1:8720", LI_OK, "127.0.0.1", 8720, true, false}, /* control */
      {"localhost:80", LI_OK, "127.0.0.1", 80, true, false},
      {"127.8.9.10:1", LI_OK, "127.8.9.10", 1, true, false},
      {"[::1]:8720", LI_OK, "::1", 8720, true, true},
      {"0.0.0.0:8720", LI_OK, "0.0.0.0", 8720, false, false},
      {"192.0.2.7:8720", LI_OK, "192.0.2.7", 8720, false, false},
      {"[::]:8720", LI_OK, "::", 8720, false, true},
      {"[::ffff:127.0.0.1]:8720", LI_OK, "::ffff:127.0.0.1", 8720, false, true},
      {"example.org:80", LI_ERR_USAGE, NULL, 0, false, false},
      {"127.0.0.1", LI_ERR_USAGE, NULL, 0, false, false},
      {"127.0.0.1:0", LI_ERR_USAGE, NULL, 0, false, false},
      {"127.0.0.1:65536", LI_ERR_USAGE, NULL, 0, false, false},
      {"127.0.0.1:80x", LI_ERR_USAGE, NULL, 0, false, false},
      {":8720", LI_ERR_USAGE, NULL, 0, false, false},
      {"[::1:8720", LI_ERR_USAGE, NULL, 0, false, false},
      {"::1:8720", LI_ERR_USAGE, NULL, 0, false, false},
      {"", LI_ERR_USAGE, NULL, 0, false, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    li_web_addr a;
    li_errbuf eb = {{0}};
    li_err e = li_web_parse_listen(cases[i].in, &a, &eb);
    if (e != cases[i].err) fail_msg("%s: %s (%s)", cases[i].in, li_errname(e), eb.msg);
    if (e) continue;
    assert_string_equal(a.host, cases[i].host);
    assert_int_equal(a.port, cases[i].port);
    if (a.loopback != cases[i].loopback || a.v6 != cases[i].v6) fail_msg("%s: loopback/v6 wrong", cases[i].in);
  }
}

/* ---- pages ---- */

typedef struct {
  tu_fx *fx;
  li_node ro; /* the hub opened read-only, as `linli web` opens it */
} s_fx;

static const char *s_args[][2] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}, {NULL, NULL}};

static const char *s_arg(void *cls, const char *key) {
  const char *(*args)[2] = cls;
  for (int i = 0; args && args[i][0]; i++)
    if (strcmp(args[i][0], key) == 0) return args[i][1];
  return NULL;
}

static int s_setup(void **state) {
  s_fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fx = tu_fx_new();
  /* the hub writes in the committees' scopes (it may), hostile text included */
  tu_exec(f->fx->hub,
          "INSERT INTO hazards(id, scope, category, location, description, found_on, deadline, stage) VALUES "
          "('h1', 'c07', '燃气', '<img src=x onerror=alert(1)>', '<script>window.__pwned=1</script>', "
          "'2025-03-01', '2025-03-10', '整改'),"
          "('h2', 'c08', '消防', '菜场后门', NULL, '2025-03-02', '2099-01-01', '交办'),"
          "('h3', 'c08', '其他', '\"><svg onload=alert(2)>', NULL, '2025-03-02', NULL, '销号');"
          "INSERT INTO hotline_cases(id, scope, case_no, category, received_on, due_on, status, satisfaction) VALUES "
          "('k1', 'c07', '12345-1', '</td><script>alert(3)</script>', '2025-03-01', '2025-03-02', '办理中', NULL),"
          "('k2', 'c07', '12345-2', '噪声', '2025-03-01', '2025-03-02', '已办结', '好');"
          "INSERT INTO notices(id, scope, title, audience) VALUES ('n1', 'street', '<b>通知</b>', 'c07');");
  tu_seal(f->fx->hub, li_wall_ms());
  char d[300];
  snprintf(d, sizeof d, "%s/hub", f->fx->s.dir);
  li_errbuf eb = {{0}};
  li_err e = li_node_open_readonly(&f->ro, d, &eb);
  if (e) fail_msg("open read-only: %s (%s)", li_errname(e), eb.msg);
  *state = f;
  return 0;
}

static int s_teardown(void **state) {
  s_fx *f = *state;
  li_node_close(&f->ro);
  void *p = f->fx;
  tu_fx_teardown(&p);
  free(f);
  return 0;
}

static li_web_reply s_get(s_fx *f, const char *path, const char *(*args)[2]) {
  li_web_reply r;
  li_errbuf eb = {{0}};
  li_err e = li_web_page(&f->ro, path, s_arg, args ? (void *)args : (void *)s_args, li_wall_ms(), "2025-03-15", &r, &eb);
  if (e) fail_msg("%s: %s (%s)", path, li_errname(e), eb.msg);
  assert_non_null(r.body);
  assert_int_equal(strlen(r.body), r.len);
  return r;
}

/* Every HTML page: served, escaped, no inline script or style, no handler. */
static void test_pages_escaped(void **state) {
  s_fx *f = *state;
  static const char *paths[] = {"/", "/hazards", "/hotline", "/care", "/disputes", "/enterprises", "/notices"};
  static const char *forbidden[] = {"<img", "<script>", "<svg onload", "onerror=\"", " style=\"", "<b>通知"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    li_web_reply r = s_get(f, paths[i], NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.type, "text/html"));
    for (size_t k = 0; k < sizeof forbidden / sizeof *forbidden; k++)
      if (strstr(r.body, forbidden[k])) fail_msg("%s holds %s", paths[i], forbidden[k]);
    /* the only script is the external one */
    const char *s = strstr(r.body, "<script");
    assert_non_null(s);
    assert_true(strncmp(s, "<script src=\"/app.js\" defer></script>", 37) == 0);
    assert_null(strstr(s + 1, "<script"));
    li_web_reply_free(&r);
  }
  li_web_reply r = s_get(f, "/hazards", NULL);
  assert_non_null(strstr(r.body, "&lt;img src=x onerror=alert(1)&gt;")); /* shown, as text */
  li_web_reply_free(&r);
}

/* The figures are the report's: the hazards page's overdue count and the
 * report's, for the same replica and day. */
static void test_figures_are_the_report(void **state) {
  s_fx *f = *state;
  li_report_data d;
  li_errbuf eb = {{0}};
  assert_int_equal(li_report_collect(&d, f->ro.r, li_wall_ms(), "2025-03-15", &eb), LI_OK);
  assert_int_equal(d.total.hz_overdue, 1); /* h1; h2 is not due, h3 is closed */
  assert_int_equal(d.total.hz_open, 2);
  li_report_free(&d);
  li_web_reply r = s_get(f, "/hazards", NULL);
  assert_non_null(strstr(r.body, "data-fig=\"TOTAL hazards.overdue\">1<"));
  assert_non_null(strstr(r.body, "data-fig=\"TOTAL hazards.open\">2<"));
  assert_non_null(strstr(r.body, "data-fig=\"c07 hazards.by_stage.整改\">1<"));
  li_web_reply_free(&r);
  r = s_get(f, "/hotline", NULL);
  assert_non_null(strstr(r.body, "data-fig=\"c07 hotline.satisfaction_pct\">100.0<"));
  assert_non_null(strstr(r.body, "data-fig=\"TOTAL hotline.overdue\">1<"));
  li_web_reply_free(&r);
}

static void test_downloads(void **state) {
  s_fx *f = *state;
  static const struct {
    const char *path, *type, *starts;
  } cases[] = {
      {"/report.csv", "text/csv", "\xef\xbb\xbf" "committee,scope"},
      {"/hazards_overdue.csv", "text/csv", "\xef\xbb\xbf居委会,地点"},
      {"/notices.csv", "text/csv", "\xef\xbb\xbf通知,有效期至"},
      {"/api/report", "application/json", "{\"generated\":"},
      {"/api/status", "application/json", "{"},
      {"/app.css", "text/css", ":root"},
      {"/app.js", "text/javascript", "'use strict'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    li_web_reply r = s_get(f, cases[i].path, NULL);
    assert_int_equal(r.status, 200);
    if (!strstr(r.type, cases[i].type)) fail_msg("%s: type %s", cases[i].path, r.type);
    if (strncmp(r.body, cases[i].starts, strlen(cases[i].starts)) != 0)
      fail_msg("%s starts [%.40s]", cases[i].path, r.body);
    li_web_reply_free(&r);
  }
  /* a CSV field of committee text never starts a formula */
  li_web_reply r = s_get(f, "/hazards_open.csv", NULL);
  assert_null(strstr(r.body, ",=") /* rule 4 */);
  li_web_reply_free(&r);
}

static void test_not_found(void **state) {
  s_fx *f = *state;
  static const char *paths[] = {"/nope", "/../../etc/passwd", "/app.css/x", "/hazards_overdue.csvx", "/.csv",
                                "/api/", "/record"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    li_web_reply r = s_get(f, paths[i], NULL);
    if (r.status != 404) fail_msg("%s: %d", paths[i], r.status);
    li_web_reply_free(&r);
  }
  /* a record page only for the street schema's tables */
  const char *meta[][2] = {{"t", "linli_meta"}, {"id", "x"}, {"scope", "street"}, {NULL, NULL}};
  li_web_reply r = s_get(f, "/record", meta);
  assert_int_equal(r.status, 404);
  li_web_reply_free(&r);
}

static void test_record_history(void **state) {
  s_fx *f = *state;
  const char *h1[][2] = {{"t", "hazards"}, {"id", "h1"}, {"scope", "c07"}, {NULL, NULL}};
  li_web_reply r = s_get(f, "/record", h1);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "签名有效"));
  assert_non_null(strstr(r.body, "&lt;img src=x"));
  assert_null(strstr(r.body, "校验失败"));
  li_web_reply_free(&r);
  /* a hostile id is shown escaped, and is simply not found */
  const char *bad[][2] = {{"t", "hazards"}, {"id", "\"><script>alert(1)</script>"}, {"scope", "c07"}, {NULL, NULL}};
  r = s_get(f, "/record", bad);
  assert_int_equal(r.status, 200);
  assert_null(strstr(r.body, "<script>alert"));
  assert_non_null(strstr(r.body, "没有这条记录"));
  li_web_reply_free(&r);
}

/* The web's node cannot write: the file is read-only and query_only is on. */
static void test_readonly(void **state) {
  s_fx *f = *state;
  char *err = NULL;
  int rc = sqlite3_exec(f->ro.r->db, "INSERT INTO notices(id, scope, title) VALUES ('x', 'street', 'x')", NULL, NULL,
                        &err);
  assert_int_not_equal(rc, SQLITE_OK);
  sqlite3_free(err);
  assert_int_equal(tu_int(f->fx->hub, "SELECT count(*) FROM notices WHERE id = 'x'"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_html_text),
      cmocka_unit_test(test_url_part),
      cmocka_unit_test(test_parse_listen),
      cmocka_unit_test_setup_teardown(test_pages_escaped, s_setup, s_teardown),
      cmocka_unit_test_setup_teardown(test_figures_are_the_report, s_setup, s_teardown),
      cmocka_unit_test_setup_teardown(test_downloads, s_setup, s_teardown),
      cmocka_unit_test_setup_teardown(test_not_found, s_setup, s_teardown),
      cmocka_unit_test_setup_teardown(test_record_history, s_setup, s_teardown),
      cmocka_unit_test_setup_teardown(test_readonly, s_setup, s_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for err (names, messages, li_fail, exit codes) and, because it has
 * no file of its own, the line format of log. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>

#include "err.h"
#include "log.h"

static void test_names_and_messages(void **state) {
  (void)state;
  for (int i = 0; i < LI_ERR__COUNT; i++) {
    assert_non_null(li_strerror((li_err)i));
    assert_non_null(li_errname((li_err)i));
    assert_true(strlen(li_errname((li_err)i)) > 0);
    for (int j = 0; j < i; j++)
      assert_string_not_equal(li_errname((li_err)i), li_errname((li_err)j));
  }
  assert_string_equal(li_errname(LI_OK), "ok");
  assert_string_equal(li_errname(LI_ERR_BAD_SIG), "bad_signature");
  assert_string_equal(li_errname(LI_ERR_SCOPE), "out_of_scope");
  assert_string_equal(li_strerror(LI_ERR_GAP), "commit sequence has a gap");
  /* Corrupt values do not read out of bounds. */
  assert_string_equal(li_errname(LI_ERR__COUNT), "unknown");
  assert_string_equal(li_errname((li_err)-1), "unknown");
  assert_non_null(li_strerror((li_err)1000));
}

static void test_fail_and_errmsg(void **state) {
  (void)state;
  li_errbuf eb = {{0}};
  assert_string_equal(li_errmsg(&eb, LI_ERR_FORK), li_strerror(LI_ERR_FORK));
  assert_string_equal(li_errmsg(NULL, LI_ERR_FORK), li_strerror(LI_ERR_FORK));
  assert_int_equal(li_fail(&eb, LI_ERR_GAP, "seq %d after %d", 7, 5), LI_ERR_GAP);
  assert_string_equal(eb.msg, "seq 7 after 5");
  assert_string_equal(li_errmsg(&eb, LI_ERR_GAP), "seq 7 after 5");
  assert_int_equal(li_fail(NULL, LI_ERR_IO, "ignored %s", "x"), LI_ERR_IO);
}

static void test_fail_truncates(void **state) {
  (void)state;
  li_errbuf eb;
  char big[2 * LI_ERRBUF_SIZE];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  li_fail(&eb, LI_ERR_LIMIT, "%s", big);
  assert_int_equal(strlen(eb.msg), LI_ERRBUF_SIZE - 1);
}

static void test_exit_codes(void **state) {
  (void)state;
  static const struct {
    li_err e;
    int code;
  } table[] = {
      {LI_OK, 0},           {LI_ERR_USAGE, 2},          {LI_ERR_CONFIG, 3},
      {LI_ERR_KEY, 3},      {LI_ERR_KEY_PERMS, 3},      {LI_ERR_NOT_INIT, 3},
      {LI_ERR_DECODE, 4},   {LI_ERR_TOO_BIG, 4},        {LI_ERR_TRUNCATED, 4},
      {LI_ERR_NOT_BUNDLE, 4}, {LI_ERR_BAD_SIG, 4},      {LI_ERR_WRONG_NETWORK, 4},
      {LI_ERR_UNKNOWN_SIGNER, 4}, {LI_ERR_SCOPE, 4},    {LI_ERR_GAP, 4},
      {LI_ERR_FORK, 4},     {LI_ERR_REPLAY, 4},         {LI_ERR_MISSING_DEPS, 4},
      {LI_ERR_CLOCK_AHEAD, 4}, {LI_ERR_BANNED, 4},      {LI_ERR_HELD, 4},
      {LI_ERR_SCHEMA, 4},    {LI_ERR_SCHEMA_AHEAD, 4},   {LI_ERR_MIGRATION, 4},
      {LI_ERR_TYPE, 4},     {LI_ERR_LIMIT, 4},          {LI_ERR_TAMPERED, 4},
      {LI_ERR_PROTOCOL, 4}, {LI_ERR_VERSION, 4},  {LI_ERR_REFUSED, 4},        {LI_ERR_TRACK, 4},
      {LI_ERR_ROLE, 4},     {LI_ERR_EXISTS, 4},         {LI_ERR_NOT_FOUND, 4},
      {LI_ERR_DB, 5},       {LI_ERR_IO, 5},             {LI_ERR_NOMEM, 5},
      {LI_ERR_STUCK, 6},
      {LI_ERR_TIMEOUT, 1},  {LI_ERR__COUNT, 1},
  };
  size_t n = sizeof table / sizeof table[0];
  assert_int_equal(n, LI_ERR__COUNT + 1); /* every code is in the table */
  for (size_t i = 0; i < n; i++)
    assert_int_equal(li_exit_code(table[i].e), table[i].code);
}

/* Runs fn with stderr sent to a temporary file; returns what it wrote. */
static void s_capture(void (*fn)(void), char *out, size_t cap) {
  char dir[256], path[300];
  tu_tmpdir(dir);
  snprintf(path, sizeof path, "%s/err", dir);
  fflush(stderr);
  int saved = dup(2);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  assert_true(saved >= 0 && fd >= 0);
  dup2(fd, 2);
  close(fd);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = '\0';
  fclose(f);
  tu_rmdir(dir);
}

static void s_log_plain(void) {
  li_log_init(LI_LOG_INFO, false);
  log_info("hello %d", 1);
  log_debug("hidden");
  log_warnx("careful");
  errno = ENOENT;
  log_warn("open %s", "x");
  log_error("bad");
}

static void s_log_stamped(void) {
  li_log_init(LI_LOG_DEBUG, true);
  log_debug("dbg");
  li_log_init(LI_LOG_ERROR, false);
  log_warnx("not shown");
  log_info("not shown");
}

static void test_log_lines(void **state) {
  (void)state;
  char out[1024];
  s_capture(s_log_plain, out, sizeof out);
  assert_string_equal(out, "hello 1\n"
                           "linli: careful\n"
                           "linli: open x: No such file or directory\n"
                           "linli: bad\n");
  s_capture(s_log_stamped, out, sizeof out);
  /* 2026-11-27T04:05:13.123Z DEBUG dbg */
  assert_int_equal(strlen(out), 24 + strlen(" DEBUG dbg\n"));
  assert_int_equal(out[4], '-');
  assert_int_equal(out[10], 'T');
  assert_int_equal(out[19], '.');
  assert_int_equal(out[23], 'Z');
  assert_string_equal(out + 24, " DEBUG dbg\n");
  li_log_init(LI_LOG_INFO, false);
}

static void test_log_parse_level(void **state) {
  (void)state;
  li_log_level l = LI_LOG_INFO;
  assert_int_equal(li_log_parse_level("debug", &l), 0);
  assert_int_equal(l, LI_LOG_DEBUG);
  assert_int_equal(li_log_parse_level("error", &l), 0);
  assert_int_equal(l, LI_LOG_ERROR);
  assert_int_equal(li_log_parse_level("INFO", &l), -1);
  assert_int_equal(li_log_parse_level("", &l), -1);
  assert_int_equal(li_log_parse_level(NULL, &l), -1);
  assert_int_equal(l, LI_LOG_ERROR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_messages), cmocka_unit_test(test_fail_and_errmsg),
      cmocka_unit_test(test_fail_truncates),     cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_log_lines),          cmocka_unit_test(test_log_parse_level),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for hlc: monotonicity, the receive rule, counter roll-over, the
 * skew guard, formatting and the 48-bit limit. */
#include "testutil.h"

#include "hlc.h"

static void test_make_and_split(void **state) {
  (void)state;
  uint64_t h = LI_HLC_MAKE(1234567, 89);
  assert_int_equal(LI_HLC_MS(h), 1234567);
  assert_int_equal(LI_HLC_CTR(h), 89);
  assert_true(LI_HLC_MAKE(2, 0) > LI_HLC_MAKE(1, 0xffff));
}

static void test_now_uses_wall_clock(void **state) {
  (void)state;
  li_hlc c;
  li_hlc_init(&c, 0);
  uint64_t h = 0;
  assert_int_equal(li_hlc_now(&c, 1000, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(1000, 0));
  assert_int_equal(li_hlc_now(&c, 1005, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(1005, 0));
  assert_int_equal(c.last, h);
}

static void test_now_monotonic(void **state) {
  (void)state;
  li_hlc c;
  li_hlc_init(&c, 0);
  uint64_t prev = 0, h = 0;
  /* Same millisecond, then a clock that steps backwards, then forwards. */
  static const uint64_t walls[] = {500, 500, 500, 400, 100, 499, 500, 501, 501, 10, 502};
  for (size_t i = 0; i < sizeof walls / sizeof walls[0]; i++) {
    assert_int_equal(li_hlc_now(&c, walls[i], &h), LI_OK);
    assert_true(h > prev);
    prev = h;
  }
  assert_int_equal(h, LI_HLC_MAKE(502, 0));
  /* A wall clock stuck far in the past still yields increasing values. */
  li_hlc_init(&c, LI_HLC_MAKE(10000, 3));
  assert_int_equal(li_hlc_now(&c, 1, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(10000, 4));
}

static void test_counter_roll(void **state) {
  (void)state;
  li_hlc c;
  li_hlc_init(&c, LI_HLC_MAKE(700, 0xfffe));
  uint64_t h = 0;
  assert_int_equal(li_hlc_now(&c, 700, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(700, 0xffff));
  assert_int_equal(li_hlc_now(&c, 700, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(701, 0)); /* rolls into the next ms */
  assert_int_equal(li_hlc_now(&c, 700, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(701, 1));
  assert_int_equal(li_hlc_now(&c, 701, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(701, 2));
  /* 70000 events in one millisecond stay strictly increasing. */
  uint64_t prev = h;
  for (int i = 0; i < 70000; i++) {
    assert_int_equal(li_hlc_now(&c, 701, &h), LI_OK);
    assert_true(h > prev);
    prev = h;
  }
}

static void test_limit(void **state) {
  (void)state;
  li_hlc c;
  uint64_t h = 42;
  li_hlc_init(&c, UINT64_MAX);
  assert_int_equal(li_hlc_now(&c, 5, &h), LI_ERR_LIMIT);
  assert_int_equal(h, 42);
  assert_int_equal(c.last, UINT64_MAX);
  li_hlc_init(&c, 0);
  assert_int_equal(li_hlc_now(&c, LI_HLC_MS_MAX + 1, &h), LI_ERR_LIMIT);
  assert_int_equal(c.last, 0);
  assert_int_equal(li_hlc_now(&c, LI_HLC_MS_MAX, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(LI_HLC_MS_MAX, 0));
}

static void test_recv_rule(void **state) {
  (void)state;
  li_hlc c;
  li_hlc_init(&c, LI_HLC_MAKE(1000, 5));
  li_hlc_recv(&c, LI_HLC_MAKE(900, 9)); /* older: no change */
  assert_int_equal(c.last, LI_HLC_MAKE(1000, 5));
  li_hlc_recv(&c, LI_HLC_MAKE(2000, 7)); /* newer: adopted */
  assert_int_equal(c.last, LI_HLC_MAKE(2000, 7));
  uint64_t h = 0;
  /* Every later local event is after what was received. */
  assert_int_equal(li_hlc_now(&c, 1500, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(2000, 8));
  assert_int_equal(li_hlc_now(&c, 2000, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(2000, 9));
  assert_int_equal(li_hlc_now(&c, 2001, &h), LI_OK);
  assert_int_equal(h, LI_HLC_MAKE(2001, 0));
  li_hlc_recv(&c, h); /* equal: no change */
  assert_int_equal(c.last, h);
}

static void test_skew_guard(void **state) {
  (void)state;
  uint64_t wall = 1000000;
  assert_false(li_hlc_too_far_ahead(LI_HLC_MAKE(wall, 0), wall, 1000));
  assert_false(li_hlc_too_far_ahead(LI_HLC_MAKE(wall + 1000, 0xffff), wall, 1000));
  assert_true(li_hlc_too_far_ahead(LI_HLC_MAKE(wall + 1001, 0), wall, 1000));
  assert_false(li_hlc_too_far_ahead(LI_HLC_MAKE(5, 0), wall, 1000)); /* past is fine */
  assert_false(li_hlc_too_far_ahead(LI_HLC_MAKE(LI_HLC_MS_MAX, 0), wall, UINT64_MAX));
  assert_true(li_hlc_too_far_ahead(LI_HLC_MAKE(LI_HLC_MS_MAX, 0), 0, 0));
  assert_true(li_hlc_too_far_ahead(LI_HLC_MAKE(1, 0), 0, 0));
}

static void test_format(void **state) {
  (void)state;
  char buf[40];
  /* 2025-03-01T08:30:00.123Z is 1740817800123 ms. */
  li_hlc_format(LI_HLC_MAKE(UINT64_C(1740817800123), 0), buf, sizeof buf);
  assert_string_equal(buf, "2025-03-01T08:30:00.123Z");
  li_hlc_format(LI_HLC_MAKE(UINT64_C(1740817800123), 5), buf, sizeof buf);
  assert_string_equal(buf, "2025-03-01T08:30:00.123Z+5");
  li_hlc_format(LI_HLC_MAKE(0, 0xffff), buf, sizeof buf);
  assert_string_equal(buf, "1970-01-01T00:00:00.000Z+65535");
  li_hlc_format(UINT64_MAX, buf, sizeof buf); /* the largest value fits */
  assert_true(strlen(buf) < sizeof buf);
  assert_non_null(strstr(buf, "Z+65535"));
  char small[8];
  li_hlc_format(LI_HLC_MAKE(UINT64_C(1740817800123), 5), small, sizeof small);
  assert_string_equal(small, "2025-03");
}

static void test_wall_ms(void **state) {
  (void)state;
  uint64_t a = li_wall_ms();
  assert_true(a > UINT64_C(1600000000000)); /* after 2020 */
  assert_true(a < LI_HLC_MS_MAX);
  assert_true(li_wall_ms() >= a - 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_make_and_split), cmocka_unit_test(test_now_uses_wall_clock),
      cmocka_unit_test(test_now_monotonic),  cmocka_unit_test(test_counter_roll),
      cmocka_unit_test(test_limit),          cmocka_unit_test(test_recv_rule),
      cmocka_unit_test(test_skew_guard),     cmocka_unit_test(test_format),
      cmocka_unit_test(test_wall_ms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests of settling `linli recover` (node/recover.c) with rows keyed
 * (table, scope, key).
 *
 * Covered: a committee whose commits #2..#4 the hub never got recovers;
 * settling with the hub's view (#1) unseals every row those commits wrote,
 * with markers of the triggers' format (key columns besides scope in pk,
 * scope apart); a row that exists now is sealed again whole under the new
 * key, a row that is gone and whose clock says deleted gets its causal
 * length back by one so the seal publishes its deletion, a row untouched
 * since #1 stays sealed; after `roster replace` the hub holds exactly what
 * the committee holds. */
#include "testnode.h"

#include "commit.h"
#include "recover.h"
#include "roster.h"
#include "seal.h"

typedef struct {
  tu_street s;
  li_node *c07;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_street_new(&f->s, NULL);
  f->c07 = tu_street_committee(&f->s, "c07", "c07", true, NULL);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  tu_street_free(&f->s);
  free(f);
  return 0;
}

static const char *s_visit(const char *id) {
  static char sql[200];
  snprintf(sql, sizeof sql,
           "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('%s', 'c07', 'R-%s', '2025-03-01')", id,
           id);
  return sql;
}

/* The row change of key id in a commit, or NULL. */
static const Linli__RowChange *s_change(const li_commit *c, const char *table, const char *id) {
  for (size_t i = 0; i < c->c->n_tables; i++) {
    const Linli__TableChanges *tc = c->c->tables[i];
    if (strcmp(tc->table, table) != 0) continue;
    for (size_t j = 0; j < tc->n_rows; j++)
      if (tc->rows[j]->n_pk == 1 && tc->rows[j]->pk[0]->v_case == LINLI__VALUE__V_T &&
          strcmp(tc->rows[j]->pk[0]->t, id) == 0)
        return tc->rows[j];
  }
  return NULL;
}

static void test_settle_unseals_abandoned_rows(void **state) {
  fx *f = *state;
  li_node *hub = f->s.hub, *c = f->c07;
  uint64_t t0 = f->s.t0;
  li_errbuf eb = {{0}};
  tu_sync(hub, c, t0 + 1000); /* the roster */
  tu_exec(c, s_visit("v1"));
  tu_exec(c, s_visit("v2"));
  tu_exec(c, s_visit("v3"));
  tu_seal(c, t0 + 2000); /* c07#1, which the hub gets */
  tu_sync(c, hub, t0 + 3000);
  /* #2..#4 never reach the hub */
  tu_exec(c, "UPDATE care_visits SET visitor = '王' WHERE id = 'v1'; DELETE FROM care_visits WHERE id = 'v2';");
  tu_exec(c, s_visit("v4"));
  tu_seal(c, t0 + 4000);
  tu_exec(c, s_visit("v5"));
  tu_seal(c, t0 + 5000);
  tu_exec(c, "DELETE FROM care_visits WHERE id = 'v5'");
  tu_seal(c, t0 + 6000);
  assert_int_equal(tu_int(c, "SELECT cl FROM linli_clock WHERE pk = 'v2' AND scope = 'c07'"), 2);
  assert_int_equal(tu_int(c, "SELECT cl FROM linli_clock WHERE pk = 'v5' AND scope = 'c07'"), 2);
  uint8_t old_key[LI_PK_BYTES];
  memcpy(old_key, c->id.pk, LI_PK_BYTES);

  li_recover_report rep;
  li_err e = li_recover(c, t0 + 7000, &rep, &eb);
  if (e) fail_msg("recover: %s (%s)", li_errname(e), eb.msg);
  assert_false(rep.settled); /* the hub has not replaced the key yet */
  assert_true(li_recover_pending(c->r, NULL));
  int64_t rows = 0;
  assert_int_equal(li_recover_settle(c->r, 1, NULL, &rows, &eb), LI_OK);
  assert_false(li_recover_pending(c->r, NULL));
  assert_int_equal(rows, 5); /* v1, v2, v4 (#2), v5 (#3), v5 (#4) */
  /* markers as the triggers write them: key besides scope in pk, scope apart */
  assert_int_equal(tu_int(c, "SELECT count(*) FROM linli_dirty WHERE scope = 'c07' AND op = 1 AND pk IN ('v1', 'v4')"), 2);
  assert_int_equal(tu_int(c, "SELECT count(*) FROM linli_dirty WHERE scope = 'c07' AND op = 3 AND pk IN ('v2', 'v5')"), 3);
  assert_int_equal(tu_int(c, "SELECT count(*) FROM linli_dirty WHERE pk = 'v3'"), 0);
  /* gone and deleted: the causal length back by one */
  assert_int_equal(tu_int(c, "SELECT cl FROM linli_clock WHERE pk = 'v2' AND scope = 'c07'"), 1);
  assert_int_equal(tu_int(c, "SELECT cl FROM linli_clock WHERE pk = 'v5' AND scope = 'c07'"), 1);
  /* the old key's chain ends at what the hub holds */
  uint64_t head = 0;
  assert_int_equal(li_chain_head(c->r, old_key, "c07", &head, NULL, &eb), LI_OK);
  assert_int_equal(head, 1);

  /* the seal under the new key: v1 and v4 whole, v2 and v5 deleted */
  tu_seal(c, t0 + 8000);
  li_blob b = {0};
  tu_own_commit(c, "c07", 1, &b);
  li_arena a;
  li_arena_init(&a);
  li_commit cm;
  assert_int_equal(li_commit_open(c->r->network, b.sc, b.len, &a, &cm, &eb), LI_OK);
  assert_memory_equal(cm.origin, c->id.pk, LI_PK_BYTES);
  li_table *t = li_capture_table(c->r, "care_visits");
  assert_non_null(t);
  size_t whole = (size_t)(t->ncols - t->npk);
  const Linli__RowChange *v1 = s_change(&cm, "care_visits", "v1"), *v2 = s_change(&cm, "care_visits", "v2");
  const Linli__RowChange *v4 = s_change(&cm, "care_visits", "v4"), *v5 = s_change(&cm, "care_visits", "v5");
  assert_non_null(v1);
  assert_non_null(v2);
  assert_non_null(v4);
  assert_non_null(v5);
  assert_null(s_change(&cm, "care_visits", "v3"));
  assert_int_equal(v1->cl, 1);
  assert_int_equal(v1->n_cols, whole);
  assert_int_equal(v4->cl, 1);
  assert_int_equal(v4->n_cols, whole);
  assert_int_equal(v2->cl, 2);
  assert_int_equal(v2->n_cols, 0);
  assert_int_equal(v5->cl, 2);
  li_arena_free(&a);
  free((void *)b.sc);

  /* the hub replaces the key; then it holds what the committee holds */
  char k[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->id.pk, k);
  uint64_t after = 0;
  assert_int_equal(li_roster_replace(hub->r, "c07", k, t0 + 9000, &after, &eb), LI_OK);
  assert_int_equal(after, 1);
  tu_sync(hub, c, t0 + 10000);
  tu_sync(c, hub, t0 + 10000);
  assert_string_equal(tu_text(hub, "SELECT group_concat(id || ':' || coalesce(visitor, '-'), ',') FROM "
                                   "(SELECT * FROM care_visits WHERE scope = 'c07' ORDER BY id)"),
                      "v1:王,v3:-,v4:-");
  uint8_t x[LI_HASH_BYTES], y[LI_HASH_BYTES];
  tu_tables_digest_scope(hub->r->db, "c07", x);
  tu_tables_digest_scope(c->r->db, "c07", y);
  assert_memory_equal(x, y, LI_HASH_BYTES);
  assert_int_equal(tu_int(hub, "SELECT count(*) FROM linli_rejects"), 0);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_settle_unseals_abandoned_rows, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests_name("recover", tests, NULL, NULL);
}

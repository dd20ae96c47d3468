/* Tests of node/store.c: the replica as a session's store (li_store_vt).
 *
 * What the other tests do not cover: the session tests run over an
 * in-memory store, and the driver tests over this one without looking at
 * each call. Here each call on a real replica: heads of the scopes asked
 * for only, hash_at of a stored and of a missing position, fetch in
 * (hlc, origin, seq) order within count and byte bounds, and apply chain by
 * chain: a stopped chain is reported with its seq and reason while the
 * other chains of the same batch apply (control: the same batch without the
 * bad commit applies whole), a refused row is counted, and with
 * taking_back nothing is sealed. */
#include "testnode.h"

#include "chain.h"
#include "commit.h"
#include "store.h"

typedef tu_fx fx;

static int fx_setup(void **state) {
  fx *f = tu_fx_new();
  tu_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('v1', 'c07', 'R-1', '2025-03-01')");
  tu_seal(f->c07, f->s.t0 + 10);
  tu_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('v2', 'c07', 'R-2', '2025-03-02')");
  tu_seal(f->c07, f->s.t0 + 20);
  tu_exec(f->c08, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('v1', 'c08', 'R-3', '2025-03-03')");
  tu_seal(f->c08, f->s.t0 + 30);
  *state = f;
  return 0;
}


static li_store s_store(li_node *n, uint64_t wall_ms) {
  return (li_store){.r = n->r, .max_skew_ms = 60000, .wall_ms = wall_ms};
}

static void test_heads_hash_fetch(void **state) {
  fx *f = *state;
  li_store st = s_store(f->c07, f->s.t0 + 100);
  li_errbuf eb = {{0}};
  li_scopes only = {.n = 1, .list = {"c07"}};
  li_heads h = {0};
  assert_int_equal(li_store_replica_vt.heads(&st, &only, &h, &eb), LI_OK);
  assert_int_equal(h.n, 1);
  assert_memory_equal(h.v[0].origin, f->c07->id.pk, LI_PK_BYTES);
  assert_int_equal(h.v[0].seq, 2);
  uint8_t hash[LI_HASH_BYTES];
  bool found = false;
  assert_int_equal(li_store_replica_vt.hash_at(&st, f->c07->id.pk, "c07", 2, hash, &found, &eb), LI_OK);
  assert_true(found);
  assert_memory_equal(hash, h.v[0].hash, LI_HASH_BYTES);
  assert_int_equal(li_store_replica_vt.hash_at(&st, f->c07->id.pk, "c07", 3, hash, &found, &eb), LI_OK);
  assert_false(found);
  li_heads_clear(&h);
  /* fetch: both commits in order, then a bound of one */
  li_range r = {.from_seq = 1, .to_seq = 2};
  memcpy(r.origin, f->c07->id.pk, LI_PK_BYTES);
  snprintf(r.scope, sizeof r.scope, "c07");
  li_blobs b = {0};
  assert_int_equal(li_store_replica_vt.fetch(&st, &r, 1, 10, 1 << 20, &b, &eb), LI_OK);
  assert_int_equal(b.n, 2);
  uint8_t o[LI_PK_BYTES];
  char sc[LI_SCOPE_MAX + 1];
  uint64_t seq = 0;
  assert_true(li_commit_pos(b.v[0].sc, b.v[0].len, o, sc, &seq));
  assert_int_equal(seq, 1);
  li_blobs_clear(&b);
  assert_int_equal(li_store_replica_vt.fetch(&st, &r, 1, 1, 1 << 20, &b, &eb), LI_OK);
  assert_int_equal(b.n, 1);
  li_blobs_clear(&b);
}

/* The hub gets c07#1..2 and c08#1 in one batch; c07#1 is damaged. */
static void test_apply_chain_by_chain(void **state) {
  fx *f = *state;
  tu_blobs a = tu_log(f->c07, "c07"), b = tu_log(f->c08, "c08");
  tu_blobs batch = {0};
  for (size_t i = 0; i < a.n; i++) tu_blobs_add(&batch, a.v[i].sc, a.v[i].len);
  for (size_t i = 0; i < b.n; i++) tu_blobs_add(&batch, b.v[i].sc, b.v[i].len);
  assert_int_equal(batch.n, 3);
  li_store st = s_store(f->hub, f->s.t0 + 100);
  li_apply_result res;
  li_errbuf eb = {{0}};
  uint8_t *bad = (uint8_t *)batch.v[0].sc;
  bad[batch.v[0].len - 5] ^= 0x01; /* near the end of c07#1: its signature or network no longer verify */
  assert_int_equal(li_store_replica_vt.apply(&st, batch.v, batch.n, &res, &eb), LI_OK);
  assert_int_equal(res.applied, 1); /* c08#1 */
  assert_int_equal(res.nrejects, 1);
  assert_memory_equal(res.rejects[0].origin, f->c07->id.pk, LI_PK_BYTES);
  assert_string_equal(res.rejects[0].scope, "c07");
  assert_int_equal(res.rejects[0].seq, 1);
  assert_true(res.rejects[0].code == LI_ERR_BAD_SIG || res.rejects[0].code == LI_ERR_WRONG_NETWORK);
  assert_true(res.rejects[0].message[0] != 0);
  li_apply_result_clear(&res);
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM care_visits WHERE scope = 'c08'"), 1);
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM care_visits WHERE scope = 'c07'"), 0);
  /* control: the undamaged commits apply, and c08#1 again is a duplicate */
  bad[batch.v[0].len - 5] ^= 0x01; /* mended */
  assert_int_equal(li_store_replica_vt.apply(&st, batch.v, batch.n, &res, &eb), LI_OK);
  assert_int_equal(res.applied, 2);
  assert_int_equal(res.duplicates, 1);
  assert_int_equal(res.nrejects, 0);
  li_apply_result_clear(&res);
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM care_visits WHERE scope = 'c07'"), 2);
  tu_blobs_free(&a);
  tu_blobs_free(&b);
  tu_blobs_free(&batch);
}

/* taking_back: local writes stay unsealed while commits apply; cleared,
 * the next apply seals them first. */
static void test_apply_taking_back_does_not_seal(void **state) {
  fx *f = *state;
  tu_blobs b = tu_log(f->c08, "c08");
  tu_exec(f->hub, "INSERT INTO notices(id, scope, title) VALUES ('n1', 'street', '通知')");
  li_store st = s_store(f->hub, f->s.t0 + 100);
  st.taking_back = true;
  li_apply_result res;
  li_errbuf eb = {{0}};
  assert_int_equal(li_store_replica_vt.apply(&st, b.v, b.n, &res, &eb), LI_OK);
  assert_int_equal(res.applied, 1);
  assert_int_equal(res.sealed, 0);
  li_apply_result_clear(&res);
  assert_true(tu_int(f->hub, "SELECT count(*) FROM linli_dirty") > 0);
  st.taking_back = false; /* control */
  assert_int_equal(li_store_replica_vt.apply(&st, b.v, b.n, &res, &eb), LI_OK);
  assert_int_equal(res.duplicates, 1);
  assert_int_equal(res.sealed, 1);
  li_apply_result_clear(&res);
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM linli_dirty"), 0);
  tu_blobs_free(&b);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_heads_hash_fetch, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_apply_chain_by_chain, fx_setup, tu_fx_teardown),
      cmocka_unit_test_setup_teardown(test_apply_taking_back_does_not_seal, fx_setup, tu_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

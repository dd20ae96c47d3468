/* Tests of the roster rules (node/roster.c) on a real hub and committee.
 *
 * Covered, table-driven: who may write which scope (the network key, an
 * active committee, another scope, an unknown key, a revoked key before and
 * after its last seq); every refusal of add and remove with its error;
 * lookups by name and key; the scopes a member reads; ZAP admission (active
 * committees only); list order; the digest changing exactly when a row
 * does; names for messages; the lenient rows the report shows. */
#include "testnode.h"

#include <sodium.h>
#include <sqlite3.h>

#include "hlc.h"
#include "roster.h"
#include "seal.h"

typedef struct {
  char dir[256];
  li_node *hub, *c07;
  char c07_key[LI_PK_TEXT_LEN + 1];
  uint8_t other[LI_PK_BYTES];
  char other_key[LI_PK_TEXT_LEN + 1];
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  char d[300], hub_key[LI_PK_TEXT_LEN + 1];
  snprintf(d, sizeof d, "%s/hub", f->dir);
  f->hub = tu_node_new(d, LI_ROLE_HUB, "hub", NULL, NULL);
  li_pk_to_text(f->hub->id.pk, hub_key);
  snprintf(d, sizeof d, "%s/c07", f->dir);
  f->c07 = tu_node_new(d, LI_ROLE_COMMITTEE, "c07", "c07", hub_key);
  li_pk_to_text(f->c07->id.pk, f->c07_key);
  li_identity other;
  assert_int_equal(li_identity_generate(&other), LI_OK);
  memcpy(f->other, other.pk, LI_PK_BYTES);
  li_pk_to_text(other.pk, f->other_key);
  li_identity_wipe(&other);
  li_errbuf eb = {{0}};
  assert_int_equal(li_roster_add(f->hub->r, "c07", f->c07_key, "c07", li_wall_ms(), &eb), LI_OK);
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

static void test_may_write(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  /* the hub holds c07#1..3 when c07 is revoked */
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "INSERT INTO linli_vv(origin, scope, seq, head) VALUES(?, 'c07', 3, zeroblob(32))", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_blob(st, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  struct {
    const uint8_t *key;
    const char *scope;
    uint64_t seq;
    bool revoke_first;
    li_err want;
  } rows[] = {
      {f->hub->id.pk, "street", 1, false, LI_OK},         /* the network key writes every scope */
      {f->hub->id.pk, "c07", 9, false, LI_OK},
      {f->c07->id.pk, "c07", 1, false, LI_OK},            /* its own scope */
      {f->c07->id.pk, "street", 1, false, LI_ERR_SCOPE},  /* not the street's */
      {f->c07->id.pk, "c08", 1, false, LI_ERR_SCOPE},     /* nor another committee's */
      {f->other, "c07", 1, false, LI_ERR_UNKNOWN_SIGNER}, /* a stranger */
      {f->c07->id.pk, "c07", 3, true, LI_OK},             /* revoked after #3: #3 still valid */
      {f->c07->id.pk, "c07", 4, true, LI_ERR_UNKNOWN_SIGNER},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (rows[i].revoke_first) {
      li_member m;
      if (li_roster_by_name(f->hub->r, "c07", true, &m, &eb) == LI_OK) {
        uint64_t after = 0;
        assert_int_equal(li_roster_remove(f->hub->r, "c07", li_wall_ms(), &after, &eb), LI_OK);
        assert_int_equal(after, 3);
      }
    }
    li_errbuf e2 = {{0}};
    li_err e = li_roster_may_write(f->hub->r, rows[i].key, rows[i].scope, rows[i].seq, &e2);
    if (e != rows[i].want) fail_msg("row %zu: %s, want %s (%s)", i, li_errname(e), li_errname(rows[i].want), e2.msg);
    if (e) assert_true(e2.msg[0] != 0);
  }
}

static void test_add_and_remove_refusals(void **state) {
  fx *f = *state;
  char hub_key[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(f->hub->id.pk, hub_key);
  struct {
    li_replica *r;
    const char *name, *key, *scope;
    li_err want;
  } adds[] = {
      {f->c07->r, "c09", f->other_key, "c09", LI_ERR_ROLE},      /* a committee keeps no roster */
      {f->hub->r, "bad name", f->other_key, "c09", LI_ERR_USAGE},
      {f->hub->r, "c09", f->other_key, "street", LI_ERR_USAGE},  /* the street scope is the hub's */
      {f->hub->r, "c09", f->other_key, "C09", LI_ERR_USAGE},     /* scopes are lower case */
      {f->hub->r, "c09", "not-a-key", "c09", LI_ERR_KEY},
      {f->hub->r, "c09", hub_key, "c09", LI_ERR_USAGE},          /* the hub's own key */
      {f->hub->r, "c07", f->other_key, "c09", LI_ERR_EXISTS},    /* a taken name */
      {f->hub->r, "c07b", f->c07_key, "c07", LI_ERR_EXISTS},     /* a key already active */
      {f->hub->r, "c09", f->other_key, "c09", LI_OK},            /* control */
  };
  for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
    li_errbuf eb = {{0}};
    int64_t before = 0;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(f->hub->r->db, "SELECT count(*) FROM roster", -1, &st, NULL);
    sqlite3_step(st);
    before = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    li_err e = li_roster_add(adds[i].r, adds[i].name, adds[i].key, adds[i].scope, li_wall_ms(), &eb);
    if (e != adds[i].want) fail_msg("add %zu: %s, want %s (%s)", i, li_errname(e), li_errname(adds[i].want), eb.msg);
    sqlite3_step(st);
    assert_int_equal(sqlite3_column_int64(st, 0), before + (e == LI_OK));
    sqlite3_finalize(st);
  }
  struct {
    li_replica *r;
    const char *name;
    li_err want;
  } removes[] = {
      {f->c07->r, "c07", LI_ERR_ROLE},
      {f->hub->r, "nobody", LI_ERR_NOT_FOUND},
      {f->hub->r, "hub", LI_ERR_USAGE}, /* the hub cannot remove itself */
      {f->hub->r, "c07", LI_OK},
      {f->hub->r, "c07", LI_ERR_NOT_FOUND}, /* already removed */
  };
  for (size_t i = 0; i < sizeof removes / sizeof removes[0]; i++) {
    li_errbuf eb = {{0}};
    li_err e = li_roster_remove(removes[i].r, removes[i].name, li_wall_ms(), NULL, &eb);
    if (e != removes[i].want)
      fail_msg("remove %zu: %s, want %s (%s)", i, li_errname(e), li_errname(removes[i].want), eb.msg);
  }
  /* the changes were sealed: nothing is left unsealed on the hub */
  assert_int_equal(li_replica_dirty_count(f->hub->r), 0);
}

static void test_lookups_reads_and_admission(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  li_member m;
  assert_int_equal(li_roster_by_name(f->hub->r, "c07", true, &m, &eb), LI_OK);
  assert_string_equal(m.scope, "c07");
  assert_int_equal(m.role, LI_ROLE_COMMITTEE);
  assert_memory_equal(m.key, f->c07->id.pk, LI_PK_BYTES);
  li_scopes reads;
  li_roster_reads(&m, &reads);
  assert_false(reads.all);
  assert_true(li_scopes_has(&reads, "c07") && li_scopes_has(&reads, LI_SCOPE_STREET));
  assert_false(li_scopes_has(&reads, "c08"));
  assert_int_equal(li_roster_by_name(f->hub->r, "hub", false, &m, &eb), LI_OK);
  li_roster_reads(&m, &reads);
  assert_true(reads.all);
  assert_int_equal(li_roster_by_key(f->hub->r, f->c07->id.pk, &m, &eb), LI_OK);
  assert_string_equal(m.name, "c07");
  assert_int_equal(li_roster_by_key(f->hub->r, f->other, &m, &eb), LI_ERR_NOT_FOUND);
  /* ZAP: an active committee's X25519 key maps back to its Ed25519 key */
  uint8_t curve[32], ed[LI_PK_BYTES];
  assert_int_equal(li_curve_pk_from_ed(f->c07->id.pk, curve), LI_OK);
  assert_int_equal(li_roster_admit(f->hub->r, curve, ed), 0);
  assert_memory_equal(ed, f->c07->id.pk, LI_PK_BYTES);
  assert_int_equal(li_curve_pk_from_ed(f->other, curve), LI_OK);
  assert_int_equal(li_roster_admit(f->hub->r, curve, ed), -1);
  assert_int_equal(li_curve_pk_from_ed(f->hub->id.pk, curve), LI_OK);
  assert_int_equal(li_roster_admit(f->hub->r, curve, ed), -1); /* the hub is not a committee */
  /* removed: no longer found as active, no longer admitted, still named */
  assert_int_equal(li_roster_remove(f->hub->r, "c07", li_wall_ms(), NULL, &eb), LI_OK);
  assert_int_equal(li_roster_by_name(f->hub->r, "c07", true, &m, &eb), LI_ERR_NOT_FOUND);
  assert_int_equal(li_roster_by_name(f->hub->r, "c07", false, &m, &eb), LI_OK);
  assert_true(m.revoked);
  assert_int_equal(li_curve_pk_from_ed(f->c07->id.pk, curve), LI_OK);
  assert_int_equal(li_roster_admit(f->hub->r, curve, ed), -1);
  char name[64];
  li_roster_name_of(f->hub->r, f->c07->id.pk, name, sizeof name);
  assert_string_equal(name, "c07");
  li_roster_name_of(f->hub->r, f->other, name, sizeof name);
  assert_int_equal(strncmp(name, f->other_key, 10), 0);
  assert_int_equal(strlen(name), 10);
}

static void test_list_digest_and_rows(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  uint8_t d0[LI_HASH_BYTES], d1[LI_HASH_BYTES], d2[LI_HASH_BYTES];
  assert_int_equal(li_roster_digest(f->hub->r, d0, &eb), LI_OK);
  assert_int_equal(li_roster_digest(f->hub->r, d1, &eb), LI_OK);
  assert_memory_equal(d0, d1, LI_HASH_BYTES); /* stable */
  assert_int_equal(li_roster_add(f->hub->r, "a01", f->other_key, "a01", li_wall_ms(), &eb), LI_OK);
  assert_int_equal(li_roster_digest(f->hub->r, d1, &eb), LI_OK);
  assert_memory_not_equal(d0, d1, LI_HASH_BYTES);
  li_member *m = NULL;
  size_t n = 0;
  assert_int_equal(li_roster_list(f->hub->r, &m, &n, &eb), LI_OK);
  assert_int_equal(n, 3);
  assert_string_equal(m[0].name, "hub"); /* the hub first, then by name */
  assert_string_equal(m[1].name, "a01");
  assert_string_equal(m[2].name, "c07");
  free(m);
  assert_int_equal(li_roster_remove(f->hub->r, "a01", li_wall_ms(), NULL, &eb), LI_OK);
  assert_int_equal(li_roster_digest(f->hub->r, d2, &eb), LI_OK);
  assert_memory_not_equal(d1, d2, LI_HASH_BYTES);
  /* a row nobody could have written through linli: list refuses it, the
   * report's lenient rows show it as it is */
  assert_int_equal(li_exec(f->hub->r,
                           "INSERT INTO linli_applying VALUES(1); "
                           "INSERT INTO roster(name, scope, pubkey, member_scope, role) VALUES('x y', 'street', 'k', "
                           "'c99', 'committee'); DELETE FROM linli_applying",
                           &eb),
                   LI_OK);
  assert_int_equal(li_roster_list(f->hub->r, &m, &n, &eb), LI_ERR_TAMPERED);
  assert_null(m);
  li_roster_row *rows = NULL;
  assert_int_equal(li_roster_rows(f->hub->r, NULL, 100, &rows, &n, &eb), LI_OK);
  assert_int_equal(n, 3); /* committees only: a01 (revoked), c07, 'x y' */
  assert_string_equal(rows[2].name, "x y");
  assert_false(rows[2].key_ok);
  assert_true(rows[0].revoked);
  free(rows);
  assert_int_equal(li_roster_rows(f->hub->r, "c07", 100, &rows, &n, &eb), LI_OK);
  assert_int_equal(n, 1);
  free(rows);
  assert_int_equal(li_roster_rows(f->hub->r, NULL, 2, &rows, &n, &eb), LI_ERR_LIMIT);
}

/* roster replace: the old key stays valid up to the last seq the hub holds,
 * the name is admitted again with the new key for the same scope. */
static void test_replace(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "INSERT INTO linli_vv(origin, scope, seq, head) VALUES(?, 'c07', 5, zeroblob(32))", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_blob(st, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  char hub_key[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(f->hub->id.pk, hub_key);
  struct {
    li_replica *r;
    const char *name, *key;
    li_err want;
  } refusals[] = {
      {f->c07->r, "c07", f->other_key, LI_ERR_ROLE},
      {f->hub->r, "nobody", f->other_key, LI_ERR_NOT_FOUND},
      {f->hub->r, "hub", f->other_key, LI_ERR_USAGE},
      {f->hub->r, "c07", hub_key, LI_ERR_USAGE},
      {f->hub->r, "c07", f->c07_key, LI_ERR_EXISTS}, /* the key it has */
      {f->hub->r, "c07", "junk", LI_ERR_KEY},
  };
  for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
    li_err e = li_roster_replace(refusals[i].r, refusals[i].name, refusals[i].key, li_wall_ms(), NULL, &eb);
    if (e != refusals[i].want) fail_msg("replace %zu: %s, want %s (%s)", i, li_errname(e), li_errname(refusals[i].want), eb.msg);
  }
  uint64_t after = 0;
  assert_int_equal(li_roster_replace(f->hub->r, "c07", f->other_key, li_wall_ms(), &after, &eb), LI_OK);
  assert_int_equal(after, 5);
  li_member m;
  assert_int_equal(li_roster_by_name(f->hub->r, "c07", true, &m, &eb), LI_OK);
  assert_memory_equal(m.key, f->other, LI_PK_BYTES);
  assert_string_equal(m.scope, "c07");
  assert_int_equal(li_roster_by_name(f->hub->r, "c07-r1", false, &m, &eb), LI_OK);
  assert_true(m.revoked);
  assert_int_equal(m.revoked_after_seq, 5);
  assert_int_equal(li_roster_may_write(f->hub->r, f->c07->id.pk, "c07", 5, &eb), LI_OK);
  assert_int_equal(li_roster_may_write(f->hub->r, f->c07->id.pk, "c07", 6, &eb), LI_ERR_UNKNOWN_SIGNER);
  assert_int_equal(li_roster_may_write(f->hub->r, f->other, "c07", 1, &eb), LI_OK);
  /* again: the next retired name */
  li_identity third;
  char third_key[LI_PK_TEXT_LEN + 1];
  assert_int_equal(li_identity_generate(&third), LI_OK);
  li_pk_to_text(third.pk, third_key);
  li_identity_wipe(&third);
  assert_int_equal(li_roster_replace(f->hub->r, "c07", third_key, li_wall_ms(), NULL, &eb), LI_OK);
  assert_int_equal(li_roster_by_name(f->hub->r, "c07-r2", false, &m, &eb), LI_OK);
  assert_memory_equal(m.key, f->other, LI_PK_BYTES);
  assert_int_equal(li_replica_dirty_count(f->hub->r), 0); /* sealed */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_may_write, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_add_and_remove_refusals, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_lookups_reads_and_admission, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_list_digest_and_rows, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_replace, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

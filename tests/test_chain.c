/* chain: append, heads, fetch order, the log as stored, invariants
 * (asserted on misuse) and tampered rows (LI_ERR_TAMPERED, table-driven).
 *
 * The chain module stores what it is given: it does not open commits. So
 * these tests append synthetic ones on a bare replica: origin keys filled
 * with one byte (A = 0xA1, B = 0xB2), hashes derived from (origin, scope,
 * seq), and "sc" bytes that say which commit they are. */
#include "testnode.h"

#include "chain.h"
#include "replica.h"

#define A 0xA1
#define B 0xB2

typedef struct {
  char dir[256];
  char path[300];
  li_replica *r;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  snprintf(f->path, sizeof f->path, "%s/replica.db", f->dir);
  f->r = tu_replica_new(f->dir, LI_ROLE_HUB, "street", "CREATE TABLE t(id TEXT, scope TEXT, PRIMARY KEY(id, scope));");
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  li_replica_close(&f->r);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static void s_hash(uint8_t out[LI_HASH_BYTES], uint8_t origin, const char *scope, uint64_t seq) {
  memset(out, 0, LI_HASH_BYTES);
  out[0] = origin;
  snprintf((char *)out + 1, 16, "%s", scope);
  out[20] = (uint8_t)seq;
  out[31] = 0x77; /* never all zero */
}

static void s_sc(char *out, size_t cap, uint8_t origin, const char *scope, uint64_t seq) {
  snprintf(out, cap, "%02X/%s#%llu", origin, scope, (unsigned long long)seq);
}

/* Appends (origin, scope) #seq stamped hlc, chained to #seq-1, in a
 * transaction of its own. */
static void s_append(fx *f, uint8_t origin, const char *scope, uint64_t seq, uint64_t hlc) {
  uint8_t o[LI_PK_BYTES], h[LI_HASH_BYTES], prev[LI_HASH_BYTES];
  char sc[64];
  tu_key(o, origin);
  s_hash(h, origin, scope, seq);
  s_hash(prev, origin, scope, seq - 1);
  s_sc(sc, sizeof sc, origin, scope, seq);
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  li_err e = li_chain_append(f->r, o, scope, seq, hlc, h, seq > 1 ? prev : NULL, (const uint8_t *)sc, strlen(sc),
                             1000 + seq, &eb);
  if (e) fail_msg("append: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(li_replica_commit(f->r, &eb), LI_OK);
}

/* A#1..3 and B#1..2 in c07, A#1 in street, B#1 in c08; hlcs interleave,
 * with a tie (A and B at 20 in c07). */
static void s_fill(fx *f) {
  s_append(f, A, "c07", 1, 10);
  s_append(f, B, "c07", 1, 20);
  s_append(f, A, "c07", 2, 20);
  s_append(f, A, "c07", 3, 40);
  s_append(f, B, "c07", 2, 30);
  s_append(f, A, "street", 1, 5);
  s_append(f, B, "c08", 1, 15);
}

/* ---- one chain ---- */

static void test_append_and_head(void **state) {
  fx *f = *state;
  uint8_t a[LI_PK_BYTES], head[LI_HASH_BYTES], want[LI_HASH_BYTES], zero[LI_HASH_BYTES] = {0};
  tu_key(a, A);
  uint64_t seq = 99;
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_head(f->r, a, "c07", &seq, head, &eb), LI_OK);
  assert_int_equal(seq, 0);
  assert_memory_equal(head, zero, LI_HASH_BYTES);
  s_fill(f);
  assert_int_equal(li_chain_head(f->r, a, "c07", &seq, head, &eb), LI_OK);
  s_hash(want, A, "c07", 3);
  assert_int_equal(seq, 3);
  assert_memory_equal(head, want, LI_HASH_BYTES);
  assert_int_equal(li_chain_head(f->r, a, "c07", &seq, NULL, &eb), LI_OK); /* head may be NULL */
  bool found = false;
  assert_int_equal(li_chain_hash_at(f->r, a, "c07", 2, head, &found, &eb), LI_OK);
  s_hash(want, A, "c07", 2);
  assert_true(found);
  assert_memory_equal(head, want, LI_HASH_BYTES);
  assert_int_equal(li_chain_hash_at(f->r, a, "c07", 4, head, &found, &eb), LI_OK);
  assert_false(found);
  assert_int_equal(li_chain_seq_at_hlc(f->r, a, "c07", 20, &seq, &found, &eb), LI_OK);
  assert_true(found);
  assert_int_equal(seq, 2);
  assert_int_equal(li_chain_seq_at_hlc(f->r, a, "c07", 21, &seq, &found, &eb), LI_OK);
  assert_false(found);
}

/* A rolled-back append leaves neither the row nor the head. */
static void test_append_rolls_back(void **state) {
  fx *f = *state;
  s_append(f, A, "c07", 1, 10);
  uint8_t a[LI_PK_BYTES], h[LI_HASH_BYTES], prev[LI_HASH_BYTES];
  tu_key(a, A);
  s_hash(h, A, "c07", 2);
  s_hash(prev, A, "c07", 1);
  li_errbuf eb = {{0}};
  assert_int_equal(li_replica_begin(f->r, &eb), LI_OK);
  assert_int_equal(li_chain_append(f->r, a, "c07", 2, 20, h, prev, (const uint8_t *)"x", 1, 1, &eb), LI_OK);
  li_replica_rollback(f->r);
  uint64_t seq;
  assert_int_equal(li_chain_head(f->r, a, "c07", &seq, NULL, &eb), LI_OK);
  assert_int_equal(seq, 1);
  assert_int_equal(tu_db_int(li_replica_db(f->r), "SELECT count(*) FROM linli_log"), 1);
}

/* ---- many chains ---- */

static void test_heads_by_scope(void **state) {
  fx *f = *state;
  s_fill(f);
  li_errbuf eb = {{0}};
  li_heads h = {0};
  li_scopes c07 = {.n = 2, .list = {"c07", "street"}};
  assert_int_equal(li_chain_heads(f->r, &c07, &h, &eb), LI_OK);
  /* by scope, then origin */
  static const struct { uint8_t o; const char *scope; uint64_t seq; } want[] = {{A, "c07", 3}, {B, "c07", 2}, {A, "street", 1}};
  assert_int_equal(h.n, 3);
  for (size_t i = 0; i < 3; i++) {
    uint8_t k[LI_PK_BYTES], hash[LI_HASH_BYTES];
    tu_key(k, want[i].o);
    s_hash(hash, want[i].o, want[i].scope, want[i].seq);
    assert_memory_equal(h.v[i].origin, k, LI_PK_BYTES);
    assert_string_equal(h.v[i].scope, want[i].scope);
    assert_int_equal(h.v[i].seq, want[i].seq);
    assert_memory_equal(h.v[i].hash, hash, LI_HASH_BYTES);
  }
  li_scopes all = {.all = true};
  assert_int_equal(li_chain_heads(f->r, &all, &h, &eb), LI_OK);
  assert_int_equal(h.n, 4);
  assert_int_equal(li_chain_heads(f->r, NULL, &h, &eb), LI_OK);
  assert_int_equal(h.n, 4);
  li_heads_clear(&h);
}

/* "origin's first byte/scope#seq@newest_hlc "; origin "?" and scope "?"
 * when not stored as a key or text, and "!" after a head that is not 32
 * bytes (li_chain_each_head hands rows as stored). */
static li_err s_collect_info(void *ctx, const li_chain_info *ci, li_errbuf *eb) {
  char *out = ctx, origin[3] = "?";
  if (ci->origin_len == LI_PK_BYTES) snprintf(origin, sizeof origin, "%02X", ci->origin[0]);
  snprintf(out + strlen(out), 512 - strlen(out), "%s/%s#%lld@%llu%s ", origin, ci->scope ? ci->scope : "?",
           (long long)ci->seq, (unsigned long long)ci->newest_hlc, ci->head_len == LI_HASH_BYTES ? "" : "!");
  return LI_OK;
}

static void test_each_head_with_newest_hlc(void **state) {
  fx *f = *state;
  s_fill(f);
  char got[512] = "";
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_each_head(f->r, s_collect_info, got, &eb), LI_OK);
  assert_string_equal(got, "A1/c07#3@40 B2/c07#2@30 B2/c08#1@15 A1/street#1@5 ");
  uint8_t a[LI_PK_BYTES];
  tu_key(a, A);
  uint64_t hlc = 0;
  bool found = false;
  assert_int_equal(li_chain_newest_hlc(f->r, a, &hlc, &found, &eb), LI_OK);
  assert_true(found);
  assert_int_equal(hlc, 40);
  int64_t n = -1;
  assert_int_equal(li_chain_count_since(f->r, a, 1002, &n, &eb), LI_OK); /* applied_ms = 1000 + seq */
  assert_int_equal(n, 1);
  uint8_t c[LI_PK_BYTES];
  tu_key(c, 0xC3);
  assert_int_equal(li_chain_newest_hlc(f->r, c, &hlc, &found, &eb), LI_OK);
  assert_false(found);
  /* all but a chain's tail: A/c07 holds hlc 10, 20, 40; B/c07 20, 30 */
  const struct { uint8_t o; int64_t after; uint64_t want; } but[] = {
      {A, 3, 40}, {A, 2, 30}, {A, 1, 30}, {A, -1, 30}, {B, 0, 40}, {0xC3, -1, 40}};
  for (size_t i = 0; i < sizeof but / sizeof but[0]; i++) {
    uint8_t o[LI_PK_BYTES];
    tu_key(o, but[i].o);
    assert_int_equal(li_chain_newest_hlc_but(f->r, o, "c07", but[i].after, &hlc, &eb), LI_OK);
    assert_int_equal(hlc, but[i].want);
  }
}

/* Rows as stored: a malformed head is the caller's to judge (status shows
 * it), while li_chain_heads, for the sync, refuses it. */
static void test_each_head_as_stored(void **state) {
  fx *f = *state;
  s_fill(f);
  tu_db_exec(li_replica_db(f->r), "UPDATE linli_vv SET origin = x'a1', head = x'00' WHERE scope = 'c08'");
  tu_db_exec(li_replica_db(f->r), "UPDATE linli_vv SET scope = printf('%040d', 7) WHERE scope = 'street'");
  char got[512] = "";
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_each_head(f->r, s_collect_info, got, &eb), LI_OK);
  assert_string_equal(got, "A1/0000000000000000000000000000000000000007#1@0 A1/c07#3@40 B2/c07#2@30 ?/c08#1@0! ");
  li_heads h = {0};
  assert_int_equal(li_chain_heads(f->r, NULL, &h, &eb), LI_ERR_TAMPERED);
  li_heads_clear(&h);
}

static void test_deps(void **state) {
  fx *f = *state;
  s_fill(f);
  uint8_t a[LI_PK_BYTES], c[LI_PK_BYTES];
  tu_key(a, A);
  tu_key(c, 0xC3);
  li_chain_dep d[4];
  size_t n = 0;
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_deps(f->r, "c07", a, d, 4, &n, &eb), LI_OK);
  assert_int_equal(n, 1);
  assert_int_equal(d[0].origin[0], B);
  assert_int_equal(d[0].seq, 2);
  assert_int_equal(li_chain_deps(f->r, "c07", c, d, 4, &n, &eb), LI_OK);
  assert_int_equal(n, 2); /* by origin key */
  assert_int_equal(d[0].origin[0], A);
  assert_int_equal(d[1].origin[0], B);
  assert_int_equal(li_chain_deps(f->r, "c07", c, d, 1, &n, &eb), LI_OK); /* at most max */
  assert_int_equal(n, 1);
}

/* The fetched commits as "sc sc sc ". */
static void s_fetch(fx *f, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes, char *out) {
  li_blobs b = {0};
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_fetch(f->r, ranges, n, max_count, max_bytes, &b, &eb), LI_OK);
  out[0] = 0;
  size_t bytes = 0;
  for (size_t i = 0; i < b.n; i++) {
    snprintf(out + strlen(out), 512 - strlen(out), "%.*s ", (int)b.v[i].len, (const char *)b.v[i].sc);
    bytes += b.v[i].len;
  }
  assert_int_equal(bytes, b.bytes);
  li_blobs_clear(&b);
}

static void test_fetch_order_and_limits(void **state) {
  fx *f = *state;
  s_fill(f);
  li_range r[3];
  memset(r, 0, sizeof r);
  tu_key(r[0].origin, A);
  snprintf(r[0].scope, sizeof r[0].scope, "c07");
  r[0].from_seq = 1, r[0].to_seq = 3;
  tu_key(r[1].origin, B);
  snprintf(r[1].scope, sizeof r[1].scope, "c07");
  r[1].from_seq = 1, r[1].to_seq = 2;
  tu_key(r[2].origin, A);
  snprintf(r[2].scope, sizeof r[2].scope, "street");
  r[2].from_seq = 1, r[2].to_seq = 1;
  char got[512];
  /* (hlc, origin, seq): the tie at 20 goes to A's key */
  s_fetch(f, r, 3, 100, 1 << 20, got);
  assert_string_equal(got, "A1/street#1 A1/c07#1 A1/c07#2 B2/c07#1 B2/c07#2 A1/c07#3 ");
  s_fetch(f, r, 3, 2, 1 << 20, got);
  assert_string_equal(got, "A1/street#1 A1/c07#1 ");
  s_fetch(f, r, 3, 100, 1, got); /* over the byte cap: still one */
  assert_string_equal(got, "A1/street#1 ");
  s_fetch(f, r, 3, 100, 19, got); /* 11 + 8 bytes fit, a third does not */
  assert_string_equal(got, "A1/street#1 A1/c07#1 ");
  r[0].from_seq = 2; /* ranges are respected */
  r[1].to_seq = 1;
  s_fetch(f, r, 2, 100, 1 << 20, got);
  assert_string_equal(got, "A1/c07#2 B2/c07#1 A1/c07#3 ");
  s_fetch(f, r, 0, 100, 1 << 20, got);
  assert_string_equal(got, "");
}

static li_err s_collect_row(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  char *out = ctx;
  snprintf(out + strlen(out), 512 - strlen(out), "%.*s ", (int)row->sc_len, (const char *)row->sc);
  return LI_OK;
}

static li_err s_stop_at_second(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  int *n = ctx;
  return ++*n == 2 ? li_fail(eb, LI_ERR_IO, "stop") : LI_OK;
}

static void test_each_commit(void **state) {
  fx *f = *state;
  s_fill(f);
  char got[512] = "";
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_each_commit(f->r, LI_CHAIN_BY_HLC, NULL, s_collect_row, got, &eb), LI_OK);
  assert_string_equal(got, "A1/street#1 A1/c07#1 B2/c08#1 A1/c07#2 B2/c07#1 B2/c07#2 A1/c07#3 ");
  got[0] = 0;
  li_scopes c08 = {.n = 2, .list = {"c08", "street"}};
  assert_int_equal(li_chain_each_commit(f->r, LI_CHAIN_BY_CHAIN, &c08, s_collect_row, got, &eb), LI_OK);
  assert_string_equal(got, "A1/street#1 B2/c08#1 ");
  int n = 0; /* a callback's error stops the walk and comes back as it is */
  assert_int_equal(li_chain_each_commit(f->r, LI_CHAIN_BY_CHAIN, NULL, s_stop_at_second, &n, &eb), LI_ERR_IO);
  assert_int_equal(n, 2);
  uint8_t b[LI_PK_BYTES];
  tu_key(b, B);
  got[0] = 0;
  bool found = false;
  assert_int_equal(li_chain_commit_at(f->r, b, "c07", 2, s_collect_row, got, &found, &eb), LI_OK);
  assert_true(found);
  assert_string_equal(got, "B2/c07#2 ");
  assert_int_equal(li_chain_commit_at(f->r, b, "c07", 3, s_collect_row, got, &found, &eb), LI_OK);
  assert_false(found);
}

/* The rows of a cursor as s_collect_row writes them; stepping again after
 * the end stays at the end. */
static void s_cursor_rows(li_chain_cursor *c, char *got) {
  li_errbuf eb = {{0}};
  bool done = false;
  for (int n = 0; n < 64; n++) {
    li_chain_row row;
    assert_int_equal(li_chain_cursor_next(c, &row, &done, &eb), LI_OK);
    if (done) break;
    s_collect_row(got, &row, &eb);
  }
  assert_true(done);
  li_chain_row row;
  assert_int_equal(li_chain_cursor_next(c, &row, &done, &eb), LI_OK);
  assert_true(done);
}

/* The cursor gives the rows of li_chain_each_commit, one at a time; it
 * keeps its own copy of the scopes. */
static void test_cursor(void **state) {
  fx *f = *state;
  s_fill(f);
  li_errbuf eb = {{0}};
  char want[512] = "", got[512] = "";
  li_chain_cursor *c = NULL;
  assert_int_equal(li_chain_each_commit(f->r, LI_CHAIN_BY_HLC, NULL, s_collect_row, want, &eb), LI_OK);
  assert_int_equal(li_chain_cursor_open(f->r, LI_CHAIN_BY_HLC, NULL, &c, &eb), LI_OK);
  s_cursor_rows(c, got);
  assert_string_equal(got, want);
  li_chain_cursor_close(&c);
  assert_null(c);
  li_chain_cursor_close(&c); /* safe twice */
  li_scopes scopes = {.n = 2, .list = {"c07", "street"}};
  want[0] = got[0] = 0;
  assert_int_equal(li_chain_each_commit(f->r, LI_CHAIN_BY_CHAIN, &scopes, s_collect_row, want, &eb), LI_OK);
  assert_string_equal(want, "A1/c07#1 A1/c07#2 A1/c07#3 A1/street#1 B2/c07#1 B2/c07#2 ");
  assert_int_equal(li_chain_cursor_open(f->r, LI_CHAIN_BY_CHAIN, &scopes, &c, &eb), LI_OK);
  memset(&scopes, 0, sizeof scopes); /* copied at open */
  snprintf(scopes.list[0], sizeof scopes.list[0], "c08");
  s_cursor_rows(c, got);
  assert_string_equal(got, want);
  li_chain_cursor_close(&c);
}

/* ---- invariants 2 and 3: append asserts them ---- */

typedef struct {
  const char *path;
  uint64_t seq;
  bool txn, prev_of_head;
} s_misuse;

/* In the child: a connection of its own, A#1 appended, then the misuse. */
static void s_misuse_run(void *arg) {
  const s_misuse *m = arg;
  li_replica *r = NULL;
  li_errbuf eb;
  if (li_replica_open(m->path, &r, &eb) != LI_OK) _exit(2);
  uint8_t a[LI_PK_BYTES], h[LI_HASH_BYTES], prev[LI_HASH_BYTES];
  tu_key(a, A);
  s_hash(h, A, "c07", m->seq);
  s_hash(prev, A, "c07", m->prev_of_head ? 1 : 7);
  if (m->txn && li_replica_begin(r, &eb) != LI_OK) _exit(3);
  if (li_chain_append(r, a, "c07", m->seq, 50, h, prev, (const uint8_t *)"x", 1, 1, &eb) != LI_OK) _exit(4);
  li_replica_rollback(r); /* the control leaves the file as it was for the next case */
  li_replica_close(&r);
}

static void test_append_asserts_invariants(void **state) {
  fx *f = *state;
  s_append(f, A, "c07", 1, 10);
  const struct {
    const char *name;
    s_misuse m;
    bool aborts;
  } cases[] = {
      {"control: #2 on #1", {f->path, 2, true, true}, false},
      {"no transaction", {f->path, 2, false, true}, true},
      {"gap: #3 on #1", {f->path, 3, true, true}, true},
      {"again: #1 on #1", {f->path, 1, true, true}, true},
      {"prev is not the head", {f->path, 2, true, false}, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    print_message("case %s\n", cases[i].name);
    assert_int_equal(tu_aborts(s_misuse_run, (void *)&cases[i].m), cases[i].aborts);
  }
}

/* ---- tampered rows (invariant 5), table-driven ---- */

typedef enum { DO_HEAD, DO_HASH_AT, DO_HEADS, DO_DEPS, DO_NEWEST } s_do;

static li_err s_run(fx *f, s_do what, li_errbuf *eb) {
  uint8_t a[LI_PK_BYTES], out[LI_HASH_BYTES];
  tu_key(a, A);
  uint64_t seq;
  bool found;
  li_heads h = {0};
  li_chain_dep d[4];
  size_t n;
  li_err e = LI_OK;
  switch (what) {
  case DO_HEAD: e = li_chain_head(f->r, a, "c07", &seq, out, eb); break;
  case DO_HASH_AT: e = li_chain_hash_at(f->r, a, "c07", 1, out, &found, eb); break;
  case DO_HEADS: e = li_chain_heads(f->r, NULL, &h, eb); break;
  case DO_DEPS: e = li_chain_deps(f->r, "c07", (uint8_t[LI_PK_BYTES]){0}, d, 4, &n, eb); break;
  case DO_NEWEST: e = li_chain_newest_hlc(f->r, a, &seq, &found, eb); break;
  }
  li_heads_clear(&h);
  return e;
}

static void test_tampered_rows(void **state) {
  fx *f = *state;
  const struct {
    const char *name, *sql;
    s_do what;
    li_err want;
  } cases[] = {
      {"control", "SELECT 1", DO_HEAD, LI_OK},
      {"control heads", "SELECT 1", DO_HEADS, LI_OK},
      {"short head", "UPDATE linli_vv SET head = x'00'", DO_HEAD, LI_ERR_TAMPERED},
      {"head seq 0", "UPDATE linli_vv SET seq = 0", DO_HEAD, LI_ERR_TAMPERED},
      {"short head in heads", "UPDATE linli_vv SET head = x'00'", DO_HEADS, LI_ERR_TAMPERED},
      {"short origin in heads", "UPDATE linli_vv SET origin = x'a1'", DO_HEADS, LI_ERR_TAMPERED},
      {"long scope in heads", "UPDATE linli_vv SET scope = printf('%040d', 7)", DO_HEADS, LI_ERR_TAMPERED},
      {"short origin in deps", "UPDATE linli_vv SET origin = x'a1'", DO_DEPS, LI_ERR_TAMPERED},
      {"short hash", "UPDATE linli_log SET hash = x'01'", DO_HASH_AT, LI_ERR_TAMPERED},
      {"text hlc", "UPDATE linli_log SET hlc = 'soon'", DO_NEWEST, LI_ERR_TAMPERED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (i) {
      li_replica_close(&f->r);
      tu_rmdir(f->dir);
      tu_tmpdir(f->dir);
      snprintf(f->path, sizeof f->path, "%s/replica.db", f->dir);
      f->r = tu_replica_new(f->dir, LI_ROLE_HUB, "street", "CREATE TABLE t(id TEXT, scope TEXT, PRIMARY KEY(id, scope));");
    }
    s_append(f, A, "c07", 1, 10);
    tu_db_exec(li_replica_db(f->r), cases[i].sql);
    li_errbuf eb = {{0}};
    li_err e = s_run(f, cases[i].what, &eb);
    print_message("case %s: %s: %s\n", cases[i].name, li_errname(e), e ? eb.msg : "");
    assert_int_equal(e, cases[i].want);
    if (e) assert_true(eb.msg[0] != 0);
  }
}

static li_err s_collect_bad(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  char *out = ctx;
  snprintf(out + strlen(out), 512 - strlen(out), "%s#%lld ", row->scope ? row->scope : "?", (long long)row->seq);
  return LI_OK;
}

/* Invariant 1 as verify checks it: a head whose row is gone or differs, or
 * with rows after it. */
static void test_bad_heads(void **state) {
  fx *f = *state;
  s_fill(f);
  char got[512] = "";
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_each_bad_head(f->r, s_collect_bad, got, &eb), LI_OK);
  assert_string_equal(got, ""); /* the control */
  tu_db_exec(li_replica_db(f->r), "UPDATE linli_vv SET seq = 2 WHERE scope = 'c07' AND hex(origin) LIKE 'A1%'");
  tu_db_exec(li_replica_db(f->r), "UPDATE linli_log SET hash = zeroblob(32) WHERE scope = 'c08'");
  assert_int_equal(li_chain_each_bad_head(f->r, s_collect_bad, got, &eb), LI_OK);
  assert_non_null(strstr(got, "c07#2 "));
  assert_non_null(strstr(got, "c08#1 "));
  assert_null(strstr(got, "street"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_append_and_head, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_append_rolls_back, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_heads_by_scope, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_each_head_with_newest_hlc, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_each_head_as_stored, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_deps, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_fetch_order_and_limits, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_each_commit, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_cursor, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_append_asserts_invariants, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_tampered_rows, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_heads, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

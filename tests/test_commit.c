/* Tests of node/commit.c: li_commit_seal, li_commit_open, li_commit_name and
 * li_commit_pos, on keys of real nodes (a hub and committees c07, c08).
 *
 * What the other tests do not cover:
 *   - open's error order, one row per refusal: every check of commit.c has
 *     a row, and a row of stage k (size cap, wrapper decode, network,
 *     signature, decode, structure) also breaks a later stage where it can,
 *     so the row proves that stage k comes first. test_hostile_table and
 *     test_hostile feed a few of these through merge and bundles; here
 *     every structural check is reached on its own, with its limit.
 *   - seal/open as a pair: fields, hash, determinism, the size cap of seal.
 *   - li_commit_pos, the chain position read from the wire format: valid
 *     commits agree with li_commit_open; every prefix of a commit, inside
 *     and outside, agrees with protobuf-c; wrong wire types, groups, field
 *     0 and overlong varints are refused where protobuf-c refuses them;
 *     scope bounds and NUL; repeated fields (the last wins); size caps; the
 *     outputs are zeroed on a refusal. tests/fuzz/fuzz_commit_pos.c fuzzes
 *     the agreement with protobuf-c. */
#include "testnode.h"

#include "arena.h"
#include "li_limits.h"

/* ---- fixture ---- */

typedef struct {
  tu_street s;
  li_node *c07, *c08;
  const uint8_t *net;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_street_new(&f->s, NULL);
  f->c07 = tu_street_committee(&f->s, "c07", "c07", true, NULL);
  f->c08 = tu_street_committee(&f->s, "c08", "c08", true, NULL);
  f->net = f->s.hub->r->network;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  tu_street_free(&f->s);
  free(f);
  return 0;
}

/* A valid one-row spec of c07 (seq 2 with a prev, one dep), for mutation. */
typedef struct {
  tu_spec sp;
  uint8_t prev[LI_HASH_BYTES];
  const char *cols[3];
  Linli__Value v[3], *vals[3];
} s_base;

static void s_base_init(fx *f, s_base *b) {
  memset(b, 0, sizeof *b);
  memset(b->prev, 0x5A, sizeof b->prev);
  b->cols[0] = "resident_ref", b->cols[1] = "visited_on", b->cols[2] = "follow_up";
  b->vals[0] = tu_v_text(&b->v[0], "R-001");
  b->vals[1] = tu_v_text(&b->v[1], "2025-03-01");
  b->vals[2] = tu_v_int(&b->v[2], 1);
  b->sp = (tu_spec){.signer = &f->c07->id, .network = f->net, .scope = "c07", .seq = 2, .prev = b->prev,
                    .hlc = LI_HLC_MAKE(f->s.t0, 3), .ndeps = 1, .nrows = 1};
  b->sp.dep_origin[0] = f->s.hub->id.pk;
  b->sp.dep_seq[0] = 1;
  b->sp.rows[0] = (tu_row){.table = "care_visits", .id = "v1", .ncols = 3, .cols = b->cols, .vals = b->vals};
}

/* ---- seal and open ---- */

static void test_seal_open_round_trip(void **state) {
  fx *f = *state;
  s_base b;
  s_base_init(f, &b);
  tu_commit_mem m;
  tu_commit_build(&m, &b.sp);
  uint8_t *sc = NULL, *sc2 = NULL, hash[LI_HASH_BYTES], hash2[LI_HASH_BYTES];
  size_t len = 0, len2 = 0, clen;
  li_errbuf eb = {{0}};
  assert_int_equal(li_commit_seal(&f->c07->id, f->net, &m.c, &sc, &len, hash, &eb), LI_OK);
  /* Ed25519 is deterministic: the same commit seals to the same bytes */
  assert_int_equal(li_commit_seal(&f->c07->id, f->net, &m.c, &sc2, &len2, hash2, &eb), LI_OK);
  assert_int_equal(len, len2);
  assert_memory_equal(sc, sc2, len);
  assert_memory_equal(hash, hash2, LI_HASH_BYTES);
  uint8_t *packed = tu_commit_pack(&m.c, &clen), want[LI_HASH_BYTES];
  li_hash(packed, clen, want);
  assert_memory_equal(hash, want, LI_HASH_BYTES); /* the hash is over the Commit bytes, as signed */

  li_arena a;
  li_arena_init(&a);
  li_commit c;
  assert_int_equal(li_commit_open(f->net, sc, len, &a, &c, &eb), LI_OK);
  assert_memory_equal(c.origin, f->c07->id.pk, LI_PK_BYTES);
  assert_string_equal(c.scope, "c07");
  assert_int_equal(c.seq, 2);
  assert_int_equal(c.hlc, LI_HLC_MAKE(f->s.t0, 3));
  assert_int_equal(c.nrows, 1);
  assert_memory_equal(c.hash, hash, LI_HASH_BYTES);
  assert_ptr_equal(c.sc, sc);
  assert_int_equal(c.sc_len, len);
  assert_memory_equal(c.c->prev.data, b.prev, LI_HASH_BYTES);
  assert_int_equal(c.c->n_deps, 1);
  assert_memory_equal(c.c->deps[0]->origin.data, f->s.hub->id.pk, LI_PK_BYTES);
  assert_string_equal(c.c->tables[0]->table, "care_visits");
  assert_string_equal(c.c->tables[0]->rows[0]->values[0]->t, "R-001");
  assert_int_equal(c.c->tables[0]->rows[0]->values[2]->i, 1);
  /* another network's replica refuses it */
  li_arena_reset(&a);
  assert_int_equal(li_commit_open(f->c07->id.pk, sc, len, &a, &c, &eb), LI_ERR_WRONG_NETWORK);
  li_arena_free(&a);
  free(packed);
  free(sc);
  free(sc2);
}

/* What seal wrote to the log opens again with the hash the log holds. */
static void test_open_sealed_log(void **state) {
  fx *f = *state;
  tu_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES"
                  "('v1','c07','R-001','2025-03-01'),('v2','c07','R-002','2025-03-02')");
  tu_seal(f->c07, f->s.t0 + 10);
  size_t len;
  uint8_t *sc = tu_log_commit(f->c07, f->c07->id.pk, "c07", 1, &len);
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  li_errbuf eb = {{0}};
  assert_int_equal(li_commit_open(f->net, sc, len, &a, &c, &eb), LI_OK);
  assert_int_equal(c.nrows, 2);
  assert_int_equal(c.seq, 1);
  assert_int_equal(c.c->prev.len, 0);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT hex(hash) FROM linli_log WHERE scope='c07' AND seq=1");
  char hex[2 * LI_HASH_BYTES + 1];
  for (int i = 0; i < LI_HASH_BYTES; i++) snprintf(hex + 2 * i, 3, "%02X", c.hash[i]);
  assert_string_equal(tu_text(f->c07, sql), hex);
  li_arena_free(&a);
  free(sc);
}

/* Seal refuses a commit over LI_COMMIT_BYTES_MAX and hands out nothing. */
static void test_seal_too_big(void **state) {
  fx *f = *state;
  enum { N = 5 };
  const char *cols[N] = {"resident_ref", "visited_on", "visitor", "outcome", "note"};
  Linli__Value v[N], *vals[N];
  char *big = malloc(LI_VALUE_BYTES_MAX + 1);
  assert_non_null(big);
  memset(big, 'x', LI_VALUE_BYTES_MAX);
  big[LI_VALUE_BYTES_MAX] = 0;
  for (int i = 0; i < N; i++) vals[i] = tu_v_text(&v[i], big); /* 5 MiB in all */
  tu_spec sp = {.signer = &f->c07->id, .network = f->net, .scope = "c07", .hlc = LI_HLC_MAKE(f->s.t0, 0), .nrows = 1};
  sp.rows[0] = (tu_row){.table = "care_visits", .id = "v1", .ncols = N, .cols = cols, .vals = vals};
  tu_commit_mem m;
  tu_commit_build(&m, &sp);
  uint8_t *sc = NULL, hash[LI_HASH_BYTES];
  size_t len = 0;
  li_errbuf eb = {{0}};
  assert_int_equal(li_commit_seal(&f->c07->id, f->net, &m.c, &sc, &len, hash, &eb), LI_ERR_TOO_BIG);
  assert_non_null(strstr(eb.msg, "LI_COMMIT_BYTES_MAX"));
  assert_null(sc);
  free(big);
}

/* ---- open: every refusal, in order ---- */

typedef struct {
  uint8_t *p;
  size_t n;
} s_bytes;

typedef struct {
  const char *name;
  s_bytes (*make)(fx *f);
  li_err want;
  const char *msg_has;
} s_open_case;

/* The base commit after mut, signed by c07 for the network. */
static s_bytes s_signed(fx *f, void (*mut)(fx *, tu_commit_mem *, s_base *)) {
  s_base b;
  s_base_init(f, &b);
  tu_commit_mem *m = malloc(sizeof *m);
  assert_non_null(m);
  tu_commit_build(m, &b.sp);
  if (mut) mut(f, m, &b);
  size_t clen;
  uint8_t *c = tu_commit_pack(&m->c, &clen);
  s_bytes out;
  out.p = tu_wrap(&f->c07->id, f->net, c, clen, &out.n);
  free(c);
  free(m);
  return out;
}

/* A SignedCommit of any parts (a NULL part is left out). */
static s_bytes s_wrapper(const uint8_t *commit, size_t clen, const uint8_t *sig, size_t slen, const uint8_t *signer,
                         const uint8_t *network) {
  Linli__SignedCommit w = LINLI__SIGNED_COMMIT__INIT;
  if (commit) w.commit = (ProtobufCBinaryData){clen, (uint8_t *)commit};
  if (sig) w.sig = (ProtobufCBinaryData){slen, (uint8_t *)sig};
  if (signer) w.signer = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)signer};
  if (network) w.network = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)network};
  s_bytes out;
  out.n = linli__signed_commit__get_packed_size(&w);
  out.p = malloc(out.n ? out.n : 1);
  assert_non_null(out.p);
  linli__signed_commit__pack(&w, out.p);
  return out;
}

static uint8_t s_other_net[LI_PK_BYTES] = {1, 2, 3};
static const uint8_t s_garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* stage 1, size: garbage over the cap (would fail every later stage) */
static s_bytes o_size_cap(fx *f) {
  s_bytes b = {calloc(1, LI_SIGNED_COMMIT_BYTES_MAX + 1), LI_SIGNED_COMMIT_BYTES_MAX + 1};
  assert_non_null(b.p);
  memset(b.p, 0xff, b.n);
  return b;
}

/* stage 2, wrapper decode */
static s_bytes o_wrapper_truncated(fx *f) {
  s_bytes b = s_signed(f, NULL);
  b.n -= 1;
  return b;
}

static s_bytes o_wrapper_garbage(fx *f) {
  s_bytes b = {malloc(sizeof s_garbage), sizeof s_garbage};
  memcpy(b.p, s_garbage, sizeof s_garbage);
  return b;
}

static s_bytes o_wrapper_unknown_field(fx *f) {
  s_bytes b = s_signed(f, NULL);
  b.p = realloc(b.p, b.n + 2);
  b.p[b.n] = (9 << 3) | 0, b.p[b.n + 1] = 1; /* field 9, varint: the signature still verifies */
  b.n += 2;
  return b;
}

/* a 63-byte signature, and another network (stage 3) too */
static s_bytes o_wrapper_short_sig(fx *f) {
  uint8_t sig[LI_SIG_BYTES - 1] = {0};
  return s_wrapper(s_garbage, sizeof s_garbage, sig, sizeof sig, f->c07->id.pk, s_other_net);
}

static s_bytes o_wrapper_no_signer(fx *f) {
  uint8_t sig[LI_SIG_BYTES] = {0};
  return s_wrapper(s_garbage, sizeof s_garbage, sig, sizeof sig, NULL, s_other_net);
}

static s_bytes o_wrapper_no_network(fx *f) {
  uint8_t sig[LI_SIG_BYTES] = {0};
  return s_wrapper(s_garbage, sizeof s_garbage, sig, sizeof sig, f->c07->id.pk, NULL);
}

static s_bytes o_wrapper_empty_commit(fx *f) {
  uint8_t sig[LI_SIG_BYTES] = {0};
  return s_wrapper(NULL, 0, sig, sizeof sig, f->c07->id.pk, s_other_net);
}

/* a commit field over LI_COMMIT_BYTES_MAX inside the wrapper's cap, of
 * another network (stage 3) too */
static s_bytes o_commit_over_cap(fx *f) {
  size_t n = LI_COMMIT_BYTES_MAX + 1;
  uint8_t *c = malloc(n), sig[LI_SIG_BYTES] = {0};
  memset(c, 0xff, n);
  s_bytes b = s_wrapper(c, n, sig, sizeof sig, f->c07->id.pk, s_other_net);
  free(c);
  assert_true(b.n <= LI_SIGNED_COMMIT_BYTES_MAX);
  return b;
}

/* stage 3, network: another network, with a bad signature and an undecodable commit */
static s_bytes o_wrong_network(fx *f) {
  uint8_t sig[LI_SIG_BYTES] = {0};
  return s_wrapper(s_garbage, sizeof s_garbage, sig, sizeof sig, f->c07->id.pk, s_other_net);
}

/* stage 4, signature */
static s_bytes o_bad_signature(fx *f) {
  s_base b;
  s_base_init(f, &b);
  size_t clen;
  tu_commit_mem m;
  tu_commit_build(&m, &b.sp);
  uint8_t *c = tu_commit_pack(&m.c, &clen), sig[LI_SIG_BYTES];
  li_sign_commit(&f->c07->id, f->net, c, clen, sig);
  sig[10] ^= 1;
  s_bytes out = s_wrapper(c, clen, sig, sizeof sig, f->c07->id.pk, f->net);
  free(c);
  return out;
}

/* signed by c08, naming c07 as the signer */
static s_bytes o_signature_by_another_key(fx *f) {
  s_base b;
  s_base_init(f, &b);
  size_t clen;
  tu_commit_mem m;
  tu_commit_build(&m, &b.sp);
  uint8_t *c = tu_commit_pack(&m.c, &clen), sig[LI_SIG_BYTES];
  li_sign_commit(&f->c08->id, f->net, c, clen, sig);
  s_bytes out = s_wrapper(c, clen, sig, sizeof sig, f->c07->id.pk, f->net);
  free(c);
  return out;
}

/* the signature covers the network: one made for another network fails */
static s_bytes o_signed_for_another_network(fx *f) {
  s_base b;
  s_base_init(f, &b);
  size_t clen;
  tu_commit_mem m;
  tu_commit_build(&m, &b.sp);
  uint8_t *c = tu_commit_pack(&m.c, &clen), sig[LI_SIG_BYTES];
  li_sign_commit(&f->c07->id, s_other_net, c, clen, sig);
  s_bytes out = s_wrapper(c, clen, sig, sizeof sig, f->c07->id.pk, f->net);
  free(c);
  return out;
}

/* commit bytes that do not decode, under a signature of other bytes */
static s_bytes o_bad_signature_undecodable(fx *f) {
  uint8_t sig[LI_SIG_BYTES];
  li_sign_commit(&f->c07->id, f->net, (const uint8_t *)"x", 1, sig);
  return s_wrapper(s_garbage, sizeof s_garbage, sig, sizeof sig, f->c07->id.pk, f->net);
}

/* stage 5, the commit's decode (signed correctly) */
static s_bytes o_commit_garbage_signed(fx *f) {
  s_bytes out;
  out.p = tu_wrap(&f->c07->id, f->net, s_garbage, sizeof s_garbage, &out.n);
  return out;
}

static s_bytes o_commit_truncated_signed(fx *f) {
  s_base b;
  s_base_init(f, &b);
  size_t clen;
  tu_commit_mem m;
  tu_commit_build(&m, &b.sp);
  uint8_t *c = tu_commit_pack(&m.c, &clen);
  s_bytes out;
  out.p = tu_wrap(&f->c07->id, f->net, c, clen - 1, &out.n);
  free(c);
  return out;
}

/* an unknown field, and an origin that is not the signer (stage 6) */
static s_bytes o_commit_unknown_field_signed(fx *f) {
  s_base b;
  s_base_init(f, &b);
  b.sp.signer = &f->c08->id;
  size_t clen;
  tu_commit_mem m;
  tu_commit_build(&m, &b.sp);
  uint8_t *c = tu_commit_pack(&m.c, &clen);
  c = realloc(c, clen + 2);
  c[clen] = (15 << 3) | 0, c[clen + 1] = 7; /* field 15, varint */
  s_bytes out;
  out.p = tu_wrap(&f->c07->id, f->net, c, clen + 2, &out.n);
  free(c);
  return out;
}

/* stage 6, structure: mutations of the base commit, signed by c07 */

static void m_origin_not_signer(fx *f, tu_commit_mem *m, s_base *b) { m->c.origin.data = f->c08->id.pk; }
static void m_origin_short(fx *f, tu_commit_mem *m, s_base *b) { m->c.origin.len = LI_PK_BYTES - 1; }
static void m_scope_invalid(fx *f, tu_commit_mem *m, s_base *b) { m->c.scope = "C07!"; }
static void m_scope_empty(fx *f, tu_commit_mem *m, s_base *b) { m->c.scope = ""; }
static void m_seq_zero(fx *f, tu_commit_mem *m, s_base *b) { m->c.seq = 0; }
static void m_seq_over(fx *f, tu_commit_mem *m, s_base *b) { m->c.seq = (uint64_t)INT64_MAX + 1; }
static void m_prev_on_seq1(fx *f, tu_commit_mem *m, s_base *b) { m->c.seq = 1; }
static void m_no_prev_on_seq2(fx *f, tu_commit_mem *m, s_base *b) { m->c.prev.len = 0; }
static void m_prev_short(fx *f, tu_commit_mem *m, s_base *b) { m->c.prev.len = LI_HASH_BYTES - 1; }
static void m_hlc_no_ms(fx *f, tu_commit_mem *m, s_base *b) { m->c.hlc = 7; }
static void m_hlc_over(fx *f, tu_commit_mem *m, s_base *b) { m->c.hlc = (uint64_t)INT64_MAX + 1; }
static void m_dep_short(fx *f, tu_commit_mem *m, s_base *b) { m->dep[0].origin.len = 3; }
static void m_dep_seq_over(fx *f, tu_commit_mem *m, s_base *b) { m->dep[0].seq = (uint64_t)INT64_MAX + 1; }
static void m_no_tables(fx *f, tu_commit_mem *m, s_base *b) { m->c.n_tables = 0; }
static void m_table_no_name(fx *f, tu_commit_mem *m, s_base *b) { m->tc[0].table = ""; }
static void m_column_empty(fx *f, tu_commit_mem *m, s_base *b) { b->cols[1] = ""; }
static void m_row_no_key(fx *f, tu_commit_mem *m, s_base *b) { m->rc[0].n_pk = 0; }
static void m_key_no_type(fx *f, tu_commit_mem *m, s_base *b) { m->key[0].v_case = LINLI__VALUE__V__NOT_SET; }
static void m_value_no_type(fx *f, tu_commit_mem *m, s_base *b) { b->v[2].v_case = LINLI__VALUE__V__NOT_SET; }
static void m_cl_zero(fx *f, tu_commit_mem *m, s_base *b) { m->rc[0].cl = 0; }
static void m_cl_over(fx *f, tu_commit_mem *m, s_base *b) { m->rc[0].cl = (uint64_t)INT64_MAX + 1; }
static void m_cols_values_differ(fx *f, tu_commit_mem *m, s_base *b) { m->rc[0].n_values = 2; }
static void m_deleted_with_values(fx *f, tu_commit_mem *m, s_base *b) { m->rc[0].cl = 2; }
static void m_col_out_of_range(fx *f, tu_commit_mem *m, s_base *b) { m->idx[0][2] = 3; }
static void m_col_twice(fx *f, tu_commit_mem *m, s_base *b) { m->idx[0][2] = 0; }

/* The mutations that need memory of their own keep it here until packed. */
static Linli__Dep s_deps[LI_DEPS_MAX + 1], *s_depp[LI_DEPS_MAX + 1];
static Linli__TableChanges *s_tabp[LI_COMMIT_TABLES_MAX + 1];
static char *s_colnames[LI_TABLE_COLS_MAX + 1];
static Linli__RowChange s_rows[LI_COMMIT_ROWS_MAX + 1], *s_rowp[LI_COMMIT_ROWS_MAX + 1];
static Linli__Value *s_keys9[LI_PK_COLS_MAX + 1];
static char *s_bigtext;

static void m_deps_over(fx *f, tu_commit_mem *m, s_base *b) {
  for (size_t i = 0; i <= LI_DEPS_MAX; i++) {
    linli__dep__init(&s_deps[i]);
    s_deps[i].origin = (ProtobufCBinaryData){LI_PK_BYTES, f->c08->id.pk};
    s_deps[i].seq = i;
    s_depp[i] = &s_deps[i];
  }
  m->c.n_deps = LI_DEPS_MAX + 1;
  m->c.deps = s_depp;
}

static void m_tables_over(fx *f, tu_commit_mem *m, s_base *b) {
  for (size_t i = 0; i <= LI_COMMIT_TABLES_MAX; i++) s_tabp[i] = &m->tc[0];
  m->c.n_tables = LI_COMMIT_TABLES_MAX + 1;
  m->c.tables = s_tabp;
}

static void m_columns_over(fx *f, tu_commit_mem *m, s_base *b) {
  for (size_t i = 0; i <= LI_TABLE_COLS_MAX; i++) s_colnames[i] = "c";
  m->tc[0].n_columns = LI_TABLE_COLS_MAX + 1;
  m->tc[0].columns = s_colnames;
}

static void m_rows_over(fx *f, tu_commit_mem *m, s_base *b) {
  for (size_t i = 0; i <= LI_COMMIT_ROWS_MAX; i++) {
    s_rows[i] = m->rc[0];
    s_rowp[i] = &s_rows[i];
  }
  m->tc[0].n_rows = LI_COMMIT_ROWS_MAX + 1;
  m->tc[0].rows = s_rowp;
}

static void m_key_over(fx *f, tu_commit_mem *m, s_base *b) {
  for (size_t i = 0; i <= LI_PK_COLS_MAX; i++) s_keys9[i] = &m->key[0];
  m->rc[0].n_pk = LI_PK_COLS_MAX + 1;
  m->rc[0].pk = s_keys9;
}

static void m_text_over(fx *f, tu_commit_mem *m, s_base *b) {
  s_bigtext = malloc(LI_VALUE_BYTES_MAX + 2);
  assert_non_null(s_bigtext);
  memset(s_bigtext, 'x', LI_VALUE_BYTES_MAX + 1);
  s_bigtext[LI_VALUE_BYTES_MAX + 1] = 0;
  tu_v_text(&b->v[0], s_bigtext);
}

static void m_blob_over(fx *f, tu_commit_mem *m, s_base *b) {
  s_bigtext = calloc(1, LI_VALUE_BYTES_MAX + 1);
  assert_non_null(s_bigtext);
  tu_v_blob(&b->v[0], s_bigtext, LI_VALUE_BYTES_MAX + 1);
}

#define S_MUT(fn)                                                                                                   \
  static s_bytes o_##fn(fx *f) {                                                                                    \
    s_bytes out = s_signed(f, m_##fn);                                                                              \
    free(s_bigtext);                                                                                                \
    s_bigtext = NULL;                                                                                               \
    return out;                                                                                                     \
  }
S_MUT(origin_not_signer)
S_MUT(origin_short)
S_MUT(scope_invalid)
S_MUT(scope_empty)
S_MUT(seq_zero)
S_MUT(seq_over)
S_MUT(prev_on_seq1)
S_MUT(no_prev_on_seq2)
S_MUT(prev_short)
S_MUT(hlc_no_ms)
S_MUT(hlc_over)
S_MUT(deps_over)
S_MUT(dep_short)
S_MUT(dep_seq_over)
S_MUT(no_tables)
S_MUT(tables_over)
S_MUT(table_no_name)
S_MUT(columns_over)
S_MUT(column_empty)
S_MUT(rows_over)
S_MUT(row_no_key)
S_MUT(key_over)
S_MUT(key_no_type)
S_MUT(value_no_type)
S_MUT(text_over)
S_MUT(blob_over)
S_MUT(cl_zero)
S_MUT(cl_over)
S_MUT(cols_values_differ)
S_MUT(deleted_with_values)
S_MUT(col_out_of_range)
S_MUT(col_twice)

static const s_open_case s_open_cases[] = {
    /* 1: size cap */
    {"size_cap", o_size_cap, LI_ERR_TOO_BIG, "LI_SIGNED_COMMIT_BYTES_MAX"},
    /* 2: wrapper decode */
    {"wrapper_truncated", o_wrapper_truncated, LI_ERR_DECODE, "does not decode"},
    {"wrapper_garbage", o_wrapper_garbage, LI_ERR_DECODE, "does not decode"},
    {"wrapper_unknown_field", o_wrapper_unknown_field, LI_ERR_DECODE, "unknown field"},
    {"wrapper_short_sig", o_wrapper_short_sig, LI_ERR_DECODE, "lacks"},
    {"wrapper_no_signer", o_wrapper_no_signer, LI_ERR_DECODE, "lacks"},
    {"wrapper_no_network", o_wrapper_no_network, LI_ERR_DECODE, "lacks"},
    {"wrapper_empty_commit", o_wrapper_empty_commit, LI_ERR_DECODE, "lacks"},
    {"commit_over_cap", o_commit_over_cap, LI_ERR_TOO_BIG, "LI_COMMIT_BYTES_MAX"},
    /* 3: network */
    {"wrong_network", o_wrong_network, LI_ERR_WRONG_NETWORK, "network"},
    /* 4: signature */
    {"bad_signature", o_bad_signature, LI_ERR_BAD_SIG, "does not verify"},
    {"signature_by_another_key", o_signature_by_another_key, LI_ERR_BAD_SIG, "does not verify"},
    {"signed_for_another_network", o_signed_for_another_network, LI_ERR_BAD_SIG, "does not verify"},
    {"bad_signature_undecodable", o_bad_signature_undecodable, LI_ERR_BAD_SIG, "does not verify"},
    /* 5: the commit's decode */
    {"commit_garbage_signed", o_commit_garbage_signed, LI_ERR_DECODE, "although its signature verifies"},
    {"commit_truncated_signed", o_commit_truncated_signed, LI_ERR_DECODE, "although its signature verifies"},
    {"commit_unknown_field_signed", o_commit_unknown_field_signed, LI_ERR_DECODE, "unknown field"},
    /* 6: structure, in s_check_commit's order */
    {"origin_not_signer", o_origin_not_signer, LI_ERR_DECODE, "origin differs from its signer"},
    {"origin_short", o_origin_short, LI_ERR_DECODE, "origin differs from its signer"},
    {"scope_invalid", o_scope_invalid, LI_ERR_DECODE, "invalid scope"},
    {"scope_empty", o_scope_empty, LI_ERR_DECODE, "invalid scope"},
    {"seq_zero", o_seq_zero, LI_ERR_DECODE, "seq out of range"},
    {"seq_over_int64", o_seq_over, LI_ERR_DECODE, "seq out of range"},
    {"prev_on_seq1", o_prev_on_seq1, LI_ERR_DECODE, "prev hash malformed"},
    {"no_prev_on_seq2", o_no_prev_on_seq2, LI_ERR_DECODE, "prev hash malformed"},
    {"prev_short", o_prev_short, LI_ERR_DECODE, "prev hash malformed"},
    {"hlc_without_ms", o_hlc_no_ms, LI_ERR_DECODE, "clock out of range"},
    {"hlc_over_int64", o_hlc_over, LI_ERR_DECODE, "clock out of range"},
    {"deps_over_max", o_deps_over, LI_ERR_LIMIT, "LI_DEPS_MAX"},
    {"dep_origin_short", o_dep_short, LI_ERR_DECODE, "dep 0 malformed"},
    {"dep_seq_over_int64", o_dep_seq_over, LI_ERR_DECODE, "dep 0 malformed"},
    {"no_tables", o_no_tables, LI_ERR_DECODE, "no changes"},
    {"tables_over_max", o_tables_over, LI_ERR_LIMIT, "LI_COMMIT_TABLES_MAX"},
    {"table_without_name", o_table_no_name, LI_ERR_DECODE, "without a table name"},
    {"columns_over_max", o_columns_over, LI_ERR_LIMIT, "LI_TABLE_COLS_MAX"},
    {"column_empty_name", o_column_empty, LI_ERR_DECODE, "empty column name"},
    {"rows_over_max", o_rows_over, LI_ERR_LIMIT, "LI_COMMIT_ROWS_MAX"},
    {"row_without_key", o_row_no_key, LI_ERR_DECODE, "row with no key"},
    {"key_over_max", o_key_over, LI_ERR_LIMIT, "LI_PK_COLS_MAX"},
    {"key_value_without_type", o_key_no_type, LI_ERR_DECODE, "value with no type"},
    {"causal_length_zero", o_cl_zero, LI_ERR_DECODE, "causal length out of range"},
    {"causal_length_over_int64", o_cl_over, LI_ERR_DECODE, "causal length out of range"},
    {"columns_and_values_differ", o_cols_values_differ, LI_ERR_DECODE, "columns but"},
    {"deleted_row_with_values", o_deleted_with_values, LI_ERR_DECODE, "deleted row carries values"},
    {"column_index_out_of_range", o_col_out_of_range, LI_ERR_DECODE, "names column 3 of 3"},
    {"column_named_twice", o_col_twice, LI_ERR_DECODE, "names a column twice"},
    {"value_without_type", o_value_no_type, LI_ERR_DECODE, "value with no type"},
    {"text_over_max", o_text_over, LI_ERR_TOO_BIG, "LI_VALUE_BYTES_MAX"},
    {"blob_over_max", o_blob_over, LI_ERR_TOO_BIG, "LI_VALUE_BYTES_MAX"},
};

static void test_open_refusals(void **state) {
  fx *f = *state;
  for (size_t i = 0; i < sizeof s_open_cases / sizeof s_open_cases[0]; i++) {
    const s_open_case *oc = &s_open_cases[i];
    s_bytes in = oc->make(f);
    li_arena a;
    li_arena_init(&a);
    li_commit c;
    memset(&c, 0xAA, sizeof c);
    li_errbuf eb = {{0}};
    li_err got = li_commit_open(f->net, in.p, in.n, &a, &c, &eb);
    printf("open %-28s %s: %s\n", oc->name, li_errname(got), eb.msg);
    if (got != oc->want) fail_msg("case %s: expected %s, got %s (%s)", oc->name, li_errname(oc->want), li_errname(got), eb.msg);
    if (!strstr(eb.msg, oc->msg_has)) fail_msg("case %s: message lacks \"%s\": %s", oc->name, oc->msg_has, eb.msg);
    /* nothing of a refused commit is handed out */
    assert_null(c.c);
    assert_null(c.origin);
    assert_null(c.scope);
    assert_int_equal(c.seq, 0);
    assert_int_equal(c.nrows, 0);
    li_arena_free(&a);
    free(in.p);
  }
}

/* The control: the base of every structural case opens. */
static void test_open_base_accepted(void **state) {
  fx *f = *state;
  s_bytes in = s_signed(f, NULL);
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  li_errbuf eb = {{0}};
  assert_int_equal(li_commit_open(f->net, in.p, in.n, &a, &c, &eb), LI_OK);
  li_arena_free(&a);
  free(in.p);
}

/* ---- li_commit_name ---- */

static void test_commit_name(void **state) {
  fx *f = *state;
  char key[LI_PK_TEXT_LEN + 1], want[128], buf[128];
  li_pk_to_text(f->c07->id.pk, key);
  static const struct {
    const char *scope;
    uint64_t seq;
  } cases[] = {{"c07", 12}, {"street", 1}, {"c07", UINT64_MAX}, {"abcdefghijklmnopqrstuvwxyz012345", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(want, sizeof want, "commit %s#%llu by %.10s", cases[i].scope, (unsigned long long)cases[i].seq, key);
    li_commit_name(f->c07->id.pk, cases[i].scope, cases[i].seq, buf, sizeof buf);
    assert_string_equal(buf, want);
  }
  li_commit_name(f->c07->id.pk, "c07", 12, buf, sizeof buf);
  assert_int_equal(strlen(buf), strlen("commit c07#12 by ") + 10);
  /* a small buffer: cut, NUL-terminated, nothing written past it */
  char small[9];
  memset(small, 0x7f, sizeof small);
  li_commit_name(f->c07->id.pk, "c07", 12, small, 8);
  assert_string_equal(small, "commit ");
  assert_int_equal((unsigned char)small[8], 0x7f);
  li_commit_name(f->c07->id.pk, "c07", 12, small, 1);
  assert_string_equal(small, "");
}

/* ---- li_commit_pos ---- */

/* A small writer of the protobuf wire format, for inputs protobuf-c would
 * never pack. */
typedef struct {
  uint8_t p[1024];
  size_t n;
} s_wb;

static void s_w_raw(s_wb *w, const void *p, size_t n) {
  assert_true(w->n + n <= sizeof w->p);
  memcpy(w->p + w->n, p, n);
  w->n += n;
}

static void s_w_varint(s_wb *w, uint64_t v) {
  do {
    uint8_t b = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) b |= 0x80;
    s_w_raw(w, &b, 1);
  } while (v);
}

static void s_w_key(s_wb *w, uint32_t field, int wt) { s_w_varint(w, (uint64_t)field << 3 | (uint64_t)wt); }

static void s_w_bytes(s_wb *w, uint32_t field, const void *p, size_t n) {
  s_w_key(w, field, 2);
  s_w_varint(w, n);
  s_w_raw(w, p, n);
}

static void s_w_uint(s_wb *w, uint32_t field, uint64_t v) {
  s_w_key(w, field, 0);
  s_w_varint(w, v);
}

/* A SignedCommit holding only the commit field. */
static s_wb s_wrap_only(const s_wb *commit) {
  s_wb w = {.n = 0};
  s_w_bytes(&w, 1, commit->p, commit->n);
  return w;
}

/* origin 32 x o, scope, seq: the position fields of a Commit, nothing else */
static s_wb s_pos_commit(uint8_t o, const char *scope, uint64_t seq) {
  s_wb c = {.n = 0};
  uint8_t origin[LI_PK_BYTES];
  memset(origin, o, sizeof origin);
  s_w_bytes(&c, 1, origin, sizeof origin);
  s_w_bytes(&c, 2, scope, strlen(scope));
  s_w_uint(&c, 3, seq);
  return c;
}

typedef struct {
  bool ok;
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
} s_pos;

static s_pos s_read_pos(const uint8_t *sc, size_t len) {
  s_pos p;
  memset(&p, 0xAA, sizeof p);
  p.ok = li_commit_pos(sc, len, p.origin, p.scope, &p.seq);
  if (!p.ok) { /* outputs zeroed on a refusal */
    uint8_t zero[LI_PK_BYTES] = {0};
    assert_memory_equal(p.origin, zero, LI_PK_BYTES);
    assert_int_equal(p.scope[0], 0);
    assert_int_equal(p.seq, 0);
  }
  return p;
}

/* protobuf-c's reading of the same bytes: ok when both unpacks succeed and
 * the origin has 32 bytes and the scope fits (it cannot see a NUL). */
static s_pos s_pbc_pos(const uint8_t *sc, size_t len, bool *decodes) {
  s_pos p;
  memset(&p, 0, sizeof p);
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, len, sc);
  Linli__Commit *c = w ? linli__commit__unpack(NULL, w->commit.len, w->commit.data) : NULL;
  *decodes = c != NULL;
  if (c && c->origin.len == LI_PK_BYTES && strlen(c->scope) <= LI_SCOPE_MAX) {
    p.ok = true;
    memcpy(p.origin, c->origin.data, LI_PK_BYTES);
    snprintf(p.scope, sizeof p.scope, "%s", c->scope);
    p.seq = c->seq;
  }
  if (c) linli__commit__free_unpacked(c, NULL);
  if (w) linli__signed_commit__free_unpacked(w, NULL);
  return p;
}

static void s_same_pos(const s_pos *a, const s_pos *b, const char *what) {
  if (a->ok != b->ok) fail_msg("%s: li_commit_pos %s, protobuf-c %s", what, a->ok ? "accepts" : "refuses", b->ok ? "accepts" : "refuses");
  if (!a->ok) return;
  assert_memory_equal(a->origin, b->origin, LI_PK_BYTES);
  assert_string_equal(a->scope, b->scope);
  assert_int_equal(a->seq, b->seq);
}

/* Commits sealed by real nodes: the position is the one li_commit_open reads. */
static void test_pos_valid(void **state) {
  fx *f = *state;
  tu_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  tu_seal(f->c07, f->s.t0 + 10);
  tu_exec(f->c07, "UPDATE care_visits SET visitor='李' WHERE id='v1'");
  tu_seal(f->c07, f->s.t0 + 20);
  tu_blobs logs[2] = {tu_log(f->c07, NULL), tu_log(f->s.hub, NULL)};
  int n = 0;
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < logs[k].n; i++, n++) {
      li_arena a;
      li_arena_init(&a);
      li_commit c;
      li_errbuf eb = {{0}};
      assert_int_equal(li_commit_open(f->net, logs[k].v[i].sc, logs[k].v[i].len, &a, &c, &eb), LI_OK);
      s_pos p = s_read_pos(logs[k].v[i].sc, logs[k].v[i].len);
      assert_true(p.ok);
      assert_memory_equal(p.origin, c.origin, LI_PK_BYTES);
      assert_string_equal(p.scope, c.scope);
      assert_int_equal(p.seq, c.seq);
      li_arena_free(&a);
    }
  assert_true(n >= 4); /* c07#1, c07#2 and the hub's roster commits */
  tu_blobs_free(&logs[0]);
  tu_blobs_free(&logs[1]);
  /* the reader does not judge the values: seq 0 and the largest seq read as they are */
  s_wb c = s_pos_commit(0x11, "c07", UINT64_MAX), w = s_wrap_only(&c);
  s_pos p = s_read_pos(w.p, w.n);
  assert_true(p.ok);
  assert_int_equal(p.seq, UINT64_MAX);
  assert_string_equal(p.scope, "c07");
  c = s_pos_commit(0x11, "", 0), w = s_wrap_only(&c);
  p = s_read_pos(w.p, w.n);
  assert_true(p.ok);
  assert_int_equal(p.seq, 0);
  assert_string_equal(p.scope, "");
  /* only origin: scope "" and seq 0 */
  uint8_t origin[LI_PK_BYTES] = {7};
  c.n = 0;
  s_w_bytes(&c, 1, origin, sizeof origin);
  w = s_wrap_only(&c);
  p = s_read_pos(w.p, w.n);
  assert_true(p.ok);
  assert_int_equal(p.origin[0], 7);
  assert_string_equal(p.scope, "");
  assert_int_equal(p.seq, 0);
}

/* Every prefix of a real SignedCommit: refused unless it ends at a field
 * boundary after the commit field, where it reads the same position; and
 * every prefix of its Commit, wrapped again, agrees with protobuf-c. */
static void test_pos_truncated_at_every_byte(void **state) {
  fx *f = *state;
  tu_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  tu_seal(f->c07, f->s.t0 + 10);
  size_t len;
  uint8_t *sc = tu_log_commit(f->c07, f->c07->id.pk, "c07", 1, &len);
  s_pos full = s_read_pos(sc, len);
  assert_true(full.ok);
  int accepted = 0;
  for (size_t k = 0; k < len; k++) {
    s_pos p = s_read_pos(sc, k);
    bool decodes;
    s_pos q = s_pbc_pos(sc, k, &decodes);
    char what[64];
    snprintf(what, sizeof what, "SignedCommit cut at %zu of %zu", k, len);
    s_same_pos(&p, &q, what);
    if (p.ok) {
      accepted++;
      s_same_pos(&p, &full, what);
    }
  }
  assert_int_equal(accepted, 3); /* after commit, after sig, after signer */

  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, len, sc);
  assert_non_null(w);
  int inner = 0;
  for (size_t k = 0; k < w->commit.len; k++) {
    s_bytes b = s_wrapper(w->commit.data, k, NULL, 0, NULL, NULL);
    s_pos p = s_read_pos(b.p, b.n);
    bool decodes;
    s_pos q = s_pbc_pos(b.p, b.n, &decodes);
    char what[64];
    snprintf(what, sizeof what, "Commit cut at %zu of %zu", k, w->commit.len);
    s_same_pos(&p, &q, what);
    inner += p.ok;
    free(b.p);
  }
  /* boundaries after origin, scope, seq, hlc and schema_version (no prev
   * for seq 1; tables is the last field) */
  assert_int_equal(inner, 5);
  linli__signed_commit__free_unpacked(w, NULL);
  free(sc);
}

typedef struct {
  const char *name;
  void (*make)(s_wb *w);
  bool ok;           /* what li_commit_pos must say */
} s_wire_case;

static void s_commit_with(s_wb *w, void (*extra)(s_wb *c)) {
  s_wb c = s_pos_commit(0x22, "c07", 5);
  extra(&c);
  *w = s_wrap_only(&c);
}

static void e_origin_varint(s_wb *c) { s_w_uint(c, 1, 5); }
static void e_scope_fixed32(s_wb *c) {
  s_w_key(c, 2, 5);
  s_w_raw(c, "c07x", 4);
}
static void e_seq_bytes(s_wb *c) { s_w_bytes(c, 3, "\x05", 1); }
static void e_seq_fixed64(s_wb *c) {
  s_w_key(c, 3, 1);
  s_w_raw(c, "\x05\0\0\0\0\0\0\0", 8);
}
static void e_prev_varint(s_wb *c) { s_w_uint(c, 4, 1); }
static void e_hlc_bytes(s_wb *c) { s_w_bytes(c, 5, "x", 1); }
static void e_deps_varint(s_wb *c) { s_w_uint(c, 7, 1); }
static void e_group(s_wb *c) {
  s_w_key(c, 20, 3); /* start group */
  s_w_key(c, 20, 4);
}
static void e_end_group(s_wb *c) { s_w_key(c, 20, 4); }
static void e_wire_type_6(s_wb *c) { s_w_key(c, 20, 6); }
static void e_wire_type_7(s_wb *c) { s_w_key(c, 20, 7); }
static void e_field_zero(s_wb *c) { s_w_uint(c, 0, 1); }
static void e_key_6_bytes(s_wb *c) { s_w_raw(c, "\x98\x80\x80\x80\x80\x00\x01", 7); } /* field 3 varint, key padded to 6 */
static void e_key_5_bytes(s_wb *c) { s_w_raw(c, "\x98\x80\x80\x80\x00\x09", 6); }    /* padded to 5: seq 9 */
static void e_len_6_bytes(s_wb *c) { s_w_raw(c, "\x12\x83\x80\x80\x80\x80\x00" "c09", 10); }
static void e_len_5_bytes(s_wb *c) { s_w_raw(c, "\x12\x83\x80\x80\x80\x00" "c09", 9); }
static void e_seq_10_bytes(s_wb *c) { s_w_raw(c, "\x18\x81\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11); }
static void e_seq_11_bytes(s_wb *c) { s_w_raw(c, "\x18\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12); }
static void e_unknown_all_types(s_wb *c) {
  s_w_uint(c, 20, 1);
  s_w_key(c, 21, 1);
  s_w_raw(c, "12345678", 8);
  s_w_bytes(c, 22, "xyz", 3);
  s_w_key(c, 23, 5);
  s_w_raw(c, "1234", 4);
}
static void e_seq_cut(s_wb *c) { s_w_raw(c, "\x18\x81", 2); }
static void e_len_past_end(s_wb *c) { s_w_raw(c, "\x12\x09" "c0", 4); }

static void w_origin_varint(s_wb *w) { s_commit_with(w, e_origin_varint); }
static void w_scope_fixed32(s_wb *w) { s_commit_with(w, e_scope_fixed32); }
static void w_seq_bytes(s_wb *w) { s_commit_with(w, e_seq_bytes); }
static void w_seq_fixed64(s_wb *w) { s_commit_with(w, e_seq_fixed64); }
static void w_prev_varint(s_wb *w) { s_commit_with(w, e_prev_varint); }
static void w_hlc_bytes(s_wb *w) { s_commit_with(w, e_hlc_bytes); }
static void w_deps_varint(s_wb *w) { s_commit_with(w, e_deps_varint); }
static void w_group(s_wb *w) { s_commit_with(w, e_group); }
static void w_end_group(s_wb *w) { s_commit_with(w, e_end_group); }
static void w_wire_type_6(s_wb *w) { s_commit_with(w, e_wire_type_6); }
static void w_wire_type_7(s_wb *w) { s_commit_with(w, e_wire_type_7); }
static void w_field_zero(s_wb *w) { s_commit_with(w, e_field_zero); }
static void w_key_6_bytes(s_wb *w) { s_commit_with(w, e_key_6_bytes); }
static void w_key_5_bytes(s_wb *w) { s_commit_with(w, e_key_5_bytes); }
static void w_len_6_bytes(s_wb *w) { s_commit_with(w, e_len_6_bytes); }
static void w_len_5_bytes(s_wb *w) { s_commit_with(w, e_len_5_bytes); }
static void w_seq_10_bytes(s_wb *w) { s_commit_with(w, e_seq_10_bytes); }
static void w_seq_11_bytes(s_wb *w) { s_commit_with(w, e_seq_11_bytes); }
static void w_unknown_all_types(s_wb *w) {
  s_commit_with(w, e_unknown_all_types);
  e_unknown_all_types(w); /* in the SignedCommit too */
}
static void w_seq_cut(s_wb *w) { s_commit_with(w, e_seq_cut); }
static void w_len_past_end(s_wb *w) { s_commit_with(w, e_len_past_end); }

static void w_commit_varint(s_wb *w) { s_w_uint(w, 1, 5); }
static void w_commit_fixed64(s_wb *w) {
  s_w_key(w, 1, 1);
  s_w_raw(w, "12345678", 8);
}
static void w_sig_varint(s_wb *w) { /* a known field of SignedCommit besides commit */
  s_wb c = s_pos_commit(0x22, "c07", 5);
  *w = s_wrap_only(&c);
  s_w_uint(w, 2, 1);
}
static void w_network_fixed32(s_wb *w) {
  s_wb c = s_pos_commit(0x22, "c07", 5);
  *w = s_wrap_only(&c);
  s_w_key(w, 4, 5);
  s_w_raw(w, "1234", 4);
}
static void w_signed_group(s_wb *w) {
  s_wb c = s_pos_commit(0x22, "c07", 5);
  *w = s_wrap_only(&c);
  s_w_key(w, 9, 3);
  s_w_key(w, 9, 4);
}
static void w_signed_field_zero(s_wb *w) {
  s_wb c = s_pos_commit(0x22, "c07", 5);
  s_w_uint(w, 0, 0);
  s_wb rest = s_wrap_only(&c);
  s_w_raw(w, rest.p, rest.n);
}

static const s_wire_case s_wire_cases[] = {
    /* wrong wire types of known fields */
    {"commit_as_varint", w_commit_varint, false},
    {"commit_as_fixed64", w_commit_fixed64, false},
    {"sig_as_varint", w_sig_varint, false},
    {"network_as_fixed32", w_network_fixed32, false},
    {"origin_as_varint", w_origin_varint, false},
    {"scope_as_fixed32", w_scope_fixed32, false},
    {"seq_as_bytes", w_seq_bytes, false},
    {"seq_as_fixed64", w_seq_fixed64, false},
    {"prev_as_varint", w_prev_varint, false},
    {"hlc_as_bytes", w_hlc_bytes, false},
    {"deps_as_varint", w_deps_varint, false},
    /* wire types protobuf-c never takes, field 0 */
    {"group_in_commit", w_group, false},
    {"end_group_in_commit", w_end_group, false},
    {"group_in_signed_commit", w_signed_group, false},
    {"wire_type_6", w_wire_type_6, false},
    {"wire_type_7", w_wire_type_7, false},
    {"field_zero_in_commit", w_field_zero, false},
    {"field_zero_in_signed_commit", w_signed_field_zero, false},
    /* varint lengths: protobuf-c's limits */
    {"key_of_6_bytes", w_key_6_bytes, false},
    {"key_of_5_bytes", w_key_5_bytes, true},
    {"length_of_6_bytes", w_len_6_bytes, false},
    {"length_of_5_bytes", w_len_5_bytes, true},
    {"seq_of_10_bytes", w_seq_10_bytes, true},
    {"seq_of_11_bytes", w_seq_11_bytes, false},
    {"seq_cut", w_seq_cut, false},
    {"length_past_the_end", w_len_past_end, false},
    /* unknown fields of every wire type are skipped */
    {"unknown_fields", w_unknown_all_types, true},
};

static void test_pos_wire_types(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof s_wire_cases / sizeof s_wire_cases[0]; i++) {
    const s_wire_case *wc = &s_wire_cases[i];
    s_wb w = {.n = 0};
    wc->make(&w);
    s_pos p = s_read_pos(w.p, w.n);
    bool decodes;
    s_pos q = s_pbc_pos(w.p, w.n, &decodes);
    if (p.ok != wc->ok) fail_msg("case %s: li_commit_pos %s", wc->name, p.ok ? "accepts" : "refuses");
    /* refused exactly where protobuf-c refuses, and reading what it reads */
    if (decodes != wc->ok) fail_msg("case %s: protobuf-c %s it", wc->name, decodes ? "decodes" : "refuses");
    s_same_pos(&p, &q, wc->name);
  }
  /* the values read where the case is accepted */
  s_wb w = {.n = 0};
  w_key_5_bytes(&w);
  assert_int_equal(s_read_pos(w.p, w.n).seq, 9);
  w.n = 0;
  w_len_5_bytes(&w);
  assert_string_equal(s_read_pos(w.p, w.n).scope, "c09");
  w.n = 0;
  w_seq_10_bytes(&w);
  assert_int_equal(s_read_pos(w.p, w.n).seq, 1);
}

static void test_pos_scope_bounds(void **state) {
  (void)state;
  char s32[LI_SCOPE_MAX + 2];
  memset(s32, 'a', sizeof s32);
  s32[LI_SCOPE_MAX] = 0;
  s_wb c = s_pos_commit(1, s32, 3), w = s_wrap_only(&c);
  s_pos p = s_read_pos(w.p, w.n);
  assert_true(p.ok);
  assert_string_equal(p.scope, s32);
  s32[LI_SCOPE_MAX] = 'a';
  s32[LI_SCOPE_MAX + 1] = 0;
  c = s_pos_commit(1, s32, 3), w = s_wrap_only(&c);
  assert_false(s_read_pos(w.p, w.n).ok); /* 33 bytes */
  static const struct {
    const char *bytes;
    size_t n;
  } nul[] = {{"c0\0", 3}, {"\0", 1}, {"\0c07", 4}, {"c\0" "7", 3}};
  for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
    uint8_t origin[LI_PK_BYTES] = {1};
    c.n = 0;
    s_w_bytes(&c, 1, origin, sizeof origin);
    s_w_bytes(&c, 2, nul[i].bytes, nul[i].n);
    w = s_wrap_only(&c);
    if (s_read_pos(w.p, w.n).ok) fail_msg("a scope with a NUL at %zu of %zu was accepted", strlen(nul[i].bytes), nul[i].n);
  }
}

static void test_pos_origin_bounds(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, LI_PK_BYTES - 1, LI_PK_BYTES + 1, 64};
  uint8_t origin[64] = {0};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    s_wb c = {.n = 0};
    s_w_bytes(&c, 1, origin, lens[i]);
    s_w_bytes(&c, 2, "c07", 3);
    s_wb w = s_wrap_only(&c);
    if (s_read_pos(w.p, w.n).ok) fail_msg("an origin of %zu bytes was accepted", lens[i]);
  }
  s_wb c = {.n = 0};
  s_w_bytes(&c, 2, "c07", 3);
  s_w_uint(&c, 3, 1);
  s_wb w = s_wrap_only(&c);
  assert_false(s_read_pos(w.p, w.n).ok); /* no origin at all */
}

/* Fields given twice: the last occurrence wins, as in protobuf-c. */
static void test_pos_repeated_fields(void **state) {
  (void)state;
  s_wb c = s_pos_commit(0x01, "c07", 5), more = s_pos_commit(0x02, "c09", 9);
  s_w_raw(&c, more.p, more.n);
  s_wb w = s_wrap_only(&c);
  s_pos p = s_read_pos(w.p, w.n);
  bool decodes;
  s_pos q = s_pbc_pos(w.p, w.n, &decodes);
  assert_true(p.ok);
  assert_int_equal(p.origin[0], 0x02);
  assert_string_equal(p.scope, "c09");
  assert_int_equal(p.seq, 9);
  s_same_pos(&p, &q, "repeated origin, scope, seq");
  /* only seq again, after other fields */
  c = s_pos_commit(0x01, "c07", 5);
  s_w_uint(&c, 5, 1234);
  s_w_uint(&c, 3, 6);
  w = s_wrap_only(&c);
  assert_int_equal(s_read_pos(w.p, w.n).seq, 6);
  /* the commit field twice: the second commit is the one read */
  s_wb c1 = s_pos_commit(0x01, "c07", 5), c2 = s_pos_commit(0x03, "street", 2);
  w = s_wrap_only(&c1);
  s_wb w2 = s_wrap_only(&c2);
  s_w_raw(&w, w2.p, w2.n);
  p = s_read_pos(w.p, w.n);
  q = s_pbc_pos(w.p, w.n, &decodes);
  assert_true(p.ok);
  assert_int_equal(p.origin[0], 0x03);
  assert_string_equal(p.scope, "street");
  s_same_pos(&p, &q, "repeated commit field");
  /* a later commit field that is malformed spoils the whole */
  s_w_bytes(&w, 1, "\x0a\x05", 2);
  assert_false(s_read_pos(w.p, w.n).ok);
}

static void test_pos_sizes(void **state) {
  (void)state;
  assert_false(s_read_pos(NULL, 0).ok);
  s_wb c = s_pos_commit(0x01, "c07", 5), w = s_wrap_only(&c);
  /* a valid position followed by padding (an unknown bytes field) beyond the cap */
  size_t n = LI_SIGNED_COMMIT_BYTES_MAX + 1, pad = n - w.n;
  uint8_t *big = calloc(1, n);
  assert_non_null(big);
  memcpy(big, w.p, w.n);
  uint8_t *p = big + w.n;
  /* field 9, length-delimited, of pad - 1 - len(varint) bytes */
  size_t hdr = 1 + 4, body = pad - hdr;
  *p++ = (9 << 3) | 2;
  *p++ = (uint8_t)(0x80 | (body & 0x7f)), *p++ = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
  *p++ = (uint8_t)(0x80 | ((body >> 14) & 0x7f)), *p++ = (uint8_t)((body >> 21) & 0x7f);
  assert_false(s_read_pos(big, n).ok);
  /* one byte less (body - 1) is within the cap and reads fine */
  body -= 1;
  p = big + w.n + 1;
  *p++ = (uint8_t)(0x80 | (body & 0x7f)), *p++ = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
  *p++ = (uint8_t)(0x80 | ((body >> 14) & 0x7f)), *p++ = (uint8_t)((body >> 21) & 0x7f);
  assert_true(s_read_pos(big, n - 1).ok);
  free(big);
  /* a commit over LI_COMMIT_BYTES_MAX */
  size_t cn = LI_COMMIT_BYTES_MAX + 1;
  uint8_t *commit = calloc(1, cn);
  assert_non_null(commit);
  memcpy(commit, c.p, c.n);
  p = commit + c.n;
  body = cn - c.n - hdr;
  *p++ = (9 << 3) | 2;
  *p++ = (uint8_t)(0x80 | (body & 0x7f)), *p++ = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
  *p++ = (uint8_t)(0x80 | ((body >> 14) & 0x7f)), *p++ = (uint8_t)((body >> 21) & 0x7f);
  s_bytes b = s_wrapper(commit, cn, NULL, 0, NULL, NULL);
  assert_true(b.n <= LI_SIGNED_COMMIT_BYTES_MAX);
  assert_false(s_read_pos(b.p, b.n).ok);
  free(b.p);
  b = s_wrapper(commit, cn - 1, NULL, 0, NULL, NULL); /* body one too long for cn - 1: truncated */
  assert_false(s_read_pos(b.p, b.n).ok);
  free(b.p);
  free(commit);
  /* an empty commit field */
  s_wb e = {.n = 0};
  w = s_wrap_only(&e);
  assert_false(s_read_pos(w.p, w.n).ok);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_seal_open_round_trip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_sealed_log, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_seal_too_big, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_refusals, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_base_accepted, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_commit_name, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_pos_valid, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_pos_truncated_at_every_byte, fx_setup, fx_teardown),
      cmocka_unit_test(test_pos_wire_types),
      cmocka_unit_test(test_pos_scope_bounds),
      cmocka_unit_test(test_pos_origin_bounds),
      cmocka_unit_test(test_pos_repeated_fields),
      cmocka_unit_test(test_pos_sizes),
  };
  return cmocka_run_group_tests_name("commit", tests, NULL, NULL);
}

/* Node fixtures shared by the cmocka tests that need whole nodes.
 *
 * Owns what more than one test needs around real replicas, so that no test
 * keeps a copy of its own:
 *   - nodes: tu_node_new / tu_node_free, a street of a hub and admitted
 *     committees in one temp dir (tu_street_*), roster admission of a bare
 *     identity (tu_admit);
 *   - SQL on a node: tu_exec, tu_int, tu_text, and sealing (tu_seal);
 *   - commits: the log of a node as blobs (tu_log), merging them into
 *     another (tu_merge, tu_sync), and commits built by hand and signed
 *     (tu_commit_build, tu_commit_sign, tu_wrap) for what seal never makes;
 *   - snapshots: a BLAKE2b digest of a replica, every row rendered with
 *     SQL quote() and sorted (tu_snapshot: tracked tables and the internal
 *     tables a refused input must not change; tu_tables_digest: the tracked
 *     tables only, which is what replicas must agree on).
 * Every helper fails the running test on an unexpected error; none returns
 * an error the test did not ask about. */
#ifndef LI_TESTNODE_H
#define LI_TESTNODE_H
#include "testutil.h"
#include <stdbool.h>
#include "chain.h"
#include <sys/wait.h>
#include <signal.h>

#include <sodium.h>
#include <sqlite3.h>

#include "commit.h"
#include "hlc.h"
#include "linli.pb-c.h"
#include "merge.h"
#include "node.h"
#include "roster.h"
#include "seal.h"

/* ---- nodes ---- */

/* A node initialised in dir and opened; fails the test on any error.
 * schema: NULL for the built-in street schema. */
static inline li_node *tu_node_new_schema(const char *dir, li_role role, const char *name, const char *scope,
                                          const char *hub_key, const char *schema) {
  li_node_init_opts o = {.role = role, .name = name, .scope = scope, .hub_key = hub_key, .schema_sql = schema};
  li_errbuf eb = {{0}};
  li_err e = li_node_init(dir, &o, &eb);
  if (e) fail_msg("li_node_init %s: %s (%s)", dir, li_errname(e), eb.msg);
  li_node *n = calloc(1, sizeof *n);
  assert_non_null(n);
  if ((e = li_node_open(n, dir, &eb))) fail_msg("li_node_open %s: %s (%s)", dir, li_errname(e), eb.msg);
  return n;
}

static inline li_node *tu_node_new(const char *dir, li_role role, const char *name, const char *scope,
                                   const char *hub_key) {
  return tu_node_new_schema(dir, role, name, scope, hub_key, NULL);
}

/* Closes and frees a node made by tu_node_new; safe on NULL and twice. */
static inline void tu_node_free(li_node **n) {
  if (!*n) return;
  li_node_close(*n);
  free(*n);
  *n = NULL;
}

/* A copy of the node directory from_dir (whose node must be closed, so
 * its WAL is checkpointed) in to_dir, opened: a cheap fresh replica in a
 * known state, e.g. one receiver per ordering of the same commits. */
static inline li_node *tu_node_copy(const char *from_dir, const char *to_dir) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", from_dir, to_dir);
  assert_int_equal(system(cmd), 0);
  li_node *n = calloc(1, sizeof *n);
  assert_non_null(n);
  li_errbuf eb = {{0}};
  li_err e = li_node_open(n, to_dir, &eb);
  if (e) fail_msg("li_node_open %s: %s (%s)", to_dir, li_errname(e), eb.msg);
  return n;
}

/* ---- SQL on a node ---- */

static inline void tu_exec(li_node *n, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(n->r->db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed (%s): %s", msg ? msg : "?", sql);
}

/* The first column of the first row as an integer; -1 when there is none. */
static inline int64_t tu_int(li_node *n, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("prepare (%s): %s", sqlite3_errmsg(n->r->db), sql);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

/* The first column of the first row as text ("" when none or NULL), in one
 * of four static buffers used in turn. */
static inline const char *tu_text(li_node *n, const char *sql) {
  static char buf[4][512];
  static int k;
  char *out = buf[k++ % 4];
  out[0] = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("prepare (%s): %s", sqlite3_errmsg(n->r->db), sql);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, 512, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

/* Seals n's pending writes at wall_ms; fails the test on an error. */
static inline li_seal_stats tu_seal(li_node *n, uint64_t wall_ms) {
  li_seal_stats st;
  li_errbuf eb = {{0}};
  li_err e = li_seal(n->r, wall_ms, &st, &eb);
  if (e) fail_msg("seal %s: %s (%s)", n->cfg.name, li_errname(e), eb.msg);
  return st;
}

/* ---- a street: a hub and committees in one temp dir ---- */

#define TU_STREET_COMMITTEES_MAX 4

typedef struct {
  char dir[256];
  li_node *hub;
  char hub_key[LI_PK_TEXT_LEN + 1];
  li_node *c[TU_STREET_COMMITTEES_MAX];
  int n;
  uint64_t t0; /* wall clock at creation: tests stamp from here on */
} tu_street;

/* Admits key for scope in the hub's roster under name (sealed by the hub). */
static inline void tu_admit(li_node *hub, const char *name, const uint8_t key[LI_PK_BYTES], const char *scope) {
  char k[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(key, k);
  li_errbuf eb = {{0}};
  li_err e = li_roster_add(hub->r, name, k, scope, li_wall_ms(), &eb);
  if (e) fail_msg("roster add %s: %s (%s)", name, li_errname(e), eb.msg);
}

/* A temp dir with a hub (dir/hub); schema: NULL for the street schema. */
static inline void tu_street_new(tu_street *s, const char *schema) {
  memset(s, 0, sizeof *s);
  tu_tmpdir(s->dir);
  char d[300];
  snprintf(d, sizeof d, "%s/hub", s->dir);
  s->hub = tu_node_new_schema(d, LI_ROLE_HUB, "hub", NULL, NULL, schema);
  li_pk_to_text(s->hub->id.pk, s->hub_key);
  s->t0 = li_wall_ms();
}

/* A committee node dir/NAME of scope, admitted in the hub's roster when
 * admit. The committee holds none of the hub's commits yet (tu_sync). */
static inline li_node *tu_street_committee(tu_street *s, const char *name, const char *scope, bool admit,
                                           const char *schema) {
  assert_true(s->n < TU_STREET_COMMITTEES_MAX);
  char d[300];
  snprintf(d, sizeof d, "%s/%s", s->dir, name);
  li_node *c = tu_node_new_schema(d, LI_ROLE_COMMITTEE, name, scope, s->hub_key, schema);
  if (admit) tu_admit(s->hub, name, c->id.pk, scope);
  s->c[s->n++] = c;
  return c;
}

static inline void tu_street_free(tu_street *s) {
  for (int i = 0; i < s->n; i++) tu_node_free(&s->c[i]);
  tu_node_free(&s->hub);
  if (s->dir[0]) tu_rmdir(s->dir);
  s->dir[0] = 0;
}

/* The fixture many tests share: a street with committees c07 and c08 in
 * its roster (nothing synced yet). tu_fx_teardown frees any fixture whose
 * first member is its tu_street. */
typedef struct {
  tu_street s;
  li_node *hub, *c07, *c08;
} tu_fx;

static inline tu_fx *tu_fx_new(void) {
  tu_fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_street_new(&f->s, NULL);
  f->hub = f->s.hub;
  f->c07 = tu_street_committee(&f->s, "c07", "c07", true, NULL);
  f->c08 = tu_street_committee(&f->s, "c08", "c08", true, NULL);
  return f;
}

static inline int tu_fx_teardown(void **state) {
  tu_street_free((tu_street *)*state);
  free(*state);
  return 0;
}

/* ---- commits in logs ---- */

typedef struct {
  li_blob *v; /* each .sc malloc'd */
  size_t n;
} tu_blobs;

static inline void tu_blobs_add(tu_blobs *b, const uint8_t *sc, size_t len) {
  li_blob *v = realloc(b->v, (b->n + 1) * sizeof *v);
  assert_non_null(v);
  b->v = v;
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len) memcpy(copy, sc, len);
  b->v[b->n++] = (li_blob){copy, len};
}

static inline void tu_blobs_free(tu_blobs *b) {
  for (size_t i = 0; i < b->n; i++) free((void *)b->v[i].sc);
  free(b->v);
  b->v = NULL;
  b->n = 0;
}

/* n's log in export order (hlc, origin, seq), restricted to scope and
 * 'street' when scope is not NULL. */
static inline tu_blobs tu_log(li_node *n, const char *scope) {
  tu_blobs b = {0};
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(n->r->db,
                                      "SELECT sc FROM linli_log WHERE ?1 IS NULL OR scope = ?1 OR scope = 'street' "
                                      "ORDER BY hlc, origin, seq",
                                      -1, &q, NULL),
                   SQLITE_OK);
  if (scope) sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
  while (sqlite3_step(q) == SQLITE_ROW)
    tu_blobs_add(&b, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0));
  sqlite3_finalize(q);
  return b;
}

/* The stored SignedCommit of (origin, scope, seq) in n's log (caller frees). */
static inline uint8_t *tu_log_commit(li_node *n, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                                     size_t *len) {
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(n->r->db, "SELECT sc FROM linli_log WHERE origin=? AND scope=? AND seq=?", -1, &q,
                                      NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(q, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, scope, -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 3, (int64_t)seq);
  if (sqlite3_step(q) != SQLITE_ROW) fail_msg("%s has no commit %s#%llu", n->cfg.name, scope, (unsigned long long)seq);
  *len = (size_t)sqlite3_column_bytes(q, 0);
  uint8_t *p = malloc(*len);
  assert_non_null(p);
  memcpy(p, sqlite3_column_blob(q, 0), *len);
  sqlite3_finalize(q);
  return p;
}

/* li_merge_batch with a skew of 5 minutes at wall_ms. */
static inline li_err tu_merge(li_node *to, const li_blob *v, size_t n, li_merge_mode mode, uint64_t wall_ms,
                              li_merge_stats *st, li_errbuf *eb) {
  li_merge_opts o = {.wall_ms = wall_ms, .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = mode, .seal_first = true};
  memset(eb, 0, sizeof *eb);
  return li_merge_batch(to->r, v, n, &o, st, eb);
}

/* Transactions a node's connection ends, counted by SQLite's hooks: merge
 * tests check that a batch is one COMMIT and how many ROLLBACKs (redos)
 * it took. */
typedef struct {
  int commits, rollbacks;
} tu_txns;

static inline int tu_on_commit(void *p) {
  ((tu_txns *)p)->commits++;
  return 0;
}
static inline void tu_on_rollback(void *p) { ((tu_txns *)p)->rollbacks++; }

static inline void tu_count_txns(li_node *n, tu_txns *t) {
  memset(t, 0, sizeof *t);
  sqlite3_commit_hook(n->r->db, tu_on_commit, t);
  sqlite3_rollback_hook(n->r->db, tu_on_rollback, t);
}

static inline void tu_uncount_txns(li_node *n) {
  sqlite3_commit_hook(n->r->db, NULL, NULL);
  sqlite3_rollback_hook(n->r->db, NULL, NULL);
}

/* Everything of from's log that to reads (a committee: its scope and
 * 'street'), merged all-or-nothing at wall_ms; fails the test on a refusal. */
static inline li_merge_stats tu_sync(li_node *from, li_node *to, uint64_t wall_ms) {
  tu_blobs b = tu_log(from, to->cfg.role == LI_ROLE_COMMITTEE ? to->cfg.scope : NULL);
  li_merge_stats st;
  li_errbuf eb;
  li_err e = tu_merge(to, b.v, b.n, LI_MERGE_ALL_OR_NOTHING, wall_ms, &st, &eb);
  if (e) fail_msg("sync %s -> %s: %s (%s)", from->cfg.name, to->cfg.name, li_errname(e), eb.msg);
  tu_blobs_free(&b);
  return st;
}

/* ---- commits built by hand ---- */

static inline Linli__Value *tu_v_text(Linli__Value *v, const char *t) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_T;
  v->t = (char *)t;
  return v;
}

static inline Linli__Value *tu_v_int(Linli__Value *v, int64_t i) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_I;
  v->i = i;
  return v;
}

static inline Linli__Value *tu_v_real(Linli__Value *v, double f) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_F;
  v->f = f;
  return v;
}

static inline Linli__Value *tu_v_blob(Linli__Value *v, const void *p, size_t n) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_B;
  v->b = (ProtobufCBinaryData){n, (uint8_t *)p};
  return v;
}

static inline Linli__Value *tu_v_null(Linli__Value *v) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_NULL;
  v->null = 1;
  return v;
}

#define TU_ROWS_MAX 8
#define TU_DEPS_MAX 4

/* One row change: a table whose key is the one TEXT column "id" (or npk
 * key values in pk), the causal length, and the columns it sets. */
typedef struct {
  const char *table;
  const char *id;                 /* a single TEXT key, or NULL and pk below */
  Linli__Value *const *pk;
  size_t npk;
  uint64_t cl;                    /* 0: 1 */
  size_t ncols;
  const char *const *cols;
  Linli__Value *const *vals;
} tu_row;

typedef struct {
  const li_identity *signer;
  const uint8_t *network;
  const char *scope;
  uint64_t seq;                   /* 0: 1 */
  const uint8_t *prev;            /* the previous commit's hash when seq > 1 */
  uint64_t hlc;
  size_t ndeps;
  const uint8_t *dep_origin[TU_DEPS_MAX];
  uint64_t dep_seq[TU_DEPS_MAX];
  size_t nrows;                   /* one TableChanges per row */
  tu_row rows[TU_ROWS_MAX];
} tu_spec;

/* Storage of a Commit built from a tu_spec, so a test can alter any field
 * before packing. Points into the spec: keep it alive until packed. */
typedef struct {
  Linli__Commit c;
  Linli__TableChanges tc[TU_ROWS_MAX], *tcp[TU_ROWS_MAX];
  Linli__RowChange rc[TU_ROWS_MAX], *rcp[TU_ROWS_MAX];
  Linli__Value key[TU_ROWS_MAX], *keyp[TU_ROWS_MAX];
  uint32_t idx[TU_ROWS_MAX][LI_TABLE_COLS_MAX];
  Linli__Dep dep[TU_DEPS_MAX], *depp[TU_DEPS_MAX];
} tu_commit_mem;

static inline void tu_commit_build(tu_commit_mem *m, const tu_spec *sp) {
  assert_true(sp->nrows <= TU_ROWS_MAX && sp->ndeps <= TU_DEPS_MAX);
  memset(m, 0, sizeof *m);
  linli__commit__init(&m->c);
  m->c.origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)sp->signer->pk};
  m->c.scope = (char *)sp->scope;
  m->c.seq = sp->seq ? sp->seq : 1;
  if (m->c.seq > 1) m->c.prev = (ProtobufCBinaryData){LI_HASH_BYTES, (uint8_t *)sp->prev};
  m->c.hlc = sp->hlc;
  m->c.schema_version = LI_SCHEMA_VERSION;
  for (size_t i = 0; i < sp->ndeps; i++) {
    linli__dep__init(&m->dep[i]);
    m->dep[i].origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)sp->dep_origin[i]};
    m->dep[i].seq = sp->dep_seq[i];
    m->depp[i] = &m->dep[i];
  }
  m->c.n_deps = sp->ndeps;
  m->c.deps = m->depp;
  for (size_t i = 0; i < sp->nrows; i++) {
    const tu_row *row = &sp->rows[i];
    assert_true(row->ncols <= LI_TABLE_COLS_MAX);
    linli__row_change__init(&m->rc[i]);
    if (row->id) {
      m->keyp[i] = tu_v_text(&m->key[i], row->id);
      m->rc[i].n_pk = 1;
      m->rc[i].pk = &m->keyp[i];
    } else {
      m->rc[i].n_pk = row->npk;
      m->rc[i].pk = (Linli__Value **)row->pk;
    }
    m->rc[i].cl = row->cl ? row->cl : 1;
    for (size_t k = 0; k < row->ncols; k++) m->idx[i][k] = (uint32_t)k;
    m->rc[i].n_cols = m->rc[i].n_values = row->ncols;
    m->rc[i].cols = m->idx[i];
    m->rc[i].values = (Linli__Value **)row->vals;
    m->rcp[i] = &m->rc[i];
    linli__table_changes__init(&m->tc[i]);
    m->tc[i].table = (char *)row->table;
    m->tc[i].n_columns = row->ncols;
    m->tc[i].columns = (char **)row->cols;
    m->tc[i].n_rows = 1;
    m->tc[i].rows = &m->rcp[i];
    m->tcp[i] = &m->tc[i];
  }
  m->c.n_tables = sp->nrows;
  m->c.tables = m->tcp;
}

/* Packed Commit bytes (caller frees). */
static inline uint8_t *tu_commit_pack(const Linli__Commit *c, size_t *len) {
  *len = linli__commit__get_packed_size(c);
  uint8_t *out = malloc(*len ? *len : 1);
  assert_non_null(out);
  linli__commit__pack(c, out);
  return out;
}

/* A SignedCommit around commit bytes, signed by id for network (caller frees). */
static inline uint8_t *tu_wrap(const li_identity *id, const uint8_t *network, const uint8_t *commit, size_t clen,
                               size_t *len) {
  uint8_t sig[LI_SIG_BYTES];
  li_sign_commit(id, network, commit, clen, sig);
  Linli__SignedCommit w = LINLI__SIGNED_COMMIT__INIT;
  w.commit = (ProtobufCBinaryData){clen, (uint8_t *)commit};
  w.sig = (ProtobufCBinaryData){sizeof sig, sig};
  w.signer = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)id->pk};
  w.network = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)network};
  *len = linli__signed_commit__get_packed_size(&w);
  uint8_t *out = malloc(*len);
  assert_non_null(out);
  linli__signed_commit__pack(&w, out);
  return out;
}

/* The spec's commit, signed (caller frees); its hash in hash if not NULL. */
static inline uint8_t *tu_commit_sign(const tu_spec *sp, size_t *len, uint8_t hash[LI_HASH_BYTES]) {
  tu_commit_mem *m = malloc(sizeof *m);
  assert_non_null(m);
  tu_commit_build(m, sp);
  size_t clen;
  uint8_t *c = tu_commit_pack(&m->c, &clen);
  if (hash) li_hash(c, clen, hash);
  uint8_t *sc = tu_wrap(sp->signer, sp->network, c, clen, len);
  free(c);
  free(m);
  return sc;
}

/* ---- snapshots ---- */

static inline void tu_hash_query(sqlite3 *db, crypto_generichash_state *h, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    crypto_generichash_update(h, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    crypto_generichash_update(h, (const uint8_t *)"\n", 1);
  }
  if (rc != SQLITE_DONE) fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
  sqlite3_finalize(st);
}

/* Every row of a table (where: NULL, or an SQL condition on its rows) as
 * one quote()d line, sorted. */
static inline void tu_hash_table_where(sqlite3 *db, crypto_generichash_state *h, const char *table, const char *where) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT group_concat('quote(\"' || replace(name, '\"', '\"\"') || '\")', "
                                      "' || '','' || ') FROM pragma_table_info(?)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  const char *expr = (const char *)sqlite3_column_text(st, 0);
  if (!expr) fail_msg("snapshot: no table %s", table);
  char *sql = sqlite3_mprintf("SELECT %s AS r FROM \"%w\" WHERE %s ORDER BY r", expr, table, where ? where : "1");
  sqlite3_finalize(st);
  assert_non_null(sql);
  crypto_generichash_update(h, (const uint8_t *)table, strlen(table) + 1);
  tu_hash_query(db, h, sql);
  sqlite3_free(sql);
}

static inline void tu_hash_table(sqlite3 *db, crypto_generichash_state *h, const char *table) {
  tu_hash_table_where(db, h, table, NULL);
}

static inline void tu_hash_tracked(sqlite3 *db, crypto_generichash_state *h, const char *where) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM linli_tables ORDER BY name", -1, &st, NULL), SQLITE_OK);
  int ntables = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    tu_hash_table_where(db, h, (const char *)sqlite3_column_text(st, 0), where);
    ntables++;
  }
  sqlite3_finalize(st);
  assert_true(ntables > 0);
}

/* Tracked tables and linli_log, linli_vv, linli_clock, linli_conflicts,
 * linli_origins, linli_dirty and linli_meta. linli_rejects, linli_banned and
 * linli_evidence are left out on purpose: counting a rejection and keeping
 * the evidence of a fork are what a refusal is allowed to change. */
static inline void tu_snapshot(sqlite3 *db, uint8_t out[LI_HASH_BYTES]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  tu_hash_tracked(db, &h, NULL);
  static const char *const internal[] = {"linli_log",     "linli_vv",    "linli_clock", "linli_conflicts",
                                         "linli_origins", "linli_dirty", "linli_meta"};
  for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) tu_hash_table(db, &h, internal[i]);
  crypto_generichash_final(&h, out, LI_HASH_BYTES);
}

/* The tracked tables alone: what every replica must agree on (linli_clock
 * and linli_origins hold local origin indexes, which differ). scope: NULL
 * for every row, else the rows of that scope and 'street' (what a committee
 * of that scope reads). */
static inline void tu_tables_digest_scope(sqlite3 *db, const char *scope, uint8_t out[LI_HASH_BYTES]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  char *where = scope ? sqlite3_mprintf("scope IN (%Q, 'street')", scope) : NULL;
  tu_hash_tracked(db, &h, where);
  sqlite3_free(where);
  crypto_generichash_final(&h, out, LI_HASH_BYTES);
}

static inline void tu_tables_digest(sqlite3 *db, uint8_t out[LI_HASH_BYTES]) { tu_tables_digest_scope(db, NULL, out); }

/* ---- bare replicas: no node directory, no key files ---- */

/* The network key and self key of tu_replica_new's replicas. */
#define TU_NETWORK_FILL 0xAA
#define TU_SELF_FILL 0x5E

/* A 32-byte key every byte of which is fill (tests need distinct, stable keys). */
static inline void tu_key(uint8_t out[LI_PK_BYTES], uint8_t fill) { memset(out, fill, LI_PK_BYTES); }

/* A new replica at dir/replica.db (schema_sql NULL: the street schema);
 * fails the test on any error. */
static inline li_replica *tu_replica_new(const char *dir, li_role role, const char *scope, const char *schema_sql) {
  char path[300];
  uint8_t net[LI_PK_BYTES], self[LI_PK_BYTES];
  tu_key(net, TU_NETWORK_FILL);
  tu_key(self, TU_SELF_FILL);
  snprintf(path, sizeof path, "%s/replica.db", dir);
  li_replica *r = NULL;
  li_errbuf eb = {{0}};
  li_err e = li_replica_create(path, role, scope, net, self, schema_sql, &r, &eb);
  if (e) fail_msg("li_replica_create %s: %s (%s)", path, li_errname(e), eb.msg);
  return r;
}

/* Runs SQL that must succeed. */
static inline void tu_db_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed (%s): %s", msg ? msg : "?", sql);
}

/* Runs SQL that may fail; its error message (or "") into msg. */
static inline int tu_exec_rc(sqlite3 *db, const char *sql, char *msg, size_t cap) {
  char *m = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &m);
  snprintf(msg, cap, "%s", m ? m : "");
  sqlite3_free(m);
  return rc;
}

/* The first column of the first row of a query, as an integer. */
static inline int64_t tu_db_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("cannot prepare: %s", sql);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

/* Every row of a query rendered with SQL quote() semantics ("'a'|1|X'00'"),
 * one line a row; malloc'd. Before/after snapshots compare these. */
static inline char *tu_dump(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("cannot prepare: %s", sql);
  size_t cap = 256, n = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      sqlite3_stmt *qq = NULL;
      assert_int_equal(sqlite3_prepare_v2(db, "SELECT quote(?)", -1, &qq, NULL), SQLITE_OK);
      sqlite3_bind_value(qq, 1, sqlite3_column_value(st, i));
      assert_int_equal(sqlite3_step(qq), SQLITE_ROW);
      const char *v = (const char *)sqlite3_column_text(qq, 0);
      size_t need = n + strlen(v) + 3;
      if (need > cap) {
        while (cap < need) cap *= 2;
        out = realloc(out, cap);
        assert_non_null(out);
      }
      n += (size_t)sprintf(out + n, "%s%s", i ? "|" : "", v);
      sqlite3_finalize(qq);
    }
    if (n + 2 > cap) {
      cap *= 2;
      out = realloc(out, cap);
      assert_non_null(out);
    }
    out[n++] = '\n';
    out[n] = 0;
  }
  sqlite3_finalize(st);
  return out;
}

/* Death test: runs fn(arg) in a child process and tells whether it ended
 * with an assertion (SIGABRT). For "misuse by our own code is an
 * assertion". */
static inline bool tu_aborts(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    fn(arg);
    _exit(0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static inline li_err tu_copy_sc(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  li_blob *b = ctx;
  uint8_t *p = malloc(row->sc_len ? row->sc_len : 1);
  assert_non_null(p);
  memcpy(p, row->sc, row->sc_len);
  b->sc = p;
  b->len = row->sc_len;
  return LI_OK;
}

/* The stored bytes of a node's own commit #seq of scope (b->sc malloc'd). */
static inline void tu_own_commit(li_node *n, const char *scope, uint64_t seq, li_blob *b) {
  bool found = false;
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_commit_at(n->r, n->id.pk, scope, seq, tu_copy_sc, b, &found, &eb), LI_OK);
  if (!found) fail_msg("%s has no commit %s#%llu", n->cfg.name, scope, (unsigned long long)seq);
}

/* ---- a pair: a hub and committee c07 in its roster ---- */

typedef struct {
  li_node *hub, *c07;
} tu_pair;

static inline void tu_pair_new(const char *dir, tu_pair *s) {
  char d[300], hub_key[LI_PK_TEXT_LEN + 1], k[LI_PK_TEXT_LEN + 1];
  snprintf(d, sizeof d, "%s/hub", dir);
  s->hub = tu_node_new(d, LI_ROLE_HUB, "hub", NULL, NULL);
  li_pk_to_text(s->hub->id.pk, hub_key);
  snprintf(d, sizeof d, "%s/c07", dir);
  s->c07 = tu_node_new(d, LI_ROLE_COMMITTEE, "c07", "c07", hub_key);
  li_pk_to_text(s->c07->id.pk, k);
  li_errbuf eb = {{0}};
  li_err e = li_roster_add(s->hub->r, "c07", k, "c07", li_wall_ms(), &eb);
  if (e) fail_msg("li_roster_add: %s (%s)", li_errname(e), eb.msg);
}

static inline void tu_pair_free(tu_pair *s) {
  tu_node_free(&s->hub);
  tu_node_free(&s->c07);
}

/* Seals a node's captured writes; fails the test on error. */
static inline void tu_seal_now(li_node *n) {
  li_errbuf eb = {{0}};
  li_err e = li_seal(n->r, li_wall_ms(), NULL, &eb);
  if (e) fail_msg("li_seal: %s (%s)", li_errname(e), eb.msg);
}

/* On the hub: admits node c under name for scope; fails the test on error. */
static inline void tu_roster_add(li_node *hub, const char *name, const li_node *c, const char *scope) {
  char k[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->id.pk, k);
  li_errbuf eb = {{0}};
  li_err e = li_roster_add(hub->r, name, k, scope, li_wall_ms(), &eb);
  if (e) fail_msg("roster add %s: %s (%s)", name, li_errname(e), eb.msg);
}

/* Sends every commit of scope in from's log to `to`, in (hlc, origin, seq)
 * order, as one all-or-nothing merge (those `to` holds are skipped as
 * duplicates); fails the test on a rejection. Returns the commits applied. */
static inline int tu_send(li_node *from, li_node *to, const char *scope) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(from->r->db, "SELECT sc FROM linli_log WHERE scope = ?1 ORDER BY hlc, origin, seq", -1, &q,
                         NULL) != SQLITE_OK)
    fail_msg("tu_send: %s", sqlite3_errmsg(from->r->db));
  sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
  li_blob *v = NULL;
  size_t n = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    v = realloc(v, (n + 1) * sizeof *v);
    assert_non_null(v);
    size_t len = (size_t)sqlite3_column_bytes(q, 0);
    uint8_t *sc = malloc(len ? len : 1);
    assert_non_null(sc);
    memcpy(sc, sqlite3_column_blob(q, 0), len);
    v[n++] = (li_blob){sc, len};
  }
  sqlite3_finalize(q);
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_merge_stats st;
  li_errbuf eb = {{0}};
  li_err e = n ? li_merge_batch(to->r, v, n, &o, &st, &eb) : LI_OK;
  for (size_t i = 0; i < n; i++) free((void *)v[i].sc);
  free(v);
  if (e) fail_msg("tu_send %s: %s (%s)", scope, li_errname(e), eb.msg);
  return n ? st.applied : 0;
}

#endif

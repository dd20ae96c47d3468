/* Hostile inputs, table-driven: every case is {name, input builder, the exact
 * error expected, where the input enters}, and one driver runs them all.
 *
 * For each case the driver builds a fresh fixture (a hub with committee c07
 * in its roster, c07's commit #1 applied), snapshots the replica, feeds the
 * input where the case says it enters, checks the exact error and a
 * non-empty message (printed as "case NAME: ERROR: MESSAGE"), and checks the
 * snapshot is unchanged. The snapshot (tu_snapshot, testnode.h) is a
 * BLAKE2b hash over every tracked table's rows and linli_log, linli_vv,
 * linli_clock, linli_conflicts, linli_origins, linli_dirty and linli_meta,
 * each row rendered with SQL quote() and sorted. linli_rejects, linli_banned and linli_evidence are left
 * out on purpose: counting a rejection and keeping the evidence of a fork
 * are what a refusal is allowed to change.
 *
 * Entry points:
 *   merge    li_merge_batch on SignedCommit bytes (all-or-nothing). A replay
 *            is not an error there (the commit is skipped as a duplicate):
 *            the verdict is LI_ERR_REPLAY when every commit was a duplicate.
 *   bundle   li_bundle_import of a file.
 *   session  li_session_recv of a responder session (the hub, peer c07) over
 *            li_store_replica_vt, after a valid Hello from c07. It must
 *            answer with a Refuse naming the error (or, for a batch whose
 *            commit is rejected, an Ack naming it) and queue an event.
 *   config,  li_node_open of a fresh committee node directory whose
 *   key      linli.conf or key file the builder altered; its replica.db is
 *            what is snapshotted. */
#include "testnode.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "bundle.h"
#include "commit.h"
#include "hlc.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "merge.h"
#include "node.h"
#include "replica.h"
#include "seal.h"
#include "session.h"
#include "store.h"
#include "sync.pb-c.h"

typedef enum { AT_MERGE, AT_BUNDLE, AT_SESSION, AT_CONFIG, AT_KEY } s_at;
static const char *const s_at_name[] = {"merge", "bundle", "session", "config", "key"};

#define S_INPUT_COMMITS_MAX 4

/* What a builder produces; which part is used depends on the entry point. */
typedef struct {
  li_blob commits[S_INPUT_COMMITS_MAX]; /* merge: each .sc malloc'd */
  size_t n;
  uint8_t *bytes;                       /* session: one message, malloc'd */
  size_t len;
  char path[300];                       /* bundle: the file */
} s_input;

typedef struct fx fx;
typedef struct {
  const char *name;
  void (*build)(fx *f, s_input *in);
  li_err want;
  s_at at;
  const char *msg_has;           /* NULL, or text the message must contain */
  void (*after)(fx *f);          /* NULL, or further checks after the refusal */
} s_case;

struct fx {
  const s_case *c;
  char dir[256];
  li_node *hub, *c07;
  uint8_t head1[LI_HASH_BYTES]; /* hash of c07#1 */
  char node_dir[300];           /* config/key cases: the node opened */
};

/* ---- small helpers ---- */


static void s_exec(li_node *n, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(n->r->db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed (%s): %s", msg ? msg : "?", sql);
}

static int64_t s_count_origin(fx *f, const char *table) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE origin=?", table);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, sql, -1, &q, NULL), SQLITE_OK);
  sqlite3_bind_blob(q, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return n;
}

static void s_write(const char *path, const void *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (n) assert_int_equal(fwrite(p, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

static uint8_t *s_dup(const void *p, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  assert_non_null(d);
  if (n) memcpy(d, p, n);
  return d;
}

static void s_add(s_input *in, uint8_t *sc, size_t len) {
  assert_true(in->n < S_INPUT_COMMITS_MAX);
  in->commits[in->n++] = (li_blob){sc, len};
}

/* ---- fixture ---- */

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->c = *state;
  tu_tmpdir(f->dir);
  char d[300], hub_key[LI_PK_TEXT_LEN + 1], k[LI_PK_TEXT_LEN + 1];
  snprintf(d, sizeof d, "%s/hub", f->dir);
  f->hub = tu_node_new(d, LI_ROLE_HUB, "hub", NULL, NULL);
  li_pk_to_text(f->hub->id.pk, hub_key);
  snprintf(d, sizeof d, "%s/c07", f->dir);
  f->c07 = tu_node_new(d, LI_ROLE_COMMITTEE, "c07", "c07", hub_key);
  li_pk_to_text(f->c07->id.pk, k);
  li_errbuf eb = {{0}};
  assert_int_equal(li_roster_add(f->hub->r, "c07", k, "c07", li_wall_ms(), &eb), LI_OK);
  s_exec(f->hub, "INSERT INTO notices(id, scope, title) VALUES('n1','street','防汛通知')");
  assert_int_equal(li_seal(f->hub->r, li_wall_ms(), NULL, &eb), LI_OK);
  s_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  assert_int_equal(li_seal(f->c07->r, li_wall_ms(), NULL, &eb), LI_OK);
  /* c07#1 straight from its log into the hub */
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->c07->r->db, "SELECT sc, hash FROM linli_log WHERE scope='c07' AND seq=1", -1, &q,
                                      NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  li_blob one = {sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0)};
  assert_int_equal(sqlite3_column_bytes(q, 1), LI_HASH_BYTES);
  memcpy(f->head1, sqlite3_column_blob(q, 1), LI_HASH_BYTES);
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_merge_stats ms;
  li_err e = li_merge_batch(f->hub->r, &one, 1, &o, &ms, &eb);
  sqlite3_finalize(q);
  if (e) fail_msg("fixture merge: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(ms.applied, 1);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  li_node_close(f->hub);
  li_node_close(f->c07);
  free(f->hub);
  free(f->c07);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

/* ---- building commits ---- */

typedef struct {
  const li_identity *signer; /* NULL: c07 */
  const uint8_t *network;    /* NULL: the hub's */
  const char *scope;         /* NULL: c07 */
  uint64_t seq;              /* 0: 2 */
  const uint8_t *prev;       /* NULL: head1 when seq is 2, random otherwise (none for seq 1) */
  uint64_t hlc;              /* 0: now */
  const char *table;         /* NULL: care_visits */
  const char *id;            /* NULL: v2 */
  const char *col;           /* an extra or replaced column ... */
  Linli__Value *val;         /* ... and its value */
} s_spec;

static Linli__Value *s_text_v(Linli__Value *v, const char *t) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_T;
  v->t = (char *)t;
  return v;
}

static Linli__Value *s_int_v(Linli__Value *v, int64_t i) {
  linli__value__init(v);
  v->v_case = LINLI__VALUE__V_I;
  v->i = i;
  return v;
}

/* Packed Commit bytes inserting one care_visits row, as seal would make it
 * (caller frees). */
static uint8_t *s_commit_bytes(fx *f, const s_spec *sp, size_t *len) {
  static const char *const names[] = {"scope", "resident_ref", "visited_on", "kind", "follow_up"};
  const li_identity *signer = sp->signer ? sp->signer : &f->c07->id;
  const char *scope = sp->scope ? sp->scope : "c07";
  const char *cols[8];
  Linli__Value vbuf[8], *vals[8];
  uint32_t idx[8];
  int nc = 0;
  for (int i = 0; i < 5; i++, nc++) {
    cols[nc] = names[i];
    if (i == 0) vals[nc] = s_text_v(&vbuf[nc], scope);
    else if (i == 1) vals[nc] = s_text_v(&vbuf[nc], "R-666");
    else if (i == 2) vals[nc] = s_text_v(&vbuf[nc], "2025-03-09");
    else if (i == 3) vals[nc] = s_text_v(&vbuf[nc], "探访");
    else vals[nc] = s_int_v(&vbuf[nc], 0);
    if (sp->col && strcmp(sp->col, names[i]) == 0) vals[nc] = sp->val;
  }
  bool have = false;
  for (int i = 0; sp->col && i < nc; i++) have |= strcmp(cols[i], sp->col) == 0;
  if (sp->col && !have) {
    cols[nc] = sp->col;
    vals[nc++] = sp->val;
  }
  for (int i = 0; i < nc; i++) idx[i] = (uint32_t)i;
  Linli__Value idv, *pk[1] = {s_text_v(&idv, sp->id ? sp->id : "v2")};
  Linli__RowChange rc = LINLI__ROW_CHANGE__INIT, *rows[1] = {&rc};
  rc.n_pk = 1, rc.pk = pk, rc.cl = 1, rc.n_cols = (size_t)nc, rc.cols = idx, rc.n_values = (size_t)nc, rc.values = vals;
  Linli__TableChanges tc = LINLI__TABLE_CHANGES__INIT, *tabs[1] = {&tc};
  tc.table = (char *)(sp->table ? sp->table : "care_visits");
  tc.n_columns = (size_t)nc, tc.columns = (char **)cols, tc.n_rows = 1, tc.rows = rows;
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin.data = (uint8_t *)signer->pk;
  c.origin.len = LI_PK_BYTES;
  c.scope = (char *)scope;
  c.seq = sp->seq ? sp->seq : 2;
  uint8_t prev[LI_HASH_BYTES];
  if (sp->prev) memcpy(prev, sp->prev, sizeof prev);
  else if (c.seq == 2) memcpy(prev, f->head1, sizeof prev);
  else randombytes_buf(prev, sizeof prev);
  if (c.seq > 1) c.prev = (ProtobufCBinaryData){sizeof prev, prev};
  c.hlc = sp->hlc ? sp->hlc : LI_HLC_MAKE(li_wall_ms(), 0);
  c.schema_version = LI_SCHEMA_VERSION;
  c.n_tables = 1, c.tables = tabs;
  *len = linli__commit__get_packed_size(&c);
  uint8_t *out = malloc(*len);
  assert_non_null(out);
  linli__commit__pack(&c, out);
  return out;
}

/* A SignedCommit around commit bytes, signed by id for network (caller frees). */
static uint8_t *s_wrap(const li_identity *id, const uint8_t *network, const uint8_t *commit, size_t clen, size_t *len) {
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

/* A correctly signed SignedCommit of the spec (caller frees). */
static uint8_t *s_commit(fx *f, const s_spec *sp, size_t *len) {
  size_t clen;
  uint8_t *c = s_commit_bytes(f, sp, &clen);
  const li_identity *id = sp->signer ? sp->signer : &f->c07->id;
  uint8_t *sc = s_wrap(id, sp->network ? sp->network : f->hub->r->network, c, clen, len);
  free(c);
  return sc;
}

static void s_add_spec(fx *f, s_input *in, const s_spec *sp) {
  size_t len;
  uint8_t *sc = s_commit(f, sp, &len);
  s_add(in, sc, len);
}

/* ---- builders: merge ---- */

static void b_bad_signature(fx *f, s_input *in) {
  s_spec sp = {0};
  size_t len;
  uint8_t *sc = s_commit(f, &sp, &len);
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, len, sc);
  assert_non_null(w);
  w->sig.data[5] ^= 0x10;
  linli__signed_commit__pack(w, sc); /* same size */
  linli__signed_commit__free_unpacked(w, NULL);
  s_add(in, sc, len);
}

static li_identity s_stranger;

static void b_unknown_signer(fx *f, s_input *in) {
  assert_int_equal(li_identity_generate(&s_stranger), LI_OK);
  s_spec sp = {.signer = &s_stranger, .seq = 1};
  s_add_spec(f, in, &sp);
}

static void b_wrong_network(fx *f, s_input *in) {
  uint8_t net[LI_PK_BYTES];
  randombytes_buf(net, sizeof net);
  s_spec sp = {.network = net};
  s_add_spec(f, in, &sp);
}

static void b_out_of_scope(fx *f, s_input *in) {
  s_spec sp = {.scope = "c08", .seq = 1};
  s_add_spec(f, in, &sp);
}

static void b_gap(fx *f, s_input *in) {
  s_spec sp = {.seq = 3};
  s_add_spec(f, in, &sp);
}

static void b_fork(fx *f, s_input *in) {
  s_spec sp = {.seq = 1, .id = "v-other"}; /* a second, different c07#1 */
  s_add_spec(f, in, &sp);
}

static void a_fork(fx *f) {
  assert_int_equal(s_count_origin(f, "linli_banned"), 1);
  assert_int_equal(s_count_origin(f, "linli_evidence"), 2); /* both commits of the equivocation */
}

static void b_replay(fx *f, s_input *in) {
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT sc FROM linli_log WHERE origin=? AND scope='c07' AND seq=1",
                                      -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(q, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  size_t n = (size_t)sqlite3_column_bytes(q, 0);
  s_add(in, s_dup(sqlite3_column_blob(q, 0), n), n);
  sqlite3_finalize(q);
}

static void b_clock_ahead(fx *f, s_input *in) {
  s_spec sp = {.hlc = LI_HLC_MAKE(li_wall_ms() + 3600 * 1000, 0)};
  s_add_spec(f, in, &sp);
}

static void b_commit_too_big(fx *f, s_input *in) {
  size_t clen = LI_COMMIT_BYTES_MAX + 1, len;
  uint8_t *c = calloc(1, clen);
  assert_non_null(c);
  uint8_t *sc = s_wrap(&f->c07->id, f->hub->r->network, c, clen, &len);
  s_add(in, sc, len);
  free(c);
}

static void b_truncated(fx *f, s_input *in) {
  s_spec sp = {0};
  size_t len;
  uint8_t *sc = s_commit(f, &sp, &len);
  s_add(in, sc, len / 2);
}

/* A field number no version of SignedCommit has (15, varint 1) appended. */
static void b_unknown_field(fx *f, s_input *in) {
  s_spec sp = {0};
  size_t len;
  uint8_t *sc = s_commit(f, &sp, &len);
  uint8_t *p = realloc(sc, len + 2);
  assert_non_null(p);
  p[len] = (15 << 3) | 0;
  p[len + 1] = 0x01;
  s_add(in, p, len + 2);
}

/* The same inside the signed Commit, signed correctly: the signature holds,
 * the decode of the commit refuses the field. */
static void b_unknown_field_signed(fx *f, s_input *in) {
  s_spec sp = {0};
  size_t clen, len;
  uint8_t *c = s_commit_bytes(f, &sp, &clen);
  uint8_t *p = realloc(c, clen + 3);
  assert_non_null(p);
  p[clen] = (uint8_t)((100 << 3) & 0x7f) | 0x80; /* field 100, varint: tag 800 = 0xa0 0x06 */
  p[clen + 1] = (uint8_t)(800 >> 7);
  p[clen + 2] = 0x07;
  uint8_t *sc = s_wrap(&f->c07->id, f->hub->r->network, p, clen + 3, &len);
  s_add(in, sc, len);
  free(p);
}

/* SignedCommit.commit (bytes, field 1) sent as a varint. */
static void b_wrong_wire_type(fx *f, s_input *in) {
  static const uint8_t bad[] = {(1 << 3) | 0, 0x05};
  s_add(in, s_dup(bad, sizeof bad), sizeof bad);
}

/* An unknown table or column, or a value of the wrong type, no longer
 * refuses a commit: the row alone is refused and the commit applied
 * (DESIGN 13). test_merge's test_row_refusals has those cases. */

/* ---- builders: bundle ---- */

static void b_not_a_bundle(fx *f, s_input *in) {
  uint8_t junk[4096];
  randombytes_buf(junk, sizeof junk);
  snprintf(in->path, sizeof in->path, "%s/random.linli", f->dir);
  s_write(in->path, junk, sizeof junk);
}

/* ---- builders: session ---- */

static uint8_t *s_pack_env(const Linli__Envelope *env, size_t *len) {
  *len = linli__envelope__get_packed_size(env);
  uint8_t *p = malloc(*len ? *len : 1);
  assert_non_null(p);
  linli__envelope__pack(env, p);
  return p;
}

static uint8_t *s_hello(fx *f, const uint8_t *network, size_t *len) {
  Linli__Hello h = LINLI__HELLO__INIT;
  h.protocol = LI_PROTOCOL_VERSION;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)network};
  h.node = (ProtobufCBinaryData){LI_PK_BYTES, f->c07->id.pk};
  h.exchange = 1;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_HELLO;
  env.hello = &h;
  return s_pack_env(&env, len);
}

static uint8_t *s_batch(const li_blob *commits, size_t n, size_t *len) {
  ProtobufCBinaryData *cs = calloc(n ? n : 1, sizeof *cs);
  assert_non_null(cs);
  static uint8_t none[1];
  for (size_t i = 0; i < n; i++)
    cs[i] = commits ? (ProtobufCBinaryData){commits[i].len, (uint8_t *)commits[i].sc} : (ProtobufCBinaryData){0, none};
  Linli__Batch b = LINLI__BATCH__INIT;
  b.exchange = 1;
  b.id = 1;
  b.n_commits = n;
  b.commits = cs;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_BATCH;
  env.batch = &b;
  uint8_t *p = s_pack_env(&env, len);
  free(cs);
  return p;
}

static void b_s_too_big(fx *f, s_input *in) {
  in->len = (size_t)LI_MSG_BYTES_MAX + 1;
  in->bytes = calloc(1, in->len);
  assert_non_null(in->bytes);
}

static void b_s_truncated(fx *f, s_input *in) {
  s_spec sp = {0};
  size_t len;
  uint8_t *sc = s_commit(f, &sp, &len);
  li_blob bl = {sc, len};
  in->bytes = s_batch(&bl, 1, &in->len);
  in->len -= 10;
  free(sc);
}

/* An envelope holding only a message kind this version does not know
 * (field 100): refused. Unknown fields beside or inside a known message
 * are skipped (docs/protocol.md, "Versions"; test_session: test_newer_peer). */
static void b_s_unknown_kind(fx *f, s_input *in) {
  static const uint8_t kind[] = {0xa2, 0x06, 0x00}; /* field 100, length 0 */
  in->bytes = s_dup(kind, sizeof kind);
  in->len = sizeof kind;
}

/* Envelope.hello (a message, field 1) sent as a varint. */
static void b_s_wrong_wire_type(fx *f, s_input *in) {
  static const uint8_t bad[] = {(1 << 3) | 0, 0x01};
  in->bytes = s_dup(bad, sizeof bad);
  in->len = sizeof bad;
}

/* A Batch envelope claiming LI_BATCH_ROWS_MAX + 1 (empty) commits. */
static void b_s_batch_count(fx *f, s_input *in) { in->bytes = s_batch(NULL, LI_BATCH_ROWS_MAX + 1, &in->len); }

static void b_s_wrong_network(fx *f, s_input *in) {
  uint8_t net[LI_PK_BYTES];
  randombytes_buf(net, sizeof net);
  in->bytes = s_hello(f, net, &in->len);
}

static void b_s_bad_signature(fx *f, s_input *in) {
  s_input one = {0};
  b_bad_signature(f, &one);
  in->bytes = s_batch(one.commits, 1, &in->len);
  free((void *)one.commits[0].sc);
}

/* ---- builders: config and key (f->node_dir holds a fresh committee node) ---- */

static void s_append(const char *path, const char *text) {
  FILE *fp = fopen(path, "a");
  assert_non_null(fp);
  fputs(text, fp);
  assert_int_equal(fclose(fp), 0);
}

/* Replaces the first line starting with `key =` in linli.conf. */
static void s_conf_set(fx *f, const char *key, const char *line) {
  char path[400], tmp[420], buf[1024];
  snprintf(path, sizeof path, "%s/linli.conf", f->node_dir);
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
  assert_non_null(in);
  assert_non_null(out);
  bool done = false;
  while (fgets(buf, sizeof buf, in)) {
    if (!done && strncmp(buf, key, strlen(key)) == 0 && buf[strlen(key)] == ' ') {
      fprintf(out, "%s\n", line);
      done = true;
    } else {
      fputs(buf, out);
    }
  }
  fclose(in);
  assert_int_equal(fclose(out), 0);
  if (!done) fail_msg("linli.conf has no key %s", key);
  assert_int_equal(rename(tmp, path), 0);
}

static void b_c_unknown_key(fx *f, s_input *in) {
  char path[400];
  snprintf(path, sizeof path, "%s/linli.conf", f->node_dir);
  s_append(path, "[sync]\nbatch_rows = 10\n");
}

static void b_c_bad_endpoint(fx *f, s_input *in) { s_conf_set(f, "hub", "hub = tcp://hub.example"); }

static void s_key_path(fx *f, char *out, size_t cap) { snprintf(out, cap, "%s/node.key", f->node_dir); }

/* Unreadable: the process runs as root in CI, where a mode does not stop a
 * read; a directory in place of the file does. */
static void b_k_unreadable(fx *f, s_input *in) {
  char path[400];
  s_key_path(f, path, sizeof path);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mkdir(path, 0700), 0);
}

static void b_k_missing(fx *f, s_input *in) {
  char path[400];
  s_key_path(f, path, sizeof path);
  assert_int_equal(unlink(path), 0);
}

static void b_k_garbage(fx *f, s_input *in) {
  char path[400];
  s_key_path(f, path, sizeof path);
  assert_int_equal(unlink(path), 0);
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "linli-key-v1 not-a-key\n", 23), 23);
  close(fd);
}

static void b_k_perms(fx *f, s_input *in) {
  char path[400];
  s_key_path(f, path, sizeof path);
  assert_int_equal(chmod(path, 0644), 0);
}

/* ---- the table ---- */

static const s_case s_cases[] = {
    {"bad_signature", b_bad_signature, LI_ERR_BAD_SIG, AT_MERGE, "does not verify", NULL},
    {"unknown_signer", b_unknown_signer, LI_ERR_UNKNOWN_SIGNER, AT_MERGE, NULL, NULL},
    {"wrong_network", b_wrong_network, LI_ERR_WRONG_NETWORK, AT_MERGE, "network", NULL},
    {"out_of_scope", b_out_of_scope, LI_ERR_SCOPE, AT_MERGE, "c08", NULL},
    {"seq_gap", b_gap, LI_ERR_GAP, AT_MERGE, NULL, NULL},
    {"fork", b_fork, LI_ERR_FORK, AT_MERGE, "equivocation", a_fork},
    {"replay", b_replay, LI_ERR_REPLAY, AT_MERGE, "already applied", NULL},
    {"clock_ahead", b_clock_ahead, LI_ERR_CLOCK_AHEAD, AT_MERGE, NULL, NULL},
    {"commit_too_big", b_commit_too_big, LI_ERR_TOO_BIG, AT_MERGE, "LI_COMMIT_BYTES_MAX", NULL},
    {"truncated_protobuf", b_truncated, LI_ERR_DECODE, AT_MERGE, NULL, NULL},
    {"unknown_field", b_unknown_field, LI_ERR_DECODE, AT_MERGE, "unknown field", NULL},
    {"unknown_field_signed", b_unknown_field_signed, LI_ERR_DECODE, AT_MERGE, "unknown field", NULL},
    {"wrong_wire_type", b_wrong_wire_type, LI_ERR_DECODE, AT_MERGE, NULL, NULL},
    {"not_a_bundle", b_not_a_bundle, LI_ERR_NOT_BUNDLE, AT_BUNDLE, NULL, NULL},
    {"session_message_too_big", b_s_too_big, LI_ERR_TOO_BIG, AT_SESSION, "LI_MSG_BYTES_MAX", NULL},
    {"session_truncated", b_s_truncated, LI_ERR_DECODE, AT_SESSION, NULL, NULL},
    {"session_unknown_kind", b_s_unknown_kind, LI_ERR_DECODE, AT_SESSION, "this version knows", NULL},
    {"session_wrong_wire_type", b_s_wrong_wire_type, LI_ERR_DECODE, AT_SESSION, NULL, NULL},
    {"session_batch_count", b_s_batch_count, LI_ERR_LIMIT, AT_SESSION, "LI_BATCH_ROWS_MAX", NULL},
    {"session_wrong_network", b_s_wrong_network, LI_ERR_WRONG_NETWORK, AT_SESSION, NULL, NULL},
    {"session_bad_signature", b_s_bad_signature, LI_ERR_BAD_SIG, AT_SESSION, "does not verify", NULL},
    {"config_unknown_key", b_c_unknown_key, LI_ERR_CONFIG, AT_CONFIG, "batch_rows", NULL},
    {"config_bad_endpoint", b_c_bad_endpoint, LI_ERR_CONFIG, AT_CONFIG, "hub", NULL},
    {"key_unreadable", b_k_unreadable, LI_ERR_KEY, AT_KEY, "node.key", NULL},
    {"key_missing", b_k_missing, LI_ERR_KEY, AT_KEY, "does not exist", NULL},
    {"key_garbage", b_k_garbage, LI_ERR_KEY, AT_KEY, "not a valid linli key", NULL},
    {"key_loose_perms", b_k_perms, LI_ERR_KEY_PERMS, AT_KEY, "chmod 600", NULL},
};

/* ---- feeding ---- */

static li_err s_feed_merge(fx *f, s_input *in, li_errbuf *eb) {
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_merge_stats ms;
  li_err e = li_merge_batch(f->hub->r, in->commits, in->n, &o, &ms, eb);
  assert_int_equal(ms.applied, 0);
  assert_int_equal(ms.rows, 0);
  if (e == LI_OK && ms.duplicates == (int)in->n) return LI_ERR_REPLAY; /* skipped as a duplicate */
  if (e) assert_int_equal(ms.reject, e);
  return e;
}

static li_err s_feed_bundle(fx *f, s_input *in, li_errbuf *eb) {
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_bundle_import_stats st;
  li_err e = li_bundle_import(f->hub->r, in->path, &o, &st, eb);
  assert_int_equal(st.merge.applied, 0);
  li_bundle_import_stats_clear(&st);
  return e;
}

/* The first queued message of a kind, unpacked (caller frees), or NULL. */
static Linli__Envelope *s_take_out(li_session *s, Linli__Envelope__MCase kind) {
  uint8_t *m;
  size_t n;
  Linli__Envelope *found = NULL;
  while (li_session_next_out(s, &m, &n)) {
    Linli__Envelope *env = linli__envelope__unpack(NULL, n, m);
    free(m);
    assert_non_null(env);
    if (!found && env->m_case == kind) found = env;
    else linli__envelope__free_unpacked(env, NULL);
  }
  return found;
}

static li_err s_feed_session(fx *f, s_input *in, li_errbuf *eb) {
  li_store store = {.r = f->hub->r, .max_skew_ms = LI_SKEW_DEFAULT_MS, .wall_ms = li_wall_ms()};
  li_session_cfg cfg = {.initiator = false,
                        .batch_rows_max = LI_BATCH_ROWS_DEFAULT,
                        .batch_bytes_max = LI_BATCH_BYTES_DEFAULT,
                        .window = LI_WINDOW_DEFAULT,
                        .heartbeat_ms = 2000,
                        .peer_timeout_ms = 10000,
                        .retry_ms = 1000,
                        .peer_reads = {.n = 2, .list = {"c07", "street"}}};
  memcpy(cfg.network, f->hub->r->network, LI_PK_BYTES);
  memcpy(cfg.self, f->hub->id.pk, LI_PK_BYTES);
  memcpy(cfg.peer, f->c07->id.pk, LI_PK_BYTES);
  li_session *s = li_session_new(&cfg, &li_store_replica_vt, &store);
  assert_non_null(s);
  /* a valid exchange first, so the input meets a session in SYNCING */
  uint64_t now = li_wall_ms();
  size_t hlen;
  uint8_t *hello = s_hello(f, f->hub->r->network, &hlen);
  li_errbuf heb = {{0}};
  li_err e = li_session_recv(s, hello, hlen, now, &heb);
  free(hello);
  if (e) fail_msg("hello: %s (%s)", li_errname(e), heb.msg);
  Linli__Envelope *answer = s_take_out(s, LINLI__ENVELOPE__M_HELLO);
  assert_non_null(answer);
  linli__envelope__free_unpacked(answer, NULL);
  li_event ev;
  while (li_session_next_event(s, &ev)) {
  }
  li_session_info info;
  li_session_info_get(s, &info);
  assert_int_equal(info.state, LI_SESSION_SYNCING);

  e = li_session_recv(s, in->bytes, in->len, now + 1, eb);
  /* the answer: a Refuse naming the error, or an Ack naming a rejected commit */
  Linli__Envelope *refuse = NULL, *ack = NULL;
  uint8_t *m;
  size_t n;
  while (li_session_next_out(s, &m, &n)) {
    Linli__Envelope *env = linli__envelope__unpack(NULL, n, m);
    free(m);
    assert_non_null(env);
    if (!refuse && env->m_case == LINLI__ENVELOPE__M_REFUSE) refuse = env;
    else if (!ack && env->m_case == LINLI__ENVELOPE__M_ACK) ack = env;
    else linli__envelope__free_unpacked(env, NULL);
  }
  li_err verdict = e;
  bool evented = false;
  if (e != LI_OK) {
    if (!refuse) fail_msg("session answered %s without a Refuse", li_errname(e));
    assert_string_equal(refuse->refuse->code, li_errname(e));
    assert_true(refuse->refuse->message && refuse->refuse->message[0]);
    while (li_session_next_event(s, &ev)) evented |= ev.kind == LI_EV_PROTOCOL && ev.code == e;
  } else {
    if (!ack || !ack->ack->reject || !ack->ack->reject[0]) fail_msg("session accepted the input without a rejection");
    assert_int_equal(ack->ack->applied, 0);
    while (li_session_next_event(s, &ev)) {
      if (ev.kind == LI_EV_REJECTED_IN) {
        evented = true;
        verdict = ev.code;
        snprintf(eb->msg, sizeof eb->msg, "%s", ev.message);
      }
    }
    assert_string_equal(ack->ack->reject, li_errname(verdict));
  }
  if (!evented) fail_msg("session queued no event for the rejected input");
  if (refuse) linli__envelope__free_unpacked(refuse, NULL);
  if (ack) linli__envelope__free_unpacked(ack, NULL);
  li_session_destroy(&s);
  assert_null(s);
  return verdict;
}

static sqlite3 *s_open_ro(const char *dir) {
  char path[400];
  snprintf(path, sizeof path, "%s/replica.db", dir);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) fail_msg("open %s", path);
  return db;
}

/* ---- the driver ---- */

static void s_run(void **state) {
  fx *f = *state;
  const s_case *c = f->c;
  s_input in = {0};
  sqlite3 *db = f->hub->r->db;
  sqlite3 *node_db = NULL;
  if (c->at == AT_CONFIG || c->at == AT_KEY) {
    char hub_key[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(f->hub->id.pk, hub_key);
    snprintf(f->node_dir, sizeof f->node_dir, "%s/node", f->dir);
    li_node_init_opts o = {.role = LI_ROLE_COMMITTEE, .name = "c09", .scope = "c09", .hub_key = hub_key,
                           .hub = "tcp://127.0.0.1:7700"};
    li_errbuf ieb = {{0}};
    li_err e = li_node_init(f->node_dir, &o, &ieb);
    if (e) fail_msg("li_node_init: %s (%s)", li_errname(e), ieb.msg);
    db = node_db = s_open_ro(f->node_dir);
  }
  c->build(f, &in);

  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES], hub_before[LI_HASH_BYTES], hub_after[LI_HASH_BYTES];
  tu_snapshot(db, before);
  tu_snapshot(f->hub->r->db, hub_before);
  li_errbuf eb;
  memset(&eb, 0, sizeof eb);
  li_err got = LI_OK;
  switch (c->at) {
  case AT_MERGE: got = s_feed_merge(f, &in, &eb); break;
  case AT_BUNDLE: got = s_feed_bundle(f, &in, &eb); break;
  case AT_SESSION: got = s_feed_session(f, &in, &eb); break;
  case AT_CONFIG:
  case AT_KEY: {
    li_node n;
    got = li_node_open(&n, f->node_dir, &eb);
    if (got == LI_OK) li_node_close(&n);
    break;
  }
  }
  printf("case %s (%s): %s: %s\n", c->name, s_at_name[c->at], li_errname(got), eb.msg);
  fflush(stdout);
  if (got != c->want)
    fail_msg("case %s: expected %s, got %s (%s)", c->name, li_errname(c->want), li_errname(got), eb.msg);
  if (!eb.msg[0]) fail_msg("case %s: %s without a message", c->name, li_errname(got));
  if (c->msg_has && !strstr(eb.msg, c->msg_has))
    fail_msg("case %s: message does not mention \"%s\": %s", c->name, c->msg_has, eb.msg);
  tu_snapshot(db, after);
  tu_snapshot(f->hub->r->db, hub_after);
  if (memcmp(before, after, sizeof before) != 0) fail_msg("case %s: the refused input changed the replica", c->name);
  if (memcmp(hub_before, hub_after, sizeof hub_before) != 0) fail_msg("case %s: the refused input changed the hub", c->name);
  if (c->after) c->after(f);

  for (size_t i = 0; i < in.n; i++) free((void *)in.commits[i].sc);
  free(in.bytes);
  if (node_db) sqlite3_close(node_db);
  li_identity_wipe(&s_stranger);
}

/* The control: the snapshot does see an accepted commit. */
static void s_snapshot_sees_changes(void **state) {
  fx *f = *state;
  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
  tu_snapshot(f->hub->r->db, before);
  s_input in = {0};
  s_spec sp = {0};
  s_add_spec(f, &in, &sp);
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_merge_stats ms;
  li_errbuf eb = {{0}};
  assert_int_equal(li_merge_batch(f->hub->r, in.commits, 1, &o, &ms, &eb), LI_OK);
  assert_int_equal(ms.applied, 1);
  tu_snapshot(f->hub->r->db, after);
  assert_memory_not_equal(before, after, sizeof before);
  free((void *)in.commits[0].sc);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  enum { N = sizeof s_cases / sizeof s_cases[0] };
  static const s_case control = {"snapshot_sees_changes", NULL, LI_OK, AT_MERGE, NULL, NULL};
  struct CMUnitTest tests[N + 1];
  for (size_t i = 0; i < N; i++)
    tests[i] = (struct CMUnitTest){.name = s_cases[i].name,
                                   .test_func = s_run,
                                   .setup_func = fx_setup,
                                   .teardown_func = fx_teardown,
                                   .initial_state = (void *)&s_cases[i]};
  tests[N] = (struct CMUnitTest){.name = control.name,
                                 .test_func = s_snapshot_sees_changes,
                                 .setup_func = fx_setup,
                                 .teardown_func = fx_teardown,
                                 .initial_state = (void *)&control};
  return cmocka_run_group_tests_name("hostile inputs (table)", tests, NULL, NULL);
}

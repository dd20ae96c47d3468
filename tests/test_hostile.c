/* Hostile bundles: each is refused with its own error and a message, and
 * leaves the replica exactly as it was (tracked tables, linli_log, linli_vv,
 * linli_clock, linli_conflicts compared before and after). A commit that is
 * validly signed by an admitted origin for its scope is never refused for
 * what a row holds (DESIGN 13): such a row (unknown table or column, wrong
 * type, another scope, a CHECK) is refused alone, recorded in
 * linli_refused, and the commit applied with the tracked tables unchanged.
 *
 * The target is a hub with a committee c07 in its roster that has already
 * applied c07's first commit. Bundles are either exports altered afterwards
 * or written here frame by frame (node/bundle.c's format) around commits
 * built and signed here: flipped bytes, bad signatures, unknown signers,
 * another network, writes outside the signer's scope, gaps, replays, forks,
 * truncated or extended files, clocks from the future, random bytes,
 * unknown tables and columns, values of the wrong type. */
#include "testnode.h"

#include <sodium.h>
#include <sqlite3.h>

#include "bundle.h"
#include "commit.h"
#include "hlc.h"
#include "linli.pb-c.h"
#include "merge.h"
#include "node.h"
#include "replica.h"
#include "seal.h"

/* ---- fixture ---- */

typedef struct {
  char dir[256];
  li_node *hub, *c07;
  char good[300];               /* c07's export holding its commit #1 */
  uint8_t head1[LI_HASH_BYTES]; /* hash of c07#1 */
  int nfiles;
} fx;


static void s_exec(li_node *n, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(n->r->db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed (%s): %s", msg ? msg : "?", sql);
}

static int64_t s_int(li_node *n, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("prepare: %s", sql);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void s_path(fx *f, char *out, const char *what) { snprintf(out, 300, "%s/%02d-%s.linli", f->dir, f->nfiles++, what); }

static li_merge_opts s_opts(void) {
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = 300000, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  return o;
}

static li_err s_import(li_node *n, const char *path, li_bundle_import_stats *st, li_errbuf *eb) {
  li_merge_opts o = s_opts();
  memset(eb, 0, sizeof *eb);
  return li_bundle_import(n->r, path, &o, st, eb);
}

static void s_export(fx *f, li_node *from, char *path, const char *what) {
  s_path(f, path, what);
  li_errbuf eb = {{0}};
  li_err e = li_bundle_export(from->r, path, "hub", NULL, li_wall_ms(), NULL, &eb);
  if (e) fail_msg("export: %s (%s)", li_errname(e), eb.msg);
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
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
  s_export(f, f->c07, f->good, "good");
  li_bundle_import_stats st;
  li_err e = s_import(f->hub, f->good, &st, &eb);
  if (e) fail_msg("import: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(st.merge.applied, 1);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT head FROM linli_vv WHERE origin=? AND scope='c07'", -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(q, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_bytes(q, 0), LI_HASH_BYTES);
  memcpy(f->head1, sqlite3_column_blob(q, 0), LI_HASH_BYTES);
  sqlite3_finalize(q);
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

/* ---- snapshots ---- */

typedef struct {
  char *p;
  size_t n, cap;
} s_buf;

static void s_put(s_buf *b, const void *p, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void s_dump_query(sqlite3 *db, const char *sql, s_buf *b) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
  int nc = sqlite3_column_count(st);
  char tmp[64];
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < nc; i++) {
      int n = sqlite3_column_bytes(st, i);
      switch (sqlite3_column_type(st, i)) {
      case SQLITE_NULL: s_put(b, "N|", 2); break;
      case SQLITE_INTEGER: s_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "I%lld|", (long long)sqlite3_column_int64(st, i))); break;
      case SQLITE_FLOAT: s_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "F%.17g|", sqlite3_column_double(st, i))); break;
      case SQLITE_TEXT:
        s_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "T%d:", n));
        s_put(b, sqlite3_column_text(st, i), (size_t)n);
        s_put(b, "|", 1);
        break;
      default: {
        const unsigned char *p = sqlite3_column_blob(st, i);
        s_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "B%d:", n));
        for (int k = 0; k < n; k++) s_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%02x", p[k]));
        s_put(b, "|", 1);
      }
      }
    }
    s_put(b, "\n", 1);
  }
  sqlite3_finalize(st);
}

/* Tracked tables, linli_log, linli_vv, linli_clock, linli_conflicts. Caller frees. */
static char *s_snapshot(li_node *n) {
  s_buf b = {0};
  s_put(&b, "", 0);
  for (int i = 0; i < n->r->ntables; i++) {
    const li_table *t = &n->r->tables[i];
    char sql[512];
    int k = snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY ", t->name);
    for (int j = 0; j < t->npk; j++) k += snprintf(sql + k, sizeof sql - (size_t)k, "%s\"%s\"", j ? "," : "", t->cols[t->pk[j]]);
    s_put(&b, "== ", 3);
    s_put(&b, t->name, strlen(t->name));
    s_put(&b, "\n", 1);
    s_dump_query(n->r->db, sql, &b);
  }
  s_put(&b, "== log\n", 7);
  s_dump_query(n->r->db, "SELECT origin, scope, seq, hlc, hash, sc FROM linli_log ORDER BY origin, scope, seq", &b);
  s_put(&b, "== vv\n", 6);
  s_dump_query(n->r->db, "SELECT origin, scope, seq, head FROM linli_vv ORDER BY origin, scope", &b);
  s_put(&b, "== clock\n", 9);
  s_dump_query(n->r->db, "SELECT tbl, pk, scope, cl, vers FROM linli_clock ORDER BY tbl, pk", &b);
  s_put(&b, "== conflicts\n", 13);
  s_dump_query(n->r->db, "SELECT * FROM linli_conflicts ORDER BY id", &b);
  return b.p;
}

static void s_expect_refused_c(li_node *n, const char *path, li_err want, bool counted) {
  char *before = s_snapshot(n);
  li_bundle_import_stats st;
  li_errbuf eb;
  li_err e = s_import(n, path, &st, &eb);
  if (e != want) fail_msg("%s: expected %s, got %s (%s)", path, li_errname(want), li_errname(e), eb.msg);
  if (!eb.msg[0]) fail_msg("%s: refusal %s without a message", path, li_errname(e));
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.merge.rows, 0);
  li_bundle_import_stats_clear(&st);
  char *after = s_snapshot(n);
  if (strcmp(before, after) != 0) fail_msg("%s: a refused bundle (%s) changed the replica", path, li_errname(e));
  free(before);
  free(after);
  /* counted for status */
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT n FROM linli_rejects WHERE reason='%s'", li_errname(want));
  if (counted) assert_true(s_int(n, sql) >= 1);
}

static void s_expect_refused(li_node *n, const char *path, li_err want) { s_expect_refused_c(n, path, want, true); }

static void s_expect_ok(li_node *n, const char *path, int applied) {
  li_bundle_import_stats st;
  li_errbuf eb;
  li_err e = s_import(n, path, &st, &eb);
  if (e) fail_msg("%s: %s (%s)", path, li_errname(e), eb.msg);
  assert_int_equal(st.merge.applied, applied);
  li_bundle_import_stats_clear(&st);
}

/* ---- building commits ---- */

typedef struct {
  const li_identity *signer;
  const uint8_t *network;  /* NULL: the hub's */
  const char *scope;       /* NULL: c07 */
  uint64_t seq;            /* 0: 2 */
  const uint8_t *prev;     /* NULL: head1 when seq is 2, random otherwise (none for seq 1) */
  uint64_t hlc;            /* 0: now */
  const char *table;       /* NULL: care_visits */
  const char *id;          /* NULL: v2 */
  const char *row_scope;   /* NULL: the commit's scope */
  const char *col;         /* an extra or replaced column ... */
  Linli__Value *val;       /* ... and its value */
  Linli__Value *pk;        /* replaces the text key */
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

/* A SignedCommit inserting one care_visits row (all columns), as seal would
 * make it. Caller frees *out. */
static void s_commit(fx *f, const s_spec *sp, uint8_t **out, size_t *len) {
  static const char *const names[] = {"scope", "resident_ref", "visited_on", "visitor", "kind", "outcome", "follow_up", "note"};
  const char *cols[10];
  Linli__Value vbuf[10], *vals[10];
  uint32_t idx[10];
  const char *scope = sp->scope ? sp->scope : "c07";
  int nc = 0;
  for (int i = 0; i < 8; i++) {
    cols[nc] = names[i];
    if (i == 0) vals[nc] = s_text_v(&vbuf[nc], sp->row_scope ? sp->row_scope : scope);
    else if (i == 1) vals[nc] = s_text_v(&vbuf[nc], "R-666");
    else if (i == 2) vals[nc] = s_text_v(&vbuf[nc], "2025-03-09");
    else if (i == 4) vals[nc] = s_text_v(&vbuf[nc], "探访");
    else if (i == 6) vals[nc] = s_int_v(&vbuf[nc], 0);
    else {
      linli__value__init(&vbuf[nc]);
      vbuf[nc].v_case = LINLI__VALUE__V_NULL;
      vbuf[nc].null = 1;
      vals[nc] = &vbuf[nc];
    }
    if (sp->col && strcmp(sp->col, names[i]) == 0) vals[nc] = sp->val;
    nc++;
  }
  if (sp->col) {
    bool have = false;
    for (int i = 0; i < nc; i++) have |= strcmp(cols[i], sp->col) == 0;
    if (!have) {
      cols[nc] = sp->col;
      vals[nc] = sp->val;
      nc++;
    }
  }
  for (int i = 0; i < nc; i++) idx[i] = (uint32_t)i;
  Linli__Value idv, *pk[1] = {sp->pk ? sp->pk : s_text_v(&idv, sp->id ? sp->id : "v2")};
  Linli__RowChange rc = LINLI__ROW_CHANGE__INIT, *rows[1] = {&rc};
  rc.n_pk = 1;
  rc.pk = pk;
  rc.cl = 1;
  rc.n_cols = (size_t)nc;
  rc.cols = idx;
  rc.n_values = (size_t)nc;
  rc.values = vals;
  Linli__TableChanges tc = LINLI__TABLE_CHANGES__INIT, *tabs[1] = {&tc};
  tc.table = (char *)(sp->table ? sp->table : "care_visits");
  tc.n_columns = (size_t)nc;
  tc.columns = (char **)cols;
  tc.n_rows = 1;
  tc.rows = rows;
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin.data = (uint8_t *)sp->signer->pk;
  c.origin.len = LI_PK_BYTES;
  c.scope = (char *)scope;
  c.seq = sp->seq ? sp->seq : 2;
  uint8_t prev[LI_HASH_BYTES];
  if (sp->prev) memcpy(prev, sp->prev, sizeof prev);
  else if (c.seq == 2) memcpy(prev, f->head1, sizeof prev);
  else randombytes_buf(prev, sizeof prev);
  if (c.seq > 1) {
    c.prev.data = prev;
    c.prev.len = sizeof prev;
  }
  c.hlc = sp->hlc ? sp->hlc : LI_HLC_MAKE(li_wall_ms(), 0);
  c.schema_version = LI_SCHEMA_VERSION;
  c.n_tables = 1;
  c.tables = tabs;
  uint8_t hash[LI_HASH_BYTES];
  li_errbuf eb = {{0}};
  li_err e = li_commit_seal(sp->signer, sp->network ? sp->network : f->hub->r->network, &c, out, len, hash, &eb);
  if (e) fail_msg("li_commit_seal: %s (%s)", li_errname(e), eb.msg);
}

/* Bundle file framing, as node/bundle.c writes it. */
typedef struct {
  FILE *f;
  crypto_generichash_state h;
  uint64_t n;
} s_bw;

static void s_frame(s_bw *w, char kind, const uint8_t *p, size_t n, bool hashed) {
  uint8_t hdr[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, (uint8_t)kind};
  if (hashed) {
    crypto_generichash_update(&w->h, hdr, sizeof hdr);
    crypto_generichash_update(&w->h, p, n);
  }
  assert_int_equal(fwrite(hdr, 1, sizeof hdr, w->f), sizeof hdr);
  if (n) assert_int_equal(fwrite(p, 1, n, w->f), n);
}

typedef struct {
  const uint8_t *network; /* header's network; NULL: the hub's */
  bool bad_digest;
  int64_t count_delta;    /* added to the trailer's commit count */
} s_bopts;

static void s_write_bundle(fx *f, const char *path, const li_blob *commits, size_t n, const s_bopts *bo) {
  s_bw w = {0};
  w.f = fopen(path, "wb");
  assert_non_null(w.f);
  crypto_generichash_init(&w.h, NULL, 0, LI_HASH_BYTES);
  assert_int_equal(fwrite("LINLIBN1", 1, 8, w.f), 8);
  Linli__Bundle b = LINLI__BUNDLE__INIT;
  b.version = 1;
  b.network.data = (uint8_t *)(bo && bo->network ? bo->network : f->hub->r->network);
  b.network.len = LI_PK_BYTES;
  b.creator.data = f->c07->id.pk;
  b.creator.len = LI_PK_BYTES;
  b.for_node = (char *)"hub";
  b.created_hlc = LI_HLC_MAKE(li_wall_ms(), 0);
  uint8_t buf[4096];
  size_t m = linli__bundle__pack(&b, buf);
  s_frame(&w, 'H', buf, m, true);
  for (size_t i = 0; i < n; i++) s_frame(&w, 'C', commits[i].sc, commits[i].len, true);
  uint8_t digest[LI_HASH_BYTES];
  crypto_generichash_final(&w.h, digest, sizeof digest);
  if (bo && bo->bad_digest) digest[7] ^= 0x20;
  Linli__BundleEnd end = LINLI__BUNDLE_END__INIT;
  end.commits = (uint64_t)((int64_t)n + (bo ? bo->count_delta : 0));
  end.digest.data = digest;
  end.digest.len = sizeof digest;
  m = linli__bundle_end__pack(&end, buf);
  s_frame(&w, 'E', buf, m, false);
  assert_int_equal(fclose(w.f), 0);
}

/* One commit from spec, in a bundle at a fresh path. */
static void s_bundle1(fx *f, const s_spec *sp, const s_bopts *bo, char *path, const char *what) {
  uint8_t *sc = NULL;
  size_t len = 0;
  s_commit(f, sp, &sc, &len);
  li_blob bl = {sc, len};
  s_path(f, path, what);
  s_write_bundle(f, path, &bl, 1, bo);
  free(sc);
}

/* The commit of sp at the next position of c07's chain on the hub, in a
 * bundle, with one row that fails validation: the commit is applied (the
 * chain goes on), the row refused alone with reason, the tracked tables
 * unchanged (DESIGN 13). */
static void s_expect_row_refused(fx *f, s_spec *sp, const char *what, const char *reason) {
  uint64_t seq = 0;
  uint8_t head[LI_HASH_BYTES];
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_head(f->hub->r, f->c07->id.pk, "c07", &seq, head, &eb), LI_OK);
  sp->seq = seq + 1;
  sp->prev = head;
  char path[300];
  s_bundle1(f, sp, NULL, path, what);
  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
  tu_tables_digest(f->hub->r->db, before);
  int64_t refused = s_int(f->hub, "SELECT count(*) FROM linli_refused");
  li_bundle_import_stats st;
  li_err e = s_import(f->hub, path, &st, &eb);
  if (e) fail_msg("%s: the commit was refused: %s (%s)", path, li_errname(e), eb.msg);
  assert_int_equal(st.merge.applied, 1);
  assert_int_equal(st.merge.refused, 1);
  tu_tables_digest(f->hub->r->db, after);
  if (memcmp(before, after, sizeof before) != 0) fail_msg("%s: the refused row changed the tables", path);
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM linli_refused"), refused + 1);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT reason, message FROM linli_refused ORDER BY id DESC LIMIT 1",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  print_message("%s: %s: %s\n", what, sqlite3_column_text(q, 0), sqlite3_column_text(q, 1));
  assert_string_equal((const char *)sqlite3_column_text(q, 0), reason);
  sqlite3_finalize(q);
  uint64_t now = 0;
  assert_int_equal(li_chain_head(f->hub->r, f->c07->id.pk, "c07", &now, head, &eb), LI_OK);
  assert_int_equal(now, seq + 1);
}

static uint8_t *s_read(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  *len = (size_t)n;
  return p;
}

static void s_write(const char *path, const uint8_t *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (n) assert_int_equal(fwrite(p, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* Offset of the k-th frame of a kind (k = -1: the last), its payload length in *n. */
static size_t s_find_frame(const uint8_t *p, size_t len, char kind, int k, size_t *n) {
  size_t off = 8, found = 0;
  int seen = 0;
  while (off + 5 <= len) {
    size_t m = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
    if ((char)p[off + 4] == kind) {
      if (seen == k) {
        *n = m;
        return off;
      }
      found = off;
      *n = m;
      seen++;
    }
    off += 5 + m;
  }
  assert_true(k < 0 && found != 0);
  return found;
}

/* ---- tests ---- */

static void test_flipped_byte_in_commit(void **state) {
  fx *f = *state;
  s_exec(f->c07, "UPDATE care_visits SET outcome='良好' WHERE id='v1'");
  li_errbuf eb = {{0}};
  assert_int_equal(li_seal(f->c07->r, li_wall_ms(), NULL, &eb), LI_OK);
  char path[300], bad[300];
  s_export(f, f->c07, path, "two");
  size_t len, n;
  uint8_t *p = s_read(path, &len);
  /* the last commit frame: SignedCommit field 1 (0x0a, varint length, commit bytes) */
  size_t off = s_find_frame(p, len, 'C', -1, &n);
  uint8_t *sc = p + off + 5;
  assert_int_equal(sc[0], 0x0a);
  size_t clen = 0, vp = 1;
  for (int shift = 0;; shift += 7) {
    uint8_t b = sc[vp++];
    clen |= (size_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  /* then field 2, the signature: 0x12, 0x40, 64 bytes */
  assert_true(vp + clen + 2 + LI_SIG_BYTES <= n);
  assert_int_equal(sc[vp + clen], 0x12);
  /* a byte in the middle of the signed commit bytes */
  sc[vp + clen / 2] ^= 0x01;
  s_path(f, bad, "flipped");
  s_write(bad, p, len);
  char *before = s_snapshot(f->hub);
  li_bundle_import_stats st;
  li_err e = s_import(f->hub, bad, &st, &eb);
  if (e != LI_ERR_BAD_SIG && e != LI_ERR_TAMPERED) fail_msg("flipped byte: got %s (%s)", li_errname(e), eb.msg);
  assert_true(eb.msg[0] != 0);
  char *after = s_snapshot(f->hub);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* a flipped byte in a commit's signature: the file's digest no longer
   * matches, and a damaged file is refused whole (a refused commit no
   * longer ends the import before the trailer is read) */
  sc[vp + clen / 2] ^= 0x01;
  sc[vp + clen + 2 + 10] ^= 0x80;
  s_write(bad, p, len);
  s_expect_refused(f->hub, bad, LI_ERR_TAMPERED);
  free(p);
  /* the intact export is still accepted */
  s_expect_ok(f->hub, path, 1);
}

static void test_bundle_digest(void **state) {
  fx *f = *state;
  char path[300];
  s_spec sp = {.signer = &f->c07->id};
  s_bopts bo = {.bad_digest = true};
  /* every commit valid, but the trailer's digest does not cover the frames */
  s_bundle1(f, &sp, &bo, path, "digest");
  s_expect_refused(f->hub, path, LI_ERR_TAMPERED);
  /* a flipped byte in the header frame (hashed, not signed) */
  char exp[300];
  s_export(f, f->c07, exp, "export");
  size_t len, n;
  uint8_t *p = s_read(exp, &len);
  size_t off = s_find_frame(p, len, 'H', 0, &n);
  /* the last byte of the header: the created_hlc varint's last byte, still a valid varint */
  p[off + 5 + n - 1] ^= 0x01;
  s_write(exp, p, len);
  free(p);
  s_expect_refused(f->hub, exp, LI_ERR_TAMPERED);
  /* a trailer announcing another number of commits */
  s_bopts bc = {.count_delta = 1};
  s_bundle1(f, &sp, &bc, path, "count");
  s_expect_refused(f->hub, path, LI_ERR_TRUNCATED);
  /* the same commit in a well-made bundle is accepted */
  s_bundle1(f, &sp, NULL, path, "fine");
  s_expect_ok(f->hub, path, 1);
}

static void test_bad_signature(void **state) {
  fx *f = *state;
  uint8_t *sc = NULL;
  size_t len = 0;
  s_spec sp = {.signer = &f->c07->id};
  s_commit(f, &sp, &sc, &len);
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, len, sc);
  assert_non_null(w);
  w->sig.data[0] ^= 0x04;
  uint8_t buf[8192];
  size_t m = linli__signed_commit__pack(w, buf);
  li_blob bl = {buf, m};
  char path[300];
  s_path(f, path, "badsig");
  s_write_bundle(f, path, &bl, 1, NULL);
  s_expect_refused(f->hub, path, LI_ERR_BAD_SIG);
  /* the right signature over other bytes: the commit was altered after signing */
  w->sig.data[0] ^= 0x04;
  w->commit.data[w->commit.len - 1] ^= 0x01;
  m = linli__signed_commit__pack(w, buf);
  bl.len = m;
  s_path(f, path, "altered");
  s_write_bundle(f, path, &bl, 1, NULL);
  s_expect_refused(f->hub, path, LI_ERR_BAD_SIG);
  /* the committee's signature with another signer field */
  w->commit.data[w->commit.len - 1] ^= 0x01;
  memcpy(w->signer.data, f->hub->id.pk, LI_PK_BYTES);
  m = linli__signed_commit__pack(w, buf);
  bl.len = m;
  s_path(f, path, "signer");
  s_write_bundle(f, path, &bl, 1, NULL);
  s_expect_refused(f->hub, path, LI_ERR_BAD_SIG);
  linli__signed_commit__free_unpacked(w, NULL);
  free(sc);
}

static void test_unknown_signer(void **state) {
  fx *f = *state;
  li_identity stranger;
  assert_int_equal(li_identity_generate(&stranger), LI_OK);
  char path[300];
  s_spec sp = {.signer = &stranger, .seq = 1};
  s_bundle1(f, &sp, NULL, path, "stranger");
  s_expect_refused(f->hub, path, LI_ERR_UNKNOWN_SIGNER);
  /* c07's real commit #1, taken over by the stranger: its key as origin, its signature */
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT sc FROM linli_log WHERE origin=? AND seq=1", -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(q, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  Linli__SignedCommit *w =
      linli__signed_commit__unpack(NULL, (size_t)sqlite3_column_bytes(q, 0), sqlite3_column_blob(q, 0));
  sqlite3_finalize(q);
  assert_non_null(w);
  Linli__Commit *c = linli__commit__unpack(NULL, w->commit.len, w->commit.data);
  assert_non_null(c);
  assert_int_equal(c->origin.len, LI_PK_BYTES);
  memcpy(c->origin.data, stranger.pk, LI_PK_BYTES);
  uint8_t *sc = NULL, hash[LI_HASH_BYTES];
  size_t len = 0;
  li_errbuf eb = {{0}};
  assert_int_equal(li_commit_seal(&stranger, f->hub->r->network, c, &sc, &len, hash, &eb), LI_OK);
  linli__commit__free_unpacked(c, NULL);
  linli__signed_commit__free_unpacked(w, NULL);
  li_blob bl = {sc, len};
  s_path(f, path, "resigned");
  s_write_bundle(f, path, &bl, 1, NULL);
  free(sc);
  s_expect_refused(f->hub, path, LI_ERR_UNKNOWN_SIGNER);
  /* its next commit would be a gap: the chain check comes before the roster */
  s_spec re = {.signer = &stranger, .seq = 2};
  s_bundle1(f, &re, NULL, path, "stranger-2");
  s_expect_refused(f->hub, path, LI_ERR_GAP);
  li_identity_wipe(&stranger);
}

static void test_wrong_network(void **state) {
  fx *f = *state;
  uint8_t net[LI_PK_BYTES];
  randombytes_buf(net, sizeof net);
  char path[300];
  /* the bundle says so in its header */
  s_spec sp = {.signer = &f->c07->id, .network = net};
  s_bopts bo = {.network = net};
  s_bundle1(f, &sp, &bo, path, "net-header");
  s_expect_refused(f->hub, path, LI_ERR_WRONG_NETWORK);
  /* a commit of another network inside a bundle of this one */
  s_bundle1(f, &sp, NULL, path, "net-commit");
  s_expect_refused(f->hub, path, LI_ERR_WRONG_NETWORK);
}

static void test_out_of_scope(void **state) {
  fx *f = *state;
  char path[300];
  /* a c07 key signing a commit of scope c08 */
  s_spec sp = {.signer = &f->c07->id, .scope = "c08", .seq = 1};
  s_bundle1(f, &sp, NULL, path, "c08");
  s_expect_refused(f->hub, path, LI_ERR_SCOPE);
  /* ... or of scope street */
  s_spec st = {.signer = &f->c07->id, .scope = "street", .seq = 1, .id = "n9"};
  s_bundle1(f, &st, NULL, path, "street");
  s_expect_refused(f->hub, path, LI_ERR_SCOPE);
  /* a commit of scope c07 writing "notice n1": a row of c07, never the
   * street's n1 (a row is (scope, key)) */
  uint8_t *sc = NULL;
  size_t len = 0;
  {
    /* notices has other columns: build its change by hand */
    Linli__Value vs, vt, *vals[2] = {s_text_v(&vs, "c07"), s_text_v(&vt, "hijacked")};
    const char *cols[2] = {"scope", "title"};
    uint32_t idx[2] = {0, 1};
    Linli__Value idv, *pk[1] = {s_text_v(&idv, "n1")};
    Linli__RowChange rc = LINLI__ROW_CHANGE__INIT, *rows[1] = {&rc};
    rc.n_pk = 1, rc.pk = pk, rc.cl = 1, rc.n_cols = 2, rc.cols = idx, rc.n_values = 2, rc.values = vals;
    Linli__TableChanges tc = LINLI__TABLE_CHANGES__INIT, *tabs[1] = {&tc};
    tc.table = (char *)"notices", tc.n_columns = 2, tc.columns = (char **)cols, tc.n_rows = 1, tc.rows = rows;
    Linli__Commit c = LINLI__COMMIT__INIT;
    c.origin.data = f->c07->id.pk, c.origin.len = LI_PK_BYTES;
    c.scope = (char *)"c07", c.seq = 2, c.prev.data = f->head1, c.prev.len = LI_HASH_BYTES;
    c.hlc = LI_HLC_MAKE(li_wall_ms(), 0), c.schema_version = LI_SCHEMA_VERSION, c.n_tables = 1, c.tables = tabs;
    uint8_t hash[LI_HASH_BYTES];
    li_errbuf eb = {{0}};
    assert_int_equal(li_commit_seal(&f->c07->id, f->hub->r->network, &c, &sc, &len, hash, &eb), LI_OK);
  }
  li_blob bl = {sc, len};
  s_path(f, path, "hijack");
  s_write_bundle(f, path, &bl, 1, NULL);
  free(sc);
  s_expect_ok(f->hub, path, 1);
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM notices WHERE id='n1' AND scope='street' AND title='防汛通知'"), 1);
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM notices WHERE title='hijacked' AND scope<>'c07'"), 0);
  /* a commit of scope c07 whose row names scope c08: that row refused */
  s_spec rs = {.signer = &f->c07->id, .row_scope = "c08"};
  s_expect_row_refused(f, &rs, "rowscope", "out_of_scope");
  /* the same verdict from li_merge_batch, whatever the caller's errbuf holds */
  uint8_t *c8 = NULL;
  size_t n8 = 0;
  s_commit(f, &sp, &c8, &n8);
  li_blob b8 = {c8, n8};
  li_merge_opts o = s_opts();
  li_merge_stats ms;
  assert_int_equal(li_merge_batch(f->hub->r, &b8, 1, &o, &ms, NULL), LI_ERR_SCOPE);
  assert_int_equal(ms.reject, LI_ERR_SCOPE);
  li_errbuf stale;
  snprintf(stale.msg, sizeof stale.msg, "an earlier message: key removed from the roster");
  assert_int_equal(li_merge_batch(f->hub->r, &b8, 1, &o, &ms, &stale), LI_ERR_SCOPE);
  assert_non_null(strstr(stale.msg, "may not write scope 'c08'"));
  free(c8);
}

static void test_gap(void **state) {
  fx *f = *state;
  char path[300];
  s_spec sp = {.signer = &f->c07->id, .seq = 3};
  s_bundle1(f, &sp, NULL, path, "gap");
  s_expect_refused(f->hub, path, LI_ERR_GAP);
}

static void test_replay(void **state) {
  fx *f = *state;
  /* the same valid bundle again: nothing applied, nothing changed, no error */
  char *before = s_snapshot(f->hub);
  li_bundle_import_stats st;
  li_errbuf eb;
  assert_int_equal(s_import(f->hub, f->good, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.merge.duplicates, 1);
  assert_int_equal(st.merge.rows, 0);
  char *after = s_snapshot(f->hub);
  assert_string_equal(before, after);
  free(after);
  /* li_merge_batch reports the duplicate too */
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT sc FROM linli_log WHERE origin=? AND scope='c07' AND seq=1", -1,
                                      &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(q, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  size_t n1 = (size_t)sqlite3_column_bytes(q, 0);
  uint8_t *sc1 = malloc(n1);
  memcpy(sc1, sqlite3_column_blob(q, 0), n1);
  sqlite3_finalize(q);
  li_blob one = {sc1, n1};
  li_merge_opts o = s_opts();
  li_merge_stats ms;
  memset(&eb, 0, sizeof eb);
  assert_int_equal(li_merge_batch(f->hub->r, &one, 1, &o, &ms, &eb), LI_OK);
  assert_int_equal(ms.applied, 0);
  assert_int_equal(ms.duplicates, 1);
  assert_int_equal(ms.rejected_at, -1);
  after = s_snapshot(f->hub);
  assert_string_equal(before, after);
  free(after);
  free(before);
  /* a new commit twice in one batch: applied once, then a duplicate */
  uint8_t *sc2 = NULL;
  size_t n2 = 0;
  s_spec sp = {.signer = &f->c07->id};
  s_commit(f, &sp, &sc2, &n2);
  li_blob two[3] = {{sc1, n1}, {sc2, n2}, {sc2, n2}};
  assert_int_equal(li_merge_batch(f->hub->r, two, 3, &o, &ms, &eb), LI_OK);
  assert_int_equal(ms.applied, 1);
  assert_int_equal(ms.duplicates, 2);
  assert_int_equal(ms.rows, 1);
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM care_visits WHERE id='v2'"), 1);
  /* and once more, from a bundle */
  char path[300];
  s_path(f, path, "again");
  s_write_bundle(f, path, &two[1], 1, NULL);
  before = s_snapshot(f->hub);
  assert_int_equal(s_import(f->hub, path, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.merge.duplicates, 1);
  after = s_snapshot(f->hub);
  assert_string_equal(before, after);
  free(before);
  free(after);
  free(sc1);
  free(sc2);
}

static int64_t s_banned(fx *f) {
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->hub->r->db, "SELECT count(*) FROM linli_banned WHERE origin=?", -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob(q, 1, f->c07->id.pk, LI_PK_BYTES, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return n;
}

static void test_fork_same_seq(void **state) {
  fx *f = *state;
  char path[300];
  /* a second, different commit #1 of c07 */
  s_spec sp = {.signer = &f->c07->id, .seq = 1, .id = "v-other"};
  s_bundle1(f, &sp, NULL, path, "fork");
  assert_int_equal(s_banned(f), 0);
  s_expect_refused(f->hub, path, LI_ERR_FORK);
  assert_int_equal(s_banned(f), 1);
  /* both commits of the equivocation are kept as evidence */
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM linli_evidence WHERE scope='c07' AND seq=1"), 2);
  assert_int_equal(s_int(f->hub, "SELECT count(DISTINCT hash) FROM linli_evidence"), 2);
  /* from now on even a well-formed next commit of that origin is refused */
  s_spec next = {.signer = &f->c07->id};
  s_bundle1(f, &next, NULL, path, "after-fork");
  s_expect_refused(f->hub, path, LI_ERR_BANNED);
}

static void test_fork_wrong_prev(void **state) {
  fx *f = *state;
  char path[300];
  uint8_t prev[LI_HASH_BYTES];
  memcpy(prev, f->head1, sizeof prev);
  prev[0] ^= 0xff;
  s_spec sp = {.signer = &f->c07->id, .prev = prev};
  s_bundle1(f, &sp, NULL, path, "prev");
  s_expect_refused(f->hub, path, LI_ERR_FORK);
  assert_int_equal(s_banned(f), 1);
  assert_true(s_int(f->hub, "SELECT count(*) FROM linli_evidence") >= 1);
  /* the fork is also found by li_merge_batch called on its own */
  fx_teardown(state);
  fx_setup(state);
  f = *state;
  memcpy(prev, f->head1, sizeof prev);
  prev[0] ^= 0xff;
  sp.signer = &f->c07->id;
  uint8_t *sc = NULL;
  size_t len = 0;
  s_commit(f, &sp, &sc, &len);
  li_blob bl = {sc, len};
  li_merge_opts o = s_opts();
  li_merge_stats ms;
  li_errbuf eb = {{0}};
  char *before = s_snapshot(f->hub);
  assert_int_equal(li_merge_batch(f->hub->r, &bl, 1, &o, &ms, &eb), LI_ERR_FORK);
  assert_true(eb.msg[0] != 0);
  assert_int_equal(ms.rejected_at, 0);
  assert_int_equal(ms.reject, LI_ERR_FORK);
  assert_int_equal(ms.applied, 0);
  char *after = s_snapshot(f->hub);
  assert_string_equal(before, after);
  assert_int_equal(s_banned(f), 1);
  free(before);
  free(after);
  free(sc);
}

static void test_truncated(void **state) {
  fx *f = *state;
  s_exec(f->c07, "UPDATE care_visits SET note='n' WHERE id='v1'");
  li_errbuf eb = {{0}};
  assert_int_equal(li_seal(f->c07->r, li_wall_ms(), NULL, &eb), LI_OK);
  char path[300], cut[300];
  s_export(f, f->c07, path, "full");
  size_t len, n;
  uint8_t *p = s_read(path, &len);
  size_t eoff = s_find_frame(p, len, 'E', 0, &n);
  size_t coff = s_find_frame(p, len, 'C', -1, &n);
  size_t cuts[] = {len - 1, len - 10, eoff + 3, eoff, coff + 5 + n / 2, coff + 2, 8 + 3, 8};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    s_path(f, cut, "cut");
    s_write(cut, p, cuts[i]);
    s_expect_refused(f->hub, cut, LI_ERR_TRUNCATED);
  }
  /* shorter than the magic: not a bundle at all */
  s_path(f, cut, "tiny");
  s_write(cut, p, 5);
  s_expect_refused_c(f->hub, cut, LI_ERR_NOT_BUNDLE, false);
  /* bytes after the trailer */
  uint8_t *longer = malloc(len + 7);
  memcpy(longer, p, len);
  memset(longer + len, 0, 7);
  s_path(f, cut, "extended");
  s_write(cut, longer, len + 7);
  s_expect_refused(f->hub, cut, LI_ERR_DECODE);
  free(longer);
  free(p);
  s_expect_ok(f->hub, path, 1);
}

static void test_clock_ahead(void **state) {
  fx *f = *state;
  char path[300];
  s_spec sp = {.signer = &f->c07->id, .hlc = LI_HLC_MAKE(li_wall_ms() + 3600 * 1000, 0)};
  s_bundle1(f, &sp, NULL, path, "future");
  s_expect_refused(f->hub, path, LI_ERR_CLOCK_AHEAD);
  /* within the allowed skew it is accepted */
  s_spec near = {.signer = &f->c07->id, .hlc = LI_HLC_MAKE(li_wall_ms() + 60 * 1000, 0)};
  s_bundle1(f, &near, NULL, path, "near");
  s_expect_ok(f->hub, path, 1);
}

static void test_not_a_bundle(void **state) {
  fx *f = *state;
  char path[300];
  uint8_t junk[4096];
  randombytes_buf(junk, sizeof junk);
  s_path(f, path, "random");
  s_write(path, junk, sizeof junk);
  s_expect_refused_c(f->hub, path, LI_ERR_NOT_BUNDLE, false);
  s_path(f, path, "empty");
  s_write(path, junk, 0);
  s_expect_refused_c(f->hub, path, LI_ERR_NOT_BUNDLE, false);
  /* the magic followed by garbage in place of the header */
  memcpy(junk, "LINLIBN1", 8);
  junk[8] = 0, junk[9] = 0, junk[10] = 0, junk[11] = 16, junk[12] = 'H';
  memset(junk + 13, 0xff, 16); /* a varint that never ends */
  s_write(path, junk, 200);
  s_expect_refused(f->hub, path, LI_ERR_NOT_BUNDLE);
}

static void test_unknown_table(void **state) {
  fx *f = *state;
  s_spec sp = {.signer = &f->c07->id, .table = "no_such_table"};
  s_expect_row_refused(f, &sp, "table", "unknown_table");
  s_spec internal = {.signer = &f->c07->id, .table = "linli_log"};
  s_expect_row_refused(f, &internal, "internal", "unknown_table");
  Linli__Value v;
  s_spec col = {.signer = &f->c07->id, .col = "no_such_column", .val = s_text_v(&v, "x")};
  s_expect_row_refused(f, &col, "column", "unknown_column");
}

static void test_wrong_type(void **state) {
  fx *f = *state;
  /* an integer into a TEXT column */
  Linli__Value vi;
  s_spec ti = {.signer = &f->c07->id, .col = "visited_on", .val = s_int_v(&vi, 20250301)};
  s_expect_row_refused(f, &ti, "int-into-text", "type");
  /* an integer key for a TEXT key */
  Linli__Value k;
  s_spec pk = {.signer = &f->c07->id, .pk = s_int_v(&k, 42)};
  s_expect_row_refused(f, &pk, "key", "key");
  /* a value its column's CHECK refuses: text into the INTEGER column
   * follow_up (SQLite keeps it as text, the CHECK does not take it) and 7 */
  Linli__Value v;
  s_spec sp = {.signer = &f->c07->id, .col = "follow_up", .val = s_text_v(&v, "yes")};
  s_expect_row_refused(f, &sp, "text-check", "constraint");
  Linli__Value c;
  s_spec ck = {.signer = &f->c07->id, .col = "follow_up", .val = s_int_v(&c, 7)};
  s_expect_row_refused(f, &ck, "check", "constraint");
}

/* A good commit and a later one of its chain refused (a gap: a wrong type
 * would no longer do, such a row is refused alone): the chain's prefix is
 * applied and the stop named, with its chain and seq (before issue 9 the
 * whole bundle was refused). */
static void test_chain_prefix(void **state) {
  fx *f = *state;
  uint8_t *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  s_spec good = {.signer = &f->c07->id, .id = "v2"};
  s_commit(f, &good, &a, &na);
  s_spec bad = {.signer = &f->c07->id, .seq = 4, .id = "v3"};
  s_commit(f, &bad, &b, &nb);
  li_blob bl[2] = {{a, na}, {b, nb}};
  char path[300];
  s_path(f, path, "mixed");
  s_write_bundle(f, path, bl, 2, NULL);
  li_bundle_import_stats st;
  li_errbuf eb;
  assert_int_equal(s_import(f->hub, path, &st, &eb), LI_ERR_GAP);
  assert_int_equal(st.merge.applied, 1);
  assert_int_equal(st.merge.rejected, 1);
  assert_int_equal(st.rejects.n, 1);
  assert_int_equal(st.rejects.v[0].seq, 3); /* a gap names what the sender should send next */
  assert_memory_equal(st.rejects.v[0].origin, f->c07->id.pk, LI_PK_BYTES);
  li_bundle_import_stats_clear(&st);
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM care_visits WHERE id='v2'"), 1);
  assert_int_equal(s_int(f->hub, "SELECT count(*) FROM care_visits WHERE id='v3'"), 0);
  assert_int_equal(s_int(f->hub, "SELECT n FROM linli_rejects WHERE reason='gap'"), 1);
  /* the good one alone: already there */
  s_path(f, path, "good-alone");
  s_write_bundle(f, path, bl, 1, NULL);
  s_expect_ok(f->hub, path, 0);
  free(a);
  free(b);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_flipped_byte_in_commit, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bundle_digest, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_signature, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_signer, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_wrong_network, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_scope, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_gap, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_replay, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_fork_same_seq, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_fork_wrong_prev, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_truncated, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_clock_ahead, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_not_a_bundle, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_table, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_wrong_type, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_chain_prefix, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

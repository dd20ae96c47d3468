/* Tests of node/bundle.c on real replicas: a hub holding the chains of
 * committees c07 and c08 and its own, exports for a scope and for everyone,
 * imports into a committee, and every refusal of an import.
 *
 * Bundles are taken apart into frames (magic, H, C..., E) and put together
 * again by s_build, which writes node/bundle.c's format (checked: it
 * rebuilds a real export byte for byte). A hostile case alters one thing
 * and recomputes the rest (the digest, the count), so it reaches exactly
 * the check it names. Every refused import is checked against the shared
 * snapshot (tu_snapshot: tracked tables and linli_log, vv, clock,
 * conflicts, origins, dirty, meta) and a control proves the snapshot sees
 * a valid import.
 *
 * What the other tests do not cover: test_hostile and test_seal use
 * bundles as a transport for merge and check some framing errors; here the
 * export itself is checked (frames, order, the header's fields, the
 * trailer's count and digest, the scope filter, stats, no temp file left),
 * and the framing errors they do not reach: a frame over
 * LI_BUNDLE_FRAME_MAX, a frame running past the end, a commit before the
 * header, a header of another version or network, an unknown frame kind, a
 * second header, a malformed trailer, an empty file, a directory, a missing
 * file; and a file damaged after more than LI_IMPORT_BATCH_COMMITS commits,
 * which must roll back the batches already merged.
 *
 * Issue 9: a sound file with refused commits is applied chain by chain
 * (findings 2: a chain missing a commit, an altered commit, a table the
 * committee lacks (its rows refused alone), a commit stopped after rows
 * were written), whom an export --for NAME is for (finding 1), and keys
 * of two scopes (finding 7: a row is (scope, key)). */
#include "testnode.h"

#include <sys/stat.h>

#include "bundle.h"
#include "li_limits.h"

/* ---- fixture ---- */

typedef struct {
  tu_street s;
  li_node *hub, *c07, *c08;
  char hub_c07[300]; /* the hub's export for c07 */
  int nfiles;
} fx;

static void s_path(fx *f, char *out, const char *what) { snprintf(out, 300, "%s/%02d-%s.linli", f->s.dir, f->nfiles++, what); }

static void s_export(fx *f, li_node *from, const char *for_scope, char *path, li_bundle_export_stats *st) {
  s_path(f, path, for_scope ? for_scope : "all");
  li_errbuf eb = {{0}};
  li_err e = li_bundle_export(from->r, path, for_scope ? for_scope : "", for_scope, f->s.t0 + 100000, st, &eb);
  if (e) fail_msg("export: %s (%s)", li_errname(e), eb.msg);
}

static li_err s_import(li_node *to, const char *path, uint64_t wall, li_bundle_import_stats *st, li_errbuf *eb) {
  li_merge_opts o = {.wall_ms = wall, .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  memset(eb, 0, sizeof *eb);
  return li_bundle_import(to->r, path, &o, st, eb);
}

/* The hub holds: the roster (street), a notice (street), c07's chain of two
 * commits, c08's chain of one, and a hub write in c07's scope. c07 holds
 * only its own chain; c08 nothing of the hub's. */
static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_street_new(&f->s, NULL);
  f->hub = f->s.hub;
  f->c07 = tu_street_committee(&f->s, "c07", "c07", true, NULL);
  f->c08 = tu_street_committee(&f->s, "c08", "c08", true, NULL);
  uint64_t t0 = f->s.t0;
  tu_exec(f->c07, "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1','c07','R-001','2025-03-01')");
  tu_seal(f->c07, t0 + 1000);
  tu_exec(f->c07, "UPDATE care_visits SET visitor='李' WHERE id='v1'");
  tu_seal(f->c07, t0 + 2000);
  tu_exec(f->c08, "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h1','c08','燃气','新华路12号','2025-02-27')");
  tu_seal(f->c08, t0 + 3000);
  tu_sync(f->c07, f->hub, t0 + 4000);
  tu_sync(f->c08, f->hub, t0 + 4000);
  tu_exec(f->hub, "INSERT INTO notices(id, scope, title) VALUES('n1','street','防汛通知');"
                  "INSERT INTO meal_points(id, scope, place) VALUES('m1','c07','社区食堂')");
  tu_seal(f->hub, t0 + 5000);
  li_bundle_export_stats st;
  s_export(f, f->hub, "c07", f->hub_c07, &st);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  tu_street_free(&f->s);
  free(f);
  return 0;
}

/* ---- files and frames ---- */

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

static void s_write(const char *path, const void *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (n) assert_int_equal(fwrite(p, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

#define S_FRAMES_MAX 256

typedef struct {
  char kind;
  uint8_t *p; /* malloc'd */
  size_t n;
} s_frame;

/* A bundle taken apart; s_build puts it together with its trailer. */
typedef struct {
  s_frame f[S_FRAMES_MAX]; /* every frame before the trailer */
  size_t n;
  int64_t count_delta;     /* added to the trailer's count */
  bool bad_digest;         /* one bit of the trailer's digest flipped */
} s_bundle;

static void s_bundle_add(s_bundle *b, char kind, const uint8_t *p, size_t n) {
  assert_true(b->n < S_FRAMES_MAX);
  b->f[b->n].kind = kind;
  b->f[b->n].p = malloc(n ? n : 1);
  assert_non_null(b->f[b->n].p);
  if (n) memcpy(b->f[b->n].p, p, n);
  b->f[b->n++].n = n;
}

static void s_bundle_free(s_bundle *b) {
  for (size_t i = 0; i < b->n; i++) free(b->f[i].p);
  b->n = 0;
}

/* A well-formed bundle file, taken apart; the trailer is dropped (s_build
 * makes it again) after checking it. */
static s_bundle s_parse(const uint8_t *p, size_t len) {
  s_bundle b;
  memset(&b, 0, sizeof b);
  assert_true(len >= 8 && memcmp(p, "LINLIBN1", 8) == 0);
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  size_t off = 8, commits = 0;
  bool ended = false;
  while (off < len) {
    assert_false(ended);
    assert_true(off + 5 <= len);
    size_t n = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
    char kind = (char)p[off + 4];
    assert_true(off + 5 + n <= len);
    if (kind == 'E') {
      uint8_t digest[LI_HASH_BYTES];
      crypto_generichash_final(&h, digest, sizeof digest);
      Linli__BundleEnd *e = linli__bundle_end__unpack(NULL, n, p + off + 5);
      assert_non_null(e);
      assert_int_equal(e->commits, commits);
      assert_int_equal(e->digest.len, LI_HASH_BYTES);
      assert_memory_equal(e->digest.data, digest, LI_HASH_BYTES);
      linli__bundle_end__free_unpacked(e, NULL);
      ended = true;
    } else {
      crypto_generichash_update(&h, p + off, 5 + n);
      s_bundle_add(&b, kind, p + off + 5, n);
      commits += kind == 'C';
    }
    off += 5 + n;
  }
  assert_true(ended);
  return b;
}

static s_bundle s_parse_file(const char *path) {
  size_t len;
  uint8_t *p = s_read(path, &len);
  s_bundle b = s_parse(p, len);
  free(p);
  return b;
}

static void s_put_frame(uint8_t **out, size_t *len, crypto_generichash_state *h, char kind, const uint8_t *p, size_t n) {
  uint8_t hdr[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, (uint8_t)kind};
  *out = realloc(*out, *len + 5 + n);
  assert_non_null(*out);
  memcpy(*out + *len, hdr, 5);
  if (n) memcpy(*out + *len + 5, p, n);
  if (h) crypto_generichash_update(h, *out + *len, 5 + n);
  *len += 5 + n;
}

/* The bytes of b: magic, its frames, a trailer with the count of C frames
 * and the digest of every frame (both altered as b says). Caller frees. */
static uint8_t *s_build(const s_bundle *b, size_t *len) {
  uint8_t *out = malloc(8);
  assert_non_null(out);
  memcpy(out, "LINLIBN1", 8);
  *len = 8;
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  uint64_t commits = 0;
  for (size_t i = 0; i < b->n; i++) {
    s_put_frame(&out, len, &h, b->f[i].kind, b->f[i].p, b->f[i].n);
    commits += b->f[i].kind == 'C';
  }
  uint8_t digest[LI_HASH_BYTES], e[128];
  crypto_generichash_final(&h, digest, sizeof digest);
  if (b->bad_digest) digest[7] ^= 0x10;
  Linli__BundleEnd end = LINLI__BUNDLE_END__INIT;
  end.commits = (uint64_t)((int64_t)commits + b->count_delta);
  end.digest = (ProtobufCBinaryData){sizeof digest, digest};
  s_put_frame(&out, len, NULL, 'E', e, linli__bundle_end__pack(&end, e));
  return out;
}

static void s_build_file(const s_bundle *b, const char *path) {
  size_t len;
  uint8_t *p = s_build(b, &len);
  s_write(path, p, len);
  free(p);
}

/* The header frame of b (index 0) replaced by h. */
static void s_set_header(s_bundle *b, const Linli__Bundle *h) {
  assert_true(b->n > 0 && b->f[0].kind == 'H');
  free(b->f[0].p);
  b->f[0].n = linli__bundle__get_packed_size(h);
  b->f[0].p = malloc(b->f[0].n);
  linli__bundle__pack(h, b->f[0].p);
}

/* ---- export ---- */

/* The export for c07: a header, every commit of c07 and street in (hlc,
 * origin) order, a trailer that counts them and hashes every frame. */
static void test_export_for_scope(void **state) {
  fx *f = *state;
  char path[300];
  li_bundle_export_stats st;
  s_export(f, f->hub, "c07", path, &st);
  s_bundle b = s_parse_file(path); /* checks the trailer */
  assert_true(b.n >= 2);
  assert_int_equal(b.f[0].kind, 'H');
  Linli__Bundle *h = linli__bundle__unpack(NULL, b.f[0].n, b.f[0].p);
  assert_non_null(h);
  assert_int_equal(h->version, 1);
  assert_memory_equal(h->network.data, f->hub->r->network, LI_PK_BYTES);
  assert_memory_equal(h->creator.data, f->hub->id.pk, LI_PK_BYTES);
  assert_string_equal(h->for_node, "c07");
  assert_int_equal(h->created_hlc, (f->s.t0 + 100000) << 16);
  linli__bundle__free_unpacked(h, NULL);
  uint64_t bytes = 0, last_hlc = 0;
  size_t c07 = 0, street = 0;
  for (size_t i = 1; i < b.n; i++) {
    assert_int_equal(b.f[i].kind, 'C');
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    assert_true(li_commit_pos(b.f[i].p, b.f[i].n, origin, scope, &seq));
    if (strcmp(scope, "c07") == 0) c07++;
    else if (strcmp(scope, "street") == 0) street++;
    else fail_msg("the export for c07 holds a commit of scope %s", scope);
    Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, b.f[i].n, b.f[i].p);
    Linli__Commit *c = linli__commit__unpack(NULL, w->commit.len, w->commit.data);
    assert_true(c->hlc >= last_hlc);
    last_hlc = c->hlc;
    linli__commit__free_unpacked(c, NULL);
    linli__signed_commit__free_unpacked(w, NULL);
    bytes += b.f[i].n;
  }
  assert_int_equal(c07, tu_int(f->hub, "SELECT count(*) FROM linli_log WHERE scope='c07'"));
  assert_int_equal(street, tu_int(f->hub, "SELECT count(*) FROM linli_log WHERE scope='street'"));
  assert_int_equal(c07, 3); /* c07#1, c07#2 and the hub's meal point */
  assert_true(street >= 3);  /* the roster (hub, c07, c08) and the notice */
  assert_int_equal(st.commits, b.n - 1);
  assert_int_equal(st.bytes, bytes);
  /* no temp file is left next to it */
  char cmd[400];
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", f->s.dir);
  assert_int_not_equal(system(cmd), 0);
  /* s_build writes the same format: the export rebuilt byte for byte */
  size_t len, len2;
  uint8_t *orig = s_read(path, &len), *again = s_build(&b, &len2);
  assert_int_equal(len, len2);
  assert_memory_equal(orig, again, len);
  free(orig);
  free(again);
  s_bundle_free(&b);
}

static void test_export_all(void **state) {
  fx *f = *state;
  char path[300];
  li_bundle_export_stats st;
  s_export(f, f->hub, NULL, path, &st);
  s_bundle b = s_parse_file(path);
  assert_int_equal(st.commits, tu_int(f->hub, "SELECT count(*) FROM linli_log"));
  assert_int_equal(b.n - 1, st.commits);
  size_t c08 = 0;
  for (size_t i = 1; i < b.n; i++) {
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    assert_true(li_commit_pos(b.f[i].p, b.f[i].n, origin, scope, &seq));
    c08 += strcmp(scope, "c08") == 0;
  }
  assert_int_equal(c08, 1);
  s_bundle_free(&b);
  /* exporting again over the file replaces it */
  li_errbuf eb = {{0}};
  assert_int_equal(li_bundle_export(f->hub->r, path, "c07", "c07", f->s.t0, &st, &eb), LI_OK);
  b = s_parse_file(path);
  assert_int_equal(b.n - 1, st.commits);
  s_bundle_free(&b);
  /* a directory that does not exist: an I/O error naming the file */
  char bad[400];
  snprintf(bad, sizeof bad, "%s/no/such/dir/x.linli", f->s.dir);
  assert_int_equal(li_bundle_export(f->hub->r, bad, "c07", "c07", f->s.t0, &st, &eb), LI_ERR_IO);
  assert_non_null(strstr(eb.msg, "x.linli"));
}

/* ---- import ---- */

static void test_import_round_trip(void **state) {
  fx *f = *state;
  li_bundle_import_stats st;
  li_errbuf eb;
  uint64_t wall = f->s.t0 + 10000;
  /* c07 holds its own chain already: those are duplicates */
  assert_int_equal(s_import(f->c07, f->hub_c07, wall, &st, &eb), LI_OK);
  int64_t in_file = tu_int(f->hub, "SELECT count(*) FROM linli_log WHERE scope IN ('c07','street')");
  assert_int_equal(st.commits, in_file);
  assert_int_equal(st.merge.duplicates, 2);
  assert_int_equal(st.merge.applied, in_file - 2);
  assert_int_equal(st.merge.rejected_at, -1);
  uint8_t a[LI_HASH_BYTES], b[LI_HASH_BYTES];
  tu_tables_digest_scope(f->hub->r->db, "c07", a);
  tu_tables_digest_scope(f->c07->r->db, "c07", b);
  assert_memory_equal(a, b, LI_HASH_BYTES);
  assert_string_equal(tu_text(f->c07, "SELECT place FROM meal_points WHERE id='m1'"), "社区食堂");
  assert_int_equal(tu_int(f->c07, "SELECT count(*) FROM hazards"), 0); /* c08's, not in the file */
  /* again: every commit a duplicate, nothing changes */
  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
  tu_snapshot(f->c07->r->db, before);
  assert_int_equal(s_import(f->c07, f->hub_c07, wall, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.merge.duplicates, in_file);
  tu_snapshot(f->c07->r->db, after);
  assert_memory_equal(before, after, LI_HASH_BYTES);
  /* the other way: c08's export of its own chain, into the hub, which holds it all: duplicates */
  char path[300];
  li_bundle_export_stats xs;
  s_export(f, f->c08, "c08", path, &xs);
  assert_int_equal(s_import(f->hub, path, wall, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.merge.duplicates, (int)xs.commits);
}

/* ---- refused imports, one row each ---- */

typedef struct {
  const char *name;
  void (*make)(fx *f, const char *path); /* writes the file at path */
  li_err want;
  const char *msg_has;
} s_case;

static void s_altered(fx *f, const char *path, void (*alter)(fx *f, s_bundle *b)) {
  s_bundle b = s_parse_file(f->hub_c07);
  alter(f, &b);
  s_build_file(&b, path);
  s_bundle_free(&b);
}

static void s_cut(fx *f, const char *path, size_t at) {
  size_t len;
  uint8_t *p = s_read(f->hub_c07, &len);
  assert_true(at < len);
  s_write(path, p, at);
  free(p);
}

/* Offset of the k-th frame of kind (k < 0: from the end) in the export. */
static size_t s_frame_at(fx *f, char kind, int k, size_t *n) {
  size_t len;
  uint8_t *p = s_read(f->hub_c07, &len);
  size_t offs[S_FRAMES_MAX], lens[S_FRAMES_MAX], m = 0;
  for (size_t off = 8; off + 5 <= len;) {
    size_t fl = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
    if ((char)p[off + 4] == kind) offs[m] = off, lens[m++] = fl;
    off += 5 + fl;
  }
  free(p);
  assert_true(m > 0);
  size_t i = k < 0 ? m - (size_t)(-k) : (size_t)k;
  *n = lens[i];
  return offs[i];
}

static void m_random(fx *f, const char *path) {
  uint8_t junk[4096];
  randombytes_buf(junk, sizeof junk);
  s_write(path, junk, sizeof junk);
}
static void m_empty(fx *f, const char *path) { s_write(path, "", 0); }
static void m_directory(fx *f, const char *path) { assert_int_equal(mkdir(path, 0700), 0); }
static void m_missing(fx *f, const char *path) {}
static void m_magic_only(fx *f, const char *path) { s_write(path, "LINLIBN1", 8); }
static void m_cut_in_magic(fx *f, const char *path) { s_cut(f, path, 5); }
static void m_cut_in_first_frame_header(fx *f, const char *path) { s_cut(f, path, 8 + 3); }
static void m_cut_in_header(fx *f, const char *path) { s_cut(f, path, 8 + 5 + 10); }
static void m_cut_after_header(fx *f, const char *path) {
  size_t n;
  s_cut(f, path, s_frame_at(f, 'H', 0, &n) + 5 + n);
}
static void m_cut_in_commit_frame_header(fx *f, const char *path) {
  size_t n;
  s_cut(f, path, s_frame_at(f, 'C', 1, &n) + 2);
}
static void m_cut_in_commit(fx *f, const char *path) {
  size_t n;
  s_cut(f, path, s_frame_at(f, 'C', -1, &n) + 5 + n / 2);
}
static void m_cut_before_trailer(fx *f, const char *path) {
  size_t n;
  s_cut(f, path, s_frame_at(f, 'E', 0, &n));
}
static void m_cut_in_trailer(fx *f, const char *path) {
  size_t n;
  s_cut(f, path, s_frame_at(f, 'E', 0, &n) + 5 + n - 1);
}

/* a frame header claiming len bytes in place of the first commit's */
static void s_frame_len(fx *f, const char *path, uint32_t len_claimed) {
  size_t flen, len;
  size_t off = s_frame_at(f, 'C', 0, &flen);
  uint8_t *p = s_read(f->hub_c07, &len);
  p[off] = (uint8_t)(len_claimed >> 24), p[off + 1] = (uint8_t)(len_claimed >> 16);
  p[off + 2] = (uint8_t)(len_claimed >> 8), p[off + 3] = (uint8_t)len_claimed;
  s_write(path, p, len);
  free(p);
}
static void m_frame_over_max(fx *f, const char *path) { s_frame_len(f, path, LI_BUNDLE_FRAME_MAX + 1); }
static void m_frame_length_all_ones(fx *f, const char *path) { s_frame_len(f, path, 0xFFFFFFFFu); }
/* within the cap but past the end of the file */
static void m_frame_past_end(fx *f, const char *path) { s_frame_len(f, path, 1u << 20); }

static void a_commit_first(fx *f, s_bundle *b) { /* swap the header and the first commit */
  s_frame t = b->f[0];
  b->f[0] = b->f[1];
  b->f[1] = t;
}
static void a_version_2(fx *f, s_bundle *b) {
  Linli__Bundle h = LINLI__BUNDLE__INIT;
  h.version = 2;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, f->hub->r->network};
  s_set_header(b, &h);
}
static void a_header_garbage(fx *f, s_bundle *b) {
  free(b->f[0].p);
  b->f[0].p = malloc(4);
  memcpy(b->f[0].p, "\xff\xff\xff\xff", 4);
  b->f[0].n = 4;
}
static uint8_t s_other_net[LI_PK_BYTES] = {9, 9, 9};
static void a_wrong_network(fx *f, s_bundle *b) {
  Linli__Bundle h = LINLI__BUNDLE__INIT;
  h.version = 1;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, s_other_net};
  h.creator = (ProtobufCBinaryData){LI_PK_BYTES, f->hub->id.pk};
  s_set_header(b, &h);
}
static void a_count_plus_one(fx *f, s_bundle *b) { b->count_delta = 1; }
static void a_count_minus_one(fx *f, s_bundle *b) { b->count_delta = -1; }
static void a_digest(fx *f, s_bundle *b) { b->bad_digest = true; }
static void a_unknown_kind(fx *f, s_bundle *b) { b->f[1].kind = 'X'; }
static void a_second_header(fx *f, s_bundle *b) { s_bundle_add(b, 'H', b->f[0].p, b->f[0].n); }
/* street#seq left out: the commits after it in that chain have a gap */
static void s_drop_street(s_bundle *b, uint64_t want) {
  for (size_t i = 1; i < b->n; i++) {
    uint8_t o[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    assert_true(li_commit_pos(b->f[i].p, b->f[i].n, o, scope, &seq));
    if (strcmp(scope, "street") == 0 && seq == want) {
      free(b->f[i].p);
      memmove(&b->f[i], &b->f[i + 1], (b->n - i - 1) * sizeof b->f[0]);
      b->n--;
      return;
    }
  }
  fail_msg("no street#%llu in the export", (unsigned long long)want);
}
/* the roster's commits: #1 the hub's own entry, #2 c07's admission, #3 c08's */
static void a_drop_street2(fx *f, s_bundle *b) { s_drop_street(b, 2); }
static void a_drop_street3(fx *f, s_bundle *b) { s_drop_street(b, 3); }
/* a byte of the last commit's signature (before signer and network, 34 bytes each) */
static void a_flip_in_commit(fx *f, s_bundle *b) { b->f[b->n - 1].p[b->f[b->n - 1].n - 80] ^= 0x04; }

static void m_count_plus_one(fx *f, const char *path) { s_altered(f, path, a_count_plus_one); }
static void m_count_minus_one(fx *f, const char *path) { s_altered(f, path, a_count_minus_one); }
static void m_digest(fx *f, const char *path) { s_altered(f, path, a_digest); }
static void m_commit_first(fx *f, const char *path) { s_altered(f, path, a_commit_first); }
static void m_version_2(fx *f, const char *path) { s_altered(f, path, a_version_2); }
static void m_header_garbage(fx *f, const char *path) { s_altered(f, path, a_header_garbage); }
static void m_wrong_network(fx *f, const char *path) { s_altered(f, path, a_wrong_network); }
static void m_unknown_kind(fx *f, const char *path) { s_altered(f, path, a_unknown_kind); }
static void m_second_header(fx *f, const char *path) { s_altered(f, path, a_second_header); }

static void m_malformed_trailer(fx *f, const char *path) {
  size_t n, len;
  size_t off = s_frame_at(f, 'E', 0, &n);
  uint8_t *p = s_read(f->hub_c07, &len);
  uint8_t *q = malloc(off + 5 + 3);
  memcpy(q, p, off);
  memcpy(q + off, "\0\0\0\x03" "E\xff\xff\xff", 8);
  s_write(path, q, off + 8);
  free(q);
  free(p);
}

static void m_trailing_bytes(fx *f, const char *path) {
  size_t len;
  uint8_t *p = s_read(f->hub_c07, &len);
  p = realloc(p, len + 3);
  memcpy(p + len, "\0\0\0", 3);
  s_write(path, p, len + 3);
  free(p);
}

static const s_case s_cases[] = {
    {"not_a_bundle_random", m_random, LI_ERR_NOT_BUNDLE, "LINLIBN1"},
    {"not_a_bundle_empty", m_empty, LI_ERR_NOT_BUNDLE, "LINLIBN1"},
    {"not_a_bundle_cut_in_magic", m_cut_in_magic, LI_ERR_NOT_BUNDLE, "LINLIBN1"},
    {"not_a_bundle_directory", m_directory, LI_ERR_NOT_BUNDLE, "not a regular file"},
    {"missing_file", m_missing, LI_ERR_IO, "cannot open"},
    {"magic_only", m_magic_only, LI_ERR_TRUNCATED, "truncated"},
    {"cut_in_first_frame_header", m_cut_in_first_frame_header, LI_ERR_TRUNCATED, "truncated"},
    {"cut_in_header", m_cut_in_header, LI_ERR_TRUNCATED, "past the end"},
    {"cut_after_header", m_cut_after_header, LI_ERR_TRUNCATED, "truncated"},
    {"cut_in_commit_frame_header", m_cut_in_commit_frame_header, LI_ERR_TRUNCATED, "truncated"},
    {"cut_in_commit", m_cut_in_commit, LI_ERR_TRUNCATED, "past the end"},
    {"cut_before_trailer", m_cut_before_trailer, LI_ERR_TRUNCATED, "truncated"},
    {"cut_in_trailer", m_cut_in_trailer, LI_ERR_TRUNCATED, "past the end"},
    {"frame_over_max", m_frame_over_max, LI_ERR_TOO_BIG, "LI_BUNDLE_FRAME_MAX"},
    {"frame_length_all_ones", m_frame_length_all_ones, LI_ERR_TOO_BIG, "LI_BUNDLE_FRAME_MAX"},
    {"frame_past_end", m_frame_past_end, LI_ERR_TRUNCATED, "past the end"},
    {"commit_before_header", m_commit_first, LI_ERR_NOT_BUNDLE, "no valid bundle header"},
    {"header_version_2", m_version_2, LI_ERR_NOT_BUNDLE, "no valid bundle header"},
    {"header_garbage", m_header_garbage, LI_ERR_NOT_BUNDLE, "no valid bundle header"},
    {"wrong_network", m_wrong_network, LI_ERR_WRONG_NETWORK, "network"},
    {"trailer_count_plus_one", m_count_plus_one, LI_ERR_TRUNCATED, "trailer announces"},
    {"trailer_count_minus_one", m_count_minus_one, LI_ERR_TRUNCATED, "trailer announces"},
    {"digest_mismatch", m_digest, LI_ERR_TAMPERED, "digest"},
    {"malformed_trailer", m_malformed_trailer, LI_ERR_DECODE, "malformed bundle trailer"},
    {"unknown_frame_kind", m_unknown_kind, LI_ERR_DECODE, "unknown frame kind 0x58"},
    {"second_header", m_second_header, LI_ERR_DECODE, "unknown frame kind 0x48"},
    {"trailing_bytes", m_trailing_bytes, LI_ERR_DECODE, "3 unexpected bytes after the trailer"},
};

static void test_refused_imports(void **state) {
  fx *f = *state;
  for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
    const s_case *c = &s_cases[i];
    char path[300];
    s_path(f, path, c->name);
    c->make(f, path);
    uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
    tu_snapshot(f->c07->r->db, before);
    li_bundle_import_stats st;
    li_errbuf eb;
    li_err got = s_import(f->c07, path, f->s.t0 + 10000, &st, &eb);
    printf("import %-28s %s: %s\n", c->name, li_errname(got), eb.msg);
    if (got != c->want) fail_msg("case %s: expected %s, got %s (%s)", c->name, li_errname(c->want), li_errname(got), eb.msg);
    if (!strstr(eb.msg, c->msg_has)) fail_msg("case %s: the message lacks \"%s\": %s", c->name, c->msg_has, eb.msg);
    assert_int_equal(st.merge.applied, 0);
    assert_int_equal(st.merge.rows, 0);
    tu_snapshot(f->c07->r->db, after);
    if (memcmp(before, after, sizeof before) != 0) fail_msg("case %s: the refused import changed the replica", c->name);
    assert_true(sqlite3_get_autocommit(f->c07->r->db)); /* no transaction left open */
  }
  /* the refusals were counted, by reason */
  assert_true(tu_int(f->c07, "SELECT n FROM linli_rejects WHERE reason='truncated'") >= 9);
}

/* The control: the snapshot sees a valid import. */
static void test_snapshot_sees_import(void **state) {
  fx *f = *state;
  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
  tu_snapshot(f->c07->r->db, before);
  li_bundle_import_stats st;
  li_errbuf eb;
  assert_int_equal(s_import(f->c07, f->hub_c07, f->s.t0 + 10000, &st, &eb), LI_OK);
  assert_true(st.merge.applied > 0);
  tu_snapshot(f->c07->r->db, after);
  assert_memory_not_equal(before, after, LI_HASH_BYTES);
}

static void s_table_digest(li_node *n, const char *table, uint8_t out[LI_HASH_BYTES]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  tu_hash_table(n->r->db, &h, table);
  crypto_generichash_final(&h, out, LI_HASH_BYTES);
}

/* More commits than one merge batch (LI_IMPORT_BATCH_COMMITS): a damaged
 * file (its digest) is found at the trailer, after the batches before it
 * were merged, and they are rolled back with it, the origin cache too (the
 * intact file imports fine afterwards, and the replica equals one that
 * imported it directly). The same file with its last commit refused
 * instead is sound: everything else is applied. */
static void test_damage_after_a_batch(void **state) {
  fx *f = *state;
  const int n = LI_IMPORT_BATCH_COMMITS + 6;
  uint64_t t = f->s.t0 + 6000;
  for (int i = 0; i < n; i++) {
    char sql[200];
    snprintf(sql, sizeof sql, "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('x%d','c08','消防','%d号楼','2025-03-01')",
             i, i);
    tu_exec(f->c08, sql);
    tu_seal(f->c08, t + (uint64_t)i);
  }
  char path[300], bad[300], late[300];
  li_bundle_export_stats xs;
  s_export(f, f->c08, "c08", path, &xs);
  assert_int_equal(xs.commits, n + 1); /* and c08's first */
  s_bundle b = s_parse_file(path);
  b.bad_digest = true;
  s_path(f, bad, "damaged");
  s_build_file(&b, bad);
  b.bad_digest = false;
  s_frame *last = &b.f[b.n - 1];
  last->p[last->n - 80] ^= 0x01; /* in the signature (see a_flip_in_commit) */
  s_path(f, late, "late-bad");
  s_build_file(&b, late);
  s_bundle_free(&b);
  /* a fresh committee of c08's scope that knows the roster */
  li_node *r = tu_street_committee(&f->s, "c08b", "c08", false, NULL);
  tu_sync(f->hub, r, t + 100000);
  uint8_t before[LI_HASH_BYTES], after[LI_HASH_BYTES];
  tu_snapshot(r->r->db, before);
  int norigins = r->r->norigins;
  li_bundle_import_stats st;
  li_errbuf eb;
  assert_int_equal(s_import(r, bad, t + 100000, &st, &eb), LI_ERR_TAMPERED);
  assert_int_equal(st.merge.applied, 0);
  assert_int_equal(st.commits, n + 1);
  tu_snapshot(r->r->db, after);
  assert_memory_equal(before, after, LI_HASH_BYTES);
  assert_int_equal(r->r->norigins, norigins);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM hazards"), 1); /* h1, c08#1 from the hub */
  /* the last commit refused in a sound file: the rest of its chain arrives */
  assert_int_equal(s_import(r, late, t + 100000, &st, &eb), LI_ERR_BAD_SIG);
  assert_int_equal(st.merge.applied, n - 1);
  assert_int_equal(st.merge.rejected_at, n);
  assert_int_equal(st.rejects.n, 1);
  assert_int_equal(st.rejects.v[0].seq, n + 1);
  li_bundle_import_stats_clear(&st);
  /* the good file brings the last one, and the result is c08's own table */
  assert_int_equal(s_import(r, path, t + 100000, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 1);
  assert_int_equal(st.merge.duplicates, n); /* c08#1 came with the hub's log */
  uint8_t x[LI_HASH_BYTES], y[LI_HASH_BYTES];
  s_table_digest(r, "hazards", x);
  s_table_digest(f->c08, "hazards", y);
  assert_memory_equal(x, y, LI_HASH_BYTES);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM hazards"), n + 1);
}

/* Issue 9 finding 7: committee c07 wrote a notice_acks row whose key
 * another committee uses too (in the old schema its id was "n1/c08", in
 * its own scope); from then on c08's own acknowledgement and every later
 * c08 commit were refused at the hub, and deleting the row did not help.
 * A row is now (scope, key) and notice_acks is keyed (notice_id, scope):
 * c07's and c08's acknowledgements of n1 are two rows, both reach the hub
 * in bundles whatever their order, and c08's chain goes on. */
static void s_carry(fx *f, li_node *from, li_node *to, uint64_t wall) {
  char path[300];
  li_bundle_export_stats es;
  s_export(f, from, to->cfg.role == LI_ROLE_COMMITTEE ? to->cfg.scope : NULL, path, &es);
  li_bundle_import_stats st;
  li_errbuf eb;
  li_err e = s_import(to, path, wall, &st, &eb);
  if (e) fail_msg("%s -> %s: %s (%s)", from->cfg.name, to->cfg.name, li_errname(e), eb.msg);
  assert_int_equal(st.merge.refused, 0);
}

static void test_keys_of_two_scopes(void **state) {
  fx *f = *state;
  uint64_t t0 = f->s.t0;
  s_carry(f, f->hub, f->c07, t0 + 6000); /* notice n1 */
  s_carry(f, f->hub, f->c08, t0 + 6000);
  tu_exec(f->c07, "INSERT INTO notice_acks(notice_id, scope, acked_on, acked_by) VALUES('n1', 'c07', '2025-03-02', '王')");
  tu_seal(f->c07, t0 + 7000);
  s_carry(f, f->c07, f->hub, t0 + 8000); /* c07's ack first */
  tu_exec(f->c08, "INSERT INTO notice_acks(notice_id, scope, acked_on, acked_by) VALUES('n1', 'c08', '2025-03-03', '李')");
  tu_seal(f->c08, t0 + 9000);
  s_carry(f, f->c08, f->hub, t0 + 10000);
  assert_string_equal(tu_text(f->hub, "SELECT group_concat(scope || ':' || acked_by, ',') FROM (SELECT * FROM notice_acks "
                                      "WHERE notice_id = 'n1' ORDER BY scope)"),
                      "c07:王,c08:李");
  /* c07 deletes its row: c08's is untouched; c08's later commits apply */
  tu_exec(f->c07, "DELETE FROM notice_acks WHERE notice_id = 'n1'");
  tu_seal(f->c07, t0 + 11000);
  s_carry(f, f->c07, f->hub, t0 + 12000);
  tu_exec(f->c08, "UPDATE notice_acks SET acked_by = '李主任' WHERE notice_id = 'n1';"
                  "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v9','c08','R-009','2025-03-04')");
  tu_seal(f->c08, t0 + 13000);
  s_carry(f, f->c08, f->hub, t0 + 14000);
  assert_string_equal(tu_text(f->hub, "SELECT group_concat(scope || ':' || acked_by, ',') FROM notice_acks"), "c08:李主任");
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM care_visits WHERE id = 'v9' AND scope = 'c08'"), 1);
  uint64_t seq = 0;
  uint8_t head[LI_HASH_BYTES];
  li_errbuf eb;
  assert_int_equal(li_chain_head(f->hub->r, f->c08->id.pk, "c08", &seq, head, &eb), LI_OK);
  assert_int_equal(seq, 3); /* h1, the ack, the update with the visit: every c08 commit */
  assert_int_equal(tu_int(f->hub, "SELECT count(*) FROM linli_rejects"), 0);
  /* and back: c08 gets its own row and the street's, never c07's */
  s_carry(f, f->hub, f->c08, t0 + 15000);
  assert_string_equal(tu_text(f->c08, "SELECT group_concat(scope || ':' || acked_by, ',') FROM notice_acks"), "c08:李主任");
}

/* ---- a sound file with refused commits: chain by chain ---- */

/* Names of the stopped chains, "scope#seq:code" joined by spaces, in file
 * order (the origin is checked by the cases that care). */
static void s_stopped(const li_bundle_import_stats *st, char *out, size_t cap) {
  out[0] = 0;
  for (size_t i = 0; i < st->rejects.n; i++) {
    size_t k = strlen(out);
    snprintf(out + k, cap - k, "%s%s#%llu:%s", i ? " " : "", st->rejects.v[i].scope,
             (unsigned long long)st->rejects.v[i].seq, li_errname(st->rejects.v[i].code));
  }
}

typedef struct {
  const char *name;
  void (*alter)(fx *f, s_bundle *b);
  li_err want;            /* the first stopped chain's */
  const char *stopped;    /* s_stopped */
  const char *present;    /* ids that must be there afterwards (SQL list) */
  const char *absent;
} s_chain_case;

static const s_chain_case s_chain_cases[] = {
    /* c08's admission left out: the street chain stops at #3 (the first it
     * lacks); c07's chain and the hub's of scope c07 arrive whole */
    {"street#3 missing", a_drop_street3, LI_ERR_GAP, "street#3:gap", "'v1','m1'", "'n1'"},
    /* c07's admission left out: c07's chain cannot be verified, and the
     * hub's commit of scope c07, which depends on it, waits too; only the
     * street chain's #1 arrives */
    {"street#2 missing", a_drop_street2, LI_ERR_GAP, "street#2:gap c07#1:unknown_signer c07#1:missing_deps", NULL,
     "'n1','v1','m1'"},
    /* the file's last commit altered (its digest made again): only its
     * own chain stops there */
    {"last commit altered", a_flip_in_commit, LI_ERR_BAD_SIG, NULL, "'v1','m1'", "'n1'"},
};

/* A fresh committee of scope c07, admitted nowhere: it holds nothing. One
 * is made, the others are copies of it (free them with tu_node_free). */
static li_node *s_fresh(fx *f, const char *name) {
  char tmpl[300], d[300];
  snprintf(tmpl, sizeof tmpl, "%s/fresh-template", f->s.dir);
  if (access(tmpl, F_OK) != 0) {
    li_node *n = tu_node_new(tmpl, LI_ROLE_COMMITTEE, "fresh", "c07", f->s.hub_key);
    tu_node_free(&n);
  }
  snprintf(d, sizeof d, "%s/%s", f->s.dir, name);
  return tu_node_copy(tmpl, d);
}

static int64_t s_count_ids(li_node *n, const char *ids) {
  char sql[300];
  snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM care_visits WHERE id IN (%s)) + (SELECT count(*) FROM "
                            "meal_points WHERE id IN (%s)) + (SELECT count(*) FROM notices WHERE id IN (%s))", ids, ids, ids);
  return tu_int(n, sql);
}

/* Finding 2 of issue 9: one refused commit no longer blocks a bundle. A
 * sound file is applied chain by chain: every chain up to its first refused
 * commit, the stopped ones named with the first seq not applied, counted,
 * and the first one's error returned. */
static void test_import_chain_by_chain(void **state) {
  fx *f = *state;
  for (size_t i = 0; i < sizeof s_chain_cases / sizeof s_chain_cases[0]; i++) {
    const s_chain_case *c = &s_chain_cases[i];
    char path[300], name[16];
    s_path(f, path, "chains");
    s_altered(f, path, c->alter);
    snprintf(name, sizeof name, "fresh%zu", i);
    li_node *r = s_fresh(f, name);
    li_bundle_import_stats st;
    li_errbuf eb;
    li_err e = s_import(r, path, f->s.t0 + 10000, &st, &eb);
    char got[300];
    s_stopped(&st, got, sizeof got);
    printf("import %-22s %s: %s | %s\n", c->name, li_errname(e), got, eb.msg);
    if (e != c->want) fail_msg("case %s: expected %s, got %s (%s)", c->name, li_errname(c->want), li_errname(e), eb.msg);
    if (c->stopped && strcmp(got, c->stopped) != 0) fail_msg("case %s: stopped %s, expected %s", c->name, got, c->stopped);
    assert_int_equal(st.merge.rejected, (int)st.rejects.n);
    assert_true(st.merge.applied > 0);
    assert_int_equal(st.merge.applied + st.merge.duplicates + st.merge.rejected + st.merge.skipped, (int)st.commits);
    assert_int_equal(st.restarts, 0);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT n FROM linli_rejects WHERE reason='%s'", li_errname(c->want));
    assert_int_equal(tu_int(r, sql), 1);
    if (c->present && s_count_ids(r, c->present) != 1 + (int64_t)(strchr(c->present, ',') != NULL))
      fail_msg("case %s: %s not all there", c->name, c->present);
    if (c->absent) assert_int_equal(s_count_ids(r, c->absent), 0);
    assert_true(sqlite3_get_autocommit(r->r->db));
    li_bundle_import_stats_clear(&st);
    tu_node_free(&r);
  }
}

/* The altered last commit is the only one not applied: the importer
 * equals one that imported the intact file without it. */
static void test_import_last_commit_altered(void **state) {
  fx *f = *state;
  char path[300];
  s_path(f, path, "altered");
  s_altered(f, path, a_flip_in_commit);
  s_bundle b = s_parse_file(path);
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
  assert_true(li_commit_pos(b.f[b.n - 1].p, b.f[b.n - 1].n, origin, scope, &seq));
  s_bundle_free(&b);
  li_node *r = s_fresh(f, "fresh");
  li_bundle_import_stats st;
  li_errbuf eb;
  assert_int_equal(s_import(r, path, f->s.t0 + 10000, &st, &eb), LI_ERR_BAD_SIG);
  assert_int_equal(st.rejects.n, 1);
  assert_memory_equal(st.rejects.v[0].origin, origin, LI_PK_BYTES);
  assert_string_equal(st.rejects.v[0].scope, scope);
  assert_int_equal(st.rejects.v[0].seq, seq);
  assert_int_equal(st.merge.applied, (int)st.commits - 1);
  assert_int_equal(st.merge.rejected_at, (int)st.commits - 1);
  li_bundle_import_stats_clear(&st);
  /* the intact file brings exactly that commit */
  assert_int_equal(s_import(r, f->hub_c07, f->s.t0 + 10000, &st, &eb), LI_OK);
  assert_int_equal(st.merge.applied, 1);
  uint8_t x[LI_HASH_BYTES], y[LI_HASH_BYTES];
  tu_tables_digest_scope(f->hub->r->db, "c07", x);
  tu_tables_digest_scope(r->r->db, "c07", y);
  assert_memory_equal(x, y, LI_HASH_BYTES);
  tu_node_free(&r);
}

/* Finding 2's example: the hub tracks a table the committee lacks. Its row
 * in the hub's commit is refused alone (linli_refused, unknown_table): the
 * commit is applied with its meal point and no chain stops. What still
 * stops a commit after it wrote rows is a replica found inconsistent (a row
 * linli_clock says exists, deleted with capture off: LI_ERR_TAMPERED); then
 * the import starts over without that chain: the chain's commits before it
 * and every other chain are kept, in one transaction. */
static void test_import_table_the_committee_lacks(void **state) {
  fx *f = *state;
  li_errbuf eb = {{0}};
  tu_exec(f->hub, "CREATE TABLE hub_only(id TEXT, scope TEXT NOT NULL, x TEXT, PRIMARY KEY(id, scope))");
  assert_int_equal(li_capture_track(f->hub->r, "hub_only", &eb), LI_OK);
  tu_exec(f->hub, "INSERT INTO meal_points(id, scope, place) VALUES('m2','c07','老年食堂');"
                  "INSERT INTO hub_only(id, scope, x) VALUES('x1','c07','?');"
                  "INSERT INTO notices(id, scope, title) VALUES('n2','street','第二个通知')");
  tu_seal(f->hub, f->s.t0 + 6000);
  char path[300];
  li_bundle_export_stats xs;
  s_export(f, f->hub, "c07", path, &xs);
  li_node *r = s_fresh(f, "fresh");
  li_bundle_import_stats st;
  tu_txns tx;
  tu_count_txns(r, &tx);
  li_err e = s_import(r, path, f->s.t0 + 10000, &st, &eb);
  tu_uncount_txns(r);
  if (e) fail_msg("import: %s (%s)", li_errname(e), eb.msg);
  assert_int_equal(st.restarts, 0);
  assert_int_equal(tx.commits, 1);
  assert_int_equal(st.rejects.n, 0);
  assert_int_equal(st.merge.refused, 1);
  assert_int_equal(st.merge.applied + st.merge.duplicates, (int)st.commits);
  li_bundle_import_stats_clear(&st);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM meal_points WHERE id IN ('m1','m2')"), 2);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM notices WHERE id='n2'"), 1);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM care_visits WHERE id='v1'"), 1);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM linli_refused WHERE tbl='hub_only' AND reason='unknown_table'"), 1);
  assert_int_equal(tu_int(r, "SELECT count(*) FROM linli_rejects"), 0);
  tu_node_free(&r);

  /* a chain stopped after writes: the hub's c07#3 updates m1, which the
   * receiver lost with capture off */
  li_node *r2 = s_fresh(f, "fresh2");
  assert_int_equal(s_import(r2, f->hub_c07, f->s.t0 + 10000, &st, &eb), LI_OK);
  li_bundle_import_stats_clear(&st);
  tu_exec(r2, "INSERT INTO linli_applying VALUES(1); DELETE FROM meal_points WHERE id='m1'; DELETE FROM linli_applying");
  tu_exec(f->hub, "UPDATE meal_points SET place='新食堂' WHERE id='m1';"
                  "INSERT INTO notices(id, scope, title) VALUES('n3','street','第三个通知')");
  tu_seal(f->hub, f->s.t0 + 7000);
  s_export(f, f->hub, "c07", path, &xs);
  tu_count_txns(r2, &tx);
  e = s_import(r2, path, f->s.t0 + 10000, &st, &eb);
  tu_uncount_txns(r2);
  assert_int_equal(e, LI_ERR_TAMPERED);
  assert_non_null(strstr(eb.msg, "meal_points"));
  assert_int_equal(st.restarts, 1);
  assert_int_equal(tx.commits, 1);
  assert_int_equal(st.rejects.n, 1);
  assert_memory_equal(st.rejects.v[0].origin, f->hub->id.pk, LI_PK_BYTES);
  assert_string_equal(st.rejects.v[0].scope, "c07");
  assert_int_equal(st.rejects.v[0].seq, 3);
  assert_true(st.rejects.v[0].after_writes);
  assert_int_equal(st.merge.applied + st.merge.duplicates + st.merge.rejected + st.merge.skipped, (int)st.commits);
  li_bundle_import_stats_clear(&st);
  assert_int_equal(tu_int(r2, "SELECT count(*) FROM meal_points WHERE id='m2'"), 1); /* c07#2 */
  assert_int_equal(tu_int(r2, "SELECT count(*) FROM notices WHERE id='n3'"), 1);
  assert_int_equal(tu_int(r2, "SELECT n FROM linli_rejects WHERE reason='tampered'"), 1);
  tu_node_free(&r2);
}

/* Finding 1 of issue 9: whom `bundle export --for NAME` is for. A
 * committee names the hub by its roster name (once it holds the roster),
 * as "hub", or by its key, also before it holds any roster; a committee by
 * name. Anything else is not found, with what to type. */
static void test_recipient(void **state) {
  fx *f = *state;
  li_node *fresh = s_fresh(f, "fresh");
  static const struct {
    int node; /* 0: the fresh committee (no roster), 1: c07 after taking the hub's roster */
    const char *name;
    li_err want;
    bool hub;
    const char *scope;
  } cases[] = {
      {0, "hub", LI_OK, true, ""},          {0, "KEY", LI_OK, true, ""},     {0, "c08", LI_ERR_NOT_FOUND, false, ""},
      {0, "", LI_ERR_NOT_FOUND, false, ""}, {1, "hub", LI_OK, true, "street"}, {1, "KEY", LI_OK, true, ""},
      {1, "c08", LI_OK, false, "c08"},      {1, "c07", LI_OK, false, "c07"},   {1, "nobody", LI_ERR_NOT_FOUND, false, ""},
  };
  tu_sync(f->hub, f->c07, f->s.t0 + 10000);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    li_node *n = cases[i].node ? f->c07 : fresh;
    const char *name = strcmp(cases[i].name, "KEY") == 0 ? f->s.hub_key : cases[i].name;
    li_bundle_recipient to;
    li_errbuf eb = {{0}};
    li_err e = li_bundle_recipient_of(n->r, name, n->cfg.hub_key, &to, &eb);
    if (e != cases[i].want) fail_msg("case %zu (%s): %s (%s)", i, cases[i].name, li_errname(e), eb.msg);
    if (e) {
      assert_non_null(strstr(eb.msg, "'hub'"));
      continue;
    }
    assert_int_equal(to.hub, cases[i].hub);
    if (!to.hub) assert_string_equal(to.scope, cases[i].scope);
  }
  tu_node_free(&fresh);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_export_for_scope, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_export_all, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_import_round_trip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_refused_imports, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_sees_import, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_damage_after_a_batch, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_import_chain_by_chain, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_import_last_commit_altered, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_import_table_the_committee_lacks, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_recipient, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_keys_of_two_scopes, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}

/* gen_corpus: writes the seed corpora of the fuzz harnesses, real messages
 * made with the library and the harnesses' own fixtures (fuzz_util.c), so
 * that the fuzzer starts from inputs that get deep: envelopes a session
 * accepts, commits that chain onto the fuzzed replica, a bundle exported by
 * a real hub replica, the example configs with keys filled in.
 *
 *   gen_corpus OUTDIR      (make fuzz-corpus: OUTDIR = tests/fuzz/corpus)
 *
 * Deterministic: fixed keys and clocks, so running it again rewrites the
 * same bytes. Run from the repository root (reads config/\*.conf.example). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "fuzz_util.h"
#include "hlc.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "seal.h"
#include "sync.pb-c.h"

static const char *s_out;

static void s_die(const char *what) {
  fprintf(stderr, "gen_corpus: %s\n", what);
  exit(1);
}

static void s_put(const char *harness, const char *name, const uint8_t *p, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", s_out, harness);
  mkdir(s_out, 0755);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/%s", s_out, harness, name);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) s_die(path);
}

static uint8_t *s_slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) s_die(path);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)sz + 1);
  if (!p || fread(p, 1, (size_t)sz, f) != (size_t)sz) s_die(path);
  fclose(f);
  p[sz] = 0;
  *n = (size_t)sz;
  return p;
}

/* ---- commits: fuzz_commit_signed, fuzz_merge (Commit bytes), fuzz_commit
 * and fuzz_commit_pos (signed) ---- */

static void s_commit_seed(const char *name, const uint8_t *c, size_t len) {
  s_put("commit_signed", name, c, len);
  s_put("merge", name, c, len);
  size_t slen;
  uint8_t *sc = fz_sign(c, len, &slen);
  s_put("commit", name, sc, slen);
  s_put("commit_pos", name, sc, slen);
  free(sc);
}

/* p[0..n) followed by extra[0..m) (caller frees). */
static uint8_t *s_cat(const uint8_t *p, size_t n, const uint8_t *extra, size_t m) {
  uint8_t *out = malloc(n + m);
  if (!out) s_die("out of memory");
  memcpy(out, p, n);
  memcpy(out + n, extra, m);
  return out;
}

/* fuzz_commit_pos: what the reader must get right besides plain commits:
 * fields repeated (the last wins), unknown fields of every wire type in
 * both messages, and a SignedCommit that names its commit twice. */
static void s_commit_pos_seeds(void) {
  size_t len, slen, slen2;
  uint8_t *c = fz_base_commit(0, &len, NULL);
  /* Commit: origin 32 x 0xC3 (field 1), scope "c09" (2), seq 7 (3), again */
  uint8_t again[2 + LI_PK_BYTES + 5 + 2] = {0x0a, LI_PK_BYTES};
  memset(again + 2, 0xC3, LI_PK_BYTES);
  memcpy(again + 2 + LI_PK_BYTES, "\x12\x03" "c09" "\x18\x07", 7);
  uint8_t *rep = s_cat(c, len, again, sizeof again);
  uint8_t *sc = fz_sign(rep, len + sizeof again, &slen);
  s_put("commit_pos", "repeated-fields", sc, slen);
  free(sc);
  free(rep);
  /* unknown fields 9 (varint), 10 (64-bit), 11 (32-bit), 12 (bytes) */
  static const uint8_t unknown[] = {0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4, 0x62, 2, 'h', 'i'};
  uint8_t *unk = s_cat(c, len, unknown, sizeof unknown);
  sc = fz_sign(unk, len + sizeof unknown, &slen);
  uint8_t *sc2 = s_cat(sc, slen, unknown, sizeof unknown); /* in the SignedCommit too */
  s_put("commit_pos", "unknown-fields", sc2, slen + sizeof unknown);
  free(sc2);
  free(sc);
  free(unk);
  /* two SignedCommits one after the other decode as one: the second's commit wins */
  uint8_t *c1 = fz_base_commit(1, &len, NULL);
  sc = fz_sign(c1, len, &slen);
  free(c1);
  c1 = fz_base_commit(0, &len, NULL);
  sc2 = fz_sign(c1, len, &slen2);
  uint8_t *two = s_cat(sc, slen, sc2, slen2);
  s_put("commit_pos", "signed-commit-twice", two, slen + slen2);
  free(two);
  free(sc2);
  free(sc);
  free(c1);
  free(c);
}

static void s_commits(void) {
  uint8_t h0[LI_HASH_BYTES], h1[LI_HASH_BYTES];
  size_t len;
  uint8_t *c;
  for (int i = 0; i < FZ_BASE_N; i++) {
    char name[32];
    snprintf(name, sizeof name, "base%d", i);
    c = fz_base_commit(i, &len, i == 0 ? h0 : h1);
    s_commit_seed(name, c, len);
    free(c);
  }
  const uint64_t now = LI_HLC_MAKE(FZ_WALL_MS - 1000, 0);
  static const char *const uc[] = {"outcome", "visitor", "follow_up"};
  static const char *const uv[] = {"已探访", "李", "#1"};
  static const char *const hc[] = {"category", "location", "stage", "found_on", "deadline"};
  static const char *const hv[] = {"燃气", "新华路12号", "排查", "2025-02-27", "2025-03-10"};
  static const char *const nc[] = {"title", "audience", "valid_from"};
  static const char *const nv[] = {"消防检查", "c07,c09", "2025-03-01"};
  static const char *const mc[] = {"place", "capacity", "status"};
  static const char *const mv[] = {"社区食堂", "#40", "运营"};
  const fz_row rows[] = {
      /* c07#2 updates v1 column by column (the LWW path) */
      {.scope = "c07", .seq = 2, .prev = h0, .hlc = now, .table = "care_visits", .id = "v1", .cl = 1, .ncols = 3, .cols = uc, .vals = uv},
      /* ... deletes it (causal length 2) */
      {.scope = "c07", .seq = 2, .prev = h0, .hlc = now, .table = "care_visits", .id = "v1", .cl = 2},
      /* ... an older write of v1: loses, a conflict is recorded */
      {.scope = "c07", .seq = 2, .prev = h0, .hlc = LI_HLC_MAKE(FZ_WALL_MS - 90000, 0), .table = "care_visits", .id = "v1", .cl = 1, .ncols = 3, .cols = uc, .vals = uv},
      /* a new row in c07 of another table */
      {.scope = "c07", .seq = 2, .prev = h0, .hlc = now, .table = "meal_points", .id = "m1", .cl = 1, .ncols = 3, .cols = mc, .vals = mv},
      /* street#2: another notice */
      {.scope = "street", .seq = 2, .prev = h1, .hlc = now, .table = "notices", .id = "n2", .cl = 1, .ncols = 3, .cols = nc, .vals = nv},
      /* a new chain: c09#1 with a hazard */
      {.scope = "c09", .seq = 1, .hlc = now, .table = "hazards", .id = "h1", .cl = 1, .ncols = 5, .cols = hc, .vals = hv},
  };
  static const char *const names[] = {"c07-2-update", "c07-2-delete", "c07-2-older", "c07-2-meal", "street-2-notice",
                                      "c09-1-hazard"};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    c = fz_commit(&rows[i], &len, NULL);
    s_commit_seed(names[i], c, len);
    free(c);
  }
}

/* ---- envelopes and sessions ---- */

typedef struct {
  uint8_t *p;
  size_t n;
} s_msg;

static s_msg s_env(Linli__Envelope *env) {
  s_msg m;
  m.n = linli__envelope__get_packed_size(env);
  m.p = malloc(m.n ? m.n : 1);
  linli__envelope__pack(env, m.p);
  return m;
}

static void s_head(li_head *h, uint8_t origin, const char *scope, uint64_t seq, bool wrong) {
  memset(h, 0, sizeof *h);
  memset(h->origin, origin, LI_PK_BYTES);
  snprintf(h->scope, sizeof h->scope, "%s", scope);
  h->seq = seq;
  size_t len;
  uint8_t *sc = fz_fake_commit(origin, scope, seq, &len);
  li_hash(sc, len, h->hash); /* the fake store hashes the SignedCommit bytes */
  if (wrong) h->hash[0] ^= 1;
  free(sc);
}

static s_msg s_batch(uint64_t exchange, uint64_t id, uint8_t origin, const char *scope, uint64_t from, uint64_t to) {
  ProtobufCBinaryData cs[8];
  size_t n = 0;
  for (uint64_t q = from; q <= to && n < 8; q++, n++) cs[n].data = fz_fake_commit(origin, scope, q, &cs[n].len);
  Linli__Batch b = LINLI__BATCH__INIT;
  b.exchange = exchange;
  b.id = id;
  b.n_commits = n;
  b.commits = cs;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_BATCH;
  env.batch = &b;
  s_msg m = s_env(&env);
  for (size_t i = 0; i < n; i++) free(cs[i].data);
  return m;
}

static s_msg s_ack(uint64_t exchange, uint64_t id, uint32_t applied, const char *reject) {
  Linli__Ack a = LINLI__ACK__INIT;
  a.exchange = exchange;
  a.id = id;
  a.applied = applied;
  if (reject) {
    a.reject = (char *)reject;
    a.message = (char *)"commit c07#5 arrived but this replica has only up to #3";
  }
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_ACK;
  env.ack = &a;
  return s_env(&env);
}

static s_msg s_small(int kind) {
  Linli__Heartbeat hb = LINLI__HEARTBEAT__INIT;
  Linli__Refuse r = LINLI__REFUSE__INIT;
  Linli__Head h = LINLI__HEAD__INIT;
  Linli__ForkReport f = LINLI__FORK_REPORT__INIT;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  uint8_t o[LI_PK_BYTES], hash[LI_HASH_BYTES];
  memset(o, 0xC3, sizeof o);
  memset(hash, 0x5A, sizeof hash);
  if (kind == 0) {
    hb.exchange = 1;
    env.m_case = LINLI__ENVELOPE__M_HEARTBEAT;
    env.heartbeat = &hb;
  } else if (kind == 1) {
    r.code = (char *)"timeout";
    r.message = (char *)"no ack of our batch within the peer timeout";
    env.m_case = LINLI__ENVELOPE__M_REFUSE;
    env.refuse = &r;
  } else {
    h.origin = (ProtobufCBinaryData){LI_PK_BYTES, o};
    h.scope = (char *)"c07";
    h.seq = 2;
    h.hash = (ProtobufCBinaryData){LI_HASH_BYTES, hash};
    f.theirs = &h;
    f.ours = (ProtobufCBinaryData){LI_HASH_BYTES, hash};
    env.m_case = LINLI__ENVELOPE__M_FORK;
    env.fork = &f;
  }
  return s_env(&env);
}

/* A fuzz_session input: flags, then (time step, length, message) chunks. */
static void s_session(const char *name, uint8_t flags, const s_msg *msgs, const uint8_t *steps, size_t n) {
  size_t cap = 1;
  for (size_t i = 0; i < n; i++) cap += 3 + msgs[i].n;
  uint8_t *buf = malloc(cap), *p = buf;
  *p++ = flags;
  for (size_t i = 0; i < n; i++) {
    *p++ = steps[i];
    *p++ = (uint8_t)(msgs[i].n >> 8);
    *p++ = (uint8_t)msgs[i].n;
    memcpy(p, msgs[i].p, msgs[i].n);
    p += msgs[i].n;
  }
  s_put("session", name, buf, cap);
  free(buf);
}

static void s_sessions(void) {
  li_head hs[3];
  s_head(&hs[0], FZ_PEER_BYTE, "c07", 3, false); /* the peer is 2 ahead of us */
  s_head(&hs[1], FZ_SELF_BYTE, "street", 2, false); /* we send street#3 */
  s_head(&hs[2], 0xC3, "c07", 2, true);          /* a fork */
  s_msg m[10];
  m[0].p = fz_hello(FZ_PEER_BYTE, NULL, 0, 1, &m[0].n);
  m[1].p = fz_hello(FZ_PEER_BYTE, hs, 3, 1, &m[1].n);
  m[2] = s_batch(1, 1, FZ_PEER_BYTE, "c07", 2, 3);
  m[3] = s_batch(1, 2, FZ_PEER_BYTE, "c07", 5, 5);
  m[4] = s_ack(1, 1, 2, NULL);
  m[5] = s_ack(1, 2, 0, "gap");
  m[6] = s_small(0);
  m[7] = s_small(1);
  m[8] = s_small(2);
  static const char *const names[] = {"hello-empty", "hello-heads", "batch", "batch-gap", "ack",
                                      "ack-reject", "heartbeat", "refuse", "fork-report"};
  for (size_t i = 0; i < 9; i++) s_put("envelope", names[i], m[i].p, m[i].n);

  const uint8_t steps[] = {1, 1, 1, 1, 1, 60};
  s_msg r1[] = {m[1], m[2], m[4], s_ack(1, 2, 1, NULL), m[6], m[7]};
  s_session("responder-exchange", 0, r1, steps, 6);
  free(r1[3].p);
  s_msg r2[] = {m[0], m[4], m[5], m[8], m[6]};
  s_session("responder-local-changes", 2, r2, steps, 5);
  const uint8_t slow[] = {30, 60, 60, 60};
  s_msg r3[] = {m[0], m[6], m[0], m[3]};
  s_session("responder-timeouts", 0, r3, slow, 4);

  /* the initiator is the committee A1; its peer the hub B2 */
  li_head ih[2];
  s_head(&ih[0], FZ_SELF_BYTE, "street", 4, false);
  s_head(&ih[1], FZ_PEER_BYTE, "c07", 1, false);
  s_msg i1[4];
  i1[0].p = fz_hello(FZ_SELF_BYTE, ih, 2, 1, &i1[0].n);
  i1[1] = s_batch(1, 1, FZ_SELF_BYTE, "street", 4, 4);
  i1[2] = s_ack(1, 1, 1, NULL);
  i1[3] = m[6];
  s_session("initiator-exchange", 1, i1, steps, 4);
  const uint8_t retry[] = {60, 60, 1};
  s_msg i2[] = {m[7], i1[0], i1[2]};
  s_session("initiator-refused-retry", 1, i2, retry, 3);
  for (size_t i = 0; i < 3; i++) free(i1[i].p);
  for (size_t i = 0; i < 9; i++) free(m[i].p);
}

/* ---- bundles ---- */

static void s_frame(FILE *f, crypto_generichash_state *h, char kind, const uint8_t *p, size_t n) {
  uint8_t hdr[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, (uint8_t)kind};
  if (h) {
    crypto_generichash_update(h, hdr, sizeof hdr);
    crypto_generichash_update(h, p, n);
  }
  fwrite(hdr, 1, sizeof hdr, f);
  fwrite(p, 1, n, f);
}

/* The base commits, framed by hand as node/bundle.c writes them. */
static void s_bundle_by_hand(const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) s_die(path);
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  fwrite("LINLIBN1", 1, 8, f);
  Linli__Bundle b = LINLI__BUNDLE__INIT;
  b.version = 1;
  b.network = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)fz_hub()->pk};
  b.creator = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)fz_hub()->pk};
  b.for_node = (char *)"c07";
  b.created_hlc = LI_HLC_MAKE(FZ_WALL_MS, 0);
  uint8_t buf[512];
  s_frame(f, &h, 'H', buf, linli__bundle__pack(&b, buf));
  for (int i = 0; i < FZ_BASE_N; i++) {
    size_t clen, slen;
    uint8_t *c = fz_base_commit(i, &clen, NULL), *sc = fz_sign(c, clen, &slen);
    s_frame(f, &h, 'C', sc, slen);
    free(sc);
    free(c);
  }
  uint8_t digest[LI_HASH_BYTES];
  crypto_generichash_final(&h, digest, sizeof digest);
  Linli__BundleEnd end = LINLI__BUNDLE_END__INIT;
  end.commits = FZ_BASE_N;
  end.digest = (ProtobufCBinaryData){sizeof digest, digest};
  s_frame(f, NULL, 'E', buf, linli__bundle_end__pack(&end, buf));
  if (fclose(f) != 0) s_die(path);
}

static void s_bundles(void) {
  char dir[256], db[300], path[320];
  snprintf(dir, sizeof dir, "/tmp/linli-gen-corpus-XXXXXX");
  if (!mkdtemp(dir)) s_die("mkdtemp");
  snprintf(db, sizeof db, "%s/hub.db", dir);
  li_replica *r = NULL;
  li_errbuf eb = {{0}};
  if (li_replica_create(db, LI_ROLE_HUB, "street", fz_hub()->pk, fz_hub()->pk, NULL, &r, &eb)) s_die(eb.msg);
  r->id = fz_hub();
  size_t n;
  uint8_t *p;
  snprintf(path, sizeof path, "%s/empty.linli", dir);
  if (li_bundle_export(r, path, "c07", "c07", FZ_WALL_MS, NULL, &eb)) s_die(eb.msg);
  p = s_slurp(path, &n);
  s_put("bundle", "empty", p, n);
  free(p);
  if (li_exec(r,
              "INSERT INTO notices(id, scope, title, body) VALUES('n7', 'street', '垃圾分类宣传', '周六上午');"
              "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v9', 'c07', 'R-009', '2025-02-27');"
              "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h9', 'c07', '消防', '3号楼', '2025-02-26');",
              &eb) ||
      li_seal(r, FZ_WALL_MS - 30000, NULL, &eb) ||
      li_exec(r, "UPDATE hazards SET stage = '交办', assigned_to = '物业' WHERE id = 'h9'; DELETE FROM notices WHERE id = 'n7';",
              &eb) ||
      li_seal(r, FZ_WALL_MS - 20000, NULL, &eb))
    s_die(eb.msg);
  snprintf(path, sizeof path, "%s/export.linli", dir);
  if (li_bundle_export(r, path, "c07", "c07", FZ_WALL_MS, NULL, &eb)) s_die(eb.msg);
  p = s_slurp(path, &n);
  s_put("bundle", "hub-export", p, n);
  free(p);
  li_replica_close(&r);
  snprintf(path, sizeof path, "%s/hand.linli", dir);
  s_bundle_by_hand(path);
  p = s_slurp(path, &n);
  s_put("bundle", "base-by-hand", p, n);
  free(p);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) s_die(cmd);
}

/* ---- configs ---- */

static void s_configs(void) {
  static const char *const ex[] = {"committee", "hub"};
  char key[LI_PK_TEXT_LEN + 1], path[128];
  li_pk_to_text(fz_hub()->pk, key);
  for (size_t i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "config/%s.conf.example", ex[i]);
    size_t n;
    char *text = (char *)s_slurp(path, &n), *out = malloc(n + 256), *o = out;
    const char *mark = "REPLACE_WITH_HUB_PUBLIC_KEY", *p = text, *q;
    while ((q = strstr(p, mark))) {
      memcpy(o, p, (size_t)(q - p));
      o += q - p;
      memcpy(o, key, LI_PK_TEXT_LEN);
      o += LI_PK_TEXT_LEN;
      p = q + strlen(mark);
    }
    strcpy(o, p);
    li_config c;
    li_errbuf eb = {{0}};
    if (li_config_parse(&c, out, path, &eb)) s_die(eb.msg); /* a seed that parses */
    s_put("config", ex[i], (const uint8_t *)out, strlen(out));
    free(out);
    free(text);
  }
  char minimal[256];
  snprintf(minimal, sizeof minimal, "[node]\nname = c09\nrole = committee\nscope = c09\nnetwork = %s\n[log]\nlevel = debug\n", key);
  s_put("config", "minimal", (const uint8_t *)minimal, strlen(minimal));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gen_corpus OUTDIR\n");
    return 2;
  }
  s_out = argv[1];
  fz_init();
  s_commits();
  s_commit_pos_seeds();
  s_sessions();
  s_bundles();
  s_configs();
  printf("gen_corpus: seeds written under %s\n", s_out);
  return 0;
}

/* gen_corpus: writes the seed corpora of the fuzz harnesses, real messages
 * made with the library and the harnesses' own fixtures (fuzz_util.c), so
 * that the fuzzer starts from inputs that get deep: envelopes a session
 * accepts, commits that chain onto the fuzzed replica, a bundle exported by
 * a real hub replica, the example configs with keys filled in, schema
 * migrations that pass the checker and ones it must refuse.
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
#include "migrate.h"
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

/* ---- schema migrations: fuzz_migration_check (SQL text) and
 * fuzz_schema_commit ([mode][schema_version u32 LE][rest]) ---- */

static void s_put_text(const char *harness, const char *name, const char *text) {
  s_put(harness, name, (const uint8_t *)text, strlen(text));
}

/* Migrations the checker accepts against the street schema. */
static const struct {
  const char *name, *sql;
} s_mig_ok[] = {
    {"add-column", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '';\n"},
    {"create-table", "CREATE TABLE inspections (id TEXT, scope TEXT, PRIMARY KEY(id, scope));\n"},
    {"create-index", "CREATE INDEX hazards_scope_deadline ON hazards(scope, deadline);\n"},
    {"four-with-comments",
     "-- 2025 Q2: photos of hazards, and the street's re-inspections\n"
     "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '';\n"
     "/* one row per re-inspection (复核) */\n"
     "CREATE TABLE inspections (\n"
     "  id         TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),\n"
     "  scope      TEXT NOT NULL,\n"
     "  hazard_ref TEXT NOT NULL,\n"
     "  result     TEXT NOT NULL DEFAULT '复核' CHECK (result = '复核' OR result = '督查' OR result = '销号'),\n"
     "  done_on    TEXT,\n"
     "  PRIMARY KEY (id, scope)\n"
     ");\n"
     "CREATE INDEX inspections_hazard ON inspections(scope, hazard_ref);\n"
     "ALTER TABLE inspections ADD COLUMN note TEXT;\n"},
    {"not-null-default", "ALTER TABLE care_visits ADD checked INTEGER NOT NULL DEFAULT 0 CHECK (checked = 0 OR checked = 1)"},
    {"quoted-names", "CREATE TABLE \"巡查 记录\" ([id] TEXT, `scope` TEXT, \"when\" TEXT, PRIMARY KEY(\"id\", scope));\n"
                     "CREATE INDEX \"巡查_when\" ON \"巡查 记录\"(\"when\");"},
};

/* Migrations it must refuse, and text that is hardly SQL. */
#define S_BYTES(name, lit) {name, lit, sizeof lit - 1} /* text with NUL bytes in it */
static const struct {
  const char *name, *sql;
  size_t len; /* 0: strlen */
} s_mig_bad[] = {
    {"drop-table", "DROP TABLE hazards;", 0},
    {"drop-column", "ALTER TABLE hazards DROP COLUMN description;", 0},
    {"rename-table", "ALTER TABLE hazards RENAME TO hazards_old;", 0},
    {"rename-column", "ALTER TABLE hazards RENAME COLUMN stage TO phase;", 0},
    {"attach", "ATTACH DATABASE '/tmp/linli-fuzz-attach.db' AS x;\n"
               "CREATE TABLE x.t (id TEXT, scope TEXT, PRIMARY KEY(id, scope));", 0},
    {"pragma", "PRAGMA writable_schema = ON;\nUPDATE sqlite_master SET sql = 'CREATE TABLE hazards(x)' WHERE name = 'hazards';", 0},
    {"create-as-select-cte",
     "CREATE TABLE boom AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)\n"
     "  SELECT hex(i) AS id, 'c07' AS scope FROM n;", 0},
    {"with-recursive", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n;", 0},
    {"comment-hides-drop", "/* ALTER TABLE hazards ADD COLUMN x TEXT; */ DROP TABLE notices; -- CREATE INDEX i ON hazards(scope)", 0},
    {"comment-in-keywords", "ALTER /* ADD */ TABLE hazards -- ADD\n RENAME /* ADD */ TO h2;", 0},
    {"unterminated-quote", "ALTER TABLE hazards ADD COLUMN q TEXT DEFAULT 'open;\nDROP TABLE hazards;", 0},
    {"unterminated-ident", "CREATE TABLE \"open (id TEXT, scope TEXT, PRIMARY KEY(id, scope));", 0},
    {"unterminated-comment", "ALTER TABLE hazards ADD COLUMN c TEXT /* no end; DROP TABLE hazards;", 0},
    S_BYTES("nul-then-drop", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT ''\0DROP TABLE hazards"),
    S_BYTES("nul-list-ok", "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT ''\0"
                           "CREATE INDEX hazards_deadline ON hazards(scope, deadline)\0"
                           "CREATE TABLE inspections (id TEXT, scope TEXT, PRIMARY KEY(id, scope))"),
    S_BYTES("nul-list-two-in-one", "ALTER TABLE hazards ADD COLUMN a TEXT; ALTER TABLE hazards ADD COLUMN b TEXT\0\0"
                                   " -- only a comment"),
    {"invalid-utf8", "ALTER TABLE hazards ADD COLUMN \xff\xfe TEXT;", 0},
    {"overlong-utf8", "ALTER TABLE hazards ADD COLUMN \xc0\xaf TEXT DEFAULT '\xed\xa0\x80';", 0},
    {"trigger", "CREATE TRIGGER t AFTER INSERT ON hazards BEGIN DELETE FROM hazards; END;", 0},
    {"view", "CREATE VIEW open_hazards AS SELECT * FROM hazards WHERE stage <> '销号';", 0},
    {"unique-index", "CREATE UNIQUE INDEX hazards_loc ON hazards(location);", 0},
    {"partial-index-twice", "CREATE INDEX hazards_loc ON hazards(location) WHERE 1; CREATE INDEX hazards_loc ON hazards(scope);", 0},
    {"temp-table", "CREATE TEMP TABLE t (id TEXT, scope TEXT, PRIMARY KEY(id, scope));", 0},
    {"foreign-key", "CREATE TABLE fk (id TEXT, scope TEXT, h TEXT REFERENCES hazards(id), PRIMARY KEY(id, scope));", 0},
    {"references-column", "ALTER TABLE care_visits ADD COLUMN hazard TEXT REFERENCES hazards(id);", 0},
    {"not-null-no-default", "ALTER TABLE hazards ADD COLUMN owner TEXT NOT NULL;", 0},
    {"no-scope", "CREATE TABLE loose (id TEXT PRIMARY KEY, note TEXT);", 0},
    {"integer-key", "CREATE TABLE ints (id INTEGER, scope TEXT, PRIMARY KEY(id, scope));", 0},
    {"linli-table", "CREATE TABLE linli_shadow (id TEXT, scope TEXT, PRIMARY KEY(id, scope));", 0},
    {"virtual-table", "CREATE VIRTUAL TABLE search USING fts5(body);", 0},
    {"generated-column", "ALTER TABLE hazards ADD COLUMN cat2 TEXT GENERATED ALWAYS AS (category || '/' || stage) VIRTUAL;", 0},
    {"exists-already", "CREATE INDEX IF NOT EXISTS hazards_scope_stage ON hazards(scope, stage);", 0},
    {"untracked-table", "ALTER TABLE sqlite_master ADD COLUMN x TEXT; CREATE INDEX i ON sqlite_schema(name);", 0},
    {"data-change", "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h1', 'c07', '燃气', 'x', '2025-03-01');", 0},
    {"misc", "VACUUM INTO '/tmp/linli-fuzz.db'; ANALYZE; REINDEX; SELECT load_extension('x'); DETACH x; BEGIN; COMMIT;", 0},
    {"explain", "EXPLAIN ALTER TABLE hazards ADD COLUMN e TEXT;", 0},
    {"empty", "  ;;  -- nothing\n /* at all */ ;", 0},
};

static char s_deep[4096];

/* Nesting far over the scratch database's expression depth (64). */
static const char *s_deep_sql(void) {
  char *p = s_deep;
  p += sprintf(p, "ALTER TABLE hazards ADD COLUMN deep INTEGER DEFAULT (");
  for (int i = 0; i < 300; i++) *p++ = '(';
  *p++ = '1';
  for (int i = 0; i < 300; i++) *p++ = ')';
  p += sprintf(p, ");\nCREATE INDEX deep_expr ON hazards(");
  for (int i = 0; i < 100; i++) p += sprintf(p, "abs(");
  p += sprintf(p, "length(scope)");
  for (int i = 0; i < 100; i++) *p++ = ')';
  sprintf(p, ");\n");
  return s_deep;
}

/* Over LI_MIGRATION_STMTS_MAX statements, each fine alone. */
static char s_many[8192];

static const char *s_many_sql(void) {
  char *p = s_many;
  for (int i = 0; i <= LI_MIGRATION_STMTS_MAX; i++) p += sprintf(p, "ALTER TABLE notices ADD c%d TEXT;\n", i);
  return s_many;
}

/* A fuzz_schema_commit input: mode, schema_version, then the rest. */
static void s_schema_put(const char *name, uint8_t mode, uint32_t sv, const uint8_t *rest, size_t n) {
  uint8_t *buf = malloc(5 + n);
  if (!buf) s_die("out of memory");
  buf[0] = mode;
  for (int i = 0; i < 4; i++) buf[1 + i] = (uint8_t)(sv >> (8 * i));
  if (n) memcpy(buf + 5, rest, n);
  s_put("schema_commit", name, buf, 5 + n);
  free(buf);
}

/* Mode 0: migration version, then the statements joined by NUL. */
static void s_schema_list(const char *name, uint8_t mode, uint32_t sv, uint32_t mv, char *const *stmts, size_t n) {
  size_t len = 4;
  for (size_t i = 0; i < n; i++) len += strlen(stmts[i]) + (i > 0);
  uint8_t *rest = malloc(len), *p = rest + 4;
  if (!rest) s_die("out of memory");
  for (int i = 0; i < 4; i++) rest[i] = (uint8_t)(mv >> (8 * i));
  for (size_t i = 0; i < n; i++) {
    if (i > 0) *p++ = 0;
    memcpy(p, stmts[i], strlen(stmts[i]));
    p += strlen(stmts[i]);
  }
  s_schema_put(name, mode, sv, rest, len);
  free(rest);
}

/* A schema commit as li_seal_migration makes it: the hub's street#2, with
 * its deps (tables optional, to be refused). Caller frees. */
static uint8_t *s_schema_commit(uint32_t version, char *const *stmts, size_t n, bool tables, size_t *len) {
  uint8_t prev[LI_HASH_BYTES];
  size_t blen;
  uint8_t *base = fz_base_commit(1, &blen, prev); /* street#1 */
  free(base);
  Linli__Migration mig = LINLI__MIGRATION__INIT;
  mig.version = version;
  mig.statements = (char **)stmts;
  mig.n_statements = n;
  Linli__Dep dep = LINLI__DEP__INIT, *deps[1] = {&dep};
  dep.origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)fz_hub()->pk};
  dep.seq = 1;
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)fz_hub()->pk};
  c.scope = (char *)"street";
  c.seq = 2;
  c.prev = (ProtobufCBinaryData){LI_HASH_BYTES, prev};
  c.hlc = LI_HLC_MAKE(FZ_WALL_MS - 500, 0);
  c.schema_version = version;
  c.n_deps = 1;
  c.deps = deps;
  c.migration = &mig;
  Linli__Commit *row = NULL;
  if (tables) { /* borrow the tables of street#2's notice */
    static const char *const nc[] = {"title"};
    static const char *const nv[] = {"迁移"};
    fz_row r = {.scope = "street", .seq = 2, .prev = prev, .hlc = c.hlc, .table = "notices", .id = "n3", .cl = 1,
                .ncols = 1, .cols = nc, .vals = nv};
    uint8_t *rb = fz_commit(&r, &blen, NULL);
    row = linli__commit__unpack(NULL, blen, rb);
    free(rb);
    if (!row) s_die("unpacking a row commit");
    c.n_tables = row->n_tables;
    c.tables = row->tables;
  }
  *len = linli__commit__get_packed_size(&c);
  uint8_t *out = malloc(*len);
  if (!out) s_die("out of memory");
  linli__commit__pack(&c, out);
  if (row) linli__commit__free_unpacked(row, NULL);
  return out;
}

/* Mode 1: the Migration field's bytes. */
static void s_schema_raw_migration(const char *name, uint32_t sv, uint32_t mv, char *const *stmts, size_t n,
                                   const uint8_t *extra, size_t extra_len) {
  Linli__Migration mig = LINLI__MIGRATION__INIT;
  mig.version = mv;
  mig.statements = (char **)stmts;
  mig.n_statements = n;
  size_t len = linli__migration__get_packed_size(&mig);
  uint8_t *buf = malloc(len + extra_len + 1);
  if (!buf) s_die("out of memory");
  linli__migration__pack(&mig, buf);
  if (extra_len) memcpy(buf + len, extra, extra_len);
  s_schema_put(name, 1, sv, buf, len + extra_len);
  free(buf);
}

static void s_schema_commits(char *const *one, char *const *several, size_t ns) {
  char *empty_mid[] = {one[0], (char *)"", several[2]};
  char *many[LI_MIGRATION_STMTS_MAX + 1];
  for (size_t i = 0; i < LI_MIGRATION_STMTS_MAX + 1; i++) many[i] = one[0];
  s_schema_list("list-one", 0, 2, 2, one, 1);
  s_schema_list("list-several", 0, 2, 2, several, ns);
  s_schema_list("list-seq2-prev", 8, 7, 7, several, ns);
  s_schema_list("list-with-table", 4, 2, 2, one, 1);
  s_schema_list("version-mismatch", 0, 3, 2, one, 1);
  s_schema_list("version-1", 0, 1, 1, one, 1);
  s_schema_list("version-over-max", 0, LI_SCHEMA_VERSION_MAX + 1, LI_SCHEMA_VERSION_MAX + 1, one, 1);
  s_schema_list("version-max", 0, LI_SCHEMA_VERSION_MAX, LI_SCHEMA_VERSION_MAX, one, 1);
  s_schema_list("empty-statement", 0, 2, 2, empty_mid, 3);
  s_schema_list("no-statement", 0, 2, 2, NULL, 0);
  s_schema_list("over-stmts-max", 0, 2, 2, many, LI_MIGRATION_STMTS_MAX + 1);
  s_schema_list("stmts-max", 0, 2, 2, many, LI_MIGRATION_STMTS_MAX);
  s_schema_raw_migration("raw-migration", 2, 2, several, ns, NULL, 0);
  static const uint8_t unknown[] = {0x18, 0x01};                  /* field 3, varint */
  static const uint8_t version_as_bytes[] = {0x0a, 0x01, 0x02};   /* field 1, length-delimited */
  static const uint8_t version_again[] = {0x08, 0x03};            /* version 3 after 2: the last wins */
  static const uint8_t statement_as_varint[] = {0x10, 0x05};      /* field 2, varint */
  static const uint8_t statement_nul[] = {0x12, 0x03, 0x00, 'a', 'b'}; /* "\0ab": empty as C text */
  static const uint8_t statement_long[] = {0x12, 0xff, 0xff, 0x03, 'x'}; /* length past the end */
  s_schema_raw_migration("raw-unknown-field", 2, 2, one, 1, unknown, sizeof unknown);
  s_schema_raw_migration("raw-version-as-bytes", 2, 2, one, 1, version_as_bytes, sizeof version_as_bytes);
  s_schema_raw_migration("raw-version-again", 3, 2, one, 1, version_again, sizeof version_again);
  s_schema_raw_migration("raw-statement-as-varint", 2, 2, one, 1, statement_as_varint, sizeof statement_as_varint);
  s_schema_raw_migration("raw-statement-nul", 2, 2, one, 1, statement_nul, sizeof statement_nul);
  s_schema_raw_migration("raw-statement-truncated", 2, 2, one, 1, statement_long, sizeof statement_long);
  size_t len;
  uint8_t *c = s_schema_commit(2, several, ns, false, &len);
  s_schema_put("commit-sealed", 2, 0, c, len);
  free(c);
  c = s_schema_commit(2, several, ns, true, &len);
  s_schema_put("commit-with-tables", 2, 0, c, len);
  free(c);
}

static void s_migrations(void) {
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK || sqlite3_exec(db, li_street_sql, NULL, NULL, NULL) != SQLITE_OK)
    s_die("loading the street schema");
  li_migration one = {0}, several = {0};
  for (size_t i = 0; i < sizeof s_mig_ok / sizeof s_mig_ok[0]; i++) {
    li_migration m;
    li_errbuf eb = {{0}};
    if (li_migration_check(db, s_mig_ok[i].sql, &m, &eb) != LI_OK) s_die(eb.msg); /* a seed that passes */
    s_put_text("migration_check", s_mig_ok[i].name, s_mig_ok[i].sql);
    if (i == 0) one = m;
    else if (i == 3) several = m;
    else li_migration_free(&m);
  }
  for (size_t i = 0; i < sizeof s_mig_bad / sizeof s_mig_bad[0]; i++)
    s_put("migration_check", s_mig_bad[i].name, (const uint8_t *)s_mig_bad[i].sql,
          s_mig_bad[i].len ? s_mig_bad[i].len : strlen(s_mig_bad[i].sql));
  s_put_text("migration_check", "deep-nesting", s_deep_sql());
  s_put_text("migration_check", "over-stmts-max", s_many_sql());
  s_schema_commits(one.stmt, several.stmt, (size_t)several.n);
  li_migration_free(&one);
  li_migration_free(&several);
  sqlite3_close(db);
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
  s_migrations();
  printf("gen_corpus: seeds written under %s\n", s_out);
  return 0;
}

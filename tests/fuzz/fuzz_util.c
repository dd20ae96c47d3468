/* fuzz_util: shared fixtures of the fuzz harnesses. See fuzz_util.h. */
#include "fuzz_util.h"

#include "merge.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hlc.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "log.h"
#include "sync.pb-c.h"

static li_identity s_hub;
static bool s_ready;

static void s_die(const char *what, li_err e, const li_errbuf *eb) {
  fprintf(stderr, "fuzz fixture: %s: %s (%s)\n", what, li_errname(e), eb ? eb->msg : "");
  abort();
}

void fz_init(void) {
  if (s_ready) return;
  li_errbuf eb = {{0}};
  li_err e = li_crypto_init(&eb);
  if (e) s_die("li_crypto_init", e, &eb);
  li_log_init(LI_LOG_ERROR, false); /* merge warns on every equivocation the fuzzer makes */
  uint8_t seed[crypto_sign_SEEDBYTES];
  memset(seed, 0x01, sizeof seed);
  crypto_sign_seed_keypair(s_hub.pk, s_hub.sk, seed);
  s_ready = true;
}

const li_identity *fz_hub(void) { return &s_hub; }

uint8_t *fz_sign(const uint8_t *commit, size_t len, size_t *out_len) {
  uint8_t sig[LI_SIG_BYTES];
  li_sign_commit(&s_hub, s_hub.pk, commit, len, sig);
  Linli__SignedCommit w = LINLI__SIGNED_COMMIT__INIT;
  w.commit = (ProtobufCBinaryData){len, (uint8_t *)commit};
  w.sig = (ProtobufCBinaryData){sizeof sig, sig};
  w.signer = (ProtobufCBinaryData){LI_PK_BYTES, s_hub.pk};
  w.network = (ProtobufCBinaryData){LI_PK_BYTES, s_hub.pk};
  *out_len = linli__signed_commit__get_packed_size(&w);
  uint8_t *out = malloc(*out_len);
  if (out) linli__signed_commit__pack(&w, out);
  return out;
}

static Linli__Value *s_text(Linli__Value *v, const char *t) {
  linli__value__init(v);
  if (!t) {
    v->v_case = LINLI__VALUE__V_NULL;
    v->null = 1;
  } else if (t[0] == '#') { /* "#5": the INTEGER 5 */
    v->v_case = LINLI__VALUE__V_I;
    v->i = strtoll(t + 1, NULL, 10);
  } else {
    v->v_case = LINLI__VALUE__V_T;
    v->t = (char *)t;
  }
  return v;
}

uint8_t *fz_commit(const fz_row *r, size_t *len, uint8_t hash[LI_HASH_BYTES]) {
  enum { MAXC = 16 };
  const char *names[MAXC + 1];
  Linli__Value vbuf[MAXC + 2], *vals[MAXC + 1], *pk[1];
  uint32_t idx[MAXC + 1];
  size_t nc = 0;
  if (r->cl % 2 == 1) {
    names[nc] = "scope";
    vals[nc] = s_text(&vbuf[nc], r->scope);
    nc++;
    for (int i = 0; i < r->ncols && nc <= MAXC; i++, nc++) {
      names[nc] = r->cols[i];
      vals[nc] = s_text(&vbuf[nc], r->vals[i]);
    }
  }
  for (size_t i = 0; i < nc; i++) idx[i] = (uint32_t)i;
  pk[0] = s_text(&vbuf[MAXC + 1], r->id);
  Linli__RowChange rc = LINLI__ROW_CHANGE__INIT, *rows[1] = {&rc};
  rc.n_pk = 1;
  rc.pk = pk;
  rc.cl = r->cl;
  rc.n_cols = rc.n_values = nc;
  rc.cols = idx;
  rc.values = vals;
  Linli__TableChanges tc = LINLI__TABLE_CHANGES__INIT, *tabs[1] = {&tc};
  tc.table = (char *)r->table;
  tc.n_columns = nc;
  tc.columns = (char **)names;
  tc.n_rows = 1;
  tc.rows = rows;
  Linli__Dep dep = LINLI__DEP__INIT, *deps[1] = {&dep};
  dep.origin = (ProtobufCBinaryData){LI_PK_BYTES, s_hub.pk};
  dep.seq = r->seq - 1;
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin = (ProtobufCBinaryData){LI_PK_BYTES, s_hub.pk};
  c.scope = (char *)r->scope;
  c.seq = r->seq;
  if (r->prev) c.prev = (ProtobufCBinaryData){LI_HASH_BYTES, (uint8_t *)r->prev};
  c.hlc = r->hlc;
  c.schema_version = LI_SCHEMA_VERSION;
  if (r->seq > 1) { /* seal lists the chains of the scope it knew */
    c.n_deps = 1;
    c.deps = deps;
  }
  c.n_tables = 1;
  c.tables = tabs;
  *len = linli__commit__get_packed_size(&c);
  uint8_t *out = malloc(*len);
  if (!out) return NULL;
  linli__commit__pack(&c, out);
  if (hash) li_hash(out, *len, hash);
  return out;
}

uint8_t *fz_base_commit(int i, size_t *len, uint8_t hash[LI_HASH_BYTES]) {
  static const char *const vc[] = {"resident_ref", "visited_on", "kind", "follow_up", "visitor"};
  static const char *const vv[] = {"R-001", "2025-02-28", "探访", "#0", "王"};
  static const char *const nc[] = {"title", "audience", "body"};
  static const char *const nv[] = {"防汛通知", "all", "检查排水"};
  const uint64_t hlc = LI_HLC_MAKE(FZ_WALL_MS - 60000, 0);
  fz_row rows[FZ_BASE_N] = {
      {.scope = "c07", .seq = 1, .hlc = hlc, .table = "care_visits", .id = "v1", .cl = 1, .ncols = 5, .cols = vc, .vals = vv},
      {.scope = "street", .seq = 1, .hlc = hlc + 1, .table = "notices", .id = "n1", .cl = 1, .ncols = 3, .cols = nc, .vals = nv},
  };
  return fz_commit(&rows[i], len, hash);
}

/* ---- the replica ---- */

static fz_replica *s_cleanup[4];

static void s_rm_all(void) {
  for (size_t i = 0; i < sizeof s_cleanup / sizeof s_cleanup[0]; i++) {
    fz_replica *f = s_cleanup[i];
    if (!f) continue;
    li_replica_close(&f->r);
    char p[400];
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t k = 0; k < 4; k++) {
      snprintf(p, sizeof p, "%s%s", f->db, sfx[k]);
      unlink(p);
    }
    snprintf(p, sizeof p, "%s/input.linli", f->dir);
    unlink(p);
    rmdir(f->dir);
  }
}

static void s_write_file(const char *path, const uint8_t *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  if (!fp || (n && fwrite(p, 1, n, fp) != n) || fclose(fp) != 0) s_die(path, LI_ERR_IO, NULL);
}

static uint8_t *s_read_file(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  if (!fp) s_die(path, LI_ERR_IO, NULL);
  fseek(fp, 0, SEEK_END);
  long sz = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
  if (!p || fread(p, 1, (size_t)sz, fp) != (size_t)sz) s_die(path, LI_ERR_IO, NULL);
  fclose(fp);
  *n = (size_t)sz;
  return p;
}

/* Durability is not under test: synchronous=OFF makes a merge ~10x faster. */
static void s_fast(fz_replica *f) {
  li_errbuf eb = {{0}};
  li_err e = li_exec(f->r, "PRAGMA synchronous=OFF", &eb);
  if (e) s_die("PRAGMA synchronous", e, &eb);
}

void fz_replica_new(fz_replica *f, bool populated) {
  fz_init();
  memset(f, 0, sizeof f[0]);
  const char *t = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/linli-fuzz-XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(f->dir)) s_die("mkdtemp", LI_ERR_IO, NULL);
  snprintf(f->db, sizeof f->db, "%s/replica.db", f->dir);
  for (size_t i = 0; i < sizeof s_cleanup / sizeof s_cleanup[0]; i++)
    if (!s_cleanup[i]) {
      if (i == 0) atexit(s_rm_all);
      s_cleanup[i] = f;
      break;
    }
  uint8_t self[LI_PK_BYTES];
  memset(self, 0xC7, sizeof self);
  li_errbuf eb = {{0}};
  li_err e = li_replica_create(f->db, LI_ROLE_COMMITTEE, "c07", s_hub.pk, self, NULL, &f->r, &eb);
  if (e) s_die("li_replica_create", e, &eb);
  s_fast(f);
  for (int i = 0; populated && i < FZ_BASE_N; i++) {
    size_t clen, slen;
    uint8_t *c = fz_base_commit(i, &clen, NULL);
    uint8_t *sc = fz_sign(c, clen, &slen);
    li_blob b = {sc, slen};
    li_merge_opts o = {.wall_ms = FZ_WALL_MS, .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
    li_merge_stats st;
    if ((e = li_merge_batch(f->r, &b, 1, &o, &st, &eb))) s_die("base commit", e, &eb);
    free(sc);
    free(c);
  }
  li_replica_close(&f->r); /* checkpoints the WAL into replica.db */
  f->pristine = s_read_file(f->db, &f->pristine_len);
  if ((e = li_replica_open(f->db, &f->r, &eb))) s_die("li_replica_open", e, &eb);
  s_fast(f);
}

void fz_replica_reset(fz_replica *f) {
  li_replica_close(&f->r);
  char p[400];
  snprintf(p, sizeof p, "%s-wal", f->db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", f->db);
  unlink(p);
  s_write_file(f->db, f->pristine, f->pristine_len);
  li_errbuf eb = {{0}};
  li_err e = li_replica_open(f->db, &f->r, &eb);
  if (e) s_die("li_replica_open", e, &eb);
  s_fast(f);
}

/* ---- the in-memory store ---- */

#define S_STORE_MAX 256 /* commits: bounds the work of one input */

typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq, hlc;
  uint8_t hash[LI_HASH_BYTES];
  uint8_t *sc;
  size_t len;
} s_fcommit;

struct fz_store {
  s_fcommit v[S_STORE_MAX];
  size_t n;
};

static bool s_parse(const uint8_t *sc, size_t len, s_fcommit *out) {
  Linli__SignedCommit *s = linli__signed_commit__unpack(NULL, len, sc);
  if (!s) return false;
  Linli__Commit *c = linli__commit__unpack(NULL, s->commit.len, s->commit.data);
  bool ok = c && c->origin.len == LI_PK_BYTES && c->scope && li_valid_scope(c->scope) && c->seq > 0 &&
            c->seq <= (uint64_t)INT64_MAX;
  if (ok) {
    memcpy(out->origin, c->origin.data, LI_PK_BYTES);
    snprintf(out->scope, sizeof out->scope, "%s", c->scope);
    out->seq = c->seq;
    out->hlc = c->hlc;
    li_hash(sc, len, out->hash);
  }
  if (c) linli__commit__free_unpacked(c, NULL);
  linli__signed_commit__free_unpacked(s, NULL);
  return ok;
}

static s_fcommit *s_find(fz_store *f, const uint8_t *origin, const char *scope, uint64_t seq) {
  for (size_t i = 0; i < f->n; i++)
    if (f->v[i].seq == seq && memcmp(f->v[i].origin, origin, LI_PK_BYTES) == 0 && strcmp(f->v[i].scope, scope) == 0)
      return &f->v[i];
  return NULL;
}

static uint64_t s_head(const fz_store *f, const uint8_t *origin, const char *scope) {
  uint64_t h = 0;
  for (size_t i = 0; i < f->n; i++)
    if (memcmp(f->v[i].origin, origin, LI_PK_BYTES) == 0 && strcmp(f->v[i].scope, scope) == 0 && f->v[i].seq > h)
      h = f->v[i].seq;
  return h;
}

static bool s_add(fz_store *f, const uint8_t *sc, size_t len) {
  if (f->n == S_STORE_MAX) return false;
  s_fcommit *c = &f->v[f->n];
  if (!s_parse(sc, len, c) || !(c->sc = malloc(len ? len : 1))) return false;
  memcpy(c->sc, sc, len);
  c->len = len;
  f->n++;
  return true;
}

uint8_t *fz_fake_commit(uint8_t origin, const char *scope, uint64_t seq, size_t *len) {
  uint8_t o[LI_PK_BYTES], net[LI_PK_BYTES], sig[LI_SIG_BYTES] = {0};
  memset(o, origin, sizeof o);
  memset(net, FZ_NET_BYTE, sizeof net);
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin = (ProtobufCBinaryData){LI_PK_BYTES, o};
  c.scope = (char *)scope;
  c.seq = seq;
  c.hlc = LI_HLC_MAKE(FZ_WALL_MS - 100000 + seq * 10 + origin % 7, 0);
  uint8_t cb[256];
  size_t clen = linli__commit__pack(&c, cb);
  Linli__SignedCommit w = LINLI__SIGNED_COMMIT__INIT;
  w.commit = (ProtobufCBinaryData){clen, cb};
  w.sig = (ProtobufCBinaryData){sizeof sig, sig};
  w.signer = (ProtobufCBinaryData){LI_PK_BYTES, o};
  w.network = (ProtobufCBinaryData){LI_PK_BYTES, net};
  *len = linli__signed_commit__get_packed_size(&w);
  uint8_t *out = malloc(*len);
  if (out) linli__signed_commit__pack(&w, out);
  return out;
}

fz_store *fz_store_new(void) {
  static const struct { uint8_t origin; const char *scope; uint64_t to; } seed[] = {
      {FZ_SELF_BYTE, "street", 3}, {0xC3, "c07", 2}, {FZ_PEER_BYTE, "c07", 1}};
  fz_store *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++)
    for (uint64_t q = 1; q <= seed[i].to; q++) {
      size_t len;
      uint8_t *sc = fz_fake_commit(seed[i].origin, seed[i].scope, q, &len);
      if (sc) s_add(f, sc, len);
      free(sc);
    }
  return f;
}

void fz_store_free(fz_store **s) {
  if (!s || !*s) return;
  for (size_t i = 0; i < (*s)->n; i++) free((*s)->v[i].sc);
  free(*s);
  *s = NULL;
}

static bool s_in_scopes(const li_scopes *s, const char *scope) {
  if (s->all) return true;
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->list[i], scope) == 0) return true;
  return false;
}

static li_err s_heads(void *ctx, const li_scopes *scopes, li_heads *out, li_errbuf *eb) {
  fz_store *f = ctx;
  for (size_t i = 0; i < f->n; i++) {
    const s_fcommit *c = &f->v[i];
    if (!s_in_scopes(scopes, c->scope)) continue;
    size_t k = 0;
    while (k < out->n && !(memcmp(out->v[k].origin, c->origin, LI_PK_BYTES) == 0 && strcmp(out->v[k].scope, c->scope) == 0))
      k++;
    if (k == out->n) {
      if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        li_head *p = realloc(out->v, cap * sizeof *p);
        if (!p) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
        out->v = p;
        out->cap = cap;
      }
      memset(&out->v[k], 0, sizeof out->v[k]);
      memcpy(out->v[k].origin, c->origin, LI_PK_BYTES);
      memcpy(out->v[k].scope, c->scope, sizeof out->v[k].scope);
      out->n++;
    }
    if (c->seq > out->v[k].seq) {
      out->v[k].seq = c->seq;
      memcpy(out->v[k].hash, c->hash, LI_HASH_BYTES);
    }
  }
  return LI_OK;
}

static li_err s_hash_at(void *ctx, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  const s_fcommit *c = s_find(ctx, origin, scope, seq);
  *found = c != NULL;
  if (c) memcpy(out, c->hash, LI_HASH_BYTES);
  return LI_OK;
}

static int s_cmp(const void *a, const void *b) {
  const s_fcommit *x = *(const s_fcommit *const *)a, *y = *(const s_fcommit *const *)b;
  if (x->hlc != y->hlc) return x->hlc < y->hlc ? -1 : 1;
  int c = memcmp(x->origin, y->origin, LI_PK_BYTES);
  if (c) return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static li_err s_fetch(void *ctx, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                      li_blobs *out, li_errbuf *eb) {
  fz_store *f = ctx;
  const s_fcommit *sel[S_STORE_MAX];
  size_t ns = 0;
  for (size_t i = 0; i < f->n; i++)
    for (size_t r = 0; r < n; r++)
      if (memcmp(f->v[i].origin, ranges[r].origin, LI_PK_BYTES) == 0 && strcmp(f->v[i].scope, ranges[r].scope) == 0 &&
          f->v[i].seq >= ranges[r].from_seq && f->v[i].seq <= ranges[r].to_seq) {
        sel[ns++] = &f->v[i];
        break;
      }
  qsort(sel, ns, sizeof sel[0], s_cmp);
  out->v = calloc(ns + 1, sizeof *out->v);
  if (!out->v) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  out->cap = ns + 1;
  for (size_t i = 0; i < ns && i < max_count; i++) {
    if (i > 0 && out->bytes + sel[i]->len > max_bytes) break;
    uint8_t *copy = malloc(sel[i]->len);
    if (!copy) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    memcpy(copy, sel[i]->sc, sel[i]->len);
    out->v[out->n++] = (li_blob){copy, sel[i]->len};
    out->bytes += sel[i]->len;
  }
  return LI_OK;
}

/* Chain by chain, as store.c does it: a rejected commit stops its own
 * chain for the rest of the batch; one that does not parse stops only itself. */
static li_err s_apply(void *ctx, const li_blob *commits, size_t n, li_apply_result *st, li_errbuf *eb) {
  fz_store *f = ctx;
  memset(st, 0, sizeof *st);
  for (size_t i = 0; i < n; i++) {
    s_fcommit c;
    li_errbuf reb = {{0}};
    li_err e = LI_OK;
    if (!s_parse(commits[i].sc, commits[i].len, &c)) continue;
    if (li_apply_result_skipped(st, c.origin, c.scope, c.seq)) continue;
    uint64_t head = s_head(f, c.origin, c.scope);
    if (c.seq <= head) {
      if (memcmp(s_find(f, c.origin, c.scope, c.seq)->hash, c.hash, LI_HASH_BYTES) == 0) st->duplicates++;
      else e = li_fail(&reb, LI_ERR_FORK, "%s#%llu differs", c.scope, (unsigned long long)c.seq);
    } else if (c.seq != head + 1) {
      e = li_fail(&reb, LI_ERR_GAP, "%s#%llu after #%llu", c.scope, (unsigned long long)c.seq, (unsigned long long)head);
    } else if (!s_add(f, commits[i].sc, commits[i].len)) {
      e = li_fail(&reb, LI_ERR_LIMIT, "fake store full");
    } else {
      st->applied++;
    }
    /* a gap names the first commit lacking, as store.c does */
    if (e && !li_apply_result_reject(st, c.origin, c.scope, e == LI_ERR_GAP ? head + 1 : c.seq, e, reb.msg))
      return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  return LI_OK;
}

const li_store_vt fz_store_vt = {s_heads, s_hash_at, s_fetch, s_apply};

void fz_session_cfg(li_session_cfg *c, bool initiator) {
  memset(c, 0, sizeof *c);
  memset(c->network, FZ_NET_BYTE, LI_PK_BYTES);
  memset(c->self, initiator ? FZ_PEER_BYTE : FZ_SELF_BYTE, LI_PK_BYTES);
  memset(c->peer, initiator ? FZ_SELF_BYTE : FZ_PEER_BYTE, LI_PK_BYTES);
  if (initiator) {
    c->peer_reads.all = true; /* the hub reads everything */
  } else {
    c->peer_reads.n = 2;      /* committee c07: its scope and street */
    snprintf(c->peer_reads.list[0], sizeof c->peer_reads.list[0], "c07");
    snprintf(c->peer_reads.list[1], sizeof c->peer_reads.list[1], "street");
  }
  c->initiator = initiator;
  c->batch_rows_max = 2;
  c->batch_bytes_max = 4096;
  c->window = 2;
  c->heartbeat_ms = 1000;
  c->peer_timeout_ms = 5000;
  c->retry_ms = 2000;
}

uint8_t *fz_hello(uint8_t node, const li_head *heads, size_t n, uint64_t exchange, size_t *len) {
  enum { MAXH = 8 };
  uint8_t net[LI_PK_BYTES], me[LI_PK_BYTES];
  memset(net, FZ_NET_BYTE, sizeof net);
  memset(me, node, sizeof me);
  Linli__Head hs[MAXH], *hp[MAXH];
  for (size_t i = 0; i < n && i < MAXH; i++) {
    linli__head__init(&hs[i]);
    hs[i].origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)heads[i].origin};
    hs[i].scope = (char *)heads[i].scope;
    hs[i].seq = heads[i].seq;
    hs[i].hash = (ProtobufCBinaryData){LI_HASH_BYTES, (uint8_t *)heads[i].hash};
    hp[i] = &hs[i];
  }
  Linli__Hello h = LINLI__HELLO__INIT;
  h.protocol = LI_PROTOCOL_VERSION;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, net};
  h.node = (ProtobufCBinaryData){LI_PK_BYTES, me};
  h.n_heads = n < MAXH ? n : MAXH;
  h.heads = hp;
  h.exchange = exchange;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_HELLO;
  env.hello = &h;
  *len = linli__envelope__get_packed_size(&env);
  uint8_t *out = malloc(*len ? *len : 1);
  if (out) linli__envelope__pack(&env, out);
  return out;
}

void fz_drain(li_session *s) {
  uint8_t *m;
  size_t len;
  while (li_session_next_out(s, &m, &len)) free(m);
  li_event ev;
  while (li_session_next_event(s, &ev)) {
  }
}

/* Tests for session: two sessions (A, a committee that initiates, and B, the
 * hub that answers) wired through in-memory queues with a virtual clock and
 * in-memory stores. The stores hold real SignedCommit/Commit protobufs
 * (unsigned: the fake store checks only chain positions, as the session
 * relies on nothing else), so every byte on the wire is the real format.
 * Faults (drop the n-th message of a kind, duplicate, reorder, cut the link)
 * are injected in the network, as the simulator does. */
#include "testutil.h"

#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "session.h"
#include "sync.pb-c.h"

/* ---- commits ---- */

static const uint8_t NET = 0x77, NET_OTHER = 0x78;
static const uint8_t PK_A = 0xA1, PK_H = 0xB2, PK_C = 0xC3;

static void fill(uint8_t out[32], uint8_t b) { memset(out, b, 32); }

/* SignedCommit bytes of (origin, scope, seq); salt changes the content (forks). */
static uint8_t *mk_commit(uint8_t origin, const char *scope, uint64_t seq, uint32_t salt, size_t *len) {
  uint8_t o[32], net[32], sig[64] = {0};
  fill(o, origin);
  fill(net, NET);
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin = (ProtobufCBinaryData){32, o};
  c.scope = (char *)scope;
  c.seq = seq;
  c.hlc = ((uint64_t)(1000 + seq * 10 + origin % 7) << 16);
  c.schema_version = salt;
  size_t clen = linli__commit__get_packed_size(&c);
  uint8_t *cb = malloc(clen);
  linli__commit__pack(&c, cb);
  Linli__SignedCommit sc = LINLI__SIGNED_COMMIT__INIT;
  sc.commit = (ProtobufCBinaryData){clen, cb};
  sc.sig = (ProtobufCBinaryData){64, sig};
  sc.signer = (ProtobufCBinaryData){32, o};
  sc.network = (ProtobufCBinaryData){32, net};
  *len = linli__signed_commit__get_packed_size(&sc);
  uint8_t *out = malloc(*len);
  linli__signed_commit__pack(&sc, out);
  free(cb);
  return out;
}

static bool parse_commit(const uint8_t *sc, size_t len, uint8_t origin[32], char scope[LI_SCOPE_MAX + 1],
                         uint64_t *seq, uint64_t *hlc) {
  Linli__SignedCommit *s = linli__signed_commit__unpack(NULL, len, sc);
  if (!s) return false;
  Linli__Commit *c = linli__commit__unpack(NULL, s->commit.len, s->commit.data);
  bool ok = c && c->origin.len == 32 && c->scope && strlen(c->scope) <= LI_SCOPE_MAX && c->seq > 0;
  if (ok) {
    memcpy(origin, c->origin.data, 32);
    snprintf(scope, LI_SCOPE_MAX + 1, "%s", c->scope);
    *seq = c->seq;
    *hlc = c->hlc;
  }
  if (c) linli__commit__free_unpacked(c, NULL);
  linli__signed_commit__free_unpacked(s, NULL);
  return ok;
}

/* ---- the fake store ---- */

typedef struct {
  uint8_t origin[32];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq, hlc;
  uint8_t hash[32];
  uint8_t *sc;
  size_t len;
} fcommit;

typedef struct {
  fcommit *v;
  size_t n, cap;
  li_err fail_fetch, fail_apply, fail_heads; /* injected store errors */
} fstore;

static fcommit *fs_find(const fstore *f, const uint8_t *origin, const char *scope, uint64_t seq) {
  for (size_t i = 0; i < f->n; i++)
    if (f->v[i].seq == seq && memcmp(f->v[i].origin, origin, 32) == 0 && strcmp(f->v[i].scope, scope) == 0)
      return &f->v[i];
  return NULL;
}

static uint64_t fs_head(const fstore *f, const uint8_t *origin, const char *scope) {
  uint64_t h = 0;
  for (size_t i = 0; i < f->n; i++)
    if (memcmp(f->v[i].origin, origin, 32) == 0 && strcmp(f->v[i].scope, scope) == 0 && f->v[i].seq > h)
      h = f->v[i].seq;
  return h;
}

static uint64_t fs_head_b(const fstore *f, uint8_t origin, const char *scope) {
  uint8_t o[32];
  fill(o, origin);
  return fs_head(f, o, scope);
}

static void fs_add_bytes(fstore *f, const uint8_t *sc, size_t len) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 64;
    f->v = realloc(f->v, f->cap * sizeof *f->v);
    assert_non_null(f->v);
  }
  fcommit *c = &f->v[f->n];
  assert_true(parse_commit(sc, len, c->origin, c->scope, &c->seq, &c->hlc));
  c->sc = malloc(len);
  memcpy(c->sc, sc, len);
  c->len = len;
  li_hash(sc, len, c->hash);
  f->n++;
}

static void fs_seed(fstore *f, uint8_t origin, const char *scope, uint64_t from, uint64_t to, uint32_t salt) {
  for (uint64_t q = from; q <= to; q++) {
    size_t len;
    uint8_t *sc = mk_commit(origin, scope, q, salt, &len);
    fs_add_bytes(f, sc, len);
    free(sc);
  }
}

static void fs_free(fstore *f) {
  for (size_t i = 0; i < f->n; i++) free(f->v[i].sc);
  free(f->v);
  memset(f, 0, sizeof *f);
}

static bool in_scopes(const li_scopes *s, const char *scope) {
  if (s->all) return true;
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->list[i], scope) == 0) return true;
  return false;
}

static li_err fs_heads(void *ctx, const li_scopes *scopes, li_heads *out, li_errbuf *eb) {
  fstore *f = ctx;
  if (f->fail_heads) return li_fail(eb, f->fail_heads, "injected heads failure");
  for (size_t i = 0; i < f->n; i++) {
    const fcommit *c = &f->v[i];
    if (!in_scopes(scopes, c->scope)) continue;
    size_t k = 0;
    while (k < out->n && !(memcmp(out->v[k].origin, c->origin, 32) == 0 && strcmp(out->v[k].scope, c->scope) == 0))
      k++;
    if (k == out->n) {
      if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 8;
        out->v = realloc(out->v, out->cap * sizeof *out->v);
        assert_non_null(out->v);
      }
      memset(&out->v[k], 0, sizeof out->v[k]);
      memcpy(out->v[k].origin, c->origin, 32);
      snprintf(out->v[k].scope, sizeof out->v[k].scope, "%s", c->scope);
      out->n++;
    }
    if (c->seq > out->v[k].seq) {
      out->v[k].seq = c->seq;
      memcpy(out->v[k].hash, c->hash, 32);
    }
  }
  return LI_OK;
}

static li_err fs_hash_at(void *ctx, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                         uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  (void)eb;
  const fcommit *c = fs_find(ctx, origin, scope, seq);
  *found = c != NULL;
  if (c) memcpy(out, c->hash, 32);
  return LI_OK;
}

static int fc_cmp(const void *a, const void *b) {
  const fcommit *x = *(const fcommit *const *)a, *y = *(const fcommit *const *)b;
  if (x->hlc != y->hlc) return x->hlc < y->hlc ? -1 : 1;
  int c = memcmp(x->origin, y->origin, 32);
  if (c) return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static li_err fs_fetch(void *ctx, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                       li_blobs *out, li_errbuf *eb) {
  fstore *f = ctx;
  if (f->fail_fetch) return li_fail(eb, f->fail_fetch, "injected fetch failure");
  const fcommit **sel = calloc(f->n + 1, sizeof *sel);
  size_t ns = 0;
  for (size_t i = 0; i < f->n; i++)
    for (size_t r = 0; r < n; r++)
      if (memcmp(f->v[i].origin, ranges[r].origin, 32) == 0 && strcmp(f->v[i].scope, ranges[r].scope) == 0 &&
          f->v[i].seq >= ranges[r].from_seq && f->v[i].seq <= ranges[r].to_seq)
        sel[ns++] = &f->v[i];
  qsort(sel, ns, sizeof *sel, fc_cmp);
  out->v = calloc(ns + 1, sizeof *out->v);
  for (size_t i = 0; i < ns && i < max_count; i++) {
    if (i > 0 && out->bytes + sel[i]->len > max_bytes) break;
    uint8_t *copy = malloc(sel[i]->len);
    memcpy(copy, sel[i]->sc, sel[i]->len);
    out->v[out->n++] = (li_blob){copy, sel[i]->len};
    out->bytes += sel[i]->len;
  }
  out->cap = ns + 1;
  free(sel);
  return LI_OK;
}

/* Chain by chain, as store.c does it: a rejected commit stops its own chain
 * for the rest of the batch; a commit that does not parse stops only itself. */
static li_err fs_apply(void *ctx, const li_blob *commits, size_t n, li_apply_result *st, li_errbuf *eb) {
  fstore *f = ctx;
  memset(st, 0, sizeof *st);
  if (f->fail_apply) return li_fail(eb, f->fail_apply, "injected apply failure");
  for (size_t i = 0; i < n; i++) {
    uint8_t origin[32], hash[32];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq, hlc;
    li_errbuf reb = {{0}};
    li_err e = LI_OK;
    if (!parse_commit(commits[i].sc, commits[i].len, origin, scope, &seq, &hlc)) continue;
    if (li_apply_result_skipped(st, origin, scope, seq)) continue;
    uint64_t head = fs_head(f, origin, scope);
    li_hash(commits[i].sc, commits[i].len, hash);
    if (seq <= head) {
      if (memcmp(fs_find(f, origin, scope, seq)->hash, hash, 32) == 0) st->duplicates++;
      else e = li_fail(&reb, LI_ERR_FORK, "%s#%llu differs", scope, (unsigned long long)seq);
    } else if (seq == head + 1) {
      fs_add_bytes(f, commits[i].sc, commits[i].len);
      st->applied++;
    } else {
      e = li_fail(&reb, LI_ERR_GAP, "%s#%llu after %llu", scope, (unsigned long long)seq, (unsigned long long)head);
    }
    /* a gap names the first commit lacking, as store.c does */
    if (e && !li_apply_result_reject(st, origin, scope, e == LI_ERR_GAP ? head + 1 : seq, e, reb.msg))
      return li_fail(eb, LI_ERR_NOMEM, "oom");
  }
  return LI_OK;
}

static const li_store_vt fs_vt = {fs_heads, fs_hash_at, fs_fetch, fs_apply};

/* ---- the network ---- */

enum { AB = 0, BA = 1 };
#define KINDS 7
#define EVMAX 4096

typedef struct {
  uint8_t *d;
  size_t len;
} tmsg;

typedef struct {
  tmsg *v;
  size_t n, cap;
} tq;

typedef struct {
  li_session *s;
  fstore st;
  li_session_cfg cfg;
  li_event ev[EVMAX];
  int nev;
  uint32_t max_in_flight;
  uint64_t max_flight_bytes;
} tnode;

typedef struct {
  uint64_t now;
  tnode a, b;
  tq q[2];
  bool cut;         /* drop everything */
  bool dup;         /* deliver every message twice */
  bool reverse;     /* deliver each round of queued messages in reverse order */
  int drop_kind[2], drop_nth[2]; /* drop the nth message of a kind in a direction */
  int sent[2][KINDS];            /* messages of each kind put on the wire */
  tmsg last_hello[2];            /* the last Hello bytes per direction */
  size_t batch_max_commits, batch_over_bytes; /* observed batch shapes */
  size_t batch_max_bytes[2];                  /* the largest batch of several commits per direction */
  size_t wire_commits[2];                     /* commits carried by batches per direction */
  uint32_t drop_pct, dup_pct;                 /* random faults, from rng */
  bool shuffle;                               /* deliver each round in a random order */
  bool newer_a;                               /* A speaks as a newer version would (s_as_newer) */
  uint64_t rng;
} tnet;

static uint32_t rnd(tnet *n) { /* xorshift64*: the test's own seeded RNG */
  n->rng ^= n->rng >> 12;
  n->rng ^= n->rng << 25;
  n->rng ^= n->rng >> 27;
  return (uint32_t)((n->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void q_push(tq *q, const uint8_t *d, size_t len) {
  if (q->n == q->cap) {
    q->cap = q->cap ? q->cap * 2 : 16;
    q->v = realloc(q->v, q->cap * sizeof *q->v);
    assert_non_null(q->v);
  }
  uint8_t *c = malloc(len ? len : 1);
  memcpy(c, d, len);
  q->v[q->n++] = (tmsg){c, len};
}

static void q_free(tq *q) {
  for (size_t i = 0; i < q->n; i++) free(q->v[i].d);
  free(q->v);
  memset(q, 0, sizeof *q);
}

static li_session_cfg cfg_default(bool initiator) {
  li_session_cfg c;
  memset(&c, 0, sizeof c);
  fill(c.network, NET);
  fill(c.self, initiator ? PK_A : PK_H);
  fill(c.peer, initiator ? PK_H : PK_A);
  if (initiator) {
    c.peer_reads.all = true; /* the hub reads everything */
  } else {
    c.peer_reads.n = 2; /* committee c07 reads its own scope and street */
    snprintf(c.peer_reads.list[0], sizeof c.peer_reads.list[0], "c07");
    snprintf(c.peer_reads.list[1], sizeof c.peer_reads.list[1], "street");
  }
  c.initiator = initiator;
  c.batch_rows_max = LI_BATCH_ROWS_DEFAULT;
  c.batch_bytes_max = LI_BATCH_BYTES_DEFAULT;
  c.window = LI_WINDOW_DEFAULT;
  c.heartbeat_ms = 1000;
  c.peer_timeout_ms = 5000;
  c.retry_ms = 200;
  return c;
}

static tnet *net_new(void) {
  tnet *n = calloc(1, sizeof *n);
  assert_non_null(n);
  n->a.cfg = cfg_default(true);
  n->b.cfg = cfg_default(false);
  n->now = 1000;
  return n;
}

/* Sessions are made after the test has set configs and seeded stores. */
static void net_open(tnet *n) {
  n->a.s = li_session_new(&n->a.cfg, &fs_vt, &n->a.st);
  n->b.s = li_session_new(&n->b.cfg, &fs_vt, &n->b.st);
  assert_non_null(n->a.s);
  assert_non_null(n->b.s);
}

static void net_free(tnet *n) {
  li_session_destroy(&n->a.s);
  li_session_destroy(&n->a.s); /* safe twice */
  li_session_destroy(&n->b.s);
  fs_free(&n->a.st);
  fs_free(&n->b.st);
  q_free(&n->q[0]);
  q_free(&n->q[1]);
  free(n->last_hello[0].d);
  free(n->last_hello[1].d);
  free(n);
}

static int msg_kind(const uint8_t *d, size_t len) {
  Linli__Envelope *e = linli__envelope__unpack(NULL, len, d);
  assert_non_null(e);
  int k = (int)e->m_case;
  linli__envelope__free_unpacked(e, NULL);
  return k;
}

static void inspect_batch(tnet *n, const tnode *from, int dir, const uint8_t *d, size_t len) {
  Linli__Envelope *e = linli__envelope__unpack(NULL, len, d);
  assert_non_null(e);
  if (e->m_case == LINLI__ENVELOPE__M_BATCH) {
    const Linli__Batch *b = e->batch;
    if (b->n_commits > n->batch_max_commits) n->batch_max_commits = b->n_commits;
    n->wire_commits[dir] += b->n_commits;
    assert_true(b->n_commits >= 1 && b->n_commits <= from->cfg.batch_rows_max);
    size_t bytes = 0;
    for (size_t i = 0; i < b->n_commits; i++) bytes += b->commits[i].len;
    if (b->n_commits > 1 && bytes > from->cfg.batch_bytes_max) n->batch_over_bytes++;
    if (b->n_commits > 1 && bytes > n->batch_max_bytes[dir]) n->batch_max_bytes[dir] = bytes;
  }
  linli__envelope__free_unpacked(e, NULL);
}

/* Takes a node's output and events; applies the network's faults. */
static void collect(tnet *n, tnode *from, int dir) {
  uint8_t *m;
  size_t len;
  int seen = 0;
  while (li_session_next_out(from->s, &m, &len)) {
    assert_true(len <= LI_MSG_BYTES_MAX);
    assert_true(++seen <= (int)from->cfg.window + 4);
    int k = msg_kind(m, len);
    n->sent[dir][k]++;
    inspect_batch(n, from, dir, m, len);
    if (k == LINLI__ENVELOPE__M_HELLO) {
      free(n->last_hello[dir].d);
      n->last_hello[dir].d = malloc(len);
      memcpy(n->last_hello[dir].d, m, len);
      n->last_hello[dir].len = len;
    }
    bool drop = n->cut || (n->drop_kind[dir] == k && n->drop_nth[dir] == n->sent[dir][k]) ||
                (n->drop_pct && rnd(n) % 100 < n->drop_pct);
    if (!drop) {
      q_push(&n->q[dir], m, len);
      if (n->dup || (n->dup_pct && rnd(n) % 100 < n->dup_pct)) q_push(&n->q[dir], m, len);
    }
    free(m);
  }
  li_event ev;
  while (li_session_next_event(from->s, &ev))
    if (from->nev < EVMAX) from->ev[from->nev++] = ev;
  li_session_info in;
  li_session_info_get(from->s, &in);
  if (in.in_flight > from->max_in_flight) from->max_in_flight = in.in_flight;
  if (in.in_flight > 1 && in.flight_bytes > from->max_flight_bytes) from->max_flight_bytes = in.flight_bytes;
  assert_true(in.in_flight <= from->cfg.window);
}

static void collect_all(tnet *n) {
  collect(n, &n->a, AB);
  collect(n, &n->b, BA);
}

static size_t s_put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) p[n++] = (uint8_t)(v | 0x80);
  p[n++] = (uint8_t)v;
  return n;
}

/* Rewrites one message of A as a node of the next protocol version would
 * send it to us (docs/protocol.md, "Versions"): its Hello names versions
 * LI_PROTOCOL_VERSION to LI_PROTOCOL_VERSION + 1, and every message carries
 * a field we do not know, inside the message (field 30) and beside it in
 * the envelope (field 31). */
static void s_as_newer(tmsg *m) {
  Linli__Envelope *e = linli__envelope__unpack(NULL, m->len, m->d);
  assert_non_null(e);
  const ProtobufCMessage *inner = NULL;
  switch (e->m_case) {
  case LINLI__ENVELOPE__M_HELLO:
    e->hello->protocol = LI_PROTOCOL_VERSION + 1;
    e->hello->protocol_min = LI_PROTOCOL_VERSION;
    inner = &e->hello->base;
    break;
  case LINLI__ENVELOPE__M_BATCH: inner = &e->batch->base; break;
  case LINLI__ENVELOPE__M_ACK: inner = &e->ack->base; break;
  case LINLI__ENVELOPE__M_HEARTBEAT: inner = &e->heartbeat->base; break;
  case LINLI__ENVELOPE__M_REFUSE: inner = &e->refuse->base; break;
  case LINLI__ENVELOPE__M_FORK: inner = &e->fork->base; break;
  default: fail_msg("A sent an envelope of kind %d", (int)e->m_case);
  }
  size_t ilen = protobuf_c_message_get_packed_size(inner);
  uint8_t *out = malloc(ilen + 32);
  size_t k = s_put_varint(out, ((uint64_t)e->m_case << 3) | 2);
  k += s_put_varint(out + k, ilen + 3);
  k += protobuf_c_message_pack(inner, out + k);
  memcpy(out + k, "\xf0\x01\x07\xf8\x01\x01", 6); /* field 30 = 7 inside, field 31 = 1 beside */
  k += 6;
  linli__envelope__free_unpacked(e, NULL);
  free(m->d);
  m->d = out;
  m->len = k;
}

static void deliver(tnet *n, int dir) {
  tq q = n->q[dir];
  memset(&n->q[dir], 0, sizeof n->q[dir]);
  tnode *to = dir == AB ? &n->b : &n->a;
  if (n->shuffle)
    for (size_t i = q.n; i > 1; i--) {
      size_t j = rnd(n) % i;
      tmsg t = q.v[i - 1];
      q.v[i - 1] = q.v[j];
      q.v[j] = t;
    }
  for (size_t i = 0; i < q.n; i++) {
    size_t j = n->reverse ? q.n - 1 - i : i;
    if (dir == AB && n->newer_a) s_as_newer(&q.v[j]);
    li_errbuf eb;
    li_session_recv(to->s, q.v[j].d, q.v[j].len, n->now, &eb);
    collect_all(n);
  }
  q_free(&q);
}

static uint64_t u64min(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Runs until no message is queued and the next deadline is after `until`. */
static void run_until(tnet *n, uint64_t until) {
  collect_all(n);
  for (int guard = 0;; guard++) {
    assert_true(guard < 200000); /* a session that never settles */
    if (n->q[AB].n || n->q[BA].n) {
      deliver(n, AB);
      deliver(n, BA);
      continue;
    }
    uint64_t d = u64min(li_session_next_deadline(n->a.s), li_session_next_deadline(n->b.s));
    if (d > until) {
      if (until > n->now) n->now = until;
      return;
    }
    if (d > n->now) n->now = d;
    li_session_tick(n->a.s, n->now);
    li_session_tick(n->b.s, n->now);
    /* a deadline tick has passed is resolved: no busy loop for the adapter */
    assert_true(li_session_next_deadline(n->a.s) > n->now);
    assert_true(li_session_next_deadline(n->b.s) > n->now);
    collect_all(n);
  }
}

static void run_for(tnet *n, uint64_t ms) { run_until(n, n->now + ms); }

static void start_a(tnet *n) {
  li_errbuf eb;
  assert_int_equal(li_session_start(n->a.s, n->now, &eb), LI_OK);
}

static int count_ev(const tnode *t, li_event_kind k) {
  int c = 0;
  for (int i = 0; i < t->nev; i++) c += t->ev[i].kind == k;
  return c;
}

static const li_event *last_ev(const tnode *t, li_event_kind k) {
  for (int i = t->nev - 1; i >= 0; i--)
    if (t->ev[i].kind == k) return &t->ev[i];
  return NULL;
}

static li_session_info sinfo(const li_session *s) {
  li_session_info in;
  li_session_info_get(s, &in);
  return in;
}

static li_session_info info(const tnode *t) { return sinfo(t->s); }

/* The standard street: A (committee c07) wrote 50 commits; the hub holds 30
 * street commits and 20 of committee c08, which A may not read. */
static void seed_street(tnet *n) {
  fs_seed(&n->a.st, PK_A, "c07", 1, 50, 0);
  fs_seed(&n->b.st, PK_H, "street", 1, 30, 0);
  fs_seed(&n->b.st, PK_C, "c08", 1, 20, 0);
}

static void assert_street_converged(const tnet *n, uint64_t a_c07, uint64_t h_street) {
  assert_int_equal(fs_head_b(&n->b.st, PK_A, "c07"), a_c07);
  assert_int_equal(fs_head_b(&n->a.st, PK_H, "street"), h_street);
  assert_int_equal(fs_head_b(&n->a.st, PK_C, "c08"), 0); /* never sent to a committee */
  assert_int_equal(fs_head_b(&n->b.st, PK_C, "c08"), 20);
  assert_int_equal(n->a.st.n, a_c07 + h_street);
  assert_int_equal(n->b.st.n, a_c07 + h_street + 20);
}

/* ---- tests ---- */

static void test_converge_both_directions(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  start_a(n);
  run_for(n, 10000);
  assert_street_converged(n, 50, 30);
  const li_event *ea = last_ev(&n->a, LI_EV_SYNCED), *eb = last_ev(&n->b, LI_EV_SYNCED);
  assert_non_null(ea);
  assert_non_null(eb);
  assert_int_equal(ea->sent_commits, 50);
  assert_int_equal(ea->recv_commits, 30);
  assert_int_equal(eb->sent_commits, 30);
  assert_int_equal(eb->recv_commits, 50);
  assert_int_equal(count_ev(&n->a, LI_EV_SYNCED), 1);
  li_session_info ia = info(&n->a), ib = info(&n->b);
  assert_int_equal(ia.state, LI_SESSION_SYNCING);
  assert_int_equal(ib.state, LI_SESSION_SYNCING);
  assert_true(ia.caught_up && ib.caught_up);
  assert_int_equal(ia.behind_them, 0);
  assert_int_equal(ia.behind_us, 0);
  assert_int_equal(ia.commits_sent, 50);
  assert_int_equal(ia.commits_recv, 30);
  assert_int_equal(ib.commits_sent, 30);
  assert_int_equal(ib.commits_recv, 50);
  assert_int_equal(ia.exchanges, 1);
  assert_int_equal(ib.exchanges, 1);
  assert_true(ia.last_recv_ms > 0);
  /* every commit crossed once, none was echoed back */
  assert_int_equal(n->wire_commits[AB], 50);
  assert_int_equal(n->wire_commits[BA], 30);
  /* nothing went wrong along the way: only applies and the one sync */
  for (int i = 0; i < n->a.nev; i++) assert_true(n->a.ev[i].kind == LI_EV_SYNCED || n->a.ev[i].kind == LI_EV_APPLIED);
  for (int i = 0; i < n->b.nev; i++) assert_true(n->b.ev[i].kind == LI_EV_SYNCED || n->b.ev[i].kind == LI_EV_APPLIED);
  /* every commit received was reported applied, in as many events as batches */
  uint32_t got_a = 0, got_b = 0;
  for (int i = 0; i < n->a.nev; i++) got_a += n->a.ev[i].kind == LI_EV_APPLIED ? n->a.ev[i].applied : 0;
  for (int i = 0; i < n->b.nev; i++) got_b += n->b.ev[i].kind == LI_EV_APPLIED ? n->b.ev[i].applied : 0;
  assert_int_equal(got_a, 30);
  assert_int_equal(got_b, 50);
  net_free(n);
}

/* The hub's Hello tells the committee only of scopes it may read, and
 * behind_them counts what the peer's Hello promised. */
static void test_hello_contents_and_behind(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  n->cut = true; /* look at the Hellos only */
  start_a(n);
  collect_all(n);
  assert_int_equal(n->sent[AB][LINLI__ENVELOPE__M_HELLO], 1);
  li_errbuf eb;
  assert_int_equal(li_session_recv(n->b.s, n->last_hello[AB].d, n->last_hello[AB].len, n->now, &eb), LI_OK);
  collect_all(n);
  assert_int_equal(n->sent[BA][LINLI__ENVELOPE__M_HELLO], 1);
  Linli__Envelope *e = linli__envelope__unpack(NULL, n->last_hello[BA].len, n->last_hello[BA].d);
  assert_non_null(e);
  assert_int_equal(e->m_case, LINLI__ENVELOPE__M_HELLO);
  assert_int_equal(e->hello->protocol, LI_PROTOCOL_VERSION);
  assert_int_equal(e->hello->n_heads, 1); /* street only: the hub has no c07 yet, c08 is not for A */
  assert_string_equal(e->hello->heads[0]->scope, "street");
  assert_int_equal(e->hello->heads[0]->seq, 30);
  linli__envelope__free_unpacked(e, NULL);
  li_session_info ib = info(&n->b);
  assert_int_equal(ib.state, LI_SESSION_SYNCING);
  assert_int_equal(ib.behind_them, 50);
  assert_int_equal(ib.behind_us, 30);
  assert_int_equal(ib.in_flight, 1);
  assert_int_equal(li_session_recv(n->a.s, n->last_hello[BA].d, n->last_hello[BA].len, n->now, &eb), LI_OK);
  li_session_info ia = info(&n->a);
  assert_int_equal(ia.behind_them, 30);
  assert_int_equal(ia.behind_us, 50);
  assert_false(ia.caught_up);
  net_free(n);
}

static void test_batches_and_window(void **state) {
  (void)state;
  static const struct {
    uint32_t rows, bytes, window;
  } cases[] = {
      {3, LI_BATCH_BYTES_DEFAULT, 2},
      {LI_BATCH_ROWS_DEFAULT, 400, 3},
      {1, 1, 1},
      {7, 1000, LI_WINDOW_MAX},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tnet *n = net_new();
    seed_street(n);
    n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = cases[c].rows;
    n->a.cfg.batch_bytes_max = n->b.cfg.batch_bytes_max = cases[c].bytes;
    n->a.cfg.window = n->b.cfg.window = cases[c].window;
    net_open(n);
    start_a(n);
    run_for(n, 20000);
    assert_street_converged(n, 50, 30);
    assert_true(n->a.max_in_flight <= cases[c].window);
    assert_true(n->b.max_in_flight <= cases[c].window);
    /* the window is used, not just respected */
    uint32_t expect = cases[c].window < 8 ? cases[c].window : 8;
    assert_true(n->a.max_in_flight >= expect);
    assert_true(n->batch_max_commits <= cases[c].rows);
    assert_int_equal(n->batch_over_bytes, 0);
    assert_int_equal(count_ev(&n->a, LI_EV_SYNCED), 1);
    assert_int_equal(count_ev(&n->a, LI_EV_REJECTED), 0);
    net_free(n);
  }
}

/* The byte window (session.c): the responder (a hub) names how many batch
 * bytes it takes unacknowledged; the initiator keeps what it has in flight
 * within it and cuts its batches to half of it, and the street still
 * converges, even when one commit is larger than the window. Control: no
 * byte window (0, as an older peer says), batches as large as
 * batch_bytes_max. */
static void test_byte_window(void **state) {
  (void)state;
  static const struct {
    uint32_t window_bytes;
  } cases[] = {{0}, {4000}, {1500}, {1}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tnet *n = net_new();
    seed_street(n);
    n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = 20;
    n->a.cfg.batch_bytes_max = n->b.cfg.batch_bytes_max = 8000;
    n->a.cfg.window = n->b.cfg.window = 8;
    net_open(n);
    li_session_set_recv_window(n->b.s, cases[c].window_bytes, cases[c].window_bytes);
    start_a(n);
    run_for(n, 60000);
    assert_street_converged(n, 50, 30);
    uint32_t w = cases[c].window_bytes;
    if (w == 0) { /* control: the batch bounds alone */
      assert_true(n->batch_max_bytes[0] > 3000); /* 20 commits of ~180 bytes */
      assert_true(n->a.max_in_flight >= 3);
    } else {
      assert_true(n->batch_max_bytes[0] <= w / 2); /* a batch of several commits */
      assert_true(n->a.max_flight_bytes <= w);     /* several batches in flight */
    }
    /* the other direction: A named no byte window */
    assert_true(n->batch_max_bytes[1] > 3000);
    assert_int_equal(count_ev(&n->a, LI_EV_REJECTED), 0);
    net_free(n);
  }
}

/* One message lost, of each kind and direction: the session notices (a gap
 * rejection, a missing Ack or Hello, no progress) and a new exchange
 * converges. */
static void test_lost_message(void **state) {
  (void)state;
  static const struct {
    int dir, kind, nth;
  } cases[] = {
      {AB, LINLI__ENVELOPE__M_HELLO, 1}, {BA, LINLI__ENVELOPE__M_HELLO, 1}, {AB, LINLI__ENVELOPE__M_BATCH, 1},
      {AB, LINLI__ENVELOPE__M_BATCH, 2}, {AB, LINLI__ENVELOPE__M_BATCH, 13}, {BA, LINLI__ENVELOPE__M_BATCH, 1},
      {BA, LINLI__ENVELOPE__M_BATCH, 8}, {BA, LINLI__ENVELOPE__M_ACK, 1}, {BA, LINLI__ENVELOPE__M_ACK, 13},
      {AB, LINLI__ENVELOPE__M_ACK, 1}, {AB, LINLI__ENVELOPE__M_ACK, 8},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tnet *n = net_new();
    seed_street(n);
    n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = 4; /* 13 batches A->B, 8 B->A */
    n->a.cfg.window = n->b.cfg.window = 2;
    net_open(n);
    n->drop_kind[cases[c].dir] = cases[c].kind;
    n->drop_nth[cases[c].dir] = cases[c].nth;
    start_a(n);
    run_for(n, 60000);
    assert_int_equal(n->sent[cases[c].dir][cases[c].kind] >= cases[c].nth, 1);
    assert_street_converged(n, 50, 30);
    assert_true(info(&n->a).exchanges >= 2); /* recovered by a new exchange */
    assert_true(info(&n->a).caught_up);
    assert_true(info(&n->b).caught_up);
    assert_true(count_ev(&n->a, LI_EV_SYNCED) >= 1);
    net_free(n);
  }
}

static void test_duplicated_and_reordered(void **state) {
  (void)state;
  for (int mode = 0; mode < 3; mode++) {
    tnet *n = net_new();
    seed_street(n);
    n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = 4;
    n->a.cfg.window = n->b.cfg.window = 3;
    net_open(n);
    n->dup = mode != 1;
    n->reverse = mode != 0;
    start_a(n);
    run_for(n, 120000);
    assert_street_converged(n, 50, 30);
    assert_true(info(&n->a).caught_up);
    assert_true(info(&n->b).caught_up);
    if (n->reverse) assert_true(info(&n->b).rejected[LI_ERR_GAP] + info(&n->a).rejected[LI_ERR_GAP] > 0);
    net_free(n);
  }
}

/* Everything duplicated, without reordering: duplicates are ignored and no
 * second exchange is needed. */
static void test_duplicates_are_harmless(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = 4;
  net_open(n);
  n->dup = true;
  start_a(n);
  run_for(n, 10000);
  assert_street_converged(n, 50, 30);
  assert_int_equal(info(&n->a).exchanges, 1);
  assert_int_equal(info(&n->b).exchanges, 1);
  assert_int_equal(count_ev(&n->a, LI_EV_PROTOCOL) + count_ev(&n->b, LI_EV_PROTOCOL), 0);
  assert_int_equal(count_ev(&n->a, LI_EV_REJECTED) + count_ev(&n->b, LI_EV_REJECTED), 0);
  net_free(n);
}

static void test_fork_detected(void **state) {
  (void)state;
  /* b_to: how far the hub holds A's c07 chain; it differs from seq 5 on */
  static const uint64_t b_to[] = {10, 7, 12};
  for (size_t c = 0; c < sizeof b_to / sizeof b_to[0]; c++) {
    tnet *n = net_new();
    fs_seed(&n->a.st, PK_A, "c07", 1, 10, 0);
    fs_seed(&n->b.st, PK_A, "c07", 1, 4, 0);
    fs_seed(&n->b.st, PK_A, "c07", 5, b_to[c], 1);
    fs_seed(&n->b.st, PK_H, "street", 1, 5, 0);
    net_open(n);
    start_a(n);
    run_for(n, 10000);
    /* both sides hear of it, by their own comparison or the other's report */
    assert_true(count_ev(&n->a, LI_EV_FORK) >= 1);
    assert_true(count_ev(&n->b, LI_EV_FORK) >= 1);
    assert_true(n->sent[AB][LINLI__ENVELOPE__M_FORK] + n->sent[BA][LINLI__ENVELOPE__M_FORK] >= 1);
    assert_int_equal(last_ev(&n->a, LI_EV_FORK)->code, LI_ERR_FORK);
    /* the forked chain is not sent either way, the rest syncs */
    assert_int_equal(fs_head_b(&n->a.st, PK_A, "c07"), 10);
    assert_int_equal(fs_head_b(&n->b.st, PK_A, "c07"), b_to[c]);
    assert_int_equal(fs_head_b(&n->a.st, PK_H, "street"), 5);
    assert_int_equal(n->sent[AB][LINLI__ENVELOPE__M_BATCH], 0);
    assert_int_equal(count_ev(&n->a, LI_EV_REJECTED) + count_ev(&n->b, LI_EV_REJECTED), 0);
    net_free(n);
  }
}

/* ---- hostile input ---- */

static uint8_t *pack_env(const Linli__Envelope *e, size_t *len) {
  *len = linli__envelope__get_packed_size(e);
  uint8_t *b = malloc(*len + 16);
  linli__envelope__pack(e, b);
  return b;
}

typedef struct {
  uint32_t protocol;
  uint8_t net, node;
  size_t nheads;
  int head_fault; /* 0 none, 1 short origin, 2 bad scope, 3 seq 0, 4 duplicate chain */
  uint64_t exchange;
  uint32_t protocol_min;
} hello_spec;

static uint8_t *mk_hello(const hello_spec *h, size_t *len) {
  uint8_t net[32], node[32], o[32], hash[32] = {0};
  fill(net, h->net);
  fill(node, h->node);
  Linli__Head *hs = calloc(h->nheads + 1, sizeof *hs);
  Linli__Head **hp = calloc(h->nheads + 1, sizeof *hp);
  uint8_t *origins = calloc(h->nheads + 1, 32);
  for (size_t i = 0; i < h->nheads; i++) {
    linli__head__init(&hs[i]);
    memset(o, 0, sizeof o);
    memcpy(origins + 32 * i, &i, sizeof i); /* distinct origins */
    hs[i].origin = (ProtobufCBinaryData){32, origins + 32 * i};
    hs[i].scope = "street";
    hs[i].seq = 1;
    hs[i].hash = (ProtobufCBinaryData){32, hash};
    hp[i] = &hs[i];
  }
  if (h->nheads > 1) {
    if (h->head_fault == 1) hs[1].origin.len = 31;
    if (h->head_fault == 2) hs[1].scope = "Bad Scope!";
    if (h->head_fault == 3) hs[1].seq = 0;
    if (h->head_fault == 4) hs[1].origin = hs[0].origin;
  }
  Linli__Hello m = LINLI__HELLO__INIT;
  m.protocol = h->protocol;
  m.protocol_min = h->protocol_min;
  m.network = (ProtobufCBinaryData){32, net};
  m.node = (ProtobufCBinaryData){32, node};
  m.n_heads = h->nheads;
  m.heads = hp;
  m.exchange = h->exchange;
  Linli__Envelope e = LINLI__ENVELOPE__INIT;
  e.m_case = LINLI__ENVELOPE__M_HELLO;
  e.hello = &m;
  uint8_t *b = pack_env(&e, len);
  free(hs);
  free(hp);
  free(origins);
  return b;
}

static uint8_t *mk_ack(uint64_t exchange, uint64_t id, size_t *len) {
  Linli__Ack a = LINLI__ACK__INIT;
  a.exchange = exchange;
  a.id = id;
  Linli__Envelope e = LINLI__ENVELOPE__INIT;
  e.m_case = LINLI__ENVELOPE__M_ACK;
  e.ack = &a;
  return pack_env(&e, len);
}

static uint8_t *mk_batch(size_t ncommits, size_t *len) {
  Linli__Batch b = LINLI__BATCH__INIT;
  b.exchange = 1;
  b.id = 1;
  b.n_commits = ncommits;
  b.commits = calloc(ncommits + 1, sizeof *b.commits);
  Linli__Envelope e = LINLI__ENVELOPE__INIT;
  e.m_case = LINLI__ENVELOPE__M_BATCH;
  e.batch = &b;
  uint8_t *out = pack_env(&e, len);
  free(b.commits);
  return out;
}

/* Builds the case-th malformed message for a synced responder; sets the
 * expected error. NULL when there are no more cases. */
static uint8_t *mk_bad(int which, tnet *n, size_t *len, li_err *want) {
  hello_spec h = {LI_PROTOCOL_VERSION, NET, PK_A, 3, 0, 99, 0};
  switch (which) {
  case 0: *want = LI_ERR_DECODE; *len = 3; return (uint8_t *)memcpy(malloc(3), "\xff\xff\xff", 3);
  case 1: *want = LI_ERR_DECODE; *len = 0; return malloc(1); /* decodes to an empty envelope */
  case 2: *want = LI_ERR_TOO_BIG; *len = LI_MSG_BYTES_MAX + 1; return calloc(1, LI_MSG_BYTES_MAX + 1);
  case 3: /* an envelope of a message kind this version does not know (field 15) */
    *want = LI_ERR_DECODE;
    *len = 2;
    return (uint8_t *)memcpy(malloc(2), "\x7a\x00", 2);
  case 4: *want = LI_ERR_PROTOCOL; h.protocol_min = LI_PROTOCOL_VERSION + 1; return mk_hello(&h, len); /* min > max */
  case 5: *want = LI_ERR_VERSION; h.protocol = LI_PROTOCOL_VERSION + 1; return mk_hello(&h, len); /* newer only */
  case 6: *want = LI_ERR_WRONG_NETWORK; h.net = NET_OTHER; return mk_hello(&h, len);
  case 7: *want = LI_ERR_PROTOCOL; h.node = PK_C; return mk_hello(&h, len);
  case 8: *want = LI_ERR_DECODE; h.head_fault = 1; return mk_hello(&h, len);
  case 9: *want = LI_ERR_DECODE; h.head_fault = 2; return mk_hello(&h, len);
  case 10: *want = LI_ERR_DECODE; h.head_fault = 3; return mk_hello(&h, len);
  case 11: *want = LI_ERR_PROTOCOL; h.head_fault = 4; return mk_hello(&h, len);
  case 12: *want = LI_ERR_LIMIT; h.nheads = 100001; return mk_hello(&h, len);
  case 13: *want = LI_ERR_LIMIT; return mk_batch(LI_BATCH_ROWS_MAX + 1, len);
  case 14: *want = LI_ERR_PROTOCOL; return mk_ack(info(&n->b).exchanges, 999, len); /* never sent */
  case 15: { /* a fork report without its head */
    *want = LI_ERR_DECODE;
    Linli__ForkReport f = LINLI__FORK_REPORT__INIT;
    Linli__Envelope e = LINLI__ENVELOPE__INIT;
    e.m_case = LINLI__ENVELOPE__M_FORK;
    e.fork = &f;
    return pack_env(&e, len);
  }
  case 16: *want = LI_ERR_PROTOCOL; h.exchange = 0; return mk_hello(&h, len);
  case 17: /* a newer peer that no longer speaks ours */
    *want = LI_ERR_VERSION;
    h.protocol = LI_PROTOCOL_VERSION + 2;
    h.protocol_min = LI_PROTOCOL_VERSION + 1;
    return mk_hello(&h, len);
  case 18: *want = LI_ERR_PROTOCOL; h.protocol = 0; return mk_hello(&h, len); /* no version at all */
  default: return NULL;
  }
}

/* Malformed input: Refuse + PROTOCOL event + the error returned, never a
 * crash; the initiator, refused, starts again and the two converge. */
static void test_malformed_input(void **state) {
  (void)state;
  for (int which = 0;; which++) {
    tnet *n = net_new();
    seed_street(n);
    net_open(n);
    start_a(n);
    run_for(n, 5000);
    assert_true(info(&n->b).caught_up);
    size_t len;
    li_err want;
    uint8_t *bad = mk_bad(which, n, &len, &want);
    if (!bad) {
      net_free(n);
      break;
    }
    li_errbuf eb = {{0}};
    li_err got = li_session_recv(n->b.s, bad, len, n->now, &eb);
    free(bad);
    if (got != want) fail_msg("case %d: got %s (%s), want %s", which, li_errname(got), eb.msg, li_errname(want));
    assert_true(eb.msg[0] != '\0');
    assert_int_equal(info(&n->b).state, LI_SESSION_IDLE);
    uint8_t *m;
    size_t mlen;
    assert_true(li_session_next_out(n->b.s, &m, &mlen));
    Linli__Envelope *e = linli__envelope__unpack(NULL, mlen, m);
    assert_non_null(e);
    assert_int_equal(e->m_case, LINLI__ENVELOPE__M_REFUSE);
    assert_string_equal(e->refuse->code, li_errname(want));
    q_push(&n->q[BA], m, mlen);
    linli__envelope__free_unpacked(e, NULL);
    free(m);
    collect_all(n);
    const li_event *ev = last_ev(&n->b, LI_EV_PROTOCOL);
    assert_non_null(ev);
    assert_int_equal(ev->code, want);
    /* the session goes on: new commits after the refusal still arrive */
    fs_seed(&n->a.st, PK_A, "c07", 51, 60, 0);
    run_for(n, 5000);
    assert_int_equal(last_ev(&n->a, LI_EV_REFUSED)->code, want);
    li_session_local_changed(n->a.s, n->now);
    run_for(n, 5000);
    assert_int_equal(fs_head_b(&n->b.st, PK_A, "c07"), 60);
    assert_true(info(&n->a).caught_up);
    assert_true(info(&n->a).exchanges >= 2);
    net_free(n);
  }
}

/* A newer peer (docs/protocol.md, "Versions"): its Hello names a range
 * that includes ours and every message carries fields we do not know; the
 * two agree on our version and converge, with no refusal either way. */
static void test_newer_peer(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  n->newer_a = true;
  net_open(n);
  start_a(n);
  run_for(n, 5000);
  assert_int_equal(count_ev(&n->b, LI_EV_PROTOCOL) + count_ev(&n->a, LI_EV_REFUSED), 0);
  assert_true(info(&n->a).caught_up);
  assert_true(info(&n->b).caught_up);
  assert_street_converged(n, 50, 30);
  assert_int_equal(info(&n->b).protocol, LI_PROTOCOL_VERSION);
  assert_int_equal(info(&n->a).protocol, LI_PROTOCOL_VERSION);
  net_free(n);
}

static void test_wrong_network_refused(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  fill(n->b.cfg.network, NET_OTHER);
  net_open(n);
  start_a(n);
  run_for(n, 1000);
  const li_event *ea = last_ev(&n->a, LI_EV_REFUSED), *eb = last_ev(&n->b, LI_EV_PROTOCOL);
  assert_non_null(ea);
  assert_non_null(eb);
  assert_int_equal(ea->code, LI_ERR_WRONG_NETWORK);
  assert_int_equal(eb->code, LI_ERR_WRONG_NETWORK);
  assert_int_equal(count_ev(&n->a, LI_EV_SYNCED), 0);
  assert_int_equal(n->sent[AB][LINLI__ENVELOPE__M_BATCH] + n->sent[BA][LINLI__ENVELOPE__M_BATCH], 0);
  assert_int_equal(n->b.st.n, 50); /* nothing crossed */
  /* the initiator keeps trying, every retry_ms, not faster */
  int tries = n->sent[AB][LINLI__ENVELOPE__M_HELLO];
  assert_true(tries >= 2 && tries <= 1000 / 200 + 1);
  net_free(n);
}

static void test_heartbeats_when_quiet(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  start_a(n);
  run_for(n, 2000);
  assert_true(info(&n->a).caught_up);
  int ha = n->sent[AB][LINLI__ENVELOPE__M_HEARTBEAT], hb = n->sent[BA][LINLI__ENVELOPE__M_HEARTBEAT];
  run_for(n, 10000); /* ten heartbeat periods, well before anti-entropy */
  ha = n->sent[AB][LINLI__ENVELOPE__M_HEARTBEAT] - ha;
  hb = n->sent[BA][LINLI__ENVELOPE__M_HEARTBEAT] - hb;
  assert_true(ha >= 9 && ha <= 11);
  assert_true(hb >= 9 && hb <= 11);
  assert_int_equal(count_ev(&n->a, LI_EV_PEER_LOST) + count_ev(&n->b, LI_EV_PEER_LOST), 0);
  assert_int_equal(info(&n->a).state, LI_SESSION_SYNCING);
  assert_int_equal(info(&n->b).state, LI_SESSION_SYNCING);
  assert_int_equal(info(&n->a).exchanges, 1);
  net_free(n);
}

/* A caught-up initiator re-runs an exchange now and then (anti-entropy). */
static void test_anti_entropy(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  start_a(n);
  run_for(n, 65000);
  assert_true(info(&n->a).exchanges >= 3);
  assert_true(info(&n->a).caught_up);
  assert_int_equal(count_ev(&n->a, LI_EV_PROTOCOL) + count_ev(&n->b, LI_EV_PROTOCOL), 0);
  net_free(n);
}

static void test_peer_timeout(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  start_a(n);
  run_for(n, 2000);
  assert_true(info(&n->a).caught_up);
  n->cut = true;
  /* both sides write while apart */
  fs_seed(&n->a.st, PK_A, "c07", 51, 55, 0);
  li_session_local_changed(n->a.s, n->now);
  run_for(n, 5000 + 1000);
  assert_int_equal(count_ev(&n->a, LI_EV_PEER_LOST), 1);
  assert_int_equal(count_ev(&n->b, LI_EV_PEER_LOST), 1);
  assert_int_equal(last_ev(&n->a, LI_EV_PEER_LOST)->code, LI_ERR_TIMEOUT);
  assert_int_equal(info(&n->b).state, LI_SESSION_IDLE);
  assert_int_equal(info(&n->b).in_flight, 0);
  assert_int_equal(info(&n->a).in_flight, 0);
  fs_seed(&n->b.st, PK_H, "street", 31, 40, 0);
  li_session_local_changed(n->b.s, n->now); /* the responder waits for a Hello */
  collect_all(n);
  assert_int_equal(info(&n->b).state, LI_SESSION_IDLE);
  /* the initiator keeps retrying on its own */
  run_for(n, 20000);
  assert_true(info(&n->a).exchanges >= 3);
  n->cut = false;
  run_for(n, 20000);
  assert_street_converged(n, 55, 40);
  assert_true(info(&n->a).caught_up);
  assert_true(info(&n->b).caught_up);
  net_free(n);
}

static void test_local_changed_while_syncing(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  start_a(n);
  run_for(n, 2000);
  assert_true(info(&n->a).caught_up);
  fs_seed(&n->a.st, PK_A, "c07", 51, 60, 0);
  li_session_local_changed(n->a.s, n->now);
  assert_int_equal(info(&n->a).behind_us, 10);
  assert_false(info(&n->a).caught_up);
  fs_seed(&n->b.st, PK_H, "street", 31, 33, 0);
  fs_seed(&n->b.st, PK_C, "c08", 21, 25, 0); /* not for A */
  li_session_local_changed(n->b.s, n->now);
  run_for(n, 100); /* quicker than any retry or timeout */
  assert_int_equal(fs_head_b(&n->b.st, PK_A, "c07"), 60);
  assert_int_equal(fs_head_b(&n->a.st, PK_H, "street"), 33);
  assert_int_equal(fs_head_b(&n->a.st, PK_C, "c08"), 0);
  assert_int_equal(info(&n->a).exchanges, 1);
  assert_int_equal(info(&n->b).exchanges, 1);
  assert_int_equal(info(&n->a).commits_sent, 60);
  assert_true(info(&n->a).caught_up);
  assert_int_equal(n->wire_commits[AB], 60); /* the street commits A received are not sent back */
  assert_int_equal(n->wire_commits[BA], 33);
  /* nothing new: nothing sent */
  int batches = n->sent[AB][LINLI__ENVELOPE__M_BATCH];
  li_session_local_changed(n->a.s, n->now);
  collect_all(n);
  assert_int_equal(n->sent[AB][LINLI__ENVELOPE__M_BATCH], batches);
  net_free(n);
}

static void test_responder_is_passive(void **state) {
  (void)state;
  li_session_cfg c = cfg_default(false);
  fstore st = {0};
  fs_seed(&st, PK_H, "street", 1, 3, 0);
  li_session *s = li_session_new(&c, &fs_vt, &st);
  assert_non_null(s);
  assert_int_equal(li_session_next_deadline(s), UINT64_MAX);
  for (uint64_t t = 0; t < 100000; t += 777) {
    li_session_tick(s, t);
    li_session_local_changed(s, t);
  }
  uint8_t *m;
  size_t len;
  li_event ev;
  assert_false(li_session_next_out(s, &m, &len));
  assert_false(li_session_next_event(s, &ev));
  assert_int_equal(sinfo(s).state, LI_SESSION_IDLE);
  /* a batch outside any exchange is refused */
  uint8_t *b = mk_batch(1, &len);
  li_errbuf eb;
  assert_int_equal(li_session_recv(s, b, len, 5, &eb), LI_ERR_PROTOCOL);
  free(b);
  assert_true(li_session_next_out(s, &m, &len));
  assert_int_equal(msg_kind(m, len), LINLI__ENVELOPE__M_REFUSE);
  free(m);
  assert_true(li_session_next_event(s, &ev));
  assert_int_equal(ev.kind, LI_EV_PROTOCOL);
  li_session_destroy(&s);
  assert_null(s);
  fs_free(&st);
}

static void test_deadlines(void **state) {
  (void)state;
  li_session_cfg c = cfg_default(true);
  fstore st = {0};
  li_session *s = li_session_new(&c, &fs_vt, &st);
  assert_int_equal(li_session_next_deadline(s), UINT64_MAX);
  assert_int_equal(li_session_start(s, 100, NULL), LI_OK);
  assert_int_equal(sinfo(s).state, LI_SESSION_HELLO_SENT);
  assert_int_equal(li_session_next_deadline(s), 100 + c.heartbeat_ms);
  li_session_tick(s, 100 + c.heartbeat_ms);
  assert_int_equal(li_session_next_deadline(s), 100 + 2 * c.heartbeat_ms);
  /* no answer to the Hello: the peer is lost, and a retry is due */
  li_session_tick(s, 100 + c.peer_timeout_ms);
  assert_int_equal(sinfo(s).state, LI_SESSION_IDLE);
  assert_int_equal(li_session_next_deadline(s), 100 + c.peer_timeout_ms + c.retry_ms);
  li_event ev;
  assert_true(li_session_next_event(s, &ev));
  assert_int_equal(ev.kind, LI_EV_PEER_LOST);
  li_session_tick(s, 100 + c.peer_timeout_ms + c.retry_ms);
  assert_int_equal(sinfo(s).state, LI_SESSION_HELLO_SENT);
  assert_int_equal(sinfo(s).exchanges, 2);
  uint8_t *m;
  size_t len;
  int hellos = 0;
  while (li_session_next_out(s, &m, &len)) {
    hellos += msg_kind(m, len) == LINLI__ENVELOPE__M_HELLO;
    free(m);
  }
  assert_int_equal(hellos, 2);
  li_session_destroy(&s);
  fs_free(&st);
}

/* Acks of an earlier exchange and repeated Hellos are ignored silently. */
static void test_stale_and_duplicate_messages(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  net_open(n);
  start_a(n);
  run_for(n, 2000);
  int nev = n->a.nev;
  size_t len;
  li_errbuf eb;
  uint8_t *ack = mk_ack(info(&n->a).exchanges + 5, 1, &len);
  assert_int_equal(li_session_recv(n->a.s, ack, len, n->now, &eb), LI_OK);
  free(ack);
  ack = mk_ack(info(&n->a).exchanges, 1, &len); /* already acknowledged */
  assert_int_equal(li_session_recv(n->a.s, ack, len, n->now, &eb), LI_OK);
  free(ack);
  assert_int_equal(li_session_recv(n->a.s, n->last_hello[BA].d, n->last_hello[BA].len, n->now, &eb), LI_OK);
  assert_int_equal(li_session_recv(n->b.s, n->last_hello[AB].d, n->last_hello[AB].len, n->now, &eb), LI_OK);
  uint8_t *m;
  assert_false(li_session_next_out(n->a.s, &m, &len));
  assert_false(li_session_next_out(n->b.s, &m, &len));
  collect_all(n);
  assert_int_equal(n->a.nev, nev);
  assert_true(info(&n->a).caught_up);
  assert_int_equal(info(&n->b).exchanges, 1);
  net_free(n);
}

/* The hub restarts (a fresh session over the same store) mid-exchange. */
static void test_peer_restarts(void **state) {
  (void)state;
  tnet *n = net_new();
  seed_street(n);
  n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = 4;
  net_open(n);
  start_a(n);
  run_for(n, 2000);
  li_session_destroy(&n->b.s);
  n->b.s = li_session_new(&n->b.cfg, &fs_vt, &n->b.st);
  fs_seed(&n->a.st, PK_A, "c07", 51, 70, 0);
  li_session_local_changed(n->a.s, n->now);
  run_for(n, 20000);
  assert_street_converged(n, 70, 30);
  assert_true(count_ev(&n->a, LI_EV_REFUSED) >= 1); /* the new hub refused the old exchange's batch */
  assert_true(info(&n->a).caught_up);
  net_free(n);
}

static void test_store_errors(void **state) {
  (void)state;
  /* our fetch fails: event, the peer is told, and a later exchange works */
  tnet *n = net_new();
  seed_street(n);
  n->a.st.fail_fetch = LI_ERR_DB;
  net_open(n);
  start_a(n);
  run_for(n, 100);
  assert_non_null(last_ev(&n->a, LI_EV_STORE));
  assert_int_equal(last_ev(&n->a, LI_EV_STORE)->code, LI_ERR_DB);
  assert_non_null(last_ev(&n->b, LI_EV_REFUSED));
  n->a.st.fail_fetch = LI_OK;
  run_for(n, 5000);
  assert_street_converged(n, 50, 30);
  net_free(n);

  /* the peer's apply fails: a rejected Ack named "db", counted both sides */
  n = net_new();
  seed_street(n);
  n->b.st.fail_apply = LI_ERR_DB;
  net_open(n);
  start_a(n);
  run_for(n, 100);
  assert_int_equal(last_ev(&n->a, LI_EV_REJECTED)->code, LI_ERR_DB);
  assert_int_equal(last_ev(&n->b, LI_EV_REJECTED_IN)->code, LI_ERR_DB);
  assert_true(info(&n->a).rejected[LI_ERR_DB] >= 1);
  assert_true(info(&n->b).rejected[LI_ERR_DB] >= 1);
  n->b.st.fail_apply = LI_OK;
  run_for(n, 5000);
  assert_street_converged(n, 50, 30);
  net_free(n);

  /* heads fail at start: an event, no crash, retried */
  n = net_new();
  seed_street(n);
  n->a.st.fail_heads = LI_ERR_IO;
  net_open(n);
  li_errbuf eb;
  assert_int_equal(li_session_start(n->a.s, n->now, &eb), LI_ERR_IO);
  collect_all(n);
  assert_non_null(last_ev(&n->a, LI_EV_STORE));
  n->a.st.fail_heads = LI_OK;
  run_for(n, 5000);
  assert_street_converged(n, 50, 30);
  net_free(n);
}

/* A peer that sends a commit the store rejects for good (a gap it cannot
 * fill) is counted and reported, and nothing crashes. */
static void test_rejection_reported(void **state) {
  (void)state;
  tnet *n = net_new();
  fs_seed(&n->a.st, PK_A, "c07", 1, 5, 0);
  net_open(n);
  start_a(n);
  run_for(n, 2000);
  /* a batch with a commit far ahead of the chain */
  size_t clen, len;
  uint8_t *c = mk_commit(PK_A, "c07", 9, 0, &clen);
  Linli__Batch b = LINLI__BATCH__INIT;
  ProtobufCBinaryData cs[1] = {{clen, c}};
  b.exchange = 1;
  b.id = 77;
  b.n_commits = 1;
  b.commits = cs;
  Linli__Envelope e = LINLI__ENVELOPE__INIT;
  e.m_case = LINLI__ENVELOPE__M_BATCH;
  e.batch = &b;
  uint8_t *m = pack_env(&e, &len);
  li_errbuf eb;
  assert_int_equal(li_session_recv(n->b.s, m, len, n->now, &eb), LI_OK);
  free(m);
  free(c);
  uint8_t *out;
  assert_true(li_session_next_out(n->b.s, &out, &len));
  Linli__Envelope *ack = linli__envelope__unpack(NULL, len, out);
  assert_int_equal(ack->m_case, LINLI__ENVELOPE__M_ACK);
  assert_int_equal(ack->ack->id, 77);
  assert_int_equal(ack->ack->exchange, 1);
  assert_string_equal(ack->ack->reject, "gap");
  assert_true(strlen(ack->ack->message) > 0);
  linli__envelope__free_unpacked(ack, NULL);
  free(out);
  collect_all(n);
  assert_int_equal(last_ev(&n->b, LI_EV_REJECTED_IN)->code, LI_ERR_GAP);
  assert_int_equal(info(&n->b).rejected[LI_ERR_GAP], 1);
  net_free(n);
}

/* Seeded chaos: random loss, duplication and reordering while both sides
 * keep writing; once the network heals, everything converges. */
static void test_random_faults_converge(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    tnet *n = net_new();
    n->rng = seed * 0x9E3779B97F4A7C15ULL;
    n->a.cfg.batch_rows_max = n->b.cfg.batch_rows_max = 1 + seed % 5;
    n->a.cfg.window = n->b.cfg.window = 1 + (uint32_t)(seed % 4);
    seed_street(n);
    net_open(n);
    n->drop_pct = (uint32_t)(seed % 3) * 10;
    n->dup_pct = (uint32_t)(seed % 2) * 15;
    n->shuffle = seed % 4 != 0;
    start_a(n);
    uint64_t a_c07 = 50, h_street = 30, c_c08 = 20;
    for (int step = 0; step < 30; step++) {
      switch (rnd(n) % 4) {
      case 0:
        fs_seed(&n->a.st, PK_A, "c07", a_c07 + 1, a_c07 + 3, 0);
        a_c07 += 3;
        li_session_local_changed(n->a.s, n->now);
        break;
      case 1:
        fs_seed(&n->b.st, PK_H, "street", h_street + 1, h_street + 2, 0);
        h_street += 2;
        li_session_local_changed(n->b.s, n->now);
        break;
      case 2:
        fs_seed(&n->b.st, PK_C, "c08", c_c08 + 1, c_c08 + 1, 0);
        c_c08 += 1;
        li_session_local_changed(n->b.s, n->now);
        break;
      default:
        break;
      }
      run_for(n, rnd(n) % 3000);
    }
    n->drop_pct = n->dup_pct = 0;
    n->shuffle = false;
    run_for(n, 120000);
    if (fs_head_b(&n->b.st, PK_A, "c07") != a_c07 || fs_head_b(&n->a.st, PK_H, "street") != h_street)
      fail_msg("seed %llu: hub has c07#%llu of %llu, committee street#%llu of %llu", (unsigned long long)seed,
               (unsigned long long)fs_head_b(&n->b.st, PK_A, "c07"), (unsigned long long)a_c07,
               (unsigned long long)fs_head_b(&n->a.st, PK_H, "street"), (unsigned long long)h_street);
    assert_int_equal(fs_head_b(&n->a.st, PK_C, "c08"), 0);
    assert_int_equal(fs_head_b(&n->b.st, PK_C, "c08"), c_c08);
    assert_true(info(&n->a).caught_up);
    assert_true(info(&n->b).caught_up);
    net_free(n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_converge_both_directions),
      cmocka_unit_test(test_newer_peer),
      cmocka_unit_test(test_hello_contents_and_behind),
      cmocka_unit_test(test_batches_and_window),
      cmocka_unit_test(test_byte_window),
      cmocka_unit_test(test_lost_message),
      cmocka_unit_test(test_duplicated_and_reordered),
      cmocka_unit_test(test_duplicates_are_harmless),
      cmocka_unit_test(test_fork_detected),
      cmocka_unit_test(test_malformed_input),
      cmocka_unit_test(test_wrong_network_refused),
      cmocka_unit_test(test_heartbeats_when_quiet),
      cmocka_unit_test(test_anti_entropy),
      cmocka_unit_test(test_peer_timeout),
      cmocka_unit_test(test_local_changed_while_syncing),
      cmocka_unit_test(test_responder_is_passive),
      cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_stale_and_duplicate_messages),
      cmocka_unit_test(test_peer_restarts),
      cmocka_unit_test(test_store_errors),
      cmocka_unit_test(test_rejection_reported),
      cmocka_unit_test(test_random_faults_converge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sim: world, virtual network, faults and the main loop of linli-sim.
 * See sim.h. Usage: linli-sim --help. */
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commit.h"
#include "hlc.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "log.h"
#include "roster.h"
#include "seal.h"
#include "sync.pb-c.h"

const char *const sim_fault_names[F__COUNT] = {
    "drop", "duplicate", "reorder", "delay",
    "partition_hub_isolated", "partition_split", "partition_one", "partition_asymmetric", "heal",
    "crash", "crash_after_apply", "crash_mid_txn", "restart",
    "clock_ahead", "clock_behind",
    "hostile_forged_sig", "hostile_out_of_scope", "hostile_equivocation", "hostile_replay", "hostile_garbage",
};

/* ---- PRNG: splitmix64, the only source of randomness ---- */

uint64_t sim_rand(sim_rng *r) {
  uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}
uint32_t sim_below(sim_rng *r, uint32_t n) { return (uint32_t)(sim_rand(r) % n); }
bool sim_chance(sim_rng *r, uint32_t per_mille) { return sim_below(r, 1000) < per_mille; }

void sim_trace(sim_world *w, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  char t[32];
  int m = snprintf(t, sizeof t, "%llu ", (unsigned long long)w->now);
  crypto_generichash_update(&w->trace, (const unsigned char *)t, (size_t)m);
  crypto_generichash_update(&w->trace, (const unsigned char *)buf, (size_t)n);
  w->trace_events++;
  if (w->o.verbose) printf("%8llu.%03llu  %s\n", (unsigned long long)(w->now / 1000), (unsigned long long)(w->now % 1000), buf);
}

void sim_fail(sim_world *w, const char *fmt, ...) {
  if (w->failure[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->failure, sizeof w->failure, fmt, ap);
  va_end(ap);
  sim_trace(w, "FAILURE %s", w->failure);
}

/* A node's wall clock. Coarse (250 ms ticks shared by every node) so that
 * HLC ties between origins are frequent: the tie-break is exercised far
 * more often than real millisecond clocks would. */
#define S_CLOCK_TICK_MS 250
static uint64_t s_wall(const sim_world *w, const sim_node *nd) {
  int64_t t = (int64_t)(w->now / S_CLOCK_TICK_MS * S_CLOCK_TICK_MS) + nd->skew_ms;
  return t < 1 ? 1 : (uint64_t)t;
}

static bool s_enabled(const sim_world *w, sim_fault f) { return (w->o.faults_mask >> f) & 1u; }

/* ---- store wrapper: checks the skew guard invariant on every apply ---- */

typedef struct {
  sim_world *w;
  sim_node *nd;
} s_store_ctx;
static s_store_ctx s_ctx[SIM_NODES_MAX];

static li_err s_heads(void *ctx, const li_scopes *sc, li_heads *out, li_errbuf *eb) {
  s_store_ctx *c = ctx;
  return li_store_replica_vt.heads(&c->nd->store, sc, out, eb);
}
static li_err s_hash_at(void *ctx, const uint8_t o[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  s_store_ctx *c = ctx;
  return li_store_replica_vt.hash_at(&c->nd->store, o, scope, seq, out, found, eb);
}
static li_err s_fetch(void *ctx, const li_range *r, size_t n, uint32_t mc, uint32_t mb, li_blobs *out, li_errbuf *eb) {
  s_store_ctx *c = ctx;
  return li_store_replica_vt.fetch(&c->nd->store, r, n, mc, mb, out, eb);
}

/* HLC of a SignedCommit blob, and whether the replica holds it already. */
static uint64_t s_blob_hlc(li_replica *r, const li_blob *b, bool *held) {
  uint64_t h = 0;
  *held = false;
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, b->len, b->sc);
  if (w) {
    Linli__Commit *c = linli__commit__unpack(NULL, w->commit.len, w->commit.data);
    if (c) {
      h = c->hlc;
      sqlite3_stmt *st = NULL;
      if (c->origin.len == LI_PK_BYTES && c->scope &&
          sqlite3_prepare_v2(r->db, "SELECT 1 FROM linli_log WHERE origin=? AND scope=? AND seq=?", -1, &st, NULL) ==
              SQLITE_OK) {
        sqlite3_bind_blob(st, 1, c->origin.data, LI_PK_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->scope, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)c->seq);
        *held = sqlite3_step(st) == SQLITE_ROW;
      }
      sqlite3_finalize(st);
      linli__commit__free_unpacked(c, NULL);
    }
    linli__signed_commit__free_unpacked(w, NULL);
  }
  return h;
}

static li_err s_apply(void *ctx, const li_blob *commits, size_t n, uint64_t now, li_merge_stats *st, li_errbuf *eb) {
  s_store_ctx *c = ctx;
  uint64_t wall = s_wall(c->w, c->nd);
  /* commits new to this replica: only those can be applied now */
  bool *fresh = calloc(n ? n : 1, sizeof *fresh);
  uint64_t *hlc = calloc(n ? n : 1, sizeof *hlc);
  for (size_t i = 0; fresh && hlc && i < n; i++) {
    bool held;
    hlc[i] = s_blob_hlc(c->nd->r, &commits[i], &held);
    fresh[i] = !held;
  }
  li_err e = li_store_replica_vt.apply(&c->nd->store, commits, n, wall, st, eb);
  /* held commits are exactly those beyond the skew limit */
  size_t applied_upto = st->rejected_at >= 0 ? (size_t)st->rejected_at : n;
  for (size_t i = 0; fresh && hlc && i < applied_upto; i++)
    if (fresh[i] && LI_HLC_MS(hlc[i]) > wall + SIM_MAX_SKEW_MS)
      sim_fail(c->w, "%s applied a commit %llu ms ahead of its clock (beyond the skew guard)", c->nd->name,
               (unsigned long long)(LI_HLC_MS(hlc[i]) - wall));
  if (st->reject == LI_ERR_CLOCK_AHEAD && hlc) {
    c->w->held_seen++;
    if (LI_HLC_MS(hlc[st->rejected_at]) <= wall + SIM_MAX_SKEW_MS) {
      c->w->held_wrong++;
      sim_fail(c->w, "%s held a commit that is within the skew limit", c->nd->name);
    }
  }
  free(fresh);
  free(hlc);
  sim_trace(c->w, "%s apply %zu: applied %d dup %d reject %s", c->nd->name, n, st->applied, st->duplicates,
            st->reject ? li_errname(st->reject) : "-");
  return e;
}

static const li_store_vt s_sim_store = {.heads = s_heads, .hash_at = s_hash_at, .fetch = s_fetch, .apply = s_apply};

/* ---- nodes ---- */

static void s_session_cfg(sim_world *w, sim_node *nd, int peer, li_session_cfg *c) {
  memset(c, 0, sizeof *c);
  memcpy(c->network, w->n[SIM_HUB].id.pk, LI_PK_BYTES);
  memcpy(c->self, nd->id.pk, LI_PK_BYTES);
  memcpy(c->peer, w->n[peer].id.pk, LI_PK_BYTES);
  c->initiator = !nd->hub;
  if (nd->hub) {
    c->peer_reads.n = 2;
    snprintf(c->peer_reads.list[0], sizeof c->peer_reads.list[0], "%s", w->n[peer].scope);
    snprintf(c->peer_reads.list[1], sizeof c->peer_reads.list[1], "street");
  } else {
    c->peer_reads.all = true;
  }
  c->batch_rows_max = 1 + sim_below(&w->rng, 40);
  c->batch_bytes_max = 64 * 1024;
  c->window = 1 + sim_below(&w->rng, 4);
  c->heartbeat_ms = 500;
  c->peer_timeout_ms = 3000;
  c->retry_ms = 500;
}

static void s_sessions_new(sim_world *w, sim_node *nd) {
  li_session_cfg c;
  if (nd->hub) {
    for (int i = 1; i < w->count; i++) {
      s_session_cfg(w, nd, i, &c);
      nd->sess[i] = li_session_new(&c, &s_sim_store, &s_ctx[nd->idx]);
    }
  } else {
    s_session_cfg(w, nd, SIM_HUB, &c);
    nd->sess[0] = li_session_new(&c, &s_sim_store, &s_ctx[nd->idx]);
  }
}

static void s_sessions_free(sim_node *nd) {
  for (int i = 0; i < SIM_NODES_MAX; i++) li_session_destroy(&nd->sess[i]);
}

static bool s_link_up(const sim_world *w, int c) { return w->up_to_hub[c] && w->up_from_hub[c]; }

static void s_start_committee(sim_world *w, sim_node *nd) {
  if (!nd->up || nd->hub || !nd->sess[0]) return;
  if (!w->n[SIM_HUB].up || !s_link_up(w, nd->idx)) return;
  li_session_info in;
  li_session_info_get(nd->sess[0], &in);
  if (in.state == LI_SESSION_IDLE) li_session_start(nd->sess[0], w->now, NULL);
}

static bool s_open(sim_world *w, sim_node *nd) {
  li_errbuf eb = {{0}};
  li_err e = li_replica_open(nd->path, &nd->r, &eb);
  if (e) {
    sim_fail(w, "%s cannot reopen its replica: %s", nd->name, li_errmsg(&eb, e));
    return false;
  }
  nd->r->id = &nd->id;
  nd->store.r = nd->r;
  nd->store.max_skew_ms = SIM_MAX_SKEW_MS;
  nd->up = true;
  s_sessions_new(w, nd);
  return true;
}

static void s_crash(sim_world *w, sim_node *nd, sim_fault kind) {
  if (!nd->up) return;
  w->faults[kind]++;
  sim_trace(w, "CRASH %s (%s)", nd->name, sim_fault_names[kind]);
  s_sessions_free(nd);
  /* closing with a transaction open rolls it back, as a crash would */
  li_replica_close(&nd->r);
  nd->up = false;
  nd->restart_at_ms = w->now + 300 + sim_below(&w->rng, 5000);
  /* messages to or from it in flight are dropped at delivery */
}

static void s_restart(sim_world *w, sim_node *nd) {
  w->faults[F_RESTART]++;
  sim_trace(w, "RESTART %s", nd->name);
  if (!s_open(w, nd)) return;
  if (nd->hub) {
    for (int i = 1; i < w->count; i++) s_start_committee(w, &w->n[i]);
  } else {
    s_start_committee(w, nd);
  }
}

static bool s_node_init(sim_world *w, int idx, bool hub, bool hostile) {
  sim_node *nd = &w->n[idx];
  memset(nd, 0, sizeof *nd);
  nd->idx = idx;
  nd->hub = hub;
  nd->hostile = hostile;
  if (hub) snprintf(nd->name, sizeof nd->name, "hub"), snprintf(nd->scope, sizeof nd->scope, "street");
  else if (hostile) snprintf(nd->name, sizeof nd->name, "hx"), snprintf(nd->scope, sizeof nd->scope, "hx");
  else snprintf(nd->name, sizeof nd->name, "c%02d", idx), snprintf(nd->scope, sizeof nd->scope, "c%02d", idx);
  uint8_t seed[32];
  uint64_t k[2] = {w->o.seed, (uint64_t)idx};
  crypto_generichash(seed, sizeof seed, (const unsigned char *)k, sizeof k, NULL, 0);
  crypto_sign_seed_keypair(nd->id.pk, nd->id.sk, seed);
  char name[sizeof nd->name];
  memcpy(name, nd->name, sizeof name);
  snprintf(nd->path, sizeof nd->path, "%s/%s.db", w->o.dir, name);
  unlink(nd->path);
  li_errbuf eb = {{0}};
  li_err e = li_replica_create(nd->path, hub ? LI_ROLE_HUB : LI_ROLE_COMMITTEE, nd->scope, w->n[SIM_HUB].id.pk,
                               nd->id.pk, NULL, &nd->r, &eb);
  if (e) {
    sim_fail(w, "cannot create %s: %s", nd->name, li_errmsg(&eb, e));
    return false;
  }
  li_replica_close(&nd->r);
  s_ctx[idx].w = w;
  s_ctx[idx].nd = nd;
  return s_open(w, nd);
}

/* ---- network ---- */

static void s_enqueue(sim_world *w, int from, int to, uint8_t *data, size_t len, uint64_t delay) {
  if (w->nmsgs >= SIM_MSGS_MAX) {
    free(data);
    sim_fail(w, "network queue over SIM_MSGS_MAX");
    return;
  }
  w->msgs[w->nmsgs++] = (sim_msg){.at = w->now + delay, .order = w->order++, .from = from, .to = to, .data = data, .len = len};
  if (w->nmsgs > w->queue_peak) w->queue_peak = w->nmsgs;
}

static void s_send(sim_world *w, int from, int to, uint8_t *data, size_t len) {
  if (w->drop_pm && sim_chance(&w->rng, w->drop_pm)) {
    w->faults[F_DROP]++;
    sim_trace(w, "drop %s->%s %zu bytes", w->n[from].name, w->n[to].name, len);
    free(data);
    return;
  }
  uint64_t delay = 1 + sim_below(&w->rng, 5);
  if (w->reorder_pm && sim_chance(&w->rng, w->reorder_pm)) {
    w->faults[F_REORDER]++;
    delay += sim_below(&w->rng, 300);
  }
  if (w->delay_pm && sim_chance(&w->rng, w->delay_pm)) {
    w->faults[F_DELAY]++;
    delay += 300 + sim_below(&w->rng, 3000);
  }
  if (w->dup_pm && sim_chance(&w->rng, w->dup_pm)) {
    w->faults[F_DUP]++;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy) {
      memcpy(copy, data, len);
      s_enqueue(w, from, to, copy, len, delay + sim_below(&w->rng, 200));
    }
  }
  s_enqueue(w, from, to, data, len, delay);
}

static void s_flush_node(sim_world *w, sim_node *nd) {
  if (!nd->up) return;
  for (int i = 0; i < SIM_NODES_MAX; i++) {
    if (!nd->sess[i]) continue;
    int peer = nd->hub ? i : SIM_HUB;
    uint8_t *m;
    size_t len;
    while (li_session_next_out(nd->sess[i], &m, &len)) s_send(w, nd->idx, peer, m, len);
    li_event ev;
    while (li_session_next_event(nd->sess[i], &ev))
      sim_trace(w, "%s event %d %s %s", nd->name, ev.kind, li_errname(ev.code), ev.message);
    li_session_info in;
    li_session_info_get(nd->sess[i], &in);
    if (in.in_flight > LI_WINDOW_MAX) sim_fail(w, "%s has %u batches in flight", nd->name, in.in_flight);
  }
}

static void s_changed(sim_world *w, sim_node *nd, int except) {
  for (int i = 0; i < SIM_NODES_MAX; i++)
    if (nd->sess[i] && i != except) li_session_local_changed(nd->sess[i], w->now);
}

static bool s_is_batch(const uint8_t *data, size_t len) {
  Linli__Envelope *env = linli__envelope__unpack(NULL, len, data);
  bool b = env && env->m_case == LINLI__ENVELOPE__M_BATCH;
  if (env) linli__envelope__free_unpacked(env, NULL);
  return b;
}

static void s_deliver(sim_world *w, sim_msg *m) {
  sim_node *to = &w->n[m->to];
  int c = m->to == SIM_HUB ? m->from : m->to;
  bool up = m->to == SIM_HUB ? w->up_to_hub[c] : w->up_from_hub[c];
  if (!to->up || !w->n[m->from].up || !up) {
    sim_trace(w, "lost %s->%s (%s)", w->n[m->from].name, to->name, !up ? "link down" : "node down");
    return;
  }
  li_session *s = to->hub ? to->sess[m->from] : to->sess[0];
  if (!s) return;
  uint64_t before = to->store.applied_total;
  li_errbuf eb = {{0}};
  li_err e = li_session_recv(s, m->data, m->len, w->now, &eb);
  sim_trace(w, "deliver %s->%s %zu bytes: %s", w->n[m->from].name, to->name, m->len, e ? li_errname(e) : "ok");
  if (s_enabled(w, F_CRASH_AFTER_APPLY) && w->drop_pm + w->dup_pm > 0 && s_is_batch(m->data, m->len) &&
      sim_chance(&w->rng, 40)) {
    /* applied durably, acknowledgement not yet sent */
    s_crash(w, to, F_CRASH_AFTER_APPLY);
    return;
  }
  if (to->store.applied_total != before) s_changed(w, to, to->hub ? m->from : -1);
}

static void s_deliver_due(sim_world *w) {
  for (;;) {
    size_t best = w->nmsgs;
    for (size_t i = 0; i < w->nmsgs; i++)
      if (w->msgs[i].at <= w->now &&
          (best == w->nmsgs || w->msgs[i].at < w->msgs[best].at ||
           (w->msgs[i].at == w->msgs[best].at && w->msgs[i].order < w->msgs[best].order)))
        best = i;
    if (best == w->nmsgs) return;
    sim_msg m = w->msgs[best];
    w->msgs[best] = w->msgs[--w->nmsgs];
    s_deliver(w, &m);
    free(m.data);
  }
}

/* ---- faults ---- */

static void s_partition(sim_world *w) {
  int kind = (int)sim_below(&w->rng, 4);
  sim_fault f = kind == 0 ? F_PART_HUB : kind == 1 ? F_PART_SPLIT : kind == 2 ? F_PART_ONE : F_PART_ASYM;
  if (!s_enabled(w, f)) return;
  w->faults[f]++;
  for (int i = 1; i < w->count; i++) {
    bool cut = false;
    if (f == F_PART_HUB) cut = true;
    else if (f == F_PART_SPLIT) cut = (i % 2) == (int)(w->o.seed % 2);
    else if (f == F_PART_ONE) cut = i == 1 + (int)sim_below(&w->rng, (uint32_t)(w->count - 1));
    if (f == F_PART_ASYM) {
      if (i == 1 + (int)sim_below(&w->rng, (uint32_t)(w->count - 1))) {
        if (sim_chance(&w->rng, 500)) w->up_to_hub[i] = false;
        else w->up_from_hub[i] = false;
      }
    } else if (cut) {
      w->up_to_hub[i] = w->up_from_hub[i] = false;
    }
  }
  sim_trace(w, "PARTITION %s", sim_fault_names[f]);
}

static void s_heal(sim_world *w) {
  w->faults[F_HEAL]++;
  sim_trace(w, "HEAL");
  for (int i = 1; i < w->count; i++) {
    bool was = s_link_up(w, i);
    w->up_to_hub[i] = w->up_from_hub[i] = true;
    if (!was) s_start_committee(w, &w->n[i]);
  }
}

/* A signed commit of the hostile node: scope and seq of its choosing. */
static uint8_t *s_hostile_commit(sim_world *w, sim_node *nd, const char *scope, uint64_t seq, const uint8_t *prev,
                                 size_t *len) {
  Linli__Value vid = LINLI__VALUE__INIT, vscope = LINLI__VALUE__INIT, vref = LINLI__VALUE__INIT,
               vdate = LINLI__VALUE__INIT;
  char id[48];
  snprintf(id, sizeof id, "%s-forged-%llu", scope, (unsigned long long)sim_rand(&w->rng) % 1000);
  vid.v_case = LINLI__VALUE__V_T, vid.t = id;
  vscope.v_case = LINLI__VALUE__V_T, vscope.t = (char *)scope;
  vref.v_case = LINLI__VALUE__V_T, vref.t = "R-FORGED";
  vdate.v_case = LINLI__VALUE__V_T, vdate.t = "2025-01-01";
  Linli__Value *pk[1] = {&vid}, *vals[3] = {&vscope, &vref, &vdate};
  uint32_t cols[3] = {1, 2, 3};
  Linli__RowChange rc = LINLI__ROW_CHANGE__INIT;
  rc.pk = pk, rc.n_pk = 1, rc.cl = 1, rc.cols = cols, rc.n_cols = 3, rc.values = vals, rc.n_values = 3;
  Linli__RowChange *rows[1] = {&rc};
  char *colnames[4] = {"id", "scope", "resident_ref", "visited_on"};
  Linli__TableChanges tc = LINLI__TABLE_CHANGES__INIT;
  tc.table = "care_visits", tc.columns = colnames, tc.n_columns = 4, tc.rows = rows, tc.n_rows = 1;
  Linli__TableChanges *tables[1] = {&tc};
  Linli__Commit c = LINLI__COMMIT__INIT;
  c.origin.data = nd->id.pk, c.origin.len = LI_PK_BYTES;
  c.scope = (char *)scope;
  c.seq = seq;
  if (seq > 1) c.prev.data = (uint8_t *)prev, c.prev.len = LI_HASH_BYTES;
  c.hlc = LI_HLC_MAKE(s_wall(w, nd), 7);
  c.schema_version = LI_SCHEMA_VERSION;
  c.tables = tables, c.n_tables = 1;
  uint8_t *out = NULL, hash[LI_HASH_BYTES];
  li_errbuf eb;
  if (li_commit_seal(&nd->id, w->n[SIM_HUB].id.pk, &c, &out, len, hash, &eb) != LI_OK) return NULL;
  return out;
}

static uint8_t *s_batch_env(const uint8_t *commit, size_t clen, size_t *len) {
  ProtobufCBinaryData b = {.len = clen, .data = (uint8_t *)commit};
  Linli__Batch batch = LINLI__BATCH__INIT;
  batch.exchange = 1, batch.id = 1, batch.commits = &b, batch.n_commits = 1;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_BATCH, env.batch = &batch;
  *len = linli__envelope__get_packed_size(&env);
  uint8_t *out = malloc(*len);
  if (out) linli__envelope__pack(&env, out);
  return out;
}

/* The hub's head of the hostile's chain in its own scope (0 if none). */
static uint64_t s_hub_head(sim_world *w, const uint8_t *origin, const char *scope, uint8_t prev[LI_HASH_BYTES],
                           uint8_t prevprev[LI_HASH_BYTES]) {
  sqlite3_stmt *st = NULL;
  uint64_t seq = 0;
  if (sqlite3_prepare_v2(w->n[SIM_HUB].r->db, "SELECT seq, hash FROM linli_log WHERE origin=? AND scope=? ORDER BY seq DESC LIMIT 2", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  int row = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (row == 0) seq = (uint64_t)sqlite3_column_int64(st, 0), memcpy(prev, sqlite3_column_blob(st, 1), LI_HASH_BYTES);
    else memcpy(prevprev, sqlite3_column_blob(st, 1), LI_HASH_BYTES);
    row++;
  }
  sqlite3_finalize(st);
  return seq;
}

static void s_hostile(sim_world *w, sim_node *nd) {
  sim_node *hub = &w->n[SIM_HUB];
  if (!nd->up || !hub->up || !s_link_up(w, nd->idx) || !hub->sess[nd->idx]) return;
  li_session_info in;
  li_session_info_get(hub->sess[nd->idx], &in);
  if (in.state == LI_SESSION_IDLE) return; /* a batch would just be refused as out of place */
  sim_fault f = F_HOSTILE_FORGE + (sim_fault)sim_below(&w->rng, 5);
  if (!s_enabled(w, f)) return;
  uint8_t *msg = NULL, *commit = NULL;
  size_t len = 0, clen = 0;
  uint8_t prev[LI_HASH_BYTES] = {0}, prevprev[LI_HASH_BYTES] = {0};
  uint64_t head = s_hub_head(w, nd->id.pk, nd->scope, prev, prevprev);
  switch (f) {
  case F_HOSTILE_FORGE:
    commit = s_hostile_commit(w, nd, nd->scope, head + 1, prev, &clen);
    if (commit && clen > 10) commit[clen - 3] ^= 0x55; /* inside the signature */
    break;
  case F_HOSTILE_SCOPE: {
    const char *victim = w->n[1].scope;
    commit = s_hostile_commit(w, nd, victim, 1, NULL, &clen);
    break;
  }
  case F_HOSTILE_EQUIVOCATE:
    if (head == 0) return;
    commit = s_hostile_commit(w, nd, nd->scope, head, prevprev, &clen);
    if (commit) nd->hostile_seq_forged = (int)head;
    break;
  case F_HOSTILE_REPLAY: {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(nd->r->db, "SELECT sc FROM linli_log ORDER BY seq LIMIT 1", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      clen = (size_t)sqlite3_column_bytes(st, 0);
      commit = malloc(clen ? clen : 1);
      if (commit) memcpy(commit, sqlite3_column_blob(st, 0), clen);
    }
    sqlite3_finalize(st);
    break;
  }
  default: /* garbage */
    len = 1 + sim_below(&w->rng, 200);
    msg = malloc(len);
    for (size_t i = 0; msg && i < len; i++) msg[i] = (uint8_t)sim_rand(&w->rng);
  }
  if (commit) {
    msg = s_batch_env(commit, clen, &len);
    free(commit);
  }
  if (!msg) return;
  w->faults[f]++;
  sim_trace(w, "HOSTILE %s", sim_fault_names[f]);
  uint64_t before = hub->store.applied_total;
  li_session_recv(hub->sess[nd->idx], msg, len, w->now, NULL);
  if (hub->store.applied_total != before) s_changed(w, hub, nd->idx);
  free(msg);
}

static void s_faults(sim_world *w) {
  sim_rng *r = &w->rng;
  if (sim_chance(r, 8)) s_partition(w);
  if (sim_chance(r, 10)) s_heal(w);
  if (sim_chance(r, 6)) {
    /* the network's mood changes */
    w->drop_pm = s_enabled(w, F_DROP) && sim_chance(r, 500) ? sim_below(r, 150) : 0;
    w->dup_pm = s_enabled(w, F_DUP) && sim_chance(r, 500) ? sim_below(r, 150) : 0;
    w->reorder_pm = s_enabled(w, F_REORDER) && sim_chance(r, 500) ? sim_below(r, 300) : 0;
    w->delay_pm = s_enabled(w, F_DELAY) && sim_chance(r, 500) ? sim_below(r, 100) : 0;
    sim_trace(w, "NET drop %u dup %u reorder %u delay %u", w->drop_pm, w->dup_pm, w->reorder_pm, w->delay_pm);
  }
  if (sim_chance(r, 3)) {
    sim_node *nd = &w->n[sim_below(r, (uint32_t)w->count)];
    if (nd->up && !nd->hostile) {
      if (s_enabled(w, F_CRASH_MID_TXN) && sim_chance(r, 400)) {
        sim_workload_open_txn(w, nd);
        s_crash(w, nd, F_CRASH_MID_TXN);
      } else if (s_enabled(w, F_CRASH)) {
        s_crash(w, nd, F_CRASH);
      }
    }
  }
  if (sim_chance(r, 4)) {
    sim_node *nd = &w->n[1 + sim_below(r, (uint32_t)(w->count - 1))];
    if (nd->skew_ms == 0 && !nd->hostile) {
      if (s_enabled(w, F_SKEW_AHEAD) && sim_chance(r, 500)) {
        nd->skew_ms = SIM_AHEAD_MS;
        w->faults[F_SKEW_AHEAD]++;
      } else if (s_enabled(w, F_SKEW_BEHIND)) {
        nd->skew_ms = -(int64_t)(1000 + sim_below(r, 30000));
        w->faults[F_SKEW_BEHIND]++;
      }
      sim_trace(w, "SKEW %s %lld ms", nd->name, (long long)nd->skew_ms);
    } else if (nd->skew_ms != 0 && sim_chance(r, 300)) {
      nd->skew_ms = 0;
      sim_trace(w, "CLOCK FIXED %s", nd->name);
    }
  }
  for (int i = 0; i < w->count; i++)
    if (w->n[i].hostile && sim_chance(r, 30)) s_hostile(w, &w->n[i]);
}

/* ---- the loop ---- */

static void s_seal_node(sim_world *w, sim_node *nd) {
  if (li_replica_dirty_count(nd->r) == 0) return;
  li_seal_stats ss;
  li_errbuf eb = {{0}};
  li_err e = li_seal(nd->r, s_wall(w, nd), &ss, &eb);
  if (e) {
    sim_fail(w, "%s seal failed: %s", nd->name, li_errmsg(&eb, e));
    return;
  }
  if (ss.commits) {
    sim_trace(w, "%s sealed %d commits %lld rows", nd->name, ss.commits, (long long)ss.rows);
    s_changed(w, nd, -1);
  }
}

static void s_step(sim_world *w, bool faults, bool workload) {
  s_deliver_due(w);
  for (int i = 0; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (!nd->up) {
      if (nd->restart_at_ms && w->now >= nd->restart_at_ms) s_restart(w, nd);
      continue;
    }
    if (workload && sim_chance(&w->rng, nd->hub ? 120 : 200)) sim_workload_step(w, nd);
    if (w->now >= nd->next_seal_ms) {
      s_seal_node(w, nd);
      nd->next_seal_ms = w->now + 50 + sim_below(&w->rng, 400);
    }
  }
  if (faults) s_faults(w);
  for (int i = 0; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (!nd->up) continue;
    for (int k = 0; k < SIM_NODES_MAX; k++)
      if (nd->sess[k]) li_session_tick(nd->sess[k], w->now);
    s_flush_node(w, nd);
  }
}

static bool s_quiet(sim_world *w) {
  for (int i = 0; i < w->count; i++)
    if (w->n[i].up && li_replica_dirty_count(w->n[i].r) != 0) return false;
  return true;
}

static int s_run_seed(const sim_opts *o, uint64_t *trace_out, uint64_t *converge_ms, uint64_t faults[F__COUNT]) {
  sim_world *w = calloc(1, sizeof *w);
  if (!w) return 2;
  w->o = *o;
  w->rng.s = o->seed * UINT64_C(0x2545F4914F6CDD1D) + 1;
  w->msgs = calloc(SIM_MSGS_MAX, sizeof *w->msgs);
  crypto_generichash_init(&w->trace, NULL, 0, 16);
  w->now = 1735689600000ull; /* 2025-01-01, virtual */
  w->count = o->nodes;
  for (int i = 1; i < SIM_NODES_MAX; i++) w->up_to_hub[i] = w->up_from_hub[i] = true;
  bool ok = s_node_init(w, SIM_HUB, true, false);
  for (int i = 1; ok && i < w->count; i++) ok = s_node_init(w, i, false, o->hostile && i == w->count - 1);
  /* the hub admits every committee (and the hostile node: it holds a valid key) */
  if (ok) {
    sim_node *hub = &w->n[SIM_HUB];
    s_sessions_free(hub); /* made before the committees had keys */
    s_sessions_new(w, hub);
    for (int i = 1; i < w->count; i++) {
      char pk[LI_PK_TEXT_LEN + 1];
      li_pk_to_text(w->n[i].id.pk, pk);
      li_errbuf eb;
      if (li_roster_add(hub->r, w->n[i].name, pk, w->n[i].scope, s_wall(w, hub), &eb) != LI_OK)
        sim_fail(w, "roster: %s", eb.msg);
    }
    s_seal_node(w, hub);
    for (int i = 1; i < w->count; i++) s_start_committee(w, &w->n[i]);
  }
  for (int step = 0; ok && step < o->steps && !w->failure[0]; step++) {
    w->now += 1 + sim_below(&w->rng, 20);
    s_step(w, true, true);
  }
  /* final phase: heal everything, fix every clock, restart the crashed, run to quiescence */
  if (!w->failure[0]) {
    w->drop_pm = w->dup_pm = w->reorder_pm = w->delay_pm = 0;
    for (int i = 0; i < w->count; i++) w->n[i].skew_ms = 0;
    for (int i = 0; i < w->count; i++) {
      if (w->n[i].hostile) { /* the hostile machine is unplugged for good */
        if (w->n[i].up) s_crash(w, &w->n[i], F_CRASH);
        w->n[i].restart_at_ms = 0;
      } else if (!w->n[i].up) {
        s_restart(w, &w->n[i]);
      }
    }
    s_heal(w);
    uint64_t healed = w->now;
    bool done = false;
    while (!w->failure[0] && w->now - healed < SIM_QUIESCE_MS) {
      w->now += 50;
      s_step(w, false, false);
      if ((w->now - healed) % 500 == 0 && s_quiet(w) && sim_converged(w)) {
        done = true;
        break;
      }
    }
    w->converge_ms = w->now - healed;
    if (!done && !w->failure[0]) sim_fail(w, "no convergence within %u s of virtual time after the final heal", SIM_QUIESCE_MS / 1000);
    if (!w->failure[0]) sim_check_final(w);
  }
  unsigned char th[16];
  crypto_generichash_final(&w->trace, th, sizeof th);
  uint64_t t = 0;
  memcpy(&t, th, sizeof t);
  *trace_out = t;
  *converge_ms = w->converge_ms;
  for (int f = 0; f < F__COUNT; f++) faults[f] = w->faults[f];
  int failed = w->failure[0] != 0;
  if (failed) fprintf(stderr, "seed %llu FAILED: %s\n", (unsigned long long)o->seed, w->failure);
  for (int i = 0; i < w->count; i++) {
    s_sessions_free(&w->n[i]);
    li_replica_close(&w->n[i].r);
    char side[600];
    unlink(w->n[i].path);
    snprintf(side, sizeof side, "%s-wal", w->n[i].path), unlink(side);
    snprintf(side, sizeof side, "%s-shm", w->n[i].path), unlink(side);
    li_identity_wipe(&w->n[i].id);
  }
  for (size_t i = 0; i < w->nmsgs; i++) free(w->msgs[i].data);
  free(w->msgs);
  free(w);
  return failed;
}

/* ---- main ---- */

static uint32_t s_parse_faults(const char *s) {
  if (strcmp(s, "all") == 0) return (1u << F__COUNT) - 1;
  if (strcmp(s, "none") == 0) return 0;
  uint32_t m = 0;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int found = 0;
    if (strcmp(tok, "net") == 0) m |= 1u << F_DROP | 1u << F_DUP | 1u << F_REORDER | 1u << F_DELAY, found = 1;
    if (strcmp(tok, "partition") == 0)
      m |= 1u << F_PART_HUB | 1u << F_PART_SPLIT | 1u << F_PART_ONE | 1u << F_PART_ASYM | 1u << F_HEAL, found = 1;
    if (strcmp(tok, "crash") == 0) m |= 1u << F_CRASH | 1u << F_CRASH_AFTER_APPLY | 1u << F_CRASH_MID_TXN | 1u << F_RESTART, found = 1;
    if (strcmp(tok, "clock") == 0) m |= 1u << F_SKEW_AHEAD | 1u << F_SKEW_BEHIND, found = 1;
    if (strcmp(tok, "hostile") == 0)
      m |= 1u << F_HOSTILE_FORGE | 1u << F_HOSTILE_SCOPE | 1u << F_HOSTILE_EQUIVOCATE | 1u << F_HOSTILE_REPLAY |
           1u << F_HOSTILE_GARBAGE, found = 1;
    for (int f = 0; f < F__COUNT; f++)
      if (strcmp(tok, sim_fault_names[f]) == 0) m |= 1u << f, found = 1;
    if (!found) {
      fprintf(stderr, "linli-sim: unknown fault '%s'\n", tok);
      exit(2);
    }
  }
  return m;
}

typedef struct {
  uint64_t seed, trace, conv;
  int failed;
  uint64_t faults[F__COUNT];
} s_record;

static void s_account(const s_record *r, uint64_t from, bool print, uint64_t *conv, uint64_t *totals, uint64_t *failed) {
  conv[r->seed - from] = r->conv;
  for (int k = 0; k < F__COUNT; k++) totals[k] += r->faults[k];
  if (r->failed) (*failed)++;
  if (print)
    printf("seed %llu: trace %016llx, converged %llu ms after the final heal\n", (unsigned long long)r->seed,
           (unsigned long long)r->trace, (unsigned long long)r->conv);
}

static int s_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void s_usage(FILE *f) {
  fprintf(f,
          "usage: linli-sim [--seed N | --seeds FROM..TO] [--nodes N] [--steps N] [--faults LIST] [--no-hostile]\n"
          "                 [--verbose] [--dir DIR] [--jobs J]\n"
          "  --nodes N     hub + committees (+ the hostile node), 3..%d (default 5)\n"
          "  --steps N     virtual steps of 1-20 ms with workload and faults (default 1500)\n"
          "  --faults L    all (default), none, or a comma list of: net, partition, crash, clock, hostile,\n"
          "                or single kinds (drop, duplicate, reorder, delay, partition_hub_isolated, ...)\n"
          "  --verbose     print the trace\n"
          "  --jobs J      run seeds in J processes (results do not depend on J)\n"
          "The same seed gives the same trace hash. A failing seed prints the command that replays it.\n",
          SIM_NODES_MAX);
}

int main(int argc, char **argv) {
  sim_opts o = {.seed = 1, .nodes = 5, .steps = 1500, .hostile = true, .faults_mask = (1u << F__COUNT) - 1};
  uint64_t from = 1, to = 1;
  int jobs = 1;
  const char *faults_arg = "all";
  static const struct option lo[] = {{"seed", 1, 0, 's'},    {"seeds", 1, 0, 'S'},   {"nodes", 1, 0, 'n'},
                                     {"steps", 1, 0, 't'},   {"faults", 1, 0, 'f'},  {"verbose", 0, 0, 'v'},
                                     {"dir", 1, 0, 'd'},     {"no-hostile", 0, 0, 'H'}, {"help", 0, 0, 'h'}, {"jobs", 1, 0, 'j'},
                                     {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 's': from = to = strtoull(optarg, NULL, 10); break;
    case 'S':
      if (sscanf(optarg, "%llu..%llu", (unsigned long long *)&from, (unsigned long long *)&to) != 2 || to < from) {
        fprintf(stderr, "linli-sim: --seeds FROM..TO\n");
        return 2;
      }
      break;
    case 'n': o.nodes = atoi(optarg); break;
    case 't': o.steps = atoi(optarg); break;
    case 'f': faults_arg = optarg, o.faults_mask = s_parse_faults(optarg); break;
    case 'v': o.verbose = true; break;
    case 'd': o.dir = optarg; break;
    case 'H': o.hostile = false; break;
    case 'j': jobs = atoi(optarg); break;
    case 'h': s_usage(stdout); return 0;
    default: s_usage(stderr); return 2;
    }
  }
  if (o.nodes < 3 || o.nodes > SIM_NODES_MAX || o.steps < 0 || jobs < 1 || jobs > 64) {
    s_usage(stderr);
    return 2;
  }
  if (!(o.faults_mask & (1u << F_HOSTILE_FORGE | 1u << F_HOSTILE_SCOPE | 1u << F_HOSTILE_EQUIVOCATE |
                         1u << F_HOSTILE_REPLAY | 1u << F_HOSTILE_GARBAGE)))
    o.hostile = false;
  if (sodium_init() < 0) return 2;
  li_log_init(LI_LOG_ERROR, false);
  char dirbuf[512];
  if (!o.dir) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dirbuf, sizeof dirbuf, "%s/linli-sim-XXXXXX", base);
    if (!mkdtemp(dirbuf)) {
      fprintf(stderr, "linli-sim: cannot create a work directory: %s\n", strerror(errno));
      return 2;
    }
    o.dir = dirbuf;
  }
  uint64_t nseeds = to - from + 1, failed = 0, totals[F__COUNT] = {0};
  uint64_t *conv = calloc(nseeds, sizeof *conv);
  if (!conv) return 2;
  if (jobs > (int)nseeds) jobs = (int)nseeds;
  /* jobs > 1: children run seeds from+j, from+j+jobs, ... and report each
   * seed's record through a pipe; every seed is still a world of its own,
   * so the results do not depend on the number of jobs */
  int fds[2] = {-1, -1};
  pid_t kids[64];
  if (jobs > 1 && pipe(fds) != 0) jobs = 1;
  for (int j = 0; j < jobs; j++) {
    pid_t pid = jobs > 1 ? fork() : 0;
    if (pid < 0) return 2;
    if (pid > 0) {
      kids[j] = pid;
      continue;
    }
    if (jobs > 1) close(fds[0]);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/j%d", o.dir, j);
    mkdir(sub, 0700);
    sim_opts oj = o;
    oj.dir = sub;
    for (uint64_t s = from + (uint64_t)j; s <= to; s += (uint64_t)jobs) {
      oj.seed = s;
      s_record rec = {.seed = s};
      rec.failed = s_run_seed(&oj, &rec.trace, &rec.conv, rec.faults);
      if (rec.failed)
        fprintf(stderr, "replay: %s --seed %llu --nodes %d --steps %d --faults %s%s\n", argv[0], (unsigned long long)s,
                o.nodes, o.steps, faults_arg, o.hostile ? "" : " --no-hostile");
      if (jobs > 1) {
        if (write(fds[1], &rec, sizeof rec) != (ssize_t)sizeof rec) _exit(3);
      } else {
        s_account(&rec, from, nseeds == 1 || o.verbose, conv, totals, &failed);
      }
    }
    rmdir(sub);
    if (jobs > 1) _exit(0);
  }
  if (jobs > 1) {
    close(fds[1]);
    s_record rec;
    while (read(fds[0], &rec, sizeof rec) == (ssize_t)sizeof rec)
      s_account(&rec, from, nseeds == 1 || o.verbose, conv, totals, &failed);
    close(fds[0]);
    for (int j = 0; j < jobs; j++) {
      int st = 0;
      waitpid(kids[j], &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "linli-sim: job %d died (status %d)\n", j, st);
        failed++;
      }
    }
  }
  if (o.dir == dirbuf) rmdir(dirbuf);
  qsort(conv, nseeds, sizeof *conv, s_cmp_u64);
  printf("seeds run: %llu (%llu..%llu), failed: %llu\n", (unsigned long long)nseeds, (unsigned long long)from,
         (unsigned long long)to, (unsigned long long)failed);
  printf("faults injected:\n");
  for (int k = 0; k < F__COUNT; k++) printf("  %-24s %llu\n", sim_fault_names[k], (unsigned long long)totals[k]);
  printf("virtual time to converge after the final heal: median %llu ms, max %llu ms\n",
         (unsigned long long)conv[nseeds / 2], (unsigned long long)conv[nseeds - 1]);
  free(conv);
  return failed ? 1 : 0;
}

/* sim: the world, its nodes and the main loop of linli-sim. See sim.h. Usage: linli-sim --help. */
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
    "bad_write_refused", "hostile_bad_row",
    "restore_backup", "clock_jump_days", "hostile_squat", "recover_replace", "migrate",
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
bool sim_chance_10k(sim_rng *r, uint32_t per_10k) { return sim_below(r, 10000) < per_10k; }

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
uint64_t sim_wall(const sim_world *w, const sim_node *nd) {
  int64_t t = (int64_t)(w->now / S_CLOCK_TICK_MS * S_CLOCK_TICK_MS) + nd->skew_ms;
  return t < 1 ? 1 : (uint64_t)t;
}

/* The driver's timers run on virtual time; its seals and skew guard on the
 * node's own (skewed) wall clock. */
li_now sim_now(const sim_world *w, const sim_node *nd) { return (li_now){.ms = w->now, .wall_ms = sim_wall(w, nd)}; }

bool sim_enabled(const sim_world *w, sim_fault f) { return (w->o.faults_mask >> f) & 1u; }

/* ---- store wrapper: checks the skew guard invariant on every apply ---- */

static li_err s_heads(void *ctx, const li_scopes *sc, li_heads *out, li_errbuf *eb) {
  sim_store_ctx *c = ctx;
  return li_store_replica_vt.heads(&c->nd->store, sc, out, eb);
}
static li_err s_hash_at(void *ctx, const uint8_t o[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  sim_store_ctx *c = ctx;
  return li_store_replica_vt.hash_at(&c->nd->store, o, scope, seq, out, found, eb);
}
static li_err s_fetch(void *ctx, const li_range *r, size_t n, uint32_t mc, uint32_t mb, li_blobs *out, li_errbuf *eb) {
  sim_store_ctx *c = ctx;
  return li_store_replica_vt.fetch(&c->nd->store, r, n, mc, mb, out, eb);
}

/* HLC and chain position of a SignedCommit blob, and whether the replica
 * holds it already. */
typedef struct {
  uint64_t hlc, seq;
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  bool ok, held;
} s_pos;

static s_pos s_blob_pos(li_replica *r, const li_blob *b) {
  s_pos p = {0};
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, b->len, b->sc);
  Linli__Commit *c = w ? linli__commit__unpack(NULL, w->commit.len, w->commit.data) : NULL;
  if (c && c->origin.len == LI_PK_BYTES && c->scope && strlen(c->scope) <= LI_SCOPE_MAX) {
    p.ok = true;
    p.hlc = c->hlc;
    p.seq = c->seq;
    memcpy(p.origin, c->origin.data, LI_PK_BYTES);
    snprintf(p.scope, sizeof p.scope, "%s", c->scope);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM linli_log WHERE origin=? AND scope=? AND seq=?", -1, &st, NULL) ==
        SQLITE_OK) {
      sqlite3_bind_blob(st, 1, c->origin.data, LI_PK_BYTES, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, c->scope, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 3, (int64_t)c->seq);
      p.held = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
  }
  if (c) linli__commit__free_unpacked(c, NULL);
  if (w) linli__signed_commit__free_unpacked(w, NULL);
  return p;
}

/* The skew guard, checked on every apply: a commit new to the replica is
 * applied only within the skew limit, and one held for its clock is
 * beyond it. */
static li_err s_apply(void *ctx, const li_blob *commits, size_t n, li_apply_result *res, li_errbuf *eb) {
  sim_store_ctx *c = ctx;
  uint64_t wall = sim_wall(c->w, c->nd);
  c->nd->store.wall_ms = wall;
  c->nd->store.taking_back = c->nd->drv && !li_driver_may_seal_first(c->nd->drv);
  s_pos *before = calloc(n ? n : 1, sizeof *before);
  for (size_t i = 0; before && i < n; i++) before[i] = s_blob_pos(c->nd->r, &commits[i]);
  li_err e = li_store_replica_vt.apply(&c->nd->store, commits, n, res, eb);
  for (size_t i = 0; before && i < n; i++) {
    if (!before[i].ok || before[i].held) continue;
    bool now_held = s_blob_pos(c->nd->r, &commits[i]).held;
    bool own = memcmp(before[i].origin, c->nd->id.pk, LI_PK_BYTES) == 0; /* taken back: never held */
    if (now_held && !own && LI_HLC_MS(before[i].hlc) > wall + SIM_MAX_SKEW_MS)
      sim_fail(c->w, "%s applied commit %s#%llu%s %llu ms ahead of its clock (beyond the skew guard)", c->nd->name,
               before[i].scope, (unsigned long long)before[i].seq, "",
               (unsigned long long)(LI_HLC_MS(before[i].hlc) - wall));
    for (size_t k = 0; k < res->nrejects; k++) {
      const li_chain_reject *r = &res->rejects[k];
      if (r->code == LI_ERR_SCHEMA_AHEAD && r->seq == before[i].seq && strcmp(r->scope, before[i].scope) == 0 &&
          memcmp(r->origin, before[i].origin, LI_PK_BYTES) == 0)
        c->w->counts.schema_held++; /* held until its migration arrives (DESIGN 14) */
      if (r->code != LI_ERR_CLOCK_AHEAD || r->seq != before[i].seq || strcmp(r->scope, before[i].scope) != 0 ||
          memcmp(r->origin, before[i].origin, LI_PK_BYTES) != 0)
        continue;
      c->w->held_seen++;
      if (LI_HLC_MS(before[i].hlc) <= wall + SIM_MAX_SKEW_MS) {
        c->w->held_wrong++;
        sim_fail(c->w, "%s held a commit that is within the skew limit", c->nd->name);
      }
    }
  }
  free(before);
  sim_trace(c->w, "%s apply %zu: applied %u dup %u sealed %u rejected chains %zu%s%s", c->nd->name, n, res->applied,
            res->duplicates, res->sealed, res->nrejects, res->nrejects ? " first " : "",
            res->nrejects ? li_errname(res->rejects[0].code) : "");
  return e;
}

static const li_store_vt s_sim_store = {.heads = s_heads, .hash_at = s_hash_at, .fetch = s_fetch, .apply = s_apply};

/* ---- nodes ---- */

/* A node's driver settings, drawn once from the seed: sessions of every
 * shape (batch sizes, windows) meet each other. */
static void s_driver_cfg(sim_world *w, sim_node *nd) {
  li_driver_cfg *c = &nd->dcfg;
  memset(c, 0, sizeof *c);
  c->role = nd->hub ? LI_ROLE_HUB : LI_ROLE_COMMITTEE;
  memcpy(c->self, nd->id.pk, LI_PK_BYTES);
  memcpy(c->network, w->n[SIM_HUB].id.pk, LI_PK_BYTES);
  /* whole clock ticks: nodes often seal in the same step, before they hear
   * of each other, so equal HLCs of different origins (ties) are common */
  c->seal_interval_ms = S_CLOCK_TICK_MS * (1 + sim_below(&w->rng, 4));
  c->batch_rows_max = 1 + sim_below(&w->rng, 40);
  c->batch_bytes_max = 64 * 1024;
  c->window = 1 + sim_below(&w->rng, 4);
  c->heartbeat_ms = 500;
  c->peer_timeout_ms = 3000;
  c->retry_ms = 500;
  c->max_skew_ms = SIM_MAX_SKEW_MS;
  c->store = &s_sim_store;
  c->store_ctx = &nd->sctx;
}

static void s_counts_add(sim_world *w, const sim_node *nd) {
  if (!nd->drv) return;
  li_driver_stats st;
  li_driver_stats_get(nd->drv, &st);
  w->counts.sessions += st.sessions;
  w->counts.reconnects += st.reconnects;
  w->counts.fanouts += st.fanouts;
  w->counts.seals += st.seals;
  w->counts.drops += st.drops;
  if (st.seal_failures) sim_fail(w, "%s: %llu seal(s) failed", nd->name, (unsigned long long)st.seal_failures);
}

static bool s_open(sim_world *w, sim_node *nd) {
  li_errbuf eb = {{0}};
  li_err e = li_replica_open(nd->path, &nd->r, &eb);
  if (e) {
    sim_fail(w, "%s cannot reopen its replica: %s", nd->name, li_errmsg(&eb, e));
    return false;
  }
  nd->r->id = &nd->id;
  nd->store = (li_store){.r = nd->r, .max_skew_ms = SIM_MAX_SKEW_MS, .wall_ms = sim_wall(w, nd)};
  nd->sctx = (sim_store_ctx){.w = w, .nd = nd};
  nd->drv = li_driver_new(&nd->dcfg, nd->r, &eb);
  if (!nd->drv) {
    sim_fail(w, "%s: no driver: %s", nd->name, eb.msg);
    li_replica_close(&nd->r);
    return false;
  }
  nd->up = true;
  nd->next_connect = w->now;
  return true;
}

/* The node stops at once: its driver's outputs not yet taken are lost, and
 * an open transaction rolls back, as a crash would. */
static void s_close_node(sim_world *w, sim_node *nd) {
  s_counts_add(w, nd);
  li_driver_destroy(&nd->drv);
  li_replica_close(&nd->r);
  nd->up = false;
}

void sim_crash(sim_world *w, sim_node *nd, sim_fault kind) {
  if (!nd->up) return;
  w->faults[kind]++;
  sim_trace(w, "CRASH %s (%s)", nd->name, sim_fault_names[kind]);
  s_close_node(w, nd);
  nd->restart_at_ms = w->now + 300 + sim_below(&w->rng, 5000);
  /* its connections close: a committee's own, or every one at the hub */
  if (nd->hub) {
    for (int c = 1; c < w->count; c++) sim_conn_break(w, c, "hub crashed");
  } else {
    nd->conn = 0;
    nd->cut_since = 0;
  }
}

static void s_restart(sim_world *w, sim_node *nd) {
  w->faults[F_RESTART]++;
  sim_trace(w, "RESTART %s", nd->name);
  s_open(w, nd);
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
  s_driver_cfg(w, nd);
  return s_open(w, nd);
}

/* ---- the loop ---- */

static void s_step(sim_world *w, bool faults, bool workload) {
  sim_deliver_due(w);
  for (int i = 0; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (!nd->up && nd->restart_at_ms && w->now >= nd->restart_at_ms) s_restart(w, nd);
    if (nd->up && workload && sim_chance(&w->rng, nd->hub ? 120 : 200)) sim_workload_step(w, nd);
  }
  if (faults) sim_faults(w);
  sim_connections(w);
  for (int i = 0; i < w->count; i++) {
    sim_node *nd = &w->n[i];
    if (!nd->up) continue;
    li_driver_tick(nd->drv, sim_now(w, nd));
    sim_flush(w, nd);
    li_driver_peer_info in;
    for (int k = 0; k < w->count; k++)
      if (k != i && li_driver_peer(nd->drv, w->n[k].id.pk, &in) && in.session.in_flight > LI_WINDOW_MAX)
        sim_fail(w, "%s has %u batches in flight to %s", nd->name, in.session.in_flight, w->n[k].name);
  }
}

static bool s_quiet(sim_world *w) {
  for (int i = 0; i < w->count; i++)
    if (w->n[i].up && li_replica_dirty_count(w->n[i].r) != 0) return false;
  return true;
}

/* The hub admits every committee (and the hostile node: it holds a valid key). */
static void s_admit_all(sim_world *w) {
  sim_node *hub = &w->n[SIM_HUB];
  for (int i = 1; i < w->count; i++) {
    char pk[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(w->n[i].id.pk, pk);
    li_errbuf eb;
    if (li_roster_add(hub->r, w->n[i].name, pk, w->n[i].scope, sim_wall(w, hub), &eb) != LI_OK)
      sim_fail(w, "roster: %s", eb.msg);
  }
}

/* Final phase: heal everything, fix every clock, restart the crashed, unplug
 * the hostile node for good, and run to quiescence. */
static void s_final(sim_world *w) {
  w->drop_pm = w->dup_pm = w->reorder_pm = w->delay_pm = 0;
  for (int i = 0; i < w->count; i++) w->n[i].skew_ms = 0;
  for (int i = 0; i < w->count; i++) {
    if (w->n[i].hostile) {
      if (w->n[i].up) sim_crash(w, &w->n[i], F_CRASH);
      w->n[i].restart_at_ms = 0;
    } else if (!w->n[i].up) {
      s_restart(w, &w->n[i]);
    }
  }
  sim_heal(w);
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
  if (!done && !w->failure[0])
    sim_fail(w, "no convergence within %u s of virtual time after the final heal", SIM_QUIESCE_MS / 1000);
  if (!w->failure[0]) sim_check_final(w);
}

typedef struct {
  uint64_t seed, trace, conv;
  int failed;
  uint64_t faults[F__COUNT];
  sim_counts counts;
} s_record;

static int s_run_seed(const sim_opts *o, s_record *rec) {
  sim_world *w = calloc(1, sizeof *w);
  if (!w) return 2;
  w->o = *o;
  w->rng.s = o->seed * UINT64_C(0x2545F4914F6CDD1D) + 1;
  w->msgs = calloc(SIM_MSGS_MAX, sizeof *w->msgs);
  crypto_generichash_init(&w->trace, NULL, 0, 16);
  w->now = 1735689600000ull; /* 2025-01-01, virtual */
  w->count = o->nodes;
  w->schema_version = LI_SCHEMA_VERSION;
  for (int i = 1; i < SIM_NODES_MAX; i++) w->up_to_hub[i] = w->up_from_hub[i] = true;
  bool ok = s_node_init(w, SIM_HUB, true, false);
  for (int i = 1; ok && i < w->count; i++) ok = s_node_init(w, i, false, o->hostile && i == w->count - 1);
  if (ok) s_admit_all(w);
  for (int step = 0; ok && step < o->steps && !w->failure[0]; step++) {
    w->now += 1 + sim_below(&w->rng, 20);
    s_step(w, true, true);
  }
  if (!w->failure[0]) s_final(w);
  unsigned char th[16];
  crypto_generichash_final(&w->trace, th, sizeof th);
  memcpy(&rec->trace, th, sizeof rec->trace);
  rec->conv = w->converge_ms;
  for (int f = 0; f < F__COUNT; f++) rec->faults[f] = w->faults[f];
  for (int i = 0; i < w->count; i++)
    if (w->n[i].up) s_close_node(w, &w->n[i]);
  rec->counts = w->counts;
  int failed = w->failure[0] != 0;
  if (failed) fprintf(stderr, "seed %llu FAILED: %s\n", (unsigned long long)o->seed, w->failure);
  for (int i = 0; i < w->count && !o->keep; i++) {
    char side[600];
    unlink(w->n[i].path);
    snprintf(side, sizeof side, "%s-wal", w->n[i].path), unlink(side);
    snprintf(side, sizeof side, "%s-shm", w->n[i].path), unlink(side);
    snprintf(side, sizeof side, "%s.snap", w->n[i].path), unlink(side);
  }
  for (int i = 0; i < w->count; i++) li_identity_wipe(&w->n[i].id);
  if (o->keep) fprintf(stderr, "seed %llu: replicas kept in %s\n", (unsigned long long)o->seed, o->dir);
  for (size_t i = 0; i < w->nmsgs; i++) free(w->msgs[i].data);
  free(w->msgs);
  free(w);
  return failed;
}

/* ---- main ---- */

static uint32_t s_parse_faults(const char *s) {
  if (strcmp(s, "all") == 0) return SIM_ALL_FAULTS;
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
    if (strcmp(tok, "clock") == 0) m |= 1u << F_SKEW_AHEAD | 1u << F_SKEW_BEHIND | 1u << F_CLOCK_JUMP, found = 1;
    if (strcmp(tok, "hostile") == 0)
      m |= 1u << F_HOSTILE_FORGE | 1u << F_HOSTILE_SCOPE | 1u << F_HOSTILE_EQUIVOCATE | 1u << F_HOSTILE_REPLAY |
           1u << F_HOSTILE_GARBAGE | 1u << F_HOSTILE_BAD_ROW | 1u << F_HOSTILE_SQUAT, found = 1;
    if (strcmp(tok, "liveness") == 0)
      m |= 1u << F_RESTORE | 1u << F_CLOCK_JUMP | 1u << F_HOSTILE_SQUAT | 1u << F_RECOVER | 1u << F_BAD_WRITE, found = 1;
    for (int f = 0; f < F__COUNT; f++)
      if (strcmp(tok, sim_fault_names[f]) == 0) m |= 1u << f, found = 1;
    if (!found) {
      fprintf(stderr, "linli-sim: unknown fault '%s'\n", tok);
      exit(2);
    }
  }
  return m;
}

static void s_account(const s_record *r, uint64_t from, bool print, uint64_t *conv, uint64_t *totals, sim_counts *counts,
                      uint64_t *failed) {
  conv[r->seed - from] = r->conv;
  for (int k = 0; k < F__COUNT; k++) totals[k] += r->faults[k];
  counts->sessions += r->counts.sessions;
  counts->reconnects += r->counts.reconnects;
  counts->fanouts += r->counts.fanouts;
  counts->seals += r->counts.seals;
  counts->drops += r->counts.drops;
  counts->conn_breaks += r->counts.conn_breaks;
  counts->mig_cut += r->counts.mig_cut;
  counts->mig_cut_runs += r->counts.mig_cut_runs;
  counts->mig_refused += r->counts.mig_refused;
  counts->schema_held += r->counts.schema_held;
  counts->new_writes += r->counts.new_writes;
  counts->old_writes += r->counts.old_writes;
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
          "                 [--verbose] [--dir DIR] [--jobs J] [--keep]\n"
          "  --nodes N     hub + committees (+ the hostile node), 3..%d (default 5)\n"
          "  --steps N     virtual steps of 1-20 ms with workload and faults (default 1500)\n"
          "  --faults L    all (default), none, or a comma list of: net, partition, crash, clock, hostile,\n"
          "                liveness (restore_backup, clock_jump_days, hostile_squat, recover_replace, bad writes),\n"
          "                migrate (the hub applies schema migrations, often while committees are cut off),\n"
          "                or single kinds (drop, duplicate, reorder, delay, partition_hub_isolated, ...)\n"
          "  --verbose     print the trace\n"
          "  --jobs J      run seeds in J processes (results do not depend on J)\n"
          "  --keep        keep each node's replica (DIR/jJ/NAME.db) for a look with sqlite3 or linli\n"
          "The same seed gives the same trace hash. A failing seed prints the command that replays it.\n",
          SIM_NODES_MAX);
}

/* Progress of a run of many seeds, on stderr every S_PROGRESS_S seconds of
 * wall time (the seeds' own time is virtual): seeds done, failures so far,
 * time left at the pace so far. */
#define S_PROGRESS_S 5.0
typedef struct {
  double t0, last;
  uint64_t n, done;
} s_prog;

static double s_mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_progress(s_prog *p, uint64_t failed) {
  p->done++;
  double now = s_mono_s();
  if (p->n < 2 || now - p->last < S_PROGRESS_S || p->done == p->n) return;
  p->last = now;
  double el = now - p->t0, left = el / (double)p->done * (double)(p->n - p->done);
  fprintf(stderr, "progress: %llu of %llu seeds, %llu failed, %.0f s so far, about %.0f s left\n",
          (unsigned long long)p->done, (unsigned long long)p->n, (unsigned long long)failed, el, left);
}

int main(int argc, char **argv) {
  sim_opts o = {.seed = 1, .nodes = 5, .steps = 1500, .hostile = true, .faults_mask = SIM_ALL_FAULTS};
  uint64_t from = 1, to = 1;
  int jobs = 1;
  const char *faults_arg = "all";
  static const struct option lo[] = {{"seed", 1, 0, 's'},    {"seeds", 1, 0, 'S'},   {"nodes", 1, 0, 'n'},
                                     {"steps", 1, 0, 't'},   {"faults", 1, 0, 'f'},  {"verbose", 0, 0, 'v'},
                                     {"dir", 1, 0, 'd'},     {"no-hostile", 0, 0, 'H'}, {"help", 0, 0, 'h'}, {"jobs", 1, 0, 'j'}, {"keep", 0, 0, 'k'},
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
    case 'k': o.keep = true; break;
    case 'h': s_usage(stdout); return 0;
    default: s_usage(stderr); return 2;
    }
  }
  if (o.nodes < 3 || o.nodes > SIM_NODES_MAX || o.steps < 0 || jobs < 1 || jobs > 64) {
    s_usage(stderr);
    return 2;
  }
  if (!(o.faults_mask & (1u << F_HOSTILE_FORGE | 1u << F_HOSTILE_SCOPE | 1u << F_HOSTILE_EQUIVOCATE |
                         1u << F_HOSTILE_REPLAY | 1u << F_HOSTILE_GARBAGE | 1u << F_HOSTILE_BAD_ROW |
                         1u << F_HOSTILE_SQUAT)))
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
  sim_counts counts = {0};
  uint64_t *conv = calloc(nseeds, sizeof *conv);
  if (!conv) return 2;
  if (jobs > (int)nseeds) jobs = (int)nseeds;
  /* jobs > 1: children run seeds from+j, from+j+jobs, ... and report each
   * seed's record through a pipe; every seed is still a world of its own,
   * so the results do not depend on the number of jobs */
  int fds[2] = {-1, -1};
  pid_t kids[64];
  s_prog prog = {.t0 = s_mono_s(), .last = s_mono_s(), .n = nseeds};
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
      rec.failed = s_run_seed(&oj, &rec);
      if (rec.failed)
        fprintf(stderr, "replay: %s --seed %llu --nodes %d --steps %d --faults %s%s\n", argv[0], (unsigned long long)s,
                o.nodes, o.steps, faults_arg, o.hostile ? "" : " --no-hostile");
      if (jobs > 1) {
        if (write(fds[1], &rec, sizeof rec) != (ssize_t)sizeof rec) _exit(3);
      } else {
        s_account(&rec, from, nseeds == 1 || o.verbose, conv, totals, &counts, &failed);
        s_progress(&prog, failed);
      }
    }
    if (!o.keep) rmdir(sub);
    if (jobs > 1) _exit(0);
  }
  if (jobs > 1) {
    close(fds[1]);
    s_record rec;
    while (read(fds[0], &rec, sizeof rec) == (ssize_t)sizeof rec) {
      s_account(&rec, from, nseeds == 1 || o.verbose, conv, totals, &counts, &failed);
      s_progress(&prog, failed);
    }
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
  if (o.dir == dirbuf && !o.keep) rmdir(dirbuf);
  qsort(conv, nseeds, sizeof *conv, s_cmp_u64);
  printf("seeds run: %llu (%llu..%llu), failed: %llu\n", (unsigned long long)nseeds, (unsigned long long)from,
         (unsigned long long)to, (unsigned long long)failed);
  printf("faults injected:\n");
  for (int k = 0; k < F__COUNT; k++) {
    if (o.faults_mask >> k & 1u) printf("  %-24s %llu\n", sim_fault_names[k], (unsigned long long)totals[k]);
    else printf("  %-24s off\n", sim_fault_names[k]);
  }
  printf("through the shared node driver (node/driver.c):\n"
         "  sessions                 %llu (of them reconnects: %llu; connections closed: %llu, by the hub: %llu)\n"
         "  fan-outs after an apply  %llu\n"
         "  seals                    %llu\n",
         (unsigned long long)counts.sessions, (unsigned long long)counts.reconnects,
         (unsigned long long)counts.conn_breaks, (unsigned long long)counts.drops, (unsigned long long)counts.fanouts,
         (unsigned long long)counts.seals);
  if (o.faults_mask >> F_MIGRATE & 1u)
    printf("schema migrations (the hub's `linli schema apply`):\n"
           "  applied                  %llu (while a committee was cut off: %llu, in %llu of %llu runs)\n"
           "  refused                  %llu (DROP, RENAME, CHECK or NOT NULL without DEFAULT on an added column,\n"
           "                           UNIQUE index: refused with nothing changed)\n"
           "  held for schema          %llu (a chain stopped at a commit of a newer version than the replica's)\n"
           "  writes with a new column or table %llu; committee writes under an older schema than the hub's %llu\n",
           (unsigned long long)totals[F_MIGRATE], (unsigned long long)counts.mig_cut,
           (unsigned long long)counts.mig_cut_runs, (unsigned long long)nseeds, (unsigned long long)counts.mig_refused,
           (unsigned long long)counts.schema_held,
           (unsigned long long)counts.new_writes, (unsigned long long)counts.old_writes);
  printf("virtual time to converge after the final heal: median %llu ms, max %llu ms\n",
         (unsigned long long)conv[nseeds / 2], (unsigned long long)conv[nseeds - 1]);
  free(conv);
  return failed ? 1 : 0;
}

/* sim: the deterministic network-split simulator (linli-sim).
 *
 * One process runs a hub and N committees, each with its own real SQLite
 * replica, the real capture triggers, seal, merge and sync session code,
 * over a virtual network with virtual time and one seeded PRNG. Nothing
 * reads the wall clock or an unseeded random source, and nothing depends on
 * hash-table order: the same seed gives the same trace (and trace hash).
 *
 * Parts: sim.c (world, network, faults, main), workload.c (SQL writes of
 * the street schema), oracle.c (independent model of the merge rules and
 * the end-of-run invariants). */
#ifndef LI_SIM_H
#define LI_SIM_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "keys.h"
#include "replica.h"
#include "session.h"
#include "store.h"

#define SIM_NODES_MAX 12
#define SIM_HUB 0
/* every limit of the simulation, with its reason */
#define SIM_MSGS_MAX 4096          /* in-flight messages: window * nodes * dup factor, well above */
#define SIM_MAX_SKEW_MS 5000u      /* max_clock_skew_ms of every node, scaled down for virtual time */
#define SIM_AHEAD_MS 20000         /* a clock "far ahead": beyond the skew guard */
#define SIM_QUIESCE_MS (600u * 1000) /* final phase: virtual time allowed to converge */

typedef enum {
  F_DROP, F_DUP, F_REORDER, F_DELAY,
  F_PART_HUB, F_PART_SPLIT, F_PART_ONE, F_PART_ASYM, F_HEAL,
  F_CRASH, F_CRASH_AFTER_APPLY, F_CRASH_MID_TXN, F_RESTART,
  F_SKEW_AHEAD, F_SKEW_BEHIND,
  F_HOSTILE_FORGE, F_HOSTILE_SCOPE, F_HOSTILE_EQUIVOCATE, F_HOSTILE_REPLAY, F_HOSTILE_GARBAGE,
  F__COUNT
} sim_fault;

extern const char *const sim_fault_names[F__COUNT];

typedef struct {
  uint64_t s;
} sim_rng;

uint64_t sim_rand(sim_rng *r);
/* uniform in [0, n) (n > 0) */
uint32_t sim_below(sim_rng *r, uint32_t n);
/* true with probability per_mille / 1000 */
bool sim_chance(sim_rng *r, uint32_t per_mille);

typedef struct sim_node {
  int idx;
  bool hub, hostile, up;
  char name[16], scope[16];
  li_identity id;
  char path[512];
  li_replica *r;
  li_store store;
  li_session *sess[SIM_NODES_MAX]; /* hub: per committee; committee: [0] = hub */
  int64_t skew_ms;
  uint64_t next_seal_ms;
  uint64_t restart_at_ms;
  int hostile_seq_forged; /* hostile: the seq it equivocated at, 0 if none */
} sim_node;

typedef struct {
  uint64_t at, order;
  int from, to;
  uint8_t *data;
  size_t len;
} sim_msg;

typedef struct {
  uint64_t seed;
  int nodes;              /* committees + hub (+ hostile) */
  int steps;
  bool verbose;
  bool hostile;
  uint32_t faults_mask;   /* bit per sim_fault */
  const char *dir;        /* where replicas live */
  const char *argv0;
} sim_opts;

typedef struct {
  sim_opts o;
  sim_rng rng;
  uint64_t now;
  sim_node n[SIM_NODES_MAX];
  int count;
  /* links committee <-> hub, per direction */
  bool up_to_hub[SIM_NODES_MAX], up_from_hub[SIM_NODES_MAX];
  sim_msg *msgs;
  size_t nmsgs;
  uint64_t order;
  /* fault profile in force */
  uint32_t drop_pm, dup_pm, reorder_pm, delay_pm;
  uint64_t faults[F__COUNT];
  uint64_t held_seen, held_wrong; /* clock_ahead rejections; those not beyond the guard */
  crypto_generichash_state trace;
  uint64_t trace_events;
  char failure[1024];
  uint64_t converge_ms;
  uint64_t queue_peak;
} sim_world;

/* trace: every event is folded into the trace hash; printed with --verbose */
void sim_trace(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* marks the run failed (first failure wins) */
void sim_fail(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* workload.c */
void sim_workload_step(sim_world *w, sim_node *nd);
/* an open write transaction left behind by a crash mid-transaction */
void sim_workload_open_txn(sim_world *w, sim_node *nd);

/* oracle.c: the end-of-run invariants; returns false and fills w->failure */
bool sim_check_final(sim_world *w);
/* per-scope digests equal on every honest node (cheap, used to detect convergence) */
bool sim_converged(sim_world *w);

#endif

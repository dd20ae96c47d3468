/* sim: the deterministic network-split simulator (linli-sim).
 *
 * One process runs a hub and N committees, each with its own real SQLite
 * replica, the real capture triggers and the real node driver
 * (node/driver.c: sessions, seal schedule, fan-out, roster re-checks), fed
 * by a virtual network with virtual time and one seeded PRNG, exactly as
 * `linli serve` feeds it from ZeroMQ and the system clock. Nothing reads the
 * wall clock or an unseeded random source, and nothing depends on
 * hash-table order: the same seed gives the same trace (and trace hash).
 *
 * Parts: sim.c (world, nodes, the store wrapper, main), net.c (virtual
 * network and connections), fault.c (faults, the hostile node, the hub's
 * schema migrations), workload.c (SQL writes of the street schema and of
 * what migrations added to it), oracle.c (independent model of the merge
 * rules and the end-of-run invariants).
 *
 * Connections are modelled as ZeroMQ has them: a committee connects when
 * the hub is up, the link works both ways and its key passes ZAP (an active
 * roster member); a cut link keeps the connection (messages are lost) until
 * it has been cut for SIM_CONN_BREAK_MS, then the committee sees it drop;
 * a crashed hub drops every connection at once. Every connection has a new
 * id, so the hub's driver sees a reconnect as a new connection, and messages
 * of a connection that is gone are never delivered. */
#ifndef LI_SIM_H
#define LI_SIM_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "keys.h"
#include "replica.h"
#include "driver.h"
#include "session.h"
#include "store.h"

#define SIM_NODES_MAX 12
#define SIM_HUB 0
/* every limit of the simulation, with its reason */
#define SIM_MSGS_MAX 4096          /* in-flight messages: window * nodes * dup factor, well above */
#define SIM_MAX_SKEW_MS 5000u      /* max_clock_skew_ms of every node, scaled down for virtual time */
#define SIM_AHEAD_MS 20000         /* a clock "far ahead": beyond the skew guard */
#define SIM_QUIESCE_MS (600u * 1000) /* final phase: virtual time allowed to converge */
#define SIM_CONN_BREAK_MS 2000     /* a link cut this long drops the connection (ZeroMQ heartbeats) */
#define SIM_CONNECT_MS 200         /* a committee tries to connect this often (ZeroMQ reconnect) */
#define SIM_JUMP_MS (3 * 86400000LL) /* a date "days ahead": the clock guard must stop sealing */
#define SIM_OLD_KEYS_MAX 4         /* recoveries a committee makes in one run */
#define SIM_MIGRATIONS_MAX 8       /* the migrations a run may apply (fault.c's list; a bit each in mig_done) */

typedef enum {
  F_DROP, F_DUP, F_REORDER, F_DELAY,
  F_PART_HUB, F_PART_SPLIT, F_PART_ONE, F_PART_ASYM, F_HEAL,
  F_CRASH, F_CRASH_AFTER_APPLY, F_CRASH_MID_TXN, F_RESTART,
  F_SKEW_AHEAD, F_SKEW_BEHIND,
  F_HOSTILE_FORGE, F_HOSTILE_SCOPE, F_HOSTILE_EQUIVOCATE, F_HOSTILE_REPLAY, F_HOSTILE_GARBAGE,
  F_BAD_WRITE,       /* an honest write a receiver would refuse: the trigger must refuse it */
  F_HOSTILE_BAD_ROW, /* a valid commit of the hostile node with a bad row among good ones */
  F_RESTORE,         /* a committee restarts from an earlier snapshot of its replica (a restored backup) */
  F_CLOCK_JUMP,      /* a committee's date jumps days ahead (corrected later) */
  F_HOSTILE_SQUAT,   /* the hostile node writes, in its scope, the keys of another scope's rows */
  F_RECOVER,         /* a committee runs `linli recover`, the hub `roster replace` */
  F_MIGRATE,         /* the hub applies the next street schema migration (DESIGN 14), often during a cut */
  F__COUNT
} sim_fault;

extern const char *const sim_fault_names[F__COUNT];

#define SIM_ALL_FAULTS ((1u << F__COUNT) - 1)

typedef struct {
  uint64_t s;
} sim_rng;

uint64_t sim_rand(sim_rng *r);
/* uniform in [0, n) (n > 0) */
uint32_t sim_below(sim_rng *r, uint32_t n);
/* true with probability per_10k / 10000 (for the rare faults) */
bool sim_chance_10k(sim_rng *r, uint32_t per_10k);
/* true with probability per_mille / 1000 */
bool sim_chance(sim_rng *r, uint32_t per_mille);

typedef struct sim_world sim_world;
typedef struct sim_node sim_node;

/* What the store wrapper needs to find its node (no static state). */
typedef struct {
  sim_world *w;
  sim_node *nd;
} sim_store_ctx;

struct sim_node {
  int idx;
  bool hub, hostile, up;
  char name[16], scope[16];
  li_identity id;
  char path[512];
  li_replica *r;
  li_store store;          /* the replica's store, behind the wrapper */
  sim_store_ctx sctx;
  li_driver *drv;
  li_driver_cfg dcfg;      /* drawn once per node from the seed */
  uint64_t conn;           /* committee: id of its connection to the hub, 0: none */
  uint64_t cut_since;      /* committee: when its link was last seen cut, 0: not cut */
  uint64_t next_connect;   /* committee: next connection attempt */
  int64_t skew_ms;
  uint64_t restart_at_ms;
  int hostile_seq_forged; /* hostile: the seq it equivocated at, 0 if none */
  bool has_snap;           /* committee: a snapshot of its replica (VACUUM INTO) at path.snap */
  uint8_t old_keys[SIM_OLD_KEYS_MAX][LI_PK_BYTES]; /* keys it signed with before `recover` */
  int nold;
};

typedef struct {
  uint64_t at, order;
  int from, to;
  uint64_t conn;           /* the connection it travels on */
  uint8_t *data;
  size_t len;
} sim_msg;

typedef struct {
  uint64_t seed;
  int nodes;              /* committees + hub (+ hostile) */
  int steps;
  bool verbose;
  bool hostile;
  bool keep;              /* keep the replicas (--keep) */
  uint32_t faults_mask;   /* bit per sim_fault */
  const char *dir;        /* where replicas live */
  const char *argv0;
} sim_opts;

/* Counted over every node's driver, restarts included; and what the
 * migrate kind made happen (the world counts those itself). */
typedef struct {
  uint64_t sessions, reconnects, fanouts, seals, drops, conn_breaks;
  uint64_t mig_cut;        /* migrations applied while an honest committee was cut off */
  uint64_t mig_cut_runs;   /* runs (seeds) with at least one of those */
  uint64_t mig_refused;    /* migrations the hub tried that had to be refused (they were, changing nothing) */
  uint64_t schema_held;    /* applies that stopped a chain at a commit of a newer schema (LI_ERR_SCHEMA_AHEAD) */
  uint64_t new_writes;     /* workload writes that set a migrated column or wrote a migrated table */
  uint64_t old_writes;     /* committee writes made at an older schema version than the hub's */
} sim_counts;

struct sim_world {
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
  uint64_t next_conn;     /* connection ids, from 1 */
  sim_counts counts;
  /* migrations: bit k set when fault.c's migration k was applied; the
   * hub's schema version (1 + the number of bits set) */
  uint32_t mig_done;
  uint32_t schema_version;
};

/* trace: every event is folded into the trace hash; printed with --verbose */
void sim_trace(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* marks the run failed (first failure wins) */
void sim_fail(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sim.c: a node's wall clock (coarse, skewed) and its driver's time */
uint64_t sim_wall(const sim_world *w, const sim_node *nd);
li_now sim_now(const sim_world *w, const sim_node *nd);
bool sim_enabled(const sim_world *w, sim_fault f);
void sim_crash(sim_world *w, sim_node *nd, sim_fault kind);
/* takes the node's driver outputs: messages into the network, logs into the trace */
void sim_flush(sim_world *w, sim_node *nd);

/* net.c */
bool sim_link_up(const sim_world *w, int c);
void sim_send(sim_world *w, int from, int to, uint64_t conn, uint8_t *data, size_t len);
void sim_deliver_due(sim_world *w);
/* connections: drops those cut too long, connects those that can */
void sim_connections(sim_world *w);
/* the connection of committee c ends (its node sees it drop if it is up) */
void sim_conn_break(sim_world *w, int c, const char *why);
void sim_partition(sim_world *w);
void sim_heal(sim_world *w);
li_conn sim_conn_id(int c, uint64_t conn);

/* fault.c */
void sim_faults(sim_world *w);

/* workload.c */
void sim_workload_step(sim_world *w, sim_node *nd);
/* an open write transaction left behind by a crash mid-transaction */
void sim_workload_open_txn(sim_world *w, sim_node *nd);

/* oracle.c: the end-of-run invariants; returns false and fills w->failure */
bool sim_check_final(sim_world *w);
/* per-scope digests equal on every honest node (cheap, used to detect convergence) */
bool sim_converged(sim_world *w);

#endif

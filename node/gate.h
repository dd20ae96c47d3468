/* gate: when a node may seal (DESIGN 5, 13), as a sans-IO state machine.
 *
 * Sealing stamps new commits #head+1, #head+2 ... of this node's own chains.
 * Two honest mistakes make that harmful, and the gate holds sealing back
 * until they are ruled out; rows written meanwhile stay unsealed in their
 * tables (status says so), so nothing is lost:
 *  - a restored backup, or a node folder copied to another PC, holds fewer
 *    of its own commits than the street already has: sealing now would
 *    reuse sequence numbers and fork its own chain. The node first takes
 *    back, from a peer that holds them, the commits of its own chains that
 *    it lacks (merge applies them without sealing first, see
 *    li_merge_opts.seal_first) and only then seals;
 *  - a committee whose wall clock is more than max_skew_ms ahead of the
 *    hub's would stamp commits every receiver holds as "clock ahead" (and
 *    the HLC never goes back): it does not seal while that lasts.
 *
 * Inputs (by the node driver): a peer's view of our own chains from its
 * Hello (li_gate_chain, one call per own chain the peer reads, between
 * li_gate_round_begin and li_gate_round_end), the hub's wall clock from its
 * Hello (li_gate_hub_clock), and the time (li_gate_clock). Output: li_gate_may_seal, and
 * the state and its sentence for logs and status.
 *
 *   WAITING --round_end: every own chain the peers showed is not ahead of ours,
 *             and (committee) the hub was heard, or (hub) every committee was
 *             heard or the grace period is over--> OPEN
 *   WAITING|OPEN --round_end: a peer holds more of an own chain--> TAKING_BACK
 *   TAKING_BACK --round_end: a peer's view was heard, nothing ahead any more--> OPEN
 *             (a round that heard nobody proves nothing: it stays)
 *   any --round_end: a peer's hash at one of our seqs differs--> FORKED
 *             (final for this process: the way out is `linli recover`)
 *
 * Invariants (s_check): the state is one of the four; FORKED never changes;
 * a detail sentence is set in every state but OPEN. */
#ifndef LI_GATE_H
#define LI_GATE_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"

typedef enum { LI_GATE_WAITING = 1, LI_GATE_TAKING_BACK, LI_GATE_FORKED, LI_GATE_OPEN } li_gate_state;

typedef struct {
  li_role role;
  li_gate_state state;
  uint64_t started_ms;
  uint64_t grace_ms;        /* hub: how long to wait for committees before sealing anyway */
  uint64_t max_skew_ms;
  char detail[256];         /* what holds sealing back, in words ("" when open) */
  /* the clock guard (committees) */
  bool clock_known;
  uint64_t hub_wall_ms, hub_mono_ms; /* the hub's wall clock at its last Hello, our monotonic ms then */
  int64_t ahead_ms;         /* our wall clock minus the hub's (estimated now) */
  /* the current round */
  bool in_round, any_ahead, any_fork, heard;
  char round_detail[256];
} li_gate;

/* The hub waits this long after it starts for its committees' Hellos
 * before it seals anyway (a committee offline for days cannot be waited
 * for). */
#define LI_GATE_HUB_GRACE_MS 10000u

void li_gate_init(li_gate *g, li_role role, uint64_t now_ms, uint64_t max_skew_ms);

void li_gate_round_begin(li_gate *g);
/* One own chain (scope) as a peer (name) holds it: its seq, ours, and
 * whether our commit at its seq has its hash (true when it holds none). */
void li_gate_chain(li_gate *g, const char *peer, const char *scope, uint64_t theirs, uint64_t ours,
                   bool hashes_agree);
/* heard_all: the committee heard the hub; the hub heard every active
 * committee. Returns true when the state changed. */
bool li_gate_round_end(li_gate *g, bool heard_all, uint64_t now_ms);

/* A committee learns the hub's clock from a Hello: the hub's wall clock
 * then, and our monotonic time when it arrived. */
void li_gate_hub_clock(li_gate *g, uint64_t hub_wall_ms, uint64_t mono_ms);
/* Our wall clock now against the hub's, carried forward from its last
 * Hello by our monotonic clock: a date changed between two Hellos trips
 * the guard at once. Returns true when the guard changed (tripped or
 * released). */
bool li_gate_clock(li_gate *g, uint64_t our_wall_ms, uint64_t mono_ms);

bool li_gate_may_seal(const li_gate *g);
/* Whether merge may seal pending local writes before applying others'. */
bool li_gate_may_seal_first(const li_gate *g);
/* One line on what holds sealing back, in English and Chinese; "" when
 * nothing does. */
void li_gate_describe(const li_gate *g, char *out, size_t cap);

#endif

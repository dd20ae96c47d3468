/* fuzz_util: what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share, and
 * what the corpus generator (gen_corpus.c) uses to make their seeds.
 *
 * Owns: a fixed test identity (the street hub, whose key is the network id),
 * signing of raw Commit bytes with it, a deterministic builder of one-row
 * commits, a committee replica in a temporary directory that can be put
 * back to a pristine copy, and an in-memory li_store_vt for the session
 * harnesses.
 *
 * Invariant: everything is deterministic (fixed keys, fixed clock, fixed
 * base commits), so an input always meets the same state and a crash found
 * once replays from its file. */
#ifndef LI_FUZZ_UTIL_H
#define LI_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "replica.h"
#include "session.h"

/* The harnesses' wall clock: 2025-03-01T00:00:00Z. */
#define FZ_WALL_MS UINT64_C(1740787200000)

/* Once per process: libsodium, quiet logs, the test identity. */
void fz_init(void);

/* The hub: Ed25519 key from the seed 32 x 0x01. Its key is the network id. */
const li_identity *fz_hub(void);

/* A SignedCommit around commit bytes, signed by the hub for its network.
 * Caller frees; NULL when out of memory. */
uint8_t *fz_sign(const uint8_t *commit, size_t len, size_t *out_len);

/* One row change by the hub, as seal would make it. */
typedef struct {
  const char *scope;        /* the chain's and the row's scope */
  uint64_t seq;
  const uint8_t *prev;      /* hash of commit seq - 1; NULL for seq 1 */
  uint64_t hlc;
  const char *table;
  const char *id;           /* the primary key */
  uint64_t cl;              /* causal length: odd alive, even deleted */
  int ncols;                /* columns besides scope (alive rows only) */
  const char *const *cols;
  const char *const *vals;  /* text; NULL is SQL NULL */
} fz_row;

/* Encoded Commit bytes of r (caller frees); its hash in hash if not NULL. */
uint8_t *fz_commit(const fz_row *r, size_t *len, uint8_t hash[LI_HASH_BYTES]);

/* The commits every populated fz_replica holds: c07#1 (care_visits v1) and
 * street#1 (notices n1), both by the hub. */
#define FZ_BASE_N 2
uint8_t *fz_base_commit(int i, size_t *len, uint8_t hash[LI_HASH_BYTES]);

/* A committee replica (c07, network = the hub's key) in a fresh temp dir,
 * removed at exit. */
typedef struct {
  char dir[256];
  char db[300];
  uint8_t *pristine;        /* replica.db as created */
  size_t pristine_len;
  li_replica *r;
} fz_replica;

/* Creates it (holding the base commits if populated); aborts on failure,
 * which is the harness's own fault, never the input's. */
void fz_replica_new(fz_replica *f, bool populated);
/* Puts the pristine copy back and reopens it. */
void fz_replica_reset(fz_replica *f);

/* ---- sessions ---- */

/* An in-memory store of SignedCommits (unsigned: it checks chain positions
 * only, which is all the session relies on), seeded with a few chains. */
typedef struct fz_store fz_store;
fz_store *fz_store_new(void);
void fz_store_free(fz_store **s);
extern const li_store_vt fz_store_vt;

/* Keys the fake sessions use: network 32 x 0x77, us 0xB2 (hub), peer 0xA1. */
#define FZ_NET_BYTE 0x77
#define FZ_SELF_BYTE 0xB2
#define FZ_PEER_BYTE 0xA1

/* A small window and batches, so a few commits make several batches. */
void fz_session_cfg(li_session_cfg *cfg, bool initiator);

/* Unsigned SignedCommit bytes of (origin 32 x byte, scope, seq); caller frees. */
uint8_t *fz_fake_commit(uint8_t origin, const char *scope, uint64_t seq, size_t *len);

/* An Envelope holding a Hello from node (32 x byte) in network 32 x
 * FZ_NET_BYTE for exchange, with heads; caller frees. */
uint8_t *fz_hello(uint8_t node, const li_head *heads, size_t n, uint64_t exchange, size_t *len);

/* Drains a session's out-queue and events (the adapter's part). */
void fz_drain(li_session *s);

#endif

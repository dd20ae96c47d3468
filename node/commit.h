/* commit: sealing and opening signed commits, and reading a commit's chain
 * position straight from its bytes.
 *
 * Opening is fail-closed and in this order: size cap, wrapper decode, network,
 * signature over the exact commit bytes, and only then the commit's own
 * decode and structural checks. Nothing of an unverified commit is used.
 * Schema checks (tables, columns, types) belong to merge, which knows the
 * replica's catalogue.
 *
 * The chain position (origin, scope, seq) is what routing needs of commits
 * that were verified before (a store's log, a batch just applied): it is
 * read from the protobuf wire format without decoding rows or checking the
 * signature, so it costs no allocation and no work in the commit's size.
 *
 * Invariants:
 *  1. li_commit_pos refuses every input protobuf-c would refuse for the
 *     top-level fields of SignedCommit and Commit (truncation, bad varints,
 *     groups, wire types of known fields; not the contents of nested
 *     messages, deps and tables, which it never reads), and where both
 *     accept they read the same values (the last occurrence wins).
 *     tests/fuzz/fuzz_commit_pos.c checks the second half.
 *  2. li_commit_pos never reads outside [sc, sc + len) and bounds every
 *     length before using it; its outputs are zero when it refuses. */
#ifndef LI_COMMIT_H
#define LI_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "linli.pb-c.h"

/* SignedCommit bytes, borrowed. */
typedef struct {
  const uint8_t *sc;
  size_t len;
} li_blob;

typedef struct {
  const Linli__Commit *c;   /* decoded, lives in the arena */
  const uint8_t *origin;    /* 32 bytes, inside c */
  const char *scope;
  uint64_t seq, hlc;
  uint8_t hash[LI_HASH_BYTES];
  size_t nrows;             /* row changes in all tables */
  const uint8_t *sc;        /* the SignedCommit bytes (borrowed from the caller) */
  size_t sc_len;
} li_commit;

/* Verifies and decodes SignedCommit bytes. Errors: LI_ERR_TOO_BIG,
 * LI_ERR_DECODE, LI_ERR_WRONG_NETWORK, LI_ERR_BAD_SIG. */
li_err li_commit_open(const uint8_t network[LI_PK_BYTES], const uint8_t *sc, size_t len, li_arena *a,
                      li_commit *out, li_errbuf *eb);

/* Packs c (whose origin must be id's key), signs it and returns the
 * SignedCommit bytes in *out (malloc'd; caller frees) and the commit hash. */
li_err li_commit_seal(const li_identity *id, const uint8_t network[LI_PK_BYTES], const Linli__Commit *c,
                      uint8_t **out, size_t *out_len, uint8_t hash[LI_HASH_BYTES], li_errbuf *eb);

/* The chain position of SignedCommit bytes: SignedCommit.commit, then its
 * Commit.origin, scope and seq. true when the bytes are well-formed at the
 * level of fields, the commit is at most LI_COMMIT_BYTES_MAX bytes (the
 * whole at most LI_SIGNED_COMMIT_BYTES_MAX), origin has LI_PK_BYTES bytes
 * and scope at most LI_SCOPE_MAX and no NUL (absent: ""; absent seq: 0).
 * Unknown fields are skipped. Nothing else is checked: not the signature,
 * not the rows, not whether scope and seq are valid (li_commit_open does
 * that). false otherwise, with origin, scope and *seq zeroed. */
bool li_commit_pos(const uint8_t *sc, size_t len, uint8_t origin[LI_PK_BYTES], char scope[LI_SCOPE_MAX + 1],
                   uint64_t *seq);

/* The hash of the Commit inside SignedCommit bytes (the hash its chain
 * records, li_commit_open's out->hash), read as li_commit_pos reads the
 * position: nothing is verified. false when the bytes hold no commit. */
bool li_commit_claimed_hash(const uint8_t *sc, size_t len, uint8_t hash[LI_HASH_BYTES]);

/* "c07#12" style name of a chain position for messages: scope#seq by key-prefix. */
void li_commit_name(const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq, char *buf, size_t cap);

#endif

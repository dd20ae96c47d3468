/* commit: sealing and opening signed commits.
 *
 * Opening is fail-closed and in this order: size cap, wrapper decode, network,
 * signature over the exact commit bytes, and only then the commit's own
 * decode and structural checks. Nothing of an unverified commit is used.
 * Schema checks (tables, columns, types) belong to merge, which knows the
 * replica's catalogue. */
#ifndef LI_COMMIT_H
#define LI_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "err.h"
#include "keys.h"
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

/* "c07#12" style name of a chain position for messages: scope#seq by key-prefix. */
void li_commit_name(const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq, char *buf, size_t cap);

#endif

/* heads: the words the sync core and the chain module share for chain
 * positions and commit bytes: a head (li_head), a list of heads
 * (li_heads), a range of one chain (li_range) and owned commit bytes
 * (li_blobs).
 *
 * Owns these plain types and their two clear functions, nothing else. It
 * is free of SQLite and of the session: node/chain.h (which fills them from
 * the database) and node/session.h (which sends and receives them, sans
 * IO) both include it, and neither includes the other.
 *
 * Invariants:
 *  1. li_heads and li_blobs own their arrays: v holds n of cap elements
 *     (v is NULL when cap is 0), and every li_blobs v[i].sc is malloc'd;
 *     bytes is the sum of their lengths.
 *  2. A zeroed li_heads or li_blobs is empty and valid; the clear
 *     functions free what they own and leave it zeroed (safe twice). */
#ifndef LI_HEADS_H
#define LI_HEADS_H

#include <stddef.h>
#include <stdint.h>
#include "commit.h"
#include "keys.h"
#include "li_limits.h"

/* The applied head of chain (origin, scope): its newest commit. */
typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
  uint8_t hash[LI_HASH_BYTES];
} li_head;

typedef struct {
  li_head *v;
  size_t n, cap;
} li_heads;

/* Commits (origin, scope) from_seq..to_seq, inclusive. */
typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t from_seq, to_seq;
} li_range;

typedef struct {
  li_blob *v; /* each v[i].sc is malloc'd */
  size_t n, cap;
  size_t bytes;
} li_blobs;

void li_heads_clear(li_heads *h);
void li_blobs_clear(li_blobs *b);

#endif

/* store: li_store_vt over a replica. Heads and fetch are the chain
 * module's (li_chain_heads, li_chain_fetch: a k-way merge in (hlc, origin,
 * seq) order over per-range index scans). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

static li_err s_heads(void *ctx, const li_scopes *scopes, li_heads *out, li_errbuf *eb) {
  li_store *s = ctx;
  return li_chain_heads(s->r, scopes, out, eb);
}

static li_err s_hash_at(void *ctx, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  li_store *s = ctx;
  return li_replica_log_hash(s->r, origin, scope, seq, out, found, eb);
}

static li_err s_fetch(void *ctx, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                      li_blobs *out, li_errbuf *eb) {
  li_store *s = ctx;
  return li_chain_fetch(s->r, ranges, n, max_count, max_bytes, out, eb);
}

static li_err s_apply(void *ctx, const li_blob *commits, size_t n, uint64_t now_ms, li_merge_stats *st, li_errbuf *eb) {
  li_store *s = ctx;
  li_merge_opts o = {.wall_ms = now_ms, .max_skew_ms = s->max_skew_ms, .mode = LI_MERGE_KEEP_PREFIX};
  li_err e = li_merge_batch(s->r, commits, n, &o, st, eb);
  s->applied_total += (uint64_t)st->applied;
  s->sealed_total += (uint64_t)st->sealed;
  if (e != LI_OK && st->reject == e) return LI_OK; /* a rejection, described in st */
  return e;
}

const li_store_vt li_store_replica_vt = {
    .heads = s_heads,
    .hash_at = s_hash_at,
    .fetch = s_fetch,
    .apply = s_apply,
};

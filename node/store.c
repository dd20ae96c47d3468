/* store: li_store_vt over a replica. Heads and fetch are the chain
 * module's (li_chain_heads, li_chain_fetch: a k-way merge in (hlc, origin,
 * seq) order over per-range index scans). */
#include "store.h"

#include "merge.h"

#include <assert.h>
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

/* The chain position a commit claims, read without verifying it (only to
 * name the chain a rejection stops); false when it names no valid chain. */
static bool s_claimed_pos(const li_blob *b, uint8_t origin[LI_PK_BYTES], char scope[LI_SCOPE_MAX + 1], uint64_t *seq) {
  return li_commit_pos(b->sc, b->len, origin, scope, seq) && li_valid_scope(scope) && *seq >= 1;
}

/* Chain by chain (session.h): merge keeps the prefix before a rejection
 * durable; the rejected commit's chain is then left out of the rest of the
 * batch and the others are applied, until nothing is left. A commit whose
 * chain cannot even be read stops only itself. */
static li_err s_apply(void *ctx, const li_blob *commits, size_t n, li_apply_result *res, li_errbuf *eb) {
  li_store *s = ctx;
  assert(s->wall_ms > 0);
  memset(res, 0, sizeof *res);
  li_blob *rest = malloc((n ? n : 1) * sizeof *rest);
  if (!rest) return li_fail(eb, LI_ERR_NOMEM, "out of memory for a batch of %zu commits", n);
  memcpy(rest, commits, n * sizeof *rest);
  size_t m = n;
  li_err e = LI_OK;
  li_merge_opts o = {.wall_ms = s->wall_ms, .max_skew_ms = s->max_skew_ms, .mode = LI_MERGE_KEEP_PREFIX};
  while (m > 0) {
    li_merge_stats st;
    li_errbuf reb = {{0}};
    e = li_merge_batch(s->r, rest, m, &o, &st, &reb);
    res->applied += st.applied > 0 ? (uint32_t)st.applied : 0;
    res->duplicates += st.duplicates > 0 ? (uint32_t)st.duplicates : 0;
    res->sealed += st.sealed > 0 ? (uint32_t)st.sealed : 0;
    if (e == LI_OK) break;
    if (st.reject != e || st.rejected_at < 0 || (size_t)st.rejected_at >= m) { /* the store failed */
      li_fail(eb, e, "%s", reb.msg);
      break;
    }
    size_t at = (size_t)st.rejected_at, k = 0;
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    bool named = s_claimed_pos(&rest[at], origin, scope, &seq);
    if (named && e == LI_ERR_GAP) { /* name the first commit we lack: the sender resends from there */
      uint64_t head = 0;
      li_errbuf veb;
      if (li_replica_vv_get(s->r, origin, scope, &head, NULL, &veb) == LI_OK && head + 1 < seq) seq = head + 1;
    }
    if (!named) { /* a commit that names no chain: reported as such, stops only itself */
      memset(origin, 0, sizeof origin);
      scope[0] = 0;
      seq = 0;
    }
    if (!li_apply_result_reject(res, origin, scope, seq, e, reb.msg)) {
      e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
      break;
    }
    for (size_t i = at + 1; i < m; i++) {
      uint8_t o2[LI_PK_BYTES];
      char s2[LI_SCOPE_MAX + 1];
      uint64_t q2;
      if (named && s_claimed_pos(&rest[i], o2, s2, &q2) && li_apply_result_skipped(res, o2, s2, q2)) continue;
      rest[k++] = rest[i];
    }
    m = k;
    e = LI_OK;
  }
  free(rest);
  return e;
}

const li_store_vt li_store_replica_vt = {
    .heads = s_heads,
    .hash_at = s_hash_at,
    .fetch = s_fetch,
    .apply = s_apply,
};

/* store: li_store_vt over a replica. Heads and fetch are the chain
 * module's (li_chain_heads, li_chain_fetch: a k-way merge in (hlc, origin,
 * seq) order over per-range index scans). */
#include "store.h"

#include "merge.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "chain.h"

static li_err s_heads(void *ctx, const li_scopes *scopes, li_heads *out, li_errbuf *eb) {
  li_store *s = ctx;
  return li_chain_heads(s->r, scopes, out, eb);
}

static li_err s_hash_at(void *ctx, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  li_store *s = ctx;
  return li_chain_hash_at(s->r, origin, scope, seq, out, found, eb);
}

static li_err s_fetch(void *ctx, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                      li_blobs *out, li_errbuf *eb) {
  li_store *s = ctx;
  return li_chain_fetch(s->r, ranges, n, max_count, max_bytes, out, eb);
}

/* The newest refused row change in words, for the sender (linli_refused). */
static void s_refused_first(li_replica *r, char *out, size_t cap) {
  sqlite3_stmt *st = NULL;
  out[0] = 0;
  if (sqlite3_prepare_v2(r->db, "SELECT tbl || ' ' || pk || ': ' || reason || ': ' || message FROM linli_refused"
                                " ORDER BY id DESC LIMIT 1",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

/* merge's stopped chains as the session's (in batch order). */
static bool s_rejects(const li_merge_rejects *l, li_apply_result *res) {
  for (size_t i = 0; i < l->n; i++)
    if (!li_apply_result_reject(res, l->v[i].origin, l->v[i].scope, l->v[i].seq, l->v[i].code, l->v[i].message))
      return false;
  return true;
}

/* Chain by chain (session.h): merge's PER_CHAIN mode stops a rejected
 * commit's chain for the rest of the batch and applies every other chain,
 * in one transaction. */
static li_err s_apply(void *ctx, const li_blob *commits, size_t n, li_apply_result *res, li_errbuf *eb) {
  li_store *s = ctx;
  assert(s->wall_ms > 0);
  memset(res, 0, sizeof *res);
  li_merge_rejects rej = {0};
  li_merge_opts o = {.wall_ms = s->wall_ms, .max_skew_ms = s->max_skew_ms, .mode = LI_MERGE_PER_CHAIN,
                     .seal_first = !s->taking_back, .rejects = &rej};
  li_merge_stats st;
  li_errbuf meb = {{0}};
  li_err e = li_merge_batch(s->r, commits, n, &o, &st, &meb);
  s->sig_checks += (uint64_t)st.verified;
  if (e) {
    li_fail(eb, e, "%s", meb.msg); /* the store failed: nothing was applied */
  } else {
    res->applied = (uint32_t)st.applied;
    res->duplicates = (uint32_t)st.duplicates;
    res->sealed = (uint32_t)st.sealed;
    res->refused = (uint32_t)st.refused;
    if (st.refused) s_refused_first(s->r, res->refused_first, sizeof res->refused_first);
    if (!s_rejects(&rej, res)) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  li_merge_rejects_clear(&rej);
  return e;
}

const li_store_vt li_store_replica_vt = {
    .heads = s_heads,
    .hash_at = s_hash_at,
    .fetch = s_fetch,
    .apply = s_apply,
};

/* store: li_store_vt over a replica. fetch merges the ranges' commits in
 * (hlc, origin, seq) order with a k-way merge over per-range index scans,
 * so each batch costs O(ranges + batch) and never scans the whole log. */
#include "store.h"

#include "linli.pb-c.h"
#include "merge.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static li_err s_heads(void *ctx, const li_scopes *scopes, li_heads *out, li_errbuf *eb) {
  li_store *s = ctx;
  sqlite3_stmt *st = NULL;
  out->n = 0;
  if (sqlite3_prepare_v2(s->r->db,
                         "SELECT origin, scope, seq, head FROM linli_vv WHERE ?1 OR scope IN (?2, ?3) ORDER BY scope, origin",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(s->r, eb, "linli_vv");
  sqlite3_bind_int(st, 1, scopes->all);
  if (scopes->n > 0) sqlite3_bind_text(st, 2, scopes->list[0], -1, SQLITE_STATIC);
  if (scopes->n > 1) sqlite3_bind_text(st, 3, scopes->list[1], -1, SQLITE_STATIC);
  li_err e = LI_OK;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_bytes(st, 0) != LI_PK_BYTES || sqlite3_column_bytes(st, 3) != LI_HASH_BYTES ||
        sqlite3_column_bytes(st, 1) > LI_SCOPE_MAX) {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_vv holds a malformed row");
      break;
    }
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 16;
      li_head *v = realloc(out->v, cap * sizeof *v);
      if (!v) {
        e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
        break;
      }
      out->v = v;
      out->cap = cap;
    }
    li_head *h = &out->v[out->n++];
    memcpy(h->origin, sqlite3_column_blob(st, 0), LI_PK_BYTES);
    snprintf(h->scope, sizeof h->scope, "%s", (const char *)sqlite3_column_text(st, 1));
    h->seq = (uint64_t)sqlite3_column_int64(st, 2);
    memcpy(h->hash, sqlite3_column_blob(st, 3), LI_HASH_BYTES);
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(s->r, eb, "linli_vv");
  sqlite3_finalize(st);
  return e;
}

static li_err s_hash_at(void *ctx, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  li_store *s = ctx;
  return li_replica_log_hash(s->r, origin, scope, seq, out, found, eb);
}

typedef struct {
  uint64_t hlc, seq;
  size_t len;
} s_hdr;

typedef struct {
  s_hdr *v;
  size_t n, pos;
} s_run;

static int s_before(const s_hdr *a, const uint8_t *oa, const s_hdr *b, const uint8_t *ob) {
  if (a->hlc != b->hlc) return a->hlc < b->hlc;
  int c = memcmp(oa, ob, LI_PK_BYTES);
  if (c) return c < 0;
  return a->seq < b->seq;
}

static li_err s_fetch(void *ctx, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                      li_blobs *out, li_errbuf *eb) {
  li_store *s = ctx;
  li_replica *r = s->r;
  out->n = 0;
  out->bytes = 0;
  if (n == 0 || max_count == 0) return LI_OK;
  s_run *runs = calloc(n, sizeof *runs);
  if (!runs) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  li_err e = LI_OK;
  sqlite3_stmt *q = NULL, *g = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT hlc, seq, length(sc) FROM linli_log WHERE origin=? AND scope=? AND seq BETWEEN ? AND ? "
                         "ORDER BY seq LIMIT ?",
                         -1, &q, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(r->db, "SELECT sc FROM linli_log WHERE origin=? AND scope=? AND seq=?", -1, &g, NULL) !=
          SQLITE_OK) {
    e = li_db_fail(r, eb, "linli_log");
    goto out;
  }
  for (size_t i = 0; i < n && e == LI_OK; i++) {
    runs[i].v = malloc(sizeof(s_hdr) * max_count);
    if (!runs[i].v) {
      e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
      break;
    }
    sqlite3_bind_blob(q, 1, ranges[i].origin, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ranges[i].scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (int64_t)ranges[i].from_seq);
    sqlite3_bind_int64(q, 4, (int64_t)ranges[i].to_seq);
    sqlite3_bind_int64(q, 5, max_count);
    while (sqlite3_step(q) == SQLITE_ROW) {
      s_hdr *h = &runs[i].v[runs[i].n++];
      h->hlc = (uint64_t)sqlite3_column_int64(q, 0);
      h->seq = (uint64_t)sqlite3_column_int64(q, 1);
      h->len = (size_t)sqlite3_column_int64(q, 2);
    }
    sqlite3_reset(q);
  }
  while (e == LI_OK && out->n < max_count) {
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
      if (runs[i].pos >= runs[i].n) continue;
      if (best == n || s_before(&runs[i].v[runs[i].pos], ranges[i].origin, &runs[best].v[runs[best].pos], ranges[best].origin))
        best = i;
    }
    if (best == n) break;
    s_hdr *h = &runs[best].v[runs[best].pos];
    if (out->n > 0 && out->bytes + h->len > max_bytes) break;
    sqlite3_bind_blob(g, 1, ranges[best].origin, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(g, 2, ranges[best].scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(g, 3, (int64_t)h->seq);
    if (sqlite3_step(g) != SQLITE_ROW) {
      e = li_db_fail(r, eb, "linli_log");
      sqlite3_reset(g);
      break;
    }
    size_t len = (size_t)sqlite3_column_bytes(g, 0);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
      sqlite3_reset(g);
      e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
      break;
    }
    if (len) memcpy(copy, sqlite3_column_blob(g, 0), len);
    sqlite3_reset(g);
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 64;
      li_blob *v = realloc(out->v, cap * sizeof *v);
      if (!v) {
        free(copy);
        e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
        break;
      }
      out->v = v;
      out->cap = cap;
    }
    out->v[out->n].sc = copy;
    out->v[out->n].len = len;
    out->n++;
    out->bytes += len;
    runs[best].pos++;
  }
out:
  sqlite3_finalize(q);
  sqlite3_finalize(g);
  for (size_t i = 0; i < n; i++) free(runs[i].v);
  free(runs);
  return e;
}

/* The chain position a commit claims, read without verifying it (only to
 * name the chain a rejection stops); false when the bytes do not decode. */
static bool s_claimed_pos(const li_blob *b, uint8_t origin[LI_PK_BYTES], char scope[LI_SCOPE_MAX + 1], uint64_t *seq) {
  bool ok = false;
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, b->len, b->sc);
  Linli__Commit *c = w ? linli__commit__unpack(NULL, w->commit.len, w->commit.data) : NULL;
  if (c && c->origin.len == LI_PK_BYTES && c->scope && li_valid_scope(c->scope) && c->seq >= 1) {
    memcpy(origin, c->origin.data, LI_PK_BYTES);
    snprintf(scope, LI_SCOPE_MAX + 1, "%s", c->scope);
    *seq = c->seq;
    ok = true;
  }
  if (c) linli__commit__free_unpacked(c, NULL);
  if (w) linli__signed_commit__free_unpacked(w, NULL);
  return ok;
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

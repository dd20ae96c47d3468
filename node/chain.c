/* chain: the one place linli_log and linli_vv are read and advanced. See
 * chain.h for what it owns and its invariants. */
#include "chain.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char li_chain_sql[] =
    "CREATE TABLE linli_log(id INTEGER PRIMARY KEY, origin BLOB NOT NULL, scope TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL, hlc INTEGER NOT NULL, hash BLOB NOT NULL, sc BLOB NOT NULL,\n"
    "  applied_ms INTEGER NOT NULL, UNIQUE(origin, scope, seq));\n"
    /* merge: a local write's seq from its hlc (li_chain_seq_at_hlc) */
    "CREATE INDEX linli_log_hlc ON linli_log(origin, scope, hlc);\n"
    /* bundles and the CLI read the log in (hlc, origin) order */
    "CREATE INDEX linli_log_order ON linli_log(hlc, origin);\n"
    "CREATE TABLE linli_vv(origin BLOB NOT NULL, scope TEXT NOT NULL, seq INTEGER NOT NULL,\n"
    "  head BLOB NOT NULL, PRIMARY KEY(origin, scope)) WITHOUT ROWID;\n";

/* Statements run for every commit sealed or applied, prepared once. */
struct li_chain_stmts {
  sqlite3_stmt *log_put, *log_get, *log_by_hlc, *vv_get, *vv_put;
};

#define S_ROW_COLS "origin, scope, seq, hlc, hash, sc, applied_ms"

static li_err s_prepare(li_replica *r, const char *sql, sqlite3_stmt **st, li_errbuf *eb) {
  if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, sql);
  return LI_OK;
}

li_err li_chain_prepare(li_replica *r, li_errbuf *eb) {
  assert(!r->chain_st);
  struct li_chain_stmts *c = calloc(1, sizeof *c);
  if (!c) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  r->chain_st = c;
  li_err e;
  if ((e = s_prepare(r, "INSERT INTO linli_log(" S_ROW_COLS ") VALUES(?,?,?,?,?,?,?)", &c->log_put, eb)) ||
      (e = s_prepare(r, "SELECT hash FROM linli_log WHERE origin=? AND scope=? AND seq=?", &c->log_get, eb)) ||
      (e = s_prepare(r, "SELECT seq FROM linli_log WHERE origin=? AND scope=? AND hlc=?", &c->log_by_hlc, eb)) ||
      (e = s_prepare(r, "SELECT seq, head FROM linli_vv WHERE origin=? AND scope=?", &c->vv_get, eb)) ||
      (e = s_prepare(r, "INSERT OR REPLACE INTO linli_vv(origin, scope, seq, head) VALUES(?,?,?,?)", &c->vv_put, eb)))
    return e; /* li_chain_finalize, from close, frees what was prepared */
  return LI_OK;
}

void li_chain_finalize(li_replica *r) {
  struct li_chain_stmts *c = r->chain_st;
  if (!c) return;
  sqlite3_finalize(c->log_put);
  sqlite3_finalize(c->log_get);
  sqlite3_finalize(c->log_by_hlc);
  sqlite3_finalize(c->vv_get);
  sqlite3_finalize(c->vv_put);
  free(c);
  r->chain_st = NULL;
}

/* Steps a cached statement once and makes it reusable. */
static int s_step_reset(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static void s_bind_pos(sqlite3_stmt *st, const uint8_t *origin, const char *scope) {
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
}

/* ---- one chain ---- */

li_err li_chain_head(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq,
                     uint8_t head[LI_HASH_BYTES], li_errbuf *eb) {
  sqlite3_stmt *st = r->chain_st->vv_get;
  s_bind_pos(st, origin, scope);
  *seq = 0;
  if (head) memset(head, 0, LI_HASH_BYTES);
  li_err e = LI_OK;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *seq = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) != LI_HASH_BYTES || sqlite3_column_int64(st, 0) < 1)
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_vv holds a malformed head for scope %s (run 'linli verify')", scope);
    else if (head) memcpy(head, sqlite3_column_blob(st, 1), LI_HASH_BYTES);
  } else if (rc != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_vv");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

li_err li_chain_hash_at(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                        uint8_t out[LI_HASH_BYTES], bool *found, li_errbuf *eb) {
  sqlite3_stmt *st = r->chain_st->log_get;
  s_bind_pos(st, origin, scope);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  *found = false;
  li_err e = LI_OK;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_bytes(st, 0) == LI_HASH_BYTES) {
      memcpy(out, sqlite3_column_blob(st, 0), LI_HASH_BYTES);
      *found = true;
    } else {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_log holds a malformed hash for %s#%llu (run 'linli verify')", scope,
                  (unsigned long long)seq);
    }
  } else if (rc != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_log");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

li_err li_chain_seq_at_hlc(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t hlc,
                           uint64_t *seq, bool *found, li_errbuf *eb) {
  sqlite3_stmt *st = r->chain_st->log_by_hlc;
  s_bind_pos(st, origin, scope);
  sqlite3_bind_int64(st, 3, (int64_t)hlc);
  int rc = sqlite3_step(st);
  *found = rc == SQLITE_ROW;
  *seq = *found ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_log");
}

#ifndef NDEBUG
/* Invariant 2 for a commit about to be appended. Reads the head, so it is
 * a debug-build walker; a head that cannot be read is left to the insert
 * (the UNIQUE position) and the caller's own checks. */
static bool s_check_next(li_replica *r, const uint8_t *origin, const char *scope, uint64_t seq,
                         const uint8_t *prev) {
  uint64_t head_seq;
  uint8_t head[LI_HASH_BYTES];
  li_errbuf tmp;
  if (li_chain_head(r, origin, scope, &head_seq, head, &tmp) != LI_OK) return true;
  if (seq != head_seq + 1) return false;
  return seq == 1 || (prev && memcmp(prev, head, LI_HASH_BYTES) == 0);
}
#endif

li_err li_chain_append(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                       uint64_t hlc, const uint8_t hash[LI_HASH_BYTES], const uint8_t prev[LI_HASH_BYTES],
                       const uint8_t *sc, size_t sc_len, uint64_t now_ms, li_errbuf *eb) {
  assert(!sqlite3_get_autocommit(r->db)); /* invariant 3 */
  assert(s_check_next(r, origin, scope, seq, prev));
  sqlite3_stmt *st = r->chain_st->log_put;
  s_bind_pos(st, origin, scope);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  sqlite3_bind_int64(st, 4, (int64_t)hlc);
  sqlite3_bind_blob(st, 5, hash, LI_HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_blob(st, 6, sc, (int)sc_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, (int64_t)now_ms);
  if (s_step_reset(st) != SQLITE_DONE) return li_db_fail(r, eb, "linli_log");
  st = r->chain_st->vv_put;
  s_bind_pos(st, origin, scope);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  sqlite3_bind_blob(st, 4, hash, LI_HASH_BYTES, SQLITE_STATIC);
  return s_step_reset(st) == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_vv");
}

/* ---- heads ---- */

/* Binds ?1 (all), ?2, ?3 (the listed scopes) of a statement filtering by scope. */
static void s_bind_scopes(sqlite3_stmt *st, const li_scopes *scopes) {
  sqlite3_bind_int(st, 1, !scopes || scopes->all);
  if (!scopes) return;
  if (scopes->n > 0) sqlite3_bind_text(st, 2, scopes->list[0], -1, SQLITE_STATIC);
  if (scopes->n > 1) sqlite3_bind_text(st, 3, scopes->list[1], -1, SQLITE_STATIC);
}

/* Every linli_vv row of scopes, with its newest hlc when asked (?4: the
 * subquery costs a log lookup per chain, so the sync Hello does without);
 * strict: a malformed row is LI_ERR_TAMPERED (invariant 5), else it is
 * given to fn as stored. */
static li_err s_each_head(li_replica *r, const li_scopes *scopes, bool newest, bool strict, li_chain_info_fn fn,
                          void *ctx, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT v.origin, v.scope, v.seq, v.head, CASE WHEN ?4 THEN (SELECT max(hlc) FROM linli_log l"
                         " WHERE l.origin=v.origin AND l.scope=v.scope) END FROM linli_vv v"
                         " WHERE ?1 OR v.scope IN (?2, ?3) ORDER BY v.scope, v.origin",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_vv");
  s_bind_scopes(st, scopes);
  sqlite3_bind_int(st, 4, newest);
  li_err e = LI_OK;
  int rc = SQLITE_DONE;
  while (e == LI_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (strict && (sqlite3_column_bytes(st, 0) != LI_PK_BYTES || sqlite3_column_bytes(st, 3) != LI_HASH_BYTES ||
                   sqlite3_column_type(st, 1) == SQLITE_NULL || sqlite3_column_bytes(st, 1) > LI_SCOPE_MAX)) {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_vv holds a malformed row");
      break;
    }
    li_chain_info ci;
    ci.origin = sqlite3_column_blob(st, 0);
    ci.origin_len = (size_t)sqlite3_column_bytes(st, 0);
    ci.scope = (const char *)sqlite3_column_text(st, 1);
    ci.seq = sqlite3_column_int64(st, 2);
    ci.head = sqlite3_column_blob(st, 3);
    ci.head_len = (size_t)sqlite3_column_bytes(st, 3);
    ci.newest_hlc = (uint64_t)sqlite3_column_int64(st, 4);
    e = fn(ctx, &ci, eb);
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_vv");
  sqlite3_finalize(st);
  return e;
}

/* Appends a head s_each_head checked (strict) to the li_heads at ctx. */
static li_err s_push_head(void *ctx, const li_chain_info *ci, li_errbuf *eb) {
  li_heads *out = ctx;
  assert(ci->origin_len == LI_PK_BYTES && ci->head_len == LI_HASH_BYTES && ci->scope);
  if (out->n == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 16;
    li_head *v = realloc(out->v, cap * sizeof *v);
    if (!v) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    out->v = v;
    out->cap = cap;
  }
  li_head *h = &out->v[out->n++];
  memcpy(h->origin, ci->origin, LI_PK_BYTES);
  snprintf(h->scope, sizeof h->scope, "%s", ci->scope);
  h->seq = (uint64_t)ci->seq;
  memcpy(h->hash, ci->head, LI_HASH_BYTES);
  return LI_OK;
}

li_err li_chain_heads(li_replica *r, const li_scopes *scopes, li_heads *out, li_errbuf *eb) {
  out->n = 0;
  return s_each_head(r, scopes, false, true, s_push_head, out, eb);
}

li_err li_chain_each_head(li_replica *r, li_chain_info_fn fn, void *ctx, li_errbuf *eb) {
  return s_each_head(r, NULL, true, false, fn, ctx, eb);
}

li_err li_chain_deps(li_replica *r, const char *scope, const uint8_t except[LI_PK_BYTES], li_chain_dep *out,
                     size_t max, size_t *n, li_errbuf *eb) {
  sqlite3_stmt *q = NULL;
  *n = 0;
  if (sqlite3_prepare_v2(r->db, "SELECT origin, seq FROM linli_vv WHERE scope=? AND origin<>? ORDER BY origin", -1,
                         &q, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_vv");
  sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
  sqlite3_bind_blob(q, 2, except, LI_PK_BYTES, SQLITE_STATIC);
  li_err e = LI_OK;
  int rc = SQLITE_DONE;
  while (*n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (sqlite3_column_bytes(q, 0) != LI_PK_BYTES) {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_vv holds a malformed origin in scope %s (run 'linli verify')", scope);
      break;
    }
    memcpy(out[*n].origin, sqlite3_column_blob(q, 0), LI_PK_BYTES);
    out[*n].seq = (uint64_t)sqlite3_column_int64(q, 1);
    (*n)++;
  }
  if (e == LI_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) e = li_db_fail(r, eb, "linli_vv");
  sqlite3_finalize(q);
  return e;
}

/* ---- fetch: a k-way merge of the ranges ---- */

typedef struct {
  uint64_t hlc, seq;
  size_t len;
} s_hdr;

/* One range's next commits, by seq: their headers only, bytes read on demand. */
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

/* Reads the first max_count headers of every range into runs. */
static li_err s_load_runs(sqlite3_stmt *q, const li_range *ranges, size_t n, uint32_t max_count, s_run *runs,
                          li_errbuf *eb) {
  for (size_t i = 0; i < n; i++) {
    runs[i].v = malloc(sizeof(s_hdr) * max_count);
    if (!runs[i].v) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    s_bind_pos(q, ranges[i].origin, ranges[i].scope);
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
  return LI_OK;
}

/* The run whose next commit comes first, or n when all are done. */
static size_t s_next_run(const s_run *runs, const li_range *ranges, size_t n) {
  size_t best = n;
  for (size_t i = 0; i < n; i++) {
    if (runs[i].pos >= runs[i].n) continue;
    if (best == n ||
        s_before(&runs[i].v[runs[i].pos], ranges[i].origin, &runs[best].v[runs[best].pos], ranges[best].origin))
      best = i;
  }
  return best;
}

/* Appends the bytes of the commit at (range, seq) to out. */
static li_err s_take(li_replica *r, sqlite3_stmt *g, const li_range *range, uint64_t seq, li_blobs *out,
                     li_errbuf *eb) {
  s_bind_pos(g, range->origin, range->scope);
  sqlite3_bind_int64(g, 3, (int64_t)seq);
  if (sqlite3_step(g) != SQLITE_ROW) {
    li_err e = li_db_fail(r, eb, "linli_log");
    sqlite3_reset(g);
    return e;
  }
  size_t len = (size_t)sqlite3_column_bytes(g, 0);
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) {
    sqlite3_reset(g);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  if (len) memcpy(copy, sqlite3_column_blob(g, 0), len);
  sqlite3_reset(g);
  if (out->n == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 64;
    li_blob *v = realloc(out->v, cap * sizeof *v);
    if (!v) {
      free(copy);
      return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    }
    out->v = v;
    out->cap = cap;
  }
  out->v[out->n].sc = copy;
  out->v[out->n].len = len;
  out->n++;
  out->bytes += len;
  return LI_OK;
}

li_err li_chain_fetch(li_replica *r, const li_range *ranges, size_t n, uint32_t max_count, uint32_t max_bytes,
                      li_blobs *out, li_errbuf *eb) {
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
          SQLITE_OK)
    e = li_db_fail(r, eb, "linli_log");
  if (e == LI_OK) e = s_load_runs(q, ranges, n, max_count, runs, eb);
  while (e == LI_OK && out->n < max_count) {
    size_t best = s_next_run(runs, ranges, n);
    if (best == n) break;
    const s_hdr *h = &runs[best].v[runs[best].pos];
    if (out->n > 0 && out->bytes + h->len > max_bytes) break;
    if ((e = s_take(r, g, &ranges[best], h->seq, out, eb))) break;
    runs[best].pos++;
  }
  sqlite3_finalize(q);
  sqlite3_finalize(g);
  for (size_t i = 0; i < n; i++) free(runs[i].v);
  free(runs);
  return e;
}

/* ---- the log as stored ---- */

static void s_row_of(sqlite3_stmt *st, li_chain_row *row) {
  row->origin = sqlite3_column_blob(st, 0);
  row->origin_len = (size_t)sqlite3_column_bytes(st, 0);
  row->scope = (const char *)sqlite3_column_text(st, 1);
  row->seq = sqlite3_column_int64(st, 2);
  row->hlc = sqlite3_column_int64(st, 3);
  row->hash = sqlite3_column_blob(st, 4);
  row->hash_len = (size_t)sqlite3_column_bytes(st, 4);
  row->sc = sqlite3_column_blob(st, 5);
  row->sc_len = (size_t)sqlite3_column_bytes(st, 5);
  row->applied_ms = sqlite3_column_int64(st, 6);
}

/* Steps a statement selecting S_ROW_COLS: the next row, or *done. */
static li_err s_next_row(li_replica *r, sqlite3_stmt *st, li_chain_row *row, bool *done, li_errbuf *eb) {
  int rc = sqlite3_step(st);
  *done = rc == SQLITE_DONE;
  if (rc == SQLITE_ROW) s_row_of(st, row);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_log");
}

/* Gives every row of a prepared statement selecting S_ROW_COLS to fn. */
static li_err s_each_row(li_replica *r, sqlite3_stmt *st, li_chain_row_fn fn, void *ctx, size_t *rows,
                         li_errbuf *eb) {
  li_err e = LI_OK;
  bool done = false;
  *rows = 0;
  while (e == LI_OK && !done) {
    li_chain_row row;
    if ((e = s_next_row(r, st, &row, &done, eb)) || done) break;
    (*rows)++;
    e = fn(ctx, &row, eb);
  }
  return e;
}

/* A cursor owns its statement and the scopes it binds (bound static). */
struct li_chain_cursor {
  li_replica *r;
  sqlite3_stmt *st;
  li_scopes scopes;
  bool done; /* stepping past the end would start over */
};

li_err li_chain_cursor_open(li_replica *r, li_chain_order order, const li_scopes *scopes, li_chain_cursor **out,
                            li_errbuf *eb) {
  assert(r && out && (order == LI_CHAIN_BY_HLC || order == LI_CHAIN_BY_CHAIN));
  static const char by_hlc[] =
      "SELECT " S_ROW_COLS " FROM linli_log WHERE ?1 OR scope IN (?2, ?3) ORDER BY hlc, origin, seq";
  static const char by_chain[] =
      "SELECT " S_ROW_COLS " FROM linli_log WHERE ?1 OR scope IN (?2, ?3) ORDER BY origin, scope, seq";
  *out = NULL;
  li_chain_cursor *c = calloc(1, sizeof *c);
  if (!c) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  c->r = r;
  if (sqlite3_prepare_v2(r->db, order == LI_CHAIN_BY_HLC ? by_hlc : by_chain, -1, &c->st, NULL) != SQLITE_OK) {
    li_err e = li_db_fail(r, eb, "linli_log");
    li_chain_cursor_close(&c);
    return e;
  }
  if (scopes) c->scopes = *scopes;
  s_bind_scopes(c->st, scopes ? &c->scopes : NULL);
  *out = c;
  return LI_OK;
}

li_err li_chain_cursor_next(li_chain_cursor *c, li_chain_row *row, bool *done, li_errbuf *eb) {
  assert(c && row && done);
  *done = c->done;
  if (c->done) return LI_OK;
  li_err e = s_next_row(c->r, c->st, row, done, eb);
  c->done = *done;
  return e;
}

void li_chain_cursor_close(li_chain_cursor **c) {
  if (!c || !*c) return;
  sqlite3_finalize((*c)->st);
  free(*c);
  *c = NULL;
}

li_err li_chain_each_commit(li_replica *r, li_chain_order order, const li_scopes *scopes, li_chain_row_fn fn,
                            void *ctx, li_errbuf *eb) {
  li_chain_cursor *c = NULL;
  li_err e = li_chain_cursor_open(r, order, scopes, &c, eb);
  bool done = false;
  while (e == LI_OK && !done) {
    li_chain_row row;
    if ((e = li_chain_cursor_next(c, &row, &done, eb)) || done) break;
    e = fn(ctx, &row, eb);
  }
  li_chain_cursor_close(&c);
  return e;
}

li_err li_chain_commit_at(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                          li_chain_row_fn fn, void *ctx, bool *found, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  *found = false;
  if (sqlite3_prepare_v2(r->db, "SELECT " S_ROW_COLS " FROM linli_log WHERE origin=? AND scope=? AND seq=?", -1, &st,
                         NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_log");
  s_bind_pos(st, origin, scope);
  sqlite3_bind_int64(st, 3, (int64_t)seq);
  size_t rows;
  li_err e = s_each_row(r, st, fn, ctx, &rows, eb);
  *found = rows > 0;
  sqlite3_finalize(st);
  return e;
}

/* One integer (or NULL) from a query with the origin at ?1 and an
 * optional integer at ?2. */
static li_err s_origin_int(li_replica *r, const char *sql, const uint8_t *origin, const int64_t *arg,
                           sqlite3_int64 *out, bool *null, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(r, eb, "linli_log");
  sqlite3_bind_blob(st, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  if (arg) sqlite3_bind_int64(st, 2, *arg);
  li_err e = LI_OK;
  if (sqlite3_step(st) != SQLITE_ROW) {
    e = li_db_fail(r, eb, "linli_log");
  } else if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
    *null = true;
  } else if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) < 0) {
    e = li_fail(eb, LI_ERR_TAMPERED, "linli_log holds a malformed row (run 'linli verify')");
  } else {
    *null = false;
    *out = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return e;
}

li_err li_chain_count_since(li_replica *r, const uint8_t origin[LI_PK_BYTES], int64_t after_ms, int64_t *n,
                            li_errbuf *eb) {
  sqlite3_int64 v = 0;
  bool null = false;
  li_err e = s_origin_int(r, "SELECT count(*) FROM linli_log WHERE origin=?1 AND applied_ms > ?2", origin, &after_ms,
                          &v, &null, eb);
  *n = e == LI_OK && !null ? v : 0;
  return e;
}

li_err li_chain_newest_hlc(li_replica *r, const uint8_t origin[LI_PK_BYTES], uint64_t *hlc, bool *found,
                           li_errbuf *eb) {
  sqlite3_int64 v = 0;
  bool null = true;
  li_err e = s_origin_int(r, "SELECT max(hlc) FROM linli_log WHERE origin = ?1", origin, NULL, &v, &null, eb);
  *found = e == LI_OK && !null;
  *hlc = *found ? (uint64_t)v : 0;
  return e;
}

li_err li_chain_newest_hlc_but(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, int64_t after,
                               uint64_t *hlc, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  *hlc = 0;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT coalesce(max(hlc), 0) FROM linli_log WHERE origin <> ?1 OR scope <> ?2 OR seq <= ?3",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_log");
  s_bind_pos(st, origin, scope);
  sqlite3_bind_int64(st, 3, after);
  li_err e = sqlite3_step(st) == SQLITE_ROW ? LI_OK : li_db_fail(r, eb, "linli_log");
  if (!e) *hlc = (uint64_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return e;
}

li_err li_chain_each_bad_head(li_replica *r, li_chain_row_fn fn, void *ctx, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT v.scope, v.seq FROM linli_vv v LEFT JOIN linli_log l ON l.origin=v.origin AND "
                         "l.scope=v.scope AND l.seq=v.seq WHERE l.hash IS NOT v.head OR EXISTS (SELECT 1 FROM linli_log x "
                         "WHERE x.origin=v.origin AND x.scope=v.scope AND x.seq > v.seq)",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "linli_vv");
  li_err e = LI_OK;
  int rc = SQLITE_DONE;
  while (e == LI_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_chain_row row;
    memset(&row, 0, sizeof row);
    row.scope = (const char *)sqlite3_column_text(st, 0);
    row.seq = sqlite3_column_int64(st, 1);
    e = fn(ctx, &row, eb);
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_vv");
  sqlite3_finalize(st);
  return e;
}

li_err li_chain_abandon(li_replica *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t keep,
                        li_errbuf *eb) {
  assert(!sqlite3_get_autocommit(r->db));
  assert(memcmp(origin, r->self, LI_PK_BYTES) != 0); /* never the key in use */
  uint8_t head[LI_HASH_BYTES];
  bool found = false;
  li_err e = keep ? li_chain_hash_at(r, origin, scope, keep, head, &found, eb) : LI_OK;
  if (e) return e;
  if (keep && !found) return li_fail(eb, LI_ERR_TAMPERED, "chain %s has no commit #%llu to keep", scope,
                                     (unsigned long long)keep);
  sqlite3_stmt *del = NULL, *vv = NULL;
  if (sqlite3_prepare_v2(r->db, "DELETE FROM linli_log WHERE origin=?1 AND scope=?2 AND seq>?3", -1, &del, NULL) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(r->db,
                         keep ? "UPDATE linli_vv SET seq=?3, head=?4 WHERE origin=?1 AND scope=?2"
                              : "DELETE FROM linli_vv WHERE origin=?1 AND scope=?2 AND ?3 = 0",
                         -1, &vv, NULL) != SQLITE_OK) {
    sqlite3_finalize(del);
    return li_db_fail(r, eb, "linli_log");
  }
  s_bind_pos(del, origin, scope);
  sqlite3_bind_int64(del, 3, (int64_t)keep);
  s_bind_pos(vv, origin, scope);
  sqlite3_bind_int64(vv, 3, (int64_t)keep);
  if (keep) sqlite3_bind_blob(vv, 4, head, LI_HASH_BYTES, SQLITE_STATIC);
  e = sqlite3_step(del) == SQLITE_DONE && sqlite3_step(vv) == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_log");
  sqlite3_finalize(del);
  sqlite3_finalize(vv);
  return e;
}

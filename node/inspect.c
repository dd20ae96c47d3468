/* inspect: status, log, verify, conflicts and digest as data (see
 * inspect.h). Read only; prints nothing.
 *
 *   li_inspect_status ──SAVEPOINT──▶ s_status_counts, s_chains_read (li_chain_each_head),
 *                      s_peers_read (li_chain_count_since),
 *                      s_rejects_read, s_bans_read ──RELEASE──▶ li_status
 *   li_inspect_log_next ──li_chain_cursor_next──▶ li_commit_open ──s_changes──▶ li_log_entry
 *   li_inspect_verify ──li_chain_cursor_next──▶ s_verify_row ──▶ li_chain_each_bad_head
 *   li_inspect_digest ──s_digest_scope (s_table_rows_sql per tracked table)──▶ li_scope_digest[]
 *
 * Invariants of li_status while it is built (s_status_check): every list
 * has at most LI_INSPECT_ROWS_MAX rows and is NULL exactly when empty. */
#include "inspect.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "capture.h"
#include "chain.h"
#include "commit.h"
#include "hlc.h"
#include "out.h"
#include "recover.h"
#include "roster.h"

/* linli serve rewrites its peers' rows every 0.5 s: a row older than this
 * means no daemon is running. */
#define S_PEER_ROW_FRESH_MS 5000

/* ---- small helpers ---- */

/* Column i as text, "" for NULL. */
static const char *s_text(sqlite3_stmt *st, int i) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  return t ? t : "";
}

/* A key column: true and the key when it is 32 bytes. */
static bool s_key(sqlite3_stmt *st, int i, uint8_t key[LI_PK_BYTES]) {
  if (sqlite3_column_bytes(st, i) != LI_PK_BYTES) return false;
  memcpy(key, sqlite3_column_blob(st, i), LI_PK_BYTES);
  return true;
}

/* A stored origin (a li_chain_row's or li_chain_info's): true and the key
 * when it is 32 bytes. */
static bool s_origin_key(const uint8_t *origin, size_t len, uint8_t key[LI_PK_BYTES]) {
  if (len != LI_PK_BYTES) return false;
  memcpy(key, origin, LI_PK_BYTES);
  return true;
}

/* The roster name of a key column, "?" when it is not a key. */
static void s_name_of(li_replica *r, sqlite3_stmt *st, int i, char *out, size_t cap) {
  uint8_t key[LI_PK_BYTES];
  if (s_key(st, i, key)) li_roster_name_of(r, key, out, cap);
  else snprintf(out, cap, "?");
}

/* v grown so that element n fits (*cap updated), or NULL with *e and eb set
 * (LI_ERR_LIMIT over LI_INSPECT_ROWS_MAX, LI_ERR_NOMEM); v is kept then. */
static void *s_grow(void *v, size_t n, size_t *cap, size_t size, const char *what, li_err *e, li_errbuf *eb) {
  if (n < *cap) return v;
  if (n >= LI_INSPECT_ROWS_MAX) {
    *e = li_fail(eb, LI_ERR_LIMIT, "more than %d %s (LI_INSPECT_ROWS_MAX)", LI_INSPECT_ROWS_MAX, what);
    return NULL;
  }
  size_t ncap = *cap ? *cap * 2 : 16;
  if (ncap > LI_INSPECT_ROWS_MAX) ncap = LI_INSPECT_ROWS_MAX;
  void *p = realloc(v, ncap * size);
  if (!p) {
    *e = li_fail(eb, LI_ERR_NOMEM, "out of memory for the %s", what);
    return NULL;
  }
  *cap = ncap;
  return p;
}

static li_err s_prepare(li_replica *r, const char *sql, sqlite3_stmt **st, const char *what, li_errbuf *eb) {
  if (sqlite3_prepare_v2(r->db, sql, -1, st, NULL) == SQLITE_OK) return LI_OK;
  return li_db_fail(r, eb, what);
}

/* ---- status ---- */

static bool s_status_check(const li_status *s) {
  return s->nchains <= LI_INSPECT_ROWS_MAX && s->npeers <= LI_INSPECT_ROWS_MAX &&
         s->nrejected <= LI_INSPECT_ROWS_MAX && s->nbanned <= LI_INSPECT_ROWS_MAX &&
         (s->chains == NULL) == (s->nchains == 0) && (s->peers == NULL) == (s->npeers == 0) &&
         (s->rejected == NULL) == (s->nrejected == 0) && (s->banned == NULL) == (s->nbanned == 0) &&
         s->nstuck <= LI_INSPECT_ROWS_MAX && (s->stuck == NULL) == (s->nstuck == 0) &&
         s->nrefused <= LI_STATUS_REFUSED_SHOWN && (s->refused == NULL) == (s->nrefused == 0) &&
         (int64_t)s->nrefused <= s->refused_total && (s->drift == NULL) == (s->ndrift == 0);
}

static li_err s_status_counts(li_replica *r, li_status *s, li_errbuf *eb) {
  s->unsealed_changes = li_replica_dirty_count(r);
  if (s->unsealed_changes < 0) return li_db_fail(r, eb, "linli_dirty");
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT count(*) FROM linli_conflicts", &st, "linli_conflicts", eb);
  if (!e && sqlite3_step(st) == SQLITE_ROW) s->conflicts = sqlite3_column_int64(st, 0);
  else if (!e) e = li_db_fail(r, eb, "linli_conflicts");
  sqlite3_finalize(st);
  int64_t hlc = 0;
  li_meta_get_int(r, "hlc", &hlc); /* absent before the first seal: 0 */
  s->hlc = (uint64_t)hlc;
  s->schema_version = li_replica_schema_version(r);
  return e;
}

/* The chains of a status as li_chain_each_head gives them (heads as
 * stored: a malformed origin is shown as "?"). */
typedef struct {
  li_replica *r;
  li_status *s;
  size_t cap;
} s_chains;

static li_err s_chain_add(void *ctx, const li_chain_info *ci, li_errbuf *eb) {
  s_chains *cs = ctx;
  li_status *s = cs->s;
  li_err e = LI_OK;
  li_chain_status *p = s_grow(s->chains, s->nchains, &cs->cap, sizeof *p, "chains", &e, eb);
  if (!p) return e;
  s->chains = p;
  li_chain_status *c = &p[s->nchains++];
  memset(c, 0, sizeof *c);
  c->origin_ok = s_origin_key(ci->origin, ci->origin_len, c->origin);
  if (c->origin_ok) li_roster_name_of(cs->r, c->origin, c->origin_name, sizeof c->origin_name);
  else snprintf(c->origin_name, sizeof c->origin_name, "?");
  li_utf8_copy(c->scope, sizeof c->scope, ci->scope ? ci->scope : "");
  c->seq = (uint64_t)ci->seq;
  c->last_hlc = ci->newest_hlc;
  return LI_OK;
}

static li_err s_chains_read(li_replica *r, li_status *s, li_errbuf *eb) {
  s_chains cs = {r, s, 0};
  return li_chain_each_head(r, s_chain_add, &cs, eb);
}

/* One linli_peers row (columns as in s_peers_read). */
static li_err s_peer(li_node *n, sqlite3_stmt *st, uint64_t now_ms, li_peer_status *p, li_errbuf *eb) {
  memset(p, 0, sizeof *p);
  li_utf8_copy(p->name, sizeof p->name, sqlite3_column_text(st, 1) ? s_text(st, 1) : "?");
  p->key_ok = s_key(st, 0, p->key);
  int64_t updated = sqlite3_column_int64(st, 11);
  bool fresh = updated > 0 && (int64_t)now_ms - updated < S_PEER_ROW_FRESH_MS;
  bool connected = fresh && sqlite3_column_int(st, 2);
  p->state = connected ? LI_PEER_CONNECTED : fresh ? LI_PEER_UNREACHABLE : LI_PEER_DAEMON_DOWN;
  p->contact_known = sqlite3_column_type(st, 3) != SQLITE_NULL;
  p->last_contact_ms = (uint64_t)sqlite3_column_int64(st, 3);
  p->commits_we_lack = sqlite3_column_int64(st, 4);
  p->commits_they_lack = sqlite3_column_int64(st, 5);
  p->commits_sent = sqlite3_column_int64(st, 6);
  p->commits_received = sqlite3_column_int64(st, 7);
  p->rejected_in = sqlite3_column_int64(st, 8);
  p->rejected_out = sqlite3_column_int64(st, 9);
  li_utf8_copy(p->last_error, sizeof p->last_error, s_text(st, 10));
  p->refused_rows = sqlite3_column_int64(st, 12);
  li_utf8_copy(p->refused_last, sizeof p->refused_last, s_text(st, 13));
  if (connected) {
    p->ex_announced = sqlite3_column_int64(st, 14);
    p->ex_received = sqlite3_column_int64(st, 15);
    return LI_OK;
  }
  /* what the peer lacked at the last contact, plus every commit of ours
   * sealed since: the daemon cannot have sent those */
  int64_t since = 0;
  li_err e = li_chain_count_since(n->r, n->id.pk, p->contact_known ? sqlite3_column_int64(st, 3) : 0, &since, eb);
  p->commits_they_lack += since;
  return e;
}

static li_err s_peers_read(li_node *n, li_status *s, uint64_t now_ms, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(n->r,
                       "SELECT key, name, connected, last_contact_ms, behind_them, behind_us, commits_sent, commits_recv,"
                       " rejected_in, rejected_out, last_error, updated_ms, refused_rows, refused_last, ex_announced,"
                       " ex_received FROM linli_peers"
                       " ORDER BY name",
                       &st, "linli_peers", eb);
  size_t cap = 0;
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_peer_status *p = s_grow(s->peers, s->npeers, &cap, sizeof *p, "peers", &e, eb);
    if (!p) break;
    s->peers = p;
    e = s_peer(n, st, now_ms, &p[s->npeers++], eb);
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(n->r, eb, "linli_peers");
  sqlite3_finalize(st);
  return e;
}

static li_err s_rejects_read(li_replica *r, li_status *s, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT reason, n FROM linli_rejects ORDER BY reason", &st, "linli_rejects", eb);
  size_t cap = 0;
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_reject_count *p = s_grow(s->rejected, s->nrejected, &cap, sizeof *p, "rejection reasons", &e, eb);
    if (!p) break;
    s->rejected = p;
    li_reject_count *c = &p[s->nrejected++];
    li_utf8_copy(c->reason, sizeof c->reason, s_text(st, 0));
    c->n = sqlite3_column_int64(st, 1);
    if (strcmp(c->reason, li_errname(LI_ERR_CLOCK_AHEAD)) == 0) s->held_clock_ahead = c->n;
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_rejects");
  sqlite3_finalize(st);
  return e;
}

static li_err s_bans_read(li_replica *r, li_status *s, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT origin, reason FROM linli_banned ORDER BY origin", &st, "linli_banned", eb);
  size_t cap = 0;
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_ban *p = s_grow(s->banned, s->nbanned, &cap, sizeof *p, "banned origins", &e, eb);
    if (!p) break;
    s->banned = p;
    li_ban *b = &p[s->nbanned++];
    memset(b, 0, sizeof *b);
    b->origin_ok = s_key(st, 0, b->origin);
    li_utf8_copy(b->reason, sizeof b->reason, s_text(st, 1));
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_banned");
  sqlite3_finalize(st);
  return e;
}

/* linli_serve: what the daemon last said about itself. */
static li_err s_serve_read(li_replica *r, li_status *s, uint64_t now_ms, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT key, value, updated_ms FROM linli_serve", &st, "linli_serve", eb);
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = s_text(st, 0);
    uint64_t updated = (uint64_t)sqlite3_column_int64(st, 2);
    if (updated > s->serve_saved_ms) s->serve_saved_ms = updated;
    s->serve_known = true;
    if (strcmp(key, "seal") == 0) {
      li_utf8_copy(s->seal, sizeof s->seal, s_text(st, 1));
    } else if (strcmp(key, "clock_ahead_ms") == 0 && sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
      s->clock_known = true;
      s->clock_ahead_ms = sqlite3_column_int64(st, 1);
    }
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_serve");
  sqlite3_finalize(st);
  s->serve_running = s->serve_known && now_ms >= s->serve_saved_ms && now_ms - s->serve_saved_ms < S_PEER_ROW_FRESH_MS;
  return e;
}

void li_inspect_stuck_fix(const char *code, bool ours, const char *origin_name, const char *peer, char *out,
                          size_t cap) {
  const char *o = origin_name && origin_name[0] ? origin_name : "?";
  if (!strcmp(code, li_errname(LI_ERR_FORK)) || !strcmp(code, li_errname(LI_ERR_BANNED))) {
    if (ours)
      snprintf(out, cap, "two copies of this node's key sealed different commits: retire the other copy, run "
               "'linli recover' here, then on the hub 'linli roster replace %s NEWKEY'", o);
    else
      snprintf(out, cap, "two copies of %s's key are in use: on %s's PC run 'linli recover', then on the hub "
               "'linli roster replace %s NEWKEY'", o, o, o);
  } else if (!strcmp(code, li_errname(LI_ERR_UNKNOWN_SIGNER))) {
    if (ours)
      snprintf(out, cap, "%s does not know this node's key: on the hub run 'linli roster add %s KEY' (KEY from "
               "'linli status' here) or, after 'linli recover', 'linli roster replace %s KEY'", peer, o, o);
    else
      snprintf(out, cap, "the key of %s is not in this node's roster: on the hub run 'linli roster list' and add or "
               "replace it", o);
  } else if (!strcmp(code, li_errname(LI_ERR_SCOPE))) {
    snprintf(out, cap, "%s wrote outside the scopes the roster gives it: check 'linli roster list' on the hub", o);
  } else if (!strcmp(code, li_errname(LI_ERR_CLOCK_AHEAD))) {
    if (ours)
      snprintf(out, cap, "this computer's clock was ahead when it sealed: %s holds these commits until its own "
               "time reaches them; correct the date here so no more are sealed ahead", peer);
    else
      snprintf(out, cap, "%s's clock was ahead when it sealed: they are held until this node's time reaches them; "
               "correct the date on %s's PC", o, o);
  } else if (!strcmp(code, li_errname(LI_ERR_HELD))) {
    snprintf(out, cap, "held while this node takes back its own commits (a restored backup): it resumes by itself");
  } else if (!strcmp(code, li_errname(LI_ERR_GAP)) || !strcmp(code, li_errname(LI_ERR_MISSING_DEPS))) {
    snprintf(out, cap, "commits are missing in between: they are sent again at the next exchange; if it stays, run "
             "'linli verify' on both nodes");
  } else if (!strcmp(code, li_errname(LI_ERR_SCHEMA_AHEAD))) {
    snprintf(out, cap, "sealed under a newer street schema than this node's: held until the hub's migration "
             "arrives in the street chain, then applied by itself (see 'linli schema show')");
  } else if (!strcmp(code, li_errname(LI_ERR_MIGRATION))) {
    if (ours)
      snprintf(out, cap, "%s could not apply the street schema migration: its message above says why and what "
               "to run there", peer);
    else
      snprintf(out, cap, "this node could not apply the street's schema migration: the message above says why "
               "(e.g. a table of this committee's own has the new table's name: rename it as it says); it is "
               "tried again at the next exchange");
  } else if (!strcmp(code, li_errname(LI_ERR_SCHEMA)) || !strcmp(code, li_errname(LI_ERR_TYPE))) {
    snprintf(out, cap, "the tables differ between the two nodes: give both the same schema (see the README, "
             "'schema change')");
  } else {
    snprintf(out, cap, "run 'linli verify' on both nodes; if a stored commit is damaged, restore that node from a "
             "backup (the hub sends back what it lacks)");
  }
}

/* linli_stuck: chains left out of the last exchanges. */
static li_err s_stuck_read(li_replica *r, li_status *s, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT peer, side, origin, scope, seq, code, message, since_ms FROM linli_stuck"
                          " ORDER BY peer, side, scope, origin",
                       &st, "linli_stuck", eb);
  size_t cap = 0;
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_stuck_status *p = s_grow(s->stuck, s->nstuck, &cap, sizeof *p, "stuck chains", &e, eb);
    if (!p) break;
    s->stuck = p;
    li_stuck_status *x = &p[s->nstuck++];
    memset(x, 0, sizeof *x);
    uint8_t peer[LI_PK_BYTES];
    if (s_key(st, 0, peer)) li_roster_name_of(r, peer, x->peer, sizeof x->peer);
    else snprintf(x->peer, sizeof x->peer, "?");
    x->ours = strcmp(s_text(st, 1), "ours") == 0;
    x->origin_ok = s_key(st, 2, x->origin);
    if (x->origin_ok) li_roster_name_of(r, x->origin, x->origin_name, sizeof x->origin_name);
    else snprintf(x->origin_name, sizeof x->origin_name, "?");
    if (x->ours && !strcmp(x->origin_name, "?")) snprintf(x->origin_name, sizeof x->origin_name, "%s", s->name);
    li_utf8_copy(x->scope, sizeof x->scope, s_text(st, 3));
    x->seq = sqlite3_column_int64(st, 4);
    li_utf8_copy(x->code, sizeof x->code, s_text(st, 5));
    li_utf8_copy(x->message, sizeof x->message, s_text(st, 6));
    x->since_ms = (uint64_t)sqlite3_column_int64(st, 7);
    li_inspect_stuck_fix(x->code, x->ours, x->origin_name, x->peer, x->fix, sizeof x->fix);
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_stuck");
  sqlite3_finalize(st);
  return e;
}

/* linli_refused: the count and the newest few. */
static li_err s_refused_read(li_replica *r, li_status *s, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT count(*) FROM linli_refused", &st, "linli_refused", eb);
  if (!e && sqlite3_step(st) == SQLITE_ROW) s->refused_total = sqlite3_column_int64(st, 0);
  else if (!e) e = li_db_fail(r, eb, "linli_refused");
  sqlite3_finalize(st);
  st = NULL;
  if (e || s->refused_total == 0) return e;
  e = s_prepare(r, "SELECT origin, scope, seq, tbl, pk, reason, message, recorded_ms FROM linli_refused"
                   " ORDER BY id DESC LIMIT ?",
                &st, "linli_refused", eb);
  if (!e) sqlite3_bind_int(st, 1, LI_STATUS_REFUSED_SHOWN);
  size_t cap = 0;
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_refused_status *p = s_grow(s->refused, s->nrefused, &cap, sizeof *p, "refused rows", &e, eb);
    if (!p) break;
    s->refused = p;
    li_refused_status *x = &p[s->nrefused++];
    memset(x, 0, sizeof *x);
    s_name_of(r, st, 0, x->origin_name, sizeof x->origin_name);
    li_utf8_copy(x->scope, sizeof x->scope, s_text(st, 1));
    x->seq = sqlite3_column_int64(st, 2);
    li_utf8_copy(x->table, sizeof x->table, s_text(st, 3));
    li_utf8_copy(x->pk, sizeof x->pk, s_text(st, 4));
    li_utf8_copy(x->reason, sizeof x->reason, s_text(st, 5));
    li_utf8_copy(x->message, sizeof x->message, s_text(st, 6));
    x->recorded_ms = (uint64_t)sqlite3_column_int64(st, 7);
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "linli_refused");
  sqlite3_finalize(st);
  return e;
}

/* Tables changed by hand, as the catalogue read them, with their kept markers. */
static li_err s_drift_read(li_replica *r, li_status *s, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  li_err e = LI_OK;
  for (int i = 0; i < li_capture_count(r) && !e; i++) {
    const li_table *t = li_capture_table_at(r, i);
    if (!t->drift) continue;
    if (!st && (e = s_prepare(r, "SELECT count(*) FROM linli_dirty WHERE tbl = ?", &st, "linli_dirty", eb))) break;
    li_drift_status *p = s_grow(s->drift, s->ndrift, &cap, sizeof *p, "changed tables", &e, eb);
    if (!p) break;
    s->drift = p;
    li_drift_status *x = &p[s->ndrift++];
    memset(x, 0, sizeof *x);
    li_utf8_copy(x->table, sizeof x->table, t->name);
    li_utf8_copy(x->what, sizeof x->what, t->drift);
    sqlite3_bind_int(st, 1, t->id);
    if (sqlite3_step(st) == SQLITE_ROW) x->kept = sqlite3_column_int64(st, 0);
    else e = li_db_fail(r, eb, "linli_dirty");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return e;
}

li_err li_inspect_status(li_status *out, li_node *n, uint64_t now_ms, li_errbuf *eb) {
  assert(out && n && n->r);
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", n->cfg.name);
  out->role = n->cfg.role;
  snprintf(out->scope, sizeof out->scope, "%s", n->cfg.scope);
  memcpy(out->self, n->id.pk, LI_PK_BYTES);
  memcpy(out->network, n->cfg.network, LI_PK_BYTES);
  li_replica *r = n->r;
  if (sqlite3_exec(r->db, "SAVEPOINT li_status", NULL, NULL, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "status: savepoint");
  li_err e = s_status_counts(r, out, eb);
  if (!e) e = s_chains_read(r, out, eb);
  if (!e) e = s_peers_read(n, out, now_ms, eb);
  if (!e) e = s_rejects_read(r, out, eb);
  if (!e) e = s_bans_read(r, out, eb);
  if (!e) e = s_serve_read(r, out, now_ms, eb);
  if (!e) e = s_stuck_read(r, out, eb);
  if (!e) e = s_refused_read(r, out, eb);
  if (!e) out->recover_pending = li_recover_pending(r, out->recovered_from);
  if (!e) e = s_drift_read(r, out, eb);
  sqlite3_exec(r->db, "RELEASE li_status", NULL, NULL, NULL);
  assert(s_status_check(out));
  if (e) li_inspect_status_free(out);
  return e;
}

void li_inspect_status_free(li_status *s) {
  if (!s) return;
  free(s->chains);
  free(s->peers);
  free(s->rejected);
  free(s->banned);
  free(s->stuck);
  free(s->refused);
  free(s->drift);
  memset(s, 0, sizeof *s);
}

/* ---- log ---- */

struct li_log_cursor {
  li_replica *r;
  li_log_filter filter;
  li_chain_cursor *log;
  li_arena a;        /* the current commit, decoded, and its changes */
  li_log_entry entry;
};

li_err li_inspect_log_open(li_log_cursor **out, li_replica *r, const li_log_filter *filter, li_errbuf *eb) {
  assert(out && r);
  *out = NULL;
  li_log_cursor *c = calloc(1, sizeof *c);
  if (!c) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the log");
  c->r = r;
  if (filter) c->filter = *filter;
  li_arena_init(&c->a);
  li_err e = li_chain_cursor_open(r, LI_CHAIN_BY_HLC, NULL, &c->log, eb);
  if (e) {
    li_inspect_log_close(&c);
    return e;
  }
  *out = c;
  return LI_OK;
}

static bool s_change_matches(const li_log_filter *f, const Linli__TableChanges *tc, const Linli__RowChange *ch) {
  if (f->table && strcmp(tc->table, f->table) != 0) return false;
  if (!f->pk) return true;
  return ch->n_pk == 1 && ch->pk[0]->v_case == LINLI__VALUE__V_T && strcmp(ch->pk[0]->t, f->pk) == 0;
}

/* One row change as data, in the arena. */
static li_err s_change(li_log_cursor *c, const Linli__TableChanges *tc, const Linli__RowChange *ch, li_change *out,
                       li_errbuf *eb) {
  out->table = tc->table;
  out->npk = ch->n_pk;
  out->pk = ch->pk;
  out->kind = ch->cl % 2 == 0                                           ? LI_CHANGE_DELETED
              : ch->cl == 1 && ch->n_cols + ch->n_pk >= tc->n_columns ? LI_CHANGE_INSERTED
                                                                        : LI_CHANGE_SET;
  out->ncols = out->kind == LI_CHANGE_DELETED ? 0 : ch->n_cols;
  out->values = ch->values;
  const char **names = li_arena_alloc(&c->a, (out->ncols ? out->ncols : 1) * sizeof *names);
  if (!names) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the log");
  for (size_t k = 0; k < out->ncols; k++) names[k] = tc->columns[ch->cols[k]]; /* indexes checked by li_commit_open */
  out->col_names = names;
  return LI_OK;
}

/* The changes of a verified commit that the filter matches. */
static li_err s_changes(li_log_cursor *c, const Linli__Commit *cm, li_errbuf *eb) {
  size_t n = 0;
  for (size_t i = 0; i < cm->n_tables; i++)
    for (size_t j = 0; j < cm->tables[i]->n_rows; j++)
      n += s_change_matches(&c->filter, cm->tables[i], cm->tables[i]->rows[j]);
  c->entry.nchanges = 0;
  c->entry.changes = NULL;
  if (!n) return LI_OK;
  li_change *v = li_arena_alloc(&c->a, n * sizeof *v);
  if (!v) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the log");
  li_err e = LI_OK;
  for (size_t i = 0; i < cm->n_tables && !e; i++)
    for (size_t j = 0; j < cm->tables[i]->n_rows && !e; j++)
      if (s_change_matches(&c->filter, cm->tables[i], cm->tables[i]->rows[j]))
        e = s_change(c, cm->tables[i], cm->tables[i]->rows[j], &v[c->entry.nchanges++], eb);
  c->entry.changes = v;
  return e;
}

/* The entry of one stored commit; *show false when the filter leaves
 * nothing of it. */
static li_err s_log_entry(li_log_cursor *c, const li_chain_row *row, bool *show, li_errbuf *eb) {
  li_log_entry *en = &c->entry;
  memset(en, 0, sizeof *en);
  li_commit cm;
  li_errbuf ceb = {{0}};
  li_err ce = li_commit_open(c->r->network, row->sc, row->sc_len, &c->a, &cm, &ceb);
  if (ce) { /* a stored commit that fails verification is always shown */
    snprintf(en->error, sizeof en->error, "%s", li_errmsg(&ceb, ce));
    en->origin_ok = s_origin_key(row->origin, row->origin_len, en->origin);
    if (en->origin_ok) li_roster_name_of(c->r, en->origin, en->origin_name, sizeof en->origin_name);
    else snprintf(en->origin_name, sizeof en->origin_name, "?");
    li_utf8_copy(en->scope, sizeof en->scope, row->scope);
    en->seq = row->seq;
    *show = true;
    return LI_OK;
  }
  en->verified = true;
  en->origin_ok = true;
  memcpy(en->origin, cm.origin, LI_PK_BYTES);
  li_roster_name_of(c->r, cm.origin, en->origin_name, sizeof en->origin_name);
  li_utf8_copy(en->scope, sizeof en->scope, cm.scope);
  en->seq = (int64_t)cm.seq;
  en->hlc = cm.hlc;
  li_err e = s_changes(c, cm.c, eb);
  *show = en->nchanges > 0;
  return e;
}

li_err li_inspect_log_next(li_log_cursor *c, const li_log_entry **entry, li_errbuf *eb) {
  assert(c && entry);
  *entry = NULL;
  for (;;) {
    li_chain_row row;
    bool done, show = false;
    li_err e = li_chain_cursor_next(c->log, &row, &done, eb);
    if (e || done) return e;
    li_arena_reset(&c->a);
    if ((e = s_log_entry(c, &row, &show, eb))) return e;
    if (show) {
      *entry = &c->entry;
      return LI_OK;
    }
  }
}

void li_inspect_log_close(li_log_cursor **c) {
  if (!c || !*c) return;
  li_chain_cursor_close(&(*c)->log);
  li_arena_free(&(*c)->a);
  free(*c);
  *c = NULL;
}

/* ---- verify ---- */

/* The chain position verify last saw, to check the next row against. */
typedef struct {
  bool known;
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_INSPECT_TEXT_MAX + 1];
  int64_t seq;
  bool hash_known;
  uint8_t hash[LI_HASH_BYTES];
} s_prev;

static li_err s_verify_add(li_verify_result *v, li_problem_kind kind, const char *scope, int64_t seq,
                           const char *who, const char *what, li_errbuf *eb) {
  v->problems_total++;
  if (v->nproblems >= LI_VERIFY_PROBLEMS_MAX) return LI_OK; /* counted, not kept */
  if (v->nproblems % 64 == 0) {
    li_verify_problem *p = realloc(v->problems, (v->nproblems + 64) * sizeof *p);
    if (!p) return li_fail(eb, LI_ERR_NOMEM, "out of memory for verify's problems");
    v->problems = p;
  }
  li_verify_problem *p = &v->problems[v->nproblems++];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  li_utf8_copy(p->scope, sizeof p->scope, scope ? scope : "?");
  p->seq = seq;
  snprintf(p->who, sizeof p->who, "%s", who);
  snprintf(p->what, sizeof p->what, "%s", what);
  return LI_OK;
}

/* A chain head that is not the last stored commit of its chain
 * (li_chain_each_bad_head gives its scope and seq), as a problem. */
static li_err s_verify_bad_head(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  return s_verify_add(ctx, LI_PROBLEM_HEAD, row->scope, row->seq, "", "", eb);
}

/* What is wrong with one stored commit ("" when nothing), given the one
 * before it in (origin, scope, seq) order. */
static void s_verify_row(li_replica *r, li_arena *a, const li_chain_row *row, s_prev *prev,
                         char what[LI_ERRBUF_SIZE]) {
  what[0] = 0;
  uint8_t origin[LI_PK_BYTES];
  bool origin_ok = s_origin_key(row->origin, row->origin_len, origin);
  li_commit cm;
  li_errbuf ceb = {{0}};
  li_err ce = li_commit_open(r->network, row->sc, row->sc_len, a, &cm, &ceb);
  bool same_chain = prev->known && origin_ok && memcmp(origin, prev->origin, LI_PK_BYTES) == 0 &&
                    row->scope && strcmp(row->scope, prev->scope) == 0;
  int64_t want_seq = same_chain ? prev->seq + 1 : 1;
  if (ce) {
    snprintf(what, LI_ERRBUF_SIZE, "%s", li_errmsg(&ceb, ce));
  } else if (!origin_ok || memcmp(cm.origin, origin, LI_PK_BYTES) != 0 || !row->scope ||
             strcmp(cm.scope, row->scope) != 0 || (int64_t)cm.seq != row->seq || (int64_t)cm.hlc != row->hlc) {
    snprintf(what, LI_ERRBUF_SIZE, "the log row's origin/scope/seq/hlc columns differ from the signed commit");
  } else if (row->hash_len != LI_HASH_BYTES || memcmp(row->hash, cm.hash, LI_HASH_BYTES) != 0) {
    snprintf(what, LI_ERRBUF_SIZE, "the stored hash is not the commit's hash");
  } else if (row->seq != want_seq) {
    snprintf(what, LI_ERRBUF_SIZE, "chain gap: expected #%lld", (long long)want_seq);
  } else if (row->seq > 1 && (!prev->hash_known || cm.c->prev.len != LI_HASH_BYTES ||
                              memcmp(cm.c->prev.data, prev->hash, LI_HASH_BYTES) != 0)) {
    snprintf(what, LI_ERRBUF_SIZE, "does not chain to the previous commit");
  }
  prev->known = true;
  if (origin_ok) memcpy(prev->origin, origin, LI_PK_BYTES);
  li_utf8_copy(prev->scope, sizeof prev->scope, row->scope);
  prev->seq = row->seq;
  prev->hash_known = !ce;
  if (!ce) memcpy(prev->hash, cm.hash, LI_HASH_BYTES);
}

li_err li_inspect_verify(li_verify_result *out, li_replica *r, li_errbuf *eb) {
  assert(out && r);
  memset(out, 0, sizeof *out);
  li_chain_cursor *log = NULL;
  li_err e = li_chain_cursor_open(r, LI_CHAIN_BY_CHAIN, NULL, &log, eb);
  li_arena a;
  li_arena_init(&a);
  s_prev prev;
  memset(&prev, 0, sizeof prev);
  while (!e) {
    li_chain_row row;
    bool done;
    if ((e = li_chain_cursor_next(log, &row, &done, eb)) || done) break;
    li_arena_reset(&a);
    out->checked++;
    char what[LI_ERRBUF_SIZE], who[LI_NAME_MAX + 1] = "?";
    uint8_t origin[LI_PK_BYTES];
    s_verify_row(r, &a, &row, &prev, what);
    if (!what[0]) continue;
    if (s_origin_key(row.origin, row.origin_len, origin)) li_roster_name_of(r, origin, who, sizeof who);
    e = s_verify_add(out, LI_PROBLEM_COMMIT, row.scope, row.seq, who, what, eb);
  }
  li_chain_cursor_close(&log);
  li_arena_free(&a);
  if (!e) e = li_chain_each_bad_head(r, s_verify_bad_head, out, eb);
  if (e) li_inspect_verify_free(out);
  return e;
}

void li_inspect_verify_free(li_verify_result *v) {
  if (!v) return;
  free(v->problems);
  memset(v, 0, sizeof *v);
}

/* ---- conflicts ---- */

struct li_conflict_cursor {
  li_replica *r;
  sqlite3_stmt *st;
  li_conflict c;
};

li_err li_inspect_conflicts_open(li_conflict_cursor **out, li_replica *r, li_errbuf *eb) {
  assert(out && r);
  *out = NULL;
  li_conflict_cursor *c = calloc(1, sizeof *c);
  if (!c) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the conflicts");
  c->r = r;
  li_err e = s_prepare(r,
                       "SELECT tbl, pk, col, quote(loser), loser_origin, loser_hlc, quote(winner), winner_origin, "
                       "winner_hlc FROM linli_conflicts ORDER BY id",
                       &c->st, "linli_conflicts", eb);
  if (e) {
    li_inspect_conflicts_close(&c);
    return e;
  }
  *out = c;
  return LI_OK;
}

li_err li_inspect_conflicts_next(li_conflict_cursor *c, const li_conflict **conflict, li_errbuf *eb) {
  assert(c && conflict);
  *conflict = NULL;
  int rc = sqlite3_step(c->st);
  if (rc == SQLITE_DONE) return LI_OK;
  if (rc != SQLITE_ROW) return li_db_fail(c->r, eb, "linli_conflicts");
  li_conflict *k = &c->c;
  k->table = s_text(c->st, 0);
  k->pk = s_text(c->st, 1);
  k->column = s_text(c->st, 2);
  k->loser = s_text(c->st, 3);
  s_name_of(c->r, c->st, 4, k->loser_origin, sizeof k->loser_origin);
  k->loser_hlc = (uint64_t)sqlite3_column_int64(c->st, 5);
  k->winner = s_text(c->st, 6);
  s_name_of(c->r, c->st, 7, k->winner_origin, sizeof k->winner_origin);
  k->winner_hlc = (uint64_t)sqlite3_column_int64(c->st, 8);
  *conflict = k;
  return LI_OK;
}

void li_inspect_conflicts_close(li_conflict_cursor **c) {
  if (!c || !*c) return;
  sqlite3_finalize((*c)->st);
  free(*c);
  *c = NULL;
}

/* ---- digest ---- */

/* SELECT every column FROM table WHERE scope = ?1 ORDER BY its key
 * (sqlite3_free it). */
static char *s_table_rows_sql(const li_table *tb) {
  sqlite3_str *x = sqlite3_str_new(NULL);
  for (int k = 0; k < tb->ncols; k++) sqlite3_str_appendf(x, "%s\"%w\"", k ? ", " : "SELECT ", tb->cols[k]);
  sqlite3_str_appendf(x, " FROM \"%w\" WHERE scope = ?1 ORDER BY ", tb->name);
  for (int k = 0; k < tb->npk; k++) sqlite3_str_appendf(x, "%s\"%w\"", k ? ", " : "", tb->cols[tb->pk[k]]);
  return sqlite3_str_finish(x);
}

/* One value into the digest: its type, its length and its exact bytes
 * (integers and reals as 8 bytes, little-endian), so text that differs
 * after a NUL byte, or 1 and '1', hash differently; quote() could not tell
 * either apart. */
static void s_digest_value(crypto_generichash_state *h, sqlite3_stmt *st, int col) {
  uint8_t head[9];
  int type = sqlite3_column_type(st, col);
  const void *p = NULL;
  uint64_t n = 0, bits = 0;
  if (type == SQLITE_INTEGER) {
    bits = (uint64_t)sqlite3_column_int64(st, col);
    n = 8;
  } else if (type == SQLITE_FLOAT) {
    double d = sqlite3_column_double(st, col);
    memcpy(&bits, &d, 8);
    n = 8;
  } else if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
    p = type == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, col) : sqlite3_column_blob(st, col);
    n = (uint64_t)sqlite3_column_bytes(st, col);
  }
  head[0] = (uint8_t)type;
  for (int b = 0; b < 8; b++) head[1 + b] = (uint8_t)(n >> (8 * b));
  crypto_generichash_update(h, head, sizeof head);
  if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
    uint8_t le[8];
    for (int b = 0; b < 8; b++) le[b] = (uint8_t)(bits >> (8 * b));
    crypto_generichash_update(h, le, sizeof le);
  } else if (n) {
    crypto_generichash_update(h, p, (size_t)n);
  }
}

static li_err s_digest_table(li_replica *r, const li_table *tb, const char *scope, crypto_generichash_state *h,
                             int64_t *rows, li_errbuf *eb) {
  char *sql = s_table_rows_sql(tb);
  if (!sql) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the digest");
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, sql, &st, "digest", eb);
  sqlite3_free(sql);
  int rc = SQLITE_DONE;
  if (!e) sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    /* the table's name (with its NUL) starts every row */
    crypto_generichash_update(h, (const unsigned char *)tb->name, strlen(tb->name) + 1);
    for (int k = 0; k < tb->ncols; k++) s_digest_value(h, st, k);
    (*rows)++;
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "digest");
  sqlite3_finalize(st);
  return e;
}

static li_err s_digest_scope(li_replica *r, const char *scope, li_scope_digest *d, li_errbuf *eb) {
  memset(d, 0, sizeof *d);
  li_utf8_copy(d->scope, sizeof d->scope, scope);
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  li_err e = LI_OK;
  for (int t = 0; t < r->ntables && !e; t++) e = s_digest_table(r, &r->tables[t], scope, &h, &d->rows, eb);
  crypto_generichash_final(&h, d->hash, LI_HASH_BYTES);
  return e;
}

li_err li_inspect_digest(li_scope_digest **out, size_t *n, li_replica *r, const char *only_scope, li_errbuf *eb) {
  assert(out && n && r);
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = NULL;
  li_err e = s_prepare(r, "SELECT DISTINCT scope FROM linli_clock WHERE (?1 IS NULL OR scope = ?1) ORDER BY scope", &st,
                       "digest", eb);
  if (!e && only_scope) sqlite3_bind_text(st, 1, only_scope, -1, SQLITE_STATIC);
  size_t cap = 0;
  int rc = SQLITE_DONE;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    li_scope_digest *p = s_grow(*out, *n, &cap, sizeof *p, "scopes", &e, eb);
    if (!p) break;
    *out = p;
    e = s_digest_scope(r, s_text(st, 0), &p[(*n)++], eb);
  }
  if (!e && rc != SQLITE_DONE) e = li_db_fail(r, eb, "digest");
  sqlite3_finalize(st);
  if (e) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return e;
}

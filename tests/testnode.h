/* Node and replica fixtures shared by the cmocka tests: nodes and bare
 * replicas, SQL on them, sealing, admitting a committee, sending a scope's
 * commits from one node to another. */
#ifndef LI_TESTNODE_H
#define LI_TESTNODE_H
#include "testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "chain.h"
#include "hlc.h"
#include "merge.h"
#include "node.h"
#include "roster.h"
#include "seal.h"

/* A node initialised in dir and opened; fails the test on any error. */
static inline li_node *tu_node_new(const char *dir, li_role role, const char *name, const char *scope,
                                   const char *hub_key) {
  li_node_init_opts o = {.role = role, .name = name, .scope = scope, .hub_key = hub_key};
  li_errbuf eb = {{0}};
  li_err e = li_node_init(dir, &o, &eb);
  if (e) fail_msg("li_node_init %s: %s (%s)", dir, li_errname(e), eb.msg);
  li_node *n = calloc(1, sizeof *n);
  assert_non_null(n);
  if ((e = li_node_open(n, dir, &eb))) fail_msg("li_node_open %s: %s (%s)", dir, li_errname(e), eb.msg);
  return n;
}

/* Closes and frees a node made by tu_node_new; safe on NULL and twice. */
static inline void tu_node_free(li_node **n) {
  if (!*n) return;
  li_node_close(*n);
  free(*n);
  *n = NULL;
}

/* ---- bare replicas: no node directory, no key files ---- */

/* A 32-byte key every byte of which is fill (tests need distinct, stable keys). */
static inline void tu_key(uint8_t out[LI_PK_BYTES], uint8_t fill) { memset(out, fill, LI_PK_BYTES); }

/* The network key and self key of tu_replica_new's replicas. */
#define TU_NETWORK_FILL 0xAA
#define TU_SELF_FILL 0x5E

/* A new replica at dir/replica.db (schema_sql NULL: the street schema);
 * fails the test on any error. */
static inline li_replica *tu_replica_new(const char *dir, li_role role, const char *scope, const char *schema_sql) {
  char path[300];
  uint8_t net[LI_PK_BYTES], self[LI_PK_BYTES];
  tu_key(net, TU_NETWORK_FILL);
  tu_key(self, TU_SELF_FILL);
  snprintf(path, sizeof path, "%s/replica.db", dir);
  li_replica *r = NULL;
  li_errbuf eb = {{0}};
  li_err e = li_replica_create(path, role, scope, net, self, schema_sql, &r, &eb);
  if (e) fail_msg("li_replica_create %s: %s (%s)", path, li_errname(e), eb.msg);
  return r;
}

/* Runs SQL that must succeed. */
static inline void tu_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed (%s): %s", msg ? msg : "?", sql);
}

/* Runs SQL that may fail; its error message (or "") into msg. */
static inline int tu_exec_rc(sqlite3 *db, const char *sql, char *msg, size_t cap) {
  char *m = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &m);
  snprintf(msg, cap, "%s", m ? m : "");
  sqlite3_free(m);
  return rc;
}

/* The first column of the first row of a query, as an integer. */
static inline int64_t tu_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("cannot prepare: %s", sql);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

/* Every row of a query rendered with SQL quote() semantics ("'a'|1|X'00'"),
 * one line a row; malloc'd. Before/after snapshots compare these. */
static inline char *tu_dump(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("cannot prepare: %s", sql);
  size_t cap = 256, n = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      sqlite3_stmt *qq = NULL;
      assert_int_equal(sqlite3_prepare_v2(db, "SELECT quote(?)", -1, &qq, NULL), SQLITE_OK);
      sqlite3_bind_value(qq, 1, sqlite3_column_value(st, i));
      assert_int_equal(sqlite3_step(qq), SQLITE_ROW);
      const char *v = (const char *)sqlite3_column_text(qq, 0);
      size_t need = n + strlen(v) + 3;
      if (need > cap) {
        while (cap < need) cap *= 2;
        out = realloc(out, cap);
        assert_non_null(out);
      }
      n += (size_t)sprintf(out + n, "%s%s", i ? "|" : "", v);
      sqlite3_finalize(qq);
    }
    if (n + 2 > cap) {
      cap *= 2;
      out = realloc(out, cap);
      assert_non_null(out);
    }
    out[n++] = '\n';
    out[n] = 0;
  }
  sqlite3_finalize(st);
  return out;
}

/* Death test: runs fn(arg) in a child process and tells whether it ended
 * with an assertion (SIGABRT). For "misuse by our own code is an
 * assertion". */
static inline bool tu_aborts(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    fn(arg);
    _exit(0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

/* ---- a street: a hub and committee c07 in its roster ---- */

typedef struct {
  li_node *hub, *c07;
} tu_street;

static inline void tu_street_new(const char *dir, tu_street *s) {
  char d[300], hub_key[LI_PK_TEXT_LEN + 1], k[LI_PK_TEXT_LEN + 1];
  snprintf(d, sizeof d, "%s/hub", dir);
  s->hub = tu_node_new(d, LI_ROLE_HUB, "hub", NULL, NULL);
  li_pk_to_text(s->hub->id.pk, hub_key);
  snprintf(d, sizeof d, "%s/c07", dir);
  s->c07 = tu_node_new(d, LI_ROLE_COMMITTEE, "c07", "c07", hub_key);
  li_pk_to_text(s->c07->id.pk, k);
  li_errbuf eb = {{0}};
  li_err e = li_roster_add(s->hub->r, "c07", k, "c07", li_wall_ms(), &eb);
  if (e) fail_msg("li_roster_add: %s (%s)", li_errname(e), eb.msg);
}

static inline void tu_street_free(tu_street *s) {
  tu_node_free(&s->hub);
  tu_node_free(&s->c07);
}

static inline li_err tu_copy_sc(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  li_blob *b = ctx;
  uint8_t *p = malloc(row->sc_len ? row->sc_len : 1);
  assert_non_null(p);
  memcpy(p, row->sc, row->sc_len);
  b->sc = p;
  b->len = row->sc_len;
  return LI_OK;
}

/* The stored bytes of a node's own commit #seq of scope (b->sc malloc'd). */
static inline void tu_own_commit(li_node *n, const char *scope, uint64_t seq, li_blob *b) {
  bool found = false;
  li_errbuf eb = {{0}};
  assert_int_equal(li_chain_commit_at(n->r, n->id.pk, scope, seq, tu_copy_sc, b, &found, &eb), LI_OK);
  if (!found) fail_msg("%s has no commit %s#%llu", n->cfg.name, scope, (unsigned long long)seq);
}

/* ---- whole nodes ---- */

/* Runs SQL with no result rows on a node's replica; fails the test on error. */
static inline void tu_node_exec(li_node *n, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(n->r->db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed (%s): %s", msg ? msg : "?", sql);
}

/* Seals a node's captured writes; fails the test on error. */
static inline void tu_seal(li_node *n) {
  li_errbuf eb = {{0}};
  li_err e = li_seal(n->r, li_wall_ms(), NULL, &eb);
  if (e) fail_msg("li_seal: %s (%s)", li_errname(e), eb.msg);
}

/* On the hub: admits node c under name for scope; fails the test on error. */
static inline void tu_roster_add(li_node *hub, const char *name, const li_node *c, const char *scope) {
  char k[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->id.pk, k);
  li_errbuf eb = {{0}};
  li_err e = li_roster_add(hub->r, name, k, scope, li_wall_ms(), &eb);
  if (e) fail_msg("roster add %s: %s (%s)", name, li_errname(e), eb.msg);
}

/* Sends every commit of scope in from's log to `to`, in (hlc, origin, seq)
 * order, as one all-or-nothing merge (those `to` holds are skipped as
 * duplicates); fails the test on a rejection. Returns the commits applied. */
static inline int tu_send(li_node *from, li_node *to, const char *scope) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(from->r->db, "SELECT sc FROM linli_log WHERE scope = ?1 ORDER BY hlc, origin, seq", -1, &q,
                         NULL) != SQLITE_OK)
    fail_msg("tu_send: %s", sqlite3_errmsg(from->r->db));
  sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
  li_blob *v = NULL;
  size_t n = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    v = realloc(v, (n + 1) * sizeof *v);
    assert_non_null(v);
    size_t len = (size_t)sqlite3_column_bytes(q, 0);
    uint8_t *sc = malloc(len ? len : 1);
    assert_non_null(sc);
    memcpy(sc, sqlite3_column_blob(q, 0), len);
    v[n++] = (li_blob){sc, len};
  }
  sqlite3_finalize(q);
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING};
  li_merge_stats st;
  li_errbuf eb = {{0}};
  li_err e = n ? li_merge_batch(to->r, v, n, &o, &st, &eb) : LI_OK;
  for (size_t i = 0; i < n; i++) free((void *)v[i].sc);
  free(v);
  if (e) fail_msg("tu_send %s: %s (%s)", scope, li_errname(e), eb.msg);
  return n ? st.applied : 0;
}
#endif

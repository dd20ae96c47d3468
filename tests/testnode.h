/* Node fixtures shared by the cmocka tests that need whole nodes: make and
 * free a node, run SQL on it, seal, admit a committee, send a scope's
 * commits from one node to another. */
#ifndef LI_TESTNODE_H
#define LI_TESTNODE_H
#include "testutil.h"

#include <sqlite3.h>

#include "hlc.h"
#include "li_limits.h"
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
/* Runs SQL with no result rows on a node's replica; fails the test on error. */
static inline void tu_exec(li_node *n, const char *sql) {
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

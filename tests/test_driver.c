/* Tests of the node driver (node/driver.c): a hub and two committees, each
 * a real node directory with its own replica and driver, joined by an
 * in-memory network with virtual time. The network here is deliberately
 * simple (the simulator does faults); these check the driver's own rules.
 *
 * Covered: convergence through the drivers; a new session for every
 * connection (reconnects counted, the hub's old session replaced); fan-out
 * of applied commits to the other committees' sessions; the seal schedule;
 * a key removed from the roster loses its session and connection at once
 * and nothing more is sent to it; messages from keys that are not active
 * members, and from a connection that is gone, are not fed to a session;
 * the rate limit on warnings a peer's input causes; peer state saved for
 * status. */
#include "testnode.h"

#include <sqlite3.h>

#include "driver.h"
#include "gate.h"
#include "seal.h"
#include "hlc.h"
#include "roster.h"

#define NODES 3 /* [0] the hub, [1] c01, [2] c02 */

typedef struct {
  int from, to;
  li_conn conn;
  uint8_t *data;
  size_t len;
} s_msg;

typedef struct {
  char dir[256];
  li_node *n[NODES];
  li_driver *d[NODES];
  uint64_t conn[NODES]; /* committees: connection number, 0: none */
  uint64_t next_conn;
  uint64_t now;
  s_msg *q;
  size_t nq, cap;
  /* what the drivers said */
  int drops[NODES], removed[NODES], synced[NODES], warns[NODES];
  int sends_to[NODES]; /* SENDs of the hub, by committee */
  char last_log[NODES][700];
  int summaries[NODES];        /* "N more warning(s)" lines */
  int64_t skew_ms[NODES];      /* each node's wall clock minus the true time */
} fx;

/* Node i's time: virtual ms, and its wall clock (skewed by skew_ms[i]). */
static li_now s_now_of(fx *f, int i) { return (li_now){.ms = f->now, .wall_ms = (uint64_t)((int64_t)f->now + f->skew_ms[i])}; }

static li_conn s_conn(int c, uint64_t n) {
  li_conn id = {.len = 2};
  id.id[0] = (uint8_t)c;
  id.id[1] = (uint8_t)n;
  return id;
}

static void s_take(fx *f, int i) {
  li_out o;
  while (li_driver_next_out(f->d[i], &o)) {
    switch (o.kind) {
    case LI_OUT_SEND: {
      int c = i == 0 ? o.conn.id[0] : i;
      if (i == 0) f->sends_to[c]++;
      if (f->nq == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->q = realloc(f->q, f->cap * sizeof *f->q);
        assert_non_null(f->q);
      }
      f->q[f->nq++] = (s_msg){.from = i, .to = i == 0 ? c : 0, .conn = o.conn, .data = o.data, .len = o.len};
      break;
    }
    case LI_OUT_DROP:
      f->drops[i]++;
      if (i == 0 && o.conn.id[0] < NODES && f->conn[o.conn.id[0]] == o.conn.id[1]) {
        int c = o.conn.id[0];
        li_conn id = s_conn(c, f->conn[c]);
        f->conn[c] = 0;
        li_driver_link(f->d[c], &id, f->n[0]->id.pk, false, s_now_of(f, c));
      }
      break;
    case LI_OUT_LOG:
      if (o.level == LI_LOG_WARN) f->warns[i]++;
      snprintf(f->last_log[i], sizeof f->last_log[i], "%s", o.text);
      if (strstr(o.text, "80 more warning(s)")) f->summaries[i]++;
      break;
    case LI_OUT_PEER:
      if (o.change == LI_CHANGE_SYNCED) f->synced[i]++;
      if (o.change == LI_CHANGE_REMOVED) f->removed[i]++;
      break;
    }
  }
}

static void s_take_all(fx *f) {
  for (int i = 0; i < NODES; i++) s_take(f, i);
}

/* Delivers every queued message whose connection is still the committee's. */
static void s_deliver(fx *f) {
  for (int guard = 0; f->nq && guard < 100000; guard++) {
    s_msg m = f->q[0];
    memmove(f->q, f->q + 1, --f->nq * sizeof *f->q);
    int c = m.from == 0 ? m.to : m.from;
    if (f->conn[c] == m.conn.id[1] && f->conn[c]) {
      li_driver_recv(f->d[m.to], &m.conn, f->n[m.from]->id.pk, m.data, m.len, s_now_of(f, m.to));
      s_take_all(f);
    }
    free(m.data);
  }
}

static void s_connect(fx *f, int c) {
  f->conn[c] = ++f->next_conn;
  li_conn id = s_conn(c, f->conn[c]);
  li_driver_link(f->d[c], &id, f->n[0]->id.pk, true, s_now_of(f, c));
  s_take_all(f);
}

static void s_disconnect(fx *f, int c) {
  li_conn id = s_conn(c, f->conn[c]);
  f->conn[c] = 0;
  li_driver_link(f->d[c], &id, f->n[0]->id.pk, false, s_now_of(f, c));
  s_take_all(f);
}

/* ms of virtual time in steps of 10 ms, ticking and delivering. */
static void s_run(fx *f, uint64_t ms) {
  for (uint64_t end = f->now + ms; f->now < end;) {
    f->now += 10;
    for (int i = 0; i < NODES; i++) {
      li_driver_tick(f->d[i], s_now_of(f, i));
      s_take(f, i);
    }
    s_deliver(f);
  }
}

static void s_exec(li_node *n, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(n->r->db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", sql, err);
}

static int64_t s_int(li_node *n, const char *sql) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static li_driver_stats s_stats(fx *f, int i) {
  li_driver_stats st;
  li_driver_stats_get(f->d[i], &st);
  return st;
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  char d[300], hub_key[LI_PK_TEXT_LEN + 1];
  snprintf(d, sizeof d, "%s/hub", f->dir);
  f->n[0] = tu_node_new(d, LI_ROLE_HUB, "hub", NULL, NULL);
  /* virtual time starts at the real clock: init sealed the hub's roster
   * row with it, and a commit far ahead of a clock is held */
  f->now = li_wall_ms();
  li_pk_to_text(f->n[0]->id.pk, hub_key);
  for (int c = 1; c < NODES; c++) {
    char name[8], key[LI_PK_TEXT_LEN + 1];
    snprintf(name, sizeof name, "c%02d", c);
    snprintf(d, sizeof d, "%s/%s", f->dir, name);
    f->n[c] = tu_node_new(d, LI_ROLE_COMMITTEE, name, name, hub_key);
    li_pk_to_text(f->n[c]->id.pk, key);
    li_errbuf eb = {{0}};
    assert_int_equal(li_roster_add(f->n[0]->r, name, key, name, f->now, &eb), LI_OK);
  }
  for (int i = 0; i < NODES; i++) {
    li_driver_cfg c;
    li_driver_cfg_from(&c, &f->n[i]->cfg, f->n[i]->id.pk);
    c.seal_interval_ms = 100;
    c.heartbeat_ms = 500;
    c.peer_timeout_ms = 3000;
    c.retry_ms = 500;
    li_errbuf eb = {{0}};
    f->d[i] = li_driver_new(&c, f->n[i]->r, &eb);
    assert_non_null(f->d[i]);
  }
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  for (size_t i = 0; i < f->nq; i++) free(f->q[i].data);
  free(f->q);
  for (int i = 0; i < NODES; i++) {
    li_driver_destroy(&f->d[i]);
    li_driver_destroy(&f->d[i]); /* safe twice */
    tu_node_free(&f->n[i]);
  }
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

/* ---- tests ---- */

static void test_converge_through_drivers(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_connect(f, 2);
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  s_exec(f->n[2], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v2', 'c02', 'R2', '2025-03-02')");
  s_exec(f->n[0], "INSERT INTO notices(id, scope, title) VALUES('n1', 'street', '通知')");
  s_run(f, 3000);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM care_visits"), 2);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM care_visits"), 1); /* its own scope only */
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM care_visits WHERE id='v1'"), 0);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM notices"), 1);
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM notices"), 1);
  assert_true(f->synced[1] > 0 && f->synced[2] > 0 && f->synced[0] > 0);
  for (int i = 0; i < NODES; i++) assert_int_equal(s_stats(f, i).seal_failures, 0);
}

/* The fan-out after an apply: a committee's write reaches the hub, whose
 * driver does not offer it to the other committee's session (which may not
 * read it: telling it would only make it read its heads again, for every
 * committee on every batch); the control, a change the hub seals, still
 * reaches the committee that reads it and not the other. */
static void test_fan_out_after_apply(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_connect(f, 2);
  s_run(f, 1000);
  uint64_t before = s_stats(f, 0).fanouts;
  s_exec(f->n[1], "INSERT INTO hazards(id, scope, category, location, found_on) VALUES('h1', 'c01', '燃气', '1号楼', '2025-03-01')");
  s_run(f, 1000);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM hazards"), 1);
  assert_int_equal(s_stats(f, 0).fanouts, before);
  /* the hub assigns it: c01 gets the change, c02 does not */
  s_exec(f->n[0], "UPDATE hazards SET stage='交办' WHERE id='h1'");
  s_run(f, 1000);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM hazards WHERE stage='交办'"), 1);
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM hazards"), 0);
}

static void test_new_session_per_connection(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_run(f, 1000);
  assert_int_equal(s_stats(f, 1).sessions, 1);
  assert_int_equal(s_stats(f, 0).sessions, 1);
  assert_int_equal(s_stats(f, 0).reconnects, 0);
  /* the link drops and comes back: new connection, new sessions both ends */
  s_disconnect(f, 1);
  li_driver_peer_info in;
  assert_true(li_driver_peer(f->d[1], f->n[0]->id.pk, &in));
  assert_false(in.linked);
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v9', 'c01', 'R9', '2025-03-09')");
  s_run(f, 500); /* sealed offline */
  s_connect(f, 1);
  s_run(f, 1000);
  assert_int_equal(s_stats(f, 1).sessions, 2);
  assert_int_equal(s_stats(f, 1).reconnects, 1);
  assert_int_equal(s_stats(f, 0).sessions, 2);
  assert_int_equal(s_stats(f, 0).reconnects, 1);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM care_visits WHERE id='v9'"), 1);
  assert_true(li_driver_peer(f->d[0], f->n[1]->id.pk, &in));
  assert_true(in.linked);
  assert_int_equal(in.session.exchanges, 1); /* a fresh session, not the old one's count */
}

static void test_seal_schedule(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_run(f, 100); /* the hub's Hello confirms c01's chain: c01 seals from then on */
  assert_true(li_driver_may_seal(f->d[1]));
  uint64_t seals = s_stats(f, 1).seals;
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 1);
  s_run(f, 110); /* within one seal_interval_ms (100) */
  assert_true(s_stats(f, 1).seals > seals);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 0);
  assert_int_equal(s_stats(f, 1).sealed_commits, 1);
  /* stop seals what is pending */
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v2', 'c01', 'R2', '2025-03-02')");
  li_driver_stop(f->d[1], s_now_of(f, 1));
  s_take(f, 1);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 0);
  assert_int_equal(s_stats(f, 1).sealed_commits, 2);
}

static void test_roster_remove_cuts_the_session(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_connect(f, 2);
  s_run(f, 2000);
  li_errbuf eb = {{0}};
  assert_int_equal(li_roster_remove(f->n[0]->r, "c01", f->now, NULL, &eb), LI_OK);
  s_run(f, 1100); /* the roster is re-checked every second */
  assert_int_equal(f->removed[0], 1);
  assert_int_equal(f->drops[0], 1);
  assert_int_equal(f->conn[1], 0);
  li_driver_peer_info in;
  assert_true(li_driver_peer(f->d[0], f->n[1]->id.pk, &in));
  assert_false(in.linked);
  /* nothing more is sent to c01, even when the street writes for it */
  int sends = f->sends_to[1];
  s_exec(f->n[0], "INSERT INTO notices(id, scope, title) VALUES('n2', 'street', 'later')");
  s_run(f, 2000);
  assert_int_equal(f->sends_to[1], sends);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM notices WHERE id='n2'"), 0);
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM notices WHERE id='n2'"), 1); /* control */
  /* if c01 still gets a message through, it is refused and dropped again */
  uint64_t refused = s_stats(f, 0).refused;
  f->conn[1] = ++f->next_conn;
  li_conn id = s_conn(1, f->conn[1]);
  li_driver_recv(f->d[0], &id, f->n[1]->id.pk, (const uint8_t *)"\x1a\x00", 2, s_now_of(f, 0));
  s_take(f, 0);
  assert_int_equal(s_stats(f, 0).refused, refused + 1);
  assert_int_equal(f->drops[0], 2);
  assert_false(li_driver_peer(f->d[0], f->n[1]->id.pk, &in) && in.linked);
}

static void test_unknown_key_and_stale_connection(void **state) {
  fx *f = *state;
  /* a key the roster does not know: never a session */
  uint8_t stranger[LI_PK_BYTES];
  memset(stranger, 0x42, sizeof stranger);
  li_conn id = s_conn(7, 1);
  li_driver_recv(f->d[0], &id, stranger, (const uint8_t *)"x", 1, s_now_of(f, 0));
  s_take(f, 0);
  assert_int_equal(s_stats(f, 0).refused, 1);
  assert_int_equal(s_stats(f, 0).sessions, 0);
  li_driver_peer_info in;
  assert_false(li_driver_peer(f->d[0], stranger, &in));
  /* a committee ignores a message from a connection that is gone */
  s_connect(f, 1);
  li_conn old = s_conn(1, f->conn[1]);
  s_disconnect(f, 1);
  s_connect(f, 1);
  uint64_t sessions = s_stats(f, 1).sessions;
  li_driver_recv(f->d[1], &old, f->n[0]->id.pk, (const uint8_t *)"garbage", 7, s_now_of(f, 1));
  s_take(f, 1);
  assert_int_equal(s_stats(f, 1).sessions, sessions);
  assert_int_equal(f->warns[1], 0); /* not even fed to a session */
  /* control: the same garbage on the live connection is fed (and warned about) */
  li_conn live = s_conn(1, f->conn[1]);
  li_driver_recv(f->d[1], &live, f->n[0]->id.pk, (const uint8_t *)"garbage", 7, s_now_of(f, 1));
  s_take(f, 1);
  assert_int_equal(f->warns[1], 1);
}

static void test_warnings_rate_limited(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_run(f, 500);
  li_conn id = s_conn(1, f->conn[1]);
  for (int i = 0; i < 100; i++) {
    li_driver_recv(f->d[0], &id, f->n[1]->id.pk, (const uint8_t *)"garbage", 7, s_now_of(f, 0));
    s_take(f, 0);
  }
  assert_int_equal(f->warns[0], 20); /* S_WARN_BURST */
  f->now += 61000;
  li_driver_tick(f->d[0], s_now_of(f, 0));
  s_take(f, 0);
  assert_int_equal(f->summaries[0], 1); /* the summary line */
}

static void test_peer_state_saved(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  s_run(f, 2000);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_peers WHERE name='hub' AND connected=1"), 1);
  assert_int_equal(s_int(f->n[0], "SELECT commits_recv FROM linli_peers WHERE name='c01'"), 1);
  assert_true(s_int(f->n[0], "SELECT last_contact_ms FROM linli_peers WHERE name='c01'") > 0);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM linli_peers WHERE name='c02'"), 0); /* never connected */
}

static char *s_text(li_node *n, const char *sql) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(n->r->db, sql, -1, &st, NULL), SQLITE_OK);
  char *out = strdup(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
  sqlite3_finalize(st);
  return out;
}

/* A committee seals nothing before the hub has confirmed its own chain (a
 * restored backup would otherwise reuse sequence numbers): rows stay
 * unsealed, status says why; the first Hello of the hub opens the gate. */
static void test_committee_waits_for_the_hub(void **state) {
  fx *f = *state;
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  s_run(f, 3000);
  assert_false(li_driver_may_seal(f->d[1]));
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 1);
  assert_int_equal(s_stats(f, 1).sealed_commits, 0);
  char *why = s_text(f->n[1], "SELECT value FROM linli_serve WHERE key='seal'");
  assert_non_null(strstr(why, "waiting for the hub"));
  free(why);
  s_connect(f, 1);
  s_run(f, 500);
  assert_true(li_driver_may_seal(f->d[1]));
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 0);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM care_visits WHERE id='v1'"), 1);
  why = s_text(f->n[1], "SELECT value FROM linli_serve WHERE key='seal'");
  assert_string_equal(why, "");
  free(why);
}

/* The hub waits LI_GATE_HUB_GRACE_MS for its committees, or less when all
 * of them have said Hello. */
static void test_hub_waits_for_committees_or_grace(void **state) {
  fx *f = *state;
  s_exec(f->n[0], "INSERT INTO notices(id, scope, title) VALUES('n1', 'street', 'x')");
  s_run(f, 3000);
  assert_false(li_driver_may_seal(f->d[0]));
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM linli_dirty"), 1);
  s_connect(f, 1);
  s_run(f, 1000);
  assert_false(li_driver_may_seal(f->d[0])); /* c02 is still away */
  s_connect(f, 2);
  s_run(f, 1000);
  assert_true(li_driver_may_seal(f->d[0])); /* everyone heard, before the grace is over */
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM notices WHERE id='n1'"), 1);
  /* control: without committees the grace period opens it */
  li_driver_cfg c;
  li_driver_cfg_from(&c, &f->n[0]->cfg, f->n[0]->id.pk);
  li_errbuf eb = {{0}};
  li_driver *lone = li_driver_new(&c, f->n[0]->r, &eb);
  assert_non_null(lone);
  li_driver_tick(lone, s_now_of(f, 0));
  assert_false(li_driver_may_seal(lone));
  f->now += LI_GATE_HUB_GRACE_MS;
  li_driver_tick(lone, s_now_of(f, 0));
  assert_true(li_driver_may_seal(lone));
  li_driver_destroy(&lone);
}

/* A committee whose clock is more than max_skew ahead of the hub's seals
 * nothing (its commits would be held everywhere, and its HLC would stay in
 * the future); once the date is corrected, the next Hello lets it seal. */
static void test_clock_guard(void **state) {
  fx *f = *state;
  f->skew_ms[1] = 10 * 60 * 1000; /* ten minutes ahead; the default guard is five */
  s_connect(f, 1);
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  s_run(f, 2000);
  assert_false(li_driver_may_seal(f->d[1]));
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 1);
  int64_t ahead = s_int(f->n[1], "SELECT value FROM linli_serve WHERE key='clock_ahead_ms'");
  assert_true(ahead >= 10 * 60 * 1000 - 1000 && ahead <= 10 * 60 * 1000 + 1000);
  char *why = s_text(f->n[1], "SELECT value FROM linli_serve WHERE key='seal'");
  assert_non_null(strstr(why, "10 minutes ahead of the street hub"));
  assert_non_null(strstr(why, "本机时钟比街道服务器快"));
  free(why);
  f->skew_ms[1] = 0; /* the staff corrects the date: the guard lets go at once */
  s_run(f, 500);
  assert_true(li_driver_may_seal(f->d[1]));
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 0);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM care_visits WHERE id='v1'"), 1);
}

/* A copy of c01's folder (same key) that sealed on its own while c01 went
 * on: the hub's Hello shows a different commit at one of its seqs. The copy
 * stops sealing and says what to do; it never bans its own key. */
static void test_own_fork_stops_sealing(void **state) {
  fx *f = *state;
  char cmd[800], copy[300];
  snprintf(copy, sizeof copy, "%s/c01copy", f->dir);
  snprintf(cmd, sizeof cmd, "cp -r '%s/c01' '%s'", f->dir, copy);
  assert_int_equal(system(cmd), 0);
  s_connect(f, 1);
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  s_run(f, 2000);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM care_visits WHERE id='v1'"), 1);
  s_disconnect(f, 1);
  /* the copy replaces c02 in the fixture's network (same key as c01) */
  li_driver_destroy(&f->d[2]);
  tu_node_free(&f->n[2]);
  f->n[2] = calloc(1, sizeof *f->n[2]);
  li_errbuf eb = {{0}};
  assert_int_equal(li_node_open(f->n[2], copy, &eb), LI_OK);
  s_exec(f->n[2], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v2', 'c01', 'R2', '2025-03-02')");
  assert_int_equal(li_seal(f->n[2]->r, f->now, NULL, &eb), LI_OK); /* by hand: 'linli commit' */
  li_driver_cfg c;
  li_driver_cfg_from(&c, &f->n[2]->cfg, f->n[2]->id.pk);
  c.seal_interval_ms = 100;
  f->d[2] = li_driver_new(&c, f->n[2]->r, &eb);
  assert_non_null(f->d[2]);
  s_exec(f->n[2], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v3', 'c01', 'R3', '2025-03-03')");
  s_connect(f, 2);
  s_run(f, 2000);
  assert_false(li_driver_may_seal(f->d[2]));
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM linli_dirty"), 1); /* v3 kept, unsealed */
  char *why = s_text(f->n[2], "SELECT value FROM linli_serve WHERE key='seal'");
  assert_non_null(strstr(why, "forked"));
  assert_non_null(strstr(why, "linli recover"));
  free(why);
  assert_int_equal(s_int(f->n[2], "SELECT count(*) FROM linli_banned"), 0);
}

/* A date changed while connected, between two Hellos: the guard carries the
 * hub's clock forward on the monotonic clock and trips before the next
 * seal, so no commit is ever stamped days ahead. */
static void test_clock_jump_between_hellos(void **state) {
  fx *f = *state;
  s_connect(f, 1);
  s_run(f, 1000);
  assert_true(li_driver_may_seal(f->d[1]));
  f->skew_ms[1] = 3LL * 24 * 3600 * 1000; /* three days ahead */
  s_exec(f->n[1], "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES('v1', 'c01', 'R1', '2025-03-01')");
  s_run(f, 2000);
  assert_false(li_driver_may_seal(f->d[1]));
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_dirty"), 1);
  assert_int_equal(s_int(f->n[1], "SELECT count(*) FROM linli_log WHERE hlc > (SELECT max(hlc) FROM linli_log WHERE scope='street') + (3600000 << 16)"), 0);
  f->skew_ms[1] = 0;
  s_run(f, 2000);
  assert_int_equal(s_int(f->n[0], "SELECT count(*) FROM care_visits WHERE id='v1'"), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_converge_through_drivers, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_fan_out_after_apply, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_new_session_per_connection, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_seal_schedule, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_roster_remove_cuts_the_session, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_key_and_stale_connection, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_warnings_rate_limited, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_peer_state_saved, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_committee_waits_for_the_hub, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_hub_waits_for_committees_or_grace, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_clock_guard, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_clock_jump_between_hellos, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_own_fork_stops_sealing, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

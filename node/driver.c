/* driver: the node logic above the sessions; see driver.h for its inputs,
 * outputs and the peer diagram.
 *
 * Invariants (s_check):
 *  1. peer keys are unique; a committee has exactly one peer, the hub;
 *  2. a peer has a session iff it is linked;
 *  3. npeers <= cap (LI_PEERS_MAX on the hub);
 *  4. every queued SEND or DROP names a connection of at most
 *     LI_PEER_ID_MAX bytes, every SEND holds data. */
#include "driver.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "gate.h"
#include "recover.h"
#include "out.h"
#include "roster.h"
#include "seal.h"
#include "store.h"

#define S_SAVE_MS 500                /* linli_peers refresh: status calls a row older than 5 s stale */
#define S_FORGET_MS (10 * 60 * 1000) /* hub: a silent peer's session is dropped */
#define S_ROSTER_CHECK_MS 1000       /* how often the roster is compared with what the peers were given */
/* Warnings a peer's input causes and its "connected" lines are logged at
 * most LI_LOG_PEER_WARNS and LI_LOG_PEER_CONNECTS a minute per peer
 * (li_limits.h); the rest are counted (rejected_in still counts each) and
 * summed up in one line when the minute is over. */
/* Stuck chains remembered per peer (status names them); more are counted. */
#define S_STUCK_MAX 32

const char li_driver_sql[] =
    /* Sync peers as the serving daemon last saw them (status, report). */
    "CREATE TABLE linli_peers(key BLOB PRIMARY KEY NOT NULL, name TEXT, connected INTEGER NOT NULL DEFAULT 0,\n"
    "  last_contact_ms INTEGER, behind_them INTEGER NOT NULL DEFAULT 0, behind_us INTEGER NOT NULL DEFAULT 0,\n"
    "  commits_sent INTEGER NOT NULL DEFAULT 0, commits_recv INTEGER NOT NULL DEFAULT 0,\n"
    "  rejected_in INTEGER NOT NULL DEFAULT 0, rejected_out INTEGER NOT NULL DEFAULT 0,\n"
    "  last_error TEXT, updated_ms INTEGER,\n"
    /* row changes of our commits the peer refused alone (its Ack), over
     * every run of the daemon, and the newest in the peer's words */
    "  refused_rows INTEGER NOT NULL DEFAULT 0, refused_last TEXT,\n"
    /* the street schema version in the peer's last Hello (report: who lags) */
    "  schema_version INTEGER,\n"
    /* the current exchange: commits announced (the peer's Hello) that we lack, and received of them */
    "  ex_announced INTEGER NOT NULL DEFAULT 0, ex_received INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;\n"
    /* Chains left out of the last exchange with a peer: ours it could not
     * take ('ours'), or its that we could not ('theirs'). */
    "CREATE TABLE linli_stuck(peer BLOB NOT NULL, side TEXT NOT NULL, origin BLOB NOT NULL, scope TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL, code TEXT NOT NULL, message TEXT, since_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY(peer, side, origin, scope)) WITHOUT ROWID;\n"
    /* What the daemon says about itself: key 'seal' = what holds sealing
     * back ('' when nothing), 'clock_ahead_ms' = our clock minus the hub's. */
    "CREATE TABLE linli_serve(key TEXT PRIMARY KEY NOT NULL, value ANY, updated_ms INTEGER NOT NULL) WITHOUT ROWID;\n";

typedef struct {
  bool ours;                   /* our chain the peer could not take; else its chain we could not */
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
  li_err code;
  char message[200];
  uint64_t since_wall_ms;
  uint64_t exchange;           /* the session's exchange it was seen in */
} s_stuck;

typedef struct {
  uint8_t key[LI_PK_BYTES];
  char name[LI_NAME_MAX + 1];
  li_scopes reads;
  bool linked;
  li_conn conn;
  li_session *s;
  bool reachable;              /* its session last heard from it within the peer timeout */
  uint64_t sessions;
  uint64_t last_contact_wall_ms; /* 0: never */
  uint64_t last_recv_ms;
  uint64_t sent_before, recv_before; /* commits of earlier sessions */
  uint64_t rejected_in, rejected_out;
  uint64_t behind_at_recv;     /* commits of ours it lacked when it last sent something */
  char last_error[160];
  uint64_t refused_new;        /* rows the peer refused since the last save (LI_EV_REFUSED_ROWS) */
  uint64_t ex_n, ex_recv0;     /* the exchange status last saw, and commits received before it (first-sync progress) */
  char refused_last[LI_ERRBUF_SIZE];
  li_log_budget warns;         /* kept across sessions, like the rejection counts */
  li_log_budget connects;      /* "connected" lines */
  s_stuck stuck[S_STUCK_MAX];  /* chains left out of exchanges with it, until one completes without them */
  int nstuck;
  uint64_t stuck_ours;         /* its last complete exchange: our chains it could not take */
} s_peer;

struct li_driver {
  li_driver_cfg cfg;
  li_replica *r;
  li_store own;                /* the replica's store, unless cfg.store */
  const li_store_vt *vt;
  void *vt_ctx;
  s_peer *peers;
  int npeers, cap;
  li_out *out;                 /* ring */
  size_t out_head, out_n, out_cap;
  bool started;
  uint64_t next_seal_ms, next_save_ms, next_roster_ms;
  bool roster_known;
  uint32_t roster_committees; /* active committees in the roster (hub), counted when it changes */
  uint32_t schema_told;        /* committee: the schema version in the Hello of the current exchange */
  int64_t data_version;        /* li_replica_data_version at the last check: another process committed when it moved */
  uint8_t roster[LI_HASH_BYTES];
  li_now now;
  li_driver_stats st;
  li_gate gate;                /* may we seal (take back first; clock guard) */
  bool recover_pending;        /* committee: linli recover waits for the hub's view of the old key */
  int64_t hub_own_seq;         /* committee: the hub's seq of our own chain at its last Hello, -1: unknown */
  uint64_t hub_wall_seen;      /* committee: the hub's wall clock in the last Hello taken in */
  bool save_now;               /* a state status shows changed: save at the end of this input */
  char held_said[LI_ERRBUF_SIZE]; /* the last seal's li_seal_stats.held, as logged */
};

static bool s_check(const li_driver *d) {
  if (d->npeers > d->cap || (d->cfg.role == LI_ROLE_COMMITTEE && d->npeers != 1)) return false;
  if (d->cfg.role == LI_ROLE_COMMITTEE && memcmp(d->peers[0].key, d->cfg.network, LI_PK_BYTES) != 0) return false;
  for (int i = 0; i < d->npeers; i++) {
    if (d->peers[i].linked != (d->peers[i].s != NULL)) return false;
    for (int j = i + 1; j < d->npeers; j++)
      if (memcmp(d->peers[i].key, d->peers[j].key, LI_PK_BYTES) == 0) return false;
  }
  for (size_t i = 0; i < d->out_n; i++) {
    const li_out *o = &d->out[(d->out_head + i) % d->out_cap];
    if ((o->kind == LI_OUT_SEND || o->kind == LI_OUT_DROP) && o->conn.len > LI_PEER_ID_MAX) return false;
    if (o->kind == LI_OUT_SEND && !o->data) return false;
  }
  return true;
}

/* ---- outputs ---- */

/* A new output at the tail, zeroed; NULL when out of memory (the output is
 * lost: a lost SEND is a lost message, which the protocol survives). */
static li_out *s_out(li_driver *d, li_out_kind kind) {
  if (d->out_n == d->out_cap) {
    size_t cap = d->out_cap ? d->out_cap * 2 : 64;
    li_out *p = malloc(cap * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < d->out_n; i++) p[i] = d->out[(d->out_head + i) % d->out_cap];
    free(d->out);
    d->out = p;
    d->out_cap = cap;
    d->out_head = 0;
  }
  li_out *o = &d->out[(d->out_head + d->out_n++) % d->out_cap];
  memset(o, 0, sizeof *o);
  o->kind = kind;
  return o;
}

/* Drops the queued SENDs to p's connection (its session starts afresh). */
static void s_discard_sends(li_driver *d, const s_peer *p) {
  size_t k = 0;
  for (size_t i = 0; i < d->out_n; i++) {
    li_out *o = &d->out[(d->out_head + i) % d->out_cap];
    if (o->kind == LI_OUT_SEND && memcmp(o->key, p->key, LI_PK_BYTES) == 0) {
      free(o->data);
      continue;
    }
    d->out[(d->out_head + k++) % d->out_cap] = *o;
  }
  d->out_n = k;
}

static void s_log(li_driver *d, li_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_log(li_driver *d, li_log_level level, const char *fmt, ...) {
  li_out *o = s_out(d, LI_OUT_LOG);
  if (!o) return;
  o->level = level;
  va_list ap;
  char raw[sizeof o->text];
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  /* log lines carry peers' words (names, messages): untrusted text, made
   * safe for a terminal here, once for every adapter */
  li_out_clean(o->text, sizeof o->text, raw, (int)sizeof o->text);
}

static void s_peer_out(li_driver *d, const s_peer *p, li_peer_change change) {
  d->save_now = true;
  li_out *o = s_out(d, LI_OUT_PEER);
  if (!o) return;
  o->change = change;
  o->stuck_ours = (uint32_t)p->stuck_ours;
  memcpy(o->key, p->key, LI_PK_BYTES);
  snprintf(o->text, sizeof o->text, "%s", p->name);
}

static void s_drop_out(li_driver *d, const li_conn *conn, const uint8_t key[LI_PK_BYTES]) {
  li_out *o = s_out(d, LI_OUT_DROP);
  if (!o) return;
  o->conn = *conn;
  memcpy(o->key, key, LI_PK_BYTES);
  d->st.drops++;
}

/* ---- warnings a peer's input causes ---- */

/* The lines not logged in a window that is over (or, with force, now). */
static void s_warn_flush(li_driver *d, s_peer *p, bool force) {
  uint64_t n = li_log_budget_close(&p->warns, d->now.ms, force);
  if (n)
    s_log(d, LI_LOG_WARN, "%s: %llu more warning(s) about its input not logged (at most %u a minute)", p->name,
          (unsigned long long)n, LI_LOG_PEER_WARNS);
  n = li_log_budget_close(&p->connects, d->now.ms, force);
  if (n)
    s_log(d, LI_LOG_INFO, "%s: %llu more connection(s) not logged (at most %u a minute)", p->name,
          (unsigned long long)n, LI_LOG_PEER_CONNECTS);
}

/* Whether to log a warning the peer's input caused (LI_LOG_PEER_WARNS). */
static bool s_warn(li_driver *d, s_peer *p) {
  s_warn_flush(d, p, false);
  return li_log_budget_take(&p->warns, LI_LOG_PEER_WARNS);
}

/* ---- peers and their sessions ---- */

static s_peer *s_find(li_driver *d, const uint8_t key[LI_PK_BYTES]) {
  for (int i = 0; i < d->npeers; i++)
    if (memcmp(d->peers[i].key, key, LI_PK_BYTES) == 0) return &d->peers[i];
  return NULL;
}

static bool s_conn_eq(const li_conn *a, const li_conn *b) {
  return a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}

/* The active committees of the roster (the hub's budget is theirs). */
static void s_count_committees(li_driver *d) {
  li_member *m = NULL;
  size_t n = 0;
  li_errbuf eb = {{0}};
  if (d->cfg.role != LI_ROLE_HUB || li_roster_list(d->r, &m, &n, &eb) != LI_OK) return;
  uint32_t k = 0;
  for (size_t i = 0; i < n; i++) k += m[i].role == LI_ROLE_COMMITTEE && !m[i].revoked;
  free(m);
  d->roster_committees = k;
}

/* The hub's receive budget shared by the committees: each session tells
 * its committee how many batch bytes it may have unacknowledged at once
 * (session.c, "the byte window"), so the hub's queues hold about
 * LI_HUB_RECV_BYTES whatever the backlogs of how many committees. In a
 * Hello the share is of every active committee of the roster: at a heal
 * they link within a second, and a share given to the first ones by the
 * few linked then would be theirs until their first Ack. In an Ack it is
 * of those linked now, so one committee catching up alone gets the whole
 * budget from its first Ack on. A committee sets none: its one peer is the
 * hub. */
static uint32_t s_share(uint32_t among) {
  uint32_t share = LI_HUB_RECV_BYTES / (among ? among : 1);
  return share < LI_RECV_WINDOW_MIN_BYTES ? LI_RECV_WINDOW_MIN_BYTES : share;
}

static void s_recv_windows(li_driver *d) {
  if (d->cfg.role != LI_ROLE_HUB) return;
  uint32_t linked = 0;
  for (int i = 0; i < d->npeers; i++) linked += d->peers[i].linked;
  uint32_t hello = s_share(linked > d->roster_committees ? linked : d->roster_committees), ack = s_share(linked);
  for (int i = 0; i < d->npeers; i++)
    if (d->peers[i].linked) li_session_set_recv_window(d->peers[i].s, hello, ack);
}

static void s_unlink(li_driver *d, s_peer *p) {
  if (!p->linked) return;
  li_session_info in;
  li_session_info_get(p->s, &in);
  p->sent_before += in.commits_sent;
  p->recv_before += in.commits_recv;
  li_session_destroy(&p->s);
  p->linked = false;
  p->reachable = false;
  s_recv_windows(d);
}

/* A new session for a new connection of p. */
static bool s_link(li_driver *d, s_peer *p, const li_conn *conn) {
  s_unlink(d, p);
  li_session_cfg c;
  memset(&c, 0, sizeof c);
  memcpy(c.network, d->cfg.network, LI_PK_BYTES);
  memcpy(c.self, d->cfg.self, LI_PK_BYTES);
  memcpy(c.peer, p->key, LI_PK_BYTES);
  c.peer_reads = p->reads;
  c.initiator = d->cfg.role == LI_ROLE_COMMITTEE;
  c.batch_rows_max = d->cfg.batch_rows_max;
  c.batch_bytes_max = d->cfg.batch_bytes_max;
  c.window = d->cfg.window;
  c.heartbeat_ms = d->cfg.heartbeat_ms;
  c.peer_timeout_ms = d->cfg.peer_timeout_ms;
  c.retry_ms = d->cfg.retry_ms;
  p->s = li_session_new(&c, d->vt, d->vt_ctx);
  if (!p->s) {
    s_log(d, LI_LOG_ERROR, "out of memory for a session with %s", p->name);
    return false;
  }
  li_session_set_wall(p->s, d->now.wall_ms);
  li_session_set_schema(p->s, li_replica_schema_version(d->r));
  p->ex_n = UINT64_MAX; /* a new session counts exchanges from 0 */
  d->schema_told = li_replica_schema_version(d->r);
  p->linked = true;
  p->reachable = true;
  p->conn = *conn;
  s_recv_windows(d);
  /* a new session counts exchanges from 0: what the last one left out is
   * noted again by this one if it still holds (else it would stay forever:
   * linli-sim's liveness check found such stale entries) */
  if (p->nstuck) d->save_now = true;
  p->nstuck = 0;
  d->st.sessions++;
  if (p->sessions++) d->st.reconnects++;
  if (d->cfg.role == LI_ROLE_COMMITTEE) {
    s_log(d, LI_LOG_INFO, "connected to the hub");
    li_errbuf eb = {{0}};
    li_session_start(p->s, d->now.ms, &eb);
  } else {
    s_warn_flush(d, p, false);
    char key[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(p->key, key);
    /* named as the roster names it: name and key (docs/design-notes.md) */
    if (li_log_budget_take(&p->connects, LI_LOG_PEER_CONNECTS))
      s_log(d, LI_LOG_INFO, "peer %s (key %s, scope %s) connected", p->name, key, p->reads.n ? p->reads.list[0] : "?");
  }
  s_peer_out(d, p, LI_CHANGE_CONNECTED);
  return true;
}

/* The hub's entry for an active committee key; NULL (and the connection
 * dropped) for a key that is not one. */
static s_peer *s_hub_peer(li_driver *d, const li_conn *conn, const uint8_t key[LI_PK_BYTES]) {
  li_member m;
  li_errbuf eb = {{0}};
  if (li_roster_by_key(d->r, key, &m, &eb) != LI_OK || m.role != LI_ROLE_COMMITTEE) {
    char text[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(key, text);
    d->st.refused++;
    s_log(d, LI_LOG_WARN, "ignoring %s: not an active roster member; connection dropped", text);
    s_drop_out(d, conn, key);
    return NULL;
  }
  s_peer *p = s_find(d, key);
  if (!p) {
    if (d->npeers >= d->cap) {
      s_log(d, LI_LOG_WARN, "refusing a peer: already serving %d (LI_PEERS_MAX)", d->cap);
      return NULL;
    }
    p = &d->peers[d->npeers++];
    memset(p, 0, sizeof *p);
    memcpy(p->key, key, LI_PK_BYTES);
  }
  snprintf(p->name, sizeof p->name, "%s", m.name);
  li_roster_reads(&m, &p->reads);
  return p;
}

/* ---- events and fan-out ---- */

static void s_drain_out(li_driver *d, s_peer *p) {
  uint8_t *msg;
  size_t len;
  while (p->linked && li_session_next_out(p->s, &msg, &len)) {
    li_out *o = s_out(d, LI_OUT_SEND);
    if (!o) {
      free(msg);
      continue;
    }
    o->conn = p->conn;
    memcpy(o->key, p->key, LI_PK_BYTES);
    o->data = msg;
    o->len = len;
  }
}

/* Whether a peer that reads `reads` may read any scope of `touched`. */
static bool s_reads_any(const li_scopes *reads, const li_scopes *touched) {
  if (reads->all || touched->all) return true;
  for (int i = 0; i < touched->n && i < 2; i++)
    if (li_scopes_has(reads, touched->list[i])) return true;
  return false;
}

/* New local commits (sealed here, or applied from the peer `except`, of
 * the scopes `touched`; NULL: any): every other session whose peer may
 * read them offers them now. The others would look at their chains and
 * find nothing new: at a hub, a committee's batch of its own scope would
 * make every other committee's session read its heads again, work that
 * grows with the square of the committees under fan-in. */
static void s_fan_out(li_driver *d, const s_peer *except, const li_scopes *touched) {
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    if (!p->linked || p == except) continue;
    if (touched && !s_reads_any(&p->reads, touched)) continue;
    li_session_local_changed(p->s, d->now.ms);
    s_drain_out(d, p);
    if (except) d->st.fanouts++;
  }
}

/* Commits another process stored (`linli commit`, `linli schema apply`
 * while serve runs) are offered within a roster check, not at the next
 * anti-entropy round: any commit of another connection moves SQLite's
 * data_version (a staff member's write too: then the sessions find
 * nothing new to offer). */
static void s_others_check(li_driver *d) {
  int64_t v = li_replica_data_version(d->r);
  if (v == d->data_version) return;
  d->data_version = v;
  s_fan_out(d, NULL, NULL);
}

/* A chain the exchange left out (REJECTED: ours; REJECTED_IN: the peer's),
 * remembered for status until an exchange completes without it. */
static void s_stuck_note(li_driver *d, s_peer *p, const li_event *ev, bool ours) {
  if (!ev->has_chain || !ev->scope[0] || !p->linked) return;
  li_session_info in;
  li_session_info_get(p->s, &in);
  s_stuck *x = NULL;
  for (int i = 0; i < p->nstuck && !x; i++)
    if (p->stuck[i].ours == ours && strcmp(p->stuck[i].scope, ev->scope) == 0 &&
        memcmp(p->stuck[i].origin, ev->origin, LI_PK_BYTES) == 0)
      x = &p->stuck[i];
  if (!x) {
    if (p->nstuck == S_STUCK_MAX) return;
    x = &p->stuck[p->nstuck++];
    memset(x, 0, sizeof *x);
    x->ours = ours;
    memcpy(x->origin, ev->origin, LI_PK_BYTES);
    snprintf(x->scope, sizeof x->scope, "%s", ev->scope);
    x->since_wall_ms = d->now.wall_ms;
  }
  x->seq = ev->seq;
  x->code = ev->code;
  snprintf(x->message, sizeof x->message, "%s", ev->message);
  x->exchange = in.exchanges;
  d->save_now = true;
}

/* An exchange completed: chains not left out of it are moving again. */
static void s_stuck_settle(li_driver *d, s_peer *p, const li_event *ev) {
  li_session_info in;
  li_session_info_get(p->s, &in);
  int k = 0;
  for (int i = 0; i < p->nstuck; i++)
    if (p->stuck[i].exchange >= in.exchanges) p->stuck[k++] = p->stuck[i];
  if (k != p->nstuck) d->save_now = true;
  p->nstuck = k;
  p->stuck_ours = ev->stuck_ours;
}

static void s_note_error(s_peer *p, const li_event *ev) {
  snprintf(p->last_error, sizeof p->last_error, "%s", ev->message);
}

/* One session event: counters, a log line, and fan-out after an apply. */
static void s_event(li_driver *d, s_peer *p, const li_event *ev) {
  switch (ev->kind) {
  case LI_EV_SYNCED:
    s_stuck_settle(d, p, ev);
    if (ev->stuck_ours + ev->stuck_theirs)
      s_log(d, LI_LOG_WARN, "sync %s: sent %llu commit(s), received %llu; caught up except %u chain(s) of ours and %u of "
            "its that could not go on (see 'linli status')", p->name, (unsigned long long)ev->sent_commits,
            (unsigned long long)ev->recv_commits, ev->stuck_ours, ev->stuck_theirs);
    else
      s_log(d, LI_LOG_INFO, "sync %s: sent %llu commit(s), received %llu; caught up", p->name,
            (unsigned long long)ev->sent_commits, (unsigned long long)ev->recv_commits);
    s_peer_out(d, p, LI_CHANGE_SYNCED);
    break;
  case LI_EV_APPLIED:
    /* our own rows sealed first are new to everyone, the sender included */
    if (ev->sealed) s_fan_out(d, NULL, NULL);
    else s_fan_out(d, p, &ev->touched);
    break;
  case LI_EV_REFUSED_ROWS: /* the peer's words: untrusted, s_log and status clean them */
    p->refused_new += ev->applied;
    li_utf8_copy(p->refused_last, sizeof p->refused_last, ev->message);
    d->save_now = true;
    if (s_warn(d, p))
      s_log(d, LI_LOG_WARN, "%s applied our commits but refused %u row change(s) of them alone (see 'linli status'): %s",
            p->name, ev->applied, ev->message);
    break;
  case LI_EV_REJECTED:
    p->rejected_out++;
    s_note_error(p, ev);
    s_stuck_note(d, p, ev, true);
    if (s_warn(d, p)) s_log(d, LI_LOG_WARN, "%s rejected our commits (%s): %s", p->name, li_errname(ev->code), ev->message);
    break;
  case LI_EV_REJECTED_IN:
    p->rejected_in++;
    s_note_error(p, ev);
    s_stuck_note(d, p, ev, false);
    if (s_warn(d, p)) s_log(d, LI_LOG_WARN, "rejected commits from %s (%s): %s", p->name, li_errname(ev->code), ev->message);
    break;
  case LI_EV_FORK:
    s_note_error(p, ev);
    if (s_warn(d, p)) s_log(d, LI_LOG_WARN, "FORK with %s: %s", p->name, ev->message);
    break;
  case LI_EV_REFUSED:
    s_note_error(p, ev);
    if (s_warn(d, p)) s_log(d, LI_LOG_WARN, "%s refused the exchange (%s): %s", p->name, li_errname(ev->code), ev->message);
    break;
  case LI_EV_PROTOCOL:
    p->rejected_in++;
    s_note_error(p, ev);
    if (s_warn(d, p))
      s_log(d, LI_LOG_WARN, "%s from %s: %s",
            ev->code == LI_ERR_VERSION ? "no protocol version in common" : "malformed message", p->name, ev->message);
    break;
  case LI_EV_STORE:
    s_note_error(p, ev);
    s_log(d, LI_LOG_WARN, "replica error during sync with %s (%s): %s", p->name, li_errname(ev->code), ev->message);
    break;
  case LI_EV_PEER_LOST:
    if (p->reachable) {
      s_log(d, LI_LOG_INFO, "%s unreachable (no message in %u ms)", p->name, d->cfg.peer_timeout_ms);
      s_peer_out(d, p, LI_CHANGE_LOST);
    }
    p->reachable = false;
    break;
  }
}

/* Everything the sessions queued, until none has anything left: an event
 * may fan out, which queues messages in other sessions (never events that
 * fan out again: local_changed applies nothing). */
static void s_drain(li_driver *d) {
  bool more = true;
  for (int round = 0; more && round < 4; round++) {
    more = false;
    for (int i = 0; i < d->npeers; i++) {
      s_peer *p = &d->peers[i];
      s_drain_out(d, p);
      li_event ev;
      while (p->linked && li_session_next_event(p->s, &ev)) {
        s_event(d, p, &ev);
        more = true;
      }
    }
  }
  assert(s_check(d));
}

/* ---- the seal schedule and the roster ---- */

static void s_seal(li_driver *d) {
  if (!li_gate_may_seal(&d->gate)) return;
  li_seal_stats ss;
  li_errbuf eb = {{0}};
  li_err e = li_seal(d->r, d->now.wall_ms, &ss, &eb);
  d->st.seals++;
  if (e) {
    d->st.seal_failures++;
    s_log(d, LI_LOG_WARN, "seal: %s", li_errmsg(&eb, e));
    return;
  }
  if (ss.commits) {
    d->st.sealed_commits += (uint64_t)ss.commits;
    s_log(d, LI_LOG_INFO, "sealed %lld row change(s) into %d commit(s)", (long long)ss.rows, ss.commits);
    s_fan_out(d, NULL, NULL);
  }
  /* a table changed by hand (capture.h invariant 8): said once per change
   * of what is held, and shown by status meanwhile */
  if (ss.held_rows && strcmp(ss.held, d->held_said) != 0)
    s_log(d, LI_LOG_WARN, "seal: %lld row change(s) kept unsealed: %s", (long long)ss.held_rows, ss.held);
  snprintf(d->held_said, sizeof d->held_said, "%s", ss.held);
}

/* The hub: a peer whose key is no longer an active member loses its
 * session and its connection at once, with no further data either way. */
static void s_roster_check(li_driver *d) {
  uint8_t now[LI_HASH_BYTES];
  li_errbuf eb = {{0}};
  if (li_roster_digest(d->r, now, &eb) != LI_OK) {
    s_log(d, LI_LOG_WARN, "roster: %s", eb.msg);
    return;
  }
  bool changed = d->roster_known && memcmp(now, d->roster, LI_HASH_BYTES) != 0;
  if (changed || !d->roster_known) {
    s_count_committees(d);
    s_recv_windows(d); /* the share a Hello names follows the roster */
  }
  memcpy(d->roster, now, LI_HASH_BYTES);
  d->roster_known = true;
  if (!changed || d->cfg.role != LI_ROLE_HUB) return;
  d->st.roster_changes++;
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    li_member m;
    if (!p->linked) continue;
    if (li_roster_by_key(d->r, p->key, &m, &eb) == LI_OK && m.role == LI_ROLE_COMMITTEE) {
      li_scopes reads;
      li_roster_reads(&m, &reads);
      if (li_scopes_equal(&reads, &p->reads)) continue;
    }
    s_log(d, LI_LOG_WARN, "%s is no longer an active roster member: session ended, connection dropped", p->name);
    s_drop_out(d, &p->conn, p->key);
    s_peer_out(d, p, LI_CHANGE_REMOVED);
    s_unlink(d, p);
  }
}

/* ---- the seal gate and the clock guard (node/gate.h) ---- */

static void s_gate_log(li_driver *d) {
  char text[700];
  li_gate_describe(&d->gate, text, sizeof text);
  d->save_now = true;
  if (text[0]) s_log(d, d->gate.state == LI_GATE_FORKED ? LI_LOG_ERROR : LI_LOG_WARN, "%s", text);
  else s_log(d, LI_LOG_INFO, "sealing: this node's own commits are confirmed and its clock agrees with the hub's");
}

/* Our own chain of scope as peer p's Hello shows it. */
static void s_gate_chain(li_driver *d, s_peer *p, const char *scope) {
  uint64_t theirs = 0, ours = 0;
  uint8_t hash[LI_HASH_BYTES], mine[LI_HASH_BYTES];
  if (!li_session_peer_head(p->s, d->cfg.self, scope, &theirs, hash)) return;
  li_errbuf eb = {{0}};
  if (li_chain_head(d->r, d->cfg.self, scope, &ours, NULL, &eb)) return;
  bool agree = true, found = false;
  if (theirs > 0 && theirs <= ours && li_chain_hash_at(d->r, d->cfg.self, scope, theirs, mine, &found, &eb) == LI_OK)
    agree = !found || memcmp(mine, hash, LI_HASH_BYTES) == 0;
  li_gate_chain(&d->gate, p->name, scope, theirs, ours, agree);
}

/* `linli recover` ran: the hub's Hello says how much of the old key's
 * chain it holds; that is final, and what it lacks is sealed again under
 * the new key (node/recover.c). */
static void s_settle_recover(li_driver *d, s_peer *p) {
  uint8_t old[LI_PK_BYTES];
  uint64_t theirs = 0;
  uint8_t hash[LI_HASH_BYTES];
  if (!li_recover_pending(d->r, old) || !li_session_peer_head(p->s, old, d->r->scope, &theirs, hash)) return;
  int64_t rows = 0;
  li_errbuf eb = {{0}};
  li_err e = li_recover_settle(d->r, theirs, hash, &rows, &eb);
  if (e) {
    s_log(d, LI_LOG_WARN, "recover: %s", li_errmsg(&eb, e));
    return;
  }
  d->recover_pending = false;
  /* the exchange under way offers the old chain's tail, which the hub will
   * never take: drop what is queued and start afresh from the new heads */
  s_discard_sends(d, p);
  li_session_start(p->s, d->now.ms, &eb);
  s_log(d, LI_LOG_INFO,
        "recover: the hub holds the old key's commits up to #%llu; %lld row(s) written after them are sealed again "
        "under the new key",
        (unsigned long long)theirs, (long long)rows);
}

/* Whether every active committee has a session that heard its Hello (hub). */
static bool s_heard_all_committees(li_driver *d) {
  li_roster_row *rows = NULL;
  size_t n = 0;
  li_errbuf eb = {{0}};
  if (li_roster_rows(d->r, NULL, LI_PEERS_MAX, &rows, &n, &eb) != LI_OK) return false;
  bool all = true;
  for (size_t i = 0; i < n && all; i++) {
    if (rows[i].revoked || !rows[i].key_ok) continue;
    s_peer *p = s_find(d, rows[i].key);
    uint64_t seq;
    all = p && p->linked && li_session_peer_head(p->s, d->cfg.self, LI_SCOPE_STREET, &seq, NULL);
  }
  free(rows);
  return all;
}

/* Compares our own chains with every peer's view of them, and the hub's
 * clock with ours; logs what changes. */
static void s_gate_eval(li_driver *d) {
  bool heard = false;
  li_gate_round_begin(&d->gate);
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    uint64_t seq;
    if (!p->linked || !li_session_peer_head(p->s, d->cfg.self, d->r->scope, &seq, NULL)) continue;
    if (d->cfg.role == LI_ROLE_COMMITTEE) {
      /* the settle starts a new exchange: the hub's view of our chain is
       * heard again before the gate may open (else a restored replica with
       * a recover pending sealed over commits the hub held: linli-sim seed
       * 1045) */
      if (d->recover_pending) s_settle_recover(d, p);
      if (!li_session_peer_head(p->s, d->cfg.self, d->r->scope, &seq, NULL)) continue;
      heard = true;
      d->hub_own_seq = (int64_t)seq;
      s_gate_chain(d, p, d->r->scope);
      li_session_info in;
      li_session_info_get(p->s, &in);
      if (in.peer_wall_ms && in.peer_wall_ms != d->hub_wall_seen) { /* a new Hello, just now */
        d->hub_wall_seen = in.peer_wall_ms;
        li_gate_hub_clock(&d->gate, in.peer_wall_ms, d->now.ms);
      }
    } else {
      heard = true;
      for (int k = 0; k < p->reads.n && k < 2; k++) s_gate_chain(d, p, p->reads.list[k]);
    }
  }
  if (li_gate_clock(&d->gate, d->now.wall_ms, d->now.ms)) s_gate_log(d);
  bool all = d->cfg.role == LI_ROLE_COMMITTEE ? heard : d->gate.state == LI_GATE_WAITING && s_heard_all_committees(d);
  if (li_gate_round_end(&d->gate, all, d->now.ms)) s_gate_log(d);
  d->own.taking_back = !li_gate_may_seal_first(&d->gate);
}

/* ---- status for `linli status` and `linli report` ---- */

/* Whether a remembered chain has moved past where it stopped, or ended:
 * ours, the
 * peer's head of it as last heard, or this exchange sent it past there;
 * theirs, our own head of it. */
static bool s_stuck_moved(li_driver *d, s_peer *p, const s_stuck *x) {
  uint64_t head = 0;
  li_errbuf eb = {{0}};
  li_member m;
  /* past where its key was revoked (`roster replace`), a chain is not
   * stuck but ended: `recover` sealed its rows again under the new key */
  if (li_roster_by_key_any(d->r, x->origin, &m, &eb) == LI_OK && m.revoked && x->seq > m.revoked_after_seq) return true;
  if (x->ours)
    return p->linked && ((li_session_peer_head(p->s, x->origin, x->scope, &head, NULL) && head >= x->seq) ||
                         (li_session_sent(p->s, x->origin, x->scope, &head) && head >= x->seq));
  return li_chain_head(d->r, x->origin, x->scope, &head, NULL, &eb) == LI_OK && head >= x->seq;
}

static void s_save_stuck(li_driver *d) {
  /* a chain that moved on is not stuck, whatever the exchange it was noted
   * in (a gap that the resend filled, a hold the clock ended) */
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    int k = 0;
    for (int j = 0; j < p->nstuck; j++)
      if (!s_stuck_moved(d, p, &p->stuck[j])) p->stuck[k++] = p->stuck[j];
    p->nstuck = k;
  }
  sqlite3_stmt *st = NULL;
  sqlite3_exec(d->r->db, "DELETE FROM linli_stuck", NULL, NULL, NULL);
  if (sqlite3_prepare_v2(d->r->db,
                         "INSERT OR REPLACE INTO linli_stuck(peer, side, origin, scope, seq, code, message, since_ms)"
                         " VALUES(?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  for (int i = 0; i < d->npeers; i++)
    for (int k = 0; k < d->peers[i].nstuck; k++) {
      const s_stuck *x = &d->peers[i].stuck[k];
      sqlite3_bind_blob(st, 1, d->peers[i].key, LI_PK_BYTES, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, x->ours ? "ours" : "theirs", -1, SQLITE_STATIC);
      sqlite3_bind_blob(st, 3, x->origin, LI_PK_BYTES, SQLITE_STATIC);
      sqlite3_bind_text(st, 4, x->scope, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 5, (int64_t)x->seq);
      sqlite3_bind_text(st, 6, li_errname(x->code), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 7, x->message, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 8, (int64_t)x->since_wall_ms);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
  sqlite3_finalize(st);
}

static void s_save_serve(li_driver *d) {
  char text[700];
  li_gate_describe(&d->gate, text, sizeof text);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(d->r->db, "INSERT OR REPLACE INTO linli_serve(key, value, updated_ms) VALUES(?,?,?)", -1, &st,
                         NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, "seal", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)d->now.wall_ms);
  sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, "clock_ahead_ms", -1, SQLITE_STATIC);
  if (d->gate.clock_known) sqlite3_bind_int64(st, 2, d->gate.ahead_ms);
  else sqlite3_bind_null(st, 2);
  sqlite3_bind_int64(st, 3, (int64_t)d->now.wall_ms);
  sqlite3_step(st);
  sqlite3_reset(st);
  if (!d->cfg.store) { /* the work merge did: a copy of a held commit costs no check (tests/flood.t.sh) */
    sqlite3_bind_text(st, 1, "sig_checks", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)d->own.sig_checks);
    sqlite3_bind_int64(st, 3, (int64_t)d->now.wall_ms);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  if (d->hub_own_seq >= 0) { /* linli recover takes it as the hub's view when it runs offline */
    sqlite3_bind_text(st, 1, "hub_own_seq", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, d->hub_own_seq);
    sqlite3_bind_int64(st, 3, (int64_t)d->now.wall_ms);
    sqlite3_step(st);
  }
  sqlite3_finalize(st);
}

static void s_save(li_driver *d) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(d->r->db,
                         "INSERT OR REPLACE INTO linli_peers(key, name, connected, last_contact_ms, behind_them, behind_us,"
                         " commits_sent, commits_recv, rejected_in, rejected_out, last_error, updated_ms,"
                         " refused_rows, refused_last, schema_version, ex_announced, ex_received)"
                         " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,"
                         " coalesce((SELECT refused_rows FROM linli_peers WHERE key = ?1), 0) + ?13,"
                         " coalesce(?14, (SELECT refused_last FROM linli_peers WHERE key = ?1)),"
                         " coalesce(?15, (SELECT schema_version FROM linli_peers WHERE key = ?1)), ?16, ?17)",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  /* What is saved here is status (what `linli status` and `recover` read),
   * rewritten every S_SAVE_MS and on every change: it needs no fsync of its
   * own. In WAL mode synchronous=NORMAL keeps the database consistent and
   * loses, at a power cut only, what the next synced commit would have
   * made durable: a status some 500 ms old, as a crash before the save
   * would. A hub saved on each of 50 committees' connects and syncs, one
   * fsync each, and the disk's journal made them wait in line (issue 14
   * item 7). Merged commits keep synchronous=FULL. */
  sqlite3_exec(d->r->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  sqlite3_exec(d->r->db, "BEGIN", NULL, NULL, NULL);
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    li_session_info in;
    memset(&in, 0, sizeof in);
    if (p->linked) li_session_info_get(p->s, &in);
    bool up = p->linked && p->reachable && in.state != LI_SESSION_IDLE;
    sqlite3_bind_blob(st, 1, p->key, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, up);
    if (p->last_contact_wall_ms) sqlite3_bind_int64(st, 4, (int64_t)p->last_contact_wall_ms);
    sqlite3_bind_int64(st, 5, (int64_t)in.behind_them);
    /* status adds the commits sealed since the last contact to what the
     * peer lacked then: once the link is down, saving the live count (which
     * grows with every commit sealed and queued meanwhile) counted those
     * twice */
    sqlite3_bind_int64(st, 6, (int64_t)(up ? in.behind_us : p->behind_at_recv));
    sqlite3_bind_int64(st, 7, (int64_t)(p->sent_before + in.commits_sent));
    sqlite3_bind_int64(st, 8, (int64_t)(p->recv_before + in.commits_recv));
    sqlite3_bind_int64(st, 9, (int64_t)p->rejected_in);
    sqlite3_bind_int64(st, 10, (int64_t)p->rejected_out);
    if (p->last_error[0]) sqlite3_bind_text(st, 11, p->last_error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, (int64_t)d->now.wall_ms);
    sqlite3_bind_int64(st, 13, (int64_t)p->refused_new);
    if (p->refused_new) sqlite3_bind_text(st, 14, p->refused_last, -1, SQLITE_STATIC);
    if (in.peer_schema_version) sqlite3_bind_int64(st, 15, in.peer_schema_version);
    /* the current exchange: commits the peer's Hello announced we lack, and
     * how many of them arrived (status shows a first sync's progress) */
    if (p->linked && in.exchanges != p->ex_n) p->ex_n = in.exchanges, p->ex_recv0 = in.commits_recv;
    uint64_t got = p->linked ? in.commits_recv - p->ex_recv0 : 0;
    sqlite3_bind_int64(st, 16, (int64_t)(p->linked ? in.behind_them : 0));
    sqlite3_bind_int64(st, 17, (int64_t)(got < in.behind_them ? got : in.behind_them));
    if (sqlite3_step(st) != SQLITE_DONE) s_log(d, LI_LOG_DEBUG, "saving peer state: %s", sqlite3_errmsg(d->r->db));
    else p->refused_new = 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  sqlite3_finalize(st);
  s_save_stuck(d);
  s_save_serve(d);
  sqlite3_exec(d->r->db, "COMMIT", NULL, NULL, NULL);
  sqlite3_exec(d->r->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL); /* even when COMMIT failed */
  d->save_now = false;
}

/* ---- inputs ---- */

static void s_set_now(li_driver *d, li_now now) {
  d->now = now;
  d->own.wall_ms = now.wall_ms;
  if (!d->started) {
    d->started = true;
    d->next_seal_ms = d->next_save_ms = d->next_roster_ms = now.ms;
    li_gate_init(&d->gate, d->cfg.role, now.ms, d->cfg.max_skew_ms);
    d->recover_pending = d->cfg.role == LI_ROLE_COMMITTEE && li_recover_pending(d->r, NULL);
    d->hub_own_seq = -1;
  }
  d->own.taking_back = !li_gate_may_seal_first(&d->gate);
  for (int i = 0; i < d->npeers; i++)
    if (d->peers[i].linked) {
      li_session_set_wall(d->peers[i].s, now.wall_ms);
      li_session_set_schema(d->peers[i].s, li_replica_schema_version(d->r));
    }
}

void li_driver_link(li_driver *d, const li_conn *conn, const uint8_t key[LI_PK_BYTES], bool up, li_now now) {
  assert(d->cfg.role == LI_ROLE_COMMITTEE && conn->len <= LI_PEER_ID_MAX);
  s_set_now(d, now);
  s_peer *p = s_find(d, key);
  if (!p) return; /* not the hub: the transport pins the hub's key */
  if (up && !(p->linked && s_conn_eq(&p->conn, conn))) {
    s_link(d, p, conn);
  } else if (!up && p->linked && s_conn_eq(&p->conn, conn)) {
    s_log(d, LI_LOG_INFO, "hub unreachable; working offline, will catch up when the link returns");
    s_peer_out(d, p, LI_CHANGE_LOST);
    s_unlink(d, p);
  }
  s_drain(d);
}

void li_driver_recv(li_driver *d, const li_conn *conn, const uint8_t key[LI_PK_BYTES], const uint8_t *msg,
                    size_t len, li_now now) {
  assert(conn->len <= LI_PEER_ID_MAX);
  s_set_now(d, now);
  s_peer *p = NULL;
  if (d->cfg.role == LI_ROLE_HUB) {
    p = s_find(d, key);
    if (!p || !p->linked || !s_conn_eq(&p->conn, conn)) {
      /* a new connection of the key (a reconnect, a restarted daemon, a
       * `sync --once`): the committee numbers its exchanges afresh, and the
       * old session, still in the previous connection's exchange, would take
       * its Hello #n for a duplicate; the roster is checked again */
      p = s_hub_peer(d, conn, key);
      if (p && !s_link(d, p, conn)) p = NULL;
    }
  } else {
    p = s_find(d, key);
    if (p && !p->linked) s_link(d, p, conn);            /* a message proves the link is up */
    else if (p && !s_conn_eq(&p->conn, conn)) p = NULL; /* from a connection that is gone */
  }
  if (p && p->linked) {
    li_errbuf eb = {{0}};
    li_err e = li_session_recv(p->s, msg, len, now.ms, &eb);
    if (e) s_log(d, LI_LOG_DEBUG, "from %s: %s", p->name, li_errmsg(&eb, e));
    p->last_contact_wall_ms = now.wall_ms;
    p->last_recv_ms = now.ms;
    if (!p->reachable) s_peer_out(d, p, LI_CHANGE_CONNECTED);
    p->reachable = true;
    if (p->linked) {
      li_session_info in;
      li_session_info_get(p->s, &in);
      p->behind_at_recv = in.behind_us;
    }
  }
  s_drain(d);
  s_gate_eval(d);
  if (d->save_now) s_save(d);
}

/* A committee that migrated tells the hub at once (a new exchange, whose
 * Hello names the version) once the current exchange is caught up: the
 * hub's report shows who has not received the latest schema. */
static void s_schema_tell(li_driver *d) {
  uint32_t v = li_replica_schema_version(d->r);
  if (d->cfg.role != LI_ROLE_COMMITTEE || v == d->schema_told) return;
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    li_session_info in;
    if (!p->linked) continue;
    li_session_info_get(p->s, &in);
    if (!in.caught_up) return;
    li_errbuf eb;
    if (li_session_start(p->s, d->now.ms, &eb) != LI_OK) return;
    s_drain_out(d, p);
    d->schema_told = v;
  }
}

void li_driver_tick(li_driver *d, li_now now) {
  s_set_now(d, now);
  for (int i = 0; i < d->npeers; i++) {
    s_peer *p = &d->peers[i];
    if (p->warns.unlogged || p->connects.unlogged) s_warn_flush(d, p, false);
    if (!p->linked) continue;
    li_session_tick(p->s, now.ms);
    li_session_info in;
    li_session_info_get(p->s, &in);
    if (d->cfg.role == LI_ROLE_HUB && in.state == LI_SESSION_IDLE && now.ms - p->last_recv_ms > S_FORGET_MS) {
      s_drain(d);
      s_unlink(d, p);
    }
  }
  s_drain(d);
  s_schema_tell(d);
  if (now.ms >= d->next_roster_ms) {
    s_roster_check(d);
    s_others_check(d);
    d->next_roster_ms = now.ms + S_ROSTER_CHECK_MS;
  }
  s_gate_eval(d);
  if (now.ms >= d->next_seal_ms) {
    s_seal(d);
    d->next_seal_ms = now.ms + d->cfg.seal_interval_ms;
  }
  if (now.ms >= d->next_save_ms || d->save_now) {
    s_save(d);
    d->next_save_ms = now.ms + S_SAVE_MS;
  }
  s_drain(d);
}

void li_driver_stop(li_driver *d, li_now now) {
  s_set_now(d, now);
  s_seal(d);
  s_drain(d);
  s_save(d);
  for (int i = 0; i < d->npeers; i++)
    if (d->peers[i].warns.unlogged || d->peers[i].connects.unlogged) s_warn_flush(d, &d->peers[i], true);
}

/* ---- the rest ---- */

void li_driver_cfg_from(li_driver_cfg *dc, const li_config *c, const uint8_t self[LI_PK_BYTES]) {
  memset(dc, 0, sizeof *dc);
  dc->role = c->role;
  memcpy(dc->self, self, LI_PK_BYTES);
  memcpy(dc->network, c->role == LI_ROLE_COMMITTEE ? c->hub_key : c->network, LI_PK_BYTES);
  dc->seal_interval_ms = c->seal_interval_ms;
  dc->batch_rows_max = c->batch_rows_max;
  dc->batch_bytes_max = c->batch_bytes_max;
  dc->window = c->window;
  dc->heartbeat_ms = c->heartbeat_ms;
  dc->peer_timeout_ms = c->peer_timeout_ms;
  dc->retry_ms = 1000;
  dc->max_skew_ms = c->max_clock_skew_ms;
}

li_driver *li_driver_new(const li_driver_cfg *cfg, li_replica *r, li_errbuf *eb) {
  assert(r && r->id);
  if (cfg->window < 1 || cfg->window > LI_WINDOW_MAX || cfg->batch_rows_max < 1 ||
      cfg->batch_rows_max > LI_BATCH_ROWS_MAX || cfg->batch_bytes_max < 1 || cfg->batch_bytes_max > LI_BATCH_BYTES_MAX ||
      cfg->heartbeat_ms == 0 || cfg->peer_timeout_ms == 0 || cfg->seal_interval_ms == 0) {
    li_fail(eb, LI_ERR_CONFIG, "driver settings out of range (window, batch, heartbeat, timeout, seal interval)");
    return NULL;
  }
  li_driver *d = calloc(1, sizeof *d);
  if (!d) {
    li_fail(eb, LI_ERR_NOMEM, "out of memory");
    return NULL;
  }
  d->cfg = *cfg;
  d->r = r;
  d->own = (li_store){.r = r, .max_skew_ms = cfg->max_skew_ms, .wall_ms = 1};
  d->vt = cfg->store ? cfg->store : &li_store_replica_vt;
  d->vt_ctx = cfg->store ? cfg->store_ctx : &d->own;
  d->cap = cfg->role == LI_ROLE_HUB ? LI_PEERS_MAX : 1;
  d->peers = calloc((size_t)d->cap, sizeof *d->peers);
  if (!d->peers) {
    free(d);
    li_fail(eb, LI_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (cfg->role == LI_ROLE_COMMITTEE) {
    s_peer *p = &d->peers[d->npeers++];
    memcpy(p->key, cfg->network, LI_PK_BYTES);
    snprintf(p->name, sizeof p->name, "hub");
    p->reads.all = true;
  }
  assert(s_check(d));
  return d;
}

void li_driver_destroy(li_driver **dp) {
  if (!dp || !*dp) return;
  li_driver *d = *dp;
  for (int i = 0; i < d->npeers; i++) li_session_destroy(&d->peers[i].s);
  for (size_t i = 0; i < d->out_n; i++) {
    li_out *o = &d->out[(d->out_head + i) % d->out_cap];
    if (o->kind == LI_OUT_SEND) free(o->data);
  }
  free(d->out);
  free(d->peers);
  free(d);
  *dp = NULL;
}

bool li_driver_next_out(li_driver *d, li_out *out) {
  if (d->out_n == 0) return false;
  *out = d->out[d->out_head];
  d->out_head = (d->out_head + 1) % d->out_cap;
  d->out_n--;
  return true;
}

uint64_t li_driver_next_deadline(const li_driver *d) {
  if (!d->started) return 0;
  uint64_t next = d->next_seal_ms;
  if (d->next_save_ms < next) next = d->next_save_ms;
  if (d->next_roster_ms < next) next = d->next_roster_ms;
  for (int i = 0; i < d->npeers; i++)
    if (d->peers[i].linked) {
      uint64_t s = li_session_next_deadline(d->peers[i].s);
      if (s < next) next = s;
    }
  return next;
}

void li_driver_stats_get(const li_driver *d, li_driver_stats *out) { *out = d->st; }

bool li_driver_may_seal(const li_driver *d) { return d->started && li_gate_may_seal(&d->gate); }
bool li_driver_may_seal_first(const li_driver *d) { return d->started && li_gate_may_seal_first(&d->gate); }

void li_driver_seal_state(const li_driver *d, char *out, size_t cap) {
  if (!d->started) {
    snprintf(out, cap, "not started");
    return;
  }
  li_gate_describe(&d->gate, out, cap);
}

bool li_driver_peer(const li_driver *d, const uint8_t key[LI_PK_BYTES], li_driver_peer_info *out) {
  for (int i = 0; i < d->npeers; i++) {
    const s_peer *p = &d->peers[i];
    if (memcmp(p->key, key, LI_PK_BYTES) != 0) continue;
    memset(out, 0, sizeof *out);
    out->linked = p->linked;
    snprintf(out->name, sizeof out->name, "%s", p->name);
    if (p->linked) li_session_info_get(p->s, &out->session);
    out->last_contact_wall_ms = p->last_contact_wall_ms;
    snprintf(out->last_error, sizeof out->last_error, "%s", p->last_error);
    return true;
  }
  return false;
}

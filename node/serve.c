/* serve: the event loop of `linli serve`. See serve.h. */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "log.h"
#include "roster.h"
#include "seal.h"
#include "session.h"
#include "store.h"
#include "transport.h"

#define S_SAVE_MS 500
#define S_FORGET_MS (10 * 60 * 1000) /* a silent hub peer's session is dropped */
#define S_CONNECT_POLL_MS 50         /* committee: poll timeout until connected */
#define S_WAL_CHECKPOINT_PAGES 10000 /* auto-checkpoint: WAL of ~40 MiB (plus one transaction) */
/* Warnings a peer's input causes (malformed messages, rejected commits,
 * refusals, fork reports) are logged at most S_WARN_BURST times per
 * S_WARN_WINDOW_MS per peer; the rest are counted (rejected_in still counts
 * each) and summed up in one line when the window is over. A line per
 * message let an admitted peer sending garbage in a loop grow the hub's log
 * by ~3,000 lines (300 KB) a second (tests/exhaust.t.sh). */
#define S_WARN_BURST 20
#define S_WARN_WINDOW_MS 60000

typedef struct {
  uint64_t from_ms;  /* start of the current window */
  uint32_t logged;   /* warnings logged in it */
  uint64_t unlogged; /* warnings counted but not logged in it */
} s_warns;

typedef struct {
  bool used;
  li_peer_id rid;
  uint8_t key[LI_PK_BYTES];
  char name[LI_NAME_MAX + 1];
  li_session *s;
  bool connected;
  uint64_t last_recv_ms;
  uint64_t rejected_in, rejected_out;
  uint64_t behind_at_recv; /* commits of ours the peer lacked when it last sent something */
  char last_error[160];
  s_warns warns; /* kept across the key's reconnects, like the rejection counts */
} s_peer;

typedef struct {
  li_node *n;
  li_transport *t;
  li_store store;
  s_peer *peers;
  int npeers;
  uint64_t next_seal, next_save;
  bool link_up; /* committee: the loop saw the link up (and started an exchange on it) */
} s_serve;

static void s_session_cfg(const li_node *n, li_session_cfg *c) {
  memset(c, 0, sizeof *c);
  memcpy(c->network, n->cfg.network, LI_PK_BYTES);
  memcpy(c->self, n->id.pk, LI_PK_BYTES);
  c->batch_rows_max = n->cfg.batch_rows_max;
  c->batch_bytes_max = n->cfg.batch_bytes_max;
  c->window = n->cfg.window;
  c->heartbeat_ms = n->cfg.heartbeat_ms;
  c->peer_timeout_ms = n->cfg.peer_timeout_ms;
  c->retry_ms = 1000;
}

/* The hub's session for an authenticated key: found by key (a reconnect
 * gets a new routing id), or created for an active roster member. */
static s_peer *s_hub_peer(s_serve *sv, const li_transport_msg *m) {
  s_peer *free_slot = NULL;
  uint64_t kept_in = 0, kept_out = 0;
  s_warns kept_warns = {0};
  char kept_error[sizeof free_slot->last_error] = "";
  for (int i = 0; i < sv->npeers; i++) {
    s_peer *p = &sv->peers[i];
    if (!p->used) {
      if (!free_slot) free_slot = p;
      continue;
    }
    if (memcmp(p->key, m->peer_key, LI_PK_BYTES) == 0) {
      if (p->rid.len == m->peer.len && memcmp(p->rid.id, m->peer.id, m->peer.len) == 0) return p;
      /* the key on a new connection (a reconnect, a restarted daemon, a
       * `sync --once`): the committee numbers its exchanges afresh, and the
       * old session, still in the previous connection's exchange, would take
       * its Hello #n for a duplicate and ignore it until a timeout. A new
       * session (the roster is checked again); the rejection counts stay. */
      kept_in = p->rejected_in;
      kept_out = p->rejected_out;
      kept_warns = p->warns;
      snprintf(kept_error, sizeof kept_error, "%s", p->last_error);
      li_session_destroy(&p->s);
      p->used = false;
      free_slot = p;
      break;
    }
  }
  if (!free_slot) {
    if (sv->npeers >= LI_PEERS_MAX) {
      log_warnx("refusing a peer: already serving %d (LI_PEERS_MAX)", LI_PEERS_MAX);
      return NULL;
    }
    free_slot = &sv->peers[sv->npeers++];
  }
  li_member mem;
  li_errbuf reb = {{0}};
  if (li_roster_by_key(sv->n->r, m->peer_key, &mem, &reb) != LI_OK || mem.role != LI_ROLE_COMMITTEE) {
    char text[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(m->peer_key, text);
    log_warnx("ignoring %s: no longer an active roster member", text);
    return NULL;
  }
  li_session_cfg c;
  s_session_cfg(sv->n, &c);
  memcpy(c.peer, m->peer_key, LI_PK_BYTES);
  c.initiator = false;
  li_roster_reads(&mem, &c.peer_reads);
  const char *name = mem.name, *scope = mem.scope;
  memset(free_slot, 0, sizeof *free_slot);
  free_slot->s = li_session_new(&c, &li_store_replica_vt, &sv->store);
  if (!free_slot->s) return NULL;
  free_slot->used = true;
  free_slot->rid = m->peer;
  memcpy(free_slot->key, m->peer_key, LI_PK_BYTES);
  snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
  free_slot->rejected_in = kept_in;
  free_slot->rejected_out = kept_out;
  free_slot->warns = kept_warns;
  snprintf(free_slot->last_error, sizeof free_slot->last_error, "%s", kept_error);
  log_info("peer %s (scope %s) connected", name, scope);
  return free_slot;
}

static void s_flush(s_serve *sv, s_peer *p) {
  uint8_t *msg;
  size_t len;
  bool hub = sv->n->cfg.role == LI_ROLE_HUB;
  while (li_session_next_out(p->s, &msg, &len)) {
    li_errbuf eb = {{0}};
    /* a committee sends nothing until the loop has seen the link come up
     * and started a fresh exchange on it: messages of the exchange that was
     * running when the link dropped would reach a restarted hub as a
     * protocol error ("batch outside an exchange") and end the fresh one */
    li_err e = !hub && !sv->link_up ? li_fail(&eb, LI_ERR_TIMEOUT, "hub not connected")
                                     : li_transport_send(sv->t, hub ? &p->rid : NULL, msg, len, &eb);
    if (e) log_debug("send to %s: %s", p->name, li_errmsg(&eb, e));
    free(msg);
  }
}

/* The warnings not logged in a window that is over (or, with force, now). */
static void s_warn_flush(s_peer *p, uint64_t now, bool force) {
  if (!force && now < p->warns.from_ms + S_WARN_WINDOW_MS) return;
  if (p->warns.unlogged)
    log_warnx("%s: %llu more warning(s) about its input not logged (at most %d a minute)", p->name,
              (unsigned long long)p->warns.unlogged, S_WARN_BURST);
  p->warns = (s_warns){.from_ms = now};
}

/* Whether to log a warning the peer's input caused (S_WARN_BURST). */
static bool s_warn(s_peer *p) {
  s_warn_flush(p, li_wall_ms(), false);
  if (p->warns.logged < S_WARN_BURST) {
    p->warns.logged++;
    return true;
  }
  p->warns.unlogged++;
  return false;
}

static void s_events(s_serve *sv, s_peer *p, bool *synced) {
  li_event ev;
  while (li_session_next_event(p->s, &ev)) {
    switch (ev.kind) {
    case LI_EV_SYNCED:
      log_info("sync %s: sent %llu commit(s), received %llu; caught up", p->name, (unsigned long long)ev.sent_commits,
               (unsigned long long)ev.recv_commits);
      if (synced) *synced = true;
      break;
    case LI_EV_REJECTED:
      p->rejected_out++;
      snprintf(p->last_error, sizeof p->last_error, "%s", ev.message);
      if (s_warn(p)) log_warnx("%s rejected our commits (%s): %s", p->name, li_errname(ev.code), ev.message);
      break;
    case LI_EV_REJECTED_IN:
      p->rejected_in++;
      snprintf(p->last_error, sizeof p->last_error, "%s", ev.message);
      if (s_warn(p)) log_warnx("rejected commits from %s (%s): %s", p->name, li_errname(ev.code), ev.message);
      break;
    case LI_EV_FORK:
      if (s_warn(p)) log_warnx("FORK with %s: %s", p->name, ev.message);
      break;
    case LI_EV_REFUSED:
      snprintf(p->last_error, sizeof p->last_error, "%s", ev.message);
      if (s_warn(p)) log_warnx("%s refused the exchange (%s): %s", p->name, li_errname(ev.code), ev.message);
      break;
    case LI_EV_PROTOCOL:
      p->rejected_in++;
      snprintf(p->last_error, sizeof p->last_error, "%s", ev.message);
      if (s_warn(p)) log_warnx("malformed message from %s: %s", p->name, ev.message);
      break;
    case LI_EV_STORE:
      snprintf(p->last_error, sizeof p->last_error, "%s", ev.message);
      log_warnx("replica error during sync with %s (%s): %s", p->name, li_errname(ev.code), ev.message);
      break;
    case LI_EV_PEER_LOST:
      if (p->connected) log_info("%s unreachable (no message in %u ms)", p->name, sv->n->cfg.peer_timeout_ms);
      p->connected = false;
      break;
    }
  }
}

static void s_save(s_serve *sv, uint64_t now) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sv->n->r->db,
                         "INSERT OR REPLACE INTO linli_peers(key, name, connected, last_contact_ms, behind_them, behind_us,"
                         " commits_sent, commits_recv, rejected_in, rejected_out, last_error, updated_ms)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_exec(sv->n->r->db, "BEGIN", NULL, NULL, NULL);
  for (int i = 0; i < sv->npeers; i++) {
    s_peer *p = &sv->peers[i];
    if (!p->used) continue;
    li_session_info in;
    li_session_info_get(p->s, &in);
    sqlite3_bind_blob(st, 1, p->key, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, p->connected && in.state != LI_SESSION_IDLE);
    if (in.last_recv_ms) sqlite3_bind_int64(st, 4, (int64_t)in.last_recv_ms);
    sqlite3_bind_int64(st, 5, (int64_t)in.behind_them);
    /* status adds the commits sealed since the last contact to what the
     * peer lacked then: once the link is down, saving the live count (which
     * grows with every commit sealed and queued meanwhile) counted those
     * twice */
    bool up = p->connected && in.state != LI_SESSION_IDLE;
    sqlite3_bind_int64(st, 6, (int64_t)(up ? in.behind_us : p->behind_at_recv));
    sqlite3_bind_int64(st, 7, (int64_t)in.commits_sent);
    sqlite3_bind_int64(st, 8, (int64_t)in.commits_recv);
    sqlite3_bind_int64(st, 9, (int64_t)p->rejected_in);
    sqlite3_bind_int64(st, 10, (int64_t)p->rejected_out);
    if (p->last_error[0]) sqlite3_bind_text(st, 11, p->last_error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, (int64_t)now);
    if (sqlite3_step(st) != SQLITE_DONE) log_debug("saving peer state: %s", sqlite3_errmsg(sv->n->r->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  sqlite3_exec(sv->n->r->db, "COMMIT", NULL, NULL, NULL);
  sqlite3_finalize(st);
}

static void s_changed(s_serve *sv, const s_peer *except, uint64_t now) {
  for (int i = 0; i < sv->npeers; i++)
    if (sv->peers[i].used && &sv->peers[i] != except) li_session_local_changed(sv->peers[i].s, now);
}

static void s_seal(s_serve *sv, uint64_t now) {
  li_seal_stats ss;
  li_errbuf eb = {{0}};
  li_err e = li_seal(sv->n->r, now, &ss, &eb);
  if (e) {
    log_warnx("seal: %s", li_errmsg(&eb, e));
    return;
  }
  if (ss.commits) {
    log_info("sealed %lld row change(s) into %d commit(s)", (long long)ss.rows, ss.commits);
    s_changed(sv, NULL, now);
  }
}

li_err li_serve(li_node *n, const li_serve_opts *o, li_errbuf *eb) {
  s_serve sv;
  memset(&sv, 0, sizeof sv);
  sv.n = n;
  sv.store.r = n->r;
  sv.store.max_skew_ms = n->cfg.max_clock_skew_ms;
  /* Every received batch is one transaction (a default batch is one commit
   * of up to 4096 rows, 1000+ pages with its index pages): with SQLite's
   * default auto-checkpoint of 1000 WAL pages the daemon checkpointed after
   * nearly every batch, copying the same hot index pages into the database
   * and syncing it each time. */
  sqlite3_wal_autocheckpoint(n->r->db, S_WAL_CHECKPOINT_PAGES);
  sv.peers = calloc(n->cfg.role == LI_ROLE_HUB ? LI_PEERS_MAX : 1, sizeof *sv.peers);
  if (!sv.peers) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  bool hub = n->cfg.role == LI_ROLE_HUB;
  if (hub) {
    if (!n->cfg.listen[0]) {
      free(sv.peers);
      return li_fail(eb, LI_ERR_CONFIG, "%s: [sync] listen is not set (e.g. listen = tcp://0.0.0.0:7700)", n->conf_path);
    }
    sv.t = li_transport_hub_new(&n->id, n->cfg.listen, li_roster_admit, n->r, eb);
  } else {
    if (!n->cfg.hub[0]) {
      free(sv.peers);
      return li_fail(eb, LI_ERR_CONFIG, "%s: [sync] hub is not set (e.g. hub = tcp://HUB:7700)", n->conf_path);
    }
    sv.t = li_transport_committee_new(&n->id, n->cfg.hub, n->cfg.hub_key, eb);
  }
  if (!sv.t) {
    free(sv.peers);
    return eb && eb->msg[0] ? LI_ERR_IO : li_fail(eb, LI_ERR_IO, "cannot start the transport");
  }
  uint64_t now = li_wall_ms();
  if (!hub) {
    li_session_cfg c;
    s_session_cfg(n, &c);
    memcpy(c.peer, n->cfg.hub_key, LI_PK_BYTES);
    c.initiator = true;
    c.peer_reads.all = true;
    s_peer *p = &sv.peers[0];
    p->s = li_session_new(&c, &li_store_replica_vt, &sv.store);
    if (!p->s) {
      li_transport_destroy(&sv.t);
      free(sv.peers);
      return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    }
    p->used = true;
    memcpy(p->key, n->cfg.hub_key, LI_PK_BYTES);
    snprintf(p->name, sizeof p->name, "hub");
    sv.npeers = 1;
  }
  log_info("%s %s serving (%s %s)", li_role_name(n->cfg.role), n->cfg.name, hub ? "listening on" : "hub at",
           li_transport_endpoint(sv.t));
  sv.next_seal = now;
  li_err result = LI_OK;
  bool was_connected = false, synced = false;
  uint64_t deadline = o->once ? now + (uint64_t)o->once_timeout_ms : 0;
  while (!*o->stop) {
    now = li_wall_ms();
    uint64_t next = sv.next_seal < now + 1000 ? sv.next_seal : now + 1000;
    for (int i = 0; i < sv.npeers; i++)
      if (sv.peers[i].used) {
        uint64_t d = li_session_next_deadline(sv.peers[i].s);
        if (d && d < next) next = d;
      }
    int timeout = next > now ? (int)(next - now) : 0;
    /* li_transport_poll waits out its timeout when only a monitor event
     * (the handshake) arrives: until connected, look again soon, so the
     * exchange starts within S_CONNECT_POLL_MS of the link, not ~1 s later */
    if (!hub && !was_connected && timeout > S_CONNECT_POLL_MS) timeout = S_CONNECT_POLL_MS;
    li_transport_msg m;
    li_errbuf teb = {{0}};
    int rc = li_transport_poll(sv.t, timeout, &m, &teb);
    now = li_wall_ms();
    if (rc < 0) {
      log_warnx("transport: %s", teb.msg);
    } else if (rc == 1) {
      s_peer *p = hub ? s_hub_peer(&sv, &m) : &sv.peers[0];
      if (p) {
        uint64_t before = sv.store.applied_total, sealed_before = sv.store.sealed_total;
        li_errbuf seb = {{0}};
        p->connected = true;
        li_err e = li_session_recv(p->s, m.data, m.len, now, &seb);
        if (e) log_debug("from %s: %s", p->name, li_errmsg(&seb, e));
        li_session_info pin;
        li_session_info_get(p->s, &pin);
        p->behind_at_recv = pin.behind_us;
        if (sv.store.sealed_total != sealed_before) s_changed(&sv, NULL, now); /* our own new commits: everyone */
        else if (sv.store.applied_total != before) s_changed(&sv, p, now);
      }
      li_transport_msg_free(&m);
    }
    if (!hub) {
      bool c = li_transport_connected(sv.t);
      /* start an exchange when the link comes up, whatever the session's
       * state: a Hello sent while unconnected was dropped (ZMQ_IMMEDIATE;
       * e.g. the first seal runs before the handshake), and what was in
       * flight on a lost link will never be answered. Afterwards the
       * session paces its own retries (retry_ms). */
      if (c && !was_connected) {
        li_errbuf seb = {{0}};
        log_info("connected to the hub");
        li_session_start(sv.peers[0].s, now, &seb);
        sv.peers[0].connected = true;
      }
      if (!c && was_connected) {
        log_info("hub unreachable; working offline, will catch up when the link returns");
        sv.peers[0].connected = false;
      }
      was_connected = sv.link_up = c;
    }
    for (int i = 0; i < sv.npeers; i++) {
      s_peer *p = &sv.peers[i];
      if (!p->used) continue;
      li_session_tick(p->s, now);
      s_flush(&sv, p);
      s_events(&sv, p, &synced);
      if (p->warns.unlogged) s_warn_flush(p, now, false);
      if (hub) {
        li_session_info in;
        li_session_info_get(p->s, &in);
        if (in.state == LI_SESSION_IDLE && in.last_recv_ms && now - in.last_recv_ms > S_FORGET_MS) {
          li_session_destroy(&p->s);
          p->used = false;
        }
      }
    }
    if (now >= sv.next_seal) {
      s_seal(&sv, now);
      sv.next_seal = now + n->cfg.seal_interval_ms;
      for (int i = 0; i < sv.npeers; i++)
        if (sv.peers[i].used) s_flush(&sv, &sv.peers[i]);
    }
    if (now >= sv.next_save) {
      s_save(&sv, now);
      sv.next_save = now + S_SAVE_MS;
    }
    if (o->once && synced) break;
    if (o->once && now >= deadline) {
      result = li_fail(eb, LI_ERR_TIMEOUT, "no complete exchange with the hub at %s within %d s (hub down, or this "
                       "committee not in its roster?)", n->cfg.hub, o->once_timeout_ms / 1000);
      break;
    }
  }
  /* shutdown: seal what is pending, give the transport a moment to send */
  now = li_wall_ms();
  s_seal(&sv, now);
  for (int i = 0; i < sv.npeers; i++)
    if (sv.peers[i].used) s_flush(&sv, &sv.peers[i]);
  s_save(&sv, now);
  for (int i = 0; i < sv.npeers; i++) {
    if (sv.peers[i].used && sv.peers[i].warns.unlogged) s_warn_flush(&sv.peers[i], now, true);
    li_session_destroy(&sv.peers[i].s);
  }
  li_transport_destroy(&sv.t);
  free(sv.peers);
  log_info("stopped");
  return result;
}

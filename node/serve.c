/* serve: the ZeroMQ and system-clock adapter of the node driver. See
 * serve.h. It polls the transport, feeds the driver (node/driver.c) what
 * arrives and the time, carries out what the driver returns (send, drop a
 * connection, log) and decides when `sync --once` is done. Everything a
 * node decides is in the driver, which the simulator drives too. */
#include "serve.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "hlc.h"
#include "log.h"
#include "out.h"
#include "roster.h"
#include "transport.h"

#define S_CONNECT_POLL_MS 50         /* committee: poll timeout until connected */
#define S_IDLE_POLL_MS 1000          /* the longest poll, so a stop request is seen */
#define S_WAL_CHECKPOINT_PAGES 10000 /* auto-checkpoint: WAL of ~40 MiB (plus one transaction) */

typedef struct {
  li_node *n;
  li_transport *t;
  li_driver *d;
  bool hub;
  bool synced;          /* sync --once: an exchange completed */
  uint32_t stuck_ours;  /* ... leaving this many of our chains out */
} s_serve;

static li_now s_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (li_now){.ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, .wall_ms = li_wall_ms()};
}

static void s_conn_from(li_conn *c, const li_peer_id *p) {
  c->len = p->len <= sizeof c->id ? p->len : sizeof c->id;
  memcpy(c->id, p->id, c->len);
}

static void s_peer_from(li_peer_id *p, const li_conn *c) {
  p->len = c->len <= sizeof p->id ? c->len : sizeof p->id;
  memcpy(p->id, c->id, p->len);
}

/* Carries out the driver's outputs. */
static void s_outputs(s_serve *sv) {
  li_out o;
  while (li_driver_next_out(sv->d, &o)) {
    li_errbuf eb = {{0}};
    li_peer_id to;
    switch (o.kind) {
    case LI_OUT_SEND: {
      s_peer_from(&to, &o.conn);
      li_err e = li_transport_send(sv->t, sv->hub ? &to : NULL, o.data, o.len, &eb);
      if (e) log_debug("send: %s", li_errmsg(&eb, e));
      free(o.data);
      break;
    }
    case LI_OUT_DROP:
      s_peer_from(&to, &o.conn);
      if (sv->hub) li_transport_drop(sv->t, &to);
      break;
    case LI_OUT_LOG:
      switch (o.level) {
      case LI_LOG_ERROR: log_error("%s", o.text); break;
      case LI_LOG_WARN: log_warnx("%s", o.text); break;
      case LI_LOG_INFO: log_info("%s", o.text); break;
      default: log_debug("%s", o.text); break;
      }
      break;
    case LI_OUT_PEER:
      if (o.change == LI_CHANGE_SYNCED) {
        sv->synced = true;
        sv->stuck_ours = o.stuck_ours;
      }
      break;
    }
  }
}

static li_err s_start(s_serve *sv, li_node *n, li_errbuf *eb) {
  sv->n = n;
  sv->hub = n->cfg.role == LI_ROLE_HUB;
  /* Every received batch is one transaction (a default batch is one commit
   * of up to 4096 rows, 1000+ pages with its index pages): with SQLite's
   * default auto-checkpoint of 1000 WAL pages the daemon checkpointed after
   * nearly every batch, copying the same hot index pages into the database
   * and syncing it each time. */
  sqlite3_wal_autocheckpoint(n->r->db, S_WAL_CHECKPOINT_PAGES);
  if (sv->hub && !n->cfg.listen[0])
    return li_fail(eb, LI_ERR_CONFIG, "%s: [sync] listen is not set (e.g. listen = tcp://0.0.0.0:7700)", n->conf_path);
  if (!sv->hub && !n->cfg.hub[0])
    return li_fail(eb, LI_ERR_CONFIG, "%s: [sync] hub is not set (e.g. hub = tcp://HUB:7700)", n->conf_path);
  li_driver_cfg dc;
  li_driver_cfg_from(&dc, &n->cfg, n->id.pk);
  if (!(sv->d = li_driver_new(&dc, n->r, eb))) return LI_ERR_NOMEM;
  li_err e = sv->hub ? li_transport_hub_new(&n->id, n->cfg.listen, li_roster_admit, n->r, &sv->t, eb)
                     : li_transport_committee_new(&n->id, n->cfg.hub, n->cfg.hub_key, &sv->t, eb);
  if (e) {
    li_driver_destroy(&sv->d);
    return e;
  }
  log_info("%s %s serving (%s %s)", li_role_name(n->cfg.role), n->cfg.name, sv->hub ? "listening on" : "hub at",
           li_transport_endpoint(sv->t));
  return LI_OK;
}

/* How long the next poll may wait. */
static int s_timeout(const s_serve *sv, li_now now, bool linked) {
  uint64_t next = li_driver_next_deadline(sv->d);
  int timeout = next > now.ms ? (next - now.ms > S_IDLE_POLL_MS ? S_IDLE_POLL_MS : (int)(next - now.ms)) : 0;
  /* li_transport_poll returns as the link comes up; until then look again
   * soon anyway, a cheap safety net */
  if (!sv->hub && !linked && timeout > S_CONNECT_POLL_MS) timeout = S_CONNECT_POLL_MS;
  return timeout;
}

li_err li_serve(li_node *n, const li_serve_opts *o, li_errbuf *eb) {
  /* Batch messages (up to LI_BATCH_BYTES_MAX) are allocated and freed by
   * ZeroMQ's I/O thread and ours. glibc raises its mmap threshold to the
   * largest block freed, after which such blocks come from each thread's
   * heap and stay there: a hub that had taken 50 backlogs kept ~100 MiB it
   * no longer used. A fixed threshold maps them and gives them back. */
  mallopt(M_MMAP_THRESHOLD, LI_SERVE_MMAP_THRESHOLD);
  s_serve sv;
  memset(&sv, 0, sizeof sv);
  li_err e = s_start(&sv, n, eb);
  if (e) return e;
  static const li_conn hub_conn = {.len = 0};
  li_now now = s_now();
  uint64_t deadline = o->once ? now.ms + (uint64_t)o->once_timeout_ms : 0;
  bool linked = false;
  li_err result = LI_OK;
  li_driver_tick(sv.d, now);
  s_outputs(&sv);
  while (!*o->stop) {
    li_transport_msg m;
    li_errbuf teb = {{0}};
    int rc = li_transport_poll(sv.t, s_timeout(&sv, s_now(), linked), &m, &teb);
    now = s_now();
    if (rc < 0) log_warnx("transport: %s", teb.msg);
    if (!sv.hub) {
      /* the link's ups and downs: a new session on every new connection */
      bool up = li_transport_connected(sv.t);
      if (up != linked) li_driver_link(sv.d, &hub_conn, n->cfg.hub_key, up, now);
      linked = up;
    }
    if (rc == 1) {
      li_conn c;
      s_conn_from(&c, &m.peer);
      li_driver_recv(sv.d, &c, m.peer_key, m.data, m.len, now);
      li_transport_msg_free(&m);
    }
    li_driver_tick(sv.d, now);
    s_outputs(&sv);
    if (o->once && sv.synced) {
      /* caught up, but only if nothing of ours is stuck or held back */
      char why[700];
      li_driver_seal_state(sv.d, why, sizeof why);
      if (sv.stuck_ours)
        result = li_fail(eb, LI_ERR_STUCK, "exchanged with the hub, but %u chain(s) of this node could not go on: see "
                         "'linli status' for each and the command that fixes it", sv.stuck_ours);
      else if (why[0] && !li_driver_may_seal(sv.d) && strstr(why, "forked"))
        result = li_fail(eb, LI_ERR_STUCK, "%s", why);
      break;
    }
    if (o->once && now.ms >= deadline) {
      /* the hub answered but the exchange did not complete: its words say
       * why (a fork, a ban), not an outage (issue 12) */
      li_driver_peer_info pi;
      char said[200];
      bool answered = li_driver_peer(sv.d, n->cfg.hub_key, &pi) && pi.last_error[0];
      if (answered) li_out_clean(said, sizeof said, pi.last_error, LI_OUT_CELL_COLS_MAX * 2);
      if (answered)
        result = li_fail(eb, LI_ERR_STUCK, "no complete exchange with the hub at %s within %d s; the last it said: %s "
                         "(see 'linli status')", n->cfg.hub, o->once_timeout_ms / 1000, said);
      else
        result = li_fail(eb, LI_ERR_TIMEOUT,
                         "no complete exchange with the hub at %s within %d s (hub down, or this committee not in "
                         "its roster?)",
                         n->cfg.hub, o->once_timeout_ms / 1000);
      break;
    }
  }
  /* shutdown: seal what is pending, give the transport a moment to send */
  li_driver_stop(sv.d, s_now());
  s_outputs(&sv);
  li_driver_destroy(&sv.d);
  li_transport_destroy(&sv.t);
  log_info("stopped");
  return result;
}

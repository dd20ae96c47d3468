/* net: the simulator's virtual network and connections (see sim.h).
 *
 * Messages travel on a connection of one committee; each has a delivery
 * time drawn from the network's mood (drops, duplicates, reordering,
 * delays). A message is delivered only if both nodes are up, the link works
 * in its direction and its connection is still the committee's current
 * one: a closed TCP connection delivers nothing more. */
#include <stdlib.h>
#include <string.h>

#include "linli.pb-c.h"
#include "roster.h"
#include "sim.h"
#include "sync.pb-c.h"

bool sim_link_up(const sim_world *w, int c) { return w->up_to_hub[c] && w->up_from_hub[c]; }

/* Connection ids on the wire of the driver: the committee's index and the
 * connection's number, so the hub sees a reconnect as a new routing id. */
li_conn sim_conn_id(int c, uint64_t conn) {
  li_conn id = {.len = 9};
  id.id[0] = (uint8_t)c;
  memcpy(id.id + 1, &conn, sizeof conn);
  return id;
}

static bool s_conn_parse(const li_conn *id, int *c, uint64_t *conn) {
  if (id->len != 9) return false;
  *c = id->id[0];
  memcpy(conn, id->id + 1, sizeof *conn);
  return *c > 0 && *c < SIM_NODES_MAX;
}

static void s_enqueue(sim_world *w, int from, int to, uint64_t conn, uint8_t *data, size_t len, uint64_t delay) {
  if (w->nmsgs >= SIM_MSGS_MAX) {
    free(data);
    sim_fail(w, "network queue over SIM_MSGS_MAX");
    return;
  }
  w->msgs[w->nmsgs++] =
      (sim_msg){.at = w->now + delay, .order = w->order++, .from = from, .to = to, .conn = conn, .data = data, .len = len};
  if (w->nmsgs > w->queue_peak) w->queue_peak = w->nmsgs;
}

void sim_send(sim_world *w, int from, int to, uint64_t conn, uint8_t *data, size_t len) {
  if (w->drop_pm && sim_chance(&w->rng, w->drop_pm)) {
    w->faults[F_DROP]++;
    sim_trace(w, "drop %s->%s %zu bytes", w->n[from].name, w->n[to].name, len);
    free(data);
    return;
  }
  uint64_t delay = 1 + sim_below(&w->rng, 5);
  if (w->reorder_pm && sim_chance(&w->rng, w->reorder_pm)) {
    w->faults[F_REORDER]++;
    delay += sim_below(&w->rng, 300);
  }
  if (w->delay_pm && sim_chance(&w->rng, w->delay_pm)) {
    w->faults[F_DELAY]++;
    delay += 300 + sim_below(&w->rng, 3000);
  }
  if (w->dup_pm && sim_chance(&w->rng, w->dup_pm)) {
    w->faults[F_DUP]++;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy) {
      memcpy(copy, data, len);
      s_enqueue(w, from, to, conn, copy, len, delay + sim_below(&w->rng, 200));
    }
  }
  s_enqueue(w, from, to, conn, data, len, delay);
}

static bool s_is_batch(const uint8_t *data, size_t len) {
  Linli__Envelope *env = linli__envelope__unpack(NULL, len, data);
  bool b = env && env->m_case == LINLI__ENVELOPE__M_BATCH;
  if (env) linli__envelope__free_unpacked(env, NULL);
  return b;
}

static void s_deliver(sim_world *w, sim_msg *m) {
  sim_node *to = &w->n[m->to];
  int c = m->to == SIM_HUB ? m->from : m->to;
  bool up = m->to == SIM_HUB ? w->up_to_hub[c] : w->up_from_hub[c];
  if (!to->up || !w->n[m->from].up || !up || w->n[c].conn != m->conn) {
    sim_trace(w, "lost %s->%s (%s)", w->n[m->from].name, to->name,
              !up ? "link down" : w->n[c].conn != m->conn ? "connection gone" : "node down");
    return;
  }
  li_conn id = sim_conn_id(c, m->conn);
  li_driver_recv(to->drv, &id, w->n[m->from].id.pk, m->data, m->len, sim_now(w, to));
  sim_trace(w, "deliver %s->%s %zu bytes", w->n[m->from].name, to->name, m->len);
  if (sim_enabled(w, F_CRASH_AFTER_APPLY) && w->drop_pm + w->dup_pm > 0 && s_is_batch(m->data, m->len) &&
      sim_chance(&w->rng, 40)) {
    /* applied durably, its acknowledgement still in the driver's outputs */
    sim_crash(w, to, F_CRASH_AFTER_APPLY);
    return;
  }
  sim_flush(w, to);
}

void sim_deliver_due(sim_world *w) {
  for (;;) {
    size_t best = w->nmsgs;
    for (size_t i = 0; i < w->nmsgs; i++)
      if (w->msgs[i].at <= w->now &&
          (best == w->nmsgs || w->msgs[i].at < w->msgs[best].at ||
           (w->msgs[i].at == w->msgs[best].at && w->msgs[i].order < w->msgs[best].order)))
        best = i;
    if (best == w->nmsgs) return;
    sim_msg m = w->msgs[best];
    w->msgs[best] = w->msgs[--w->nmsgs];
    s_deliver(w, &m);
    free(m.data);
  }
}

/* ---- connections ---- */

void sim_conn_break(sim_world *w, int c, const char *why) {
  sim_node *nd = &w->n[c];
  if (!nd->conn) return;
  uint64_t old = nd->conn;
  nd->conn = 0;
  nd->cut_since = 0;
  nd->next_connect = w->now + SIM_CONNECT_MS;
  w->counts.conn_breaks++;
  sim_trace(w, "CONNECTION %s #%llu closed (%s)", nd->name, (unsigned long long)old, why);
  if (nd->up) {
    li_conn id = sim_conn_id(c, old);
    li_driver_link(nd->drv, &id, w->n[SIM_HUB].id.pk, false, sim_now(w, nd));
    sim_flush(w, nd);
  }
}

/* ZAP: the hub admits active committee keys only. */
static bool s_admitted(sim_world *w, const sim_node *nd) {
  li_member m;
  li_errbuf eb;
  return li_roster_by_key(w->n[SIM_HUB].r, nd->id.pk, &m, &eb) == LI_OK && m.role == LI_ROLE_COMMITTEE;
}

/* A message the hub's driver sent on a connection that its committee no
 * longer has is lost, like a send on a closed socket. */
void sim_connections(sim_world *w) {
  for (int c = 1; c < w->count; c++) {
    sim_node *nd = &w->n[c];
    bool link = sim_link_up(w, c);
    if (nd->conn && !link) {
      if (!nd->cut_since) nd->cut_since = w->now;
      else if (w->now - nd->cut_since >= SIM_CONN_BREAK_MS) sim_conn_break(w, c, "link cut too long");
    } else if (nd->conn) {
      nd->cut_since = 0;
    }
    if (nd->conn || !nd->up || !w->n[SIM_HUB].up || !link || w->now < nd->next_connect) continue;
    nd->next_connect = w->now + SIM_CONNECT_MS;
    if (!s_admitted(w, nd)) {
      sim_trace(w, "CONNECT %s refused by ZAP", nd->name);
      continue;
    }
    nd->conn = ++w->next_conn;
    sim_trace(w, "CONNECT %s #%llu", nd->name, (unsigned long long)nd->conn);
    li_conn id = sim_conn_id(c, nd->conn);
    li_driver_link(nd->drv, &id, w->n[SIM_HUB].id.pk, true, sim_now(w, nd));
    sim_flush(w, nd);
  }
}

void sim_flush(sim_world *w, sim_node *nd) {
  li_out o;
  while (nd->up && li_driver_next_out(nd->drv, &o)) {
    int c = nd->idx;
    uint64_t conn = 0;
    switch (o.kind) {
    case LI_OUT_SEND:
      if (!s_conn_parse(&o.conn, &c, &conn)) {
        sim_fail(w, "%s sent on a connection the simulator never made", nd->name);
        free(o.data);
        break;
      }
      sim_send(w, nd->idx, nd->hub ? c : SIM_HUB, conn, o.data, o.len);
      break;
    case LI_OUT_DROP:
      if (s_conn_parse(&o.conn, &c, &conn) && w->n[c].conn == conn) sim_conn_break(w, c, "dropped by the hub");
      break;
    case LI_OUT_LOG:
      sim_trace(w, "%s log %d %s", nd->name, (int)o.level, o.text);
      break;
    case LI_OUT_PEER:
      sim_trace(w, "%s peer %s change %d", nd->name, o.text, (int)o.change);
      break;
    }
  }
}

/* ---- partitions ---- */

void sim_partition(sim_world *w) {
  int kind = (int)sim_below(&w->rng, 4);
  sim_fault f = kind == 0 ? F_PART_HUB : kind == 1 ? F_PART_SPLIT : kind == 2 ? F_PART_ONE : F_PART_ASYM;
  if (!sim_enabled(w, f)) return;
  w->faults[f]++;
  for (int i = 1; i < w->count; i++) {
    bool cut = false;
    if (f == F_PART_HUB) cut = true;
    else if (f == F_PART_SPLIT) cut = (i % 2) == (int)(w->o.seed % 2);
    else if (f == F_PART_ONE) cut = i == 1 + (int)sim_below(&w->rng, (uint32_t)(w->count - 1));
    if (f == F_PART_ASYM) {
      if (i == 1 + (int)sim_below(&w->rng, (uint32_t)(w->count - 1))) {
        if (sim_chance(&w->rng, 500)) w->up_to_hub[i] = false;
        else w->up_from_hub[i] = false;
      }
    } else if (cut) {
      w->up_to_hub[i] = w->up_from_hub[i] = false;
    }
  }
  sim_trace(w, "PARTITION %s", sim_fault_names[f]);
}

void sim_heal(sim_world *w) {
  w->faults[F_HEAL]++;
  sim_trace(w, "HEAL");
  for (int i = 1; i < w->count; i++) w->up_to_hub[i] = w->up_from_hub[i] = true;
}

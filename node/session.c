/* session: the sync protocol with one peer as a sans-IO state machine
 * (DESIGN 7, 8); the exchange and its states are described in session.h.
 *
 * What it owns: the queue of encoded envelopes to send, the queue of events,
 * the peer's heads from its current Hello ("theirs"), our chains the peer may
 * read with how far each has been sent in this exchange ("ours"), the ranges
 * still to send, and the batches in flight. Storage is the store's.
 *
 *   IDLE --start()--> HELLO_SENT --s_on_hello()--> SYNCING     (initiator)
 *   IDLE|SYNCING --s_on_hello(): answers with ours--> SYNCING  (responder)
 *   SYNCING --s_on_hello() of a new peer exchange--> SYNCING   (initiator: reset, no answer)
 *   HELLO_SENT|SYNCING --tick: silence > peer_timeout_ms--> IDLE (PEER_LOST)
 *   any --recv(Refuse) | s_refuse() | s_store_failed()--> IDLE
 *   IDLE --tick: retry_at reached--> start()                   (initiator)
 *
 * Exchange numbers: start() and every answered Hello increment `exchange`;
 * our Hello, Batches and Heartbeats carry it and the peer's Acks echo it, so
 * an Ack of an older exchange is recognised and ignored. Batches of the peer
 * carry its number, which our Acks echo. Batch ids count from 1 within an
 * exchange; an Ack naming an id we never sent is a protocol error, one naming
 * a batch no longer in flight (a duplicate, or abandoned) is ignored.
 *
 * Recovery is always "a new exchange": the initiator schedules one retry_ms
 * after a rejection either way, a Refuse, a lost peer or a stall (no Hello,
 * no Ack, or no progress towards the peer's heads within peer_timeout_ms).
 * The responder never starts one; when its own batches stall it ends the
 * exchange with a Refuse so the initiator starts again. Batches are applied
 * in HELLO_SENT too (a reordered network delivers them before the Hello);
 * only in IDLE is a batch refused. Commits the peer sent us count as held by
 * it, so they are never sent back.
 *
 * Invariants (s_check):
 *  1. in_flight <= window, and every id in flight is < next_batch_id;
 *     flight_bytes is the sum of the bytes in flight.
 *  2. out-queue length <= window + S_OUT_EXTRA: batches are not produced
 *     without room, and a control message finding the queue full is dropped
 *     as a lossy network would drop it (the adapter drains after each call).
 *  3. every queued message is <= LI_MSG_BYTES_MAX bytes (asserted at pack).
 *  4. ours and theirs are sorted by (origin, scope).
 *  5. in IDLE nothing is in flight and no range is pending.
 *  6. nothing we send depends on a chain the peer may not read: ours holds
 *     only such chains (s_refresh_ours), and the peer's heads of others
 *     are never compared (no ForkReport) nor counted (s_behind).
 *
 * The byte window: the receiver tells in its Hello and each Ack how many
 * batch bytes it wants unacknowledged at once (window_bytes; 0: no limit, as
 * an older peer says by not knowing the field). While anything is in flight
 * the sender keeps below it, and it cuts its batches to half of it so that
 * two stay in flight. A hub shares its receive budget among its committees
 * (driver.c: the roster's in a Hello, the connected ones in an Ack), so its
 * queues hold a bounded amount whatever the backlogs. */
#include "session.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li_limits.h"
#include "linli.pb-c.h"
#include "sync.pb-c.h"

/* Limits (LI_HELLO_HEADS_MAX, LI_FORK_REPORTS_MAX, LI_SESSION_EVENTS_MAX) are
 * in li_limits.h. */
/* Out-queue room beyond the window: a Hello, LI_FORK_REPORTS_MAX
 * ForkReports and one Ack, Refuse or Heartbeat. */
#define S_OUT_EXTRA (2u + LI_FORK_REPORTS_MAX)
_Static_assert(LI_WINDOW_MAX + S_OUT_EXTRA <= LI_TRANSPORT_HWM, "the transport queue holds a full out-queue");
/* A caught-up initiator re-runs a full exchange this often, so commits whose
 * batches were lost after the last check still arrive. */
#define S_ANTI_ENTROPY_MS 30000u
/* A chain the peer reports a gap in (its batches were reordered or lost) is
 * sent again from the peer's head this many times per exchange, then left
 * out until the next. */
#define S_REWINDS_MAX 3u
/* An exchange that left chains out (rejected: a clock ahead, say) is run
 * again after retry_ms, doubling up to S_ANTI_ENTROPY_MS while chains stay
 * out and nothing moves: a held chain goes on soon after it can, a refused
 * one costs a Hello every 30 s. */

typedef struct {
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;                 /* the chain's head: ours, or the peer's from its Hello */
  uint64_t sent;                /* ours: what the peer has or was sent in this exchange */
  uint8_t hash[LI_HASH_BYTES];  /* hash at seq */
  bool forked;                  /* head hashes disagree: neither sent nor awaited */
  bool stuck;                   /* rejected in this exchange: neither sent nor awaited until the next */
  uint32_t rewinds;             /* ours: resent from a gap the peer reported, in this exchange */
} s_chain;

typedef struct {
  s_chain *v;
  size_t n;
} s_chains;

typedef struct {
  uint64_t id;
  uint32_t commits;
  uint32_t bytes;
  uint64_t sent_ms;
} s_flight;

typedef struct {
  uint8_t *data;
  size_t len;
} s_msg;

struct li_session {
  li_session_cfg cfg;
  li_store_vt store;
  void *store_ctx;
  li_session_state state;

  uint64_t exchange;        /* ours; 0 before the first */
  uint64_t peer_exchange;   /* the peer's, from its Hello in this exchange; 0: none yet */
  uint64_t wall_ms;         /* our wall clock, set by the adapter (sent in Hellos) */
  uint32_t schema_version;  /* our street schema version, set by the adapter (sent in Hellos) */
  uint64_t next_batch_id;
  uint64_t hello_sent_ms, started_ms, last_send_ms, last_recv_ms, recv_progress_ms;
  uint64_t retry_at_ms;     /* 0: no retry scheduled */
  bool stalled;             /* a retry is scheduled for this exchange */
  bool send_stopped;        /* the peer rejected one of our batches */
  bool recv_done;           /* we hold every commit of the peer's Hello heads */
  bool synced_reported;
  uint64_t stuck_retry_ms;  /* initiator: the next wait before re-running an exchange with stuck chains */
  uint32_t fork_reports;
  uint64_t ex_sent, ex_recv;

  s_chains ours, theirs;
  li_range *ranges;
  size_t nranges, ranges_cap;
  s_flight flight[LI_WINDOW_MAX];
  uint32_t in_flight;
  uint64_t flight_bytes;    /* the sum of flight[].bytes */
  uint32_t hello_window_bytes, ack_window_bytes; /* ours, told to the peer in Hello / Ack; 0: no limit */
  uint32_t peer_window_bytes; /* the peer's, from its last Hello or Ack; 0: no limit */

  s_msg *out;               /* ring of out_cap */
  size_t out_head, out_n, out_cap;
  li_event *events;         /* events[ev_head .. ev_n) */
  size_t ev_head, ev_n, ev_cap;

  li_session_info info;     /* counters; state and derived fields filled by li_session_info_get */
};

/* ---- helpers on chains ---- */

static int s_key_cmp(const uint8_t *oa, const char *sa, const uint8_t *ob, const char *sb) {
  int c = memcmp(oa, ob, LI_PK_BYTES);
  return c ? c : strcmp(sa, sb);
}

static int s_chain_cmp(const void *a, const void *b) {
  const s_chain *x = a, *y = b;
  return s_key_cmp(x->origin, x->scope, y->origin, y->scope);
}

static s_chain *s_find(const s_chains *c, const uint8_t *origin, const char *scope) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = s_key_cmp(origin, scope, c->v[mid].origin, c->v[mid].scope);
    if (r == 0) return &c->v[mid];
    if (r < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}

static void s_chains_free(s_chains *c) {
  free(c->v);
  c->v = NULL;
  c->n = 0;
}

/* Sorted copy of store heads. */
static li_err s_chains_from_heads(s_chains *out, const li_heads *h, li_errbuf *eb) {
  out->v = NULL;
  out->n = 0;
  if (h->n == 0) return LI_OK;
  out->v = calloc(h->n, sizeof *out->v);
  if (!out->v) return li_fail(eb, LI_ERR_NOMEM, "out of memory for %zu chain heads", h->n);
  for (size_t i = 0; i < h->n; i++) {
    s_chain *c = &out->v[i];
    memcpy(c->origin, h->v[i].origin, LI_PK_BYTES);
    snprintf(c->scope, sizeof c->scope, "%s", h->v[i].scope);
    c->seq = h->v[i].seq;
    memcpy(c->hash, h->v[i].hash, LI_HASH_BYTES);
  }
  out->n = h->n;
  qsort(out->v, out->n, sizeof *out->v, s_chain_cmp);
  return LI_OK;
}

static bool s_sorted(const s_chains *c) {
  for (size_t i = 1; i < c->n; i++)
    if (s_chain_cmp(&c->v[i - 1], &c->v[i]) > 0) return false;
  return true;
}

static bool s_check(const li_session *s) {
  if (s->in_flight > s->cfg.window || s->out_n > s->out_cap) return false;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < s->in_flight; i++) {
    if (s->flight[i].id == 0 || s->flight[i].id >= s->next_batch_id) return false;
    bytes += s->flight[i].bytes;
  }
  if (bytes != s->flight_bytes) return false;
  if (s->state == LI_SESSION_IDLE && (s->in_flight || s->nranges)) return false;
  return s_sorted(&s->ours) && s_sorted(&s->theirs);
}

/* ---- queues ---- */

/* Queues an event; NULL (dropped) when the adapter has left LI_SESSION_EVENTS_MAX unread. */
static li_event *s_event(li_session *s, li_event_kind kind, li_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static li_event *s_event(li_session *s, li_event_kind kind, li_err code, const char *fmt, ...) {
  if (s->ev_head == s->ev_n) s->ev_head = s->ev_n = 0;
  if (s->ev_n == s->ev_cap && s->ev_head > 0) {
    memmove(s->events, s->events + s->ev_head, (s->ev_n - s->ev_head) * sizeof *s->events);
    s->ev_n -= s->ev_head;
    s->ev_head = 0;
  }
  if (s->ev_n == s->ev_cap) {
    if (s->ev_cap >= LI_SESSION_EVENTS_MAX) return NULL; /* the adapter is not reading them */
    size_t cap = s->ev_cap ? s->ev_cap * 2 : 8;
    li_event *p = realloc(s->events, cap * sizeof *p);
    if (!p) return NULL;
    s->events = p;
    s->ev_cap = cap;
  }
  li_event *ev = &s->events[s->ev_n++];
  memset(ev, 0, sizeof *ev);
  ev->kind = kind;
  ev->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ev->message, sizeof ev->message, fmt, ap);
  va_end(ap);
  return ev;
}

static bool s_out_room(const li_session *s) { return s->out_n < s->out_cap; }

/* Packs and queues one envelope; false if there was no room or memory (the
 * message is then lost, which the protocol survives like any loss). */
static bool s_push(li_session *s, const Linli__Envelope *env, uint64_t now) {
  s->last_send_ms = now;
  if (!s_out_room(s)) return false;
  size_t len = linli__envelope__get_packed_size(env);
  assert(len <= LI_MSG_BYTES_MAX);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return false;
  size_t packed = linli__envelope__pack(env, buf);
  assert(packed == len);
  s->out[(s->out_head + s->out_n) % s->out_cap] = (s_msg){buf, len};
  s->out_n++;
  assert(s->out_n <= s->cfg.window + S_OUT_EXTRA);
  return true;
}

static void s_push_refuse(li_session *s, li_err e, const char *msg, uint64_t now) {
  Linli__Refuse r = LINLI__REFUSE__INIT;
  r.code = (char *)li_errname(e);
  r.message = (char *)msg;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_REFUSE;
  env.refuse = &r;
  s_push(s, &env, now);
}

/* ---- exchange life ---- */

/* Forgets everything of the current exchange but its number. */
static void s_reset_exchange(li_session *s) {
  s_chains_free(&s->ours);
  s_chains_free(&s->theirs);
  s->nranges = 0;
  s->in_flight = 0;
  s->flight_bytes = 0;
  s->stalled = false;
  s->send_stopped = false;
  s->recv_done = false;
  s->synced_reported = false;
  s->fork_reports = 0;
  s->ex_sent = s->ex_recv = 0;
  s->info.behind_them = 0;
}

static void s_new_exchange(li_session *s, uint64_t now) {
  s_reset_exchange(s);
  s->exchange++;
  s->info.exchanges++;
  s->next_batch_id = 1;
  s->peer_exchange = 0;
  s->retry_at_ms = 0;
  s->started_ms = now;
}

static void s_schedule_retry(li_session *s, uint64_t now) {
  if (s->cfg.initiator && s->retry_at_ms == 0) s->retry_at_ms = now + s->cfg.retry_ms;
}

/* The exchange ends: IDLE, and the initiator tries again after retry_ms. */
static void s_end_exchange(li_session *s, uint64_t now) {
  s_reset_exchange(s);
  s->state = LI_SESSION_IDLE;
  s_schedule_retry(s, now);
}

/* Input from the peer we cannot accept: Refuse (unless it was a Refuse
 * itself), an event, and the exchange ends. Returns e. */
static li_err s_refuse(li_session *s, uint64_t now, li_err e, const li_errbuf *eb, bool answer) {
  const char *msg = li_errmsg(eb, e);
  if (answer) s_push_refuse(s, e, msg, now);
  s_event(s, LI_EV_PROTOCOL, e, "%s", msg);
  s_end_exchange(s, now);
  return e;
}

/* Our store failed: the exchange cannot go on; the peer is told so it need
 * not wait for a timeout. Returns e. */
static li_err s_store_failed(li_session *s, uint64_t now, li_err e, const li_errbuf *eb) {
  const char *msg = li_errmsg(eb, e);
  s_event(s, LI_EV_STORE, e, "store: %s", msg);
  s_push_refuse(s, e, "the peer's store failed; try again later", now);
  s_end_exchange(s, now);
  return e;
}

/* No progress: the initiator starts again after retry_ms; the responder,
 * which cannot, ends the exchange so that the initiator does. */
static void s_stall(li_session *s, uint64_t now, const char *why) {
  if (s->cfg.initiator) {
    s->stalled = true;
    s_schedule_retry(s, now);
  } else {
    s_push_refuse(s, LI_ERR_TIMEOUT, why, now);
    s_end_exchange(s, now);
  }
}

static li_err s_heads(li_session *s, const li_scopes *sc, li_heads *out, li_errbuf *eb) {
  memset(out, 0, sizeof *out);
  li_err e = s->store.heads(s->store_ctx, sc, out, eb);
  if (e == LI_OK && out->n > LI_HELLO_HEADS_MAX)
    e = li_fail(eb, LI_ERR_LIMIT, "store holds %zu chains, over the %u a Hello may carry (LI_HELLO_HEADS_MAX)", out->n,
                LI_HELLO_HEADS_MAX);
  if (e) li_heads_clear(out);
  return e;
}

static li_err s_send_hello(li_session *s, uint64_t now, li_errbuf *eb) {
  li_heads h;
  li_err e = s_heads(s, &s->cfg.peer_reads, &h, eb);
  if (e) return e;
  Linli__Head *hs = calloc(h.n ? h.n : 1, sizeof *hs);
  Linli__Head **hp = calloc(h.n ? h.n : 1, sizeof *hp);
  if (!hs || !hp) {
    free(hs);
    free(hp);
    li_heads_clear(&h);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory for a Hello of %zu heads", h.n);
  }
  for (size_t i = 0; i < h.n; i++) {
    linli__head__init(&hs[i]);
    hs[i].origin = (ProtobufCBinaryData){LI_PK_BYTES, h.v[i].origin};
    hs[i].scope = h.v[i].scope;
    hs[i].seq = h.v[i].seq;
    hs[i].hash = (ProtobufCBinaryData){LI_HASH_BYTES, h.v[i].hash};
    hp[i] = &hs[i];
  }
  Linli__Hello hello = LINLI__HELLO__INIT;
  hello.protocol = LI_PROTOCOL_VERSION;
  hello.protocol_min = LI_PROTOCOL_VERSION_MIN;
  hello.network = (ProtobufCBinaryData){LI_PK_BYTES, s->cfg.network};
  hello.node = (ProtobufCBinaryData){LI_PK_BYTES, s->cfg.self};
  hello.n_heads = h.n;
  hello.heads = hp;
  hello.exchange = s->exchange;
  hello.wall_ms = s->wall_ms;
  hello.schema_version = s->schema_version;
  hello.window_bytes = s->hello_window_bytes;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_HELLO;
  env.hello = &hello;
  s_push(s, &env, now);
  s->hello_sent_ms = now;
  free(hp);
  free(hs);
  li_heads_clear(&h);
  return LI_OK;
}

/* ---- sending ---- */

static li_err s_rebuild_ranges(li_session *s, li_errbuf *eb) {
  s->nranges = 0;
  for (size_t i = 0; i < s->ours.n; i++) {
    const s_chain *c = &s->ours.v[i];
    if (c->forked || c->stuck || c->seq <= c->sent) continue;
    if (s->nranges == s->ranges_cap) {
      size_t cap = s->ranges_cap ? s->ranges_cap * 2 : 16;
      li_range *p = realloc(s->ranges, cap * sizeof *p);
      if (!p) {
        s->nranges = 0;
        return li_fail(eb, LI_ERR_NOMEM, "out of memory for %zu ranges", cap);
      }
      s->ranges = p;
      s->ranges_cap = cap;
    }
    li_range *r = &s->ranges[s->nranges++];
    memcpy(r->origin, c->origin, LI_PK_BYTES);
    memcpy(r->scope, c->scope, sizeof r->scope);
    r->from_seq = c->sent + 1;
    r->to_seq = c->seq;
  }
  return LI_OK;
}

/* How many of the fetched commits go into the next batch: a prefix that
 * continues each chain exactly where it was sent up to, within the batch
 * bounds. Advances ours[].sent over it. */
static size_t s_take_prefix(li_session *s, const li_blobs *got, uint32_t max_bytes, uint32_t *took) {
  size_t k = 0, bytes = 0;
  for (; k < got->n && k < s->cfg.batch_rows_max; k++) {
    const li_blob *b = &got->v[k];
    /* the first batch in flight takes its first commit whatever its size */
    if (b->len > LI_COMMIT_BYTES_MAX || ((k > 0 || s->in_flight > 0) && bytes + b->len > max_bytes)) break;
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    if (!li_commit_pos(b->sc, b->len, origin, scope, &seq)) break;
    s_chain *c = s_find(&s->ours, origin, scope);
    if (!c || c->forked || c->stuck || seq != c->sent + 1 || seq > c->seq) break;
    c->sent = seq;
    bytes += b->len;
  }
  *took = (uint32_t)bytes;
  return k;
}

static void s_send_batch(li_session *s, const li_blobs *got, size_t k, uint32_t bytes, uint64_t now) {
  ProtobufCBinaryData *cs = calloc(k, sizeof *cs);
  Linli__Batch b = LINLI__BATCH__INIT;
  b.exchange = s->exchange;
  b.id = s->next_batch_id++;
  if (cs) {
    for (size_t i = 0; i < k; i++) cs[i] = (ProtobufCBinaryData){got->v[i].len, (uint8_t *)got->v[i].sc};
    b.n_commits = k;
    b.commits = cs;
    Linli__Envelope env = LINLI__ENVELOPE__INIT;
    env.m_case = LINLI__ENVELOPE__M_BATCH;
    env.batch = &b;
    /* bytes <= batch_bytes_max <= LI_BATCH_BYTES_MAX (or one commit <=
     * LI_COMMIT_BYTES_MAX) plus a few bytes of framing per commit: under
     * LI_MSG_BYTES_MAX, which s_push asserts. */
    s_push(s, &env, now);
  }
  /* Sent or lost (no memory), it is in flight: a missing Ack times out. */
  free(cs);
  s->flight[s->in_flight++] = (s_flight){b.id, (uint32_t)k, bytes, now};
  s->flight_bytes += bytes;
  s->info.batches_sent++;
}

/* The bytes the next batch may have, 0 when the window is full: our window
 * of batches, and the peer's window of bytes (the first batch in flight
 * goes whatever its size, so one commit larger than the window moves). */
static uint32_t s_window_room(const li_session *s) {
  if (s->in_flight >= s->cfg.window) return 0;
  uint32_t max = s->cfg.batch_bytes_max, w = s->peer_window_bytes;
  if (w == 0) return max;
  if (w / 2 < max) max = w / 2 > 0 ? w / 2 : 1;
  if (s->in_flight == 0) return max;
  if (s->flight_bytes >= w) return 0;
  return w - s->flight_bytes < max ? (uint32_t)(w - s->flight_bytes) : max;
}

/* Sends what the peer lacks while the windows and the out queue have room. */
static void s_pump(li_session *s, uint64_t now) {
  li_errbuf eb = {{0}};
  uint32_t room;
  while (s->state == LI_SESSION_SYNCING && !s->send_stopped && s->nranges > 0 && (room = s_window_room(s)) > 0 &&
         s_out_room(s)) {
    li_blobs got = {0};
    li_err e = s->store.fetch(s->store_ctx, s->ranges, s->nranges, s->cfg.batch_rows_max, room, &got, &eb);
    uint32_t bytes = 0;
    size_t k = e ? 0 : s_take_prefix(s, &got, room, &bytes);
    if (e == LI_OK && k == 0 && s->in_flight > 0 && got.n > 0 && got.v[0].len > room) {
      li_blobs_clear(&got); /* the byte window is full: wait for an Ack */
      break;
    }
    if (e == LI_OK && k == 0)
      e = li_fail(&eb, LI_ERR_TAMPERED, "store returned %zu commits, none continuing the %zu ranges asked for", got.n,
                  s->nranges);
    if (e == LI_OK) {
      s_send_batch(s, &got, k, bytes, now);
      e = s_rebuild_ranges(s, &eb);
    }
    li_blobs_clear(&got);
    if (e) {
      s_store_failed(s, now, e, &eb);
      return;
    }
  }
}

static bool s_done_sending(const li_session *s) {
  return s->state == LI_SESSION_SYNCING && !s->send_stopped && s->nranges == 0 && s->in_flight == 0;
}

static uint32_t s_count_stuck(const s_chains *c) {
  uint32_t n = 0;
  for (size_t i = 0; i < c->n; i++) n += c->v[i].stuck;
  return n;
}

static void s_check_synced(li_session *s) {
  if (s->synced_reported || !s->recv_done || !s_done_sending(s)) return;
  s->synced_reported = true;
  li_event *ev = s_event(s, LI_EV_SYNCED, LI_OK, "synced: sent %llu, received %llu commits",
                         (unsigned long long)s->ex_sent, (unsigned long long)s->ex_recv);
  if (ev) {
    ev->sent_commits = s->ex_sent;
    ev->recv_commits = s->ex_recv;
    ev->stuck_ours = s_count_stuck(&s->ours);
    ev->stuck_theirs = s_count_stuck(&s->theirs);
  }
}

/* ---- comparing heads ---- */

static void s_fork(li_session *s, s_chain *t, const uint8_t ours[LI_HASH_BYTES], uint64_t now) {
  t->forked = true;
  s_chain *mine = s_find(&s->ours, t->origin, t->scope);
  if (mine) mine->forked = true;
  char pk[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(t->origin, pk);
  s_event(s, LI_EV_FORK, LI_ERR_FORK, "fork: the peer's %s#%llu by %.10s differs from ours; chain not synced",
          t->scope, (unsigned long long)t->seq, pk);
  if (s->fork_reports >= LI_FORK_REPORTS_MAX) return;
  s->fork_reports++;
  Linli__Head h = LINLI__HEAD__INIT;
  h.origin = (ProtobufCBinaryData){LI_PK_BYTES, t->origin};
  h.scope = t->scope;
  h.seq = t->seq;
  h.hash = (ProtobufCBinaryData){LI_HASH_BYTES, t->hash};
  Linli__ForkReport f = LINLI__FORK_REPORT__INIT;
  f.theirs = &h;
  f.ours = (ProtobufCBinaryData){LI_HASH_BYTES, (uint8_t *)ours};
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_FORK;
  env.fork = &f;
  s_push(s, &env, now);
}

/* Whether the peer may read a chain's scope: its heads of other scopes are
 * neither compared nor awaited (invariant 6). */
static bool s_peer_reads(const li_session *s, const s_chain *t) {
  return li_scopes_has(&s->cfg.peer_reads, t->scope);
}

/* Commits of the peer's Hello heads we still lack; 0 means caught up. A
 * chain the peer did not sign it can only relay, so its claim counts as
 * one commit, not as the seq it names (issue 12: a Hello claiming seq
 * 2^63-1 showed in status as "we lack 9223372036854775804 commit(s)"); the
 * hub's claims count in full (a restored committee takes its own chain
 * back from them). */
static li_err s_behind(li_session *s, const s_chains *have, uint64_t *behind) {
  *behind = 0;
  bool from_hub = memcmp(s->cfg.peer, s->cfg.network, LI_PK_BYTES) == 0;
  for (size_t i = 0; i < s->theirs.n; i++) {
    const s_chain *t = &s->theirs.v[i];
    if (t->forked || t->stuck || !s_peer_reads(s, t)) continue;
    const s_chain *h = s_find(have, t->origin, t->scope);
    uint64_t mine = h ? h->seq : 0;
    bool signed_by_peer = memcmp(t->origin, s->cfg.peer, LI_PK_BYTES) == 0;
    if (t->seq > mine) *behind += from_hub || signed_by_peer ? t->seq - mine : 1;
  }
  return LI_OK;
}

static li_err s_recheck_recv(li_session *s, li_errbuf *eb) {
  li_heads h;
  li_scopes all = {.all = true};
  li_err e = s_heads(s, &all, &h, eb);
  if (e) return e;
  s_chains have;
  e = s_chains_from_heads(&have, &h, eb);
  li_heads_clear(&h);
  if (e) return e;
  uint64_t behind;
  s_behind(s, &have, &behind);
  s_chains_free(&have);
  s->info.behind_them = behind;
  s->recv_done = behind == 0;
  return LI_OK;
}

/* Ours from the store (keeping what was sent of known chains), then ranges. */
static li_err s_refresh_ours(li_session *s, li_errbuf *eb) {
  li_heads h;
  li_err e = s_heads(s, &s->cfg.peer_reads, &h, eb);
  if (e) return e;
  s_chains fresh;
  e = s_chains_from_heads(&fresh, &h, eb);
  li_heads_clear(&h);
  if (e) return e;
  for (size_t i = 0; i < fresh.n; i++) {
    s_chain *c = &fresh.v[i];
    const s_chain *old = s_find(&s->ours, c->origin, c->scope);
    const s_chain *t = s_find(&s->theirs, c->origin, c->scope);
    uint64_t sent = old ? old->sent : 0;
    c->sent = t && t->seq > sent ? t->seq : sent;
    c->forked = (old && old->forked) || (t && t->forked);
    c->stuck = old && old->stuck;
    c->rewinds = old ? old->rewinds : 0;
  }
  s_chains_free(&s->ours);
  s->ours = fresh;
  return s_rebuild_ranges(s, eb);
}

/* After the peer's Hello: what to send, forks, how far behind we are. */
static li_err s_compare_heads(li_session *s, uint64_t now, li_errbuf *eb) {
  li_err e = s_refresh_ours(s, eb);
  if (e) return e;
  li_heads h;
  li_scopes all = {.all = true};
  if ((e = s_heads(s, &all, &h, eb))) return e;
  s_chains have;
  e = s_chains_from_heads(&have, &h, eb);
  li_heads_clear(&h);
  if (e) return e;
  for (size_t i = 0; i < s->theirs.n && e == LI_OK; i++) {
    s_chain *t = &s->theirs.v[i];
    const s_chain *mine = s_find(&have, t->origin, t->scope);
    /* a head of a chain the peer may not read is not compared: a
     * ForkReport would give away our hash at that seq, and so how long
     * the chain is (issue 12) */
    if (!s_peer_reads(s, t) || !mine || mine->seq < t->seq) continue;
    uint8_t hash[LI_HASH_BYTES];
    bool found = true;
    if (mine->seq == t->seq) memcpy(hash, mine->hash, LI_HASH_BYTES);
    else e = s->store.hash_at(s->store_ctx, t->origin, t->scope, t->seq, hash, &found, eb);
    if (e == LI_OK && found && memcmp(hash, t->hash, LI_HASH_BYTES) != 0) s_fork(s, t, hash, now);
  }
  if (e == LI_OK) {
    uint64_t behind;
    s_behind(s, &have, &behind);
    s->info.behind_them = behind;
    s->recv_done = behind == 0;
    e = s_rebuild_ranges(s, eb); /* forks may have removed chains */
  }
  s_chains_free(&have);
  return e;
}

/* ---- receiving ---- */

static li_err s_parse_heads(const Linli__Hello *h, s_chains *out, li_errbuf *eb) {
  out->v = NULL;
  out->n = 0;
  if (h->n_heads > LI_HELLO_HEADS_MAX)
    return li_fail(eb, LI_ERR_LIMIT, "hello carries %zu heads, over %u (LI_HELLO_HEADS_MAX)", h->n_heads,
                   LI_HELLO_HEADS_MAX);
  if (h->n_heads == 0) return LI_OK;
  out->v = calloc(h->n_heads, sizeof *out->v);
  if (!out->v) return li_fail(eb, LI_ERR_NOMEM, "out of memory for %zu heads", h->n_heads);
  for (size_t i = 0; i < h->n_heads; i++) {
    const Linli__Head *x = h->heads[i];
    if (x->origin.len != LI_PK_BYTES || x->hash.len != LI_HASH_BYTES)
      return li_fail(eb, LI_ERR_DECODE, "hello head %zu: origin or hash is not 32 bytes", i);
    if (!li_valid_scope(x->scope)) return li_fail(eb, LI_ERR_DECODE, "hello head %zu: invalid scope", i);
    if (x->seq < 1 || x->seq > (uint64_t)INT64_MAX)
      return li_fail(eb, LI_ERR_DECODE, "hello head %zu: seq out of range", i);
    s_chain *c = &out->v[i];
    memcpy(c->origin, x->origin.data, LI_PK_BYTES);
    snprintf(c->scope, sizeof c->scope, "%s", x->scope);
    c->seq = x->seq;
    memcpy(c->hash, x->hash.data, LI_HASH_BYTES);
  }
  out->n = h->n_heads;
  qsort(out->v, out->n, sizeof *out->v, s_chain_cmp);
  for (size_t i = 1; i < out->n; i++)
    if (s_chain_cmp(&out->v[i - 1], &out->v[i]) == 0)
      return li_fail(eb, LI_ERR_PROTOCOL, "hello names chain %s twice", out->v[i].scope);
  return LI_OK;
}

static li_err s_check_hello(const li_session *s, const Linli__Hello *h, li_errbuf *eb) {
  uint32_t lo = h->protocol_min ? h->protocol_min : h->protocol;
  if (h->protocol == 0 || lo > h->protocol)
    return li_fail(eb, LI_ERR_PROTOCOL, "hello names protocol versions %u to %u", lo, h->protocol);
  if (h->protocol < LI_PROTOCOL_VERSION_MIN || lo > LI_PROTOCOL_VERSION)
    return li_fail(eb, LI_ERR_VERSION, "peer speaks protocol versions %u to %u, we speak %u to %u: upgrade the older node",
                   lo, h->protocol, LI_PROTOCOL_VERSION_MIN, LI_PROTOCOL_VERSION);
  if (h->network.len != LI_PK_BYTES || memcmp(h->network.data, s->cfg.network, LI_PK_BYTES) != 0)
    return li_fail(eb, LI_ERR_WRONG_NETWORK, "peer belongs to another network (street hub key differs)");
  if (h->node.len != LI_PK_BYTES || memcmp(h->node.data, s->cfg.peer, LI_PK_BYTES) != 0)
    return li_fail(eb, LI_ERR_PROTOCOL, "hello names a node key other than the connection's");
  if (h->exchange == 0) return li_fail(eb, LI_ERR_PROTOCOL, "hello with exchange 0");
  return LI_OK;
}

static li_err s_on_hello(li_session *s, const Linli__Hello *h, uint64_t now, li_errbuf *eb) {
  li_err e = s_check_hello(s, h, eb);
  s_chains theirs = {0};
  if (e == LI_OK) e = s_parse_heads(h, &theirs, eb);
  if (e) {
    s_chains_free(&theirs);
    return s_refuse(s, now, e, eb, true);
  }
  if (s->state == LI_SESSION_SYNCING && h->exchange == s->peer_exchange) {
    s_chains_free(&theirs); /* a duplicate */
    return LI_OK;
  }
  if (!s->cfg.initiator || s->state == LI_SESSION_IDLE) {
    /* A new exchange of the peer: answer with ours. The initiator answers
     * only when idle, so two Hellos never chase each other. */
    s_new_exchange(s, now);
    e = s_send_hello(s, now, eb);
  } else if (s->state == LI_SESSION_SYNCING) {
    /* The responder answered a later Hello of ours: start over from its heads,
     * keeping our exchange (Acks of earlier batches are then unknown ids). */
    s_reset_exchange(s);
    s->started_ms = now;
  }
  if (s->cfg.initiator) {
    s->stalled = false; /* answered: a retry scheduled for want of this Hello is moot */
    s->retry_at_ms = 0;
  }
  s->theirs = theirs;
  if (e) return s_store_failed(s, now, e, eb);
  s->peer_exchange = h->exchange;
  s->peer_window_bytes = h->window_bytes;
  s->info.protocol = h->protocol < LI_PROTOCOL_VERSION ? h->protocol : LI_PROTOCOL_VERSION;
  /* the peer's claim, shown by the report: a version no street reaches is not kept */
  if (h->schema_version && h->schema_version <= LI_SCHEMA_VERSION_MAX) s->info.peer_schema_version = h->schema_version;
  if (h->wall_ms) {
    s->info.peer_wall_ms = h->wall_ms;
    s->info.peer_wall_seen_ms = s->wall_ms;
  }
  s->state = LI_SESSION_SYNCING;
  s->recv_progress_ms = now;
  if ((e = s_compare_heads(s, now, eb))) return s_store_failed(s, now, e, eb);
  s_pump(s, now);
  s_check_synced(s);
  return LI_OK;
}

/* The peer holds the commits it sent us that our store took (applied or
 * duplicates: all but the rejected chains' tails): never send those back. */
static li_err s_peer_has(li_session *s, const Linli__Batch *b, const li_apply_result *st, li_errbuf *eb) {
  bool added = false;
  for (size_t i = 0; i < b->n_commits; i++) {
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    if (!li_commit_pos(b->commits[i].data, b->commits[i].len, origin, scope, &seq)) continue;
    if (li_apply_result_skipped(st, origin, scope, seq)) continue;
    s_chain *c = s_find(&s->ours, origin, scope);
    if (c) {
      if (seq > c->sent) c->sent = seq;
      continue;
    }
    s_chain *p = realloc(s->ours.v, (s->ours.n + 1) * sizeof *p);
    if (!p) return li_fail(eb, LI_ERR_NOMEM, "out of memory for a chain");
    s->ours.v = p;
    c = &s->ours.v[s->ours.n++];
    memset(c, 0, sizeof *c);
    memcpy(c->origin, origin, LI_PK_BYTES);
    memcpy(c->scope, scope, sizeof c->scope);
    c->seq = c->sent = seq;
    added = true;
  }
  if (added) qsort(s->ours.v, s->ours.n, sizeof *s->ours.v, s_chain_cmp);
  return s_rebuild_ranges(s, eb);
}

/* The scopes of a batch's commits, as a set (all: more than two, or a
 * commit whose position cannot be read). */
static void s_batch_scopes(const Linli__Batch *b, li_scopes *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < b->n_commits && !out->all; i++) {
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    if (!li_commit_pos(b->commits[i].data, b->commits[i].len, origin, scope, &seq)) out->all = true;
    else if (li_scopes_has(out, scope)) continue;
    else if (out->n == 2) out->all = true;
    else snprintf(out->list[out->n++], sizeof out->list[0], "%s", scope);
  }
}

/* Counters and the APPLIED event after the store took batch b. */
static void s_applied(li_session *s, const Linli__Batch *b, const li_apply_result *st, uint64_t now) {
  if (st->applied || st->sealed) {
    li_event *ev = s_event(s, LI_EV_APPLIED, LI_OK, "applied %u commit(s), sealed %u", st->applied, st->sealed);
    if (ev) {
      ev->applied = st->applied;
      ev->sealed = st->sealed;
      s_batch_scopes(b, &ev->touched);
    }
  }
  s->info.batches_recv++;
  s->info.commits_recv += st->applied;
  s->ex_recv += st->applied;
  if (st->applied + st->duplicates > 0) s->recv_progress_ms = now;
}

/* The Ack of a batch: what was applied, and every chain that was not (at
 * most LI_ACK_REJECTS_MAX named). store_err: the store failed altogether. */
static void s_ack(li_session *s, const Linli__Batch *b, const li_apply_result *st, li_err store_err,
                  const li_errbuf *aeb, uint64_t now) {
  size_t n = st->nrejects < LI_ACK_REJECTS_MAX ? st->nrejects : LI_ACK_REJECTS_MAX;
  Linli__ChainReject *cr = n ? calloc(n, sizeof *cr) : NULL;
  Linli__ChainReject **crp = n ? calloc(n, sizeof *crp) : NULL;
  if (!cr || !crp) n = 0;
  for (size_t i = 0; i < n; i++) {
    const li_chain_reject *r = &st->rejects[i];
    linli__chain_reject__init(&cr[i]);
    cr[i].origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)r->origin};
    cr[i].scope = (char *)r->scope;
    cr[i].seq = r->seq;
    cr[i].code = (char *)li_errname(r->code);
    cr[i].message = (char *)r->message;
    crp[i] = &cr[i];
  }
  Linli__Ack a = LINLI__ACK__INIT;
  a.exchange = b->exchange;
  a.id = b->id;
  a.applied = st->applied;
  a.duplicates = st->duplicates;
  li_err first = store_err ? store_err : st->nrejects ? st->rejects[0].code : LI_OK;
  a.reject = (char *)(first ? li_errname(first) : "");
  a.message = (char *)(store_err ? li_errmsg(aeb, store_err) : st->nrejects ? st->rejects[0].message : "");
  a.n_rejects = n;
  a.rejects = crp;
  a.refused = st->refused;
  a.refused_first = (char *)(st->refused ? st->refused_first : "");
  a.window_bytes = s->ack_window_bytes;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_ACK;
  env.ack = &a;
  s_push(s, &env, now);
  free(cr);
  free(crp);
}

static li_event *s_chain_event(li_session *s, li_event_kind kind, li_err code, const uint8_t origin[LI_PK_BYTES],
                               const char *scope, uint64_t seq, const char *msg) {
  char pk[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(origin, pk);
  li_event *ev = s_event(s, kind, code, "chain %s by %.10s from #%llu: %s", scope, pk, (unsigned long long)seq, msg);
  if (ev) {
    ev->has_chain = true;
    memcpy(ev->origin, origin, LI_PK_BYTES);
    snprintf(ev->scope, sizeof ev->scope, "%s", scope);
    ev->seq = seq;
  }
  return ev;
}

/* Rejections that the sender mends by sending again from our head: the
 * commits before were reordered or lost on the way. */
static bool s_resendable(li_err code) { return code == LI_ERR_GAP || code == LI_ERR_MISSING_DEPS; }

/* We could not go on with one of the peer's chains: it is left out of this
 * exchange (not awaited), and the peer is told in the Ack. */
static void s_reject_in(li_session *s, const li_chain_reject *r) {
  s->info.rejected[(unsigned)r->code < LI_ERR__COUNT ? r->code : LI_ERR_PROTOCOL]++;
  s_chain_event(s, LI_EV_REJECTED_IN, r->code, r->origin, r->scope, r->seq, r->message);
  s_chain *t = s_find(&s->theirs, r->origin, r->scope);
  if (t && !s_resendable(r->code)) t->stuck = true; /* a gap is filled in this exchange */
}

static li_err s_on_batch(li_session *s, const Linli__Batch *b, uint64_t now, li_errbuf *eb) {
  if (b->n_commits > LI_BATCH_ROWS_MAX)
    return s_refuse(s, now,
                    li_fail(eb, LI_ERR_LIMIT, "batch of %zu commits is over LI_BATCH_ROWS_MAX (%u)", b->n_commits,
                            LI_BATCH_ROWS_MAX),
                    eb, true);
  /* In HELLO_SENT the batch belongs to an exchange we just left (or overtook
   * the peer's Hello): applying it is as safe as ever, and acknowledging it
   * spares the peer a timeout. */
  if (s->state == LI_SESSION_IDLE)
    return s_refuse(s, now, li_fail(eb, LI_ERR_PROTOCOL, "batch outside an exchange"), eb, true);
  li_blob *blobs = calloc(b->n_commits ? b->n_commits : 1, sizeof *blobs);
  li_apply_result st = {0};
  li_errbuf aeb = {{0}};
  li_err e;
  if (!blobs) {
    e = li_fail(&aeb, LI_ERR_NOMEM, "out of memory for a batch of %zu commits", b->n_commits);
  } else {
    for (size_t i = 0; i < b->n_commits; i++) blobs[i] = (li_blob){b->commits[i].data, b->commits[i].len};
    e = s->store.apply(s->store_ctx, blobs, b->n_commits, &st, &aeb);
  }
  free(blobs);
  if (e) { /* the store failed: nothing of the batch was applied */
    li_apply_result_clear(&st);
    st = (li_apply_result){0};
  }
  s_applied(s, b, &st, now);
  s_ack(s, b, &st, e, &aeb, now);
  if (e) {
    s->info.rejected[(unsigned)e < LI_ERR__COUNT ? e : LI_ERR_PROTOCOL]++;
    s_event(s, LI_EV_REJECTED_IN, e, "our store could not apply a batch of %zu: %s", b->n_commits, li_errmsg(&aeb, e));
  }
  for (size_t i = 0; i < st.nrejects; i++) s_reject_in(s, &st.rejects[i]);
  e = e ? LI_OK : s_peer_has(s, b, &st, eb);
  li_apply_result_clear(&st);
  if (e) return s_store_failed(s, now, e, eb);
  if (s->state == LI_SESSION_SYNCING && !s->recv_done && (e = s_recheck_recv(s, eb)))
    return s_store_failed(s, now, e, eb);
  s_check_synced(s);
  return LI_OK;
}

static li_err s_err_from_name(const char *name) {
  for (int i = 0; i < LI_ERR__COUNT; i++)
    if (strcmp(li_errname((li_err)i), name) == 0) return (li_err)i;
  return LI_ERR_PROTOCOL;
}

/* The peer could not go on with one of our chains: it is left out of this
 * exchange (nothing more of it is sent), the others go on. A malformed
 * entry names no chain of ours and is ignored. */
static void s_reject_out(li_session *s, const Linli__ChainReject *r) {
  if (!r || r->origin.len != LI_PK_BYTES || !r->scope || !li_valid_scope(r->scope) || r->seq < 1) return;
  li_err code = s_err_from_name(r->code ? r->code : "");
  s->info.rejected[code]++;
  s_chain_event(s, LI_EV_REJECTED, code, r->origin.data, r->scope, r->seq, r->message ? r->message : "");
  s_chain *c = s_find(&s->ours, r->origin.data, r->scope);
  if (!c) return;
  if (c->sent >= r->seq) c->sent = r->seq - 1; /* the peer lacks them: send again, or count them as lacking */
  if (!s_resendable(code) || ++c->rewinds > S_REWINDS_MAX) c->stuck = true;
}

static li_err s_on_ack(li_session *s, const Linli__Ack *a, uint64_t now, li_errbuf *eb) {
  if (a->exchange != s->exchange) return LI_OK; /* of an earlier exchange */
  if (a->id == 0 || a->id >= s->next_batch_id)
    return s_refuse(s, now, li_fail(eb, LI_ERR_PROTOCOL, "ack of batch %llu, which was never sent",
                                    (unsigned long long)a->id), eb, true);
  uint32_t i = 0;
  while (i < s->in_flight && s->flight[i].id != a->id) i++;
  if (i == s->in_flight) return LI_OK; /* a duplicate, or a batch given up on */
  uint32_t n = s->flight[i].commits;
  s->flight_bytes -= s->flight[i].bytes;
  memmove(&s->flight[i], &s->flight[i + 1], (s->in_flight - i - 1) * sizeof s->flight[0]);
  s->in_flight--;
  s->peer_window_bytes = a->window_bytes;
  uint32_t applied = a->applied < n ? a->applied : n;
  s->info.commits_sent += applied;
  s->ex_sent += applied;
  for (size_t k = 0; k < a->n_rejects; k++) s_reject_out(s, a->rejects[k]);
  if (a->refused) {
    li_event *ev = s_event(s, LI_EV_REFUSED_ROWS, LI_OK, "%.400s", a->refused_first ? a->refused_first : "");
    if (ev) ev->applied = a->refused;
  }
  if (a->reject && a->reject[0] && a->n_rejects == 0) {
    /* the peer's store failed on the whole batch: stop and start over later */
    li_err code = s_err_from_name(a->reject);
    s->info.rejected[code]++;
    s_event(s, LI_EV_REJECTED, code, "peer could not apply our batch (%s): %s", a->reject, a->message ? a->message : "");
    s->send_stopped = true;
    s->nranges = 0;
    s->stalled = s->cfg.initiator;
    s_schedule_retry(s, now);
    return LI_OK;
  }
  li_err e = s_rebuild_ranges(s, eb);
  if (e) return s_store_failed(s, now, e, eb);
  s_pump(s, now);
  s_check_synced(s);
  return LI_OK;
}

static li_err s_on_refuse(li_session *s, const Linli__Refuse *r, uint64_t now) {
  li_err code = s_err_from_name(r->code ? r->code : "");
  s_event(s, LI_EV_REFUSED, code, "peer refused (%s): %s", r->code ? r->code : "", r->message ? r->message : "");
  s_end_exchange(s, now);
  return LI_OK;
}

static li_err s_on_fork(li_session *s, const Linli__ForkReport *f, uint64_t now, li_errbuf *eb) {
  const Linli__Head *h = f->theirs;
  if (!h || h->origin.len != LI_PK_BYTES || h->hash.len != LI_HASH_BYTES ||
      f->ours.len != LI_HASH_BYTES || !li_valid_scope(h->scope))
    return s_refuse(s, now, li_fail(eb, LI_ERR_DECODE, "malformed fork report"), eb, true);
  char pk[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(h->origin.data, pk);
  s_event(s, LI_EV_FORK, LI_ERR_FORK, "peer reports a fork at %s#%llu by %.10s", h->scope,
          (unsigned long long)h->seq, pk);
  return LI_OK;
}

li_err li_session_recv(li_session *s, const uint8_t *msg, size_t len, uint64_t now_ms, li_errbuf *eb) {
  static const uint8_t empty[1] = {0};
  li_errbuf tmp;
  if (!eb) eb = &tmp;
  eb->msg[0] = '\0';
  if (len > LI_MSG_BYTES_MAX)
    return s_refuse(s, now_ms,
                    li_fail(eb, LI_ERR_TOO_BIG, "message of %zu bytes is over LI_MSG_BYTES_MAX (%u)", len,
                            (unsigned)LI_MSG_BYTES_MAX),
                    eb, true);
  Linli__Envelope *env = linli__envelope__unpack(NULL, len, msg ? msg : empty);
  if (!env)
    return s_refuse(s, now_ms, li_fail(eb, LI_ERR_DECODE, "message of %zu bytes is not an envelope", len), eb, true);
  s->last_recv_ms = now_ms;
  /* Fields this version does not know are skipped (protobuf-c keeps them
   * aside): a newer peer may add fields an older one can do without. A
   * message kind this version does not know leaves the envelope empty. */
  li_err e;
  switch (env->m_case) {
  case LINLI__ENVELOPE__M_HELLO: e = s_on_hello(s, env->hello, now_ms, eb); break;
  case LINLI__ENVELOPE__M_BATCH: e = s_on_batch(s, env->batch, now_ms, eb); break;
  case LINLI__ENVELOPE__M_ACK: e = s_on_ack(s, env->ack, now_ms, eb); break;
  case LINLI__ENVELOPE__M_HEARTBEAT: e = LI_OK; break;
  case LINLI__ENVELOPE__M_REFUSE: e = s_on_refuse(s, env->refuse, now_ms); break;
  case LINLI__ENVELOPE__M_FORK: e = s_on_fork(s, env->fork, now_ms, eb); break;
  default:
    e = s_refuse(s, now_ms, li_fail(eb, LI_ERR_DECODE, "envelope holds no message this version knows"), eb, true);
    break;
  }
  linli__envelope__free_unpacked(env, NULL);
  assert(s_check(s));
  return e;
}

/* ---- the public rest ---- */

li_session *li_session_new(const li_session_cfg *cfg, const li_store_vt *store, void *store_ctx) {
  assert(cfg && store && store->heads && store->hash_at && store->fetch && store->apply);
  assert(cfg->window >= 1 && cfg->window <= LI_WINDOW_MAX);
  assert(cfg->batch_rows_max >= 1 && cfg->batch_rows_max <= LI_BATCH_ROWS_MAX);
  assert(cfg->batch_bytes_max >= 1 && cfg->batch_bytes_max <= LI_BATCH_BYTES_MAX);
  assert(cfg->heartbeat_ms > 0 && cfg->peer_timeout_ms > 0);
  assert(cfg->peer_reads.all || (cfg->peer_reads.n >= 0 && cfg->peer_reads.n <= 2));
  li_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cfg = *cfg;
  s->store = *store;
  s->store_ctx = store_ctx;
  s->out_cap = cfg->window + S_OUT_EXTRA;
  s->out = calloc(s->out_cap, sizeof *s->out);
  if (!s->out) {
    free(s);
    return NULL;
  }
  s->next_batch_id = 1;
  s->stuck_retry_ms = cfg->retry_ms;
  return s;
}

void li_session_destroy(li_session **sp) {
  if (!sp || !*sp) return;
  li_session *s = *sp;
  for (size_t i = 0; i < s->out_n; i++) free(s->out[(s->out_head + i) % s->out_cap].data);
  free(s->out);
  free(s->events);
  free(s->ranges);
  s_chains_free(&s->ours);
  s_chains_free(&s->theirs);
  free(s);
  *sp = NULL;
}

li_err li_session_start(li_session *s, uint64_t now_ms, li_errbuf *eb) {
  li_errbuf tmp;
  if (!eb) eb = &tmp;
  eb->msg[0] = '\0';
  s_new_exchange(s, now_ms);
  s->state = LI_SESSION_HELLO_SENT;
  li_err e = s_send_hello(s, now_ms, eb);
  if (e) return s_store_failed(s, now_ms, e, eb);
  assert(s_check(s));
  return LI_OK;
}

void li_session_local_changed(li_session *s, uint64_t now_ms) {
  if (s->state == LI_SESSION_IDLE) {
    if (s->cfg.initiator && s->retry_at_ms == 0) li_session_start(s, now_ms, NULL);
    return;
  }
  if (s->state != LI_SESSION_SYNCING || s->send_stopped) return;
  li_errbuf eb = {{0}};
  li_err e = s_refresh_ours(s, &eb);
  if (e) {
    s_store_failed(s, now_ms, e, &eb);
    return;
  }
  s_pump(s, now_ms);
  assert(s_check(s));
}

/* When a caught-up initiator runs the exchange again (see S_ANTI_ENTROPY_MS). */
static uint64_t s_again_ms(const li_session *s) {
  if (s_count_stuck(&s->ours) + s_count_stuck(&s->theirs) == 0) return S_ANTI_ENTROPY_MS;
  return s->stuck_retry_ms < S_ANTI_ENTROPY_MS ? s->stuck_retry_ms : S_ANTI_ENTROPY_MS;
}

static uint64_t s_heard_ms(const li_session *s) {
  return s->last_recv_ms > s->hello_sent_ms ? s->last_recv_ms : s->hello_sent_ms;
}

static bool s_caught_up(const li_session *s) { return s->recv_done && s_done_sending(s); }

/* When the Ack of our oldest batch in flight is overdue. The initiator
 * counts from the send. The responder counts from the later of the send and
 * the last message from the peer: the peer's Ack queues behind everything it
 * sent before, so a responder still receiving from the peer (a hub working
 * through the batches of many committees) is looking at its own inbound
 * backlog, not at a lost batch. Giving up then made it refuse every batch
 * still queued ("batch outside an exchange") and the committee send them all
 * again, growing the backlog. The responder thus gives up only on a silent
 * peer (as PEER_LOST would); a batch of ours really lost is recovered by the
 * initiator (no progress towards our heads, or its anti-entropy exchange). */
static uint64_t s_ack_due(const li_session *s) {
  uint64_t from = s->flight[0].sent_ms;
  if (!s->cfg.initiator && s->last_recv_ms > from) from = s->last_recv_ms;
  return from + s->cfg.peer_timeout_ms;
}

/* When the next Heartbeat is due: never while a batch of ours is
 * unacknowledged. A batch in flight already tells the peer we are there
 * when it reads it, and a Heartbeat behind it could only queue at a busy peer: a hub's inbound
 * queue per peer is LI_TRANSPORT_HUB_RCVHWM messages, sized for a window of
 * batches and a Hello. Heartbeats sent every heartbeat_ms while a hub worked
 * through 50 committees' backlogs filled that queue, the hub stopped reading
 * the connection, ZeroMQ's own heartbeat on it timed out and the committee
 * reconnected and sent its batches again (issue 14: 72 connections for 50
 * committees, 227.6 TCP bytes per row where the commits are 170.6). A batch
 * that is lost is caught by the Ack timeout (s_ack_due) instead. */
static uint64_t s_heartbeat_at(const li_session *s) {
  return s->in_flight ? UINT64_MAX : s->last_send_ms + s->cfg.heartbeat_ms;
}

void li_session_tick(li_session *s, uint64_t now_ms) {
  const uint64_t pt = s->cfg.peer_timeout_ms;
  if (s->retry_at_ms && now_ms >= s->retry_at_ms) {
    li_session_start(s, now_ms, NULL);
    return;
  }
  if (s->state == LI_SESSION_IDLE) return;
  if (now_ms >= s_heard_ms(s) + pt) {
    s_event(s, LI_EV_PEER_LOST, LI_ERR_TIMEOUT, "no message from the peer for %llu ms",
            (unsigned long long)(now_ms - s_heard_ms(s)));
    s_end_exchange(s, now_ms);
    return;
  }
  if (!s->stalled) {
    if (s->state == LI_SESSION_HELLO_SENT && now_ms >= s->hello_sent_ms + pt)
      s_stall(s, now_ms, "no answer to our hello");
    else if (s->in_flight && now_ms >= s_ack_due(s))
      s_stall(s, now_ms, "no ack of our batch within the peer timeout");
    else if (s->cfg.initiator && s->state == LI_SESSION_SYNCING && !s->recv_done && now_ms >= s->recv_progress_ms + pt)
      s_stall(s, now_ms, "no progress towards the peer's heads");
    if (s->state == LI_SESSION_IDLE) return;
  }
  if (s->cfg.initiator && s->state == LI_SESSION_SYNCING && !s->stalled && s_caught_up(s) &&
      now_ms >= s->started_ms + s_again_ms(s)) {
    /* chains still out: wait longer next time, unless this exchange moved
     * something (a held chain being let in bit by bit) */
    if (s_count_stuck(&s->ours) + s_count_stuck(&s->theirs) && s->ex_sent + s->ex_recv == 0)
      s->stuck_retry_ms = s->stuck_retry_ms * 2 < S_ANTI_ENTROPY_MS ? s->stuck_retry_ms * 2 : S_ANTI_ENTROPY_MS;
    else
      s->stuck_retry_ms = s->cfg.retry_ms;
    li_session_start(s, now_ms, NULL);
    return;
  }
  if (now_ms >= s_heartbeat_at(s)) {
    Linli__Heartbeat hb = LINLI__HEARTBEAT__INIT;
    hb.exchange = s->exchange;
    Linli__Envelope env = LINLI__ENVELOPE__INIT;
    env.m_case = LINLI__ENVELOPE__M_HEARTBEAT;
    env.heartbeat = &hb;
    s_push(s, &env, now_ms);
  }
  s_pump(s, now_ms);
  assert(s_check(s));
}

static uint64_t s_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t li_session_next_deadline(const li_session *s) {
  const uint64_t pt = s->cfg.peer_timeout_ms;
  uint64_t d = s->retry_at_ms ? s->retry_at_ms : UINT64_MAX;
  if (s->state == LI_SESSION_IDLE) return d;
  d = s_min(d, s_heard_ms(s) + pt);
  d = s_min(d, s_heartbeat_at(s));
  if (!s->stalled) {
    if (s->state == LI_SESSION_HELLO_SENT) d = s_min(d, s->hello_sent_ms + pt);
    if (s->in_flight) d = s_min(d, s_ack_due(s));
    if (s->cfg.initiator && s->state == LI_SESSION_SYNCING && !s->recv_done) d = s_min(d, s->recv_progress_ms + pt);
    if (s->cfg.initiator && s->state == LI_SESSION_SYNCING && s_caught_up(s))
      d = s_min(d, s->started_ms + s_again_ms(s));
  }
  return d;
}

bool li_session_next_out(li_session *s, uint8_t **msg, size_t *len) {
  if (s->out_n == 0) return false;
  s_msg m = s->out[s->out_head];
  s->out_head = (s->out_head + 1) % s->out_cap;
  s->out_n--;
  *msg = m.data;
  *len = m.len;
  return true;
}

bool li_session_next_event(li_session *s, li_event *ev) {
  if (s->ev_head == s->ev_n) return false;
  *ev = s->events[s->ev_head++];
  return true;
}

void li_session_info_get(const li_session *s, li_session_info *out) {
  *out = s->info;
  out->state = s->state;
  out->last_recv_ms = s->last_recv_ms;
  out->in_flight = s->in_flight;
  out->flight_bytes = s->flight_bytes;
  out->caught_up = s_caught_up(s);
  uint64_t behind = 0;
  for (size_t i = 0; i < s->ours.n; i++)
    if (!s->ours.v[i].forked && s->ours.v[i].seq > s->ours.v[i].sent) behind += s->ours.v[i].seq - s->ours.v[i].sent;
  for (uint32_t i = 0; i < s->in_flight; i++) behind += s->flight[i].commits;
  out->behind_us = behind;
  out->stuck_ours = s_count_stuck(&s->ours);
  out->stuck_theirs = s_count_stuck(&s->theirs);
}

void li_session_set_wall(li_session *s, uint64_t wall_ms) { s->wall_ms = wall_ms; }

void li_session_set_schema(li_session *s, uint32_t version) { s->schema_version = version; }

void li_session_set_recv_window(li_session *s, uint32_t hello_bytes, uint32_t ack_bytes) {
  s->hello_window_bytes = hello_bytes;
  s->ack_window_bytes = ack_bytes;
}

bool li_session_peer_head(const li_session *s, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq,
                          uint8_t hash[LI_HASH_BYTES]) {
  *seq = 0;
  if (s->state != LI_SESSION_SYNCING || s->peer_exchange == 0) return false;
  const s_chain *t = s_find(&s->theirs, origin, scope);
  if (t) {
    *seq = t->seq;
    if (hash) memcpy(hash, t->hash, LI_HASH_BYTES);
  }
  return true;
}

bool li_session_sent(const li_session *s, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t *seq) {
  *seq = 0;
  const s_chain *c = s_find(&s->ours, origin, scope);
  if (!c || c->forked || c->stuck) return false;
  *seq = c->sent;
  return true;
}

void li_apply_result_clear(li_apply_result *r) {
  free(r->rejects);
  r->rejects = NULL;
  r->nrejects = 0;
}

bool li_apply_result_skipped(const li_apply_result *r, const uint8_t origin[LI_PK_BYTES], const char *scope,
                             uint64_t seq) {
  for (size_t i = 0; i < r->nrejects; i++)
    if (seq >= r->rejects[i].seq && strcmp(scope, r->rejects[i].scope) == 0 &&
        memcmp(origin, r->rejects[i].origin, LI_PK_BYTES) == 0)
      return true;
  return false;
}

bool li_apply_result_reject(li_apply_result *r, const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq,
                            li_err code, const char *message) {
  if (li_apply_result_skipped(r, origin, scope, seq)) return true;
  li_chain_reject *p = realloc(r->rejects, (r->nrejects + 1) * sizeof *p);
  if (!p) return false;
  r->rejects = p;
  li_chain_reject *c = &p[r->nrejects++];
  memset(c, 0, sizeof *c);
  memcpy(c->origin, origin, LI_PK_BYTES);
  snprintf(c->scope, sizeof c->scope, "%s", scope);
  c->seq = seq;
  c->code = code;
  snprintf(c->message, sizeof c->message, "%s", message ? message : "");
  return true;
}

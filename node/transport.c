/* transport: ZeroMQ ROUTER/DEALER with CURVE and a same-thread ZAP handler
 * (see transport.h for what it owns and its invariants). */
#include "transport.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "hlc.h"
#include "li_limits.h"
#include "log.h"

#define LI_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define LI_ZAP_DOMAIN "linli"
#define LI_MONITOR_ENDPOINT "inproc://linli-transport-monitor"
/* A ZAP request has 7 frames for CURVE (RFC 27); more is malformed. */
#define LI_ZAP_FRAMES 7
/* LI_ZAP_BATCH_MAX, LI_MONITOR_BATCH_MAX, LI_DRAIN_FRAMES_MAX: li_limits.h */
/* Committee: a handshake that keeps failing this many times over this long
 * is worth checking the hub key for (an outage alone does not say so). */
#define S_KEY_HINT_TRIES 16
#define S_KEY_HINT_MS 120000

/* Committee: libzmq gives up on an endpoint whose handshake the hub refused
 * (ZAP status 400) and never retries it; we reconnect ourselves after a
 * backoff from MIN doubling to MAX, so a committee added to the roster later
 * joins without a restart, and a refused one costs the hub one log line a
 * minute at most. */
#define LI_AUTH_RETRY_MIN_MS LI_TRANSPORT_RECONNECT_MAX_MS
#define LI_AUTH_RETRY_MAX_MS 60000

struct li_transport {
  void *ctx;
  void *sock; /* ROUTER (hub) or DEALER (committee) */
  void *mon;  /* PAIR receiving the data socket's monitor events */
  void *zap;  /* REP serving ZAP; hub only */
  bool hub;
  bool connected;
  int64_t reconnect_at_ms; /* committee: 0, or when to reconnect after an auth failure */
  int64_t auth_retry_ms;   /* committee: the next backoff after an auth failure */
  uint64_t failures_in_row; /* committee: handshake failures since the last success */
  uint64_t failing_since_wall_ms; /* committee: wall clock of the first of them (0: none) */
  li_transport_admit_fn admit;
  void *admit_ctx;
  uint8_t hub_pk[LI_PK_BYTES]; /* committee: the pinned hub key */
  char endpoint[LI_ENDPOINT_MAX];
  li_transport_stats stats;
  /* hub: lines about refused handshakes and dropped messages
   * (LI_LOG_REFUSALS, LI_LOG_DROPS a minute; the rest summed up) */
  li_log_budget refusal_lines, drop_lines;
  /* hub: the socket of each routing id's last message (ZMQ_SRCFD), so one
   * connection can be closed (li_transport_drop); forgotten when libzmq
   * reports that socket disconnected */
  struct {
    li_peer_id peer;
    int fd;
  } *fds;
  size_t nfds, next_fd;
};

static void s_refusals_close(li_transport *t, bool force);

static int64_t s_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_set_int(void *sock, int opt, int value) {
  return zmq_setsockopt(sock, opt, &value, sizeof value);
}

/* libzmq applies ZMQ_MAXMSGSIZE to the frame on the wire, which under CURVE
 * is the MESSAGE command wrapping ours ("\x07MESSAGE", 8-byte nonce, 16-byte
 * MAC, flags byte: 33 bytes in libzmq 4.3). Without room for it a message of
 * the last 33 bytes up to LI_MSG_BYTES_MAX, which send accepts, cost the
 * receiver the connection. Anything over LI_MSG_BYTES_MAX that fits the
 * slack is dropped (and logged) by s_recv. */
#define LI_CURVE_MSG_SLACK 64

/* Options common to both ends; -1 with errno set if libzmq refuses one. */
static int s_set_common(void *sock) {
  int64_t max = (int64_t)LI_MSG_BYTES_MAX + LI_CURVE_MSG_SLACK;
  if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0) return -1;
  if (s_set_int(sock, ZMQ_SNDHWM, LI_TRANSPORT_HWM) != 0) return -1;
  if (s_set_int(sock, ZMQ_RCVHWM, LI_TRANSPORT_HWM) != 0) return -1;
  if (s_set_int(sock, ZMQ_LINGER, LI_TRANSPORT_LINGER_MS) != 0) return -1;
  if (s_set_int(sock, ZMQ_HANDSHAKE_IVL, LI_TRANSPORT_HANDSHAKE_MS) != 0) return -1;
  if (s_set_int(sock, ZMQ_HEARTBEAT_IVL, LI_TRANSPORT_HEARTBEAT_MS) != 0) return -1;
  if (s_set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, LI_TRANSPORT_HEARTBEAT_TIMEOUT_MS) != 0) return -1;
  return s_set_int(sock, ZMQ_HEARTBEAT_TTL, LI_TRANSPORT_HEARTBEAT_TIMEOUT_MS);
}

/* Our CURVE key pair from the identity; the secret is wiped after use. */
static li_err s_set_keys(void *sock, const li_identity *id, li_errbuf *eb) {
  uint8_t pk[32], sk[32];
  if (li_curve_keys(id, pk, sk) != LI_OK) {
    sodium_memzero(sk, sizeof sk);
    return li_fail(eb, LI_ERR_KEY, "cannot derive the CURVE keys from this identity");
  }
  int rc = zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pk, sizeof pk);
  if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sk, sizeof sk);
  sodium_memzero(sk, sizeof sk);
  if (rc != 0)
    return li_fail(eb, LI_ERR_IO, "cannot set the CURVE keys: %s (is libzmq built with CURVE?)",
                   zmq_strerror(zmq_errno()));
  return LI_OK;
}

static void s_close(void **sock) {
  if (*sock) {
    int zero = 0;
    zmq_setsockopt(*sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(*sock);
    *sock = NULL;
  }
}

void li_transport_destroy(li_transport **tp) {
  if (!tp || !*tp) return;
  li_transport *t = *tp;
  if (t->hub) s_refusals_close(t, true);
  if (t->sock) {
    zmq_socket_monitor(t->sock, NULL, 0);
    zmq_close(t->sock); /* keeps its LI_TRANSPORT_LINGER_MS */
    t->sock = NULL;
  }
  s_close(&t->mon);
  s_close(&t->zap);
  if (t->ctx) {
    while (zmq_ctx_term(t->ctx) != 0 && zmq_errno() == EINTR) {
    }
  }
  free(t->fds);
  free(t);
  *tp = NULL;
}

/* Context, data socket with keys and common options, and the monitor. */
static li_err s_new(const li_identity *id, int type, li_transport **out, li_errbuf *eb) {
  *out = NULL;
  li_transport *t = calloc(1, sizeof *t);
  if (!t) return li_fail(eb, LI_ERR_NOMEM, "out of memory for a transport");
  li_err e = LI_ERR_IO;
  t->hub = type == ZMQ_ROUTER;
  t->ctx = zmq_ctx_new();
  if (!t->ctx) {
    li_fail(eb, LI_ERR_IO, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  t->sock = zmq_socket(t->ctx, type);
  if (!t->sock || s_set_common(t->sock) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot set up the ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  if ((e = s_set_keys(t->sock, id, eb)) != LI_OK) goto fail;
  int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
               ZMQ_EVENT_DISCONNECTED;
  if (zmq_socket_monitor(t->sock, LI_MONITOR_ENDPOINT, events) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot monitor the ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  t->mon = zmq_socket(t->ctx, ZMQ_PAIR);
  if (!t->mon || s_set_int(t->mon, ZMQ_LINGER, 0) != 0 ||
      zmq_connect(t->mon, LI_MONITOR_ENDPOINT) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot connect the socket monitor: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  *out = t;
  return LI_OK;
fail:
  li_transport_destroy(&t);
  return e;
}

li_err li_transport_hub_new(const li_identity *id, const char *endpoint, li_transport_admit_fn admit, void *admit_ctx,
                            li_transport **out, li_errbuf *eb) {
  assert(id && endpoint && admit && out);
  li_transport *t = NULL;
  li_err e = s_new(id, ZMQ_ROUTER, &t, eb);
  if (e) return e;
  e = LI_ERR_IO;
  t->fds = calloc(LI_PEERS_MAX, sizeof *t->fds);
  if (!t->fds) {
    e = li_fail(eb, LI_ERR_NOMEM, "out of memory for a transport");
    goto fail;
  }
  t->admit = admit;
  t->admit_ctx = admit_ctx;
  t->connected = true;
  /* ZAP first, so no connection is ever accepted without it. */
  t->zap = zmq_socket(t->ctx, ZMQ_REP);
  if (!t->zap || s_set_int(t->zap, ZMQ_LINGER, 0) != 0 || zmq_bind(t->zap, LI_ZAP_ENDPOINT) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  if (s_set_int(t->sock, ZMQ_CURVE_SERVER, 1) != 0 || s_set_int(t->sock, ZMQ_RCVHWM, LI_TRANSPORT_HUB_RCVHWM) != 0 ||
      zmq_setsockopt(t->sock, ZMQ_ZAP_DOMAIN, LI_ZAP_DOMAIN, strlen(LI_ZAP_DOMAIN)) != 0 ||
      s_set_int(t->sock, ZMQ_ROUTER_MANDATORY, 1) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot set up the hub socket: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  if (zmq_bind(t->sock, endpoint) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot listen on %s: %s (is another hub running, or the address wrong?)",
            endpoint, zmq_strerror(zmq_errno()));
    goto fail;
  }
  size_t len = sizeof t->endpoint;
  if (zmq_getsockopt(t->sock, ZMQ_LAST_ENDPOINT, t->endpoint, &len) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot read the bound endpoint: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  t->endpoint[sizeof t->endpoint - 1] = '\0';
  *out = t;
  return LI_OK;
fail:
  li_transport_destroy(&t);
  return e;
}

li_err li_transport_committee_new(const li_identity *id, const char *endpoint, const uint8_t hub_ed_pk[LI_PK_BYTES],
                                  li_transport **out, li_errbuf *eb) {
  assert(id && endpoint && hub_ed_pk && out);
  *out = NULL;
  if (strlen(endpoint) >= LI_ENDPOINT_MAX)
    return li_fail(eb, LI_ERR_CONFIG, "hub endpoint is longer than %d characters (LI_ENDPOINT_MAX)", LI_ENDPOINT_MAX - 1);
  uint8_t hub_curve[32];
  if (li_curve_pk_from_ed(hub_ed_pk, hub_curve) != LI_OK)
    return li_fail(eb, LI_ERR_KEY, "the hub key is not a valid Ed25519 public key");
  li_transport *t = NULL;
  li_err e = s_new(id, ZMQ_DEALER, &t, eb);
  if (e) return e;
  e = LI_ERR_IO;
  memcpy(t->hub_pk, hub_ed_pk, LI_PK_BYTES);
  t->auth_retry_ms = LI_AUTH_RETRY_MIN_MS;
  snprintf(t->endpoint, sizeof t->endpoint, "%s", endpoint);
  if (zmq_setsockopt(t->sock, ZMQ_CURVE_SERVERKEY, hub_curve, sizeof hub_curve) != 0 ||
      s_set_int(t->sock, ZMQ_RECONNECT_IVL, LI_TRANSPORT_RECONNECT_MIN_MS) != 0 ||
      s_set_int(t->sock, ZMQ_RECONNECT_IVL_MAX, LI_TRANSPORT_RECONNECT_MAX_MS) != 0 ||
      s_set_int(t->sock, ZMQ_IMMEDIATE, 1) != 0) {
    li_fail(eb, LI_ERR_IO, "cannot set up the committee socket: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  if (zmq_connect(t->sock, endpoint) != 0) {
    e = li_fail(eb, LI_ERR_CONFIG, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    goto fail;
  }
  *out = t;
  return LI_OK;
fail:
  li_transport_destroy(&t);
  return e;
}

int li_transport_admit_roster(void *roster, const uint8_t curve_pk[32],
                              uint8_t ed_pk_out[LI_PK_BYTES]) {
  const li_transport_roster *r = roster;
  assert(r && (r->keys || r->n == 0));
  for (size_t i = 0; i < r->n; i++) {
    uint8_t c[32];
    if (li_curve_pk_from_ed(r->keys[i], c) != LI_OK) continue;
    if (sodium_memcmp(c, curve_pk, 32) == 0) {
      memcpy(ed_pk_out, r->keys[i], LI_PK_BYTES);
      return 0;
    }
  }
  return -1;
}

/* ---- lines about input no session sees (hub) ---- */

/* The refusals and drops not logged in a minute that is over (or now, with
 * force), one line each. */
static void s_refusals_close(li_transport *t, bool force) {
  uint64_t n = li_log_budget_close(&t->refusal_lines, (uint64_t)s_now_ms(), force);
  if (n)
    log_warnx("refused %llu more connection(s) with keys not in the roster, not logged one by one (at most %u a "
              "minute)", (unsigned long long)n, LI_LOG_REFUSALS);
  n = li_log_budget_close(&t->drop_lines, (uint64_t)s_now_ms(), force);
  if (n)
    log_warnx("dropped %llu more malformed message(s), not logged one by one (at most %u a minute)",
              (unsigned long long)n, LI_LOG_DROPS);
}

/* ---- ZAP (RFC 27), served on the caller's thread ---- */

static void s_zap_reply(void *zap, const zmq_msg_t *request_id, const char *status,
                        const char *text, const char *user_id) {
  const void *rid = request_id ? zmq_msg_data((zmq_msg_t *)request_id) : "";
  size_t rid_len = request_id ? zmq_msg_size((zmq_msg_t *)request_id) : 0;
  int flags = ZMQ_SNDMORE | ZMQ_DONTWAIT;
  if (zmq_send(zap, "1.0", 3, flags) < 0 || zmq_send(zap, rid, rid_len, flags) < 0 ||
      zmq_send(zap, status, strlen(status), flags) < 0 ||
      zmq_send(zap, text, strlen(text), flags) < 0 ||
      zmq_send(zap, user_id, strlen(user_id), flags) < 0 || zmq_send(zap, "", 0, ZMQ_DONTWAIT) < 0)
    log_warnx("ZAP: cannot send a reply: %s", zmq_strerror(zmq_errno()));
}

static bool s_frame_is(zmq_msg_t *m, const char *s) {
  return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* frames: version, request id, domain, address, identity, mechanism, key. */
static void s_zap_decide(li_transport *t, zmq_msg_t *f, int n) {
  if (n != LI_ZAP_FRAMES || !s_frame_is(&f[0], "1.0") || !s_frame_is(&f[5], "CURVE") ||
      zmq_msg_size(&f[6]) != 32) {
    log_warnx("ZAP: malformed request (%d frames); refusing", n);
    t->stats.refused++;
    s_zap_reply(t->zap, n > 1 ? &f[1] : NULL, n >= 1 && !s_frame_is(&f[0], "1.0") ? "500" : "400",
                "malformed ZAP request", "");
    return;
  }
  char address[64];
  size_t alen = zmq_msg_size(&f[3]) < sizeof address - 1 ? zmq_msg_size(&f[3]) : sizeof address - 1;
  memcpy(address, zmq_msg_data(&f[3]), alen);
  address[alen] = '\0';
  const uint8_t *curve_pk = zmq_msg_data(&f[6]);
  uint8_t ed_pk[LI_PK_BYTES];
  if (!s_frame_is(&f[2], LI_ZAP_DOMAIN) || t->admit(t->admit_ctx, curve_pk, ed_pk) != 0) {
    /* A key not in the roster has no roster form to show (a CURVE key maps
     * back to two Ed25519 candidates): its CURVE form, which `linli id
     * --curve` prints on the PC (docs/design-notes.md, issue 12). */
    char z85[LI_CURVE_TEXT_LEN + 1];
    zmq_z85_encode(z85, curve_pk, 32);
    s_refusals_close(t, false);
    if (li_log_budget_take(&t->refusal_lines, LI_LOG_REFUSALS))
      log_warnx("refused connection from %s: CURVE key %s not in the roster ('linli id --curve' on a PC shows its own)",
                address, z85);
    t->stats.refused++;
    s_zap_reply(t->zap, &f[1], "400", "key not in the roster", "");
    return;
  }
  char text[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(ed_pk, text);
  log_debug("admitted %s from %s", text, address);
  t->stats.admitted++;
  s_zap_reply(t->zap, &f[1], "200", "OK", text);
}

/* Serves one pending request; false when there was none. */
static bool s_zap_serve_one(li_transport *t) {
  zmq_msg_t f[LI_ZAP_FRAMES];
  int n = 0, extra = 0;
  for (bool more = true; more;) {
    zmq_msg_t scratch;
    zmq_msg_t *part = n < LI_ZAP_FRAMES ? &f[n] : &scratch;
    zmq_msg_init(part);
    if (zmq_msg_recv(part, t->zap, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(part);
      break;
    }
    more = zmq_msg_more(part);
    if (part == &scratch) {
      zmq_msg_close(part);
      extra++;
    } else {
      n++;
    }
  }
  if (n == 0) return false;
  s_zap_decide(t, f, n + extra);
  for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
  return true;
}

/* ---- socket monitor ---- */

/* The hub: a socket libzmq closed is no longer any routing id's. */
static void s_forget_fd(li_transport *t, int fd) {
  for (size_t i = 0; i < t->nfds; i++)
    if (t->fds[i].fd == fd) t->fds[i].fd = -1;
}


static void s_monitor_event(li_transport *t, uint16_t event, uint32_t value, const char *addr) {
  switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      t->stats.connects++;
      t->reconnect_at_ms = 0;
      t->auth_retry_ms = LI_AUTH_RETRY_MIN_MS;
      t->failures_in_row = 0;
      t->failing_since_wall_ms = 0;
      if (!t->hub) {
        t->connected = true;
        log_info("connected to the hub at %s", addr);
      }
      break;
    case ZMQ_EVENT_DISCONNECTED:
      t->stats.disconnects++;
      if (t->hub) s_forget_fd(t, (int)value);
      if (!t->hub && t->connected) {
        t->connected = false;
        log_warnx("lost the hub at %s; reconnecting", addr);
      } else if (t->hub) {
        log_debug("a peer connection closed");
      }
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      if (t->hub) { /* refusals are logged by the ZAP handler */
        t->stats.handshake_failures++;
        break;
      }
      t->stats.auth_failures++;
      t->connected = false;
      if (t->reconnect_at_ms == 0) {
        log_warnx("hub refused our key (status %u): is this committee in the hub's roster? "
                  "retrying in %d s", (unsigned)value, (int)(t->auth_retry_ms / 1000));
        t->reconnect_at_ms = s_now_ms() + t->auth_retry_ms;
        t->auth_retry_ms = t->auth_retry_ms * 2 > LI_AUTH_RETRY_MAX_MS ? LI_AUTH_RETRY_MAX_MS
                                                                       : t->auth_retry_ms * 2;
      }
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: {
      t->stats.handshake_failures++;
      char why[96];
      if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        snprintf(why, sizeof why, "protocol error 0x%x", (unsigned)value);
      else
        snprintf(why, sizeof why, "%s", value ? zmq_strerror((int)value) : "no detail");
      if (t->hub) {
        log_debug("a peer handshake failed: %s", why);
        break;
      }
      /* libzmq retries these every RECONNECT_MIN: log 1, 2, 4, 8, ... A
       * connection that closes during the handshake is what an outage
       * looks like (a link or proxy cut, the hub restarting) and also what
       * a wrong hub key looks like (the hub cannot open our HELLO and
       * closes): the key is named only once it has gone on for a while,
       * as a thing to check, never as the cause of an outage. */
      t->failures_in_row++;
      uint64_t now_wall = li_wall_ms();
      if (!t->failing_since_wall_ms) t->failing_since_wall_ms = now_wall;
      if ((t->failures_in_row & (t->failures_in_row - 1)) == 0) {
        char since[48];
        li_hlc_format(t->failing_since_wall_ms << 16, since, sizeof since);
        bool long_enough = t->failures_in_row >= S_KEY_HINT_TRIES &&
                           now_wall - t->failing_since_wall_ms >= S_KEY_HINT_MS;
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
          log_warnx("handshake with the hub at %s failed (%s; %llu in a row since %s): check that hub_key in "
                    "linli.conf is the hub's 'linli id'", addr, why, (unsigned long long)t->failures_in_row, since);
        else
          log_warnx("hub at %s unreachable since %s (the connection closed during the handshake: %s; %llu tries), "
                    "retrying%s", addr, since, why, (unsigned long long)t->failures_in_row,
                    long_enough ? "; if the hub is running, check that hub_key in linli.conf is the hub's 'linli id'"
                                : "");
      }
      break;
    }
    default:
      break;
  }
}

/* Reads one event; false when there was none. Format: [u16 event, u32 value][address]. */
static bool s_monitor_one(li_transport *t) {
  zmq_msg_t head, addr;
  zmq_msg_init(&head);
  if (zmq_msg_recv(&head, t->mon, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&head);
    return false;
  }
  char text[LI_ENDPOINT_MAX] = "";
  if (zmq_msg_more(&head)) {
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&addr, t->mon, ZMQ_DONTWAIT) >= 0) {
      size_t n = zmq_msg_size(&addr) < sizeof text - 1 ? zmq_msg_size(&addr) : sizeof text - 1;
      memcpy(text, zmq_msg_data(&addr), n);
      text[n] = '\0';
    }
    zmq_msg_close(&addr);
  }
  if (zmq_msg_size(&head) == 6) {
    const uint8_t *d = zmq_msg_data(&head);
    uint16_t event;
    uint32_t value;
    memcpy(&event, d, 2);
    memcpy(&value, d + 2, 4);
    s_monitor_event(t, event, value, text);
  }
  zmq_msg_close(&head);
  return true;
}

/* Committee only: libzmq does not retry an endpoint whose handshake was
 * refused, so after a pause we connect again ourselves. */
static void s_retry_after_refusal(li_transport *t) {
  if (t->hub || t->reconnect_at_ms == 0 || s_now_ms() < t->reconnect_at_ms) return;
  t->reconnect_at_ms = 0;
  zmq_disconnect(t->sock, t->endpoint);
  if (zmq_connect(t->sock, t->endpoint) != 0)
    log_warnx("cannot reconnect to %s: %s", t->endpoint, zmq_strerror(zmq_errno()));
  else
    log_info("trying the hub at %s again", t->endpoint);
}

/* ---- data ---- */

static void s_drain(void *sock) {
  for (int i = 0; i < LI_DRAIN_FRAMES_MAX; i++) {
    int more = 0;
    size_t len = sizeof more;
    if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) != 0 || !more) return;
    zmq_msg_t m;
    zmq_msg_init(&m);
    int rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
    zmq_msg_close(&m);
    if (rc < 0) return;
  }
}

/* who: the sender's key in roster form (the User-Id ZAP gave its
 * connection), or NULL when there is none. */
static void s_drop(li_transport *t, const char *who, const char *why) {
  t->stats.dropped++;
  s_refusals_close(t, false);
  if (!li_log_budget_take(&t->drop_lines, LI_LOG_DROPS)) return;
  if (t->hub) log_warnx("dropped a message from %s: %s", who && who[0] ? who : "an unknown key", why);
  else log_warnx("dropped a message from the hub: %s", why);
}

/* The hub: the socket a routing id's messages come from. */
static void s_remember_fd(li_transport *t, const li_peer_id *peer, int fd) {
  if (fd < 0) return;
  for (size_t i = 0; i < t->nfds; i++)
    if (t->fds[i].peer.len == peer->len && memcmp(t->fds[i].peer.id, peer->id, peer->len) == 0) {
      t->fds[i].fd = fd;
      return;
    }
  size_t slot = t->nfds < LI_PEERS_MAX ? t->nfds++ : t->next_fd++ % LI_PEERS_MAX;
  t->fds[slot].peer = *peer;
  t->fds[slot].fd = fd;
}

void li_transport_drop(li_transport *t, const li_peer_id *peer) {
  if (!t->hub) return;
  for (size_t i = 0; i < t->nfds; i++)
    if (t->fds[i].fd >= 0 && t->fds[i].peer.len == peer->len && memcmp(t->fds[i].peer.id, peer->id, peer->len) == 0) {
      /* libzmq owns the socket: shutting it down makes its I/O thread see
       * the connection end and clean up, as if the peer had gone */
      shutdown(t->fds[i].fd, SHUT_RDWR);
      t->fds[i].fd = -1;
      t->stats.drops++;
    }
}

/* The hub: the sender's key as ZAP named it (roster form), "" when the
 * message carries none or not a key (nothing a peer sends is shown). */
static void s_user(li_transport *t, zmq_msg_t *m, char out[LI_PK_TEXT_LEN + 1]) {
  const char *user = t->hub ? zmq_msg_gets(m, "User-Id") : NULL;
  uint8_t key[LI_PK_BYTES];
  out[0] = '\0';
  if (user && li_pk_from_text(user, key, NULL) == LI_OK) li_pk_to_text(key, out);
}

/* 1 with *out filled, 0 when nothing (or a dropped message), -1 on error. */
static int s_recv(li_transport *t, li_transport_msg *out, li_errbuf *eb) {
  li_peer_id peer = {.len = 0};
  zmq_msg_t m;
  if (t->hub) {
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, t->sock, ZMQ_DONTWAIT) < 0) goto recv_error;
    bool more = zmq_msg_more(&m);
    peer.len = zmq_msg_size(&m);
    if (peer.len > sizeof peer.id || peer.len == 0 || !more) {
      zmq_msg_close(&m);
      s_drain(t->sock);
      s_drop(t, NULL, "bad routing id");
      return 0;
    }
    memcpy(peer.id, zmq_msg_data(&m), peer.len);
    zmq_msg_close(&m);
  }
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, t->sock, ZMQ_DONTWAIT) < 0) goto recv_error;
  if (zmq_msg_more(&m)) {
    char who[LI_PK_TEXT_LEN + 1];
    s_user(t, &m, who);
    zmq_msg_close(&m);
    s_drain(t->sock);
    s_drop(t, who, "more than one frame (a linli message is exactly one)");
    return 0;
  }
  size_t len = zmq_msg_size(&m);
  if (len > LI_MSG_BYTES_MAX) { /* up to LI_CURVE_MSG_SLACK over; libzmq cuts the rest */
    char who[LI_PK_TEXT_LEN + 1], why[96];
    s_user(t, &m, who);
    snprintf(why, sizeof why, "%zu bytes, over LI_MSG_BYTES_MAX (%u)", len, (unsigned)LI_MSG_BYTES_MAX);
    zmq_msg_close(&m);
    s_drop(t, who, why);
    return 0;
  }
  uint8_t key[LI_PK_BYTES];
  if (t->hub) s_remember_fd(t, &peer, zmq_msg_get(&m, ZMQ_SRCFD));
  if (t->hub) {
    const char *user = zmq_msg_gets(&m, "User-Id");
    if (!user || li_pk_from_text(user, key, NULL) != LI_OK) {
      zmq_msg_close(&m);
      s_drop(t, NULL, "no authenticated key on the connection");
      return 0;
    }
  } else {
    memcpy(key, t->hub_pk, LI_PK_BYTES);
  }
  uint8_t *data = malloc(len ? len : 1);
  if (!data) {
    zmq_msg_close(&m);
    li_fail(eb, LI_ERR_NOMEM, "out of memory for a %zu-byte message", len);
    return -1;
  }
  memcpy(data, zmq_msg_data(&m), len);
  zmq_msg_close(&m);
  out->peer = peer;
  memcpy(out->peer_key, key, LI_PK_BYTES);
  out->data = data;
  out->len = len;
  t->stats.received++;
  return 1;
recv_error:
  zmq_msg_close(&m);
  if (zmq_errno() == EAGAIN || zmq_errno() == EINTR) return 0;
  li_fail(eb, LI_ERR_IO, "receive failed: %s", zmq_strerror(zmq_errno()));
  return -1;
}

int li_transport_poll(li_transport *t, int timeout_ms, li_transport_msg *out, li_errbuf *eb) {
  assert(t && out && timeout_ms >= 0);
  const int64_t deadline = s_now_ms() + timeout_ms;
  for (;;) {
    s_retry_after_refusal(t);
    if (t->hub && (t->refusal_lines.unlogged || t->drop_lines.unlogged)) s_refusals_close(t, false);
    zmq_pollitem_t items[3] = {
        {.socket = t->sock, .events = ZMQ_POLLIN},
        {.socket = t->mon, .events = ZMQ_POLLIN},
        {.socket = t->zap, .events = ZMQ_POLLIN},
    };
    int64_t wait_ms = deadline - s_now_ms();
    if (wait_ms < 0) wait_ms = 0;
    if (!t->hub && t->reconnect_at_ms && t->reconnect_at_ms - s_now_ms() < wait_ms)
      wait_ms = t->reconnect_at_ms - s_now_ms() > 0 ? t->reconnect_at_ms - s_now_ms() : 0;
    int rc = zmq_poll(items, t->zap ? 3 : 2, (long)wait_ms);
    if (rc < 0) {
      if (zmq_errno() == EINTR) return 0;
      li_fail(eb, LI_ERR_IO, "poll failed: %s", zmq_strerror(zmq_errno()));
      return -1;
    }
    /* Handshakes first, so a busy data socket cannot starve admissions. */
    for (int i = 0; t->zap && (items[2].revents & ZMQ_POLLIN) && i < LI_ZAP_BATCH_MAX; i++)
      if (!s_zap_serve_one(t)) break;
    const bool was_connected = t->connected;
    for (int i = 0; (items[1].revents & ZMQ_POLLIN) && i < LI_MONITOR_BATCH_MAX; i++)
      if (!s_monitor_one(t)) break;
    /* the caller starts its exchange on the link: at once, not at the end
     * of the timeout (issue 14 item 7) */
    if (!t->hub && t->connected != was_connected && !(items[0].revents & ZMQ_POLLIN)) return 0;
    if (items[0].revents & ZMQ_POLLIN) {
      int got = s_recv(t, out, eb);
      if (got != 0) return got;
    }
    if (s_now_ms() >= deadline) return 0;
  }
}

li_err li_transport_send(li_transport *t, const li_peer_id *to, const uint8_t *msg, size_t len,
                         li_errbuf *eb) {
  assert(t && (msg || len == 0));
  assert(t->hub ? (to && to->len > 0 && to->len <= sizeof to->id) : to == NULL);
  if (len > LI_MSG_BYTES_MAX)
    return li_fail(eb, LI_ERR_TOO_BIG, "message of %zu bytes is over LI_MSG_BYTES_MAX (%u)", len,
                   (unsigned)LI_MSG_BYTES_MAX);
  if (t->hub && zmq_send(t->sock, to->id, to->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) goto send_error;
  /* After the routing id is accepted the data frame goes to the same pipe. */
  if (zmq_send(t->sock, msg ? msg : (const uint8_t *)"", len, ZMQ_DONTWAIT) < 0) goto send_error;
  t->stats.sent++;
  return LI_OK;
send_error:
  switch (zmq_errno()) {
    case EAGAIN:
      return li_fail(eb, LI_ERR_TIMEOUT, t->hub ? "peer not keeping up; will retry"
                                                : "hub not connected or not keeping up; will retry");
    case EHOSTUNREACH:
      return li_fail(eb, LI_ERR_NOT_FOUND, "peer is no longer connected");
    default:
      return li_fail(eb, LI_ERR_IO, "send failed: %s", zmq_strerror(zmq_errno()));
  }
}

void li_transport_msg_free(li_transport_msg *m) {
  if (!m) return;
  free(m->data);
  m->data = NULL;
  m->len = 0;
}

bool li_transport_connected(const li_transport *t) {
  assert(t);
  return t->connected;
}

const char *li_transport_endpoint(const li_transport *t) {
  assert(t);
  return t->endpoint;
}

void li_transport_get_stats(const li_transport *t, li_transport_stats *out) {
  assert(t && out);
  *out = t->stats;
}

int li_transport_curve_text(const uint8_t ed_pk[LI_PK_BYTES], char out[LI_CURVE_TEXT_LEN + 1]) {
  uint8_t cv[32];
  if (li_curve_pk_from_ed(ed_pk, cv) != LI_OK) return -1;
  return zmq_z85_encode(out, cv, sizeof cv) ? 0 : -1;
}

/* rawpeer: a tiny hostile client for the integration tests. It speaks as an
 * admitted committee (its real key file, so the hub's ZAP admits it) but
 * sends what no linli node would, and prints what the hub answered.
 *
 *   rawpeer --dir NODEDIR --hub ENDPOINT --hub-key KEY --send garbage|oversized|badhello
 *
 *   garbage    256 random bytes behind a protobuf tag of field 0 (never a
 *              valid Envelope); the hub should answer Refuse.
 *   badhello   a Hello of protocol 99; the hub should answer Refuse (version).
 *   oversized  four messages too big in one way or another:
 *              1. after a valid Hello, a Batch of LI_BATCH_ROWS_MAX + 1
 *                 (empty) commits: refused by the session (over the limit);
 *              2. after a new Hello, an Envelope of exactly LI_MSG_BYTES_MAX
 *                 bytes (the most li_transport_send lets through) carrying one
 *                 commit far over LI_COMMIT_BYTES_MAX: its Ack names the
 *                 rejection;
 *              3. on a raw DEALER with the same CURVE keys (bypassing
 *                 li_transport_send's own check), LI_MSG_BYTES_MAX + 1 bytes:
 *                 libzmq on the hub drops the connection (ZMQ_MAXMSGSIZE), so
 *                 nothing is answered.
 *
 *   hello-loop, garbage-loop, flood [--count N]: load modes (see "load
 *              modes" below): N valid Hellos, N garbage messages, or a Hello
 *              and N Batches of exactly LI_MSG_BYTES_MAX bytes.
 *
 * Every step prints one line "STEP: sent N bytes -> REPLY" where REPLY is
 * "refuse CODE: MESSAGE", "ack applied=A reject=CODE: MESSAGE", "hello" or
 * "none". Exit status: 0 when every message was sent (whatever the answers),
 * 1 when the key, the endpoint or the connection failed, 2 on bad usage.
 * Loopback tests only; it never retries. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "log.h"
#include "sync.pb-c.h"
#include "transport.h"

#define S_CONNECT_MS 10000
#define S_REPLY_MS 5000

static li_identity g_id;
static uint8_t g_hub[LI_PK_BYTES];

static void s_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t s_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Packs an envelope into a malloc'd buffer. */
static uint8_t *s_pack(const Linli__Envelope *env, size_t *len) {
  *len = linli__envelope__get_packed_size(env);
  uint8_t *buf = malloc(*len ? *len : 1);
  if (!buf) {
    fprintf(stderr, "rawpeer: out of memory for %zu bytes\n", *len);
    exit(1);
  }
  linli__envelope__pack(env, buf);
  return buf;
}

static bool s_send(li_transport *t, const uint8_t *msg, size_t len) {
  li_errbuf eb = {{0}};
  li_err e = li_transport_send(t, NULL, msg, len, &eb);
  if (e) fprintf(stderr, "rawpeer: send of %zu bytes: %s\n", len, li_errmsg(&eb, e));
  return e == LI_OK;
}

/* Waits up to ms for an envelope of kind want (for an Ack: of batch id
 * ack_id); others (the hub's batches, heartbeats) are skipped. Prints the
 * reply after "-> " and returns it (caller frees), or NULL after "none". */
static Linli__Envelope *s_expect(li_transport *t, Linli__Envelope__MCase want, uint64_t ack_id, int ms) {
  int64_t end = s_now_ms() + ms;
  while (s_now_ms() < end) {
    li_transport_msg m = {0};
    li_errbuf eb = {{0}};
    int rc = li_transport_poll(t, 50, &m, &eb);
    if (rc < 0) {
      fprintf(stderr, "rawpeer: poll: %s\n", eb.msg);
      break;
    }
    if (rc == 0) continue;
    Linli__Envelope *env = linli__envelope__unpack(NULL, m.len, m.data);
    li_transport_msg_free(&m);
    if (!env) {
      printf("-> undecodable reply\n");
      return NULL;
    }
    bool match = env->m_case == want || env->m_case == LINLI__ENVELOPE__M_REFUSE;
    if (match && env->m_case == LINLI__ENVELOPE__M_ACK && env->ack->id != ack_id) match = false;
    if (!match) {
      linli__envelope__free_unpacked(env, NULL);
      continue;
    }
    switch (env->m_case) {
    case LINLI__ENVELOPE__M_REFUSE:
      printf("-> refuse %s: %s\n", env->refuse->code, env->refuse->message);
      break;
    case LINLI__ENVELOPE__M_ACK:
      printf("-> ack applied=%u reject=%s: %s\n", env->ack->applied, env->ack->reject[0] ? env->ack->reject : "none",
             env->ack->message);
      break;
    case LINLI__ENVELOPE__M_HELLO:
      printf("-> hello (exchange %llu, %zu heads)\n", (unsigned long long)env->hello->exchange, env->hello->n_heads);
      break;
    default:
      printf("-> message of kind %d\n", (int)env->m_case);
      break;
    }
    fflush(stdout);
    return env;
  }
  printf("-> none\n");
  fflush(stdout);
  return NULL;
}

static void s_hello(li_transport *t, uint32_t protocol, uint64_t exchange, const char *step) {
  Linli__Hello h = LINLI__HELLO__INIT;
  h.protocol = protocol;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, g_hub};
  h.node = (ProtobufCBinaryData){LI_PK_BYTES, g_id.pk};
  h.exchange = exchange;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_HELLO;
  env.hello = &h;
  size_t len;
  uint8_t *buf = s_pack(&env, &len);
  printf("%s: sent %zu bytes ", step, len);
  fflush(stdout);
  bool ok = s_send(t, buf, len);
  free(buf);
  if (!ok) exit(1);
}

static void s_free(Linli__Envelope *env) {
  if (env) linli__envelope__free_unpacked(env, NULL);
}

static void s_garbage(li_transport *t) {
  uint8_t buf[256];
  randombytes_buf(buf, sizeof buf);
  buf[0] = 0x07; /* field 0, wire type 7: no protobuf decoder accepts it */
  printf("garbage: sent %zu bytes ", sizeof buf);
  fflush(stdout);
  if (!s_send(t, buf, sizeof buf)) exit(1);
  s_free(s_expect(t, LINLI__ENVELOPE__M_REFUSE, 0, S_REPLY_MS));
}

static void s_badhello(li_transport *t) {
  s_hello(t, 99, 1, "badhello");
  s_free(s_expect(t, LINLI__ENVELOPE__M_HELLO, 0, S_REPLY_MS));
}

/* A Batch of n commits, each of clen bytes (zeros). */
static uint8_t *s_batch(uint64_t exchange, size_t n, size_t clen, size_t *len) {
  ProtobufCBinaryData *cs = calloc(n, sizeof *cs);
  uint8_t *body = calloc(1, clen ? clen : 1);
  if (!cs || !body) {
    fprintf(stderr, "rawpeer: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) cs[i] = (ProtobufCBinaryData){clen, body};
  Linli__Batch b = LINLI__BATCH__INIT;
  b.exchange = exchange;
  b.id = 1;
  b.n_commits = n;
  b.commits = cs;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_BATCH;
  env.batch = &b;
  uint8_t *buf = s_pack(&env, len);
  free(cs);
  free(body);
  return buf;
}

static void s_oversized(li_transport *t, const char *endpoint) {
  size_t len;
  uint8_t *buf;

  /* 1. too many commits for one batch */
  s_hello(t, 1, 1, "hello1");
  s_free(s_expect(t, LINLI__ENVELOPE__M_HELLO, 0, S_REPLY_MS));
  buf = s_batch(1, LI_BATCH_ROWS_MAX + 1, 0, &len);
  printf("batch-rows: sent %zu bytes (%u commits) ", len, LI_BATCH_ROWS_MAX + 1);
  fflush(stdout);
  if (!s_send(t, buf, len)) exit(1);
  free(buf);
  s_free(s_expect(t, LINLI__ENVELOPE__M_ACK, 1, S_REPLY_MS));

  /* 2. exactly LI_MSG_BYTES_MAX bytes: one commit far over LI_COMMIT_BYTES_MAX */
  s_hello(t, 1, 2, "hello2");
  s_free(s_expect(t, LINLI__ENVELOPE__M_HELLO, 0, S_REPLY_MS));
  size_t clen = LI_MSG_BYTES_MAX - 32;
  for (int i = 0; i < 8; i++) {
    buf = s_batch(2, 1, clen, &len);
    if (len == LI_MSG_BYTES_MAX) break;
    free(buf);
    buf = NULL;
    clen = clen + LI_MSG_BYTES_MAX - len;
  }
  if (!buf) {
    fprintf(stderr, "rawpeer: cannot size an envelope to exactly %u bytes\n", (unsigned)LI_MSG_BYTES_MAX);
    exit(1);
  }
  printf("batch-bytes: sent %zu bytes (a commit of %zu) ", len, clen);
  fflush(stdout);
  if (!s_send(t, buf, len)) exit(1);
  free(buf);
  s_free(s_expect(t, LINLI__ENVELOPE__M_ACK, 1, S_REPLY_MS));

  /* 3. over LI_MSG_BYTES_MAX on a raw DEALER with our CURVE keys */
  uint8_t pk[32], sk[32], server[32];
  if (li_curve_keys(&g_id, pk, sk) != LI_OK || li_curve_pk_from_ed(g_hub, server) != LI_OK) {
    fprintf(stderr, "rawpeer: cannot derive CURVE keys\n");
    exit(1);
  }
  void *ctx = zmq_ctx_new();
  void *raw = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
  int zero = 0, timeout = S_REPLY_MS;
  if (!raw || zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
      zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
      zmq_setsockopt(raw, ZMQ_CURVE_PUBLICKEY, pk, 32) != 0 || zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, sk, 32) != 0 ||
      zmq_setsockopt(raw, ZMQ_CURVE_SERVERKEY, server, 32) != 0 || zmq_connect(raw, endpoint) != 0) {
    fprintf(stderr, "rawpeer: raw DEALER: %s\n", zmq_strerror(zmq_errno()));
    exit(1);
  }
  sodium_memzero(sk, sizeof sk);
  len = (size_t)LI_MSG_BYTES_MAX + 1;
  buf = calloc(1, len);
  if (!buf) exit(1);
  buf[0] = 0x07;
  printf("raw-over-max: sent %zu bytes ", len);
  fflush(stdout);
  int rc = zmq_send(raw, buf, len, 0);
  free(buf);
  if (rc < 0) {
    fprintf(stderr, "rawpeer: raw send: %s\n", zmq_strerror(zmq_errno()));
    exit(1);
  }
  char reply[256];
  rc = zmq_recv(raw, reply, sizeof reply, 0);
  if (rc < 0) printf("-> none\n");
  else printf("-> a reply of %d bytes\n", rc);
  fflush(stdout);
  zmq_close(raw);
  zmq_ctx_term(ctx);
}

/* ---- load modes (tests/exhaust.t.sh): hello-loop, garbage-loop, flood ----
 * Added for the resource-exhaustion scenario; of the code above they use
 * only the key, the endpoint and s_now_ms, s_pack, s_batch. Each sends --count
 * messages as fast as the send queue takes them, counts the hub's answers
 * on the way (never waiting for one), waits S_REPLY_MS for the last ones and
 * prints one line:
 *   MODE: sent N of N messages of B bytes in T ms -> R replies (H hello, A ack, J of them rejecting,
 *         F refuse, O other)
 * A send that stays refused (queue full) for S_LOAD_STUCK_MS ends the loop
 * early; N then says how far it got. */
#define S_LOAD_STUCK_MS 20000
#define S_FLOOD_HWM 4 /* messages queued in rawpeer itself: each is ~12 MiB */

static unsigned long g_count = 100;

typedef struct {
  uint64_t replies, hellos, acks, rejected, refusals, other;
} s_tally;

static void s_tally_one(s_tally *ty, const uint8_t *data, size_t len) {
  ty->replies++;
  Linli__Envelope *env = linli__envelope__unpack(NULL, len, data);
  if (!env) {
    ty->other++;
    return;
  }
  switch (env->m_case) {
  case LINLI__ENVELOPE__M_HELLO: ty->hellos++; break;
  case LINLI__ENVELOPE__M_ACK:
    ty->acks++;
    if (env->ack->reject && env->ack->reject[0]) ty->rejected++;
    break;
  case LINLI__ENVELOPE__M_REFUSE: ty->refusals++; break;
  default: ty->other++; break;
  }
  linli__envelope__free_unpacked(env, NULL);
}

/* Counts what arrives on the transport within ms (0: only what is there). */
static void s_load_drain(li_transport *t, int ms, s_tally *ty) {
  int64_t end = s_now_ms() + ms;
  for (;;) {
    int64_t left = end - s_now_ms();
    li_transport_msg m = {0};
    li_errbuf eb = {{0}};
    int rc = li_transport_poll(t, left <= 0 ? 0 : left < 5 ? (int)left : 5, &m, &eb);
    if (rc == 1) {
      s_tally_one(ty, m.data, m.len);
      li_transport_msg_free(&m);
      continue;
    }
    if (rc < 0 || s_now_ms() >= end) return;
  }
}

/* Sends one message, waiting (and counting replies) while the queue is full. */
static bool s_load_send(li_transport *t, const uint8_t *buf, size_t len, s_tally *ty) {
  int64_t give_up = s_now_ms() + S_LOAD_STUCK_MS;
  for (;;) {
    li_errbuf eb = {{0}};
    li_err e = li_transport_send(t, NULL, buf, len, &eb);
    if (e == LI_OK) return true;
    if (e != LI_ERR_TIMEOUT || s_now_ms() >= give_up) {
      fprintf(stderr, "rawpeer: send of %zu bytes: %s\n", len, li_errmsg(&eb, e));
      return false;
    }
    s_load_drain(t, 10, ty);
  }
}

static void s_load_report(const char *mode, unsigned long sent, size_t len, int64_t t0, const s_tally *ty) {
  printf("%s: sent %lu of %lu messages of %zu bytes in %lld ms -> %llu replies (%llu hello, %llu ack, %llu of them "
         "rejecting, %llu refuse, %llu other)\n",
         mode, sent, g_count, len, (long long)(s_now_ms() - t0), (unsigned long long)ty->replies,
         (unsigned long long)ty->hellos, (unsigned long long)ty->acks, (unsigned long long)ty->rejected,
         (unsigned long long)ty->refusals, (unsigned long long)ty->other);
  fflush(stdout);
}

/* A valid Hello (protocol 1, our key, no heads) of the given exchange. */
static uint8_t *s_load_hello(uint64_t exchange, size_t *len) {
  Linli__Hello h = LINLI__HELLO__INIT;
  h.protocol = 1;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, g_hub};
  h.node = (ProtobufCBinaryData){LI_PK_BYTES, g_id.pk};
  h.exchange = exchange;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_HELLO;
  env.hello = &h;
  return s_pack(&env, len);
}

/* hello-loop: --count valid Hellos, each of a new exchange, so the hub
 * answers every one with its own Hello and starts the exchange afresh. */
static void s_hello_loop(li_transport *t) {
  s_tally ty = {0};
  int64_t t0 = s_now_ms();
  unsigned long sent = 0;
  size_t len = 0;
  for (; sent < g_count; sent++) {
    uint8_t *buf = s_load_hello(sent + 1, &len);
    bool ok = s_load_send(t, buf, len, &ty);
    free(buf);
    if (!ok) break;
    s_load_drain(t, 0, &ty);
  }
  s_load_drain(t, S_REPLY_MS, &ty);
  s_load_report("hello-loop", sent, len, t0, &ty);
}

/* garbage-loop: --count messages of 256 random bytes (never an Envelope). */
static void s_garbage_loop(li_transport *t) {
  s_tally ty = {0};
  int64_t t0 = s_now_ms();
  unsigned long sent = 0;
  uint8_t buf[256];
  for (; sent < g_count; sent++) {
    randombytes_buf(buf, sizeof buf);
    buf[0] = 0x07;
    if (!s_load_send(t, buf, sizeof buf, &ty)) break;
    s_load_drain(t, 0, &ty);
  }
  s_load_drain(t, S_REPLY_MS, &ty);
  s_load_report("garbage-loop", sent, sizeof buf, t0, &ty);
}

static void s_flood_free(void *data, void *hint) {
  (void)data;
  (void)hint;
}

/* flood: a Hello, then --count Batches of exactly LI_MSG_BYTES_MAX bytes
 * (one commit far over LI_COMMIT_BYTES_MAX: the hub reads, decodes and
 * rejects each, and acks it). Sent on a raw DEALER with our CURVE keys and a
 * send queue of S_FLOOD_HWM, zero-copy from one buffer, so rawpeer itself
 * holds little; the hub's inbound queue is what is under test. */
static void s_flood(const char *endpoint) {
  uint8_t pk[32], sk[32], server[32];
  if (li_curve_keys(&g_id, pk, sk) != LI_OK || li_curve_pk_from_ed(g_hub, server) != LI_OK) {
    fprintf(stderr, "rawpeer: cannot derive CURVE keys\n");
    exit(1);
  }
  void *ctx = zmq_ctx_new();
  void *raw = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
  int zero = 0, hwm = S_FLOOD_HWM;
  if (!raw || zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
      zmq_setsockopt(raw, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
      zmq_setsockopt(raw, ZMQ_CURVE_PUBLICKEY, pk, 32) != 0 || zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, sk, 32) != 0 ||
      zmq_setsockopt(raw, ZMQ_CURVE_SERVERKEY, server, 32) != 0 || zmq_connect(raw, endpoint) != 0) {
    fprintf(stderr, "rawpeer: raw DEALER: %s\n", zmq_strerror(zmq_errno()));
    exit(1);
  }
  sodium_memzero(sk, sizeof sk);
  s_tally ty = {0};
  int64_t t0 = s_now_ms();
  size_t hlen;
  uint8_t *hello = s_load_hello(1, &hlen);
  int rc = zmq_send(raw, hello, hlen, 0); /* queued until the handshake is done */
  free(hello);
  if (rc < 0) {
    fprintf(stderr, "rawpeer: raw send: %s\n", zmq_strerror(zmq_errno()));
    exit(1);
  }
  /* one envelope of exactly LI_MSG_BYTES_MAX bytes, as in --send oversized */
  uint8_t *buf = NULL;
  size_t len = 0, clen = LI_MSG_BYTES_MAX - 32;
  for (int i = 0; i < 8; i++) {
    buf = s_batch(1, 1, clen, &len);
    if (len == LI_MSG_BYTES_MAX) break;
    free(buf);
    buf = NULL;
    clen = clen + LI_MSG_BYTES_MAX - len;
  }
  if (!buf) {
    fprintf(stderr, "rawpeer: cannot size an envelope to exactly %u bytes\n", (unsigned)LI_MSG_BYTES_MAX);
    exit(1);
  }
  uint8_t reply[4096];
  unsigned long sent = 0;
  int64_t give_up = s_now_ms() + S_LOAD_STUCK_MS;
  while (sent < g_count && s_now_ms() < give_up) {
    zmq_msg_t m;
    zmq_msg_init_data(&m, buf, len, s_flood_free, NULL);
    if (zmq_msg_send(&m, raw, ZMQ_DONTWAIT) >= 0) {
      sent++;
      give_up = s_now_ms() + S_LOAD_STUCK_MS;
    } else {
      zmq_msg_close(&m);
      if (zmq_errno() != EAGAIN) {
        fprintf(stderr, "rawpeer: raw send: %s\n", zmq_strerror(zmq_errno()));
        break;
      }
      zmq_pollitem_t it = {.socket = raw, .events = ZMQ_POLLIN | ZMQ_POLLOUT};
      zmq_poll(&it, 1, 10);
    }
    int n;
    while ((n = zmq_recv(raw, reply, sizeof reply, ZMQ_DONTWAIT)) >= 0)
      s_tally_one(&ty, reply, (size_t)n < sizeof reply ? (size_t)n : sizeof reply);
  }
  /* wait for the answers, and until the last batch has left our queue */
  int timeout = 200;
  zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  int64_t end = s_now_ms() + 4 * S_REPLY_MS;
  while (s_now_ms() < end && ty.acks + ty.refusals < sent) {
    int n = zmq_recv(raw, reply, sizeof reply, 0);
    if (n >= 0) s_tally_one(&ty, reply, (size_t)n < sizeof reply ? (size_t)n : sizeof reply);
  }
  s_load_report("flood", sent, len, t0, &ty);
  zmq_close(raw);
  zmq_ctx_term(ctx);
  free(buf);
}


/* ---- flood modes (tests/flood.t.sh; issue 12) ----
 *   handshake-flood  --count handshakes with fresh random CURVE keys (never
 *                    in the roster), 32 at a time; counts those the hub
 *                    refused (ZAP 400, seen by each socket's monitor);
 *   multiframe-flood --count messages of two frames on a raw DEALER with our
 *                    admitted keys (the hub drains and drops each);
 *   connect-flood    --count connections of our admitted key one after the
 *                    other, each sending one valid Hello and waiting for
 *                    the hub's answer before it closes;
 *   replay-flood     --count Batches, each as many copies of the signed
 *                    commit in --commit FILE (hex, as sqlite3's hex() gives
 *                    it) as fit in LI_MSG_BYTES_MAX, after a Hello; waits
 *                    for every Ack;
 *   probe            one Hello naming one chain: --origin KEY --scope S
 *                    --seq N with a zero hash; prints every ForkReport the
 *                    hub answers with ("fork-report SCOPE#SEQ") and
 *                    "probe: N fork report(s)".
 * Each prints one closing line "MODE: ..." with its counts. */
#define S_HS_BATCH 32
#define S_HS_WAIT_MS 3000

static const char *g_commit_file, *g_probe_origin, *g_probe_scope;
static uint64_t g_probe_seq;

/* A raw DEALER with our CURVE keys connected to endpoint (exits on failure). */
static void *s_raw_dealer(void *ctx, const char *endpoint, const uint8_t *pk, const uint8_t *sk) {
  uint8_t server[32];
  void *raw = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0, hwm = S_FLOOD_HWM;
  if (!raw || li_curve_pk_from_ed(g_hub, server) != LI_OK || zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
      zmq_setsockopt(raw, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
      zmq_setsockopt(raw, ZMQ_CURVE_PUBLICKEY, pk, 32) != 0 || zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, sk, 32) != 0 ||
      zmq_setsockopt(raw, ZMQ_CURVE_SERVERKEY, server, 32) != 0 || zmq_connect(raw, endpoint) != 0) {
    fprintf(stderr, "rawpeer: raw DEALER: %s\n", zmq_strerror(zmq_errno()));
    exit(1);
  }
  return raw;
}

/* A raw DEALER with our own (admitted) keys. */
static void *s_raw_ours(void *ctx, const char *endpoint) {
  uint8_t pk[32], sk[32];
  if (li_curve_keys(&g_id, pk, sk) != LI_OK) {
    fprintf(stderr, "rawpeer: cannot derive CURVE keys\n");
    exit(1);
  }
  void *raw = s_raw_dealer(ctx, endpoint, pk, sk);
  sodium_memzero(sk, sizeof sk);
  return raw;
}

static void s_handshake_flood(const char *endpoint) {
  void *ctx = zmq_ctx_new();
  int64_t t0 = s_now_ms();
  unsigned long tried = 0, refused = 0, other = 0;
  while (tried < g_count) {
    void *socks[S_HS_BATCH], *mons[S_HS_BATCH];
    bool done[S_HS_BATCH] = {false};
    int n = 0;
    for (; n < S_HS_BATCH && tried < g_count; n++, tried++) {
      uint8_t pk[32], sk[32];
      crypto_box_keypair(pk, sk);
      socks[n] = s_raw_dealer(ctx, endpoint, pk, sk);
      char mon[64];
      snprintf(mon, sizeof mon, "inproc://hs-%lu", tried);
      zmq_socket_monitor(socks[n], mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
      mons[n] = zmq_socket(ctx, ZMQ_PAIR);
      zmq_connect(mons[n], mon);
    }
    int left = n;
    int64_t end = s_now_ms() + S_HS_WAIT_MS;
    while (left > 0 && s_now_ms() < end) {
      zmq_pollitem_t it[S_HS_BATCH];
      for (int i = 0; i < n; i++) it[i] = (zmq_pollitem_t){.socket = mons[i], .events = ZMQ_POLLIN};
      zmq_poll(it, n, 50);
      for (int i = 0; i < n; i++) {
        if (done[i] || !(it[i].revents & ZMQ_POLLIN)) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mons[i], ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&m) == 6) {
          uint16_t ev;
          memcpy(&ev, zmq_msg_data(&m), 2);
          if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) refused++;
          else other++;
          done[i] = true;
          left--;
        }
        zmq_msg_close(&m);
        while (zmq_recv(mons[i], NULL, 0, ZMQ_DONTWAIT) >= 0) { /* the address frame */
        }
      }
    }
    for (int i = 0; i < n; i++) {
      zmq_socket_monitor(socks[i], NULL, 0);
      zmq_close(socks[i]);
      zmq_close(mons[i]);
    }
  }
  printf("handshake-flood: %lu handshakes with unknown keys in %lld ms -> %lu refused, %lu other\n", tried,
         (long long)(s_now_ms() - t0), refused, other);
  fflush(stdout);
  zmq_ctx_term(ctx);
}

static void s_multiframe_flood(const char *endpoint) {
  void *ctx = zmq_ctx_new();
  void *raw = s_raw_ours(ctx, endpoint);
  int64_t t0 = s_now_ms();
  unsigned long sent = 0;
  int64_t give_up = s_now_ms() + S_LOAD_STUCK_MS;
  while (sent < g_count && s_now_ms() < give_up) {
    if (zmq_send(raw, "a", 1, ZMQ_SNDMORE) < 0 || zmq_send(raw, "b", 1, 0) < 0) {
      fprintf(stderr, "rawpeer: raw send: %s\n", zmq_strerror(zmq_errno()));
      break;
    }
    sent++;
  }
  /* the messages leave the queue before the socket closes */
  zmq_pollitem_t it = {.socket = raw, .events = ZMQ_POLLOUT};
  zmq_poll(&it, 1, 1000);
  s_sleep_ms(500);
  printf("multiframe-flood: sent %lu messages of two frames in %lld ms\n", sent, (long long)(s_now_ms() - t0));
  fflush(stdout);
  zmq_close(raw);
  zmq_ctx_term(ctx);
}

static void s_connect_flood(const char *endpoint) {
  void *ctx = zmq_ctx_new();
  int64_t t0 = s_now_ms();
  unsigned long answered = 0, i = 0;
  size_t hlen;
  uint8_t *hello = s_load_hello(1, &hlen);
  for (; i < g_count; i++) {
    void *raw = s_raw_ours(ctx, endpoint);
    int timeout = S_REPLY_MS;
    zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    uint8_t reply[4096];
    if (zmq_send(raw, hello, hlen, 0) >= 0 && zmq_recv(raw, reply, sizeof reply, 0) >= 0) answered++;
    zmq_close(raw);
  }
  free(hello);
  printf("connect-flood: %lu connections of our key in %lld ms -> %lu answered\n", i, (long long)(s_now_ms() - t0),
         answered);
  fflush(stdout);
  zmq_ctx_term(ctx);
}

/* The signed commit in g_commit_file (hex); malloc'd. */
static uint8_t *s_read_commit(size_t *len) {
  FILE *f = g_commit_file ? fopen(g_commit_file, "r") : NULL;
  char *hex = f ? calloc(1, 2 * LI_SIGNED_COMMIT_BYTES_MAX + 2) : NULL;
  size_t n = hex ? fread(hex, 1, 2 * LI_SIGNED_COMMIT_BYTES_MAX + 1, f) : 0;
  if (f) fclose(f);
  while (n && (hex[n - 1] == '\n' || hex[n - 1] == '\r')) n--;
  uint8_t *bin = n ? malloc(n / 2 + 1) : NULL;
  if (!bin || sodium_hex2bin(bin, n / 2 + 1, hex, n, NULL, len, NULL) != 0 || *len == 0) {
    fprintf(stderr, "rawpeer: --commit: no commit in hex in %s\n", g_commit_file ? g_commit_file : "(none)");
    exit(1);
  }
  free(hex);
  return bin;
}

static void s_replay_flood(const char *endpoint) {
  size_t clen;
  uint8_t *commit = s_read_commit(&clen);
  size_t copies = (LI_MSG_BYTES_MAX - 64) / (clen + 4);
  if (copies > LI_BATCH_ROWS_MAX) copies = LI_BATCH_ROWS_MAX;
  ProtobufCBinaryData *cs = calloc(copies, sizeof *cs);
  if (!cs) exit(1);
  for (size_t i = 0; i < copies; i++) cs[i] = (ProtobufCBinaryData){clen, commit};
  void *ctx = zmq_ctx_new();
  void *raw = s_raw_ours(ctx, endpoint);
  s_tally ty = {0};
  int64_t t0 = s_now_ms();
  size_t hlen;
  uint8_t *hello = s_load_hello(1, &hlen);
  zmq_send(raw, hello, hlen, 0);
  free(hello);
  uint8_t reply[4096];
  unsigned long sent = 0;
  size_t len = 0;
  for (; sent < g_count; sent++) {
    Linli__Batch b = LINLI__BATCH__INIT;
    b.exchange = 1;
    b.id = sent + 1;
    b.n_commits = copies;
    b.commits = cs;
    Linli__Envelope env = LINLI__ENVELOPE__INIT;
    env.m_case = LINLI__ENVELOPE__M_BATCH;
    env.batch = &b;
    uint8_t *buf = s_pack(&env, &len);
    int rc = zmq_send(raw, buf, len, 0);
    free(buf);
    if (rc < 0) break;
  }
  int timeout = 200;
  zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  int64_t end = s_now_ms() + 12 * S_REPLY_MS;
  while (s_now_ms() < end && ty.acks + ty.refusals < sent) {
    int n = zmq_recv(raw, reply, sizeof reply, 0);
    if (n >= 0) s_tally_one(&ty, reply, (size_t)n < sizeof reply ? (size_t)n : sizeof reply);
  }
  printf("replay-flood: sent %lu batches of %zu copies (%zu bytes each) in %lld ms -> %llu ack, %llu refuse\n", sent,
         copies, len, (long long)(s_now_ms() - t0), (unsigned long long)ty.acks, (unsigned long long)ty.refusals);
  fflush(stdout);
  zmq_close(raw);
  zmq_ctx_term(ctx);
  free(cs);
  free(commit);
}

static void s_probe(const char *endpoint) {
  uint8_t origin[LI_PK_BYTES], zero[LI_HASH_BYTES] = {0};
  if (!g_probe_origin || !g_probe_scope || li_pk_from_text(g_probe_origin, origin, NULL) != LI_OK) {
    fprintf(stderr, "rawpeer: probe needs --origin KEY --scope S --seq N\n");
    exit(2);
  }
  Linli__Head head = LINLI__HEAD__INIT, *heads[1] = {&head};
  head.origin = (ProtobufCBinaryData){LI_PK_BYTES, origin};
  head.scope = (char *)g_probe_scope;
  head.seq = g_probe_seq;
  head.hash = (ProtobufCBinaryData){LI_HASH_BYTES, zero};
  Linli__Hello h = LINLI__HELLO__INIT;
  h.protocol = 1;
  h.network = (ProtobufCBinaryData){LI_PK_BYTES, g_hub};
  h.node = (ProtobufCBinaryData){LI_PK_BYTES, g_id.pk};
  h.exchange = 1;
  h.n_heads = 1;
  h.heads = heads;
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  env.m_case = LINLI__ENVELOPE__M_HELLO;
  env.hello = &h;
  size_t len;
  uint8_t *buf = s_pack(&env, &len);
  void *ctx = zmq_ctx_new();
  void *raw = s_raw_ours(ctx, endpoint);
  zmq_send(raw, buf, len, 0);
  free(buf);
  int timeout = 200, forks = 0;
  zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  int64_t end = s_now_ms() + 2000; /* the hub's answers to one Hello come at once */
  uint8_t *reply = malloc(LI_MSG_BYTES_MAX);
  while (reply && s_now_ms() < end) {
    int n = zmq_recv(raw, reply, LI_MSG_BYTES_MAX, 0);
    if (n < 0) continue;
    Linli__Envelope *e = linli__envelope__unpack(NULL, (size_t)n, reply);
    if (e && e->m_case == LINLI__ENVELOPE__M_FORK && e->fork->theirs) {
      printf("fork-report %s#%llu\n", e->fork->theirs->scope, (unsigned long long)e->fork->theirs->seq);
      forks++;
    }
    if (e) linli__envelope__free_unpacked(e, NULL);
  }
  printf("probe: %d fork report(s)\n", forks);
  fflush(stdout);
  free(reply);
  zmq_close(raw);
  zmq_ctx_term(ctx);
}

static int s_usage(void) {
  fprintf(stderr, "usage: rawpeer --dir NODEDIR --hub ENDPOINT --hub-key KEY --send garbage|oversized|badhello\n"
                  "       rawpeer --dir NODEDIR --hub ENDPOINT --hub-key KEY --send hello-loop|garbage-loop|flood"
                  " [--count N]\n"
                  "       rawpeer ... --send handshake-flood|multiframe-flood|connect-flood [--count N]\n"
                  "       rawpeer ... --send replay-flood --commit HEXFILE [--count N]\n"
                  "       rawpeer ... --send probe --origin KEY --scope S --seq N\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *hub = NULL, *hub_key = NULL, *what = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    else if (strcmp(argv[i], "--hub") == 0) hub = argv[i + 1];
    else if (strcmp(argv[i], "--hub-key") == 0) hub_key = argv[i + 1];
    else if (strcmp(argv[i], "--send") == 0) what = argv[i + 1];
    else if (strcmp(argv[i], "--count") == 0) g_count = strtoul(argv[i + 1], NULL, 10); /* load modes */
    else if (strcmp(argv[i], "--commit") == 0) g_commit_file = argv[i + 1];            /* replay-flood */
    else if (strcmp(argv[i], "--origin") == 0) g_probe_origin = argv[i + 1];           /* probe */
    else if (strcmp(argv[i], "--scope") == 0) g_probe_scope = argv[i + 1];
    else if (strcmp(argv[i], "--seq") == 0) g_probe_seq = strtoull(argv[i + 1], NULL, 10);
    else return s_usage();
  }
  if (!dir || !hub || !hub_key || !what || argc % 2 == 0) return s_usage();
  static const struct {
    const char *name;
    void (*run)(const char *endpoint);
  } raw_modes[] = {{"flood", s_flood},
                   {"handshake-flood", s_handshake_flood},
                   {"multiframe-flood", s_multiframe_flood},
                   {"connect-flood", s_connect_flood},
                   {"replay-flood", s_replay_flood},
                   {"probe", s_probe}};
  void (*raw_run)(const char *) = NULL;
  for (size_t i = 0; i < sizeof raw_modes / sizeof raw_modes[0]; i++)
    if (strcmp(what, raw_modes[i].name) == 0) raw_run = raw_modes[i].run;
  bool load = strcmp(what, "hello-loop") == 0 || strcmp(what, "garbage-loop") == 0 || raw_run;
  if (strcmp(what, "garbage") != 0 && strcmp(what, "oversized") != 0 && strcmp(what, "badhello") != 0 && !load)
    return s_usage();
  if (load && g_count == 0) return s_usage();
  li_log_init(LI_LOG_WARN, false);
  li_errbuf eb = {{0}};
  li_err e = li_crypto_init(&eb);
  char path[4096];
  snprintf(path, sizeof path, "%s/node.key", dir);
  if (!e) e = li_identity_load(&g_id, path, &eb);
  if (!e) e = li_pk_from_text(hub_key, g_hub, &eb);
  if (e) {
    fprintf(stderr, "rawpeer: %s\n", li_errmsg(&eb, e));
    return 1;
  }
  if (raw_run) { /* its own raw sockets */
    raw_run(hub);
    li_identity_wipe(&g_id);
    return 0;
  }
  li_transport *t = NULL;
  if (li_transport_committee_new(&g_id, hub, g_hub, &t, &eb) != LI_OK) {
    fprintf(stderr, "rawpeer: %s\n", eb.msg);
    li_identity_wipe(&g_id);
    return 1;
  }
  int64_t end = s_now_ms() + S_CONNECT_MS;
  while (!li_transport_connected(t) && s_now_ms() < end) {
    li_transport_msg m = {0};
    if (li_transport_poll(t, 50, &m, &eb) == 1) li_transport_msg_free(&m);
  }
  if (!li_transport_connected(t)) {
    fprintf(stderr, "rawpeer: not connected to %s within %d s\n", hub, S_CONNECT_MS / 1000);
    li_transport_destroy(&t);
    li_identity_wipe(&g_id);
    return 1;
  }
  printf("connected to %s\n", hub);
  if (strcmp(what, "garbage") == 0) s_garbage(t);
  else if (strcmp(what, "badhello") == 0) s_badhello(t);
  else if (strcmp(what, "hello-loop") == 0) s_hello_loop(t);
  else if (strcmp(what, "garbage-loop") == 0) s_garbage_loop(t);
  else s_oversized(t, hub);
  li_transport_destroy(&t);
  li_identity_wipe(&g_id);
  return 0;
}

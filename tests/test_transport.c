/* Tests for transport: a hub and committees over loopback TCP with CURVE.
 * An admitted committee round-trips with its Ed25519 key authenticated; a
 * committee outside the roster is refused and never heard; oversized and
 * multi-part messages never reach the hub, which keeps serving afterwards;
 * sends to vanished peers say so. Everything runs on this one thread: the
 * hub's ZAP handler only runs inside li_transport_poll, so the helpers
 * below poll every transport in turn. */
#include "testutil.h"

#include <sodium.h>
#include <time.h>
#include <zmq.h>

#include "li_limits.h"
#include "log.h"
#include "transport.h"

#define S_MAX 4

typedef struct {
  li_identity hub_id, a_id, b_id;
  uint8_t roster_keys[2][LI_PK_BYTES];
  li_transport_roster roster;
  li_transport *hub;
  li_transport *ts[S_MAX]; /* committees polled alongside the hub */
  int strays;              /* messages delivered where none were expected */
} s_fix;

static int64_t s_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls the hub and every committee until `want` delivers a message (1, in
 * *out) or ms pass (0). Messages anywhere else count as strays. */
static int s_pump(s_fix *f, li_transport *want, int ms, li_transport_msg *out) {
  int64_t end = s_now_ms() + ms;
  do {
    li_transport *all[S_MAX + 1] = {f->hub};
    memcpy(all + 1, f->ts, sizeof f->ts);
    for (int i = 0; i <= S_MAX; i++) {
      if (!all[i]) continue;
      li_transport_msg m = {0};
      li_errbuf eb;
      int r = li_transport_poll(all[i], 5, &m, &eb);
      assert_true(r >= 0);
      if (r == 1 && all[i] == want) {
        *out = m;
        return 1;
      }
      if (r == 1) {
        f->strays++;
        li_transport_msg_free(&m);
      }
    }
  } while (s_now_ms() < end);
  return 0;
}

/* Pumps until t has finished its handshake with the hub. */
static void s_wait_connected(s_fix *f, li_transport *t) {
  int64_t end = s_now_ms() + 3000;
  li_transport_msg m;
  while (!li_transport_connected(t) && s_now_ms() < end) assert_int_equal(s_pump(f, NULL, 10, &m), 0);
  assert_true(li_transport_connected(t));
}

static li_transport *s_committee(s_fix *f, const li_identity *id, int slot) {
  li_errbuf eb;
  li_transport *t = NULL;
  assert_int_equal(li_transport_committee_new(id, li_transport_endpoint(f->hub), f->hub_id.pk, &t, &eb), LI_OK);
  assert_non_null(t);
  assert_null(f->ts[slot]);
  f->ts[slot] = t;
  return t;
}

static void s_drop_committee(s_fix *f, int slot) {
  li_transport_destroy(&f->ts[slot]);
  assert_null(f->ts[slot]);
  li_transport_destroy(&f->ts[slot]); /* safe twice */
}

static int s_setup(void **state) {
  if (li_crypto_init(NULL) != LI_OK) return -1;
  li_log_init(LI_LOG_WARN, false);
  s_fix *f = calloc(1, sizeof *f);
  if (!f) return -1;
  li_identity_generate(&f->hub_id);
  li_identity_generate(&f->a_id);
  li_identity_generate(&f->b_id);
  memcpy(f->roster_keys[0], f->a_id.pk, LI_PK_BYTES);
  memcpy(f->roster_keys[1], f->b_id.pk, LI_PK_BYTES); /* admitted only when n = 2 */
  f->roster = (li_transport_roster){.keys = (const uint8_t(*)[LI_PK_BYTES])f->roster_keys, .n = 1};
  li_errbuf eb;
  if (li_transport_hub_new(&f->hub_id, "tcp://127.0.0.1:*", li_transport_admit_roster, &f->roster, &f->hub, &eb) !=
      LI_OK) {
    fprintf(stderr, "hub: %s\n", eb.msg);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int s_teardown(void **state) {
  s_fix *f = *state;
  for (int i = 0; i < S_MAX; i++) li_transport_destroy(&f->ts[i]);
  li_transport_destroy(&f->hub);
  free(f);
  return 0;
}

/* Sends text from a committee and returns what the hub got. */
static li_transport_msg s_up(s_fix *f, li_transport *c, const char *text) {
  li_errbuf eb;
  assert_int_equal(li_transport_send(c, NULL, (const uint8_t *)text, strlen(text), &eb), LI_OK);
  li_transport_msg m = {0};
  assert_int_equal(s_pump(f, f->hub, 3000, &m), 1);
  assert_int_equal(m.len, strlen(text));
  assert_memory_equal(m.data, text, m.len);
  return m;
}

static void test_endpoint_is_bound_port(void **state) {
  s_fix *f = *state;
  const char *ep = li_transport_endpoint(f->hub);
  assert_int_equal(strncmp(ep, "tcp://127.0.0.1:", 16), 0);
  assert_true(atoi(ep + 16) > 0);
  assert_true(li_transport_connected(f->hub));

  /* A second hub on the same port fails with a sentence, not a crash. */
  li_errbuf eb;
  li_transport *again = NULL;
  assert_int_equal(li_transport_hub_new(&f->hub_id, ep, li_transport_admit_roster, &f->roster, &again, &eb), LI_ERR_IO);
  assert_null(again);
  assert_non_null(strstr(eb.msg, "cannot listen on"));
}

static void test_admitted_round_trip(void **state) {
  s_fix *f = *state;
  li_transport *a = s_committee(f, &f->a_id, 0);
  s_wait_connected(f, a);

  li_transport_msg m = s_up(f, a, "hello hub");
  assert_memory_equal(m.peer_key, f->a_id.pk, LI_PK_BYTES);
  assert_true(m.peer.len > 0);

  li_errbuf eb;
  const char reply[] = "hello committee";
  assert_int_equal(li_transport_send(f->hub, &m.peer, (const uint8_t *)reply, sizeof reply, &eb), LI_OK);
  li_transport_msg r = {0};
  assert_int_equal(s_pump(f, a, 3000, &r), 1);
  assert_int_equal(r.len, sizeof reply);
  assert_memory_equal(r.data, reply, sizeof reply);
  assert_memory_equal(r.peer_key, f->hub_id.pk, LI_PK_BYTES);
  assert_int_equal(r.peer.len, 0);

  /* An empty message is a message too. */
  assert_int_equal(li_transport_send(a, NULL, NULL, 0, &eb), LI_OK);
  li_transport_msg e = {0};
  assert_int_equal(s_pump(f, f->hub, 3000, &e), 1);
  assert_int_equal(e.len, 0);
  assert_memory_equal(e.peer.id, m.peer.id, m.peer.len);

  li_transport_stats st;
  li_transport_get_stats(f->hub, &st);
  assert_true(st.admitted >= 1);
  assert_int_equal(st.refused, 0);
  assert_int_equal(st.received, 2);
  assert_int_equal(st.sent, 1);
  assert_int_equal(f->strays, 0);

  /* The peer goes away: sends to it say so instead of vanishing. */
  s_drop_committee(f, 0);
  li_err err = LI_OK;
  int64_t end = s_now_ms() + 3000;
  while ((err = li_transport_send(f->hub, &m.peer, (const uint8_t *)"x", 1, &eb)) == LI_OK &&
         s_now_ms() < end)
    s_pump(f, NULL, 20, &r);
  assert_int_equal(err, LI_ERR_NOT_FOUND);
  li_peer_id bogus = {.id = {0, 1, 2, 3, 4}, .len = 5};
  assert_int_equal(li_transport_send(f->hub, &bogus, (const uint8_t *)"x", 1, &eb), LI_ERR_NOT_FOUND);
  li_transport_msg_free(&m);
  li_transport_msg_free(&r);
  li_transport_msg_free(&e);
  li_transport_msg_free(&e); /* safe twice */
}

static void test_refused_key_is_never_heard(void **state) {
  s_fix *f = *state;
  li_transport_stats before, st;
  li_transport_get_stats(f->hub, &before);
  li_transport *b = s_committee(f, &f->b_id, 1);
  li_errbuf eb;
  /* ZMQ_IMMEDIATE: nothing is queued for a hub we are not connected to. */
  assert_int_equal(li_transport_send(b, NULL, (const uint8_t *)"let me in", 9, &eb), LI_ERR_TIMEOUT);
  li_transport_msg m = {0};
  int64_t end = s_now_ms() + 1500;
  while (s_now_ms() < end) {
    li_transport_send(b, NULL, (const uint8_t *)"let me in", 9, &eb);
    assert_int_equal(s_pump(f, f->hub, 50, &m), 0);
  }
  assert_false(li_transport_connected(b));
  li_transport_get_stats(f->hub, &st);
  assert_true(st.refused > before.refused);
  assert_int_equal(st.received, before.received);
  li_transport_get_stats(b, &st);
  assert_true(st.auth_failures >= 1);
  assert_int_equal(st.sent, 0);
  assert_int_equal(f->strays, 0);

  /* B joins the roster: the refused committee retries by itself (libzmq
   * alone never would) and gets in without a restart. */
  f->roster.n = 2;
  end = s_now_ms() + LI_TRANSPORT_RECONNECT_MAX_MS + 2000;
  while (!li_transport_connected(b) && s_now_ms() < end) assert_int_equal(s_pump(f, f->hub, 20, &m), 0);
  assert_true(li_transport_connected(b));
  m = s_up(f, b, "thanks");
  assert_memory_equal(m.peer_key, f->b_id.pk, LI_PK_BYTES);
  li_transport_msg_free(&m);
  f->roster.n = 1;
  s_drop_committee(f, 1);
}

/* A DEALER holding A's keys, built by hand so it can send what the
 * transport itself refuses to. */
static void *s_raw_dealer(void *ctx, s_fix *f) {
  void *s = zmq_socket(ctx, ZMQ_DEALER);
  assert_non_null(s);
  uint8_t pk[32], sk[32], server[32];
  assert_int_equal(li_curve_keys(&f->a_id, pk, sk), LI_OK);
  assert_int_equal(li_curve_pk_from_ed(f->hub_id.pk, server), LI_OK);
  int zero = 0;
  assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
  assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32), 0);
  assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32), 0);
  assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 32), 0);
  assert_int_equal(zmq_connect(s, li_transport_endpoint(f->hub)), 0);
  return s;
}

static void test_oversized_and_multipart_never_reach_hub(void **state) {
  s_fix *f = *state;
  li_errbuf eb;
  size_t big_len = (size_t)LI_MSG_BYTES_MAX + 1;
  uint8_t *big = calloc(1, big_len);
  assert_non_null(big);

  /* The transport refuses to send it at all. */
  li_transport *a = s_committee(f, &f->a_id, 0);
  s_wait_connected(f, a);
  assert_int_equal(li_transport_send(a, NULL, big, big_len, &eb), LI_ERR_TOO_BIG);
  s_drop_committee(f, 0);

  li_transport_stats before, st;
  li_transport_get_stats(f->hub, &before);
  void *ctx = zmq_ctx_new();
  void *raw = s_raw_dealer(ctx, f);
  /* Two frames: drained and counted, never delivered; then a good one is. */
  assert_int_equal(zmq_send(raw, "garbage", 7, ZMQ_SNDMORE), 7);
  assert_int_equal(zmq_send(raw, "more", 4, 0), 4);
  assert_int_equal(zmq_send(raw, "good", 4, 0), 4);
  li_transport_msg m = {0};
  assert_int_equal(s_pump(f, f->hub, 3000, &m), 1);
  assert_int_equal(m.len, 4);
  assert_memory_equal(m.data, "good", 4);
  assert_memory_equal(m.peer_key, f->a_id.pk, LI_PK_BYTES);
  li_transport_msg_free(&m);
  li_transport_get_stats(f->hub, &st);
  assert_int_equal(st.dropped, before.dropped + 1);

  /* Exactly LI_MSG_BYTES_MAX arrives: CURVE's framing (33 bytes on the
   * wire) is not counted against it. */
  assert_int_equal(zmq_send(raw, big, big_len - 1, 0), (int)big_len - 1);
  assert_int_equal(s_pump(f, f->hub, 3000, &m), 1);
  assert_int_equal(m.len, LI_MSG_BYTES_MAX);
  li_transport_msg_free(&m);

  /* One byte over: dropped (and counted), never delivered. */
  assert_int_equal(zmq_send(raw, big, big_len, 0), (int)big_len);
  assert_int_equal(s_pump(f, f->hub, 1000, &m), 0);
  li_transport_get_stats(f->hub, &st);
  assert_int_equal(st.received, before.received + 2);
  assert_int_equal(st.dropped, before.dropped + 2);

  /* Far over ZMQ_MAXMSGSIZE: libzmq drops the connection; nothing arrives. */
  uint64_t disconnects = st.disconnects;
  uint8_t *huge = calloc(1, big_len + 4096);
  assert_non_null(huge);
  assert_int_equal(zmq_send(raw, huge, big_len + 4096, 0), (int)big_len + 4096);
  free(huge);
  free(big);
  assert_int_equal(s_pump(f, f->hub, 1000, &m), 0);
  li_transport_get_stats(f->hub, &st);
  assert_int_equal(st.received, before.received + 2);
  assert_true(st.disconnects > disconnects);
  zmq_close(raw);
  zmq_ctx_term(ctx);

  /* The hub still serves A on a new connection. */
  a = s_committee(f, &f->a_id, 0);
  s_wait_connected(f, a);
  m = s_up(f, a, "still here");
  assert_memory_equal(m.peer_key, f->a_id.pk, LI_PK_BYTES);
  assert_int_equal(li_transport_send(f->hub, &m.peer, (const uint8_t *)"yes", 3, &eb), LI_OK);
  li_transport_msg r = {0};
  assert_int_equal(s_pump(f, a, 3000, &r), 1);
  assert_memory_equal(r.data, "yes", 3);
  li_transport_msg_free(&m);
  li_transport_msg_free(&r);
  assert_int_equal(f->strays, 0);
  s_drop_committee(f, 0);
}

static void test_wrong_hub_key_fails_handshake(void **state) {
  s_fix *f = *state;
  li_errbuf eb;
  /* A pins B's key as the hub's: the hub cannot prove it, nothing connects. */
  li_transport *a = NULL;
  assert_int_equal(li_transport_committee_new(&f->a_id, li_transport_endpoint(f->hub), f->b_id.pk, &a, &eb), LI_OK);
  assert_non_null(a);
  f->ts[2] = a;
  li_transport_msg m;
  assert_int_equal(s_pump(f, a, 800, &m), 0);
  assert_false(li_transport_connected(a));
  assert_int_equal(li_transport_send(a, NULL, (const uint8_t *)"x", 1, &eb), LI_ERR_TIMEOUT);
  s_drop_committee(f, 2);

  li_transport *bad = NULL;
  assert_int_equal(li_transport_committee_new(&f->a_id, "nonsense://x", f->hub_id.pk, &bad, &eb), LI_ERR_CONFIG);
  assert_null(bad);
  assert_non_null(strstr(eb.msg, "cannot connect"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_endpoint_is_bound_port),
      cmocka_unit_test(test_admitted_round_trip),
      cmocka_unit_test(test_refused_key_is_never_heard),
      cmocka_unit_test(test_oversized_and_multipart_never_reach_hub),
      cmocka_unit_test(test_wrong_hub_key_fails_handshake),
  };
  return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

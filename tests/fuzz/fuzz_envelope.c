/* fuzz_envelope: one arbitrary message into a responder session (the hub's
 * side) over an in-memory store holding a few chains: first into an idle
 * session, then into one that a valid Hello has put into SYNCING with
 * batches in flight (so Batch, Ack and ForkReport meet live state).
 * Whatever the bytes, li_session_recv must answer with an error code (and a
 * Refuse), never crash or leak; the session asserts its invariants. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_one(const uint8_t *data, size_t size, bool syncing) {
  fz_store *st = fz_store_new();
  li_session_cfg cfg;
  fz_session_cfg(&cfg, false);
  li_session *s = li_session_new(&cfg, &fz_store_vt, st);
  if (!s) abort();
  li_errbuf eb;
  if (syncing) {
    size_t len;
    uint8_t *hello = fz_hello(FZ_PEER_BYTE, NULL, 0, 1, &len);
    if (!hello || li_session_recv(s, hello, len, FZ_WALL_MS, &eb) != LI_OK) abort();
    free(hello);
    fz_drain(s);
  }
  li_session_recv(s, data, size, FZ_WALL_MS + 10, &eb);
  fz_drain(s);
  li_session_tick(s, FZ_WALL_MS + 100);
  fz_drain(s);
  li_session_destroy(&s);
  fz_store_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_init();
  s_one(data, size, false);
  s_one(data, size, true);
  return 0;
}

/* fuzz_session: the session state machine fed arbitrary message sequences.
 *
 * Input: one flags byte (bit 0: we are the initiator, i.e. the committee,
 * else the hub; bit 1: announce local changes after every message), then
 * chunks of [time step in 100 ms units: 1 byte][length: 2 bytes BE][message].
 * Time only moves forward; li_session_tick runs before every message, so
 * heartbeats, stalls, retries and peer timeouts interleave with input, and
 * the adapter's part (draining messages and events) runs after every call.
 * The session asserts its own invariants (s_check) after every step. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_CHUNKS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  fz_init();
  const uint8_t flags = data[0];
  fz_store *st = fz_store_new();
  li_session_cfg cfg;
  fz_session_cfg(&cfg, flags & 1);
  li_session *s = li_session_new(&cfg, &fz_store_vt, st);
  if (!s) abort();
  uint64_t now = FZ_WALL_MS;
  if (flags & 1) li_session_start(s, now, NULL);
  fz_drain(s);
  size_t p = 1;
  for (int n = 0; n < S_CHUNKS_MAX && p + 3 <= size; n++) {
    now += (uint64_t)data[p] * 100;
    size_t len = (size_t)data[p + 1] << 8 | data[p + 2];
    p += 3;
    if (len > size - p) len = size - p;
    li_session_tick(s, now);
    fz_drain(s);
    li_errbuf eb;
    li_session_recv(s, data + p, len, now, &eb);
    fz_drain(s);
    if (flags & 2) li_session_local_changed(s, now);
    fz_drain(s);
    p += len;
  }
  li_session_tick(s, now + 60000);
  fz_drain(s);
  li_session_destroy(&s);
  fz_store_free(&st);
  return 0;
}

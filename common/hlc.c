/* hlc: hybrid logical clock (hlc.h).
 *
 * A timestamp is ms << 16 | ctr. Because the counter occupies the low bits,
 * "the next timestamp in the same millisecond" is simply last + 1, and a
 * counter at 0xffff rolls into the next millisecond with counter 0, which
 * keeps every issued value strictly increasing. The only failure is running
 * past the 48-bit millisecond range (year 10889), reported as LI_ERR_LIMIT
 * rather than wrapping to a smaller value. */
#include "hlc.h"

#include <assert.h>
#include <stdio.h>
#include <time.h>

void li_hlc_init(li_hlc *c, uint64_t last) {
  assert(c != NULL);
  c->last = last;
}

li_err li_hlc_now(li_hlc *c, uint64_t wall_ms, uint64_t *out) {
  assert(c != NULL && out != NULL);
  uint64_t next;
  if (wall_ms > LI_HLC_MS(c->last)) {
    if (wall_ms > LI_HLC_MS_MAX)
      return LI_ERR_LIMIT;
    next = LI_HLC_MAKE(wall_ms, 0);
  } else {
    if (c->last == UINT64_MAX) /* ms would pass LI_HLC_MS_MAX */
      return LI_ERR_LIMIT;
    next = c->last + 1;
  }
  assert(next > c->last);
  c->last = next;
  *out = next;
  return LI_OK;
}

void li_hlc_recv(li_hlc *c, uint64_t remote) {
  assert(c != NULL);
  if (remote > c->last)
    c->last = remote;
}

bool li_hlc_too_far_ahead(uint64_t remote, uint64_t wall_ms, uint64_t max_skew_ms) {
  uint64_t ms = LI_HLC_MS(remote);
  return ms > wall_ms && ms - wall_ms > max_skew_ms;
}

void li_hlc_format(uint64_t h, char *buf, size_t len) {
  assert(buf != NULL && len > 0);
  uint64_t ms = LI_HLC_MS(h);
  uint16_t ctr = LI_HLC_CTR(h);
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  if (gmtime_r(&secs, &tm) == NULL) {
    snprintf(buf, len, "?");
    return;
  }
  int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (unsigned)(ms % 1000));
  if (ctr != 0 && n > 0 && (size_t)n < len)
    snprintf(buf + n, len - (size_t)n, "+%u", (unsigned)ctr);
}

uint64_t li_wall_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

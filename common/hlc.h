/* hlc: hybrid logical clock, 48-bit milliseconds << 16 | 16-bit counter.
 *
 * Invariants: li_hlc_now() returns strictly increasing values for one
 * li_hlc; after li_hlc_recv(r) every later li_hlc_now() is > r.
 * The clock never reads the system time itself: the caller passes the wall
 * clock in (sans-IO; the simulator passes virtual time). */
#ifndef LI_HLC_H
#define LI_HLC_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"

#define LI_HLC_MS(h) ((uint64_t)(h) >> 16)
#define LI_HLC_CTR(h) ((uint16_t)((h) & 0xffff))
#define LI_HLC_MAKE(ms, ctr) ((((uint64_t)(ms)) << 16) | (uint16_t)(ctr))
#define LI_HLC_MS_MAX ((UINT64_C(1) << 48) - 1)

typedef struct {
  uint64_t last; /* the greatest HLC issued or received */
} li_hlc;

void li_hlc_init(li_hlc *c, uint64_t last);

/* A new timestamp for a local event at wall-clock wall_ms.
 * Fails with LI_ERR_LIMIT only if the counter would overflow within one
 * millisecond more than 65535 times past the wall clock (never in practice). */
li_err li_hlc_now(li_hlc *c, uint64_t wall_ms, uint64_t *out);

/* Receive rule: fold a remote timestamp in. The caller must have applied the
 * skew guard first (li_hlc_too_far_ahead). */
void li_hlc_recv(li_hlc *c, uint64_t remote);

/* Skew guard: true if remote's physical part is more than max_skew_ms ahead
 * of wall_ms. */
bool li_hlc_too_far_ahead(uint64_t remote, uint64_t wall_ms, uint64_t max_skew_ms);

/* "2025-03-01T08:30:00.123Z+5" (counter after '+', omitted when 0). buf >= 40. */
void li_hlc_format(uint64_t h, char *buf, size_t len);

/* Wall clock in ms since the Unix epoch (the production adapter). */
uint64_t li_wall_ms(void);

#endif

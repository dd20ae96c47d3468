/* store: the replica behind a sync session (li_store_vt of session.h). */
#ifndef LI_STORE_H
#define LI_STORE_H

#include "replica.h"
#include "session.h"

typedef struct {
  li_replica *r;
  uint64_t max_skew_ms;
  /* counted by apply, for the daemon's fan-out and logs */
  uint64_t applied_total;
  /* local commits apply sealed first (rows written since the last seal):
   * every peer must hear of them, the sender of the batch too */
  uint64_t sealed_total;
} li_store;

extern const li_store_vt li_store_replica_vt;

#endif

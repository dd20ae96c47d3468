/* store: the replica behind a sync session (li_store_vt of session.h). */
#ifndef LI_STORE_H
#define LI_STORE_H

#include <stdbool.h>
#include "replica.h"
#include "session.h"

typedef struct {
  li_replica *r;
  uint64_t max_skew_ms;
  uint64_t wall_ms; /* the node's wall clock: the owner sets it before feeding a session */
  /* This node has not yet taken back its own chains (a restored backup or a
   * copied node folder): merge must not seal (li_merge_opts.seal_first off,
   * merge.h) until the owner clears it. false, the default: seal first. */
  bool taking_back;
  /* Signatures merge checked for this store since it was made (counted
   * here; the owner reads it: serve saves it as linli_serve 'sig_checks'). */
  uint64_t sig_checks;
} li_store;

extern const li_store_vt li_store_replica_vt;

#endif

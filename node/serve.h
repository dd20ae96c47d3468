/* serve: the daemon of either role (`linli serve`, `linli sync --once`).
 *
 * One thread, one loop: poll the transport (which also answers ZAP), feed
 * sessions, tick them, seal local writes every seal_interval_ms (and on
 * shutdown), push new commits to every peer at once (the hub fans out what
 * it receives to every committee entitled to it), flush the sessions'
 * messages, log events, and save per-peer state to linli_peers for
 * `linli status` and `linli report`. SIGTERM/SIGINT set *stop; the loop then
 * seals, flushes briefly and returns, losing nothing (everything sealed is in
 * the replica; everything acknowledged was applied durably first). */
#ifndef LI_SERVE_H
#define LI_SERVE_H

#include <signal.h>
#include <stdbool.h>
#include "err.h"
#include "node.h"

typedef struct {
  volatile sig_atomic_t *stop;
  bool once;            /* committee: return after the first complete exchange */
  int once_timeout_ms;  /* give up then (LI_ERR_TIMEOUT) */
} li_serve_opts;

li_err li_serve(li_node *n, const li_serve_opts *o, li_errbuf *eb);

#endif

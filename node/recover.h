/* recover: the way out for a committee whose own chain cannot go on
 * (DESIGN 13), also used to rotate a lost or leaked key.
 *
 * A chain stops for good when this node's key signed two different commits
 * with one seq (a folder copied to a second PC, a restored backup that
 * sealed before it took its commits back), when its commits were stamped
 * far in the future by a clock that was once ahead, or when its key is lost
 * or leaked. The way out is a new key for the same scope:
 *
 *   committee PC:  linli recover              street office:  linli roster replace NAME NEWKEY
 *
 *   NORMAL --li_recover()--> PENDING (new key in use; the old key recorded)
 *   PENDING --li_recover_settle(hub's seq of the old chain), when the hub's
 *             view is known: its Hello, or the roster's revoked_after_seq
 *             after `roster replace`--> NORMAL
 *
 * li_recover makes the new key (the old key file is kept as
 * KEYFILE.old-<time>, mode 0600), makes it the node's own, records the old
 * one in linli_meta 'recovered_from', and resets the clock to the later of
 * the wall clock and the newest HLC the street accepted (so a chain stamped
 * in the future does not carry its clock over). li_recover_settle takes the
 * hub's view of the old key's chain as final: every row written by an
 * old-key commit the hub does not hold is marked unsealed again, re-read
 * from its table as it is now, those commits leave this node's log, and
 * the next seal publishes the rows under the new key. Nothing written at
 * the committee is lost.
 *
 * Invariants: at most one recovery is pending; the node's key file, its
 * replica's 'self' and its config always agree when li_recover returns
 * (a crash between the two renames is finished by li_node_open). */
#ifndef LI_RECOVER_H
#define LI_RECOVER_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "keys.h"
#include "node.h"

typedef struct {
  uint8_t old_key[LI_PK_BYTES], new_key[LI_PK_BYTES];
  char old_key_file[LI_PATH_MAX + 64];
  uint64_t hlc;            /* the clock it starts from */
  bool settled;            /* the hub's view was known at once */
  uint64_t hub_seq;        /* when settled: the old chain's commits the hub holds */
  int64_t rows_unsealed;   /* when settled: rows marked unsealed again */
} li_recover_report;

/* Committee only (LI_ERR_ROLE on the hub, whose key is the network id).
 * LI_ERR_EXISTS while an earlier recovery is still pending. */
li_err li_recover(li_node *n, uint64_t wall_ms, li_recover_report *out, li_errbuf *eb);

/* The replica's part of li_recover, for a caller that keeps keys itself
 * (the simulator): new_pk becomes the replica's own key, the current one
 * is recorded as the old, the clock is reset, in one transaction. The
 * caller settles (li_recover_settle*) and swaps r->id. */
li_err li_recover_replica(li_replica *r, const uint8_t new_pk[LI_PK_BYTES], uint64_t wall_ms, li_recover_report *rep,
                          li_errbuf *eb);

/* Whether a recovery is pending, and from which key. */
bool li_recover_pending(li_replica *r, uint8_t old_key[LI_PK_BYTES]);

/* Settles a pending recovery with the hub's view of the old key's chain
 * (hub_seq: the last commit of it the hub holds; hub_hash: that commit's
 * hash, NULL when unknown), in its own transaction. The hub agrees with
 * this node only below a fork seen before recover, and not at all when
 * hub_hash differs from ours at hub_seq: the rows of every commit past the
 * agreed part are sealed again (repeating a row is harmless, losing one is
 * not).
 * *rows gets the rows marked unsealed again (may be NULL). */
li_err li_recover_settle(li_replica *r, uint64_t hub_seq, const uint8_t *hub_hash, int64_t *rows, li_errbuf *eb);

/* Settles from the roster when it already says after which seq the old
 * key was revoked (`roster replace` reached this node, e.g. in a bundle);
 * *settled false when it does not (yet). */
li_err li_recover_settle_from_roster(li_replica *r, bool *settled, int64_t *rows, li_errbuf *eb);

#endif

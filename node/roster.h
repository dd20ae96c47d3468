/* roster: who may write which scope, and who reads what (DESIGN 6).
 *
 * Owns the `roster` table (its DDL is li_roster_sql) and every rule about
 * it; no other module reads or writes it. The roster is a tracked table in
 * scope LI_SCOPE_STREET, so it reaches every committee like other data, and
 * only the hub (the network key) writes it: the capture triggers refuse
 * street rows on a committee, and merge refuses them from anyone else.
 *
 * A row names a member: name, role ('hub' or 'committee'), the scope it
 * writes (member_scope), its Ed25519 key as text, and revoked_after_seq.
 *
 * Rules:
 *  1. The network key (the hub) writes every scope; it is never looked up.
 *  2. A committee key writes exactly its member_scope; a revoked key only up
 *     to revoked_after_seq, the last seq the hub held when it was revoked,
 *     so that every replica meeting those commits later still accepts them.
 *  3. A committee member reads its member_scope and LI_SCOPE_STREET; the hub
 *     reads every scope.
 *  4. The hub admits (ZAP) exactly the active committee keys.
 *  5. Names are unique; a key may appear in several rows (an old revoked
 *     row and a new one), but in at most one active row.
 *
 * Failure: functions return LI_ERR_DB on a database error, LI_ERR_NOT_FOUND
 * for an unknown name or key, LI_ERR_ROLE when a committee tries to edit the
 * roster, LI_ERR_USAGE for a malformed argument, LI_ERR_TAMPERED for a
 * stored row that cannot be valid (it came from a peer only through a signed
 * hub commit, so this means the file was edited). */
#ifndef LI_ROSTER_H
#define LI_ROSTER_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "keys.h"
#include "replica.h"
#include "scope.h"

typedef struct {
  char name[LI_NAME_MAX + 1];
  li_role role;
  char scope[LI_SCOPE_MAX + 1];    /* the scope it writes (member_scope) */
  uint8_t key[LI_PK_BYTES];
  char key_text[LI_PK_TEXT_LEN + 1];
  bool revoked;
  uint64_t revoked_after_seq;      /* valid when revoked */
} li_member;

/* The roster's DDL, run once when a replica is created. */
extern const char li_roster_sql[];

/* Whether key may have signed commit #seq of scope (rules 1, 2). LI_OK, or
 * LI_ERR_UNKNOWN_SIGNER (not in the roster, or revoked before seq) or
 * LI_ERR_SCOPE (in the roster for another scope), with a sentence. */
li_err li_roster_may_write(li_replica *r, const uint8_t key[LI_PK_BYTES], const char *scope, uint64_t seq,
                           li_errbuf *eb);

/* The member of that name (active_only: not revoked). LI_ERR_NOT_FOUND. */
li_err li_roster_by_name(li_replica *r, const char *name, bool active_only, li_member *out, li_errbuf *eb);

/* The active member holding key. LI_ERR_NOT_FOUND when none. */
li_err li_roster_by_key(li_replica *r, const uint8_t key[LI_PK_BYTES], li_member *out, li_errbuf *eb);

/* The newest row holding key, revoked or not. LI_ERR_NOT_FOUND when none. */
li_err li_roster_by_key_any(li_replica *r, const uint8_t key[LI_PK_BYTES], li_member *out, li_errbuf *eb);

/* The scopes a member reads (rule 3). */
void li_roster_reads(const li_member *m, li_scopes *out);

/* ZAP admission (rule 4): 0 and the Ed25519 key whose X25519 form is
 * curve_pk when it belongs to an active committee, -1 otherwise. The
 * signature of li_transport_admit_fn, with the replica as ctx. */
int li_roster_admit(void *replica, const uint8_t curve_pk[32], uint8_t ed_out[LI_PK_BYTES]);

/* Hub only: admits a committee key for a scope (a committee code, not the
 * street) and seals the change at wall_ms. LI_ERR_EXISTS for a taken name, or a key
 * already active under another name. */
li_err li_roster_add(li_replica *r, const char *name, const char *pubkey, const char *scope, uint64_t wall_ms,
                     li_errbuf *eb);

/* At init of a hub: its own row (role 'hub', scope street), not sealed. */
li_err li_roster_add_hub(li_replica *r, const char *name, const uint8_t key[LI_PK_BYTES], li_errbuf *eb);

/* Hub only: revokes an active committee after the last seq the hub holds
 * of its scope (rule 2) and seals the change. *after_seq gets that seq
 * (may be NULL). */
li_err li_roster_remove(li_replica *r, const char *name, uint64_t wall_ms, uint64_t *after_seq, li_errbuf *eb);

/* Hub only: the committee `name` gets a new key (after `linli recover` on
 * its PC, or a lost or leaked key): its entry is kept under the name
 * "NAME-rN" and revoked after the last seq the hub holds of its scope
 * (rule 2: *after_seq gets it), and NAME is admitted again with newkey for
 * the same scope; one sealed change. LI_ERR_EXISTS when newkey is already
 * an active member's. */
li_err li_roster_replace(li_replica *r, const char *name, const char *newkey, uint64_t wall_ms, uint64_t *after_seq,
                         li_errbuf *eb);

/* Every row, hub first then by name. *out is malloc'd (free it); n rows. */
li_err li_roster_list(li_replica *r, li_member **out, size_t *n, li_errbuf *eb);

/* A committee row as stored, for display (the report): text is untrusted
 * and kept as it is, cut at a character boundary to LI_REPORT_TEXT_MAX
 * bytes; key_ok says whether the key parsed. */
typedef struct {
  char name[LI_REPORT_TEXT_MAX + 1];
  char scope[LI_REPORT_TEXT_MAX + 1];
  bool key_ok;
  uint8_t key[LI_PK_BYTES];
  bool revoked;
} li_roster_row;

/* Committee rows (only_scope: those of that member scope; NULL: all), by
 * member scope then name, at most max rows (LI_ERR_LIMIT beyond).
 * *out is malloc'd. */
li_err li_roster_rows(li_replica *r, const char *only_scope, size_t max, li_roster_row **out, size_t *n,
                      li_errbuf *eb);

/* The roster name of a key for messages, or the first 10 characters of its
 * text form when no row names it. Never fails. */
void li_roster_name_of(li_replica *r, const uint8_t key[LI_PK_BYTES], char *out, size_t cap);

/* A digest of every roster row: equal digests, equal rosters. The driver
 * re-checks its peers when it changes. */
li_err li_roster_digest(li_replica *r, uint8_t out[LI_HASH_BYTES], li_errbuf *eb);

#endif

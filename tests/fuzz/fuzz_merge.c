/* fuzz_merge: apply of a decoded commit into a replica. The input is Commit
 * bytes, signed here by the hub (the network key: authorised for every
 * scope), so the signature, chain, authority, skew, deps, schema and type
 * checks and the row apply itself (column LWW, causal length, conflicts) all
 * see fuzzed content. The replica is a committee's, created once, holding
 * c07#1 and street#1 (fuzz_util.c); it is put back to that state whenever an
 * input changed it, so every input meets the same replica.
 *
 * Beyond "no crash, no leak": a rejected batch applies nothing, no
 * transaction is left open, and applying never leaves capture markers
 * behind (replica.h invariant 1). A commit refused all-or-nothing is
 * refused alike chain by chain (PER_CHAIN), where it is listed. */
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "merge.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fz_replica s_rep;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_replica_new(&s_rep, true);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t len;
  uint8_t *sc = fz_sign(data, size, &len);
  if (!sc) return 0;
  li_blob b = {sc, len};
  li_merge_opts o = {.wall_ms = FZ_WALL_MS, .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_merge_stats st;
  li_errbuf eb;
  li_err e = li_merge_batch(s_rep.r, &b, 1, &o, &st, &eb);
  if (e != LI_OK && (st.applied != 0 || st.rows != 0)) abort();
  if (e == LI_OK && st.applied + st.duplicates != 1) abort();
  if (!sqlite3_get_autocommit(s_rep.r->db) || li_replica_dirty_count(s_rep.r) != 0) abort();
  if (e != LI_OK && e != LI_ERR_FORK && e != LI_ERR_DB && e != LI_ERR_NOMEM) {
    /* chain by chain, the same commit gets the same verdict, as a listed
     * chain, and nothing of it is applied (a refusal after writes undone) */
    li_merge_rejects rej = {0};
    o.mode = LI_MERGE_PER_CHAIN;
    o.rejects = &rej;
    li_err e2 = li_merge_batch(s_rep.r, &b, 1, &o, &st, &eb);
    if (e2 != LI_OK || st.reject != e || st.applied != 0 || st.rows != 0) abort();
    if (rej.n != 1 || rej.v[0].code != e) abort();
    if (!sqlite3_get_autocommit(s_rep.r->db)) abort();
    li_merge_rejects_clear(&rej);
  }
  free(sc);
  if (st.applied || e == LI_ERR_FORK || e == LI_ERR_DB) fz_replica_reset(&s_rep);
  return 0;
}

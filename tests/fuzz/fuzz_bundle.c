/* fuzz_bundle: li_bundle_import of the input written to a file, into an
 * empty committee replica (network: the test hub). Framing, header, trailer
 * count and digest, and then every commit through merge, chain by chain. A
 * refused file applies nothing; a sound one names exactly the chains it
 * stopped; neither leaves a transaction open. The replica is put back
 * whenever an input changed it. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bundle.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fz_replica s_rep;
static char s_path[320];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_replica_new(&s_rep, false);
  snprintf(s_path, sizeof s_path, "%s/input.linli", s_rep.dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(s_path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
  li_merge_opts o = {.wall_ms = FZ_WALL_MS, .max_skew_ms = LI_SKEW_DEFAULT_MS, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
  li_bundle_import_stats st;
  li_errbuf eb;
  li_err e = li_bundle_import(s_rep.r, s_path, &o, &st, &eb);
  bool stopped = st.merge.rejected > 0;
  if (e != LI_OK && !stopped && (st.merge.applied != 0 || st.merge.rows != 0)) abort();
  if (stopped && (e != st.merge.reject || st.rejects.n + st.rejects.overflow < 1)) abort();
  if (!sqlite3_get_autocommit(s_rep.r->db)) abort();
  li_bundle_import_stats_clear(&st);
  if (st.merge.applied || stopped || e == LI_ERR_FORK || e == LI_ERR_DB) fz_replica_reset(&s_rep);
  return 0;
}

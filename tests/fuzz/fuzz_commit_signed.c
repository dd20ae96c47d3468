/* fuzz_commit_signed: the input is Commit bytes, signed here by the test
 * hub and wrapped in a SignedCommit, so every input passes the signature and
 * reaches the commit's own decode and structural checks (s_check_commit),
 * which is everything merge relies on. An accepted commit is walked field by
 * field so a check that let something through would show under ASan. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "commit.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_init();
  size_t len;
  uint8_t *sc = fz_sign(data, size, &len);
  if (!sc) return 0;
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  li_errbuf eb;
  if (li_commit_open(fz_hub()->pk, sc, len, &a, &c, &eb) == LI_OK) {
    size_t rows = 0, bytes = strlen(c.scope);
    for (size_t i = 0; i < c.c->n_tables; i++) {
      const Linli__TableChanges *t = c.c->tables[i];
      rows += t->n_rows;
      for (size_t j = 0; j < t->n_rows; j++)
        for (size_t k = 0; k < t->rows[j]->n_cols; k++) bytes += strlen(t->columns[t->rows[j]->cols[k]]);
    }
    if (rows != c.nrows || memcmp(c.origin, fz_hub()->pk, LI_PK_BYTES) != 0 || bytes == 0) abort();
  }
  li_arena_free(&a);
  free(sc);
  return 0;
}

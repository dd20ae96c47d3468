/* heads: the clear functions of the shared chain-position types (see
 * heads.h). */
#include "heads.h"

#include <stdlib.h>
#include <string.h>

void li_heads_clear(li_heads *h) {
  free(h->v);
  memset(h, 0, sizeof *h);
}

void li_blobs_clear(li_blobs *b) {
  for (size_t i = 0; i < b->n; i++) free((void *)b->v[i].sc);
  free(b->v);
  memset(b, 0, sizeof *b);
}

/* fuzz_commit_pos: li_commit_pos on arbitrary SignedCommit bytes, checked
 * against protobuf-c (commit.h invariant 1): when li_commit_pos accepts and
 * the full unpack of the SignedCommit and then of its Commit succeeds, both
 * read the same origin, scope and seq. No signature is involved: the reader
 * never checks one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_init();
  uint8_t origin[LI_PK_BYTES];
  char scope[LI_SCOPE_MAX + 1];
  uint64_t seq;
  if (!li_commit_pos(data, size, origin, scope, &seq)) return 0;
  if (strlen(scope) > LI_SCOPE_MAX) abort();
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, size, data);
  Linli__Commit *c = w ? linli__commit__unpack(NULL, w->commit.len, w->commit.data) : NULL;
  if (c && (c->origin.len != LI_PK_BYTES || memcmp(c->origin.data, origin, LI_PK_BYTES) != 0 ||
            strcmp(c->scope, scope) != 0 || c->seq != seq))
    abort();
  if (c) linli__commit__free_unpacked(c, NULL);
  if (w) linli__signed_commit__free_unpacked(w, NULL);
  return 0;
}

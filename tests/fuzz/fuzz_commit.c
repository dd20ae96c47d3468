/* fuzz_commit: li_commit_open on arbitrary SignedCommit bytes, the order
 * verify-then-decode: size cap, wrapper decode, network, signature. Almost
 * nothing gets past the signature here (fuzz_commit_signed.c does that);
 * this one hammers the wrapper's decode and its length checks. */
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "commit.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_init();
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  li_errbuf eb;
  li_commit_open(fz_hub()->pk, data, size, &a, &c, &eb);
  li_arena_free(&a);
  return 0;
}

/* Shared helpers for the cmocka tests. */
#ifndef LI_TESTUTIL_H
#define LI_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* A fresh empty directory under $TMPDIR (or /tmp); caller removes it with
 * tu_rmdir. out must hold 256 bytes. */
static inline void tu_tmpdir(char *out) {
  const char *t = getenv("TMPDIR");
  snprintf(out, 256, "%s/linli-test-XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(out));
}
static inline void tu_rmdir(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}
#endif

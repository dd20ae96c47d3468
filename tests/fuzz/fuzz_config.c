/* fuzz_config: li_config_parse of arbitrary text (a NUL-terminated copy of
 * the input, as li_config_load hands it over). An accepted config must hold
 * what the rest of linli assumes of one, and must survive config.c's
 * invariant 3: whatever li_config_write writes loads back equal. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "li_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_round_trip(const li_config *c) {
  char path[300];
  const char *t = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/linli-fuzz-config-%d.conf", t && *t ? t : "/tmp", (int)getpid());
  unlink(path);
  li_errbuf eb;
  li_config back;
  if (li_config_write(c, path, &eb) == LI_OK) {
    if (li_config_load(&back, path, &eb) != LI_OK || memcmp(&back, c, sizeof back) != 0) {
      fprintf(stderr, "config does not load back as written: %s\n", eb.msg);
      abort();
    }
  }
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > LI_CONFIG_BYTES_MAX) return 0; /* li_config_load refuses larger files */
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  li_config c;
  li_errbuf eb;
  if (li_config_parse(&c, text, "fuzz.conf", &eb) == LI_OK) {
    if (!li_valid_name(c.name) || !li_valid_scope(c.scope) || (c.role != LI_ROLE_COMMITTEE && c.role != LI_ROLE_HUB) ||
        c.window < 1 || c.window > LI_WINDOW_MAX || c.batch_rows_max < 1 || c.batch_rows_max > LI_BATCH_ROWS_MAX)
      abort();
    s_round_trip(&c);
  }
  free(text);
  return 0;
}

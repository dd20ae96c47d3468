/* render: how inspect's data and the roster look, as text on a terminal
 * and as JSON.
 *
 * Owns the exact text and JSON of `linli status`, `log`, `verify`,
 * `conflicts`, `digest` and `roster list`. Shell tests and scripts parse
 * them (tests/lib.sh reads status --json by field name, scripts/street.sh
 * compares digest lines), so they change only on purpose. Every piece of
 * stored text goes out through out.h and is made safe there (its rules
 * 1-3); renderers never print stored text with printf.
 *
 * Renderers do not fail: write errors show in ferror(f), checked once by
 * the caller. Those that drive a cursor return its error. */
#ifndef LI_RENDER_H
#define LI_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "inspect.h"
#include "roster.h"

/* status: text lines, or one JSON object. */
void li_render_status(FILE *f, const li_status *s, bool json);

/* Every entry of the log cursor as text; *tampered counts the stored
 * commits that failed verification (shown as TAMPERED lines). */
li_err li_render_log(FILE *f, li_log_cursor *c, int64_t *tampered, li_errbuf *eb);

/* verify: one TAMPERED line per problem kept (and how many more there
 * were), or the all-clear line when there is none. */
void li_render_verify(FILE *f, const li_verify_result *v);

/* Every conflict of the cursor: text lines ("no conflicts" when none) or a
 * JSON array. */
li_err li_render_conflicts(FILE *f, li_conflict_cursor *c, bool json, li_errbuf *eb);

/* digest: "SCOPE HASH ROWS" lines. */
void li_render_digest(FILE *f, const li_scope_digest *d, size_t n);

/* roster list: a header and one line per member. */
void li_render_roster(FILE *f, const li_member *m, size_t n);

#endif

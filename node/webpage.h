/* webpage: the dashboard's pages (`linli web`), as bytes, from a replica
 * opened read-only.
 *
 * Owns: the dashboard's routes, the queries of its list pages, and the
 * rendering of every page: zh-CN HTML with inline SVG charts, the CSV
 * downloads, the JSON views, the stylesheet and the one small script. No
 * sockets and no HTTP: node/web.c serves what li_web_page returns.
 *
 *   path ──li_web_page──▶ route ──▶ page (HTML) | list (CSV) | api (JSON) |
 * asset │ li_report_collect ──┤ (the same figures as `linli report`)
 *                 li_inspect_status ──┤ (the same facts as `linli status`)
 *                 list queries ───────┘ (bounded, one snapshot)
 *
 * Invariants:
 *  1. Every value read from the replica reaches a page through out.h:
 *     li_html_text / li_url_part in HTML (rule 5), li_csv_* in CSV, li_json
 *     in JSON. Committee-written text is never markup.
 *  2. Pages have no inline script, no inline style and no event-handler
 *     attribute: they work whole under the CSP web.c sends
 *     (default-src 'none'; script-src 'self'; style-src 'self' ...).
 *  3. A figure `linli report` also shows comes from li_report_collect: the
 *     page and the report cannot disagree. Such figures carry
 *     data-fig="SCOPE PATH" (TOTAL for the street; PATH as in `report
 *     --json`) so a test can compare them.
 *  4. Every list is bounded (LI_WEB_LIST_ROWS_MAX, LI_WEB_HISTORY_MAX,
 *     LI_WEB_NOTICES_MAX) and says when it was cut.
 *  5. A page reads inside one savepoint: its numbers agree with each other.
 *  6. The replica is only read (the connection is query_only besides).
 */
#ifndef LI_WEBPAGE_H
#define LI_WEBPAGE_H

#include "err.h"
#include "node.h"
#include <stddef.h>
#include <stdint.h>

/* A query argument of the request, NULL when absent (web.c: libmicrohttpd's
 * GET arguments, already percent-decoded). */
typedef const char *(*li_web_arg_fn)(void *cls, const char *key);

typedef struct {
  int status;       /* HTTP status: 200, 404 */
  const char *type; /* Content-Type (static) */
  char *body;       /* malloc'd */
  size_t len;
  char filename[64]; /* a download's name (Content-Disposition), "" for a page */
} li_web_reply;

/* The reply for path (without the query string) on node n (opened with
 * li_node_open_readonly). now_ms: the wall clock; today: the local date
 * "YYYY-MM-DD" (overdue, this month), as `linli report` takes them. An
 * unknown path is a 404 page, not an error. Fails with the report's and
 * status's errors (LI_ERR_DB, LI_ERR_SCHEMA, LI_ERR_NOMEM ...), nothing in
 * *out then. */
li_err li_web_page(li_node *n, const char *path, li_web_arg_fn arg, void *cls, uint64_t now_ms, const char *today,
                   li_web_reply *out, li_errbuf *eb);

/* A small page for an HTTP error (status, a Chinese title, a detail shown
 * escaped). Its body is malloc'd; NULL body on out of memory. */
void li_web_error_page(li_web_reply *out, int status, const char *title, const char *detail);

/* The login form (web.c serves it when a password is set). message: shown
 * escaped above the form, NULL for none. */
void li_web_login_page(li_web_reply *out, const char *message);

void li_web_reply_free(li_web_reply *r);

#endif

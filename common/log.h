/* log: a tiny logging API in the OpenBSD daemons' manner.
 *
 * Lines go to stderr as "LEVEL message" (with a timestamp when
 * li_log_timestamps is on, as in `linli serve`). No state beyond the
 * current level and flags, which main sets once before any thread exists. */
#ifndef LI_LOG_H
#define LI_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { LI_LOG_ERROR = 0, LI_LOG_WARN, LI_LOG_INFO, LI_LOG_DEBUG } li_log_level;

void li_log_init(li_log_level level, bool timestamps);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int li_log_parse_level(const char *s, li_log_level *out);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A log budget: lines about one source's input (a peer, refused
 * handshakes) are logged at most `burst` times per LI_LOG_WINDOW_MS; the
 * rest are counted, and the owner logs one line with the count when the
 * window is over (li_log_budget_close). Time comes from the caller (sans-IO
 * code keeps its own clock). A zeroed budget is ready. */
typedef struct {
  uint64_t from_ms;  /* start of the current window */
  uint32_t logged;   /* lines logged in it */
  uint64_t unlogged; /* lines counted but not logged in it */
} li_log_budget;

/* Whether one more line may be logged now; counted as unlogged when not.
 * Call li_log_budget_close first, so an old window does not stay full. */
bool li_log_budget_take(li_log_budget *b, uint32_t burst);
/* When the window is over at now_ms (or at once with force): the lines not
 * logged in it, and a new window from now_ms; 0 otherwise. */
uint64_t li_log_budget_close(li_log_budget *b, uint64_t now_ms, bool force);

#endif

/* log: a tiny logging API in the OpenBSD daemons' manner.
 *
 * Lines go to stderr as "LEVEL message" (with a timestamp when
 * li_log_timestamps is on, as in `linli serve`). No state beyond the
 * current level and flags, which main sets once before any thread exists. */
#ifndef LI_LOG_H
#define LI_LOG_H

#include <stdbool.h>

typedef enum { LI_LOG_ERROR = 0, LI_LOG_WARN, LI_LOG_INFO, LI_LOG_DEBUG } li_log_level;

void li_log_init(li_log_level level, bool timestamps);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int li_log_parse_level(const char *s, li_log_level *out);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

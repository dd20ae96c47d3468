/* log: lines to stderr in the OpenBSD daemons' manner (log.h).
 *
 * The only state is the level and the timestamp flag, set once by main
 * before any thread exists. Each line is formatted whole into a buffer and
 * written with one call, so lines from several threads do not interleave
 * mid-line. Long messages are truncated, never split. */
#include "log.h"

#include "li_limits.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_LINE_MAX 2048

static li_log_level s_level = LI_LOG_INFO;
static bool s_timestamps = false;

static const char *const s_level_names[] = {
    [LI_LOG_ERROR] = "ERROR",
    [LI_LOG_WARN] = "WARN",
    [LI_LOG_INFO] = "INFO",
    [LI_LOG_DEBUG] = "DEBUG",
};

void li_log_init(li_log_level level, bool timestamps) {
  s_level = level;
  s_timestamps = timestamps;
}

int li_log_parse_level(const char *s, li_log_level *out) {
  static const struct {
    const char *name;
    li_log_level level;
  } table[] = {
      {"error", LI_LOG_ERROR},
      {"warn", LI_LOG_WARN},
      {"info", LI_LOG_INFO},
      {"debug", LI_LOG_DEBUG},
  };
  if (s == NULL)
    return -1;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strcmp(s, table[i].name) == 0) {
      *out = table[i].level;
      return 0;
    }
  }
  return -1;
}

/* Appends at most what fits; off never passes cap - 1. */
static size_t s_append(char *buf, size_t cap, size_t off, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static size_t s_append(char *buf, size_t cap, size_t off, const char *fmt, va_list ap) {
  if (off >= cap - 1)
    return off;
  int n = vsnprintf(buf + off, cap - off, fmt, ap);
  if (n < 0)
    return off;
  off += (size_t)n;
  return off < cap - 1 ? off : cap - 1;
}

static size_t s_appendf(char *buf, size_t cap, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t s_appendf(char *buf, size_t cap, size_t off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  off = s_append(buf, cap, off, fmt, ap);
  va_end(ap);
  return off;
}

static size_t s_prefix(char *buf, size_t cap, li_log_level level) {
  if (s_timestamps) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    return s_appendf(buf, cap, 0, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, s_level_names[level]);
  }
  if (level <= LI_LOG_WARN)
    return s_appendf(buf, cap, 0, "linli: ");
  return 0;
}

/* errnum < 0: no strerror suffix. */
static void s_vlog(li_log_level level, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void s_vlog(li_log_level level, int errnum, const char *fmt, va_list ap) {
  if (level > s_level)
    return;
  char line[LOG_LINE_MAX];
  size_t off = s_prefix(line, sizeof line, level);
  off = s_append(line, sizeof line, off, fmt, ap);
  if (errnum >= 0)
    off = s_appendf(line, sizeof line, off, ": %s", strerror(errnum));
  /* Room for the newline is always kept: off <= sizeof line - 1. */
  line[off++] = '\n';
  fwrite(line, 1, off, stderr);
  fflush(stderr);
}

void log_warn(const char *fmt, ...) {
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  s_vlog(LI_LOG_WARN, saved, fmt, ap);
  va_end(ap);
  errno = saved;
}

#define LOG_FN(fn, lvl)                   \
  void fn(const char *fmt, ...) {         \
    int saved = errno;                    \
    va_list ap;                           \
    va_start(ap, fmt);                    \
    s_vlog(lvl, -1, fmt, ap);              \
    va_end(ap);                           \
    errno = saved;                        \
  }

LOG_FN(log_warnx, LI_LOG_WARN)
LOG_FN(log_error, LI_LOG_ERROR)
LOG_FN(log_info, LI_LOG_INFO)
LOG_FN(log_debug, LI_LOG_DEBUG)

bool li_log_budget_take(li_log_budget *b, uint32_t burst) {
  if (b->logged < burst) {
    b->logged++;
    return true;
  }
  b->unlogged++;
  return false;
}

uint64_t li_log_budget_close(li_log_budget *b, uint64_t now_ms, bool force) {
  if (!force && now_ms < b->from_ms + LI_LOG_WINDOW_MS) return 0;
  uint64_t n = b->unlogged;
  *b = (li_log_budget){.from_ms = now_ms};
  return n;
}

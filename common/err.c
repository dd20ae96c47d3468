/* err: messages and exit codes for the one error enum (err.h).
 *
 * The tables are generated from LI_ERR_LIST so a new code cannot be added
 * without its name and message. Codes outside the enum (a corrupted value,
 * never our own misuse in correct code) get a fixed "unknown" text rather
 * than an out-of-bounds read. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const s_names[LI_ERR__COUNT] = {
#define X(code, name, msg) [code] = name,
    LI_ERR_LIST(X)
#undef X
};

static const char *const s_msgs[LI_ERR__COUNT] = {
#define X(code, name, msg) [code] = msg,
    LI_ERR_LIST(X)
#undef X
};

static int s_in_range(li_err e) {
  return (unsigned)e < (unsigned)LI_ERR__COUNT;
}

const char *li_strerror(li_err e) {
  return s_in_range(e) ? s_msgs[e] : "unknown error";
}

const char *li_errname(li_err e) {
  return s_in_range(e) ? s_names[e] : "unknown";
}

li_err li_fail(li_errbuf *eb, li_err e, const char *fmt, ...) {
  if (eb != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
  }
  return e;
}

const char *li_errmsg(const li_errbuf *eb, li_err e) {
  if (eb != NULL && eb->msg[0] != '\0')
    return eb->msg;
  return li_strerror(e);
}

int li_exit_code(li_err e) {
  switch (e) {
  case LI_OK:
    return 0;
  case LI_ERR_USAGE:
    return 2;
  case LI_ERR_CONFIG:
  case LI_ERR_KEY:
  case LI_ERR_KEY_PERMS:
  case LI_ERR_NOT_INIT:
    return 3;
  case LI_ERR_DECODE:
  case LI_ERR_TOO_BIG:
  case LI_ERR_TRUNCATED:
  case LI_ERR_NOT_BUNDLE:
  case LI_ERR_BAD_SIG:
  case LI_ERR_WRONG_NETWORK:
  case LI_ERR_UNKNOWN_SIGNER:
  case LI_ERR_SCOPE:
  case LI_ERR_GAP:
  case LI_ERR_FORK:
  case LI_ERR_REPLAY:
  case LI_ERR_MISSING_DEPS:
  case LI_ERR_CLOCK_AHEAD:
  case LI_ERR_BANNED:
  case LI_ERR_HELD:
  case LI_ERR_SCHEMA_AHEAD:
  case LI_ERR_MIGRATION:
  case LI_ERR_SCHEMA:
  case LI_ERR_TYPE:
  case LI_ERR_LIMIT:
  case LI_ERR_TAMPERED:
  case LI_ERR_PROTOCOL:
  case LI_ERR_VERSION:
  case LI_ERR_REFUSED:
  case LI_ERR_TRACK:
  case LI_ERR_ROLE:
  case LI_ERR_EXISTS:
  case LI_ERR_NOT_FOUND:
    return 4;
  case LI_ERR_DB:
  case LI_ERR_IO:
  case LI_ERR_NOMEM:
    return 5;
  case LI_ERR_STUCK:
    return 6;
  case LI_ERR_TIMEOUT:
  case LI_ERR__COUNT:
  default:
    return 1;
  }
}

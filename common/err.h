/* err: the one error enum of linli and its messages.
 *
 * Every fallible function of the project returns li_err (LI_OK == 0) and,
 * where it has more to say, writes a sentence into a caller-provided
 * li_errbuf. The list below is the single source: the enum, the short names
 * (used in status counters and JSON) and the default messages are generated
 * from it. Codes are stable: they are counted in status and documented in
 * README, so append new ones at the end of a group. */
#ifndef LI_ERR_H
#define LI_ERR_H

#include <stddef.h>

/*        code                  short name        default message */
#define LI_ERR_LIST(X) \
  X(LI_OK,                   "ok",             "success") \
  X(LI_ERR_USAGE,            "usage",          "invalid command-line usage") \
  X(LI_ERR_IO,               "io",             "file or system error") \
  X(LI_ERR_NOMEM,            "nomem",          "out of memory") \
  X(LI_ERR_DB,               "db",             "database error") \
  X(LI_ERR_CONFIG,           "config",         "invalid configuration") \
  X(LI_ERR_KEY,              "key",            "invalid or unreadable key file") \
  X(LI_ERR_KEY_PERMS,        "key_perms",      "key file is readable by others") \
  X(LI_ERR_NOT_INIT,         "not_init",       "this directory is not a linli node") \
  X(LI_ERR_EXISTS,           "exists",         "already exists") \
  X(LI_ERR_NOT_FOUND,        "not_found",      "not found") \
  X(LI_ERR_ROLE,             "role",           "not allowed for this node's role") \
  X(LI_ERR_TRACK,            "track",          "table cannot be tracked") \
  X(LI_ERR_DECODE,           "decode",         "malformed message") \
  X(LI_ERR_TOO_BIG,          "too_big",        "over a size limit") \
  X(LI_ERR_TRUNCATED,        "truncated",      "input ends early") \
  X(LI_ERR_NOT_BUNDLE,       "not_bundle",     "not a linli bundle") \
  X(LI_ERR_BAD_SIG,          "bad_signature",  "signature does not verify") \
  X(LI_ERR_WRONG_NETWORK,    "wrong_network",  "commit belongs to another network") \
  X(LI_ERR_UNKNOWN_SIGNER,   "unknown_signer", "signer is not in the roster") \
  X(LI_ERR_SCOPE,            "out_of_scope",   "signer may not write this scope") \
  X(LI_ERR_GAP,              "gap",            "commit sequence has a gap") \
  X(LI_ERR_FORK,             "fork",           "two different commits with one sequence number") \
  X(LI_ERR_REPLAY,           "replay",         "commit already applied") \
  X(LI_ERR_MISSING_DEPS,     "missing_deps",   "commit depends on commits this replica lacks") \
  X(LI_ERR_CLOCK_AHEAD,      "clock_ahead",    "commit clock is too far in the future; held") \
  X(LI_ERR_BANNED,           "banned",         "origin equivocated and is no longer accepted") \
  X(LI_ERR_HELD,             "held",           "held until this node has taken back its own commits") \
  X(LI_ERR_SCHEMA,           "schema",         "unknown table or column") \
  X(LI_ERR_TYPE,             "type",           "value of the wrong type") \
  X(LI_ERR_LIMIT,            "limit",          "a limit was exceeded") \
  X(LI_ERR_TAMPERED,         "tampered",       "stored data was altered") \
  X(LI_ERR_PROTOCOL,         "protocol",       "protocol violation") \
  X(LI_ERR_TIMEOUT,          "timeout",        "peer did not answer in time") \
  X(LI_ERR_REFUSED,          "refused",        "peer refused the exchange") \
  X(LI_ERR_STUCK,            "stuck",          "a chain of this node cannot go on (see linli status)") \
  X(LI_ERR_SCHEMA_AHEAD,     "schema_ahead",   "commit needs a schema migration not received yet; held") \
  X(LI_ERR_MIGRATION,        "migration",      "schema migration refused") \
  X(LI_ERR_VERSION,          "version",        "the peer speaks no protocol version this node speaks")

typedef enum {
#define X(code, name, msg) code,
  LI_ERR_LIST(X)
#undef X
  LI_ERR__COUNT
} li_err;

/* A sentence saying what went wrong and, where possible, what to do. */
#define LI_ERRBUF_SIZE 512
typedef struct {
  char msg[LI_ERRBUF_SIZE];
} li_errbuf;

const char *li_strerror(li_err e); /* default message; never NULL */
const char *li_errname(li_err e);  /* short stable name; never NULL */

/* Sets eb->msg (if eb) from a printf format and returns e, so callers can
 * write `return li_fail(eb, LI_ERR_GAP, "...", ...)`. */
li_err li_fail(li_errbuf *eb, li_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The message in eb if any was set, else the default message of e. */
const char *li_errmsg(const li_errbuf *eb, li_err e);

/* Process exit code for an error (documented in README):
 * 0 ok, 2 usage, 3 config/key/not-initialised, 4 rejected input
 * (signature, scope, chain, decode, ...), 5 database/io, 6 a chain of this
 * node is stuck (sync --once), 1 anything else. */
int li_exit_code(li_err e);

#endif

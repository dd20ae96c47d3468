/* web: `linli web`, the dashboard's HTTP server, a process of its own
 * beside `linli serve`.
 *
 * Owns: the listening socket (through libmicrohttpd: no HTTP parser of our
 * own), the request limits, the security headers every response carries,
 * the dashboard password (DIR/web.password, libsodium crypto_pwhash_str),
 * the login sessions and the login rate limit. What a page says is
 * node/webpage.c's.
 *
 *   li_web_run: parse --listen ─▶ password rule ─▶ open the node read-only
 *               ─▶ libmicrohttpd (one internal thread) ─SIGINT/SIGTERM─▶ stop
 *
 *   request ─▶ limits (method, URL, headers) ─▶ session (when a password is
 *            set) ─▶ webpage ─▶ response + security headers
 *
 * Invariants:
 *  1. Every response carries the security headers: a strict
 *     Content-Security-Policy (nothing inline, nothing from elsewhere),
 *     X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
 *     Referrer-Policy: no-referrer, Cache-Control: no-store.
 *  2. GET and HEAD only; every other method is 405 — but POST /login when
 *     a password is set (the login form).
 *  3. Listening on an address that is not loopback needs a password: set,
 *     or `linli web` does not start.
 *  4. With a password, nothing but the login form and the stylesheet is
 *     served without a live session; the session cookie is HttpOnly and
 *     SameSite=Strict.
 *  5. The replica is opened read-only and used by libmicrohttpd's one
 *     thread only; a fault here cannot write it.
 *  6. URL, headers, body, connections, idle time and failed logins are
 *     bounded by the LI_WEB_* limits of li_limits.h.
 */
#ifndef LI_WEB_H
#define LI_WEB_H

#include "err.h"
#include <stdbool.h>
#include <stdint.h>

/* The default address: loopback, so that nothing needs a password until
 * the street office decides to open the dashboard to its network. */
#define LI_WEB_LISTEN_DEFAULT "127.0.0.1:8720"

typedef struct {
  char host[64]; /* numeric, as given (no brackets) */
  int port;
  bool v6;
  bool loopback; /* 127.0.0.0/8 or ::1 */
} li_web_addr;

/* Parses "HOST:PORT" (IPv4, "localhost", or "[IPv6]"; numeric only: no
 * name lookup). LI_ERR_USAGE saying what is wrong. */
li_err li_web_parse_listen(const char *s, li_web_addr *out, li_errbuf *eb);

/* Serves the node in dir at listen until SIGINT or SIGTERM. Fails before
 * serving: LI_ERR_USAGE (listen), LI_ERR_CONFIG (a non-loopback address
 * without a password; an unreadable password file), the node's open
 * errors, LI_ERR_IO (the address is taken). */
li_err li_web_run(const char *dir, const char *listen, li_errbuf *eb);

/* Sets the dashboard password of the node in dir: read from the terminal
 * without echo, twice, when standard input is one; otherwise the first
 * line of standard input, without a prompt. Stored hashed in
 * DIR/web.password (0600, owned as the directory when run as root). */
li_err li_web_set_password(const char *dir, li_errbuf *eb);

#endif

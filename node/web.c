/* web: `linli web`, the dashboard's HTTP server (see web.h). */
#include "web.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hlc.h"
#include "li_limits.h"
#include "log.h"
#include "node.h"
#include "webpage.h"

#define S_PASSWORD_FILE "web.password"
#define S_COOKIE "linli_session"
#define S_TOKEN_BYTES 32

/* Invariant 1: nothing inline (no script, style or handler), nothing from
 * another origin, no framing, forms only to this origin. */
static const char s_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                            "connect-src 'self'; "
                            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/* ---- listen address ---- */

li_err li_web_parse_listen(const char *s, li_web_addr *out, li_errbuf *eb) {
  memset(out, 0, sizeof *out);
  const char *colon = s ? strrchr(s, ':') : NULL;
  if (!colon || colon == s)
    return li_fail(eb, LI_ERR_USAGE, "--listen wants HOST:PORT, e.g. 127.0.0.1:8720 or [::1]:8720");
  size_t hl = (size_t)(colon - s);
  const char *h = s;
  if (h[0] == '[') {
    if (hl < 3 || h[hl - 1] != ']') return li_fail(eb, LI_ERR_USAGE, "--listen: an IPv6 address goes in [brackets]");
    h++;
    hl -= 2;
    out->v6 = true;
  }
  if (hl >= sizeof out->host) return li_fail(eb, LI_ERR_USAGE, "--listen: the host is too long");
  memcpy(out->host, h, hl);
  out->host[hl] = '\0';
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
    return li_fail(eb, LI_ERR_USAGE, "--listen: the port must be 1..65535");
  out->port = (int)port;
  if (!out->v6 && strcmp(out->host, "localhost") == 0) snprintf(out->host, sizeof out->host, "127.0.0.1");
  unsigned char buf[sizeof(struct in6_addr)];
  if (out->v6) {
    if (inet_pton(AF_INET6, out->host, buf) != 1)
      return li_fail(eb, LI_ERR_USAGE, "--listen: '%s' is not a numeric IPv6 address", out->host);
    out->loopback = memcmp(buf, &in6addr_loopback, sizeof in6addr_loopback) == 0;
  } else {
    if (inet_pton(AF_INET, out->host, buf) != 1)
      return li_fail(eb, LI_ERR_USAGE,
                     "--listen: '%s' is not a numeric IPv4 address (names are "
                     "not looked up)",
                     out->host);
    out->loopback = buf[0] == 127;
  }
  return LI_OK;
}

/* ---- password file ---- */

static void s_password_path(const char *dir, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", dir, S_PASSWORD_FILE);
}

/* The stored hash: *set false when there is no file. */
static li_err s_password_load(const char *dir, char hash[crypto_pwhash_STRBYTES], bool *set, li_errbuf *eb) {
  char p[LI_PATH_MAX + 32];
  s_password_path(dir, p, sizeof p);
  *set = false;
  FILE *f = fopen(p, "r");
  if (!f) {
    if (errno == ENOENT) return LI_OK;
    return li_fail(eb, LI_ERR_CONFIG, "%s: %s", p, strerror(errno));
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077)) {
    fclose(f);
    return li_fail(eb, LI_ERR_KEY_PERMS, "%s is readable by others: chmod 600 it (or set the password again)", p);
  }
  char line[crypto_pwhash_STRBYTES + 2];
  bool ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  size_t n = ok ? strcspn(line, "\n") : 0;
  line[n] = '\0';
  if (!ok || n == 0 || n >= crypto_pwhash_STRBYTES || strncmp(line, "$argon2", 7) != 0)
    return li_fail(eb, LI_ERR_CONFIG,
                   "%s does not hold a password hash: run 'linli web "
                   "--set-password' again",
                   p);
  memcpy(hash, line, n + 1);
  *set = true;
  return LI_OK;
}

/* One line of the terminal without echo (prompt on stderr), or of a
 * non-terminal stdin without a prompt. */
static li_err s_read_secret(const char *prompt, char *out, size_t cap, li_errbuf *eb) {
  bool tty = isatty(STDIN_FILENO);
  struct termios old, quiet;
  if (tty) {
    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) == 0) {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
      tty = false;
    }
  }
  bool ok = fgets(out, (int)cap, stdin) != NULL;
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (!ok) return li_fail(eb, LI_ERR_USAGE, "no password given (standard input ended)");
  size_t n = strcspn(out, "\r\n");
  if (out[n] == '\0' && n + 1 == cap)
    return li_fail(eb, LI_ERR_USAGE, "the password is longer than %d bytes (LI_WEB_PASSWORD_MAX)", LI_WEB_PASSWORD_MAX);
  out[n] = '\0';
  return LI_OK;
}

li_err li_web_set_password(const char *dir, li_errbuf *eb) {
  if (sodium_init() < 0) return li_fail(eb, LI_ERR_IO, "libsodium cannot start");
  li_node n;
  li_err e = li_node_open_readonly(&n, dir, eb); /* it must be a node */
  if (e) return e;
  li_node_close(&n);
  char pw[LI_WEB_PASSWORD_MAX + 2], again[LI_WEB_PASSWORD_MAX + 2];
  e = s_read_secret("新密码 / new dashboard password: ", pw, sizeof pw, eb);
  if (!e && strlen(pw) < LI_WEB_PASSWORD_MIN)
    e = li_fail(eb, LI_ERR_USAGE, "the password needs at least %d characters (LI_WEB_PASSWORD_MIN)",
                LI_WEB_PASSWORD_MIN);
  if (!e && isatty(STDIN_FILENO)) {
    e = s_read_secret("再输入一次 / again: ", again, sizeof again, eb);
    if (!e && strcmp(pw, again) != 0) e = li_fail(eb, LI_ERR_USAGE, "the two passwords differ; nothing changed");
    sodium_memzero(again, sizeof again);
  }
  char hash[crypto_pwhash_STRBYTES];
  if (!e && crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    e = li_fail(eb, LI_ERR_NOMEM, "out of memory hashing the password");
  sodium_memzero(pw, sizeof pw);
  if (e) return e;
  char p[LI_PATH_MAX + 32], tmp[LI_PATH_MAX + 40];
  s_password_path(dir, p, sizeof p);
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return li_fail(eb, LI_ERR_IO, "%s: %s", tmp, strerror(errno));
  size_t len = strlen(hash);
  hash[len] = '\n';
  bool ok = write(fd, hash, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
  struct stat sb;
  /* root sets it for the service's user: the file belongs to whoever owns
   * the node directory */
  if (ok && geteuid() == 0 && stat(dir, &sb) == 0 && fchown(fd, sb.st_uid, sb.st_gid) != 0) ok = false;
  if (close(fd) != 0) ok = false;
  if (!ok || rename(tmp, p) != 0) {
    e = li_fail(eb, LI_ERR_IO, "cannot write %s: %s", p, strerror(errno));
    unlink(tmp);
  }
  return e;
}

/* ---- sessions and the login rate limit ---- */

typedef struct {
  uint8_t token[S_TOKEN_BYTES];
  uint64_t expires_ms; /* 0: free */
} s_session;

typedef struct {
  uint8_t addr[16];
  int fails;
  uint64_t window_ms; /* the window's start */
} s_fails;

typedef struct {
  li_node n;
  bool password;
  char hash[crypto_pwhash_STRBYTES];
  s_session sessions[LI_WEB_SESSIONS_MAX];
  s_fails fails[LI_WEB_LOGIN_ADDRS_MAX];
  int global_fails;
  uint64_t global_window_ms;
} s_web;

/* A request's state across libmicrohttpd's calls (POST /login only). */
typedef struct {
  struct MHD_PostProcessor *pp;
  char password[LI_WEB_PASSWORD_MAX + 1];
  size_t len, body;
  bool too_big;
} s_req;

static void s_client_addr(struct MHD_Connection *con, uint8_t out[16]) {
  memset(out, 0, 16);
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return;
  if (ci->client_addr->sa_family == AF_INET)
    memcpy(out, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, 4);
  else if (ci->client_addr->sa_family == AF_INET6)
    memcpy(out, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
}

/* The address's failure entry (a new one replaces the stalest). */
static s_fails *s_fails_of(s_web *w, const uint8_t addr[16], uint64_t now) {
  s_fails *stale = &w->fails[0];
  for (int i = 0; i < LI_WEB_LOGIN_ADDRS_MAX; i++) {
    s_fails *x = &w->fails[i];
    if (x->window_ms && memcmp(x->addr, addr, 16) == 0) {
      if (now - x->window_ms > LI_WEB_LOGIN_WINDOW_S * 1000ull) {
        x->fails = 0;
        x->window_ms = now;
      }
      return x;
    }
    if (x->window_ms < stale->window_ms) stale = x;
  }
  memcpy(stale->addr, addr, 16);
  stale->fails = 0;
  stale->window_ms = now;
  return stale;
}

static bool s_login_allowed(s_web *w, s_fails *x, uint64_t now) {
  if (now - w->global_window_ms > LI_WEB_LOGIN_WINDOW_S * 1000ull) {
    w->global_fails = 0;
    w->global_window_ms = now;
  }
  return x->fails < LI_WEB_LOGIN_FAILS_MAX && w->global_fails < LI_WEB_LOGIN_FAILS_GLOBAL_MAX;
}

static void s_session_new(s_web *w, uint64_t now, char hex[S_TOKEN_BYTES * 2 + 1]) {
  s_session *slot = &w->sessions[0];
  for (int i = 0; i < LI_WEB_SESSIONS_MAX; i++)
    if (w->sessions[i].expires_ms < slot->expires_ms) slot = &w->sessions[i];
  randombytes_buf(slot->token, S_TOKEN_BYTES);
  slot->expires_ms = now + LI_WEB_SESSION_S * 1000ull;
  sodium_bin2hex(hex, S_TOKEN_BYTES * 2 + 1, slot->token, S_TOKEN_BYTES);
}

static bool s_session_valid(s_web *w, struct MHD_Connection *con, uint64_t now) {
  const char *c = MHD_lookup_connection_value(con, MHD_COOKIE_KIND, S_COOKIE);
  uint8_t tok[S_TOKEN_BYTES];
  size_t n = 0;
  if (!c || strlen(c) != S_TOKEN_BYTES * 2 || sodium_hex2bin(tok, sizeof tok, c, strlen(c), NULL, &n, NULL) != 0 ||
      n != S_TOKEN_BYTES)
    return false;
  for (int i = 0; i < LI_WEB_SESSIONS_MAX; i++)
    if (w->sessions[i].expires_ms > now && sodium_memcmp(w->sessions[i].token, tok, S_TOKEN_BYTES) == 0) return true;
  return false;
}

/* ---- responses ---- */

static enum MHD_Result s_send(struct MHD_Connection *con, li_web_reply *r, const char *cookie, const char *location,
                              const char *allow) {
  if (!r->body) {
    /* out of memory rendering the reply: an empty 500 */
    r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    r->type = "text/plain; charset=utf-8";
    r->len = 0;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
                                                              r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    li_web_reply_free(r);
    return MHD_NO;
  }
  r->body = NULL; /* the response owns it */
  MHD_add_response_header(resp, "Content-Type", r->type);
  MHD_add_response_header(resp, "Content-Security-Policy", s_csp);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  if (r->filename[0]) {
    char cd[128];
    snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", r->filename); /* ours: ASCII, no quotes */
    MHD_add_response_header(resp, "Content-Disposition", cd);
  }
  if (cookie) MHD_add_response_header(resp, "Set-Cookie", cookie);
  if (location) MHD_add_response_header(resp, "Location", location);
  if (allow) MHD_add_response_header(resp, "Allow", allow);
  enum MHD_Result ret = MHD_queue_response(con, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result s_error(struct MHD_Connection *con, int status, const char *title, const char *detail,
                               const char *allow) {
  li_web_reply r;
  li_web_error_page(&r, status, title, detail);
  return s_send(con, &r, NULL, NULL, allow);
}

static enum MHD_Result s_redirect(struct MHD_Connection *con, const char *to, const char *cookie) {
  li_web_reply r;
  li_web_error_page(&r, MHD_HTTP_SEE_OTHER, "请稍候", NULL);
  return s_send(con, &r, cookie, to, NULL);
}

/* ---- requests ---- */

static const char *s_arg(void *cls, const char *key) {
  return MHD_lookup_connection_value((struct MHD_Connection *)cls, MHD_GET_ARGUMENT_KIND, key);
}

static void s_today(char out[16]) {
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(out, 16, "%Y-%m-%d", &tm);
}

static enum MHD_Result s_page(s_web *w, struct MHD_Connection *con, const char *url) {
  char today[16];
  s_today(today);
  li_web_reply r;
  li_errbuf eb = {{0}};
  li_err e = li_web_page(&w->n, url, s_arg, con, li_wall_ms(), today, &r, &eb);
  if (e) {
    log_warnx("web: %s: %s", url, eb.msg);
    return s_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "读取本机副本出错", eb.msg, NULL);
  }
  return s_send(con, &r, NULL, NULL, NULL);
}

static enum MHD_Result s_post_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                    const char *content_type, const char *encoding, const char *data, uint64_t off,
                                    size_t size) {
  s_req *q = cls;
  if (strcmp(key, "password") != 0) return MHD_YES;
  if (off + size > LI_WEB_PASSWORD_MAX || q->len + size > LI_WEB_PASSWORD_MAX) {
    q->too_big = true;
    return MHD_NO;
  }
  memcpy(q->password + q->len, data, size);
  q->len += size;
  q->password[q->len] = '\0';
  return MHD_YES;
}

static enum MHD_Result s_login(s_web *w, struct MHD_Connection *con, s_req *q) {
  uint64_t now = li_wall_ms();
  uint8_t addr[16];
  s_client_addr(con, addr);
  s_fails *x = s_fails_of(w, addr, now);
  li_web_reply r;
  if (!s_login_allowed(w, x, now)) {
    li_web_login_page(&r, "尝试次数太多，请一分钟后再试。");
    r.status = MHD_HTTP_TOO_MANY_REQUESTS;
    return s_send(con, &r, NULL, NULL, NULL);
  }
  if (q->too_big) {
    li_web_login_page(&r, "密码太长。");
    r.status = MHD_HTTP_CONTENT_TOO_LARGE;
    return s_send(con, &r, NULL, NULL, NULL);
  }
  bool ok = q->len > 0 && crypto_pwhash_str_verify(w->hash, q->password, q->len) == 0;
  sodium_memzero(q->password, sizeof q->password);
  if (!ok) {
    x->fails++;
    w->global_fails++;
    if (x->fails == LI_WEB_LOGIN_FAILS_MAX)
      log_warnx("web: %d failed logins from one address; it waits %d s", LI_WEB_LOGIN_FAILS_MAX, LI_WEB_LOGIN_WINDOW_S);
    li_web_login_page(&r, "密码不对。");
    r.status = MHD_HTTP_UNAUTHORIZED;
    return s_send(con, &r, NULL, NULL, NULL);
  }
  char hex[S_TOKEN_BYTES * 2 + 1], cookie[S_TOKEN_BYTES * 2 + 96];
  s_session_new(w, now, hex);
  snprintf(cookie, sizeof cookie, S_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", hex);
  return s_redirect(con, "/", cookie);
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  s_web *w = cls;
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  bool login = strcmp(url, "/login") == 0;
  if (!*con_cls) {
    /* the first call: the request line and headers are read */
    if (!get && !(w->password && login && strcmp(method, "POST") == 0))
      return s_error(con, MHD_HTTP_METHOD_NOT_ALLOWED, "只读：只接受 GET 和 HEAD", method, "GET, HEAD");
    if (strlen(url) > LI_WEB_URL_MAX) return s_error(con, MHD_HTTP_URI_TOO_LONG, "网址太长", NULL, NULL);
    if (MHD_get_connection_values(con, MHD_HEADER_KIND, NULL, NULL) /* NULL: count */ >
        LI_WEB_HEADERS_MAX)
      return s_error(con, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "请求头太多", NULL, NULL);
    if (url[0] != '/' || strstr(url, "..") || strchr(url, '\\'))
      return s_error(con, MHD_HTTP_NOT_FOUND, "没有这个页面", NULL, NULL); /* no files are served at all */
    if (!get) {
      s_req *q = calloc(1, sizeof *q);
      if (!q) return MHD_NO;
      q->pp = MHD_create_post_processor(con, 512, s_post_field, q);
      if (!q->pp) {
        free(q);
        return s_error(con, MHD_HTTP_BAD_REQUEST, "登录表单不对", NULL, NULL);
      }
      *con_cls = q;
      return MHD_YES;
    }
    uint64_t now = li_wall_ms();
    bool open_asset = strcmp(url, "/app.css") == 0 || strncmp(url, "/favicon.", 9) == 0;
    if (w->password && !login && !open_asset && !s_session_valid(w, con, now)) {
      if (strncmp(url, "/api/", 5) == 0 || strstr(url, ".csv"))
        return s_error(con, MHD_HTTP_UNAUTHORIZED, "需要登录", NULL, NULL);
      return s_redirect(con, "/login", NULL);
    }
    if (login) {
      li_web_reply r;
      if (!w->password) return s_redirect(con, "/", NULL);
      li_web_login_page(&r, NULL);
      return s_send(con, &r, NULL, NULL, NULL);
    }
    return s_page(w, con, url);
  }
  s_req *q = *con_cls;
  if (*upload_size) {
    q->body += *upload_size;
    if (q->body > LI_WEB_FORM_BYTES_MAX)
      q->too_big = true;
    else if (!q->too_big)
      MHD_post_process(q->pp, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  return s_login(w, con, q);
}

static void s_completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe) {
  s_req *q = *con_cls;
  if (!q) return;
  if (q->pp) MHD_destroy_post_processor(q->pp);
  sodium_memzero(q->password, sizeof q->password);
  free(q);
  *con_cls = NULL;
}

/* libmicrohttpd's own messages (its format strings), at debug level */
__attribute__((format(printf, 2, 0))) static void s_mhd_log(void *cls, const char *fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  buf[strcspn(buf, "\n")] = '\0';
  log_debug("web: libmicrohttpd: %s", buf);
}

/* ---- run ---- */

li_err li_web_run(const char *dir, const char *listen, li_errbuf *eb) {
  li_web_addr a;
  li_err e = li_web_parse_listen(listen ? listen : LI_WEB_LISTEN_DEFAULT, &a, eb);
  if (e) return e;
  if (sodium_init() < 0) return li_fail(eb, LI_ERR_IO, "libsodium cannot start");
  s_web *w = sodium_malloc(sizeof *w); /* holds the hash and the session tokens */
  if (!w) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  memset(w, 0, sizeof *w);
  if ((e = s_password_load(dir, w->hash, &w->password, eb))) goto out;
  if (!a.loopback && !w->password) {
    e = li_fail(eb, LI_ERR_CONFIG,
                "the dashboard on %s (not loopback) needs a password: run "
                "'linli web --set-password' first, or "
                "listen on 127.0.0.1",
                a.host);
    goto out;
  }
  if ((e = li_node_open_readonly(&w->n, dir, eb))) goto out;
  struct sockaddr_in s4;
  struct sockaddr_in6 s6;
  struct sockaddr *sa;
  memset(&s4, 0, sizeof s4);
  memset(&s6, 0, sizeof s6);
  if (a.v6) {
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons((uint16_t)a.port);
    inet_pton(AF_INET6, a.host, &s6.sin6_addr);
    sa = (struct sockaddr *)&s6;
  } else {
    s4.sin_family = AF_INET;
    s4.sin_port = htons((uint16_t)a.port);
    inet_pton(AF_INET, a.host, &s4.sin_addr);
    sa = (struct sockaddr *)&s4;
  }
  /* SIGINT/SIGTERM are waited for here: blocked before libmicrohttpd's
   * thread starts, so it inherits the mask and they come to sigwait */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (a.v6 ? MHD_USE_IPv6 : 0);
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, (uint16_t)a.port, NULL, NULL, s_handle, w, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)LI_WEB_CONN_BYTES_MAX, MHD_OPTION_CONNECTION_LIMIT, (unsigned)LI_WEB_CONNECTIONS_MAX,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)LI_WEB_PER_IP_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)LI_WEB_IDLE_S, MHD_OPTION_NOTIFY_COMPLETED, s_completed, w, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, w,
      MHD_OPTION_END);
  if (!d) {
    e = li_fail(eb, LI_ERR_IO, "cannot listen on %s:%d (in use, or not an address of this computer)", a.host, a.port);
    li_node_close(&w->n);
    goto out;
  }
  printf("linli web: the dashboard of %s is at http://%s%s%s:%d/%s\n", w->n.cfg.name, a.v6 ? "[" : "", a.host,
         a.v6 ? "]" : "", a.port, w->password ? " (password set)" : "");
  fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  MHD_stop_daemon(d);
  li_node_close(&w->n);
  printf("linli web: stopped\n");
out:
  sodium_free(w);
  return e;
}

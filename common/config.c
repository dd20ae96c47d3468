/* config: linli.conf, parsed with libinih (config.h).
 *
 * Invariants:
 *  1. Every key is in s_keys; an unknown section or key, a key set twice, a
 *     bad value, a missing required key or a role mismatch is LI_ERR_CONFIG
 *     naming the origin, line and key. Nothing is guessed or ignored.
 *  2. A failed parse leaves the caller's li_config untouched.
 *  3. Whatever li_config_write writes, li_config_load reads back equal.
 *
 * Line numbers: inih hands the handler no line number in this build
 * (INI_HANDLER_LINENO is 0), so the text is fed through our own reader,
 * which counts lines; inih calls the handler for a line right after reading
 * it. The reader also refuses lines longer than inih's buffer, which inih
 * would otherwise split silently into two lines. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "li_limits.h"

#define SEAL_INTERVAL_DEFAULT_MS 1000u
#define HEARTBEAT_DEFAULT_MS 2000u
#define PEER_TIMEOUT_DEFAULT_MS 10000u
/* The longest line li_config_write emits: it must load back (invariant 3). */
/* inih needs room for "\r\n\0" beyond a line's content, and we keep one spare. */
#define CONFIG_LINE_MAX (INI_MAX_LINE - 4)
#define CONFIG_WRITE_MAX 8192

typedef enum {
  K_NAME,
  K_ROLE,
  K_SCOPE,
  K_PK,
  K_PATH,
  K_ENDPOINT,
  K_U32,
  K_U64,
  K_LEVEL,
} key_kind;

typedef struct {
  const char *section;
  const char *name;
  key_kind kind;
  size_t offset;
  size_t size; /* of the char array, for K_PATH / K_ENDPOINT */
  uint64_t min, max;
} key_spec;

#define FIELD(f) offsetof(li_config, f), sizeof(((li_config *)0)->f)

enum {
  KI_NAME,
  KI_ROLE,
  KI_SCOPE,
  KI_NETWORK,
  KI_KEY_FILE,
  KI_REPLICA,
  KI_CACHE,
  KI_LISTEN,
  KI_HUB,
  KI_HUB_KEY,
  KI_SEAL,
  KI_ROWS,
  KI_BYTES,
  KI_WINDOW,
  KI_HEARTBEAT,
  KI_TIMEOUT,
  KI_SKEW,
  KI_LEVEL,
  KI__COUNT
};

static const key_spec s_keys[KI__COUNT] = {
    [KI_NAME] = {"node", "name", K_NAME, FIELD(name), 0, 0},
    [KI_ROLE] = {"node", "role", K_ROLE, FIELD(role), 0, 0},
    [KI_SCOPE] = {"node", "scope", K_SCOPE, FIELD(scope), 0, 0},
    [KI_NETWORK] = {"node", "network", K_PK, FIELD(network), 0, 0},
    [KI_KEY_FILE] = {"node", "key_file", K_PATH, FIELD(key_file), 0, 0},
    [KI_REPLICA] = {"node", "replica", K_PATH, FIELD(replica), 0, 0},
    [KI_CACHE] = {"node", "cache_mib", K_U32, FIELD(cache_mib), LI_CACHE_MIB_MIN, LI_CACHE_MIB_MAX},
    [KI_LISTEN] = {"sync", "listen", K_ENDPOINT, FIELD(listen), 0, 0},
    [KI_HUB] = {"sync", "hub", K_ENDPOINT, FIELD(hub), 0, 0},
    [KI_HUB_KEY] = {"sync", "hub_key", K_PK, FIELD(hub_key), 0, 0},
    [KI_SEAL] = {"sync", "seal_interval_ms", K_U32, FIELD(seal_interval_ms), 10, 3600000},
    [KI_ROWS] = {"sync", "batch_rows_max", K_U32, FIELD(batch_rows_max), 1, LI_BATCH_ROWS_MAX},
    [KI_BYTES] = {"sync", "batch_bytes_max", K_U32, FIELD(batch_bytes_max), 1024,
                  LI_BATCH_BYTES_MAX},
    [KI_WINDOW] = {"sync", "window", K_U32, FIELD(window), 1, LI_WINDOW_MAX},
    [KI_HEARTBEAT] = {"sync", "heartbeat_ms", K_U32, FIELD(heartbeat_ms), 100, 600000},
    [KI_TIMEOUT] = {"sync", "peer_timeout_ms", K_U32, FIELD(peer_timeout_ms), 500, 3600000},
    [KI_SKEW] = {"sync", "max_clock_skew_ms", K_U64, FIELD(max_clock_skew_ms), LI_SKEW_MIN_MS,
                 LI_SKEW_MAX_MS},
    [KI_LEVEL] = {"log", "level", K_LEVEL, FIELD(log_level), 0, 0},
};

typedef struct {
  li_config cfg;
  const char *origin;
  li_errbuf *eb;
  li_err err; /* first error; later lines are not looked at */
  /* reader state */
  const char *text;
  size_t pos;
  int lineno;
  bool line_too_long;
  /* line each key was set on, 0 when absent */
  int seen_line[KI__COUNT];
} parse_ctx;

/* ---- validators ------------------------------------------------------- */

static bool s_name_chars(const char *s, bool lower_only) {
  size_t n = 0;
  for (; s[n] != '\0'; n++) {
    char ch = s[n];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              (!lower_only && ch >= 'A' && ch <= 'Z');
    if (!ok || n >= LI_NAME_MAX)
      return false;
  }
  return n >= 1;
}

int li_valid_name(const char *s) {
  return s != NULL && s_name_chars(s, false);
}

int li_valid_scope(const char *s) {
  _Static_assert(LI_SCOPE_MAX == LI_NAME_MAX, "scope and name share a length bound");
  return s != NULL && s_name_chars(s, true);
}

static bool s_is_host_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '.' || ch == '-' || ch == '_';
}

static bool s_valid_port(const char *p) {
  size_t n = strlen(p);
  if (n < 1 || n > 5 || p[0] == '0')
    return false;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return false;
    v = v * 10 + (unsigned)(p[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

/* HOST is '*', a name or IPv4 address, or a bracketed IPv6 address. */
static bool s_valid_tcp(const char *hp) {
  const char *colon = strrchr(hp, ':');
  if (colon == NULL || colon == hp)
    return false;
  size_t hlen = (size_t)(colon - hp);
  if (hp[0] == '[') {
    if (hlen < 3 || hp[hlen - 1] != ']')
      return false;
    for (size_t i = 1; i + 1 < hlen; i++) {
      char ch = hp[i];
      bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.';
      if (!ok)
        return false;
    }
  } else if (!(hlen == 1 && hp[0] == '*')) {
    for (size_t i = 0; i < hlen; i++)
      if (!s_is_host_char(hp[i]))
        return false;
  }
  return s_valid_port(colon + 1);
}

/* Printable, no spaces: an ipc path that round-trips through the config. */
static bool s_valid_ipc(const char *p) {
  if (*p == '\0')
    return false;
  for (; *p != '\0'; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f || *p == ';')
      return false;
  return true;
}

int li_valid_endpoint(const char *s) {
  if (s == NULL || strnlen(s, LI_ENDPOINT_MAX) >= LI_ENDPOINT_MAX)
    return 0;
  if (strncmp(s, "tcp://", 6) == 0)
    return s_valid_tcp(s + 6);
  if (strncmp(s, "ipc://", 6) == 0)
    return s_valid_ipc(s + 6);
  return 0;
}

/* A path that survives an INI round trip: no control characters, no
 * leading or trailing blank, no inline comment (" ;"), and no leading ';',
 * which li_config_write's "key = value" would turn into one. */
static bool s_valid_path(const char *s, size_t cap) {
  size_t n = strnlen(s, cap);
  if (n == 0 || n >= cap || s[0] == ' ' || s[n - 1] == ' ')
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f)
      return false;
    if (ch == ';' && (i == 0 || s[i - 1] == ' '))
      return false;
  }
  return true;
}

static bool s_parse_u64(const char *s, uint64_t *out) {
  size_t n = strlen(s);
  if (n == 0 || n > 19) /* 19 digits never overflow uint64_t */
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

const char *li_role_name(li_role r) {
  switch (r) {
  case LI_ROLE_COMMITTEE:
    return "committee";
  case LI_ROLE_HUB:
    return "hub";
  }
  return "unknown";
}

void li_config_defaults(li_config *c) {
  assert(c != NULL);
  memset(c, 0, sizeof *c);
  snprintf(c->key_file, sizeof c->key_file, "node.key");
  snprintf(c->replica, sizeof c->replica, "replica.db");
  c->seal_interval_ms = SEAL_INTERVAL_DEFAULT_MS;
  c->batch_rows_max = LI_BATCH_ROWS_DEFAULT;
  c->batch_bytes_max = LI_BATCH_BYTES_DEFAULT;
  c->window = LI_WINDOW_DEFAULT;
  c->heartbeat_ms = HEARTBEAT_DEFAULT_MS;
  c->peer_timeout_ms = PEER_TIMEOUT_DEFAULT_MS;
  c->max_clock_skew_ms = LI_SKEW_DEFAULT_MS;
  c->log_level = LI_LOG_INFO;
  c->cache_mib = LI_CACHE_MIB_COMMITTEE; /* the role's, once the role is known (li_config_parse) */
}

uint32_t li_config_cache_mib_default(li_role role) {
  return role == LI_ROLE_HUB ? LI_CACHE_MIB_HUB : LI_CACHE_MIB_COMMITTEE;
}

/* ---- parsing ---------------------------------------------------------- */


static void s_ctx_fail(parse_ctx *x, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_ctx_fail(parse_ctx *x, int line, const char *fmt, ...) {
  char what[LI_ERRBUF_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (line > 0)
    x->err = li_fail(x->eb, LI_ERR_CONFIG, "%s:%d: %s", x->origin, line, what);
  else
    x->err = li_fail(x->eb, LI_ERR_CONFIG, "%s: %s", x->origin, what);
}

static void s_set_value(parse_ctx *x, const key_spec *k, const char *v) {
  char *field = (char *)&x->cfg + k->offset;
  int line = x->lineno;
  switch (k->kind) {
  case K_NAME:
    if (!li_valid_name(v))
      s_ctx_fail(x, line, "name '%s' must be 1 to %d (LI_NAME_MAX) of A-Z a-z 0-9 _ -", v, LI_NAME_MAX);
    else
      snprintf(field, k->size, "%s", v);
    return;
  case K_SCOPE:
    if (!li_valid_scope(v))
      s_ctx_fail(x, line, "scope '%s' must be 1 to %d (LI_SCOPE_MAX) of a-z 0-9 _ -", v, LI_SCOPE_MAX);
    else
      snprintf(field, k->size, "%s", v);
    return;
  case K_ROLE:
    if (strcmp(v, "committee") == 0)
      x->cfg.role = LI_ROLE_COMMITTEE;
    else if (strcmp(v, "hub") == 0)
      x->cfg.role = LI_ROLE_HUB;
    else
      s_ctx_fail(x, line, "role '%s' must be 'committee' or 'hub'", v);
    return;
  case K_PK: {
    li_errbuf kb = {{0}};
    if (li_pk_from_text(v, (uint8_t *)field, &kb) != LI_OK)
      s_ctx_fail(x, line, "%s: %s", k->name, kb.msg);
    return;
  }
  case K_PATH:
    if (!s_valid_path(v, k->size))
      s_ctx_fail(x, line, "%s must be a path of 1 to %zu printable characters (LI_PATH_MAX)", k->name,
                 k->size - 1);
    else
      snprintf(field, k->size, "%s", v);
    return;
  case K_ENDPOINT:
    if (!li_valid_endpoint(v))
      s_ctx_fail(x, line, "%s '%s' must be tcp://HOST:PORT (port 1-65535) or ipc://PATH, at most %d characters "
                 "(LI_ENDPOINT_MAX)", k->name, v, LI_ENDPOINT_MAX - 1);
    else
      snprintf(field, k->size, "%s", v);
    return;
  case K_U32:
  case K_U64: {
    uint64_t n = 0;
    if (!s_parse_u64(v, &n) || n < k->min || n > k->max) {
      s_ctx_fail(x, line, "%s must be a whole number from %llu to %llu, got '%s'", k->name,
                 (unsigned long long)k->min, (unsigned long long)k->max, v);
      return;
    }
    if (k->kind == K_U32) {
      uint32_t n32 = (uint32_t)n;
      memcpy(field, &n32, sizeof n32);
    } else {
      memcpy(field, &n, sizeof n);
    }
    return;
  }
  case K_LEVEL:
    if (li_log_parse_level(v, &x->cfg.log_level) != 0)
      s_ctx_fail(x, line, "level '%s' must be error, warn, info or debug", v);
    return;
  }
  assert(!"unreachable key kind");
}

static int s_handler(void *user, const char *section, const char *name, const char *value) {
  parse_ctx *x = user;
  if (x->err != LI_OK)
    return 1; /* the first error is the one reported */
  if (section[0] == '\0') {
    s_ctx_fail(x, x->lineno, "key '%s' is outside any section", name);
    return 0;
  }
  bool known_section = false;
  for (int i = 0; i < KI__COUNT; i++) {
    const key_spec *k = &s_keys[i];
    if (strcmp(section, k->section) != 0)
      continue;
    known_section = true;
    if (strcmp(name, k->name) != 0)
      continue;
    if (x->seen_line[i] != 0) {
      s_ctx_fail(x, x->lineno, "key '%s' in section [%s] is set twice (first on line %d)", name,
                 section, x->seen_line[i]);
      return 0;
    }
    x->seen_line[i] = x->lineno;
    s_set_value(x, k, value);
    return x->err == LI_OK;
  }
  if (!known_section)
    s_ctx_fail(x, x->lineno, "unknown section [%s] (known: [node], [sync], [log])", section);
  else
    s_ctx_fail(x, x->lineno, "unknown key '%s' in section [%s]", name, section);
  return 0;
}

/* fgets for a string that counts lines and refuses lines inih would split. */
static char *s_reader(char *str, int num, void *stream) {
  parse_ctx *x = stream;
  const char *p = x->text + x->pos;
  if (*p == '\0' || x->line_too_long)
    return NULL;
  const char *nl = strchr(p, '\n');
  size_t len = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
  size_t content = nl != NULL ? len - 1 : len;
  x->lineno++;
  /* Same bound as CONFIG_LINE_MAX, taken from the buffer inih really has. */
  if (num < 4 || content + 4 > (size_t)num) {
    x->line_too_long = true;
    return NULL;
  }
  memcpy(str, p, len);
  str[len] = '\0';
  x->pos += len;
  return str;
}

static void s_check_required(parse_ctx *x) {
  static const int required[] = {KI_NAME, KI_ROLE, KI_SCOPE, KI_NETWORK};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    const key_spec *k = &s_keys[required[i]];
    if (x->seen_line[required[i]] == 0) {
      s_ctx_fail(x, 0, "missing required key '%s' in section [%s]", k->name, k->section);
      return;
    }
  }
}

static void s_check_role(parse_ctx *x) {
  li_config *c = &x->cfg;
  bool street = strcmp(c->scope, "street") == 0;
  if (c->role == LI_ROLE_COMMITTEE) {
    if (street)
      s_ctx_fail(x, x->seen_line[KI_SCOPE],
                 "a committee's scope is its own code, not 'street' (only the hub has it)");
    else if (x->seen_line[KI_LISTEN] != 0)
      s_ctx_fail(x, x->seen_line[KI_LISTEN],
                 "key 'listen' is for a hub only; a committee connects with 'hub'");
  } else {
    assert(c->role == LI_ROLE_HUB);
    if (!street)
      s_ctx_fail(x, x->seen_line[KI_SCOPE], "a hub's scope must be 'street', not '%s'",
                 c->scope);
    else if (x->seen_line[KI_HUB] != 0)
      s_ctx_fail(x, x->seen_line[KI_HUB],
                 "key 'hub' is for a committee only; a hub uses 'listen'");
    else if (x->seen_line[KI_HUB_KEY] != 0)
      s_ctx_fail(x, x->seen_line[KI_HUB_KEY],
                 "key 'hub_key' is for a committee only; a hub's key is the network key");
  }
}

li_err li_config_parse(li_config *c, const char *text, const char *origin, li_errbuf *eb) {
  assert(c != NULL && text != NULL);
  parse_ctx *x = calloc(1, sizeof *x);
  if (x == NULL)
    return li_fail(eb, LI_ERR_NOMEM, "out of memory parsing %s", origin ? origin : "config");
  li_config_defaults(&x->cfg);
  x->origin = origin != NULL ? origin : "config";
  x->eb = eb;
  x->text = text;

  int rc = ini_parse_stream(s_reader, x, s_handler, x);
  if (x->err == LI_OK) {
    if (x->line_too_long)
      s_ctx_fail(x, x->lineno, "line is too long (at most %d characters)", CONFIG_LINE_MAX);
    else if (rc == -2)
      x->err = li_fail(eb, LI_ERR_NOMEM, "out of memory parsing %s", x->origin);
    else if (rc != 0)
      s_ctx_fail(x, rc, "syntax error: expected '[section]', 'key = value' or a comment");
  }
  if (x->err == LI_OK)
    s_check_required(x);
  if (x->err == LI_OK)
    s_check_role(x);
  if (x->err == LI_OK && x->seen_line[KI_HUB_KEY] == 0)
    memcpy(x->cfg.hub_key, x->cfg.network, LI_PK_BYTES);
  if (x->err == LI_OK && x->seen_line[KI_CACHE] == 0) x->cfg.cache_mib = li_config_cache_mib_default(x->cfg.role);

  li_err err = x->err;
  if (err == LI_OK)
    *c = x->cfg;
  free(x);
  return err;
}

/* ---- files ------------------------------------------------------------ */

li_err li_config_load(li_config *c, const char *path, li_errbuf *eb) {
  assert(c != NULL && path != NULL);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return li_fail(eb, LI_ERR_CONFIG, "config file %s does not exist", path);
    return li_fail(eb, LI_ERR_CONFIG, "cannot open config file %s: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return li_fail(eb, LI_ERR_CONFIG, "config file %s is not a regular file", path);
  }
  if (st.st_size > (off_t)LI_CONFIG_BYTES_MAX) {
    close(fd);
    return li_fail(eb, LI_ERR_CONFIG, "config file %s is %lld bytes; the limit is %u (LI_CONFIG_BYTES_MAX)", path,
                   (long long)st.st_size, LI_CONFIG_BYTES_MAX);
  }
  /* One byte more than the limit, in case the file grew since fstat. */
  char *text = malloc(LI_CONFIG_BYTES_MAX + 2);
  if (text == NULL) {
    close(fd);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory reading %s", path);
  }
  size_t len = 0;
  while (len < LI_CONFIG_BYTES_MAX + 1) {
    ssize_t r = read(fd, text + len, LI_CONFIG_BYTES_MAX + 1 - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      free(text);
      return li_fail(eb, LI_ERR_CONFIG, "cannot read config file %s: %s", path, strerror(e));
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  text[len] = '\0';
  li_err err;
  const char *nul = memchr(text, '\0', len);
  if (len > LI_CONFIG_BYTES_MAX) {
    err = li_fail(eb, LI_ERR_CONFIG, "config file %s is larger than the limit of %u bytes (LI_CONFIG_BYTES_MAX)", path,
                  LI_CONFIG_BYTES_MAX);
  } else if (nul != NULL) {
    int line = 1;
    for (const char *p = text; p < nul; p++)
      line += *p == '\n';
    err = li_fail(eb, LI_ERR_CONFIG, "%s:%d: contains a NUL byte; a config is text", path, line);
  } else {
    err = li_config_parse(c, text, path, eb);
  }
  free(text);
  return err;
}

typedef struct {
  char *buf;
  size_t cap, len;
  bool overflow;
} out_buf;

static void s_out(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_out(out_buf *o, const char *fmt, ...) {
  if (o->overflow)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= o->cap - o->len)
    o->overflow = true;
  else
    o->len += (size_t)n;
}

/* Renders c as INI text; LI_ERR_CONFIG if a value would not load back. */
static li_err s_render(const li_config *c, out_buf *o, li_errbuf *eb) {
  assert(c->role == LI_ROLE_COMMITTEE || c->role == LI_ROLE_HUB);
  bool hub = c->role == LI_ROLE_HUB;
  if (!li_valid_name(c->name) || !li_valid_scope(c->scope))
    return li_fail(eb, LI_ERR_CONFIG, "cannot write config: invalid name or scope");
  if (!s_valid_path(c->key_file, sizeof c->key_file) ||
      !s_valid_path(c->replica, sizeof c->replica) ||
      strlen(c->key_file) + 11 > CONFIG_LINE_MAX || strlen(c->replica) + 10 > CONFIG_LINE_MAX)
    return li_fail(eb, LI_ERR_CONFIG,
                   "cannot write config: key_file or replica path is empty, not printable or "
                   "longer than %d characters",
                   CONFIG_LINE_MAX - 11);
  const char *ep = hub ? c->listen : c->hub;
  if (ep[0] != '\0' && (!li_valid_endpoint(ep) || strlen(ep) + 9 > CONFIG_LINE_MAX))
    return li_fail(eb, LI_ERR_CONFIG, "cannot write config: invalid endpoint '%s'", ep);

  char network[LI_PK_TEXT_LEN + 1], hub_key[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(c->network, network);
  li_pk_to_text(c->hub_key, hub_key);
  const char *level_names[] = {"error", "warn", "info", "debug"};
  assert((unsigned)c->log_level < 4);

  s_out(o, "# linli node configuration. Every key is listed; an unknown key is an error.\n"
           "# Paths are relative to the node directory.\n\n");
  s_out(o, "[node]\n");
  s_out(o, "# This node's roster name: 1-32 of A-Z a-z 0-9 _ -\n");
  s_out(o, "name = %s\n", c->name);
  s_out(o, "# committee | hub\n");
  s_out(o, "role = %s\n", li_role_name(c->role));
  s_out(o, "# A committee's scope code; the hub's scope is street\n");
  s_out(o, "scope = %s\n", c->scope);
  s_out(o, "# The network this node belongs to: the hub's public key, pinned at init\n");
  s_out(o, "network = %s\n", network);
  s_out(o, "key_file = %s\n", c->key_file);
  s_out(o, "replica = %s\n", c->replica);
  s_out(o, "# SQLite page cache of the replica, MiB (hub %u, committee %u by default)\n", LI_CACHE_MIB_HUB,
        LI_CACHE_MIB_COMMITTEE);
  s_out(o, "cache_mib = %u\n\n", c->cache_mib);
  s_out(o, "[sync]\n");
  if (hub && c->listen[0] != '\0') {
    s_out(o, "# Where committees connect: tcp://HOST:PORT or ipc://PATH\n");
    s_out(o, "listen = %s\n", c->listen);
  }
  if (!hub) {
    if (c->hub[0] != '\0') {
      s_out(o, "# The hub to sync with: tcp://HOST:PORT or ipc://PATH\n");
      s_out(o, "hub = %s\n", c->hub);
    }
    s_out(o, "# The hub's public key (CURVE server key)\n");
    s_out(o, "hub_key = %s\n", hub_key);
  }
  s_out(o, "# How often local changes are sealed into signed commits\n");
  s_out(o, "seal_interval_ms = %u\n", c->seal_interval_ms);
  s_out(o, "# Per sync batch: rows, bytes, and batches in flight before an ack\n");
  s_out(o, "batch_rows_max = %u\n", c->batch_rows_max);
  s_out(o, "batch_bytes_max = %u\n", c->batch_bytes_max);
  s_out(o, "window = %u\n", c->window);
  s_out(o, "heartbeat_ms = %u\n", c->heartbeat_ms);
  s_out(o, "peer_timeout_ms = %u\n", c->peer_timeout_ms);
  s_out(o, "# Commits stamped further ahead of our clock than this are held\n");
  s_out(o, "max_clock_skew_ms = %llu\n\n", (unsigned long long)c->max_clock_skew_ms);
  s_out(o, "[log]\n");
  s_out(o, "# error | warn | info | debug\n");
  s_out(o, "level = %s\n", level_names[c->log_level]);
  if (o->overflow)
    return li_fail(eb, LI_ERR_CONFIG, "cannot write config: too large");
  return LI_OK;
}

li_err li_config_write(const li_config *c, const char *path, li_errbuf *eb) {
  assert(c != NULL && path != NULL);
  char *buf = malloc(CONFIG_WRITE_MAX);
  if (buf == NULL)
    return li_fail(eb, LI_ERR_NOMEM, "out of memory writing %s", path);
  out_buf o = {buf, CONFIG_WRITE_MAX, 0, false};
  li_err err = s_render(c, &o, eb);
  if (err != LI_OK) {
    free(buf);
    return err;
  }
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    free(buf);
    if (e == EEXIST)
      return li_fail(eb, LI_ERR_EXISTS, "config file %s already exists", path);
    return li_fail(eb, LI_ERR_IO, "cannot create config file %s: %s", path, strerror(e));
  }
  bool bad = false;
  const char *p = buf;
  size_t left = o.len;
  while (left > 0 && !bad) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      bad = true;
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  int e = errno;
  if (!bad && fsync(fd) != 0) {
    bad = true;
    e = errno;
  }
  if (close(fd) != 0 && !bad) {
    bad = true;
    e = errno;
  }
  free(buf);
  if (bad) {
    unlink(path);
    return li_fail(eb, LI_ERR_IO, "cannot write config file %s: %s", path, strerror(e));
  }
  return LI_OK;
}

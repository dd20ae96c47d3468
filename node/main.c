/* main: the linli command line: dispatch and argument parsing. One binary,
 * subcommands; every command has --help. What a command reads comes from
 * node/inspect.c as data and is shown by node/render.c; main only parses,
 * calls and turns errors into exit codes (li_exit_code): 0 ok, 1 other
 * failure, 2 usage, 3 configuration/key/not initialised, 4 input rejected
 * (signature, scope, chain, clock, decode, tampered data), 5 database or
 * file error, 6 a chain of this node is stuck (sync --once). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "capture.h"
#include "hlc.h"
#include "driver.h"
#include "inspect.h"
#include "li_limits.h"
#include "log.h"
#include "merge.h"
#include "migrate.h"
#include "node.h"
#include "out.h"
#include "render.h"
#include "transport.h"
#include "recover.h"
#include "report.h"
#include "web.h"
#include "roster.h"
#include "seal.h"
#include "serve.h"

typedef struct s_cmd s_cmd;
struct s_cmd {
  const char *name;
  int (*run)(const s_cmd *cmd, const char *dir, int argc, char **argv);
  const char *usage;
  const char *help;
};

static int s_fail(li_err e, const li_errbuf *eb) {
  fprintf(stderr, "linli: %s\n", li_errmsg(eb, e));
  return li_exit_code(e);
}

static int s_usage(const char *cmd, const char *usage, const char *msg) {
  if (msg) fprintf(stderr, "linli %s: %s\n", cmd, msg);
  fprintf(stderr, "usage: linli [--dir DIR] %s\n(linli %s --help for more)\n", usage, cmd);
  return 2;
}

/* --help handling shared by every command; returns 1 if help was printed. */
static int s_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

/* Opens the node in dir: 0, or the exit code after saying why it cannot. */
static int s_open(li_node *n, const char *dir) {
  li_errbuf eb = {{0}};
  li_err e = li_node_open(n, dir, &eb);
  return e ? s_fail(e, &eb) : 0;
}

/* The preamble of a command that takes no arguments, or only --json when
 * json is not NULL: the arguments, then the node. false: the command ends
 * with *exit_code (a usage error, or a node that cannot be opened). */
static bool s_begin(int *exit_code, li_node *n, bool *json, const s_cmd *cmd, const char *dir, int argc,
                    char **argv) {
  if (json) *json = false;
  for (int i = 1; i < argc; i++) {
    if (json && strcmp(argv[i], "--json") == 0) {
      *json = true;
      continue;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "%s takes no arguments", cmd->name);
    *exit_code = s_usage(cmd->name, cmd->usage, json ? "unknown option" : msg);
    return false;
  }
  *exit_code = s_open(n, dir);
  return *exit_code == 0;
}

/* Closes the node; the exit code of e (printed when it is an error). */
static int s_end(li_node *n, li_err e, const li_errbuf *eb) {
  li_node_close(n);
  return e ? s_fail(e, eb) : 0;
}

/* ---- init / id ---- */

/* A text file of at most max bytes (`init --schema`, `schema apply`),
 * whole (*out malloc'd): 0, or the exit code after saying why it cannot be
 * read (missing, too big, a NUL byte). */
static int s_read_text(char **out, const char *file, const char *what, size_t max, const char *limit) {
  li_errbuf eb = {{0}};
  FILE *f = fopen(file, "rb");
  if (!f) return s_fail(li_fail(&eb, LI_ERR_IO, "cannot read %s %s: %s", what, file, strerror(errno)), &eb);
  char *text = calloc(1, max + 1);
  size_t n = text ? fread(text, 1, max + 1, f) : 0;
  fclose(f);
  if (!text) return s_fail(li_fail(&eb, LI_ERR_NOMEM, "out of memory reading %s", file), &eb);
  li_err e = LI_OK;
  if (n > max) e = li_fail(&eb, LI_ERR_TOO_BIG, "%s file %s is over %zu bytes (%s)", what, file, max, limit);
  else if (strlen(text) != n) e = li_fail(&eb, LI_ERR_DECODE, "%s file %s holds a NUL byte: not SQL text", what, file);
  if (e) {
    free(text);
    return s_fail(e, &eb);
  }
  *out = text;
  return 0;
}

static int s_read_schema(char **out, const char *file) {
  return s_read_text(out, file, "schema", LI_SCHEMA_BYTES_MAX - 1, "LI_SCHEMA_BYTES_MAX");
}

static int cmd_init(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  static const struct option opts[] = {{"role", 1, 0, 'r'},   {"name", 1, 0, 'n'},   {"scope", 1, 0, 's'},
                                       {"hub-key", 1, 0, 'k'}, {"listen", 1, 0, 'l'}, {"hub", 1, 0, 'H'},
                                       {"schema", 1, 0, 'S'},  {0, 0, 0, 0}};
  li_node_init_opts o = {0};
  const char *role = NULL, *schema_file = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'r': role = optarg; break;
    case 'n': o.name = optarg; break;
    case 's': o.scope = optarg; break;
    case 'k': o.hub_key = optarg; break;
    case 'l': o.listen = optarg; break;
    case 'H': o.hub = optarg; break;
    case 'S': schema_file = optarg; break;
    default: return s_usage("init", "init --role committee|hub --name NAME [--scope CODE] [--hub-key KEY]", NULL);
    }
  }
  if (optind != argc) return s_usage("init", "init ...", "unexpected argument");
  if (!role || (strcmp(role, "hub") != 0 && strcmp(role, "committee") != 0))
    return s_usage("init", "init --role committee|hub --name NAME ...", "--role must be committee or hub");
  o.role = strcmp(role, "hub") == 0 ? LI_ROLE_HUB : LI_ROLE_COMMITTEE;
  char *schema = NULL;
  if (schema_file) {
    int rc = s_read_schema(&schema, schema_file);
    if (rc) return rc;
    o.schema_sql = schema;
  }
  li_errbuf eb = {{0}};
  li_err e = li_node_init(dir, &o, &eb);
  free(schema);
  if (e) return s_fail(e, &eb);
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  char pk[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(n.id.pk, pk);
  printf("initialised %s %s (scope %s) in %s\npublic key: %s\n", li_role_name(n.cfg.role), n.cfg.name, n.cfg.scope,
         dir, pk);
  if (n.cfg.role == LI_ROLE_HUB)
    printf("committees pin this key: linli init --role committee --name NAME --scope CODE --hub-key %s\n", pk);
  else
    printf("on the hub, admit this committee: linli roster add %s %s --scope %s\n", n.cfg.name, pk, n.cfg.scope);
  li_node_close(&n);
  return 0;
}

/* --curve: the key's CURVE form, the one the hub's log names a key it
 * refused by (a key not in the roster has no roster form to show there). */
static int cmd_id(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_node n;
  int rc;
  bool curve = argc == 2 && strcmp(argv[1], "--curve") == 0;
  if (!s_begin(&rc, &n, NULL, cmd, dir, curve ? 1 : argc, argv)) return rc;
  char pk[LI_PK_TEXT_LEN + 1 > LI_CURVE_TEXT_LEN + 1 ? LI_PK_TEXT_LEN + 1 : LI_CURVE_TEXT_LEN + 1];
  if (curve && li_transport_curve_text(n.id.pk, pk) != 0) {
    li_errbuf eb = {{0}};
    return s_end(&n, li_fail(&eb, LI_ERR_KEY, "this node's key has no CURVE form"), &eb);
  }
  if (!curve) li_pk_to_text(n.id.pk, pk);
  printf("%s\n", pk);
  li_node_close(&n);
  return 0;
}

/* ---- roster ---- */

static int cmd_roster(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  if (argc < 2) return s_usage(cmd->name, cmd->usage, "which roster command?");
  const char *sub = argv[1];
  const char *scope = NULL;
  /* by hand, not getopt: a public key is base64url and begins with '-' one
   * time in 64 ("-Wx..."), which getopt would take for options */
  const char *pos[3] = {NULL, NULL, NULL};
  int npos = 0;
  bool rest = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!rest && strcmp(a, "--") == 0) rest = true;
    else if (!rest && strcmp(a, "--scope") == 0 && i + 1 < argc) scope = argv[++i];
    else if (!rest && strncmp(a, "--scope=", 8) == 0) scope = a + 8;
    else if (!rest && strncmp(a, "--", 2) == 0)
      return s_usage(cmd->name, cmd->usage, "unknown option or --scope without CODE");
    else if (npos < 3) pos[npos++] = a;
    else npos++;
  }
  bool add = strcmp(sub, "add") == 0, remove = strcmp(sub, "remove") == 0, list = strcmp(sub, "list") == 0;
  bool replace = strcmp(sub, "replace") == 0;
  if (!add && !remove && !list && !replace) return s_usage(cmd->name, cmd->usage, "unknown roster command");
  if (replace && (npos != 2 || scope)) return s_usage(cmd->name, cmd->usage, "roster replace needs NAME NEWKEY");
  if (add && (npos != 2 || !scope)) return s_usage(cmd->name, cmd->usage, "roster add needs NAME PUBKEY --scope CODE");
  if (remove && npos != 1) return s_usage(cmd->name, cmd->usage, "roster remove needs NAME");
  if (list && npos != 0) return s_usage(cmd->name, cmd->usage, "roster list takes no arguments");
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  li_errbuf eb = {{0}};
  li_err e;
  if (add) {
    e = li_roster_add(n.r, pos[0], pos[1], scope, li_wall_ms(), &eb);
    if (!e) printf("added %s (scope %s)\n", pos[0], scope);
  } else if (replace) {
    uint64_t after = 0;
    e = li_roster_replace(n.r, pos[0], pos[1], li_wall_ms(), &after, &eb);
    if (!e)
      printf("replaced the key of %s: the old key's commits up to #%llu stay valid, later ones are refused; the new key "
             "is admitted for the same scope\n", pos[0], (unsigned long long)after);
  } else if (remove) {
    uint64_t after = 0;
    e = li_roster_remove(n.r, pos[0], li_wall_ms(), &after, &eb);
    if (!e) printf("removed %s: its commits after #%llu are no longer accepted\n", pos[0], (unsigned long long)after);
  } else {
    li_member *m = NULL;
    size_t nm = 0;
    if ((e = li_roster_list(n.r, &m, &nm, &eb)) == LI_OK) li_render_roster(stdout, m, nm);
    free(m);
  }
  return s_end(&n, e, &eb);
}

/* ---- track / commit ---- */

static int cmd_track(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  if (argc != 2) return s_usage(cmd->name, cmd->usage, "track needs one table name");
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  li_errbuf eb = {{0}};
  li_err e;
  uint32_t version = 0;
  if (li_replica_role(n.r) == LI_ROLE_HUB) {
    /* DESIGN 14: a table the street tracks is part of the street schema */
    e = li_schema_track(n.r, argv[1], li_wall_ms(), &version, &eb);
    if (!e)
      printf("tracking %s: street schema version %u; every committee gets the table with the next sync, and its rows "
             "are sealed from now on\n", argv[1], version);
  } else if (li_capture_table(n.r, argv[1])) {
    e = li_fail(&eb, LI_ERR_EXISTS, "table '%s' is already tracked", argv[1]);
  } else {
    e = li_fail(&eb, LI_ERR_ROLE,
                "the street schema has no table '%s', and only the street office changes it: ask the street office "
                "to add it ('linli schema apply' on the hub), or keep the table local: an untracked table is "
                "never synced and never blocks anything", argv[1]);
  }
  return s_end(&n, e, &eb);
}

/* ---- schema ---- */

static li_err s_schema_row(void *ctx, const li_migration_row *row, li_errbuf *eb) {
  char when[48];
  li_hlc_format(row->hlc, when, sizeof when);
  printf("version %u  (street#%llu, %s)\n", row->version, (unsigned long long)row->seq, when);
  for (int i = 0; i < row->n; i++) {
    fputs("  ", stdout);
    li_out_text(stdout, row->stmt[i]);
    fputs(";\n", stdout);
  }
  return LI_OK;
}

static int cmd_schema(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  bool apply = argc == 3 && strcmp(argv[1], "apply") == 0, show = argc == 2 && strcmp(argv[1], "show") == 0;
  if (!apply && !show) return s_usage(cmd->name, cmd->usage, "schema apply FILE, or schema show");
  char *sql = NULL;
  int rc;
  if (apply && (rc = s_read_text(&sql, argv[2], "migration", LI_MIGRATION_BYTES_MAX, "LI_MIGRATION_BYTES_MAX")))
    return rc;
  li_node n;
  if ((rc = s_open(&n, dir))) {
    free(sql);
    return rc;
  }
  li_errbuf eb = {{0}};
  li_err e = LI_OK;
  if (apply) {
    uint32_t version = 0;
    e = li_schema_apply(n.r, sql, li_wall_ms(), &version, &eb);
    if (!e)
      printf("street schema version %u: applied here and sealed as a signed schema commit; every committee applies "
             "it with its next sync (bundles carry it too)\n", version);
  } else {
    printf("street schema version %u\n", li_replica_schema_version(n.r));
    e = li_migration_each(n.r, s_schema_row, NULL, &eb);
  }
  free(sql);
  return s_end(&n, e, &eb);
}

static int cmd_commit(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_node n;
  int rc;
  if (!s_begin(&rc, &n, NULL, cmd, dir, argc, argv)) return rc;
  li_errbuf eb = {{0}};
  li_seal_stats st;
  li_err e = li_seal(n.r, li_wall_ms(), &st, &eb);
  if (!e) {
    if (st.commits) printf("sealed %lld row change(s) into %d commit(s)\n", (long long)st.rows, st.commits);
    else if (!st.held_rows) printf("nothing to commit\n");
    if (st.held_rows) /* a table changed by hand: its changes are kept, and that is not success */
      e = li_fail(&eb, LI_ERR_SCHEMA, "%lld row change(s) not sealed: %s", (long long)st.held_rows, st.held);
  }
  return s_end(&n, e, &eb);
}

static int cmd_recover(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_node n;
  int rc;
  if (!s_begin(&rc, &n, NULL, cmd, dir, argc, argv)) return rc;
  li_errbuf eb = {{0}};
  char name[LI_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", n.cfg.name);
  li_recover_report rep;
  li_err e = li_node_lock(&n, "'linli recover'", &eb);
  if (!e) e = li_recover(&n, li_wall_ms(), &rep, &eb);
  if (!e) {
    char oldk[LI_PK_TEXT_LEN + 1], newk[LI_PK_TEXT_LEN + 1], hlc[48];
    li_pk_to_text(rep.old_key, oldk);
    li_pk_to_text(rep.new_key, newk);
    li_hlc_format(rep.hlc, hlc, sizeof hlc);
    printf("This node signs with a new key from now on; the old key file is kept as %s.\n"
           "Old key: %s\n"
           "Its clock starts again from %s (the later of this computer's clock and the newest time the street "
           "accepted).\n",
           rep.old_key_file, oldk, hlc);
    if (rep.settled)
      printf("The hub holds the old key's commits up to #%llu and takes them as final; %lld row(s) written after "
             "that are unsealed again and will be sealed under the new key.\n",
             (unsigned long long)rep.hub_seq, (long long)rep.rows_unsealed);
    else
      printf("At the next exchange with the hub (or import of a bundle from it), the old key's commits the hub "
             "holds are taken as final, and every row written after them is sealed again under the new key: "
             "nothing written here is lost.\n");
    printf("Now the street office runs, on the hub:\n  linli roster replace %s %s\n"
           "本机已改用新密钥。请街道在服务器上运行上面一行命令，然后本机正常同步即可，本机写入的记录不会丢失。\n%s\n",
           name, newk, newk);
  }
  return s_end(&n, e, &eb);
}

/* ---- status, log, verify, conflicts, digest ---- */

static int cmd_status(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_node n;
  bool json;
  int rc;
  if (!s_begin(&rc, &n, &json, cmd, dir, argc, argv)) return rc;
  li_errbuf eb = {{0}};
  li_status st;
  li_err e = li_inspect_status(&st, &n, li_wall_ms(), &eb);
  if (!e) li_render_status(stdout, &st, json);
  li_inspect_status_free(&st);
  return s_end(&n, e, &eb);
}

static int cmd_log(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  static const struct option opts[] = {{"table", 1, 0, 't'}, {"pk", 1, 0, 'p'}, {0, 0, 0, 0}};
  li_log_filter filter = {0};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 't') filter.table = optarg;
    else if (c == 'p') filter.pk = optarg;
    else return s_usage(cmd->name, cmd->usage, NULL);
  }
  if (optind != argc) return s_usage(cmd->name, cmd->usage, "unexpected argument");
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  li_errbuf eb = {{0}};
  li_log_cursor *cur = NULL;
  int64_t tampered = 0;
  li_err e = li_inspect_log_open(&cur, n.r, &filter, &eb);
  if (!e) e = li_render_log(stdout, cur, &tampered, &eb);
  li_inspect_log_close(&cur);
  if (e || !tampered) return s_end(&n, e, &eb);
  li_node_close(&n);
  fprintf(stderr, "linli: %lld stored commit(s) failed verification (run 'linli verify')\n", (long long)tampered);
  return li_exit_code(LI_ERR_TAMPERED);
}

static int cmd_verify(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_node n;
  int rc;
  if (!s_begin(&rc, &n, NULL, cmd, dir, argc, argv)) return rc;
  li_errbuf eb = {{0}};
  li_verify_result v;
  li_err e = li_inspect_verify(&v, n.r, &eb);
  if (!e) li_render_verify(stdout, &v);
  int64_t problems = v.problems_total, checked = v.checked;
  li_inspect_verify_free(&v);
  if (e || !problems) return s_end(&n, e, &eb);
  li_node_close(&n);
  fprintf(stderr, "linli: verify: %lld problem(s) in %lld stored commit(s)\n", (long long)problems, (long long)checked);
  return li_exit_code(LI_ERR_TAMPERED);
}

static int cmd_conflicts(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_node n;
  bool json;
  int rc;
  if (!s_begin(&rc, &n, &json, cmd, dir, argc, argv)) return rc;
  li_errbuf eb = {{0}};
  li_conflict_cursor *cur = NULL;
  li_err e = li_inspect_conflicts_open(&cur, n.r, &eb);
  if (!e) e = li_render_conflicts(stdout, cur, json, &eb);
  li_inspect_conflicts_close(&cur);
  return s_end(&n, e, &eb);
}

static int cmd_digest(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  const char *only = NULL;
  static const struct option opts[] = {{"scope", 1, 0, 's'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 's') only = optarg;
    else return s_usage(cmd->name, cmd->usage, NULL);
  }
  if (optind != argc) return s_usage(cmd->name, cmd->usage, "unexpected argument");
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  li_errbuf eb = {{0}};
  li_scope_digest *d = NULL;
  size_t nd = 0;
  li_err e = li_inspect_digest(&d, &nd, n.r, only, &eb);
  if (!e) li_render_digest(stdout, d, nd);
  free(d);
  return s_end(&n, e, &eb);
}

/* ---- serve / sync ---- */

static volatile sig_atomic_t s_stop;
static void s_on_signal(int sig) {
  (void)sig;
  s_stop = 1;
}

static int s_serve_run(const char *dir, bool once, int timeout_s) {
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  li_errbuf eb = {{0}};
  if (once && n.cfg.role != LI_ROLE_COMMITTEE)
    return s_end(&n, li_fail(&eb, LI_ERR_ROLE, "sync --once is for committees; the hub runs 'linli serve'"), &eb);
  li_err e = li_node_lock(&n, once ? "another 'linli sync --once'" : "another 'linli serve'", &eb);
  if (e) return s_end(&n, e, &eb);
  li_log_init(n.cfg.log_level, true);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  li_serve_opts o = {.stop = &s_stop, .once = once, .once_timeout_ms = timeout_s * 1000};
  return s_end(&n, li_serve(&n, &o, &eb), &eb);
}

static int cmd_serve(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  if (argc > 1) return s_usage(cmd->name, cmd->usage, "serve takes no arguments (settings are in linli.conf)");
  return s_serve_run(dir, false, 0);
}

static int cmd_sync(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  static const struct option opts[] = {{"once", 0, 0, 'o'}, {"timeout", 1, 0, 't'}, {0, 0, 0, 0}};
  int once = 0, timeout = 60, c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'o') once = 1;
    else if (c == 't') timeout = atoi(optarg);
    else return s_usage(cmd->name, cmd->usage, NULL);
  }
  if (!once || optind != argc || timeout < 1 || timeout > 86400)
    return s_usage(cmd->name, cmd->usage, "sync needs --once (use 'serve' to stay connected)");
  return s_serve_run(dir, true, timeout);
}

/* Chinese headings when the locale asks for them: LC_ALL, then LC_MESSAGES,
 * then LANG, the first one set (as setlocale reads them). */
static bool s_lang_zh(void) {
  const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return strncmp(v, "zh_CN", 5) == 0;
  }
  return false;
}

static int cmd_report(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  li_report_format fmt = LI_REPORT_TEXT;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) fmt = LI_REPORT_JSON;
    else if (strcmp(argv[i], "--csv") == 0) fmt = LI_REPORT_CSV;
    else return s_usage(cmd->name, cmd->usage, "unknown option");
  }
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  char today[16];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(today, sizeof today, "%Y-%m-%d", &tm);
  li_errbuf eb = {{0}};
  li_report_data d;
  li_err e = li_report_collect(&d, n.r, li_wall_ms(), today, &eb);
  if (!e) e = li_report_write(&d, fmt, s_lang_zh(), stdout, &eb);
  li_report_free(&d);
  return s_end(&n, e, &eb);
}

/* ---- web ---- */

static int cmd_web(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  static const struct option opts[] = {{"listen", 1, 0, 'l'}, {"set-password", 0, 0, 'p'}, {0, 0, 0, 0}};
  const char *listen = NULL;
  bool set_password = false;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'l') listen = optarg;
    else if (c == 'p') set_password = true;
    else return s_usage(cmd->name, cmd->usage, NULL);
  }
  if (optind != argc) return s_usage(cmd->name, cmd->usage, "unexpected argument");
  li_errbuf eb = {{0}};
  li_err e;
  if (set_password) {
    e = li_web_set_password(dir, &eb);
    if (!e) printf("dashboard password set; 'linli web --listen ADDRESS:PORT' may now listen beyond loopback\n");
  } else {
    e = li_web_run(dir, listen, &eb);
  }
  return e ? s_fail(e, &eb) : 0;
}

/* ---- bundle ---- */

/* The chains an import stopped, one line each on stderr; exit code 4. */
static int s_import_rejects(li_node *n, const char *file, li_bundle_import_stats *st) {
  const li_merge_rejects *l = &st->rejects;
  fprintf(stderr, "linli: bundle %s: %d chain(s) stopped, the other chains were applied:\n", file, st->merge.rejected);
  for (size_t i = 0; i < l->n; i++) {
    char name[128];
    if (l->v[i].scope[0]) li_commit_name(l->v[i].origin, l->v[i].scope, l->v[i].seq, name, sizeof name);
    else snprintf(name, sizeof name, "(a commit that names no chain)");
    fprintf(stderr, "  ");
    li_out_text(stderr, name); /* the messages quote commits: untrusted text (out.h) */
    fprintf(stderr, " and after: %s: ", li_errname(l->v[i].code));
    li_out_text(stderr, l->v[i].message);
    if (l->v[i].skipped) fprintf(stderr, " (and %u later commit(s) of that chain)", l->v[i].skipped);
    fputc('\n', stderr);
  }
  if (l->overflow) fprintf(stderr, "  and %u more refused commit(s) not listed\n", l->overflow);
  li_bundle_import_stats_clear(st);
  li_node_close(n);
  return 4;
}

/* Progress of a large import, on a terminal only (stderr a tty): a line
 * rewritten at most once a second, from LI_PROGRESS_MIN_COMMITS on. */
typedef struct {
  uint64_t t0_ms, last_ms;
  bool shown;
} s_progress;

static uint64_t s_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void s_import_progress(void *ctx, uint64_t commits, uint64_t done, uint64_t total) {
  s_progress *p = ctx;
  uint64_t now = s_mono_ms();
  if (commits < LI_PROGRESS_MIN_COMMITS || now - p->last_ms < 1000) return;
  p->last_ms = now;
  p->shown = true;
  double secs = (double)(now - p->t0_ms) / 1000.0, frac = total ? (double)done / (double)total : 0;
  double left = frac > 0.001 ? secs * (1 - frac) / frac : 0;
  fprintf(stderr, "\rimporting: %llu commit(s), %.1f of %.1f MB (%.0f%%), %.0f s, about %.0f s left   ",
          (unsigned long long)commits, (double)done / 1e6, (double)total / 1e6, frac * 100, secs, left);
  fflush(stderr);
}

/* An import. When the file holds commits of this node's own chain that it
 * lacks (a restored backup importing the hub's bundle), it takes them back
 * first without sealing, then seals its pending writes on top of them, then
 * imports again so that what was held for those writes goes in too. A
 * pending `linli recover` settles when the file brings the hub's roster. */
static li_err s_import(li_node *n, const char *file, li_bundle_import_stats *st, li_errbuf *eb) {
  s_progress prog = {.t0_ms = s_mono_ms()};
  bool tty = isatty(STDERR_FILENO) != 0;
  li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = n->cfg.max_clock_skew_ms, .seal_first = true};
  bool ahead = false;
  li_err e = li_bundle_own_ahead(n->r, file, &ahead, eb);
  if (e == LI_OK && ahead) {
    li_bundle_import_stats first;
    o.seal_first = false;
    e = li_bundle_import(n->r, file, &o, &first, eb);
    bool damaged = e && !first.merge.rejected;
    li_bundle_import_stats_clear(&first);
    if (damaged) return e;
    printf("took back this node's own commits from %s (a restored backup?) before sealing\n", file);
    if ((e = li_seal(n->r, li_wall_ms(), NULL, eb))) return e;
    o.seal_first = true;
  }
  e = li_bundle_import_with(n->r, file, &o, tty ? s_import_progress : NULL, &prog, st, eb);
  if (prog.shown) fputc('\n', stderr);
  bool settled = false;
  int64_t rows = 0;
  li_errbuf reb = {{0}};
  if (li_recover_settle_from_roster(n->r, &settled, &rows, &reb) == LI_OK && settled)
    printf("recover: the hub's roster names the last commit of the old key it holds; %lld row(s) written after it "
           "are sealed again under the new key at the next commit\n", (long long)rows);
  return e;
}

static int cmd_bundle(const s_cmd *cmd, const char *dir, int argc, char **argv) {
  if (argc < 2) return s_usage(cmd->name, cmd->usage, "export or import?");
  const char *sub = argv[1], *for_name = NULL;
  static const struct option opts[] = {{"for", 1, 0, 'f'}, {0, 0, 0, 0}};
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'f') for_name = optarg;
    else return s_usage(cmd->name, cmd->usage, NULL);
  }
  if (argc - optind != 1) return s_usage(cmd->name, cmd->usage, "one FILE expected");
  const char *file = argv[optind];
  li_node n;
  int rc = s_open(&n, dir);
  if (rc) return rc;
  li_errbuf eb = {{0}};
  li_err e = LI_OK;
  if (strcmp(sub, "export") == 0) {
    li_bundle_recipient to = {.hub = true};
    li_bundle_export_stats st;
    if (for_name) e = li_bundle_recipient_of(n.r, for_name, n.cfg.hub_key, &to, &eb);
    if (!e) e = li_seal(n.r, li_wall_ms(), NULL, &eb);
    if (!e) e = li_bundle_export(n.r, file, for_name, to.hub ? NULL : to.scope, li_wall_ms(), &st, &eb);
    if (!e)
      printf("exported %llu commit(s), %llu bytes, to %s%s%s\n", (unsigned long long)st.commits,
             (unsigned long long)st.bytes, file, for_name ? " for " : "", for_name ? for_name : "");
  } else if (strcmp(sub, "import") == 0 && !for_name) {
    li_bundle_import_stats st;
    e = s_import(&n, file, &st, &eb);
    if (!e || st.merge.rejected)
      printf("imported %s: %d commit(s) applied (%lld row changes, %d conflict(s) recorded), %d already present\n", file,
             st.merge.applied, (long long)st.merge.rows, st.merge.conflicts, st.merge.duplicates);
    if ((!e || st.merge.rejected) && st.merge.refused)
      printf("  %d row change(s) refused alone, their commits applied (linli_refused says which and why)\n",
             st.merge.refused);
    if (st.merge.rejected) return s_import_rejects(&n, file, &st);
    if (e) fprintf(stderr, "linli: bundle %s rejected, nothing was applied\n", file);
    li_bundle_import_stats_clear(&st);
  } else {
    li_node_close(&n);
    return s_usage(cmd->name, cmd->usage, "unknown bundle command");
  }
  return s_end(&n, e, &eb);
}

static const s_cmd s_cmds[] = {
    {"init", cmd_init,
     "init --role committee|hub --name NAME [--scope CODE] [--hub-key KEY] [--listen EP] [--hub EP] [--schema FILE]",
     "Creates a node in DIR: key file (0600), linli.conf and replica.db with the street schema.\n"
     "A hub's scope is 'street' and its key is the network id; a committee needs --scope CODE and\n"
     "--hub-key KEY (the hub's 'linli id')."},
    {"id", cmd_id, "id [--curve]", "Prints this node's public key alone on one line; with --curve, its CURVE form (the hub's log names a key it refused by it)."},
    {"roster", cmd_roster,
     "roster add NAME PUBKEY --scope CODE | roster list | roster remove NAME | roster replace NAME NEWKEY",
     "Hub only (list works anywhere): who may write which scope. The roster is a tracked table in\n"
     "scope 'street', so it reaches every committee like other data. Removing keeps the entry and\n"
     "accepts the committee's commits up to the last one the hub holds. Replacing gives a committee a\n"
     "new key (after 'linli recover' on its PC, or a lost or leaked key): the old key is revoked after\n"
     "the last commit the hub holds and the new one admitted for the same scope; an open connection of\n"
     "the old key is closed at once."},
    {"track", cmd_track, "track TABLE",
     "Hub only: adds an existing table to the street schema (a migration, like 'schema apply'). It\n"
     "needs a TEXT column 'scope' and a primary key that includes scope and at least one other column,\n"
     "e.g. PRIMARY KEY (id, scope): a row is (scope, key). On a committee, a table the street schema\n"
     "lacks is refused: ask the street office, or keep the table local and untracked."},
    {"schema", cmd_schema, "schema apply FILE | schema show",
     "apply (hub only): changes the street schema. FILE holds additive SQL: ALTER TABLE t ADD COLUMN\n"
     "c TYPE [DEFAULT literal], CREATE TABLE of a new table (a TEXT key and a TEXT scope column in its\n"
     "PRIMARY KEY), CREATE INDEX. Anything else (DROP, RENAME, a type change, NOT NULL without a\n"
     "default, a foreign key) is refused with the reason and nothing changes. The migration is\n"
     "applied with the capture rebuild and sealed as a signed schema commit in one transaction;\n"
     "committees apply it as it arrives, over serve or in a bundle, even after a week offline.\n"
     "show: the schema version and the statements of each migration."},
    {"commit", cmd_commit, "commit",
     "Seals captured changes into signed commits, one or more per scope, chained to the last."},
    {"recover", cmd_recover, "recover",
     "Committee: the way out when this node's own chain cannot go on (a copied folder or restored\n"
     "backup forked it, a clock far ahead stamped it in the future) or its key is lost or leaked. Makes\n"
     "a new key (the old key file is kept), takes the hub's view of the old key's commits as final and\n"
     "seals every later local change again under the new key. Stop 'linli serve' first. Prints the new\n"
     "public key alone on its last line; the street office then runs 'linli roster replace NAME KEY'."},
    {"status", cmd_status, "status [--json]", "Shows the node, unsealed changes, chains held, conflicts and rejections."},
    {"log", cmd_log, "log [--table T] [--pk K]", "Audit: every change, who made it and when, with its signature checked."},
    {"verify", cmd_verify, "verify", "Re-checks every stored commit's signature and chain; names any that was altered."},
    {"conflicts", cmd_conflicts, "conflicts [--json]", "Lists values that lost to a concurrent write, for review."},
    {"digest", cmd_digest, "digest [--scope CODE]",
     "Prints, per scope, a hash of every tracked row (all columns, in key order) and the row count:\n"
     "two replicas hold the same data of a scope exactly when the lines are equal."},
    {"serve", cmd_serve, "serve",
     "Runs the node: a hub listens, a committee connects to its hub; both seal local writes every\n"
     "seal_interval_ms, push new commits at once, catch up after any outage, and stop cleanly on\n"
     "SIGTERM/SIGINT. Settings: linli.conf [sync]."},
    {"sync", cmd_sync, "sync --once [--timeout SECONDS]",
     "Committee: connects, exchanges until both sides are caught up, and exits (0), or exits 1\n"
     "when no complete exchange happened within the timeout (default 60 s)."},
    {"report", cmd_report, "report [--json|--csv]",
     "The street's report per committee: open hazards by stage and overdue, hotline cases open,\n"
     "overdue and satisfaction, care visits this month, open disputes, unacknowledged notices,\n"
     "last contact and lag. CSV is UTF-8 with a BOM for spreadsheets."},
    {"web", cmd_web, "web [--listen HOST:PORT] | web --set-password",
     "The dashboard: a zh-CN web page of this node's replica, read-only, beside 'linli serve'. The hub\n"
     "shows the whole street; a committee its own scope and its link to the hub. Listens on\n"
     LI_WEB_LISTEN_DEFAULT " by default; any other address needs a password first, set with\n"
     "--set-password (read from the terminal, or the first line of standard input)."},
    {"bundle", cmd_bundle, "bundle export [--for NODE] FILE | bundle import FILE",
     "Writes commits to a file (for NODE: what it reads; the hub, by its roster name or as 'hub',\n"
     "reads every scope) or applies a bundle file after verifying every commit. A damaged file\n"
     "changes nothing; otherwise every chain is applied up to any commit refused, and the\n"
     "chains stopped are listed (exit 4)."},
};

static void s_help(FILE *f) {
  fprintf(f,
          "linli: keeps a street's residents' committees in sync\n\n"
          "usage: linli [--dir DIR] COMMAND [ARGS]   (DIR defaults to $LINLI_DIR, else the current directory)\n\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++) fprintf(f, "  %s\n", s_cmds[i].usage);
  fprintf(f,
          "\nexit codes: 0 ok, 1 other failure, 2 usage, 3 configuration/key/not initialised,\n"
          "4 input rejected (signature, scope, chain, clock, malformed, tampered), 5 database or file error,\n"
          "6 a chain of this node cannot go on (sync --once; see linli status)\n");
}

int main(int argc, char **argv) {
  const char *dir = getenv("LINLI_DIR");
  if (!dir || !*dir) dir = ".";
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
    else if (strncmp(argv[i], "--dir=", 6) == 0) dir = argv[i] + 6;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      s_help(stdout);
      return 0;
    } else {
      fprintf(stderr, "linli: unknown option %s\n", argv[i]);
      s_help(stderr);
      return 2;
    }
  }
  if (i >= argc) {
    s_help(stderr);
    return 2;
  }
  li_log_init(LI_LOG_INFO, false);
  li_errbuf eb = {{0}};
  li_err e = li_crypto_init(&eb);
  if (e) return s_fail(e, &eb);
  for (size_t k = 0; k < sizeof s_cmds / sizeof s_cmds[0]; k++) {
    if (strcmp(argv[i], s_cmds[k].name) != 0) continue;
    if (s_wants_help(argc - i, argv + i)) {
      printf("usage: linli [--dir DIR] %s\n\n%s\n", s_cmds[k].usage, s_cmds[k].help);
      return 0;
    }
    optind = 1;
    return s_cmds[k].run(&s_cmds[k], dir, argc - i, argv + i);
  }
  fprintf(stderr, "linli: unknown command '%s'\n", argv[i]);
  s_help(stderr);
  return 2;
}

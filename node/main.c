/* main: the linli command line. One binary, subcommands; every command has
 * --help. Exit codes (li_exit_code): 0 ok, 1 other failure, 2 usage,
 * 3 configuration/key/not initialised, 4 input rejected (signature, scope,
 * chain, clock, decode, tampered data), 5 database or file error. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "bundle.h"
#include "commit.h"
#include "hlc.h"
#include "li_limits.h"
#include "log.h"
#include "merge.h"
#include "node.h"
#include "report.h"
#include "roster.h"
#include "seal.h"
#include "serve.h"
#include <signal.h>
#include <time.h>
#include "value.h"

typedef struct {
  const char *name;
  int (*run)(const char *dir, int argc, char **argv);
  const char *usage;
  const char *help;
} s_cmd;

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

static void s_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void s_pk_text(const void *blob, int n, char *out) {
  if (n == LI_PK_BYTES) li_pk_to_text(blob, out);
  else snprintf(out, LI_PK_TEXT_LEN + 1, "?");
}

/* ---- init / id ---- */

static int cmd_init(const char *dir, int argc, char **argv) {
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
  li_errbuf eb = {{0}};
  if (schema_file) {
    FILE *f = fopen(schema_file, "rb");
    if (!f) return s_fail(li_fail(&eb, LI_ERR_IO, "cannot read schema %s", schema_file), &eb);
    schema = calloc(1, LI_SCHEMA_BYTES_MAX);
    size_t n = schema ? fread(schema, 1, LI_SCHEMA_BYTES_MAX - 1, f) : 0;
    fclose(f);
    if (!schema) return s_fail(li_fail(&eb, LI_ERR_NOMEM, "out of memory reading %s", schema_file), &eb);
    if (n == LI_SCHEMA_BYTES_MAX - 1) {
      free(schema);
      return s_fail(li_fail(&eb, LI_ERR_TOO_BIG, "schema file %s is over %u bytes (LI_SCHEMA_BYTES_MAX)", schema_file,
                            LI_SCHEMA_BYTES_MAX - 1),
                    &eb);
    }
    o.schema_sql = schema;
  }
  li_err e = li_node_init(dir, &o, &eb);
  free(schema);
  if (e) return s_fail(e, &eb);
  li_node n;
  if ((e = li_node_open(&n, dir, &eb))) return s_fail(e, &eb);
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

static int cmd_id(const char *dir, int argc, char **argv) {
  if (argc > 1) return s_usage("id", "id", "id takes no arguments");
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  char pk[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(n.id.pk, pk);
  printf("%s\n", pk);
  li_node_close(&n);
  return 0;
}

/* ---- roster ---- */

static int cmd_roster(const char *dir, int argc, char **argv) {
  static const char usage[] = "roster add NAME PUBKEY --scope CODE | roster list | roster remove NAME";
  if (argc < 2) return s_usage("roster", usage, "which roster command?");
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
    else if (!rest && strncmp(a, "--", 2) == 0) return s_usage("roster", usage, "unknown option or --scope without CODE");
    else if (npos < 3) pos[npos++] = a;
    else npos++;
  }
  li_node n;
  li_errbuf eb = {{0}};
  li_err e;
  if (strcmp(sub, "add") == 0) {
    if (npos != 2 || !scope) return s_usage("roster", usage, "roster add needs NAME PUBKEY --scope CODE");
    if ((e = li_node_open(&n, dir, &eb))) return s_fail(e, &eb);
    e = li_roster_add(n.r, pos[0], pos[1], scope, li_wall_ms(), &eb);
    if (!e) printf("added %s (scope %s)\n", pos[0], scope);
  } else if (strcmp(sub, "remove") == 0) {
    if (npos != 1) return s_usage("roster", usage, "roster remove needs NAME");
    if ((e = li_node_open(&n, dir, &eb))) return s_fail(e, &eb);
    uint64_t after = 0;
    e = li_roster_remove(n.r, pos[0], li_wall_ms(), &after, &eb);
    if (!e) printf("removed %s: its commits after #%llu are no longer accepted\n", pos[0], (unsigned long long)after);
  } else if (strcmp(sub, "list") == 0) {
    if (npos != 0) return s_usage("roster", usage, "roster list takes no arguments");
    if ((e = li_node_open(&n, dir, &eb))) return s_fail(e, &eb);
    li_member *m = NULL;
    size_t nm = 0;
    if ((e = li_roster_list(n.r, &m, &nm, &eb)) == LI_OK) {
      printf("%-16s %-10s %-10s %-44s %s\n", "NAME", "ROLE", "SCOPE", "PUBLIC KEY", "STATUS");
      for (size_t i = 0; i < nm; i++) {
        char status[64] = "active";
        if (m[i].revoked) snprintf(status, sizeof status, "removed after #%llu", (unsigned long long)m[i].revoked_after_seq);
        printf("%-16s %-10s %-10s %-44s %s\n", m[i].name, li_role_name(m[i].role), m[i].scope, m[i].key_text, status);
      }
      free(m);
    }
  } else {
    return s_usage("roster", usage, "unknown roster command");
  }
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

/* ---- track / commit ---- */

static int cmd_track(const char *dir, int argc, char **argv) {
  if (argc != 2) return s_usage("track", "track TABLE", "track needs one table name");
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  e = li_replica_track(n.r, argv[1], &eb);
  if (!e) printf("tracking %s: its changes are captured and sealed from now on (existing rows included)\n", argv[1]);
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

static int cmd_commit(const char *dir, int argc, char **argv) {
  if (argc > 1) return s_usage("commit", "commit", "commit takes no arguments");
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  li_seal_stats st;
  e = li_seal(n.r, li_wall_ms(), &st, &eb);
  if (!e) {
    if (st.commits) printf("sealed %lld row change(s) into %d commit(s)\n", (long long)st.rows, st.commits);
    else printf("nothing to commit\n");
  }
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

/* ---- status ---- */

static int cmd_status(const char *dir, int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else return s_usage("status", "status [--json]", "unknown option");
  }
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  li_replica *r = n.r;
  char self[LI_PK_TEXT_LEN + 1], net[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(n.id.pk, self);
  li_pk_to_text(n.cfg.network, net);
  int64_t dirty = li_replica_dirty_count(r), conflicts = 0, hlc = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM linli_conflicts", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    conflicts = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  li_meta_get_int(r, "hlc", &hlc);
  char hlcs[48];
  li_hlc_format((uint64_t)hlc, hlcs, sizeof hlcs);
  FILE *o = stdout;
  if (json) {
    fprintf(o, "{\"name\":");
    s_json_str(o, n.cfg.name);
    fprintf(o, ",\"role\":\"%s\",\"scope\":", li_role_name(n.cfg.role));
    s_json_str(o, n.cfg.scope);
    fprintf(o, ",\"public_key\":\"%s\",\"network\":\"%s\",\"hlc\":\"%s\",\"unsealed_changes\":%lld,\"conflicts\":%lld,\"chains\":[",
            self, net, hlcs, (long long)dirty, (long long)conflicts);
  } else {
    fprintf(o, "node        %s (%s, scope %s)\npublic key  %s\nnetwork     %s\nclock       %s\n", n.cfg.name,
            li_role_name(n.cfg.role), n.cfg.scope, self, net, hlcs);
    fprintf(o, "unsealed    %lld row change(s)%s\nconflicts   %lld (see 'linli conflicts')\nchains:\n", (long long)dirty,
            dirty ? " (run 'linli commit')" : "", (long long)conflicts);
  }
  if (sqlite3_prepare_v2(r->db,
                         "SELECT v.origin, v.scope, v.seq, (SELECT max(hlc) FROM linli_log l WHERE l.origin=v.origin AND "
                         "l.scope=v.scope) FROM linli_vv v ORDER BY v.scope, v.origin",
                         -1, &st, NULL) == SQLITE_OK) {
    int first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
      char k[LI_PK_TEXT_LEN + 1], name[64], when[48];
      s_pk_text(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), k);
      if (sqlite3_column_bytes(st, 0) == LI_PK_BYTES) li_roster_name_of(r, sqlite3_column_blob(st, 0), name, sizeof name);
      else snprintf(name, sizeof name, "?");
      li_hlc_format((uint64_t)sqlite3_column_int64(st, 3), when, sizeof when);
      if (json) {
        fprintf(o, "%s{\"origin\":\"%s\",\"origin_name\":", first ? "" : ",", k);
        s_json_str(o, name);
        fprintf(o, ",\"scope\":");
        s_json_str(o, (const char *)sqlite3_column_text(st, 1));
        fprintf(o, ",\"seq\":%lld,\"last\":\"%s\"}", (long long)sqlite3_column_int64(st, 2), when);
      } else {
        fprintf(o, "  %-12s %-16s #%-8lld last %s\n", sqlite3_column_text(st, 1), name,
                (long long)sqlite3_column_int64(st, 2), when);
      }
      first = 0;
    }
    sqlite3_finalize(st);
  }
  if (json) fprintf(o, "],\"peers\":[");
  else fprintf(o, "peers:\n");
  if (sqlite3_prepare_v2(r->db,
                         "SELECT key, name, connected, last_contact_ms, behind_them, behind_us, commits_sent, commits_recv,"
                         " rejected_in, rejected_out, last_error, updated_ms FROM linli_peers ORDER BY name",
                         -1, &st, NULL) == SQLITE_OK) {
    int first = 1;
    uint64_t now = li_wall_ms();
    while (sqlite3_step(st) == SQLITE_ROW) {
      char k[LI_PK_TEXT_LEN + 1], when[48] = "never";
      s_pk_text(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), k);
      const char *name = sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "?";
      /* the daemon refreshes this row every 0.5 s: an old row means it is not running */
      int64_t updated = sqlite3_column_int64(st, 11);
      int fresh = updated > 0 && (int64_t)now - updated < 5000;
      int connected = fresh && sqlite3_column_int(st, 2);
      if (sqlite3_column_type(st, 3) != SQLITE_NULL)
        li_hlc_format((uint64_t)sqlite3_column_int64(st, 3) << 16, when, sizeof when);
      /* commits of ours the peer lacks: those it lacked at the last contact, plus every one sealed since */
      sqlite3_stmt *u = NULL;
      int64_t unsent = sqlite3_column_int64(st, 5);
      if (!connected && sqlite3_prepare_v2(r->db, "SELECT count(*) FROM linli_log WHERE origin=? AND applied_ms > ?", -1,
                                           &u, NULL) == SQLITE_OK) {
        sqlite3_bind_blob(u, 1, n.id.pk, LI_PK_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(u, 2, sqlite3_column_type(st, 3) != SQLITE_NULL ? sqlite3_column_int64(st, 3) : 0);
        if (sqlite3_step(u) == SQLITE_ROW) unsent += sqlite3_column_int64(u, 0);
      }
      sqlite3_finalize(u);
      const char *state = connected ? "connected" : fresh ? "unreachable" : "daemon not running";
      if (json) {
        fprintf(o, "%s{\"name\":", first ? "" : ",");
        s_json_str(o, name);
        fprintf(o,
                ",\"key\":\"%s\",\"state\":\"%s\",\"reachable\":%s,\"last_contact\":\"%s\",\"commits_we_lack\":%lld,"
                "\"commits_they_lack\":%lld,\"commits_sent\":%lld,\"commits_received\":%lld,\"rejected_in\":%lld,"
                "\"rejected_out\":%lld,\"last_error\":",
                k, state, connected ? "true" : "false", when, (long long)sqlite3_column_int64(st, 4), (long long)unsent,
                (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7),
                (long long)sqlite3_column_int64(st, 8), (long long)sqlite3_column_int64(st, 9));
        s_json_str(o, sqlite3_column_text(st, 10) ? (const char *)sqlite3_column_text(st, 10) : "");
        fprintf(o, "}");
      } else {
        fprintf(o, "  %-12s %-18s last contact %s; we lack %lld commit(s), they lack %lld\n", name, state, when,
                (long long)sqlite3_column_int64(st, 4), (long long)unsent);
      }
      first = 0;
    }
    if (first && !json) fprintf(o, "  none yet (run 'linli serve')\n");
    sqlite3_finalize(st);
  }
  if (json) {
    int64_t held = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT n FROM linli_rejects WHERE reason='clock_ahead'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      held = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    fprintf(o, "],\"held_clock_ahead\":%lld", (long long)held);
  }
  if (json) fprintf(o, ",\"rejected\":{");
  else fprintf(o, "rejected inputs:\n");
  if (sqlite3_prepare_v2(r->db, "SELECT reason, n FROM linli_rejects ORDER BY reason", -1, &st, NULL) == SQLITE_OK) {
    int first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (json) fprintf(o, "%s\"%s\":%lld", first ? "" : ",", sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1));
      else fprintf(o, "  %-16s %lld\n", sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1));
      first = 0;
    }
    if (first && !json) fprintf(o, "  none\n");
    sqlite3_finalize(st);
  }
  if (json) fprintf(o, "},\"banned\":[");
  if (sqlite3_prepare_v2(r->db, "SELECT origin, reason FROM linli_banned", -1, &st, NULL) == SQLITE_OK) {
    int first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
      char k[LI_PK_TEXT_LEN + 1];
      s_pk_text(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), k);
      if (json) {
        fprintf(o, "%s{\"origin\":\"%s\",\"reason\":", first ? "" : ",", k);
        s_json_str(o, (const char *)sqlite3_column_text(st, 1));
        fprintf(o, "}");
      } else {
        fprintf(o, "BANNED      %s: %s\n", k, sqlite3_column_text(st, 1));
      }
      first = 0;
    }
    sqlite3_finalize(st);
  }
  if (json) fprintf(o, "]}\n");
  li_node_close(&n);
  return 0;
}

/* ---- log / verify ---- */

static void s_print_change(FILE *o, const Linli__TableChanges *tc, const Linli__RowChange *ch) {
  char buf[256];
  fprintf(o, "    %s ", tc->table);
  for (size_t k = 0; k < ch->n_pk; k++) {
    li_value_format(ch->pk[k], buf, sizeof buf);
    fprintf(o, "%s%s", k ? "," : "", buf);
  }
  if (ch->cl % 2 == 0) {
    fprintf(o, " deleted\n");
    return;
  }
  fprintf(o, " %s:", ch->cl == 1 && ch->n_cols + ch->n_pk >= tc->n_columns ? " inserted" : " set");
  for (size_t k = 0; k < ch->n_cols; k++) {
    li_value_format(ch->values[k], buf, sizeof buf);
    fprintf(o, " %s=%s", tc->columns[ch->cols[k]], buf);
  }
  fprintf(o, "\n");
}

static int s_pk_matches(const Linli__RowChange *ch, const char *pk) {
  if (!pk) return 1;
  return ch->n_pk == 1 && ch->pk[0]->v_case == LINLI__VALUE__V_T && strcmp(ch->pk[0]->t, pk) == 0;
}

static int cmd_log(const char *dir, int argc, char **argv) {
  static const struct option opts[] = {{"table", 1, 0, 't'}, {"pk", 1, 0, 'p'}, {0, 0, 0, 0}};
  const char *table = NULL, *pk = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 't') table = optarg;
    else if (c == 'p') pk = optarg;
    else return s_usage("log", "log [--table T] [--pk K]", NULL);
  }
  if (optind != argc) return s_usage("log", "log [--table T] [--pk K]", "unexpected argument");
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n.r->db, "SELECT sc, origin, scope, seq FROM linli_log ORDER BY hlc, origin, seq", -1, &st,
                         NULL) != SQLITE_OK) {
    e = li_db_fail(n.r, &eb, "linli_log");
    li_node_close(&n);
    return s_fail(e, &eb);
  }
  li_arena a;
  li_arena_init(&a);
  int bad = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    li_arena_reset(&a);
    li_commit cm;
    li_errbuf ceb = {{0}};
    char who[64], when[48];
    li_err ce = li_commit_open(n.r->network, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &a, &cm, &ceb);
    if (ce) {
      if (sqlite3_column_bytes(st, 1) == LI_PK_BYTES) li_roster_name_of(n.r, sqlite3_column_blob(st, 1), who, sizeof who);
      else snprintf(who, sizeof who, "?");
      printf("TAMPERED %s#%lld by %s: %s\n", sqlite3_column_text(st, 2), (long long)sqlite3_column_int64(st, 3), who,
             li_errmsg(&ceb, ce));
      bad++;
      continue;
    }
    int shown = 0;
    for (size_t i = 0; i < cm.c->n_tables; i++) {
      const Linli__TableChanges *tc = cm.c->tables[i];
      if (table && strcmp(tc->table, table) != 0) continue;
      for (size_t j = 0; j < tc->n_rows; j++) {
        if (!s_pk_matches(tc->rows[j], pk)) continue;
        if (!shown) {
          li_roster_name_of(n.r, cm.origin, who, sizeof who);
          li_hlc_format(cm.hlc, when, sizeof when);
          printf("%s  %s  %s#%llu  verified\n", when, who, cm.scope, (unsigned long long)cm.seq);
          shown = 1;
        }
        s_print_change(stdout, tc, tc->rows[j]);
      }
    }
  }
  sqlite3_finalize(st);
  li_arena_free(&a);
  li_node_close(&n);
  if (bad) {
    fprintf(stderr, "linli: %d stored commit(s) failed verification (run 'linli verify')\n", bad);
    return li_exit_code(LI_ERR_TAMPERED);
  }
  return 0;
}

static int cmd_verify(const char *dir, int argc, char **argv) {
  if (argc > 1) return s_usage("verify", "verify", "verify takes no arguments");
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n.r->db, "SELECT origin, scope, seq, hlc, hash, sc FROM linli_log ORDER BY origin, scope, seq",
                         -1, &st, NULL) != SQLITE_OK) {
    e = li_db_fail(n.r, &eb, "linli_log");
    li_node_close(&n);
    return s_fail(e, &eb);
  }
  li_arena a;
  li_arena_init(&a);
  int64_t checked = 0, bad = 0;
  uint8_t prev_origin[LI_PK_BYTES] = {0}, prev_hash[LI_HASH_BYTES] = {0};
  char prev_scope[LI_SCOPE_MAX + 2] = "";
  int64_t prev_seq = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    li_arena_reset(&a);
    checked++;
    const uint8_t *origin = sqlite3_column_blob(st, 0);
    const char *scope = (const char *)sqlite3_column_text(st, 1);
    int64_t seq = sqlite3_column_int64(st, 2);
    char who[64] = "?", what[LI_ERRBUF_SIZE] = "";
    int olen = sqlite3_column_bytes(st, 0);
    if (olen == LI_PK_BYTES) li_roster_name_of(n.r, origin, who, sizeof who);
    li_commit cm;
    li_errbuf ceb = {{0}};
    li_err ce = li_commit_open(n.r->network, sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5), &a, &cm, &ceb);
    int same_chain = olen == LI_PK_BYTES && memcmp(origin, prev_origin, LI_PK_BYTES) == 0 && scope &&
                     strcmp(scope, prev_scope) == 0;
    if (ce) {
      snprintf(what, sizeof what, "%s", li_errmsg(&ceb, ce));
    } else if (olen != LI_PK_BYTES || memcmp(cm.origin, origin, LI_PK_BYTES) != 0 || !scope ||
               strcmp(cm.scope, scope) != 0 || (int64_t)cm.seq != seq || (int64_t)cm.hlc != sqlite3_column_int64(st, 3)) {
      snprintf(what, sizeof what, "the log row's origin/scope/seq/hlc columns differ from the signed commit");
    } else if (sqlite3_column_bytes(st, 4) != LI_HASH_BYTES || memcmp(sqlite3_column_blob(st, 4), cm.hash, LI_HASH_BYTES) != 0) {
      snprintf(what, sizeof what, "the stored hash is not the commit's hash");
    } else if (seq != (same_chain ? prev_seq + 1 : 1)) {
      snprintf(what, sizeof what, "chain gap: expected #%lld", (long long)(same_chain ? prev_seq + 1 : 1));
    } else if (seq > 1 && memcmp(cm.c->prev.data, prev_hash, LI_HASH_BYTES) != 0) {
      snprintf(what, sizeof what, "does not chain to the previous commit");
    }
    if (what[0]) {
      printf("TAMPERED commit %s#%lld by %s: %s\n", scope ? scope : "?", (long long)seq, who, what);
      bad++;
    }
    if (olen == LI_PK_BYTES) memcpy(prev_origin, origin, LI_PK_BYTES);
    snprintf(prev_scope, sizeof prev_scope, "%s", scope ? scope : "");
    prev_seq = seq;
    if (!ce) memcpy(prev_hash, cm.hash, LI_HASH_BYTES);
    else memset(prev_hash, 0, LI_HASH_BYTES);
  }
  sqlite3_finalize(st);
  /* every chain head must be the last stored commit */
  if (sqlite3_prepare_v2(n.r->db,
                         "SELECT v.scope, v.seq FROM linli_vv v LEFT JOIN linli_log l ON l.origin=v.origin AND "
                         "l.scope=v.scope AND l.seq=v.seq WHERE l.hash IS NOT v.head OR EXISTS (SELECT 1 FROM linli_log x "
                         "WHERE x.origin=v.origin AND x.scope=v.scope AND x.seq > v.seq)",
                         -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      printf("TAMPERED chain head %s#%lld: does not match the stored commits\n", sqlite3_column_text(st, 0),
             (long long)sqlite3_column_int64(st, 1));
      bad++;
    }
    sqlite3_finalize(st);
  }
  li_arena_free(&a);
  li_node_close(&n);
  if (bad) {
    fprintf(stderr, "linli: verify: %lld problem(s) in %lld stored commit(s)\n", (long long)bad, (long long)checked);
    return li_exit_code(LI_ERR_TAMPERED);
  }
  printf("verified %lld commit(s): every signature and chain link holds\n", (long long)checked);
  return 0;
}

/* ---- conflicts ---- */

static int cmd_conflicts(const char *dir, int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else return s_usage("conflicts", "conflicts [--json]", "unknown option");
  }
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n.r->db,
                         "SELECT tbl, pk, col, quote(loser), loser_origin, loser_hlc, quote(winner), winner_origin, "
                         "winner_hlc FROM linli_conflicts ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK) {
    e = li_db_fail(n.r, &eb, "linli_conflicts");
    li_node_close(&n);
    return s_fail(e, &eb);
  }
  int count = 0;
  if (json) printf("[");
  while (sqlite3_step(st) == SQLITE_ROW) {
    char lo[64] = "?", wi[64] = "?", lw[48], ww[48];
    if (sqlite3_column_bytes(st, 4) == LI_PK_BYTES) li_roster_name_of(n.r, sqlite3_column_blob(st, 4), lo, sizeof lo);
    if (sqlite3_column_bytes(st, 7) == LI_PK_BYTES) li_roster_name_of(n.r, sqlite3_column_blob(st, 7), wi, sizeof wi);
    li_hlc_format((uint64_t)sqlite3_column_int64(st, 5), lw, sizeof lw);
    li_hlc_format((uint64_t)sqlite3_column_int64(st, 8), ww, sizeof ww);
    if (json) {
      printf("%s{\"table\":", count ? "," : "");
      s_json_str(stdout, (const char *)sqlite3_column_text(st, 0));
      printf(",\"pk\":");
      s_json_str(stdout, (const char *)sqlite3_column_text(st, 1));
      printf(",\"column\":");
      s_json_str(stdout, (const char *)sqlite3_column_text(st, 2));
      printf(",\"loser\":");
      s_json_str(stdout, (const char *)sqlite3_column_text(st, 3));
      printf(",\"loser_origin\":");
      s_json_str(stdout, lo);
      printf(",\"loser_time\":\"%s\",\"winner\":", lw);
      s_json_str(stdout, (const char *)sqlite3_column_text(st, 6));
      printf(",\"winner_origin\":");
      s_json_str(stdout, wi);
      printf(",\"winner_time\":\"%s\"}", ww);
    } else {
      printf("%s %s.%s: kept %s (%s, %s); lost %s (%s, %s)\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
             sqlite3_column_text(st, 2), sqlite3_column_text(st, 6), wi, ww, sqlite3_column_text(st, 3), lo, lw);
    }
    count++;
  }
  sqlite3_finalize(st);
  if (json) printf("]\n");
  else if (!count) printf("no conflicts\n");
  li_node_close(&n);
  return 0;
}

/* ---- digest ---- */

/* Per-scope content hash of every tracked table: what convergence checks
 * compare between replicas. Rows in primary-key order, every column quoted. */
static int cmd_digest(const char *dir, int argc, char **argv) {
  const char *only = NULL;
  static const struct option opts[] = {{"scope", 1, 0, 's'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 's') only = optarg;
    else return s_usage("digest", "digest [--scope CODE]", NULL);
  }
  if (optind != argc) return s_usage("digest", "digest [--scope CODE]", "unexpected argument");
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  sqlite3_stmt *sc = NULL;
  /* every scope present in any tracked table */
  char *sql = sqlite3_mprintf("SELECT DISTINCT scope FROM linli_clock WHERE (%Q IS NULL OR scope = %Q) ORDER BY scope", only, only);
  if (!sql || sqlite3_prepare_v2(n.r->db, sql, -1, &sc, NULL) != SQLITE_OK) {
    sqlite3_free(sql);
    e = li_db_fail(n.r, &eb, "digest");
    li_node_close(&n);
    return s_fail(e, &eb);
  }
  sqlite3_free(sql);
  while (e == LI_OK && sqlite3_step(sc) == SQLITE_ROW) {
    const char *scope = (const char *)sqlite3_column_text(sc, 0);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    long long rows = 0;
    for (int t = 0; t < n.r->ntables && e == LI_OK; t++) {
      li_table *tb = &n.r->tables[t];
      char *q = sqlite3_mprintf("SELECT %Q", tb->name);
      for (int k = 0; k < tb->ncols; k++) {
        char *q2 = sqlite3_mprintf("%s || '|' || quote(\"%w\")", q, tb->cols[k]);
        sqlite3_free(q);
        q = q2;
      }
      char *order = sqlite3_mprintf("\"%w\"", tb->cols[tb->pk[0]]);
      for (int k = 1; k < tb->npk; k++) {
        char *o2 = sqlite3_mprintf("%s, \"%w\"", order, tb->cols[tb->pk[k]]);
        sqlite3_free(order);
        order = o2;
      }
      char *full = sqlite3_mprintf("%s FROM \"%w\" WHERE scope = ?1 ORDER BY %s", q, tb->name, order);
      sqlite3_free(q);
      sqlite3_free(order);
      sqlite3_stmt *st = NULL;
      if (!full || sqlite3_prepare_v2(n.r->db, full, -1, &st, NULL) != SQLITE_OK) {
        e = li_db_fail(n.r, &eb, "digest");
      } else {
        sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
          crypto_generichash_update(&h, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
          crypto_generichash_update(&h, (const unsigned char *)"\n", 1);
          rows++;
        }
      }
      sqlite3_finalize(st);
      sqlite3_free(full);
    }
    unsigned char out[32];
    char hex[65];
    crypto_generichash_final(&h, out, sizeof out);
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    if (e == LI_OK) printf("%s %s %lld\n", scope, hex, rows);
  }
  sqlite3_finalize(sc);
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

/* ---- serve / sync ---- */

static volatile sig_atomic_t s_stop;
static void s_on_signal(int sig) {
  (void)sig;
  s_stop = 1;
}

static int s_serve_run(const char *dir, bool once, int timeout_s) {
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  if (once && n.cfg.role != LI_ROLE_COMMITTEE) {
    li_node_close(&n);
    return s_fail(li_fail(&eb, LI_ERR_ROLE, "sync --once is for committees; the hub runs 'linli serve'"), &eb);
  }
  li_log_init(n.cfg.log_level, true);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  li_serve_opts o = {.stop = &s_stop, .once = once, .once_timeout_ms = timeout_s * 1000};
  e = li_serve(&n, &o, &eb);
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

static int cmd_serve(const char *dir, int argc, char **argv) {
  if (argc > 1) return s_usage("serve", "serve", "serve takes no arguments (settings are in linli.conf)");
  return s_serve_run(dir, false, 0);
}

static int cmd_sync(const char *dir, int argc, char **argv) {
  static const struct option opts[] = {{"once", 0, 0, 'o'}, {"timeout", 1, 0, 't'}, {0, 0, 0, 0}};
  int once = 0, timeout = 60, c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'o') once = 1;
    else if (c == 't') timeout = atoi(optarg);
    else return s_usage("sync", "sync --once [--timeout SECONDS]", NULL);
  }
  if (!once || optind != argc || timeout < 1 || timeout > 86400)
    return s_usage("sync", "sync --once [--timeout SECONDS]", "sync needs --once (use 'serve' to stay connected)");
  return s_serve_run(dir, true, timeout);
}

static int cmd_report(const char *dir, int argc, char **argv) {
  li_report_format fmt = LI_REPORT_TEXT;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) fmt = LI_REPORT_JSON;
    else if (strcmp(argv[i], "--csv") == 0) fmt = LI_REPORT_CSV;
    else return s_usage("report", "report [--json|--csv]", "unknown option");
  }
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  char today[16];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(today, sizeof today, "%Y-%m-%d", &tm);
  e = li_report(n.r, fmt, li_wall_ms(), today, stdout, &eb);
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

/* ---- bundle ---- */

static int cmd_bundle(const char *dir, int argc, char **argv) {
  static const char usage[] = "bundle export [--for NODE] FILE | bundle import FILE";
  if (argc < 2) return s_usage("bundle", usage, "export or import?");
  const char *sub = argv[1], *for_name = NULL;
  static const struct option opts[] = {{"for", 1, 0, 'f'}, {0, 0, 0, 0}};
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'f') for_name = optarg;
    else return s_usage("bundle", usage, NULL);
  }
  if (argc - optind != 1) return s_usage("bundle", usage, "one FILE expected");
  const char *file = argv[optind];
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, dir, &eb);
  if (e) return s_fail(e, &eb);
  if (strcmp(sub, "export") == 0) {
    li_member m;
    li_bundle_export_stats st;
    if (for_name) e = li_roster_by_name(n.r, for_name, true, &m, &eb);
    if (!e) e = li_seal(n.r, li_wall_ms(), NULL, &eb);
    if (!e) e = li_bundle_export(n.r, file, for_name, for_name ? m.scope : NULL, li_wall_ms(), &st, &eb);
    if (!e)
      printf("exported %llu commit(s), %llu bytes, to %s%s%s\n", (unsigned long long)st.commits,
             (unsigned long long)st.bytes, file, for_name ? " for " : "", for_name ? for_name : "");
  } else if (strcmp(sub, "import") == 0 && !for_name) {
    li_merge_opts o = {.wall_ms = li_wall_ms(), .max_skew_ms = n.cfg.max_clock_skew_ms, .mode = LI_MERGE_ALL_OR_NOTHING};
    li_bundle_import_stats st;
    e = li_bundle_import(n.r, file, &o, &st, &eb);
    if (!e)
      printf("imported %s: %d commit(s) applied (%lld row changes, %d conflict(s) recorded), %d already present\n", file,
             st.merge.applied, (long long)st.merge.rows, st.merge.conflicts, st.merge.duplicates);
    else
      fprintf(stderr, "linli: bundle %s rejected, nothing was applied\n", file);
  } else {
    li_node_close(&n);
    return s_usage("bundle", usage, "unknown bundle command");
  }
  li_node_close(&n);
  return e ? s_fail(e, &eb) : 0;
}

static const s_cmd s_cmds[] = {
    {"init", cmd_init,
     "init --role committee|hub --name NAME [--scope CODE] [--hub-key KEY] [--listen EP] [--hub EP] [--schema FILE]",
     "Creates a node in DIR: key file (0600), linli.conf and replica.db with the street schema.\n"
     "A hub's scope is 'street' and its key is the network id; a committee needs --scope CODE and\n"
     "--hub-key KEY (the hub's 'linli id')."},
    {"id", cmd_id, "id", "Prints this node's public key alone on one line."},
    {"roster", cmd_roster, "roster add NAME PUBKEY --scope CODE | roster list | roster remove NAME",
     "Hub only (list works anywhere): who may write which scope. The roster is a tracked table in\n"
     "scope 'street', so it reaches every committee like other data. Removing keeps the entry and\n"
     "accepts the committee's commits up to the last one the hub holds."},
    {"track", cmd_track, "track TABLE",
     "Starts capturing a table of your own. It needs a primary key that is not an INTEGER rowid\n"
     "alias (ids would collide between committees) and a TEXT column 'scope'."},
    {"commit", cmd_commit, "commit",
     "Seals captured changes into signed commits, one or more per scope, chained to the last."},
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
    {"bundle", cmd_bundle, "bundle export [--for NODE] FILE | bundle import FILE",
     "Writes commits to a file (for NODE: only the scopes it reads) or applies a bundle file,\n"
     "all or nothing, after verifying every commit."},
};

static void s_help(FILE *f) {
  fprintf(f,
          "linli: keeps a street's residents' committees in sync\n\n"
          "usage: linli [--dir DIR] COMMAND [ARGS]   (DIR defaults to $LINLI_DIR, else the current directory)\n\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++) fprintf(f, "  %s\n", s_cmds[i].usage);
  fprintf(f,
          "\nexit codes: 0 ok, 1 other failure, 2 usage, 3 configuration/key/not initialised,\n"
          "4 input rejected (signature, scope, chain, clock, malformed, tampered), 5 database or file error\n");
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
    return s_cmds[k].run(dir, argc - i, argv + i);
  }
  fprintf(stderr, "linli: unknown command '%s'\n", argv[i]);
  s_help(stderr);
  return 2;
}

/* bench: the foundation benchmark (issue 2).
 *
 * For N rows of care_visits (default 1,000,000) it measures, in one run:
 *   1. plain    N inserts into an untracked copy of the table (same CREATE
 *               TABLE text and index, another name) in a plain SQLite db with
 *               the replica's PRAGMAs, one prepared INSERT, one transaction;
 *   2. capture  the same N rows inserted through a committee replica, whose
 *               triggers record them in linli_dirty;
 *   3. seal     li_seal: dirty markers -> signed commits;
 *   4. export   li_bundle_export of every commit (bytes per row change);
 *   5. import   li_bundle_import on the hub (verify + merge), checked to
 *               leave N rows in the hub's care_visits;
 *   6. session  the baseline of issue 14: SQLite's own session extension
 *               on the same rows: sqlite3session attached to a plain copy
 *               of the table, the N inserts (one transaction), then
 *               sqlite3session_changeset (capture + changeset);
 *   7. apply    sqlite3changeset_apply of that changeset on a second plain
 *               database, checked to leave N rows;
 * and the peak RSS (getrusage ru_maxrss) after each phase.
 * Ratios are rows/s of the phase over rows/s of plain, from the same run.
 * Timings are reported, never asserted.
 *
 * The session phases run last, so the peak RSS of phases 1-5 is what it was
 * before they existed. The last line, "result: key=value ...", is for
 * scripts/bench.sh, which prints issue 14's table from it.
 *
 * Usage: bench [--rows N] [--dir DIR] [--keep]
 *   --dir   working directory (created if missing; must not hold a previous
 *           run); default: a fresh mkdtemp under $TMPDIR or /tmp
 *   --keep  leave the working files in place (default: remove what the
 *           benchmark created)
 * Exit status: 0 on success, 1 when a library call fails or a check does not
 * hold (the message says which), 2 on bad usage. */
/* Debian's libsqlite3 is built with the session extension; its declarations
 * are visible only with these two defined before the first sqlite3.h. */
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "err.h"
#include "hlc.h"
#include "keys.h"
#include "merge.h"
#include "node.h"
#include "benchrows.h"
#include "replica.h"
#include "seal.h"

#define SCOPE "c07"

static char g_dir[4096];
static bool g_made_dir; /* the working directory itself was created here */

/* ---- small helpers ---- */

static double s_peak_mib(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* user + system CPU seconds of the process so far */
static double s_cpu(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* bytes the process has passed to write(2)/pwrite(2) so far (/proc/self/io
 * wchar): shows the write amplification of each phase */
static double s_written_mib(void) {
  FILE *f = fopen("/proc/self/io", "r");
  if (!f) return 0;
  char line[128];
  unsigned long long v = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "wchar: %llu", &v) == 1) break;
  fclose(f);
  return (double)v / (1024.0 * 1024.0);
}

static double s_cur_mib(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  int ok = fscanf(f, "%ld %ld", &pages, &rss) == 2;
  fclose(f);
  return ok ? (double)rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : -1;
}

static void s_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

__attribute__((noreturn, format(printf, 1, 2))) static void s_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (g_dir[0]) fprintf(stderr, "bench: working files left for inspection in %s\n", g_dir);
  exit(1);
}

static void s_check(li_err e, const li_errbuf *eb, const char *what) {
  if (e != LI_OK) s_die("%s failed: %s (%s)", what, li_errmsg(eb, e), li_errname(e));
}

/* ---- the rows (simulations/benchrows.h) ---- */

/* N rows of SCOPE with one prepared statement in one transaction; dies on error. */
static double s_insert_rows(sqlite3 *db, const char *table, int64_t n) {
  const char *scope = SCOPE;
  char err[600];
  double secs = br_insert_rows(db, table, &scope, 1, n, err, sizeof err);
  if (secs < 0) s_die("%s", err);
  return secs;
}


static int64_t s_count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (n < 0) s_die("%s: %s", sql, sqlite3_errmsg(db));
  return n;
}

/* ---- report ---- */

typedef struct {
  const char *name;
  int64_t rows;
  double secs;
  double cpu; /* user + system seconds */
  double wr_mib; /* MiB passed to write(2) */
  double bytes_per_row; /* < 0: not applicable */
  double peak_mib, cur_mib;
} s_phase;

static void s_fmt_rate(char *buf, size_t cap, double v) {
  /* thousands separators */
  char raw[32];
  snprintf(raw, sizeof raw, "%.0f", v);
  size_t n = strlen(raw), o = 0;
  for (size_t i = 0; i < n && o + 2 < cap; i++) {
    if (i && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = raw[i];
  }
  buf[o] = 0;
}

static void s_phase_line(const s_phase *p, double plain_rate) {
  char rate[40], ratio[16], bpr[16];
  double r = p->secs > 0 ? (double)p->rows / p->secs : 0;
  s_fmt_rate(rate, sizeof rate, r);
  snprintf(ratio, sizeof ratio, "%.2fx", plain_rate > 0 ? r / plain_rate : 0);
  if (p->bytes_per_row >= 0) snprintf(bpr, sizeof bpr, "%.1f", p->bytes_per_row);
  else snprintf(bpr, sizeof bpr, "-");
  printf("%-24s %9lld %8.3f %7.2f %11s %8s %9s %8.0f %8.1f %7.1f\n", p->name, (long long)p->rows, p->secs, p->cpu,
         rate, ratio, bpr, p->wr_mib, p->peak_mib, p->cur_mib);
}

static void s_header(void) {
  printf("%-24s %9s %8s %7s %11s %8s %9s %8s %8s %7s\n", "phase", "rows", "seconds", "cpu s", "rows/s", "vs plain",
         "bytes/row", "wr MiB", "peak MiB", "RSS MiB");
}

static void s_mark(s_phase *p) {
  p->peak_mib = s_peak_mib();
  p->cur_mib = s_cur_mib();
}

/* ---- the baseline: SQLite's session extension (issue 14) ---- */

/* A changeset of rows the destination already holds is a bug of the
 * benchmark, not a conflict to resolve: abort the apply. */
static int s_conflict_abort(void *ctx, int kind, sqlite3_changeset_iter *it) {
  (void)ctx;
  (void)kind;
  (void)it;
  return SQLITE_CHANGESET_ABORT;
}

/* Phase 6: the N rows into a plain copy of the table with a session attached
 * to it, then the changeset; the caller frees *cs with sqlite3_free. */
static void s_session_capture(const char *path, int64_t n, s_phase *p, void **cs, int *cs_bytes) {
  char err[600];
  sqlite3 *db = br_plain_open(path, err, sizeof err);
  if (!db) s_die("%s", err);
  sqlite3_session *ses = NULL;
  if (sqlite3session_create(db, "main", &ses) != SQLITE_OK || sqlite3session_attach(ses, "care_visits_plain") != SQLITE_OK)
    s_die("sqlite3session_create/attach: %s", sqlite3_errmsg(db));
  double c0 = s_cpu(), w0 = s_written_mib(), t0 = br_now();
  s_insert_rows(db, "care_visits_plain", n);
  int rc = sqlite3session_changeset(ses, cs_bytes, cs);
  p->secs = br_now() - t0;
  p->cpu = s_cpu() - c0;
  p->wr_mib = s_written_mib() - w0;
  if (rc != SQLITE_OK) s_die("sqlite3session_changeset: %s", sqlite3_errstr(rc));
  sqlite3session_delete(ses);
  sqlite3_close_v2(db);
}

/* Phase 7: sqlite3changeset_apply on a second plain database (its own
 * savepoint, committed: synchronous=FULL as every other phase). */
static void s_session_apply(const char *path, int64_t n, s_phase *p, void *cs, int cs_bytes) {
  char err[600];
  sqlite3 *db = br_plain_open(path, err, sizeof err);
  if (!db) s_die("%s", err);
  double c0 = s_cpu(), w0 = s_written_mib(), t0 = br_now();
  int rc = sqlite3changeset_apply(db, cs_bytes, cs, NULL, s_conflict_abort, NULL);
  p->secs = br_now() - t0;
  p->cpu = s_cpu() - c0;
  p->wr_mib = s_written_mib() - w0;
  if (rc != SQLITE_OK) s_die("sqlite3changeset_apply: %s (%s)", sqlite3_errstr(rc), sqlite3_errmsg(db));
  if (s_count(db, "SELECT count(*) FROM care_visits_plain") != n)
    s_die("the changeset's destination does not hold %lld rows", (long long)n);
  sqlite3_close_v2(db);
}

static void s_unlink_db(const char *db) {
  const char *side[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
    char p[4300];
    snprintf(p, sizeof p, "%s%s", db, side[i]);
    unlink(p);
  }
}

/* linli against plain inserts and against the session extension, the same
 * rows in the same run: capture (tracked insert + seal against session
 * capture + changeset), apply (import against changeset_apply), bytes. */
static void s_side_by_side(const s_phase *ph, double plain_rate, double commit_bpr) {
  const s_phase *cap_s = &ph[5], *app_s = &ph[6];
  double lin_cap = ph[1].secs + ph[2].secs, lin_app = ph[4].secs;
  printf("\n== linli against SQLite's session extension (same rows, same run) ==\n");
  printf("%-34s %12s %12s %12s %9s %9s %12s\n", "", "linli s", "session s", "plain s", "linli", "session",
         "linli/session");
  printf("%-34s %12s %12s %12s %9s %9s %12s\n", "", "", "", "", "vs plain", "vs plain", "time");
  double plain_s = ph[0].secs;
  printf("%-34s %12.3f %12.3f %12.3f %8.2fx %8.2fx %11.2fx\n", "capture (tracked insert + seal)", lin_cap,
         cap_s->secs, plain_s, plain_s / lin_cap, plain_s / cap_s->secs, lin_cap / cap_s->secs);
  printf("%-34s %12.3f %12.3f %12.3f %8.2fx %8.2fx %11.2fx\n", "apply (import: verify + merge)", lin_app,
         app_s->secs, plain_s, plain_s / lin_app, plain_s / app_s->secs, lin_app / app_s->secs);
  printf("%-34s %12.1f %12.1f %12s %9s %9s %11.2fx   (aim <= 1.20x)\n", "bytes per row change", commit_bpr,
         cap_s->bytes_per_row, "-", "", "", commit_bpr / cap_s->bytes_per_row);
  printf("  (linli bytes: SignedCommit bytes the hub stores, sum(length(sc)); the bundle file: %.1f B/row;\n"
         "   session bytes: sqlite3session_changeset's output; 'vs plain' is rows/s over plain rows/s, %.0f rows/s)\n",
         ph[3].bytes_per_row, plain_rate);
}

/* ---- main ---- */

static void s_usage(void) {
  fprintf(stderr, "usage: bench [--rows N] [--dir DIR] [--keep]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int64_t n = 1000000;
  const char *dir_arg = NULL;
  bool keep = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      char *end = NULL;
      long long v = strtoll(argv[++i], &end, 10);
      if (!end || *end || v < 1 || v > 99999999) {
        fprintf(stderr, "bench: --rows takes a number from 1 to 99999999\n");
        s_usage();
      }
      n = v;
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir_arg = argv[++i];
    } else if (strcmp(argv[i], "--keep") == 0) {
      keep = true;
    } else {
      s_usage();
    }
  }
  double t_start = br_now();
  li_errbuf eb = {{0}};
  s_check(li_crypto_init(&eb), &eb, "li_crypto_init");

  if (dir_arg) {
    if (strlen(dir_arg) >= sizeof g_dir - 64) s_die("--dir: path too long");
    snprintf(g_dir, sizeof g_dir, "%s", dir_arg);
    if (mkdir(g_dir, 0700) == 0) g_made_dir = true;
    else if (errno != EEXIST) s_die("cannot create %s: %s", g_dir, strerror(errno));
  } else {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/linli-bench-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) s_die("mkdtemp %s: %s", g_dir, strerror(errno));
    g_made_dir = true;
  }
  char plain_db[4200], hub_dir[4200], c07_dir[4200], bundle[4200], ses_src[4200], ses_dst[4200];
  s_path(plain_db, sizeof plain_db, "plain.db");
  s_path(ses_src, sizeof ses_src, "session-src.db");
  s_path(ses_dst, sizeof ses_dst, "session-dst.db");
  s_path(hub_dir, sizeof hub_dir, "hub");
  s_path(c07_dir, sizeof c07_dir, "c07");
  s_path(bundle, sizeof bundle, "c07.bundle");
  struct stat sb;
  if (stat(plain_db, &sb) == 0 || stat(bundle, &sb) == 0)
    s_die("%s already holds a previous run (plain.db or c07.bundle); remove it or choose another --dir", g_dir);

  printf("linli bench: %lld rows of care_visits, scope %s, working directory %s\n", (long long)n, SCOPE, g_dir);
  printf("SQLite %s; every database: journal_mode=WAL, synchronous=FULL, cache_size=-65536\n\n", sqlite3_libversion());
  fflush(stdout);

  enum { NPH = 7 };
  s_phase ph[NPH];
  memset(ph, 0, sizeof ph);
  for (int i = 0; i < NPH; i++) ph[i].bytes_per_row = -1, ph[i].rows = n;

  /* 1. plain */
  {
    char err[600];
    sqlite3 *db = br_plain_open(plain_db, err, sizeof err);
    if (!db) s_die("%s", err);
    ph[0].name = "1 plain insert";
    double c0 = s_cpu(), w0 = s_written_mib();
    ph[0].secs = s_insert_rows(db, "care_visits_plain", n);
    ph[0].cpu = s_cpu() - c0;
    ph[0].wr_mib = s_written_mib() - w0;
    if (s_count(db, "SELECT count(*) FROM care_visits_plain") != n) s_die("plain table does not hold %lld rows", (long long)n);
    sqlite3_close_v2(db);
    s_mark(&ph[0]);
  }
  double plain_rate = (double)n / ph[0].secs;
  s_header();
  s_phase_line(&ph[0], plain_rate);
  fflush(stdout);

  /* nodes: a hub and committee c07 (setup, not timed) */
  li_node hub, com;
  char hub_key[LI_PK_TEXT_LEN + 1], com_key[LI_PK_TEXT_LEN + 1];
  {
    li_node_init_opts ho = {.role = LI_ROLE_HUB, .name = "hub"};
    s_check(li_node_init(hub_dir, &ho, &eb), &eb, "li_node_init (hub)");
    s_check(li_node_open(&hub, hub_dir, &eb), &eb, "li_node_open (hub)");
    li_pk_to_text(hub.id.pk, hub_key);
    li_node_init_opts co = {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = SCOPE, .hub_key = hub_key};
    s_check(li_node_init(c07_dir, &co, &eb), &eb, "li_node_init (committee c07)");
    s_check(li_node_open(&com, c07_dir, &eb), &eb, "li_node_open (committee c07)");
    li_pk_to_text(com.id.pk, com_key);
  }

  /* 2. capture */
  ph[1].name = "2 tracked insert";
  {
    double c0 = s_cpu(), w0 = s_written_mib();
    ph[1].secs = s_insert_rows(com.r->db, "care_visits", n);
    ph[1].cpu = s_cpu() - c0;
    ph[1].wr_mib = s_written_mib() - w0;
  }
  s_mark(&ph[1]);
  s_phase_line(&ph[1], plain_rate);
  fflush(stdout);
  {
    int64_t d = li_replica_dirty_count(com.r);
    if (d != n) s_die("capture: linli_dirty holds %lld markers, expected %lld", (long long)d, (long long)n);
  }

  /* 3. seal */
  li_seal_stats sst;
  {
    double t0 = br_now(), c0 = s_cpu(), w0 = s_written_mib();
    li_err e = li_seal(com.r, li_wall_ms(), &sst, &eb);
    ph[2].secs = br_now() - t0;
    ph[2].cpu = s_cpu() - c0;
    ph[2].wr_mib = s_written_mib() - w0;
    s_check(e, &eb, "li_seal");
  }
  ph[2].name = "3 seal";
  s_mark(&ph[2]);
  s_phase_line(&ph[2], plain_rate);
  fflush(stdout);
  if (sst.rows != n) s_die("seal sealed %lld rows, expected %lld", (long long)sst.rows, (long long)n);
  if (li_replica_dirty_count(com.r) != 0) s_die("linli_dirty is not empty after the seal");

  /* 4. export */
  li_bundle_export_stats est;
  {
    double t0 = br_now(), c0 = s_cpu(), w0 = s_written_mib();
    li_err e = li_bundle_export(com.r, bundle, NULL, NULL, li_wall_ms(), &est, &eb);
    ph[3].secs = br_now() - t0;
    ph[3].cpu = s_cpu() - c0;
    ph[3].wr_mib = s_written_mib() - w0;
    s_check(e, &eb, "li_bundle_export");
  }
  if (stat(bundle, &sb) != 0) s_die("bundle %s missing after export: %s", bundle, strerror(errno));
  ph[3].name = "4 export";
  ph[3].bytes_per_row = (double)sb.st_size / (double)n;
  s_mark(&ph[3]);
  s_phase_line(&ph[3], plain_rate);
  fflush(stdout);
  li_node_close(&com);

  /* 5. import on the hub */
  s_check(li_roster_add(hub.r, "c07", com_key, SCOPE, li_wall_ms(), &eb), &eb, "li_roster_add");
  li_bundle_import_stats ist;
  {
    li_merge_opts opts = {.wall_ms = li_wall_ms(), .max_skew_ms = 300000, .mode = LI_MERGE_ALL_OR_NOTHING, .seal_first = true};
    double t0 = br_now(), c0 = s_cpu(), w0 = s_written_mib();
    li_err e = li_bundle_import(hub.r, bundle, &opts, &ist, &eb);
    ph[4].secs = br_now() - t0;
    ph[4].cpu = s_cpu() - c0;
    ph[4].wr_mib = s_written_mib() - w0;
    s_check(e, &eb, "li_bundle_import");
  }
  ph[4].name = "5 import (verify+merge)";
  s_mark(&ph[4]);
  s_phase_line(&ph[4], plain_rate);
  fflush(stdout);
  int64_t hub_rows = s_count(hub.r->db, "SELECT count(*) FROM care_visits");
  /* linli's bytes per row change: the SignedCommit bytes the hub stores */
  int64_t commit_bytes = s_count(hub.r->db, "SELECT coalesce(sum(length(sc)), 0) FROM linli_log WHERE scope = '" SCOPE "'");
  li_node_close(&hub);
  if (hub_rows != n) s_die("the hub holds %lld rows in care_visits after the import, expected %lld", (long long)hub_rows, (long long)n);

  /* 6, 7: the session extension on the same rows */
  void *cs = NULL;
  int cs_bytes = 0;
  ph[5].name = "6 session capture+chgset";
  s_session_capture(ses_src, n, &ph[5], &cs, &cs_bytes);
  ph[5].bytes_per_row = (double)cs_bytes / (double)n;
  s_mark(&ph[5]);
  s_phase_line(&ph[5], plain_rate);
  fflush(stdout);
  s_unlink_db(ses_src);
  ph[6].name = "7 changeset_apply";
  s_session_apply(ses_dst, n, &ph[6], cs, cs_bytes);
  sqlite3_free(cs);
  s_mark(&ph[6]);
  s_phase_line(&ph[6], plain_rate);
  fflush(stdout);
  s_unlink_db(ses_dst);

  /* summary */
  double total = br_now() - t_start;
  printf("\n== summary (ratios: rows/s of the phase / rows/s of plain insert, same run) ==\n");
  s_header();
  for (int i = 0; i < NPH; i++) s_phase_line(&ph[i], plain_rate);
  {
    s_phase both = {.name = "2+3 capture+seal", .rows = n, .secs = ph[1].secs + ph[2].secs,
                    .cpu = ph[1].cpu + ph[2].cpu, .wr_mib = ph[1].wr_mib + ph[2].wr_mib, .bytes_per_row = -1,
                    .peak_mib = ph[2].peak_mib, .cur_mib = ph[2].cur_mib};
    s_phase_line(&both, plain_rate);
  }
  printf("\nseal: %d commits (%.0f rows each on average); bundle: %llu commits, %lld bytes (%.1f bytes per row change)\n",
         sst.commits, sst.commits ? (double)sst.rows / sst.commits : 0.0, (unsigned long long)est.commits,
         (long long)sb.st_size, ph[3].bytes_per_row);
  printf("import: %d commits applied, %lld row changes, hub care_visits rows: %lld (expected %lld) ok\n",
         ist.merge.applied, (long long)ist.merge.rows, (long long)hub_rows, (long long)n);
  double commit_bpr = (double)commit_bytes / (double)n;
  s_side_by_side(ph, plain_rate, commit_bpr);
  printf("peak RSS: %.1f MiB; total wall time (setup included): %.2f s\n", s_peak_mib(), total);
  printf("result: bench rows=%lld plain_s=%.4f tracked_s=%.4f seal_s=%.4f import_s=%.4f session_s=%.4f "
         "session_apply_s=%.4f bundle_bpr=%.2f commit_bpr=%.2f changeset_bpr=%.2f peak_mib=%.1f\n",
         (long long)n, ph[0].secs, ph[1].secs, ph[2].secs, ph[4].secs, ph[5].secs, ph[6].secs, ph[3].bytes_per_row,
         commit_bpr, ph[5].bytes_per_row, ph[4].peak_mib);

  if (!keep) {
    br_rm_rf(bundle);
    br_rm_rf(c07_dir);
    br_rm_rf(hub_dir);
    s_unlink_db(plain_db);
    if (g_made_dir && rmdir(g_dir) != 0) fprintf(stderr, "bench: cannot remove %s: %s\n", g_dir, strerror(errno));
  } else {
    printf("working files kept in %s\n", g_dir);
  }
  return 0;
}

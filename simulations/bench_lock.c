/* bench_lock: how long linli holds SQLite's write lock, and what a staff
 * member's program writing to the same replica.db meets meanwhile (issue 9,
 * item 11: "staff writes are not refused because of our locks").
 *
 * In WAL mode readers never wait; a writer waits while another connection
 * holds the write lock (BEGIN IMMEDIATE .. COMMIT), and gets SQLITE_BUSY
 * ("database is locked") when its busy timeout runs out first. So the
 * figures are:
 *   - linli's side: the longest write transaction of li_replica_begin ..
 *     li_replica_commit during the phase (li_replica_lock_stats), with the
 *     number of write transactions and their total;
 *   - the staff side: a "staff writer" thread with its own connection to the
 *     same file (as the sqlite3 shell would open it), inserting one
 *     care_visits row in autocommit mode every --staff-ms ms while the phase
 *     runs: the longest time one INSERT took (waiting included), how many
 *     got SQLITE_BUSY, and the longest time it stayed locked out (first BUSY
 *     to next success: with busy_timeout 0 that is the lock hold seen from
 *     outside, whoever held it).
 * Every phase runs twice on identical copies of the node folders: once with
 * the staff writer's busy_timeout 5000 (what the README advises: sqlite3
 * ".timeout 5000"), once with busy_timeout 0 (a program that sets none).
 *
 * Phases (N rows of care_visits, default 10000):
 *   open      li_node_open of committee c07 holding N unsealed rows, then
 *             what `linli serve` does before its loop: li_driver_new and the
 *             first li_driver_tick (seal if the gate allows, save)
 *   seal      li_seal of the N rows (commits of at most LI_COMMIT_ROWS_MAX rows)
 *   apply     the hub applies c07's commits as `linli serve` does: batches
 *             fetched with the default batch bounds (LI_BATCH_ROWS_DEFAULT
 *             commits, LI_BATCH_BYTES_DEFAULT bytes), each applied by the
 *             sync store (li_store_replica_vt.apply: one li_merge_batch,
 *             PER_CHAIN, seal first, one transaction per batch)
 *   import    the hub applies the same commits from a bundle
 *             (li_bundle_import: the whole file in one transaction, by design)
 *   reopen    li_node_open + li_driver_new + first tick of the hub holding
 *             the N applied rows
 * Timings are reported, never asserted.
 *
 * Usage: bench_lock [--rows N] [--staff-ms M] [--gap-ms G] [--dir DIR] [--keep]
 *   --rows      rows sealed and applied (default 10000)
 *   --staff-ms  pause between two staff INSERTs (default 2)
 *   --gap-ms    pause between two apply batches (default 0: back to back,
 *               as serve applies the batches of a full window); shows what
 *               a waiting writer needs to get in between two transactions
 *   --dir       working directory (created if missing; must not hold a
 *               previous run); default: a fresh mkdtemp under $TMPDIR or /tmp
 *   --keep      leave the working files in place
 * Exit status: 0 on success, 1 when a library call fails or a check does not
 * hold (the message says which), 2 on bad usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchrows.h"
#include "bundle.h"
#include "chain.h"
#include "driver.h"
#include "err.h"
#include "hlc.h"
#include "keys.h"
#include "merge.h"
#include "node.h"
#include "replica.h"
#include "roster.h"
#include "seal.h"
#include "store.h"

#define SCOPE "c07"

static char g_dir[4096];
static bool g_made_dir;

__attribute__((noreturn, format(printf, 1, 2))) static void s_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_lock: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (g_dir[0]) fprintf(stderr, "bench_lock: working files left for inspection in %s\n", g_dir);
  exit(1);
}

static void s_check(li_err e, const li_errbuf *eb, const char *what) {
  if (e != LI_OK) s_die("%s failed: %s (%s)", what, li_errmsg(eb, e), li_errname(e));
}

static uint64_t s_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void s_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

/* Copies the regular files of node folder from into to (created): a node
 * closed, so replica.db holds everything (its WAL checkpointed at close). */
static void s_copy_dir(const char *from, const char *to) {
  if (mkdir(to, 0700) != 0) s_die("mkdir %s: %s", to, strerror(errno));
  DIR *d = opendir(from);
  if (!d) s_die("opendir %s: %s", from, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d))) {
    char src[4400], dst[4400];
    snprintf(src, sizeof src, "%s/%s", from, de->d_name);
    snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
    struct stat sb;
    if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    size_t nl = strlen(de->d_name);
    if (nl > 4 && strcmp(de->d_name + nl - 4, "-shm") == 0) continue;
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, sb.st_mode & 0777);
    if (in < 0 || out < 0) s_die("copy %s -> %s: %s", src, dst, strerror(errno));
    char buf[1 << 16];
    ssize_t k;
    while ((k = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, (size_t)k) != k) s_die("write %s: %s", dst, strerror(errno));
    if (k < 0) s_die("read %s: %s", src, strerror(errno));
    close(in);
    close(out);
  }
  closedir(d);
}

/* ---- the staff writer ---- */

typedef struct {
  /* in */
  char db[4400];
  char scope[LI_SCOPE_MAX + 1];
  int timeout_ms;
  int pause_ms;
  int id_base;
  /* control */
  pthread_t th;
  atomic_bool stop, ready;
  /* out */
  uint64_t tries, ok, busy, other;
  uint64_t max_wait_ns;    /* the longest single INSERT (sqlite3_step), waiting included */
  uint64_t max_out_ns;     /* the longest time from a first BUSY to the next success */
  uint64_t out_t0;         /* first BUSY of the current streak, 0: none */
  char err[256];           /* the first error other than BUSY */
} s_staff;

static void *s_staff_run(void *arg) {
  s_staff *s = arg;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    snprintf(s->err, sizeof s->err, "open: %s", sqlite3_errmsg(db));
    atomic_store(&s->ready, true);
    sqlite3_close_v2(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, s->timeout_ms);
  /* prepared once, before the phase: the schema is read now */
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO care_visits(id, scope, resident_ref, visited_on, kind, note)"
                         " VALUES(?, ?, 'R-00001', '2025-06-01', '探访', 'staff writer')",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(s->err, sizeof s->err, "prepare: %s", sqlite3_errmsg(db));
    atomic_store(&s->ready, true);
    sqlite3_close_v2(db);
    return NULL;
  }
  atomic_store(&s->ready, true);
  int seq = 0;
  while (!atomic_load(&s->stop)) {
    char id[48];
    snprintf(id, sizeof id, "staff-%d-%06d", s->id_base, seq);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, s->scope, -1, SQLITE_STATIC);
    uint64_t t0 = s_ns();
    int rc = sqlite3_step(st);
    uint64_t t1 = s_ns();
    sqlite3_reset(st);
    s->tries++;
    if (t1 - t0 > s->max_wait_ns) s->max_wait_ns = t1 - t0;
    if (rc == SQLITE_DONE) {
      s->ok++;
      seq++;
      if (s->out_t0) {
        if (t1 - s->out_t0 > s->max_out_ns) s->max_out_ns = t1 - s->out_t0;
        s->out_t0 = 0;
      }
    } else if ((rc & 0xff) == SQLITE_BUSY) {
      s->busy++;
      if (!s->out_t0) s->out_t0 = t0;
    } else {
      s->other++;
      if (!s->err[0]) snprintf(s->err, sizeof s->err, "insert: %s", sqlite3_errmsg(db));
    }
    if (s->pause_ms > 0) usleep((useconds_t)s->pause_ms * 1000);
  }
  if (s->out_t0) { /* still locked out when the phase ended */
    uint64_t d = s_ns() - s->out_t0;
    if (d > s->max_out_ns) s->max_out_ns = d;
  }
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  return NULL;
}

static void s_staff_start(s_staff *s, const char *db, const char *scope, int timeout_ms, int pause_ms, int id_base) {
  memset(s, 0, sizeof *s);
  snprintf(s->db, sizeof s->db, "%s", db);
  snprintf(s->scope, sizeof s->scope, "%s", scope);
  s->timeout_ms = timeout_ms;
  s->pause_ms = pause_ms;
  s->id_base = id_base;
  atomic_init(&s->stop, false);
  atomic_init(&s->ready, false);
  if (pthread_create(&s->th, NULL, s_staff_run, s) != 0) s_die("pthread_create failed");
  while (!atomic_load(&s->ready)) usleep(1000);
  if (s->err[0]) s_die("staff writer on %s: %s", db, s->err);
  usleep(20 * 1000); /* a few INSERTs before the phase starts */
}

static void s_staff_stop(s_staff *s) {
  usleep(20 * 1000); /* and a few after it */
  atomic_store(&s->stop, true);
  pthread_join(s->th, NULL);
}

/* ---- report ---- */

typedef struct {
  const char *phase;
  int timeout_ms;
  int64_t rows;
  double secs;
  li_replica_lock_stats lk;
  s_staff staff;
} s_result;

static void s_header(void) {
  printf("%-8s %7s %8s %7s | %6s %9s %9s | %7s %6s %5s %9s %11s\n", "phase", "timeout", "rows", "seconds", "txns",
         "max hold", "sum hold", "inserts", "ok", "BUSY", "max wait", "locked out");
  printf("%-8s %7s %8s %7s | %6s %9s %9s | %7s %6s %5s %9s %11s\n", "", "ms", "", "", "linli", "ms", "ms", "staff",
         "", "", "ms", "max ms");
}

static void s_line(const s_result *r) {
  const s_staff *s = &r->staff;
  printf("%-8s %7d %8lld %7.3f | %6llu %9.1f %9.1f | %7llu %6llu %5llu %9.1f %11.1f\n", r->phase, r->timeout_ms,
         (long long)r->rows, r->secs, (unsigned long long)r->lk.holds, (double)r->lk.max_ns / 1e6,
         (double)r->lk.total_ns / 1e6, (unsigned long long)s->tries, (unsigned long long)s->ok,
         (unsigned long long)s->busy, (double)s->max_wait_ns / 1e6, (double)s->max_out_ns / 1e6);
  if (s->other) printf("         staff writer errors other than BUSY: %llu (first: %s)\n", (unsigned long long)s->other, s->err);
  fflush(stdout);
}

/* ---- phases ---- */

static li_now s_now(void) {
  uint64_t ns = s_ns();
  return (li_now){.ms = ns / 1000000u, .wall_ms = li_wall_ms()};
}

/* li_node_open + what serve does before its loop (li_driver_new, the WAL
 * auto-checkpoint, the first tick). The node stays open. */
static void s_phase_open(s_result *res, li_node *n, const char *dir, const char *scope, int timeout_ms, int pause_ms,
                         int64_t rows) {
  char db[4400];
  snprintf(db, sizeof db, "%s/replica.db", dir);
  li_errbuf eb = {{0}};
  s_staff_start(&res->staff, db, scope, timeout_ms, pause_ms, 1);
  uint64_t t0 = s_ns();
  s_check(li_node_open(n, dir, &eb), &eb, "li_node_open");
  sqlite3_wal_autocheckpoint(n->r->db, 10000); /* serve.c S_WAL_CHECKPOINT_PAGES */
  li_driver_cfg dc;
  li_driver_cfg_from(&dc, &n->cfg, n->id.pk);
  li_driver *d = li_driver_new(&dc, n->r, &eb);
  if (!d) s_die("li_driver_new: %s", eb.msg);
  li_driver_tick(d, s_now());
  li_out o;
  while (li_driver_next_out(d, &o))
    if (o.kind == LI_OUT_SEND) free(o.data);
  res->secs = (double)(s_ns() - t0) / 1e9;
  s_staff_stop(&res->staff);
  li_replica_lock_stats_get(n->r, &res->lk);
  li_driver_destroy(&d);
  res->rows = rows;
}

static void s_phase_seal(s_result *res, li_node *n, const char *db, int timeout_ms, int pause_ms, int64_t rows,
                         li_seal_stats *sst) {
  li_errbuf eb = {{0}};
  li_replica_lock_stats_reset(n->r);
  s_staff_start(&res->staff, db, SCOPE, timeout_ms, pause_ms, 2);
  uint64_t t0 = s_ns();
  li_err e = li_seal(n->r, li_wall_ms(), sst, &eb);
  res->secs = (double)(s_ns() - t0) / 1e9;
  s_staff_stop(&res->staff);
  s_check(e, &eb, "li_seal");
  li_replica_lock_stats_get(n->r, &res->lk);
  res->rows = sst->rows;
  if (sst->rows < rows) s_die("seal sealed %lld rows, expected at least %lld", (long long)sst->rows, (long long)rows);
}

/* The head of (origin, scope) in r, 0 when none. */
static uint64_t s_head(li_replica *r, const uint8_t *origin, const char *scope) {
  li_heads h = {0};
  li_errbuf eb = {{0}};
  s_check(li_chain_heads(r, NULL, &h, &eb), &eb, "li_chain_heads");
  uint64_t seq = 0;
  for (size_t i = 0; i < h.n; i++)
    if (memcmp(h.v[i].origin, origin, LI_PK_BYTES) == 0 && strcmp(h.v[i].scope, scope) == 0) seq = h.v[i].seq;
  li_heads_clear(&h);
  return seq;
}

/* The hub applies c07's chain as serve does: a batch within the default
 * bounds, applied by the sync store, again until the hub has it all. */
static void s_phase_apply(s_result *res, li_node *hub, li_replica *src, const char *db, int timeout_ms, int pause_ms,
                          int gap_ms, int *batches) {
  li_errbuf eb = {{0}};
  const uint8_t *origin = li_replica_self(src);
  uint64_t to = s_head(src, origin, SCOPE);
  li_store store = {.r = hub->r, .max_skew_ms = 300000};
  li_replica_lock_stats_reset(hub->r);
  *batches = 0;
  s_staff_start(&res->staff, db, LI_SCOPE_STREET, timeout_ms, pause_ms, 3);
  uint64_t t0 = s_ns();
  for (;;) {
    uint64_t have = s_head(hub->r, origin, SCOPE);
    if (have >= to) break;
    if (have > 0 && gap_ms > 0) usleep((useconds_t)gap_ms * 1000);
    li_range rg = {.from_seq = have + 1, .to_seq = to};
    memcpy(rg.origin, origin, LI_PK_BYTES);
    snprintf(rg.scope, sizeof rg.scope, "%s", SCOPE);
    li_blobs got = {0};
    s_check(li_store_replica_vt.fetch(&(li_store){.r = src}, &rg, 1, LI_BATCH_ROWS_DEFAULT, LI_BATCH_BYTES_DEFAULT,
                                      &got, &eb),
            &eb, "fetch");
    store.wall_ms = li_wall_ms();
    li_apply_result ar;
    s_check(li_store_replica_vt.apply(&store, got.v, got.n, &ar, &eb), &eb, "apply");
    if (ar.nrejects) s_die("apply rejected chain %s at #%llu: %s", ar.rejects[0].scope,
                           (unsigned long long)ar.rejects[0].seq, ar.rejects[0].message);
    if (ar.applied == 0) s_die("apply applied nothing");
    li_apply_result_clear(&ar);
    li_blobs_clear(&got);
    (*batches)++;
  }
  res->secs = (double)(s_ns() - t0) / 1e9;
  s_staff_stop(&res->staff);
  li_replica_lock_stats_get(hub->r, &res->lk);
}

static void s_phase_import(s_result *res, li_node *hub, const char *bundle, const char *db, int timeout_ms,
                           int pause_ms) {
  li_errbuf eb = {{0}};
  li_replica_lock_stats_reset(hub->r);
  li_bundle_import_stats ist;
  li_merge_opts opts = {.wall_ms = li_wall_ms(), .max_skew_ms = 300000, .mode = LI_MERGE_PER_CHAIN, .seal_first = true};
  s_staff_start(&res->staff, db, LI_SCOPE_STREET, timeout_ms, pause_ms, 4);
  uint64_t t0 = s_ns();
  li_err e = li_bundle_import(hub->r, bundle, &opts, &ist, &eb);
  res->secs = (double)(s_ns() - t0) / 1e9;
  s_staff_stop(&res->staff);
  s_check(e, &eb, "li_bundle_import");
  li_bundle_import_stats_clear(&ist);
  li_replica_lock_stats_get(hub->r, &res->lk);
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

static void s_usage(void) {
  fprintf(stderr, "usage: bench_lock [--rows N] [--staff-ms M] [--gap-ms G] [--dir DIR] [--keep]\n");
  exit(2);
}

static long long s_num(const char *s, long long lo, long long hi, const char *opt) {
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!end || *end || v < lo || v > hi) {
    fprintf(stderr, "bench_lock: %s takes a number from %lld to %lld\n", opt, lo, hi);
    s_usage();
  }
  return v;
}

int main(int argc, char **argv) {
  int64_t n = 10000;
  int pause_ms = 2, gap_ms = 0;
  const char *dir_arg = NULL;
  bool keep = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) n = s_num(argv[++i], 1, 99999999, "--rows");
    else if (strcmp(argv[i], "--staff-ms") == 0 && i + 1 < argc) pause_ms = (int)s_num(argv[++i], 0, 10000, "--staff-ms");
    else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc) gap_ms = (int)s_num(argv[++i], 0, 10000, "--gap-ms");
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir_arg = argv[++i];
    else if (strcmp(argv[i], "--keep") == 0) keep = true;
    else s_usage();
  }
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
    snprintf(g_dir, sizeof g_dir, "%s/linli-bench-lock-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) s_die("mkdtemp %s: %s", g_dir, strerror(errno));
    g_made_dir = true;
  }
  /* per variant v (0: staff timeout 5000, 1: timeout 0): committee c07,
   * the hub applying batches (serve), the hub importing the bundle */
  static const int timeouts[2] = {5000, 0};
  char com_dir[2][4200], hub_dir[2][4200], imp_dir[2][4200], bundle[2][4200];
  for (int v = 0; v < 2; v++) {
    char name[64];
    snprintf(name, sizeof name, "c07-%d", v);
    s_path(com_dir[v], sizeof com_dir[v], name);
    snprintf(name, sizeof name, "hub-%d", v);
    s_path(hub_dir[v], sizeof hub_dir[v], name);
    snprintf(name, sizeof name, "hub-import-%d", v);
    s_path(imp_dir[v], sizeof imp_dir[v], name);
    snprintf(name, sizeof name, "c07-%d.bundle", v);
    s_path(bundle[v], sizeof bundle[v], name);
  }
  struct stat sb;
  if (stat(com_dir[0], &sb) == 0) s_die("%s already holds a previous run; remove it or choose another --dir", g_dir);

  printf("linli bench_lock: %lld rows of care_visits, scope %s, working directory %s\n", (long long)n, SCOPE, g_dir);
  printf("SQLite %s; replica: journal_mode=WAL, synchronous=FULL; staff writer: its own connection, one INSERT "
         "(autocommit) every %d ms\n",
         sqlite3_libversion(), pause_ms);
  printf("LI_COMMIT_ROWS_MAX %d; serve batches: %u commits / %u bytes at most, %d ms between two\n\n",
         LI_COMMIT_ROWS_MAX, LI_BATCH_ROWS_DEFAULT, LI_BATCH_BYTES_DEFAULT, gap_ms);
  fflush(stdout);

  /* setup (not measured): hub and c07, c07 known to the hub, N unsealed
   * rows at c07; then copies for the second variant and for the import */
  {
    li_node hub, com;
    char hub_key[LI_PK_TEXT_LEN + 1], com_key[LI_PK_TEXT_LEN + 1];
    li_node_init_opts ho = {.role = LI_ROLE_HUB, .name = "hub"};
    s_check(li_node_init(hub_dir[0], &ho, &eb), &eb, "li_node_init (hub)");
    s_check(li_node_open(&hub, hub_dir[0], &eb), &eb, "li_node_open (hub)");
    li_pk_to_text(hub.id.pk, hub_key);
    li_node_init_opts co = {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = SCOPE, .hub_key = hub_key};
    s_check(li_node_init(com_dir[0], &co, &eb), &eb, "li_node_init (committee c07)");
    s_check(li_node_open(&com, com_dir[0], &eb), &eb, "li_node_open (committee c07)");
    li_pk_to_text(com.id.pk, com_key);
    s_check(li_roster_add(hub.r, "c07", com_key, SCOPE, li_wall_ms(), &eb), &eb, "li_roster_add");
    const char *scope = SCOPE;
    char err[600];
    if (br_insert_rows(com.r->db, "care_visits", &scope, 1, n, err, sizeof err) < 0) s_die("%s", err);
    li_node_close(&com);
    li_node_close(&hub);
    s_copy_dir(com_dir[0], com_dir[1]);
    s_copy_dir(hub_dir[0], hub_dir[1]);
    s_copy_dir(hub_dir[0], imp_dir[0]);
    s_copy_dir(hub_dir[0], imp_dir[1]);
  }

  s_result res[2][5];
  memset(res, 0, sizeof res);
  int batches[2] = {0, 0};
  li_seal_stats sst[2];
  int64_t hub_rows[2] = {0, 0}, imp_rows[2] = {0, 0};
  s_header();
  for (int v = 0; v < 2; v++) {
    int to = timeouts[v];
    char com_db[4400], hub_db[4400], imp_db[4400];
    snprintf(com_db, sizeof com_db, "%s/replica.db", com_dir[v]);
    snprintf(hub_db, sizeof hub_db, "%s/replica.db", hub_dir[v]);
    snprintf(imp_db, sizeof imp_db, "%s/replica.db", imp_dir[v]);
    for (int k = 0; k < 5; k++) res[v][k].timeout_ms = to;

    li_node com, hub, imp;
    res[v][0].phase = "open";
    s_phase_open(&res[v][0], &com, com_dir[v], SCOPE, to, pause_ms, n);
    s_line(&res[v][0]);

    res[v][1].phase = "seal";
    s_phase_seal(&res[v][1], &com, com_db, to, pause_ms, n, &sst[v]);
    s_line(&res[v][1]);
    /* staff rows written during open and before the seal are sealed too; those
     * written after it stay unsealed and are not sent (the hub must not see
     * more than what was sealed) */
    li_bundle_export_stats est;
    s_check(li_bundle_export(com.r, bundle[v], NULL, NULL, li_wall_ms(), &est, &eb), &eb, "li_bundle_export");

    s_check(li_node_open(&hub, hub_dir[v], &eb), &eb, "li_node_open (hub)");
    res[v][2].phase = "apply";
    s_phase_apply(&res[v][2], &hub, com.r, hub_db, to, pause_ms, gap_ms, &batches[v]);
    res[v][2].rows = sst[v].rows;
    s_line(&res[v][2]);
    hub_rows[v] = s_count(hub.r->db, "SELECT count(*) FROM care_visits WHERE scope = '" SCOPE "'");
    li_node_close(&hub);

    s_check(li_node_open(&imp, imp_dir[v], &eb), &eb, "li_node_open (hub, import)");
    res[v][3].phase = "import";
    s_phase_import(&res[v][3], &imp, bundle[v], imp_db, to, pause_ms);
    res[v][3].rows = sst[v].rows;
    s_line(&res[v][3]);
    imp_rows[v] = s_count(imp.r->db, "SELECT count(*) FROM care_visits WHERE scope = '" SCOPE "'");
    li_node_close(&imp);
    li_node_close(&com);

    res[v][4].phase = "reopen";
    s_phase_open(&res[v][4], &hub, hub_dir[v], LI_SCOPE_STREET, to, pause_ms, hub_rows[v]);
    s_line(&res[v][4]);
    li_node_close(&hub);
    if (hub_rows[v] != sst[v].rows || imp_rows[v] != sst[v].rows)
      s_die("the hub holds %lld (apply) / %lld (import) c07 rows, expected %lld", (long long)hub_rows[v],
            (long long)imp_rows[v], (long long)sst[v].rows);
  }
  printf("\nseal: %d commits for %lld rows; apply: %d batches (one transaction each); import: one transaction; "
         "hub c07 rows after apply and import: %lld, %lld (= sealed) ok\n",
         sst[0].commits, (long long)sst[0].rows, batches[0], (long long)hub_rows[0], (long long)imp_rows[0]);
  printf("columns: txns/max hold/sum hold: linli's write transactions (li_replica_lock_stats); inserts/ok/BUSY: the "
         "staff writer's INSERTs and their outcome; max wait: the longest single INSERT; locked out: the longest "
         "time from a BUSY to the next success\n");

  if (!keep) {
    for (int v = 0; v < 2; v++) {
      br_rm_rf(bundle[v]);
      br_rm_rf(com_dir[v]);
      br_rm_rf(hub_dir[v]);
      br_rm_rf(imp_dir[v]);
    }
    if (g_made_dir && rmdir(g_dir) != 0) fprintf(stderr, "bench_lock: cannot remove %s: %s\n", g_dir, strerror(errno));
  } else {
    printf("working files kept in %s\n", g_dir);
  }
  return 0;
}

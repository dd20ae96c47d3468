/* bench_sync: the sync benchmark (issue: sync over ZeroMQ).
 *
 * Real `li_serve` daemons (the loop of `linli serve`) in child processes,
 * CURVE over TCP on loopback, default configuration. In one run:
 *
 *  1. end to end, one committee -> hub, N row changes (default 1,000,000):
 *     the committee inserts N care_visits rows (one transaction, one prepared
 *     statement) and seals them (timed, but not part of the sync figure);
 *     the hub daemon is started and, once it listens, the committee daemon
 *     is started at t0; the hub's replica is polled every 20 ms through a
 *     separate read-only connection until linli_vv holds the committee's
 *     head seq (committed, so durable: synchronous=FULL) at t1.
 *     sync rows/s = N / (t1 - t0).
 *  2. fan-in: K committees x M rows (default 50 x 20,000): every committee
 *     writes and seals first; then the hub, then all K committee daemons at
 *     once (t0); t1 when the hub holds every committee's head.
 *  3. convergence after a cut (issue 14 item 7): K committees x E edits
 *     (default 50 x 1,000) written and sealed while their daemons are not
 *     running, and H street notices (default 100) the hub writes and seals
 *     meanwhile; the hub daemon runs; the heal (t0) starts every committee
 *     daemon at once; t1 when the hub holds every committee's head and every
 *     committee the hub's street chain (linli_vv, polled read-only). Also:
 *     the hub's CPU from t0 to t1, its RSS sampled every 200 ms.
 *
 * Both are compared with plain SQLite inserts of the same rows into an
 * untracked copy of care_visits in a fresh database with the replica's
 * PRAGMAs (journal_mode=WAL, synchronous=FULL), measured in the same run.
 * Also reported: bytes per row change (the SignedCommit bytes the hub stored
 * for the committee, and the TCP payload bytes each way: tcp_info of every
 * loopback connection to the hub's port, sampled from the kernel with
 * sock_diag every 200 ms and at convergence, so CURVE, ZMTP, envelopes and
 * connections closed during the run (reconnects) are included), peak RSS
 * (VmHWM) and CPU seconds of the hub and the committees read from /proc
 * before they are stopped.
 *
 * Heavy setup (plain inserts, committee writes and seals) runs in short-lived
 * child processes so the parent stays small and the daemons it forks start
 * with a small RSS. Every child is killed and reaped on every exit path
 * (failure, SIGINT, SIGTERM) and gets PR_SET_PDEATHSIG, so none outlives the
 * benchmark even if it is killed with SIGKILL.
 *
 * Usage: bench_sync [--rows N] [--fanin-committees K] [--fanin-rows M]
 *                   [--skip-e2e] [--skip-fanin] [--committees K] [--edits E]
 *                   [--notices H] [--skip-converge] [--timeout SECONDS]
 *                   [--conf KEY=VALUE]... [--dir DIR] [--keep]
 *   --conf  sets a key of every node's linli.conf after init (experiments,
 *           e.g. --conf batch_bytes_max=4194304); default: the defaults
 * The "result:" lines at the end are for scripts/bench.sh.
 * Timings are reported, never asserted. Exit status: 0 on success; 1 when a
 * step fails (a library call, a daemon exits, the hub does not converge
 * within --timeout, default 600 s; the message says which, and the daemons'
 * logs are kept); 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked / tcpi_bytes_received */
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "hlc.h"
#include "keys.h"
#include "node.h"
#include "benchrows.h"
#include "replica.h"
#include "seal.h"
#include "serve.h"

#define S_KIDS_MAX 512
#define S_FANIN_MAX 250 /* below LI_PEERS_MAX (256) */
#define S_POLL_MS 20
#define S_STOP_GRACE_MS 30000

/* ---- shared memory between the parent and its children ---- */

/* What a setup worker reports. */
typedef struct {
  int ok;
  char err[600];
  double secs, secs2; /* insert, seal (or plain insert) */
  int64_t rows;
  int commits;
  uint64_t head;       /* committee: seq of its chain after the seal */
  uint8_t pk[LI_PK_BYTES];
  char pk_text[LI_PK_TEXT_LEN + 1];
  char hub_key[LI_PK_TEXT_LEN + 1];
} s_result;

typedef struct {
  s_result res[S_FANIN_MAX + 2];
} s_shared;

static s_shared *g_sh;

/* ---- children ---- */

static volatile pid_t g_pids[S_KIDS_MAX];
static char g_names[S_KIDS_MAX][48];
static char g_dir[4096];
static bool g_made_dir, g_keep;
static pid_t g_parent;

static volatile sig_atomic_t g_child_stop;

static void s_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Kills (SIGKILL) and reaps every child still recorded. Async-signal-safe. */
static void s_kill_all_now(void) {
  for (int i = 0; i < S_KIDS_MAX; i++)
    if (g_pids[i] > 0) kill(g_pids[i], SIGKILL);
  for (int i = 0; i < S_KIDS_MAX; i++)
    if (g_pids[i] > 0) {
      while (waitpid(g_pids[i], NULL, 0) < 0 && errno == EINTR) {
      }
      g_pids[i] = 0;
    }
}

static void s_on_parent_signal(int sig) {
  static const char msg[] = "\nbench_sync: interrupted; stopping every child process\n";
  if (write(2, msg, sizeof msg - 1) < 0) { /* nothing to do */
  }
  s_kill_all_now();
  static const char left[] = "bench_sync: working files left in ";
  if (g_dir[0] && write(2, left, sizeof left - 1) >= 0 && write(2, g_dir, strlen(g_dir)) >= 0 &&
      write(2, "\n", 1) >= 0) { /* nothing more to say */
  }
  _exit(128 + sig);
}

static void s_tail(const char *path, int lines) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  static char buf[1 << 16];
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  long from = sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0;
  fseek(f, from, SEEK_SET);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = buf + n;
  int seen = 0;
  while (p > buf && seen <= lines)
    if (*--p == '\n') seen++;
  if (*p == '\n') p++;
  fprintf(stderr, "---- last lines of %s ----\n%s", path, p);
  if (n && buf[n - 1] != '\n') fputc('\n', stderr);
}

static char g_fail_log[4200]; /* a log worth showing on failure */
static char g_hub_log[4200];

__attribute__((noreturn, format(printf, 1, 2))) static void s_die(const char *fmt, ...) {
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_sync: FAILED: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  s_kill_all_now();
  if (g_hub_log[0]) s_tail(g_hub_log, 15);
  if (g_fail_log[0] && strcmp(g_fail_log, g_hub_log) != 0) s_tail(g_fail_log, 15);
  if (g_dir[0]) fprintf(stderr, "bench_sync: working files and logs left for inspection in %s\n", g_dir);
  exit(1);
}

static void s_check(li_err e, const li_errbuf *eb, const char *what) {
  if (e != LI_OK) s_die("%s failed: %s (%s)", what, li_errmsg(eb, e), li_errname(e));
}

static int s_slot_free(void) {
  for (int i = 0; i < S_KIDS_MAX; i++)
    if (g_pids[i] == 0) return i;
  s_die("too many child processes");
}

/* In the child, right after fork: die with the parent, default signals. */
static void s_child_setup(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != g_parent) _exit(1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int i = 0; i < S_KIDS_MAX; i++) g_pids[i] = 0; /* not ours to kill */
}

/* Forks a child running fn(arg) then _exit(its return). Signals are blocked
 * between fork and recording the pid so an interrupt never misses it. */
static int s_spawn(const char *name, int (*fn)(void *), void *arg) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  int slot = s_slot_free();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    s_die("fork (%s): %s", name, strerror(errno));
  }
  if (pid == 0) {
    s_child_setup();
    _exit(fn(arg));
  }
  g_pids[slot] = pid;
  snprintf(g_names[slot], sizeof g_names[slot], "%s", name);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return slot;
}

/* Waits for the child of slot; returns its wait status. */
static int s_wait_slot(int slot) {
  int st = 0;
  while (waitpid(g_pids[slot], &st, 0) < 0) {
    if (errno != EINTR) s_die("waitpid %s: %s", g_names[slot], strerror(errno));
  }
  g_pids[slot] = 0;
  return st;
}

static const char *s_status_text(int st, char *buf, size_t cap) {
  if (WIFEXITED(st)) snprintf(buf, cap, "exit status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf, cap, "killed by signal %d", WTERMSIG(st));
  else snprintf(buf, cap, "status %d", st);
  return buf;
}

/* ---- files ---- */

/* ---- /proc ---- */

typedef struct {
  double hwm_mib, rss_mib, cpu_s;
} s_proc;

static void s_proc_read(pid_t pid, s_proc *out) {
  memset(out, 0, sizeof *out);
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (f) {
    long v;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "VmHWM: %ld kB", &v) == 1) out->hwm_mib = (double)v / 1024.0;
      else if (sscanf(line, "VmRSS: %ld kB", &v) == 1) out->rss_mib = (double)v / 1024.0;
    }
    fclose(f);
  }
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (f) {
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, stt = 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2)
      out->cpu_s = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
  }
}

static double s_self_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


/* ---- TCP payload on the hub's port, from the kernel (sock_diag) ---- */

/* Every TCP connection seen on the port, with its last counters: a
 * connection closed during the run (a reconnect) keeps what it had carried
 * at the last sample. */
typedef struct {
  uint64_t cookie;
  bool hub_side; /* the hub's end (local port = the hub's port) */
  uint64_t acked, received;
} s_conn;

typedef struct {
  s_conn *v;
  size_t n, cap;
  bool ok; /* at least one sample succeeded */
} s_conns;

/* One sample of every TCP socket of 127.0.0.1 with the port at either end. */
static void s_tcp_sample(s_conns *c, int port) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return;
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = AF_INET;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0u;
  req.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
  if (send(fd, &req, sizeof req, 0) != (ssize_t)sizeof req) {
    close(fd);
    return;
  }
  static char buf[1 << 16];
  bool done = false, ok = true;
  while (!done && ok) {
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0) {
      ok = false;
      break;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        ok = false;
        break;
      }
      struct inet_diag_msg *m = NLMSG_DATA(h);
      bool hub_side = ntohs(m->id.idiag_sport) == port;
      if (!hub_side && ntohs(m->id.idiag_dport) != port) continue;
      int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type != INET_DIAG_INFO ||
            RTA_PAYLOAD(a) < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(uint64_t))
          continue;
        struct tcp_info ti;
        memset(&ti, 0, sizeof ti);
        memcpy(&ti, RTA_DATA(a), RTA_PAYLOAD(a) < sizeof ti ? RTA_PAYLOAD(a) : sizeof ti);
        uint64_t cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
        s_conn *k = NULL;
        for (size_t i = 0; i < c->n && !k; i++)
          if (c->v[i].cookie == cookie && c->v[i].hub_side == hub_side) k = &c->v[i];
        if (!k) {
          if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            s_conn *v = realloc(c->v, cap * sizeof *v);
            if (!v) continue;
            c->v = v;
            c->cap = cap;
          }
          k = &c->v[c->n++];
          memset(k, 0, sizeof *k);
          k->cookie = cookie;
          k->hub_side = hub_side;
        }
        if (ti.tcpi_bytes_acked > k->acked) k->acked = ti.tcpi_bytes_acked;
        if (ti.tcpi_bytes_received > k->received) k->received = ti.tcpi_bytes_received;
      }
    }
  }
  close(fd);
  if (ok && done) c->ok = true;
}

/* ---- a daemon child ---- */

static void s_child_on_term(int sig) {
  (void)sig;
  g_child_stop = 1;
}

typedef struct {
  char dir[4200];
  char log[4200];
} s_serve_arg;

static int s_serve_child(void *p) {
  s_serve_arg *a = p;
  int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_child_on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  li_node n;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&n, a->dir, &eb);
  if (e) {
    fprintf(stderr, "bench_sync daemon: cannot open %s: %s\n", a->dir, li_errmsg(&eb, e));
    return 1;
  }
  li_log_init(n.cfg.log_level, true);
  li_serve_opts o = {.stop = &g_child_stop};
  e = li_serve(&n, &o, &eb);
  li_node_close(&n);
  if (e) fprintf(stderr, "bench_sync daemon: li_serve: %s\n", li_errmsg(&eb, e));
  return e ? 1 : 0;
}

/* ---- rows ---- */

/* ---- setup workers ---- */

typedef struct {
  char path[4200];
  char scopes[S_FANIN_MAX][16];
  int nscopes;
  int64_t rows; /* per scope */
  s_result *res;
} s_plain_arg;

static int s_plain_worker(void *p) {
  s_plain_arg *a = p;
  s_result *res = a->res;
  sqlite3 *db = br_plain_open(a->path, res->err, sizeof res->err);
  if (!db) return 1;
  const char *sc[S_FANIN_MAX];
  for (int i = 0; i < a->nscopes; i++) sc[i] = a->scopes[i];
  double secs = br_insert_rows(db, "care_visits_plain", sc, a->nscopes, a->rows, res->err, sizeof res->err);
  if (secs < 0) return 1;
  sqlite3_stmt *st = NULL;
  int64_t cnt = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM care_visits_plain", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    cnt = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  if (cnt != a->rows * a->nscopes) {
    snprintf(res->err, sizeof res->err, "plain table holds %lld rows, expected %lld", (long long)cnt,
             (long long)(a->rows * a->nscopes));
    return 1;
  }
  res->secs = secs;
  res->rows = cnt;
  res->ok = 1;
  return 0;
}

/* A street: hub dir, committee dirs, scopes. */
typedef struct {
  char root[4200];
  char hub_dir[4300];
  int port;
  int cport; /* where the committees reach the hub: port, or the proxy's (--heal proxy) */
  int k;
  char names[S_FANIN_MAX][16];
  char dirs[S_FANIN_MAX][4300];
  int64_t rows; /* per committee */
  int notices;  /* convergence runs: street notices the hub writes */
} s_street;

/* Inits the hub (listening on the port) and the committees, adds them to the
 * roster; fills res[0] (hub key) and res[1 + i] (committee keys). */
static int s_setup_worker(void *p) {
  s_street *s = p;
  li_errbuf eb = {{0}};
  char listen[64], hub_ep[64];
  snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", s->port);
  snprintf(hub_ep, sizeof hub_ep, "tcp://127.0.0.1:%d", s->cport);
  li_node_init_opts ho = {.role = LI_ROLE_HUB, .name = "street", .listen = listen};
  li_err e = li_node_init(s->hub_dir, &ho, &eb);
  li_node hub;
  if (!e) e = li_node_open(&hub, s->hub_dir, &eb);
  if (e) {
    snprintf(g_sh->res[0].err, sizeof g_sh->res[0].err, "hub init: %s", li_errmsg(&eb, e));
    return 1;
  }
  li_pk_to_text(hub.id.pk, g_sh->res[0].hub_key);
  for (int i = 0; i < s->k; i++) {
    s_result *r = &g_sh->res[1 + i];
    li_node_init_opts co = {.role = LI_ROLE_COMMITTEE, .name = s->names[i], .scope = s->names[i],
                            .hub_key = g_sh->res[0].hub_key, .hub = hub_ep};
    li_node c;
    if ((e = li_node_init(s->dirs[i], &co, &eb)) || (e = li_node_open(&c, s->dirs[i], &eb))) {
      snprintf(g_sh->res[0].err, sizeof g_sh->res[0].err, "committee %s init: %s", s->names[i], li_errmsg(&eb, e));
      li_node_close(&hub);
      return 1;
    }
    memcpy(r->pk, c.id.pk, LI_PK_BYTES);
    li_pk_to_text(c.id.pk, r->pk_text);
    li_node_close(&c);
    if ((e = li_roster_add(hub.r, s->names[i], r->pk_text, s->names[i], li_wall_ms(), &eb))) {
      snprintf(g_sh->res[0].err, sizeof g_sh->res[0].err, "roster add %s: %s", s->names[i], li_errmsg(&eb, e));
      li_node_close(&hub);
      return 1;
    }
  }
  li_node_close(&hub);
  g_sh->res[0].ok = 1;
  return 0;
}

typedef struct {
  s_street *s;
  int i;
} s_write_arg;

/* Committee i inserts its rows (tracked) and seals them. */
static int s_write_worker(void *p) {
  s_write_arg *a = p;
  s_result *r = &g_sh->res[1 + a->i];
  li_node c;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&c, a->s->dirs[a->i], &eb);
  if (e) {
    snprintf(r->err, sizeof r->err, "open %s: %s", a->s->names[a->i], li_errmsg(&eb, e));
    return 1;
  }
  const char *sc[1] = {a->s->names[a->i]};
  double secs = br_insert_rows(c.r->db, "care_visits", sc, 1, a->s->rows, r->err, sizeof r->err);
  if (secs < 0) {
    li_node_close(&c);
    return 1;
  }
  r->secs = secs;
  li_seal_stats ss;
  double t0 = br_now();
  e = li_seal(c.r, li_wall_ms(), &ss, &eb);
  r->secs2 = br_now() - t0;
  if (e) {
    snprintf(r->err, sizeof r->err, "li_seal %s: %s", a->s->names[a->i], li_errmsg(&eb, e));
    li_node_close(&c);
    return 1;
  }
  r->rows = ss.rows;
  r->commits = ss.commits;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(c.r->db, "SELECT seq FROM linli_vv WHERE origin=? AND scope=?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_blob(st, 1, c.id.pk, LI_PK_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->s->names[a->i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) r->head = (uint64_t)sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  li_node_close(&c);
  if (r->rows != a->s->rows || r->head == 0) {
    snprintf(r->err, sizeof r->err, "%s: sealed %lld rows (expected %lld), head seq %llu", a->s->names[a->i],
             (long long)r->rows, (long long)a->s->rows, (unsigned long long)r->head);
    return 1;
  }
  r->ok = 1;
  return 0;
}

/* The hub writes n street notices (captured by its triggers) and seals them,
 * while the committees are cut off; res[0].head becomes the sum of the
 * hub's street chain heads, which every committee must reach. */
static int s_notice_worker(void *p) {
  s_street *s = p;
  s_result *r = &g_sh->res[0];
  li_node hub;
  li_errbuf eb = {{0}};
  li_err e = li_node_open(&hub, s->hub_dir, &eb);
  if (e) {
    snprintf(r->err, sizeof r->err, "open the hub: %s", li_errmsg(&eb, e));
    return 1;
  }
  sqlite3 *db = hub.r->db;
  sqlite3_stmt *st = NULL;
  bool ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "INSERT INTO notices(id, title, body, issued_by) VALUES(?, ?, ?, '街道办')", -1, &st,
                               NULL) == SQLITE_OK;
  for (int i = 0; ok && i < s->notices; i++) {
    char id[32], title[64];
    snprintf(id, sizeof id, "n-%06d", i);
    snprintf(title, sizeof title, "第%d号通知：本周入户探访安排", i + 1);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, "请各社区按名单完成高龄独居老人探访，并于周五前回执。", -1, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (!ok || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(r->err, sizeof r->err, "hub notices: %s", sqlite3_errmsg(db));
    li_node_close(&hub);
    return 1;
  }
  li_seal_stats ss;
  if ((e = li_seal(hub.r, li_wall_ms(), &ss, &eb))) {
    snprintf(r->err, sizeof r->err, "hub seal: %s", li_errmsg(&eb, e));
    li_node_close(&hub);
    return 1;
  }
  if (sqlite3_prepare_v2(db, "SELECT coalesce(sum(seq), 0) FROM linli_vv WHERE scope = 'street'", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    r->head = (uint64_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  li_node_close(&hub);
  r->ok = r->head > 0;
  return r->ok ? 0 : 1;
}

/* Runs a worker to completion; fails the benchmark if it failed. */
static void s_run_worker(const char *name, int (*fn)(void *), void *arg, const s_result *res) {
  int slot = s_spawn(name, fn, arg);
  int st = s_wait_slot(slot);
  char b[64];
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || (res && !res->ok))
    s_die("%s: %s (%s)", name, res && res->err[0] ? res->err : "failed", s_status_text(st, b, sizeof b));
}

/* ---- the sync run ---- */

static const char *g_conf[16];
static int g_nconf;

/* Rewrites "KEY = ..." lines of a node's linli.conf with the --conf values. */
static void s_apply_conf(const char *dir) {
  if (!g_nconf) return;
  char path[4400], tmp[4500];
  snprintf(path, sizeof path, "%s/linli.conf", dir);
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *in = fopen(path, "r"), *out = in ? fopen(tmp, "w") : NULL;
  if (!in || !out) s_die("cannot rewrite %s: %s", path, strerror(errno));
  bool seen[16] = {false};
  char line[2048];
  while (fgets(line, sizeof line, in)) {
    bool done = false;
    for (int i = 0; i < g_nconf && !done; i++) {
      size_t kl = (size_t)(strchr(g_conf[i], '=') - g_conf[i]);
      if (strncmp(line, g_conf[i], kl) == 0 && line[kl] == ' ' && line[kl + 1] == '=') {
        fprintf(out, "%.*s = %s\n", (int)kl, g_conf[i], g_conf[i] + kl + 1);
        seen[i] = done = true;
      }
    }
    if (!done) fputs(line, out);
  }
  fclose(in);
  if (fclose(out) != 0 || rename(tmp, path) != 0) s_die("cannot rewrite %s: %s", path, strerror(errno));
  for (int i = 0; i < g_nconf; i++)
    if (!seen[i]) s_die("--conf %s: no such key in %s", g_conf[i], path);
}

static int s_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) s_die("socket: %s", strerror(errno));
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t l = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0)
    s_die("cannot find a free loopback port: %s", strerror(errno));
  close(fd);
  return ntohs(a.sin_port);
}

/* --heal proxy: the committees reach the hub through simulations/proxy.c,
 * started cut; they run S_CUT_MS trying the cut link (ZeroMQ's reconnect
 * backoff grows meanwhile, as it does in a real outage), then SIGUSR2
 * heals it. */
#define S_CUT_MS 1000
static bool g_heal_proxy;
static char g_proxy_bin[4200];

typedef struct {
  int listen, to;
  char pidfile[4400];
} s_proxy_arg;

static int s_proxy_child(void *p) {
  const s_proxy_arg *a = p;
  char l[16], t[16];
  snprintf(l, sizeof l, "%d", a->listen);
  snprintf(t, sizeof t, "%d", a->to);
  execl(g_proxy_bin, "proxy", "--listen", l, "--to", t, "--pidfile", a->pidfile, "--start", "cut", (char *)NULL);
  fprintf(stderr, "bench_sync: cannot run %s: %s\n", g_proxy_bin, strerror(errno));
  return 127;
}

static bool s_file_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[1024];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

/* Fails if a recorded child has exited. */
static void s_check_alive(const int *kids, int n) {
  for (int i = 0; i < n; i++) {
    int st;
    pid_t r = waitpid(g_pids[kids[i]], &st, WNOHANG);
    if (r == g_pids[kids[i]]) {
      char b[64];
      g_pids[kids[i]] = 0;
      s_die("daemon %s exited during the run (%s)", g_names[kids[i]], s_status_text(st, b, sizeof b));
    }
  }
}

/* SIGTERM, wait up to S_STOP_GRACE_MS, then fail (after SIGKILL) if one
 * had to be killed or exited with an error. */
static void s_stop_daemons(const int *kids, int n) {
  for (int i = 0; i < n; i++)
    if (g_pids[kids[i]] > 0) kill(g_pids[kids[i]], SIGTERM);
  double until = br_now() + S_STOP_GRACE_MS / 1000.0;
  int left = n;
  char bad[256] = "";
  while (left > 0) {
    left = 0;
    for (int i = 0; i < n; i++) {
      pid_t pid = g_pids[kids[i]];
      if (pid <= 0) continue;
      int st;
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        g_pids[kids[i]] = 0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
          char b[64];
          snprintf(bad, sizeof bad, "daemon %s stopped with %s", g_names[kids[i]], s_status_text(st, b, sizeof b));
        }
      } else {
        left++;
      }
    }
    if (left && br_now() > until) s_die("%d daemon(s) did not stop within %d s of SIGTERM", left, S_STOP_GRACE_MS / 1000);
    if (left) s_sleep_ms(10);
  }
  if (bad[0]) s_die("%s", bad);
}

typedef struct {
  const char *title;
  int k;
  int64_t rows_each, rows_total;
  double plain_secs;
  double ins_secs, seal_secs; /* summed over committees */
  double ins_wall, seal_wall;  /* wall time of the write phase (parallel workers) */
  int commits;
  double sync_secs;
  double log_bytes;            /* SignedCommit bytes the hub stored for the committees */
  uint64_t tcp_c2h, tcp_h2c;   /* committees' TCP payload sent / received */
  uint64_t hub_tcp_recv, hub_tcp_sent;
  int tcp_conns;               /* committee->hub connections seen (more than k: reconnects) */
  bool tcp_ok;
  s_proc hub;
  double com_hwm_max, com_cpu_sum;
  double parent_cpu;
  int port;
  bool proxy;                  /* the heal: a cut proxy let through (--heal proxy) */
  /* convergence runs (notices >= 0) */
  int notices;                 /* street rows the hub wrote while the committees were cut off */
  double hub_secs;             /* heal -> the hub holds every committee's head */
  double com_secs_median;      /* heal -> a committee holds the hub's street chain and the hub its chain */
  double hub_cpu_window;       /* hub CPU seconds from heal to convergence */
  double hub_rss_max;          /* largest hub VmRSS sampled from heal to convergence */
} s_report;

static void s_fmt_int(char *buf, size_t cap, double v) {
  char raw[40];
  snprintf(raw, sizeof raw, "%.0f", v);
  size_t n = strlen(raw), o = 0;
  for (size_t i = 0; i < n && o + 2 < cap; i++) {
    if (i && raw[i - 1] != '-' && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = raw[i];
  }
  buf[o] = 0;
}

/* A committee's replica watched for convergence: at > 0 once it held the
 * hub's street chain (the seconds from the heal). */
typedef struct {
  sqlite3 *db;
  sqlite3_stmt *q;
  double at;
} s_watch;

/* Polls the committees not yet converged: a committee has converged when the
 * sum of its street heads is want (the hub's; only the hub writes street
 * rows). Opens the replicas read-only on the first call. Returns how many
 * have converged. */
static int s_watch_poll(s_watch *w, const s_street *s, uint64_t want, double since) {
  int done = 0;
  for (int i = 0; i < s->k; i++) {
    if (w[i].at > 0) {
      done++;
      continue;
    }
    if (!w[i].db) {
      char path[4400];
      snprintf(path, sizeof path, "%s/replica.db", s->dirs[i]);
      if (sqlite3_open_v2(path, &w[i].db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
          sqlite3_prepare_v2(w[i].db, "SELECT coalesce(sum(seq), 0) FROM linli_vv WHERE scope = 'street'", -1, &w[i].q,
                             NULL) != SQLITE_OK)
        s_die("cannot watch %s: %s", path, w[i].db ? sqlite3_errmsg(w[i].db) : "?");
      sqlite3_busy_timeout(w[i].db, 2000);
    }
    int rc = sqlite3_step(w[i].q);
    uint64_t got = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(w[i].q, 0) : 0;
    sqlite3_reset(w[i].q);
    if (rc != SQLITE_ROW && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
      s_die("polling %s: %s", s->names[i], sqlite3_errmsg(w[i].db));
    if (got == want) {
      w[i].at = br_now() - since;
      done++;
    }
  }
  return done;
}

static int s_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Runs one street: plain, setup, writes, daemons, convergence, figures.
 * notices >= 0 makes it a convergence run (issue 14 item 7): no plain
 * inserts; the hub writes that many street notices while the committees are
 * cut off (their rows are written and sealed as serve would seal them
 * offline); the heal is the start of every committee daemon at once, or
 * with --heal proxy the proxy letting through daemons that ran cut off
 * (S_CUT_MS); converged when the hub holds every committee's head and
 * every committee the hub's street chain. */
static void s_run_street(const char *label, int k, int64_t rows_each, int notices, int timeout_s, s_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->title = label;
  rep->k = k;
  rep->rows_each = rows_each;
  rep->rows_total = rows_each * k;
  rep->notices = notices;
  memset(g_sh, 0, sizeof *g_sh);

  s_street *s = calloc(1, sizeof *s);
  if (!s) s_die("out of memory");
  snprintf(s->root, sizeof s->root, "%s/%s", g_dir, label);
  if (mkdir(s->root, 0700) != 0) s_die("cannot create %s: %s", s->root, strerror(errno));
  char logs[4300];
  snprintf(logs, sizeof logs, "%s/logs", s->root);
  if (mkdir(logs, 0700) != 0) s_die("cannot create %s: %s", logs, strerror(errno));
  snprintf(s->hub_dir, sizeof s->hub_dir, "%s/hub", s->root);
  s->k = k;
  s->rows = rows_each;
  s->notices = notices;
  for (int i = 0; i < k; i++) {
    char nm[sizeof s->names[i]], dir[sizeof s->dirs[i]]; /* locals: -Wrestrict cannot tell s's members apart */
    snprintf(nm, sizeof nm, "c%02d", k == 1 ? 7 : i + 1);
    snprintf(dir, sizeof dir, "%s/%s/%s", g_dir, label, nm);
    memcpy(s->names[i], nm, sizeof nm);
    memcpy(s->dirs[i], dir, sizeof dir);
  }

  /* 1. plain inserts of the same rows, in a fresh db */
  if (notices < 0) {
    s_plain_arg *pa = calloc(1, sizeof *pa);
    if (!pa) s_die("out of memory");
    snprintf(pa->path, sizeof pa->path, "%s/plain.db", s->root);
    for (int i = 0; i < k; i++) snprintf(pa->scopes[i], sizeof pa->scopes[i], "%s", s->names[i]);
    pa->nscopes = k;
    pa->rows = rows_each;
    pa->res = &g_sh->res[S_FANIN_MAX + 1];
    printf("  plain inserts of %lld rows ...", (long long)rep->rows_total);
    fflush(stdout);
    s_run_worker("plain insert", s_plain_worker, pa, pa->res);
    rep->plain_secs = pa->res->secs;
    printf(" %.2f s\n", rep->plain_secs);
    char side[4400];
    const char *ext[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
      snprintf(side, sizeof side, "%s%s", pa->path, ext[i]);
      unlink(side); /* not needed any more; frees the disk for the replicas */
    }
    free(pa);
  }

  /* 2. setup: nodes and roster */
  s->port = rep->port = s_free_port();
  s->cport = notices >= 0 && g_heal_proxy ? s_free_port() : s->port;
  rep->proxy = s->cport != s->port;
  printf("  init hub + %d committee(s), roster ...", k);
  fflush(stdout);
  s_run_worker("setup", s_setup_worker, s, &g_sh->res[0]);
  s_apply_conf(s->hub_dir);
  for (int i = 0; i < k; i++) s_apply_conf(s->dirs[i]);
  printf(" done%s\n", g_nconf ? " (--conf applied to every node)" : "");

  /* 3. every committee writes and seals, nproc workers at a time */
  {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int par = ncpu > 0 ? (int)ncpu : 1;
    if (par > k) par = k;
    printf("  committees insert and seal %lld rows each (%d at a time) ...", (long long)rows_each, par);
    fflush(stdout);
    s_write_arg *wa = calloc((size_t)k, sizeof *wa);
    int *slot = calloc((size_t)k, sizeof *slot);
    if (!wa || !slot) s_die("out of memory");
    double t0 = br_now();
    int next = 0, running = 0, done = 0;
    while (done < k) {
      while (running < par && next < k) {
        wa[next] = (s_write_arg){s, next};
        char nm[48];
        snprintf(nm, sizeof nm, "write %s", s->names[next]);
        slot[next] = s_spawn(nm, s_write_worker, &wa[next]);
        next++;
        running++;
      }
      int st;
      pid_t pid;
      while ((pid = wait(&st)) < 0 && errno == EINTR) {
      }
      if (pid < 0) s_die("wait: %s", strerror(errno));
      for (int i = 0; i < next; i++)
        if (g_pids[slot[i]] == pid) {
          g_pids[slot[i]] = 0;
          char b[64];
          const s_result *r = &g_sh->res[1 + i];
          if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !r->ok)
            s_die("committee %s write+seal: %s (%s)", s->names[i], r->err[0] ? r->err : "failed",
                  s_status_text(st, b, sizeof b));
          running--;
          done++;
        }
    }
    rep->ins_wall = br_now() - t0;
    for (int i = 0; i < k; i++) {
      rep->ins_secs += g_sh->res[1 + i].secs;
      rep->seal_secs += g_sh->res[1 + i].secs2;
      rep->commits += g_sh->res[1 + i].commits;
    }
    printf(" %.2f s (%d commits)\n", rep->ins_wall, rep->commits);
    free(wa);
    free(slot);
  }
  uint64_t head_sum = 0;
  for (int i = 0; i < k; i++) head_sum += g_sh->res[1 + i].head;
  uint64_t street_want = 0;
  if (notices >= 0) {
    printf("  the hub writes and seals %d street notice(s) while the committees are cut off ...", notices);
    fflush(stdout);
    s_run_worker("hub notices", s_notice_worker, s, &g_sh->res[0]);
    street_want = g_sh->res[0].head;
    printf(" done\n");
  }

  /* 4. the daemons: hub first, then every committee at t0 */
  int *kids = calloc((size_t)k + 1, sizeof *kids);
  s_serve_arg *sa = calloc((size_t)k + 1, sizeof *sa);
  if (!kids || !sa) s_die("out of memory");
  snprintf(sa[0].dir, sizeof sa[0].dir, "%s", s->hub_dir);
  snprintf(sa[0].log, sizeof sa[0].log, "%s/hub.log", logs);
  snprintf(g_hub_log, sizeof g_hub_log, "%s", sa[0].log);
  kids[0] = s_spawn("hub", s_serve_child, &sa[0]);
  {
    double until = br_now() + 30;
    while (!s_file_has(sa[0].log, "serving (listening on")) {
      s_check_alive(kids, 1);
      if (br_now() > until) s_die("the hub did not start listening within 30 s");
      s_sleep_ms(5);
    }
  }
  int proxy = -1;
  if (rep->proxy) {
    static s_proxy_arg pa;
    pa = (s_proxy_arg){.listen = s->cport, .to = s->port};
    snprintf(pa.pidfile, sizeof pa.pidfile, "%s/proxy.pid", logs);
    proxy = s_spawn("proxy", s_proxy_child, &pa);
    double until = br_now() + 10;
    while (!s_file_has(pa.pidfile, "\n")) { /* written once it listens */
      if (br_now() > until) s_die("the proxy (%s) did not start listening within 10 s", g_proxy_bin);
      s_sleep_ms(5);
    }
  }
  printf("  hub serving on tcp://127.0.0.1:%d (CURVE); starting %d committee daemon(s)%s\n", s->port, k,
         notices < 0 ? "" : rep->proxy ? " behind a cut proxy" : " at once (the heal)");
  fflush(stdout);
  s_watch *watch = notices >= 0 ? calloc((size_t)k, sizeof *watch) : NULL;
  if (notices >= 0 && !watch) s_die("out of memory");
  for (int i = 0; i < k; i++) {
    snprintf(sa[1 + i].dir, sizeof sa[1 + i].dir, "%s", s->dirs[i]);
    snprintf(sa[1 + i].log, sizeof sa[1 + i].log, "%s/%s.log", logs, s->names[i]);
  }
  s_proc hub0;
  double c0 = 0, t0 = 0;
  if (rep->proxy) { /* every daemon up and trying the cut link for a while, then the heal */
    for (int i = 0; i < k; i++) {
      char nm[48];
      snprintf(nm, sizeof nm, "committee %s", s->names[i]);
      kids[1 + i] = s_spawn(nm, s_serve_child, &sa[1 + i]);
    }
    double until = br_now() + 60;
    for (int i = 0; i < k; i++)
      while (!s_file_has(sa[1 + i].log, " serving (hub at")) {
        s_check_alive(kids, k + 1);
        if (br_now() > until) s_die("committee %s did not start within 60 s", s->names[i]);
        s_sleep_ms(5);
      }
    s_sleep_ms(S_CUT_MS);
    s_proc_read(g_pids[kids[0]], &hub0);
    c0 = s_self_cpu();
    t0 = br_now();
    kill(g_pids[proxy], SIGUSR2);
  } else {
    s_proc_read(g_pids[kids[0]], &hub0);
    c0 = s_self_cpu();
    t0 = br_now();
    for (int i = 0; i < k; i++) {
      char nm[48];
      snprintf(nm, sizeof nm, "committee %s", s->names[i]);
      kids[1 + i] = s_spawn(nm, s_serve_child, &sa[1 + i]);
    }
  }
  if (k >= 1) snprintf(g_fail_log, sizeof g_fail_log, "%s", sa[1].log);

  char hub_db[4400];
  snprintf(hub_db, sizeof hub_db, "%s/replica.db", s->hub_dir);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(hub_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    s_die("cannot open %s read-only: %s", hub_db, db ? sqlite3_errmsg(db) : "?");
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(seq), 0) FROM linli_vv WHERE scope <> 'street'", -1, &q,
                         NULL) != SQLITE_OK)
    s_die("prepare on the hub replica: %s", sqlite3_errmsg(db));
  double t1 = 0, next_note = t0 + 10;
  s_conns conns = {0};
  double t_hub = 0;
  for (int iter = 0;; iter++) {
    if (iter % (200 / S_POLL_MS) == 0) {
      s_tcp_sample(&conns, s->cport);
      s_proc hp;
      s_proc_read(g_pids[kids[0]], &hp);
      if (hp.rss_mib > rep->hub_rss_max) rep->hub_rss_max = hp.rss_mib;
    }
    int64_t chains = -1, seqs = -1;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      chains = sqlite3_column_int64(q, 0);
      seqs = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    double now = br_now();
    if (rc != SQLITE_ROW && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
      s_die("polling the hub replica: %s", sqlite3_errmsg(db));
    if (chains == k && (uint64_t)seqs == head_sum) {
      if (t_hub == 0) t_hub = now;
      if (!watch || s_watch_poll(watch, s, street_want, t0) == k) {
        t1 = br_now();
        break;
      }
    }
    s_check_alive(kids, k + 1);
    if (now - t0 > timeout_s && t_hub > 0)
      s_die("the committees did not converge within %d s (the hub holds every head)", timeout_s);
    if (now - t0 > timeout_s)
      s_die("the hub did not converge within %d s: it holds %lld of %llu commits from %lld of %d committee(s)",
            timeout_s, (long long)seqs, (unsigned long long)head_sum, (long long)chains, k);
    if (now >= next_note) {
      fprintf(stderr, "  ... %.0f s: hub holds %lld of %llu commits\n", now - t0, (long long)seqs,
              (unsigned long long)head_sum);
      next_note = now + 10;
    }
    s_sleep_ms(S_POLL_MS);
  }
  sqlite3_finalize(q);
  sqlite3_close_v2(db);
  rep->sync_secs = t1 - t0;
  rep->hub_secs = t_hub - t0;
  rep->parent_cpu = s_self_cpu() - c0;
  if (watch) {
    double *at = malloc((size_t)k * sizeof *at);
    if (!at) s_die("out of memory");
    for (int i = 0; i < k; i++) {
      at[i] = watch[i].at;
      sqlite3_finalize(watch[i].q);
      sqlite3_close_v2(watch[i].db);
    }
    qsort(at, (size_t)k, sizeof *at, s_cmp_double);
    rep->com_secs_median = at[k / 2];
    free(at);
    free(watch);
  }

  /* figures from the live daemons, then stop them */
  s_proc_read(g_pids[kids[0]], &rep->hub);
  rep->hub_cpu_window = rep->hub.cpu_s - hub0.cpu_s;
  if (rep->hub.rss_mib > rep->hub_rss_max) rep->hub_rss_max = rep->hub.rss_mib;
  for (int i = 0; i < k; i++) {
    s_proc p;
    s_proc_read(g_pids[kids[1 + i]], &p);
    if (p.hwm_mib > rep->com_hwm_max) rep->com_hwm_max = p.hwm_mib;
    rep->com_cpu_sum += p.cpu_s;
  }
  s_tcp_sample(&conns, s->cport);
  rep->tcp_ok = conns.ok;
  for (size_t i = 0; i < conns.n; i++) {
    const s_conn *c = &conns.v[i];
    if (c->hub_side) {
      rep->hub_tcp_recv += c->received;
      rep->hub_tcp_sent += c->acked;
    } else {
      rep->tcp_c2h += c->acked;
      rep->tcp_h2c += c->received;
      rep->tcp_conns++;
    }
  }
  free(conns.v);
  s_stop_daemons(kids, k + 1);
  if (proxy >= 0) s_stop_daemons(&proxy, 1);
  g_hub_log[0] = g_fail_log[0] = 0;

  /* checks on the hub, and the commit bytes shipped */
  li_node hub;
  li_errbuf eb = {{0}};
  s_check(li_node_open(&hub, s->hub_dir, &eb), &eb, "li_node_open (hub, after the run)");
  sqlite3_stmt *c = NULL, *b = NULL;
  if (sqlite3_prepare_v2(hub.r->db, "SELECT count(*) FROM care_visits WHERE scope=?", -1, &c, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(hub.r->db, "SELECT count(*), coalesce(sum(length(sc)), 0) FROM linli_log WHERE origin=?", -1,
                         &b, NULL) != SQLITE_OK)
    s_die("prepare on the hub replica: %s", sqlite3_errmsg(hub.r->db));
  for (int i = 0; i < k; i++) {
    sqlite3_bind_text(c, 1, s->names[i], -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int64(c, 0) : -1;
    sqlite3_reset(c);
    if (n != rows_each)
      s_die("the hub holds %lld care_visits rows of %s, expected %lld", (long long)n, s->names[i], (long long)rows_each);
    sqlite3_bind_blob(b, 1, g_sh->res[1 + i].pk, LI_PK_BYTES, SQLITE_STATIC);
    if (sqlite3_step(b) != SQLITE_ROW) s_die("linli_log on the hub: %s", sqlite3_errmsg(hub.r->db));
    int64_t ncommits = sqlite3_column_int64(b, 0);
    rep->log_bytes += (double)sqlite3_column_int64(b, 1);
    sqlite3_reset(b);
    if ((uint64_t)ncommits != g_sh->res[1 + i].head)
      s_die("the hub holds %lld commits of %s, expected %llu", (long long)ncommits, s->names[i],
            (unsigned long long)g_sh->res[1 + i].head);
  }
  sqlite3_finalize(c);
  sqlite3_finalize(b);
  li_node_close(&hub);
  free(kids);
  free(sa);
  if (!g_keep) br_rm_rf(s->root);
  free(s);
}

/* ---- report ---- */

static void s_line(const char *name, int64_t rows, double secs, double plain_rate, const char *note) {
  char rate[40], r[16];
  double v = secs > 0 ? (double)rows / secs : 0;
  s_fmt_int(rate, sizeof rate, v);
  snprintf(r, sizeof r, "%.2fx", plain_rate > 0 ? v / plain_rate : 0);
  printf("  %-44s %10lld %9.2f %12s %8s  %s\n", name, (long long)rows, secs, rate, r, note);
}

/* A convergence run's figures (issue 14 item 7). */
static void s_converge_print(const s_report *p) {
  char n1[40], n2[40];
  s_fmt_int(n1, sizeof n1, (double)p->rows_each);
  s_fmt_int(n2, sizeof n2, (double)p->rows_total);
  printf("\n== convergence after a cut: %d committees x %s edits (%s), hub %d street notices "
         "(CURVE over tcp://127.0.0.1:%d) ==\n",
         p->k, n1, n2, p->notices, p->port);
  printf("  heal -> the hub holds every committee's head:          %7.3f s\n", p->hub_secs);
  printf("  heal -> every replica converged (hub + %d committees): %7.3f s   (aim <= 1 s on loopback)\n", p->k,
         p->sync_secs);
  printf("  heal -> half the committees hold the hub's notices:    %7.3f s (median)\n", p->com_secs_median);
  printf("  hub during it: CPU %.2f s (%.0f%% of one core), RSS up to %.1f MiB sampled, peak (VmHWM) %.1f MiB\n",
         p->hub_cpu_window, p->sync_secs > 0 ? 100.0 * p->hub_cpu_window / p->sync_secs : 0, p->hub_rss_max,
         p->hub.hwm_mib);
  printf("  committees: CPU %.2f s (sum, daemon start included), peak RSS %.1f MiB (largest)\n", p->com_cpu_sum,
         p->com_hwm_max);
  if (p->tcp_ok)
    printf("  TCP payload committee->hub %.1f B/edit, hub->committee %.1f B/edit; %d connection(s) for %d "
           "committee(s)\n",
           (double)p->tcp_c2h / (double)p->rows_total, (double)p->tcp_h2c / (double)p->rows_total, p->tcp_conns,
           p->k);
  if (p->proxy)
    printf("  (the heal: every daemon ran %d ms behind a cut TCP proxy, then the proxy let them through; the\n"
           "   figure includes ZeroMQ's reconnect backoff of the committees; the replicas are polled every %d ms)\n",
           S_CUT_MS, S_POLL_MS);
  else
    printf("  (the heal is the start of every committee daemon at once: process start, replica open and the CURVE\n"
           "   handshake are inside the figure; the replicas are polled every %d ms)\n",
           S_POLL_MS);
  fflush(stdout);
}

static void s_report_print(const s_report *p) {
  double plain_rate = p->plain_secs > 0 ? (double)p->rows_total / p->plain_secs : 0;
  char what[160], n1[40];
  s_fmt_int(n1, sizeof n1, (double)p->rows_total);
  if (p->k == 1) snprintf(what, sizeof what, "end to end, 1 committee -> hub, %s row changes", n1);
  else {
    char n2[40];
    s_fmt_int(n2, sizeof n2, (double)p->rows_each);
    snprintf(what, sizeof what, "fan-in, %d committees x %s rows = %s row changes", p->k, n2, n1);
  }
  printf("\n== %s (CURVE over tcp://127.0.0.1:%d) ==\n", what, p->port);
  printf("  %-44s %10s %9s %12s %8s\n", "phase", "rows", "seconds", "rows/s", "vs plain");
  s_line("plain SQLite insert (untracked, 1 txn)", p->rows_total, p->plain_secs, plain_rate, "");
  s_line(p->k == 1 ? "committee tracked insert (setup)" : "committees tracked insert (setup, sum)", p->rows_total,
         p->ins_secs, plain_rate, "not in sync time");
  s_line(p->k == 1 ? "committee seal (setup)" : "committees seal (setup, sum)", p->rows_total, p->seal_secs,
         plain_rate, "not in sync time");
  s_line("SYNC: committee start -> last durable apply", p->rows_total, p->sync_secs, plain_rate,
         "<- e2e sync figure");
  s_line("insert + seal + sync (sequential sum)", p->rows_total, p->ins_secs + p->seal_secs + p->sync_secs, plain_rate,
         "");
  double n = (double)p->rows_total;
  printf("  commits shipped: %d (%.0f row changes each on average)\n", p->commits, p->commits ? n / p->commits : 0);
  printf("  bytes per row change: %.1f B of signed commits (sum(length(sc)) on the hub)", p->log_bytes / n);
  if (p->tcp_ok)
    printf(";\n    TCP payload committee->hub %.1f B/row (CURVE, ZMTP, envelopes, acks included), hub->committee %.1f "
           "B/row;\n    hub sockets: received %.1f B/row, sent %.1f B/row; %d connection(s) for %d committee(s)%s\n",
           (double)p->tcp_c2h / n, (double)p->tcp_h2c / n, (double)p->hub_tcp_recv / n, (double)p->hub_tcp_sent / n,
           p->tcp_conns, p->k, p->tcp_conns > p->k ? " (reconnects)" : "");
  else
    printf("\n    (sock_diag TCP counters unavailable: commit bytes only)\n");
  printf("  hub:        peak RSS (VmHWM) %.1f MiB, RSS at convergence %.1f MiB, CPU %.2f s (%.0f%% of one core over "
         "the sync)\n",
         p->hub.hwm_mib, p->hub.rss_mib, p->hub.cpu_s, p->sync_secs > 0 ? 100.0 * p->hub.cpu_s / p->sync_secs : 0);
  printf("  %s peak RSS (VmHWM) %.1f MiB%s, CPU %.2f s%s\n", p->k == 1 ? "committee: " : "committees:", p->com_hwm_max,
         p->k == 1 ? "" : " (largest)", p->com_cpu_sum, p->k == 1 ? "" : " (sum)");
  printf("  benchmark's own polling: %.2f s CPU\n", p->parent_cpu);
  fflush(stdout);
}

static void s_usage(void) {
  fprintf(stderr,
          "usage: bench_sync [--rows N] [--fanin-committees K] [--fanin-rows M] [--skip-e2e] [--skip-fanin]\n"
          "                  [--committees K] [--edits E] [--notices H] [--heal start|proxy] [--skip-converge]\n"
          "                  [--timeout SECONDS] [--conf KEY=VALUE]... [--dir DIR] [--keep]\n");
  exit(2);
}

static int64_t s_num(const char *flag, const char *v, int64_t lo, int64_t hi) {
  char *end = NULL;
  long long x = strtoll(v, &end, 10);
  if (!end || *end || x < lo || x > hi) {
    fprintf(stderr, "bench_sync: %s takes a number from %lld to %lld\n", flag, (long long)lo, (long long)hi);
    s_usage();
  }
  return x;
}

int main(int argc, char **argv) {
  int64_t n = 1000000, fan_rows = 20000;
  int fan_k = 50, timeout_s = 600;
  int conv_k = 50, conv_notices = 100;
  int64_t conv_edits = 1000;
  bool skip_e2e = false, skip_fanin = false, skip_converge = false;
  const char *dir_arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) n = s_num("--rows", argv[++i], 1, 99999999);
    else if (strcmp(argv[i], "--fanin-committees") == 0 && i + 1 < argc)
      fan_k = (int)s_num("--fanin-committees", argv[++i], 1, S_FANIN_MAX);
    else if (strcmp(argv[i], "--fanin-rows") == 0 && i + 1 < argc)
      fan_rows = s_num("--fanin-rows", argv[++i], 1, 99999999);
    else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
      timeout_s = (int)s_num("--timeout", argv[++i], 1, 86400);
    else if (strcmp(argv[i], "--skip-e2e") == 0) skip_e2e = true;
    else if (strcmp(argv[i], "--skip-fanin") == 0) skip_fanin = true;
    else if (strcmp(argv[i], "--skip-converge") == 0) skip_converge = true;
    else if (strcmp(argv[i], "--heal") == 0 && i + 1 < argc && strcmp(argv[i + 1], "start") == 0) i++;
    else if (strcmp(argv[i], "--heal") == 0 && i + 1 < argc && strcmp(argv[i + 1], "proxy") == 0) {
      g_heal_proxy = true;
      i++;
    }
    else if (strcmp(argv[i], "--committees") == 0 && i + 1 < argc)
      conv_k = (int)s_num("--committees", argv[++i], 1, S_FANIN_MAX);
    else if (strcmp(argv[i], "--edits") == 0 && i + 1 < argc) conv_edits = s_num("--edits", argv[++i], 1, 99999999);
    else if (strcmp(argv[i], "--notices") == 0 && i + 1 < argc)
      conv_notices = (int)s_num("--notices", argv[++i], 1, 1000000);
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir_arg = argv[++i];
    else if (strcmp(argv[i], "--keep") == 0) g_keep = true;
    else if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc) {
      const char *kv = argv[++i], *eq = strchr(kv, '=');
      if (!eq || eq == kv || !eq[1] || g_nconf == 16) {
        fprintf(stderr, "bench_sync: --conf takes KEY=VALUE (at most 16)\n");
        s_usage();
      }
      g_conf[g_nconf++] = kv;
    }
    else s_usage();
  }
  g_parent = getpid();
  if (g_heal_proxy) { /* LINLI_PROXY, else the proxy built beside this program */
    const char *env = getenv("LINLI_PROXY");
    char self[4096];
    ssize_t len = env ? 0 : readlink("/proc/self/exe", self, sizeof self - 1);
    if (env) snprintf(g_proxy_bin, sizeof g_proxy_bin, "%s", env);
    else if (len > 0) {
      self[len] = 0;
      char *slash = strrchr(self, '/');
      if (slash) *slash = 0;
      snprintf(g_proxy_bin, sizeof g_proxy_bin, "%s/proxy", self);
    }
    if (!g_proxy_bin[0] || access(g_proxy_bin, X_OK) != 0)
      s_die("--heal proxy needs simulations/proxy.c built (%s): make sim/proxy, or set LINLI_PROXY",
            g_proxy_bin[0] ? g_proxy_bin : "not found");
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_on_parent_signal;
  sigfillset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_sh == MAP_FAILED) s_die("mmap: %s", strerror(errno));
  li_errbuf eb = {{0}};
  s_check(li_crypto_init(&eb), &eb, "li_crypto_init");

  if (dir_arg) {
    if (strlen(dir_arg) >= 3000) s_die("--dir: path too long");
    snprintf(g_dir, sizeof g_dir, "%s", dir_arg);
    if (mkdir(g_dir, 0700) == 0) g_made_dir = true;
    else if (errno != EEXIST) s_die("cannot create %s: %s", g_dir, strerror(errno));
  } else {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/linli-bench-sync-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) s_die("mkdtemp %s: %s", g_dir, strerror(errno));
    g_made_dir = true;
  }
  struct stat sb;
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/e2e", g_dir);
  if (stat(probe, &sb) == 0) s_die("%s already holds a previous run; remove it or choose another --dir", g_dir);
  snprintf(probe, sizeof probe, "%s/fanin", g_dir);
  if (stat(probe, &sb) == 0) s_die("%s already holds a previous run; remove it or choose another --dir", g_dir);

  double t_start = br_now();
  printf("linli bench_sync: real li_serve daemons (hub + committees) in child processes, CURVE over loopback TCP\n");
  printf("SQLite %s; every database journal_mode=WAL, synchronous=FULL; default [sync] settings; %ld CPU(s); "
         "working directory %s\n",
         sqlite3_libversion(), sysconf(_SC_NPROCESSORS_ONLN), g_dir);
  fflush(stdout);

  s_report e2e, fan;
  if (!skip_e2e) {
    printf("\n-- end to end: %lld rows, one committee\n", (long long)n);
    s_run_street("e2e", 1, n, -1, timeout_s, &e2e);
    s_report_print(&e2e);
  }
  if (!skip_fanin) {
    printf("\n-- fan-in: %d committees x %lld rows\n", fan_k, (long long)fan_rows);
    s_run_street("fanin", fan_k, fan_rows, -1, timeout_s, &fan);
    s_report_print(&fan);
  }
  s_report conv;
  if (!skip_converge) {
    printf("\n-- convergence: %d committees x %lld edits while cut off, then the heal\n", conv_k, (long long)conv_edits);
    s_run_street("converge", conv_k, conv_edits, conv_notices, timeout_s, &conv);
    s_converge_print(&conv);
  }

  printf("\n== summary (ratios: rows/s over plain SQLite inserts of the same rows, same run) ==\n");
  printf("  %-34s %12s %10s %12s %12s %9s %11s\n", "run", "row changes", "sync s", "sync rows/s", "plain rows/s",
         "vs plain", "hub peak");
  const s_report *all[2] = {skip_e2e ? NULL : &e2e, skip_fanin ? NULL : &fan};
  for (int i = 0; i < 2; i++) {
    const s_report *p = all[i];
    if (!p) continue;
    char name[64], a[40], b[40], c[40];
    if (p->k == 1) snprintf(name, sizeof name, "e2e 1 committee");
    else snprintf(name, sizeof name, "fan-in %d committees", p->k);
    double sr = (double)p->rows_total / p->sync_secs, pr = (double)p->rows_total / p->plain_secs;
    s_fmt_int(a, sizeof a, (double)p->rows_total);
    s_fmt_int(b, sizeof b, sr);
    s_fmt_int(c, sizeof c, pr);
    printf("  %-34s %12s %10.2f %12s %12s %8.2fx %7.1f MiB\n", name, a, p->sync_secs, b, c, sr / pr, p->hub.hwm_mib);
  }
  if (!skip_converge)
    printf("  convergence %d x %lld edits: heal -> converged %.3f s (hub %.3f s), hub CPU %.2f s, hub RSS %.1f MiB\n",
           conv.k, (long long)conv.rows_each, conv.sync_secs, conv.hub_secs, conv.hub_cpu_window, conv.hub_rss_max);
  printf("total wall time (setup included): %.1f s\n", br_now() - t_start);
  /* for scripts/bench.sh (issue 14's table) */
  if (!skip_e2e)
    printf("result: sync_e2e rows=%lld plain_s=%.4f sync_s=%.4f hub_peak_mib=%.1f commit_bpr=%.2f\n",
           (long long)e2e.rows_total, e2e.plain_secs, e2e.sync_secs, e2e.hub.hwm_mib,
           e2e.log_bytes / (double)e2e.rows_total);
  if (!skip_fanin)
    printf("result: sync_fanin rows=%lld committees=%d plain_s=%.4f sync_s=%.4f hub_peak_mib=%.1f tcp_c2h_bpr=%.2f "
           "tcp_h2c_bpr=%.2f conns=%d tcp_ok=%d\n",
           (long long)fan.rows_total, fan.k, fan.plain_secs, fan.sync_secs, fan.hub.hwm_mib,
           (double)fan.tcp_c2h / (double)fan.rows_total, (double)fan.tcp_h2c / (double)fan.rows_total, fan.tcp_conns,
           fan.tcp_ok ? 1 : 0);
  if (!skip_converge)
    printf("result: converge heal=%s committees=%d edits=%lld notices=%d converge_s=%.4f hub_s=%.4f median_s=%.4f "
           "hub_cpu_s=%.3f hub_rss_mib=%.1f hub_peak_mib=%.1f\n",
           conv.proxy ? "proxy" : "start", conv.k, (long long)conv.rows_each, conv.notices, conv.sync_secs, conv.hub_secs, conv.com_secs_median,
           conv.hub_cpu_window, conv.hub_rss_max, conv.hub.hwm_mib);

  if (!g_keep) {
    if (g_made_dir && rmdir(g_dir) != 0) fprintf(stderr, "bench_sync: cannot remove %s: %s\n", g_dir, strerror(errno));
  } else {
    printf("working files kept in %s\n", g_dir);
  }
  munmap(g_sh, sizeof *g_sh);
  return 0;
}

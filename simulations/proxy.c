/* proxy: a small fault-injecting TCP proxy for real-process split tests.
 *
 *   proxy --listen PORT --to PORT [--mode FILE] [--seed N] [--start cut|open]
 *
 * Relays every connection made to 127.0.0.1:LISTEN to 127.0.0.1:TO.
 * SIGUSR1 cuts the link: every relayed connection is closed and new ones are
 * accepted and closed at once (a network split as the endpoints see it).
 * SIGUSR2 heals it. `--start cut` starts it cut (no window in which a
 * client could get through before the signal). SIGTERM/SIGINT stop the
 * proxy. Loopback only, by design.
 * --mode FILE is re-read whenever it changes; its lines:
 *   delay MS     hold each burst of bytes MS milliseconds before relaying it
 *   reset PM     every second, reset each connection with probability PM/1000
 *                (a lossy link as TCP endpoints see it: the stream breaks) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_CONNS 64
#define S_BUF (64 * 1024)

typedef struct {
  int fd[2];          /* 0: accepted client side, 1: upstream */
  char buf[2][S_BUF]; /* buf[i]: bytes read from fd[i], to write to fd[1-i] */
  size_t len[2];
  long long ready_ms[2]; /* buf[i] may be written from then on (delay) */
} s_pair;

static long long s_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift, seeded: the proxy's only randomness */
static unsigned long long s_rng = 88172645463325252ull;
static unsigned s_rand(void) {
  s_rng ^= s_rng << 13, s_rng ^= s_rng >> 7, s_rng ^= s_rng << 17;
  return (unsigned)(s_rng >> 11);
}

static void s_read_mode(const char *path, long long *mtime, int *delay_ms, int *reset_pm) {
  struct stat st;
  if (!path || stat(path, &st) != 0 || (long long)st.st_mtime * 1000000000ll + st.st_mtim.tv_nsec == *mtime) return;
  *mtime = (long long)st.st_mtime * 1000000000ll + st.st_mtim.tv_nsec;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char key[32];
  int v;
  *delay_ms = 0, *reset_pm = 0;
  while (fscanf(f, "%31s %d", key, &v) == 2) {
    if (strcmp(key, "delay") == 0 && v >= 0 && v <= 60000) *delay_ms = v;
    if (strcmp(key, "reset") == 0 && v >= 0 && v <= 1000) *reset_pm = v;
  }
  fclose(f);
}

static volatile sig_atomic_t s_cut, s_stop;
static void s_sig(int sig) {
  if (sig == SIGUSR1) s_cut = 1;
  else if (sig == SIGUSR2) s_cut = 0;
  else s_stop = 1;
}

static int s_port(const char *s) {
  char *end;
  long p = strtol(s, &end, 10);
  return *end || p < 1 || p > 65535 ? -1 : (int)p;
}

static int s_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static void s_close(s_pair *p) {
  for (int i = 0; i < 2; i++)
    if (p->fd[i] >= 0) close(p->fd[i]);
  p->fd[0] = p->fd[1] = -1;
  p->len[0] = p->len[1] = 0;
}

int main(int argc, char **argv) {
  int listen_port = -1, to_port = -1;
  const char *pidfile = NULL, *mode = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") == 0) listen_port = s_port(argv[i + 1]);
    else if (strcmp(argv[i], "--to") == 0) to_port = s_port(argv[i + 1]);
    else if (strcmp(argv[i], "--pidfile") == 0) pidfile = argv[i + 1];
    else if (strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
    else if (strcmp(argv[i], "--seed") == 0) s_rng ^= strtoull(argv[i + 1], NULL, 10) * 2654435761ull;
    else if (strcmp(argv[i], "--start") == 0 && strcmp(argv[i + 1], "cut") == 0) s_cut = 1;
    else if (strcmp(argv[i], "--start") != 0 || strcmp(argv[i + 1], "open") != 0) listen_port = -1;
  }
  if (listen_port < 0 || to_port < 0) {
    fprintf(stderr, "usage: proxy --listen PORT --to PORT [--mode FILE] [--seed N] [--pidfile FILE] [--start cut|open]\n");
    return 2;
  }
  long long mode_mtime = -1, last_reset_check = s_now_ms();
  int delay_ms = 0, reset_pm = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_sig;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0 /* 50 committees reconnecting at the heal */) {
    fprintf(stderr, "proxy: cannot listen on 127.0.0.1:%d: %s\n", listen_port, strerror(errno));
    return 1;
  }
  if (pidfile) {
    FILE *f = fopen(pidfile, "w");
    if (f) {
      fprintf(f, "%d\n", (int)getpid());
      fclose(f);
    }
  }
  static s_pair pairs[S_CONNS];
  for (int i = 0; i < S_CONNS; i++) pairs[i].fd[0] = pairs[i].fd[1] = -1;
  int was_cut = 0;
  while (!s_stop) {
    if (s_cut && !was_cut)
      for (int i = 0; i < S_CONNS; i++) s_close(&pairs[i]);
    was_cut = s_cut;
    s_read_mode(mode, &mode_mtime, &delay_ms, &reset_pm);
    long long now = s_now_ms();
    if (now - last_reset_check >= 1000) {
      last_reset_check = now;
      for (int i = 0; i < S_CONNS; i++)
        if (pairs[i].fd[0] >= 0 && reset_pm && (int)(s_rand() % 1000) < reset_pm) s_close(&pairs[i]);
    }
    struct pollfd pf[1 + 2 * S_CONNS];
    int np = 0;
    pf[np++] = (struct pollfd){.fd = ls, .events = POLLIN};
    for (int i = 0; i < S_CONNS; i++)
      for (int k = 0; k < 2; k++) {
        s_pair *p = &pairs[i];
        short ev = 0;
        if (p->fd[k] >= 0) {
          if (p->len[k] < S_BUF) ev |= POLLIN;
          if (p->len[1 - k] > 0 && now >= p->ready_ms[1 - k]) ev |= POLLOUT;
        }
        pf[np++] = (struct pollfd){.fd = p->fd[k], .events = ev};
      }
    if (poll(pf, (nfds_t)np, delay_ms ? 20 : 200) < 0) continue;
    now = s_now_ms();
    if (pf[0].revents & POLLIN) {
      int c = accept(ls, NULL, NULL);
      if (c >= 0) {
        int slot = -1;
        for (int i = 0; i < S_CONNS && slot < 0; i++)
          if (pairs[i].fd[0] < 0) slot = i;
        int up = s_cut || slot < 0 ? -1 : s_connect(to_port);
        if (up < 0) {
          close(c);
        } else {
          fcntl(c, F_SETFL, O_NONBLOCK);
          pairs[slot].fd[0] = c;
          pairs[slot].fd[1] = up;
        }
      }
    }
    for (int i = 0; i < S_CONNS; i++) {
      s_pair *p = &pairs[i];
      for (int k = 0; k < 2 && p->fd[0] >= 0; k++) {
        short re = pf[1 + 2 * i + k].revents;
        if (re & POLLIN) {
          ssize_t r = read(p->fd[k], p->buf[k] + p->len[k], S_BUF - p->len[k]);
          if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
            s_close(p);
            break;
          }
          if (r > 0) {
            if (p->len[k] == 0) p->ready_ms[k] = now + delay_ms;
            p->len[k] += (size_t)r;
          }
        }
        if (p->len[1 - k] > 0 && (re & POLLOUT) && now >= p->ready_ms[1 - k]) {
          ssize_t w = write(p->fd[k], p->buf[1 - k], p->len[1 - k]);
          if (w < 0 && errno != EAGAIN) {
            s_close(p);
            break;
          }
          if (w > 0) {
            memmove(p->buf[1 - k], p->buf[1 - k] + w, p->len[1 - k] - (size_t)w);
            p->len[1 - k] -= (size_t)w;
          }
        }
        if (re & (POLLERR | POLLHUP) && !(re & POLLIN)) {
          s_close(p);
          break;
        }
      }
    }
  }
  for (int i = 0; i < S_CONNS; i++) s_close(&pairs[i]);
  close(ls);
  if (pidfile) unlink(pidfile);
  return 0;
}

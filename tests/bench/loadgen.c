/* Load generators and an echo service for scripts/bench (tests/bench/bench.py), which compiles
 * this file at run time:  cc -O2 -pthread loadgen.c -o loadgen -lssl -lcrypto
 *
 *   loadgen echo                        echo service on 127.0.0.1:0; prints "listening 127.0.0.1:PORT"
 *   loadgen rtt PORT COUNT SIZE         one connection, COUNT round trips of SIZE bytes (send, then
 *                                       receive all SIZE back), after 100 unmeasured ones
 *   loadgen open PORT COUNT             COUNT sequential opens: connect, send 1 byte, receive it back,
 *                                       close; each timed from connect() to the echoed byte
 *   loadgen rate PORT CLIENTS SECONDS MAXOPS
 *                                       CLIENTS threads doing opens back to back for SECONDS (at most
 *                                       MAXOPS in all)
 *   loadgen hold PORT COUNT THREADS tls|tcp
 *                                       opens COUNT connections (TLS: a handshake, no verification),
 *                                       echoes one byte on each, prints "held N errors E", then
 *                                       keeps them open until stdin ends
 *
 * Everything connects to 127.0.0.1 only. Every wait has a deadline (IO_TIMEOUT_MS per
 * operation), every loop a bound. Results are one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 10000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static long arg_long(const char *s, long lo, long hi, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "loadgen: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
    exit(2);
  }
  return v;
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  nodelay(fd);
  struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  /* bounds connect() too */
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Waits until fd is readable (or writable), at most IO_TIMEOUT_MS. 1 ready, 0 timeout/error. */
static int wait_fd(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  for (int tries = 0; tries < 100; ++tries) { /* EINTR only */
    int r = poll(&p, 1, IO_TIMEOUT_MS);
    if (r > 0) return 1;
    if (r == 0) return 0;
    if (errno != EINTR) return 0;
  }
  return 0;
}

static int send_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static int recv_all(int fd, char *buf, size_t n) {
  while (n > 0) {
    if (!wait_fd(fd, POLLIN)) return -1;
    ssize_t r = recv(fd, buf, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    buf += r;
    n -= (size_t)r;
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of sorted v[0..n). */
static double quantile(const double *v, int n, double q) {
  if (n <= 0) return -1;
  int i = (int)(q * n + 0.5) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return v[i];
}

static void print_stats(const char *unit, double scale, double *v, int n, int errors, double elapsed) {
  qsort(v, n, sizeof *v, cmp_double);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += v[i];
  printf("{\"n\":%d,\"errors\":%d,\"elapsed_s\":%.3f,\"unit\":\"%s\",\"min\":%.3f,\"median\":%.3f,"
         "\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f}\n",
         n, errors, elapsed, unit, n ? v[0] * scale : -1, quantile(v, n, 0.5) * scale,
         quantile(v, n, 0.9) * scale, quantile(v, n, 0.99) * scale, n ? v[n - 1] * scale : -1,
         n ? sum / n * scale : -1);
}

/* ------------------------------------------------------------------------------ echo service */

struct conn {
  char *pending; /* bytes read but not yet written back (only when the peer is slow) */
  size_t off, len;
};

static int cmd_echo(void) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(lfd, 4096) != 0) die("listen");
  socklen_t alen = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &alen);
  printf("listening 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  int cap = 65536;
  struct conn *conns = calloc(cap, sizeof *conns);
  static char buf[256 * 1024];
  struct epoll_event events[256];
  pid_t parent = getppid();
  while (getppid() == parent) { /* until killed, or orphaned (the driver is gone) */
    int n = epoll_wait(ep, events, 256, 1000);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (int k = 0; k < 256; ++k) {
          int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(10000);
            break;
          }
          if (c >= cap) {
            close(c);
            continue;
          }
          nodelay(c);
          memset(&conns[c], 0, sizeof conns[c]);
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      struct conn *s = &conns[fd];
      int dead = 0;
      if (s->len > s->off) { /* flush what is pending first */
        ssize_t w = send(fd, s->pending + s->off, s->len - s->off, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) dead = 1;
        if (w > 0) s->off += (size_t)w;
        if (!dead && s->off == s->len) {
          free(s->pending);
          s->pending = NULL;
          s->off = s->len = 0;
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
        }
      } else {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          dead = 1;
        } else if (r > 0) {
          ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN && errno != EINTR) {
            dead = 1;
          } else {
            if (w < 0) w = 0;
            if (w < r) { /* the peer is slow: keep the rest, stop reading until it is written */
              s->pending = malloc((size_t)(r - w));
              memcpy(s->pending, buf + w, (size_t)(r - w));
              s->off = 0;
              s->len = (size_t)(r - w);
              struct epoll_event ce = {.events = EPOLLOUT, .data.fd = fd};
              epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
            }
          }
        }
      }
      if (dead) {
        free(s->pending);
        memset(s, 0, sizeof *s);
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
      }
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------ rtt */

static int cmd_rtt(int port, int count, int size) {
  int fd = dial(port);
  if (fd < 0) die("connect");
  char *out = malloc(size), *in = malloc(size);
  memset(out, 'r', size);
  for (int i = 0; i < 100; ++i)
    if (send_all(fd, out, size) || recv_all(fd, in, size)) die("warm-up round trip");
  double *v = malloc(sizeof(double) * count);
  double start = now();
  for (int i = 0; i < count; ++i) {
    double t0 = now();
    if (send_all(fd, out, size) || recv_all(fd, in, size)) die("round trip");
    v[i] = now() - t0;
  }
  double elapsed = now() - start;
  close(fd);
  print_stats("us", 1e6, v, count, 0, elapsed);
  return 0;
}

/* ------------------------------------------------------------------------------ open, rate */

/* One open: connect, one byte out, the same byte back, close. Seconds, or -1. */
static double one_open(int port) {
  double t0 = now();
  int fd = dial(port);
  if (fd < 0) return -1;
  char c = 'o', back = 0;
  int bad = send_all(fd, &c, 1) || recv_all(fd, &back, 1) || back != c;
  double t = now() - t0;
  close(fd);
  return bad ? -1 : t;
}

static int cmd_open(int port, int count) {
  double *v = malloc(sizeof(double) * count);
  int n = 0, errors = 0;
  double start = now();
  for (int i = 0; i < count; ++i) {
    double t = one_open(port);
    if (t < 0)
      ++errors;
    else
      v[n++] = t;
  }
  print_stats("ms", 1e3, v, n, errors, now() - start);
  return 0;
}

struct rate_shared {
  int port;
  double deadline;
  long max_ops;
  atomic_long started, ok, errors;
};

static void *rate_worker(void *p) {
  struct rate_shared *s = p;
  while (now() < s->deadline && atomic_fetch_add(&s->started, 1) < s->max_ops) {
    if (one_open(s->port) < 0)
      atomic_fetch_add(&s->errors, 1);
    else
      atomic_fetch_add(&s->ok, 1);
  }
  return NULL;
}

static int cmd_rate(int port, int clients, double seconds, long max_ops) {
  struct rate_shared s = {.port = port, .max_ops = max_ops};
  pthread_t *t = malloc(sizeof(pthread_t) * clients);
  double start = now();
  s.deadline = start + seconds;
  for (int i = 0; i < clients; ++i)
    if (pthread_create(&t[i], NULL, rate_worker, &s) != 0) die("pthread_create");
  for (int i = 0; i < clients; ++i) pthread_join(t[i], NULL);
  double elapsed = now() - start;
  printf("{\"clients\":%d,\"ok\":%ld,\"errors\":%ld,\"elapsed_s\":%.3f,\"per_s\":%.1f}\n", clients,
         atomic_load(&s.ok), atomic_load(&s.errors), elapsed, atomic_load(&s.ok) / elapsed);
  return 0;
}

/* ------------------------------------------------------------------------------ hold */

struct hold_shared {
  int port, use_tls;
  SSL_CTX *ctx;
  atomic_long next, ok, errors;
  long count;
};

static int hold_one(struct hold_shared *s) {
  int fd = dial(s->port);
  if (fd < 0) return -1;
  struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c = 'h', back = 0;
  if (!s->use_tls) {
    if (send_all(fd, &c, 1) || recv_all(fd, &back, 1) || back != c) {
      close(fd);
      return -1;
    }
    return 0; /* the descriptor stays open: that is the point */
  }
  SSL *ssl = SSL_new(s->ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1 || SSL_write(ssl, &c, 1) != 1 || SSL_read(ssl, &back, 1) != 1 || back != c) {
    SSL_free(ssl);
    close(fd);
    return -1;
  }
  return 0; /* ssl and fd stay open */
}

static void *hold_worker(void *p) {
  struct hold_shared *s = p;
  while (atomic_fetch_add(&s->next, 1) < s->count) {
    if (hold_one(s) == 0)
      atomic_fetch_add(&s->ok, 1);
    else
      atomic_fetch_add(&s->errors, 1);
  }
  return NULL;
}

static int cmd_hold(int port, long count, int threads, int use_tls) {
  struct hold_shared s = {.port = port, .use_tls = use_tls, .count = count};
  if (use_tls) {
    s.ctx = SSL_CTX_new(TLS_client_method());
    if (!s.ctx) die("SSL_CTX_new");
    SSL_CTX_set_verify(s.ctx, SSL_VERIFY_NONE, NULL); /* a load generator: the relay is ours */
    SSL_CTX_set_session_cache_mode(s.ctx, SSL_SESS_CACHE_OFF);
  }
  pthread_t *t = malloc(sizeof(pthread_t) * threads);
  double start = now();
  for (int i = 0; i < threads; ++i)
    if (pthread_create(&t[i], NULL, hold_worker, &s) != 0) die("pthread_create");
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  printf("{\"held\":%ld,\"errors\":%ld,\"elapsed_s\":%.3f}\n", atomic_load(&s.ok), atomic_load(&s.errors),
         now() - start);
  fflush(stdout);
  char b[64];
  while (read(0, b, sizeof b) > 0) {
  } /* until stdin ends (the driver closes it, or is gone) */
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "echo") == 0) return cmd_echo();
  if (argc == 5 && strcmp(argv[1], "rtt") == 0)
    return cmd_rtt(arg_long(argv[2], 1, 65535, "port"), arg_long(argv[3], 1, 10000000, "count"),
                   arg_long(argv[4], 1, 1 << 20, "size"));
  if (argc == 4 && strcmp(argv[1], "open") == 0)
    return cmd_open(arg_long(argv[2], 1, 65535, "port"), arg_long(argv[3], 1, 1000000, "count"));
  if (argc == 6 && strcmp(argv[1], "rate") == 0)
    return cmd_rate(arg_long(argv[2], 1, 65535, "port"), arg_long(argv[3], 1, 1024, "clients"),
                    arg_long(argv[4], 1, 3600, "seconds"), arg_long(argv[5], 1, 100000000, "max ops"));
  if (argc == 6 && strcmp(argv[1], "hold") == 0)
    return cmd_hold(arg_long(argv[2], 1, 65535, "port"), arg_long(argv[3], 1, 1000000, "count"),
                    arg_long(argv[4], 1, 256, "threads"), strcmp(argv[5], "tls") == 0);
  fprintf(stderr,
          "usage: loadgen echo | rtt PORT COUNT SIZE | open PORT COUNT | rate PORT CLIENTS SECONDS MAXOPS"
          " | hold PORT COUNT THREADS tls|tcp\n");
  return 2;
}

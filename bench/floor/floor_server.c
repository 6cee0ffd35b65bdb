/*
 * floor_server: the smallest honest echo server, a baseline for target-server.
 *
 * P worker processes each open their own listening socket on the same port
 * (SO_REUSEPORT: the kernel spreads incoming connections over them) and run
 * one level-triggered epoll loop that accepts and echoes. Nothing is kept per
 * connection in user space: the fd is the connection, the read buffer is on
 * the stack. What the kernel spends per connection is then all there is.
 *
 *   floor_server [-p PORT] [-P WORKERS] [-a ADDR] [-b BACKLOG] [-B BUFSZ]
 *
 * Prints "READY ..." once every worker listens. On SIGTERM or SIGINT it stops
 * the workers and prints
 *   SERVER accepted=N closed=N per_worker_min=N per_worker_max=N accept_errors: none|NAME=COUNT ...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char kProgramName[] = "floor_server";
#include "floor_common.h"

enum { kMaxWorkers = 512, kErrnoSlots = 256, kEvents = 256 };

/* One worker's counters, in memory shared with the parent (written by the
 * worker only, read by the parent after the worker exited). */
struct worker_counts {
  uint64_t accepted;
  uint64_t closed;
  uint64_t accept_errors[kErrnoSlots];
};

struct options {
  int port;
  int workers;
  const char *addr;
  int backlog;
  int bufsz;
};

/* Each process may hold as many fds as the hard limit allows. */
static void raise_fd_limit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

static void count_error(struct worker_counts *counts, int err) {
  counts->accept_errors[err > 0 && err < kErrnoSlots ? err : 0]++;
}

static int open_listener(const struct options *opt) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("SO_REUSEADDR");
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) die("SO_REUSEPORT");
  if (opt->bufsz > 0) {
    /* Set on the listener so that accepted sockets inherit them. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt->bufsz, sizeof opt->bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opt->bufsz, sizeof opt->bufsz);
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt->port)};
  if (inet_pton(AF_INET, opt->addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "floor_server: -a expects an IPv4 address, got '%s'\n", opt->addr);
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind");
  if (listen(fd, opt->backlog) != 0) die("listen");
  return fd;
}

static void close_connection(int epfd, int fd, struct worker_counts *counts) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  counts->closed++;
}

/* Accepts what is queued, a bounded batch per wake-up so that echoes are not
 * starved. Returns 0 when the worker can take no more connections. */
static int accept_batch(int epfd, int listener, struct worker_counts *counts) {
  for (int i = 0; i < 64; i++) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return 1;
      count_error(counts, errno);
      /* Out of fds or memory: the listener stays readable, so retrying
       * would spin. This worker stops accepting; what is left in its queue
       * stays there (one queue per worker is the SO_REUSEPORT trade-off). */
      return !(errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      count_error(counts, errno);
      close(fd);
      continue;
    }
    counts->accepted++;
  }
  return 1;
}

/* One read, one write back. Level-triggered: data left unread raises the
 * event again, so no read has to be spent to learn the socket is drained. */
static void echo_once(int epfd, int fd, struct worker_counts *counts) {
  char buf[4096];
  ssize_t got = read(fd, buf, sizeof buf);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) {
    close_connection(epfd, fd, counts);
    return;
  }
  ssize_t put = write(fd, buf, (size_t)got);
  if (put != got) close_connection(epfd, fd, counts); /* peer not reading: drop it */
}

static void run_worker(const struct options *opt, struct worker_counts *counts, int ready_fd) {
  raise_fd_limit();
  int listener = open_listener(opt);
  int epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev) != 0) die("epoll_ctl listener");
  if (write(ready_fd, "r", 1) != 1) die("ready pipe");
  close(ready_fd);

  struct epoll_event events[kEvents];
  for (;;) {
    int n = epoll_wait(epfd, events, kEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        if (!accept_batch(epfd, listener, counts)) epoll_ctl(epfd, EPOLL_CTL_DEL, listener, NULL);
      } else {
        echo_once(epfd, fd, counts);
      }
    }
  }
}

static void print_summary(const struct worker_counts *counts, int workers) {
  uint64_t accepted = 0, closed = 0, lo = UINT64_MAX, hi = 0;
  uint64_t errors[kErrnoSlots] = {0};
  for (int w = 0; w < workers; w++) {
    accepted += counts[w].accepted;
    closed += counts[w].closed;
    if (counts[w].accepted < lo) lo = counts[w].accepted;
    if (counts[w].accepted > hi) hi = counts[w].accepted;
    for (int e = 0; e < kErrnoSlots; e++) errors[e] += counts[w].accept_errors[e];
  }
  printf("SERVER accepted=%llu closed=%llu per_worker_min=%llu per_worker_max=%llu accept_errors:",
         (unsigned long long)accepted, (unsigned long long)closed, (unsigned long long)lo,
         (unsigned long long)hi);
  int any = 0;
  for (int e = 0; e < kErrnoSlots; e++) {
    if (errors[e] == 0) continue;
    const char *name = e == 0 ? "other" : strerrorname_np(e);
    printf(" %s=%llu", name ? name : "unknown", (unsigned long long)errors[e]);
    any = 1;
  }
  printf("%s\n", any ? "" : " none");
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct options opt = {.port = 47700, .workers = 0, .addr = "127.0.0.1", .backlog = 65535, .bufsz = 0};
  int c;
  while ((c = getopt(argc, argv, "p:P:a:b:B:h")) != -1) {
    switch (c) {
      case 'p':
        opt.port = (int)parse_number("-p", optarg, 1, 65535);
        break;
      case 'P':
        opt.workers = (int)parse_number("-P", optarg, 1, kMaxWorkers);
        break;
      case 'a':
        opt.addr = optarg;
        break;
      case 'b':
        opt.backlog = (int)parse_number("-b", optarg, 1, 1 << 30);
        break;
      case 'B':
        opt.bufsz = (int)parse_number("-B", optarg, 0, 1 << 30);
        break;
      default:
        fprintf(stderr, "usage: floor_server [-p PORT] [-P WORKERS] [-a ADDR] [-b BACKLOG] [-B BUFSZ]\n");
        return c == 'h' ? 0 : 2;
    }
  }
  if (opt.workers == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt.workers = cores > 0 && cores <= kMaxWorkers ? (int)cores : 1;
  }

  struct worker_counts *counts = mmap(NULL, sizeof *counts * (size_t)opt.workers, PROT_READ | PROT_WRITE,
                                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (counts == MAP_FAILED) die("mmap");

  /* The parent only waits for signals: block them before forking so none is
   * lost, and let each worker die of SIGTERM's default action. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGCHLD);
  sigprocmask(SIG_BLOCK, &stop, NULL);

  int ready[2];
  if (pipe(ready) != 0) die("pipe");
  pid_t pids[kMaxWorkers];
  for (int w = 0; w < opt.workers; w++) {
    pids[w] = fork();
    if (pids[w] < 0) die("fork");
    if (pids[w] == 0) {
      sigprocmask(SIG_UNBLOCK, &stop, NULL);
      close(ready[0]);
      run_worker(&opt, &counts[w], ready[1]);
      _exit(0);
    }
  }
  close(ready[1]);
  for (int w = 0; w < opt.workers; w++) {
    char byte;
    if (read(ready[0], &byte, 1) != 1) {
      fprintf(stderr, "floor_server: a worker failed to start\n");
      for (int k = 0; k < opt.workers; k++) kill(pids[k], SIGKILL);
      return 1;
    }
  }
  close(ready[0]);
  printf("READY addr=%s port=%d workers=%d backlog=%d bufsz=%d\n", opt.addr, opt.port, opt.workers,
         opt.backlog, opt.bufsz);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  int status = 0;
  if (sig == SIGCHLD) {
    fprintf(stderr, "floor_server: a worker exited on its own; stopping\n");
    status = 1;
  }
  for (int w = 0; w < opt.workers; w++) kill(pids[w], SIGTERM);
  for (int w = 0; w < opt.workers; w++) waitpid(pids[w], NULL, 0);
  print_summary(counts, opt.workers);
  return status;
}

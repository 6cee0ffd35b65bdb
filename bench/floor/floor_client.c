/*
 * floor_client: opens N TCP connections to one port, echo-checks each once,
 * holds them and closes them, as cheaply as a client can: a baseline for
 * fourtuple's agents and a load for any echo server.
 *
 *   floor_client [-p PORT] [-a DST] [-n N] [-q WORKERS] [-s SOURCES] [-w IN_FLIGHT]
 *                [-B BUFSZ] [-x SNAPCMD] [-H HOLD_S] [-T PHASE_TIMEOUT_S] [-G] [-E]
 *
 * Connection `id` (0..N-1) belongs to worker process id % WORKERS and is
 * bound to source address 127.0.1.(1 + id % SOURCES) with
 * IP_BIND_ADDRESS_NO_PORT, so the kernel picks its port per four-tuple (with
 * -E the client picks it: 1024 + id / SOURCES). The phases, every worker
 * together:
 *   connect  at most IN_FLIGHT pending connects per worker; then the parent
 *            waits until the server's accept queues on PORT are empty
 *   echo     each connection sends its id (8 bytes) and must read the same
 *            8 bytes back; IN_FLIGHT outstanding per worker
 *   hold     HOLD_S seconds
 *   close    RST (SO_LINGER 0), or FIN with -G
 * With -x, "SNAPCMD LABEL N" runs (through sh, as a child of this process)
 * at base, hold (connected and accepted), echo (verified) and closed, and
 * the phase waits for it. Per connection the client keeps its fd and one
 * state byte.
 *
 * Output: CONNECT and ECHO lines with their "errors:" lines (errno names,
 * `connect_timeout`, `echo_timeout`, `peer_closed`), then
 *   RESULT n=... q=... s=... w=... bufsz=... established=... verified=... connect_s=...
 *          connect_accept_s=... conn_per_s=... echo_s=... echo_per_s=...
 * Exit 0 when all N were established and verified, 1 otherwise, 2 on bad
 * arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
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
#include <time.h>
#include <unistd.h>

static const char kProgramName[] = "floor_client";
#include "floor_common.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum {
  kMaxWorkers = 512,
  kEvents = 512,
  /* Reason slots: errno values below kSlotTimeout, then two of our own. */
  kSlots = 256,
  kSlotTimeout = 254,
  kSlotPeerClosed = 255,
  kTcpListenState = 10, /* TCP_LISTEN in the kernel's state numbering */
};

/* Connection states, one byte each. */
enum { kIdle, kConnecting, kHeld, kAwaitingEcho, kClosed };

/* One worker's figures, in memory shared with the parent. Each worker writes
 * its own; the parent reads them once the worker reported a phase done. */
struct worker_report {
  uint64_t established;
  uint64_t connect_errors[kSlots];
  uint64_t echo_sent, verified, mismatch, short_read, eof;
  uint64_t echo_errors[kSlots];
};

struct options {
  int port;
  const char *dst;
  long n;
  int workers;
  int sources;
  int in_flight;
  int bufsz;
  const char *snapcmd;
  int hold_s;
  int phase_timeout_s;
  int graceful_close;
  int explicit_ports;
};

/* A worker's connections: index k is connection id = worker + k * workers. */
struct worker {
  const struct options *opt;
  int index;
  long count;
  int *fds;
  uint8_t *state;
  int epfd;
  struct sockaddr_in dst;
  struct worker_report *report;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count(uint64_t *slots, int err) { slots[err > 0 && err < kSlotTimeout ? err : 0]++; }

static long id_of(const struct worker *w, long k) { return w->index + k * w->opt->workers; }

static int wait_ms_until(double deadline) {
  double left = deadline - now_s();
  if (left <= 0) return 0;
  return left > 1.0 ? 1000 : (int)(left * 1000) + 1;
}

static void drop(struct worker *w, long k) {
  close(w->fds[k]); /* also leaves the epoll set */
  w->fds[k] = -1;
  w->state[k] = kClosed;
}

/* socket, bind to the source address, non-blocking connect. */
static void start_connect(struct worker *w, long k, long *pending) {
  const struct options *opt = w->opt;
  long id = id_of(w, k);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    count(w->report->connect_errors, errno);
    w->state[k] = kClosed;
    return;
  }
  w->fds[k] = fd;
  if (opt->bufsz > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt->bufsz, sizeof opt->bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opt->bufsz, sizeof opt->bufsz);
  }
  struct sockaddr_in src = {.sin_family = AF_INET};
  src.sin_addr.s_addr = htonl((127u << 24) | (1u << 8) | (uint32_t)(1 + id % opt->sources));
  if (opt->explicit_ports) {
    src.sin_port = htons((uint16_t)(1024 + id / opt->sources));
  } else {
    /* Without this, bind() would have to pick a port before the destination
     * is known, one per source address for every destination together. */
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  }
  if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
    count(w->report->connect_errors, errno);
    drop(w, k);
    return;
  }
  int rc = connect(fd, (struct sockaddr *)&w->dst, sizeof w->dst);
  if (rc != 0 && errno != EINPROGRESS) {
    count(w->report->connect_errors, errno);
    drop(w, k);
    return;
  }
  struct epoll_event ev = {.events = rc == 0 ? EPOLLIN : EPOLLOUT, .data.u64 = (uint64_t)k};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    count(w->report->connect_errors, errno);
    drop(w, k);
    return;
  }
  if (rc == 0) {
    w->state[k] = kHeld;
    w->report->established++;
  } else {
    w->state[k] = kConnecting;
    (*pending)++;
  }
}

/* An event on a held connection: the server closed or reset it, or sent
 * something unasked. Either way it no longer counts: returns 1 when it was
 * dropped. */
static int held_connection_event(struct worker *w, long k, uint64_t *slots) {
  char buf[64];
  ssize_t got = read(w->fds[k], buf, sizeof buf);
  if (got < 0 && errno == EAGAIN) return 0;
  count(slots, got < 0 ? errno : kSlotPeerClosed);
  drop(w, k);
  return 1;
}

static void connect_phase(struct worker *w) {
  const struct options *opt = w->opt;
  double deadline = now_s() + opt->phase_timeout_s;
  long next = 0, pending = 0;
  struct epoll_event events[kEvents];
  for (;;) {
    while (pending < opt->in_flight && next < w->count) start_connect(w, next++, &pending);
    if (pending == 0 && next == w->count) break;
    int timeout = wait_ms_until(deadline);
    if (timeout == 0) break;
    int n = epoll_wait(w->epfd, events, kEvents, timeout);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      long k = (long)events[i].data.u64;
      if (w->state[k] != kConnecting) {
        if (held_connection_event(w, k, w->report->connect_errors)) w->report->established--;
        continue;
      }
      pending--;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(w->fds[k], SOL_SOCKET, SO_ERROR, &err, &len);
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)k};
      if (err == 0 && epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->fds[k], &ev) != 0) err = errno;
      if (err != 0) {
        count(w->report->connect_errors, err);
        drop(w, k);
        continue;
      }
      w->state[k] = kHeld;
      w->report->established++;
    }
  }
  /* Past the phase timeout: what is still pending, or not yet started, failed. */
  for (long k = 0; k < w->count; k++) {
    if (w->state[k] == kConnecting) {
      w->report->connect_errors[kSlotTimeout]++;
      drop(w, k);
    } else if (w->state[k] == kIdle) {
      w->report->connect_errors[kSlotTimeout]++;
      w->state[k] = kClosed;
    }
  }
}

static void send_echo(struct worker *w, long k, long *outstanding) {
  uint64_t payload = (uint64_t)id_of(w, k);
  ssize_t put = write(w->fds[k], &payload, sizeof payload);
  if (put != (ssize_t)sizeof payload) {
    count(w->report->echo_errors, put < 0 ? errno : EAGAIN);
    drop(w, k);
    return;
  }
  w->report->echo_sent++;
  w->state[k] = kAwaitingEcho;
  (*outstanding)++;
}

static void receive_echo(struct worker *w, long k, long *outstanding) {
  uint64_t reply[2];
  ssize_t got = read(w->fds[k], reply, sizeof reply);
  if (got < 0 && errno == EAGAIN) return;
  (*outstanding)--;
  if (got == (ssize_t)sizeof reply[0] && reply[0] == (uint64_t)id_of(w, k)) {
    w->report->verified++;
    w->state[k] = kHeld;
    return;
  }
  if (got < 0) {
    count(w->report->echo_errors, errno);
  } else if (got == 0) {
    w->report->eof++;
  } else if (got < (ssize_t)sizeof reply[0]) {
    w->report->short_read++;
  } else {
    w->report->mismatch++;
  }
  drop(w, k);
}

static void echo_phase(struct worker *w) {
  const struct options *opt = w->opt;
  double deadline = now_s() + opt->phase_timeout_s;
  long next = 0, outstanding = 0;
  struct epoll_event events[kEvents];
  for (;;) {
    while (outstanding < opt->in_flight && next < w->count) {
      long k = next++;
      if (w->state[k] == kHeld) send_echo(w, k, &outstanding);
    }
    if (outstanding == 0 && next == w->count) break;
    int timeout = wait_ms_until(deadline);
    if (timeout == 0) break;
    int n = epoll_wait(w->epfd, events, kEvents, timeout);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      long k = (long)events[i].data.u64;
      if (w->state[k] == kAwaitingEcho) {
        receive_echo(w, k, &outstanding);
      } else if (w->state[k] == kHeld) {
        held_connection_event(w, k, w->report->echo_errors);
      }
    }
  }
  for (long k = 0; k < w->count; k++) {
    if (w->state[k] == kAwaitingEcho) w->report->echo_errors[kSlotTimeout]++;
  }
}

static void close_phase(struct worker *w) {
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  for (long k = 0; k < w->count; k++) {
    if (w->fds[k] < 0) continue;
    if (!w->opt->graceful_close) setsockopt(w->fds[k], SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    drop(w, k);
  }
}

/* A worker process: waits for a phase command, runs it, reports done. */
static void run_worker(struct worker *w, int command_fd, int done_fd) {
  w->count = (w->opt->n - w->index + w->opt->workers - 1) / w->opt->workers;
  w->fds = malloc(sizeof *w->fds * (size_t)(w->count ? w->count : 1));
  w->state = calloc((size_t)(w->count ? w->count : 1), 1);
  if (w->fds == NULL || w->state == NULL) die("malloc");
  for (long k = 0; k < w->count; k++) w->fds[k] = -1;
  w->epfd = epoll_create1(0);
  if (w->epfd < 0) die("epoll_create1");
  char command;
  while (read(command_fd, &command, 1) == 1) {
    if (command == 'c') connect_phase(w);
    if (command == 'e') echo_phase(w);
    if (command == 'x') close_phase(w);
    if (write(done_fd, &command, 1) != 1) die("done pipe");
    if (command == 'x') break;
  }
  _exit(0);
}

/* The length of the accept queues of every listener on `port`, from the
 * kernel's socket diagnostics (listening sockets only, so it stays cheap with
 * millions of connections open); -1 when it cannot be read. */
static long accept_queue(int port) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    struct nlmsghdr header;
    struct inet_diag_req_v2 request;
  } query = {
      .header = {.nlmsg_len = sizeof query,
                 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
      .request = {.sdiag_family = AF_INET,
                  .sdiag_protocol = IPPROTO_TCP,
                  .idiag_states = 1u << kTcpListenState},
  };
  long total = -1;
  if (send(fd, &query, sizeof query, 0) == (ssize_t)sizeof query) {
    static char buf[32768] __attribute__((aligned(8)));
    int done = 0;
    total = 0;
    while (!done) {
      ssize_t len = recv(fd, buf, sizeof buf, 0);
      if (len <= 0) {
        total = -1;
        break;
      }
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type == NLMSG_DONE) {
          done = 1;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) {
          total = -1;
          done = 1;
          break;
        }
        const struct inet_diag_msg *msg = NLMSG_DATA(h);
        /* For a listener, rqueue is the number of connections waiting in
         * its accept queue. */
        if (ntohs(msg->id.idiag_sport) == port) total += msg->idiag_rqueue;
      }
    }
  }
  close(fd);
  return total;
}

/* Runs "SNAPCMD LABEL N" through sh and waits for it. */
static void run_hook(const struct options *opt, const char *label) {
  if (opt->snapcmd == NULL) return;
  char line[4096], n[32];
  snprintf(line, sizeof line, "%s \"$@\"", opt->snapcmd);
  snprintf(n, sizeof n, "%ld", opt->n);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", line, "sh", label, n, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "floor_client: snapshot command failed at %s\n", label);
  }
}

struct fleet {
  int workers;
  pid_t pids[kMaxWorkers];
  int command_fds[kMaxWorkers];
  int done_fd;
};

/* Sends `command` to every worker and waits until each reported it done. A
 * worker that dies ends the run. */
static void run_phase(struct fleet *fleet, char command) {
  for (int i = 0; i < fleet->workers; i++) {
    if (write(fleet->command_fds[i], &command, 1) != 1) die("command pipe");
  }
  int done = 0;
  while (done < fleet->workers) {
    struct pollfd p = {.fd = fleet->done_fd, .events = POLLIN};
    int ready = poll(&p, 1, 1000);
    if (ready > 0) {
      char byte;
      if (read(fleet->done_fd, &byte, 1) == 1) done++;
      continue;
    }
    int status;
    pid_t dead = waitpid(-1, &status, WNOHANG);
    if (dead > 0) {
      fprintf(stderr, "floor_client: worker %d died (status %d); stopping\n", (int)dead, status);
      for (int i = 0; i < fleet->workers; i++) kill(fleet->pids[i], SIGKILL);
      exit(1);
    }
  }
}

static void print_reasons(const char *phase, const char *timeout_name, const uint64_t *slots) {
  printf("%s errors:", phase);
  int any = 0;
  for (int e = 0; e < kSlots; e++) {
    if (slots[e] == 0) continue;
    const char *name = e == kSlotTimeout      ? timeout_name
                       : e == kSlotPeerClosed ? "peer_closed"
                       : e == 0               ? "other"
                                              : strerrorname_np(e);
    printf(" %s=%llu", name ? name : "unknown", (unsigned long long)slots[e]);
    any = 1;
  }
  printf("%s\n", any ? "" : " none");
}

static void usage(void) {
  fprintf(stderr,
          "usage: floor_client [-p PORT] [-a DST] [-n N] [-q WORKERS] [-s SOURCES] [-w IN_FLIGHT]\n"
          "                    [-B BUFSZ] [-x SNAPCMD] [-H HOLD_S] [-T PHASE_TIMEOUT_S] [-G] [-E]\n");
}

static void parse_options(int argc, char **argv, struct options *opt) {
  int c;
  while ((c = getopt(argc, argv, "p:a:n:q:s:w:B:x:H:T:GEh")) != -1) {
    switch (c) {
      case 'p':
        opt->port = (int)parse_number("-p", optarg, 1, 65535);
        break;
      case 'a':
        opt->dst = optarg;
        break;
      case 'n':
        opt->n = parse_number("-n", optarg, 1, 100000000);
        break;
      case 'q':
        opt->workers = (int)parse_number("-q", optarg, 1, kMaxWorkers);
        break;
      case 's':
        opt->sources = (int)parse_number("-s", optarg, 1, 254);
        break;
      case 'w':
        opt->in_flight = (int)parse_number("-w", optarg, 1, 1 << 20);
        break;
      case 'B':
        opt->bufsz = (int)parse_number("-B", optarg, 0, 1 << 30);
        break;
      case 'x':
        opt->snapcmd = optarg;
        break;
      case 'H':
        opt->hold_s = (int)parse_number("-H", optarg, 0, 86400);
        break;
      case 'T':
        opt->phase_timeout_s = (int)parse_number("-T", optarg, 1, 86400);
        break;
      case 'G':
        opt->graceful_close = 1;
        break;
      case 'E':
        opt->explicit_ports = 1;
        break;
      case 'h':
        usage();
        exit(0);
      default:
        usage();
        exit(2);
    }
  }
  if (optind != argc) {
    usage();
    exit(2);
  }
  if (opt->explicit_ports && 1024 + (opt->n - 1) / opt->sources > 65535) {
    fprintf(stderr, "floor_client: -E: %ld connections from %d sources need ports past 65535: raise -s\n",
            opt->n, opt->sources);
    exit(2);
  }
}

int main(int argc, char **argv) {
  struct options opt = {.port = 47700,
                        .dst = "127.0.0.1",
                        .n = 10000,
                        .workers = 1,
                        .sources = 1,
                        .in_flight = 1024,
                        .hold_s = 0,
                        .phase_timeout_s = 120};
  parse_options(argc, argv, &opt);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  if (inet_pton(AF_INET, opt.dst, &dst.sin_addr) != 1) {
    fprintf(stderr, "floor_client: -a expects an IPv4 address, got '%s'\n", opt.dst);
    return 2;
  }
  /* Every process may use the hard limit; each worker's share must fit. */
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit");
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  long per_worker = (opt.n + opt.workers - 1) / opt.workers;
  if ((rlim_t)per_worker + 16 > limit.rlim_cur) {
    fprintf(stderr, "floor_client: %ld connections per worker exceed RLIMIT_NOFILE (%llu): raise -q\n",
            per_worker, (unsigned long long)limit.rlim_cur);
    return 2;
  }

  struct worker_report *reports = mmap(NULL, sizeof *reports * (size_t)opt.workers, PROT_READ | PROT_WRITE,
                                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (reports == MAP_FAILED) die("mmap");
  int done[2];
  if (pipe(done) != 0) die("pipe");
  struct fleet fleet = {.workers = opt.workers, .done_fd = done[0]};
  fflush(stdout);
  for (int i = 0; i < opt.workers; i++) {
    int command[2];
    if (pipe(command) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      close(command[1]);
      close(done[0]);
      for (int j = 0; j < i; j++) close(fleet.command_fds[j]);
      struct worker w = {.opt = &opt, .index = i, .dst = dst, .report = &reports[i]};
      run_worker(&w, command[0], done[1]);
    }
    close(command[0]);
    fleet.pids[i] = pid;
    fleet.command_fds[i] = command[1];
  }
  close(done[1]);

  run_hook(&opt, "base");
  double t0 = now_s();
  run_phase(&fleet, 'c');
  double t_client = now_s();
  long left = accept_queue(opt.port);
  while (left > 0 && now_s() - t0 < opt.phase_timeout_s) {
    usleep(2000);
    left = accept_queue(opt.port);
  }
  double t_accept = now_s();

  uint64_t established = 0, connect_errors[kSlots] = {0};
  for (int i = 0; i < opt.workers; i++) {
    established += reports[i].established;
    for (int e = 0; e < kSlots; e++) connect_errors[e] += reports[i].connect_errors[e];
  }
  double connect_s = t_client - t0, connect_accept_s = t_accept - t0;
  double conn_per_s = connect_accept_s > 0 ? (double)established / connect_accept_s : 0;
  char queue_left[32] = "unknown";
  if (left >= 0) snprintf(queue_left, sizeof queue_left, "%ld", left);
  printf(
      "CONNECT established=%llu/%ld client_side=%.3fs with_accept=%.3fs (accept queue left=%s) rate=%.0f "
      "conn/s\n",
      (unsigned long long)established, opt.n, connect_s, connect_accept_s, queue_left, conn_per_s);
  print_reasons("CONNECT", "connect_timeout", connect_errors);
  run_hook(&opt, "hold");

  double t_echo = now_s();
  run_phase(&fleet, 'e');
  double echo_s = now_s() - t_echo;
  uint64_t sent = 0, verified = 0, mismatch = 0, short_read = 0, eof = 0, echo_errors[kSlots] = {0};
  for (int i = 0; i < opt.workers; i++) {
    sent += reports[i].echo_sent;
    verified += reports[i].verified;
    mismatch += reports[i].mismatch;
    short_read += reports[i].short_read;
    eof += reports[i].eof;
    for (int e = 0; e < kSlots; e++) echo_errors[e] += reports[i].echo_errors[e];
  }
  double echo_per_s = echo_s > 0 ? (double)verified / echo_s : 0;
  printf("ECHO sent=%llu verified=%llu mismatch=%llu short_read=%llu eof=%llu time=%.3fs rate=%.0f echo/s\n",
         (unsigned long long)sent, (unsigned long long)verified, (unsigned long long)mismatch,
         (unsigned long long)short_read, (unsigned long long)eof, echo_s, echo_per_s);
  print_reasons("ECHO", "echo_timeout", echo_errors);
  run_hook(&opt, "echo");

  if (opt.hold_s > 0) sleep((unsigned)opt.hold_s);
  run_phase(&fleet, 'x');
  for (int i = 0; i < opt.workers; i++) waitpid(fleet.pids[i], NULL, 0);
  run_hook(&opt, "closed");

  printf(
      "RESULT n=%ld q=%d s=%d w=%d bufsz=%d established=%llu verified=%llu connect_s=%.3f "
      "connect_accept_s=%.3f conn_per_s=%.0f echo_s=%.3f echo_per_s=%.0f\n",
      opt.n, opt.workers, opt.sources, opt.in_flight, opt.bufsz, (unsigned long long)established,
      (unsigned long long)verified, connect_s, connect_accept_s, conn_per_s, echo_s, echo_per_s);
  return established == (uint64_t)opt.n && verified == (uint64_t)opt.n ? 0 : 1;
}

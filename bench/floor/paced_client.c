/* The latency floor of a paced client: opens N TCP connections to ADDR:PORT
 * at an exact rate (connection i is due at start + i/RATE, the loop sleeps to
 * the microsecond with epoll_pwait2), from S loopback source addresses
 * 127.0.2.1.. (round-robin, kernel-chosen ports per 4-tuple), and records
 * each connect's latency from its connect() call to the handshake's end. A
 * connection is closed with an RST as soon as it is established: the floor
 * holds nothing, so its figures are the kernel's and the target's alone.
 *
 * At most W connects are pending at once (as fourtuple's max_in_flight) and
 * at most 64 leave between two looks at the completions, so a client that
 * cannot keep up falls behind its schedule (late_ms_max says by how much)
 * instead of piling up sockets.
 *
 * usage: paced_client -p PORT -r RATE -n N [-a ADDR] [-s S] [-w W] [-t TIMEOUT_MS]
 * Prints one line: "paced_client: n=N rate=R established=E failed=F
 * late_ms_max=L p50_ms=.. p99_ms=.. p999_ms=.. max_ms=.." (late: how far
 * the loop fell behind the schedule at worst). */
#define _GNU_SOURCE
static const char *kProgramName = "paced_client";
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor_common.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double quantile_ms(const uint32_t *sorted, long n, double q) {
  if (n == 0) return 0;
  long i = (long)(q * (double)n);
  if (i >= n) i = n - 1;
  return sorted[i] / 1000.0;
}

int main(int argc, char **argv) {
  long port = 0, rate = 0, n = 0, sources = 8, in_flight = 4096, timeout_ms = 5000;
  const char *addr = "127.0.0.1";
  int opt;
  while ((opt = getopt(argc, argv, "p:r:n:a:s:w:t:")) != -1) {
    switch (opt) {
      case 'p':
        port = parse_number("-p", optarg, 1, 65535);
        break;
      case 'r':
        rate = parse_number("-r", optarg, 1, 10000000);
        break;
      case 'n':
        n = parse_number("-n", optarg, 1, 10000000);
        break;
      case 'a':
        addr = optarg;
        break;
      case 's':
        sources = parse_number("-s", optarg, 1, 250);
        break;
      case 'w':
        in_flight = parse_number("-w", optarg, 1, 1000000);
        break;
      case 't':
        timeout_ms = parse_number("-t", optarg, 1, 600000);
        break;
      default:
        fprintf(stderr, "usage: %s -p PORT -r RATE -n N [-a ADDR] [-s S] [-w W] [-t TIMEOUT_MS]\n",
                kProgramName);
        return 2;
    }
  }
  if (port == 0 || rate == 0 || n == 0) {
    fprintf(stderr, "%s: -p, -r and -n are required\n", kProgramName);
    return 2;
  }
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &target.sin_addr) != 1) {
    fprintf(stderr, "%s: -a expects an IPv4 address, got '%s'\n", kProgramName, addr);
    return 2;
  }
  /* Per connection: its connect() stamp (ns) while pending. Slot = fd. */
  uint64_t *stamp = calloc(1 << 20, sizeof *stamp);
  uint32_t *latency_us = malloc((size_t)n * sizeof *latency_us);
  if (stamp == NULL || latency_us == NULL) die("malloc");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");

  const uint64_t interval_ns = 1000000000u / (uint64_t)rate;
  const uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000u;
  long started = 0, established = 0, failed = 0, pending = 0;
  uint64_t late_max_ns = 0;
  const uint64_t start = now_ns();
  struct epoll_event events[256];
  while (started < n || pending > 0) {
    uint64_t now = now_ns();
    /* Every connection now due leaves, each at its own moment. */
    int batch = 0;
    while (started < n && start + (uint64_t)started * interval_ns <= now && pending < in_flight &&
           batch++ < 64) {
      uint64_t due = start + (uint64_t)started * interval_ns;
      if (now - due > late_max_ns) late_max_ns = now - due;
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0 || fd >= (1 << 20)) die("socket");
      int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      struct sockaddr_in source = {.sin_family = AF_INET};
      source.sin_addr.s_addr = htonl((127u << 24) | (2u << 8) | (uint32_t)(1 + started % sources));
      if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) die("bind");
      stamp[fd] = now_ns();
      ++started;
      if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0 && errno != EINPROGRESS) {
        ++failed;
        close(fd);
      } else {
        struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
        ++pending;
      }
      now = now_ns();
    }
    struct timespec wait = {0, 0};
    struct timespec *waitp = &wait;
    if (started < n && pending < in_flight) {
      uint64_t due = start + (uint64_t)started * interval_ns;
      uint64_t left = due > now ? due - now : 0;
      wait.tv_sec = (time_t)(left / 1000000000u);
      wait.tv_nsec = (long)(left % 1000000000u);
    } else {
      wait.tv_sec = 0;
      wait.tv_nsec = 10000000; /* draining: look for timeouts every 10 ms */
    }
    int count = epoll_pwait2(ep, events, 256, waitp, NULL);
    if (count < 0 && errno != EINTR) die("epoll_pwait2");
    uint64_t t = now_ns();
    for (int i = 0; i < count; ++i) {
      int fd = events[i].data.fd;
      int error = 0;
      socklen_t len = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error == 0) {
        latency_us[established++] = (uint32_t)((t - stamp[fd]) / 1000u);
      } else {
        ++failed;
      }
      struct linger rst = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
      close(fd);
      stamp[fd] = 0;
      --pending;
    }
    if (started == n && pending > 0 && t - start > (uint64_t)n * interval_ns + timeout_ns) {
      failed += pending; /* timed out; the process exit closes them */
      break;
    }
  }
  qsort(latency_us, (size_t)established, sizeof *latency_us, compare_u32);
  printf(
      "paced_client: n=%ld rate=%ld established=%ld failed=%ld late_ms_max=%.3f p50_ms=%.3f p99_ms=%.3f "
      "p999_ms=%.3f max_ms=%.3f\n",
      n, rate, established, failed, late_max_ns / 1e6, quantile_ms(latency_us, established, 0.50),
      quantile_ms(latency_us, established, 0.99), quantile_ms(latency_us, established, 0.999),
      established ? latency_us[established - 1] / 1000.0 : 0.0);
  return failed == 0 ? 0 : 1;
}

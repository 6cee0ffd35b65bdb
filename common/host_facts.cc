#include "common/host_facts.h"

#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/address.h"
#include "common/local_routes.h"
#include "common/posix_error.h"
#include "common/status_macros.h"

namespace fourtuple {
namespace {

// /proc and /sys files are a few bytes; anything past this is not one of them.
constexpr size_t kMaxSmallFile = 1 << 20;

template <typename Int>
absl::StatusOr<Int> ReadNumber(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  Int value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) {
    return absl::DataLossError(
        absl::StrCat(path, ": expected a number, read \"", absl::StripAsciiWhitespace(text), "\""));
  }
  return value;
}

absl::Status ReadPortRange(HostFacts* facts) {
  const std::string path = "/proc/sys/net/ipv4/ip_local_port_range";
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &facts->port_range_low) ||
      !absl::SimpleAtoi(parts[1], &facts->port_range_high)) {
    return absl::DataLossError(
        absl::StrCat(path, ": expected two port numbers, read \"", absl::StripAsciiWhitespace(text), "\""));
  }
  return absl::OkStatus();
}

absl::Status ReadMemory(HostFacts* facts) {
  const std::string path = "/proc/meminfo";
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  bool have_total = false;
  bool have_available = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    // "MemTotal:       24683620 kB"
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3 || fields[2] != "kB") continue;
    uint64_t kib = 0;
    if (!absl::SimpleAtoi(fields[1], &kib)) continue;
    if (fields[0] == "MemTotal:") {
      facts->memory_total_bytes = kib * 1024;
      have_total = true;
    } else if (fields[0] == "MemAvailable:") {
      facts->memory_available_bytes = kib * 1024;
      have_available = true;
    }
  }
  if (!have_total || !have_available) {
    return absl::DataLossError(absl::StrCat(path, ": no MemTotal or MemAvailable line"));
  }
  return absl::OkStatus();
}

// CPUs this process may run on (taskset, cgroup cpusets), not the machine's.
absl::StatusOr<uint32_t> CountCores() {
  for (int cpus = 1024;; cpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (set == nullptr) return PosixError("CPU_ALLOC", ENOMEM);
    const size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set);
    int result = sched_getaffinity(0, size, set);
    int error = errno;
    int count = result == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (result == 0) return static_cast<uint32_t>(std::max(count, 1));
    // EINVAL: the kernel's mask is larger than ours.
    if (error != EINVAL || cpus >= (1 << 22)) return PosixError("sched_getaffinity", error);
  }
}

absl::StatusOr<std::string> Hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return PosixError("gethostname", errno);
  return std::string(name);
}

absl::StatusOr<std::vector<std::string>> LocalAddresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return PosixError("getifaddrs", errno);
  std::vector<std::string> addresses;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    const int family = entry->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    std::string text = Endpoint::FromSockaddr(entry->ifa_addr).address.ToString();
    // An address on several interfaces (or an IPv6 link-local on each) once.
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
      addresses.push_back(std::move(text));
    }
  }
  freeifaddrs(list);
  return addresses;
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
  std::string contents;
  char buffer[4096];
  // /proc files report size 0: read until EOF.
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      return PosixError(absl::StrCat("read ", path), error);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > kMaxSmallFile) {
      close(fd);
      return absl::OutOfRangeError(
          absl::StrCat(path, ": larger than ", kMaxSmallFile, " bytes, not a small file"));
    }
  }
  close(fd);
  return contents;
}

absl::StatusOr<HostFacts> ReadHostFacts() {
  HostFacts facts;
  ASSIGN_OR_RETURN(facts.hostname, Hostname());
  // Only tells agents on one kernel apart from the others (the hostname
  // stands in without it), so a kernel without the file is no error.
  if (absl::StatusOr<std::string> boot_id = ReadSmallFile("/proc/sys/kernel/random/boot_id"); boot_id.ok()) {
    facts.boot_id = std::string(absl::StripAsciiWhitespace(*boot_id));
  }
  ASSIGN_OR_RETURN(facts.cores, CountCores());
  RETURN_IF_ERROR(ReadMemory(&facts));

  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return PosixError("getrlimit(RLIMIT_NOFILE)", errno);
  facts.nofile_soft = limit.rlim_cur;
  facts.nofile_hard = limit.rlim_max;

  ASSIGN_OR_RETURN(facts.nr_open, ReadNumber<uint64_t>("/proc/sys/fs/nr_open"));
  ASSIGN_OR_RETURN(facts.file_max, ReadNumber<uint64_t>("/proc/sys/fs/file-max"));
  RETURN_IF_ERROR(ReadPortRange(&facts));
  ASSIGN_OR_RETURN(facts.somaxconn, ReadNumber<uint32_t>("/proc/sys/net/core/somaxconn"));
  ASSIGN_OR_RETURN(facts.tcp_max_syn_backlog, ReadNumber<uint32_t>("/proc/sys/net/ipv4/tcp_max_syn_backlog"));

  // Conntrack exists only when the nf_conntrack module is loaded; without it
  // there is no table to fill, which is a fact, not an error.
  const std::string conntrack_max_path = "/proc/sys/net/netfilter/nf_conntrack_max";
  if (access(conntrack_max_path.c_str(), F_OK) == 0) {
    ASSIGN_OR_RETURN(facts.conntrack_max, ReadNumber<uint64_t>(conntrack_max_path));
    ASSIGN_OR_RETURN(facts.conntrack_count,
                     ReadNumber<uint64_t>("/proc/sys/net/netfilter/nf_conntrack_count"));
    facts.conntrack_present = true;
  } else if (errno != ENOENT) {
    return PosixError(absl::StrCat("access ", conntrack_max_path), errno);
  }

  ASSIGN_OR_RETURN(facts.local_addresses, LocalAddresses());
  ASSIGN_OR_RETURN(facts.local_routes, ReadLocalRoutes());
  return facts;
}

absl::StatusOr<uint64_t> RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return PosixError("getrlimit(RLIMIT_NOFILE)", errno);
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY) {
    // Linux refuses an unlimited soft limit for files; fs.nr_open is the ceiling.
    ASSIGN_OR_RETURN(uint64_t nr_open, ReadNumber<uint64_t>("/proc/sys/fs/nr_open"));
    target = nr_open;
  }
  if (limit.rlim_cur == target) return static_cast<uint64_t>(limit.rlim_cur);
  limit.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return PosixError(absl::StrCat("setrlimit(RLIMIT_NOFILE, soft=", target, ")"), errno);
  }
  return static_cast<uint64_t>(target);
}

uint64_t FdBudgetPerProcess(uint64_t nofile_soft) {
  return nofile_soft > kFdReserve ? nofile_soft - kFdReserve : 0;
}

}  // namespace fourtuple

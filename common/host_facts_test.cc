#include "common/host_facts.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Runs `body` in a forked child (it may change process-wide limits) and
// returns its exit code.
template <typename Body>
int InChild(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(HostFactsTest, Sane) {
  absl::StatusOr<HostFacts> facts = ReadHostFacts();
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_FALSE(facts->hostname.empty());
  EXPECT_EQ(facts->boot_id.size(), 36u) << facts->boot_id;  // a UUID, newline stripped
  EXPECT_GE(facts->cores, 1u);
  EXPECT_GT(facts->memory_total_bytes, 0u);
  EXPECT_GT(facts->memory_available_bytes, 0u);
  EXPECT_LE(facts->memory_available_bytes, facts->memory_total_bytes);
  EXPECT_GT(facts->nofile_soft, 0u);
  EXPECT_LE(facts->nofile_soft, facts->nofile_hard);
  EXPECT_GE(facts->nr_open, facts->nofile_hard);  // the kernel caps the hard limit there
  EXPECT_GT(facts->file_max, 0u);
  EXPECT_GT(facts->port_range_low, 0u);
  EXPECT_LT(facts->port_range_low, facts->port_range_high);
  EXPECT_LE(facts->port_range_high, 65535u);
  EXPECT_EQ(facts->EphemeralPorts(), facts->port_range_high - facts->port_range_low + 1);
  EXPECT_GT(facts->somaxconn, 0u);
  EXPECT_GT(facts->tcp_max_syn_backlog, 0u);
  EXPECT_THAT(facts->local_addresses, Contains("127.0.0.1"));
}

TEST(HostFactsTest, AgreesWithTheKernel) {
  absl::StatusOr<HostFacts> facts = ReadHostFacts();
  ASSERT_TRUE(facts.ok()) << facts.status();
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(facts->nofile_soft, limit.rlim_cur);
  EXPECT_EQ(facts->nofile_hard, limit.rlim_max);
  EXPECT_EQ(facts->memory_total_bytes,
            static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE));

  std::ifstream range_file("/proc/sys/net/ipv4/ip_local_port_range");
  uint32_t low = 0, high = 0;
  range_file >> low >> high;
  EXPECT_EQ(facts->port_range_low, low);
  EXPECT_EQ(facts->port_range_high, high);

  char hostname[256] = {};
  ASSERT_EQ(gethostname(hostname, sizeof(hostname) - 1), 0);
  EXPECT_EQ(facts->hostname, hostname);

  bool conntrack = access("/proc/sys/net/netfilter/nf_conntrack_max", F_OK) == 0;
  EXPECT_EQ(facts->conntrack_present, conntrack);
  if (conntrack) {
    EXPECT_GT(facts->conntrack_max, 0u);
  } else {
    EXPECT_EQ(facts->conntrack_max, 0u);
  }
}

TEST(HostFactsTest, LocalAddressesAreDistinctAndIncludeIPv6Loopback) {
  absl::StatusOr<HostFacts> facts = ReadHostFacts();
  ASSERT_TRUE(facts.ok()) << facts.status();
  std::vector<std::string> sorted = facts->local_addresses;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "duplicate local address";
  // /proc/net/if_inet6 lists the IPv6 addresses when IPv6 is on; lo's is ::1.
  std::ifstream inet6("/proc/net/if_inet6");
  std::string line;
  bool has_v6_loopback = false;
  while (std::getline(inet6, line)) {
    has_v6_loopback |= line.rfind("00000000000000000000000000000001", 0) == 0;
  }
  if (has_v6_loopback) {
    EXPECT_THAT(facts->local_addresses, Contains("::1"));
  }
}

TEST(HostFactsTest, CoresFollowTheAffinityMask) {
  // Pinned to one CPU, the process may use one core whatever the machine has.
  int cores = InChild([] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 100;
    int first = 0;
    while (!CPU_ISSET(first, &set)) ++first;
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) return 101;
    absl::StatusOr<HostFacts> facts = ReadHostFacts();
    return facts.ok() ? static_cast<int>(facts->cores) : 102;
  });
  EXPECT_EQ(cores, 1);
}

TEST(RaiseFdLimitTest, SoftBecomesHard) {
  // Changes the limit, so in a child: lower the soft limit, raise it back.
  int result = InChild([] {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
    if (limit.rlim_max < 200) return 11;
    const rlim_t hard = limit.rlim_max;
    limit.rlim_cur = 100;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 12;
    absl::StatusOr<uint64_t> raised = RaiseFdLimit();
    if (!raised.ok() || *raised != hard) return 13;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 14;
    if (limit.rlim_cur != hard || limit.rlim_max != hard) return 15;
    // Already at the hard limit: no change, same answer.
    raised = RaiseFdLimit();
    if (!raised.ok() || *raised != hard) return 16;
    return 0;
  });
  EXPECT_EQ(result, 0);
}

TEST(FdBudgetTest, LeavesTheReserve) {
  EXPECT_EQ(FdBudgetPerProcess(20000), 20000 - kFdReserve);
  EXPECT_EQ(FdBudgetPerProcess(kFdReserve + 1), 1u);
  EXPECT_EQ(FdBudgetPerProcess(kFdReserve), 0u);
  EXPECT_EQ(FdBudgetPerProcess(10), 0u);
  EXPECT_EQ(FdBudgetPerProcess(0), 0u);
}

TEST(ReadSmallFileTest, ReadsProcFilesWhoseSizeIsZero) {
  absl::StatusOr<std::string> text = ReadSmallFile("/proc/sys/fs/nr_open");
  ASSERT_TRUE(text.ok()) << text.status();
  uint64_t value = 0;
  EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) << *text;
  EXPECT_GT(value, 0u);
  // /proc/self/maps is longer than one read buffer on any real process.
  absl::StatusOr<std::string> maps = ReadSmallFile("/proc/self/maps");
  ASSERT_TRUE(maps.ok()) << maps.status();
  EXPECT_GT(maps->size(), 4096u);
}

TEST(ReadSmallFileTest, MissingFileNamesThePath) {
  absl::StatusOr<std::string> text = ReadSmallFile("/proc/sys/no/such/file");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(text.status().message(), HasSubstr("/proc/sys/no/such/file"));
  EXPECT_THAT(text.status().message(), HasSubstr("ENOENT"));
}

}  // namespace
}  // namespace fourtuple

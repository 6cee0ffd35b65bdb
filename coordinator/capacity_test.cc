#include "coordinator/capacity.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr uint64_t kGiB = uint64_t{1} << 30;

// This lab machine as an agent reports it: Debian defaults, 20,000 fds,
// 24 GiB, no conntrack, --processes=auto.
v1::HostFacts LabFacts() {
  v1::HostFacts facts;
  facts.set_hostname("lab2");
  facts.set_cores(2);
  facts.set_memory_total_bytes(24 * kGiB);
  facts.set_memory_available_bytes(24 * kGiB);
  facts.set_nofile_soft(20000);
  facts.set_nofile_hard(20000);
  facts.set_nr_open(1048576);
  facts.set_file_max(2466167);
  facts.set_port_range_low(32768);
  facts.set_port_range_high(60999);
  facts.set_somaxconn(4096);
  facts.set_tcp_max_syn_backlog(4096);
  facts.set_conntrack_present(false);
  for (const char* address : {"127.0.0.1", "192.168.1.20", "::1", "fe80::5054:ff:fe12:3456"}) {
    facts.add_local_addresses(address);
  }
  facts.set_processes(0);
  return facts;
}

// `count` loopback source addresses 127.0.1.1, 127.0.1.2, ...
std::vector<std::string> LoopbackSources(int count) {
  std::vector<std::string> sources;
  for (int i = 0; i < count; ++i) {
    sources.push_back(absl::StrCat("127.0.", 1 + i / 254, ".", 1 + i % 254));
  }
  return sources;
}

AgentDemand Demand(uint64_t connections, int sources, uint32_t endpoints = 1) {
  AgentDemand demand;
  demand.name = "lab2";
  demand.connections = connections;
  demand.source_addresses = LoopbackSources(sources);
  demand.target_endpoints = endpoints;
  return demand;
}

// ------------------------------------------------------------------ ports

TEST(CapacityPortsTest, IssueSentenceForOneSourceAndOneEndpoint) {
  CapacityRow row = ComputeCapacity(Demand(40000, 1), LabFacts());
  EXPECT_EQ(row.ports_per_pair, 28232u);
  EXPECT_EQ(row.port_capacity, 28232u);
  EXPECT_EQ(row.capacity, 28232u);
  EXPECT_EQ(row.binding, Limit::kPorts);
  EXPECT_FALSE(row.ok());
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: 40,000 connections to 1 endpoint from 1 source address "
                                      "need at least 2 source addresses (28,232 ports each in "
                                      "32768\xE2\x80\x93"
                                      "60999): add 1 more, or widen net.ipv4.ip_local_port_range, or add a "
                                      "target port"));
}

TEST(CapacityPortsTest, ExactlyCapacityPassesAndOneMoreFails) {
  CapacityRow at = ComputeCapacity(Demand(28232, 1), LabFacts());
  EXPECT_TRUE(at.ok()) << at.errors.front();
  EXPECT_EQ(at.binding, Limit::kPorts);
  EXPECT_EQ(at.capacity, 28232u);

  CapacityRow over = ComputeCapacity(Demand(28233, 1), LabFacts());
  ASSERT_THAT(over.errors, SizeIs(1));
  EXPECT_THAT(over.errors[0], HasSubstr("28,233 connections to 1 endpoint"));
  EXPECT_THAT(over.errors[0], HasSubstr("add 1 more"));
}

TEST(CapacityPortsTest, SeveralEndpointsMultiplyThePorts) {
  // 2 sources x 3 endpoints x 28,232 = 169,392.
  CapacityRow fits = ComputeCapacity(Demand(169392, 2, 3), LabFacts());
  EXPECT_EQ(fits.port_capacity, 169392u);
  EXPECT_TRUE(fits.ok());

  CapacityRow row = ComputeCapacity(Demand(200000, 2, 3), LabFacts());
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: 200,000 connections to 3 endpoints from 2 source "
                                      "addresses need at least 3 source addresses (28,232 ports to each "
                                      "endpoint in 32768\xE2\x80\x93"
                                      "60999): add 1 more, or widen net.ipv4.ip_local_port_range, or add a "
                                      "target port"));
}

TEST(CapacityPortsTest, NoWideningWhenNoRangeCouldHoldAPairsShare) {
  // 100,000 on one pair is more than 1024-65535 gives; 4 endpoints would do.
  CapacityRow row = ComputeCapacity(Demand(100000, 1), LabFacts());
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("need at least 4 source addresses"));
  EXPECT_THAT(row.errors[0], HasSubstr("add 3 more, or add 3 target ports"));
  EXPECT_THAT(row.errors[0], Not(HasSubstr("widen")));
}

TEST(CapacityPortsTest, FollowsTheHostsPortRange) {
  v1::HostFacts facts = LabFacts();
  facts.set_port_range_low(1024);
  facts.set_port_range_high(65535);
  CapacityRow row = ComputeCapacity(Demand(60000, 1), facts);
  EXPECT_EQ(row.ports_per_pair, 64512u);
  EXPECT_EQ(row.port_capacity, 64512u);
  EXPECT_THAT(row.errors, IsEmpty());
}

TEST(CapacityPortsTest, InvertedRangeLeavesNoPorts) {
  v1::HostFacts facts = LabFacts();
  facts.set_port_range_low(40000);
  facts.set_port_range_high(30000);
  CapacityRow row = ComputeCapacity(Demand(10, 1), facts);
  EXPECT_EQ(row.port_capacity, 0u);
  EXPECT_EQ(row.binding, Limit::kPorts);
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("leaves no ephemeral ports"));
}

TEST(CapacityPortsTest, NoSourcesOrNoEndpointsAreNamed) {
  CapacityRow no_sources = ComputeCapacity(Demand(10, 0), LabFacts());
  EXPECT_THAT(no_sources.errors, ElementsAre("agent lab2 has no source addresses: give it at least one"));
  CapacityRow no_endpoints = ComputeCapacity(Demand(10, 1, 0), LabFacts());
  EXPECT_THAT(no_endpoints.errors,
              ElementsAre("agent lab2 has no target endpoints: give the plan at least one"));
}

TEST(CapacityPortsTest, WarnsAboveHalfARangeButNotAtHalf) {
  // 14,116 is exactly half of 28,232 ports.
  CapacityRow half = ComputeCapacity(Demand(14116, 1), LabFacts());
  EXPECT_THAT(half.warnings, IsEmpty());

  CapacityRow row = ComputeCapacity(Demand(20000, 1), LabFacts());
  EXPECT_TRUE(row.ok());
  EXPECT_THAT(row.warnings, ElementsAre("agent lab2: each source address and target endpoint pair takes up "
                                        "to 20,000 of its 28,232 ports in 32768\xE2\x80\x93"
                                        "60999 (70.8%); the kernel's port search slows as a range fills: add "
                                        "source addresses or target ports (2 source addresses keep each pair "
                                        "at half)"));

  CapacityRow just_over = ComputeCapacity(Demand(14117, 1), LabFacts());
  EXPECT_THAT(just_over.warnings, SizeIs(1));
}

TEST(CapacityPortsTest, NoFillWarningWhenAlreadyOver) {
  CapacityRow row = ComputeCapacity(Demand(40000, 1), LabFacts());
  EXPECT_THAT(row.warnings, IsEmpty());
}

// -------------------------------------------------------------------- fds

TEST(CapacityFdsTest, IssueSentenceForTheAgentsProcessesFlag) {
  v1::HostFacts facts = LabFacts();
  facts.set_processes(2);  // agent --processes=2
  CapacityRow row = ComputeCapacity(Demand(50000, 2), facts);
  EXPECT_FALSE(row.processes_auto);
  EXPECT_EQ(row.processes, 2u);
  EXPECT_EQ(row.fd_budget_per_process, 19936u);
  EXPECT_EQ(row.fd_capacity, 39872u);
  EXPECT_EQ(row.capacity, 39872u);
  EXPECT_EQ(row.binding, Limit::kFds);
  EXPECT_THAT(row.errors,
              ElementsAre("agent lab2: 50,000 connections need 3 worker processes at 19,936 fds "
                          "each (RLIMIT_NOFILE 20,000): use --processes=3, or raise LimitNOFILE / "
                          "ulimit -n to 25,064"));
}

TEST(CapacityFdsTest, ExactlyCapacityPasses) {
  v1::HostFacts facts = LabFacts();
  facts.set_processes(2);
  EXPECT_TRUE(ComputeCapacity(Demand(39872, 2), facts).ok());
  EXPECT_FALSE(ComputeCapacity(Demand(39873, 2), facts).ok());
}

TEST(CapacityFdsTest, ThePlansProcessesOverrideTheFlag) {
  v1::HostFacts facts = LabFacts();
  facts.set_processes(8);  // would be plenty, but the assignment says 1
  AgentDemand demand = Demand(25000, 1);
  demand.processes = 1;
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_EQ(row.processes, 1u);
  EXPECT_EQ(row.fd_capacity, 19936u);
  EXPECT_EQ(row.binding, Limit::kFds);
  EXPECT_THAT(row.errors,
              ElementsAre("agent lab2: 25,000 connections need 2 worker processes at 19,936 fds "
                          "each (RLIMIT_NOFILE 20,000): set \"processes\": 2 in the plan, or raise "
                          "LimitNOFILE / ulimit -n to 25,064"));
}

TEST(CapacityFdsTest, AutoProcessesAreBoundOnlyByFileMax) {
  CapacityRow row = ComputeCapacity(Demand(50000, 2), LabFacts());
  EXPECT_TRUE(row.processes_auto);
  EXPECT_EQ(row.processes, 3u);  // ceil(50,000 / 19,936), above the 2 cores
  EXPECT_EQ(row.fd_capacity, 2466167u - 3 * 64);
  EXPECT_TRUE(row.fd_capacity_by_file_max);
  EXPECT_THAT(row.errors, IsEmpty());
  // Ports bind at 2 x 28,232.
  EXPECT_EQ(row.binding, Limit::kPorts);
  EXPECT_EQ(row.capacity, 56464u);
}

TEST(CapacityFdsTest, AutoStartsAtLeastOneProcessPerCoreButNoMoreThanConnections) {
  v1::HostFacts facts = LabFacts();
  facts.set_cores(8);
  EXPECT_EQ(ComputeCapacity(Demand(1000, 1), facts).processes, 8u);
  EXPECT_EQ(ComputeCapacity(Demand(5, 1), facts).processes, 5u);
}

TEST(CapacityFdsTest, AutoOverFileMaxSaysTheValueToSet) {
  v1::HostFacts facts = LabFacts();
  facts.set_file_max(100000);
  CapacityRow row = ComputeCapacity(Demand(150000, 6), facts);
  EXPECT_EQ(row.processes, 8u);
  EXPECT_EQ(row.fd_capacity, 100000u - 8 * 64);
  EXPECT_EQ(row.binding, Limit::kFds);
  EXPECT_THAT(row.errors,
              ElementsAre("agent lab2: 150,000 connections need about 150,512 open files on host "
                          "lab2 but fs.file-max is 100,000: raise fs.file-max to at least 150,512 "
                          "(sysctl -w fs.file-max=150512)"));
}

TEST(CapacityFdsTest, FixedProcessesAreAlsoBoundByFileMax) {
  v1::HostFacts facts = LabFacts();
  facts.set_processes(4);
  facts.set_file_max(30000);
  CapacityRow row = ComputeCapacity(Demand(50000, 2), facts);
  EXPECT_EQ(row.fd_capacity, 30000u - 4 * 64);
  EXPECT_TRUE(row.fd_capacity_by_file_max);
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("raise fs.file-max to at least 50,256"));
}

TEST(CapacityFdsTest, ALimitBelowTheReserveLeavesNothing) {
  v1::HostFacts facts = LabFacts();
  facts.set_nofile_soft(64);
  facts.set_processes(2);
  CapacityRow row = ComputeCapacity(Demand(1000, 1), facts);
  EXPECT_EQ(row.fd_budget_per_process, 0u);
  EXPECT_EQ(row.capacity, 0u);
  EXPECT_EQ(row.binding, Limit::kFds);
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: RLIMIT_NOFILE 64 leaves no fds for connections (64 per "
                                      "process are reserved): raise LimitNOFILE / ulimit -n to 564"));
}

TEST(CapacityFdsTest, PastTheAgentsProcessCapRaisingTheLimitIsTheFix) {
  v1::HostFacts facts = LabFacts();
  facts.set_nofile_soft(1024);
  facts.set_file_max(0);  // not reported: no system-wide bound
  CapacityRow row = ComputeCapacity(Demand(2000000, 80), facts);
  EXPECT_EQ(row.fd_capacity, 1024u * 960);
  EXPECT_FALSE(row.fd_capacity_by_file_max);
  EXPECT_EQ(row.binding, Limit::kFds);
  // ceil(2,000,000 / 1,024 processes) + 64 reserved.
  EXPECT_THAT(row.errors,
              ElementsAre("agent lab2: 2,000,000 connections need 2,084 worker processes at 960 "
                          "fds each (RLIMIT_NOFILE 1,024), more than the 1,024 an agent starts: "
                          "raise LimitNOFILE / ulimit -n to 2,018, or spread the connections over "
                          "more agents"));
}

TEST(CapacityFdsTest, ALimitAboveNrOpenNamesNrOpenToo) {
  v1::HostFacts facts = LabFacts();
  facts.set_nofile_soft(1024);
  facts.set_processes(1);
  CapacityRow row = ComputeCapacity(Demand(1500000, 60), facts);
  EXPECT_EQ(row.fd_capacity, 960u);
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: 1,500,000 connections need 1,563 worker processes at 960 "
                                      "fds each (RLIMIT_NOFILE 1,024), more than the 1,024 an agent starts: "
                                      "raise LimitNOFILE / ulimit -n to 1,500,064 (and fs.nr_open, now "
                                      "1,048,576, to at least that), or spread the connections over more "
                                      "agents"));
}

// ----------------------------------------------------------------- memory

TEST(CapacityMemoryTest, SaysHowMuchIsNeededAndHowManyFit) {
  v1::HostFacts facts = LabFacts();
  facts.set_memory_available_bytes(8200000000);
  facts.set_file_max(10000000);
  CapacityRow row = ComputeCapacity(Demand(3000000, 200), facts);
  EXPECT_EQ(row.memory_capacity, 1392452u);
  EXPECT_EQ(row.capacity, 1392452u);
  EXPECT_EQ(row.binding, Limit::kMemory);
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: 3,000,000 connections need about 14.8 GiB of memory (5.2 "
                                      "KiB each); 7.6 GiB is available on host lab2: give this agent at most "
                                      "1,392,452 connections (90% of what is available) and the rest to "
                                      "other agents, or free memory"));
}

TEST(CapacityMemoryTest, TwentyFourGibFitsMillionsAndTheBoundaryPasses) {
  v1::HostFacts facts = LabFacts();
  facts.set_file_max(10000000);
  // 24 GiB x 0.9 / 5,300 B = 4,376,004.
  CapacityRow row = ComputeCapacity(Demand(4376004, 200), facts);
  EXPECT_EQ(row.memory_capacity, 4376004u);
  EXPECT_TRUE(row.ok());
  EXPECT_EQ(row.binding, Limit::kMemory);
  EXPECT_FALSE(ComputeCapacity(Demand(4376005, 200), facts).ok());
}

TEST(CapacityMemoryTest, LoopbackDoublesTheCostPerConnection) {
  v1::HostFacts facts = LabFacts();
  facts.set_memory_available_bytes(8200000000);
  facts.set_file_max(10000000);
  AgentDemand demand = Demand(1000000, 40);
  demand.memory_bytes_per_connection = 2 * kAgentBytesPerConnection;
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_EQ(row.memory_capacity, 696226u);
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("need about 9.9 GiB of memory (10.4 KiB each)"));
}

// Two agents on one host share its memory: each fits alone, together they
// do not; the host's first agent says so once, naming both.
TEST(CapacityMemoryTest, AgentsOnOneHostShareItsMemory) {
  v1::HostFacts facts = LabFacts();
  facts.set_memory_available_bytes(8200000000);
  facts.set_file_max(10000000);
  AgentDemand first = Demand(1000000, 200);
  first.name = "127.0.0.1:7001";
  first.host_agents = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"127.0.0.1:7001", "127.0.0.1:7002"});
  first.host_connections = 2000000;
  AgentDemand second = first;
  second.name = "127.0.0.1:7002";
  CapacityRow row = ComputeCapacity(first, facts);
  EXPECT_EQ(row.memory_capacity, 1392452u);
  EXPECT_THAT(row.errors, ElementsAre("host lab2: its 2 agents (127.0.0.1:7001, 127.0.0.1:7002) hold "
                                      "2,000,000 connections between them, which need about 9.9 GiB of "
                                      "memory (5.2 KiB each); 7.6 GiB is available: give them at most "
                                      "1,392,452 together (90% of what is available) and the rest to "
                                      "agents on other hosts, or free memory"));
  EXPECT_THAT(ComputeCapacity(second, facts).errors, IsEmpty());
  // Within the host's memory together: no error from either.
  first.host_connections = second.host_connections = 1300000;
  EXPECT_THAT(ComputeCapacity(first, facts).errors, IsEmpty());
  EXPECT_THAT(ComputeCapacity(second, facts).errors, IsEmpty());
}

// Agents on one kernel share its memory whatever hostname each reports
// (--host-label): the boot id says which host an agent is on. Agents on
// another kernel, or not probed, share nothing with them.
TEST(CapacityMemoryTest, AgentsWithDifferentLabelsOnOneKernelShareItsMemory) {
  v1::HostFacts a = LabFacts(), b = LabFacts(), other = LabFacts();
  for (v1::HostFacts* facts : {&a, &b, &other}) {
    facts->set_memory_available_bytes(8200000000);
    facts->set_file_max(10000000);
  }
  a.set_hostname("lab-a");
  a.set_boot_id("8a3f0c1e-2d4b-4c6e-9f10-111111111111");
  b.set_hostname("lab-b");
  b.set_boot_id(a.boot_id());
  other.set_hostname("lab-a");  // the same name on another machine
  other.set_boot_id("0b1c2d3e-4f50-4617-8293-222222222222");
  std::vector<AgentDemand> demands(4, Demand(1000000, 200));
  for (size_t i = 0; i < demands.size(); ++i) demands[i].name = absl::StrCat("127.0.0.1:700", i + 1);
  GroupDemandsByHost({&a, &other, &b, nullptr}, demands);

  EXPECT_THAT(*demands[0].host_agents, ElementsAre("127.0.0.1:7001", "127.0.0.1:7003"));
  EXPECT_EQ(demands[0].host_connections, 2000000u);
  EXPECT_THAT(*demands[0].host_names, ElementsAre("lab-a", "lab-b"));
  EXPECT_EQ(*demands[2].host_agents, *demands[0].host_agents);
  EXPECT_THAT(*demands[1].host_agents, ElementsAre("127.0.0.1:7002"));
  EXPECT_EQ(demands[1].host_connections, 1000000u);
  EXPECT_EQ(demands[3].host_agents, nullptr);

  EXPECT_THAT(
      ComputeCapacity(demands[0], a).errors,
      ElementsAre("host lab-a (one kernel, also reported as lab-b): its 2 agents (127.0.0.1:7001, "
                  "127.0.0.1:7003) hold 2,000,000 connections between them, which need about 9.9 GiB "
                  "of memory (5.2 KiB each); 7.6 GiB is available: give them at most 1,392,452 together "
                  "(90% of what is available) and the rest to agents on other hosts, or free memory"));
  EXPECT_THAT(ComputeCapacity(demands[2], b).errors, IsEmpty());      // said once, by the first
  EXPECT_THAT(ComputeCapacity(demands[1], other).errors, IsEmpty());  // alone on its kernel
}

// A thousand agents on one host (one kernel, one label): one shared list,
// the connections summed, and the memory error names ten and counts the rest.
TEST(CapacityMemoryTest, AThousandAgentsOnOneHostShareOneListAndOneSentence) {
  v1::HostFacts facts = LabFacts();
  facts.set_memory_available_bytes(1000000000);
  facts.set_file_max(100000000);
  std::vector<AgentDemand> demands(1000, Demand(1000, 1));
  for (size_t i = 0; i < demands.size(); ++i) demands[i].name = absl::StrCat("127.0.0.1:", 10000 + i);
  GroupDemandsByHost(std::vector<const v1::HostFacts*>(demands.size(), &facts), demands);
  EXPECT_EQ(demands[999].host_connections, 1000000u);
  EXPECT_EQ(demands[0].host_agents.get(), demands[999].host_agents.get());  // shared, not copied
  ASSERT_EQ(demands[0].host_agents->size(), 1000u);
  const std::vector<std::string> errors = ComputeCapacity(demands[0], facts).errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("its 1,000 agents (127.0.0.1:10000, 127.0.0.1:10001, "));
  EXPECT_THAT(errors[0], HasSubstr("127.0.0.1:10009 and 990 more) hold 1,000,000 connections"));
  for (size_t i = 1; i < demands.size(); ++i) {
    ASSERT_THAT(ComputeCapacity(demands[i], facts).errors, IsEmpty()) << i;  // said once
  }
}

// An agent that sends no boot id (an older agent) is placed by its hostname.
TEST(CapacityMemoryTest, WithoutABootIdTheHostnameSaysWhichHost) {
  v1::HostFacts a = LabFacts(), b = LabFacts(), c = LabFacts();
  c.set_hostname("lab3");
  EXPECT_EQ(HostKey(a), HostKey(b));
  EXPECT_NE(HostKey(a), HostKey(c));
  b.set_boot_id("8a3f0c1e-2d4b-4c6e-9f10-111111111111");
  EXPECT_NE(HostKey(a), HostKey(b));  // one says which kernel, the other does not
  std::vector<AgentDemand> demands(3, Demand(10, 1));
  demands[0].name = "x:1";
  demands[1].name = "x:2";
  demands[2].name = "x:3";
  GroupDemandsByHost({&a, &c, &a}, demands);
  EXPECT_THAT(*demands[0].host_agents, ElementsAre("x:1", "x:3"));
  EXPECT_THAT(*demands[0].host_names, ElementsAre("lab2"));
  EXPECT_THAT(*demands[1].host_agents, ElementsAre("x:2"));
}

TEST(CapacityMemoryTest, ANonPositiveCostFallsBackToTheDefault) {
  AgentDemand demand = Demand(10, 1);
  demand.memory_bytes_per_connection = 0;
  EXPECT_EQ(ComputeCapacity(demand, LabFacts()).memory_capacity, 4376004u);
}

// -------------------------------------------------------------- conntrack

TEST(CapacityConntrackTest, AbsentTableIsNoLimit) {
  CapacityRow row = ComputeCapacity(Demand(10, 1), LabFacts());
  EXPECT_EQ(row.conntrack_capacity, std::numeric_limits<uint64_t>::max());
}

// Loaded but tracking nothing, not even the probe's own connection: the
// agent's namespace is not tracked, so the table is no limit.
TEST(CapacityConntrackTest, AnEmptyTableTracksNothingAndIsNoLimit) {
  v1::HostFacts facts = LabFacts();
  facts.set_conntrack_present(true);
  facts.set_conntrack_max(1000);
  facts.set_conntrack_count(0);
  CapacityRow row = ComputeCapacity(Demand(50000, 2), facts);
  EXPECT_EQ(row.conntrack_capacity, std::numeric_limits<uint64_t>::max());
  EXPECT_THAT(row.errors, IsEmpty());
}

TEST(CapacityConntrackTest, SmallTableNamesTheSysctlAndValue) {
  v1::HostFacts facts = LabFacts();
  facts.set_conntrack_present(true);
  facts.set_conntrack_max(262144);
  facts.set_conntrack_count(1000);
  CapacityRow row = ComputeCapacity(Demand(300000, 11), facts);
  EXPECT_EQ(row.conntrack_capacity, 261144u);
  EXPECT_EQ(row.capacity, 261144u);
  EXPECT_EQ(row.binding, Limit::kConntrack);
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: 300,000 connections need 300,000 conntrack entries but "
                                      "host lab2 has 261,144 free (net.netfilter.nf_conntrack_max 262,144, "
                                      "1,000 in use): raise net.netfilter.nf_conntrack_max to at least "
                                      "301,000 (sysctl -w net.netfilter.nf_conntrack_max=301000)"));
  EXPECT_TRUE(ComputeCapacity(Demand(261144, 11), facts).ok());
}

TEST(CapacityConntrackTest, AnOverfullTableHasNoRoom) {
  v1::HostFacts facts = LabFacts();
  facts.set_conntrack_present(true);
  facts.set_conntrack_max(1000);
  facts.set_conntrack_count(1200);
  CapacityRow row = ComputeCapacity(Demand(1, 1), facts);
  EXPECT_EQ(row.conntrack_capacity, 0u);
  EXPECT_EQ(row.binding, Limit::kConntrack);
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("1 connection needs 1 conntrack entry"));
  EXPECT_THAT(row.errors[0], HasSubstr("to at least 1,201"));
}

// ---------------------------------------------------------------- sources

TEST(CapacitySourcesTest, NamesASourceTheHostDoesNotHave) {
  AgentDemand demand = Demand(100, 0);
  demand.source_addresses = {"127.0.1.1", "10.9.9.9", "192.168.1.20"};
  CapacityRow row = ComputeCapacity(demand, LabFacts());
  EXPECT_THAT(row.non_local_sources, ElementsAre("10.9.9.9"));
  EXPECT_EQ(row.binding, Limit::kNonLocalSource);
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: source address 10.9.9.9 is not an address of host lab2: "
                                      "add it (deploy/host/sources.sh add IFACE 10.9.9.9/32) or remove it "
                                      "from the plan"));
}

TEST(CapacitySourcesTest, AllOf127IsLocalOnlyWhen127001IsListed) {
  AgentDemand demand = Demand(100, 0);
  demand.source_addresses = {"127.0.0.1", "127.200.3.4", "127.255.255.254"};
  EXPECT_TRUE(ComputeCapacity(demand, LabFacts()).ok());

  v1::HostFacts facts = LabFacts();
  facts.clear_local_addresses();
  facts.add_local_addresses("127.0.0.2");  // an odd host: lo with only this alias
  facts.add_local_addresses("192.168.1.20");
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_THAT(row.non_local_sources, ElementsAre("127.0.0.1", "127.200.3.4", "127.255.255.254"));
}

// A prefix is local inside one of the host's local routes, whatever its size;
// without one, the error names the route that makes it local. Its addresses
// count as sources (ports: 2^16 sources x 1 endpoint x the range).
TEST(CapacitySourcesTest, PrefixesNeedALocalRoute) {
  AgentDemand demand = Demand(1000000, 0);
  demand.source_addresses = {"198.18.0.0/16", "2001:db8:7::/64"};
  v1::HostFacts facts = LabFacts();
  facts.add_local_routes("198.18.0.0/15");
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_THAT(row.non_local_sources, ElementsAre("2001:db8:7::/64"));
  EXPECT_THAT(row.errors, ElementsAre("agent lab2: source prefix 2001:db8:7::/64 is inside no local route of "
                                      "host lab2: make the prefix local (deploy/host/sources.sh anyip add lo "
                                      "2001:db8:7::/64, or ip -6 route add local 2001:db8:7::/64 dev lo) or "
                                      "remove it from the plan"));
  facts.add_local_routes("2001:db8:7::/64");
  row = ComputeCapacity(demand, facts);
  EXPECT_TRUE(row.non_local_sources.empty());
  EXPECT_EQ(row.sources, UINT64_MAX);  // 2^16 + 2^64, saturated
}

TEST(CapacitySourcesTest, ListsFiveThenCountsTheRest) {
  AgentDemand demand = Demand(100, 0);
  for (int i = 1; i <= 8; ++i) demand.source_addresses.push_back(absl::StrCat("10.9.9.", i));
  CapacityRow row = ComputeCapacity(demand, LabFacts());
  EXPECT_THAT(row.non_local_sources, SizeIs(8));
  ASSERT_THAT(row.errors, SizeIs(6));
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(row.errors[i], HasSubstr(absl::StrCat("source address 10.9.9.", i + 1, " is")));
  }
  EXPECT_EQ(row.errors[5],
            "agent lab2: and 3 more source addresses are not on host lab2 either: add them or "
            "remove them from the plan");
}

TEST(CapacitySourcesTest, IPv6SourcesCompareByValue) {
  v1::HostFacts facts = LabFacts();
  facts.add_local_addresses("2001:db8::20");
  AgentDemand demand = Demand(60000, 0);
  // The same address written out in full is local; ::2 is not on lo.
  demand.source_addresses = {"::1", "2001:db8:0:0:0:0:0:20", "2001:db8::99", "::2"};
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_THAT(row.non_local_sources, ElementsAre("2001:db8::99", "::2"));
  ASSERT_THAT(row.errors, SizeIs(2));
  EXPECT_EQ(row.errors[0],
            "agent lab2: source address 2001:db8::99 is not an address of host lab2: add it "
            "(deploy/host/sources.sh add IFACE 2001:db8::99/128) or remove it from the plan");
  // IPv6 uses the same ephemeral range: 4 x 28,232.
  EXPECT_EQ(row.port_capacity, 112928u);
}

TEST(CapacitySourcesTest, IPv6PortsAloneFollowTheSameRule) {
  AgentDemand demand = Demand(40000, 0);
  demand.source_addresses = {"::1"};
  CapacityRow row = ComputeCapacity(demand, LabFacts());
  EXPECT_EQ(row.binding, Limit::kPorts);
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("from 1 source address need at least 2 source addresses"));
}

TEST(CapacitySourcesTest, UnreportedLocalAddressesAreAWarningNotAnError) {
  v1::HostFacts facts = LabFacts();
  facts.clear_local_addresses();
  AgentDemand demand = Demand(100, 0);
  demand.source_addresses = {"10.9.9.9"};
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_TRUE(row.ok());
  EXPECT_THAT(row.non_local_sources, IsEmpty());
  EXPECT_NE(row.binding, Limit::kNonLocalSource);
  EXPECT_THAT(row.warnings, ElementsAre("agent lab2: host lab2 reported no local addresses, so its source "
                                        "addresses were not checked"));
}

TEST(CapacitySourcesTest, AHostWithoutANameIsNamedByTheAgent) {
  v1::HostFacts facts = LabFacts();
  facts.clear_hostname();
  AgentDemand demand = Demand(100, 0);
  demand.name = "10.0.0.2:7000";
  demand.source_addresses = {"10.9.9.9"};
  CapacityRow row = ComputeCapacity(demand, facts);
  ASSERT_THAT(row.errors, SizeIs(1));
  EXPECT_THAT(row.errors[0], HasSubstr("is not an address of host 10.0.0.2:7000:"));
}

// --------------------------------------------------------------- backlogs

TEST(CapacityBacklogTest, WarnsWhenSomaxconnIsBelowTheBurstAndSaysWhere) {
  v1::HostFacts facts = LabFacts();
  facts.set_somaxconn(128);
  facts.set_tcp_max_syn_backlog(512);  // SYN cookies cover the SYN queue: no word about it
  AgentDemand demand = Demand(1000, 1);
  demand.connect_burst = 1024;
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_TRUE(row.ok());
  EXPECT_THAT(row.warnings,
              ElementsAre("agent lab2: net.core.somaxconn is 128 on host lab2, where the target listens, "
                          "below this agent's max_in_flight of 1,024: if the target accepts slowly its "
                          "accept queue overflows and connects wait for SYN retransmits (1 s, 3 s, ...); "
                          "raise it (sysctl -w net.core.somaxconn=1024) and the target's listen backlog, "
                          "or lower max_in_flight"));
}

TEST(CapacityBacklogTest, NoWarningAtTheBurstOrWithoutOne) {
  v1::HostFacts facts = LabFacts();
  facts.set_somaxconn(1024);
  facts.set_tcp_max_syn_backlog(1024);
  AgentDemand demand = Demand(1000, 1);
  demand.connect_burst = 1024;
  EXPECT_THAT(ComputeCapacity(demand, facts).warnings, IsEmpty());
  demand.connect_burst = 0;
  facts.set_somaxconn(0);
  EXPECT_THAT(ComputeCapacity(demand, facts).warnings, IsEmpty());
}

// --------------------------------------------------------- several limits

TEST(CapacityTest, EveryExceededLimitHasItsErrorAndTheSmallestBinds) {
  v1::HostFacts facts = LabFacts();
  facts.set_processes(1);
  facts.set_conntrack_present(true);
  facts.set_conntrack_max(30000);
  facts.set_conntrack_count(1);
  AgentDemand demand = Demand(40000, 1);
  demand.source_addresses.push_back("10.9.9.9");  // 2 sources: ports fit
  CapacityRow row = ComputeCapacity(demand, facts);
  EXPECT_EQ(row.port_capacity, 56464u);
  // fds 19,936 < conntrack 30,000.
  EXPECT_EQ(row.capacity, 19936u);
  // A missing source outranks the counts: the plan cannot run as written.
  EXPECT_EQ(row.binding, Limit::kNonLocalSource);
  ASSERT_THAT(row.errors, SizeIs(3));
  EXPECT_THAT(row.errors[0], HasSubstr("source address 10.9.9.9"));
  EXPECT_THAT(row.errors[1], HasSubstr("use --processes=3"));
  EXPECT_THAT(row.errors[2], HasSubstr("nf_conntrack_max"));
}

TEST(CapacityTest, LimitNames) {
  EXPECT_EQ(LimitName(Limit::kNone), "-");
  EXPECT_EQ(LimitName(Limit::kPorts), "ports");
  EXPECT_EQ(LimitName(Limit::kFds), "fds");
  EXPECT_EQ(LimitName(Limit::kMemory), "memory");
  EXPECT_EQ(LimitName(Limit::kConntrack), "conntrack");
  EXPECT_EQ(LimitName(Limit::kNonLocalSource), "non-local source");
}

// ------------------------------------------------------------------ table

// [start, end) of each run of text separated by two or more spaces, in
// UTF-8 characters.
std::vector<std::pair<size_t, size_t>> ColumnSpans(const std::string& line) {
  std::vector<std::pair<size_t, size_t>> spans;
  size_t column = 0;
  size_t spaces = 2;
  for (size_t i = 0; i < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) == 0x80) continue;
    if (c == ' ') {
      ++spaces;
    } else {
      if (spaces >= 2) spans.push_back({column, column});
      spaces = 0;
      spans.back().second = column + 1;
    }
    ++column;
  }
  return spans;
}

TEST(CapacityTableTest, TwoRowsAligned) {
  v1::HostFacts lab1 = LabFacts();
  lab1.set_hostname("lab1");
  lab1.set_processes(2);
  lab1.set_conntrack_present(true);
  lab1.set_conntrack_max(262144);
  lab1.set_conntrack_count(12);
  AgentDemand first = Demand(40000, 1);
  first.name = "10.0.0.1:7000";
  AgentDemand second = Demand(20000, 8, 2);
  second.name = "10.0.0.2:7000";
  const std::vector<CapacityRow> rows = {ComputeCapacity(first, lab1), ComputeCapacity(second, LabFacts())};
  const std::string table = FormatCapacityTable(rows);
  EXPECT_EQ(table,
            "agent          host  processes × fds                         "
            "sources × endpoints × ports  memory                          "
            "conntrack  requested  capacity  limit\n"
            "10.0.0.1:7000  lab1  2 × 19,936 = 39,872                     "
            "1 × 1 × 28,232 = 28,232      24.0 GiB / 5.2 KiB → 4,376,004    "
            "262,132     40,000    28,232  ports (over by 11,768)\n"
            "10.0.0.2:7000  lab2  auto 2 × 19,936 → 2,466,039 (file-max)  "
            "8 × 2 × 28,232 = 451,712     24.0 GiB / 5.2 KiB → 4,376,004    "
            "      -     20,000   451,712  ports\n");

  const std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_THAT(lines, SizeIs(3));
  // The header has 9 columns; each row's text columns start where the
  // header's do and its counts (conntrack, requested, capacity) end where
  // the header's end.
  const std::vector<std::pair<size_t, size_t>> header = ColumnSpans(lines[0]);
  ASSERT_THAT(header, SizeIs(9));
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::pair<size_t, size_t>> row = ColumnSpans(lines[i]);
    ASSERT_THAT(row, SizeIs(9)) << lines[i];
    for (size_t c : {0, 1, 2, 3, 4, 8}) EXPECT_EQ(row[c].first, header[c].first) << "column " << c;
    for (size_t c : {5, 6, 7}) EXPECT_EQ(row[c].second, header[c].second) << "column " << c;
  }
}

TEST(CapacityTableTest, NoRowsIsTheHeaderAlone) {
  EXPECT_EQ(FormatCapacityTable({}),
            "agent  host  processes × fds  sources × endpoints × ports  memory  conntrack  "
            "requested  capacity  limit\n");
}

}  // namespace
}  // namespace fourtuple::coordinator

#include "coordinator/agent_discovery.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Plan ParseOrDie(const std::string& agents, uint64_t connections = 90) {
  const std::string text = R"({"target": {"endpoints": ["127.0.0.1:9000"]}, "connections": )" +
                           std::to_string(connections) + R"(, "agents": )" + agents + "}";
  absl::StatusOr<Plan> plan = ParsePlan(text);
  EXPECT_TRUE(plan.ok()) << plan.status() << "\n" << text;
  return plan.ok() ? *plan : Plan{};
}

IpAddress Address(const std::string& text) { return *ParseIpAddress(text); }

// A resolver answering from a fixed table (names missing: "not found").
Resolver Table(std::map<std::string, std::vector<std::string>> table) {
  return [table](absl::string_view name) -> absl::StatusOr<std::vector<IpAddress>> {
    auto it = table.find(std::string(name));
    if (it == table.end()) return absl::UnavailableError("Name or service not known");
    std::vector<IpAddress> out;
    for (const std::string& text : it->second) out.push_back(Address(text));
    return out;
  };
}

std::vector<std::string> Endpoints(const Plan& plan) {
  std::vector<std::string> out;
  for (const AgentPlan& agent : plan.agents) out.push_back(agent.endpoint);
  return out;
}

TEST(AgentDiscoveryTest, DnsEntryBecomesOneAgentPerAddressKeepingItsSettings) {
  Plan plan = ParseOrDie(R"([
    {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]},
    {"endpoint": "dns:///agents.lab:7000", "source_addresses": ["local:10.0.0.0/8"], "connections": 20}])");
  // Shuffled and repeated, as round-robin DNS gives them.
  absl::StatusOr<Plan> expanded =
      ExpandDnsAgents(plan, Table({{"agents.lab", {"10.0.0.9", "10.0.0.10", "10.0.0.9", "::1"}}}));
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_THAT(Endpoints(*expanded),
              ElementsAre("127.0.0.1:7001", "10.0.0.9:7000", "10.0.0.10:7000", "[::1]:7000"));
  for (size_t i = 1; i < expanded->agents.size(); ++i) {
    const AgentPlan& agent = expanded->agents[i];
    EXPECT_EQ(agent.plan_index, 1u);
    EXPECT_THAT(agent.source_specs, ElementsAre("local:10.0.0.0/8"));
    ASSERT_EQ(agent.local_source_prefixes.size(), 1u);
    EXPECT_EQ(agent.connections.value_or(0), 20u);  // per resolved agent
  }
  EXPECT_EQ(expanded->agents[0].plan_index, 0u);
}

TEST(AgentDiscoveryTest, PlanWithoutDnsIsUnchanged) {
  Plan plan = ParseOrDie(R"([{"endpoint": "localhost:7001", "source_addresses": ["127.0.1.1"]}])");
  absl::StatusOr<Plan> expanded = ExpandDnsAgents(plan, Table({}));
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_THAT(Endpoints(*expanded), ElementsAre("localhost:7001"));
}

TEST(AgentDiscoveryTest, UnresolvableNameIsUnavailableAndNamesTheField) {
  Plan plan = ParseOrDie(R"([
    {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]},
    {"endpoint": "dns:///nowhere.invalid:7000", "source_addresses": ["127.0.2.1"]}])");
  absl::StatusOr<Plan> expanded = ExpandDnsAgents(plan, Table({}));
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(expanded.status().message(), HasSubstr("plan.agents[1].endpoint"));
  EXPECT_THAT(expanded.status().message(), HasSubstr("Name or service not known"));

  absl::StatusOr<Plan> empty = ExpandDnsAgents(plan, Table({{"nowhere.invalid", {}}}));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(empty.status().message(), HasSubstr("resolves to no address"));
}

TEST(AgentDiscoveryTest, ExpandedAgentCollidingWithAnotherEntryIsRefused) {
  Plan plan = ParseOrDie(R"([
    {"endpoint": "127.0.0.1:7000", "source_addresses": ["127.0.1.1"]},
    {"endpoint": "dns:///agents.lab:7000", "source_addresses": ["127.0.2.1"]}])");
  absl::StatusOr<Plan> expanded = ExpandDnsAgents(plan, Table({{"agents.lab", {"127.0.0.1"}}}));
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(expanded.status().message(),
              HasSubstr("plan.agents[1].endpoint: agent 127.0.0.1:7000 is also plan.agents[0]"));
}

TEST(AgentDiscoveryTest, PerAgentCountsThatNoLongerFitTheTotalAreRefused) {
  Plan plan = ParseOrDie(R"([{"endpoint": "dns:///agents.lab:7000", "source_addresses": ["127.0.2.1"],
                              "connections": 60}])");
  absl::StatusOr<Plan> expanded = ExpandDnsAgents(plan, Table({{"agents.lab", {"10.0.0.1", "10.0.0.2"}}}));
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(expanded.status().message(), HasSubstr("expanded to 2 agents"));
}

// A headless Service in front of hundreds of agent pods: every record is an
// agent, in address order, with no duplicates, and the total still splits.
TEST(AgentDiscoveryTest, DnsNameWithHundredsOfRecordsBecomesHundredsOfAgents) {
  std::vector<std::string> records;
  for (int i = 599; i >= 0; --i) records.push_back(absl::StrCat("10.1.", i / 250, ".", i % 250 + 1));
  records.push_back("10.1.0.1");  // round robin repeats some
  Plan plan = ParseOrDie(
      R"([{"endpoint": "dns:///agents.lab:7000", "source_addresses": ["local:10.0.0.0/8"]}])", 600000);
  absl::StatusOr<Plan> expanded = ExpandDnsAgents(plan, Table({{"agents.lab", records}}));
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  ASSERT_EQ(expanded->agents.size(), 600u);
  EXPECT_EQ(expanded->agents.front().endpoint, "10.1.0.1:7000");
  EXPECT_EQ(expanded->agents[250].endpoint, "10.1.1.1:7000");
  EXPECT_EQ(expanded->agents.back().endpoint, "10.1.2.100:7000");
  absl::StatusOr<std::vector<AgentShare>> shares = SplitPlan(*expanded);
  ASSERT_TRUE(shares.ok()) << shares.status();
  for (const AgentShare& share : *shares) EXPECT_EQ(share.connections, 1000u);
}

TEST(AgentDiscoveryTest, SystemResolverExpandsLocalhost) {
  Plan plan = ParseOrDie(R"([{"endpoint": "dns:///localhost:7000", "source_addresses": ["127.0.2.1"]}])");
  absl::StatusOr<Plan> expanded = ExpandDnsAgents(plan);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  ASSERT_FALSE(expanded->agents.empty());
  for (const AgentPlan& agent : expanded->agents) {
    EXPECT_TRUE(agent.endpoint == "127.0.0.1:7000" || agent.endpoint == "[::1]:7000") << agent.endpoint;
  }
  absl::StatusOr<Plan> missing = ExpandDnsAgents(
      ParseOrDie(R"([{"endpoint": "dns:///no-such-host.invalid:7000", "source_addresses": ["127.0.2.1"]}])"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(missing.status().message(), HasSubstr("plan.agents[0].endpoint"));
}

v1::HostFacts Facts(const std::vector<std::string>& addresses) {
  v1::HostFacts facts;
  facts.set_hostname("node-a");
  for (const std::string& address : addresses) facts.add_local_addresses(address);
  return facts;
}

TEST(AgentDiscoveryTest, LocalSourcesPickTheHostsOwnAddressesInThePrefix) {
  Plan plan = ParseOrDie(R"([{"endpoint": "10.0.0.5:7000",
                              "source_addresses": ["10.1.0.1", "local:10.1.0.0/16", "local:10.2.0.0/24"]}])");
  AgentPlan agent = plan.agents[0];
  absl::Status status = ResolveLocalSources(
      Facts({"127.0.0.1", "10.0.0.5", "10.1.0.1", "10.1.0.2", "fe80::1%eth0", "10.2.0.7"}), &agent);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(agent.source_addresses, ElementsAre("10.1.0.1", "10.1.0.2", "10.2.0.7"));
}

TEST(AgentDiscoveryTest, LocalPrefixMatchingNothingNamesFieldHostAndAddresses) {
  Plan plan = ParseOrDie(R"([{"endpoint": "10.0.0.5:7000",
                              "source_addresses": ["10.1.0.1", "local:10.9.0.0/16"]}])");
  AgentPlan agent = plan.agents[0];
  absl::Status status = ResolveLocalSources(Facts({"127.0.0.1", "10.0.0.5"}), &agent);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("plan.agents[0].source_addresses[1]"));
  EXPECT_THAT(status.message(), HasSubstr("node-a"));
  EXPECT_THAT(status.message(), HasSubstr("10.9.0.0/16"));
  EXPECT_THAT(status.message(), HasSubstr("127.0.0.1, 10.0.0.5"));
}

}  // namespace
}  // namespace fourtuple::coordinator

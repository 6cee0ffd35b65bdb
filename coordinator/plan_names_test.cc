#include "coordinator/plan_names.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;

Plan WithAgents(const std::vector<std::string>& endpoints) {
  Plan plan;
  plan.target_endpoints = {"127.0.0.1:9000"};
  for (const std::string& endpoint : endpoints) {
    AgentPlan agent;
    agent.endpoint = endpoint;
    plan.agents.push_back(agent);
  }
  return plan;
}

TEST(PlanNamesTest, AddressesAndLocalhostPass) {
  EXPECT_TRUE(CheckPlanNamesResolve(WithAgents({"127.0.0.1:7001", "[::1]:7002", "localhost:7003"})).ok());
}

// .invalid never resolves (RFC 6761).
TEST(PlanNamesTest, NameThatDoesNotExistNamesTheField) {
  absl::Status status = CheckPlanNamesResolve(WithAgents({"127.0.0.1:7001", "no-such-agent.invalid:7000"}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("plan.agents[1].endpoint: host \"no-such-agent.invalid\" does not resolve"));

  Plan plan = WithAgents({"127.0.0.1:7001"});
  plan.target_control = "no-such-target.invalid:9001";
  EXPECT_THAT(CheckPlanNamesResolve(plan).message(),
              HasSubstr("plan.target.control: host \"no-such-target.invalid\""));
}

}  // namespace
}  // namespace fourtuple::coordinator

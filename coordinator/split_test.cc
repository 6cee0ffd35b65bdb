#include "coordinator/split.h"

#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SplitConnectionsTest, EvenSplit) {
  auto counts = SplitConnections(100, {std::nullopt, std::nullopt});
  ASSERT_TRUE(counts.ok());
  EXPECT_THAT(*counts, ElementsAre(50, 50));
}

TEST(SplitConnectionsTest, RemainderGoesOneByOneToTheFirst) {
  auto counts = SplitConnections(11, {std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(counts.ok());
  EXPECT_THAT(*counts, ElementsAre(3, 3, 3, 2));
}

TEST(SplitConnectionsTest, ExplicitCountsFirstThenTheRest) {
  auto counts = SplitConnections(100000, {std::nullopt, 30000, std::nullopt});
  ASSERT_TRUE(counts.ok());
  EXPECT_THAT(*counts, ElementsAre(35000, 30000, 35000));
}

TEST(SplitConnectionsTest, AllExplicitMustAddUp) {
  EXPECT_TRUE(SplitConnections(10, {4, 6}).ok());
  auto short_sum = SplitConnections(10, {4, 5});
  ASSERT_FALSE(short_sum.ok());
  EXPECT_THAT(short_sum.status().message(), HasSubstr("add up to 9, not connections (10)"));
}

TEST(SplitConnectionsTest, ExplicitOverTotalFails) {
  auto over = SplitConnections(10, {6, 6, std::nullopt});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.status().message(), HasSubstr("more than connections (10)"));
}

TEST(SplitConnectionsTest, EveryAgentGetsAtLeastOne) {
  auto counts = SplitConnections(2, {std::nullopt, std::nullopt, std::nullopt});
  ASSERT_FALSE(counts.ok());
  EXPECT_THAT(counts.status().message(), HasSubstr("agents[2]: gets no connection"));
}

TEST(SplitConnectionsTest, SumIsAlwaysTheTotal) {
  for (uint64_t total : {1u, 7u, 1000u, 99999u}) {
    for (size_t agents = 1; agents <= 7 && agents <= total; ++agents) {
      std::vector<std::optional<uint64_t>> explicit_counts(agents);
      auto counts = SplitConnections(total, explicit_counts);
      ASSERT_TRUE(counts.ok()) << total << " over " << agents;
      EXPECT_EQ(std::accumulate(counts->begin(), counts->end(), uint64_t{0}), total);
      const auto [min, max] = std::minmax_element(counts->begin(), counts->end());
      EXPECT_LE(*max - *min, 1u);
    }
  }
}

Plan ThreeAgentPlan(uint64_t connections, double rate, uint32_t in_flight) {
  Plan plan;
  plan.connections = connections;
  plan.connect_rate = rate;
  plan.max_in_flight = in_flight;
  plan.agents.resize(3);
  plan.agents[1].connections = connections / 2;
  return plan;
}

TEST(SplitPlanTest, RateAndInFlightFollowTheConnections) {
  auto shares = SplitPlan(ThreeAgentPlan(100000, 20000, 2048));
  ASSERT_TRUE(shares.ok());
  ASSERT_EQ(shares->size(), 3u);
  EXPECT_EQ((*shares)[0].connections, 25000u);
  EXPECT_EQ((*shares)[1].connections, 50000u);
  EXPECT_EQ((*shares)[2].connections, 25000u);
  EXPECT_DOUBLE_EQ((*shares)[0].connect_rate, 5000);
  EXPECT_DOUBLE_EQ((*shares)[1].connect_rate, 10000);
  EXPECT_EQ((*shares)[0].max_in_flight, 512u);
  EXPECT_EQ((*shares)[1].max_in_flight, 1024u);
  double rate_sum = 0;
  for (const AgentShare& share : *shares) rate_sum += share.connect_rate;
  EXPECT_DOUBLE_EQ(rate_sum, 20000);
}

TEST(SplitPlanTest, UnlimitedRateStaysUnlimitedAndInFlightIsAtLeastOne) {
  auto shares = SplitPlan(ThreeAgentPlan(1000, 0, 1));
  ASSERT_TRUE(shares.ok());
  for (const AgentShare& share : *shares) {
    EXPECT_EQ(share.connect_rate, 0);
    EXPECT_EQ(share.max_in_flight, 1u);
  }
}

}  // namespace
}  // namespace fourtuple::coordinator

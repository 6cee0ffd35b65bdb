#include "coordinator/load_model_plan.h"

#include <string>

#include "coordinator/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;

std::string PlanWith(const std::string& extra) {
  return R"({
  "target": {"endpoints": ["127.0.0.1:9000"]},
  "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}],
  "connections": 100, "connect_rate": 1000)" +
         extra + "\n}\n";
}

std::string ErrorOf(const std::string& extra) {
  absl::StatusOr<Plan> plan = ParsePlan(PlanWith(extra));
  EXPECT_FALSE(plan.ok()) << extra;
  return plan.ok() ? "" : std::string(plan.status().message());
}

TEST(LoadModelPlanTest, DefaultsAndRoundTrip) {
  absl::StatusOr<Plan> plan = ParsePlan(PlanWith(
      R"(, "close": "fin", "churn": {"rate": 500, "duration": "30s"}, "reconnect": {"max_backoff": "2s"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->load.close, CloseMode::kFin);
  ASSERT_TRUE(plan->load.churn.has_value());
  EXPECT_EQ(plan->load.churn->rate, 500);
  EXPECT_EQ(plan->load.churn->duration, absl::Seconds(30));
  ASSERT_TRUE(plan->load.reconnect.has_value());
  EXPECT_EQ(plan->load.reconnect->initial_backoff, absl::Milliseconds(100));
  EXPECT_EQ(plan->load.reconnect->max_backoff, absl::Seconds(2));
  EXPECT_TRUE(plan->load.reconnect->jitter);
  EXPECT_EQ(plan->load.reconnect->max_attempts, 0u);

  absl::StatusOr<Plan> again = ParsePlan(PlanToJson(*plan).dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(PlanToJson(*again), PlanToJson(*plan));

  absl::StatusOr<Plan> plain = ParsePlan(PlanWith(""));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->load.close, CloseMode::kRst);
  EXPECT_FALSE(plain->load.any());
}

TEST(LoadModelPlanTest, BadInputNamesTheField) {
  EXPECT_THAT(ErrorOf(R"(, "churn": {"rate": 1001, "duration": "1s"})"),
              HasSubstr("plan.churn.rate: 1001 reopens per second is more than connect_rate"));
  EXPECT_THAT(ErrorOf(R"(, "churn": {"rate": 0, "duration": "1s"})"), HasSubstr("plan.churn.rate"));
  EXPECT_THAT(ErrorOf(R"(, "churn": {"rate": 10, "duration": "0s"})"), HasSubstr("plan.churn.duration"));
  EXPECT_THAT(ErrorOf(R"(, "churn": {"rate": 10, "duration": "-1s"})"), HasSubstr("plan.churn.duration"));
  EXPECT_THAT(ErrorOf(R"(, "churn": {"rate": 10})"), HasSubstr("plan.churn.duration: missing"));
  EXPECT_THAT(ErrorOf(R"(, "reconnect": {"initial_backoff": "3s", "max_backoff": "1s"})"),
              HasSubstr("plan.reconnect.max_backoff: 1s is below initial_backoff (3s)"));
  EXPECT_THAT(ErrorOf(R"(, "reconnect": {"jitter": 1})"), HasSubstr("plan.reconnect.jitter"));
  EXPECT_THAT(ErrorOf(R"(, "reconnect": {"attempts": 1})"), HasSubstr("plan.reconnect"));
  EXPECT_THAT(ErrorOf(R"(, "close": "soft")"), HasSubstr("plan.close"));
}

TEST(LoadModelPlanTest, AssignmentCarriesTheAgentsShare) {
  LoadModelPlan plan;
  plan.close = CloseMode::kFin;
  plan.churn = ChurnPlan{1000, absl::Seconds(5)};
  plan.reconnect = ReconnectPlan{};
  v1::Assignment assignment;
  SetLoadModels(plan, 0.25, &assignment);
  EXPECT_EQ(assignment.close_mode(), v1::CLOSE_MODE_FIN);
  EXPECT_DOUBLE_EQ(assignment.churn().rate(), 250);
  EXPECT_EQ(assignment.churn().duration_ms(), 5000u);
  EXPECT_EQ(assignment.reconnect().initial_backoff_ms(), 100u);
  EXPECT_EQ(assignment.reconnect().max_backoff_ms(), 5000u);
  EXPECT_TRUE(assignment.reconnect().jitter());
}

TEST(LoadModelPlanTest, TimeWaitWarningCountsChurnPorts) {
  LoadModelPlan plan;
  EXPECT_FALSE(TimeWaitWarning(plan, "a:1", 1000, 1.0, 64000).has_value());
  plan.close = CloseMode::kFin;
  std::optional<std::string> note = TimeWaitWarning(plan, "a:1", 1000, 1.0, 64000);
  ASSERT_TRUE(note.has_value());
  EXPECT_THAT(*note, HasSubstr("TIME_WAIT"));
  plan.churn = ChurnPlan{2000, absl::Seconds(120)};  // 60 s of it in TIME_WAIT: 120,000 ports
  note = TimeWaitWarning(plan, "a:1", 1000, 1.0, 64000);
  ASSERT_TRUE(note.has_value());
  EXPECT_THAT(*note, HasSubstr("120,000"));
  EXPECT_THAT(*note, HasSubstr("EADDRNOTAVAIL"));
}

}  // namespace
}  // namespace fourtuple::coordinator

#include "agent/worker_plan.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/host_facts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSoft = 20000;

WorkerCountRequest Request(uint64_t connections, uint32_t cores) {
  WorkerCountRequest request;
  request.connections = connections;
  request.nofile_soft = kSoft;
  request.cores = cores;
  return request;
}

TEST(DecideWorkerCountTest, AutoIsAtLeastOnePerCore) {
  EXPECT_EQ(*DecideWorkerCount(Request(3000, 2)), 2);
  EXPECT_EQ(*DecideWorkerCount(Request(3000, 8)), 8);
}

TEST(DecideWorkerCountTest, AutoStaysInsideTheFdBudget) {
  const uint64_t budget = FdBudgetPerProcess(kSoft);
  ASSERT_GT(budget, 0u);
  ASSERT_LT(budget, kSoft);
  EXPECT_EQ(*DecideWorkerCount(Request(budget, 1)), 1);
  EXPECT_EQ(*DecideWorkerCount(Request(budget + 1, 1)), 2);
  EXPECT_EQ(*DecideWorkerCount(Request(30000, 1)), 2);
  const uint64_t million = 1'000'000;
  EXPECT_EQ(static_cast<uint64_t>(*DecideWorkerCount(Request(million, 2))), (million + budget - 1) / budget);
}

TEST(DecideWorkerCountTest, NeverMoreWorkersThanConnections) {
  EXPECT_EQ(*DecideWorkerCount(Request(1, 8)), 1);
  WorkerCountRequest request = Request(3, 2);
  request.flag_processes = 16;
  EXPECT_EQ(*DecideWorkerCount(request), 3);
}

TEST(DecideWorkerCountTest, AssignmentOverridesFlag) {
  WorkerCountRequest request = Request(3000, 2);
  request.flag_processes = 3;
  EXPECT_EQ(*DecideWorkerCount(request), 3);
  request.assignment_processes = 5;
  EXPECT_EQ(*DecideWorkerCount(request), 5);
}

TEST(DecideWorkerCountTest, TooFewProcessesForTheFdBudget) {
  WorkerCountRequest request = Request(30000, 2);
  request.flag_processes = 1;
  absl::StatusOr<int> count = DecideWorkerCount(request);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(count.status().message(), HasSubstr("30,000 connections need at least 2 worker processes"));
  EXPECT_THAT(count.status().message(), HasSubstr("RLIMIT_NOFILE soft 20,000"));
  EXPECT_THAT(count.status().message(), HasSubstr("--processes=2"));
  EXPECT_THAT(count.status().message(), HasSubstr("ulimit -n"));

  request.flag_processes = 0;
  request.assignment_processes = 1;
  EXPECT_EQ(DecideWorkerCount(request).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(DecideWorkerCountTest, NoBudgetAtAll) {
  WorkerCountRequest request = Request(10, 2);
  request.nofile_soft = kFdReserve;
  EXPECT_EQ(DecideWorkerCount(request).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(DecideWorkerCountTest, AutoPastTheProcessCap) {
  WorkerCountRequest request = Request(50'000'000, 2);
  request.nofile_soft = 1000;
  absl::StatusOr<int> count = DecideWorkerCount(request);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), absl::StatusCode::kResourceExhausted);
}

class SplitTest : public ::testing::TestWithParam<std::tuple<uint64_t, int, double, uint32_t>> {};

TEST_P(SplitTest, SlicesCoverEverythingAndSharesAddUp) {
  const auto [connections, workers, rate, in_flight] = GetParam();
  v1::Assignment assignment;
  assignment.set_run_id("r");
  assignment.add_targets("127.0.0.1:9000");
  assignment.set_connections(connections);
  assignment.set_connect_rate(rate);
  assignment.set_echo_rate(rate / 2);
  assignment.set_max_in_flight(in_flight);
  std::vector<v1::WorkerStart> slices = SplitIntoSlices(assignment, workers);
  ASSERT_EQ(slices.size(), static_cast<size_t>(workers));

  uint64_t next = 0, smallest = UINT64_MAX, largest = 0;
  double rate_sum = 0, echo_rate_sum = 0;
  uint32_t index = 0;
  uint64_t in_flight_sum = 0;
  for (const v1::WorkerStart& slice : slices) {
    EXPECT_EQ(slice.first_connection(), next) << "slices must be contiguous";
    next += slice.connections();
    smallest = std::min<uint64_t>(smallest, slice.connections());
    largest = std::max<uint64_t>(largest, slice.connections());
    rate_sum += slice.connect_rate();
    echo_rate_sum += slice.echo_rate();
    // Each worker knows its place, to offset its pace into the interval.
    EXPECT_EQ(slice.worker_index(), index++);
    EXPECT_EQ(slice.worker_count(), static_cast<uint32_t>(workers));
    if (rate > 0)
      EXPECT_GT(slice.connect_rate(), 0) << "0 would mean unlimited";
    else
      EXPECT_EQ(slice.connect_rate(), 0);
    EXPECT_GE(slice.max_in_flight(), 1u);
    EXPECT_LE(slice.max_in_flight(), std::max<uint64_t>(slice.connections(), 1));
    in_flight_sum += slice.max_in_flight();
    EXPECT_EQ(slice.assignment().connections(), connections) << "carries the whole assignment";
  }
  EXPECT_EQ(next, connections);
  EXPECT_LE(largest - smallest, 1u);
  EXPECT_NEAR(rate_sum, rate, rate * 1e-9);
  EXPECT_NEAR(echo_rate_sum, rate / 2, rate * 1e-9);
  EXPECT_EQ(in_flight_sum,
            std::max<uint64_t>(std::min<uint64_t>(in_flight, connections), static_cast<uint64_t>(workers)));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SplitTest,
    ::testing::Values(std::make_tuple(3000, 2, 1000.0, 64u), std::make_tuple(3001, 2, 1000.0, 65u),
                      std::make_tuple(30000, 3, 0.0, 2048u), std::make_tuple(7, 7, 7.0, 7u),
                      std::make_tuple(10, 3, 1.0, 1u), std::make_tuple(1'000'000, 51, 20000.0, 2048u),
                      std::make_tuple(1, 1, 0.5, 1u), std::make_tuple(100, 8, 33.3, 5u),
                      std::make_tuple(3001, 2, 10.0, 4'000'000'000u), std::make_tuple(10, 4, 0.0, 11u)));

}  // namespace
}  // namespace fourtuple::agent

#include "target-server/target_metrics.h"

#include <cerrno>
#include <memory>

#include "common/failure_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::target_server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TargetMetricsTest, SumsWorkersAndListsReasons) {
  auto blocks = std::make_unique<WorkerCounters[]>(2);
  WorkerCounters::Add(blocks[0].open, 3);
  WorkerCounters::Add(blocks[0].accepted, 5);
  WorkerCounters::Add(blocks[0].closed, 2);
  WorkerCounters::Add(blocks[0].bytes_echoed, 100);
  WorkerCounters::Add(blocks[1].open, 4);
  WorkerCounters::Add(blocks[1].accepted, 4);
  WorkerCounters::Add(blocks[1].accept_errors[ReasonCode(EMFILE)], 7);
  WorkerCounters::Add(blocks[1].at_capacity, 2);
  CounterSet counters({&blocks[0], &blocks[1]});
  const absl::Time start = absl::FromUnixSeconds(1000);

  std::string text = RenderTargetMetrics(counters, start, start + absl::Milliseconds(2500));
  EXPECT_THAT(text, HasSubstr("# TYPE fourtuple_target_open_connections gauge\n"
                              "fourtuple_target_open_connections 7\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_connections_accepted_total 9\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_connections_closed_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_bytes_echoed_total 100\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_accept_errors_total{reason=\"EMFILE\"} 7\n"));
  EXPECT_THAT(text, Not(HasSubstr("ECONNABORTED")));  // reasons that never happened are left out
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_worker_open_connections{worker=\"0\"} 3\n"
                              "fourtuple_target_worker_open_connections{worker=\"1\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_workers_alive 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_at_capacity_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_worker_alive{worker=\"0\"} 1\n"
                              "fourtuple_target_worker_alive{worker=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_uptime_seconds 2.5\n"));

  // A dead worker's connections were closed by the kernel.
  counters.MarkDead(1);
  text = RenderTargetMetrics(counters, start, start);
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_open_connections 3\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_connections_closed_total 6\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_worker_open_connections{worker=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_workers_alive 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_target_worker_alive{worker=\"0\"} 1\n"
                              "fourtuple_target_worker_alive{worker=\"1\"} 0\n"));
}

}  // namespace
}  // namespace fourtuple::target_server

#include "agent/report_aggregator.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "common/failure_reason.h"
#include "common/histogram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Zero-filled blocks, as WorkerPool hands them out.
class FakeWorkers {
 public:
  explicit FakeWorkers(int count) {
    for (int i = 0; i < count; ++i) blocks_.push_back(std::make_unique<AgentWorkerShared>());
    for (auto& block : blocks_) views_.push_back(block.get());
  }
  AgentWorkerShared& operator[](int i) { return *blocks_[i]; }
  const std::vector<const AgentWorkerShared*>& views() const { return views_; }
  void SetPhases(std::initializer_list<WorkerPhase> phases) {
    int i = 0;
    for (WorkerPhase phase : phases) blocks_[i++]->phase.store(static_cast<uint32_t>(phase));
  }

 private:
  std::vector<std::unique_ptr<AgentWorkerShared>> blocks_;
  std::vector<const AgentWorkerShared*> views_;
};

TEST(ReportAggregatorTest, SumsCountersFailuresSourcesAndHistograms) {
  FakeWorkers workers(2);
  workers.SetPhases({WorkerPhase::kConnected, WorkerPhase::kConnected});
  workers[0].attempted = 1500;
  workers[1].attempted = 1500;
  workers[0].established = 1490;
  workers[1].established = 1500;
  workers[0].open = 1489;
  workers[1].open = 1500;
  workers[0].failed = 10;
  workers[0].closed_by_peer = 1;
  workers[1].in_flight = 3;
  workers[0].failures[ReasonCode(ECONNREFUSED)] = 7;
  workers[0].failures[kReasonConnectTimeout] = 2;
  workers[1].failures[kReasonConnectTimeout] = 1;
  workers[0].echo_sent = 100;
  workers[1].echo_sent = 200;
  workers[0].echo_verified = 99;
  workers[1].echo_verified = 198;
  workers[0].echo_mismatched = 1;
  workers[1].echo_timed_out = 1;
  workers[1].echo_closed = 1;
  // Sources 0..2 of three; both workers use all of them (round-robin by id).
  workers[0].established_by_source[0] = 500;
  workers[0].established_by_source[1] = 495;
  workers[0].established_by_source[2] = 495;
  workers[1].established_by_source[0] = 500;
  workers[1].established_by_source[1] = 500;
  workers[1].established_by_source[2] = 500;
  workers[0].connect_latency.Record(100);
  workers[0].connect_latency.Record(200);
  workers[1].connect_latency.Record(5000);
  workers[1].echo_rtt.Record(42);

  v1::RunReport report;
  AggregateWorkers(workers.views(), {"127.0.1.1", "127.0.1.2", "127.0.1.3"}, &report);
  EXPECT_EQ(report.phase(), v1::RUN_PHASE_CONNECTED);
  EXPECT_EQ(report.attempted(), 3000u);
  EXPECT_EQ(report.established(), 2990u);
  EXPECT_EQ(report.open(), 2989u);
  EXPECT_EQ(report.failed(), 10u);
  EXPECT_EQ(report.in_flight(), 3u);
  EXPECT_EQ(report.closed_by_peer(), 1u);
  EXPECT_THAT(report.failures(), UnorderedElementsAre(Pair("ECONNREFUSED", 7u), Pair("connect_timeout", 3u)));
  EXPECT_EQ(report.echo_sent(), 300u);
  EXPECT_EQ(report.echo_verified(), 297u);
  EXPECT_EQ(report.echo_mismatched(), 1u);
  EXPECT_EQ(report.echo_timed_out(), 1u);
  EXPECT_EQ(report.echo_closed(), 1u);
  EXPECT_THAT(
      report.established_by_source(),
      UnorderedElementsAre(Pair("127.0.1.1", 1000u), Pair("127.0.1.2", 995u), Pair("127.0.1.3", 995u)));
  EXPECT_EQ(report.connect_latency().count(), 3u);
  EXPECT_EQ(report.connect_latency().max_us(), 5000u);
  EXPECT_EQ(report.connect_latency().sum_us(), 5300u);
  uint64_t bucket_total = 0;
  for (const auto& [index, count] : report.connect_latency().buckets()) bucket_total += count;
  EXPECT_EQ(bucket_total, 3u);
  EXPECT_EQ(report.echo_rtt().count(), 1u);
  EXPECT_TRUE(report.error().empty());
}

TEST(ReportAggregatorTest, EverySourceAppearsAndDuplicatesAreSummed) {
  FakeWorkers workers(1);
  workers.SetPhases({WorkerPhase::kConnected});
  workers[0].established_by_source[0] = 4;
  workers[0].established_by_source[2] = 6;
  v1::RunReport report;
  AggregateWorkers(workers.views(), {"127.0.0.1", "127.0.0.2", "127.0.0.1"}, &report);
  EXPECT_THAT(report.established_by_source(),
              UnorderedElementsAre(Pair("127.0.0.1", 10u), Pair("127.0.0.2", 0u)));
  EXPECT_TRUE(report.failures().empty());
}

TEST(ReportAggregatorTest, PhaseIsTheLeastAdvanced) {
  FakeWorkers workers(3);
  workers.SetPhases({WorkerPhase::kConnected, WorkerPhase::kConnecting, WorkerPhase::kConnected});
  EXPECT_EQ(SummarizePhases(workers.views()).phase, v1::RUN_PHASE_CONNECTING);
  workers.SetPhases({WorkerPhase::kReady, WorkerPhase::kStarting, WorkerPhase::kReady});
  EXPECT_EQ(SummarizePhases(workers.views()).phase, v1::RUN_PHASE_UNSPECIFIED);
  workers.SetPhases({WorkerPhase::kClosed, WorkerPhase::kClosing, WorkerPhase::kClosed});
  EXPECT_EQ(SummarizePhases(workers.views()).phase, v1::RUN_PHASE_CLOSING);
  workers.SetPhases({WorkerPhase::kClosed, WorkerPhase::kClosed, WorkerPhase::kClosed});
  EXPECT_EQ(SummarizePhases(workers.views()).phase, v1::RUN_PHASE_CLOSED);
}

TEST(ReportAggregatorTest, EchoingWhileAnyWorkerStillEchoes) {
  FakeWorkers workers(2);
  workers.SetPhases({WorkerPhase::kConnected, WorkerPhase::kEchoing});
  workers[0].echo_round = 1;
  workers[0].echo_rounds_done = 1;
  workers[1].echo_round = 1;
  PhaseSummary summary = SummarizePhases(workers.views());
  EXPECT_EQ(summary.phase, v1::RUN_PHASE_ECHOING);
  EXPECT_EQ(summary.echo_rounds_done, 0u);

  workers.SetPhases({WorkerPhase::kConnected, WorkerPhase::kConnected});
  workers[1].echo_rounds_done = 1;
  v1::RunReport report;
  AggregateWorkers(workers.views(), {"127.0.0.1"}, &report);
  EXPECT_EQ(report.phase(), v1::RUN_PHASE_CONNECTED);
  EXPECT_EQ(report.echo_round(), 1u);
  EXPECT_EQ(report.echo_rounds_done(), 1u);

  // Still ramping somewhere: not echoing yet, whatever the others do.
  workers.SetPhases({WorkerPhase::kConnecting, WorkerPhase::kEchoing});
  EXPECT_EQ(SummarizePhases(workers.views()).phase, v1::RUN_PHASE_CONNECTING);
}

TEST(ReportAggregatorTest, AnyFailedWorkerFailsTheRunWithItsError) {
  FakeWorkers workers(3);
  workers.SetPhases({WorkerPhase::kConnected, WorkerPhase::kFailed, WorkerPhase::kConnecting});
  std::strcpy(workers[1].error, "epoll_create1: EMFILE");
  workers[1].error_set.store(1);
  v1::RunReport report;
  AggregateWorkers(workers.views(), {"127.0.0.1"}, &report);
  EXPECT_EQ(report.phase(), v1::RUN_PHASE_FAILED);
  EXPECT_EQ(report.error(), "worker 1: epoll_create1: EMFILE");
}

TEST(ReportAggregatorTest, UnknownPhaseCountsAsFailed) {
  FakeWorkers workers(1);
  workers[0].phase.store(99);
  EXPECT_EQ(SummarizePhases(workers.views()).phase, v1::RUN_PHASE_FAILED);
}

TEST(ReportAggregatorTest, ErrorWithoutNulIsBounded) {
  FakeWorkers workers(1);
  std::memset(workers[0].error, 'x', sizeof(workers[0].error));
  workers[0].error_set.store(1);
  EXPECT_EQ(WorkerError(workers[0]).size(), sizeof(workers[0].error));
  workers[0].error_set.store(0);
  EXPECT_EQ(WorkerError(workers[0]), "");
}

}  // namespace
}  // namespace fourtuple::agent

#include "agent/report_aggregator.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "agent/worker/failure_samples.h"
#include "common/failure_reason.h"
#include "common/histogram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// The source space of an assignment with these source entries, one target
// and `connections`.
SourceSpace Space(std::initializer_list<const char*> sources, uint64_t connections) {
  v1::Assignment assignment;
  assignment.add_targets("127.0.0.1:9");
  for (const char* source : sources) assignment.add_source_addresses(source);
  assignment.set_connections(connections);
  return *SourceSpace::FromAssignment(assignment);
}

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
  // Sources 0..2 of three; both workers use all of them (round-robin by id):
  // worker 1's window starts at ordinal 1500 mod 3 = 0 too.
  for (int i = 0; i < 2; ++i) workers[i].source_window_length = 3;
  workers[0].source_counts[0].established = 500;
  workers[0].source_counts[1].established = 495;
  workers[0].source_counts[1].failed = 5;
  workers[0].source_counts[2].established = 495;
  workers[0].source_counts[2].failed = 5;
  workers[1].source_counts[0].established = 500;
  workers[1].source_counts[1].established = 500;
  workers[1].source_counts[2].established = 500;
  workers[0].connect_latency.Record(100);
  workers[0].connect_latency.Record(200);
  workers[1].connect_latency.Record(5000);
  workers[1].echo_rtt.Record(42);

  v1::RunReport report;
  SourceTally tally;
  AggregateWorkers(workers.views(), sizeof(AgentWorkerShared),
                   Space({"127.0.1.1", "127.0.1.2", "127.0.1.3"}, 3000), &tally, &report);
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
  EXPECT_THAT(report.failed_by_source(), UnorderedElementsAre(Pair("127.0.1.2", 5u), Pair("127.0.1.3", 5u)));
  EXPECT_EQ(report.source_addresses_used(), 3u);
  EXPECT_EQ(report.source_address_summary().addresses(), 3u);
  EXPECT_EQ(report.source_address_summary().min(), 995u);
  EXPECT_EQ(report.source_address_summary().median(), 995u);
  EXPECT_EQ(report.source_address_summary().max(), 1000u);
  EXPECT_EQ(report.connect_latency().count(), 3u);
  EXPECT_EQ(report.connect_latency().max_us(), 5000u);
  EXPECT_EQ(report.connect_latency().sum_us(), 5300u);
  uint64_t bucket_total = 0;
  for (const auto& [index, count] : report.connect_latency().buckets()) bucket_total += count;
  EXPECT_EQ(bucket_total, 3u);
  EXPECT_EQ(report.echo_rtt().count(), 1u);
  EXPECT_TRUE(report.error().empty());
}

// A /15 prefix, 1,000 connections, one per address: the workers' windows
// (the second wrapping past the last ordinal back to 0) fold into per
// address totals, and the report names 256 of the 1,000 addresses, the
// failing one first.
TEST(ReportAggregatorTest, PrefixWindowsFoldAndTheListIsBounded) {
  FakeWorkers workers(2);
  workers.SetPhases({WorkerPhase::kConnected, WorkerPhase::kConnected});
  workers[0].source_window_first = 0;
  workers[0].source_window_length = 500;
  workers[1].source_window_first = 500;
  workers[1].source_window_length = 600;  // 500..999, then 0..99
  for (int j = 0; j < 500; ++j) workers[0].source_counts[j].established = 1;
  for (int j = 0; j < 600; ++j) workers[1].source_counts[j].established = 1;
  workers[0].source_counts[5].established = 0;
  workers[0].source_counts[5].failed = 1;
  v1::RunReport report;
  SourceTally tally;
  AggregateWorkers(workers.views(), sizeof(AgentWorkerShared), Space({"198.18.0.0/15"}, 1000), &tally,
                   &report);
  EXPECT_EQ(report.source_addresses_used(), 1000u);
  EXPECT_EQ(report.source_address_summary().addresses(), 1000u);
  EXPECT_EQ(report.source_address_summary().min(), 1u);
  EXPECT_EQ(report.source_address_summary().median(), 1u);
  EXPECT_EQ(report.source_address_summary().max(), 2u);
  EXPECT_EQ(report.established_by_source().size(), kReportedSourceAddresses);
  EXPECT_EQ(report.established_by_source().at("198.18.0.0"), 2u);
  EXPECT_EQ(report.established_by_source().at("198.18.0.99"), 2u);
  EXPECT_EQ(report.established_by_source().at("198.18.0.5"), 1u);
  EXPECT_THAT(report.failed_by_source(), UnorderedElementsAre(Pair("198.18.0.5", 1u)));
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
  SourceTally tally;
  AggregateWorkers(workers.views(), sizeof(AgentWorkerShared), Space({"127.0.0.1"}, 1), &tally, &report);
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
  SourceTally tally;
  AggregateWorkers(workers.views(), sizeof(AgentWorkerShared), Space({"127.0.0.1"}, 1), &tally, &report);
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

// One sample per reason: the first worker's, the first reply of each, at
// most kFailureSampleBytes, bytes as they came (escaping is the reader's).
TEST(ReportAggregatorTest, FailureSamplesFirstPerReason) {
  FakeWorkers workers(2);
  const std::string denied = "-DENIED Redis is running in protected mode because protected mode is enabled";
  RecordFailureSample(workers[0], kReasonEchoMismatch, denied.data(), denied.size());
  RecordFailureSample(workers[0], kReasonEchoMismatch, "+OK\r\n", 5);  // not the first: ignored
  RecordFailureSample(workers[1], kReasonEchoMismatch, "other", 5);    // a later worker: ignored
  RecordFailureSample(workers[1], kReasonTlsNotTls, "\0\xff", 2);
  v1::RunReport report;
  SourceTally tally;
  AggregateWorkers(workers.views(), sizeof(AgentWorkerShared), Space({"127.0.0.1"}, 1), &tally, &report);
  EXPECT_THAT(report.failure_samples(),
              UnorderedElementsAre(Pair("echo_mismatch", denied.substr(0, kFailureSampleBytes)),
                                   Pair("tls_not_tls", std::string("\0\xff", 2))));
  ResetFailureSamples(workers[0]);
  ResetFailureSamples(workers[1]);
  AggregateWorkers(workers.views(), sizeof(AgentWorkerShared), Space({"127.0.0.1"}, 1), &tally, &report);
  EXPECT_TRUE(report.failure_samples().empty());
}

// More reasons than slots: the first kFailureSampleSlots keep theirs.
TEST(ReportAggregatorTest, FailureSamplesBeyondTheSlotsAreDropped) {
  FakeWorkers workers(1);
  for (int reason = 1; reason <= kFailureSampleSlots + 3; ++reason) {
    RecordFailureSample(workers[0], reason, "x", 1);
  }
  std::map<std::string, std::string> samples;
  ReadFailureSamples(workers[0], &samples);
  EXPECT_EQ(samples.size(), static_cast<size_t>(kFailureSampleSlots));
}

}  // namespace
}  // namespace fourtuple::agent

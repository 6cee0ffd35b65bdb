#include "target-server/counters.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace fourtuple::target_server {
namespace {

class CountersTest : public ::testing::Test {
 protected:
  WorkerCounters* NewBlock() {
    blocks_.push_back(std::make_unique<char[]>(sizeof(WorkerCounters)));
    std::memset(blocks_.back().get(), 0, sizeof(WorkerCounters));
    return reinterpret_cast<WorkerCounters*>(blocks_.back().get());
  }
  std::vector<std::unique_ptr<char[]>> blocks_;
};

TEST_F(CountersTest, StatsLineHasTheDocumentedKeysInOrder) {
  CounterValues values;
  values.open = 3;
  values.accepted = 5;
  values.closed = 2;
  values.bytes_echoed = 80;
  values.accept_errors[EMFILE] = 7;
  std::string line = StatsLine(values, absl::FromUnixMillis(1700000000123));
  EXPECT_EQ(line, R"({"t":1700000000.123,"open":3,"accepted":5,"closed":2,"bytes_echoed":80,)"
                  R"("accept_errors":{"EMFILE":7}})");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto final_line = nlohmann::json::parse(StatsLine(CounterValues{}, absl::Now(), true));
  EXPECT_TRUE(final_line["final"].get<bool>());
  EXPECT_TRUE(final_line["accept_errors"].is_object());
  EXPECT_TRUE(final_line["accept_errors"].empty());
}

TEST_F(CountersTest, TotalsAddWorkersAndADeadWorkersOpenCountsAsClosed) {
  WorkerCounters* a = NewBlock();
  WorkerCounters* b = NewBlock();
  WorkerCounters::Add(a->open, 10);
  WorkerCounters::Add(a->accepted, 12);
  WorkerCounters::Add(a->closed, 2);
  WorkerCounters::Add(a->bytes_echoed, 100);
  WorkerCounters::Add(b->open, 5);
  WorkerCounters::Add(b->accepted, 5);
  WorkerCounters::Add(b->accept_errors[ENFILE], 1);
  WorkerCounters::Sub(b->open, 1);
  WorkerCounters::Add(b->closed, 1);
  CounterSet set({a, b});

  CounterValues total = set.Total();
  EXPECT_EQ(total.open, 14u);
  EXPECT_EQ(total.accepted, 17u);
  EXPECT_EQ(total.closed, 3u);
  EXPECT_EQ(total.bytes_echoed, 100u);
  EXPECT_EQ(total.accept_errors[ENFILE], 1u);

  set.MarkDead(0);
  EXPECT_FALSE(set.alive(0));
  total = set.Total();
  EXPECT_EQ(total.open, 4u);
  EXPECT_EQ(total.closed, 13u);
  EXPECT_EQ(total.accepted, 17u);
}

TEST_F(CountersTest, TargetStatsCarryTotalWorkersListenAndUptime) {
  WorkerCounters* a = NewBlock();
  WorkerCounters* b = NewBlock();
  WorkerCounters::Add(a->open, 2);
  WorkerCounters::Add(b->open, 3);
  WorkerCounters::Add(b->accept_errors[EMFILE], 4);
  CounterSet set({a, b});
  v1::TargetStats stats;
  FillTargetStats(set, {"127.0.0.1:1", "127.0.0.1:2"}, absl::Seconds(1.5), &stats);
  EXPECT_EQ(stats.total().open(), 5u);
  ASSERT_EQ(stats.workers_size(), 2);
  EXPECT_EQ(stats.workers(0).open(), 2u);
  EXPECT_EQ(stats.workers(1).open(), 3u);
  EXPECT_EQ(stats.workers(1).accept_errors().at("EMFILE"), 4u);
  EXPECT_EQ(stats.total().accept_errors().at("EMFILE"), 4u);
  EXPECT_EQ(stats.workers(0).accept_errors_size(), 0);
  ASSERT_EQ(stats.listen_size(), 2);
  EXPECT_EQ(stats.listen(1), "127.0.0.1:2");
  EXPECT_DOUBLE_EQ(stats.uptime_seconds(), 1.5);
}

}  // namespace
}  // namespace fourtuple::target_server

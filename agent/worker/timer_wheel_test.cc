#include "agent/worker/timer_wheel.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

struct Node {
  uint32_t timer_next;
  uint32_t timer_prev;
  uint32_t deadline_tick;
};

class TimerWheelTest : public ::testing::Test {
 protected:
  TimerWheelTest() : nodes_(64), wheel_(8) {
    for (Node& n : nodes_) TimerWheel<Node>::MarkUnscheduled(n);
    wheel_.Reset(nodes_.data(), 100);
  }
  std::vector<uint32_t> AdvanceTo(uint32_t tick) {
    std::vector<uint32_t> expired;
    wheel_.Advance(tick, [&](uint32_t slot) { expired.push_back(slot); });
    std::sort(expired.begin(), expired.end());
    return expired;
  }

  std::vector<Node> nodes_;
  TimerWheel<Node> wheel_;  // 8 buckets: deadlines past 8 ticks wrap around
};

TEST_F(TimerWheelTest, ExpiresAtTheDeadlineNotBefore) {
  wheel_.Schedule(1, 103);
  wheel_.Schedule(2, 105);
  EXPECT_EQ(wheel_.size(), 2u);
  EXPECT_TRUE(AdvanceTo(102).empty());
  EXPECT_EQ(AdvanceTo(103), std::vector<uint32_t>{1});
  EXPECT_FALSE(TimerWheel<Node>::IsScheduled(nodes_[1]));
  EXPECT_EQ(AdvanceTo(110), std::vector<uint32_t>{2});
  EXPECT_TRUE(wheel_.empty());
}

TEST_F(TimerWheelTest, DeadlinesBeyondOneRevolutionWait) {
  wheel_.Schedule(3, 101);
  wheel_.Schedule(4, 109);  // same bucket as 101, next revolution
  wheel_.Schedule(5, 125);  // three revolutions ahead
  EXPECT_EQ(AdvanceTo(101), std::vector<uint32_t>{3});
  EXPECT_TRUE(AdvanceTo(108).empty());
  EXPECT_EQ(AdvanceTo(109), std::vector<uint32_t>{4});
  EXPECT_TRUE(AdvanceTo(124).empty());
  EXPECT_EQ(AdvanceTo(125), std::vector<uint32_t>{5});
}

TEST_F(TimerWheelTest, AJumpOfManyTicksExpiresEverythingDue) {
  for (uint32_t i = 0; i < 20; ++i) wheel_.Schedule(i, 101 + i * 3);  // up to 158
  EXPECT_EQ(AdvanceTo(1000).size(), 20u);
  EXPECT_TRUE(wheel_.empty());
}

TEST_F(TimerWheelTest, CancelUnlinksFromAnyPosition) {
  // Same bucket: head, middle and tail of one list.
  for (uint32_t i = 10; i < 14; ++i) wheel_.Schedule(i, 102);
  wheel_.Cancel(13);  // head (last scheduled)
  wheel_.Cancel(11);  // middle
  wheel_.Cancel(10);  // tail
  wheel_.Cancel(10);  // twice is harmless
  EXPECT_EQ(wheel_.size(), 1u);
  EXPECT_EQ(AdvanceTo(102), std::vector<uint32_t>{12});
}

TEST_F(TimerWheelTest, RescheduleMovesTheDeadline) {
  wheel_.Schedule(7, 102);
  wheel_.Schedule(7, 106);
  EXPECT_EQ(wheel_.size(), 1u);
  EXPECT_TRUE(AdvanceTo(105).empty());
  EXPECT_EQ(AdvanceTo(106), std::vector<uint32_t>{7});
}

TEST_F(TimerWheelTest, APastDeadlineExpiresAtTheNextAdvance) {
  AdvanceTo(200);
  wheel_.Schedule(8, 150);
  EXPECT_EQ(AdvanceTo(201), std::vector<uint32_t>{8});
}

TEST_F(TimerWheelTest, ExpireMayRescheduleItsOwnSlot) {
  wheel_.Schedule(9, 101);
  wheel_.Schedule(20, 101);
  int calls = 0;
  wheel_.Advance(101, [&](uint32_t slot) {
    ++calls;
    if (slot == 9) wheel_.Schedule(9, 104);
  });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(AdvanceTo(104), std::vector<uint32_t>{9});
}

TEST(TimerWheelWrapTest, TicksWrapAround32Bits) {
  std::vector<Node> nodes(4);
  for (Node& n : nodes) TimerWheel<Node>::MarkUnscheduled(n);
  TimerWheel<Node> wheel(16);
  wheel.Reset(nodes.data(), UINT32_MAX - 2);
  wheel.Schedule(0, 3);  // six ticks later, past the wrap
  std::vector<uint32_t> expired;
  wheel.Advance(1, [&](uint32_t slot) { expired.push_back(slot); });
  EXPECT_TRUE(expired.empty());
  wheel.Advance(3, [&](uint32_t slot) { expired.push_back(slot); });
  EXPECT_EQ(expired, std::vector<uint32_t>{0});
}

TEST_F(TimerWheelTest, EarliestDueTickIsTheNextDeadline) {
  wheel_.Schedule(1, 106);
  EXPECT_EQ(wheel_.EarliestDueTick(), 106u);
  wheel_.Schedule(2, 103);
  EXPECT_EQ(wheel_.EarliestDueTick(), 103u);
  wheel_.Schedule(3, 120);  // two revolutions of 8 ahead
  EXPECT_EQ(wheel_.EarliestDueTick(), 103u);
  EXPECT_EQ(AdvanceTo(103), std::vector<uint32_t>{2});
  // 120 sits in bucket 0, the bucket of ticks 104 and 112: a bound a
  // revolution early, moved on by an Advance that expires nothing.
  EXPECT_EQ(wheel_.EarliestDueTick(), 104u);
  EXPECT_TRUE(AdvanceTo(104).empty());
  EXPECT_EQ(wheel_.EarliestDueTick(), 106u);
  EXPECT_EQ(AdvanceTo(106), std::vector<uint32_t>{1});
  EXPECT_EQ(wheel_.EarliestDueTick(), 112u);
  EXPECT_TRUE(AdvanceTo(112).empty());
  EXPECT_EQ(wheel_.EarliestDueTick(), 120u);
  EXPECT_EQ(AdvanceTo(120), std::vector<uint32_t>{3});
  EXPECT_TRUE(wheel_.empty());
}

TEST_F(TimerWheelTest, EarliestDueTickStaysALowerBoundAfterACancel) {
  wheel_.Schedule(1, 102);
  wheel_.Schedule(2, 105);
  wheel_.Cancel(1);
  EXPECT_LE(wheel_.EarliestDueTick(), 105u);
  EXPECT_TRUE(AdvanceTo(102).empty());
  EXPECT_EQ(wheel_.EarliestDueTick(), 105u);
  EXPECT_EQ(AdvanceTo(105), std::vector<uint32_t>{2});
}

}  // namespace
}  // namespace fourtuple::agent

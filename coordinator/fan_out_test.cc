#include "coordinator/fan_out.h"

#include <vector>

#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

TEST(FanOutTest, StartsAtMostLimitUntilOneIsDone) {
  FanOut fan_out(2);
  std::vector<int> started;
  for (int i = 0; i < 5; ++i) fan_out.Submit([&started, i] { started.push_back(i); });
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  fan_out.Done();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  fan_out.Done();
  fan_out.Done();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3, 4}));
  // Slots freed with nothing waiting are reused later.
  fan_out.Done();
  fan_out.Done();
  fan_out.Submit([&started] { started.push_back(5); });
  fan_out.Submit([&started] { started.push_back(6); });
  EXPECT_EQ(started.size(), 7u);
}

TEST(FanOutTest, ZeroLimitStillMakesProgress) {
  FanOut fan_out(0);
  int started = 0;
  fan_out.Submit([&started] { ++started; });
  fan_out.Submit([&started] { ++started; });
  EXPECT_EQ(started, 1);
  fan_out.Done();
  EXPECT_EQ(started, 2);
}

}  // namespace
}  // namespace fourtuple::coordinator

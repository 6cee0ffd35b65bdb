#include "coordinator/progress.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;

TEST(ProgressTest, RateIsTheEstablishedDeltaOverTime) {
  ProgressMeter meter;
  EXPECT_THAT(meter.Line(0.0, "assign", {}), HasSubstr("rate 0/s"));
  EXPECT_THAT(meter.Line(1.0, "connect", {2000, 2000, 0, 0}), HasSubstr("rate 2000/s"));
  const std::string line = meter.Line(2.0, "connect", {6000, 8000, 5, 0});
  EXPECT_THAT(line, HasSubstr("[    2.0s] connect"));
  EXPECT_THAT(line, HasSubstr("open 6000"));
  EXPECT_THAT(line, HasSubstr("established 8000"));
  EXPECT_THAT(line, HasSubstr("failed 5"));
  EXPECT_THAT(line, HasSubstr("rate 6000/s"));
  EXPECT_THAT(meter.Line(2.5, "echo 1", {8000, 8000, 5, 1234}), HasSubstr("rate 0/s  echo verified 1234"));
}

}  // namespace
}  // namespace fourtuple::coordinator

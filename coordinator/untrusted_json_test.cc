#include "coordinator/untrusted_json.h"

#include <limits>

#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

TEST(UntrustedJsonTest, LookupsChainThroughMissingAndMistypedValues) {
  const ReportJson report = ReportJson::parse(R"({"plan": {"echo": {"rounds": 2}}, "agents": [1, "x"]})");
  EXPECT_EQ(*FiniteNumber(FindField(FindField(FindField(&report, "plan"), "echo"), "rounds")), 2);
  EXPECT_EQ(FindField(FindField(&report, "nope"), "echo"), nullptr);
  EXPECT_EQ(FindField(FindField(&report, "agents"), "echo"), nullptr);  // an array, not an object
  EXPECT_EQ(FindField(nullptr, "x"), nullptr);
  EXPECT_EQ(ArraySize(FindField(&report, "agents")), 2u);
  EXPECT_EQ(ArraySize(FindField(&report, "plan")), 0u);
  EXPECT_EQ(*StringValue(ElementAt(FindField(&report, "agents"), 1)), "x");
  EXPECT_EQ(StringValue(ElementAt(FindField(&report, "agents"), 0)), nullptr);
  EXPECT_EQ(ElementAt(FindField(&report, "agents"), 2), nullptr);
}

TEST(UntrustedJsonTest, NumbersAreFiniteAndMayBeStrings) {
  const ReportJson values = ReportJson::parse(R"([5, -2.5, "1234", "x", null, true])");
  EXPECT_EQ(*FiniteNumber(ElementAt(&values, 0)), 5);
  EXPECT_EQ(*FiniteNumber(ElementAt(&values, 1)), -2.5);
  EXPECT_FALSE(NonNegativeNumber(ElementAt(&values, 1)).has_value());
  EXPECT_EQ(*FiniteNumber(ElementAt(&values, 2)), 1234);
  for (size_t i = 3; i < 6; ++i) EXPECT_FALSE(FiniteNumber(ElementAt(&values, i)).has_value()) << i;
  const ReportJson nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(FiniteNumber(&nan).has_value());
}

}  // namespace
}  // namespace fourtuple::coordinator

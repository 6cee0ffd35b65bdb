#include "common/human_format.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(HumanFormatTest, CountsAreGroupedByThousands) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1,000");
  EXPECT_EQ(FormatCount(40000), "40,000");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatCount(UINT64_MAX), "18,446,744,073,709,551,615");
}

TEST(HumanFormatTest, CountPhraseAgreesInNumber) {
  EXPECT_EQ(CountPhrase(1, "source address", "source addresses"), "1 source address");
  EXPECT_EQ(CountPhrase(0, "source address", "source addresses"), "0 source addresses");
  EXPECT_EQ(CountPhrase(40000, "connection needs", "connections need"), "40,000 connections need");
}

TEST(HumanFormatTest, JoinSomeNamesTheFirstAndCountsTheRest) {
  EXPECT_EQ(JoinSome({}, 3), "");
  EXPECT_EQ(JoinSome({"a", "b", "c"}, 3), "a, b, c");
  EXPECT_EQ(JoinSome({"a", "b", "c", "d", "e"}, 2), "a, b and 3 more");
  std::vector<std::string> many(1200, "x");
  EXPECT_EQ(JoinSome(many, 1), "x and 1,199 more");
}

TEST(HumanFormatTest, NumbersReadWell) {
  EXPECT_EQ(FormatNumber(0), "0");
  EXPECT_EQ(FormatNumber(-0.0), "0");
  EXPECT_EQ(FormatNumber(100000), "100,000");
  EXPECT_EQ(FormatNumber(4733.333), "4,733");
  EXPECT_EQ(FormatNumber(7999.6), "8,000");
  EXPECT_EQ(FormatNumber(-47600), "-47,600");
  EXPECT_EQ(FormatNumber(2.1), "2.1");
  EXPECT_EQ(FormatNumber(2.126), "2.13");
  EXPECT_EQ(FormatNumber(3.0), "3");
  EXPECT_EQ(FormatNumber(0.013), "0.013");
  EXPECT_EQ(FormatNumber(0.0125), "0.0125");
  EXPECT_EQ(FormatNumber(-0.5), "-0.5");
  EXPECT_EQ(FormatNumber(2e15), "2e+15");
  EXPECT_EQ(FormatNumber(std::numeric_limits<double>::infinity()), "inf");
}

TEST(HumanFormatTest, CompactNumbersForAxes) {
  EXPECT_EQ(FormatCompactNumber(0), "0");
  EXPECT_EQ(FormatCompactNumber(950), "950");
  EXPECT_EQ(FormatCompactNumber(20000), "20k");
  EXPECT_EQ(FormatCompactNumber(1500000), "1.5M");
  EXPECT_EQ(FormatCompactNumber(2e9), "2G");
  EXPECT_EQ(FormatCompactNumber(0.25), "0.25");
}

TEST(HumanFormatTest, BytesAreBinary) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(5300), "5.2 KiB");
  EXPECT_EQ(FormatBytes(10600), "10.4 KiB");
  // Rounded before the unit is chosen: never "1024.0 KiB".
  EXPECT_EQ(FormatBytes(1048570), "1.0 MiB");
  EXPECT_EQ(FormatBytes(1023.6), "1.0 KiB");
  EXPECT_EQ(FormatBytes(24.0 * (uint64_t{1} << 30)), "24.0 GiB");
  EXPECT_EQ(FormatBytes(8.2e9), "7.6 GiB");
  EXPECT_EQ(FormatBytes(1.5 * (uint64_t{1} << 40)), "1.5 TiB");
  EXPECT_EQ(FormatBytes(-2048), "-2.0 KiB");
}

TEST(HumanFormatTest, RatesAndSeconds) {
  EXPECT_EQ(FormatRate(7999.6), "8,000/s");
  EXPECT_EQ(FormatRate(2.5), "2.5/s");
  EXPECT_EQ(FormatSeconds(4.25), "4.25 s");
  EXPECT_EQ(FormatSeconds(0.8), "0.8 s");
  EXPECT_EQ(FormatSeconds(3600), "3,600 s");
}

TEST(HumanFormatTest, Percentages) {
  EXPECT_EQ(FormatPercent(1, 3), "33.3%");
  EXPECT_EQ(FormatPercent(19880, 20000), "99.4%");
  EXPECT_EQ(FormatPercent(20000, 20000), "100%");
  EXPECT_EQ(FormatPercent(19999, 20000), "99.9%");  // short of the whole: not 100%
  EXPECT_EQ(FormatPercent(1, 2000), "0.05%");
  EXPECT_EQ(FormatPercent(1, 1000000), "<0.01%");
  EXPECT_EQ(FormatPercent(0, 10), "0%");
  EXPECT_EQ(FormatPercent(1, 0), "");
}

}  // namespace
}  // namespace fourtuple

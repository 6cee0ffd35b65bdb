#include "common/duration.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::HasSubstr;

absl::Duration Parsed(absl::string_view text) {
  absl::StatusOr<absl::Duration> d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status();
  return d.ok() ? *d : absl::InfiniteDuration();
}

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<absl::Duration> d = ParseDuration(text);
  EXPECT_FALSE(d.ok()) << text << " parsed as " << *d;
  if (d.ok()) return "";
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(d.status().message());
}

TEST(ParseDurationTest, EveryUnit) {
  EXPECT_EQ(Parsed("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(Parsed("10s"), absl::Seconds(10));
  EXPECT_EQ(Parsed("2m"), absl::Minutes(2));
  EXPECT_EQ(Parsed("1h"), absl::Hours(1));
  EXPECT_EQ(Parsed("250us"), absl::Microseconds(250));
  EXPECT_EQ(Parsed("7ns"), absl::Nanoseconds(7));
  EXPECT_EQ(Parsed("0s"), absl::ZeroDuration());
  EXPECT_EQ(Parsed("0ms"), absl::ZeroDuration());
}

TEST(ParseDurationTest, FractionsAreExact) {
  EXPECT_EQ(Parsed("1.5s"), absl::Milliseconds(1500));
  // 0.1 has no exact binary form: parsing through a double would be off.
  EXPECT_EQ(Parsed("0.1s"), absl::Milliseconds(100));
  EXPECT_EQ(Parsed(".25s"), absl::Milliseconds(250));
  EXPECT_EQ(Parsed("3.s"), absl::Seconds(3));
  EXPECT_EQ(Parsed("0.5m"), absl::Seconds(30));
  EXPECT_EQ(Parsed("1.25h"), absl::Minutes(75));
  EXPECT_EQ(Parsed("0.000000001s"), absl::Nanoseconds(1));
  EXPECT_EQ(Parsed("1.000000000000000000000s"), absl::Seconds(1));  // trailing zeros
}

TEST(ParseDurationTest, RefusesBareNumbers) {
  EXPECT_EQ(ErrorOf("10"), "\"10\" needs a unit: ns, us, ms, s, m, h (e.g. \"10s\")");
  EXPECT_THAT(ErrorOf("1.5"), HasSubstr("\"1.5\" needs a unit"));
  EXPECT_THAT(ErrorOf("0"), HasSubstr("\"0\" needs a unit"));
}

TEST(ParseDurationTest, RefusesNegativeEmptyAndUnknownUnits) {
  EXPECT_EQ(ErrorOf("-5s"), "\"-5s\" is negative; a duration must be 0 or more");
  EXPECT_EQ(ErrorOf(""),
            "duration is empty; expected a number and a unit (ns, us, ms, s, m, h), "
            "e.g. \"10s\"");
  EXPECT_EQ(ErrorOf("10x"), "\"10x\" has unknown unit \"x\"; expected one of ns, us, ms, s, m, h");
  EXPECT_THAT(ErrorOf("10sec"), HasSubstr("unknown unit \"sec\""));
  EXPECT_THAT(ErrorOf("10S"), HasSubstr("unknown unit \"S\""));
  EXPECT_THAT(ErrorOf("1d"), HasSubstr("unknown unit \"d\""));
}

TEST(ParseDurationTest, RefusesMalformed) {
  for (const char* bad :
       {"s", "ms", ".s", "1.2.3s", "1m30s", " 10s", "10 s", "10s ", "+5s", "1e3ms", "0x10s", "1,5s", "inf"}) {
    std::string error = ErrorOf(bad);
    EXPECT_THAT(error, HasSubstr(absl::StrCat("\"", bad, "\""))) << bad;
  }
  EXPECT_THAT(ErrorOf("1.2.3s"), HasSubstr("expected a number and a unit"));
}

TEST(ParseDurationTest, RefusesTooLargeAndTooFine) {
  EXPECT_THAT(ErrorOf("9999999999999999999999s"), HasSubstr("too large"));
  EXPECT_THAT(ErrorOf("3000000h"), HasSubstr("too large"));
  EXPECT_EQ(Parsed("2000000h"), absl::Hours(2000000));
  EXPECT_THAT(ErrorOf("0.5ns"), HasSubstr("finer than a nanosecond"));
  EXPECT_THAT(ErrorOf("1.0000000001s"), HasSubstr("finer than a nanosecond"));
  EXPECT_THAT(ErrorOf("0.0000000000000000000001h"), HasSubstr("finer than a nanosecond"));
  EXPECT_EQ(Parsed("0.0000000001h"), absl::Nanoseconds(360));
  EXPECT_THAT(ErrorOf("0.000000000001h"), HasSubstr("finer than a nanosecond"));  // 3.6ns
}

TEST(DurationToStringTest, PicksTheShortestWholeForm) {
  EXPECT_EQ(DurationToString(absl::Milliseconds(500)), "500ms");
  EXPECT_EQ(DurationToString(absl::Milliseconds(1500)), "1.5s");
  EXPECT_EQ(DurationToString(absl::Seconds(10)), "10s");
  EXPECT_EQ(DurationToString(absl::Seconds(60)), "1m");
  EXPECT_EQ(DurationToString(absl::Seconds(90)), "90s");
  EXPECT_EQ(DurationToString(absl::Minutes(90)), "90m");
  EXPECT_EQ(DurationToString(absl::Hours(1)), "1h");
  EXPECT_EQ(DurationToString(absl::Hours(36)), "36h");
  EXPECT_EQ(DurationToString(absl::Seconds(20)), "20s");
  EXPECT_EQ(DurationToString(absl::Microseconds(250)), "250us");
  EXPECT_EQ(DurationToString(absl::Nanoseconds(1500)), "1.5us");
  EXPECT_EQ(DurationToString(absl::Nanoseconds(1)), "1ns");
  EXPECT_EQ(DurationToString(absl::Nanoseconds(1000000001)), "1.000000001s");
  EXPECT_EQ(DurationToString(absl::ZeroDuration()), "0s");
  EXPECT_EQ(DurationToString(-absl::Seconds(2)), "-2s");
  EXPECT_EQ(DurationToString(absl::InfiniteDuration()), "inf");
}

TEST(DurationToStringTest, ReadsBackExactly) {
  const absl::Duration samples[] = {absl::Nanoseconds(1),
                                    absl::Nanoseconds(999),
                                    absl::Microseconds(1),
                                    absl::Nanoseconds(123456789),
                                    absl::Milliseconds(1),
                                    absl::Milliseconds(999),
                                    absl::Milliseconds(1001),
                                    absl::Seconds(1),
                                    absl::Seconds(59),
                                    absl::Seconds(61),
                                    absl::Seconds(3599),
                                    absl::Seconds(3601),
                                    absl::Minutes(59),
                                    absl::Minutes(61),
                                    absl::Hours(25),
                                    absl::Hours(2000000),
                                    absl::Nanoseconds(7200000000001)};
  for (absl::Duration d : samples) {
    std::string text = DurationToString(d);
    absl::StatusOr<absl::Duration> back = ParseDuration(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    EXPECT_EQ(*back, d) << text;
  }
}

}  // namespace
}  // namespace fourtuple

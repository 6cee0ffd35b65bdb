#include "coordinator/strict_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using nlohmann::json;

std::string ErrorOf(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(StrictJsonTest, ParsesValidDocuments) {
  absl::StatusOr<json> parsed = ParseStrictJson(R"({"a": [1, {"b": "c"}], "d": null})", "doc");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["a"][1]["b"], "c");
}

TEST(StrictJsonTest, SyntaxErrorsSayLineAndColumn) {
  EXPECT_THAT(ErrorOf(ParseStrictJson("{\n  \"a\": 1,\n  \"b\" 2\n}", "doc").status()),
              ::testing::StartsWith("invalid JSON at line 3, column 7: syntax error"));
  EXPECT_THAT(ErrorOf(ParseStrictJson("", "doc").status()), ::testing::StartsWith("invalid JSON at line 1"));
  EXPECT_THAT(ErrorOf(ParseStrictJson("{\"a\": [1, 2", "doc").status()),
              ::testing::StartsWith("invalid JSON at line 1, column 12"));
}

TEST(StrictJsonTest, DuplicateKeysAreRefusedWithTheirPath) {
  EXPECT_EQ(ErrorOf(ParseStrictJson(R"({"a": 1, "a": 2})", "doc").status()),
            "doc.a: field appears twice in one object");
  EXPECT_EQ(ErrorOf(ParseStrictJson(R"({"list": [{}, {"x": {"k": 1, "k": 1}}]})", "plan").status()),
            "plan.list[1].x.k: field appears twice in one object");
  // The same key in two objects is fine.
  EXPECT_TRUE(ParseStrictJson(R"([{"k": 1}, {"k": 2}])", "doc").ok());
}

TEST(StrictJsonTest, UnknownFieldsSuggestTheNearestKnownOne) {
  const json object = json::parse(R"({"conections": 5})");
  EXPECT_EQ(ErrorOf(CheckKnownFields(object, "plan", {"connections", "agents"})),
            "plan.conections: unknown field (did you mean \"connections\"?)");
  EXPECT_EQ(ErrorOf(CheckKnownFields(json::parse(R"({"Agents": 1})"), "plan", {"connections", "agents"})),
            "plan.Agents: unknown field (did you mean \"agents\"?)");
  EXPECT_EQ(ErrorOf(CheckKnownFields(json::parse(R"({"zzz": 1})"), "plan.echo", {"rounds", "timeout"})),
            "plan.echo.zzz: unknown field (known: rounds, timeout)");
  EXPECT_TRUE(CheckKnownFields(json::parse(R"({"rounds": 1})"), "plan.echo", {"rounds"}).ok());
}

TEST(StrictJsonTest, WrongTypesDescribeWhatWasThere) {
  EXPECT_EQ(DescribeJsonValue(json(nullptr)), "null");
  EXPECT_EQ(DescribeJsonValue(json(true)), "true");
  EXPECT_EQ(DescribeJsonValue(json("5")), "the string \"5\"");
  EXPECT_EQ(DescribeJsonValue(json::object()), "an object");
  EXPECT_EQ(DescribeJsonValue(json::array()), "an array");
  EXPECT_EQ(DescribeJsonValue(json(-3)), "-3");
  EXPECT_EQ(ErrorOf(WrongType("doc.x", "a string", json(1.5))), "doc.x: expected a string, got 1.5");
  EXPECT_EQ(QuoteJson("a\"b\n"), "\"a\\\"b\\n\"");
}

TEST(StrictJsonTest, CountsAreWholeAndInRange) {
  EXPECT_EQ(*ReadCount(json(5), "n", 1, 10), 5u);
  EXPECT_EQ(*ReadCount(json(1e5), "n", 1, 100000), 100000u);
  EXPECT_EQ(ErrorOf(ReadCount(json(0), "doc.n", 1, 10).status()),
            "doc.n: expected a whole number from 1 to 10, got 0");
  EXPECT_EQ(ErrorOf(ReadCount(json(-1), "n", 0, 10).status()),
            "n: expected a whole number from 0 to 10, got -1");
  EXPECT_FALSE(ReadCount(json(2.5), "n", 0, 10).ok());
  EXPECT_FALSE(ReadCount(json("5"), "n", 0, 10).ok());
}

TEST(StrictJsonTest, StringsAndDurations) {
  EXPECT_EQ(*ReadString(json("x"), "s"), "x");
  EXPECT_EQ(ErrorOf(ReadString(json(1), "doc.s").status()), "doc.s: expected a string, got 1");
  EXPECT_EQ(*ReadDuration(json("1.5s"), "d", absl::ZeroDuration()), absl::Milliseconds(1500));
  EXPECT_EQ(ErrorOf(ReadDuration(json("5ms"), "doc.d", absl::Milliseconds(10)).status()),
            "doc.d: must be at least 10ms, got 5ms");
  EXPECT_THAT(ErrorOf(ReadDuration(json(10), "doc.d", absl::ZeroDuration()).status()),
              ::testing::StartsWith("doc.d: expected a duration string"));
  EXPECT_THAT(ErrorOf(ReadDuration(json("10"), "doc.d", absl::ZeroDuration()).status()),
              ::testing::StartsWith("doc.d: "));
}

}  // namespace
}  // namespace fourtuple::coordinator

#include "coordinator/plan.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The smallest valid plan; tests splice fields into it.
std::string Minimal(const std::string& extra = "") {
  return R"({
  "target": {"endpoints": ["127.0.0.1:9000"]},
  "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}],
  "connections": 100)" +
         extra + "\n}\n";
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Plan> plan = ParsePlan(text);
  EXPECT_FALSE(plan.ok()) << "plan was accepted:\n" << text;
  if (plan.ok()) return "";
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(plan.status().message());
}

TEST(PlanTest, DesignExampleParses) {
  const std::string text = R"({
    "target": {"endpoints": ["127.0.0.1:9000"], "control": "127.0.0.1:9001"},
    "agents": [
      {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1-127.0.1.8"]},
      {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.2.0/29"], "connections": 30000}
    ],
    "connections": 100000,
    "connect_rate": 20000,
    "max_in_flight": 2048,
    "connect_timeout": "5s",
    "ramp_timeout": "120s",
    "hold": "10s",
    "echo": {"rounds": 1, "payload_bytes": 16, "interval": "1s", "timeout": "5s"},
    "report_interval": "1s",
    "lease": "10s"
  })";
  absl::StatusOr<Plan> plan = ParsePlan(text);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->target_endpoints, ElementsAre("127.0.0.1:9000"));
  EXPECT_EQ(plan->target_control, "127.0.0.1:9001");
  ASSERT_EQ(plan->agents.size(), 2u);
  EXPECT_EQ(plan->agents[0].source_addresses.size(), 8u);
  EXPECT_EQ(plan->agents[0].source_addresses.front(), "127.0.1.1");
  EXPECT_EQ(plan->agents[0].source_addresses.back(), "127.0.1.8");
  EXPECT_FALSE(plan->agents[0].connections.has_value());
  // A prefix stays a prefix: the agent binds inside it by offset.
  EXPECT_THAT(plan->agents[1].source_addresses, ElementsAre("127.0.2.0/29"));
  EXPECT_EQ(plan->agents[1].connections, 30000u);
  EXPECT_EQ(plan->connections, 100000u);
  EXPECT_EQ(plan->connect_rate, 20000);
  EXPECT_EQ(plan->max_in_flight, 2048u);
}

TEST(PlanTest, DefaultsFillEveryOptionalField) {
  absl::StatusOr<Plan> plan = ParsePlan(Minimal());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->target_control, "");
  EXPECT_EQ(plan->connect_rate, 0);
  EXPECT_EQ(plan->max_in_flight, 1024u);
  EXPECT_EQ(plan->connect_timeout, absl::Seconds(5));
  EXPECT_EQ(plan->ramp_timeout, absl::Seconds(120));
  EXPECT_EQ(plan->hold, absl::Seconds(10));
  EXPECT_EQ(plan->echo.rounds, 1u);
  EXPECT_EQ(plan->echo.payload_bytes, 16u);
  EXPECT_EQ(plan->echo.interval, absl::Seconds(1));
  EXPECT_EQ(plan->echo.timeout, absl::Seconds(5));
  EXPECT_EQ(plan->report_interval, absl::Seconds(1));
  EXPECT_EQ(plan->lease, absl::Seconds(10));
}

TEST(PlanTest, PartialEchoKeepsOtherDefaults) {
  absl::StatusOr<Plan> plan = ParsePlan(Minimal(R"(, "echo": {"rounds": 3, "interval": "250ms"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->echo.rounds, 3u);
  EXPECT_EQ(plan->echo.interval, absl::Milliseconds(250));
  EXPECT_EQ(plan->echo.payload_bytes, 16u);
  EXPECT_EQ(plan->echo.timeout, absl::Seconds(5));
}

TEST(PlanTest, WholeFloatCountsAreAccepted) {
  absl::StatusOr<Plan> plan = ParsePlan(absl::StrReplaceAll(Minimal(), {{"100", "1e5"}}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->connections, 100000u);
}

TEST(PlanTest, BadSourceAddressNamesItsPath) {
  const std::string text = R"({
    "target": {"endpoints": ["127.0.0.1:9000"]},
    "agents": [
      {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]},
      {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.1.300"]}
    ],
    "connections": 10
  })";
  const std::string error = ErrorOf(text);
  EXPECT_THAT(error, HasSubstr("agents[1].source_addresses[0]"));
  EXPECT_THAT(error, HasSubstr("\"127.0.1.300\" is not an IPv4 or IPv6 address"));
}

TEST(PlanTest, UnknownFieldSuggestsTheNearestName) {
  const std::string error = ErrorOf(R"({
    "target": {"endpoints": ["127.0.0.1:9000"]},
    "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}],
    "conections": 100
  })");
  EXPECT_THAT(error, HasSubstr("plan.conections: unknown field (did you mean \"connections\"?)"));
}

TEST(PlanTest, UnknownNestedFields) {
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"round": 2})")),
              HasSubstr("plan.echo.round: unknown field (did you mean \"rounds\"?)"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"], "controll": "x:1"},
                        "agents": [{"endpoint": "a:1", "source_addresses": ["127.0.1.1"]}],
                        "connections": 1})"),
              HasSubstr("plan.target.controll: unknown field (did you mean \"control\"?)"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"endpoint": "a:1", "source_addresses": ["127.0.1.1"],
                                    "colour": 1}],
                        "connections": 1})"),
              HasSubstr("plan.agents[0].colour: unknown field (known: endpoint, "
                        "source_addresses, connections, connections_per_source_address)"));
}

TEST(PlanTest, WrongTypesNameWhatWasExpected) {
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"100", "\"100\""}})),
              HasSubstr("plan.connections: expected a whole number from 1 to"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"100", "\"100\""}})),
              HasSubstr("got the string \"100\""));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "hold": 10)")),
              HasSubstr("plan.hold: expected a duration string such as \"500ms\" or \"10s\", "
                        "got 10"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": [])")), HasSubstr("plan.echo: expected an object"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "connect_rate": "fast")")),
              HasSubstr("plan.connect_rate: expected connections per second"));
  EXPECT_THAT(ErrorOf("[1, 2]"), HasSubstr("plan: expected a JSON object, got an array"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": "127.0.0.1:9000"},
                        "agents": [{"endpoint": "a:1", "source_addresses": ["127.0.1.1"]}],
                        "connections": 1})"),
              HasSubstr("plan.target.endpoints: expected a non-empty array"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"endpoint": "a:1", "source_addresses": "127.0.1.1"}],
                        "connections": 1})"),
              HasSubstr("plan.agents[0].source_addresses: expected a non-empty array"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"endpoint": 7001, "source_addresses": ["127.0.1.1"]}],
                        "connections": 1})"),
              HasSubstr("plan.agents[0].endpoint: expected a string, got 7001"));
}

TEST(PlanTest, NegativeAndZeroCountsAreRefused) {
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"100", "-5"}})),
              HasSubstr("plan.connections: expected a whole number from 1 to"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"100", "0"}})),
              HasSubstr("plan.connections: expected a whole number from 1 to"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"100", "2.5"}})), HasSubstr("got 2.5"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "max_in_flight": 0)")),
              HasSubstr("plan.max_in_flight: expected a whole number from 1"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "connect_rate": -1)")),
              HasSubstr("plan.connect_rate: expected connections per second, a number >= 0"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"rounds": -1})")),
              HasSubstr("plan.echo.rounds: expected a whole number from 0"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "hold": "-1s")")), HasSubstr("plan.hold:"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "connect_timeout": "0s")")),
              HasSubstr("plan.connect_timeout: must be at least 1ms, got 0s"));
}

// The agents refuse timeouts, report intervals and leases past the wire
// limits: the plan refuses them first, naming the field.
TEST(PlanTest, DurationsPastWhatAgentsAcceptAreRefused) {
  EXPECT_THAT(ErrorOf(Minimal(R"(, "connect_timeout": "61m")")),
              HasSubstr("plan.connect_timeout: must be at most 1h, got 61m"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"timeout": "2h"})")),
              HasSubstr("plan.echo.timeout: must be at most 1h, got 2h"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "report_interval": "5ms")")),
              HasSubstr("plan.report_interval: must be at least 10ms, got 5ms"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "report_interval": "10ms", "lease": "50ms")")),
              HasSubstr("plan.lease: must be at least 100ms, got 50ms"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "lease": "25h")")), HasSubstr("plan.lease: must be at most 24h, got 25h"));
  EXPECT_TRUE(ParsePlan(Minimal(R"(, "connect_timeout": "1h", "lease": "24h")")).ok());
}

TEST(PlanTest, PayloadBytesBounds) {
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"payload_bytes": 15})")),
              HasSubstr("plan.echo.payload_bytes: expected a whole number from 16 to 4096, got 15"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"payload_bytes": 4097})")), HasSubstr("plan.echo.payload_bytes"));
  EXPECT_TRUE(ParsePlan(Minimal(R"(, "echo": {"payload_bytes": 4096})")).ok());
}

TEST(PlanTest, EchoRateIsOptionalAndDefaultsToTheIntervalsSpread) {
  absl::StatusOr<Plan> plan = ParsePlan(Minimal(R"(, "echo": {"interval": "500ms"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->echo.rate.has_value());
  EXPECT_DOUBLE_EQ(RoundEchoRate(*plan), static_cast<double>(plan->connections) / 0.5);
  EXPECT_FALSE(PlanToJson(*plan)["echo"].contains("rate"));

  plan = ParsePlan(Minimal(R"(, "echo": {"interval": "0s"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(RoundEchoRate(*plan), 0);  // no interval to spread over: unpaced

  plan = ParsePlan(Minimal(R"(, "echo": {"rate": 250.5})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(RoundEchoRate(*plan), 250.5);
  EXPECT_EQ(PlanToJson(*plan)["echo"]["rate"], 250.5);

  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"rate": -1})")),
              HasSubstr("plan.echo.rate: expected echo checks per second in a round, a number from 0"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"rate": "fast"})")), HasSubstr("plan.echo.rate"));
}

TEST(PlanTest, SendExpectDecodesJsonEscapes) {
  absl::StatusOr<Plan> plan =
      ParsePlan(Minimal(R"(, "echo": {"rounds": 2, "send": "PING\r\n", "expect": "+PONG\r\n"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->echo.send, "PING\r\n");
  EXPECT_EQ(plan->echo.expect, "+PONG\r\n");
  EXPECT_EQ(plan->echo.rounds, 2u);

  // \u escapes and NUL bytes are bytes like any other (UTF-8 of the string).
  plan = ParsePlan(Minimal(R"(, "echo": {"send": "a\u0000b\t", "expect": "\u00e9\"\\/"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->echo.send, std::string("a\0b\t", 4));
  EXPECT_EQ(plan->echo.expect, "\xc3\xa9\"\\/");

  // Without them: the unique-id payload, nothing to send or expect.
  plan = ParsePlan(Minimal());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->echo.send.empty());
  EXPECT_TRUE(plan->echo.expect.empty());

  // rounds 0: connections are only held, the strings still checked.
  plan = ParsePlan(Minimal(R"(, "echo": {"rounds": 0, "send": "x", "expect": "y"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->echo.rounds, 0u);
}

TEST(PlanTest, SendExpectErrorsNameTheField) {
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": "PING\r\n"})")),
              HasSubstr("plan.echo.expect: missing (echo.send needs echo.expect"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"expect": "+PONG\r\n"})")),
              HasSubstr("plan.echo.send: missing (echo.expect needs echo.send"));
  const std::string both = ErrorOf(Minimal(R"(, "echo": {"payload_bytes": 16, "send": "a", "expect": "b"})"));
  EXPECT_THAT(both, HasSubstr("plan.echo.payload_bytes: cannot be combined with echo.send/echo.expect"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": "", "expect": "b"})")),
              HasSubstr("plan.echo.send: expected a string of 1 to 4096 bytes (JSON escapes such as \\r\\n "
                        "work), got 0 bytes"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": "a", "expect": 7})")),
              HasSubstr("plan.echo.expect: expected a string of 1 to 4096 bytes"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": ["a"], "expect": "b"})")), HasSubstr("got an array"));
  const std::string longest(4096, 'x');
  EXPECT_TRUE(ParsePlan(Minimal(R"(, "echo": {"send": ")" + longest + R"(", "expect": "b"})")).ok());
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": "a", "expect": ")" + longest + R"(x"})")),
              HasSubstr("plan.echo.expect: expected a string of 1 to 4096 bytes (JSON escapes such as "
                        "\\r\\n work), got 4097 bytes"));
  // A 2-byte UTF-8 character counts twice.
  std::string wide;
  for (int i = 0; i < 2049; ++i) wide += "\\u00e9";
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": ")" + wide + R"(", "expect": "b"})")),
              HasSubstr("got 4098 bytes"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": "a", "expect": "b", "sned": "c"})")),
              HasSubstr("plan.echo.sned: unknown field (did you mean \"send\"?)"));
}

TEST(PlanTest, PlanToJsonKeepsSendExpectInsteadOfPayloadBytes) {
  absl::StatusOr<Plan> plan =
      ParsePlan(Minimal(R"(, "echo": {"rounds": 2, "send": "PING\r\n", "expect": "+PONG\r\n"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  nlohmann::ordered_json json = PlanToJson(*plan);
  EXPECT_FALSE(json["echo"].contains("payload_bytes")) << json.dump();
  EXPECT_EQ(json["echo"]["send"], "PING\r\n");
  EXPECT_EQ(json["echo"]["expect"], "+PONG\r\n");
  EXPECT_THAT(json.dump(), HasSubstr(R"("send":"PING\r\n","expect":"+PONG\r\n")"));
  absl::StatusOr<Plan> again = ParsePlan(json.dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->echo.send, "PING\r\n");
  EXPECT_EQ(again->echo.expect, "+PONG\r\n");
  EXPECT_EQ(PlanToJson(*again), json);
}

TEST(PlanTest, ExplicitAgentCountsMustFit) {
  const std::string over = R"({
    "target": {"endpoints": ["127.0.0.1:9000"]},
    "agents": [
      {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"], "connections": 60},
      {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.1.2"], "connections": 50}
    ],
    "connections": 100
  })";
  EXPECT_THAT(ErrorOf(over), HasSubstr("add up to more than connections (100)"));

  const std::string one_over = R"({
    "target": {"endpoints": ["127.0.0.1:9000"]},
    "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"],
                "connections": 101}],
    "connections": 100
  })";
  EXPECT_THAT(ErrorOf(one_over), HasSubstr("plan.agents[0].connections: 101 is more than the plan's total"));

  const std::string short_sum = R"({
    "target": {"endpoints": ["127.0.0.1:9000"]},
    "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"],
                "connections": 90}],
    "connections": 100
  })";
  EXPECT_THAT(ErrorOf(short_sum), HasSubstr("add up to 90, not connections (100)"));

  const std::string nothing_left = R"({
    "target": {"endpoints": ["127.0.0.1:9000"]},
    "agents": [
      {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"], "connections": 100},
      {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.1.2"]}
    ],
    "connections": 100
  })";
  EXPECT_THAT(ErrorOf(nothing_left), HasSubstr("agents[1]: gets no connection"));
}

TEST(PlanTest, MissingRequiredFields) {
  EXPECT_THAT(ErrorOf(R"({"agents": [], "connections": 1})"), HasSubstr("plan.target: missing"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]}, "connections": 1})"),
              HasSubstr("plan.agents: missing"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"endpoint": "a:1", "source_addresses": ["127.0.1.1"]}]})"),
              HasSubstr("plan.connections: missing"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"source_addresses": ["127.0.1.1"]}], "connections": 1})"),
              HasSubstr("plan.agents[0].endpoint: missing"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [], "connections": 1})"),
              HasSubstr("plan.agents: expected a non-empty array"));
}

TEST(PlanTest, AddressesAndEndpoints) {
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"127.0.0.1:9000", "127.0.0.1"}})),
              HasSubstr("plan.target.endpoints[0]:"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"127.0.0.1:9000", "127.0.0.1:99999"}})),
              HasSubstr("plan.target.endpoints[0]:"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"127.0.0.1:7001", "127.0.0.1"}})),
              HasSubstr("plan.agents[0].endpoint: expected HOST:PORT"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"127.0.0.1:7001", "127.0.0.300:7001"}})),
              HasSubstr("plan.agents[0].endpoint:"));
  // Agents may be named.
  EXPECT_TRUE(ParsePlan(absl::StrReplaceAll(Minimal(), {{"127.0.0.1:7001", "lab-1.example:7000"}})).ok());
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"127.0.1.8-127.0.1.1\""}})),
              HasSubstr("plan.agents[0].source_addresses[0]: range"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"127.0.1.0/30\", \"127.0.1.2\""}})),
      HasSubstr("plan.agents[0].source_addresses[1]: 127.0.1.2 overlaps 127.0.1.0/30, already listed"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"127.0.1.2\", \"127.0.1.2\""}})),
              HasSubstr("plan.agents[0].source_addresses[1]: 127.0.1.2 is already listed"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"::1\""}})),
              HasSubstr("plan.agents[0].source_addresses[0]: ::1 is IPv6 but no target endpoint is"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"10.0.0.1/8\""}})),
              HasSubstr("plan.agents[0].source_addresses[0]:"));
}

// Prefixes of any size travel as they are; a prefix longer than its family
// allows, one of length 0, or one of the other family than every target is
// refused, naming the entry.
TEST(PlanTest, SourcePrefixes) {
  absl::StatusOr<Plan> plan =
      ParsePlan(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"198.18.0.0/15\", \"10.0.0.0/8\""}}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->agents[0].source_addresses, ElementsAre("198.18.0.0/15", "10.0.0.0/8"));
  const std::string v6 = absl::StrReplaceAll(Minimal(), {{"127.0.0.1:9000", "[::1]:9000"}});
  plan = ParsePlan(absl::StrReplaceAll(v6, {{"\"127.0.1.1\"", "\"2001:db8:7::/64\""}}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->agents[0].source_addresses, ElementsAre("2001:db8:7::/64"));
  EXPECT_EQ(plan->target_endpoints[0], "[::1]:9000");

  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"198.18.0.0/33\""}})),
      HasSubstr("plan.agents[0].source_addresses[0]: \"198.18.0.0/33\": prefix length must be 0..32"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(v6, {{"\"127.0.1.1\"", "\"2001:db8::/129\""}})),
      HasSubstr("plan.agents[0].source_addresses[0]: \"2001:db8::/129\": prefix length must be 0..128"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"0.0.0.0/0\""}})),
              HasSubstr("plan.agents[0].source_addresses[0]: \"0.0.0.0/0\" is a prefix of length 0"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"2001:db8:7::/64\""}})),
      HasSubstr("plan.agents[0].source_addresses[0]: 2001:db8:7::/64 is IPv6 but no target endpoint is"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(v6, {{"\"127.0.1.1\"", "\"198.18.0.0/15\""}})),
      HasSubstr("plan.agents[0].source_addresses[0]: 198.18.0.0/15 is IPv4 but no target endpoint is"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(Minimal(), {{"\"127.0.1.1\"", "\"198.18.0.0/15\", \"198.19.0.0/16\""}})),
      HasSubstr("plan.agents[0].source_addresses[1]: 198.19.0.0/16 overlaps 198.18.0.0/15"));

  plan = ParsePlan(absl::StrReplaceAll(
      Minimal(), {{"\"127.0.1.1\"]", "\"198.18.0.0/15\"], \"connections_per_source_address\": 4"}}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->agents[0].connections_per_source_address, 4u);
  EXPECT_EQ(PlanToJson(*plan)["agents"][0]["connections_per_source_address"], 4);
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(
                  Minimal(), {{"\"127.0.1.1\"]", "\"127.0.1.1\"], \"connections_per_source_address\": 0"}})),
              HasSubstr("plan.agents[0].connections_per_source_address"));
}

TEST(PlanTest, DuplicateAgentsAndKeys) {
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"endpoint": "a:1", "source_addresses": ["127.0.1.1"]},
                                   {"endpoint": "a:1", "source_addresses": ["127.0.1.2"]}],
                        "connections": 2})"),
              HasSubstr("plan.agents[1].endpoint: \"a:1\" is listed twice"));
  EXPECT_THAT(ErrorOf(R"({"target": {"endpoints": ["127.0.0.1:9000"]},
                        "agents": [{"endpoint": "a:1", "source_addresses": ["127.0.1.1"]},
                                   {"endpoint": "b:1", "source_addresses": ["127.0.1.2"],
                                    "connections": 1, "connections": 2}],
                        "connections": 3})"),
              HasSubstr("plan.agents[1].connections: field appears twice"));
}

TEST(PlanTest, LeaseMustOutlastTheReportInterval) {
  EXPECT_THAT(ErrorOf(Minimal(R"(, "report_interval": "2s", "lease": "2s")")),
              HasSubstr("plan.lease: must be longer than report_interval (2s), got 2s"));
}

TEST(PlanTest, TruncatedJsonGivesLineAndColumn) {
  const std::string text = "{\n  \"target\": {\"endpoints\": [\"127.0.0.1:9000\"]},\n  \"agents\": [";
  const std::string error = ErrorOf(text);
  EXPECT_THAT(error, HasSubstr("invalid JSON at line 3, column 14"));
  EXPECT_THAT(error, HasSubstr("unexpected end of input"));
}

TEST(PlanTest, SyntaxErrorGivesLineAndColumn) {
  const std::string text = "{\n  \"connections\": 10,\n  \"hold\": 10s\n}";
  //                                                  ^ line 3, column 13
  EXPECT_THAT(ErrorOf(text), HasSubstr("invalid JSON at line 3, column 13"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("invalid JSON at line 1, column 1"));
}

TEST(PlanTest, PlanToJsonRoundTrips) {
  const std::string text = R"({
    "target": {"endpoints": ["127.0.0.1:9000", "127.0.0.1:9002"], "control": "127.0.0.1:9001"},
    "agents": [
      {"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1-127.0.1.8"]},
      {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.2.0/29"], "connections": 30}
    ],
    "connections": 101,
    "hold": "1.5s",
    "echo": {"rounds": 2, "interval": "500ms"}
  })";
  absl::StatusOr<Plan> plan = ParsePlan(text);
  ASSERT_TRUE(plan.ok()) << plan.status();
  nlohmann::ordered_json json = PlanToJson(*plan);
  EXPECT_EQ(json["agents"][0]["connections"], 71);
  EXPECT_EQ(json["agents"][1]["connections"], 30);
  EXPECT_EQ(json["agents"][0]["source_addresses"][0], "127.0.1.1-127.0.1.8");
  EXPECT_EQ(json["hold"], "1.5s");
  EXPECT_EQ(json["echo"]["interval"], "500ms");
  EXPECT_EQ(json["lease"], "10s");
  EXPECT_EQ(json["max_in_flight"], 1024);

  absl::StatusOr<Plan> again = ParsePlan(json.dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->connections, plan->connections);
  EXPECT_EQ(again->hold, plan->hold);
  EXPECT_EQ(again->echo.rounds, 2u);
  EXPECT_EQ(again->agents[0].source_addresses, plan->agents[0].source_addresses);
  EXPECT_EQ(PlanToJson(*again), json);
}

// Found by the plan fuzzer (tests/fuzz): absl's FormatDuration wrote
// "5m20s", which ParsePlan refuses, so a printed plan did not read back.
TEST(PlanTest, PlanToJsonDurationsReadBack) {
  absl::StatusOr<Plan> plan = ParsePlan(Minimal(R"(, "ramp_timeout": "320s", "hold": "90m")"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  nlohmann::ordered_json json = PlanToJson(*plan);
  EXPECT_EQ(json["ramp_timeout"], "320s");
  EXPECT_EQ(json["hold"], "90m");
  absl::StatusOr<Plan> again = ParsePlan(json.dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ramp_timeout, absl::Seconds(320));
}

TEST(PlanTest, DnsEndpointAndLocalSourcesParse) {
  absl::StatusOr<Plan> plan = ParsePlan(R"({
    "target": {"endpoints": ["10.0.0.1:9000"]},
    "agents": [{"endpoint": "dns:///fourtuple-agents.lab.svc.cluster.local:7000",
                "source_addresses": ["local:10.0.0.0/8", "10.9.0.1"]}],
    "connections": 100})");
  ASSERT_TRUE(plan.ok()) << plan.status();
  const AgentPlan& agent = plan->agents[0];
  EXPECT_EQ(agent.endpoint, "dns:///fourtuple-agents.lab.svc.cluster.local:7000");
  EXPECT_THAT(agent.source_specs, ElementsAre("local:10.0.0.0/8", "10.9.0.1"));
  EXPECT_THAT(agent.source_addresses, ElementsAre("10.9.0.1"));
  ASSERT_EQ(agent.local_source_prefixes.size(), 1u);
  EXPECT_EQ(agent.local_source_prefixes[0].ToString(), "10.0.0.0/8");
  absl::StatusOr<Plan> again = ParsePlan(PlanToJson(*plan).dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->agents[0].endpoint, agent.endpoint);
  EXPECT_EQ(again->agents[0].source_specs, agent.source_specs);
}

TEST(PlanTest, BadDnsEndpointsAndLocalSourcesNameTheField) {
  const std::string agent = R"(, "agents": [{"endpoint": "ENDPOINT", "source_addresses": ["SOURCE"]}])";
  auto plan_with = [&](const std::string& endpoint, const std::string& source) {
    std::string text = absl::StrReplaceAll(agent, {{"ENDPOINT", endpoint}, {"SOURCE", source}});
    return R"({"target": {"endpoints": ["127.0.0.1:9000"]}, "connections": 1)" + text + "}";
  };
  EXPECT_THAT(ErrorOf(plan_with("dns:///agents", "127.0.1.1")),
              HasSubstr("plan.agents[0].endpoint: expected HOST:PORT"));
  EXPECT_THAT(ErrorOf(plan_with("dns:///127.0.0.1:7000", "127.0.1.1")),
              HasSubstr("plan.agents[0].endpoint: dns:/// needs a DNS name"));
  EXPECT_THAT(ErrorOf(plan_with("dns:///a b:7000", "127.0.1.1")), HasSubstr("plan.agents[0].endpoint"));
  EXPECT_THAT(ErrorOf(plan_with("127.0.0.1:7000", "local:10.0.0.0/33")),
              HasSubstr("plan.agents[0].source_addresses[0]: expected \"local:CIDR\""));
  EXPECT_THAT(
      ErrorOf(plan_with("127.0.0.1:7000", "local:fd00::/8")),
      HasSubstr("plan.agents[0].source_addresses[0]: \"local:fd00::/8\" is IPv6 but no target endpoint is"));
}

TEST(PlanTest, LoadPlanPrefixesThePath) {
  absl::StatusOr<Plan> missing = LoadPlan("/nonexistent/plan.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/plan.json"));

  char path[] = "/tmp/plan_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "{\"connections\": 1,";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  absl::StatusOr<Plan> bad = LoadPlan(path);
  unlink(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr(std::string(path) + ": invalid JSON at line 1"));
}

}  // namespace
}  // namespace fourtuple::coordinator

namespace fourtuple::coordinator {
namespace {

TEST(PlanConversationTest, TemplatesHexGreetingAndFirstExchange) {
  absl::StatusOr<Plan> plan = ParsePlan(
      Minimal(R"(, "echo": {"send": {"hex": "c0 00"}, "expect": {"hex": "d000"}, "greeting": "220 ",)"
              R"( "first_send": {"hex": "0010 {id} 7b"}, "first_expect": "{{ok} {id}"})"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->echo.send, std::string("\xc0\x00", 2));
  EXPECT_EQ(plan->echo.expect, std::string("\xd0\x00", 2));
  EXPECT_EQ(plan->echo.greeting, "220 ");
  // Template text: {id} kept, a "{" byte doubled.
  EXPECT_EQ(plan->echo.first_send, std::string("\x00\x10{id}{{", 8));
  EXPECT_EQ(plan->echo.first_expect, "{{ok} {id}");
  // Written back: a string where it is UTF-8, else hex.
  const nlohmann::ordered_json echo = PlanToJson(*plan)["echo"];
  EXPECT_EQ(echo["send"], nlohmann::ordered_json({{"hex", "c000"}}));
  EXPECT_EQ(echo["first_send"], std::string("\x00\x10{id}{{", 8));
  EXPECT_EQ(echo["first_expect"], "{{ok} {id}");
  EXPECT_EQ(echo["greeting"], "220 ");
}

TEST(PlanConversationTest, TemplateTyposNameTheField) {
  for (const char* bad : {"k{ID}", "k{id", "k{idx}", "{ id}"}) {
    const std::string error =
        ErrorOf(Minimal(absl::StrCat(R"(, "echo": {"send": ")", bad, R"(", "expect": "b"})")));
    EXPECT_THAT(error, HasSubstr("plan.echo.send: \"{")) << bad;
    EXPECT_THAT(error, HasSubstr("is not a template: write {id} (lowercase) for the connection's id, or {{ "
                                 "for a literal {"));
  }
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": "a", "expect": "{ID}"})")),
              HasSubstr("plan.echo.expect: \"{ID}\" at byte 0"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"first_send": "a{Id}", "first_expect": "b"})")),
              HasSubstr("plan.echo.first_send: \"{Id}\" at byte 1"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": {"hex": "00 {ID}"}, "expect": "b"})")),
              HasSubstr("plan.echo.send.hex: \"{ID}\" at character 3 is not a template"));
  EXPECT_THAT(
      ErrorOf(Minimal(R"(, "echo": {"send": {"hex": "0g"}, "expect": "b"})")),
      HasSubstr("plan.echo.send.hex: expected pairs of hex digits and {id} (spaces ignored), got \"0g\""));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": {"hex": "abc"}, "expect": "b"})")),
              HasSubstr("plan.echo.send.hex: expected pairs of hex digits"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": {"base64": "AA=="}, "expect": "b"})")),
              HasSubstr("plan.echo.send"));
  // The greeting takes no template: its braces are bytes, in hex a mistake.
  EXPECT_TRUE(ParsePlan(Minimal(R"(, "echo": {"greeting": "{ID}"})")).ok());
  EXPECT_THAT(
      ErrorOf(Minimal(R"(, "echo": {"greeting": {"hex": "{id}"}})")),
      HasSubstr("plan.echo.greeting.hex: \"{id}\" at character 0 is not hex (this field takes no {id})"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"greeting": ""})")), HasSubstr("plan.echo.greeting: expected"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"first_send": "a"})")),
              HasSubstr("plan.echo.first_expect: missing"));
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"first_expect": "a"})")),
              HasSubstr("plan.echo.first_send: missing"));
  // The expansion counts: 4096 bytes with {id} (16) in 4 template bytes.
  const std::string near(4096 - 16, 'x');
  EXPECT_TRUE(ParsePlan(Minimal(R"(, "echo": {"send": ")" + near + R"({id}", "expect": "b"})")).ok());
  EXPECT_THAT(ErrorOf(Minimal(R"(, "echo": {"send": ")" + near + R"(x{id}", "expect": "b"})")),
              HasSubstr("got 4097 bytes"));
}

}  // namespace
}  // namespace fourtuple::coordinator

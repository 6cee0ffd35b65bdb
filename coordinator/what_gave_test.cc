#include "coordinator/what_gave.h"

#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using Json = nlohmann::ordered_json;

TEST(WhatGaveTest, FailuresGroupByLimitMostFirstThenTimeAndAgents) {
  Json gave = WhatGaveFromRun(
      {{"EADDRNOTAVAIL", 1200}, {"EADDRINUSE", 3}, {"EMFILE", 5000}, {"connect_timeout", 0}, {"E2BIG", 1}},
      {"ramp_timeout (1m) passed before every agent finished connecting"},
      {"agent 10.0.0.1:7000 lost: stream broke"});
  ASSERT_EQ(gave.size(), 5u) << gave.dump();
  EXPECT_EQ(gave[0]["limit"], "fds");
  EXPECT_EQ(gave[0]["failures"], 5000);
  EXPECT_EQ(gave[1]["limit"], "ports");
  EXPECT_EQ(gave[1]["failures"], 1203);
  EXPECT_EQ(gave[1]["reasons"]["EADDRNOTAVAIL"], 1200);
  EXPECT_EQ(gave[1]["reasons"]["EADDRINUSE"], 3);
  EXPECT_EQ(gave[2]["limit"], "E2BIG");  // a reason with no limit of its own
  EXPECT_EQ(gave[3]["limit"], "time");
  EXPECT_EQ(gave[4]["limit"], "agent");
  EXPECT_EQ(FormatWhatGave(gave),
            "fds (5,000 x EMFILE), ports (3 x EADDRINUSE, 1,200 x EADDRNOTAVAIL), E2BIG (1 x E2BIG), "
            "time (ramp_timeout (1m) passed before every agent finished connecting), "
            "agent (agent 10.0.0.1:7000 lost: stream broke)");
}

TEST(WhatGaveTest, NothingFailedGivesAnEmptyList) {
  Json gave = WhatGaveFromRun({{"EADDRNOTAVAIL", 0}}, {}, {});
  EXPECT_TRUE(gave.is_array());
  EXPECT_TRUE(gave.empty());
  EXPECT_EQ(FormatWhatGave(gave), "");
}

TEST(WhatGaveTest, PreflightLimitsInOrder) {
  Json gave = WhatGaveFromPreflight({"memory", "conntrack"});
  EXPECT_EQ(gave.dump(), R"([{"limit":"memory"},{"limit":"conntrack"}])");
  EXPECT_EQ(FormatWhatGave(gave), "memory, conntrack");
}

TEST(WhatGaveTest, AgentsWordsAreEscapedForTheTerminal) {
  Json gave = WhatGaveFromRun({{"E\x1b[31mVIL", 2}}, {}, {"agent a:1 lost: stream\nbroke"});
  EXPECT_EQ(FormatWhatGave(gave),
            "E\\x1b[31mVIL (2 x E\\x1b[31mVIL), agent (agent a:1 lost: stream\\nbroke)");
}

TEST(WhatGaveTest, MalformedInputFormatsToNothingRatherThanThrowing) {
  EXPECT_EQ(FormatWhatGave(Json::object()), "");
  EXPECT_EQ(FormatWhatGave(Json::parse(R"([1, {"limit": 2}, {"limit": "ports", "reasons": {"X": "y"}}])")),
            "ports");
}

}  // namespace
}  // namespace fourtuple::coordinator

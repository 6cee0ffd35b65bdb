#include "target-server/options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::target_server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TargetServerFlags Minimal() {
  TargetServerFlags flags;
  flags.listen = "127.0.0.1:0";
  return flags;
}

TEST(ParseTargetServerFlagsTest, AppliesDefaults) {
  auto options = ParseTargetServerFlags(Minimal(), /*default_processes=*/3);
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->listen.size(), 1u);
  EXPECT_EQ(options->listen[0].ToString(), "127.0.0.1:0");
  EXPECT_EQ(options->processes, 3);
  EXPECT_FALSE(options->control.has_value());
  EXPECT_FALSE(options->metrics.has_value());
  EXPECT_EQ(options->backlog, 65535);
  EXPECT_EQ(options->rcvbuf, 0);
  EXPECT_EQ(options->sndbuf, 0);
  EXPECT_EQ(options->stats_interval, absl::ZeroDuration());
  EXPECT_EQ(options->ready_file, "");
}

TEST(ParseTargetServerFlagsTest, ReadsEveryFlag) {
  TargetServerFlags flags;
  flags.listen = "127.0.0.1:9000,127.0.0.2:0,[::1]:9001";
  flags.processes = "8";
  flags.control = "127.0.0.1:0";
  flags.metrics = "[::1]:9100";
  flags.backlog = "1024";
  flags.rcvbuf = "4096";
  flags.sndbuf = "8192";
  flags.stats_interval = "200ms";
  flags.ready_file = "/tmp/ready.json";
  auto options = ParseTargetServerFlags(flags, 1);
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->listen.size(), 3u);
  EXPECT_EQ(options->listen[0].ToString(), "127.0.0.1:9000");
  EXPECT_EQ(options->listen[1].ToString(), "127.0.0.2:0");
  EXPECT_EQ(options->listen[2].ToString(), "[::1]:9001");
  EXPECT_EQ(options->processes, 8);
  ASSERT_TRUE(options->control.has_value());
  EXPECT_EQ(options->control->ToString(), "127.0.0.1:0");
  ASSERT_TRUE(options->metrics.has_value());
  EXPECT_EQ(options->metrics->ToString(), "[::1]:9100");
  EXPECT_EQ(options->backlog, 1024);
  EXPECT_EQ(options->rcvbuf, 4096);
  EXPECT_EQ(options->sndbuf, 8192);
  EXPECT_EQ(options->stats_interval, absl::Milliseconds(200));
  EXPECT_EQ(options->ready_file, "/tmp/ready.json");
}

TEST(ParseTargetServerFlagsTest, StatsIntervalZeroMeansNoLines) {
  TargetServerFlags flags = Minimal();
  flags.stats_interval = "0";
  auto options = ParseTargetServerFlags(flags, 1);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->stats_interval, absl::ZeroDuration());
}

struct BadFlag {
  std::string flag;  // name in the message
  std::string value;
};

class BadFlagTest : public ::testing::TestWithParam<BadFlag> {};

TEST_P(BadFlagTest, ErrorNamesTheFlag) {
  TargetServerFlags flags = Minimal();
  const BadFlag& bad = GetParam();
  if (bad.flag == "listen") flags.listen = bad.value;
  if (bad.flag == "processes") flags.processes = bad.value;
  if (bad.flag == "control") flags.control = bad.value;
  if (bad.flag == "metrics") flags.metrics = bad.value;
  if (bad.flag == "backlog") flags.backlog = bad.value;
  if (bad.flag == "rcvbuf") flags.rcvbuf = bad.value;
  if (bad.flag == "sndbuf") flags.sndbuf = bad.value;
  if (bad.flag == "stats-interval") flags.stats_interval = bad.value;
  auto options = ParseTargetServerFlags(flags, 1);
  ASSERT_FALSE(options.ok()) << bad.flag << "=" << bad.value << " was accepted";
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()), StartsWith("--" + bad.flag + ": "));
}

INSTANTIATE_TEST_SUITE_P(
    Values, BadFlagTest,
    ::testing::Values(BadFlag{"listen", ""}, BadFlag{"listen", "127.0.0.1"},
                      BadFlag{"listen", "127.0.0.1:notaport"}, BadFlag{"listen", "127.0.0.1:70000"},
                      BadFlag{"listen", "300.0.0.1:80"}, BadFlag{"listen", "127.0.0.1:80,"},
                      BadFlag{"processes", "0"}, BadFlag{"processes", "-2"}, BadFlag{"processes", "abc"},
                      BadFlag{"processes", "100000"}, BadFlag{"control", "localhost"},
                      BadFlag{"metrics", "localhost:9100"}, BadFlag{"metrics", "127.0.0.1"},
                      BadFlag{"backlog", "0"}, BadFlag{"backlog", "many"}, BadFlag{"rcvbuf", "-1"},
                      BadFlag{"sndbuf", "1k"}, BadFlag{"stats-interval", "fast"},
                      BadFlag{"stats-interval", "5"}, BadFlag{"stats-interval", "1us"}),
    [](const ::testing::TestParamInfo<BadFlag>& param_info) {
      std::string name = param_info.param.flag + "_" + std::to_string(param_info.index);
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

TEST(DashesToUnderscoresTest, RewritesNamesNotValues) {
  std::vector<std::string> input = {"target-server",
                                    "--stats-interval=200ms",
                                    "--ready-file=/a-b/c",
                                    "-ready-file",
                                    "/x-y",
                                    "--listen=127.0.0.1:0",
                                    "--",
                                    "--not-a-flag"};
  std::vector<char*> argv;
  for (std::string& arg : input) argv.push_back(arg.data());
  std::vector<std::string> out = DashesToUnderscores(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(out,
            (std::vector<std::string>{"target-server", "--stats_interval=200ms", "--ready_file=/a-b/c",
                                      "-ready_file", "/x-y", "--listen=127.0.0.1:0", "--", "--not-a-flag"}));
}

TEST(AvailableCoresTest, AtLeastOne) { EXPECT_GE(AvailableCores(), 1); }

}  // namespace
}  // namespace fourtuple::target_server

#include "agent/agent_options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

using ::testing::HasSubstr;

TEST(AgentOptionsTest, DefaultsParse) {
  absl::StatusOr<AgentOptions> options = ParseAgentFlags(AgentFlags{});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->listen.ToString(), "127.0.0.1:7000");
  EXPECT_EQ(options->processes, 0);
  ASSERT_EQ(options->allow_targets.size(), 2u);
  EXPECT_EQ(options->allow_targets[0].ToString(), "127.0.0.0/8");
  EXPECT_EQ(options->allow_targets[1].ToString(), "::1/128");
  EXPECT_TRUE(options->host_label.empty());
}

TEST(AgentOptionsTest, ListenAcceptsPortZeroAndRefusesGarbage) {
  AgentFlags flags;
  flags.listen = "127.0.0.1:0";
  ASSERT_TRUE(ParseAgentFlags(flags).ok());
  flags.listen = "127.0.0.1";
  absl::StatusOr<AgentOptions> bad = ParseAgentFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--listen"));
}

TEST(AgentOptionsTest, Metrics) {
  AgentFlags flags;
  absl::StatusOr<AgentOptions> none = ParseAgentFlags(flags);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->metrics.has_value());
  flags.metrics = "127.0.0.1:0";
  absl::StatusOr<AgentOptions> given = ParseAgentFlags(flags);
  ASSERT_TRUE(given.ok()) << given.status();
  ASSERT_TRUE(given->metrics.has_value());
  EXPECT_EQ(given->metrics->ToString(), "127.0.0.1:0");
  flags.metrics = "localhost:9100";
  absl::StatusOr<AgentOptions> bad = ParseAgentFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--metrics: "));
}

TEST(AgentOptionsTest, NonLoopbackListenNeedsInsecure) {
  AgentFlags flags;
  flags.listen = "0.0.0.0:7000";
  absl::StatusOr<AgentOptions> refused = ParseAgentFlags(flags);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("--insecure"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--token-file or --tls-cert/--tls-key/--tls-ca"));
  flags.insecure = true;
  EXPECT_TRUE(ParseAgentFlags(flags).ok());
}

TEST(AgentOptionsTest, Processes) {
  EXPECT_EQ(*ParseProcessesFlag("auto"), 0);
  EXPECT_EQ(*ParseProcessesFlag("4"), 4);
  EXPECT_EQ(*ParseProcessesFlag("1024"), 1024);
  for (const char* bad : {"0", "-1", "1025", "four", "", "2x"}) {
    EXPECT_FALSE(ParseProcessesFlag(bad).ok()) << bad;
  }
  AgentFlags flags;
  flags.processes = "0";
  absl::StatusOr<AgentOptions> bad = ParseAgentFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--processes"));
}

TEST(AgentOptionsTest, SourcePorts) {
  EXPECT_EQ(*ParseSourcePortsFlag("kernel"), SourcePorts::kKernel);
  EXPECT_EQ(*ParseSourcePortsFlag("agent"), SourcePorts::kAgent);
  AgentFlags flags;
  absl::StatusOr<AgentOptions> options = ParseAgentFlags(flags);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->source_ports, SourcePorts::kKernel);
  flags.source_ports = "explicit";
  absl::StatusOr<AgentOptions> bad = ParseAgentFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--source-ports"));
  EXPECT_THAT(bad.status().message(), HasSubstr("\"kernel\" or \"agent\""));
}

TEST(AgentOptionsTest, AssignmentTimeout) {
  AgentFlags flags;
  absl::StatusOr<AgentOptions> options = ParseAgentFlags(flags);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->assignment_timeout, absl::Seconds(10));
  flags.assignment_timeout = "1.5s";
  options = ParseAgentFlags(flags);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->assignment_timeout, absl::Milliseconds(1500));
  for (const char* bad : {"10ms", "2h", "soon"}) {
    flags.assignment_timeout = bad;
    absl::StatusOr<AgentOptions> refused = ParseAgentFlags(flags);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("--assignment-timeout: ")) << bad;
  }
}

TEST(AgentOptionsTest, AllowTargets) {
  absl::StatusOr<std::vector<Cidr>> list = ParseCidrList("10.0.0.0/8, 198.18.0.0/15");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].ToString(), "198.18.0.0/15");
  EXPECT_FALSE(ParseCidrList("").ok());
  EXPECT_FALSE(ParseCidrList("10.0.0.0/8,").ok());
  EXPECT_FALSE(ParseCidrList("10.0.0.0/33").ok());

  AgentFlags flags;
  flags.allow_targets = "not-a-cidr";
  absl::StatusOr<AgentOptions> bad = ParseAgentFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--allow-targets"));
}

TEST(AgentOptionsTest, DashesToUnderscoresRewritesNamesOnly) {
  const char* argv[] = {"/bin/agent-x", "--ready-file=/tmp/a-b", "-host-label",
                        "lab-1",        "--allow-targets",       "--insecure",
                        "--",           "--not-a-flag"};
  std::vector<std::string> out = DashesToUnderscores(8, argv);
  EXPECT_EQ(out, (std::vector<std::string>{"/bin/agent-x", "--ready_file=/tmp/a-b", "-host_label", "lab-1",
                                           "--allow_targets", "--insecure", "--", "--not-a-flag"}));
}

TEST(AgentOptionsTest, HostLabel) {
  AgentFlags flags;
  flags.host_label = "lab-1";
  absl::StatusOr<AgentOptions> options = ParseAgentFlags(flags);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->host_label, "lab-1");
  flags.host_label = "lab 1";
  absl::StatusOr<AgentOptions> bad = ParseAgentFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--host-label"));
}

}  // namespace
}  // namespace fourtuple::agent

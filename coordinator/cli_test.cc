#include "coordinator/cli.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::vector<std::string>& args) {
  absl::StatusOr<CommandLine> parsed = ParseCommandLine(args);
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

TEST(CliTest, RunWithFlags) {
  auto parsed = ParseCommandLine({"run", "--plan=p.json", "--report", "r.json", "--force", "--html=r.html"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->command, "run");
  EXPECT_EQ(parsed->Get("plan"), "p.json");
  EXPECT_EQ(parsed->Get("report"), "r.json");
  EXPECT_TRUE(parsed->Has("force"));
  EXPECT_EQ(parsed->Get("html"), "r.html");
  EXPECT_FALSE(parsed->Has("run-id"));
}

TEST(CliTest, ProbeAndPreflight) {
  auto probe = ParseCommandLine({"probe", "--agents=127.0.0.1:7001,127.0.0.1:7002"});
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->Get("agents"), "127.0.0.1:7001,127.0.0.1:7002");
  EXPECT_TRUE(ParseCommandLine({"preflight", "--plan=x"}).ok());
}

TEST(CliTest, ReportAndCompareTakeFiles) {
  auto report = ParseCommandLine({"report", "r.json", "--html=r.html"});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->files, ::testing::ElementsAre("r.json"));
  EXPECT_EQ(report->Get("html"), "r.html");
  auto compare = ParseCommandLine({"compare", "a.json", "b.json"});
  ASSERT_TRUE(compare.ok()) << compare.status();
  EXPECT_THAT(compare->files, ::testing::ElementsAre("a.json", "b.json"));
  EXPECT_THAT(ErrorOf({"report"}), HasSubstr("report: missing FILE.json"));
  EXPECT_THAT(ErrorOf({"report", "a.json", "b.json"}), HasSubstr("unexpected argument \"b.json\""));
  EXPECT_THAT(ErrorOf({"compare", "a.json"}), HasSubstr("compare: missing B.json"));
  EXPECT_THAT(ErrorOf({"compare", "a.json", "b.json", "--html=x"}), HasSubstr("unknown flag --html"));
}

TEST(CliTest, Errors) {
  EXPECT_THAT(ErrorOf({}), HasSubstr("no command"));
  EXPECT_THAT(ErrorOf({"walk"}), HasSubstr("unknown command \"walk\""));
  EXPECT_THAT(ErrorOf({"run"}), HasSubstr("missing required flag --plan"));
  EXPECT_THAT(ErrorOf({"run", "--plan"}), HasSubstr("--plan needs a value"));
  EXPECT_THAT(ErrorOf({"run", "--plan="}), HasSubstr("--plan needs a value"));
  EXPECT_THAT(ErrorOf({"run", "--plan=x", "--agents=y"}), HasSubstr("unknown flag --agents"));
  EXPECT_THAT(ErrorOf({"run", "--plan=x", "extra"}), HasSubstr("unexpected argument \"extra\""));
  EXPECT_THAT(ErrorOf({"run", "--plan=x", "--force=yes"}), HasSubstr("--force takes no value"));
  EXPECT_THAT(ErrorOf({"probe"}), HasSubstr("missing required flag --agents"));
}

TEST(CliTest, Help) {
  auto help = ParseCommandLine({"run", "--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->command, "help");
  EXPECT_THAT(Usage(), HasSubstr("coordinator run --plan=FILE"));
}

}  // namespace
}  // namespace fourtuple::coordinator

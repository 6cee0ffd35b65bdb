// `coordinator run --html=FILE` on a real run: target-server and two agents
// on loopback. The page must draw what the JSON report says (both agents,
// their lines in the open-connections chart, their host facts) and stay
// self-contained.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/expect_contains.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::Subprocess;
using json = nlohmann::json;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++count;
  return count;
}

std::string Grouped(uint64_t value) {
  std::string digits = absl::StrCat(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

TEST(HtmlReportE2eTest, RunWritesAPageDrawingTheReport) {
  const std::string dir = MakeTempDir("ft-html-report");
  std::vector<std::unique_ptr<Subprocess>> servers;

  const std::string target_ready = dir + "/target.ready";
  auto target = Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1",
                                   "--control=127.0.0.1:0", "--ready-file=" + target_ready},
                                  "target-server", dir);
  ASSERT_TRUE(target.ok()) << target.status();
  auto target_info = (*target)->WaitForReadyFile(target_ready, kStartTimeout);
  ASSERT_TRUE(target_info.ok()) << target_info.status() << "\n" << (*target)->Describe();
  servers.push_back(std::move(*target));

  std::vector<std::string> agents;
  for (const char* name : {"agent1", "agent2"}) {
    const std::string ready = dir + "/" + name + ".ready";
    auto agent = Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready}, name, dir);
    ASSERT_TRUE(agent.ok()) << agent.status();
    auto info = (*agent)->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(info.ok()) << info.status() << "\n" << (*agent)->Describe();
    agents.push_back((*info)["listen"][0].get<std::string>());
    servers.push_back(std::move(*agent));
  }

  const json plan = {
      {"target", {{"endpoints", (*target_info)["listen"]}, {"control", (*target_info)["control"]}}},
      {"agents",
       {{{"endpoint", agents[0]}, {"source_addresses", {"127.0.3.1-127.0.3.4"}}},
        {{"endpoint", agents[1]}, {"source_addresses", {"127.0.4.1-127.0.4.4"}}}}},
      {"connections", 4000},
      {"connect_rate", 8000},
      {"hold", "1s"},
      {"echo", {{"rounds", 1}, {"payload_bytes", 16}, {"interval", "200ms"}, {"timeout", "10s"}}},
      {"report_interval", "100ms"}};
  const std::string plan_path = dir + "/plan.json";
  FILE* file = std::fopen(plan_path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  const std::string text = plan.dump(2);
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);

  const std::string report_path = dir + "/report.json", html_path = dir + "/report.html";
  auto coordinator = Subprocess::Start(
      {COORDINATOR_BIN, "run", "--plan=" + plan_path, "--report=" + report_path, "--html=" + html_path},
      "coordinator", dir);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  auto code = (*coordinator)->Wait(absl::Seconds(120));
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << (*coordinator)->Describe();
  EXPECT_EQ(*code, 0) << (*coordinator)->ReadStdout() << "\n" << (*coordinator)->Describe();
  EXPECT_CONTAINS((*coordinator)->ReadStdout(), "html report: " + html_path);

  const json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << (*coordinator)->Describe();
  const std::string html = ReadFileOrEmpty(html_path);
  ASSERT_FALSE(html.empty()) << (*coordinator)->Describe();

  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_CONTAINS(html, "</html>");
  EXPECT_CONTAINS(html, "<span class=\"outcome pass\">PASS</span>");
  EXPECT_EQ(Count(html, "<svg"), 4u);
  for (const char* external : {"<script", "http://", "https://", "src=\"", "href=\"", "url(", "<link"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  // What the JSON report says, drawn: both agents, each with its own line in
  // the open-connections chart, and the totals.
  for (const std::string& agent : agents) EXPECT_CONTAINS(html, agent);
  EXPECT_EQ(Count(html, "<path class=\"series-total\""), 1u);
  EXPECT_EQ(Count(html, "<path class=\"series-agent\""), 2u);
  EXPECT_EQ(Count(html, "<path class=\"series-rate\""), 1u);
  EXPECT_CONTAINS(html, "peak " + Grouped(report["totals"]["peak_open"].get<uint64_t>()) + " open");
  EXPECT_CONTAINS(html, "of " + Grouped(4000) + " requested (100%)");
  EXPECT_CONTAINS(html, "4 sources, 500 each");
  EXPECT_CONTAINS(html, "no failures");
  // Host facts from the agents' probes: this host's name, the port range.
  char hostname[256] = {};
  ASSERT_EQ(gethostname(hostname, sizeof(hostname) - 1), 0);
  EXPECT_CONTAINS(html, "<h2 id=\"host-facts\">");
  EXPECT_CONTAINS(html, std::string("<td>") + hostname + "</td>");
  EXPECT_CONTAINS(html, "ip_local_port_range");
  EXPECT_LT(html.size(), 100u * 1024);

  for (auto& server : servers) server->Signal(SIGTERM);
  for (auto& server : servers) {
    auto exit_code = server->Wait(absl::Seconds(15));
    EXPECT_TRUE(exit_code.ok() && *exit_code == 0) << server->Describe();
  }
}

}  // namespace
}  // namespace fourtuple

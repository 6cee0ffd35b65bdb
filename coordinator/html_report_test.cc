#include "coordinator/html_report.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// A report as BuildReport writes it for a two-agent run, with the optional
// per-agent timeline column and host facts.
Json RealisticReport() {
  Json report = Json::parse(R"json({
    "outcome": "fail",
    "fail_reasons": ["120 of 20000 connections not established"],
    "plan": {"target": {"endpoints": ["127.0.0.1:9000"], "control": "127.0.0.1:9001"},
             "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1-127.0.1.8"]},
                        {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.2.0/29"]}],
             "connections": 20000, "connect_rate": 5000, "max_in_flight": 1024,
             "connect_timeout": "5s", "ramp_timeout": "120s", "hold": "10s",
             "echo": {"rounds": 1, "payload_bytes": 16, "interval": "1s", "timeout": "5s"},
             "report_interval": "1s", "lease": "10s"},
    "totals": {"requested": 20000, "established": 19880, "failed": 120, "peak_open": 19880,
               "echo_verified": 19880, "echo_failed": 0, "connect_seconds": 4.2,
               "connect_rate": 4733.333, "echo_seconds": 0.8, "echo_rate": 24850.0},
    "failures": {"EADDRNOTAVAIL": 100, "connect_timeout": 20, "ECONNREFUSED": 0},
    "latency_ms": {"connect": {"p50": 0.21, "p99": 3.1, "p999": 9.0, "max": 20.5, "count": 19880},
                   "echo_rtt": {"p50": 0.1, "p99": 1.0, "p999": 2.0, "max": 5.0, "count": 19880}},
    "agents": [
      {"endpoint": "127.0.0.1:7001", "host": "lab1", "state": "done", "requested": 10000,
       "established": 10000, "failed": 0, "open": 0, "failures": {},
       "echo_verified": 10000, "echo_mismatched": 0, "echo_timed_out": 0, "echo_closed": 0,
       "processes": 2,
       "by_source_address": {"127.0.1.1": 1250, "127.0.1.2": 1250, "127.0.1.3": 1250,
                             "127.0.1.4": 1250, "127.0.1.5": 1250, "127.0.1.6": 1250,
                             "127.0.1.7": 1250, "127.0.1.8": 1250},
       "host_facts": {"hostname": "lab1", "cores": 2, "memory_total_bytes": 25769803776,
                      "nofile_soft": 20000, "nofile_hard": 20000, "port_range_low": 32768,
                      "port_range_high": 60999, "somaxconn": 4096, "conntrack_present": false,
                      "local_addresses": ["127.0.0.1", "::1"], "kernel": "6.1.0"}},
      {"endpoint": "127.0.0.1:7002", "host": "lab2", "state": "lost", "requested": 10000,
       "established": 9880, "failed": 120, "open": 0,
       "failures": {"EADDRNOTAVAIL": 100, "connect_timeout": 20},
       "echo_verified": 9880, "echo_mismatched": 0, "echo_timed_out": 0, "echo_closed": 0,
       "processes": 2, "error": "stream broke",
       "by_source_address": {"127.0.2.1": 1400, "127.0.2.2": 1500, "127.0.2.3": 1480}}
    ],
    "target": {"open_at_peak": 19880, "accepted": 19880},
    "timeline": []
  })json");
  // Ramp for 4 s, hold, close.
  const double open_a[] = {0, 2500, 5000, 7500, 10000, 10000, 10000, 10000, 0};
  const double open_b[] = {0, 2400, 4900, 7400, 9880, 9880, 9880, 9880, 0};
  double established = 0;
  for (int i = 0; i < 9; ++i) {
    established = std::max(established, open_a[i] + open_b[i]);
    report["timeline"].push_back({{"t", i * 1.0},
                                  {"open", open_a[i] + open_b[i]},
                                  {"established", established},
                                  {"failed", i < 4 ? i * 30 : 120},
                                  {"agents_open", {open_a[i], open_b[i]}}});
  }
  return report;
}

size_t Count(absl::string_view haystack, absl::string_view needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != absl::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// A small well-formedness checker: every tag closed in order (HTML void
// elements excepted), attribute quotes balanced, no raw '<' or '>' in text
// and no markup inside <title>, <text> or <pre>. Returns "" when the
// document passes, else what is wrong and where.
std::string CheckWellFormed(absl::string_view html) {
  static const std::set<std::string> kVoid = {"meta", "br",   "hr",   "img", "input", "link",
                                              "col",  "area", "base", "wbr", "source"};
  std::vector<std::string> stack;
  size_t i = 0;
  while (i < html.size()) {
    const size_t open = html.find('<', i);
    const absl::string_view text = html.substr(i, open == absl::string_view::npos ? html.npos : open - i);
    if (text.find('>') != absl::string_view::npos) {
      return absl::StrCat("raw '>' in text at ", i, ": ", text.substr(0, 80));
    }
    if (open == absl::string_view::npos) break;
    const size_t close = html.find('>', open);
    if (close == absl::string_view::npos) return absl::StrCat("unterminated tag at ", open);
    absl::string_view tag = html.substr(open + 1, close - open - 1);
    i = close + 1;
    if (tag.substr(0, 1) == "!") continue;  // <!DOCTYPE html>
    if (Count(tag, "\"") % 2 != 0) return absl::StrCat("unbalanced quotes in <", tag, ">");
    if (tag.find('<') != absl::string_view::npos) return absl::StrCat("'<' inside <", tag, ">");
    const bool closing = tag.substr(0, 1) == "/";
    if (closing) tag.remove_prefix(1);
    const bool self_closing = !tag.empty() && tag.back() == '/';
    size_t name_end = 0;
    while (name_end < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[name_end])) != 0))
      ++name_end;
    const std::string name(tag.substr(0, name_end));
    if (name.empty()) return absl::StrCat("tag without a name at ", open);
    if (closing) {
      if (stack.empty() || stack.back() != name) {
        return absl::StrCat("</", name, "> at ", open, " closes <", stack.empty() ? "nothing" : stack.back(),
                            ">");
      }
      stack.pop_back();
      continue;
    }
    if (!stack.empty() && (stack.back() == "title" || stack.back() == "pre" || stack.back() == "style")) {
      return absl::StrCat("<", name, "> inside <", stack.back(), ">");
    }
    if (!stack.empty() && stack.back() == "text") return absl::StrCat("<", name, "> inside an SVG <text>");
    if (!self_closing && kVoid.count(name) == 0) stack.push_back(name);
  }
  if (!stack.empty()) return absl::StrCat("unclosed <", stack.back(), "> (", stack.size(), " open)");
  return "";
}

// The d attribute of every <path class="CLASS">.
std::vector<std::string> PathsOfClass(absl::string_view html, absl::string_view css_class) {
  std::vector<std::string> paths;
  const std::string marker = absl::StrCat("<path class=\"", css_class, "\" d=\"");
  for (size_t at = html.find(marker); at != absl::string_view::npos; at = html.find(marker, at + 1)) {
    const size_t begin = at + marker.size();
    paths.emplace_back(html.substr(begin, html.find('"', begin) - begin));
  }
  return paths;
}

// The y coordinates of an SVG path written as "Mx,yLx,y...".
std::vector<double> PathYs(absl::string_view d) {
  std::vector<double> ys;
  size_t at = 0;
  while ((at = d.find(',', at)) != absl::string_view::npos) {
    size_t end = at + 1;
    while (end < d.size() && d[end] != 'L' && d[end] != 'M') ++end;
    double y = 0;
    if (absl::SimpleAtod(d.substr(at + 1, end - at - 1), &y)) ys.push_back(y);
    at = end;
  }
  return ys;
}

void ExpectValidPage(const std::string& html) {
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("</html>"));
  EXPECT_EQ(CheckWellFormed(html), "");
  // One chart (or its "nothing to draw" panel) each, always.
  EXPECT_EQ(Count(html, "<svg"), 4u);
  EXPECT_EQ(Count(html, "</svg>"), 4u);
  // Self-contained: nothing fetched, nothing run.
  EXPECT_THAT(html, AllOf(Not(HasSubstr("<script")), Not(HasSubstr("http://")), Not(HasSubstr("https://")),
                          Not(HasSubstr("src=\"")), Not(HasSubstr("url(")), Not(HasSubstr("@import")),
                          Not(HasSubstr("<link")), Not(HasSubstr("href=\""))));
}

TEST(HtmlReportTest, RealisticReportHasChartsAgentsAndOutcome) {
  const std::string html = RenderHtmlReport(RealisticReport());
  ExpectValidPage(html);
  EXPECT_THAT(html, HasSubstr("<span class=\"outcome fail\">FAIL</span>"));
  EXPECT_THAT(html, HasSubstr("120 of 20000 connections not established"));
  for (const char* expected :
       {"127.0.0.1:7001", "127.0.0.1:7002", "lab1", "lab2", "stream broke", "Open connections over time",
        "Connect rate over time", "Connect and echo latency", "Failures by reason"}) {
    EXPECT_THAT(html, HasSubstr(expected));
  }
  // Totals, grouped for reading.
  EXPECT_THAT(html, HasSubstr("19,880"));
  EXPECT_THAT(html, HasSubstr("of 20,000 requested (99.4%)"));
  // The open chart: one total line, one line per agent, the requested level.
  EXPECT_EQ(PathsOfClass(html, "series-total").size(), 1u);
  EXPECT_EQ(PathsOfClass(html, "series-agent").size(), 2u);
  EXPECT_THAT(html, HasSubstr("requested (20,000)"));
  EXPECT_THAT(html, HasSubstr("peak 19,880 open at 4 s"));
  // The failure bars, largest first, zero counts left out, with the hint.
  const size_t eaddrnotavail = html.find(">EADDRNOTAVAIL</text>");
  const size_t connect_timeout = html.find(">connect_timeout</text>");
  ASSERT_NE(eaddrnotavail, std::string::npos);
  ASSERT_NE(connect_timeout, std::string::npos);
  EXPECT_LT(eaddrnotavail, connect_timeout);
  EXPECT_THAT(html, Not(HasSubstr(">ECONNREFUSED</text>")));
  EXPECT_THAT(html, HasSubstr("120 in 2 reasons"));
  EXPECT_THAT(html, HasSubstr("source ports exhausted"));
  // Source addresses summarized per agent.
  EXPECT_THAT(html, HasSubstr("8 sources, 1,250 each"));
  EXPECT_THAT(html, HasSubstr("3 sources, 1,400–1,500 each"));
  // Host facts, including a fact this renderer does not know.
  EXPECT_THAT(html, HasSubstr("<td>24.0 GiB</td>"));
  EXPECT_THAT(html, HasSubstr("32,768–60,999 (28,232 ports)"));
  EXPECT_THAT(html, HasSubstr("not loaded"));
  EXPECT_THAT(html, HasSubstr("<th>kernel</th>"));
  // Latency: p50 0.1 ms next to max 20.5 ms asks for a log axis.
  EXPECT_THAT(html, HasSubstr("latency (ms, log scale)"));
  EXPECT_THAT(html, HasSubstr("connect p99 3.1 ms"));
  // The plan, pretty-printed.
  EXPECT_THAT(html, HasSubstr("&quot;connect_timeout&quot;: &quot;5s&quot;"));
  // A typical run stays small.
  EXPECT_LT(html.size(), 60u * 1024);
}

TEST(HtmlReportTest, ConnectRateIsTheDerivativeOfEstablished) {
  Json report = {{"outcome", "pass"},
                 {"timeline",
                  {{{"t", 0}, {"established", 0}, {"open", 0}},
                   {{"t", 1}, {"established", 1000}, {"open", 1000}},
                   {{"t", 3}, {"established", 5000}, {"open", 5000}},
                   {{"t", 3}, {"established", 5000}, {"open", 5000}},  // a repeated sample
                   {{"t", 4}, {"established", 5500}, {"open", 5500}}}}};
  const std::string html = RenderHtmlReport(report);
  ExpectValidPage(html);
  // 1000/s over [0,1], 2000/s over [1,3], 500/s over [3,4].
  EXPECT_THAT(html, HasSubstr("peak 2,000 connections/s"));
  const std::vector<std::string> rate = PathsOfClass(html, "series-rate");
  ASSERT_EQ(rate.size(), 1u);
  EXPECT_EQ(PathYs(rate[0]).size(), 6u);                        // two points (a step) per interval
  EXPECT_TRUE(PathsOfClass(html, "series-fail-rate").empty());  // no failures: no failure line
}

TEST(HtmlReportTest, StringsFromTheReportAreEscaped) {
  Json report = RealisticReport();
  report["agents"][0]["endpoint"] = "<script>alert(1)</script>";
  report["agents"][1]["host"] = "\"><img src=x onerror=alert(2)>";
  report["agents"][1]["error"] = "</td></tr></table><b>bold</b>";
  report["agents"][0]["by_source_address"] = {{"<i>src</i>", 5}};
  report["agents"][0]["host_facts"]["hostname"] = "<svg onload=alert(3)>";
  report["failures"] = {{"<b>EVIL</b>", 3}};
  report["plan"]["hold"] = "</pre><script>alert(4)</script>";
  report["outcome"] = "<marquee>";
  report["notes"] = {"a & b < c"};
  const std::string html = RenderHtmlReport(report);
  ExpectValidPage(html);
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;b&gt;bold&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;i&gt;src&lt;/i&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;svg onload=alert(3)&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;EVIL&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;/pre&gt;&lt;script&gt;alert(4)"));
  EXPECT_THAT(html, HasSubstr("&lt;MARQUEE&gt;"));
  EXPECT_THAT(html, HasSubstr("a &amp; b &lt; c"));
  EXPECT_THAT(html, AllOf(Not(HasSubstr("<img")), Not(HasSubstr("<b>")), Not(HasSubstr("<marquee")),
                          Not(HasSubstr("<i>")), Not(HasSubstr("<svg onload"))));
}

// What a server said, beside the agent's failures, escaped like any string
// of the report (a report file may hold anything, not only what
// EscapeSample wrote).
TEST(HtmlReportTest, FailureSamplesShowBesideTheFailuresEscaped) {
  Json report = RealisticReport();
  report["agents"][0]["failures"] = {{"echo_mismatch", 8000}};
  report["agents"][0]["failure_samples"] = {{"echo_mismatch", "-DENIED <script>alert(5)</script>\\r\\n"}};
  const std::string html = RenderHtmlReport(report);
  ExpectValidPage(html);
  EXPECT_THAT(html,
              HasSubstr("<code class=\"sample\">-DENIED &lt;script&gt;alert(5)&lt;/script&gt;\\r\\n</code>"));
  EXPECT_THAT(html, Not(HasSubstr("<script>alert(5)")));
}

TEST(HtmlReportTest, InvalidUtf8AndControlCharactersAreReplaced) {
  nlohmann::ordered_json report = {{"agents", {{{"endpoint", "bad\xff\xfe utf8 \x01 \xc0\xaf end"}}}}};
  const std::string html = RenderHtmlReport(report);
  ExpectValidPage(html);
  EXPECT_THAT(html, HasSubstr("bad\uFFFD\uFFFD utf8 \uFFFD \uFFFD\uFFFD end"));
  EXPECT_THAT(html, Not(HasSubstr("\xff")));
}

TEST(HtmlReportTest, MalformedReportsStillRenderAPage) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Json> reports = {
      Json::object(),
      Json(nullptr),
      Json::array({1, 2, 3}),
      Json("report"),
      Json(42),
      Json::parse("{not json", nullptr, false),  // discarded
      {{"timeline", nullptr}, {"agents", nullptr}, {"totals", nullptr}, {"latency_ms", nullptr}},
      {{"outcome", 1},
       {"timeline", "x"},
       {"agents", "x"},
       {"totals", "x"},
       {"failures", "x"},
       {"latency_ms", "x"},
       {"plan", "x"},
       {"target", "x"},
       {"fail_reasons", "x"},
       {"notes", 7}},
      {{"timeline", {1, "a", nullptr, {{"t", "x"}}, {{"t", nan}}, {{"open", 5}}, Json::array()}}},
      {{"timeline", {{{"t", 0}, {"open", "many"}, {"established", nullptr}, {"agents_open", "x"}}}}},
      {{"timeline", {{{"t", 5}, {"open", 10}, {"agents_open", {nullptr, "x", -3, inf}}}}}},
      {{"agents",
        {1,
         "x",
         nullptr,
         Json::array(),
         {{"endpoint", 5},
          {"host", {1, 2}},
          {"state", false},
          {"requested", "lots"},
          {"failures", {{"EMFILE", "x"}, {"ENFILE", -1}}},
          {"by_source_address", {1, 2}},
          {"host_facts",
           {{"cores", "two"},
            {"memory_total_bytes", -5},
            {"port_range_low", 60999},
            {"port_range_high", 32768},
            {"local_addresses", "x"},
            {"conntrack_present", "maybe"}}},
          {"error", {{"nested", true}}}}}}},
      {{"latency_ms",
        {{"connect", {{"p50", -1}, {"p99", "x"}, {"p999", nan}, {"max", inf}}}, {"echo_rtt", {1, 2}}}}},
      {{"latency_ms", {{"connect", {{"p50", 0}, {"p99", 0}, {"p999", 0}, {"max", 0}}}}}},
      {{"latency_ms", {{"connect", {{"p50", 1e-300}, {"max", 1e300}}}}}},
      {{"totals",
        {{"requested", -5},
         {"established", 1e308},
         {"connect_rate", nan},
         {"peak_open", -9223372036854775807LL - 1},
         {"failed", 18446744073709551615ULL}}},
       {"failures", {{"EADDRNOTAVAIL", 1e308}, {"x", 1e308}}},
       {"timeline",
        {{{"t", -1e308}, {"open", 1e308}, {"established", -1e308}},
         {{"t", 1e308}, {"open", -1e308}, {"established", 1e308}}}}},
      {{"failures", nullptr},
       {"agents", {{{"failures", {{"EMFILE", 3}}}}, {{"failures", {{"EMFILE", 4}, {"ENFILE", 1}}}}}}},
  };
  for (size_t i = 0; i < reports.size(); ++i) {
    SCOPED_TRACE(
        absl::StrCat("report ", i, ": ", reports[i].dump(-1, ' ', false, Json::error_handler_t::replace)));
    const std::string html = RenderHtmlReport(reports[i]);
    ExpectValidPage(html);
    EXPECT_LT(html.size(), 64u * 1024);
  }
}

TEST(HtmlReportTest, EmptyReportSaysWhatIsMissing) {
  const std::string html = RenderHtmlReport(Json::object());
  ExpectValidPage(html);
  EXPECT_THAT(html, HasSubstr("no timeline samples in the report"));
  EXPECT_THAT(html, HasSubstr("a rate needs at least two timeline samples"));
  EXPECT_THAT(html, HasSubstr("no latency percentiles in the report"));
  EXPECT_THAT(html, HasSubstr("no failures"));
  EXPECT_THAT(html, HasSubstr("<span class=\"outcome unknown\">\u2014</span>"));
}

TEST(HtmlReportTest, AgentsFailuresAreSummedWhenTheTotalIsMissing) {
  const std::string html = RenderHtmlReport(
      Json{{"agents", {{{"failures", {{"EMFILE", 3}}}}, {{"failures", {{"EMFILE", 4}, {"ENFILE", 1}}}}}}});
  EXPECT_THAT(html, HasSubstr("8 in 2 reasons"));
  EXPECT_THAT(html, HasSubstr("EMFILE: 7</title>"));
}

TEST(HtmlReportTest, ManyFailureReasonsAreFolded) {
  Json failures = Json::object();
  for (int i = 0; i < 40; ++i) failures[absl::StrCat("E", 100 + i)] = 100 - i;
  const std::string html = RenderHtmlReport(Json{{"failures", failures}});
  ExpectValidPage(html);
  EXPECT_THAT(html, HasSubstr(">other (26 reasons)</text>"));
  EXPECT_EQ(Count(html, "fill=\"#d1242f\"><title>"), 15u);
}

// A long run: 50,000 samples with one spike. The page stays small and the
// spike survives decimation.
TEST(HtmlReportTest, LongTimelinesAreDecimatedKeepingPeaks) {
  Json report = {{"outcome", "pass"}, {"timeline", Json::array()}};
  for (int i = 0; i < 50000; ++i) {
    const double open = i == 31337 ? 1000000 : 1000;
    report["timeline"].push_back({{"t", i * 0.1},
                                  {"open", open},
                                  {"established", 1000 + i},
                                  {"failed", 0},
                                  {"agents_open", {open / 2, open / 2}}});
  }
  const std::string html = RenderHtmlReport(report);
  ExpectValidPage(html);
  EXPECT_LT(html.size(), 300u * 1024);
  EXPECT_THAT(html, HasSubstr("50,000 samples"));
  const std::vector<std::string> total = PathsOfClass(html, "series-total");
  ASSERT_EQ(total.size(), 1u);
  const std::vector<double> ys = PathYs(total[0]);
  EXPECT_LE(ys.size(), 2002u);
  EXPECT_GT(ys.size(), 100u);
  // Baseline and spike are far apart on the chart: the spike was drawn.
  const auto [low, high] = std::minmax_element(ys.begin(), ys.end());
  EXPECT_GT(*high - *low, 150);
  for (const std::string& agent : PathsOfClass(html, "series-agent")) {
    const std::vector<double> agent_ys = PathYs(agent);
    const auto [agent_low, agent_high] = std::minmax_element(agent_ys.begin(), agent_ys.end());
    EXPECT_GT(*agent_high - *agent_low, 50);
  }
}

TEST(HtmlReportTest, ManyAgentsDrawTheFirstTenLines) {
  Json report = {{"agents", Json::array()}, {"timeline", Json::array()}};
  for (int a = 0; a < 25; ++a)
    report["agents"].push_back({{"endpoint", absl::StrCat("10.0.0.", a, ":7000")}});
  for (int i = 0; i < 5; ++i) {
    Json open = Json::array();
    for (int a = 0; a < 25; ++a) open.push_back(i * a);
    report["timeline"].push_back({{"t", i}, {"open", i * 300}, {"agents_open", open}});
  }
  const std::string html = RenderHtmlReport(report);
  ExpectValidPage(html);
  EXPECT_EQ(PathsOfClass(html, "series-agent").size(), 10u);
  EXPECT_THAT(html, HasSubstr("Per-agent lines for the first 10 of 25 agents."));
  EXPECT_THAT(html, HasSubstr("10.0.0.24:7000"));  // still in the agents table
}

TEST(HtmlReportTest, OrderedReportKeepsThePlanKeyOrder) {
  nlohmann::ordered_json report;
  report["plan"]["zeta"] = 1;
  report["plan"]["alpha"] = 2;
  const std::string html = RenderHtmlReport(report);
  EXPECT_LT(html.find("zeta"), html.find("alpha"));
}

// Random damage to a realistic report: any subtree replaced by any type.
TEST(HtmlReportTest, RandomlyDamagedReportsRenderWellFormed) {
  std::mt19937 random(20240611);
  const auto random_value = [&random]() -> Json {
    switch (random() % 9) {
      case 0:
        return nullptr;
      case 1:
        return static_cast<int64_t>(random()) - (1LL << 31);
      case 2:
        return std::ldexp(static_cast<double>(random()), static_cast<int>(random() % 200) - 100);
      case 3:
        return "<&\"'>";
      case 4:
        return Json::array({1, "x", nullptr});
      case 5:
        return Json::object({{"t", "x"}, {"open", -1}});
      case 6:
        return random() % 2 == 0;
      case 7:
        return std::numeric_limits<double>::quiet_NaN();
      default:
        return Json::array();
    }
  };
  for (int round = 0; round < 300; ++round) {
    Json report = RealisticReport();
    // Collect every node's JSON pointer, then damage a few.
    std::vector<Json::json_pointer> pointers;
    const Json flat = report.flatten();
    for (auto it = flat.begin(); it != flat.end(); ++it) {
      Json::json_pointer pointer(it.key());
      while (!pointer.empty()) {
        pointers.push_back(pointer);
        pointer = pointer.parent_pointer();
      }
    }
    const int damage = 1 + static_cast<int>(random() % 4);
    for (int d = 0; d < damage; ++d) {
      const Json::json_pointer& pointer = pointers[random() % pointers.size()];
      if (report.contains(pointer)) report[pointer] = random_value();
    }
    const std::string html = RenderHtmlReport(report);
    ASSERT_EQ(CheckWellFormed(html), "") << report.dump(-1, ' ', false, Json::error_handler_t::replace);
    ASSERT_EQ(Count(html, "<svg"), 4u);
  }
}

}  // namespace
}  // namespace fourtuple::coordinator

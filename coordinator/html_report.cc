#include "coordinator/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/human_format.h"
#include "common/utf8.h"
#include "coordinator/html_text.h"
#include "coordinator/report_charts.h"
#include "coordinator/svg_chart.h"
#include "coordinator/untrusted_json.h"

namespace fourtuple::coordinator {
namespace {

// Size limits: a big lab or a long error must still give a page a browser
// opens at once and a mail server accepts.
constexpr size_t kMaxListed = 64;  // source / local addresses listed per agent
// Agents with a row (and a host facts column) of their own; past this, the
// ones furthest from done, and a distribution for all.
constexpr size_t kMaxAgentRows = 50;
constexpr size_t kMaxHostColumns = 16;
constexpr size_t kMaxPlanChars = 100000;
constexpr size_t kMaxLabelChars = kMaxChartLabelChars;  // names in headings and table labels
constexpr size_t kMaxCellChars = 400;                   // free text in table cells (errors, notes)

// A report number as written: integers exactly, others rounded for reading.
std::string FormatJsonNumber(const ReportJson* value) {
  if (value != nullptr && value->is_number_unsigned()) return FormatCount(value->get<uint64_t>());
  if (value != nullptr && value->is_number_integer()) {
    const int64_t number = value->get<int64_t>();
    const uint64_t magnitude = number < 0 ? 0 - static_cast<uint64_t>(number) : static_cast<uint64_t>(number);
    return absl::StrCat(number < 0 ? "-" : "", FormatCount(magnitude));
  }
  const std::optional<double> number = FiniteNumber(value);
  return number.has_value() ? FormatNumber(*number) : std::string(kMissingValue);
}

// Any JSON value as HTML, for the columns this file does not know: host
// facts added later, totals added later.
std::string FormatAny(const ReportJson* value) {
  if (value == nullptr || value->is_null()) return std::string(kMissingValue);
  if (value->is_boolean()) return value->get<bool>() ? "yes" : "no";
  if (value->is_number()) return FormatJsonNumber(value);
  if (const std::string* text = StringValue(value)) return EscapeHtml(TruncateUtf8(*text, kMaxCellChars));
  return EscapeHtml(
      TruncateUtf8(value->dump(-1, ' ', false, ReportJson::error_handler_t::replace), kMaxCellChars));
}

constexpr absl::string_view kStyle = R"css(
:root{color-scheme:light}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 24px 48px}
header{display:flex;align-items:center;gap:16px;flex-wrap:wrap}
h1{font-size:24px;margin:0}
h2{font-size:18px;margin:32px 0 12px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:0 0 4px}
.subtitle{color:#59636e;margin:6px 0 0;width:100%}
.outcome{font-weight:700;font-size:18px;letter-spacing:.05em;padding:3px 14px;border-radius:6px;color:#fff;background:#6e7781}
.outcome.pass{background:#1a7f37}
.outcome.fail{background:#cf222e}
.reasons{color:#cf222e;margin:10px 0 0}
.notes{color:#9a6700;margin:6px 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:10px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.card .k{color:#59636e;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.card .s{color:#59636e;font-size:12px;overflow-wrap:anywhere}
.card.warn .v{color:#cf222e}
figure{margin:0 0 16px;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px}
figcaption .sum{color:#59636e}
svg{display:block;width:100%;height:auto;margin-top:6px}
svg text{font-size:12px;fill:#424a53}
svg text.label{fill:#1f2328}
svg text.message{font-size:15px;fill:#59636e}
.grid{stroke:#eaeef2}
.axis{stroke:#8c959f}
.empty{fill:#f6f8fa;stroke:#d0d7de}
.hints{margin:8px 0 0;padding-left:20px;color:#424a53}
.sample{font-size:12px;white-space:pre-wrap;word-break:break-all;color:#6e4b00}
.note{color:#59636e;margin:6px 0 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.nowrap,.nowrap{white-space:nowrap}
td.n{text-align:right;white-space:nowrap}
td.error{color:#cf222e}
td .host{color:#59636e;font-size:12px;padding-left:16px}
td.ok{color:#1a7f37;font-weight:600}
td.bad{color:#cf222e;font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
details summary{cursor:pointer}
table.mini{margin-top:4px;font-size:12px}
pre{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px;overflow-x:auto;font-size:12px;margin:0}
footer{color:#59636e;font-size:12px;margin-top:32px}
)css";

std::string Swatch(const char* color) {
  return absl::StrCat("<span class=\"swatch\" style=\"background:", color, "\"></span>");
}

void Card(std::string* out, absl::string_view key, absl::string_view value_html, absl::string_view sub_html,
          bool bad = false) {
  absl::StrAppend(out, "<div class=\"card", bad ? " warn" : "", "\"><div class=\"k\">", key,
                  "</div><div class=\"v\">", value_html, "</div>");
  if (!sub_html.empty()) absl::StrAppend(out, "<div class=\"s\">", sub_html, "</div>");
  absl::StrAppend(out, "</div>");
}

std::string Header(const ReportJson& report) {
  const std::string* outcome = StringValue(FindField(&report, "outcome"));
  std::string badge_class = "unknown";
  std::string badge = std::string(kMissingValue);
  if (outcome != nullptr) {
    badge = EscapeHtml(absl::AsciiStrToUpper(TruncateUtf8(*outcome, kMaxLabelChars)));
    if (*outcome == "pass" || *outcome == "fail") badge_class = *outcome;
  }
  std::string out = absl::StrCat("<header><h1>fourtuple run report</h1><span class=\"outcome ", badge_class,
                                 "\">", badge, "</span>");
  // One line saying what was asked for.
  const ReportJson* plan = FindField(&report, "plan");
  std::vector<std::string> parts;
  if (std::optional<double> connections = NonNegativeNumber(FindField(plan, "connections"))) {
    parts.push_back(absl::StrCat(FormatNumber(*connections), " connections"));
  }
  const size_t agents =
      std::max(ArraySize(FindField(&report, "agents")), ArraySize(FindField(plan, "agents")));
  if (agents > 0) parts.push_back(CountPhrase(agents, "agent", "agents"));
  const size_t endpoints = ArraySize(FindField(FindField(plan, "target"), "endpoints"));
  if (endpoints > 0) {
    parts.push_back(CountPhrase(endpoints, "target endpoint", "target endpoints"));
  }
  if (std::optional<double> rate = NonNegativeNumber(FindField(plan, "connect_rate"))) {
    parts.push_back(*rate > 0 ? absl::StrCat("connect rate ", FormatRate(*rate)) : "connect rate unlimited");
  }
  if (const std::string* hold = StringValue(FindField(plan, "hold"))) {
    parts.push_back(absl::StrCat("hold ", EscapeHtml(TruncateUtf8(*hold, kMaxLabelChars))));
  }
  if (std::optional<double> rounds = NonNegativeNumber(FindField(FindField(plan, "echo"), "rounds"))) {
    parts.push_back(absl::StrCat(FormatNumber(*rounds), *rounds == 1 ? " echo round" : " echo rounds"));
  }
  if (!parts.empty()) {
    absl::StrAppend(&out, "<p class=\"subtitle\">");
    for (size_t i = 0; i < parts.size(); ++i) absl::StrAppend(&out, i > 0 ? " · " : "", parts[i]);
    absl::StrAppend(&out, "</p>");
  }
  absl::StrAppend(&out, "</header>");
  for (const auto& [key, css] : {std::pair{"fail_reasons", "reasons"}, std::pair{"notes", "notes"}}) {
    const ReportJson* list = FindField(&report, key);
    if (ArraySize(list) == 0) continue;
    absl::StrAppend(&out, "<ul class=\"", css, "\">");
    for (size_t i = 0; i < ArraySize(list); ++i) {
      absl::StrAppend(&out, "<li>", FormatAny(ElementAt(list, i)), "</li>");
    }
    absl::StrAppend(&out, "</ul>");
  }
  return out;
}

std::string Totals(const ReportJson& report) {
  const ReportJson* totals = FindField(&report, "totals");
  const auto n = [totals](const char* key) { return NonNegativeNumber(FindField(totals, key)); };
  const auto text = [totals](const char* key) { return FormatJsonNumber(FindField(totals, key)); };
  std::string out = "<h2 id=\"totals\">Totals</h2><div class=\"cards\">";

  std::string sub;
  if (n("requested").has_value()) {
    sub = absl::StrCat("of ", text("requested"), " requested");
    if (n("established").has_value()) {
      const std::string percent = FormatPercent(*n("established"), *n("requested"));
      if (!percent.empty()) absl::StrAppend(&sub, " (", EscapeHtml(percent), ")");
    }
  }
  const bool short_of_requested =
      n("requested").has_value() && n("established").has_value() && *n("established") < *n("requested");
  Card(&out, "established", text("established"), sub, short_of_requested);
  Card(&out, "failed", text("failed"), "connect failures", n("failed").value_or(0) > 0);
  const ReportJson* target = FindField(&report, "target");
  std::string target_sub;
  if (NonNegativeNumber(FindField(target, "open_at_peak")).has_value()) {
    target_sub = absl::StrCat("target saw ", FormatJsonNumber(FindField(target, "open_at_peak")), " at peak");
  }
  Card(&out, "peak open", text("peak_open"), target_sub);
  Card(&out, "connect rate",
       n("connect_rate").has_value() ? absl::StrCat(text("connect_rate"), "/s") : std::string(kMissingValue),
       n("connect_seconds").has_value() ? absl::StrCat("connect phase ", text("connect_seconds"), " s") : "");
  const bool echo_bad = n("echo_failed").value_or(0) > 0;
  Card(&out, "echo verified", text("echo_verified"),
       n("echo_failed").has_value() ? absl::StrCat(text("echo_failed"), " failed") : "", echo_bad);
  if (n("echo_rate").has_value() || n("echo_seconds").has_value()) {
    Card(&out, "echo rate",
         n("echo_rate").has_value() ? absl::StrCat(text("echo_rate"), "/s") : std::string(kMissingValue),
         n("echo_seconds").has_value() ? absl::StrCat("echo phase ", text("echo_seconds"), " s") : "");
  }
  if (target != nullptr) {
    std::string target_error;
    if (const std::string* error = StringValue(FindField(target, "error"))) {
      target_error = EscapeHtml(TruncateUtf8(*error, kMaxCellChars));
    }
    Card(&out, "target accepted", FormatJsonNumber(FindField(target, "accepted")),
         target_error.empty() ? "server-side count" : target_error, !target_error.empty());
  }
  // Totals this page does not know yet still show.
  static constexpr const char* kKnown[] = {"requested",    "established",     "failed",        "peak_open",
                                           "connect_rate", "connect_seconds", "echo_verified", "echo_failed",
                                           "echo_rate",    "echo_seconds"};
  if (totals != nullptr && totals->is_object()) {
    for (auto it = totals->begin(); it != totals->end(); ++it) {
      if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) != std::end(kKnown)) continue;
      Card(&out, EscapeHtml(TruncateUtf8(it.key(), kMaxLabelChars)), FormatAny(&it.value()), "");
    }
  }
  absl::StrAppend(&out, "</div>");
  return out;
}

std::string RenderFigure(absl::string_view title, const ReportFigure& figure) {
  std::string out = absl::StrCat("<figure><figcaption><strong>", title, "</strong>");
  if (!figure.summary_html.empty()) {
    absl::StrAppend(&out, " <span class=\"sum\">— ", figure.summary_html, "</span>");
  }
  absl::StrAppend(&out, "</figcaption>", figure.svg, figure.notes_html, "</figure>");
  return out;
}

// "8 sources, 6,250 each" with the list folded away.
std::string SourceSummary(const ReportJson* agent) {
  const ReportJson* by_source = FindField(agent, "by_source_address");
  if (by_source == nullptr || !by_source->is_object()) return std::string(kMissingValue);
  if (by_source->empty()) return "none";
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (auto it = by_source->begin(); it != by_source->end(); ++it) {
    if (std::optional<double> count = FiniteNumber(&it.value()))
      low = std::min(low, *count), high = std::max(high, *count);
  }
  size_t sources = by_source->size();
  // A report of many addresses names only some (the failing and the
  // busiest); its summary covers them all.
  const ReportJson* all = FindField(agent, "source_address_summary");
  std::optional<double> median;
  if (std::optional<double> addresses = NonNegativeNumber(FindField(all, "addresses"));
      addresses.has_value() && *addresses > 0) {
    sources = static_cast<size_t>(*addresses);
    low = NonNegativeNumber(FindField(all, "min")).value_or(low);
    high = NonNegativeNumber(FindField(all, "max")).value_or(high);
    median = NonNegativeNumber(FindField(all, "median"));
  }
  std::string summary = absl::StrCat(FormatCount(sources), sources == 1 ? " source" : " sources");
  if (std::isfinite(low)) {
    absl::StrAppend(&summary, ", ", FormatNumber(low));
    if (median.has_value() && *median != low && *median != high) {
      absl::StrAppend(&summary, "–", FormatNumber(*median), " (median)");
    }
    if (high != low) absl::StrAppend(&summary, "–", FormatNumber(high));
    absl::StrAppend(&summary, sources == 1 ? "" : " each");
  }
  std::string out = absl::StrCat("<details><summary>", summary, "</summary><table class=\"mini\">");
  size_t listed = 0;
  for (auto it = by_source->begin(); it != by_source->end() && listed < kMaxListed; ++it, ++listed) {
    absl::StrAppend(&out, "<tr><td>", EscapeHtml(TruncateUtf8(it.key(), kMaxLabelChars)),
                    "</td><td class=\"n\">", FormatAny(&it.value()), "</td></tr>");
  }
  if (sources > listed) {
    absl::StrAppend(&out, "<tr><td colspan=\"2\">… ", FormatCount(sources - listed), " more</td></tr>");
  }
  absl::StrAppend(&out, "</table></details>");
  return out;
}

// Failures by reason; under a reason with a sample (failure_samples), what
// the target said.
std::string FailureList(const ReportJson* failures, const ReportJson* samples) {
  if (failures == nullptr || !failures->is_object()) return std::string(kMissingValue);
  std::string out;
  for (auto it = failures->begin(); it != failures->end(); ++it) {
    const std::optional<double> count = FiniteNumber(&it.value());
    if (count.has_value() && *count == 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : "<br>", "<span class=\"nowrap\">",
                    EscapeHtml(TruncateUtf8(it.key(), kMaxLabelChars)), " ", FormatAny(&it.value()),
                    "</span>");
    if (const std::string* sample = StringValue(FindField(samples, it.key().c_str())); sample != nullptr) {
      absl::StrAppend(&out, "<br><code class=\"sample\">", EscapeHtml(TruncateUtf8(*sample, kMaxCellChars)),
                      "</code>");
    }
  }
  return out.empty() ? "none" : out;
}

// Echo failures as one number, broken down by kind when there are any.
std::string EchoFailures(const ReportJson* agent) {
  constexpr std::pair<const char*, const char*> kKinds[] = {
      {"echo_mismatched", "mismatched"}, {"echo_timed_out", "timed out"}, {"echo_closed", "closed"}};
  double total = 0;
  bool any = false;
  std::string breakdown;
  for (const auto& [key, label] : kKinds) {
    const std::optional<double> count = NonNegativeNumber(FindField(agent, key));
    if (!count.has_value()) continue;
    any = true;
    total += *count;
    if (*count > 0) {
      absl::StrAppend(&breakdown, "<br><span class=\"nowrap\">", FormatJsonNumber(FindField(agent, key)), " ",
                      label, "</span>");
    }
  }
  return any ? absl::StrCat(FormatNumber(total), breakdown) : std::string(kMissingValue);
}

// The agents that get a row: all of them, or past kMaxAgentRows those
// furthest from done (not done first, then the lowest share of their
// connections established, then the most failures), in report order.
std::vector<size_t> AgentsShown(const ReportJson* agents) {
  std::vector<size_t> order(ArraySize(agents));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (order.size() <= kMaxAgentRows) return order;
  std::vector<std::tuple<bool, double, double>> keys;
  for (size_t i = 0; i < order.size(); ++i) {
    const ReportJson* agent = ElementAt(agents, i);
    const std::string* state = StringValue(FindField(agent, "state"));
    const double requested = NonNegativeNumber(FindField(agent, "requested")).value_or(0);
    const double established = NonNegativeNumber(FindField(agent, "established")).value_or(0);
    const double failed = NonNegativeNumber(FindField(agent, "failed")).value_or(0);
    keys.emplace_back(state != nullptr && *state == "done", requested > 0 ? established / requested : 1.0,
                      -failed);
  }
  std::stable_sort(order.begin(), order.end(), [&keys](size_t a, size_t b) { return keys[a] < keys[b]; });
  order.resize(kMaxAgentRows);
  std::sort(order.begin(), order.end());
  return order;
}

// Past kMaxAgentRows agents: how many are in each state, and how the
// per-agent counts spread (min, median, p90, max).
std::string AgentsDistribution(const ReportJson* agents) {
  const size_t n = ArraySize(agents);
  std::map<std::string, size_t> states;
  std::map<std::string, std::vector<double>> values;
  static constexpr const char* kKeys[] = {"requested", "established", "failed", "echo_verified"};
  for (size_t i = 0; i < n; ++i) {
    const ReportJson* agent = ElementAt(agents, i);
    const std::string* state = StringValue(FindField(agent, "state"));
    ++states[state == nullptr ? std::string(kMissingValue) : *state];
    for (const char* key : kKeys) {
      if (std::optional<double> v = NonNegativeNumber(FindField(agent, key)); v.has_value()) {
        values[key].push_back(*v);
      }
    }
  }
  std::string by_state;
  for (const auto& [state, count] : states) {
    absl::StrAppend(&by_state, by_state.empty() ? "" : ", ", FormatCount(count), " ", EscapeHtml(state));
  }
  std::string out =
      absl::StrCat("<p>", FormatCount(n), " agents: ", by_state, ". The table lists the ", kMaxAgentRows,
                   " furthest from done (not done first, then the fewest of their connections "
                   "established, then the most failures).</p>"
                   "<table><thead><tr><th>per agent</th><th>min</th><th>median</th><th>p90</th>"
                   "<th>max</th></tr></thead><tbody>");
  for (const char* key : kKeys) {
    std::vector<double>& v = values[key];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const auto at = [&v](double q) { return FormatNumber(v[static_cast<size_t>(q * (v.size() - 1))]); };
    absl::StrAppend(&out, "<tr><td>", key, "</td><td class=\"n\">", at(0), "</td><td class=\"n\">", at(0.5),
                    "</td><td class=\"n\">", at(0.9), "</td><td class=\"n\">", at(1), "</td></tr>");
  }
  absl::StrAppend(&out, "</tbody></table>");
  return out;
}

std::string AgentsTable(const ReportJson& report) {
  const ReportJson* agents = FindField(&report, "agents");
  std::string out = "<h2 id=\"agents\">Agents</h2>";
  if (ArraySize(agents) == 0) return out + "<p>No agents in the report.</p>";
  if (ArraySize(agents) > kMaxAgentRows) absl::StrAppend(&out, AgentsDistribution(agents));
  absl::StrAppend(&out,
                  "<div class=\"scroll\"><table><thead><tr><th>agent (host)</th><th>state</th>"
                  "<th>requested</th><th>established</th><th>failed</th><th>failures</th>"
                  "<th>echo verified</th><th>echo failed</th><th>pro&shy;cesses</th>"
                  "<th>source addresses</th></tr></thead><tbody>");
  constexpr int kColumns = 10;
  for (size_t i : AgentsShown(agents)) {
    const ReportJson* agent = ElementAt(agents, i);
    const auto number = [agent](const char* key) {
      return absl::StrCat("<td class=\"n\">", FormatJsonNumber(FindField(agent, key)), "</td>");
    };
    const std::string* state = StringValue(FindField(agent, "state"));
    const char* state_class = state == nullptr ? "" : *state == "done" ? "ok" : "bad";
    absl::StrAppend(&out, "<tr><td class=\"nowrap\">", Swatch(SeriesColor(i)),
                    EscapeHtml(TruncateUtf8(AgentLabel(agents, i), kMaxLabelChars)), "<div class=\"host\">",
                    FormatAny(FindField(agent, "host")), "</div></td><td class=\"", state_class, "\">",
                    FormatAny(FindField(agent, "state")), "</td>", number("requested"), number("established"),
                    number("failed"), "<td>",
                    FailureList(FindField(agent, "failures"), FindField(agent, "failure_samples")), "</td>",
                    number("echo_verified"), "<td class=\"n\">", EchoFailures(agent), "</td>",
                    number("processes"), "<td>", SourceSummary(agent), "</td></tr>");
    if (const ReportJson* error = FindField(agent, "error"); error != nullptr && !error->is_null()) {
      absl::StrAppend(&out, "<tr><td class=\"error\" colspan=\"", kColumns, "\">error: ", FormatAny(error),
                      "</td></tr>");
    }
  }
  absl::StrAppend(&out, "</tbody></table></div>");
  return out;
}

std::string BytesFact(const ReportJson* facts, const char* key) {
  const std::optional<double> bytes = NonNegativeNumber(FindField(facts, key));
  return bytes.has_value() ? FormatBytes(*bytes) : std::string(kMissingValue);
}

// Host facts, one column per agent so the hosts compare side by side; past
// kMaxHostColumns agents, one column per host (its first agent's facts),
// at most kMaxHostColumns of them.
std::string HostFactsTable(const ReportJson& report) {
  const ReportJson* agents = FindField(&report, "agents");
  std::vector<size_t> columns;
  std::set<std::string> hosts_seen;
  size_t hosts_left_out = 0;
  for (size_t i = 0; i < ArraySize(agents); ++i) {
    if (ArraySize(agents) <= kMaxHostColumns) {
      columns.push_back(i);
      continue;
    }
    const std::string* host = StringValue(FindField(ElementAt(agents, i), "host"));
    if (!hosts_seen.insert(host == nullptr ? std::string() : *host).second) continue;
    if (columns.size() < kMaxHostColumns) {
      columns.push_back(i);
    } else {
      ++hosts_left_out;
    }
  }
  std::vector<const ReportJson*> facts;
  bool any = false;
  for (size_t i : columns) {
    const ReportJson* f = FindField(ElementAt(agents, i), "host_facts");
    if (f != nullptr && !f->is_object()) f = nullptr;
    any = any || f != nullptr;
    facts.push_back(f);
  }
  if (!any) return "";

  using Formatter = std::string (*)(const ReportJson* facts);
  struct Row {
    const char* label;
    std::vector<const char*> keys;  // the row shows when any agent has one of them
    Formatter format;
  };
  const Row rows[] = {
      {"hostname", {"hostname"}, [](const ReportJson* f) { return FormatAny(FindField(f, "hostname")); }},
      {"cores", {"cores"}, [](const ReportJson* f) { return FormatJsonNumber(FindField(f, "cores")); }},
      {"memory total",
       {"memory_total_bytes"},
       [](const ReportJson* f) { return BytesFact(f, "memory_total_bytes"); }},
      {"memory available",
       {"memory_available_bytes"},
       [](const ReportJson* f) { return BytesFact(f, "memory_available_bytes"); }},
      {"RLIMIT_NOFILE soft / hard",
       {"nofile_soft", "nofile_hard"},
       [](const ReportJson* f) {
         return absl::StrCat(FormatJsonNumber(FindField(f, "nofile_soft")), " / ",
                             FormatJsonNumber(FindField(f, "nofile_hard")));
       }},
      {"fs.nr_open",
       {"nr_open"},
       [](const ReportJson* f) { return FormatJsonNumber(FindField(f, "nr_open")); }},
      {"fs.file-max",
       {"file_max"},
       [](const ReportJson* f) { return FormatJsonNumber(FindField(f, "file_max")); }},
      {"ip_local_port_range",
       {"port_range_low", "port_range_high"},
       [](const ReportJson* f) {
         std::optional<double> low = NonNegativeNumber(FindField(f, "port_range_low"));
         std::optional<double> high = NonNegativeNumber(FindField(f, "port_range_high"));
         if (!low.has_value() || !high.has_value()) {
           return absl::StrCat(FormatJsonNumber(FindField(f, "port_range_low")), "–",
                               FormatJsonNumber(FindField(f, "port_range_high")));
         }
         std::string out = absl::StrCat(FormatNumber(*low), "–", FormatNumber(*high));
         if (*high >= *low) absl::StrAppend(&out, " (", FormatNumber(*high - *low + 1), " ports)");
         return out;
       }},
      {"net.core.somaxconn",
       {"somaxconn"},
       [](const ReportJson* f) { return FormatJsonNumber(FindField(f, "somaxconn")); }},
      {"tcp_max_syn_backlog",
       {"tcp_max_syn_backlog"},
       [](const ReportJson* f) { return FormatJsonNumber(FindField(f, "tcp_max_syn_backlog")); }},
      {"conntrack count / max",
       {"conntrack_present", "conntrack_max", "conntrack_count"},
       [](const ReportJson* f) {
         const ReportJson* present = FindField(f, "conntrack_present");
         if (present != nullptr && present->is_boolean() && !present->get<bool>()) {
           return std::string("not loaded");
         }
         return absl::StrCat(FormatJsonNumber(FindField(f, "conntrack_count")), " / ",
                             FormatJsonNumber(FindField(f, "conntrack_max")));
       }},
      {"local addresses",
       {"local_addresses"},
       [](const ReportJson* f) {
         const ReportJson* list = FindField(f, "local_addresses");
         if (list == nullptr || !list->is_array()) return FormatAny(list);
         std::string out = absl::StrCat("<details><summary>", FormatCount(list->size()),
                                        list->size() == 1 ? " address" : " addresses", "</summary>");
         for (size_t i = 0; i < list->size() && i < kMaxListed; ++i) {
           absl::StrAppend(&out, i > 0 ? "<br>" : "", FormatAny(ElementAt(list, i)));
         }
         if (list->size() > kMaxListed)
           absl::StrAppend(&out, "<br>… ", FormatCount(list->size() - kMaxListed), " more");
         return absl::StrCat(out, "</details>");
       }},
      {"version", {"version"}, [](const ReportJson* f) { return FormatAny(FindField(f, "version")); }},
      {"processes",
       {"processes"},
       [](const ReportJson* f) {
         const ReportJson* processes = FindField(f, "processes");
         std::optional<double> count = FiniteNumber(processes);
         return count.has_value() && *count == 0 ? std::string("auto") : FormatJsonNumber(processes);
       }},
  };

  std::string out = "<h2 id=\"host-facts\">Host facts</h2>";
  if (ArraySize(agents) > kMaxHostColumns) {
    absl::StrAppend(
        &out, "<p>One column per host, from its first agent's facts: ", FormatCount(hosts_seen.size()),
        hosts_seen.size() == 1 ? " host" : " hosts", " for ", FormatCount(ArraySize(agents)), " agents",
        hosts_left_out == 0 ? std::string()
                            : absl::StrCat(" (", FormatCount(hosts_left_out), " hosts not shown)"),
        ".</p>");
  }
  absl::StrAppend(&out, "<div class=\"scroll\"><table><thead><tr><th></th>");
  for (size_t i : columns) {
    absl::StrAppend(&out, "<th>", Swatch(SeriesColor(i)),
                    EscapeHtml(TruncateUtf8(AgentLabel(agents, i), kMaxLabelChars)), "</th>");
  }
  absl::StrAppend(&out, "</tr></thead><tbody>");
  std::vector<std::string> known;
  for (const Row& row : rows) {
    known.insert(known.end(), row.keys.begin(), row.keys.end());
    bool present = false;
    for (const ReportJson* f : facts) {
      for (const char* key : row.keys) present = present || FindField(f, key) != nullptr;
    }
    if (!present) continue;
    absl::StrAppend(&out, "<tr><th>", row.label, "</th>");
    for (const ReportJson* f : facts) {
      absl::StrAppend(&out, "<td>", f == nullptr ? std::string(kMissingValue) : row.format(f), "</td>");
    }
    absl::StrAppend(&out, "</tr>");
  }
  // Facts this page does not know yet, in the order agents report them.
  std::vector<std::string> extra;
  for (const ReportJson* f : facts) {
    if (f == nullptr) continue;
    for (auto it = f->begin(); it != f->end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
      if (std::find(extra.begin(), extra.end(), it.key()) != extra.end()) continue;
      if (extra.size() < kMaxListed) extra.push_back(it.key());
    }
  }
  for (const std::string& key : extra) {
    absl::StrAppend(&out, "<tr><th>", EscapeHtml(TruncateUtf8(key, kMaxLabelChars)), "</th>");
    for (const ReportJson* f : facts)
      absl::StrAppend(&out, "<td>", FormatAny(FindField(f, key.c_str())), "</td>");
    absl::StrAppend(&out, "</tr>");
  }
  absl::StrAppend(&out, "</tbody></table></div>");
  return out;
}

std::string PlanSection(const ReportJson& report) {
  std::string out = "<h2 id=\"plan\">Plan</h2>";
  const ReportJson* plan = FindField(&report, "plan");
  if (plan == nullptr || plan->is_null()) return out + "<p>" + std::string(kMissingValue) + "</p>";
  std::string text = plan->dump(2, ' ', false, ReportJson::error_handler_t::replace);
  if (text.size() > kMaxPlanChars) {
    text = absl::StrCat(TruncateUtf8(text.substr(0, kMaxPlanChars), kMaxPlanChars), "\n… (",
                        FormatCount(text.size()), " characters; see the JSON report)");
  }
  return absl::StrCat(out, "<pre>", EscapeHtml(text), "</pre>");
}

std::string Render(const ReportJson& report) {
  const ReportJson* totals = FindField(&report, "totals");
  std::optional<double> requested = NonNegativeNumber(FindField(totals, "requested"));
  if (!requested.has_value())
    requested = NonNegativeNumber(FindField(FindField(&report, "plan"), "connections"));
  const Timeline timeline = ReadTimeline(FindField(&report, "timeline"));
  const ReportJson* agents = FindField(&report, "agents");

  const std::string* outcome = StringValue(FindField(&report, "outcome"));
  std::string out;
  out.reserve(64 * 1024);
  absl::StrAppend(
      &out,
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>fourtuple report: ",
      outcome == nullptr ? std::string(kMissingValue) : EscapeHtml(TruncateUtf8(*outcome, kMaxLabelChars)),
      "</title><style>", kStyle, "</style></head><body><main>\n");
  absl::StrAppend(&out, Header(report), "\n", Totals(report), "\n<h2 id=\"charts\">Charts</h2>\n");
  absl::StrAppend(
      &out, RenderFigure("Open connections over time", OpenConnectionsFigure(timeline, agents, requested)),
      "\n");
  absl::StrAppend(
      &out,
      RenderFigure("Connect rate over time",
                   ConnectRateFigure(timeline, NonNegativeNumber(FindField(totals, "connect_rate")))),
      "\n");
  absl::StrAppend(
      &out, RenderFigure("Connect and echo latency (ms)", LatencyFigure(FindField(&report, "latency_ms"))),
      "\n");
  absl::StrAppend(&out, RenderFigure("Failures by reason", FailuresFigure(report, requested)), "\n");
  absl::StrAppend(&out, AgentsTable(report), "\n", HostFactsTable(report), "\n", PlanSection(report), "\n");
  absl::StrAppend(&out,
                  "<footer>Written by the fourtuple coordinator from the run's JSON report. "
                  "Self-contained: no scripts and no external resources.</footer>\n"
                  "</main></body></html>\n");
  return out;
}

}  // namespace

std::string RenderHtmlReport(const nlohmann::ordered_json& report) { return Render(report); }

std::string RenderHtmlReport(const nlohmann::json& report) {
  // The conversion copies values only; it cannot fail on any content.
  return Render(nlohmann::ordered_json(report));
}

}  // namespace fourtuple::coordinator

#include "coordinator/report_charts.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/failure_reason.h"
#include "common/human_format.h"
#include "coordinator/html_text.h"
#include "coordinator/svg_chart.h"

namespace fourtuple::coordinator {
namespace {

static_assert(kMaxAgentLines <= kSeriesColorCount, "more agent lines would repeat colours");

// Size limits: a long run or a big lab must still give a page a browser
// opens at once and a mail server accepts.
constexpr size_t kPointBudget = 8000;         // points per line chart, all series
constexpr size_t kMaxPointsPerSeries = 2000;  // the total line of a long run
constexpr size_t kMinPointsPerSeries = 250;   // every agent line, however many agents
constexpr size_t kMarkerSamples = 60;         // dots with hover titles on sparse timelines
constexpr size_t kMaxFailureBars = 15;        // the rest are summed into one "other" bar

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool AnyFinite(const std::vector<double>& values) {
  return std::any_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// Reason -> count over the run: the report's "failures", or the agents'
// when the total is missing. Zero counts are left out.
std::vector<std::pair<std::string, double>> ReadFailures(const ReportJson& report) {
  std::vector<std::pair<std::string, double>> out;
  const auto add = [&out](const ReportJson* failures) {
    if (failures == nullptr || !failures->is_object()) return;
    for (auto it = failures->begin(); it != failures->end(); ++it) {
      const std::optional<double> count = NonNegativeNumber(&it.value());
      if (!count.has_value() || *count == 0) continue;
      auto known = std::find_if(out.begin(), out.end(), [&it](const auto& e) { return e.first == it.key(); });
      if (known == out.end()) {
        out.emplace_back(it.key(), *count);
      } else {
        known->second += *count;
      }
    }
  };
  const ReportJson* failures = FindField(&report, "failures");
  if (failures != nullptr && failures->is_object()) {
    add(failures);
  } else {
    const ReportJson* agents = FindField(&report, "agents");
    for (size_t i = 0; i < ArraySize(agents); ++i) add(FindField(ElementAt(agents, i), "failures"));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

}  // namespace

Timeline ReadTimeline(const ReportJson* timeline) {
  struct Sample {
    double t, open, established, failed;
    std::vector<double> agents_open;
  };
  std::vector<Sample> samples;
  size_t agent_columns = 0;
  for (size_t i = 0; i < ArraySize(timeline); ++i) {
    const ReportJson* item = ElementAt(timeline, i);
    const std::optional<double> t = FiniteNumber(FindField(item, "t"));
    if (!t.has_value()) continue;
    Sample sample{*t,
                  FiniteNumber(FindField(item, "open")).value_or(kNaN),
                  FiniteNumber(FindField(item, "established")).value_or(kNaN),
                  FiniteNumber(FindField(item, "failed")).value_or(kNaN),
                  {}};
    const ReportJson* agents_open = FindField(item, "agents_open");
    agent_columns = std::max(agent_columns, ArraySize(agents_open));
    for (size_t a = 0; a < std::min(ArraySize(agents_open), kMaxAgentLines); ++a) {
      sample.agents_open.push_back(FiniteNumber(ElementAt(agents_open, a)).value_or(kNaN));
    }
    samples.push_back(std::move(sample));
  }
  // The driver appends in time order; a hand-edited report may not.
  std::stable_sort(samples.begin(), samples.end(),
                   [](const Sample& a, const Sample& b) { return a.t < b.t; });
  Timeline out;
  out.agent_columns = agent_columns;
  out.agents_open.resize(std::min(agent_columns, kMaxAgentLines));
  for (const Sample& sample : samples) {
    out.t.push_back(sample.t);
    out.open.push_back(sample.open);
    out.established.push_back(sample.established);
    out.failed.push_back(sample.failed);
    for (size_t a = 0; a < out.agents_open.size(); ++a) {
      out.agents_open[a].push_back(a < sample.agents_open.size() ? sample.agents_open[a] : kNaN);
    }
  }
  return out;
}

std::string AgentLabel(const ReportJson* agents, size_t index) {
  const std::string* endpoint = StringValue(FindField(ElementAt(agents, index), "endpoint"));
  if (endpoint != nullptr && !endpoint->empty()) return *endpoint;
  return absl::StrCat("agent ", index + 1);
}

ReportFigure OpenConnectionsFigure(const Timeline& timeline, const ReportJson* agents,
                                   std::optional<double> requested) {
  ReportFigure figure;
  const size_t n = timeline.t.size();
  // The decimation key: the total, or the agents' sum where the total is missing.
  std::vector<double> key(n, kNaN);
  for (size_t i = 0; i < n; ++i) {
    key[i] = timeline.open[i];
    if (std::isfinite(key[i])) continue;
    for (const std::vector<double>& agent : timeline.agents_open) {
      if (std::isfinite(agent[i])) key[i] = (std::isfinite(key[i]) ? key[i] : 0) + agent[i];
    }
  }
  std::vector<size_t> agent_lines;
  for (size_t a = 0; a < timeline.agents_open.size(); ++a) {
    if (AnyFinite(timeline.agents_open[a])) agent_lines.push_back(a);
  }
  const size_t per_series =
      std::clamp(kPointBudget / (1 + agent_lines.size()), kMinPointsPerSeries, kMaxPointsPerSeries);
  const std::vector<size_t> picked = Decimate(key, per_series);

  LineChartSpec spec;
  spec.title = "Open connections over time";
  spec.x_label = "time since start (s)";
  spec.y_label = "open connections";
  spec.empty_message = "no timeline samples in the report";
  ChartSeries total;
  total.label = "total";
  total.css_class = "series-total";
  total.stroke_width = 2.5;
  total.markers = n <= kMarkerSamples;
  total.unit = "open";
  for (size_t i : picked) total.x.push_back(timeline.t[i]), total.y.push_back(timeline.open[i]);
  if (AnyFinite(total.y)) spec.series.push_back(std::move(total));
  for (size_t a : agent_lines) {
    ChartSeries series;
    series.label = AgentLabel(agents, a);
    series.color = SeriesColor(a);
    series.css_class = "series-agent";
    for (size_t i : picked) series.x.push_back(timeline.t[i]), series.y.push_back(timeline.agents_open[a][i]);
    spec.series.push_back(std::move(series));
  }
  if (requested.has_value() && *requested > 0) {
    spec.reference = ReferenceLine{*requested, absl::StrCat("requested (", FormatNumber(*requested), ")")};
  }
  figure.svg = LineChart(spec);

  double peak = -1, peak_t = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(key[i]) && key[i] > peak) peak = key[i], peak_t = timeline.t[i];
  }
  if (peak >= 0) {
    figure.summary_html = absl::StrCat("peak ", FormatNumber(peak), " open at ", FormatSeconds(peak_t));
  }
  if (n > 0) {
    absl::StrAppend(&figure.summary_html, figure.summary_html.empty() ? "" : " · ",
                    CountPhrase(n, "sample", "samples"));
    if (picked.size() < n) {
      absl::StrAppend(&figure.summary_html, ", ", FormatCount(picked.size()), " drawn (peaks kept)");
    }
  }
  if (timeline.agent_columns > agent_lines.size() && timeline.agent_columns > kMaxAgentLines) {
    figure.notes_html = absl::StrCat("<p class=\"note\">Per-agent lines for the first ", kMaxAgentLines,
                                     " of ", FormatCount(timeline.agent_columns), " agents.</p>");
  }
  return figure;
}

ReportFigure ConnectRateFigure(const Timeline& timeline, std::optional<double> mean_rate) {
  ReportFigure figure;
  const size_t n = timeline.t.size();
  // Interval i runs from sample i-1 to sample i; its rate is the derivative
  // of the cumulative counters over it.
  std::vector<size_t> intervals;
  std::vector<double> connect_rate, fail_rate;
  for (size_t i = 1; i < n; ++i) {
    const double dt = timeline.t[i] - timeline.t[i - 1];
    if (!(dt > 0)) continue;
    intervals.push_back(i);
    connect_rate.push_back((timeline.established[i] - timeline.established[i - 1]) / dt);
    fail_rate.push_back((timeline.failed[i] - timeline.failed[i - 1]) / dt);
  }
  const std::vector<size_t> picked = Decimate(connect_rate, kMaxPointsPerSeries / 2);
  const auto steps = [&](const std::vector<double>& rate, ChartSeries* series) {
    for (size_t p : picked) {  // a horizontal step per interval, honest about sampling
      const size_t i = intervals[p];
      series->x.insert(series->x.end(), {timeline.t[i - 1], timeline.t[i]});
      series->y.insert(series->y.end(), {rate[p], rate[p]});
    }
  };
  LineChartSpec spec;
  spec.title = "Connect rate over time";
  spec.x_label = "time since start (s)";
  spec.y_label = "connections / s";
  spec.empty_message =
      n < 2 ? "a rate needs at least two timeline samples" : "no established counts in the timeline";
  ChartSeries connects;
  connects.label = "established / s";
  connects.color = SeriesColor(0);
  connects.css_class = "series-rate";
  connects.stroke_width = 2;
  steps(connect_rate, &connects);
  if (AnyFinite(connects.y)) spec.series.push_back(std::move(connects));
  if (std::any_of(fail_rate.begin(), fail_rate.end(), [](double v) { return v > 0; })) {
    ChartSeries failures;
    failures.label = "failed / s";
    failures.color = kFailureColor;
    failures.css_class = "series-fail-rate";
    steps(fail_rate, &failures);
    spec.series.push_back(std::move(failures));
  }
  if (!spec.series.empty() && mean_rate.has_value() && *mean_rate > 0) {
    spec.reference =
        ReferenceLine{*mean_rate, absl::StrCat("mean over the connect phase (", FormatRate(*mean_rate), ")")};
  }
  figure.svg = LineChart(spec);
  double peak = -1;
  for (double rate : connect_rate) {
    if (std::isfinite(rate)) peak = std::max(peak, rate);
  }
  if (peak >= 0) figure.summary_html = absl::StrCat("peak ", FormatNumber(peak), " connections/s");
  if (mean_rate.has_value()) {
    absl::StrAppend(&figure.summary_html, figure.summary_html.empty() ? "" : " · ", "mean ",
                    FormatRate(*mean_rate), " over the connect phase");
  }
  return figure;
}

ReportFigure LatencyFigure(const ReportJson* latency) {
  struct Kind {
    const char* key;
    const char* name;
  };
  constexpr Kind kKinds[] = {
      {"connect", "connect"}, {"connect_queue", "queued before connect"}, {"echo_rtt", "echo round trip"}};
  constexpr const char* kStatKeys[] = {"p50", "p99", "p999", "max"};

  ReportFigure figure;
  GroupedBarChartSpec spec;
  spec.title = "Latency percentiles";
  spec.quantity = "latency (ms)";
  spec.unit = "ms";
  spec.groups = {"p50", "p99", "p99.9", "max"};
  spec.empty_message = "no latency percentiles in the report";
  for (size_t k = 0; k < std::size(kKinds); ++k) {
    const ReportJson* kind = FindField(latency, kKinds[k].key);
    BarKind bars{kKinds[k].name, kKinds[k].name, SeriesColor(k)};
    if (std::optional<double> count = NonNegativeNumber(FindField(kind, "count"))) {
      absl::StrAppend(&bars.legend, " (", FormatNumber(*count), " samples)");
    }
    spec.kinds.push_back(std::move(bars));
    std::vector<std::optional<double>>& values = spec.values.emplace_back();
    for (const char* stat : kStatKeys) values.push_back(NonNegativeNumber(FindField(kind, stat)));
    if (values[1].has_value()) {
      absl::StrAppend(&figure.summary_html, figure.summary_html.empty() ? "" : " · ", kKinds[k].name, " p99 ",
                      FormatNumber(*values[1]), " ms");
    }
  }
  figure.svg = GroupedBarChart(spec);
  return figure;
}

ReportFigure FailuresFigure(const ReportJson& report, std::optional<double> requested) {
  std::vector<std::pair<std::string, double>> failures = ReadFailures(report);
  ReportFigure figure;
  HorizontalBarChartSpec spec;
  spec.title = "Failures by reason";
  spec.x_label = "failures (count)";
  spec.empty_message = "no failures";
  if (failures.empty()) {
    figure.svg = HorizontalBarChart(spec);
    figure.summary_html = "none";
    return figure;
  }
  double total = 0;
  for (const auto& [reason, count] : failures) total += count;
  figure.summary_html =
      absl::StrCat(FormatNumber(total), " in ", CountPhrase(failures.size(), "reason", "reasons"));
  // Causes and fixes for the reasons people meet most.
  for (const auto& [reason, count] : failures) {
    const absl::string_view hint = ReasonHint(reason);
    if (hint.empty()) continue;
    if (figure.notes_html.empty()) figure.notes_html = "<ul class=\"hints\">";
    absl::StrAppend(&figure.notes_html, "<li><code>", EscapeHtml(reason), "</code> ", EscapeHtml(hint),
                    "</li>");
  }
  if (!figure.notes_html.empty()) absl::StrAppend(&figure.notes_html, "</ul>");

  if (failures.size() > kMaxFailureBars) {
    double rest = 0;
    for (size_t i = kMaxFailureBars - 1; i < failures.size(); ++i) rest += failures[i].second;
    const size_t folded = failures.size() - (kMaxFailureBars - 1);
    failures.resize(kMaxFailureBars - 1);
    failures.emplace_back(absl::StrCat("other (", CountPhrase(folded, "reason", "reasons"), ")"), rest);
  }
  for (const auto& [reason, count] : failures) {
    std::string value = FormatNumber(count);
    const std::string percent = requested.has_value() ? FormatPercent(count, *requested) : "";
    if (!percent.empty()) absl::StrAppend(&value, " (", percent, " of requested)");
    spec.bars.push_back({reason, count, std::move(value)});
  }
  figure.svg = HorizontalBarChart(spec);
  return figure;
}

}  // namespace fourtuple::coordinator

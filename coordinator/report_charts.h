// The HTML report's charts, read from the run report's JSON (which may hold
// anything: untrusted_json.h) and drawn with svg_chart.h: open connections
// over time (in total, per agent, and the requested level), the connect rate
// over time, connect and echo latency percentiles, failures by reason.
//
// Long timelines are decimated, peaks kept, so the page stays small.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_REPORT_CHARTS_H_
#define FOURTUPLE_COORDINATOR_REPORT_CHARTS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/untrusted_json.h"

namespace fourtuple::coordinator {

// Agent lines drawn at most: one per series colour.
inline constexpr size_t kMaxAgentLines = 10;

// The report's "timeline", sorted by time, a column per field.
struct Timeline {
  std::vector<double> t, open, established, failed;  // NaN where a sample lacks the field
  std::vector<std::vector<double>> agents_open;      // [agent][sample], at most kMaxAgentLines
  size_t agent_columns = 0;                          // the widest agents_open seen
};

// Samples without a time are left out.
Timeline ReadTimeline(const ReportJson* timeline);

// A chart with what its caption says next to the title.
struct ReportFigure {
  std::string svg;
  std::string summary_html;  // after the figure's title: "peak 19,880 open at 4 s"
  std::string notes_html;    // below the chart
};

// `agents` is the report's "agents"; `requested`, the plan's connections,
// is drawn as a reference line.
ReportFigure OpenConnectionsFigure(const Timeline& timeline, const ReportJson* agents,
                                   std::optional<double> requested);

// The derivative of the cumulative established and failed counts, a step per
// sampling interval; `mean_rate` (totals.connect_rate) as a reference line.
ReportFigure ConnectRateFigure(const Timeline& timeline, std::optional<double> mean_rate);

// The report's "latency_ms": p50, p99, p99.9 and max of connect and echo.
ReportFigure LatencyFigure(const ReportJson* latency);

// The report's "failures" (or, when it has none, the agents' summed), most
// first, the least folded into one "other" bar; with each reason's cause
// and fix below. Bars say their share of `requested` when it is known.
ReportFigure FailuresFigure(const ReportJson& report, std::optional<double> requested);

// How the page names agent `index` of the report's "agents": its endpoint,
// else "agent N".
std::string AgentLabel(const ReportJson* agents, size_t index);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_REPORT_CHARTS_H_

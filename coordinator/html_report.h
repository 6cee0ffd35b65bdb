// The HTML run report (`coordinator run --html=FILE`): the report JSON
// (docs/plan-and-report.md) drawn as one self-contained page — inline CSS
// and hand-made inline SVG charts, no scripts, fonts, images or links — so it
// can be mailed, archived and opened offline years later.
//
// The page shows the outcome, totals, four charts (open connections over
// time in total and per agent, connect rate over time, connect and echo
// latency percentiles, failures by reason), the per-agent table, each agent's
// host facts and the plan.
//
// The input is treated as untrusted: any field may be missing or of another
// type (shown as "—"; untrusted_json.h), and every string is HTML-escaped
// (html_text.h: endpoints, hosts, reason names and plan strings come from
// users and agents). The charts are report_charts.h's, drawn with
// svg_chart.h; numbers are written as common/human_format.h writes them.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_HTML_REPORT_H_
#define FOURTUPLE_COORDINATOR_HTML_REPORT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// Renders `report` as one HTML document. Never throws on the report's
// content. Long timelines are decimated (peaks kept) so the page stays small.
std::string RenderHtmlReport(const nlohmann::json& report);

// Same, keeping the plan's keys in the order BuildReport wrote them.
std::string RenderHtmlReport(const nlohmann::ordered_json& report);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_HTML_REPORT_H_

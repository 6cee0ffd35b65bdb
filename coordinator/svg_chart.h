// A small kit of hand-written inline SVG charts, for the HTML report (which
// has no scripts: hover text is SVG <title>s): line charts, grouped bars,
// horizontal bars, and the panel a chart with nothing to draw shows in its
// place. Every text given here (titles, labels, units) is raw text: the kit
// escapes it (html_text.h).
//
// The charts share one frame, 960 units wide and scaled to the page, the
// plot between x = 76 and x = 932, 12-unit text; the page's stylesheet
// styles the classes used ("grid", "axis", "label", "message", "empty",
// and each line series' own).
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_SVG_CHART_H_
#define FOURTUPLE_COORDINATOR_SVG_CHART_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fourtuple::coordinator {

// Series colours: Tableau 10 without its red, which marks failures. Past
// the tenth they repeat.
inline constexpr size_t kSeriesColorCount = 10;
const char* SeriesColor(size_t index);
inline constexpr const char* kTotalColor = "#1f2328";
inline constexpr const char* kFailureColor = "#d1242f";
inline constexpr const char* kReferenceColor = "#8c959f";

// Legend and axis labels past this many characters are cut with "…".
inline constexpr size_t kMaxChartLabelChars = 48;

// An SVG coordinate or length as written in the markup: at most one decimal
// (a tenth of a unit is below a pixel), "0" for -0 and anything not finite.
std::string SvgNumber(double value);

struct ChartSeries {
  std::string label;  // legend text; empty: not in the legend
  const char* color = kTotalColor;
  const char* css_class = "series";  // the <path>'s class
  double stroke_width = 1.5;
  std::vector<double> x, y;  // the same length; a point with a NaN breaks the line
  bool markers = false;      // a dot per point, its hover title "X s: Y UNIT"
  std::string unit;          // for those titles
};

// A dashed horizontal line across the plot (a target level), in the legend.
struct ReferenceLine {
  double value = 0;
  std::string label;
};

struct LineChartSpec {
  std::string title;  // for screen readers
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;  // the first is drawn on top
  std::optional<ReferenceLine> reference;
  std::string empty_message;  // shown when no series has a finite point
};

// Axes from 0 (or below, for negative values) with 1-2-5 ticks.
std::string LineChart(const LineChartSpec& spec);

// One bar per kind within each group.
struct BarKind {
  std::string name;    // in hover titles: "connect p99: 3.1 ms"
  std::string legend;  // legend text; empty: the name
  const char* color;
};

struct GroupedBarChartSpec {
  std::string title;
  std::string quantity;             // the y axis: "latency (ms)"
  std::string unit;                 // after values in hover titles: "ms"
  std::vector<std::string> groups;  // along the x axis: "p50", "p99", ...
  std::vector<BarKind> kinds;
  // values[kind][group]; a missing or negative value shows as a dash.
  std::vector<std::vector<std::optional<double>>> values;
  std::string empty_message;  // shown when there is no value at all
};

// Values spanning more than 20x (a tail next to its median) get a log axis,
// which the axis label says.
std::string GroupedBarChart(const GroupedBarChartSpec& spec);

struct HorizontalBar {
  std::string label;       // left of the bar
  double value = 0;        // >= 0
  std::string value_text;  // right of the bar, and in its hover title
};

struct HorizontalBarChartSpec {
  std::string title;
  std::string x_label;
  const char* color = kFailureColor;
  std::vector<HorizontalBar> bars;  // top to bottom
  std::string empty_message;
};

std::string HorizontalBarChart(const HorizontalBarChartSpec& spec);

// The panel of a chart with nothing to draw: it keeps the chart's place and
// says why.
std::string EmptyChart(absl::string_view title, absl::string_view message);

// Which of a long series' points to draw: indices of at most about
// `max_points` samples, in order. In each of max_points / 2 buckets the
// smallest and the largest `key` (NaN aside), so a one-sample spike or dip
// survives where a plain stride would drop it; plus the first and last.
std::vector<size_t> Decimate(const std::vector<double>& key, size_t max_points);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_SVG_CHART_H_

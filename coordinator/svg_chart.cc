#include "coordinator/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/human_format.h"
#include "common/utf8.h"
#include "coordinator/display_width.h"
#include "coordinator/html_text.h"

namespace fourtuple::coordinator {
namespace {

constexpr const char* kPalette[kSeriesColorCount] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                                                     "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#17becf"};

constexpr double kChartWidth = 960;
constexpr double kPlotLeft = 76;
constexpr double kPlotRight = kChartWidth - 28;
constexpr double kPlotHeight = 230;
constexpr double kLegendRow = 18;

// Rough width of `text` at the charts' 12-unit font, for laying out
// legends and label columns.
double TextWidth(absl::string_view text) { return 6.8 * static_cast<double>(DisplayWidth(text)); }

struct Ticks {
  double lo = 0;
  double hi = 1;
  std::vector<double> values;
};

// 1-2-5 ticks covering [lo, hi], about `target` intervals.
Ticks NiceTicks(double lo, double hi, int target) {
  Ticks ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) hi = lo + (lo == 0 ? 1 : std::fabs(lo));
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
  if (!(step > 0) || !std::isfinite(step) || !std::isfinite(lo / step)) {
    ticks.lo = lo, ticks.hi = hi, ticks.values = {lo, hi};
    return ticks;
  }
  ticks.lo = std::floor(lo / step) * step;
  ticks.hi = std::ceil(hi / step) * step;
  const long intervals = std::lround((ticks.hi - ticks.lo) / step);
  for (long i = 0; i <= intervals && i <= 50; ++i) {
    double value = ticks.lo + static_cast<double>(i) * step;
    if (std::fabs(value) < step * 1e-9) value = 0;
    ticks.values.push_back(value);
  }
  return ticks;
}

// Maps [lo, hi] onto [p0, p1], clamped so a stray value cannot leave the plot.
double Map(double value, double lo, double hi, double p0, double p1) {
  double fraction = hi > lo ? (value - lo) / (hi - lo) : 0;
  if (!(fraction >= 0)) fraction = 0;  // also NaN
  if (fraction > 1) fraction = 1;
  return p0 + fraction * (p1 - p0);
}

struct LegendItem {
  std::string label;  // raw text
  const char* color;
  bool dashed = false;
  bool box = false;  // a filled square (bars) instead of a line
};

// Lays `items` out in rows over the plot; appends to `svg` when it is not
// null. Returns the height used.
double Legend(std::string* svg, const std::vector<LegendItem>& items, double top) {
  if (items.empty()) return 0;
  double x = kPlotLeft;
  double y = top + 12;
  int rows = 1;
  for (const LegendItem& item : items) {
    const std::string label = TruncateUtf8(item.label, kMaxChartLabelChars);
    const double width = 22 + TextWidth(label) + 18;
    if (x + width > kPlotRight && x > kPlotLeft) x = kPlotLeft, y += kLegendRow, ++rows;
    if (svg != nullptr) {
      if (item.box) {
        absl::StrAppend(svg, "<rect x=\"", SvgNumber(x), "\" y=\"", SvgNumber(y - 9),
                        "\" width=\"14\" height=\"10\" fill=\"", item.color, "\"/>");
      } else {
        absl::StrAppend(svg, "<line x1=\"", SvgNumber(x), "\" y1=\"", SvgNumber(y - 4), "\" x2=\"",
                        SvgNumber(x + 16), "\" y2=\"", SvgNumber(y - 4), "\" stroke=\"", item.color,
                        "\" stroke-width=\"2.5\"", item.dashed ? " stroke-dasharray=\"5 3\"" : "", "/>");
      }
      absl::StrAppend(svg, "<text x=\"", SvgNumber(x + 22), "\" y=\"", SvgNumber(y), "\">", EscapeHtml(label),
                      "</text>");
    }
    x += width;
  }
  return rows * kLegendRow;
}

std::string SvgOpen(double height, absl::string_view title) {
  return absl::StrCat("<svg viewBox=\"0 0 ", SvgNumber(kChartWidth), " ", SvgNumber(height),
                      "\" role=\"img\" aria-label=\"", EscapeHtml(title), "\">");
}

// Horizontal grid lines with their labels at the given values; `y` maps a
// value to its SVG coordinate (linear or log).
void YGrid(std::string* svg, const std::vector<double>& values, absl::FunctionRef<double(double)> y) {
  for (double value : values) {
    const double at = y(value);
    absl::StrAppend(svg, "<line class=\"grid\" x1=\"", SvgNumber(kPlotLeft), "\" y1=\"", SvgNumber(at),
                    "\" x2=\"", SvgNumber(kPlotRight), "\" y2=\"", SvgNumber(at), "\"/><text x=\"",
                    SvgNumber(kPlotLeft - 8), "\" y=\"", SvgNumber(at + 4), "\" text-anchor=\"end\">",
                    FormatCompactNumber(value), "</text>");
  }
}

void Axes(std::string* svg, double top, double bottom, absl::string_view x_label, absl::string_view y_label) {
  absl::StrAppend(svg, "<line class=\"axis\" x1=\"", SvgNumber(kPlotLeft), "\" y1=\"", SvgNumber(bottom),
                  "\" x2=\"", SvgNumber(kPlotRight), "\" y2=\"", SvgNumber(bottom), "\"/>",
                  "<line class=\"axis\" x1=\"", SvgNumber(kPlotLeft), "\" y1=\"", SvgNumber(top), "\" x2=\"",
                  SvgNumber(kPlotLeft), "\" y2=\"", SvgNumber(bottom), "\"/>");
  if (!x_label.empty()) {
    absl::StrAppend(svg, "<text class=\"label\" x=\"", SvgNumber((kPlotLeft + kPlotRight) / 2), "\" y=\"",
                    SvgNumber(bottom + 40), "\" text-anchor=\"middle\">", EscapeHtml(x_label), "</text>");
  }
  absl::StrAppend(svg, "<text class=\"label\" text-anchor=\"middle\" transform=\"translate(16 ",
                  SvgNumber((top + bottom) / 2), ") rotate(-90)\">", EscapeHtml(y_label), "</text>");
}

}  // namespace

const char* SeriesColor(size_t index) { return kPalette[index % kSeriesColorCount]; }

std::string SvgNumber(double value) {
  if (!std::isfinite(value)) value = 0;
  std::string text = absl::StrFormat("%.1f", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string EmptyChart(absl::string_view title, absl::string_view message) {
  return absl::StrCat(SvgOpen(90, title),
                      "<rect class=\"empty\" x=\"1\" y=\"1\" width=\"958\" height=\"88\" rx=\"6\"/>",
                      "<text class=\"message\" x=\"480\" y=\"50\" text-anchor=\"middle\">",
                      EscapeHtml(message), "</text></svg>");
}

std::string LineChart(const LineChartSpec& spec) {
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = 0, y_max = 0;
  bool any = false;
  for (const ChartSeries& series : spec.series) {
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      any = true;
      x_min = std::min(x_min, series.x[i]), x_max = std::max(x_max, series.x[i]);
      y_min = std::min(y_min, series.y[i]), y_max = std::max(y_max, series.y[i]);
    }
  }
  if (!any) return EmptyChart(spec.title, spec.empty_message);
  if (spec.reference.has_value()) y_max = std::max(y_max, spec.reference->value);
  if (!(x_max > x_min)) x_max = x_min + 1;
  const Ticks y_ticks = NiceTicks(y_min, y_max, 5);
  const Ticks x_ticks = NiceTicks(x_min, x_max, 8);

  std::vector<LegendItem> legend;
  for (const ChartSeries& series : spec.series) {
    if (!series.label.empty()) legend.push_back({series.label, series.color});
  }
  if (spec.reference.has_value()) legend.push_back({spec.reference->label, kReferenceColor, true});
  const double top = 10 + Legend(nullptr, legend, 0) + 12;
  const double bottom = top + kPlotHeight;
  const double height = bottom + 52;
  const auto px = [&](double x) { return Map(x, x_min, x_max, kPlotLeft, kPlotRight); };
  const auto py = [&](double y) { return Map(y, y_ticks.lo, y_ticks.hi, bottom, top); };

  std::string svg = SvgOpen(height, spec.title);
  YGrid(&svg, y_ticks.values, py);
  const double slack = (x_max - x_min) * 1e-9;
  for (double value : x_ticks.values) {
    if (value < x_min - slack || value > x_max + slack) continue;
    const double x = px(value);
    absl::StrAppend(&svg, "<line class=\"axis\" x1=\"", SvgNumber(x), "\" y1=\"", SvgNumber(bottom),
                    "\" x2=\"", SvgNumber(x), "\" y2=\"", SvgNumber(bottom + 5), "\"/><text x=\"",
                    SvgNumber(x), "\" y=\"", SvgNumber(bottom + 19), "\" text-anchor=\"middle\">",
                    FormatCompactNumber(value), "</text>");
  }
  Axes(&svg, top, bottom, spec.x_label, spec.y_label);
  if (spec.reference.has_value()) {
    const double y = py(spec.reference->value);
    absl::StrAppend(&svg, "<line x1=\"", SvgNumber(kPlotLeft), "\" y1=\"", SvgNumber(y), "\" x2=\"",
                    SvgNumber(kPlotRight), "\" y2=\"", SvgNumber(y), "\" stroke=\"", kReferenceColor,
                    "\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
  }
  for (size_t s = spec.series.size(); s-- > 0;) {
    const ChartSeries& series = spec.series[s];
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
        pen_down = false;
        continue;
      }
      absl::StrAppend(&path, pen_down ? "L" : "M", SvgNumber(px(series.x[i])), ",",
                      SvgNumber(py(series.y[i])));
      pen_down = true;
    }
    if (path.empty()) continue;
    absl::StrAppend(&svg, "<path class=\"", series.css_class, "\" d=\"", path, "\" fill=\"none\" stroke=\"",
                    series.color, "\" stroke-width=\"", SvgNumber(series.stroke_width),
                    "\" stroke-linejoin=\"round\"/>");
    if (!series.markers) continue;
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      absl::StrAppend(&svg, "<circle cx=\"", SvgNumber(px(series.x[i])), "\" cy=\"",
                      SvgNumber(py(series.y[i])), "\" r=\"3\" fill=\"", series.color, "\"><title>",
                      FormatNumber(series.x[i]), " s: ", FormatNumber(series.y[i]), " ",
                      EscapeHtml(series.unit), "</title></circle>");
    }
  }
  Legend(&svg, legend, 10);
  absl::StrAppend(&svg, "</svg>");
  return svg;
}

std::string GroupedBarChart(const GroupedBarChartSpec& spec) {
  const size_t kinds = spec.kinds.size(), groups = spec.groups.size();
  const auto value_of = [&spec](size_t k, size_t g) -> std::optional<double> {
    if (k >= spec.values.size() || g >= spec.values[k].size()) return std::nullopt;
    const std::optional<double>& value = spec.values[k][g];
    if (!value.has_value() || !std::isfinite(*value) || *value < 0) return std::nullopt;
    return value;
  };
  double min_positive = std::numeric_limits<double>::infinity(), max_value = 0;
  bool any = false;
  for (size_t k = 0; k < kinds; ++k) {
    for (size_t g = 0; g < groups; ++g) {
      const std::optional<double> value = value_of(k, g);
      if (!value.has_value()) continue;
      any = true;
      max_value = std::max(max_value, *value);
      if (*value > 0) min_positive = std::min(min_positive, *value);
    }
  }
  if (!any) return EmptyChart(spec.title, spec.empty_message);

  // Tails are often 100x the median: a log axis keeps the median readable.
  const bool log_scale = std::isfinite(min_positive) && max_value / min_positive > 20;
  double lo = 0, hi = 1;
  std::vector<double> tick_values;
  if (log_scale) {
    double hi_exp = std::ceil(std::log10(max_value));
    double lo_exp = std::max(std::floor(std::log10(min_positive)), hi_exp - 9);
    if (hi_exp <= lo_exp) hi_exp = lo_exp + 1;
    lo = lo_exp, hi = hi_exp;
    for (double e = lo_exp; e <= hi_exp; ++e) tick_values.push_back(std::pow(10.0, e));
  } else {
    const Ticks ticks = NiceTicks(0, max_value, 5);
    lo = ticks.lo, hi = ticks.hi, tick_values = ticks.values;
  }
  std::vector<LegendItem> legend;
  for (const BarKind& kind : spec.kinds) {
    legend.push_back({kind.legend.empty() ? kind.name : kind.legend, kind.color, false, true});
  }
  const double top = 10 + Legend(nullptr, legend, 0) + 22;  // room for the value labels
  const double bottom = top + kPlotHeight - 20;
  const auto py = [&](double v) {
    if (log_scale) return v > 0 ? Map(std::log10(v), lo, hi, bottom, top) : bottom;
    return Map(v, lo, hi, bottom, top);
  };

  std::string svg = SvgOpen(bottom + 52, spec.title);
  YGrid(&svg, tick_values, py);
  std::string y_label = spec.quantity;
  if (log_scale) {
    // "latency (ms)" -> "latency (ms, log scale)"
    if (!y_label.empty() && y_label.back() == ')') {
      y_label.insert(y_label.size() - 1, ", log scale");
    } else {
      absl::StrAppend(&y_label, " (log scale)");
    }
  }
  Axes(&svg, top, bottom, "", y_label);
  const double group_width = (kPlotRight - kPlotLeft) / static_cast<double>(std::max<size_t>(groups, 1));
  const double bar_width = std::min(64.0, group_width * 0.32);
  for (size_t g = 0; g < groups; ++g) {
    const double center = kPlotLeft + group_width * (static_cast<double>(g) + 0.5);
    const std::string group = EscapeHtml(TruncateUtf8(spec.groups[g], kMaxChartLabelChars));
    absl::StrAppend(&svg, "<text class=\"label\" x=\"", SvgNumber(center), "\" y=\"", SvgNumber(bottom + 22),
                    "\" text-anchor=\"middle\">", group, "</text>");
    for (size_t k = 0; k < kinds; ++k) {
      const double x = center - static_cast<double>(kinds) * (bar_width + 6) / 2 + 3 +
                       static_cast<double>(k) * (bar_width + 6);
      const double label_x = x + bar_width / 2;
      const std::optional<double> value = value_of(k, g);
      if (!value.has_value()) {
        absl::StrAppend(&svg, "<text x=\"", SvgNumber(label_x), "\" y=\"", SvgNumber(bottom - 6),
                        "\" text-anchor=\"middle\">", kMissingValue, "</text>");
        continue;
      }
      const double y = py(*value);
      const BarKind& kind = spec.kinds[k];
      absl::StrAppend(&svg, "<rect x=\"", SvgNumber(x), "\" y=\"", SvgNumber(y), "\" width=\"",
                      SvgNumber(bar_width), "\" height=\"", SvgNumber(bottom - y), "\" fill=\"", kind.color,
                      "\"><title>", EscapeHtml(kind.name), " ", group, ": ", FormatNumber(*value), " ",
                      EscapeHtml(spec.unit), "</title></rect><text x=\"", SvgNumber(label_x), "\" y=\"",
                      SvgNumber(y - 5), "\" text-anchor=\"middle\">", FormatNumber(*value), "</text>");
    }
  }
  Legend(&svg, legend, 10);
  absl::StrAppend(&svg, "</svg>");
  return svg;
}

std::string HorizontalBarChart(const HorizontalBarChartSpec& spec) {
  if (spec.bars.empty()) return EmptyChart(spec.title, spec.empty_message);
  double label_width = 0, max_value = 0;
  for (const HorizontalBar& bar : spec.bars) {
    label_width = std::max(label_width, TextWidth(TruncateUtf8(bar.label, kMaxChartLabelChars)));
    if (std::isfinite(bar.value)) max_value = std::max(max_value, bar.value);
  }
  const double left = std::clamp(label_width + 20, 110.0, 340.0);
  const double right = kChartWidth - 140;  // room for "1,234,567 (12.5% of requested)"
  constexpr double kRow = 26, kTop = 10;
  const double bottom = kTop + kRow * static_cast<double>(spec.bars.size());
  const Ticks ticks = NiceTicks(0, max_value, 5);
  const auto px = [&](double v) { return Map(v, ticks.lo, ticks.hi, left, right); };

  std::string svg = SvgOpen(bottom + 48, spec.title);
  for (double tick : ticks.values) {
    const double x = px(tick);
    absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", SvgNumber(x), "\" y1=\"", SvgNumber(kTop), "\" x2=\"",
                    SvgNumber(x), "\" y2=\"", SvgNumber(bottom), "\"/><text x=\"", SvgNumber(x), "\" y=\"",
                    SvgNumber(bottom + 18), "\" text-anchor=\"middle\">", FormatCompactNumber(tick),
                    "</text>");
  }
  absl::StrAppend(&svg, "<line class=\"axis\" x1=\"", SvgNumber(left), "\" y1=\"", SvgNumber(kTop),
                  "\" x2=\"", SvgNumber(left), "\" y2=\"", SvgNumber(bottom),
                  "\"/><text class=\"label\" x=\"", SvgNumber((left + right) / 2), "\" y=\"",
                  SvgNumber(bottom + 38), "\" text-anchor=\"middle\">", EscapeHtml(spec.x_label), "</text>");
  for (size_t i = 0; i < spec.bars.size(); ++i) {
    const HorizontalBar& bar = spec.bars[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const double end = px(bar.value);
    const std::string value_text = EscapeHtml(bar.value_text);
    absl::StrAppend(&svg, "<text x=\"", SvgNumber(left - 8), "\" y=\"", SvgNumber(y + 17),
                    "\" text-anchor=\"end\">", EscapeHtml(TruncateUtf8(bar.label, kMaxChartLabelChars)),
                    "</text><rect x=\"", SvgNumber(left), "\" y=\"", SvgNumber(y + 4), "\" width=\"",
                    SvgNumber(std::max(1.0, end - left)), "\" height=\"18\" fill=\"", spec.color,
                    "\"><title>", EscapeHtml(bar.label), ": ", value_text, "</title></rect><text x=\"",
                    SvgNumber(end + 6), "\" y=\"", SvgNumber(y + 17), "\">", value_text, "</text>");
  }
  absl::StrAppend(&svg, "</svg>");
  return svg;
}

std::vector<size_t> Decimate(const std::vector<double>& key, size_t max_points) {
  const size_t n = key.size();
  std::vector<size_t> picked;
  if (n <= max_points) {
    for (size_t i = 0; i < n; ++i) picked.push_back(i);
    return picked;
  }
  const size_t buckets = std::max<size_t>(1, max_points / 2);
  picked.push_back(0);
  for (size_t b = 0; b < buckets; ++b) {
    const size_t begin = b * n / buckets, end = (b + 1) * n / buckets;
    if (begin >= end) continue;
    size_t low = begin, high = begin;
    for (size_t i = begin; i < end; ++i) {
      if (std::isnan(key[i])) continue;
      if (std::isnan(key[low]) || key[i] < key[low]) low = i;
      if (std::isnan(key[high]) || key[i] > key[high]) high = i;
    }
    for (size_t index : {std::min(low, high), std::max(low, high)}) {
      if (index > picked.back()) picked.push_back(index);
    }
  }
  if (picked.back() != n - 1) picked.push_back(n - 1);
  return picked;
}

}  // namespace fourtuple::coordinator

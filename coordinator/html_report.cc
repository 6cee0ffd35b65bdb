#include "coordinator/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/failure_reason.h"

namespace fourtuple::coordinator {
namespace {

using Json = nlohmann::ordered_json;

// Size limits: a long run or a big lab must still give a page a browser
// opens at once and a mail server accepts.
constexpr size_t kPointBudget = 8000;         // points per line chart, all series
constexpr size_t kMaxPointsPerSeries = 2000;  // the total line of a long run
constexpr size_t kMinPointsPerSeries = 250;   // every agent line, however many agents
constexpr size_t kMaxAgentLines = 10;         // the palette's size: more would repeat colours
constexpr size_t kMarkerSamples = 60;         // dots with hover titles on sparse timelines
constexpr size_t kMaxFailureBars = 15;        // the rest are summed into one "other" bar
constexpr size_t kMaxListed = 64;             // source / local addresses listed per agent
constexpr size_t kMaxPlanChars = 100000;
constexpr size_t kMaxLabelChars = 48;  // legend and axis labels
constexpr size_t kMaxCellChars = 400;  // free text in table cells (errors, notes)

constexpr absl::string_view kDash = "\u2014";
constexpr absl::string_view kReplacement = "\uFFFD";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Tableau 10 minus its red, which marks failures.
constexpr const char* kPalette[kMaxAgentLines] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                                                  "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#17becf"};
constexpr const char* kTotalColor = "#1f2328";
constexpr const char* kFailColor = "#d1242f";
constexpr const char* kReferenceColor = "#8c959f";

const char* AgentColor(size_t index) { return kPalette[index % kMaxAgentLines]; }

// ---------------------------------------------------------------- text

// Length of the well-formed UTF-8 sequence at text[i]; 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8Length(absl::string_view text, size_t i) {
  const auto byte = [&text](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code_point, minimum;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// Escapes for text and quoted attributes alike. Agents' error texts and plan
// strings are not ours: invalid UTF-8 and control characters become U+FFFD
// so the page stays valid whatever they hold.
void AppendEscaped(std::string* out, absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8Length(text, i);
      if (length == 0) {
        out->append(kReplacement.data(), kReplacement.size());
        ++i;
      } else {
        out->append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      case '"':
        out->append("&quot;");
        break;
      case '\'':
        out->append("&#39;");
        break;
      case '\n':
      case '\t':
        out->push_back(static_cast<char>(c));
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append(kReplacement.data(), kReplacement.size());
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
}

std::string Esc(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscaped(&out, text);
  return out;
}

// At most `max_chars` characters (UTF-8 lead bytes), an ellipsis marking a cut.
std::string Truncate(absl::string_view text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars) return absl::StrCat(text.substr(0, i), "\u2026");
    ++chars;
  }
  return std::string(text);
}

// Rough width of `text` at the charts' 12px font, for laying out legends.
double TextWidth(absl::string_view text) {
  size_t chars = 0;
  for (char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return 6.8 * static_cast<double>(chars);
}

// ---------------------------------------------------------------- JSON access
// Checked accessors only: at() and value() throw on a type mismatch and
// operator[] on a missing key of a const object is undefined.

const Json* Field(const Json* object, const char* key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  const auto it = object->find(key);
  return it == object->end() ? nullptr : &*it;
}

const Json* Element(const Json* array, size_t index) {
  if (array == nullptr || !array->is_array() || index >= array->size()) return nullptr;
  return &(*array)[index];
}

size_t ArraySize(const Json* array) { return array != nullptr && array->is_array() ? array->size() : 0; }

// A finite number. Numeric strings count too: protobuf's JSON mapping writes
// 64-bit integers (host facts) as strings.
std::optional<double> Number(const Json* value) {
  if (value == nullptr) return std::nullopt;
  double number = 0;
  if (value->is_number()) {
    number = value->get<double>();
  } else if (!value->is_string() || !absl::SimpleAtod(value->get_ref<const std::string&>(), &number)) {
    return std::nullopt;
  }
  if (!std::isfinite(number)) return std::nullopt;
  return number;
}

// A finite, non-negative number (counts, rates, durations).
std::optional<double> NonNegative(const Json* value) {
  std::optional<double> number = Number(value);
  if (!number.has_value() || *number < 0) return std::nullopt;
  return number;
}

const std::string* String(const Json* value) {
  if (value == nullptr || !value->is_string()) return nullptr;
  return &value->get_ref<const std::string&>();
}

// ---------------------------------------------------------------- numbers

std::string Grouped(uint64_t value) {
  std::string digits = absl::StrCat(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// "2.50" -> "2.5", "3.00" -> "3"; leaves exponents alone.
std::string TrimZeros(std::string text) {
  if (text.find('.') == std::string::npos || text.find('e') != std::string::npos) return text;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

// For tables: 100,000 · 47,600 · 2.1 · 0.013.
std::string FormatNumber(double value) {
  if (!std::isfinite(value)) return std::string(kDash);
  const double magnitude = std::fabs(value);
  const std::string sign = value < 0 ? "-" : "";
  if (magnitude >= 1e15) return absl::StrFormat("%.3g", value);
  if (magnitude >= 100 || magnitude == std::floor(magnitude)) {
    const uint64_t rounded = static_cast<uint64_t>(std::llround(magnitude));
    return rounded == 0 ? "0" : sign + Grouped(rounded);
  }
  if (magnitude >= 1) return sign + TrimZeros(absl::StrFormat("%.2f", magnitude));
  return sign + TrimZeros(absl::StrFormat("%.3g", magnitude));
}

// A report number as written: integers exactly, others rounded for reading.
std::string FormatJsonNumber(const Json* value) {
  if (value != nullptr && value->is_number_unsigned()) return Grouped(value->get<uint64_t>());
  if (value != nullptr && value->is_number_integer()) {
    const int64_t number = value->get<int64_t>();
    const uint64_t magnitude = number < 0 ? 0 - static_cast<uint64_t>(number) : static_cast<uint64_t>(number);
    return absl::StrCat(number < 0 ? "-" : "", Grouped(magnitude));
  }
  const std::optional<double> number = Number(value);
  return number.has_value() ? FormatNumber(*number) : std::string(kDash);
}

// For axis ticks: 20k, 1.5M, 0.25.
std::string ShortNumber(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e12) return absl::StrFormat("%.3g", value);
  if (magnitude >= 1e9) return absl::StrFormat("%.4gG", value / 1e9);
  if (magnitude >= 1e6) return absl::StrFormat("%.4gM", value / 1e6);
  if (magnitude >= 1e3) return absl::StrFormat("%.4gk", value / 1e3);
  return absl::StrFormat("%.4g", value);
}

std::string FormatBytes(double bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) bytes /= 1024, ++unit;
  return absl::StrCat(TrimZeros(absl::StrFormat("%.1f", bytes)), " ", kUnits[unit]);
}

// HTML ("&lt;0.01%"). Never rounds a shortfall up to 100%.
std::string FormatPercent(double part, double whole) {
  if (!(whole > 0) || !std::isfinite(part / whole)) return "";
  double percent = 100.0 * part / whole;
  if (percent > 0 && percent < 0.01) return "&lt;0.01%";
  if (part < whole && percent > 99.9) percent = 99.9;
  if (percent >= 0.1) return TrimZeros(absl::StrFormat("%.1f", percent)) + "%";
  return TrimZeros(absl::StrFormat("%.2f", percent)) + "%";
}

// An SVG coordinate: one decimal is below a pixel.
std::string C(double value) {
  if (!std::isfinite(value)) value = 0;
  std::string text = TrimZeros(absl::StrFormat("%.1f", value));
  return text == "-0" ? "0" : text;
}

// Any JSON value, for the columns this file does not know: host facts added
// later, totals added later.
std::string FormatAny(const Json* value) {
  if (value == nullptr || value->is_null()) return std::string(kDash);
  if (value->is_boolean()) return value->get<bool>() ? "yes" : "no";
  if (value->is_number()) return FormatJsonNumber(value);
  if (const std::string* text = String(value)) return Esc(Truncate(*text, kMaxCellChars));
  return Esc(Truncate(value->dump(-1, ' ', false, Json::error_handler_t::replace), kMaxCellChars));
}

// ---------------------------------------------------------------- chart frame

constexpr double kChartWidth = 960;
constexpr double kPlotLeft = 76;
constexpr double kPlotRight = kChartWidth - 28;
constexpr double kPlotHeight = 230;
constexpr double kLegendRow = 18;

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
    const std::string label = Truncate(item.label, kMaxLabelChars);
    const double width = 22 + TextWidth(label) + 18;
    if (x + width > kPlotRight && x > kPlotLeft) x = kPlotLeft, y += kLegendRow, ++rows;
    if (svg != nullptr) {
      if (item.box) {
        absl::StrAppend(svg, "<rect x=\"", C(x), "\" y=\"", C(y - 9), "\" width=\"14\" height=\"10\" fill=\"",
                        item.color, "\"/>");
      } else {
        absl::StrAppend(svg, "<line x1=\"", C(x), "\" y1=\"", C(y - 4), "\" x2=\"", C(x + 16), "\" y2=\"",
                        C(y - 4), "\" stroke=\"", item.color, "\" stroke-width=\"2.5\"",
                        item.dashed ? " stroke-dasharray=\"5 3\"" : "", "/>");
      }
      absl::StrAppend(svg, "<text x=\"", C(x + 22), "\" y=\"", C(y), "\">", Esc(label), "</text>");
    }
    x += width;
  }
  return rows * kLegendRow;
}

std::string SvgOpen(double height, absl::string_view title) {
  return absl::StrCat("<svg viewBox=\"0 0 ", C(kChartWidth), " ", C(height), "\" role=\"img\" aria-label=\"",
                      Esc(title), "\">");
}

// A chart with nothing to draw still takes its place, saying why.
std::string EmptyChart(absl::string_view title, absl::string_view message) {
  return absl::StrCat(
      SvgOpen(90, title), "<rect class=\"empty\" x=\"1\" y=\"1\" width=\"958\" height=\"88\" rx=\"6\"/>",
      "<text class=\"message\" x=\"480\" y=\"50\" text-anchor=\"middle\">", Esc(message), "</text></svg>");
}

// Horizontal grid lines with their labels at the given values; `y` maps a
// value to its SVG coordinate (linear or log).
void YGrid(std::string* svg, const std::vector<double>& values, absl::FunctionRef<double(double)> y) {
  for (double value : values) {
    const double at = y(value);
    absl::StrAppend(svg, "<line class=\"grid\" x1=\"", C(kPlotLeft), "\" y1=\"", C(at), "\" x2=\"",
                    C(kPlotRight), "\" y2=\"", C(at), "\"/><text x=\"", C(kPlotLeft - 8), "\" y=\"",
                    C(at + 4), "\" text-anchor=\"end\">", ShortNumber(value), "</text>");
  }
}

void Axes(std::string* svg, double top, double bottom, absl::string_view x_label, absl::string_view y_label) {
  absl::StrAppend(svg, "<line class=\"axis\" x1=\"", C(kPlotLeft), "\" y1=\"", C(bottom), "\" x2=\"",
                  C(kPlotRight), "\" y2=\"", C(bottom), "\"/>", "<line class=\"axis\" x1=\"", C(kPlotLeft),
                  "\" y1=\"", C(top), "\" x2=\"", C(kPlotLeft), "\" y2=\"", C(bottom), "\"/>");
  if (!x_label.empty()) {
    absl::StrAppend(svg, "<text class=\"label\" x=\"", C((kPlotLeft + kPlotRight) / 2), "\" y=\"",
                    C(bottom + 40), "\" text-anchor=\"middle\">", Esc(x_label), "</text>");
  }
  absl::StrAppend(svg, "<text class=\"label\" text-anchor=\"middle\" transform=\"translate(16 ",
                  C((top + bottom) / 2), ") rotate(-90)\">", Esc(y_label), "</text>");
}

// ---------------------------------------------------------------- line charts

struct Series {
  std::string label;  // raw text; empty: not in the legend
  const char* color = kTotalColor;
  const char* css_class = "series";
  double stroke_width = 1.5;
  std::vector<double> x, y;  // same length; a NaN breaks the line
  bool markers = false;      // a dot with a hover title per point
  std::string unit;          // for the hover titles
};

struct Reference {
  double value = 0;
  std::string label;
};

struct LineChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;  // the first is drawn on top
  std::optional<Reference> reference;
  std::string empty_message;
};

std::string LineChart(const LineChartSpec& spec) {
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = 0, y_max = 0;
  bool any = false;
  for (const Series& series : spec.series) {
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
  for (const Series& series : spec.series) {
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
    absl::StrAppend(&svg, "<line class=\"axis\" x1=\"", C(x), "\" y1=\"", C(bottom), "\" x2=\"", C(x),
                    "\" y2=\"", C(bottom + 5), "\"/><text x=\"", C(x), "\" y=\"", C(bottom + 19),
                    "\" text-anchor=\"middle\">", ShortNumber(value), "</text>");
  }
  Axes(&svg, top, bottom, spec.x_label, spec.y_label);
  if (spec.reference.has_value()) {
    const double y = py(spec.reference->value);
    absl::StrAppend(&svg, "<line x1=\"", C(kPlotLeft), "\" y1=\"", C(y), "\" x2=\"", C(kPlotRight),
                    "\" y2=\"", C(y), "\" stroke=\"", kReferenceColor,
                    "\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
  }
  for (size_t s = spec.series.size(); s-- > 0;) {
    const Series& series = spec.series[s];
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
        pen_down = false;
        continue;
      }
      absl::StrAppend(&path, pen_down ? "L" : "M", C(px(series.x[i])), ",", C(py(series.y[i])));
      pen_down = true;
    }
    if (path.empty()) continue;
    absl::StrAppend(&svg, "<path class=\"", series.css_class, "\" d=\"", path, "\" fill=\"none\" stroke=\"",
                    series.color, "\" stroke-width=\"", C(series.stroke_width),
                    "\" stroke-linejoin=\"round\"/>");
    if (!series.markers) continue;
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      absl::StrAppend(&svg, "<circle cx=\"", C(px(series.x[i])), "\" cy=\"", C(py(series.y[i])),
                      "\" r=\"3\" fill=\"", series.color, "\"><title>", FormatNumber(series.x[i]),
                      " s: ", FormatNumber(series.y[i]), " ", Esc(series.unit), "</title></circle>");
    }
  }
  Legend(&svg, legend, 10);
  absl::StrAppend(&svg, "</svg>");
  return svg;
}

// Indices of at most about `max_points` samples: in each of max_points / 2
// buckets the smallest and the largest `key`, so a one-sample spike or dip
// survives (a plain stride would drop it), plus the first and last sample.
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

// ---------------------------------------------------------------- timeline

struct Timeline {
  std::vector<double> t, open, established, failed;  // NaN where a sample lacks the field
  std::vector<std::vector<double>> agents_open;      // [agent][sample], at most kMaxAgentLines
  size_t agent_columns = 0;                          // the widest agents_open seen
};

Timeline ReadTimeline(const Json* timeline) {
  struct Sample {
    double t, open, established, failed;
    std::vector<double> agents_open;
  };
  std::vector<Sample> samples;
  size_t agent_columns = 0;
  for (size_t i = 0; i < ArraySize(timeline); ++i) {
    const Json* item = Element(timeline, i);
    const std::optional<double> t = Number(Field(item, "t"));
    if (!t.has_value()) continue;
    Sample sample{*t,
                  Number(Field(item, "open")).value_or(kNaN),
                  Number(Field(item, "established")).value_or(kNaN),
                  Number(Field(item, "failed")).value_or(kNaN),
                  {}};
    const Json* agents_open = Field(item, "agents_open");
    agent_columns = std::max(agent_columns, ArraySize(agents_open));
    for (size_t a = 0; a < std::min(ArraySize(agents_open), kMaxAgentLines); ++a) {
      sample.agents_open.push_back(Number(Element(agents_open, a)).value_or(kNaN));
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

std::string AgentLabel(const Json* agents, size_t index) {
  const std::string* endpoint = String(Field(Element(agents, index), "endpoint"));
  if (endpoint != nullptr && !endpoint->empty()) return *endpoint;
  return absl::StrCat("agent ", index + 1);
}

bool AnyFinite(const std::vector<double>& values) {
  return std::any_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

struct Figure {
  std::string svg;
  std::string summary;  // HTML, after the figure's title
  std::string extra;    // HTML below the chart
};

Figure OpenChart(const Timeline& timeline, const Json* agents, std::optional<double> requested) {
  Figure figure;
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
  Series total;
  total.label = "total";
  total.css_class = "series-total";
  total.stroke_width = 2.5;
  total.markers = n <= kMarkerSamples;
  total.unit = "open";
  for (size_t i : picked) total.x.push_back(timeline.t[i]), total.y.push_back(timeline.open[i]);
  if (AnyFinite(total.y)) spec.series.push_back(std::move(total));
  for (size_t a : agent_lines) {
    Series series;
    series.label = AgentLabel(agents, a);
    series.color = AgentColor(a);
    series.css_class = "series-agent";
    for (size_t i : picked) {
      series.x.push_back(timeline.t[i]), series.y.push_back(timeline.agents_open[a][i]);
    }
    spec.series.push_back(std::move(series));
  }
  if (requested.has_value() && *requested > 0) {
    spec.reference = Reference{*requested, absl::StrCat("requested (", FormatNumber(*requested), ")")};
  }
  figure.svg = LineChart(spec);

  double peak = -1, peak_t = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(key[i]) && key[i] > peak) peak = key[i], peak_t = timeline.t[i];
  }
  if (peak >= 0) {
    figure.summary = absl::StrCat("peak ", FormatNumber(peak), " open at ", FormatNumber(peak_t), " s");
  }
  if (n > 0) {
    absl::StrAppend(&figure.summary, figure.summary.empty() ? "" : " · ", Grouped(n), " samples");
    if (picked.size() < n) {
      absl::StrAppend(&figure.summary, ", ", Grouped(picked.size()), " drawn (peaks kept)");
    }
  }
  if (timeline.agent_columns > agent_lines.size() && timeline.agent_columns > kMaxAgentLines) {
    figure.extra = absl::StrCat("<p class=\"note\">Per-agent lines for the first ", kMaxAgentLines, " of ",
                                timeline.agent_columns, " agents.</p>");
  }
  return figure;
}

Figure RateChart(const Timeline& timeline, std::optional<double> mean_rate) {
  Figure figure;
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
  const auto steps = [&](const std::vector<double>& rate, Series* series) {
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
  Series connects;
  connects.label = "established / s";
  connects.color = kPalette[0];
  connects.css_class = "series-rate";
  connects.stroke_width = 2;
  steps(connect_rate, &connects);
  if (AnyFinite(connects.y)) spec.series.push_back(std::move(connects));
  if (std::any_of(fail_rate.begin(), fail_rate.end(), [](double v) { return v > 0; })) {
    Series failures;
    failures.label = "failed / s";
    failures.color = kFailColor;
    failures.css_class = "series-fail-rate";
    steps(fail_rate, &failures);
    spec.series.push_back(std::move(failures));
  }
  if (!spec.series.empty() && mean_rate.has_value() && *mean_rate > 0) {
    spec.reference =
        Reference{*mean_rate, absl::StrCat("mean over the connect phase (", FormatNumber(*mean_rate), "/s)")};
  }
  figure.svg = LineChart(spec);
  double peak = -1;
  for (double rate : connect_rate) {
    if (std::isfinite(rate)) peak = std::max(peak, rate);
  }
  if (peak >= 0) figure.summary = absl::StrCat("peak ", FormatNumber(peak), " connections/s");
  if (mean_rate.has_value()) {
    absl::StrAppend(&figure.summary, figure.summary.empty() ? "" : " · ", "mean ", FormatNumber(*mean_rate),
                    "/s over the connect phase");
  }
  return figure;
}

// ---------------------------------------------------------------- latency bars

Figure LatencyChart(const Json* latency) {
  struct Kind {
    const char* key;
    const char* label;
    const char* color;
  };
  constexpr Kind kKinds[] = {{"connect", "connect", "#4e79a7"}, {"echo_rtt", "echo round trip", "#f28e2b"}};
  constexpr const char* kStatKeys[] = {"p50", "p99", "p999", "max"};
  constexpr const char* kStatLabels[] = {"p50", "p99", "p99.9", "max"};
  constexpr size_t kKindCount = std::size(kKinds), kStatCount = std::size(kStatKeys);
  constexpr absl::string_view kTitle = "Latency percentiles";

  Figure figure;
  std::optional<double> value[kKindCount][kStatCount];
  double min_positive = std::numeric_limits<double>::infinity(), max_value = 0;
  bool any = false;
  std::vector<LegendItem> legend;
  for (size_t k = 0; k < kKindCount; ++k) {
    const Json* kind = Field(latency, kKinds[k].key);
    for (size_t s = 0; s < kStatCount; ++s) {
      value[k][s] = NonNegative(Field(kind, kStatKeys[s]));
      if (!value[k][s].has_value()) continue;
      any = true;
      max_value = std::max(max_value, *value[k][s]);
      if (*value[k][s] > 0) min_positive = std::min(min_positive, *value[k][s]);
    }
    std::string label = kKinds[k].label;
    if (std::optional<double> count = NonNegative(Field(kind, "count"))) {
      absl::StrAppend(&label, " (", FormatNumber(*count), " samples)");
    }
    legend.push_back({label, kKinds[k].color, false, true});
    if (value[k][1].has_value()) {
      absl::StrAppend(&figure.summary, figure.summary.empty() ? "" : " · ", kKinds[k].label, " p99 ",
                      FormatNumber(*value[k][1]), " ms");
    }
  }
  if (!any) {
    figure.svg = EmptyChart(kTitle, "no latency percentiles in the report");
    return figure;
  }
  // Tails are often 100x the median: a log axis keeps p50 readable then.
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
  const double top = 10 + Legend(nullptr, legend, 0) + 22;  // room for the value labels
  const double bottom = top + kPlotHeight - 20;
  const auto py = [&](double v) {
    if (log_scale) return v > 0 ? Map(std::log10(v), lo, hi, bottom, top) : bottom;
    return Map(v, lo, hi, bottom, top);
  };

  std::string svg = SvgOpen(bottom + 52, kTitle);
  YGrid(&svg, tick_values, py);
  Axes(&svg, top, bottom, "", log_scale ? "latency (ms, log scale)" : "latency (ms)");
  const double group_width = (kPlotRight - kPlotLeft) / kStatCount;
  const double bar_width = std::min(64.0, group_width * 0.32);
  for (size_t s = 0; s < kStatCount; ++s) {
    const double center = kPlotLeft + group_width * (static_cast<double>(s) + 0.5);
    absl::StrAppend(&svg, "<text class=\"label\" x=\"", C(center), "\" y=\"", C(bottom + 22),
                    "\" text-anchor=\"middle\">", kStatLabels[s], "</text>");
    for (size_t k = 0; k < kKindCount; ++k) {
      const double x =
          center - kKindCount * (bar_width + 6) / 2 + 3 + static_cast<double>(k) * (bar_width + 6);
      const double label_x = x + bar_width / 2;
      if (!value[k][s].has_value()) {
        absl::StrAppend(&svg, "<text x=\"", C(label_x), "\" y=\"", C(bottom - 6),
                        "\" text-anchor=\"middle\">", kDash, "</text>");
        continue;
      }
      const double v = *value[k][s];
      const double y = py(v);
      absl::StrAppend(&svg, "<rect x=\"", C(x), "\" y=\"", C(y), "\" width=\"", C(bar_width), "\" height=\"",
                      C(bottom - y), "\" fill=\"", kKinds[k].color, "\"><title>", kKinds[k].label, " ",
                      kStatLabels[s], ": ", FormatNumber(v), " ms</title></rect><text x=\"", C(label_x),
                      "\" y=\"", C(y - 5), "\" text-anchor=\"middle\">", FormatNumber(v), "</text>");
    }
  }
  Legend(&svg, legend, 10);
  absl::StrAppend(&svg, "</svg>");
  figure.svg = std::move(svg);
  return figure;
}

// ---------------------------------------------------------------- failure bars

// Reason -> count over the run: the report's "failures", or the agents'
// when the total is missing. Zero counts are left out.
std::vector<std::pair<std::string, double>> ReadFailures(const Json& report) {
  std::vector<std::pair<std::string, double>> out;
  const auto add = [&out](const Json* failures) {
    if (failures == nullptr || !failures->is_object()) return;
    for (auto it = failures->begin(); it != failures->end(); ++it) {
      const std::optional<double> count = NonNegative(&it.value());
      if (!count.has_value() || *count == 0) continue;
      auto known = std::find_if(out.begin(), out.end(), [&it](const auto& e) { return e.first == it.key(); });
      if (known == out.end()) {
        out.emplace_back(it.key(), *count);
      } else {
        known->second += *count;
      }
    }
  };
  const Json* failures = Field(&report, "failures");
  if (failures != nullptr && failures->is_object()) {
    add(failures);
  } else {
    const Json* agents = Field(&report, "agents");
    for (size_t i = 0; i < ArraySize(agents); ++i) add(Field(Element(agents, i), "failures"));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

Figure FailureChart(std::vector<std::pair<std::string, double>> failures, std::optional<double> requested) {
  constexpr absl::string_view kTitle = "Failures by reason";
  Figure figure;
  if (failures.empty()) {
    figure.svg = EmptyChart(kTitle, "no failures");
    figure.summary = "none";
    return figure;
  }
  double total = 0;
  for (const auto& [reason, count] : failures) total += count;
  figure.summary = absl::StrCat(FormatNumber(total), " in ", failures.size(),
                                failures.size() == 1 ? " reason" : " reasons");
  // Causes and fixes for the reasons people meet most.
  for (const auto& [reason, count] : failures) {
    const absl::string_view hint = ReasonHint(reason);
    if (hint.empty()) continue;
    if (figure.extra.empty()) figure.extra = "<ul class=\"hints\">";
    absl::StrAppend(&figure.extra, "<li><code>", Esc(reason), "</code> ", Esc(hint), "</li>");
  }
  if (!figure.extra.empty()) absl::StrAppend(&figure.extra, "</ul>");

  if (failures.size() > kMaxFailureBars) {
    double rest = 0;
    for (size_t i = kMaxFailureBars - 1; i < failures.size(); ++i) rest += failures[i].second;
    const size_t folded = failures.size() - (kMaxFailureBars - 1);
    failures.resize(kMaxFailureBars - 1);
    failures.emplace_back(absl::StrCat("other (", folded, " reasons)"), rest);
  }
  double label_width = 0, max_count = 0;
  for (const auto& [reason, count] : failures) {
    label_width = std::max(label_width, TextWidth(Truncate(reason, kMaxLabelChars)));
    max_count = std::max(max_count, count);
  }
  const double left = std::clamp(label_width + 20, 110.0, 340.0);
  const double right = kChartWidth - 140;  // room for "1,234,567 (12.5%)"
  constexpr double kRow = 26, kTop = 10;
  const double bottom = kTop + kRow * static_cast<double>(failures.size());
  const Ticks ticks = NiceTicks(0, max_count, 5);
  const auto px = [&](double v) { return Map(v, ticks.lo, ticks.hi, left, right); };

  std::string svg = SvgOpen(bottom + 48, kTitle);
  for (double tick : ticks.values) {
    const double x = px(tick);
    absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", C(x), "\" y1=\"", C(kTop), "\" x2=\"", C(x),
                    "\" y2=\"", C(bottom), "\"/><text x=\"", C(x), "\" y=\"", C(bottom + 18),
                    "\" text-anchor=\"middle\">", ShortNumber(tick), "</text>");
  }
  absl::StrAppend(&svg, "<line class=\"axis\" x1=\"", C(left), "\" y1=\"", C(kTop), "\" x2=\"", C(left),
                  "\" y2=\"", C(bottom), "\"/><text class=\"label\" x=\"", C((left + right) / 2), "\" y=\"",
                  C(bottom + 38), "\" text-anchor=\"middle\">failures (count)</text>");
  for (size_t i = 0; i < failures.size(); ++i) {
    const auto& [reason, count] = failures[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const double end = px(count);
    std::string value = FormatNumber(count);
    const std::string percent = requested.has_value() ? FormatPercent(count, *requested) : "";
    if (!percent.empty()) absl::StrAppend(&value, " (", percent, " of requested)");
    absl::StrAppend(&svg, "<text x=\"", C(left - 8), "\" y=\"", C(y + 17), "\" text-anchor=\"end\">",
                    Esc(Truncate(reason, kMaxLabelChars)), "</text><rect x=\"", C(left), "\" y=\"", C(y + 4),
                    "\" width=\"", C(std::max(1.0, end - left)), "\" height=\"18\" fill=\"", kFailColor,
                    "\"><title>", Esc(reason), ": ", value, "</title></rect><text x=\"", C(end + 6),
                    "\" y=\"", C(y + 17), "\">", value, "</text>");
  }
  absl::StrAppend(&svg, "</svg>");
  figure.svg = std::move(svg);
  return figure;
}

// ---------------------------------------------------------------- page parts

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

std::string Header(const Json& report) {
  const std::string* outcome = String(Field(&report, "outcome"));
  std::string badge_class = "unknown";
  std::string badge = std::string(kDash);
  if (outcome != nullptr) {
    badge = Esc(absl::AsciiStrToUpper(Truncate(*outcome, kMaxLabelChars)));
    if (*outcome == "pass" || *outcome == "fail") badge_class = *outcome;
  }
  std::string out = absl::StrCat("<header><h1>fourtuple run report</h1><span class=\"outcome ", badge_class,
                                 "\">", badge, "</span>");
  // One line saying what was asked for.
  const Json* plan = Field(&report, "plan");
  std::vector<std::string> parts;
  if (std::optional<double> connections = NonNegative(Field(plan, "connections"))) {
    parts.push_back(absl::StrCat(FormatNumber(*connections), " connections"));
  }
  const size_t agents = std::max(ArraySize(Field(&report, "agents")), ArraySize(Field(plan, "agents")));
  if (agents > 0) parts.push_back(absl::StrCat(agents, agents == 1 ? " agent" : " agents"));
  const size_t endpoints = ArraySize(Field(Field(plan, "target"), "endpoints"));
  if (endpoints > 0) {
    parts.push_back(absl::StrCat(endpoints, endpoints == 1 ? " target endpoint" : " target endpoints"));
  }
  if (std::optional<double> rate = NonNegative(Field(plan, "connect_rate"))) {
    parts.push_back(*rate > 0 ? absl::StrCat("connect rate ", FormatNumber(*rate), "/s")
                              : "connect rate unlimited");
  }
  if (const std::string* hold = String(Field(plan, "hold"))) {
    parts.push_back(absl::StrCat("hold ", Esc(Truncate(*hold, kMaxLabelChars))));
  }
  if (std::optional<double> rounds = NonNegative(Field(Field(plan, "echo"), "rounds"))) {
    parts.push_back(absl::StrCat(FormatNumber(*rounds), *rounds == 1 ? " echo round" : " echo rounds"));
  }
  if (!parts.empty()) {
    absl::StrAppend(&out, "<p class=\"subtitle\">");
    for (size_t i = 0; i < parts.size(); ++i) absl::StrAppend(&out, i > 0 ? " · " : "", parts[i]);
    absl::StrAppend(&out, "</p>");
  }
  absl::StrAppend(&out, "</header>");
  for (const auto& [key, css] : {std::pair{"fail_reasons", "reasons"}, std::pair{"notes", "notes"}}) {
    const Json* list = Field(&report, key);
    if (ArraySize(list) == 0) continue;
    absl::StrAppend(&out, "<ul class=\"", css, "\">");
    for (size_t i = 0; i < ArraySize(list); ++i) {
      absl::StrAppend(&out, "<li>", FormatAny(Element(list, i)), "</li>");
    }
    absl::StrAppend(&out, "</ul>");
  }
  return out;
}

std::string Totals(const Json& report) {
  const Json* totals = Field(&report, "totals");
  const auto n = [totals](const char* key) { return NonNegative(Field(totals, key)); };
  const auto text = [totals](const char* key) { return FormatJsonNumber(Field(totals, key)); };
  std::string out = "<h2 id=\"totals\">Totals</h2><div class=\"cards\">";

  std::string sub;
  if (n("requested").has_value()) {
    sub = absl::StrCat("of ", text("requested"), " requested");
    if (n("established").has_value()) {
      const std::string percent = FormatPercent(*n("established"), *n("requested"));
      if (!percent.empty()) absl::StrAppend(&sub, " (", percent, ")");
    }
  }
  const bool short_of_requested =
      n("requested").has_value() && n("established").has_value() && *n("established") < *n("requested");
  Card(&out, "established", text("established"), sub, short_of_requested);
  Card(&out, "failed", text("failed"), "connect failures", n("failed").value_or(0) > 0);
  const Json* target = Field(&report, "target");
  std::string target_sub;
  if (NonNegative(Field(target, "open_at_peak")).has_value()) {
    target_sub = absl::StrCat("target saw ", FormatJsonNumber(Field(target, "open_at_peak")), " at peak");
  }
  Card(&out, "peak open", text("peak_open"), target_sub);
  Card(&out, "connect rate",
       n("connect_rate").has_value() ? absl::StrCat(text("connect_rate"), "/s") : std::string(kDash),
       n("connect_seconds").has_value() ? absl::StrCat("connect phase ", text("connect_seconds"), " s") : "");
  const bool echo_bad = n("echo_failed").value_or(0) > 0;
  Card(&out, "echo verified", text("echo_verified"),
       n("echo_failed").has_value() ? absl::StrCat(text("echo_failed"), " failed") : "", echo_bad);
  if (n("echo_rate").has_value() || n("echo_seconds").has_value()) {
    Card(&out, "echo rate",
         n("echo_rate").has_value() ? absl::StrCat(text("echo_rate"), "/s") : std::string(kDash),
         n("echo_seconds").has_value() ? absl::StrCat("echo phase ", text("echo_seconds"), " s") : "");
  }
  if (target != nullptr) {
    std::string target_error;
    if (const std::string* error = String(Field(target, "error"))) {
      target_error = Esc(Truncate(*error, kMaxCellChars));
    }
    Card(&out, "target accepted", FormatJsonNumber(Field(target, "accepted")),
         target_error.empty() ? "server-side count" : target_error, !target_error.empty());
  }
  // Totals this page does not know yet still show.
  static constexpr const char* kKnown[] = {"requested",    "established",     "failed",        "peak_open",
                                           "connect_rate", "connect_seconds", "echo_verified", "echo_failed",
                                           "echo_rate",    "echo_seconds"};
  if (totals != nullptr && totals->is_object()) {
    for (auto it = totals->begin(); it != totals->end(); ++it) {
      if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) != std::end(kKnown)) continue;
      Card(&out, Esc(Truncate(it.key(), kMaxLabelChars)), FormatAny(&it.value()), "");
    }
  }
  absl::StrAppend(&out, "</div>");
  return out;
}

std::string RenderFigure(absl::string_view title, const Figure& figure) {
  std::string out = absl::StrCat("<figure><figcaption><strong>", title, "</strong>");
  if (!figure.summary.empty()) absl::StrAppend(&out, " <span class=\"sum\">— ", figure.summary, "</span>");
  absl::StrAppend(&out, "</figcaption>", figure.svg, figure.extra, "</figure>");
  return out;
}

// "8 sources, 6,250 each" with the list folded away.
std::string SourceSummary(const Json* by_source) {
  if (by_source == nullptr || !by_source->is_object()) return std::string(kDash);
  if (by_source->empty()) return "none";
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (auto it = by_source->begin(); it != by_source->end(); ++it) {
    if (std::optional<double> count = Number(&it.value()))
      low = std::min(low, *count), high = std::max(high, *count);
  }
  const size_t sources = by_source->size();
  std::string summary = absl::StrCat(Grouped(sources), sources == 1 ? " source" : " sources");
  if (std::isfinite(low)) {
    absl::StrAppend(&summary, ", ", FormatNumber(low));
    if (high != low) absl::StrAppend(&summary, "–", FormatNumber(high));
    absl::StrAppend(&summary, sources == 1 ? "" : " each");
  }
  std::string out = absl::StrCat("<details><summary>", summary, "</summary><table class=\"mini\">");
  size_t listed = 0;
  for (auto it = by_source->begin(); it != by_source->end() && listed < kMaxListed; ++it, ++listed) {
    absl::StrAppend(&out, "<tr><td>", Esc(Truncate(it.key(), kMaxLabelChars)), "</td><td class=\"n\">",
                    FormatAny(&it.value()), "</td></tr>");
  }
  if (sources > listed) {
    absl::StrAppend(&out, "<tr><td colspan=\"2\">… ", Grouped(sources - listed), " more</td></tr>");
  }
  absl::StrAppend(&out, "</table></details>");
  return out;
}

std::string FailureList(const Json* failures) {
  if (failures == nullptr || !failures->is_object()) return std::string(kDash);
  std::string out;
  for (auto it = failures->begin(); it != failures->end(); ++it) {
    const std::optional<double> count = Number(&it.value());
    if (count.has_value() && *count == 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : "<br>", "<span class=\"nowrap\">",
                    Esc(Truncate(it.key(), kMaxLabelChars)), " ", FormatAny(&it.value()), "</span>");
  }
  return out.empty() ? "none" : out;
}

// Echo failures as one number, broken down by kind when there are any.
std::string EchoFailures(const Json* agent) {
  constexpr std::pair<const char*, const char*> kKinds[] = {
      {"echo_mismatched", "mismatched"}, {"echo_timed_out", "timed out"}, {"echo_closed", "closed"}};
  double total = 0;
  bool any = false;
  std::string breakdown;
  for (const auto& [key, label] : kKinds) {
    const std::optional<double> count = NonNegative(Field(agent, key));
    if (!count.has_value()) continue;
    any = true;
    total += *count;
    if (*count > 0) {
      absl::StrAppend(&breakdown, "<br><span class=\"nowrap\">", FormatJsonNumber(Field(agent, key)), " ",
                      label, "</span>");
    }
  }
  return any ? absl::StrCat(FormatNumber(total), breakdown) : std::string(kDash);
}

std::string AgentsTable(const Json& report) {
  const Json* agents = Field(&report, "agents");
  std::string out = "<h2 id=\"agents\">Agents</h2>";
  if (ArraySize(agents) == 0) return out + "<p>No agents in the report.</p>";
  absl::StrAppend(&out,
                  "<div class=\"scroll\"><table><thead><tr><th>agent (host)</th><th>state</th>"
                  "<th>requested</th><th>established</th><th>failed</th><th>failures</th>"
                  "<th>echo verified</th><th>echo failed</th><th>pro&shy;cesses</th>"
                  "<th>source addresses</th></tr></thead><tbody>");
  constexpr int kColumns = 10;
  for (size_t i = 0; i < ArraySize(agents); ++i) {
    const Json* agent = Element(agents, i);
    const auto number = [agent](const char* key) {
      return absl::StrCat("<td class=\"n\">", FormatJsonNumber(Field(agent, key)), "</td>");
    };
    const std::string* state = String(Field(agent, "state"));
    const char* state_class = state == nullptr ? "" : *state == "done" ? "ok" : "bad";
    absl::StrAppend(&out, "<tr><td class=\"nowrap\">", Swatch(AgentColor(i)),
                    Esc(Truncate(AgentLabel(agents, i), kMaxLabelChars)), "<div class=\"host\">",
                    FormatAny(Field(agent, "host")), "</div></td><td class=\"", state_class, "\">",
                    FormatAny(Field(agent, "state")), "</td>", number("requested"), number("established"),
                    number("failed"), "<td>", FailureList(Field(agent, "failures")), "</td>",
                    number("echo_verified"), "<td class=\"n\">", EchoFailures(agent), "</td>",
                    number("processes"), "<td>", SourceSummary(Field(agent, "by_source_address")),
                    "</td></tr>");
    if (const Json* error = Field(agent, "error"); error != nullptr && !error->is_null()) {
      absl::StrAppend(&out, "<tr><td class=\"error\" colspan=\"", kColumns, "\">error: ", FormatAny(error),
                      "</td></tr>");
    }
  }
  absl::StrAppend(&out, "</tbody></table></div>");
  return out;
}

std::string BytesFact(const Json* facts, const char* key) {
  const std::optional<double> bytes = NonNegative(Field(facts, key));
  return bytes.has_value() ? FormatBytes(*bytes) : std::string(kDash);
}

// Host facts, one column per agent so the hosts compare side by side.
std::string HostFactsTable(const Json& report) {
  const Json* agents = Field(&report, "agents");
  std::vector<const Json*> facts;
  bool any = false;
  for (size_t i = 0; i < ArraySize(agents); ++i) {
    const Json* f = Field(Element(agents, i), "host_facts");
    if (f != nullptr && !f->is_object()) f = nullptr;
    any = any || f != nullptr;
    facts.push_back(f);
  }
  if (!any) return "";

  using Formatter = std::string (*)(const Json* facts);
  struct Row {
    const char* label;
    std::vector<const char*> keys;  // the row shows when any agent has one of them
    Formatter format;
  };
  const Row rows[] = {
      {"hostname", {"hostname"}, [](const Json* f) { return FormatAny(Field(f, "hostname")); }},
      {"cores", {"cores"}, [](const Json* f) { return FormatJsonNumber(Field(f, "cores")); }},
      {"memory total",
       {"memory_total_bytes"},
       [](const Json* f) { return BytesFact(f, "memory_total_bytes"); }},
      {"memory available",
       {"memory_available_bytes"},
       [](const Json* f) { return BytesFact(f, "memory_available_bytes"); }},
      {"RLIMIT_NOFILE soft / hard",
       {"nofile_soft", "nofile_hard"},
       [](const Json* f) {
         return absl::StrCat(FormatJsonNumber(Field(f, "nofile_soft")), " / ",
                             FormatJsonNumber(Field(f, "nofile_hard")));
       }},
      {"fs.nr_open", {"nr_open"}, [](const Json* f) { return FormatJsonNumber(Field(f, "nr_open")); }},
      {"fs.file-max", {"file_max"}, [](const Json* f) { return FormatJsonNumber(Field(f, "file_max")); }},
      {"ip_local_port_range",
       {"port_range_low", "port_range_high"},
       [](const Json* f) {
         std::optional<double> low = NonNegative(Field(f, "port_range_low"));
         std::optional<double> high = NonNegative(Field(f, "port_range_high"));
         if (!low.has_value() || !high.has_value()) {
           return absl::StrCat(FormatJsonNumber(Field(f, "port_range_low")), "–",
                               FormatJsonNumber(Field(f, "port_range_high")));
         }
         std::string out = absl::StrCat(FormatNumber(*low), "–", FormatNumber(*high));
         if (*high >= *low) absl::StrAppend(&out, " (", FormatNumber(*high - *low + 1), " ports)");
         return out;
       }},
      {"net.core.somaxconn",
       {"somaxconn"},
       [](const Json* f) { return FormatJsonNumber(Field(f, "somaxconn")); }},
      {"tcp_max_syn_backlog",
       {"tcp_max_syn_backlog"},
       [](const Json* f) { return FormatJsonNumber(Field(f, "tcp_max_syn_backlog")); }},
      {"conntrack count / max",
       {"conntrack_present", "conntrack_max", "conntrack_count"},
       [](const Json* f) {
         const Json* present = Field(f, "conntrack_present");
         if (present != nullptr && present->is_boolean() && !present->get<bool>()) {
           return std::string("not loaded");
         }
         return absl::StrCat(FormatJsonNumber(Field(f, "conntrack_count")), " / ",
                             FormatJsonNumber(Field(f, "conntrack_max")));
       }},
      {"local addresses",
       {"local_addresses"},
       [](const Json* f) {
         const Json* list = Field(f, "local_addresses");
         if (list == nullptr || !list->is_array()) return FormatAny(list);
         std::string out = absl::StrCat("<details><summary>", Grouped(list->size()),
                                        list->size() == 1 ? " address" : " addresses", "</summary>");
         for (size_t i = 0; i < list->size() && i < kMaxListed; ++i) {
           absl::StrAppend(&out, i > 0 ? "<br>" : "", FormatAny(Element(list, i)));
         }
         if (list->size() > kMaxListed)
           absl::StrAppend(&out, "<br>… ", Grouped(list->size() - kMaxListed), " more");
         return absl::StrCat(out, "</details>");
       }},
      {"version", {"version"}, [](const Json* f) { return FormatAny(Field(f, "version")); }},
      {"processes",
       {"processes"},
       [](const Json* f) {
         const Json* processes = Field(f, "processes");
         std::optional<double> count = Number(processes);
         return count.has_value() && *count == 0 ? std::string("auto") : FormatJsonNumber(processes);
       }},
  };

  std::string out = "<h2 id=\"host-facts\">Host facts</h2><div class=\"scroll\"><table><thead><tr><th></th>";
  for (size_t i = 0; i < facts.size(); ++i) {
    absl::StrAppend(&out, "<th>", Swatch(AgentColor(i)), Esc(Truncate(AgentLabel(agents, i), kMaxLabelChars)),
                    "</th>");
  }
  absl::StrAppend(&out, "</tr></thead><tbody>");
  std::vector<std::string> known;
  for (const Row& row : rows) {
    known.insert(known.end(), row.keys.begin(), row.keys.end());
    bool present = false;
    for (const Json* f : facts) {
      for (const char* key : row.keys) present = present || Field(f, key) != nullptr;
    }
    if (!present) continue;
    absl::StrAppend(&out, "<tr><th>", row.label, "</th>");
    for (const Json* f : facts) {
      absl::StrAppend(&out, "<td>", f == nullptr ? std::string(kDash) : row.format(f), "</td>");
    }
    absl::StrAppend(&out, "</tr>");
  }
  // Facts this page does not know yet, in the order agents report them.
  std::vector<std::string> extra;
  for (const Json* f : facts) {
    if (f == nullptr) continue;
    for (auto it = f->begin(); it != f->end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
      if (std::find(extra.begin(), extra.end(), it.key()) != extra.end()) continue;
      if (extra.size() < kMaxListed) extra.push_back(it.key());
    }
  }
  for (const std::string& key : extra) {
    absl::StrAppend(&out, "<tr><th>", Esc(Truncate(key, kMaxLabelChars)), "</th>");
    for (const Json* f : facts) absl::StrAppend(&out, "<td>", FormatAny(Field(f, key.c_str())), "</td>");
    absl::StrAppend(&out, "</tr>");
  }
  absl::StrAppend(&out, "</tbody></table></div>");
  return out;
}

std::string PlanSection(const Json& report) {
  std::string out = "<h2 id=\"plan\">Plan</h2>";
  const Json* plan = Field(&report, "plan");
  if (plan == nullptr || plan->is_null()) return out + "<p>" + std::string(kDash) + "</p>";
  std::string text = plan->dump(2, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kMaxPlanChars) {
    text = absl::StrCat(Truncate(text.substr(0, kMaxPlanChars), kMaxPlanChars), "\n… (", Grouped(text.size()),
                        " characters; see the JSON report)");
  }
  return absl::StrCat(out, "<pre>", Esc(text), "</pre>");
}

std::string Render(const Json& report) {
  const Json* totals = Field(&report, "totals");
  std::optional<double> requested = NonNegative(Field(totals, "requested"));
  if (!requested.has_value()) requested = NonNegative(Field(Field(&report, "plan"), "connections"));
  const Timeline timeline = ReadTimeline(Field(&report, "timeline"));
  const Json* agents = Field(&report, "agents");

  const std::string* outcome = String(Field(&report, "outcome"));
  std::string out;
  out.reserve(64 * 1024);
  absl::StrAppend(&out,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>fourtuple report: ",
                  outcome == nullptr ? std::string(kDash) : Esc(Truncate(*outcome, kMaxLabelChars)),
                  "</title><style>", kStyle, "</style></head><body><main>\n");
  absl::StrAppend(&out, Header(report), "\n", Totals(report), "\n<h2 id=\"charts\">Charts</h2>\n");
  absl::StrAppend(&out, RenderFigure("Open connections over time", OpenChart(timeline, agents, requested)),
                  "\n");
  absl::StrAppend(
      &out,
      RenderFigure("Connect rate over time", RateChart(timeline, NonNegative(Field(totals, "connect_rate")))),
      "\n");
  absl::StrAppend(
      &out, RenderFigure("Connect and echo latency (ms)", LatencyChart(Field(&report, "latency_ms"))), "\n");
  absl::StrAppend(&out, RenderFigure("Failures by reason", FailureChart(ReadFailures(report), requested)),
                  "\n");
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

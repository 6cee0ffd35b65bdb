#include "coordinator/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++count;
  return count;
}

TEST(SvgChartTest, NumbersHaveOneDecimalAtMost) {
  EXPECT_EQ(SvgNumber(76), "76");
  EXPECT_EQ(SvgNumber(212.46), "212.5");
  EXPECT_EQ(SvgNumber(-3.04), "-3");
  EXPECT_EQ(SvgNumber(-0.01), "0");
  EXPECT_EQ(SvgNumber(std::numeric_limits<double>::quiet_NaN()), "0");
  EXPECT_EQ(SvgNumber(std::numeric_limits<double>::infinity()), "0");
}

TEST(SvgChartTest, ColoursCycle) {
  EXPECT_STREQ(SeriesColor(0), "#4e79a7");
  EXPECT_STREQ(SeriesColor(kSeriesColorCount), SeriesColor(0));
}

TEST(SvgChartTest, LineChartDrawsEachSeriesAndEscapesItsText) {
  LineChartSpec spec;
  spec.title = "open <connections>";
  spec.x_label = "time (s)";
  spec.y_label = "open & holding";
  ChartSeries a;
  a.label = "<b>agent</b>";
  a.css_class = "series-a";
  a.x = {0, 1, 2};
  a.y = {0, 10, 20};
  ChartSeries b;
  b.label = "agent 2";
  b.css_class = "series-b";
  b.x = {0, 1, 2, 3};
  b.y = {5, std::nan(""), 7, 8};  // the NaN breaks the line in two
  spec.series = {a, b};
  spec.reference = ReferenceLine{25, "requested (25)"};
  const std::string svg = LineChart(spec);
  EXPECT_EQ(svg.rfind("<svg viewBox=\"0 0 960 ", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("aria-label=\"open &lt;connections&gt;\""));
  EXPECT_THAT(svg, HasSubstr(">open &amp; holding</text>"));
  EXPECT_THAT(svg, HasSubstr(">&lt;b&gt;agent&lt;/b&gt;</text>"));
  EXPECT_THAT(svg, HasSubstr(">requested (25)</text>"));
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray=\"5 3\""));
  EXPECT_THAT(svg, Not(HasSubstr("<b>")));
  EXPECT_EQ(Count(svg, "<path class=\"series-a\""), 1u);
  EXPECT_EQ(Count(svg, "<path class=\"series-b\""), 1u);
  const size_t b_path = svg.find("<path class=\"series-b\" d=\"");
  const std::string b_d = svg.substr(b_path, svg.find("\" fill", b_path) - b_path);
  EXPECT_EQ(Count(b_d, "M"), 2u) << b_d;  // two pieces
  EXPECT_THAT(svg, HasSubstr("</svg>"));
}

TEST(SvgChartTest, ChartsWithNothingToDrawSayWhy) {
  LineChartSpec line;
  line.title = "t";
  line.empty_message = "no <samples>";
  line.series.push_back(ChartSeries{});
  EXPECT_THAT(LineChart(line), HasSubstr(">no &lt;samples&gt;</text></svg>"));
  GroupedBarChartSpec bars;
  bars.title = "t";
  bars.empty_message = "no latency";
  bars.groups = {"p50"};
  bars.kinds = {{"connect", "", "#000"}};
  bars.values = {{std::nullopt}};
  EXPECT_THAT(GroupedBarChart(bars), HasSubstr(">no latency</text></svg>"));
  HorizontalBarChartSpec horizontal;
  horizontal.title = "t";
  horizontal.empty_message = "no failures";
  EXPECT_THAT(HorizontalBarChart(horizontal), HasSubstr(">no failures</text></svg>"));
}

GroupedBarChartSpec Latency(double p50, double max) {
  GroupedBarChartSpec spec;
  spec.title = "latency";
  spec.quantity = "latency (ms)";
  spec.unit = "ms";
  spec.groups = {"p50", "max"};
  spec.kinds = {{"connect", "connect (5 samples)", "#111"}, {"echo", "", "#222"}};
  spec.values = {{p50, max}, {std::nullopt, -1.0}};
  return spec;
}

TEST(SvgChartTest, GroupedBarsTakeALogAxisForLongTails) {
  const std::string linear = GroupedBarChart(Latency(1, 5));
  EXPECT_THAT(linear, HasSubstr(">latency (ms)</text>"));
  EXPECT_THAT(linear, HasSubstr("<title>connect max: 5 ms</title>"));
  EXPECT_THAT(linear, HasSubstr(">connect (5 samples)</text>"));
  EXPECT_THAT(linear, HasSubstr(">echo</text>"));
  EXPECT_EQ(Count(linear, "<rect x="), 2u + 2u);   // two bars, two legend boxes
  EXPECT_EQ(Count(linear, ">\u2014</text>"), 2u);  // missing and negative values
  const std::string log = GroupedBarChart(Latency(0.1, 20.5));
  EXPECT_THAT(log, HasSubstr(">latency (ms, log scale)</text>"));
}

TEST(SvgChartTest, HorizontalBarsEscapeAndShortenLabels) {
  HorizontalBarChartSpec spec;
  spec.title = "Failures";
  spec.x_label = "failures (count)";
  spec.bars = {{"<EVIL>", 100, "100 (<0.01% of requested)"}, {std::string(60, 'x'), 20, "20"}};
  const std::string svg = HorizontalBarChart(spec);
  EXPECT_THAT(svg, HasSubstr(">&lt;EVIL&gt;</text>"));
  EXPECT_THAT(svg, HasSubstr("<title>&lt;EVIL&gt;: 100 (&lt;0.01% of requested)</title>"));
  EXPECT_THAT(svg, HasSubstr(absl::StrCat(">", std::string(kMaxChartLabelChars, 'x'), "\u2026</text>")));
  EXPECT_EQ(Count(svg, "fill=\"#d1242f\"><title>"), 2u);
}

TEST(SvgChartTest, DecimationKeepsSpikesAndEnds) {
  std::vector<double> key(10000, 1.0);
  key[4321] = 1000;
  key[7777] = -50;
  const std::vector<size_t> picked = Decimate(key, 200);
  EXPECT_LE(picked.size(), 202u);
  EXPECT_EQ(picked.front(), 0u);
  EXPECT_EQ(picked.back(), 9999u);
  EXPECT_NE(std::find(picked.begin(), picked.end(), 4321u), picked.end());
  EXPECT_NE(std::find(picked.begin(), picked.end(), 7777u), picked.end());
  EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end()));
  EXPECT_EQ(Decimate({1, 2, 3}, 200), (std::vector<size_t>{0, 1, 2}));
}

}  // namespace
}  // namespace fourtuple::coordinator

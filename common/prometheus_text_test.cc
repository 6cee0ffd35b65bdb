#include "common/prometheus_text.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(PrometheusTextTest, CounterAndGaugeFamilies) {
  PrometheusText out;
  out.Counter("fourtuple_test_accepted_total", "Connections accepted.", 42);
  out.Gauge("fourtuple_test_open_connections", "Open now.", uint64_t{7});
  out.Gauge("fourtuple_test_ratio", "A fraction.", 0.25);
  EXPECT_EQ(out.text(),
            "# HELP fourtuple_test_accepted_total Connections accepted.\n"
            "# TYPE fourtuple_test_accepted_total counter\n"
            "fourtuple_test_accepted_total 42\n"
            "# HELP fourtuple_test_open_connections Open now.\n"
            "# TYPE fourtuple_test_open_connections gauge\n"
            "fourtuple_test_open_connections 7\n"
            "# HELP fourtuple_test_ratio A fraction.\n"
            "# TYPE fourtuple_test_ratio gauge\n"
            "fourtuple_test_ratio 0.25\n");
}

TEST(PrometheusTextTest, LabelledSeries) {
  PrometheusText out;
  out.Family("fourtuple_test_errors_total", "counter", "Errors by reason.");
  out.Sample("fourtuple_test_errors_total", {{"reason", "ECONNREFUSED"}}, uint64_t{3});
  out.Sample("fourtuple_test_errors_total", {{"reason", "EMFILE"}, {"worker", "1"}},
             uint64_t{18446744073709551615u});
  EXPECT_EQ(out.text(),
            "# HELP fourtuple_test_errors_total Errors by reason.\n"
            "# TYPE fourtuple_test_errors_total counter\n"
            "fourtuple_test_errors_total{reason=\"ECONNREFUSED\"} 3\n"
            "fourtuple_test_errors_total{reason=\"EMFILE\",worker=\"1\"} 18446744073709551615\n");
}

TEST(PrometheusTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("line1\nback\\slash \"quotes\" stay"), "line1\\nback\\\\slash \"quotes\" stay");

  PrometheusText out;
  out.Family("m", "gauge", "two\nlines");
  out.Sample("m", {{"host", "lab\"1\"\n"}}, 1.0);
  EXPECT_EQ(out.text(),
            "# HELP m two\\nlines\n"
            "# TYPE m gauge\n"
            "m{host=\"lab\\\"1\\\"\\n\"} 1\n");
}

TEST(PrometheusTextTest, FormatsValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(-3), "-3");
  EXPECT_EQ(FormatSampleValue(1e15), "1000000000000000");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(123456.789), "123456.789");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
  // Past 2^53 a double is printed in exponent form, still a valid float.
  EXPECT_EQ(FormatSampleValue(1e20), "1e+20");
}

TEST(PrometheusTextTest, ChecksNames) {
  EXPECT_TRUE(IsValidMetricName("fourtuple_agent_open_connections"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("with-dash"));
  EXPECT_TRUE(IsValidLabelName("reason"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(PrometheusTextTest, HistogramIsCumulativeInSeconds) {
  Histogram h;
  h.Record(40);       // 40 us
  h.Record(100);      // bucket [100, 104): not wholly <= 100 us
  h.Record(900);      // 0.9 ms
  h.Record(3000000);  // 3 s
  const double bounds[] = {0.00005, 0.0001, 0.001, 1};
  PrometheusText out;
  out.HistogramSeconds("fourtuple_test_latency_seconds", "Latency.", h, bounds);
  EXPECT_EQ(out.text(),
            "# HELP fourtuple_test_latency_seconds Latency.\n"
            "# TYPE fourtuple_test_latency_seconds histogram\n"
            "fourtuple_test_latency_seconds_bucket{le=\"5e-05\"} 1\n"
            "fourtuple_test_latency_seconds_bucket{le=\"0.0001\"} 1\n"
            "fourtuple_test_latency_seconds_bucket{le=\"0.001\"} 3\n"
            "fourtuple_test_latency_seconds_bucket{le=\"1\"} 3\n"
            "fourtuple_test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "fourtuple_test_latency_seconds_sum 3.00104\n"
            "fourtuple_test_latency_seconds_count 4\n");
}

TEST(PrometheusTextTest, EmptyHistogramHasZeroBuckets) {
  PrometheusText out;
  out.HistogramSeconds("h_seconds", "Empty.", Histogram(), kLatencyBucketsSeconds);
  const std::string& text = out.text();
  EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("h_seconds_sum 0\nh_seconds_count 0\n"), std::string::npos);
  // HELP, TYPE, 17 bounds, +Inf, sum, count.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 22);
}

TEST(PrometheusTextTest, TakeEmptiesTheWriter) {
  PrometheusText out;
  out.Counter("c_total", "C.", 1);
  std::string body = out.Take();
  EXPECT_FALSE(body.empty());
  EXPECT_TRUE(out.text().empty());
}

}  // namespace
}  // namespace fourtuple

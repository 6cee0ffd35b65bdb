// The checker the e2e tests trust must itself refuse broken text, and accept
// what our writer produces.
#include "tests/support/prometheus_check.h"

#include "common/prometheus_text.h"
#include "gtest/gtest.h"

namespace fourtuple::testing {
namespace {

TEST(PrometheusCheckTest, AcceptsTheWritersOutput) {
  PrometheusText out;
  out.Counter("a_total", "A \\ counter\nwith two lines.", 5);
  out.Family("b_total", "counter", "By reason.");
  out.Sample("b_total", {{"reason", "ECONNREFUSED"}}, uint64_t{2});
  out.Sample("b_total", {{"reason", "q\"uote\\\n"}}, uint64_t{1});
  out.Gauge("c", "Gauge.", 0.5);
  Histogram h;
  h.Record(30);
  h.Record(2000);
  out.HistogramSeconds("d_seconds", "Latency.", h, kLatencyBucketsSeconds);
  absl::StatusOr<PrometheusSamples> samples = ParsePrometheusText(out.text());
  ASSERT_TRUE(samples.ok()) << samples.status() << "\n" << out.text();
  EXPECT_EQ(samples->at("a_total"), 5);
  EXPECT_EQ(samples->at("b_total{reason=\"ECONNREFUSED\"}"), 2);
  EXPECT_EQ(samples->at("c"), 0.5);
  EXPECT_EQ(samples->at("d_seconds_bucket{le=\"+Inf\"}"), 2);
  EXPECT_EQ(samples->at("d_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(samples->at("d_seconds_sum"), 0.00203);
}

TEST(PrometheusCheckTest, RefusesBrokenText) {
  const char* bad[] = {
      "no_newline 1",
      "bad-name 1\n",
      "x{a=\"unterminated} 1\n",
      "x{a=\"bad \\q escape\"} 1\n",
      "x{1a=\"v\"} 1\n",
      "x notanumber\n",
      "x 1 2 3\n",
      "# TYPE x countr\n",
      "# TYPE x counter\n# TYPE x counter\nx 1\n",
      "x 1\n# TYPE x counter\n",
      "x 1\nx 2\n",
      "x 1\ny 1\nx{a=\"b\"} 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 0\n",
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 0\n",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParsePrometheusText(text).ok()) << text;
  }
  EXPECT_TRUE(ParsePrometheusText("").ok());
  EXPECT_TRUE(ParsePrometheusText("# a comment\nx{a=\"b\",} 1e-05 1712345678000\n").ok());
}

}  // namespace
}  // namespace fourtuple::testing

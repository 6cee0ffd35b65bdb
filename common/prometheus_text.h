// Writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one
// "# HELP" and "# TYPE" line per metric family, then its samples.
//
//   PrometheusText out;
//   out.Gauge("fourtuple_target_open_connections", "Connections open now.", 12);
//   out.Family("fourtuple_target_accept_errors_total", "counter", "accept(2) failures by errno name.");
//   out.Sample("fourtuple_target_accept_errors_total", {{"reason", "EMFILE"}}, 3);
//   std::string body = out.Take();
//
// Metric and label names come from our code and are checked only by the
// unit tests (IsValidMetricName); label values and help text are escaped as
// the format requires.
//
// Thread-safety: thread-compatible (one writer per scrape).
#ifndef FOURTUPLE_COMMON_PROMETHEUS_TEXT_H_
#define FOURTUPLE_COMMON_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/histogram.h"

namespace fourtuple {

struct PrometheusLabel {
  absl::string_view name;
  absl::string_view value;
};

// Upper bounds (seconds) for latency histograms: 50 us to 10 s, 18 lines per
// histogram with +Inf. Loopback connects take tens of microseconds, a full
// SYN backlog seconds.
extern const double kLatencyBucketsSeconds[17];

class PrometheusText {
 public:
  // "# HELP name help" and "# TYPE name type"; `type` is counter, gauge,
  // histogram or untyped.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);

  // One sample line: name{labels} value.
  void Sample(absl::string_view name, std::initializer_list<PrometheusLabel> labels, double value);
  void Sample(absl::string_view name, std::initializer_list<PrometheusLabel> labels, uint64_t value);

  // A family with one unlabelled sample.
  void Counter(absl::string_view name, absl::string_view help, uint64_t value);
  void Gauge(absl::string_view name, absl::string_view help, double value);
  void Gauge(absl::string_view name, absl::string_view help, uint64_t value);

  // A histogram family from our microsecond histogram, in seconds:
  // name_bucket{le="..."} cumulative for each bound and +Inf, name_sum,
  // name_count. Our buckets (6% wide) do not line up with `bounds_seconds`:
  // a bucket counts toward a bound only when all of it lies at or below the
  // bound, so a straddling bucket shows up one bound later (latencies read
  // slightly high, never low).
  void HistogramSeconds(absl::string_view name, absl::string_view help, const Histogram& histogram,
                        absl::Span<const double> bounds_seconds);

  const std::string& text() const { return text_; }
  std::string Take() { return std::move(text_); }

 private:
  void AppendSample(absl::string_view name, std::initializer_list<PrometheusLabel> labels,
                    absl::string_view extra_label, absl::string_view extra_value, absl::string_view value);

  std::string text_;
};

// A label value as it appears between the quotes: \ " and newline escaped.
std::string EscapeLabelValue(absl::string_view value);
// Help text: \ and newline escaped.
std::string EscapeHelp(absl::string_view help);
// A sample value: integers as integers, others shortest round-trip, and
// +Inf, -Inf, NaN.
std::string FormatSampleValue(double value);
// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(absl::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).
bool IsValidLabelName(absl::string_view name);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_PROMETHEUS_TEXT_H_

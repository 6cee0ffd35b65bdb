// Test support: checks that a /metrics body is valid Prometheus text format
// 0.0.4 line by line (regular expressions, as promtool is not installed),
// and reads its samples. For tests only.
#ifndef FOURTUPLE_TESTS_SUPPORT_PROMETHEUS_CHECK_H_
#define FOURTUPLE_TESTS_SUPPORT_PROMETHEUS_CHECK_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace fourtuple::testing {

// Samples keyed as written: `name` or `name{label="value",...}`.
using PrometheusSamples = std::map<std::string, double>;

// Every line must be a HELP or TYPE comment, another comment, blank, or a
// sample `name{labels} value [timestamp]` with valid names, escapes and a
// float value. Also: at most one TYPE per family, given before its samples;
// no sample key twice; histogram buckets cumulative with le="+Inf" equal to
// _count. The error names the line number and text.
absl::StatusOr<PrometheusSamples> ParsePrometheusText(const std::string& text);

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_PROMETHEUS_CHECK_H_

#include "common/prometheus_text.h"

#include <charconv>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fourtuple {

const double kLatencyBucketsSeconds[17] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

namespace {

bool IsNameChar(char c, bool first, bool allow_colon) {
  if (absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_') return true;
  if (allow_colon && c == ':') return true;
  return !first && absl::ascii_isdigit(static_cast<unsigned char>(c));
}

bool IsValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, allow_colon)) return false;
  }
  return true;
}

}  // namespace

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Counts that arrive as doubles (gauges) print as integers up to 2^53,
  // where every integer is still exact.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::general);
  return std::string(buffer, result.ptr);
}

bool IsValidMetricName(absl::string_view name) { return IsValidName(name, /*allow_colon=*/true); }

bool IsValidLabelName(absl::string_view name) {
  return IsValidName(name, /*allow_colon=*/false) && name.substr(0, 2) != "__";
}

void PrometheusText::Family(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ", EscapeHelp(help), "\n# TYPE ", name, " ", type, "\n");
}

void PrometheusText::AppendSample(absl::string_view name, std::initializer_list<PrometheusLabel> labels,
                                  absl::string_view extra_label, absl::string_view extra_value,
                                  absl::string_view value) {
  text_.append(name.data(), name.size());
  if (labels.size() > 0 || !extra_label.empty()) {
    text_ += '{';
    bool first = true;
    for (const PrometheusLabel& label : labels) {
      absl::StrAppend(&text_, first ? "" : ",", label.name, "=\"", EscapeLabelValue(label.value), "\"");
      first = false;
    }
    if (!extra_label.empty()) {
      absl::StrAppend(&text_, first ? "" : ",", extra_label, "=\"", EscapeLabelValue(extra_value), "\"");
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", value, "\n");
}

void PrometheusText::Sample(absl::string_view name, std::initializer_list<PrometheusLabel> labels,
                            double value) {
  AppendSample(name, labels, "", "", FormatSampleValue(value));
}

void PrometheusText::Sample(absl::string_view name, std::initializer_list<PrometheusLabel> labels,
                            uint64_t value) {
  AppendSample(name, labels, "", "", absl::StrCat(value));
}

void PrometheusText::Counter(absl::string_view name, absl::string_view help, uint64_t value) {
  Family(name, "counter", help);
  Sample(name, {}, value);
}

void PrometheusText::Gauge(absl::string_view name, absl::string_view help, double value) {
  Family(name, "gauge", help);
  Sample(name, {}, value);
}

void PrometheusText::Gauge(absl::string_view name, absl::string_view help, uint64_t value) {
  Family(name, "gauge", help);
  Sample(name, {}, value);
}

void PrometheusText::HistogramSeconds(absl::string_view name, absl::string_view help,
                                      const Histogram& histogram, absl::Span<const double> bounds_seconds) {
  Family(name, "histogram", help);
  const std::string bucket_name = absl::StrCat(name, "_bucket");
  for (double bound : bounds_seconds) {
    const uint64_t bound_us = static_cast<uint64_t>(std::llround(bound * 1e6));
    AppendSample(bucket_name, {}, "le", FormatSampleValue(bound),
                 absl::StrCat(histogram.CountAtOrBelowUs(bound_us)));
  }
  // +Inf and _count from the buckets themselves, not count(): a histogram
  // read from shared memory mid-update may disagree by a sample, and the
  // format requires +Inf == _count >= every other bucket.
  const uint64_t total = histogram.CountAtOrBelowUs(UINT64_MAX);
  AppendSample(bucket_name, {}, "le", "+Inf", absl::StrCat(total));
  AppendSample(absl::StrCat(name, "_sum"), {}, "", "",
               FormatSampleValue(static_cast<double>(histogram.sum_us()) / 1e6));
  AppendSample(absl::StrCat(name, "_count"), {}, "", "", absl::StrCat(total));
}

}  // namespace fourtuple

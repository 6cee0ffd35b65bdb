#include "tests/support/prometheus_check.h"

#include <cstdlib>
#include <regex>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fourtuple::testing {
namespace {

const char kName[] = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const char kLabelName[] = "[a-zA-Z_][a-zA-Z0-9_]*";
const char kLabelValue[] = R"((?:[^"\\\n]|\\[\\"n])*)";
const char kValue[] =
    R"([+-]?(?:Inf|NaN|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?))";

struct HistogramSeries {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count) in order
  bool has_count = false;
  double count = 0;
};

// The family a sample belongs to: histograms and summaries write name_bucket,
// name_sum and name_count under the family `name`.
std::string FamilyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!absl::EndsWith(name, suffix)) continue;
    std::string base(absl::StripSuffix(name, suffix));
    auto it = types.find(base);
    if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
  }
  return name;
}

}  // namespace

absl::StatusOr<PrometheusSamples> ParsePrometheusText(const std::string& text) {
  const std::regex help_re(absl::StrCat("# HELP (", kName, R"() (?:[^\\\n]|\\[\\n])*)"));
  const std::regex type_re(absl::StrCat("# TYPE (", kName, ") (counter|gauge|histogram|summary|untyped)"));
  const std::string label = absl::StrCat(kLabelName, "=\"", kLabelValue, "\"");
  const std::regex sample_re(
      absl::StrCat("(", kName, ")(\\{(?:", label, "(?:,", label, ")*,?)?\\})? (", kValue, ")(?: -?[0-9]+)?"));
  const std::regex label_re(absl::StrCat("(", kLabelName, ")=\"(", kLabelValue, ")\""));

  if (!text.empty() && text.back() != '\n') return absl::InvalidArgumentError("the last line has no newline");
  PrometheusSamples samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::set<std::string> finished_families;  // families whose lines have ended
  std::string current_family;
  std::map<std::string, HistogramSeries> histograms;  // family + labels without le

  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", i + 1, ": ", what, ": \"", line, "\""));
    };
    std::smatch match;
    std::string family;
    if (line.empty()) continue;
    if (absl::StartsWith(line, "# HELP ")) {
      if (!std::regex_match(line, match, help_re)) return error("malformed HELP");
      family = match[1];
      if (!helped.insert(family).second) return error("second HELP for the family");
    } else if (absl::StartsWith(line, "# TYPE ")) {
      if (!std::regex_match(line, match, type_re)) return error("malformed TYPE");
      family = match[1];
      if (types.count(family) != 0) return error("second TYPE for the family");
      if (samples.count(family) != 0) return error("TYPE after the family's samples");
      types[family] = match[2];
    } else if (line[0] == '#') {
      continue;
    } else {
      if (!std::regex_match(line, match, sample_re)) return error("malformed sample");
      const std::string name = match[1];
      const std::string labels = match[2];
      family = FamilyOf(name, types);
      const std::string key = name + labels;
      double value = std::strtod(match[3].str().c_str(), nullptr);
      if (!samples.emplace(key, value).second) return error("the same series twice");

      if (types.count(family) != 0 && types[family] == "histogram") {
        std::string le;
        std::string other_labels;
        for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re);
             it != std::sregex_iterator(); ++it) {
          if ((*it)[1] == "le") {
            le = (*it)[2];
          } else {
            absl::StrAppend(&other_labels, (*it)[0].str(), ",");
          }
        }
        HistogramSeries& series = histograms[family + "{" + other_labels + "}"];
        if (name == family + "_bucket") {
          if (le.empty()) return error("histogram bucket without le");
          double bound = std::strtod(le.c_str(), nullptr);
          if (!series.buckets.empty() &&
              (bound <= series.buckets.back().first || value < series.buckets.back().second)) {
            return error("histogram buckets not in increasing le order or not cumulative");
          }
          series.buckets.emplace_back(bound, value);
        } else if (name == family + "_count") {
          series.has_count = true;
          series.count = value;
        } else if (!le.empty()) {
          return error("le label outside a _bucket sample");
        }
      }
    }
    if (family != current_family) {
      if (finished_families.count(family) != 0) return error("the family's lines are not together");
      if (!current_family.empty()) finished_families.insert(current_family);
      current_family = family;
    }
  }
  for (const auto& [series_name, series] : histograms) {
    if (series.buckets.empty() || series.buckets.back().first != HUGE_VAL) {
      return absl::InvalidArgumentError(absl::StrCat(series_name, ": no le=\"+Inf\" bucket"));
    }
    if (!series.has_count || series.count != series.buckets.back().second) {
      return absl::InvalidArgumentError(absl::StrCat(series_name, ": _count differs from the +Inf bucket"));
    }
  }
  return samples;
}

}  // namespace fourtuple::testing

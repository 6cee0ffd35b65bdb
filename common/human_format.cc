#include "common/human_format.h"

#include <cmath>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace fourtuple {
namespace {

// "2.50" -> "2.5", "3.00" -> "3"; leaves exponents alone.
std::string TrimZeros(std::string text) {
  if (text.find('.') == std::string::npos || text.find('e') != std::string::npos) return text;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

std::string FormatCount(uint64_t count) {
  const std::string digits = absl::StrCat(count);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string CountPhrase(uint64_t count, absl::string_view singular, absl::string_view plural) {
  return absl::StrCat(FormatCount(count), " ", count == 1 ? singular : plural);
}

std::string JoinSome(const std::vector<std::string>& items, size_t shown) {
  if (items.size() <= shown) return absl::StrJoin(items, ", ");
  return absl::StrCat(absl::StrJoin(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                      " and ", FormatCount(items.size() - shown), " more");
}

std::string FormatNumber(double value) {
  const double magnitude = std::fabs(value);
  if (!std::isfinite(value) || magnitude >= 1e15) return absl::StrFormat("%.3g", value);
  const std::string sign = value < 0 ? "-" : "";
  if (magnitude >= 100 || magnitude == std::floor(magnitude)) {
    const uint64_t rounded = static_cast<uint64_t>(std::llround(magnitude));
    return rounded == 0 ? "0" : sign + FormatCount(rounded);
  }
  if (magnitude >= 1) return sign + TrimZeros(absl::StrFormat("%.2f", magnitude));
  return sign + TrimZeros(absl::StrFormat("%.3g", magnitude));
}

std::string FormatCompactNumber(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e12) return absl::StrFormat("%.3g", value);
  if (magnitude >= 1e9) return absl::StrFormat("%.4gG", value / 1e9);
  if (magnitude >= 1e6) return absl::StrFormat("%.4gM", value / 1e6);
  if (magnitude >= 1e3) return absl::StrFormat("%.4gk", value / 1e3);
  return absl::StrFormat("%.4g", value);
}

std::string FormatBytes(double bytes) {
  if (!std::isfinite(bytes)) return absl::StrFormat("%g B", bytes);
  if (bytes < 0) return absl::StrCat("-", FormatBytes(-bytes));
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t unit = 0;
  // Decided on the value as printed, so 1,048,570 B is "1.0 MiB", not
  // "1024.0 KiB".
  while (unit + 1 < std::size(kUnits) &&
         (unit == 0 ? std::round(bytes) : std::round(bytes * 10) / 10) >= 1024) {
    bytes /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(std::llround(bytes), " B");
  return absl::StrFormat("%.1f %s", bytes, kUnits[unit]);
}

std::string FormatRate(double per_second) { return absl::StrCat(FormatNumber(per_second), "/s"); }

std::string FormatSeconds(double seconds) { return absl::StrCat(FormatNumber(seconds), " s"); }

std::string FormatPercent(double part, double whole) {
  if (!(whole > 0) || !std::isfinite(part / whole)) return "";
  double percent = 100.0 * part / whole;
  if (percent > 0 && percent < 0.01) return "<0.01%";
  if (part < whole && percent > 99.9) percent = 99.9;
  if (std::fabs(percent) >= 0.1) return TrimZeros(absl::StrFormat("%.1f", percent)) + "%";
  return TrimZeros(absl::StrFormat("%.2f", percent)) + "%";
}

}  // namespace fourtuple

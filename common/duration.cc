#include "common/duration.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fourtuple {
namespace {

struct Unit {
  absl::string_view name;
  int64_t nanoseconds;
};

// Largest first: DurationToString prefers the larger unit on a tie.
constexpr Unit kUnits[] = {
    {"h", int64_t{3600} * 1000 * 1000 * 1000},
    {"m", int64_t{60} * 1000 * 1000 * 1000},
    {"s", int64_t{1000} * 1000 * 1000},
    {"ms", int64_t{1000} * 1000},
    {"us", int64_t{1000}},
    {"ns", int64_t{1}},
};

constexpr absl::string_view kUnitList = "ns, us, ms, s, m, h";

const Unit* FindUnit(absl::string_view name) {
  for (const Unit& unit : kUnits) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status NotADuration(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("\"", text,
                                                 "\" is not a duration; expected a number and a unit (",
                                                 kUnitList, "), e.g. \"500ms\" or \"1.5s\""));
}

// `value` of `unit` written with at most 9 decimals, when that is exact.
bool FormatIn(int64_t nanoseconds, const Unit& unit, std::string* out) {
  int64_t whole = nanoseconds / unit.nanoseconds;
  int64_t rest = nanoseconds % unit.nanoseconds;
  if (whole == 0) return false;  // "0.5s" reads worse than "500ms"
  *out = absl::StrCat(whole);
  if (rest == 0) {
    absl::StrAppend(out, unit.name);
    return true;
  }
  // Decimal digits of rest / unit; stops when exact or after 9 digits
  // (a minute is not a power of ten: 20s is 0.333...m, never exact).
  std::string fraction;
  for (int digit = 0; digit < 9 && rest != 0; ++digit) {
    rest *= 10;  // rest < unit <= 3.6e12, so no overflow
    fraction.push_back(static_cast<char>('0' + rest / unit.nanoseconds));
    rest %= unit.nanoseconds;
  }
  if (rest != 0) return false;
  absl::StrAppend(out, ".", fraction, unit.name);
  return true;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration is empty; expected a number and a unit (", kUnitList, "), e.g. \"10s\""));
  }
  if (text.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is negative; a duration must be 0 or more"));
  }

  // Number: digits, optionally '.' and more digits, at least one digit in all.
  size_t i = 0;
  size_t integer_begin = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  absl::string_view integer_digits = text.substr(integer_begin, i - integer_begin);
  absl::string_view fraction_digits;
  if (i < text.size() && text[i] == '.') {
    size_t fraction_begin = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    fraction_digits = text.substr(fraction_begin, i - fraction_begin);
  }
  if (integer_digits.empty() && fraction_digits.empty()) return NotADuration(text);

  absl::string_view unit_text = text.substr(i);
  if (unit_text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" needs a unit: ", kUnitList, " (e.g. \"", text, "s\")"));
  }
  const Unit* unit = FindUnit(unit_text);
  if (unit == nullptr) {
    bool letters_only = true;
    for (char c : unit_text) {
      letters_only = letters_only && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    }
    if (!letters_only) return NotADuration(text);
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" has unknown unit \"", unit_text, "\"; expected one of ", kUnitList));
  }

  // Integer arithmetic in nanoseconds: "0.1s" must be exactly 100ms.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  absl::Status too_large =
      absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is too large; at most about 292 years"));
  int64_t whole = 0;
  for (char c : integer_digits) {
    if (whole > (kMax - 9) / 10) return too_large;
    whole = whole * 10 + (c - '0');
  }
  if (whole > kMax / unit->nanoseconds) return too_large;
  int64_t nanoseconds = whole * unit->nanoseconds;

  // The fraction, digit by digit: each adds unit * digit / 10^k, and must end
  // on a whole nanosecond.
  int64_t numerator = 0;    // fraction digits as an integer
  int64_t denominator = 1;  // 10^digits
  for (char c : fraction_digits) {
    if (denominator > kMax / 10 / 10) {
      // More digits than any unit can use; only zeros may follow.
      if (c != '0') {
        return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is finer than a nanosecond"));
      }
      continue;
    }
    numerator = numerator * 10 + (c - '0');
    denominator *= 10;
  }
  if (numerator != 0) {
    // numerator < 1e17 and unit <= 3.6e12: the product needs 128 bits.
    __extension__ using Wide = __int128;
    Wide product = static_cast<Wide>(numerator) * unit->nanoseconds;
    if (product % denominator != 0) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is finer than a nanosecond"));
    }
    auto fraction_ns = static_cast<int64_t>(product / denominator);
    if (nanoseconds > kMax - fraction_ns) return too_large;
    nanoseconds += fraction_ns;
  }
  return absl::Nanoseconds(nanoseconds);
}

std::string DurationToString(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "inf";
  if (d == -absl::InfiniteDuration()) return "-inf";
  if (d < absl::ZeroDuration()) return absl::StrCat("-", DurationToString(-d));
  int64_t nanoseconds = absl::ToInt64Nanoseconds(d);
  if (nanoseconds == 0) return "0s";
  std::string best;
  for (const Unit& unit : kUnits) {
    std::string candidate;
    if (FormatIn(nanoseconds, unit, &candidate) && (best.empty() || candidate.size() < best.size())) {
      best = std::move(candidate);
    }
  }
  return best;  // "ns" always succeeds for a whole number of nanoseconds
}

}  // namespace fourtuple

// Numbers for people, written one way by every program: the coordinator's
// progress, summary, preflight table and sentences, the HTML report, and the
// agent's and target-server's messages.
//
//   FormatCount(40000)                       "40,000"
//   CountPhrase(1, "agent", "agents")        "1 agent"
//   FormatNumber(4733.3)                     "4,733"  (2.126: "2.13", 0.0125: "0.0125")
//   FormatCompactNumber(1500000)             "1.5M"   (chart axes)
//   FormatBytes(5300)                        "5.2 KiB"
//   FormatRate(7999.6)                       "8,000/s"
//   FormatSeconds(4.25)                      "4.25 s"
//   FormatPercent(1, 3)                      "33.3%"
//
// Byte sizes are binary and say so: 1 KiB = 1024 B, then MiB, GiB, TiB (the
// units /proc/meminfo, ulimit and the kernel's slab counts use).
// Durations as plans and flags write them are common/duration.h's.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_HUMAN_FORMAT_H_
#define FOURTUPLE_COMMON_HUMAN_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fourtuple {

// A count with a comma every three digits.
std::string FormatCount(uint64_t count);

// The count and the noun that goes with it: "1 source address",
// "2 source addresses", "40,000 connections need".
std::string CountPhrase(uint64_t count, absl::string_view singular, absl::string_view plural);

// The first `shown` items joined with ", ", then " and N more" for the rest:
// a list of a thousand agents stays one readable line.
std::string JoinSome(const std::vector<std::string>& items, size_t shown);

// Any number for reading: whole or from 100 up, rounded to a whole number
// and grouped; from 1 to 100, two decimals at most; below 1, three
// significant digits. Trailing zeros go ("2.5", not "2.50"); from 1e15 up,
// and for NaN and infinities, printf's %g.
std::string FormatNumber(double value);

// Short, for chart axes: "950", "20k", "1.5M", "2G".
std::string FormatCompactNumber(double value);

// A size in binary units with one decimal: "512 B", "5.2 KiB", "24.0 GiB".
std::string FormatBytes(double bytes);

// A per-second rate: FormatNumber and "/s".
std::string FormatRate(double per_second);

// Seconds elapsed: FormatNumber and " s".
std::string FormatSeconds(double seconds);

// `part` as a percentage of `whole`: one decimal from 0.1% up, two below,
// "<0.01%" for less but not nothing. A part short of the whole never rounds
// up to 100% (at most "99.9%"). Empty when `whole` is not positive.
std::string FormatPercent(double part, double whole);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_HUMAN_FORMAT_H_

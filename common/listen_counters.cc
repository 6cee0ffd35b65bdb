#include "common/listen_counters.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/host_facts.h"

namespace fourtuple {

absl::StatusOr<ListenCounters> ParseListenCounters(absl::string_view netstat) {
  std::vector<absl::string_view> lines = absl::StrSplit(netstat, '\n', absl::SkipEmpty());
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (!absl::StartsWith(lines[i], "TcpExt:") || !absl::StartsWith(lines[i + 1], "TcpExt:")) continue;
    std::vector<absl::string_view> names = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    std::vector<absl::string_view> values = absl::StrSplit(lines[i + 1], ' ', absl::SkipEmpty());
    if (names.size() != values.size()) break;
    ListenCounters counters;
    for (size_t k = 1; k < names.size(); ++k) {
      uint64_t value = 0;
      if (!absl::SimpleAtoi(values[k], &value)) continue;
      if (names[k] == "ListenOverflows") counters.listen_overflows = value;
      if (names[k] == "ListenDrops") counters.listen_drops = value;
      if (names[k] == "SyncookiesSent") counters.syncookies_sent = value;
    }
    return counters;
  }
  return absl::NotFoundError("no TcpExt counters in /proc/net/netstat");
}

absl::StatusOr<ListenCounters> ReadListenCounters() {
  absl::StatusOr<std::string> text = ReadSmallFile("/proc/net/netstat");
  if (!text.ok()) return text.status();
  return ParseListenCounters(*text);
}

ListenCounters ListenCountersSince(const ListenCounters& earlier, const ListenCounters& later) {
  auto since = [](uint64_t a, uint64_t b) { return b >= a ? b - a : 0; };
  return {since(earlier.listen_overflows, later.listen_overflows),
          since(earlier.listen_drops, later.listen_drops),
          since(earlier.syncookies_sent, later.syncookies_sent)};
}

}  // namespace fourtuple

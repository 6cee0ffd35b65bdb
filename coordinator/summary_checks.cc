#include "coordinator/summary_checks.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/failure_reason.h"
#include "common/human_format.h"
#include "common/terminal_text.h"

namespace fourtuple::coordinator {
namespace {

using Json = nlohmann::ordered_json;

const Json& Child(const Json& object, const char* key) {
  static const Json empty = Json::object();
  if (!object.is_object()) return empty;
  auto it = object.find(key);
  return it == object.end() ? empty : *it;
}

// A whole number >= 0 (JSON built in code holds signed integers, parsed
// JSON unsigned ones), else 0.
uint64_t Count(const Json& object, const char* key) {
  const Json& value = Child(object, key);
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() > 0)
    return static_cast<uint64_t>(value.get<int64_t>());
  return 0;
}

// echo.send as a string or in its {"hex": ...} form.
bool SendExpectMode(const Json& plan) {
  const Json& send = Child(Child(plan, "echo"), "send");
  return send.is_string() || (send.is_object() && send.contains("hex"));
}

// At most 64 bytes of `bytes`, escaped for a terminal line, in quotes.
std::string Quoted(const std::string& bytes) {
  constexpr size_t kMax = 64;
  std::string shown = EscapeForTerminal(bytes.substr(0, kMax));
  return absl::StrCat("\"", shown, "\"", bytes.size() > kMax ? "..." : "");
}

}  // namespace

EchoCheckCounts CountEchoChecks(const EchoCheckInputs& in) {
  EchoCheckCounts out;
  out.planned = static_cast<uint64_t>(in.rounds) * in.established;
  out.ran = in.sent;
  out.passed = in.verified;
  out.failed = in.failed;
  out.skipped = out.planned > out.ran ? out.planned - out.ran : 0;
  if (out.skipped == 0) return out;
  std::vector<std::string> why;
  if (in.mismatched > 0) {
    why.push_back(in.send_expect ? "a connection whose reply did not match echo.expect is closed"
                                 : "a connection whose echo did not match is closed");
  }
  if (in.closed_by_peer > 0) why.push_back("the far side closed connections");
  if (in.interrupted) why.push_back("the run was interrupted");
  if (why.empty()) why.push_back("later rounds did not run or connections were lost");
  out.skipped_because = absl::StrJoin(why, "; ");
  return out;
}

Json LatencyEntry(uint64_t count, double p50_ms, double p99_ms, double p999_ms, double max_ms) {
  Json out;
  if (count == 0) {
    for (const char* key : {"p50", "p99", "p999", "max"}) out[key] = nullptr;
  } else {
    out["p50"] = p50_ms;
    out["p99"] = p99_ms;
    out["p999"] = p999_ms;
    out["max"] = max_ms;
  }
  out["count"] = count;
  return out;
}

std::string FormatLatencyTable(const Json& latency) {
  struct Row {
    const char* key;
    const char* label;
  };
  // connect: from the connect() call (what the target took); connect_queue:
  // time a connection waited in the agent's own queue before that call.
  // tls_handshake: TCP established to TLS finished, present with target.tls.
  constexpr Row kRows[] = {{"connect", "connect"},
                           {"connect_queue", "queued"},
                           {"tls_handshake", "tls"},
                           {"ws_upgrade", "ws_upgrade"},
                           {"echo_rtt", "echo_rtt"}};
  std::string out = "latency (ms)      p50      p99    p99.9      max\n";
  for (const Row& row : kRows) {
    const Json& entry = Child(latency, row.key);
    if (!entry.is_object() || entry.empty()) continue;
    absl::StrAppendFormat(&out, "  %-10s", row.label);
    const bool none = Child(entry, "count").is_number_integer() && Count(entry, "count") == 0;
    for (const char* key : {"p50", "p99", "p999", "max"}) {
      const Json& value = Child(entry, key);
      if (none || !value.is_number()) {
        absl::StrAppendFormat(&out, " %8s", "n/a");
      } else {
        absl::StrAppendFormat(&out, " %8.3f", value.get<double>());
      }
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string FormatEchoChecks(const Json& totals) {
  // No rounds in the plan: the echo line above says so already.
  if (!Child(totals, "echo_planned").is_number_integer() || Count(totals, "echo_planned") == 0) return "";
  std::string out = absl::StrCat("echo checks: ", FormatCount(Count(totals, "echo_planned")), " planned, ",
                                 FormatCount(Count(totals, "echo_ran")), " ran, ",
                                 FormatCount(Count(totals, "echo_verified")), " passed, ",
                                 FormatCount(Count(totals, "echo_failed")), " failed, ",
                                 FormatCount(Count(totals, "echo_skipped")), " skipped");
  const Json& because = Child(totals, "echo_skipped_because");
  if (Count(totals, "echo_skipped") > 0 && because.is_string()) {
    absl::StrAppend(&out, " (", EscapeForTerminal(because.get<std::string>()), ")");
  }
  return out + "\n";
}

std::string ModeReasonHint(absl::string_view reason, const Json& plan) {
  if (SendExpectMode(plan)) {
    if (reason == "echo_mismatch") {
      return "the reply differs from echo.expect (what the server answered to echo.send is not the "
             "reply the plan expects): check echo.send and echo.expect against what the server really "
             "says; the connection is closed and not checked again";
    }
    if (reason == "echo_timeout") {
      return "the whole reply echo.expect names did not arrive within echo.timeout: the server "
             "answered less than expected or not at all, or is overloaded; check echo.expect's length "
             "or raise echo.timeout";
    }
  }
  return std::string(ReasonHint(reason));
}

std::string FormatMismatchDetail(const Json& report) {
  const Json& plan = Child(report, "plan");
  if (!SendExpectMode(plan) || Count(Child(report, "failures"), "echo_mismatch") == 0) return "";
  const Json& expect = Child(Child(plan, "echo"), "expect");
  std::string out;
  if (expect.is_string()) absl::StrAppend(&out, "  expected: ", Quoted(expect.get<std::string>()), "\n");
  // An agent that keeps the first bytes of an offending reply reports them
  // under failure_samples.
  const Json& agents = Child(report, "agents");
  if (agents.is_array()) {
    for (const Json& agent : agents) {
      const Json& sample = Child(Child(agent, "failure_samples"), "echo_mismatch");
      if (sample.is_string()) {
        absl::StrAppend(&out, "  received: ", Quoted(sample.get<std::string>()), "\n");
        break;
      }
    }
  }
  return out;
}

}  // namespace fourtuple::coordinator

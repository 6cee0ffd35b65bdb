#include "coordinator/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/duration.h"
#include "common/failure_reason.h"
#include "common/histogram.h"
#include "common/human_format.h"
#include "common/ready_file.h"
#include "common/terminal_text.h"
#include "coordinator/failure_samples.h"
#include "coordinator/load_model_report.h"
#include "coordinator/slow_connects.h"
#include "coordinator/summary_checks.h"
#include "coordinator/text_table.h"
#include "coordinator/what_gave.h"

namespace fourtuple::coordinator {
namespace {

using Json = nlohmann::ordered_json;

// Rounds for the report: readers want 2.1, not 2.0999999999999996.
double Round3(double value) { return std::round(value * 1000.0) / 1000.0; }

Json Percentiles(const Histogram& histogram) {
  return LatencyEntry(histogram.count(), Round3(histogram.PercentileUs(0.50) / 1000.0),
                      Round3(histogram.PercentileUs(0.99) / 1000.0),
                      Round3(histogram.PercentileUs(0.999) / 1000.0), Round3(histogram.max_us() / 1000.0));
}

// The first fields of every report.
Json NewReport() {
  Json out;
  out["format"] = kReportFormat;
  out["format_version"] = kReportFormatVersion;
  return out;
}

Json CountMap(const google::protobuf::Map<std::string, uint64_t>& map) {
  // Sorted keys, so reports diff cleanly.
  std::map<std::string, uint64_t> sorted(map.begin(), map.end());
  Json out = Json::object();
  for (const auto& [key, value] : sorted) out[key] = value;
  return out;
}

Json HostFactsJson(const v1::HostFacts& f) {
  Json out;
  out["hostname"] = f.hostname();
  out["version"] = f.version();
  out["cores"] = f.cores();
  out["memory_total_bytes"] = f.memory_total_bytes();
  out["memory_available_bytes"] = f.memory_available_bytes();
  out["nofile_soft"] = f.nofile_soft();
  out["nofile_hard"] = f.nofile_hard();
  out["nr_open"] = f.nr_open();
  out["file_max"] = f.file_max();
  out["port_range_low"] = f.port_range_low();
  out["port_range_high"] = f.port_range_high();
  out["somaxconn"] = f.somaxconn();
  out["tcp_max_syn_backlog"] = f.tcp_max_syn_backlog();
  out["conntrack_present"] = f.conntrack_present();
  out["conntrack_max"] = f.conntrack_max();
  out["conntrack_count"] = f.conntrack_count();
  out["processes"] = f.processes();
  out["local_addresses"] = Json::array();
  for (const std::string& address : f.local_addresses()) out["local_addresses"].push_back(address);
  out["local_routes"] = Json::array();
  for (const std::string& route : f.local_routes()) out["local_routes"].push_back(route);
  return out;
}

}  // namespace

absl::string_view AgentStateName(AgentState state) {
  switch (state) {
    case AgentState::kDone:
      return "done";
    case AgentState::kLost:
      return "lost";
    case AgentState::kFailed:
      return "failed";
  }
  return "unknown";
}

// Agents listed in the text summary; past this, those furthest from done.
constexpr size_t kMaxSummaryAgents = 20;

// An agent's TLS outcome: handshakes, resumed, what was negotiated and what
// its first TLS failures said.
Json AgentTlsJson(const v1::RunReport& last) {
  Json tls;
  tls["handshakes"] = last.tls_handshakes();
  tls["resumed"] = last.tls_resumed();
  tls["negotiated"] = CountMap(last.tls_negotiated());
  tls["failure_details"] = Json::object();
  for (const auto& [reason, text] : last.tls_failure_details()) tls["failure_details"][reason] = text;
  return tls;
}

Report BuildReport(const RunRecord& record) {
  uint64_t requested = 0, established = 0, failed = 0;
  uint64_t echo_verified = 0, echo_failed = 0, closed_by_peer = 0;
  uint64_t echo_sent = 0, echo_mismatched = 0;
  std::map<std::string, uint64_t> failures;
  Histogram connect_latency, echo_rtt, connect_queue, tls_handshake;
  Histogram ws_upgrade;
  uint64_t ws_upgrades = 0, ws_pings = 0, ws_pongs = 0, ws_closed_cleanly = 0;
  std::vector<HostTurnAways> turn_aways;
  uint64_t tls_handshakes = 0, tls_resumed = 0;
  std::map<std::string, std::string> tls_details;  // the first agent's word per reason
  Json agents = Json::array();
  std::vector<std::string> reasons;
  std::vector<std::string> agents_gone;  // lost or failed agents, for what_gave

  for (const AgentRecord& agent : record.agents) {
    const v1::RunReport& last = agent.last;  // all zero when there was no report
    requested += agent.requested;
    established += last.established();
    failed += last.failed();
    echo_verified += last.echo_verified();
    closed_by_peer += last.closed_by_peer();
    const uint64_t agent_echo_failed = last.echo_mismatched() + last.echo_timed_out() + last.echo_closed();
    echo_failed += agent_echo_failed;
    for (const auto& [reason, count] : last.failures()) failures[reason] += count;
    connect_latency.Merge(last.connect_latency());
    echo_rtt.Merge(last.echo_rtt());
    connect_queue.Merge(last.connect_queue());
    echo_sent += last.echo_sent();
    echo_mismatched += last.echo_mismatched();
    tls_handshake.Merge(last.tls_handshake());
    tls_handshakes += last.tls_handshakes();
    tls_resumed += last.tls_resumed();
    for (const auto& [reason, text] : last.tls_failure_details()) tls_details.emplace(reason, text);
    ws_upgrade.Merge(last.ws_upgrade());
    ws_upgrades += last.ws_upgrades();
    ws_pings += last.ws_pings();
    ws_pongs += last.ws_pongs();
    ws_closed_cleanly += last.ws_closed_cleanly();

    Json item;
    item["endpoint"] = agent.endpoint;
    item["host"] = last.host().empty() ? agent.host : last.host();
    item["state"] = AgentStateName(agent.state);
    item["requested"] = agent.requested;
    item["established"] = last.established();
    item["failed"] = last.failed();
    item["open"] = last.open();
    item["closed_by_peer"] = last.closed_by_peer();
    item["failures"] = CountMap(last.failures());
    item["failure_samples"] = FailureSamplesJson(last.failure_samples());
    item["echo_verified"] = last.echo_verified();
    item["echo_mismatched"] = last.echo_mismatched();
    item["echo_timed_out"] = last.echo_timed_out();
    item["echo_closed"] = last.echo_closed();
    item["processes"] = last.processes();
    item["source_addresses_used"] = last.source_addresses_used();
    const v1::PrefixSourceSummary& sources = last.source_address_summary();
    item["source_address_summary"] = {{"addresses", sources.addresses()},
                                      {"min", sources.min()},
                                      {"median", sources.median()},
                                      {"max", sources.max()}};
    item["by_source_address"] = CountMap(last.established_by_source());
    if (last.kernel_counters()) {
      Json& kernel = item["listen_turn_aways"];
      kernel["listen_overflows"] = last.listen_overflows();
      kernel["listen_drops"] = last.listen_drops();
      kernel["syncookies_sent"] = last.syncookies_sent();
      turn_aways.push_back({item["host"].get<std::string>(), last.listen_overflows(), last.listen_drops(),
                            last.syncookies_sent()});
    }
    item["failed_by_source_address"] = CountMap(last.failed_by_source());
    if (record.plan.tls.has_value()) item["tls"] = AgentTlsJson(last);
    if (agent.has_facts) item["host_facts"] = HostFactsJson(agent.facts);
    if (!agent.error.empty()) item["error"] = agent.error;
    if (agent.state != AgentState::kDone) {
      reasons.push_back(absl::StrCat("agent ", agent.endpoint, " ", AgentStateName(agent.state),
                                     agent.error.empty() ? "" : ": ", agent.error));
      agents_gone.push_back(reasons.back());
    }
    agents.push_back(std::move(item));
  }

  const uint64_t echo_expected = static_cast<uint64_t>(record.plan.echo.rounds) * established;
  if (established < requested) {
    reasons.push_back(absl::StrCat(FormatCount(requested - established), " of ", FormatCount(requested),
                                   " connections not established"));
  }
  const EchoCheckCounts checks = CountEchoChecks({.rounds = record.plan.echo.rounds,
                                                  .established = established,
                                                  .sent = echo_sent,
                                                  .verified = echo_verified,
                                                  .failed = echo_failed,
                                                  .mismatched = echo_mismatched,
                                                  .closed_by_peer = closed_by_peer,
                                                  .interrupted = record.interrupted,
                                                  .send_expect = !record.plan.echo.send.empty()});
  // With churn or reconnect, closes and returns during the hold are the
  // point: the load models' rule decides (load_model_report.h).
  const bool load_rule = UsesLoadModelPassRule(record.plan);
  if (load_rule) {
    for (std::string& reason : LoadModelFailReasons(record, requested)) reasons.push_back(std::move(reason));
  }
  if (!load_rule && (echo_verified < echo_expected || echo_failed > 0)) {
    reasons.push_back(
        absl::StrCat(FormatCount(echo_verified), " of ", FormatCount(echo_expected), " echo checks passed (",
                     CountPhrase(record.plan.echo.rounds, "round", "rounds"), " x ",
                     CountPhrase(established, "connection", "connections"), "): ", FormatCount(checks.failed),
                     " failed, ", FormatCount(checks.skipped), " skipped"));
  }
  if (closed_by_peer > 0 && !record.plan.load.reconnect.has_value()) {
    // Held connections that the target (or a middlebox) dropped: the server
    // did not hold them, whatever the echo rounds saw before.
    auto count = [&failures](const std::string& reason) {
      auto it = failures.find(reason);
      return it == failures.end() ? uint64_t{0} : it->second;
    };
    reasons.push_back(absl::StrCat(
        FormatCount(closed_by_peer), " established connections were closed by the far side (", "peer_closed ",
        FormatCount(count("peer_closed")), ", ECONNRESET ", FormatCount(count("ECONNRESET")), ")"));
  }
  // WebSocket connections dropped while held (no pong, a broken frame): with
  // no echo round to notice, only their reason tells.
  for (const char* reason : {"ws_ping_timeout", "ws_protocol_error"}) {
    auto it = failures.find(reason);
    const bool while_held = std::string(reason) == "ws_ping_timeout" || established == requested;
    if (it != failures.end() && it->second > 0 && while_held) {
      reasons.push_back(absl::StrCat(FormatCount(it->second), " held connections failed with ", reason));
    }
  }
  if (record.interrupted) reasons.push_back("interrupted");
  const bool pass = reasons.empty();

  Report report;
  report.pass = pass;
  Json& out = report.json;
  out = NewReport();
  out["outcome"] = pass ? "pass" : "fail";
  std::vector<std::string> timeouts;  // also the report's notes
  if (record.barrier_timed_out) {
    timeouts.push_back(absl::StrCat("ramp_timeout (", FormatDuration(record.plan.ramp_timeout),
                                    ") passed before every agent finished connecting"));
  }
  for (const std::string& note : record.notes) timeouts.push_back(note);  // late echo rounds
  if (!pass) {
    out["fail_reasons"] = reasons;
    out["what_gave"] = WhatGaveFromRun(failures, timeouts, agents_gone);
    // Connects that waited in a full target's queue time out or see resets:
    // the cause is the target's capacity, named first.
    if (record.target.has_value() && record.target->at_capacity > 0) {
      out["what_gave"].insert(out["what_gave"].begin(), TargetAtCapacity(record.target->at_capacity));
    }
  }
  out["plan"] = PlanToJson(record.plan);

  Json& totals = out["totals"];
  totals["requested"] = requested;
  totals["established"] = established;
  totals["failed"] = failed;
  totals["peak_open"] = record.peak_open;
  totals["echo_verified"] = echo_verified;
  totals["echo_failed"] = echo_failed;
  totals["echo_planned"] = checks.planned;
  totals["echo_ran"] = checks.ran;
  totals["echo_skipped"] = checks.skipped;
  if (!checks.skipped_because.empty()) totals["echo_skipped_because"] = checks.skipped_because;
  totals["connect_seconds"] = Round3(record.connect_seconds);
  totals["connect_rate"] = Round3(record.connect_seconds > 0 ? established / record.connect_seconds : 0.0);
  totals["echo_seconds"] = Round3(record.echo_seconds);
  totals["echo_rate"] = Round3(record.echo_seconds > 0 ? echo_verified / record.echo_seconds : 0.0);

  out["failures"] = Json::object();
  for (const auto& [reason, count] : failures) out["failures"][reason] = count;
  out["latency_ms"]["connect"] = Percentiles(connect_latency);
  out["latency_ms"]["echo_rtt"] = Percentiles(echo_rtt);
  out["latency_ms"]["connect_queue"] = Percentiles(connect_queue);
  if (std::string slow = SlowConnectWarning(connect_latency, turn_aways, record.plan.max_in_flight);
      !slow.empty()) {
    out["warnings"].push_back(std::move(slow));
  }
  if (record.plan.tls.has_value()) {
    out["latency_ms"]["tls_handshake"] = Percentiles(tls_handshake);
    // Not through `totals`: adding keys to `out` above moved it.
    out["totals"]["tls_handshakes"] = tls_handshakes;
    out["totals"]["tls_resumed"] = tls_resumed;
    out["tls_failure_details"] = Json::object();
    for (const auto& [reason, text] : tls_details) out["tls_failure_details"][reason] = text;
  }
  if (record.plan.websocket.has_value()) {
    out["latency_ms"]["ws_upgrade"] = Percentiles(ws_upgrade);
    out["totals"]["ws_upgrades"] = ws_upgrades;
    out["totals"]["ws_pings"] = ws_pings;
    out["totals"]["ws_pongs"] = ws_pongs;
    out["totals"]["ws_closed_cleanly"] = ws_closed_cleanly;
  }
  out["agents"] = std::move(agents);
  if (record.target.has_value()) {
    Json& target = out["target"];
    if (record.target->queried) {
      target["open_at_peak"] = record.target->open_at_peak;
      target["accepted"] = record.target->accepted;
      target["at_capacity"] = record.target->at_capacity;
    }
    if (!record.target->error.empty()) target["error"] = record.target->error;
  }
  out["timeline"] = Json::array();
  for (const TimelineSample& sample : record.timeline) {
    Json item;
    item["t"] = Round3(sample.t);
    item["open"] = sample.open;
    item["established"] = sample.established;
    item["failed"] = sample.failed;
    if (!sample.agents_open.empty()) item["agents_open"] = sample.agents_open;
    if (record.plan.load.any()) {
      item["churned"] = sample.churned;
      item["reconnected"] = sample.reconnected;
      item["reopening"] = sample.reopening;
    }
    out["timeline"].push_back(std::move(item));
  }
  if (!timeouts.empty()) out["notes"] = timeouts;
  AddLoadModelReport(record, &out);
  return report;
}

std::string FormatSummary(const Json& report) {
  // Checked accessors: value() throws on a type mismatch, and the summary
  // must never throw, whatever the report holds.
  auto u = [](const Json& object, const char* key) -> uint64_t {
    if (!object.is_object()) return 0;
    auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<uint64_t>() : 0;
  };
  auto d = [](const Json& object, const char* key) -> double {
    if (!object.is_object()) return 0;
    auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  auto s = [](const Json& object, const char* key, const char* fallback) -> std::string {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
  };
  const Json empty = Json::object();
  auto child = [&empty](const Json& object, const char* key) -> const Json& {
    if (!object.is_object()) return empty;
    auto it = object.find(key);
    return it == object.end() ? empty : *it;
  };

  auto latency_of = [&child](const Json& object) -> const Json& { return child(object, "latency_ms"); };
  std::string out;
  const Json& totals = child(report, "totals");
  const bool pass = s(report, "outcome", "") == "pass";
  absl::StrAppend(&out, "outcome: ", pass ? "PASS" : "FAIL", "\n");
  const Json& reasons = child(report, "fail_reasons");
  if (reasons.is_array()) {
    for (const Json& reason : reasons) {
      if (reason.is_string())
        absl::StrAppend(&out, "  - ", EscapeForTerminal(reason.get<std::string>()), "\n");
    }
  }
  if (const std::string gave = FormatWhatGave(child(report, "what_gave")); !gave.empty()) {
    absl::StrAppend(&out, "what gave: ", gave, "\n");
  }
  absl::StrAppend(&out, "connections: ", FormatCount(u(totals, "requested")), " requested, ",
                  FormatCount(u(totals, "established")), " established, ", FormatCount(u(totals, "failed")),
                  " failed, peak open ", FormatCount(u(totals, "peak_open")), "\n");
  absl::StrAppend(&out, "connect rate: ", FormatNumber(d(totals, "connect_rate")), " conn/s (",
                  FormatCount(u(totals, "established")), " established in ",
                  FormatSeconds(d(totals, "connect_seconds")), ")\n");
  const uint64_t rounds = u(child(child(report, "plan"), "echo"), "rounds");
  absl::StrAppend(&out, "echo rate: ", FormatNumber(d(totals, "echo_rate")), " verified/s (",
                  FormatCount(u(totals, "echo_verified")), " verified, ",
                  FormatCount(u(totals, "echo_failed")), " failed, ", CountPhrase(rounds, "round", "rounds"),
                  " in ", FormatSeconds(d(totals, "echo_seconds")), ")\n");
  absl::StrAppend(&out, FormatEchoChecks(totals));

  const Json& failures = child(report, "failures");
  const std::map<std::string, std::string> samples = FirstSamples(child(report, "agents"));
  // With echo.send, an echo_mismatch's reply is printed beside the expected
  // one instead (FormatMismatchDetail).
  const Json& echo_send = child(child(child(report, "plan"), "echo"), "send");
  const bool send_expect = echo_send.is_string() || (echo_send.is_object() && echo_send.contains("hex"));
  bool any_failure = false;
  for (const auto& item : failures.items()) {
    if (!item.value().is_number_unsigned() || item.value().get<uint64_t>() == 0) continue;
    if (!any_failure) absl::StrAppend(&out, "failures:\n");
    any_failure = true;
    absl::StrAppendFormat(&out, "  %-16s %s", EscapeForTerminal(item.key()),
                          FormatCount(item.value().get<uint64_t>()));
    const std::string hint = ModeReasonHint(item.key(), child(report, "plan"));
    if (!hint.empty()) absl::StrAppend(&out, "  -- ", hint);
    const std::string detail = s(child(report, "tls_failure_details"), item.key().c_str(), "");
    if (!detail.empty())
      absl::StrAppend(&out, "\n  ", std::string(16, ' '), " first: ", EscapeForTerminal(detail));
    if (auto sample = samples.find(item.key());
        sample != samples.end() && !(send_expect && item.key() == "echo_mismatch")) {
      absl::StrAppend(&out, "\n", FormatSampleLine(16, sample->second));
    }
    absl::StrAppend(&out, "\n");
  }
  if (report.is_object() && latency_of(report).is_object() && latency_of(report).contains("tls_handshake")) {
    absl::StrAppend(&out, "tls: ", FormatCount(u(totals, "tls_handshakes")), " handshakes, ",
                    FormatCount(u(totals, "tls_resumed")), " resumed");
    const Json& agents = child(report, "agents");
    std::map<std::string, uint64_t> negotiated;
    if (agents.is_array()) {
      for (const Json& agent : agents) {
        for (const auto& item : child(child(agent, "tls"), "negotiated").items()) {
          if (item.value().is_number_unsigned()) negotiated[item.key()] += item.value().get<uint64_t>();
        }
      }
    }
    for (const auto& [name, count] : negotiated) {
      absl::StrAppend(&out, "; ", EscapeForTerminal(name), " x", FormatCount(count));
    }
    absl::StrAppend(&out, "\n");
  }
  if (report.is_object() && latency_of(report).is_object() && latency_of(report).contains("ws_upgrade")) {
    absl::StrAppend(&out, "websocket: ", FormatCount(u(totals, "ws_upgrades")), " upgrades, ",
                    FormatCount(u(totals, "ws_pings")), " pings, ", FormatCount(u(totals, "ws_pongs")),
                    " pongs, ", FormatCount(u(totals, "ws_closed_cleanly")), " closed cleanly\n");
  }
  absl::StrAppend(&out, FormatMismatchDetail(report));

  absl::StrAppend(&out, FormatLatencyTable(child(report, "latency_ms")));
  const Json& warnings = child(report, "warnings");
  if (warnings.is_array()) {
    for (const Json& warning : warnings) {
      if (warning.is_string())
        absl::StrAppend(&out, "warning: ", EscapeForTerminal(warning.get<std::string>()), "\n");
    }
  }

  const Json& target = child(report, "target");
  if (report.is_object() && report.contains("target")) {
    if (target.is_object() && target.contains("open_at_peak")) {
      absl::StrAppend(&out, "target: open at peak ", FormatCount(u(target, "open_at_peak")), ", accepted ",
                      FormatCount(u(target, "accepted")), "\n");
    } else {
      absl::StrAppend(&out, "target: no counts (", EscapeForTerminal(s(target, "error", "not queried")),
                      ")\n");
    }
  }

  absl::StrAppend(&out, FormatLoadModelSummary(report));

  const Json& agents = child(report, "agents");
  if (agents.is_array() && !agents.empty()) {
    absl::StrAppend(&out, "agents:\n");
    std::vector<std::vector<std::string>> rows = {{"agent", "host", "state", "requested", "established",
                                                   "failed", "echo verified", "echo failed", "failures"}};
    std::vector<std::string> errors;
    // Past kMaxSummaryAgents, the ones furthest from done, in report order.
    std::vector<const Json*> shown;
    for (const Json& agent : agents) {
      if (agent.is_object()) shown.push_back(&agent);
    }
    const size_t listed = shown.size();
    if (shown.size() > kMaxSummaryAgents) {
      std::vector<std::pair<std::tuple<bool, double, int64_t>, size_t>> keyed;
      for (size_t i = 0; i < shown.size(); ++i) {
        const Json& agent = *shown[i];
        const double requested = static_cast<double>(u(agent, "requested"));
        keyed.push_back({{s(agent, "state", "?") == "done",
                          requested > 0 ? static_cast<double>(u(agent, "established")) / requested : 1.0,
                          -static_cast<int64_t>(u(agent, "failed"))},
                         i});
      }
      std::stable_sort(keyed.begin(), keyed.end());
      keyed.resize(kMaxSummaryAgents);
      std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      std::vector<const Json*> picked;
      for (const auto& item : keyed) picked.push_back(shown[item.second]);
      shown = std::move(picked);
    }
    for (const Json* agent_pointer : shown) {
      const Json& agent = *agent_pointer;
      std::string agent_failures;
      for (const auto& item : child(agent, "failures").items()) {
        if (!item.value().is_number_unsigned() || item.value().get<uint64_t>() == 0) continue;
        absl::StrAppend(&agent_failures, agent_failures.empty() ? "" : ", ", item.key(), " ",
                        FormatCount(item.value().get<uint64_t>()));
      }
      const uint64_t echo_failed =
          u(agent, "echo_mismatched") + u(agent, "echo_timed_out") + u(agent, "echo_closed");
      rows.push_back({s(agent, "endpoint", "?"), s(agent, "host", "?"), s(agent, "state", "?"),
                      FormatCount(u(agent, "requested")), FormatCount(u(agent, "established")),
                      FormatCount(u(agent, "failed")), FormatCount(u(agent, "echo_verified")),
                      FormatCount(echo_failed), agent_failures.empty() ? "-" : agent_failures});
      if (agent.contains("error")) {  // agent is an object here
        errors.push_back(absl::StrCat("  ", EscapeForTerminal(s(agent, "endpoint", "?")),
                                      " error: ", EscapeForTerminal(s(agent, "error", ""))));
      }
    }
    absl::StrAppend(&out,
                    FormatTextTable(rows, {false, false, false, true, true, true, true, true, false}, "  "));
    if (listed > shown.size()) {
      absl::StrAppend(&out, "  (", FormatCount(shown.size()), " of ", FormatCount(listed),
                      " agents: those furthest from done; the report lists all)\n");
    }
    for (const std::string& error : errors) absl::StrAppend(&out, error, "\n");
  }
  const Json& notes = child(report, "notes");
  if (notes.is_array()) {
    for (const Json& note : notes) {
      if (note.is_string()) absl::StrAppend(&out, "note: ", EscapeForTerminal(note.get<std::string>()), "\n");
    }
  }
  return out;
}

Json RefusedReport(const Plan& plan, const PreflightResult& preflight) {
  Json out = NewReport();
  out["outcome"] = "refused";
  out["what_gave"] = WhatGaveFromPreflight(preflight.exceeded_limits);
  out["preflight_errors"] = preflight.errors;
  out["plan"] = PlanToJson(plan);
  return out;
}

Json RefusedStartReport(const Plan& plan, const std::vector<std::string>& problems) {
  Json out = NewReport();
  out["outcome"] = "refused";
  out["what_gave"] = WhatGaveFromRun({}, {}, problems);
  out["start_errors"] = problems;
  out["plan"] = PlanToJson(plan);
  return out;
}

absl::Status WriteReport(absl::string_view path, const Json& report) {
  // Agents' error texts are not ours: replace invalid UTF-8 instead of
  // letting dump() throw.
  return WriteFileAtomically(path, report.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

}  // namespace fourtuple::coordinator

#include "coordinator/plan.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/duration.h"
#include "common/read_file.h"
#include "common/status_macros.h"
#include "common/wire_limits.h"
#include "coordinator/conversation_plan.h"
#include "coordinator/split.h"
#include "coordinator/strict_json.h"

namespace fourtuple::coordinator {
namespace {

using nlohmann::json;

// Counts beyond this are certainly typos, and keeping them far below 2^63
// means sums over agents cannot wrap.
constexpr uint64_t kMaxConnections = uint64_t{1} << 40;
constexpr uint64_t kMaxEchoRounds = 1000000;
constexpr absl::Duration Millis(uint64_t ms) { return absl::Milliseconds(static_cast<int64_t>(ms)); }

// "HOST:PORT" where HOST is an address or a DNS name (for gRPC channels).
absl::Status CheckHostPort(absl::string_view text, absl::string_view path) {
  if (ParseEndpoint(text).ok()) return absl::OkStatus();
  const std::string expected = "expected HOST:PORT (a name or an address, port 1-65535), got ";
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return FieldError(path, absl::StrCat(expected, QuoteJson(text)));
  }
  absl::string_view host = text.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return FieldError(path, absl::StrCat(expected, QuoteJson(text)));
  }
  if (host.front() == '[') {
    // A bracketed IPv6 address that ParseEndpoint refused: say why.
    absl::Status status = ParseEndpoint(text).status();
    return FieldError(path, status.message());
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_') {
      return FieldError(path, absl::StrCat(expected, QuoteJson(text)));
    }
  }
  // Dotted digits only is an IPv4 address ParseEndpoint refused (127.0.0.300).
  if (host.find_first_not_of("0123456789.") == absl::string_view::npos) {
    return FieldError(path, ParseEndpoint(text).status().message());
  }
  return absl::OkStatus();
}

class PlanParser {
 public:
  explicit PlanParser(absl::string_view base_dir) : base_dir_(base_dir) {}

  absl::StatusOr<Plan> Parse(const json& root) {
    if (!root.is_object()) return WrongType("plan", "a JSON object", root);
    RETURN_IF_ERROR(CheckKnownFields(
        root, "plan",
        {"target", "agents", "connections", "connect_rate", "max_in_flight", "connect_timeout",
         "ramp_timeout", "hold", "echo", "report_interval", "lease", "close", "churn", "reconnect"}));

    if (!root.contains("target")) return FieldError("plan.target", "missing (an object with \"endpoints\")");
    RETURN_IF_ERROR(ParseTarget(root["target"]));

    if (!root.contains("connections")) {
      return FieldError("plan.connections", "missing (the total number of connections)");
    }
    ASSIGN_OR_RETURN(plan_.connections,
                     ReadCount(root["connections"], "plan.connections", 1, kMaxConnections));

    if (!root.contains("agents")) return FieldError("plan.agents", "missing (an array of agents)");
    RETURN_IF_ERROR(ParseAgents(root["agents"]));

    if (root.contains("connect_rate")) {
      const json& rate = root["connect_rate"];
      if (!rate.is_number() || !std::isfinite(rate.get<double>()) || rate.get<double>() < 0) {
        return WrongType("plan.connect_rate",
                         "connections per second, a number >= 0 (0 = as fast as possible)", rate);
      }
      plan_.connect_rate = rate.get<double>();
    }
    if (root.contains("max_in_flight")) {
      ASSIGN_OR_RETURN(const uint64_t in_flight,
                       ReadCount(root["max_in_flight"], "plan.max_in_flight", 1, UINT32_MAX));
      plan_.max_in_flight = static_cast<uint32_t>(in_flight);
    }
    RETURN_IF_ERROR(ParseLoadModels(root, plan_.connect_rate, &plan_.load));
    RETURN_IF_ERROR(OptionalDuration(root, "connect_timeout", "plan", absl::Milliseconds(1),
                                     &plan_.connect_timeout, Millis(kMaxTimeoutMs)));
    RETURN_IF_ERROR(
        OptionalDuration(root, "ramp_timeout", "plan", absl::Milliseconds(1), &plan_.ramp_timeout));
    RETURN_IF_ERROR(OptionalDuration(root, "hold", "plan", absl::ZeroDuration(), &plan_.hold));
    if (root.contains("echo")) RETURN_IF_ERROR(ParseEcho(root["echo"]));
    RETURN_IF_ERROR(OptionalDuration(root, "report_interval", "plan", Millis(kMinReportIntervalMs),
                                     &plan_.report_interval, Millis(kMaxReportIntervalMs)));
    RETURN_IF_ERROR(
        OptionalDuration(root, "lease", "plan", Millis(kMinLeaseMs), &plan_.lease, Millis(kMaxLeaseMs)));
    if (plan_.lease <= plan_.report_interval) {
      // Heartbeats go out once per report_interval: a shorter lease would
      // expire between two of them.
      return FieldError("plan.lease", absl::StrCat("must be longer than report_interval (",
                                                   FormatDuration(plan_.report_interval), "), got ",
                                                   FormatDuration(plan_.lease)));
    }

    // The split can only fail on the plan's counts: check it here so a plan
    // that parses can always be run. A dns:/// entry's count is per resolved
    // agent, so with one the split is checked once the names are expanded
    // (agent_discovery.h).
    const bool has_dns_agent = std::any_of(
        plan_.agents.begin(), plan_.agents.end(),
        [](const AgentPlan& agent) { return absl::StartsWith(agent.endpoint, kDnsEndpointScheme); });
    if (!has_dns_agent) RETURN_IF_ERROR(SplitPlan(plan_).status());
    return std::move(plan_);
  }

 private:
  absl::Status OptionalDuration(const json& object, absl::string_view key, absl::string_view parent,
                                absl::Duration min_value, absl::Duration* out,
                                absl::Duration max_value = absl::InfiniteDuration()) {
    const std::string name(key);
    if (!object.contains(name)) return absl::OkStatus();
    ASSIGN_OR_RETURN(*out, ReadDuration(object[name], absl::StrCat(parent, ".", key), min_value, max_value));
    return absl::OkStatus();
  }

  absl::Status ParseTarget(const json& target) {
    if (!target.is_object()) {
      return WrongType("plan.target", "an object with \"endpoints\" and \"control\"", target);
    }
    RETURN_IF_ERROR(CheckKnownFields(target, "plan.target", {"endpoints", "control", "tls", "websocket"}));
    if (target.contains("tls")) {
      ASSIGN_OR_RETURN(plan_.tls, ParseTlsPlan(target["tls"], base_dir_));
    }
    if (target.contains("websocket")) {
      ASSIGN_OR_RETURN(plan_.websocket, ParseWebSocketPlan(target["websocket"]));
    }
    if (!target.contains("endpoints")) {
      return FieldError("plan.target.endpoints", "missing (an array of \"ADDR:PORT\")");
    }
    const json& endpoints = target["endpoints"];
    if (!endpoints.is_array() || endpoints.empty()) {
      return WrongType("plan.target.endpoints", "a non-empty array of \"ADDR:PORT\"", endpoints);
    }
    if (endpoints.size() > static_cast<size_t>(kMaxTargets)) {
      return FieldError("plan.target.endpoints",
                        absl::StrCat("at most ", kMaxTargets, " endpoints, got ", endpoints.size()));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      const std::string path = absl::StrCat("plan.target.endpoints[", i, "]");
      ASSIGN_OR_RETURN(const std::string text, ReadString(endpoints[i], path));
      absl::StatusOr<Endpoint> endpoint = ParseEndpoint(text);
      if (!endpoint.ok()) return FieldError(path, endpoint.status().message());
      std::string normalized = endpoint->ToString();
      if (!seen.insert(normalized).second) {
        return FieldError(path, absl::StrCat(QuoteJson(text), " is listed twice"));
      }
      target_families_.insert(endpoint->address.family);
      plan_.target_endpoints.push_back(std::move(normalized));
    }
    if (target.contains("control")) {
      ASSIGN_OR_RETURN(plan_.target_control, ReadString(target["control"], "plan.target.control"));
      RETURN_IF_ERROR(CheckHostPort(plan_.target_control, "plan.target.control"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseAgents(const json& agents) {
    if (!agents.is_array() || agents.empty()) {
      return WrongType("plan.agents", "a non-empty array of agent objects", agents);
    }
    std::set<std::string> endpoints;
    for (size_t i = 0; i < agents.size(); ++i) {
      const std::string path = absl::StrCat("plan.agents[", i, "]");
      const json& item = agents[i];
      if (!item.is_object()) {
        return WrongType(path, "an object with \"endpoint\" and \"source_addresses\"", item);
      }
      RETURN_IF_ERROR(CheckKnownFields(
          item, path, {"endpoint", "source_addresses", "connections", "connections_per_source_address"}));
      AgentPlan agent;
      if (!item.contains("endpoint")) {
        return FieldError(path + ".endpoint", "missing (the agent's HOST:PORT)");
      }
      ASSIGN_OR_RETURN(agent.endpoint, ReadString(item["endpoint"], path + ".endpoint"));
      absl::string_view host_port = agent.endpoint;
      if (absl::StartsWith(host_port, kDnsEndpointScheme)) {
        host_port.remove_prefix(kDnsEndpointScheme.size());
        if (ParseEndpoint(host_port).ok()) {
          return FieldError(path + ".endpoint",
                            absl::StrCat("dns:/// needs a DNS name, got the address ", QuoteJson(host_port),
                                         " (write it without dns:///)"));
        }
      }
      RETURN_IF_ERROR(CheckHostPort(host_port, path + ".endpoint"));
      agent.plan_index = i;
      if (!endpoints.insert(agent.endpoint).second) {
        return FieldError(path + ".endpoint", absl::StrCat(QuoteJson(agent.endpoint), " is listed twice"));
      }
      if (!item.contains("source_addresses")) {
        return FieldError(path + ".source_addresses",
                          "missing (an array of addresses, ranges or CIDR prefixes)");
      }
      RETURN_IF_ERROR(ParseSources(item["source_addresses"], path + ".source_addresses", &agent));
      if (item.contains("connections_per_source_address")) {
        ASSIGN_OR_RETURN(agent.connections_per_source_address,
                         ReadCount(item["connections_per_source_address"],
                                   path + ".connections_per_source_address", 1, kMaxConnections));
      }
      if (item.contains("connections")) {
        ASSIGN_OR_RETURN(agent.connections,
                         ReadCount(item["connections"], path + ".connections", 1, kMaxConnections));
        if (*agent.connections > plan_.connections) {
          return FieldError(path + ".connections", absl::StrCat(*agent.connections,
                                                                " is more than the plan's total "
                                                                "connections (",
                                                                plan_.connections, ")"));
        }
      }
      plan_.agents.push_back(std::move(agent));
    }
    return absl::OkStatus();
  }

  absl::Status ParseSources(const json& sources, const std::string& path, AgentPlan* agent) {
    if (!sources.is_array() || sources.empty()) {
      return WrongType(path,
                       "a non-empty array of addresses (\"127.0.1.1\"), ranges "
                       "(\"127.0.1.1-127.0.1.8\"), CIDR prefixes (\"127.0.2.0/29\") or the "
                       "agent host's own addresses in a prefix (\"local:10.0.0.0/8\")",
                       sources);
    }
    std::set<std::string> seen;
    std::vector<Cidr> agent_entries;
    for (size_t j = 0; j < sources.size(); ++j) {
      const std::string item_path = absl::StrCat(path, "[", j, "]");
      ASSIGN_OR_RETURN(const std::string spec, ReadString(sources[j], item_path));
      if (absl::StartsWith(spec, kLocalSourcePrefix)) {
        RETURN_IF_ERROR(ParseLocalSource(spec, item_path, agent));
        agent->source_specs.push_back(spec);
        continue;
      }
      std::vector<Cidr> entries;
      if (spec.find('/') != std::string::npos) {
        // A prefix travels as it is: the agent binds inside it by offset.
        absl::StatusOr<Cidr> prefix = ParseCidr(spec);
        if (!prefix.ok()) return FieldError(item_path, prefix.status().message());
        if (prefix->prefix_length == 0) {
          return FieldError(item_path, absl::StrCat(QuoteJson(spec),
                                                    " is a prefix of length 0 (every address); expected a "
                                                    "prefix the agent's host has a local route for"));
        }
        entries.push_back(*prefix);
      } else {
        absl::StatusOr<std::vector<IpAddress>> addresses = ParseAddressSpec(spec, kMaxSourceAddresses);
        if (!addresses.ok()) return FieldError(item_path, addresses.status().message());
        for (const IpAddress& address : *addresses) entries.push_back(*ParseCidr(address.ToString()));
      }
      for (const Cidr& entry : entries) {
        std::string text = entry.IsSingle() ? entry.network.ToString() : entry.ToString();
        if (entry.IsSingle() && !seen.insert(text).second) {
          return FieldError(item_path, absl::StrCat(text, " is already listed"));
        }
        // Singles against singles go by the set; prefixes against everything.
        for (const Cidr& other : agent_entries) {
          if ((!entry.IsSingle() || !other.IsSingle()) && (other.Covers(entry) || entry.Covers(other))) {
            return FieldError(item_path,
                              absl::StrCat(text, " overlaps ",
                                           other.IsSingle() ? other.network.ToString() : other.ToString(),
                                           ", already listed"));
          }
        }
        if (!target_families_.contains(entry.network.family)) {
          return FieldError(item_path,
                            absl::StrCat(text, " is ", entry.network.family == AF_INET ? "IPv4" : "IPv6",
                                         " but no target endpoint is"));
        }
        agent_entries.push_back(entry);
        agent->source_addresses.push_back(std::move(text));
      }
      if (agent->source_addresses.size() > static_cast<size_t>(kMaxSourceAddresses)) {
        return FieldError(path, absl::StrCat("at most ", kMaxSourceAddresses,
                                             " source entries per agent (a prefix counts as one)"));
      }
      agent->source_specs.push_back(spec);
    }
    return absl::OkStatus();
  }

  // "local:CIDR": the agent host's own addresses inside CIDR.
  absl::Status ParseLocalSource(absl::string_view spec, const std::string& path, AgentPlan* agent) {
    absl::string_view text = spec.substr(kLocalSourcePrefix.size());
    absl::StatusOr<Cidr> prefix = ParseCidr(text);
    if (!prefix.ok()) {
      return FieldError(path, absl::StrCat("expected \"local:CIDR\" (such as \"local:10.0.0.0/8\"), got ",
                                           QuoteJson(spec), ": ", prefix.status().message()));
    }
    const int family = prefix->network.family;
    if (!target_families_.contains(family)) {
      return FieldError(path, absl::StrCat(QuoteJson(spec), " is ", family == AF_INET ? "IPv4" : "IPv6",
                                           " but no target endpoint is"));
    }
    for (const Cidr& other : agent->local_source_prefixes) {
      if (other.ToString() == prefix->ToString()) {
        return FieldError(path, absl::StrCat(QuoteJson(spec), " is already listed"));
      }
    }
    agent->local_source_prefixes.push_back(*prefix);
    return absl::OkStatus();
  }

  absl::Status ParseEcho(const json& echo) {
    if (!echo.is_object()) return WrongType("plan.echo", "an object", echo);
    RETURN_IF_ERROR(CheckKnownFields(echo, "plan.echo",
                                     {"rounds", "payload_bytes", "send", "expect", "interval", "timeout",
                                      "rate", "greeting", "first_send", "first_expect"}));
    if (echo.contains("rounds")) {
      ASSIGN_OR_RETURN(const uint64_t rounds,
                       ReadCount(echo["rounds"], "plan.echo.rounds", 0, kMaxEchoRounds));
      plan_.echo.rounds = static_cast<uint32_t>(rounds);
    }
    if (echo.contains("payload_bytes")) {
      ASSIGN_OR_RETURN(const uint64_t bytes, ReadCount(echo["payload_bytes"], "plan.echo.payload_bytes",
                                                       kMinPayloadBytes, kMaxPayloadBytes));
      plan_.echo.payload_bytes = static_cast<uint32_t>(bytes);
    }
    RETURN_IF_ERROR(ParseSendExpect(echo));
    RETURN_IF_ERROR(ParseOpening(echo));
    RETURN_IF_ERROR(
        OptionalDuration(echo, "interval", "plan.echo", absl::ZeroDuration(), &plan_.echo.interval));
    RETURN_IF_ERROR(OptionalDuration(echo, "timeout", "plan.echo", absl::Milliseconds(1), &plan_.echo.timeout,
                                     Millis(kMaxTimeoutMs)));
    if (echo.contains("rate")) {
      const json& rate = echo["rate"];
      if (!rate.is_number() || !std::isfinite(rate.get<double>()) || rate.get<double>() < 0 ||
          rate.get<double>() > kMaxConnectRate) {
        return WrongType("plan.echo.rate",
                         absl::StrCat("echo checks per second in a round, a number from 0 to ",
                                      kMaxConnectRate, " (0 = as fast as max_in_flight allows)"),
                         rate);
      }
      plan_.echo.rate = rate.get<double>();
    }
    return absl::OkStatus();
  }

  // echo.send and echo.expect: together, instead of payload_bytes.
  absl::Status ParseSendExpect(const json& echo) {
    const bool has_send = echo.contains("send");
    const bool has_expect = echo.contains("expect");
    if (!has_send && !has_expect) return absl::OkStatus();
    if (!has_expect) {
      return FieldError("plan.echo.expect",
                        "missing (echo.send needs echo.expect: the exact reply each connection must read)");
    }
    if (!has_send) {
      return FieldError("plan.echo.send",
                        "missing (echo.expect needs echo.send: the bytes each connection sends per round)");
    }
    if (echo.contains("payload_bytes")) {
      return FieldError("plan.echo.payload_bytes",
                        "cannot be combined with echo.send/echo.expect (they replace the unique-id "
                        "payload: remove one or the other)");
    }
    ASSIGN_OR_RETURN(plan_.echo.send, ReadConversationBytes(echo["send"], "plan.echo.send", true));
    ASSIGN_OR_RETURN(plan_.echo.expect, ReadConversationBytes(echo["expect"], "plan.echo.expect", true));
    return absl::OkStatus();
  }

  // echo.greeting, and echo.first_send with echo.first_expect.
  absl::Status ParseOpening(const json& echo) {
    if (echo.contains("greeting")) {
      ASSIGN_OR_RETURN(plan_.echo.greeting,
                       ReadConversationBytes(echo["greeting"], "plan.echo.greeting", false));
    }
    const bool has_send = echo.contains("first_send");
    const bool has_expect = echo.contains("first_expect");
    if (has_send && !has_expect) {
      return FieldError("plan.echo.first_expect",
                        "missing (echo.first_send needs echo.first_expect: the exact reply each connection "
                        "must read before it counts as established)");
    }
    if (has_expect && !has_send) {
      return FieldError("plan.echo.first_send",
                        "missing (echo.first_expect needs echo.first_send: the bytes each connection sends "
                        "once, right after connect)");
    }
    if (plan_.websocket.has_value() && (has_send || echo.contains("greeting"))) {
      // The opening is read as raw bytes before any frame; over WebSocket it
      // would have to be framed, which the agents do not do.
      return FieldError(echo.contains("greeting") ? "plan.echo.greeting" : "plan.echo.first_send",
                        "cannot be combined with target.websocket (an opening is raw bytes right after "
                        "connect; over WebSocket use echo.send/echo.expect, sent as text frames)");
    }
    if (!has_send) return absl::OkStatus();
    ASSIGN_OR_RETURN(plan_.echo.first_send,
                     ReadConversationBytes(echo["first_send"], "plan.echo.first_send", true));
    ASSIGN_OR_RETURN(plan_.echo.first_expect,
                     ReadConversationBytes(echo["first_expect"], "plan.echo.first_expect", true));
    return absl::OkStatus();
  }

  const std::string base_dir_;
  Plan plan_;
  std::set<int> target_families_;
};

}  // namespace

absl::StatusOr<Plan> ParsePlan(absl::string_view text, absl::string_view base_dir) {
  ASSIGN_OR_RETURN(const json root, ParseStrictJson(text, "plan"));
  return PlanParser(base_dir).Parse(root);
}

absl::StatusOr<Plan> LoadPlan(absl::string_view path) {
  absl::StatusOr<FileContents> file = ReadRegularFile(std::string(path), kMaxPlanFileBytes, "a JSON plan");
  if (!file.ok()) {
    return absl::Status(file.status().code(), absl::StrCat("--plan: ", file.status().message()));
  }
  const std::string& text = file->text;
  const size_t slash = path.rfind('/');
  const absl::string_view base_dir =
      slash == absl::string_view::npos ? "" : path.substr(0, slash == 0 ? 1 : slash);
  absl::StatusOr<Plan> plan = ParsePlan(text, base_dir);
  if (!plan.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", plan.status().message()));
  }
  return plan;
}

// Durations with DurationToString, which ParsePlan reads back (absl's
// FormatDuration writes "5m20s", which it does not).
nlohmann::ordered_json PlanToJson(const Plan& plan) {
  nlohmann::ordered_json out;
  out["target"]["endpoints"] = plan.target_endpoints;
  if (!plan.target_control.empty()) out["target"]["control"] = plan.target_control;
  if (plan.tls.has_value()) out["target"]["tls"] = TlsPlanToJson(*plan.tls);
  if (plan.websocket.has_value()) out["target"]["websocket"] = WebSocketPlanToJson(*plan.websocket);
  absl::StatusOr<std::vector<AgentShare>> shares = SplitPlan(plan);
  out["agents"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < plan.agents.size(); ++i) {
    nlohmann::ordered_json agent;
    agent["endpoint"] = plan.agents[i].endpoint;
    agent["source_addresses"] = plan.agents[i].source_specs;
    if (plan.agents[i].connections_per_source_address != 0) {
      agent["connections_per_source_address"] = plan.agents[i].connections_per_source_address;
    }
    if (shares.ok()) {
      agent["connections"] = (*shares)[i].connections;
    } else if (plan.agents[i].connections.has_value()) {
      agent["connections"] = *plan.agents[i].connections;
    }
    out["agents"].push_back(std::move(agent));
  }
  out["connections"] = plan.connections;
  out["connect_rate"] = plan.connect_rate;
  out["max_in_flight"] = plan.max_in_flight;
  out["connect_timeout"] = DurationToString(plan.connect_timeout);
  out["ramp_timeout"] = DurationToString(plan.ramp_timeout);
  out["hold"] = DurationToString(plan.hold);
  out["echo"]["rounds"] = plan.echo.rounds;
  if (plan.echo.send.empty()) {
    out["echo"]["payload_bytes"] = plan.echo.payload_bytes;
  } else {
    out["echo"]["send"] = ConversationBytesToJson(plan.echo.send, true);
    out["echo"]["expect"] = ConversationBytesToJson(plan.echo.expect, true);
  }
  if (!plan.echo.greeting.empty())
    out["echo"]["greeting"] = ConversationBytesToJson(plan.echo.greeting, false);
  if (!plan.echo.first_send.empty()) {
    out["echo"]["first_send"] = ConversationBytesToJson(plan.echo.first_send, true);
    out["echo"]["first_expect"] = ConversationBytesToJson(plan.echo.first_expect, true);
  }
  out["echo"]["interval"] = DurationToString(plan.echo.interval);
  out["echo"]["timeout"] = DurationToString(plan.echo.timeout);
  if (plan.echo.rate.has_value()) out["echo"]["rate"] = *plan.echo.rate;
  out["report_interval"] = DurationToString(plan.report_interval);
  out["lease"] = DurationToString(plan.lease);
  LoadModelsToJson(plan.load, &out);
  return out;
}

double RoundEchoRate(const Plan& plan) {
  if (plan.echo.rate.has_value()) return *plan.echo.rate;
  const double interval = absl::ToDoubleSeconds(plan.echo.interval);
  return interval > 0 ? static_cast<double>(plan.connections) / interval : 0;
}

}  // namespace fourtuple::coordinator

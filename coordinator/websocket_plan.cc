#include "coordinator/websocket_plan.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/status_macros.h"
#include "common/websocket.h"
#include "common/wire_limits.h"
#include "coordinator/strict_json.h"

namespace fourtuple::coordinator {
namespace {

using nlohmann::json;

constexpr absl::string_view kPath = "plan.target.websocket";

std::string FieldPath(absl::string_view key) { return absl::StrCat(kPath, ".", key); }

// A string of at most `max_bytes` that can stand in a request head.
absl::StatusOr<std::string> ReadHeaderText(const json& object, absl::string_view key, size_t max_bytes,
                                           absl::string_view what) {
  const std::string path = FieldPath(key);
  ASSIGN_OR_RETURN(std::string text, ReadString(object[std::string(key)], path));
  if (text.empty() || text.size() > max_bytes || !ws::IsHeaderText(text)) {
    return FieldError(path, absl::StrCat("expected ", what, " of 1 to ", max_bytes,
                                         " bytes without control characters, got ", QuoteJson(text)));
  }
  return text;
}

}  // namespace

absl::StatusOr<WebSocketPlan> ParseWebSocketPlan(const json& value) {
  if (!value.is_object()) return WrongType(kPath, "an object (an empty one takes every default)", value);
  RETURN_IF_ERROR(
      CheckKnownFields(value, kPath, {"path", "host", "origin", "subprotocols", "headers", "ping_interval"}));
  WebSocketPlan plan;
  if (value.contains("path")) {
    ASSIGN_OR_RETURN(plan.path, ReadHeaderText(value, "path", kMaxWebSocketPathBytes, "a path"));
    if (!absl::StartsWith(plan.path, "/") || plan.path.find(' ') != std::string::npos) {
      return FieldError(FieldPath("path"),
                        absl::StrCat("expected a path starting with \"/\" and without spaces (such as "
                                     "\"/echo?room=1\"), got ",
                                     QuoteJson(plan.path)));
    }
  }
  if (value.contains("host")) {
    ASSIGN_OR_RETURN(plan.host, ReadHeaderText(value, "host", kMaxServerNameBytes + 6, "a host[:port]"));
    if (plan.host.find(' ') != std::string::npos) {
      return FieldError(FieldPath("host"),
                        absl::StrCat("expected a host[:port] without spaces, got ", QuoteJson(plan.host)));
    }
  }
  if (value.contains("origin")) {
    ASSIGN_OR_RETURN(plan.origin, ReadHeaderText(value, "origin", kMaxWebSocketOriginBytes, "an origin"));
  }
  if (value.contains("subprotocols")) {
    const std::string path = FieldPath("subprotocols");
    const json& list = value["subprotocols"];
    if (!list.is_array() || list.size() > static_cast<size_t>(kMaxWebSocketSubprotocols)) {
      return WrongType(
          path, absl::StrCat("an array of at most ", kMaxWebSocketSubprotocols, " protocol names"), list);
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      ASSIGN_OR_RETURN(std::string protocol, ReadString(list[i], item_path));
      if (protocol.size() > kMaxWebSocketSubprotocolBytes || !ws::IsHttpToken(protocol)) {
        return FieldError(item_path,
                          absl::StrCat("expected a token of 1 to ", kMaxWebSocketSubprotocolBytes,
                                       " letters, digits or !#$%&'*+-.^_`|~ (such as \"chat\"), got ",
                                       QuoteJson(protocol)));
      }
      if (!seen.insert(protocol).second)
        return FieldError(item_path, absl::StrCat(QuoteJson(protocol), " is listed twice"));
      plan.subprotocols.push_back(std::move(protocol));
    }
  }
  if (value.contains("headers")) {
    const std::string path = FieldPath("headers");
    const json& headers = value["headers"];
    if (!headers.is_object() || headers.size() > static_cast<size_t>(kMaxWebSocketHeaders)) {
      return WrongType(
          path, absl::StrCat("an object of at most ", kMaxWebSocketHeaders, " \"Name\": \"value\""), headers);
    }
    std::set<std::string> seen;
    for (const auto& [name, header_value] : headers.items()) {
      const std::string item_path = absl::StrCat(path, ".", QuoteJson(name));
      if (name.size() > kMaxWebSocketHeaderNameBytes || !ws::IsHttpToken(name)) {
        return FieldError(
            item_path,
            absl::StrCat("a header name must be 1 to ", kMaxWebSocketHeaderNameBytes,
                         " letters, digits or !#$%&'*+-.^_`|~ (no spaces, no colon), got ", QuoteJson(name)));
      }
      if (ws::IsUpgradeHeader(name)) {
        return FieldError(item_path,
                          "the upgrade sets this header itself (use path, host, origin or "
                          "subprotocols)");
      }
      if (!seen.insert(absl::AsciiStrToLower(name)).second) {
        return FieldError(item_path, "is given twice (header names ignore case)");
      }
      ASSIGN_OR_RETURN(std::string text, ReadString(header_value, item_path));
      if (text.size() > kMaxWebSocketHeaderValueBytes || !ws::IsHeaderText(text)) {
        return FieldError(item_path,
                          absl::StrCat("expected a value of at most ", kMaxWebSocketHeaderValueBytes,
                                       " bytes without control characters, got ", QuoteJson(text)));
      }
      plan.headers.emplace_back(name, std::move(text));
    }
  }
  if (value.contains("ping_interval")) {
    ASSIGN_OR_RETURN(plan.ping_interval,
                     ReadDuration(value["ping_interval"], FieldPath("ping_interval"), absl::Milliseconds(1),
                                  absl::Milliseconds(kMaxTimeoutMs)));
  }
  return plan;
}

nlohmann::ordered_json WebSocketPlanToJson(const WebSocketPlan& websocket) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["path"] = websocket.path;
  if (!websocket.host.empty()) out["host"] = websocket.host;
  if (!websocket.origin.empty()) out["origin"] = websocket.origin;
  if (!websocket.subprotocols.empty()) out["subprotocols"] = websocket.subprotocols;
  if (!websocket.headers.empty()) {
    out["headers"] = nlohmann::ordered_json::object();
    for (const auto& [name, text] : websocket.headers) out["headers"][name] = text;
  }
  if (websocket.ping_interval > absl::ZeroDuration()) {
    out["ping_interval"] = DurationToString(websocket.ping_interval);
  }
  return out;
}

}  // namespace fourtuple::coordinator

#include "agent/worker/ws_client.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("assignment.websocket.", field, ": ", what));
}

}  // namespace

absl::Status ValidateWebSocketSettings(const v1::WebSocketSettings& s) {
  if (!absl::StartsWith(s.path(), "/") || s.path().size() > kMaxWebSocketPathBytes ||
      !ws::IsHeaderText(s.path()) || s.path().find(' ') != std::string::npos) {
    return FieldError("path", absl::StrCat("expected \"/...\" of at most ", kMaxWebSocketPathBytes,
                                           " bytes without spaces or control bytes"));
  }
  if (s.host().size() > kMaxServerNameBytes + 6 || !ws::IsHeaderText(s.host())) {
    return FieldError("host", "expected a host[:port] without control bytes");
  }
  if (s.origin().size() > kMaxWebSocketOriginBytes || !ws::IsHeaderText(s.origin())) {
    return FieldError("origin", "expected an origin without control bytes");
  }
  if (s.subprotocols_size() > kMaxWebSocketSubprotocols) {
    return FieldError("subprotocols", absl::StrCat("at most ", kMaxWebSocketSubprotocols));
  }
  for (const std::string& p : s.subprotocols()) {
    if (p.size() > kMaxWebSocketSubprotocolBytes || !ws::IsHttpToken(p)) {
      return FieldError("subprotocols", "expected HTTP tokens");
    }
  }
  if (s.headers_size() > kMaxWebSocketHeaders) {
    return FieldError("headers", absl::StrCat("at most ", kMaxWebSocketHeaders));
  }
  for (const v1::WebSocketHeader& h : s.headers()) {
    if (h.name().size() > kMaxWebSocketHeaderNameBytes || !ws::IsHttpToken(h.name()) ||
        ws::IsUpgradeHeader(h.name())) {
      return FieldError("headers", "expected names that are HTTP tokens the upgrade does not set itself");
    }
    if (h.value().size() > kMaxWebSocketHeaderValueBytes || !ws::IsHeaderText(h.value())) {
      return FieldError("headers", "expected values without control bytes");
    }
  }
  if (s.ping_interval_ms() > kMaxTimeoutMs) {
    return FieldError("ping_interval_ms", absl::StrCat("at most ", kMaxTimeoutMs));
  }
  return absl::OkStatus();
}

absl::StatusOr<WsClient> WsClient::Create(const v1::WebSocketSettings& settings,
                                          const std::vector<std::string>& target_names, uint64_t secret) {
  if (absl::Status s = ValidateWebSocketSettings(settings); !s.ok()) return s;
  WsClient client;
  client.secret_ = secret;
  client.ping_interval_us_ = settings.ping_interval_ms() * 1000;
  client.protocols_ = absl::StrJoin(settings.subprotocols(), ", ");
  std::string common = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
  if (!settings.origin().empty()) absl::StrAppend(&common, "Origin: ", settings.origin(), "\r\n");
  if (!client.protocols_.empty())
    absl::StrAppend(&common, "Sec-WebSocket-Protocol: ", client.protocols_, "\r\n");
  for (const v1::WebSocketHeader& h : settings.headers())
    absl::StrAppend(&common, h.name(), ": ", h.value(), "\r\n");
  absl::StrAppend(&common, "Sec-WebSocket-Key: ");
  client.tail_ = "\r\n\r\n";
  for (const std::string& target : target_names) {
    const std::string& host = settings.host().empty() ? target : settings.host();
    client.heads_.push_back(
        absl::StrCat("GET ", settings.path(), " HTTP/1.1\r\nHost: ", host, "\r\n", common));
    client.max_request_bytes_ = std::max(client.max_request_bytes_,
                                         client.heads_.back().size() + ws::kKeyChars + client.tail_.size());
  }
  return client;
}

size_t WsClient::Request(uint32_t target, uint64_t id, char* out) const {
  const std::string& head = heads_[target];
  std::memcpy(out, head.data(), head.size());
  ws::MakeKey(secret_, id, out + head.size());
  std::memcpy(out + head.size() + ws::kKeyChars, tail_.data(), tail_.size());
  return head.size() + ws::kKeyChars + tail_.size();
}

void WsClient::ExpectedAccept(uint64_t id, char out[ws::kAcceptChars]) const {
  char key[ws::kKeyChars];
  ws::MakeKey(secret_, id, key);
  ws::AcceptFor(absl::string_view(key, ws::kKeyChars), out);
}

}  // namespace fourtuple::agent

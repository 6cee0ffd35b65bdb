// The plan's target.websocket: what each connection's WebSocket upgrade
// sends (path, Host, Origin, subprotocols, extra headers) and how often a
// held connection pings, checked strictly (exit 2 naming the field), and the
// assignment's WebSocketSettings built from it.
//
// Thread-safety: plain values; the functions are reentrant.
#ifndef FOURTUPLE_COORDINATOR_WEBSOCKET_PLAN_H_
#define FOURTUPLE_COORDINATOR_WEBSOCKET_PLAN_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace fourtuple::v1 {
class WebSocketSettings;  // proto/fourtuple.pb.h, needed only by websocket_assignment.cc
}  // namespace fourtuple::v1

namespace fourtuple::coordinator {

struct WebSocketPlan {
  // The request target. Default "/".
  std::string path = "/";
  // The Host header; empty: each target endpoint ("127.0.0.1:9000").
  std::string host;
  // The Origin header; empty: none sent.
  std::string origin;
  // Offered in Sec-WebSocket-Protocol, in order; the server must pick one.
  // None: the server must pick none.
  std::vector<std::string> subprotocols;
  // Extra request headers, in the plan's order.
  std::vector<std::pair<std::string, std::string>> headers;
  // A ping on every idle connection this often; zero: no client pings.
  absl::Duration ping_interval = absl::ZeroDuration();
};

// Parses `value` (the target.websocket object).
absl::StatusOr<WebSocketPlan> ParseWebSocketPlan(const nlohmann::json& value);

// The plan as written back in a report.
nlohmann::ordered_json WebSocketPlanToJson(const WebSocketPlan& websocket);

// The assignment's part (websocket_assignment.cc).
void SetWebSocketSettings(const WebSocketPlan& websocket, v1::WebSocketSettings* settings);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_WEBSOCKET_PLAN_H_

// SetWebSocketSettings (websocket_plan.h): apart from the parsing, so the
// plan parser builds without the protobuf messages (the fuzz targets).
#include "coordinator/websocket_plan.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

void SetWebSocketSettings(const WebSocketPlan& websocket, v1::WebSocketSettings* settings) {
  settings->set_path(websocket.path);
  settings->set_host(websocket.host);
  settings->set_origin(websocket.origin);
  for (const std::string& protocol : websocket.subprotocols) settings->add_subprotocols(protocol);
  for (const auto& [name, text] : websocket.headers) {
    v1::WebSocketHeader* header = settings->add_headers();
    header->set_name(name);
    header->set_value(text);
  }
  settings->set_ping_interval_ms(static_cast<uint64_t>(absl::ToInt64Milliseconds(websocket.ping_interval)));
}

}  // namespace fourtuple::coordinator

// The client side of WebSocket on an agent worker's connections: the upgrade
// request each connection sends and the 101 it must get back, built from the
// assignment's WebSocketSettings once per worker.
//
// Nothing per connection is kept: a connection's Sec-WebSocket-Key follows
// from its id and a secret drawn per run, so the expected
// Sec-WebSocket-Accept is recomputed when the response arrives.
//
// Thread-compatible: one worker loop owns it.
#ifndef FOURTUPLE_AGENT_WORKER_WS_CLIENT_H_
#define FOURTUPLE_AGENT_WORKER_WS_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/websocket.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

// Checks settings as untrusted input; errors name the field
// ("assignment.websocket.path: ...").
absl::Status ValidateWebSocketSettings(const v1::WebSocketSettings& settings);

class WsClient {
 public:
  // `target_names`: each target endpoint as "host:port" (the Host header
  // when settings.host is empty).
  static absl::StatusOr<WsClient> Create(const v1::WebSocketSettings& settings,
                                         const std::vector<std::string>& target_names, uint64_t secret);

  // Writes connection `id`'s upgrade request to target `target` into `out`;
  // returns its size (at most RequestBytesMax()).
  size_t Request(uint32_t target, uint64_t id, char* out) const;
  size_t RequestBytesMax() const { return max_request_bytes_; }
  // The Sec-WebSocket-Accept connection `id`'s response must carry.
  void ExpectedAccept(uint64_t id, char out[ws::kAcceptChars]) const;
  // The offered subprotocols, comma-separated (empty: none offered).
  absl::string_view protocols() const { return protocols_; }
  uint64_t secret() const { return secret_; }
  uint64_t ping_interval_us() const { return ping_interval_us_; }

 private:
  WsClient() = default;

  // Per target: the request up to the key, then one tail for every request.
  std::vector<std::string> heads_;
  std::string tail_;
  size_t max_request_bytes_ = 0;
  std::string protocols_;
  uint64_t secret_ = 0;
  uint64_t ping_interval_us_ = 0;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_WS_CLIENT_H_

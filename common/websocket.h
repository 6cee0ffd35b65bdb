// The WebSocket wire format (RFC 6455) shared by the agent's client and the
// target-server: the opening handshake's key and accept values, the HTTP head
// of an upgrade, and frame headers. Pure functions over caller buffers: no
// allocation, so both ends run them per connection on their hot paths.
//
// Thread-safety: pure functions; safe from any thread.
#ifndef FOURTUPLE_COMMON_WEBSOCKET_H_
#define FOURTUPLE_COMMON_WEBSOCKET_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace fourtuple::ws {

// Sec-WebSocket-Key is 16 bytes in base64; Sec-WebSocket-Accept a SHA-1 in base64.
inline constexpr size_t kKeyChars = 24;
inline constexpr size_t kAcceptChars = 28;
// A frame header: 2 bytes, up to 8 of extended length, 4 of mask.
inline constexpr size_t kMaxFrameHeaderBytes = 14;
// Control frames (close, ping, pong) carry at most this much (RFC 6455 5.5).
inline constexpr size_t kMaxControlPayload = 125;
// An HTTP head (request or response) longer than this is refused.
inline constexpr size_t kMaxHeadBytes = 8192;

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};
inline bool IsControl(uint8_t opcode) { return (opcode & 0x8) != 0; }
inline constexpr uint8_t kFin = 0x80;

// A connection's Sec-WebSocket-Key: 16 bytes derived from (secret, id), so the
// expected accept value can be recomputed at the response instead of kept.
void MakeKey(uint64_t secret, uint64_t id, char out[kKeyChars]);
// Sec-WebSocket-Accept for `key`: base64(SHA-1(key + the RFC's GUID)).
void AcceptFor(absl::string_view key, char out[kAcceptChars]);
// A 32-bit client mask from (secret, id, round): the same bytes on every try
// of one frame, so a frame written in parts is never re-masked differently.
uint32_t MaskFor(uint64_t secret, uint64_t id, uint32_t round);

// Writes a frame header (FIN set) for `payload` bytes of `opcode`, masked with
// `mask` when `masked`; returns its size.
size_t WriteFrameHeader(char* out, uint8_t opcode, uint64_t payload, bool masked, uint32_t mask);
inline size_t FrameHeaderSize(uint64_t payload, bool masked) {
  return (payload < 126 ? 2 : payload <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
}
// XORs data[0, size) with `mask` as if the data began at payload `offset`.
void ApplyMask(char* data, size_t size, uint32_t mask, uint64_t offset);

struct FrameHeader {
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  uint32_t mask = 0;
  uint64_t payload = 0;
  size_t header_bytes = 0;
};
enum class Parse { kNeedMore, kOk, kError };
// Reads a frame header from data[0, size). kError for what RFC 6455 forbids
// without an extension: RSV bits, unknown opcodes, fragmented or oversized
// control frames, a 64-bit length with its top bit set.
Parse ParseFrameHeader(const char* data, size_t size, FrameHeader* out);

// The end of an HTTP head in data[0, size): the offset just past "\r\n\r\n",
// or 0 when it has not all arrived.
size_t HeadEnd(const char* data, size_t size);
// The value of header `name` (case-insensitive) in `head`, trimmed; empty
// when absent. `head` starts with the request or status line.
absl::string_view HeaderValue(absl::string_view head, absl::string_view name);
// Whether a comma-separated header value holds `token` (case-insensitive).
bool HasToken(absl::string_view value, absl::string_view token);

// RFC 7230 token: header names and subprotocols ("X-Token", "chat.v2").
bool IsHttpToken(absl::string_view text);
// Text that may stand in a request line or a header value: no CR, LF, NUL or
// other control byte but tab.
bool IsHeaderText(absl::string_view text);

// Headers the upgrade request writes itself (Host, Upgrade, Sec-WebSocket-*,
// ...), which a plan may not add again; case-insensitive.
bool IsUpgradeHeader(absl::string_view name);

// A 101 response checked against what the client sent.
enum class UpgradeCheck {
  kOk,
  kRejected,  // a status other than 101: the server refused the upgrade
  kBad,       // 101, but not a valid WebSocket answer (see *why)
};
// `head` is the whole response head; `accept` the expected accept value;
// `protocols` the offered subprotocols, comma-separated (empty: none).
UpgradeCheck CheckUpgradeResponse(absl::string_view head, absl::string_view accept,
                                  absl::string_view protocols, const char** why);

}  // namespace fourtuple::ws

#endif  // FOURTUPLE_COMMON_WEBSOCKET_H_

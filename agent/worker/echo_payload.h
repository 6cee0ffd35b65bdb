// The echo-check payload: what a connection sends in one echo round and must
// read back unchanged. It carries the connection's unique id — agent index
// (u32), connection id (u64), round (u32), little-endian, 16 bytes — padded to
// payload_bytes with bytes derived from that id alone. Any byte range of a
// payload can be generated on its own, so the engine stores nothing per
// connection but offsets: it regenerates the bytes it expects as they arrive.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_AGENT_WORKER_ECHO_PAYLOAD_H_
#define FOURTUPLE_AGENT_WORKER_ECHO_PAYLOAD_H_

#include <cstddef>
#include <cstdint>

namespace fourtuple::agent {

inline constexpr size_t kEchoHeaderBytes = 16;

struct EchoId {
  uint32_t agent = 0;
  uint64_t connection = 0;
  uint32_t round = 0;
};

// Writes payload bytes [offset, offset + size) of `id` to out.
void FillEchoPayload(const EchoId& id, size_t offset, size_t size, char* out);

// True when data[0, size) equals payload bytes [offset, offset + size) of `id`.
bool EchoPayloadMatches(const EchoId& id, size_t offset, const char* data, size_t size);

// Reads the id back from the first kEchoHeaderBytes of a payload.
EchoId ParseEchoHeader(const char* header);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_ECHO_PAYLOAD_H_

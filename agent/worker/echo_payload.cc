#include "agent/worker/echo_payload.h"

#include <algorithm>
#include <cstring>

namespace fourtuple::agent {
namespace {

// SplitMix64's finalizer: a cheap bijective mix with good avalanche.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t PaddingSeed(const EchoId& id) {
  return Mix64((static_cast<uint64_t>(id.agent) << 32 | id.round) ^
               Mix64(id.connection + 0x9e3779b97f4a7c15ULL));
}

// Padding word k (bytes 16 + 8k .. 16 + 8k + 7), so any range is random access.
uint64_t PaddingWord(uint64_t seed, uint64_t k) { return Mix64(seed + (k + 1) * 0x9e3779b97f4a7c15ULL); }

void PutLittleEndian(uint64_t value, int bytes, unsigned char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}

uint64_t GetLittleEndian(const unsigned char* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
  return value;
}

}  // namespace

void FillEchoPayload(const EchoId& id, size_t offset, size_t size, char* out) {
  unsigned char* dst = reinterpret_cast<unsigned char*>(out);
  size_t end = offset + size;
  size_t pos = offset;
  if (pos < kEchoHeaderBytes) {
    unsigned char header[kEchoHeaderBytes];
    PutLittleEndian(id.agent, 4, header);
    PutLittleEndian(id.connection, 8, header + 4);
    PutLittleEndian(id.round, 4, header + 12);
    size_t n = std::min(end, kEchoHeaderBytes) - pos;
    std::memcpy(dst, header + pos, n);
    dst += n;
    pos += n;
  }
  if (pos >= end) return;
  uint64_t seed = PaddingSeed(id);
  while (pos < end) {
    size_t in_padding = pos - kEchoHeaderBytes;
    uint64_t k = in_padding / 8;
    size_t skip = in_padding % 8;
    unsigned char word[8];
    PutLittleEndian(PaddingWord(seed, k), 8, word);
    size_t n = std::min<size_t>(8 - skip, end - pos);
    std::memcpy(dst, word + skip, n);
    dst += n;
    pos += n;
  }
}

bool EchoPayloadMatches(const EchoId& id, size_t offset, const char* data, size_t size) {
  char expected[512];
  while (size > 0) {
    size_t n = std::min(size, sizeof expected);
    FillEchoPayload(id, offset, n, expected);
    if (std::memcmp(expected, data, n) != 0) return false;
    offset += n;
    data += n;
    size -= n;
  }
  return true;
}

EchoId ParseEchoHeader(const char* header) {
  const unsigned char* in = reinterpret_cast<const unsigned char*>(header);
  EchoId id;
  id.agent = static_cast<uint32_t>(GetLittleEndian(in, 4));
  id.connection = GetLittleEndian(in + 4, 8);
  id.round = static_cast<uint32_t>(GetLittleEndian(in + 12, 4));
  return id;
}

}  // namespace fourtuple::agent

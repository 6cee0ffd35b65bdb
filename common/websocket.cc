#include "common/websocket.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace fourtuple::ws {
namespace {

constexpr absl::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// SHA-1 (FIPS 180-4) of one short message, and base64 (RFC 4648), here
// rather than from OpenSSL: OpenSSL 3 sets up its provider machinery (a few
// MiB per process) on the first digest, which a ws:// worker holding
// thousands of connections would carry for one hash per connection.
void Sha1(const unsigned char* data, size_t size, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  const uint64_t bits = uint64_t{size} * 8;
  const size_t padded = (size + 9 + 63) / 64 * 64;
  for (size_t block = 0; block < padded; block += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      uint32_t word = 0;
      for (int j = 0; j < 4; ++j) {
        const size_t at = block + static_cast<size_t>(i * 4 + j);
        unsigned char byte;
        if (at < size) {
          byte = data[at];
        } else if (at == size) {
          byte = 0x80;
        } else if (at >= padded - 8) {
          byte = static_cast<unsigned char>(bits >> (8 * (padded - 1 - at)));
        } else {
          byte = 0;
        }
        word = (word << 8) | byte;
      }
      w[i] = word;
    }
    auto rotl = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<unsigned char>(h[i] >> (24 - 8 * j));
  }
}

// Base64 of `size` bytes into out (4 * ceil(size / 3) characters).
void Base64(const unsigned char* data, size_t size, char* out) {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < size; i += 3) {
    const uint32_t n = (uint32_t{data[i]} << 16) | (i + 1 < size ? uint32_t{data[i + 1]} << 8 : 0) |
                       (i + 2 < size ? data[i + 2] : 0);
    out[o++] = kAlphabet[(n >> 18) & 63];
    out[o++] = kAlphabet[(n >> 12) & 63];
    out[o++] = i + 1 < size ? kAlphabet[(n >> 6) & 63] : '=';
    out[o++] = i + 2 < size ? kAlphabet[n & 63] : '=';
  }
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

void MakeKey(uint64_t secret, uint64_t id, char out[kKeyChars]) {
  unsigned char raw[16];
  const uint64_t a = SplitMix(secret ^ id);
  const uint64_t b = SplitMix(a ^ secret ^ 0x5157'4B45'5900'0000ull);
  std::memcpy(raw, &a, 8);
  std::memcpy(raw + 8, &b, 8);
  Base64(raw, sizeof raw, out);
}

void AcceptFor(absl::string_view key, char out[kAcceptChars]) {
  unsigned char input[64 + kGuid.size()];
  const size_t key_bytes = key.size() < 64 ? key.size() : 64;
  std::memcpy(input, key.data(), key_bytes);
  std::memcpy(input + key_bytes, kGuid.data(), kGuid.size());
  unsigned char digest[20];
  Sha1(input, key_bytes + kGuid.size(), digest);
  Base64(digest, sizeof digest, out);
}

uint32_t MaskFor(uint64_t secret, uint64_t id, uint32_t round) {
  return static_cast<uint32_t>(SplitMix(secret ^ SplitMix(id) ^ (uint64_t{round} << 40)));
}

size_t WriteFrameHeader(char* out, uint8_t opcode, uint64_t payload, bool masked, uint32_t mask) {
  auto* p = reinterpret_cast<unsigned char*>(out);
  p[0] = static_cast<unsigned char>(kFin | (opcode & 0x0F));
  const unsigned char mask_bit = masked ? 0x80 : 0;
  size_t n;
  if (payload < 126) {
    p[1] = static_cast<unsigned char>(mask_bit | payload);
    n = 2;
  } else if (payload <= 0xFFFF) {
    p[1] = mask_bit | 126;
    p[2] = static_cast<unsigned char>(payload >> 8);
    p[3] = static_cast<unsigned char>(payload);
    n = 4;
  } else {
    p[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<unsigned char>(payload >> (56 - 8 * i));
    n = 10;
  }
  if (masked) {
    // The mask's bytes in wire order: byte i masks payload byte i mod 4.
    for (int i = 0; i < 4; ++i) p[n + i] = static_cast<unsigned char>(mask >> (24 - 8 * i));
    n += 4;
  }
  return n;
}

void ApplyMask(char* data, size_t size, uint32_t mask, uint64_t offset) {
  unsigned char key[4];
  for (int i = 0; i < 4; ++i) key[i] = static_cast<unsigned char>(mask >> (24 - 8 * i));
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[(offset + i) & 3]);
}

Parse ParseFrameHeader(const char* data, size_t size, FrameHeader* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  if (size < 2) return Parse::kNeedMore;
  if (p[0] & 0x70) return Parse::kError;  // RSV1-3: no extension was negotiated
  FrameHeader h;
  h.fin = (p[0] & kFin) != 0;
  h.opcode = p[0] & 0x0F;
  if (h.opcode > kBinary && h.opcode != kClose && h.opcode != kPing && h.opcode != kPong)
    return Parse::kError;
  h.masked = (p[1] & 0x80) != 0;
  const unsigned length7 = p[1] & 0x7F;
  size_t n = 2;
  if (length7 < 126) {
    h.payload = length7;
  } else if (length7 == 126) {
    if (size < 4) return Parse::kNeedMore;
    h.payload = (uint64_t{p[2]} << 8) | p[3];
    n = 4;
  } else {
    if (size < 10) return Parse::kNeedMore;
    if (p[2] & 0x80) return Parse::kError;
    h.payload = 0;
    for (int i = 0; i < 8; ++i) h.payload = (h.payload << 8) | p[2 + i];
    n = 10;
  }
  if (IsControl(h.opcode) && (!h.fin || h.payload > kMaxControlPayload)) return Parse::kError;
  if (h.masked) {
    if (size < n + 4) return Parse::kNeedMore;
    h.mask = (uint32_t{p[n]} << 24) | (uint32_t{p[n + 1]} << 16) | (uint32_t{p[n + 2]} << 8) | p[n + 3];
    n += 4;
  }
  h.header_bytes = n;
  *out = h;
  return Parse::kOk;
}

size_t HeadEnd(const char* data, size_t size) {
  const absl::string_view text(data, size);
  const size_t at = text.find("\r\n\r\n");
  return at == absl::string_view::npos ? 0 : at + 4;
}

absl::string_view HeaderValue(absl::string_view head, absl::string_view name) {
  size_t line_start = head.find("\r\n");
  while (line_start != absl::string_view::npos) {
    line_start += 2;
    const size_t line_end = head.find("\r\n", line_start);
    const absl::string_view line = head.substr(
        line_start, line_end == absl::string_view::npos ? absl::string_view::npos : line_end - line_start);
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos && absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      return absl::StripAsciiWhitespace(line.substr(colon + 1));
    }
    line_start = line_end;
  }
  return {};
}

bool HasToken(absl::string_view value, absl::string_view token) {
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(part), token)) return true;
  }
  return false;
}

bool IsHttpToken(absl::string_view text) {
  if (text.empty()) return false;
  for (char ch : text) {
    if (absl::ascii_isalnum(ch)) continue;
    if (absl::string_view("!#$%&'*+-.^_`|~").find(ch) == absl::string_view::npos) return false;
  }
  return true;
}

bool IsHeaderText(absl::string_view text) {
  for (char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if ((byte < 0x20 && byte != '\t') || byte == 0x7F) return false;
  }
  return true;
}

bool IsUpgradeHeader(absl::string_view name) {
  for (absl::string_view own :
       {"host", "upgrade", "connection", "origin", "sec-websocket-key", "sec-websocket-version",
        "sec-websocket-protocol", "sec-websocket-extensions"}) {
    if (absl::EqualsIgnoreCase(name, own)) return true;
  }
  return false;
}

UpgradeCheck CheckUpgradeResponse(absl::string_view head, absl::string_view accept,
                                  absl::string_view protocols, const char** why) {
  const char* ignored;
  if (why == nullptr) why = &ignored;
  // "HTTP/1.1 101 Switching Protocols"
  if (!absl::StartsWith(head, "HTTP/1.") || head.size() < 12 || head[8] != ' ') {
    *why = "the reply is not an HTTP response";
    return UpgradeCheck::kBad;
  }
  if (head.substr(9, 3) != "101") {
    *why = "the server refused the upgrade";
    return UpgradeCheck::kRejected;
  }
  if (!absl::EqualsIgnoreCase(HeaderValue(head, "Upgrade"), "websocket")) {
    *why = "101 without Upgrade: websocket";
    return UpgradeCheck::kBad;
  }
  if (!HasToken(HeaderValue(head, "Connection"), "upgrade")) {
    *why = "101 without Connection: Upgrade";
    return UpgradeCheck::kBad;
  }
  if (HeaderValue(head, "Sec-WebSocket-Accept") != accept) {
    *why = "Sec-WebSocket-Accept does not match the key sent";
    return UpgradeCheck::kBad;
  }
  if (!HeaderValue(head, "Sec-WebSocket-Extensions").empty()) {
    *why = "an extension the client did not offer";
    return UpgradeCheck::kBad;
  }
  const absl::string_view protocol = HeaderValue(head, "Sec-WebSocket-Protocol");
  if (protocols.empty() ? !protocol.empty()
                        : (protocol.empty() || protocol.find(',') != absl::string_view::npos ||
                           !HasToken(protocols, protocol))) {
    *why = "Sec-WebSocket-Protocol is not one of those offered";
    return UpgradeCheck::kBad;
  }
  return UpgradeCheck::kOk;
}

}  // namespace fourtuple::ws

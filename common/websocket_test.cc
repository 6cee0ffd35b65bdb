#include "common/websocket.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fourtuple::ws {
namespace {

TEST(WebSocketTest, AcceptOfTheRfcExample) {
  // RFC 6455 section 1.3.
  char accept[kAcceptChars];
  AcceptFor("dGhlIHNhbXBsZSBub25jZQ==", accept);
  EXPECT_EQ(std::string(accept, kAcceptChars), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Values from Python's hashlib and base64.
  AcceptFor("x3JJHMbDL1EzLkh9GBhXDw==", accept);
  EXPECT_EQ(std::string(accept, kAcceptChars), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  AcceptFor("AQIDBAUGBwgJCgsMDQ4PEA==", accept);
  EXPECT_EQ(std::string(accept, kAcceptChars), "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=");
}

TEST(WebSocketTest, KeysDifferPerConnectionAndRepeatForOne) {
  char a[kKeyChars], b[kKeyChars], again[kKeyChars];
  MakeKey(42, 1, a);
  MakeKey(42, 2, b);
  MakeKey(42, 1, again);
  EXPECT_NE(std::string(a, kKeyChars), std::string(b, kKeyChars));
  EXPECT_EQ(std::string(a, kKeyChars), std::string(again, kKeyChars));
  EXPECT_EQ(a[kKeyChars - 1], '=');  // 16 bytes in base64
  EXPECT_EQ(a[kKeyChars - 2], '=');
  char other_secret[kKeyChars];
  MakeKey(43, 1, other_secret);
  EXPECT_NE(std::string(a, kKeyChars), std::string(other_secret, kKeyChars));
}

std::string Frame(uint8_t opcode, const std::string& payload, bool masked, uint32_t mask) {
  char header[kMaxFrameHeaderBytes];
  const size_t n = WriteFrameHeader(header, opcode, payload.size(), masked, mask);
  std::string body = payload;
  if (masked) ApplyMask(body.data(), body.size(), mask, 0);
  return std::string(header, n) + body;
}

TEST(WebSocketTest, FrameHeadersRoundTripAtEveryLengthForm) {
  for (uint64_t length : {0ull, 1ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
    for (bool masked : {false, true}) {
      char header[kMaxFrameHeaderBytes];
      const size_t n = WriteFrameHeader(header, kBinary, length, masked, 0x01020304);
      EXPECT_EQ(n, FrameHeaderSize(length, masked)) << length;
      FrameHeader h;
      ASSERT_EQ(ParseFrameHeader(header, n, &h), Parse::kOk) << length;
      EXPECT_TRUE(h.fin);
      EXPECT_EQ(h.opcode, kBinary);
      EXPECT_EQ(h.payload, length);
      EXPECT_EQ(h.masked, masked);
      EXPECT_EQ(h.header_bytes, n);
      if (masked) {
        EXPECT_EQ(h.mask, 0x01020304u);
      }
      // Every shorter prefix asks for more.
      for (size_t cut = 0; cut < n; ++cut) EXPECT_EQ(ParseFrameHeader(header, cut, &h), Parse::kNeedMore);
    }
  }
}

TEST(WebSocketTest, MaskingInPartsEqualsMaskingAtOnce) {
  const std::string text = "the quick brown fox jumps";
  std::string whole = text;
  ApplyMask(whole.data(), whole.size(), 0xA1B2C3D4, 0);
  std::string parts = text;
  ApplyMask(parts.data(), 3, 0xA1B2C3D4, 0);
  ApplyMask(parts.data() + 3, 10, 0xA1B2C3D4, 3);
  ApplyMask(parts.data() + 13, parts.size() - 13, 0xA1B2C3D4, 13);
  EXPECT_EQ(whole, parts);
  ApplyMask(whole.data(), whole.size(), 0xA1B2C3D4, 0);
  EXPECT_EQ(whole, text);
}

TEST(WebSocketTest, ControlFramesInterleavedWithDataParseInTurn) {
  const std::string stream = Frame(kPing, "p", false, 0) + Frame(kBinary, std::string(300, 'x'), false, 0) +
                             Frame(kPong, "", false, 0) + Frame(kClose, "\x03\xe8", false, 0);
  std::vector<uint8_t> opcodes;
  size_t at = 0;
  while (at < stream.size()) {
    FrameHeader h;
    ASSERT_EQ(ParseFrameHeader(stream.data() + at, stream.size() - at, &h), Parse::kOk);
    opcodes.push_back(h.opcode);
    at += h.header_bytes + h.payload;
  }
  EXPECT_EQ(opcodes, (std::vector<uint8_t>{kPing, kBinary, kPong, kClose}));
}

TEST(WebSocketTest, ForbiddenFramesAreErrors) {
  FrameHeader h;
  const char rsv[] = {static_cast<char>(0xC2), 0x00};  // RSV1
  EXPECT_EQ(ParseFrameHeader(rsv, 2, &h), Parse::kError);
  const char opcode3[] = {static_cast<char>(0x83), 0x00};
  EXPECT_EQ(ParseFrameHeader(opcode3, 2, &h), Parse::kError);
  const char fragmented_ping[] = {0x09, 0x00};
  EXPECT_EQ(ParseFrameHeader(fragmented_ping, 2, &h), Parse::kError);
  const char long_ping[] = {static_cast<char>(0x89), 126, 0, 126};
  EXPECT_EQ(ParseFrameHeader(long_ping, 4, &h), Parse::kError);
  const char huge[] = {static_cast<char>(0x82), 127, static_cast<char>(0x80), 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(ParseFrameHeader(huge, 10, &h), Parse::kError);
}

TEST(WebSocketTest, HeadEndAndHeaders) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nupgrade:  WebSocket \r\nConnection: keep-alive, Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
  EXPECT_EQ(HeadEnd(head.data(), head.size()), head.size());
  EXPECT_EQ(HeadEnd(head.data(), head.size() - 1), 0u);
  EXPECT_EQ(HeaderValue(head, "Upgrade"), "WebSocket");
  EXPECT_TRUE(HasToken(HeaderValue(head, "connection"), "upgrade"));
  EXPECT_EQ(HeaderValue(head, "Missing"), "");
  const char* why = nullptr;
  EXPECT_EQ(CheckUpgradeResponse(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "superchat, chat", &why),
            UpgradeCheck::kOk);
  EXPECT_EQ(CheckUpgradeResponse(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "", &why), UpgradeCheck::kBad);
  EXPECT_EQ(CheckUpgradeResponse(head, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "chat", &why), UpgradeCheck::kBad);
  EXPECT_STREQ(why, "Sec-WebSocket-Accept does not match the key sent");
  EXPECT_EQ(CheckUpgradeResponse("HTTP/1.1 403 Forbidden\r\n\r\n", "x", "", &why), UpgradeCheck::kRejected);
  EXPECT_EQ(CheckUpgradeResponse("SSH-2.0-OpenSSH\r\n\r\n", "x", "", &why), UpgradeCheck::kBad);
}

}  // namespace
}  // namespace fourtuple::ws

// EchoWorker's WebSocket (--listen-protocol=websocket): the upgrade on any
// path, then every data frame echoed back unmasked with its opcode and FIN
// bit, pings answered with pongs, a close answered with a close and the end
// of the connection (the server closes TCP first, RFC 6455 7.1.1).
//
// A held connection costs what a raw one does plus one bit (ws_upgraded_):
// frames are unmasked and echoed as they arrive, and only a connection whose
// head, frame header or control frame was split over reads, or whose data
// frame's payload is still arriving, has an entry in ws_partial_ meanwhile.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tls_io.h"
#include "common/websocket.h"
#include "target-server/echo_worker.h"

namespace fourtuple::target_server {
namespace {

// Room kept in the reply buffer beyond what was read: the 101 is longer than
// the smallest request head, every frame's reply no longer than the frame.
constexpr size_t kReplyReserve = 1024;
constexpr absl::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
// Status 1002, protocol error.
constexpr char kProtocolError[] = {static_cast<char>(0x88), 0x02, 0x03, static_cast<char>(0xEA)};

}  // namespace

size_t EchoWorker::ReadCapacity() const {
  if (!options_.websocket || options_.buffer_bytes <= 2 * kReplyReserve) return options_.buffer_bytes;
  return options_.buffer_bytes - kReplyReserve;
}

void EchoWorker::EchoWs(int fd, bool read_until_eagain) {
  char* const scratch = scratch_.get();
  const size_t capacity = ReadCapacity();
  for (;;) {
    const ssize_t got = read(fd, scratch, capacity);
    if (got > 0) {
      WorkerCounters::Add(counters_->bytes_echoed, static_cast<uint64_t>(got));
      if (!Reply(fd, scratch, static_cast<size_t>(got))) return;
      if (static_cast<size_t>(got) < capacity && !read_until_eagain) return;
      continue;
    }
    if (got < 0 && errno == EAGAIN) return;
    if (got < 0 && errno == EINTR) continue;
    CloseConnection(fd);
    return;
  }
}

bool EchoWorker::Reply(int fd, const char* data, size_t size) {
  if (!options_.websocket) return WriteOrPend(fd, data, size);
  bool close = false;
  const size_t out = WsProcess(fd, data, size, &close);
  const bool written = out == 0 || WriteOrPend(fd, ws_out_.get(), out);
  if (close) {
    if (IsOpen(fd)) CloseConnection(fd);
    return false;
  }
  return written;
}

bool EchoWorker::ReplyDetached(int fd, const char* data, size_t size) {
  bool close = false;
  const size_t out = WsProcess(fd, data, size, &close);
  TlsRecordState& state = tls_records_[fd];
  bool written = true;
  // Sealed in parts well under a record, so each fits a pending buffer.
  for (size_t at = 0; at < out && written;) {
    const size_t part = std::min<size_t>(out - at, 8192);
    const size_t record = tls_cipher_->Seal(state, ws_out_.get() + at, part, tls_out_.get());
    if (record == 0) {
      close = true;
      break;
    }
    written = WriteOrPend(fd, tls_out_.get(), record);
    at += part;
  }
  if (close) {
    if (IsOpen(fd)) CloseConnection(fd);
    return false;
  }
  return written;
}

size_t EchoWorker::WsUpgrade(int fd, absl::string_view head, char* out, bool* close) {
  const absl::string_view key = ws::HeaderValue(head, "Sec-WebSocket-Key");
  if (!absl::StartsWith(head, "GET ") || !ws::HasToken(ws::HeaderValue(head, "Upgrade"), "websocket") ||
      key.size() != ws::kKeyChars || ws::HeaderValue(head, "Sec-WebSocket-Version") != "13") {
    *close = true;
    std::memcpy(out, kBadRequest.data(), kBadRequest.size());
    return kBadRequest.size();
  }
  char accept[ws::kAcceptChars];
  ws::AcceptFor(key, accept);
  // The first subprotocol offered, if any: whatever the client asks for.
  absl::string_view protocol = ws::HeaderValue(head, "Sec-WebSocket-Protocol");
  protocol = protocol.substr(0, protocol.find(','));
  protocol = absl::StripAsciiWhitespace(protocol);
  if (!ws::IsHttpToken(protocol) || protocol.size() > 64) protocol = {};
  std::string reply = absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
      "Connection: Upgrade\r\nSec-WebSocket-Accept: ", absl::string_view(accept, ws::kAcceptChars), "\r\n");
  if (!protocol.empty()) absl::StrAppend(&reply, "Sec-WebSocket-Protocol: ", protocol, "\r\n");
  reply += "\r\n";
  std::memcpy(out, reply.data(), reply.size());
  const size_t word = static_cast<size_t>(fd) / 64;
  if (word >= ws_upgraded_.size()) ws_upgraded_.resize(word + 1, 0);
  ws_upgraded_[word] |= uint64_t{1} << (fd % 64);
  return reply.size();
}

size_t EchoWorker::WsProcess(int fd, const char* data, size_t size, bool* close) {
  if (!ws_out_) ws_out_.reset(new char[options_.buffer_bytes + kReplyReserve]);
  char* const out = ws_out_.get();
  const size_t capacity = options_.buffer_bytes;  // what one pending buffer holds
  size_t o = 0;
  // State left by the previous read, if any.
  std::string carry;
  WsPartial state;
  if (auto it = ws_partial_.find(fd); it != ws_partial_.end()) {
    state = std::move(it->second);
    ws_partial_.erase(it);
    if (!state.bytes.empty()) {
      carry = std::move(state.bytes);
      state.bytes.clear();
      carry.append(data, size);
      data = carry.data();
      size = carry.size();
    }
  }
  auto stash = [&](const char* rest, size_t rest_size) {
    if (state.remaining == 0 && rest_size == 0) return;
    WsPartial& saved = ws_partial_[fd];
    saved = state;
    saved.bytes.assign(rest, rest_size);
  };
  const size_t word = static_cast<size_t>(fd) / 64;
  const bool upgraded = word < ws_upgraded_.size() && (ws_upgraded_[word] >> (fd % 64)) & 1;
  if (!upgraded) {
    const size_t end = ws::HeadEnd(data, size);
    if (end == 0) {
      if (size > ws::kMaxHeadBytes) {
        *close = true;
        std::memcpy(out, kBadRequest.data(), kBadRequest.size());
        return kBadRequest.size();
      }
      stash(data, size);
      return 0;
    }
    o = WsUpgrade(fd, absl::string_view(data, end), out, close);
    if (*close) return o;
    data += end;
    size -= end;
  }
  while (size > 0) {
    if (state.remaining > 0) {  // a data frame's payload, unmasked as it comes
      const size_t take = static_cast<size_t>(std::min<uint64_t>(size, state.remaining));
      if (o + take > capacity) break;
      std::memcpy(out + o, data, take);
      ws::ApplyMask(out + o, take, state.mask, state.offset);
      o += take;
      state.offset += take;
      state.remaining -= take;
      data += take;
      size -= take;
      continue;
    }
    ws::FrameHeader h;
    const ws::Parse parsed = ws::ParseFrameHeader(data, size, &h);
    if (parsed == ws::Parse::kError || (parsed == ws::Parse::kOk && !h.masked)) {
      // Clients must mask (RFC 6455 5.1): answer 1002 and end it.
      std::memcpy(out + o, kProtocolError, sizeof kProtocolError);
      *close = true;
      return o + sizeof kProtocolError;
    }
    if (parsed == ws::Parse::kNeedMore || (ws::IsControl(h.opcode) && size < h.header_bytes + h.payload))
      break;
    if (o + ws::kMaxFrameHeaderBytes + ws::kMaxControlPayload > capacity + kReplyReserve) break;
    const char* payload = data + h.header_bytes;
    if (!ws::IsControl(h.opcode)) {
      size_t n = ws::WriteFrameHeader(out + o, h.opcode, h.payload, false, 0);
      if (!h.fin) out[o] = static_cast<char>(out[o] & ~ws::kFin);
      o += n;
      state.remaining = h.payload;
      state.offset = 0;
      state.mask = h.mask;
      data += h.header_bytes;
      size -= h.header_bytes;
      continue;
    }
    const size_t length = static_cast<size_t>(h.payload);
    data += h.header_bytes + length;
    size -= h.header_bytes + length;
    if (h.opcode == ws::kPong) continue;
    // A ping's pong, or a close answered with its status code.
    const size_t echoed = h.opcode == ws::kClose ? std::min<size_t>(length, 2) : length;
    o += ws::WriteFrameHeader(out + o, h.opcode == ws::kPing ? ws::kPong : ws::kClose, echoed, false, 0);
    std::memcpy(out + o, payload, echoed);
    ws::ApplyMask(out + o, echoed, h.mask, 0);
    o += echoed;
    if (h.opcode == ws::kClose) {
      *close = true;
      return o;
    }
  }
  stash(data, size);
  return o;
}

void EchoWorker::ForgetWs(int fd) {
  if (!options_.websocket) return;
  const size_t word = static_cast<size_t>(fd) / 64;
  if (word < ws_upgraded_.size()) ws_upgraded_[word] &= ~(uint64_t{1} << (fd % 64));
  if (!ws_partial_.empty()) ws_partial_.erase(fd);
}

}  // namespace fourtuple::target_server

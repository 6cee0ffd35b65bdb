// ConnectionEngine's WebSocket: the upgrade between TCP (or TLS) established
// and the connection counting as established, echo rounds as frames, pings,
// and the close handshake. Without assignment.websocket every hook is a no-op
// and the plain path stays as it was.
//
// What a held connection keeps: nothing beyond the 32-byte record. The key
// is derived from the connection id (ws_client.h); the expected reply frame
// is known in advance, so replies are matched byte by byte against it with
// the record's echo_received as the only position; a ping outstanding is one
// flag bit and its deadline the record's timer. Only a response or control
// frame split over reads keeps its bytes so far, in ws_partial_, until whole.
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/worker/connection_engine.h"
#include "common/address.h"
#include "common/failure_reason.h"
#include "common/websocket.h"

namespace fourtuple::agent {
namespace {

void Bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// The close phase spends at most this long, per worker, sending close frames,
// then at most as long again waiting for the servers' answers; connections
// past either are reset like plain ones. A million connections on a loaded
// host would otherwise keep the close phase busy for a minute (the server
// answers each, the agent reads each), far past the plain close's seconds.
constexpr uint64_t kCloseGraceUs = 1'000'000;
constexpr uint32_t kPeerDone = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
// A close frame's payload: status 1000, normal closure.
constexpr char kNormalClosure[] = {0x03, static_cast<char>(0xE8)};

}  // namespace

absl::Status ConnectionEngine::SetUpWs(const v1::WorkerStart& start) {
  ws_.reset();
  ws_partial_.clear();
  const v1::Assignment& a = start.assignment();
  if (!a.has_websocket()) return absl::OkStatus();
  std::vector<std::string> names;
  for (const std::string& target : a.targets()) {
    absl::StatusOr<Endpoint> endpoint = ParseEndpoint(target);
    names.push_back(endpoint.ok() ? endpoint->ToString() : target);
  }
  uint64_t secret = 0;
  if (getrandom(&secret, sizeof secret, GRND_NONBLOCK) != sizeof secret)
    secret = NowNanos() * 0x9E3779B97F4A7C15ull;
  absl::StatusOr<WsClient> client = WsClient::Create(a.websocket(), names, secret);
  if (!client.ok()) return client.status();
  if (client->RequestBytesMax() > kScratchBytes) {
    return absl::InvalidArgumentError("assignment.websocket: the upgrade request is too long");
  }
  ws_ = *std::move(client);
  if (!ws_frame_)
    ws_frame_.reset(new char[std::max(kMaxPayloadBytes, kMaxSendExpectBytes) + ws::kMaxFrameHeaderBytes]);
  return absl::OkStatus();
}

void ConnectionEngine::ResetWsShared() {
  AgentWorkerShared& s = *shared_;
  for (auto* counter : {&s.ws_upgrades, &s.ws_pings, &s.ws_pongs, &s.ws_closed_cleanly}) {
    counter->store(0, std::memory_order_relaxed);
  }
  for (auto& bucket : s.ws_upgrade.buckets) bucket.store(0, std::memory_order_relaxed);
  s.ws_upgrade.count.store(0, std::memory_order_relaxed);
  s.ws_upgrade.sum_us.store(0, std::memory_order_relaxed);
  s.ws_upgrade.max_us.store(0, std::memory_order_relaxed);
}

// ------------------------------------------------------------ the upgrade

void ConnectionEngine::BeginUpgrade(uint32_t slot, Connection& c) {
  c.state = ConnState::kUpgrading;
  const uint64_t now = NowMicros();
  c.stamp_us = static_cast<uint32_t>(now);
  wheel_.Schedule(slot, DeadlineTick(now, connect_timeout_us_));
  const uint64_t id = first_connection_ + slot;
  const size_t size = ws_->Request(sources_.TargetOf(id), id, scratch_.get());
  // A fresh socket's send buffer takes a request this size whole.
  const ssize_t sent = SendBytes(slot, c, scratch_.get(), size);
  if (sent != static_cast<ssize_t>(size)) return FailConnect(slot, c, sent < 0 ? errno : ENOBUFS);
}

void ConnectionEngine::OnUpgradeEvent(uint32_t slot, Connection& c, uint32_t events) {
  char* const buffer = scratch_.get();
  for (;;) {
    size_t have = 0;
    if (auto it = ws_partial_.find(slot); it != ws_partial_.end()) {
      have = it->second.size();
      std::memcpy(buffer, it->second.data(), have);
    }
    const ssize_t n = RecvBytes(slot, c, buffer + have, kScratchBytes - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      return FailConnect(slot, c, n == 0 ? (have > 0 ? kReasonWsProtocolError : kReasonPeerClosed) : errno);
    }
    const size_t size = have + static_cast<size_t>(n);
    const size_t head = ws::HeadEnd(buffer, size);
    if (head != 0) {
      ws_partial_.erase(slot);
      return FinishUpgrade(slot, c, buffer, size, head);
    }
    // Not HTTP at all, or a head past any sane size: no need to wait longer.
    const absl::string_view start(buffer, std::min<size_t>(size, 5));
    if (size > ws::kMaxHeadBytes || absl::string_view("HTTP/").substr(0, start.size()) != start) {
      RecordFailureSample(kReasonWsProtocolError, buffer, size);  // what answered instead of HTTP
      return FailConnect(slot, c, kReasonWsProtocolError);
    }
    ws_partial_[slot].assign(buffer, size);
    if (!(events & kPeerDone) && !tls_ && static_cast<size_t>(n) < kScratchBytes - have) return;
  }
}

void ConnectionEngine::FinishUpgrade(uint32_t slot, Connection& c, const char* data, size_t size,
                                     size_t head_bytes) {
  const uint64_t id = first_connection_ + slot;
  char accept[ws::kAcceptChars];
  ws_->ExpectedAccept(id, accept);
  switch (ws::CheckUpgradeResponse(absl::string_view(data, head_bytes),
                                   absl::string_view(accept, ws::kAcceptChars), ws_->protocols(), nullptr)) {
    case ws::UpgradeCheck::kRejected:
      RecordFailureSample(kReasonWsUpgradeRejected, data, head_bytes);  // the status line first
      return FailConnect(slot, c, kReasonWsUpgradeRejected);
    case ws::UpgradeCheck::kBad:
      RecordFailureSample(kReasonWsProtocolError, data, head_bytes);
      return FailConnect(slot, c, kReasonWsProtocolError);
    case ws::UpgradeCheck::kOk:
      break;
  }
  wheel_.Cancel(slot);
  --in_flight_;
  shared_->in_flight.store(in_flight_, std::memory_order_relaxed);
  const uint64_t now = NowMicros();
  shared_->ws_upgrade.Record(static_cast<uint32_t>(now) - c.stamp_us);
  Bump(shared_->ws_upgrades);
  Establish(slot, c, 0);
  ArmWsPing(slot, now);
  // Frames that came with the 101 (a server that speaks first).
  if (size > head_bytes && !ConsumeWs(slot, c, data + head_bytes, size - head_bytes)) return;
  // Through TLS more records may wait behind the one read.
  if (tls_) ReadWs(slot, c, EPOLLIN);
}

// ------------------------------------------------------------ frames

size_t ConnectionEngine::WsRequestBytes() const {
  return ws::FrameHeaderSize(exchange_.send_bytes(), true) + exchange_.send_bytes();
}

size_t ConnectionEngine::WsReplyBytes() const {
  return ws::FrameHeaderSize(exchange_.expect_bytes(), false) + exchange_.expect_bytes();
}

bool ConnectionEngine::SendWsEcho(uint32_t slot, Connection& c) {
  // The whole frame is built again on every call (a resumed write sends its
  // rest): the mask follows from (id, round), so the bytes are the same.
  const uint64_t id = first_connection_ + slot;
  const size_t payload = exchange_.send_bytes();
  const uint32_t mask = ws::MaskFor(ws_->secret(), id, echo_round_);
  char* const frame = ws_frame_.get();
  const size_t header =
      ws::WriteFrameHeader(frame, exchange_.fixed() ? ws::kText : ws::kBinary, payload, true, mask);
  const char* data = exchange_.SendData(EchoIdOf(slot), 0, payload, frame + header);
  if (data != frame + header) std::memcpy(frame + header, data, payload);
  ws::ApplyMask(frame + header, payload, mask, 0);
  const size_t total = header + payload;
  while (c.echo_sent < total) {
    const ssize_t sent = SendBytes(slot, c, frame + c.echo_sent, total - c.echo_sent);
    if (sent > 0) {
      c.echo_sent = static_cast<uint16_t>(c.echo_sent + sent);
      if (c.echo_sent == total && c.echo_sent != sent) c.stamp_us = static_cast<uint32_t>(NowMicros());
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    LoseConnection(slot, c, sent < 0 ? errno : EIO);
    return false;
  }
  return true;
}

bool ConnectionEngine::WsReplyMatches(uint32_t slot, size_t offset, const char* data, size_t size) const {
  char header[ws::kMaxFrameHeaderBytes];
  const size_t header_bytes = ws::WriteFrameHeader(header, exchange_.fixed() ? ws::kText : ws::kBinary,
                                                   exchange_.expect_bytes(), false, 0);
  size_t i = 0;
  for (; i < size && offset + i < header_bytes; ++i) {
    if (data[i] != header[offset + i]) return false;
  }
  if (i == size) return true;
  return exchange_.ReplyMatches(EchoIdOf(slot), offset + i - header_bytes, data + i, size - i);
}

bool ConnectionEngine::ReadWs(uint32_t slot, Connection& c, uint32_t events) {
  const bool peer_done = (events & kPeerDone) != 0;
  for (;;) {
    const ssize_t n = RecvBytes(slot, c, scratch_.get(), kScratchBytes);
    if (n == 0) {
      LoseConnection(slot, c, kReasonPeerClosed);
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      LoseConnection(slot, c, errno);
      return false;
    }
    if (!ConsumeWs(slot, c, scratch_.get(), static_cast<size_t>(n))) return false;
    if (static_cast<size_t>(n) < kScratchBytes && !peer_done && !tls_) return true;
  }
}

bool ConnectionEngine::ConsumeWs(uint32_t slot, Connection& c, const char* data, size_t size) {
  // A control frame split over reads: its bytes so far come first.
  std::string carry;
  if (auto it = ws_partial_.find(slot); it != ws_partial_.end()) {
    carry = std::move(it->second);
    ws_partial_.erase(it);
    carry.append(data, size);
    data = carry.data();
    size = carry.size();
  }
  const size_t reply_bytes = WsReplyBytes();
  while (size > 0) {
    const auto first = static_cast<uint8_t>(data[0]);
    ws::FrameHeader h;
    const ws::Parse parsed =
        c.echo_received > 0 ? ws::Parse::kNeedMore : ws::ParseFrameHeader(data, size, &h);
    if (parsed == ws::Parse::kError || (parsed == ws::Parse::kOk && h.masked)) {
      FailWs(slot, c, kReasonWsProtocolError);  // servers never mask (RFC 6455 5.1)
      return false;
    }
    if (c.state == ConnState::kEchoing && (c.echo_received > 0 || !ws::IsControl(first & 0x0F))) {
      // This round's reply frame, matched against the one expected.
      const size_t take = std::min(size, reply_bytes - c.echo_received);
      if (!WsReplyMatches(slot, c.echo_received, data, take)) {
        Bump(shared_->echo_mismatched);
        FailWs(slot, c, kReasonEchoMismatch);
        return false;
      }
      c.echo_received = static_cast<uint16_t>(c.echo_received + take);
      data += take;
      size -= take;
      if (c.echo_received == reply_bytes) FinishEcho(slot, c);
      continue;
    }
    if (!ws::IsControl(first & 0x0F)) {
      // A data frame nobody asked for: not an echo of ours.
      FailWs(slot, c, kReasonEchoMismatch);
      return false;
    }
    if (parsed == ws::Parse::kNeedMore || size < h.header_bytes + h.payload) {
      ws_partial_[slot].assign(data, size);
      return true;
    }
    const char* payload = data + h.header_bytes;
    const size_t length = static_cast<size_t>(h.payload);
    data += h.header_bytes + length;
    size -= h.header_bytes + length;
    if (h.opcode == ws::kPing) {
      if (!SendWsControl(slot, c, ws::kPong, payload, length)) return false;
    } else if (h.opcode == ws::kPong) {
      if (c.flags & kConnFlagWsPingOut) {
        c.flags &= static_cast<uint8_t>(~kConnFlagWsPingOut);
        Bump(shared_->ws_pongs);
        if (c.state == ConnState::kIdle) ArmWsPing(slot, NowMicros());
      }
    } else {  // close: answer it, and the connection is over
      SendWsControl(slot, c, ws::kClose, payload, std::min<size_t>(length, 2));
      if (c.fd >= 0) LoseConnection(slot, c, kReasonPeerClosed);
      return false;
    }
  }
  return true;
}

bool ConnectionEngine::SendWsControl(uint32_t slot, Connection& c, uint8_t opcode, const char* payload,
                                     size_t size) {
  // Inside a request frame written in part a control frame would split it:
  // the frame finishes first and this one is skipped (the server pings again).
  if (c.state == ConnState::kEchoing && c.echo_sent > 0 && c.echo_sent < WsRequestBytes()) return true;
  char frame[ws::kMaxFrameHeaderBytes + ws::kMaxControlPayload];
  const uint32_t mask = ws::MaskFor(ws_->secret(), first_connection_ + slot, UINT32_MAX - opcode);
  const size_t header = ws::WriteFrameHeader(frame, opcode, size, true, mask);
  if (size > 0) std::memcpy(frame + header, payload, size);
  ws::ApplyMask(frame + header, size, mask, 0);
  const ssize_t sent = SendBytes(slot, c, frame, header + size);
  if (sent == static_cast<ssize_t>(header + size)) return true;
  // Part of a frame, or none with the send buffer full: the stream cannot be
  // framed any more.
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    LoseConnection(slot, c, errno);
  } else {
    FailWs(slot, c, ENOBUFS);
  }
  return false;
}

// ------------------------------------------------------------ pings

void ConnectionEngine::ArmWsPing(uint32_t slot, uint64_t now) {
  if (ws_ && ws_->ping_interval_us() > 0) wheel_.Schedule(slot, DeadlineTick(now, ws_->ping_interval_us()));
}

void ConnectionEngine::OnWsTimer(uint32_t slot, Connection& c) {
  if (c.flags & kConnFlagWsPingOut) return FailWs(slot, c, kReasonWsPingTimeout);
  if (!SendWsControl(slot, c, ws::kPing, nullptr, 0)) return;
  c.flags |= kConnFlagWsPingOut;
  Bump(shared_->ws_pings);
  // The pong is due within echo.timeout.
  wheel_.Schedule(slot, DeadlineTick(NowMicros(), echo_timeout_us_));
}

void ConnectionEngine::FailWs(uint32_t slot, Connection& c, int reason) {
  CountFailure(slot, c, reason);
  DropConnection(slot, c);
}

void ConnectionEngine::ForgetWs(uint32_t slot) {
  if (!ws_) return;
  wheel_.Cancel(slot);
  if (!ws_partial_.empty()) ws_partial_.erase(slot);
}

// ------------------------------------------------------------ close phase

void ConnectionEngine::CloseWsGracefully() {
  uint64_t waiting = 0;
  const uint64_t send_deadline = NowMicros() + kCloseGraceUs;
  for (uint32_t slot = 0; slot < connect_cursor_; ++slot) {
    if ((slot & 255) == 0 && NowMicros() >= send_deadline) break;
    Connection& c = table_[slot];
    if (c.fd < 0 || (c.state != ConnState::kIdle && c.state != ConnState::kEchoing)) continue;
    if (c.state == ConnState::kEchoing && c.echo_sent > 0 && c.echo_sent < WsRequestBytes()) continue;
    char frame[ws::kMaxFrameHeaderBytes + sizeof kNormalClosure];
    const uint32_t mask = ws::MaskFor(ws_->secret(), first_connection_ + slot, UINT32_MAX - ws::kClose);
    const size_t header = ws::WriteFrameHeader(frame, ws::kClose, sizeof kNormalClosure, true, mask);
    std::memcpy(frame + header, kNormalClosure, sizeof kNormalClosure);
    ws::ApplyMask(frame + header, sizeof kNormalClosure, mask, 0);
    const size_t total = header + sizeof kNormalClosure;
    if (SendBytes(slot, c, frame, total) != static_cast<ssize_t>(total)) continue;
    c.state = ConnState::kUpgrading;  // from here: waiting for the server's close
    ++waiting;
  }
  const uint64_t deadline = NowMicros() + kCloseGraceUs;
  while (waiting > 0) {
    const uint64_t now = NowMicros();
    if (now >= deadline) break;
    const int count = WaitForEvents(static_cast<int64_t>(deadline - now));
    if (count < 0 && errno != EINTR) break;
    for (int i = 0; i < count; ++i) {
      const uint32_t slot = EpollTagSlot(events_[i].data.u64);
      if (slot >= connect_cursor_) continue;
      Connection& c = table_[slot];
      if (c.generation != EpollTagGeneration(events_[i].data.u64) || c.fd < 0 ||
          c.state != ConnState::kUpgrading) {
        continue;
      }
      // Frames before the close (a late echo) are skipped; a close frame or
      // the end of the stream ends the wait for this connection.
      bool answered = false, ended = false, drained = false;
      while (!answered && !ended && !drained) {
        const ssize_t n = RecvBytes(slot, c, scratch_.get(), kScratchBytes);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ended = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
          drained = true;
          break;
        }
        size_t at = 0;
        while (at < static_cast<size_t>(n)) {
          ws::FrameHeader h;
          if (ws::ParseFrameHeader(scratch_.get() + at, static_cast<size_t>(n) - at, &h) != ws::Parse::kOk)
            break;
          if (h.opcode == ws::kClose) answered = true;
          at += h.header_bytes + static_cast<size_t>(h.payload);
        }
      }
      if (!answered && !ended) continue;
      if (answered) Bump(shared_->ws_closed_cleanly);
      // The server closes the TCP connection first (RFC 6455 7.1.1); once its
      // end-of-stream is in, a plain close leaves no TIME_WAIT here.
      if (!ended) {
        char byte;
        ended = recv(c.fd, &byte, 1, MSG_PEEK) == 0;
      }
      CloseFd(c, /*reset=*/!ended);
      --waiting;
    }
  }
}

}  // namespace fourtuple::agent

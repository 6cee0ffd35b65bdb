// ConnectionEngine's opening (agent/worker/opening.h): after TCP and TLS,
// the target's greeting is read and checked, then the first request is sent
// and its reply checked; only then does the connection count as
// established. Without echo.greeting and echo.first_send every hook is a
// no-op and a connection is established as soon as TCP (and TLS) is.
//
// The connection stays in flight meanwhile, with its connect_timeout timer
// armed again when the opening starts; echo_sent / echo_received count the
// opening's bytes (no echo round runs on a connection not yet established).
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/worker/connection_engine.h"
#include "agent/worker/failure_samples.h"
#include "common/failure_reason.h"

namespace fourtuple::agent {
namespace {

constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

}  // namespace

absl::Status ConnectionEngine::SetUpOpening(const v1::WorkerStart& start) {
  absl::StatusOr<Opening> opening = OpeningOf(start.assignment());
  if (!opening.ok()) return opening.status();
  opening_ = *std::move(opening);
  return absl::OkStatus();
}

void ConnectionEngine::EstablishOrOpen(uint32_t slot, Connection& c, uint32_t events) {
  if (opening_.empty()) {
    --in_flight_;
    shared_->in_flight.store(in_flight_, std::memory_order_relaxed);
    return Establish(slot, c, events);
  }
  c.echo_sent = 0;
  c.echo_received = 0;
  const uint64_t now = NowMicros();
  wheel_.Schedule(slot, DeadlineTick(now, connect_timeout_us_));
  if (!opening_.greeting().empty()) {
    c.state = ConnState::kGreeting;
    // What came with the handshake's last edge is read now: no later edge says so.
    if (events & kReadable) ReadOpening(slot, c, events);
    return;
  }
  StartFirstRequest(slot, c);
}

void ConnectionEngine::StartFirstRequest(uint32_t slot, Connection& c) {
  c.state = ConnState::kOpening;
  c.echo_sent = 0;
  c.echo_received = 0;
  if (!SendFirstRequest(slot, c)) return;
  // A reply may already wait (a server that answers fast, over TLS a record
  // OpenSSL buffered).
  ReadOpening(slot, c, EPOLLIN);
}

bool ConnectionEngine::SendFirstRequest(uint32_t slot, Connection& c) {
  const IdTemplate& request = opening_.first_send();
  const uint64_t id = ConversationId(agent_index_, first_connection_ + slot);
  while (c.echo_sent < request.size()) {
    const size_t size = request.size() - c.echo_sent;
    const char* data = request.literal().data() + c.echo_sent;
    if (request.has_id()) {
      request.Fill(id, c.echo_sent, size, payload_.get());
      data = payload_.get();
    }
    const ssize_t sent = SendBytes(slot, c, data, size);
    if (sent > 0) {
      c.echo_sent = static_cast<uint16_t>(c.echo_sent + sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // EPOLLOUT resumes it
    FailConnect(slot, c, sent < 0 ? errno : EIO);
    return false;
  }
  return true;
}

void ConnectionEngine::OnOpeningEvent(uint32_t slot, Connection& c, uint32_t events) {
  if ((events & EPOLLOUT) && c.state == ConnState::kOpening && c.echo_sent < opening_.first_send().size()) {
    if (!SendFirstRequest(slot, c)) return;
  }
  if (events & kReadable) ReadOpening(slot, c, events);
}

void ConnectionEngine::SampleOpening(uint32_t slot, const Connection& c, int reason, size_t matched,
                                     const char* data, size_t size) {
  if (HasFailureSample(*shared_, reason)) return;
  // The bytes that matched are the expected ones.
  char head[kFailureSampleBytes];
  const size_t head_size = std::min(matched, kFailureSampleBytes);
  if (reason == kReasonGreetingMismatch) {
    std::memcpy(head, opening_.greeting().data(), head_size);
  } else {
    opening_.first_expect().Fill(ConversationId(agent_index_, first_connection_ + slot), 0, head_size, head);
  }
  SampleReply(slot, c, reason, head, head_size, data, size);
}

void ConnectionEngine::ReadOpening(uint32_t slot, Connection& c, uint32_t events) {
  const bool peer_done = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  const uint64_t id = ConversationId(agent_index_, first_connection_ + slot);
  for (;;) {
    const bool greeting = c.state == ConnState::kGreeting;
    const size_t expected = greeting ? opening_.greeting().size() : opening_.first_expect().size();
    const size_t owed = expected - c.echo_received;
    // A greeting is a prefix: what follows it in the same read (the rest of
    // a banner) is read and ignored. A first reply must be exact: one byte
    // more than owed catches a surplus.
    const size_t request = greeting ? kScratchBytes : std::min(owed + 1, kScratchBytes);
    const ssize_t n = RecvBytes(slot, c, scratch_.get(), request);
    if (n == 0) return FailConnect(slot, c, kReasonPeerClosed);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return FailConnect(slot, c, errno);
    }
    const size_t got = static_cast<size_t>(n);
    const char* data = scratch_.get();
    if (greeting) {
      const size_t compared = std::min(got, owed);
      if (std::memcmp(opening_.greeting().data() + c.echo_received, data, compared) != 0) {
        SampleOpening(slot, c, kReasonGreetingMismatch, c.echo_received, data, got);
        return FailConnect(slot, c, kReasonGreetingMismatch);
      }
      c.echo_received = static_cast<uint16_t>(c.echo_received + compared);
      if (c.echo_received < expected) continue;
      if (!opening_.has_first()) {
        // The rest of the banner may still be on its way: an idle
        // connection ignores bytes until its first echo round.
        c.flags |= kConnFlagGreetingTail;
        return FinishOpening(slot, c, events | EPOLLIN);
      }
      // Surplus after the greeting in this read is the banner's rest.
      StartFirstRequest(slot, c);
      return;
    }
    if (got > owed || !opening_.first_expect().Matches(id, c.echo_received, data, got)) {
      SampleOpening(slot, c, kReasonEchoMismatch, c.echo_received, data, got);
      return FailConnect(slot, c, kReasonEchoMismatch);
    }
    c.echo_received = static_cast<uint16_t>(c.echo_received + got);
    if (c.echo_received == expected) return FinishOpening(slot, c, peer_done ? events : 0);
    if (got < request && !peer_done && !tls_) return;
  }
}

void ConnectionEngine::FinishOpening(uint32_t slot, Connection& c, uint32_t events) {
  wheel_.Cancel(slot);
  --in_flight_;
  shared_->in_flight.store(in_flight_, std::memory_order_relaxed);
  c.echo_sent = 0;
  c.echo_received = 0;
  Establish(slot, c, events);
}

}  // namespace fourtuple::agent

// ConnectionEngine's TLS: the handshake between TCP established and the
// connection counting as established, and the bytes of echo rounds through
// the connection's SSL object. Without assignment.tls every hook is a no-op
// and the plain path stays as it was.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "agent/worker/connection_engine.h"
#include "common/address.h"
#include "common/failure_reason.h"
#include "common/tls_io.h"

namespace fourtuple::agent {
namespace {

void Bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void CopyText(char* out, size_t capacity, absl::string_view text) {
  const size_t n = std::min(text.size(), capacity - 1);
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

}  // namespace

absl::Status ConnectionEngine::SetUpTls(const v1::WorkerStart& start) {
  tls_.reset();
  tls_by_slot_.reset();
  const v1::Assignment& a = start.assignment();
  if (!a.has_tls()) return absl::OkStatus();
  std::vector<std::string> hosts;
  for (const std::string& target : a.targets()) {
    absl::StatusOr<Endpoint> endpoint = ParseEndpoint(target);
    hosts.push_back(endpoint.ok() ? endpoint->address.ToString() : std::string());
  }
  absl::StatusOr<std::unique_ptr<TlsClient>> client = TlsClient::Create(a.tls(), std::move(hosts));
  if (!client.ok()) return client.status();
  // Unwritten like the table: a slot's pointer is set when it connects.
  tls_by_slot_.reset(new (std::nothrow) SSL*[start.connections()]);
  if (tls_by_slot_ == nullptr && start.connections() > 0) {
    return absl::ResourceExhaustedError(absl::StrCat("no memory for ", start.connections(), " TLS slots"));
  }
  tls_ = *std::move(client);
  return absl::OkStatus();
}

void ConnectionEngine::ResetTlsShared() {
  AgentWorkerShared& s = *shared_;
  s.tls_handshakes.store(0, std::memory_order_relaxed);
  s.tls_resumed.store(0, std::memory_order_relaxed);
  for (auto& bucket : s.tls_handshake.buckets) bucket.store(0, std::memory_order_relaxed);
  s.tls_handshake.count.store(0, std::memory_order_relaxed);
  s.tls_handshake.sum_us.store(0, std::memory_order_relaxed);
  s.tls_handshake.max_us.store(0, std::memory_order_relaxed);
  for (auto& slot : s.tls_negotiated) {
    slot.set.store(0, std::memory_order_relaxed);
    slot.count.store(0, std::memory_order_relaxed);
  }
  for (auto& detail : s.tls_details) detail.set.store(0, std::memory_order_relaxed);
}

void ConnectionEngine::BeginHandshake(uint32_t slot, Connection& c) {
  ConnectionRoute route = RouteOf(first_connection_ + slot, static_cast<uint32_t>(sources_.size()),
                                  static_cast<uint32_t>(targets_.size()));
  SSL* ssl = tls_->Open(c.fd, route.target_index);
  if (ssl == nullptr) return FailConnect(slot, c, ENOMEM);
  tls_by_slot_[slot] = ssl;
  c.state = ConnState::kHandshaking;
  const uint64_t now = NowMicros();
  c.stamp_us = static_cast<uint32_t>(now);
  wheel_.Schedule(slot, DeadlineTick(now, connect_timeout_us_));
  OnHandshakeEvent(slot, c, 0);
}

void ConnectionEngine::OnHandshakeEvent(uint32_t slot, Connection& c, uint32_t /*events*/) {
  SSL* ssl = tls_by_slot_[slot];
  int reason = 0;
  switch (tls_->Handshake(ssl, &reason)) {
    case TlsClient::Step::kWant:
      return;  // the socket's next edge resumes it
    case TlsClient::Step::kFailed:
      RecordTlsDetail(reason);
      return FailConnect(slot, c, reason);
    case TlsClient::Step::kDone:
      break;
  }
  wheel_.Cancel(slot);
  --in_flight_;
  shared_->in_flight.store(in_flight_, std::memory_order_relaxed);
  shared_->tls_handshake.Record(static_cast<uint32_t>(NowMicros()) - c.stamp_us);
  Bump(shared_->tls_handshakes);
  if (TlsClient::Resumed(ssl)) Bump(shared_->tls_resumed);
  RecordNegotiated(ssl);
  // Bytes after the handshake (a session ticket, a stray reply) may already
  // sit in the socket, and their edge was this one: read them now.
  Establish(slot, c, EPOLLIN);
}

void ConnectionEngine::FreeTls(uint32_t slot) {
  if (!tls_ || slot >= connect_cursor_) return;
  SSL*& ssl = tls_by_slot_[slot];
  if (ssl == nullptr) return;
  TlsClient::Free(ssl);
  ssl = nullptr;
}

void ConnectionEngine::RecordTlsDetail(int reason) {
  if (reason < kReasonTlsVerifyFailed || reason >= kReasonTlsVerifyFailed + kTlsDetailSlots) return;
  SharedTlsDetail& detail = shared_->tls_details[reason - kReasonTlsVerifyFailed];
  if (detail.set.load(std::memory_order_relaxed) != 0) return;
  const std::string& text = tls_->Detail(reason);
  if (text.empty()) return;
  CopyText(detail.text, sizeof detail.text, text);
  detail.set.store(1, std::memory_order_release);
}

void ConnectionEngine::RecordNegotiated(const SSL* ssl) {
  const std::string name = TlsClient::Negotiated(ssl);
  for (SharedTlsNegotiated& slot : shared_->tls_negotiated) {
    if (slot.set.load(std::memory_order_relaxed) == 0) {
      CopyText(slot.name, sizeof slot.name, name);
      slot.set.store(1, std::memory_order_release);
    } else if (std::strncmp(slot.name, name.c_str(), sizeof slot.name - 1) != 0) {
      continue;
    }
    Bump(slot.count);
    return;
  }
  // More distinct outcomes than slots: counted in the last one's name.
  Bump(shared_->tls_negotiated[kTlsNegotiatedSlots - 1].count);
}

ssize_t ConnectionEngine::SendBytes(uint32_t slot, const Connection& c, const char* data, size_t size) {
  if (tls_) return TlsWrite(tls_by_slot_[slot], data, size);
  return send(c.fd, data, size, MSG_NOSIGNAL);
}

ssize_t ConnectionEngine::RecvBytes(uint32_t slot, const Connection& c, char* data, size_t size) {
  if (tls_) return TlsRead(tls_by_slot_[slot], data, size);
  return recv(c.fd, data, size, 0);
}

}  // namespace fourtuple::agent

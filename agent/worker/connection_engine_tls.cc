// ConnectionEngine's TLS: the handshake between TCP established and the
// connection counting as established, and the bytes of echo rounds through
// the connection's SSL object. Without assignment.tls every hook is a no-op
// and the plain path stays as it was.
#include <malloc.h>
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
  // Unwritten like the table: a slot's entries are set when it connects.
  tls_by_slot_.reset(new (std::nothrow) SSL*[start.connections()]);
  tls_records_.reset(new (std::nothrow) TlsRecordState[start.connections()]);
  if ((tls_by_slot_ == nullptr || tls_records_ == nullptr) && start.connections() > 0) {
    return absl::ResourceExhaustedError(absl::StrCat("no memory for ", start.connections(), " TLS slots"));
  }
  tls_ = *std::move(client);
  tls_->SetRecordStates(tls_records_.get());
  tls_resume_ = a.tls().resume();
  if (!tls_cipher_) {
    tls_cipher_ = std::make_unique<TlsRecordCipher>();
    tls_out_.reset(new char[kTlsMaxRecordBytes]);
  }
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
  tls_records_[slot] = TlsRecordState{};
  SSL* ssl = tls_->Open(c.fd, slot, sources_.TargetOf(first_connection_ + slot));
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
  shared_->tls_handshake.Record(static_cast<uint32_t>(NowMicros()) - c.stamp_us);
  Bump(shared_->tls_handshakes);
  if (TlsClient::Resumed(ssl)) Bump(shared_->tls_resumed);
  RecordNegotiated(ssl);
  // With resume the session ticket is waited for first (RecvBytes): it comes
  // right after the handshake and must reach OpenSSL's session store.
  if (!tls_resume_) TryDetach(slot);
  // wss://: the upgrade follows, still within the connect.
  if (ws_) return BeginUpgrade(slot, c);
  // Bytes after the handshake (a session ticket, a stray reply) may already
  // sit in the socket, and their edge was this one: read them now.
  EstablishOrOpen(slot, c, EPOLLIN);
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

void ConnectionEngine::OnRampDone() {
  if (tls_) malloc_trim(0);
}

void ConnectionEngine::TryDetach(uint32_t slot) {
  SSL*& ssl = tls_by_slot_[slot];
  TlsRecordState& state = tls_records_[slot];
  // Tickets were opened by OpenSSL with the server's application key; the
  // client has sealed nothing with its own yet.
  if (!Detach(ssl, state.tickets, 0, &state)) return;
  TlsClient::Release(ssl);
  ssl = nullptr;
}

ssize_t ConnectionEngine::SendBytes(uint32_t slot, const Connection& c, const char* data, size_t size) {
  if (!tls_) return send(c.fd, data, size, MSG_NOSIGNAL);
  if (tls_by_slot_[slot] != nullptr) return TlsWrite(tls_by_slot_[slot], data, size);
  // Detached: the whole of `size` as one record (a round's request, at most
  // 4096 bytes). A record the socket takes only in part cannot be finished
  // later (nothing per connection keeps it): the connection is given up.
  TlsRecordState& state = tls_records_[slot];
  const size_t record = tls_cipher_->Seal(state, data, size, tls_out_.get());
  if (record == 0) {
    errno = EPROTO;
    return -1;
  }
  const ssize_t sent = send(c.fd, tls_out_.get(), record, MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(record)) return static_cast<ssize_t>(size);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    --state.write_seq;  // not sent: sealed again, identically, on the next try
    return -1;
  }
  if (sent >= 0) errno = EIO;
  return -1;
}

ssize_t ConnectionEngine::RecvBytes(uint32_t slot, const Connection& c, char* data, size_t size) {
  if (!tls_) return recv(c.fd, data, size, 0);
  SSL* ssl = tls_by_slot_[slot];
  if (ssl != nullptr) {
    const ssize_t n = TlsRead(ssl, data, size);
    // With resume: detach once the ticket is in, before any round was sent.
    if (n < 0 && errno == EAGAIN && tls_records_[slot].tickets > 0 && echo_round_ == 0) {
      TryDetach(slot);
      errno = EAGAIN;
    }
    return n;
  }
  // Detached: a whole record's plaintext. It may exceed `size` (what the
  // caller still expects, plus one): the caller's buffer is the loop's
  // scratch, which holds any record, and a surplus is a mismatch to it.
  const char* plaintext = nullptr;
  const ssize_t n = tls_cipher_->Read(c.fd, tls_records_[slot], &plaintext);
  if (n > 0) std::memcpy(data, plaintext, static_cast<size_t>(n));
  return n;
}

}  // namespace fourtuple::agent

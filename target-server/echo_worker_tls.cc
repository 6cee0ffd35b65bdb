// EchoWorker's TLS: each accepted connection's handshake, then the echo
// through its SSL object. Without --listen-tls-cert none of this runs.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/tls_io.h"
#include "target-server/echo_worker.h"

namespace fourtuple::target_server {

bool EchoWorker::StartTls(int fd) {
  if (static_cast<size_t>(fd) >= tls_record_slots_) {  // past RLIMIT_NOFILE as it was at start
    WorkerCounters::Add(counters_->tls_failed, 1);
    CloseConnection(fd);
    return false;
  }
  tls_records_[fd] = TlsRecordState{};
  SSL* ssl = tls_->Accept(fd);
  if (ssl == nullptr) {
    WorkerCounters::Add(counters_->tls_failed, 1);
    CloseConnection(fd);
    return false;
  }
  tls_by_fd_[fd] = ssl;
  return true;
}

void EchoWorker::FreeTls(int fd) {
  if (!tls_ || static_cast<size_t>(fd) >= tls_record_slots_ || tls_by_fd_[fd] == nullptr) return;
  TlsServer::Free(tls_by_fd_[fd]);
  tls_by_fd_[fd] = nullptr;
}

// Pending bytes are plaintext while the SSL object lives and sealed records
// once detached (a connection detaches before it echoes anything).
ssize_t EchoWorker::WriteBytes(int fd, const char* data, size_t size) {
  if (tls_ && tls_by_fd_[fd] != nullptr) return TlsWrite(tls_by_fd_[fd], data, size);
  return send(fd, data, size, MSG_NOSIGNAL);
}

// A ramp of handshakes leaves OpenSSL's transient buffers and objects freed
// but spread over the heap; once the loop idles, their pages go back.
void EchoWorker::TrimAfterHandshakes() {
  malloc_trim(0);
  tls_handshakes_untrimmed_ = 0;
}

void EchoWorker::EchoDetached(int fd) {
  TlsRecordState& state = tls_records_[fd];
  for (;;) {
    const char* plaintext = nullptr;
    const ssize_t got = tls_cipher_->Read(fd, state, &plaintext);
    if (got > 0 && options_.websocket) {
      WorkerCounters::Add(counters_->bytes_echoed, static_cast<uint64_t>(got));
      if (!ReplyDetached(fd, plaintext, static_cast<size_t>(got))) return;
      continue;
    }
    if (got > 0) {
      const size_t record = tls_cipher_->Seal(state, plaintext, static_cast<size_t>(got), tls_out_.get());
      if (record == 0) {
        CloseConnection(fd);
        return;
      }
      WorkerCounters::Add(counters_->bytes_echoed, static_cast<uint64_t>(got));
      if (!WriteOrPend(fd, tls_out_.get(), record)) return;
      continue;
    }
    if (got < 0 && errno == EAGAIN) return;
    if (got < 0 && errno == EINTR) continue;
    CloseConnection(fd);  // EOF, an alert, a reset, or a record that does not open
    return;
  }
}

void EchoWorker::EchoTls(int fd) {
  SSL* ssl = tls_by_fd_[fd];
  if (ssl == nullptr) return EchoDetached(fd);
  if (!TlsServer::Finished(ssl)) {
    switch (TlsServer::Handshake(ssl)) {
      case TlsServer::Step::kWant: {
        // Usually waiting to read; when the flight did not fit the socket
        // buffer, also for room to write (edge-triggered, so harmless after).
        epoll_event event{};
        event.events = kConnectionEvents | EPOLLOUT;
        event.data.u64 = static_cast<uint32_t>(fd);
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
        return;
      }
      case TlsServer::Step::kFailed:
        WorkerCounters::Add(counters_->tls_failed, 1);
        CloseConnection(fd);
        return;
      case TlsServer::Step::kDone: {
        WorkerCounters::Add(counters_->tls_handshakes, 1);
        ++tls_handshakes_untrimmed_;
        // Keep only the record keys: the tickets were sealed with the
        // application key, nothing was opened with the client's yet.
        TlsRecordState& state = tls_records_[fd];
        if (Detach(ssl, 0, state.tickets, &state)) {
          TlsServer::Free(ssl);
          tls_by_fd_[fd] = nullptr;
          return EchoDetached(fd);
        }
        break;
      }
    }
  }
  char* const scratch = scratch_.get();
  const size_t capacity = ReadCapacity();
  // A TLS record can hold less than asked with more queued behind it: only
  // EAGAIN says the connection is drained.
  for (;;) {
    ssize_t got = TlsRead(ssl, scratch, capacity);
    if (got > 0) {
      WorkerCounters::Add(counters_->bytes_echoed, static_cast<uint64_t>(got));
      if (!Reply(fd, scratch, static_cast<size_t>(got))) return;
      continue;
    }
    if (got < 0 && errno == EAGAIN) return;
    if (got < 0 && errno == EINTR) continue;
    CloseConnection(fd);  // close_notify, EOF, a reset or a TLS error
    return;
  }
}

}  // namespace fourtuple::target_server

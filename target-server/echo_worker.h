// One worker's event loop: accepts from the shared listeners and echoes every
// byte back on the same connection.
//
// Per connection the loop keeps no user state at all: epoll's data is the fd,
// reads go to one scratch buffer per worker, and the only per-connection
// memory is one bit in a bitmap of open fds (so shutdown can close them) —
// plus, only while a write would block, a pooled buffer (buffer_pool.h).
//
// Accepting is shared, not partitioned: every worker adds every listener to
// its epoll set with EPOLLEXCLUSIVE (one worker is woken per arrival, not
// all). A worker at its connection budget, or backing off after EMFILE and
// the like, removes the listeners from its set so the others take the new
// connections, and writes to the shared "kick" eventfd, which every worker
// watches: connections already queued when it stopped get accepted by a
// worker with room instead of waiting for the next arrival to wake one.
// It re-adds them once it has room (or the back-off ends); EPOLL_CTL_ADD
// reports a listener that is already readable, so nothing is missed.
//
// Thread-compatible: one thread (the worker process's only one) owns it.
#ifndef FOURTUPLE_TARGET_SERVER_ECHO_WORKER_H_
#define FOURTUPLE_TARGET_SERVER_ECHO_WORKER_H_

#include <sys/epoll.h>

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/failure_reason.h"
#include "target-server/buffer_pool.h"
#include "target-server/counters.h"
#include "target-server/tls_server.h"

namespace fourtuple::target_server {

struct EchoWorkerOptions {
  // Most connections held at once; at this many the worker stops accepting.
  // Usually FdBudgetPerProcess(RLIMIT_NOFILE soft). Required.
  uint64_t max_connections = 0;
  // Size of the scratch read buffer and of each pooled pending-write buffer.
  // Default 16 KiB.
  size_t buffer_bytes = 16 * 1024;
  // How long to stop accepting after a resource error from accept4 (EMFILE,
  // ENFILE, ENOBUFS, ENOMEM): the connection stays queued, so retrying at
  // once would spin. Default 100ms.
  absl::Duration accept_backoff = absl::Milliseconds(100);
  // Released pending-write buffers kept for reuse. Default 64.
  size_t max_idle_buffers = 64;
  // Terminate TLS on every connection with this context; null: plain TCP.
  // Not owned; one per process (a forked worker uses its copy of the
  // parent's, so every worker issues session tickets the others accept).
  // Default null.
  TlsServer* tls = nullptr;
  // Answer a WebSocket upgrade on every connection and echo its data frames
  // (echo_worker_ws.cc). Default false: echo raw bytes.
  bool websocket = false;
};

class EchoWorker {
 public:
  // `listener_fds`: listening sockets shared with the other workers (not
  // owned; must stay open while the worker runs). `kick_fd`: an eventfd shared
  // by all workers of one server, or -1 (not owned). `counters`: this worker's
  // block; must outlive the worker.
  static absl::StatusOr<std::unique_ptr<EchoWorker>> Create(const std::vector<int>& listener_fds, int kick_fd,
                                                            WorkerCounters* counters,
                                                            const EchoWorkerOptions& options);
  ~EchoWorker();  // CloseAll(), then closes the epoll fd.
  EchoWorker(const EchoWorker&) = delete;
  EchoWorker& operator=(const EchoWorker&) = delete;

  // Run() returns once `fd` is readable (a signalfd, or the control socket to
  // the parent, which reads EOF when the parent is gone). Not owned.
  absl::Status AddStopFd(int fd);

  // Takes ownership of a connected nonblocking socket, as if accepted (tests
  // drive the loop over socketpairs this way). Does not check the budget.
  absl::Status AddConnection(int fd);

  // Handles events until a stop fd is readable.
  absl::Status Run();
  // Waits up to `timeout` for one batch of events and handles it.
  absl::Status RunOnce(absl::Duration timeout);
  bool stop_requested() const { return stop_requested_; }

  // Stops accepting (without kicking: the whole server is stopping) and
  // closes every connection, counting each as closed.
  void CloseAll();

  uint64_t open() const { return open_; }
  bool accepting() const { return accepting_; }
  size_t pending_writes() const { return pool_.in_use(); }

 private:
  // epoll data: a connection's fd alone (the hot path), or a tag in the
  // high half for the few other fds.
  static constexpr uint64_t kTagListener = uint64_t{1} << 32;  // | listener index
  static constexpr uint64_t kTagKick = uint64_t{2} << 32;
  static constexpr uint64_t kTagStop = uint64_t{3} << 32;
  static constexpr uint32_t kConnectionEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;
  static constexpr int kMaxEvents = 256;

  EchoWorker(const std::vector<int>& listener_fds, int kick_fd, WorkerCounters* counters,
             const EchoWorkerOptions& options);

  void HandleEvent(const epoll_event& event);
  void AcceptFrom(int listener_fd);
  bool OnAcceptError(int error);  // true: keep accepting
  void Echo(int fd, bool read_until_eagain);
  // TLS (echo_worker_tls.cc): the same echo through the connection's SSL
  // object, after its handshake.
  void EchoTls(int fd);
  void EchoDetached(int fd);
  void TrimAfterHandshakes();
  bool StartTls(int fd);  // false: the connection was closed
  void FreeTls(int fd);
  ssize_t WriteBytes(int fd, const char* data, size_t size);
  // WebSocket (echo_worker_ws.cc): what goes back for received bytes (the
  // 101, echoed frames, pongs, the close), written plainly or through the
  // SSL object (Reply), or sealed for a detached TLS connection
  // (ReplyDetached). False when the caller must stop reading.
  void EchoWs(int fd, bool read_until_eagain);
  bool Reply(int fd, const char* data, size_t size);
  bool ReplyDetached(int fd, const char* data, size_t size);
  // Turns received bytes into the reply in ws_out_; its size. *close: the
  // connection ends once the reply is out.
  size_t WsProcess(int fd, const char* data, size_t size, bool* close);
  size_t WsUpgrade(int fd, absl::string_view head, char* out, bool* close);
  void ForgetWs(int fd);
  bool IsOpen(int fd) const {
    const size_t word = static_cast<size_t>(fd) / 64;
    return word < open_fds_.size() && (open_fds_[word] >> (fd % 64)) & 1;
  }
  size_t ReadCapacity() const;
  // Writes `size` bytes (through the SSL object while the connection has
  // one); what the socket does not take waits in a pooled buffer. True when
  // everything went out and the caller may read on.
  bool WriteOrPend(int fd, const char* data, size_t size);
  void StartPending(int fd, const char* data, size_t length);
  bool FlushPending(int fd);  // true: everything written, the connection still open
  void CloseConnection(int fd);
  void TrackOpen(int fd);
  void PauseAccepting(bool kick_others);
  void ResumeAccepting();
  void MaybeResumeAccepting();
  PendingWrite* pending(int fd) const {
    return static_cast<size_t>(fd) < pending_.size() ? pending_[fd] : nullptr;
  }

  // Constant after construction.
  const std::vector<int> listener_fds_;
  const int kick_fd_;
  WorkerCounters* const counters_;
  const EchoWorkerOptions options_;
  int epoll_fd_ = -1;

  // Owned by the loop.
  uint64_t open_ = 0;
  bool accepting_ = false;
  bool stop_requested_ = false;
  int64_t backoff_until_ns_ = 0;  // CLOCK_MONOTONIC; 0 = not backing off
  std::unique_ptr<char[]> scratch_;
  BufferPool pool_;
  std::vector<PendingWrite*> pending_;  // by fd; grown only when a write blocks
  std::vector<uint64_t> open_fds_;      // bitmap by fd, for CloseAll
  std::bitset<kReasonSlots> logged_reasons_;
  // With TLS: the worker's context and each connection's SSL object by fd
  // (8 bytes per possible fd, whatever the connection count).
  TlsServer* tls_ = nullptr;               // options_.tls
  uint64_t tls_handshakes_untrimmed_ = 0;  // since the heap was last trimmed
  std::vector<SSL*> tls_by_fd_;            // null once detached
  // By fd too (120 bytes each, left unwritten until an fd is used): a
  // detached connection's record keys (common/tls_record.h), all that a held
  // TLS connection keeps once its handshake is done.
  std::unique_ptr<TlsRecordState[]> tls_records_;
  size_t tls_record_slots_ = 0;
  std::unique_ptr<TlsRecordCipher> tls_cipher_;
  std::unique_ptr<char[]> tls_out_;  // one sealed record
  // WebSocket: one bit per fd once upgraded (as cheap as open_fds_) and,
  // only for connections with a request head, frame header or control frame
  // split over reads or a data frame's payload still arriving, that state.
  struct WsPartial {
    std::string bytes;       // unparsed bytes so far
    uint64_t remaining = 0;  // payload bytes of the current data frame still to come
    uint64_t offset = 0;     // payload bytes of it seen (the mask's phase)
    uint32_t mask = 0;
  };
  std::vector<uint64_t> ws_upgraded_;
  std::unordered_map<int, WsPartial> ws_partial_;
  std::unique_ptr<char[]> ws_out_;
  epoll_event events_[kMaxEvents];
};

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_ECHO_WORKER_H_

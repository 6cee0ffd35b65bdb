// For tests only: a small epoll echo server on 127.0.0.1 in a thread of the
// test process, with switchable misbehaviour (hold replies, corrupt them,
// close connections) so the connection engine's failure paths can be driven
// with real sockets. Header-only so it stays out of agent_lib.
//
// Thread-safety: the public methods may be called from any thread; the
// server's sockets are touched only by its own thread.
#ifndef FOURTUPLE_TESTS_SUPPORT_TEST_ECHO_SERVER_H_
#define FOURTUPLE_TESTS_SUPPORT_TEST_ECHO_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fourtuple::agent::testing {

class TestEchoServer {
 public:
  enum class Mode {
    kEcho,           // echo every byte
    kHold,           // keep what arrives; Release() sends it all and goes back to kEcho
    kCorrupt,        // echo with the first byte of each read flipped
    kCloseOnData,    // close a connection when bytes arrive
    kCloseOnAccept,  // close each connection as soon as it is accepted
    kReply,          // not an echo server: a fixed reply per fixed-size request (SetReply)
  };

  // Listens on 127.0.0.1:0, one listener per `ports`.
  explicit TestEchoServer(int ports = 1) {
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    Watch(event_fd_, kWake);
    for (int i = 0; i < ports; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      listen(fd, 4096);
      socklen_t length = sizeof addr;
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
      ports_.push_back(ntohs(addr.sin_port));
      listeners_.push_back(fd);
      Watch(fd, kListenerBase + static_cast<uint64_t>(fd));
    }
    thread_ = std::thread([this] { Loop(); });
  }

  ~TestEchoServer() {
    stop_.store(true);
    Wake();
    thread_.join();
    for (auto& [fd, held] : connections_) close(fd);
    for (int fd : listeners_) close(fd);
    close(epoll_fd_);
    close(event_fd_);
  }

  std::string endpoint(int i = 0) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  uint64_t open() const { return open_.load(); }
  uint64_t accepted() const { return accepted_.load(); }

  void SetMode(Mode mode) {
    mode_.store(mode);
    Wake();
  }
  // kReply: answers every `request` received on a connection with `reply`,
  // of which only the first `hold_from` bytes go out at once; the rest is
  // held until Release() (which then ends the split). Bytes that are not the
  // request close the connection.
  void SetReply(std::string request, std::string reply, size_t hold_from = std::string::npos) {
    {
      std::lock_guard<std::mutex> lock(reply_mutex_);
      request_ = std::move(request);
      reply_ = std::move(reply);
      hold_from_ = hold_from;
    }
    SetMode(Mode::kReply);
  }
  // Sends everything held back (kHold: echoes from then on; kReply: replies
  // whole from then on).
  void Release() {
    release_.store(true);
    Wake();
  }
  // Closes every accepted connection: with a FIN, or an RST when `reset`.
  void CloseConnections(bool reset) {
    close_all_.store(reset ? 2 : 1);
    Wake();
  }

 private:
  static constexpr uint64_t kWake = UINT64_MAX;
  static constexpr uint64_t kListenerBase = uint64_t{1} << 40;  // + listener fd

  void Watch(int fd, uint64_t tag) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = tag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(event_fd_, &one, sizeof one);
    (void)ignored;
  }

  static void WriteAll(int fd, const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
      if (n > 0) {
        data += n;
        size -= static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        std::this_thread::yield();
      } else {
        return;
      }
    }
  }

  void CloseConnection(int fd, bool reset) {
    if (reset) {
      linger abort{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    close(fd);
    connections_.erase(fd);
    request_progress_.erase(fd);
    open_.fetch_sub(1);
  }

  void Loop() {
    std::vector<epoll_event> events(256);
    std::vector<char> buffer(65536);
    while (!stop_.load()) {
      int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (tag == kWake) {
          uint64_t value;
          ssize_t ignored = read(event_fd_, &value, sizeof value);
          (void)ignored;
          continue;
        }
        if (tag >= kListenerBase) {
          int listener = static_cast<int>(tag - kListenerBase);
          for (;;) {
            int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            accepted_.fetch_add(1);
            if (mode_.load() == Mode::kCloseOnAccept) {
              close(fd);
              continue;
            }
            open_.fetch_add(1);
            connections_[fd];
            Watch(fd, static_cast<uint64_t>(fd));
          }
          continue;
        }
        int fd = static_cast<int>(tag);
        if (connections_.count(fd) == 0) continue;
        ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          CloseConnection(fd, false);
          continue;
        }
        if (got < 0) continue;
        switch (mode_.load()) {
          case Mode::kEcho:
          case Mode::kCloseOnAccept:
            WriteAll(fd, buffer.data(), static_cast<size_t>(got));
            break;
          case Mode::kHold:
            connections_[fd].append(buffer.data(), static_cast<size_t>(got));
            break;
          case Mode::kCorrupt:
            buffer[0] ^= 0x5a;
            WriteAll(fd, buffer.data(), static_cast<size_t>(got));
            break;
          case Mode::kCloseOnData:
            CloseConnection(fd, false);
            break;
          case Mode::kReply:
            Reply(fd, buffer.data(), static_cast<size_t>(got));
            break;
        }
      }
      if (release_.exchange(false)) {
        if (mode_.load() == Mode::kReply) {
          std::lock_guard<std::mutex> lock(reply_mutex_);
          hold_from_ = std::string::npos;
        } else {
          mode_.store(Mode::kEcho);
        }
        for (auto& [fd, held] : connections_) {
          WriteAll(fd, held.data(), held.size());
          held.clear();
        }
      }
      if (int how = close_all_.exchange(0); how != 0) {
        std::vector<int> fds;
        for (auto& [fd, held] : connections_) fds.push_back(fd);
        for (int fd : fds) CloseConnection(fd, how == 2);
      }
    }
  }

  void Reply(int fd, const char* data, size_t got) {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    std::string& pending = request_progress_[fd];
    pending.append(data, got);
    while (!request_.empty() && pending.size() >= request_.size()) {
      if (pending.compare(0, request_.size(), request_) != 0) {
        CloseConnection(fd, false);
        return;
      }
      pending.erase(0, request_.size());
      size_t now = std::min(hold_from_, reply_.size());
      WriteAll(fd, reply_.data(), now);
      connections_[fd].append(reply_, now, std::string::npos);
    }
  }

  int event_fd_ = -1;
  int epoll_fd_ = -1;
  std::vector<int> listeners_;
  std::vector<uint16_t> ports_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kEcho};
  std::atomic<bool> release_{false};
  std::atomic<int> close_all_{0};
  std::atomic<uint64_t> open_{0};
  std::atomic<uint64_t> accepted_{0};
  std::map<int, std::string> connections_;       // fd -> held bytes; server thread only
  std::map<int, std::string> request_progress_;  // kReply: fd -> request bytes not yet answered
  std::mutex reply_mutex_;                       // guards the kReply settings
  std::string request_;
  std::string reply_;
  size_t hold_from_ = std::string::npos;
};

}  // namespace fourtuple::agent::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_TEST_ECHO_SERVER_H_

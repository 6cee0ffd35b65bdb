#include "common/metrics_http.h"

#include <civetweb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace fourtuple {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kThreads[] = "32";

void InitCivetwebOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

// civetweb prints its own errors to stderr unless told otherwise; Start()
// returns them as a Status instead.
int QuietLog(const ::mg_connection* /*connection*/, const char* /*message*/) { return 1; }

// Opens and at once closes a connection to `listening`, without waiting.
// (On Linux 0.0.0.0 and :: reach the local host.)
void Poke(const Endpoint& listening) {
  sockaddr_storage address;
  const socklen_t length = listening.ToSockaddr(&address);
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
  close(fd);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const Endpoint& listen,
                                                                            Render render) {
  InitCivetwebOnce();
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(std::move(render)));
  const std::string listening_ports = listen.ToString();  // "1.2.3.4:0", "[::1]:0"
  // No document_root: civetweb serves no files, so only our handler answers.
  const char* options[] = {
      "listening_ports",
      listening_ports.c_str(),
      // civetweb serves one connection per thread from start to end, reading
      // included: a client that trickles its request holds a thread until
      // request_timeout_ms. Enough threads that a few such clients leave
      // room for scrapes, bounded so the process stays cheap.
      "num_threads",
      kThreads,
      // A scrape's request arrives in one packet; two seconds is generous.
      "request_timeout_ms",
      "2000",
      // An idle kept-alive connection would hold a thread as well.
      "enable_keep_alive",
      "no",
      nullptr,
  };
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = QuietLog;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listening_ports, ": ",
        error_text[0] != '\0' ? error_text : "civetweb did not start (address in use or not local?)"));
  }
  mg_set_request_handler(server->context_, "/metrics", &MetricsHttpServer::HandleMetrics, server.get());

  mg_server_port ports[1];
  if (mg_get_server_ports(server->context_, 1, ports) != 1 || ports[0].port <= 0) {
    return absl::InternalError(absl::StrCat("civetweb on ", listening_ports, " reports no bound port"));
  }
  server->bound_ = listen;
  server->bound_.port = static_cast<uint16_t>(ports[0].port);
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (context_ == nullptr) return;
  // mg_stop raises civetweb's stop flag and waits for its listener thread,
  // which sees the flag only when its poll() returns: when a connection
  // arrives, or else after a quantum compiled into the library (2 s in
  // Debian's 1.15), which would hold up every --metrics process's exit.
  // Connecting while mg_stop waits wakes the poll at once; connections that
  // arrive before the flag are closed by the worker that reads their EOF.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(context_);
    stopped.store(true);
  });
  while (!stopped.load()) {
    Poke(bound_);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stopper.join();
}

int MetricsHttpServer::HandleMetrics(::mg_connection* connection, void* self) {
  const mg_request_info* request = mg_get_request_info(connection);
  // civetweb matches handlers by prefix: /metrics/x and /metricsx land here.
  if (request->local_uri == nullptr || absl::string_view(request->local_uri) != "/metrics") {
    mg_send_http_error(connection, 404, "Not found: the only path is /metrics\n");
    return 404;
  }
  const absl::string_view method = request->request_method;
  if (method != "GET" && method != "HEAD") {
    mg_send_http_error(connection, 405, "Method not allowed: /metrics answers GET and HEAD\n");
    return 405;
  }
  const std::string body = static_cast<MetricsHttpServer*>(self)->render_();
  mg_send_http_ok(connection, kContentType, static_cast<long long>(body.size()));
  if (method == "GET") mg_write(connection, body.data(), body.size());
  return 200;
}

}  // namespace fourtuple

// A tiny HTTP server for Prometheus scrapes: GET /metrics answers with the
// body a callback renders (text/plain; version=0.0.4); every other path is
// 404, every other method 405. Built on civetweb (Debian's libcivetweb) so
// no HTTP parsing of our own.
//
// It runs 32 civetweb worker threads plus civetweb's listener thread. Each
// serves one connection at a time, and a client that sends slowly holds one
// for at most 2 s (the request timeout; no keep-alive): ten such clients
// still leave room for scrapes, and the process stays cheap. Start
// it in the process that aggregates (target-server's parent, the agent's
// gRPC front), after any fork(): fork copies only the calling thread.
//
// Thread-safety: Start/destruction from one thread. `render` is called from
// civetweb's threads, possibly many at once: it must be thread-safe and must
// outlive the server.
#ifndef FOURTUPLE_COMMON_METRICS_HTTP_H_
#define FOURTUPLE_COMMON_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/address.h"

struct mg_context;
struct mg_connection;

namespace fourtuple {

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on `listen` (port 0 picks a free port; see bound()). Errors say
  // why ("cannot listen on 127.0.0.1:80: ..."); callers prefix the flag.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const Endpoint& listen, Render render);

  // Stops accepting and waits for requests in progress: milliseconds, not
  // civetweb's poll quantum (see the .cc).
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The address actually listened on (the real port when 0 was asked for).
  const Endpoint& bound() const { return bound_; }

 private:
  explicit MetricsHttpServer(Render render) : render_(std::move(render)) {}
  static int HandleMetrics(::mg_connection* connection, void* self);

  // Constant after Start().
  const Render render_;
  Endpoint bound_;
  mg_context* context_ = nullptr;
};

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_METRICS_HTTP_H_

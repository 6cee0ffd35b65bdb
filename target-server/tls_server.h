// The server side of TLS for target-server (--listen-tls-cert/--listen-tls-key):
// one SSL_CTX per worker process, one SSL object per accepted connection,
// handshakes driven non-blocking by the worker's epoll loop.
//
// A held connection keeps its SSL object and nothing else: buffers are
// released whenever empty (SSL_MODE_RELEASE_BUFFERS), there is no
// server-side session cache, and one stateless session ticket is issued per
// handshake, so clients that resume cost no server memory.
//
// Thread-compatible: one worker loop owns it.
#ifndef FOURTUPLE_TARGET_SERVER_TLS_SERVER_H_
#define FOURTUPLE_TARGET_SERVER_TLS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls_record.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace fourtuple::target_server {

// Checks that `cert_pem` holds a certificate (then its chain) and `key_pem`
// its private key; errors say which part is wrong, never the key's bytes.
absl::Status CheckServerCertificate(absl::string_view cert_pem, absl::string_view key_pem);

class TlsServer {
 public:
  static absl::StatusOr<std::unique_ptr<TlsServer>> Create(absl::string_view cert_pem,
                                                           absl::string_view key_pem);
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  // Where each connection's traffic secrets go, by fd; must outlive the
  // SSL objects.
  void SetRecordStates(TlsRecordState* states) { states_ = states; }
  // A server session over the accepted socket `fd`; null when out of memory.
  SSL* Accept(int fd);
  static void Free(SSL* ssl);

  enum class Step { kDone, kWant, kFailed };
  static Step Handshake(SSL* ssl);
  static bool Finished(const SSL* ssl);

 private:
  explicit TlsServer(SSL_CTX* ctx) : ctx_(ctx) {}
  static TlsRecordState* StateOf(const SSL* ssl);
  SSL_CTX* const ctx_;
  TlsRecordState* states_ = nullptr;
};

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_TLS_SERVER_H_

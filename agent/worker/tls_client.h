// The client side of TLS on an agent worker's connections: one SSL_CTX per
// worker, built from the assignment's TlsClientSettings, and one SSL object
// per connection from TCP established to close, driven non-blocking by the
// engine's epoll loop (tls_connections.h keeps the SSL objects).
//
// What a held connection costs is kept small: read and write buffers are
// released whenever they are empty (SSL_MODE_RELEASE_BUFFERS), the session
// cache is off unless `resume` asks for tickets, and with `resume` the worker
// keeps one session per target endpoint (the newest ticket), not one per
// connection.
//
// Thread-compatible: one worker loop owns it.
#ifndef FOURTUPLE_AGENT_WORKER_TLS_CLIENT_H_
#define FOURTUPLE_AGENT_WORKER_TLS_CLIENT_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls_record.h"
#include "proto/fourtuple.pb.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_session_st SSL_SESSION;

namespace fourtuple::agent {

// Checks settings as untrusted input (versions, ALPN, name, PEM contents);
// errors name the field ("assignment.tls.ca_pem: ...").
absl::Status ValidateTlsClientSettings(const v1::TlsClientSettings& settings);

class TlsClient {
 public:
  // `target_hosts`: the host part of each target endpoint, by target index
  // (the server name to send and check when settings.server_name is empty).
  static absl::StatusOr<std::unique_ptr<TlsClient>> Create(const v1::TlsClientSettings& settings,
                                                           std::vector<std::string> target_hosts);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Where each connection's traffic secrets go, by slot (the engine's side
  // table); must outlive the client's SSL objects.
  void SetRecordStates(TlsRecordState* states) { states_ = states; }
  // A client session for connection `slot` over the connected socket `fd` to
  // target `target_index`; null when OpenSSL is out of memory.
  SSL* Open(int fd, uint32_t slot, uint32_t target_index);
  // Frees a session (the socket is the caller's).
  static void Free(SSL* ssl);
  // Frees a session whose handshake finished, keeping its ticket resumable.
  static void Release(SSL* ssl);

  enum class Step { kDone, kWant, kFailed };
  // One turn of the handshake. kFailed sets *reason (a failure_reason.h code)
  // and remembers what happened for Detail(reason).
  Step Handshake(SSL* ssl, int* reason);

  static bool Resumed(const SSL* ssl);
  // "TLSv1.3 TLS_AES_128_GCM_SHA256 h2": version, cipher and ALPN.
  static std::string Negotiated(const SSL* ssl);
  // What the first failure of `reason` said ("unable to get local issuer
  // certificate", "alert handshake failure"); empty when none yet.
  const std::string& Detail(int reason) const;

 private:
  TlsClient() = default;
  void Remember(int reason, std::string detail);
  static int NewSession(SSL* ssl, SSL_SESSION* session);
  static void KeyLog(const SSL* ssl, const char* line);
  static void Message(int write_p, int version, int content_type, const void* buf, size_t length, SSL* ssl,
                      void* arg);

  SSL_CTX* ctx_ = nullptr;
  bool verify_ = false;
  bool resume_ = false;
  std::string server_name_;
  std::vector<std::string> target_hosts_;
  std::vector<SSL_SESSION*> sessions_;  // by target index, with resume
  TlsRecordState* states_ = nullptr;
  std::string verify_detail_, handshake_detail_, not_tls_detail_;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_TLS_CLIENT_H_

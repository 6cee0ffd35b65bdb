#include "target-server/tls_server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"

namespace fourtuple::target_server {
namespace {

int ServerIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Loads the leaf, its chain and the key into `ctx`; the error names the part.
absl::Status UseCertificate(SSL_CTX* ctx, absl::string_view cert_pem, absl::string_view key_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* leaf = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  bool ok = leaf != nullptr && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {
    X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) X509_free(extra);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!ok) return absl::InvalidArgumentError("--listen-tls-cert: no PEM certificate in it");
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = key_bio != nullptr ? PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(key_bio);
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("--listen-tls-key: no PEM private key (unencrypted) in it");
  }
  ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!ok) return absl::InvalidArgumentError("--listen-tls-key: not the key of --listen-tls-cert");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckServerCertificate(absl::string_view cert_pem, absl::string_view key_pem) {
  return TlsServer::Create(cert_pem, key_pem).status();
}

absl::StatusOr<std::unique_ptr<TlsServer>> TlsServer::Create(absl::string_view cert_pem,
                                                             absl::string_view key_pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new failed");
  std::unique_ptr<TlsServer> server(new TlsServer(ctx));
  if (absl::Status s = UseCertificate(ctx, cert_pem, key_pem); !s.ok()) return s;
  SSL_CTX_set_mode(
      ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Stateless tickets only: nothing is cached here per client.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  // The traffic secrets and the tickets sent: what a detach needs.
  SSL_CTX_set_ex_data(ctx, ServerIndex(), server.get());
  SSL_CTX_set_keylog_callback(ctx, [](const SSL* ssl, const char* line) {
    if (TlsRecordState* state = StateOf(ssl)) CaptureSecret(line, /*is_client=*/false, state);
  });
  SSL_CTX_set_msg_callback(ctx,
                           [](int, int, int content_type, const void* buf, size_t length, SSL* ssl, void*) {
                             if (TlsRecordState* state = StateOf(ssl))
                               CountTicket(content_type, buf, length, state);
                           });
  // Every ALPN offer is fine for an echo server: take the client's first.
  SSL_CTX_set_alpn_select_cb(
      ctx,
      [](SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
         unsigned in_length, void*) -> int {
        if (in_length == 0 || in[0] == 0 || in[0] + 1u > in_length) return SSL_TLSEXT_ERR_NOACK;
        *out = in + 1;
        *out_length = in[0];
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
  return server;
}

TlsServer::~TlsServer() { SSL_CTX_free(ctx_); }

TlsRecordState* TlsServer::StateOf(const SSL* ssl) {
  auto* server = static_cast<TlsServer*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ServerIndex()));
  const int fd = SSL_get_fd(ssl);
  if (server == nullptr || server->states_ == nullptr || fd < 0) return nullptr;
  return &server->states_[fd];
}

SSL* TlsServer::Accept(int fd) {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

void TlsServer::Free(SSL* ssl) { SSL_free(ssl); }

TlsServer::Step TlsServer::Handshake(SSL* ssl) {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl);
  if (result == 1) return Step::kDone;
  const int error = SSL_get_error(ssl, result);
  ERR_clear_error();
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Step::kWant;
  return Step::kFailed;
}

bool TlsServer::Finished(const SSL* ssl) { return SSL_is_init_finished(ssl) == 1; }

}  // namespace fourtuple::target_server

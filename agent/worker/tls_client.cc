#include "agent/worker/tls_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/failure_reason.h"
#include "common/tls_pem.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {
namespace {

// The ex_data slot that takes a callback back to its TlsClient, and the one
// of an SSL object's target index (its app data is the connection's slot).
int ClientIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int TargetIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool KnownVersion(uint32_t version) {
  return version == 0 || version == kTlsVersion12 || version == kTlsVersion13;
}

// OpenSSL's queued error as text ("certificate verify failed"), cleared.
std::string TakeError() {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : (code == 0 ? "" : absl::StrCat("error ", code));
  ERR_clear_error();
  return text;
}

// Library reasons that mean the bytes that came back were no TLS record from
// a TLS server: a plain server answering (or echoing our ClientHello).
bool LooksLikePlainServer(unsigned long code) {
  if (ERR_GET_LIB(code) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(code)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_UNKNOWN_PROTOCOL:
      return true;
    default:
      return false;
  }
}

absl::Status CheckPem(absl::string_view pem, absl::string_view field, bool is_key) {
  if (pem.size() > kMaxTlsPemBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment.tls.", field, ": at most ", kMaxTlsPemBytes, " bytes"));
  }
  const bool ok = PemHolds(pem, is_key ? PemKind::kPrivateKey : PemKind::kCertificate);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment.tls.", field, ": not a PEM ", is_key ? "private key" : "certificate"));
  }
  return absl::OkStatus();
}

// ALPN in wire form: each protocol prefixed with its length.
std::string AlpnWire(const v1::TlsClientSettings& settings) {
  std::string wire;
  for (const std::string& protocol : settings.alpn()) {
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

// Loads every certificate of a PEM bundle into `store`; false when none.
bool LoadCertificates(X509_STORE* store, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return false;
  int loaded = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++loaded;
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the bundle reads as an error
  return loaded > 0;
}

}  // namespace

absl::Status ValidateTlsClientSettings(const v1::TlsClientSettings& settings) {
  if (!KnownVersion(settings.min_version()) || !KnownVersion(settings.max_version())) {
    return absl::InvalidArgumentError(
        "assignment.tls: min_version and max_version must be 0, 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3)");
  }
  if (settings.min_version() != 0 && settings.max_version() != 0 &&
      settings.min_version() > settings.max_version()) {
    return absl::InvalidArgumentError("assignment.tls: min_version is above max_version");
  }
  if (settings.alpn_size() > kMaxAlpnProtocols) {
    return absl::InvalidArgumentError(absl::StrCat("assignment.tls.alpn: at most ", kMaxAlpnProtocols));
  }
  for (int i = 0; i < settings.alpn_size(); ++i) {
    if (settings.alpn(i).empty() || settings.alpn(i).size() > kMaxAlpnProtocolBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("assignment.tls.alpn[", i, "]: 1..", kMaxAlpnProtocolBytes, " bytes"));
    }
  }
  if (settings.server_name().size() > kMaxServerNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment.tls.server_name: at most ", kMaxServerNameBytes, " bytes"));
  }
  if (!settings.ca_pem().empty()) {
    if (absl::Status s = CheckPem(settings.ca_pem(), "ca_pem", false); !s.ok()) return s;
  }
  if (settings.client_cert_pem().empty() != settings.client_key_pem().empty()) {
    return absl::InvalidArgumentError("assignment.tls: client_cert_pem and client_key_pem go together");
  }
  if (!settings.client_cert_pem().empty()) {
    if (absl::Status s = CheckPem(settings.client_cert_pem(), "client_cert_pem", false); !s.ok()) return s;
    if (absl::Status s = CheckPem(settings.client_key_pem(), "client_key_pem", true); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsClient>> TlsClient::Create(const v1::TlsClientSettings& settings,
                                                             std::vector<std::string> target_hosts) {
  if (absl::Status s = ValidateTlsClientSettings(settings); !s.ok()) return s;
  std::unique_ptr<TlsClient> client(new TlsClient());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new: " + TakeError());
  client->ctx_ = ctx;
  client->verify_ = settings.verify();
  client->resume_ = settings.resume();
  client->server_name_ = settings.server_name();
  client->target_hosts_ = std::move(target_hosts);
  client->sessions_.assign(client->target_hosts_.size(), nullptr);

  // Buffers only while bytes are in them: an idle connection holds none.
  SSL_CTX_set_mode(
      ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (settings.min_version() != 0)
    SSL_CTX_set_min_proto_version(ctx, static_cast<int>(settings.min_version()));
  if (settings.max_version() != 0)
    SSL_CTX_set_max_proto_version(ctx, static_cast<int>(settings.max_version()));
  if (settings.alpn_size() > 0) {
    const std::string wire = AlpnWire(settings);
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0) {
      return absl::InvalidArgumentError("assignment.tls.alpn: " + TakeError());
    }
  }
  if (settings.verify()) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool loaded = settings.ca_pem().empty()
                            ? SSL_CTX_set_default_verify_paths(ctx) == 1
                            : LoadCertificates(SSL_CTX_get_cert_store(ctx), settings.ca_pem());
    if (!loaded) return absl::InvalidArgumentError("assignment.tls.ca_pem: no certificate could be loaded");
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!settings.client_cert_pem().empty()) {
    BIO* bio = BIO_new_mem_buf(settings.client_cert_pem().data(),
                               static_cast<int>(settings.client_cert_pem().size()));
    X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
    bool ok = cert != nullptr && SSL_CTX_use_certificate(ctx, cert) == 1;
    // Intermediates after the leaf go into the chain sent.
    while (ok) {
      X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      if (extra == nullptr) break;
      if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) X509_free(extra);
    }
    X509_free(cert);
    BIO_free(bio);
    BIO* key_bio =
        BIO_new_mem_buf(settings.client_key_pem().data(), static_cast<int>(settings.client_key_pem().size()));
    EVP_PKEY* key =
        key_bio != nullptr ? PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr) : nullptr;
    ok = ok && key != nullptr && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    BIO_free(key_bio);
    ERR_clear_error();
    if (!ok) {
      // Never the key's bytes: only that it does not fit.
      return absl::InvalidArgumentError(
          "assignment.tls: client_cert_pem and client_key_pem do not form a certificate and its key");
    }
  }
  SSL_CTX_set_ex_data(ctx, ClientIndex(), client.get());
  // The traffic secrets and the tickets that went by: what a detach needs.
  SSL_CTX_set_keylog_callback(ctx, &TlsClient::KeyLog);
  SSL_CTX_set_msg_callback(ctx, &TlsClient::Message);
  if (settings.resume()) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &TlsClient::NewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  return client;
}

TlsClient::~TlsClient() {
  for (SSL_SESSION* session : sessions_) SSL_SESSION_free(session);
  SSL_CTX_free(ctx_);
}

// With resume: each new ticket replaces its target's stored session.
int TlsClient::NewSession(SSL* ssl, SSL_SESSION* session) {
  auto* client = static_cast<TlsClient*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ClientIndex()));
  const uintptr_t target = reinterpret_cast<uintptr_t>(SSL_get_ex_data(ssl, TargetIndex()));
  if (client == nullptr || target >= client->sessions_.size()) return 0;
  SSL_SESSION_free(client->sessions_[target]);
  client->sessions_[target] = session;
  return 1;  // we keep the reference
}

void TlsClient::KeyLog(const SSL* ssl, const char* line) {
  auto* client = static_cast<TlsClient*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ClientIndex()));
  if (client == nullptr || client->states_ == nullptr) return;
  const uintptr_t slot = reinterpret_cast<uintptr_t>(SSL_get_app_data(ssl));
  CaptureSecret(line, /*is_client=*/true, &client->states_[slot]);
}

void TlsClient::Message(int /*write_p*/, int /*version*/, int content_type, const void* buf, size_t length,
                        SSL* ssl, void* /*arg*/) {
  auto* client = static_cast<TlsClient*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ClientIndex()));
  if (client == nullptr || client->states_ == nullptr) return;
  const uintptr_t slot = reinterpret_cast<uintptr_t>(SSL_get_app_data(ssl));
  CountTicket(content_type, buf, length, &client->states_[slot]);
}

SSL* TlsClient::Open(int fd, uint32_t slot, uint32_t target_index) {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_app_data(ssl, reinterpret_cast<void*>(uintptr_t{slot}));
  SSL_set_ex_data(ssl, TargetIndex(), reinterpret_cast<void*>(uintptr_t{target_index}));
  const std::string& name = !server_name_.empty() ? server_name_ : target_hosts_[target_index];
  // SNI carries names only (RFC 6066); an address is checked against the
  // certificate's IP subjectAltName instead.
  const bool is_address = ParseIpAddress(name).ok();
  if (!is_address) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_address) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    }
  }
  if (resume_ && target_index < sessions_.size() && sessions_[target_index] != nullptr) {
    SSL_set_session(ssl, sessions_[target_index]);
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

void TlsClient::Free(SSL* ssl) { SSL_free(ssl); }

void TlsClient::Release(SSL* ssl) {
  // As after a clean shutdown: SSL_free would otherwise mark the session
  // (the one a ticket made, kept for resume) as not resumable.
  SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl);
}

TlsClient::Step TlsClient::Handshake(SSL* ssl, int* reason) {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl);
  if (result == 1) return Step::kDone;
  const int error = SSL_get_error(ssl, result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Step::kWant;
  if (error == SSL_ERROR_SYSCALL) {
    const int saved = errno;
    ERR_clear_error();
    if (result < 0 && saved != 0) {
      *reason = saved;  // ECONNRESET and the like: the kernel's name says it
      return Step::kFailed;
    }
    *reason = kReasonTlsHandshakeFailed;
    Remember(*reason, "the target closed the connection during the handshake");
    return Step::kFailed;
  }
  const long verify = SSL_get_verify_result(ssl);
  const unsigned long code = ERR_peek_last_error();
  if (verify != X509_V_OK && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    ERR_clear_error();
    *reason = kReasonTlsVerifyFailed;
    Remember(*reason, X509_verify_cert_error_string(verify));
    return Step::kFailed;
  }
  if (LooksLikePlainServer(code)) {
    *reason = kReasonTlsNotTls;
    Remember(*reason, absl::StrCat("no TLS record from the target (", TakeError(), ")"));
    return Step::kFailed;
  }
  *reason = kReasonTlsHandshakeFailed;
  Remember(*reason, TakeError());
  return Step::kFailed;
}

bool TlsClient::Resumed(const SSL* ssl) { return SSL_session_reused(const_cast<SSL*>(ssl)) == 1; }

std::string TlsClient::Negotiated(const SSL* ssl) {
  std::string text =
      absl::StrCat(SSL_get_version(ssl), " ", SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
  const unsigned char* alpn = nullptr;
  unsigned alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  if (alpn_length > 0)
    absl::StrAppend(&text, " ", absl::string_view(reinterpret_cast<const char*>(alpn), alpn_length));
  return text;
}

void TlsClient::Remember(int reason, std::string detail) {
  std::string* slot = reason == kReasonTlsVerifyFailed ? &verify_detail_
                      : reason == kReasonTlsNotTls     ? &not_tls_detail_
                                                       : &handshake_detail_;
  if (slot->empty()) *slot = std::move(detail);
}

const std::string& TlsClient::Detail(int reason) const {
  static const std::string* const kNone = new std::string();
  if (reason == kReasonTlsVerifyFailed) return verify_detail_;
  if (reason == kReasonTlsNotTls) return not_tls_detail_;
  if (reason == kReasonTlsHandshakeFailed) return handshake_detail_;
  return *kNone;
}

}  // namespace fourtuple::agent

#include "common/grpc_credentials.h"

#include <grpcpp/support/client_interceptor.h>

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/auth_token.h"
#include "common/logging.h"
#include "common/read_file.h"

namespace fourtuple {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

absl::Status FlagError(absl::string_view flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("--", flag, ": ", status.message()));
}

// A PEM file (certificate, key or CA bundle), read whole.
absl::StatusOr<std::string> ReadPemFile(absl::string_view flag, const std::string& path) {
  absl::StatusOr<FileContents> file = ReadRegularFile(path, kMaxPemFileBytes, "a PEM file");
  if (!file.ok()) return FlagError(flag, file.status());
  std::string& text = file->text;
  if (!absl::StrContains(text, "-----BEGIN ")) {
    return FlagError(
        flag, absl::InvalidArgumentError(absl::StrCat(path, " is not a PEM file (no -----BEGIN line)")));
  }
  return std::move(text);
}

// Attaches "authorization: Bearer TOKEN" to every call. An interceptor, not
// call credentials: gRPC 1.51 will not combine call credentials with
// plaintext channel credentials, and the token must work over both.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kTokenMetadataKey, *value_);
    }
    methods->Proceed();
  }

 private:
  const std::string* const value_;  // owned by the factory, which outlives its channels' calls
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::shared_ptr<const std::string> value) : value_(std::move(value)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TokenInterceptor(value_.get());
  }

 private:
  const std::shared_ptr<const std::string> value_;
};

// Channel credentials that add the token interceptor to every channel made
// from them, so callers keep using grpc::CreateChannel(endpoint, creds).
class TokenChannelCredentials final : public grpc::ChannelCredentials {
 public:
  TokenChannelCredentials(std::shared_ptr<grpc::ChannelCredentials> inner, const std::string& token)
      : inner_(std::move(inner)), value_(std::make_shared<const std::string>(absl::StrCat(kBearer, token))) {}

 protected:
  grpc::SecureChannelCredentials* AsSecureCredentials() override { return nullptr; }

 private:
  std::shared_ptr<grpc::Channel> CreateChannelImpl(const std::string& target,
                                                   const grpc::ChannelArguments& args) override {
    return CreateChannelWithInterceptors(target, args, {});
  }
  std::shared_ptr<grpc::Channel> CreateChannelWithInterceptors(
      const std::string& target, const grpc::ChannelArguments& args,
      std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
          interceptor_creators) override {
    interceptor_creators.push_back(std::make_unique<TokenInterceptorFactory>(value_));
    return grpc::experimental::CreateCustomChannelWithInterceptors(target, inner_, args,
                                                                   std::move(interceptor_creators));
  }

  const std::shared_ptr<grpc::ChannelCredentials> inner_;
  const std::shared_ptr<const std::string> value_;
};

}  // namespace

std::string ServerAuth::Describe() const {
  if (tls && !token.empty()) return "token and mTLS";
  if (tls) return "mTLS";
  if (!token.empty()) return "token";
  return "none";
}

grpc::Status ServerAuth::Check(const grpc::ServerContext& context) const {
  if (token.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kTokenMetadataKey);
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "no token: this server requires one (give the coordinator --token-file "
                        "with the same token as the server's --token-file)");
  }
  absl::string_view presented(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&presented, kBearer) || !TokensEqual(presented, token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong token: the coordinator's --token-file does not hold the same token as "
                        "the server's --token-file");
  }
  return grpc::Status::OK;
}

absl::StatusOr<ServerAuth> LoadServerAuth(const AuthFlags& flags) {
  ServerAuth auth;
  if (!flags.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(flags.token_file);
    if (!token.ok()) return FlagError("token-file", token.status());
    auth.token = *std::move(token);
  }
  const int tls_flags = !flags.tls_cert.empty() + !flags.tls_key.empty() + !flags.tls_ca.empty();
  if (tls_flags == 0) {
    auth.credentials = grpc::InsecureServerCredentials();
    return auth;
  }
  if (tls_flags != 3) {
    return absl::InvalidArgumentError(
        "--tls-cert, --tls-key and --tls-ca go together: mutual TLS needs this server's "
        "certificate and key, and the CA that signs the clients' certificates");
  }
  absl::StatusOr<std::string> cert = ReadPemFile("tls-cert", flags.tls_cert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile("tls-key", flags.tls_key);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> ca = ReadPemFile("tls-ca", flags.tls_ca);
  if (!ca.ok()) return ca.status();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *std::move(ca);
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  auth.credentials = grpc::SslServerCredentials(options);
  auth.tls = true;
  return auth;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientCredentials(const AuthFlags& flags) {
  std::shared_ptr<grpc::ChannelCredentials> channel;
  if (flags.tls_ca.empty()) {
    if (!flags.tls_cert.empty() || !flags.tls_key.empty()) {
      return absl::InvalidArgumentError(
          "--tls-cert/--tls-key need --tls-ca (the CA that signed the servers' certificates)");
    }
    channel = grpc::InsecureChannelCredentials();
  } else {
    if (flags.tls_cert.empty() != flags.tls_key.empty()) {
      return absl::InvalidArgumentError(
          "--tls-cert and --tls-key go together (the client certificate and its key)");
    }
    grpc::SslCredentialsOptions options;
    absl::StatusOr<std::string> ca = ReadPemFile("tls-ca", flags.tls_ca);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    if (!flags.tls_cert.empty()) {
      absl::StatusOr<std::string> cert = ReadPemFile("tls-cert", flags.tls_cert);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPemFile("tls-key", flags.tls_key);
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *std::move(cert);
      options.pem_private_key = *std::move(key);
    }
    channel = grpc::SslCredentials(options);
  }
  if (flags.token_file.empty()) return channel;
  absl::StatusOr<std::string> token = ReadTokenFile(flags.token_file);
  if (!token.ok()) return FlagError("token-file", token.status());
  return std::shared_ptr<grpc::ChannelCredentials>(
      std::make_shared<TokenChannelCredentials>(std::move(channel), *token));
}

absl::Status CheckExposure(absl::string_view flag, const Endpoint& endpoint, const ServerAuth& auth,
                           bool insecure) {
  if (endpoint.address.IsLoopback() || auth.authenticated()) return absl::OkStatus();
  if (!insecure) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", endpoint.ToString(),
                     " is not a loopback address and no authentication is set: anyone who reaches it could "
                     "command this server: use --token-file or --tls-cert/--tls-key/--tls-ca, or --insecure "
                     "to serve there without authentication"));
  }
  LOG_WARNING(
      "*** --insecure: serving on %s WITHOUT authentication: anyone who can reach this port "
      "can command this server. Use --token-file or --tls-cert/--tls-key/--tls-ca instead. ***",
      endpoint.ToString());
  return absl::OkStatus();
}

std::string AuthFailureHint(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    return "the server refused the token: check that --token-file holds the same token as the "
           "server's --token-file";
  }
  if (status.code() == absl::StatusCode::kUnavailable) {
    const std::string lower = absl::AsciiStrToLower(status.message());
    if (absl::StrContains(lower, "ssl") || absl::StrContains(lower, "tls") ||
        absl::StrContains(lower, "handshake") || absl::StrContains(lower, "certificate")) {
      return "the TLS handshake failed: check that --tls-cert/--tls-key/--tls-ca match the "
             "server's (it requires a client certificate signed by its --tls-ca)";
    }
  }
  return "";
}

}  // namespace fourtuple

// gRPC credentials from the security flags every program shares:
// --token-file (a shared secret sent as "authorization: Bearer TOKEN" call
// metadata) and --tls-cert/--tls-key/--tls-ca (mutual TLS). Servers (agent,
// target-server's TargetControl) require and check what they are given;
// the coordinator sends it.
//
// Thread-safety: the loaders are pure functions; ServerAuth and the
// credentials are constant once built and safe to share across threads.
#ifndef FOURTUPLE_COMMON_GRPC_CREDENTIALS_H_
#define FOURTUPLE_COMMON_GRPC_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/address.h"

namespace fourtuple {

// The metadata key the token travels in; its value is "Bearer TOKEN".
inline constexpr char kTokenMetadataKey[] = "authorization";

// The security flags as typed; empty = not given.
struct AuthFlags {
  std::string token_file;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
};

// A server's side: what to listen with and which token to demand.
struct ServerAuth {
  // Empty: calls need no token.
  std::string token;
  // TLS credentials requiring a client certificate signed by --tls-ca, or
  // plaintext when no --tls-* flag was given.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  bool tls = false;

  // True when a caller must prove something (token, client certificate).
  bool authenticated() const { return tls || !token.empty(); }
  // "token and mTLS", "token", "mTLS" or "none", for the start-up log line.
  std::string Describe() const;

  // OK when the call may proceed; UNAUTHENTICATED (the message says what is
  // missing or wrong and which flag fixes it) otherwise. Call it first in
  // every handler.
  grpc::Status Check(const grpc::ServerContext& context) const;
};

// Reads the files the flags name. Server TLS needs all three of --tls-cert,
// --tls-key and --tls-ca. Errors name the flag and the path.
absl::StatusOr<ServerAuth> LoadServerAuth(const AuthFlags& flags);

// The coordinator's side: TLS when --tls-ca is given (with --tls-cert and
// --tls-key as the client certificate, both or neither), plaintext
// otherwise; either way the token, if any, is attached to every call.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientCredentials(const AuthFlags& flags);

// Refuses serving on a non-loopback `endpoint` (given with --`flag`) without
// a token or TLS unless `insecure`; with `insecure`, logs a loud warning.
absl::Status CheckExposure(absl::string_view flag, const Endpoint& endpoint, const ServerAuth& auth,
                           bool insecure);

// For a failed call to one of our servers: a sentence saying which flag to
// check, or empty when the status does not look like an auth problem.
std::string AuthFailureHint(const absl::Status& status);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_GRPC_CREDENTIALS_H_

// The plan's target.tls: what each connection's TLS handshake offers and
// checks, with the PEM files it names read and checked by the coordinator
// (relative to the plan's folder), so agents need no files.
//
// Errors name the field and, for files, the file ("plan.target.tls.ca:
// certs/ca.pem: no PEM certificate in it"). Key bytes never appear in an
// error, a log line or the report: only file names do.
//
// Thread-safety: plain values; ParseTlsPlan is reentrant.
#ifndef FOURTUPLE_COORDINATOR_TLS_PLAN_H_
#define FOURTUPLE_COORDINATOR_TLS_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

struct TlsPlan {
  // PEM file of the CA certificates to verify the target against; empty:
  // the agent host's default store.
  std::string ca;
  // Check the target's certificate chain and name. Default true.
  bool verify = true;
  // SNI and the name checked; empty: each endpoint's host (an address is
  // checked against the certificate's IP subjectAltName).
  std::string server_name;
  // ALPN protocols offered, in order; none: no ALPN extension.
  std::vector<std::string> alpn;
  // "1.2" or "1.3"; empty: OpenSSL's defaults (1.2 .. 1.3).
  std::string min_version;
  std::string max_version;
  // Reuse session tickets (each agent worker keeps its newest per endpoint).
  bool resume = false;
  // PEM files of a client certificate and its key, for targets that ask for one.
  std::string client_cert;
  std::string client_key;

  // The files' contents, read by ParseTlsPlan.
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Parses `value` (the target.tls object) and reads its files, relative to
// `base_dir` unless absolute (empty: the working directory).
absl::StatusOr<TlsPlan> ParseTlsPlan(const nlohmann::json& value, absl::string_view base_dir);

// 0x0303 for "1.2", 0x0304 for "1.3", 0 for anything else.
uint32_t TlsWireVersion(absl::string_view version);

// The plan as written back in a report: file names, never their contents.
nlohmann::ordered_json TlsPlanToJson(const TlsPlan& tls);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_TLS_PLAN_H_

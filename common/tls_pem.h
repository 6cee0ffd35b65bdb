// Whether PEM text holds what a TLS setting needs: a certificate (the first
// of a chain or bundle) or an unencrypted private key. One check for every
// side that is handed PEM: the coordinator reading a plan's files, the agent
// checking an assignment, target-server its flags.
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_TLS_PEM_H_
#define FOURTUPLE_COMMON_TLS_PEM_H_

#include "absl/strings/string_view.h"

namespace fourtuple {

enum class PemKind { kCertificate, kPrivateKey };

bool PemHolds(absl::string_view pem, PemKind kind);

// Whether `key_pem`'s key is the one of `cert_pem`'s (first) certificate.
bool PemKeyMatches(absl::string_view cert_pem, absl::string_view key_pem);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_TLS_PEM_H_

#include "common/tls_pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>

namespace fourtuple {
namespace {

BIO* Open(absl::string_view pem) {
  return pem.size() > INT_MAX ? nullptr : BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
}

}  // namespace

bool PemHolds(absl::string_view pem, PemKind kind) {
  BIO* bio = Open(pem);
  bool ok = false;
  if (bio != nullptr && kind == PemKind::kPrivateKey) {
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    ok = key != nullptr;
    EVP_PKEY_free(key);
  } else if (bio != nullptr) {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    ok = cert != nullptr;
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();
  return ok;
}

bool PemKeyMatches(absl::string_view cert_pem, absl::string_view key_pem) {
  BIO* cert_bio = Open(cert_pem);
  BIO* key_bio = Open(key_pem);
  X509* cert = cert_bio != nullptr ? PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* key = key_bio != nullptr ? PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr) : nullptr;
  const bool match = cert != nullptr && key != nullptr && X509_check_private_key(cert, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  ERR_clear_error();
  return match;
}

}  // namespace fourtuple

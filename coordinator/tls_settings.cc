#include "coordinator/tls_settings.h"

namespace fourtuple::coordinator {

v1::TlsClientSettings TlsSettingsOf(const TlsPlan& tls) {
  v1::TlsClientSettings settings;
  settings.set_ca_pem(tls.ca_pem);
  settings.set_verify(tls.verify);
  settings.set_server_name(tls.server_name);
  for (const std::string& protocol : tls.alpn) settings.add_alpn(protocol);
  settings.set_min_version(TlsWireVersion(tls.min_version));
  settings.set_max_version(TlsWireVersion(tls.max_version));
  settings.set_resume(tls.resume);
  settings.set_client_cert_pem(tls.client_cert_pem);
  settings.set_client_key_pem(tls.client_key_pem);
  return settings;
}

}  // namespace fourtuple::coordinator

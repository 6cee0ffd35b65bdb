#include "coordinator/tls_plan.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/read_file.h"
#include "common/status_macros.h"
#include "common/tls_pem.h"
#include "common/wire_limits.h"
#include "coordinator/strict_json.h"

namespace fourtuple::coordinator {
namespace {

using nlohmann::json;

constexpr absl::string_view kPath = "plan.target.tls";

}  // namespace

uint32_t TlsWireVersion(absl::string_view version) {
  if (version == "1.2") return kTlsVersion12;
  if (version == "1.3") return kTlsVersion13;
  return 0;
}

namespace {

absl::StatusOr<bool> ReadBool(const json& object, absl::string_view key, bool fallback) {
  const std::string name(key);
  if (!object.contains(name)) return fallback;
  const json& value = object[name];
  if (!value.is_boolean()) return WrongType(absl::StrCat(kPath, ".", key), "true or false", value);
  return value.get<bool>();
}

// Reads and checks one PEM file; the error names the field and the file,
// never the contents.
absl::StatusOr<std::string> ReadPem(absl::string_view field, const std::string& name,
                                    absl::string_view base_dir, PemKind kind) {
  const std::string path = absl::StrCat(kPath, ".", field);
  if (name.empty()) return FieldError(path, "expected a file name, got an empty string");
  const std::string file =
      (name.front() == '/' || base_dir.empty()) ? name : absl::StrCat(base_dir, "/", name);
  const absl::string_view what = kind == PemKind::kPrivateKey ? "a PEM private key" : "PEM certificates";
  absl::StatusOr<FileContents> read = ReadRegularFile(file, kMaxTlsPemBytes, what);
  if (!read.ok()) return FieldError(path, read.status().message());
  const bool ok = PemHolds(read->text, kind);
  if (!ok) {
    return FieldError(
        path, absl::StrCat(file, ": no ",
                           kind == PemKind::kPrivateKey ? "PEM private key (unencrypted)" : "PEM certificate",
                           " in it"));
  }
  return std::move(read->text);
}

absl::StatusOr<std::string> ReadVersion(const json& object, absl::string_view key) {
  const std::string name(key);
  if (!object.contains(name)) return std::string();
  const std::string path = absl::StrCat(kPath, ".", key);
  ASSIGN_OR_RETURN(std::string version, ReadString(object[name], path));
  if (TlsWireVersion(version) == 0) {
    return FieldError(path, absl::StrCat("expected \"1.2\" or \"1.3\", got ", QuoteJson(version)));
  }
  return version;
}

}  // namespace

absl::StatusOr<TlsPlan> ParseTlsPlan(const json& value, absl::string_view base_dir) {
  if (!value.is_object()) return WrongType(kPath, "an object (an empty one takes every default)", value);
  RETURN_IF_ERROR(CheckKnownFields(value, kPath,
                                   {"ca", "server_name", "verify", "alpn", "min_version", "max_version",
                                    "resume", "client_cert", "client_key"}));
  TlsPlan tls;
  ASSIGN_OR_RETURN(tls.verify, ReadBool(value, "verify", true));
  ASSIGN_OR_RETURN(tls.resume, ReadBool(value, "resume", false));
  if (value.contains("server_name")) {
    const std::string path = absl::StrCat(kPath, ".server_name");
    ASSIGN_OR_RETURN(tls.server_name, ReadString(value["server_name"], path));
    if (tls.server_name.empty() || tls.server_name.size() > kMaxServerNameBytes) {
      return FieldError(path, absl::StrCat("expected a host name of 1 to ", kMaxServerNameBytes,
                                           " bytes, got ", QuoteJson(tls.server_name)));
    }
  }
  if (value.contains("alpn")) {
    const std::string path = absl::StrCat(kPath, ".alpn");
    const json& alpn = value["alpn"];
    if (!alpn.is_array() || alpn.size() > static_cast<size_t>(kMaxAlpnProtocols)) {
      return WrongType(path, absl::StrCat("an array of at most ", kMaxAlpnProtocols, " protocol names"),
                       alpn);
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < alpn.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      ASSIGN_OR_RETURN(std::string protocol, ReadString(alpn[i], item_path));
      if (protocol.empty() || protocol.size() > kMaxAlpnProtocolBytes) {
        return FieldError(item_path, absl::StrCat("expected a protocol name of 1 to ", kMaxAlpnProtocolBytes,
                                                  " bytes (such as \"h2\"), got ", QuoteJson(protocol)));
      }
      if (!seen.insert(protocol).second)
        return FieldError(item_path, absl::StrCat(QuoteJson(protocol), " is listed twice"));
      tls.alpn.push_back(std::move(protocol));
    }
  }
  ASSIGN_OR_RETURN(tls.min_version, ReadVersion(value, "min_version"));
  ASSIGN_OR_RETURN(tls.max_version, ReadVersion(value, "max_version"));
  if (!tls.min_version.empty() && !tls.max_version.empty() &&
      TlsWireVersion(tls.min_version) > TlsWireVersion(tls.max_version)) {
    return FieldError(
        absl::StrCat(kPath, ".min_version"),
        absl::StrCat(QuoteJson(tls.min_version), " is above max_version ", QuoteJson(tls.max_version)));
  }
  if (value.contains("ca")) {
    ASSIGN_OR_RETURN(tls.ca, ReadString(value["ca"], absl::StrCat(kPath, ".ca")));
    ASSIGN_OR_RETURN(tls.ca_pem, ReadPem("ca", tls.ca, base_dir, PemKind::kCertificate));
    if (!tls.verify) {
      return FieldError(absl::StrCat(kPath, ".ca"),
                        "given with verify: false (nothing would be checked against it)");
    }
  }
  const bool has_cert = value.contains("client_cert");
  const bool has_key = value.contains("client_key");
  if (has_cert != has_key) {
    return FieldError(absl::StrCat(kPath, has_cert ? ".client_key" : ".client_cert"),
                      "missing (client_cert and client_key go together)");
  }
  if (has_cert) {
    ASSIGN_OR_RETURN(tls.client_cert, ReadString(value["client_cert"], absl::StrCat(kPath, ".client_cert")));
    ASSIGN_OR_RETURN(tls.client_key, ReadString(value["client_key"], absl::StrCat(kPath, ".client_key")));
    ASSIGN_OR_RETURN(tls.client_cert_pem,
                     ReadPem("client_cert", tls.client_cert, base_dir, PemKind::kCertificate));
    ASSIGN_OR_RETURN(tls.client_key_pem,
                     ReadPem("client_key", tls.client_key, base_dir, PemKind::kPrivateKey));
    if (!PemKeyMatches(tls.client_cert_pem, tls.client_key_pem)) {
      return FieldError(absl::StrCat(kPath, ".client_key"),
                        absl::StrCat(tls.client_key, " is not the key of ", tls.client_cert));
    }
  }
  return tls;
}

nlohmann::ordered_json TlsPlanToJson(const TlsPlan& tls) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (!tls.ca.empty()) out["ca"] = tls.ca;
  out["verify"] = tls.verify;
  if (!tls.server_name.empty()) out["server_name"] = tls.server_name;
  if (!tls.alpn.empty()) out["alpn"] = tls.alpn;
  if (!tls.min_version.empty()) out["min_version"] = tls.min_version;
  if (!tls.max_version.empty()) out["max_version"] = tls.max_version;
  out["resume"] = tls.resume;
  if (!tls.client_cert.empty()) {
    out["client_cert"] = tls.client_cert;
    out["client_key"] = tls.client_key;
  }
  return out;
}

}  // namespace fourtuple::coordinator

#include "target-server/options.h"

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/duration.h"
#include "common/read_file.h"
#include "common/status_macros.h"
#include "target-server/tls_server.h"

namespace fourtuple::target_server {
namespace {

absl::Status FlagError(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

// An integer in [min, max]; `what` says what was expected.
absl::StatusOr<int> ParseIntFlag(absl::string_view flag, absl::string_view text, int64_t min, int64_t max,
                                 absl::string_view what) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return FlagError(flag, absl::StrCat("expected ", what, ", got '", text, "'"));
  }
  return static_cast<int>(value);
}

}  // namespace

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  int cores = CPU_COUNT(&set);
  return cores > 0 ? cores : 1;
}

absl::StatusOr<TargetServerOptions> ParseTargetServerFlags(const TargetServerFlags& flags,
                                                           int default_processes) {
  TargetServerOptions options;

  if (flags.listen.empty()) {
    return FlagError("listen", "required: one or more ADDR:PORT, comma-separated (port 0 picks one)");
  }
  auto listen = ParseEndpointList(flags.listen, /*allow_port_zero=*/true);
  if (!listen.ok()) return FlagError("listen", listen.status().message());
  if (listen->empty()) return FlagError("listen", "expected at least one ADDR:PORT");
  options.listen = *std::move(listen);

  if (flags.processes.empty()) {
    options.processes = default_processes;
  } else {
    // 1024 workers would be far past any useful count, and is a typo guard.
    ASSIGN_OR_RETURN(options.processes, ParseIntFlag("processes", flags.processes, 1, 1024,
                                                     "a number of worker processes from 1 to 1024"));
  }

  if (!flags.control.empty()) {
    auto control = ParseEndpoint(flags.control, /*allow_port_zero=*/true);
    if (!control.ok()) return FlagError("control", control.status().message());
    options.control = *control;
  }
  ASSIGN_OR_RETURN(options.auth, LoadServerAuth(flags.auth));
  if (options.control.has_value()) {
    RETURN_IF_ERROR(CheckExposure("control", *options.control, options.auth, flags.insecure));
  }

  if (!flags.metrics.empty()) {
    auto metrics = ParseEndpoint(flags.metrics, /*allow_port_zero=*/true);
    if (!metrics.ok()) return FlagError("metrics", metrics.status().message());
    options.metrics = *metrics;
  }

  if (!flags.backlog.empty()) {
    ASSIGN_OR_RETURN(options.backlog, ParseIntFlag("backlog", flags.backlog, 1,
                                                   std::numeric_limits<int>::max(), "a positive integer"));
  }
  if (!flags.rcvbuf.empty()) {
    ASSIGN_OR_RETURN(options.rcvbuf,
                     ParseIntFlag("rcvbuf", flags.rcvbuf, 0, std::numeric_limits<int>::max() / 2,
                                  "a byte count (0 = kernel default)"));
  }
  if (!flags.sndbuf.empty()) {
    ASSIGN_OR_RETURN(options.sndbuf,
                     ParseIntFlag("sndbuf", flags.sndbuf, 0, std::numeric_limits<int>::max() / 2,
                                  "a byte count (0 = kernel default)"));
  }

  // A bare "0" is allowed here (the documented "no stats lines"); every other
  // value needs its unit.
  if (!flags.stats_interval.empty() && flags.stats_interval != "0") {
    auto interval = ParseDuration(flags.stats_interval);
    if (!interval.ok()) return FlagError("stats-interval", interval.status().message());
    if (*interval != absl::ZeroDuration() && *interval < absl::Milliseconds(10)) {
      return FlagError("stats-interval", absl::StrCat("expected 0 (no stats lines) or at least 10ms, got '",
                                                      flags.stats_interval, "'"));
    }
    options.stats_interval = *interval;
  }

  if (flags.listen_tls_cert.empty() != flags.listen_tls_key.empty()) {
    return FlagError(flags.listen_tls_cert.empty() ? "listen-tls-cert" : "listen-tls-key",
                     "required with the other (--listen-tls-cert and --listen-tls-key go together)");
  }
  if (!flags.listen_tls_cert.empty()) {
    absl::StatusOr<FileContents> cert =
        ReadRegularFile(flags.listen_tls_cert, kMaxPemFileBytes, "a PEM certificate");
    if (!cert.ok()) return FlagError("listen-tls-cert", cert.status().message());
    absl::StatusOr<FileContents> key =
        ReadRegularFile(flags.listen_tls_key, kMaxPemFileBytes, "a PEM private key");
    if (!key.ok()) return FlagError("listen-tls-key", key.status().message());
    // The message names the flag; the file name goes in front of it.
    if (absl::Status s = CheckServerCertificate(cert->text, key->text); !s.ok()) {
      const bool key_side = absl::StartsWith(s.message(), "--listen-tls-key");
      return absl::InvalidArgumentError(
          absl::StrCat(s.message(), " (", key_side ? flags.listen_tls_key : flags.listen_tls_cert, ")"));
    }
    options.listen_tls_cert_pem = std::move(cert->text);
    options.listen_tls_key_pem = std::move(key->text);
  }

  if (!flags.listen_protocol.empty() && flags.listen_protocol != "raw" &&
      flags.listen_protocol != "websocket") {
    return FlagError("listen-protocol",
                     absl::StrCat("expected raw or websocket, got '", flags.listen_protocol, "'"));
  }
  options.listen_websocket = flags.listen_protocol == "websocket";

  options.ready_file = flags.ready_file;
  return options;
}

}  // namespace fourtuple::target_server

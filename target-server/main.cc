// target-server: holds and echoes TCP connections; see target_server.h.
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 runtime failure (such as
// a listen address in use), 2 bad command line.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/flag_names.h"
#include "common/logging.h"
#include "target-server/options.h"
#include "target-server/target_server.h"

// Strings, validated by ParseTargetServerFlags so every bad value exits 2
// with the flag named. Typed with dashes (--stats-interval); absl's names
// use underscores, DashesToUnderscores maps one to the other.
ABSL_FLAG(std::string, listen, "",
          "ADDR:PORT[,ADDR:PORT...] to accept and echo on; port 0 picks a free port (see "
          "--ready-file). Required.");
ABSL_FLAG(std::string, processes, "", "worker processes (default: the number of cores)");
ABSL_FLAG(std::string, control, "",
          "ADDR:PORT for the gRPC TargetControl service (server-side counts); port 0 allowed; "
          "default: none");
ABSL_FLAG(std::string, metrics, "",
          "ADDR:PORT to serve Prometheus metrics on (GET /metrics); port 0 allowed; default: none");
ABSL_FLAG(std::string, backlog, "65535", "listen(2) backlog (capped by net.core.somaxconn)");
ABSL_FLAG(std::string, rcvbuf, "0", "SO_RCVBUF bytes for accepted sockets; 0 = kernel default");
ABSL_FLAG(std::string, sndbuf, "0", "SO_SNDBUF bytes for accepted sockets; 0 = kernel default");
ABSL_FLAG(std::string, stats_interval, "0",
          "print one JSON line of counters on stdout this often (\"1s\", \"200ms\"); 0 = never");
ABSL_FLAG(std::string, ready_file, "",
          "once listening, write {\"listen\": [...], \"control\": ..., \"metrics\": ...} here "
          "atomically");
ABSL_FLAG(std::string, token_file, "",
          "file holding a shared secret every TargetControl call must carry (the coordinator's "
          "--token-file); one line, not readable by other users");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate for --control (mutual TLS; with --tls-key, --tls-ca)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle; TargetControl clients must present a certificate it signed");
ABSL_FLAG(std::string, listen_tls_cert, "",
          "PEM certificate (then its chain) to terminate TLS with on every --listen port; with "
          "--listen-tls-key");
ABSL_FLAG(std::string, listen_tls_key, "", "PEM private key of --listen-tls-cert (unencrypted)");
ABSL_FLAG(std::string, listen_protocol, "raw",
          "what every --listen connection speaks: raw (echo every byte) or websocket (answer the "
          "upgrade on any path, echo data frames, answer pings and closes)");
ABSL_FLAG(bool, insecure, false,
          "allow --control on a non-loopback address without --token-file or --tls-* (loudly)");

int main(int argc, char** argv) {
  fourtuple::SetLogProgramName("target-server");
  absl::SetProgramUsageMessage(
      "Echo server that holds as many TCP connections as the host allows.\n"
      "  target-server --listen=0.0.0.0:9000 --processes=8 --control=127.0.0.1:9001 "
      "--stats-interval=1s");
  std::vector<std::string> args = fourtuple::DashesToUnderscores(argc, argv);
  if (fourtuple::WantsHelp(args)) {
    std::fputs(fourtuple::HelpText().c_str(), stdout);
    return 0;
  }
  // absl exits 1 on an unknown flag; a bad command line exits 2 here.
  if (absl::Status checked = fourtuple::CheckFlagArguments(args); !checked.ok()) {
    std::fprintf(stderr, "target-server: %s\n", std::string(checked.message()).c_str());
    return 2;
  }
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(args.size()), arg_pointers.data());
  if (positional.size() > 1) {  // after a bare "--"
    std::fprintf(stderr, "target-server: unexpected argument '%s' (flags are --name=value)\n", positional[1]);
    return 2;
  }

  fourtuple::target_server::TargetServerFlags flags;
  flags.listen = absl::GetFlag(FLAGS_listen);
  flags.processes = absl::GetFlag(FLAGS_processes);
  flags.control = absl::GetFlag(FLAGS_control);
  flags.metrics = absl::GetFlag(FLAGS_metrics);
  flags.backlog = absl::GetFlag(FLAGS_backlog);
  flags.rcvbuf = absl::GetFlag(FLAGS_rcvbuf);
  flags.sndbuf = absl::GetFlag(FLAGS_sndbuf);
  flags.stats_interval = absl::GetFlag(FLAGS_stats_interval);
  flags.ready_file = absl::GetFlag(FLAGS_ready_file);
  flags.insecure = absl::GetFlag(FLAGS_insecure);
  flags.listen_tls_cert = absl::GetFlag(FLAGS_listen_tls_cert);
  flags.listen_tls_key = absl::GetFlag(FLAGS_listen_tls_key);
  flags.listen_protocol = absl::GetFlag(FLAGS_listen_protocol);
  flags.auth.token_file = absl::GetFlag(FLAGS_token_file);
  flags.auth.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  flags.auth.tls_key = absl::GetFlag(FLAGS_tls_key);
  flags.auth.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  auto options =
      fourtuple::target_server::ParseTargetServerFlags(flags, fourtuple::target_server::AvailableCores());
  if (!options.ok()) {
    std::fprintf(stderr, "target-server: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }

  absl::Status status = fourtuple::target_server::RunTargetServer(*options);
  if (!status.ok()) {
    std::fprintf(stderr, "target-server: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

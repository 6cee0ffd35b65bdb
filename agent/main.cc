// agent: the fourtuple load agent (see agent_server.h). Its workers are a
// program of their own, agent-worker (agent/worker/main.cc).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "agent/agent_options.h"
#include "agent/agent_server.h"
#include "common/flag_names.h"
#include "common/host_facts.h"
#include "common/logging.h"

// Strings, validated by ParseAgentFlags so every bad value exits 2 with the
// flag named. Typed with dashes (--ready-file); DashesToUnderscores maps them
// to absl's names.
ABSL_FLAG(std::string, listen, "127.0.0.1:7000",
          "ADDR:PORT for the gRPC service; port 0 picks a free one (see --ready-file)");
ABSL_FLAG(std::string, processes, "auto",
          "worker processes per run: N, or auto (enough to stay inside each process's fd "
          "limit, at least one per core); an assignment may set its own");
ABSL_FLAG(std::string, source_ports, "kernel",
          "who picks each connection's source port: kernel (the search at connect(), "
          "IP_BIND_ADDRESS_NO_PORT) or agent (explicit bind from a per-(source, target) cursor: "
          "no port search, so connects stay fast as a source address's range fills)");
ABSL_FLAG(std::string, worker_binary, "",
          "the worker program every worker runs (default: this binary's path plus -worker, "
          "e.g. build/bin/agent-worker)");
ABSL_FLAG(std::string, ready_file, "",
          "write {\"listen\": [\"ADDR:PORT\"], \"metrics\": \"ADDR:PORT\"} here atomically once "
          "serving (metrics only with --metrics)");
ABSL_FLAG(std::string, allow_targets, "127.0.0.0/8,::1/128",
          "CIDR[,CIDR...]: targets an assignment may name; others are refused");
ABSL_FLAG(std::string, host_label, "", "reported as the host instead of the hostname");
ABSL_FLAG(std::string, metrics, "",
          "ADDR:PORT to serve Prometheus metrics on (GET /metrics); port 0 allowed; default: none");
ABSL_FLAG(std::string, assignment_timeout, "10s",
          "a Run stream must send its assignment within this, or it is cancelled");
ABSL_FLAG(bool, insecure, false,
          "allow --listen on a non-loopback address without --token-file or --tls-* (loudly)");
ABSL_FLAG(std::string, token_file, "",
          "file holding a shared secret every call must carry (the coordinator's --token-file); "
          "one line, not readable by other users");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate of this agent (mutual TLS; with --tls-key, --tls-ca)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle; clients must present a certificate it signed");

namespace {

constexpr int kExitBadFlags = 2;

}  // namespace

int main(int argc, char** argv) {
  fourtuple::SetLogProgramName("agent");
  absl::SetProgramUsageMessage(
      "fourtuple agent: opens, holds and echo-checks TCP connections as a coordinator directs.\n"
      "  agent --listen=127.0.0.1:7000 [--processes=N|auto] [--allow-targets=CIDR,...] "
      "[--source-ports=kernel|agent] [--worker-binary=PATH] [--ready-file=PATH] [--host-label=NAME] "
      "[--metrics=ADDR:PORT] [--assignment-timeout=DURATION]\n"
      "        [--token-file=PATH] [--tls-cert=PEM --tls-key=PEM --tls-ca=PEM] [--insecure]");
  std::vector<std::string> args = fourtuple::DashesToUnderscores(argc, argv);
  if (fourtuple::WantsHelp(args)) {
    std::fputs(fourtuple::HelpText().c_str(), stdout);
    return 0;
  }
  // absl exits 1 on an unknown flag; a bad command line exits 2 here.
  if (absl::Status checked = fourtuple::CheckFlagArguments(args); !checked.ok()) {
    std::fprintf(stderr, "agent: %s\n", std::string(checked.message()).c_str());
    return kExitBadFlags;
  }
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  absl::ParseCommandLine(static_cast<int>(args.size()), arg_pointers.data());

  fourtuple::agent::AgentFlags flags;
  flags.listen = absl::GetFlag(FLAGS_listen);
  flags.processes = absl::GetFlag(FLAGS_processes);
  flags.source_ports = absl::GetFlag(FLAGS_source_ports);
  flags.ready_file = absl::GetFlag(FLAGS_ready_file);
  flags.allow_targets = absl::GetFlag(FLAGS_allow_targets);
  flags.host_label = absl::GetFlag(FLAGS_host_label);
  flags.metrics = absl::GetFlag(FLAGS_metrics);
  flags.insecure = absl::GetFlag(FLAGS_insecure);
  flags.assignment_timeout = absl::GetFlag(FLAGS_assignment_timeout);
  flags.auth.token_file = absl::GetFlag(FLAGS_token_file);
  flags.auth.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  flags.auth.tls_key = absl::GetFlag(FLAGS_tls_key);
  flags.auth.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  absl::StatusOr<fourtuple::agent::AgentOptions> options = fourtuple::agent::ParseAgentFlags(flags);
  if (!options.ok()) {
    std::fprintf(stderr, "agent: %s\n", std::string(options.status().message()).c_str());
    return kExitBadFlags;
  }
  absl::StatusOr<std::string> worker_binary =
      fourtuple::agent::ResolveWorkerBinary(absl::GetFlag(FLAGS_worker_binary));
  if (!worker_binary.ok()) {
    std::fprintf(stderr, "agent: %s\n", std::string(worker_binary.status().message()).c_str());
    return kExitBadFlags;
  }
  options->worker_binary = *worker_binary;

  // Connections live in workers, which inherit this limit.
  absl::StatusOr<uint64_t> nofile = fourtuple::RaiseFdLimit();
  if (!nofile.ok()) LOG_WARNING("raising the fd limit: %s", nofile.status().ToString());

  absl::Status status = fourtuple::agent::RunAgent(*options);
  if (!status.ok()) {
    LOG_ERROR("%s", status.message());
    return 1;
  }
  return 0;
}

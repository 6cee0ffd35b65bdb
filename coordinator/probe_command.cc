#include "coordinator/probe_command.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/grpc_credentials.h"
#include "common/grpc_status.h"
#include "common/human_format.h"
#include "common/terminal_text.h"
#include "coordinator/fan_out.h"
#include "coordinator/text_table.h"
#include "proto/fourtuple.grpc.pb.h"

namespace fourtuple::coordinator {

namespace {

// One probe's call state, alive until the probe's callback has run.
struct ProbeCall {
  std::unique_ptr<v1::Agent::Stub> stub;
  grpc::ClientContext context;
  v1::ProbeRequest request;
  v1::HostFacts facts;
};

}  // namespace

std::vector<ProbeResult> ProbeAgents(const std::vector<std::string>& endpoints,
                                     const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                                     absl::Duration timeout) {
  std::vector<ProbeResult> results(endpoints.size());
  std::vector<ProbeCall> calls(endpoints.size());
  // Safe to destroy once Wait returns, unlike a mutex a callback unlocks.
  absl::BlockingCounter pending(static_cast<int>(endpoints.size()));
  FanOut fan_out(kMaxProbesInFlight);
  for (size_t i = 0; i < endpoints.size(); ++i) {
    results[i].endpoint = endpoints[i];
    fan_out.Submit([&, i] {
      ProbeCall& call = calls[i];
      call.stub = v1::Agent::NewStub(grpc::CreateChannel(endpoints[i], credentials));
      call.context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
      call.stub->async()->Probe(&call.context, &call.request, &call.facts, [&, i](grpc::Status status) {
        if (status.ok()) {
          results[i].facts = std::move(calls[i].facts);
        } else {
          results[i].facts = FromGrpcStatus(status);
        }
        fan_out.Done();
        pending.DecrementCount();
      });
    });
  }
  pending.Wait();
  return results;
}

std::string DescribeProbeFailure(const std::string& endpoint, const absl::Status& status) {
  const char* what = status.code() == absl::StatusCode::kUnauthenticated    ? "refused the token"
                     : status.code() == absl::StatusCode::kPermissionDenied ? "refused the call"
                                                                            : "is unreachable";
  std::string out = absl::StrCat("agent ", endpoint, " ", what, " (", absl::StatusCodeToString(status.code()),
                                 "): ", status.message());
  if (std::string hint = AuthFailureHint(status); !hint.empty()) absl::StrAppend(&out, " (", hint, ")");
  return out;
}

std::string FormatFactsTable(const std::vector<ProbeResult>& results) {
  static constexpr const char* kRows[] = {"agent",
                                          "host",
                                          "version",
                                          "cores",
                                          "memory total",
                                          "memory available",
                                          "nofile soft/hard",
                                          "fs.nr_open",
                                          "fs.file-max",
                                          "ephemeral ports",
                                          "somaxconn",
                                          "tcp_max_syn_backlog",
                                          "conntrack",
                                          "processes",
                                          "local addresses"};
  std::vector<std::vector<std::string>> rows;
  for (const char* name : kRows) rows.push_back({name});
  for (const ProbeResult& result : results) {
    std::vector<std::string> column;
    column.push_back(result.endpoint);
    if (!result.facts.ok()) {
      column.push_back(absl::StrCat("unreachable: ", result.facts.status().message()));
    } else {
      const v1::HostFacts& f = *result.facts;
      column.push_back(f.hostname());
      column.push_back(f.version());
      column.push_back(FormatCount(f.cores()));
      column.push_back(FormatBytes(static_cast<double>(f.memory_total_bytes())));
      column.push_back(FormatBytes(static_cast<double>(f.memory_available_bytes())));
      column.push_back(absl::StrCat(FormatCount(f.nofile_soft()), "/", FormatCount(f.nofile_hard())));
      column.push_back(FormatCount(f.nr_open()));
      column.push_back(FormatCount(f.file_max()));
      const uint32_t ports =
          f.port_range_high() >= f.port_range_low() ? f.port_range_high() - f.port_range_low() + 1 : 0;
      column.push_back(
          absl::StrCat(f.port_range_low(), "-", f.port_range_high(), " (", FormatCount(ports), ")"));
      column.push_back(FormatCount(f.somaxconn()));
      column.push_back(FormatCount(f.tcp_max_syn_backlog()));
      column.push_back(f.conntrack_present() ? absl::StrCat(FormatCount(f.conntrack_count()), "/",
                                                            FormatCount(f.conntrack_max()))
                                             : std::string("not loaded"));
      column.push_back(f.processes() == 0 ? std::string("auto") : FormatCount(f.processes()));
      std::vector<std::string> shown;
      for (int i = 0; i < f.local_addresses_size() && i < 4; ++i) {
        shown.push_back(f.local_addresses(i));
      }
      std::string addresses = absl::StrJoin(shown, " ");
      if (f.local_addresses_size() > 4) {
        absl::StrAppend(&addresses, " ... (", f.local_addresses_size(), ")");
      }
      column.push_back(addresses);
    }
    column.resize(rows.size(), "-");
    for (size_t r = 0; r < rows.size(); ++r) rows[r].push_back(column[r]);
  }
  return FormatTextTable(rows);
}

int ExecuteProbeCommand(const std::vector<std::string>& endpoints,
                        const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  std::vector<ProbeResult> results = ProbeAgents(endpoints, credentials, absl::Seconds(5));
  std::fputs(FormatFactsTable(results).c_str(), stdout);
  std::fflush(stdout);
  int exit_code = 0;
  for (const ProbeResult& result : results) {
    if (!result.facts.ok()) {
      std::fprintf(stderr, "coordinator: %s\n",
                   EscapeForTerminal(DescribeProbeFailure(result.endpoint, result.facts.status())).c_str());
      exit_code = 3;
    }
  }
  return exit_code;
}

}  // namespace fourtuple::coordinator

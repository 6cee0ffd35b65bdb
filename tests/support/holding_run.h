// Test support: a whole run on loopback — a real target-server, N agents and
// a coordinator running a plan with a long hold — for end-to-end tests that
// act on the run while it holds (kill a process, stop one) and then check
// what every process did. For tests only; thread-compatible.
#ifndef FOURTUPLE_TESTS_SUPPORT_HOLDING_RUN_H_
#define FOURTUPLE_TESTS_SUPPORT_HOLDING_RUN_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/subprocess.h"

namespace fourtuple::testing {

struct HoldingRunOptions {
  // The binaries under test (the e2e targets' *_BIN definitions).
  std::string target_server_bin;
  std::string agent_bin;
  std::string coordinator_bin;
  int agents = 1;
  // Worker processes of each agent ("auto" or a number).
  std::string agent_processes = "auto";
  uint64_t connections = 2000;  // over all agents, split evenly
  // Plan durations, as the plan writes them.
  std::string hold = "8s";
  std::string report_interval = "200ms";
  std::string lease = "2s";
};

class HoldingRun {
 public:
  // Starts the target-server and the agents; ok() says whether all came up.
  explicit HoldingRun(HoldingRunOptions options);
  ~HoldingRun();  // SIGTERM to whatever still runs (Subprocess reaps)

  bool ok() const { return ok_; }
  const std::string& dir() const { return dir_; }
  Subprocess& target() { return *target_; }
  Subprocess& agent(int i) { return *agents_[i]; }
  const std::string& agent_endpoint(int i) const { return agent_endpoints_[i]; }
  Subprocess& coordinator() { return *coordinator_; }
  const std::string& report_path() const { return report_path_; }
  std::string html_path() const { return dir_ + "/report.html"; }

  // Starts `coordinator run` on the plan and waits until its progress shows
  // the hold.
  bool StartAndWaitForHold();

  // Runs the plan again with `hold` (a fresh coordinator, report in
  // dir/NAME.json) and waits for it: its exit code, or an error on timeout.
  absl::StatusOr<int> RunAgain(const std::string& name, const std::string& hold, absl::Duration timeout);

  // The run's report (discarded JSON when missing or unreadable).
  nlohmann::json Report() const;

  // The target-server's open connections (TargetControl.GetStats); nullopt
  // when it does not answer.
  std::optional<uint64_t> TargetOpen();
  // Polls TargetOpen until it is `open`: how long that took, or nullopt when
  // `timeout` passed first.
  std::optional<absl::Duration> WaitForTargetOpen(uint64_t open, absl::Duration timeout);

  // Every process's stderr (the last 4 KiB each), for failure messages.
  std::string Diagnostics() const;

 private:
  std::string WritePlan(const std::string& name, const std::string& hold) const;

  const HoldingRunOptions options_;
  const std::string dir_;
  bool ok_ = false;
  std::string target_listen_;
  std::string target_control_;
  std::vector<std::string> agent_endpoints_;
  std::string plan_path_;
  std::string report_path_;
  std::unique_ptr<Subprocess> target_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
  std::unique_ptr<Subprocess> coordinator_;
  std::unique_ptr<v1::TargetControl::Stub> target_stub_;
};

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_HOLDING_RUN_H_

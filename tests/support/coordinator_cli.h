// Test support for end-to-end tests of the coordinator CLI: run it to its
// exit, write plans, start agents on a free loopback port. For tests only.
// Thread-compatible.
#ifndef FOURTUPLE_TESTS_SUPPORT_COORDINATOR_CLI_H_
#define FOURTUPLE_TESTS_SUPPORT_COORDINATOR_CLI_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/support/expect_contains.h"  // the e2e tests using this use it too
#include "tests/support/subprocess.h"

namespace fourtuple::testing {

// How one coordinator invocation ended.
struct Outcome {
  int code = -1;  // exit code; -1 when it did not start or end in time
  std::string out;
  std::string err;
};

// Runs `coordinator ARGS...` (inside `netns` when set) to its exit; fails
// the test when it does not exit within `timeout`.
Outcome RunCoordinator(const std::string& coordinator_bin, const std::vector<std::string>& args,
                       const std::string& dir, absl::Duration timeout = absl::Seconds(60),
                       const std::optional<std::string>& netns = std::nullopt);

// Writes `text` to DIR/NAME; returns the path.
std::string WritePlan(const std::string& dir, const std::string& name, const std::string& text);

// A started agent and the endpoint it listens on.
struct StartedAgent {
  std::unique_ptr<Subprocess> process;  // null when it did not start
  std::string endpoint;                 // from its ready file
};

// Starts `argv` (an agent command line without --listen/--ready-file, which
// are added: 127.0.0.1:0 and DIR/NAME.ready) and waits for its ready file.
// argv[0] may be a wrapper such as prlimit that execs the agent.
StartedAgent StartAgent(const std::vector<std::string>& argv, const std::string& name, const std::string& dir,
                        const std::optional<std::string>& netns = std::nullopt);

// This machine's hostname, as preflight messages name an agent's host (network
// namespaces share the UTS namespace, so an agent in one reports it too).
std::string Hostname();

// "127.0.0.1:PORT" for a loopback port nothing listens on (bound, then
// closed): connects to it are refused.
std::string ClosedLoopbackEndpoint();

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_COORDINATOR_CLI_H_

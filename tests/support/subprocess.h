// Test support: start the real binaries as child processes, capture their
// output to files, wait for ready files, and reap them. For tests only.
// Thread-compatible: one Subprocess is used by one thread.
#ifndef FOURTUPLE_TESTS_SUPPORT_SUBPROCESS_H_
#define FOURTUPLE_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace fourtuple::testing {

// A fresh directory under $TMPDIR (or /tmp) for one test; kept for debugging.
std::string MakeTempDir(const std::string& prefix);

class Subprocess {
 public:
  // Starts argv[0] with argv; stdout and stderr go to DIR/NAME.out and
  // DIR/NAME.err. With `netns` set the child runs `ip netns exec NETNS argv...`.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& name, const std::string& dir,
      const std::optional<std::string>& netns = std::nullopt);

  ~Subprocess();  // SIGKILL and reap when still running.

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  bool running();  // not yet exited (reaps it when it has)
  void Signal(int signal_number);

  // Waits for exit; the exit code, or 128+signal when killed. Error on timeout
  // (the child is left running).
  absl::StatusOr<int> Wait(absl::Duration timeout);

  std::string ReadStdout() const;
  std::string ReadStderr() const;
  // "name stderr:\n..." (last 4 KiB) for failure messages.
  std::string Describe() const;

  // Waits until PATH holds valid JSON; fails early if this process exits.
  absl::StatusOr<nlohmann::json> WaitForReadyFile(const std::string& path, absl::Duration timeout);

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string name_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// Reads a whole file ("" when missing).
std::string ReadFileOrEmpty(const std::string& path);

// Children of `pid` (such as an agent's worker processes), from /proc: every
// thread's list, as workers may be started from any thread. Empty when `pid`
// is gone.
std::vector<pid_t> ChildrenOf(pid_t pid);

// True when this process can create network namespaces (root, ip(8) present).
bool CanCreateNetns();

// A network namespace made for one test, deleted in the destructor; loopback
// is brought up. Its sysctls start at the kernel defaults.
class ScopedNetns {
 public:
  static absl::StatusOr<std::unique_ptr<ScopedNetns>> Create(const std::string& prefix);
  ~ScopedNetns();
  const std::string& name() const { return name_; }
  // Runs "ip netns exec NAME sh -c COMMAND"; the exit code.
  int Exec(const std::string& command) const;

 private:
  std::string name_;
};

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_SUBPROCESS_H_

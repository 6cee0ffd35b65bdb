#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/posix_error.h"

namespace fourtuple::testing {

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(base ? base : "/tmp", "/", prefix, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "/tmp";
  return pattern;
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    std::string text = ReadFileOrEmpty(task.path().string() + "/children");
    for (absl::string_view part : absl::StrSplit(text, ' ', absl::SkipWhitespace())) {
      pid_t child = 0;
      if (absl::SimpleAtoi(part, &child)) out.push_back(child);
    }
  }
  return out;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                              const std::string& name, const std::string& dir,
                                                              const std::optional<std::string>& netns) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::vector<std::string> full;
  if (netns) full = {"/usr/sbin/ip", "netns", "exec", *netns};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> c_argv;
  for (std::string& a : full) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);

  std::unique_ptr<Subprocess> p(new Subprocess());
  p->name_ = name;
  p->stdout_path_ = absl::StrCat(dir, "/", name, ".out");
  p->stderr_path_ = absl::StrCat(dir, "/", name, ".err");
  int out = open(p->stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(p->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) return PosixError(absl::StrCat("opening output files in ", dir), errno);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return PosixError("fork", errno);
  if (pid == 0) {
    // A test that dies must not leave servers behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  close(out);
  close(err);
  p->pid_ = pid;
  return p;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Subprocess::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void Subprocess::Signal(int signal_number) {
  if (running()) kill(pid_, signal_number);
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(name_, " (pid ", pid_, ") still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return *exit_code_;
}

std::string Subprocess::ReadStdout() const { return ReadFileOrEmpty(stdout_path_); }
std::string Subprocess::ReadStderr() const { return ReadFileOrEmpty(stderr_path_); }

std::string Subprocess::Describe() const {
  std::string err = ReadStderr();
  if (err.size() > 4096) err = "..." + err.substr(err.size() - 4096);
  return absl::StrCat(name_, " stderr:\n", err);
}

absl::StatusOr<nlohmann::json> Subprocess::WaitForReadyFile(const std::string& path, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    std::string text = ReadFileOrEmpty(path);
    if (!text.empty()) {
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    if (!running()) {
      return absl::FailedPreconditionError(
          absl::StrCat(name_, " exited with ", *exit_code_, " before writing ", path, "\n", Describe()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(name_, " wrote no ready file ", path, "\n", Describe()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

namespace {
int RunShell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
}  // namespace

bool CanCreateNetns() {
  if (geteuid() != 0) return false;
  std::string probe = absl::StrCat("ftprobe", getpid());
  if (RunShell(absl::StrCat("ip netns add ", probe, " >/dev/null 2>&1")) != 0) return false;
  RunShell(absl::StrCat("ip netns del ", probe, " >/dev/null 2>&1"));
  return true;
}

absl::StatusOr<std::unique_ptr<ScopedNetns>> ScopedNetns::Create(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::unique_ptr<ScopedNetns> ns(new ScopedNetns());
  ns->name_ = absl::StrCat(prefix, getpid(), "-", counter++);
  if (RunShell(absl::StrCat("ip netns add ", ns->name_)) != 0) {
    ns->name_.clear();
    return absl::UnavailableError(absl::StrCat("cannot create network namespace ", prefix));
  }
  if (ns->Exec("ip link set lo up") != 0) {
    return absl::UnavailableError(absl::StrCat("cannot bring up lo in ", ns->name_));
  }
  return ns;
}

ScopedNetns::~ScopedNetns() {
  if (!name_.empty()) RunShell(absl::StrCat("ip netns del ", name_, " >/dev/null 2>&1"));
}

int ScopedNetns::Exec(const std::string& command) const {
  return RunShell(absl::StrCat("ip netns exec ", name_, " sh -c '", command, "'"));
}

}  // namespace fourtuple::testing

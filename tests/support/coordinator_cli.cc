#include "tests/support/coordinator_cli.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fourtuple::testing {

Outcome RunCoordinator(const std::string& coordinator_bin, const std::vector<std::string>& args,
                       const std::string& dir, absl::Duration timeout,
                       const std::optional<std::string>& netns) {
  std::vector<std::string> argv = {coordinator_bin};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome outcome;
  auto process = Subprocess::Start(argv, "coordinator", dir, netns);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return outcome;
  auto code = (*process)->Wait(timeout);
  EXPECT_TRUE(code.ok()) << code.status() << "\n" << (*process)->Describe();
  outcome.code = code.ok() ? *code : -1;
  outcome.out = (*process)->ReadStdout();
  outcome.err = (*process)->ReadStderr();
  return outcome;
}

std::string WritePlan(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  FILE* file = std::fopen(path.c_str(), "w");
  EXPECT_NE(file, nullptr) << path;
  if (file == nullptr) return path;
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
  return path;
}

StartedAgent StartAgent(const std::vector<std::string>& argv, const std::string& name, const std::string& dir,
                        const std::optional<std::string>& netns) {
  const std::string ready = dir + "/" + name + ".ready";
  std::vector<std::string> full = argv;
  full.push_back("--listen=127.0.0.1:0");
  full.push_back("--ready-file=" + ready);
  StartedAgent agent;
  auto process = Subprocess::Start(full, name, dir, netns);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return agent;
  agent.process = std::move(*process);
  auto ready_json = agent.process->WaitForReadyFile(ready, absl::Seconds(20));
  EXPECT_TRUE(ready_json.ok()) << ready_json.status() << "\n" << agent.process->Describe();
  if (ready_json.ok()) agent.endpoint = (*ready_json)["listen"][0].get<std::string>();
  return agent;
}

std::string Hostname() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::string ClosedLoopbackEndpoint() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
}

}  // namespace fourtuple::testing

// The kernel-floor programs of bench/floor, which the benchmarks compile and
// parse: they build with the benchmarks' warning flags, floor_client
// establishes and echo-verifies every connection against floor_server and
// against target-server and prints the lines the scripts read, its snapshot
// command runs at each phase, and a refused connect shows as a failure.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::Subprocess;
using ::testing::HasSubstr;

constexpr int kConnections = 3000;

// A loopback port nothing listens on right now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

class FloorTest : public ::testing::Test {
 protected:
  // Compiles both programs as the benchmarks do (ctest runs each test in a
  // process of its own, so each compiles them). In SetUp, not
  // SetUpTestSuite: a failure there would only skip the tests.
  void SetUp() override {
    dir_ = MakeTempDir("floor-e2e");
    for (const std::string program : {"floor_server", "floor_client"}) {
      auto gcc = Subprocess::Start({"/usr/bin/env", "gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
                                    dir_ + "/" + program, absl::StrCat(FLOOR_DIR, "/", program, ".c")},
                                   "gcc-" + program, dir_);
      ASSERT_TRUE(gcc.ok()) << gcc.status();
      auto exit_code = (*gcc)->Wait(absl::Seconds(120));
      ASSERT_TRUE(exit_code.ok()) << exit_code.status();
      ASSERT_EQ(*exit_code, 0) << (*gcc)->Describe();
    }
  }
  std::string Binary(const std::string& name) { return dir_ + "/" + name; }

  // Runs floor_client with `flags`; its exit code and output.
  std::pair<int, std::string> RunClient(const std::vector<std::string>& flags, const std::string& name) {
    std::vector<std::string> argv = {Binary("floor_client")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto client = Subprocess::Start(argv, name, dir_);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return {-1, ""};
    auto exit_code = (*client)->Wait(absl::Seconds(120));
    EXPECT_TRUE(exit_code.ok()) << exit_code.status();
    return {exit_code.ok() ? *exit_code : -1, (*client)->ReadStdout() + (*client)->ReadStderr()};
  }

  std::string dir_;
};

TEST_F(FloorTest, ClientEchoVerifiesEveryConnectionAgainstFloorServer) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  auto server =
      Subprocess::Start({Binary("floor_server"), "-p", absl::StrCat(port), "-P", "2"}, "floor_server", dir_);
  ASSERT_TRUE(server.ok()) << server.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((*server)->ReadStdout().find("READY") == std::string::npos && absl::Now() < deadline) {
    ASSERT_TRUE((*server)->running()) << (*server)->Describe();
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_THAT((*server)->ReadStdout(), HasSubstr("READY"));

  const std::string hook_log = dir_ + "/hook.log";
  auto [exit_code, output] = RunClient({"-p", absl::StrCat(port), "-n", absl::StrCat(kConnections), "-q", "2",
                                        "-s", "4", "-x", "echo >> " + hook_log},
                                       "floor_client");
  EXPECT_EQ(exit_code, 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("CONNECT established=", kConnections, "/", kConnections)));
  EXPECT_THAT(output, HasSubstr("CONNECT errors: none"));
  EXPECT_THAT(output, HasSubstr("ECHO errors: none"));
  EXPECT_THAT(output, HasSubstr(absl::StrCat("RESULT n=", kConnections, " q=2 s=4 ")));
  EXPECT_THAT(output,
              HasSubstr(absl::StrCat(" established=", kConnections, " verified=", kConnections, " ")));
  EXPECT_THAT(output, HasSubstr(" conn_per_s="));
  EXPECT_THAT(output, HasSubstr(" echo_per_s="));
  EXPECT_EQ(ReadFileOrEmpty(hook_log), absl::StrCat("base ", kConnections, "\nhold ", kConnections, "\necho ",
                                                    kConnections, "\nclosed ", kConnections, "\n"));

  (*server)->Signal(SIGTERM);
  auto server_exit = (*server)->Wait(absl::Seconds(20));
  ASSERT_TRUE(server_exit.ok()) << server_exit.status();
  EXPECT_EQ(*server_exit, 0) << (*server)->Describe();
  EXPECT_THAT((*server)->ReadStdout(),
              HasSubstr(absl::StrCat("SERVER accepted=", kConnections, " closed=", kConnections, " ")));
  EXPECT_THAT((*server)->ReadStdout(), HasSubstr("accept_errors: none"));
}

TEST_F(FloorTest, ClientEchoVerifiesEveryConnectionAgainstTargetServer) {
  const std::string ready = dir_ + "/target.json";
  auto server =
      Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=2", "--ready-file=" + ready},
                        "target-server", dir_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto json = (*server)->WaitForReadyFile(ready, absl::Seconds(20));
  ASSERT_TRUE(json.ok()) << json.status();
  const std::string listen = (*json)["listen"][0].get<std::string>();
  const std::string port = listen.substr(listen.rfind(':') + 1);

  auto [exit_code, output] = RunClient(
      {"-p", port, "-n", absl::StrCat(kConnections), "-q", "2", "-s", "4", "-G"}, "floor_client_target");
  EXPECT_EQ(exit_code, 0) << output;
  EXPECT_THAT(output,
              HasSubstr(absl::StrCat(" established=", kConnections, " verified=", kConnections, " ")));
  (*server)->Signal(SIGTERM);
  auto server_exit = (*server)->Wait(absl::Seconds(20));
  ASSERT_TRUE(server_exit.ok()) << server_exit.status();
  EXPECT_EQ(*server_exit, 0) << (*server)->Describe();
}

TEST_F(FloorTest, RefusedConnectsFailTheRunWithTheirErrnoName) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  auto [exit_code, output] =
      RunClient({"-p", absl::StrCat(port), "-n", "50", "-s", "2"}, "floor_client_refused");
  EXPECT_EQ(exit_code, 1) << output;
  EXPECT_THAT(output, HasSubstr("CONNECT established=0/50"));
  EXPECT_THAT(output, HasSubstr("CONNECT errors: ECONNREFUSED=50"));
  EXPECT_THAT(output, HasSubstr(" established=0 verified=0 "));
}

TEST_F(FloorTest, ClientRefusesMoreConnectionsPerWorkerThanItsFdLimit) {
  auto [exit_code, output] = RunClient({"-n", "100000000", "-q", "1"}, "floor_client_too_many");
  EXPECT_EQ(exit_code, 2) << output;
  EXPECT_THAT(output, HasSubstr("raise -q"));
}

}  // namespace
}  // namespace fourtuple

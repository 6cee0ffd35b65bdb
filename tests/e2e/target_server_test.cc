// target-server end to end: the real binary on loopback, driven by the
// EchoClient (forked processes, 8 source addresses) and read back through its
// stats lines and TargetControl.GetStats. Also: several listeners, workers
// taking over when one is at its fd budget, a dead worker, signals, and bad
// command lines.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/address.h"
#include "common/host_facts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/echo_client.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::EchoClient;
using ::fourtuple::testing::EchoClientOptions;
using ::fourtuple::testing::EchoClientResult;
using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Subprocess;
using ::testing::HasSubstr;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kSettleTimeout = absl::Seconds(30);

// A started target-server and what its ready file said.
struct Server {
  std::unique_ptr<Subprocess> process;
  std::string dir;
  std::vector<Endpoint> listen;
  std::string control;
  size_t lines_seen = 0;  // stats lines already looked at
};

// Starts target-server with `flags` plus --ready-file (and optionally a
// wrapper such as prlimit in front).
Server StartServer(const std::vector<std::string>& flags, const std::vector<std::string>& wrapper = {}) {
  Server server;
  server.dir = MakeTempDir("target-server-e2e");
  const std::string ready = server.dir + "/ready.json";
  std::vector<std::string> argv = wrapper;
  argv.push_back(TARGET_SERVER_BIN);
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back("--ready-file=" + ready);
  auto process = Subprocess::Start(argv, "target-server", server.dir);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return server;
  server.process = *std::move(process);
  auto json = server.process->WaitForReadyFile(ready, kStartTimeout);
  EXPECT_TRUE(json.ok()) << json.status();
  if (!json.ok()) return server;
  EXPECT_TRUE((*json)["listen"].is_array()) << json->dump();
  for (const auto& text : (*json)["listen"]) {
    auto endpoint = ParseEndpoint(text.get<std::string>());
    EXPECT_TRUE(endpoint.ok()) << endpoint.status();
    if (endpoint.ok()) server.listen.push_back(*endpoint);
  }
  if (json->contains("control")) server.control = (*json)["control"].get<std::string>();
  return server;
}

// The first stats line not yet seen that satisfies `want`; lines that do
// not are skipped. Fails after `timeout`.
absl::StatusOr<nlohmann::json> WaitForStatsLine(Server& server,
                                                const std::function<bool(const nlohmann::json&)>& want,
                                                absl::Duration timeout = kSettleTimeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  for (;;) {
    std::string out = server.process->ReadStdout();
    // Only whole lines: the server writes each with one write(2).
    size_t end = out.rfind('\n');
    std::vector<std::string> lines;
    if (end != std::string::npos) {
      lines = absl::StrSplit(out.substr(0, end), '\n');
    }
    for (; server.lines_seen < lines.size(); ++server.lines_seen) {
      last = lines[server.lines_seen];
      nlohmann::json line = nlohmann::json::parse(last, nullptr, false);
      if (line.is_discarded()) {
        return absl::InternalError(absl::StrCat("stdout line is not JSON: ", last));
      }
      if (want(line)) {
        ++server.lines_seen;
        return line;
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no such stats line; last: ", last, "\n", server.process->Describe()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<v1::TargetStats> GetStats(const std::string& control) {
  auto channel = grpc::CreateChannel(control, grpc::InsecureChannelCredentials());
  auto stub = v1::TargetControl::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::TargetStats stats;
  grpc::Status status = stub->GetStats(&context, v1::GetStatsRequest(), &stats);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return stats;
}

std::vector<IpAddress> Sources(const std::string& spec) {
  auto sources = ParseAddressSpec(spec);
  EXPECT_TRUE(sources.ok()) << sources.status();
  return sources.ok() ? *sources : std::vector<IpAddress>{};
}

uint64_t Number(const nlohmann::json& line, const char* key) { return line[key].get<uint64_t>(); }

// The final line printed at shutdown.
nlohmann::json FinalLine(const Subprocess& process) {
  std::string out = process.ReadStdout();
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  if (lines.empty()) return nlohmann::json();
  nlohmann::json last = nlohmann::json::parse(lines.back(), nullptr, false);
  return last.is_discarded() ? nlohmann::json() : last;
}

TEST(TargetServerTest, Holds25000ConnectionsFrom8SourcesAndEchoesEach) {
  constexpr uint64_t kConnections = 25000;
  constexpr uint32_t kPayload = 24;
  Server server = StartServer(
      {"--processes=2", "--listen=127.0.0.1:0", "--stats-interval=200ms", "--control=127.0.0.1:0"});
  ASSERT_NE(server.process, nullptr);
  ASSERT_EQ(server.listen.size(), 1u);
  ASSERT_NE(server.listen[0].port, 0) << "port 0 not resolved in the ready file";
  ASSERT_FALSE(server.control.empty());
  Subprocess& process = *server.process;

  // Forked before this process makes any gRPC channel (threads).
  EchoClientOptions options;
  options.targets = server.listen;
  options.sources = Sources("127.0.1.1-127.0.1.8");
  options.connections = kConnections;
  options.processes = 2;  // 12,500 sockets each: one process could not hold 25,000
  options.payload_bytes = kPayload;
  auto client = EchoClient::Start(options);
  ASSERT_TRUE(client.ok()) << client.status();

  absl::StatusOr<EchoClientResult> result = (*client)->Connect();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->established, kConnections) << result->ToString() << process.Describe();
  ASSERT_EQ(result->established_by_source.size(), 8u);
  for (const auto& [source, count] : result->established_by_source) {
    EXPECT_EQ(count, kConnections / 8) << source;
  }

  result = (*client)->Echo();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->echo_verified, kConnections) << result->ToString() << process.Describe();
  EXPECT_EQ(result->echo_mismatched, 0u);

  // The stats line catches up with what the client sees.
  auto line = WaitForStatsLine(server, [&](const nlohmann::json& l) {
    return Number(l, "open") == kConnections && Number(l, "bytes_echoed") == kConnections * kPayload;
  });
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(Number(*line, "accepted"), kConnections);
  EXPECT_EQ(Number(*line, "closed"), 0u);
  EXPECT_TRUE((*line)["accept_errors"].is_object());
  EXPECT_TRUE((*line)["accept_errors"].empty()) << line->dump();
  EXPECT_GT((*line)["t"].get<double>(), 1.6e9);

  auto stats = GetStats(server.control);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->total().open(), kConnections);
  EXPECT_EQ(stats->total().accepted(), kConnections);
  EXPECT_EQ(stats->total().bytes_echoed(), kConnections * kPayload);
  ASSERT_EQ(stats->workers_size(), 2);
  uint64_t sum = 0;
  for (const v1::TargetCounters& worker : stats->workers()) sum += worker.open();
  EXPECT_EQ(sum, kConnections);
  // No worker can hold all 25,000 under a 20000-fd limit: both took some.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (FdBudgetPerProcess(limit.rlim_max) < kConnections) {
    EXPECT_GT(stats->workers(0).open(), 0u);
    EXPECT_GT(stats->workers(1).open(), 0u);
  }
  ASSERT_EQ(stats->listen_size(), 1);
  EXPECT_EQ(stats->listen(0), server.listen[0].ToString());
  EXPECT_GT(stats->uptime_seconds(), 0);

  result = (*client)->CloseAll();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->closed, kConnections);
  line = WaitForStatsLine(server, [&](const nlohmann::json& l) { return Number(l, "open") == 0; });
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(Number(*line, "closed"), kConnections);
  EXPECT_EQ(Number(*line, "accepted"), kConnections);
  stats = GetStats(server.control);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->total().open(), 0u);
  EXPECT_EQ(stats->total().closed(), kConnections);

  process.Signal(SIGTERM);
  auto code = process.Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << process.Describe();
  nlohmann::json final_line = FinalLine(process);
  ASSERT_TRUE(final_line.is_object()) << process.ReadStdout();
  EXPECT_TRUE(final_line.value("final", false));
  EXPECT_EQ(Number(final_line, "accepted"), kConnections);
  EXPECT_EQ(Number(final_line, "open"), 0u);
}

TEST(TargetServerTest, SigtermClosesHeldConnectionsAndPrintsFinalCounters) {
  constexpr uint64_t kConnections = 2000;
  Server server = StartServer({"--processes=2", "--listen=127.0.0.1:0"});
  ASSERT_NE(server.process, nullptr);
  EchoClientOptions options;
  options.targets = server.listen;
  options.sources = Sources("127.0.1.1-127.0.1.8");
  options.connections = kConnections;
  auto client = EchoClient::Start(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto result = (*client)->Connect();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->established, kConnections);
  result = (*client)->Echo();  // proves every connection was accepted
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->echo_verified, kConnections);

  // Without --stats-interval nothing is printed until the end.
  EXPECT_EQ(server.process->ReadStdout(), "");
  server.process->Signal(SIGTERM);
  auto code = server.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server.process->Describe();
  nlohmann::json final_line = FinalLine(*server.process);
  ASSERT_TRUE(final_line.is_object()) << server.process->ReadStdout();
  EXPECT_TRUE(final_line.value("final", false));
  EXPECT_EQ(Number(final_line, "accepted"), kConnections);
  EXPECT_EQ(Number(final_line, "closed"), kConnections);
  EXPECT_EQ(Number(final_line, "open"), 0u);

  // The server closed its side: every client connection sees EOF.
  result = (*client)->Echo();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->closed_by_peer, kConnections) << result->ToString();
}

TEST(TargetServerTest, SigintAlsoStopsCleanly) {
  Server server = StartServer({"--processes=2", "--listen=127.0.0.1:0"});
  ASSERT_NE(server.process, nullptr);
  server.process->Signal(SIGINT);
  auto code = server.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server.process->Describe();
  EXPECT_TRUE(FinalLine(*server.process).value("final", false)) << server.process->ReadStdout();
}

// With RLIMIT_NOFILE at 1100, each worker holds at most 1034 connections:
// 2,500 over two listeners need all three workers, and every one of them
// must be accepted (each echo-verified) although the first worker to wake
// would take them all if it could.
TEST(TargetServerTest, WorkersAtTheirBudgetLeaveConnectionsToTheOthers) {
  constexpr uint64_t kConnections = 2500;
  constexpr uint64_t kBudget = 1100 - kFdReserve - 2;  // less one fd per listener
  Server server = StartServer({"--processes=3", "--listen=127.0.0.1:0,127.0.0.2:0", "--control=127.0.0.1:0",
                               "--stats-interval=100ms"},
                              {"/usr/bin/prlimit", "--nofile=1100:1100", "--"});
  ASSERT_NE(server.process, nullptr);
  ASSERT_EQ(server.listen.size(), 2u);
  EXPECT_EQ(server.listen[0].address.ToString(), "127.0.0.1") << "listen keeps the given order";
  EXPECT_EQ(server.listen[1].address.ToString(), "127.0.0.2");
  EXPECT_NE(server.listen[0].port, 0);
  EXPECT_NE(server.listen[1].port, 0);

  EchoClientOptions options;
  options.targets = server.listen;
  options.sources = Sources("127.0.1.1-127.0.1.8");
  options.connections = kConnections;
  auto client = EchoClient::Start(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto result = (*client)->Connect();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->established, kConnections);
  result = (*client)->Echo();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->echo_verified, kConnections) << result->ToString() << server.process->Describe();

  auto line =
      WaitForStatsLine(server, [&](const nlohmann::json& l) { return Number(l, "open") == kConnections; });
  ASSERT_TRUE(line.ok()) << line.status();
  auto stats = GetStats(server.control);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->workers_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(stats->workers(i).open(), 0u) << "worker " << i;
    EXPECT_LE(stats->workers(i).open(), kBudget) << "worker " << i;
  }
  EXPECT_EQ(stats->total().open(), kConnections);
  EXPECT_EQ(stats->total().accept_errors_size(), 0) << stats->DebugString();
  ASSERT_EQ(stats->listen_size(), 2);
  EXPECT_EQ(stats->listen(1), server.listen[1].ToString());

  result = (*client)->CloseAll();
  ASSERT_TRUE(result.ok()) << result.status();
  server.process->Signal(SIGTERM);
  auto code = server.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server.process->Describe();
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::string text = testing::ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  for (absl::string_view part : absl::StrSplit(text, ' ', absl::SkipWhitespace())) {
    pid_t child = 0;
    if (absl::SimpleAtoi(part, &child)) out.push_back(child);
  }
  return out;
}

TEST(TargetServerTest, ADeadWorkerIsNoticedAndTheOthersGoOn) {
  constexpr uint64_t kConnections = 1000;
  Server server = StartServer({"--processes=2", "--listen=127.0.0.1:0", "--control=127.0.0.1:0"});
  ASSERT_NE(server.process, nullptr);
  EchoClientOptions options;
  options.targets = server.listen;
  options.sources = Sources("127.0.1.1-127.0.1.4");
  options.connections = kConnections;
  auto client = EchoClient::Start(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto result = (*client)->Connect();
  ASSERT_TRUE(result.ok()) << result.status();
  result = (*client)->Echo();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->echo_verified, kConnections);
  auto before = GetStats(server.control);
  ASSERT_TRUE(before.ok()) << before.status();

  std::vector<pid_t> workers = ChildrenOf(server.process->pid());
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_EQ(kill(workers[0], SIGKILL), 0);

  // The parent logs it, keeps serving and counts that worker's connections
  // as closed.
  absl::Time deadline = absl::Now() + kSettleTimeout;
  while (server.process->ReadStderr().find("killed by SIGKILL") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(server.process->ReadStderr(), HasSubstr("killed by SIGKILL"));
  ASSERT_TRUE(server.process->running());
  auto after = GetStats(server.control);
  ASSERT_TRUE(after.ok()) << after.status();
  int dead = -1;
  for (int i = 0; i < 2; ++i) {
    if (after->total().open() == before->total().open() - before->workers(i).open() &&
        after->workers(i).open() == 0) {
      dead = i;
    }
  }
  ASSERT_NE(dead, -1) << "before:\n" << before->DebugString() << "after:\n" << after->DebugString();
  // GetStats says which worker is dead, not just that it holds nothing.
  EXPECT_TRUE(before->workers(0).alive() && before->workers(1).alive()) << before->DebugString();
  EXPECT_FALSE(after->workers(dead).alive()) << after->DebugString();
  EXPECT_TRUE(after->workers(1 - dead).alive()) << after->DebugString();
  EXPECT_EQ(after->total().closed(), before->workers(dead).open());

  // The survivor still echoes; the dead worker's connections were reset.
  result = (*client)->Echo();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->echo_verified, kConnections + after->total().open()) << result->ToString();
  EXPECT_EQ(result->closed_by_peer, before->workers(dead).open()) << result->ToString();

  server.process->Signal(SIGTERM);
  auto code = server.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server.process->Describe();
}

// Runs target-server expecting it to fail before it is ready.
struct Failure {
  int exit_code = -1;
  std::string stderr_text;
  bool wrote_ready_file = false;
};

Failure RunExpectingFailure(const std::vector<std::string>& flags) {
  Failure failure;
  std::string dir = MakeTempDir("target-server-bad");
  std::string ready = dir + "/ready.json";
  std::vector<std::string> argv = {TARGET_SERVER_BIN};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back("--ready-file=" + ready);
  auto process = Subprocess::Start(argv, "target-server", dir);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return failure;
  auto code = (*process)->Wait(absl::Seconds(20));
  EXPECT_TRUE(code.ok()) << code.status();
  if (code.ok()) failure.exit_code = *code;
  failure.stderr_text = (*process)->ReadStderr();
  failure.wrote_ready_file = !testing::ReadFileOrEmpty(ready).empty();
  return failure;
}

TEST(TargetServerBadInputTest, UnparseableListenExits2NamingTheFlag) {
  for (const char* listen :
       {"--listen=127.0.0.1:notaport", "--listen=127.0.0.1", "--listen=", "--listen=999.1.1.1:80"}) {
    Failure failure = RunExpectingFailure({listen, "--processes=1"});
    EXPECT_EQ(failure.exit_code, 2) << listen << "\n" << failure.stderr_text;
    EXPECT_THAT(failure.stderr_text, HasSubstr("--listen")) << listen;
    EXPECT_FALSE(failure.wrote_ready_file);
  }
}

TEST(TargetServerBadInputTest, ListenAddressInUseExits1NamingTheFlag) {
  int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 16), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string busy = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  // In use as the only listener, and as the second of two.
  for (const std::string& listen :
       {absl::StrCat("--listen=", busy), absl::StrCat("--listen=127.0.0.1:0,", busy)}) {
    Failure failure = RunExpectingFailure({listen, "--processes=2"});
    EXPECT_EQ(failure.exit_code, 1) << listen << "\n" << failure.stderr_text;
    EXPECT_THAT(failure.stderr_text, HasSubstr("--listen"));
    EXPECT_THAT(failure.stderr_text, HasSubstr("EADDRINUSE"));
    EXPECT_THAT(failure.stderr_text, HasSubstr(busy));
    EXPECT_FALSE(failure.wrote_ready_file);
  }

  // The control port likewise.
  Failure failure = RunExpectingFailure({"--listen=127.0.0.1:0", "--processes=1", "--control=" + busy});
  EXPECT_EQ(failure.exit_code, 1) << failure.stderr_text;
  EXPECT_THAT(failure.stderr_text, HasSubstr("--control"));
  EXPECT_FALSE(failure.wrote_ready_file);
  close(holder);
}

TEST(TargetServerBadInputTest, ProcessesZeroExits2NamingTheFlag) {
  for (const char* processes : {"--processes=0", "--processes=-1", "--processes=two"}) {
    Failure failure = RunExpectingFailure({"--listen=127.0.0.1:0", processes});
    EXPECT_EQ(failure.exit_code, 2) << processes << "\n" << failure.stderr_text;
    EXPECT_THAT(failure.stderr_text, HasSubstr("--processes")) << processes;
    EXPECT_FALSE(failure.wrote_ready_file);
  }
}

TEST(TargetServerBadInputTest, BadDurationAndNumbersExit2NamingTheFlag) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--stats-interval=soon", "--stats-interval"},
      {"--stats-interval=5", "--stats-interval"},
      {"--backlog=-5", "--backlog"},
      {"--rcvbuf=lots", "--rcvbuf"},
      {"--control=nowhere", "--control"},
  };
  for (const auto& [flag, name] : cases) {
    Failure failure = RunExpectingFailure({"--listen=127.0.0.1:0", "--processes=1", flag});
    EXPECT_EQ(failure.exit_code, 2) << flag << "\n" << failure.stderr_text;
    EXPECT_THAT(failure.stderr_text, HasSubstr(name)) << flag;
  }
}

// --help prints the usage and every flag, on stdout, and exits 0.
TEST(TargetServerBadInputTest, HelpPrintsUsageAndExitsZero) {
  const std::string dir = MakeTempDir("target-server-help");
  for (const char* help : {"--help", "-h"}) {
    auto process = Subprocess::Start({TARGET_SERVER_BIN, help}, "target-server", dir);
    ASSERT_TRUE(process.ok()) << process.status();
    auto code = (*process)->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << help << "\n" << (*process)->Describe();
    const std::string out = (*process)->ReadStdout();
    EXPECT_THAT(out, HasSubstr("target-server --listen=")) << help;
    EXPECT_THAT(out, HasSubstr("--stats-interval")) << help;
    EXPECT_THAT(out, HasSubstr("--token-file")) << help;
    EXPECT_THAT((*process)->ReadStderr(), ::testing::Not(HasSubstr("unknown flag"))) << help;
  }
}

// absl alone would exit 1 on an unknown flag: every program exits 2 on a bad
// command line and names what was wrong.
TEST(TargetServerBadInputTest, UnknownFlagOrStrayArgumentExits2NamingIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--no-such-flag=1", "unknown flag --no-such-flag"},
      {"--stats-intervall=1s", "unknown flag --stats-intervall"},
      {"stray", "unexpected argument \"stray\""},
  };
  for (const auto& [flag, message] : cases) {
    Failure failure = RunExpectingFailure({"--listen=127.0.0.1:0", "--processes=1", flag});
    EXPECT_EQ(failure.exit_code, 2) << flag << "\n" << failure.stderr_text;
    EXPECT_THAT(failure.stderr_text, HasSubstr(message)) << flag;
    EXPECT_FALSE(failure.wrote_ready_file);
  }
}

}  // namespace
}  // namespace fourtuple

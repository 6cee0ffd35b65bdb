// The gRPC fronts (the agent, target-server's --control) against callers
// that connect and say nothing, with the real binaries on loopback: a burst
// of idle connections that exhausts a server's descriptors must not leave
// it deaf, idle connections are shed while the burst lasts, and Run streams
// that never send their assignment neither pile up nor hold threads.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/expect_contains.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Subprocess;

// Low enough that a few hundred idle connections exhaust the server.
constexpr char kNofile[] = "--nofile=256:256";
constexpr int kBurst = 400;

struct Server {
  std::unique_ptr<Subprocess> process;
  std::string endpoint;  // the gRPC front
};

// Starts `binary` with `args` under `prlimit` when it is not empty; the
// gRPC endpoint is the ready file's `key` (a string or the first of a list).
Server Start(const std::string& binary, std::vector<std::string> args, const std::string& key,
             const std::string& dir, const std::string& prlimit) {
  Server server;
  const std::string ready = dir + "/" + key + ".ready";
  args.insert(args.begin(), binary);
  if (!prlimit.empty()) args.insert(args.begin(), {"/usr/bin/prlimit", prlimit});
  args.push_back("--ready-file=" + ready);
  auto process = Subprocess::Start(args, key, dir);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return server;
  server.process = std::move(*process);
  auto json = server.process->WaitForReadyFile(ready, absl::Seconds(30));
  EXPECT_TRUE(json.ok()) << json.status() << server.process->Describe();
  if (!json.ok()) return server;
  const nlohmann::json& value = (*json)[key];
  server.endpoint = value.is_array() ? value[0].get<std::string>() : value.get<std::string>();
  return server;
}

Server StartAgent(const std::string& dir, const std::string& prlimit, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--listen=127.0.0.1:0", "--processes=1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Start(AGENT_BIN, args, "listen", dir, prlimit);
}

Server StartTargetControl(const std::string& dir, const std::string& prlimit) {
  return Start(TARGET_SERVER_BIN, {"--listen=127.0.0.1:0", "--processes=1", "--control=127.0.0.1:0"},
               "control", dir, prlimit);
}

// One call to the front with a short deadline: Probe for the agent, GetStats
// for target-server.
using Call = std::function<grpc::Status(const std::string& endpoint)>;

grpc::Status Probe(const std::string& endpoint) {
  auto stub = v1::Agent::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  v1::HostFacts facts;
  return stub->Probe(&context, v1::ProbeRequest(), &facts);
}

grpc::Status GetStats(const std::string& endpoint) {
  auto stub = v1::TargetControl::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  v1::TargetStats stats;
  return stub->GetStats(&context, v1::GetStatsRequest(), &stats);
}

// Calls until one succeeds or `within` has passed; the last status.
grpc::Status ServesWithin(const Call& call, const std::string& endpoint, absl::Duration within) {
  const absl::Time give_up = absl::Now() + within;
  grpc::Status status;
  do {
    status = call(endpoint);
    if (status.ok()) return status;
  } while (absl::Now() < give_up);
  return status;
}

// `count` TCP connections to `endpoint` (127.0.0.1:PORT) that send nothing.
std::vector<int> OpenIdle(const std::string& endpoint, int count) {
  std::vector<std::string> parts = absl::StrSplit(endpoint, ':');
  int port = 0;
  EXPECT_TRUE(parts.size() == 2 && absl::SimpleAtoi(parts[1], &port)) << endpoint;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, parts[0].c_str(), &address.sin_addr);
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  return fds;
}

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

// How many of `fds` the server has closed: past what it sent (its HTTP/2
// SETTINGS), a read sees end of file or a reset.
int ClosedByServer(const std::vector<int>& fds) {
  int closed = 0;
  for (int fd : fds) {
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT)) > 0) {
    }
    if (n == 0 || (n < 0 && errno == ECONNRESET)) ++closed;
  }
  return closed;
}

void Stop(Server& server) {
  if (!server.process) return;
  server.process->Signal(SIGTERM);
  auto code = server.process->Wait(absl::Seconds(30));
  EXPECT_TRUE(code.ok() && *code == 0) << server.process->Describe();
}

// A burst of idle connections beyond the server's descriptors, then closed:
// the front must answer again at once.
void ExpectServesAfterBurst(Server& server, const Call& call) {
  ASSERT_FALSE(server.endpoint.empty());
  ASSERT_TRUE(call(server.endpoint).ok()) << server.process->Describe();
  std::vector<int> burst = OpenIdle(server.endpoint, kBurst);
  EXPECT_EQ(burst.size(), static_cast<size_t>(kBurst));
  absl::SleepFor(absl::Seconds(1));  // the server accepts what it can
  CloseAll(burst);
  grpc::Status status = ServesWithin(call, server.endpoint, absl::Seconds(5));
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message() << "\n"
                           << server.process->Describe();
  EXPECT_TRUE(server.process->running());
  Stop(server);
}

TEST(HardeningTest, AgentServesAgainAfterAnIdleBurstExhaustedItsDescriptors) {
  const std::string dir = MakeTempDir("ft-hardening-agent-burst");
  Server agent = StartAgent(dir, kNofile);
  ExpectServesAfterBurst(agent, Probe);
}

TEST(HardeningTest, TargetControlServesAgainAfterAnIdleBurstExhaustedItsDescriptors) {
  const std::string dir = MakeTempDir("ft-hardening-target-burst");
  Server target = StartTargetControl(dir, kNofile);
  ExpectServesAfterBurst(target, GetStats);
}

// While the burst is still open, the server closes the connections that
// never spoke (at the handshake deadline) and serves a well-behaved caller.
void ExpectShedsWhileBurstLasts(Server& server, const Call& call) {
  ASSERT_FALSE(server.endpoint.empty());
  std::vector<int> burst = OpenIdle(server.endpoint, kBurst);
  EXPECT_EQ(burst.size(), static_cast<size_t>(kBurst));
  grpc::Status status = ServesWithin(call, server.endpoint, absl::Seconds(20));
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message() << "\n"
                           << server.process->Describe();
  // Every one is closed: shed at once, or at the handshake deadline.
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (ClosedByServer(burst) < kBurst && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(ClosedByServer(burst), kBurst);
  CloseAll(burst);
  Stop(server);
}

TEST(HardeningTest, AgentShedsIdleConnectionsWhileTheBurstLasts) {
  const std::string dir = MakeTempDir("ft-hardening-agent-shed");
  Server agent = StartAgent(dir, kNofile);
  ExpectShedsWhileBurstLasts(agent, Probe);
}

TEST(HardeningTest, TargetControlShedsIdleConnectionsWhileTheBurstLasts) {
  const std::string dir = MakeTempDir("ft-hardening-target-shed");
  Server target = StartTargetControl(dir, kNofile);
  ExpectShedsWhileBurstLasts(target, GetStats);
}

// Run streams that never send their assignment: past the limit they are
// refused at once with RESOURCE_EXHAUSTED naming it, the others are
// cancelled after --assignment-timeout, which frees their handler threads.
TEST(HardeningTest, SilentRunStreamsAreBoundedAndCancelled) {
  const std::string dir = MakeTempDir("ft-hardening-silent-runs");
  Server agent = StartAgent(dir, "", {"--assignment-timeout=2s"});
  ASSERT_FALSE(agent.endpoint.empty());

  auto channel = grpc::CreateChannel(agent.endpoint, grpc::InsecureChannelCredentials());
  auto stub = v1::Agent::NewStub(channel);
  constexpr int kStreams = 24;
  struct Silent {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::RunCommand, v1::RunReport>> stream;
  };
  std::vector<std::unique_ptr<Silent>> silent;
  for (int i = 0; i < kStreams; ++i) {
    auto call = std::make_unique<Silent>();
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
    call->stream = stub->Run(&call->context);
    silent.push_back(std::move(call));
  }
  // The refused ones end at once; the rest are held until the timeout.
  const absl::Time opened = absl::Now();
  int refused = 0;
  int cancelled = 0;
  for (auto& call : silent) {
    v1::RunReport report;
    EXPECT_FALSE(call->stream->Read(&report));
    grpc::Status status = call->stream->Finish();
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_CONTAINS(status.error_message(), "agent has 8 Run streams open, its limit");
    } else {
      ++cancelled;
      EXPECT_NE(status.error_code(), grpc::StatusCode::OK);
    }
  }
  EXPECT_EQ(refused, kStreams - 8);
  EXPECT_EQ(cancelled, 8);
  EXPECT_LT(absl::Now() - opened, absl::Seconds(10)) << "silent streams were held past the timeout";
  EXPECT_TRUE(ServesWithin(Probe, agent.endpoint, absl::Seconds(5)).ok());
  Stop(agent);
}

}  // namespace
}  // namespace fourtuple

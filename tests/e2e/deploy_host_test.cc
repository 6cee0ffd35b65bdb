// deploy/host/: sources.sh run for real inside a throwaway network namespace
// (add twice, list, del twice), and the sysctl.d and limits.d files checked
// against this kernel — parsed, never applied (tests leave global sysctls alone).
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::ScopedNetns;

const std::string kHostDir = std::string(SOURCE_DIR) + "/deploy/host";

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class SourcesScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::CanCreateNetns())
      GTEST_SKIP() << "cannot create a network namespace here (needs root and ip(8))";
    auto ns = ScopedNetns::Create("ft-sources");
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::move(*ns);
    dir_ = MakeTempDir("ft-sources");
    // A host interface with its own /24 address, which del must never touch.
    ASSERT_EQ(ns_->Exec("ip link add lab0 type veth peer name lab1 && ip link set lab0 up && "
                        "ip addr add 10.9.0.1/24 dev lab0"),
              0);
  }

  // Runs sources.sh ARGS in the namespace; its exit code. Output in out_/err_.
  int Sources(const std::string& args) {
    int code = ns_->Exec(absl::StrCat(kHostDir, "/sources.sh ", args, " >", dir_, "/out 2>", dir_, "/err"));
    out_ = ReadFileOrEmpty(dir_ + "/out");
    err_ = ReadFileOrEmpty(dir_ + "/err");
    return code;
  }

  // lab0's IPv4 addresses as "ADDR/LEN", in the kernel's order.
  std::vector<std::string> KernelAddresses() {
    EXPECT_EQ(ns_->Exec(absl::StrCat("ip -4 -o addr show dev lab0 | awk \"{print \\$4}\" >", dir_, "/addrs")),
              0);
    return Lines(ReadFileOrEmpty(dir_ + "/addrs"));
  }

  std::unique_ptr<ScopedNetns> ns_;
  std::string dir_;
  std::string out_;
  std::string err_;
};

TEST_F(SourcesScriptTest, AddTwiceListDelTwice) {
  ASSERT_EQ(Sources("add lab0 198.18.5.2-198.18.5.9"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: added 8 of 8 address(es) on lab0\n");
  // Overlapping block: only the two new addresses are added, none twice.
  ASSERT_EQ(Sources("add lab0 198.18.5.0/29"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: added 2 of 8 address(es) on lab0\n");
  ASSERT_EQ(Sources("add lab0 198.18.5.0/29"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: added 0 of 8 address(es) on lab0\n");
  EXPECT_EQ(KernelAddresses().size(), 11u);  // 10.9.0.1/24 + 198.18.5.0-9

  ASSERT_EQ(Sources("list lab0"), 0) << err_;
  std::vector<std::string> expected;
  for (int i = 0; i <= 9; ++i) expected.push_back(absl::StrCat("198.18.5.", i));
  EXPECT_EQ(Lines(out_), expected);  // numeric order; the /24 address is not an alias
  ASSERT_EQ(Sources("list lab0 198.18.5.8/31"), 0) << err_;
  EXPECT_EQ(Lines(out_), (std::vector<std::string>{"198.18.5.8", "198.18.5.9"}));

  ASSERT_EQ(Sources("del lab0 198.18.5.0/29"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: removed 8 of 8 address(es) on lab0\n");
  ASSERT_EQ(Sources("del lab0 198.18.5.0/29"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: removed 0 of 8 address(es) on lab0\n");
  EXPECT_EQ(KernelAddresses(), (std::vector<std::string>{"10.9.0.1/24", "198.18.5.8/32", "198.18.5.9/32"}));

  // del removes only /32 aliases: the interface's own /24 address stays.
  ASSERT_EQ(Sources("del lab0 10.9.0.0/24"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: removed 0 of 256 address(es) on lab0\n");
  ASSERT_EQ(Sources("del lab0 198.18.5.8-198.18.5.9"), 0) << err_;
  EXPECT_EQ(KernelAddresses(), (std::vector<std::string>{"10.9.0.1/24"}));
  ASSERT_EQ(Sources("list lab0"), 0) << err_;
  EXPECT_EQ(out_, "");
}

TEST_F(SourcesScriptTest, BadInputExitsTwoNamingIt) {
  const std::map<std::string, std::string> cases = {
      {"add lab0 198.18.5.4/29", "bits set past the /29 prefix (did you mean 198.18.5.0/29?)"},
      {"add lab0 198.18.5.256", "'198.18.5.256' is not an IPv4 address"},
      {"add lab0 198.18.5.9-198.18.5.1", "the first address is after the last"},
      {"add lab0 10.0.0.0/8", "'10.0.0.0/8' is 16777216 addresses; at most 65536 a call"},
      {"add nosuch0 198.18.5.1", "no interface 'nosuch0'"},
      {"add lab0", "add needs CIDR|RANGE"},
      {"move lab0 198.18.5.1", "unknown command 'move'"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_EQ(Sources(args), 2) << args;
    EXPECT_NE(err_.find(message), std::string::npos) << args << ": " << err_;
  }
  EXPECT_EQ(KernelAddresses(), (std::vector<std::string>{"10.9.0.1/24"}));
}

// Every "key = value" of the sysctl.d file: a key this kernel knows, a whole
// number value, and a comment saying why right above its group.
// anyip: one local route per prefix, IPv4 and IPv6, idempotent both ways;
// the kernel then binds any address inside it, with no alias per address.
TEST_F(SourcesScriptTest, AnyipAddTwiceListBindDelTwice) {
  ASSERT_EQ(Sources("anyip add lo 198.18.0.0/15"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: 198.18.0.0/15 is local on lo\n");
  ASSERT_EQ(Sources("anyip add lo 198.18.0.0/15"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: 198.18.0.0/15 is already local on lo\n");
  ASSERT_EQ(Sources("anyip add lo 2001:db8:7::/64"), 0) << err_;
  ASSERT_EQ(Sources("anyip list lo"), 0) << err_;
  EXPECT_EQ(out_, "127.0.0.0/8\n198.18.0.0/15\n2001:db8:7::/64\n");
  // The routes are what the kernel reads: an address deep inside binds
  // (IPv4 as it is, IPv6 with IP_FREEBIND, which python's socket module sets
  // by number: 15).
  const std::string bind4 = dir_ + "/bind4.py", bind6 = dir_ + "/bind6.py";
  std::ofstream(bind4) << "import socket\nsocket.socket().bind((\"198.19.254.3\", 0))\n";
  std::ofstream(bind6) << "import socket\ns = socket.socket(socket.AF_INET6)\n"
                       << "s.setsockopt(socket.SOL_IP, 15, 1)\ns.bind((\"2001:db8:7::1234:5678\", 0))\n";
  ASSERT_EQ(ns_->Exec("python3 " + bind4), 0);
  ASSERT_EQ(ns_->Exec("python3 " + bind6), 0);
  EXPECT_EQ(KernelAddresses(), std::vector<std::string>{"10.9.0.1/24"});  // no alias was added

  ASSERT_EQ(Sources("anyip del lo 198.18.0.0/15"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: 198.18.0.0/15 is no longer local on lo\n");
  ASSERT_EQ(Sources("anyip del lo 198.18.0.0/15"), 0) << err_;
  EXPECT_EQ(out_, "sources.sh: 198.18.0.0/15 was not local on lo\n");
  EXPECT_NE(ns_->Exec("python3 " + bind4 + " 2>/dev/null"), 0);
  ASSERT_EQ(Sources("anyip del lo 2001:db8:7::/64"), 0) << err_;
  ASSERT_EQ(Sources("anyip list lo"), 0) << err_;
  EXPECT_EQ(out_, "127.0.0.0/8\n");

  EXPECT_EQ(Sources("anyip add lo 198.18.0.0/33"), 2);
  EXPECT_NE(err_.find("prefix length must be 1..32"), std::string::npos) << err_;
  EXPECT_EQ(Sources("anyip add lo 2001:db8::/0"), 2);
  EXPECT_NE(err_.find("prefix length must be 1..128"), std::string::npos) << err_;
  EXPECT_EQ(Sources("anyip add lo 198.18.0.1"), 2);
  EXPECT_NE(err_.find("is not a prefix"), std::string::npos) << err_;
  EXPECT_EQ(Sources("anyip add nosuch0 198.18.0.0/15"), 2);
  EXPECT_NE(err_.find("no interface 'nosuch0'"), std::string::npos) << err_;
}

TEST(HostTuningTest, SysctlFileNamesRealKeysEachWithAReason) {
  std::string text = ReadFileOrEmpty(kHostDir + "/90-fourtuple.conf");
  ASSERT_FALSE(text.empty());
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::map<std::string, std::string> settings;
  bool commented = false;  // a comment since the last blank line
  for (const std::string& raw : lines) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) {
      commented = false;
      continue;
    }
    if (line[0] == '#') {
      commented = true;
      continue;
    }
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits('=', 1));
    ASSERT_EQ(parts.size(), 2u) << line;
    std::string key(absl::StripAsciiWhitespace(parts[0]));
    std::string value(absl::StripAsciiWhitespace(parts[1]));
    EXPECT_TRUE(commented) << key << " has no comment saying why";
    for (absl::string_view number : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
      uint64_t parsed;
      EXPECT_TRUE(absl::SimpleAtoi(number, &parsed)) << key << " = " << value;
    }
    std::string proc = "/proc/sys/" + absl::StrReplaceAll(key, {{".", "/"}});
    struct stat st;
    // nf_conntrack's keys exist only while the module is loaded.
    bool conntrack_absent = key.rfind("net.netfilter.", 0) == 0 && stat("/proc/sys/net/netfilter", &st) != 0;
    EXPECT_TRUE(conntrack_absent || stat(proc.c_str(), &st) == 0) << key << ": no " << proc;
    settings[key] = value;
  }
  for (const char* required : {"fs.file-max", "fs.nr_open", "net.ipv4.ip_local_port_range",
                               "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
                               "net.netfilter.nf_conntrack_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}) {
    EXPECT_TRUE(settings.count(required)) << "missing " << required;
  }

  // limits.d: "<domain> <type> nofile <value>", never above fs.nr_open (a
  // nofile above it makes pam_limits fail the login).
  uint64_t nr_open = 0;
  ASSERT_TRUE(absl::SimpleAtoi(settings["fs.nr_open"], &nr_open));
  std::string limits = ReadFileOrEmpty(kHostDir + "/90-fourtuple-limits.conf");
  int entries = 0;
  for (absl::string_view raw : absl::StrSplit(limits, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    ASSERT_EQ(fields.size(), 4u) << line;
    EXPECT_TRUE(fields[1] == "soft" || fields[1] == "hard" || fields[1] == "-") << line;
    EXPECT_EQ(fields[2], "nofile") << line;
    uint64_t value = 0;
    EXPECT_TRUE(absl::SimpleAtoi(fields[3], &value)) << line;
    EXPECT_LE(value, nr_open) << line;
    ++entries;
  }
  EXPECT_GE(entries, 2);
}

}  // namespace
}  // namespace fourtuple

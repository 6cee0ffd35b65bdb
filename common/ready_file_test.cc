#include "common/ready_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/ready_file_test.XXXXXX");
  char* made = mkdtemp(templ.data());
  EXPECT_NE(made, nullptr);
  return templ;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

TEST(WriteFileAtomicallyTest, WritesAndReplaces) {
  std::string dir = MakeTempDir();
  std::string path = dir + "/ready.json";
  ASSERT_TRUE(WriteFileAtomically(path, R"({"listen": ["127.0.0.1:1234"]})").ok());
  EXPECT_EQ(ReadAll(path), R"({"listen": ["127.0.0.1:1234"]})");
  ASSERT_TRUE(WriteFileAtomically(path, "{}").ok());
  EXPECT_EQ(ReadAll(path), "{}");  // shorter content: no tail of the old one
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(ReadAll(path), "");
  EXPECT_THAT(ListDir(dir), ::testing::ElementsAre("ready.json"));  // no temporary left
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777 & ~0022u, 0644u & ~0022u);
}

TEST(WriteFileAtomicallyTest, ReaderNeverSeesAPartialFile) {
  std::string dir = MakeTempDir();
  std::string path = dir + "/ready.json";
  // Large enough that a plain write would be visible half-done.
  const std::string a(256 * 1024, 'a');
  const std::string b(100 * 1024, 'b');
  ASSERT_TRUE(WriteFileAtomically(path, a).ok());

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::string seen = ReadAll(path);
      if (seen != a && seen != b) ++bad;
      ++reads;
    }
  });
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(WriteFileAtomically(path, i % 2 == 0 ? b : a).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(ListDir(dir).size(), 1u);
}

TEST(WriteFileAtomicallyTest, MissingDirectoryNamesThePath) {
  std::string dir = MakeTempDir();
  std::string path = dir + "/no/such/dir/ready.json";
  absl::Status status = WriteFileAtomically(path, "{}");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("ENOENT"));
}

TEST(WriteFileAtomicallyTest, FailedRenameLeavesNoTemporary) {
  std::string dir = MakeTempDir();
  std::string path = dir + "/occupied";
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((path + "/child").c_str(), 0755), 0);  // a non-empty directory
  absl::Status status = WriteFileAtomically(path, "{}");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("rename"));
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(ListDir(dir), ::testing::ElementsAre("occupied"));
}

// The temporary used to be PATH.tmp.PID, opened with O_CREAT|O_TRUNC: a link
// planted at that name made the writer truncate and fill the link's target.
TEST(WriteFileAtomicallyTest, PlantedSymlinkAtTheOldTemporaryNameIsNotFollowed) {
  std::string dir = MakeTempDir();
  std::string victim = dir + "/victim";
  {
    std::ofstream out(victim);
    out << "precious";
  }
  std::string path = dir + "/report.json";
  ASSERT_EQ(symlink(victim.c_str(), absl::StrCat(path, ".tmp.", getpid()).c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "{}").ok());
  EXPECT_EQ(ReadAll(victim), "precious");
  EXPECT_EQ(ReadAll(path), "{}");
  struct stat info;
  ASSERT_EQ(lstat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0644u);
}

}  // namespace
}  // namespace fourtuple

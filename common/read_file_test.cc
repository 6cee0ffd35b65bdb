#include "common/read_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::HasSubstr;

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/fourtuple-read-file-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/file";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  void Write(const std::string& text) {
    FILE* file = std::fopen(path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
  }
  std::string dir_;
  std::string path_;
};

TEST_F(ReadFileTest, ReadsARegularFileWhole) {
  Write("hello\nworld\n");
  chmod(path_.c_str(), 0640);
  absl::StatusOr<FileContents> file = ReadRegularFile(path_, 100, "text");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->text, "hello\nworld\n");
  EXPECT_EQ(file->mode & 07777, 0640u);
}

TEST_F(ReadFileTest, ReadsAFileOfExactlyTheLimit) {
  Write(std::string(100, 'x'));
  absl::StatusOr<FileContents> file = ReadRegularFile(path_, 100, "text");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->text.size(), 100u);
}

TEST_F(ReadFileTest, RefusesAFileOverTheLimit) {
  Write(std::string(101, 'x'));
  absl::StatusOr<FileContents> file = ReadRegularFile(path_, 100, "a JSON plan");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), HasSubstr(path_ + " holds more than 100 B; expected a JSON plan"));
}

// A FIFO with no writer: without O_NONBLOCK the open itself would block.
TEST_F(ReadFileTest, RefusesAFifoAtOnce) {
  ASSERT_EQ(mkfifo(path_.c_str(), 0600), 0);
  const absl::Time start = absl::Now();
  absl::StatusOr<FileContents> file = ReadRegularFile(path_, 100, "a JSON plan");
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(),
              HasSubstr(path_ + " is a FIFO (named pipe); expected a regular file holding a JSON plan"));
}

// A device that never ends: refused before a byte is read.
TEST_F(ReadFileTest, RefusesDevZero) {
  absl::StatusOr<FileContents> file = ReadRegularFile("/dev/zero", 1 << 20, "a JSON plan");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("/dev/zero is a character device; expected a regular file"));
}

TEST_F(ReadFileTest, RefusesADirectory) {
  absl::StatusOr<FileContents> file = ReadRegularFile(dir_, 100, "a PEM file");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(),
              HasSubstr(dir_ + " is a directory; expected a regular file holding a PEM file"));
}

TEST_F(ReadFileTest, NamesTheMissingFile) {
  absl::StatusOr<FileContents> file = ReadRegularFile(path_, 100, "text");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr(path_));
}

}  // namespace
}  // namespace fourtuple

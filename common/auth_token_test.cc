#include "common/auth_token.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::HasSubstr;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/fourtuple-token-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/token";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  void Write(const std::string& text, mode_t mode = 0600) {
    FILE* file = std::fopen(path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }
  std::string dir_;
  std::string path_;
};

TEST_F(TokenFileTest, TrimsOneTrailingNewline) {
  Write("0123456789abcdef0123\n");
  absl::StatusOr<std::string> token = ReadTokenFile(path_);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "0123456789abcdef0123");
  Write("0123456789abcdef0123\r\n");
  EXPECT_EQ(*ReadTokenFile(path_), "0123456789abcdef0123");
  Write("0123456789abcdef0123");
  EXPECT_EQ(*ReadTokenFile(path_), "0123456789abcdef0123");
}

TEST_F(TokenFileTest, RefusesEmptyNamingThePath) {
  Write("");
  absl::StatusOr<std::string> token = ReadTokenFile(path_);
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr(path_));
  EXPECT_THAT(token.status().message(), HasSubstr("empty"));
  Write("\n");
  EXPECT_THAT(ReadTokenFile(path_).status().message(), HasSubstr("empty"));
}

TEST_F(TokenFileTest, RefusesSecondLineSpacesAndShortTokens) {
  Write("0123456789abcdef0123\n\n");
  EXPECT_THAT(ReadTokenFile(path_).status().message(), HasSubstr("printable ASCII"));
  Write("0123456789 abcdef0123\n");
  EXPECT_THAT(ReadTokenFile(path_).status().message(), HasSubstr("printable ASCII"));
  Write("short\n");
  EXPECT_THAT(ReadTokenFile(path_).status().message(), HasSubstr("at least 16"));
  Write(std::string(kMaxTokenLength + 1, 'a'));
  EXPECT_THAT(ReadTokenFile(path_).status().message(), HasSubstr("more than"));
}

TEST_F(TokenFileTest, RefusesAFileEveryUserMayRead) {
  Write("0123456789abcdef0123\n", 0644);
  absl::StatusOr<std::string> token = ReadTokenFile(path_);
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr("chmod o-rwx " + path_));
  Write("0123456789abcdef0123\n", 0640);  // group-readable is fine (a service group)
  EXPECT_TRUE(ReadTokenFile(path_).ok());
}

TEST_F(TokenFileTest, RefusesMissingFileAndDirectory) {
  absl::StatusOr<std::string> missing = ReadTokenFile(path_);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr(path_));
  EXPECT_THAT(ReadTokenFile(dir_).status().message(), HasSubstr("is a directory; expected a regular file"));
}

// Opening a FIFO for reading would wait for a writer: refused at once.
TEST_F(TokenFileTest, RefusesAFifoWithoutBlocking) {
  ASSERT_EQ(mkfifo(path_.c_str(), 0600), 0);
  absl::StatusOr<std::string> token = ReadTokenFile(path_);
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr("token file " + path_ + " is a FIFO"));
}

TEST(TokensEqualTest, EqualOnlyWhenIdentical) {
  EXPECT_TRUE(TokensEqual("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(TokensEqual("0123456789abcdeF", "0123456789abcdef"));
  EXPECT_FALSE(TokensEqual("X123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(TokensEqual("0123456789abcde", "0123456789abcdef"));    // a prefix
  EXPECT_FALSE(TokensEqual("0123456789abcdef0", "0123456789abcdef"));  // longer
  // The secret repeated must not pass as the secret.
  EXPECT_FALSE(TokensEqual("0123456789abcdef0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(TokensEqual("", "0123456789abcdef"));
  EXPECT_FALSE(TokensEqual("", ""));
  EXPECT_FALSE(TokensEqual("abc", ""));
}

}  // namespace
}  // namespace fourtuple

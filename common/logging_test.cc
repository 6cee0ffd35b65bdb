#include "common/logging.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

class CapturingSink : public LogSink {
 public:
  void WriteLogLine(absl::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogSink(&sink_); }
  void TearDown() override { SetLogSink(nullptr); }
  CapturingSink sink_;
};

// A line break in quoted text must not start a line that looks like ours.
TEST_F(LoggingTest, ControlCharactersAreEscapedSoALineStaysOneLine) {
  const std::string run_id = "r1\nagent[1] E forged\r\x1b[2J";
  LOG_WARNING("refused run %s: bad", run_id);
  ASSERT_EQ(sink_.lines.size(), 1u);
  const std::string& line = sink_.lines[0];
  EXPECT_THAT(line, HasSubstr(" W refused run r1\\nagent[1] E forged\\r\\x1b[2J: bad\n"));
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
}

TEST_F(LoggingTest, UnicodeIsKeptButC1ControlsAreEscaped) {
  LOG_INFO(
      "host caf\xC3\xA9 \xC2\x9B"
      "31m");
  ASSERT_EQ(sink_.lines.size(), 1u);
  EXPECT_THAT(sink_.lines[0], HasSubstr("host caf\xC3\xA9 \\u009b31m\n"));
}

// A message of megabytes (a caller's 3 MiB id, quoted) is cut.
TEST_F(LoggingTest, LongMessagesAreCutSayingByHowMuch) {
  const std::string huge(3 << 20, 'x');
  LOG_WARNING("refused run %s", huge);
  ASSERT_EQ(sink_.lines.size(), 1u);
  const std::string& line = sink_.lines[0];
  EXPECT_LT(line.size(), kMaxLogMessageBytes + 100);
  EXPECT_THAT(line,
              EndsWith(absl::StrCat(" [... ", 12 + huge.size() - kMaxLogMessageBytes, " more bytes]\n")));
}

TEST_F(LoggingTest, ACutDoesNotSplitAUtf8Character) {
  // "é" is two bytes; the cut would fall between them.
  const std::string message = std::string(kMaxLogMessageBytes - 1, 'a') + "\xC3\xA9" + "tail";
  const std::string text = LogMessageText(message);
  EXPECT_EQ(text, std::string(kMaxLogMessageBytes - 1, 'a') + " [... 6 more bytes]");
}

TEST_F(LoggingTest, ShortPlainMessagesAreUnchanged) {
  EXPECT_EQ(LogMessageText("run r1: closed"), "run r1: closed");
  EXPECT_EQ(LogMessageText(std::string(kMaxLogMessageBytes, 'a')), std::string(kMaxLogMessageBytes, 'a'));
}

}  // namespace
}  // namespace fourtuple

#include "coordinator/progress.h"

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// What a terminal shows after the text written to it: printable characters
// overwrite at the cursor; '\n' moves to the start of the next line, '\r' to
// the start of this one; ESC[nA moves up n lines, ESC[J clears from the
// cursor to the end of the screen. Anything else fails the test.
class FakeTerminal {
 public:
  std::function<void(absl::string_view)> Writer() {
    return [this](absl::string_view text) { Write(text); };
  }

  void Write(absl::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '\x1b') {
        size_t end = text.find_first_of("AJ", i);
        ASSERT_NE(end, absl::string_view::npos) << "unknown escape in " << text;
        const absl::string_view sequence = text.substr(i, end + 1 - i);
        if (sequence == "\x1b[J") {
          Line().resize(column_);
          lines_.resize(row_ + 1);
        } else {
          int up = 0;
          ASSERT_TRUE(absl::SimpleAtoi(sequence.substr(2, sequence.size() - 3), &up)) << sequence;
          row_ = row_ >= static_cast<size_t>(up) ? row_ - up : 0;
        }
        i = end;
      } else if (c == '\n') {
        ++row_;
        column_ = 0;
      } else if (c == '\r') {
        column_ = 0;
      } else {
        std::string& line = Line();
        if (line.size() <= column_) line.resize(column_ + 1, ' ');
        line[column_++] = c;
      }
    }
  }

  // The screen's lines, the cursor's (empty) line excluded.
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines = lines_;
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
  }

 private:
  std::string& Line() {
    if (lines_.size() <= row_) lines_.resize(row_ + 1);
    return lines_[row_];
  }

  std::vector<std::string> lines_;
  size_t row_ = 0;
  size_t column_ = 0;
};

std::vector<std::string> FrameLines(const ProgressSnapshot& snapshot) {
  std::vector<std::string> lines = absl::StrSplit(FormatProgressFrame(snapshot), '\n');
  lines.pop_back();  // after the last '\n'
  return lines;
}

ProgressSnapshot TwoAgents() {
  ProgressSnapshot s;
  s.elapsed_seconds = 12.04;
  s.phase = "connect";
  s.requested = 100000;
  s.echo_rounds = 2;
  s.echo_rounds_done = 0;
  s.connect_rate = 7999.6;
  s.totals = {24000, 25000, 1000, 0};
  s.agents = {{"127.0.0.1:7001", "connecting", 50000, 12000, 12500, 500, 0},
              {"10.0.0.2:7000", "lost", 50000, 12000, 12500, 500, 0}};
  return s;
}

TEST(ProgressTest, RateIsTheEstablishedDeltaOverTime) {
  ConnectRate rate;
  EXPECT_EQ(rate.Sample(0.0, 0), 0);
  EXPECT_EQ(rate.Sample(1.0, 2000), 2000);
  EXPECT_EQ(rate.Sample(2.0, 8000), 6000);
  EXPECT_EQ(rate.Sample(2.5, 8000), 0);
  EXPECT_EQ(rate.Sample(2.5, 9000), 0);  // no time passed: no rate, not a division by zero
}

TEST(ProgressTest, PlainLine) {
  EXPECT_EQ(FormatProgressLine(TwoAgents()),
            "[   12.0s] connect  open 24,000  established 25,000/100,000  failed 1,000  rate 8,000/s  "
            "echo verified 0/200,000");
}

// A thousand agents: a count per state and the twelve furthest behind (the
// lost one first), so the block stays a screen high.
TEST(ProgressTest, TerminalFrameSummarisesManyAgents) {
  ProgressSnapshot s = TwoAgents();
  s.agents.clear();
  for (int i = 0; i < 1000; ++i) {
    AgentProgress a;
    a.name = absl::StrCat("10.0.", i / 250, ".", i % 250 + 1, ":7000");
    a.state = "connecting";
    a.requested = 1000;
    a.established = i == 500 ? 100 : 900 + static_cast<uint64_t>(i % 100);
    s.agents.push_back(a);
  }
  s.agents[700].state = "lost";
  const std::string frame = FormatProgressFrame(s, 10);
  const std::vector<std::string> lines = absl::StrSplit(frame, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2 + 1 + kMaxAgentLines) << frame;
  EXPECT_EQ(lines[2], "  1,000 agents: 999 connecting, 1 lost; furthest behind:");
  // Furthest behind first: the lost agent, then the one at 10%.
  EXPECT_THAT(lines[3], ::testing::StartsWith("  10.0.2.201:7000  lost "));
  EXPECT_THAT(lines[4], ::testing::StartsWith("  10.0.2.1:7000    connecting "));
  EXPECT_THAT(frame, Not(HasSubstr("10.0.0.100:7000")));  // 999 of 1,000: not behind
}

TEST(ProgressTest, FailureLineForManyAgentsNamesAFew) {
  std::vector<std::string> agents;
  for (int i = 0; i < 40; ++i) agents.push_back(absl::StrCat("127.0.0.1:", 7000 + i));
  EXPECT_THAT(
      FormatFailureLine(1.5, agents, 3, "ECONNREFUSED"),
      ::testing::StartsWith("[    1.5s] 40 agents (127.0.0.1:7000, 127.0.0.1:7001, 127.0.0.1:7002 and 37 "
                            "more): ECONNREFUSED -- "));
  EXPECT_EQ(FormatFailureLine(1.5, {"127.0.0.1:7000"}, 3, "ECONNREFUSED"),
            FormatFailureLine(1.5, "127.0.0.1:7000", "ECONNREFUSED"));
}

TEST(ProgressTest, TerminalFrame) {
  EXPECT_EQ(
      FormatProgressFrame(TwoAgents(), 20),
      "[   12.0s] connect  [#####...............]  25.0%  25,000/100,000 established\n"
      "  open 24,000  failed 1,000  rate 8,000/s  echo verified 0/200,000 (round 0 of 2 done)\n"
      "  127.0.0.1:7001  connecting  open 12,000  established 12,500/50,000  failed 500  echo verified 0\n"
      "  10.0.0.2:7000   lost        open 12,000  established 12,500/50,000  failed 500  echo verified 0\n");
}

TEST(ProgressTest, TerminalFrameAlignsAgentsAndFillsTheBar) {
  ProgressSnapshot s;
  s.elapsed_seconds = 3;
  s.phase = "echo 1";
  s.requested = 1000;
  s.echo_rounds = 1;
  s.echo_rounds_done = 1;
  s.totals = {1000, 1000, 0, 1000};
  s.agents = {{"a:1", "echoing", 10, 10, 10, 0, 10}, {"b:22", "done", 990, 990, 990, 0, 990}};
  EXPECT_EQ(FormatProgressFrame(s, 10),
            "[    3.0s] echo 1   [##########] 100.0%  1,000/1,000 established\n"
            "  open 1,000  failed 0  rate 0/s  echo verified 1,000/1,000 (round 1 of 1 done)\n"
            "  a:1   echoing  open  10  established   10/10  failed 0  echo verified  10\n"
            "  b:22  done     open 990  established 990/990  failed 0  echo verified 990\n");
}

TEST(ProgressTest, FailureLineCarriesTheHint) {
  EXPECT_EQ(FormatFailureLine(0.42, "127.0.0.1:7001", "E999"), "[    0.4s] agent 127.0.0.1:7001: E999");
  const std::string line = FormatFailureLine(1, "127.0.0.1:7001", "ECONNREFUSED");
  EXPECT_EQ(line.rfind("[    1.0s] agent 127.0.0.1:7001: ECONNREFUSED -- nothing listening", 0), 0u) << line;
}

// Agents name their failure reasons, and a plan's endpoint may be any text:
// neither may move the cursor or clear the status block.
TEST(ProgressTest, TextFromAgentsIsEscaped) {
  EXPECT_EQ(FormatFailureLine(1, "a:1\x1b[2J", "E\x1b]0;pwned\x07\nfake line"),
            "[    1.0s] agent a:1\\x1b[2J: E\\x1b]0;pwned\\x07\\nfake line");
  ProgressSnapshot s;
  s.agents = {{"evil\r:1", "connecting", 1, 0, 0, 0, 0}, {"ok:2", "done", 1, 0, 0, 0, 0}};
  const std::string frame = FormatProgressFrame(s, 4);
  EXPECT_NE(frame.find("  evil\\r:1  connecting  open 0"), std::string::npos) << frame;
  EXPECT_NE(frame.find("  ok:2      done        open 0"), std::string::npos) << frame;
  EXPECT_EQ(frame.find('\r'), std::string::npos);
  EXPECT_EQ(frame.find('\x1b'), std::string::npos);
}

// Wide characters take two columns: the lines still align.
TEST(ProgressTest, AgentNamesAlignByTerminalColumns) {
  ProgressSnapshot s;
  s.agents = {{"\xE6\x97\xA5\xE6\x9C\xAC:1", "done", 1, 0, 0, 0, 0}, {"abcdef:2", "done", 1, 0, 0, 0, 0}};
  const std::string frame = FormatProgressFrame(s, 4);
  EXPECT_NE(frame.find("  \xE6\x97\xA5\xE6\x9C\xAC:1    done  open"), std::string::npos) << frame;
  EXPECT_NE(frame.find("  abcdef:2  done  open"), std::string::npos) << frame;
}

TEST(ProgressTest, FailuresAreNewOncePerReasonPerAgent) {
  FailureTracker tracker;
  std::map<std::string, uint64_t> reasons = {{"ECONNREFUSED", 3}, {"ETIMEDOUT", 0}};
  EXPECT_THAT(tracker.FirstSeen(0, reasons), ElementsAre("ECONNREFUSED"));
  reasons["ECONNREFUSED"] = 9;
  EXPECT_THAT(tracker.FirstSeen(0, reasons), IsEmpty());
  EXPECT_THAT(tracker.FirstSeen(1, reasons), ElementsAre("ECONNREFUSED"));  // another agent
  reasons["ETIMEDOUT"] = 1;
  EXPECT_THAT(tracker.FirstSeen(0, reasons), ElementsAre("ETIMEDOUT"));
}

TEST(ProgressTest, PlainDisplayWritesLines) {
  std::vector<std::string> out;
  ProgressDisplay display([&out](absl::string_view text) { out.emplace_back(text); }, /*terminal=*/false);
  display.Update(TwoAgents());
  display.Announce("[    1.0s] agent a:1: ECONNREFUSED");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], FormatProgressLine(TwoAgents()));
  EXPECT_EQ(out[1], "[    1.0s] agent a:1: ECONNREFUSED");
}

TEST(ProgressTest, TerminalDisplayRedrawsInPlace) {
  std::vector<std::string> out;
  ProgressDisplay display([&out](absl::string_view text) { out.emplace_back(text); }, /*terminal=*/true);
  const std::string frame = FormatProgressFrame(TwoAgents());
  display.Update(TwoAgents());
  display.Update(TwoAgents());
  display.Announce("failure");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], frame);                               // nothing to erase yet
  EXPECT_EQ(out[1], "\x1b[4A\r\x1b[J" + frame);           // up 4 lines, clear, redraw
  EXPECT_EQ(out[2], "\x1b[4A\r\x1b[Jfailure\n" + frame);  // the line above, the block below
  EXPECT_EQ(EraseLines(0), "");
}

// Log lines (common/logging.h) printed while the block is on screen scroll
// above it instead of being overdrawn by its next frame.
TEST(ProgressTest, LogLinesScrollAboveTheTerminalBlock) {
  FakeTerminal terminal;
  ProgressSnapshot later = TwoAgents();
  later.elapsed_seconds = 13;
  later.totals.open = 30000;
  {
    ProgressDisplay display(terminal.Writer(), /*terminal=*/true);
    display.Update(TwoAgents());
    LOG_ERROR("agent 10.0.0.2:7000 lost: no report for 3s");
    display.Update(later);
    display.Announce("[   13.0s] agent 127.0.0.1:7001: ECONNREFUSED");
    LOG_WARNING("echo round 1 did not finish in time");
  }
  LOG_INFO("after the display: to stderr, not to the terminal");

  std::vector<std::string> lines = terminal.Lines();
  const std::vector<std::string> frame = FrameLines(later);
  ASSERT_EQ(lines.size(), 3 + frame.size()) << absl::StrJoin(lines, "\n");
  EXPECT_THAT(lines[0], EndsWith("] E agent 10.0.0.2:7000 lost: no report for 3s"));
  EXPECT_EQ(lines[1], "[   13.0s] agent 127.0.0.1:7001: ECONNREFUSED");
  EXPECT_THAT(lines[2], EndsWith("] W echo round 1 did not finish in time"));
  EXPECT_EQ(std::vector<std::string>(lines.begin() + 3, lines.end()), frame);
  EXPECT_EQ(GetLogSink(), nullptr);
}

// Log lines from other threads while the driver redraws: each whole, in
// order, above the one block.
TEST(ProgressTest, LogLinesFromOtherThreadsDoNotTearTheBlock) {
  FakeTerminal terminal;
  constexpr int kLines = 200;
  {
    ProgressDisplay display(terminal.Writer(), /*terminal=*/true);
    std::thread logger([] {
      for (int i = 0; i < kLines; ++i) LOG_INFO("line %d", i);
    });
    for (int i = 0; i < kLines; ++i) display.Update(TwoAgents());
    logger.join();
    display.Update(TwoAgents());
  }
  const std::vector<std::string> lines = terminal.Lines();
  const std::vector<std::string> frame = FrameLines(TwoAgents());
  ASSERT_EQ(lines.size(), kLines + frame.size());
  for (int i = 0; i < kLines; ++i) EXPECT_THAT(lines[i], EndsWith(absl::StrCat("] I line ", i)));
  EXPECT_EQ(std::vector<std::string>(lines.begin() + kLines, lines.end()), frame);
}

}  // namespace
}  // namespace fourtuple::coordinator

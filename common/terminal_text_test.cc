#include "common/terminal_text.h"

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(TerminalTextTest, PrintableTextIsKept) {
  EXPECT_EQ(EscapeForTerminal(""), "");
  EXPECT_EQ(EscapeForTerminal("lab1.example:7000 (v1.2) \\ ok"), "lab1.example:7000 (v1.2) \\ ok");
  EXPECT_EQ(EscapeForTerminal("1 \xC3\x97 2 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"),
            "1 \xC3\x97 2 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80");
}

TEST(TerminalTextTest, ControlCharactersBecomeVisible) {
  // Clear screen, home, then text that looks like one of our own lines.
  EXPECT_EQ(EscapeForTerminal("host\x1b[2J\x1b[H\ncoordinator: all good\r"),
            "host\\x1b[2J\\x1b[H\\ncoordinator: all good\\r");
  EXPECT_EQ(EscapeForTerminal("a\tb\x07\x7f"), "a\\tb\\x07\\x7f");
  EXPECT_EQ(EscapeForTerminal(std::string("nul\0end", 7)), "nul\\x00end");
  // C1 CSI (U+009B) and a right-to-left override.
  EXPECT_EQ(EscapeForTerminal("\xC2\x9B"
                              "31m x \xE2\x80\xAE"
                              "cba"),
            "\\u009b31m x \\u202ecba");
}

TEST(TerminalTextTest, InvalidUtf8BytesAreShownAsHex) {
  EXPECT_EQ(EscapeForTerminal("bad\xff\xfe \xc0\xaf end\xE6\x97"), "bad\\xff\\xfe \\xc0\\xaf end\\xe6\\x97");
}

}  // namespace
}  // namespace fourtuple

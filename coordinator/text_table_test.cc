#include "coordinator/text_table.h"

#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

TEST(TextTableTest, PadsAlignsAndTrims) {
  EXPECT_EQ(FormatTextTable({{"agent", "count", "note"}, {"a", "1,000", "x"}, {"long-name", "7"}},
                            {false, true, false}, "  "),
            "  agent      count  note\n"
            "  a          1,000  x\n"
            "  long-name      7\n");
}

TEST(TextTableTest, WidthCountsColumnsNotBytes) {
  EXPECT_EQ(FormatTextTable({{"1 \xC3\x97 2", "|"}, {"abcdef", "|"}}),
            "1 \xC3\x97 2   |\n"
            "abcdef  |\n");
}

// "日本" takes four columns; "e" + a combining accent one.
TEST(TextTableTest, WideAndCombiningCharactersAlign) {
  EXPECT_EQ(FormatTextTable({{"\xE6\x97\xA5\xE6\x9C\xAC", "|"}, {"e\xCC\x81", "|"}, {"abcde", "|"}}),
            "\xE6\x97\xA5\xE6\x9C\xAC   |\n"
            "e\xCC\x81      |\n"
            "abcde  |\n");
}

TEST(TextTableTest, ControlCharactersInCellsAreEscaped) {
  EXPECT_EQ(FormatTextTable({{"host\x1b[2J", "x"}, {"a\nb", "y"}}),
            "host\\x1b[2J  x\n"
            "a\\nb         y\n");
}

TEST(TextTableTest, NoRowsNoText) { EXPECT_EQ(FormatTextTable({}, {}), ""); }

}  // namespace
}  // namespace fourtuple::coordinator

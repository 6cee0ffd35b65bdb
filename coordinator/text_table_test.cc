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

TEST(TextTableTest, WidthCountsCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("1 \xC3\x97 2"), 5u);  // "1 × 2"
  EXPECT_EQ(FormatTextTable({{"1 \xC3\x97 2", "|"}, {"abcdef", "|"}}, {}),
            "1 \xC3\x97 2   |\n"
            "abcdef  |\n");
}

TEST(TextTableTest, NoRowsNoText) { EXPECT_EQ(FormatTextTable({}, {}), ""); }

}  // namespace
}  // namespace fourtuple::coordinator

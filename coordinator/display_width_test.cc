#include "coordinator/display_width.h"

#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

TEST(DisplayWidthTest, AsciiAndLatinTakeOneColumnEach) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("lab1:7000"), 9u);
  EXPECT_EQ(DisplayWidth("1 \xC3\x97 2 \xE2\x86\x92 3"), 9u);  // "1 × 2 → 3"
  EXPECT_EQ(DisplayWidth("\xC3\xA9t\xC3\xA9"), 3u);            // "été", precomposed
}

TEST(DisplayWidthTest, WideCharactersTakeTwoColumns) {
  EXPECT_EQ(DisplayWidth("\xE6\x97\xA5\xE6\x9C\xAC"), 4u);                    // "日本"
  EXPECT_EQ(DisplayWidth("host-\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88"), 11u);  // "host-テスト"
  EXPECT_EQ(DisplayWidth("\xEA\xB0\x80"), 2u);                                // Hangul "가"
  EXPECT_EQ(DisplayWidth("\xEF\xBC\xA1"), 2u);                                // fullwidth "Ａ"
  EXPECT_EQ(DisplayWidth("\xF0\x9F\x98\x80"), 2u);                            // "😀"
  EXPECT_EQ(DisplayWidth("\xF0\xA0\x80\x80"), 2u);                            // CJK Extension B
}

TEST(DisplayWidthTest, CombiningMarksTakeNone) {
  EXPECT_EQ(DisplayWidth("e\xCC\x81t\xC3\xA9"), 3u);        // "e" + COMBINING ACUTE ACCENT, "t", "é"
  EXPECT_EQ(DisplayWidth("\xE0\xA4\x95\xE0\xA5\x8D"), 1u);  // Devanagari "क" + virama
  EXPECT_EQ(DisplayWidth("a\xE2\x80\x8B"
                         "b"),
            2u);                    // ZERO WIDTH SPACE
  EXPECT_EQ(CharWidth(0x00AD), 1);  // the soft hyphen is drawn
}

TEST(DisplayWidthTest, ControlsTakeNoneAndBadBytesOne) {
  EXPECT_EQ(CharWidth('\t'), 0);
  EXPECT_EQ(CharWidth(0x9B), 0);
  EXPECT_EQ(DisplayWidth("a\xff"
                         "b"),
            3u);
}

}  // namespace
}  // namespace fourtuple::coordinator

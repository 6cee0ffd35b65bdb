#include "coordinator/html_text.h"

#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

TEST(HtmlTextTest, MarkupCharactersBecomeEntities) {
  EXPECT_EQ(EscapeHtml("<b class=\"x\">Tom & Jerry's</b>"),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;");
  EXPECT_EQ(EscapeHtml("plain 1 \xC3\x97 2\n\tnext"), "plain 1 \xC3\x97 2\n\tnext");
}

TEST(HtmlTextTest, ControlsAndInvalidUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(EscapeHtml("bad\xff\xfe utf8 \x01 \xc0\xaf end\x7f"),
            "bad\uFFFD\uFFFD utf8 \uFFFD \uFFFD\uFFFD end\uFFFD");
  EXPECT_EQ(EscapeHtml("\x1b[2J"), "\uFFFD[2J");
}

TEST(HtmlTextTest, AppendsToWhatIsThere) {
  std::string out = "<p>";
  AppendEscapedHtml(&out, "a<b");
  EXPECT_EQ(out, "<p>a&lt;b");
}

}  // namespace
}  // namespace fourtuple::coordinator

#include "common/id_template.h"

#include <string>

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

// The expansion written out in full, the slow way.
std::string Expand(const IdTemplate& t, uint64_t id) {
  std::string out(t.size(), '\0');
  t.Fill(id, 0, t.size(), out.data());
  return out;
}

TEST(IdTemplate, ExpandsIdToSixteenLowercaseHexDigits) {
  absl::StatusOr<IdTemplate> t = IdTemplate::Parse("SET k{id} v");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->has_id());
  EXPECT_EQ(t->size(), 7u + kIdDigits);
  EXPECT_EQ(Expand(*t, 0xabcdef0123456789), "SET kabcdef0123456789 v");
  EXPECT_EQ(Expand(*t, 5), "SET k0000000000000005 v");
}

TEST(IdTemplate, DoubledBraceIsALiteralBrace) {
  absl::StatusOr<IdTemplate> t = IdTemplate::Parse("{{\"id\":\"{id}\"}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Expand(*t, 1), "{\"id\":\"0000000000000001\"}");
  absl::StatusOr<IdTemplate> plain = IdTemplate::Parse("PING\r\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_id());
  EXPECT_EQ(Expand(*plain, 7), "PING\r\n");
}

TEST(IdTemplate, RefusesTyposSayingWhereAndHow) {
  for (const char* bad : {"k{ID}", "k{id", "k{idx}", "k{ id}", "{", "a{}b", "{Id}"}) {
    absl::StatusOr<IdTemplate> t = IdTemplate::Parse(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("write {id}"), std::string::npos) << t.status();
    EXPECT_NE(t.status().message().find("{{"), std::string::npos) << t.status();
  }
  EXPECT_NE(IdTemplate::Parse("k{ID}").status().message().find("\"{ID}\" at byte 1"), std::string::npos);
}

TEST(IdTemplate, LiteralTakesBracesAsBytes) {
  IdTemplate t = IdTemplate::Literal("{id}");
  EXPECT_FALSE(t.has_id());
  EXPECT_EQ(Expand(t, 9), "{id}");
  EXPECT_EQ(EscapeTemplateBraces("{a}{"), "{{a}{{");
  absl::StatusOr<IdTemplate> round_trip = IdTemplate::Parse(EscapeTemplateBraces("x{id}{"));
  ASSERT_TRUE(round_trip.ok());
  EXPECT_EQ(Expand(*round_trip, 3), "x{id}{");
}

// Every split of the expansion into a range written or compared on its own
// (as a socket delivers a reply in pieces) agrees with the whole.
TEST(IdTemplate, RangesAgreeWithTheWholeExpansion) {
  absl::StatusOr<IdTemplate> t = IdTemplate::Parse("{id}-{id}x{{y{id}");
  ASSERT_TRUE(t.ok());
  const uint64_t id = ConversationId(3, 0x123456789a);
  const std::string whole = Expand(*t, id);
  EXPECT_EQ(whole,
            "00000312"
            "3456789a-00000312"
            "3456789ax{y00000312"
            "3456789a");
  for (size_t offset = 0; offset <= whole.size(); ++offset) {
    for (size_t size = 0; offset + size <= whole.size(); ++size) {
      std::string part(size, '?');
      t->Fill(id, offset, size, part.data());
      ASSERT_EQ(part, whole.substr(offset, size)) << offset << "+" << size;
      ASSERT_TRUE(t->Matches(id, offset, whole.data() + offset, size)) << offset << "+" << size;
      for (size_t flip = 0; flip < size; ++flip) {
        std::string wrong = whole.substr(offset, size);
        wrong[flip] ^= 1;
        ASSERT_FALSE(t->Matches(id, offset, wrong.data(), size)) << offset << "+" << size << " @" << flip;
      }
    }
  }
  EXPECT_FALSE(t->Matches(id + 1, 0, whole.data(), whole.size()));
}

TEST(IdTemplate, IdsDifferAcrossAgentsAndConnections) {
  EXPECT_NE(ConversationId(0, 1), ConversationId(1, 1));
  EXPECT_EQ(ConversationId(1, 2), (uint64_t{1} << 40) | 2);
}

}  // namespace
}  // namespace fourtuple

#include "agent/worker/source_space.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

v1::Assignment Assignment(std::initializer_list<const char*> sources, int targets, uint64_t connections,
                          uint64_t per_address = 0) {
  v1::Assignment a;
  for (int i = 0; i < targets; ++i) a.add_targets("127.0.0.1:" + std::to_string(9000 + i));
  for (const char* source : sources) a.add_source_addresses(source);
  a.set_connections(connections);
  a.set_connections_per_source_address(per_address);
  return a;
}

// A /64 is used by offset: a million connections, a million addresses, and
// nothing the size of the prefix anywhere.
TEST(SourceSpaceTest, Ipv6PrefixGivesEachConnectionItsOwnAddress) {
  absl::StatusOr<SourceSpace> space =
      SourceSpace::FromAssignment(Assignment({"2001:db8:7::/64"}, 1, 1000000));
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(space->Used(), 1000000u);
  EXPECT_EQ(space->Total(), absl::uint128(1) << 64);
  bool freebind = false;
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(0), &freebind).ToString(), "2001:db8:7::");
  EXPECT_TRUE(freebind);
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(999999)).ToString(), "2001:db8:7::f:423f");
  // A slice of ids reaches a window as long as the slice.
  SourceWindow window = space->WindowOf(500000, 20000);
  EXPECT_EQ(window.first, 500000u);
  EXPECT_EQ(window.length, 20000u);
  EXPECT_EQ(space->IndexIn(window, space->OrdinalOf(519999)), 19999u);
}

// Entries are one space in order: singles then a prefix; round-robin wraps
// over all of them, one connection per target before the next address.
TEST(SourceSpaceTest, EntriesFormOneSpaceAndWrap) {
  absl::StatusOr<SourceSpace> space =
      SourceSpace::FromAssignment(Assignment({"127.0.1.1", "127.0.2.0/30"}, 2, 100));
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(space->Used(), 5u);
  std::set<std::string> pairs;
  for (uint64_t id = 0; id < 10; ++id) {
    bool freebind = true;
    pairs.insert(space->AddressOf(space->OrdinalOf(id), &freebind).ToString() + ">" +
                 std::to_string(space->TargetOf(id)));
    EXPECT_FALSE(freebind);  // IPv4 binds see local routes
  }
  EXPECT_EQ(pairs.size(), 10u);  // every (address, target) pair once
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(2)).ToString(), "127.0.2.0");
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(10)).ToString(), "127.0.1.1");
  // A slice longer than the space covers all of it.
  EXPECT_EQ(space->WindowOf(7, 50).length, 5u);
  EXPECT_EQ(space->WindowOf(7, 50).first, 3u);
}

TEST(SourceSpaceTest, ConnectionsPerAddressFillEachAddressFirst) {
  absl::StatusOr<SourceSpace> space = SourceSpace::FromAssignment(Assignment({"198.18.0.0/15"}, 1, 1000, 10));
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(space->Used(), 100u);
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(9)).ToString(), "198.18.0.0");
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(10)).ToString(), "198.18.0.1");
  EXPECT_EQ(space->AddressOf(space->OrdinalOf(999)).ToString(), "198.18.0.99");
  // Ids 5..24 reach addresses 0, 1 and 2.
  EXPECT_EQ(space->WindowOf(5, 20).first, 0u);
  EXPECT_EQ(space->WindowOf(5, 20).length, 3u);
}

TEST(SourceSpaceTest, BadEntriesNameTheField) {
  EXPECT_EQ(SourceSpace::FromAssignment(Assignment({"127.0.1.1", "10.0.0.0/33"}, 1, 1)).status().message(),
            "assignment.source_addresses[1]: \"10.0.0.0/33\": prefix length must be 0..32");
  EXPECT_NE(SourceSpace::FromAssignment(Assignment({"::/0"}, 1, 1)).status().message().find("length 0"),
            std::string::npos);
  EXPECT_FALSE(SourceSpace::FromAssignment(Assignment({}, 1, 1)).ok());
}

}  // namespace
}  // namespace fourtuple::agent

// Which source address each connection of an agent binds: the assignment's
// source entries (single addresses and prefixes) seen as one numbered space
// of addresses, addressed by ordinal and never listed. A /64 costs what one
// address does: an entry is its network address and length, and the address
// of ordinal k is computed when a connection needs it.
//
// Connection id i goes to target i mod T and to address ordinal
// (i / q) mod S, S the number of addresses of every entry together and q the
// assignment's connections_per_source_address (0 means T: each address takes
// one connection per target, then the next address is used). Every worker
// computes the same from its connection ids, so slices keep the agent-wide
// round-robin, and a prefix larger than the run gives each connection (or
// each q of them) its own address.
//
// Only the ordinals the run reaches have counters: "used" ordinals are
// 0..Used()-1 with Used() = min(S, ceil(N / q)) <= N. A worker's slice of
// consecutive ids reaches one contiguous (mod Used()) window of them.
//
// Thread-safety: plain values after Init.
#ifndef FOURTUPLE_AGENT_WORKER_SOURCE_SPACE_H_
#define FOURTUPLE_AGENT_WORKER_SOURCE_SPACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "common/address.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

// Ordinals [first, first + length) mod SourceSpace::Used(): one worker's.
struct SourceWindow {
  uint64_t first = 0;
  uint64_t length = 0;
};

class SourceSpace {
 public:
  // From an assignment's source_addresses ("ADDR" or "ADDR/LEN"), target
  // count, connections_per_source_address and connections (or `ids_end`,
  // when larger: a worker trusts its slice's ids, not the count beside them).
  // Errors name the field ("assignment.source_addresses[2]: ...").
  static absl::StatusOr<SourceSpace> FromAssignment(const v1::Assignment& assignment, uint64_t ids_end = 0);

  uint32_t targets() const { return targets_; }
  // q: connections per address before the next (the assignment's value, or T).
  uint64_t per_address() const { return per_address_; }
  // Addresses the run reaches (each gets connections): ordinals 0..Used()-1.
  uint64_t Used() const { return used_; }
  // Every address of every entry (saturated at 2^128 - 1).
  absl::uint128 Total() const { return total_; }

  uint32_t TargetOf(uint64_t connection_id) const { return static_cast<uint32_t>(connection_id % targets_); }
  uint64_t OrdinalOf(uint64_t connection_id) const {
    const uint64_t group = connection_id / per_address_;
    return group < modulus_ ? group : group % modulus_;
  }
  // The address of an ordinal and whether binding it needs IP(V6)_FREEBIND:
  // an IPv6 address inside a prefix (the kernel checks IPv6 binds against
  // interface addresses only, not local routes; IPv4 binds see local routes).
  IpAddress AddressOf(uint64_t ordinal, bool* freebind = nullptr) const;

  // The window of ordinals that connection ids [first, first + count) reach.
  SourceWindow WindowOf(uint64_t first, uint64_t count) const;
  // Index of `ordinal` in `window` (ordinal must be in it).
  uint64_t IndexIn(const SourceWindow& window, uint64_t ordinal) const {
    return (ordinal + used_ - window.first) % used_;
  }

  const std::vector<Cidr>& entries() const { return entries_; }

 private:
  std::vector<Cidr> entries_;
  std::vector<absl::uint128> starts_;  // ordinal of each entry's first address
  absl::uint128 total_ = 0;
  uint64_t modulus_ = 1;  // Total() clipped to 64 bits (ids never reach past it)
  uint64_t per_address_ = 1;
  uint64_t used_ = 1;
  uint32_t targets_ = 1;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_SOURCE_SPACE_H_

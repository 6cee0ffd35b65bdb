#include "agent/worker/source_space.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {

absl::StatusOr<SourceSpace> SourceSpace::FromAssignment(const v1::Assignment& a, uint64_t ids_end) {
  if (a.source_addresses_size() < 1 || a.source_addresses_size() > kMaxSourceAddresses) {
    return absl::InvalidArgumentError(absl::StrCat("assignment.source_addresses: ", a.source_addresses_size(),
                                                   " entries; expected 1..", kMaxSourceAddresses));
  }
  if (a.targets_size() < 1) return absl::InvalidArgumentError("assignment.targets: none");
  SourceSpace space;
  space.targets_ = static_cast<uint32_t>(a.targets_size());
  for (int i = 0; i < a.source_addresses_size(); ++i) {
    const std::string field = absl::StrCat("assignment.source_addresses[", i, "]");
    absl::StatusOr<Cidr> entry = ParseCidr(a.source_addresses(i));
    if (!entry.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", entry.status().message()));
    if (entry->prefix_length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a prefix of length 0 is every address; expected a local prefix"));
    }
    space.starts_.push_back(space.total_);
    const absl::uint128 size = entry->Size();
    space.total_ = size > absl::Uint128Max() - space.total_ ? absl::Uint128Max() : space.total_ + size;
    space.entries_.push_back(*entry);
  }
  space.modulus_ = space.total_ > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(space.total_);
  const uint64_t per_address = a.connections_per_source_address();
  space.per_address_ = per_address != 0 ? per_address : space.targets_;
  const uint64_t connections = std::max<uint64_t>(a.connections(), ids_end);
  const uint64_t groups = connections / space.per_address_ + (connections % space.per_address_ != 0);
  space.used_ = std::max<uint64_t>(std::min<uint64_t>(space.modulus_, groups), 1);
  return space;
}

IpAddress SourceSpace::AddressOf(uint64_t ordinal, bool* freebind) const {
  // The entry holding the ordinal: the last whose start is <= it.
  const size_t entry =
      static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), absl::uint128(ordinal)) -
                          starts_.begin()) -
      1;
  const Cidr& prefix = entries_[entry];
  if (freebind != nullptr) *freebind = prefix.network.family == AF_INET6 && !prefix.IsSingle();
  return prefix.At(absl::uint128(ordinal) - starts_[entry]);
}

SourceWindow SourceSpace::WindowOf(uint64_t first, uint64_t count) const {
  if (count == 0) return {OrdinalOf(first), 0};
  const uint64_t groups = (first + count - 1) / per_address_ - first / per_address_ + 1;
  return {OrdinalOf(first), std::min(groups, used_)};
}

}  // namespace fourtuple::agent

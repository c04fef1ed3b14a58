#pragma once
// IP prefixes as the mesh spec uses them (cluster pod CIDRs, node pod subnets): the shared
// IpPrefix (base/ip_prefix.hpp), plus the set relations the spec validation and the flow
// rendering need. Sorted output uses IpPrefix's own order (family, address, length).

#include <string>
#include <string_view>

#include "base/ip_prefix.hpp"
#include "base/result.hpp"

namespace strait::ctl {

// Parses "10.128.0.0/14" or "fd00::/48" and refuses host bits set beyond the prefix length
// ("10.128.0.1/14"): Kubernetes refuses such CIDRs too, and a typo there is better caught here
// than as a silently widened route.
[[nodiscard]] Result<IpPrefix> parse_prefix(std::string_view text);

// True if every address of `inner` is in `outer` (same family).
[[nodiscard]] bool prefix_contains(const IpPrefix& outer, const IpPrefix& inner);
// True if the two prefixes share an address (same family, one contains the other).
[[nodiscard]] bool prefixes_overlap(const IpPrefix& a, const IpPrefix& b);

}  // namespace strait::ctl

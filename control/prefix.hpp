#pragma once
// IP prefixes as the mesh spec uses them (cluster pod CIDRs, node pod subnets): the UAPI's
// AllowedIp value, plus the set relations the spec validation and the flow rendering need.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "uapi/model.hpp"

namespace strait::ctl {

using Prefix = uapi::AllowedIp;

// Parses "10.128.0.0/14" or "fd00::/48" and refuses host bits set beyond the prefix length
// ("10.128.0.1/14"): Kubernetes refuses such CIDRs too, and a typo there is better caught here
// than as a silently widened route.
[[nodiscard]] Result<Prefix> parse_prefix(std::string_view text);

// True if every address of `inner` is in `outer` (same family).
[[nodiscard]] bool prefix_contains(const Prefix& outer, const Prefix& inner);
// True if the two prefixes share an address (same family, one contains the other).
[[nodiscard]] bool prefixes_overlap(const Prefix& a, const Prefix& b);
// Strict weak order: family, address, length. For stable sorted output.
[[nodiscard]] bool prefix_less(const Prefix& a, const Prefix& b);

}  // namespace strait::ctl

#pragma once
// The node's OpenFlow rules, rendered for a forwarding profile, and the difference between
// the rules wanted and the rules a bridge has. Pure text: no ovs-ofctl here (ovs_bridge.hpp).
//
// Every flow carries the strait cookie (kCookie, compared under kCookieMask), so the agent
// reads back, changes and removes only its own flows and never another controller's.
// Priorities come from a fixed band (README.md "OVS flows" explains each value).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "control/prefix.hpp"

namespace strait::ctl {

// 0x57a17 ~ "strait". The low 32 bits are free (always 0 today) for a future per-rule tag.
inline constexpr std::uint64_t kCookie = 0x57a1700000000000ull;
inline constexpr std::uint64_t kCookieMask = 0xffffffff00000000ull;

enum class Profile : std::uint8_t { openshift_sdn, generic, route, ovn_kubernetes };
[[nodiscard]] std::string_view profile_name(Profile p);
[[nodiscard]] std::optional<Profile> profile_from_name(std::string_view name);

// openshift-sdn priorities: above the cluster-CIDR (100) and default (0) routes of table 30,
// below the local-subnet (200) and gateway (300) rules, which no remote CIDR can match anyway
// (the spec refuses overlapping CIDRs); in table 0, above the vxlan0/tun0 classification (200).
inline constexpr std::uint16_t kSdnTable0Priority = 210;
inline constexpr std::uint16_t kSdnTable30Priority = 150;
// generic: above a bridge's usual priority-0 NORMAL flow.
inline constexpr std::uint16_t kGenericPriority = 150;

// One flow, as ovs-ofctl prints it in a dump (OpenFlow 1.3, --no-names) without the cookie,
// so that a rendered flow and a dumped one compare equal.
struct Flow {
  std::uint8_t table = 0;
  std::uint16_t priority = 0;
  std::string match;    // "ip,in_port=5,nw_src=10.132.0.0/14"
  std::string actions;  // "goto_table:30"
  friend bool operator==(const Flow&, const Flow&) = default;
};

// What the flows are made of on this node.
struct FlowInputs {
  std::uint32_t strait_ofport = 0;  // the OpenFlow port number of straitd's bridge port
  std::string strait_mac;           // its MAC, "aa:bb:cc:dd:ee:ff" (generic profile)
  std::vector<IpPrefix> remote_cidrs;
};

// The flows of `profile` (openshift_sdn or generic; route and ovn_kubernetes have none),
// sorted by flow_less.
[[nodiscard]] std::vector<Flow> render_flows(Profile profile, const FlowInputs& in);

// "table=30, priority=150, ip,nw_dst=... actions=output:5" style key with the match fields
// sorted, so that field order never makes two equal flows differ.
[[nodiscard]] std::string normalized(const Flow& f);
[[nodiscard]] bool flow_less(const Flow& a, const Flow& b);

// Lines of an `ovs-ofctl --bundle add-flows BR -` file (one transaction).
[[nodiscard]] std::string add_line(const Flow& f);     // "add cookie=0x...,table=..,actions=.."
[[nodiscard]] std::string delete_line(const Flow& f);  // "delete_strict cookie=0x.../-1,..."

// Parses `ovs-ofctl -O OpenFlow13 --no-names dump-flows BR` output, keeping only flows whose
// cookie matches kCookie under kCookieMask. Statistics (duration, n_packets, n_bytes,
// idle_age, ...) are dropped. A line that is not a flow is an error naming it.
[[nodiscard]] Result<std::vector<Flow>> parse_dump_flows(std::string_view text);

struct FlowDiff {
  std::vector<Flow> add;     // wanted, missing from the bridge
  std::vector<Flow> remove;  // ours on the bridge, no longer wanted (or duplicates)
  [[nodiscard]] bool empty() const { return add.empty() && remove.empty(); }
};
[[nodiscard]] FlowDiff diff_flows(const std::vector<Flow>& wanted, const std::vector<Flow>& have);

// The whole diff as one bundle file: deletions first, then additions.
[[nodiscard]] std::string bundle_text(const FlowDiff& diff);

}  // namespace strait::ctl

#pragma once
// The `ovn-kubernetes` profile's rows in the OVN northbound database, rendered from the
// node's subnets and the remote cluster CIDRs, parsed back from `ovn-nbctl find`, and the
// difference between the two. Pure text: no ovn-nbctl here (ovn_northbound.hpp runs it).
//
// Way (a) of issue 14 (README.md "OVN-Kubernetes" says why this way): straitd's bridge port
// is a logical switch port of the node's switch, and ovn_cluster_router reroutes traffic from
// this node's subnet to remote cluster CIDRs to that port's address:
//
//   Logical_Switch_Port strait-<node> on switch <node>
//       addresses "<straitd MAC> <nexthop v4> [<nexthop v6>]", no port_security (decrypted
//       packets carry remote sources), external_ids strait.io/owner=<node>
//   Logical_Router_Policy on ovn_cluster_router, per (local subnet, remote CIDR) of a family
//       priority 1500, match "ip4.src == <subnet> && ip4.dst == <remote CIDR>",
//       action reroute, nexthops <nexthop of that family>, external_ids strait.io/owner=<node>
//
// Every row carries the owner marker; the agent reads back, changes and removes only rows
// with its own marker, like the cookie of its OpenFlow rules.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "control/prefix.hpp"

namespace strait::ctl {

inline constexpr std::string_view kOvnOwnerKey = "strait.io/owner";
// Above every reroute OVN-Kubernetes puts on ovn_cluster_router (EgressIP 100, no-reroute
// 101/102, hybrid overlay 501/1002, inter-node 1003, node subnet 1004, management port 1005),
// so a pod with an EgressIP still reaches remote clusters through strait; below the range
// OVN-Kubernetes reserves for EgressFirewall (2000-10000), so an EgressFirewall rule that
// denies a remote CIDR still wins. No OVN-Kubernetes match names a remote cluster CIDR.
inline constexpr int kOvnPolicyPriority = 1500;

struct OvnPolicy {
  int priority = kOvnPolicyPriority;
  std::string match;    // "ip4.src == 10.128.0.0/23 && ip4.dst == 10.132.0.0/14"
  std::string nexthop;  // "10.128.1.254"
  std::string uuid;     // of a row read back; empty for a rendered one
  [[nodiscard]] bool same_rule(const OvnPolicy& o) const {
    return priority == o.priority && match == o.match && nexthop == o.nexthop;
  }
};

struct OvnPort {
  std::string name;       // "strait-a1"
  std::string addresses;  // "02:00:00:00:00:09 10.128.1.254"
  std::string owner;      // its strait.io/owner, empty when the row has none
};

struct OvnInputs {
  std::string node;
  std::string port_name;                // the logical switch port, "strait-<node>"
  std::string mac;                      // straitd's bridge port MAC (OVS mac_in_use)
  std::vector<IpPrefix> local_subnets;  // this node's pod subnets (the spec's pod_subnets)
  std::vector<IpPrefix> remote_cidrs;   // pod CIDRs of the other clusters
};

struct OvnRows {
  OvnPort port;
  std::vector<OvnPolicy> policies;  // sorted by match
};

// The address the router reroutes to in `subnet`: its last usable host (10.128.1.254 of
// 10.128.0.0/23, ...:fffe of an IPv6 /64). OVN-Kubernetes hands out pod addresses from the
// low end (.1 router, .2 management port, .3 on), so the top of the subnet is the last one
// it would reach; ovn-nbctl refuses the port if another port of the switch holds it.
[[nodiscard]] std::string ovn_nexthop(const IpPrefix& subnet);

// The rows this node wants. Errors when it has no subnet to reroute from.
[[nodiscard]] Result<OvnRows> render_ovn_rows(const OvnInputs& in);

// Rows of `ovn-nbctl --format=csv --data=bare --no-headings` (RFC 4180 quoting).
[[nodiscard]] Result<std::vector<std::vector<std::string>>> parse_nbctl_csv(std::string_view text);
// From `--columns=_uuid,priority,match,nexthops find Logical_Router_Policy external_ids:...`.
[[nodiscard]] Result<std::vector<OvnPolicy>> parse_ovn_policies(std::string_view csv);
// From `--columns=name,addresses,external_ids find Logical_Switch_Port name=...`; no row: an
// OvnPort with an empty name.
[[nodiscard]] Result<OvnPort> parse_ovn_port(std::string_view csv);

struct OvnDiff {
  bool port = false;  // (re)write the logical switch port
  std::vector<OvnPolicy> add;
  std::vector<std::string> remove;  // policy row UUIDs (stale, or duplicates)
  [[nodiscard]] bool empty() const { return !port && add.empty() && remove.empty(); }
};

[[nodiscard]] OvnDiff diff_ovn_rows(const OvnRows& want, const OvnPort& have_port,
                                    const std::vector<OvnPolicy>& have_policies);

// The ovn-nbctl arguments (after the program and its --db) of one transaction applying
// `diff`, joined by "--": --may-exist lsp-add, lsp-set-addresses, set external_ids; create
// Logical_Router_Policy + add to the router's policies; remove from the router's policies
// (OVSDB garbage-collects the unreferenced policy row).
[[nodiscard]] std::vector<std::string> ovn_transaction_args(const OvnDiff& diff,
                                                            const OvnRows& want,
                                                            const std::string& node,
                                                            const std::string& logical_switch,
                                                            const std::string& router);

}  // namespace strait::ctl

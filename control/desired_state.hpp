#pragma once
// What the mesh spec asks of one node: its WireGuard peers and the remote pod CIDRs that the
// forwarding rules (OVS flows or kernel routes) send to straitd.
//
// Peers are the nodes of the OTHER clusters only. Pods of the same cluster already reach each
// other through their own SDN (VXLAN between nodes on OpenShift SDN); tunnelling them again
// through strait would add a second, redundant path and make routing ambiguous.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "control/mesh_spec.hpp"

namespace strait::ctl {

struct DesiredPeer {
  std::string node;
  std::string cluster;
  Key public_key{};
  uapi::Endpoint endpoint;            // the remote node's VIP:port
  std::vector<IpPrefix> allowed_ips;  // the remote node's pod subnets
  std::uint16_t persistent_keepalive = 0;
  // AES-256-GCM when both ends run straitd, else ChaCha20-Poly1305 (DESIGN.md section 3).
  Cipher cipher = Cipher::chacha20_poly1305;
  friend bool operator==(const DesiredPeer&, const DesiredPeer&) = default;
};

struct DesiredState {
  std::string node;
  std::string cluster;
  std::vector<DesiredPeer> peers;      // in spec order
  std::vector<IpPrefix> remote_cidrs;  // pod CIDRs of every other cluster, sorted
  std::vector<IpPrefix>
      local_subnets;  // this node's pod subnets (ovn-kubernetes reroutes from them)
  std::optional<std::uint16_t> listen_port;
  // false: this node runs stock WireGuard (wireguard-go, the Linux module), which refuses the
  // strait_cipher UAPI key, so peer sync neither sends nor compares it.
  bool local_straitd = true;
};

// Refused when `local_node` is not in the spec (a spec that forgot this node must not strip
// its peers).
[[nodiscard]] Result<DesiredState> compute_desired_state(const MeshSpec& spec,
                                                         std::string_view local_node);

}  // namespace strait::ctl

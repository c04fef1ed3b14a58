#pragma once
// The mesh spec: which clusters are joined, and every node of them with its public endpoint
// (the per-node VIP) and WireGuard public key. README.md in this directory shows the format.
//
//   clusters: [{name, pod_cidrs: [cidr, ...]}]
//   nodes:    [{name, cluster, pod_subnets: [cidr, ...], endpoint: "VIP:port" | "[v6]:port",
//               public_key: <base64>, straitd: true|false}]
//   defaults: {listen_port, persistent_keepalive}      (optional)
//
// The spec is parsed and validated whole: one bad entry refuses all of it, so the agent never
// applies half a mesh. Pure: no I/O besides reading the text given.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "control/prefix.hpp"
#include "core/types.hpp"
#include "uapi/model.hpp"

namespace strait::ctl {

struct Cluster {
  std::string name;
  std::vector<IpPrefix> pod_cidrs;
};

struct Node {
  std::string name;
  std::string cluster;
  // Several per node: dual-stack (one IPv4, one IPv6), or several blocks (Calico). The spec
  // also accepts the older single `pod_subnet: cidr`, which lands here as one entry.
  std::vector<IpPrefix> pod_subnets;
  uapi::Endpoint endpoint;  // the node's public VIP:port
  Key public_key{};
  bool straitd = true;  // false: a stock WireGuard node (ChaCha20-Poly1305 only)
};

struct MeshDefaults {
  // Set on the local device only when the spec says so (straitd has its own --listen-port).
  std::optional<std::uint16_t> listen_port;
  // 25 s keeps the VIPs' and NATs' UDP mappings alive (wg(8)'s recommended value).
  std::uint16_t persistent_keepalive = 25;
};

struct MeshSpec {
  std::vector<Cluster> clusters;
  std::vector<Node> nodes;
  MeshDefaults defaults;

  [[nodiscard]] const Cluster* find_cluster(std::string_view name) const;
  [[nodiscard]] const Node* find_node(std::string_view name) const;
};

// Parses and validates a spec. Every problem found is reported, one per line, each naming the
// field, the entry and the YAML line, e.g.
//   nodes[3] (b2).public_key (line 31): not a valid base64 WireGuard key
// Refused: YAML syntax errors, unknown keys, missing fields, malformed CIDRs (host bits set
// too), endpoints and keys; duplicate cluster names, node names, public keys or endpoints;
// overlapping pod CIDRs (across and within clusters); a node of an unknown cluster; a
// pod subnet outside its cluster's CIDRs; overlapping node subnets (each subnet checked against
// every other, a node's own included); a node giving both pod_subnets and pod_subnet.
[[nodiscard]] Result<MeshSpec> parse_mesh_spec(std::string_view yaml_text);

}  // namespace strait::ctl

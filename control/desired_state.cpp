#include "control/desired_state.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace strait::ctl {

Result<DesiredState> compute_desired_state(const MeshSpec& spec, std::string_view local_node) {
  const Node* self = spec.find_node(local_node);
  if (self == nullptr) {
    return Error{
        fmt::format("spec: this node \"{}\" (--node / NODE_NAME) is not in nodes", local_node)};
  }
  DesiredState d;
  d.node = self->name;
  d.cluster = self->cluster;
  d.listen_port = spec.defaults.listen_port;
  d.local_straitd = self->straitd;
  d.local_subnets = self->pod_subnets;
  for (const Node& n : spec.nodes) {
    if (n.cluster == self->cluster) continue;
    DesiredPeer peer;
    peer.node = n.name;
    peer.cluster = n.cluster;
    peer.public_key = n.public_key;
    peer.endpoint = n.endpoint;
    peer.allowed_ips = n.pod_subnets;
    peer.persistent_keepalive = spec.defaults.persistent_keepalive;
    peer.cipher = self->straitd && n.straitd ? Cipher::aes256_gcm : Cipher::chacha20_poly1305;
    d.peers.push_back(std::move(peer));
  }
  for (const Cluster& c : spec.clusters) {
    if (c.name == self->cluster) continue;
    d.remote_cidrs.insert(d.remote_cidrs.end(), c.pod_cidrs.begin(), c.pod_cidrs.end());
  }
  std::sort(d.remote_cidrs.begin(), d.remote_cidrs.end());
  return d;
}

}  // namespace strait::ctl

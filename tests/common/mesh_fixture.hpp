#pragma once
// Nodes A and B of tests/common/pipeline_fixture.hpp grown to a mesh: `peers` peers on each
// side, peer p of A and peer p of B being the two ends of one session (matching indices and
// keys), for the scale curves of perf/pipeline_bench.cpp and any test that needs many peers
// with live sessions.
//
//   A: peer p -- current keypair, endpoint 100.64.0.0 + p:51820 --> B: peer p, same keypair
//   side A sends (encap_burst), side B receives (decap_burst)
//
// Test and benchmark code, not fast-path code: allocates freely, and a route the table
// refuses throws std::runtime_error.

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/pipeline_fixture.hpp"
#include "core/allowed_ips.hpp"
#include "core/keypair.hpp"
#include "packet/outer_template.hpp"
#include "pipeline/forwarding_state.hpp"

namespace strait::test {

// murmur3's 32-bit finaliser: a bijection, so distinct inputs give distinct receiver indices.
inline std::uint32_t fmix32(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

// Peer p's receiver index on side A or B: spread over the whole range, as real indices are.
inline std::uint32_t mesh_index(std::uint32_t peer, bool side_a) {
  return fmix32(peer | (side_a ? 0U : 0x80000000U));
}

// The key of peer p's session in one direction (0: A -> B, 1: B -> A).
inline strait::Key mesh_key(std::uint32_t peer, int direction) {
  std::mt19937_64 rng(peer * 2ULL + static_cast<unsigned>(direction) + 1);
  strait::Key k;
  for (std::size_t i = 0; i < k.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(k.data() + i, &v, 8);
  }
  return k;
}

// Peer p's pods: the /28 at 10.0.0.0 + 16p (host order).
inline std::uint32_t mesh_pod_block(std::uint32_t peer) { return 0x0a000000U + peer * 16; }

// Routes of a mesh of `peers` peers: each peer's /28 of pods to that peer.
inline std::shared_ptr<const wg::AllowedIps> mesh_routes(std::uint32_t peers) {
  auto table = std::make_shared<wg::AllowedIps>();
  for (std::uint32_t p = 0; p < peers; ++p) {
    const std::uint32_t a = mesh_pod_block(p);
    const auto prefix =
        IpPrefix::v4({static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                      static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)},
                     28);
    if (table->insert(prefix, p) != wg::AllowedIpsError::none)
      throw std::runtime_error("mesh_routes: the table refused peer " + std::to_string(p));
  }
  return table;
}

// One side of the mesh: every peer with a current keypair and an endpoint.
struct MeshNode : NodeLcore {
  std::unique_ptr<dp::PeerActivity[]> activity;
  std::vector<std::shared_ptr<dp::PreparedKeypair>> keypairs;
  std::unique_ptr<const dp::ForwardingState> state;

  // Lets the same sealed packets through again (a benchmark's ring of packets wrapping).
  void reset_replay_windows() {
    for (auto& kp : keypairs) kp->keypair->replay.reset();
  }
};

// Side A or B of a mesh of `peers` peers over `routes` (mesh_routes, or any table whose values
// are peer ids below `peers`).
inline std::unique_ptr<MeshNode> build_mesh(bool side_a, std::uint32_t peers, strait::Cipher cipher,
                                            std::shared_ptr<const wg::AllowedIps> routes) {
  auto node = std::make_unique<MeshNode>();
  node->activity.reset(new dp::PeerActivity[peers]);
  dp::ForwardingStateBuilder b;
  b.routes(std::move(routes));
  b.tunnel(dp::cpu_to_be16(kPort), kMtu);
  b.bridge(dp::BridgeL2{kBridgeMacB, dp::BridgeDstMac::pod_mac_from_ip, kGatewayMacB});
  for (std::uint32_t p = 0; p < peers; ++p) {
    b.peer(p, cipher, node->activity[p], nullptr);
    // Both sides send as A does in the two-node picture, each peer at its own address in
    // 100.64.0.0/10 (B's endpoints are never used: B only decapsulates).
    dp::OuterTemplateConfig c = endpoint_config(/*outer_v6=*/false, /*from_a=*/true);
    const std::uint32_t them = 0x64400000 + p;
    const std::uint8_t them_b[4] = {
        static_cast<std::uint8_t>(them >> 24), static_cast<std::uint8_t>(them >> 16),
        static_cast<std::uint8_t>(them >> 8), static_cast<std::uint8_t>(them)};
    c.dst_addr = dp::ipv4_mapped(them_b);
    b.endpoint(p, dp::OuterTemplate(c));
    wg::SessionKeys k;
    k.send_key = mesh_key(p, side_a ? 0 : 1);
    k.recv_key = mesh_key(p, side_a ? 1 : 0);
    k.local_index = mesh_index(p, side_a);
    k.remote_index = mesh_index(p, !side_a);
    k.we_initiated = side_a;
    auto kp = dp::prepare_keypair(
        node->engine, std::make_shared<wg::Keypair>(k, cipher, wg::Time(kNow - 1'000'000'000)));
    node->keypairs.push_back(kp);
    b.current(p, kp);
  }
  node->state = b.build();
  return node;
}

}  // namespace strait::test

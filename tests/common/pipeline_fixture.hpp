#pragma once
// Two straitd nodes in one process, for the pipeline stages (dataplane/pipeline): the fixtures
// shared by tests/dpdk/pipeline_test.cpp and perf/pipeline_bench.cpp, so that the benchmark
// measures exactly the packets and forwarding states the tests check.
//
//   pod 10.1.0.5 / fd00:a::5                                   pod 10.2.0.7 / fd00:b::7
//        |                                                              ^
//   [A encap_burst] --- 192.0.2.1:51820 -> 192.0.2.2:51820 ---> [B decap_burst]
//     keypair A: send K1, recv K2            keypair B: send K2, recv K1
//     local 0xa1a1a1a1 remote 0xb2b2b2b2     local 0xb2b2b2b2 remote 0xa1a1a1a1
//
// Test and benchmark code, not fast-path code: everything here may allocate, and errors
// (a route the table refuses, a ring that cannot be created) throw std::runtime_error, which
// GoogleTest reports as a failure of the test that called it. Needs an initialised EAL for
// the staging rings and mbufs.

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/packet_builder.hpp"
#include "core/allowed_ips.hpp"
#include "core/keypair.hpp"
#include "crypto/aead_burst.hpp"
#include "dpdk/counters.hpp"
#include "packet/headers.hpp"
#include "packet/outer_template.hpp"
#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"

namespace strait::test {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::int64_t kNow = std::chrono::nanoseconds(std::chrono::seconds(1000)).count();
inline constexpr std::uint16_t kPort = 51820;
inline constexpr std::uint32_t kIndexA = 0xa1a1a1a1;
inline constexpr std::uint32_t kIndexB = 0xb2b2b2b2;
inline constexpr std::uint32_t kMtu = 1420;
inline const dp::MacAddr kBridgeMacB = {0x02, 0, 0, 0, 0, 0xb0};
inline const dp::MacAddr kGatewayMacB = {0x02, 0, 0, 0, 0, 0xfe};

// ---- mbufs ----------------------------------------------------------------------------------

inline Bytes bytes_of(const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  return Bytes(p, p + rte_pktmbuf_data_len(m));
}

inline void free_all(rte_mbuf** pkts, std::uint16_t n) {
  for (std::uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(pkts[i]);
}

// ---- keys, keypairs, routes, endpoints ------------------------------------------------------

inline strait::Key key_of(std::uint8_t fill) {
  strait::Key k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
  return k;
}

// Keypair of one side; A's send key is B's receive key and the other way round.
inline std::shared_ptr<wg::Keypair> make_keypair(bool side_a, strait::Cipher cipher,
                                                 std::int64_t birth_ns = kNow - 1'000'000'000) {
  wg::SessionKeys k;
  k.send_key = key_of(side_a ? 0x10 : 0x20);
  k.recv_key = key_of(side_a ? 0x20 : 0x10);
  k.local_index = side_a ? kIndexA : kIndexB;
  k.remote_index = side_a ? kIndexB : kIndexA;
  k.we_initiated = side_a;
  return std::make_shared<wg::Keypair>(k, cipher, wg::Time(birth_ns));
}

struct Route {
  const char* prefix;
  std::uint8_t cidr;
  std::uint32_t peer;
};

inline std::shared_ptr<const wg::AllowedIps> make_routes(const std::vector<Route>& routes) {
  auto t = std::make_shared<wg::AllowedIps>();
  for (const Route& r : routes) {
    const std::string p(r.prefix);
    IpPrefix prefix;
    if (p.find(':') != std::string::npos) {
      const Bytes a = parse_ipv6(p);
      std::array<std::uint8_t, 16> a16{};
      std::copy(a.begin(), a.end(), a16.begin());
      prefix = IpPrefix::v6(a16, r.cidr);
    } else {
      const Bytes a = parse_ipv4(p);
      prefix = IpPrefix::v4({a[0], a[1], a[2], a[3]}, r.cidr);
    }
    if (t->insert(prefix, r.peer) != wg::AllowedIpsError::none)
      throw std::runtime_error("make_routes: the table refused " + p);
  }
  return t;
}

inline dp::IpAddr16 addr16(const char* text) {
  const std::string s(text);
  dp::IpAddr16 a{};
  if (s.find(':') != std::string::npos) {
    const Bytes b = parse_ipv6(s);
    std::copy(b.begin(), b.end(), a.begin());
  } else {
    a = dp::ipv4_mapped(parse_ipv4(s).data());
  }
  return a;
}

// The outer headers from one node to the other (the dotted line of the picture above).
inline dp::OuterTemplateConfig endpoint_config(bool outer_v6, bool from_a) {
  dp::OuterTemplateConfig c;
  c.src_mac = {0x02, 0, 0, 0, 0x77, from_a ? std::uint8_t{0xa0} : std::uint8_t{0xb0}};
  c.dst_mac = {0x02, 0, 0, 0, 0x77, from_a ? std::uint8_t{0xb0} : std::uint8_t{0xa0}};
  c.is_ipv6 = outer_v6;
  const char* a = outer_v6 ? "2001:db8::1" : "192.0.2.1";
  const char* b = outer_v6 ? "2001:db8::2" : "192.0.2.2";
  c.src_addr = addr16(from_a ? a : b);
  c.dst_addr = addr16(from_a ? b : a);
  c.dst_port_be = dp::cpu_to_be16(kPort);
  return c;
}

inline dp::OuterTemplate endpoint_template(bool outer_v6, bool from_a) {
  return dp::OuterTemplate(endpoint_config(outer_v6, from_a));
}

// ---- one node -------------------------------------------------------------------------------

// The lcore a node's stages run on: its AEAD engine, its drop counters and the StageContext
// over them (the clock stands at kNow). Not copyable: the context points into it.
struct NodeLcore {
  crypto::AeadEngine engine;
  dp::LcoreCounters counters{};
  dp::StageContext ctx{&engine, &counters, kNow};

  NodeLcore() = default;
  NodeLcore(const NodeLcore&) = delete;
  NodeLcore& operator=(const NodeLcore&) = delete;

  [[nodiscard]] std::uint64_t drops(DropReason r) const {
    return counters.drops[static_cast<std::size_t>(r)];
  }
  [[nodiscard]] std::uint64_t total_drops() const {
    return std::accumulate(counters.drops.begin(), counters.drops.end(), std::uint64_t{0});
  }
};

// One node: its forwarding state with one remote peer (id 0), that peer's activity block and
// staging ring, and the lcore the stages run on.
struct Node : NodeLcore {
  std::array<dp::PeerActivity, 2> activity{};
  rte_ring* staging = nullptr;
  std::shared_ptr<dp::PreparedKeypair> keypair;
  std::unique_ptr<const dp::ForwardingState> state;

  Node() = default;
  ~Node() {
    if (staging != nullptr) {
      rte_mbuf* m = nullptr;
      while (rte_ring_sc_dequeue(staging, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
      rte_ring_free(staging);
    }
  }
};

struct NodeOptions {
  bool side_a = true;
  strait::Cipher cipher = strait::Cipher::chacha20_poly1305;
  bool outer_v6 = false;
  bool with_keypair = true;
  bool with_endpoint = true;
  bool is_next = false;  // register the keypair as an unconfirmed next (receive only)
  std::int64_t birth_ns = kNow - 1'000'000'000;
  unsigned staging_size = 0;  // 0: no staging ring
  bool punt_non_tunnel = false;
  std::shared_ptr<wg::Keypair> keypair{};  // instead of make_keypair()
};

inline NodeOptions side_b(NodeOptions o) {
  o.side_a = false;
  return o;
}

// A: routes B's pods to peer 0. B: A's pods belong to peer 0, a third node's to peer 1.
inline void build_node(Node& node, const NodeOptions& o) {
  static unsigned ring_serial = 0;
  dp::ForwardingStateBuilder b;
  if (o.side_a) {
    b.routes(make_routes({{"10.2.0.0", 16, 0}, {"fd00:b::", 64, 0}, {"10.3.0.0", 16, 1}}));
  } else {
    b.routes(make_routes({{"10.1.0.0", 16, 0}, {"fd00:a::", 64, 0}, {"10.3.0.0", 16, 1}}));
  }
  b.tunnel(dp::cpu_to_be16(kPort), kMtu);
  b.bridge(dp::BridgeL2{kBridgeMacB, dp::BridgeDstMac::pod_mac_from_ip, kGatewayMacB});
  b.punt_non_tunnel(o.punt_non_tunnel);
  if (o.staging_size != 0) {
    const std::string name = "stage" + std::to_string(ring_serial++);
    node.staging = rte_ring_create(name.c_str(), o.staging_size, SOCKET_ID_ANY,
                                   RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (node.staging == nullptr) throw std::runtime_error("build_node: rte_ring_create failed");
  }
  b.peer(0, o.cipher, node.activity[0], node.staging);
  b.peer(1, o.cipher, node.activity[1], nullptr);  // a third node, never used for sending
  if (o.with_endpoint) b.endpoint(0, endpoint_template(o.outer_v6, o.side_a));
  if (o.with_keypair) {
    auto kp = o.keypair ? o.keypair : make_keypair(o.side_a, o.cipher, o.birth_ns);
    node.keypair = dp::prepare_keypair(node.engine, kp);
    if (o.is_next) {
      b.session(0, node.keypair, true);
    } else {
      b.current(0, node.keypair);
    }
  }
  node.state = b.build();
}

// ---- packets --------------------------------------------------------------------------------

// Inner packet from A's pod to B's pod, `payload` bytes of UDP payload.
inline Bytes inner_packet(bool v6, std::size_t payload, const char* src = nullptr,
                          const char* dst = nullptr) {
  PacketBuilder pb;
  if (v6) {
    pb.ipv6(src ? src : "fd00:a::5", dst ? dst : "fd00:b::7");
  } else {
    pb.ipv4(src ? src : "10.1.0.5", dst ? dst : "10.2.0.7");
  }
  return pb.udp(40000, 53).payload(payload).build();
}

// The same packet as a frame from A's bridge (pod MAC -> our bridge MAC).
inline Bytes bridge_frame(const Bytes& inner) {
  Bytes f = parse_mac("0a:58:0a:01:00:05");
  const Bytes src = parse_mac("02:00:00:00:00:a0");
  f.insert(f.end(), src.begin(), src.end());
  const bool v6 = (inner[0] >> 4) == 6;
  f.push_back(v6 ? 0x86 : 0x08);
  f.push_back(v6 ? 0xdd : 0x00);
  f.insert(f.end(), inner.begin(), inner.end());
  return f;
}

}  // namespace strait::test

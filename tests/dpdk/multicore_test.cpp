// straitd under pressure, on the pipeline stages with real mbufs and no ports (the nodes of
// tests/common/pipeline_fixture.hpp): outer UDP source ports per inner flow towards straitd
// (AES-256-GCM) peers, the fixed tunnel port towards WireGuard (ChaCha20-Poly1305) peers
// (docs/STRAITD.md, "Outer source ports"), and two worker threads decapsulating one peer's
// traffic concurrently over one ForwardingState.

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <array>
#include <barrier>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/eal_environment.hpp"
#include "common/packet_builder.hpp"
#include "common/pipeline_fixture.hpp"
#include "common/stage_bursts.hpp"
#include "crypto/aead_burst.hpp"
#include "dpdk/counters.hpp"
#include "packet/headers.hpp"
#include "packet/outer_parse.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"

namespace strait::dp {
namespace {

using Bytes = std::vector<std::uint8_t>;
using test::mbuf_of;
using test::NodeOptions;
using test::PacketBuilder;

// A's encap of `inners` (each as a bridge frame) in bursts of 32; returns the wire frames.
std::vector<Bytes> encap_all(test::Node& a, const std::vector<Bytes>& inners) {
  std::vector<Bytes> wire;
  for (std::size_t base = 0; base < inners.size(); base += 32) {
    std::vector<Bytes> frames;
    for (std::size_t i = base; i < std::min(inners.size(), base + 32); ++i)
      frames.push_back(test::bridge_frame(inners[i]));
    test::encap(a, frames, &wire);
  }
  return wire;
}

std::uint16_t source_port(const Bytes& frame) {
  OuterInfo info{};
  EXPECT_EQ(parse_outer(frame.data(), static_cast<std::uint32_t>(frame.size()),
                        cpu_to_be16(test::kPort), info),
            DropReason::none);
  return be16_to_cpu(info.src_port_be);
}

Bytes udp_packet(std::uint16_t sport, std::uint16_t dport, std::size_t payload = 100) {
  return PacketBuilder().ipv4("10.1.0.5", "10.2.0.7").udp(sport, dport).payload(payload).build();
}

using MulticoreTest = test::MbufLeakCheck;

// ---- outer source ports ------------------------------------------------------------------

TEST_F(MulticoreTest, OneFlowKeepsOneSourcePortInTheDynamicRange) {
  NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a;
  test::build_node(a, o);
  // One flow, packets of several sizes, in several bursts.
  std::vector<Bytes> inners;
  for (std::size_t n = 0; n < 70; ++n) inners.push_back(udp_packet(40000, 53, n * 7));
  const auto wire = encap_all(a, inners);
  ASSERT_EQ(wire.size(), inners.size());
  const std::uint16_t first = source_port(wire[0]);
  EXPECT_GE(first, kFlowPortFirst);
  for (const Bytes& f : wire) EXPECT_EQ(source_port(f), first);
}

TEST_F(MulticoreTest, DifferentFlowsSpreadOverManyPorts) {
  NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a;
  test::build_node(a, o);
  std::vector<Bytes> inners;
  for (std::uint16_t i = 0; i < 256; ++i) inners.push_back(udp_packet(40000 + i, 53));
  // Other addresses and protocols count too.
  for (int i = 0; i < 64; ++i) {
    const std::string src = "10.1.0." + std::to_string(10 + i);
    inners.push_back(PacketBuilder().ipv4(src, "10.2.0.7").tcp(1234, 80).build());
  }
  const auto wire = encap_all(a, inners);
  ASSERT_EQ(wire.size(), inners.size());
  std::set<std::uint16_t> ports;
  std::vector<unsigned> buckets(4, 0);  // as a 4-queue RSS might see them (low bits)
  for (const Bytes& f : wire) {
    const std::uint16_t p = source_port(f);
    EXPECT_GE(p, kFlowPortFirst);
    ports.insert(p);
    ++buckets[p % 4];
  }
  // 320 flows into 16384 ports: a good hash collides a handful of times at most.
  EXPECT_GT(ports.size(), 300u);
  for (unsigned b : buckets) EXPECT_GT(b, 40u);
}

TEST_F(MulticoreTest, FragmentsOfOneDatagramShareAPort) {
  // IPv4 fragments have no (or not always) L4 ports: the hash leaves them out, so the first
  // fragment (which has them) and the rest land on one port. Built by the encap stage's own
  // fragmentation: a 1900-byte datagram without DF, tunnel MTU 1420.
  NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a;
  test::build_node(a, o);
  std::vector<rte_mbuf*> in{mbuf_of(test::bridge_frame(udp_packet(40000, 53, 1900)))};
  std::vector<rte_mbuf*> out(1 + kEncapFragmentRoom), slow(1), bridge(1);
  const EncapResult r =
      encap_burst(a.ctx, *a.state, in.data(), 1, out.data(), slow.data(), bridge.data());
  ASSERT_GE(r.to_wire, 2u);
  std::set<std::uint16_t> ports;
  for (std::uint16_t i = 0; i < r.to_wire; ++i) {
    ports.insert(source_port(test::bytes_of(out[i])));
    rte_pktmbuf_free(out[i]);
  }
  EXPECT_EQ(ports.size(), 1u);
}

TEST_F(MulticoreTest, WireGuardPeersKeepTheListenPort) {
  NodeOptions o;
  o.cipher = strait::Cipher::chacha20_poly1305;
  test::Node a;
  test::build_node(a, o);
  std::vector<Bytes> inners;
  for (std::uint16_t i = 0; i < 64; ++i) inners.push_back(udp_packet(40000 + i, 53));
  const auto wire = encap_all(a, inners);
  ASSERT_EQ(wire.size(), inners.size());
  for (const Bytes& f : wire) EXPECT_EQ(source_port(f), test::kPort);
}

TEST_F(MulticoreTest, FlowPortIgnoresPayloadAndCoversIpv6) {
  auto port_of = [](const Bytes& ip) {
    InnerInfo inner{};
    EXPECT_EQ(parse_inner(ip.data(), static_cast<std::uint32_t>(ip.size()), inner),
              DropReason::none);
    return be16_to_cpu(flow_source_port(ip.data(), inner));
  };
  const Bytes a1 =
      PacketBuilder().ipv6("fd00:a::5", "fd00:b::7").udp(1000, 2000).payload(10).build();
  const Bytes a2 =
      PacketBuilder().ipv6("fd00:a::5", "fd00:b::7").udp(1000, 2000).payload(900).build();
  const Bytes b =
      PacketBuilder().ipv6("fd00:a::5", "fd00:b::7").udp(1001, 2000).payload(10).build();
  EXPECT_EQ(port_of(a1), port_of(a2));
  EXPECT_NE(port_of(a1), port_of(b));  // fixed inputs: not a matter of luck once it passes
  EXPECT_GE(port_of(b), kFlowPortFirst);
}

// ---- roaming report ----------------------------------------------------------------------

// B's decap of `wire` on B's own context; returns how many reached the bridge.
std::uint16_t decap_all(test::Node& b, const std::vector<Bytes>& wire) {
  return test::decap(b, wire, nullptr).to_bridge;
}

TEST_F(MulticoreTest, DecapReportsTheAuthenticatedSourceForRoaming) {
  NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a, b;
  test::build_node(a, o);
  test::build_node(b, test::side_b(o));
  EXPECT_FALSE(b.activity[0].last_source.read().has_value());
  const auto wire = encap_all(a, {udp_packet(40000, 53)});
  ASSERT_EQ(wire.size(), 1u);
  ASSERT_EQ(decap_all(b, wire), 1u);
  const auto got = b.activity[0].last_source.read();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first.addr, test::addr16("192.0.2.1"));
  EXPECT_FALSE(got->first.is_ipv6);
  EXPECT_EQ(got->first.port, 0u);  // AES-GCM: flow ports are not reported (docs/STRAITD.md)
  // Another flow from the same address: no store, the sequence number stays.
  const auto again = encap_all(a, {udp_packet(40001, 53)});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(source_port(again[0]), source_port(wire[0]));
  ASSERT_EQ(decap_all(b, again), 1u);
  ASSERT_TRUE(b.activity[0].last_source.read().has_value());
  EXPECT_EQ(b.activity[0].last_source.read()->second, got->second);
  // A forged packet (bad tag) from elsewhere reports nothing: only authenticated sources count.
  Bytes forged = again[0];
  forged.back() ^= 1;
  EXPECT_EQ(decap_all(b, {forged}), 0u);
  EXPECT_EQ(b.activity[0].last_source.read()->second, got->second);
}

TEST_F(MulticoreTest, DecapReportsTheSourcePortOfWireGuardPeers) {
  NodeOptions o;  // ChaCha20-Poly1305: stock WireGuard roams by address and port
  test::Node a, b;
  test::build_node(a, o);
  test::build_node(b, test::side_b(o));
  ASSERT_EQ(decap_all(b, encap_all(a, {udp_packet(40000, 53)})), 1u);
  const auto got = b.activity[0].last_source.read();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first.addr, test::addr16("192.0.2.1"));
  EXPECT_EQ(got->first.port, test::kPort);
}

// ---- two workers, one peer ---------------------------------------------------------------

// B's decap on two threads at once, each with its own AEAD engine and counters, over one
// ForwardingState, as two worker lcores fed by RSS would run it. pick(thread, i) says whether
// thread `thread` gets wire frame i. The threads meet at a barrier after every burst of 32 so
// that neither runs a whole replay window ahead of the other (real RSS queues keep one flow
// on one lcore; the barrier stands in for the in-order arrival of each queue).
struct SplitResult {
  std::array<std::uint64_t, 2> delivered{};
  std::array<std::uint64_t, 2> replay{};
  std::array<std::uint64_t, 2> other_drops{};
};

template <typename Pick>
SplitResult decap_on_two_threads(test::Node& b, const std::vector<Bytes>& wire, Pick pick) {
  SplitResult res;
  constexpr std::size_t kBurst = 32;
  const std::size_t rounds = (wire.size() + kBurst - 1) / kBurst;
  std::barrier sync(2);
  auto worker = [&](int t) {
    crypto::AeadEngine engine;
    LcoreCounters counters{};
    StageContext ctx{&engine, &counters, test::kNow};
    std::vector<rte_mbuf*> in, out(kBurst), hs(kBurst), slow(kBurst);
    for (std::size_t round = 0; round < rounds; ++round) {
      in.clear();
      for (std::size_t i = round * kBurst; i < std::min(wire.size(), (round + 1) * kBurst); ++i)
        if (pick(t, i)) in.push_back(mbuf_of(wire[i]));
      const DecapResult r =
          decap_burst(ctx, *b.state, in.data(), static_cast<std::uint16_t>(in.size()), out.data(),
                      hs.data(), slow.data());
      res.delivered[t] += r.to_bridge;
      test::free_all(out.data(), r.to_bridge);
      test::free_all(hs.data(), r.to_handshake);
      test::free_all(slow.data(), r.to_slow_path);
      sync.arrive_and_wait();
    }
    res.replay[t] = counters.drops[static_cast<std::size_t>(DropReason::replay)];
    std::uint64_t all = 0;
    for (std::uint64_t d : counters.drops) all += d;
    res.other_drops[t] = all - res.replay[t];
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  return res;
}

std::vector<Bytes> many_flows(std::size_t n) {
  std::vector<Bytes> inners;
  for (std::size_t i = 0; i < n; ++i)
    inners.push_back(udp_packet(static_cast<std::uint16_t>(40000 + i % 97), 53, 64 + i % 500));
  return inners;
}

TEST_F(MulticoreTest, TwoWorkersSplitOnePeerAndDeliverEverything) {
  NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a, b;
  test::build_node(a, o);
  test::build_node(b, test::side_b(o));
  const auto wire = encap_all(a, many_flows(2048));
  ASSERT_EQ(wire.size(), 2048u);
  // As RSS over the outer source port would split them: by the flow port.
  const SplitResult r = decap_on_two_threads(
      b, wire, [&](int t, std::size_t i) { return (source_port(wire[i]) & 1) == t; });
  EXPECT_EQ(r.delivered[0] + r.delivered[1], wire.size());
  EXPECT_GT(r.delivered[0], 0u);
  EXPECT_GT(r.delivered[1], 0u);
  EXPECT_EQ(r.replay[0] + r.replay[1], 0u);
  EXPECT_EQ(r.other_drops[0] + r.other_drops[1], 0u);
  EXPECT_EQ(b.activity[0].counters.rx_packets.load(), wire.size());
}

TEST_F(MulticoreTest, TwoWorkersRacingOnTheSameFramesAcceptEachCounterOnce) {
  NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a, b;
  test::build_node(a, o);
  test::build_node(b, test::side_b(o));
  const auto wire = encap_all(a, many_flows(2048));
  ASSERT_EQ(wire.size(), 2048u);
  // Both threads get every frame: each counter must be accepted by exactly one of them.
  const SplitResult r = decap_on_two_threads(b, wire, [](int, std::size_t) { return true; });
  EXPECT_EQ(r.delivered[0] + r.delivered[1], wire.size());
  EXPECT_EQ(r.replay[0] + r.replay[1], wire.size());
  EXPECT_EQ(r.other_drops[0] + r.other_drops[1], 0u);
}

}  // namespace
}  // namespace strait::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // No cache: the in-use count is exact, and threads that are not EAL lcores may use the pool.
  ::testing::AddGlobalTestEnvironment(new strait::test::EalEnvironment(
      {.program = "dpdk_multicore_test"}, strait::test::PlainPool{8191}));
  return RUN_ALL_TESTS();
}

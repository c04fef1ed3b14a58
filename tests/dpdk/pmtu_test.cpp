// Path MTU and TCP MSS clamping in the fast path (dataplane/pipeline/path_mtu.hpp,
// dataplane/packet/tcp_mss.hpp; docs/STRAITD.md, "Path MTU"), on real mbufs with no ports:
//
//   pod 10.1.0.5 / fd00:a::5  --frame-->  [A encap_burst] --wire--> [B decap_burst] --> pod
//          ^                                   |  tunnel MTU 1420
//          +---- ICMP frag needed / PTB -------+  (out_bridge, rate-limited per StageContext)
//
// The two nodes are tests/common/pipeline_fixture.hpp's. Every check of a checksum uses
// PacketBuilder's naive implementation, never strait's own. Every test ends with the mbuf
// pool's in-use count back at its baseline (the pool has no per-lcore cache).

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/eal_environment.hpp"
#include "common/packet_builder.hpp"
#include "common/pipeline_fixture.hpp"
#include "common/stage_bursts.hpp"
#include "packet/headers.hpp"
#include "packet/inner_parse.hpp"
#include "packet/tcp_mss.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"
#include "pipeline/forwarding_state.hpp"

namespace strait::dp {
namespace {

using test::build_node;
using test::Bytes;
using test::kBridgeMacB;
using test::kMtu;
using test::kNow;
using test::mbuf_of;
using test::Node;
using test::NodeOptions;
using test::PacketBuilder;

// ---- helpers --------------------------------------------------------------------------------

const Bytes kPodMacA = test::parse_mac("02:00:00:00:00:a0");  // bridge_frame()'s source MAC

// The node's snapshot with other path-MTU settings (a copy: the keypairs and activity blocks
// it names stay the node's).
void set_path_mtu(Node& node, const PathMtuConfig& config) {
  auto s = std::make_unique<ForwardingState>(*node.state);
  s->path_mtu = config;
  node.state = std::move(s);
}

PathMtuConfig mss_clamping() {
  PathMtuConfig c;
  c.mss_clamp_v4 = mss_for_mtu(kMtu, false);
  c.mss_clamp_v6 = mss_for_mtu(kMtu, true);
  return c;
}

struct EncapOut {
  EncapResult r;
  std::vector<Bytes> wire, bridge;
};

// A's encap over frames with a way back to the bridge; every output kept.
EncapOut encap(Node& a, const std::vector<Bytes>& frames) {
  EncapOut o;
  o.r = test::encap(a, frames, &o.wire, nullptr, &o.bridge);
  return o;
}

// What B's decap delivers to the bridge.
std::vector<Bytes> decap(Node& b, const std::vector<Bytes>& frames) {
  std::vector<Bytes> bridge;
  test::decap(b, frames, &bridge);
  return bridge;
}

// A UDP packet of exactly `total` bytes from A's pod to B's pod.
Bytes udp_packet(bool v6, std::size_t total, bool dont_fragment = false) {
  PacketBuilder pb;
  if (v6) {
    pb.ipv6("fd00:a::5", "fd00:b::7");
  } else {
    pb.ipv4("10.1.0.5", "10.2.0.7");
    if (dont_fragment) pb.set_dont_fragment();
  }
  return pb.udp(40000, 5201).payload(total - (v6 ? 48 : 28)).build();
}

std::uint16_t be16_at(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
std::uint32_t be32_at(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(be16_at(b, at)) << 16 | be16_at(b, at + 2);
}

// The naive pseudo-header sum (RFC 768 / RFC 8200 section 8.1) of the IP packet at ip[0..).
std::uint32_t naive_pseudo_sum(const Bytes& ip, std::size_t l4_len, std::uint8_t proto) {
  const bool v6 = (ip[0] >> 4) == 6;
  std::uint32_t s = 0;
  for (std::size_t i = v6 ? 8 : 12; i < (v6 ? 40U : 20U); i += 2) s += be16_at(ip, i);
  return s + proto + static_cast<std::uint32_t>(l4_len & 0xffff) +
         static_cast<std::uint32_t>(l4_len >> 16);
}

// Whether the L4 checksum of the IP packet `ip` (no options for IPv4) verifies.
bool l4_checksum_ok(const Bytes& ip, std::uint8_t proto) {
  const bool v6 = (ip[0] >> 4) == 6;
  const std::size_t hl = v6 ? 40 : (ip[0] & 0x0f) * 4U;
  const std::span<const std::uint8_t> l4(ip.data() + hl, ip.size() - hl);
  const std::uint32_t pseudo = proto == kIpProtoIcmp ? 0 : naive_pseudo_sum(ip, l4.size(), proto);
  return test::naive_checksum(l4, pseudo) == 0;
}

Bytes strip_eth(const Bytes& frame) { return Bytes(frame.begin() + kEthHdrLen, frame.end()); }

using PmtuTest = test::MbufLeakCheck;

// ---- ICMP "fragmentation needed" / "packet too big" -----------------------------------------

TEST_F(PmtuTest, Ipv4WithDfGetsFragmentationNeededWithTheTunnelMtu) {
  Node a;
  build_node(a, NodeOptions{});
  const Bytes inner = udp_packet(false, 1500, /*dont_fragment=*/true);
  ASSERT_EQ(inner.size(), 1500u);
  const EncapOut o = encap(a, {test::bridge_frame(inner)});
  EXPECT_EQ(o.r.to_wire, 0u);
  ASSERT_EQ(o.r.to_bridge, 1u);
  EXPECT_EQ(a.drops(DropReason::too_big_icmp), 1u);
  EXPECT_EQ(a.total_drops(), 1u);
  const Bytes& f = o.bridge[0];
  // Ethernet: back to the sender's MAC, from our bridge MAC.
  EXPECT_TRUE(std::equal(kPodMacA.begin(), kPodMacA.end(), f.begin()));
  EXPECT_TRUE(std::equal(kBridgeMacB.begin(), kBridgeMacB.end(), f.begin() + 6));
  EXPECT_EQ(be16_at(f, 12), 0x0800);
  const Bytes ip = strip_eth(f);
  // 576 bytes in all (RFC 1812 section 4.3.2.3): 20 + 8 + 548 quoted.
  ASSERT_EQ(ip.size(), 576u);
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(be16_at(ip, 2), 576);
  EXPECT_EQ(ip[9], kIpProtoIcmp);
  EXPECT_EQ(test::naive_checksum({ip.data(), 20}), 0) << "IPv4 header checksum";
  EXPECT_EQ(Bytes(ip.begin() + 12, ip.begin() + 16), test::parse_ipv4("10.2.0.7"));  // fallback
  EXPECT_EQ(Bytes(ip.begin() + 16, ip.begin() + 20), test::parse_ipv4("10.1.0.5"));
  // RFC 792 type 3 code 4, RFC 1191 next-hop MTU in the low 16 bits of the second word.
  EXPECT_EQ(ip[20], 3);
  EXPECT_EQ(ip[21], 4);
  EXPECT_EQ(be16_at(ip, 24), 0);
  EXPECT_EQ(be16_at(ip, 26), kMtu);
  EXPECT_TRUE(l4_checksum_ok(ip, kIpProtoIcmp));
  // The quote: the original header (with its DF) and as much of the data as fits.
  EXPECT_EQ(Bytes(ip.begin() + 28, ip.end()), Bytes(inner.begin(), inner.begin() + 548));
  EXPECT_EQ(a.activity[0].counters.tx_packets.load(), 0u);
}

TEST_F(PmtuTest, ConfiguredIcmpSourceAddressIsUsed) {
  Node a;
  build_node(a, NodeOptions{});
  PathMtuConfig c;
  c.icmp_source_v4 = std::array<std::uint8_t, 4>{10, 1, 0, 1};
  c.icmp_source_v6 = test::addr16("fd00:a::1");
  set_path_mtu(a, c);
  const EncapOut o = encap(a, {test::bridge_frame(udp_packet(false, 1421, true)),
                               test::bridge_frame(udp_packet(true, 1421))});
  ASSERT_EQ(o.r.to_bridge, 2u);
  const Bytes v4 = strip_eth(o.bridge[0]), v6 = strip_eth(o.bridge[1]);
  EXPECT_EQ(Bytes(v4.begin() + 12, v4.begin() + 16), test::parse_ipv4("10.1.0.1"));
  EXPECT_TRUE(l4_checksum_ok(v4, kIpProtoIcmp));
  EXPECT_EQ(Bytes(v6.begin() + 8, v6.begin() + 24), test::parse_ipv6("fd00:a::1"));
  EXPECT_TRUE(l4_checksum_ok(v6, kIpProtoIcmpv6));
}

TEST_F(PmtuTest, Ipv6GetsPacketTooBigQuotingUpTo1280Bytes) {
  Node a;
  build_node(a, NodeOptions{});
  const Bytes inner = udp_packet(true, 1500);
  const EncapOut o = encap(a, {test::bridge_frame(inner)});
  EXPECT_EQ(o.r.to_wire, 0u);
  ASSERT_EQ(o.r.to_bridge, 1u);
  EXPECT_EQ(a.drops(DropReason::too_big_icmp), 1u);
  const Bytes& f = o.bridge[0];
  EXPECT_TRUE(std::equal(kPodMacA.begin(), kPodMacA.end(), f.begin()));
  EXPECT_TRUE(std::equal(kBridgeMacB.begin(), kBridgeMacB.end(), f.begin() + 6));
  EXPECT_EQ(be16_at(f, 12), 0x86dd);
  const Bytes ip = strip_eth(f);
  ASSERT_EQ(ip.size(), 1280u);  // RFC 4443 section 2.4(c): no more than the minimum MTU
  EXPECT_EQ(ip[0] >> 4, 6);
  EXPECT_EQ(be16_at(ip, 4), 1240);
  EXPECT_EQ(ip[6], kIpProtoIcmpv6);
  EXPECT_EQ(Bytes(ip.begin() + 8, ip.begin() + 24), test::parse_ipv6("fd00:b::7"));
  EXPECT_EQ(Bytes(ip.begin() + 24, ip.begin() + 40), test::parse_ipv6("fd00:a::5"));
  EXPECT_EQ(ip[40], 2);  // packet too big
  EXPECT_EQ(ip[41], 0);
  EXPECT_EQ(be32_at(ip, 44), kMtu);
  EXPECT_TRUE(l4_checksum_ok(ip, kIpProtoIcmpv6));
  EXPECT_EQ(Bytes(ip.begin() + 48, ip.end()), Bytes(inner.begin(), inner.begin() + 1232));
}

TEST_F(PmtuTest, ShortPacketIsQuotedWhole) {
  // A tunnel MTU below the quote limit: the 600-byte IPv6 packet is quoted in full.
  Node a;
  build_node(a, NodeOptions{});
  auto s = std::make_unique<ForwardingState>(*a.state);
  s->tunnel_mtu = 576;
  a.state = std::move(s);
  const Bytes inner = udp_packet(true, 600);
  const EncapOut o = encap(a, {test::bridge_frame(inner)});
  ASSERT_EQ(o.r.to_bridge, 1u);
  const Bytes ip = strip_eth(o.bridge[0]);
  ASSERT_EQ(ip.size(), 48u + 600u);
  EXPECT_EQ(be32_at(ip, 44), 576u);
  EXPECT_EQ(Bytes(ip.begin() + 48, ip.end()), inner);
  EXPECT_TRUE(l4_checksum_ok(ip, kIpProtoIcmpv6));
}

TEST_F(PmtuTest, EleventhAnswerInTheSameInstantIsDroppedThenTheBucketRefills) {
  Node a;
  build_node(a, NodeOptions{});
  std::vector<Bytes> frames;
  for (int i = 0; i < 11; ++i)
    frames.push_back(test::bridge_frame(udp_packet(i % 2 == 0, 1500, true)));
  EncapOut o = encap(a, frames);
  EXPECT_EQ(o.r.to_bridge, static_cast<unsigned>(kIcmpBurst));
  EXPECT_EQ(a.drops(DropReason::too_big_icmp), 10u);
  EXPECT_EQ(a.drops(DropReason::too_big), 1u);
  // Still the same instant: nothing.
  o = encap(a, {frames[0]});
  EXPECT_EQ(o.r.to_bridge, 0u);
  EXPECT_EQ(a.drops(DropReason::too_big), 2u);
  // One interval (1 / kIcmpPerSecond) later: exactly one more.
  a.ctx.now_ns += 1'000'000'000 / kIcmpPerSecond;
  o = encap(a, {frames[0], frames[1]});
  EXPECT_EQ(o.r.to_bridge, 1u);
  EXPECT_EQ(a.drops(DropReason::too_big), 3u);
  // A second later the whole burst is back.
  a.ctx.now_ns += 1'000'000'000;
  o = encap(a, frames);
  EXPECT_EQ(o.r.to_bridge, 10u);
}

TEST_F(PmtuTest, NoAnswerWhereTheRulesForbidIt) {
  Node a;
  build_node(a, NodeOptions{});
  // 1. An ICMP error (destination unreachable) with DF; 2. an ICMPv6 error (type 1);
  // 3. an IPv4 source of 0.0.0.0; 4. an IPv6 multicast destination with no configured source
  // (the fallback source would be multicast); 5. an echo request (a query) is answered.
  Bytes icmp_err =
      PacketBuilder().ipv4("10.1.0.5", "10.2.0.7").icmp_echo(1, 1).payload(1500).build();
  icmp_err[6] = 0x40;  // DF
  icmp_err[20] = 3;    // type: destination unreachable (checksums do not matter here)
  Bytes icmp6_err =
      PacketBuilder().ipv6("fd00:a::5", "fd00:b::7").icmpv6_echo(1, 1).payload(1500).build();
  icmp6_err[40] = 1;
  auto s = std::make_unique<ForwardingState>(*a.state);
  s->routes = test::make_routes(
      {{"10.2.0.0", 16, 0}, {"fd00:b::", 64, 0}, {"10.3.0.0", 16, 1}, {"ff0e::", 16, 0}});
  a.state = std::move(s);
  PacketBuilder zero_src;
  zero_src.ipv4("0.0.0.0", "10.2.0.7").set_dont_fragment();
  const Bytes from_zero = zero_src.udp(1, 2).payload(1500).build();
  const Bytes to_multicast =
      PacketBuilder().ipv6("fd00:a::5", "ff0e::1").udp(1, 2).payload(1500).build();
  PacketBuilder echo;
  echo.ipv4("10.1.0.5", "10.2.0.7").set_dont_fragment();
  const Bytes echo_request = echo.icmp_echo(7, 1).payload(1500).build();

  const EncapOut o = encap(a, {test::bridge_frame(icmp_err), test::bridge_frame(icmp6_err),
                               test::bridge_frame(from_zero), test::bridge_frame(to_multicast),
                               test::bridge_frame(echo_request)});
  EXPECT_EQ(o.r.to_wire, 0u);
  EXPECT_EQ(o.r.to_bridge, 1u);
  EXPECT_EQ(a.drops(DropReason::too_big), 4u);
  EXPECT_EQ(a.drops(DropReason::too_big_icmp), 1u);
}

TEST_F(PmtuTest, WithoutAWayBackEveryOversizedPacketIsDropped) {
  Node a;
  build_node(a, NodeOptions{});
  rte_mbuf* in[3] = {mbuf_of(test::bridge_frame(udp_packet(false, 1500, true))),
                     mbuf_of(test::bridge_frame(udp_packet(false, 1500))),
                     mbuf_of(test::bridge_frame(udp_packet(true, 1500)))};
  rte_mbuf* out[3];
  rte_mbuf* slow[3];
  const EncapResult r = encap_burst(a.ctx, *a.state, in, 3, out, slow);
  EXPECT_EQ(r.to_wire + r.to_slow_path + r.to_bridge, 0);
  EXPECT_EQ(a.drops(DropReason::too_big), 3u);
  EXPECT_EQ(a.total_drops(), 3u);
}

// ---- IPv4 without DF: fragmentation -----------------------------------------------------------

// Reassembles the IPv4 fragments (bridge frames) of one datagram, checking each on the way.
Bytes reassemble(const std::vector<Bytes>& frames, std::uint32_t mtu) {
  std::map<std::uint32_t, Bytes> data;  // by offset
  Bytes header;
  std::uint32_t end = 0;
  std::optional<std::uint16_t> id;
  for (const Bytes& f : frames) {
    const Bytes ip = strip_eth(f);
    EXPECT_LE(ip.size(), mtu);
    const std::size_t hl = (ip[0] & 0x0f) * 4U;
    EXPECT_EQ(test::naive_checksum({ip.data(), hl}), 0) << "fragment header checksum";
    EXPECT_EQ(be16_at(ip, 2), ip.size());
    if (!id) id = be16_at(ip, 4);
    EXPECT_EQ(be16_at(ip, 4), *id) << "all fragments carry the datagram's ID";
    const std::uint16_t frag = be16_at(ip, 6);
    EXPECT_EQ(frag & 0x4000, 0) << "DF";
    const std::uint32_t off = (frag & 0x1fffU) * 8U;
    const bool more = (frag & 0x2000) != 0;
    if (more) {
      EXPECT_EQ((ip.size() - hl) % 8, 0u) << "non-last fragment data in 8-byte units";
    }
    if (off == 0) header.assign(ip.begin(), ip.begin() + static_cast<std::ptrdiff_t>(hl));
    if (!more) end = off + static_cast<std::uint32_t>(ip.size() - hl);
    data[off] = Bytes(ip.begin() + static_cast<std::ptrdiff_t>(hl), ip.end());
  }
  Bytes payload;
  for (const auto& [off, d] : data) {
    EXPECT_EQ(off, payload.size()) << "fragments neither overlap nor leave holes";
    payload.insert(payload.end(), d.begin(), d.end());
  }
  EXPECT_EQ(payload.size(), end);
  if (header.empty()) return {};
  Bytes out = header;
  out.insert(out.end(), payload.begin(), payload.end());
  // The reassembled header: length of the whole, no fragment bits, checksum refreshed.
  out[2] = static_cast<std::uint8_t>(out.size() >> 8);
  out[3] = static_cast<std::uint8_t>(out.size());
  out[6] = out[7] = 0;
  out[10] = out[11] = 0;
  const std::uint16_t c = test::naive_checksum({out.data(), header.size()});
  out[10] = static_cast<std::uint8_t>(c >> 8);
  out[11] = static_cast<std::uint8_t>(c);
  return out;
}

TEST_F(PmtuTest, Ipv4WithoutDfIsFragmentedAndReassemblesToTheOriginal) {
  Node a, b;
  build_node(a, NodeOptions{});
  build_node(b, test::side_b(NodeOptions{}));
  for (std::size_t total : {std::size_t{1421}, std::size_t{1500}, std::size_t{2000}}) {
    SCOPED_TRACE("total " + std::to_string(total));
    PacketBuilder pb;
    pb.ipv4("10.1.0.5", "10.2.0.7");
    Bytes inner = pb.udp(40000, 5201).payload(total - 28).build();
    inner[4] = 0x12;  // an ID, so that its copying is seen
    inner[5] = 0x34;
    inner[10] = inner[11] = 0;
    const std::uint16_t c = test::naive_checksum({inner.data(), 20});
    inner[10] = static_cast<std::uint8_t>(c >> 8);
    inner[11] = static_cast<std::uint8_t>(c);

    const EncapOut o = encap(a, {test::bridge_frame(inner)});
    EXPECT_EQ(o.r.fragmented, 1u);
    EXPECT_EQ(o.r.to_bridge, 0u);
    // (1420 - 20) & ~7 = 1400 data bytes per fragment.
    const std::size_t want = (total - 20 + 1399) / 1400;
    ASSERT_EQ(o.r.to_wire, want);
    const std::vector<Bytes> bridge = decap(b, o.wire);
    ASSERT_EQ(bridge.size(), want);
    EXPECT_EQ(reassemble(bridge, kMtu), inner);
  }
  EXPECT_EQ(a.total_drops(), 0u);
  EXPECT_EQ(b.total_drops(), 0u);
}

TEST_F(PmtuTest, AFragmentIsFragmentedFurtherKeepingItsOffsetAndMoreFlag) {
  Node a;
  build_node(a, NodeOptions{});
  // The middle fragment of some bigger datagram: offset 185 units (1480 bytes), MF set.
  PacketBuilder pb;
  pb.ipv4("10.1.0.5", "10.2.0.7").set_fragment(true, 185);
  const Bytes inner = pb.raw(Bytes(1480, 0x3c)).set_ip_protocol(kIpProtoUdp).build();
  const EncapOut o = encap(a, {test::bridge_frame(inner)});
  ASSERT_EQ(o.r.to_wire, 2u);
  // Open A's wire frames by decapsulating at B.
  Node b;
  build_node(b, test::side_b(NodeOptions{}));
  const std::vector<Bytes> bridge = decap(b, o.wire);
  ASSERT_EQ(bridge.size(), 2u);
  const Bytes f0 = strip_eth(bridge[0]), f1 = strip_eth(bridge[1]);
  EXPECT_EQ(be16_at(f0, 6), 0x2000 | 185);
  EXPECT_EQ(be16_at(f1, 6), 0x2000 | (185 + 1400 / 8));  // still MF: the original had it
  EXPECT_EQ(f0.size() + f1.size() - 40, 1480u);
}

TEST_F(PmtuTest, CopiedOptionsRepeatOthersBecomeNoOps) {
  Node a, b;
  build_node(a, NodeOptions{});
  build_node(b, test::side_b(NodeOptions{}));
  // IHL 7: a record-route option (type 7, not copied, length 7) and an end of list; then a
  // copied option would follow in real life: use type 0x94 (router alert, copied, length 4)
  // first. Layout: 94 04 00 00 | 07 03 04 00  (RR with 3 bytes: type, len, pointer)
  Bytes inner = udp_packet(false, 1500);
  const Bytes opts = {0x94, 0x04, 0x00, 0x00, 0x07, 0x03, 0x04, 0x00};
  inner.insert(inner.begin() + 20, opts.begin(), opts.end());
  inner[0] = 0x47;
  inner[2] = static_cast<std::uint8_t>(inner.size() >> 8);
  inner[3] = static_cast<std::uint8_t>(inner.size());
  inner[10] = inner[11] = 0;
  const std::uint16_t c = test::naive_checksum({inner.data(), 28});
  inner[10] = static_cast<std::uint8_t>(c >> 8);
  inner[11] = static_cast<std::uint8_t>(c);
  const EncapOut o = encap(a, {test::bridge_frame(inner)});
  ASSERT_EQ(o.r.to_wire, 2u);
  const std::vector<Bytes> bridge = decap(b, o.wire);
  ASSERT_EQ(bridge.size(), 2u);
  const Bytes f0 = strip_eth(bridge[0]), f1 = strip_eth(bridge[1]);
  EXPECT_EQ(Bytes(f0.begin() + 20, f0.begin() + 28), opts);
  EXPECT_EQ(Bytes(f1.begin() + 20, f1.begin() + 28),
            (Bytes{0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00}));
  EXPECT_EQ(reassemble(bridge, kMtu), inner);
}

TEST_F(PmtuTest, FragmentBudgetPerBurstThenTooBig) {
  Node a;
  build_node(a, NodeOptions{});
  // 20 packets of two fragments each: the first 16 fill the 32 slots, the other 4 are dropped.
  std::vector<Bytes> frames(20, test::bridge_frame(udp_packet(false, 1500)));
  static_assert(kEncapFragmentRoom == 32);
  const EncapOut o = encap(a, frames);
  EXPECT_EQ(o.r.fragmented, 16u);
  EXPECT_EQ(o.r.to_wire, 32u);
  EXPECT_EQ(a.drops(DropReason::too_big), 4u);
  EXPECT_EQ(a.total_drops(), 4u);
  EXPECT_EQ(a.activity[0].counters.tx_packets.load(), 32u);
}

TEST_F(PmtuTest, FragmentationOffDropsTooBig) {
  Node a;
  build_node(a, NodeOptions{});
  PathMtuConfig c;
  c.fragment_ipv4 = false;
  set_path_mtu(a, c);
  const EncapOut o = encap(a, {test::bridge_frame(udp_packet(false, 1500))});
  EXPECT_EQ(o.r.to_wire + o.r.to_bridge, 0);
  EXPECT_EQ(a.drops(DropReason::too_big), 1u);
}

// ---- TCP MSS clamping -------------------------------------------------------------------------

// An IP packet carrying a TCP header with `options` (padded by the caller to 4 bytes), correct
// naive checksum, from A's pod to B's pod, or the other way round.
Bytes tcp_segment(bool v6, std::uint8_t flags, const Bytes& options, bool from_a = true) {
  Bytes tcp(20, 0);
  tcp[0] = 0x9c;  // source port 40000
  tcp[1] = 0x40;
  tcp[3] = 80;
  tcp[7] = 1;
  tcp[12] = static_cast<std::uint8_t>(((20 + options.size()) / 4) << 4);
  tcp[13] = flags;
  tcp[14] = tcp[15] = 0xff;
  tcp.insert(tcp.end(), options.begin(), options.end());
  PacketBuilder pb;
  if (v6) {
    pb.ipv6(from_a ? "fd00:a::5" : "fd00:b::7", from_a ? "fd00:b::7" : "fd00:a::5");
  } else {
    pb.ipv4(from_a ? "10.1.0.5" : "10.2.0.7", from_a ? "10.2.0.7" : "10.1.0.5");
  }
  Bytes ip = pb.raw(tcp).set_ip_protocol(kIpProtoTcp).build();
  const std::size_t hl = v6 ? 40 : 20;
  const std::uint16_t c = test::naive_checksum({ip.data() + hl, ip.size() - hl},
                                               naive_pseudo_sum(ip, ip.size() - hl, kIpProtoTcp));
  ip[hl + 16] = static_cast<std::uint8_t>(c >> 8);
  ip[hl + 17] = static_cast<std::uint8_t>(c);
  EXPECT_TRUE(l4_checksum_ok(ip, kIpProtoTcp));
  return ip;
}

Bytes mss_option(std::uint16_t mss) {
  return {kTcpOptMss, 4, static_cast<std::uint8_t>(mss >> 8), static_cast<std::uint8_t>(mss)};
}

// NOP, MSS, NOP, NOP, NOP: the MSS value at an odd offset of the segment.
Bytes cat_nop_mss(std::uint16_t mss) {
  Bytes b{kTcpOptNop};
  const Bytes o = mss_option(mss);
  b.insert(b.end(), o.begin(), o.end());
  b.insert(b.end(), {kTcpOptNop, kTcpOptNop, kTcpOptNop});
  return b;
}

struct MssCase {
  int number;
  const char* what;
  std::uint8_t flags;
  Bytes options;
  std::optional<std::size_t> changed_at;  // offset of the MSS value in the options, if clamped
};

// Numbered case table over clamp_tcp_mss itself, both families: want the MSS at changed_at
// lowered to the clamp and a valid checksum, or the packet byte for byte unchanged.
TEST(MssClampTable, CasesBothFamilies) {
  const std::uint8_t syn = test::kTcpFlagSyn, ack = test::kTcpFlagAck;
  const auto cat = [](std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const std::vector<MssCase> cases = {
      {1, "SYN, MSS 1460", syn, mss_option(1460), 2},
      {2, "SYN-ACK, MSS 1460", static_cast<std::uint8_t>(syn | ack), mss_option(1460), 2},
      {3, "SYN, MSS after one NOP (odd offset)", syn, cat({{1}, mss_option(8960), {1, 1, 1}}), 3},
      {4, "SYN, MSS after SACK-permitted and a timestamp", syn,
       cat({{4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}, mss_option(1460)}), 14},
      {5, "SYN, MSS already small", syn, mss_option(536), std::nullopt},
      {6, "ACK only (not a SYN), MSS present", ack, mss_option(1460), std::nullopt},
      {7, "SYN, no options", syn, {}, std::nullopt},
      {8, "SYN, end of list before MSS", syn, cat({{0, 1, 1, 1}, mss_option(1460)}), std::nullopt},
      {9, "SYN, option length 0 before MSS", syn, cat({{8, 0, 1, 1}, mss_option(1460)}),
       std::nullopt},
      {10, "SYN, option running past the header after MSS", syn,
       cat({mss_option(1460), {1, 1, 8, 9}}), std::nullopt},
      {11, "SYN, option running past the header before MSS", syn,
       cat({{1, 1, 8, 9}, mss_option(1460)}), std::nullopt},
      {12, "SYN, MSS option of length 3", syn, {kTcpOptMss, 3, 0x05, 0x01}, std::nullopt},
      {13, "SYN, kind without room for its length", syn, {1, 1, 1, 8}, std::nullopt},
  };
  for (bool v6 : {false, true}) {
    const std::uint16_t clamp = mss_for_mtu(kMtu, v6);
    EXPECT_EQ(clamp, v6 ? 1360 : 1380);
    for (const MssCase& c : cases) {
      SCOPED_TRACE(std::string(v6 ? "IPv6 " : "IPv4 ") + "case " + std::to_string(c.number) + ": " +
                   c.what);
      Bytes ip = tcp_segment(v6, c.flags, c.options);
      const Bytes before = ip;
      InnerInfo inner{};
      ASSERT_EQ(parse_inner(ip.data(), static_cast<std::uint32_t>(ip.size()), inner),
                DropReason::none);
      const bool changed = clamp_tcp_mss(ip.data(), inner, clamp);
      EXPECT_EQ(changed, c.changed_at.has_value());
      if (!c.changed_at) {
        EXPECT_EQ(ip, before);
        continue;
      }
      const std::size_t at = (v6 ? 40 : 20) + 20 + *c.changed_at;
      EXPECT_EQ(be16_at(ip, at), clamp);
      EXPECT_TRUE(l4_checksum_ok(ip, kIpProtoTcp));
      // Nothing else moved.
      Bytes masked = ip, masked_before = before;
      const std::size_t check = (v6 ? 40 : 20) + 16;
      for (Bytes* b : {&masked, &masked_before}) {
        (*b)[at] = (*b)[at + 1] = (*b)[check] = (*b)[check + 1] = 0;
      }
      EXPECT_EQ(masked, masked_before);
    }
  }
}

TEST(MssClampTable, Ipv4FragmentsAndOffAreLeftAlone) {
  Bytes ip = tcp_segment(false, test::kTcpFlagSyn, mss_option(1460));
  InnerInfo inner{};
  ASSERT_EQ(parse_inner(ip.data(), static_cast<std::uint32_t>(ip.size()), inner), DropReason::none);
  EXPECT_FALSE(clamp_tcp_mss(ip.data(), inner, 0));
  ip[6] = 0x20;  // MF: the first fragment of something
  EXPECT_FALSE(clamp_tcp_mss(ip.data(), inner, 1380));
  EXPECT_EQ(be16_at(ip, 42), 1460);
}

// Through the stages: clamping at A's encap (towards the wire) and at B's decap (towards the
// bridge), IPv4 and IPv6, with the other node not clamping.
TEST_F(PmtuTest, SynIsClampedInBothDirectionsNonSynUntouched) {
  for (bool clamp_at_encap : {true, false}) {
    for (bool v6 : {false, true}) {
      SCOPED_TRACE(std::string(clamp_at_encap ? "encap " : "decap ") + (v6 ? "IPv6" : "IPv4"));
      Node a, b;
      build_node(a, NodeOptions{});
      build_node(b, test::side_b(NodeOptions{}));
      set_path_mtu(clamp_at_encap ? a : b, mss_clamping());
      const Bytes syn = tcp_segment(v6, test::kTcpFlagSyn, mss_option(1460));
      const Bytes synack =
          tcp_segment(v6, test::kTcpFlagSyn | test::kTcpFlagAck, cat_nop_mss(8960));
      const Bytes data = tcp_segment(v6, test::kTcpFlagAck, mss_option(1460));
      const EncapOut o =
          encap(a, {test::bridge_frame(syn), test::bridge_frame(synack), test::bridge_frame(data)});
      ASSERT_EQ(o.r.to_wire, 3u);
      const std::vector<Bytes> bridge = decap(b, o.wire);
      ASSERT_EQ(bridge.size(), 3u);
      const std::uint16_t want = mss_for_mtu(kMtu, v6);
      const std::size_t tcp = v6 ? 40 : 20;
      const Bytes s0 = strip_eth(bridge[0]), s1 = strip_eth(bridge[1]), s2 = strip_eth(bridge[2]);
      EXPECT_EQ(be16_at(s0, tcp + 22), want);
      EXPECT_TRUE(l4_checksum_ok(s0, kIpProtoTcp));
      EXPECT_EQ(be16_at(s1, tcp + 23), want);  // after a NOP: odd offset
      EXPECT_TRUE(l4_checksum_ok(s1, kIpProtoTcp));
      EXPECT_EQ(s2, data);
      EXPECT_EQ(a.total_drops() + b.total_drops(), 0u);
    }
  }
}

TEST_F(PmtuTest, ClampingOffLeavesSynAlone) {
  Node a, b;
  build_node(a, NodeOptions{});
  build_node(b, test::side_b(NodeOptions{}));
  const Bytes syn = tcp_segment(false, test::kTcpFlagSyn, mss_option(1460));
  const EncapOut o = encap(a, {test::bridge_frame(syn)});
  const std::vector<Bytes> bridge = decap(b, o.wire);
  ASSERT_EQ(bridge.size(), 1u);
  EXPECT_EQ(strip_eth(bridge[0]), syn);
}

}  // namespace
}  // namespace strait::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new strait::test::EalEnvironment(
      {.program = "dpdk_pmtu_test"}, strait::test::PlainPool{2047}));
  return RUN_ALL_TESTS();
}

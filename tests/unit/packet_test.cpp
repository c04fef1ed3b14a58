// Tests of dataplane/packet: the outer and inner parsers over numbered tables of frames from
// the shared PacketBuilder, every truncation of valid frames (run under ASan to prove no read
// past len: meson setup build-asan -Db_sanitize=address), the outer header template against
// frames the builder makes independently, and the checksum code against RFC 1071/1624 examples
// and a naive reference.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/drop_reason.hpp"
#include "common/packet_builder.hpp"
#include "packet/checksum.hpp"
#include "packet/headers.hpp"
#include "packet/inner_parse.hpp"
#include "packet/outer_parse.hpp"
#include "packet/outer_template.hpp"

namespace strait::dp {
namespace {

using test::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kPort = 51820;
constexpr const char* kMacA = "02:00:00:00:00:0a";
constexpr const char* kMacB = "02:00:00:00:00:0b";

// Copies the frame into a heap block of exactly its size, so that ASan flags any read past it.
struct ExactBuffer {
  explicit ExactBuffer(const Bytes& b, std::size_t n) : data(new std::uint8_t[n]), len(n) {
    if (n != 0) std::memcpy(data.get(), b.data(), n);
  }
  std::unique_ptr<std::uint8_t[]> data;
  std::size_t len;
};

DropReason outer(const Bytes& f, OuterInfo& info, std::size_t n, std::uint16_t port = kPort) {
  ExactBuffer buf(f, n);
  return parse_outer(buf.data.get(), static_cast<std::uint32_t>(n), cpu_to_be16(port), info);
}
DropReason outer(const Bytes& f, OuterInfo& info) { return outer(f, info, f.size()); }
DropReason outer(const Bytes& f) {
  OuterInfo info{};
  return outer(f, info);
}
DropReason inner(const Bytes& p, InnerInfo& info, std::size_t n) {
  ExactBuffer buf(p, n);
  return parse_inner(buf.data.get(), static_cast<std::uint32_t>(n), info);
}
DropReason inner(const Bytes& p, InnerInfo& info) { return inner(p, info, p.size()); }

std::string name(DropReason r) { return std::string(drop_reason_name(r)); }

PacketBuilder v4() { return PacketBuilder().eth(kMacA, kMacB).ipv4("192.0.2.1", "198.51.100.2"); }
PacketBuilder v6() {
  return PacketBuilder().eth(kMacA, kMacB).ipv6("2001:db8::1", "2001:db8:1::2");
}
Bytes v4_wg() { return v4().udp(40000, kPort).wg_data(7, 1, 64).build(); }
Bytes v6_wg() { return v6().udp(40000, kPort).wg_data(7, 1, 64).build(); }

IpAddr16 addr16(const Bytes& a) {
  if (a.size() == 4) return ipv4_mapped(a.data());
  IpAddr16 r{};
  std::memcpy(r.data(), a.data(), 16);
  return r;
}

// ---------------------------------------------------------------------------------------------
// headers.hpp

TEST(Headers, ConstantsAreInNetworkOrder) {
  const auto bytes = [](std::uint16_t v) {
    std::uint8_t b[2];
    std::memcpy(b, &v, 2);
    return std::pair<int, int>(b[0], b[1]);
  };
  EXPECT_EQ(bytes(kEtherTypeIpv4Be), std::make_pair(0x08, 0x00));
  EXPECT_EQ(bytes(kEtherTypeIpv6Be), std::make_pair(0x86, 0xdd));
  EXPECT_EQ(bytes(kEtherTypeVlanBe), std::make_pair(0x81, 0x00));
  EXPECT_EQ(bytes(kIpv4FlagDfBe), std::make_pair(0x40, 0x00));
  EXPECT_EQ(bytes(kIpv4FragmentMaskBe), std::make_pair(0x3f, 0xff));
  EXPECT_EQ(be16_to_cpu(cpu_to_be16(0x1234)), 0x1234);
  EXPECT_EQ(be32_to_cpu(cpu_to_be32(0x12345678U)), 0x12345678U);
  const std::uint8_t v4[4] = {10, 1, 2, 3};
  const IpAddr16 m = ipv4_mapped(v4);
  EXPECT_TRUE(is_ipv4_mapped(m));
  EXPECT_EQ(m[10], 0xff);
  EXPECT_EQ(m[15], 3);
}

// ---------------------------------------------------------------------------------------------
// checksum

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement).
  const std::uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(be16_to_cpu(checksum_fold(checksum_partial(data, sizeof data))), 0xddf2);
  EXPECT_EQ(be16_to_cpu(internet_checksum(data, sizeof data)), 0x220d);
  // The same bytes in two pieces (the first of even length) chain to the same sum.
  EXPECT_EQ(checksum_fold(checksum_partial(data + 2, 6, checksum_partial(data, 2))),
            checksum_fold(checksum_partial(data, 8)));
}

TEST(Checksum, KnownIpv4Header) {
  // A captured IPv4 header whose checksum field is b861.
  std::uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(internet_checksum(h, sizeof h), 0);  // verifies: the folded sum is 0xffff
  EXPECT_EQ(checksum_fold(checksum_partial(h, sizeof h)), 0xffff);
  h[10] = h[11] = 0;
  EXPECT_EQ(be16_to_cpu(internet_checksum(h, sizeof h)), 0xb861);
}

TEST(Checksum, MatchesNaiveOnRandomBuffersOfEveryLengthAndAlignment) {
  std::mt19937 rng(1071);
  std::vector<std::uint8_t> buf(2100);
  for (int round = 0; round < 4; ++round) {
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    if (round == 3) std::fill(buf.begin(), buf.end(), 0xff);  // maximal carries
    for (std::size_t len = 0; len <= 300; ++len) {
      for (std::size_t align = 0; align < 8; ++align) {
        const std::uint16_t want = test::naive_checksum({buf.data() + align, len});
        ASSERT_EQ(be16_to_cpu(internet_checksum(buf.data() + align, len)), want)
            << "round " << round << " len " << len << " align " << align;
      }
    }
    for (std::size_t len : {1419U, 1420U, 1499U, 1500U, 2048U, 2099U}) {
      ASSERT_EQ(be16_to_cpu(internet_checksum(buf.data() + 1, len)),
                test::naive_checksum({buf.data() + 1, len}))
          << len;
    }
  }
}

TEST(Checksum, ChainedPartialSumsEqualOneSum) {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buf(999);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t split = 0; split <= buf.size(); split += 2) {
    const std::uint32_t first = checksum_partial(buf.data(), split);
    ASSERT_EQ(checksum_finish(checksum_partial(buf.data() + split, buf.size() - split, first)),
              internet_checksum(buf.data(), buf.size()))
        << split;
  }
}

TEST(Checksum, Rfc1624IncrementalUpdate) {
  // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000 (eqn 3).
  EXPECT_EQ(checksum_update16(cpu_to_be16(0xdd2f), cpu_to_be16(0x5555), cpu_to_be16(0x3285)), 0);

  // Against a full recomputation, for random 20-byte headers and every word position.
  std::mt19937 rng(1624);
  for (int round = 0; round < 500; ++round) {
    std::uint8_t h[20];
    for (auto& b : h) b = static_cast<std::uint8_t>(rng());
    h[10] = h[11] = 0;
    const std::uint16_t check = internet_checksum(h, 20);
    std::memcpy(h + 10, &check, 2);
    const std::size_t at = 2 * (rng() % 5);  // a word before the checksum
    std::uint16_t old_w, new_w = static_cast<std::uint16_t>(rng());
    std::memcpy(&old_w, h + at, 2);
    std::memcpy(h + at, &new_w, 2);
    const std::uint16_t updated = checksum_update16(check, old_w, new_w);
    std::memcpy(h + 10, &updated, 2);
    ASSERT_EQ(checksum_fold(checksum_partial(h, 20)), 0xffff) << round;

    // And a 32-bit field (the source address).
    std::uint32_t old_a, new_a = static_cast<std::uint32_t>(rng());
    std::memcpy(&old_a, h + 12, 4);
    std::memcpy(h + 12, &new_a, 4);
    const std::uint16_t updated32 = checksum_update32(updated, old_a, new_a);
    std::memcpy(h + 10, &updated32, 2);
    ASSERT_EQ(checksum_fold(checksum_partial(h, 20)), 0xffff) << round;
  }
}

// The builder computes L4 checksums with its own naive code; ours must verify them, and
// recompute the same value from a zeroed field.
TEST(Checksum, PseudoHeaderSumsVerifyBuilderSegments) {
  struct Case {
    const char* what;
    Bytes frame;
    bool v6;
    std::uint8_t proto;
    std::size_t check_at;  // checksum offset inside the L4 header
  };
  const std::vector<Case> cases = {
      {"udp4", PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1234, kPort).payload(33).build(),
       false, kIpProtoUdp, 6},
      {"udp6", PacketBuilder().ipv6("fd00::1", "fd00::2").udp(1234, kPort).payload(33).build(),
       true, kIpProtoUdp, 6},
      {"tcp4",
       PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2, test::kTcpFlagSyn, 1460).build(),
       false, kIpProtoTcp, 16},
      {"tcp6",
       PacketBuilder().ipv6("fd00::1", "fd00::2").tcp(1, 2, test::kTcpFlagAck).payload(101).build(),
       true, kIpProtoTcp, 16},
      {"icmpv6", PacketBuilder().ipv6("fd00::1", "fd00::2").icmpv6_echo(9, 1).payload(57).build(),
       true, kIpProtoIcmpv6, 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Bytes f = c.frame;
    const std::size_t l4 = c.v6 ? kIpv6HdrLen : kIpv4HdrLen;
    const std::uint8_t* src = f.data() + (c.v6 ? 8 : 12);
    const std::uint8_t* dst = f.data() + (c.v6 ? 24 : 16);
    const std::size_t len = f.size() - l4;
    const std::uint32_t pseudo =
        c.v6 ? pseudo_header_sum_v6(src, dst, c.proto, static_cast<std::uint32_t>(len))
             : pseudo_header_sum_v4(src, dst, c.proto, static_cast<std::uint16_t>(len));
    EXPECT_EQ(checksum_fold(checksum_partial(f.data() + l4, len, pseudo)), 0xffff);
    std::uint16_t sent;
    std::memcpy(&sent, f.data() + l4 + c.check_at, 2);
    f[l4 + c.check_at] = f[l4 + c.check_at + 1] = 0;
    const std::uint16_t again =
        c.v6 ? l4_checksum_v6(src, dst, c.proto, f.data() + l4, static_cast<std::uint32_t>(len))
             : l4_checksum_v4(src, dst, c.proto, f.data() + l4, static_cast<std::uint16_t>(len));
    EXPECT_EQ(again, sent);
    if (c.proto == kIpProtoUdp) {
      const std::uint16_t u =
          c.v6 ? udp6_checksum(src, dst, f.data() + l4, static_cast<std::uint32_t>(len))
               : udp4_checksum(src, dst, f.data() + l4, static_cast<std::uint16_t>(len));
      EXPECT_EQ(u, sent);
    }
  }
}

TEST(Checksum, UdpZeroIsSentAsAllOnes) {
  // Search a payload word that makes the computed UDP checksum 0: it must come out as ffff.
  Bytes f = PacketBuilder().ipv6("fd00::1", "fd00::2").udp(1, 2).payload({0, 0}).build();
  std::uint8_t* udp = f.data() + kIpv6HdrLen;
  for (std::uint32_t w = 0; w <= 0xffff; ++w) {
    udp[8] = static_cast<std::uint8_t>(w >> 8);
    udp[9] = static_cast<std::uint8_t>(w);
    udp[6] = udp[7] = 0;
    if (l4_checksum_v6(f.data() + 8, f.data() + 24, kIpProtoUdp, udp, 10) == 0) {
      EXPECT_EQ(udp6_checksum(f.data() + 8, f.data() + 24, udp, 10), 0xffff);
      return;
    }
  }
  FAIL() << "no payload word gives checksum 0";
}

// ---------------------------------------------------------------------------------------------
// parse_outer

struct OuterCase {
  int id;
  const char* what;
  Bytes frame;
  DropReason want;
};

std::vector<OuterCase> outer_cases() {
  using DR = DropReason;
  const std::vector<std::uint8_t> nop4 = {1, 1, 1, 1};  // four IPv4 NOP options
  return {
      // clang-format off
      {0, "IPv4 data message", v4_wg(), DR::none},
      {1, "IPv6 data message", v6_wg(), DR::none},
      {2, "IPv4 in 802.1Q", PacketBuilder().eth().vlan(100).ipv4("10.0.0.1", "10.0.0.2").udp(1, kPort).wg_initiation_shaped().build(), DR::none},
      {3, "IPv6 in 802.1Q", PacketBuilder().eth().vlan(4094, 5).ipv6("fd00::1", "fd00::2").udp(1, kPort).wg_response_shaped().build(), DR::none},
      {4, "IPv4 padded to 60 bytes", v4().udp(1, kPort).payload(4).trailer(14).build(), DR::none},
      {5, "IPv4 with options (IHL 6)", v4().set_ip_protocol(kIpProtoUdp).set_ihl(6).raw(nop4).udp(1, kPort).wg_cookie_shaped().build(), DR::none},
      {6, "IPv4 DF set", v4().set_dont_fragment().udp(1, kPort).wg_data(1, 2, 32).build(), DR::none},
      {7, "UDP length shorter than IP payload", v4().udp(1, kPort).set_udp_length(8 + 20).payload(40).build(), DR::none},
      {8, "empty UDP payload", v4().udp(1, kPort).build(), DR::none},
      {9, "ARP request", PacketBuilder().eth(kMacA, "ff:ff:ff:ff:ff:ff").arp_request(kMacA, "10.0.0.1", "10.0.0.2").build(), DR::outer_not_ip},
      {10, "unknown EtherType", PacketBuilder().eth().raw(Bytes(60, 0x45)).build(), DR::outer_not_ip},
      {11, "two VLAN tags", PacketBuilder().eth().vlan(1).vlan(2).ipv4("10.0.0.1", "10.0.0.2").udp(1, kPort).build(), DR::outer_not_ip},
      {12, "802.1ad outer tag", PacketBuilder().eth().set_ether_type(0x88a8).vlan(1).ipv4("10.0.0.1", "10.0.0.2").udp(1, kPort).build(), DR::outer_not_ip},
      {13, "IPv4 version 5", v4().set_ip_version(5).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {14, "IPv6 packet under EtherType IPv4", v6().set_ether_type(0x0800).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {15, "IPv4 IHL 4", v4().set_ihl(4).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {16, "IPv4 IHL 0", v4().set_ihl(0).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {17, "IPv4 IHL 15 beyond total length", v4().set_ihl(15).udp(1, kPort).build(), DR::outer_bad_ip},
      {18, "IPv4 total length 19", v4().set_ip_total_length(19).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {19, "IPv4 total length 0", v4().set_ip_total_length(0).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {20, "IPv4 total length beyond frame", v4().set_ip_total_length(20 + 8 + 9).udp(1, kPort).payload(8).build(), DR::outer_truncated},
      {21, "IPv4 total length leaves no UDP header", v4().set_ip_total_length(24).udp(1, kPort).payload(8).build(), DR::outer_truncated},
      {22, "IPv4 first fragment (MF)", v4().set_fragment(true, 0).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {23, "IPv4 last fragment (offset)", v4().set_fragment(false, 185).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {24, "IPv4 middle fragment, DF", v4().set_fragment(true, 1, true).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {25, "IPv4 TCP", v4().tcp(1, kPort).build(), DR::outer_not_tunnel},
      {26, "IPv4 ICMP echo", v4().icmp_echo(1, 1).build(), DR::outer_not_tunnel},
      {27, "IPv4 UDP to another port", v4().udp(kPort, 53).wg_data(1, 1, 32).build(), DR::outer_not_tunnel},
      {28, "IPv6 UDP to another port", v6().udp(kPort, 51821).wg_data(1, 1, 32).build(), DR::outer_not_tunnel},
      {29, "IPv6 fragment header", v6().set_ip_protocol(kIpProtoIpv6Frag).udp(1, kPort).payload(8).build(), DR::outer_not_tunnel},
      {30, "IPv6 hop-by-hop header", v6().set_ip_protocol(0).udp(1, kPort).payload(8).build(), DR::outer_not_tunnel},
      {31, "IPv6 ICMPv6 echo", v6().icmpv6_echo(1, 1).build(), DR::outer_not_tunnel},
      {32, "IPv6 neighbor solicitation", PacketBuilder().eth().ipv6("fe80::1", PacketBuilder::solicited_node_multicast("fe80::2"), 255).ipv6_neighbor_solicitation("fe80::2", kMacA).build(), DR::outer_not_tunnel},
      {33, "IPv6 payload length beyond frame", v6().set_ip_total_length(40 + 8 + 9).udp(1, kPort).payload(8).build(), DR::outer_truncated},
      {34, "IPv6 payload length leaves no UDP header", v6().set_ip_total_length(40 + 7).udp(1, kPort).payload(8).build(), DR::outer_truncated},
      {35, "IPv6 version 4", v6().set_ip_version(4).udp(1, kPort).payload(8).build(), DR::outer_bad_ip},
      {36, "UDP length 7", v4().udp(1, kPort).set_udp_length(7).payload(8).build(), DR::outer_bad_udp},
      {37, "UDP length 0", v6().udp(1, kPort).set_udp_length(0).payload(8).build(), DR::outer_bad_udp},
      {38, "UDP length beyond IP payload", v4().udp(1, kPort).set_udp_length(8 + 9).payload(8).build(), DR::outer_bad_udp},
      {39, "IPv6 UDP length beyond IP payload", v6().udp(1, kPort).set_udp_length(8 + 9).payload(8).build(), DR::outer_bad_udp},
      {40, "IPv4 padded, total length excludes the padding", v4().udp(1, kPort).payload(1).trailer(17, 0xee).build(), DR::none},
      {41, "Ethernet header only (experimental EtherType)", PacketBuilder().eth().build(), DR::outer_not_ip},
      {42, "VLAN tag, nothing after it", PacketBuilder().eth().vlan(5).build(), DR::outer_not_ip},
      {43, "IPv4 packet under EtherType IPv6", v4().set_ether_type(0x86dd).udp(1, kPort).payload(40).build(), DR::outer_bad_ip},
      // clang-format on
  };
}

TEST(ParseOuter, CaseTable) {
  const auto cases = outer_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    ASSERT_EQ(c.id, static_cast<int>(i));
    OuterInfo info{};
    EXPECT_EQ(name(outer(c.frame, info)), name(c.want)) << "case " << c.id << ": " << c.what;
  }
}

TEST(ParseOuter, Ipv4Fields) {
  const Bytes f = PacketBuilder()
                      .eth(kMacA, kMacB)
                      .ipv4("192.0.2.1", "198.51.100.2")
                      .udp(40000, kPort)
                      .wg_data(7, 1, 64)
                      .trailer(3)
                      .build();
  OuterInfo info{};
  ASSERT_EQ(outer(f, info), DropReason::none);
  EXPECT_FALSE(info.is_ipv6);
  EXPECT_FALSE(info.has_vlan);
  EXPECT_EQ(info.l3_offset, 14);
  EXPECT_EQ(info.l4_offset, 34);
  EXPECT_EQ(info.payload_offset, 42);
  EXPECT_EQ(info.payload_len, 16 + 64);
  EXPECT_EQ(info.src_port_be, cpu_to_be16(40000));
  EXPECT_EQ(info.dst_port_be, cpu_to_be16(kPort));
  EXPECT_EQ(info.src_addr, addr16(test::parse_ipv4("192.0.2.1")));
  EXPECT_EQ(info.dst_addr, addr16(test::parse_ipv4("198.51.100.2")));
  EXPECT_EQ(info.ip_addr_len(), 4);
  EXPECT_EQ(0, std::memcmp(info.src_ip(), f.data() + 14 + 12, 4));
  EXPECT_EQ(0, std::memcmp(info.dst_ip(), f.data() + 14 + 16, 4));
  EXPECT_EQ(f[info.payload_offset], test::kWgData);
}

TEST(ParseOuter, Ipv6AndVlanFields) {
  const Bytes f = PacketBuilder()
                      .eth(kMacA, kMacB)
                      .vlan(100, 3)
                      .ipv6("2001:db8::1", "2001:db8:1::2")
                      .udp(1, kPort)
                      .wg_cookie_shaped()
                      .build();
  // Traffic class 0xb8 (DSCP EF) to check the nibble split.
  Bytes g = f;
  g[18] = 0x6b;
  g[19] = 0x80;
  OuterInfo info{};
  ASSERT_EQ(outer(g, info), DropReason::none);
  EXPECT_TRUE(info.is_ipv6);
  EXPECT_TRUE(info.has_vlan);
  EXPECT_EQ(info.vlan_tci & kVlanVidMask, 100);
  EXPECT_EQ(info.vlan_tci >> 13, 3);
  EXPECT_EQ(info.tos, 0xb8);
  EXPECT_EQ(info.l3_offset, 18);
  EXPECT_EQ(info.l4_offset, 58);
  EXPECT_EQ(info.payload_offset, 66);
  EXPECT_EQ(info.payload_len, test::kWgCookieReplyLen);
  EXPECT_EQ(info.src_port_be, cpu_to_be16(1));
  EXPECT_EQ(info.src_addr, addr16(test::parse_ipv6("2001:db8::1")));
  EXPECT_EQ(info.dst_addr, addr16(test::parse_ipv6("2001:db8:1::2")));
  EXPECT_EQ(info.ip_addr_len(), 16);
  EXPECT_EQ(info.src_ip(), info.src_addr.data());
}

TEST(ParseOuter, UdpLengthDecidesThePayload) {
  // Case 7 of the table: UDP says 28, the IP payload is 48: the message is 20 bytes.
  const Bytes f = v4().udp(1, kPort).set_udp_length(8 + 20).payload(40).build();
  OuterInfo info{};
  ASSERT_EQ(outer(f, info), DropReason::none);
  EXPECT_EQ(info.payload_len, 20);
}

TEST(ParseOuter, IpOptionsMoveTheUdpHeader) {
  const Bytes f = v4().set_ip_protocol(kIpProtoUdp)
                      .set_ihl(6)
                      .raw(Bytes{1, 1, 1, 1})
                      .udp(1, kPort)
                      .wg_cookie_shaped()
                      .build();
  OuterInfo info{};
  ASSERT_EQ(outer(f, info), DropReason::none);
  EXPECT_EQ(info.l4_offset, 14 + 24);
  EXPECT_EQ(info.payload_len, test::kWgCookieReplyLen);
}

// Every prefix of a valid frame: outer_truncated until the IP packet is complete, then valid
// again (Ethernet padding after it is no part of the packet). Under ASan this also proves that
// no prefix is read past its end.
TEST(ParseOuter, EveryTruncation) {
  struct Frame {
    const char* what;
    Bytes frame;
    std::size_t packet_end;  // end of the IP packet; bytes after it are padding
  };
  const Bytes padded = v4().udp(1, kPort).payload(2).trailer(16).build();
  const std::vector<Frame> frames = {
      {"IPv4", v4_wg(), v4_wg().size()},
      {"IPv6", v6_wg(), v6_wg().size()},
      // clang-format off
      {"IPv4 VLAN", PacketBuilder().eth().vlan(7).ipv4("10.0.0.1", "10.0.0.2").udp(1, kPort).wg_data(1, 1, 16).build(), 0},
      {"IPv6 VLAN", PacketBuilder().eth().vlan(7).ipv6("fd00::1", "fd00::2").udp(1, kPort).wg_data(1, 1, 16).build(), 0},
      // clang-format on
      {"IPv4 padded", padded, padded.size() - 16},
  };
  for (const auto& fr : frames) {
    const std::size_t end = fr.packet_end ? fr.packet_end : fr.frame.size();
    for (std::size_t n = 0; n <= fr.frame.size(); ++n) {
      const DropReason want = n < end ? DropReason::outer_truncated : DropReason::none;
      OuterInfo info{};
      ASSERT_EQ(name(outer(fr.frame, info, n)), name(want)) << fr.what << " truncated to " << n;
    }
  }
  // The builder's own truncate() gives the same frame bytes as cutting by hand.
  const Bytes cut = v4().udp(40000, kPort).wg_data(7, 1, 64).truncate(50).build();
  ASSERT_EQ(cut.size(), 50U);
  EXPECT_EQ(outer(cut), DropReason::outer_truncated);
}

// ---------------------------------------------------------------------------------------------
// parse_inner

TEST(ParseInner, CaseTable) {
  using DR = DropReason;
  struct Case {
    int id;
    const char* what;
    Bytes packet;
    DR want;
    std::uint32_t ip_len;  // expected when valid
  };
  // clang-format off
  const Bytes udp4 = PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").udp(1, 2).payload(13).build();    // 41 bytes
  const Bytes tcp6 = PacketBuilder().ipv6("fd00::1", "fd00::2").tcp(1, 2, test::kTcpFlagSyn, 1380).build();  // 64
  const std::vector<Case> cases = {
      {0, "keepalive", {}, DR::none, 0},
      {1, "IPv4 UDP", udp4, DR::none, 41},
      {2, "IPv4 padded to 48", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").udp(1, 2).payload(13).trailer(7).build(), DR::none, 41},
      {3, "IPv6 TCP", tcp6, DR::none, 64},
      {4, "IPv6 padded to 80", PacketBuilder().ipv6("fd00::1", "fd00::2").tcp(1, 2).payload(4).trailer(12).build(), DR::none, 64},
      {5, "IPv4 ICMP fragment (allowed inside)", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_fragment(true, 0).icmp_echo(1, 2).payload(8).build(), DR::none, 36},
      {6, "IPv4 header only", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").build(), DR::none, 20},
      {7, "one byte 0x45", {0x45}, DR::inner_bad_ip, 0},
      {8, "version 0", Bytes(64, 0), DR::inner_bad_ip, 0},
      {9, "version 5", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_ip_version(5).payload(8).build(), DR::inner_bad_ip, 0},
      {10, "IPv4 IHL 4", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_ihl(4).payload(8).build(), DR::inner_bad_ip, 0},
      {11, "IPv4 IHL 15 beyond total length", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_ihl(15).payload(8).build(), DR::inner_bad_ip, 0},
      {12, "IPv4 total length beyond len", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_ip_total_length(29).payload(8).build(), DR::inner_bad_ip, 0},
      {13, "IPv4 total length 19", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_ip_total_length(19).payload(8).build(), DR::inner_bad_ip, 0},
      {14, "IPv6 payload length beyond len", PacketBuilder().ipv6("fd00::1", "fd00::2").set_ip_total_length(40 + 9).payload(8).build(), DR::inner_bad_ip, 0},
      {15, "IPv6 header only", PacketBuilder().ipv6("fd00::1", "fd00::2").build(), DR::none, 40},
      {16, "IPv6 version under IPv4 size", Bytes{0x60, 0, 0, 0, 0, 0, 59, 64}, DR::inner_bad_ip, 0},
      {17, "IPv4 total length shorter than len (trimmed)", PacketBuilder().ipv4("10.1.0.1", "10.2.0.1").set_ip_total_length(24).payload(8).build(), DR::none, 24},
  };
  // clang-format on
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    ASSERT_EQ(c.id, static_cast<int>(i));
    InnerInfo info{};
    const DropReason got = inner(c.packet, info);
    EXPECT_EQ(name(got), name(c.want)) << "case " << c.id << ": " << c.what;
    if (got == DR::none && c.want == DR::none) {
      EXPECT_EQ(info.is_keepalive, c.packet.empty()) << "case " << c.id;
      if (!c.packet.empty()) {
        EXPECT_EQ(info.ip_len, c.ip_len) << "case " << c.id << ": " << c.what;
      }
    }
  }
}

TEST(ParseInner, Fields) {
  const Bytes p4 =
      PacketBuilder().ipv4("10.1.0.1", "10.2.0.9").udp(1, 2).payload(3).trailer(13).build();
  InnerInfo info{};
  ASSERT_EQ(inner(p4, info), DropReason::none);
  EXPECT_FALSE(info.is_keepalive);
  EXPECT_FALSE(info.is_ipv6);
  EXPECT_EQ(info.protocol, kIpProtoUdp);
  EXPECT_EQ(info.header_len, 20);
  EXPECT_EQ(info.ip_len, 31U);
  EXPECT_EQ(info.src_addr, addr16(test::parse_ipv4("10.1.0.1")));
  EXPECT_EQ(info.dst_addr, addr16(test::parse_ipv4("10.2.0.9")));
  EXPECT_EQ(0, std::memcmp(info.src_ip(), p4.data() + 12, 4));

  const Bytes p6 = PacketBuilder().ipv6("fd00::1", "fd00:1::2").icmpv6_echo(1, 1).build();
  ASSERT_EQ(inner(p6, info), DropReason::none);
  EXPECT_TRUE(info.is_ipv6);
  EXPECT_EQ(info.protocol, kIpProtoIcmpv6);
  EXPECT_EQ(info.header_len, 40);
  EXPECT_EQ(info.ip_len, 48U);
  EXPECT_EQ(info.src_addr, addr16(test::parse_ipv6("fd00::1")));
  EXPECT_EQ(info.dst_addr, addr16(test::parse_ipv6("fd00:1::2")));
  EXPECT_EQ(info.dst_ip(), info.dst_addr.data());

  ASSERT_EQ(inner({}, info), DropReason::none);
  EXPECT_TRUE(info.is_keepalive);
}

TEST(ParseInner, EveryTruncation) {
  const Bytes p4 = PacketBuilder()
                       .ipv4("10.1.0.1", "10.2.0.1")
                       .tcp(1, 2, test::kTcpFlagSyn, 1380)
                       .payload(5)
                       .build();
  const Bytes p6 = PacketBuilder().ipv6("fd00::1", "fd00::2").udp(1, 2).payload(5).build();
  for (const Bytes* p : {&p4, &p6}) {
    for (std::size_t n = 0; n <= p->size(); ++n) {
      InnerInfo info{};
      const DropReason want =
          (n == 0 || n == p->size()) ? DropReason::none : DropReason::inner_bad_ip;
      ASSERT_EQ(name(inner(*p, info, n)), name(want))
          << (p == &p4 ? "IPv4" : "IPv6") << " truncated to " << n;
      if (n == 0) {
        EXPECT_TRUE(info.is_keepalive);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// OuterTemplate

struct TemplateCase {
  const char* what;
  bool v6;
  bool vlan;
  std::uint32_t header_len;
};

OuterTemplateConfig template_config(bool v6, bool vlan) {
  OuterTemplateConfig cfg;
  cfg.src_mac = {0x02, 0, 0, 0, 0, 0x0a};
  cfg.dst_mac = {0x02, 0, 0, 0, 0, 0x0b};
  cfg.has_vlan = vlan;
  cfg.vlan_tci = 100;
  cfg.is_ipv6 = v6;
  cfg.src_addr = addr16(v6 ? test::parse_ipv6("2001:db8::1") : test::parse_ipv4("192.0.2.1"));
  cfg.dst_addr = addr16(v6 ? test::parse_ipv6("2001:db8:1::2") : test::parse_ipv4("198.51.100.2"));
  cfg.dst_port_be = cpu_to_be16(kPort);
  return cfg;
}

// The same frame made independently by the builder (naive checksums of its own).
Bytes builder_frame(bool v6, bool vlan, std::uint16_t sport, const Bytes& payload) {
  PacketBuilder b;
  b.eth(kMacA, kMacB);
  if (vlan) b.vlan(100);
  if (v6) {
    b.ipv6("2001:db8::1", "2001:db8:1::2").udp(sport, kPort);
  } else {
    b.ipv4("192.0.2.1", "198.51.100.2").set_dont_fragment().udp(sport, kPort).no_udp_checksum();
  }
  return b.payload(payload).build();
}

TEST(OuterTemplate, WritesWhatTheBuilderBuildsAndParsesBack) {
  const std::vector<TemplateCase> cases = {{"IPv4", false, false, 42},
                                           {"IPv6", true, false, 62},
                                           {"IPv4 VLAN", false, true, 46},
                                           {"IPv6 VLAN", true, true, 66}};
  std::mt19937 rng(8200);
  for (const auto& c : cases) {
    const OuterTemplate t(template_config(c.v6, c.vlan));
    ASSERT_EQ(t.header_len(), c.header_len) << c.what;
    EXPECT_EQ(t.is_ipv6(), c.v6);
    for (std::uint32_t payload_len :
         {0U, 1U, 2U, 31U, 32U, 33U, 148U, 1419U, 1420U, 1472U, 8000U}) {
      SCOPED_TRACE(std::string(c.what) + " payload " + std::to_string(payload_len));
      Bytes payload(payload_len);
      for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
      const std::uint16_t sport = static_cast<std::uint16_t>(rng());
      Bytes frame(t.header_len() + payload_len, 0xcc);
      std::copy(payload.begin(), payload.end(), frame.begin() + t.header_len());
      t.write(frame.data(), payload_len, cpu_to_be16(sport));

      EXPECT_EQ(frame, builder_frame(c.v6, c.vlan, sport, payload));

      OuterInfo info{};
      ASSERT_EQ(outer(frame, info), DropReason::none);
      EXPECT_EQ(info.is_ipv6, c.v6);
      EXPECT_EQ(info.has_vlan, c.vlan);
      EXPECT_EQ(info.payload_offset, t.header_len());
      EXPECT_EQ(info.payload_len, payload_len);
      EXPECT_EQ(info.src_port_be, cpu_to_be16(sport));
      EXPECT_EQ(info.src_addr, template_config(c.v6, c.vlan).src_addr);
      EXPECT_EQ(info.dst_addr, template_config(c.v6, c.vlan).dst_addr);
      EXPECT_EQ(info.l3_offset, t.l3_offset());
      EXPECT_EQ(info.l4_offset, t.l4_offset());

      const std::uint8_t* ip = frame.data() + t.l3_offset();
      const std::uint8_t* udp = frame.data() + t.l4_offset();
      if (!c.v6) {
        EXPECT_EQ(checksum_fold(checksum_partial(ip, kIpv4HdrLen)),
                  0xffff);  // header checksum verifies
        EXPECT_EQ(test::naive_checksum({ip, kIpv4HdrLen}), 0);
        EXPECT_EQ(ip[8], 64);           // TTL
        EXPECT_EQ(ip[6] & 0x40, 0x40);  // DF
        EXPECT_EQ(udp[6] | udp[7], 0);  // no UDP checksum over IPv4
      } else {
        const std::uint32_t udp_len = kUdpHdrLen + payload_len;
        EXPECT_EQ(checksum_fold(checksum_partial(
                      udp, udp_len, pseudo_header_sum_v6(ip + 8, ip + 24, kIpProtoUdp, udp_len))),
                  0xffff);
        EXPECT_NE(udp[6] | udp[7], 0);
        EXPECT_EQ(ip[7], 64);  // hop limit
      }
    }
  }
}

TEST(OuterTemplate, WritesOnlyItsHeader) {
  const OuterTemplate t(template_config(false, false));
  Bytes frame(t.header_len() + 100 + 16, 0xab);
  t.write(frame.data(), 100, cpu_to_be16(1));
  for (std::size_t i = t.header_len(); i < frame.size(); ++i) ASSERT_EQ(frame[i], 0xab) << i;
  // The image keeps lengths, source port and checksums zero.
  EXPECT_EQ(t.image()[t.l3_offset() + 2] | t.image()[t.l3_offset() + 3], 0);
  EXPECT_EQ(t.image()[t.l4_offset()] | t.image()[t.l4_offset() + 1], 0);
}

TEST(OuterTemplate, TosAndTtlAreCarried) {
  for (const bool v6 : {false, true}) {
    OuterTemplateConfig cfg = template_config(v6, false);
    cfg.tos = 0xb9;
    cfg.ttl = 17;
    const OuterTemplate t(cfg);
    Bytes frame(t.header_len() + 20, 0);
    t.write(frame.data(), 20, cpu_to_be16(7));
    OuterInfo info{};
    ASSERT_EQ(outer(frame, info), DropReason::none) << v6;
    EXPECT_EQ(info.tos, 0xb9) << v6;
    EXPECT_EQ(frame[t.l3_offset() + (v6 ? 7 : 8)], 17) << v6;
    if (!v6) {
      EXPECT_EQ(internet_checksum(frame.data() + t.l3_offset(), kIpv4HdrLen), 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PacketBuilder itself (it is the reference for the rest, so check its shapes).

TEST(PacketBuilder, Shapes) {
  const Bytes arp = PacketBuilder()
                        .eth(kMacA, "ff:ff:ff:ff:ff:ff")
                        .arp_request(kMacA, "10.0.0.1", "10.0.0.2")
                        .build();
  ASSERT_EQ(arp.size(), 42U);
  EXPECT_EQ(arp[12], 0x08);
  EXPECT_EQ(arp[13], 0x06);
  EXPECT_EQ(arp[21], 1);  // op: request
  EXPECT_EQ(arp[41], 2);  // tpa 10.0.0.2

  const Bytes ns = PacketBuilder()
                       .ipv6("fe80::1", PacketBuilder::solicited_node_multicast("fe80::1:2"), 255)
                       .ipv6_neighbor_solicitation("fe80::1:2", kMacA)
                       .build();
  ASSERT_EQ(ns.size(), 40U + 32U);
  EXPECT_EQ(ns[6], kIpProtoIcmpv6);
  EXPECT_EQ(ns[40], kIcmpv6NeighborSolicitation);
  EXPECT_EQ(test::parse_ipv6("ff02::1:ff01:2"), Bytes(ns.begin() + 24, ns.begin() + 40));
  EXPECT_EQ(l4_checksum_v6(ns.data() + 8, ns.data() + 24, kIpProtoIcmpv6, ns.data() + 40, 32), 0);

  const Bytes icmp =
      PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").icmp_echo(0x1234, 5).payload(11).build();
  EXPECT_EQ(icmp[9], kIpProtoIcmp);
  EXPECT_EQ(icmp[20], kIcmpEchoRequest);
  EXPECT_EQ(test::naive_checksum({icmp.data() + 20, icmp.size() - 20}), 0);
  EXPECT_EQ(internet_checksum(icmp.data(), 20), 0);

  const Bytes syn =
      PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").tcp(1000, 80, test::kTcpFlagSyn, 1460).build();
  ASSERT_EQ(syn.size(), 44U);
  EXPECT_EQ(syn[32], 6 << 4);  // data offset 6 words
  EXPECT_EQ(syn[40], kTcpOptMss);
  EXPECT_EQ((syn[42] << 8) | syn[43], 1460);

  // WireGuard shapes: type, zero reserved bytes, little-endian indices, sizes.
  const Bytes init = PacketBuilder().wg_initiation_shaped(0x01020304).build();
  ASSERT_EQ(init.size(), 148U);
  EXPECT_EQ(init[0], 1);
  EXPECT_EQ(init[1] | init[2] | init[3], 0);
  EXPECT_EQ(init[4], 0x04);
  EXPECT_EQ(PacketBuilder().wg_response_shaped().build().size(), 92U);
  EXPECT_EQ(PacketBuilder().wg_cookie_shaped().build().size(), 64U);
  const Bytes data =
      PacketBuilder().wg_data(5, 0x0102030405060708ULL, 32, test::kWgDataAesGcm).build();
  ASSERT_EQ(data.size(), 48U);
  EXPECT_EQ(data[0], 0x84);
  EXPECT_EQ(data[4], 5);
  EXPECT_EQ(data[8], 0x08);
  EXPECT_EQ(data[15], 0x01);

  // Corruption helpers.
  const Bytes bad =
      PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").corrupt_ip_checksum().udp(1, 2).build();
  EXPECT_NE(internet_checksum(bad.data(), 20), 0);
  EXPECT_THROW(PacketBuilder().ipv4("10.0.0.300", "10.0.0.2"), std::invalid_argument);
  EXPECT_THROW(PacketBuilder().set_ihl(5), std::invalid_argument);
}

}  // namespace
}  // namespace strait::dp

#pragma once
// Wire layouts of the headers straitd parses and writes: Ethernet, one 802.1Q tag, ARP,
// IPv4, IPv6, UDP, TCP, ICMP/ICMPv6 echo.
//
// Layout and byte order: every struct is exactly the on-wire header, no padding (checked by the
// static_asserts below). Fields named *_be hold network byte order (big-endian) and are
// compared against the pre-swapped k*Be constants, so the fast path never swaps on a compare.
// Addresses are byte arrays (already in wire order). Single-byte fields have no suffix.
//
// Alignment: frames give no alignment guarantee past the Ethernet header (the IP header sits
// at offset 14 or 18, so it is only 2-byte aligned), and reading a struct through a cast pointer
// would break strict aliasing. Code therefore copies a header in and out with std::memcpy
// (load_header/store_header); the compiler turns the fixed-size copies into plain loads.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace strait::dp {

// ---- byte order -------------------------------------------------------------------------

[[nodiscard]] constexpr std::uint16_t bswap16(std::uint16_t v) noexcept {
  return static_cast<std::uint16_t>((v >> 8) | (v << 8));
}
[[nodiscard]] constexpr std::uint32_t bswap32(std::uint32_t v) noexcept {
  return (v >> 24) | ((v >> 8) & 0x0000ff00U) | ((v << 8) & 0x00ff0000U) | (v << 24);
}
[[nodiscard]] constexpr std::uint16_t cpu_to_be16(std::uint16_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) return bswap16(v);
  return v;
}
[[nodiscard]] constexpr std::uint32_t cpu_to_be32(std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) return bswap32(v);
  return v;
}
[[nodiscard]] constexpr std::uint16_t be16_to_cpu(std::uint16_t v) noexcept {
  return cpu_to_be16(v);
}
[[nodiscard]] constexpr std::uint32_t be32_to_cpu(std::uint32_t v) noexcept {
  return cpu_to_be32(v);
}

// Copies a header out of / into a frame at any alignment (see the file comment).
template <typename Hdr>
[[nodiscard]] inline Hdr load_header(const std::uint8_t* p) noexcept {
  Hdr h;
  std::memcpy(&h, p, sizeof(Hdr));
  return h;
}
template <typename Hdr>
inline void store_header(std::uint8_t* p, const Hdr& h) noexcept {
  std::memcpy(p, &h, sizeof(Hdr));
}

using MacAddr = std::array<std::uint8_t, 6>;
// An IPv4 or IPv6 address in wire order. IPv4 addresses are stored IPv4-mapped
// (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2), so one type serves both families.
using IpAddr16 = std::array<std::uint8_t, 16>;

// Writes the IPv4-mapped form of a 4-byte IPv4 address.
[[nodiscard]] constexpr IpAddr16 ipv4_mapped(const std::uint8_t* v4) noexcept {
  IpAddr16 a{};
  a[10] = 0xff;
  a[11] = 0xff;
  for (int i = 0; i < 4; ++i) a[12 + i] = v4[i];
  return a;
}
[[nodiscard]] constexpr bool is_ipv4_mapped(const IpAddr16& a) noexcept {
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

// ---- Ethernet (IEEE 802.3) and 802.1Q ---------------------------------------------------

struct EthHdr {
  std::uint8_t dst[6];
  std::uint8_t src[6];
  std::uint16_t ether_type_be;
};

// The 4 bytes after a 0x8100 TPID: TCI (PCP:3, DEI:1, VID:12) and the encapsulated EtherType.
// Tag layout per IEEE 802.1Q section 9.6; the TPID itself is EthHdr::ether_type_be.
struct VlanHdr {
  std::uint16_t tci_be;
  std::uint16_t ether_type_be;
};

inline constexpr std::uint16_t kEtherTypeIpv4Be = cpu_to_be16(0x0800);
inline constexpr std::uint16_t kEtherTypeArpBe = cpu_to_be16(0x0806);
inline constexpr std::uint16_t kEtherTypeVlanBe = cpu_to_be16(0x8100);
inline constexpr std::uint16_t kEtherTypeQinQBe = cpu_to_be16(0x88a8);
inline constexpr std::uint16_t kEtherTypeIpv6Be = cpu_to_be16(0x86dd);
inline constexpr std::uint16_t kVlanVidMask = 0x0fff;  // host order, applied after be16_to_cpu

// ---- ARP (RFC 826), Ethernet/IPv4 only --------------------------------------------------

struct ArpHdr {
  std::uint16_t htype_be;  // 1 = Ethernet
  std::uint16_t ptype_be;  // 0x0800 = IPv4
  std::uint8_t hlen;       // 6
  std::uint8_t plen;       // 4
  std::uint16_t op_be;     // 1 = request, 2 = reply
  std::uint8_t sha[6];
  std::uint8_t spa[4];
  std::uint8_t tha[6];
  std::uint8_t tpa[4];
};

inline constexpr std::uint16_t kArpHtypeEthernetBe = cpu_to_be16(1);
inline constexpr std::uint16_t kArpOpRequestBe = cpu_to_be16(1);
inline constexpr std::uint16_t kArpOpReplyBe = cpu_to_be16(2);

// ---- IPv4 (RFC 791) ---------------------------------------------------------------------

struct Ipv4Hdr {
  std::uint8_t version_ihl;  // version:4 (high nibble), IHL:4 in 32-bit words
  std::uint8_t tos;          // DSCP:6, ECN:2
  std::uint16_t total_len_be;
  std::uint16_t id_be;
  std::uint16_t frag_off_be;  // flags:3 (reserved, DF, MF), fragment offset:13 in 8-byte units
  std::uint8_t ttl;
  std::uint8_t protocol;
  std::uint16_t checksum_be;
  std::uint8_t src[4];
  std::uint8_t dst[4];
};

inline constexpr std::uint8_t kIpv4VersionIhl5 = 0x45;  // version 4, no options
inline constexpr std::uint16_t kIpv4FlagDfBe = cpu_to_be16(0x4000);
inline constexpr std::uint16_t kIpv4FlagMfBe = cpu_to_be16(0x2000);
inline constexpr std::uint16_t kIpv4FragOffsetMaskBe = cpu_to_be16(0x1fff);
// A packet is a fragment when MF is set or the offset is non-zero (RFC 791 section 3.2).
inline constexpr std::uint16_t kIpv4FragmentMaskBe = cpu_to_be16(0x3fff);

// ---- IPv6 (RFC 8200) --------------------------------------------------------------------

struct Ipv6Hdr {
  std::uint8_t vtc_flow[4];  // version:4, traffic class:8, flow label:20 (bytes: wire order)
  std::uint16_t payload_len_be;
  std::uint8_t next_header;
  std::uint8_t hop_limit;
  std::uint8_t src[16];
  std::uint8_t dst[16];
};

// ---- IP protocol numbers (IANA "Assigned Internet Protocol Numbers") --------------------

inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoIpv4 = 4;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoIpv6 = 41;
inline constexpr std::uint8_t kIpProtoIpv6Frag = 44;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::uint8_t kIpProtoNoNext = 59;

// ---- UDP (RFC 768) ----------------------------------------------------------------------

struct UdpHdr {
  std::uint16_t src_port_be;
  std::uint16_t dst_port_be;
  std::uint16_t length_be;  // header + payload
  std::uint16_t checksum_be;
};

// ---- TCP (RFC 9293) ---------------------------------------------------------------------

struct TcpHdr {
  std::uint16_t src_port_be;
  std::uint16_t dst_port_be;
  std::uint32_t seq_be;
  std::uint32_t ack_be;
  std::uint8_t data_off;  // data offset:4 (high nibble) in 32-bit words, reserved:4
  std::uint8_t flags;     // CWR ECE URG ACK PSH RST SYN FIN
  std::uint16_t window_be;
  std::uint16_t checksum_be;
  std::uint16_t urgent_be;
};

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpOptEnd = 0;
inline constexpr std::uint8_t kTcpOptNop = 1;
inline constexpr std::uint8_t kTcpOptMss = 2;  // kind 2, length 4, MSS (RFC 9293 section 3.2)

// ---- ICMP (RFC 792) and ICMPv6 (RFC 4443) echo ------------------------------------------

// Echo request/reply share this layout in both families; other messages share the first
// 4 bytes (type, code, checksum).
struct IcmpEchoHdr {
  std::uint8_t type;
  std::uint8_t code;
  std::uint16_t checksum_be;
  std::uint16_t id_be;
  std::uint16_t seq_be;
};

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpCodeFragNeeded = 4;  // RFC 1191 "fragmentation needed"
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr std::uint8_t kIcmpv6EchoRequest = 128;
inline constexpr std::uint8_t kIcmpv6EchoReply = 129;
inline constexpr std::uint8_t kIcmpv6NeighborSolicitation = 135;  // RFC 4861 section 4.3
inline constexpr std::uint8_t kIcmpv6NeighborAdvertisement = 136;

// ---- sizes ------------------------------------------------------------------------------

inline constexpr std::size_t kEthHdrLen = 14;
inline constexpr std::size_t kVlanHdrLen = 4;
inline constexpr std::size_t kArpHdrLen = 28;
inline constexpr std::size_t kIpv4HdrLen = 20;  // without options
inline constexpr std::size_t kIpv6HdrLen = 40;
inline constexpr std::size_t kUdpHdrLen = 8;
inline constexpr std::size_t kTcpHdrLen = 20;  // without options
inline constexpr std::size_t kIcmpEchoHdrLen = 8;

static_assert(sizeof(EthHdr) == kEthHdrLen && offsetof(EthHdr, ether_type_be) == 12);
static_assert(sizeof(VlanHdr) == kVlanHdrLen);
static_assert(sizeof(ArpHdr) == kArpHdrLen && offsetof(ArpHdr, tpa) == 24);
static_assert(sizeof(Ipv4Hdr) == kIpv4HdrLen && offsetof(Ipv4Hdr, checksum_be) == 10 &&
              offsetof(Ipv4Hdr, src) == 12 && offsetof(Ipv4Hdr, dst) == 16);
static_assert(sizeof(Ipv6Hdr) == kIpv6HdrLen && offsetof(Ipv6Hdr, payload_len_be) == 4 &&
              offsetof(Ipv6Hdr, src) == 8 && offsetof(Ipv6Hdr, dst) == 24);
static_assert(sizeof(UdpHdr) == kUdpHdrLen && offsetof(UdpHdr, checksum_be) == 6);
static_assert(sizeof(TcpHdr) == kTcpHdrLen && offsetof(TcpHdr, data_off) == 12 &&
              offsetof(TcpHdr, checksum_be) == 16);
static_assert(sizeof(IcmpEchoHdr) == kIcmpEchoHdrLen);

}  // namespace strait::dp

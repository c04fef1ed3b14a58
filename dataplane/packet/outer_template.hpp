#pragma once
// The outer headers of one peer's transport packets, built once on the slow path (when the
// peer's endpoint or next-hop MAC changes) and stamped in front of every encrypted message by
// the encap stage: Ethernet [802.1Q] IPv4|IPv6 UDP.

#include <array>
#include <cstddef>
#include <cstdint>

#include "packet/headers.hpp"

namespace strait::dp {

struct OuterTemplateConfig {
  MacAddr src_mac{};  // our wire port
  MacAddr dst_mac{};  // the next hop towards the peer's endpoint
  bool has_vlan = false;
  std::uint16_t vlan_tci = 0;  // host order: PCP:3 DEI:1 VID:12
  bool is_ipv6 = false;
  IpAddr16 src_addr{};            // IPv4: IPv4-mapped, only the last 4 bytes are used
  IpAddr16 dst_addr{};            // the peer's endpoint
  std::uint16_t dst_port_be = 0;  // the peer's endpoint port, network order
  std::uint8_t ttl = 64;          // IPv4 TTL / IPv6 hop limit
  std::uint8_t tos = 0;           // IPv4 TOS / IPv6 traffic class
};

class OuterTemplate {
 public:
  static constexpr std::size_t kMaxHeaderLen = kEthHdrLen + kVlanHdrLen + kIpv6HdrLen + kUdpHdrLen;

  OuterTemplate() = default;

  // Slow path. Pre-fills everything that does not change per packet: MACs, tag, IP version,
  // TOS, TTL, protocol, addresses, DF on IPv4 (IPv4 ID 0: a DF packet is an atomic datagram,
  // RFC 6864 section 4.1), destination port. Lengths, the source port and the checksums are
  // left zero, and for IPv4 the one's-complement sum of the header without its total length is
  // computed here (see write()).
  explicit OuterTemplate(const OuterTemplateConfig& cfg) noexcept;

  // Per packet. Writes header_len() bytes at `dst`, for a UDP payload (the WireGuard message)
  // of payload_len bytes that must already sit at dst + header_len() (the IPv6 UDP checksum
  // covers it). Preconditions: payload_len <= 65535 - 28 (IPv4) / 65535 - 8 (IPv6); the encap
  // stage's MTU check keeps it far below.
  //  - IPv4: total length, then the header checksum as fold(precomputed sum + total length):
  //    one add and a fold instead of summing 10 words (RFC 1071 section 2(C), and RFC 1624
  //    for why adding the changed word to the old sum is exact). The UDP checksum stays 0,
  //    allowed over IPv4 (RFC 768) because the AEAD authenticates the payload anyway.
  //  - IPv6: payload length, and the UDP checksum over pseudo-header, header and payload,
  //    mandatory for UDP over IPv6 (RFC 8200 section 8.1).
  // src_port_be varies per flow (network order) so that the receiver's RSS spreads one peer
  // pair over several queues.
  void write(std::uint8_t* dst, std::uint32_t payload_len,
             std::uint16_t src_port_be) const noexcept;

  // 42 (IPv4) or 62 (IPv6) bytes, plus 4 with a VLAN tag.
  [[nodiscard]] std::uint32_t header_len() const noexcept { return header_len_; }
  [[nodiscard]] bool is_ipv6() const noexcept { return is_ipv6_; }
  [[nodiscard]] std::uint32_t l3_offset() const noexcept { return l3_offset_; }
  [[nodiscard]] std::uint32_t l4_offset() const noexcept { return l4_offset_; }
  // The pre-filled image: header_len() bytes with lengths, source port and checksums zero.
  [[nodiscard]] const std::uint8_t* image() const noexcept { return image_.data(); }

 private:
  std::array<std::uint8_t, kMaxHeaderLen> image_{};
  std::uint8_t header_len_ = 0;
  std::uint8_t l3_offset_ = 0;
  std::uint8_t l4_offset_ = 0;
  bool is_ipv6_ = false;
  std::uint32_t ipv4_partial_sum_ = 0;  // IPv4 header words with total length and checksum zero
};

}  // namespace strait::dp

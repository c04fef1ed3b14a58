#include "packet/outer_parse.hpp"

#include <cstring>

namespace strait::dp {

namespace {

inline std::uint16_t load16(const std::uint8_t* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The UDP part, shared by both families. `ip_payload` is the number of bytes the IP header
// says follow it; they are all inside the frame (checked by the caller).
inline DropReason parse_udp(const std::uint8_t* frame, std::uint32_t l4, std::uint32_t ip_payload,
                            std::uint16_t tunnel_port_be, OuterInfo& out) noexcept {
  if (ip_payload < kUdpHdrLen) [[unlikely]]
    return DropReason::outer_truncated;
  const auto udp = load_header<UdpHdr>(frame + l4);
  if (udp.dst_port_be != tunnel_port_be) [[unlikely]]
    return DropReason::outer_not_tunnel;
  const std::uint32_t udp_len = be16_to_cpu(udp.length_be);
  if (udp_len < kUdpHdrLen || udp_len > ip_payload) [[unlikely]]
    return DropReason::outer_bad_udp;
  out.l4_offset = static_cast<std::uint16_t>(l4);
  out.payload_offset = static_cast<std::uint16_t>(l4 + kUdpHdrLen);
  out.payload_len = static_cast<std::uint16_t>(udp_len - kUdpHdrLen);
  out.src_port_be = udp.src_port_be;
  out.dst_port_be = udp.dst_port_be;
  return DropReason::none;
}

inline DropReason parse_ipv4(const std::uint8_t* frame, std::uint32_t len, std::uint32_t l3,
                             std::uint16_t tunnel_port_be, OuterInfo& out) noexcept {
  const std::uint32_t avail = len - l3;
  if (avail < kIpv4HdrLen) [[unlikely]]
    return DropReason::outer_truncated;
  const auto ip = load_header<Ipv4Hdr>(frame + l3);
  const std::uint32_t ihl = (ip.version_ihl & 0x0fU) * 4U;
  const std::uint32_t total = be16_to_cpu(ip.total_len_be);
  // RFC 791 section 3.1: IHL is at least 5 words; the total length includes the header.
  if ((ip.version_ihl >> 4) != 4 || ihl < kIpv4HdrLen || total < ihl) [[unlikely]]
    return DropReason::outer_bad_ip;
  // total >= ihl, so this also guarantees the options are inside the frame.
  if (total > avail) [[unlikely]]
    return DropReason::outer_truncated;
  // No reassembly on the fast path: WireGuard peers size their packets to the path MTU.
  if ((ip.frag_off_be & kIpv4FragmentMaskBe) != 0) [[unlikely]]
    return DropReason::outer_bad_ip;
  if (ip.protocol != kIpProtoUdp) [[unlikely]]
    return DropReason::outer_not_tunnel;

  out.is_ipv6 = false;
  out.tos = ip.tos;
  out.src_addr = ipv4_mapped(ip.src);
  out.dst_addr = ipv4_mapped(ip.dst);
  return parse_udp(frame, l3 + ihl, total - ihl, tunnel_port_be, out);
}

inline DropReason parse_ipv6(const std::uint8_t* frame, std::uint32_t len, std::uint32_t l3,
                             std::uint16_t tunnel_port_be, OuterInfo& out) noexcept {
  const std::uint32_t avail = len - l3;
  if (avail < kIpv6HdrLen) [[unlikely]]
    return DropReason::outer_truncated;
  const auto ip = load_header<Ipv6Hdr>(frame + l3);
  if ((ip.vtc_flow[0] >> 4) != 6) [[unlikely]]
    return DropReason::outer_bad_ip;
  const std::uint32_t payload = be16_to_cpu(ip.payload_len_be);
  if (payload > avail - kIpv6HdrLen) [[unlikely]]
    return DropReason::outer_truncated;
  // Extension headers (RFC 8200 section 4) are not walked: a WireGuard peer sends plain UDP.
  if (ip.next_header != kIpProtoUdp) [[unlikely]]
    return DropReason::outer_not_tunnel;

  out.is_ipv6 = true;
  out.tos = static_cast<std::uint8_t>((ip.vtc_flow[0] << 4) | (ip.vtc_flow[1] >> 4));
  std::memcpy(out.src_addr.data(), ip.src, 16);
  std::memcpy(out.dst_addr.data(), ip.dst, 16);
  return parse_udp(frame, l3 + kIpv6HdrLen, payload, tunnel_port_be, out);
}

}  // namespace

DropReason parse_outer(const std::uint8_t* frame, std::uint32_t len, std::uint16_t tunnel_port_be,
                       OuterInfo& out) noexcept {
  if (len < kEthHdrLen) [[unlikely]]
    return DropReason::outer_truncated;
  std::uint16_t ether_type = load16(frame + offsetof(EthHdr, ether_type_be));
  std::uint32_t l3 = kEthHdrLen;
  out.has_vlan = false;
  out.vlan_tci = 0;
  if (ether_type == kEtherTypeVlanBe) {
    if (len < kEthHdrLen + kVlanHdrLen) [[unlikely]]
      return DropReason::outer_truncated;
    const auto tag = load_header<VlanHdr>(frame + kEthHdrLen);
    out.has_vlan = true;
    out.vlan_tci = be16_to_cpu(tag.tci_be);
    ether_type = tag.ether_type_be;
    l3 += kVlanHdrLen;
  }
  out.l3_offset = static_cast<std::uint16_t>(l3);
  if (ether_type == kEtherTypeIpv4Be) [[likely]]
    return parse_ipv4(frame, len, l3, tunnel_port_be, out);
  if (ether_type == kEtherTypeIpv6Be) return parse_ipv6(frame, len, l3, tunnel_port_be, out);
  return DropReason::outer_not_ip;
}

}  // namespace strait::dp

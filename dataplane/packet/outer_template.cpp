#include "packet/outer_template.hpp"

#include <cstring>

#include "packet/checksum.hpp"

namespace strait::dp {

OuterTemplate::OuterTemplate(const OuterTemplateConfig& cfg) noexcept : is_ipv6_(cfg.is_ipv6) {
  std::uint8_t* p = image_.data();
  EthHdr eth{};
  std::memcpy(eth.dst, cfg.dst_mac.data(), 6);
  std::memcpy(eth.src, cfg.src_mac.data(), 6);
  const std::uint16_t l3_type = cfg.is_ipv6 ? kEtherTypeIpv6Be : kEtherTypeIpv4Be;
  std::size_t off = kEthHdrLen;
  if (cfg.has_vlan) {
    eth.ether_type_be = kEtherTypeVlanBe;
    store_header(p + kEthHdrLen, VlanHdr{cpu_to_be16(cfg.vlan_tci), l3_type});
    off += kVlanHdrLen;
  } else {
    eth.ether_type_be = l3_type;
  }
  store_header(p, eth);
  l3_offset_ = static_cast<std::uint8_t>(off);

  if (cfg.is_ipv6) {
    Ipv6Hdr ip{};
    ip.vtc_flow[0] = static_cast<std::uint8_t>(0x60 | (cfg.tos >> 4));
    ip.vtc_flow[1] = static_cast<std::uint8_t>(cfg.tos << 4);
    ip.next_header = kIpProtoUdp;
    ip.hop_limit = cfg.ttl;
    std::memcpy(ip.src, cfg.src_addr.data(), 16);
    std::memcpy(ip.dst, cfg.dst_addr.data(), 16);
    store_header(p + off, ip);
    off += kIpv6HdrLen;
  } else {
    Ipv4Hdr ip{};
    ip.version_ihl = kIpv4VersionIhl5;
    ip.tos = cfg.tos;
    ip.frag_off_be = kIpv4FlagDfBe;
    ip.ttl = cfg.ttl;
    ip.protocol = kIpProtoUdp;
    std::memcpy(ip.src, cfg.src_addr.data() + 12, 4);
    std::memcpy(ip.dst, cfg.dst_addr.data() + 12, 4);
    store_header(p + off, ip);
    ipv4_partial_sum_ = checksum_partial(p + off, kIpv4HdrLen);
    off += kIpv4HdrLen;
  }
  l4_offset_ = static_cast<std::uint8_t>(off);
  store_header(p + off, UdpHdr{0, cfg.dst_port_be, 0, 0});
  header_len_ = static_cast<std::uint8_t>(off + kUdpHdrLen);
}

void OuterTemplate::write(std::uint8_t* dst, std::uint32_t payload_len,
                          std::uint16_t src_port_be) const noexcept {
  std::memcpy(dst, image_.data(), header_len_);
  const std::uint32_t udp_len = kUdpHdrLen + payload_len;
  std::uint8_t* ip = dst + l3_offset_;
  std::uint8_t* udp = dst + l4_offset_;
  const std::uint16_t udp_len_be = cpu_to_be16(static_cast<std::uint16_t>(udp_len));
  std::memcpy(udp + offsetof(UdpHdr, src_port_be), &src_port_be, 2);
  std::memcpy(udp + offsetof(UdpHdr, length_be), &udp_len_be, 2);
  if (is_ipv6_) {
    std::memcpy(ip + offsetof(Ipv6Hdr, payload_len_be), &udp_len_be, 2);
    const std::uint16_t check =
        udp6_checksum(ip + offsetof(Ipv6Hdr, src), ip + offsetof(Ipv6Hdr, dst), udp, udp_len);
    std::memcpy(udp + offsetof(UdpHdr, checksum_be), &check, 2);
  } else {
    const std::uint16_t total_be = cpu_to_be16(static_cast<std::uint16_t>(kIpv4HdrLen + udp_len));
    // The sum of the other nine words was taken with the total length word zero, so adding
    // that word now gives the sum of the whole header (checksum word still zero).
    const std::uint16_t check =
        checksum_finish(static_cast<std::uint64_t>(ipv4_partial_sum_) + total_be);
    std::memcpy(ip + offsetof(Ipv4Hdr, total_len_be), &total_be, 2);
    std::memcpy(ip + offsetof(Ipv4Hdr, checksum_be), &check, 2);
  }
}

}  // namespace strait::dp

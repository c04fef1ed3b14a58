#include "packet/inner_parse.hpp"

#include <cstring>

namespace strait::dp {

DropReason parse_inner(const std::uint8_t* p, std::uint32_t len, InnerInfo& out) noexcept {
  out.is_keepalive = (len == 0);
  if (len == 0) return DropReason::none;

  const unsigned version = p[0] >> 4;
  if (version == 4) {
    if (len < kIpv4HdrLen) [[unlikely]]
      return DropReason::inner_bad_ip;
    const auto ip = load_header<Ipv4Hdr>(p);
    const std::uint32_t ihl = (ip.version_ihl & 0x0fU) * 4U;
    const std::uint32_t total = be16_to_cpu(ip.total_len_be);
    if (ihl < kIpv4HdrLen || total < ihl || total > len) [[unlikely]]
      return DropReason::inner_bad_ip;
    out.is_ipv6 = false;
    out.protocol = ip.protocol;
    out.header_len = static_cast<std::uint16_t>(ihl);
    out.ip_len = total;
    out.src_addr = ipv4_mapped(ip.src);
    out.dst_addr = ipv4_mapped(ip.dst);
    return DropReason::none;
  }
  if (version == 6) {
    if (len < kIpv6HdrLen) [[unlikely]]
      return DropReason::inner_bad_ip;
    const auto ip = load_header<Ipv6Hdr>(p);
    const std::uint32_t total = kIpv6HdrLen + be16_to_cpu(ip.payload_len_be);
    if (total > len) [[unlikely]]
      return DropReason::inner_bad_ip;
    out.is_ipv6 = true;
    out.protocol = ip.next_header;
    out.header_len = static_cast<std::uint16_t>(kIpv6HdrLen);
    out.ip_len = total;
    std::memcpy(out.src_addr.data(), ip.src, 16);
    std::memcpy(out.dst_addr.data(), ip.dst, 16);
    return DropReason::none;
  }
  return DropReason::inner_bad_ip;
}

}  // namespace strait::dp

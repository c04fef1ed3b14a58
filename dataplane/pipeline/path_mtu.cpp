#include "pipeline/path_mtu.hpp"

#include <algorithm>
#include <cstring>

#include "packet/checksum.hpp"
#include "packet/headers.hpp"

namespace strait::dp {
namespace {

// An IPv4 address that names one host (RFC 1122 section 3.2.1.3; RFC 1812 section 4.3.2.7):
// not 0/8, 127/8, multicast 224/4, class E 240/4 or the limited broadcast.
bool is_unicast_v4(const std::uint8_t* a) noexcept {
  return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

bool is_unspecified_v6(const std::uint8_t* a) noexcept {
  for (int i = 0; i < 16; ++i)
    if (a[i] != 0) return false;
  return true;
}

bool is_unicast_v6(const std::uint8_t* a) noexcept { return a[0] != 0xff && !is_unspecified_v6(a); }

// ICMPv4 error types (RFC 792, RFC 1812 section 4.3.2.7): destination unreachable, source
// quench, redirect, time exceeded, parameter problem.
bool is_icmpv4_error(std::uint8_t type) noexcept {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

const std::uint8_t* reply_source(const InnerInfo& inner, const PathMtuConfig& config) noexcept {
  if (inner.is_ipv6) return config.icmp_source_v6 ? config.icmp_source_v6->data() : inner.dst_ip();
  return config.icmp_source_v4 ? config.icmp_source_v4->data() : inner.dst_ip();
}

}  // namespace

bool may_answer_too_big(const std::uint8_t* ip, const InnerInfo& inner,
                        const PathMtuConfig& config) noexcept {
  const std::uint8_t* src = reply_source(inner, config);
  const std::uint32_t l4_len = inner.ip_len - inner.header_len;
  const std::uint8_t* l4 = ip + inner.header_len;
  if (inner.is_ipv6) {
    if (!is_unicast_v6(inner.src_ip()) || !is_unicast_v6(src)) return false;
    // RFC 4443 section 2.4(e.1): never about an ICMPv6 error (types 0..127). Only a first
    // next header of ICMPv6 is recognised; extension headers are not walked.
    return !(inner.protocol == kIpProtoIcmpv6 && (l4_len < 1 || l4[0] < 128));
  }
  const auto h = load_header<Ipv4Hdr>(ip);
  if ((h.frag_off_be & kIpv4FragOffsetMaskBe) != 0) return false;
  if (!is_unicast_v4(inner.src_ip()) || !is_unicast_v4(src)) return false;
  return !(inner.protocol == kIpProtoIcmp && (l4_len < 1 || is_icmpv4_error(l4[0])));
}

bool build_too_big_reply(rte_mbuf* m, const InnerInfo& inner, const PathMtuConfig& config,
                         std::uint32_t mtu, const MacAddr& our_mac) noexcept {
  const std::uint32_t ip_hdr = inner.is_ipv6 ? kIpv6HdrLen : kIpv4HdrLen;
  const std::uint32_t grow = ip_hdr + kIcmpErrorHdrLen;
  if (rte_pktmbuf_headroom(m) < grow) return false;
  const std::uint32_t quote =
      std::min(inner.ip_len, inner.is_ipv6 ? kIcmpv6MaxQuote : kIcmpv4MaxQuote);

  // What the new headers are about to overwrite: the old Ethernet header and nothing else
  // (the quoted packet stays where it is; the headers grow into the headroom).
  const std::uint8_t* old = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const auto old_eth = load_header<EthHdr>(old);
  IpAddr16 src{};
  std::memcpy(src.data(), reply_source(inner, config), inner.is_ipv6 ? 16 : 4);

  auto* p =
      reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, static_cast<std::uint16_t>(grow)));
  const std::uint32_t keep = kEthHdrLen + grow + quote;
  rte_pktmbuf_trim(m, static_cast<std::uint16_t>(rte_pktmbuf_data_len(m) - keep));

  EthHdr eth{};
  std::memcpy(eth.dst, old_eth.src, 6);
  std::memcpy(eth.src, our_mac.data(), 6);
  eth.ether_type_be = inner.is_ipv6 ? kEtherTypeIpv6Be : kEtherTypeIpv4Be;
  store_header(p, eth);
  std::uint8_t* l3 = p + kEthHdrLen;
  std::uint8_t* icmp = l3 + ip_hdr;
  const std::uint32_t icmp_len = kIcmpErrorHdrLen + quote;

  if (inner.is_ipv6) {
    Ipv6Hdr h{};
    h.vtc_flow[0] = 0x60;
    h.payload_len_be = cpu_to_be16(static_cast<std::uint16_t>(icmp_len));
    h.next_header = kIpProtoIcmpv6;
    h.hop_limit = 64;
    std::memcpy(h.src, src.data(), 16);
    std::memcpy(h.dst, inner.src_ip(), 16);
    store_header(l3, h);
    // RFC 4443 section 3.2: type 2, code 0, checksum, 32-bit MTU.
    icmp[0] = kIcmpv6PacketTooBig;
    icmp[1] = 0;
    std::memset(icmp + 2, 0, 2);
    const std::uint32_t mtu_be = cpu_to_be32(mtu);
    std::memcpy(icmp + 4, &mtu_be, 4);
    const std::uint16_t c = l4_checksum_v6(h.src, h.dst, kIpProtoIcmpv6, icmp, icmp_len);
    std::memcpy(icmp + 2, &c, 2);
  } else {
    Ipv4Hdr h{};
    h.version_ihl = kIpv4VersionIhl5;
    // Precedence "internetwork control", as routers mark the ICMP errors they originate
    // (RFC 1812 section 4.3.2.5; Linux icmp_send).
    h.tos = 0xc0;
    h.total_len_be = cpu_to_be16(static_cast<std::uint16_t>(kIpv4HdrLen + icmp_len));
    // Never fragmented (at most 576 bytes): an atomic datagram, so ID 0 (RFC 6864 section 4).
    h.frag_off_be = kIpv4FlagDfBe;
    h.ttl = 64;
    h.protocol = kIpProtoIcmp;
    std::memcpy(h.src, src.data(), 4);
    std::memcpy(h.dst, inner.src_ip(), 4);
    store_header(l3, h);
    const std::uint16_t hc = internet_checksum(l3, kIpv4HdrLen);
    std::memcpy(l3 + offsetof(Ipv4Hdr, checksum_be), &hc, 2);
    // RFC 792 type 3 code 4; RFC 1191 section 4: unused (16 bits), next-hop MTU (16 bits).
    icmp[0] = kIcmpDestUnreachable;
    icmp[1] = kIcmpCodeFragNeeded;
    std::memset(icmp + 2, 0, 4);
    const std::uint16_t mtu_be = cpu_to_be16(static_cast<std::uint16_t>(std::min(mtu, 0xffffU)));
    std::memcpy(icmp + 6, &mtu_be, 2);
    const std::uint16_t c = internet_checksum(icmp, icmp_len);
    std::memcpy(icmp + 2, &c, 2);
  }
  // Nothing the bridge NIC said about the old frame applies to the new one.
  m->ol_flags = 0;
  m->packet_type = 0;
  return true;
}

FragmentResult fragment_ipv4(const rte_mbuf* m, const InnerInfo& inner, std::uint32_t mtu,
                             rte_mbuf** out, std::uint16_t room) noexcept {
  const std::uint8_t* frame = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint8_t* ip = frame + kEthHdrLen;
  const std::uint32_t hl = inner.header_len;
  if (mtu < hl + 8) return {DropReason::too_big, 0};
  const std::uint32_t data_len = inner.ip_len - hl;
  const std::uint32_t per_fragment = (mtu - hl) & ~7U;  // offsets count 8-byte units
  const std::uint32_t count = (data_len + per_fragment - 1) / per_fragment;
  if (count > room) return {DropReason::too_big, 0};

  // The header of every fragment after the first: options that are not to be copied
  // (copy flag, bit 0x80 of the type, clear) become no-ops, so the length stays the same.
  std::uint8_t later_hdr[60];
  std::memcpy(later_hdr, ip, hl);
  for (std::uint32_t i = kIpv4HdrLen; i < hl;) {
    const std::uint8_t type = later_hdr[i];
    if (type == 0) break;  // end of option list
    if (type == 1) {       // no-op
      ++i;
      continue;
    }
    if (i + 1 >= hl || later_hdr[i + 1] < 2 || i + later_hdr[i + 1] > hl)
      return {DropReason::too_big, 0};
    const std::uint32_t len = later_hdr[i + 1];
    if ((type & 0x80U) == 0) std::memset(later_hdr + i, 1, len);
    i += len;
  }

  const auto orig = load_header<Ipv4Hdr>(ip);
  const std::uint16_t frag = be16_to_cpu(orig.frag_off_be);
  const std::uint32_t base_units = frag & 0x1fffU;
  const bool orig_more = (frag & 0x2000U) != 0;
  rte_mempool* pool = m->pool;
  for (std::uint32_t k = 0; k < count; ++k) {
    const std::uint32_t off = k * per_fragment;
    const std::uint32_t len = std::min(per_fragment, data_len - off);
    rte_mbuf* f = rte_pktmbuf_alloc(pool);
    DropReason why = DropReason::none;
    char* p = nullptr;
    if (f == nullptr) {
      why = DropReason::no_mbuf;
    } else if ((p = rte_pktmbuf_append(f, static_cast<std::uint16_t>(kEthHdrLen + hl + len))) ==
               nullptr) {
      why = DropReason::unsupported_mbuf;
    }
    if (why != DropReason::none) {
      if (f != nullptr) rte_pktmbuf_free(f);
      for (std::uint32_t j = 0; j < k; ++j) rte_pktmbuf_free(out[j]);
      return {why, 0};
    }
    auto* d = reinterpret_cast<std::uint8_t*>(p);
    std::memcpy(d, frame, kEthHdrLen);
    std::uint8_t* h = d + kEthHdrLen;
    std::memcpy(h, k == 0 ? ip : later_hdr, hl);
    const bool more = k + 1 < count || orig_more;
    const std::uint16_t total_be = cpu_to_be16(static_cast<std::uint16_t>(hl + len));
    const std::uint16_t frag_be =
        cpu_to_be16(static_cast<std::uint16_t>((more ? 0x2000U : 0U) | (base_units + off / 8)));
    std::memcpy(h + offsetof(Ipv4Hdr, total_len_be), &total_be, 2);
    std::memcpy(h + offsetof(Ipv4Hdr, frag_off_be), &frag_be, 2);
    std::memset(h + offsetof(Ipv4Hdr, checksum_be), 0, 2);
    const std::uint16_t c = internet_checksum(h, hl);
    std::memcpy(h + offsetof(Ipv4Hdr, checksum_be), &c, 2);
    std::memcpy(h + hl, ip + hl + off, len);
    f->port = m->port;
    out[k] = f;
  }
  return {DropReason::none, static_cast<std::uint16_t>(count)};
}

}  // namespace strait::dp

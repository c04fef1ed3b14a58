#include "straitd/slow_path_frames.hpp"

#include <cstring>

#include "packet/checksum.hpp"

namespace strait::straitd {
namespace {

using namespace strait::dp;

// ICMPv6 neighbour solicitation/advertisement body after type, code, checksum
// (RFC 4861 sections 4.3 and 4.4): 4 bytes reserved/flags, the 16-byte target, options.
constexpr std::size_t kNdBodyLen = 4 + 4 + 16;
constexpr std::uint8_t kNdOptTargetLinkAddr = 2;
// Solicited and Override (RFC 4861 section 4.4): an answer to a solicitation that replaces a
// cached entry.
constexpr std::uint8_t kNaFlagsSolicitedOverride = 0x60;

bool answer_arp(std::uint8_t* arp_at, std::uint32_t avail, const MacAddr& our_mac,
                std::uint8_t* eth, const AnswersFor& answers_for) {
  if (avail < kArpHdrLen) return false;
  ArpHdr a = load_header<ArpHdr>(arp_at);
  if (a.htype_be != kArpHtypeEthernetBe || a.ptype_be != kEtherTypeIpv4Be || a.hlen != 6 ||
      a.plen != 4 || a.op_be != kArpOpRequestBe) {
    return false;
  }
  // A gratuitous announcement (sender = target) asks nothing.
  if (std::memcmp(a.spa, a.tpa, 4) == 0 || !answers_for(a.tpa, false)) return false;
  ArpHdr r = a;
  r.op_be = kArpOpReplyBe;
  std::memcpy(r.sha, our_mac.data(), 6);
  std::memcpy(r.spa, a.tpa, 4);
  std::memcpy(r.tha, a.sha, 6);
  std::memcpy(r.tpa, a.spa, 4);
  store_header(arp_at, r);
  EthHdr e = load_header<EthHdr>(eth);
  std::memcpy(e.dst, a.sha, 6);
  std::memcpy(e.src, our_mac.data(), 6);
  store_header(eth, e);
  return true;
}

bool answer_ns(rte_mbuf* m, std::uint32_t l3_offset, const MacAddr& our_mac,
               const AnswersFor& answers_for) {
  auto* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint32_t len = rte_pktmbuf_data_len(m);
  if (len < l3_offset + kIpv6HdrLen + kNdBodyLen) return false;
  Ipv6Hdr ip = load_header<Ipv6Hdr>(frame + l3_offset);
  std::uint8_t* icmp = frame + l3_offset + kIpv6HdrLen;
  // RFC 4861 section 7.1.1: hop limit 255 (not forwarded), ICMPv6 type 135 code 0.
  if (ip.next_header != kIpProtoIcmpv6 || ip.hop_limit != 255 ||
      icmp[0] != kIcmpv6NeighborSolicitation || icmp[1] != 0) {
    return false;
  }
  static constexpr std::uint8_t kUnspecified[16] = {};
  if (std::memcmp(ip.src, kUnspecified, 16) == 0) return false;  // duplicate address detection
  const std::uint8_t* target = icmp + 8;
  if (!answers_for(target, true)) return false;

  // The advertisement: to the solicitor, from the target address, with our link address.
  const std::uint32_t icmp_len = kNdBodyLen + 8;
  if (rte_pktmbuf_tailroom(m) + len < l3_offset + kIpv6HdrLen + icmp_len) return false;
  m->data_len = static_cast<std::uint16_t>(l3_offset + kIpv6HdrLen + icmp_len);
  m->pkt_len = m->data_len;
  Ipv6Hdr r = ip;
  std::memcpy(r.dst, ip.src, 16);
  std::memcpy(r.src, target, 16);
  r.payload_len_be = cpu_to_be16(static_cast<std::uint16_t>(icmp_len));
  std::uint8_t body[kNdBodyLen + 8] = {};
  body[0] = kIcmpv6NeighborAdvertisement;
  body[4] = kNaFlagsSolicitedOverride;
  std::memcpy(body + 8, target, 16);
  body[24] = kNdOptTargetLinkAddr;
  body[25] = 1;  // option length in units of 8 bytes
  std::memcpy(body + 26, our_mac.data(), 6);
  const std::uint16_t ck = l4_checksum_v6(r.src, r.dst, kIpProtoIcmpv6, body, icmp_len);
  std::memcpy(body + 2, &ck, 2);
  store_header(frame + l3_offset, r);
  std::memcpy(frame + l3_offset + kIpv6HdrLen, body, icmp_len);

  EthHdr e = load_header<EthHdr>(frame);
  std::memcpy(e.dst, e.src, 6);
  std::memcpy(e.src, our_mac.data(), 6);
  store_header(frame, e);
  return true;
}

}  // namespace

rte_mbuf* build_datagram_frame(rte_mempool* pool, const OuterTemplate& outer,
                               std::span<const std::uint8_t> payload, std::uint16_t src_port_be) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  const std::uint32_t total = outer.header_len() + static_cast<std::uint32_t>(payload.size());
  auto* p =
      reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(total)));
  if (total > UINT16_MAX || p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p + outer.header_len(), payload.data(), payload.size());
  outer.write(p, static_cast<std::uint32_t>(payload.size()), src_port_be);
  return m;
}

bool answer_neighbour_request(rte_mbuf* m, const MacAddr& our_mac, const AnswersFor& answers_for) {
  if (m->nb_segs != 1) return false;
  auto* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint32_t len = rte_pktmbuf_data_len(m);
  if (len < kEthHdrLen) return false;
  EthHdr e = load_header<EthHdr>(frame);
  std::uint32_t l3 = kEthHdrLen;
  std::uint16_t type = e.ether_type_be;
  if (type == kEtherTypeVlanBe) {
    if (len < kEthHdrLen + kVlanHdrLen) return false;
    type = load_header<VlanHdr>(frame + kEthHdrLen).ether_type_be;
    l3 += kVlanHdrLen;
  }
  if (type == kEtherTypeArpBe) return answer_arp(frame + l3, len - l3, our_mac, frame, answers_for);
  if (type == kEtherTypeIpv6Be) return answer_ns(m, l3, our_mac, answers_for);
  return false;
}

}  // namespace strait::straitd

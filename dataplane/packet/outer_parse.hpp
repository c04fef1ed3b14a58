#pragma once
// Parsing of a received wire frame down to the WireGuard message it carries:
// Ethernet [802.1Q] IPv4|IPv6 UDP(dst port = tunnel port) payload. Runs per packet in the
// decap stage; pure function over bytes, no DPDK.

#include <cstdint>

#include "base/drop_reason.hpp"
#include "packet/headers.hpp"

namespace strait::dp {

// What the decap stage needs from the outer headers: where the message is, and the sender's
// address and port (for roaming, WireGuard paper section 2.1, and for the cookie's source
// bytes, section 5.4.7).
struct OuterInfo {
  std::uint16_t l3_offset;       // IPv4/IPv6 header, from the start of the frame
  std::uint16_t l4_offset;       // UDP header
  std::uint16_t payload_offset;  // UDP payload, i.e. the WireGuard message
  std::uint16_t payload_len;     // UDP length - 8; bytes past it (Ethernet padding) are not payload
  std::uint16_t vlan_tci;        // host order; 0 when has_vlan is false
  bool has_vlan;
  bool is_ipv6;
  std::uint8_t tos;  // IPv4 TOS / IPv6 traffic class (DSCP and ECN, RFC 6040 decap)
  std::uint16_t src_port_be;
  std::uint16_t dst_port_be;
  IpAddr16 src_addr;  // IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d)
  IpAddr16 dst_addr;

  // The source address as it was on the wire: 4 bytes for IPv4, 16 for IPv6. These are the
  // address bytes the cookie MAC covers (followed by src_port_be), as in the Linux module.
  [[nodiscard]] const std::uint8_t* src_ip() const noexcept {
    return is_ipv6 ? src_addr.data() : src_addr.data() + 12;
  }
  [[nodiscard]] const std::uint8_t* dst_ip() const noexcept {
    return is_ipv6 ? dst_addr.data() : dst_addr.data() + 12;
  }
  [[nodiscard]] std::uint8_t ip_addr_len() const noexcept { return is_ipv6 ? 16 : 4; }
};

// Parses `len` bytes of `frame` (starting at the Ethernet header) and fills `out`.
// Returns DropReason::none when the frame is UDP to `tunnel_port_be` (network order); `out` is
// then fully written. On any other result `out` is partly written and must not be used.
//
// Accepted: Ethernet II; at most one 802.1Q tag (a second tag or 802.1ad is outer_not_ip);
// IPv4 with options, not a fragment; IPv6 whose next header is UDP directly (extension
// headers, fragments included, are outer_not_tunnel: WireGuard peers never send them).
// Trailing bytes after the IP total length (Ethernet minimum-size padding) are ignored.
//
// Reasons: outer_truncated (a header, or the IP packet, extends past `len`; or the IP
// payload is shorter than a UDP header), outer_not_ip (EtherType), outer_bad_ip (version,
// IHL < 5, total length < IHL, IPv4 fragment), outer_not_tunnel (not UDP, or another dst
// port), outer_bad_udp (UDP length < 8 or > IP payload; a shorter UDP length than the IP
// payload is accepted, as Linux udp_rcv trims).
//
// The IPv4 header checksum is deliberately not verified: the Ethernet FCS already covers the
// header on the link, NICs check it in hardware (DPDK RTE_MBUF_F_RX_IP_CKSUM_BAD, to be
// dropped by the port layer when offered), and everything after the header is authenticated
// by the WireGuard AEAD, so a corrupted address can at worst misdirect a reply, as a forged
// one can anyway. The UDP checksum is not verified here either: the message it covers is
// authenticated by the AEAD (or by mac1 for handshakes), and the port layer may drop
// RTE_MBUF_F_RX_L4_CKSUM_BAD packets where the NIC checks it.
//
// Never reads outside [frame, frame + len).
[[nodiscard]] DropReason parse_outer(const std::uint8_t* frame, std::uint32_t len,
                                     std::uint16_t tunnel_port_be, OuterInfo& out) noexcept;

}  // namespace strait::dp

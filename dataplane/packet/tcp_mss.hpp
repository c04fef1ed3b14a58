#pragma once
// TCP MSS clamping (RFC 9293 section 3.7.1; the practice of RFC 4459 section 3.2 for tunnels):
// a tunnel whose inner MTU is below the link MTU the endpoints assume lowers the MSS option of
// SYN and SYN-ACK segments, so that neither end sends segments the tunnel cannot carry.
// Runs per packet in both stages (encap before encryption, decap after decryption).

#include <cstdint>

#include "packet/inner_parse.hpp"

namespace strait::dp {

// The MSS that fills a tunnel of `tunnel_mtu` bytes: minus the IP header without options
// (20 / 40) and the TCP header without options (20), as Linux's TCPMSS --clamp-mss-to-pmtu.
[[nodiscard]] constexpr std::uint16_t mss_for_mtu(std::uint32_t tunnel_mtu, bool ipv6) noexcept {
  const std::uint32_t overhead = ipv6 ? 60U : 40U;
  return tunnel_mtu > overhead ? static_cast<std::uint16_t>(tunnel_mtu - overhead) : 0;
}

// If the inner packet at `ip` (parsed into `inner`, which must describe it) is a TCP segment
// with SYN set whose MSS option is above `max_mss`, lowers it to max_mss, updates the TCP
// checksum incrementally (RFC 1624 equation 3) and returns true. Everything else is left alone
// and returns false: max_mss 0, not TCP (IPv6: the first next header must be TCP; extension
// headers are not walked), IPv4 fragments, no SYN, a data offset below 5 or beyond the packet,
// no MSS option, a malformed option list anywhere before its end (an option length below 2 or
// past the header, an MSS option whose length is not 4, two MSS options). The option walk is
// bounded by the TCP header (at most 40 option bytes) and never reads past ip + inner.ip_len.
bool clamp_tcp_mss(std::uint8_t* ip, const InnerInfo& inner, std::uint16_t max_mss) noexcept;

}  // namespace strait::dp

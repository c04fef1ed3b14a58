#pragma once
// Parsing of a decrypted transport payload: the inner IP packet (no L2 header), or an empty
// keepalive. Runs per packet in the decap stage, after the AEAD open and before the
// cryptokey-routing check on the inner source address (WireGuard paper section 2.1).

#include <cstdint>

#include "base/drop_reason.hpp"
#include "packet/headers.hpp"

namespace strait::dp {

struct InnerInfo {
  bool is_keepalive;  // empty plaintext (paper section 6.5): valid, nothing to forward
  bool is_ipv6;
  std::uint8_t protocol;     // IPv4 protocol / IPv6 first next header (may be an extension header)
  std::uint16_t header_len;  // IPv4 IHL * 4, or 40 for IPv6
  std::uint32_t ip_len;      // the packet's real length from its IP header (IPv6: up to 65575)
  IpAddr16 src_addr;         // IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d)
  IpAddr16 dst_addr;

  [[nodiscard]] const std::uint8_t* src_ip() const noexcept {
    return is_ipv6 ? src_addr.data() : src_addr.data() + 12;
  }
  [[nodiscard]] const std::uint8_t* dst_ip() const noexcept {
    return is_ipv6 ? dst_addr.data() : dst_addr.data() + 12;
  }
};

// Parses the `len` plaintext bytes at `p`. Returns DropReason::none for a keepalive (len == 0,
// only is_keepalive is meaningful then) or a well-formed IPv4/IPv6 header, else
// DropReason::inner_bad_ip.
//
// WireGuard pads the plaintext to a multiple of 16 bytes (paper section 5.4.6), so `len` may
// exceed the packet: the real length is the IP header's (IPv4 total length; IPv6 40 + payload
// length) and the caller must trim the packet to `ip_len` before forwarding it, as the Linux
// module does. Checked: the version nibble is 4 or 6; len covers the fixed header; IPv4 IHL >= 5
// and IHL * 4 <= total length <= len; IPv6 40 + payload length <= len. An IPv6 jumbogram
// (payload length 0, RFC 2675) parses with ip_len 40 and is thus cut to its header.
// Inner fragments are fine (they are the endpoints' business). Never reads past p + len.
[[nodiscard]] DropReason parse_inner(const std::uint8_t* p, std::uint32_t len,
                                     InnerInfo& out) noexcept;

}  // namespace strait::dp

#pragma once
// Inner packets that do not fit the tunnel (DESIGN.md section 4; docs/STRAITD.md, "Path MTU"):
// the encap stage answers them with ICMP "fragmentation needed" (RFC 792, RFC 1191) or ICMPv6
// "packet too big" (RFC 4443 section 3.2, RFC 8201) sent back into the bridge, or fragments
// IPv4 packets that allow it (RFC 791 section 3.2). Internal to dataplane/pipeline; every
// function runs on a worker, per exceptional packet: no locks, exceptions or logging;
// fragment_ipv4 allocates mbufs from a pool (the only allocation of the stages, and only on
// this path).

#include <rte_mbuf.h>

#include <cstdint>

#include "base/drop_reason.hpp"
#include "packet/inner_parse.hpp"
#include "pipeline/forwarding_state.hpp"

namespace strait::dp {

// How much of the offending packet an ICMP error quotes: as much as keeps the whole error
// within the minimum MTU the sender's network must carry, 576 bytes for IPv4 (RFC 1812
// section 4.3.2.3) and 1280 for IPv6 (RFC 4443 section 2.4(c)).
inline constexpr std::uint32_t kIcmpErrorHdrLen = 8;  // type, code, checksum, 4 more bytes
inline constexpr std::uint32_t kIcmpv4MaxQuote = 576 - kIpv4HdrLen - kIcmpErrorHdrLen;
inline constexpr std::uint32_t kIcmpv6MaxQuote = 1280 - kIpv6HdrLen - kIcmpErrorHdrLen;

// Whether the rules on ICMP errors allow an answer to the packet at `ip` (RFC 1122 section
// 3.2.2, RFC 1812 section 4.3.2.7, RFC 4443 section 2.4(e)): not to an ICMP error, not to a
// non-initial fragment, not to a source that is not one host (unspecified, loopback,
// multicast, broadcast, class E), and only with a unicast source address of our own to put in
// the answer (the configured one, or the original destination).
[[nodiscard]] bool may_answer_too_big(const std::uint8_t* ip, const InnerInfo& inner,
                                      const PathMtuConfig& config) noexcept;

// Rewrites m, a bridge frame (14-byte Ethernet header, then the packet at `ip` that `inner`
// describes, longer than `mtu`), in place into the ICMP error for its sender: Ethernet from
// `our_mac` to the frame's source MAC, IP from the configured source (or the original
// destination) to the original source, ICMP type 3 code 4 with the next-hop MTU (RFC 1191
// section 4) or ICMPv6 type 2 with the MTU, quoting the start of the packet. Checksums
// complete. Needs 28 (IPv4) or 48 (IPv6) bytes of headroom; returns false and leaves m as it
// was when it lacks them. The caller checked may_answer_too_big and the rate limit.
[[nodiscard]] bool build_too_big_reply(rte_mbuf* m, const InnerInfo& inner,
                                       const PathMtuConfig& config, std::uint32_t mtu,
                                       const MacAddr& our_mac) noexcept;

struct FragmentResult {
  DropReason why = DropReason::none;  // none: `count` fragments written
  std::uint16_t count = 0;
};

// Splits m, a bridge frame holding the IPv4 packet `inner` describes (DF clear, longer than
// `mtu`), into new single-segment frames from m's pool, each the Ethernet header of m and an
// IPv4 fragment of at most `mtu` bytes: data in multiples of 8 bytes, the original ID, offsets
// and MF continuing those of m when m is itself a fragment, options without the copy flag
// replaced by no-ops after the first fragment (RFC 791 section 3.2, as Linux's
// ip_options_fragment), header checksums recomputed. Writes them to out[0..count). m is left
// to the caller. On failure nothing is written or leaked: too_big when more than `room`
// fragments would be needed, mtu leaves no room for 8 data bytes, or the options are
// malformed; no_mbuf when the pool is empty; unsupported_mbuf when a fragment does not fit
// an mbuf of the pool.
[[nodiscard]] FragmentResult fragment_ipv4(const rte_mbuf* m, const InnerInfo& inner,
                                           std::uint32_t mtu, rte_mbuf** out,
                                           std::uint16_t room) noexcept;

}  // namespace strait::dp

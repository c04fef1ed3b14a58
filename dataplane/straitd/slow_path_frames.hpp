#pragma once
// The frames the slow path writes itself: UDP datagrams of the Device (handshake messages and
// cookie replies, WireGuard paper section 5.4) in outer headers, and answers to ARP requests
// (RFC 826) and IPv6 neighbour solicitations (RFC 4861 section 4.3) for the addresses straitd
// stands for: its wire address when the kernel does not see the wire port (PCI), and on the
// bridge the inner addresses routed to peers, so that the bridge side resolves them to us.
//
// Slow-path thread only (allocates mbufs from the pool's main-lcore cache).

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <functional>
#include <span>

#include "packet/headers.hpp"
#include "packet/outer_template.hpp"

namespace strait::straitd {

// A new frame: `outer`'s headers (source port src_port_be, network order) and `payload`.
// Null when the pool is empty or the payload does not fit one mbuf.
[[nodiscard]] rte_mbuf* build_datagram_frame(rte_mempool* pool, const dp::OuterTemplate& outer,
                                             std::span<const std::uint8_t> payload,
                                             std::uint16_t src_port_be);

// Whether we answer for an address: 4 bytes (IPv4) or 16 (IPv6), wire order.
using AnswersFor = std::function<bool(const std::uint8_t* addr, bool is_ipv6)>;

// If `m` is an ARP request (Ethernet, IPv4) or an IPv6 neighbour solicitation from a
// non-unspecified source, for an address `answers_for` accepts, rewrites it in place into the
// reply from `our_mac` and returns true; the caller sends it back where it came from.
// Otherwise leaves `m` unchanged and returns false. An 802.1Q tag is kept.
[[nodiscard]] bool answer_neighbour_request(rte_mbuf* m, const dp::MacAddr& our_mac,
                                            const AnswersFor& answers_for);

}  // namespace strait::straitd

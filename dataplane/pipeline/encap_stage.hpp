#pragma once
// The encap stage: bridge RX burst -> wire TX burst (docs/STRAITD.md, "The fast path";
// DESIGN.md section 4), and encap_one, the same transformation for single packets of the
// slow path (staged packets after a handshake, keepalives).

#include <rte_mbuf.h>

#include <cstdint>

#include "base/drop_reason.hpp"
#include "packet/inner_parse.hpp"
#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"

namespace strait::dp {

struct EncapResult {
  std::uint16_t to_wire = 0;       // frames written to out_wire
  std::uint16_t staged = 0;        // packets parked on their peer's staging ring
  std::uint16_t to_slow_path = 0;  // frames written to out_slow
  std::uint16_t to_bridge = 0;     // ICMP errors written to out_bridge
  std::uint16_t fragmented = 0;    // input packets replaced by their IPv4 fragments
};

// The most IPv4 fragments one encap_burst call makes (docs/STRAITD.md, "Path MTU"); what
// would need more is dropped (too_big). out_wire needs this much room beyond n.
inline constexpr std::uint16_t kEncapFragmentRoom = 32;

// Outer UDP source ports (docs/STRAITD.md, "Outer source ports"). Towards AES-256-GCM
// (straitd) peers every message leaves from a port chosen by a hash of its inner flow, in
// kFlowPortFirst..65535 (RFC 6335's dynamic range): the receiver's RSS then spreads one node
// pair over its queues, while one inner flow keeps one port and so one queue (in order).
// Towards ChaCha20-Poly1305 (stock WireGuard) peers it is always the tunnel port: they answer
// to, and roam by, the source they see.
inline constexpr std::uint16_t kFlowPortFirst = 49152;

// The flow port of the inner IP packet at `ip` (parsed into `inner`, which parse_inner
// accepted), network order: a hash of source and destination address, protocol and, unless the
// packet is an IPv4 fragment, the TCP/UDP/SCTP/UDP-Lite ports. IPv6 extension headers are not
// walked (the first next header counts as the protocol). Reads at most inner.ip_len bytes.
[[nodiscard]] std::uint16_t flow_source_port(const std::uint8_t* ip,
                                             const InnerInfo& inner) noexcept;

// Takes ownership of the n bridge frames in pkts and hands each one to exactly one place:
//  - out_wire: a WireGuard transport data message in its outer headers, ready for wire TX;
//  - the peer's staging ring (counted in `staged`): no usable keypair yet. The packet is
//    stored as its inner IP packet (Ethernet header removed) and the peer's handshake_wanted
//    flag is raised; the slow path sends it with encap_one once a handshake completes;
//  - out_slow: an ARP frame or an IPv6 neighbour solicitation (the slow path answers for the
//    gateway); the whole frame, unchanged;
//  - out_bridge: an inner packet longer than state.tunnel_mtu, rewritten in place into the
//    ICMP "fragmentation needed" (IPv4 with DF, RFC 1191) or ICMPv6 "packet too big"
//    (RFC 4443 section 3.2) for its sender, ready for bridge TX; counted as the drop reason
//    too_big_icmp (the packet itself was not forwarded). At most kIcmpBurst at once and
//    kIcmpPerSecond on average per StageContext; beyond that, and where RFC 1812 section
//    4.3.2.7 forbids an answer, the packet is dropped as too_big;
//  - split: an IPv4 packet without DF longer than the tunnel MTU is replaced by its
//    fragments (state.path_mtu.fragment_ipv4, path_mtu.hpp fragment_ipv4; new mbufs from the
//    packet's pool), which are then encapsulated like any packet, after the rest of the
//    burst (counted in `fragmented`, one per original packet);
//  - freed: dropped and counted by DropReason in ctx.counters.
// out_slow and out_bridge must each have room for n pointers, out_wire for
// n + kEncapFragmentRoom.
//
// Per packet, in order: single segment (unsupported_mbuf); EtherType (ARP and neighbour
// solicitations to out_slow, other non-IP: bridge_not_ip); inner IP header (inner_bad_ip);
// allowed-IPs lookup of the destination (no_route); the peer has an endpoint (no_endpoint);
// inner length <= tunnel MTU (else as above); TCP MSS clamping of SYN segments when
// state.path_mtu asks for it (packet/tcp_mss.hpp); enough head- and
// tailroom for the tunnel headers, padding and tag (unsupported_mbuf); a current keypair valid
// for sending (else staged, or no_keypair when the ring is full or absent, staged_limit when
// all peers together hold state.staging_budget's limit). Then per peer once
// per burst one nonce reservation (no_keypair if the keypair is exhausted), padding to a
// multiple of 16 (paper section 5.4.6), the data header, one AEAD seal for the whole burst
// (a packet the engine reports unsealed is dropped as seal_failed, never sent in clear),
// the outer headers from the peer's template. Per peer once per burst: counters, last_tx_ns,
// last_tx_data_ns, and handshake_wanted when the send-side rekey rule fires (the packet is
// still sent on the old keypair, paper section 6.2).
//
// No allocation, locks, exceptions, logging or virtual calls. ctx.now_ns must be current.
EncapResult encap_burst(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts,
                        std::uint16_t n, rte_mbuf** out_wire, rte_mbuf** out_slow,
                        rte_mbuf** out_bridge) noexcept;

// The same without a way back to the bridge: packets longer than the tunnel MTU are all
// dropped (too_big), none answered or fragmented, and out_wire needs room for n only.
EncapResult encap_burst(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts,
                        std::uint16_t n, rte_mbuf** out_wire, rte_mbuf** out_slow) noexcept;

// Slow path (or any thread with its own StageContext): encapsulates one inner IP packet for
// peer `peer` with `keypair` (its AEAD keys prepared), sharing the encap stage's code.
// `m` holds the inner IP packet with no L2 header, as the staging ring stores it, or nothing
// at all (data_len 0) for a keepalive (paper section 6.5). The contents are not parsed: the
// caller vouches for them. On DropReason::none, m is the finished wire frame. On any other
// result m has been freed and the reason counted in ctx.counters: no_route (peer not
// declared), no_endpoint, unsupported_mbuf, too_big, no_keypair (keypair not valid for
// sending, or its nonces are exhausted), seal_failed (the AEAD engine did not seal it).
// Updates the peer's counters and send time stamps.
[[nodiscard]] DropReason encap_one(StageContext& ctx, const ForwardingState& state,
                                   std::uint32_t peer, wg::Keypair& keypair, rte_mbuf* m) noexcept;

}  // namespace strait::dp

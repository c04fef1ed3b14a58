#pragma once
// The decap stage: wire RX burst -> bridge TX burst (docs/STRAITD.md, "The fast path";
// DESIGN.md section 4). Runs on worker lcores, one burst at a time, run to completion.

#include <rte_mbuf.h>

#include <cstdint>

#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"

namespace strait::dp {

struct DecapResult {
  std::uint16_t to_bridge = 0;     // frames written to out_bridge
  std::uint16_t to_handshake = 0;  // frames written to out_handshake
  std::uint16_t to_slow_path = 0;  // frames written to out_slow
};

// Takes ownership of the n mbufs in pkts and hands each one to exactly one of four places:
//  - out_bridge: an authenticated, cryptokey-routed inner packet, reframed for the bridge
//    (Ethernet header: destination per state.bridge.mode, source state.bridge.src_mac,
//    EtherType by IP version; trimmed to the inner IP length, padding removed);
//  - out_handshake: a handshake initiation, response or cookie reply of the right length (the
//    whole wire frame, unchanged; the slow path parses it again). straitd gives these their
//    own ring, so that no other exception traffic can crowd them out;
//  - out_slow: when state.punt_non_tunnel is set, a frame that is not IP or not UDP to the
//    tunnel port (ARP/ND for a PCI wire port's address);
//  - freed: dropped, counted by DropReason in ctx.counters, or a keepalive (counted as
//    received traffic of its peer, not forwarded).
// out_bridge, out_handshake and out_slow must each have room for n pointers. Order within each
// output follows the input.
//
// Per packet, in order: single segment (unsupported_mbuf); outer headers (parse_outer's
// reasons); message type and length (msg_bad_type, msg_bad_length); receiver index
// (unknown_index); the keypair's cipher matches the message type (cipher_mismatch); keypair
// alive (keypair_expired); replay pre-check (replay). Then one AEAD open for the whole burst,
// then auth_failed, replay commit (replay: a duplicate that raced in on another lcore),
// inner IP header (inner_bad_ip), inner source in the sending peer's allowed IPs
// (inner_src_not_allowed; WireGuard paper section 2.1); then TCP MSS clamping of SYN
// segments when state.path_mtu asks for it (packet/tcp_mss.hpp).
// Per session once per burst: peer counters, last_rx_ns / last_rx_data_ns, the next-keypair
// confirmation flag, and handshake_wanted when the receive-side rekey rule fires.
//
// No allocation, locks, exceptions, logging or virtual calls. ctx.now_ns must be current.
DecapResult decap_burst(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts,
                        std::uint16_t n, rte_mbuf** out_bridge, rte_mbuf** out_handshake,
                        rte_mbuf** out_slow) noexcept;

}  // namespace strait::dp

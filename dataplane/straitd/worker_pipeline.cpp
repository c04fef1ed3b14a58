#include "straitd/worker_pipeline.hpp"

#include <rte_ethdev.h>

#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"

namespace strait::straitd {
namespace {

std::uint64_t total_bytes(rte_mbuf* const* pkts, std::uint16_t n) noexcept {
  std::uint64_t b = 0;
  for (std::uint16_t i = 0; i < n; ++i) b += rte_pktmbuf_pkt_len(pkts[i]);
  return b;
}

// TX what the stage produced; what the queue refuses is dropped (tx_failed).
void transmit(dp::LcoreCounters& c, dp::PortRole role, const dp::WorkerQueues& q, rte_mbuf** pkts,
              std::uint16_t n) noexcept {
  if (n == 0) return;
  const std::uint64_t bytes = total_bytes(pkts, n);
  const std::uint16_t sent = rte_eth_tx_burst(q.port_id, q.tx_queue, pkts, n);
  if (sent == n) {
    dp::count_tx(c, role, sent, bytes);
    return;
  }
  dp::count_tx(c, role, sent, bytes - total_bytes(pkts + sent, n - sent));
  drop_tail(c, pkts, sent, n, DropReason::tx_failed);
}

// `full` names the drop when the ring refuses some (handshake_ring_full, exception_ring_full).
void to_slow_path(dp::LcoreCounters& c, rte_ring* ring, rte_mbuf** pkts, std::uint16_t n,
                  DropReason full) noexcept {
  if (n == 0) return;
  const unsigned queued =
      rte_ring_enqueue_burst(ring, reinterpret_cast<void* const*>(pkts), n, nullptr);
  if (queued < n) drop_tail(c, pkts, static_cast<std::uint16_t>(queued), n, full);
}

}  // namespace

void drop_tail(dp::LcoreCounters& counters, rte_mbuf** pkts, std::uint16_t first, std::uint16_t n,
               DropReason why) noexcept {
  if (first >= n) return;
  rte_pktmbuf_free_bulk(pkts + first, n - first);
  dp::count_drop(counters, why, n - first);
}

std::uint32_t worker_poll(dp::WorkerContext& ctx) {
  auto& wp = *static_cast<WorkerPipeline*>(ctx.pipeline);
  dp::LcoreCounters& c = *ctx.counters;
  const dp::WorkerQueues& wire = ctx.queue(dp::PortRole::wire);
  const dp::WorkerQueues& bridge = ctx.queue(dp::PortRole::bridge);
  // Loaded once per poll; not used after this poll returns (the loop reports quiescence).
  const dp::ForwardingState* state = wp.state->load(std::memory_order_acquire);

  rte_mbuf* in[kRxBurst];
  // Room for the IPv4 fragments encap may add (encap_stage.hpp, kEncapFragmentRoom).
  rte_mbuf* out[kRxBurst + dp::kEncapFragmentRoom];
  rte_mbuf* slow[kRxBurst];
  rte_mbuf* handshakes[kRxBurst];
  rte_mbuf* back[kRxBurst];  // encap's ICMP too-big answers, back into the bridge

  unsigned handed = 0;  // to the slow path, this poll
  const std::uint16_t n_wire = rte_eth_rx_burst(wire.port_id, wire.rx_queue, in, kRxBurst);
  if (n_wire != 0) wp.stage.now_ns = monotonic_ns();
  if (n_wire != 0) {
    dp::count_rx(c, dp::PortRole::wire, n_wire, total_bytes(in, n_wire));
    if (state == nullptr) {
      drop_tail(c, in, 0, n_wire, DropReason::unknown_index);
    } else {
      const dp::DecapResult r =
          dp::decap_burst(wp.stage, *state, in, n_wire, out, handshakes, slow);
      transmit(c, dp::PortRole::bridge, bridge, out, r.to_bridge);
      to_slow_path(c, wp.handshakes, handshakes, r.to_handshake, DropReason::handshake_ring_full);
      to_slow_path(c, wp.exceptions, slow, r.to_slow_path, DropReason::exception_ring_full);
      handed += r.to_handshake + r.to_slow_path;
    }
  }

  const std::uint16_t n_bridge = rte_eth_rx_burst(bridge.port_id, bridge.rx_queue, in, kRxBurst);
  if (n_bridge != 0) {
    if (n_wire == 0) wp.stage.now_ns = monotonic_ns();
    dp::count_rx(c, dp::PortRole::bridge, n_bridge, total_bytes(in, n_bridge));
    if (state == nullptr) {
      drop_tail(c, in, 0, n_bridge, DropReason::no_route);
    } else {
      const dp::EncapResult r = dp::encap_burst(wp.stage, *state, in, n_bridge, out, slow, back);
      transmit(c, dp::PortRole::wire, wire, out, r.to_wire);
      to_slow_path(c, wp.exceptions, slow, r.to_slow_path, DropReason::exception_ring_full);
      transmit(c, dp::PortRole::bridge, bridge, back, r.to_bridge);
      handed += r.to_slow_path + r.staged;
    }
  }
  if (handed != 0 && wp.slow_path_doorbell != nullptr) wp.slow_path_doorbell->ring();
  std::uint32_t relayed = 0;
  for (std::size_t r = 0; r < dp::kPortRoleCount; ++r) {
    if (wp.relay[r] == nullptr) continue;
    const auto n = static_cast<std::uint16_t>(
        rte_ring_sc_dequeue_burst(wp.relay[r], reinterpret_cast<void**>(out), kRxBurst, nullptr));
    transmit(c, static_cast<dp::PortRole>(r), ctx.queues[r], out, n);
    relayed += n;
  }
  return static_cast<std::uint32_t>(n_wire) + n_bridge + relayed;
}

}  // namespace strait::straitd

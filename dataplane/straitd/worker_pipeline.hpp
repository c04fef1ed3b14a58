#pragma once
// One worker lcore's pipeline: the poll function that WorkerGroup runs (dpdk/worker.hpp) and
// the per-lcore objects it works with (docs/STRAITD.md, "The fast path").
//
//   wire RX ──> decap_burst ──> bridge TX           (refused by TX: freed, tx_failed)
//                    ├──> handshake ring ──> slow path  (ring full: freed, handshake_ring_full)
//                    └──> exception ring ──> slow path  (punted ARP/ND of a PCI wire port;
//                                                        ring full: freed, exception_ring_full)
//   bridge RX ─> encap_burst ─> wire TX             (refused by TX: freed, tx_failed)
//                    ├──> exception ring (ARP/ND from the bridge side)
//                    └──> bridge TX (ICMP too-big answers to oversized packets)
//   relay ring (worker 0, net_tap ports) ──> TX   (the slow path's frames)
//
// Threads: a WorkerPipeline belongs to its lcore (its AEAD engine, its StageContext); the
// publication pointer and the two rings to the slow path are shared (acquire load;
// multi-producer rings).

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>

#include "base/monotonic_clock.hpp"  // monotonic_ns: the clock of the stages and the Device
#include "crypto/aead_burst.hpp"
#include "dpdk/queue_wakeup.hpp"
#include "dpdk/worker.hpp"
#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"

namespace strait::straitd {

// Packets per RX burst (DPDK's customary 32; the stages take up to dp::kStageChunk).
inline constexpr std::uint16_t kRxBurst = 32;

struct WorkerPipeline {
  crypto::AeadEngine aead;  // this lcore's ipsec-mb manager
  dp::StageContext stage;   // aead and counters point at this lcore's own
  const std::atomic<const dp::ForwardingState*>* state = nullptr;  // Publication::pointer()
  rte_ring* handshakes = nullptr;  // handshake messages to the slow path (MPSC), served first
  rte_ring* exceptions = nullptr;  // other exception traffic to the slow path (MPSC)
  // Worker 0 only, per PortRole: frames the slow path wants sent on a port that has no
  // slow-path TX queue (net_tap, eal_plan.hpp port_queues). Single producer, single consumer.
  std::array<rte_ring*, dp::kPortRoleCount> relay{};
  // The slow path's doorbell (SlowPath::doorbell), rung once after a poll that handed it
  // anything: a handshake or exception frame, or a packet staged for a handshake.
  dp::Doorbell* slow_path_doorbell = nullptr;
};

// dp::PollFn: one wire burst and one bridge burst; returns the packets received.
std::uint32_t worker_poll(dp::WorkerContext& ctx);

// Frees mbufs [first, n) of `pkts` and counts them as dropped for `why`. Also used by the
// slow path.
void drop_tail(dp::LcoreCounters& counters, rte_mbuf** pkts, std::uint16_t first, std::uint16_t n,
               DropReason why) noexcept;

}  // namespace strait::straitd

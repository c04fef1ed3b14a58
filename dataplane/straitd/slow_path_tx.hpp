#pragma once
// The slow path's transmit side on both ports: its own TX queue (index = number of workers),
// or, for a port whose queues come in RX/TX pairs, the relay ring that worker 0 sends from
// (README.md, "Queues"). Every frame the slow path builds leaves through here.
//
// Thread: the slow-path thread's; the relay rings are single-producer (us), single-consumer
// (worker 0).

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>

#include "dpdk/counters.hpp"
#include "dpdk/port.hpp"
#include "dpdk/queue_wakeup.hpp"
#include "packet/headers.hpp"

namespace strait::straitd {

class SlowPathTx {
 public:
  // `relay` per PortRole: non-null when the port has no slow-path TX queue; `relay_doorbell`:
  // worker 0's, rung after each relayed frame (null: worker 0 does not wait when idle). The
  // ports and the counter block are only used when a frame is sent.
  SlowPathTx(const dp::Port* wire, const dp::Port* bridge, std::uint16_t tx_queue,
             std::array<rte_ring*, dp::kPortRoleCount> relay, dp::Doorbell* relay_doorbell,
             dp::LcoreCounters* counters)
      : wire_(wire),
        bridge_(bridge),
        tx_queue_(tx_queue),
        relay_(relay),
        relay_doorbell_(relay_doorbell),
        counters_(counters) {}

  // TX on the slow path's queue of `role`'s port; counts, frees what the queue refuses.
  void transmit(dp::PortRole role, rte_mbuf* m);
  // The MAC of `role`'s port: the source of the frames the slow path sends there.
  [[nodiscard]] dp::MacAddr mac(dp::PortRole role) const;

 private:
  const dp::Port* wire_;
  const dp::Port* bridge_;
  std::uint16_t tx_queue_;
  std::array<rte_ring*, dp::kPortRoleCount> relay_;
  dp::Doorbell* relay_doorbell_;
  dp::LcoreCounters* counters_;
};

}  // namespace strait::straitd

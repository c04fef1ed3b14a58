#include "straitd/slow_path_tx.hpp"

#include <rte_ethdev.h>

#include <cstring>

namespace strait::straitd {

void SlowPathTx::transmit(dp::PortRole role, rte_mbuf* m) {
  const dp::Port& port = role == dp::PortRole::wire ? *wire_ : *bridge_;
  const std::uint32_t len = rte_pktmbuf_pkt_len(m);
  if (rte_ring* relay = relay_[static_cast<std::size_t>(role)]; relay != nullptr) {
    // Worker 0 transmits it (and counts it) on its own queue.
    if (rte_ring_sp_enqueue(relay, m) != 0) {
      rte_pktmbuf_free(m);
      dp::count_drop(*counters_, DropReason::tx_failed);
    } else if (relay_doorbell_ != nullptr) {
      relay_doorbell_->ring();  // a write only when worker 0 cleared it since the last one
    }
    return;
  }
  if (rte_eth_tx_burst(port.port_id(), tx_queue_, &m, 1) == 1) {
    dp::count_tx(*counters_, role, 1, len);
  } else {
    rte_pktmbuf_free(m);
    dp::count_drop(*counters_, DropReason::tx_failed);
  }
}

dp::MacAddr SlowPathTx::mac(dp::PortRole role) const {
  const dp::Port& port = role == dp::PortRole::wire ? *wire_ : *bridge_;
  dp::MacAddr mac{};
  std::memcpy(mac.data(), port.mac().addr_bytes, mac.size());
  return mac;
}

}  // namespace strait::straitd

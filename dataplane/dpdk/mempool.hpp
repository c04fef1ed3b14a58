#pragma once
// Packet buffer pools: one rte_pktmbuf pool per NUMA socket that has ports or worker lcores,
// sized so that every descriptor ring can be full, every lcore cache can be full, and the
// pipeline can still hold its staged packets. Owned by straitd's main thread; the pools must
// outlive the ports that receive into them. The DPDK telemetry command "/strait/mempools" reports
// each live pool's size and mbufs in use (perf/soak.sh samples it).

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace strait::dp {

struct MempoolSizing {
  // Over all ports on the socket: sum of (RX queues * RX ring size + TX queues * TX ring size).
  std::uint32_t ring_descriptors = 0;
  std::uint32_t lcores = 1;        // lcores that allocate or free on this socket
  std::uint32_t cache_size = 256;  // per-lcore mempool cache (<= RTE_MEMPOOL_CACHE_MAX_SIZE)
  std::uint32_t burst_size = 32;   // packets an lcore holds in flight in its pipeline
  std::uint32_t staging = 4096;    // packets parked waiting for a handshake, slow-path rings
  std::uint16_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE;  // headroom + the largest frame
};

// The number of mbufs a pool needs for `s`. Each lcore's cache may hold up to 1.5x cache_size
// (rte_mempool's flush threshold), so that is what we reserve.
[[nodiscard]] std::uint32_t mempool_size(const MempoolSizing& s);

// Sum of ring descriptors of ports: n_rx * rx_ring + n_tx * tx_ring per port.
[[nodiscard]] std::uint32_t ring_descriptors(std::uint16_t n_rx, std::uint16_t rx_ring,
                                             std::uint16_t n_tx, std::uint16_t tx_ring);

// rte_mempool_in_use_count: mbufs allocated and not yet returned (lcore caches count as free).
// For leak checks in tests and the shutdown log; racy while lcores are running.
[[nodiscard]] std::uint32_t mempool_in_use(const rte_mempool* pool);

class PktmbufPools {
 public:
  // Creates one pool named "<name_prefix>_s<socket>" per socket in `sockets`, all sized by
  // `sizing`. Errors name the socket and the number of mbufs asked for.
  [[nodiscard]] static Result<std::unique_ptr<PktmbufPools>> create(const std::string& name_prefix,
                                                                    const std::vector<int>& sockets,
                                                                    const MempoolSizing& sizing);

  ~PktmbufPools();
  PktmbufPools(const PktmbufPools&) = delete;
  PktmbufPools& operator=(const PktmbufPools&) = delete;

  // The pool of `socket`; the first pool when the socket has none (a device reporting
  // SOCKET_ID_ANY, or a single-socket machine); never null after a successful create.
  [[nodiscard]] rte_mempool* for_socket(int socket) const;
  [[nodiscard]] std::uint32_t mbufs_per_pool() const { return mbufs_per_pool_; }
  // Every pool, by socket (metrics).
  [[nodiscard]] const std::vector<std::pair<int, rte_mempool*>>& all() const { return pools_; }

 private:
  PktmbufPools() = default;
  std::vector<std::pair<int, rte_mempool*>> pools_;
  std::uint32_t mbufs_per_pool_ = 0;
};

}  // namespace strait::dp

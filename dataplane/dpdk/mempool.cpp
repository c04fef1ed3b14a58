#include "dpdk/mempool.hpp"

#include <rte_errno.h>
#include <rte_mbuf.h>

#include <algorithm>

namespace strait::dp {

std::uint32_t ring_descriptors(std::uint16_t n_rx, std::uint16_t rx_ring, std::uint16_t n_tx,
                               std::uint16_t tx_ring) {
  return static_cast<std::uint32_t>(n_rx) * rx_ring + static_cast<std::uint32_t>(n_tx) * tx_ring;
}

std::uint32_t mempool_size(const MempoolSizing& s) {
  std::uint32_t per_lcore = s.cache_size + s.cache_size / 2 + s.burst_size;
  std::uint32_t n = s.ring_descriptors + s.lcores * per_lcore + s.staging;
  // A pool of 2^k - 1 elements uses its backing ring best (rte_mempool_create's advice).
  std::uint32_t pow2 = 1;
  while (pow2 - 1 < n) pow2 <<= 1;
  return pow2 - 1;
}

std::uint32_t mempool_in_use(const rte_mempool* pool) {
  return rte_mempool_in_use_count(pool);
}

Result<std::unique_ptr<PktmbufPools>> PktmbufPools::create(const std::string& name_prefix,
                                                           const std::vector<int>& sockets,
                                                           const MempoolSizing& sizing) {
  if (sockets.empty()) return Error{"mempool: no NUMA socket given"};
  std::unique_ptr<PktmbufPools> pools(new PktmbufPools());
  pools->mbufs_per_pool_ = mempool_size(sizing);
  std::uint32_t cache = std::min<std::uint32_t>(sizing.cache_size, RTE_MEMPOOL_CACHE_MAX_SIZE);
  for (int socket : sockets) {
    if (std::any_of(pools->pools_.begin(), pools->pools_.end(),
                    [&](const auto& p) { return p.first == socket; })) {
      continue;
    }
    // rte_mempool names are at most RTE_MEMPOOL_NAMESIZE - 1 characters.
    std::string name = name_prefix + "_s" + std::to_string(socket);
    if (name.size() >= RTE_MEMPOOL_NAMESIZE) {
      return Error{"mempool name '" + name + "' longer than " +
                   std::to_string(RTE_MEMPOOL_NAMESIZE - 1) + " characters"};
    }
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), pools->mbufs_per_pool_, cache, 0,
                                              sizing.data_room, socket);
    if (mp == nullptr) {
      return Error{"cannot create mbuf pool " + name + " of " +
                   std::to_string(pools->mbufs_per_pool_) + " mbufs on socket " +
                   std::to_string(socket) + ": " + rte_strerror(rte_errno) +
                   " (more hugepages on that socket, or -m/--socket-mem)"};
    }
    pools->pools_.emplace_back(socket, mp);
  }
  return pools;
}

PktmbufPools::~PktmbufPools() {
  for (auto& [socket, mp] : pools_) rte_mempool_free(mp);
}

rte_mempool* PktmbufPools::for_socket(int socket) const {
  for (const auto& [s, mp] : pools_) {
    if (s == socket) return mp;
  }
  return pools_.empty() ? nullptr : pools_.front().second;
}

}  // namespace strait::dp

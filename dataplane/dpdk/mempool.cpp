#include "dpdk/mempool.hpp"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <mutex>

namespace strait::dp {

namespace {

// The live pools of the process, for the "/strait/mempools" telemetry command (DPDK's own
// /mempool/info has no counts in 22.11). The telemetry thread reads under the mutex; create
// and the destructor change the list under it, so a pool is never read after it was freed.
std::mutex g_pools_mutex;
std::vector<rte_mempool*> g_pools;  // guarded by g_pools_mutex
bool g_pools_registered = false;    // guarded by g_pools_mutex

// {"<pool>_size": N, "<pool>_in_use": N} per pool; in use as mempool_in_use counts it.
int mempools_telemetry(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  std::lock_guard lock(g_pools_mutex);
  for (const rte_mempool* mp : g_pools) {
    const std::string name(mp->name);
    rte_tel_data_add_dict_u64(d, (name + "_size").c_str(), mp->size);
    rte_tel_data_add_dict_u64(d, (name + "_in_use").c_str(), mempool_in_use(mp));
  }
  return 0;
}

void track_pool(rte_mempool* mp) {
  std::lock_guard lock(g_pools_mutex);
  g_pools.push_back(mp);
  if (!g_pools_registered) {
    // Fails only without the EAL's telemetry (--no-telemetry): then there is nothing to serve.
    g_pools_registered =
        rte_telemetry_register_cmd(
            "/strait/mempools", mempools_telemetry,
            "Mbufs in use and pool size of each straitd packet pool. No parameters") == 0;
  }
}

void untrack_pool(rte_mempool* mp) {
  std::lock_guard lock(g_pools_mutex);
  g_pools.erase(std::remove(g_pools.begin(), g_pools.end(), mp), g_pools.end());
}

}  // namespace

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

std::uint32_t mempool_in_use(const rte_mempool* pool) { return rte_mempool_in_use_count(pool); }

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
    track_pool(mp);
  }
  return pools;
}

PktmbufPools::~PktmbufPools() {
  for (auto& [socket, mp] : pools_) {
    untrack_pool(mp);
    rte_mempool_free(mp);
  }
}

rte_mempool* PktmbufPools::for_socket(int socket) const {
  for (const auto& [s, mp] : pools_) {
    if (s == socket) return mp;
  }
  return pools_.empty() ? nullptr : pools_.front().second;
}

}  // namespace strait::dp

#pragma once
// straitd's own /metrics and /healthz (README.md, "Metrics"): the health of the data plane
// that only straitd can see. Ports (packets, bytes, imissed, rx_nombuf, errors), each lcore's
// polls, idle time and busy fraction, the mbuf pools, drops by reason (every reason of
// drop_reasons.def, XDP included), peers and sessions, and strait_build_info.
//
// Per-peer series are not here: straitd knows a peer only by its public key; strait-agent
// exports them with the spec's names (peer_cluster, peer_node; control/README.md, "Metrics").
//
// Threads: Collect() and health() run on the HTTP endpoint's threads, never on a worker. They
// read what is safe to read from any thread: ethdev statistics and link state (as DPDK's own
// telemetry thread does), the counter blocks (relaxed loads), mempool counts; and the device's
// state over the UAPI socket, which is the slow path's, so a UAPI answer also proves the slow
// path alive.

#include <prometheus/collectable.h>
#include <rte_mempool.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "dpdk/counters.hpp"
#include "observability/http_endpoint.hpp"

namespace strait::straitd {

struct DataplaneSources {
  struct PortRef {
    std::string role;  // "wire", "bridge"
    std::uint16_t port_id = 0;
  };
  std::vector<PortRef> ports;
  const dp::CounterSet* counters = nullptr;  // one block per worker, the last the slow path's
  std::vector<unsigned> lcores;              // lcore of each block, in the same order
  std::vector<std::pair<int, rte_mempool*>> pools;  // by socket
  std::string uapi_socket;
};

class DataplaneMetrics : public prometheus::Collectable {
 public:
  explicit DataplaneMetrics(DataplaneSources sources) : src_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Ready: every port's link is up and the slow path answers a UAPI get within 1 s.
  [[nodiscard]] observe::Health health() const;

 private:
  DataplaneSources src_;
  // For the busy fraction: each block's idle time at the previous scrape (any scraper).
  mutable std::mutex mu_;
  mutable std::vector<std::uint64_t> last_idle_us_;  // guarded by mu_
  mutable std::chrono::steady_clock::time_point last_at_{};
};

}  // namespace strait::straitd

#pragma once
// Prometheus metrics of the mesh as the local straitd sees it (per peer, with the spec's names
// for it: peer_cluster, peer_node), and of the agent's own work; served with /healthz by the
// shared HTTP endpoint (dataplane/observability, prometheus-cpp).
//
// Per-peer series live here, not in straitd: the agent knows each peer's cluster and node from
// the spec, straitd only its public key. straitd's /metrics has the device-wide series.
//
// Threads: the agent's loop publishes a MetricsSnapshot (set_snapshot) after every reconcile;
// the endpoint's threads build families from the latest one per scrape. The snapshot is the
// only shared state, guarded by one mutex.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "observability/http_endpoint.hpp"
#include "uapi/model.hpp"

namespace strait::ctl {

struct PeerLabels {
  std::string cluster;
  std::string node;
};

struct AgentCounters {
  std::uint64_t reconcile_total = 0;
  std::map<std::string, std::uint64_t> reconcile_errors;  // by what: spec, uapi, flows, routes
  std::uint64_t spec_generation = 0;                      // valid specs applied so far
  std::uint64_t spec_rejected = 0;
};

// The XDP program on one straitd wire interface (ebpf/), from its pinned maps.
struct XdpStats {
  std::string iface;
  std::vector<std::uint64_t> drops;     // by DropReason (drop_reasons.def)
  std::vector<std::uint64_t> verdicts;  // by strait_xdp_verdict (ebpf/strait_xdp.h)
};

struct MetricsSnapshot {
  std::optional<uapi::DeviceState> device;  // absent until straitd answered once
  std::map<Key, PeerLabels> labels;         // peers of the spec; other peers are not exported
  AgentCounters counters;
  std::vector<XdpStats> xdp;  // one per /sys/fs/bpf/strait/<iface>/ the agent could read
  // When the last reconcile that succeeded entirely ended (steady clock); for /healthz.
  std::optional<std::chrono::steady_clock::time_point> last_success;
  std::chrono::milliseconds resync_interval{5000};
};

// The exposition text (format 0.0.4) of a snapshot, as /metrics serves it. A peer that never
// completed a handshake has no strait_peer_last_handshake_timestamp_seconds series.
[[nodiscard]] std::string render_metrics(const MetricsSnapshot& s);

// /healthz: healthy when the last full success is younger than 3 resync intervals.
[[nodiscard]] bool healthy(const MetricsSnapshot& s, std::chrono::steady_clock::time_point now);

class SnapshotCollectable;

class MetricsServer {
 public:
  // Binds "127.0.0.1:9477" or "[::1]:9477" (port 0 picks a free one: see port()).
  [[nodiscard]] static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void set_snapshot(MetricsSnapshot s);
  [[nodiscard]] std::uint16_t port() const { return endpoint_->port(); }

 private:
  MetricsServer() = default;

  std::shared_ptr<SnapshotCollectable> collectable_;  // owns the snapshot and its mutex
  std::unique_ptr<observe::HttpEndpoint> endpoint_;
};

}  // namespace strait::ctl

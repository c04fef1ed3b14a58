#include "control/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "base/drop_reason.hpp"
#include "observability/build_version.hpp"
#include "observability/metric_families.hpp"

namespace strait::ctl {

namespace {

using observe::Labels;
using prometheus::MetricFamily;
using prometheus::MetricType;

// peer_cluster/peer_node, not cluster/node: those would clash with the scrape target's own
// labels (Prometheus renames them exported_*).
Labels peer_labels(const PeerLabels& l) {
  return {{"peer_cluster", l.cluster}, {"peer_node", l.node}};
}

std::vector<MetricFamily> families(const MetricsSnapshot& s) {
  std::vector<MetricFamily> out;
  observe::add_series(
      observe::add_family(out, "strait_build_info",
                          "Version and git commit of this strait-agent (value 1).",
                          MetricType::Gauge),
      {{"component", "strait-agent"}, {"version", STRAIT_VERSION}, {"commit", STRAIT_COMMIT}}, 1);
  // Spec peers present on the device, in the order the device lists them.
  std::vector<std::pair<const uapi::PeerState*, const PeerLabels*>> peers;
  if (s.device) {
    for (const auto& p : s.device->peers) {
      const auto it = s.labels.find(p.public_key);
      if (it != s.labels.end()) peers.emplace_back(&p, &it->second);
    }
  }

  // A Unix time, as WireGuard exporters do: alerts compute the age with time().
  auto& hs = observe::add_family(out, "strait_peer_last_handshake_timestamp_seconds",
                                 "Unix time of the last completed handshake with the peer.",
                                 MetricType::Gauge);
  for (const auto& [p, l] : peers) {
    if (p->last_handshake_sec == 0 && p->last_handshake_nsec == 0) continue;
    observe::add_series(hs, peer_labels(*l),
                        static_cast<double>(p->last_handshake_sec) +
                            static_cast<double>(p->last_handshake_nsec) * 1e-9);
  }
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t uapi::PeerState::*field;
  };
  for (const Counter& c : {
           Counter{"strait_peer_rx_bytes_total", "Bytes received from the peer.",
                   &uapi::PeerState::rx_bytes},
           Counter{"strait_peer_tx_bytes_total", "Bytes sent to the peer.",
                   &uapi::PeerState::tx_bytes},
           Counter{"strait_peer_rx_packets_total", "Packets received from the peer.",
                   &uapi::PeerState::rx_packets},
           Counter{"strait_peer_tx_packets_total", "Packets sent to the peer.",
                   &uapi::PeerState::tx_packets},
       }) {
    auto& f = observe::add_family(out, c.name, c.help, MetricType::Counter);
    for (const auto& [p, l] : peers)
      observe::add_series(f, peer_labels(*l), static_cast<double>(p->*c.field));
  }
  auto& peer_drops =
      observe::add_family(out, "strait_peer_drops_total", "Packets of the peer dropped, by reason.",
                          MetricType::Counter);
  for (const auto& [p, l] : peers) {
    for (const auto& [reason, n] : p->drops) {
      Labels labels = peer_labels(*l);
      labels.push_back({"reason", reason});
      observe::add_series(peer_drops, std::move(labels), static_cast<double>(n));
    }
  }

  // Every known reason appears (at 0 until it happens), so that rate() works from the start.
  auto& drops = observe::add_family(out, "strait_drops_total",
                                    "Packets dropped by straitd (and its XDP program), by reason.",
                                    MetricType::Counter);
  if (s.device) {
    std::map<std::string, std::uint64_t> by_reason;
    for (std::size_t i = 1; i < kDropReasonCount; ++i)
      by_reason[std::string(kDropReasonNames[i])] = 0;
    for (const auto& [reason, n] : s.device->drops) by_reason[reason] = n;
    for (const auto& [reason, n] : by_reason)
      observe::add_series(drops, {{"reason", reason}}, static_cast<double>(n));
  }

  // The XDP program's share of the drops above (strait_drops_total counts both layers), and
  // its verdicts (ebpf/README.md, "Maps").
  auto& xdp_drops =
      observe::add_family(out, "strait_xdp_drops_total",
                          "Packets the XDP program on straitd's wire interface dropped, by reason.",
                          MetricType::Counter);
  for (const XdpStats& x : s.xdp) {
    for (std::size_t i = 1; i < x.drops.size() && i < kDropReasonCount; ++i) {
      observe::add_series(xdp_drops,
                          {{"iface", x.iface}, {"reason", std::string(kDropReasonNames[i])}},
                          static_cast<double>(x.drops[i]));
    }
  }
  auto& verdicts =
      observe::add_family(out, "strait_xdp_verdicts_total",
                          "Packets the XDP program passed to the kernel or redirected to straitd.",
                          MetricType::Counter);
  static constexpr const char* kVerdictNames[] = {"pass_not_tunnel", "pass_unconfigured",
                                                  "tunnel_accepted", "tunnel_redirected",
                                                  "tunnel_no_socket"};
  for (const XdpStats& x : s.xdp) {
    for (std::size_t i = 0; i < x.verdicts.size() && i < std::size(kVerdictNames); ++i) {
      observe::add_series(verdicts, {{"iface", x.iface}, {"verdict", kVerdictNames[i]}},
                          static_cast<double>(x.verdicts[i]));
    }
  }

  auto& reconciles = observe::add_family(out, "strait_agent_reconcile_total",
                                         "Reconcile passes run.", MetricType::Counter);
  observe::add_series(reconciles, {}, static_cast<double>(s.counters.reconcile_total));
  auto& errors =
      observe::add_family(out, "strait_agent_reconcile_errors_total",
                          "Reconcile steps that failed, by what failed.", MetricType::Counter);
  for (const char* what : {"spec", "uapi", "flows", "routes"}) {
    const auto it = s.counters.reconcile_errors.find(what);
    observe::add_series(
        errors, {{"what", what}},
        static_cast<double>(it == s.counters.reconcile_errors.end() ? 0 : it->second));
  }
  auto& applied =
      observe::add_family(out, "strait_agent_specs_applied_total",
                          "Valid mesh specs loaded and applied so far.", MetricType::Counter);
  observe::add_series(applied, {}, static_cast<double>(s.counters.spec_generation));
  auto& rejected = observe::add_family(out, "strait_agent_spec_rejected_total",
                                       "Mesh specs refused as invalid.", MetricType::Counter);
  observe::add_series(rejected, {}, static_cast<double>(s.counters.spec_rejected));
  return out;
}

}  // namespace

// The latest snapshot, turned into families on every scrape (on the endpoint's threads).
class SnapshotCollectable : public prometheus::Collectable {
 public:
  void set(MetricsSnapshot s) {
    std::lock_guard lock(mu_);
    snapshot_ = std::move(s);
  }
  MetricsSnapshot get() const {
    std::lock_guard lock(mu_);
    return snapshot_;
  }
  std::vector<MetricFamily> Collect() const override { return families(get()); }

 private:
  mutable std::mutex mu_;
  MetricsSnapshot snapshot_;  // guarded by mu_
};

std::string render_metrics(const MetricsSnapshot& s) {
  return prometheus::TextSerializer().Serialize(families(s));
}

bool healthy(const MetricsSnapshot& s, std::chrono::steady_clock::time_point now) {
  return s.last_success && now - *s.last_success <= 3 * s.resync_interval;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen) {
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  m->collectable_ = std::make_shared<SnapshotCollectable>();
  auto endpoint = observe::HttpEndpoint::start(
      listen, [c = std::weak_ptr<SnapshotCollectable>(m->collectable_)]() -> observe::Health {
        const auto snapshot = c.lock();
        if (snapshot && healthy(snapshot->get(), std::chrono::steady_clock::now())) {
          return {true, "ok"};
        }
        return {false, "no successful reconcile within 3 resync intervals"};
      });
  if (!endpoint) return endpoint.error();
  m->endpoint_ = std::move(*endpoint);
  m->endpoint_->serve_metrics(m->collectable_);
  return m;
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::set_snapshot(MetricsSnapshot s) { collectable_->set(std::move(s)); }

}  // namespace strait::ctl

#include "straitd/dataplane_metrics.hpp"

#include <rte_ethdev.h>

#include <map>
#include <tuple>

#include "observability/build_version.hpp"
#include "observability/metric_families.hpp"
#include "uapi/client.hpp"

namespace strait::straitd {

namespace {

using observe::add_family;
using observe::add_series;
using observe::Labels;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr auto kUapiTimeout = std::chrono::seconds(1);

}  // namespace

std::vector<MetricFamily> DataplaneMetrics::Collect() const {
  std::vector<MetricFamily> out;
  add_series(add_family(out, "strait_build_info",
                        "Version and git commit of this straitd (value 1).", MetricType::Gauge),
             {{"component", "straitd"}, {"version", STRAIT_VERSION}, {"commit", STRAIT_COMMIT}}, 1);

  // Ports, from the driver (rte_eth_stats): what reached or left the NIC, and what it lost.
  struct PortCounter {
    const char* name;
    const char* help;
    std::uint64_t rte_eth_stats::*field;
  };
  std::vector<std::pair<std::string, rte_eth_stats>> port_stats;
  for (const auto& p : src_.ports) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(p.port_id, &st) == 0) port_stats.emplace_back(p.role, st);
  }
  for (const PortCounter& c : {
           PortCounter{"strait_port_rx_packets_total", "Packets the port received.",
                       &rte_eth_stats::ipackets},
           PortCounter{"strait_port_tx_packets_total", "Packets the port sent.",
                       &rte_eth_stats::opackets},
           PortCounter{"strait_port_rx_bytes_total", "Bytes the port received.",
                       &rte_eth_stats::ibytes},
           PortCounter{"strait_port_tx_bytes_total", "Bytes the port sent.",
                       &rte_eth_stats::obytes},
           PortCounter{"strait_port_rx_missed_total",
                       "Packets the NIC dropped because no RX descriptor was free (imissed: "
                       "the workers did not keep up).",
                       &rte_eth_stats::imissed},
           PortCounter{"strait_port_rx_nombuf_total",
                       "RX mbuf allocation failures (rx_nombuf: the pool ran dry).",
                       &rte_eth_stats::rx_nombuf},
           PortCounter{"strait_port_rx_errors_total", "Erroneous packets received.",
                       &rte_eth_stats::ierrors},
           PortCounter{"strait_port_tx_errors_total", "Packets the port failed to send.",
                       &rte_eth_stats::oerrors},
       }) {
    auto& f = add_family(out, c.name, c.help, MetricType::Counter);
    for (const auto& [role, st] : port_stats)
      add_series(f, {{"port", role}}, static_cast<double>(st.*c.field));
  }
  auto& link =
      add_family(out, "strait_port_link_up", "1 when the port's link is up.", MetricType::Gauge);
  for (const auto& p : src_.ports) {
    rte_eth_link l{};
    const bool up = rte_eth_link_get_nowait(p.port_id, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
    add_series(link, {{"port", p.role}}, up ? 1 : 0);
  }

  // Lcores: one counter block each (dpdk/counters.hpp).
  auto& polls = add_family(out, "strait_lcore_polls_total", "Run-loop iterations of the lcore.",
                           MetricType::Counter);
  auto& idle =
      add_family(out, "strait_lcore_idle_seconds_total",
                 "Time the lcore slept because its queues were empty (0 with --busy-poll).",
                 MetricType::Counter);
  auto& busy =
      add_family(out, "strait_lcore_busy_ratio",
                 "Fraction of wall time the lcore did not sleep since the previous scrape.",
                 MetricType::Gauge);
  std::array<std::uint64_t, kDropReasonCount> drops{};
  if (src_.counters != nullptr) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    const double wall_us = std::chrono::duration<double, std::micro>(now - last_at_).count();
    const bool have_previous = last_idle_us_.size() == src_.counters->size();
    if (!have_previous) last_idle_us_.assign(src_.counters->size(), 0);
    for (unsigned i = 0; i < src_.counters->size(); ++i) {
      const dp::CounterTotals t = dp::read_counters(src_.counters->block(i));
      const bool slow = i + 1 == src_.counters->size();
      Labels labels{{"lcore", i < src_.lcores.size() ? std::to_string(src_.lcores[i]) : "?"},
                    {"role", slow ? "slow_path" : "worker"}};
      add_series(polls, labels, static_cast<double>(t.polls));
      add_series(idle, labels, static_cast<double>(t.idle_sleep_us) * 1e-6);
      if (have_previous && wall_us > 0 && !slow) {
        const double slept = static_cast<double>(t.idle_sleep_us - last_idle_us_[i]);
        add_series(busy, labels, std::clamp(1.0 - slept / wall_us, 0.0, 1.0));
      }
      last_idle_us_[i] = t.idle_sleep_us;
      for (std::size_t r = 0; r < kDropReasonCount; ++r) drops[r] += t.drops[r];
    }
    last_at_ = now;
  }

  auto& in_use = add_family(out, "strait_mempool_mbufs_in_use",
                            "Mbufs allocated from the pool and not returned (lcore caches count as "
                            "free).",
                            MetricType::Gauge);
  auto& size = add_family(out, "strait_mempool_mbufs", "Mbufs in the pool.", MetricType::Gauge);
  for (const auto& [socket, pool] : src_.pools) {
    Labels labels{{"pool", pool->name}, {"socket", std::to_string(socket)}};
    add_series(in_use, labels, static_cast<double>(rte_mempool_in_use_count(pool)));
    add_series(size, labels, static_cast<double>(pool->size));
  }

  // The device, over the UAPI: drops by reason as `wg`-side tools see them (workers, slow path,
  // the device and the XDP program), peers and sessions. Without an answer: strait_uapi_up 0
  // and the lcore blocks' drops alone.
  std::optional<uapi::DeviceState> device;
  if (auto c = uapi::UapiClient::connect(src_.uapi_socket, kUapiTimeout)) {
    if (auto d = c.value().get()) device = std::move(d.value());
  }
  add_series(
      add_family(out, "strait_uapi_up", "1 when the slow path answered a UAPI get for this scrape.",
                 MetricType::Gauge),
      {}, device ? 1 : 0);
  std::map<std::string, double> by_reason;
  for (std::size_t r = 1; r < kDropReasonCount; ++r) {
    by_reason[std::string(kDropReasonNames[r])] = static_cast<double>(drops[r]);
  }
  if (device) {
    for (const auto& [reason, n] : device->drops) by_reason[reason] = static_cast<double>(n);
  }
  auto& d =
      add_family(out, "strait_drops_total",
                 "Packets straitd (and its XDP program) dropped, by reason (drop_reasons.def).",
                 MetricType::Counter);
  for (const auto& [reason, n] : by_reason) add_series(d, {{"reason", reason}}, n);
  if (device) {
    add_series(add_family(out, "strait_peers", "Peers configured.", MetricType::Gauge), {},
               static_cast<double>(device->peers.size()));
    double handshaken = 0;
    for (const auto& p : device->peers) {
      if (p.last_handshake_sec != 0 || p.last_handshake_nsec != 0) ++handshaken;
    }
    add_series(add_family(out, "strait_peers_handshaken",
                          "Peers with at least one completed handshake since they were configured.",
                          MetricType::Gauge),
               {}, handshaken);

    // Handshake and cookie messages of the slow path's device (uapi/model.hpp
    // HandshakeCounters): a responder flooded with initiations, or answering with cookies
    // (under load), shows here before its peers' sessions expire.
    const uapi::HandshakeCounters& h = device->handshakes;
    auto& msgs = add_family(out, "strait_handshake_messages_total",
                            "Handshake messages the device received (valid or not) and sent, "
                            "by type.",
                            MetricType::Counter);
    for (const auto& [direction, type, n] : {
             std::tuple{"received", "initiation", h.initiations_received},
             std::tuple{"sent", "initiation", h.initiations_sent},
             std::tuple{"received", "response", h.responses_received},
             std::tuple{"sent", "response", h.responses_sent},
             std::tuple{"received", "cookie_reply", h.cookie_replies_received},
             std::tuple{"sent", "cookie_reply", h.cookie_replies_sent},
         }) {
      add_series(msgs, {{"direction", direction}, {"type", type}}, static_cast<double>(n));
    }
    add_series(add_family(out, "strait_handshakes_completed_total",
                          "Handshakes completed (a session both ends hold keys for).",
                          MetricType::Counter),
               {}, static_cast<double>(h.completed));
    add_series(add_family(out, "strait_under_load",
                          "1 while the handshake queue is under load (initiations need a cookie).",
                          MetricType::Gauge),
               {}, device->under_load ? 1 : 0);
  }
  return out;
}

observe::Health DataplaneMetrics::health() const {
  for (const auto& p : src_.ports) {
    rte_eth_link l{};
    if (rte_eth_link_get_nowait(p.port_id, &l) != 0 || l.link_status != RTE_ETH_LINK_UP) {
      return {false, p.role + " port link down"};
    }
  }
  auto c = uapi::UapiClient::connect(src_.uapi_socket, kUapiTimeout);
  if (!c) return {false, "slow path: UAPI " + src_.uapi_socket + ": " + c.error().message};
  if (auto d = c.value().get(); !d) return {false, "slow path: UAPI get: " + d.error().message};
  return {true, "ok"};
}

}  // namespace strait::straitd

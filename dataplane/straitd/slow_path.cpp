#include "straitd/slow_path.hpp"

#include <poll.h>
#include <rte_lcore.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "packet/outer_parse.hpp"
#include "packet/tcp_mss.hpp"
#include "straitd/eal_plan.hpp"
#include "straitd/slow_path_frames.hpp"
#include "straitd/worker_pipeline.hpp"

namespace strait::straitd {
namespace {

using dp::PortRole;

constexpr unsigned kExceptionBurst = 64;
constexpr unsigned kMaxExceptionsPerIteration = 1024;

uapi::Endpoint endpoint_of(const dp::OuterInfo& info) {
  uapi::Endpoint e;
  e.family = info.is_ipv6 ? 6 : 4;
  std::memcpy(e.addr.data(), info.src_ip(), info.ip_addr_len());
  e.port = dp::be16_to_cpu(info.src_port_be);
  return e;
}

void merge_drops(uapi::DropCounters& into, std::string_view name, std::uint64_t n) {
  if (n == 0) return;
  for (auto& [k, v] : into) {
    if (k == name) {
      v += n;
      return;
    }
  }
  into.emplace_back(std::string(name), n);
}

}  // namespace

SlowPath::SlowPath(SlowPathConfig config)
    : cfg_(std::move(config)),
      device_(rng_, aead_),
      tx_(cfg_.wire, cfg_.bridge, cfg_.tx_queue, cfg_.relay, cfg_.relay_doorbell, cfg_.counters),
      wire_(*cfg_.options, tx_, cfg_.pool, cfg_.counters, [this] { dirty_ = true; }),
      plumbing_(cfg_.bridge, tx_, cfg_.counters, aead_) {}

SlowPath::~SlowPath() = default;

wg::Time SlowPath::now() const { return wg::Time(monotonic_ns()); }

strait::Result<void> SlowPath::start(const std::optional<strait::Key>& private_key) {
  if (cfg_.options == nullptr || cfg_.wire == nullptr || cfg_.bridge == nullptr ||
      cfg_.pool == nullptr || cfg_.handshakes == nullptr || cfg_.exceptions == nullptr ||
      cfg_.counters == nullptr || cfg_.all_counters == nullptr || cfg_.publication == nullptr) {
    return strait::Error{
        "the slow path needs its options, both ports, a mempool, the handshake and "
        "exception rings, its counters and a publication"};
  }
  uapi::DeviceChange initial;
  initial.listen_port = cfg_.options->listen_port;
  if (private_key) initial.private_key = *private_key;
  if (auto applied = device_.apply(initial, now()); !applied) {
    return Error{"the initial configuration was refused: " + applied.error().message};
  }
  tunnel_port_ = device_.listen_port();
  if (private_key) {
    spdlog::info("private key loaded from {}", cfg_.options->private_key_file);
  } else {
    spdlog::info("no private key yet: set one with `wg set {} private-key FILE`",
                 cfg_.options->ifname);
  }
  try {
    republish();
  } catch (const std::exception& e) {
    return strait::Error{std::string("cannot build the first forwarding state: ") + e.what()};
  }
  return {};
}

// ---- the loop ----

void SlowPath::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    // Cleared before looking at the rings: a worker's ring after this wakes the poll below.
    (void)doorbell_.clear();
    const std::int64_t t = monotonic_ns();
    drain_exceptions(t);
    observe_workers(t);
    if (auto d = device_.next_deadline(); d && d->count() <= t) device_.tick(wg::Time(t), *this);
    plumbing_.flush_staged(device_, cfg_.publication->current(), t);
    if (wire_.has_pending() || unresolved_endpoints_) retry_pending(t);
    wire_.expire_neighbours(t);
    if (dirty_) {
      try {
        republish();
      } catch (const std::exception& e) {
        // A bug, not an input: keep the previous snapshot and say so once per change.
        spdlog::error("cannot build the forwarding state, keeping the previous one: {}", e.what());
        dirty_ = false;
      }
    }
    const bool retired_pending = cfg_.publication->reclaim() != 0;

    std::array<pollfd, 2> p{pollfd{cfg_.uapi->fd(), POLLIN, 0}, pollfd{doorbell_.fd(), POLLIN, 0}};
    const int ready = ::poll(p.data(), p.size(), poll_timeout_ms(t, retired_pending));
    if (ready > 0 && (p[0].revents & POLLIN) != 0) cfg_.uapi->service(*this);
  }
}

int SlowPath::poll_timeout_ms(std::int64_t now_ns, bool retired_pending) const {
  if (busy_ || dirty_) return 0;
  // The rings are not descriptors, but the workers ring the doorbell after handing work over
  // (a handshake, an exception frame, a staged packet). What is left is due on a clock: the
  // Device's timers; a retired snapshot's grace period and next hops being resolved, looked
  // at every millisecond; and the rest of observe_workers (data stamps, the send-side rekey
  // flag, keypair confirmation), which tolerates 100 ms against the paper's seconds.
  constexpr std::int64_t kMs = 1'000'000;
  std::int64_t wait_ns = 100 * kMs;
  if (retired_pending || wire_.has_pending() || unresolved_endpoints_) wait_ns = kMs;
  if (auto d = device_.next_deadline()) wait_ns = std::min(wait_ns, d->count() - now_ns);
  if (wait_ns <= 0) return 0;
  return static_cast<int>((wait_ns + kMs - 1) / kMs);  // rounded up: never early, never spin
}

void SlowPath::drain_exceptions(std::int64_t now_ns) {
  // Handshakes first: a flood of ARP/ND or punted frames must not delay them (issue 11).
  const unsigned handled = drain_handshakes(now_ns) + drain_other_exceptions(now_ns);
  busy_ = handled != 0;
}

unsigned SlowPath::drain_handshakes(std::int64_t now_ns) {
  rte_mbuf* burst[kExceptionBurst];
  const unsigned capacity = rte_ring_get_capacity(cfg_.handshakes);
  unsigned total = 0;
  while (true) {
    // Under load (paper section 5.3; under_load.hpp): decided before every burst from what
    // still waits, so a flood is seen within 64 messages, and held for a second.
    device_.observe_handshake_queue(rte_ring_count(cfg_.handshakes), capacity, wg::Time(now_ns));
    if (total >= kMaxExceptionsPerIteration) break;
    const unsigned n = rte_ring_dequeue_burst(cfg_.handshakes, reinterpret_cast<void**>(burst),
                                              kExceptionBurst, nullptr);
    if (n == 0) break;
    total += n;
    for (unsigned i = 0; i < n; ++i) handle_wire_exception(burst[i], now_ns);
  }
  return total;
}

unsigned SlowPath::drain_other_exceptions(std::int64_t now_ns) {
  rte_mbuf* burst[kExceptionBurst];
  unsigned total = 0;
  while (total < kMaxExceptionsPerIteration) {
    const unsigned n = rte_ring_dequeue_burst(cfg_.exceptions, reinterpret_cast<void**>(burst),
                                              kExceptionBurst, nullptr);
    if (n == 0) break;
    total += n;
    for (unsigned i = 0; i < n; ++i) {
      if (burst[i]->port == cfg_.bridge->port_id()) {
        handle_bridge_exception(burst[i]);
      } else {
        handle_wire_exception(burst[i], now_ns);
      }
    }
  }
  return total;
}

void SlowPath::handle_wire_exception(rte_mbuf* m, std::int64_t now_ns) {
  const auto* frame = rte_pktmbuf_mtod(m, const std::uint8_t*);
  dp::OuterInfo info{};
  const DropReason r =
      dp::parse_outer(frame, rte_pktmbuf_data_len(m), dp::cpu_to_be16(tunnel_port_), info);
  if (r == DropReason::none) {
    uapi::Endpoint from = endpoint_of(info);
    // Answers go back the way the frame came (send_datagram): a cookie reply to a spoofed
    // source must cost no neighbour resolution and leave no cache entry (issue 11).
    dp::MacAddr l2_source{};
    std::memcpy(l2_source.data(), frame + 6, l2_source.size());
    wire_.begin_answer(from, l2_source);
    device_.receive(std::span<const std::uint8_t>(frame + info.payload_offset, info.payload_len),
                    from, wg::Time(now_ns), *this);
    wire_.end_answer();
    rte_pktmbuf_free(m);
    return;
  }
  // Punted non-tunnel traffic of a PCI wire port: ARP/ND for our wire address.
  const Options& o = *cfg_.options;
  const bool answered = answer_neighbour_request(
      m, tx_.mac(PortRole::wire), [&o](const std::uint8_t* addr, bool is_ipv6) {
        if (is_ipv6) return o.wire_ipv6 && std::memcmp(o.wire_ipv6->data(), addr, 16) == 0;
        return o.wire_ipv4 && std::memcmp(o.wire_ipv4->data() + 12, addr, 4) == 0;
      });
  if (answered) {
    tx_.transmit(PortRole::wire, m);
  } else {
    rte_pktmbuf_free(m);
    dp::count_drop(*cfg_.counters, r);
  }
}

void SlowPath::handle_bridge_exception(rte_mbuf* m) {
  // The bridge side resolves addresses routed through the tunnel to our bridge MAC, so that
  // its IP stack (or OVS) sends those packets to us.
  const dp::ForwardingState* state = cfg_.publication->current();
  const bool answered =
      state != nullptr &&
      answer_neighbour_request(m, tx_.mac(PortRole::bridge),
                               [state](const std::uint8_t* addr, bool is_ipv6) {
                                 return dp::lookup_route(*state->routes, is_ipv6, addr).has_value();
                               });
  if (answered) {
    tx_.transmit(PortRole::bridge, m);
  } else {
    rte_pktmbuf_free(m);
  }
}

void SlowPath::observe_workers(std::int64_t now_ns) {
  const std::int64_t test_rekey_ns =
      static_cast<std::int64_t>(cfg_.options->test_rekey_after_seconds) * 1'000'000'000;
  plumbing_.for_each_peer([&](wg::PeerId id, PeerResources& res) {
    dp::PeerActivity& a = *res.activity;
    // The next keypair's first data (paper section 5.4.7): confirm it before anything else,
    // so that the timers below see the rotated session.
    const wg::Peer* peer = device_.peer(id);
    if (peer == nullptr) return;
    if (const auto& next = peer->keypairs.shared_next()) {
      const dp::PreparedKeypair* p = plumbing_.find_prepared(next.get());
      if (p != nullptr && p->received_data.load(std::memory_order_relaxed)) {
        device_.note_data_received(id, next.get(), wg::Time(now_ns));
      }
    }
    const std::int64_t rx = a.last_rx_ns.load(std::memory_order_relaxed);
    if (rx != res.seen_rx_ns) {
      const std::int64_t rx_data = a.last_rx_data_ns.load(std::memory_order_relaxed);
      const bool keepalive = rx_data == res.seen_rx_data_ns;
      res.seen_rx_ns = rx;
      res.seen_rx_data_ns = rx_data;
      device_.note_data_received(id, peer->keypairs.current(), wg::Time(rx), keepalive);
    }
    // Roaming (paper section 2.1): the workers' last authenticated source. The Device keeps
    // the port of AES-256-GCM peers, whose data comes from per-flow ports (docs/STRAITD.md,
    // "Roaming"); a changed endpoint needs new outer templates.
    if (const auto src = a.last_source.read(); src && src->second != res.seen_source_seq) {
      res.seen_source_seq = src->second;
      uapi::Endpoint e;
      e.family = src->first.is_ipv6 ? 6 : 4;
      std::memcpy(e.addr.data(), src->first.addr.data() + (src->first.is_ipv6 ? 0 : 12),
                  src->first.is_ipv6 ? 16 : 4);
      e.port = src->first.port;
      if (device_.note_endpoint(id, e)) dirty_ = true;
    }
    const std::int64_t tx = a.last_tx_ns.load(std::memory_order_relaxed);
    if (tx != res.seen_tx_ns) {
      const std::int64_t tx_data = a.last_tx_data_ns.load(std::memory_order_relaxed);
      const bool keepalive = tx_data == res.seen_tx_data_ns;
      res.seen_tx_ns = tx;
      res.seen_tx_data_ns = tx_data;
      device_.note_data_sent(id, wg::Time(tx), keepalive);
    }
    if (test_rekey_ns != 0) {
      // Tests only: the initiator's REKEY_AFTER_TIME (paper section 6.2), shortened.
      const wg::Keypair* cur = peer->keypairs.current();
      if (cur != nullptr && cur->we_initiated && now_ns - cur->birthdate.count() >= test_rekey_ns &&
          (res.forced_rekey_ns == dp::kNeverNs || now_ns - res.forced_rekey_ns >= test_rekey_ns)) {
        res.forced_rekey_ns = now_ns;
        device_.note_handshake_wanted(id, wg::Time(now_ns));
      }
    }
    if (a.handshake_wanted.load(std::memory_order_relaxed) &&
        a.handshake_wanted.exchange(false, std::memory_order_relaxed)) {
      device_.note_handshake_wanted(id, wg::Time(now_ns));
    }
  });
}

void SlowPath::retry_pending(std::int64_t now_ns) {
  if (!wire_.resolution_due(now_ns)) return;
  // Datagrams waiting for their next hop.
  wire_.send_pending(tunnel_port_, now_ns);
  // A peer's endpoint had no MAC at the last build: the WireSender marks the snapshot dirty
  // (on_next_hop_changed) once the kernel knows it.
  if (unresolved_endpoints_) {
    device_.for_each_peer([&](const wg::PeerView& v) {
      if (v.endpoint) (void)wire_.outer_template(*v.endpoint, now_ns);
    });
  }
}

// ---- the snapshot ----

void SlowPath::republish() {
  const Options& o = *cfg_.options;
  const std::int64_t t = monotonic_ns();
  dirty_ = false;
  unresolved_endpoints_ = false;

  if (device_.listen_port() != tunnel_port_) {
    tunnel_port_ = device_.listen_port();
    spdlog::info("listen port is now {}", tunnel_port_);
    if (cfg_.on_listen_port) cfg_.on_listen_port(tunnel_port_);
  }

  dp::BridgeL2 l2;
  l2.src_mac = tx_.mac(PortRole::bridge);
  l2.mode = o.bridge_mac_mode == BridgeMacMode::pod ? dp::BridgeDstMac::pod_mac_from_ip
                                                    : dp::BridgeDstMac::fixed;
  l2.fixed_dst_mac = o.bridge_dst_mac.value_or(dp::MacAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff});

  dp::ForwardingStateBuilder b;
  b.routes(device_.allowed_ips())
      .tunnel(dp::cpu_to_be16(tunnel_port_), o.tunnel_mtu)
      .bridge(l2)
      .punt_non_tunnel(is_pci_address(o.wire))
      .staging_budget(plumbing_.staging_budget());
  // ICMP too-big answers come from the original destination (no icmp_source: straitd has no
  // address on the pod network) and IPv4 without DF is fragmented (docs/STRAITD.md, "Path MTU").
  dp::PathMtuConfig pmtu;
  if (o.mss_clamp) {
    pmtu.mss_clamp_v4 = dp::mss_for_mtu(o.tunnel_mtu, false);
    pmtu.mss_clamp_v6 = dp::mss_for_mtu(o.tunnel_mtu, true);
  }
  b.path_mtu(pmtu);

  PeerPlumbing::Named named;
  auto use = [&](const std::shared_ptr<wg::Keypair>& kp) {
    return plumbing_.name_keypair(named, kp);
  };
  device_.for_each_peer([&](const wg::PeerView& v) {
    const wg::Peer* peer = device_.peer(v.id);
    PeerResources& res = plumbing_.name_peer(named, v.id, peer->public_key);
    b.peer(v.id, v.cipher, *res.activity, res.staging.get());
    if (v.endpoint) {
      if (auto tmpl = wire_.outer_template(*v.endpoint, t)) {
        b.endpoint(v.id, *tmpl);
      } else {
        unresolved_endpoints_ = true;
      }
    }
    if (const auto& cur = v.keypairs.shared_current()) b.current(v.id, use(cur));
    if (const auto& prev = v.keypairs.shared_previous()) b.session(v.id, use(prev), false);
    if (const auto& next = v.keypairs.shared_next()) b.session(v.id, use(next), true);
  });
  auto snapshot = b.build();
  if (cfg_.on_publish) cfg_.on_publish(*snapshot);
  cfg_.publication->publish(std::move(snapshot));

  // Only now, after the pointer store, may what the new snapshot no longer names be retired
  // (issue 11, item 1; tests/dpdk/slow_path_test.cpp PeerIdReusedWhileTheWorkerForwardsToIt).
  plumbing_.retire_unnamed(std::move(named), *cfg_.publication);
}

// ---- wg::DeviceIo ----

void SlowPath::send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) {
  wire_.send(to, bytes, tunnel_port_, monotonic_ns());
}

void SlowPath::deliver(wg::PeerId /*peer*/, std::span<const std::uint8_t> ip_packet) {
  // The Device decrypted a data message itself (the workers normally do): frame it for the
  // bridge as the decap stage does, with the published snapshot's bridge addressing.
  const dp::ForwardingState* state = cfg_.publication->current();
  if (ip_packet.size() < dp::kIpv4HdrLen || state == nullptr) return;  // the Device parsed it
  const bool v6 = (ip_packet[0] >> 4) == 6;
  rte_mbuf* m = rte_pktmbuf_alloc(cfg_.pool);
  if (m == nullptr) {
    dp::count_drop(*cfg_.counters, DropReason::no_mbuf);
    return;
  }
  // Checked before the 16-bit length of rte_pktmbuf_append could wrap.
  const std::size_t frame_len = dp::kEthHdrLen + ip_packet.size();
  auto* p = frame_len > rte_pktmbuf_tailroom(m)
                ? nullptr
                : reinterpret_cast<std::uint8_t*>(
                      rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame_len)));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    dp::count_drop(*cfg_.counters, DropReason::too_big);
    return;
  }
  // The IPv4 destination address is at offset 16 of its header (RFC 791).
  dp::write_bridge_ethernet(p, v6, ip_packet.data() + 16, state->bridge);
  std::memcpy(p + dp::kEthHdrLen, ip_packet.data(), ip_packet.size());
  tx_.transmit(PortRole::bridge, m);
}

void SlowPath::on_session_changed(wg::PeerId /*peer*/) { dirty_ = true; }

void SlowPath::on_keypair_released(std::shared_ptr<wg::Keypair> keypair) {
  // The published snapshot may name it: it lives until the snapshot after the next publish
  // has replaced that one and the grace period has passed.
  plumbing_.release(std::move(keypair));
  dirty_ = true;
}

// ---- uapi::Handler ----

uapi::DeviceState SlowPath::get() {
  uapi::DeviceState s = device_.state();
  for (auto& ps : s.peers) {
    auto id = device_.peer_id(ps.public_key);
    if (!id) continue;
    const PeerResources* res = plumbing_.find(*id);
    if (res == nullptr) continue;
    const dp::PeerCounters& c = res->activity->counters;
    ps.rx_bytes += c.rx_bytes.load(std::memory_order_relaxed);
    ps.tx_bytes += c.tx_bytes.load(std::memory_order_relaxed);
    ps.rx_packets += c.rx_packets.load(std::memory_order_relaxed);
    ps.tx_packets += c.tx_packets.load(std::memory_order_relaxed);
  }
  const dp::CounterTotals totals = cfg_.all_counters->sum();
  std::array<std::uint64_t, kDropReasonCount> extra{};
  if (cfg_.extra_drops) cfg_.extra_drops(extra);
  for (std::size_t i = 1; i < kDropReasonCount; ++i) {
    merge_drops(s.drops, kDropReasonNames[i], totals.drops[i] + extra[i]);
  }
  return s;
}

Result<void> SlowPath::apply(const uapi::DeviceChange& change) {
  if (change.listen_port && *change.listen_port == 0) {
    return Error{EINVAL,
                 "straitd needs a fixed listen port (the wire port's steering rules name it); "
                 "listen_port=0 (pick one at random) is not supported"};
  }
  if (auto applied = device_.apply(change, now()); !applied) return applied;
  dirty_ = true;
  // Publish at once, so that traffic right after `wg set` sees the change.
  try {
    republish();
  } catch (const std::exception& e) {
    spdlog::error("cannot build the forwarding state after a UAPI change: {}", e.what());
  }
  return {};
}

void SlowPath::drain() {
  rte_mbuf* m = nullptr;
  for (rte_ring* ring : {cfg_.handshakes, cfg_.exceptions}) {
    while (rte_ring_sc_dequeue(ring, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
  }
  for (rte_ring* relay : cfg_.relay) {
    while (relay != nullptr && rte_ring_sc_dequeue(relay, reinterpret_cast<void**>(&m)) == 0) {
      rte_pktmbuf_free(m);
    }
  }
  plumbing_.drain_staging();
}

}  // namespace strait::straitd

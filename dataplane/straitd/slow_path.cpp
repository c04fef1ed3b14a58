#include "straitd/slow_path.hpp"

#include <poll.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "packet/outer_parse.hpp"
#include "packet/tcp_mss.hpp"
#include "pipeline/encap_stage.hpp"
#include "straitd/eal_plan.hpp"
#include "straitd/slow_path_frames.hpp"
#include "straitd/worker_pipeline.hpp"

namespace strait::straitd {
namespace {

using dp::PortRole;

constexpr unsigned kExceptionBurst = 64;
constexpr unsigned kMaxExceptionsPerIteration = 1024;
constexpr std::size_t kMaxPendingDatagrams = 64;
// How long a datagram waits for ARP/ND, and how often the kernel is asked again.
constexpr std::int64_t kPendingTimeoutNs = 3'000'000'000;
constexpr std::int64_t kResolveIntervalNs = 20'000'000;
// How often idle next-hop MACs are forgotten (neighbour_cache.hpp).
constexpr std::int64_t kNeighbourExpiryIntervalNs = 10'000'000'000;

dp::IpAddr16 to_addr16(const uapi::Endpoint& e) {
  return e.family == 4 ? dp::ipv4_mapped(e.addr.data()) : e.addr;
}

uapi::Endpoint endpoint_of(const dp::OuterInfo& info) {
  uapi::Endpoint e;
  e.family = info.is_ipv6 ? 6 : 4;
  std::memcpy(e.addr.data(), info.src_ip(), info.ip_addr_len());
  e.port = dp::be16_to_cpu(info.src_port_be);
  return e;
}

dp::MacAddr mac_of(const dp::Port& port) {
  dp::MacAddr mac{};
  std::memcpy(mac.data(), port.mac().addr_bytes, mac.size());
  return mac;
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

SlowPath::SlowPath(SlowPathConfig config) : cfg_(std::move(config)), device_(rng_) {
  stage_.aead = &aead_;
  stage_.counters = cfg_.counters;
  if (!cfg_.options->wire_gateway_mac) {
    auto n = KernelNeighbours::open();
    if (n) {
      neighbours_.emplace(std::move(n).value());
      neighbour_cache_.emplace(NeighbourCache::Resolver{
          [this](const dp::IpAddr16& dst) { return neighbours_->lookup(dst); },
          [this](const dp::IpAddr16& dst, std::uint16_t port) { neighbours_->solicit(dst, port); }});
    } else {
      spdlog::warn("{}; outer frames need --wire-gateway-mac", n.error().message);
    }
  }
}

SlowPath::~SlowPath() = default;

wg::Time SlowPath::now() const { return wg::Time(monotonic_ns()); }

strait::Result<void> SlowPath::start(const std::optional<strait::Key>& private_key) {
  if (cfg_.options == nullptr || cfg_.wire == nullptr || cfg_.bridge == nullptr ||
      cfg_.pool == nullptr || cfg_.handshakes == nullptr || cfg_.exceptions == nullptr ||
      cfg_.counters == nullptr || cfg_.all_counters == nullptr || cfg_.publication == nullptr) {
    return strait::Error{"the slow path needs its options, both ports, a mempool, the handshake and "
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
    const std::int64_t t = monotonic_ns();
    stage_.now_ns = t;
    drain_exceptions(t);
    observe_workers(t);
    if (auto d = device_.next_deadline(); d && d->count() <= t) device_.tick(wg::Time(t), *this);
    flush_staged(t);
    if (!pending_.empty() || unresolved_endpoints_) retry_pending(t);
    if (neighbour_cache_ && t - last_neighbour_expiry_ns_ >= kNeighbourExpiryIntervalNs) {
      last_neighbour_expiry_ns_ = t;
      neighbour_cache_->expire(t);
    }
    if (dirty_) {
      try {
        republish();
      } catch (const std::exception& e) {
        // A bug, not an input: keep the previous snapshot and say so once per change.
        spdlog::error("cannot build the forwarding state, keeping the previous one: {}", e.what());
        dirty_ = false;
      }
    }
    cfg_.publication->reclaim();

    pollfd p{cfg_.uapi->fd(), POLLIN, 0};
    const int ready = ::poll(&p, 1, poll_timeout_ms());
    if (ready > 0) cfg_.uapi->service(*this);
  }
}

int SlowPath::poll_timeout_ms() const {
  if (busy_ || dirty_) return 0;
  // The exception ring is not a descriptor: look at it every millisecond. Handshakes wait at
  // most that long, which is far below REKEY_TIMEOUT.
  return 1;
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
  const DropReason r = dp::parse_outer(frame, rte_pktmbuf_data_len(m),
                                       dp::cpu_to_be16(tunnel_port_), info);
  if (r == DropReason::none) {
    uapi::Endpoint from = endpoint_of(info);
    // Answers go back the way the frame came (send_datagram): a cookie reply to a spoofed
    // source must cost no neighbour resolution and leave no cache entry (issue 11).
    answering_.emplace(Answering{from, {}});
    std::memcpy(answering_->l2_source.data(), frame + 6, answering_->l2_source.size());
    device_.receive(std::span<const std::uint8_t>(frame + info.payload_offset, info.payload_len),
                    from, wg::Time(now_ns), *this);
    answering_.reset();
    rte_pktmbuf_free(m);
    return;
  }
  // Punted non-tunnel traffic of a PCI wire port: ARP/ND for our wire address.
  const Options& o = *cfg_.options;
  const bool answered = answer_neighbour_request(
      m, mac_of(*cfg_.wire), [&o](const std::uint8_t* addr, bool is_ipv6) {
        if (is_ipv6) return o.wire_ipv6 && std::memcmp(o.wire_ipv6->data(), addr, 16) == 0;
        return o.wire_ipv4 && std::memcmp(o.wire_ipv4->data() + 12, addr, 4) == 0;
      });
  if (answered) {
    transmit(PortRole::wire, m);
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
      answer_neighbour_request(m, mac_of(*cfg_.bridge), [state](const std::uint8_t* addr, bool is_ipv6) {
        return dp::lookup_route(*state->routes, is_ipv6, addr).has_value();
      });
  if (answered) {
    transmit(PortRole::bridge, m);
  } else {
    rte_pktmbuf_free(m);
  }
}

void SlowPath::observe_workers(std::int64_t now_ns) {
  const std::int64_t test_rekey_ns =
      static_cast<std::int64_t>(cfg_.options->test_rekey_after_seconds) * 1'000'000'000;
  for (auto& [id, res] : peers_) {
    dp::PeerActivity& a = *res.activity;
    // The next keypair's first data (paper section 5.4.7): confirm it before anything else,
    // so that the timers below see the rotated session.
    const wg::Peer* peer = device_.peer(id);
    if (peer == nullptr) continue;
    if (const auto& next = peer->keypairs.shared_next()) {
      auto it = prepared_.find(next.get());
      if (it != prepared_.end() && it->second->received_data.load(std::memory_order_relaxed)) {
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
  }
}

void SlowPath::flush_staged(std::int64_t now_ns) {
  const dp::ForwardingState* state = cfg_.publication->current();
  if (state == nullptr) return;
  for (auto& [id, res] : peers_) {
    rte_ring* ring = res.staging.get();
    const unsigned count = rte_ring_count(ring);
    if (count > res.staged_count) res.staged_grew_ns = now_ns;
    res.staged_count = count;
    if (count == 0) continue;
    const wg::Peer* peer = device_.peer(id);
    if (peer == nullptr) continue;
    const auto& current = peer->keypairs.shared_current();
    if (!current || !current->valid_for_send(wg::Time(now_ns))) {
      expire_staged(res, now_ns);
      continue;
    }
    // The published snapshot must already carry this keypair and the endpoint; until it does
    // (a republish is pending) the packets wait one more iteration.
    const dp::PeerSlot* slot = state->peer_slot(id);
    if (slot == nullptr || slot->current != current.get()) continue;
    auto kp = prepared(current);
    rte_mbuf* m = nullptr;
    while (rte_ring_sc_dequeue(ring, reinterpret_cast<void**>(&m)) == 0) {
      staging_budget_->give_back(1);
      if (dp::encap_one(stage_, *state, id, *kp, m) == DropReason::none) transmit(PortRole::wire, m);
    }
    res.staged_count = 0;
  }
}

void SlowPath::expire_staged(PeerResources& res, std::int64_t now_ns) {
  // The Linux module purges a peer's staged packets when its handshake gives up, which is
  // REKEY_ATTEMPT_TIME after the last packet that asked for one (send.c restarts the attempt
  // series on every send; timers.c wg_expired_retransmit_handshake; paper section 6.4). The
  // Device's own give-up does not see these rings, so the same age is measured here from
  // the last time the ring grew.
  const auto attempt_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wg::kRekeyAttemptTime).count();
  if (res.staged_grew_ns == dp::kNeverNs || now_ns - res.staged_grew_ns < attempt_ns) return;
  rte_mbuf* m = nullptr;
  std::uint64_t n = 0;
  while (rte_ring_sc_dequeue(res.staging.get(), reinterpret_cast<void**>(&m)) == 0) {
    rte_pktmbuf_free(m);
    dp::count_drop(*cfg_.counters, DropReason::no_keypair);
    ++n;
  }
  staging_budget_->give_back(static_cast<std::uint32_t>(n));
  res.staged_count = 0;
  res.staged_grew_ns = dp::kNeverNs;
  spdlog::debug("{} packets staged without a session for {} s dropped", n,
                std::chrono::duration_cast<std::chrono::seconds>(wg::kRekeyAttemptTime).count());
}

void SlowPath::retry_pending(std::int64_t now_ns) {
  if (now_ns - last_resolve_ns_ < kResolveIntervalNs) return;
  last_resolve_ns_ = now_ns;
  // Datagrams waiting for their next hop.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (auto tmpl = outer_template(it->to, now_ns)) {
      rte_mbuf* m = build_datagram_frame(cfg_.pool, *tmpl, it->bytes, dp::cpu_to_be16(tunnel_port_));
      if (m != nullptr) {
        transmit(PortRole::wire, m);
      } else {
        dp::count_drop(*cfg_.counters, DropReason::no_mbuf);
      }
      it = pending_.erase(it);
    } else if (now_ns - it->since_ns > kPendingTimeoutNs) {
      spdlog::debug("no next-hop MAC for {} after {} s: datagram dropped", it->to.to_string(),
                    kPendingTimeoutNs / 1'000'000'000);
      dp::count_drop(*cfg_.counters, DropReason::no_endpoint);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  // A peer's endpoint had no MAC at the last build: next_hop_mac marks the snapshot dirty
  // once the kernel knows it.
  if (unresolved_endpoints_) {
    device_.for_each_peer([&](const wg::PeerView& v) {
      if (v.endpoint) (void)outer_template(*v.endpoint, now_ns);
    });
  }
}

// ---- the snapshot ----

SlowPath::PeerResources& SlowPath::resources_for(wg::PeerId id, const strait::Key& public_key) {
  auto it = peers_.find(id);
  if (it != peers_.end() && it->second.public_key == public_key) return it->second;
  if (it != peers_.end()) {
    // The id was reused for another peer. The published snapshot still names the old blocks
    // and workers keep using them until the snapshot being built replaces it: they are
    // retired after that publish (republish), never before (issue 11, item 1).
    superseded_.push_back(std::move(it->second));
    peers_.erase(it);
  }
  PeerResources r;
  r.public_key = public_key;
  r.activity = std::make_shared<dp::PeerActivity>();
  const std::string name = "strait_stg" + std::to_string(staging_rings_created_++);
  rte_ring* ring = rte_ring_create(name.c_str(), kStagingRingSize,
                                   cfg_.bridge->socket_id(), RING_F_SC_DEQ);
  if (ring == nullptr) throw std::runtime_error("rte_ring_create " + name + " failed");
  // A ring's last owner frees what it still holds.
  r.staging = std::shared_ptr<rte_ring>(ring, [budget = staging_budget_](rte_ring* g) {
    rte_mbuf* m = nullptr;
    while (rte_ring_sc_dequeue(g, reinterpret_cast<void**>(&m)) == 0) {
      rte_pktmbuf_free(m);
      budget->give_back(1);
    }
    rte_ring_free(g);
  });
  return peers_.emplace(id, std::move(r)).first->second;
}

std::shared_ptr<dp::PreparedKeypair> SlowPath::prepared(const std::shared_ptr<wg::Keypair>& kp) {
  auto it = prepared_.find(kp.get());
  if (it != prepared_.end()) return it->second;
  auto p = dp::prepare_keypair(aead_, kp);
  prepared_.emplace(kp.get(), p);
  return p;
}

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
  l2.src_mac = mac_of(*cfg_.bridge);
  l2.mode = o.bridge_mac_mode == BridgeMacMode::pod ? dp::BridgeDstMac::pod_mac_from_ip
                                                     : dp::BridgeDstMac::fixed;
  l2.fixed_dst_mac = o.bridge_dst_mac.value_or(dp::MacAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff});

  dp::ForwardingStateBuilder b;
  b.routes(device_.allowed_ips())
      .tunnel(dp::cpu_to_be16(tunnel_port_), o.tunnel_mtu)
      .bridge(l2)
      .punt_non_tunnel(is_pci_address(o.wire))
      .staging_budget(staging_budget_.get());
  // ICMP too-big answers come from the original destination (no icmp_source: straitd has no
  // address on the pod network) and IPv4 without DF is fragmented (docs/STRAITD.md, "Path MTU").
  dp::PathMtuConfig pmtu;
  if (o.mss_clamp) {
    pmtu.mss_clamp_v4 = dp::mss_for_mtu(o.tunnel_mtu, false);
    pmtu.mss_clamp_v6 = dp::mss_for_mtu(o.tunnel_mtu, true);
  }
  b.path_mtu(pmtu);

  std::map<const wg::Keypair*, std::shared_ptr<dp::PreparedKeypair>> used;
  std::map<wg::PeerId, bool> alive;
  auto use = [&](const std::shared_ptr<wg::Keypair>& kp) {
    auto p = prepared(kp);
    used.emplace(kp.get(), p);
    return p;
  };
  device_.for_each_peer([&](const wg::PeerView& v) {
    const wg::Peer* peer = device_.peer(v.id);
    PeerResources& res = resources_for(v.id, peer->public_key);
    alive[v.id] = true;
    b.peer(v.id, v.cipher, *res.activity, res.staging.get());
    if (v.endpoint) {
      if (auto tmpl = outer_template(*v.endpoint, t)) {
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

  // What the new snapshot no longer names dies after the grace period, which starts now that
  // no worker can load a snapshot naming it any more.
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (alive.count(it->first) == 0) {
      superseded_.push_back(std::move(it->second));
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  for (PeerResources& old : superseded_) {
    cfg_.publication->retire(std::move(old.activity));
    cfg_.publication->retire(std::move(old.staging));
  }
  superseded_.clear();
  prepared_.swap(used);  // keypairs only the old snapshot named: freed with it
  for (auto& kp : released_) cfg_.publication->retire(std::move(kp));
  released_.clear();
}

// ---- outer headers and next hops ----

std::optional<dp::MacAddr> SlowPath::next_hop_mac(const dp::IpAddr16& dst, std::uint16_t port,
                                                  std::int64_t now_ns) {
  if (cfg_.options->wire_gateway_mac) return cfg_.options->wire_gateway_mac;
  if (!neighbour_cache_) return std::nullopt;
  const NeighbourCache::Answer a = neighbour_cache_->resolve(dst, port, now_ns);
  if (a.changed) dirty_ = true;  // templates carry the MAC
  return a.mac;
}

std::optional<dp::OuterTemplate> SlowPath::outer_template(const uapi::Endpoint& to,
                                                          std::int64_t now_ns) {
  const auto& src = to.family == 6 ? cfg_.options->wire_ipv6 : cfg_.options->wire_ipv4;
  if (!src) return std::nullopt;
  auto mac = next_hop_mac(to_addr16(to), to.port, now_ns);
  if (!mac) return std::nullopt;
  return outer_template_via(to, *mac);
}

std::optional<dp::OuterTemplate> SlowPath::outer_template_via(const uapi::Endpoint& to,
                                                              const dp::MacAddr& next_hop) const {
  const Options& o = *cfg_.options;
  dp::OuterTemplateConfig c;
  c.is_ipv6 = to.family == 6;
  const auto& src = c.is_ipv6 ? o.wire_ipv6 : o.wire_ipv4;
  if (!src) return std::nullopt;
  c.src_addr = *src;
  c.dst_addr = to_addr16(to);
  c.dst_port_be = dp::cpu_to_be16(to.port);
  c.src_mac = mac_of(*cfg_.wire);
  c.dst_mac = next_hop;
  return dp::OuterTemplate(c);
}

void SlowPath::transmit(PortRole role, rte_mbuf* m) {
  const dp::Port& port = role == PortRole::wire ? *cfg_.wire : *cfg_.bridge;
  const std::uint32_t len = rte_pktmbuf_pkt_len(m);
  if (rte_ring* relay = cfg_.relay[static_cast<std::size_t>(role)]; relay != nullptr) {
    // Worker 0 transmits it (and counts it) on its own queue.
    if (rte_ring_sp_enqueue(relay, m) != 0) {
      rte_pktmbuf_free(m);
      dp::count_drop(*cfg_.counters, DropReason::tx_failed);
    }
    return;
  }
  if (rte_eth_tx_burst(port.port_id(), cfg_.tx_queue, &m, 1) == 1) {
    dp::count_tx(*cfg_.counters, role, 1, len);
  } else {
    rte_pktmbuf_free(m);
    dp::count_drop(*cfg_.counters, DropReason::tx_failed);
  }
}

// ---- wg::DeviceIo ----

void SlowPath::send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) {
  const std::int64_t t = monotonic_ns();
  const auto& src = to.family == 6 ? cfg_.options->wire_ipv6 : cfg_.options->wire_ipv4;
  if (!src) {
    spdlog::debug("no --wire-ip of the family of {}: datagram dropped", to.to_string());
    dp::count_drop(*cfg_.counters, DropReason::no_endpoint);
    return;
  }
  // An answer to the frame being received goes to that frame's Ethernet source; anything
  // else to its resolved next hop.
  auto tmpl = answering_ && answering_->from == to ? outer_template_via(to, answering_->l2_source)
                                                   : outer_template(to, t);
  if (!tmpl) {
    if (pending_.size() >= kMaxPendingDatagrams) {
      pending_.pop_front();
      dp::count_drop(*cfg_.counters, DropReason::no_endpoint);
    }
    pending_.push_back({to, std::vector<std::uint8_t>(bytes.begin(), bytes.end()), t});
    return;
  }
  rte_mbuf* m = build_datagram_frame(cfg_.pool, *tmpl, bytes, dp::cpu_to_be16(tunnel_port_));
  if (m == nullptr) {
    dp::count_drop(*cfg_.counters, DropReason::no_mbuf);
    return;
  }
  transmit(PortRole::wire, m);
}

void SlowPath::deliver(wg::PeerId /*peer*/, std::span<const std::uint8_t> ip_packet) {
  // The Device decrypted a data message itself (the workers normally do): frame it for the
  // bridge as the decap stage would.
  if (ip_packet.empty()) return;
  const bool v6 = (ip_packet[0] >> 4) == 6;
  rte_mbuf* m = rte_pktmbuf_alloc(cfg_.pool);
  if (m == nullptr) {
    dp::count_drop(*cfg_.counters, DropReason::no_mbuf);
    return;
  }
  auto* p = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(dp::kEthHdrLen + ip_packet.size())));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    dp::count_drop(*cfg_.counters, DropReason::too_big);
    return;
  }
  dp::EthHdr eth{};
  const Options& o = *cfg_.options;
  const dp::MacAddr fixed = o.bridge_dst_mac.value_or(dp::MacAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  if (o.bridge_mac_mode == BridgeMacMode::pod && !v6 && ip_packet.size() >= dp::kIpv4HdrLen) {
    eth.dst[0] = 0x0a;
    eth.dst[1] = 0x58;
    std::memcpy(eth.dst + 2, ip_packet.data() + 16, 4);
  } else {
    std::memcpy(eth.dst, fixed.data(), 6);
  }
  std::memcpy(eth.src, cfg_.bridge->mac().addr_bytes, 6);
  eth.ether_type_be = v6 ? dp::kEtherTypeIpv6Be : dp::kEtherTypeIpv4Be;
  dp::store_header(p, eth);
  std::memcpy(p + dp::kEthHdrLen, ip_packet.data(), ip_packet.size());
  transmit(PortRole::bridge, m);
}

void SlowPath::on_session_changed(wg::PeerId /*peer*/) { dirty_ = true; }

void SlowPath::on_keypair_released(std::shared_ptr<wg::Keypair> keypair) {
  // The published snapshot may name it: it lives until the snapshot after the next publish
  // has replaced that one and the grace period has passed.
  released_.push_back(std::move(keypair));
  dirty_ = true;
}

// ---- uapi::Handler ----

uapi::DeviceState SlowPath::get() {
  uapi::DeviceState s = device_.state();
  for (auto& ps : s.peers) {
    auto id = device_.peer_id(ps.public_key);
    if (!id) continue;
    auto it = peers_.find(*id);
    if (it == peers_.end()) continue;
    const dp::PeerCounters& c = it->second.activity->counters;
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
  for (auto& [id, res] : peers_) {
    while (rte_ring_sc_dequeue(res.staging.get(), reinterpret_cast<void**>(&m)) == 0) {
      rte_pktmbuf_free(m);
      staging_budget_->give_back(1);
    }
  }
}

}  // namespace strait::straitd

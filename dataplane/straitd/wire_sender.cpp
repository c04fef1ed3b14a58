#include "straitd/wire_sender.hpp"

#include <spdlog/spdlog.h>

#include "straitd/slow_path_frames.hpp"

namespace strait::straitd {
namespace {

constexpr std::size_t kMaxPendingDatagrams = 64;
// How long a datagram waits for ARP/ND, and how often the kernel is asked again.
constexpr std::int64_t kPendingTimeoutNs = 3'000'000'000;
constexpr std::int64_t kResolveIntervalNs = 20'000'000;
// How often idle next-hop MACs are forgotten (neighbour_cache.hpp).
constexpr std::int64_t kNeighbourExpiryIntervalNs = 10'000'000'000;

dp::IpAddr16 to_addr16(const uapi::Endpoint& e) {
  return e.family == 4 ? dp::ipv4_mapped(e.addr.data()) : e.addr;
}

}  // namespace

WireSender::WireSender(const Options& options, SlowPathTx& tx, rte_mempool* pool,
                       dp::LcoreCounters* counters, std::function<void()> on_next_hop_changed)
    : options_(options),
      tx_(tx),
      pool_(pool),
      counters_(counters),
      on_next_hop_changed_(std::move(on_next_hop_changed)) {
  if (!options_.wire_gateway_mac) {
    auto n = KernelNeighbours::open();
    if (n) {
      neighbours_.emplace(std::move(n).value());
      neighbour_cache_.emplace(NeighbourCache::Resolver{
          [this](const dp::IpAddr16& dst) { return neighbours_->lookup(dst); },
          [this](const dp::IpAddr16& dst, std::uint16_t port) {
            neighbours_->solicit(dst, port);
          }});
    } else {
      spdlog::warn("{}; outer frames need --wire-gateway-mac", n.error().message);
    }
  }
}

void WireSender::send(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes,
                      std::uint16_t tunnel_port, std::int64_t now_ns) {
  const auto& src = to.family == 6 ? options_.wire_ipv6 : options_.wire_ipv4;
  if (!src) {
    spdlog::debug("no --wire-ip of the family of {}: datagram dropped", to.to_string());
    dp::count_drop(*counters_, DropReason::no_endpoint);
    return;
  }
  // An answer to the frame being received goes to that frame's Ethernet source; anything
  // else to its resolved next hop.
  auto tmpl = answering_ && answering_->from == to ? outer_template_via(to, answering_->l2_source)
                                                   : outer_template(to, now_ns);
  if (!tmpl) {
    if (pending_.size() >= kMaxPendingDatagrams) {
      pending_.pop_front();
      dp::count_drop(*counters_, DropReason::no_endpoint);
    }
    pending_.push_back({to, std::vector<std::uint8_t>(bytes.begin(), bytes.end()), now_ns});
    return;
  }
  rte_mbuf* m = build_datagram_frame(pool_, *tmpl, bytes, dp::cpu_to_be16(tunnel_port));
  if (m == nullptr) {
    dp::count_drop(*counters_, DropReason::no_mbuf);
    return;
  }
  tx_.transmit(dp::PortRole::wire, m);
}

void WireSender::begin_answer(const uapi::Endpoint& from, const dp::MacAddr& l2_source) {
  answering_.emplace(Answering{from, l2_source});
}

void WireSender::end_answer() { answering_.reset(); }

bool WireSender::resolution_due(std::int64_t now_ns) {
  if (now_ns - last_resolve_ns_ < kResolveIntervalNs) return false;
  last_resolve_ns_ = now_ns;
  return true;
}

void WireSender::send_pending(std::uint16_t tunnel_port, std::int64_t now_ns) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (auto tmpl = outer_template(it->to, now_ns)) {
      rte_mbuf* m = build_datagram_frame(pool_, *tmpl, it->bytes, dp::cpu_to_be16(tunnel_port));
      if (m != nullptr) {
        tx_.transmit(dp::PortRole::wire, m);
      } else {
        dp::count_drop(*counters_, DropReason::no_mbuf);
      }
      it = pending_.erase(it);
    } else if (now_ns - it->since_ns > kPendingTimeoutNs) {
      spdlog::debug("no next-hop MAC for {} after {} s: datagram dropped", it->to.to_string(),
                    kPendingTimeoutNs / 1'000'000'000);
      dp::count_drop(*counters_, DropReason::no_endpoint);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void WireSender::expire_neighbours(std::int64_t now_ns) {
  if (neighbour_cache_ && now_ns - last_neighbour_expiry_ns_ >= kNeighbourExpiryIntervalNs) {
    last_neighbour_expiry_ns_ = now_ns;
    neighbour_cache_->expire(now_ns);
  }
}

std::optional<dp::MacAddr> WireSender::next_hop_mac(const dp::IpAddr16& dst, std::uint16_t port,
                                                    std::int64_t now_ns) {
  if (options_.wire_gateway_mac) return options_.wire_gateway_mac;
  if (!neighbour_cache_) return std::nullopt;
  const NeighbourCache::Answer a = neighbour_cache_->resolve(dst, port, now_ns);
  if (a.changed) on_next_hop_changed_();  // templates carry the MAC
  return a.mac;
}

std::optional<dp::OuterTemplate> WireSender::outer_template(const uapi::Endpoint& to,
                                                            std::int64_t now_ns) {
  const auto& src = to.family == 6 ? options_.wire_ipv6 : options_.wire_ipv4;
  if (!src) return std::nullopt;
  auto mac = next_hop_mac(to_addr16(to), to.port, now_ns);
  if (!mac) return std::nullopt;
  return outer_template_via(to, *mac);
}

std::optional<dp::OuterTemplate> WireSender::outer_template_via(const uapi::Endpoint& to,
                                                                const dp::MacAddr& next_hop) const {
  dp::OuterTemplateConfig c;
  c.is_ipv6 = to.family == 6;
  const auto& src = c.is_ipv6 ? options_.wire_ipv6 : options_.wire_ipv4;
  if (!src) return std::nullopt;
  c.src_addr = *src;
  c.dst_addr = to_addr16(to);
  c.dst_port_be = dp::cpu_to_be16(to.port);
  c.src_mac = tx_.mac(dp::PortRole::wire);
  c.dst_mac = next_hop;
  return dp::OuterTemplate(c);
}

}  // namespace strait::straitd

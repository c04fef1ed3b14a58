#pragma once
// Datagrams of the slow path to peers on the wire port: the outer headers towards an
// endpoint, the next-hop MAC they carry (--wire-gateway-mac, else the kernel's neighbour
// table through a bounded cache), and the datagrams that wait up to 3 s for it (README.md,
// "Outer next hop"). A datagram answering the frame being received goes back to that frame's
// Ethernet source instead, without resolution.
//
// Thread: the slow-path thread's.

#include <rte_mempool.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "packet/headers.hpp"
#include "packet/outer_template.hpp"
#include "straitd/kernel_neighbours.hpp"
#include "straitd/neighbour_cache.hpp"
#include "straitd/options.hpp"
#include "straitd/slow_path_tx.hpp"
#include "uapi/model.hpp"

namespace strait::straitd {

class WireSender {
 public:
  // `on_next_hop_changed` is called when a next hop's MAC changes: outer templates carry it,
  // so the published snapshot must be rebuilt. Without --wire-gateway-mac, opens the kernel's
  // neighbour tables (a warning when it cannot). `pool` and `counters` are only used when a
  // datagram is sent.
  WireSender(const Options& options, SlowPathTx& tx, rte_mempool* pool, dp::LcoreCounters* counters,
             std::function<void()> on_next_hop_changed);

  // Sends `bytes` to `to` from the tunnel port, or holds it until its next hop is known.
  void send(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes,
            std::uint16_t tunnel_port, std::int64_t now_ns);

  // While the Device receives the message of a frame from `from`: a datagram it sends back to
  // `from` during the call goes to `l2_source`, never through neighbour resolution.
  void begin_answer(const uapi::Endpoint& from, const dp::MacAddr& l2_source);
  void end_answer();

  // The outer headers towards `to`; nothing when we have no source address of its family or
  // its next hop is not resolved yet (then resolution has been started).
  [[nodiscard]] std::optional<dp::OuterTemplate> outer_template(const uapi::Endpoint& to,
                                                                std::int64_t now_ns);

  [[nodiscard]] bool has_pending() const { return !pending_.empty(); }
  // True at most every kResolveIntervalNs: time to ask the kernel again.
  [[nodiscard]] bool resolution_due(std::int64_t now_ns);
  // Sends the waiting datagrams whose next hop is now known; drops those that waited too long.
  void send_pending(std::uint16_t tunnel_port, std::int64_t now_ns);
  // Forgets idle next hops, at most every kNeighbourExpiryIntervalNs.
  void expire_neighbours(std::int64_t now_ns);

 private:
  // A datagram waiting for its next hop's MAC.
  struct PendingDatagram {
    uapi::Endpoint to;
    std::vector<std::uint8_t> bytes;
    std::int64_t since_ns = 0;
  };

  // The frame whose message the Device is receiving.
  struct Answering {
    uapi::Endpoint from;
    dp::MacAddr l2_source{};
  };

  // The same as outer_template with a next-hop MAC already known; nothing without a source
  // address.
  [[nodiscard]] std::optional<dp::OuterTemplate> outer_template_via(
      const uapi::Endpoint& to, const dp::MacAddr& next_hop) const;
  [[nodiscard]] std::optional<dp::MacAddr> next_hop_mac(const dp::IpAddr16& dst, std::uint16_t port,
                                                        std::int64_t now_ns);

  const Options& options_;
  SlowPathTx& tx_;
  rte_mempool* pool_;
  dp::LcoreCounters* counters_;
  std::function<void()> on_next_hop_changed_;
  std::optional<KernelNeighbours> neighbours_;     // only without --wire-gateway-mac
  std::optional<NeighbourCache> neighbour_cache_;  // in front of neighbours_
  std::optional<Answering> answering_;             // set during Device::receive of a wire frame
  std::deque<PendingDatagram> pending_;
  std::int64_t last_resolve_ns_ = 0;
  std::int64_t last_neighbour_expiry_ns_ = 0;
};

}  // namespace strait::straitd

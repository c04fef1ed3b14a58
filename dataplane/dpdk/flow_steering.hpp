#pragma once
// Hardware steering of tunnel traffic on the wire port: an rte_flow rule per IP version that
// sends UDP to the tunnel port to the workers' RX queues (one queue: QUEUE action; several:
// RSS action over them), so that other traffic on a shared NIC never reaches a worker. PMDs
// without rte_flow (net_af_packet, net_ring, ...) get no rule: the decap stage then drops
// non-tunnel packets in software (DropReason::outer_not_tunnel). Main thread only.

#include <rte_ethdev.h>
#include <rte_flow.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dpdk/port.hpp"

namespace strait::dp {

enum class IpVersion : std::uint8_t { v4, v6 };

inline constexpr std::size_t kMaxSteeringQueues = 64;

// The pattern and actions of one steering rule. The arrays point into the struct itself, so
// it is neither copied nor moved: build it in place and keep it alive while rte_flow uses it.
struct TunnelRule {
  rte_flow_attr attr{};
  std::array<rte_flow_item, 4> pattern{};  // ETH, IPV4|IPV6, UDP (dst port), END
  rte_flow_item_udp udp_spec{};
  rte_flow_item_udp udp_mask{};
  std::array<rte_flow_action, 2> actions{};  // QUEUE|RSS, END
  rte_flow_action_queue queue{};
  rte_flow_action_rss rss{};
  std::array<std::uint16_t, kMaxSteeringQueues> rss_queues{};

  TunnelRule() = default;
  TunnelRule(const TunnelRule&) = delete;
  TunnelRule& operator=(const TunnelRule&) = delete;
};

// Fills `rule`: ingress, Ethernet / `ip` / UDP with destination port `udp_port` (host order;
// stored in network order) -> QUEUE queues[0] when there is one queue, else RSS (UDP hash)
// over `queues`. False when `queues` is empty or longer than kMaxSteeringQueues.
[[nodiscard]] bool build_tunnel_rule(TunnelRule& rule, IpVersion ip, std::uint16_t udp_port,
                                     std::span<const std::uint16_t> queues);

// The installed rules of one port; destroys them on destruction (before the port closes).
class TunnelSteering {
 public:
  // Validates, then creates, the IPv4 and the IPv6 rule. All or nothing: if the device
  // refuses either, none stays installed and installed() is false.
  [[nodiscard]] static TunnelSteering install(const Port& port, std::uint16_t udp_port,
                                              std::span<const std::uint16_t> queues);

  TunnelSteering(TunnelSteering&& other) noexcept;
  TunnelSteering& operator=(TunnelSteering&&) = delete;
  TunnelSteering(const TunnelSteering&) = delete;
  TunnelSteering& operator=(const TunnelSteering&) = delete;
  ~TunnelSteering();

  [[nodiscard]] bool installed() const { return !flows_.empty(); }
  // One line for the log, either "port wire (...): UDP dst port 51820 (IPv4, IPv6) steered to
  // queue 1 by rte_flow" or "port wire (...): rte_flow not supported (<reason>), tunnel
  // traffic is filtered in software".
  [[nodiscard]] const std::string& summary() const { return summary_; }

 private:
  TunnelSteering() = default;
  void destroy();
  std::uint16_t port_id_ = 0;
  std::vector<rte_flow*> flows_;
  std::string summary_;
};

}  // namespace strait::dp

#include "dpdk/flow_steering.hpp"

#include <rte_byteorder.h>
#include <rte_errno.h>

#include <algorithm>

namespace strait::dp {
namespace {

std::string flow_error_text(const rte_flow_error& e, int ret) {
  std::string why = e.message != nullptr ? e.message : rte_strerror(-ret);
  if (e.message != nullptr && ret < 0 && why != rte_strerror(-ret)) {
    why += ": " + std::string(rte_strerror(-ret));
  }
  return why;
}

std::string queue_list(std::span<const std::uint16_t> queues) {
  std::string s;
  for (std::uint16_t q : queues) s += (s.empty() ? "" : ",") + std::to_string(q);
  return s;
}

}  // namespace

bool build_tunnel_rule(TunnelRule& r, IpVersion ip, std::uint16_t udp_port,
                       std::span<const std::uint16_t> queues) {
  if (queues.empty() || queues.size() > kMaxSteeringQueues) return false;
  r.attr = rte_flow_attr{};
  r.attr.ingress = 1;

  // Ethernet and IP match anything (null spec); only the UDP destination port is matched.
  r.pattern = {};
  r.pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
  r.pattern[1].type = ip == IpVersion::v4 ? RTE_FLOW_ITEM_TYPE_IPV4 : RTE_FLOW_ITEM_TYPE_IPV6;
  r.udp_spec = rte_flow_item_udp{};
  r.udp_mask = rte_flow_item_udp{};
  r.udp_spec.hdr.dst_port = rte_cpu_to_be_16(udp_port);
  r.udp_mask.hdr.dst_port = RTE_BE16(0xffff);
  r.pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
  r.pattern[2].spec = &r.udp_spec;
  r.pattern[2].mask = &r.udp_mask;
  r.pattern[3].type = RTE_FLOW_ITEM_TYPE_END;

  r.actions = {};
  if (queues.size() == 1) {
    r.queue.index = queues[0];
    r.actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
    r.actions[0].conf = &r.queue;
  } else {
    std::copy(queues.begin(), queues.end(), r.rss_queues.begin());
    r.rss = rte_flow_action_rss{};
    r.rss.func = RTE_ETH_HASH_FUNCTION_DEFAULT;
    r.rss.level = 0;  // outer headers: the straitd peer varies its UDP source port per flow
    r.rss.types = RTE_ETH_RSS_UDP;
    r.rss.queue_num = static_cast<std::uint32_t>(queues.size());
    r.rss.queue = r.rss_queues.data();
    r.actions[0].type = RTE_FLOW_ACTION_TYPE_RSS;
    r.actions[0].conf = &r.rss;
  }
  r.actions[1].type = RTE_FLOW_ACTION_TYPE_END;
  return true;
}

TunnelSteering TunnelSteering::install(const Port& port, std::uint16_t udp_port,
                                       std::span<const std::uint16_t> queues) {
  TunnelSteering s;
  s.port_id_ = port.port_id();
  auto fall_back = [&](const std::string& why) {
    s.destroy();
    s.summary_ = port.describe() + ": rte_flow not supported (" + why +
                 "), tunnel traffic is filtered in software";
    return std::move(s);
  };

  for (IpVersion ip : {IpVersion::v4, IpVersion::v6}) {
    TunnelRule rule;
    if (!build_tunnel_rule(rule, ip, udp_port, queues)) {
      return fall_back("cannot steer to " + std::to_string(queues.size()) + " queues");
    }
    const char* ip_name = ip == IpVersion::v4 ? "IPv4" : "IPv6";
    rte_flow_error error{};
    int ret =
        rte_flow_validate(s.port_id_, &rule.attr, rule.pattern.data(), rule.actions.data(), &error);
    if (ret != 0) return fall_back(std::string(ip_name) + ": " + flow_error_text(error, ret));
    error = rte_flow_error{};
    rte_flow* flow =
        rte_flow_create(s.port_id_, &rule.attr, rule.pattern.data(), rule.actions.data(), &error);
    if (flow == nullptr) {
      return fall_back(std::string(ip_name) + ": " + flow_error_text(error, -rte_errno));
    }
    s.flows_.push_back(flow);
  }
  s.summary_ = port.describe() + ": UDP dst port " + std::to_string(udp_port) +
               " (IPv4, IPv6) steered by rte_flow to " +
               (queues.size() == 1 ? "queue " : "RSS over queues ") + queue_list(queues);
  return s;
}

TunnelSteering::TunnelSteering(TunnelSteering&& other) noexcept
    : port_id_(other.port_id_),
      flows_(std::move(other.flows_)),
      summary_(std::move(other.summary_)) {
  other.flows_.clear();
}

void TunnelSteering::destroy() {
  for (rte_flow* f : flows_) {
    rte_flow_error error{};
    (void)rte_flow_destroy(port_id_, f, &error);
  }
  flows_.clear();
}

TunnelSteering::~TunnelSteering() { destroy(); }

}  // namespace strait::dp

#pragma once
// The `route` profile: no OVS; the kernel routes each remote pod CIDR to straitd's tap.
//   ip route replace <cidr> dev <tap> proto 87
// The routes carry their own protocol number (kRouteProtocol, "strait" for ip-route(8)) the
// way the cookie marks flows: the agent lists, changes and removes only routes with it.

#include <string>
#include <vector>

#include "control/forwarding.hpp"

namespace strait::ctl {

inline constexpr int kRouteProtocol = 87;  // 0x57, unassigned in iproute2's rt_protos

struct KernelRoute {
  IpPrefix dst;
  std::string dev;
  friend bool operator==(const KernelRoute&, const KernelRoute&) = default;
};

// Parses `ip -o route show table main proto 87` output: "10.132.0.0/14 dev strait0 scope link".
// A bare address ("10.0.0.1 dev x") is a /32 (/128). Lines it cannot read are an error.
[[nodiscard]] Result<std::vector<KernelRoute>> parse_routes(std::string_view text, int family);

class KernelRoutes : public Forwarding {
 public:
  KernelRoutes(CommandRunner& runner, std::string dev) : runner_(runner), dev_(std::move(dev)) {}
  [[nodiscard]] Result<ForwardingReport> reconcile(const DesiredState& desired) override;
  [[nodiscard]] Result<std::size_t> remove_all() override;
  [[nodiscard]] Result<std::vector<KernelRoute>> list();

 private:
  [[nodiscard]] Result<void> ip(const std::vector<std::string>& argv);
  CommandRunner& runner_;
  std::string dev_;
};

// The argv of one change, for tests and logs.
[[nodiscard]] std::vector<std::string> route_replace_argv(const KernelRoute& r);
[[nodiscard]] std::vector<std::string> route_delete_argv(const KernelRoute& r);

}  // namespace strait::ctl

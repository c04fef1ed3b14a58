#pragma once
// Where a node's traffic for remote clusters is steered to straitd: OVS flows on a bridge
// (openshift-sdn, generic) or kernel routes (route). One interface so the agent's loop does
// not care which.

#include <memory>
#include <string>
#include <vector>

#include "control/command_runner.hpp"
#include "control/ovs_flows.hpp"
#include "control/prefix.hpp"

namespace strait::ctl {

struct ForwardingReport {
  std::size_t added = 0;
  std::size_t removed = 0;
};

class Forwarding {
 public:
  virtual ~Forwarding() = default;
  // Makes the node's rules match `remote_cidrs`, touching only the agent's own rules.
  [[nodiscard]] virtual Result<ForwardingReport> reconcile(const std::vector<Prefix>& remote_cidrs) = 0;
  // Removes every rule of the agent.
  [[nodiscard]] virtual Result<std::size_t> remove_all() = 0;
};

struct ForwardingOptions {
  Profile profile = Profile::openshift_sdn;
  std::string bridge = "br0";
  std::string strait_port;  // OVS port (openshift-sdn, generic) or netdev (route) of straitd
};

[[nodiscard]] std::unique_ptr<Forwarding> make_forwarding(const ForwardingOptions& options,
                                                          CommandRunner& runner);

}  // namespace strait::ctl

#pragma once
// Where a node's traffic for remote clusters is steered to straitd: OVS flows on a bridge
// (openshift-sdn, generic), kernel routes (route), or rows in OVN's northbound database
// (ovn-kubernetes). One interface so the agent's loop does not care which.

#include <memory>
#include <string>
#include <vector>

#include "control/command_runner.hpp"
#include "control/desired_state.hpp"
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
  // Makes the node's rules match `desired` (its remote_cidrs; ovn-kubernetes also reroutes
  // from its local_subnets), touching only the agent's own rules.
  [[nodiscard]] virtual Result<ForwardingReport> reconcile(const DesiredState& desired) = 0;
  // Removes every rule of the agent.
  [[nodiscard]] virtual Result<std::size_t> remove_all() = 0;
};

struct ForwardingOptions {
  Profile profile = Profile::openshift_sdn;
  std::string bridge = "br0";
  std::string strait_port;  // OVS port (openshift-sdn, generic, ovn-kubernetes) or netdev (route)
  // ovn-kubernetes: the owner marker's value, the NB database, the node's switch, the router.
  std::string node;
  std::string ovn_nb;
  std::string ovn_switch;
  std::string ovn_router = "ovn_cluster_router";
};

[[nodiscard]] std::unique_ptr<Forwarding> make_forwarding(const ForwardingOptions& options,
                                                          CommandRunner& runner);

}  // namespace strait::ctl

#pragma once
// The agent's flows on one OVS bridge, through ovs-vsctl and ovs-ofctl (-O OpenFlow13
// everywhere). Changes go in one `ovs-ofctl --bundle add-flows` transaction, so the bridge
// never forwards with half the rules. The processes find OVS the usual way (OVS_RUNDIR).

#include <string>
#include <vector>

#include "control/forwarding.hpp"

namespace strait::ctl {

struct OvsPort {
  std::uint32_t ofport = 0;
  std::string mac;  // mac_in_use
};

class OvsBridge : public Forwarding {
 public:
  OvsBridge(CommandRunner& runner, Profile profile, std::string bridge, std::string port)
      : runner_(runner), profile_(profile), bridge_(std::move(bridge)), port_(std::move(port)) {}

  [[nodiscard]] Result<ForwardingReport> reconcile(const DesiredState& desired) override;
  [[nodiscard]] Result<std::size_t> remove_all() override;

  // The straitd port's OpenFlow number and MAC; an error while OVS has not (yet) given it one.
  [[nodiscard]] Result<OvsPort> lookup_port();
  // The agent's flows now on the bridge.
  [[nodiscard]] Result<std::vector<Flow>> dump_owned();
  // Applies a diff as one bundle.
  [[nodiscard]] Result<void> apply(const FlowDiff& diff);

 private:
  [[nodiscard]] Result<CommandOutput> ofctl(const std::vector<std::string>& argv,
                                            const std::string& stdin_text = "");

  CommandRunner& runner_;
  Profile profile_;
  std::string bridge_;
  std::string port_;
};

// The argv the bridge runs, for tests and logs.
[[nodiscard]] std::vector<std::string> dump_flows_argv(const std::string& bridge);
[[nodiscard]] std::vector<std::string> bundle_argv(const std::string& bridge);
[[nodiscard]] std::vector<std::string> del_owned_argv(const std::string& bridge);

}  // namespace strait::ctl

#pragma once
// strait-agent's command line (README.md in this directory lists every flag). Pure parsing,
// unit-tested; main.cpp acts on the result.

#include <chrono>
#include <span>
#include <string>

#include "base/result.hpp"
#include "control/ovs_flows.hpp"

namespace strait::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // --once/--cleanup could not finish; startup failed
inline constexpr int kExitUsage = 2;

struct AgentOptions {
  std::string node;       // --node, else $NODE_NAME (a DaemonSet passes spec.nodeName)
  std::string spec_path;  // --spec
  std::string ifname = "strait0";
  std::string uapi_socket;  // --uapi-socket; empty: /var/run/wireguard/<ifname>.sock
  Profile profile = Profile::openshift_sdn;
  std::string bridge = "br0";
  std::string strait_port;  // --strait-port: OVS port name, or the tap netdev for `route`
  std::string ovn_nb;       // --ovn-nb: ovn-nbctl --db (ovn-kubernetes); empty: its default
  std::string ovn_switch;   // --ovn-switch: the node's logical switch; empty: the node name
  std::string ovn_router = "ovn_cluster_router";  // --ovn-router
  std::string metrics_listen = "127.0.0.1:9477";  // "" or "off": no metrics server
  std::chrono::milliseconds resync_interval{5000};
  bool once = false;
  bool cleanup = false;          // remove everything the agent installs, then exit
  bool cleanup_on_exit = false;  // the same on SIGTERM/SIGINT
  std::string log_level = "info";
  bool log_json = false;  // --log-format json
};

enum class AgentAction : std::uint8_t { run, help, version };

struct AgentCommand {
  AgentAction action = AgentAction::run;
  AgentOptions options;
};

// argv without the program name; `node_env` is $NODE_NAME (nullptr when unset).
[[nodiscard]] Result<AgentCommand> parse_agent_args(std::span<const std::string> args,
                                                    const char* node_env);
[[nodiscard]] std::string agent_usage();

// "5s", "500ms", "1m", or a bare number of seconds.
[[nodiscard]] Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace strait::ctl

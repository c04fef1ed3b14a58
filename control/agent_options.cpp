#include "control/agent_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>

namespace strait::ctl {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) {
    return Error{fmt::format("\"{}\" is not a duration (5s, 500ms, 1m)", text)};
  }
  const std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  std::uint64_t ms = 0;
  if (unit.empty() || unit == "s") {
    ms = n * 1000;
  } else if (unit == "ms") {
    ms = n;
  } else if (unit == "m") {
    ms = n * 60000;
  } else {
    return Error{fmt::format("\"{}\": unknown unit \"{}\" (ms, s, m)", text, unit)};
  }
  if (ms < 100 || ms > 3600000) return Error{fmt::format("\"{}\": must be 100ms..1h", text)};
  return std::chrono::milliseconds(ms);
}

std::string agent_usage() {
  return R"(strait-agent: configures the local straitd's peers and the node's forwarding rules
from the mesh spec, and keeps them so.

usage: strait-agent --spec FILE [--node NAME] [options]

  --spec FILE              mesh spec (YAML); its directory is watched (ConfigMap updates)
  --node NAME              this node's name in the spec (default: $NODE_NAME)
  --ifname NAME            straitd's UAPI interface name (default strait0)
  --uapi-socket PATH       UAPI socket (default /var/run/wireguard/<ifname>.sock)
  --profile P              openshift-sdn | generic | route | ovn-kubernetes
                           (default openshift-sdn)
  --bridge BR              OVS bridge (default br0)
  --strait-port NAME       straitd's OVS port (openshift-sdn, generic; on br-int for
                           ovn-kubernetes) or tap netdev (route)
  --ovn-nb DB              ovn-kubernetes: the NB database, as ovn-nbctl --db takes it
                           (unix:/var/run/ovn/ovnnb_db.sock; in interconnect mode the
                           node's own zone's); default $OVN_NB_DB, else ovn-nbctl's
  --ovn-switch NAME        ovn-kubernetes: the node's logical switch (default: the node name)
  --ovn-router NAME        ovn-kubernetes: the cluster router (default ovn_cluster_router)
  --metrics-listen H:P     Prometheus /metrics and /healthz (default 127.0.0.1:9477; off)
  --resync-interval D      full reconcile period (default 5s; 500ms, 1m also accepted)
  --once                   reconcile once and exit (0 on success)
  --cleanup                remove the peers, flows and routes the agent installs, and exit
  --cleanup-on-exit        do the same on SIGTERM/SIGINT before exiting
  --log-level L            trace | debug | info | warn | error (default info)
  --log-format F           text (default) | json: one JSON object per record
  -h, --help               this text
  --version                version and git commit
)";
}

Result<AgentCommand> parse_agent_args(std::span<const std::string> args, const char* node_env) {
  AgentCommand cmd;
  AgentOptions& o = cmd.options;
  if (node_env != nullptr) o.node = node_env;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    const auto value = [&]() -> Result<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) return Error{flag + ": needs a value"};
      return args[++i];
    };
    const auto boolean = [&](bool& target) -> Result<void> {
      if (inline_value) return Error{flag + " takes no value"};
      target = true;
      return {};
    };
    Result<void> ok;
    if (flag == "-h" || flag == "--help") {
      cmd.action = AgentAction::help;
      return cmd;
    } else if (flag == "--version") {
      cmd.action = AgentAction::version;
      return cmd;
    } else if (flag == "--once") {
      ok = boolean(o.once);
    } else if (flag == "--cleanup") {
      ok = boolean(o.cleanup);
    } else if (flag == "--cleanup-on-exit") {
      ok = boolean(o.cleanup_on_exit);
    } else if (flag != "--node" && flag != "--spec" && flag != "--ifname" &&
               flag != "--uapi-socket" && flag != "--profile" && flag != "--bridge" &&
               flag != "--strait-port" && flag != "--metrics-listen" && flag != "--ovn-nb" &&
               flag != "--ovn-switch" && flag != "--ovn-router" && flag != "--resync-interval" &&
               flag != "--log-level" && flag != "--log-format") {
      return Error{"unknown option \"" + flag + "\" (see --help)"};
    } else {
      auto v = value();
      if (!v) return v.error();
      if (flag == "--node") {
        o.node = *v;
      } else if (flag == "--spec") {
        o.spec_path = *v;
      } else if (flag == "--ifname") {
        o.ifname = *v;
      } else if (flag == "--uapi-socket") {
        o.uapi_socket = *v;
      } else if (flag == "--profile") {
        auto p = profile_from_name(*v);
        if (!p) {
          return Error{"--profile: \"" + *v +
                       "\" is not openshift-sdn, generic, route or ovn-kubernetes"};
        }
        o.profile = *p;
      } else if (flag == "--bridge") {
        o.bridge = *v;
      } else if (flag == "--strait-port") {
        o.strait_port = *v;
      } else if (flag == "--ovn-nb") {
        o.ovn_nb = *v;
      } else if (flag == "--ovn-switch") {
        o.ovn_switch = *v;
      } else if (flag == "--ovn-router") {
        o.ovn_router = *v;
      } else if (flag == "--metrics-listen") {
        o.metrics_listen = *v == "off" ? "" : *v;
      } else if (flag == "--resync-interval") {
        auto d = parse_duration(*v);
        if (!d) return Error{"--resync-interval: " + d.error().message};
        o.resync_interval = *d;
      } else if (flag == "--log-format") {
        if (*v != "text" && *v != "json") {
          return Error{"--log-format: \"" + *v + "\" is not text or json"};
        }
        o.log_json = *v == "json";
      } else {  // --log-level
        static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                       "error", "critical", "off"};
        if (std::find(std::begin(kLevels), std::end(kLevels), *v) == std::end(kLevels)) {
          return Error{"--log-level: \"" + *v + "\" is not trace, debug, info, warn or error"};
        }
        o.log_level = *v;
      }
    }
    if (!ok) return ok.error();
  }
  if (o.spec_path.empty()) return Error{"--spec FILE is required"};
  if (o.node.empty()) return Error{"no node name: pass --node or set NODE_NAME"};
  if (o.strait_port.empty()) {
    return Error{"--strait-port is required: straitd's OVS port name (or its tap for route)"};
  }
  if (o.ifname.empty() || o.ifname.size() > 15 || o.ifname.find('/') != std::string::npos) {
    return Error{"--ifname: 1..15 characters, no '/'"};
  }
  if (o.once && o.cleanup) return Error{"--once and --cleanup exclude each other"};
  return cmd;
}

}  // namespace strait::ctl

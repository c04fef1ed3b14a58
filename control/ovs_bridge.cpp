#include "control/ovs_bridge.hpp"

#include <fmt/format.h>

namespace strait::ctl {

namespace {

std::string cookie_selector() { return fmt::format("cookie={:#x}/{:#x}", kCookie, kCookieMask); }

std::string strip(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

std::vector<std::string> dump_flows_argv(const std::string& bridge) {
  return {"ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows", bridge, cookie_selector()};
}

std::vector<std::string> bundle_argv(const std::string& bridge) {
  return {"ovs-ofctl", "-O", "OpenFlow13", "--bundle", "add-flows", bridge, "-"};
}

std::vector<std::string> del_owned_argv(const std::string& bridge) {
  return {"ovs-ofctl", "-O", "OpenFlow13", "del-flows", bridge, cookie_selector()};
}

Result<CommandOutput> OvsBridge::ofctl(const std::vector<std::string>& argv,
                                       const std::string& stdin_text) {
  auto r = runner_.run(argv, stdin_text);
  if (!r) return r.error();
  if (r->exit_code != 0) {
    return Error{EIO, fmt::format("{}: {}", command_line(argv), describe_failure(*r))};
  }
  return r;
}

Result<OvsPort> OvsBridge::lookup_port() {
  const std::vector<std::string> argv = {"ovs-vsctl", "--timeout=5", "get",       "Interface",
                                         port_,       "ofport",      "mac_in_use"};
  auto r = ofctl(argv);
  if (!r) return r.error();
  const std::string& out = r->out;
  const auto nl = out.find('\n');
  OvsPort port;
  const std::string ofport = strip(out.substr(0, nl));
  try {
    const long n = std::stol(ofport);
    if (n <= 0 || n >= 0xff00) throw std::out_of_range("not a port");
    port.ofport = static_cast<std::uint32_t>(n);
  } catch (const std::exception&) {
    return Error{ENODEV, fmt::format("OVS port \"{}\" has no OpenFlow port number yet (ofport={})",
                                     port_, ofport)};
  }
  if (nl != std::string::npos) port.mac = strip(out.substr(nl + 1));
  return port;
}

Result<std::vector<Flow>> OvsBridge::dump_owned() {
  auto r = ofctl(dump_flows_argv(bridge_));
  if (!r) return r.error();
  return parse_dump_flows(r->out);
}

Result<void> OvsBridge::apply(const FlowDiff& diff) {
  if (diff.empty()) return {};
  auto r = ofctl(bundle_argv(bridge_), bundle_text(diff));
  if (!r) return r.error();
  return {};
}

Result<ForwardingReport> OvsBridge::reconcile(const DesiredState& desired) {
  auto port = lookup_port();
  if (!port) return port.error();
  FlowInputs in{port->ofport, port->mac, desired.remote_cidrs};
  if (profile_ == Profile::generic && in.strait_mac.empty()) {
    return Error{ENODEV, fmt::format("OVS port \"{}\" reports no MAC address", port_)};
  }
  const std::vector<Flow> wanted = render_flows(profile_, in);
  auto have = dump_owned();
  if (!have) return have.error();
  const FlowDiff diff = diff_flows(wanted, *have);
  if (auto r = apply(diff); !r) return r.error();
  return ForwardingReport{diff.add.size(), diff.remove.size()};
}

Result<std::size_t> OvsBridge::remove_all() {
  auto have = dump_owned();
  if (!have) return have.error();
  if (have->empty()) return std::size_t{0};
  auto r = ofctl(del_owned_argv(bridge_));
  if (!r) return r.error();
  return have->size();
}

}  // namespace strait::ctl

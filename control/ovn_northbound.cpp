#include "control/ovn_northbound.hpp"

#include <fmt/format.h>

namespace strait::ctl {

namespace {

std::string first_line(const std::string& s) {
  std::string l = s.substr(0, s.find('\n'));
  if (l.size() >= 2 && l.front() == '"' && l.back() == '"') l = l.substr(1, l.size() - 2);
  return l;
}

}  // namespace

Result<CommandOutput> OvnNorthbound::run(const std::vector<std::string>& argv) {
  auto r = runner_.run(argv, "");
  if (!r) return r.error();
  if (r->exit_code != 0) {
    return Error{EIO, fmt::format("{}: {}", command_line(argv), describe_failure(*r))};
  }
  return r;
}

std::vector<std::string> OvnNorthbound::nbctl(std::vector<std::string> args) const {
  std::vector<std::string> argv = {"ovn-nbctl", "--timeout=5"};
  if (!target_.nb_db.empty()) argv.push_back("--db=" + target_.nb_db);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<std::string> OvnNorthbound::bind_port() {
  auto mac = run({"ovs-vsctl", "--timeout=5", "get", "Interface", target_.ovs_port, "mac_in_use"});
  if (!mac) return mac.error();
  const std::string m = first_line(mac->out);
  if (m.empty() || m == "[]") {
    return Error{ENODEV,
                 fmt::format("OVS port \"{}\" reports no MAC address yet", target_.ovs_port)};
  }
  auto id = run({"ovs-vsctl", "--timeout=5", "--if-exists", "get", "Interface", target_.ovs_port,
                 "external_ids:iface-id"});
  if (!id) return id.error();
  if (first_line(id->out) != target_.port_name()) {
    // ovn-controller binds the logical port to this chassis once an interface on br-int
    // names it; straitd re-adding its port (a restart) drops the key, so it is checked
    // every resync like the rows.
    auto set = run({"ovs-vsctl", "--timeout=5", "set", "Interface", target_.ovs_port,
                    "external_ids:iface-id=" + target_.port_name()});
    if (!set) return set.error();
  }
  return m;
}

Result<OvnPort> OvnNorthbound::read_port() {
  auto r = run(nbctl({"--format=csv", "--data=bare", "--no-headings",
                      "--columns=name,addresses,external_ids", "find", "Logical_Switch_Port",
                      "name=" + target_.port_name()}));
  if (!r) return r.error();
  return parse_ovn_port(r->out);
}

Result<std::vector<OvnPolicy>> OvnNorthbound::read_policies() {
  auto r = run(nbctl({"--format=csv", "--data=bare", "--no-headings",
                      "--columns=_uuid,priority,match,nexthops", "find", "Logical_Router_Policy",
                      fmt::format("external_ids:\"{}\"=\"{}\"", kOvnOwnerKey, target_.node)}));
  if (!r) return r.error();
  return parse_ovn_policies(r->out);
}

Result<ForwardingReport> OvnNorthbound::reconcile(const DesiredState& desired) {
  auto mac = bind_port();
  if (!mac) return mac.error();
  auto want = render_ovn_rows(OvnInputs{target_.node, target_.port_name(), *mac,
                                        desired.local_subnets, desired.remote_cidrs});
  if (!want) return want.error();
  auto port = read_port();
  if (!port) return port.error();
  if (!port->name.empty() && port->owner != target_.node) {
    return Error{EEXIST, fmt::format("Logical_Switch_Port {} exists and is not this agent's "
                                     "(external_ids {}=\"{}\"): left alone",
                                     port->name, kOvnOwnerKey, port->owner)};
  }
  auto policies = read_policies();
  if (!policies) return policies.error();
  const OvnDiff diff = diff_ovn_rows(*want, *port, *policies);
  if (diff.empty()) return ForwardingReport{};
  auto r = run(nbctl(
      ovn_transaction_args(diff, *want, target_.node, target_.logical_switch, target_.router)));
  if (!r) return r.error();
  return ForwardingReport{diff.add.size() + (diff.port ? 1 : 0), diff.remove.size()};
}

Result<std::size_t> OvnNorthbound::remove_all() {
  auto port = read_port();
  if (!port) return port.error();
  auto policies = read_policies();
  if (!policies) return policies.error();
  OvnDiff diff;
  for (const OvnPolicy& p : *policies) diff.remove.push_back(p.uuid);
  std::vector<std::string> args =
      ovn_transaction_args(diff, OvnRows{}, target_.node, target_.logical_switch, target_.router);
  const bool ours = !port->name.empty() && port->owner == target_.node;
  if (ours) {
    if (!args.empty()) args.emplace_back("--");
    args.insert(args.end(), {"--if-exists", "lsp-del", port->name});
  }
  if (args.empty()) return std::size_t{0};
  auto r = run(nbctl(std::move(args)));
  if (!r) return r.error();
  return policies->size() + (ours ? 1 : 0);
}

}  // namespace strait::ctl

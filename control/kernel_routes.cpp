#include "control/kernel_routes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "control/ovn_northbound.hpp"
#include "control/ovs_bridge.hpp"

namespace strait::ctl {

Result<std::vector<KernelRoute>> parse_routes(std::string_view text, int family) {
  std::vector<KernelRoute> routes;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string dst, word;
    if (!(words >> dst)) continue;
    if (dst.find('/') == std::string::npos) dst += family == 4 ? "/32" : "/128";
    auto prefix = IpPrefix::parse(dst);
    if (!prefix) return Error{fmt::format("ip route: cannot read \"{}\"", line)};
    KernelRoute r{*prefix, ""};
    while (words >> word) {
      if (word == "dev") words >> r.dev;
    }
    routes.push_back(std::move(r));
  }
  return routes;
}

namespace {

// `ip -4|-6 route VERB DST dev DEV proto 87`: the one form of every route command we run.
std::vector<std::string> route_argv(const char* verb, const KernelRoute& r) {
  return {"ip",
          r.dst.family == IpFamily::v4 ? "-4" : "-6",
          "route",
          verb,
          r.dst.to_string(),
          "dev",
          r.dev,
          "proto",
          std::to_string(kRouteProtocol)};
}

}  // namespace

std::vector<std::string> route_replace_argv(const KernelRoute& r) {
  return route_argv("replace", r);
}

std::vector<std::string> route_delete_argv(const KernelRoute& r) { return route_argv("del", r); }

Result<void> KernelRoutes::ip(const std::vector<std::string>& argv) {
  auto r = runner_.run(argv, "");
  if (!r) return r.error();
  if (r->exit_code != 0) {
    return Error{EIO, fmt::format("{}: {}", command_line(argv), describe_failure(*r))};
  }
  return {};
}

Result<std::vector<KernelRoute>> KernelRoutes::list() {
  std::vector<KernelRoute> all;
  for (int family : {4, 6}) {
    const std::vector<std::string> argv = {
        "ip",    family == 4 ? "-4" : "-6",     "-o", "route", "show", "table", "main",
        "proto", std::to_string(kRouteProtocol)};
    auto r = runner_.run(argv, "");
    if (!r) return r.error();
    if (r->exit_code != 0) {
      return Error{EIO, fmt::format("{}: {}", command_line(argv), describe_failure(*r))};
    }
    auto routes = parse_routes(r->out, family);
    if (!routes) return routes.error();
    all.insert(all.end(), routes->begin(), routes->end());
  }
  return all;
}

Result<ForwardingReport> KernelRoutes::reconcile(const DesiredState& desired) {
  const std::vector<IpPrefix>& remote_cidrs = desired.remote_cidrs;
  auto have = list();
  if (!have) return have.error();
  ForwardingReport report;
  std::vector<KernelRoute> wanted;
  wanted.reserve(remote_cidrs.size());
  for (const IpPrefix& p : remote_cidrs) wanted.push_back({p, dev_});
  for (const KernelRoute& r : *have) {
    if (std::find(wanted.begin(), wanted.end(), r) != wanted.end()) continue;
    // A route of ours no longer wanted, or on another device: `replace` below would move a
    // wanted prefix anyway, so only delete what no wanted route reuses.
    const bool reused = std::any_of(wanted.begin(), wanted.end(),
                                    [&](const KernelRoute& w) { return w.dst == r.dst; });
    if (reused) continue;
    if (auto e = ip(route_delete_argv(r)); !e) return e.error();
    ++report.removed;
  }
  for (const KernelRoute& w : wanted) {
    if (std::find(have->begin(), have->end(), w) != have->end()) continue;
    if (auto e = ip(route_replace_argv(w)); !e) return e.error();
    ++report.added;
  }
  return report;
}

Result<std::size_t> KernelRoutes::remove_all() {
  auto have = list();
  if (!have) return have.error();
  for (const KernelRoute& r : *have) {
    if (auto e = ip(route_delete_argv(r)); !e) return e.error();
  }
  return have->size();
}

std::unique_ptr<Forwarding> make_forwarding(const ForwardingOptions& o, CommandRunner& runner) {
  if (o.profile == Profile::route) return std::make_unique<KernelRoutes>(runner, o.strait_port);
  if (o.profile == Profile::ovn_kubernetes) {
    return std::make_unique<OvnNorthbound>(
        runner, OvnTarget{o.node, o.ovn_nb, o.ovn_switch.empty() ? o.node : o.ovn_switch,
                          o.ovn_router, o.bridge, o.strait_port});
  }
  return std::make_unique<OvsBridge>(runner, o.profile, o.bridge, o.strait_port);
}

}  // namespace strait::ctl

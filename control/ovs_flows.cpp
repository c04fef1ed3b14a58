#include "control/ovs_flows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace strait::ctl {

namespace {

std::string cidr_match(const IpPrefix& p, bool source) {
  if (p.family == IpFamily::v4) {
    return fmt::format("ip,{}={}", source ? "nw_src" : "nw_dst", p.to_string());
  }
  return fmt::format("ipv6,{}={}", source ? "ipv6_src" : "ipv6_dst", p.to_string());
}

// "ip,in_port=5,nw_src=..." with in_port placed after the protocol, as OVS prints it.
std::string with_in_port(const std::string& match, std::uint32_t port) {
  const auto comma = match.find(',');
  return fmt::format("{},in_port={}{}", match.substr(0, comma), port, match.substr(comma));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = s.find(sep, start);
    const auto piece =
        s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!piece.empty()) out.emplace_back(piece);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string_view profile_name(Profile p) {
  switch (p) {
    case Profile::openshift_sdn: return "openshift-sdn";
    case Profile::generic: return "generic";
    case Profile::route: return "route";
    case Profile::ovn_kubernetes: return "ovn-kubernetes";
  }
  return "unknown";
}

std::optional<Profile> profile_from_name(std::string_view name) {
  for (Profile p :
       {Profile::openshift_sdn, Profile::generic, Profile::route, Profile::ovn_kubernetes}) {
    if (profile_name(p) == name) return p;
  }
  return std::nullopt;
}

std::vector<Flow> render_flows(Profile profile, const FlowInputs& in) {
  std::vector<Flow> flows;
  const std::string out_port = fmt::format("output:{}", in.strait_ofport);
  for (const IpPrefix& cidr : in.remote_cidrs) {
    switch (profile) {
      case Profile::openshift_sdn:
        // (1) general routing: IP to a remote cluster leaves through straitd, not tun0.
        flows.push_back({30, kSdnTable30Priority, cidr_match(cidr, false), out_port});
        // (2) classification: decrypted IP from a remote cluster skips table 20's per-pod
        // source check (its source is no local pod) and is routed by table 30 -> 70 -> 80.
        flows.push_back({0, kSdnTable0Priority,
                         with_in_port(cidr_match(cidr, true), in.strait_ofport), "goto_table:30"});
        break;
      case Profile::generic:
        // To a remote cluster: give the frame straitd's MAC (a veth/af_xdp port would drop a
        // frame for another MAC), then out to straitd. OpenFlow 1.3 prints mod_dl_dst as
        // set_field, and so do we, to compare with dumps.
        flows.push_back({0, kGenericPriority, cidr_match(cidr, false),
                         fmt::format("set_field:{}->eth_dst,{}", in.strait_mac, out_port)});
        // From a remote cluster: ordinary L2 delivery; straitd wrote the destination MAC.
        flows.push_back({0, kGenericPriority,
                         with_in_port(cidr_match(cidr, true), in.strait_ofport), "NORMAL"});
        break;
      case Profile::route:           // kernel routes (kernel_routes.hpp)
      case Profile::ovn_kubernetes:  // OVN rows; ovn-controller writes br-int's flows
        break;
    }
  }
  std::sort(flows.begin(), flows.end(), flow_less);
  return flows;
}

std::string normalized(const Flow& f) {
  auto fields = split(f.match, ',');
  std::sort(fields.begin(), fields.end());
  std::string match;
  for (const auto& x : fields) match += (match.empty() ? "" : ",") + x;
  return fmt::format("table={}, priority={}, {} actions={}", f.table, f.priority, match, f.actions);
}

bool flow_less(const Flow& a, const Flow& b) {
  if (a.table != b.table) return a.table < b.table;
  if (a.priority != b.priority) return a.priority > b.priority;
  return normalized(a) < normalized(b);
}

std::string add_line(const Flow& f) {
  return fmt::format("add cookie={:#x},table={},priority={},{},actions={}", kCookie, f.table,
                     f.priority, f.match, f.actions);
}

std::string delete_line(const Flow& f) {
  return fmt::format("delete_strict cookie={:#x}/-1,table={},priority={},{}", kCookie, f.table,
                     f.priority, f.match);
}

Result<std::vector<Flow>> parse_dump_flows(std::string_view text) {
  std::vector<Flow> flows;
  for (const std::string& raw : split(text, '\n')) {
    const std::string_view line = trim(raw);
    if (line.empty() || line.starts_with("OFPST_FLOW") || line.starts_with("NXST_FLOW")) continue;
    // " cookie=0x.., duration=1s, table=0, n_packets=0, n_bytes=0, priority=1,ip actions=x"
    const auto actions_at = line.find(" actions=");
    if (actions_at == std::string_view::npos) {
      return Error{fmt::format("dump-flows: not a flow: \"{}\"", line)};
    }
    Flow f;
    f.actions = std::string(trim(line.substr(actions_at + 9)));
    std::optional<std::uint64_t> cookie;
    bool have_priority = false;
    f.priority = 32768;  // OFP_DEFAULT_PRIORITY, which dumps leave out
    std::vector<std::string> match;
    for (std::string field : split(line.substr(0, actions_at), ',')) {
      field = std::string(trim(field));
      const auto eq = field.find('=');
      const std::string key = field.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
      try {
        if (key == "cookie") {
          cookie = std::stoull(value, nullptr, 0);
        } else if (key == "table") {
          f.table = static_cast<std::uint8_t>(std::stoul(value));
        } else if (key == "priority") {
          f.priority = static_cast<std::uint16_t>(std::stoul(value));
          have_priority = true;
        } else if (key == "duration" || key == "n_packets" || key == "n_bytes" ||
                   key == "idle_age" || key == "hard_age" || key == "idle_timeout" ||
                   key == "hard_timeout" || key == "reset_counts" || key == "importance" ||
                   key == "send_flow_rem" || key == "check_overlap" || key == "no_packet_counts" ||
                   key == "no_byte_counts") {
          // statistics and flow-mod flags: not part of what the flow does
        } else {
          match.push_back(field);
        }
      } catch (const std::exception&) {
        return Error{fmt::format("dump-flows: bad {} in \"{}\"", key, line)};
      }
    }
    (void)have_priority;
    if (!cookie || (*cookie & kCookieMask) != (kCookie & kCookieMask)) continue;
    for (const auto& m : match) f.match += (f.match.empty() ? "" : ",") + m;
    flows.push_back(std::move(f));
  }
  std::sort(flows.begin(), flows.end(), flow_less);
  return flows;
}

FlowDiff diff_flows(const std::vector<Flow>& wanted, const std::vector<Flow>& have) {
  FlowDiff d;
  std::map<std::string, const Flow*> want_by_key;
  for (const Flow& f : wanted) want_by_key.emplace(normalized(f), &f);
  std::set<std::string> present;
  // A flow with the same table, priority and match but other actions is replaced: the
  // delete_strict of the old one and the add of the new one go in the same bundle.
  for (const Flow& f : have) {
    const std::string key = normalized(f);
    if (want_by_key.count(key) != 0 && present.insert(key).second) continue;
    d.remove.push_back(f);
  }
  for (const Flow& f : wanted) {
    if (present.count(normalized(f)) == 0) d.add.push_back(f);
  }
  return d;
}

std::string bundle_text(const FlowDiff& diff) {
  std::string out;
  for (const Flow& f : diff.remove) out += delete_line(f) + "\n";
  for (const Flow& f : diff.add) out += add_line(f) + "\n";
  return out;
}

}  // namespace strait::ctl

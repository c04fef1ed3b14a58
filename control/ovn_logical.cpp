#include "control/ovn_logical.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace strait::ctl {

namespace {

std::string address_only(const IpPrefix& p) {
  std::string s = p.to_string();
  return s.substr(0, s.find('/'));
}

std::string ip_field(const IpPrefix& p) { return p.family == IpFamily::v4 ? "ip4" : "ip6"; }

// "k=v k2=v2" (bare map) -> the value of `key`, empty when absent.
std::string map_value(std::string_view bare, std::string_view key) {
  std::size_t at = 0;
  while (at < bare.size()) {
    std::size_t end = bare.find(' ', at);
    if (end == std::string_view::npos) end = bare.size();
    const std::string_view item = bare.substr(at, end - at);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      std::string_view v = item.substr(key.size() + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    at = end + 1;
  }
  return {};
}

// An OVSDB string atom as ovn-nbctl's argument parser reads it: always quoted, so that dots,
// slashes, colons and spaces in matches, addresses and node names stay one atom.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

}  // namespace

std::string ovn_nexthop(const IpPrefix& subnet) {
  IpPrefix p = subnet;
  const int bits = static_cast<int>(p.max_len());
  for (int i = p.len; i < bits; ++i) p.addr[i / 8] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
  // All ones minus one: the last usable host (IPv4's all-ones is the broadcast address).
  for (int i = bits / 8 - 1; i >= 0; --i) {
    if (p.addr[i]-- != 0) break;
  }
  p.len = static_cast<std::uint8_t>(bits);
  return address_only(p);
}

Result<OvnRows> render_ovn_rows(const OvnInputs& in) {
  OvnRows rows;
  rows.port.name = in.port_name;
  rows.port.owner = in.node;
  std::string v4, v6;
  for (const IpPrefix& s : in.local_subnets) {
    const int bits = static_cast<int>(s.max_len());
    if (s.len + 2 > bits) continue;  // a /31 or /32 has no host to spare
    std::string& hop = s.family == IpFamily::v4 ? v4 : v6;
    if (hop.empty()) hop = ovn_nexthop(s);
  }
  if (v4.empty() && v6.empty()) {
    return Error{
        fmt::format("ovn-kubernetes: node {} has no pod subnet with room for "
                    "straitd's address (pod_subnets of the spec)",
                    in.node)};
  }
  rows.port.addresses = in.mac;
  if (!v4.empty()) rows.port.addresses += " " + v4;
  if (!v6.empty()) rows.port.addresses += " " + v6;
  for (const IpPrefix& local : in.local_subnets) {
    const std::string& hop = local.family == IpFamily::v4 ? v4 : v6;
    if (hop.empty()) continue;
    for (const IpPrefix& remote : in.remote_cidrs) {
      if (remote.family != local.family) continue;
      OvnPolicy p;
      p.match = fmt::format("{0}.src == {1} && {0}.dst == {2}", ip_field(local), local.to_string(),
                            remote.to_string());
      p.nexthop = hop;
      rows.policies.push_back(std::move(p));
    }
  }
  std::sort(rows.policies.begin(), rows.policies.end(),
            [](const OvnPolicy& a, const OvnPolicy& b) { return a.match < b.match; });
  return rows;
}

Result<std::vector<std::vector<std::string>>> parse_nbctl_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      in_quotes = true;
      any = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
      }
      field.clear();
      row.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (in_quotes) return Error{"ovn-nbctl CSV: unterminated quoted field"};
  if (any || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::vector<OvnPolicy>> parse_ovn_policies(std::string_view csv) {
  auto rows = parse_nbctl_csv(csv);
  if (!rows) return rows.error();
  std::vector<OvnPolicy> out;
  for (const auto& r : *rows) {
    if (r.size() != 4) {
      return Error{
          fmt::format("ovn-nbctl find Logical_Router_Policy: {} columns, want 4 "
                      "(_uuid,priority,match,nexthops)",
                      r.size())};
    }
    OvnPolicy p;
    p.uuid = r[0];
    try {
      p.priority = std::stoi(r[1]);
    } catch (const std::exception&) {
      return Error{"ovn-nbctl find Logical_Router_Policy: priority \"" + r[1] + "\""};
    }
    p.match = r[2];
    p.nexthop = r[3];  // one next hop (bare); several would never equal a rendered one
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const OvnPolicy& a, const OvnPolicy& b) { return a.match < b.match; });
  return out;
}

Result<OvnPort> parse_ovn_port(std::string_view csv) {
  auto rows = parse_nbctl_csv(csv);
  if (!rows) return rows.error();
  OvnPort port;
  if (rows->empty()) return port;
  const auto& r = rows->front();
  if (rows->size() != 1 || r.size() != 3) {
    return Error{
        "ovn-nbctl find Logical_Switch_Port: want one row of 3 columns "
        "(name,addresses,external_ids)"};
  }
  port.name = r[0];
  port.addresses = r[1];
  port.owner = map_value(r[2], kOvnOwnerKey);
  return port;
}

OvnDiff diff_ovn_rows(const OvnRows& want, const OvnPort& have_port,
                      const std::vector<OvnPolicy>& have_policies) {
  OvnDiff d;
  d.port = have_port.name.empty() || have_port.addresses != want.port.addresses ||
           have_port.owner != want.port.owner;
  std::vector<bool> kept(have_policies.size(), false);
  for (const OvnPolicy& w : want.policies) {
    bool found = false;
    for (std::size_t i = 0; i < have_policies.size(); ++i) {
      if (!kept[i] && have_policies[i].same_rule(w)) {
        kept[i] = found = true;
        break;
      }
    }
    if (!found) d.add.push_back(w);
  }
  for (std::size_t i = 0; i < have_policies.size(); ++i) {
    if (!kept[i]) d.remove.push_back(have_policies[i].uuid);
  }
  return d;
}

std::vector<std::string> ovn_transaction_args(const OvnDiff& diff, const OvnRows& want,
                                              const std::string& node,
                                              const std::string& logical_switch,
                                              const std::string& router) {
  const std::string owner = fmt::format("external_ids:{}={}", quoted(kOvnOwnerKey), quoted(node));
  std::vector<std::string> a;
  auto next = [&a] {
    if (!a.empty()) a.emplace_back("--");
  };
  if (diff.port) {
    next();
    a.insert(a.end(), {"--may-exist", "lsp-add", logical_switch, want.port.name});
    next();
    a.insert(a.end(), {"lsp-set-addresses", want.port.name, want.port.addresses});
    next();
    a.insert(a.end(), {"set", "Logical_Switch_Port", want.port.name, owner});
  }
  for (std::size_t i = 0; i < diff.add.size(); ++i) {
    const OvnPolicy& p = diff.add[i];
    const std::string id = fmt::format("@strait{}", i);
    next();
    a.insert(a.end(), {"--id=" + id, "create", "Logical_Router_Policy",
                       fmt::format("priority={}", p.priority), "match=" + quoted(p.match),
                       "action=reroute", "nexthops=" + quoted(p.nexthop), owner});
    next();
    a.insert(a.end(), {"add", "Logical_Router", router, "policies", id});
  }
  for (const std::string& uuid : diff.remove) {
    next();
    a.insert(a.end(), {"remove", "Logical_Router", router, "policies", uuid});
  }
  return a;
}

}  // namespace strait::ctl

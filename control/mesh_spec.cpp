#include "control/mesh_spec.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/key_base64.hpp"

namespace strait::ctl {

namespace {

// Collects every error of one parse, each prefixed with where it is.
class Problems {
 public:
  void add(const std::string& where, const YAML::Node& at, std::string_view what) {
    if (at && at.Mark().line >= 0) {
      lines_.push_back(fmt::format("{} (line {}): {}", where, at.Mark().line + 1, what));
    } else {
      lines_.push_back(fmt::format("{}: {}", where, what));
    }
  }
  [[nodiscard]] bool empty() const { return lines_.empty(); }
  [[nodiscard]] std::string joined() const {
    std::string out;
    for (const auto& l : lines_) {
      if (!out.empty()) out += '\n';
      out += l;
    }
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

// "nodes[3] (b2)" once the name is known, "nodes[3]" before.
std::string entry_name(std::string_view list, std::size_t i, const std::string& name) {
  return name.empty() ? fmt::format("{}[{}]", list, i) : fmt::format("{}[{}] ({})", list, i, name);
}

void check_keys(const YAML::Node& map, const std::string& where,
                std::initializer_list<std::string_view> known, Problems& p) {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      p.add(where, kv.first, fmt::format("unknown key \"{}\"", key));
    }
  }
}

// A required scalar string field; empty optional (and a problem) when missing or not a scalar.
std::optional<std::string> scalar(const YAML::Node& map, const char* key, const std::string& where,
                                  Problems& p) {
  const YAML::Node v = map[key];
  if (!v) {
    p.add(where, map, fmt::format("missing required field \"{}\"", key));
    return std::nullopt;
  }
  if (!v.IsScalar() || v.Scalar().empty()) {
    p.add(where + "." + key, v, "must be a non-empty string");
    return std::nullopt;
  }
  return v.Scalar();
}

template <class T>
std::optional<T> number(const YAML::Node& v, T max, const std::string& where, Problems& p) {
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    if (!s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), ::isdigit)) {
      const unsigned long n = std::stoul(s);
      if (n <= max) return static_cast<T>(n);
    }
  }
  p.add(where, v, fmt::format("must be an integer 0..{}", max));
  return std::nullopt;
}

void parse_defaults(const YAML::Node& d, MeshSpec& spec, Problems& p) {
  if (!d.IsMap()) {
    p.add("defaults", d, "must be a mapping");
    return;
  }
  check_keys(d, "defaults", {"listen_port", "persistent_keepalive"}, p);
  if (d["listen_port"]) {
    spec.defaults.listen_port =
        number<std::uint16_t>(d["listen_port"], 65535, "defaults.listen_port", p);
  }
  if (d["persistent_keepalive"]) {
    if (auto v = number<std::uint16_t>(d["persistent_keepalive"], 65535,
                                       "defaults.persistent_keepalive", p)) {
      spec.defaults.persistent_keepalive = *v;
    }
  }
}

void parse_clusters(const YAML::Node& list, MeshSpec& spec, Problems& p) {
  if (!list || !list.IsSequence() || list.size() == 0) {
    p.add("clusters", list, "must be a non-empty list");
    return;
  }
  std::map<std::string, std::size_t> names;
  // (cidr, where) of every pod CIDR seen so far, for the overlap check.
  std::vector<std::pair<IpPrefix, std::string>> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node c = list[i];
    std::string where = entry_name("clusters", i, "");
    if (!c.IsMap()) {
      p.add(where, c, "must be a mapping with name and pod_cidrs");
      continue;
    }
    Cluster cluster;
    if (auto name = scalar(c, "name", where, p)) cluster.name = *name;
    where = entry_name("clusters", i, cluster.name);
    check_keys(c, where, {"name", "pod_cidrs"}, p);
    if (!cluster.name.empty()) {
      if (auto [it, fresh] = names.emplace(cluster.name, i); !fresh) {
        p.add(where + ".name", c["name"],
              fmt::format("duplicate cluster name (also clusters[{}])", it->second));
      }
    }
    const YAML::Node cidrs = c["pod_cidrs"];
    if (!cidrs || !cidrs.IsSequence() || cidrs.size() == 0) {
      p.add(where + ".pod_cidrs", cidrs ? cidrs : c, "must be a non-empty list of CIDRs");
    } else {
      for (std::size_t j = 0; j < cidrs.size(); ++j) {
        const std::string field = fmt::format("{}.pod_cidrs[{}]", where, j);
        if (!cidrs[j].IsScalar()) {
          p.add(field, cidrs[j], "must be a CIDR string");
          continue;
        }
        auto prefix = parse_prefix(cidrs[j].Scalar());
        if (!prefix) {
          p.add(field, cidrs[j],
                fmt::format("\"{}\" is not a valid CIDR: {}", cidrs[j].Scalar(),
                            prefix.error().message));
          continue;
        }
        for (const auto& [other, other_where] : seen) {
          if (prefixes_overlap(*prefix, other)) {
            p.add(field, cidrs[j],
                  fmt::format("{} overlaps {} of {}", prefix->to_string(), other.to_string(),
                              other_where));
          }
        }
        seen.emplace_back(*prefix, field);
        cluster.pod_cidrs.push_back(*prefix);
      }
    }
    spec.clusters.push_back(std::move(cluster));
  }
}

// One pod subnet of a node: a CIDR inside its cluster's pod_cidrs that overlaps no other
// node's subnet (nor another of its own). `subnets` holds every subnet seen so far.
void add_pod_subnet(const YAML::Node& v, const std::string& field, const Cluster* cluster,
                    Node& node, std::vector<std::pair<IpPrefix, std::string>>& subnets,
                    Problems& p) {
  if (!v.IsScalar() || v.Scalar().empty()) {
    p.add(field, v, "must be a CIDR string");
    return;
  }
  auto prefix = parse_prefix(v.Scalar());
  if (!prefix) {
    p.add(field, v,
          fmt::format("\"{}\" is not a valid CIDR: {}", v.Scalar(), prefix.error().message));
    return;
  }
  if (cluster != nullptr &&
      std::none_of(cluster->pod_cidrs.begin(), cluster->pod_cidrs.end(),
                   [&](const IpPrefix& c) { return prefix_contains(c, *prefix); })) {
    p.add(field, v,
          fmt::format("{} is not inside any pod_cidrs of cluster \"{}\"", prefix->to_string(),
                      cluster->name));
  }
  for (const auto& [other, other_where] : subnets) {
    if (prefixes_overlap(*prefix, other)) {
      p.add(
          field, v,
          fmt::format("{} overlaps {} of {}", prefix->to_string(), other.to_string(), other_where));
    }
  }
  subnets.emplace_back(*prefix, field);
  node.pod_subnets.push_back(*prefix);
}

// `pod_subnets: [cidr, ...]` (several per node: dual-stack, or several blocks as Calico
// allocates them). The older single `pod_subnet: cidr` stays accepted, because operators
// have ConfigMaps written with it; a node giving both is refused rather than guessed at.
void parse_pod_subnets(const YAML::Node& n, const std::string& where, const Cluster* cluster,
                       Node& node, std::vector<std::pair<IpPrefix, std::string>>& subnets,
                       Problems& p) {
  const YAML::Node list = n["pod_subnets"];
  const YAML::Node single = n["pod_subnet"];
  if (list && single) {
    p.add(where + ".pod_subnet", single,
          "give either pod_subnets (a list) or the older pod_subnet (one CIDR), not both; "
          "move this CIDR into pod_subnets");
    return;
  }
  if (single) {
    if (!single.IsScalar() || single.Scalar().empty()) {
      p.add(where + ".pod_subnet", single,
            "must be a non-empty string (one CIDR; use pod_subnets for a list)");
      return;
    }
    add_pod_subnet(single, where + ".pod_subnet", cluster, node, subnets, p);
    return;
  }
  if (!list) {
    p.add(where, n, "missing required field \"pod_subnets\"");
    return;
  }
  if (!list.IsSequence() || list.size() == 0) {
    p.add(where + ".pod_subnets", list, "must be a non-empty list of CIDRs");
    return;
  }
  for (std::size_t j = 0; j < list.size(); ++j) {
    add_pod_subnet(list[j], fmt::format("{}.pod_subnets[{}]", where, j), cluster, node, subnets, p);
  }
}

void parse_nodes(const YAML::Node& list, MeshSpec& spec, Problems& p) {
  if (!list || !list.IsSequence() || list.size() == 0) {
    p.add("nodes", list, "must be a non-empty list");
    return;
  }
  std::map<std::string, std::size_t> names, keys, endpoints;
  std::vector<std::pair<IpPrefix, std::string>> subnets;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    std::string where = entry_name("nodes", i, "");
    if (!n.IsMap()) {
      p.add(where, n, "must be a mapping");
      continue;
    }
    Node node;
    if (auto name = scalar(n, "name", where, p)) node.name = *name;
    where = entry_name("nodes", i, node.name);
    check_keys(
        n, where,
        {"name", "cluster", "pod_subnets", "pod_subnet", "endpoint", "public_key", "straitd"}, p);
    if (!node.name.empty()) {
      if (auto [it, fresh] = names.emplace(node.name, i); !fresh) {
        p.add(where + ".name", n["name"],
              fmt::format("duplicate node name (also nodes[{}])", it->second));
      }
    }

    const Cluster* cluster = nullptr;
    if (auto c = scalar(n, "cluster", where, p)) {
      node.cluster = *c;
      cluster = spec.find_cluster(*c);
      if (cluster == nullptr) {
        p.add(where + ".cluster", n["cluster"], fmt::format("unknown cluster \"{}\"", *c));
      }
    }

    parse_pod_subnets(n, where, cluster, node, subnets, p);

    if (auto e = scalar(n, "endpoint", where, p)) {
      const std::string field = where + ".endpoint";
      auto ep = uapi::Endpoint::parse(*e);
      if (!ep) {
        p.add(field, n["endpoint"],
              fmt::format("\"{}\" is not VIP:port or [IPv6]:port: {}", *e, ep.error().message));
      } else if (ep->port == 0) {
        p.add(field, n["endpoint"], "port 0 is not a valid endpoint port");
      } else {
        node.endpoint = *ep;
        if (auto [it, fresh] = endpoints.emplace(ep->to_string(), i); !fresh) {
          p.add(field, n["endpoint"],
                fmt::format("duplicate endpoint {} (also nodes[{}]): one VIP per node",
                            ep->to_string(), it->second));
        }
      }
    }

    if (auto k = scalar(n, "public_key", where, p)) {
      const std::string field = where + ".public_key";
      auto key = wg::key_from_base64(*k);
      if (!key) {
        p.add(field, n["public_key"],
              "not a valid base64 WireGuard key (44 characters, as `wg pubkey` prints)");
      } else if (uapi::key_is_zero(*key)) {
        p.add(field, n["public_key"], "the all-zero key is not a public key");
      } else {
        node.public_key = *key;
        if (auto [it, fresh] = keys.emplace(*k, i); !fresh) {
          p.add(field, n["public_key"],
                fmt::format("duplicate public key (also nodes[{}])", it->second));
        }
      }
    }

    if (const YAML::Node s = n["straitd"]) {
      const std::string v = s.IsScalar() ? s.Scalar() : "";
      if (v == "true") {
        node.straitd = true;
      } else if (v == "false") {
        node.straitd = false;
      } else {
        p.add(where + ".straitd", s, "must be true or false");
      }
    } else {
      p.add(where, n, "missing required field \"straitd\"");
    }
    spec.nodes.push_back(std::move(node));
  }
}

}  // namespace

const Cluster* MeshSpec::find_cluster(std::string_view name) const {
  for (const auto& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const Node* MeshSpec::find_node(std::string_view name) const {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

Result<MeshSpec> parse_mesh_spec(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Error{fmt::format("spec (line {}, column {}): YAML syntax error: {}", e.mark.line + 1,
                             e.mark.column + 1, e.msg)};
  }
  if (!root.IsMap()) return Error{"spec: must be a mapping with clusters and nodes"};

  Problems p;
  MeshSpec spec;
  try {
    check_keys(root, "spec", {"clusters", "nodes", "defaults"}, p);
    if (root["defaults"]) parse_defaults(root["defaults"], spec, p);
    parse_clusters(root["clusters"], spec, p);
    parse_nodes(root["nodes"], spec, p);
  } catch (const YAML::Exception& e) {
    // Wrong node kinds (a list where a mapping belongs) surface as exceptions in yaml-cpp.
    p.add("spec", YAML::Node(), fmt::format("line {}: {}", e.mark.line + 1, e.msg));
  }
  if (!p.empty()) return Error{p.joined()};
  return spec;
}

}  // namespace strait::ctl

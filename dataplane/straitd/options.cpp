#include "straitd/options.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/decimal_text.hpp"
#include "observability/version.hpp"
#include "packet/address_text.hpp"
#include "straitd/eal_plan.hpp"

namespace strait::straitd {
namespace {

// ---- small parsers (numbers and addresses: core/decimal_text.hpp, packet/address_text.hpp) ----

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  return std::nullopt;
}

constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};

// ---- the option table, shared by the command line and the config file ----

enum class Kind : std::uint8_t { value, flag };

// Returns an error sentence, or nothing when the value was taken.
using Setter = std::function<std::optional<std::string>(Options&, std::string_view)>;

struct OptionDef {
  std::string_view name;  // long name without "--"
  char short_name;        // 0: none
  Kind kind;
  std::string_view value_name;
  std::string_view help;
  Setter set;
};

std::optional<std::string> set_wire_ip(Options& o, std::string_view v) {
  if (auto v4 = dp::parse_ipv4_address(v)) {
    if (o.wire_ipv4)
      return "--wire-ip given twice for IPv4 (one IPv4 and one IPv6 address at most)";
    o.wire_ipv4 = dp::ipv4_mapped(v4->data());
    return std::nullopt;
  }
  if (auto v6 = dp::parse_ipv6_address(v)) {
    if (o.wire_ipv6)
      return "--wire-ip given twice for IPv6 (one IPv4 and one IPv6 address at most)";
    o.wire_ipv6 = *v6;
    return std::nullopt;
  }
  return "--wire-ip '" + std::string(v) +
         "' is not an IPv4 or IPv6 address (write 192.0.2.1 or 2001:db8::1, no prefix length)";
}

const std::vector<OptionDef>& option_table() {
  static const std::vector<OptionDef> table = {
      {"config", 0, Kind::value, "FILE",
       "read options from FILE first (key=value lines, or YAML if it ends in .yaml/.yml); "
       "the command line overrides it",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         o.config_file = std::string(v);
         return std::nullopt;
       }},
      {"ifname", 0, Kind::value, "NAME",
       "interface name for the UAPI socket /var/run/wireguard/NAME.sock (default strait0)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         // wg(8) cuts names to IFNAMSIZ - 1 = 15 characters and they become a file name.
         if (v.empty() || v.size() > 15 || v.find('/') != std::string_view::npos || v == "." ||
             v == "..") {
           return "--ifname '" + std::string(v) +
                  "' is not a valid interface name (1 to 15 characters, no '/'; wg(8) finds "
                  "the socket by this name)";
         }
         o.ifname = std::string(v);
         return std::nullopt;
       }},
      {"wire", 0, Kind::value, "DEVARGS",
       "the wire port: a PCI address (0000:3b:00.1) or a vdev "
       "(net_af_packet0,iface=eth1 / net_af_xdp0,iface=eth1,start_queue=0)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         o.wire = std::string(v);
         return std::nullopt;
       }},
      {"bridge", 0, Kind::value, "DEVARGS",
       "the bridge port: net_tap0,iface=strait-br, a net_af_xdp vdev on a veth, or a PCI address",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         o.bridge = std::string(v);
         return std::nullopt;
       }},
      {"lcores", 0, Kind::value, "LIST",
       "worker lcores, e.g. 1 or 2-5 or 2,4 (default 1); each polls one queue of each port",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto r = parse_lcore_list(v);
         if (!r) return r.error().message;
         o.worker_lcores = r.value();
         return std::nullopt;
       }},
      {"main-lcore", 0, Kind::value, "N",
       "the EAL main lcore, which runs the slow path (default 0); not among --lcores",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto n = wg::parse_decimal<unsigned>(v, kMaxLcoreId);
         if (!n)
           return "--main-lcore '" + std::string(v) + "' is not an lcore id (0.." +
                  std::to_string(kMaxLcoreId) + ")";
         o.main_lcore = *n;
         return std::nullopt;
       }},
      {"file-prefix", 0, Kind::value, "NAME",
       "EAL --file-prefix (default strait_<ifname>); unique per DPDK process on the host",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (v.empty() || v.find('/') != std::string_view::npos) {
           return "--file-prefix '" + std::string(v) + "' must be a non-empty name without '/'";
         }
         o.file_prefix = std::string(v);
         return std::nullopt;
       }},
      {"socket-mem", 0, Kind::value, "MB,MB,...",
       "EAL --socket-mem: hugepage memory to reserve per NUMA socket",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (v.empty() || v.find_first_not_of("0123456789,") != std::string_view::npos) {
           return "--socket-mem '" + std::string(v) +
                  "' must be megabytes per NUMA socket, comma-separated (e.g. 1024 or 1024,0)";
         }
         o.socket_mem = std::string(v);
         return std::nullopt;
       }},
      {"memory", 'm', Kind::value, "MB",
       "EAL -m: memory to reserve in megabytes (default: EAL's; 256 with --no-huge)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto n = wg::parse_decimal<unsigned>(v, 1U << 24);
         if (!n || *n == 0)
           return "-m/--memory '" + std::string(v) + "' is not a number of megabytes";
         o.memory_mb = *n;
         return std::nullopt;
       }},
      {"no-huge", 0, Kind::flag, "", "EAL --no-huge: ordinary memory, for tests only",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto b = parse_bool(v);
         if (!b) return "no-huge: '" + std::string(v) + "' is not true or false";
         o.no_huge = *b;
         return std::nullopt;
       }},
      {"listen-port", 0, Kind::value, "PORT",
       "tunnel UDP port (default 51820; the UAPI's listen_port changes it)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto n = wg::parse_decimal<std::uint16_t>(v, 65535);
         if (!n || *n == 0)
           return "--listen-port '" + std::string(v) + "' is not a UDP port (1..65535)";
         o.listen_port = *n;
         return std::nullopt;
       }},
      {"private-key-file", 0, Kind::value, "FILE",
       "WireGuard private key in base64, as `wg genkey` writes it (or set it over the UAPI)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         o.private_key_file = std::string(v);
         return std::nullopt;
       }},
      {"create-private-key", 0, Kind::flag, "",
       "make the --private-key-file (mode 0600) on first start when it does not exist",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto b = parse_bool(v);
         if (!b) return "create-private-key: '" + std::string(v) + "' is not true or false";
         o.create_private_key = *b;
         return std::nullopt;
       }},
      {"public-key-file", 0, Kind::value, "FILE",
       "write the public key of --private-key-file here at start (mode 0644), for publishing",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         o.public_key_file = std::string(v);
         return std::nullopt;
       }},
      {"wire-ip", 0, Kind::value, "ADDR",
       "our outer source address on the wire (IPv4 and/or IPv6: give the option twice)",
       set_wire_ip},
      {"wire-gateway-mac", 0, Kind::value, "MAC",
       "next-hop MAC of every outer frame; required with a PCI wire port; without it the "
       "kernel's neighbour table is read (af_packet/af_xdp/tap ports)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto m = dp::parse_mac(v);
         if (!m)
           return "--wire-gateway-mac '" + std::string(v) +
                  "' is not a MAC address (write 02:00:00:00:00:01)";
         o.wire_gateway_mac = *m;
         return std::nullopt;
       }},
      {"bridge-mac-mode", 0, Kind::value, "pod|fixed",
       "destination MAC of decrypted packets: pod = 0a:58:<inner IPv4> (openshift-sdn), "
       "fixed = --bridge-dst-mac (default pod)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (v == "pod") {
           o.bridge_mac_mode = BridgeMacMode::pod;
         } else if (v == "fixed") {
           o.bridge_mac_mode = BridgeMacMode::fixed;
         } else {
           return "--bridge-mac-mode '" + std::string(v) + "' must be pod or fixed";
         }
         return std::nullopt;
       }},
      {"bridge-dst-mac", 0, Kind::value, "MAC",
       "the destination MAC with --bridge-mac-mode fixed; with pod, for IPv6 destinations "
       "(default ff:ff:ff:ff:ff:ff)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto m = dp::parse_mac(v);
         if (!m)
           return "--bridge-dst-mac '" + std::string(v) +
                  "' is not a MAC address (write 02:00:00:00:00:01)";
         o.bridge_dst_mac = *m;
         return std::nullopt;
       }},
      {"tunnel-mtu", 0, Kind::value, "BYTES",
       "largest inner IP packet (default 1420); larger ones get ICMP too-big",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto n = wg::parse_decimal<std::uint16_t>(v, 9000);
         if (!n || *n < 576) return "--tunnel-mtu '" + std::string(v) + "' must be 576..9000 bytes";
         o.tunnel_mtu = *n;
         return std::nullopt;
       }},
      {"mss-clamp", 0, Kind::flag, "",
       "lower the TCP MSS of SYN segments to the tunnel MTU - 40 (IPv4) / - 60 (IPv6)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto b = parse_bool(v);
         if (!b) return "mss-clamp: '" + std::string(v) + "' is not true or false";
         o.mss_clamp = *b;
         return std::nullopt;
       }},
      {"busy-poll", 0, Kind::flag, "", "workers never sleep when idle (production)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto b = parse_bool(v);
         if (!b) return "busy-poll: '" + std::string(v) + "' is not true or false";
         o.busy_poll = *b;
         return std::nullopt;
       }},
      {"idle", 0, Kind::value, "wait|backoff",
       "idle workers (without --busy-poll): wait = block until a queue has packets where the "
       "PMDs allow it, else back off; backoff = sleep up to 1 ms between polls (default wait)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (v == "wait") {
           o.idle_wait = true;
         } else if (v == "backoff") {
           o.idle_wait = false;
         } else {
           return "--idle '" + std::string(v) + "' must be wait or backoff";
         }
         return std::nullopt;
       }},
      {"xdp-program", 0, Kind::value, "PATH",
       "with a net_af_xdp wire port: the XDP object straitd hands the PMD as xdp_prog= "
       "(default: the strait_xdp.bpf.o meson installed or built)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         o.xdp_program = std::string(v);
         return std::nullopt;
       }},
      {"no-xdp-program", 0, Kind::flag, "",
       "with a net_af_xdp wire port: leave the PMD's default XDP program (no early drop)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto b = parse_bool(v);
         if (!b) return "no-xdp-program: '" + std::string(v) + "' is not true or false";
         o.no_xdp_program = *b;
         return std::nullopt;
       }},
      {"test-rekey-after-seconds", 0, Kind::value, "SECONDS",
       "TESTS ONLY: rekey after SECONDS instead of 120 (breaks the protocol's timing)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         auto n = wg::parse_decimal<std::uint32_t>(v, 120);
         if (!n || *n == 0)
           return "--test-rekey-after-seconds '" + std::string(v) + "' must be 1..120";
         o.test_rekey_after_seconds = *n;
         return std::nullopt;
       }},
      {"metrics-listen", 0, Kind::value, "HOST:PORT",
       "serve /metrics and /healthz there (numeric IPv4 or [IPv6]; default off)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (v.find(':') == std::string_view::npos) {
           return "--metrics-listen '" + std::string(v) + "' must be HOST:PORT (127.0.0.1:9478)";
         }
         o.metrics_listen = std::string(v);
         return std::nullopt;
       }},
      {"log-format", 0, Kind::value, "FORMAT",
       "text (default) or json: one JSON object per log record",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (v != "text" && v != "json") {
           return "--log-format '" + std::string(v) + "' must be text or json";
         }
         o.log_json = v == "json";
         return std::nullopt;
       }},
      {"log-level", 0, Kind::value, "LEVEL",
       "trace, debug, info, warn, error, critical or off (default info)",
       [](Options& o, std::string_view v) -> std::optional<std::string> {
         if (std::find(kLogLevels.begin(), kLogLevels.end(), v) == kLogLevels.end()) {
           return "--log-level '" + std::string(v) +
                  "' must be one of trace, debug, info, warn, error, critical, off";
         }
         o.log_level = std::string(v);
         return std::nullopt;
       }},
  };
  return table;
}

const OptionDef* find_long(std::string_view name) {
  for (const auto& d : option_table())
    if (d.name == name) return &d;
  return nullptr;
}

const OptionDef* find_short(char c) {
  for (const auto& d : option_table())
    if (d.short_name == c) return &d;
  return nullptr;
}

// Config keys may use '_' for '-' (listen_port, as in YAML habits).
std::string normalise_key(std::string_view key) {
  std::string k(key);
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

std::string read_whole_file(const std::string& path, int& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = errno != 0 ? errno : ENOENT;
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  err = in.bad() ? EIO : 0;
  return s.str();
}

std::optional<std::string> apply_config_entry(Options& o, const std::string& raw_key,
                                              std::string_view value, std::string_view where) {
  const std::string key = normalise_key(raw_key);
  const OptionDef* d = find_long(key);
  if (d == nullptr || d->name == "config") {
    return std::string(where) + ": unknown option '" + raw_key +
           "' (the keys are the long option names of straitd --help, without --)";
  }
  if (auto e = d->set(o, value)) return std::string(where) + ": " + *e;
  return std::nullopt;
}

}  // namespace

// ---- values ----

Result<std::vector<unsigned>> parse_lcore_list(std::string_view text) {
  std::vector<unsigned> out;
  const std::string bad = "--lcores '" + std::string(text) +
                          "' is not a list of lcore ids (write 1, 1-3 or 1,3,5-6; ids 0.." +
                          std::to_string(kMaxLcoreId) + ")";
  if (text.empty()) return Error{bad};
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    std::size_t dash = item.find('-');
    auto lo = wg::parse_decimal<unsigned>(item.substr(0, dash), kMaxLcoreId);
    auto hi = dash == std::string_view::npos
                  ? lo
                  : wg::parse_decimal<unsigned>(item.substr(dash + 1), kMaxLcoreId);
    if (!lo || !hi || *hi < *lo) return Error{bad};
    for (unsigned i = *lo; i <= *hi; ++i) out.push_back(i);
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---- config files ----

Result<void> apply_config_text(Options& o, std::string_view text, bool yaml,
                               std::string_view source) {
  if (!yaml) {
    std::size_t pos = 0;
    unsigned line_no = 0;
    while (pos < text.size()) {
      std::size_t eol = text.find('\n', pos);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view line = text.substr(pos, eol - pos);
      pos = eol + 1;
      ++line_no;
      if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      line = trim(line);
      if (line.empty()) continue;
      const std::string where = std::string(source) + " line " + std::to_string(line_no);
      std::size_t eq = line.find('=');
      if (eq == std::string_view::npos) {
        return Error{where + ": expected key=value, found '" + std::string(line) + "'"};
      }
      if (auto e = apply_config_entry(o, std::string(trim(line.substr(0, eq))),
                                      trim(line.substr(eq + 1)), where)) {
        return Error{*e};
      }
    }
    return {};
  }

  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error{std::string(source) + ": not valid YAML: " + e.what()};
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) {
    return Error{std::string(source) + ": expected a YAML mapping of option names to values"};
  }
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const std::string where = std::string(source) + " key '" + key + "'";
    std::vector<std::string> values;
    if (kv.second.IsScalar()) {
      values.push_back(kv.second.as<std::string>());
    } else if (kv.second.IsSequence() && normalise_key(key) == "wire-ip") {
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) return Error{where + ": list items must be addresses"};
        values.push_back(item.as<std::string>());
      }
    } else {
      return Error{where + ": expected a single value"};
    }
    for (const auto& v : values) {
      if (auto e = apply_config_entry(o, key, v, std::string(source))) return Error{*e};
    }
  }
  return {};
}

Result<void> apply_config_file(Options& o, const std::string& path) {
  int err = 0;
  std::string text = read_whole_file(path, err);
  if (err != 0) {
    return Error{"cannot read config file '" + path + "': " + std::strerror(err)};
  }
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  o.config_file = path;
  return apply_config_text(o, text, ends_with(".yaml") || ends_with(".yml"), path);
}

// ---- the command line ----

Result<CommandLine> parse_command_line(std::span<const std::string> args) {
  CommandLine cl;
  Options& o = cl.options;

  // Pass 1: --help/--version win; --config is applied before everything else.
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      cl.action = Action::help;
      return cl;
    }
    if (a == "--version") {
      cl.action = Action::version;
      return cl;
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string path;
    if (a == "--config") {
      if (i + 1 >= args.size()) return Error{"--config needs a value: --config FILE"};
      path = args[i + 1];
    } else if (a.rfind("--config=", 0) == 0) {
      path = a.substr(9);
    } else {
      continue;
    }
    if (auto r = apply_config_file(o, path); !r) return r.error();
  }

  // Pass 2: the command line over the config file. Repeated --wire-ip replaces the file's.
  bool wire_ip_seen = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const OptionDef* d = nullptr;
    std::optional<std::string> inline_value;
    std::string shown = a;
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      std::string name = a.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
        shown = "--" + name;
      }
      d = find_long(name);
    } else if (a.size() == 2 && a[0] == '-') {
      d = find_short(a[1]);
    } else if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
      // -m512
      d = find_short(a[1]);
      if (d != nullptr && d->kind == Kind::value) inline_value = a.substr(2);
      shown = a.substr(0, 2);
    }
    if (d == nullptr) {
      if (!a.empty() && a[0] == '-') {
        return Error{"unknown option '" + a + "' (see straitd --help)"};
      }
      return Error{"unexpected argument '" + a +
                   "': straitd takes only options (see straitd --help)"};
    }
    std::string value;
    if (d->kind == Kind::flag) {
      if (inline_value) return Error{shown + " takes no value"};
      value = "true";
    } else if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) {
        return Error{shown + " needs a value: " + shown + " " + std::string(d->value_name)};
      }
      value = args[++i];
    }
    if (d->name == "config") continue;  // applied in pass 1
    if (d->name == "wire-ip" && !wire_ip_seen) {
      wire_ip_seen = true;
      o.wire_ipv4.reset();
      o.wire_ipv6.reset();
    }
    if (auto e = d->set(o, value)) return Error{*e};
  }

  if (auto r = validate_options(o); !r) return r.error();
  return cl;
}

Result<void> validate_options(const Options& o) {
  if (o.wire.empty()) {
    return Error{
        "missing --wire: the wire port's devargs, e.g. --wire net_af_packet0,iface=eth1 "
        "or --wire 0000:3b:00.1"};
  }
  if (o.bridge.empty()) {
    return Error{
        "missing --bridge: the bridge port's devargs, e.g. --bridge net_tap0,iface=strait-br"};
  }
  if (o.wire == o.bridge) return Error{"--wire and --bridge name the same device '" + o.wire + "'"};
  if (!o.wire_ipv4 && !o.wire_ipv6) {
    return Error{
        "missing --wire-ip: our outer source address on the wire, e.g. --wire-ip 192.0.2.1 "
        "(the address peers use as our endpoint)"};
  }
  if (o.worker_lcores.empty()) return Error{"--lcores names no worker lcore"};
  if (o.worker_lcores.size() > kMaxWorkers) {
    return Error{"--lcores names " + std::to_string(o.worker_lcores.size()) + " workers, at most " +
                 std::to_string(kMaxWorkers) + " are supported"};
  }
  if (std::find(o.worker_lcores.begin(), o.worker_lcores.end(), o.main_lcore) !=
      o.worker_lcores.end()) {
    return Error{"lcore " + std::to_string(o.main_lcore) +
                 " is both the main lcore (the slow path, --main-lcore) and a worker (--lcores); "
                 "give the workers other lcores, e.g. --main-lcore 0 --lcores 1-3"};
  }
  if ((o.create_private_key || !o.public_key_file.empty()) && o.private_key_file.empty()) {
    return Error{std::string(o.create_private_key ? "--create-private-key" : "--public-key-file") +
                 " needs --private-key-file FILE (where the node's key is kept)"};
  }
  if (o.bridge_mac_mode == BridgeMacMode::fixed && !o.bridge_dst_mac) {
    return Error{"--bridge-mac-mode fixed needs --bridge-dst-mac MAC"};
  }
  if (is_pci_address(o.wire) && !o.wire_gateway_mac) {
    return Error{"a PCI wire port (" + o.wire +
                 ") needs --wire-gateway-mac: the kernel does not see the port, so straitd "
                 "cannot use its neighbour table (give the MAC of the next-hop router, or of "
                 "the peer on a flat L2 network)"};
  }
  if (o.memory_mb != 0 && !o.socket_mem.empty()) {
    return Error{"give either -m/--memory or --socket-mem, not both (EAL refuses both)"};
  }
  return {};
}

std::string usage_text() {
  std::string s =
      "usage: straitd --wire DEVARGS --bridge DEVARGS --wire-ip ADDR [options]\n"
      "\n"
      "straitd: a WireGuard-compatible data plane on DPDK. Configure peers with wg(8):\n"
      "  wg set <ifname> peer ... / wg show <ifname>\n"
      "\n"
      "options:\n";
  for (const auto& d : option_table()) {
    std::string head = "  ";
    if (d.short_name != 0) head += std::string("-") + d.short_name + ", ";
    head += "--" + std::string(d.name);
    if (!d.value_name.empty()) head += " " + std::string(d.value_name);
    if (head.size() < 34)
      head.resize(34, ' ');
    else
      head += "\n" + std::string(34, ' ');
    s += head + std::string(d.help) + "\n";
  }
  s += "  -h, --help                      this text\n"
       "  --version                       the version\n"
       "\n"
       "exit codes: 0 clean stop (SIGINT/SIGTERM), 1 start-up failed (hugepages, port, key "
       "file, socket), 2 usage or config error\n"
       "see dataplane/straitd/README.md for examples\n";
  return s;
}

std::string version_text() { return observe::version_line("straitd"); }

}  // namespace strait::straitd

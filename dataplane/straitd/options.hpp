#pragma once
// straitd's command line and configuration file (README.md in this directory lists every
// option). Parsing is pure: it reads nothing but the --config file, so that every error message
// is unit-tested (tests/unit/straitd_options_test.cpp). No DPDK here: what the options mean for
// the EAL and the ports is eal_plan.hpp. Main thread only, before anything starts.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "core/types.hpp"
#include "packet/headers.hpp"

namespace strait::straitd {

// Exit codes of straitd (documented in README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitStartup = 1;  // the host or a device refused: hugepages, port, key file
inline constexpr int kExitUsage = 2;    // the command line or the config file is wrong

// One worker per RX queue, and the rte_flow RSS action takes at most this many queues
// (dp::kMaxSteeringQueues; checked against it where DPDK is included).
inline constexpr std::size_t kMaxWorkers = 64;
// RTE_MAX_LCORE of the Debian DPDK 22.11 build.
inline constexpr unsigned kMaxLcoreId = 127;

// Where a decrypted packet's destination MAC comes from when it goes out on the bridge port.
enum class BridgeMacMode : std::uint8_t {
  pod,    // openshift-sdn: 0a:58 followed by the inner IPv4 destination (DESIGN.md section 4)
  fixed,  // one MAC for everything (--bridge-dst-mac): a router port, a test tap
};

struct Options {
  std::string ifname = "strait0";  // UAPI: /var/run/wireguard/<ifname>.sock
  std::string wire;                // devargs of the wire port (tunnel UDP)
  std::string bridge;              // devargs of the bridge port (plain inner packets)
  unsigned main_lcore = 0;         // EAL main lcore: the slow path
  std::vector<unsigned> worker_lcores = {1};
  std::string file_prefix;  // empty: "strait_<ifname>"
  std::string socket_mem;   // EAL --socket-mem, empty: EAL default
  unsigned memory_mb = 0;   // EAL -m, 0: EAL default (256 with --no-huge)
  bool no_huge = false;     // EAL --no-huge (tests, no hugepages needed)
  std::uint16_t listen_port = 51820;
  std::string private_key_file;     // empty: no key until set over the UAPI
  bool create_private_key = false;  // make private_key_file when absent (straitd/node_key.hpp)
  std::string public_key_file;      // empty: the public key is not written out
  std::optional<dp::IpAddr16> wire_ipv4;  // IPv4-mapped (::ffff:a.b.c.d)
  std::optional<dp::IpAddr16> wire_ipv6;
  std::optional<dp::MacAddr> wire_gateway_mac;
  BridgeMacMode bridge_mac_mode = BridgeMacMode::pod;
  std::optional<dp::MacAddr> bridge_dst_mac;
  std::uint16_t tunnel_mtu = 1420;  // inner MTU, as wg-quick's default over 1500-byte links
  bool mss_clamp = false;  // clamp TCP MSS in SYNs to tunnel_mtu - 40 / - 60 (docs/STRAITD.md)
  bool busy_poll = false;
  // Idle workers wait on their queues' descriptors where every PMD offers one (true, --idle
  // wait), else they sleep with the doubling back-off (--idle backoff); busy_poll overrides
  // both (docs/STRAITD.md, "Idle workers").
  bool idle_wait = true;
  // net_af_xdp wire port: the XDP object for xdp_prog= (empty: the built/installed
  // strait_xdp.bpf.o); no_xdp_program leaves the PMD's own program (README.md, "XDP").
  std::string xdp_program;
  bool no_xdp_program = false;
  std::uint32_t test_rekey_after_seconds = 0;  // 0: REKEY_AFTER_TIME of the paper (120 s)
  std::string log_level = "info";
  bool log_json = false;       // --log-format json
  std::string metrics_listen;  // empty: no /metrics, /healthz (off unless asked for)
  std::string config_file;     // where options came from besides the command line (for logs)

  [[nodiscard]] std::string effective_file_prefix() const {
    return file_prefix.empty() ? "strait_" + ifname : file_prefix;
  }
};

enum class Action : std::uint8_t { run, help, version };

struct CommandLine {
  Action action = Action::run;
  Options options;
};

// Parses argv without the program name. `--config FILE` is read first (wherever it appears),
// then the other arguments override what it set. Options take their value as the next argument
// or after '=' (--wire=net_tap0); -h, --help and --version stop parsing. The result is
// validated (validate_options). Errors say what is wrong and how to fix it: exit kExitUsage.
[[nodiscard]] Result<CommandLine> parse_command_line(std::span<const std::string> args);

// Applies the text of a config file. YAML (a mapping of option names to scalars, wire-ip also
// a list) when `yaml`, else key=value lines with '#' comments. Keys are the long option names
// without "--"; '_' may replace '-'. `source` names the file in messages.
[[nodiscard]] Result<void> apply_config_text(Options& o, std::string_view text, bool yaml,
                                             std::string_view source);

// Reads and applies a config file: YAML when its name ends in .yaml or .yml.
[[nodiscard]] Result<void> apply_config_file(Options& o, const std::string& path);

// The checks between options: required ports and address, lcores, MAC modes, ranges.
[[nodiscard]] Result<void> validate_options(const Options& o);

// --help text and --version line.
[[nodiscard]] std::string usage_text();
[[nodiscard]] std::string version_text();

// ---- values ----

// "1", "1-3", "1,3,5-6" -> sorted, without duplicates.
[[nodiscard]] Result<std::vector<unsigned>> parse_lcore_list(std::string_view text);

}  // namespace strait::straitd

#pragma once
// The bench config of strait-pktgen (perf/README.md, "strait-pktgen"): `key = value` lines,
// `#` comments, `peer` repeated. It names the ports, the device under test (DUT) and the
// WireGuard peers the generator plays, which share their keys with the DUT:
//
//   wire = net_af_packet_pg,iface=pg0,qpairs=1   # devargs or PCI address, towards the DUT's wire
//   bridge = 0000:3b:00.1                        # optional, towards the DUT's bridge port
//   direction = loop                             # loop | decap | encap (below)
//   local_ip = 192.168.96.1                      # our outer address (we answer ARP for it)
//   dut_ip = 192.168.96.2
//   dut_mac = 02:00:00:96:00:02                  # next hop of our outer frames
//   dut_port = 51820
//   dut_public_key = <base64>
//   cipher = aes256-gcm                          # or chacha20-poly1305
//   port_base = 52000                            # peer i listens on UDP port_base + i
//   peer = /path/to/private.key 10.96.2.1        # one line per peer: key file, inner address
//   target = 10.96.1.1                           # inner address behind the DUT
//   bridge_dst_mac = 02:00:00:96:01:01           # encap: MAC of the DUT's bridge port
//   rate_pps = 20000                             # offered packets per second, all peers
//   sizes = 64:7,576:4,1420:1                    # inner IP sizes (52..1500), weights
//   duration = 5                                 # seconds of traffic
//
// Directions (what is sent where, what must come back):
//   loop   wire only: encrypted ICMP echo requests to `target`; the DUT decaps them, its host
//          answers, the DUT encaps the replies back to us; we decap them and match.
//   decap  encrypted on `wire`, plain frames expected on `bridge` (the DUT's decap path).
//   encap  plain frames (src `target`, dst a peer's inner address) sent on `bridge`,
//          encrypted expected on `wire` (the DUT's encap path); we decap them and match.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"
#include "packet/headers.hpp"

namespace strait::pktgen {

enum class Direction : std::uint8_t { loop, decap, encap };

struct PeerConfig {
  strait::Key private_key{};
  std::array<std::uint8_t, 4> inner_ip{};
};

struct BenchConfig {
  std::string wire;
  std::string bridge;  // empty: none
  Direction direction = Direction::loop;
  std::array<std::uint8_t, 4> local_ip{};
  std::array<std::uint8_t, 4> dut_ip{};
  dp::MacAddr dut_mac{};
  std::uint16_t dut_port = 51820;
  strait::Key dut_public_key{};
  strait::Cipher cipher = strait::Cipher::chacha20_poly1305;
  std::uint16_t port_base = 52000;
  std::vector<PeerConfig> peers;
  std::array<std::uint8_t, 4> target{};
  dp::MacAddr bridge_dst_mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  std::uint64_t rate_pps = 10000;
  std::vector<std::pair<std::uint16_t, unsigned>> sizes{{64, 1}};  // (inner IP bytes, weight)
  double duration_s = 5;
};

// Parses the text of a config file; `base_dir` resolves relative key-file paths. Errors say
// which line and why.
struct ConfigResult {
  std::optional<BenchConfig> config;
  std::string error;
};
[[nodiscard]] ConfigResult parse_bench_config(std::string_view text, const std::string& base_dir);
[[nodiscard]] ConfigResult load_bench_config(const std::string& path);

// The size mix expanded into a repeating sequence (weights as counts), shuffled with a fixed
// seed so that sizes interleave the same way in every run.
[[nodiscard]] std::vector<std::uint16_t> size_sequence(const BenchConfig& c);

// The smallest inner packet: IPv4 + ICMP echo header + the probe (probe.hpp).
inline constexpr std::uint16_t kMinInnerSize = 52;

}  // namespace strait::pktgen

#include "bench_config.hpp"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "core/key_base64.hpp"
#include "packet/address_text.hpp"
#include "straitd/node_key.hpp"

namespace strait::pktgen {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// "64:7,576:4,1420:1" or "1420".
std::optional<std::vector<std::pair<std::uint16_t, unsigned>>> parse_sizes(const std::string& s) {
  std::vector<std::pair<std::uint16_t, unsigned>> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    const auto colon = item.find(':');
    try {
      const unsigned long size = std::stoul(item.substr(0, colon));
      const unsigned long weight =
          colon == std::string::npos ? 1 : std::stoul(item.substr(colon + 1));
      if (size < kMinInnerSize || size > 1500 || weight == 0 || weight > 1000) return std::nullopt;
      out.emplace_back(static_cast<std::uint16_t>(size), static_cast<unsigned>(weight));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace

ConfigResult parse_bench_config(std::string_view text, const std::string& base_dir) {
  BenchConfig c;
  bool have_dut_key = false, have_local = false, have_dut = false, have_target = false;
  bool have_dut_mac = false;
  std::istringstream in{std::string(text)};
  std::string raw;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    return ConfigResult{std::nullopt, "line " + std::to_string(line_no) + ": " + why};
  };
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) return fail("expected key = value");
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    auto ip = [&](std::array<std::uint8_t, 4>& dst) {
      auto a = dp::parse_ipv4_address(value);
      if (a) dst = *a;
      return a.has_value();
    };
    auto number = [&](auto& dst, double lo, double hi) {
      try {
        std::size_t used = 0;
        const double v = std::stod(value, &used);
        if (used != value.size() || v < lo || v > hi) return false;
        dst = static_cast<std::remove_reference_t<decltype(dst)>>(v);
        return true;
      } catch (const std::exception&) {
        return false;
      }
    };
    if (key == "wire") {
      c.wire = value;
    } else if (key == "bridge") {
      c.bridge = value;
    } else if (key == "direction") {
      if (value == "loop")
        c.direction = Direction::loop;
      else if (value == "decap")
        c.direction = Direction::decap;
      else if (value == "encap")
        c.direction = Direction::encap;
      else
        return fail("direction is loop, decap or encap");
    } else if (key == "local_ip") {
      if (!(have_local = ip(c.local_ip))) return fail("local_ip is an IPv4 address");
    } else if (key == "dut_ip") {
      if (!(have_dut = ip(c.dut_ip))) return fail("dut_ip is an IPv4 address");
    } else if (key == "target") {
      if (!(have_target = ip(c.target))) return fail("target is an IPv4 address");
    } else if (key == "dut_mac" || key == "bridge_dst_mac") {
      auto mac = dp::parse_mac(value);
      if (!mac) return fail(key + " is a MAC address");
      (key == "dut_mac" ? c.dut_mac : c.bridge_dst_mac) = *mac;
      have_dut_mac = have_dut_mac || key == "dut_mac";
    } else if (key == "dut_port") {
      if (!number(c.dut_port, 1, 65535)) return fail("dut_port is 1..65535");
    } else if (key == "port_base") {
      if (!number(c.port_base, 1, 65000)) return fail("port_base is 1..65000");
    } else if (key == "dut_public_key") {
      std::string why;
      auto k = wg::key_from_base64(value, &why);
      if (!k) return fail("dut_public_key: " + why);
      c.dut_public_key = *k;
      have_dut_key = true;
    } else if (key == "cipher") {
      if (value == "aes256-gcm")
        c.cipher = strait::Cipher::aes256_gcm;
      else if (value == "chacha20-poly1305")
        c.cipher = strait::Cipher::chacha20_poly1305;
      else
        return fail("cipher is aes256-gcm or chacha20-poly1305");
    } else if (key == "peer") {
      std::istringstream words(value);
      std::string file, addr;
      if (!(words >> file >> addr)) return fail("peer = <private key file> <inner IPv4 address>");
      if (!file.empty() && file[0] != '/') file = base_dir + "/" + file;
      auto k = straitd::load_private_key_file(file);
      if (!k.ok()) return fail(k.error().message);
      auto a = dp::parse_ipv4_address(addr);
      if (!a) return fail("peer inner address is an IPv4 address");
      c.peers.push_back({k.value(), *a});
    } else if (key == "rate_pps") {
      if (!number(c.rate_pps, 1, 1e9)) return fail("rate_pps is 1..1e9");
    } else if (key == "sizes") {
      auto s = parse_sizes(value);
      if (!s) return fail("sizes: SIZE[:WEIGHT],... with sizes 52..1500");
      c.sizes = *s;
    } else if (key == "duration") {
      if (!number(c.duration_s, 0.1, 86400)) return fail("duration is 0.1..86400 seconds");
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  line_no = 0;
  if (c.wire.empty()) return fail("wire (the port towards the DUT) is required");
  if (!have_local || !have_dut || !have_dut_mac || !have_dut_key || !have_target)
    return fail("local_ip, dut_ip, dut_mac, dut_public_key and target are required");
  if (c.peers.empty()) return fail("at least one peer line is required");
  if (c.port_base + c.peers.size() > 65535) return fail("port_base + peers exceeds 65535");
  if (c.direction != Direction::loop && c.bridge.empty())
    return fail("directions decap and encap need a bridge port");
  return {c, {}};
}

ConfigResult load_bench_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {std::nullopt, "cannot read " + path};
  std::stringstream ss;
  ss << f.rdbuf();
  const auto slash = path.rfind('/');
  return parse_bench_config(ss.str(), slash == std::string::npos ? "." : path.substr(0, slash));
}

std::vector<std::uint16_t> size_sequence(const BenchConfig& c) {
  std::vector<std::uint16_t> seq;
  for (const auto& [size, weight] : c.sizes) seq.insert(seq.end(), weight, size);
  std::mt19937 rng(12345);
  std::shuffle(seq.begin(), seq.end(), rng);
  return seq;
}

}  // namespace strait::pktgen

#pragma once
// PacketBuilder: the one packet builder shared by the unit tests, the DPDK and BPF tests and
// the benchmarks (after Katran's lib/testing PacketBuilder). Fluent, layer by layer, outermost
// first; build() fills every length field and checksum from the layers that follow:
//
//   auto frame = PacketBuilder().eth().vlan(100).ipv4("10.0.0.1", "10.0.0.2")
//                    .udp(1234, 51820).wg_data(/*receiver=*/7, /*counter=*/0, 64).build();
//   auto inner = PacketBuilder().ipv6("fd00::1", "fd00::2").tcp(40000, 443).build();  // no L2
//
// Checksums (IPv4 header, UDP over IPv4 and IPv6, TCP, ICMP, ICMPv6) are computed with a
// deliberately naive byte-pair implementation of its own, so that tests of strait's checksum
// code are not checked against themselves. The set_* methods corrupt or override one field of
// the most recent layer of that kind (lengths and checksums are still computed for the rest),
// trailer() appends bytes outside every length, truncate() cuts the finished frame.
//
// Test code: errors (a malformed address string, set_ihl with no IPv4 layer) throw
// std::invalid_argument. Header-only so that every test and benchmark target can use it.

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace strait::test {

// WireGuard message types (WireGuard paper section 5.4) and strait's AES-256-GCM data type.
inline constexpr std::uint8_t kWgInitiation = 1;
inline constexpr std::uint8_t kWgResponse = 2;
inline constexpr std::uint8_t kWgCookieReply = 3;
inline constexpr std::uint8_t kWgData = 4;
inline constexpr std::uint8_t kWgDataAesGcm = 0x84;
inline constexpr std::size_t kWgInitiationLen = 148;
inline constexpr std::size_t kWgResponseLen = 92;
inline constexpr std::size_t kWgCookieReplyLen = 64;
inline constexpr std::size_t kWgDataHeaderLen = 16;

// TCP flag bits (RFC 9293 section 3.1).
inline constexpr std::uint8_t kTcpFlagFin = 0x01;
inline constexpr std::uint8_t kTcpFlagSyn = 0x02;
inline constexpr std::uint8_t kTcpFlagRst = 0x04;
inline constexpr std::uint8_t kTcpFlagPsh = 0x08;
inline constexpr std::uint8_t kTcpFlagAck = 0x10;

// ---- helpers, public because tests use them too ------------------------------------------

// RFC 1071 checksum the slow, obvious way: big-endian 16-bit words, odd byte padded with zero.
// Returns the value in host order (write it big-endian).
[[nodiscard]] inline std::uint16_t naive_checksum(std::span<const std::uint8_t> data,
                                                  std::uint32_t initial = 0) {
  std::uint64_t sum = initial;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(data[i]) << 8;
    if (i + 1 < data.size()) word |= data[i + 1];
    sum += word;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

[[nodiscard]] inline std::vector<std::uint8_t> parse_mac(std::string_view text) {
  unsigned b[6];
  const std::string s(text);
  char extra;
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &extra) != 6)
    throw std::invalid_argument("bad MAC address: " + s);
  std::vector<std::uint8_t> mac(6);
  for (int i = 0; i < 6; ++i) {
    if (b[i] > 0xff) throw std::invalid_argument("bad MAC address: " + s);
    mac[i] = static_cast<std::uint8_t>(b[i]);
  }
  return mac;
}

[[nodiscard]] inline std::vector<std::uint8_t> parse_ipv4(std::string_view text) {
  std::vector<std::uint8_t> a(4);
  if (inet_pton(AF_INET, std::string(text).c_str(), a.data()) != 1)
    throw std::invalid_argument("bad IPv4 address: " + std::string(text));
  return a;
}

[[nodiscard]] inline std::vector<std::uint8_t> parse_ipv6(std::string_view text) {
  std::vector<std::uint8_t> a(16);
  if (inet_pton(AF_INET6, std::string(text).c_str(), a.data()) != 1)
    throw std::invalid_argument("bad IPv6 address: " + std::string(text));
  return a;
}

class PacketBuilder {
 public:
  // ---- layers, outermost first ----

  PacketBuilder& eth(std::string_view src = "02:00:00:00:00:01",
                     std::string_view dst = "02:00:00:00:00:02") {
    Layer l{Kind::eth};
    l.bytes = parse_mac(dst);
    const auto s = parse_mac(src);
    l.bytes.insert(l.bytes.end(), s.begin(), s.end());
    l.bytes.resize(14);  // EtherType filled at build from the next layer
    return push(std::move(l));
  }

  // One 802.1Q tag (TPID 0x8100 goes in the previous Ethernet/VLAN layer's EtherType).
  PacketBuilder& vlan(std::uint16_t vid, std::uint8_t pcp = 0) {
    Layer l{Kind::vlan};
    const std::uint16_t tci = static_cast<std::uint16_t>((pcp << 13) | (vid & 0x0fff));
    l.bytes = {static_cast<std::uint8_t>(tci >> 8), static_cast<std::uint8_t>(tci), 0, 0};
    return push(std::move(l));
  }

  // IPv4 header without options, DF clear, ID 0; protocol from the next layer.
  PacketBuilder& ipv4(std::string_view src, std::string_view dst, std::uint8_t ttl = 64) {
    Layer l{Kind::ipv4};
    l.bytes.assign(20, 0);
    l.bytes[0] = 0x45;
    l.bytes[8] = ttl;
    const auto s = parse_ipv4(src), d = parse_ipv4(dst);
    std::copy(s.begin(), s.end(), l.bytes.begin() + 12);
    std::copy(d.begin(), d.end(), l.bytes.begin() + 16);
    last_ip_ = layers_.size();
    return push(std::move(l));
  }

  PacketBuilder& ipv6(std::string_view src, std::string_view dst, std::uint8_t hop_limit = 64) {
    Layer l{Kind::ipv6};
    l.bytes.assign(40, 0);
    l.bytes[0] = 0x60;
    l.bytes[7] = hop_limit;
    const auto s = parse_ipv6(src), d = parse_ipv6(dst);
    std::copy(s.begin(), s.end(), l.bytes.begin() + 8);
    std::copy(d.begin(), d.end(), l.bytes.begin() + 24);
    last_ip_ = layers_.size();
    return push(std::move(l));
  }

  PacketBuilder& udp(std::uint16_t sport, std::uint16_t dport) {
    Layer l{Kind::udp};
    l.bytes.assign(8, 0);
    put16(l.bytes, 0, sport);
    put16(l.bytes, 2, dport);
    last_l4_ = layers_.size();
    return push(std::move(l));
  }

  // TCP header, seq 1000, ack 0 (or 1 with ACK), window 65535, an MSS option when given.
  PacketBuilder& tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags = kTcpFlagSyn,
                     std::optional<std::uint16_t> mss = std::nullopt) {
    Layer l{Kind::tcp};
    l.bytes.assign(mss ? 24 : 20, 0);
    put16(l.bytes, 0, sport);
    put16(l.bytes, 2, dport);
    put32(l.bytes, 4, 1000);
    put32(l.bytes, 8, (flags & kTcpFlagAck) ? 1 : 0);
    l.bytes[12] = static_cast<std::uint8_t>((l.bytes.size() / 4) << 4);
    l.bytes[13] = flags;
    put16(l.bytes, 14, 65535);
    if (mss) {
      l.bytes[20] = 2;  // kind MSS
      l.bytes[21] = 4;  // length
      put16(l.bytes, 22, *mss);
    }
    last_l4_ = layers_.size();
    return push(std::move(l));
  }

  PacketBuilder& icmp_echo(std::uint16_t id, std::uint16_t seq, bool reply = false) {
    return echo(Kind::icmp, reply ? 0 : 8, id, seq);
  }
  PacketBuilder& icmpv6_echo(std::uint16_t id, std::uint16_t seq, bool reply = false) {
    return echo(Kind::icmpv6, reply ? 129 : 128, id, seq);
  }

  // ARP request (RFC 826) for target_ip; put eth() before it (broadcast dst is up to the caller).
  PacketBuilder& arp_request(std::string_view sender_mac, std::string_view sender_ip,
                             std::string_view target_ip) {
    Layer l{Kind::arp};
    l.bytes = {0, 1, 0x08, 0x00, 6, 4, 0, 1};
    const auto sha = parse_mac(sender_mac), spa = parse_ipv4(sender_ip),
               tpa = parse_ipv4(target_ip);
    l.bytes.insert(l.bytes.end(), sha.begin(), sha.end());
    l.bytes.insert(l.bytes.end(), spa.begin(), spa.end());
    l.bytes.insert(l.bytes.end(), 6, 0);
    l.bytes.insert(l.bytes.end(), tpa.begin(), tpa.end());
    return push(std::move(l));
  }

  // ICMPv6 Neighbor Solicitation (RFC 4861 section 4.3) for `target` with a source link-layer
  // address option; put ipv6(src, solicited_node_multicast(target), 255) before it.
  PacketBuilder& ipv6_neighbor_solicitation(std::string_view target, std::string_view src_mac) {
    Layer l{Kind::icmpv6};
    l.bytes = {135, 0, 0, 0, 0, 0, 0, 0};
    const auto t = parse_ipv6(target), mac = parse_mac(src_mac);
    l.bytes.insert(l.bytes.end(), t.begin(), t.end());
    l.bytes.push_back(1);  // option: source link-layer address
    l.bytes.push_back(1);  // length in units of 8 bytes
    l.bytes.insert(l.bytes.end(), mac.begin(), mac.end());
    last_l4_ = layers_.size();
    return push(std::move(l));
  }

  // ff02::1:ffXX:XXXX for an IPv6 address (RFC 4291 section 2.7.1).
  [[nodiscard]] static std::string solicited_node_multicast(std::string_view target) {
    const auto t = parse_ipv6(target);
    char buf[64];
    std::snprintf(buf, sizeof buf, "ff02::1:ff%02x:%02x%02x", t[13], t[14], t[15]);
    return buf;
  }

  PacketBuilder& payload(std::span<const std::uint8_t> bytes) {
    Layer l{Kind::payload};
    l.bytes.assign(bytes.begin(), bytes.end());
    return push(std::move(l));
  }
  PacketBuilder& payload(std::initializer_list<std::uint8_t> bytes) {
    return payload(std::span<const std::uint8_t>(bytes.begin(), bytes.size()));
  }
  // n bytes of a deterministic pattern (i * 7 + 1).
  PacketBuilder& payload(std::size_t n) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return payload(b);
  }
  // Raw bytes with no meaning to the builder: an unknown L3 after eth() (set the EtherType with
  // set_ether_type), or anything. Counted in the enclosing lengths like a payload.
  PacketBuilder& raw(std::span<const std::uint8_t> bytes) { return payload(bytes); }

  // ---- WireGuard-shaped messages: shape only (type, reserved zero, indices, length),
  // pseudo-random contents. Real encrypted packets come from the protocol core. ----

  // Transport data (paper section 5.4.6): type, 3 reserved, receiver LE32, counter LE64,
  // then ciphertext_len bytes (the encrypted packet including its 16-byte tag).
  PacketBuilder& wg_data(std::uint32_t receiver, std::uint64_t counter, std::size_t ciphertext_len,
                         std::uint8_t type = kWgData) {
    std::vector<std::uint8_t> m(kWgDataHeaderLen + ciphertext_len);
    m[0] = type;
    put_le(m, 4, receiver, 4);
    put_le(m, 8, counter, 8);
    fill_random(m, kWgDataHeaderLen);
    return payload(m);
  }
  // Handshake initiation (section 5.4.2), 148 bytes: sender index, then ephemeral, encrypted
  // static, encrypted timestamp, mac1, mac2 (mac2 zero, as without a cookie).
  PacketBuilder& wg_initiation_shaped(std::uint32_t sender = 1) {
    std::vector<std::uint8_t> m(kWgInitiationLen);
    m[0] = kWgInitiation;
    put_le(m, 4, sender, 4);
    fill_random(m, 8, kWgInitiationLen - 16);
    return payload(m);
  }
  // Handshake response (section 5.4.3), 92 bytes: sender, receiver, ephemeral, empty, mac1, mac2.
  PacketBuilder& wg_response_shaped(std::uint32_t sender = 2, std::uint32_t receiver = 1) {
    std::vector<std::uint8_t> m(kWgResponseLen);
    m[0] = kWgResponse;
    put_le(m, 4, sender, 4);
    put_le(m, 8, receiver, 4);
    fill_random(m, 12, kWgResponseLen - 16);
    return payload(m);
  }
  // Cookie reply (section 5.4.7), 64 bytes: receiver, 24-byte nonce, encrypted cookie.
  PacketBuilder& wg_cookie_shaped(std::uint32_t receiver = 1) {
    std::vector<std::uint8_t> m(kWgCookieReplyLen);
    m[0] = kWgCookieReply;
    put_le(m, 4, receiver, 4);
    fill_random(m, 8);
    return payload(m);
  }
  // Seed of the pseudo-random contents (deterministic by default, so frames are reproducible).
  PacketBuilder& seed(std::uint64_t s) {
    rng_ = s ? s : 1;
    return *this;
  }

  // ---- overrides and corruption ----

  // EtherType (host order) of the last Ethernet or VLAN layer instead of the derived one.
  PacketBuilder& set_ether_type(std::uint16_t type) {
    l2_layer().ether_type = type;
    return *this;
  }
  PacketBuilder& set_ip_version(std::uint8_t v) {
    ip_layer().version = v;
    return *this;
  }
  // IPv4 IHL field (the header bytes stay 20; only the field lies).
  PacketBuilder& set_ihl(std::uint8_t words) {
    ip_layer(Kind::ipv4).ihl = words;
    return *this;
  }
  // IPv4 total length field; for IPv6 the payload length field is set to total - 40, so the
  // argument means the same thing in both families.
  PacketBuilder& set_ip_total_length(std::uint16_t total) {
    ip_layer().total_len = total;
    return *this;
  }
  PacketBuilder& set_ip_protocol(std::uint8_t proto) {
    ip_layer().protocol = proto;
    return *this;
  }
  PacketBuilder& set_ttl(std::uint8_t ttl) {
    ip_layer().bytes[ip_layer().kind == Kind::ipv4 ? 8 : 7] = ttl;
    return *this;
  }
  // IPv4 flags and fragment offset (in 8-byte units), RFC 791 section 3.1.
  PacketBuilder& set_fragment(bool more_fragments, std::uint16_t offset_units,
                              bool dont_fragment = false) {
    ip_layer(Kind::ipv4).frag = static_cast<std::uint16_t>(
        (dont_fragment ? 0x4000 : 0) | (more_fragments ? 0x2000 : 0) | (offset_units & 0x1fff));
    return *this;
  }
  PacketBuilder& set_dont_fragment() { return set_fragment(false, 0, true); }
  PacketBuilder& set_udp_length(std::uint16_t len) {
    l4_layer(Kind::udp).udp_len = len;
    return *this;
  }
  // Leaves the UDP checksum 0 ("none", legal over IPv4 only).
  PacketBuilder& no_udp_checksum() {
    l4_layer(Kind::udp).no_checksum = true;
    return *this;
  }
  // Flip the computed checksum of the last IP header / L4 header.
  PacketBuilder& corrupt_ip_checksum() {
    ip_layer(Kind::ipv4).bad_checksum = true;
    return *this;
  }
  PacketBuilder& corrupt_l4_checksum() {
    l4_layer().bad_checksum = true;
    return *this;
  }
  // Bytes after the packet, outside every length field: Ethernet padding, WireGuard's
  // plaintext padding (paper section 5.4.6), garbage.
  PacketBuilder& trailer(std::size_t n, std::uint8_t fill = 0) {
    trailer_.insert(trailer_.end(), n, fill);
    return *this;
  }
  // Keep only the first n bytes of the finished frame (no-op when n >= its length).
  PacketBuilder& truncate(std::size_t n) {
    truncate_ = n;
    return *this;
  }

  [[nodiscard]] std::vector<std::uint8_t> build() const {
    std::vector<std::uint8_t> out;
    std::vector<std::size_t> off(layers_.size());
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      off[i] = out.size();
      out.insert(out.end(), layers_[i].bytes.begin(), layers_[i].bytes.end());
    }
    const std::size_t end = out.size();
    // Innermost first: a checksum covers the finished bytes of everything nested inside it.
    for (std::size_t k = layers_.size(); k-- > 0;) {
      const Layer& l = layers_[k];
      const Kind next = k + 1 < layers_.size() ? layers_[k + 1].kind : Kind::payload;
      std::uint8_t* p = out.data() + off[k];
      const std::size_t len = end - off[k];
      switch (l.kind) {
        case Kind::eth: set16(p + 12, l.ether_type ? *l.ether_type : ether_type_for(next)); break;
        case Kind::vlan: set16(p + 2, l.ether_type ? *l.ether_type : ether_type_for(next)); break;
        case Kind::ipv4: {
          set16(p + 2, l.total_len ? *l.total_len : static_cast<std::uint16_t>(len));
          p[0] =
              static_cast<std::uint8_t>(((l.version ? *l.version : 4) << 4) | (l.ihl ? *l.ihl : 5));
          set16(p + 6, l.frag);
          p[9] = l.protocol ? *l.protocol : proto_for(next, false);
          set16(p + 10, 0);
          std::uint16_t c = naive_checksum({p, 20});
          if (l.bad_checksum) c ^= 0x5a5a;
          set16(p + 10, c);
          break;
        }
        case Kind::ipv6:
          set16(p + 4, static_cast<std::uint16_t>((l.total_len ? *l.total_len : len) - 40));
          p[0] = static_cast<std::uint8_t>(((l.version ? *l.version : 6) << 4) | (p[0] & 0x0f));
          p[6] = l.protocol ? *l.protocol : proto_for(next, true);
          break;
        case Kind::udp:
          set16(p + 4, l.udp_len ? *l.udp_len : static_cast<std::uint16_t>(len));
          finish_l4(out, off, k, 6, 17, l.no_checksum);
          break;
        case Kind::tcp: finish_l4(out, off, k, 16, 6, false); break;
        case Kind::icmp: finish_l4(out, off, k, 2, 1, false); break;
        case Kind::icmpv6: finish_l4(out, off, k, 2, 58, false); break;
        case Kind::arp:
        case Kind::payload: break;
      }
    }
    out.insert(out.end(), trailer_.begin(), trailer_.end());
    if (truncate_ && *truncate_ < out.size()) out.resize(*truncate_);
    return out;
  }

 private:
  enum class Kind { eth, vlan, ipv4, ipv6, udp, tcp, icmp, icmpv6, arp, payload };

  struct Layer {
    Kind kind;
    std::vector<std::uint8_t> bytes{};
    std::optional<std::uint16_t> ether_type{};
    std::optional<std::uint8_t> version{};
    std::optional<std::uint8_t> ihl{};
    std::optional<std::uint16_t> total_len{};
    std::optional<std::uint8_t> protocol{};
    std::uint16_t frag = 0;
    std::optional<std::uint16_t> udp_len{};
    bool no_checksum = false;
    bool bad_checksum = false;
  };

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  PacketBuilder& push(Layer l) {
    layers_.push_back(std::move(l));
    return *this;
  }

  PacketBuilder& echo(Kind kind, std::uint8_t type, std::uint16_t id, std::uint16_t seq) {
    Layer l{kind};
    l.bytes.assign(8, 0);
    l.bytes[0] = type;
    put16(l.bytes, 4, id);
    put16(l.bytes, 6, seq);
    last_l4_ = layers_.size();
    return push(std::move(l));
  }

  Layer& l2_layer() {
    for (std::size_t k = layers_.size(); k-- > 0;)
      if (layers_[k].kind == Kind::eth || layers_[k].kind == Kind::vlan) return layers_[k];
    throw std::invalid_argument("PacketBuilder: no Ethernet/VLAN layer to modify");
  }
  Layer& ip_layer(std::optional<Kind> want = std::nullopt) {
    if (last_ip_ == kNone || (want && layers_[last_ip_].kind != *want))
      throw std::invalid_argument("PacketBuilder: no matching IP layer to modify");
    return layers_[last_ip_];
  }
  Layer& l4_layer(std::optional<Kind> want = std::nullopt) {
    if (last_l4_ == kNone || (want && layers_[last_l4_].kind != *want))
      throw std::invalid_argument("PacketBuilder: no matching L4 layer to modify");
    return layers_[last_l4_];
  }

  static std::uint16_t ether_type_for(Kind next) {
    switch (next) {
      case Kind::vlan: return 0x8100;
      case Kind::ipv4: return 0x0800;
      case Kind::ipv6: return 0x86dd;
      case Kind::arp: return 0x0806;
      default: return 0x88b5;  // IEEE 802 local experimental EtherType
    }
  }
  static std::uint8_t proto_for(Kind next, bool v6) {
    switch (next) {
      case Kind::ipv4: return 4;
      case Kind::ipv6: return 41;
      case Kind::udp: return 17;
      case Kind::tcp: return 6;
      case Kind::icmp: return 1;
      case Kind::icmpv6: return 58;
      default: return v6 ? 59 : 253;  // no next header / RFC 3692 experimental
    }
  }

  // Fills the checksum at `check_at` of the L4 layer k, with the pseudo-header of the nearest
  // enclosing IP layer (ICMPv4 has none).
  void finish_l4(std::vector<std::uint8_t>& out, const std::vector<std::size_t>& off, std::size_t k,
                 std::size_t check_at, std::uint8_t proto, bool leave_zero) const {
    std::uint8_t* p = out.data() + off[k];
    const std::size_t len = out.size() - off[k];  // to the end: the trailer is appended later
    set16(p + check_at, 0);
    if (leave_zero) return;
    std::uint32_t pseudo = 0;
    std::size_t ip = kNone;
    for (std::size_t j = 0; j < k; ++j)
      if (layers_[j].kind == Kind::ipv4 || layers_[j].kind == Kind::ipv6) ip = j;
    if (proto != 1 && ip != kNone) {
      const std::uint8_t* h = out.data() + off[ip];
      const bool v6 = layers_[ip].kind == Kind::ipv6;
      const std::uint8_t* addrs = h + (v6 ? 8 : 12);
      for (std::size_t i = 0; i < (v6 ? 32U : 8U); i += 2)
        pseudo += static_cast<std::uint32_t>(addrs[i] << 8 | addrs[i + 1]);
      pseudo += proto;
      pseudo += static_cast<std::uint32_t>(len & 0xffff) + static_cast<std::uint32_t>(len >> 16);
    }
    std::uint16_t c = naive_checksum({p, len}, pseudo);
    if (proto == 17 && c == 0) c = 0xffff;  // RFC 768: 0 means "no checksum"
    if (layers_[k].bad_checksum) c ^= 0x5a5a;
    set16(p + check_at, c);
  }
  static void set16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }
  static void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
    set16(b.data() + at, v);
  }
  static void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    put16(b, at, static_cast<std::uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<std::uint16_t>(v));
  }
  static void put_le(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  // xorshift64 fill of b[from, to): not cryptographic, just not all zero.
  void fill_random(std::vector<std::uint8_t>& b, std::size_t from, std::size_t to = kNone) {
    if (to == kNone) to = b.size();
    for (std::size_t i = from; i < to; ++i) {
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      b[i] = static_cast<std::uint8_t>(rng_ >> 24);
    }
  }

  std::vector<Layer> layers_;
  std::size_t last_ip_ = kNone;
  std::size_t last_l4_ = kNone;
  std::vector<std::uint8_t> trailer_;
  std::optional<std::size_t> truncate_;
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
};

}  // namespace strait::test

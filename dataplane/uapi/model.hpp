#pragma once
// The configuration and state model of the WireGuard cross-platform userspace API
// (https://www.wireguard.com/xplatform/), independent of how straitd implements it.
// A DeviceChange is what one `set=1` request asks for; a DeviceState is what one `get=1`
// request reports. Both are plain values: the UAPI text lives in protocol.hpp, the socket in
// server.hpp. Control path only: these types allocate freely.

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/ip_prefix.hpp"
#include "base/result.hpp"
#include "core/types.hpp"

namespace strait::uapi {

// ---- keys and ciphers in their UAPI text form ----

// 64 hex digits. The spec writes lowercase; upper case is accepted on input like wireguard-go.
[[nodiscard]] std::optional<Key> key_from_hex(std::string_view hex);
[[nodiscard]] std::string key_to_hex(const Key& key);  // lowercase
[[nodiscard]] bool key_is_zero(const Key& key);

// strait_cipher values: "chacha20-poly1305" (WireGuard, message type 4) and "aes256-gcm".
[[nodiscard]] std::string_view cipher_name(Cipher cipher);
[[nodiscard]] std::optional<Cipher> cipher_from_name(std::string_view name);

// ---- addresses ----

// An allowed_ip is a strait::IpPrefix (base/ip_prefix.hpp: IpPrefix::parse and to_string are
// its text).

// A UDP endpoint: "1.2.3.4:51820", "[fd00::1]:51820", "[fe80::1%2]:51820" (IPv6 scope as an
// interface index, or an interface name on input). Names are not resolved: wg(8) resolves
// them before it talks to the socket.
struct Endpoint {
  std::uint8_t family = 4;              // 4 or 6
  std::array<std::uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4 bytes
  std::uint16_t port = 0;               // host byte order
  std::uint32_t scope_id = 0;           // IPv6 only; 0 = none

  [[nodiscard]] static Result<Endpoint> parse(std::string_view text);
  [[nodiscard]] static Endpoint v4(std::array<std::uint8_t, 4> a, std::uint16_t port);
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] sockaddr_storage to_sockaddr() const;
  [[nodiscard]] static std::optional<Endpoint> from_sockaddr(const sockaddr* sa);
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// ---- set=1: a change ----

// One `public_key=` section of a set request. Unset optionals leave the setting as it is.
struct PeerChange {
  Key public_key{};
  bool remove = false;       // remove=true: delete the peer (the rest of its section is moot)
  bool update_only = false;  // update_only=true: change the peer only if it exists already
  std::optional<Key> preshared_key;  // all-zero key = no preshared key
  std::optional<Endpoint> endpoint;
  std::optional<std::uint16_t> persistent_keepalive;  // seconds; 0 = off
  bool replace_allowed_ips = false;   // drop the peer's prefixes before adding these
  std::vector<IpPrefix> allowed_ips;  // added, in order
  std::optional<Cipher> cipher;       // strait extension key strait_cipher=
  friend bool operator==(const PeerChange&, const PeerChange&) = default;
  ~PeerChange() { wipe_secret(preshared_key); }  // every copy erases its secret
};

struct DeviceChange {
  std::optional<Key> private_key;  // all-zero key = remove the private key
  std::optional<std::uint16_t> listen_port;
  std::optional<std::uint32_t> fwmark;  // 0 = off
  bool replace_peers = false;           // remove every peer before applying `peers`
  std::vector<PeerChange> peers;        // in request order
  friend bool operator==(const DeviceChange&, const DeviceChange&) = default;
  ~DeviceChange() { wipe_secret(private_key); }
};

// ---- get=1: the state ----

// Counters by drop reason, as (reason name, count). Names are [a-z0-9_]+ (drop_reasons.def).
using DropCounters = std::vector<std::pair<std::string, std::uint64_t>>;

struct PeerState {
  Key public_key{};
  Key preshared_key{};  // all-zero = none
  std::optional<Endpoint> endpoint;
  std::uint64_t last_handshake_sec = 0;   // wall-clock (CLOCK_REALTIME) of the last handshake;
  std::uint64_t last_handshake_nsec = 0;  // 0/0 = never
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint16_t persistent_keepalive = 0;
  std::vector<IpPrefix> allowed_ips;
  Cipher cipher = Cipher::chacha20_poly1305;  // strait_cipher
  std::uint64_t rx_packets = 0;               // strait_rx_packets
  std::uint64_t tx_packets = 0;               // strait_tx_packets
  DropCounters drops;                         // strait_drop_<reason>
  friend bool operator==(const PeerState&, const PeerState&) = default;
  ~PeerState() { wipe_secret(preshared_key); }
};

// Handshake messages the device took in and sent, device-wide, since it started
// (strait_handshake_<rx|tx>_<type>, strait_handshakes_completed). Received counts every message
// of the type that reached the device, valid or not (the invalid ones are also counted by drop
// reason); a completed handshake is a session both sides hold keys for.
struct HandshakeCounters {
  std::uint64_t initiations_received = 0;
  std::uint64_t initiations_sent = 0;
  std::uint64_t responses_received = 0;
  std::uint64_t responses_sent = 0;
  std::uint64_t cookie_replies_received = 0;
  std::uint64_t cookie_replies_sent = 0;
  std::uint64_t completed = 0;
  friend bool operator==(const HandshakeCounters&, const HandshakeCounters&) = default;
};

struct DeviceState {
  std::optional<Key> private_key;  // absent = none configured
  std::uint16_t listen_port = 0;
  std::uint32_t fwmark = 0;
  std::vector<PeerState> peers;
  DropCounters drops;            // device-wide, strait_drop_<reason>
  HandshakeCounters handshakes;  // strait_handshake_*, strait_handshakes_completed
  bool under_load = false;       // strait_under_load: handshakes need a cookie (mac2) now
  friend bool operator==(const DeviceState&, const DeviceState&) = default;
  ~DeviceState() { wipe_secret(private_key); }
};

// Applies `change` to `state` with the semantics of the xplatform spec (and wireguard-go):
// replace_peers first, then each peer section in order; remove deletes; update_only skips
// unknown peers; a new peer starts from defaults; replace_allowed_ips clears before adding;
// an allowed IP moves from any other peer that held the same prefix. Counters and handshake
// times are left alone. A reference model for tests and for mirrors of the configuration.
void apply_change(DeviceState& state, const DeviceChange& change);

}  // namespace strait::uapi

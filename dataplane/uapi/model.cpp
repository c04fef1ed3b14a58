#include "uapi/model.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/decimal_text.hpp"

namespace strait::uapi {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Key> key_from_hex(std::string_view hex) {
  if (hex.size() != 2 * kKeyLen) return std::nullopt;
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

std::string key_to_hex(const Key& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * key.size());
  for (std::uint8_t b : key) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

bool key_is_zero(const Key& key) {
  return std::all_of(key.begin(), key.end(), [](std::uint8_t b) { return b == 0; });
}

std::string_view cipher_name(Cipher cipher) {
  switch (cipher) {
    case Cipher::chacha20_poly1305: return "chacha20-poly1305";
    case Cipher::aes256_gcm: return "aes256-gcm";
  }
  return "unknown";
}

std::optional<Cipher> cipher_from_name(std::string_view name) {
  if (name == "chacha20-poly1305") return Cipher::chacha20_poly1305;
  if (name == "aes256-gcm") return Cipher::aes256_gcm;
  return std::nullopt;
}

// ---- Endpoint ----

Result<Endpoint> Endpoint::parse(std::string_view text) {
  Endpoint ep;
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Error{"missing ] after IPv6 address"};
    if (close + 1 >= text.size() || text[close + 1] != ':') return Error{"missing :port"};
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    ep.family = 6;
    const auto pct = host.find('%');
    if (pct != std::string::npos) {
      const std::string zone = host.substr(pct + 1);
      host.resize(pct);
      if (auto idx = wg::parse_decimal<std::uint32_t>(zone)) {
        ep.scope_id = *idx;
      } else if (!zone.empty() && (ep.scope_id = if_nametoindex(zone.c_str())) != 0) {
        // an interface name, resolved to its index
      } else {
        return Error{"unknown IPv6 scope \"" + zone + "\""};
      }
    }
    if (inet_pton(AF_INET6, host.c_str(), ep.addr.data()) != 1) {
      return Error{"not an IPv6 address: " + host};
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{"missing :port"};
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    ep.family = 4;
    if (inet_pton(AF_INET, host.c_str(), ep.addr.data()) != 1) {
      return Error{"not an IPv4 address (IPv6 needs [brackets]; names are not resolved): " + host};
    }
  }
  const auto port = wg::parse_decimal<std::uint16_t>(port_text);
  if (!port) return Error{"port must be 0..65535, got \"" + std::string(port_text) + "\""};
  ep.port = *port;
  return ep;
}

Endpoint Endpoint::v4(std::array<std::uint8_t, 4> a, std::uint16_t port) {
  Endpoint ep;
  std::copy(a.begin(), a.end(), ep.addr.begin());
  ep.family = 4;
  ep.port = port;
  return ep;
}

std::string Endpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 6) {
    inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
    std::string out = "[" + std::string(buf);
    if (scope_id != 0) out += "%" + std::to_string(scope_id);
    return out + "]:" + std::to_string(port);
  }
  inet_ntop(AF_INET, addr.data(), buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(port);
}

sockaddr_storage Endpoint::to_sockaddr() const {
  sockaddr_storage ss{};
  if (family == 6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.data(), 16);
    sin6->sin6_scope_id = scope_id;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr.data(), 4);
  }
  return ss;
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  Endpoint ep;
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof(sin));
    ep.family = 4;
    std::memcpy(ep.addr.data(), &sin.sin_addr, 4);
    ep.port = ntohs(sin.sin_port);
    return ep;
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof(sin6));
    ep.family = 6;
    std::memcpy(ep.addr.data(), &sin6.sin6_addr, 16);
    ep.port = ntohs(sin6.sin6_port);
    ep.scope_id = sin6.sin6_scope_id;
    return ep;
  }
  return std::nullopt;
}

// ---- the reference semantics of a set ----

void apply_change(DeviceState& state, const DeviceChange& change) {
  if (change.private_key) {
    if (key_is_zero(*change.private_key)) {
      state.private_key.reset();
    } else {
      state.private_key = *change.private_key;
    }
  }
  if (change.listen_port) state.listen_port = *change.listen_port;
  if (change.fwmark) state.fwmark = *change.fwmark;
  if (change.replace_peers) state.peers.clear();

  for (const PeerChange& pc : change.peers) {
    auto it = std::find_if(state.peers.begin(), state.peers.end(),
                           [&](const PeerState& p) { return p.public_key == pc.public_key; });
    if (pc.remove) {
      if (it != state.peers.end()) state.peers.erase(it);
      continue;
    }
    if (it == state.peers.end()) {
      if (pc.update_only) continue;
      PeerState fresh;
      fresh.public_key = pc.public_key;
      state.peers.push_back(std::move(fresh));
      it = std::prev(state.peers.end());
    }
    PeerState& peer = *it;
    if (pc.preshared_key) peer.preshared_key = *pc.preshared_key;
    if (pc.endpoint) peer.endpoint = *pc.endpoint;
    if (pc.persistent_keepalive) peer.persistent_keepalive = *pc.persistent_keepalive;
    if (pc.cipher) peer.cipher = *pc.cipher;
    if (pc.replace_allowed_ips) peer.allowed_ips.clear();
    for (const IpPrefix& ip : pc.allowed_ips) {
      const IpPrefix key = ip.masked();
      // A prefix belongs to one peer at a time: inserting it elsewhere moves it here.
      for (PeerState& other : state.peers) {
        auto& ips = other.allowed_ips;
        ips.erase(std::remove_if(ips.begin(), ips.end(),
                                 [&](const IpPrefix& x) { return x.masked() == key; }),
                  ips.end());
      }
      peer.allowed_ips.push_back(key);
    }
  }
}

}  // namespace strait::uapi

#include "uapi/protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>

#include "core/decimal_text.hpp"

namespace strait::uapi {

namespace {

constexpr std::string_view kStraitPrefix = "strait_";
constexpr std::string_view kDropPrefix = "strait_drop_";

bool is_reason_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool is_device_key(std::string_view k) {
  return k == "private_key" || k == "listen_port" || k == "fwmark" || k == "replace_peers";
}

bool is_peer_key(std::string_view k) {
  return k == "remove" || k == "update_only" || k == "preshared_key" || k == "endpoint" ||
         k == "persistent_keepalive_interval" || k == "replace_allowed_ips" || k == "allowed_ip" ||
         k == "protocol_version" || k == "strait_cipher";
}

// Walks newline-terminated lines, counting them from `first_line`. A final line without a
// newline is still a line (lenient: wg(8) always terminates its lines).
class LineReader {
 public:
  LineReader(std::string_view text, unsigned first_line) : text_(text), line_no_(first_line - 1) {}
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const auto nl = text_.find('\n', pos_);
    const std::size_t end = nl == std::string_view::npos ? text_.size() : nl;
    line = text_.substr(pos_, end - pos_);
    pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
    ++line_no_;
    return true;
  }
  [[nodiscard]] unsigned line_no() const { return line_no_; }
  [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  unsigned line_no_;
};

Error line_error(int code, unsigned line_no, const std::string& message) {
  return Error{code, "line " + std::to_string(line_no) + ": " + message};
}

std::string quoted(std::string_view s) {
  constexpr std::size_t kShown = 80;  // keep a hostile line from flooding the log
  std::string out = "\"";
  out.append(s.substr(0, kShown));
  if (s.size() > kShown) out += "...";
  return out + "\"";
}

void append_line(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  out.push_back('=');
  out.append(value);
  out.push_back('\n');
}

// The device-wide handshake counters by UAPI key, in reply order.
struct HandshakeKey {
  std::string_view key;
  std::uint64_t HandshakeCounters::*field;
};
constexpr std::array<HandshakeKey, 7> kHandshakeKeys{{
    {"strait_handshake_rx_initiation", &HandshakeCounters::initiations_received},
    {"strait_handshake_tx_initiation", &HandshakeCounters::initiations_sent},
    {"strait_handshake_rx_response", &HandshakeCounters::responses_received},
    {"strait_handshake_tx_response", &HandshakeCounters::responses_sent},
    {"strait_handshake_rx_cookie_reply", &HandshakeCounters::cookie_replies_received},
    {"strait_handshake_tx_cookie_reply", &HandshakeCounters::cookie_replies_sent},
    {"strait_handshakes_completed", &HandshakeCounters::completed},
}};

void append_drops(std::string& out, const DropCounters& drops) {
  for (const auto& [name, count] : drops) {
    if (!is_reason_name(name)) continue;
    out.append(kDropPrefix);
    append_line(out, name, std::to_string(count));
  }
}

}  // namespace

// ---- set ----

Result<DeviceChange> parse_set(std::string_view body) {
  unsigned first_line = 1;
  if (body.substr(0, 6) == "set=1\n") {
    body.remove_prefix(6);
    first_line = 2;
  }
  LineReader lines(body, first_line);
  DeviceChange change;
  PeerChange* peer = nullptr;
  std::string_view line;
  while (lines.next(line)) {
    const unsigned n = lines.line_no();
    if (line.empty()) {
      // The empty line ends the request; one request per parse.
      if (!lines.at_end())
        return line_error(EPROTO, n + 1, "data after the empty line that ends the request");
      break;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return line_error(EPROTO, n, "expected key=value, got " + quoted(line));
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    const std::string k(key);
    auto bad_value = [&](const std::string& why) {
      return line_error(EINVAL, n, "invalid " + k + ": " + why);
    };
    auto need_true = [&]() -> std::optional<Error> {
      if (value == "true") return std::nullopt;
      return bad_value("only \"true\" is allowed, got " + quoted(value));
    };

    if (key == "public_key") {
      auto pk = key_from_hex(value);
      if (!pk) return bad_value("not 64 hex digits");
      change.peers.push_back(PeerChange{});
      peer = &change.peers.back();
      peer->public_key = *pk;
      continue;
    }

    if (peer == nullptr) {
      if (key == "private_key") {
        auto sk = key_from_hex(value);
        if (!sk) return bad_value("not 64 hex digits");
        change.private_key = *sk;
      } else if (key == "listen_port") {
        auto port = wg::parse_decimal<std::uint16_t>(value);
        if (!port) return bad_value("not a port number 0..65535: " + quoted(value));
        change.listen_port = *port;
      } else if (key == "fwmark") {
        auto mark = wg::parse_decimal<std::uint32_t>(value);
        if (!mark) return bad_value("not a decimal number 0..4294967295: " + quoted(value));
        change.fwmark = *mark;
      } else if (key == "replace_peers") {
        if (auto e = need_true()) return *e;
        change.replace_peers = true;
      } else if (is_peer_key(key)) {
        return line_error(EINVAL, n, k + " is a peer key and needs a public_key line before it");
      } else if (key.substr(0, kStraitPrefix.size()) == kStraitPrefix) {
        return line_error(EINVAL, n, "unknown strait extension key " + quoted(key));
      } else {
        return line_error(EINVAL, n, "unknown device key " + quoted(key));
      }
      continue;
    }

    if (key == "remove") {
      if (auto e = need_true()) return *e;
      peer->remove = true;
    } else if (key == "update_only") {
      if (auto e = need_true()) return *e;
      peer->update_only = true;
    } else if (key == "preshared_key") {
      auto psk = key_from_hex(value);
      if (!psk) return bad_value("not 64 hex digits");
      peer->preshared_key = *psk;
    } else if (key == "endpoint") {
      auto ep = Endpoint::parse(value);
      if (!ep) return bad_value(quoted(value) + ": " + ep.error().message);
      peer->endpoint = *ep;
    } else if (key == "persistent_keepalive_interval") {
      auto secs = wg::parse_decimal<std::uint16_t>(value);
      if (!secs) return bad_value("not a number of seconds 0..65535: " + quoted(value));
      peer->persistent_keepalive = *secs;
    } else if (key == "replace_allowed_ips") {
      if (auto e = need_true()) return *e;
      peer->replace_allowed_ips = true;
    } else if (key == "allowed_ip") {
      auto ip = IpPrefix::parse(value);
      if (!ip) return bad_value(quoted(value) + ": " + ip.error().message);
      peer->allowed_ips.push_back(*ip);
    } else if (key == "protocol_version") {
      if (value != "1") return bad_value("only version 1 exists, got " + quoted(value));
    } else if (key == "strait_cipher") {
      auto c = cipher_from_name(value);
      if (!c) return bad_value("expected aes256-gcm or chacha20-poly1305, got " + quoted(value));
      peer->cipher = *c;
    } else if (is_device_key(key)) {
      return line_error(EINVAL, n,
                        k + " is a device key and must come before the first public_key");
    } else if (key.substr(0, kStraitPrefix.size()) == kStraitPrefix) {
      return line_error(EINVAL, n, "unknown strait extension key " + quoted(key));
    } else {
      return line_error(EINVAL, n, "unknown peer key " + quoted(key));
    }
  }
  return change;
}

std::string render_set(const DeviceChange& change) {
  std::string out = "set=1\n";
  if (change.private_key) append_line(out, "private_key", key_to_hex(*change.private_key));
  if (change.listen_port) append_line(out, "listen_port", std::to_string(*change.listen_port));
  if (change.fwmark) append_line(out, "fwmark", std::to_string(*change.fwmark));
  if (change.replace_peers) append_line(out, "replace_peers", "true");
  for (const PeerChange& p : change.peers) {
    append_line(out, "public_key", key_to_hex(p.public_key));
    if (p.remove) append_line(out, "remove", "true");
    if (p.update_only) append_line(out, "update_only", "true");
    if (p.preshared_key) append_line(out, "preshared_key", key_to_hex(*p.preshared_key));
    if (p.endpoint) append_line(out, "endpoint", p.endpoint->to_string());
    if (p.persistent_keepalive) {
      append_line(out, "persistent_keepalive_interval", std::to_string(*p.persistent_keepalive));
    }
    if (p.replace_allowed_ips) append_line(out, "replace_allowed_ips", "true");
    for (const IpPrefix& ip : p.allowed_ips) append_line(out, "allowed_ip", ip.to_string());
    if (p.cipher) append_line(out, "strait_cipher", cipher_name(*p.cipher));
  }
  out.push_back('\n');
  return out;
}

// ---- get ----

std::string render_get(const DeviceState& state) {
  std::string out;
  if (state.private_key) append_line(out, "private_key", key_to_hex(*state.private_key));
  append_line(out, "listen_port", std::to_string(state.listen_port));
  if (state.fwmark != 0) append_line(out, "fwmark", std::to_string(state.fwmark));
  append_drops(out, state.drops);
  for (const HandshakeKey& h : kHandshakeKeys) {
    append_line(out, h.key, std::to_string(state.handshakes.*h.field));
  }
  append_line(out, "strait_under_load", state.under_load ? "1" : "0");
  for (const PeerState& p : state.peers) {
    append_line(out, "public_key", key_to_hex(p.public_key));
    append_line(out, "preshared_key", key_to_hex(p.preshared_key));
    append_line(out, "protocol_version", "1");
    if (p.endpoint) append_line(out, "endpoint", p.endpoint->to_string());
    append_line(out, "last_handshake_time_sec", std::to_string(p.last_handshake_sec));
    append_line(out, "last_handshake_time_nsec", std::to_string(p.last_handshake_nsec));
    append_line(out, "tx_bytes", std::to_string(p.tx_bytes));
    append_line(out, "rx_bytes", std::to_string(p.rx_bytes));
    append_line(out, "persistent_keepalive_interval", std::to_string(p.persistent_keepalive));
    for (const IpPrefix& ip : p.allowed_ips) append_line(out, "allowed_ip", ip.to_string());
    append_line(out, "strait_cipher", cipher_name(p.cipher));
    append_line(out, "strait_rx_packets", std::to_string(p.rx_packets));
    append_line(out, "strait_tx_packets", std::to_string(p.tx_packets));
    append_drops(out, p.drops);
  }
  return out;
}

Result<DeviceState> parse_get(std::string_view reply) {
  LineReader lines(reply, 1);
  DeviceState state;
  PeerState* peer = nullptr;
  std::string_view line;
  bool saw_errno = false;
  while (lines.next(line)) {
    const unsigned n = lines.line_no();
    if (line.empty()) break;  // end of the reply
    if (saw_errno) return line_error(EPROTO, n, "data after errno");
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return line_error(EPROTO, n, "expected key=value, got " + quoted(line));
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    const std::string k(key);
    auto bad = [&](std::string_view why) {
      return line_error(EPROTO, n, "invalid " + k + ": " + std::string(why));
    };
    auto u64 = [&](std::uint64_t& dst) -> bool {
      auto v = wg::parse_decimal<std::uint64_t>(value);
      if (v) dst = *v;
      return v.has_value();
    };

    if (key == "errno") {
      int code = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
      if (ec != std::errc() || p != value.data() + value.size()) return bad("not a number");
      if (code != 0) {
        return Error{std::abs(code), "device answered errno=" + std::string(value)};
      }
      saw_errno = true;
    } else if (key == "public_key") {
      auto pk = key_from_hex(value);
      if (!pk) return bad("not 64 hex digits");
      state.peers.push_back(PeerState{});
      peer = &state.peers.back();
      peer->public_key = *pk;
    } else if (peer == nullptr) {
      if (key == "private_key") {
        auto sk = key_from_hex(value);
        if (!sk) return bad("not 64 hex digits");
        state.private_key = *sk;
      } else if (key == "listen_port") {
        auto v = wg::parse_decimal<std::uint16_t>(value);
        if (!v) return bad("not a port number");
        state.listen_port = *v;
      } else if (key == "fwmark") {
        auto v = wg::parse_decimal<std::uint32_t>(value);
        if (!v) return bad("not a 32-bit number");
        state.fwmark = *v;
      } else if (key.substr(0, kDropPrefix.size()) == kDropPrefix) {
        std::uint64_t count = 0;
        if (!u64(count)) return bad("not a counter");
        state.drops.emplace_back(std::string(key.substr(kDropPrefix.size())), count);
      } else if (key == "strait_under_load") {
        if (value != "0" && value != "1") return bad("not 0 or 1");
        state.under_load = value == "1";
      } else if (auto h = std::find_if(kHandshakeKeys.begin(), kHandshakeKeys.end(),
                                       [&](const HandshakeKey& hk) { return hk.key == key; });
                 h != kHandshakeKeys.end()) {
        if (!u64(state.handshakes.*h->field)) return bad("not a counter");
      }
      // other keys: skipped, as wg(8) does
    } else if (key == "preshared_key") {
      auto psk = key_from_hex(value);
      if (!psk) return bad("not 64 hex digits");
      peer->preshared_key = *psk;
    } else if (key == "endpoint") {
      auto ep = Endpoint::parse(value);
      if (!ep) return bad(ep.error().message);
      peer->endpoint = *ep;
    } else if (key == "last_handshake_time_sec") {
      if (!u64(peer->last_handshake_sec)) return bad("not a number");
    } else if (key == "last_handshake_time_nsec") {
      if (!u64(peer->last_handshake_nsec)) return bad("not a number");
    } else if (key == "tx_bytes") {
      if (!u64(peer->tx_bytes)) return bad("not a counter");
    } else if (key == "rx_bytes") {
      if (!u64(peer->rx_bytes)) return bad("not a counter");
    } else if (key == "persistent_keepalive_interval") {
      auto v = wg::parse_decimal<std::uint16_t>(value);
      if (!v) return bad("not a number of seconds 0..65535");
      peer->persistent_keepalive = *v;
    } else if (key == "allowed_ip") {
      auto ip = IpPrefix::parse(value);
      if (!ip) return bad(ip.error().message);
      peer->allowed_ips.push_back(*ip);
    } else if (key == "strait_cipher") {
      auto c = cipher_from_name(value);
      if (!c) return bad("unknown cipher");
      peer->cipher = *c;
    } else if (key == "strait_rx_packets") {
      if (!u64(peer->rx_packets)) return bad("not a counter");
    } else if (key == "strait_tx_packets") {
      if (!u64(peer->tx_packets)) return bad("not a counter");
    } else if (key.substr(0, kDropPrefix.size()) == kDropPrefix) {
      std::uint64_t count = 0;
      if (!u64(count)) return bad("not a counter");
      peer->drops.emplace_back(std::string(key.substr(kDropPrefix.size())), count);
    }
    // other keys (protocol_version, future ones): skipped, as wg(8) does
  }
  return state;
}

std::string render_errno(int code) {
  if (code == 0) return "errno=0\n\n";
  return "errno=-" + std::to_string(std::abs(code)) + "\n\n";
}

}  // namespace strait::uapi

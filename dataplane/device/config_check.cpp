#include "device/config_check.hpp"

#include "device/peer_key_check.hpp"

namespace strait::wg {

namespace {

std::string peer_name(const Key& public_key) { return "peer " + uapi::key_to_hex(public_key); }

std::optional<std::string> check_allowed_ip(const IpPrefix& ip) {
  if (ip.family != IpFamily::v4 && ip.family != IpFamily::v6) return "unknown address family";
  if (ip.len > ip.max_len()) return "prefix length too long for the family";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_change(const uapi::DeviceChange& change,
                                        const uapi::DeviceState& current,
                                        const StaticIdentity& next_identity) {
  for (const uapi::PeerChange& pc : change.peers) {
    if (pc.remove) continue;  // the rest of a removed peer's section is moot
    const std::string who = peer_name(pc.public_key);
    if (uapi::key_is_zero(pc.public_key)) return who + ": public_key: all zero";
    if (is_small_order_point(pc.public_key))
      return who + ": public_key: a point of small order (no handshake can succeed)";
    if (pc.endpoint && pc.endpoint->family != 4 && pc.endpoint->family != 6)
      return who + ": endpoint: unknown address family";
    for (const IpPrefix& ip : pc.allowed_ips) {
      if (auto why = check_allowed_ip(ip))
        return who + ": allowed_ip " + ip.to_string() + ": " + *why;
    }
  }
  // The result as a whole: no peer may carry our own public key (Linux silently drops such a
  // peer; we refuse the change so the operator sees it).
  if (next_identity.has_key()) {
    uapi::DeviceState next = current;
    uapi::apply_change(next, change);
    for (const uapi::PeerState& p : next.peers) {
      if (p.public_key == next_identity.public_key)
        return peer_name(p.public_key) + ": public_key: equals the device's own public key";
    }
  }
  return std::nullopt;
}

}  // namespace strait::wg

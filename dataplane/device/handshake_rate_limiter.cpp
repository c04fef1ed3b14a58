#include "device/handshake_rate_limiter.hpp"

#include <algorithm>

namespace strait::wg {

HandshakeRateLimiter::SourceKey HandshakeRateLimiter::key_of(const uapi::Endpoint& source) {
  SourceKey k;
  k.family = source.family;
  const std::size_t n = source.family == 6 ? 8 : 4;  // IPv6: the /64; IPv4: the address
  for (std::size_t i = 0; i < n; ++i) k.prefix = k.prefix << 8 | source.addr[i];
  return k;
}

void HandshakeRateLimiter::collect(Time now) {
  // At most once a second, like Linux's gc work.
  if (collected_once_ && now < last_collect_ + kIdleExpiry) return;
  collected_once_ = true;
  last_collect_ = now;
  for (auto it = table_.begin(); it != table_.end();) {
    if (now >= it->second.last + kIdleExpiry) {
      it = table_.erase(it);
    } else {
      ++it;
    }
  }
}

bool HandshakeRateLimiter::allow(const uapi::Endpoint& source, Time now) {
  collect(now);
  const SourceKey key = key_of(source);
  auto it = table_.find(key);
  if (it == table_.end()) {
    if (table_.size() >= max_entries_) return false;  // full: refuse strangers (Linux err_oom)
    // A new source pays for this packet out of a full bucket.
    table_.emplace(key, Bucket{now, kTokenMax - kPacketCost});
    return true;
  }
  Bucket& b = it->second;
  const Time elapsed = now > b.last ? now - b.last : Time::zero();
  b.tokens = std::min(kTokenMax, b.tokens + elapsed);
  b.last = now;
  if (b.tokens < kPacketCost) return false;
  b.tokens -= kPacketCost;
  return true;
}

}  // namespace strait::wg

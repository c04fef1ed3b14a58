#include "straitd/neighbour_cache.hpp"

#include <algorithm>

namespace strait::straitd {

NeighbourCache::Entry& NeighbourCache::entry_for(const dp::IpAddr16& dst, std::int64_t now_ns) {
  if (auto it = entries_.find(dst); it != entries_.end()) return it->second;
  if (entries_.size() >= max_entries_) {
    expire(now_ns);
    if (entries_.size() >= max_entries_) {
      // Still full of recently used destinations: the least recently used one goes (a linear
      // scan, only when full; peers' endpoints are far fewer than the cap).
      auto lru = std::min_element(
          entries_.begin(), entries_.end(),
          [](const auto& a, const auto& b) { return a.second.used_ns < b.second.used_ns; });
      entries_.erase(lru);
    }
  }
  return entries_[dst];
}

NeighbourCache::Answer NeighbourCache::resolve(const dp::IpAddr16& dst, std::uint16_t port,
                                               std::int64_t now_ns) {
  Entry& e = entry_for(dst, now_ns);
  e.used_ns = now_ns;
  if (e.mac && now_ns - e.checked_ns < kRefreshNs) return {e.mac, false};
  if (e.checked && now_ns - e.checked_ns < kRetryNs) return {e.mac, false};
  e.checked = true;
  e.checked_ns = now_ns;
  if (auto mac = resolver_.lookup(dst)) {
    const bool changed = e.mac != mac;
    e.mac = mac;
    return {mac, changed};
  }
  if (!e.solicited || now_ns - e.solicited_ns > kSolicitIntervalNs) {
    e.solicited = true;
    e.solicited_ns = now_ns;
    resolver_.solicit(dst, port);
  }
  return {e.mac, false};
}

void NeighbourCache::expire(std::int64_t now_ns) {
  std::erase_if(entries_,
                [now_ns](const auto& kv) { return now_ns - kv.second.used_ns >= kIdleNs; });
}

}  // namespace strait::straitd

#pragma once
// Small pieces both stages use per packet: dropping with a reason, raising a per-peer flag,
// folding per-packet peer activity into one update per peer per burst, and asking the
// allowed-IPs table about a whole burst at once. Internal to dataplane/pipeline.

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>

#include "base/drop_reason.hpp"
#include "dpdk/counters.hpp"
#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"

namespace strait::dp::stage {

// How many packets ahead the stages prefetch packet data (DPDK l3fwd uses a few).
inline constexpr std::uint16_t kPrefetchAhead = 4;

inline void prefetch_data(rte_mbuf* const* pkts, std::uint16_t i, std::uint16_t n) noexcept {
  if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
}

// The burst contract: a dropped packet is freed here and counted by reason in the thread's
// own counter block.
inline void drop(StageContext& ctx, rte_mbuf* m, DropReason why) noexcept {
  rte_pktmbuf_free(m);
  count_drop(*ctx.counters, why);
}

// Sets a flag that many lcores may raise at once; the load first keeps the cache line shared
// while the flag is already up (the common case under a burst of staged packets).
inline void raise(std::atomic<bool>& flag) noexcept {
  if (!flag.load(std::memory_order_relaxed)) flag.store(true, std::memory_order_relaxed);
}

// Room for up to N objects of T on the stack, constructed one at a time as a burst needs them,
// so that a burst of 32 packets does not first zero 64 slots of scratch.
template <class T, std::size_t N>
class Scratch {
  static_assert(std::is_trivially_destructible_v<T>);

 public:
  T& emplace(std::size_t i) noexcept {
    // T may be a pointer type (a scratch of pointers): sizeof(T) is meant.
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    return *::new (static_cast<void*>(buf_ + i * sizeof(T))) T{};
  }
  [[nodiscard]] T* data() noexcept { return std::launder(reinterpret_cast<T*>(buf_)); }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return data()[i]; }

 private:
  alignas(T) unsigned char buf_[sizeof(T) * N];  // NOLINT(bugprone-sizeof-expression)
};

// Per-burst activity of one key (a session on decap, a peer slot on encap).
struct Activity {
  const void* key = nullptr;
  PeerActivity* peer = nullptr;
  std::uint32_t packets = 0;  // counted packets (rx/tx statistics)
  std::uint64_t bytes = 0;
  bool authenticated = false;             // any authenticated message moved (keepalive or data)
  bool data = false;                      // a non-keepalive one
  const SessionEntry* session = nullptr;  // decap: for the next -> current confirmation
  SourceReport source{};                  // decap: outer source of the last authenticated one
};

// Folds a burst's per-packet activity into one entry per key: a linear search over the few
// keys one burst touches (the burst is at most kStageChunk packets).
class ActivityTally {
 public:
  Activity& of(const void* key, PeerActivity* peer) noexcept {
    for (std::uint32_t i = 0; i < n_; ++i)
      if (items_[i].key == key) return items_[i];
    Activity& a = items_.emplace(n_++);
    a.key = key;
    a.peer = peer;
    return a;
  }
  [[nodiscard]] Activity* begin() noexcept { return items_.data(); }
  [[nodiscard]] Activity* end() noexcept { return items_.data() + n_; }

 private:
  Scratch<Activity, kStageChunk> items_;
  std::uint32_t n_ = 0;
};

// A burst's allowed-IPs lookups, asked of the table together (AllowedIps::lookup_v4_bulk and
// lookup_v6_bulk) so that their cache misses overlap instead of queueing: add() each packet's
// address, resolve() once, then read peer() by the lane add() returned. At most kStageChunk
// lanes; no allocation (the stages keep one on their stack).
class RouteBatch {
 public:
  static_assert(kStageChunk <= wg::AllowedIps::kMaxBulk);

  // `addr`: 4 bytes for IPv4, 16 for IPv6, wire order. Returns the lane.
  std::uint16_t add(bool is_ipv6, const std::uint8_t* addr) noexcept {
    const auto lane = static_cast<std::uint16_t>(n4_ + n6_);
    if (is_ipv6) {
      family_index_[lane] = static_cast<std::uint8_t>(kV6 | n6_);
      keys6_.emplace(n6_++) = wg::AllowedIps::load_v6(addr);
    } else {
      family_index_[lane] = n4_;
      keys4_.emplace(n4_++) = wg::AllowedIps::load_v4(addr);
    }
    return lane;
  }
  void resolve(const wg::AllowedIps& routes) noexcept {
    if (n4_ != 0) found4_ = routes.lookup_v4_bulk(keys4_.data(), n4_, peers4_.data());
    if (n6_ != 0) found6_ = routes.lookup_v6_bulk(keys6_.data(), n6_, peers6_.data());
  }
  // The peer id owning lane's address, if any (after resolve()).
  [[nodiscard]] std::optional<std::uint32_t> peer(std::uint16_t lane) const noexcept {
    const std::uint8_t at = family_index_[lane];
    const unsigned i = at & ~kV6;
    const bool v6 = (at & kV6) != 0;
    if (((v6 ? found6_ : found4_) >> i & 1U) == 0) return std::nullopt;
    return v6 ? peers6_[i] : peers4_[i];
  }

 private:
  static constexpr std::uint8_t kV6 = 0x80;             // in family_index_: an IPv6 lane
  std::array<std::uint8_t, kStageChunk> family_index_;  // lane -> kV6 | index in its family
  Scratch<std::uint32_t, kStageChunk> keys4_;
  Scratch<wg::detail::Uint128, kStageChunk> keys6_;
  std::array<wg::PeerId, kStageChunk> peers4_;
  std::array<wg::PeerId, kStageChunk> peers6_;
  std::uint64_t found4_ = 0;
  std::uint64_t found6_ = 0;
  std::uint8_t n4_ = 0;
  std::uint8_t n6_ = 0;
};

}  // namespace strait::dp::stage

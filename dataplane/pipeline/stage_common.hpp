#pragma once
// Small pieces both stages use per packet: dropping with a reason, raising a per-peer flag, and
// folding per-packet peer activity into one update per peer per burst. Internal to
// dataplane/pipeline.

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
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

}  // namespace strait::dp::stage

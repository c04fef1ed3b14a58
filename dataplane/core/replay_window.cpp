#include "core/replay_window.hpp"

namespace strait::wg {

namespace {

constexpr std::uint64_t kBitMask = ReplayWindow::kBitsPerSlot - 1;
constexpr std::uint64_t kSlotMask = ReplayWindow::kSlots - 1;
constexpr unsigned kBlockShift = 5;        // log2(kBitsPerSlot)
constexpr unsigned kGenerationShift = 13;  // log2(kRingBits)
static_assert(std::uint64_t{1} << kBlockShift == ReplayWindow::kBitsPerSlot);
static_assert(std::uint64_t{1} << kGenerationShift == ReplayWindow::kRingBits);

constexpr std::size_t slot_of(std::uint64_t counter) noexcept {
  return static_cast<std::size_t>((counter >> kBlockShift) & kSlotMask);
}
constexpr std::uint64_t bit_of(std::uint64_t counter) noexcept {
  return std::uint64_t{1} << (counter & kBitMask);
}
// The slot's high half: which of the blocks that share the slot it holds.
constexpr std::uint64_t tag_of(std::uint64_t counter) noexcept {
  return (counter >> kGenerationShift) << 32;
}
constexpr std::uint64_t kTagMask = ~std::uint64_t{0} << 32;

// `end` is one past the highest committed counter. Counters more than kWindowSize behind
// the highest have no reliable slot any more (it may hold a newer block).
constexpr bool too_old(std::uint64_t counter, std::uint64_t end) noexcept {
  return end > counter + ReplayWindow::kWindowSize + 1;
}

}  // namespace

bool ReplayWindow::check(std::uint64_t counter) const noexcept {
  if (counter >= kRejectAfterMessages) return false;
  const std::uint64_t end = end_.load(std::memory_order_acquire);
  if (counter >= end) return true;
  if (too_old(counter, end)) return false;
  const std::uint64_t v = slots_[slot_of(counter)].load(std::memory_order_acquire);
  return (v & kTagMask) != tag_of(counter) || (v & bit_of(counter)) == 0;
}

bool ReplayWindow::commit(std::uint64_t counter) noexcept {
  if (counter >= kRejectAfterMessages) return false;
  // Raise end_ before touching the slot. Every slot value is thereby published after an end_
  // that covers it (the slot CAS is a release), which is what lets a reader of a slot with a
  // foreign tag decide from end_ alone whether the slot is older than its counter (replace
  // it) or newer (the counter has left the window).
  std::uint64_t end = end_.load(std::memory_order_acquire);
  while (counter >= end && !end_.compare_exchange_weak(end, counter + 1, std::memory_order_acq_rel,
                                                       std::memory_order_acquire)) {
  }

  std::atomic<std::uint64_t>& slot = slots_[slot_of(counter)];
  const std::uint64_t tag = tag_of(counter);
  const std::uint64_t bit = bit_of(counter);
  std::uint64_t v = slot.load(std::memory_order_acquire);
  for (;;) {
    // Loaded after the slot, so at least the end_ that was current when the slot was
    // written: if the counter is inside the window by this end_, the slot holds its block or
    // an older one, never a newer one. (Checking against an end_ read before the slot would
    // let a late thread overwrite a newer block and so forget its counters.)
    if (too_old(counter, end_.load(std::memory_order_acquire))) return false;
    std::uint64_t want;
    if ((v & kTagMask) == tag) {
      if ((v & bit) != 0) return false;  // committed before
      want = v | bit;
    } else {
      // An older block whose counters have all left the window: start our block afresh.
      want = tag | bit;
    }
    if (slot.compare_exchange_weak(v, want, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return true;
    }
  }
}

void ReplayWindow::reset() noexcept {
  end_.store(0, std::memory_order_relaxed);
  for (auto& slot : slots_) slot.store(0, std::memory_order_relaxed);
}

}  // namespace strait::wg

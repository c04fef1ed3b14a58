#pragma once
// The receive-side sliding window of one keypair (WireGuard paper section 5.4.6; RFC 6479's
// ring of bitmap blocks, as the Linux module's counter validation). Lock-free: several lcores
// that decrypt for the same keypair check and commit concurrently.
//
// Layout. 256 slots of 64 bits, each holding one block of 32 consecutive counters: the low 32
// bits are the block's bitmap, the high 32 bits its generation tag (counter / 8192, truncated
// to 32 bits). Counter c lives in slot (c / 32) % 256, bit c % 32. The ring covers 8192
// counters; the block that holds the highest counter is partly in the future, so the
// effective window is 8192 - 32 counters (RFC 6479 section 2 excludes the top block likewise).
//
// Why tags instead of RFC 6479's "clear the blocks that slide out". With concurrent commits a
// plain bitmap has an ABA problem: a thread that is late setting the bit of an old-but-valid
// counter can land its fetch_or after another thread has cleared and reused that block for
// counters 8192 higher, marking a future counter as seen (a wrongful refusal deep inside the
// window, not at its edge). Here a slot is never cleared ahead of time: the first commit of a
// newer block replaces the slot's whole 64-bit value, tag and bitmap, in one CAS, and every
// bit is set by a CAS that also checks the tag. A late writer's CAS fails because the tag
// changed, and it re-reads.
//
// Guarantees, with H the highest counter committed so far:
//  - commit(c) returns true at most once for each c, under any interleaving of any number of
//    threads. (A slot's block only moves forward; a commit writes a slot only after end_
//    covers its counter, and a reader that sees the slot sees that end_.)
//  - A counter c < kRejectAfterMessages that was never committed is accepted if c > H, or if
//    H - c <= kWindowSize (8160). It is refused if H - c > kWindowSize.
//  - Under concurrency every refusal is justified by the state at some instant during the
//    call: a counter refused as too old was more than kWindowSize behind the highest counter
//    at that instant. So the only counters refused "wrongly" are those a concurrent commit of
//    a much newer counter pushed over the left edge while the call ran.
//  - One deterministic limit: the tag keeps 32 bits of the generation, so a slot that no
//    commit touched while H advanced by a multiple of 2^45 counters would read as current
//    and its stale bits could refuse (never accept twice) counters of its block. A WireGuard
//    sender counts up by one and a keypair lives at most REJECT_AFTER_TIME (180 s), so this
//    needs a sender that deliberately skips 2^45 counters, which only hurts itself.
//
// Threads: check/commit from any number of threads; reset only while no other thread uses
// the window (before the keypair is published).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/types.hpp"

namespace strait::wg {

class alignas(64) ReplayWindow {
 public:
  static constexpr std::uint64_t kBitsPerSlot = 32;
  static constexpr std::size_t kSlots = 256;
  static constexpr std::uint64_t kRingBits = kBitsPerSlot * kSlots;  // 8192
  // How far behind the highest committed counter a counter is still accepted.
  static constexpr std::uint64_t kWindowSize = kRingBits - kBitsPerSlot;  // 8160

  ReplayWindow() noexcept = default;
  ReplayWindow(const ReplayWindow&) = delete;
  ReplayWindow& operator=(const ReplayWindow&) = delete;

  // Pre-check before decryption: false if c >= REJECT_AFTER_MESSAGES, too old, or already
  // committed. Advisory under concurrency (a duplicate can pass two checks at once; commit
  // decides).
  [[nodiscard]] bool check(std::uint64_t counter) const noexcept;

  // After the AEAD tag verified: records the counter. False if it was committed already (a
  // duplicate that raced past check), is now too old, or is >= REJECT_AFTER_MESSAGES.
  [[nodiscard]] bool commit(std::uint64_t counter) noexcept;

  // Brings the lines check and commit read for `counter` towards the cache (a hint for the
  // decap stage; no effect on any result).
  void prefetch(std::uint64_t counter) const noexcept {
    __builtin_prefetch(&end_);
    __builtin_prefetch(&slots_[(counter / kBitsPerSlot) % kSlots]);
  }

  // Forgets every counter. Not concurrent with check/commit.
  void reset() noexcept;

 private:
  // One past the highest committed counter; 0 while nothing was committed (so counter 0 needs
  // no special case). Only grows, by CAS.
  std::atomic<std::uint64_t> end_{0};
  // Own cache line: end_ changes with every in-order packet, a slot once per 32.
  alignas(64) std::array<std::atomic<std::uint64_t>, kSlots> slots_{};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
// too_old() computes counter + kWindowSize + 1 for counters below the limit without overflow.
// This is why REJECT_AFTER_MESSAGES stops 2^13 + 1 short of 2^64.
static_assert(kRejectAfterMessages <= UINT64_MAX - ReplayWindow::kWindowSize - 1);

}  // namespace strait::wg

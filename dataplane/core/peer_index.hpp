#pragma once
// The receiver-index table (WireGuard paper section 5.4: every handshake message carries the
// sender's random 32-bit index; the other side puts it in the receiver field of the response
// and of every data message). Maps our local indices to what they name: a handshake we are
// running (its response is matched by index) or a keypair (data is decrypted with it).
//
// Structure: a table of fixed power-of-two capacity in which an index lives in exactly one
// slot, index & (capacity - 1). Since we choose the indices, allocate() only picks indices
// whose slot is free: a lookup is one slot read and one compare, with no probing, no
// tombstones and no hashing (the index bits are random already). Index 0 is never handed
// out, so an all-zero slot means empty.
//
// Threads: none of its own. A plain value (copyable): lcores call lookup() on a published,
// immutable copy (docs/STRAITD.md, "Publishing configuration: RCU"); the slow-path thread
// mutates its own copy.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/types.hpp"

namespace strait::wg {

struct Keypair;

enum class IndexKind : std::uint8_t {
  handshake = 1,  // our pending initiation or response: a handshake response is for this peer
  keypair = 2,    // a session: data messages are decrypted with `keypair`
};

struct IndexEntry {
  IndexKind kind = IndexKind::handshake;
  PeerId peer = 0;             // whose index it is
  Keypair* keypair = nullptr;  // kind == keypair only; owned by the Device/snapshot
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

class PeerIndex {
 public:
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 24;
  // After this many random candidates whose slot was taken, allocate() scans for a free
  // slot instead, so that a nearly full table costs time linear in its size, never a hang.
  static constexpr int kRandomAttempts = 32;

  // Capacity is rounded up to a power of two in [2, kMaxCapacity]. Size it at about twice
  // the live indices (up to four per peer: a handshake and three keypairs) so that
  // allocation rarely needs a second candidate.
  explicit PeerIndex(std::size_t capacity);

  // Picks a random unused non-zero index for `value`. `rng` returns uniformly random 32-bit
  // values (the core has no randomness of its own). nullopt: the table is full.
  template <class Rng>
  [[nodiscard]] std::optional<std::uint32_t> allocate(const IndexEntry& value, Rng&& rng) {
    if (size_ == slots_.size()) return std::nullopt;
    for (int attempt = 0; attempt < kRandomAttempts; ++attempt) {
      const std::uint32_t index = static_cast<std::uint32_t>(rng());
      if (index != 0 && slots_[index & mask_].index == 0) return place(index, value);
    }
    // Dense table: take the first free slot after a random one, keep random high bits.
    const std::uint32_t start = static_cast<std::uint32_t>(rng());
    const std::uint32_t high = static_cast<std::uint32_t>(rng()) & ~mask_;
    for (std::uint32_t i = 0; i <= mask_; ++i) {
      const std::uint32_t slot = (start + i) & mask_;
      if (slots_[slot].index != 0) continue;
      // Slot 0 with high bits 0 would be index 0: use another value of the high bits
      // (there is one, since the capacity is at most 2^24).
      const std::uint32_t index = (high | slot) != 0 ? (high | slot) : mask_ + 1;
      return place(index, value);
    }
    return std::nullopt;  // unreachable: size_ < capacity means a slot is free
  }

  // Registers a given index (e.g. rebuilding from another table of the same capacity). False
  // if the index is 0 or its slot is taken.
  [[nodiscard]] bool insert(std::uint32_t index, const IndexEntry& value);

  // Fast path: what `index` names, or nullptr. The pointer is valid until the next change.
  [[nodiscard]] const IndexEntry* lookup(std::uint32_t index) const noexcept {
    const Slot& s = slots_[index & mask_];
    return index != 0 && s.index == index ? &s.value : nullptr;
  }

  // Points an existing index at a new value (a handshake's index becomes its keypair's,
  // as in the Linux module's wg_index_hashtable_replace). False if the index is unknown.
  [[nodiscard]] bool replace(std::uint32_t index, const IndexEntry& value) noexcept;
  // False if the index is unknown.
  bool remove(std::uint32_t index) noexcept;
  void clear() noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }

 private:
  struct Slot {
    std::uint32_t index = 0;  // 0: free
    IndexEntry value;
  };

  std::uint32_t place(std::uint32_t index, const IndexEntry& value) noexcept;

  std::vector<Slot> slots_;
  std::uint32_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace strait::wg

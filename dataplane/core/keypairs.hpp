#pragma once
// The previous/current/next keypair rotation of one peer (WireGuard paper section 5.4.6 and
// 6.1; the Linux module's noise.c add_new_keypair / wg_noise_received_with_keypair).
//
// - current:  the keypair we send with.
// - next:     a keypair we derived as responder. We may not send with it until the initiator
//             proves it has it too, by sending data on it; then it becomes current.
// - previous: the keypair current replaced; kept so that data in flight on it still decrypts.
//
// Ownership and threads. All mutators (install, received_with, expire, expire_current_for_
// sending, clear) run on the slow-path thread only: one writer, no lock. Each slot owns its
// Keypair through a std::shared_ptr (allocation happens once per handshake, on the slow path;
// the fast path never touches the reference count). The raw pointers are also published in
// atomics that lcores read with acquire loads (current(), is_next()), between two RCU
// quiescent-state reports. A keypair the rotation drops is handed back in `Released`,
// together with its local index: the caller unregisters the index from the PeerIndex, waits
// for a grace period (rte_rcu_qsbr), then lets the shared_ptr go; ~Keypair zeroes the keys.
// Dropping the Released at once is correct when no other thread reads (unit tests, shutdown).
// A Device that publishes immutable snapshots (docs/STRAITD.md) instead copies the owning
// pointers (shared_current() ...) into each snapshot and may ignore the published atomics;
// a released keypair then lives until the last snapshot naming it is reclaimed.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/keypair.hpp"
#include "core/types.hpp"

namespace strait::wg {

// Keypairs dropped by one rotation step: at most the three slots.
class ReleasedKeypairs {
 public:
  struct Entry {
    std::uint32_t local_index = 0;
    std::shared_ptr<Keypair> keypair;
  };

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] const Entry* begin() const noexcept { return entries_.data(); }
  [[nodiscard]] const Entry* end() const noexcept { return entries_.data() + count_; }
  [[nodiscard]] const Entry& operator[](std::size_t i) const noexcept { return entries_[i]; }
  // True if the keypair with this local index was released.
  [[nodiscard]] bool contains_index(std::uint32_t local_index) const noexcept;

  // Takes the keypair out of a slot (no-op for an empty slot) and marks it unusable for
  // sending, so that lcores which still see it until the grace period ends stop using it.
  void add(std::shared_ptr<Keypair>&& keypair) noexcept;
  void append(ReleasedKeypairs&& other) noexcept;

 private:
  std::array<Entry, 3> entries_{};
  std::size_t count_ = 0;
};

class Keypairs {
 public:
  struct Installed {
    Keypair* keypair = nullptr;  // the new keypair: register keypair->local_index -> it
    ReleasedKeypairs released;   // unregister these, free after a grace period
  };

  Keypairs() = default;
  ~Keypairs() = default;
  Keypairs(const Keypairs&) = delete;
  Keypairs& operator=(const Keypairs&) = delete;

  // A handshake completed (paper section 5.4.5). As initiator we have already received the
  // responder's confirmation (its response), so the keypair becomes current at once; the old
  // current becomes previous, or, if an unconfirmed next keypair was pending, that one does
  // (Linux keeps it for robustness) and the old current is dropped. As responder the keypair
  // becomes next and the old next and previous are dropped.
  // Allocates (throws std::bad_alloc): slow path only.
  [[nodiscard]] Installed install(const SessionKeys& keys, Cipher cipher, Time now);

  // A data message authenticated with `keypair`. If that is the pending next keypair, the
  // initiator has proven it holds the keys: next becomes current and current becomes
  // previous. Returns whether the rotation happened (the caller then runs its
  // "handshake complete" bookkeeping). Never releases anything: a pending next implies an
  // empty previous slot (both install paths and this one keep that invariant).
  [[nodiscard]] bool received_with(const Keypair* keypair) noexcept;

  // Drops every keypair that can no longer decrypt anything (older than REJECT_AFTER_TIME or
  // past its last counter, paper section 6.1). The Linux module keeps them until rotation or
  // the zero-key timer; dropping them early frees their indices and changes nothing else.
  [[nodiscard]] ReleasedKeypairs expire(Time now) noexcept;

  // Stops sending on current and next (Linux wg_noise_expire_current_peer_keypairs: our
  // private key changed, or the peer is being removed). Receiving still works.
  void expire_current_for_sending() noexcept;

  // Drops all three keypairs (the zero-key timer, REJECT_AFTER_TIME * 3 after the last
  // session, paper section 6.3; or peer removal).
  [[nodiscard]] ReleasedKeypairs clear() noexcept;

  // --- Lock-free readers, any thread (inside an RCU read-side section for lcores).
  // The keypair to send with, or nullptr (then stage the packet, ask for a handshake).
  [[nodiscard]] Keypair* current() const noexcept {
    return current_pub_.load(std::memory_order_acquire);
  }
  [[nodiscard]] Keypair* next() const noexcept { return next_pub_.load(std::memory_order_acquire); }
  [[nodiscard]] Keypair* previous() const noexcept {
    return previous_pub_.load(std::memory_order_acquire);
  }
  // The cheap test an lcore makes after authenticating data: does received_with have work?
  [[nodiscard]] bool is_next(const Keypair* keypair) const noexcept {
    return keypair != nullptr && keypair == next_pub_.load(std::memory_order_acquire);
  }
  // Writer side (slow-path thread): the owning pointers, for snapshots that share them
  // (docs/STRAITD.md: a keypair dies with the last snapshot that names it).
  [[nodiscard]] const std::shared_ptr<Keypair>& shared_current() const noexcept { return current_; }
  [[nodiscard]] const std::shared_ptr<Keypair>& shared_next() const noexcept { return next_; }
  [[nodiscard]] const std::shared_ptr<Keypair>& shared_previous() const noexcept {
    return previous_;
  }
  // Number of occupied slots (0..3).
  [[nodiscard]] std::size_t size() const noexcept;

 private:
  // Writer-side ownership (slow-path thread only) ...
  std::shared_ptr<Keypair> previous_;
  std::shared_ptr<Keypair> current_;
  std::shared_ptr<Keypair> next_;
  // ... and the same pointers as published to readers.
  std::atomic<Keypair*> previous_pub_{nullptr};
  std::atomic<Keypair*> current_pub_{nullptr};
  std::atomic<Keypair*> next_pub_{nullptr};

  void publish() noexcept;
};

}  // namespace strait::wg

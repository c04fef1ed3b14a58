#pragma once
// One transport session: the two keys a Noise handshake derived, the indices that name it on
// the wire, the send counter and the replay window (WireGuard paper section 5.4.6).
//
// Threads. Everything but `send_counter`, `send_valid`, `recv_valid` and `replay` is written
// once by the slow-path thread before the keypair is published (Keypairs::install) and only
// read afterwards. `send_counter` is shared by every lcore that encrypts for the peer (one
// atomic reservation per burst), `replay` by every lcore that decrypts (check before the AEAD,
// commit after it), and the two validity flags are cleared by whichever thread sees the limit.
// A published Keypair stays alive while any lcore may read it: the owner (Keypairs) hands it
// back to its caller when it drops it, and the caller frees it after an RCU grace period.

#include <atomic>
#include <cstdint>
#include <optional>

#include "core/replay_window.hpp"
#include "core/types.hpp"
#include "crypto/aead_burst.hpp"

namespace strait::wg {

// The receive side rule of the Linux module's receive.c keep_key_fresh: an initiator rekeys
// when a data message arrives on a session about to pass REJECT_AFTER_TIME, so that a new
// session exists before the peer, which never rekeys by time as responder, must stop sending.
inline constexpr Time kRekeyOnReceiveAfterTime =
    kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout;

// The largest burst reserve_counters accepts. Bounds how far concurrent reservations can
// overshoot the counter limit (see reserve_counters).
inline constexpr std::uint64_t kMaxCounterReservation = 1U << 16;

struct alignas(64) Keypair {
  Keypair(const SessionKeys& keys, Cipher cipher_in, Time birthdate_in) noexcept
      : send_key(keys.send_key),
        recv_key(keys.recv_key),
        birthdate(birthdate_in),
        local_index(keys.local_index),
        remote_index(keys.remote_index),
        cipher(cipher_in),
        we_initiated(keys.we_initiated) {}

  // Keys must not outlive the session (paper section 6.1: forward secrecy relies on erasing
  // them).
  ~Keypair() {
    wipe_secret(send_key);
    wipe_secret(recv_key);
  }

  Keypair(const Keypair&) = delete;
  Keypair& operator=(const Keypair&) = delete;
  Keypair(Keypair&&) = delete;
  Keypair& operator=(Keypair&&) = delete;

  // --- Read-mostly: written before publication. Kept away from the counter's cache line so
  // that counter reservations by one lcore do not evict the keys from the others.
  Key send_key;
  Key recv_key;
  Time birthdate;              // when the handshake derived the keys (the caller's clock)
  std::uint32_t local_index;   // our sender index; the peer's data carries it as receiver
  std::uint32_t remote_index;  // the peer's sender index; our data carries it as receiver
  Cipher cipher;
  bool we_initiated;           // initiator of the handshake that made this keypair
  bool aead_prepared = false;  // send_aead/recv_aead hold the keys (prepare_aead)

  // Cleared when a limit is reached, or by Keypairs::expire_current_for_sending (new private
  // key, peer removed). Relaxed: a late reader at worst sends/accepts one more burst that the
  // counter and time checks bound anyway.
  std::atomic<bool> send_valid{true};
  std::atomic<bool> recv_valid{true};

  // The same two keys expanded for the AEAD engine, which is what the transport codec seals
  // and opens with (core/transport_codec.hpp); after the fields every packet checks, so that
  // those share one line. Made once per keypair, by whoever installs it (the Device, on the
  // slow path, before the keypair is published), so every user of the keypair shares one
  // expansion. ~AeadKey wipes them.
  crypto::AeadKey send_aead;
  crypto::AeadKey recv_aead;

  // Expands both keys for `engine`'s process (a no-op once done). Slow path, before the
  // keypair is published: a published keypair is read by lcores without a lock.
  void prepare_aead(const crypto::AeadEngine& engine) {
    if (aead_prepared) return;
    engine.prepare_key(send_aead, cipher, send_key.data());
    engine.prepare_key(recv_aead, cipher, recv_key.data());
    aead_prepared = true;
  }

  // --- Hot, written by every encrypting lcore: its own cache line.
  // The next nonce to use (paper section 5.4.6: the 64-bit counter, starting at zero).
  alignas(64) std::atomic<std::uint64_t> send_counter{0};

  // --- Written by every decrypting lcore; ReplayWindow aligns itself.
  ReplayWindow replay;

  // Hints for the burst stages, which issue them for every packet of a burst before they look
  // at any (so that the cache misses of different peers overlap instead of queueing): the
  // lines opening a message with `counter` reads (the checked fields, the replay window's
  // lines for it, the receive key), and those sealing reads (the checked fields, the counter,
  // the send key). No effect on any result.
  void prefetch_for_open(std::uint64_t counter) const noexcept {
    __builtin_prefetch(&birthdate);
    replay.prefetch(counter);
    crypto::prefetch_key(recv_aead);
  }
  void prefetch_for_seal() const noexcept {
    __builtin_prefetch(&birthdate);
    __builtin_prefetch(&send_counter, 1);
    crypto::prefetch_key(send_aead);
  }

  // Usable for sending at `now`: within REJECT_AFTER_TIME of its birth and counters left
  // below REJECT_AFTER_MESSAGES (paper section 6.1, table of constants).
  [[nodiscard]] bool valid_for_send(Time now) const noexcept {
    return send_valid.load(std::memory_order_relaxed) && now < birthdate + kRejectAfterTime &&
           send_counter.load(std::memory_order_relaxed) < kRejectAfterMessages;
  }

  // Usable for receiving at `now`: within REJECT_AFTER_TIME of its birth and the largest
  // counter not yet at REJECT_AFTER_MESSAGES (per-message counter bound: check_counter).
  [[nodiscard]] bool valid_for_receive(Time now) const noexcept {
    return recv_valid.load(std::memory_order_relaxed) && now < birthdate + kRejectAfterTime;
  }

  // The send-side rekey rule (paper section 6.2; Linux send.c keep_key_fresh): after
  // REKEY_AFTER_MESSAGES messages on any keypair, or REKEY_AFTER_TIME on one we initiated
  // (only the initiator rekeys by time, so both ends do not start handshakes at once).
  [[nodiscard]] bool needs_rekey(Time now) const noexcept {
    return send_counter.load(std::memory_order_relaxed) > kRekeyAfterMessages ||
           (we_initiated && now >= birthdate + kRekeyAfterTime);
  }

  // The receive-side rule (kRekeyOnReceiveAfterTime above), for a keypair we initiated.
  [[nodiscard]] bool needs_rekey_on_receive(Time now) const noexcept {
    return we_initiated && now >= birthdate + kRekeyOnReceiveAfterTime;
  }

  // Reserves the nonces [first, first + n) for one burst; nullopt when the range would reach
  // REJECT_AFTER_MESSAGES (then the keypair is marked invalid for sending), or n is 0 or
  // larger than kMaxCounterReservation. A counter is never handed out twice.
  //
  // Far from the limit this is one fetch_add (wait-free). A bare fetch_add cannot be used all
  // the way: after the limit every refused burst would still advance the counter, and enough
  // of them would wrap it to zero and reuse nonces. So near the limit (within 2^40 of it, far
  // more than concurrent bursts can add between the load and the fetch_add) a CAS loop takes
  // over, which never moves the counter past the limit.
  [[nodiscard]] std::optional<std::uint64_t> reserve_counters(std::uint64_t n) noexcept {
    if (n == 0 || n > kMaxCounterReservation) return std::nullopt;
    constexpr std::uint64_t kCasZone = 1ULL << 40;
    std::uint64_t seen = send_counter.load(std::memory_order_relaxed);
    if (seen < kRejectAfterMessages - kCasZone) {
      const std::uint64_t first = send_counter.fetch_add(n, std::memory_order_relaxed);
      if (first <= kRejectAfterMessages - n) return first;
      send_valid.store(false, std::memory_order_relaxed);  // unreachable in practice
      return std::nullopt;
    }
    do {
      if (seen > kRejectAfterMessages || kRejectAfterMessages - seen < n) {
        send_valid.store(false, std::memory_order_relaxed);
        return std::nullopt;
      }
    } while (!send_counter.compare_exchange_weak(seen, seen + n, std::memory_order_relaxed));
    return seen;
  }

  // Two-phase replay protection (paper section 5.4.6, RFC 6479), with the
  // REJECT_AFTER_MESSAGES bound on top of the window: check before decrypting ...
  [[nodiscard]] bool check_counter(std::uint64_t counter) const noexcept {
    return counter < kRejectAfterMessages && replay.check(counter);
  }

  // ... commit after authentication. False: a duplicate that raced in from another lcore.
  // The last usable counter ends the keypair's receive life (Linux receive.c: a keypair whose
  // counter reached REJECT_AFTER_MESSAGES is no longer valid).
  [[nodiscard]] bool commit_counter(std::uint64_t counter) noexcept {
    if (counter >= kRejectAfterMessages) return false;
    if (!replay.commit(counter)) return false;
    if (counter == kRejectAfterMessages - 1) recv_valid.store(false, std::memory_order_relaxed);
    return true;
  }
};

}  // namespace strait::wg

#pragma once
// Basic types and protocol constants shared by the whole protocol core.
// The core has no clock of its own: every function that needs the time takes a Time.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/keys.hpp"

namespace strait::wg {

// A peer's handle in the forwarding state (what allowed-IPs lookups and receiver indices yield).
using PeerId = std::uint32_t;

// Monotonic time since an arbitrary origin chosen by the caller (straitd feeds CLOCK_MONOTONIC
// in ns, base/monotonic_clock.hpp monotonic_ns; tests feed a fake clock). Never wall-clock.
using Time = std::chrono::nanoseconds;

// Timer constants, WireGuard paper section 6.1 (and the Linux module's messages.h).
inline constexpr Time kRekeyAfterTime = std::chrono::seconds(120);
inline constexpr Time kRejectAfterTime = std::chrono::seconds(180);
inline constexpr Time kRekeyAttemptTime = std::chrono::seconds(90);
inline constexpr Time kRekeyTimeout = std::chrono::seconds(5);
inline constexpr Time kRekeyTimeoutJitterMax = std::chrono::milliseconds(334);
inline constexpr Time kKeepaliveTimeout = std::chrono::seconds(10);
inline constexpr Time kCookieSecretMaxAge = std::chrono::seconds(120);
inline constexpr Time kCookieSecretLatency = std::chrono::seconds(5);
inline constexpr std::uint64_t kRekeyAfterMessages = 1ULL << 60;
inline constexpr std::uint64_t kRejectAfterMessages = UINT64_MAX - (1ULL << 13) - 1;

}  // namespace strait::wg

namespace strait::wg {

// What a completed Noise handshake yields (paper section 5.4.5): the two transport keys
// and the indices that name the session on each side. Handed to the keypair rotation.
struct SessionKeys {
  Key send_key{};
  Key recv_key{};
  std::uint32_t local_index = 0;   // our sender index: peers put it in their receiver field
  std::uint32_t remote_index = 0;  // the peer's sender index: we put it in our receiver field
  bool we_initiated = false;

  // Copies live on the stack of the handshake code and in the keypair rotation's hands: each
  // one erases its keys when it goes (still an aggregate: a destructor is allowed).
  ~SessionKeys() {
    wipe_secret(send_key);
    wipe_secret(recv_key);
  }
};

}  // namespace strait::wg

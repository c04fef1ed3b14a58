#pragma once
// Basic types and protocol constants shared by the whole protocol core.
// The core has no clock of its own: every function that needs the time takes a Time.

#include <string.h>  // explicit_bzero

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace strait::wg {

inline constexpr std::size_t kKeyLen = 32;   // X25519 keys, symmetric keys, PSK
inline constexpr std::size_t kHashLen = 32;  // BLAKE2s-256
inline constexpr std::size_t kTagLen = 16;   // Poly1305 / GCM tag
inline constexpr std::size_t kMacLen = 16;   // mac1, mac2, cookie

using Key = std::array<std::uint8_t, kKeyLen>;
using Hash = std::array<std::uint8_t, kHashLen>;
using Mac = std::array<std::uint8_t, kMacLen>;

// Erases a secret (keys, PSKs, chaining keys, key schedules) so that the stores survive
// optimisation: a memset just before an object's lifetime ends is a dead store the compiler may
// drop (GCC does, -flifetime-dse). Forward secrecy relies on keys not outliving their use (paper
// section 6.1), so every type that holds one wipes it in its destructor with this. The one way
// to do it in the data plane (crypto::secure_zero is this for spans).
inline void wipe_secret(void* p, std::size_t n) noexcept { explicit_bzero(p, n); }
template <std::size_t N>
inline void wipe_secret(std::array<std::uint8_t, N>& secret) noexcept {
  wipe_secret(secret.data(), secret.size());
}
template <std::size_t N>
inline void wipe_secret(std::optional<std::array<std::uint8_t, N>>& secret) noexcept {
  if (secret.has_value()) wipe_secret(*secret);
}

// A peer's handle in the forwarding state (what allowed-IPs lookups and receiver indices yield).
using PeerId = std::uint32_t;

// Monotonic time since an arbitrary origin chosen by the caller (straitd feeds CLOCK_MONOTONIC
// in ns, straitd/worker_pipeline.cpp monotonic_ns; tests feed a fake clock). Never wall-clock.
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

// The transport cipher of a keypair. WireGuard peers use ChaCha20-Poly1305 (message type 4);
// strait peers use AES-256-GCM with the same keys and nonce layout (message type kMsgDataAesGcm).
enum class Cipher : std::uint8_t { chacha20_poly1305 = 0, aes256_gcm = 1 };

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

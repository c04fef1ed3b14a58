#pragma once
// Keys, their sizes, the transport cipher and how secrets are erased: the vocabulary the
// crypto engines, the protocol core, the UAPI and the XDP loader share (docs/LAYERS.md, floor
// 0). In namespace strait itself, so that every room finds them unqualified.

#include <string.h>  // explicit_bzero

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace strait {

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

// The transport cipher of a keypair. WireGuard peers use ChaCha20-Poly1305 (message type 4);
// strait peers use AES-256-GCM with the same keys and nonce layout (message type kMsgDataAesGcm).
enum class Cipher : std::uint8_t { chacha20_poly1305 = 0, aes256_gcm = 1 };

}  // namespace strait

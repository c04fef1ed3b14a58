#pragma once
// The slow-path cryptographic primitives of the WireGuard protocol, behind one small
// interface (WireGuard paper section 5.4; Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s).
// Backed by libsodium (X25519, ChaCha20-Poly1305, XChaCha20-Poly1305) and our own BLAKE2s
// (RFC 7693; libsodium only ships BLAKE2b). The fast path does not use these for transport
// data: it uses the ipsec-mb burst engine (aead_burst.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace strait::crypto {

using Bytes = std::span<const std::uint8_t>;
using MutBytes = std::span<std::uint8_t>;

inline constexpr std::size_t kX25519Len = 32;
inline constexpr std::size_t kBlake2sOutMax = 32;
inline constexpr std::size_t kBlake2sKeyMax = 32;
inline constexpr std::size_t kAeadKeyLen = 32;
inline constexpr std::size_t kAeadTagLen = 16;
inline constexpr std::size_t kXNonceLen = 24;

// Must be called once per process before any other function (initialises libsodium).
// Returns false if the library cannot be initialised.
[[nodiscard]] bool init();

// Fills out with cryptographically secure random bytes.
void random_bytes(MutBytes out);

// Zeroes memory in a way the compiler may not elide: wipe_secret (core/types.hpp) for spans.
void secure_zero(MutBytes buf);

// Constant-time equality of two equally sized buffers.
[[nodiscard]] bool equal_ct(Bytes a, Bytes b);

// ---- X25519 (RFC 7748) ----
// Generates a clamped private key.
void x25519_generate(MutBytes private_key);
// public_key = X25519(private_key, 9).
void x25519_public(MutBytes public_key, Bytes private_key);
// shared = X25519(private_key, public_key). Returns false when the result is all zero
// (the peer sent a low-order point); the handshake must be rejected then.
[[nodiscard]] bool x25519(MutBytes shared, Bytes private_key, Bytes public_key);

// ---- BLAKE2s (RFC 7693) ----
// Incremental BLAKE2s with 1..32 byte output and an optional 0..32 byte key.
class Blake2s {
 public:
  explicit Blake2s(std::size_t out_len, Bytes key = {});
  void update(Bytes data);
  void final(MutBytes out);  // out.size() must equal out_len

 private:
  void compress(bool last);
  std::array<std::uint32_t, 8> h_{};
  std::array<std::uint32_t, 2> t_{};
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::size_t out_len_ = 0;
};

// One-shot BLAKE2s: out.size() is the output length (1..32).
void blake2s(MutBytes out, Bytes in, Bytes key = {});

// HMAC-BLAKE2s-256 (RFC 2104 over BLAKE2s, block size 64). out32 may alias key or data.
void hmac_blake2s(MutBytes out32, Bytes key, Bytes data);

// The WireGuard KDF (HKDF over HMAC-BLAKE2s, paper section 5.4): produces up to three
// 32-byte outputs from a chaining key and input. Unused outputs may be empty spans; outputs
// may alias chaining_key or input.
void kdf(MutBytes out1, MutBytes out2, MutBytes out3, Bytes chaining_key, Bytes input);

// ---- ChaCha20-Poly1305 (RFC 8439), WireGuard nonce = 32 zero bits || 64-bit LE counter ----
// dst must hold src.size() + 16 bytes.
void chacha20poly1305_seal(MutBytes dst, Bytes src, Bytes ad, std::uint64_t counter, Bytes key);
// dst must hold src.size() - 16 bytes; returns false on authentication failure.
[[nodiscard]] bool chacha20poly1305_open(MutBytes dst, Bytes src, Bytes ad, std::uint64_t counter,
                                         Bytes key);
// The same AEAD with an arbitrary 12-byte RFC 8439 nonce (the WireGuard variants above are
// these with nonce = 4 zero bytes || LE64(counter)); lets the RFC 8439 vectors be checked.
inline constexpr std::size_t kAeadNonceLen = 12;
void chacha20poly1305_seal_nonce96(MutBytes dst, Bytes src, Bytes ad, Bytes nonce12, Bytes key);
[[nodiscard]] bool chacha20poly1305_open_nonce96(MutBytes dst, Bytes src, Bytes ad, Bytes nonce12,
                                                 Bytes key);

// ---- XChaCha20-Poly1305 (cookie replies), 24-byte nonce ----
void xchacha20poly1305_seal(MutBytes dst, Bytes src, Bytes ad, Bytes nonce24, Bytes key);
[[nodiscard]] bool xchacha20poly1305_open(MutBytes dst, Bytes src, Bytes ad, Bytes nonce24,
                                          Bytes key);

}  // namespace strait::crypto

// The libsodium-backed slow-path primitives: X25519 (RFC 7748), ChaCha20-Poly1305 (RFC 8439)
// with WireGuard's counter nonce (paper section 5.4.6), XChaCha20-Poly1305 for cookie replies
// (paper section 5.4.7), randomness and constant-time helpers. BLAKE2s lives in blake2s.cpp.
//
// Preconditions on span sizes are documented in primitives.hpp. A violated precondition on a
// function that cannot report failure is a programming error and stops the process (an
// always-on assert); the AEAD open functions instead return false, since their input sizes
// come from the network.

#include "crypto/primitives.hpp"

#include <sodium.h>

#include <cstdlib>

#include "base/keys.hpp"

namespace strait::crypto {
namespace {

inline void expects(bool condition) {
  if (!condition) std::abort();
}

static_assert(kX25519Len == crypto_scalarmult_curve25519_BYTES);
static_assert(kAeadKeyLen == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadTagLen == crypto_aead_chacha20poly1305_ietf_ABYTES);
static_assert(kAeadNonceLen == crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
static_assert(kAeadKeyLen == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadTagLen == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kXNonceLen == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);

// WireGuard paper section 5.4.6: the nonce is 32 zero bits followed by the 64-bit
// little-endian message counter.
std::array<std::uint8_t, kAeadNonceLen> wireguard_nonce(std::uint64_t counter) {
  std::array<std::uint8_t, kAeadNonceLen> nonce{};
  for (std::size_t i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return nonce;
}

}  // namespace

bool init() { return sodium_init() >= 0; }  // 1 means "already initialised", also fine

void random_bytes(MutBytes out) { randombytes_buf(out.data(), out.size()); }

void secure_zero(MutBytes buf) { wipe_secret(buf.data(), buf.size()); }

bool equal_ct(Bytes a, Bytes b) {
  // The sizes are public (fixed by the protocol), so comparing them first leaks nothing.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- X25519 ----

void x25519_generate(MutBytes private_key) {
  expects(private_key.size() == kX25519Len);
  randombytes_buf(private_key.data(), kX25519Len);
  // RFC 7748 section 5 clamping, stored so that the key is canonical (as `wg genkey` does).
  private_key[0] &= 248;
  private_key[31] &= 127;
  private_key[31] |= 64;
}

void x25519_public(MutBytes public_key, Bytes private_key) {
  expects(public_key.size() == kX25519Len && private_key.size() == kX25519Len);
  // Cannot fail: clamping sets bit 254, so the scalar is never zero mod the group order.
  (void)crypto_scalarmult_base(public_key.data(), private_key.data());
}

bool x25519(MutBytes shared, Bytes private_key, Bytes public_key) {
  expects(shared.size() == kX25519Len && private_key.size() == kX25519Len &&
          public_key.size() == kX25519Len);
  // libsodium returns -1 when the output is all zero, i.e. the peer's point has small order
  // (RFC 7748 section 6.1 "check ... is not all zero"); the WireGuard handshake rejects it.
  if (crypto_scalarmult(shared.data(), private_key.data(), public_key.data()) != 0) {
    secure_zero(shared);
    return false;
  }
  return true;
}

// ---- ChaCha20-Poly1305 ----

void chacha20poly1305_seal_nonce96(MutBytes dst, Bytes src, Bytes ad, Bytes nonce12, Bytes key) {
  expects(dst.size() == src.size() + kAeadTagLen);
  expects(nonce12.size() == kAeadNonceLen && key.size() == kAeadKeyLen);
  // Detached mode so the tag lands right after the ciphertext without a length out-parameter.
  // dst may start at src.data() (in place), which libsodium supports.
  (void)crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      dst.data(), dst.data() + src.size(), nullptr, src.data(), src.size(), ad.data(), ad.size(),
      nullptr, nonce12.data(), key.data());
}

bool chacha20poly1305_open_nonce96(MutBytes dst, Bytes src, Bytes ad, Bytes nonce12, Bytes key) {
  if (src.size() < kAeadTagLen || dst.size() != src.size() - kAeadTagLen) return false;
  if (nonce12.size() != kAeadNonceLen || key.size() != kAeadKeyLen) return false;
  const std::size_t len = src.size() - kAeadTagLen;
  // libsodium verifies the tag before decrypting and zeroes dst on failure.
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst.data(), nullptr, src.data(), len,
                                                            src.data() + len, ad.data(), ad.size(),
                                                            nonce12.data(), key.data()) == 0;
}

void chacha20poly1305_seal(MutBytes dst, Bytes src, Bytes ad, std::uint64_t counter, Bytes key) {
  const auto nonce = wireguard_nonce(counter);
  chacha20poly1305_seal_nonce96(dst, src, ad, nonce, key);
}

bool chacha20poly1305_open(MutBytes dst, Bytes src, Bytes ad, std::uint64_t counter, Bytes key) {
  const auto nonce = wireguard_nonce(counter);
  return chacha20poly1305_open_nonce96(dst, src, ad, nonce, key);
}

// ---- XChaCha20-Poly1305 ----

void xchacha20poly1305_seal(MutBytes dst, Bytes src, Bytes ad, Bytes nonce24, Bytes key) {
  expects(dst.size() == src.size() + kAeadTagLen);
  expects(nonce24.size() == kXNonceLen && key.size() == kAeadKeyLen);
  (void)crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
      dst.data(), dst.data() + src.size(), nullptr, src.data(), src.size(), ad.data(), ad.size(),
      nullptr, nonce24.data(), key.data());
}

bool xchacha20poly1305_open(MutBytes dst, Bytes src, Bytes ad, Bytes nonce24, Bytes key) {
  if (src.size() < kAeadTagLen || dst.size() != src.size() - kAeadTagLen) return false;
  if (nonce24.size() != kXNonceLen || key.size() != kAeadKeyLen) return false;
  const std::size_t len = src.size() - kAeadTagLen;
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(dst.data(), nullptr, src.data(), len,
                                                             src.data() + len, ad.data(), ad.size(),
                                                             nonce24.data(), key.data()) == 0;
}

}  // namespace strait::crypto

// BLAKE2s (RFC 7693), HMAC-BLAKE2s (RFC 2104) and the WireGuard KDF (paper section 5.4).
// libsodium ships only BLAKE2b, so BLAKE2s is implemented here from the RFC text. Slow path:
// used by the handshake, mac1/mac2 and cookie code, never per data packet.

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "crypto/primitives.hpp"

namespace strait::crypto {
namespace {

constexpr std::size_t kBlockLen = 64;

// RFC 7693 section 2.6: the IV is the SHA-256 IV (first 32 bits of the fractional parts of
// the square roots of the first eight primes).
constexpr std::array<std::uint32_t, 8> kIv = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                              0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

// RFC 7693 section 2.7: message word permutations; BLAKE2s uses the first ten rows.
constexpr std::uint8_t kSigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

// Precondition checks on the slow path: a wrong span size is a programming error, and
// continuing would read or write out of bounds, so stop the process (like an always-on assert).
inline void expects(bool condition) {
  if (!condition) std::abort();
}

constexpr std::uint32_t rotr32(std::uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

inline std::uint32_t load32_le(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

// RFC 7693 section 3.1, with the BLAKE2s rotation constants (R1..R4 = 16, 12, 8, 7).
inline void mix(std::array<std::uint32_t, 16>& v, int a, int b, int c, int d, std::uint32_t x,
                std::uint32_t y) {
  v[a] = v[a] + v[b] + x;
  v[d] = rotr32(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = rotr32(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + y;
  v[d] = rotr32(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = rotr32(v[b] ^ v[c], 7);
}

}  // namespace

Blake2s::Blake2s(std::size_t out_len, Bytes key) : out_len_(out_len) {
  expects(out_len >= 1 && out_len <= kBlake2sOutMax);
  expects(key.size() <= kBlake2sKeyMax);
  h_ = kIv;
  // RFC 7693 section 3.3: parameter block with fanout = depth = 1, key length and digest length.
  h_[0] ^= 0x01010000U ^ (static_cast<std::uint32_t>(key.size()) << 8) ^
           static_cast<std::uint32_t>(out_len);
  if (!key.empty()) {
    // The key, zero padded to a full block, is the first data block (section 3.3).
    std::memcpy(buf_.data(), key.data(), key.size());
    buf_len_ = kBlockLen;
  }
}

// RFC 7693 section 3.2: compresses buf_; the byte counter t_ already includes this block.
void Blake2s::compress(bool last) {
  std::array<std::uint32_t, 16> m{};
  for (std::size_t i = 0; i < 16; ++i) m[i] = load32_le(buf_.data() + 4 * i);

  std::array<std::uint32_t, 16> v{};
  for (std::size_t i = 0; i < 8; ++i) {
    v[i] = h_[i];
    v[i + 8] = kIv[i];
  }
  v[12] ^= t_[0];
  v[13] ^= t_[1];
  if (last) v[14] = ~v[14];

  for (const auto& s : kSigma) {
    mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (std::size_t i = 0; i < 8; ++i) h_[i] ^= v[i] ^ v[i + 8];

  secure_zero(MutBytes(reinterpret_cast<std::uint8_t*>(m.data()), sizeof(m)));
  secure_zero(MutBytes(reinterpret_cast<std::uint8_t*>(v.data()), sizeof(v)));
}

void Blake2s::update(Bytes data) {
  std::size_t off = 0;
  while (off < data.size()) {
    // A full buffer is compressed only once more input is known to follow, because the last
    // block must be compressed with the final flag set (section 3.3).
    if (buf_len_ == kBlockLen) {
      t_[0] += static_cast<std::uint32_t>(kBlockLen);
      if (t_[0] < kBlockLen) ++t_[1];  // 64-bit counter carry
      compress(false);
      buf_len_ = 0;
    }
    const std::size_t take = std::min(kBlockLen - buf_len_, data.size() - off);
    std::memcpy(buf_.data() + buf_len_, data.data() + off, take);
    buf_len_ += take;
    off += take;
  }
}

void Blake2s::final(MutBytes out) {
  expects(out.size() == out_len_);
  t_[0] += static_cast<std::uint32_t>(buf_len_);
  if (t_[0] < buf_len_) ++t_[1];
  std::memset(buf_.data() + buf_len_, 0, kBlockLen - buf_len_);
  compress(true);

  std::array<std::uint8_t, kBlake2sOutMax> full{};
  for (std::size_t i = 0; i < 8; ++i) {
    for (std::size_t j = 0; j < 4; ++j)
      full[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (8 * j));
  }
  std::memcpy(out.data(), full.data(), out_len_);

  // Wipe the state: it may derive from key material (keyed mode, HMAC keys).
  secure_zero(full);
  secure_zero(MutBytes(reinterpret_cast<std::uint8_t*>(h_.data()), sizeof(h_)));
  secure_zero(buf_);
  t_ = {};
  buf_len_ = 0;
}

void blake2s(MutBytes out, Bytes in, Bytes key) {
  Blake2s state(out.size(), key);
  state.update(in);
  state.final(out);
}

// RFC 2104 with B = 64 (the BLAKE2s block size) and L = 32. WireGuard uses HMAC rather than
// keyed BLAKE2s for its KDF (paper section 5.4, "HMAC(key, input)").
void hmac_blake2s(MutBytes out32, Bytes key, Bytes data) {
  expects(out32.size() == kBlake2sOutMax);

  std::array<std::uint8_t, kBlockLen> block{};
  if (key.size() > kBlockLen) {
    blake2s(MutBytes(block.data(), kBlake2sOutMax), key);  // RFC 2104: hash long keys first
  } else if (!key.empty()) {
    std::memcpy(block.data(), key.data(), key.size());
  }

  for (auto& b : block) b ^= 0x36;  // ipad
  std::array<std::uint8_t, kBlake2sOutMax> inner{};
  Blake2s inner_hash(kBlake2sOutMax);
  inner_hash.update(block);
  inner_hash.update(data);
  inner_hash.final(inner);

  for (auto& b : block) b ^= 0x36 ^ 0x5c;  // undo ipad, apply opad
  Blake2s outer_hash(kBlake2sOutMax);
  outer_hash.update(block);
  outer_hash.update(inner);
  outer_hash.final(out32);

  secure_zero(block);
  secure_zero(inner);
}

// WireGuard paper section 5.4: Kdf_n(key, input) is HKDF (RFC 5869) with HMAC-BLAKE2s and an
// empty info string: tau0 = Hmac(key, input), tau1 = Hmac(tau0, 0x1),
// tau_i = Hmac(tau0, tau_{i-1} || i). Only the outputs up to the last requested one are
// computed. Outputs may alias chaining_key or input (the handshake updates its chaining key in
// place): both are consumed before the first output is written.
void kdf(MutBytes out1, MutBytes out2, MutBytes out3, Bytes chaining_key, Bytes input) {
  expects(out1.empty() || out1.size() == kBlake2sOutMax);
  expects(out2.empty() || out2.size() == kBlake2sOutMax);
  expects(out3.empty() || out3.size() == kBlake2sOutMax);
  const int needed = !out3.empty() ? 3 : !out2.empty() ? 2 : !out1.empty() ? 1 : 0;
  if (needed == 0) return;

  std::array<std::uint8_t, kBlake2sOutMax> secret{};  // tau0
  hmac_blake2s(secret, chaining_key, input);

  // prev_and_counter holds tau_{i-1} || i; for i = 1 only the counter byte is hashed.
  std::array<std::uint8_t, kBlake2sOutMax + 1> prev_and_counter{};
  std::array<std::uint8_t, kBlake2sOutMax> tau{};
  const std::array<MutBytes, 3> outs = {out1, out2, out3};
  for (int i = 1; i <= needed; ++i) {
    prev_and_counter[kBlake2sOutMax] = static_cast<std::uint8_t>(i);
    const Bytes msg = i == 1 ? Bytes(prev_and_counter).last(1) : Bytes(prev_and_counter);
    hmac_blake2s(tau, secret, msg);
    std::memcpy(prev_and_counter.data(), tau.data(), kBlake2sOutMax);
    const MutBytes out = outs[static_cast<std::size_t>(i - 1)];
    if (!out.empty()) std::memcpy(out.data(), tau.data(), kBlake2sOutMax);
  }

  secure_zero(secret);
  secure_zero(prev_and_counter);
  secure_zero(tau);
}

}  // namespace strait::crypto

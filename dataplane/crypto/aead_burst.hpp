#pragma once
// The fast-path AEAD engine: seals and opens WireGuard transport data in bursts, in place,
// on Intel ipsec-mb. Two ciphers with the same framing (WireGuard paper section 5.4.6):
// ChaCha20-Poly1305 (RFC 8439) for stock WireGuard peers and AES-256-GCM (NIST SP 800-38D)
// for straitd peers (DESIGN.md section 3). Which ipsec-mb API runs each cipher was chosen by
// measurement: perf/AEAD_ENGINE.md.
//
// Threading: one AeadEngine per thread (it owns an IMB_MGR, which is not thread-safe).
// AeadKey is read-only once prepared and may be shared by every thread's engine.

#include <intel-ipsec-mb.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/keys.hpp"
#include "crypto/primitives.hpp"  // kAeadNonceLen: one definition for both engines

namespace strait::crypto {

// A transport key prepared for the fast path. For AES-256-GCM this holds the expanded key
// schedule and the GHASH key powers (IMB_AES256_GCM_PRE), for ChaCha20-Poly1305 the raw key
// (ChaCha20 has no key schedule). Prepared on the slow path, then read-only. The GHASH table
// layout depends on the instruction set ipsec-mb picked, so a key is only valid for engines of
// the same process (they all pick the same one). Wiped when destroyed.
struct alignas(64) AeadKey {
  AeadKey() = default;
  AeadKey(const AeadKey&) = default;
  AeadKey& operator=(const AeadKey&) = default;
  ~AeadKey();

  gcm_key_data gcm{};                       // valid when cipher == aes256_gcm
  std::array<std::uint8_t, kKeyLen> raw{};  // valid when cipher == chacha20_poly1305
  Cipher cipher = Cipher::chacha20_poly1305;
};

// Brings the parts of a prepared key that sealing or opening a short message reads towards
// the cache: the AES-256-GCM round keys and the lowest powers of the hash key (the VAES layout
// of ipsec-mb keeps H^1 at the end of its table, H^48 at the start), and the raw
// ChaCha20-Poly1305 key with the cipher. Both ciphers' lines, so that no load of the key (its
// cipher) is needed to decide. A hint for the burst stages, which touch many peers' keys per
// burst; no effect on any result.
inline void prefetch_key(const AeadKey& key) noexcept {
  const auto* k = reinterpret_cast<const std::uint8_t*>(&key);
  for (std::size_t off = 0; off < sizeof key.gcm.expanded_keys; off += 64)
    __builtin_prefetch(k + off);
  __builtin_prefetch(k + sizeof key.gcm - 128);
  __builtin_prefetch(k + sizeof key.gcm - 64);
  // The raw key and the cipher after it straddle two lines (perf found the engine waiting on
  // the cipher's when only the first was fetched).
  __builtin_prefetch(k + offsetof(AeadKey, raw));
  __builtin_prefetch(&key.cipher);
}

// One packet of a burst. The nonce is WireGuard's: 4 zero bytes || LE64(counter)
// (paper section 5.4.6, "msg.counter"), for both ciphers.
struct AeadOp {
  const AeadKey* key = nullptr;
  std::uint64_t counter = 0;
  std::uint8_t* data = nullptr;  // sealed/opened in place
  std::uint32_t len = 0;        // plaintext length for seal; ciphertext length WITHOUT tag for open
  std::uint8_t* tag = nullptr;  // 16 bytes: written by seal, verified by open
  const std::uint8_t* aad = nullptr;  // WireGuard transport data has none; for tests and vectors
  std::uint32_t aad_len = 0;
  // Test hook for known-answer vectors with arbitrary 96-bit IVs: when non-null, these 12 bytes
  // are the nonce and counter is ignored. The fast path leaves it null.
  const std::uint8_t* iv12 = nullptr;
  bool ok = false;  // out: sealed, or opened and authenticated
};

class AeadEngine {
 public:
  // Allocates and initialises the ipsec-mb manager for the best instruction set of this CPU.
  // Slow path; throws std::bad_alloc if the manager cannot be allocated.
  AeadEngine();
  ~AeadEngine();
  AeadEngine(const AeadEngine&) = delete;
  AeadEngine& operator=(const AeadEngine&) = delete;

  // Slow path: expands a 32-byte transport key for cipher into out.
  void prepare_key(AeadKey& out, Cipher cipher, const std::uint8_t key[kKeyLen]) const;

  // Fast path. Seals every op in place: data becomes ciphertext, tag is written, ok = true.
  // An op ipsec-mb did not seal (a malformed op, a job it did not complete) gets ok = false
  // and its data may still be plaintext: the caller must drop the packet (seal_failed).
  // Ops may mix keys and ciphers. No allocation, no exceptions, no locks.
  void seal_burst(std::span<AeadOp> ops);

  // Test hook (tests/dpdk/pipeline_test.cpp, "SealFailure"): the next `n` ops given to
  // seal_burst are left unsealed, in plaintext, with ok = false, as a failing ipsec-mb job
  // leaves them; nothing else changes. Production code never calls it; it costs seal_burst
  // one predictable branch per burst.
  void fail_next_seals_for_test(std::uint32_t n) { failing_seals_ = n; }

  // Fast path. Opens every op in place and verifies its tag in constant time: ok = true when
  // authentic. When ok is false the bytes at data are garbage (decrypted unauthenticated data):
  // the caller must drop the packet and never look at them. Other ops are unaffected.
  void open_burst(std::span<AeadOp> ops);

  // The instruction set ipsec-mb picked ("avx512", "avx2", ...), for logs and benchmarks.
  [[nodiscard]] const char* arch_name() const;

 private:
  // Bursts are processed in chunks of at most this many ops; a chunk's ChaCha20-Poly1305 ops
  // go to ipsec-mb as one burst (its own limit is IMB_MAX_BURST_SIZE = 128).
  static constexpr std::size_t kChunk = 64;
  enum class Direction : std::uint8_t { seal, open };

  void run(std::span<AeadOp> ops, Direction dir);
  void run_chunk(std::span<AeadOp> ops, Direction dir);
  void gcm_one(AeadOp& op, const std::uint8_t* nonce, Direction dir);
  // Runs chunk[i] for every i in which (all ChaCha20-Poly1305) through the burst API.
  void chacha_burst(std::span<AeadOp> chunk, std::span<const std::uint32_t> which, Direction dir);

  IMB_MGR* mgr_ = nullptr;
  std::uint32_t failing_seals_ = 0;  // fail_next_seals_for_test
  // Per-chunk scratch, indexed like the chunk, owned here so the fast path never allocates:
  // the nonces, and for ChaCha20-Poly1305 open the tags ipsec-mb computes (we compare them).
  std::array<std::array<std::uint8_t, kAeadNonceLen>, kChunk> nonces_{};
  std::array<std::array<std::uint8_t, kTagLen>, kChunk> computed_tags_{};
};

}  // namespace strait::crypto

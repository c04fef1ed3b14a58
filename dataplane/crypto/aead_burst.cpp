#include "crypto/aead_burst.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace strait::crypto {

namespace {

static_assert(std::endian::native == std::endian::little,
              "the nonce is built with a plain copy of the little-endian counter");

// WireGuard nonce (paper section 5.4.6): 32 zero bits || 64-bit little-endian counter.
// The test hook iv12 replaces it with a raw 96-bit IV.
void write_nonce(const AeadOp& op, std::uint8_t* out) {
  if (op.iv12 != nullptr) {
    std::memcpy(out, op.iv12, kAeadNonceLen);
  } else {
    std::memset(out, 0, 4);
    std::memcpy(out + 4, &op.counter, 8);
  }
}

// The caller's half of the contract; an op that breaks it fails alone instead of reaching
// ipsec-mb (whose checked burst submit would reject the whole chunk).
bool well_formed(const AeadOp& op) {
  return op.key != nullptr && op.tag != nullptr && (op.data != nullptr || op.len == 0) &&
         (op.aad != nullptr || op.aad_len == 0);
}

// Constant-time comparison of two 16-byte tags: no early exit, and the barrier keeps the
// compiler from turning the accumulated difference back into a branch per byte.
bool tags_equal(const std::uint8_t* a, const std::uint8_t* b) {
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < kTagLen; ++i) diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
  asm volatile("" : "+r"(diff));
  return diff == 0;
}

}  // namespace

AeadKey::~AeadKey() { wipe_secret(static_cast<void*>(this), sizeof(*this)); }

AeadEngine::AeadEngine() {
  mgr_ = alloc_mb_mgr(0);
  if (mgr_ == nullptr) throw std::bad_alloc();
  init_mb_mgr_auto(mgr_, nullptr);
}

AeadEngine::~AeadEngine() { free_mb_mgr(mgr_); }

void AeadEngine::prepare_key(AeadKey& out, Cipher cipher, const std::uint8_t key[kKeyLen]) const {
  out = AeadKey{};
  out.cipher = cipher;
  if (cipher == Cipher::aes256_gcm) {
    IMB_AES256_GCM_PRE(mgr_, key, &out.gcm);
  } else {
    std::memcpy(out.raw.data(), key, kKeyLen);
  }
}

const char* AeadEngine::arch_name() const {
  switch (mgr_->used_arch) {
    case IMB_ARCH_NOAESNI: return "noaesni";
    case IMB_ARCH_SSE: return "sse";
    case IMB_ARCH_AVX: return "avx";
    case IMB_ARCH_AVX2: return "avx2";
    case IMB_ARCH_AVX512: return "avx512";
    default: return "unknown";
  }
}

// The API per cipher was chosen by measurement on AVX-512/VAES (perf/AEAD_ENGINE.md):
// AES-256-GCM through the direct single-buffer functions (the job and burst APIs only add
// overhead around the same VAES code), ChaCha20-Poly1305 through the burst API (faster than
// its direct init/update/finalize functions at small and MTU-sized packets).
void AeadEngine::seal_burst(std::span<AeadOp> ops) {
  if (failing_seals_ != 0) [[unlikely]] {
    const std::size_t k = std::min<std::size_t>(failing_seals_, ops.size());
    for (std::size_t i = 0; i < k; ++i) ops[i].ok = false;
    failing_seals_ -= static_cast<std::uint32_t>(k);
    ops = ops.subspan(k);
  }
  run(ops, Direction::seal);
}

void AeadEngine::open_burst(std::span<AeadOp> ops) { run(ops, Direction::open); }

void AeadEngine::run(std::span<AeadOp> ops, Direction dir) {
  for (std::size_t base = 0; base < ops.size(); base += kChunk) {
    run_chunk(ops.subspan(base, std::min(kChunk, ops.size() - base)), dir);
  }
}

void AeadEngine::run_chunk(std::span<AeadOp> ops, Direction dir) {
  // All nonces of the chunk first. ipsec-mb reads the IV with a masked vector load, which the
  // CPU cannot forward from the narrower stores that just built it: with each nonce built right
  // before its call, perf pinned a stall on that load and 64-byte seals ran well below the raw
  // ipsec-mb loop; built a chunk ahead, they match it (perf/AEAD_ENGINE.md).
  for (std::size_t i = 0; i < ops.size(); ++i) write_nonce(ops[i], nonces_[i].data());

  std::array<std::uint32_t, kChunk> chacha;
  std::size_t n_chacha = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    AeadOp& op = ops[i];
    if (!well_formed(op)) {
      op.ok = false;
    } else if (op.key->cipher == Cipher::aes256_gcm) {
      gcm_one(op, nonces_[i].data(), dir);
    } else {
      chacha[n_chacha++] = static_cast<std::uint32_t>(i);
    }
  }
  if (n_chacha != 0) chacha_burst(ops, {chacha.data(), n_chacha}, dir);
}

void AeadEngine::gcm_one(AeadOp& op, const std::uint8_t* nonce, Direction dir) {
  gcm_context_data ctx;
  if (dir == Direction::seal) {
    IMB_AES256_GCM_ENC(mgr_, &op.key->gcm, &ctx, op.data, op.data, op.len, nonce, op.aad,
                       op.aad_len, op.tag, kTagLen);
    op.ok = true;
  } else {
    std::array<std::uint8_t, kTagLen> computed;
    IMB_AES256_GCM_DEC(mgr_, &op.key->gcm, &ctx, op.data, op.data, op.len, nonce, op.aad,
                       op.aad_len, computed.data(), kTagLen);
    op.ok = tags_equal(computed.data(), op.tag);
  }
}

void AeadEngine::chacha_burst(std::span<AeadOp> chunk, std::span<const std::uint32_t> which,
                              Direction dir) {
  const auto n = static_cast<std::uint32_t>(which.size());
  std::array<IMB_JOB*, kChunk> jobs;
  // The manager's queue is empty between calls (every burst is flushed below), so it always
  // has room for a whole chunk.
  if (IMB_GET_NEXT_BURST(mgr_, n, jobs.data()) != n) {
    for (std::uint32_t i : which) chunk[i].ok = false;
    return;
  }
  for (std::uint32_t j = 0; j < n; ++j) {
    const std::uint32_t i = which[j];
    AeadOp& op = chunk[i];
    IMB_JOB* job = jobs[j];
    op.ok = false;  // until its job completes
    job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
    job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
    job->cipher_direction = dir == Direction::seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->chain_order = dir == Direction::seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    job->enc_keys = op.key->raw.data();
    job->dec_keys = op.key->raw.data();
    job->key_len_in_bytes = kKeyLen;
    job->src = op.data;
    job->dst = op.data;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = op.len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = op.len;
    job->iv = nonces_[i].data();
    job->iv_len_in_bytes = kAeadNonceLen;
    // Seal writes the tag into the packet; open has ipsec-mb write the computed tag aside and
    // compares it below.
    job->auth_tag_output = dir == Direction::seal ? op.tag : computed_tags_[i].data();
    job->auth_tag_output_len_in_bytes = kTagLen;
    job->u.CHACHA20_POLY1305.aad = op.aad;
    job->u.CHACHA20_POLY1305.aad_len_in_bytes = op.aad_len;
    job->user_data = &op;
  }
  // Completed jobs come back in the jobs array, possibly fewer than submitted (multi-buffer
  // lanes); flushing completes the rest. If the checked submit rejects the burst nothing was
  // processed and its ops fail closed (well_formed keeps this from happening).
  std::uint32_t done = IMB_SUBMIT_BURST(mgr_, n, jobs.data());
  if (done == 0 && imb_get_errno(mgr_) != 0) return;
  if (done < n) done += IMB_FLUSH_BURST(mgr_, n - done, jobs.data() + done);
  for (std::uint32_t j = 0; j < done; ++j) {
    const IMB_JOB* job = jobs[j];
    AeadOp& op = *static_cast<AeadOp*>(job->user_data);
    const bool completed = job->status == IMB_STATUS_COMPLETED;
    op.ok =
        dir == Direction::seal ? completed : completed && tags_equal(job->auth_tag_output, op.tag);
  }
}

}  // namespace strait::crypto

#include "crypto/aead_burst.hpp"

#include <bit>
#include <cstring>
#include <new>
#include <string.h>  // explicit_bzero

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
  for (std::size_t i = 0; i < wg::kTagLen; ++i) diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
  asm volatile("" : "+r"(diff));
  return diff == 0;
}

}  // namespace

AeadKey::~AeadKey() { explicit_bzero(static_cast<void*>(this), sizeof(*this)); }

AeadEngine::AeadEngine() {
  mgr_ = alloc_mb_mgr(0);
  if (mgr_ == nullptr) throw std::bad_alloc();
  init_mb_mgr_auto(mgr_, nullptr);
}

AeadEngine::~AeadEngine() { free_mb_mgr(mgr_); }

void AeadEngine::prepare_key(AeadKey& out, wg::Cipher cipher,
                             const std::uint8_t key[wg::kKeyLen]) const {
  out = AeadKey{};
  out.cipher = cipher;
  if (cipher == wg::Cipher::aes256_gcm) {
    IMB_AES256_GCM_PRE(mgr_, key, &out.gcm);
  } else {
    std::memcpy(out.raw.data(), key, wg::kKeyLen);
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
void AeadEngine::seal_burst(std::span<AeadOp> ops) { run(ops, Direction::seal); }

void AeadEngine::open_burst(std::span<AeadOp> ops) { run(ops, Direction::open); }

void AeadEngine::run(std::span<AeadOp> ops, Direction dir) {
  std::array<AeadOp*, kChunk> chacha;
  std::size_t pending = 0;
  for (AeadOp& op : ops) {
    if (!well_formed(op)) {
      op.ok = false;
    } else if (op.key->cipher == wg::Cipher::aes256_gcm) {
      gcm_one(op, dir);
    } else {
      chacha[pending++] = &op;
      if (pending == kChunk) {
        chacha_chunk({chacha.data(), pending}, dir);
        pending = 0;
      }
    }
  }
  if (pending != 0) chacha_chunk({chacha.data(), pending}, dir);
}

void AeadEngine::gcm_one(AeadOp& op, Direction dir) {
  std::array<std::uint8_t, kAeadNonceLen> nonce;
  write_nonce(op, nonce.data());
  gcm_context_data ctx;
  if (dir == Direction::seal) {
    IMB_AES256_GCM_ENC(mgr_, &op.key->gcm, &ctx, op.data, op.data, op.len, nonce.data(), op.aad,
                       op.aad_len, op.tag, wg::kTagLen);
    op.ok = true;
  } else {
    std::array<std::uint8_t, wg::kTagLen> computed;
    IMB_AES256_GCM_DEC(mgr_, &op.key->gcm, &ctx, op.data, op.data, op.len, nonce.data(), op.aad,
                       op.aad_len, computed.data(), wg::kTagLen);
    op.ok = tags_equal(computed.data(), op.tag);
  }
}

void AeadEngine::chacha_chunk(std::span<AeadOp* const> ops, Direction dir) {
  const auto n = static_cast<std::uint32_t>(ops.size());
  std::array<IMB_JOB*, kChunk> jobs;
  // The manager's queue is empty between calls (every chunk is flushed below), so it always
  // has room for a whole chunk.
  if (IMB_GET_NEXT_BURST(mgr_, n, jobs.data()) != n) {
    for (AeadOp* op : ops) op->ok = false;
    return;
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    AeadOp& op = *ops[i];
    IMB_JOB* job = jobs[i];
    write_nonce(op, nonces_[i].data());
    op.ok = false;  // until its job completes
    job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
    job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
    job->cipher_direction = dir == Direction::seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->chain_order = dir == Direction::seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    job->enc_keys = op.key->raw.data();
    job->dec_keys = op.key->raw.data();
    job->key_len_in_bytes = wg::kKeyLen;
    job->src = op.data;
    job->dst = op.data;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = op.len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = op.len;
    job->iv = nonces_[i].data();
    job->iv_len_in_bytes = kAeadNonceLen;
    job->auth_tag_output = dir == Direction::seal ? op.tag : computed_tags_[i].data();
    job->auth_tag_output_len_in_bytes = wg::kTagLen;
    job->u.CHACHA20_POLY1305.aad = op.aad;
    job->u.CHACHA20_POLY1305.aad_len_in_bytes = op.aad_len;
    job->user_data = &op;
    job->user_data2 = computed_tags_[i].data();
  }
  // Completed jobs come back in the jobs array, possibly fewer than submitted (multi-buffer
  // lanes); flushing completes the rest. If the checked submit rejects the chunk nothing was
  // processed and every op of it fails closed (well_formed keeps this from happening).
  std::uint32_t done = IMB_SUBMIT_BURST(mgr_, n, jobs.data());
  if (done == 0 && imb_get_errno(mgr_) != 0) {
    for (AeadOp* op : ops) op->ok = false;
    return;
  }
  if (done < n) done += IMB_FLUSH_BURST(mgr_, n - done, jobs.data() + done);
  for (std::uint32_t i = 0; i < done; ++i) {
    const IMB_JOB* job = jobs[i];
    AeadOp& op = *static_cast<AeadOp*>(job->user_data);
    const bool completed = job->status == IMB_STATUS_COMPLETED;
    if (dir == Direction::seal) {
      op.ok = completed;
    } else {
      op.ok = completed && tags_equal(static_cast<const std::uint8_t*>(job->user_data2), op.tag);
    }
  }
}

}  // namespace strait::crypto

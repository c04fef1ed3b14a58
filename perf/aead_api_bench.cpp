// Which ipsec-mb 1.3 API seals a burst of WireGuard-sized packets fastest on this CPU?
//
// For each cipher (AES-256-GCM, ChaCha20-Poly1305) three ways of sealing a burst of 32
// packets in place: the job API (get_next_job / submit_job / flush_job), the generic burst
// API (get_next_burst / submit_burst / flush_burst), and the direct single-buffer functions
// (IMB_AES256_GCM_ENC, IMB_CHACHA20_POLY1305_INIT/ENC_UPDATE/ENC_FINALIZE). The Engine*
// benchmarks run strait's AeadEngine (the code the fast path calls) on the same bursts, so
// its overhead is a ratio against the raw loops measured in the same run.
// Results and the decision they led to: perf/AEAD_ENGINE.md.

#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "crypto/aead_burst.hpp"

namespace {

constexpr int kBurst = 32;
constexpr std::size_t kTag = 16;

// One burst of packets plus everything a raw API needs to seal it.
struct Fixture {
  explicit Fixture(std::size_t len) : len_(len), bufs_(kBurst * len + 64), tags_(kBurst * kTag) {
    mgr_ = alloc_mb_mgr(0);
    init_mb_mgr_auto(mgr_, nullptr);
    for (std::size_t i = 0; i < key_.size(); ++i) key_[i] = static_cast<std::uint8_t>(i * 7 + 1);
    IMB_AES256_GCM_PRE(mgr_, key_.data(), &gcm_key_);
    for (int i = 0; i < kBurst; ++i) {
      // WireGuard nonce: 4 zero bytes || LE64 counter.
      std::memset(ivs_[i].data(), 0, 12);
      const std::uint64_t ctr = 1000 + static_cast<std::uint64_t>(i);
      std::memcpy(ivs_[i].data() + 4, &ctr, 8);
    }
  }
  ~Fixture() { free_mb_mgr(mgr_); }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  std::uint8_t* data(int i) { return bufs_.data() + static_cast<std::size_t>(i) * len_; }
  std::uint8_t* tag(int i) { return tags_.data() + static_cast<std::size_t>(i) * kTag; }

  void fill_job(IMB_JOB* job, int i, strait::Cipher cipher) {
    const bool gcm = cipher == strait::Cipher::aes256_gcm;
    job->cipher_mode = gcm ? IMB_CIPHER_GCM : IMB_CIPHER_CHACHA20_POLY1305;
    job->hash_alg = gcm ? IMB_AUTH_AES_GMAC : IMB_AUTH_CHACHA20_POLY1305;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job->enc_keys = gcm ? static_cast<const void*>(&gcm_key_) : key_.data();
    job->dec_keys = job->enc_keys;
    job->key_len_in_bytes = 32;
    job->src = data(i);
    job->dst = data(i);
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len_;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = len_;
    job->iv = ivs_[i].data();
    job->iv_len_in_bytes = 12;
    job->auth_tag_output = tag(i);
    job->auth_tag_output_len_in_bytes = kTag;
    if (gcm) {
      job->u.GCM.aad = nullptr;
      job->u.GCM.aad_len_in_bytes = 0;
    } else {
      job->u.CHACHA20_POLY1305.aad = nullptr;
      job->u.CHACHA20_POLY1305.aad_len_in_bytes = 0;
    }
  }

  std::size_t len_;
  IMB_MGR* mgr_ = nullptr;
  std::array<std::uint8_t, 32> key_{};
  gcm_key_data gcm_key_{};
  std::array<std::array<std::uint8_t, 12>, kBurst> ivs_{};
  std::vector<std::uint8_t> bufs_;
  std::vector<std::uint8_t> tags_;
};

void report(benchmark::State& state, std::size_t len) {
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.SetBytesProcessed(state.iterations() * kBurst * static_cast<int64_t>(len));
}

void seal_job_api(benchmark::State& state, strait::Cipher cipher) {
  const auto len = static_cast<std::size_t>(state.range(0));
  Fixture f(len);
  for (auto _ : state) {
    int done = 0;
    for (int i = 0; i < kBurst; ++i) {
      f.fill_job(IMB_GET_NEXT_JOB(f.mgr_), i, cipher);
      for (IMB_JOB* j = IMB_SUBMIT_JOB(f.mgr_); j != nullptr; j = IMB_GET_COMPLETED_JOB(f.mgr_)) {
        done += j->status == IMB_STATUS_COMPLETED;
      }
    }
    while (IMB_JOB* j = IMB_FLUSH_JOB(f.mgr_)) done += j->status == IMB_STATUS_COMPLETED;
    if (done != kBurst) state.SkipWithError("job API did not complete the burst");
    benchmark::DoNotOptimize(f.tags_.data());
  }
  report(state, len);
}

void seal_burst_api(benchmark::State& state, strait::Cipher cipher) {
  const auto len = static_cast<std::size_t>(state.range(0));
  Fixture f(len);
  std::array<IMB_JOB*, kBurst> jobs{};
  for (auto _ : state) {
    const uint32_t got = IMB_GET_NEXT_BURST(f.mgr_, kBurst, jobs.data());
    if (got != kBurst) {
      state.SkipWithError("get_next_burst returned a short burst");
      break;
    }
    for (int i = 0; i < kBurst; ++i) f.fill_job(jobs[i], i, cipher);
    uint32_t done = IMB_SUBMIT_BURST(f.mgr_, kBurst, jobs.data());
    if (done < kBurst) done += IMB_FLUSH_BURST(f.mgr_, kBurst - done, jobs.data());
    if (done != kBurst) state.SkipWithError("burst API did not complete the burst");
    benchmark::DoNotOptimize(f.tags_.data());
  }
  report(state, len);
}

void seal_direct_api(benchmark::State& state, strait::Cipher cipher) {
  const auto len = static_cast<std::size_t>(state.range(0));
  Fixture f(len);
  for (auto _ : state) {
    for (int i = 0; i < kBurst; ++i) {
      if (cipher == strait::Cipher::aes256_gcm) {
        gcm_context_data ctx;
        IMB_AES256_GCM_ENC(f.mgr_, &f.gcm_key_, &ctx, f.data(i), f.data(i), len, f.ivs_[i].data(),
                           nullptr, 0, f.tag(i), kTag);
      } else {
        chacha20_poly1305_context_data ctx;
        IMB_CHACHA20_POLY1305_INIT(f.mgr_, f.key_.data(), &ctx, f.ivs_[i].data(), nullptr, 0);
        IMB_CHACHA20_POLY1305_ENC_UPDATE(f.mgr_, f.key_.data(), &ctx, f.data(i), f.data(i), len);
        IMB_CHACHA20_POLY1305_ENC_FINALIZE(f.mgr_, &ctx, f.tag(i), kTag);
      }
    }
    benchmark::DoNotOptimize(f.tags_.data());
  }
  report(state, len);
}

// The engine, on the same bursts.
void engine(benchmark::State& state, strait::Cipher cipher, bool open) {
  const auto len = static_cast<std::size_t>(state.range(0));
  Fixture f(len);
  strait::crypto::AeadEngine engine;
  auto key_storage =
      std::make_unique<strait::crypto::AeadKey>();  // keys live in tables, not on the stack
  strait::crypto::AeadKey& key = *key_storage;
  engine.prepare_key(key, cipher, f.key_.data());
  std::array<strait::crypto::AeadOp, kBurst> ops{};
  auto reset = [&] {
    for (int i = 0; i < kBurst; ++i) {
      ops[i] = strait::crypto::AeadOp{.key = &key,
                                      .counter = 1000 + static_cast<std::uint64_t>(i),
                                      .data = f.data(i),
                                      .len = static_cast<std::uint32_t>(len),
                                      .tag = f.tag(i)};
    }
  };
  reset();
  engine.seal_burst(ops);
  if (open) {
    engine.open_burst(ops);
    for (const auto& op : ops) {
      if (!op.ok) state.SkipWithError("engine open failed on freshly sealed packets");
    }
  }
  for (auto _ : state) {
    reset();
    // After the first open the buffers hold plaintext, so later opens fail verification; the
    // work is the same either way (full decrypt, full tag, constant-time compare).
    if (open) {
      engine.open_burst(ops);
    } else {
      engine.seal_burst(ops);
    }
    benchmark::DoNotOptimize(f.tags_.data());
  }
  report(state, len);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int len : {64, 128, 256, 512, 1024, 1420}) b->Arg(len);
}

using strait::Cipher;
BENCHMARK_CAPTURE(seal_job_api, aes256_gcm, Cipher::aes256_gcm)->Apply(sizes);
BENCHMARK_CAPTURE(seal_burst_api, aes256_gcm, Cipher::aes256_gcm)->Apply(sizes);
BENCHMARK_CAPTURE(seal_direct_api, aes256_gcm, Cipher::aes256_gcm)->Apply(sizes);
BENCHMARK_CAPTURE(seal_job_api, chacha20_poly1305, Cipher::chacha20_poly1305)->Apply(sizes);
BENCHMARK_CAPTURE(seal_burst_api, chacha20_poly1305, Cipher::chacha20_poly1305)->Apply(sizes);
BENCHMARK_CAPTURE(seal_direct_api, chacha20_poly1305, Cipher::chacha20_poly1305)->Apply(sizes);
BENCHMARK_CAPTURE(engine, seal_aes256_gcm, Cipher::aes256_gcm, false)->Apply(sizes);
BENCHMARK_CAPTURE(engine, open_aes256_gcm, Cipher::aes256_gcm, true)->Apply(sizes);
BENCHMARK_CAPTURE(engine, seal_chacha20_poly1305, Cipher::chacha20_poly1305, false)->Apply(sizes);
BENCHMARK_CAPTURE(engine, open_chacha20_poly1305, Cipher::chacha20_poly1305, true)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();

// BLAKE2s: strait's own (dataplane/crypto/blake2s.cpp) against OpenSSL 3's BLAKE2SMAC and
// BLAKE2S-256 through EVP, on what the handshake path computes per message: mac1 (keyed,
// 16-byte output, over the 116 bytes of an initiation before its macs) and the unkeyed
// 32-byte hash of a 64-byte input (Noise's MixHash). perf/README.md, "BLAKE2s".
//
// OpenSSL is measured the way a caller on the handshake path would use it: the algorithm
// fetched once at start (EVP_MAC_fetch / EVP_MD_fetch), a context per call (as a one-shot
// function needs one) and, for MACs, one context reused with a new key (EVP_MAC_init).
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "crypto/primitives.hpp"

namespace {

std::array<std::uint8_t, 116> g_msg{};  // an initiation up to mac1
std::array<std::uint8_t, 64> g_mix{};   // MixHash input: hash || data
std::array<std::uint8_t, 32> g_key{};

void ours_mac1(benchmark::State& state) {
  std::array<std::uint8_t, 16> out{};
  for (auto _ : state) {
    strait::crypto::blake2s(out, g_msg, g_key);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(ours_mac1);

EVP_MAC* mac_algo() {
  static EVP_MAC* m = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  return m;
}

void openssl_mac1_new_ctx(benchmark::State& state) {
  std::array<std::uint8_t, 16> out{};
  std::size_t size = out.size();
  for (auto _ : state) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_algo());
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                                 OSSL_PARAM_construct_end()};
    std::size_t len = 0;
    if (EVP_MAC_init(ctx, g_key.data(), g_key.size(), params) != 1 ||
        EVP_MAC_update(ctx, g_msg.data(), g_msg.size()) != 1 ||
        EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1) {
      state.SkipWithError("BLAKE2SMAC failed");
    }
    EVP_MAC_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(openssl_mac1_new_ctx);

void openssl_mac1_reused_ctx(benchmark::State& state) {
  std::array<std::uint8_t, 16> out{};
  std::size_t size = out.size();
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_algo());
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  for (auto _ : state) {
    std::size_t len = 0;
    if (EVP_MAC_init(ctx, g_key.data(), g_key.size(), params) != 1 ||
        EVP_MAC_update(ctx, g_msg.data(), g_msg.size()) != 1 ||
        EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1) {
      state.SkipWithError("BLAKE2SMAC failed");
    }
    benchmark::DoNotOptimize(out);
  }
  EVP_MAC_CTX_free(ctx);
}
BENCHMARK(openssl_mac1_reused_ctx);

void ours_hash(benchmark::State& state) {
  std::array<std::uint8_t, 32> out{};
  for (auto _ : state) {
    strait::crypto::blake2s(out, g_mix);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(ours_hash);

void openssl_hash(benchmark::State& state) {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  std::array<std::uint8_t, 32> out{};
  for (auto _ : state) {
    unsigned len = 0;
    if (EVP_Digest(g_mix.data(), g_mix.size(), out.data(), &len, md, nullptr) != 1) {
      state.SkipWithError("BLAKE2S-256 failed");
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(openssl_hash);

// The two must agree, or the comparison means nothing.
bool same_results() {
  std::array<std::uint8_t, 16> a{}, b{};
  strait::crypto::blake2s(a, g_msg, g_key);
  std::size_t size = b.size(), len = 0;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_algo());
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  const bool ok = EVP_MAC_init(ctx, g_key.data(), g_key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, g_msg.data(), g_msg.size()) == 1 &&
                  EVP_MAC_final(ctx, b.data(), &len, b.size()) == 1 && a == b;
  EVP_MAC_CTX_free(ctx);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  for (std::size_t i = 0; i < g_msg.size(); ++i) g_msg[i] = static_cast<std::uint8_t>(i * 7);
  for (std::size_t i = 0; i < g_mix.size(); ++i) g_mix[i] = static_cast<std::uint8_t>(i * 5);
  for (std::size_t i = 0; i < g_key.size(); ++i) g_key[i] = static_cast<std::uint8_t>(i + 1);
  if (mac_algo() == nullptr || !same_results()) {
    std::fprintf(stderr, "blake2s_bench: OpenSSL's BLAKE2SMAC is missing or disagrees\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}

#pragma once
// What the pipeline fuzz targets (decap_stage_fuzz, encap_stage_fuzz) share: one EAL for the
// process (--no-huge, --no-telemetry, and the target's name as --file-prefix, so that the two
// targets can run at once; not two processes of one target: no libFuzzer -jobs), one mbuf pool
// without a per-lcore cache (rte_mempool_in_use_count is exact), and the cutting of an input into
// frames. The nodes, keypairs and routes are the ones of tests/common/pipeline_fixture.hpp, which
// the dpdk suite and perf/pipeline_bench.cpp use.
//
// An input is a sequence of records [kind][length low][length high][length bytes]; the last
// record takes what is left. Each frame becomes one mbuf; each input is one burst.
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "dpdk/eal.hpp"

namespace strait::fuzz {

struct Record {
  std::uint8_t kind = 0;
  std::span<const std::uint8_t> bytes;
};

// At most `max` records; lengths beyond the mbuf's room are cut to it.
inline std::vector<Record> records_of(std::span<const std::uint8_t> in, std::size_t max) {
  std::vector<Record> out;
  while (in.size() >= 3 && out.size() < max) {
    const std::size_t want = in[1] | (std::size_t{in[2]} << 8);
    const std::size_t len = std::min({want, in.size() - 3, std::size_t{2000}});
    out.push_back({in[0], in.subspan(3, len)});
    in = in.subspan(3 + len);
  }
  return out;
}

inline rte_mempool* g_pool = nullptr;

// The EAL and the pool, once per process (LLVMFuzzerInitialize). Traps on failure: a target
// that cannot start must not report "no crash".
inline void init_eal(const char* name) {
  static std::unique_ptr<dp::EalSession> eal;
  auto s = dp::EalSession::init({name, "-l", "0", "--no-pci", "--no-huge", "--no-telemetry", "-m",
                                 "256", "--file-prefix", name, "--log-level", "*:error"});
  if (!s.ok()) {
    std::fprintf(stderr, "%s: EAL: %s\n", name, s.error().message.c_str());
    __builtin_trap();
  }
  eal = std::move(s).value();
  g_pool =
      rte_pktmbuf_pool_create("fuzz_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (g_pool == nullptr) __builtin_trap();
}

// An mbuf holding `bytes`, with garbage behind them (padding the stages write must not be zero
// by luck). Traps when the pool is empty: that can only be a leak of earlier inputs.
inline rte_mbuf* mbuf_of(std::span<const std::uint8_t> bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (m == nullptr) __builtin_trap();
  std::memset(rte_pktmbuf_mtod(m, void*), 0xa5, rte_pktmbuf_tailroom(m));
  char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size()));
  if (p == nullptr) __builtin_trap();
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return m;
}

inline void free_all(std::span<rte_mbuf* const> pkts) {
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
}

// Every mbuf of the input is back in the pool (none leaked, none freed twice).
inline void check_pool_full() {
  if (rte_mempool_in_use_count(g_pool) != 0) {
    std::fprintf(stderr, "mbufs in use after the input: %u\n", rte_mempool_in_use_count(g_pool));
    __builtin_trap();
  }
}

}  // namespace strait::fuzz

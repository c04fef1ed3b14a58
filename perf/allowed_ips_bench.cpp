// How fast is an allowed-IPs lookup (the encap stage's per-packet route choice) at 1, 1k,
// 100k and 1M routes? Results, machine and reproduce command: perf/ALLOWED_IPS.md.
//
// Routes are random prefixes: 60% host routes (/32, /128), 25% /24 (/64), 10% between those
// and the first-level boundary, 5% at or above it (/8../16, /16../48). IPv4 and the first IPv6
// set spread over the whole address space; the "Ula" set keeps every IPv6 route inside
// fd00::/8, the usual WireGuard deployment, where the first 16 bits tell routes apart little.
// Lookup addresses are drawn inside random routes (host bits random), so that nearly all of
// them hit, as an encap lookup does.
//
// Two measures per table: Lookup* issues independent lookups (a burst of packets: the CPU
// overlaps their cache misses), Chained* makes each address depend on the previous result
// (one packet's latency, every miss paid in full).

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "core/allowed_ips.hpp"

namespace {

using strait::IpFamily;
using strait::IpPrefix;
using strait::wg::AllowedIps;

enum class Shape { v4, v6, v6_ula };

constexpr std::size_t kProbes = 1U << 20;  // power of two: the loops index with a mask

struct Fixture {
  AllowedIps table;
  std::vector<std::array<std::uint8_t, 16>> probes;
};

std::uint8_t draw_len(Shape shape, std::mt19937_64& rng) {
  const bool v4 = shape == Shape::v4;
  const unsigned r = rng() % 100;
  if (r < 60) return v4 ? 32 : 128;
  if (r < 85) return v4 ? 24 : 64;
  if (r < 95) return static_cast<std::uint8_t>(v4 ? 17 + rng() % 15 : 49 + rng() % 79);
  return static_cast<std::uint8_t>(v4 ? 8 + rng() % 9 : 16 + rng() % 33);
}

// Built once per (shape, size) and kept: a million inserts are not free.
const Fixture& fixture(Shape shape, std::size_t routes) {
  static std::map<std::pair<Shape, std::size_t>, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[{shape, routes}];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  std::mt19937_64 rng(routes * 3 + static_cast<unsigned>(shape));
  std::vector<IpPrefix> prefixes;
  prefixes.reserve(routes);
  while (slot->table.size() < routes) {
    IpPrefix p;
    p.family = shape == Shape::v4 ? IpFamily::v4 : IpFamily::v6;
    for (std::size_t i = 0; i < (shape == Shape::v4 ? 4U : 16U); ++i) {
      p.addr[i] = static_cast<std::uint8_t>(rng());
    }
    if (shape == Shape::v6_ula) p.addr[0] = 0xfd;
    p.len = draw_len(shape, rng);
    if (slot->table.insert(p, static_cast<strait::wg::PeerId>(rng() % 4096)) !=
        strait::wg::AllowedIpsError::none) {
      std::abort();
    }
    prefixes.push_back(p);
  }
  slot->probes.resize(kProbes);
  for (auto& probe : slot->probes) {
    probe = prefixes[rng() % prefixes.size()].addr;  // host bits were left random
  }
  return *slot;
}

std::uint32_t lookup(const AllowedIps& t, Shape shape, const std::uint8_t* addr) {
  const auto peer = shape == Shape::v4 ? t.lookup_v4(addr) : t.lookup_v6(addr);
  return peer.value_or(UINT32_MAX);
}

void independent(benchmark::State& state, Shape shape) {
  const Fixture& f = fixture(shape, static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(lookup(f.table, shape, f.probes[i].data()));
    i = (i + 1) & (kProbes - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

void chained(benchmark::State& state, Shape shape) {
  const Fixture& f = fixture(shape, static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint32_t peer = lookup(f.table, shape, f.probes[i].data());
    // The next address depends on this result (a miss, UINT32_MAX, skips one probe), so the
    // CPU cannot start the next lookup before this one ends.
    i = (i + 1 + (peer & 0x80000000U ? 1 : 0)) & (kProbes - 1);
  }
  benchmark::DoNotOptimize(i);
  state.SetItemsProcessed(state.iterations());
}

// Bursts of kBurst lookups through lookup_v4_bulk / lookup_v6_bulk, as the pipeline stages
// ask (their walks advance together, so their misses overlap); items are lookups.
void bulk(benchmark::State& state, Shape shape) {
  constexpr unsigned kBurst = 32;
  const Fixture& f = fixture(shape, static_cast<std::size_t>(state.range(0)));
  std::array<std::uint32_t, kBurst> keys4{};
  std::array<strait::wg::detail::Uint128, kBurst> keys6{};
  std::array<strait::wg::PeerId, kBurst> peers{};
  std::size_t i = 0;
  for (auto _ : state) {
    for (unsigned k = 0; k < kBurst; ++k) {
      const std::uint8_t* addr = f.probes[(i + k) & (kProbes - 1)].data();
      if (shape == Shape::v4) {
        keys4[k] = AllowedIps::load_v4(addr);
      } else {
        keys6[k] = AllowedIps::load_v6(addr);
      }
    }
    benchmark::DoNotOptimize(shape == Shape::v4
                                 ? f.table.lookup_v4_bulk(keys4.data(), kBurst, peers.data())
                                 : f.table.lookup_v6_bulk(keys6.data(), kBurst, peers.data()));
    i = (i + kBurst) & (kProbes - 1);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (const std::int64_t n : {1, 1000, 100000, 1000000}) b->Arg(n);
}

void LookupV4(benchmark::State& state) { independent(state, Shape::v4); }
void LookupV6(benchmark::State& state) { independent(state, Shape::v6); }
void LookupV6Ula(benchmark::State& state) { independent(state, Shape::v6_ula); }
void ChainedV4(benchmark::State& state) { chained(state, Shape::v4); }
void ChainedV6(benchmark::State& state) { chained(state, Shape::v6); }
void ChainedV6Ula(benchmark::State& state) { chained(state, Shape::v6_ula); }

void BulkV4(benchmark::State& state) { bulk(state, Shape::v4); }
void BulkV6(benchmark::State& state) { bulk(state, Shape::v6); }
void BulkV6Ula(benchmark::State& state) { bulk(state, Shape::v6_ula); }

BENCHMARK(LookupV4)->Apply(sizes);
BENCHMARK(LookupV6)->Apply(sizes);
BENCHMARK(LookupV6Ula)->Apply(sizes);
BENCHMARK(ChainedV4)->Apply(sizes);
BENCHMARK(ChainedV6)->Apply(sizes);
BENCHMARK(ChainedV6Ula)->Apply(sizes);
BENCHMARK(BulkV4)->Apply(sizes);
BENCHMARK(BulkV6)->Apply(sizes);
BENCHMARK(BulkV6Ula)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();

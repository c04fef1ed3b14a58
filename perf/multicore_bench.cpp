// One peer on one and on two worker threads: each thread runs A's encap stage and B's decap
// stage (the round trip of tests/common/pipeline_fixture.hpp, AES-256-GCM, 1400-byte inner
// UDP packets of many flows) over the SAME two ForwardingStates, with its own AEAD engine and
// counters, as two worker lcores sharing a peer would. What they share is what real lcores
// share for one peer: the send counter (Keypair::reserve_counters, one atomic per burst) and
// the replay window (concurrent commits). Prints delivered packets per second and inner
// Gbit/s for 1 and 2 threads (perf/README.md, "One peer on two lcores"). Not a test: no
// assertion on speed; it exits non-zero only if the 1-thread run drops a packet.
//
// usage: multicore_bench [seconds per run, default 2]

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "common/packet_builder.hpp"
#include "common/pipeline_fixture.hpp"
#include "dpdk/eal.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace strait;

constexpr std::uint16_t kBurst = 32;
constexpr std::size_t kInner = 1400;

struct RunResult {
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  double seconds = 0;
};

RunResult run(unsigned threads, double seconds, rte_mempool* const* pools) {
  test::NodeOptions o;
  o.cipher = strait::Cipher::aes256_gcm;
  test::Node a, b;
  test::build_node(a, o);
  test::build_node(b, test::side_b(o));
  // 64 flows, as bridge frames.
  std::vector<Bytes> frames;
  for (std::uint16_t f = 0; f < 64; ++f)
    frames.push_back(test::bridge_frame(test::PacketBuilder()
                                            .ipv4("10.1.0.5", "10.2.0.7")
                                            .udp(static_cast<std::uint16_t>(40000 + f), 5201)
                                            .payload(kInner - 28)
                                            .build()));
  std::atomic<bool> stop{false};
  std::vector<RunResult> per(threads);
  auto worker = [&](unsigned t) {
    crypto::AeadEngine engine;
    dp::LcoreCounters counters{};
    dp::StageContext ctx{&engine, &counters, test::kNow};
    rte_mbuf* in[kBurst];
    rte_mbuf* wire[kBurst];
    rte_mbuf* hs[kBurst];
    rte_mbuf* slow[kBurst];
    rte_mbuf* bridge[kBurst];
    std::size_t next = t;
    while (!stop.load(std::memory_order_relaxed)) {
      std::uint16_t n = 0;
      for (; n < kBurst; ++n) {
        rte_mbuf* m = rte_pktmbuf_alloc(pools[t]);
        if (m == nullptr) break;
        const Bytes& f = frames[next++ % frames.size()];
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(),
                    f.size());
        in[n] = m;
      }
      const dp::EncapResult er = dp::encap_burst(ctx, *a.state, in, n, wire, slow);
      test::free_all(slow, er.to_slow_path);
      // The frames "cross the wire": B's decap reads them as they are (outer headers and all).
      const dp::DecapResult dr = dp::decap_burst(ctx, *b.state, wire, er.to_wire, bridge, hs, slow);
      per[t].delivered += dr.to_bridge;
      test::free_all(bridge, dr.to_bridge);
      test::free_all(hs, dr.to_handshake);
      test::free_all(slow, dr.to_slow_path);
    }
    for (std::uint64_t d : counters.drops) per[t].dropped += d;
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool_threads;
  for (unsigned t = 0; t < threads; ++t) pool_threads.emplace_back(worker, t);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool_threads) th.join();
  RunResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const RunResult& p : per) {
    r.delivered += p.delivered;
    r.dropped += p.dropped;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  auto eal =
      dp::EalSession::init({"multicore_bench", "-l", "0", "--no-pci", "--no-huge", "-m", "512",
                            "--file-prefix", "strait_multicore_bench", "--log-level", "*:warning"});
  if (!eal.ok()) {
    std::fprintf(stderr, "EAL: %s\n", eal.error().message.c_str());
    return 1;
  }
  // One pool per thread, as each lcore has its own mempool cache: the threads are not EAL
  // lcores (no cache), and a shared pool's ring makes one thread spin while the other,
  // preempted on this 2-core machine, holds a ring slot half-written.
  rte_mempool* pools[2] = {
      rte_pktmbuf_pool_create("mc_bench0", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY),
      rte_pktmbuf_pool_create("mc_bench1", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY)};
  if (pools[0] == nullptr || pools[1] == nullptr) return 1;
  std::printf(
      "one peer, AES-256-GCM, %zu-byte inner packets, encap+decap per thread, %u hardware "
      "threads\n",
      kInner, std::thread::hardware_concurrency());
  double base = 0;
  int rc = 0;
  for (unsigned threads : {1U, 2U}) {
    const RunResult r = run(threads, seconds, pools);
    const double pps = static_cast<double>(r.delivered) / r.seconds;
    if (threads == 1) base = pps;
    std::printf("threads=%u  delivered=%.3f Mpps  %.2f Gbit/s inner  dropped=%llu  speedup=%.2fx\n",
                threads, pps / 1e6, pps * kInner * 8 / 1e9,
                static_cast<unsigned long long>(r.dropped), base > 0 ? pps / base : 0.0);
    if (threads == 1 && r.dropped != 0) rc = 1;
  }
  for (rte_mempool* p : pools) rte_mempool_free(p);
  return rc;
}

// pipeline_bench: what one core gets through the fast-path stages (dataplane/pipeline), against
// the crypto ceiling measured in the same run (DESIGN.md section 8: these machines are shared
// and noisy, so every figure is also a ratio).
//
// What runs. decap_burst and encap_burst themselves, on mbufs from a DPDK pool, with the
// forwarding states and packets of tests/common/pipeline_fixture.hpp (the nodes A and B that
// tests/dpdk/pipeline_test.cpp checks). No ports: a batch of frames is copied into fresh mbufs,
// then the stage runs over the batch in bursts of 32 inside the timed region, then its output
// mbufs are freed. The copy and the free are outside the timed region: on a real worker they are
// the PMD's work (RX descriptor refill, TX completion), not the stage's. The timed region is
// exactly the calls a worker makes per burst (perf/README.md, "How the pipeline is measured").
//
//  - encap: bridge frames (Ethernet + inner IPv4/UDP) -> wire frames, A's state.
//  - decap: wire frames -> bridge frames, B's state. A replay window refuses a counter twice, so
//    the wire frames are a ring of distinct packets (65,536 by default) sealed once, at start-up,
//    by A's real encap stage with counters 0, 1, 2, ...; when the ring wraps, the receiving
//    keypairs' replay windows are reset, outside the timed region, and the resets counted.
//    Inside one pass the window sees what a live session shows it: in-order counters.
//  - crypto ceiling: AeadEngine::seal_burst / open_burst, the engine the stages call, on
//    pre-made buffers of the same (padded) plaintext lengths, bursts of 32, nothing else. Open
//    re-opens the same buffers, so after the first pass their tags fail, which costs the same
//    work (perf/AEAD_ENGINE.md).
//
// Inner sizes are IP packet bytes (IPv4 + UDP + payload): 64, 128, 256, 512, 1024, 1420 and
// IMIX, here the simple IMIX 7:4:1 of 64, 576 and 1420 B (1420, not 1500: the tunnel MTU).
// Gbit/s counts inner bytes. Cycles are TSC cycles (rte_rdtsc_precise around each batch).
// Each cell is measured in several repetitions interleaved with its ceiling, each repetition in
// batches of 512 packets timed one by one, and the median batch is reported (see Result).
//
// Scale curves (AES-256-GCM, 64 B, where per-packet work weighs most):
//  - peers: 1 .. 100,000 peers in the state, each with its own keypair, session-table entry,
//    /28 of allowed IPs and endpoint (the mesh of tests/common/mesh_fixture.hpp); packets
//    spread over the peers in a random order;
//  - peers_zipf: the same meshes, packets drawn from the peers by a Zipf law (s = 1: the k-th
//    busiest peer carries 1/k of the busiest one's traffic), a realistic locality beside the
//    adversarial order above;
//  - routes: 1 .. 1,000,000 random IPv4 allowed-IP prefixes (one peer), inner addresses drawn
//    at random from them: the longest-prefix match on the destination (encap) and the source
//    check (decap) walk a deep trie that no longer fits the caches;
//  - routes_v6: the same with IPv6 prefixes inside fd00::/8 (a ULA plan: all in a few
//    first-level slots), inner IPv6 packets.
//
//   pipeline_bench [--quick] [--json PATH] [--no-huge]
//   pipeline_bench --profile decap|encap:aes256_gcm|chacha20_poly1305:SIZE|imix[:SECONDS]
//   pipeline_bench --scale-only peers|peers_zipf|routes|routes_v6:N[,N...]
//
// Exit status 1 if any packet is dropped or misrouted: the benchmark then measured nothing
// worth reporting (the test suite runs --quick for this check; it never judges speed).

#include <arpa/inet.h>
#include <intel-ipsec-mb.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/mesh_fixture.hpp"
#include "common/packet_builder.hpp"
#include "common/pipeline_fixture.hpp"
#include "core/allowed_ips.hpp"
#include "crypto/aead_burst.hpp"
#include "dpdk/eal.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"
#include "pipeline/forwarding_state.hpp"

namespace strait::perf {
namespace {

using dp::StageContext;
using test::Bytes;
using test::kNow;
using test::kPort;

constexpr std::uint16_t kBurst = 32;
// Packets per timed batch: 16 bursts. Small enough that a batch of 1420-byte frames (760 KB)
// stays in the L2 cache the copy left it in, as a NIC's DMA into the last-level cache would.
constexpr std::uint32_t kBatch = 512;
constexpr std::uint32_t kImix = 0;  // "size" of the IMIX cell
constexpr std::array<std::uint32_t, 3> kImixSizes = {64, 576, 1420};
constexpr std::array<std::uint32_t, 3> kImixWeights = {7, 4, 1};

rte_mempool* g_pool = nullptr;
double g_tsc_hz = 0;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "pipeline_bench: %s\n", what.c_str());
  std::exit(1);
}

const char* cipher_name(strait::Cipher c) {
  return c == strait::Cipher::aes256_gcm ? "aes256_gcm" : "chacha20_poly1305";
}

std::string size_name(std::uint32_t size) { return size == kImix ? "imix" : std::to_string(size); }

// The encap stage's padding (paper section 5.4.6): the plaintext the AEAD sees.
std::uint32_t padded(std::uint32_t len) { return std::min((len + 15U) & ~15U, test::kMtu); }

// The inner sizes of a ring of n packets: all `size`, or IMIX in a fixed shuffled order.
std::vector<std::uint32_t> size_pattern(std::uint32_t size, std::size_t n) {
  if (size != kImix) return std::vector<std::uint32_t>(n, size);
  std::vector<std::uint32_t> unit;
  for (std::size_t k = 0; k < kImixSizes.size(); ++k)
    unit.insert(unit.end(), kImixWeights[k], kImixSizes[k]);
  std::vector<std::uint32_t> out;
  std::mt19937 rng(7);
  while (out.size() < n) {
    std::shuffle(unit.begin(), unit.end(), rng);
    out.insert(out.end(), unit.begin(), unit.end());
  }
  out.resize(n);
  return out;
}

// ---- frames and mbufs ---------------------------------------------------------------------

// Frames laid out back to back, with the inner packet length of each (for Gbit/s).
struct FrameRing {
  Bytes arena;
  std::vector<std::uint32_t> offset;
  std::vector<std::uint16_t> len;
  std::vector<std::uint16_t> inner_len;

  void add(const std::uint8_t* p, std::size_t n, std::size_t inner) {
    offset.push_back(static_cast<std::uint32_t>(arena.size()));
    len.push_back(static_cast<std::uint16_t>(n));
    inner_len.push_back(static_cast<std::uint16_t>(inner));
    arena.insert(arena.end(), p, p + n);
  }
  [[nodiscard]] std::size_t size() const { return offset.size(); }
};

// Fresh mbufs holding frames [pos, pos + n) of the ring, as an RX burst would hand them over.
void refill(rte_mbuf** m, const FrameRing& ring, std::size_t pos, std::uint32_t n) {
  if (rte_pktmbuf_alloc_bulk(g_pool, m, n) != 0) fail("mbuf pool exhausted");
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint16_t len = ring.len[pos + i];
    std::memcpy(rte_pktmbuf_mtod(m[i], void*), ring.arena.data() + ring.offset[pos + i], len);
    m[i]->data_len = len;
    m[i]->pkt_len = len;
  }
}

// Seals the bridge frames through `ctx`/`state`'s real encap stage and keeps the wire frames.
FrameRing seal_ring(StageContext& ctx, const dp::ForwardingState& state, const FrameRing& bridge) {
  FrameRing wire;
  std::array<rte_mbuf*, kBurst> in{}, out{}, slow{};
  for (std::size_t pos = 0; pos < bridge.size(); pos += kBurst) {
    const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(kBurst, bridge.size() - pos));
    refill(in.data(), bridge, pos, n);
    const dp::EncapResult r = dp::encap_burst(ctx, state, in.data(), n, out.data(), slow.data());
    if (r.to_wire != n) fail("generating the decap ring: encap_burst dropped packets");
    for (std::uint16_t i = 0; i < n; ++i) {
      wire.add(rte_pktmbuf_mtod(out[i], const std::uint8_t*), rte_pktmbuf_data_len(out[i]),
               bridge.inner_len[pos + i]);
    }
    rte_pktmbuf_free_bulk(out.data(), n);
  }
  return wire;
}

// ---- measuring ------------------------------------------------------------------------------

struct Sample {
  std::uint64_t cycles = 0;
  std::uint64_t packets = 0;
  std::uint64_t inner_bytes = 0;
  std::uint64_t untimed_cycles = 0;  // refill and free around the batches (for information)
};

// One thing to measure, a batch at a time.
class Bench {
 public:
  virtual ~Bench() = default;
  virtual Sample batch() = 0;
};

// encap_burst or decap_burst over a ring of frames.
class StageBench final : public Bench {
 public:
  enum class Kind { encap, decap };
  // on_wrap runs (untimed) each time the ring starts over, before the batch that reuses it.
  StageBench(Kind kind, StageContext& ctx, const dp::ForwardingState& state, FrameRing ring,
             std::function<void()> on_wrap = {})
      : kind_(kind),
        ctx_(ctx),
        state_(state),
        ring_(std::move(ring)),
        on_wrap_(std::move(on_wrap)) {
    if (ring_.size() % kBatch != 0) fail("ring size is not a multiple of the batch");
  }

  Sample batch() override {
    Sample s;
    const std::uint64_t u0 = rte_rdtsc_precise();
    if (pos_ == ring_.size()) {
      pos_ = 0;
      ++wraps_;
      if (on_wrap_) on_wrap_();
    }
    refill(in_.data(), ring_, pos_, kBatch);
    for (std::uint32_t i = 0; i < kBatch; ++i) s.inner_bytes += ring_.inner_len[pos_ + i];
    pos_ += kBatch;
    std::uint32_t done = 0;
    const std::uint64_t t0 = rte_rdtsc_precise();
    if (kind_ == Kind::encap) {
      for (std::uint32_t k = 0; k < kBatch; k += kBurst) {
        const dp::EncapResult r =
            dp::encap_burst(ctx_, state_, in_.data() + k, kBurst, out_.data() + done, slow_.data());
        done += r.to_wire;
      }
    } else {
      for (std::uint32_t k = 0; k < kBatch; k += kBurst) {
        const dp::DecapResult r = dp::decap_burst(ctx_, state_, in_.data() + k, kBurst,
                                                  out_.data() + done, hs_.data(), slow_.data());
        done += r.to_bridge;
      }
    }
    const std::uint64_t t1 = rte_rdtsc_precise();
    if (done != kBatch) {
      fail(std::string(kind_ == Kind::encap ? "encap" : "decap") + " forwarded " +
           std::to_string(done) + " of " + std::to_string(kBatch) + " packets");
    }
    rte_pktmbuf_free_bulk(out_.data(), done);
    s.cycles = t1 - t0;
    s.packets = kBatch;
    s.untimed_cycles = rte_rdtsc_precise() - u0 - s.cycles;
    return s;
  }

  [[nodiscard]] std::uint64_t wraps() const { return wraps_; }

 private:
  Kind kind_;
  StageContext& ctx_;
  const dp::ForwardingState& state_;
  FrameRing ring_;
  std::function<void()> on_wrap_;
  std::size_t pos_ = 0;
  std::uint64_t wraps_ = 0;
  std::array<rte_mbuf*, kBatch> in_{}, out_{}, hs_{}, slow_{};
};

// AeadEngine alone on pre-made buffers: the most the stages could reach.
class CeilingBench final : public Bench {
 public:
  CeilingBench(bool seal, strait::Cipher cipher, const std::vector<std::uint32_t>& sizes)
      : seal_(seal) {
    std::uint8_t raw[strait::kKeyLen];
    for (std::size_t i = 0; i < sizeof raw; ++i) raw[i] = static_cast<std::uint8_t>(0x40 + i);
    engine_.prepare_key(key_, cipher, raw);
    std::size_t stride = 0;
    for (std::uint32_t i = 0; i < kBatch; ++i)
      stride = std::max<std::size_t>(stride, padded(sizes[i % sizes.size()]) + strait::kTagLen);
    stride = (stride + 63) / 64 * 64;
    buffers_.assign(stride * kBatch + 64, 0x5a);
    for (std::uint32_t i = 0; i < kBatch; ++i) {
      crypto::AeadOp& op = ops_[i];
      const std::uint32_t inner = sizes[i % sizes.size()];
      op.key = &key_;
      op.counter = i;
      op.data = buffers_.data() + i * stride;
      op.len = padded(inner);
      op.tag = op.data + op.len;
      inner_bytes_ += inner;
    }
    // Sealed once, so that the first open pass authenticates (later passes fail the tag, at
    // the same cost).
    if (!seal_) engine_.seal_burst(std::span<crypto::AeadOp>(ops_.data(), kBatch));
  }

  Sample batch() override {
    Sample s;
    const std::uint64_t t0 = rte_rdtsc_precise();
    for (std::uint32_t k = 0; k < kBatch; k += kBurst) {
      const std::span<crypto::AeadOp> burst(ops_.data() + k, kBurst);
      if (seal_) {
        engine_.seal_burst(burst);
      } else {
        engine_.open_burst(burst);
      }
    }
    s.cycles = rte_rdtsc_precise() - t0;
    s.packets = kBatch;
    s.inner_bytes = inner_bytes_;
    return s;
  }

 private:
  bool seal_;
  crypto::AeadEngine engine_;
  crypto::AeadKey key_;
  Bytes buffers_;
  std::array<crypto::AeadOp, kBatch> ops_{};
  std::uint64_t inner_bytes_ = 0;
};

// Batches until `seconds` of timed cycles; every batch kept.
std::vector<Sample> measure(Bench& b, double seconds) {
  const auto target = static_cast<std::uint64_t>(seconds * g_tsc_hz);
  std::vector<Sample> batches;
  std::uint64_t cycles = 0;
  while (cycles < target) {
    batches.push_back(b.batch());
    cycles += batches.back().cycles;
  }
  return batches;
}

// A cell's result. The machine is shared: a batch during which the scheduler ran something
// else on our core takes several times longer than one that ran alone (the TSC keeps
// counting). Batches are short (0.1-1 ms) next to a scheduler time slice, so most run alone,
// and the median batch is the cost of the stage; the mean over all batches is kept as well.
struct Result {
  double mpps = 0;  // median batch
  double gbps = 0;
  double cycles_per_packet = 0;
  double mpps_p10 = 0;  // spread over batches
  double mpps_p90 = 0;
  double mpps_mean = 0;                  // all packets over all timed cycles
  double untimed_cycles_per_packet = 0;  // mbuf refill and free, median batch
  std::size_t batches = 0;
};

class Cell {
 public:
  void add(const std::vector<Sample>& batches) {
    samples_.insert(samples_.end(), batches.begin(), batches.end());
  }
  [[nodiscard]] Result result() const {
    if (samples_.empty()) return {};
    std::vector<Sample> v = samples_;
    auto cpp = [](const Sample& s) { return static_cast<double>(s.cycles) / s.packets; };
    std::sort(v.begin(), v.end(),
              [&](const Sample& a, const Sample& b) { return cpp(a) < cpp(b); });
    const Sample& m = v[v.size() / 2];
    Result r;
    r.cycles_per_packet = cpp(m);
    r.mpps = g_tsc_hz / r.cycles_per_packet / 1e6;
    r.gbps = m.inner_bytes * 8.0 * g_tsc_hz / m.cycles / 1e9;
    r.mpps_p90 = g_tsc_hz / cpp(v[v.size() / 10]) / 1e6;
    r.mpps_p10 = g_tsc_hz / cpp(v[v.size() - 1 - v.size() / 10]) / 1e6;
    std::uint64_t cycles = 0, packets = 0;
    for (const Sample& s : v) {
      cycles += s.cycles;
      packets += s.packets;
    }
    r.mpps_mean = packets * g_tsc_hz / cycles / 1e6;
    std::vector<std::uint64_t> untimed;
    for (const Sample& s : v) untimed.push_back(s.untimed_cycles);
    std::nth_element(untimed.begin(), untimed.begin() + untimed.size() / 2, untimed.end());
    r.untimed_cycles_per_packet = static_cast<double>(untimed[untimed.size() / 2]) / m.packets;
    r.batches = v.size();
    return r;
  }

 private:
  std::vector<Sample> samples_;
};

// ---- scale fixtures: many peers (tests/common/mesh_fixture.hpp), many routes --------------

std::string ipv4_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

std::string ipv6_text(const std::array<std::uint8_t, 16>& a) {
  char text[INET6_ADDRSTRLEN];
  return ::inet_ntop(AF_INET6, a.data(), text, sizeof text) != nullptr ? text : "::";
}

// Bridge frames of `inner`-byte packets from src to dst (host-order IPv4 addresses).
void add_bridge_frame(FrameRing& ring, std::uint32_t src, std::uint32_t dst, std::uint32_t inner) {
  const Bytes packet = test::PacketBuilder()
                           .ipv4(ipv4_text(src), ipv4_text(dst))
                           .udp(40000, 53)
                           .payload(inner - 28)
                           .build();
  const Bytes frame = test::bridge_frame(packet);
  ring.add(frame.data(), frame.size(), packet.size());
}

// The same for IPv6 (inner is at least 48 bytes: header and UDP).
void add_bridge_frame_v6(FrameRing& ring, const std::array<std::uint8_t, 16>& src,
                         const std::array<std::uint8_t, 16>& dst, std::uint32_t inner) {
  const Bytes packet = test::PacketBuilder()
                           .ipv6(ipv6_text(src), ipv6_text(dst))
                           .udp(40000, 53)
                           .payload(inner - 48)
                           .build();
  const Bytes frame = test::bridge_frame(packet);
  ring.add(frame.data(), frame.size(), packet.size());
}

std::size_t ring_size_for(std::size_t want) { return (want + kBatch - 1) / kBatch * kBatch; }

// ---- output ---------------------------------------------------------------------------------

std::string json_result(const Result& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"mpps\": %.4f, \"gbps\": %.4f, \"cycles_per_packet\": %.1f, "
                "\"mpps_p10\": %.4f, \"mpps_p90\": %.4f, \"mpps_mean\": %.4f, "
                "\"untimed_cycles_per_packet\": %.1f, \"batches\": %zu}",
                r.mpps, r.gbps, r.cycles_per_packet, r.mpps_p10, r.mpps_p90, r.mpps_mean,
                r.untimed_cycles_per_packet, r.batches);
  return buf;
}

struct Options {
  bool quick = false;
  bool no_huge = false;
  std::string json;
  std::string profile;  // kind:cipher:size[:seconds]
  // --scale-only CURVE:N[,N...]: only those rows of one scale curve (the size sweep and the
  // other curves skipped), at the full plan's repetitions: for A/B runs and `perf record`.
  std::string scale_only;
};

struct Plan {
  std::vector<std::uint32_t> sizes;
  std::vector<std::uint32_t> peers;
  std::vector<std::uint32_t> peers_zipf;
  std::vector<std::uint32_t> routes;
  std::vector<std::uint32_t> routes_v6;
  int reps;
  double seconds;          // timed seconds per repetition of a cell
  std::size_t decap_ring;  // distinct sealed packets for decap
};

Plan plan_for(const Options& o) {
  if (o.quick) return Plan{{64, 1420, kImix}, {1, 100}, {100}, {1, 1000}, {1000}, 1, 0.01, 4096};
  Plan plan{{64, 128, 256, 512, 1024, 1420, kImix},
            {1, 10, 100, 1000, 10'000, 100'000},
            {1000, 10'000, 100'000},
            {1, 10, 100, 1000, 10'000, 100'000, 1'000'000},
            {1, 1000, 100'000, 1'000'000},
            5,
            0.15,
            65536};
  if (!o.scale_only.empty()) {
    const std::size_t colon = o.scale_only.find(':');
    const std::string curve = o.scale_only.substr(0, colon);
    if (colon == std::string::npos ||
        (curve != "peers" && curve != "peers_zipf" && curve != "routes" && curve != "routes_v6"))
      fail("--scale-only wants peers|peers_zipf|routes|routes_v6:N[,N...]");
    std::vector<std::uint32_t> points;
    std::size_t start = colon + 1;
    while (start <= o.scale_only.size()) {
      const std::size_t comma = o.scale_only.find(',', start);
      points.push_back(
          static_cast<std::uint32_t>(std::stoul(o.scale_only.substr(start, comma - start))));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    plan.sizes.clear();
    auto only = [&](const char* name) {
      return curve == name ? points : std::vector<std::uint32_t>{};
    };
    plan.peers = only("peers");
    plan.peers_zipf = only("peers_zipf");
    plan.routes = only("routes");
    plan.routes_v6 = only("routes_v6");
  }
  return plan;
}

// ---- the size sweep -------------------------------------------------------------------------

struct SizeRow {
  strait::Cipher cipher;
  std::uint32_t size;
  double inner_avg;
  Result decap, encap, open, seal;
  std::uint64_t replay_resets;
};

// The fixture's two nodes: A encaps, B decaps what A sealed.
struct SizeCell {
  test::Node a, b;
  std::unique_ptr<StageBench> encap, decap;
  std::unique_ptr<CeilingBench> seal, open;
  double inner_avg = 0;

  SizeCell(strait::Cipher cipher, std::uint32_t size, std::size_t decap_ring) {
    test::NodeOptions o;
    o.cipher = cipher;
    test::build_node(a, o);
    test::build_node(b, test::side_b(o));
    const std::vector<std::uint32_t> sizes = size_pattern(size, decap_ring);
    FrameRing bridge;
    for (std::uint32_t s : sizes) {
      const Bytes inner = test::inner_packet(false, s - 28);
      const Bytes frame = test::bridge_frame(inner);
      bridge.add(frame.data(), frame.size(), inner.size());
    }
    inner_avg =
        std::accumulate(sizes.begin(), sizes.end(), 0.0) / static_cast<double>(sizes.size());
    FrameRing wire = seal_ring(a.ctx, *a.state, bridge);
    encap =
        std::make_unique<StageBench>(StageBench::Kind::encap, a.ctx, *a.state, std::move(bridge));
    dp::PreparedKeypair& kp = *b.keypair;
    decap = std::make_unique<StageBench>(StageBench::Kind::decap, b.ctx, *b.state, std::move(wire),
                                         [&kp] { kp.keypair->replay.reset(); });
    seal = std::make_unique<CeilingBench>(true, cipher, sizes);
    open = std::make_unique<CeilingBench>(false, cipher, sizes);
  }
};

SizeRow run_size(strait::Cipher cipher, std::uint32_t size, const Plan& plan) {
  SizeCell cell(cipher, size, plan.decap_ring);
  Cell decap, encap, open, seal;
  // Warm-up: one batch each (page faults, first-touch of the keys).
  cell.encap->batch();
  cell.decap->batch();
  cell.seal->batch();
  cell.open->batch();
  for (int rep = 0; rep < plan.reps; ++rep) {
    seal.add(measure(*cell.seal, plan.seconds));
    encap.add(measure(*cell.encap, plan.seconds));
    open.add(measure(*cell.open, plan.seconds));
    decap.add(measure(*cell.decap, plan.seconds));
  }
  if (cell.a.total_drops() != 0 || cell.b.total_drops() != 0) fail("the stages dropped packets");
  return SizeRow{cipher,         size,          cell.inner_avg, decap.result(),
                 encap.result(), open.result(), seal.result(),  cell.decap->wraps()};
}

// ---- the scale curves -----------------------------------------------------------------------

struct ScaleRow {
  std::uint32_t n;
  Result decap, encap;
  std::uint64_t replay_resets;
  double setup_seconds;
};

// Runs encap on A and decap on B over the bridge frames (A's state routes them), AES-256-GCM.
ScaleRow run_scale(std::uint32_t n, std::uint32_t peers,
                   const std::shared_ptr<const wg::AllowedIps>& routes, FrameRing bridge,
                   const Plan& plan, double setup_seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  ScaleRow row{n, {}, {}, 0, 0};
  FrameRing wire;
  {
    auto a = test::build_mesh(true, peers, strait::Cipher::aes256_gcm, routes);
    wire = seal_ring(a->ctx, *a->state, bridge);
    StageBench encap(StageBench::Kind::encap, a->ctx, *a->state, std::move(bridge));
    Cell cell;
    encap.batch();
    for (int rep = 0; rep < plan.reps; ++rep) cell.add(measure(encap, plan.seconds));
    row.encap = cell.result();
    if (a->total_drops() != 0) fail("encap dropped packets in a scale run");
  }
  auto b = test::build_mesh(false, peers, strait::Cipher::aes256_gcm, routes);
  test::MeshNode* bp = b.get();
  StageBench decap(StageBench::Kind::decap, b->ctx, *b->state, std::move(wire),
                   [bp] { bp->reset_replay_windows(); });
  Cell cell;
  decap.batch();
  for (int rep = 0; rep < plan.reps; ++rep) cell.add(measure(decap, plan.seconds));
  row.decap = cell.result();
  row.replay_resets = decap.wraps();
  if (b->total_drops() != 0) fail("decap dropped packets in a scale run");
  row.setup_seconds =
      setup_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return row;
}

// peers peers, peer p owning 10.0.0.0 + 16p /28; packets from p's block to p's block, 64 B, the
// peers in a random order (every peer once per round).
ScaleRow run_peers(std::uint32_t peers, const Plan& plan) {
  const auto t0 = std::chrono::steady_clock::now();
  auto table = test::mesh_routes(peers);
  std::vector<std::uint32_t> order(peers);
  std::iota(order.begin(), order.end(), 0U);
  std::mt19937 rng(11);
  std::shuffle(order.begin(), order.end(), rng);
  FrameRing bridge;
  const std::size_t n = ring_size_for(std::max<std::size_t>(plan.decap_ring, peers));
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t block = test::mesh_pod_block(order[i % peers]);
    add_bridge_frame(bridge, block + 5, block + 7, 64);
  }
  const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run_scale(peers, peers, table, std::move(bridge), plan, setup);
}

// The same meshes, each packet's peer drawn by a Zipf law (s = 1) over the peers in a random
// rank order: a few peers carry most packets, as on a real node; 64 B.
ScaleRow run_peers_zipf(std::uint32_t peers, const Plan& plan) {
  const auto t0 = std::chrono::steady_clock::now();
  auto table = test::mesh_routes(peers);
  std::vector<std::uint32_t> rank(peers);
  std::iota(rank.begin(), rank.end(), 0U);
  std::mt19937 rng(13);
  std::shuffle(rank.begin(), rank.end(), rng);
  std::vector<double> weight(peers);
  for (std::uint32_t k = 0; k < peers; ++k) weight[k] = 1.0 / (k + 1);
  std::discrete_distribution<std::uint32_t> zipf(weight.begin(), weight.end());
  FrameRing bridge;
  const std::size_t n = ring_size_for(plan.decap_ring);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t block = test::mesh_pod_block(rank[zipf(rng)]);
    add_bridge_frame(bridge, block + 5, block + 7, 64);
  }
  const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run_scale(peers, peers, table, std::move(bridge), plan, setup);
}

// `count` random IPv4 prefixes (half /32, a quarter /24, a quarter /16../31), all to peer 0;
// packets between random addresses inside random prefixes, 64 B.
ScaleRow run_routes(std::uint32_t count, const Plan& plan) {
  const auto t0 = std::chrono::steady_clock::now();
  auto table = std::make_shared<wg::AllowedIps>();
  std::mt19937 rng(count);
  std::vector<std::pair<std::uint32_t, std::uint8_t>> prefixes;
  while (table->size() < count) {
    const std::uint32_t addr = rng();
    const std::uint32_t kind = rng() % 4;
    const auto len = static_cast<std::uint8_t>(kind < 2 ? 32 : kind == 2 ? 24 : 16 + rng() % 16);
    const auto prefix =
        IpPrefix::v4({static_cast<std::uint8_t>(addr >> 24), static_cast<std::uint8_t>(addr >> 16),
                      static_cast<std::uint8_t>(addr >> 8), static_cast<std::uint8_t>(addr)},
                     len);
    if (table->insert(prefix, 0) != wg::AllowedIpsError::none) fail("route refused");
    prefixes.emplace_back(addr, len);
  }
  auto inside = [&](const std::pair<std::uint32_t, std::uint8_t>& pr) {
    const std::uint32_t host = pr.second == 32 ? 0 : (rng() & ((1U << (32 - pr.second)) - 1));
    const auto net = static_cast<std::uint32_t>(pr.first & ~((1ULL << (32 - pr.second)) - 1));
    return net | host;
  };
  FrameRing bridge;
  const std::size_t n = ring_size_for(plan.decap_ring);
  for (std::size_t i = 0; i < n; ++i) {
    add_bridge_frame(bridge, inside(prefixes[rng() % prefixes.size()]),
                     inside(prefixes[rng() % prefixes.size()]), 64);
  }
  const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run_scale(count, 1, table, std::move(bridge), plan, setup);
}

// `count` random IPv6 prefixes inside fd00::/8 (half /128, a quarter /64, a quarter /48../127),
// all to peer 0; IPv6 packets between random addresses inside random prefixes, 64 B.
ScaleRow run_routes_v6(std::uint32_t count, const Plan& plan) {
  const auto t0 = std::chrono::steady_clock::now();
  auto table = std::make_shared<wg::AllowedIps>();
  std::mt19937_64 rng(count);
  using Addr = std::array<std::uint8_t, 16>;
  std::vector<std::pair<Addr, std::uint8_t>> prefixes;
  auto random_ula = [&] {
    Addr a{};
    for (std::size_t i = 0; i < 16; i += 8) {
      const std::uint64_t r = rng();
      std::memcpy(a.data() + i, &r, 8);
    }
    a[0] = 0xfd;
    return a;
  };
  while (table->size() < count) {
    const Addr addr = random_ula();
    const std::uint64_t kind = rng() % 4;
    const auto len = static_cast<std::uint8_t>(kind < 2 ? 128 : kind == 2 ? 64 : 48 + rng() % 80);
    if (table->insert(IpPrefix::v6(addr, len), 0) != wg::AllowedIpsError::none)
      fail("route refused");
    prefixes.emplace_back(addr, len);
  }
  // An address inside prefix/len: its first len bits, random bits after.
  auto inside = [&](const std::pair<Addr, std::uint8_t>& pr) {
    Addr a = random_ula();
    for (unsigned bit = 0; bit < pr.second; ++bit) {
      const std::uint8_t mask = static_cast<std::uint8_t>(0x80U >> (bit % 8));
      a[bit / 8] = static_cast<std::uint8_t>((a[bit / 8] & ~mask) | (pr.first[bit / 8] & mask));
    }
    return a;
  };
  FrameRing bridge;
  const std::size_t n = ring_size_for(plan.decap_ring);
  for (std::size_t i = 0; i < n; ++i) {
    add_bridge_frame_v6(bridge, inside(prefixes[rng() % prefixes.size()]),
                        inside(prefixes[rng() % prefixes.size()]), 64);
  }
  const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run_scale(count, 1, table, std::move(bridge), plan, setup);
}

// ---- main -----------------------------------------------------------------------------------

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--no-huge") {
      o.no_huge = true;
    } else if (a == "--json" && i + 1 < argc) {
      o.json = argv[++i];
    } else if (a == "--profile" && i + 1 < argc) {
      o.profile = argv[++i];
    } else if (a == "--scale-only" && i + 1 < argc) {
      o.scale_only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: pipeline_bench [--quick] [--json PATH] [--no-huge]\n"
                   "       pipeline_bench --scale-only peers|routes:N[,N...]\n"
                   "       pipeline_bench --profile decap|encap:aes256_gcm|chacha20_poly1305:"
                   "SIZE|imix[:SECONDS]\n");
      std::exit(2);
    }
  }
  return o;
}

// Hugepages when the host has enough free ones (mbufs live in hugepages on a real worker),
// otherwise --no-huge.
std::vector<std::string> eal_args(const Options& o, bool& huge) {
  std::vector<std::string> args = {"pipeline_bench",
                                   "-l",
                                   "0",
                                   "--no-pci",
                                   "--file-prefix",
                                   "strait_pipeline_bench_" + std::to_string(getpid()),
                                   "--log-level",
                                   "*:warning"};
  huge = false;
  if (!o.no_huge && dp::check_host_hugepages().ok()) {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    long value = 0;
    long free_pages = 0, page_kb = 0;
    while (meminfo >> key >> value) {
      if (key == "HugePages_Free:") free_pages = value;
      if (key == "Hugepagesize:") page_kb = value;
      meminfo.ignore(256, '\n');
    }
    huge = free_pages * page_kb >= 512 * 1024;
  }
  if (huge) {
    args.insert(args.end(), {"-m", "256", "--huge-unlink"});
  } else {
    args.insert(args.end(), {"--no-huge", "-m", "1024"});
  }
  return args;
}

int profile(const Options& o) {
  // kind:cipher:size[:seconds]
  std::vector<std::string> f;
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = o.profile.find(':', start);
    f.push_back(o.profile.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (f.size() < 3) fail("--profile wants kind:cipher:size[:seconds]");
  const strait::Cipher cipher =
      f[1] == "aes256_gcm" ? strait::Cipher::aes256_gcm : strait::Cipher::chacha20_poly1305;
  const std::uint32_t size = f[2] == "imix" ? kImix : static_cast<std::uint32_t>(std::stoul(f[2]));
  const double seconds = f.size() > 3 ? std::stod(f[3]) : 10.0;
  SizeCell cell(cipher, size, 65536);
  Bench* b = f[0] == "decap"   ? static_cast<Bench*>(cell.decap.get())
             : f[0] == "encap" ? static_cast<Bench*>(cell.encap.get())
             : f[0] == "open"  ? static_cast<Bench*>(cell.open.get())
                               : static_cast<Bench*>(cell.seal.get());
  Cell c;
  c.add(measure(*b, seconds));
  const Result r = c.result();
  std::printf("%s %s %s: %.2f Mpps, %.2f Gbit/s, %.0f cycles/packet\n", f[0].c_str(),
              cipher_name(cipher), size_name(size).c_str(), r.mpps, r.gbps, r.cycles_per_packet);
  return 0;
}

int run(const Options& o, bool huge) {
  const Plan plan = plan_for(o);
  const crypto::AeadEngine probe;
  std::printf(
      "pipeline_bench: TSC %.3f GHz, ipsec-mb %s (%s), mbufs in %s, burst %u, batch %u, "
      "%d repetition(s) of %.2f s per cell, median batch shown\n",
      g_tsc_hz / 1e9, IMB_VERSION_STR, probe.arch_name(), huge ? "hugepages" : "4 KiB pages",
      kBurst, kBatch, plan.reps, plan.seconds);
  std::printf(
      "IMIX: 7:4:1 of 64/576/1420 B inner packets. Ratios: decap / open ceiling, encap / "
      "seal ceiling (AeadEngine alone, same sizes).\n\n");
  std::printf("%-18s %5s | %7s %7s %6s %5s | %7s %7s %6s %5s | %7s %7s\n", "cipher", "size",
              "decap", "Gbit/s", "cyc/p", "ratio", "encap", "Gbit/s", "cyc/p", "ratio", "open",
              "seal");
  std::printf("%-18s %5s | %7s %7s %6s %5s | %7s %7s %6s %5s | %7s %7s\n", "", "B", "Mpps", "", "",
              "", "Mpps", "", "", "", "Mpps", "Mpps");

  std::vector<SizeRow> rows;
  for (strait::Cipher c : {strait::Cipher::aes256_gcm, strait::Cipher::chacha20_poly1305}) {
    for (std::uint32_t s : plan.sizes) {
      const SizeRow r = run_size(c, s, plan);
      std::printf("%-18s %5s | %7.2f %7.2f %6.0f %5.2f | %7.2f %7.2f %6.0f %5.2f | %7.2f %7.2f\n",
                  cipher_name(c), size_name(s).c_str(), r.decap.mpps, r.decap.gbps,
                  r.decap.cycles_per_packet, r.decap.mpps / r.open.mpps, r.encap.mpps, r.encap.gbps,
                  r.encap.cycles_per_packet, r.encap.mpps / r.seal.mpps, r.open.mpps, r.seal.mpps);
      std::fflush(stdout);
      rows.push_back(r);
    }
  }

  std::printf("\nScale, AES-256-GCM, 64 B (cycles/packet, Mpps):\n");
  auto curve = [](const char* name, const std::vector<std::uint32_t>& points,
                  ScaleRow (*run_one)(std::uint32_t, const Plan&), const Plan& p) {
    std::vector<ScaleRow> out;
    if (points.empty()) return out;
    std::printf("%10s | %8s %7s | %8s %7s\n", name, "decap", "Mpps", "encap", "Mpps");
    for (std::uint32_t n : points) {
      const ScaleRow r = run_one(n, p);
      std::printf("%10u | %8.0f %7.2f | %8.0f %7.2f\n", n, r.decap.cycles_per_packet, r.decap.mpps,
                  r.encap.cycles_per_packet, r.encap.mpps);
      std::fflush(stdout);
      out.push_back(r);
    }
    return out;
  };
  const std::vector<ScaleRow> peers = curve("peers", plan.peers, run_peers, plan);
  const std::vector<ScaleRow> peers_zipf =
      curve("peers_zipf", plan.peers_zipf, run_peers_zipf, plan);
  const std::vector<ScaleRow> routes = curve("routes", plan.routes, run_routes, plan);
  const std::vector<ScaleRow> routes_v6 = curve("routes_v6", plan.routes_v6, run_routes_v6, plan);

  if (o.json.empty()) return 0;
  std::string j = "{\n";
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "  \"tool\": \"pipeline_bench\",\n  \"quick\": %s,\n  \"tsc_hz\": %.0f,\n"
                "  \"ipsec_mb_version\": \"%s\",\n  \"ipsec_mb_arch\": \"%s\",\n"
                "  \"mbuf_memory\": \"%s\",\n  \"burst\": %u,\n  \"batch\": %u,\n"
                "  \"repetitions\": %d,\n  \"seconds_per_repetition\": %.3f,\n"
                "  \"decap_ring_packets\": %zu,\n"
                "  \"imix\": \"7:4:1 of 64/576/1420 B inner packets\",\n"
                "  \"sizes_are\": \"inner IP packet bytes\",\n",
                o.quick ? "true" : "false", g_tsc_hz, IMB_VERSION_STR, probe.arch_name(),
                huge ? "hugepages" : "4k_pages", kBurst, kBatch, plan.reps, plan.seconds,
                plan.decap_ring);
  j += buf;
  j += "  \"sizes\": [\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SizeRow& r = rows[i];
    std::snprintf(buf, sizeof buf,
                  "    {\"cipher\": \"%s\", \"size\": \"%s\", \"inner_bytes_avg\": %.1f, "
                  "\"decap_ratio\": %.3f, \"encap_ratio\": %.3f, \"replay_resets\": %" PRIu64 ",\n",
                  cipher_name(r.cipher), size_name(r.size).c_str(), r.inner_avg,
                  r.decap.mpps / r.open.mpps, r.encap.mpps / r.seal.mpps, r.replay_resets);
    j += buf;
    j += "     \"decap\": " + json_result(r.decap) + ",\n";
    j += "     \"encap\": " + json_result(r.encap) + ",\n";
    j += "     \"open_ceiling\": " + json_result(r.open) + ",\n";
    j += "     \"seal_ceiling\": " + json_result(r.seal) + "}";
    j += i + 1 < rows.size() ? ",\n" : "\n";
  }
  j += "  ],\n";
  auto scale = [&](const char* name, const char* key, const std::vector<ScaleRow>& v, bool last) {
    j += std::string("  \"") + name + "\": [\n";
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::snprintf(buf, sizeof buf,
                    "    {\"%s\": %u, \"replay_resets\": %" PRIu64 ", \"setup_seconds\": %.2f,\n",
                    key, v[i].n, v[i].replay_resets, v[i].setup_seconds);
      j += buf;
      j += "     \"decap\": " + json_result(v[i].decap) + ",\n";
      j += "     \"encap\": " + json_result(v[i].encap) + "}";
      j += i + 1 < v.size() ? ",\n" : "\n";
    }
    j += last ? "  ]\n" : "  ],\n";
  };
  scale("scale_peers", "peers", peers, false);
  scale("scale_peers_zipf", "peers", peers_zipf, false);
  scale("scale_routes", "routes", routes, false);
  scale("scale_routes_v6", "routes", routes_v6, true);
  j += "}\n";
  std::FILE* f = std::fopen(o.json.c_str(), "w");
  if (f == nullptr || std::fwrite(j.data(), 1, j.size(), f) != j.size() || std::fclose(f) != 0)
    fail("cannot write " + o.json);
  std::printf("\nwrote %s\n", o.json.c_str());
  return 0;
}

}  // namespace
}  // namespace strait::perf

int main(int argc, char** argv) {
  using namespace strait::perf;
  const Options o = parse(argc, argv);
  bool huge = false;
  auto eal = strait::dp::EalSession::init(eal_args(o, huge));
  if (!eal.ok()) fail("EAL: " + eal.error().message);
  // A per-lcore cache: bulk allocation and free as a PMD does them (outside the timed region).
  g_pool = rte_pktmbuf_pool_create("bench", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (g_pool == nullptr) fail("cannot create the mbuf pool");
  g_tsc_hz = static_cast<double>(rte_get_tsc_hz());
  int rc = 0;
  try {
    rc = o.profile.empty() ? run(o, huge) : profile(o);
  } catch (const std::exception& e) {
    fail(std::string("set-up failed: ") + e.what());
  }
  rte_mempool_free(g_pool);
  return rc;
}

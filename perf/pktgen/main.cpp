// strait-pktgen: a DPDK traffic generator that plays WireGuard peers of a device under test
// (DUT), over any DPDK port (perf/README.md, "strait-pktgen"; bench config: bench_config.hpp).
//
//   strait-pktgen [EAL options] -- --config FILE [--json FILE] [--rate PPS] [--duration S]
//
// One lcore does everything, in one loop: handshakes with the DUT through the project's
// wg::Device (emulated_peer.hpp), then probes at the configured rate and size mix, sealed by
// the pipeline's encap_burst (directions loop and decap) or sent plain into the DUT's bridge
// (encap); what comes back on the wire is opened by decap_burst, what comes back on the bridge
// port is read as is. Every probe carries its sequence number and TSC (probe.hpp), so the
// report has the received rate, the loss and the latency percentiles.
//
// Exit status: 0 when at least one probe came back, 1 when none did or the set-up failed,
// 2 on bad usage.

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/monotonic_clock.hpp"
#include "bench_config.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/port.hpp"
#include "emulated_peer.hpp"
#include "observability/version.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"
#include "probe.hpp"

namespace {

using namespace strait;
using pktgen::BenchConfig;
using pktgen::Direction;

constexpr std::uint16_t kBurst = 32;
constexpr std::size_t kMaxLatencySamples = std::size_t{1} << 22;  // 16 MB of samples
constexpr double kDrainSeconds = 0.5;
constexpr double kHandshakeTimeoutSeconds = 15;

struct Args {
  std::string config;
  std::string json;
  std::uint64_t rate_pps = 0;  // 0: the config's
  double duration_s = 0;       // 0: the config's
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "strait-pktgen: %s\n"
               "usage: strait-pktgen [EAL options] -- --config FILE [--json FILE] [--rate PPS] "
               "[--duration SECONDS]\n",
               why.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value for " + flag);
    const std::string v = argv[++i];
    try {
      if (flag == "--config")
        a.config = v;
      else if (flag == "--json")
        a.json = v;
      else if (flag == "--rate")
        a.rate_pps = std::stoull(v);
      else if (flag == "--duration")
        a.duration_s = std::stod(v);
      else
        usage("unknown option " + flag);
    } catch (const std::exception&) {
      usage("bad value for " + flag);
    }
  }
  if (a.config.empty()) usage("--config is required");
  return a;
}

// What came back, and when.
struct Tally {
  std::uint64_t offered = 0;         // probes made
  std::uint64_t sent = 0;            // probes the TX queue took
  std::uint64_t tx_refused = 0;      // probes the TX queue refused (freed)
  std::uint64_t received = 0;        // probes back
  std::uint64_t received_bytes = 0;  // their inner IP bytes
  std::vector<std::uint32_t> latency_ns;
};

class Generator {
 public:
  Generator(const BenchConfig& c, rte_mempool* pool, dp::Port& wire, dp::Port* bridge)
      : c_(c), pool_(pool), wire_(wire), bridge_(bridge), sizes_(pktgen::size_sequence(c)) {
    ctx_.aead = &aead_;
    ctx_.counters = &counters_;
    std::memcpy(wire_mac_.data(), wire.mac().addr_bytes, 6);
    if (bridge != nullptr) std::memcpy(bridge_mac_.data(), bridge->mac().addr_bytes, 6);
    for (std::size_t i = 0; i < c.peers.size(); ++i)
      peers_.push_back(std::make_unique<pktgen::EmulatedPeer>(c, i, wire_mac_, pool, rng_,
                                                              wg::Time(monotonic_ns())));
    tally_.latency_ns.reserve(kMaxLatencySamples);
    tsc_hz_ = rte_get_tsc_hz();
  }

  const std::vector<std::unique_ptr<pktgen::EmulatedPeer>>& peers() const { return peers_; }
  const Tally& tally() const { return tally_; }
  const dp::LcoreCounters& counters() const { return counters_; }

  // Handshakes with the DUT for every peer; false after the timeout.
  bool handshake() {
    for (auto& p : peers_) p->start_handshake(wg::Time(monotonic_ns()));
    const std::uint64_t end =
        rte_rdtsc() + static_cast<std::uint64_t>(kHandshakeTimeoutSeconds * tsc_hz_);
    while (rte_rdtsc() < end) {
      poll_rx();
      tick_peers();
      if (std::all_of(peers_.begin(), peers_.end(), [](const auto& p) { return p->has_session(); }))
        return true;
    }
    return false;
  }

  // `seconds` of probes at `rate_pps` in total, round robin over the peers, then the drain.
  void run(double seconds, std::uint64_t rate_pps) {
    const std::uint64_t start = rte_rdtsc();
    const std::uint64_t end = start + static_cast<std::uint64_t>(seconds * tsc_hz_);
    const double per_tick = static_cast<double>(rate_pps) / static_cast<double>(tsc_hz_);
    std::uint64_t next_tick = start;
    std::size_t rr = 0;
    for (std::uint64_t now = start; now < end; now = rte_rdtsc()) {
      const auto due = static_cast<std::uint64_t>(static_cast<double>(now - start) * per_tick);
      if (due > tally_.offered) {
        const auto n =
            static_cast<std::uint16_t>(std::min<std::uint64_t>(due - tally_.offered, kBurst));
        send_probes(*peers_[rr++ % peers_.size()], n);
      }
      poll_rx();
      if (now >= next_tick) {  // timers every 10 ms: handshake retries, rekeying
        tick_peers();
        next_tick = now + tsc_hz_ / 100;
      }
    }
    const std::uint64_t drain_end =
        rte_rdtsc() + static_cast<std::uint64_t>(kDrainSeconds * tsc_hz_);
    while (rte_rdtsc() < drain_end) poll_rx();
    tx_seconds_ = seconds;
  }

  [[nodiscard]] double tsc_hz() const { return static_cast<double>(tsc_hz_); }

 private:
  void set_now() { ctx_.now_ns = monotonic_ns(); }

  void tick_peers() {
    const wg::Time now = wg::Time(monotonic_ns());
    for (auto& p : peers_) {
      p->tick(now);
      transmit_pending(*p);
    }
  }

  void transmit_pending(pktgen::EmulatedPeer& p) {
    auto& frames = p.pending_frames();
    if (frames.empty()) return;
    transmit(wire_, frames.data(), static_cast<std::uint16_t>(frames.size()));
    frames.clear();
  }

  // TX burst; what the queue refuses is freed. Returns what it took.
  static std::uint16_t transmit(dp::Port& port, rte_mbuf** m, std::uint16_t n) {
    const std::uint16_t sent = rte_eth_tx_burst(port.port_id(), 0, m, n);
    for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(m[i]);
    return sent;
  }

  // n probe frames for peer p: Ethernet + inner packet. For loop and decap they go through
  // the encap stage (which strips the Ethernet header), for encap straight into the bridge.
  void send_probes(pktgen::EmulatedPeer& p, std::uint16_t n) {
    rte_mbuf* frames[kBurst];
    if (rte_pktmbuf_alloc_bulk(pool_, frames, n) != 0) return;  // retried on the next turn
    const bool plain = c_.direction == Direction::encap;
    const auto& src = plain ? c_.target : p.inner_ip();
    const auto& dst = plain ? p.inner_ip() : c_.target;
    for (std::uint16_t i = 0; i < n; ++i) {
      const std::uint16_t size = sizes_[size_pos_++ % sizes_.size()];
      auto* d = reinterpret_cast<std::uint8_t*>(
          rte_pktmbuf_append(frames[i], static_cast<std::uint16_t>(dp::kEthHdrLen + size)));
      if (d == nullptr) {  // cannot happen: sizes are at most 1500 (bench_config.cpp)
        rte_pktmbuf_free_bulk(frames, n);
        return;
      }
      dp::EthHdr eth{};
      std::memcpy(eth.dst, c_.bridge_dst_mac.data(), 6);
      std::memcpy(eth.src, bridge_mac_.data(), 6);
      eth.ether_type_be = dp::kEtherTypeIpv4Be;
      dp::store_header(d, eth);
      pktgen::write_probe_packet(d + dp::kEthHdrLen, size, src, dst,
                                 {pktgen::kProbeMagic, p.index(), tally_.offered + i, rte_rdtsc()});
    }
    tally_.offered += n;
    std::uint16_t sent = 0;
    if (plain) {
      sent = transmit(*bridge_, frames, n);
    } else {
      set_now();
      rte_mbuf* wire[kBurst];
      rte_mbuf* slow[kBurst];
      const dp::EncapResult r = dp::encap_burst(ctx_, p.state(), frames, n, wire, slow);
      for (std::uint16_t i = 0; i < r.to_slow_path; ++i) rte_pktmbuf_free(slow[i]);
      sent = transmit(wire_, wire, r.to_wire);
    }
    tally_.sent += sent;
    tally_.tx_refused += n - sent;
  }

  void poll_rx() {
    rte_mbuf* burst[kBurst];
    const std::uint16_t n = rte_eth_rx_burst(wire_.port_id(), 0, burst, kBurst);
    if (n != 0) on_wire(burst, n);
    if (bridge_ != nullptr) {
      const std::uint16_t b = rte_eth_rx_burst(bridge_->port_id(), 0, burst, kBurst);
      for (std::uint16_t i = 0; i < b; ++i) {
        on_plain_frame(burst[i]);
        rte_pktmbuf_free(burst[i]);
      }
    }
  }

  // Wire frames: ARP requests for our address are answered; UDP to a peer's port goes to that
  // peer's decap stage (transport data) or Device (handshake messages); the rest is dropped.
  void on_wire(rte_mbuf** burst, std::uint16_t n) {
    std::vector<rte_mbuf*>& arp_replies = scratch_arp_;
    for (auto& b : buckets_) b.clear();
    buckets_.resize(peers_.size());
    for (std::uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = burst[i];
      auto* d = rte_pktmbuf_mtod(m, std::uint8_t*);
      const std::uint32_t len = rte_pktmbuf_data_len(m);
      const auto eth = dp::load_header<dp::EthHdr>(d);
      if (eth.ether_type_be == dp::kEtherTypeArpBe && answer_arp(d, len)) {
        arp_replies.push_back(m);
        continue;
      }
      const std::uint32_t l4 = dp::kEthHdrLen + dp::kIpv4HdrLen;
      if (eth.ether_type_be == dp::kEtherTypeIpv4Be && len >= l4 + dp::kUdpHdrLen &&
          d[dp::kEthHdrLen] == dp::kIpv4VersionIhl5 && d[dp::kEthHdrLen + 9] == dp::kIpProtoUdp) {
        const auto udp = dp::load_header<dp::UdpHdr>(d + l4);
        const unsigned port = dp::be16_to_cpu(udp.dst_port_be);
        if (port >= c_.port_base && port < c_.port_base + peers_.size()) {
          buckets_[port - c_.port_base].push_back(m);
          continue;
        }
      }
      rte_pktmbuf_free(m);
    }
    if (!arp_replies.empty()) {
      transmit(wire_, arp_replies.data(), static_cast<std::uint16_t>(arp_replies.size()));
      arp_replies.clear();
    }
    set_now();
    for (std::size_t p = 0; p < peers_.size(); ++p) {
      auto& b = buckets_[p];
      if (b.empty()) continue;
      rte_mbuf* plain[kBurst];
      rte_mbuf* hs[kBurst];
      rte_mbuf* slow[kBurst];  // nothing is punted: punt_non_tunnel is off
      const dp::DecapResult r =
          dp::decap_burst(ctx_, peers_[p]->state(), b.data(), static_cast<std::uint16_t>(b.size()),
                          plain, hs, slow);
      for (std::uint16_t i = 0; i < r.to_bridge; ++i) {
        on_plain_frame(plain[i]);
        rte_pktmbuf_free(plain[i]);
      }
      for (std::uint16_t i = 0; i < r.to_handshake; ++i) {
        on_handshake_frame(*peers_[p], hs[i]);
        rte_pktmbuf_free(hs[i]);
      }
      for (std::uint16_t i = 0; i < r.to_slow_path; ++i) rte_pktmbuf_free(slow[i]);
    }
  }

  // RFC 826: a request for local_ip becomes our reply, in place.
  bool answer_arp(std::uint8_t* d, std::uint32_t len) {
    if (len < dp::kEthHdrLen + sizeof(dp::ArpHdr)) return false;
    auto arp = dp::load_header<dp::ArpHdr>(d + dp::kEthHdrLen);
    if (arp.op_be != dp::kArpOpRequestBe || std::memcmp(arp.tpa, c_.local_ip.data(), 4) != 0)
      return false;
    std::memcpy(arp.tha, arp.sha, 6);
    std::memcpy(arp.tpa, arp.spa, 4);
    std::memcpy(arp.sha, wire_mac_.data(), 6);
    std::memcpy(arp.spa, c_.local_ip.data(), 4);
    arp.op_be = dp::kArpOpReplyBe;
    dp::store_header(d + dp::kEthHdrLen, arp);
    auto eth = dp::load_header<dp::EthHdr>(d);
    std::memcpy(eth.dst, eth.src, 6);
    std::memcpy(eth.src, wire_mac_.data(), 6);
    dp::store_header(d, eth);
    return true;
  }

  void on_handshake_frame(pktgen::EmulatedPeer& p, rte_mbuf* m) {
    const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const std::uint32_t len = rte_pktmbuf_data_len(m);
    const std::uint32_t payload = dp::kEthHdrLen + dp::kIpv4HdrLen + dp::kUdpHdrLen;
    if (len <= payload) return;
    const auto ip = dp::load_header<dp::Ipv4Hdr>(d + dp::kEthHdrLen);
    const auto udp = dp::load_header<dp::UdpHdr>(d + dp::kEthHdrLen + dp::kIpv4HdrLen);
    const auto from = uapi::Endpoint::v4({ip.src[0], ip.src[1], ip.src[2], ip.src[3]},
                                         dp::be16_to_cpu(udp.src_port_be));
    p.receive({d + payload, len - payload}, from, wg::Time(monotonic_ns()));
    transmit_pending(p);
  }

  // A plain frame (decap output or bridge RX): a probe of ours counts, with its latency.
  void on_plain_frame(rte_mbuf* m) {
    const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const std::uint32_t len = rte_pktmbuf_data_len(m);
    if (len < dp::kEthHdrLen) return;
    const auto probe = pktgen::read_probe(d + dp::kEthHdrLen, len - dp::kEthHdrLen);
    if (!probe) return;
    const std::uint64_t now = rte_rdtsc();
    ++tally_.received;
    tally_.received_bytes += len - dp::kEthHdrLen;
    if (tally_.latency_ns.size() < kMaxLatencySamples && now > probe->tx_tsc) {
      const double ns =
          static_cast<double>(now - probe->tx_tsc) * 1e9 / static_cast<double>(tsc_hz_);
      tally_.latency_ns.push_back(static_cast<std::uint32_t>(std::min(ns, 4e9)));
    }
  }

  const BenchConfig& c_;
  rte_mempool* pool_;
  dp::Port& wire_;
  dp::Port* bridge_;
  dp::MacAddr wire_mac_{};
  dp::MacAddr bridge_mac_{};
  std::vector<std::uint16_t> sizes_;
  std::size_t size_pos_ = 0;
  wg::SystemRandom rng_;
  crypto::AeadEngine aead_;
  dp::LcoreCounters counters_;
  dp::StageContext ctx_;
  std::vector<std::unique_ptr<pktgen::EmulatedPeer>> peers_;
  std::vector<std::vector<rte_mbuf*>> buckets_;  // reserved on first use, then reused
  std::vector<rte_mbuf*> scratch_arp_;
  Tally tally_;
  std::uint64_t tsc_hz_ = 0;
  double tx_seconds_ = 0;
};

double percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(k, sorted.size() - 1)] / 1000.0;  // microseconds
}

const char* direction_name(Direction d) {
  return d == Direction::loop ? "loop" : d == Direction::decap ? "decap" : "encap";
}

int run(const Args& args) {
  auto loaded = pktgen::load_bench_config(args.config);
  if (!loaded.config) {
    std::fprintf(stderr, "strait-pktgen: %s: %s\n", args.config.c_str(), loaded.error.c_str());
    return 2;
  }
  BenchConfig c = *loaded.config;
  if (args.rate_pps != 0) c.rate_pps = args.rate_pps;
  if (args.duration_s != 0) c.duration_s = args.duration_s;

  rte_mempool* pool = rte_pktmbuf_pool_create(
      "pktgen_mbufs", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "strait-pktgen: cannot create the mbuf pool (memory: -m / hugepages)\n");
    return 1;
  }
  auto open = [&](const char* name, const std::string& devargs, bool promiscuous) {
    dp::PortSpec spec;
    spec.name = name;
    spec.devargs = devargs;
    spec.mempool = pool;
    spec.promiscuous = promiscuous;
    return dp::Port::open(spec);
  };
  auto wire = open("wire", c.wire, false);
  if (!wire.ok()) {
    std::fprintf(stderr, "strait-pktgen: %s\n", wire.error().message.c_str());
    return 1;
  }
  std::unique_ptr<dp::Port> bridge;
  if (!c.bridge.empty()) {
    auto b = open("bridge", c.bridge, true);
    if (!b.ok()) {
      std::fprintf(stderr, "strait-pktgen: %s\n", b.error().message.c_str());
      return 1;
    }
    bridge = std::move(b).value();
  }

  Generator gen(c, pool, *wire.value(), bridge.get());
  for (const auto& p : gen.peers())
    std::printf("peer %u: UDP port %u, public key %s\n", p->index(), p->udp_port(),
                p->public_key_hex().c_str());
  if (!gen.handshake()) {
    std::fprintf(stderr,
                 "strait-pktgen: no session with the DUT after %.0f s (its public key, our "
                 "keys in its peers, dut_mac, addresses?)\n",
                 kHandshakeTimeoutSeconds);
    return 1;
  }
  std::printf("handshakes done: %zu peer(s); %s, %.1f s at %llu pps\n", gen.peers().size(),
              direction_name(c.direction), c.duration_s,
              static_cast<unsigned long long>(c.rate_pps));
  std::fflush(stdout);
  gen.run(c.duration_s, c.rate_pps);

  const Tally& t = gen.tally();
  std::vector<std::uint32_t> lat = t.latency_ns;
  std::sort(lat.begin(), lat.end());
  const double loss =
      t.sent == 0 ? 0
                  : 100.0 * (1.0 - static_cast<double>(t.received) / static_cast<double>(t.sent));
  const double rx_pps = static_cast<double>(t.received) / c.duration_s;
  const double rx_gbps = static_cast<double>(t.received_bytes) * 8 / c.duration_s / 1e9;
  std::printf(
      "offered %llu, sent %llu (refused by TX %llu), received %llu: loss %.3f %%\n"
      "received %.0f pps, %.3f Gbit/s of inner packets\n"
      "latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
      static_cast<unsigned long long>(t.offered), static_cast<unsigned long long>(t.sent),
      static_cast<unsigned long long>(t.tx_refused), static_cast<unsigned long long>(t.received),
      loss, rx_pps, rx_gbps, percentile(lat, 50), percentile(lat, 90), percentile(lat, 99),
      percentile(lat, 99.9), lat.empty() ? 0.0 : lat.back() / 1000.0);
  const auto totals = dp::read_counters(gen.counters());
  std::string drops;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (totals.drops[i] == 0) continue;
    const std::string name(kDropReasonNames[i]);
    std::printf("generator drop %s: %llu\n", name.c_str(),
                static_cast<unsigned long long>(totals.drops[i]));
    drops += (drops.empty() ? "" : ", ") + ("\"" + name + "\": " + std::to_string(totals.drops[i]));
  }
  if (!args.json.empty()) {
    std::ofstream j(args.json);
    j << "{\"direction\": \"" << direction_name(c.direction) << "\", \"peers\": " << c.peers.size()
      << ", \"rate_pps\": " << c.rate_pps << ", \"duration_s\": " << c.duration_s
      << ", \"offered\": " << t.offered << ", \"sent\": " << t.sent
      << ", \"tx_refused\": " << t.tx_refused << ", \"received\": " << t.received
      << ", \"loss_percent\": " << loss << ", \"received_pps\": " << rx_pps
      << ", \"received_gbps\": " << rx_gbps << ", \"latency_us\": {\"p50\": " << percentile(lat, 50)
      << ", \"p90\": " << percentile(lat, 90) << ", \"p99\": " << percentile(lat, 99)
      << ", \"p999\": " << percentile(lat, 99.9)
      << ", \"max\": " << (lat.empty() ? 0.0 : lat.back() / 1000.0)
      << ", \"samples\": " << lat.size() << "}, \"generator_drops\": {" << drops << "}}\n";
  }
  return t.received > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Before the EAL, which would take --version for one of its own options.
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("%s\n", strait::observe::version_line("strait-pktgen").c_str());
    return 0;
  }
  const int used = rte_eal_init(argc, argv);
  if (used < 0) {
    std::fprintf(stderr, "strait-pktgen: EAL initialisation failed (%s)\n",
                 rte_strerror(rte_errno));
    return 1;
  }
  int rc = 1;
  try {
    rc = run(parse_args(argc - used, argv + used));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strait-pktgen: %s\n", e.what());
  }
  rte_eal_cleanup();
  return rc;
}

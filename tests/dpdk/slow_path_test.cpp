// straitd's slow path and a live worker lcore in one process, over net_ring loopback ports (no
// NIC): configuration changes applied while the worker forwards traffic to the peers they name
// (docs/STRAITD.md, "Publishing configuration: RCU"). One EAL for the executable (-l 0,1).
// Built with AddressSanitizer (build-asan, tests/run-all.sh), a per-peer block freed while the
// worker still uses it is reported there as a heap-use-after-free.
//
//   test thread = the slow path (lcore 0)          worker (lcore 1)
//   SlowPath::apply(change) -> republish            traffic_poll: frames to the peers
//   Publication::reclaim()                            -> bridge TX q0 -> [net_ring loop]
//                                                     -> bridge RX q0 -> worker_poll -> encap
//
// No peer has a session here (no handshake partner), so every packet is staged for its peer
// (encap_stage.cpp stage_packet): the worker writes the peer's PeerActivity and its staging
// ring, the two blocks the slow path owns per peer.

#include "straitd/slow_path.hpp"

#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/eal_environment.hpp"
#include "common/packet_builder.hpp"
#include "common/refused.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "dpdk/rcu.hpp"
#include "dpdk/worker.hpp"
#include "straitd/options.hpp"
#include "straitd/publication.hpp"
#include "straitd/worker_pipeline.hpp"

namespace strait::straitd {
namespace {

using test::refused;

using Bytes = std::vector<std::uint8_t>;

strait::Key random_key(std::uint32_t seed) {
  strait::Key k;
  std::uint32_t x = seed * 2654435761U + 12345U;
  for (auto& b : k) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return k;
}

uapi::PeerChange add_peer(const strait::Key& key, std::array<std::uint8_t, 4> net) {
  uapi::PeerChange pc;
  pc.public_key = key;
  pc.allowed_ips.push_back(IpPrefix::v4(net, 24));
  return pc;
}

uapi::PeerChange remove_peer(const strait::Key& key) {
  uapi::PeerChange pc;
  pc.public_key = key;
  pc.remove = true;
  return pc;
}

// An Ethernet + IPv4 + UDP frame from the bridge towards `dst`.
Bytes frame_to(const char* dst) {
  test::PacketBuilder pb;
  return pb.eth("0a:58:0a:01:00:05", "02:00:00:00:00:b0")
      .ipv4("10.1.0.5", dst)
      .udp(40000, 53)
      .payload(64)
      .build();
}

// What the worker sends itself through the bridge port's loopback before each poll.
struct Traffic {
  rte_mempool* pool = nullptr;
  std::uint16_t bridge_port = 0;
  std::vector<Bytes> frames;  // sent round robin, kRxBurst per poll
  std::atomic<std::uint64_t> polls{0};
  std::atomic<bool> in_poll{false};
};
Traffic* g_traffic = nullptr;

// dp::PollFn of the worker: a burst of frames into the bridge loopback, then straitd's own
// worker_poll. Never idle, so the worker never goes RCU-offline.
std::uint32_t traffic_poll(dp::WorkerContext& ctx) {
  Traffic& t = *g_traffic;
  rte_mbuf* burst[kRxBurst];
  std::uint16_t n = 0;
  for (; n < kRxBurst; ++n) {
    rte_mbuf* m = rte_pktmbuf_alloc(t.pool);
    if (m == nullptr) break;
    const Bytes& f = t.frames[n % t.frames.size()];
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(), f.size());
    burst[n] = m;
  }
  const std::uint16_t sent = rte_eth_tx_burst(t.bridge_port, 0, burst, n);
  for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(burst[i]);
  t.polls.fetch_add(1, std::memory_order_seq_cst);
  t.in_poll.store(true, std::memory_order_seq_cst);
  const std::uint32_t handled = worker_poll(ctx);
  t.in_poll.store(false, std::memory_order_seq_cst);
  return handled + 1;
}

// straitd minus main(): ports, counters, RCU, publication, the slow path, one worker.
class SlowPathRig {
 public:
  SlowPathRig() {
    options_.ifname = "spt";
    options_.wire = "net_ring_sptw";
    options_.bridge = "net_ring_sptb";
    options_.wire_ipv4 = dp::ipv4_mapped(std::array<std::uint8_t, 4>{192, 0, 2, 1}.data());
    options_.wire_gateway_mac = dp::MacAddr{0x02, 0, 0, 0, 0, 0xfe};
    options_.bridge_mac_mode = BridgeMacMode::fixed;
    options_.bridge_dst_mac = dp::MacAddr{0x02, 0, 0, 0, 0, 0xb1};
    pool_ = test::mbuf_pool();
    wire_ = open("wire", options_.wire);
    bridge_ = open("bridge", options_.bridge);
    rcu_ = std::move(dp::RcuDomain::create(1)).value();
    publication_ = std::make_unique<Publication>(rcu_->qsbr());
    exceptions_ = rte_ring_create("spt_exc", 1024, 0, RING_F_SC_DEQ);
    if (exceptions_ == nullptr) throw std::runtime_error("exception ring");
    handshakes_ = rte_ring_create("spt_hs", 1024, 0, RING_F_SC_DEQ);
    if (handshakes_ == nullptr) throw std::runtime_error("handshake ring");

    SlowPathConfig sc;
    sc.options = &options_;
    sc.wire = wire_.get();
    sc.bridge = bridge_.get();
    sc.tx_queue = 1;
    sc.pool = pool_;
    sc.handshakes = handshakes_;
    sc.exceptions = exceptions_;
    sc.counters = &counters_.block(1);
    sc.all_counters = &counters_;
    sc.publication = publication_.get();
    sc.on_publish = [this](const dp::ForwardingState&) {
      if (on_publish) on_publish();
    };
    slow_ = std::make_unique<SlowPath>(std::move(sc));
    auto started = slow_->start(random_key(1));
    if (!started) throw std::runtime_error(started.error().message);
  }

  ~SlowPathRig() {
    stop_worker();
    drain_port(*wire_);
    drain_port(*bridge_);
    slow_->drain();
    slow_.reset();
    publication_.reset();
    bridge_.reset();
    wire_.reset();
    rte_ring_free(exceptions_);
    rte_ring_free(handshakes_);
  }

  void start_worker(Traffic& traffic) {
    traffic.pool = pool_;
    traffic.bridge_port = bridge_->port_id();
    g_traffic = &traffic;
    pipeline_ = std::make_unique<WorkerPipeline>();
    pipeline_->stage.aead = &pipeline_->aead;
    pipeline_->stage.counters = &counters_.block(0);
    pipeline_->state = &publication_->pointer();
    pipeline_->handshakes = handshakes_;
    pipeline_->exceptions = exceptions_;
    dp::WorkerContext c;
    c.lcore_id = 1;
    c.worker_index = 0;
    c.queues[static_cast<std::size_t>(dp::PortRole::wire)] = {wire_->port_id(), 0, 0};
    c.queues[static_cast<std::size_t>(dp::PortRole::bridge)] = {bridge_->port_id(), 0, 0};
    c.counters = &counters_.block(0);
    c.poll = traffic_poll;
    c.pipeline = pipeline_.get();
    c.rcu = rcu_->qsbr();
    c.options.busy_poll = true;
    group_ = std::make_unique<dp::WorkerGroup>(std::vector<dp::WorkerContext>{c});
    auto r = group_->launch();
    if (!r) throw std::runtime_error(r.error().message);
  }

  void stop_worker() {
    if (group_) group_->stop();
    group_.reset();
    g_traffic = nullptr;
  }

  SlowPath& slow() { return *slow_; }
  Publication& publication() { return *publication_; }
  rte_mempool* pool() { return pool_; }
  dp::CounterTotals totals() const { return counters_.sum(); }

  std::function<void()> on_publish;

 private:
  std::unique_ptr<dp::Port> open(const char* name, const std::string& devargs) {
    dp::PortSpec s;
    s.name = name;
    s.devargs = devargs;
    s.n_rx_queues = 2;
    s.n_tx_queues = 2;
    s.rx_ring_size = 256;
    s.tx_ring_size = 256;
    s.mempool = pool_;
    auto p = dp::Port::open(s);
    if (!p) throw std::runtime_error(p.error().message);
    return std::move(p).value();
  }

  // What the loopback rings still hold once the worker stopped.
  static void drain_port(const dp::Port& port) {
    rte_mbuf* m[kRxBurst];
    for (std::uint16_t q = 0; q < 2; ++q) {
      std::uint16_t n = 0;
      while ((n = rte_eth_rx_burst(port.port_id(), q, m, kRxBurst)) != 0) {
        for (std::uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(m[i]);
      }
    }
  }

  Options options_;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<dp::Port> wire_;
  std::unique_ptr<dp::Port> bridge_;
  dp::CounterSet counters_{2};
  std::unique_ptr<dp::RcuDomain> rcu_;
  std::unique_ptr<Publication> publication_;
  rte_ring* exceptions_ = nullptr;
  rte_ring* handshakes_ = nullptr;
  std::unique_ptr<SlowPath> slow_;
  std::unique_ptr<WorkerPipeline> pipeline_;
  std::unique_ptr<dp::WorkerGroup> group_;
};

// Waits (bounded, not a timing assertion) until pred() holds; false on timeout.
template <class Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Issue 11 item 1: `wg set IF peer X remove peer Y` (and wg setconf / syncconf) gives Y's id
// to X in one change. The old peer's PeerActivity and staging ring must outlive every
// snapshot that names them, so they may only be retired after the snapshot that no longer
// names them is published. The publication hook holds each republish until the worker has
// started a poll after the hook was entered: that poll runs on the snapshot still published,
// which names the old peer's blocks, and reclaim() follows the publish at once, as in
// SlowPath::run. Retired any earlier, the blocks are freed under that poll.
TEST(SlowPath, PeerIdReusedWhileTheWorkerForwardsToIt) {
  constexpr int kChanges = 200;
  rte_mempool* pool = test::mbuf_pool();
  const unsigned baseline = rte_mempool_avail_count(pool);
  {
    SlowPathRig rig;
    // A peer that stays, and the one replaced by every change (same id, new key).
    const strait::Key stays = random_key(100);
    strait::Key churned = random_key(1000);
    uapi::DeviceChange initial;
    initial.peers = {add_peer(stays, {10, 50, 0, 0}), add_peer(churned, {10, 60, 0, 0})};
    ASSERT_EQ(refused(rig.slow().apply(initial)), "");

    Traffic traffic;
    traffic.frames = {frame_to("10.60.0.7"), frame_to("10.50.0.7")};
    int held = 0;
    bool stalled = false;
    rig.on_publish = [&] {
      const std::uint64_t p0 = traffic.polls.load();
      if (!eventually([&] { return traffic.polls.load() >= p0 + 2 && traffic.in_poll.load(); })) {
        stalled = true;
        return;
      }
      ++held;
    };
    rig.start_worker(traffic);
    ASSERT_TRUE(eventually([&] { return traffic.polls.load() > 10; })) << "the worker never polled";

    for (int i = 0; i < kChanges; ++i) {
      const strait::Key next = random_key(1001 + static_cast<std::uint32_t>(i));
      uapi::DeviceChange change;
      change.peers = {remove_peer(churned), add_peer(next, {10, 60, 0, 0})};
      ASSERT_EQ(refused(rig.slow().apply(change)), "") << "change " << i;
      churned = next;
      (void)rig.publication().reclaim();
    }
    rig.on_publish = nullptr;
    EXPECT_FALSE(stalled) << "the worker stopped polling during a change";
    EXPECT_EQ(held, kChanges) << "every change was held until the worker polled on the old state";
    rig.stop_worker();

    // The traffic reached both peers' staging (no_route would mean a frame found no peer).
    const dp::CounterTotals t = rig.totals();
    EXPECT_GT(t.port[static_cast<std::size_t>(dp::PortRole::bridge)].rx_packets,
              static_cast<std::uint64_t>(kChanges) * kRxBurst);
    EXPECT_EQ(t.drops[static_cast<std::size_t>(DropReason::no_route)], 0U);
    // Both peers are still configured, the replaced one under its newest key.
    const uapi::DeviceState s = rig.slow().get();
    ASSERT_EQ(s.peers.size(), 2U);
  }
  // Every mbuf the worker staged, in live or retired staging rings, is back in the pool once
  // the slow path and the publication are gone.
  EXPECT_EQ(rte_mempool_avail_count(pool), baseline);
}

}  // namespace
}  // namespace strait::straitd

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  strait::dp::MempoolSizing sizing;
  sizing.ring_descriptors = 2 * 4 * 256;
  sizing.lcores = 2;
  sizing.staging = 4096;
  ::testing::AddGlobalTestEnvironment(new strait::test::EalEnvironment(
      {.program = "dpdk_slow_path_test", .lcores = "0,1"}, strait::test::StraitdPools{sizing}));
  return RUN_ALL_TESTS();
}

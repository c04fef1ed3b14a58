// Idle workers that wait on their queues' descriptors (dpdk/queue_wakeup.hpp) over real PMDs:
// a net_tap port and a net_af_packet (or, second instance, net_af_xdp) port on a veth, one
// worker forwarding between them. Needs root, /dev/net/tun and hugepages; one EAL (-l 0,1: the
// test on lcore 0, the worker on 1).
//
//   test (lcore 0)                                  worker (lcore 1)
//   raw socket on tap strait_wkt  <──> net_tap "wire" ───┐ forward_both: wire <-> bridge,
//   raw socket on veth strait_wkb <──> veth strait_wka   │ waits on the tap's Rx interrupt fd
//                                        └ net_af_packet "bridge" ┘ and the af_packet socket
//                                          (or net_af_xdp)              (or the XDP socket)
//
// The test injects a frame on one kernel side while the worker waits, and reads it on the
// other: the wait woke for that PMD. Then it counts the polls of an idle waiting worker and of
// an idle backing-off one over the same interval (an order of magnitude apart, no timing).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/eal_environment.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/port.hpp"
#include "dpdk/queue_wakeup.hpp"
#include "dpdk/rcu.hpp"
#include "dpdk/worker.hpp"

namespace strait::dp {
namespace {

constexpr const char* kTap = "strait_wkt";
constexpr const char* kVethPmd = "strait_wka";   // the af_packet / af_xdp PMD's end
constexpr const char* kVethTest = "strait_wkb";  // the test's end
constexpr std::uint16_t kEtherType = 0x88b5;     // IEEE local experimental: nobody else's

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

void quiet_link(const char* ifname) {
  // No IPv6 autoconfiguration chatter on the links: idle must mean idle.
  (void)sh(std::string("sysctl -w net.ipv6.conf.") + ifname + ".disable_ipv6=1");
  (void)sh(std::string("ip link set ") + ifname + " up");
}

// A raw socket bound to `ifname` that sends and receives kEtherType frames.
struct RawSocket {
  int fd = -1;
  int ifindex = 0;
  explicit RawSocket(const char* ifname) {
    ifindex = static_cast<int>(if_nametoindex(ifname));
    fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType));
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(kEtherType);
    a.sll_ifindex = ifindex;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~RawSocket() {
    if (fd >= 0) ::close(fd);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool send(std::uint8_t marker) const {
    std::array<std::uint8_t, 60> f{};
    std::memset(f.data(), 0xff, 6);  // broadcast: the tap and the PMD accept it
    const std::array<std::uint8_t, 6> src = {0x02, 0, 0, 0, 0x13, marker};
    std::memcpy(f.data() + 6, src.data(), 6);
    f[12] = kEtherType >> 8;
    f[13] = kEtherType & 0xff;
    f[14] = marker;
    return ::send(fd, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size());
  }
  // Waits up to `ms` (bounded, not a timing assertion) for an incoming frame with `marker`.
  bool receive(std::uint8_t marker, int ms) const {
    for (int waited = 0; waited < ms; waited += 10) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      std::array<std::uint8_t, 2048> buf{};
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      const ssize_t n =
          ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 14 && from.sll_pkttype != PACKET_OUTGOING && buf[14] == marker) return true;
    }
    return false;
  }
};

std::uint32_t forward_both(WorkerContext& ctx) {
  std::uint32_t total = 0;
  for (auto [from, to] :
       {std::pair{PortRole::wire, PortRole::bridge}, std::pair{PortRole::bridge, PortRole::wire}}) {
    rte_mbuf* pkts[32];
    const WorkerQueues& in = ctx.queue(from);
    const WorkerQueues& out = ctx.queue(to);
    const std::uint16_t n = rte_eth_rx_burst(in.port_id, in.rx_queue, pkts, 32);
    if (n == 0) continue;
    count_rx(*ctx.counters, from, n, 0);
    const std::uint16_t sent = rte_eth_tx_burst(out.port_id, out.tx_queue, pkts, n);
    count_tx(*ctx.counters, to, sent, 0);
    for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(pkts[i]);
    total += n;
  }
  return total;
}

std::uint64_t polls_of(const CounterSet& c) { return c.sum().polls; }
std::uint64_t waits_of(const CounterSet& c) { return c.sum().idle_waits; }

// The bridge side's PMD, the test's parameter, with what QueueWakeup's summary says of it.
struct BridgePmd {
  const char* devargs_prefix;  // + the interface
  const char* summary;
};
const BridgePmd kAfPacket{"net_af_packet_wk,iface=", "net_af_packet) RX queue 0: 1 packet socket"};
const BridgePmd kAfXdp{"net_af_xdp_wk,start_queue=0,queue_count=1,busy_budget=0,iface=",
                       "net_af_xdp) RX queue 0: 1 XDP socket"};

// The fixture: af_packet on the bridge side; WakeupEachPmd runs a test over each BridgePmd.
class Wakeup : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/net/tun";
    }
    (void)sh(std::string("ip link del ") + kVethPmd);
    ASSERT_TRUE(sh(std::string("ip link add ") + kVethPmd + " type veth peer name " + kVethTest));
    quiet_link(kVethPmd);
    quiet_link(kVethTest);
    auto spec = [](const char* name, std::string devargs) {
      PortSpec s;
      s.name = name;
      s.devargs = std::move(devargs);
      s.rx_ring_size = 256;
      s.tx_ring_size = 256;
      s.promiscuous = true;
      s.rx_interrupts = true;
      s.mempool = test::mbuf_pool();
      return s;
    };
    auto tap = Port::open(spec("wire", std::string("net_tap_wk,iface=") + kTap));
    ASSERT_TRUE(tap.ok()) << tap.error().message;
    tap_ = std::move(tap.value());
    auto afp = Port::open(spec("bridge", std::string(bridge().devargs_prefix) + kVethPmd));
    ASSERT_TRUE(afp.ok()) << afp.error().message;
    afp_ = std::move(afp.value());
    quiet_link(kTap);
    auto rcu = RcuDomain::create(1);
    ASSERT_TRUE(rcu.ok()) << rcu.error().message;
    rcu_ = std::move(rcu.value());
  }
  void TearDown() override {
    tap_.reset();
    afp_.reset();
    (void)sh(std::string("ip link del ") + kVethPmd);
  }

  [[nodiscard]] virtual const BridgePmd& bridge() const { return kAfPacket; }

  std::unique_ptr<QueueWakeup> make_wakeup() {
    const std::array<QueueWakeup::Queue, 2> qs{QueueWakeup::Queue{tap_->port_id(), 0},
                                               QueueWakeup::Queue{afp_->port_id(), 0}};
    auto w = QueueWakeup::create(qs, process_sockets());
    EXPECT_TRUE(w.ok()) << w.error().message;
    return w.ok() ? std::move(w.value()) : nullptr;
  }

  WorkerGroup group(CounterSet& counters, QueueWakeup* wakeup) {
    WorkerContext c;
    const std::vector<unsigned> lcores = worker_lcores();
    c.lcore_id = lcores.empty() ? 1 : lcores[0];
    c.queues[static_cast<std::size_t>(PortRole::wire)] = {tap_->port_id(), 0, 0};
    c.queues[static_cast<std::size_t>(PortRole::bridge)] = {afp_->port_id(), 0, 0};
    c.counters = &counters.block(0);
    c.poll = forward_both;
    c.rcu = rcu_->qsbr();
    c.options.idle_polls_before_sleep = 16;
    c.wakeup = wakeup;
    return WorkerGroup({c});
  }

  std::unique_ptr<Port> tap_;
  std::unique_ptr<Port> afp_;
  std::unique_ptr<RcuDomain> rcu_;
};

// net_af_xdp runs only the forwarding test: in one process, a second net_af_xdp port opened
// after the first was closed fails its RX queue setup ("Failed to configure xdp socket";
// straitd opens each port once per process, so it was not pursued).
class WakeupEachPmd : public Wakeup, public ::testing::WithParamInterface<BridgePmd> {
 protected:
  [[nodiscard]] const BridgePmd& bridge() const override { return GetParam(); }
};

// Waits (bounded) until pred() holds.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000; ++i) {
    if (pred()) return true;
    rte_delay_us_sleep(1000);
  }
  return pred();
}

TEST_P(WakeupEachPmd, WaitingWorkerWakesForEachPmdAndForwards) {
  std::unique_ptr<QueueWakeup> w = make_wakeup();
  ASSERT_NE(w, nullptr);
  EXPECT_NE(w->summary().find("net_tap) RX queue 0: rx interrupt"), std::string::npos)
      << w->summary();
  EXPECT_NE(w->summary().find(bridge().summary), std::string::npos) << w->summary();
  RawSocket at_tap(kTap);
  RawSocket at_veth(kVethTest);
  ASSERT_GE(at_tap.fd, 0);
  ASSERT_GE(at_veth.fd, 0);

  CounterSet counters(1);
  WorkerGroup g = group(counters, w.get());
  ASSERT_TRUE(g.launch().ok());
  const std::uint8_t markers[] = {0x51, 0x52, 0x53};
  for (std::uint8_t m : markers) {
    SCOPED_TRACE(m);
    // The worker is inside a wait: its poll count stands still between two looks.
    ASSERT_TRUE(eventually([&] {
      const std::uint64_t p = polls_of(counters);
      rte_delay_us_sleep(20'000);
      return waits_of(counters) > 0 && polls_of(counters) == p;
    }));
    // tap (Rx interrupt fd) -> worker -> af_packet / af_xdp -> veth
    ASSERT_TRUE(at_tap.send(m));
    EXPECT_TRUE(at_veth.receive(m, 3000)) << "net_tap did not wake the worker";
    ASSERT_TRUE(eventually([&] {
      const std::uint64_t p = polls_of(counters);
      rte_delay_us_sleep(20'000);
      return polls_of(counters) == p;
    }));
    // veth -> af_packet / af_xdp (its socket) -> worker -> tap
    const std::uint8_t back = m + 0x10;
    ASSERT_TRUE(at_veth.send(back));
    EXPECT_TRUE(at_tap.receive(back, 3000))
        << bridge().devargs_prefix << " did not wake the worker";
  }
  g.stop();  // rings the doorbell: returns without waiting for the wait's timeout
  EXPECT_GT(waits_of(counters), 3u);
}

TEST_F(Wakeup, AnIdleWaitingWorkerPollsAnOrderOfMagnitudeLessThanABackingOffOne) {
  std::unique_ptr<QueueWakeup> w = make_wakeup();
  ASSERT_NE(w, nullptr);
  auto idle_polls = [&](QueueWakeup* wakeup) {
    CounterSet counters(1);
    WorkerGroup g = group(counters, wakeup);
    EXPECT_TRUE(g.launch().ok());
    rte_delay_us_sleep(100'000);  // past the empty polls before the first sleep or wait
    const std::uint64_t before = polls_of(counters);
    rte_delay_us_sleep(500'000);
    const std::uint64_t polls = polls_of(counters) - before;
    g.stop();
    return polls;
  };
  const std::uint64_t waiting = idle_polls(w.get());
  const std::uint64_t backing_off = idle_polls(nullptr);
  std::printf("idle polls over the same interval: waiting %llu, backing off %llu\n",
              static_cast<unsigned long long>(waiting),
              static_cast<unsigned long long>(backing_off));
  EXPECT_LT(waiting * 10, backing_off);
}

TEST_F(Wakeup, APortWithoutADescriptorCannotWaitAndSaysWhich) {
  PortSpec s;
  s.name = "wire";
  s.devargs = "net_ring_wk";
  s.mempool = test::mbuf_pool();
  auto ring = Port::open(s);
  ASSERT_TRUE(ring.ok()) << ring.error().message;
  const std::array<QueueWakeup::Queue, 2> qs{QueueWakeup::Queue{tap_->port_id(), 0},
                                             QueueWakeup::Queue{ring.value()->port_id(), 0}};
  auto w = QueueWakeup::create(qs, process_sockets());
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("net_ring_wk (net_ring) RX queue 0: the PMD offers no "
                                   "descriptor to wait on"),
            std::string::npos)
      << w.error().message;
}

INSTANTIATE_TEST_SUITE_P(BridgePmds, WakeupEachPmd, ::testing::Values(kAfPacket, kAfXdp),
                         [](const ::testing::TestParamInfo<BridgePmd>& info) {
                           return info.index == 0 ? std::string("af_packet")
                                                  : std::string("af_xdp");
                         });

}  // namespace
}  // namespace strait::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new strait::test::EalEnvironment(
      {.program = "dpdk_wakeup_test", .lcores = "0,1", .memory_mb = 256, .hugepages = true},
      strait::test::two_port_pools()));
  return RUN_ALL_TESTS();
}

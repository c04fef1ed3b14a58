// The DPDK shell over virtual devices, one EAL for the whole executable (-l 0,1: the main
// lcore runs the test, lcore 1 is the worker). Needs root and hugepages (setup-host.sh).
//
//   test (main lcore 0)                 worker (lcore 1)
//   tx_burst(A, q0) --> [ring A q0] --> rx_burst(A, q0)
//                                          | forward_wire_to_bridge
//   rx_burst(B, q0) <-- [ring B q0] <-- tx_burst(B, q0)
//
// A net_ring port without arguments is a loopback: what is sent on its TX queue q comes back on
// its RX queue q, which gives the test both ends of each port.

#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/eal_environment.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/flow_steering.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "dpdk/rcu.hpp"
#include "dpdk/worker.hpp"

namespace strait::dp {
namespace {

PortSpec ring_spec(const std::string& devargs, std::uint16_t queues) {
  PortSpec s;
  s.name = "wire";
  s.devargs = devargs;
  s.n_rx_queues = queues;
  s.n_tx_queues = queues;
  s.rx_ring_size = 256;
  s.tx_ring_size = 256;
  s.mempool = test::mbuf_pool();
  return s;
}

// Waits (bounded, not a timing assertion) until pred() holds; false on timeout.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 5000; ++i) {
    if (pred()) return true;
    rte_delay_us_sleep(1000);
  }
  return pred();
}

TEST(EalSession, SecondInitIsRefused) {
  auto r = EalSession::init({"again", "--no-huge", "--file-prefix", "strait_again"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("already"), std::string::npos) << r.error().message;
}

TEST(Port, OpensRingAndNullWithTwoQueuesAndCanReopen) {
  for (const char* devargs : {"net_ring0", "net_null0", "net_ring0", "net_null0"}) {
    SCOPED_TRACE(devargs);
    auto r = Port::open(ring_spec(devargs, 2));
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Port& p = *r.value();
    EXPECT_EQ(p.n_rx_queues(), 2);
    EXPECT_EQ(p.n_tx_queues(), 2);
    EXPECT_EQ(p.driver_name(), std::string(devargs).substr(0, 8));
    EXPECT_TRUE(rte_eth_dev_is_valid_port(p.port_id()));
    rte_eth_dev_info info{};
    ASSERT_EQ(rte_eth_dev_info_get(p.port_id(), &info), 0);
    EXPECT_EQ(p.describe(), std::string("port wire (") + devargs + ", " + info.driver_name + ")");
  }
  // Every port closed and its vdev removed: nothing is left over.
  EXPECT_EQ(rte_eth_dev_count_avail(), 0u);
}

TEST(Port, UnknownDevargsGivesAnErrorNamingThem) {
  auto r = Port::open(ring_spec("net_nosuchdriver7,foo=bar", 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'net_nosuchdriver7,foo=bar'"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("port wire"), std::string::npos);
  // A PCI address with PCI disabled: same kind of error, no crash.
  auto pci = Port::open(ring_spec("0000:ff:1f.7", 1));
  ASSERT_FALSE(pci.ok());
  EXPECT_NE(pci.error().message.find("0000:ff:1f.7"), std::string::npos);
}

TEST(Port, TooFewQueuesGivesTheQueueErrorAndReleasesTheDevice) {
  // net_ring has RTE_PMD_RING_MAX_RX_RINGS = 16 queues.
  auto r = Port::open(ring_spec("net_ring5", 17));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("port wire (net_ring5, net_ring) supports 16 RX queues, "
                                   "straitd needs 17"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(rte_eth_dev_count_avail(), 0u);
  auto again = Port::open(ring_spec("net_ring5", 16));
  EXPECT_TRUE(again.ok()) << again.error().message;
}

TEST(FlowSteering, FallsBackOnVdevsWithoutRteFlow) {
  for (const char* devargs : {"net_ring0", "net_null0"}) {
    SCOPED_TRACE(devargs);
    auto port = Port::open(ring_spec(devargs, 2));
    ASSERT_TRUE(port.ok()) << port.error().message;
    const std::uint16_t one[] = {1};
    const std::uint16_t two[] = {0, 1};
    for (std::span<const std::uint16_t> queues :
         {std::span<const std::uint16_t>(one), std::span<const std::uint16_t>(two)}) {
      TunnelSteering s = TunnelSteering::install(*port.value(), 51820, queues);
      EXPECT_FALSE(s.installed());
      const std::string want = port.value()->describe() + ": rte_flow not supported (";
      EXPECT_EQ(s.summary().rfind(want, 0), 0u) << s.summary();
      EXPECT_NE(s.summary().find("), tunnel traffic is filtered in software"), std::string::npos)
          << s.summary();
      EXPECT_EQ(s.summary().find('\n'), std::string::npos);  // one line
    }
  }
}

TEST(FlowSteering, TapEitherInstallsOrFallsBackWithoutCrashing) {
  if (access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun";
  PortSpec spec = ring_spec("net_tap9,iface=strait_t9", 1);
  auto port = Port::open(spec);
  if (!port.ok()) GTEST_SKIP() << port.error().message;
  const std::uint16_t q[] = {0};
  TunnelSteering s = TunnelSteering::install(*port.value(), 51820, q);
  EXPECT_FALSE(s.summary().empty());
  EXPECT_EQ(s.summary().rfind(port.value()->describe(), 0), 0u) << s.summary();
  std::printf("%s\n", s.summary().c_str());
}

// The test's pipeline: wire RX queue -> bridge TX queue, counted.
std::uint32_t forward_wire_to_bridge(WorkerContext& ctx) {
  rte_mbuf* pkts[32];
  const WorkerQueues& in = ctx.queue(PortRole::wire);
  const WorkerQueues& out = ctx.queue(PortRole::bridge);
  std::uint16_t n = rte_eth_rx_burst(in.port_id, in.rx_queue, pkts, 32);
  if (n == 0) return 0;
  std::uint64_t bytes = 0;
  for (std::uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(pkts[i]);
  count_rx(*ctx.counters, PortRole::wire, n, bytes);
  std::uint16_t sent = rte_eth_tx_burst(out.port_id, out.tx_queue, pkts, n);
  count_tx(*ctx.counters, PortRole::bridge, sent, 0);
  for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(pkts[i]);
  if (sent < n) count_drop(*ctx.counters, DropReason::tx_failed, n - sent);
  return n;
}

std::uint32_t poll_nothing(WorkerContext&) { return 0; }

std::vector<WorkerContext> one_worker(CounterSet& counters, PollFn poll, const WorkerOptions& o,
                                      rte_rcu_qsbr* rcu, std::uint16_t wire_port,
                                      std::uint16_t bridge_port) {
  std::vector<unsigned> lcores = worker_lcores();
  EXPECT_EQ(lcores.size(), 1u);
  WorkerContext c;
  c.lcore_id = lcores.empty() ? 1 : lcores[0];
  c.worker_index = 0;
  c.queues[static_cast<std::size_t>(PortRole::wire)] = {wire_port, 0, 0};
  c.queues[static_cast<std::size_t>(PortRole::bridge)] = {bridge_port, 0, 0};
  c.counters = &counters.block(0);
  c.poll = poll;
  c.rcu = rcu;
  c.options = o;
  return {c};
}

TEST(Worker, ForwardsBetweenTwoRingPortsWithoutLeakingMbufs) {
  auto a = Port::open(ring_spec("net_ring10", 2));
  ASSERT_TRUE(a.ok()) << a.error().message;
  PortSpec bspec = ring_spec("net_ring11", 2);
  bspec.name = "bridge";
  auto b = Port::open(bspec);
  ASSERT_TRUE(b.ok()) << b.error().message;
  const std::uint16_t pa = a.value()->port_id();
  const std::uint16_t pb = b.value()->port_id();
  rte_mempool* pool = test::mbuf_pool();

  auto rcu = RcuDomain::create(1);
  ASSERT_TRUE(rcu.ok()) << rcu.error().message;
  CounterSet counters(2);
  WorkerOptions o;  // adaptive back-off on: the worker must still see every packet
  o.idle_polls_before_sleep = 8;
  WorkerGroup group(one_worker(counters, forward_wire_to_bridge, o, rcu.value()->qsbr(), pa, pb));
  const std::uint32_t baseline = mempool_in_use(pool);
  ASSERT_TRUE(group.launch().ok());

  constexpr unsigned kPackets = 300;
  unsigned injected = 0;
  while (injected < kPackets) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    ASSERT_NE(m, nullptr);
    char* data = rte_pktmbuf_append(m, 64);
    ASSERT_NE(data, nullptr);
    std::memset(data, 0, 64);
    std::memcpy(data, &injected, sizeof(injected));
    // TX on A's queue 0 is RX on A's queue 0 (loopback ring); retry while the ring is full.
    while (rte_eth_tx_burst(pa, 0, &m, 1) == 0) rte_delay_us_sleep(10);
    ++injected;
  }

  // The slow path can publish while the worker runs (RCU grace period completes).
  rcu.value()->synchronize();

  unsigned received = 0;
  bool in_order = true;
  ASSERT_TRUE(eventually([&] {
    rte_mbuf* pkts[32];
    std::uint16_t n = rte_eth_rx_burst(pb, 0, pkts, 32);
    for (std::uint16_t i = 0; i < n; ++i) {
      unsigned seq = 0;
      std::memcpy(&seq, rte_pktmbuf_mtod(pkts[i], const char*), sizeof(seq));
      in_order = in_order && seq == received;
      in_order = in_order && rte_pktmbuf_pkt_len(pkts[i]) == 64;
      ++received;
      rte_pktmbuf_free(pkts[i]);
    }
    return received >= kPackets;
  })) << "received "
      << received << " of " << kPackets;
  EXPECT_EQ(received, kPackets);
  EXPECT_TRUE(in_order);
  // Nothing went to queue 1 of either port.
  rte_mbuf* stray[4];
  EXPECT_EQ(rte_eth_rx_burst(pb, 1, stray, 4), 0);
  EXPECT_EQ(rte_eth_rx_burst(pa, 1, stray, 4), 0);

  group.stop();
  EXPECT_EQ(mempool_in_use(pool), baseline);
  CounterTotals t = counters.sum();
  EXPECT_EQ(t.port[static_cast<std::size_t>(PortRole::wire)].rx_packets, kPackets);
  EXPECT_EQ(t.port[static_cast<std::size_t>(PortRole::wire)].rx_bytes, kPackets * 64u);
  EXPECT_EQ(t.port[static_cast<std::size_t>(PortRole::bridge)].tx_packets, kPackets);
  EXPECT_EQ(t.drops[static_cast<std::size_t>(DropReason::tx_failed)], 0u);
  EXPECT_GT(t.polls, 0u);
}

TEST(Worker, IdleWorkerSleepsAndStaysRcuResponsive) {
  auto rcu = RcuDomain::create(1);
  ASSERT_TRUE(rcu.ok()) << rcu.error().message;
  CounterSet counters(1);
  WorkerOptions o;
  o.idle_polls_before_sleep = 16;
  o.sleep_max_us = 200;
  WorkerGroup group(one_worker(counters, poll_nothing, o, rcu.value()->qsbr(), 0, 0));
  ASSERT_TRUE(group.launch().ok());
  ASSERT_TRUE(eventually([&] { return read_counters(counters.block(0)).idle_sleeps > 0; }));
  const std::uint64_t first = read_counters(counters.block(0)).idle_sleeps;
  // Still idle, still sleeping: the count keeps growing.
  ASSERT_TRUE(eventually([&] { return read_counters(counters.block(0)).idle_sleeps > first; }));
  for (int i = 0; i < 20; ++i) rcu.value()->synchronize();
  group.stop();
  CounterTotals t = counters.sum();
  EXPECT_GT(t.idle_sleep_us, 0u);
  EXPECT_LE(t.idle_sleeps, t.polls);
}

TEST(Worker, BusyPollNeverSleeps) {
  CounterSet counters(1);
  WorkerOptions o;
  o.busy_poll = true;
  o.idle_polls_before_sleep = 0;
  WorkerGroup group(one_worker(counters, poll_nothing, o, nullptr, 0, 0));
  ASSERT_TRUE(group.launch().ok());
  ASSERT_TRUE(eventually([&] { return read_counters(counters.block(0)).polls > 100000; }));
  group.stop();
  EXPECT_EQ(counters.sum().idle_sleeps, 0u);
}

TEST(Worker, LaunchRefusesTheMainLcore) {
  CounterSet counters(1);
  std::vector<WorkerContext> ctx = one_worker(counters, poll_nothing, {}, nullptr, 0, 0);
  ctx[0].lcore_id = rte_get_main_lcore();
  WorkerGroup group(std::move(ctx));
  auto r = group.launch();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not an EAL worker lcore"), std::string::npos);
}

// Sends `cmd` to this process' telemetry socket and returns the JSON reply.
std::string telemetry_query(const std::string& cmd) {
  std::string path = std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2";
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (fd < 0) return "socket failed";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  std::string reply;
  char buf[16384];
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      read(fd, buf, sizeof(buf)) > 0 &&  // the greeting
      write(fd, cmd.data(), cmd.size()) == static_cast<ssize_t>(cmd.size())) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) reply.assign(buf, static_cast<std::size_t>(n));
  } else {
    reply = "cannot talk to " + path + ": " + std::strerror(errno);
  }
  close(fd);
  return reply;
}

TEST(Telemetry, CountersCommandReturnsTheSumWithDropsByName) {
  CounterSet counters(2);
  count_rx(counters.block(0), PortRole::wire, 7, 700);
  count_rx(counters.block(1), PortRole::wire, 5, 500);
  count_tx(counters.block(1), PortRole::bridge, 11, 1100);
  count_drop(counters.block(0), DropReason::replay, 3);
  ASSERT_TRUE(publish_counters_telemetry(&counters));
  std::string reply = telemetry_query(kCountersTelemetryCommand);
  EXPECT_NE(reply.find("\"/strait/counters\":{"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"wire_rx_packets\":12"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"wire_rx_bytes\":1200"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"bridge_tx_packets\":11"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"drops\":{"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"replay\":3"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"auth_failed\":0"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("\"none\""), std::string::npos) << reply;  // not a drop

  ASSERT_TRUE(publish_counters_telemetry(nullptr));
  reply = telemetry_query(kCountersTelemetryCommand);
  EXPECT_NE(reply.find("\"/strait/counters\":{}"), std::string::npos) << reply;
}

}  // namespace
}  // namespace strait::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new strait::test::EalEnvironment(
      {.program = "dpdk_vdev_test", .lcores = "0,1", .memory_mb = 256, .hugepages = true},
      strait::test::two_port_pools()));
  return RUN_ALL_TESTS();
}

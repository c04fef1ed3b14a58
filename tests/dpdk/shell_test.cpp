// The parts of the DPDK shell that need no EAL: the hugepage check, the idle back-off, the
// rte_flow rule construction, mempool sizing and the counter sums.

#include <gtest/gtest.h>
#include <poll.h>
#include <rte_byteorder.h>
#include <sys/socket.h>

#include <array>
#include <string>

#include "dpdk/counters.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/flow_steering.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/queue_wakeup.hpp"
#include "dpdk/worker.hpp"

namespace strait::dp {
namespace {

constexpr const char* kMountsWithHugetlbfs =
    "proc /proc proc rw,nosuid 0 0\n"
    "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";
constexpr const char* kMountsWithout = "proc /proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n";

struct HugepageCase {
  const char* what;
  std::string meminfo;
  const char* mounts;
  bool ok;
  const char* message_part;  // expected in the error
};

TEST(HugepageCheck, Cases) {
  const std::string base = "MemTotal: 1000 kB\nHugePages_Total:    1024\n";
  const HugepageCase cases[] = {
      {"1 free and mounted", base + "HugePages_Free:     1024\nHugepagesize: 2048 kB\n",
       kMountsWithHugetlbfs, true, ""},
      {"2 none free", base + "HugePages_Free:        0\n", kMountsWithHugetlbfs, false,
       "no free hugepages: echo 1024 > /proc/sys/vm/nr_hugepages and mount -t hugetlbfs "
       "nodev /dev/hugepages"},
      {"3 free, not mounted", base + "HugePages_Free: 8\n", kMountsWithout, false,
       "no hugetlbfs mounted"},
      {"4 no hugetlb in the kernel", "MemTotal: 1000 kB\n", kMountsWithHugetlbfs, false,
       "HugePages_Free"},
      {"5 key prefix is not the key", base + "HugePages_FreeX: 5\n", kMountsWithHugetlbfs, false,
       "HugePages_Free"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Result<void> r = check_hugepages(c.meminfo, c.mounts);
    EXPECT_EQ(r.ok(), c.ok);
    if (!c.ok) {
      EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
    }
  }
}

TEST(EalSession, RefusesArgumentsWithoutFilePrefix) {
  auto r = EalSession::init({"test", "--no-huge", "-l", "0"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--file-prefix"), std::string::npos);
}

TEST(IdleBackoff, SleepsAfterThresholdDoublingToCapAndResetsOnTraffic) {
  WorkerOptions o;
  o.idle_polls_before_sleep = 3;
  o.sleep_min_us = 1;
  o.sleep_max_us = 8;
  IdleBackoff b(o);
  // Three empty polls are free, then 1, 2, 4, 8, 8 us.
  const std::array<std::uint32_t, 8> idle = {0, 0, 0, 1, 2, 4, 8, 8};
  for (std::uint32_t want : idle) EXPECT_EQ(b.after_poll(0), want);
  EXPECT_EQ(b.after_poll(5), 0u);  // traffic: reset
  for (std::uint32_t want : idle) EXPECT_EQ(b.after_poll(0), want);
}

TEST(QueueWakeup, WakeSourceByDriver) {
  // clang-format off
  struct Case { const char* driver; WakeSource want; };
  const Case cases[] = {
      /* 1 */ {"net_tap",       WakeSource::rx_interrupt},
      /* 2 */ {"net_af_packet", WakeSource::packet_socket},
      /* 3 */ {"net_af_xdp",    WakeSource::xdp_socket},
      /* 4 */ {"net_ring",      WakeSource::none},
      /* 5 */ {"net_null",      WakeSource::none},
      /* 6 */ {"net_ice",       WakeSource::none},
      /* 7 */ {"",              WakeSource::none},
  };
  // clang-format on
  for (const Case& c : cases) EXPECT_EQ(wake_source(c.driver), c.want) << c.driver;
}

TEST(QueueWakeup, PacketSocketsAreMatchedByTheirBoundInterface) {
  const ProcessSocket sockets[] = {
      {.fd = 9, .domain = AF_PACKET, .ifindex = 4},   // port's queue 1
      {.fd = 3, .domain = AF_UNIX, .ifindex = 0},     // UAPI socket
      {.fd = 7, .domain = AF_PACKET, .ifindex = 4},   // port's queue 0
      {.fd = 8, .domain = AF_PACKET, .ifindex = 5},   // another interface
      {.fd = 11, .domain = AF_PACKET, .ifindex = 0},  // unbound
      {.fd = 12, .domain = AF_INET, .ifindex = 4},    // not AF_PACKET
  };
  EXPECT_EQ(packet_sockets_of(sockets, 4), (std::vector<int>{7, 9}));
  EXPECT_EQ(packet_sockets_of(sockets, 5), (std::vector<int>{8}));
  EXPECT_TRUE(packet_sockets_of(sockets, 6).empty());
  EXPECT_TRUE(packet_sockets_of(sockets, 0).empty());  // an unknown ifindex matches nothing
}

TEST(QueueWakeup, XdpSocketsAreAllOfTheProcesss) {
  const ProcessSocket sockets[] = {
      {.fd = 14, .domain = AF_XDP, .ifindex = 0},    // the bridge port's
      {.fd = 3, .domain = AF_UNIX, .ifindex = 0},    // UAPI socket
      {.fd = 10, .domain = AF_XDP, .ifindex = 0},    // the wire port's
      {.fd = 7, .domain = AF_PACKET, .ifindex = 4},  // not AF_XDP
  };
  EXPECT_EQ(xdp_sockets_of(sockets), (std::vector<int>{10, 14}));
  EXPECT_TRUE(xdp_sockets_of(std::span<const ProcessSocket>(sockets, 2).subspan(1)).empty());
}

TEST(Doorbell, OneWriteUntilClearedAndReadableOnlyWhenRung) {
  Doorbell d;
  auto readable = [&] {
    pollfd p{d.fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  };
  EXPECT_FALSE(readable());
  EXPECT_FALSE(d.clear());
  for (int i = 0; i < 100; ++i) d.ring();
  EXPECT_TRUE(readable());
  EXPECT_TRUE(d.clear());  // reads the eventfd back to zero
  EXPECT_FALSE(readable());
  EXPECT_FALSE(d.clear());
  d.ring();  // after a clear, the next ring writes again
  EXPECT_TRUE(readable());
}

TEST(IdleBackoff, BusyPollNeverSleeps) {
  WorkerOptions o;
  o.busy_poll = true;
  o.idle_polls_before_sleep = 0;
  IdleBackoff b(o);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(b.after_poll(0), 0u);
}

TEST(IdleBackoff, CapNotAPowerOfTwoOfTheMinimumIsReachedExactly) {
  WorkerOptions o;
  o.idle_polls_before_sleep = 0;
  o.sleep_min_us = 3;
  o.sleep_max_us = 1000;
  IdleBackoff b(o);
  std::uint32_t last = 0;
  for (int i = 0; i < 20; ++i) last = b.after_poll(0);
  EXPECT_EQ(last, 1000u);
}

TEST(TunnelRule, OneQueueIsAQueueActionOnTheUdpDestinationPort) {
  TunnelRule r;
  const std::array<std::uint16_t, 1> q = {3};
  ASSERT_TRUE(build_tunnel_rule(r, IpVersion::v4, 51820, q));
  EXPECT_EQ(r.attr.ingress, 1u);
  EXPECT_EQ(r.attr.egress, 0u);
  EXPECT_EQ(r.pattern[0].type, RTE_FLOW_ITEM_TYPE_ETH);
  EXPECT_EQ(r.pattern[0].spec, nullptr);  // any Ethernet
  EXPECT_EQ(r.pattern[1].type, RTE_FLOW_ITEM_TYPE_IPV4);
  EXPECT_EQ(r.pattern[2].type, RTE_FLOW_ITEM_TYPE_UDP);
  EXPECT_EQ(r.pattern[3].type, RTE_FLOW_ITEM_TYPE_END);
  const auto* spec = static_cast<const rte_flow_item_udp*>(r.pattern[2].spec);
  const auto* mask = static_cast<const rte_flow_item_udp*>(r.pattern[2].mask);
  ASSERT_EQ(spec, &r.udp_spec);
  ASSERT_EQ(mask, &r.udp_mask);
  // 51820 = 0xca6c, network order on the wire.
  const auto* port_bytes = reinterpret_cast<const std::uint8_t*>(&spec->hdr.dst_port);
  EXPECT_EQ(port_bytes[0], 0xca);
  EXPECT_EQ(port_bytes[1], 0x6c);
  EXPECT_EQ(mask->hdr.dst_port, 0xffff);
  EXPECT_EQ(mask->hdr.src_port, 0);  // any source port
  EXPECT_EQ(r.actions[0].type, RTE_FLOW_ACTION_TYPE_QUEUE);
  EXPECT_EQ(static_cast<const rte_flow_action_queue*>(r.actions[0].conf)->index, 3);
  EXPECT_EQ(r.actions[1].type, RTE_FLOW_ACTION_TYPE_END);
}

TEST(TunnelRule, SeveralQueuesAreAnRssActionOverThem) {
  TunnelRule r;
  const std::array<std::uint16_t, 3> q = {0, 1, 2};
  ASSERT_TRUE(build_tunnel_rule(r, IpVersion::v6, 4500, q));
  EXPECT_EQ(r.pattern[1].type, RTE_FLOW_ITEM_TYPE_IPV6);
  EXPECT_EQ(rte_be_to_cpu_16(r.udp_spec.hdr.dst_port), 4500);
  ASSERT_EQ(r.actions[0].type, RTE_FLOW_ACTION_TYPE_RSS);
  const auto* rss = static_cast<const rte_flow_action_rss*>(r.actions[0].conf);
  ASSERT_EQ(rss, &r.rss);
  ASSERT_EQ(rss->queue_num, 3u);
  for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(rss->queue[i], q[i]);
  EXPECT_NE(rss->types & RTE_ETH_RSS_NONFRAG_IPV4_UDP, 0u);
  EXPECT_NE(rss->types & RTE_ETH_RSS_NONFRAG_IPV6_UDP, 0u);
  EXPECT_EQ(r.actions[1].type, RTE_FLOW_ACTION_TYPE_END);
}

TEST(TunnelRule, RefusesNoQueuesAndTooManyQueues) {
  TunnelRule r;
  EXPECT_FALSE(build_tunnel_rule(r, IpVersion::v4, 51820, {}));
  std::array<std::uint16_t, kMaxSteeringQueues + 1> many{};
  EXPECT_FALSE(build_tunnel_rule(r, IpVersion::v4, 51820, many));
}

TEST(MempoolSizing, CoversRingsCachesAndStagingAsPowerOfTwoMinusOne) {
  MempoolSizing s;
  s.ring_descriptors = ring_descriptors(2, 1024, 2, 1024);  // 4096
  EXPECT_EQ(s.ring_descriptors, 4096u);
  s.lcores = 3;
  s.cache_size = 256;
  s.burst_size = 32;
  s.staging = 1000;
  // 4096 + 3 * (256 + 128 + 32) + 1000 = 6344 -> 8191
  EXPECT_EQ(mempool_size(s), 8191u);
  s.staging = 0;
  s.lcores = 0;
  s.ring_descriptors = 1023;
  EXPECT_EQ(mempool_size(s), 1023u);  // exactly 2^10 - 1 needs no rounding
}

TEST(Counters, SumAddsEveryBlockAndDropsByReason) {
  CounterSet set(3);
  count_rx(set.block(0), PortRole::wire, 10, 1000);
  count_rx(set.block(2), PortRole::wire, 5, 500);
  count_tx(set.block(1), PortRole::bridge, 7, 700);
  count_drop(set.block(0), DropReason::replay);
  count_drop(set.block(2), DropReason::replay, 4);
  count_drop(set.block(1), DropReason::auth_failed, 2);
  CounterTotals t = set.sum();
  EXPECT_EQ(t.port[0].rx_packets, 15u);
  EXPECT_EQ(t.port[0].rx_bytes, 1500u);
  EXPECT_EQ(t.port[1].tx_packets, 7u);
  EXPECT_EQ(t.port[1].rx_packets, 0u);
  EXPECT_EQ(t.drops[static_cast<std::size_t>(DropReason::replay)], 5u);
  EXPECT_EQ(t.drops[static_cast<std::size_t>(DropReason::auth_failed)], 2u);
  EXPECT_EQ(t.drops[static_cast<std::size_t>(DropReason::no_mbuf)], 0u);
  EXPECT_EQ(read_counters(set.block(1)).port[1].tx_bytes, 700u);
}

TEST(Counters, BlocksAreCacheLineAlignedAndDisjoint) {
  CounterSet set(4);
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&set.block(i)) % 64, 0u);
  }
  EXPECT_EQ(sizeof(LcoreCounters) % 64, 0u);
  EXPECT_EQ(alignof(WorkerContext), 64u);
}

}  // namespace
}  // namespace strait::dp

#pragma once
// Per-lcore packet counters. Each worker lcore (and the slow path) owns one LcoreCounters
// block and is its only writer; readers (telemetry, the UAPI, metrics) sum all blocks with
// relaxed loads and may see a block mid-burst, never a torn value (aligned 64-bit accesses).
// No atomics with lock prefix, no sharing of cache lines between writers.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/drop_reason.hpp"
#include "dpdk/port_role.hpp"

namespace strait::dp {

struct PortCounters {
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
};

struct alignas(64) LcoreCounters {
  std::array<PortCounters, kPortRoleCount> port{};
  std::array<std::uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
  std::uint64_t polls = 0;                              // run-loop iterations
  std::uint64_t idle_sleeps = 0;                        // back-off sleeps taken while idle
  std::uint64_t idle_sleep_us = 0;  // idle: slept, or waited on the queues' descriptors
  std::uint64_t idle_waits = 0;     // waits on the queues' descriptors (queue_wakeup.hpp)
};

// The writer side: a relaxed load and store (a plain add on x86-64, no lock prefix), so a
// concurrent reader is not a data race. Only the owning lcore calls these.
inline void counter_add(std::uint64_t& c, std::uint64_t n) {
  __atomic_store_n(&c, __atomic_load_n(&c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
inline void count_drop(LcoreCounters& c, DropReason r, std::uint64_t n = 1) {
  counter_add(c.drops[static_cast<std::size_t>(r)], n);
}
inline void count_rx(LcoreCounters& c, PortRole p, std::uint64_t packets, std::uint64_t bytes) {
  auto& pc = c.port[static_cast<std::size_t>(p)];
  counter_add(pc.rx_packets, packets);
  counter_add(pc.rx_bytes, bytes);
}
inline void count_tx(LcoreCounters& c, PortRole p, std::uint64_t packets, std::uint64_t bytes) {
  auto& pc = c.port[static_cast<std::size_t>(p)];
  counter_add(pc.tx_packets, packets);
  counter_add(pc.tx_bytes, bytes);
}

// A plain (non-aligned) sum of blocks, for readers.
struct CounterTotals {
  std::array<PortCounters, kPortRoleCount> port{};
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::uint64_t polls = 0;
  std::uint64_t idle_sleeps = 0;
  std::uint64_t idle_sleep_us = 0;
  std::uint64_t idle_waits = 0;
};

// Reads one block with relaxed loads (safe while its lcore writes it).
[[nodiscard]] CounterTotals read_counters(const LcoreCounters& c);

// The counter blocks of one straitd: one per worker lcore plus one for the slow path.
// Allocated once before the workers start and never resized, so the blocks' addresses are
// stable for the lcores that hold pointers to them.
class CounterSet {
 public:
  explicit CounterSet(unsigned n_blocks);
  [[nodiscard]] unsigned size() const { return n_; }
  [[nodiscard]] LcoreCounters& block(unsigned i) { return blocks_[i]; }
  [[nodiscard]] const LcoreCounters& block(unsigned i) const { return blocks_[i]; }
  // Sum of every block; any thread.
  [[nodiscard]] CounterTotals sum() const;

 private:
  unsigned n_;
  std::unique_ptr<LcoreCounters[]> blocks_;  // new[] honours alignas(64) since C++17
};

// Registers the DPDK telemetry command "/strait/counters" (once per process; needs the EAL)
// and makes it report the sum of `set` as a dict: "<port>_rx_packets", ..., "polls",
// "idle_sleeps", "idle_sleep_us", "idle_waits", and "drops", a dict by drop reason name. Pass
// nullptr before destroying the set; the command then answers an empty dict. Slow path only.
[[nodiscard]] bool publish_counters_telemetry(const CounterSet* set);

inline constexpr const char* kCountersTelemetryCommand = "/strait/counters";

}  // namespace strait::dp

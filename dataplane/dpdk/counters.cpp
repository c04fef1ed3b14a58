#include "dpdk/counters.hpp"

#include <rte_telemetry.h>

#include <string>

namespace strait::dp {
namespace {

std::uint64_t load(const std::uint64_t& c) { return __atomic_load_n(&c, __ATOMIC_RELAXED); }

void add_into(CounterTotals& t, const LcoreCounters& c) {
  for (std::size_t p = 0; p < kPortRoleCount; ++p) {
    t.port[p].rx_packets += load(c.port[p].rx_packets);
    t.port[p].rx_bytes += load(c.port[p].rx_bytes);
    t.port[p].tx_packets += load(c.port[p].tx_packets);
    t.port[p].tx_bytes += load(c.port[p].tx_bytes);
  }
  for (std::size_t d = 0; d < kDropReasonCount; ++d) t.drops[d] += load(c.drops[d]);
  t.polls += load(c.polls);
  t.idle_sleeps += load(c.idle_sleeps);
  t.idle_sleep_us += load(c.idle_sleep_us);
  t.idle_waits += load(c.idle_waits);
}

// The telemetry thread (DPDK's, not ours) reads the published set under this mutex; the slow
// path swaps it under the same mutex, so a set is never read after it was unpublished.
std::mutex g_telemetry_mutex;
const CounterSet* g_telemetry_set = nullptr;  // guarded by g_telemetry_mutex
bool g_telemetry_registered = false;          // guarded by g_telemetry_mutex

int counters_telemetry(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  std::lock_guard lock(g_telemetry_mutex);
  if (g_telemetry_set == nullptr) return 0;
  CounterTotals t = g_telemetry_set->sum();
  for (std::size_t p = 0; p < kPortRoleCount; ++p) {
    std::string prefix(kPortRoleNames[p]);
    rte_tel_data_add_dict_u64(d, (prefix + "_rx_packets").c_str(), t.port[p].rx_packets);
    rte_tel_data_add_dict_u64(d, (prefix + "_rx_bytes").c_str(), t.port[p].rx_bytes);
    rte_tel_data_add_dict_u64(d, (prefix + "_tx_packets").c_str(), t.port[p].tx_packets);
    rte_tel_data_add_dict_u64(d, (prefix + "_tx_bytes").c_str(), t.port[p].tx_bytes);
  }
  rte_tel_data_add_dict_u64(d, "polls", t.polls);
  rte_tel_data_add_dict_u64(d, "idle_sleeps", t.idle_sleeps);
  rte_tel_data_add_dict_u64(d, "idle_sleep_us", t.idle_sleep_us);
  rte_tel_data_add_dict_u64(d, "idle_waits", t.idle_waits);
  rte_tel_data* drops = rte_tel_data_alloc();
  if (drops == nullptr) return 0;
  rte_tel_data_start_dict(drops);
  // Index 0 is "none", reserved: not a drop.
  for (std::size_t r = 1; r < kDropReasonCount; ++r) {
    rte_tel_data_add_dict_u64(drops, std::string(kDropReasonNames[r]).c_str(), t.drops[r]);
  }
  if (rte_tel_data_add_dict_container(d, "drops", drops, 0) != 0) rte_tel_data_free(drops);
  return 0;
}

}  // namespace

CounterTotals read_counters(const LcoreCounters& c) {
  CounterTotals t;
  add_into(t, c);
  return t;
}

CounterSet::CounterSet(unsigned n_blocks)
    : n_(n_blocks), blocks_(std::make_unique<LcoreCounters[]>(n_blocks)) {}

CounterTotals CounterSet::sum() const {
  CounterTotals t;
  for (unsigned i = 0; i < n_; ++i) add_into(t, blocks_[i]);
  return t;
}

bool publish_counters_telemetry(const CounterSet* set) {
  std::lock_guard lock(g_telemetry_mutex);
  if (!g_telemetry_registered) {
    if (rte_telemetry_register_cmd(kCountersTelemetryCommand, counters_telemetry,
                                   "Returns straitd's packet counters summed over lcores, "
                                   "drops by reason. Takes no parameters") != 0) {
      return false;
    }
    g_telemetry_registered = true;
  }
  g_telemetry_set = set;
  return true;
}

}  // namespace strait::dp

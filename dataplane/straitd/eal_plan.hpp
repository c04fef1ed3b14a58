#pragma once
// What straitd's options mean for DPDK: the EAL's arguments (lcores, memory, file prefix, the
// PCI allow list, log level) and the queues each port is opened with. Pure and DPDK-free like
// options.hpp, so the unit suite checks every argument (tests/unit/straitd_options_test.cpp);
// main.cpp hands the result to dp::EalSession and dp::Port. Main thread only, before anything
// starts.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "straitd/options.hpp"

namespace strait::straitd {

// True for a PCI address, optionally with devargs: "0000:3b:00.1", "3b:00.1,arg=x". Such a
// port goes on the EAL allow list; any other devargs name a vdev.
[[nodiscard]] bool is_pci_address(std::string_view devargs);

// rte_eal_init's argv: program name, -l main,workers, --main-lcore, --file-prefix, memory,
// the allow list for PCI ports or --no-pci, --log-level.
[[nodiscard]] std::vector<std::string> eal_arguments(const Options& o);

// EAL/DPDK log level for our spdlog level name ("info" -> "*:notice", ...).
[[nodiscard]] std::string eal_log_level(std::string_view level);

// The queues straitd asks of each port: one RX queue per worker, and one TX queue per worker
// plus one for the slow path (handshakes, keepalives, staged packets; queue index = workers).
// Drivers whose queues come in RX/TX pairs that all receive (net_tap: one kernel queue per
// pair, and it refuses unequal counts; net_af_packet: one fanout socket per pair, qpairs=;
// net_af_xdp: one socket per NIC queue, queue_count=) get one pair per worker only, since an
// RX queue nobody polls would lose the packets steered to it. The slow path's frames for such
// a port go through a relay ring that worker 0 transmits from.
struct PortQueues {
  std::uint16_t n_rx = 0;
  std::uint16_t n_tx = 0;
  bool slow_path_queue = true;  // false: relay through worker 0
};
[[nodiscard]] PortQueues port_queues(std::size_t workers, std::string_view devargs);
// net_tap, net_tun, net_af_packet, net_af_xdp: see PortQueues.
[[nodiscard]] bool needs_equal_queue_counts(std::string_view devargs);

// The devargs straitd opens a port with: for a net_af_xdp port that does not name a
// busy_budget, busy_budget=0 unless straitd busy-polls. The PMD's default (64) turns on the
// kernel's preferred busy polling, which is for cores that poll without end: it makes every
// empty RX poll a recvfrom system call (about 65 per packet at 18 kpps in perf/e2e.sh), and an
// idle worker waits on the socket anyway (dpdk/queue_wakeup.hpp). Other devargs unchanged.
[[nodiscard]] std::string port_devargs(std::string_view devargs, bool busy_poll);

// Port::open's message, with what straitd needs said in full when a port lacked queues.
[[nodiscard]] std::string explain_port_error(std::string_view message, std::size_t workers);

}  // namespace strait::straitd

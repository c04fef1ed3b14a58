#pragma once
// How an idle worker waits for work instead of sleeping (issue 13): one epoll set over a
// descriptor per RX queue that is readable while the queue holds packets, plus a Doorbell that
// other threads ring when they hand the worker work outside its queues (the relay rings).
//
// Where a queue's descriptor comes from, by PMD (wake_source):
//   net_tap        the PMD's Rx interrupt fd (intr_conf.rxq = 1, PortSpec::rx_interrupts),
//                  which is the queue's tap fd itself: readable while a packet waits
//   net_af_packet  the queue's AF_PACKET socket (PACKET_RX_RING: readable while a frame waits
//                  for user space). The PMD keeps it private; it is found among the process's
//                  own descriptors by the interface it is bound to. With several queues on one
//                  interface the sockets cannot be told apart, so a worker watches all of them
//                  (a wake meant for another worker's queue costs one empty poll).
//   net_af_xdp     the XDP sockets (readable while their RX ring holds a frame). They cannot
//                  say their interface (no getsockname, and this kernel has no XDP socket
//                  diagnostics), so a worker watches every XDP socket of the process: straitd
//                  makes them all for its own ports, and a wake for another queue costs one
//                  empty poll. Opened with busy_budget=0 (eal_plan.hpp af_xdp_devargs): with
//                  the PMD's default every empty RX poll is a recvfrom system call.
//   others         none (net_ring, net_null, PCI devices): the worker keeps the sleeping
//                  back-off (worker.hpp IdleBackoff), and straitd logs why once.
// Every descriptor is level-triggered, so "arm, look once more, then wait" loses no wake-up:
// what arrives after the last look keeps its descriptor readable.
//
// Threads: a QueueWakeup is built by the main thread before its worker launches and then used
// by that worker only; its Doorbell is rung by any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strait::dp {

enum class WakeSource : std::uint8_t { rx_interrupt, packet_socket, xdp_socket, none };

// The wake source of a PMD by its driver name (rte_eth_dev_info::driver_name).
[[nodiscard]] WakeSource wake_source(std::string_view driver_name);

// One socket of this process: its descriptor, family (SO_DOMAIN) and, for AF_PACKET, the
// interface index it is bound to (0 when unbound).
struct ProcessSocket {
  int fd = -1;
  int domain = 0;
  int ifindex = 0;
};

// The process's sockets from /proc/self/fd (AF_PACKET ones with their interface).
[[nodiscard]] std::vector<ProcessSocket> process_sockets();

// The AF_XDP sockets of `sockets`, in fd order.
[[nodiscard]] std::vector<int> xdp_sockets_of(std::span<const ProcessSocket> sockets);

// The AF_PACKET sockets of `sockets` bound to interface `ifindex` (> 0), in fd order.
[[nodiscard]] std::vector<int> packet_sockets_of(std::span<const ProcessSocket> sockets,
                                                 int ifindex);

// An eventfd one thread (the owner) waits on and any thread rings after handing it work. Only
// the first ring after the owner's clear() writes the eventfd; later ones cost a fence and a
// load, so a burst of work costs one write, never one per packet. The owner clears, then looks
// at all its work, then waits on fd(): a ring that came before the clear left work the look
// sees, a ring after it leaves fd() readable (the seq_cst fence and exchange order the two).
class Doorbell {
 public:
  // Throws std::system_error when no eventfd can be made (startup only).
  Doorbell();
  ~Doorbell();
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  [[nodiscard]] int fd() const { return fd_; }

  // Any thread, after the work is visible (e.g. after the ring enqueue).
  void ring() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!rung_.load(std::memory_order_relaxed) &&
        !rung_.exchange(true, std::memory_order_seq_cst)) {
      write_eventfd();
    }
  }
  // The owner, before it looks at its work: reads the eventfd back to zero if it was rung.
  // Returns whether it was.
  bool clear() noexcept;

 private:
  void write_eventfd() noexcept;
  int fd_ = -1;
  alignas(64) std::atomic<bool> rung_{false};
};

// One worker's RX queues (port, queue) made into one epoll set with its doorbell.
class QueueWakeup {
 public:
  struct Queue {
    std::uint16_t port_id = 0;
    std::uint16_t rx_queue = 0;
  };

  // The epoll set for `queues`; `sockets` is process_sockets(), taken once after every port
  // started. An Error names the first queue without a descriptor and why (the caller falls
  // back to the back-off and logs it).
  [[nodiscard]] static Result<std::unique_ptr<QueueWakeup>> create(
      std::span<const Queue> queues, std::span<const ProcessSocket> sockets);
  ~QueueWakeup();
  QueueWakeup(const QueueWakeup&) = delete;
  QueueWakeup& operator=(const QueueWakeup&) = delete;

  // Rung by other threads (the slow path's relay, WorkerGroup::stop).
  [[nodiscard]] Doorbell& doorbell() { return doorbell_; }
  // What the worker waits on, for its log line: "net_tap0 q0 rx interrupt, ..."
  [[nodiscard]] const std::string& summary() const { return summary_; }

  // The worker, before its last poll: clears the doorbell, arms the Rx interrupts.
  void arm() noexcept;
  // The worker, after its last poll found nothing: waits for a descriptor at most
  // `timeout_ms`; true when one was readable.
  bool wait(int timeout_ms) noexcept;
  // The worker, after wait() or when the last poll found work.
  void disarm() noexcept;

 private:
  QueueWakeup() = default;
  int epoll_fd_ = -1;
  std::vector<Queue> interrupt_queues_;  // rte_eth_dev_rx_intr_enable/disable around a wait
  std::string summary_;
  Doorbell doorbell_;
};

}  // namespace strait::dp

#pragma once
// The worker lcore run loop: poll the pipeline, report an RCU quiescent state, wait or back off
// when idle, until told to stop. One WorkerContext per worker lcore, written only by that lcore
// once launched (the stop flag excepted, which the main thread sets).
//
// Threads: workers run on EAL worker lcores (rte_eal_remote_launch). The EAL main lcore is
// never a worker: straitd's slow path runs on it (README.md in this directory says why).

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/port_role.hpp"
#include "dpdk/queue_wakeup.hpp"

namespace strait::dp {

struct WorkerOptions {
  // Dedicated cores: poll without ever sleeping or waiting (lowest latency, 100% of the core).
  bool busy_poll = false;
  // Empty polls in a row before the first sleep or wait. A worker with a QueueWakeup then
  // waits on it (WorkerContext::wakeup); one without sleeps, doubling from sleep_min_us up to
  // sleep_max_us, and any packet resets the back-off.
  std::uint32_t idle_polls_before_sleep = 256;
  std::uint32_t sleep_min_us = 1;
  std::uint32_t sleep_max_us = 1000;
  // The longest wait on a QueueWakeup. Nothing of the worker is due on a timer (its relay
  // rings ring the doorbell, and so does WorkerGroup::stop): this bounds a wake-up lost to a
  // PMD that misbehaves, at one empty poll a second when idle.
  int wait_timeout_ms = 1000;
};

// The adaptive idle back-off, without the sleeping (testable without an lcore).
class IdleBackoff {
 public:
  explicit IdleBackoff(const WorkerOptions& o)
      : threshold_(o.idle_polls_before_sleep),
        min_us_(o.sleep_min_us ? o.sleep_min_us : 1),
        max_us_(o.sleep_max_us < min_us_ ? min_us_ : o.sleep_max_us),
        busy_(o.busy_poll),
        next_us_(min_us_) {}

  // After a poll that handled `packets`: the microseconds to sleep now, 0 to poll at once.
  [[nodiscard]] std::uint32_t after_poll(std::uint32_t packets) {
    if (packets != 0 || busy_) {
      empty_polls_ = 0;
      next_us_ = min_us_;
      return 0;
    }
    if (empty_polls_ < threshold_) {
      ++empty_polls_;
      return 0;
    }
    std::uint32_t us = next_us_;
    next_us_ = next_us_ > max_us_ / 2 ? max_us_ : next_us_ * 2;
    return us;
  }

 private:
  std::uint32_t threshold_;
  std::uint32_t min_us_;
  std::uint32_t max_us_;
  bool busy_;
  std::uint32_t empty_polls_ = 0;
  std::uint32_t next_us_;
};

// The queues one worker polls on one port (its own RX and TX queue, shared with no lcore).
struct WorkerQueues {
  std::uint16_t port_id = 0;
  std::uint16_t rx_queue = 0;
  std::uint16_t tx_queue = 0;
};

struct WorkerContext;

// One poll of the pipeline: RX bursts, process, TX; returns the packets received (0 = idle).
// Called through a pointer once per loop iteration, never per packet.
using PollFn = std::uint32_t (*)(WorkerContext&);

struct alignas(64) WorkerContext {
  unsigned lcore_id = 0;
  unsigned worker_index = 0;  // 0..n_workers-1: its RCU thread id and counter block
  std::array<WorkerQueues, kPortRoleCount> queues{};  // indexed by PortRole
  LcoreCounters* counters = nullptr;  // this lcore's block, never null once launched
  PollFn poll = nullptr;
  void* pipeline = nullptr;                 // the per-lcore pipeline object poll() works on
  rte_rcu_qsbr* rcu = nullptr;              // null: the worker reports no quiescent states
  const std::atomic<bool>* stop = nullptr;  // set by the main thread, read each iteration
  // Non-null: when idle, wait on the queues' descriptors instead of sleeping (busy_poll
  // ignores it). Owned by whoever built the context; used only by this worker once launched.
  QueueWakeup* wakeup = nullptr;
  WorkerOptions options;

  [[nodiscard]] const WorkerQueues& queue(PortRole r) const {
    return queues[static_cast<std::size_t>(r)];
  }
};

// Lowers this thread's timer slack to 1 ns: the default 50 us would stretch every short
// back-off sleep and wait timeout (prctl PR_SET_TIMERSLACK). Called by run_worker_loop.
void tighten_timer_slack() noexcept;

// The loop, for any `poll` callable (the pipeline may instantiate it with its own inlined
// stage instead of going through ctx.poll). Returns when *ctx.stop becomes true.
//
// Idle with a QueueWakeup: arm it, poll once more (what arrives after this look keeps a
// descriptor readable or rings the doorbell), go RCU-offline and wait; back online, disarm.
template <class Poll>
void run_worker_loop(WorkerContext& ctx, Poll&& poll) {
  IdleBackoff backoff(ctx.options);
  const unsigned id = ctx.worker_index;
  QueueWakeup* const wakeup = ctx.options.busy_poll ? nullptr : ctx.wakeup;
  tighten_timer_slack();
  if (ctx.rcu != nullptr) {
    (void)rte_rcu_qsbr_thread_register(ctx.rcu, id);
    rte_rcu_qsbr_thread_online(ctx.rcu, id);
  }
  while (!ctx.stop->load(std::memory_order_relaxed)) {
    std::uint32_t packets = poll(ctx);
    counter_add(ctx.counters->polls, 1);
    // Nothing of the previous iteration's configuration is referenced past this point.
    if (ctx.rcu != nullptr) rte_rcu_qsbr_quiescent(ctx.rcu, id);
    std::uint32_t sleep_us = backoff.after_poll(packets);
    if (sleep_us == 0) continue;
    if (wakeup != nullptr) {
      wakeup->arm();
      packets = poll(ctx);
      counter_add(ctx.counters->polls, 1);
      if (ctx.rcu != nullptr) rte_rcu_qsbr_quiescent(ctx.rcu, id);
      // The stop flag is read after arming: WorkerGroup::stop sets it, then rings.
      if (packets == 0 && !ctx.stop->load(std::memory_order_relaxed)) {
        // Offline while waiting: no grace period waits for an idle worker.
        if (ctx.rcu != nullptr) rte_rcu_qsbr_thread_offline(ctx.rcu, id);
        const std::uint64_t t0 = rte_get_tsc_cycles();
        (void)wakeup->wait(ctx.options.wait_timeout_ms);
        const std::uint64_t waited = rte_get_tsc_cycles() - t0;
        if (ctx.rcu != nullptr) rte_rcu_qsbr_thread_online(ctx.rcu, id);
        counter_add(ctx.counters->idle_waits, 1);
        // Idle time like the back-off's sleeps (the busy ratio of dataplane_metrics).
        counter_add(ctx.counters->idle_sleep_us, waited * 1'000'000 / rte_get_tsc_hz());
      }
      wakeup->disarm();
      (void)backoff.after_poll(packets);
      continue;
    }
    // Offline while asleep: no grace period waits for a sleeping worker.
    if (ctx.rcu != nullptr) rte_rcu_qsbr_thread_offline(ctx.rcu, id);
    rte_delay_us_sleep(sleep_us);
    if (ctx.rcu != nullptr) rte_rcu_qsbr_thread_online(ctx.rcu, id);
    counter_add(ctx.counters->idle_sleeps, 1);
    counter_add(ctx.counters->idle_sleep_us, sleep_us);
  }
  if (ctx.rcu != nullptr) {
    rte_rcu_qsbr_thread_offline(ctx.rcu, id);
    (void)rte_rcu_qsbr_thread_unregister(ctx.rcu, id);
  }
}

// lcore_function_t for rte_eal_remote_launch: runs run_worker_loop(ctx, ctx->poll).
int worker_lcore_main(void* worker_context);

// The EAL worker lcores (the -l list minus the main lcore), in order.
[[nodiscard]] std::vector<unsigned> worker_lcores();

// Launches and stops a set of workers. Owned by the main thread.
class WorkerGroup {
 public:
  // The contexts' stop pointers are set to this group's flag.
  explicit WorkerGroup(std::vector<WorkerContext> contexts);
  ~WorkerGroup();  // stop()
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;

  // Before launch() only: the pipeline fills poll/pipeline here.
  [[nodiscard]] std::span<WorkerContext> contexts() { return contexts_; }
  [[nodiscard]] std::span<const WorkerContext> contexts() const { return contexts_; }

  // rte_eal_remote_launch of every context on its lcore; from the main lcore. On error the
  // ones already launched are stopped again.
  [[nodiscard]] Result<void> launch();
  // Sets the stop flag, rings the waiting workers' doorbells and waits for every launched
  // worker; idempotent.
  void stop();

 private:
  std::vector<WorkerContext> contexts_;
  std::atomic<bool> stop_{false};
  std::vector<unsigned> launched_;
};

}  // namespace strait::dp

#include "dpdk/worker.hpp"

#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <sys/prctl.h>

#include <string>

namespace strait::dp {

void tighten_timer_slack() noexcept { (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); }

int worker_lcore_main(void* worker_context) {
  auto& ctx = *static_cast<WorkerContext*>(worker_context);
  run_worker_loop(ctx, ctx.poll);
  return 0;
}

std::vector<unsigned> worker_lcores() {
  std::vector<unsigned> lcores;
  unsigned lcore = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) { lcores.push_back(lcore); }
  return lcores;
}

WorkerGroup::WorkerGroup(std::vector<WorkerContext> contexts) : contexts_(std::move(contexts)) {
  for (auto& c : contexts_) c.stop = &stop_;
}

WorkerGroup::~WorkerGroup() { stop(); }

Result<void> WorkerGroup::launch() {
  if (rte_lcore_id() != rte_get_main_lcore()) {
    return Error{"workers must be launched from the EAL main lcore"};
  }
  stop_.store(false, std::memory_order_relaxed);
  for (auto& c : contexts_) {
    std::string who =
        "worker " + std::to_string(c.worker_index) + " on lcore " + std::to_string(c.lcore_id);
    if (c.poll == nullptr || c.counters == nullptr) {
      stop();
      return Error{who + ": no poll function or no counter block"};
    }
    if (c.lcore_id == rte_get_main_lcore() || !rte_lcore_is_enabled(c.lcore_id)) {
      stop();
      return Error{who + ": not an EAL worker lcore (check -l / --lcores)"};
    }
    if (int ret = rte_eal_remote_launch(worker_lcore_main, &c, c.lcore_id); ret != 0) {
      stop();
      return Error{who + ": rte_eal_remote_launch: " + rte_strerror(-ret)};
    }
    launched_.push_back(c.lcore_id);
  }
  return {};
}

void WorkerGroup::stop() {
  stop_.store(true, std::memory_order_relaxed);
  for (auto& c : contexts_) {
    if (c.wakeup != nullptr) c.wakeup->doorbell().ring();
  }
  for (unsigned lcore : launched_) (void)rte_eal_wait_lcore(lcore);
  launched_.clear();
}

}  // namespace strait::dp

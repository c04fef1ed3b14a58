#pragma once
// Publication of the forwarding state to the workers (docs/STRAITD.md, "Publishing
// configuration: RCU"): one atomic pointer that workers load once per poll, and a list of
// retired objects (old snapshots, and the per-peer blocks they name) that are freed once every
// worker has reported a quiescent state since they were retired. The grace period is checked
// without blocking (rte_rcu_qsbr_start / rte_rcu_qsbr_check with wait = false), so the slow
// path never stalls on a worker.
//
// Threads: everything here but current() is the slow-path thread's. Workers call current()
// (an acquire load) and must not hold the pointer past their quiescent state report.

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>

#include "pipeline/forwarding_state.hpp"

namespace strait::straitd {

class Publication {
 public:
  // `qsbr` may be null (no workers): retired objects are then freed at once.
  explicit Publication(rte_rcu_qsbr* qsbr) : qsbr_(qsbr) {}
  // Frees everything: the workers must be stopped.
  ~Publication();
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;

  // Workers: the snapshot to use for this poll; null before the first publish().
  [[nodiscard]] const dp::ForwardingState* current() const noexcept {
    return current_.load(std::memory_order_acquire);
  }
  [[nodiscard]] const std::atomic<const dp::ForwardingState*>& pointer() const { return current_; }

  // Makes `next` current (release store) and retires the previous snapshot.
  void publish(std::unique_ptr<const dp::ForwardingState> next);
  // Keeps `object` alive until every worker has passed a quiescent state after this call.
  void retire(std::shared_ptr<const void> object);
  // Frees what is past its grace period; never blocks. Returns how many are still waiting.
  std::size_t reclaim();
  [[nodiscard]] std::size_t waiting() const { return retired_.size(); }

 private:
  struct Retired {
    std::uint64_t token;
    std::shared_ptr<const void> object;
  };
  rte_rcu_qsbr* qsbr_;
  std::atomic<const dp::ForwardingState*> current_{nullptr};
  std::unique_ptr<const dp::ForwardingState> owned_;  // what current_ points to
  std::deque<Retired> retired_;                       // tokens in increasing order
};

}  // namespace strait::straitd

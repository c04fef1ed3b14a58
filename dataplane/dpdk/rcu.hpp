#pragma once
// RcuDomain: the quiescent-state tracker through which the slow path publishes configuration
// to the worker lcores (DESIGN.md section 4): the slow path swaps a pointer and retires the
// old object, which is freed once every worker has reported a quiescent state since; the
// grace period is polled, never waited for (straitd/publication.hpp). Workers report a
// quiescent state once per loop iteration and go offline while they sleep (worker.hpp), so a
// sleeping worker holds no grace period open. Created by the main thread before the workers
// start.

#include <rte_rcu_qsbr.h>

#include <memory>

#include "base/result.hpp"

namespace strait::dp {

class RcuDomain {
 public:
  // Room for `max_threads` reporting threads, with ids 0..max_threads-1 (one per worker).
  [[nodiscard]] static Result<std::unique_ptr<RcuDomain>> create(unsigned max_threads);
  ~RcuDomain();
  RcuDomain(const RcuDomain&) = delete;
  RcuDomain& operator=(const RcuDomain&) = delete;

  [[nodiscard]] rte_rcu_qsbr* qsbr() const { return v_; }
  [[nodiscard]] unsigned max_threads() const { return max_threads_; }

  // Returns once every registered, online thread has passed a quiescent state after the call.
  // Called by a thread that does not report itself. Blocks, so the slow path never calls it
  // (it polls, publication.hpp); tests use it to prove a grace period ends.
  void synchronize() const;

 private:
  RcuDomain() = default;
  rte_rcu_qsbr* v_ = nullptr;
  unsigned max_threads_ = 0;
};

}  // namespace strait::dp

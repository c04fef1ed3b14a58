#include "straitd/publication.hpp"

namespace strait::straitd {

Publication::~Publication() {
  current_.store(nullptr, std::memory_order_relaxed);
  retired_.clear();
  owned_.reset();
}

void Publication::publish(std::unique_ptr<const dp::ForwardingState> next) {
  current_.store(next.get(), std::memory_order_release);
  std::unique_ptr<const dp::ForwardingState> previous = std::move(owned_);
  owned_ = std::move(next);
  if (previous) retire(std::shared_ptr<const void>(std::move(previous)));
}

void Publication::retire(std::shared_ptr<const void> object) {
  if (qsbr_ == nullptr) return;  // no reader: `object` dies here
  // The token is taken after the pointer store above: a worker that reports a quiescent state
  // with a counter at or past it has finished the poll that could have seen the old pointer.
  retired_.push_back({rte_rcu_qsbr_start(qsbr_), std::move(object)});
}

std::size_t Publication::reclaim() {
  while (!retired_.empty() && rte_rcu_qsbr_check(qsbr_, retired_.front().token, false) == 1) {
    retired_.pop_front();
  }
  return retired_.size();
}

}  // namespace strait::straitd

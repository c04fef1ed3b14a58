#include "dpdk/rcu.hpp"

#include <rte_errno.h>
#include <rte_malloc.h>

#include <string>

namespace strait::dp {

Result<std::unique_ptr<RcuDomain>> RcuDomain::create(unsigned max_threads) {
  if (max_threads == 0) return Error{"RCU domain for 0 threads"};
  std::size_t size = rte_rcu_qsbr_get_memsize(max_threads);
  std::unique_ptr<RcuDomain> d(new RcuDomain());
  d->max_threads_ = max_threads;
  d->v_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("strait_rcu", size, RTE_CACHE_LINE_SIZE));
  if (d->v_ == nullptr) {
    return Error{"cannot allocate the RCU variable (" + std::to_string(size) +
                 " bytes of hugepage memory)"};
  }
  if (rte_rcu_qsbr_init(d->v_, max_threads) != 0) {
    return Error{std::string("rte_rcu_qsbr_init: ") + rte_strerror(rte_errno)};
  }
  return d;
}

RcuDomain::~RcuDomain() { rte_free(v_); }

void RcuDomain::synchronize() const { rte_rcu_qsbr_synchronize(v_, RTE_QSBR_THRID_INVALID); }

}  // namespace strait::dp

#pragma once
// A std::allocator for large lookup tables: blocks of 2 MiB and more are aligned to 2 MiB and
// marked MADV_HUGEPAGE, so that with transparent huge pages in "madvise" mode (Debian's
// default) the kernel backs them with huge pages. A table of tens of MiB read at random (the
// allowed-IPs trie at a million routes) otherwise costs a TLB miss per access on top of the
// cache miss, and in a virtual machine each TLB miss is a two-level page walk
// (perf/ALLOWED_IPS.md, "Huge pages"). Smaller blocks come from operator new as usual. Where
// the kernel has no THP, madvise fails and the block is simply used with small pages.
//
// Stateless: any two instances are interchangeable, so containers using it copy and move as
// with std::allocator.

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace strait {

template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;

  HugePageAllocator() noexcept = default;
  template <class U>
  explicit HugePageAllocator(const HugePageAllocator<U>& /*other*/) noexcept {}

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePage)
      return static_cast<T*>(::operator new (bytes, std::align_val_t{alignof(T)}));
    const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
    (void)::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: without THP, small pages
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < kHugePage) {
      ::operator delete (p, std::align_val_t{alignof(T)});
    } else {
      std::free(p);
    }
  }

  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) noexcept {
    return true;
  }
};

}  // namespace strait

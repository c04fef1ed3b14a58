// HugePageAllocator: large blocks start on a 2 MiB boundary (what lets the kernel back them
// with huge pages), small ones are ordinary, and containers copy and move as usual.

#include "base/huge_page_allocator.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace strait {
namespace {

using Vec = std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>>;
constexpr std::size_t kHuge = HugePageAllocator<std::uint64_t>::kHugePage;

TEST(HugePageAllocator, LargeBlocksAreHugePageAligned) {
  Vec big(kHuge / sizeof(std::uint64_t) * 3 + 5);  // 6 MiB and a bit
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(big.data()) % kHuge, 0U);
  std::iota(big.begin(), big.end(), 0U);  // every byte of the rounded-up block is usable
  EXPECT_EQ(big.back(), big.size() - 1);
}

TEST(HugePageAllocator, SmallBlocksAndCopies) {
  Vec small(10, 7);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.data()) % alignof(std::uint64_t), 0U);
  Vec big(kHuge / sizeof(std::uint64_t) + 1, 3);
  const Vec copy = big;  // an independent block
  EXPECT_NE(copy.data(), big.data());
  EXPECT_EQ(copy, big);
  big.assign(4, 1);  // shrinks below a huge page: the block kind changes under the vector
  big.shrink_to_fit();
  EXPECT_EQ(big, Vec(4, 1));
  Vec moved = std::move(small);
  EXPECT_EQ(moved, Vec(10, 7));
}

}  // namespace
}  // namespace strait

// PeerIndex: allocation uniqueness, lookups, misses, replacement, removal, a full table.

#include "core/peer_index.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace strait::wg {
namespace {

IndexEntry handshake_of(PeerId peer) { return {IndexKind::handshake, peer, nullptr}; }

Keypair* fake_keypair(std::uintptr_t n) {
  // Never dereferenced: the table stores the pointer only.
  return reinterpret_cast<Keypair*>(n * 64);  // NOLINT
}

TEST(PeerIndex, CapacityIsAPowerOfTwo) {
  EXPECT_EQ(PeerIndex(1000).capacity(), 1024U);
  EXPECT_EQ(PeerIndex(1024).capacity(), 1024U);
  EXPECT_EQ(PeerIndex(0).capacity(), 2U);
  EXPECT_EQ(PeerIndex(std::size_t{1} << 40).capacity(), PeerIndex::kMaxCapacity);
}

TEST(PeerIndex, AllocatedIndicesAreUniqueNonZeroAndFindable) {
  constexpr std::size_t kEntries = 60000;
  PeerIndex table(1 << 16);
  std::mt19937 rng(1);
  std::unordered_map<std::uint32_t, PeerId> given;
  for (std::size_t i = 0; i < kEntries; ++i) {
    const auto peer = static_cast<PeerId>(i);
    const auto index = table.allocate(handshake_of(peer), rng);
    ASSERT_TRUE(index.has_value()) << i;
    ASSERT_NE(*index, 0U);
    ASSERT_TRUE(given.emplace(*index, peer).second) << "index handed out twice: " << *index;
  }
  EXPECT_EQ(table.size(), kEntries);
  for (const auto& [index, peer] : given) {
    const IndexEntry* e = table.lookup(index);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(*e, handshake_of(peer));
  }
  // The indices are spread over the whole 32-bit space, not just the slot bits.
  std::uint32_t high_bits_seen = 0;
  for (const auto& entry : given) high_bits_seen |= entry.first;
  EXPECT_EQ(high_bits_seen, UINT32_MAX);
}

TEST(PeerIndex, LookupMisses) {
  PeerIndex table(256);
  std::mt19937 rng(2);
  std::unordered_set<std::uint32_t> given;
  for (int i = 0; i < 100; ++i) given.insert(*table.allocate(handshake_of(1), rng));
  EXPECT_EQ(table.lookup(0), nullptr);
  for (std::uint32_t index : given) {
    // Same slot, different index: a miss, not the neighbour's entry.
    EXPECT_EQ(table.lookup(index ^ 0x80000000U), nullptr);
    EXPECT_EQ(table.lookup(index + 256), nullptr);
  }
  std::mt19937 probe(3);
  int misses = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::uint32_t index = probe();
    if (given.count(index) == 0) {
      EXPECT_EQ(table.lookup(index), nullptr) << index;
      ++misses;
    }
  }
  EXPECT_GT(misses, 99000);
}

TEST(PeerIndex, ReplaceAndRemove) {
  PeerIndex table(64);
  std::mt19937 rng(4);
  const std::uint32_t i1 = *table.allocate(handshake_of(7), rng);
  const std::uint32_t i2 = *table.allocate(handshake_of(8), rng);
  ASSERT_NE(i1, i2);

  // The handshake completed: its index now names the keypair.
  const IndexEntry session{IndexKind::keypair, 7, fake_keypair(1)};
  EXPECT_TRUE(table.replace(i1, session));
  EXPECT_EQ(*table.lookup(i1), session);
  EXPECT_EQ(*table.lookup(i2), handshake_of(8));
  EXPECT_FALSE(table.replace(i1 ^ 0x10000000U, session));
  EXPECT_FALSE(table.replace(0, session));
  EXPECT_EQ(table.size(), 2U);

  EXPECT_TRUE(table.remove(i1));
  EXPECT_EQ(table.lookup(i1), nullptr);
  EXPECT_FALSE(table.remove(i1));
  EXPECT_FALSE(table.replace(i1, session));
  EXPECT_FALSE(table.remove(i2 ^ 0x10000000U));  // same slot, other index: untouched
  EXPECT_EQ(*table.lookup(i2), handshake_of(8));
  EXPECT_EQ(table.size(), 1U);

  // A given index can be registered again once free.
  EXPECT_TRUE(table.insert(i1, session));
  EXPECT_FALSE(table.insert(i1, session));
  EXPECT_FALSE(table.insert(0, session));
  EXPECT_EQ(*table.lookup(i1), session);
  EXPECT_EQ(table.size(), 2U);

  table.clear();
  EXPECT_EQ(table.size(), 0U);
  EXPECT_EQ(table.lookup(i2), nullptr);
}

TEST(PeerIndex, CopiesAreIndependent) {
  PeerIndex published(64);
  std::mt19937 rng(5);
  const std::uint32_t i1 = *published.allocate(handshake_of(1), rng);
  PeerIndex next = published;
  EXPECT_TRUE(next.replace(i1, {IndexKind::keypair, 1, fake_keypair(2)}));
  const std::uint32_t i2 = *next.allocate(handshake_of(2), rng);
  EXPECT_EQ(*published.lookup(i1), handshake_of(1));
  EXPECT_EQ(published.lookup(i2), nullptr);
  EXPECT_EQ(next.lookup(i1)->kind, IndexKind::keypair);
}

// Filling every slot works (the last ones through the scan), and one more is an error, not a
// hang; freeing one slot makes room again.
TEST(PeerIndex, FullTable) {
  PeerIndex table(1024);
  std::mt19937 rng(6);
  std::unordered_set<std::uint32_t> given;
  for (std::size_t i = 0; i < table.capacity(); ++i) {
    const auto index = table.allocate(handshake_of(static_cast<PeerId>(i)), rng);
    ASSERT_TRUE(index.has_value()) << i;
    ASSERT_TRUE(given.insert(*index).second);
  }
  EXPECT_EQ(table.size(), table.capacity());
  EXPECT_FALSE(table.allocate(handshake_of(0), rng).has_value());
  const std::uint32_t freed = *given.begin();
  ASSERT_TRUE(table.remove(freed));
  const auto again = table.allocate(handshake_of(9), rng);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again & (table.capacity() - 1), freed & (table.capacity() - 1));
  EXPECT_EQ(*table.lookup(*again), handshake_of(9));
}

// A broken random source (always the same value, or always zero) still yields distinct
// non-zero indices until the table is full, and then an error.
TEST(PeerIndex, DegenerateRandomnessNeverHangsOrRepeats) {
  for (std::uint32_t constant : {0U, 5U, UINT32_MAX}) {
    PeerIndex table(16);
    auto rng = [constant] { return constant; };
    std::unordered_set<std::uint32_t> given;
    for (std::size_t i = 0; i < table.capacity(); ++i) {
      const auto index = table.allocate(handshake_of(1), rng);
      ASSERT_TRUE(index.has_value()) << constant << " " << i;
      EXPECT_NE(*index, 0U);
      EXPECT_TRUE(given.insert(*index).second) << constant << " " << *index;
      EXPECT_NE(table.lookup(*index), nullptr);
    }
    EXPECT_FALSE(table.allocate(handshake_of(1), rng).has_value());
  }
}

}  // namespace
}  // namespace strait::wg

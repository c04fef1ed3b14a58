// The Device's PeerTable: ids (the lowest free one first, which straitd's slow path relies
// on), lookups by id and by key after peers come and go, insertion order, and a routing table
// that is rebuilt fresh, never edited, so a published snapshot keeps the one it holds.

#include "device/peer_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/packet_builder.hpp"
#include "common/test_keys.hpp"
#include "device/crypto_setup.hpp"

namespace strait::wg {
namespace {

using test::private_key_from;

Key public_key_from(std::uint8_t seed) {
  return StaticIdentity::from_private(private_key_from(seed)).public_key;
}

class PeerTableTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto_ready()); }

  // Adds the peer made from `seed` and returns its id.
  PeerId add(std::uint8_t seed) { return table_.add(public_key_from(seed), local_).id; }

  std::vector<PeerId> ids_in_order() const {
    std::vector<PeerId> ids;
    table_.for_each([&](const Peer& p) { ids.push_back(p.id); });
    return ids;
  }

  StaticIdentity local_ = StaticIdentity::from_private(private_key_from(100));
  PeerTable table_{4, [] { return std::uint64_t{0}; }};
};

TEST_F(PeerTableTest, IdsCountUpFromZero) {
  EXPECT_TRUE(table_.empty());
  EXPECT_EQ(table_.newest(), nullptr);
  for (std::uint8_t seed = 1; seed <= 4; ++seed) EXPECT_EQ(add(seed), PeerId{seed - 1u});
  EXPECT_EQ(table_.count(), 4u);
  EXPECT_EQ(ids_in_order(), (std::vector<PeerId>{0, 1, 2, 3}));
  const Peer* p = table_.find(PeerId{2});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->public_key, public_key_from(3));
  EXPECT_EQ(p->staged.capacity(), 4u);
}

TEST_F(PeerTableTest, RemovedIdsAreReusedLowestFirst) {
  for (std::uint8_t seed = 1; seed <= 5; ++seed) add(seed);  // ids 0..4
  // Freed out of order: 3 before 1.
  ASSERT_TRUE(table_.erase(3));
  ASSERT_TRUE(table_.erase(1));
  EXPECT_EQ(add(10), PeerId{1});
  EXPECT_EQ(add(11), PeerId{3});
  EXPECT_EQ(add(12), PeerId{5});  // no free id left: a new one
  // A reused id goes last in insertion order, wherever its number falls.
  EXPECT_EQ(ids_in_order(), (std::vector<PeerId>{0, 2, 4, 1, 3, 5}));
  ASSERT_NE(table_.newest(), nullptr);
  EXPECT_EQ(table_.newest()->id, PeerId{5});
}

TEST_F(PeerTableTest, AnErasedPeerIsFoundNoMore) {
  const PeerId a = add(1);
  const PeerId b = add(2);
  ASSERT_TRUE(table_.erase(a));
  EXPECT_EQ(table_.find(a), nullptr);
  EXPECT_EQ(table_.find(public_key_from(1)), nullptr);
  EXPECT_EQ(table_.id_of(public_key_from(1)), std::nullopt);
  EXPECT_FALSE(table_.erase(a));
  EXPECT_EQ(table_.count(), 1u);
  // The other peer is untouched.
  ASSERT_NE(table_.find(b), nullptr);
  EXPECT_EQ(table_.find(public_key_from(2)), table_.find(b));
  EXPECT_EQ(table_.id_of(public_key_from(2)), b);
  // Ids never given out are not found either.
  EXPECT_EQ(table_.find(PeerId{1000}), nullptr);
  EXPECT_FALSE(table_.erase(PeerId{1000}));
  // The key can come back, under the freed id.
  EXPECT_EQ(add(1), a);
  EXPECT_EQ(table_.id_of(public_key_from(1)), a);
}

TEST_F(PeerTableTest, NewestWalksBackThroughInsertionOrder) {
  for (std::uint8_t seed = 1; seed <= 3; ++seed) add(seed);
  std::vector<PeerId> erased;
  while (Peer* newest = table_.newest()) {
    erased.push_back(newest->id);
    ASSERT_TRUE(table_.erase(newest->id));
  }
  EXPECT_EQ(erased, (std::vector<PeerId>{2, 1, 0}));
  EXPECT_TRUE(table_.empty());
}

TEST_F(PeerTableTest, RoutesAreRebuiltFreshAndOnlyOnRequest) {
  const auto v4 = test::parse_ipv4("10.1.2.3");
  const auto v6 = test::parse_ipv6("fd00::7");
  const std::shared_ptr<const AllowedIps> empty = table_.routes();
  ASSERT_NE(empty, nullptr);

  Peer& a = table_.add(public_key_from(1), local_);
  Peer& b = table_.add(public_key_from(2), local_);
  a.allowed_ips.push_back(*IpPrefix::parse("10.1.0.0/16"));
  b.allowed_ips.push_back(*IpPrefix::parse("10.1.2.0/24"));
  b.allowed_ips.push_back(*IpPrefix::parse("fd00::/64"));
  // Nothing changes until the table is rebuilt.
  EXPECT_EQ(table_.routes(), empty);
  EXPECT_EQ(table_.routes()->lookup_v4(v4.data()), std::nullopt);

  table_.rebuild_routes();
  const std::shared_ptr<const AllowedIps> first = table_.routes();
  EXPECT_NE(first, empty);
  EXPECT_EQ(first->lookup_v4(v4.data()), b.id);  // the longest prefix wins
  EXPECT_EQ(first->lookup_v6(v6.data()), b.id);
  EXPECT_EQ(empty->lookup_v4(v4.data()), std::nullopt);  // the old table is as it was

  const PeerId b_id = b.id;
  ASSERT_TRUE(table_.erase(b_id));
  table_.rebuild_routes();
  const std::shared_ptr<const AllowedIps> second = table_.routes();
  EXPECT_NE(second, first);
  EXPECT_EQ(second->lookup_v4(v4.data()), a.id);
  EXPECT_EQ(second->lookup_v6(v6.data()), std::nullopt);
  // A snapshot holding the first table still routes as it did.
  EXPECT_EQ(first->lookup_v4(v4.data()), b_id);
  EXPECT_EQ(first->lookup_v6(v6.data()), b_id);
}

}  // namespace
}  // namespace strait::wg

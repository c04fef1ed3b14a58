// The slow path's next-hop MAC cache (dataplane/straitd/neighbour_cache.hpp) with a fake
// resolver that counts the kernel round trips: bounded size, least-recently-used eviction,
// idle expiry, refresh and solicitation pacing.
#include "straitd/neighbour_cache.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace strait::straitd {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;

dp::IpAddr16 addr(std::uint32_t n) {
  const std::uint8_t v4[4] = {10, static_cast<std::uint8_t>(n >> 16),
                              static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
  return dp::ipv4_mapped(v4);
}

struct FakeKernel {
  std::map<dp::IpAddr16, dp::MacAddr> known;
  int lookups = 0;
  int solicits = 0;
  NeighbourCache::Resolver resolver() {
    return {[this](const dp::IpAddr16& a) -> std::optional<dp::MacAddr> {
              ++lookups;
              auto it = known.find(a);
              if (it == known.end()) return std::nullopt;
              return it->second;
            },
            [this](const dp::IpAddr16&, std::uint16_t) { ++solicits; }};
  }
};

const dp::MacAddr kMacA{2, 0, 0, 0, 0, 0xa};
const dp::MacAddr kMacB{2, 0, 0, 0, 0, 0xb};

TEST(NeighbourCacheTest, CachesRefreshesAndReportsChanges) {
  FakeKernel k;
  NeighbourCache c(k.resolver());
  k.known[addr(1)] = kMacA;
  auto a = c.resolve(addr(1), 51820, 0);
  EXPECT_EQ(a.mac, kMacA);
  EXPECT_TRUE(a.changed);
  EXPECT_EQ(c.resolve(addr(1), 51820, kSec).mac, kMacA);
  EXPECT_EQ(k.lookups, 1) << "a fresh entry costs no round trip";
  k.known[addr(1)] = kMacB;
  a = c.resolve(addr(1), 51820, NeighbourCache::kRefreshNs);
  EXPECT_EQ(k.lookups, 2) << "read again after kRefreshNs";
  EXPECT_EQ(a.mac, kMacB);
  EXPECT_TRUE(a.changed);
}

TEST(NeighbourCacheTest, UnknownDestinationIsSolicitedAtAPace) {
  FakeKernel k;
  NeighbourCache c(k.resolver());
  EXPECT_FALSE(c.resolve(addr(2), 51820, 0).mac);
  EXPECT_EQ(k.solicits, 1);
  EXPECT_FALSE(c.resolve(addr(2), 51820, NeighbourCache::kRetryNs - 1).mac);
  EXPECT_EQ(k.lookups, 1) << "asked again only after kRetryNs";
  EXPECT_FALSE(c.resolve(addr(2), 51820, NeighbourCache::kRetryNs).mac);
  EXPECT_EQ(k.lookups, 2);
  EXPECT_EQ(k.solicits, 1) << "solicited at most once a second";
  k.known[addr(2)] = kMacA;
  EXPECT_EQ(c.resolve(addr(2), 51820, 2 * NeighbourCache::kRetryNs).mac, kMacA);
  k.known.erase(addr(2));
  EXPECT_EQ(
      c.resolve(addr(2), 51820, 2 * NeighbourCache::kRetryNs + NeighbourCache::kRefreshNs).mac,
      kMacA)
      << "the last known MAC stays until the kernel knows better";
}

TEST(NeighbourCacheTest, SizeIsBoundedAndTheLeastRecentlyUsedGoes) {
  FakeKernel k;
  NeighbourCache c(k.resolver(), 4);
  for (std::uint32_t i = 0; i < 4; ++i) {
    k.known[addr(i)] = kMacA;
    (void)c.resolve(addr(i), 51820, i);
  }
  (void)c.resolve(addr(0), 51820, 10);  // 0 is now the most recently used; 1 the least
  (void)c.resolve(addr(100), 51820, 11);
  EXPECT_EQ(c.size(), 4u);
  int before = k.lookups;
  (void)c.resolve(addr(0), 51820, 12);
  EXPECT_EQ(k.lookups, before) << "the recently used entry stayed";
  (void)c.resolve(addr(1), 51820, 13);
  EXPECT_EQ(k.lookups, before + 1) << "the least recently used entry went";
  for (std::uint32_t i = 1000; i < 11'000; ++i) (void)c.resolve(addr(i), 51820, i);
  EXPECT_EQ(c.size(), 4u);
}

TEST(NeighbourCacheTest, IdleEntriesExpire) {
  FakeKernel k;
  NeighbourCache c(k.resolver());
  k.known[addr(1)] = kMacA;
  (void)c.resolve(addr(1), 51820, 0);
  (void)c.resolve(addr(2), 51820, 0);
  (void)c.resolve(addr(1), 51820, NeighbourCache::kIdleNs - 1);  // 1 used again, 2 idle
  c.expire(NeighbourCache::kIdleNs);
  EXPECT_EQ(c.size(), 1u);
  c.expire(2 * NeighbourCache::kIdleNs);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace strait::straitd

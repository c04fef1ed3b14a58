// AllowedIps: a numbered case table in the manner of the Linux module's allowedips selftest,
// and a differential test against a naive reference (a list of prefixes, linear LPM).

#include "core/allowed_ips.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace strait::wg {
namespace {

// "10.0.0.0/8", "fd00::/64", or a bare address (length 32 or 128).
IpPrefix parse(const std::string& text) {
  IpPrefix p;
  const auto slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  if (addr.find(':') != std::string::npos) {
    p.family = IpFamily::v6;
    EXPECT_EQ(inet_pton(AF_INET6, addr.c_str(), p.addr.data()), 1) << text;
    p.len = 128;
  } else {
    p.family = IpFamily::v4;
    EXPECT_EQ(inet_pton(AF_INET, addr.c_str(), p.addr.data()), 1) << text;
    p.len = 32;
  }
  if (slash != std::string::npos) {
    p.len = static_cast<std::uint8_t>(std::stoi(text.substr(slash + 1)));
  }
  return p;
}

std::optional<PeerId> lookup(const AllowedIps& t, const std::string& addr) {
  const IpPrefix p = parse(addr);
  return p.family == IpFamily::v4 ? t.lookup_v4(p.addr.data()) : t.lookup_v6(p.addr.data());
}

// The bulk lookup of `addrs` (one family) agrees with one lookup per address.
void expect_bulk_agrees(const AllowedIps& t, IpFamily family,
                        const std::vector<std::array<std::uint8_t, 16>>& addrs) {
  ASSERT_LE(addrs.size(), AllowedIps::kMaxBulk);
  const auto n = static_cast<unsigned>(addrs.size());
  std::array<PeerId, AllowedIps::kMaxBulk> peers{};
  std::uint64_t found = 0;
  if (family == IpFamily::v4) {
    std::array<std::uint32_t, AllowedIps::kMaxBulk> keys{};
    for (unsigned i = 0; i < n; ++i) keys[i] = AllowedIps::load_v4(addrs[i].data());
    found = t.lookup_v4_bulk(keys.data(), n, peers.data());
  } else {
    std::array<detail::Uint128, AllowedIps::kMaxBulk> keys{};
    for (unsigned i = 0; i < n; ++i) keys[i] = AllowedIps::load_v6(addrs[i].data());
    found = t.lookup_v6_bulk(keys.data(), n, peers.data());
  }
  for (unsigned i = 0; i < n; ++i) {
    const auto one =
        family == IpFamily::v4 ? t.lookup_v4(addrs[i].data()) : t.lookup_v6(addrs[i].data());
    const auto bulk = (found >> i & 1U) != 0 ? std::optional<PeerId>(peers[i]) : std::nullopt;
    ASSERT_EQ(bulk, one) << "lane " << i << " of " << n;
  }
  EXPECT_EQ(n == 64 ? 0 : found >> n, 0U) << "bits set past the last lane";
}

constexpr PeerId kNone = 0;  // the tables below use peers 1.., 0 means "no match"

struct Step {
  enum Op { kInsert, kRemove, kRemovePeer, kLookup } op;
  std::string text;  // prefix for insert/remove, address for lookup, unused for remove-peer
  PeerId peer;       // insert: the peer; lookup: expected (kNone: no match); remove-peer
};

void run(AllowedIps& t, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    SCOPED_TRACE("case " + std::to_string(i + 1) + ": " + s.text);
    switch (s.op) {
      case Step::kInsert: ASSERT_EQ(t.insert(parse(s.text), s.peer), AllowedIpsError::none); break;
      case Step::kRemove: ASSERT_EQ(t.remove(parse(s.text)), AllowedIpsError::none); break;
      case Step::kRemovePeer: ASSERT_GT(t.remove_peer(s.peer), 0U); break;
      case Step::kLookup: {
        const auto got = lookup(t, s.text);
        if (s.peer == kNone) {
          EXPECT_FALSE(got.has_value()) << "got peer " << got.value_or(0);
        } else {
          EXPECT_EQ(got, std::optional<PeerId>(s.peer));
        }
        break;
      }
    }
  }
}

constexpr PeerId a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;

TEST(AllowedIps, NumberedCases) {
  AllowedIps t;
  run(t, {
             /*  1 */ {Step::kLookup, "192.168.4.20", kNone},  // empty table
             /*  2 */ {Step::kInsert, "192.168.4.0/24", a},
             /*  3 */ {Step::kInsert, "192.168.4.4/32", b},  // host route inside a's /24
             /*  4 */ {Step::kInsert, "192.168.0.0/16", c},  // covering a's /24
             /*  5 */ {Step::kInsert, "192.95.5.64/27", d},
             /*  6 */ {Step::kInsert, "192.95.5.65/27", c},  // same prefix, host bits set: moves
             /*  7 */ {Step::kInsert, "2607:5300:60:6b00::/56", d},
             /*  8 */ {Step::kInsert, "2607:5300:60:6b00::c05f:543/128", e},
             /*  9 */ {Step::kInsert, "2001:db8::/32", f},
             /* 10 */ {Step::kInsert, "10.0.0.0/8", g},
             /* 11 */ {Step::kInsert, "10.1.0.0/16", h},
             /* 12 */ {Step::kInsert, "10.1.0.0/17", g},  // divergence inside h's /16
             /* 13 */ {Step::kLookup, "192.168.4.20", a},
             /* 14 */ {Step::kLookup, "192.168.4.0", a},
             /* 15 */ {Step::kLookup, "192.168.4.4", b},
             /* 16 */ {Step::kLookup, "192.168.4.5", a},
             /* 17 */ {Step::kLookup, "192.168.200.182", c},
             /* 18 */ {Step::kLookup, "192.95.5.68", c},      // the /27 moved to c
             /* 19 */ {Step::kLookup, "192.95.5.96", kNone},  // just past the /27
             /* 20 */ {Step::kLookup, "192.95.5.63", kNone},  // just before it
             /* 21 */ {Step::kLookup, "2607:5300:60:6b00::c05f:543", e},
             /* 22 */ {Step::kLookup, "2607:5300:60:6b00::c05f:544", d},
             /* 23 */ {Step::kLookup, "2607:5300:60:6bff:ffff:ffff:ffff:ffff", d},
             /* 24 */ {Step::kLookup, "2607:5300:60:6c00::", kNone},
             /* 25 */ {Step::kLookup, "2001:db8:ffff::1", f},
             /* 26 */ {Step::kLookup, "10.1.127.255", g},  // /17
             /* 27 */ {Step::kLookup, "10.1.128.0", h},    // /16 outside the /17
             /* 28 */ {Step::kLookup, "10.2.0.1", g},      // /8
             /* 29 */ {Step::kLookup, "11.0.0.0", kNone},
             /* 30 */ {Step::kInsert, "0.0.0.0/0", e},  // IPv4 default route
             /* 31 */ {Step::kLookup, "11.0.0.0", e},
             /* 32 */ {Step::kLookup, "192.95.5.96", e},
             /* 33 */ {Step::kLookup, "255.255.255.255", e},
             /* 34 */ {Step::kLookup, "192.168.4.4", b},  // more specific still wins
             /* 35 */ {Step::kLookup, "::1", kNone},      // the v4 default is not a v6 one
             /* 36 */ {Step::kInsert, "::/0", h},
             /* 37 */ {Step::kLookup, "::1", h},
             /* 38 */ {Step::kLookup, "::ffff:10.1.0.1", h},  // v4-mapped stays in the v6 table
             /* 39 */ {Step::kRemove, "192.168.4.4/32", 0},   // more specific removed ...
             /* 40 */ {Step::kLookup, "192.168.4.4", a},      // ... falls back to the /24
             /* 41 */ {Step::kRemove, "192.168.4.0/24", 0},
             /* 42 */ {Step::kLookup, "192.168.4.4", c},  // ... then to the /16
             /* 43 */ {Step::kRemove, "10.1.0.0/16", 0},  // a branch point's parent
             /* 44 */ {Step::kLookup, "10.1.127.255", g},
             /* 45 */ {Step::kLookup, "10.1.128.0", g},
             /* 46 */ {Step::kRemovePeer, "", c},  // c's /16 and /27
             /* 47 */ {Step::kLookup, "192.168.4.4", e},
             /* 48 */ {Step::kLookup, "192.95.5.68", e},
             /* 49 */ {Step::kRemove, "0.0.0.0/0", 0},
             /* 50 */ {Step::kLookup, "192.168.4.4", kNone},
             /* 51 */ {Step::kLookup, "10.2.0.1", g},
             /* 52 */ {Step::kRemovePeer, "", d},  // only its v6 /56 is left
             /* 53 */ {Step::kLookup, "2607:5300:60:6b00::c05f:544", h},
             /* 54 */ {Step::kLookup, "2607:5300:60:6b00::c05f:543", e},
             /* 55 */ {Step::kInsert, "2607:5300:60:6b00::c05f:543/128", a},  // host route moves
             /* 56 */ {Step::kLookup, "2607:5300:60:6b00::c05f:543", a},
             /* 57 */ {Step::kInsert, "255.255.255.255/32", b},
             /* 58 */ {Step::kLookup, "255.255.255.255", b},
             /* 59 */ {Step::kLookup, "255.255.255.254", kNone},
             /* 60 */ {Step::kInsert, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", c},
             /* 61 */ {Step::kLookup, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", c},
             /* 62 */ {Step::kLookup, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", h},
         });
  // Left: v4 10/8 and 10.1/17 (g), 255.255.255.255/32 (b); v6 ::/0 (h), 2001:db8::/32 (f),
  // the host route (a), the all-ones /128 (c).
  EXPECT_EQ(t.size_v4(), 3U);
  EXPECT_EQ(t.size_v6(), 4U);
  EXPECT_EQ(t.size(), 7U);
}

TEST(AllowedIps, HostBitsAreMaskedAndEntriesListThem) {
  AllowedIps t;
  ASSERT_EQ(t.insert(parse("10.1.2.3/8"), a), AllowedIpsError::none);
  ASSERT_EQ(t.insert(parse("192.168.1.77/30"), a), AllowedIpsError::none);
  ASSERT_EQ(t.insert(parse("fd00::1234/64"), a), AllowedIpsError::none);
  ASSERT_EQ(t.insert(parse("fd00:1::1/127"), b), AllowedIpsError::none);
  ASSERT_EQ(t.insert(parse("1.2.3.4/0"), b), AllowedIpsError::none);
  EXPECT_EQ(
      t.entries_for_peer(a),
      (std::vector<IpPrefix>{parse("10.0.0.0/8"), parse("192.168.1.76/30"), parse("fd00::/64")}));
  EXPECT_EQ(t.entries_for_peer(b),
            (std::vector<IpPrefix>{parse("0.0.0.0/0"), parse("fd00:1::/127")}));
  EXPECT_TRUE(t.entries_for_peer(c).empty());
  const auto all = t.entries();
  ASSERT_EQ(all.size(), 5U);
  EXPECT_EQ(all[0], (AllowedIpsEntry{parse("10.0.0.0/8"), a}));
  EXPECT_EQ(all[3], (AllowedIpsEntry{parse("0.0.0.0/0"), b}));
  // Removal also masks: the prefix is named by any address inside it.
  EXPECT_EQ(t.remove(parse("10.200.0.0/8")), AllowedIpsError::none);
  EXPECT_EQ(t.remove(parse("10.0.0.0/8")), AllowedIpsError::not_found);
  EXPECT_EQ(t.size(), 4U);
}

TEST(AllowedIps, RejectsBadPrefixesWithAClearError) {
  AllowedIps t;
  EXPECT_EQ(t.insert(parse("10.0.0.0/33"), a), AllowedIpsError::v4_prefix_too_long);
  EXPECT_EQ(t.insert(parse("fd00::/129"), a), AllowedIpsError::v6_prefix_too_long);
  IpPrefix odd = parse("10.0.0.0/8");
  odd.family = static_cast<IpFamily>(5);
  EXPECT_EQ(t.insert(odd, a), AllowedIpsError::bad_family);
  EXPECT_EQ(t.remove(parse("10.0.0.0/33")), AllowedIpsError::v4_prefix_too_long);
  EXPECT_EQ(t.remove(parse("10.0.0.0/8")), AllowedIpsError::not_found);
  EXPECT_EQ(t.size(), 0U);
  EXPECT_NE(describe(AllowedIpsError::v4_prefix_too_long).find("32"), std::string_view::npos);
  EXPECT_NE(describe(AllowedIpsError::v6_prefix_too_long).find("128"), std::string_view::npos);
  // A removal of a branch point (a prefix only implied by two longer ones) is not found.
  ASSERT_EQ(t.insert(parse("10.0.0.0/24"), a), AllowedIpsError::none);
  ASSERT_EQ(t.insert(parse("10.0.1.0/24"), b), AllowedIpsError::none);
  EXPECT_EQ(t.remove(parse("10.0.0.0/23")), AllowedIpsError::not_found);
  EXPECT_EQ(lookup(t, "10.0.1.9"), std::optional<PeerId>(b));
  EXPECT_EQ(t.remove_peer(c), 0U);
}

TEST(AllowedIps, CopiesAreIndependent) {
  AllowedIps published;
  ASSERT_EQ(published.insert(parse("10.0.0.0/8"), a), AllowedIpsError::none);
  AllowedIps next = published;  // the slow path's RCU copy
  ASSERT_EQ(next.insert(parse("10.1.0.0/16"), b), AllowedIpsError::none);
  ASSERT_EQ(next.remove(parse("10.0.0.0/8")), AllowedIpsError::none);
  EXPECT_EQ(lookup(published, "10.1.0.1"), std::optional<PeerId>(a));
  EXPECT_EQ(lookup(next, "10.1.0.1"), std::optional<PeerId>(b));
  EXPECT_EQ(lookup(next, "10.2.0.1"), std::nullopt);
  next.clear();
  EXPECT_EQ(next.size(), 0U);
  EXPECT_EQ(lookup(next, "10.1.0.1"), std::nullopt);
  EXPECT_EQ(published.size(), 1U);
}

// ---- differential test ----

// The naive reference: every prefix in a list; lookup scans for the longest that matches.
class ReferenceTable {
 public:
  struct Route {
    IpPrefix prefix;  // masked
    PeerId peer;
  };

  static IpPrefix masked(IpPrefix p) {
    for (unsigned i = 0; i < 16; ++i) {
      const unsigned first_bit = 8 * i;
      if (first_bit >= p.len) {
        p.addr[i] = 0;
      } else if (p.len - first_bit < 8) {
        p.addr[i] &= static_cast<std::uint8_t>(0xff00U >> (p.len - first_bit));
      }
    }
    return p;
  }
  static bool contains(const IpPrefix& p, IpFamily family, const std::uint8_t* addr) {
    if (p.family != family) return false;
    IpPrefix probe = p;
    std::memcpy(probe.addr.data(), addr, family == IpFamily::v4 ? 4 : 16);
    return masked(probe) == p;
  }

  void insert(const IpPrefix& prefix, PeerId peer) {
    const IpPrefix m = masked(prefix);
    for (Route& r : routes_) {
      if (r.prefix == m) {
        r.peer = peer;
        return;
      }
    }
    routes_.push_back({m, peer});
  }
  bool remove(const IpPrefix& prefix) {
    const IpPrefix m = masked(prefix);
    const auto it =
        std::find_if(routes_.begin(), routes_.end(), [&](const Route& r) { return r.prefix == m; });
    if (it == routes_.end()) return false;
    routes_.erase(it);
    return true;
  }
  std::size_t remove_peer(PeerId peer) {
    const auto before = routes_.size();
    std::erase_if(routes_, [&](const Route& r) { return r.peer == peer; });
    return before - routes_.size();
  }
  std::optional<PeerId> lookup(IpFamily family, const std::uint8_t* addr) const {
    std::optional<PeerId> best;
    int best_len = -1;
    for (const Route& r : routes_) {
      if (r.prefix.len > best_len && contains(r.prefix, family, addr)) {
        best = r.peer;
        best_len = r.prefix.len;
      }
    }
    return best;
  }
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

using Addresses = std::vector<std::array<std::uint8_t, 16>>;

// Each of `addrs` (one family) finds in `t` what the reference finds, and a bulk lookup of them
// all agrees with the single ones. Adds the reference's hits to *hits when given.
void expect_lookups_agree(const AllowedIps& t, const ReferenceTable& ref, IpFamily family,
                          const Addresses& addrs, int* hits = nullptr) {
  for (const auto& addr : addrs) {
    const auto want = ref.lookup(family, addr.data());
    const auto got = family == IpFamily::v4 ? t.lookup_v4(addr.data()) : t.lookup_v6(addr.data());
    ASSERT_EQ(got, want) << "routes " << ref.routes().size();
    if (hits != nullptr) *hits += want.has_value() ? 1 : 0;
  }
  ASSERT_NO_FATAL_FAILURE(expect_bulk_agrees(t, family, addrs));
}

// Addresses drawn around a few bases, so that prefixes nest and diverge at every depth.
class AddressSource {
 public:
  AddressSource(IpFamily family, std::uint64_t seed) : family_(family), rng_(seed) {
    for (auto& base : bases_) {
      for (auto& byte : base) byte = static_cast<std::uint8_t>(rng_());
    }
  }
  std::array<std::uint8_t, 16> address() {
    std::array<std::uint8_t, 16> a = bases_[rng_() % bases_.size()];
    const unsigned bits = family_ == IpFamily::v4 ? 32 : 128;
    const unsigned flips = rng_() % 4;
    for (unsigned i = 0; i < flips; ++i) {
      // Flip mostly late bits, so that many addresses share long prefixes.
      const unsigned back = static_cast<unsigned>(rng_() % (bits / 2) * (rng_() % 3));
      const unsigned bit = bits - 1 - std::min(bits - 1, back);
      a[bit / 8] ^= static_cast<std::uint8_t>(0x80U >> (bit % 8));
    }
    if (family_ == IpFamily::v4) std::fill(a.begin() + 4, a.end(), 0);
    return a;
  }
  IpPrefix prefix() {
    const unsigned bits = family_ == IpFamily::v4 ? 32 : 128;
    IpPrefix p;
    p.family = family_;
    p.addr = address();  // host bits left set: the table must mask them
    // Mostly medium and long prefixes; a few very short ones (a /0 catches everything).
    const unsigned r = rng_() % 100;
    p.len = static_cast<std::uint8_t>(r < 2    ? rng_() % 3
                                      : r < 30 ? bits - rng_() % 3
                                               : bits / 4 + rng_() % (bits - bits / 4 + 1));
    return p;
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  IpFamily family_;
  std::mt19937_64 rng_;
  std::array<std::array<std::uint8_t, 16>, 6> bases_{};
};

void differential(IpFamily family, std::uint64_t seed, int ops) {
  AddressSource src(family, seed);
  auto& rng = src.rng();
  AllowedIps t;
  ReferenceTable ref;
  int hits = 0, lookups = 0;
  for (int i = 0; i < ops; ++i) {
    const unsigned r = rng() % 100;
    if (r < 55) {
      const IpPrefix p = src.prefix();
      const auto peer = static_cast<PeerId>(1 + rng() % 12);
      ASSERT_EQ(t.insert(p, peer), AllowedIpsError::none);
      ref.insert(p, peer);
    } else if (r < 85) {
      // Remove an existing prefix (by an address with host bits set) or a random one.
      IpPrefix p = src.prefix();
      if (r < 75 && !ref.routes().empty()) {
        p = ref.routes()[rng() % ref.routes().size()].prefix;
        const unsigned bits = family == IpFamily::v4 ? 32 : 128;
        for (unsigned bit = p.len; bit < bits; ++bit) {
          if (rng() % 2) p.addr[bit / 8] |= static_cast<std::uint8_t>(0x80U >> (bit % 8));
        }
      }
      const bool existed = ref.remove(p);
      ASSERT_EQ(t.remove(p), existed ? AllowedIpsError::none : AllowedIpsError::not_found)
          << "op " << i;
    } else if (r < 87) {
      const auto peer = static_cast<PeerId>(1 + rng() % 12);
      ASSERT_EQ(t.remove_peer(peer), ref.remove_peer(peer)) << "op " << i;
    } else if (r < 88) {
      const AllowedIps copy = t;  // copies behave the same
      t = copy;
    }
    ASSERT_EQ(t.size(), ref.routes().size()) << "op " << i;
    Addresses probes(4);
    for (std::size_t k = 0; k < probes.size(); ++k) {
      // Near the prefixes, or anywhere (mostly misses).
      probes[k] = src.address();
      if (k == 3) {
        for (auto& byte : probes[k]) byte = static_cast<std::uint8_t>(rng());
        if (family == IpFamily::v4) std::fill(probes[k].begin() + 4, probes[k].end(), 0);
      }
    }
    ASSERT_NO_FATAL_FAILURE(expect_lookups_agree(t, ref, family, probes, &hits)) << "op " << i;
    lookups += static_cast<int>(probes.size());
    // Now and then a whole burst, in bulk only (the reference is too slow for all of them).
    if (i % 50 == 0) {
      while (probes.size() < AllowedIps::kMaxBulk) probes.push_back(src.address());
      ASSERT_NO_FATAL_FAILURE(expect_bulk_agrees(t, family, probes)) << "op " << i;
    }
  }
  // The entry listing matches too.
  std::vector<AllowedIpsEntry> want;
  for (const auto& r : ref.routes()) want.push_back({r.prefix, r.peer});
  std::sort(want.begin(), want.end(), [](const AllowedIpsEntry& x, const AllowedIpsEntry& y) {
    return std::tie(x.peer, x.prefix.addr, x.prefix.len) <
           std::tie(y.peer, y.prefix.addr, y.prefix.len);
  });
  EXPECT_EQ(t.entries(), want);
  // The random mix must produce both hits and misses in quantity.
  EXPECT_GT(hits, lookups / 5);
  EXPECT_LT(hits, lookups - lookups / 25);
}

TEST(AllowedIps, DifferentialV4) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) differential(IpFamily::v4, seed, 20000);
}

TEST(AllowedIps, DifferentialV6) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) differential(IpFamily::v6, seed, 20000);
}

// The first-level table (here the top 16 bits: routes in three random /12s leave its region the
// whole space) is hardest where prefixes shorter than, equal to and
// longer than 16 bits nest in the same slots and come and go: a short prefix rewrites a range
// of slots, a /16 folds into its slot, a removal must fall back to whatever covers it. Routes
// cluster in a few /12s so that they overlap, and the route count swings across the size at
// which the first level is built (64) and dropped (below 32), up to hundreds of routes.
void differential_around_slots(IpFamily family, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const unsigned bits = family == IpFamily::v4 ? 32 : 128;
  std::array<std::array<std::uint8_t, 16>, 3> bases{};
  for (auto& base : bases) {
    for (auto& byte : base) byte = static_cast<std::uint8_t>(rng());
  }
  auto set_bit = [](std::array<std::uint8_t, 16>& a, unsigned bit, bool on) {
    const auto m = static_cast<std::uint8_t>(0x80U >> (bit % 8));
    a[bit / 8] = static_cast<std::uint8_t>(on ? a[bit / 8] | m : a[bit / 8] & ~m);
  };
  // Inside a base's /12 (mostly), or anywhere.
  auto address = [&] {
    std::array<std::uint8_t, 16> a = bases[rng() % bases.size()];
    const unsigned from = rng() % 8 == 0 ? 0 : 12;
    for (unsigned bit = from; bit < bits; ++bit) set_bit(a, bit, rng() % 2 != 0);
    // Slot edges: the first or last address of a 16-bit slot.
    if (rng() % 4 == 0) {
      const bool ones = rng() % 2 != 0;
      for (unsigned bit = 16; bit < bits; ++bit) set_bit(a, bit, ones);
    }
    if (family == IpFamily::v4) std::fill(a.begin() + 4, a.end(), 0);
    return a;
  };
  auto prefix = [&] {
    IpPrefix p;
    p.family = family;
    p.addr = address();
    const unsigned r = rng() % 100;
    p.len = static_cast<std::uint8_t>(r < 35   ? rng() % 16                  // shorter than 16
                                      : r < 55 ? 16                          // exactly 16
                                      : r < 75 ? 17 + rng() % 4              // just past it
                                               : 21 + rng() % (bits - 20));  // longer
    return p;
  };

  AllowedIps t;
  ReferenceTable ref;
  // The route count heads for each target in turn, with noise.
  const std::vector<std::size_t> targets = {40, 90, 10, 70, 20, 400, 5, 130, 25, 0};
  int op = 0;
  for (const std::size_t target : targets) {
    for (int step = 0; step < 700; ++step, ++op) {
      const unsigned r = rng() % 100;
      const bool grow = ref.routes().size() < target ? r < 80 : r < 20;
      if (grow) {
        const IpPrefix p = prefix();
        const auto peer = static_cast<PeerId>(1 + rng() % 6);
        ASSERT_EQ(t.insert(p, peer), AllowedIpsError::none);
        ref.insert(p, peer);
      } else if (r % 50 == 0) {
        const auto peer = static_cast<PeerId>(1 + rng() % 6);
        ASSERT_EQ(t.remove_peer(peer), ref.remove_peer(peer)) << "op " << op;
      } else if (!ref.routes().empty() && r % 5 != 0) {
        // An existing prefix, named by an address with host bits set.
        IpPrefix p = ref.routes()[rng() % ref.routes().size()].prefix;
        for (unsigned bit = p.len; bit < bits; ++bit) {
          if (rng() % 2) set_bit(p.addr, bit, true);
        }
        ASSERT_EQ(t.remove(p), AllowedIpsError::none) << "op " << op;
        ASSERT_TRUE(ref.remove(p));
      } else {
        const IpPrefix p = prefix();
        const bool existed = ref.remove(p);
        ASSERT_EQ(t.remove(p), existed ? AllowedIpsError::none : AllowedIpsError::not_found)
            << "op " << op;
      }
      if (rng() % 100 == 0) {
        const AllowedIps copy = t;
        t = copy;
      }
      ASSERT_EQ(t.size(), ref.routes().size()) << "op " << op;
      Addresses probes(6);
      for (auto& addr : probes) addr = address();
      ASSERT_NO_FATAL_FAILURE(expect_lookups_agree(t, ref, family, probes)) << "op " << op;
    }
  }
}

TEST(AllowedIps, DifferentialAroundFirstLevelSlotsV4) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) differential_around_slots(IpFamily::v4, seed);
}

TEST(AllowedIps, DifferentialAroundFirstLevelSlotsV6) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) differential_around_slots(IpFamily::v6, seed);
}

// The first level spans the prefix that holds nearly all routes (its region), so that routes
// crowded into one pod network do not share a handful of slots. Hardest where the crowd moves:
// nearly all routes inside one base's /20 (/116 for IPv6), a few elsewhere, and the crowd
// changing base partway, so that the routes outside the region pass an eighth and it is chosen
// again; short prefixes cover the region and come and go.
void differential_clustered(IpFamily family, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const unsigned bits = family == IpFamily::v4 ? 32 : 128;
  const unsigned crowd_len = bits - 12;
  std::array<std::array<std::uint8_t, 16>, 2> bases{};
  for (auto& base : bases) {
    for (auto& byte : base) byte = static_cast<std::uint8_t>(rng());
  }
  auto set_bit = [](std::array<std::uint8_t, 16>& a, unsigned bit, bool on) {
    const auto m = static_cast<std::uint8_t>(0x80U >> (bit % 8));
    a[bit / 8] = static_cast<std::uint8_t>(on ? a[bit / 8] | m : a[bit / 8] & ~m);
  };
  std::size_t crowd = 0;  // the base the crowd is in
  auto address = [&] {
    const unsigned r = rng() % 100;
    std::array<std::uint8_t, 16> a = bases[r < 97 ? crowd : 1 - crowd];
    const unsigned from = r < 99 ? crowd_len : 0;
    for (unsigned bit = from; bit < bits; ++bit) set_bit(a, bit, rng() % 2 != 0);
    if (family == IpFamily::v4) std::fill(a.begin() + 4, a.end(), 0);
    return a;
  };
  auto prefix = [&] {
    IpPrefix p;
    p.family = family;
    p.addr = address();
    const unsigned r = rng() % 100;
    p.len = static_cast<std::uint8_t>(r < 5    ? rng() % crowd_len         // covers the crowd
                                      : r < 60 ? bits - rng() % 5          // long
                                               : crowd_len + rng() % 13);  // inside the crowd
    return p;
  };
  AllowedIps t;
  ReferenceTable ref;
  const std::vector<std::size_t> targets = {300, 40, 900, 600, 1200, 10, 500};
  int op = 0;
  for (std::size_t phase = 0; phase < targets.size(); ++phase) {
    if (phase == 3) crowd = 1;  // the crowd moves: most new routes land outside the region
    for (int step = 0; step < 1500; ++step, ++op) {
      const unsigned r = rng() % 100;
      const bool grow = ref.routes().size() < targets[phase] ? r < 85 : r < 15;
      if (grow) {
        const IpPrefix p = prefix();
        const auto peer = static_cast<PeerId>(1 + rng() % 9);
        ASSERT_EQ(t.insert(p, peer), AllowedIpsError::none);
        ref.insert(p, peer);
      } else if (!ref.routes().empty()) {
        const IpPrefix p = ref.routes()[rng() % ref.routes().size()].prefix;
        ASSERT_EQ(t.remove(p), AllowedIpsError::none) << "op " << op;
        ASSERT_TRUE(ref.remove(p));
      }
      if (step % 8 != 0) continue;
      Addresses probes(16);
      for (auto& addr : probes) addr = address();
      ASSERT_NO_FATAL_FAILURE(expect_lookups_agree(t, ref, family, probes)) << "op " << op;
    }
  }
}

TEST(AllowedIps, DifferentialClusteredV4) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) differential_clustered(IpFamily::v4, seed);
}

TEST(AllowedIps, DifferentialClusteredV6) {
  for (std::uint64_t seed = 1; seed <= 2; ++seed) differential_clustered(IpFamily::v6, seed);
}

// A mesh's pod blocks (a /28 per peer inside 10/8) put the region at their common prefix, and
// enough routes elsewhere move it back to the whole space.
TEST(AllowedIps, FirstLevelRegionFollowsTheRoutes) {
  using Trie = detail::PrefixTrie<32>;
  Trie trie;
  trie.insert(0x0a000000U, 8, 9999);  // 10/8 covers the region: it is not outside
  for (std::uint32_t p = 0; p < 1000; ++p) trie.insert(0x0a000000U + p * 16, 28, p);
  ASSERT_EQ(trie.first_level_bits(), 16U);
  // 1000 /28s span 10.0.0.0 - 10.0.62.127: their common prefix is 10.0.0.0/18, cut to /16 to
  // leave 16 bits for the slots.
  EXPECT_EQ(trie.first_level_region(), std::make_pair(std::uint32_t{0x0a000000U}, 16U));
  for (std::uint32_t p = 0; p < 1000; ++p) {
    ASSERT_EQ(trie.lookup(0x0a000000U + p * 16 + p % 16), std::optional<PeerId>(p));
  }
  EXPECT_EQ(trie.lookup(0x0a004000U), std::optional<PeerId>(9999));  // past the last block
  EXPECT_EQ(trie.lookup(0x0a00ffffU), std::optional<PeerId>(9999));
  EXPECT_EQ(trie.lookup(0x0b000000U), std::nullopt);
  // 100 routes outside (under an eighth of 1101): the region stays, they walk from the root.
  for (std::uint32_t i = 0; i < 100; ++i) trie.insert(0xc0a80000U + (i << 8), 24, 5000 + i);
  EXPECT_EQ(trie.first_level_region(), std::make_pair(std::uint32_t{0x0a000000U}, 16U));
  EXPECT_EQ(trie.lookup(0xc0a80a05U), std::optional<PeerId>(5010));
  // 100 more pass an eighth: chosen again, and 10/8 and 192.168/16 share no prefix.
  for (std::uint32_t i = 100; i < 200; ++i) trie.insert(0xc0a80000U + (i << 8), 24, 5000 + i);
  EXPECT_EQ(trie.first_level_region().second, 0U);
  for (std::uint32_t p = 0; p < 1000; ++p) {
    ASSERT_EQ(trie.lookup(0x0a000000U + p * 16 + p % 16), std::optional<PeerId>(p));
  }
  EXPECT_EQ(trie.lookup(0xc0a8c7ffU), std::optional<PeerId>(5199));
  EXPECT_EQ(trie.lookup(0x0a004000U), std::optional<PeerId>(9999));
}

// The first level exists from 64 routes on and goes below 32; lookups agree on both sides.
TEST(AllowedIps, FirstLevelIsBuiltAndDropped) {
  detail::PrefixTrie<32> trie;
  constexpr std::uint32_t kFrom = detail::PrefixTrie<32>::kFirstLevelFrom;
  trie.insert(0x0a000000U, 8, 1000);  // 10/8
  for (std::uint32_t i = 1; i < kFrom - 1; ++i) trie.insert(0x0a000000U | i << 12, 20, i);
  EXPECT_EQ(trie.first_level_bits(), 0U);
  EXPECT_EQ(trie.lookup(0x0a000000U | 5U << 12 | 0x123U), std::optional<PeerId>(5));
  trie.insert(0x0a100000U, 16, 2000);  // 10.16/16, route 64
  EXPECT_EQ(trie.first_level_bits(), 16U);
  EXPECT_EQ(trie.lookup(0x0a000000U | 5U << 12 | 0x123U), std::optional<PeerId>(5));
  EXPECT_EQ(trie.lookup(0x0a10ffffU), std::optional<PeerId>(2000));
  EXPECT_EQ(trie.lookup(0x0a110000U), std::optional<PeerId>(1000));
  EXPECT_EQ(trie.lookup(0x0b000000U), std::nullopt);
  // Down to 32 routes it stays; below, it goes.
  for (std::uint32_t i = 1; i <= kFrom / 2; ++i)
    ASSERT_TRUE(trie.remove(0x0a000000U | i << 12, 20));
  EXPECT_EQ(trie.size(), kFrom / 2);
  EXPECT_EQ(trie.first_level_bits(), 16U);
  EXPECT_EQ(trie.lookup(0x0a000000U | 5U << 12 | 0x123U), std::optional<PeerId>(1000));
  ASSERT_TRUE(trie.remove(0x0a000000U | (kFrom / 2 + 1) << 12, 20));
  EXPECT_EQ(trie.first_level_bits(), 0U);
  EXPECT_EQ(trie.lookup(0x0a000000U | 5U << 12 | 0x123U), std::optional<PeerId>(1000));
  EXPECT_EQ(trie.lookup(0x0a000000U | (kFrom - 2) << 12), std::optional<PeerId>(kFrom - 2));
  EXPECT_EQ(trie.lookup(0x0a10ffffU), std::optional<PeerId>(2000));
  trie.clear();
  EXPECT_EQ(trie.first_level_bits(), 0U);
  EXPECT_EQ(trie.lookup(0x0a10ffffU), std::nullopt);
}

// At kWideFrom routes the first level widens to 20 bits, below half of that it narrows again;
// shorter prefixes of every length class around both widths stay visible through each switch.
TEST(AllowedIps, FirstLevelWidensAndNarrows) {
  using Trie = detail::PrefixTrie<32>;
  Trie trie;
  // Covering prefixes: /8, /12, /16, /18 (inside a 16-bit slot), /20 (exactly a wide slot),
  // /22 (inside a wide slot).
  const std::vector<std::tuple<std::uint32_t, unsigned, PeerId>> covering = {
      {0x0a000000U, 8, 1001},  {0x0a100000U, 12, 1002}, {0x0a200000U, 16, 1003},
      {0x0a300000U, 18, 1004}, {0x0a400000U, 20, 1005}, {0x0a500000U, 22, 1006}};
  for (const auto& [key, len, peer] : covering) trie.insert(key, len, peer);
  auto expected_cover = [&](std::uint32_t addr) {
    std::optional<PeerId> best;
    unsigned best_len = 0;
    for (const auto& [key, len, peer] : covering) {
      if (Trie::mask(addr, len) == key && (!best || len > best_len)) {
        best = peer;
        best_len = len;
      }
    }
    return best;
  };
  // Host routes spread over 10/8 (an odd stride hits every slot class above).
  std::vector<std::uint32_t> hosts;
  for (std::uint32_t i = 0; hosts.size() < Trie::kWideFrom; ++i) {
    hosts.push_back(0x0a000000U | ((i * 2654435761U) & 0x00ffffffU));
  }
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  for (std::size_t i = 0; i < hosts.size(); ++i) trie.insert(hosts[i], 32, static_cast<PeerId>(i));
  for (std::uint32_t i = 0; trie.size() < Trie::kWideFrom; ++i) {
    trie.insert(0x0b000000U | i, 32, 7);  // top up past duplicates, outside 10/8
  }
  EXPECT_EQ(trie.first_level_bits(), 20U);
  auto check = [&](std::size_t removed_below) {
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      const auto want = i < removed_below ? expected_cover(hosts[i]) : std::optional<PeerId>(i);
      ASSERT_EQ(trie.lookup(hosts[i]), want) << std::hex << hosts[i];
    }
    for (const auto& [key, len, peer] : covering) {
      // The first and last address of each covering prefix, unless a host route sits there.
      for (const std::uint32_t addr : {key, key | (~0U >> len)}) {
        if (!std::binary_search(hosts.begin(), hosts.end(), addr)) {
          ASSERT_EQ(trie.lookup(addr), std::optional<PeerId>(peer)) << std::hex << addr;
        }
      }
    }
  };
  check(0);
  // Remove hosts (in address order) until below kWideFrom / 2: back to 16 bits.
  std::size_t removed = 0;
  while (trie.size() >= Trie::kWideFrom / 2) {
    ASSERT_TRUE(trie.remove(hosts[removed], 32));
    ++removed;
  }
  EXPECT_EQ(trie.first_level_bits(), 16U);
  check(removed);
}

// A million routes (the scale of the later benchmark): all findable, then half removed.
TEST(AllowedIps, MillionHostRoutes) {
  constexpr std::uint32_t kRoutes = 1'000'000;
  AllowedIps t;
  std::mt19937 rng(7);
  std::vector<std::uint32_t> addrs(kRoutes);
  for (std::uint32_t i = 0; i < kRoutes; ++i) addrs[i] = (10U << 24) | (i * 2654435761U >> 8);
  std::sort(addrs.begin(), addrs.end());
  addrs.erase(std::unique(addrs.begin(), addrs.end()), addrs.end());
  std::shuffle(addrs.begin(), addrs.end(), rng);
  auto bytes = [](std::uint32_t v) {
    return std::array<std::uint8_t, 4>{
        static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
        static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  };
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    ASSERT_EQ(t.insert(IpPrefix::v4(bytes(addrs[i]), 32), static_cast<PeerId>(i)),
              AllowedIpsError::none);
  }
  ASSERT_EQ(t.insert(IpPrefix::v4({10, 0, 0, 0}, 8), UINT32_MAX), AllowedIpsError::none);
  EXPECT_EQ(t.size(), addrs.size() + 1);
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    ASSERT_EQ(t.lookup_v4(bytes(addrs[i]).data()), std::optional<PeerId>(i));
  }
  for (std::size_t i = 0; i < addrs.size(); i += 2) {
    ASSERT_EQ(t.remove(IpPrefix::v4(bytes(addrs[i]), 32)), AllowedIpsError::none);
  }
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    const auto want = i % 2 == 0 ? UINT32_MAX : static_cast<PeerId>(i);
    ASSERT_EQ(t.lookup_v4(bytes(addrs[i]).data()), std::optional<PeerId>(want));
  }
}

}  // namespace
}  // namespace strait::wg

#pragma once
// The cryptokey routing table (WireGuard paper section 2): longest-prefix match from an inner
// IPv4/IPv6 address to the peer whose allowed IPs contain it. Encap looks up the destination
// to choose the peer; decap looks up the source to check that the sender may use it.
//
// Semantics follow the Linux module's allowedips.c and wireguard-go: host bits beyond the
// prefix length are cleared on insertion; inserting a prefix that exists moves it to the new
// peer; IPv4 and IPv6 are separate tables.
//
// Structure: one path-compressed binary trie per family (a node exists only where a prefix
// ends or two prefixes diverge), nodes kept in a vector and linked by 32-bit indices. Walking
// the trie alone costs one dependent cache miss per node, about 20 at a million random
// routes; so once a family holds 64 routes (kFirstLevelFrom) it also keeps a first-level table
// of 16 bits (65,536 slots of 8 bytes), widened to 20 bits (1,048,576 slots, 8 MiB) from 2^18
// routes (kWideFrom). The slots index the bits right after the table's region: the longest
// prefix that all but a sixteenth of the routes lie in or cover (a mesh's pod networks crowd
// into one 10/8 or fd00::/8, where the top bits alone would put them all in a few slots), and
// addresses outside it walk from the root. A slot holds the best match among the prefixes no
// longer than the slot covering it, and the first trie node at least that long inside it,
// from which the walk resumes (none if no longer prefix lies inside). A lookup is then one
// slot read plus the few nodes below it, and lookup_bulk() overlaps a burst's misses
// (perf/ALLOWED_IPS.md). Smaller tables skip the first level: their few nodes stay in L1 and
// their copies stay small.
// Lookup touches no lock, allocates nothing and never writes. Mutations allocate and are
// slow-path only; each rewrites only the slots its prefix covers.
//
// Threads: none of its own. The class is a plain value (copyable): the slow path copies the
// published table, changes the copy, and publishes the copy by pointer swap (RCU); lcores call
// only the const lookups. Copying is the node vectors (about 20 bytes per IPv4 route and
// 32 per IPv6 route, times less than two nodes per route) plus the first level of each family
// that has one (512 KiB, or 8 MiB once widened).

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/huge_page_allocator.hpp"
#include "base/ip_prefix.hpp"
#include "core/types.hpp"

namespace strait::wg {

enum class AllowedIpsError : std::uint8_t {
  none = 0,
  v4_prefix_too_long,  // IPv4 prefix length above 32
  v6_prefix_too_long,  // IPv6 prefix length above 128
  bad_family,          // neither IpFamily::v4 nor IpFamily::v6
  not_found,           // remove: no such prefix
};

// A sentence for logs and UAPI error replies.
[[nodiscard]] std::string_view describe(AllowedIpsError error) noexcept;

struct AllowedIpsEntry {
  IpPrefix prefix;  // host bits cleared
  PeerId peer = 0;
  friend bool operator==(const AllowedIpsEntry&, const AllowedIpsEntry&) = default;
};

namespace detail {

__extension__ using Uint128 = unsigned __int128;

// One family's trie over kBits-bit keys held as integers, most significant bit first.
template <unsigned kBits>
class PrefixTrie {
 public:
  static_assert(kBits == 32 || kBits == 128);
  using Key = std::conditional_t<kBits == 32, std::uint32_t, Uint128>;

  // A family builds its first level, on the top kNarrowSlotBits bits, when it reaches
  // kFirstLevelFrom routes, and widens it to kWideSlotBits bits (8 MiB, still less than the
  // nodes) at kWideFrom routes, where 16 bits leave a dozen routes per slot and so a walk of
  // several cache misses below it. Each step is undone below half its threshold (the gap
  // keeps a table near a boundary from flapping).
  static constexpr std::size_t kFirstLevelFrom = 64;
  static constexpr std::size_t kWideFrom = std::size_t{1} << 18;
  static constexpr unsigned kNarrowSlotBits = 16;
  static constexpr unsigned kWideSlotBits = 20;

  // Fast path: the peer of the longest prefix containing addr.
  [[nodiscard]] std::optional<PeerId> lookup(Key addr) const noexcept {
    if (first_.empty() || !in_region(addr)) return walk(root_, addr, std::nullopt);
    const Slot s = first_[slot_of(addr)];
    return walk(s.next & kNodeMask, addr,
                (s.next & kSlotHasPeer) != 0 ? std::optional<PeerId>(s.peer) : std::nullopt);
  }

  // Fast path for a burst: lookup() of keys[0..n) (n <= kMaxBulk), with the walks advanced
  // together one node per round, each round prefetching every lane's next node, so that the
  // cache misses of the burst overlap instead of queueing (perf/ALLOWED_IPS.md, "Bulk
  // lookup"). peers[i] is set for each lane that matched, and bit i of the result says so.
  static constexpr unsigned kMaxBulk = 64;
  std::uint64_t lookup_bulk(const Key* keys, unsigned n, PeerId* peers) const noexcept;

  // Precondition: len <= kBits. True if the prefix is new, false if it changed peer.
  bool insert(Key key, unsigned len, PeerId peer);
  // False if the prefix is not in the table.
  bool remove(Key key, unsigned len);
  // Removes every prefix of `peer`; returns how many.
  std::size_t remove_peer(PeerId peer);

  // Calls fn(key, len, peer) for every prefix, in no particular order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const Node& n : nodes_) {
      if (n.has_peer) fn(n.key, static_cast<unsigned>(n.len), n.peer);
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return routes_; }
  // The first level's width in bits, 0 when there is none.
  [[nodiscard]] unsigned first_level_bits() const noexcept { return slot_bits_; }
  // The prefix the first level spans (length 0: the whole address space).
  [[nodiscard]] std::pair<Key, unsigned> first_level_region() const noexcept {
    return {region_key_, region_len_};
  }
  void clear() noexcept;

  // Key with the bits after the first len cleared.
  [[nodiscard]] static Key mask(Key key, unsigned len) noexcept {
    return len == 0 ? Key{0} : static_cast<Key>(key & (~Key{0} << (kBits - len)));
  }

 private:
  static constexpr std::uint32_t kNil = UINT32_MAX;
  // Node indices stay below kNodeMask (allocate() enforces it), so that a first-level slot can
  // keep a flag in the top bit of its node index, and so that the walk ends on both kNil and
  // kNodeMask ("no node") with one comparison.
  static constexpr std::uint32_t kSlotHasPeer = 0x80000000U;
  static constexpr std::uint32_t kNodeMask = 0x7fffffffU;

  // One first-level slot: in next's low 31 bits the trie node to resume the walk from (the
  // first node on the slot's path with at least slot_bits_ bits, kNodeMask for none), and in
  // peer the best match among the prefixes above it that cover the slot (valid if next has
  // kSlotHasPeer). A leaf of exactly slot_bits_ bits is folded into peer rather than left for the
  // walk.
  struct Slot {
    PeerId peer = 0;
    std::uint32_t next = kNodeMask;
  };

  // The trie walk from node i, starting from best (the match found above i).
  [[nodiscard]] std::optional<PeerId> walk(std::uint32_t i, Key addr,
                                           std::optional<PeerId> best) const noexcept {
    while (i < kNodeMask) {
      const Node& n = nodes_[i];
      if (!covers(n.key, n.len, addr)) break;
      if (n.has_peer) best = n.peer;
      if (n.len == kBits) break;
      i = n.child[bit(addr, n.len)];
    }
    return best;
  }

  // A prefix key/len. A node without a peer is a branch point and always has two children;
  // child[b] holds longer prefixes that continue with bit b after this node's len bits.
  struct Node {
    Key key{0};
    std::uint32_t child[2] = {kNil, kNil};
    PeerId peer = 0;
    std::uint8_t len = 0;
    bool has_peer = false;
  };

  // Does key/len contain addr?
  [[nodiscard]] static bool covers(Key key, unsigned len, Key addr) noexcept {
    return len == 0 || ((key ^ addr) >> (kBits - len)) == 0;
  }
  // Bit i of key, counting from the most significant (i < kBits).
  [[nodiscard]] static unsigned bit(Key key, unsigned i) noexcept {
    return static_cast<unsigned>(key >> (kBits - 1 - i)) & 1U;
  }

  std::uint32_t allocate(Key key, unsigned len, std::optional<PeerId> peer);
  void release(std::uint32_t i);
  // Points parent's child[side] (the root when parent is kNil) at child.
  void link(std::uint32_t parent, unsigned side, std::uint32_t child) noexcept;
  // The trie part of insert() and remove(), which then bring the first level up to date.
  bool insert_node(Key key, unsigned len, PeerId peer);
  bool remove_node(Key key, unsigned len);

  // Is addr inside the first level's region?
  [[nodiscard]] bool in_region(Key addr) const noexcept {
    return region_len_ == 0 || ((addr ^ region_key_) >> (kBits - region_len_)) == 0;
  }
  // Does the first level answer for key/len: inside the region, or covering it?
  [[nodiscard]] bool bears_on_region(Key key, unsigned len) const noexcept {
    return len >= region_len_ ? in_region(key) : covers(key, len, region_key_);
  }
  // The slot of a key inside the region: its slot_bits_ bits after the region's prefix
  // (precondition: slot_bits_ > 0).
  [[nodiscard]] std::uint32_t slot_of(Key key) const noexcept {
    return static_cast<std::uint32_t>(key >> (kBits - region_len_ - slot_bits_)) &
           ((std::uint32_t{1} << slot_bits_) - 1);
  }
  // After a change to key/len (fresh: a route was added or removed, not just moved):
  // builds, rebuilds or drops the first level as the route count and the routes outside its
  // region ask, or rewrites the slots that key/len covers.
  void update_first_level(Key key, unsigned len, int fresh);
  // The deepest trie prefix holding all but a sixteenth of the routes (counting those that
  // cover it) that leaves room for `bits` slot bits after it; with how many routes bear not
  // on it.
  [[nodiscard]] std::tuple<Key, std::uint8_t, std::size_t> choose_region(unsigned bits) const;
  // Rewrites slots [lo, hi] from the trie: finds the region's first node and the best match
  // above it, then fill().
  void fill_region(std::uint32_t lo, std::uint32_t hi);
  // Rewrites slots [lo, hi], all of which lie inside the part of the trie under node i (kNil:
  // none; else a node inside the region), given best, the match found above i.
  void fill(std::uint32_t i, std::uint32_t lo, std::uint32_t hi, std::optional<PeerId> best);

  // The nodes and the slots are what lookups read at random: on huge pages where they are
  // large (base/huge_page_allocator.hpp).
  std::vector<Node, HugePageAllocator<Node>> nodes_;
  std::vector<std::uint32_t> free_;                   // released nodes, reused before nodes_ grows
  std::vector<Slot, HugePageAllocator<Slot>> first_;  // 2^slot_bits_ slots, or empty
  std::uint8_t slot_bits_ = 0;                        // 0, kNarrowSlotBits or kWideSlotBits
  // The first level spans region_key_/region_len_ (kept clear of host bits): the slots index
  // the slot_bits_ bits after it. Addresses outside it walk from the root.
  Key region_key_{0};
  std::uint8_t region_len_ = 0;
  std::size_t outside_ = 0;  // routes that neither lie in the region nor cover it
  std::uint32_t root_ = kNil;
  std::size_t routes_ = 0;
};

}  // namespace detail

class AllowedIps {
 public:
  // Adds prefix -> peer, clearing host bits; a prefix already present moves to `peer`.
  // Allocates: slow path only.
  [[nodiscard]] AllowedIpsError insert(const IpPrefix& prefix, PeerId peer);
  // Removes exactly this prefix (host bits are cleared first). Lookups inside it fall back
  // to the next shorter prefix.
  [[nodiscard]] AllowedIpsError remove(const IpPrefix& prefix);
  // Removes every prefix of `peer` (peer removed, or UAPI replace_allowed_ips). Returns how
  // many.
  std::size_t remove_peer(PeerId peer);
  void clear() noexcept;

  // Fast path: `addr` points at 4 (lookup_v4) or 16 (lookup_v6) bytes in network order, e.g.
  // straight into a packet header.
  [[nodiscard]] std::optional<PeerId> lookup_v4(const std::uint8_t* addr) const noexcept {
    return v4_.lookup(load_v4(addr));
  }
  [[nodiscard]] std::optional<PeerId> lookup_v6(const std::uint8_t* addr) const noexcept {
    return v6_.lookup(load_v6(addr));
  }

  // Fast path for a burst: the peers of keys[0..n) of one family (load_v4 / load_v6 of the
  // addresses, n <= kMaxBulk), found together so that their cache misses overlap. peers[i] is
  // set for each key that matched, and bit i of the result says so.
  static constexpr unsigned kMaxBulk = detail::PrefixTrie<32>::kMaxBulk;
  std::uint64_t lookup_v4_bulk(const std::uint32_t* keys, unsigned n,
                               PeerId* peers) const noexcept {
    return v4_.lookup_bulk(keys, n, peers);
  }
  std::uint64_t lookup_v6_bulk(const detail::Uint128* keys, unsigned n,
                               PeerId* peers) const noexcept {
    return v6_.lookup_bulk(keys, n, peers);
  }

  // A peer's prefixes, sorted (IPv4 first, then by address and length). Scans the whole
  // table: to list every peer (UAPI get) call entries() once instead.
  [[nodiscard]] std::vector<IpPrefix> entries_for_peer(PeerId peer) const;
  // Every prefix with its peer, sorted by peer, then as entries_for_peer.
  [[nodiscard]] std::vector<AllowedIpsEntry> entries() const;

  [[nodiscard]] std::size_t size() const noexcept { return v4_.size() + v6_.size(); }
  [[nodiscard]] std::size_t size_v4() const noexcept { return v4_.size(); }
  [[nodiscard]] std::size_t size_v6() const noexcept { return v6_.size(); }

  [[nodiscard]] static std::uint32_t load_v4(const std::uint8_t* addr) noexcept {
    return static_cast<std::uint32_t>(addr[0]) << 24 | static_cast<std::uint32_t>(addr[1]) << 16 |
           static_cast<std::uint32_t>(addr[2]) << 8 | static_cast<std::uint32_t>(addr[3]);
  }
  [[nodiscard]] static detail::Uint128 load_v6(const std::uint8_t* addr) noexcept {
    // Two big-endian 64-bit loads (memcpy: the packet header need not be aligned).
    std::uint64_t hi = 0, lo = 0;
    std::memcpy(&hi, addr, 8);
    std::memcpy(&lo, addr + 8, 8);
    if constexpr (std::endian::native == std::endian::little) {
      hi = __builtin_bswap64(hi);
      lo = __builtin_bswap64(lo);
    }
    return detail::Uint128{hi} << 64 | lo;
  }

 private:
  detail::PrefixTrie<32> v4_;
  detail::PrefixTrie<128> v6_;
};

}  // namespace strait::wg

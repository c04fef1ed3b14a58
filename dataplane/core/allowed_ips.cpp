#include "core/allowed_ips.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace strait::wg {

namespace detail {

namespace {

// Length of the common leading bits of a and b.
unsigned common_bits(std::uint32_t a, std::uint32_t b) noexcept {
  const std::uint32_t x = a ^ b;
  return x == 0 ? 32U : static_cast<unsigned>(__builtin_clz(x));
}
unsigned common_bits(Uint128 a, Uint128 b) noexcept {
  const Uint128 x = a ^ b;
  const auto hi = static_cast<std::uint64_t>(x >> 64);
  const auto lo = static_cast<std::uint64_t>(x);
  if (hi != 0) return static_cast<unsigned>(__builtin_clzll(hi));
  return lo == 0 ? 128U : 64U + static_cast<unsigned>(__builtin_clzll(lo));
}

}  // namespace

template <unsigned kBits>
bool PrefixTrie<kBits>::insert(Key key, unsigned len, PeerId peer) {
  const bool fresh = insert_node(key, len, peer);
  update_first_level(key, len, fresh ? 1 : 0);
  return fresh;
}

template <unsigned kBits>
bool PrefixTrie<kBits>::remove(Key key, unsigned len) {
  if (!remove_node(key, len)) return false;
  update_first_level(key, len, -1);
  return true;
}

template <unsigned kBits>
std::uint64_t PrefixTrie<kBits>::lookup_bulk(const Key* keys, unsigned n,
                                             PeerId* peers) const noexcept {
  std::uint32_t at[kMaxBulk];    // each lane's next node
  std::uint8_t lanes[kMaxBulk];  // the lanes still walking
  std::uint64_t found = 0;
  n = std::min(n, kMaxBulk);
  if (first_.empty()) {
    // A small table: its few nodes stay in L1, where stepping lanes in rounds is pure overhead.
    for (unsigned i = 0; i < n; ++i) {
      if (const auto peer = walk(root_, keys[i], std::nullopt)) {
        peers[i] = *peer;
        found |= std::uint64_t{1} << i;
      }
    }
    return found;
  }
  {
    for (unsigned i = 0; i < n; ++i) {
      if (in_region(keys[i])) __builtin_prefetch(&first_[slot_of(keys[i])]);
    }
    for (unsigned i = 0; i < n; ++i) {
      if (!in_region(keys[i])) {
        at[i] = root_;
        continue;
      }
      const Slot s = first_[slot_of(keys[i])];
      at[i] = s.next & kNodeMask;
      if ((s.next & kSlotHasPeer) != 0) {
        peers[i] = s.peer;
        found |= std::uint64_t{1} << i;
      }
    }
  }
  unsigned walking = 0;
  for (unsigned i = 0; i < n; ++i) {
    if (at[i] >= kNodeMask) continue;
    __builtin_prefetch(&nodes_[at[i]]);
    lanes[walking++] = static_cast<std::uint8_t>(i);
  }
  // One node per walking lane per round: the node read now was prefetched a round ago, while
  // the other lanes were stepped.
  while (walking != 0) {
    unsigned still = 0;
    for (unsigned k = 0; k < walking; ++k) {
      const unsigned i = lanes[k];
      const Node& node = nodes_[at[i]];
      if (!covers(node.key, node.len, keys[i])) continue;
      if (node.has_peer) {
        peers[i] = node.peer;
        found |= std::uint64_t{1} << i;
      }
      if (node.len == kBits) continue;
      const std::uint32_t next = node.child[bit(keys[i], node.len)];
      if (next >= kNodeMask) continue;
      __builtin_prefetch(&nodes_[next]);
      at[i] = next;
      lanes[still++] = static_cast<std::uint8_t>(i);
    }
    walking = still;
  }
  return found;
}

template <unsigned kBits>
void PrefixTrie<kBits>::update_first_level(Key key, unsigned len, int fresh) {
  key = mask(key, len);
  if (slot_bits_ != 0 && fresh != 0 && !bears_on_region(key, len)) {
    outside_ = fresh > 0 ? outside_ + 1 : outside_ - 1;
  }
  unsigned bits = 0;
  if (routes_ >= kWideFrom || (slot_bits_ == kWideSlotBits && routes_ >= kWideFrom / 2)) {
    bits = kWideSlotBits;
  } else if (routes_ >= kFirstLevelFrom || (slot_bits_ != 0 && routes_ >= kFirstLevelFrom / 2)) {
    bits = kNarrowSlotBits;
  }
  // More than an eighth of the routes outside the region: they all walk from the root, so
  // choose the region again (it leaves out at most a sixteenth, so this cannot flap).
  const bool drifted = bits != 0 && outside_ * 8 > routes_;
  if (bits != slot_bits_ || drifted) {  // build, rebuild, or drop
    decltype(first_)().swap(first_);    // give the memory back, copies shrink with it
    slot_bits_ = static_cast<std::uint8_t>(bits);
    region_key_ = Key{0};
    region_len_ = 0;
    outside_ = 0;
    if (bits == 0) return;
    std::tie(region_key_, region_len_, outside_) = choose_region(bits);
    const std::uint32_t slots = std::uint32_t{1} << bits;
    first_.assign(slots, Slot{});
    fill_region(0, slots - 1);
    return;
  }
  if (bits == 0 || !bears_on_region(key, len)) return;
  // Only the slots inside key/len can have changed: the nodes that end or branch outside it
  // keep their indices, and the prefixes covering other slots are the same.
  const std::uint32_t last = (std::uint32_t{1} << bits) - 1;
  if (len <= region_len_) {  // it covers the whole region
    fill_region(0, last);
    return;
  }
  const unsigned level = region_len_ + bits;
  const std::uint32_t lo = slot_of(key);
  const std::uint32_t hi = len >= level ? lo : lo + (std::uint32_t{1} << (level - len)) - 1;
  fill_region(lo, hi);
}

template <unsigned kBits>
std::tuple<typename PrefixTrie<kBits>::Key, std::uint8_t, std::size_t>
PrefixTrie<kBits>::choose_region(unsigned bits) const {
  // Routes under each node.
  std::vector<std::uint32_t> under(nodes_.size(), 0);
  const auto tally = [&](const auto& self, std::uint32_t i) -> std::uint32_t {
    if (i == kNil) return 0;
    const Node& n = nodes_[i];
    under[i] = (n.has_peer ? 1U : 0U) + self(self, n.child[0]) + self(self, n.child[1]);
    return under[i];
  };
  tally(tally, root_);
  // Down the heavier side while the prefix still bears on all but a sixteenth of the routes:
  // those under it, and those above it on the path (they cover it).
  const unsigned cap = kBits - bits;
  Key key{0};
  unsigned len = 0;
  std::size_t held = routes_;
  std::size_t above = 0;
  for (std::uint32_t i = root_; i != kNil;) {
    const Node& n = nodes_[i];
    const std::size_t here = above + under[i];
    if (here * 16 < routes_ * 15) break;
    if (n.len >= cap) {  // no room for the slot bits after n: the region stops short of it
      if (cap > len) {
        key = mask(n.key, cap);
        len = cap;
        held = here;
      }
      break;
    }
    key = n.key;
    len = n.len;
    held = here;
    if (n.has_peer) ++above;
    const std::uint32_t l = n.child[0], r = n.child[1];
    i = (l == kNil ? 0 : under[l]) >= (r == kNil ? 0 : under[r]) ? l : r;
  }
  return {key, static_cast<std::uint8_t>(len), routes_ - held};
}

template <unsigned kBits>
void PrefixTrie<kBits>::fill_region(std::uint32_t lo, std::uint32_t hi) {
  // The prefixes above the region that cover it give the best match to start from; the first
  // node at least as long as the region, if it lies inside it, is where the slots' nodes are.
  std::optional<PeerId> best;
  std::uint32_t i = root_;
  while (i != kNil && nodes_[i].len < region_len_) {
    const Node& n = nodes_[i];
    if (!covers(n.key, n.len, region_key_)) {
      i = kNil;
      break;
    }
    if (n.has_peer) best = n.peer;
    i = n.child[bit(region_key_, n.len)];
  }
  if (i != kNil && !in_region(nodes_[i].key)) i = kNil;
  fill(i, lo, hi, best);
}

template <unsigned kBits>
void PrefixTrie<kBits>::fill(std::uint32_t i, std::uint32_t lo, std::uint32_t hi,
                             std::optional<PeerId> best) {
  const auto set = [this](std::uint32_t from, std::uint32_t to, std::optional<PeerId> peer,
                          std::uint32_t next) {
    const Slot s{peer.value_or(0), next | (peer ? kSlotHasPeer : 0U)};
    std::fill(first_.begin() + from, first_.begin() + to + 1, s);
  };
  if (i == kNil) {
    set(lo, hi, best, kNodeMask);
    return;
  }
  const Node& n = nodes_[i];
  const std::uint32_t n_lo = slot_of(n.key);
  const unsigned level = region_len_ + slot_bits_;  // the slots' prefix length
  if (n.len >= level) {                             // n and everything under it lie in slot n_lo
    std::optional<PeerId> here = best;
    std::uint32_t next = i;
    if (n.len == level) {
      if (n.has_peer) here = n.peer;
      if (n.child[0] == kNil && n.child[1] == kNil) next = kNodeMask;
    }
    if (lo < n_lo) set(lo, std::min(hi, n_lo - 1), best, kNodeMask);
    if (lo <= n_lo && n_lo <= hi) set(n_lo, n_lo, here, next);
    if (hi > n_lo) set(std::max(lo, n_lo + 1), hi, best, kNodeMask);
    return;
  }
  // n covers the slots [n_lo, n_hi]; its children split them in halves.
  const std::uint32_t span = std::uint32_t{1} << (level - n.len);
  const std::uint32_t n_hi = n_lo + (span - 1);
  if (lo < n_lo) set(lo, std::min(hi, n_lo - 1), best, kNodeMask);
  if (hi > n_hi) set(std::max(lo, n_hi + 1), hi, best, kNodeMask);
  const std::uint32_t a = std::max(lo, n_lo), b = std::min(hi, n_hi);
  if (a > b) return;
  if (n.has_peer) best = n.peer;
  const std::uint32_t mid = n_lo + span / 2;
  const std::uint32_t left = n.child[0], right = n.child[1];
  if (a < mid) fill(left, a, std::min(b, mid - 1), best);
  if (b >= mid) fill(right, std::max(a, mid), b, best);
}

template <unsigned kBits>
bool PrefixTrie<kBits>::insert_node(Key key, unsigned len, PeerId peer) {
  key = mask(key, len);
  std::uint32_t parent = kNil;
  unsigned side = 0;
  std::uint32_t cur = root_;
  while (cur != kNil) {
    Node& n = nodes_[cur];
    const unsigned common = std::min({common_bits(n.key, key), unsigned{n.len}, len});
    if (common == n.len) {
      if (n.len == len) {  // the prefix itself: (re)assign its peer
        const bool fresh = !n.has_peer;
        n.peer = peer;
        n.has_peer = true;
        routes_ += fresh ? 1 : 0;
        return fresh;
      }
      parent = cur;  // n is a shorter prefix of key: descend
      side = bit(key, n.len);
      cur = n.child[side];
      continue;
    }
    // The new prefix ends inside n's prefix, or diverges from it, at bit `common`.
    const Key n_key = n.key;  // allocate() may move the nodes
    if (common == len) {
      const std::uint32_t m = allocate(key, len, peer);
      nodes_[m].child[bit(n_key, len)] = cur;
      link(parent, side, m);
    } else {
      const std::uint32_t leaf = allocate(key, len, peer);
      const std::uint32_t branch = allocate(mask(key, common), common, std::nullopt);
      nodes_[branch].child[bit(key, common)] = leaf;
      nodes_[branch].child[bit(n_key, common)] = cur;
      link(parent, side, branch);
    }
    ++routes_;
    return true;
  }
  link(parent, side, allocate(key, len, peer));
  ++routes_;
  return true;
}

template <unsigned kBits>
bool PrefixTrie<kBits>::remove_node(Key key, unsigned len) {
  key = mask(key, len);
  std::uint32_t grandparent = kNil, parent = kNil;
  unsigned grandparent_side = 0, parent_side = 0;
  std::uint32_t cur = root_;
  for (;;) {
    if (cur == kNil) return false;
    const Node& n = nodes_[cur];
    if (n.len > len || !covers(n.key, n.len, key)) return false;
    if (n.len == len) {
      if (!n.has_peer) return false;
      break;
    }
    grandparent = parent;
    grandparent_side = parent_side;
    parent = cur;
    parent_side = bit(key, n.len);
    cur = n.child[parent_side];
  }

  Node& n = nodes_[cur];
  n.has_peer = false;
  --routes_;
  const std::uint32_t left = n.child[0], right = n.child[1];
  if (left != kNil && right != kNil) return true;  // stays as a branch point
  if (left != kNil || right != kNil) {             // one child: splice n out
    link(parent, parent_side, left != kNil ? left : right);
    release(cur);
    return true;
  }
  link(parent, parent_side, kNil);
  release(cur);
  // A peerless parent was a branch point; with one child left it has no reason to exist.
  if (parent != kNil && !nodes_[parent].has_peer) {
    const Node& p = nodes_[parent];
    link(grandparent, grandparent_side, p.child[0] != kNil ? p.child[0] : p.child[1]);
    release(parent);
  }
  return true;
}

template <unsigned kBits>
std::size_t PrefixTrie<kBits>::remove_peer(PeerId peer) {
  std::vector<std::pair<Key, unsigned>> doomed;
  for_each([&](Key key, unsigned len, PeerId p) {
    if (p == peer) doomed.emplace_back(key, len);
  });
  for (const auto& [key, len] : doomed) remove(key, len);
  return doomed.size();
}

template <unsigned kBits>
void PrefixTrie<kBits>::clear() noexcept {
  nodes_.clear();
  free_.clear();
  decltype(first_)().swap(first_);
  slot_bits_ = 0;
  region_key_ = Key{0};
  region_len_ = 0;
  outside_ = 0;
  root_ = kNil;
  routes_ = 0;
}

template <unsigned kBits>
std::uint32_t PrefixTrie<kBits>::allocate(Key key, unsigned len, std::optional<PeerId> peer) {
  Node node;
  node.key = key;
  node.len = static_cast<std::uint8_t>(len);
  node.has_peer = peer.has_value();
  node.peer = peer.value_or(0);
  if (!free_.empty()) {
    const std::uint32_t i = free_.back();
    free_.pop_back();
    nodes_[i] = node;
    return i;
  }
  if (nodes_.size() >= kNodeMask) throw std::length_error("allowed IPs: too many trie nodes");
  nodes_.push_back(node);
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

template <unsigned kBits>
void PrefixTrie<kBits>::release(std::uint32_t i) {
  nodes_[i] = Node{};
  free_.push_back(i);
}

template <unsigned kBits>
void PrefixTrie<kBits>::link(std::uint32_t parent, unsigned side, std::uint32_t child) noexcept {
  if (parent == kNil) {
    root_ = child;
  } else {
    nodes_[parent].child[side] = child;
  }
}

template class PrefixTrie<32>;
template class PrefixTrie<128>;

}  // namespace detail

namespace {

void store_v4(std::uint32_t key, std::array<std::uint8_t, 16>& out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(key >> (24 - 8 * i));
}
void store_v6(detail::Uint128 key, std::array<std::uint8_t, 16>& out) {
  for (int i = 0; i < 16; ++i) out[i] = static_cast<std::uint8_t>(key >> (120 - 8 * i));
}

}  // namespace

std::string_view describe(AllowedIpsError error) noexcept {
  switch (error) {
    case AllowedIpsError::none: return "ok";
    case AllowedIpsError::v4_prefix_too_long: return "IPv4 prefix length must be at most 32";
    case AllowedIpsError::v6_prefix_too_long: return "IPv6 prefix length must be at most 128";
    case AllowedIpsError::bad_family: return "address family must be IPv4 or IPv6";
    case AllowedIpsError::not_found: return "no such allowed IP";
  }
  return "unknown allowed-IPs error";
}

AllowedIpsError AllowedIps::insert(const IpPrefix& prefix, PeerId peer) {
  switch (prefix.family) {
    case IpFamily::v4:
      if (prefix.len > 32) return AllowedIpsError::v4_prefix_too_long;
      v4_.insert(load_v4(prefix.addr.data()), prefix.len, peer);
      return AllowedIpsError::none;
    case IpFamily::v6:
      if (prefix.len > 128) return AllowedIpsError::v6_prefix_too_long;
      v6_.insert(load_v6(prefix.addr.data()), prefix.len, peer);
      return AllowedIpsError::none;
  }
  return AllowedIpsError::bad_family;
}

AllowedIpsError AllowedIps::remove(const IpPrefix& prefix) {
  switch (prefix.family) {
    case IpFamily::v4:
      if (prefix.len > 32) return AllowedIpsError::v4_prefix_too_long;
      return v4_.remove(load_v4(prefix.addr.data()), prefix.len) ? AllowedIpsError::none
                                                                 : AllowedIpsError::not_found;
    case IpFamily::v6:
      if (prefix.len > 128) return AllowedIpsError::v6_prefix_too_long;
      return v6_.remove(load_v6(prefix.addr.data()), prefix.len) ? AllowedIpsError::none
                                                                 : AllowedIpsError::not_found;
  }
  return AllowedIpsError::bad_family;
}

std::size_t AllowedIps::remove_peer(PeerId peer) {
  return v4_.remove_peer(peer) + v6_.remove_peer(peer);
}

void AllowedIps::clear() noexcept {
  v4_.clear();
  v6_.clear();
}

std::vector<AllowedIpsEntry> AllowedIps::entries() const {
  std::vector<AllowedIpsEntry> out;
  out.reserve(size());
  v4_.for_each([&](std::uint32_t key, unsigned len, PeerId peer) {
    AllowedIpsEntry e;
    e.prefix.family = IpFamily::v4;
    store_v4(key, e.prefix.addr);
    e.prefix.len = static_cast<std::uint8_t>(len);
    e.peer = peer;
    out.push_back(e);
  });
  v6_.for_each([&](detail::Uint128 key, unsigned len, PeerId peer) {
    AllowedIpsEntry e;
    e.prefix.family = IpFamily::v6;
    store_v6(key, e.prefix.addr);
    e.prefix.len = static_cast<std::uint8_t>(len);
    e.peer = peer;
    out.push_back(e);
  });
  std::sort(out.begin(), out.end(), [](const AllowedIpsEntry& a, const AllowedIpsEntry& b) {
    if (a.peer != b.peer) return a.peer < b.peer;
    return a.prefix < b.prefix;
  });
  return out;
}

std::vector<IpPrefix> AllowedIps::entries_for_peer(PeerId peer) const {
  std::vector<IpPrefix> out;
  v4_.for_each([&](std::uint32_t key, unsigned len, PeerId p) {
    if (p != peer) return;
    IpPrefix& prefix = out.emplace_back();
    prefix.family = IpFamily::v4;
    store_v4(key, prefix.addr);
    prefix.len = static_cast<std::uint8_t>(len);
  });
  v6_.for_each([&](detail::Uint128 key, unsigned len, PeerId p) {
    if (p != peer) return;
    IpPrefix& prefix = out.emplace_back();
    prefix.family = IpFamily::v6;
    store_v6(key, prefix.addr);
    prefix.len = static_cast<std::uint8_t>(len);
  });
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace strait::wg

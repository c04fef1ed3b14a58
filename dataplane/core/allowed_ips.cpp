#include "core/allowed_ips.hpp"

#include <algorithm>
#include <stdexcept>
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
  update_first_level(key, len);
  return fresh;
}

template <unsigned kBits>
bool PrefixTrie<kBits>::remove(Key key, unsigned len) {
  if (!remove_node(key, len)) return false;
  update_first_level(key, len);
  return true;
}

template <unsigned kBits>
void PrefixTrie<kBits>::update_first_level(Key key, unsigned len) {
  unsigned bits = 0;
  if (routes_ >= kWideFrom || (slot_bits_ == kWideSlotBits && routes_ >= kWideFrom / 2)) {
    bits = kWideSlotBits;
  } else if (routes_ >= kFirstLevelFrom || (slot_bits_ != 0 && routes_ >= kFirstLevelFrom / 2)) {
    bits = kNarrowSlotBits;
  }
  if (bits != slot_bits_) {            // build, rebuild at the other width, or drop
    std::vector<Slot>().swap(first_);  // give the memory back, copies shrink with it
    slot_bits_ = static_cast<std::uint8_t>(bits);
    if (bits == 0) return;
    const std::uint32_t slots = std::uint32_t{1} << bits;
    first_.assign(slots, Slot{});
    fill(root_, 0, slots - 1, std::nullopt);
    return;
  }
  if (bits == 0) return;
  // Only the slots inside key/len can have changed: the nodes that end or branch outside it
  // keep their indices, and the prefixes covering other slots are the same.
  const std::uint32_t lo = slot_of(mask(key, len));
  const std::uint32_t hi = len >= bits ? lo : lo + (std::uint32_t{1} << (bits - len)) - 1;
  fill(root_, lo, hi, std::nullopt);
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
  if (n.len >= slot_bits_) {  // n and everything under it lie in slot n_lo
    std::optional<PeerId> here = best;
    std::uint32_t next = i;
    if (n.len == slot_bits_) {
      if (n.has_peer) here = n.peer;
      if (n.child[0] == kNil && n.child[1] == kNil) next = kNodeMask;
    }
    if (lo < n_lo) set(lo, std::min(hi, n_lo - 1), best, kNodeMask);
    if (lo <= n_lo && n_lo <= hi) set(n_lo, n_lo, here, next);
    if (hi > n_lo) set(std::max(lo, n_lo + 1), hi, best, kNodeMask);
    return;
  }
  // n covers the slots [n_lo, n_hi]; its children split them in halves.
  const std::uint32_t span = std::uint32_t{1} << (slot_bits_ - n.len);
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
  std::vector<Slot>().swap(first_);
  slot_bits_ = 0;
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

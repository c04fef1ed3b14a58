#include "core/peer_index.hpp"

#include <algorithm>
#include <bit>

namespace strait::wg {

PeerIndex::PeerIndex(std::size_t capacity)
    : slots_(std::bit_ceil(std::clamp<std::size_t>(capacity, 2, kMaxCapacity))),
      mask_(static_cast<std::uint32_t>(slots_.size() - 1)) {}

bool PeerIndex::insert(std::uint32_t index, const IndexEntry& value) {
  if (index == 0 || slots_[index & mask_].index != 0) return false;
  place(index, value);
  return true;
}

bool PeerIndex::replace(std::uint32_t index, const IndexEntry& value) noexcept {
  Slot& s = slots_[index & mask_];
  if (index == 0 || s.index != index) return false;
  s.value = value;
  return true;
}

bool PeerIndex::remove(std::uint32_t index) noexcept {
  Slot& s = slots_[index & mask_];
  if (index == 0 || s.index != index) return false;
  s = Slot{};
  --size_;
  return true;
}

void PeerIndex::clear() noexcept {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  size_ = 0;
}

std::uint32_t PeerIndex::place(std::uint32_t index, const IndexEntry& value) noexcept {
  Slot& s = slots_[index & mask_];
  s.index = index;
  s.value = value;
  ++size_;
  return index;
}

}  // namespace strait::wg

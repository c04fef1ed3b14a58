#pragma once
// The packets a peer holds while it has no usable keypair (Linux send.c: the staged packet
// queue, MAX_STAGED_PACKETS = 128). Bounded: when full, the oldest packet makes room, because
// the newest is the one a retransmitting application still cares about.
//
// Slow-path thread only; allocates (a copy of every staged packet).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace strait::wg {

class StagingQueue {
 public:
  static constexpr std::size_t kDefaultCapacity = 128;

  explicit StagingQueue(std::size_t capacity = kDefaultCapacity)
      : capacity_(capacity == 0 ? 1 : capacity) {}

  // Copies the packet in; returns how many older packets were dropped to make room (0 or 1).
  [[nodiscard]] std::size_t push(std::span<const std::uint8_t> packet) {
    std::size_t dropped = 0;
    if (packets_.size() >= capacity_) {
      packets_.pop_front();
      dropped = 1;
    }
    packets_.emplace_back(packet.begin(), packet.end());
    return dropped;
  }

  // Takes every staged packet out, oldest first.
  [[nodiscard]] std::deque<std::vector<std::uint8_t>> take_all() {
    std::deque<std::vector<std::uint8_t>> out;
    out.swap(packets_);
    return out;
  }

  // Puts packets back in front (they could not be sent after all), keeping the bound; returns
  // how many of the oldest were dropped.
  [[nodiscard]] std::size_t put_back(std::deque<std::vector<std::uint8_t>>&& older) {
    for (auto& p : packets_) older.push_back(std::move(p));
    packets_.swap(older);
    std::size_t dropped = 0;
    while (packets_.size() > capacity_) {
      packets_.pop_front();
      ++dropped;
    }
    return dropped;
  }

  // Drops everything; returns how many packets were dropped.
  [[nodiscard]] std::size_t clear() {
    const std::size_t n = packets_.size();
    packets_.clear();
    return n;
  }

  [[nodiscard]] std::size_t size() const { return packets_.size(); }
  [[nodiscard]] bool empty() const { return packets_.empty(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::deque<std::vector<std::uint8_t>> packets_;
};

}  // namespace strait::wg

#pragma once
// Drop counters by reason (drop_reasons.def), one block per device and one per peer.
// Slow-path thread only.

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/drop_reason.hpp"
#include "uapi/model.hpp"

namespace strait::wg {

class DropCounters {
 public:
  void add(DropReason reason, std::uint64_t n = 1) noexcept {
    counts_[static_cast<std::size_t>(reason)] += n;
  }
  [[nodiscard]] std::uint64_t operator[](DropReason reason) const noexcept {
    return counts_[static_cast<std::size_t>(reason)];
  }
  [[nodiscard]] std::uint64_t total() const noexcept {
    std::uint64_t t = 0;
    for (const std::uint64_t c : counts_) t += c;
    return t;
  }
  // The non-zero counters as the UAPI reports them (strait_drop_<reason>=<n>).
  [[nodiscard]] uapi::DropCounters to_uapi() const {
    uapi::DropCounters out;
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
      if (counts_[i] != 0) out.emplace_back(std::string(kDropReasonNames[i]), counts_[i]);
    }
    return out;
  }

 private:
  std::array<std::uint64_t, kDropReasonCount> counts_{};
};

}  // namespace strait::wg

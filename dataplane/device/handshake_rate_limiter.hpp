#pragma once
// Per-source rate limit on handshake messages, as the Linux module's ratelimiter.c: a token
// bucket of 20 packets per second with a burst of 5 for each IPv4 address and each IPv6 /64
// (one host usually owns a whole /64). A bounded table: when it is full, unknown sources are
// refused until idle entries (no packet for 1 s, when their bucket is full again) are
// collected. The Device applies it where Linux does: under load, to handshake messages whose
// mac2 carries a valid cookie (paper section 5.3: the cookie proves the source address, so
// limiting by address is meaningful only then).
//
// Slow-path thread only. Allocates (the table) on first sight of a source.

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "core/types.hpp"
#include "uapi/model.hpp"

namespace strait::wg {

class HandshakeRateLimiter {
 public:
  static constexpr std::uint32_t kPacketsPerSecond = 20;
  static constexpr std::uint32_t kPacketsBurst = 5;
  static constexpr Time kPacketCost = std::chrono::nanoseconds(1'000'000'000 / kPacketsPerSecond);
  static constexpr Time kTokenMax = kPacketCost * kPacketsBurst;
  // An entry idle this long has a full bucket again and carries no information.
  static constexpr Time kIdleExpiry = std::chrono::seconds(1);
  static constexpr std::size_t kDefaultMaxEntries = 8192;

  explicit HandshakeRateLimiter(std::size_t max_entries = kDefaultMaxEntries)
      : max_entries_(max_entries) {}

  // True if a handshake message from `source` may be processed at `now`.
  [[nodiscard]] bool allow(const uapi::Endpoint& source, Time now);

  [[nodiscard]] std::size_t size() const { return table_.size(); }

 private:
  struct Bucket {
    Time last{};
    Time tokens{};
  };
  // IPv4: the address; IPv6: the first 64 bits. The family goes into the top bits so that an
  // IPv4 address never shares a bucket with an IPv6 prefix.
  struct SourceKey {
    std::uint64_t prefix = 0;
    std::uint8_t family = 0;
    bool operator==(const SourceKey&) const = default;
  };
  struct SourceKeyHash {
    std::size_t operator()(const SourceKey& k) const noexcept {
      return std::hash<std::uint64_t>{}(k.prefix * 0x9e3779b97f4a7c15ULL + k.family);
    }
  };

  [[nodiscard]] static SourceKey key_of(const uapi::Endpoint& source);
  void collect(Time now);

  std::size_t max_entries_;
  std::unordered_map<SourceKey, Bucket, SourceKeyHash> table_;
  Time last_collect_{};
  bool collected_once_ = false;
};

}  // namespace strait::wg

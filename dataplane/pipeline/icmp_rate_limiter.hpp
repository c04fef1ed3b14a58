#pragma once
// The per-lcore limit on ICMP "fragmentation needed" / ICMPv6 "packet too big" messages the
// encap stage sends back to the bridge (RFC 1812 section 4.3.2.8 and RFC 4443 section 2.4(f):
// a router must limit the rate of the ICMP errors it originates). A token bucket in its GCRA
// form (one time stamp, no division): kIcmpPerSecond on average, bursts of kIcmpBurst.
//
// Threads: one per StageContext, read and written only by its thread; no atomics, no locks.
// Several lcores together may thus send (lcores x kIcmpPerSecond); the limit protects the
// bridge and the senders, not a global budget.

#include <cstdint>
#include <limits>

namespace strait::dp {

inline constexpr std::int64_t kIcmpPerSecond = 100;
inline constexpr std::int64_t kIcmpBurst = 10;

class IcmpRateLimiter {
 public:
  // Whether one more message may go out at now_ns (monotonic nanoseconds); takes its token.
  [[nodiscard]] bool allow(std::int64_t now_ns) noexcept {
    // tat_ns_: the theoretical arrival time of the next conforming message. A message conforms
    // while tat is at most (burst - 1) intervals ahead of now.
    if (tat_ns_ < now_ns) tat_ns_ = now_ns;
    if (tat_ns_ - now_ns > kTolerance) return false;
    tat_ns_ += kInterval;
    return true;
  }

 private:
  static constexpr std::int64_t kInterval = 1'000'000'000 / kIcmpPerSecond;
  static constexpr std::int64_t kTolerance = (kIcmpBurst - 1) * kInterval;
  std::int64_t tat_ns_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace strait::dp

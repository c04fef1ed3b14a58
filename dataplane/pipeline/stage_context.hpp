#pragma once
// What one worker lcore (or the slow-path thread, for encap_one) brings to a pipeline stage:
// its AEAD engine, its counter block and the time of the current poll.
//
// Threads: one StageContext per thread, read and written by that thread only. The engine and
// the counter block it points to are that thread's own (an ipsec-mb manager is not
// thread-safe; counter blocks have a single writer, dpdk/counters.hpp).

#include <cstdint>

#include "crypto/aead_burst.hpp"
#include "dpdk/counters.hpp"
#include "pipeline/icmp_rate_limiter.hpp"

namespace strait::dp {

struct StageContext {
  crypto::AeadEngine* aead = nullptr;  // never null while a stage runs
  LcoreCounters* counters = nullptr;   // never null while a stage runs
  // The time of this poll, in nanoseconds on the slow path's clock (the one the Device stamps
  // keypair birthdates with, wg::Time), set once per poll rather than read per packet.
  std::int64_t now_ns = 0;
  // The ICMP too-big messages this thread sends back to the bridge (encap stage).
  IcmpRateLimiter icmp_limit{};
};

// The largest number of packets a stage works on at once; longer bursts are processed in
// chunks of this size (the scratch arrays live on the stack, so nothing is allocated).
inline constexpr std::uint16_t kStageChunk = 64;

}  // namespace strait::dp

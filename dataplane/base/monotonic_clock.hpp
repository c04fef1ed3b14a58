#pragma once
// The data plane's clock: CLOCK_MONOTONIC in nanoseconds since an arbitrary origin, never
// wall-clock (docs/LAYERS.md, floor 0). straitd feeds it to the sans-I/O core (as wg::Time,
// which is std::chrono::nanoseconds) and to the burst stages (StageContext::now_ns); the
// tools that drive a Device the same way (perf/pktgen, tests/interop) read the same clock.
// Inline: the workers read it once per burst. In namespace strait itself, like the rest of base.

#include <time.h>

#include <cstdint>

namespace strait {

[[nodiscard]] inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace strait

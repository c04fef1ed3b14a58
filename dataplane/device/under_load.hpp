#pragma once
// Whether the device is "under load" (WireGuard paper section 5.3), decided as the Linux module
// does (receive.c, wg_receive_handshake_packet): the queue of handshake messages waiting for
// the slow path is at least 1/8 full, and the state holds for one second after the last time it
// was, so that a flood that pauses for a moment does not let unproven initiations through
// between its bursts. Under load, handshake messages need a valid mac2 (else a cookie reply is
// sent) and are then rate limited per source (device.hpp).
//
// Sans-I/O: the host samples its queue and passes the time. Slow-path thread only.

#include <cstddef>
#include <optional>

#include "core/types.hpp"

namespace strait::wg {

class UnderLoad {
 public:
  static constexpr std::size_t kQueueFraction = 8;  // Linux: MAX_QUEUED_INCOMING_HANDSHAKES / 8
  static constexpr Time kHold = std::chrono::seconds(1);

  // `queued` handshake messages wait in a queue of `capacity` at `now`; returns under_load().
  bool observe(std::size_t queued, std::size_t capacity, Time now);

  [[nodiscard]] bool under_load() const { return under_load_; }

 private:
  std::optional<Time> last_loaded_;  // the last observation at or above the threshold
  bool under_load_ = false;
};

}  // namespace strait::wg

#pragma once
// What the sans-I/O Device needs from its host: a way to put bytes on the wire and hand
// decrypted packets up, notifications for straitd's fast-path snapshot, and a wall clock.
// The Device has no sockets, no clock and no threads of its own (docs/STRAITD.md); straitd's
// slow-path thread, the unit tests and the interop driver each implement DeviceIo.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "core/keypair.hpp"
#include "core/types.hpp"
#include "uapi/model.hpp"

namespace strait::wg {

// Called by the Device, on the caller's thread, from inside receive/send/tick. The spans are
// valid only during the call (they point into the Device's own buffer), and an implementation
// must not call back into the Device from inside a callback: copy what it needs and act after
// the Device call returns (e.g. answer a delivered packet with send() afterwards).
struct DeviceIo {
  // A UDP payload (handshake message, cookie reply or transport data) for `to`.
  virtual void send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) = 0;
  // A decrypted inner IP packet, authenticated and allowed by cryptokey routing, trimmed to
  // its IP length (WireGuard paper section 2.1).
  virtual void deliver(PeerId peer, std::span<const std::uint8_t> ip_packet) = 0;
  // The peer's sessions, endpoint or configuration changed: straitd republishes its fast-path
  // snapshot (docs/STRAITD.md "Publishing configuration: RCU").
  virtual void on_session_changed(PeerId /*peer*/) {}
  // The Device dropped a keypair (rotation, expiry, zeroing, peer removal) and unregistered
  // its receiver index. Lcores may still read it: straitd keeps the pointer until an RCU grace
  // period has passed. Ignoring it (the default) frees it at once when nothing else holds it.
  // A sink: hosts keep the pointer (by value, moved in), the default lets it go.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void on_keypair_released(std::shared_ptr<Keypair> /*keypair*/) {}

 protected:
  ~DeviceIo() = default;
};

// Wall-clock time (CLOCK_REALTIME): for TAI64N timestamps in initiations (paper section 5.1)
// and the last-handshake time reported through the UAPI. Never used for timers.
struct WallTime {
  std::int64_t seconds = 0;
  std::uint32_t nanoseconds = 0;
};
using WallClock = std::function<WallTime()>;

// clock_gettime(CLOCK_REALTIME).
[[nodiscard]] WallTime system_wall_clock();

}  // namespace strait::wg

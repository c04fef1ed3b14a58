#pragma once
// The per-peer timer state machine of WireGuard paper section 6, with the semantics of the
// Linux module's timers.c and send.c/receive.c keep_key_fresh. Sans-I/O: events are method
// calls carrying the caller's time; poll(now) says what to do; next_deadline() says when to
// poll again. No callbacks, no clock, no I/O.
//
// The timers (each an optional deadline):
//   retransmit_handshake  REKEY_TIMEOUT + jitter after we sent an initiation: resend it, or,
//                         after kMaxTimerHandshakes initiations, give up (paper 6.4).
//   send_keepalive        KEEPALIVE_TIMEOUT after data arrived, unless we sent something since
//                         (paper 6.5, passive keepalive).
//   new_handshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after we sent data,
//                         unless something authenticated arrived since (paper 6.5).
//   zero_key_material     REJECT_AFTER_TIME * 3 after the last session was derived: erase
//                         every key (paper 6.3).
//   persistent_keepalive  every interval after any authenticated packet went either way
//                         (off when the interval is 0; wg(8) PersistentKeepalive).
//
// How the caller drives it (the Linux call sites):
//   we send an initiation ........ on_handshake_initiated (+ on_any_authenticated_packet_traversal,
//                                  on_any_authenticated_packet_sent)
//   we send a response ........... on_handshake_response_sent, on_session_derived
//                                  (+ traversal, sent)
//   a valid initiation arrives ... on_any_authenticated_packet_received, traversal
//   a valid response arrives ..... on_handshake_response_received (does all of it: received,
//                                  traversal, complete, session derived, keepalive due now)
//   the first data on a responder keypair (Keypairs::received_with true) .. on_handshake_complete
//   a data/keepalive message is sent ....... on_any_authenticated_packet_sent, traversal,
//                                  and on_data_sent unless it was a keepalive
//   a data/keepalive message authenticates . on_any_authenticated_packet_received, traversal,
//                                  and on_data_received unless it was a keepalive
//   no usable keypair to send, or should_initiate_on_send/_on_receive ...
//                                  request_handshake_initiation
//   poll() says send_handshake_initiation .. build and send one, then the first row.
//   poll() says send_keepalive ............. send a keepalive (an empty data message; with no
//                                  usable keypair that means request_handshake_initiation).
//   poll() says handshake_gave_up .......... drop the packets staged for this peer.
//   poll() says zero_keys .................. Keypairs::clear and erase the handshake state.
//
// Thread: the slow-path thread owns a PeerTimers; lcores report events to it through a ring.

#include <cstdint>
#include <functional>
#include <optional>

#include "core/keypair.hpp"
#include "core/types.hpp"

namespace strait::wg {

// REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18 initiations, then give up (paper section 6.4).
// The Linux module counts retries with `attempts > MAX_TIMER_HANDSHAKES` and so sends 20
// initiations over about 100 s; we stop after 18, i.e. REKEY_ATTEMPT_TIME plus jitter.
inline constexpr unsigned kMaxTimerHandshakes =
    static_cast<unsigned>(kRekeyAttemptTime / kRekeyTimeout);

// Uniform 64-bit random numbers for the jitter. Injected so tests are deterministic; straitd
// passes a CSPRNG-seeded generator (predictable jitter only lets an observer guess retry
// times, so a fast non-cryptographic generator is fine).
using JitterSource = std::function<std::uint64_t()>;

// What poll() asks the caller to do. Several may be set at once.
struct TimerActions {
  bool send_handshake_initiation = false;
  bool send_keepalive = false;
  bool handshake_gave_up = false;  // drop the staged packets
  bool zero_keys = false;          // clear keypairs and handshake state

  [[nodiscard]] bool any() const noexcept {
    return send_handshake_initiation || send_keepalive || handshake_gave_up || zero_keys;
  }
  bool operator==(const TimerActions&) const = default;
};

class PeerTimers {
 public:
  // persistent_keepalive_interval 0 = off. Throws std::invalid_argument on an empty source.
  explicit PeerTimers(JitterSource jitter, Time persistent_keepalive_interval = Time::zero());

  // --- Events (Linux timers.c wg_timers_*).
  // A data message (not a keepalive) was sent: arm new_handshake unless armed.
  void on_data_sent(Time now) noexcept;
  // A data message (not a keepalive) authenticated: arm send_keepalive unless armed.
  void on_data_received(Time now) noexcept;
  // Any authenticated message (handshake, data, keepalive) was sent: we are not silent, so
  // the passive keepalive is not needed.
  void on_any_authenticated_packet_sent(Time now) noexcept;
  // Any authenticated message arrived: the peer is alive, no new handshake for silence.
  void on_any_authenticated_packet_received(Time now) noexcept;
  // Any authenticated message went either way: restart the persistent keepalive.
  void on_any_authenticated_packet_traversal(Time now) noexcept;
  // We sent an initiation: rate-limit clock, attempt count, arm retransmit_handshake.
  void on_handshake_initiated(Time now) noexcept;
  // We sent a response (Linux counts it for the initiation rate limit too, so the two ends
  // do not start crossing handshakes while the responder waits for confirmation).
  void on_handshake_response_sent(Time now) noexcept;
  // A handshake is confirmed (response received, or first data on a responder keypair):
  // stop retransmitting, reset the attempt count and the receive-side rekey latch.
  void on_handshake_complete(Time now) noexcept;
  // New session keys exist: re-arm zero_key_material at REJECT_AFTER_TIME * 3.
  void on_session_derived(Time now) noexcept;
  // A valid response to our initiation arrived (Linux receive.c): received + traversal +
  // complete + session derived, and a keepalive due at once to confirm the session to the
  // responder (paper section 5.4.7) unless data goes first.
  void on_handshake_response_received(Time now) noexcept;

  // The data path wants a session (no usable keypair, or a rekey rule fired). Starts a new
  // attempt series (the give-up count restarts: Linux send.c with is_retry false) and asks
  // poll() for an initiation, which it grants only if none was sent in the last
  // REKEY_TIMEOUT (Linux send.c: initiations are rate limited).
  void request_handshake_initiation(Time now) noexcept;

  // Sets the persistent keepalive interval (0 = off). A changed non-zero interval makes a
  // keepalive due at once, as wg(8) set does on the Linux module.
  void set_persistent_keepalive_interval(Time interval, Time now) noexcept;

  // Disarms everything (peer removed or interface down).
  void stop() noexcept;

  // --- Actions.
  // Fires every expired timer and returns what to do. Re-arming happens through the events
  // the caller reports when it does what was asked.
  [[nodiscard]] TimerActions poll(Time now) noexcept;
  // The earliest armed deadline (poll then), or nullopt if nothing is armed. A pending
  // request_handshake_initiation counts as a deadline at the time of the request.
  [[nodiscard]] std::optional<Time> next_deadline() const noexcept;

  // --- Rekey rules, checked by the data path (they read only the keypair).
  // Linux send.c: before/after sending, initiate if there is no usable keypair, or it is
  // past REKEY_AFTER_MESSAGES, or past REKEY_AFTER_TIME and we initiated it.
  [[nodiscard]] static bool should_initiate_on_send(const Keypair* current, Time now) noexcept;
  // Linux receive.c: when data arrives, initiate if the current keypair is ours and older
  // than REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT; at most once per session
  // (latch reset by on_handshake_complete), so every received packet does not ask again.
  [[nodiscard]] bool should_initiate_on_receive(const Keypair* current, Time now) noexcept;

  // --- Introspection (UAPI, tests).
  [[nodiscard]] unsigned handshake_attempts() const noexcept { return handshake_attempts_; }
  [[nodiscard]] std::optional<Time> last_handshake_sent() const noexcept {
    return last_sent_handshake_;
  }
  [[nodiscard]] Time persistent_keepalive_interval() const noexcept {
    return persistent_keepalive_interval_;
  }
  [[nodiscard]] std::optional<Time> retransmit_handshake_deadline() const noexcept {
    return retransmit_handshake_;
  }
  [[nodiscard]] std::optional<Time> send_keepalive_deadline() const noexcept {
    return send_keepalive_;
  }
  [[nodiscard]] std::optional<Time> new_handshake_deadline() const noexcept {
    return new_handshake_;
  }
  [[nodiscard]] std::optional<Time> zero_key_material_deadline() const noexcept {
    return zero_key_material_;
  }
  [[nodiscard]] std::optional<Time> persistent_keepalive_deadline() const noexcept {
    return persistent_keepalive_;
  }

  // A value in [0, kRekeyTimeoutJitterMax) from the jitter source.
  [[nodiscard]] Time jitter() noexcept;

 private:
  JitterSource random_;
  Time persistent_keepalive_interval_;

  std::optional<Time> retransmit_handshake_;
  std::optional<Time> send_keepalive_;
  std::optional<Time> new_handshake_;
  std::optional<Time> zero_key_material_;
  std::optional<Time> persistent_keepalive_;

  std::optional<Time> last_sent_handshake_;  // initiation or response, for the rate limit
  unsigned handshake_attempts_ = 0;          // initiations sent in the current series
  std::optional<Time> initiation_wanted_;    // when an initiation was asked for, until poll
  bool sent_lastminute_handshake_ = false;   // should_initiate_on_receive latch

  [[nodiscard]] bool initiation_rate_limited(Time now) const noexcept;
};

}  // namespace strait::wg

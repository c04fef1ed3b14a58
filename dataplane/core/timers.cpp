#include "core/timers.hpp"

#include <stdexcept>
#include <utility>

namespace strait::wg {

namespace {

bool expired(const std::optional<Time>& deadline, Time now) noexcept {
  return deadline && *deadline <= now;
}

}  // namespace

PeerTimers::PeerTimers(JitterSource jitter, Time persistent_keepalive_interval)
    : random_(std::move(jitter)), persistent_keepalive_interval_(persistent_keepalive_interval) {
  if (!random_) throw std::invalid_argument("PeerTimers: empty jitter source");
  if (persistent_keepalive_interval_ < Time::zero()) persistent_keepalive_interval_ = Time::zero();
}

Time PeerTimers::jitter() noexcept {
  // A 64-bit draw reduced modulo 334 ms in ns: the modulo bias is below 2^-34, irrelevant.
  const auto range = static_cast<std::uint64_t>(kRekeyTimeoutJitterMax.count());
  return Time(static_cast<Time::rep>(random_() % range));
}

void PeerTimers::on_data_sent(Time now) noexcept {
  // Armed once per silence period: later data must not push the deadline out, or a peer
  // that keeps sending into the void would never notice (Linux: only if not pending).
  if (!new_handshake_) new_handshake_ = now + kKeepaliveTimeout + kRekeyTimeout + jitter();
}

void PeerTimers::on_data_received(Time now) noexcept {
  // The Linux module also sets timer_need_another_keepalive when data arrives while this
  // timer is pending, to re-arm after the keepalive; but the keepalive's own send deletes
  // that re-armed timer again (wg_timers_any_authenticated_packet_sent), and the keepalive
  // we send acknowledges everything received before it. So that flag is left out.
  if (!send_keepalive_) send_keepalive_ = now + kKeepaliveTimeout;
}

void PeerTimers::on_any_authenticated_packet_sent(Time /*now*/) noexcept {
  send_keepalive_.reset();
}

void PeerTimers::on_any_authenticated_packet_received(Time /*now*/) noexcept {
  new_handshake_.reset();
}

void PeerTimers::on_any_authenticated_packet_traversal(Time now) noexcept {
  if (persistent_keepalive_interval_ > Time::zero())
    persistent_keepalive_ = now + persistent_keepalive_interval_;
}

void PeerTimers::on_handshake_initiated(Time now) noexcept {
  last_sent_handshake_ = now;
  ++handshake_attempts_;
  retransmit_handshake_ = now + kRekeyTimeout + jitter();
}

void PeerTimers::on_handshake_response_sent(Time now) noexcept { last_sent_handshake_ = now; }

void PeerTimers::on_handshake_complete(Time /*now*/) noexcept {
  retransmit_handshake_.reset();
  handshake_attempts_ = 0;
  sent_lastminute_handshake_ = false;
}

void PeerTimers::on_session_derived(Time now) noexcept {
  zero_key_material_ = now + kRejectAfterTime * 3;
}

void PeerTimers::on_handshake_response_received(Time now) noexcept {
  on_any_authenticated_packet_received(now);
  on_any_authenticated_packet_traversal(now);
  on_handshake_complete(now);
  on_session_derived(now);
  // Paper section 5.4.7: the responder may not send until it receives data on the new
  // session, so confirm it now. Due at once; data sent first cancels it (it confirms too).
  send_keepalive_ = now;
}

void PeerTimers::request_handshake_initiation(Time now) noexcept {
  handshake_attempts_ = 0;
  if (!initiation_wanted_) initiation_wanted_ = now;
}

void PeerTimers::set_persistent_keepalive_interval(Time interval, Time now) noexcept {
  if (interval < Time::zero()) interval = Time::zero();
  const bool changed = interval != persistent_keepalive_interval_;
  persistent_keepalive_interval_ = interval;
  if (interval == Time::zero()) {
    persistent_keepalive_.reset();
  } else if (changed) {
    persistent_keepalive_ = now;
  }
}

void PeerTimers::stop() noexcept {
  retransmit_handshake_.reset();
  send_keepalive_.reset();
  new_handshake_.reset();
  zero_key_material_.reset();
  persistent_keepalive_.reset();
  initiation_wanted_.reset();
}

bool PeerTimers::initiation_rate_limited(Time now) const noexcept {
  return last_sent_handshake_ && now < *last_sent_handshake_ + kRekeyTimeout;
}

TimerActions PeerTimers::poll(Time now) noexcept {
  TimerActions out;

  if (expired(retransmit_handshake_, now)) {
    retransmit_handshake_.reset();
    if (handshake_attempts_ >= kMaxTimerHandshakes) {
      // Paper section 6.4: stop after REKEY_ATTEMPT_TIME. Nothing will go out, so no
      // keepalive either; keys still go REJECT_AFTER_TIME * 3 after the last session, or
      // from now if no session ever set that timer.
      out.handshake_gave_up = true;
      send_keepalive_.reset();
      if (!zero_key_material_) zero_key_material_ = now + kRejectAfterTime * 3;
    } else {
      initiation_wanted_ = now;  // a retry: the attempt count continues
    }
  }

  if (expired(new_handshake_, now)) {
    // We sent data and heard nothing for KEEPALIVE + REKEY_TIMEOUT: the peer may have lost
    // our session (rebooted); start over (paper section 6.5).
    new_handshake_.reset();
    handshake_attempts_ = 0;
    initiation_wanted_ = now;
  }

  if (initiation_wanted_) {
    initiation_wanted_.reset();
    // A rate-limited request is dropped, not deferred: the initiation sent less than
    // REKEY_TIMEOUT ago has its own retransmission armed.
    if (!initiation_rate_limited(now)) out.send_handshake_initiation = true;
  }

  if (expired(send_keepalive_, now)) {
    send_keepalive_.reset();
    out.send_keepalive = true;
  }

  if (expired(persistent_keepalive_, now)) {
    persistent_keepalive_.reset();  // re-armed by the keepalive's traversal
    out.send_keepalive = true;
  }

  if (expired(zero_key_material_, now)) {
    zero_key_material_.reset();
    out.zero_keys = true;
  }

  return out;
}

std::optional<Time> PeerTimers::next_deadline() const noexcept {
  std::optional<Time> earliest;
  for (const std::optional<Time>* d :
       {&retransmit_handshake_, &send_keepalive_, &new_handshake_, &zero_key_material_,
        &persistent_keepalive_, &initiation_wanted_}) {
    if (*d && (!earliest || **d < *earliest)) earliest = **d;
  }
  return earliest;
}

bool PeerTimers::should_initiate_on_send(const Keypair* current, Time now) noexcept {
  return current == nullptr || !current->valid_for_send(now) || current->needs_rekey(now);
}

bool PeerTimers::should_initiate_on_receive(const Keypair* current, Time now) noexcept {
  if (current == nullptr || sent_lastminute_handshake_) return false;
  if (!current->send_valid.load(std::memory_order_relaxed) || !current->needs_rekey_on_receive(now))
    return false;
  sent_lastminute_handshake_ = true;
  return true;
}

}  // namespace strait::wg

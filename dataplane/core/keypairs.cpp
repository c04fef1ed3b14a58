#include "core/keypairs.hpp"

#include <cassert>
#include <utility>

namespace strait::wg {

bool ReleasedKeypairs::contains_index(std::uint32_t local_index) const noexcept {
  for (const Entry& e : *this) {
    if (e.local_index == local_index) return true;
  }
  return false;
}

void ReleasedKeypairs::add(std::shared_ptr<Keypair>&& keypair) noexcept {
  if (!keypair) return;
  // Three slots, and each step releases each slot at most once.
  assert(count_ < entries_.size());
  keypair->send_valid.store(false, std::memory_order_relaxed);
  entries_[count_].local_index = keypair->local_index;
  entries_[count_].keypair = std::move(keypair);
  ++count_;
}

void ReleasedKeypairs::append(ReleasedKeypairs&& other) noexcept {
  for (std::size_t i = 0; i < other.count_; ++i) add(std::move(other.entries_[i].keypair));
  other.count_ = 0;
}

Keypairs::Installed Keypairs::install(const SessionKeys& keys, Cipher cipher, Time now) {
  Installed out;
  auto fresh = std::make_shared<Keypair>(keys, cipher, now);
  out.keypair = fresh.get();
  if (keys.we_initiated) {
    if (next_) {
      // An unconfirmed responder keypair was pending: it slides into previous (it may still
      // carry the peer's data) and the old current goes.
      out.released.add(std::move(previous_));
      out.released.add(std::move(current_));
      previous_ = std::move(next_);
    } else {
      out.released.add(std::move(previous_));
      previous_ = std::move(current_);
    }
    current_ = std::move(fresh);
  } else {
    // Responder: usable only once the initiator sends data on it (received_with). Until
    // then we keep sending with current; previous goes to make room.
    out.released.add(std::move(next_));
    out.released.add(std::move(previous_));
    next_ = std::move(fresh);
  }
  publish();
  return out;
}

bool Keypairs::received_with(const Keypair* keypair) noexcept {
  if (keypair == nullptr || keypair != next_.get()) return false;
  assert(!previous_);  // invariant: next pending => previous empty (see the header)
  previous_ = std::move(current_);
  current_ = std::move(next_);
  publish();
  return true;
}

ReleasedKeypairs Keypairs::expire(Time now) noexcept {
  ReleasedKeypairs out;
  bool changed = false;
  for (std::shared_ptr<Keypair>* slot : {&previous_, &current_, &next_}) {
    if (*slot && !(*slot)->valid_for_receive(now)) {
      out.add(std::move(*slot));
      slot->reset();
      changed = true;
    }
  }
  if (changed) publish();
  return out;
}

void Keypairs::expire_current_for_sending() noexcept {
  if (current_) current_->send_valid.store(false, std::memory_order_relaxed);
  if (next_) next_->send_valid.store(false, std::memory_order_relaxed);
}

ReleasedKeypairs Keypairs::clear() noexcept {
  ReleasedKeypairs out;
  out.add(std::move(previous_));
  out.add(std::move(current_));
  out.add(std::move(next_));
  previous_.reset();
  current_.reset();
  next_.reset();
  publish();
  return out;
}

std::size_t Keypairs::size() const noexcept {
  return static_cast<std::size_t>(previous_ != nullptr) +
         static_cast<std::size_t>(current_ != nullptr) + static_cast<std::size_t>(next_ != nullptr);
}

void Keypairs::publish() noexcept {
  // Release stores: an lcore that loads a pointer sees the keypair fully constructed.
  previous_pub_.store(previous_.get(), std::memory_order_release);
  current_pub_.store(current_.get(), std::memory_order_release);
  next_pub_.store(next_.get(), std::memory_order_release);
}

}  // namespace strait::wg

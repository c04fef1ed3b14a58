#include "pipeline/forwarding_state.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace strait::dp {

std::shared_ptr<PreparedKeypair> prepare_keypair(const crypto::AeadEngine& engine,
                                                 std::shared_ptr<wg::Keypair> keypair) {
  if (keypair == nullptr) throw std::invalid_argument("prepare_keypair: null keypair");
  auto p = std::make_shared<PreparedKeypair>();
  keypair->prepare_aead(engine);  // the Device's keypairs arrive prepared; a no-op for them
  p->keypair = std::move(keypair);
  return p;
}

void SessionTable::build(const std::vector<SessionEntry>& entries) {
  // At most half full, so that a miss (an unknown index: the common attack) ends quickly.
  std::size_t cap = 2;
  unsigned bits = 1;
  while (cap < 2 * entries.size()) {
    cap <<= 1;
    ++bits;
  }
  slots_.assign(cap, Slot{});
  mask_ = static_cast<std::uint32_t>(cap - 1);
  shift_ = 64 - bits;
  size_ = 0;
  for (const SessionEntry& e : entries) {
    if (e.keypair == nullptr || !e.keypair->aead_prepared)
      throw std::invalid_argument("SessionTable: entry without a prepared keypair");
    const std::uint32_t index = e.keypair->local_index;
    std::uint32_t i = hash(index);
    while (slots_[i].entry.keypair != nullptr) {
      if (slots_[i].index == index)
        throw std::invalid_argument("SessionTable: receiver index " + std::to_string(index) +
                                    " registered twice");
      i = (i + 1) & mask_;
    }
    slots_[i].index = index;
    slots_[i].entry = e;
    ++size_;
  }
}

ForwardingStateBuilder& ForwardingStateBuilder::routes(
    std::shared_ptr<const wg::AllowedIps> table) {
  state_->routes = std::move(table);
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::tunnel(std::uint16_t port_be, std::uint32_t mtu) {
  state_->tunnel_port_be = port_be;
  state_->tunnel_mtu = mtu;
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::bridge(const BridgeL2& l2) {
  state_->bridge = l2;
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::punt_non_tunnel(bool punt) {
  state_->punt_non_tunnel = punt;
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::staging_budget(StagingBudget* budget) {
  state_->staging_budget = budget;
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::path_mtu(const PathMtuConfig& config) {
  state_->path_mtu = config;
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::peer(std::uint32_t id, Cipher cipher,
                                                     PeerActivity& activity, rte_ring* staging) {
  if (id >= state_->peers.size()) state_->peers.resize(static_cast<std::size_t>(id) + 1);
  PeerSlot& slot = state_->peers[id];
  if (slot.activity != nullptr)
    throw std::invalid_argument("ForwardingStateBuilder: peer " + std::to_string(id) +
                                " declared twice");
  slot.cipher = cipher;
  slot.activity = &activity;
  slot.staging = staging;
  return *this;
}

PeerSlot& ForwardingStateBuilder::declared(std::uint32_t id, const char* what) {
  if (id >= state_->peers.size() || state_->peers[id].activity == nullptr)
    throw std::invalid_argument(std::string("ForwardingStateBuilder::") + what + ": peer " +
                                std::to_string(id) + " not declared");
  return state_->peers[id];
}

ForwardingStateBuilder& ForwardingStateBuilder::endpoint(std::uint32_t id,
                                                         const OuterTemplate& outer) {
  PeerSlot& slot = declared(id, "endpoint");
  slot.outer = outer;
  slot.has_endpoint = true;
  return *this;
}

ForwardingStateBuilder& ForwardingStateBuilder::current(std::uint32_t id,
                                                        std::shared_ptr<PreparedKeypair> keypair) {
  PeerSlot& slot = declared(id, "current");
  if (keypair == nullptr || keypair->keypair == nullptr)
    throw std::invalid_argument("ForwardingStateBuilder::current: null keypair");
  slot.current = keypair->keypair.get();
  return session(id, std::move(keypair), false);
}

ForwardingStateBuilder& ForwardingStateBuilder::session(std::uint32_t id,
                                                        std::shared_ptr<PreparedKeypair> keypair,
                                                        bool is_next) {
  PeerSlot& slot = declared(id, "session");
  if (keypair == nullptr || keypair->keypair == nullptr)
    throw std::invalid_argument("ForwardingStateBuilder::session: null keypair");
  if (is_next) {
    slot.next = keypair->keypair.get();
    slot.next_confirmed = &keypair->received_data;
  }
  SessionEntry e;
  e.keypair = keypair->keypair.get();
  e.peer = id;
  e.is_next = is_next;
  e.confirmed = is_next ? &keypair->received_data : nullptr;
  sessions_.push_back(e);
  state_->keypairs_held.push_back(std::move(keypair));
  return *this;
}

std::unique_ptr<const ForwardingState> ForwardingStateBuilder::build() {
  if (state_->routes == nullptr)
    throw std::invalid_argument("ForwardingStateBuilder: routes not set");
  if (state_->tunnel_port_be == 0)
    throw std::invalid_argument("ForwardingStateBuilder: tunnel port not set");
  state_->sessions.build(sessions_);  // throws on duplicate indices
  sessions_.clear();
  std::unique_ptr<const ForwardingState> out = std::move(state_);
  state_ = std::make_unique<ForwardingState>();
  return out;
}

}  // namespace strait::dp

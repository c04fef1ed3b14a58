#include "device/peer_table.hpp"

#include <algorithm>
#include <utility>

namespace strait::wg {

PeerTable::PeerTable(std::size_t staging_capacity, JitterSource jitter)
    : staging_capacity_(staging_capacity),
      jitter_(std::move(jitter)),
      routes_(std::make_shared<AllowedIps>()) {}

Peer& PeerTable::add(const Key& public_key, const StaticIdentity& local) {
  PeerId id;
  if (!free_ids_.empty()) {
    auto lowest = std::min_element(free_ids_.begin(), free_ids_.end());
    id = *lowest;
    free_ids_.erase(lowest);
  } else {
    id = next_id_++;
  }
  peers_.push_back(std::make_unique<Peer>(id, public_key, local, jitter_, staging_capacity_));
  by_key_[public_key] = id;
  if (by_id_.size() <= id) by_id_.resize(std::size_t{id} + 1, nullptr);
  by_id_[id] = peers_.back().get();
  return *peers_.back();
}

bool PeerTable::erase(PeerId id) {
  auto it = std::find_if(peers_.begin(), peers_.end(),
                         [&](const std::unique_ptr<Peer>& p) { return p->id == id; });
  if (it == peers_.end()) return false;
  by_key_.erase((*it)->public_key);
  by_id_[id] = nullptr;
  peers_.erase(it);
  free_ids_.push_back(id);
  return true;
}

const Peer* PeerTable::find(PeerId id) const { return id < by_id_.size() ? by_id_[id] : nullptr; }

Peer* PeerTable::find(PeerId id) { return const_cast<Peer*>(std::as_const(*this).find(id)); }

Peer* PeerTable::find(const Key& public_key) {
  auto it = by_key_.find(public_key);
  return it == by_key_.end() ? nullptr : find(it->second);
}

std::optional<PeerId> PeerTable::id_of(const Key& public_key) const {
  auto it = by_key_.find(public_key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

Peer* PeerTable::newest() { return peers_.empty() ? nullptr : peers_.back().get(); }

void PeerTable::rebuild_routes() {
  // A fresh table rather than an edit: the old one may be held by a published snapshot.
  auto fresh = std::make_shared<AllowedIps>();
  for (const auto& p : peers_) {
    for (const IpPrefix& prefix : p->allowed_ips) {
      static_cast<void>(fresh->insert(prefix, p->id));  // validated by check_change()
    }
  }
  routes_ = std::move(fresh);
}

}  // namespace strait::wg

#pragma once
// The Device's peers and everything about finding them: the peers in the order they were
// added (UAPI get=1 lists them so), by id and by public key, the ids of removed peers, and
// the cryptokey-routing table built from the peers' allowed IPs (WireGuard paper section 2.1).
//
// Ids: a new peer takes the lowest free id, reusing the ids of removed peers before minting a
// new one, so ids stay dense. straitd keys its per-peer resources by id and tells a reused id
// by its new public key (straitd/peer_plumbing.cpp): keep this rule exact.
//
// Routes are rebuilt on request only (rebuild_routes), into a fresh table: a published
// snapshot may hold the old one as long as it likes, so a table is never edited once made.
//
// Threads: owned by the Device, so by the slow-path thread; only the routing table (once
// returned by routes()) and each Peer's Keypairs are read by other threads.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/allowed_ips.hpp"
#include "core/noise.hpp"
#include "core/timers.hpp"
#include "core/types.hpp"
#include "device/peer.hpp"

namespace strait::wg {

class PeerTable {
 public:
  // Every peer is made with `staging_capacity` packets of staging and draws its timer jitter
  // from `jitter`.
  PeerTable(std::size_t staging_capacity, JitterSource jitter);
  PeerTable(const PeerTable&) = delete;
  PeerTable& operator=(const PeerTable&) = delete;

  // A new peer with the lowest free id, last in insertion order, its handshake set up for
  // `local`. The key must not be in the table yet (the Device looks it up first).
  Peer& add(const Key& public_key, const StaticIdentity& local);
  // Forgets the peer and frees its id; false if there is none. The caller has already torn
  // down what the peer holds elsewhere (receiver indices, notifications).
  bool erase(PeerId id);

  [[nodiscard]] Peer* find(PeerId id);
  [[nodiscard]] const Peer* find(PeerId id) const;
  [[nodiscard]] Peer* find(const Key& public_key);
  [[nodiscard]] std::optional<PeerId> id_of(const Key& public_key) const;
  // The most recently added peer still present, or null when the table is empty.
  [[nodiscard]] Peer* newest();

  [[nodiscard]] std::size_t count() const { return peers_.size(); }
  [[nodiscard]] bool empty() const { return peers_.empty(); }

  // Visits every peer in insertion order. `visit` must not add or erase peers.
  template <class Visit>
  void for_each(Visit&& visit) {
    for (const auto& p : peers_) visit(*p);
  }
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (const auto& p : peers_) visit(static_cast<const Peer&>(*p));
  }

  // Builds a fresh routing table from every peer's allowed IPs (validated before they were
  // set: config_check.hpp), replacing the one routes() returns.
  void rebuild_routes();
  // Cryptokey routing: inner address -> peer id. Immutable; see rebuild_routes().
  [[nodiscard]] const std::shared_ptr<const AllowedIps>& routes() const { return routes_; }

 private:
  std::size_t staging_capacity_;
  JitterSource jitter_;

  std::vector<std::unique_ptr<Peer>> peers_;  // insertion order
  std::map<Key, PeerId> by_key_;
  std::vector<Peer*> by_id_;      // indexed by PeerId; null for a free id
  std::vector<PeerId> free_ids_;  // ids of removed peers, reused lowest first
  PeerId next_id_ = 0;

  std::shared_ptr<const AllowedIps> routes_;
};

}  // namespace strait::wg

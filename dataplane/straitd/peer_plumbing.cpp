#include "straitd/peer_plumbing.hpp"

#include <rte_mbuf.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "pipeline/encap_stage.hpp"

namespace strait::straitd {

PeerPlumbing::PeerPlumbing(const dp::Port* bridge, SlowPathTx& tx, dp::LcoreCounters* counters,
                           crypto::AeadEngine& aead)
    : bridge_(bridge), tx_(tx), counters_(counters), aead_(aead) {
  stage_.aead = &aead_;
  stage_.counters = counters_;
}

// ---- the snapshot ----

PeerResources& PeerPlumbing::name_peer(Named& named, wg::PeerId id, const strait::Key& public_key) {
  PeerResources& res = resources_for(id, public_key);
  named.peers.insert(id);
  return res;
}

std::shared_ptr<dp::PreparedKeypair> PeerPlumbing::name_keypair(
    Named& named, const std::shared_ptr<wg::Keypair>& keypair) {
  auto p = prepared(keypair);
  named.keypairs.emplace(keypair.get(), p);
  return p;
}

void PeerPlumbing::retire_unnamed(Named named, Publication& publication) {
  // What the new snapshot no longer names dies after the grace period, which starts now that
  // no worker can load a snapshot naming it any more.
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (named.peers.count(it->first) == 0) {
      superseded_.push_back(std::move(it->second));
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  for (PeerResources& old : superseded_) {
    publication.retire(std::move(old.activity));
    publication.retire(std::move(old.staging));
  }
  superseded_.clear();
  prepared_.swap(named.keypairs);  // keypairs only the old snapshot named: freed with it
  for (auto& kp : released_) publication.retire(std::move(kp));
  released_.clear();
}

void PeerPlumbing::release(std::shared_ptr<wg::Keypair> keypair) {
  released_.push_back(std::move(keypair));
}

PeerResources& PeerPlumbing::resources_for(wg::PeerId id, const strait::Key& public_key) {
  auto it = peers_.find(id);
  if (it != peers_.end() && it->second.public_key == public_key) return it->second;
  if (it != peers_.end()) {
    // The id was reused for another peer. The published snapshot still names the old blocks
    // and workers keep using them until the snapshot being built replaces it: they are
    // retired after that publish (retire_unnamed), never before (issue 11, item 1).
    superseded_.push_back(std::move(it->second));
    peers_.erase(it);
  }
  PeerResources r;
  r.public_key = public_key;
  r.activity = std::make_shared<dp::PeerActivity>();
  const std::string name = "strait_stg" + std::to_string(staging_rings_created_++);
  rte_ring* ring =
      rte_ring_create(name.c_str(), kStagingRingSize, bridge_->socket_id(), RING_F_SC_DEQ);
  if (ring == nullptr) throw std::runtime_error("rte_ring_create " + name + " failed");
  // A ring's last owner frees what it still holds.
  r.staging = std::shared_ptr<rte_ring>(ring, [budget = staging_budget_](rte_ring* g) {
    rte_mbuf* m = nullptr;
    while (rte_ring_sc_dequeue(g, reinterpret_cast<void**>(&m)) == 0) {
      rte_pktmbuf_free(m);
      budget->give_back(1);
    }
    rte_ring_free(g);
  });
  return peers_.emplace(id, std::move(r)).first->second;
}

std::shared_ptr<dp::PreparedKeypair> PeerPlumbing::prepared(
    const std::shared_ptr<wg::Keypair>& kp) {
  auto it = prepared_.find(kp.get());
  if (it != prepared_.end()) return it->second;
  auto p = dp::prepare_keypair(aead_, kp);
  prepared_.emplace(kp.get(), p);
  return p;
}

// ---- between snapshots ----

const PeerResources* PeerPlumbing::find(wg::PeerId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const dp::PreparedKeypair* PeerPlumbing::find_prepared(const wg::Keypair* keypair) const {
  auto it = prepared_.find(keypair);
  return it == prepared_.end() ? nullptr : it->second.get();
}

void PeerPlumbing::flush_staged(const wg::Device& device, const dp::ForwardingState* state,
                                std::int64_t now_ns) {
  if (state == nullptr) return;
  stage_.now_ns = now_ns;
  for (auto& [id, res] : peers_) {
    rte_ring* ring = res.staging.get();
    const unsigned count = rte_ring_count(ring);
    if (count > res.staged_count) res.staged_grew_ns = now_ns;
    res.staged_count = count;
    if (count == 0) continue;
    const wg::Peer* peer = device.peer(id);
    if (peer == nullptr) continue;
    const auto& current = peer->keypairs.shared_current();
    if (!current || !current->valid_for_send(wg::Time(now_ns))) {
      expire_staged(res, now_ns);
      continue;
    }
    // The published snapshot must already carry this keypair and the endpoint; until it does
    // (a republish is pending) the packets wait one more iteration.
    const dp::PeerSlot* slot = state->peer_slot(id);
    if (slot == nullptr || slot->current != current.get()) continue;
    rte_mbuf* m = nullptr;
    while (rte_ring_sc_dequeue(ring, reinterpret_cast<void**>(&m)) == 0) {
      staging_budget_->give_back(1);
      if (dp::encap_one(stage_, *state, id, *current, m) == DropReason::none) {
        tx_.transmit(dp::PortRole::wire, m);
      }
    }
    res.staged_count = 0;
  }
}

void PeerPlumbing::expire_staged(PeerResources& res, std::int64_t now_ns) {
  // The Linux module purges a peer's staged packets when its handshake gives up, which is
  // REKEY_ATTEMPT_TIME after the last packet that asked for one (send.c restarts the attempt
  // series on every send; timers.c wg_expired_retransmit_handshake; paper section 6.4). The
  // Device's own give-up does not see these rings, so the same age is measured here from
  // the last time the ring grew.
  const auto attempt_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wg::kRekeyAttemptTime).count();
  if (res.staged_grew_ns == dp::kNeverNs || now_ns - res.staged_grew_ns < attempt_ns) return;
  rte_mbuf* m = nullptr;
  std::uint64_t n = 0;
  while (rte_ring_sc_dequeue(res.staging.get(), reinterpret_cast<void**>(&m)) == 0) {
    rte_pktmbuf_free(m);
    dp::count_drop(*counters_, DropReason::no_keypair);
    ++n;
  }
  staging_budget_->give_back(static_cast<std::uint32_t>(n));
  res.staged_count = 0;
  res.staged_grew_ns = dp::kNeverNs;
  spdlog::debug("{} packets staged without a session for {} s dropped", n,
                std::chrono::duration_cast<std::chrono::seconds>(wg::kRekeyAttemptTime).count());
}

void PeerPlumbing::drain_staging() {
  rte_mbuf* m = nullptr;
  for (auto& [id, res] : peers_) {
    while (rte_ring_sc_dequeue(res.staging.get(), reinterpret_cast<void**>(&m)) == 0) {
      rte_pktmbuf_free(m);
      staging_budget_->give_back(1);
    }
  }
}

}  // namespace strait::straitd

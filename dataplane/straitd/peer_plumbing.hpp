#pragma once
// What the workers use of each peer, made and owned by the slow path: its PeerActivity block
// (stamps, flags, counters the fast path writes), its staging ring (packets waiting for a
// session), and the prepared keypairs the snapshots name. Also the staging rings' flush once
// a session is usable, their expiry, and the retirement of all of these after the snapshot
// that stops naming them is published (issue 11, item 1).
//
// Thread: the slow-path thread's. The blocks, rings and prepared keypairs are shared with the
// workers through the published snapshot, so they are only freed through
// Publication::retire, after the publish that stops naming them.

#include <rte_ring.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "crypto/aead_burst.hpp"
#include "device/device.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/port.hpp"
#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"
#include "straitd/publication.hpp"
#include "straitd/slow_path_tx.hpp"

namespace strait::straitd {

// Packets a peer's staging ring holds while it waits for a handshake (a power of two minus
// one usable slot; Linux MAX_STAGED_PACKETS is 128).
inline constexpr unsigned kStagingRingSize = 256;
// Packets staged over all peers (dp::StagingBudget; beyond it: staged_limit). Without it a
// thousand peers without a session could hold a thousand rings' worth of mbufs and leave
// forwarding none; main.cpp reserves exactly this many in the mbuf pool on top of what the
// ports, rings and lcore caches need, so staging can never take forwarding's buffers. 64 full
// rings, what the pool reserved for staging before the limit existed.
inline constexpr unsigned kMaxStagedPackets = 64 * kStagingRingSize;

// What the fast path writes about one peer, owned here (stable addresses, freed after the
// last snapshot naming them is reclaimed).
struct PeerResources {
  strait::Key public_key{};
  std::shared_ptr<dp::PeerActivity> activity;
  std::shared_ptr<rte_ring> staging;
  // The stamps already turned into Device notes.
  std::int64_t seen_rx_ns = dp::kNeverNs;
  std::int64_t seen_rx_data_ns = dp::kNeverNs;
  std::int64_t seen_tx_ns = dp::kNeverNs;
  std::int64_t seen_tx_data_ns = dp::kNeverNs;
  // --test-rekey-after-seconds: when a rekey was last asked for.
  std::int64_t forced_rekey_ns = dp::kNeverNs;
  std::uint32_t seen_source_seq = 0;  // PeerActivity::last_source's sequence last handled
  // Staged packets waiting for a session: the ring's count at the last look and when it
  // last grew (the newest packet's age), for expiry after REKEY_ATTEMPT_TIME.
  unsigned staged_count = 0;
  std::int64_t staged_grew_ns = dp::kNeverNs;
};

class PeerPlumbing {
 public:
  // Staging rings are made on `bridge`'s NUMA socket; staged packets are sealed with `aead`
  // (the slow path's one engine) and leave through `tx`; the drops are counted in `counters`.
  // All are only used once a peer is named.
  PeerPlumbing(const dp::Port* bridge, SlowPathTx& tx, dp::LcoreCounters* counters,
               crypto::AeadEngine& aead);
  PeerPlumbing(const PeerPlumbing&) = delete;
  PeerPlumbing& operator=(const PeerPlumbing&) = delete;

  // ---- while a snapshot is built
  // The peers and keypairs one snapshot names.
  struct Named {
    std::set<wg::PeerId> peers;
    std::map<const wg::Keypair*, std::shared_ptr<dp::PreparedKeypair>> keypairs;
  };
  // The blocks of peer `id` (made on first use, or anew when the id went to another key),
  // named by the snapshot being built. Throws when a staging ring cannot be made.
  PeerResources& name_peer(Named& named, wg::PeerId id, const strait::Key& public_key);
  // `keypair` prepared for the engine (once), named by the snapshot being built.
  std::shared_ptr<dp::PreparedKeypair> name_keypair(Named& named,
                                                    const std::shared_ptr<wg::Keypair>& keypair);
  // Right after the snapshot that named `named` is published: retires, through `publication`,
  // the blocks and keypairs it no longer names and the released keypairs.
  void retire_unnamed(Named named, Publication& publication);
  // A keypair the Device let go of; the published snapshot may name it: retired at the next
  // retire_unnamed.
  void release(std::shared_ptr<wg::Keypair> keypair);
  [[nodiscard]] dp::StagingBudget* staging_budget() { return staging_budget_.get(); }

  // ---- between snapshots
  // `fn(wg::PeerId, PeerResources&)` for every peer that has blocks.
  template <class Fn>
  void for_each_peer(Fn&& fn) {
    for (auto& [id, res] : peers_) fn(id, res);
  }
  [[nodiscard]] const PeerResources* find(wg::PeerId id) const;
  // The prepared form of `keypair`, if a snapshot named it.
  [[nodiscard]] const dp::PreparedKeypair* find_prepared(const wg::Keypair* keypair) const;
  // Sends what the workers staged for peers whose session became usable (encap_one) and
  // `state`, the published snapshot, already carries; expires what waited too long.
  void flush_staged(const wg::Device& device, const dp::ForwardingState* state,
                    std::int64_t now_ns);
  // After the workers stopped: frees every staged mbuf.
  void drain_staging();

 private:
  PeerResources& resources_for(wg::PeerId id, const strait::Key& public_key);
  std::shared_ptr<dp::PreparedKeypair> prepared(const std::shared_ptr<wg::Keypair>& kp);
  // Drops a peer's staged packets once the newest waited REKEY_ATTEMPT_TIME for a session.
  void expire_staged(PeerResources& res, std::int64_t now_ns);

  const dp::Port* bridge_;
  SlowPathTx& tx_;
  dp::LcoreCounters* counters_;
  crypto::AeadEngine& aead_;  // the slow path's: encap_one of staged packets
  dp::StageContext stage_;
  // Shared with the staging rings' deleters, which may run after the PeerPlumbing is gone
  // (the Publication frees retired rings).
  std::shared_ptr<dp::StagingBudget> staging_budget_ =
      std::make_shared<dp::StagingBudget>(kMaxStagedPackets);
  std::map<wg::PeerId, PeerResources> peers_;
  // Blocks of peers that are gone (or whose id went to another peer) while the published
  // snapshot may still name them: retired by the next publish, after its pointer store.
  std::vector<PeerResources> superseded_;
  std::map<const wg::Keypair*, std::shared_ptr<dp::PreparedKeypair>> prepared_;
  std::vector<std::shared_ptr<wg::Keypair>> released_;  // retired at the next publish
  std::uint32_t staging_rings_created_ = 0;
};

}  // namespace strait::straitd

#pragma once
// The slow path of straitd: one thread on the EAL main lcore that owns the Device (every
// handshake, timer and cookie), serves the UAPI socket, answers the exception traffic the
// workers hand over, and publishes the forwarding state (docs/STRAITD.md, "Threads and who
// owns what").
//
// Each iteration of run():
//   1. drain the handshake ring first (strict priority; its fill level, sampled before every
//      burst, puts the Device under load, held one second): handshake/cookie messages ->
//      Device::receive; then the exception ring: ARP/ND from the bridge (for routed
//      addresses) or from a PCI wire port (for --wire-ip) -> answered
//   2. turn the workers' per-peer stamps and flags into Device notes (data received/sent,
//      handshake wanted, next keypair confirmed)
//   3. Device::tick when due; its datagrams go out on the slow path's own TX queue
//   4. send what the workers staged for peers whose session became usable (encap_one)
//   5. republish the snapshot if anything changed; free retired snapshots past their RCU
//      grace period (never blocking)
//   6. poll() the UAPI socket for at most a millisecond and serve it
//
// Thread: everything here is the slow-path thread's, except what Publication and the
// PeerActivity blocks document as shared with the workers.

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/noise.hpp"
#include "crypto/aead_burst.hpp"
#include "device/device.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/port.hpp"
#include "base/result.hpp"
#include "packet/outer_template.hpp"
#include "pipeline/forwarding_state.hpp"
#include "pipeline/stage_context.hpp"
#include "straitd/kernel_neighbours.hpp"
#include "straitd/neighbour_cache.hpp"
#include "straitd/options.hpp"
#include "straitd/publication.hpp"
#include "uapi/server.hpp"

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

struct SlowPathConfig {
  const Options* options = nullptr;
  dp::Port* wire = nullptr;
  dp::Port* bridge = nullptr;
  std::uint16_t tx_queue = 0;       // the slow path's TX queue on both ports (= workers)
  // Per PortRole: non-null when the port has no slow-path TX queue; worker 0 sends from it.
  std::array<rte_ring*, dp::kPortRoleCount> relay{};
  rte_mempool* pool = nullptr;      // for the frames it builds
  rte_ring* handshakes = nullptr;   // handshake messages from the workers; single consumer: us
  rte_ring* exceptions = nullptr;   // other exception traffic from the workers; consumer: us
  dp::LcoreCounters* counters = nullptr;  // the slow path's own block
  const dp::CounterSet* all_counters = nullptr;  // for the UAPI's drop counters
  Publication* publication = nullptr;
  uapi::UapiServer* uapi = nullptr;
  // Called when the tunnel port changes (UAPI listen_port): re-steers the wire port.
  std::function<void(std::uint16_t)> on_listen_port;
  // Called with each snapshot just before it is published (the XDP program's live receiver
  // indices follow it, README.md "XDP").
  std::function<void(const dp::ForwardingState&)> on_publish;
  // Drop counters kept outside the workers (the XDP program's), added to the UAPI's
  // strait_drop_<reason>; indexed by DropReason.
  std::function<void(std::array<std::uint64_t, kDropReasonCount>&)> extra_drops;
};

class SlowPath final : public wg::DeviceIo, public uapi::Handler {
 public:
  explicit SlowPath(SlowPathConfig config);
  ~SlowPath();
  SlowPath(const SlowPath&) = delete;
  SlowPath& operator=(const SlowPath&) = delete;

  // The configuration from the command line (key, listen port), then the first snapshot.
  // Before the workers start.
  [[nodiscard]] strait::Result<void> start(const std::optional<strait::Key>& private_key);

  // Runs until `stop` becomes true.
  void run(const std::atomic<bool>& stop);

  // After the workers stopped: frees every mbuf still in the handshake, exception, relay and
  // staging rings.
  void drain();

  // ---- uapi::Handler
  uapi::DeviceState get() override;
  Result<void> apply(const uapi::DeviceChange& change) override;

  // ---- wg::DeviceIo
  void send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) override;
  void deliver(wg::PeerId peer, std::span<const std::uint8_t> ip_packet) override;
  void on_session_changed(wg::PeerId peer) override;
  void on_keypair_released(std::shared_ptr<wg::Keypair> keypair) override;

  [[nodiscard]] const wg::Device& device() const { return device_; }

 private:
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

  // A datagram waiting for its next hop's MAC.
  struct PendingDatagram {
    uapi::Endpoint to;
    std::vector<std::uint8_t> bytes;
    std::int64_t since_ns = 0;
  };

  // The frame whose message the Device is receiving: a datagram it sends back to that source
  // during the call goes to the frame's Ethernet source, never through neighbour resolution.
  struct Answering {
    uapi::Endpoint from;
    dp::MacAddr l2_source{};
  };

  [[nodiscard]] wg::Time now() const;
  void drain_exceptions(std::int64_t now_ns);
  // One ring, at most kMaxExceptionsPerIteration mbufs; returns how many it handled.
  unsigned drain_handshakes(std::int64_t now_ns);
  unsigned drain_other_exceptions(std::int64_t now_ns);
  void handle_wire_exception(rte_mbuf* m, std::int64_t now_ns);
  void handle_bridge_exception(rte_mbuf* m);
  void observe_workers(std::int64_t now_ns);
  void flush_staged(std::int64_t now_ns);
  // Drops a peer's staged packets once the newest waited REKEY_ATTEMPT_TIME for a session.
  void expire_staged(PeerResources& res, std::int64_t now_ns);
  void retry_pending(std::int64_t now_ns);
  void republish();
  int poll_timeout_ms() const;

  PeerResources& resources_for(wg::PeerId id, const strait::Key& public_key);
  std::shared_ptr<dp::PreparedKeypair> prepared(const std::shared_ptr<wg::Keypair>& keypair);
  // The outer headers towards `to`; nothing when we have no source address of its family or
  // its next hop is not resolved yet (then resolution has been started).
  [[nodiscard]] std::optional<dp::OuterTemplate> outer_template(const uapi::Endpoint& to,
                                                                std::int64_t now_ns);
  // The same with a next-hop MAC already known; nothing without a source address.
  [[nodiscard]] std::optional<dp::OuterTemplate> outer_template_via(const uapi::Endpoint& to,
                                                                    const dp::MacAddr& next_hop) const;
  [[nodiscard]] std::optional<dp::MacAddr> next_hop_mac(const dp::IpAddr16& dst,
                                                        std::uint16_t port, std::int64_t now_ns);
  // TX on the slow path's queue of `port`; counts, frees what the queue refuses.
  void transmit(dp::PortRole role, rte_mbuf* m);

  SlowPathConfig cfg_;
  wg::SystemRandom rng_;
  wg::Device device_;
  crypto::AeadEngine aead_;  // encap_one of staged packets
  dp::StageContext stage_;
  std::optional<KernelNeighbours> neighbours_;  // only without --wire-gateway-mac
  std::optional<NeighbourCache> neighbour_cache_;  // in front of neighbours_
  std::optional<Answering> answering_;  // set during Device::receive of a wire frame

  // Shared with the staging rings' deleters, which may run after the SlowPath is gone (the
  // Publication frees retired rings).
  std::shared_ptr<dp::StagingBudget> staging_budget_ =
      std::make_shared<dp::StagingBudget>(kMaxStagedPackets);
  std::map<wg::PeerId, PeerResources> peers_;
  // Blocks of peers that are gone (or whose id went to another peer) while the published
  // snapshot may still name them: retired by the next publish, after its pointer store.
  std::vector<PeerResources> superseded_;
  std::map<const wg::Keypair*, std::shared_ptr<dp::PreparedKeypair>> prepared_;
  std::deque<PendingDatagram> pending_;
  std::vector<std::shared_ptr<wg::Keypair>> released_;  // retired at the next publish
  std::uint32_t staging_rings_created_ = 0;
  std::uint16_t tunnel_port_ = 0;
  bool dirty_ = true;               // the snapshot must be rebuilt
  bool unresolved_endpoints_ = false;  // a peer's next hop was unknown at the last build
  std::int64_t last_resolve_ns_ = 0;
  std::int64_t last_neighbour_expiry_ns_ = 0;
  bool busy_ = false;  // the last iteration had exception traffic: poll without sleeping
};

}  // namespace strait::straitd

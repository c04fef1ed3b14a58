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
//   6. poll() the UAPI socket and the doorbell the workers ring when they hand it work, until
//      the next timer is due (at most 100 ms), and serve the UAPI
//
// SlowPath is the loop and the dispatch; it owns the Device, and the two parts that keep state
// of their own: WireSender (datagrams to peers: outer headers, next hops, datagrams waiting
// for one) and PeerPlumbing (what the workers use of each peer: activity blocks, staging
// rings, prepared keypairs, and their retirement after the publish that stops naming them).
// Both send through SlowPathTx, the slow path's TX queue of each port.
//
// Thread: everything here is the slow-path thread's, except what Publication and the
// PeerActivity blocks document as shared with the workers.

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "base/result.hpp"
#include "core/noise.hpp"
#include "device/device.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/port.hpp"
#include "dpdk/queue_wakeup.hpp"
#include "pipeline/forwarding_state.hpp"
#include "straitd/options.hpp"
#include "straitd/peer_plumbing.hpp"
#include "straitd/publication.hpp"
#include "straitd/slow_path_tx.hpp"
#include "straitd/wire_sender.hpp"
#include "uapi/server.hpp"

namespace strait::straitd {

struct SlowPathConfig {
  const Options* options = nullptr;
  dp::Port* wire = nullptr;
  dp::Port* bridge = nullptr;
  std::uint16_t tx_queue = 0;  // the slow path's TX queue on both ports (= workers)
  // Per PortRole: non-null when the port has no slow-path TX queue; worker 0 sends from it.
  std::array<rte_ring*, dp::kPortRoleCount> relay{};
  // Worker 0's doorbell, rung after a frame goes on a relay ring (null: worker 0 does not wait).
  dp::Doorbell* relay_doorbell = nullptr;
  rte_mempool* pool = nullptr;     // for the frames it builds
  rte_ring* handshakes = nullptr;  // handshake messages from the workers; single consumer: us
  rte_ring* exceptions = nullptr;  // other exception traffic from the workers; consumer: us
  dp::LcoreCounters* counters = nullptr;         // the slow path's own block
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
  ~SlowPath() override;
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
  // Rung by the workers after a poll that handed the slow path work (worker_pipeline.hpp).
  [[nodiscard]] dp::Doorbell& doorbell() { return doorbell_; }

 private:
  [[nodiscard]] wg::Time now() const;
  void drain_exceptions(std::int64_t now_ns);
  // One ring, at most kMaxExceptionsPerIteration mbufs; returns how many it handled.
  unsigned drain_handshakes(std::int64_t now_ns);
  unsigned drain_other_exceptions(std::int64_t now_ns);
  void handle_wire_exception(rte_mbuf* m, std::int64_t now_ns);
  void handle_bridge_exception(rte_mbuf* m);
  void observe_workers(std::int64_t now_ns);
  // Datagrams waiting for a next hop, and peers' endpoints unresolved at the last build.
  void retry_pending(std::int64_t now_ns);
  void republish();
  [[nodiscard]] int poll_timeout_ms(std::int64_t now_ns, bool retired_pending) const;

  SlowPathConfig cfg_;
  dp::Doorbell doorbell_;
  wg::SystemRandom rng_;
  // The slow path's one AEAD engine: the Device prepares every session's keys with it and
  // seals its keepalives with it, PeerPlumbing seals staged packets with it (encap_one).
  crypto::AeadEngine aead_;
  wg::Device device_;
  SlowPathTx tx_;
  WireSender wire_;        // datagrams to peers, outer headers, next hops
  PeerPlumbing plumbing_;  // what the workers use of each peer; staging

  std::uint16_t tunnel_port_ = 0;
  bool dirty_ = true;                  // the snapshot must be rebuilt
  bool unresolved_endpoints_ = false;  // a peer's next hop was unknown at the last build
  bool busy_ = false;  // the last iteration had exception traffic: poll without sleeping
};

}  // namespace strait::straitd

#pragma once
// The sans-I/O WireGuard device: peers, handshake orchestration, timers, cookies under load,
// roaming, staging, cryptokey routing and a software transport (WireGuard paper sections 2,
// 5 and 6; the Linux module's receive.c, send.c and timers.c call sites).
//
// It has no sockets, no clock and no threads of its own: the host passes every datagram in
// (receive), every packet to tunnel (send), the monotonic time of every call, and calls tick()
// at next_deadline(); bytes leave through DeviceIo. In straitd it is the slow path's brain,
// fed by the fast path (note_*) and read to build the fast-path snapshot (docs/STRAITD.md);
// in tests and in the interop driver it is a complete software WireGuard endpoint.
//
// Threads: one thread owns a Device (straitd: the slow-path thread) and makes every call.
// The only state other threads may read is what keypairs.hpp documents for Keypair/Keypairs
// and the AllowedIps table, which is immutable once published (allowed_ips()).
//
// Errors: nothing here throws on bad bytes; every dropped datagram or packet is counted by
// DropReason, device-wide and, when the peer is known, per peer. Configuration errors are
// returned by apply(). Allocation happens (staging, handshakes, configuration): this is the
// slow path.
//
// Where things are:
//   device.cpp        this class: apply() (what a configuration change does to handshakes,
//                     keypairs and timers), state(), receive_* and send_* (the handshake
//                     messages, cookies, data through core/transport_codec.hpp), timers and
//                     sessions, the note_* events.
//   config_check.*    whether a change may be applied, and the error message if not.
//   peer_table.*      the peers: ids (lowest free reused first), lookup by id and by key,
//                     insertion order, and the cryptokey-routing table built from them.
//   peer.*            one peer's configuration, protocol state and counters.
//   peer_key_check.*  small-order public keys; handshake_rate_limiter.*, under_load.*,
//                     staging_queue.hpp, drop_counters.hpp: the parts named so.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/drop_reason.hpp"
#include "core/allowed_ips.hpp"
#include "core/cookie.hpp"
#include "core/keypairs.hpp"
#include "core/noise.hpp"
#include "core/peer_index.hpp"
#include "core/types.hpp"
#include "crypto/aead_burst.hpp"
#include "device/device_io.hpp"
#include "device/drop_counters.hpp"
#include "device/handshake_rate_limiter.hpp"
#include "device/peer.hpp"
#include "device/peer_table.hpp"
#include "device/staging_queue.hpp"
#include "device/under_load.hpp"
#include "uapi/model.hpp"

namespace strait::wg {

struct DeviceOptions {
  // Packets held per peer while it has no usable keypair (Linux MAX_STAGED_PACKETS).
  std::size_t staged_packets_per_peer = StagingQueue::kDefaultCapacity;
  // Sources tracked by the handshake rate limiter (Linux: 8 x its hash table size).
  std::size_t rate_limiter_entries = HandshakeRateLimiter::kDefaultMaxEntries;
  // Slots of the receiver-index table: about twice the live indices (a handshake and up to
  // three keypairs per peer), so the default serves about 2000 peers.
  std::size_t receiver_index_capacity = std::size_t{1} << 14;
};

// What the fast-path snapshot needs of one peer (Device::for_each_peer).
struct PeerView {
  PeerId id;
  Cipher cipher;
  const std::optional<uapi::Endpoint>& endpoint;
  const Keypairs& keypairs;
  const std::vector<IpPrefix>& allowed_ips;
};

class Device {
 public:
  // `rng` must outlive the Device (ephemeral keys, indices, cookie secrets, timer jitter), and
  // so must `engine`: the host's AEAD engine, with which the Device prepares the keys of every
  // session it installs (Keypair::prepare_aead) and runs its software transport. straitd's
  // slow path shares its one engine this way.
  Device(RandomSource& rng, crypto::AeadEngine& engine, WallClock wall_clock = system_wall_clock,
         DeviceOptions options = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // ---- Configuration (UAPI set=1 / get=1).

  // Applies one set request with the xplatform semantics (uapi::apply_change). The change is
  // validated whole first: on error nothing changes and the message names the peer and the
  // field. Refused: a peer whose public key is all zero or a low-order point, a peer whose
  // public key equals the device's own (after a private key change too), an allowed IP or
  // endpoint of an unknown family or a prefix length too long for it. A new private key
  // re-derives everything that depends on it, as Linux does: every peer's precomputed DH
  // (Handshake::configure, which forgets handshakes in progress), the cookie checker's keys,
  // and the current keypairs stop being used for sending (a new handshake follows on demand).
  // A peer whose cipher changes loses its sessions (they were made for the old cipher).
  // Releases and session changes are reported through DeviceIo at the next call that has one
  // (tick: next_deadline() says "now").
  [[nodiscard]] Result<void> apply(const uapi::DeviceChange& change, Time now);

  // The configuration and counters as UAPI get=1 reports them. Drop counters: non-zero only.
  [[nodiscard]] uapi::DeviceState state() const;

  // ---- Traffic, software path.

  // One UDP payload that arrived from `from` (the outer source address and port).
  void receive(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from, Time now,
               DeviceIo& io);

  // One inner IP packet to tunnel: routed by the allowed IPs of its destination, sealed with
  // the peer's current keypair, or staged while a handshake is made.
  void send(std::span<const std::uint8_t> ip_packet, Time now, DeviceIo& io);

  // Runs every peer's timers (retransmissions, keepalives, give-up, key zeroing), expires dead
  // keypairs and delivers pending notifications. Call it at next_deadline() (or later).
  void tick(Time now, DeviceIo& io);

  // When tick() has work next, or nullopt if nothing is armed.
  [[nodiscard]] std::optional<Time> next_deadline() const;

  // ---- Events observed by straitd's fast path (then call tick()).

  // Data authenticated on `keypair` (a keepalive when `keepalive`): timers, and the
  // responder's next -> current rotation on the first data (paper section 5.4.7).
  void note_data_received(PeerId id, const Keypair* keypair, Time now, bool keepalive = false);
  // Data (or a keepalive) was sent to the peer: timers, and the send-side rekey rule.
  void note_data_sent(PeerId id, Time now, bool keepalive = false);
  // A worker wants a handshake (no usable keypair, or a rekey rule fired).
  void note_handshake_wanted(PeerId id, Time now);
  // A worker authenticated data from a new source (roaming). True if the endpoint changed.
  // AES-256-GCM (straitd) peers: only the address roams, the port stays the endpoint's own
  // (their data leaves from per-flow ports; docs/STRAITD.md, "Roaming").
  [[nodiscard]] bool note_endpoint(PeerId id, const uapi::Endpoint& endpoint);
  // The host's queue of handshake messages waiting for receive() holds `queued` of
  // `capacity` at `now`: at least 1/8 full puts the device under load for one second
  // (under_load.hpp). Under load, handshake messages need a valid mac2 (else a cookie reply is
  // sent) and are then rate limited per source (paper section 5.3). Call it before each batch.
  void observe_handshake_queue(std::size_t queued, std::size_t capacity, Time now) {
    (void)under_load_.observe(queued, capacity, now);
  }

  // ---- Read access (fast-path snapshot, tests).

  void for_each_peer(const std::function<void(const PeerView&)>& visit) const;
  // Cryptokey routing. Immutable once returned: a route change builds a new table, so a
  // snapshot may keep this one as long as it likes.
  [[nodiscard]] std::shared_ptr<const AllowedIps> allowed_ips() const { return peers_.routes(); }
  // Receiver index -> session (IndexKind::keypair) or handshake in progress.
  [[nodiscard]] const PeerIndex& receiver_index() const { return index_; }
  [[nodiscard]] const Peer* peer(PeerId id) const;
  [[nodiscard]] std::optional<PeerId> peer_id(const Key& public_key) const;
  [[nodiscard]] std::size_t peer_count() const { return peers_.count(); }
  [[nodiscard]] const StaticIdentity& identity() const { return identity_; }
  [[nodiscard]] std::uint16_t listen_port() const { return listen_port_; }
  [[nodiscard]] std::uint32_t fwmark() const { return fwmark_; }
  [[nodiscard]] bool under_load() const { return under_load_.under_load(); }
  [[nodiscard]] const DropCounters& drops() const { return drops_; }

 private:
  // apply() helpers.
  [[nodiscard]] uapi::DeviceState configuration() const;
  // Tears down what the peer holds outside the table (timers, indices, keypairs, staged
  // packets), then takes it out of the table.
  void remove_peer(PeerId id);

  // receive() by message type.
  void receive_initiation(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from, Time now,
                          DeviceIo& io);
  void receive_response(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from, Time now,
                        DeviceIo& io);
  void receive_cookie_reply(std::span<const std::uint8_t> bytes, Time now);
  void receive_data(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from, Time now,
                    DeviceIo& io);
  // mac1/mac2, cookie reply under load, per-source rate limit. True: go on.
  [[nodiscard]] bool admit_handshake(std::span<const std::uint8_t> bytes,
                                     const uapi::Endpoint& from, Time now, DeviceIo& io);

  // Sending.
  void send_initiation(Peer& peer, Time now, DeviceIo& io);
  void send_response(Peer& peer, Time now, DeviceIo& io);
  void send_staged(Peer& peer, Time now, DeviceIo& io);
  void send_keepalive(Peer& peer, Time now, DeviceIo& io);
  // Seals `payload` as one transport data message on `keypair` (the transport codec) and sends
  // it; false if the keypair has no nonce left. A packet too big for the buffer (too_big) or
  // not sealed (seal_failed) is dropped and counted, and true is returned: the others may go.
  [[nodiscard]] bool seal_and_send(Peer& peer, Keypair& keypair,
                                   std::span<const std::uint8_t> payload, Time now, DeviceIo& io);
  void send_to_peer(Peer& peer, std::span<const std::uint8_t> bytes, DeviceIo& io);

  // Timers and sessions.
  void run_timers(Peer& peer, Time now, DeviceIo& io);
  void install_session(Peer& peer, const SessionKeys& keys, Time now);
  void handshake_complete(Peer& peer);
  void zero_keys(Peer& peer);
  void release(ReleasedKeypairs&& released);
  void forget_handshake_index(Peer& peer);
  [[nodiscard]] std::optional<std::uint32_t> allocate_handshake_index(Peer& peer);
  void set_endpoint(Peer& peer, const uapi::Endpoint& from);
  void mark_changed(Peer& peer, std::optional<Time> due = std::nullopt);
  void flush_notifications(DeviceIo& io);

  void drop(Peer* peer, DropReason reason, std::uint64_t n = 1);
  [[nodiscard]] std::uint64_t random_u64();

  RandomSource& rng_;
  crypto::AeadEngine& engine_;  // the host's: prepares session keys, runs the software transport
  WallClock wall_clock_;
  DeviceOptions options_;

  StaticIdentity identity_;
  CookieChecker cookie_checker_;
  HandshakeRateLimiter rate_limiter_;
  UnderLoad under_load_;
  std::uint16_t listen_port_ = 0;
  std::uint32_t fwmark_ = 0;

  // The peers, their ids and the cryptokey-routing table built from their allowed IPs.
  PeerTable peers_;
  PeerIndex index_;

  // The software transport's buffer for the message being sealed or opened (through the
  // transport codec, with the keys each keypair carries).
  std::vector<std::uint8_t> buffer_;

  DropCounters drops_;
  uapi::HandshakeCounters handshakes_;

  // Notifications waiting for a DeviceIo (apply() and note_* have none).
  std::vector<std::shared_ptr<Keypair>> pending_releases_;
  std::vector<PeerId> pending_changes_;
  std::optional<Time> work_due_;  // tick() has non-timer work (a flush, staged packets)
};

}  // namespace strait::wg

#pragma once
// The forwarding state: the immutable snapshot of everything the fast path needs to know,
// built by the slow path after every change and published to the worker lcores by RCU
// (docs/STRAITD.md, "Publishing configuration: RCU").
//
// Threads and ownership.
//  - The slow-path thread is the only writer. It assembles a snapshot with
//    ForwardingStateBuilder, publishes it with one atomic pointer store, and destroys the
//    previous one after an RCU grace period (rte_rcu_qsbr, dpdk/rcu.hpp).
//  - Worker lcores read a published snapshot and never write it. The only memory they write
//    through it is atomic and lives outside the snapshot: a keypair's send counter and replay
//    window (core/keypair.hpp), the per-peer PeerActivity block (counters, time stamps, the
//    handshake request flag), a PreparedKeypair's received_data flag, and the peer's staging
//    ring (rte_ring, multi-producer).
//  - A snapshot keeps alive what its raw pointers name: it owns a shared_ptr to every
//    PreparedKeypair (and through it the wg::Keypair with its prepared AEAD keys) and to the
//    allowed-IPs table. PeerActivity blocks and staging rings are the slow path's (one per
//    peer, stable addresses) and must outlive every snapshot that names them: the slow path
//    frees them only after the last such snapshot is reclaimed.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/allowed_ips.hpp"
#include "core/keypair.hpp"
#include "core/types.hpp"
#include "crypto/aead_burst.hpp"
#include "packet/headers.hpp"
#include "packet/outer_template.hpp"

struct rte_ring;

namespace strait::dp {

// "Never happened" for the time stamps below.
inline constexpr std::int64_t kNeverNs = std::numeric_limits<std::int64_t>::min();

// Per-peer traffic totals, as `wg show` reports them ("transfer"). Bytes are WireGuard message
// bytes (the UDP payload: header, padded ciphertext and tag), as the Linux module counts them.
// Written by every lcore that handles the peer, with one relaxed fetch_add per counter per
// burst; read by the slow path (UAPI get).
struct alignas(64) PeerCounters {
  std::atomic<std::uint64_t> rx_packets{0};
  std::atomic<std::uint64_t> rx_bytes{0};
  std::atomic<std::uint64_t> tx_packets{0};
  std::atomic<std::uint64_t> tx_bytes{0};
};

// Everything a worker writes about one peer, owned by the slow path (one per peer, stable
// address). The time stamps are StageContext::now_ns values, stored with relaxed stores once
// per burst; the slow path turns them into timer events on its next tick (WireGuard paper
// section 6; the Linux module's timers.c), which needs the keepalive / data distinction:
//  - last_rx_ns:      any authenticated transport message received (keepalives included)
//                     (wg_timers_any_authenticated_packet_received)
//  - last_rx_data_ns: a non-keepalive one (wg_timers_data_received: answer with a keepalive)
//  - last_tx_ns:      any transport message sent (wg_timers_any_authenticated_packet_sent)
//  - last_tx_data_ns: a non-keepalive one (wg_timers_data_sent: expect an answer)
// handshake_wanted: a worker wants a (new) handshake: no usable keypair for a packet, the
// send-side rekey rule (paper section 6.2) or the receive-side one fired. The slow path
// exchanges it with false and applies its own rate limits (REKEY_TIMEOUT).
// The outer source of the last authenticated transport message from a peer, for roaming
// (paper section 2.1; docs/STRAITD.md, "Roaming"). Written by workers once per burst per peer,
// and only when it differs from what is stored; read by the slow path, which hands it to
// Device::note_endpoint. A sequence lock: a writer claims it by moving seq from even to odd
// with one compare-exchange and gives up (never waits) if another lcore holds it; the value
// is a hint that the next burst reports again, so a lost update costs nothing. A reader
// retries on its next tick if seq moved while it read.
struct SourceReport {
  IpAddr16 addr{};         // IPv4-mapped for IPv4
  std::uint16_t port = 0;  // host order
  bool is_ipv6 = false;
  friend bool operator==(const SourceReport&, const SourceReport&) = default;
};

class alignas(64) LastSource {
 public:
  // Worker. Stores `src` unless it is already the stored value.
  void report(const SourceReport& src) noexcept {
    const std::uint32_t s = seq_.load(std::memory_order_acquire);
    if ((s & 1U) != 0) return;  // another lcore is writing
    if (s != 0 && equals(src)) return;
    std::uint32_t expected = s;
    if (!seq_.compare_exchange_strong(expected, s + 1, std::memory_order_acquire,
                                      std::memory_order_relaxed))
      return;
    store(src);
    seq_.store(s + 2, std::memory_order_release);
  }
  // Slow path. The stored source and its sequence number (which changes with every store),
  // or nullopt if none was ever stored or a store is under way.
  [[nodiscard]] std::optional<std::pair<SourceReport, std::uint32_t>> read() const noexcept {
    const std::uint32_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 == 0 || (s1 & 1U) != 0) return std::nullopt;
    SourceReport r = load();
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) != s1) return std::nullopt;
    return std::make_pair(r, s1);
  }

 private:
  // The value lives in relaxed atomics so that a torn read is not a data race (the sequence
  // number tells the reader to discard it).
  void store(const SourceReport& src) noexcept {
    std::uint64_t w[2];
    std::memcpy(w, src.addr.data(), 16);
    addr_[0].store(w[0], std::memory_order_relaxed);
    addr_[1].store(w[1], std::memory_order_relaxed);
    meta_.store(static_cast<std::uint32_t>(src.port) | (src.is_ipv6 ? 0x10000U : 0U),
                std::memory_order_relaxed);
  }
  [[nodiscard]] SourceReport load() const noexcept {
    SourceReport r;
    const std::uint64_t w[2] = {addr_[0].load(std::memory_order_relaxed),
                                addr_[1].load(std::memory_order_relaxed)};
    std::memcpy(r.addr.data(), w, 16);
    const std::uint32_t m = meta_.load(std::memory_order_relaxed);
    r.port = static_cast<std::uint16_t>(m & 0xffffU);
    r.is_ipv6 = (m & 0x10000U) != 0;
    return r;
  }
  // Worker-side check, racy by design: a stale answer only costs one extra or one missed store.
  [[nodiscard]] bool equals(const SourceReport& src) const noexcept { return load() == src; }

  std::atomic<std::uint32_t> seq_{0};
  std::array<std::atomic<std::uint64_t>, 2> addr_{};
  std::atomic<std::uint32_t> meta_{0};
};

struct alignas(64) PeerActivity {
  PeerCounters counters;
  alignas(64) std::atomic<std::int64_t> last_rx_ns{kNeverNs};
  std::atomic<std::int64_t> last_rx_data_ns{kNeverNs};
  std::atomic<std::int64_t> last_tx_ns{kNeverNs};
  std::atomic<std::int64_t> last_tx_data_ns{kNeverNs};
  std::atomic<bool> handshake_wanted{false};
  LastSource last_source;  // roaming: written by the decap stage
};

// The count of packets staged over all peers, and its limit (issue 11 item 6): each peer's
// ring is bounded, but a thousand peers without a session would hold a thousand rings' worth
// of mbufs and starve forwarding of its pool. straitd sizes its mbuf pool for `limit` staged
// packets on top of what forwarding needs (straitd/main.cpp), so staging can never take the
// buffers forwarding uses. Owned by the slow path (shared with the staging rings' deleters);
// workers take one unit per staged packet (encap stage_packet), the slow path gives units back
// as it dequeues or frees staged packets. Relaxed atomics: the count is a budget, not a lock,
// and may overshoot by at most one packet per lcore for an instant.
struct alignas(64) StagingBudget {
  explicit StagingBudget(std::uint32_t max) noexcept : limit(max) {}
  // Worker: one more staged packet, unless the limit is reached.
  [[nodiscard]] bool try_take() noexcept {
    if (staged.fetch_add(1, std::memory_order_relaxed) >= limit) {
      staged.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  // `n` staged packets left their rings (sent, dropped or freed).
  void give_back(std::uint32_t n) noexcept { staged.fetch_sub(n, std::memory_order_relaxed); }

  const std::uint32_t limit;
  std::atomic<std::uint32_t> staged{0};
};

// A keypair as the snapshots hold it: its AEAD keys prepared (wg::Keypair::prepare_aead) and
// the flag below. Made once per keypair by the slow path (prepare_keypair) and shared by every
// snapshot that names the keypair.
struct PreparedKeypair {
  std::shared_ptr<wg::Keypair> keypair;  // never null; its AEAD keys prepared
  // Set by a worker the first time data authenticates on this keypair while a snapshot lists
  // it as the peer's unconfirmed `next` (SessionEntry::is_next). The slow path then calls
  // Keypairs::received_with (next -> current, paper section 5.4.6) and publishes a new
  // snapshot. Written by workers (relaxed store, once), read by the slow path.
  std::atomic<bool> received_data{false};
};

// Slow path: wraps `keypair`, preparing its AEAD keys for `engine` if nobody did yet (the
// Device prepares the keypairs it installs). Allocates (throws std::bad_alloc); throws
// std::invalid_argument for a null keypair.
[[nodiscard]] std::shared_ptr<PreparedKeypair> prepare_keypair(
    const crypto::AeadEngine& engine, std::shared_ptr<wg::Keypair> keypair);

// One peer as the fast path sees it, indexed by the id the allowed-IPs table yields for it.
// Written by the builder, read-only afterwards; the pointed-to atomics are written by workers
// as described above. A slot whose `activity` is null was never declared: nothing routes to
// it (the stages treat it as no_route).
struct PeerSlot {
  // The keypair to send with (its AEAD keys prepared); null when there is none (the encap
  // stage then stages the packet and asks for a handshake). Non-const: workers reserve nonces
  // on it (Keypair::reserve_counters).
  wg::Keypair* current = nullptr;
  // The peer's unconfirmed responder keypair (`next`) and the flag a worker
  // raises on the first data authenticated on it (PreparedKeypair::received_data). Once the
  // flag is up, encap sends with `next` at once, as the Linux module rotates next -> current
  // inside its receive path (paper section 5.4.6), rather than with `current` until the slow
  // path publishes the rotation: a peer that restarted no longer knows `current`. Null: none.
  wg::Keypair* next = nullptr;
  const std::atomic<bool>* next_confirmed = nullptr;
  // The peer's configured cipher, for the slow path. The stages go by each keypair's own
  // cipher (message type on encap, cipher_mismatch on decap), which the handshake set from it.
  Cipher cipher = Cipher::chacha20_poly1305;
  bool has_endpoint = false;         // false: `outer` is meaningless and encap drops no_endpoint
  OuterTemplate outer;               // Ethernet/IP/UDP towards the peer's endpoint
  PeerActivity* activity = nullptr;  // the slow path's; see PeerActivity
  // Inner IP packets (no L2 header, single segment, at most the tunnel MTU) waiting for a
  // handshake. Created by the slow path multi-producer / single-consumer and bounded; the slow
  // path drains it through encap_one once a keypair exists. Null: nothing is staged.
  rte_ring* staging = nullptr;
};

// What a receiver index (our local index, paper section 5.4.6) names.
struct SessionEntry {
  wg::Keypair* keypair = nullptr;  // non-const: workers commit replay counters on it
  std::uint32_t peer = 0;          // index into ForwardingState::peers
  // The peer's unconfirmed responder keypair: the first authenticated data sets *confirmed.
  bool is_next = false;
  std::atomic<bool>* confirmed = nullptr;  // PreparedKeypair::received_data; set when is_next
};

// The receiver-index map of one snapshot: open addressing with linear probing, built once
// by the slow path (at most half full), then read-only. Lookups are noexcept and touch one or
// two cache lines. Local indices are random (chosen by our handshake code), so an attacker
// cannot aim packets at one probe chain.
class SessionTable {
 public:
  // Slow path. Throws std::invalid_argument on a duplicate index or a null keypair.
  void build(const std::vector<SessionEntry>& entries);

  [[nodiscard]] const SessionEntry* find(std::uint32_t receiver_index) const noexcept {
    if (slots_.empty()) return nullptr;
    std::uint32_t i = hash(receiver_index);
    for (;;) {
      const Slot& s = slots_[i];
      if (s.entry.keypair == nullptr) return nullptr;
      if (s.index == receiver_index) return &s.entry;
      i = (i + 1) & mask_;
    }
  }
  // Brings the slot find(receiver_index) starts at towards the cache (a hint: the decap stage
  // issues it for a whole burst before its first find).
  void prefetch(std::uint32_t receiver_index) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash(receiver_index)]);
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    std::uint32_t index = 0;
    SessionEntry entry;  // entry.keypair == nullptr: empty slot
  };
  [[nodiscard]] std::uint32_t hash(std::uint32_t v) const noexcept {
    // Fibonacci hashing: the top bits of the product are well mixed.
    return static_cast<std::uint32_t>((v * 0x9e3779b97f4a7c15ULL) >> shift_) & mask_;
  }
  std::vector<Slot> slots_;
  std::uint32_t mask_ = 0;
  std::uint32_t shift_ = 63;
  std::size_t size_ = 0;
};

// How the decap stage picks the destination MAC of the frames it hands to the bridge
// (DESIGN.md section 4: the pod must accept the frame).
enum class BridgeDstMac : std::uint8_t {
  // OpenShift SDN: a pod's MAC is 0a:58 followed by its IPv4 address. IPv6 destinations,
  // which have no such rule, get BridgeL2::fixed_dst_mac.
  pod_mac_from_ip,
  // Always BridgeL2::fixed_dst_mac (a gateway or router port on the bridge).
  fixed,
};

struct BridgeL2 {
  MacAddr src_mac{};  // our bridge port's MAC
  BridgeDstMac mode = BridgeDstMac::fixed;
  MacAddr fixed_dst_mac{};
};

// Writes the Ethernet header of a frame that carries a decrypted inner packet to the bridge:
// the destination by `l2.mode` (from `ipv4_dst`, the inner IPv4 destination, for pod MACs),
// our bridge MAC as the source, the EtherType by family. The one framing of the decap stage
// and of the slow path's software deliveries. The fields go straight into the frame:
// assembling an EthHdr on the stack and copying it costs the fast path a store-forwarding
// stall, as the copy's 8-byte load spans the narrower stores that built it (perf/README.md,
// "Where the cycles go").
inline void write_bridge_ethernet(std::uint8_t* eth, bool is_ipv6, const std::uint8_t* ipv4_dst,
                                  const BridgeL2& l2) noexcept {
  if (l2.mode == BridgeDstMac::pod_mac_from_ip && !is_ipv6) {
    // openshift-sdn: 0a:58:a.b.c.d (DESIGN.md section 4).
    eth[0] = 0x0a;
    eth[1] = 0x58;
    std::memcpy(eth + 2, ipv4_dst, 4);
  } else {
    std::memcpy(eth, l2.fixed_dst_mac.data(), 6);
  }
  std::memcpy(eth + offsetof(EthHdr, src), l2.src_mac.data(), 6);
  const std::uint16_t type_be = is_ipv6 ? kEtherTypeIpv6Be : kEtherTypeIpv4Be;
  std::memcpy(eth + offsetof(EthHdr, ether_type_be), &type_be, 2);
}

// What the stages do about packets that do not fit the tunnel, and TCP MSS clamping
// (DESIGN.md section 4; docs/STRAITD.md, "Path MTU"). Set by the slow path from straitd's
// options; read-only in a snapshot.
struct PathMtuConfig {
  // Source address of the ICMP "fragmentation needed" / ICMPv6 "packet too big" messages
  // (RFC 1812 section 4.3.2.4 and RFC 4443 section 2.2 want the router's own address). Unset:
  // the original packet's destination, which is what Open vSwitch's kernel tunnels did
  // (tnl_frag_needed) for want of an address of their own on the inner network; straitd
  // answers ARP/ND for those destinations anyway, so the sender sees a consistent neighbour.
  std::optional<std::array<std::uint8_t, 4>> icmp_source_v4;
  std::optional<IpAddr16> icmp_source_v6;
  // IPv4 without DF that does not fit: fragment it (RFC 791 section 3.2) before encryption, as
  // the kernel does in front of Linux WireGuard; false: drop it (too_big).
  bool fragment_ipv4 = true;
  // Largest TCP MSS option let through in SYN and SYN-ACK segments, both directions; 0: no
  // clamping. mss_for_mtu (packet/tcp_mss.hpp) gives tunnel MTU - 40 / - 60.
  std::uint16_t mss_clamp_v4 = 0;
  std::uint16_t mss_clamp_v6 = 0;
};

struct ForwardingState {
  // Cryptokey routing (paper section 2.1): inner destination -> peer on encap, and inner
  // source must map back to the sending peer on decap. Never null in a built snapshot; shared
  // between snapshots until the routes change.
  std::shared_ptr<const wg::AllowedIps> routes;
  std::vector<PeerSlot> peers;  // indexed by the peer id the routes yield
  SessionTable sessions;        // receiver index -> keypair
  BridgeL2 bridge;
  std::uint16_t tunnel_port_be = 0;  // our UDP port, network order (decap filter, encap source)
  // The largest inner IP packet the tunnel carries (path_mtu says what happens to larger ones).
  std::uint32_t tunnel_mtu = 1420;
  PathMtuConfig path_mtu;
  // Non-tunnel frames arriving on the wire port (ARP, ND, other traffic to this host): with
  // PCI ports nobody else sees them, so hand them to the slow path; with AF_XDP and
  // af_packet ports the kernel handles them and the stage drops them (outer_not_tunnel /
  // outer_not_ip).
  bool punt_non_tunnel = false;
  // The limit on staged packets over all peers (StagingBudget); null: only the per-peer rings
  // bound them. The slow path's, outlives the snapshot.
  StagingBudget* staging_budget = nullptr;

  // Owning references for the raw pointers above (see the file comment).
  std::vector<std::shared_ptr<PreparedKeypair>> keypairs_held;

  // The declared peer with id `id`, or nullptr.
  [[nodiscard]] const PeerSlot* peer_slot(std::uint32_t id) const noexcept {
    if (id >= peers.size() || peers[id].activity == nullptr) return nullptr;
    return &peers[id];
  }
  // Whether the stages prefetch per-peer state for a burst (prefetch_peer, the keypairs'
  // prefetch_for_*): only with more peers than stay in the core's caches, where the misses
  // they hide cost far more than the hints; with a few peers the hints are pure overhead
  // (perf/README.md, "Where the cycles go").
  [[nodiscard]] bool prefetch_peers() const noexcept { return peers.size() > kPrefetchFromPeers; }
  static constexpr std::size_t kPrefetchFromPeers = 64;

  // Brings peer `id`'s slot (both of its lines) towards the cache (a hint for the stages; any
  // id is safe).
  void prefetch_peer(std::uint32_t id) const noexcept {
    if (id >= peers.size()) return;
    const auto* p = reinterpret_cast<const char*>(&peers[id]);
    __builtin_prefetch(p);
    __builtin_prefetch(p + sizeof(PeerSlot) - 1);
  }
};

// The one place the pipeline asks the allowed-IPs table: the peer id owning `addr` (4 bytes
// for IPv4, 16 for IPv6, wire order), if any. Always inlined: called out of line, GCC 12
// returns the optional through a stack slot written as 4 + 1 bytes and read back as 8, a
// store-forwarding stall that was half of this function's cost (perf/README.md, "Where the
// cycles go").
[[nodiscard, gnu::always_inline]] inline std::optional<std::uint32_t> lookup_route(
    const wg::AllowedIps& routes, bool is_ipv6, const std::uint8_t* addr) noexcept {
  const auto hit = is_ipv6 ? routes.lookup_v6(addr) : routes.lookup_v4(addr);
  if (!hit) return std::nullopt;
  return static_cast<std::uint32_t>(*hit);
}

// Assembles a ForwardingState on the slow path. Allocates and throws (std::invalid_argument
// for inconsistent input, std::bad_alloc): never on a worker.
//
//   ForwardingStateBuilder b;
//   b.routes(table).tunnel(cpu_to_be16(51820), 1420).bridge(l2);
//   b.peer(0, Cipher::aes256_gcm, activity0, ring0).endpoint(0, template0);
//   b.current(0, prepared);                  // send with it (also receives on it)
//   b.session(0, previous, /*is_next=*/false);  // receive only
//   auto snapshot = b.build();
class ForwardingStateBuilder {
 public:
  ForwardingStateBuilder() = default;

  ForwardingStateBuilder& routes(std::shared_ptr<const wg::AllowedIps> table);
  ForwardingStateBuilder& tunnel(std::uint16_t port_be, std::uint32_t mtu);
  ForwardingStateBuilder& bridge(const BridgeL2& l2);
  ForwardingStateBuilder& punt_non_tunnel(bool punt);
  ForwardingStateBuilder& staging_budget(StagingBudget* budget);
  ForwardingStateBuilder& path_mtu(const PathMtuConfig& config);

  // Declares peer `id` (dense ids keep the slot vector small). `activity` and `staging` stay
  // the slow path's and must outlive the snapshot; staging may be null.
  ForwardingStateBuilder& peer(std::uint32_t id, Cipher cipher, PeerActivity& activity,
                               rte_ring* staging);
  // The peer's endpoint, as an outer-header template.
  ForwardingStateBuilder& endpoint(std::uint32_t id, const OuterTemplate& outer);
  // The keypair the peer sends with. Also registers it for receiving (not as next), so do
  // not pass it to session() as well (build() rejects a receiver index registered twice).
  ForwardingStateBuilder& current(std::uint32_t id, std::shared_ptr<PreparedKeypair> keypair);
  // A keypair the peer may receive on (previous, or next with is_next = true).
  ForwardingStateBuilder& session(std::uint32_t id, std::shared_ptr<PreparedKeypair> keypair,
                                  bool is_next);

  // Validates and returns the snapshot; the builder is empty afterwards.
  [[nodiscard]] std::unique_ptr<const ForwardingState> build();

 private:
  PeerSlot& declared(std::uint32_t id, const char* what);

  std::unique_ptr<ForwardingState> state_ = std::make_unique<ForwardingState>();
  std::vector<SessionEntry> sessions_;
};

}  // namespace strait::dp

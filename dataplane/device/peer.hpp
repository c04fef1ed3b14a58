#pragma once
// One configured peer of a Device: its configuration, its handshake and cookie state, its
// keypair rotation and timers, the packets waiting for a session, and its counters.
//
// Owned by the Device, which the slow-path thread owns: nothing here is shared with lcores
// except the Keypairs (keypairs.hpp says which of its members they read).

#include <cstdint>
#include <optional>
#include <vector>

#include "base/ip_prefix.hpp"
#include "core/cookie.hpp"
#include "core/keypairs.hpp"
#include "core/noise.hpp"
#include "core/timers.hpp"
#include "device/device_io.hpp"
#include "device/drop_counters.hpp"
#include "device/staging_queue.hpp"
#include "uapi/model.hpp"

namespace strait::wg {

struct Peer {
  Peer(PeerId id, const Key& public_key, const StaticIdentity& local, JitterSource jitter,
       std::size_t staging_capacity);
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  ~Peer() { wipe_secret(preshared_key); }

  // --- Identity and configuration (UAPI set=1).
  const PeerId id;
  const Key public_key;
  Key preshared_key{};                     // all zero = none (paper section 5.2)
  std::optional<uapi::Endpoint> endpoint;  // configured, then the source of the last
                                           // authenticated packet (roaming, paper section 2.1)
  Cipher cipher = Cipher::chacha20_poly1305;
  std::uint16_t persistent_keepalive = 0;  // seconds, 0 = off
  std::vector<IpPrefix> allowed_ips;       // as configured, host bits cleared, for get=1

  // --- Protocol state.
  Handshake handshake;
  CookieMaker cookie_maker;  // mac1/mac2 on what we send this peer, cookies it replies with
  Keypairs keypairs;
  PeerTimers timers;
  StagingQueue staged;
  // The receiver index registered for the handshake in progress (our initiation, or the
  // response we are about to send), 0 when none; it becomes the keypair's index when the
  // session begins (Linux wg_index_hashtable_replace).
  std::uint32_t handshake_index = 0;
  // The fast path confirmed a responder keypair (note_data_received): the next tick() sends
  // what was staged.
  bool send_staged_due = false;

  // --- Counters (UAPI get=1).
  std::uint64_t rx_bytes = 0;    // whole UDP payloads of authenticated messages, as Linux counts
  std::uint64_t tx_bytes = 0;    // whole UDP payloads sent to the peer
  std::uint64_t rx_packets = 0;  // transport data messages (keepalives included)
  std::uint64_t tx_packets = 0;
  DropCounters drops;
  std::optional<WallTime> last_handshake;  // wall clock of the last completed handshake
};

}  // namespace strait::wg

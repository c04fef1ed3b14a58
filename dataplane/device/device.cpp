#include "device/device.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "core/messages.hpp"
#include "core/tai64n.hpp"
#include "core/timers.hpp"
#include "core/transport_codec.hpp"
#include "device/config_check.hpp"
#include "device/crypto_setup.hpp"
#include "packet/inner_parse.hpp"

namespace strait::wg {

namespace {

// The largest inner packet the software transport seals: an IPv4/IPv6 packet's own limit.
constexpr std::size_t kMaxInnerPacket = 65535;
// Header, the packet padded to 16, the tag.
constexpr std::size_t kBufferSize = kDataHeaderLen + kMaxInnerPacket + 16 + kTagLen;

// The source of a handshake message as the cookie is bound to it (Linux cookie.c: the IP
// address followed by the UDP port): only equality matters.
struct SourceBytes {
  std::array<std::uint8_t, 18> bytes{};
  std::size_t size = 0;
  [[nodiscard]] std::span<const std::uint8_t> span() const { return {bytes.data(), size}; }
};

SourceBytes source_bytes(const uapi::Endpoint& e) {
  SourceBytes s;
  const std::size_t n = e.family == 6 ? 16 : 4;
  std::copy_n(e.addr.begin(), n, s.bytes.begin());
  s.bytes[n] = static_cast<std::uint8_t>(e.port >> 8);
  s.bytes[n + 1] = static_cast<std::uint8_t>(e.port);
  s.size = n + 2;
  return s;
}

}  // namespace

WallTime system_wall_clock() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return WallTime{static_cast<std::int64_t>(ts.tv_sec), static_cast<std::uint32_t>(ts.tv_nsec)};
}

Device::Device(RandomSource& rng, crypto::AeadEngine& engine, WallClock wall_clock,
               DeviceOptions options)
    : rng_(rng),
      engine_(engine),
      wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(system_wall_clock)),
      options_(options),
      rate_limiter_(options.rate_limiter_entries),
      peers_(options.staged_packets_per_peer, [this] { return random_u64(); }),
      index_(options.receiver_index_capacity),
      buffer_(kBufferSize) {
  if (!crypto_ready()) throw std::runtime_error("Device: libsodium cannot be initialised");
}

Device::~Device() = default;

// ---------------------------------------------------------------------------------------------
// Configuration

uapi::DeviceState Device::configuration() const {
  uapi::DeviceState s;
  if (identity_.has_key()) s.private_key = identity_.private_key;
  s.listen_port = listen_port_;
  s.fwmark = fwmark_;
  peers_.for_each([&](const Peer& p) {
    uapi::PeerState ps;
    ps.public_key = p.public_key;
    ps.allowed_ips = p.allowed_ips;
    s.peers.push_back(std::move(ps));
  });
  return s;
}

Result<void> Device::apply(const uapi::DeviceChange& change, Time now) {
  StaticIdentity next_identity = identity_;
  if (change.private_key) next_identity = StaticIdentity::from_private(*change.private_key);
  // The configuration as it is: the check reads it, then the change is applied to it below.
  uapi::DeviceState next = configuration();
  if (auto error = check_change(change, next, next_identity))
    return Error{EINVAL, std::move(*error)};

  // From here on nothing can fail. The model computes which peers exist afterwards and where
  // every allowed IP ends up (a prefix moves from whichever peer held it).
  uapi::apply_change(next, change);

  if (change.private_key && (next_identity.private_key != identity_.private_key)) {
    identity_ = next_identity;
    cookie_checker_.set_identity(identity_);
    // Linux set_device: precompute static-static again, expire current keypairs for sending.
    peers_.for_each([&](Peer& p) {
      p.handshake.configure(identity_, p.public_key, p.preshared_key);
      forget_handshake_index(p);
      p.keypairs.expire_current_for_sending();
      mark_changed(p, now);
    });
  }
  if (change.listen_port) listen_port_ = *change.listen_port;
  if (change.fwmark) fwmark_ = *change.fwmark;

  if (change.replace_peers) {
    while (Peer* newest = peers_.newest()) remove_peer(newest->id);
  }
  for (const uapi::PeerChange& pc : change.peers) {
    Peer* p = peers_.find(pc.public_key);
    if (pc.remove) {
      if (p != nullptr) remove_peer(p->id);
      continue;
    }
    if (p == nullptr) {
      if (pc.update_only) continue;
      p = &peers_.add(pc.public_key, identity_);
    }
    if (pc.preshared_key) {
      p->preshared_key = *pc.preshared_key;
      p->handshake.set_preshared_key(p->preshared_key);
    }
    if (pc.endpoint) p->endpoint = *pc.endpoint;
    if (pc.persistent_keepalive) {
      p->persistent_keepalive = *pc.persistent_keepalive;
      p->timers.set_persistent_keepalive_interval(std::chrono::seconds(p->persistent_keepalive),
                                                  now);
    }
    if (pc.cipher && *pc.cipher != p->cipher) {
      // The sessions were made for the old cipher; the next handshake makes new ones.
      p->cipher = *pc.cipher;
      release(p->keypairs.clear());
      p->handshake.clear();
      forget_handshake_index(*p);
    }
    mark_changed(*p, now);
  }

  // Routes: take each surviving peer's list from the model.
  bool routes_changed = false;
  for (const uapi::PeerState& ps : next.peers) {
    Peer* p = peers_.find(ps.public_key);
    if (p == nullptr) continue;  // cannot happen: the model and the loop above agree
    if (p->allowed_ips != ps.allowed_ips) {
      p->allowed_ips = ps.allowed_ips;
      routes_changed = true;
    }
  }
  if (routes_changed || change.replace_peers ||
      std::any_of(change.peers.begin(), change.peers.end(),
                  [](const uapi::PeerChange& pc) { return pc.remove; })) {
    peers_.rebuild_routes();
  }
  return {};
}

void Device::remove_peer(PeerId id) {
  Peer* p = peers_.find(id);
  if (p == nullptr) return;
  // What the peer holds outside the table: its timers, its receiver indices, its keypairs
  // (released to the host) and its staged packets; the host hears that it changed.
  p->timers.stop();
  release(p->keypairs.clear());
  forget_handshake_index(*p);
  static_cast<void>(p->staged.clear());
  pending_changes_.push_back(id);
  static_cast<void>(peers_.erase(id));
}

uapi::DeviceState Device::state() const {
  uapi::DeviceState s;
  if (identity_.has_key()) s.private_key = identity_.private_key;
  s.listen_port = listen_port_;
  s.fwmark = fwmark_;
  s.drops = drops_.to_uapi();
  s.handshakes = handshakes_;
  s.under_load = under_load_.under_load();
  peers_.for_each([&](const Peer& p) {
    uapi::PeerState ps;
    ps.public_key = p.public_key;
    ps.preshared_key = p.preshared_key;
    ps.endpoint = p.endpoint;
    if (p.last_handshake) {
      ps.last_handshake_sec = static_cast<std::uint64_t>(p.last_handshake->seconds);
      ps.last_handshake_nsec = p.last_handshake->nanoseconds;
    }
    ps.rx_bytes = p.rx_bytes;
    ps.tx_bytes = p.tx_bytes;
    ps.persistent_keepalive = p.persistent_keepalive;
    ps.allowed_ips = p.allowed_ips;
    ps.cipher = p.cipher;
    ps.rx_packets = p.rx_packets;
    ps.tx_packets = p.tx_packets;
    ps.drops = p.drops.to_uapi();
    s.peers.push_back(std::move(ps));
  });
  return s;
}

// ---------------------------------------------------------------------------------------------
// Receiving

void Device::receive(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from, Time now,
                     DeviceIo& io) {
  const Classification c = classify(bytes);
  if (!c.ok()) {
    drop(nullptr, is_length_error(c.error) ? DropReason::msg_bad_length : DropReason::msg_bad_type);
  } else {
    switch (c.type) {
      case MessageType::initiation:
        ++handshakes_.initiations_received;
        receive_initiation(bytes, from, now, io);
        break;
      case MessageType::response:
        ++handshakes_.responses_received;
        receive_response(bytes, from, now, io);
        break;
      case MessageType::cookie_reply:
        ++handshakes_.cookie_replies_received;
        receive_cookie_reply(bytes, now);
        break;
      case MessageType::data:
      case MessageType::data_aes_gcm: receive_data(bytes, from, now, io); break;
    }
  }
  flush_notifications(io);
}

bool Device::admit_handshake(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from,
                             Time now, DeviceIo& io) {
  const SourceBytes source = source_bytes(from);
  switch (cookie_checker_.check(bytes, source.span(), under_load_.under_load(), now, rng_)) {
    case MacVerdict::invalid_mac1: drop(nullptr, DropReason::handshake_bad_mac1); return false;
    case MacVerdict::invalid_mac2: {
      // Under load: make the sender prove its address first (paper section 5.4.7).
      MessageCookieReply reply;
      if (cookie_checker_.make_reply(reply, bytes, source.span(), now, rng_)) {
        io.send_datagram(from, bytes_of(reply));
        ++handshakes_.cookie_replies_sent;
      }
      drop(nullptr, DropReason::handshake_bad_mac2);
      return false;
    }
    case MacVerdict::valid_mac2:
      // The address is proven; now it may be limited (Linux cookie.c + ratelimiter.c).
      if (!rate_limiter_.allow(from, now)) {
        drop(nullptr, DropReason::handshake_rate_limited);
        return false;
      }
      return true;
    case MacVerdict::valid_mac1_no_mac2: return true;
  }
  return false;
}

void Device::receive_initiation(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from,
                                Time now, DeviceIo& io) {
  const Parsed<MessageInitiation> msg = parse_initiation(bytes);
  if (!msg.ok()) {  // classify() passed, so this does not happen; stay safe anyway
    drop(nullptr, DropReason::msg_bad_length);
    return;
  }
  if (!admit_handshake(bytes, from, now, io)) return;

  const HandshakeResult<PendingInitiation> pending =
      decrypt_initiation_static(identity_, msg.value);
  if (!pending.ok()) {
    drop(nullptr, DropReason::handshake_invalid);
    return;
  }
  Peer* peer = peers_.find(pending.value.initiator_static);
  if (peer == nullptr) {
    drop(nullptr, DropReason::handshake_invalid);
    return;
  }
  const HandshakeError e = peer->handshake.accept_initiation(pending.value, now);
  if (e != HandshakeError::ok) {
    drop(peer, e == HandshakeError::replayed_timestamp ? DropReason::handshake_replayed
               : e == HandshakeError::initiation_flood ? DropReason::handshake_rate_limited
                                                       : DropReason::handshake_invalid);
    return;
  }
  // Linux receive.c: the endpoint follows the initiation, then the response goes out.
  set_endpoint(*peer, from);
  peer->rx_bytes += bytes.size();
  send_response(*peer, now, io);
  peer->timers.on_any_authenticated_packet_received(now);
  peer->timers.on_any_authenticated_packet_traversal(now);
}

void Device::receive_response(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from,
                              Time now, DeviceIo& io) {
  const Parsed<MessageResponse> msg = parse_response(bytes);
  if (!msg.ok()) {
    drop(nullptr, DropReason::msg_bad_length);
    return;
  }
  if (!admit_handshake(bytes, from, now, io)) return;

  // Only a handshake in progress answers to a response (Linux INDEX_HASHTABLE_HANDSHAKE).
  const std::uint32_t receiver = msg.value.receiver.get();
  const IndexEntry* entry = index_.lookup(receiver);
  Peer* peer =
      entry != nullptr && entry->kind == IndexKind::handshake ? peers_.find(entry->peer) : nullptr;
  if (peer == nullptr || peer->handshake_index != receiver) {
    drop(nullptr, DropReason::handshake_invalid);
    return;
  }
  const HandshakeResult<SessionKeys> keys = peer->handshake.consume_response(msg.value, identity_);
  if (!keys.ok()) {
    drop(peer, DropReason::handshake_invalid);
    return;
  }
  set_endpoint(*peer, from);
  peer->rx_bytes += bytes.size();
  install_session(*peer, keys.value, now);
  handshake_complete(*peer);
  peer->timers.on_handshake_response_received(now);
  // Staged packets confirm the session to the responder; with none, run_timers sends the
  // keepalive on_handshake_response_received made due (paper section 5.4.7).
  send_staged(*peer, now, io);
  run_timers(*peer, now, io);
}

void Device::receive_cookie_reply(std::span<const std::uint8_t> bytes, Time now) {
  const Parsed<MessageCookieReply> msg = parse_cookie_reply(bytes);
  if (!msg.ok()) {
    drop(nullptr, DropReason::msg_bad_length);
    return;
  }
  // A cookie reply answers our initiation (handshake index) or our response (whose index is
  // a keypair's by now), as in Linux cookie.c.
  const IndexEntry* entry = index_.lookup(msg.value.receiver.get());
  Peer* peer = entry != nullptr ? peers_.find(entry->peer) : nullptr;
  if (peer == nullptr) {
    drop(nullptr, DropReason::cookie_invalid);
    return;
  }
  if (peer->cookie_maker.consume_reply(msg.value, now) != CookieReplyError::ok) {
    drop(peer, DropReason::cookie_invalid);
  }
}

void Device::receive_data(std::span<const std::uint8_t> bytes, const uapi::Endpoint& from, Time now,
                          DeviceIo& io) {
  const Parsed<DataView> msg = parse_data(bytes);
  if (!msg.ok()) {
    drop(nullptr, DropReason::msg_bad_length);
    return;
  }
  const DataView& data = msg.value;
  const IndexEntry* entry = index_.lookup(data.receiver);
  Peer* peer = entry != nullptr && entry->kind == IndexKind::keypair && entry->keypair != nullptr
                   ? peers_.find(entry->peer)
                   : nullptr;
  if (peer == nullptr) {
    drop(nullptr, DropReason::unknown_index);
    return;
  }
  Keypair& keypair = *entry->keypair;
  if (bytes.size() > buffer_.size()) {  // larger than any UDP payload: cannot happen
    drop(peer, DropReason::msg_bad_length);
    return;
  }
  // The codec opens in place: a copy, since the caller's bytes are const.
  std::memcpy(buffer_.data(), bytes.data(), bytes.size());
  std::span<std::uint8_t> plain;
  if (const DropReason why = open_one(engine_, keypair, {buffer_.data(), bytes.size()}, now, plain);
      why != DropReason::none) {
    drop(peer, why);
    return;
  }
  const std::size_t len = plain.size();

  // Authenticated (Linux receive.c wg_packet_consume_data_done).
  const bool rotated = peer->keypairs.received_with(&keypair);
  if (rotated) {
    // The initiator proved it holds the keys: the responder's session is confirmed.
    handshake_complete(*peer);
    peer->timers.on_handshake_complete(now);
  }
  set_endpoint(*peer, from);
  peer->timers.on_any_authenticated_packet_received(now);
  peer->timers.on_any_authenticated_packet_traversal(now);
  if (peer->timers.should_initiate_on_receive(peer->keypairs.current(), now))
    peer->timers.request_handshake_initiation(now);

  if (len == 0) {  // a keepalive (paper section 6.5)
    ++peer->rx_packets;
    peer->rx_bytes += bytes.size();
  } else {
    peer->timers.on_data_received(now);
    dp::InnerInfo info{};
    if (dp::parse_inner(plain.data(), static_cast<std::uint32_t>(len), info) != DropReason::none ||
        info.is_keepalive) {
      drop(peer, DropReason::inner_bad_ip);
    } else {
      // Cryptokey routing (paper section 2.1): the inner source must be one of the sender's.
      const AllowedIps& routes = *peers_.routes();
      const std::optional<PeerId> owner =
          info.is_ipv6 ? routes.lookup_v6(info.src_ip()) : routes.lookup_v4(info.src_ip());
      if (!owner || *owner != peer->id) {
        drop(peer, DropReason::inner_src_not_allowed);
      } else {
        ++peer->rx_packets;
        peer->rx_bytes += bytes.size();
        io.deliver(peer->id, {plain.data(), info.ip_len});
      }
    }
  }
  if (rotated) send_staged(*peer, now, io);
  run_timers(*peer, now, io);
}

// ---------------------------------------------------------------------------------------------
// Sending

void Device::send(std::span<const std::uint8_t> ip_packet, Time now, DeviceIo& io) {
  dp::InnerInfo info{};
  if (ip_packet.empty() ||
      dp::parse_inner(ip_packet.data(), static_cast<std::uint32_t>(ip_packet.size()), info) !=
          DropReason::none ||
      info.is_keepalive) {
    drop(nullptr, DropReason::inner_bad_ip);
    flush_notifications(io);
    return;
  }
  const AllowedIps& routes = *peers_.routes();
  const std::optional<PeerId> id =
      info.is_ipv6 ? routes.lookup_v6(info.dst_ip()) : routes.lookup_v4(info.dst_ip());
  Peer* peer = id ? peers_.find(*id) : nullptr;
  if (peer == nullptr) {
    drop(nullptr, DropReason::no_route);
  } else if (!peer->endpoint) {
    drop(peer, DropReason::no_endpoint);
  } else if (info.ip_len > kMaxInnerPacket) {
    drop(peer, DropReason::too_big);
  } else {
    // Linux send.c: everything goes through the staging queue, which is flushed at once when
    // a keypair is usable.
    const std::size_t dropped = peer->staged.push(ip_packet.first(info.ip_len));
    if (dropped != 0) drop(peer, DropReason::no_keypair, dropped);
    send_staged(*peer, now, io);
  }
  flush_notifications(io);
}

void Device::send_staged(Peer& peer, Time now, DeviceIo& io) {
  if (peer.staged.empty()) return;
  Keypair* keypair = peer.keypairs.current();
  if (keypair == nullptr || !keypair->valid_for_send(now) || !peer.endpoint) {
    peer.timers.request_handshake_initiation(now);
    run_timers(peer, now, io);
    return;
  }
  auto packets = peer.staged.take_all();
  while (!packets.empty()) {
    if (!seal_and_send(peer, *keypair, packets.front(), now, io)) break;
    packets.pop_front();
  }
  if (!packets.empty()) {
    // Out of nonces (REJECT_AFTER_MESSAGES): wait for the next session.
    const std::size_t dropped = peer.staged.put_back(std::move(packets));
    if (dropped != 0) drop(&peer, DropReason::no_keypair, dropped);
    peer.timers.request_handshake_initiation(now);
  } else if (PeerTimers::should_initiate_on_send(keypair, now)) {
    // Linux send.c keep_key_fresh: the session is getting old; make the next one now.
    peer.timers.request_handshake_initiation(now);
  }
  run_timers(peer, now, io);
}

void Device::send_keepalive(Peer& peer, Time now, DeviceIo& io) {
  Keypair* keypair = peer.keypairs.current();
  if (keypair == nullptr || !keypair->valid_for_send(now) || !peer.endpoint) {
    // Linux stages an empty packet and so asks for a handshake; the handshake's own
    // confirmation does the keepalive's job.
    if (peer.endpoint) peer.timers.request_handshake_initiation(now);
    return;
  }
  if (!seal_and_send(peer, *keypair, {}, now, io) ||
      PeerTimers::should_initiate_on_send(keypair, now)) {
    // Linux sends keepalives through the staged-packet path, so keep_key_fresh applies too.
    peer.timers.request_handshake_initiation(now);
  }
}

bool Device::seal_and_send(Peer& peer, Keypair& keypair, std::span<const std::uint8_t> payload,
                           Time now, DeviceIo& io) {
  const auto len = static_cast<std::uint32_t>(payload.size());
  const std::uint32_t padded = padded_len(len, 0);  // no tunnel MTU here
  if (sealed_len(padded) > buffer_.size()) {
    drop(&peer, DropReason::too_big);
    return true;  // this packet is gone; the others may go
  }
  if (!payload.empty()) std::memcpy(buffer_.data() + kDataHeaderLen, payload.data(), len);
  switch (seal_one(engine_, keypair, buffer_.data(), len, padded, now)) {
    case DropReason::none: break;
    case DropReason::seal_failed:
      drop(&peer, DropReason::seal_failed);  // the buffer may hold plaintext: never sent
      return true;
    default: return false;  // no nonce left (or not valid for sending): a new session is needed
  }
  send_to_peer(peer, {buffer_.data(), sealed_len(padded)}, io);
  ++peer.tx_packets;

  peer.timers.on_any_authenticated_packet_sent(now);
  peer.timers.on_any_authenticated_packet_traversal(now);
  if (!payload.empty()) peer.timers.on_data_sent(now);
  return true;
}

void Device::send_to_peer(Peer& peer, std::span<const std::uint8_t> bytes, DeviceIo& io) {
  if (!peer.endpoint) return;
  io.send_datagram(*peer.endpoint, bytes);
  peer.tx_bytes += bytes.size();
}

void Device::send_initiation(Peer& peer, Time now, DeviceIo& io) {
  if (!peer.endpoint || !identity_.has_key()) return;
  // A new index and a new ephemeral for every attempt (Linux: a fresh handshake each time).
  forget_handshake_index(peer);
  const std::optional<std::uint32_t> index = allocate_handshake_index(peer);
  if (!index) return;
  MessageInitiation msg;
  const WallTime wall = wall_clock_();
  const HandshakeError e = peer.handshake.create_initiation(
      msg, identity_, *index, tai64n_from_unix(wall.seconds, wall.nanoseconds), rng_);
  if (e != HandshakeError::ok) {
    index_.remove(*index);
    return;
  }
  peer.handshake_index = *index;
  peer.cookie_maker.add_macs(msg, now);
  // Linux send.c wg_packet_send_handshake_initiation.
  peer.timers.on_any_authenticated_packet_traversal(now);
  peer.timers.on_any_authenticated_packet_sent(now);
  peer.timers.on_handshake_initiated(now);
  send_to_peer(peer, bytes_of(msg), io);
  ++handshakes_.initiations_sent;
}

void Device::send_response(Peer& peer, Time now, DeviceIo& io) {
  // Our own initiation, if any, was overwritten by accept_initiation: its index goes.
  forget_handshake_index(peer);
  const std::optional<std::uint32_t> index = allocate_handshake_index(peer);
  if (!index) return;
  MessageResponse msg;
  const HandshakeResult<SessionKeys> keys = peer.handshake.create_response(msg, *index, rng_);
  if (!keys.ok()) {
    index_.remove(*index);
    return;
  }
  peer.handshake_index = *index;
  peer.cookie_maker.add_macs(msg, now);
  peer.timers.on_handshake_response_sent(now);
  install_session(peer, keys.value, now);
  // Linux send.c wg_packet_send_handshake_response.
  peer.timers.on_session_derived(now);
  peer.timers.on_any_authenticated_packet_traversal(now);
  peer.timers.on_any_authenticated_packet_sent(now);
  send_to_peer(peer, bytes_of(msg), io);  // the initiation just set the endpoint
  ++handshakes_.responses_sent;
}

// ---------------------------------------------------------------------------------------------
// Timers and sessions

void Device::run_timers(Peer& peer, Time now, DeviceIo& io) {
  const TimerActions a = peer.timers.poll(now);
  if (a.handshake_gave_up) {
    // Paper section 6.4: nobody answers; what waited for the session is dropped.
    const std::size_t n = peer.staged.clear();
    if (n != 0) drop(&peer, DropReason::no_keypair, n);
  }
  if (a.zero_keys) zero_keys(peer);
  if (a.send_handshake_initiation) send_initiation(peer, now, io);
  if (a.send_keepalive) {
    send_keepalive(peer, now, io);
    // A keepalive without a keypair asks for a handshake: grant it now if allowed.
    const TimerActions again = peer.timers.poll(now);
    if (again.send_handshake_initiation) send_initiation(peer, now, io);
  }
}

void Device::install_session(Peer& peer, const SessionKeys& keys, Time now) {
  Keypairs::Installed installed = peer.keypairs.install(keys, peer.cipher, now);
  // Once, here, before anything publishes it: every user of the keypair (this transport,
  // straitd's workers and slow path) seals and opens with this one expansion.
  installed.keypair->prepare_aead(engine_);
  // The handshake's index now names the keypair (Linux wg_index_hashtable_replace).
  static_cast<void>(
      index_.replace(keys.local_index, IndexEntry{IndexKind::keypair, peer.id, installed.keypair}));
  if (peer.handshake_index == keys.local_index) peer.handshake_index = 0;
  release(std::move(installed.released));
  mark_changed(peer);
}

void Device::handshake_complete(Peer& peer) {
  // Linux timers.c wg_timers_handshake_complete also stamps the wall-clock handshake time.
  peer.last_handshake = wall_clock_();
  ++handshakes_.completed;
  mark_changed(peer);
}

void Device::zero_keys(Peer& peer) {
  // Paper section 6.3: nothing derived from an old handshake survives REJECT_AFTER_TIME * 3.
  release(peer.keypairs.clear());
  peer.handshake.clear();
  forget_handshake_index(peer);
  mark_changed(peer);
}

void Device::release(ReleasedKeypairs&& released) {
  for (const ReleasedKeypairs::Entry& e : released) {
    const IndexEntry* entry = index_.lookup(e.local_index);
    if (entry != nullptr && entry->kind == IndexKind::keypair && entry->keypair == e.keypair.get())
      index_.remove(e.local_index);
    pending_releases_.push_back(e.keypair);
  }
}

void Device::forget_handshake_index(Peer& peer) {
  if (peer.handshake_index == 0) return;
  const IndexEntry* entry = index_.lookup(peer.handshake_index);
  if (entry != nullptr && entry->kind == IndexKind::handshake && entry->peer == peer.id)
    index_.remove(peer.handshake_index);
  peer.handshake_index = 0;
}

std::optional<std::uint32_t> Device::allocate_handshake_index(Peer& peer) {
  // Random indices (paper section 5.4.2: "sender index ... randomly generated"); a full
  // table means no new handshakes until sessions expire.
  return index_.allocate(IndexEntry{IndexKind::handshake, peer.id, nullptr},
                         [this] { return static_cast<std::uint32_t>(random_u64()); });
}

void Device::set_endpoint(Peer& peer, const uapi::Endpoint& from) {
  // Roaming (paper section 2.1): the endpoint follows the source of authenticated packets.
  if (peer.endpoint && *peer.endpoint == from) return;
  peer.endpoint = from;
  mark_changed(peer);
}

void Device::mark_changed(Peer& peer, std::optional<Time> due) {
  if (std::find(pending_changes_.begin(), pending_changes_.end(), peer.id) ==
      pending_changes_.end())
    pending_changes_.push_back(peer.id);
  if (due && (!work_due_ || *due < *work_due_)) work_due_ = due;
}

void Device::flush_notifications(DeviceIo& io) {
  auto releases = std::move(pending_releases_);
  pending_releases_.clear();
  auto changes = std::move(pending_changes_);
  pending_changes_.clear();
  for (auto& k : releases) io.on_keypair_released(std::move(k));
  for (const PeerId id : changes) io.on_session_changed(id);
}

void Device::tick(Time now, DeviceIo& io) {
  work_due_.reset();
  peers_.for_each([&](Peer& peer) {
    ReleasedKeypairs expired = peer.keypairs.expire(now);
    if (!expired.empty()) {
      release(std::move(expired));
      mark_changed(peer);
    }
    if (peer.send_staged_due) {
      peer.send_staged_due = false;
      send_staged(peer, now, io);
    }
    run_timers(peer, now, io);
  });
  flush_notifications(io);
}

std::optional<Time> Device::next_deadline() const {
  std::optional<Time> earliest = work_due_;
  auto consider = [&](std::optional<Time> t) {
    if (t && (!earliest || *t < *earliest)) earliest = t;
  };
  if (!pending_releases_.empty() || !pending_changes_.empty()) consider(Time::zero());
  peers_.for_each([&](const Peer& p) {
    consider(p.timers.next_deadline());
    // Dead keypairs are dropped early, freeing their indices (Keypairs::expire).
    for (const Keypair* k : {p.keypairs.previous(), p.keypairs.current(), p.keypairs.next()}) {
      if (k != nullptr) consider(k->birthdate + kRejectAfterTime);
    }
  });
  return earliest;
}

// ---------------------------------------------------------------------------------------------
// Fast-path events

void Device::note_data_received(PeerId id, const Keypair* keypair, Time now, bool keepalive) {
  Peer* peer = peers_.find(id);
  if (peer == nullptr) return;
  if (peer->keypairs.received_with(keypair)) {
    handshake_complete(*peer);
    peer->timers.on_handshake_complete(now);
    peer->send_staged_due = true;
    mark_changed(*peer, now);
  }
  peer->timers.on_any_authenticated_packet_received(now);
  peer->timers.on_any_authenticated_packet_traversal(now);
  if (!keepalive) peer->timers.on_data_received(now);
  if (peer->timers.should_initiate_on_receive(peer->keypairs.current(), now))
    peer->timers.request_handshake_initiation(now);
}

void Device::note_data_sent(PeerId id, Time now, bool keepalive) {
  Peer* peer = peers_.find(id);
  if (peer == nullptr) return;
  peer->timers.on_any_authenticated_packet_sent(now);
  peer->timers.on_any_authenticated_packet_traversal(now);
  if (!keepalive) peer->timers.on_data_sent(now);
  if (PeerTimers::should_initiate_on_send(peer->keypairs.current(), now))
    peer->timers.request_handshake_initiation(now);
}

void Device::note_handshake_wanted(PeerId id, Time now) {
  if (Peer* peer = peers_.find(id)) peer->timers.request_handshake_initiation(now);
}

bool Device::note_endpoint(PeerId id, const uapi::Endpoint& endpoint) {
  Peer* peer = peers_.find(id);
  if (peer == nullptr || (peer->endpoint && *peer->endpoint == endpoint)) return false;
  // straitd peers (AES-256-GCM) send data from a port per inner flow (docs/STRAITD.md, "Outer
  // source ports"), so a data packet's source port says nothing about where the peer listens:
  // roaming follows the address only, and the port stays the one configured or learnt from a
  // handshake (which straitd sends from its listen port). Else the endpoint would flap
  // between the flow ports of every burst.
  if (peer->cipher == Cipher::aes256_gcm) {
    // straitd's workers report these sources with port 0: nothing to learn without an
    // endpoint (the handshake that made the session set one anyway).
    if (!peer->endpoint) {
      if (endpoint.port == 0) return false;
      set_endpoint(*peer, endpoint);
      return true;
    }
    uapi::Endpoint moved = endpoint;
    moved.port = peer->endpoint->port;
    if (moved == *peer->endpoint) return false;
    set_endpoint(*peer, moved);
    return true;
  }
  set_endpoint(*peer, endpoint);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Read access

void Device::for_each_peer(const std::function<void(const PeerView&)>& visit) const {
  peers_.for_each([&](const Peer& p) {
    visit(PeerView{p.id, p.cipher, p.endpoint, p.keypairs, p.allowed_ips});
  });
}

const Peer* Device::peer(PeerId id) const { return peers_.find(id); }

std::optional<PeerId> Device::peer_id(const Key& public_key) const {
  return peers_.id_of(public_key);
}

void Device::drop(Peer* peer, DropReason reason, std::uint64_t n) {
  drops_.add(reason, n);
  if (peer != nullptr) peer->drops.add(reason, n);
}

std::uint64_t Device::random_u64() {
  std::array<std::uint8_t, 8> b{};
  rng_.fill(b);
  std::uint64_t v = 0;
  for (const std::uint8_t x : b) v = v << 8 | x;
  return v;
}

}  // namespace strait::wg

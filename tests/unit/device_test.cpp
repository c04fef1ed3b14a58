// The sans-I/O Device: two Devices wired back to back in memory, a fake monotonic clock, a
// fake wall clock and a deterministic RandomSource. Every datagram one device sends is queued
// and handed to the other by pump(), which can lose or rewrite datagrams on the way.
//
//   Node A                                              Node B
//   192.0.2.1:51820, tunnel 10.0.0.1    datagrams       192.0.2.2:51820, tunnel 10.0.0.2
//   ┌──────────────┐   A.io.out ──pump()──▶ B.receive   ┌──────────────┐
//   │ Device ── io │◀── A.receive ◀──pump()── B.io.out  │ io ── Device │
//   └──────────────┘                                     └──────────────┘
//
// The protocol behaviours checked follow the WireGuard paper sections 5 and 6 and the Linux
// module's receive.c / send.c / timers.c; the numbers (5 s, 10 s, 90 s, 120 s, 180 s, 540 s)
// are the paper's constants.

#include "device/device.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/packet_builder.hpp"
#include "common/refused.hpp"
#include "common/test_keys.hpp"
#include "core/messages.hpp"
#include "device/handshake_rate_limiter.hpp"
#include "device/under_load.hpp"

namespace strait::wg {
namespace {

using test::refused;

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

constexpr Time kT0 = seconds(1000);
constexpr std::int64_t kWallEpoch = 1'700'000'000;

// splitmix64: deterministic, distinct per seed.
class SeqRandom final : public RandomSource {
 public:
  explicit SeqRandom(std::uint64_t seed) : state_(seed) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      if (left_ == 0) {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        word_ = z ^ (z >> 31);
        left_ = 8;
      }
      b = static_cast<std::uint8_t>(word_);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  int left_ = 0;
};

struct Datagram {
  uapi::Endpoint to;
  Bytes bytes;
};

// A DeviceIo that records everything.
struct RecordingIo final : DeviceIo {
  std::deque<Datagram> out;
  std::vector<std::pair<PeerId, Bytes>> delivered;
  int session_changes = 0;
  int keypairs_released = 0;

  void send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) override {
    out.push_back({to, Bytes(bytes.begin(), bytes.end())});
  }
  void deliver(PeerId peer, std::span<const std::uint8_t> ip_packet) override {
    delivered.emplace_back(peer, Bytes(ip_packet.begin(), ip_packet.end()));
  }
  void on_session_changed(PeerId) override { ++session_changes; }
  void on_keypair_released(std::shared_ptr<Keypair>) override { ++keypairs_released; }
};

using test::private_key_from;

struct Node {
  Node(std::uint8_t seed, uapi::Endpoint address, std::string tunnel, Time* clock)
      : rng(seed),
        device(rng, engine,
               [clock] {
                 const auto ns = clock->count();
                 return WallTime{kWallEpoch + ns / 1'000'000'000,
                                 static_cast<std::uint32_t>(ns % 1'000'000'000)};
               }),
        addr(address),
        source(address),
        tunnel_ip(std::move(tunnel)),
        identity(StaticIdentity::from_private(private_key_from(seed))) {}

  SeqRandom rng;
  crypto::AeadEngine engine;
  Device device;
  RecordingIo io;
  uapi::Endpoint addr;    // where datagrams to this node go
  uapi::Endpoint source;  // the source address its datagrams arrive from (roaming: change it)
  std::string tunnel_ip;
  StaticIdentity identity;

  [[nodiscard]] const Key& pub() const { return identity.public_key; }
};

// Two nodes and the wire between them.
class DeviceTest : public ::testing::Test {
 protected:
  DeviceTest()
      : a_(1, uapi::Endpoint::v4({192, 0, 2, 1}, 51820), "10.0.0.1", &now_),
        b_(2, uapi::Endpoint::v4({192, 0, 2, 2}, 51820), "10.0.0.2", &now_) {}

  // Configures `self` with one peer, `other`, allowed `other`'s tunnel address /32.
  static uapi::DeviceChange config_for(const Node& self, const Node& other,
                                       Cipher cipher = Cipher::chacha20_poly1305,
                                       bool with_endpoint = true, std::uint16_t keepalive = 0) {
    uapi::DeviceChange c;
    c.private_key = self.identity.private_key;
    c.listen_port = self.addr.port;
    uapi::PeerChange p;
    p.public_key = other.pub();
    if (with_endpoint) p.endpoint = other.addr;
    p.allowed_ips.push_back(*IpPrefix::parse(other.tunnel_ip + "/32"));
    p.cipher = cipher;
    if (keepalive != 0) p.persistent_keepalive = keepalive;
    c.peers.push_back(p);
    return c;
  }

  void configure(Cipher a_cipher = Cipher::chacha20_poly1305,
                 Cipher b_cipher = Cipher::chacha20_poly1305) {
    ASSERT_EQ(refused(a_.device.apply(config_for(a_, b_, a_cipher), now_)), "");
    ASSERT_EQ(refused(b_.device.apply(config_for(b_, a_, b_cipher), now_)), "");
    a_.device.tick(now_, a_.io);
    b_.device.tick(now_, b_.io);
  }

  // Moves queued datagrams both ways until both queues are empty. `lose` may drop one.
  int pump() {
    int moved = 0;
    while (!a_.io.out.empty() || !b_.io.out.empty()) {
      for (Node* from : {&a_, &b_}) {
        Node* to = from == &a_ ? &b_ : &a_;
        while (!from->io.out.empty()) {
          Datagram d = std::move(from->io.out.front());
          from->io.out.pop_front();
          if (lose && lose(*from, d)) continue;
          if (d.to == to->addr) {
            to->device.receive(d.bytes, from->source, now_, to->io);
            ++moved;
          }
        }
      }
    }
    return moved;
  }

  // Advances the clock in steps, ticking both devices at every step, and pumps.
  void run_for(Time duration, Time step = milliseconds(100)) {
    const Time end = now_ + duration;
    while (now_ < end) {
      now_ = std::min(end, now_ + step);
      a_.device.tick(now_, a_.io);
      b_.device.tick(now_, b_.io);
      pump();
    }
  }

  static Bytes ping(const Node& from, const Node& to, std::uint16_t seq, std::size_t len = 56) {
    return PacketBuilder()
        .ipv4(from.tunnel_ip, to.tunnel_ip)
        .icmp_echo(0x4242, seq)
        .payload(len)
        .build();
  }

  // Sends one ping a -> b (or b -> a) through the devices and pumps.
  void send(Node& from, const Node& to, std::uint16_t seq) {
    from.device.send(ping(from, to, seq), now_, from.io);
    pump();
  }

  PeerId peer_of(const Node& self, const Node& other) const {
    return *self.device.peer_id(other.pub());
  }
  const Peer& peer_state(const Node& self, const Node& other) const {
    return *self.device.peer(peer_of(self, other));
  }

  std::uint64_t drops(const Node& n, DropReason r) const { return n.device.drops()[r]; }

  Time now_ = kT0;
  Node a_;
  Node b_;
  std::function<bool(const Node& from, const Datagram&)> lose;
};

std::uint8_t type_of(const Datagram& d) { return d.bytes.empty() ? 0 : d.bytes[0]; }

// ---------------------------------------------------------------------------------------------
// Handshake and data

TEST_F(DeviceTest, FirstSendMakesHandshakeAndDataFlowsBothWaysChaCha) {
  configure();
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  ASSERT_EQ(a_.io.out.size(), 1u);
  EXPECT_EQ(type_of(a_.io.out.front()), kMsgTypeInitiation);
  EXPECT_EQ(a_.io.out.front().bytes.size(), kInitiationLen);
  EXPECT_EQ(a_.io.out.front().to, b_.addr);
  EXPECT_EQ(peer_state(a_, b_).staged.size(), 1u);

  pump();
  ASSERT_EQ(b_.io.delivered.size(), 1u);
  EXPECT_EQ(b_.io.delivered[0].first, peer_of(b_, a_));
  EXPECT_EQ(b_.io.delivered[0].second, ping(a_, b_, 1));
  EXPECT_EQ(peer_state(a_, b_).staged.size(), 0u);

  // A initiated: its keypair is current at once; B's became current with the first data.
  const Keypair* a_cur = peer_state(a_, b_).keypairs.current();
  const Keypair* b_cur = peer_state(b_, a_).keypairs.current();
  ASSERT_NE(a_cur, nullptr);
  ASSERT_NE(b_cur, nullptr);
  EXPECT_TRUE(a_cur->we_initiated);
  EXPECT_FALSE(b_cur->we_initiated);
  EXPECT_EQ(a_cur->send_key, b_cur->recv_key);
  EXPECT_EQ(peer_state(b_, a_).keypairs.next(), nullptr);

  send(b_, a_, 2);
  ASSERT_EQ(a_.io.delivered.size(), 1u);
  EXPECT_EQ(a_.io.delivered[0].second, ping(b_, a_, 2));

  // Both sides know when the handshake completed (fake wall clock), and count traffic.
  const uapi::DeviceState sa = a_.device.state();
  ASSERT_EQ(sa.peers.size(), 1u);
  EXPECT_EQ(sa.peers[0].last_handshake_sec, static_cast<std::uint64_t>(kWallEpoch + 1000));
  EXPECT_GT(sa.peers[0].tx_bytes, kInitiationLen);
  EXPECT_GT(sa.peers[0].rx_bytes, kResponseLen);
  EXPECT_EQ(sa.peers[0].rx_packets, 1u);
  EXPECT_GE(sa.peers[0].tx_packets, 1u);
  EXPECT_NE(b_.device.state().peers[0].last_handshake_sec, 0u);
  EXPECT_EQ(a_.device.drops().total(), 0u);
  EXPECT_EQ(b_.device.drops().total(), 0u);
  EXPECT_GT(a_.io.session_changes, 0);

  // One handshake each way in the message counters: A initiated, B answered, and both count
  // it completed (A on the response, B on the first data under the new keys).
  uapi::HandshakeCounters a_expected;
  a_expected.initiations_sent = 1;
  a_expected.responses_received = 1;
  a_expected.completed = 1;
  EXPECT_EQ(sa.handshakes, a_expected);
  uapi::HandshakeCounters b_expected;
  b_expected.initiations_received = 1;
  b_expected.responses_sent = 1;
  b_expected.completed = 1;
  EXPECT_EQ(b_.device.state().handshakes, b_expected);
  EXPECT_FALSE(b_.device.state().under_load);
}

TEST_F(DeviceTest, DataBothWaysAesGcmUsesItsOwnMessageType) {
  configure(Cipher::aes256_gcm, Cipher::aes256_gcm);
  std::vector<std::uint8_t> seen_types;
  lose = [&](const Node&, const Datagram& d) {
    seen_types.push_back(type_of(d));
    return false;
  };
  send(a_, b_, 1);
  send(b_, a_, 2);
  ASSERT_EQ(b_.io.delivered.size(), 1u);
  ASSERT_EQ(a_.io.delivered.size(), 1u);
  EXPECT_EQ(a_.io.delivered[0].second, ping(b_, a_, 2));
  EXPECT_EQ(peer_state(a_, b_).keypairs.current()->cipher, Cipher::aes256_gcm);
  // initiation, response, data (A), data (B): the data went as 0x84, never as type 4.
  EXPECT_EQ(std::count(seen_types.begin(), seen_types.end(), kMsgTypeDataAesGcm), 2);
  EXPECT_EQ(std::count(seen_types.begin(), seen_types.end(), kMsgTypeData), 0);
}

TEST_F(DeviceTest, Ipv6InnerPacketsAreRoutedAndDelivered) {
  configure();
  auto add_route = [&](Node& self, const Node& other, const char* prefix) {
    uapi::DeviceChange c;
    uapi::PeerChange p;
    p.public_key = other.pub();
    p.update_only = true;
    p.allowed_ips.push_back(*IpPrefix::parse(prefix));
    c.peers = {p};
    ASSERT_EQ(refused(self.device.apply(c, now_)), "");
  };
  add_route(a_, b_, "fd00::2/128");
  add_route(b_, a_, "fd00::1/128");
  const Bytes v6 =
      PacketBuilder().ipv6("fd00::1", "fd00::2").icmpv6_echo(7, 1).payload(100).build();
  a_.device.send(v6, now_, a_.io);
  pump();
  ASSERT_EQ(b_.io.delivered.size(), 1u);
  EXPECT_EQ(b_.io.delivered[0].second, v6);
  // fd00::3 is nobody's: no route at A, and not A's source at B.
  a_.device.send(PacketBuilder().ipv6("fd00::1", "fd00::3").icmpv6_echo(7, 2).build(), now_, a_.io);
  EXPECT_EQ(drops(a_, DropReason::no_route), 1u);
  a_.device.send(PacketBuilder().ipv6("fd00::3", "fd00::2").icmpv6_echo(7, 3).build(), now_, a_.io);
  pump();
  EXPECT_EQ(drops(b_, DropReason::inner_src_not_allowed), 1u);
  EXPECT_EQ(b_.io.delivered.size(), 1u);
}

TEST_F(DeviceTest, CipherMismatchIsCountedNeverDelivered) {
  configure(Cipher::aes256_gcm, Cipher::chacha20_poly1305);
  send(a_, b_, 1);  // the handshake is cipher-independent and completes
  EXPECT_EQ(b_.io.delivered.size(), 0u);
  EXPECT_EQ(drops(b_, DropReason::cipher_mismatch), 1u);
  EXPECT_EQ(peer_state(b_, a_).drops[DropReason::cipher_mismatch], 1u);
  // B's own data waits for a session of its own (its responder keypair was never confirmed).
  // Its response counts for the initiation rate limit, so the first try is refused; a send
  // after REKEY_TIMEOUT initiates, and B's ChaCha20 data is refused by A likewise.
  send(b_, a_, 2);
  EXPECT_EQ(peer_state(b_, a_).staged.size(), 1u);
  run_for(seconds(6));
  send(b_, a_, 3);
  EXPECT_EQ(peer_state(b_, a_).staged.size(), 0u);
  EXPECT_EQ(a_.io.delivered.size(), 0u);
  EXPECT_EQ(drops(a_, DropReason::cipher_mismatch), 2u);
  EXPECT_EQ(drops(a_, DropReason::auth_failed), 0u);
  EXPECT_EQ(drops(b_, DropReason::auth_failed), 0u);
}

TEST_F(DeviceTest, RekeyAfterTimeRollsKeypairsWithoutLosingPackets) {
  configure();
  send(a_, b_, 0);
  const Keypair* first = peer_state(a_, b_).keypairs.current();
  ASSERT_NE(first, nullptr);

  // Traffic both ways every 10 s, past REKEY_AFTER_TIME (120 s).
  std::uint16_t seq = 1;
  int sent_ab = 1, sent_ba = 0;
  while (now_ + seconds(10) < kT0 + kRekeyAfterTime) {
    run_for(seconds(10));
    send(a_, b_, seq++);
    ++sent_ab;
    send(b_, a_, seq++);
    ++sent_ba;
  }
  EXPECT_EQ(peer_state(a_, b_).keypairs.current(), first);  // not yet

  // Hold one of A's data messages, sealed on the old session, to deliver after the roll.
  Datagram held;
  bool holding = false;
  lose = [&](const Node& from, const Datagram& d) {
    if (!holding && &from == &a_ && type_of(d) == kMsgTypeData && d.bytes.size() > kDataMinLen) {
      held = d;
      holding = true;
      return true;
    }
    return false;
  };
  send(a_, b_, seq++);
  ++sent_ab;
  ASSERT_TRUE(holding);
  lose = nullptr;
  run_for(seconds(10));  // now at REKEY_AFTER_TIME
  EXPECT_EQ(peer_state(a_, b_).keypairs.current(), first);
  // The next data A sends still goes on the old session, then rekeying starts (Linux send.c
  // keep_key_fresh: the initiator rekeys after REKEY_AFTER_TIME).
  a_.device.send(ping(a_, b_, seq++), now_, a_.io);
  ++sent_ab;
  ASSERT_EQ(a_.io.out.size(), 2u);
  EXPECT_EQ(type_of(a_.io.out[0]), kMsgTypeData);
  EXPECT_EQ(type_of(a_.io.out[1]), kMsgTypeInitiation);
  pump();  // initiation -> response -> A's confirming keepalive

  const Keypairs& ka = peer_state(a_, b_).keypairs;
  const Keypairs& kb = peer_state(b_, a_).keypairs;
  ASSERT_NE(ka.current(), nullptr);
  EXPECT_NE(ka.current(), first);
  EXPECT_EQ(ka.previous(), first);
  // B: A's keepalive on the new session moved it from next to current.
  EXPECT_EQ(kb.next(), nullptr);
  ASSERT_NE(kb.current(), nullptr);
  EXPECT_EQ(kb.current()->recv_key, ka.current()->send_key);
  ASSERT_NE(kb.previous(), nullptr);

  // The message sealed on the old session still decrypts (previous keypair).
  b_.device.receive(held.bytes, a_.source, now_, b_.io);
  send(a_, b_, seq++);
  ++sent_ab;
  send(b_, a_, seq++);
  ++sent_ba;
  EXPECT_EQ(static_cast<int>(b_.io.delivered.size()), sent_ab);
  EXPECT_EQ(static_cast<int>(a_.io.delivered.size()), sent_ba);
  EXPECT_EQ(a_.device.drops().total(), 0u);
  EXPECT_EQ(b_.device.drops().total(), 0u);
}

TEST_F(DeviceTest, ResponderNextKeypairWaitsForConfirmation) {
  configure();
  // Only the initiation and response go; A's data is lost, so B never sees the confirmation.
  lose = [](const Node&, const Datagram& d) { return type_of(d) == kMsgTypeData; };
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  pump();
  const Keypairs& kb = peer_state(b_, a_).keypairs;
  EXPECT_NE(kb.next(), nullptr);
  EXPECT_EQ(kb.current(), nullptr);
  // B cannot send on an unconfirmed keypair: its packet is staged, a handshake is asked for.
  lose = [](const Node&, const Datagram&) { return true; };
  b_.device.send(ping(b_, a_, 2), now_, b_.io);
  EXPECT_EQ(peer_state(b_, a_).staged.size(), 1u);
  EXPECT_EQ(b_.device.state().peers[0].last_handshake_sec, 0u);
}

TEST_F(DeviceTest, RetransmitsInitiationWithNewIndexWhenResponseLost) {
  configure();
  int responses_lost = 0;
  lose = [&](const Node&, const Datagram& d) {
    if (type_of(d) == kMsgTypeResponse && responses_lost == 0) {
      ++responses_lost;
      return true;
    }
    return false;
  };
  std::vector<Bytes> initiations;
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  initiations.push_back(a_.io.out.front().bytes);
  pump();
  EXPECT_EQ(responses_lost, 1);
  EXPECT_TRUE(b_.io.delivered.empty());

  // Nothing before REKEY_TIMEOUT ...
  now_ += seconds(4);
  a_.device.tick(now_, a_.io);
  EXPECT_TRUE(a_.io.out.empty());
  // ... a new initiation after REKEY_TIMEOUT + jitter (< 5.334 s).
  now_ += milliseconds(1400);
  a_.device.tick(now_, a_.io);
  ASSERT_EQ(a_.io.out.size(), 1u);
  const Bytes& again = a_.io.out.front().bytes;
  ASSERT_EQ(again[0], kMsgTypeInitiation);
  // New sender index and new ephemeral.
  EXPECT_FALSE(std::equal(again.begin() + 4, again.begin() + 8, initiations[0].begin() + 4));
  EXPECT_FALSE(std::equal(again.begin() + 8, again.begin() + 40, initiations[0].begin() + 8));
  pump();
  ASSERT_EQ(b_.io.delivered.size(), 1u);
  EXPECT_EQ(b_.io.delivered[0].second, ping(a_, b_, 1));
}

TEST_F(DeviceTest, GivesUpAfterRekeyAttemptTimeAndDropsStaged) {
  configure();
  int initiations = 0;
  lose = [&](const Node& from, const Datagram& d) {
    if (&from == &a_ && type_of(d) == kMsgTypeInitiation) ++initiations;
    return true;  // B is unreachable
  };
  // One packet: every send() with no session starts a new series of attempts (Linux send.c).
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  pump();
  EXPECT_EQ(peer_state(a_, b_).staged.size(), 1u);
  run_for(seconds(85), milliseconds(250));
  EXPECT_EQ(peer_state(a_, b_).staged.size(), 1u);  // still trying at 85 s
  run_for(seconds(15), milliseconds(250));
  // 18 initiations (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT), then nothing.
  EXPECT_EQ(initiations, static_cast<int>(kMaxTimerHandshakes));
  EXPECT_EQ(peer_state(a_, b_).staged.size(), 0u);
  EXPECT_EQ(peer_state(a_, b_).drops[DropReason::no_keypair], 1u);
  run_for(seconds(60), seconds(1));
  EXPECT_EQ(initiations, static_cast<int>(kMaxTimerHandshakes));
}

TEST_F(DeviceTest, StagingQueueIsBoundedOldestDropped) {
  configure();
  lose = [](const Node&, const Datagram&) { return true; };
  for (std::uint16_t i = 0; i < StagingQueue::kDefaultCapacity + 3; ++i)
    a_.device.send(ping(a_, b_, i), now_, a_.io);
  EXPECT_EQ(peer_state(a_, b_).staged.size(), StagingQueue::kDefaultCapacity);
  EXPECT_EQ(drops(a_, DropReason::no_keypair), 3u);
  // Only one initiation despite 131 sends (Linux: initiations are rate limited).
  int inits = 0;
  for (const auto& d : a_.io.out) inits += type_of(d) == kMsgTypeInitiation;
  EXPECT_EQ(inits, 1);
  // When the session comes, the newest ones go, oldest first.
  lose = nullptr;
  pump();
  run_for(seconds(6));
  ASSERT_EQ(b_.io.delivered.size(), StagingQueue::kDefaultCapacity);
  EXPECT_EQ(b_.io.delivered.front().second, ping(a_, b_, 3));
}

TEST_F(DeviceTest, PassiveKeepaliveTenSecondsAfterData) {
  configure();
  send(a_, b_, 1);
  ASSERT_EQ(b_.io.delivered.size(), 1u);
  const std::uint64_t a_rx = a_.device.state().peers[0].rx_packets;

  now_ += seconds(9);
  b_.device.tick(now_, b_.io);
  EXPECT_TRUE(b_.io.out.empty());
  now_ += seconds(1);
  b_.device.tick(now_, b_.io);
  ASSERT_EQ(b_.io.out.size(), 1u);
  EXPECT_EQ(type_of(b_.io.out.front()), kMsgTypeData);
  EXPECT_EQ(b_.io.out.front().bytes.size(), kDataMinLen);  // empty payload: header + tag
  pump();
  EXPECT_TRUE(a_.io.delivered.empty());
  EXPECT_EQ(a_.device.state().peers[0].rx_packets, a_rx + 1);
  // A heard back: no new handshake for silence at 15 s.
  const auto a_inits_before = a_.device.state().peers[0].tx_bytes;
  run_for(seconds(20), seconds(1));
  EXPECT_EQ(a_.device.state().peers[0].tx_bytes, a_inits_before);
}

TEST_F(DeviceTest, NewHandshakeWhenDataGetsNoAnswer) {
  configure();
  send(a_, b_, 1);
  // From now on B hears A but its answers are lost: after KEEPALIVE + REKEY_TIMEOUT A rekeys.
  int inits = 0;
  lose = [&](const Node& from, const Datagram& d) {
    if (&from == &a_ && type_of(d) == kMsgTypeInitiation) ++inits;
    return &from == &b_;
  };
  now_ += seconds(1);
  send(a_, b_, 2);
  run_for(seconds(14), milliseconds(500));
  EXPECT_EQ(inits, 0);
  run_for(seconds(2), milliseconds(100));
  EXPECT_EQ(inits, 1);
}

TEST_F(DeviceTest, PersistentKeepaliveStartsSessionAndRepeats) {
  ASSERT_EQ(refused(a_.device.apply(config_for(a_, b_), now_)), "");
  ASSERT_EQ(refused(b_.device.apply(config_for(b_, a_, Cipher::chacha20_poly1305, true, 25), now_)),
            "");
  // A new interval makes a keepalive due at once; with no session that is a handshake.
  ASSERT_TRUE(b_.device.next_deadline().has_value());
  EXPECT_LE(*b_.device.next_deadline(), now_);
  b_.device.tick(now_, b_.io);
  ASSERT_EQ(b_.io.out.size(), 1u);
  EXPECT_EQ(type_of(b_.io.out.front()), kMsgTypeInitiation);
  pump();  // B initiated: response, then B's confirming keepalive
  ASSERT_NE(peer_state(a_, b_).keypairs.current(), nullptr);

  int keepalives = 0;
  lose = [&](const Node& from, const Datagram& d) {
    if (&from == &b_ && d.bytes.size() == kDataMinLen) ++keepalives;
    return false;
  };
  run_for(seconds(24), seconds(1));
  EXPECT_EQ(keepalives, 0);
  run_for(seconds(2), seconds(1));
  EXPECT_EQ(keepalives, 1);
  run_for(seconds(25), seconds(1));
  EXPECT_EQ(keepalives, 2);
  EXPECT_TRUE(a_.io.delivered.empty());
}

TEST_F(DeviceTest, KeysExpireAndAreZeroedAfterRejectAfterTimeTimesThree) {
  configure();
  send(a_, b_, 1);
  ASSERT_EQ(peer_state(a_, b_).keypairs.size(), 1u);
  const int released_before = a_.io.keypairs_released;
  // Nobody talks. REJECT_AFTER_TIME: the keypairs are dead and dropped (indices freed).
  run_for(seconds(181), seconds(1));
  EXPECT_EQ(peer_state(a_, b_).keypairs.size(), 0u);
  EXPECT_EQ(peer_state(b_, a_).keypairs.size(), 0u);
  EXPECT_EQ(a_.io.keypairs_released, released_before + 1);
  ASSERT_TRUE(peer_state(a_, b_).timers.zero_key_material_deadline().has_value());
  // REJECT_AFTER_TIME * 3 after the session: every key erased.
  run_for(seconds(540 - 181), seconds(1));
  EXPECT_FALSE(peer_state(a_, b_).timers.zero_key_material_deadline().has_value());
  EXPECT_FALSE(peer_state(b_, a_).timers.zero_key_material_deadline().has_value());
  EXPECT_EQ(peer_state(a_, b_).handshake.state(), Handshake::State::zeroed);
  EXPECT_EQ(a_.device.receiver_index().size(), 0u);
  EXPECT_EQ(b_.device.receiver_index().size(), 0u);
  // And a new packet makes a new session.
  send(a_, b_, 2);
  EXPECT_EQ(b_.io.delivered.size(), 2u);
}

TEST_F(DeviceTest, CookieReplyUnderLoadThenHandshakeCompletesWithMac2) {
  configure();
  b_.device.observe_handshake_queue(512, 4096, now_);  // 1/8 full: under load
  ASSERT_TRUE(b_.device.under_load());
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  std::vector<std::uint8_t> types;
  lose = [&](const Node&, const Datagram& d) {
    types.push_back(type_of(d));
    return false;
  };
  pump();
  // Initiation without mac2 -> cookie reply, nothing else.
  ASSERT_EQ(types, (std::vector<std::uint8_t>{kMsgTypeInitiation, kMsgTypeCookieReply}));
  EXPECT_EQ(drops(b_, DropReason::handshake_bad_mac2), 1u);
  EXPECT_EQ(drops(a_, DropReason::cookie_invalid), 0u);
  EXPECT_TRUE(peer_state(a_, b_).cookie_maker.has_fresh_cookie(now_));
  EXPECT_TRUE(b_.device.state().under_load);
  EXPECT_EQ(b_.device.state().handshakes.initiations_received, 1u);
  EXPECT_EQ(b_.device.state().handshakes.cookie_replies_sent, 1u);
  EXPECT_EQ(b_.device.state().handshakes.responses_sent, 0u);
  EXPECT_EQ(a_.device.state().handshakes.cookie_replies_received, 1u);
  // The retransmission carries mac2 and goes through.
  run_for(seconds(6));
  ASSERT_EQ(b_.io.delivered.size(), 1u);
  EXPECT_EQ(b_.io.delivered[0].second, ping(a_, b_, 1));
  EXPECT_EQ(drops(b_, DropReason::handshake_bad_mac2), 1u);
}

TEST_F(DeviceTest, UnderLoadHandshakesAreRateLimitedPerSource) {
  configure();
  b_.device.observe_handshake_queue(4096, 4096, now_);
  // A stranger C knows B's public key (mac1) and earns a cookie for its address (mac2), then
  // floods B with initiations from that address. B is not configured with C's key.
  Node c(3, uapi::Endpoint::v4({192, 0, 2, 3}, 51820), "10.0.0.3", &now_);
  ASSERT_EQ(refused(c.device.apply(config_for(c, b_), now_)), "");
  c.device.send(ping(c, b_, 1), now_, c.io);
  ASSERT_EQ(c.io.out.size(), 1u);
  b_.device.receive(c.io.out.front().bytes, c.source, now_, b_.io);
  c.io.out.clear();
  ASSERT_EQ(b_.io.out.size(), 1u);
  ASSERT_EQ(type_of(b_.io.out.front()), kMsgTypeCookieReply);
  EXPECT_EQ(b_.io.out.front().to, c.source);
  c.device.receive(b_.io.out.front().bytes, b_.addr, now_, c.io);
  b_.io.out.clear();
  ASSERT_TRUE(peer_state(c, b_).cookie_maker.has_fresh_cookie(now_));

  // C's retransmissions now carry mac2; collect eight of them.
  std::vector<Bytes> inits;
  while (inits.size() < 8) {
    now_ += seconds(1);
    c.device.tick(now_, c.io);
    for (const auto& d : c.io.out) {
      if (type_of(d) == kMsgTypeInitiation) inits.push_back(d.bytes);
    }
    c.io.out.clear();
  }
  // All at once, while B's queue is still full: a burst of five gets through the rate limiter
  // (and fails later: C is no peer of B), the rest is refused before any public-key operation.
  b_.device.observe_handshake_queue(4096, 4096, now_);
  ASSERT_TRUE(b_.device.under_load());
  for (const Bytes& m : inits) b_.device.receive(m, c.source, now_, b_.io);
  EXPECT_EQ(drops(b_, DropReason::handshake_invalid), 5u);
  EXPECT_EQ(drops(b_, DropReason::handshake_rate_limited), 3u);
  EXPECT_EQ(drops(b_, DropReason::handshake_bad_mac2), 1u);
  EXPECT_TRUE(b_.io.out.empty());
}

TEST_F(DeviceTest, RoamingEndpointFollowsAuthenticatedPackets) {
  configure();
  send(a_, b_, 1);
  EXPECT_EQ(*peer_state(b_, a_).endpoint, a_.addr);

  // A moves (NAT rebinding): its datagrams now come from elsewhere.
  const uapi::Endpoint moved = uapi::Endpoint::v4({198, 51, 100, 7}, 40000);
  a_.source = moved;
  send(a_, b_, 2);
  EXPECT_EQ(*peer_state(b_, a_).endpoint, moved);
  b_.device.send(ping(b_, a_, 3), now_, b_.io);
  ASSERT_EQ(b_.io.out.size(), 1u);
  EXPECT_EQ(b_.io.out.front().to, moved);
  b_.io.out.clear();

  // An unauthenticated message from a third address does not move it.
  const uapi::Endpoint attacker = uapi::Endpoint::v4({203, 0, 113, 9}, 666);
  Bytes forged =
      PacketBuilder().wg_data(peer_state(b_, a_).keypairs.current()->local_index, 99, 64).build();
  b_.device.receive(forged, attacker, now_, b_.io);
  EXPECT_EQ(drops(b_, DropReason::auth_failed), 1u);
  EXPECT_EQ(*peer_state(b_, a_).endpoint, moved);
}

TEST_F(DeviceTest, SpoofedInnerSourceIsDropped) {
  configure();
  send(a_, b_, 1);
  // A seals a packet whose source is outside its allowed IPs at B (10.0.0.1/32).
  a_.device.send(PacketBuilder().ipv4("10.0.0.99", "10.0.0.2").icmp_echo(1, 1).build(), now_,
                 a_.io);
  pump();
  EXPECT_EQ(b_.io.delivered.size(), 1u);
  EXPECT_EQ(drops(b_, DropReason::inner_src_not_allowed), 1u);
  EXPECT_EQ(peer_state(b_, a_).drops[DropReason::inner_src_not_allowed], 1u);
}

TEST_F(DeviceTest, ReplayedDataIsDropped) {
  configure();
  send(a_, b_, 1);
  Bytes captured;
  lose = [&](const Node& from, const Datagram& d) {
    if (&from == &a_ && type_of(d) == kMsgTypeData) captured = d.bytes;
    return false;
  };
  send(a_, b_, 2);
  ASSERT_FALSE(captured.empty());
  EXPECT_EQ(b_.io.delivered.size(), 2u);
  b_.device.receive(captured, a_.source, now_, b_.io);
  EXPECT_EQ(b_.io.delivered.size(), 2u);
  EXPECT_EQ(drops(b_, DropReason::replay), 1u);
}

TEST_F(DeviceTest, NoRouteAndNoEndpoint) {
  ASSERT_EQ(refused(a_.device.apply(config_for(a_, b_, Cipher::chacha20_poly1305, false), now_)),
            "");
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  EXPECT_EQ(drops(a_, DropReason::no_endpoint), 1u);
  a_.device.send(PacketBuilder().ipv4("10.0.0.1", "10.9.9.9").icmp_echo(1, 1).build(), now_, a_.io);
  EXPECT_EQ(drops(a_, DropReason::no_route), 1u);
  a_.device.send(Bytes{0x45, 0, 0}, now_, a_.io);
  EXPECT_EQ(drops(a_, DropReason::inner_bad_ip), 1u);
  EXPECT_TRUE(a_.io.out.empty());
}

// Every message type truncated and extended, bad types, bad mac1, garbage: each datagram is
// one drop with the expected reason, and nothing crashes.
TEST_F(DeviceTest, MalformedDatagramsAreDroppedWithTheRightReason) {
  configure();
  // Real messages to mutate: an initiation, a response, a data message.
  Bytes real_init, real_resp, real_data;
  lose = [&](const Node&, const Datagram& d) {
    if (type_of(d) == kMsgTypeInitiation && real_init.empty()) real_init = d.bytes;
    if (type_of(d) == kMsgTypeResponse && real_resp.empty()) real_resp = d.bytes;
    if (type_of(d) == kMsgTypeData && real_data.empty()) real_data = d.bytes;
    return false;
  };
  send(a_, b_, 1);
  lose = nullptr;
  ASSERT_FALSE(real_init.empty());
  ASSERT_FALSE(real_resp.empty());
  ASSERT_FALSE(real_data.empty());

  auto cut = [](Bytes b, std::size_t n) {
    b.resize(n);
    return b;
  };
  auto extend = [](Bytes b) {
    b.push_back(0);
    return b;
  };
  auto flip = [](Bytes b, std::size_t at) {
    b[at] ^= 0x01;
    return b;
  };
  struct Case {
    int number;
    const char* what;
    Bytes bytes;
    DropReason expect;
  };
  const Bytes cookie = PacketBuilder().wg_cookie_shaped(0x1234).build();
  std::vector<Case> cases = {
      {1, "empty", {}, DropReason::msg_bad_length},
      {2, "three bytes", {1, 0, 0}, DropReason::msg_bad_length},
      {3, "unknown type 5", {5, 0, 0, 0, 1, 2, 3, 4}, DropReason::msg_bad_type},
      {4, "type 0", Bytes(148, 0), DropReason::msg_bad_type},
      {5, "reserved byte set", flip(real_init, 1), DropReason::msg_bad_type},
      {6, "initiation truncated", cut(real_init, kInitiationLen - 1), DropReason::msg_bad_length},
      {7, "initiation extended", extend(real_init), DropReason::msg_bad_length},
      {8, "response truncated", cut(real_resp, kResponseLen - 1), DropReason::msg_bad_length},
      {9, "response extended", extend(real_resp), DropReason::msg_bad_length},
      {10, "cookie truncated", cut(cookie, kCookieReplyLen - 1), DropReason::msg_bad_length},
      {11, "cookie extended", extend(cookie), DropReason::msg_bad_length},
      {12, "data shorter than header+tag", cut(real_data, kDataMinLen - 1),
       DropReason::msg_bad_length},
      {13, "initiation bad mac1", flip(real_init, 120), DropReason::handshake_bad_mac1},
      {14, "initiation body changed (mac1 fails)", flip(real_init, 50),
       DropReason::handshake_bad_mac1},
      {15, "response bad mac1", flip(real_resp, 64), DropReason::handshake_bad_mac1},
      {16, "cookie reply for no index", cookie, DropReason::cookie_invalid},
      {17, "data unknown index", PacketBuilder().wg_data(0xdeadbeef, 0, 48).build(),
       DropReason::unknown_index},
      {18, "data seen before, one byte flipped", flip(real_data, 20), DropReason::replay},
      {19, "data seen before, extended", extend(real_data), DropReason::replay},
      {20, "shaped initiation, random mac1", PacketBuilder().wg_initiation_shaped(9).build(),
       DropReason::handshake_bad_mac1},
      {21, "shaped response, random mac1", PacketBuilder().wg_response_shaped(9, 1).build(),
       DropReason::handshake_bad_mac1},
      {22, "AES-GCM type on a ChaCha20 keypair", flip(flip(real_data, 0), 0), DropReason::replay},
  };
  // Case 22: type 0x84 with the same index.
  cases.back().bytes[0] = kMsgTypeDataAesGcm;
  cases.back().expect = DropReason::cipher_mismatch;
  // A fresh data message with a flipped byte (counter not yet seen): auth_failed.
  Bytes fresh;
  lose = [&](const Node& from, const Datagram& d) {
    if (&from == &a_ && type_of(d) == kMsgTypeData) fresh = d.bytes;
    return true;
  };
  a_.device.send(ping(a_, b_, 2), now_, a_.io);
  pump();
  lose = nullptr;
  ASSERT_FALSE(fresh.empty());
  cases.push_back({23, "data tag flipped", flip(fresh, fresh.size() - 1), DropReason::auth_failed});
  cases.push_back({24, "data ciphertext flipped", flip(fresh, 17), DropReason::auth_failed});

  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case " << c.number << ": " << c.what);
    const auto before = b_.device.drops();
    const std::size_t delivered = b_.io.delivered.size();
    b_.device.receive(c.bytes, a_.source, now_, b_.io);
    EXPECT_EQ(b_.device.drops()[c.expect], before[c.expect] + 1);
    EXPECT_EQ(b_.device.drops().total(), before.total() + 1);
    EXPECT_EQ(b_.io.delivered.size(), delivered);
  }
  // The genuine message is still accepted after all that.
  b_.device.receive(fresh, a_.source, now_, b_.io);
  EXPECT_EQ(b_.io.delivered.size(), 2u);

  // Garbage of every length up to 200 bytes, with every type byte: never a crash, always a drop.
  SeqRandom junk(77);
  for (std::size_t len = 0; len <= 200; ++len) {
    Bytes g(len);
    junk.fill(g);
    if (len > 0) g[0] = static_cast<std::uint8_t>(len % 6);
    if (len > 3) g[1] = g[2] = g[3] = 0;
    const auto total = b_.device.drops().total();
    b_.device.receive(g, a_.source, now_, b_.io);
    EXPECT_EQ(b_.device.drops().total(), total + 1) << "length " << len;
  }
  EXPECT_EQ(b_.io.delivered.size(), 2u);
}

TEST_F(DeviceTest, ReplayedInitiationIsRefused) {
  configure();
  Bytes init;
  lose = [&](const Node&, const Datagram& d) {
    if (type_of(d) == kMsgTypeInitiation && init.empty()) init = d.bytes;
    return false;
  };
  send(a_, b_, 1);
  ASSERT_FALSE(init.empty());
  now_ += seconds(1);
  b_.device.receive(init, a_.source, now_, b_.io);
  EXPECT_EQ(drops(b_, DropReason::handshake_replayed), 1u);
  EXPECT_TRUE(b_.io.out.empty());
}

// ---------------------------------------------------------------------------------------------
// straitd's fast path: events fed in with note_*, state read with for_each_peer

TEST_F(DeviceTest, FastPathEventsDriveRotationTimersAndRoaming) {
  configure();
  // Only the handshake goes through the Device; A's data "goes to B's fast path".
  lose = [](const Node&, const Datagram& d) { return type_of(d) == kMsgTypeData; };
  a_.device.send(ping(a_, b_, 1), now_, a_.io);
  pump();
  lose = nullptr;
  const PeerId a_at_b = peer_of(b_, a_);
  const Keypair* next = peer_state(b_, a_).keypairs.next();
  ASSERT_NE(next, nullptr);
  b_.device.send(ping(b_, a_, 2), now_, b_.io);  // staged: B may not send on `next` yet
  EXPECT_EQ(peer_state(b_, a_).staged.size(), 1u);
  b_.io.out.clear();

  // A worker authenticated data on `next`: rotation at once, the staged packet at the tick.
  const int changes = b_.io.session_changes;
  b_.device.note_data_received(a_at_b, next, now_);
  EXPECT_EQ(peer_state(b_, a_).keypairs.current(), next);
  ASSERT_TRUE(b_.device.next_deadline().has_value());
  EXPECT_LE(*b_.device.next_deadline(), now_);
  b_.device.tick(now_, b_.io);
  EXPECT_GT(b_.io.session_changes, changes);
  ASSERT_EQ(b_.io.out.size(), 1u);
  EXPECT_EQ(type_of(b_.io.out.front()), kMsgTypeData);
  pump();
  ASSERT_EQ(a_.io.delivered.size(), 1u);
  EXPECT_NE(b_.device.state().peers[0].last_handshake_sec, 0u);

  // Data received (not a keepalive) arms the passive keepalive, as in software.
  b_.device.note_data_received(a_at_b, next, now_);
  ASSERT_TRUE(peer_state(b_, a_).timers.send_keepalive_deadline().has_value());
  EXPECT_EQ(*peer_state(b_, a_).timers.send_keepalive_deadline(), now_ + kKeepaliveTimeout);
  b_.device.note_data_sent(a_at_b, now_);
  EXPECT_FALSE(peer_state(b_, a_).timers.send_keepalive_deadline().has_value());

  // Roaming seen by a worker.
  const auto moved = uapi::Endpoint::v4({198, 51, 100, 1}, 7777);
  EXPECT_TRUE(b_.device.note_endpoint(a_at_b, moved));
  EXPECT_FALSE(b_.device.note_endpoint(a_at_b, moved));
  EXPECT_FALSE(b_.device.note_endpoint(a_at_b + 100, moved));  // unknown peer: ignored

  // A worker wants a handshake: the next tick sends an initiation to the new endpoint.
  now_ += seconds(6);
  b_.device.note_handshake_wanted(a_at_b, now_);
  b_.device.tick(now_, b_.io);
  ASSERT_EQ(b_.io.out.size(), 1u);
  EXPECT_EQ(type_of(b_.io.out.front()), kMsgTypeInitiation);
  EXPECT_EQ(b_.io.out.front().to, moved);

  // The snapshot's view of the peer.
  int visited = 0;
  b_.device.for_each_peer([&](const PeerView& v) {
    ++visited;
    EXPECT_EQ(v.id, a_at_b);
    EXPECT_EQ(v.cipher, Cipher::chacha20_poly1305);
    EXPECT_EQ(v.endpoint, moved);
    EXPECT_EQ(v.keypairs.current(), next);
    ASSERT_EQ(v.allowed_ips.size(), 1u);
    EXPECT_EQ(v.allowed_ips[0].to_string(), "10.0.0.1/32");
  });
  EXPECT_EQ(visited, 1);
  const IndexEntry* e = b_.device.receiver_index().lookup(next->local_index);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, IndexKind::keypair);
  EXPECT_EQ(e->keypair, next);
  EXPECT_EQ(e->peer, a_at_b);
}

// ---------------------------------------------------------------------------------------------
// Configuration

// straitd peers send data from per-flow source ports (docs/STRAITD.md, "Roaming"): what a
// worker reports roams the address only; the port stays the configured (listen) port.
TEST_F(DeviceTest, AesGcmPeersRoamByAddressOnlyAndKeepTheirPort) {
  configure(Cipher::aes256_gcm, Cipher::aes256_gcm);
  const PeerId a_at_b = peer_of(b_, a_);
  ASSERT_TRUE(peer_state(b_, a_).endpoint.has_value());
  EXPECT_EQ(*peer_state(b_, a_).endpoint, a_.addr);
  // Same address, a flow port: no change, however many flows report.
  for (std::uint16_t port : {49152, 50000, 65535, 51821})
    EXPECT_FALSE(b_.device.note_endpoint(a_at_b, uapi::Endpoint::v4({192, 0, 2, 1}, port)));
  EXPECT_EQ(*peer_state(b_, a_).endpoint, a_.addr);
  // A new address: roams there, with the listen port, whatever flow port reported it.
  EXPECT_TRUE(b_.device.note_endpoint(a_at_b, uapi::Endpoint::v4({198, 51, 100, 1}, 60001)));
  EXPECT_EQ(*peer_state(b_, a_).endpoint, uapi::Endpoint::v4({198, 51, 100, 1}, 51820));
  EXPECT_FALSE(b_.device.note_endpoint(a_at_b, uapi::Endpoint::v4({198, 51, 100, 1}, 60002)));
  // And back, as straitd's workers report it (port 0).
  EXPECT_TRUE(b_.device.note_endpoint(a_at_b, uapi::Endpoint::v4({192, 0, 2, 1}, 0)));
  EXPECT_EQ(*peer_state(b_, a_).endpoint, a_.addr);
}

TEST_F(DeviceTest, AesGcmPeerWithoutEndpointLearnsNothingFromPortZero) {
  ASSERT_EQ(refused(a_.device.apply(config_for(a_, b_, Cipher::aes256_gcm), now_)), "");
  ASSERT_EQ(refused(b_.device.apply(config_for(b_, a_, Cipher::aes256_gcm, /*with_endpoint=*/false),
                                    now_)),
            "");
  const PeerId a_at_b = peer_of(b_, a_);
  ASSERT_FALSE(peer_state(b_, a_).endpoint.has_value());
  EXPECT_FALSE(b_.device.note_endpoint(a_at_b, uapi::Endpoint::v4({192, 0, 2, 1}, 0)));
  EXPECT_FALSE(peer_state(b_, a_).endpoint.has_value());
}

TEST_F(DeviceTest, ChaChaPeersRoamByAddressAndPort) {
  configure();
  const PeerId a_at_b = peer_of(b_, a_);
  // Stock WireGuard (paper section 2.1): the port of the authenticated source counts too.
  EXPECT_TRUE(b_.device.note_endpoint(a_at_b, uapi::Endpoint::v4({192, 0, 2, 1}, 40000)));
  EXPECT_EQ(*peer_state(b_, a_).endpoint, uapi::Endpoint::v4({192, 0, 2, 1}, 40000));
}

TEST_F(DeviceTest, InvalidChangeIsRefusedWhole) {
  configure();
  const uapi::DeviceState before = a_.device.state();

  uapi::DeviceChange c;
  c.listen_port = 1111;
  uapi::PeerChange good;
  good.public_key = StaticIdentity::from_private(private_key_from(9)).public_key;
  good.allowed_ips.push_back(*IpPrefix::parse("10.9.0.0/16"));
  uapi::PeerChange bad;
  bad.public_key = StaticIdentity::from_private(private_key_from(10)).public_key;
  IpPrefix too_long = *IpPrefix::parse("10.0.0.0/8");
  too_long.len = 33;
  bad.allowed_ips.push_back(too_long);
  c.peers = {good, bad};
  auto applied = a_.device.apply(c, now_);
  ASSERT_FALSE(applied.ok());
  std::string error = applied.error().message;
  EXPECT_NE(error.find("peer " + uapi::key_to_hex(bad.public_key)), std::string::npos) << error;
  EXPECT_NE(error.find("allowed_ip"), std::string::npos) << error;
  EXPECT_EQ(a_.device.state(), before);

  // A zero public key.
  c.peers = {good, uapi::PeerChange{}};
  applied = a_.device.apply(c, now_);
  ASSERT_FALSE(applied.ok());
  error = applied.error().message;
  EXPECT_NE(error.find("public_key"), std::string::npos) << error;
  EXPECT_EQ(a_.device.state(), before);

  // Our own public key as a peer.
  uapi::PeerChange self;
  self.public_key = a_.pub();
  c.peers = {good, self};
  applied = a_.device.apply(c, now_);
  ASSERT_FALSE(applied.ok());
  error = applied.error().message;
  EXPECT_NE(error.find("own public key"), std::string::npos) << error;
  EXPECT_EQ(a_.device.state(), before);

  // A private key change that would make an existing peer ourselves.
  uapi::DeviceChange rekey;
  rekey.private_key = b_.identity.private_key;
  applied = a_.device.apply(rekey, now_);
  ASSERT_FALSE(applied.ok());
  error = applied.error().message;
  EXPECT_NE(error.find(uapi::key_to_hex(b_.pub())), std::string::npos) << error;
  EXPECT_EQ(a_.device.state(), before);

  // The good part alone goes through.
  c.peers = {good};
  ASSERT_EQ(refused(a_.device.apply(c, now_)), "");
  EXPECT_EQ(a_.device.state().peers.size(), 2u);
  EXPECT_EQ(a_.device.listen_port(), 1111);
}

TEST_F(DeviceTest, StateRoundTripMatchesTheUapiModel) {
  uapi::DeviceChange c = config_for(a_, b_, Cipher::aes256_gcm, true, 15);
  c.fwmark = 7;
  c.peers[0].preshared_key = private_key_from(42);
  c.peers[0].allowed_ips.push_back(*IpPrefix::parse("fd00::1/64"));
  uapi::PeerChange second;
  second.public_key = StaticIdentity::from_private(private_key_from(5)).public_key;
  second.allowed_ips.push_back(*IpPrefix::parse("10.0.0.2/32"));  // moves from B
  c.peers.push_back(second);
  ASSERT_EQ(refused(a_.device.apply(c, now_)), "");

  uapi::DeviceState expect;
  uapi::apply_change(expect, c);
  expect.private_key = StaticIdentity::from_private(*c.private_key).private_key;
  const uapi::DeviceState got = a_.device.state();
  EXPECT_EQ(got, expect);
  ASSERT_EQ(got.peers.size(), 2u);
  EXPECT_EQ(got.peers[0].allowed_ips.size(), 1u);  // 10.0.0.2/32 moved to the second peer
  EXPECT_EQ(got.peers[0].cipher, Cipher::aes256_gcm);
  EXPECT_EQ(got.peers[0].persistent_keepalive, 15);
  EXPECT_EQ(got.fwmark, 7u);

  // The routes follow: 10.0.0.2 now belongs to the second peer, fd00::/64 to B.
  const auto routes = a_.device.allowed_ips();
  const auto v4 = test::parse_ipv4("10.0.0.2");
  const auto v6 = test::parse_ipv6("fd00::77");
  EXPECT_EQ(routes->lookup_v4(v4.data()), a_.device.peer_id(second.public_key));
  EXPECT_EQ(routes->lookup_v6(v6.data()), a_.device.peer_id(b_.pub()));

  // Remove, update_only, replace_peers.
  uapi::DeviceChange remove;
  uapi::PeerChange r;
  r.public_key = second.public_key;
  r.remove = true;
  uapi::PeerChange ghost;
  ghost.public_key = StaticIdentity::from_private(private_key_from(6)).public_key;
  ghost.update_only = true;
  remove.peers = {r, ghost};
  ASSERT_EQ(refused(a_.device.apply(remove, now_)), "");
  uapi::apply_change(expect, remove);
  EXPECT_EQ(a_.device.state(), expect);
  EXPECT_EQ(a_.device.allowed_ips()->lookup_v4(v4.data()), std::nullopt);

  uapi::DeviceChange replace;
  replace.replace_peers = true;
  ASSERT_EQ(refused(a_.device.apply(replace, now_)), "");
  EXPECT_TRUE(a_.device.state().peers.empty());
  EXPECT_EQ(a_.device.allowed_ips()->size(), 0u);
}

TEST_F(DeviceTest, PrivateKeyChangeStopsSendingOnOldSessions) {
  configure();
  send(a_, b_, 1);
  Keypair* cur = peer_state(a_, b_).keypairs.current();
  ASSERT_NE(cur, nullptr);
  ASSERT_TRUE(cur->valid_for_send(now_));
  uapi::DeviceChange c;
  c.private_key = private_key_from(33);
  ASSERT_EQ(refused(a_.device.apply(c, now_)), "");
  EXPECT_FALSE(cur->valid_for_send(now_));
  EXPECT_EQ(a_.device.identity().public_key,
            StaticIdentity::from_private(private_key_from(33)).public_key);
  // B does not know the new key: A's next initiation fails B's mac1... B must be told.
  uapi::DeviceChange at_b;
  uapi::PeerChange old_a;
  old_a.public_key = a_.pub();
  old_a.remove = true;
  a_.identity = StaticIdentity::from_private(private_key_from(33));
  at_b.peers = {old_a};
  ASSERT_EQ(refused(b_.device.apply(at_b, now_)), "");
  ASSERT_EQ(refused(b_.device.apply(config_for(b_, a_), now_)), "");
  now_ += seconds(6);  // past the initiation rate limit
  send(a_, b_, 2);
  run_for(seconds(1));
  ASSERT_EQ(b_.io.delivered.size(), 2u);
  EXPECT_EQ(b_.io.delivered[1].second, ping(a_, b_, 2));
}

TEST_F(DeviceTest, CipherChangeDropsSessions) {
  configure();
  send(a_, b_, 1);
  ASSERT_EQ(peer_state(a_, b_).keypairs.size(), 1u);
  uapi::DeviceChange c;
  uapi::PeerChange p;
  p.public_key = b_.pub();
  p.cipher = Cipher::aes256_gcm;
  c.peers = {p};
  ASSERT_EQ(refused(a_.device.apply(c, now_)), "");
  EXPECT_EQ(peer_state(a_, b_).keypairs.size(), 0u);
  EXPECT_EQ(a_.device.receiver_index().size(), 0u);
}

// ---------------------------------------------------------------------------------------------
// The handshake rate limiter alone (Linux ratelimiter.c: 20/s, burst 5, per IPv4 / IPv6 /64).

// Under load as Linux decides it: the handshake queue at least 1/8 full, held one second after
// the last such observation. Each row is one observation, in order, on one UnderLoad.
TEST(UnderLoadTest, OneEighthFullAndHeldForOneSecond) {
  struct Row {
    int at_ms;
    std::size_t queued;
    std::size_t capacity;
    bool want;
    const char* why;
  };
  const Row rows[] = {
      {0, 0, 4096, false, "1. empty queue"},
      {10, 511, 4096, false, "2. just below 1/8"},
      {20, 512, 4096, true, "3. exactly 1/8: under load"},
      {30, 0, 4096, true, "4. queue drained 10 ms later: still held"},
      {1019, 0, 4096, true, "5. 999 ms after the last load: held"},
      {1020, 0, 4096, false, "6. one second after the last load: released"},
      {1021, 0, 4096, false, "7. stays released"},
      {2000, 4096, 4096, true, "8. full queue"},
      {2500, 600, 4096, true, "9. still 1/8 full renews the hold"},
      {3499, 1, 4096, true, "10. 999 ms after the renewal: held"},
      {3500, 1, 4096, false, "11. one second after the renewal: released"},
      {4000, 7, 8, true, "12. a tiny queue: 1/8 of 8 is 1"},
      {5000, 0, 8, false, "13. and released a second later"},
      {6000, 3, 3, true, "14. a queue below 8 slots: full is under load"},
      {7000, 2, 3, false, "15. not full, a second later"},
      {8000, 0, 0, false, "16. no queue at all is never under load"},
  };
  UnderLoad u;
  for (const Row& r : rows) {
    SCOPED_TRACE(r.why);
    EXPECT_EQ(u.observe(r.queued, r.capacity, Time(milliseconds(r.at_ms))), r.want);
    EXPECT_EQ(u.under_load(), r.want);
  }
}

TEST(HandshakeRateLimiterTest, BurstThenRefillPerSource) {
  HandshakeRateLimiter rl(4);
  const auto a = uapi::Endpoint::v4({192, 0, 2, 1}, 1);
  const auto a_other_port = uapi::Endpoint::v4({192, 0, 2, 1}, 2);
  const auto b = uapi::Endpoint::v4({192, 0, 2, 2}, 1);
  const Time t = seconds(100);
  struct Step {
    int number;
    Time at;
    const uapi::Endpoint* src;
    bool allowed;
  };
  const Step steps[] = {
      {1, t, &a, true},
      {2, t, &a, true},
      {3, t, &a, true},
      {4, t, &a, true},
      {5, t, &a_other_port, true},           // the port does not matter: 5th
      {6, t, &a, false},                     // burst of 5 used up
      {7, t, &b, true},                      // another address has its own bucket
      {8, t + milliseconds(49), &a, false},  // a token costs 50 ms
      {9, t + milliseconds(50), &a, true},
      {10, t + milliseconds(50), &a, false},
      {11, t + seconds(1), &a, true},  // refilled (up to the burst)
      {12, t + seconds(1), &a, true},
  };
  for (const Step& s : steps) {
    EXPECT_EQ(rl.allow(*s.src, s.at), s.allowed) << "step " << s.number;
  }
}

TEST(HandshakeRateLimiterTest, Ipv6SharesABucketPerSlash64AndTableIsBounded) {
  HandshakeRateLimiter rl(2);
  auto v6 = [](std::uint8_t net, std::uint8_t host) {
    uapi::Endpoint e;
    e.family = 6;
    e.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, net, 0, 0, 0, 0, 0, 0, 0, host};
    e.port = 9;
    return e;
  };
  const Time t = seconds(5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.allow(v6(1, static_cast<std::uint8_t>(i)), t));
  EXPECT_FALSE(rl.allow(v6(1, 200), t));  // same /64
  EXPECT_TRUE(rl.allow(v6(2, 1), t));     // second entry
  EXPECT_FALSE(rl.allow(v6(3, 1), t));    // table full: strangers refused
  EXPECT_EQ(rl.size(), 2u);
  // Idle entries are collected after a second; then there is room again.
  EXPECT_TRUE(rl.allow(v6(3, 1), t + seconds(2)));
  EXPECT_EQ(rl.size(), 1u);
}

}  // namespace
}  // namespace strait::wg

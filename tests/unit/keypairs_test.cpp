// Keypair limits and counter reservation; the previous/current/next rotation of Keypairs
// (Linux noise.c add_new_keypair / wg_noise_received_with_keypair semantics).

#include "core/keypairs.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "core/keypair.hpp"

namespace strait::wg {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Time kT0 = seconds(1000);  // an arbitrary monotonic origin

SessionKeys session(std::uint32_t local_index, bool we_initiated) {
  SessionKeys k;
  k.send_key.fill(static_cast<std::uint8_t>(local_index));
  k.recv_key.fill(static_cast<std::uint8_t>(local_index + 0x80));
  k.local_index = local_index;
  k.remote_index = local_index + 1000;
  k.we_initiated = we_initiated;
  return k;
}

// --- Keypair

TEST(Keypair, CopiesTheSession) {
  const Keypair kp(session(7, true), Cipher::aes256_gcm, kT0);
  EXPECT_EQ(kp.send_key, session(7, true).send_key);
  EXPECT_EQ(kp.recv_key, session(7, true).recv_key);
  EXPECT_EQ(kp.local_index, 7u);
  EXPECT_EQ(kp.remote_index, 1007u);
  EXPECT_EQ(kp.cipher, Cipher::aes256_gcm);
  EXPECT_TRUE(kp.we_initiated);
  EXPECT_EQ(kp.birthdate, kT0);
  EXPECT_EQ(kp.send_counter.load(), 0u);
}

TEST(Keypair, HotCounterHasItsOwnCacheLine) {
  EXPECT_EQ(alignof(Keypair), 64u);
  const Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  const auto* base = reinterpret_cast<const unsigned char*>(&kp);
  const auto* counter = reinterpret_cast<const unsigned char*>(&kp.send_counter);
  const auto* key = reinterpret_cast<const unsigned char*>(&kp.recv_key);
  EXPECT_EQ((counter - base) % 64, 0);
  EXPECT_NE((counter - base) / 64, (key - base) / 64);
}

TEST(Keypair, KeysAreZeroedOnDestruction) {
  alignas(Keypair) unsigned char storage[sizeof(Keypair)];
  auto* kp = new (storage) Keypair(session(0x5a, true), Cipher::chacha20_poly1305, kT0);
  const std::size_t send_off =
      static_cast<std::size_t>(reinterpret_cast<unsigned char*>(&kp->send_key) - storage);
  const std::size_t recv_off =
      static_cast<std::size_t>(reinterpret_cast<unsigned char*>(&kp->recv_key) - storage);
  ASSERT_EQ(storage[send_off], 0x5a);
  ASSERT_EQ(storage[recv_off], 0x5a + 0x80);
  kp->~Keypair();
  for (std::size_t i = 0; i < kKeyLen; ++i) {
    EXPECT_EQ(storage[send_off + i], 0) << i;
    EXPECT_EQ(storage[recv_off + i], 0) << i;
  }
}

TEST(Keypair, ExpiresByTime) {
  const Keypair kp(session(1, false), Cipher::chacha20_poly1305, kT0);
  EXPECT_TRUE(kp.valid_for_send(kT0));
  EXPECT_TRUE(kp.valid_for_receive(kT0));
  EXPECT_TRUE(kp.valid_for_send(kT0 + kRejectAfterTime - std::chrono::nanoseconds(1)));
  EXPECT_TRUE(kp.valid_for_receive(kT0 + kRejectAfterTime - std::chrono::nanoseconds(1)));
  EXPECT_FALSE(kp.valid_for_send(kT0 + kRejectAfterTime));
  EXPECT_FALSE(kp.valid_for_receive(kT0 + kRejectAfterTime));
}

TEST(Keypair, ExpiresForSendingByMessages) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  kp.send_counter.store(kRejectAfterMessages - 1);
  EXPECT_TRUE(kp.valid_for_send(kT0));
  ASSERT_EQ(kp.reserve_counters(1), kRejectAfterMessages - 1);
  EXPECT_FALSE(kp.valid_for_send(kT0));
  EXPECT_TRUE(kp.valid_for_receive(kT0));  // the peer may still send to us
}

TEST(Keypair, ExpiresForReceivingByMessages) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  EXPECT_FALSE(kp.check_counter(kRejectAfterMessages));
  EXPECT_FALSE(kp.commit_counter(kRejectAfterMessages));
  EXPECT_TRUE(kp.check_counter(kRejectAfterMessages - 2));
  EXPECT_TRUE(kp.commit_counter(kRejectAfterMessages - 2));
  EXPECT_TRUE(kp.valid_for_receive(kT0));
  EXPECT_TRUE(kp.commit_counter(kRejectAfterMessages - 1));
  EXPECT_FALSE(kp.valid_for_receive(kT0));
}

TEST(Keypair, ReplayIsTwoPhase) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  EXPECT_TRUE(kp.check_counter(0));
  EXPECT_TRUE(kp.check_counter(0));  // a check alone records nothing
  EXPECT_TRUE(kp.commit_counter(0));
  EXPECT_FALSE(kp.check_counter(0));
  EXPECT_FALSE(kp.commit_counter(0));
}

TEST(Keypair, NeedsRekeyByTimeOnlyAsInitiator) {
  const Keypair initiator(session(1, true), Cipher::chacha20_poly1305, kT0);
  const Keypair responder(session(2, false), Cipher::chacha20_poly1305, kT0);
  const Time just_before = kT0 + kRekeyAfterTime - std::chrono::nanoseconds(1);
  EXPECT_FALSE(initiator.needs_rekey(just_before));
  EXPECT_TRUE(initiator.needs_rekey(kT0 + kRekeyAfterTime));
  EXPECT_FALSE(responder.needs_rekey(kT0 + kRekeyAfterTime));
  EXPECT_FALSE(responder.needs_rekey(kT0 + kRejectAfterTime));
}

TEST(Keypair, NeedsRekeyByMessagesOnBothSides) {
  for (const bool initiator : {true, false}) {
    Keypair kp(session(1, initiator), Cipher::chacha20_poly1305, kT0);
    kp.send_counter.store(kRekeyAfterMessages);
    EXPECT_FALSE(kp.needs_rekey(kT0)) << initiator;
    kp.send_counter.store(kRekeyAfterMessages + 1);
    EXPECT_TRUE(kp.needs_rekey(kT0)) << initiator;
  }
}

TEST(Keypair, NeedsRekeyOnReceiveAt165sAsInitiator) {
  const Keypair initiator(session(1, true), Cipher::chacha20_poly1305, kT0);
  const Keypair responder(session(2, false), Cipher::chacha20_poly1305, kT0);
  EXPECT_EQ(kRekeyOnReceiveAfterTime, seconds(165));
  EXPECT_FALSE(initiator.needs_rekey_on_receive(kT0 + seconds(165) - milliseconds(1)));
  EXPECT_TRUE(initiator.needs_rekey_on_receive(kT0 + seconds(165)));
  EXPECT_FALSE(responder.needs_rekey_on_receive(kT0 + seconds(170)));
}

TEST(Keypair, ReserveCountersHandsOutConsecutiveRanges) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  EXPECT_EQ(kp.reserve_counters(32), 0u);
  EXPECT_EQ(kp.reserve_counters(1), 32u);
  EXPECT_EQ(kp.reserve_counters(7), 33u);
  EXPECT_EQ(kp.send_counter.load(), 40u);
  EXPECT_EQ(kp.reserve_counters(0), std::nullopt);
  EXPECT_EQ(kp.reserve_counters(kMaxCounterReservation + 1), std::nullopt);
  EXPECT_EQ(kp.send_counter.load(), 40u);
}

TEST(Keypair, ReserveCountersRefusesPastRejectAfterMessages) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  kp.send_counter.store(kRejectAfterMessages - 10);
  EXPECT_EQ(kp.reserve_counters(5), kRejectAfterMessages - 10);
  EXPECT_EQ(kp.reserve_counters(6), std::nullopt);  // would hand out kRejectAfterMessages
  EXPECT_EQ(kp.send_counter.load(), kRejectAfterMessages - 5);  // a refusal consumes nothing
  EXPECT_FALSE(kp.valid_for_send(kT0));
  EXPECT_EQ(kp.reserve_counters(5), kRejectAfterMessages - 5);  // exactly up to the limit
  EXPECT_EQ(kp.reserve_counters(1), std::nullopt);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(kp.reserve_counters(kMaxCounterReservation), std::nullopt);
  EXPECT_EQ(kp.send_counter.load(), kRejectAfterMessages);  // never creeps towards a wrap
}

TEST(Keypair, ReserveCountersAcrossTheFetchAddToCasBoundary) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  const std::uint64_t start = kRejectAfterMessages - (1ULL << 40) - 3;
  kp.send_counter.store(start);
  EXPECT_EQ(kp.reserve_counters(2), start);
  EXPECT_EQ(kp.reserve_counters(2), start + 2);
  EXPECT_EQ(kp.reserve_counters(2), start + 4);
  EXPECT_EQ(kp.send_counter.load(), start + 6);
}

// Two threads reserving bursts of varying size: the ranges must tile [begin, end) exactly.
void reserve_from_two_threads(std::uint64_t begin, std::uint64_t bursts_per_thread,
                              bool expect_exhaustion) {
  Keypair kp(session(1, true), Cipher::chacha20_poly1305, kT0);
  kp.send_counter.store(begin);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges[2];
  std::atomic<int> ready{0};
  auto worker = [&](int id) {
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }  // start together, so that the reservations interleave
    for (std::uint64_t i = 0; i < bursts_per_thread; ++i) {
      const std::uint64_t n = 1 + (i * 7 + static_cast<std::uint64_t>(id) * 13) % 32;
      if (auto first = kp.reserve_counters(n)) ranges[id].emplace_back(*first, n);
    }
  };
  std::thread a(worker, 0);
  std::thread b(worker, 1);
  a.join();
  b.join();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> all(ranges[0]);
  all.insert(all.end(), ranges[1].begin(), ranges[1].end());
  std::sort(all.begin(), all.end());
  std::uint64_t expected_next = begin;
  for (const auto& [first, n] : all) {
    ASSERT_EQ(first, expected_next) << "gap or overlap";
    ASSERT_LE(n, kRejectAfterMessages - first) << "a counter at or past the limit";
    expected_next = first + n;
  }
  EXPECT_EQ(kp.send_counter.load(), expected_next);
  if (expect_exhaustion) {
    // Everything left was smaller than the bursts that were refused.
    EXPECT_LE(expected_next, kRejectAfterMessages);
    EXPECT_GT(expected_next, kRejectAfterMessages - 32);
  }
}

TEST(Keypair, ReserveCountersNeverTwiceFromTwoThreads) {
  reserve_from_two_threads(0, 200000, false);
}

TEST(Keypair, ReserveCountersNeverTwiceFromTwoThreadsAtTheLimit) {
  reserve_from_two_threads(kRejectAfterMessages - 2000000, 100000, true);
}

// --- Keypairs rotation

TEST(Keypairs, StartsEmpty) {
  Keypairs kps;
  EXPECT_EQ(kps.current(), nullptr);
  EXPECT_EQ(kps.next(), nullptr);
  EXPECT_EQ(kps.previous(), nullptr);
  EXPECT_EQ(kps.size(), 0u);
}

TEST(Keypairs, InitiatorInstallBecomesCurrentAtOnce) {
  Keypairs kps;
  auto a = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  ASSERT_NE(a.keypair, nullptr);
  EXPECT_TRUE(a.released.empty());
  EXPECT_EQ(kps.current(), a.keypair);
  EXPECT_EQ(kps.current()->local_index, 1u);
  EXPECT_EQ(kps.next(), nullptr);
  EXPECT_EQ(kps.previous(), nullptr);

  auto b = kps.install(session(2, true), Cipher::chacha20_poly1305, kT0 + seconds(120));
  EXPECT_TRUE(b.released.empty());
  EXPECT_EQ(kps.current(), b.keypair);
  EXPECT_EQ(kps.previous(), a.keypair);  // still decrypts data in flight
  EXPECT_EQ(kps.shared_current().get(), b.keypair);
}

TEST(Keypairs, ResponderInstallWaitsForFirstData) {
  Keypairs kps;
  auto old = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  auto fresh = kps.install(session(2, false), Cipher::chacha20_poly1305, kT0 + seconds(1));
  EXPECT_TRUE(fresh.released.empty());
  EXPECT_EQ(kps.current(), old.keypair);  // keep sending with the confirmed one
  EXPECT_EQ(kps.next(), fresh.keypair);
  EXPECT_TRUE(kps.is_next(fresh.keypair));
  EXPECT_FALSE(kps.is_next(old.keypair));
  EXPECT_FALSE(kps.is_next(nullptr));

  // Data on the old keypair changes nothing.
  EXPECT_FALSE(kps.received_with(old.keypair));
  EXPECT_EQ(kps.next(), fresh.keypair);

  // Data on the new one confirms it.
  EXPECT_TRUE(kps.received_with(fresh.keypair));
  EXPECT_EQ(kps.current(), fresh.keypair);
  EXPECT_EQ(kps.previous(), old.keypair);
  EXPECT_EQ(kps.next(), nullptr);
  EXPECT_FALSE(kps.received_with(fresh.keypair));  // once only
  EXPECT_EQ(kps.size(), 2u);
}

TEST(Keypairs, ResponderWithNoCurrentHasNothingToSendWith) {
  Keypairs kps;
  auto fresh = kps.install(session(1, false), Cipher::chacha20_poly1305, kT0);
  EXPECT_EQ(kps.current(), nullptr);
  EXPECT_TRUE(kps.received_with(fresh.keypair));
  EXPECT_EQ(kps.current(), fresh.keypair);
  EXPECT_EQ(kps.previous(), nullptr);
}

TEST(Keypairs, ResponderInstallDropsOldNextAndPrevious) {
  Keypairs kps;
  auto k1 = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  auto k2 = kps.install(session(2, true), Cipher::chacha20_poly1305, kT0);   // previous = 1
  auto k3 = kps.install(session(3, false), Cipher::chacha20_poly1305, kT0);  // next = 3
  ASSERT_EQ(k3.released.size(), 1u);
  EXPECT_EQ(k3.released[0].local_index, 1u);
  EXPECT_EQ(kps.previous(), nullptr);
  auto k4 = kps.install(session(4, false), Cipher::chacha20_poly1305, kT0);  // replaces 3
  ASSERT_EQ(k4.released.size(), 1u);
  EXPECT_EQ(k4.released[0].local_index, 3u);
  EXPECT_FALSE(k4.released[0].keypair->send_valid.load());
  EXPECT_EQ(kps.current(), k2.keypair);
  EXPECT_EQ(kps.next(), k4.keypair);
  (void)k1;
}

TEST(Keypairs, InitiatorInstallWithPendingNextDemotesIt) {
  Keypairs kps;
  auto k1 = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  auto k2 = kps.install(session(2, false), Cipher::chacha20_poly1305, kT0);  // next
  auto k3 = kps.install(session(3, true), Cipher::chacha20_poly1305, kT0);
  ASSERT_EQ(k3.released.size(), 1u);
  EXPECT_EQ(k3.released[0].local_index, 1u);  // the old current goes
  EXPECT_EQ(kps.current(), k3.keypair);
  EXPECT_EQ(kps.previous(), k2.keypair);  // the unconfirmed one may still carry data
  EXPECT_EQ(kps.next(), nullptr);
  (void)k1;
}

TEST(Keypairs, RotationsKeepAtMostThreeAndReportReleasedIndices) {
  Keypairs kps;
  std::vector<std::uint32_t> live;  // what the PeerIndex would hold
  std::uint32_t index = 100;
  Time now = kT0;
  for (int round = 0; round < 20; ++round) {
    // Alternate roles, and confirm some responder keypairs but not others.
    const bool initiator = round % 3 != 1;
    auto got = kps.install(session(index, initiator), Cipher::chacha20_poly1305, now);
    live.push_back(index);
    for (const auto& r : got.released) {
      auto it = std::find(live.begin(), live.end(), r.local_index);
      ASSERT_NE(it, live.end()) << "released an index twice or one never installed";
      live.erase(it);
      EXPECT_EQ(r.keypair->local_index, r.local_index);
    }
    if (!initiator && round % 2 == 0) {
      EXPECT_TRUE(kps.received_with(got.keypair));
    }
    // Never more than two at once: every install or confirmation empties one slot (a
    // responder's next clears previous; a current replaced as initiator clears next).
    EXPECT_LE(kps.size(), 2u);
    EXPECT_EQ(kps.size(), live.size()) << "round " << round;
    for (const Keypair* kp : {kps.previous(), kps.current(), kps.next()}) {
      if (kp) {
        EXPECT_NE(std::find(live.begin(), live.end(), kp->local_index), live.end());
      }
    }
    ++index;
    now += seconds(120);
  }
  const auto cleared = kps.clear();
  EXPECT_EQ(cleared.size(), live.size());
  for (const std::uint32_t i : live) EXPECT_TRUE(cleared.contains_index(i)) << i;
  EXPECT_EQ(kps.size(), 0u);
  EXPECT_EQ(kps.current(), nullptr);
}

TEST(Keypairs, ThreeInitiatorRotations) {
  Keypairs kps;
  auto k1 = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  auto k2 = kps.install(session(2, true), Cipher::chacha20_poly1305, kT0);
  auto k3 = kps.install(session(3, true), Cipher::chacha20_poly1305, kT0);
  EXPECT_TRUE(k1.released.empty());
  EXPECT_TRUE(k2.released.empty());
  ASSERT_EQ(k3.released.size(), 1u);
  EXPECT_EQ(k3.released[0].local_index, 1u);
  EXPECT_EQ(kps.previous(), k2.keypair);
  EXPECT_EQ(kps.current(), k3.keypair);
}

TEST(Keypairs, ReleasedKeypairStaysAliveUntilTheCallerDropsIt) {
  Keypairs kps;
  auto k1 = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  std::weak_ptr<Keypair> watch = kps.shared_current();
  (void)kps.install(session(2, true), Cipher::chacha20_poly1305, kT0);
  {
    auto k3 = kps.install(session(3, true), Cipher::chacha20_poly1305, kT0);
    ASSERT_TRUE(k3.released.contains_index(1));
    EXPECT_FALSE(watch.expired());  // an lcore may still read it: the caller holds it
    EXPECT_EQ(watch.lock().get(), k1.keypair);
  }
  EXPECT_TRUE(watch.expired());
}

TEST(Keypairs, ExpireByTime) {
  Keypairs kps;
  (void)kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  (void)kps.install(session(2, true), Cipher::chacha20_poly1305, kT0 + seconds(100));
  EXPECT_TRUE(kps.expire(kT0 + kRejectAfterTime - milliseconds(1)).empty());
  auto gone = kps.expire(kT0 + kRejectAfterTime);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].local_index, 1u);
  EXPECT_EQ(kps.previous(), nullptr);
  EXPECT_NE(kps.current(), nullptr);
  gone = kps.expire(kT0 + seconds(100) + kRejectAfterTime);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].local_index, 2u);
  EXPECT_EQ(kps.current(), nullptr);
}

TEST(Keypairs, ExpireByMessages) {
  Keypairs kps;
  auto k1 = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  // Sending exhausted: it can still receive, so it stays.
  k1.keypair->send_counter.store(kRejectAfterMessages);
  EXPECT_FALSE(k1.keypair->valid_for_send(kT0));
  EXPECT_TRUE(kps.expire(kT0).empty());
  // Receiving exhausted too: nothing can use it any more.
  ASSERT_TRUE(k1.keypair->commit_counter(kRejectAfterMessages - 1));
  auto gone = kps.expire(kT0);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].local_index, 1u);
  EXPECT_EQ(kps.current(), nullptr);
}

TEST(Keypairs, ExpireCurrentForSending) {
  Keypairs kps;
  auto k1 = kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  auto k2 = kps.install(session(2, false), Cipher::chacha20_poly1305, kT0);
  kps.expire_current_for_sending();
  EXPECT_FALSE(k1.keypair->valid_for_send(kT0));
  EXPECT_FALSE(k2.keypair->valid_for_send(kT0));
  EXPECT_TRUE(k1.keypair->valid_for_receive(kT0));
  EXPECT_EQ(kps.current(), k1.keypair);
}

TEST(Keypairs, ClearReleasesEverything) {
  Keypairs kps;
  (void)kps.install(session(1, true), Cipher::chacha20_poly1305, kT0);
  (void)kps.install(session(2, true), Cipher::chacha20_poly1305, kT0);
  ASSERT_EQ(kps.size(), 2u);
  auto cleared = kps.clear();
  EXPECT_EQ(cleared.size(), 2u);
  EXPECT_TRUE(cleared.contains_index(1));
  EXPECT_TRUE(cleared.contains_index(2));
  EXPECT_FALSE(cleared.contains_index(3));
  EXPECT_EQ(kps.size(), 0u);
  EXPECT_EQ(kps.current(), nullptr);
  EXPECT_EQ(kps.previous(), nullptr);
  EXPECT_TRUE(kps.clear().empty());

  (void)kps.install(session(3, true), Cipher::chacha20_poly1305, kT0);
  (void)kps.install(session(4, false), Cipher::chacha20_poly1305, kT0);
  cleared = kps.clear();
  EXPECT_TRUE(cleared.contains_index(3));
  EXPECT_TRUE(cleared.contains_index(4));
}

TEST(Keypairs, CipherIsPerKeypair) {
  Keypairs kps;
  auto a = kps.install(session(1, true), Cipher::aes256_gcm, kT0);
  EXPECT_EQ(a.keypair->cipher, Cipher::aes256_gcm);
}

}  // namespace
}  // namespace strait::wg

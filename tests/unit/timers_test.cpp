// The per-peer timer state machine (WireGuard paper section 6; Linux timers.c semantics),
// driven by a fake clock and a seeded jitter source.
//
// The main test is a numbered table of cases, in the manner of the Linux module's self-tests:
// each case is a list of steps (advance the clock, report an event, poll) with the actions
// poll() must return. The driver plays an obedient caller: when poll() asks for an initiation
// or a keepalive it "sends" one and reports that back, as the device will. Times straddle the
// jitter range ([5 s, 5.334 s) for a retransmission) so that the table holds for every seed.

#include "core/timers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/keypair.hpp"

namespace strait::wg {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr Time kT0 = seconds(10000);

enum class Ev {
  poll,                 // nothing happens; just poll
  data_sent,            // a data message went out
  data_received,        // a data message authenticated
  keepalive_received,   // an authenticated keepalive arrived
  initiation_received,  // a valid initiation arrived (we will answer it)
  response_sent,        // we sent a response and derived the session
  response_received,    // a valid response to our initiation arrived
  first_data_on_next,   // first data on a responder keypair: handshake complete
  request_initiation,   // the data path wants a session
  session_derived,      // new session keys (without the rest of a handshake)
  persistent_25s,       // set the persistent keepalive interval to 25 s
  persistent_off,       // set it to 0
};

struct Step {
  Time advance;
  Ev event;
  TimerActions expect;
};

struct Case {
  int number;
  std::string what;
  Time persistent;
  std::vector<Step> steps;
};

constexpr TimerActions kNothing{};
constexpr TimerActions kInitiate{.send_handshake_initiation = true};
constexpr TimerActions kKeepalive{.send_keepalive = true};
constexpr TimerActions kGiveUp{.handshake_gave_up = true};
constexpr TimerActions kZero{.zero_keys = true};

// The caller's side of each event, as the header's table describes it.
void report(PeerTimers& t, Ev ev, Time now) {
  switch (ev) {
    case Ev::poll: break;
    case Ev::data_sent:
      t.on_any_authenticated_packet_sent(now);
      t.on_any_authenticated_packet_traversal(now);
      t.on_data_sent(now);
      break;
    case Ev::data_received:
      t.on_any_authenticated_packet_received(now);
      t.on_any_authenticated_packet_traversal(now);
      t.on_data_received(now);
      break;
    case Ev::keepalive_received:
      t.on_any_authenticated_packet_received(now);
      t.on_any_authenticated_packet_traversal(now);
      break;
    case Ev::initiation_received:
      t.on_any_authenticated_packet_received(now);
      t.on_any_authenticated_packet_traversal(now);
      break;
    case Ev::response_sent:
      t.on_handshake_response_sent(now);
      t.on_session_derived(now);
      t.on_any_authenticated_packet_traversal(now);
      t.on_any_authenticated_packet_sent(now);
      break;
    case Ev::response_received: t.on_handshake_response_received(now); break;
    case Ev::first_data_on_next:
      t.on_handshake_complete(now);
      t.on_any_authenticated_packet_received(now);
      t.on_any_authenticated_packet_traversal(now);
      t.on_data_received(now);
      break;
    case Ev::request_initiation: t.request_handshake_initiation(now); break;
    case Ev::session_derived: t.on_session_derived(now); break;
    case Ev::persistent_25s: t.set_persistent_keepalive_interval(seconds(25), now); break;
    case Ev::persistent_off: t.set_persistent_keepalive_interval(Time::zero(), now); break;
  }
}

// Does what poll() asked, reporting the sends back.
void obey(PeerTimers& t, const TimerActions& a, Time now) {
  if (a.send_handshake_initiation) {
    t.on_handshake_initiated(now);
    t.on_any_authenticated_packet_traversal(now);
    t.on_any_authenticated_packet_sent(now);
  }
  if (a.send_keepalive) {
    t.on_any_authenticated_packet_sent(now);
    t.on_any_authenticated_packet_traversal(now);
  }
}

// Appends: an initiation goes out, and `retries` retransmissions follow, each between
// 5 s and 5.334 s after the one before (nothing at 4.999 s, due by 5.334 s).
void append_retransmissions(std::vector<Step>& steps, int retries) {
  for (int i = 0; i < retries; ++i) {
    steps.push_back({milliseconds(4999), Ev::poll, kNothing});
    steps.push_back({milliseconds(335), Ev::poll, kInitiate});
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;

  // 1. An initiation without an answer is retransmitted after REKEY_TIMEOUT + jitter.
  {
    Case c{1,
           "initiation retransmitted after 5 s + jitter",
           Time::zero(),
           {{Time::zero(), Ev::request_initiation, kInitiate}}};
    append_retransmissions(c.steps, 2);
    out.push_back(c);
  }
  // 2. After 18 initiations (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT) without an answer it gives
  //    up, sends nothing more, and erases the keys REJECT_AFTER_TIME * 3 later.
  {
    Case c{2,
           "gives up after 18 initiations, about 90 s",
           Time::zero(),
           {{Time::zero(), Ev::request_initiation, kInitiate}}};
    append_retransmissions(c.steps, 17);
    c.steps.push_back({milliseconds(4999), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(335), Ev::poll, kGiveUp});
    c.steps.push_back({seconds(540) - milliseconds(1), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(1), Ev::poll, kZero});
    c.steps.push_back({seconds(1000), Ev::poll, kNothing});
    out.push_back(c);
  }
  // 3. Data arrived and we had nothing to send back: a keepalive after KEEPALIVE_TIMEOUT.
  out.push_back({3,
                 "passive keepalive 10 s after receiving data",
                 Time::zero(),
                 {{Time::zero(), Ev::data_received, kNothing},
                  {seconds(9), Ev::data_received, kNothing},  // does not push the timer out
                  {milliseconds(999), Ev::poll, kNothing},
                  {milliseconds(1), Ev::poll, kKeepalive},
                  {seconds(100), Ev::poll, kNothing}}});
  // 4. No keepalive when we sent data in the meantime; our data was answered, so no new
  //    handshake either.
  out.push_back({4,
                 "no keepalive if we sent data meanwhile",
                 Time::zero(),
                 {{Time::zero(), Ev::data_received, kNothing},
                  {seconds(5), Ev::data_sent, kNothing},
                  {seconds(5), Ev::poll, kNothing},
                  {seconds(2), Ev::keepalive_received, kNothing},
                  {seconds(100), Ev::poll, kNothing}}});
  // 5. We sent data and heard nothing back for KEEPALIVE + REKEY_TIMEOUT (+ jitter): start a
  //    new handshake. Later data does not push the deadline out.
  out.push_back({5,
                 "new handshake 15 s after sending without hearing back",
                 Time::zero(),
                 {{Time::zero(), Ev::data_sent, kNothing},
                  {seconds(10), Ev::data_sent, kNothing},
                  {milliseconds(4999), Ev::poll, kNothing},
                  {milliseconds(335), Ev::poll, kInitiate},
                  {milliseconds(4999), Ev::poll, kNothing},
                  {milliseconds(335), Ev::poll, kInitiate}}});  // and it is retransmitted
  // 6. Hearing anything authenticated back cancels the new handshake.
  out.push_back({6,
                 "no new handshake when the peer answers",
                 Time::zero(),
                 {{Time::zero(), Ev::data_sent, kNothing},
                  {seconds(14), Ev::keepalive_received, kNothing},
                  {seconds(100), Ev::poll, kNothing}}});
  // 7. Keys are erased REJECT_AFTER_TIME * 3 after the last session was derived.
  out.push_back({7,
                 "zero keys 540 s after the last session",
                 Time::zero(),
                 {{Time::zero(), Ev::response_received, kKeepalive},  // confirm the session
                  {seconds(539), Ev::poll, kNothing},
                  {seconds(1), Ev::poll, kZero},
                  {seconds(1000), Ev::poll, kNothing}}});
  // 8. A newer session moves the erasure out.
  out.push_back({8,
                 "a new session postpones zeroing",
                 Time::zero(),
                 {{Time::zero(), Ev::response_sent, kNothing},
                  {seconds(100), Ev::response_sent, kNothing},
                  {seconds(440), Ev::poll, kNothing},
                  {seconds(100) - milliseconds(1), Ev::poll, kNothing},
                  {milliseconds(1), Ev::poll, kZero}}});
  // 9. Persistent keepalive every N s after the last authenticated packet either way.
  out.push_back({9,
                 "persistent keepalive every 25 s",
                 seconds(25),
                 {{Time::zero(), Ev::keepalive_received, kNothing},
                  {seconds(25) - milliseconds(1), Ev::poll, kNothing},
                  {milliseconds(1), Ev::poll, kKeepalive},
                  {seconds(25) - milliseconds(1), Ev::poll, kNothing},
                  {milliseconds(1), Ev::poll, kKeepalive},
                  {seconds(20), Ev::keepalive_received, kNothing},  // traffic restarts it
                  {seconds(10), Ev::poll, kNothing},
                  {seconds(15), Ev::poll, kKeepalive}}});
  // 10. Persistent keepalive off: silence stays silent. Turning it on sends one at once;
  //     turning it off stops it.
  out.push_back({10,
                 "persistent keepalive off, on, off",
                 Time::zero(),
                 {{Time::zero(), Ev::keepalive_received, kNothing},
                  {seconds(1000), Ev::poll, kNothing},
                  {Time::zero(), Ev::persistent_25s, kKeepalive},
                  {seconds(25), Ev::poll, kKeepalive},
                  {seconds(1), Ev::persistent_off, kNothing},
                  {seconds(1000), Ev::poll, kNothing}}});
  // 11. No initiation more often than every REKEY_TIMEOUT (Linux send.c rate limit).
  out.push_back({11,
                 "initiations rate limited to one per 5 s",
                 Time::zero(),
                 {{Time::zero(), Ev::request_initiation, kInitiate},
                  {seconds(1), Ev::request_initiation, kNothing},
                  {milliseconds(3999), Ev::request_initiation, kNothing},
                  {milliseconds(1), Ev::request_initiation, kInitiate},
                  {milliseconds(4999), Ev::poll, kNothing},  // retransmission re-armed
                  {milliseconds(335), Ev::poll, kInitiate}}});
  // 12. A response we sent counts for the rate limit too.
  out.push_back({12,
                 "no initiation within 5 s of sending a response",
                 Time::zero(),
                 {{Time::zero(), Ev::initiation_received, kNothing},
                  {Time::zero(), Ev::response_sent, kNothing},
                  {seconds(2), Ev::request_initiation, kNothing},
                  {seconds(3), Ev::request_initiation, kInitiate}}});
  // 13. A response ends the retransmissions, and our keepalive confirms the session; data
  //     sent first makes that keepalive unnecessary.
  out.push_back({13,
                 "response stops retransmission and is confirmed",
                 Time::zero(),
                 {{Time::zero(), Ev::request_initiation, kInitiate},
                  {seconds(3), Ev::response_received, kKeepalive},
                  {seconds(100), Ev::poll, kNothing}}});
  // 14. The responder's handshake completes on the first data with the new keypair; that
  //     data arms the passive keepalive like any other.
  out.push_back({14,
                 "responder completes on first data",
                 Time::zero(),
                 {{Time::zero(), Ev::initiation_received, kNothing},
                  {Time::zero(), Ev::response_sent, kNothing},
                  {seconds(1), Ev::first_data_on_next, kNothing},
                  {seconds(10), Ev::poll, kKeepalive},
                  {seconds(100), Ev::poll, kNothing}}});
  // 15. A new request from the data path restarts the attempt count: traffic that keeps
  //     wanting a session keeps the handshake going past 18 initiations.
  {
    Case c{15,
           "a data-path request restarts the give-up count",
           Time::zero(),
           {{Time::zero(), Ev::request_initiation, kInitiate}}};
    append_retransmissions(c.steps, 10);
    c.steps.push_back({seconds(1), Ev::request_initiation, kNothing});  // rate limited, counts
    c.steps.push_back({milliseconds(3998), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(336), Ev::poll, kInitiate});  // 1st since the request
    append_retransmissions(c.steps, 16);  // 29 initiations in all, no give-up
    c.steps.push_back({milliseconds(4999), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(335), Ev::poll, kInitiate});  // the 18th since the request
    c.steps.push_back({milliseconds(4999), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(335), Ev::poll, kGiveUp});
    out.push_back(c);
  }
  // 16. Giving up cancels a pending passive keepalive (nothing can be sent anyway).
  {
    Case c{16,
           "giving up cancels the passive keepalive",
           Time::zero(),
           {{Time::zero(), Ev::request_initiation, kInitiate}}};
    append_retransmissions(c.steps, 17);
    c.steps.push_back({milliseconds(4000), Ev::data_received, kNothing});
    c.steps.push_back({milliseconds(1334), Ev::poll, kGiveUp});
    c.steps.push_back({seconds(20), Ev::poll, kNothing});
    out.push_back(c);
  }
  // 17. Giving up while a session's zero timer runs keeps that earlier deadline.
  {
    Case c{17,
           "giving up keeps an earlier zero-key deadline",
           Time::zero(),
           {{Time::zero(), Ev::session_derived, kNothing},
            {seconds(1), Ev::request_initiation, kInitiate}}};
    append_retransmissions(c.steps, 17);
    // Each step of 5.334 s passes the deadline, so the give-up comes at 1 + 18 * 5.334 s.
    c.steps.push_back({milliseconds(5334), Ev::poll, kGiveUp});
    c.steps.push_back({seconds(540) - milliseconds(97013), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(1), Ev::poll, kZero});  // 540 s after the session
    out.push_back(c);
  }
  // 18. The new-handshake timer also starts a new attempt series (Linux: is_retry false),
  //     even when the rate limit drops its initiation.
  {
    Case c{18,
           "the new-handshake timer restarts the give-up count",
           Time::zero(),
           {{Time::zero(), Ev::request_initiation, kInitiate}}};
    append_retransmissions(c.steps, 14);                            // 15 initiations, the last at S
    c.steps.push_back({milliseconds(1), Ev::data_sent, kNothing});  // new handshake at S + 15 s
    c.steps.push_back({milliseconds(4998), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(335), Ev::poll, kInitiate});  // 16th, at S + 5.334 s
    c.steps.push_back({milliseconds(4999), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(335), Ev::poll, kInitiate});  // 17th, at S + 10.668 s
    // S + 15.667 s: the new-handshake timer fires but is rate limited (by 1 ms); it resets
    // the count all the same.
    c.steps.push_back({milliseconds(4999), Ev::poll, kNothing});
    c.steps.push_back({milliseconds(335), Ev::poll, kInitiate});  // 1st of the new series
    append_retransmissions(c.steps, 2);  // without the reset: 18, then a give-up here
    out.push_back(c);
  }
  return out;
}

TEST(PeerTimers, CaseTable) {
  for (const std::uint64_t seed : {1ULL, 2ULL, 42ULL, 0xdeadbeefULL}) {
    for (const Case& c : cases()) {
      SCOPED_TRACE("case " + std::to_string(c.number) + " (" + c.what + "), seed " +
                   std::to_string(seed));
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(c.number));
      PeerTimers t([&rng] { return rng(); }, c.persistent);
      Time now = kT0;
      for (std::size_t i = 0; i < c.steps.size(); ++i) {
        const Step& s = c.steps[i];
        SCOPED_TRACE("step " + std::to_string(i + 1));
        now += s.advance;
        report(t, s.event, now);
        const std::optional<Time> deadline = t.next_deadline();
        const TimerActions got = t.poll(now);
        EXPECT_EQ(got.send_handshake_initiation, s.expect.send_handshake_initiation);
        EXPECT_EQ(got.send_keepalive, s.expect.send_keepalive);
        EXPECT_EQ(got.handshake_gave_up, s.expect.handshake_gave_up);
        EXPECT_EQ(got.zero_keys, s.expect.zero_keys);
        // next_deadline() never lets a due action wait.
        if (got.any()) {
          ASSERT_TRUE(deadline.has_value());
          EXPECT_LE(*deadline, now);
        }
        obey(t, got, now);
      }
    }
  }
}

// The confirming keepalive after a response is skipped when data goes out first.
TEST(PeerTimers, DataBeforeConfirmingKeepaliveCancelsIt) {
  std::mt19937_64 rng(7);
  PeerTimers t([&rng] { return rng(); });
  t.on_handshake_response_received(kT0);
  t.on_any_authenticated_packet_sent(kT0);
  t.on_any_authenticated_packet_traversal(kT0);
  t.on_data_sent(kT0);
  EXPECT_EQ(t.poll(kT0), kNothing);
}

TEST(PeerTimers, GiveUpCountsEighteenInitiations) {
  std::mt19937_64 rng(3);
  PeerTimers t([&rng] { return rng(); });
  ASSERT_EQ(kMaxTimerHandshakes, 18u);
  Time now = kT0;
  t.request_handshake_initiation(now);
  int initiations = 0;
  bool gave_up = false;
  Time gave_up_at{};
  while (now < kT0 + seconds(200)) {
    const TimerActions a = t.poll(now);
    if (a.send_handshake_initiation) {
      ++initiations;
      t.on_handshake_initiated(now);
      EXPECT_EQ(t.handshake_attempts(), static_cast<unsigned>(initiations));
    }
    if (a.handshake_gave_up) {
      gave_up = true;
      gave_up_at = now;
      break;
    }
    ASSERT_TRUE(t.next_deadline().has_value());
    now = *t.next_deadline();  // sleep exactly until the next deadline
  }
  ASSERT_TRUE(gave_up);
  EXPECT_EQ(initiations, 18);
  EXPECT_GE(gave_up_at - kT0, kRekeyAttemptTime);
  EXPECT_LT(gave_up_at - kT0, kRekeyAttemptTime + 18 * kRekeyTimeoutJitterMax);
  EXPECT_FALSE(t.retransmit_handshake_deadline().has_value());
  EXPECT_EQ(t.zero_key_material_deadline(), gave_up_at + 3 * kRejectAfterTime);
}

TEST(PeerTimers, JitterStaysInRange) {
  std::mt19937_64 rng(12345);
  PeerTimers t([&rng] { return rng(); });
  Time lo = Time::max();
  Time hi = Time::min();
  for (int i = 0; i < 100000; ++i) {
    const Time j = t.jitter();
    ASSERT_GE(j, Time::zero());
    ASSERT_LT(j, kRekeyTimeoutJitterMax);
    lo = std::min(lo, j);
    hi = std::max(hi, j);
  }
  // The source is used, not ignored: the draws spread over (nearly) the whole range.
  EXPECT_LT(lo, milliseconds(5));
  EXPECT_GT(hi, milliseconds(329));
}

TEST(PeerTimers, JitterExtremesOfTheSource) {
  for (const std::uint64_t r :
       {std::uint64_t{0}, std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max(),
        static_cast<std::uint64_t>(kRekeyTimeoutJitterMax.count()) - 1,
        static_cast<std::uint64_t>(kRekeyTimeoutJitterMax.count())}) {
    PeerTimers t([r] { return r; });
    const Time j = t.jitter();
    EXPECT_GE(j, Time::zero()) << r;
    EXPECT_LT(j, kRekeyTimeoutJitterMax) << r;
  }
}

TEST(PeerTimers, RetransmitDeadlineIsRekeyTimeoutPlusJitter) {
  std::mt19937_64 rng(99);
  PeerTimers t([&rng] { return rng(); });
  Time now = kT0;
  for (int i = 0; i < 1000; ++i) {
    t.on_handshake_initiated(now);
    const Time d = *t.retransmit_handshake_deadline() - now;
    ASSERT_GE(d, seconds(5));
    ASSERT_LT(d, milliseconds(5334));
    now += seconds(6);
  }
}

TEST(PeerTimers, NewHandshakeDeadlineHasJitter) {
  std::mt19937_64 rng(5);
  PeerTimers t([&rng] { return rng(); });
  t.on_data_sent(kT0);
  const Time d = *t.new_handshake_deadline() - kT0;
  EXPECT_GE(d, seconds(15));
  EXPECT_LT(d, seconds(15) + kRekeyTimeoutJitterMax);
}

TEST(PeerTimers, NewHandshakeDeadlinesVaryWithTheJitter) {
  std::mt19937_64 rng(11);
  PeerTimers t([&rng] { return rng(); });
  int jittered = 0;
  for (int i = 0; i < 100; ++i) {
    const Time now = kT0 + seconds(100) * i;
    t.on_data_sent(now);
    if (*t.new_handshake_deadline() - now > seconds(15)) ++jittered;
    t.on_any_authenticated_packet_received(now);  // disarm for the next round
  }
  EXPECT_GT(jittered, 90);
}

TEST(PeerTimers, EmptyJitterSourceIsRejected) {
  EXPECT_THROW(PeerTimers(JitterSource{}), std::invalid_argument);
}

TEST(PeerTimers, NextDeadlineIsTheEarliest) {
  PeerTimers t([] { return std::uint64_t{0}; }, seconds(25));
  EXPECT_FALSE(t.next_deadline().has_value());
  t.on_session_derived(kT0);  // kT0 + 540 s
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(540));
  t.on_any_authenticated_packet_traversal(kT0);  // kT0 + 25 s
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(25));
  t.on_data_sent(kT0);  // kT0 + 15 s (zero jitter)
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(15));
  t.on_data_received(kT0);  // kT0 + 10 s
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(10));
  t.on_handshake_initiated(kT0);  // kT0 + 5 s
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(5));
  t.request_handshake_initiation(kT0 + seconds(1));  // wants a poll now
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(1));
  EXPECT_EQ(t.poll(kT0 + seconds(1)), kNothing);  // rate limited and dropped
  EXPECT_EQ(t.next_deadline(), kT0 + seconds(5));
  t.stop();
  EXPECT_FALSE(t.next_deadline().has_value());
  EXPECT_EQ(t.poll(kT0 + seconds(10000)), kNothing);
}

// --- Rekey rules (Linux send.c / receive.c keep_key_fresh).

SessionKeys keys(bool we_initiated) {
  SessionKeys k;
  k.local_index = 1;
  k.remote_index = 2;
  k.we_initiated = we_initiated;
  return k;
}

TEST(PeerTimers, InitiateOnSendWithoutUsableKeypair) {
  EXPECT_TRUE(PeerTimers::should_initiate_on_send(nullptr, kT0));
  Keypair old(keys(false), Cipher::chacha20_poly1305, kT0);
  EXPECT_TRUE(PeerTimers::should_initiate_on_send(&old, kT0 + kRejectAfterTime));
  Keypair invalid(keys(false), Cipher::chacha20_poly1305, kT0);
  invalid.send_valid.store(false);
  EXPECT_TRUE(PeerTimers::should_initiate_on_send(&invalid, kT0));
}

TEST(PeerTimers, RekeyAfterTimeOnSendOnlyAsInitiator) {
  Keypair mine(keys(true), Cipher::chacha20_poly1305, kT0);
  Keypair theirs(keys(false), Cipher::chacha20_poly1305, kT0);
  EXPECT_FALSE(PeerTimers::should_initiate_on_send(&mine, kT0 + seconds(119)));
  EXPECT_TRUE(PeerTimers::should_initiate_on_send(&mine, kT0 + seconds(120)));
  EXPECT_FALSE(PeerTimers::should_initiate_on_send(&theirs, kT0 + seconds(120)));
  EXPECT_FALSE(PeerTimers::should_initiate_on_send(&theirs, kT0 + seconds(179)));
}

TEST(PeerTimers, RekeyAfterMessagesOnSendOnBothSides) {
  for (const bool initiator : {true, false}) {
    Keypair kp(keys(initiator), Cipher::chacha20_poly1305, kT0);
    kp.send_counter.store(kRekeyAfterMessages);
    EXPECT_FALSE(PeerTimers::should_initiate_on_send(&kp, kT0)) << initiator;
    kp.send_counter.store(kRekeyAfterMessages + 1);
    EXPECT_TRUE(PeerTimers::should_initiate_on_send(&kp, kT0)) << initiator;
  }
}

TEST(PeerTimers, RekeyOnReceiveOnlyAsInitiatorAndOncePerSession) {
  PeerTimers t([] { return std::uint64_t{0}; });
  Keypair mine(keys(true), Cipher::chacha20_poly1305, kT0);
  Keypair theirs(keys(false), Cipher::chacha20_poly1305, kT0);
  EXPECT_FALSE(t.should_initiate_on_receive(nullptr, kT0 + seconds(170)));
  EXPECT_FALSE(t.should_initiate_on_receive(&theirs, kT0 + seconds(170)));
  EXPECT_FALSE(t.should_initiate_on_receive(&mine, kT0 + seconds(164)));
  EXPECT_TRUE(t.should_initiate_on_receive(&mine, kT0 + seconds(165)));
  EXPECT_FALSE(t.should_initiate_on_receive(&mine, kT0 + seconds(166)));  // latched
  t.on_handshake_complete(kT0 + seconds(167));
  EXPECT_TRUE(t.should_initiate_on_receive(&mine, kT0 + seconds(168)));  // latch reset
}

}  // namespace
}  // namespace strait::wg

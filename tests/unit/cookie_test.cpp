// mac1/mac2 and cookie replies (WireGuard paper sections 5.3, 5.4.4, 5.4.7), with a fake clock.
#include "core/cookie.hpp"

#include <gtest/gtest.h>

#include <array>

#include "core/messages.hpp"
#include "core/noise.hpp"
#include "crypto/primitives.hpp"

namespace strait::wg {
namespace {

using namespace std::chrono_literals;

Key seq_key(std::uint8_t start) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(start + i);
  return k;
}

// A counter pattern: every fill differs from the previous one (new cookie secrets, nonces).
class CountingRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) b = static_cast<std::uint8_t>(++counter_ * 13 + 5);
  }

 private:
  std::uint32_t counter_ = 0;
};

// 192.0.2.1 port 51820, the caller's encoding of a source address.
constexpr std::array<std::uint8_t, 6> kSource{192, 0, 2, 1, 0xca, 0x6c};
constexpr std::array<std::uint8_t, 6> kOtherSource{192, 0, 2, 2, 0xca, 0x6c};

class CookieTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(crypto::init()); }

  void SetUp() override {
    bob_ = StaticIdentity::from_private(seq_key(0x40));
    checker_.set_identity(bob_);
    to_bob_.set_remote(bob_.public_key);
    msg_.sender.set(0x01020304);
    msg_.ephemeral.fill(0x77);
    msg_.encrypted_static.fill(0x88);
  }

  MacVerdict check(const MessageInitiation& m, bool under_load, Time now,
                   std::span<const std::uint8_t> source = kSource) {
    return checker_.check(bytes_of(m), source, under_load, now, rng_);
  }

  // Bob answers msg_ (as sent at `now`) with a cookie reply, alice's maker consumes it.
  void get_cookie(Time now) {
    to_bob_.add_macs(msg_, now);
    MessageCookieReply reply;
    ASSERT_TRUE(checker_.make_reply(reply, bytes_of(msg_), kSource, now, rng_));
    ASSERT_EQ(to_bob_.consume_reply(reply, now), CookieReplyError::ok);
  }

  StaticIdentity bob_;
  CookieChecker checker_;
  CookieMaker to_bob_;
  CountingRandom rng_;
  MessageInitiation msg_;
};

TEST_F(CookieTest, Mac1Valid) {
  to_bob_.add_macs(msg_, 0s);
  EXPECT_EQ(msg_.mac2, Mac{});  // no cookie yet: mac2 zero
  EXPECT_EQ(check(msg_, false, 0s), MacVerdict::valid_mac1_no_mac2);
}

TEST_F(CookieTest, Mac1Invalid) {
  to_bob_.add_macs(msg_, 0s);
  for (std::size_t i : {0u, 4u, 50u, 115u, 116u, 131u}) {
    MessageInitiation m = msg_;
    mutable_bytes_of(m)[i] ^= 1;
    EXPECT_EQ(check(m, false, 0s), MacVerdict::invalid_mac1) << "byte " << i;
  }
  // mac1 made for another responder's key.
  CookieMaker to_carol(seq_key(0x90));
  MessageInitiation m = msg_;
  to_carol.add_macs(m, 0s);
  EXPECT_EQ(check(m, false, 0s), MacVerdict::invalid_mac1);
  // mac2 is not covered by mac1 and not looked at when not under load.
  m = msg_;
  m.mac2.fill(0x55);
  EXPECT_EQ(check(m, false, 0s), MacVerdict::valid_mac1_no_mac2);
  // Too short to carry macs at all.
  const std::array<std::uint8_t, 31> tiny{};
  EXPECT_EQ(checker_.check(tiny, kSource, false, 0s, rng_), MacVerdict::invalid_mac1);
}

TEST_F(CookieTest, Mac2RequiredUnderLoad) {
  to_bob_.add_macs(msg_, 0s);
  EXPECT_EQ(check(msg_, true, 0s), MacVerdict::invalid_mac2);
  get_cookie(1s);
  EXPECT_TRUE(to_bob_.has_fresh_cookie(2s));
  to_bob_.add_macs(msg_, 2s);
  EXPECT_NE(msg_.mac2, Mac{});
  EXPECT_EQ(check(msg_, true, 2s), MacVerdict::valid_mac2);
  // The cookie is bound to the source address.
  EXPECT_EQ(check(msg_, true, 2s, kOtherSource), MacVerdict::invalid_mac2);
  // A tampered mac2 fails, but mac1 still holds.
  MessageInitiation m = msg_;
  m.mac2[3] ^= 0x10;
  EXPECT_EQ(check(m, true, 2s), MacVerdict::invalid_mac2);
}

TEST_F(CookieTest, CookieReplyRoundTrip) {
  to_bob_.add_macs(msg_, 0s);
  MessageCookieReply reply;
  ASSERT_TRUE(checker_.make_reply(reply, bytes_of(msg_), kSource, 0s, rng_));
  EXPECT_EQ(reply.header.type, kMsgTypeCookieReply);
  EXPECT_EQ(reply.receiver.get(), 0x01020304u);  // the sender index of the answered message
  const auto parsed = parse_cookie_reply(bytes_of(reply));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(to_bob_.consume_reply(parsed.value, 0s), CookieReplyError::ok);
  // One reply per message sent.
  EXPECT_EQ(to_bob_.consume_reply(parsed.value, 0s), CookieReplyError::no_mac1_sent);
}

TEST_F(CookieTest, ReplyBeforeAnythingSentRefused) {
  MessageInitiation other = msg_;
  CookieMaker m2(bob_.public_key);
  m2.add_macs(other, 0s);
  MessageCookieReply reply;
  ASSERT_TRUE(checker_.make_reply(reply, bytes_of(other), kSource, 0s, rng_));
  EXPECT_EQ(to_bob_.consume_reply(reply, 0s), CookieReplyError::no_mac1_sent);
}

TEST_F(CookieTest, ReplyWithWrongAdRefused) {
  to_bob_.add_macs(msg_, 0s);
  // Bob answers a different message (another mac1): the AD does not match what we sent.
  MessageInitiation other = msg_;
  other.sender.set(99);
  CookieMaker m2(bob_.public_key);
  m2.add_macs(other, 0s);
  ASSERT_NE(other.mac1, msg_.mac1);
  MessageCookieReply reply;
  ASSERT_TRUE(checker_.make_reply(reply, bytes_of(other), kSource, 0s, rng_));
  EXPECT_EQ(to_bob_.consume_reply(reply, 0s), CookieReplyError::decrypt_failed);
  EXPECT_FALSE(to_bob_.has_fresh_cookie(0s));
  // Tampered nonce or ciphertext fail too; the genuine reply still works afterwards.
  MessageCookieReply good;
  ASSERT_TRUE(checker_.make_reply(good, bytes_of(msg_), kSource, 0s, rng_));
  MessageCookieReply bad = good;
  bad.nonce[0] ^= 1;
  EXPECT_EQ(to_bob_.consume_reply(bad, 0s), CookieReplyError::decrypt_failed);
  bad = good;
  bad.encrypted_cookie[20] ^= 1;
  EXPECT_EQ(to_bob_.consume_reply(bad, 0s), CookieReplyError::decrypt_failed);
  EXPECT_EQ(to_bob_.consume_reply(good, 0s), CookieReplyError::ok);
}

TEST_F(CookieTest, ReplySealedForAnotherResponderRefused) {
  to_bob_.add_macs(msg_, 0s);
  const StaticIdentity carol = StaticIdentity::from_private(seq_key(0x90));
  CookieChecker carol_checker(carol);
  MessageCookieReply reply;
  ASSERT_TRUE(carol_checker.make_reply(reply, bytes_of(msg_), kSource, 0s, rng_));
  EXPECT_EQ(to_bob_.consume_reply(reply, 0s), CookieReplyError::decrypt_failed);
}

TEST_F(CookieTest, SecretRotationInvalidatesOldCookies) {
  // Bob's secret is born at t=0 (first use); alice gets a cookie at t=10 s.
  to_bob_.add_macs(msg_, 0s);
  EXPECT_EQ(check(msg_, true, 0s), MacVerdict::invalid_mac2);
  get_cookie(10s);
  to_bob_.add_macs(msg_, 119s);  // cookie 109 s old: still used
  EXPECT_NE(msg_.mac2, Mac{});
  EXPECT_EQ(check(msg_, true, 119s), MacVerdict::valid_mac2);
  // At 120 s Bob's secret is kCookieSecretMaxAge old and is replaced: the cookie dies.
  to_bob_.add_macs(msg_, 120s);
  EXPECT_NE(msg_.mac2, Mac{});
  EXPECT_EQ(check(msg_, true, 120s), MacVerdict::invalid_mac2);
  // A fresh cookie from the new secret works again.
  get_cookie(121s);
  to_bob_.add_macs(msg_, 122s);
  EXPECT_EQ(check(msg_, true, 122s), MacVerdict::valid_mac2);
}

TEST_F(CookieTest, MakerStopsUsingAgedCookie) {
  get_cookie(0s);
  const Time limit = kCookieSecretMaxAge - kCookieSecretLatency;  // 115 s
  EXPECT_TRUE(to_bob_.has_fresh_cookie(limit - 1ns));
  EXPECT_FALSE(to_bob_.has_fresh_cookie(limit));
  to_bob_.add_macs(msg_, limit);
  EXPECT_EQ(msg_.mac2, Mac{});
}

TEST_F(CookieTest, ResponseMessagesCarryMacsToo) {
  // The checker treats any handshake message by its last 32 bytes.
  const StaticIdentity alice = StaticIdentity::from_private(seq_key(0x10));
  CookieChecker alice_checker(alice);
  CookieMaker to_alice(alice.public_key);
  MessageResponse resp;
  resp.sender.set(5);
  to_alice.add_macs(resp, 0s);
  EXPECT_EQ(alice_checker.check(bytes_of(resp), kSource, false, 0s, rng_),
            MacVerdict::valid_mac1_no_mac2);
  EXPECT_EQ(checker_.check(bytes_of(resp), kSource, false, 0s, rng_), MacVerdict::invalid_mac1);
}

}  // namespace
}  // namespace strait::wg

// The transport codec (core/transport_codec.hpp): padding, framing, and the order of the
// checks that open a message, each with its drop reason. Two keypairs that mirror each other
// (A's send key is B's receive key) stand for the two ends of one session.

#include "core/transport_codec.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strait::wg {
namespace {

using Bytes = std::vector<std::uint8_t>;
using std::chrono::seconds;

constexpr Time kT0 = seconds(1000);

struct Session {
  std::unique_ptr<Keypair> a;  // sends
  std::unique_ptr<Keypair> b;  // receives
};

Session make_session(crypto::AeadEngine& engine, Cipher cipher) {
  SessionKeys ka;
  ka.send_key.fill(0x11);
  ka.recv_key.fill(0x22);
  ka.local_index = 7;
  ka.remote_index = 9;
  ka.we_initiated = true;
  SessionKeys kb = ka;
  kb.send_key = ka.recv_key;
  kb.recv_key = ka.send_key;
  kb.local_index = 9;
  kb.remote_index = 7;
  kb.we_initiated = false;
  Session s{std::make_unique<Keypair>(ka, cipher, kT0), std::make_unique<Keypair>(kb, cipher, kT0)};
  s.a->prepare_aead(engine);
  s.b->prepare_aead(engine);
  return s;
}

// A sealed message of `payload` from a to b, and the sealing's verdict.
struct Message {
  Bytes bytes;
  DropReason sealed = DropReason::none;
};

Message seal(crypto::AeadEngine& engine, Keypair& from, const Bytes& payload,
             std::uint32_t mtu = 0) {
  const auto len = static_cast<std::uint32_t>(payload.size());
  const std::uint32_t padded = padded_len(len, mtu);
  Message m;
  m.bytes.assign(sealed_len(padded), 0xee);  // garbage where the padding goes
  std::copy(payload.begin(), payload.end(), m.bytes.begin() + kDataHeaderLen);
  m.sealed = seal_one(engine, from, m.bytes.data(), len, padded, kT0);
  return m;
}

class TransportCodec : public ::testing::TestWithParam<Cipher> {
 protected:
  crypto::AeadEngine engine_;
};

TEST(TransportCodecPadding, ToSixteenNeverPastTheMtu) {
  struct Row {
    std::uint32_t len, mtu, want;
  };
  for (const Row& r :
       {Row{0, 0, 0}, Row{1, 0, 16}, Row{16, 0, 16}, Row{17, 0, 32}, Row{1419, 1420, 1420},
        Row{1420, 1420, 1420}, Row{1405, 1420, 1408}, Row{100, 1420, 112}}) {
    EXPECT_EQ(padded_len(r.len, r.mtu), r.want) << r.len << " mtu " << r.mtu;
  }
}

TEST_P(TransportCodec, SealThenOpenGivesThePaddedPayload) {
  Session s = make_session(engine_, GetParam());
  const Bytes payload{0x45, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
  Message m = seal(engine_, *s.a, payload);
  ASSERT_EQ(m.sealed, DropReason::none);
  ASSERT_EQ(m.bytes.size(), kDataHeaderLen + 32 + kTagLen);
  EXPECT_EQ(m.bytes[0], data_type_for(GetParam()));
  EXPECT_EQ(data_receiver(m.bytes.data()), 9u);  // b's own index, which it knows the session by
  EXPECT_EQ(data_counter(m.bytes.data()), 0u);
  std::span<std::uint8_t> plain;
  ASSERT_EQ(open_one(engine_, *s.b, m.bytes, kT0, plain), DropReason::none);
  Bytes want = payload;
  want.resize(32, 0);  // zero padding, whatever the buffer held
  EXPECT_EQ(Bytes(plain.begin(), plain.end()), want);
}

TEST_P(TransportCodec, CountersFollowEachOther) {
  Session s = make_session(engine_, GetParam());
  for (std::uint64_t i = 0; i < 3; ++i) {
    Message m = seal(engine_, *s.a, Bytes(20, 1));
    ASSERT_EQ(m.sealed, DropReason::none);
    EXPECT_EQ(data_counter(m.bytes.data()), i);
  }
}

TEST_P(TransportCodec, OpenChecksInOrderEachWithItsReason) {
  Session s = make_session(engine_, GetParam());
  std::span<std::uint8_t> plain;
  // Cipher first: the other cipher's type is refused before anything else is looked at,
  // even on an expired keypair.
  {
    Message m = seal(engine_, *s.a, Bytes(20, 1));
    m.bytes[0] = data_type_for(GetParam() == Cipher::aes256_gcm ? Cipher::chacha20_poly1305
                                                                : Cipher::aes256_gcm);
    EXPECT_EQ(open_one(engine_, *s.b, m.bytes, kT0 + kRejectAfterTime, plain),
              DropReason::cipher_mismatch);
  }
  // Keypair alive: REJECT_AFTER_TIME after its birth.
  {
    Message m = seal(engine_, *s.a, Bytes(20, 1));
    EXPECT_EQ(open_one(engine_, *s.b, m.bytes, kT0 + kRejectAfterTime, plain),
              DropReason::keypair_expired);
  }
  // Authenticate: a flipped ciphertext bit, and the window does not move for it.
  Message good = seal(engine_, *s.a, Bytes(20, 2));
  {
    Bytes forged = good.bytes;
    forged[kDataHeaderLen] ^= 0x01;
    EXPECT_EQ(open_one(engine_, *s.b, forged, kT0, plain), DropReason::auth_failed);
  }
  Bytes copy = good.bytes;
  EXPECT_EQ(open_one(engine_, *s.b, good.bytes, kT0, plain), DropReason::none);
  // Replay pre-check: the same counter again.
  EXPECT_EQ(open_one(engine_, *s.b, copy, kT0, plain), DropReason::replay);
}

TEST_P(TransportCodec, CommitRefusesACounterAnotherOpenerCommittedFirst) {
  Session s = make_session(engine_, GetParam());
  Message m = seal(engine_, *s.a, Bytes(20, 3));
  Bytes twin = m.bytes;
  // Two lcores pass the pre-check with the same counter; both authenticate ...
  ASSERT_EQ(check_open(*s.b, m.bytes.data(), kT0), DropReason::none);
  ASSERT_EQ(check_open(*s.b, twin.data(), kT0), DropReason::none);
  crypto::AeadOp first;
  crypto::AeadOp second;
  frame_open(m.bytes.data(), static_cast<std::uint32_t>(m.bytes.size()), *s.b, first);
  frame_open(twin.data(), static_cast<std::uint32_t>(twin.size()), *s.b, second);
  engine_.open_burst({&first, 1});
  engine_.open_burst({&second, 1});
  ASSERT_TRUE(first.ok && second.ok);
  // ... and only the first to commit keeps it.
  EXPECT_EQ(finish_open(*s.b, first), DropReason::none);
  EXPECT_EQ(finish_open(*s.b, second), DropReason::replay);
}

TEST_P(TransportCodec, NoNonceLeftIsNoKeypair) {
  Session s = make_session(engine_, GetParam());
  s.a->send_counter.store(kRejectAfterMessages);
  EXPECT_EQ(seal(engine_, *s.a, Bytes(20, 1)).sealed, DropReason::no_keypair);
}

TEST_P(TransportCodec, AnUnsealedMessageIsReportedNeverPassedOn) {
  Session s = make_session(engine_, GetParam());
  engine_.fail_next_seals_for_test(1);
  EXPECT_EQ(seal(engine_, *s.a, Bytes(20, 1)).sealed, DropReason::seal_failed);
  EXPECT_EQ(seal(engine_, *s.a, Bytes(20, 1)).sealed, DropReason::none);
}

TEST_P(TransportCodec, UnpreparedKeysNeitherSealNorOpen) {
  SessionKeys k;
  k.local_index = 1;
  Keypair raw(k, GetParam(), kT0);
  Bytes buf(sealed_len(16), 0);
  EXPECT_EQ(seal_one(engine_, raw, buf.data(), 16, 16, kT0), DropReason::no_keypair);
  std::span<std::uint8_t> plain;
  EXPECT_EQ(open_one(engine_, raw, buf, kT0, plain), DropReason::keypair_expired);
}

INSTANTIATE_TEST_SUITE_P(BothCiphers, TransportCodec,
                         ::testing::Values(Cipher::chacha20_poly1305, Cipher::aes256_gcm),
                         [](const auto& info) {
                           return info.param == Cipher::aes256_gcm ? std::string("aes256_gcm")
                                                                   : std::string("chacha20");
                         });

}  // namespace
}  // namespace strait::wg

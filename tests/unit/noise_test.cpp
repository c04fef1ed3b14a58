// The Noise_IKpsk2 handshake (WireGuard paper section 5.4): two peers in memory with a fake
// clock and scripted randomness; replay, flood, tampering and low-order refusals; and a
// known-answer vector computed independently (script at the end of this file).
#include "core/noise.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cookie.hpp"
#include "core/messages.hpp"
#include "core/tai64n.hpp"
#include "crypto/primitives.hpp"

namespace strait::wg {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

template <std::size_t N>
std::vector<std::uint8_t> vec(const std::array<std::uint8_t, N>& a) {
  return {a.begin(), a.end()};
}

template <class Msg>
std::vector<std::uint8_t> wire(const Msg& m) {
  const auto b = bytes_of(m);
  return {b.begin(), b.end()};
}

Key seq_key(std::uint8_t start) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(start + i);
  return k;
}

// Hands out the scripted 32-byte blocks in order, then a counter pattern.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::vector<Key> blocks = {}) : blocks_(std::move(blocks)) {}
  void fill(std::span<std::uint8_t> out) override {
    if (next_ < blocks_.size() && out.size() == kKeyLen) {
      std::copy(blocks_[next_].begin(), blocks_[next_].end(), out.begin());
      ++next_;
      return;
    }
    for (auto& b : out) b = static_cast<std::uint8_t>(++counter_ * 37);
  }

 private:
  std::vector<Key> blocks_;
  std::size_t next_ = 0;
  std::uint32_t counter_ = 0;
};

Tai64n ts(std::int64_t seconds) { return tai64n_from_unix(seconds, 0); }

class NoiseTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(crypto::init()); }

  void SetUp() override {
    alice_ = StaticIdentity::from_private(seq_key(0x10));
    bob_ = StaticIdentity::from_private(seq_key(0x40));
  }

  // Runs a whole handshake alice -> bob; returns false on any failure.
  struct Pair {
    SessionKeys initiator;
    SessionKeys responder;
  };
  testing::AssertionResult handshake(Handshake& a, Handshake& b, const Tai64n& stamp, Time now,
                                     Pair& out) {
    MessageInitiation init;
    if (auto e = a.create_initiation(init, alice_, 7, stamp, rng_); e != HandshakeError::ok) {
      return testing::AssertionFailure() << "create_initiation: " << describe(e);
    }
    auto pending = decrypt_initiation_static(bob_, init);
    if (!pending.ok()) return testing::AssertionFailure() << describe(pending.error);
    if (pending.value.initiator_static != alice_.public_key) {
      return testing::AssertionFailure() << "wrong initiator static";
    }
    if (auto e = b.accept_initiation(pending.value, now); e != HandshakeError::ok) {
      return testing::AssertionFailure() << "accept_initiation: " << describe(e);
    }
    MessageResponse resp;
    auto r = b.create_response(resp, 9, rng_);
    if (!r.ok()) return testing::AssertionFailure() << "create_response: " << describe(r.error);
    auto i = a.consume_response(resp, alice_);
    if (!i.ok()) return testing::AssertionFailure() << "consume_response: " << describe(i.error);
    out = {i.value, r.value};
    return testing::AssertionSuccess();
  }

  StaticIdentity alice_;
  StaticIdentity bob_;
  ScriptedRandom rng_;
};

void expect_matching(const SessionKeys& i, const SessionKeys& r) {
  EXPECT_EQ(i.send_key, r.recv_key);
  EXPECT_EQ(i.recv_key, r.send_key);
  EXPECT_NE(i.send_key, i.recv_key);
  EXPECT_EQ(i.local_index, r.remote_index);
  EXPECT_EQ(i.remote_index, r.local_index);
  EXPECT_TRUE(i.we_initiated);
  EXPECT_FALSE(r.we_initiated);
}

TEST_F(NoiseTest, HandshakeWithoutPsk) {
  Handshake a(alice_, bob_.public_key, Key{});
  Handshake b(bob_, alice_.public_key, Key{});
  Pair p;
  ASSERT_TRUE(handshake(a, b, ts(1000), 1s, p));
  expect_matching(p.initiator, p.responder);
  EXPECT_EQ(p.initiator.local_index, 7u);
  EXPECT_EQ(p.initiator.remote_index, 9u);
  EXPECT_EQ(a.state(), Handshake::State::zeroed);
  EXPECT_EQ(b.state(), Handshake::State::zeroed);
}

TEST_F(NoiseTest, HandshakeWithPsk) {
  const Key psk = seq_key(0xd0);
  Handshake a(alice_, bob_.public_key, psk);
  Handshake b(bob_, alice_.public_key, psk);
  Pair p;
  ASSERT_TRUE(handshake(a, b, ts(1000), 1s, p));
  expect_matching(p.initiator, p.responder);
}

TEST_F(NoiseTest, PskMismatchFailsAtResponse) {
  Handshake a(alice_, bob_.public_key, seq_key(0xd0));
  Handshake b(bob_, alice_.public_key, seq_key(0xd1));
  Pair p;
  const auto r = handshake(a, b, ts(1000), 1s, p);
  EXPECT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("consume_response"), std::string::npos) << r.message();
  EXPECT_EQ(a.state(), Handshake::State::created_initiation);  // still waiting for a genuine one
}

TEST_F(NoiseTest, SecondHandshakeGivesFreshKeys) {
  Handshake a(alice_, bob_.public_key, Key{});
  Handshake b(bob_, alice_.public_key, Key{});
  Pair p1, p2;
  ASSERT_TRUE(handshake(a, b, ts(1000), 1s, p1));
  ASSERT_TRUE(handshake(a, b, ts(1001), 2s, p2));
  expect_matching(p2.initiator, p2.responder);
  EXPECT_NE(p1.initiator.send_key, p2.initiator.send_key);
}

class ResponderTest : public NoiseTest {
 protected:
  void SetUp() override {
    NoiseTest::SetUp();
    a_.configure(alice_, bob_.public_key, Key{});
    b_.configure(bob_, alice_.public_key, Key{});
  }
  MessageInitiation initiation(const Tai64n& stamp) {
    MessageInitiation m;
    EXPECT_EQ(a_.create_initiation(m, alice_, 7, stamp, rng_), HandshakeError::ok);
    return m;
  }
  HandshakeError consume(const MessageInitiation& m, Time now) {
    auto pending = decrypt_initiation_static(bob_, m);
    if (!pending.ok()) return pending.error;
    return b_.accept_initiation(pending.value, now);
  }
  Handshake a_;
  Handshake b_;
};

TEST_F(ResponderTest, ReplayedInitiationRefused) {
  const MessageInitiation m = initiation(ts(1000));
  ASSERT_EQ(consume(m, 10s), HandshakeError::ok);
  EXPECT_EQ(consume(m, 20s), HandshakeError::replayed_timestamp);
  EXPECT_EQ(b_.state(), Handshake::State::consumed_initiation);
}

TEST_F(ResponderTest, SameTimestampNewEphemeralRefused) {
  ASSERT_EQ(consume(initiation(ts(1000)), 10s), HandshakeError::ok);
  EXPECT_EQ(consume(initiation(ts(1000)), 20s), HandshakeError::replayed_timestamp);
}

TEST_F(ResponderTest, OlderTimestampRefused) {
  ASSERT_EQ(consume(initiation(ts(1000)), 10s), HandshakeError::ok);
  EXPECT_EQ(consume(initiation(ts(999)), 20s), HandshakeError::replayed_timestamp);
  EXPECT_EQ(consume(initiation(tai64n_from_unix(1000, 999'999'999)), 30s), HandshakeError::ok);
}

TEST_F(ResponderTest, InitiationFloodRefused) {
  ASSERT_EQ(consume(initiation(ts(1000)), 10s), HandshakeError::ok);
  // Within 1 s / 50 of the last accepted one: refused even with a newer timestamp.
  EXPECT_EQ(consume(initiation(ts(1001)), 10s + 19ms), HandshakeError::initiation_flood);
  EXPECT_EQ(consume(initiation(ts(1002)), 10s + 20ms), HandshakeError::ok);
}

TEST_F(ResponderTest, FirstInitiationAtTimeZeroAccepted) {
  EXPECT_EQ(consume(initiation(ts(1000)), 0s), HandshakeError::ok);
}

TEST_F(ResponderTest, InitiationFromAnotherPeerRefused) {
  const StaticIdentity carol = StaticIdentity::from_private(seq_key(0x90));
  Handshake c(carol, bob_.public_key, Key{});
  MessageInitiation m;
  ASSERT_EQ(c.create_initiation(m, carol, 1, ts(5), rng_), HandshakeError::ok);
  auto pending = decrypt_initiation_static(bob_, m);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending.value.initiator_static, carol.public_key);
  EXPECT_EQ(b_.accept_initiation(pending.value, 1s), HandshakeError::wrong_peer);
}

TEST_F(ResponderTest, InitiationToAnotherResponderRefused) {
  const StaticIdentity carol = StaticIdentity::from_private(seq_key(0x90));
  const MessageInitiation m = initiation(ts(1000));
  EXPECT_EQ(decrypt_initiation_static(carol, m).error, HandshakeError::decrypt_static_failed);
}

TEST_F(ResponderTest, TamperedInitiationRefused) {
  const MessageInitiation good = initiation(ts(1000));
  // Every byte of ephemeral, encrypted_static and encrypted_timestamp (mac fields excluded:
  // they are the CookieChecker's business).
  for (std::size_t i = 8; i < 116; ++i) {
    MessageInitiation m = good;
    mutable_bytes_of(m)[i] ^= 0x01;
    EXPECT_NE(consume(m, 10s), HandshakeError::ok) << "byte " << i;
  }
  EXPECT_EQ(consume(good, 10s), HandshakeError::ok);
}

TEST_F(ResponderTest, LowOrderEphemeralRefused) {
  MessageInitiation m = initiation(ts(1000));
  m.ephemeral = Key{};
  EXPECT_EQ(consume(m, 10s), HandshakeError::low_order_point);
  // 1 is another point of small order (RFC 7748 section 6.1 lists the family).
  m.ephemeral[0] = 1;
  EXPECT_EQ(consume(m, 10s), HandshakeError::low_order_point);
}

TEST_F(ResponderTest, ResponseToWrongIndexRefused) {
  ASSERT_EQ(consume(initiation(ts(1000)), 10s), HandshakeError::ok);
  MessageResponse resp;
  ASSERT_TRUE(b_.create_response(resp, 9, rng_).ok());
  MessageResponse wrong = resp;
  wrong.receiver.set(8);
  EXPECT_EQ(a_.consume_response(wrong, alice_).error, HandshakeError::wrong_index);
  EXPECT_TRUE(a_.consume_response(resp, alice_).ok());
  // Consumed once: a replay of the response finds no initiation.
  EXPECT_EQ(a_.consume_response(resp, alice_).error, HandshakeError::wrong_state);
}

TEST_F(ResponderTest, TamperedResponseRefused) {
  ASSERT_EQ(consume(initiation(ts(1000)), 10s), HandshakeError::ok);
  MessageResponse resp;
  ASSERT_TRUE(b_.create_response(resp, 9, rng_).ok());
  for (std::size_t i = 12; i < 60; ++i) {
    MessageResponse m = resp;
    mutable_bytes_of(m)[i] ^= 0x80;
    EXPECT_FALSE(a_.consume_response(m, alice_).ok()) << "byte " << i;
  }
  MessageResponse low = resp;
  low.ephemeral = Key{};
  EXPECT_EQ(a_.consume_response(low, alice_).error, HandshakeError::low_order_point);
  EXPECT_TRUE(a_.consume_response(resp, alice_).ok());
}

TEST_F(ResponderTest, ResponseWithoutInitiationRefused) {
  MessageResponse resp;
  EXPECT_EQ(b_.create_response(resp, 1, rng_).error, HandshakeError::wrong_state);
  EXPECT_EQ(b_.consume_response(resp, bob_).error, HandshakeError::wrong_state);
}

TEST_F(NoiseTest, ZeroedKeysRefused) {
  const StaticIdentity none = StaticIdentity::from_private(Key{});
  EXPECT_FALSE(none.has_key());
  EXPECT_EQ(none.public_key, Key{});
  Handshake h(none, bob_.public_key, Key{});
  MessageInitiation m;
  EXPECT_EQ(h.create_initiation(m, none, 1, ts(1), rng_), HandshakeError::no_private_key);

  // A peer whose static key is zero (or another low-order point) can never handshake.
  Handshake z(alice_, Key{}, Key{});
  EXPECT_EQ(z.create_initiation(m, alice_, 1, ts(1), rng_), HandshakeError::bad_remote_static);

  Handshake a(alice_, bob_.public_key, Key{});
  ASSERT_EQ(a.create_initiation(m, alice_, 1, ts(1), rng_), HandshakeError::ok);
  EXPECT_EQ(decrypt_initiation_static(none, m).error, HandshakeError::no_private_key);
}

TEST_F(NoiseTest, ClearForgetsPendingInitiation) {
  Handshake a(alice_, bob_.public_key, Key{});
  MessageInitiation m;
  ASSERT_EQ(a.create_initiation(m, alice_, 1, ts(1), rng_), HandshakeError::ok);
  EXPECT_EQ(a.state(), Handshake::State::created_initiation);
  a.clear();
  EXPECT_EQ(a.state(), Handshake::State::zeroed);
  EXPECT_EQ(a.local_index(), 0u);
}

TEST(Tai64n, EncodingAndWhitening) {
  const Tai64n t = tai64n_from_unix(1700000000, 123456789);
  EXPECT_EQ(vec(t), from_hex("400000006553f10a07000000"));
  EXPECT_TRUE(tai64n_after(tai64n_from_unix(2, 0), tai64n_from_unix(1, 999'999'999)));
  EXPECT_TRUE(tai64n_after(tai64n_from_unix(1, 1U << 24), tai64n_from_unix(1, 0)));
  // Below the whitening granularity two timestamps are equal: not "after".
  EXPECT_FALSE(tai64n_after(tai64n_from_unix(1, (1U << 24) - 1), tai64n_from_unix(1, 0)));
  EXPECT_FALSE(tai64n_after(tai64n_from_unix(1, 0), tai64n_from_unix(1, 0)));
}

// ---- known-answer vector ----
// Computed by the Python script at the end of this file, which implements the handshake from
// https://www.wireguard.com/protocol/ with hashlib BLAKE2s/HMAC and pyca/cryptography's X25519
// and ChaCha20-Poly1305: nothing shared with our code. Static keys 0x10.., 0x40..; ephemerals
// 0x70.., 0xa0..; TAI64N of 1700000000.123456789 s; indices 0x11223344, 0x55667788; mac2 zero.
constexpr const char* kNoPskInitiation =
    "010000004433221123b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49"
    "f57e7c7dcd4c48237c9f087a47c7776566936c12f69cdefeb0172eed5225b21f"
    "fd5b64d7cbdcc06f5db9067ffb754a97052851ac628edb82dd2c601dbc2df93c"
    "6228bd967761c03b93fc460f78d1297a4437a3c7bf4dacd708ba5dd31545c0d9"
    "8ce5f99f00000000000000000000000000000000";
constexpr const char* kNoPskResponse =
    "020000008877665544332211605a725d2a4adfeeb1a29e17edd621c1b7593ee8"
    "cdbc44ac6c4ab6e2f805d23cd949105212f30f718a28a34179b81ab4f51c204b"
    "3105b88d70a1bda362efa68200000000000000000000000000000000";
constexpr const char* kNoPskInitiatorSend =
    "5ace7d7e52b9286764b8d14280cc097d5d4b47a38b5366b86a225036839d2fda";
constexpr const char* kNoPskInitiatorRecv =
    "f7733ed49ad38b07311106e7f124da0765a9929be4bf18eae82102d14b5e4bbc";
constexpr const char* kPskResponse =
    "020000008877665544332211605a725d2a4adfeeb1a29e17edd621c1b7593ee8"
    "cdbc44ac6c4ab6e2f805d23c56ade9022db5a664bd30339577a9c75adfcb78a4"
    "0d242825341d1cc1f93bda5b00000000000000000000000000000000";
constexpr const char* kPskInitiatorSend =
    "24538fbb2f7b0840790ff8bf90b1ba327f60abf80e70035d8814528477206e03";
constexpr const char* kPskInitiatorRecv =
    "5d2d3fc0fc221c39f0fa4884d050609578db6fd101c6eaf565603d96f46ac756";
constexpr const char* kAlicePublic =
    "d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66";
constexpr const char* kBobPublic =
    "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";

struct KnownAnswer {
  const char* name;
  Key psk;
  const char* initiation;  // the initiation does not depend on the PSK (psk2: mixed last)
  const char* response;
  const char* initiator_send;
  const char* initiator_recv;
};

TEST_F(NoiseTest, KnownAnswerVectors) {
  EXPECT_EQ(vec(alice_.public_key), from_hex(kAlicePublic));
  EXPECT_EQ(vec(bob_.public_key), from_hex(kBobPublic));
  const KnownAnswer cases[] = {
      {"no psk", Key{}, kNoPskInitiation, kNoPskResponse, kNoPskInitiatorSend, kNoPskInitiatorRecv},
      {"psk", seq_key(0xd0), kNoPskInitiation, kPskResponse, kPskInitiatorSend, kPskInitiatorRecv},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ScriptedRandom rng({seq_key(0x70), seq_key(0xa0)});
    Handshake a(alice_, bob_.public_key, c.psk);
    Handshake b(bob_, alice_.public_key, c.psk);
    CookieMaker to_bob(bob_.public_key);
    CookieMaker to_alice(alice_.public_key);

    MessageInitiation init;
    ASSERT_EQ(
        a.create_initiation(init, alice_, 0x11223344, tai64n_from_unix(1700000000, 123456789), rng),
        HandshakeError::ok);
    to_bob.add_macs(init, 0s);
    EXPECT_EQ(wire(init), from_hex(c.initiation));

    auto pending = decrypt_initiation_static(bob_, init);
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(b.accept_initiation(pending.value, 0s), HandshakeError::ok);
    EXPECT_EQ(vec(b.latest_timestamp()), from_hex("400000006553f10a07000000"));
    MessageResponse resp;
    auto r = b.create_response(resp, 0x55667788, rng);
    ASSERT_TRUE(r.ok());
    to_alice.add_macs(resp, 0s);
    EXPECT_EQ(wire(resp), from_hex(c.response));

    auto i = a.consume_response(resp, alice_);
    ASSERT_TRUE(i.ok());
    EXPECT_EQ(vec(i.value.send_key), from_hex(c.initiator_send));
    EXPECT_EQ(vec(i.value.recv_key), from_hex(c.initiator_recv));
    EXPECT_EQ(vec(r.value.recv_key), from_hex(c.initiator_send));
    EXPECT_EQ(vec(r.value.send_key), from_hex(c.initiator_recv));
  }
}

}  // namespace
}  // namespace strait::wg

// clang-format off
/* The script that computed the vectors above (Python 3, pyca/cryptography):
# Independent WireGuard handshake computation (hashlib BLAKE2s, hmac, pyca/cryptography X25519
# and ChaCha20-Poly1305), following https://www.wireguard.com/protocol/ step by step.
import hashlib, hmac, struct
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization as ser

def HASH(*parts): return hashlib.blake2s(b''.join(parts)).digest()
def MAC(key, data): return hashlib.blake2s(data, digest_size=16, key=key).digest()
def HMAC(key, data): return hmac.new(key, data, hashlib.blake2s).digest()
def pub(priv):
    k = X25519PrivateKey.from_private_bytes(priv).public_key()
    return k.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
def DH(priv, p):
    return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(p))
def AEAD(key, counter, plain, ad):
    return ChaCha20Poly1305(key).encrypt(b'\0' * 4 + struct.pack('<Q', counter), plain, ad)
def KDF(ck, inp, n):
    t = HMAC(ck, inp); out = []; prev = b''
    for i in range(1, n + 1):
        prev = HMAC(t, prev + bytes([i])); out.append(prev)
    return out

def seq(start): return bytes((start + i) & 0xff for i in range(32))
i_priv, r_priv, e_i, e_r = seq(0x10), seq(0x40), seq(0x70), seq(0xa0)
def tai64n(s, ns): return struct.pack('>QI', 0x400000000000000a + s, ns & ~((1 << 24) - 1))
ts = tai64n(1700000000, 123456789)
i_index, r_index = 0x11223344, 0x55667788

def run(psk):
    S_i, S_r = pub(i_priv), pub(r_priv)
    ck = HASH(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")
    h = HASH(HASH(ck, b"WireGuard v1 zx2c4 Jason@zx2c4.com"), S_r)
    E_i = pub(e_i)
    msg = bytes([1, 0, 0, 0]) + struct.pack('<I', i_index) + E_i
    h = HASH(h, E_i); ck = KDF(ck, E_i, 1)[0]
    ck, k = KDF(ck, DH(e_i, S_r), 2)
    es = AEAD(k, 0, S_i, h); msg += es; h = HASH(h, es)
    ck, k = KDF(ck, DH(i_priv, S_r), 2)
    et = AEAD(k, 0, ts, h); msg += et; h = HASH(h, et)
    msg += MAC(HASH(b"mac1----", S_r), msg) + b'\0' * 16
    assert len(msg) == 148
    E_r = pub(e_r)
    rsp = bytes([2, 0, 0, 0]) + struct.pack('<II', r_index, i_index) + E_r
    h = HASH(h, E_r); ck = KDF(ck, E_r, 1)[0]
    ck = KDF(ck, DH(e_r, E_i), 1)[0]
    ck = KDF(ck, DH(e_r, S_i), 1)[0]
    ck, tau, k = KDF(ck, psk, 3)
    h = HASH(h, tau)
    en = AEAD(k, 0, b'', h); rsp += en; h = HASH(h, en)
    rsp += MAC(HASH(b"mac1----", S_i), rsp) + b'\0' * 16
    assert len(rsp) == 92
    t_send_i, t_recv_i = KDF(ck, b'', 2)
    return msg, rsp, t_send_i, t_recv_i

def cpp(name, b):
    hx = b.hex()
    lines = [hx[i:i + 64] for i in range(0, len(hx), 64)]
    return f'constexpr const char* {name} =\n' + '\n'.join(f'    "{l}"' for l in lines) + ';'

for label, psk in (("NoPsk", b'\0' * 32), ("Psk", seq(0xd0))):
    msg, rsp, s, r = run(psk)
    print(cpp(f"k{label}Initiation", msg)); print(cpp(f"k{label}Response", rsp))
    print(cpp(f"k{label}InitiatorSend", s)); print(cpp(f"k{label}InitiatorRecv", r))
print("// tai64n", ts.hex(), "pub_i", pub(i_priv).hex(), "pub_r", pub(r_priv).hex())
*/
// clang-format on

// Secrets do not outlive the objects that hold them (issue 11, item 7): the static private key
// (StaticIdentity and each copy), session keys (SessionKeys, Keypair), the handshake's PSK and
// ephemeral, the prepared AEAD key schedules, the peer's PSK and the UAPI model's keys.
//
// The observation point: each object is built in storage the test owns (placement new), used,
// destroyed, and then the storage is searched for the secret - what a freed heap block or a
// popped stack frame would still hold. A destructor without a wipe, or with a plain memset
// the compiler drops as a dead store (GCC's -flifetime-dse), leaves the secret there.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

#include "core/keypair.hpp"
#include "core/noise.hpp"
#include "core/tai64n.hpp"
#include "core/types.hpp"
#include "crypto/aead_burst.hpp"
#include "device/peer.hpp"
#include "uapi/model.hpp"

namespace strait::wg {
namespace {

using Bytes = std::vector<std::uint8_t>;

// A key no other value in these objects resembles: 32 distinct bytes from `start`.
Key secret_of(std::uint8_t start) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(start + 7 * i);
  return k;
}

// Whether any 8 consecutive bytes of secret[1..30] occur in `memory` (bytes 0 and 31 are left
// out: X25519 clamping changes them in private keys).
bool holds(const Bytes& memory, const Key& secret) {
  for (std::size_t i = 1; i + 8 <= secret.size() - 1; ++i) {
    const auto first = secret.begin() + static_cast<std::ptrdiff_t>(i);
    if (std::search(memory.begin(), memory.end(), first, first + 8) != memory.end()) return true;
  }
  return false;
}

// Ends the object's life out of the caller's sight: inlined, the compiler would know the
// storage is dead afterwards and could assume anything about the bytes the test reads.
template <class T>
[[gnu::noinline]] void destroy(T* object) {
  object->~T();
}

// Builds a T with make(storage) (placement new), runs use(object) while it lives, destroys it
// and returns what is left in its storage. `while_alive` receives the bytes before the
// destruction, so that each test also checks the secret was there to begin with.
template <class T, class Make, class Use>
Bytes leftover(Make make, Use use, Bytes* while_alive) {
  alignas(T) std::array<std::uint8_t, sizeof(T)> storage{};
  T* object = make(storage.data());
  use(*object);
  if (while_alive != nullptr) *while_alive = Bytes(storage.begin(), storage.end());
  destroy(object);
  return Bytes(storage.begin(), storage.end());
}

template <class T, class Make>
Bytes leftover(Make make, Bytes* while_alive) {
  return leftover<T>(
      make, [](T&) {}, while_alive);
}

class CountingRandom final : public RandomSource {
 public:
  explicit CountingRandom(std::uint8_t start) : next_(start) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      b = next_;
      next_ = static_cast<std::uint8_t>(next_ + 7);
    }
  }

 private:
  std::uint8_t next_;
};

TEST(WipeSecret, ZeroesArraysOptionalsAndRawBytes) {
  Key k = secret_of(1);
  wipe_secret(k);
  EXPECT_EQ(k, Key{});
  std::optional<Key> o = secret_of(2);
  wipe_secret(o);
  ASSERT_TRUE(o.has_value());  // the value is erased, the optional is left as it was
  EXPECT_EQ(*o, Key{});
  std::array<std::uint8_t, 100> raw{};
  raw.fill(0xee);
  wipe_secret(raw.data() + 10, 80);
  EXPECT_EQ(raw[9], 0xee);
  EXPECT_TRUE(std::all_of(raw.begin() + 10, raw.begin() + 90, [](auto b) { return b == 0; }));
  EXPECT_EQ(raw[90], 0xee);
}

TEST(SecretWipe, SessionKeysLeaveNoKeys) {
  Bytes alive;
  const Bytes left = leftover<SessionKeys>(
      [](void* p) {
        auto* k = new (p) SessionKeys;
        k->send_key = secret_of(0x11);
        k->recv_key = secret_of(0x23);
        return k;
      },
      &alive);
  ASSERT_TRUE(holds(alive, secret_of(0x11)) && holds(alive, secret_of(0x23)));
  EXPECT_FALSE(holds(left, secret_of(0x11)));
  EXPECT_FALSE(holds(left, secret_of(0x23)));
}

TEST(SecretWipe, KeypairLeavesNoKeys) {
  SessionKeys keys;
  keys.send_key = secret_of(0x31);
  keys.recv_key = secret_of(0x45);
  Bytes alive;
  const Bytes left = leftover<Keypair>(
      [&](void* p) { return new (p) Keypair(keys, Cipher::aes256_gcm, Time(1)); }, &alive);
  ASSERT_TRUE(holds(alive, secret_of(0x31)) && holds(alive, secret_of(0x45)));
  EXPECT_FALSE(holds(left, secret_of(0x31)));
  EXPECT_FALSE(holds(left, secret_of(0x45)));
}

TEST(SecretWipe, StaticIdentityAndEachCopyLeaveNoPrivateKey) {
  const Key priv = secret_of(0x51);
  Bytes alive;
  const Bytes left = leftover<StaticIdentity>(
      [&](void* p) { return new (p) StaticIdentity(StaticIdentity::from_private(priv)); }, &alive);
  ASSERT_TRUE(holds(alive, priv));
  EXPECT_FALSE(holds(left, priv));

  const StaticIdentity original = StaticIdentity::from_private(priv);
  const Bytes copy_left =
      leftover<StaticIdentity>([&](void* p) { return new (p) StaticIdentity(original); }, &alive);
  ASSERT_TRUE(holds(alive, priv));
  EXPECT_FALSE(holds(copy_left, priv));
  const Bytes assigned_left =
      leftover<StaticIdentity>([&](void* p) { return new (p) StaticIdentity; },
                               [&](StaticIdentity& s) { s = original; }, &alive);
  ASSERT_TRUE(holds(alive, priv));
  EXPECT_FALSE(holds(assigned_left, priv));
}

TEST(SecretWipe, HandshakeLeavesNoPskAndNoEphemeral) {
  ASSERT_TRUE(crypto::init());
  const StaticIdentity alice = StaticIdentity::from_private(secret_of(0x61));
  const StaticIdentity bob = StaticIdentity::from_private(secret_of(0x73));
  const Key psk = secret_of(0x85);
  const Key ephemeral = secret_of(0x97);  // what CountingRandom(0x97) draws first
  Bytes alive;
  const Bytes left = leftover<Handshake>(
      [&](void* p) { return new (p) Handshake(alice, bob.public_key, psk); },
      [&](Handshake& hs) {
        CountingRandom rng(0x97);
        MessageInitiation msg;
        ASSERT_EQ(hs.create_initiation(msg, alice, 7, tai64n_from_unix(1'700'000'000, 0), rng),
                  HandshakeError::ok);
      },
      &alive);
  ASSERT_TRUE(holds(alive, psk) && holds(alive, ephemeral));
  EXPECT_FALSE(holds(left, psk));
  EXPECT_FALSE(holds(left, ephemeral));
}

TEST(SecretWipe, PreparedAeadKeysLeaveNothing) {
  crypto::AeadEngine engine;
  for (const Cipher c : {Cipher::chacha20_poly1305, Cipher::aes256_gcm}) {
    const Key key = secret_of(0xa1);
    Bytes alive;
    const Bytes left = leftover<crypto::AeadKey>(
        [&](void* p) {
          auto* k = new (p) crypto::AeadKey;
          engine.prepare_key(*k, c, key.data());
          return k;
        },
        &alive);
    // ChaCha20 keeps the raw key, AES-256-GCM its expansion (its first round key is the key).
    ASSERT_TRUE(holds(alive, key)) << static_cast<int>(c);
    EXPECT_TRUE(std::all_of(left.begin(), left.end(), [](auto b) { return b == 0; }))
        << static_cast<int>(c);
  }
}

TEST(SecretWipe, PeerLeavesNoPsk) {
  ASSERT_TRUE(crypto::init());
  const StaticIdentity local = StaticIdentity::from_private(secret_of(0x61));
  const Key remote = StaticIdentity::from_private(secret_of(0x73)).public_key;
  const Key psk = secret_of(0xb3);
  Bytes alive;
  const Bytes left = leftover<Peer>(
      [&](void* p) {
        return new (p) Peer(
            1, remote, local, [] { return 0u; }, 4);
      },
      [&](Peer& peer) {
        peer.preshared_key = psk;
        peer.handshake.set_preshared_key(psk);
      },
      &alive);
  ASSERT_TRUE(holds(alive, psk));
  EXPECT_FALSE(holds(left, psk));
}

TEST(SecretWipe, UapiModelLeavesNoKeys) {
  const Key psk = secret_of(0xc5);
  const Key priv = secret_of(0xd7);
  Bytes alive;
  Bytes left = leftover<uapi::PeerChange>(
      [&](void* p) {
        auto* o = new (p) uapi::PeerChange;
        o->preshared_key = psk;
        return o;
      },
      &alive);
  ASSERT_TRUE(holds(alive, psk));
  EXPECT_FALSE(holds(left, psk));
  left = leftover<uapi::DeviceChange>(
      [&](void* p) {
        auto* o = new (p) uapi::DeviceChange;
        o->private_key = priv;
        return o;
      },
      &alive);
  ASSERT_TRUE(holds(alive, priv));
  EXPECT_FALSE(holds(left, priv));
  left = leftover<uapi::PeerState>(
      [&](void* p) {
        auto* o = new (p) uapi::PeerState;
        o->preshared_key = psk;
        return o;
      },
      &alive);
  ASSERT_TRUE(holds(alive, psk));
  EXPECT_FALSE(holds(left, psk));
  left = leftover<uapi::DeviceState>(
      [&](void* p) {
        auto* o = new (p) uapi::DeviceState;
        o->private_key = priv;
        return o;
      },
      &alive);
  ASSERT_TRUE(holds(alive, priv));
  EXPECT_FALSE(holds(left, priv));
}

}  // namespace
}  // namespace strait::wg

// The fast-path AEAD engine, tested through seal_burst/open_burst (the code the pipeline
// calls): known answers from the GCM specification (McGrew & Viega, test cases 13-16) and
// RFC 8439 (section 2.8.2, appendix A.5), round trips of mixed bursts, per-packet failure
// isolation, and a differential check against libsodium.

#include "crypto/aead_burst.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/rfc8439_vectors.hpp"

namespace strait::crypto {
namespace {

using strait::Cipher;
using Buf = std::vector<std::uint8_t>;

Buf hex(std::string_view s) {
  Buf out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(std::stoul(std::string(s.substr(2 * i, 2)), nullptr, 16));
  }
  return out;
}

Buf pattern(std::size_t len, std::uint8_t seed) {
  Buf b(len);
  for (std::size_t i = 0; i < len; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 31 + (i >> 8));
  return b;
}

class AeadBurstTest : public ::testing::Test {
 protected:
  AeadKey make_key(Cipher cipher, const Buf& raw) {
    AeadKey key;
    engine_.prepare_key(key, cipher, raw.data());
    return key;
  }
  AeadEngine engine_;
};

// ---- known answers ----

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 13-16
// (AES-256, 96-bit IVs), as also used by NIST's GCM validation.
struct GcmCase {
  int number;
  const char* key;
  const char* iv;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr const char* kGcmKey15 =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char* kGcmP15 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr const char* kGcmC15 =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";

const GcmCase kGcmCases[] = {
    {13, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {14, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {15, kGcmKey15, "cafebabefacedbaddecaf888", "", kGcmP15, kGcmC15,
     "b094dac5d93471bdec1a502270e3cc6c"},
    // Test case 16: the first 60 bytes of case 15's plaintext, with AAD.
    {16, kGcmKey15, "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

// All four cases in one burst, sealed and then opened back.
TEST_F(AeadBurstTest, GcmKnownAnswersTestCases13To16) {
  constexpr std::size_t n = std::size(kGcmCases);
  AeadKey keys[n];
  Buf ivs[n], aads[n], data[n], tags[n];
  AeadOp ops[n];
  for (std::size_t i = 0; i < n; ++i) {
    const GcmCase& c = kGcmCases[i];
    keys[i] = make_key(Cipher::aes256_gcm, hex(c.key));
    ivs[i] = hex(c.iv);
    aads[i] = hex(c.aad);
    data[i] = hex(c.plaintext);
    tags[i].assign(16, 0);
    ops[i] = AeadOp{.key = &keys[i],
                    .data = data[i].data(),
                    .len = static_cast<std::uint32_t>(data[i].size()),
                    .tag = tags[i].data(),
                    .aad = aads[i].empty() ? nullptr : aads[i].data(),
                    .aad_len = static_cast<std::uint32_t>(aads[i].size()),
                    .iv12 = ivs[i].data()};
  }
  engine_.seal_burst(ops);
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("GCM test case " + std::to_string(kGcmCases[i].number));
    EXPECT_TRUE(ops[i].ok);
    EXPECT_EQ(data[i], hex(kGcmCases[i].ciphertext));
    EXPECT_EQ(tags[i], hex(kGcmCases[i].tag));
  }
  engine_.open_burst(ops);
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("GCM test case " + std::to_string(kGcmCases[i].number));
    EXPECT_TRUE(ops[i].ok);
    EXPECT_EQ(data[i], hex(kGcmCases[i].plaintext));
  }
}

// RFC 8439 section 2.8.2: the AEAD construction example ("Ladies and Gentlemen ...").
TEST_F(AeadBurstTest, ChaChaPolyRfc8439Section282) {
  const AeadKey key =
      make_key(Cipher::chacha20_poly1305,
               hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  Buf data(text.begin(), text.end());
  ASSERT_EQ(data.size(), 114u);
  const Buf plaintext = data;
  const Buf nonce = hex("070000004041424344454647");
  const Buf aad = hex("50515253c0c1c2c3c4c5c6c7");
  Buf tag(16);
  AeadOp op{.key = &key,
            .data = data.data(),
            .len = static_cast<std::uint32_t>(data.size()),
            .tag = tag.data(),
            .aad = aad.data(),
            .aad_len = static_cast<std::uint32_t>(aad.size()),
            .iv12 = nonce.data()};
  engine_.seal_burst({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(data, hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                      "3ff4def08e4b7a9de576d26586cec64b6116"));
  EXPECT_EQ(tag, hex("1ae10b594f09e26a7e902ecbd0600691"));
  engine_.open_burst({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(data, plaintext);
}

// RFC 8439 appendix A.5: the decryption example. Its nonce 000000000102030405060708 is in
// WireGuard layout (4 zero bytes || LE64 counter), so this goes through the counter path.
TEST_F(AeadBurstTest, ChaChaPolyRfc8439AppendixA5ThroughCounterNonce) {
  namespace a5 = test::rfc8439_a5;
  const AeadKey key = make_key(Cipher::chacha20_poly1305, hex(a5::kKeyHex));
  const Buf ciphertext = hex(a5::kCiphertextHex);
  const Buf expected_tag = hex(a5::kTagHex);
  const Buf plaintext(a5::kPlaintext.begin(), a5::kPlaintext.end());
  ASSERT_EQ(ciphertext.size(), 265u);
  ASSERT_EQ(plaintext.size(), 265u);
  const Buf aad = hex(a5::kAadHex);

  Buf data = ciphertext;
  Buf tag = expected_tag;
  AeadOp op{.key = &key,
            .counter = 0x0807060504030201ULL,
            .data = data.data(),
            .len = static_cast<std::uint32_t>(data.size()),
            .tag = tag.data(),
            .aad = aad.data(),
            .aad_len = static_cast<std::uint32_t>(aad.size())};
  engine_.open_burst({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(data, plaintext);

  // And the other direction reproduces the published ciphertext and tag.
  std::fill(tag.begin(), tag.end(), 0);
  engine_.seal_burst({&op, 1});
  EXPECT_TRUE(op.ok);
  EXPECT_EQ(data, ciphertext);
  EXPECT_EQ(tag, expected_tag);
}

// ---- round trips and failure isolation ----

// A burst of packets of sizes 0..2000 (odd sizes, block boundaries +-1), alternating ciphers
// and keys, sealed and opened back in one burst each.
TEST_F(AeadBurstTest, MixedBurstRoundTripsAllSizes) {
  const AeadKey keys[] = {
      make_key(Cipher::chacha20_poly1305, pattern(32, 1)),
      make_key(Cipher::aes256_gcm, pattern(32, 2)),
      make_key(Cipher::aes256_gcm, pattern(32, 3)),
      make_key(Cipher::chacha20_poly1305, pattern(32, 4)),
  };
  std::vector<std::uint32_t> sizes;
  for (std::uint32_t s = 0; s <= 70; ++s) sizes.push_back(s);
  for (std::uint32_t s : {127u, 128u, 129u, 255u, 256u, 257u, 511u, 512u, 513u, 1023u, 1024u, 1025u,
                          1419u, 1420u, 1421u, 1499u, 1999u, 2000u}) {
    sizes.push_back(s);
  }
  for (std::uint32_t s = 71; s < 2000; s += 97) sizes.push_back(s);

  const std::size_t n = sizes.size();
  std::vector<Buf> plain(n), data(n), tags(n);
  std::vector<AeadOp> ops(n);
  for (std::size_t i = 0; i < n; ++i) {
    plain[i] = pattern(sizes[i], static_cast<std::uint8_t>(i));
    data[i] = plain[i];
    tags[i].assign(16, 0);
    ops[i] = AeadOp{.key = &keys[i % std::size(keys)],
                    .counter = 1000 + i * 7,
                    .data = data[i].data(),
                    .len = sizes[i],
                    .tag = tags[i].data()};
  }
  engine_.seal_burst(ops);
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("packet " + std::to_string(i) + " size " + std::to_string(sizes[i]));
    ASSERT_TRUE(ops[i].ok);
    if (sizes[i] >= 16) {
      EXPECT_NE(data[i], plain[i]);
    }
    EXPECT_NE(tags[i], Buf(16, 0));
  }
  for (AeadOp& op : ops) op.ok = false;
  engine_.open_burst(ops);
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("packet " + std::to_string(i) + " size " + std::to_string(sizes[i]));
    EXPECT_TRUE(ops[i].ok);
    EXPECT_EQ(data[i], plain[i]);
  }
}

// Each row corrupts one packet of an otherwise valid burst in one way; that packet alone must
// fail, every other packet must still open to its plaintext.
enum class Tamper { none, ciphertext_bit, last_ciphertext_bit, tag_bit, counter, key, cipher, aad };

struct TamperCase {
  int number;
  const char* what;
  Tamper tamper;
};

const TamperCase kTamperCases[] = {
    {1, "untouched", Tamper::none},
    {2, "first ciphertext byte, low bit", Tamper::ciphertext_bit},
    {3, "last ciphertext byte, high bit", Tamper::last_ciphertext_bit},
    {4, "tag bit", Tamper::tag_bit},
    {5, "counter + 1", Tamper::counter},
    {6, "another key of the same cipher", Tamper::key},
    {7, "same key bytes, other cipher", Tamper::cipher},
    {8, "additional data changed", Tamper::aad},
};

TEST_F(AeadBurstTest, TamperedPacketFailsAloneInItsBurst) {
  const Buf raw_a = pattern(32, 10);
  const Buf raw_b = pattern(32, 20);
  const AeadKey chacha_a = make_key(Cipher::chacha20_poly1305, raw_a);
  const AeadKey gcm_a = make_key(Cipher::aes256_gcm, raw_a);
  const AeadKey chacha_b = make_key(Cipher::chacha20_poly1305, raw_b);
  const AeadKey gcm_b = make_key(Cipher::aes256_gcm, raw_b);
  const Buf aad = pattern(13, 5);
  const Buf other_aad = pattern(13, 6);
  constexpr std::size_t kN = 8;
  constexpr std::uint32_t kSizes[kN] = {1, 17, 64, 100, 333, 1024, 1420, 1999};

  for (const TamperCase& tc : kTamperCases) {
    for (std::size_t victim = 0; victim < kN; ++victim) {
      SCOPED_TRACE("case " + std::to_string(tc.number) + " (" + tc.what + "), victim " +
                   std::to_string(victim));
      Buf plain[kN], data[kN], tags[kN];
      AeadOp ops[kN];
      for (std::size_t i = 0; i < kN; ++i) {
        const bool gcm = i % 2 == 1;
        plain[i] = pattern(kSizes[i], static_cast<std::uint8_t>(i + victim));
        data[i] = plain[i];
        tags[i].assign(16, 0);
        ops[i] = AeadOp{.key = gcm ? &gcm_a : &chacha_a,
                        .counter = 42 + i,
                        .data = data[i].data(),
                        .len = kSizes[i],
                        .tag = tags[i].data(),
                        .aad = tc.tamper == Tamper::aad ? aad.data() : nullptr,
                        .aad_len = tc.tamper == Tamper::aad ? 13u : 0u};
      }
      engine_.seal_burst(ops);

      AeadOp& v = ops[victim];
      const bool gcm = victim % 2 == 1;
      switch (tc.tamper) {
        case Tamper::none: break;
        case Tamper::ciphertext_bit: data[victim].front() ^= 0x01; break;
        case Tamper::last_ciphertext_bit: data[victim].back() ^= 0x80; break;
        case Tamper::tag_bit: tags[victim][15] ^= 0x10; break;
        case Tamper::counter: v.counter += 1; break;
        case Tamper::key: v.key = gcm ? &gcm_b : &chacha_b; break;
        case Tamper::cipher: v.key = gcm ? &chacha_a : &gcm_a; break;
        case Tamper::aad: v.aad = other_aad.data(); break;
      }
      engine_.open_burst(ops);
      for (std::size_t i = 0; i < kN; ++i) {
        const bool expect_ok = tc.tamper == Tamper::none || i != victim;
        EXPECT_EQ(ops[i].ok, expect_ok) << "packet " << i;
        if (expect_ok) {
          EXPECT_EQ(data[i], plain[i]) << "packet " << i;
        }
      }
    }
  }
}

TEST_F(AeadBurstTest, EmptyBurstAndMissingKey) {
  engine_.seal_burst({});
  engine_.open_burst({});
  Buf data = pattern(10, 0);
  Buf tag(16);
  AeadOp op{.key = nullptr, .data = data.data(), .len = 10, .tag = tag.data(), .ok = true};
  engine_.seal_burst({&op, 1});
  EXPECT_FALSE(op.ok);
  op.ok = true;
  engine_.open_burst({&op, 1});
  EXPECT_FALSE(op.ok);
  EXPECT_EQ(data, pattern(10, 0));
}

// A WireGuard keepalive is an empty payload (paper section 6.5): no data pointer at all, only
// the tag. Both ciphers must seal it, open it, and reject it under the wrong counter.
TEST_F(AeadBurstTest, KeepaliveWithNullDataPointer) {
  const AeadKey keys[] = {make_key(Cipher::chacha20_poly1305, pattern(32, 30)),
                          make_key(Cipher::aes256_gcm, pattern(32, 31))};
  for (const AeadKey& key : keys) {
    Buf tag(16, 0);
    AeadOp op{.key = &key, .counter = 9, .data = nullptr, .len = 0, .tag = tag.data()};
    engine_.seal_burst({&op, 1});
    EXPECT_TRUE(op.ok);
    EXPECT_NE(tag, Buf(16, 0));
    op.ok = false;
    engine_.open_burst({&op, 1});
    EXPECT_TRUE(op.ok);
    op.counter = 10;
    engine_.open_burst({&op, 1});
    EXPECT_FALSE(op.ok);
  }
}

// A burst longer than ipsec-mb's own limits (IMB_MAX_BURST_SIZE = 128), and keys prepared by
// one engine used by another (the slow path prepares, every lcore's engine uses).
TEST_F(AeadBurstTest, LongBurstWithKeysFromAnotherEngine) {
  AeadEngine other;
  AeadKey gcm, chacha;
  other.prepare_key(gcm, Cipher::aes256_gcm, pattern(32, 7).data());
  other.prepare_key(chacha, Cipher::chacha20_poly1305, pattern(32, 8).data());
  constexpr std::size_t kN = 300;
  std::vector<Buf> data(kN), tags(kN);
  std::vector<AeadOp> ops(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    data[i] = pattern(60 + i, static_cast<std::uint8_t>(i));
    tags[i].assign(16, 0);
    ops[i] = AeadOp{.key = i % 3 == 0 ? &chacha : &gcm,
                    .counter = i,
                    .data = data[i].data(),
                    .len = static_cast<std::uint32_t>(data[i].size()),
                    .tag = tags[i].data()};
  }
  engine_.seal_burst(ops);
  other.open_burst(ops);
  for (std::size_t i = 0; i < kN; ++i) {
    EXPECT_TRUE(ops[i].ok) << "packet " << i;
    EXPECT_EQ(data[i], pattern(60 + i, static_cast<std::uint8_t>(i))) << "packet " << i;
  }
}

// ---- differential check against libsodium ----

// WireGuard's nonce for libsodium: 4 zero bytes || LE64(counter).
Buf wg_nonce(std::uint64_t counter) {
  Buf n(12, 0);
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return n;
}

class SodiumCrossCheck : public AeadBurstTest {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(SodiumCrossCheck, ChaChaPolySealEqualsLibsodiumIetf) {
  const Buf raw = pattern(32, 99);
  const AeadKey key = make_key(Cipher::chacha20_poly1305, raw);
  const std::uint64_t counters[] = {0, 1, 255, 256, 0x0123456789abcdefULL, UINT64_MAX - 1};
  for (std::uint32_t len : {0u, 1u, 15u, 16u, 17u, 63u, 64u, 65u, 100u, 1420u, 2000u}) {
    for (std::uint64_t counter : counters) {
      SCOPED_TRACE("len " + std::to_string(len) + " counter " + std::to_string(counter));
      const Buf plain = pattern(len, static_cast<std::uint8_t>(len + counter));
      Buf expected(len + 16);
      unsigned long long expected_len = 0;
      crypto_aead_chacha20poly1305_ietf_encrypt(expected.data(), &expected_len, plain.data(), len,
                                                nullptr, 0, nullptr, wg_nonce(counter).data(),
                                                raw.data());
      ASSERT_EQ(expected_len, len + 16u);

      Buf data = plain;
      Buf tag(16);
      AeadOp op{
          .key = &key, .counter = counter, .data = data.data(), .len = len, .tag = tag.data()};
      engine_.seal_burst({&op, 1});
      ASSERT_TRUE(op.ok);
      data.insert(data.end(), tag.begin(), tag.end());
      EXPECT_EQ(data, expected);
    }
  }
}

// The same for AES-256-GCM, where libsodium supports it on this CPU (it needs AES-NI).
TEST_F(SodiumCrossCheck, GcmSealEqualsLibsodiumAes256Gcm) {
  if (crypto_aead_aes256gcm_is_available() == 0) GTEST_SKIP() << "no AES-NI for libsodium";
  const Buf raw = pattern(32, 77);
  const AeadKey key = make_key(Cipher::aes256_gcm, raw);
  for (std::uint32_t len : {0u, 1u, 15u, 16u, 17u, 100u, 1420u, 2000u}) {
    for (std::uint64_t counter : {0ULL, 1ULL, 0xfedcba9876543210ULL}) {
      SCOPED_TRACE("len " + std::to_string(len) + " counter " + std::to_string(counter));
      const Buf plain = pattern(len, static_cast<std::uint8_t>(len ^ counter));
      Buf expected(len + 16);
      unsigned long long expected_len = 0;
      crypto_aead_aes256gcm_encrypt(expected.data(), &expected_len, plain.data(), len, nullptr, 0,
                                    nullptr, wg_nonce(counter).data(), raw.data());
      Buf data = plain;
      Buf tag(16);
      AeadOp op{
          .key = &key, .counter = counter, .data = data.data(), .len = len, .tag = tag.data()};
      engine_.seal_burst({&op, 1});
      ASSERT_TRUE(op.ok);
      data.insert(data.end(), tag.begin(), tag.end());
      EXPECT_EQ(data, expected);
    }
  }
}

}  // namespace
}  // namespace strait::crypto

// The slow-path primitives against published known answers: BLAKE2s (RFC 7693 appendices B
// and E, the BLAKE2 reference repository's keyed KAT), X25519 (RFC 7748 sections 5.2 and 6.1,
// low-order points), ChaCha20-Poly1305 (RFC 8439 section 2.8.2 and appendix A.5),
// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 A.3.1). HMAC-BLAKE2s and the WireGuard KDF
// have no published vectors: they are checked against a construction written out here and
// against values computed with Python's hmac/hashlib (an independent implementation).

#include "crypto/primitives.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/rfc8439_vectors.hpp"

namespace strait::crypto {
namespace {

using Buf = std::vector<std::uint8_t>;

Buf hex(std::string_view s) {
  Buf out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(std::stoul(std::string(s.substr(2 * i, 2)), nullptr, 16));
  }
  return out;
}

std::string to_hex(Bytes b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (const auto byte : b) {
    s += kDigits[byte >> 4];
    s += kDigits[byte & 0xf];
  }
  return s;
}

// 00 01 02 .. (n-1), the input and key pattern of the BLAKE2 reference KAT.
Buf counting(std::size_t n, std::uint8_t start = 0) {
  Buf b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i);
  return b;
}

Buf bytes_of(std::string_view s) { return Buf(s.begin(), s.end()); }

Buf blake2s_of(std::size_t out_len, Bytes in, Bytes key = {}) {
  Buf out(out_len);
  blake2s(out, in, key);
  return out;
}

class SodiumEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(init()); }
};
[[maybe_unused]] auto* const kSodiumEnvironment =
    ::testing::AddGlobalTestEnvironment(new SodiumEnvironment);

// ---------------------------------------------------------------------------------------------
// BLAKE2s

TEST(Blake2s, Rfc7693AppendixB) {
  EXPECT_EQ(to_hex(blake2s_of(32, bytes_of("abc"))),
            "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

TEST(Blake2s, EmptyUnkeyedInput) {
  // The empty message still compresses one all-zero final block (RFC 7693 section 3.3).
  EXPECT_EQ(to_hex(blake2s_of(32, {})),
            "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
}

// BLAKE2/BLAKE2 testvectors/blake2s-test.txt (keyed KAT): key = 00..1f, in = 00..(n-1).
// Entries picked around the block boundaries (63/64/65) and the last one (255 bytes).
struct KeyedKat {
  std::size_t in_len;
  std::string_view hash;
};
constexpr KeyedKat kKeyedKat[] = {
    /* 1 */ {0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"},
    /* 2 */ {1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"},
    /* 3 */ {2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803"},
    /* 4 */ {3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b"},
    /* 5 */ {4, "f6c3fbadb4cc687a0064a5be6e791bec63b868ad62fba61b3757ef9ca52e05b2"},
    /* 6 */ {63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd"},
    /* 7 */ {64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"},
    /* 8 */ {65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8"},
    /* 9 */ {254, "db444c15597b5f1a03d1f9edd16e4a9f43a667cc275175dfa2b704e3bb1a9b83"},
    /* 10 */ {255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"},
};

TEST(Blake2s, ReferenceKeyedKat) {
  const Buf key = counting(32);
  for (std::size_t i = 0; i < std::size(kKeyedKat); ++i) {
    const auto& kat = kKeyedKat[i];
    EXPECT_EQ(to_hex(blake2s_of(32, counting(kat.in_len), key)), kat.hash)
        << "case " << i + 1 << ", input length " << kat.in_len;
  }
}

TEST(Blake2s, IncrementalUpdatesMatchOneShot) {
  // Every split of the 255-byte KAT input into two updates, and byte-at-a-time, must give
  // the reference digest: this exercises the "keep the last block until final" rule.
  const Buf key = counting(32);
  const Buf in = counting(255);
  const std::string expected(kKeyedKat[std::size(kKeyedKat) - 1].hash);
  for (std::size_t split = 0; split <= in.size(); ++split) {
    Blake2s state(32, key);
    state.update(Bytes(in).first(split));
    state.update(Bytes(in).subspan(split));
    Buf out(32);
    state.final(out);
    ASSERT_EQ(to_hex(out), expected) << "split at " << split;
  }
  Blake2s state(32, key);
  for (const auto byte : in) state.update(Bytes(&byte, 1));
  Buf out(32);
  state.final(out);
  EXPECT_EQ(to_hex(out), expected);
}

// RFC 7693 appendix E: deterministic input generator (a Fibonacci-like sequence).
Buf selftest_seq(std::size_t len, std::uint32_t seed) {
  Buf out(len);
  std::uint32_t a = 0xDEAD4BAD * seed;
  std::uint32_t b = 1;
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint32_t t = a + b;
    a = b;
    b = t;
    out[i] = static_cast<std::uint8_t>(t >> 24);
  }
  return out;
}

TEST(Blake2s, Rfc7693AppendixESelfTest) {
  // Hashes unkeyed and keyed digests of every output length 16/20/28/32 over inputs of
  // lengths 0/3/64/65/255/1024 into one "grand hash" given in the RFC.
  constexpr std::size_t kOutLens[] = {16, 20, 28, 32};
  constexpr std::size_t kInLens[] = {0, 3, 64, 65, 255, 1024};
  Blake2s grand(32);
  for (const auto out_len : kOutLens) {
    for (const auto in_len : kInLens) {
      const Buf in = selftest_seq(in_len, static_cast<std::uint32_t>(in_len));
      grand.update(blake2s_of(out_len, in));
      const Buf key = selftest_seq(out_len, static_cast<std::uint32_t>(out_len));
      grand.update(blake2s_of(out_len, in, key));
    }
  }
  Buf out(32);
  grand.final(out);
  EXPECT_EQ(to_hex(out), "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

TEST(Blake2s, WireGuardProtocolConstants) {
  // WireGuard paper section 5.4.2: Ci = Hash(Construction), Hi = Hash(Ci || Identifier).
  // These values are the ones every WireGuard implementation precomputes.
  const Buf ck = blake2s_of(32, bytes_of("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"));
  EXPECT_EQ(to_hex(ck), "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
  Blake2s h(32);
  h.update(ck);
  h.update(bytes_of("WireGuard v1 zx2c4 Jason@zx2c4.com"));
  Buf hash(32);
  h.final(hash);
  EXPECT_EQ(to_hex(hash), "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

TEST(Blake2s, OutputLengthIsPartOfTheParameterBlock) {
  // A 16-byte digest is not a prefix of the 32-byte one (digest length is mixed into h[0]).
  const Buf in = bytes_of("abc");
  const Buf d16 = blake2s_of(16, in);
  const Buf d32 = blake2s_of(32, in);
  EXPECT_NE(to_hex(d16), to_hex(d32).substr(0, 32));
  EXPECT_EQ(blake2s_of(1, in).size(), 1U);
}

TEST(Blake2sDeathTest, RejectsInvalidLengths) {
  EXPECT_DEATH(Blake2s(0), "");
  EXPECT_DEATH(Blake2s(33), "");
  const Buf long_key(33, 1);
  EXPECT_DEATH(Blake2s(32, long_key), "");
  EXPECT_DEATH(
      {
        Blake2s state(32);
        Buf out(16);
        state.final(out);
      },
      "");
}

// ---------------------------------------------------------------------------------------------
// HMAC-BLAKE2s and the WireGuard KDF

// RFC 2104 written out step by step with the BLAKE2s above, for keys of at most 64 bytes.
Buf hmac_by_hand(const Buf& key, const Buf& data) {
  std::array<std::uint8_t, 64> ipad{};
  std::array<std::uint8_t, 64> opad{};
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint8_t k = i < key.size() ? key[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  Buf inner_in(ipad.begin(), ipad.end());
  inner_in.insert(inner_in.end(), data.begin(), data.end());
  const Buf inner = blake2s_of(32, inner_in);
  Buf outer_in(opad.begin(), opad.end());
  outer_in.insert(outer_in.end(), inner.begin(), inner.end());
  return blake2s_of(32, outer_in);
}

Buf hmac_of(const Buf& key, const Buf& data) {
  Buf out(32);
  hmac_blake2s(out, key, data);
  return out;
}

TEST(HmacBlake2s, MatchesTheRfc2104Construction) {
  for (const std::size_t key_len : {0, 1, 32, 63, 64}) {
    for (const std::size_t data_len : {0, 1, 33, 64, 65, 200}) {
      const Buf key = counting(key_len, 0x40);
      const Buf data = counting(data_len, 0x90);
      EXPECT_EQ(to_hex(hmac_of(key, data)), to_hex(hmac_by_hand(key, data)))
          << "key " << key_len << ", data " << data_len;
    }
  }
}

// Produced with Python 3.11:
//   python3 -c "import hmac,hashlib; print(hmac.new(KEY, MSG, hashlib.blake2s).hexdigest())"
TEST(HmacBlake2s, PythonReferenceVectors) {
  // KEY = bytes(range(32)), MSG = b"The quick brown fox jumps over the lazy dog"
  EXPECT_EQ(to_hex(hmac_of(counting(32), bytes_of("The quick brown fox jumps over the lazy dog"))),
            "f4660dee21c6a48e2a3d695ceedc26693e37b64b5ac5227476578517ee87fe6d");
  // KEY = bytes(range(100)) (longer than a block: hashed first), MSG = bytes(range(200))
  EXPECT_EQ(to_hex(hmac_of(counting(100), counting(200))),
            "c4c95271905c6f69c1dd7c6fbc0cb3735457a660ccc2c4370f28825e7abef5af");
  // KEY = b"", MSG = b""
  EXPECT_EQ(to_hex(hmac_of({}, {})),
            "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd");
}

TEST(HmacBlake2s, OutputMayAliasKeyAndData) {
  const Buf key = counting(32);
  const Buf data = counting(32, 0x20);
  const Buf expected = hmac_of(key, data);
  Buf k = key;
  hmac_blake2s(k, k, data);
  EXPECT_EQ(k, expected);
  Buf d = data;
  hmac_blake2s(d, key, d);
  EXPECT_EQ(d, expected);
}

// Produced with Python 3.11 (hmac + hashlib.blake2s), following WireGuard paper section 5.4:
//   def hm(k, m): return hmac.new(k, m, hashlib.blake2s).digest()
//   t0 = hm(ck, inp); t1 = hm(t0, b"\x01"); t2 = hm(t0, t1 + b"\x02"); t3 = hm(t0, t2 + b"\x03")
struct KdfVector {
  const char* name;
  Buf chaining_key;
  Buf input;
  std::string_view t1, t2, t3;
};

std::vector<KdfVector> kdf_vectors() {
  return {
      {"ck = 00..1f, input = 20..3f", counting(32), counting(32, 0x20),
       "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0",
       "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5",
       "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9"},
      {"ck = 00..1f, empty input",
       counting(32),
       {},
       "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624",
       "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd",
       "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f"},
  };
}

TEST(Kdf, PythonReferenceVectors) {
  for (const auto& v : kdf_vectors()) {
    Buf t1(32), t2(32), t3(32);
    kdf(t1, t2, t3, v.chaining_key, v.input);
    EXPECT_EQ(to_hex(t1), v.t1) << v.name;
    EXPECT_EQ(to_hex(t2), v.t2) << v.name;
    EXPECT_EQ(to_hex(t3), v.t3) << v.name;

    // Fewer outputs: the same prefix of the sequence (Kdf1, Kdf2 of the paper).
    Buf only1(32);
    kdf(only1, {}, {}, v.chaining_key, v.input);
    EXPECT_EQ(to_hex(only1), v.t1) << v.name;
    Buf a(32), b(32);
    kdf(a, b, {}, v.chaining_key, v.input);
    EXPECT_EQ(to_hex(a), v.t1) << v.name;
    EXPECT_EQ(to_hex(b), v.t2) << v.name;
    // A skipped middle output still chains correctly.
    Buf c(32);
    kdf({}, {}, c, v.chaining_key, v.input);
    EXPECT_EQ(to_hex(c), v.t3) << v.name;
  }
}

TEST(Kdf, MatchesTheHmacChain) {
  const Buf ck = counting(32, 0x55);
  const Buf input = bytes_of("some handshake input of arbitrary length, longer than a block....");
  const Buf t0 = hmac_of(ck, input);
  const Buf t1 = hmac_of(t0, Buf{1});
  Buf t1_2 = t1;
  t1_2.push_back(2);
  const Buf t2 = hmac_of(t0, t1_2);
  Buf t2_3 = t2;
  t2_3.push_back(3);
  const Buf t3 = hmac_of(t0, t2_3);

  Buf o1(32), o2(32), o3(32);
  kdf(o1, o2, o3, ck, input);
  EXPECT_EQ(o1, t1);
  EXPECT_EQ(o2, t2);
  EXPECT_EQ(o3, t3);
}

TEST(Kdf, OutputMayAliasChainingKeyAndInput) {
  // The handshake does (C, k) = Kdf2(C, x): out1 is the chaining key's own storage.
  const auto vectors = kdf_vectors();
  const auto& v = vectors[0];
  Buf ck = v.chaining_key;
  Buf key(32);
  kdf(ck, key, {}, ck, v.input);
  EXPECT_EQ(to_hex(ck), v.t1);
  EXPECT_EQ(to_hex(key), v.t2);

  Buf input = v.input;
  Buf other(32);
  kdf(other, input, {}, v.chaining_key, input);
  EXPECT_EQ(to_hex(other), v.t1);
  EXPECT_EQ(to_hex(input), v.t2);
}

// ---------------------------------------------------------------------------------------------
// X25519

Buf x25519_of(const Buf& scalar, const Buf& u) {
  Buf out(32);
  EXPECT_TRUE(x25519(out, scalar, u));
  return out;
}

TEST(X25519, Rfc7748Section5_2) {
  EXPECT_EQ(
      to_hex(x25519_of(hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                       hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))),
      "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  // The input u-coordinate has its top bit set, which RFC 7748 section 5 says to ignore.
  EXPECT_EQ(
      to_hex(x25519_of(hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                       hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"))),
      "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

TEST(X25519, Rfc7748Section6_1DiffieHellman) {
  const Buf alice_private = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Buf bob_private = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  Buf alice_public(32), bob_public(32);
  x25519_public(alice_public, alice_private);
  x25519_public(bob_public, bob_private);
  EXPECT_EQ(to_hex(alice_public),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(bob_public), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const std::string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT_EQ(to_hex(x25519_of(alice_private, bob_public)), shared);
  EXPECT_EQ(to_hex(x25519_of(bob_private, alice_public)), shared);
}

TEST(X25519, LowOrderPointsAreRejected) {
  const Buf private_key = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const std::string_view low_order[] = {
      // 0 (order 4 on the twist / the identity's u) and 1 (order 4)
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      // the two points of order 8 (Linux lib/crypto/curve25519-selftest.c, libsodium)
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  };
  for (const auto point : low_order) {
    Buf shared(32, 0xaa);
    EXPECT_FALSE(x25519(shared, private_key, hex(point))) << point;
    EXPECT_EQ(shared, Buf(32, 0)) << point;  // no stale or partial secret left behind
  }
}

TEST(X25519, GeneratedKeysAreClampedAndAgree) {
  Buf a_private(32), b_private(32), a_public(32), b_public(32);
  x25519_generate(a_private);
  x25519_generate(b_private);
  EXPECT_NE(a_private, b_private);
  for (const auto& k : {a_private, b_private}) {
    EXPECT_EQ(k[0] & 7, 0);
    EXPECT_EQ(k[31] & 0x80, 0);
    EXPECT_EQ(k[31] & 0x40, 0x40);
  }
  x25519_public(a_public, a_private);
  x25519_public(b_public, b_private);
  EXPECT_EQ(x25519_of(a_private, b_public), x25519_of(b_private, a_public));
}

// ---------------------------------------------------------------------------------------------
// ChaCha20-Poly1305

const std::string_view kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";

TEST(ChaCha20Poly1305, Rfc8439Section2_8_2) {
  const Buf key = counting(32, 0x80);
  const Buf nonce = hex("070000004041424344454647");
  const Buf ad = hex("50515253c0c1c2c3c4c5c6c7");
  const Buf plaintext = bytes_of(kSunscreen);
  ASSERT_EQ(plaintext.size(), 114U);

  Buf sealed(plaintext.size() + kAeadTagLen);
  chacha20poly1305_seal_nonce96(sealed, plaintext, ad, nonce, key);
  EXPECT_EQ(to_hex(Bytes(sealed).first(plaintext.size())),
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
            "3ff4def08e4b7a9de576d26586cec64b6116");
  EXPECT_EQ(to_hex(Bytes(sealed).last(kAeadTagLen)), "1ae10b594f09e26a7e902ecbd0600691");

  Buf opened(plaintext.size());
  ASSERT_TRUE(chacha20poly1305_open_nonce96(opened, sealed, ad, nonce, key));
  EXPECT_EQ(opened, plaintext);
}

TEST(ChaCha20Poly1305, Rfc8439AppendixA5Decryption) {
  namespace a5 = test::rfc8439_a5;
  const Buf key = hex(a5::kKeyHex);
  const Buf nonce = hex(a5::kNonceHex);
  const Buf ad = hex(a5::kAadHex);
  Buf sealed = hex(a5::kCiphertextHex);
  const Buf tag = hex(a5::kTagHex);
  sealed.insert(sealed.end(), tag.begin(), tag.end());
  const Buf expected = bytes_of(a5::kPlaintext);
  ASSERT_EQ(expected.size(), 265U);

  Buf opened(sealed.size() - kAeadTagLen);
  ASSERT_TRUE(chacha20poly1305_open_nonce96(opened, sealed, ad, nonce, key));
  EXPECT_EQ(opened, expected);
}

TEST(ChaCha20Poly1305, CounterNonceIsFourZeroBytesAndLittleEndianCounter) {
  // WireGuard paper section 5.4.6: nonce = 0^32 || LE64(counter).
  const Buf key = counting(32, 0x11);
  const Buf ad = counting(32, 0x77);
  const Buf plaintext = counting(100, 3);
  for (const std::uint64_t counter :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x0102030405060708ULL},
        ~std::uint64_t{0} - 1}) {
    Buf nonce(12, 0);
    for (std::size_t i = 0; i < 8; ++i)
      nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
    Buf by_counter(plaintext.size() + kAeadTagLen);
    Buf by_nonce(plaintext.size() + kAeadTagLen);
    chacha20poly1305_seal(by_counter, plaintext, ad, counter, key);
    chacha20poly1305_seal_nonce96(by_nonce, plaintext, ad, nonce, key);
    EXPECT_EQ(by_counter, by_nonce) << counter;

    Buf opened(plaintext.size());
    EXPECT_TRUE(chacha20poly1305_open(opened, by_nonce, ad, counter, key)) << counter;
    EXPECT_EQ(opened, plaintext);
    EXPECT_FALSE(chacha20poly1305_open(opened, by_nonce, ad, counter + 1, key)) << counter;
  }
}

TEST(ChaCha20Poly1305, TamperingIsDetected) {
  const Buf key = counting(32, 0x80);
  const Buf ad = hex("50515253c0c1c2c3c4c5c6c7");
  const Buf plaintext = bytes_of(kSunscreen);
  Buf sealed(plaintext.size() + kAeadTagLen);
  chacha20poly1305_seal(sealed, plaintext, ad, 42, key);
  Buf opened(plaintext.size());
  ASSERT_TRUE(chacha20poly1305_open(opened, sealed, ad, 42, key));

  // Case table: which byte is flipped.
  struct Case {
    const char* what;
    bool in_ad;
    std::size_t index;
  };
  const Case cases[] = {
      {"first ciphertext byte", false, 0},
      {"last ciphertext byte", false, plaintext.size() - 1},
      {"first tag byte", false, plaintext.size()},
      {"last tag byte", false, sealed.size() - 1},
      {"first ad byte", true, 0},
      {"last ad byte", true, ad.size() - 1},
  };
  for (const auto& c : cases) {
    Buf s = sealed;
    Buf a = ad;
    (c.in_ad ? a : s)[c.index] ^= 0x01;
    Buf out(plaintext.size(), 0xaa);
    EXPECT_FALSE(chacha20poly1305_open(out, s, a, 42, key)) << c.what;
  }
  Buf wrong_key = key;
  wrong_key[7] ^= 0x80;
  EXPECT_FALSE(chacha20poly1305_open(opened, sealed, ad, 42, wrong_key));
  Buf no_ad_out(plaintext.size());
  EXPECT_FALSE(chacha20poly1305_open(no_ad_out, sealed, {}, 42, key));
}

TEST(ChaCha20Poly1305, WrongSizesAreRejectedByOpen) {
  const Buf key(32, 1);
  const Buf nonce(12, 2);
  Buf sealed(16 + 10);
  chacha20poly1305_seal(sealed, Buf(10, 5), {}, 0, key);
  Buf out(10);
  Buf short_src(15);
  EXPECT_FALSE(chacha20poly1305_open(out, short_src, {}, 0, key));  // shorter than a tag
  Buf too_big(11), too_small(9);
  EXPECT_FALSE(chacha20poly1305_open(too_big, sealed, {}, 0, key));
  EXPECT_FALSE(chacha20poly1305_open(too_small, sealed, {}, 0, key));
  EXPECT_FALSE(chacha20poly1305_open(out, sealed, {}, 0, Buf(31, 1)));
  EXPECT_FALSE(chacha20poly1305_open_nonce96(out, sealed, {}, Buf(11, 2), key));
  EXPECT_TRUE(chacha20poly1305_open(out, sealed, {}, 0, key));
}

TEST(ChaCha20Poly1305, EmptyPlaintextAndInPlace) {
  // A keepalive is an empty plaintext: the message is the bare tag (paper section 6.5).
  const Buf key = counting(32, 9);
  Buf tag_only(kAeadTagLen);
  chacha20poly1305_seal(tag_only, {}, {}, 7, key);
  EXPECT_NE(tag_only, Buf(kAeadTagLen, 0));
  EXPECT_TRUE(chacha20poly1305_open({}, tag_only, {}, 7, key));
  EXPECT_FALSE(chacha20poly1305_open({}, tag_only, {}, 8, key));

  // In place: ciphertext written over the plaintext, then decrypted over itself.
  const Buf plaintext = counting(80, 1);
  Buf expected(plaintext.size() + kAeadTagLen);
  chacha20poly1305_seal(expected, plaintext, {}, 3, key);
  Buf buf(plaintext.size() + kAeadTagLen);
  std::copy(plaintext.begin(), plaintext.end(), buf.begin());
  chacha20poly1305_seal(buf, Bytes(buf).first(plaintext.size()), {}, 3, key);
  EXPECT_EQ(buf, expected);
  ASSERT_TRUE(chacha20poly1305_open(MutBytes(buf).first(plaintext.size()), buf, {}, 3, key));
  EXPECT_TRUE(std::equal(plaintext.begin(), plaintext.end(), buf.begin()));
}

// ---------------------------------------------------------------------------------------------
// XChaCha20-Poly1305

TEST(XChaCha20Poly1305, DraftIrtfCfrgXchacha03A3_1) {
  const Buf key = counting(32, 0x80);
  const Buf nonce = counting(24, 0x40);
  const Buf ad = hex("50515253c0c1c2c3c4c5c6c7");
  const Buf plaintext = bytes_of(kSunscreen);

  Buf sealed(plaintext.size() + kAeadTagLen);
  xchacha20poly1305_seal(sealed, plaintext, ad, nonce, key);
  EXPECT_EQ(to_hex(Bytes(sealed).first(plaintext.size())),
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
            "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
            "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
            "21f9664c97637da9768812f615c68b13b52e");
  EXPECT_EQ(to_hex(Bytes(sealed).last(kAeadTagLen)), "c0875924c1c7987947deafd8780acf49");

  Buf opened(plaintext.size());
  ASSERT_TRUE(xchacha20poly1305_open(opened, sealed, ad, nonce, key));
  EXPECT_EQ(opened, plaintext);

  Buf tampered = sealed;
  tampered.back() ^= 0x01;
  EXPECT_FALSE(xchacha20poly1305_open(opened, tampered, ad, nonce, key));
  Buf other_nonce = nonce;
  other_nonce[23] ^= 0x01;  // the last byte only enters the inner ChaCha20 nonce
  EXPECT_FALSE(xchacha20poly1305_open(opened, sealed, ad, other_nonce, key));
  EXPECT_FALSE(xchacha20poly1305_open(opened, sealed, {}, nonce, key));
  EXPECT_FALSE(xchacha20poly1305_open(opened, Bytes(sealed).first(10), ad, nonce, key));
  EXPECT_FALSE(xchacha20poly1305_open(opened, sealed, ad, Bytes(nonce).first(12), key));
}

// ---------------------------------------------------------------------------------------------
// Randomness and constant-time helpers

TEST(Helpers, EqualCt) {
  const Buf a = counting(32);
  Buf b = a;
  EXPECT_TRUE(equal_ct(a, b));
  b[31] ^= 1;
  EXPECT_FALSE(equal_ct(a, b));
  b = a;
  b[0] ^= 0x80;
  EXPECT_FALSE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(a, Bytes(a).first(31)));
  EXPECT_TRUE(equal_ct({}, {}));
}

TEST(Helpers, SecureZeroAndRandomBytes) {
  Buf buf(64, 0xff);
  secure_zero(buf);
  EXPECT_EQ(buf, Buf(64, 0));
  // The chance of 32 random bytes being all zero, or two draws being equal, is 2^-256.
  Buf r1(32), r2(32);
  random_bytes(r1);
  random_bytes(r2);
  EXPECT_NE(r1, Buf(32, 0));
  EXPECT_NE(r1, r2);
}

}  // namespace
}  // namespace strait::crypto

// Wire message parsing and building (WireGuard paper section 5.4): every type truncated and
// extended by one byte, wrong types, non-zero reserved bytes, round trips.
#include "core/messages.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace strait::wg {
namespace {

using Buf = std::vector<std::uint8_t>;

Buf filled(std::size_t len, std::uint8_t type) {
  Buf b(len, 0xab);
  b[0] = type;
  b[1] = b[2] = b[3] = 0;
  return b;
}

struct LengthCase {
  const char* name;
  std::uint8_t type;
  std::size_t len;
  ParseError short_error;
  bool exact;  // handshake types have one exact length; data has a minimum only
};

const LengthCase kLengthCases[] = {
    {"initiation", kMsgTypeInitiation, 148, ParseError::bad_length_initiation, true},
    {"response", kMsgTypeResponse, 92, ParseError::bad_length_response, true},
    {"cookie_reply", kMsgTypeCookieReply, 64, ParseError::bad_length_cookie_reply, true},
    {"data", kMsgTypeData, 32, ParseError::too_short_data, false},
    {"data_aes_gcm", kMsgTypeDataAesGcm, 32, ParseError::too_short_data, false},
};

TEST(Messages, ExactLengthClassifies) {
  for (const auto& c : kLengthCases) {
    SCOPED_TRACE(c.name);
    const Classification r = classify(filled(c.len, c.type));
    ASSERT_TRUE(r.ok()) << describe(r.error);
    EXPECT_EQ(static_cast<std::uint8_t>(r.type), c.type);
  }
}

TEST(Messages, TruncatedByOneIsALengthError) {
  for (const auto& c : kLengthCases) {
    SCOPED_TRACE(c.name);
    const Classification r = classify(filled(c.len - 1, c.type));
    EXPECT_EQ(r.error, c.short_error);
    EXPECT_TRUE(is_length_error(r.error));
  }
}

TEST(Messages, ExtendedByOne) {
  for (const auto& c : kLengthCases) {
    SCOPED_TRACE(c.name);
    const Classification r = classify(filled(c.len + 1, c.type));
    if (c.exact) {
      EXPECT_EQ(r.error, c.short_error);
    } else {
      EXPECT_TRUE(r.ok());  // data messages carry any payload length
    }
  }
}

TEST(Messages, NonZeroReservedByte) {
  for (const auto& c : kLengthCases) {
    for (std::size_t i = 1; i < 4; ++i) {
      SCOPED_TRACE(testing::Message() << c.name << " byte " << i);
      Buf b = filled(c.len, c.type);
      b[i] = 1;
      EXPECT_EQ(classify(b).error, ParseError::reserved_nonzero);
    }
  }
}

TEST(Messages, WrongTypes) {
  for (std::uint8_t t : {0, 5, 0x53, 0x80, 0x83, 0x85, 0xff}) {
    SCOPED_TRACE(int{t});
    EXPECT_EQ(classify(filled(148, t)).error, ParseError::bad_type);
  }
  // Type byte checked before the reserved bytes: foreign traffic reads as bad_type.
  Buf b = filled(148, 0x45);
  b[1] = 0x10;
  EXPECT_EQ(classify(b).error, ParseError::bad_type);
}

TEST(Messages, ShorterThanHeader) {
  for (std::size_t len = 0; len < 4; ++len) {
    const Buf b(len, kMsgTypeData);
    EXPECT_EQ(classify(b).error, ParseError::too_short_header) << len;
  }
}

TEST(Messages, DataShorterThan32) {
  for (std::size_t len = 4; len < 32; ++len) {
    EXPECT_EQ(parse_data(filled(len, kMsgTypeData)).error, ParseError::too_short_data) << len;
    EXPECT_EQ(parse_data(filled(len, kMsgTypeDataAesGcm)).error, ParseError::too_short_data) << len;
  }
}

TEST(Messages, ParseFunctionsRefuseOtherTypes) {
  EXPECT_EQ(parse_initiation(filled(92, kMsgTypeResponse)).error, ParseError::wrong_type);
  EXPECT_EQ(parse_response(filled(148, kMsgTypeInitiation)).error, ParseError::wrong_type);
  EXPECT_EQ(parse_cookie_reply(filled(64, kMsgTypeData)).error, ParseError::wrong_type);
  EXPECT_EQ(parse_data(filled(64, kMsgTypeCookieReply)).error, ParseError::wrong_type);
  EXPECT_EQ(parse_initiation(filled(147, kMsgTypeInitiation)).error,
            ParseError::bad_length_initiation);
}

TEST(Messages, InitiationRoundTrip) {
  MessageInitiation m;
  m.sender.set(0xdeadbeef);
  for (std::size_t i = 0; i < m.ephemeral.size(); ++i)
    m.ephemeral[i] = static_cast<std::uint8_t>(i);
  m.encrypted_static.fill(0x11);
  m.encrypted_timestamp.fill(0x22);
  m.mac1.fill(0x33);
  m.mac2.fill(0x44);
  Buf wire(200, 0);
  ASSERT_EQ(write_message(wire, m), 148u);
  wire.resize(148);
  // Layout stated in messages.hpp, little-endian sender.
  EXPECT_EQ(wire[0], 1);
  EXPECT_EQ(wire[4], 0xef);
  EXPECT_EQ(wire[7], 0xde);
  EXPECT_EQ(wire[8], 0);
  EXPECT_EQ(wire[39], 31);
  EXPECT_EQ(wire[40], 0x11);
  EXPECT_EQ(wire[88], 0x22);
  EXPECT_EQ(wire[116], 0x33);
  EXPECT_EQ(wire[132], 0x44);
  const auto p = parse_initiation(wire);
  ASSERT_TRUE(p.ok()) << describe(p.error);
  EXPECT_EQ(p.value.sender.get(), 0xdeadbeefu);
  EXPECT_EQ(std::memcmp(&p.value, &m, sizeof m), 0);
}

TEST(Messages, ResponseRoundTrip) {
  MessageResponse m;
  m.sender.set(1);
  m.receiver.set(0x01020304);
  m.ephemeral.fill(7);
  m.encrypted_nothing.fill(8);
  m.mac1.fill(9);
  m.mac2.fill(10);
  Buf wire(92);
  ASSERT_EQ(write_message(wire, m), 92u);
  EXPECT_EQ(wire[0], 2);
  EXPECT_EQ(wire[8], 0x04);
  EXPECT_EQ(wire[11], 0x01);
  EXPECT_EQ(wire[44], 8);
  EXPECT_EQ(wire[60], 9);
  EXPECT_EQ(wire[76], 10);
  const auto p = parse_response(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value.receiver.get(), 0x01020304u);
  EXPECT_EQ(std::memcmp(&p.value, &m, sizeof m), 0);
}

TEST(Messages, CookieReplyRoundTrip) {
  MessageCookieReply m;
  m.receiver.set(42);
  m.nonce.fill(0x5a);
  m.encrypted_cookie.fill(0xa5);
  Buf wire(64);
  ASSERT_EQ(write_message(wire, m), 64u);
  EXPECT_EQ(wire[0], 3);
  EXPECT_EQ(wire[4], 42);
  EXPECT_EQ(wire[8], 0x5a);
  EXPECT_EQ(wire[32], 0xa5);
  const auto p = parse_cookie_reply(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::memcmp(&p.value, &m, sizeof m), 0);
}

TEST(Messages, WriteRefusesSmallBuffer) {
  Buf small(147, 0xee);
  EXPECT_EQ(write_message(small, MessageInitiation{}), 0u);
  EXPECT_EQ(small[0], 0xee);
  Buf tiny(15);
  EXPECT_EQ(write_data_header(tiny, Cipher::chacha20_poly1305, 1, 2), 0u);
}

TEST(Messages, DataRoundTripBothCiphers) {
  for (Cipher c : {Cipher::chacha20_poly1305, Cipher::aes256_gcm}) {
    Buf wire(16 + 20 + 16, 0xcc);
    ASSERT_EQ(write_data_header(wire, c, 0x0a0b0c0d, 0x0102030405060708ULL), kDataHeaderLen);
    EXPECT_EQ(wire[0], c == Cipher::aes256_gcm ? 0x84 : 0x04);
    EXPECT_EQ(wire[8], 0x08);  // counter little endian
    EXPECT_EQ(wire[15], 0x01);
    const auto p = parse_data(wire);
    ASSERT_TRUE(p.ok()) << describe(p.error);
    EXPECT_EQ(p.value.type,
              c == Cipher::aes256_gcm ? MessageType::data_aes_gcm : MessageType::data);
    EXPECT_EQ(p.value.receiver, 0x0a0b0c0du);
    EXPECT_EQ(p.value.counter, 0x0102030405060708ULL);
    EXPECT_EQ(p.value.ciphertext.size(), 36u);
    EXPECT_EQ(p.value.ciphertext.data(), wire.data() + 16);  // a view, not a copy
  }
}

TEST(Messages, DescribeNamesEveryError) {
  for (int e = 0; e <= static_cast<int>(ParseError::wrong_type); ++e) {
    EXPECT_STRNE(describe(static_cast<ParseError>(e)), "unknown parse error") << e;
  }
}

}  // namespace
}  // namespace strait::wg

#pragma once
// WireGuard wire messages (WireGuard paper section 5.4; https://www.wireguard.com/protocol/).
//
// Every message starts with a 4-byte header: a type byte and three reserved bytes that must be
// zero (on the wire this reads as a little-endian u32 type). All multi-byte integers are little
// endian. The handshake structs below ARE the wire image: every member is a byte array
// (alignment 1, no padding), so sizeof() equals the wire size and mac1/mac2 are computed over
// the struct's bytes. Parsing validates type, reserved bytes and exact length, then copies
// (handshake messages, slow path) or returns a zero-copy view (data messages, fast path).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/types.hpp"

namespace strait::wg {

inline constexpr std::uint8_t kMsgTypeInitiation = 1;
inline constexpr std::uint8_t kMsgTypeResponse = 2;
inline constexpr std::uint8_t kMsgTypeCookieReply = 3;
inline constexpr std::uint8_t kMsgTypeData = 4;
// strait-only: transport data sealed with AES-256-GCM (same keys, same 64-bit counter nonce as
// type 4; DESIGN.md section 3). A distinct first byte with the reserved bytes zero, so a stock
// WireGuard peer, which accepts only types 1..4, drops it at once instead of failing to
// authenticate it, and a cipher mismatch between two configs is visible by type alone.
inline constexpr std::uint8_t kMsgTypeDataAesGcm = 0x84;

inline constexpr std::size_t kTimestampLen = 12;    // TAI64N
inline constexpr std::size_t kCookieNonceLen = 24;  // XChaCha20-Poly1305 nonce

enum class MessageType : std::uint8_t {
  initiation = kMsgTypeInitiation,
  response = kMsgTypeResponse,
  cookie_reply = kMsgTypeCookieReply,
  data = kMsgTypeData,
  data_aes_gcm = kMsgTypeDataAesGcm,
};

// A little-endian u32 stored as bytes, so the wire structs keep alignment 1.
struct LeU32 {
  std::array<std::uint8_t, 4> bytes{};
  [[nodiscard]] std::uint32_t get() const {
    return std::uint32_t{bytes[0]} | std::uint32_t{bytes[1]} << 8 | std::uint32_t{bytes[2]} << 16 |
           std::uint32_t{bytes[3]} << 24;
  }
  void set(std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
};

struct MessageHeader {
  std::uint8_t type = 0;
  std::array<std::uint8_t, 3> reserved{};  // must be zero
};

// Handshake initiation, 148 bytes (paper section 5.4.2).
//   0 header(type=1,0,0,0)  4 sender u32 LE  8 ephemeral[32]  40 encrypted_static[32+16]
//  88 encrypted_timestamp[12+16]  116 mac1[16]  132 mac2[16]
struct MessageInitiation {
  MessageHeader header{kMsgTypeInitiation, {}};
  LeU32 sender;
  Key ephemeral{};
  std::array<std::uint8_t, kKeyLen + kTagLen> encrypted_static{};
  std::array<std::uint8_t, kTimestampLen + kTagLen> encrypted_timestamp{};
  Mac mac1{};
  Mac mac2{};
};

// Handshake response, 92 bytes (paper section 5.4.3).
//   0 header(type=2,0,0,0)  4 sender u32 LE  8 receiver u32 LE  12 ephemeral[32]
//  44 encrypted_nothing[0+16]  60 mac1[16]  76 mac2[16]
struct MessageResponse {
  MessageHeader header{kMsgTypeResponse, {}};
  LeU32 sender;
  LeU32 receiver;
  Key ephemeral{};
  std::array<std::uint8_t, kTagLen> encrypted_nothing{};
  Mac mac1{};
  Mac mac2{};
};

// Cookie reply, 64 bytes (paper section 5.4.7).
//   0 header(type=3,0,0,0)  4 receiver u32 LE  8 nonce[24]  32 encrypted_cookie[16+16]
struct MessageCookieReply {
  MessageHeader header{kMsgTypeCookieReply, {}};
  LeU32 receiver;
  std::array<std::uint8_t, kCookieNonceLen> nonce{};
  std::array<std::uint8_t, kMacLen + kTagLen> encrypted_cookie{};
};

// Transport data header, 16 bytes (paper section 5.4.6), followed by the ciphertext and tag.
//   0 header(type=4 or 0x84,0,0,0)  4 receiver u32 LE  8 counter u64 LE  16 ciphertext[n+16]
inline constexpr std::size_t kDataHeaderLen = 16;
inline constexpr std::size_t kDataMinLen = kDataHeaderLen + kTagLen;  // a keepalive

// The data header's fields, read from a message classify() accepted as data (so at least
// kDataMinLen bytes): the receiver index at offset 4 and the counter at 8, little endian.
// The one reading of them: parse_data, the transport codec and the decap stage use these.
[[nodiscard]] inline std::uint32_t data_receiver(const std::uint8_t* msg) noexcept {
  return std::uint32_t{msg[4]} | std::uint32_t{msg[5]} << 8 | std::uint32_t{msg[6]} << 16 |
         std::uint32_t{msg[7]} << 24;
}
[[nodiscard]] inline std::uint64_t data_counter(const std::uint8_t* msg) noexcept {
  std::uint64_t v = 0;
  for (int i = 15; i >= 8; --i) v = v << 8 | msg[i];
  return v;
}

inline constexpr std::size_t kInitiationLen = 148;
inline constexpr std::size_t kResponseLen = 92;
inline constexpr std::size_t kCookieReplyLen = 64;

static_assert(sizeof(MessageInitiation) == kInitiationLen && alignof(MessageInitiation) == 1);
static_assert(sizeof(MessageResponse) == kResponseLen && alignof(MessageResponse) == 1);
static_assert(sizeof(MessageCookieReply) == kCookieReplyLen && alignof(MessageCookieReply) == 1);
static_assert(offsetof(MessageInitiation, mac1) == 116 && offsetof(MessageInitiation, mac2) == 132);
static_assert(offsetof(MessageResponse, mac1) == 60 && offsetof(MessageResponse, mac2) == 76);
static_assert(offsetof(MessageCookieReply, encrypted_cookie) == 32);

// The bytes of a wire struct (what is sent, and what mac1/mac2 cover).
template <class Msg>
[[nodiscard]] std::span<const std::uint8_t, sizeof(Msg)> bytes_of(const Msg& m) {
  return std::span<const std::uint8_t, sizeof(Msg)>(reinterpret_cast<const std::uint8_t*>(&m),
                                                    sizeof(Msg));
}
template <class Msg>
[[nodiscard]] std::span<std::uint8_t, sizeof(Msg)> mutable_bytes_of(Msg& m) {
  return std::span<std::uint8_t, sizeof(Msg)>(reinterpret_cast<std::uint8_t*>(&m), sizeof(Msg));
}

// Why a buffer is not a valid message. Maps to drop reasons msg_bad_type / msg_bad_length.
enum class ParseError : std::uint8_t {
  ok = 0,
  too_short_header,         // fewer than 4 bytes: no type at all
  bad_type,                 // first byte is not 1, 2, 3, 4 or kMsgTypeDataAesGcm
  reserved_nonzero,         // one of the three reserved header bytes is not zero
  bad_length_initiation,    // type 1 but not exactly 148 bytes
  bad_length_response,      // type 2 but not exactly 92 bytes
  bad_length_cookie_reply,  // type 3 but not exactly 64 bytes
  too_short_data,           // type 4/0x84 but shorter than header + tag (32 bytes)
  wrong_type,               // valid message, but not the type the parse function was asked for
};

[[nodiscard]] const char* describe(ParseError e);

// True for the errors that are about length (drop reason msg_bad_length), false for type errors.
[[nodiscard]] constexpr bool is_length_error(ParseError e) {
  return e == ParseError::bad_length_initiation || e == ParseError::bad_length_response ||
         e == ParseError::bad_length_cookie_reply || e == ParseError::too_short_data ||
         e == ParseError::too_short_header;
}

struct Classification {
  MessageType type = MessageType::data;  // meaningful only when error == ok
  ParseError error = ParseError::ok;
  [[nodiscard]] bool ok() const { return error == ParseError::ok; }
};

// The fast path's first look at a UDP payload: type byte, reserved bytes and length rule of
// that type, nothing else. No allocation, no copies; safe on any input.
[[nodiscard]] Classification classify(std::span<const std::uint8_t> bytes);

template <class T>
struct Parsed {
  T value{};
  ParseError error = ParseError::ok;
  [[nodiscard]] bool ok() const { return error == ParseError::ok; }
};

// A zero-copy view of a transport data message; ciphertext includes the 16-byte tag and
// points into the parsed buffer.
struct DataView {
  MessageType type = MessageType::data;  // data (ChaCha20-Poly1305) or data_aes_gcm
  std::uint32_t receiver = 0;
  std::uint64_t counter = 0;
  std::span<const std::uint8_t> ciphertext;
};

// Each checks exactly what classify() checks, and in addition that the type is the one asked
// for (ParseError::wrong_type otherwise).
[[nodiscard]] Parsed<MessageInitiation> parse_initiation(std::span<const std::uint8_t> bytes);
[[nodiscard]] Parsed<MessageResponse> parse_response(std::span<const std::uint8_t> bytes);
[[nodiscard]] Parsed<MessageCookieReply> parse_cookie_reply(std::span<const std::uint8_t> bytes);
[[nodiscard]] Parsed<DataView> parse_data(std::span<const std::uint8_t> bytes);

// Build functions write into a caller buffer and return the number of bytes written, or 0 if
// out is too small (nothing is written then).
[[nodiscard]] std::size_t write_message(std::span<std::uint8_t> out, const MessageInitiation& m);
[[nodiscard]] std::size_t write_message(std::span<std::uint8_t> out, const MessageResponse& m);
[[nodiscard]] std::size_t write_message(std::span<std::uint8_t> out, const MessageCookieReply& m);

// Writes the 16-byte data header for the given cipher (type 4 for ChaCha20-Poly1305,
// kMsgTypeDataAesGcm for AES-256-GCM); the caller seals the payload at out[16..].
// Returns kDataHeaderLen, or 0 if out is shorter than that.
[[nodiscard]] std::size_t write_data_header(std::span<std::uint8_t> out, Cipher cipher,
                                            std::uint32_t receiver, std::uint64_t counter);

// The data message type that carries the given transport cipher.
[[nodiscard]] constexpr std::uint8_t data_type_for(Cipher c) {
  return c == Cipher::aes256_gcm ? kMsgTypeDataAesGcm : kMsgTypeData;
}

}  // namespace strait::wg

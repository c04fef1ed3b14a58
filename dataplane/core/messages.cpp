// Parsing and building of WireGuard wire messages (paper section 5.4).
#include "core/messages.hpp"

#include <cstring>

namespace strait::wg {

namespace {

void store_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void store_le64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

template <class Msg>
std::size_t write_struct(std::span<std::uint8_t> out, const Msg& m) {
  if (out.size() < sizeof(Msg)) return 0;
  std::memcpy(out.data(), &m, sizeof(Msg));
  return sizeof(Msg);
}

// Shared body of the handshake parse functions: classify, check the type, copy.
template <class Msg>
Parsed<Msg> parse_fixed(std::span<const std::uint8_t> bytes, MessageType want) {
  Parsed<Msg> r;
  const Classification c = classify(bytes);
  if (!c.ok()) {
    r.error = c.error;
  } else if (c.type != want) {
    r.error = ParseError::wrong_type;
  } else {
    std::memcpy(&r.value, bytes.data(), sizeof(Msg));
  }
  return r;
}

}  // namespace

const char* describe(ParseError e) {
  switch (e) {
    case ParseError::ok: return "ok";
    case ParseError::too_short_header: return "shorter than the 4-byte message header";
    case ParseError::bad_type: return "unknown message type";
    case ParseError::reserved_nonzero: return "reserved header bytes are not zero";
    case ParseError::bad_length_initiation: return "handshake initiation is not 148 bytes";
    case ParseError::bad_length_response: return "handshake response is not 92 bytes";
    case ParseError::bad_length_cookie_reply: return "cookie reply is not 64 bytes";
    case ParseError::too_short_data: return "data message shorter than header and tag (32 bytes)";
    case ParseError::wrong_type: return "valid message of another type than expected";
  }
  return "unknown parse error";
}

Classification classify(std::span<const std::uint8_t> bytes) {
  Classification c;
  if (bytes.size() < sizeof(MessageHeader)) {
    c.error = ParseError::too_short_header;
    return c;
  }
  // Type checked before the reserved bytes so that a foreign protocol is reported as bad_type.
  std::size_t min_len = 0;
  std::size_t exact_len = 0;
  ParseError length_error = ParseError::ok;
  switch (bytes[0]) {
    case kMsgTypeInitiation:
      exact_len = kInitiationLen;
      length_error = ParseError::bad_length_initiation;
      break;
    case kMsgTypeResponse:
      exact_len = kResponseLen;
      length_error = ParseError::bad_length_response;
      break;
    case kMsgTypeCookieReply:
      exact_len = kCookieReplyLen;
      length_error = ParseError::bad_length_cookie_reply;
      break;
    case kMsgTypeData:
    case kMsgTypeDataAesGcm:
      min_len = kDataMinLen;
      length_error = ParseError::too_short_data;
      break;
    default: c.error = ParseError::bad_type; return c;
  }
  if ((bytes[1] | bytes[2] | bytes[3]) != 0) {
    c.error = ParseError::reserved_nonzero;
    return c;
  }
  const bool length_ok = exact_len != 0 ? bytes.size() == exact_len : bytes.size() >= min_len;
  if (!length_ok) {
    c.error = length_error;
    return c;
  }
  c.type = static_cast<MessageType>(bytes[0]);
  return c;
}

Parsed<MessageInitiation> parse_initiation(std::span<const std::uint8_t> bytes) {
  return parse_fixed<MessageInitiation>(bytes, MessageType::initiation);
}

Parsed<MessageResponse> parse_response(std::span<const std::uint8_t> bytes) {
  return parse_fixed<MessageResponse>(bytes, MessageType::response);
}

Parsed<MessageCookieReply> parse_cookie_reply(std::span<const std::uint8_t> bytes) {
  return parse_fixed<MessageCookieReply>(bytes, MessageType::cookie_reply);
}

Parsed<DataView> parse_data(std::span<const std::uint8_t> bytes) {
  Parsed<DataView> r;
  const Classification c = classify(bytes);
  if (!c.ok()) {
    r.error = c.error;
    return r;
  }
  if (c.type != MessageType::data && c.type != MessageType::data_aes_gcm) {
    r.error = ParseError::wrong_type;
    return r;
  }
  r.value.type = c.type;
  r.value.receiver = data_receiver(bytes.data());
  r.value.counter = data_counter(bytes.data());
  r.value.ciphertext = bytes.subspan(kDataHeaderLen);
  return r;
}

std::size_t write_message(std::span<std::uint8_t> out, const MessageInitiation& m) {
  return write_struct(out, m);
}

std::size_t write_message(std::span<std::uint8_t> out, const MessageResponse& m) {
  return write_struct(out, m);
}

std::size_t write_message(std::span<std::uint8_t> out, const MessageCookieReply& m) {
  return write_struct(out, m);
}

std::size_t write_data_header(std::span<std::uint8_t> out, Cipher cipher, std::uint32_t receiver,
                              std::uint64_t counter) {
  if (out.size() < kDataHeaderLen) return 0;
  out[0] = data_type_for(cipher);
  out[1] = out[2] = out[3] = 0;
  store_le32(out.data() + 4, receiver);
  store_le64(out.data() + 8, counter);
  return kDataHeaderLen;
}

}  // namespace strait::wg

// libFuzzer target: the message parsers (messages.hpp) on arbitrary bytes. Besides crashes and
// ASan reports it traps on inconsistency: classify() and the parse functions must agree, and a
// parsed message must write back to exactly the bytes it came from.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/messages.hpp"

namespace {

using namespace strait;
using namespace strait::wg;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

template <class Msg>
void check_round_trip(const Parsed<Msg>& p, std::span<const std::uint8_t> in) {
  if (!p.ok()) return;
  std::uint8_t out[sizeof(Msg)];
  require(write_message(out, p.value) == sizeof(Msg));
  require(in.size() == sizeof(Msg) && std::memcmp(out, in.data(), sizeof(Msg)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const Classification c = classify(in);
  const auto init = parse_initiation(in);
  const auto resp = parse_response(in);
  const auto cookie = parse_cookie_reply(in);
  const auto dat = parse_data(in);

  const int parsed = int{init.ok()} + int{resp.ok()} + int{cookie.ok()} + int{dat.ok()};
  require(parsed == (c.ok() ? 1 : 0));
  if (!c.ok()) {
    require(init.error == c.error && resp.error == c.error && cookie.error == c.error &&
            dat.error == c.error);
  }
  require(init.ok() == (c.ok() && c.type == MessageType::initiation));
  require(resp.ok() == (c.ok() && c.type == MessageType::response));
  require(cookie.ok() == (c.ok() && c.type == MessageType::cookie_reply));

  check_round_trip(init, in);
  check_round_trip(resp, in);
  check_round_trip(cookie, in);

  if (dat.ok()) {
    require(dat.value.ciphertext.size() + kDataHeaderLen == size);
    require(dat.value.ciphertext.size() >= kTagLen);
    std::uint8_t header[kDataHeaderLen];
    const Cipher cipher = dat.value.type == MessageType::data_aes_gcm ? Cipher::aes256_gcm
                                                                      : Cipher::chacha20_poly1305;
    require(write_data_header(header, cipher, dat.value.receiver, dat.value.counter) ==
            kDataHeaderLen);
    require(std::memcmp(header, data, kDataHeaderLen) == 0);
  }
  require(describe(c.error) != nullptr);
  return 0;
}

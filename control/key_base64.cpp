#include "control/key_base64.hpp"

namespace strait::ctl {

namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<wg::Key> key_from_base64(std::string_view text) {
  // 32 bytes = 10 groups of 3 bytes (40 characters) + 2 bytes (3 characters and one '=').
  if (text.size() != 44 || text[43] != '=') return std::nullopt;
  wg::Key key{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < 40; i += 4) {
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const int s = sextet(text[i + j]);
      if (s < 0) return std::nullopt;
      v = v << 6 | static_cast<std::uint32_t>(s);
    }
    key[out++] = static_cast<std::uint8_t>(v >> 16);
    key[out++] = static_cast<std::uint8_t>(v >> 8);
    key[out++] = static_cast<std::uint8_t>(v);
  }
  const int a = sextet(text[40]), b = sextet(text[41]), c = sextet(text[42]);
  if (a < 0 || b < 0 || c < 0) return std::nullopt;
  const std::uint32_t v = static_cast<std::uint32_t>(a) << 12 |
                          static_cast<std::uint32_t>(b) << 6 | static_cast<std::uint32_t>(c);
  if ((v & 0x3) != 0) return std::nullopt;  // 18 bits carry 16: the last 2 must be zero
  key[out++] = static_cast<std::uint8_t>(v >> 10);
  key[out++] = static_cast<std::uint8_t>(v >> 2);
  return key;
}

std::string key_to_base64(const wg::Key& key) {
  std::string out;
  out.reserve(44);
  std::size_t i = 0;
  for (; i + 3 <= key.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{key[i]} << 16 | std::uint32_t{key[i + 1]} << 8 | key[i + 2];
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const std::uint32_t v = std::uint32_t{key[i]} << 16 | std::uint32_t{key[i + 1]} << 8;
  out.push_back(kAlphabet[v >> 18 & 63]);
  out.push_back(kAlphabet[v >> 12 & 63]);
  out.push_back(kAlphabet[v >> 6 & 63]);
  out.push_back('=');
  return out;
}

}  // namespace strait::ctl

#include "packet/address_text.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace strait::dp {

std::optional<MacAddr> parse_mac(std::string_view text) {
  MacAddr mac{};
  if (text.size() != 17) return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':' && text[i * 3 - 1] != '-') return std::nullopt;
    std::uint8_t v = 0;
    auto sv = text.substr(i * 3, 2);
    auto [ptr, ec] = std::from_chars(sv.data(), sv.data() + 2, v, 16);
    if (ec != std::errc() || ptr != sv.data() + 2) return std::nullopt;
    mac[i] = v;
  }
  return mac;
}

std::string format_mac(const MacAddr& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

// inet_pton reads a NUL-terminated string, hence the copies.

std::optional<std::array<std::uint8_t, 4>> parse_ipv4_address(std::string_view text) {
  std::array<std::uint8_t, 4> a{};
  if (::inet_pton(AF_INET, std::string(text).c_str(), a.data()) != 1) return std::nullopt;
  return a;
}

std::optional<IpAddr16> parse_ipv6_address(std::string_view text) {
  IpAddr16 a{};
  if (::inet_pton(AF_INET6, std::string(text).c_str(), a.data()) != 1) return std::nullopt;
  return a;
}

}  // namespace strait::dp

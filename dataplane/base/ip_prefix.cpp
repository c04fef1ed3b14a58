#include "base/ip_prefix.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace strait {

namespace {

// The address part: IPv6 if it has a colon (the messages name the family the text looks like).
Result<IpPrefix> parse_address(const std::string& text) {
  IpPrefix p;
  if (text.find(':') != std::string::npos) {
    p.family = IpFamily::v6;
    if (inet_pton(AF_INET6, text.c_str(), p.addr.data()) != 1) {
      return Error{"not an IPv6 address: " + text};
    }
  } else {
    p.family = IpFamily::v4;
    if (inet_pton(AF_INET, text.c_str(), p.addr.data()) != 1) {
      return Error{"not an IPv4 address: " + text};
    }
  }
  p.len = static_cast<std::uint8_t>(p.max_len());
  return p;
}

}  // namespace

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return Error{"missing /prefix-length"};
  auto p = parse_address(std::string(text.substr(0, slash)));
  if (!p) return p.error();
  const std::string_view len_text = text.substr(slash + 1);
  const unsigned max = p->max_len();
  unsigned len = 0;
  const char* end = len_text.data() + len_text.size();
  const auto [ptr, ec] = std::from_chars(len_text.data(), end, len);
  if (len_text.empty() || ec != std::errc() || ptr != end || len > max ||
      (len_text.size() > 1 && len_text[0] == '0')) {
    return Error{"prefix length must be 0.." + std::to_string(max) + ", got \"" +
                 std::string(len_text) + "\""};
  }
  p->len = static_cast<std::uint8_t>(len);
  return p;
}

Result<IpPrefix> IpPrefix::parse_host_or_prefix(std::string_view text) {
  if (text.find('/') != std::string_view::npos) return parse(text);
  return parse_address(std::string(text));
}

IpPrefix IpPrefix::v4(const std::array<std::uint8_t, 4>& a, std::uint8_t len) {
  IpPrefix p;
  p.family = IpFamily::v4;
  std::copy(a.begin(), a.end(), p.addr.begin());
  p.len = len;
  return p;
}

IpPrefix IpPrefix::v6(const std::array<std::uint8_t, 16>& a, std::uint8_t len) {
  IpPrefix p;
  p.family = IpFamily::v6;
  p.addr = a;
  p.len = len;
  return p;
}

IpPrefix IpPrefix::masked() const noexcept {
  IpPrefix m = *this;
  const unsigned bits = max_len();
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit >= bits) {
      m.addr[i] = 0;
    } else if (first_bit + 8 > len) {
      const unsigned keep = len > first_bit ? len - first_bit : 0;
      m.addr[i] &= static_cast<std::uint8_t>(0xff00u >> keep);
    }
  }
  return m;
}

std::string IpPrefix::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == IpFamily::v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(len);
}

}  // namespace strait

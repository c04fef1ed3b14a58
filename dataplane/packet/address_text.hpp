#pragma once
// Addresses as people write them on command lines and in config files: MAC addresses and
// IPv4/IPv6 addresses, into and out of the wire-order types of headers.hpp. For straitd's
// options and strait-pktgen's bench config; not for the fast path. Tests:
// tests/unit/address_text_test.cpp.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "packet/headers.hpp"

namespace strait::dp {

// "02:00:00:aa:bb:cc", also '-' separated; exactly six two-digit hex groups, either case.
[[nodiscard]] std::optional<MacAddr> parse_mac(std::string_view text);
// Lower-case, ':' separated: "02:00:00:aa:bb:cc".
[[nodiscard]] std::string format_mac(const MacAddr& mac);

// Dotted quad "192.0.2.1" (inet_pton's AF_INET form: no prefix length, no spaces).
[[nodiscard]] std::optional<std::array<std::uint8_t, 4>> parse_ipv4_address(std::string_view text);
// Any IPv6 text form inet_pton accepts ("2001:db8::1", "::ffff:192.0.2.1"), no prefix length.
[[nodiscard]] std::optional<IpAddr16> parse_ipv6_address(std::string_view text);

}  // namespace strait::dp

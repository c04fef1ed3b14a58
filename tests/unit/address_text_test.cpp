// Addresses as text (packet/address_text.hpp): MAC and IPv4/IPv6 addresses, as straitd's
// options and strait-pktgen's bench config read them. Numbered rows, each malformed form
// refused.

#include "packet/address_text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strait::dp {
namespace {

struct MacCase {
  std::string_view text;
  std::optional<MacAddr> expected;  // nothing: refused
};

constexpr MacAddr kMac = {0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc};

TEST(AddressText, Mac) {
  const MacCase cases[] = {
      /* 1 */ {"02:00:00:aa:bb:cc", kMac},
      /* 2 */ {"02-00-00-aa-bb-cc", kMac},  // '-' separated
      /* 3 */ {"02:00:00:AA:BB:CC", kMac},  // upper case
      /* 4 */ {"02:00:00:aa-bb:cc", kMac},  // separators may mix
      /* 5 */ {"", std::nullopt},
      /* 6 */ {"02:00:00:aa:bb", std::nullopt},        // five groups
      /* 7 */ {"02:00:00:aa:bb:cc:dd", std::nullopt},  // seven groups
      /* 8 */ {"02:00:00:aa:bb:cg", std::nullopt},     // not hex
      /* 9 */ {"02.00.00.aa.bb.cc", std::nullopt},     // wrong separator
      /* 10 */ {"2:00:00:aa:bb:ccc", std::nullopt},    // misaligned groups
      /* 11 */ {" 02:00:00:aa:bb:c", std::nullopt},    // leading space
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(parse_mac(cases[i].text), cases[i].expected) << "row " << i + 1;
  }
}

TEST(AddressText, MacRoundTrip) {
  EXPECT_EQ(format_mac(kMac), "02:00:00:aa:bb:cc");
  EXPECT_EQ(format_mac(MacAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), "ff:ff:ff:ff:ff:ff");
  EXPECT_EQ(parse_mac(format_mac(kMac)), kMac);
}

TEST(AddressText, Ipv4) {
  using V4 = std::array<std::uint8_t, 4>;
  const struct {
    std::string_view text;
    std::optional<V4> expected;
  } cases[] = {
      /* 1 */ {"192.0.2.1", V4{192, 0, 2, 1}},
      /* 2 */ {"0.0.0.0", V4{0, 0, 0, 0}},
      /* 3 */ {"", std::nullopt},
      /* 4 */ {"192.0.2", std::nullopt},
      /* 5 */ {"192.0.2.256", std::nullopt},
      /* 6 */ {"192.0.2.1/24", std::nullopt},  // no prefix length
      /* 7 */ {"2001:db8::1", std::nullopt},   // IPv6
      /* 8 */ {" 192.0.2.1", std::nullopt},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(parse_ipv4_address(cases[i].text), cases[i].expected) << "row " << i + 1;
  }
}

TEST(AddressText, Ipv6) {
  IpAddr16 db8{};
  db8[0] = 0x20;
  db8[1] = 0x01;
  db8[2] = 0x0d;
  db8[3] = 0xb8;
  db8[15] = 1;
  const std::uint8_t v4[] = {192, 0, 2, 1};
  const struct {
    std::string_view text;
    std::optional<IpAddr16> expected;
  } cases[] = {
      /* 1 */ {"2001:db8::1", db8},
      /* 2 */ {"::ffff:192.0.2.1", ipv4_mapped(v4)},  // an IPv6 text form, stays IPv6 text
      /* 3 */ {"", std::nullopt},
      /* 4 */ {"2001:db8::1/64", std::nullopt},  // no prefix length
      /* 5 */ {"2001:db8:::1", std::nullopt},
      /* 6 */ {"192.0.2.1", std::nullopt},  // IPv4
      /* 7 */ {"2001:db8::g", std::nullopt},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(parse_ipv6_address(cases[i].text), cases[i].expected) << "row " << i + 1;
  }
}

TEST(AddressText, TextIsNotReadPastItsEnd) {
  // A view into a longer buffer: only the view counts (inet_pton needs a copy ending in NUL).
  const std::string_view buffer = "192.0.2.10";
  EXPECT_EQ(parse_ipv4_address(buffer.substr(0, 9)), (std::array<std::uint8_t, 4>{192, 0, 2, 1}));
  const std::string_view macs = "02:00:00:aa:bb:ccdd";
  EXPECT_EQ(parse_mac(macs.substr(0, 17)), kMac);
}

}  // namespace
}  // namespace strait::dp

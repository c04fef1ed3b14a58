// Decimal numbers as text (core/decimal_text.hpp), as straitd's options read ports, lcore ids,
// sizes and seconds. Numbered rows, each malformed form refused.

#include "core/decimal_text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace strait::wg {
namespace {

TEST(DecimalText, Rows) {
  const struct {
    std::string_view text;
    std::uint64_t max;
    std::optional<std::uint64_t> expected;  // nothing: refused
  } cases[] = {
      /* 1 */ {"0", 10, 0},
      /* 2 */ {"10", 10, 10},            // max itself is taken
      /* 3 */ {"007", 10, 7},            // leading zeros are digits
      /* 4 */ {"11", 10, std::nullopt},  // above max
      /* 5 */ {"", 10, std::nullopt},
      /* 6 */ {"-1", 10, std::nullopt},  // no sign
      /* 7 */ {"+1", 10, std::nullopt},
      /* 8 */ {" 1", 10, std::nullopt},  // no spaces
      /* 9 */ {"1 ", 10, std::nullopt},
      /* 10 */ {"0x1", 100, std::nullopt},  // no hex
      /* 11 */ {"1.5", 10, std::nullopt},
      /* 12 */ {"18446744073709551616", UINT64_MAX, std::nullopt},  // 2^64: overflow
      /* 13 */ {"18446744073709551615", UINT64_MAX, UINT64_MAX},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(parse_decimal<std::uint64_t>(cases[i].text, cases[i].max), cases[i].expected)
        << "row " << i + 1;
  }
}

TEST(DecimalText, TheTypeBoundsByDefault) {
  EXPECT_EQ(parse_decimal<std::uint16_t>("65535"), std::uint16_t{65535});
  EXPECT_EQ(parse_decimal<std::uint16_t>("65536"), std::nullopt);
  EXPECT_EQ(parse_decimal<std::uint32_t>("4294967296"), std::nullopt);
  EXPECT_EQ(parse_decimal<unsigned>("127", 127U), 127U);
  EXPECT_EQ(parse_decimal<unsigned>("128", 127U), std::nullopt);
}

}  // namespace
}  // namespace strait::wg

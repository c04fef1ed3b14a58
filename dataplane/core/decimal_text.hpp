#pragma once
// Unsigned decimal numbers as people write them on command lines and in config files, for
// straitd's options and the tools. Tests: tests/unit/decimal_text_test.cpp.

#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace strait::wg {

// The whole of `text` as a decimal number no larger than `max`: digits only (no sign, no
// spaces, no "0x"), at least one, and no overflow. Anything else is nothing.
// (clang-format 14 would indent the requires clause as a continuation.)
// clang-format off
template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>)
[[nodiscard]] std::optional<T> parse_decimal(std::string_view text,
                                             T max = std::numeric_limits<T>::max()) {
  // clang-format on
  std::uint64_t v = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v > max) return std::nullopt;
  return static_cast<T>(v);
}

}  // namespace strait::wg

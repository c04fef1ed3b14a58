#include "core/tai64n.hpp"

#include <cstring>

namespace strait::wg {

Tai64n tai64n_from_unix(std::int64_t unix_seconds, std::uint32_t nanoseconds) {
  if (nanoseconds > 999'999'999U) nanoseconds = 999'999'999U;
  const std::uint64_t label = kTai64Base + static_cast<std::uint64_t>(unix_seconds);
  const std::uint32_t ns = nanoseconds & kTai64nWhitenerMask;
  Tai64n t{};
  for (int i = 0; i < 8; ++i) t[i] = static_cast<std::uint8_t>(label >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) t[8 + i] = static_cast<std::uint8_t>(ns >> (24 - 8 * i));
  return t;
}

bool tai64n_after(const Tai64n& a, const Tai64n& b) {
  return std::memcmp(a.data(), b.data(), a.size()) > 0;
}

}  // namespace strait::wg

#pragma once
// Deterministic X25519 private keys for tests: distinct per seed, never all zero, so the
// public key made from one (StaticIdentity::from_private) is an ordinary peer key.

#include <cstddef>
#include <cstdint>

#include "base/keys.hpp"

namespace strait::test {

[[nodiscard]] inline Key private_key_from(std::uint8_t seed) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return k;
}

}  // namespace strait::test

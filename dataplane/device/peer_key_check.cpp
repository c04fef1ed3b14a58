#include "device/peer_key_check.hpp"

#include "crypto/primitives.hpp"

namespace strait::wg {

bool is_small_order_point(const Key& public_key) {
  // X25519 with any fixed clamped scalar (a multiple of the cofactor 8, below the group
  // order) is zero exactly for the points of small order.
  Key scalar{};
  scalar.fill(0x5a);
  scalar[0] &= 248;
  scalar[31] = static_cast<std::uint8_t>((scalar[31] & 127) | 64);
  Key shared{};
  return !crypto::x25519(shared, scalar, public_key);
}

}  // namespace strait::wg

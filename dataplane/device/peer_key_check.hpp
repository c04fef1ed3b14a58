#pragma once
// Is a configured peer public key usable at all? A key of small order makes every
// Diffie-Hellman with it zero (RFC 7748 section 6.1), so no handshake with it can succeed;
// apply() refuses such a peer instead of keeping a peer that can never connect.

#include "core/types.hpp"

namespace strait::wg {

[[nodiscard]] bool is_small_order_point(const Key& public_key);

}  // namespace strait::wg

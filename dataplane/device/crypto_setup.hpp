#pragma once
// libsodium must be initialised once per process before the handshake uses it
// (crypto::init). The Device does it itself, so that its users need not include
// crypto/primitives.hpp (libsodium's wrappers) for that alone.

namespace strait::wg {

// Initialises the slow-path crypto once per process (thread-safe); false if it cannot.
[[nodiscard]] bool crypto_ready();

}  // namespace strait::wg

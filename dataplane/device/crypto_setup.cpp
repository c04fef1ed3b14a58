#include "device/crypto_setup.hpp"

#include "crypto/primitives.hpp"

namespace strait::wg {

bool crypto_ready() {
  static const bool ok = crypto::init();  // a thread-safe one-time initialisation (C++11)
  return ok;
}

}  // namespace strait::wg

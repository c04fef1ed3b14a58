#pragma once
// ASSERT_EQ(refused(device.apply(...)), "") : passes when the Result is ok, and when it is not,
// the failure shows the Error's message rather than a bare "false".

#include <string>

#include "base/result.hpp"

namespace strait::test {

[[nodiscard]] inline std::string refused(const Result<void>& r) {
  return r ? std::string() : "refused: " + r.error().message;
}

}  // namespace strait::test

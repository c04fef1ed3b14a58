#pragma once
// The --version line of every strait binary: "<program> <version> (commit <commit>)", from the
// one generated header (build_version.hpp). strait-mesh prints the same line for itself.

#include <string>

#include "observability/build_version.hpp"

namespace strait::observe {

[[nodiscard]] inline std::string version_line(const std::string& program) {
  return program + " " + STRAIT_VERSION + " (commit " + STRAIT_COMMIT + ")";
}

}  // namespace strait::observe

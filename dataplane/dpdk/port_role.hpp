#pragma once
// The two ports of straitd, used to index per-port arrays (queues, counters).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait::dp {

enum class PortRole : std::uint8_t {
  wire = 0,    // tunnel UDP to and from the other nodes
  bridge = 1,  // plain inner packets to and from OVS
};

inline constexpr std::size_t kPortRoleCount = 2;
inline constexpr std::array<std::string_view, kPortRoleCount> kPortRoleNames = {"wire", "bridge"};

[[nodiscard]] constexpr std::string_view port_role_name(PortRole r) {
  return kPortRoleNames[static_cast<std::size_t>(r)];
}

}  // namespace strait::dp

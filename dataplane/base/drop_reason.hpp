#pragma once
// Named drop reasons, generated from drop_reasons.def (the one list shared with the XDP
// program and the agent's metrics).

#include <array>
#include <cstdint>
#include <string_view>

namespace strait {

enum class DropReason : std::uint8_t {
#define STRAIT_DROP(name, metric, help) name,
#include "base/drop_reasons.def"
#undef STRAIT_DROP
};

inline constexpr std::size_t kDropReasonCount = 0
#define STRAIT_DROP(name, metric, help) +1
#include "base/drop_reasons.def"
#undef STRAIT_DROP
    ;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
#define STRAIT_DROP(name, metric, help) metric,
#include "base/drop_reasons.def"
#undef STRAIT_DROP
};

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonHelp = {
#define STRAIT_DROP(name, metric, help) help,
#include "base/drop_reasons.def"
#undef STRAIT_DROP
};

[[nodiscard]] constexpr std::string_view drop_reason_name(DropReason r) {
  return kDropReasonNames[static_cast<std::size_t>(r)];
}

}  // namespace strait

#pragma once
// WireGuard keys as people exchange them: standard base64 (RFC 4648 section 4) with padding,
// 44 characters for 32 bytes, as `wg genkey` / `wg pubkey` print them.

#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace strait::ctl {

// Exactly 44 characters, the last one '=', and the unused low bits of the 43rd character zero
// (the canonical encoding: any other spelling of the same key is refused, so that two spellings
// never name two "different" peers in the spec's duplicate check).
[[nodiscard]] std::optional<wg::Key> key_from_base64(std::string_view text);
[[nodiscard]] std::string key_to_base64(const wg::Key& key);

}  // namespace strait::ctl

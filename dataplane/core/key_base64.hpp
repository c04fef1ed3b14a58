#pragma once
// WireGuard keys as people exchange them: standard base64 (RFC 4648 section 4) with padding,
// 44 characters for 32 bytes, as `wg genkey` / `wg pubkey` print them. The one key decoder of
// the tree (straitd's key file, the agent's mesh spec, the tools), on libsodium's
// sodium_base642bin.

#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace strait::wg {

// Exactly 44 characters, the last one '=', and the unused low bits of the 43rd character zero
// (the canonical encoding, which sodium_base642bin insists on: any other spelling of the same
// key is refused, so that two spellings never name two "different" peers). On refusal, `why`
// (if given) gets one sentence naming what is wrong and where; for a private key
// (`KeyText::secret`) it names the position of a bad character but never the character.
enum class KeyText { public_key, secret };
[[nodiscard]] std::optional<Key> key_from_base64(std::string_view text, std::string* why = nullptr,
                                                 KeyText kind = KeyText::public_key);
// The encoding buffer is wiped: the key may be a private one.
[[nodiscard]] std::string key_to_base64(const Key& key);

}  // namespace strait::wg

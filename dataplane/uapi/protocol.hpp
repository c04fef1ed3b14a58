#pragma once
// The text of the WireGuard cross-platform UAPI (https://www.wireguard.com/xplatform/,
// "Configuration Protocol"): newline-terminated key=value lines, a request ending at the first
// empty line, answered with "errno=N\n\n". See UAPI.md for the subset and strait's `strait_`
// extension keys. Pure functions: no I/O.

#include <string>
#include <string_view>

#include "uapi/model.hpp"

namespace strait::uapi {

// The largest request the server reads and the largest reply the client accepts.
inline constexpr std::size_t kMaxRequestBytes = 1u << 20;
inline constexpr std::size_t kMaxReplyBytes = 64u << 20;

// Parses a set request. `body` may start with the "set=1" line (then that is line 1, so line
// numbers in errors match the whole request) and may end with the terminating empty line;
// nothing may follow that. Errors name the line and the key:
//   "line 4: invalid public_key: not 64 hex digits"
// A line without '=' is EPROTO; everything else is EINVAL (wireguard-go's choice).
// Unknown keys are errors, and so are unknown strait_ keys: a misspelt strait_cipher must not
// be ignored silently, since a cipher mismatch between two nodes drops all their traffic.
[[nodiscard]] Result<DeviceChange> parse_set(std::string_view body);

// Renders a set request: "set=1\n", the keys in the order wg(8) writes them, "\n".
// strait_cipher comes after the peer's standard keys.
[[nodiscard]] std::string render_set(const DeviceChange& change);

// Renders the key=value lines of a get reply in the order wireguard-go and wg(8) use, without
// the "errno=0\n\n" trailer (the server appends it). Device strait_drop_ keys come before the
// first public_key (wg(8) would otherwise count them to the last peer); per-peer strait_ keys
// come after the peer's allowed_ip lines. wg(8) skips keys it does not know (ipc-uapi.h), so
// the extension keys share the reply. Drop counters whose name is not [a-z0-9_]+ are skipped.
[[nodiscard]] std::string render_get(const DeviceState& state);

// Parses a get reply: key=value lines, optionally followed by "errno=N" and the empty line.
// A non-zero errno is returned as the error (either sign: wireguard-go writes -EINVAL).
// Unknown keys are skipped, as wg(8) does; malformed values of known keys are errors.
[[nodiscard]] Result<DeviceState> parse_get(std::string_view reply);

// "errno=0\n\n" for success, otherwise "errno=-N\n\n". The sign follows wireguard-go: wg(8)
// reads the number of a set reply and reports errno = -N, so a negative number there makes
// `wg set` print "Invalid argument" rather than "Unknown error -22".
[[nodiscard]] std::string render_errno(int code);

}  // namespace strait::uapi

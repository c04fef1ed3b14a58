#pragma once
// Is a UAPI set=1 change acceptable as a whole? Device::apply asks before it changes
// anything, so a refused change leaves the device as it was.
//
// Refused, with a message that names the peer and the field (operators and tests read these
// messages; keep their wording): a peer whose public key is all zero or a point of small
// order (peer_key_check.hpp), an endpoint or allowed IP of an unknown family, a prefix length
// too long for its family, and, over the configuration the change would produce, a peer that
// carries the device's own public key (Linux silently drops such a peer; we refuse the change
// so the operator sees it). A removed peer's other fields are not checked.

#include <optional>
#include <string>

#include "core/noise.hpp"
#include "uapi/model.hpp"

namespace strait::wg {

// `current` is the device's configuration now (private key, ports, every peer's public key
// and allowed IPs); `next_identity` is the device's identity once the change is applied.
// nullopt: the change may be applied.
[[nodiscard]] std::optional<std::string> check_change(const uapi::DeviceChange& change,
                                                      const uapi::DeviceState& current,
                                                      const StaticIdentity& next_identity);

}  // namespace strait::wg

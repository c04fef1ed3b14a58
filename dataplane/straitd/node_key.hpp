#pragma once
// The node's own WireGuard private key, kept in one file on the node (DESIGN.md section 5a:
// keys are made on the node and never leave it). straitd makes the key on first start when
// told to (--create-private-key), refuses a key file that other users can read (as `wg`
// warns), wipes the file's text from memory once parsed, and writes the public key beside it
// for whoever publishes it (the agent's Node annotation, the lab's inventory). Main thread
// only, before anything starts. Tests: tests/unit/node_key_test.cpp.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "core/types.hpp"

namespace strait::straitd {

// A WireGuard private key as `wg genkey` writes it: 44 characters of standard base64 with
// one '=' of padding, surrounding whitespace allowed (the one decoder, core/key_base64).
[[nodiscard]] Result<Key> parse_private_key(std::string_view text);

// Reads and parses a key file. Refuses a file that is not a regular file or that the group or
// others may read or write (the message says `chmod 600 FILE`). The file's text is wiped from
// memory before returning. Errors name the file and say why (straitd exits kExitStartup).
[[nodiscard]] Result<Key> load_private_key_file(const std::string& path);

// Makes a new private key in `path` (mode 0600, written beside and renamed into place, so that
// a crash never leaves half a key). Refuses to replace an existing file.
[[nodiscard]] Result<Key> create_private_key_file(const std::string& path);

// Writes `public_key` in base64 with a newline to `path` (mode 0644, renamed into place: a
// reader never sees half a key).
[[nodiscard]] Result<void> write_public_key_file(const std::string& path, const Key& public_key);

// straitd's start: load `path`, or when it does not exist and `create` is set, make it.
struct NodeKey {
  Key private_key{};
  Key public_key{};
  bool created = false;  // made by this call
};
[[nodiscard]] Result<NodeKey> load_or_create_node_key(const std::string& path, bool create);

}  // namespace strait::straitd

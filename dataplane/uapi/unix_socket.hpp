#pragma once
// The Unix-socket plumbing that the UAPI server (server.hpp) and client (client.hpp) share:
// where the socket of an interface lives, its address, and errors made from errno.

#include <sys/un.h>

#include <string>
#include <string_view>

#include "uapi/model.hpp"

namespace strait::uapi {

// "/var/run/wireguard/<ifname>.sock", where wg(8) looks for it.
[[nodiscard]] std::string socket_path_for(std::string_view ifname);

// `path` as a socket address; ENAMETOOLONG when it is empty or does not fit sun_path.
[[nodiscard]] Result<sockaddr_un> unix_address(const std::string& path);

// strerror(err) as a string.
[[nodiscard]] std::string errno_text(int err);
// An Error carrying `err`, its message "<what>: <strerror(err)>".
[[nodiscard]] Error sys_error(int err, std::string what);

// Closes `fd` if it is open and marks it closed (-1).
void close_fd(int& fd);

}  // namespace strait::uapi

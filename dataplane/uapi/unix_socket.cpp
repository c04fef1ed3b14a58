#include "uapi/unix_socket.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace strait::uapi {

std::string socket_path_for(std::string_view ifname) {
  return "/var/run/wireguard/" + std::string(ifname) + ".sock";
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Error{ENAMETOOLONG, "socket path \"" + path + "\" is empty or longer than " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + " bytes"};
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

std::string errno_text(int err) { return std::strerror(err); }

Error sys_error(int err, std::string what) {
  return Error{err, std::move(what) + ": " + errno_text(err)};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace strait::uapi

#include "uapi/client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace strait::uapi {

Result<UapiClient> UapiClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    const int err = errno;
    ::close(fd);
    return sys_error(err, "cannot connect to " + path);
  }
  return UapiClient(fd);
}

UapiClient::UapiClient(UapiClient&& other) noexcept
    : fd_(other.fd_), pending_(std::move(other.pending_)) {
  other.fd_ = -1;
}

UapiClient& UapiClient::operator=(UapiClient&& other) noexcept {
  if (this != &other) {
    close_fd(fd_);
    fd_ = other.fd_;
    pending_ = std::move(other.pending_);
    other.fd_ = -1;
  }
  return *this;
}

UapiClient::~UapiClient() { close_fd(fd_); }

Result<std::string> UapiClient::request(std::string_view text) {
  if (fd_ < 0) return Error{EBADF, "client is not connected"};
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t w = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
      return sys_error(err, "UAPI write");
    }
    sent += static_cast<std::size_t>(w);
  }
  // The reply ends at its first empty line; its lines are never empty before that.
  std::string& buf = pending_;
  for (;;) {
    const auto end = buf.find("\n\n");
    if (end != std::string::npos) {
      std::string reply = buf.substr(0, end + 2);
      buf.erase(0, end + 2);
      return reply;
    }
    if (buf.size() > kMaxReplyBytes) return Error{EMSGSIZE, "UAPI reply too large"};
    char chunk[16384];
    const ssize_t r = ::read(fd_, chunk, sizeof(chunk));
    if (r > 0) {
      buf.append(chunk, static_cast<std::size_t>(r));
      continue;
    }
    if (r == 0) return Error{ECONNRESET, "UAPI server closed the connection before replying"};
    if (errno == EINTR) continue;
    const int err = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    return sys_error(err, "UAPI read");
  }
}

Result<DeviceState> UapiClient::get() {
  auto reply = request("get=1\n\n");
  if (!reply) return reply.error();
  return parse_get(*reply);
}

Result<void> UapiClient::set(const DeviceChange& change) {
  auto reply = request(render_set(change));
  if (!reply) return reply.error();
  const std::string& r = *reply;
  constexpr std::string_view kPrefix = "errno=";
  if (r.compare(0, kPrefix.size(), kPrefix) != 0) {
    return Error{EPROTO, "UAPI set reply is not errno=N: \"" + r.substr(0, 80) + "\""};
  }
  const std::string number = r.substr(kPrefix.size(), r.size() - kPrefix.size() - 2);
  char* endp = nullptr;
  const long code = std::strtol(number.c_str(), &endp, 10);
  if (number.empty() || *endp != '\0') {
    return Error{EPROTO, "UAPI set reply is not errno=N: \"" + r.substr(0, 80) + "\""};
  }
  if (code != 0) {
    const int err = static_cast<int>(code < 0 ? -code : code);
    return Error{err, "device refused the change: errno=" + number + " (" + errno_text(err) + ")"};
  }
  return {};
}

}  // namespace strait::uapi

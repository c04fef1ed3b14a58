#include "uapi/server.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <exception>

namespace strait::uapi {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxOpLine = 64;  // "get=1" / "set=1"; anything longer is not a request
constexpr int kMaxEventsPerService = 64;

// Makes the directory holding the socket, one level, as wireguard-go does for
// /var/run/wireguard (0755: wg(8) lists it, the socket itself is 0600).
std::optional<Error> ensure_parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return std::nullopt;
  const std::string dir = path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return sys_error(errno, "cannot create socket directory " + dir);
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<UapiServer>> UapiServer::listen(std::string path, ServerOptions options) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  if (auto e = ensure_parent_dir(path)) return *e;

  // An existing socket file either belongs to a live server (refuse: two daemons must not
  // share an interface name) or is left over from a crash (replace it, as wg(8) itself does
  // when it meets ECONNREFUSED in ipc-uapi-unix.h).
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{EEXIST, "\"" + path + "\" exists and is not a socket"};
    }
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return sys_error(errno, "socket");
    const int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
    const int err = errno;
    ::close(probe);
    if (rc == 0) {
      return Error{EADDRINUSE, "\"" + path + "\": socket path in use by a running process"};
    }
    if (err == ECONNREFUSED) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return sys_error(errno, "cannot remove stale socket " + path);
      }
    } else if (err != ENOENT) {
      return sys_error(err, "cannot probe existing socket " + path);
    }
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    const int err = errno;
    ::close(fd);
    return sys_error(err, "cannot bind " + path);
  }
  // chmod before listen(): until listen() every connect is refused, so nobody slips in while
  // the file still has the umask's mode.
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0 ||
      ::listen(fd, 16) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return sys_error(err, "cannot set up " + path);
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return sys_error(err, "epoll_create1");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    ::close(fd);
    ::close(ep);
    ::unlink(path.c_str());
    return sys_error(err, "epoll_ctl");
  }
  std::unique_ptr<UapiServer> server(new UapiServer(std::move(path), options, fd, ep));
  server->dev_ = st.st_dev;
  server->ino_ = st.st_ino;
  return server;
}

UapiServer::UapiServer(std::string path, ServerOptions options, int listen_fd, int epoll_fd)
    : path_(std::move(path)), options_(options), listen_fd_(listen_fd), epoll_fd_(epoll_fd) {}

UapiServer::~UapiServer() {
  for (auto& [fd, c] : clients_) ::close(fd);
  clients_.clear();
  // Unlink only our own file: a newer server may have replaced it after declaring us stale.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
  close_fd(listen_fd_);
  close_fd(epoll_fd_);
}

void UapiServer::report(const std::string& message) {
  if (sink_) sink_(message);
}

void UapiServer::service(Handler& handler) {
  std::array<epoll_event, kMaxEventsPerService> events{};
  const int n = ::epoll_wait(epoll_fd_, events.data(), kMaxEventsPerService, 0);
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == listen_fd_) {
      accept_clients();
      continue;
    }
    auto it = clients_.find(fd);
    if (it == clients_.end()) continue;  // dropped earlier in this batch
    if (events[i].events & EPOLLOUT) on_writable(fd, it->second);
    it = clients_.find(fd);
    if (it == clients_.end()) continue;
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(fd, it->second, handler);
  }
}

void UapiServer::accept_clients() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) report("accept: " + errno_text(errno));
      return;
    }
    // The file is 0600, so only its owner and root can connect; check again in case the
    // directory or file mode was changed by hand.
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != 0 && cred.uid != ::geteuid())) {
      report("refused UAPI client with uid " + std::to_string(cred.uid));
      ::close(fd);
      continue;
    }
    if (clients_.size() >= options_.max_clients) {
      report("too many UAPI clients (" + std::to_string(clients_.size()) + "), closing a new one");
      ::close(fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      report("epoll_ctl: " + errno_text(errno));
      ::close(fd);
      continue;
    }
    clients_.emplace(fd, Client{});
  }
}

void UapiServer::drop(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(fd);
}

void UapiServer::on_readable(int fd, Client& c, Handler& handler) {
  if (c.close_after_flush) {
    // Refused already: the reply is on its way; discard whatever else arrives.
    char sink[4096];
    ssize_t r;
    while ((r = ::read(fd, sink, sizeof(sink))) > 0) {
    }
    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) drop(fd);
    return;
  }
  bool eof = false;
  for (;;) {
    const std::size_t old = c.in.size();
    c.in.resize(old + kReadChunk);
    const ssize_t r = ::read(fd, c.in.data() + old, kReadChunk);
    c.in.resize(old + (r > 0 ? static_cast<std::size_t>(r) : 0));
    if (r > 0) {
      // Stop reading past the limit: handle_requests refuses what cannot be a request.
      if (c.in.size() > options_.max_request_bytes) break;
      continue;
    }
    if (r == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    drop(fd);  // ECONNRESET and friends: nobody left to answer
    return;
  }
  handle_requests(fd, c, handler);
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (eof) {
    // A request cut short by EOF is not applied: only complete requests count.
    if (!it->second.in.empty()) report("UAPI client closed the socket mid-request");
    if (it->second.out.empty()) {
      drop(fd);
    } else {
      it->second.close_after_flush = true;
      it->second.in.clear();
    }
  }
}

void UapiServer::on_writable(int fd, Client& c) { flush(fd, c); }

void UapiServer::answer(Client& c, const std::string& reply) { c.out += reply; }

void UapiServer::refuse(int fd, Client& c, int code, const std::string& why) {
  report("UAPI request refused: " + why);
  answer(c, render_errno(code));
  c.in.clear();
  c.close_after_flush = true;
  flush(fd, c);
}

void UapiServer::flush(int fd, Client& c) {
  while (!c.out.empty()) {
    const ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (w > 0) {
      c.out.erase(0, static_cast<std::size_t>(w));
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    drop(fd);  // EPIPE: the client left without its reply
    return;
  }
  if (c.out.empty() && c.close_after_flush) {
    drop(fd);
    return;
  }
  const bool want = !c.out.empty();
  if (want != c.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    c.want_write = want;
  }
}

void UapiServer::handle_requests(int fd, Client& c, Handler& handler) {
  // Requests are answered in order; several may share one connection (as in wireguard-go),
  // though wg(8) sends one per connection.
  while (!c.in.empty()) {
    // A client that sends requests without reading the replies would grow `out` forever.
    if (c.out.size() > kMaxReplyBytes) {
      report("UAPI client does not read its replies; dropped");
      drop(fd);
      return;
    }
    const auto nl = c.in.find('\n');
    if (nl == std::string::npos) {
      if (c.in.size() > kMaxOpLine) return refuse(fd, c, EPROTO, "no operation line");
      return;  // wait for more
    }
    const std::string_view op(c.in.data(), nl);
    if (op == "get=1") {
      if (c.in.size() < nl + 2) return;
      if (c.in[nl + 1] != '\n') return refuse(fd, c, EINVAL, "get=1 not followed by an empty line");
      c.in.erase(0, nl + 2);
      std::string reply;
      try {
        reply = render_get(handler.get()) + render_errno(0);
      } catch (const std::exception& e) {
        report(std::string("UAPI get failed: ") + e.what());
        reply = render_errno(EIO);
      }
      answer(c, reply);
    } else if (op == "set=1") {
      // The request ends at the first empty line: the "\n\n" at or after the op line's end.
      const auto end = c.in.find("\n\n", nl);
      if (end == std::string::npos) {
        if (c.in.size() > options_.max_request_bytes) {
          return refuse(
              fd, c, EMSGSIZE,
              "set request larger than " + std::to_string(options_.max_request_bytes) + " bytes");
        }
        return;  // wait for more
      }
      const std::size_t len = end + 2;
      if (len > options_.max_request_bytes) {
        return refuse(fd, c, EMSGSIZE, "set request of " + std::to_string(len) + " bytes");
      }
      auto change = parse_set(std::string_view(c.in.data(), len));
      c.in.erase(0, len);
      if (!change) {
        report("UAPI set refused: " + change.error().message);
        answer(c, render_errno(change.error().code));
      } else {
        Result<void> applied;
        try {
          applied = handler.apply(*change);
        } catch (const std::exception& e) {
          applied = Error{EINVAL, std::string("exception: ") + e.what()};
        }
        if (!applied) report("UAPI set not applied: " + applied.error().message);
        answer(c, render_errno(applied ? 0 : applied.error().code));
      }
    } else {
      return refuse(fd, c, EPROTO,
                    "unknown operation \"" + std::string(op.substr(0, kMaxOpLine)) + "\"");
    }
  }
  flush(fd, c);
}

}  // namespace strait::uapi

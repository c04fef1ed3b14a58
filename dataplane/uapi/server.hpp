#pragma once
// The UAPI socket: a Unix stream socket, by convention /var/run/wireguard/<ifname>.sock, that
// wg(8) finds by listing that directory (https://www.wireguard.com/xplatform/).
//
// UapiServer is non-blocking and owned by one thread, the caller's (in straitd: the slow-path
// thread). That thread polls fd() and calls service(), which accepts clients, reads requests
// that may arrive in pieces, answers complete ones through the Handler and writes replies
// without blocking. Nothing here is shared with the fast path. The blocking client that talks
// to it is client.hpp.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "uapi/model.hpp"
#include "uapi/protocol.hpp"
#include "uapi/unix_socket.hpp"

namespace strait::uapi {

// What the device does with requests. Called on the thread that calls service().
class Handler {
 public:
  virtual ~Handler() = default;
  // The state to report for get=1.
  virtual DeviceState get() = 0;
  // Applies a parsed set=1 request as a whole, or refuses it whole with an Error whose code is
  // the errno the client gets (EINVAL for a change the device cannot take) and whose message
  // is logged.
  virtual Result<void> apply(const DeviceChange& change) = 0;
};

struct ServerOptions {
  std::size_t max_request_bytes = kMaxRequestBytes;  // a larger request drops its client
  std::size_t max_clients = 64;                      // further connections are closed at once
};

class UapiServer {
 public:
  // Creates the socket directory (0755) if missing and binds `path` (0600). If a socket file
  // is already there: a live server answering on it is an error ("socket path in use by a
  // running process"); a stale one (connect gives ECONNREFUSED) is unlinked and replaced.
  [[nodiscard]] static Result<std::unique_ptr<UapiServer>> listen(std::string path,
                                                                  ServerOptions options = {});
  ~UapiServer();  // closes every client and unlinks the socket if the file is still ours
  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  // Poll this for POLLIN: it is an epoll descriptor over the listening socket and the clients.
  [[nodiscard]] int fd() const { return epoll_fd_; }
  // Does all the work that is ready now, without blocking.
  void service(Handler& handler);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::size_t client_count() const { return clients_.size(); }
  // Receives one sentence for every refused request and dropped client (for the caller's log).
  void set_error_sink(std::function<void(std::string_view)> sink) { sink_ = std::move(sink); }

 private:
  struct Client {
    std::string in;   // bytes received and not yet consumed
    std::string out;  // reply bytes not yet written
    bool close_after_flush = false;
    bool want_write = false;  // EPOLLOUT registered
  };

  UapiServer(std::string path, ServerOptions options, int listen_fd, int epoll_fd);
  void accept_clients();
  void on_readable(int fd, Client& c, Handler& handler);
  void on_writable(int fd, Client& c);
  void handle_requests(int fd, Client& c, Handler& handler);
  void answer(Client& c, const std::string& reply);
  void refuse(int fd, Client& c, int code, const std::string& why);
  void flush(int fd, Client& c);
  void drop(int fd);
  void report(const std::string& message);

  std::string path_;
  ServerOptions options_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  std::uint64_t dev_ = 0, ino_ = 0;  // identity of the socket file we bound
  std::map<int, Client> clients_;
  std::function<void(std::string_view)> sink_;
};

}  // namespace strait::uapi

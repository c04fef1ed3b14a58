#include "control/metrics.hpp"

#include <cerrno>
#include <cstring>
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "drop_reason.hpp"

namespace strait::ctl {

namespace {

// Label values escape backslash, double quote and newline (exposition format).
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

std::string peer_labels(const PeerLabels& l) {
  return fmt::format("cluster=\"{}\",node=\"{}\"", escape(l.cluster), escape(l.node));
}

}  // namespace

std::string render_metrics(const MetricsSnapshot& s, std::uint64_t now_wall_sec) {
  std::string out;
  // Spec peers present on the device, in the order the device lists them.
  std::vector<std::pair<const uapi::PeerState*, const PeerLabels*>> peers;
  if (s.device) {
    for (const auto& p : s.device->peers) {
      const auto it = s.labels.find(p.public_key);
      if (it != s.labels.end()) peers.emplace_back(&p, &it->second);
    }
  }

  header(out, "strait_peer_last_handshake_seconds", "gauge",
         "Seconds since the last completed handshake with the peer.");
  for (const auto& [p, l] : peers) {
    if (p->last_handshake_sec == 0 && p->last_handshake_nsec == 0) continue;
    const std::uint64_t age =
        now_wall_sec > p->last_handshake_sec ? now_wall_sec - p->last_handshake_sec : 0;
    out += fmt::format("strait_peer_last_handshake_seconds{{{}}} {}\n", peer_labels(*l), age);
  }
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t uapi::PeerState::*field;
  };
  for (const Counter& c : {
           Counter{"strait_peer_rx_bytes_total", "Bytes received from the peer.",
                   &uapi::PeerState::rx_bytes},
           Counter{"strait_peer_tx_bytes_total", "Bytes sent to the peer.",
                   &uapi::PeerState::tx_bytes},
           Counter{"strait_peer_rx_packets_total", "Packets received from the peer.",
                   &uapi::PeerState::rx_packets},
           Counter{"strait_peer_tx_packets_total", "Packets sent to the peer.",
                   &uapi::PeerState::tx_packets},
       }) {
    header(out, c.name, "counter", c.help);
    for (const auto& [p, l] : peers) {
      out += fmt::format("{}{{{}}} {}\n", c.name, peer_labels(*l), p->*c.field);
    }
  }
  header(out, "strait_peer_drops_total", "counter", "Packets of the peer dropped, by reason.");
  for (const auto& [p, l] : peers) {
    for (const auto& [reason, n] : p->drops) {
      out += fmt::format("strait_peer_drops_total{{{},reason=\"{}\"}} {}\n", peer_labels(*l),
                         escape(reason), n);
    }
  }

  // Every known reason appears (at 0 until it happens), so that rate() works from the start.
  header(out, "strait_drops_total", "counter", "Packets dropped by straitd, by reason.");
  if (s.device) {
    std::map<std::string, std::uint64_t> drops;
    for (std::size_t i = 1; i < kDropReasonCount; ++i) drops[std::string(kDropReasonNames[i])] = 0;
    for (const auto& [reason, n] : s.device->drops) drops[reason] = n;
    for (const auto& [reason, n] : drops) {
      out += fmt::format("strait_drops_total{{reason=\"{}\"}} {}\n", escape(reason), n);
    }
  }

  // The XDP program's share of the drops above (strait_drops_total counts both layers), and
  // its verdicts (ebpf/README.md, "Maps").
  header(out, "strait_xdp_drops_total", "counter",
         "Packets the XDP program on straitd's wire interface dropped, by reason.");
  for (const XdpStats& x : s.xdp) {
    for (std::size_t i = 1; i < x.drops.size() && i < kDropReasonCount; ++i) {
      out += fmt::format("strait_xdp_drops_total{{iface=\"{}\",reason=\"{}\"}} {}\n",
                         escape(x.iface), kDropReasonNames[i], x.drops[i]);
    }
  }
  header(out, "strait_xdp_verdicts_total", "counter",
         "Packets the XDP program passed to the kernel or redirected to straitd.");
  static constexpr const char* kVerdictNames[] = {"pass_not_tunnel", "pass_unconfigured",
                                                  "tunnel_accepted", "tunnel_redirected",
                                                  "tunnel_no_socket"};
  for (const XdpStats& x : s.xdp) {
    for (std::size_t i = 0; i < x.verdicts.size() && i < std::size(kVerdictNames); ++i) {
      out += fmt::format("strait_xdp_verdicts_total{{iface=\"{}\",verdict=\"{}\"}} {}\n",
                         escape(x.iface), kVerdictNames[i], x.verdicts[i]);
    }
  }

  header(out, "strait_agent_reconcile_total", "counter", "Reconcile passes run.");
  out += fmt::format("strait_agent_reconcile_total {}\n", s.counters.reconcile_total);
  header(out, "strait_agent_reconcile_errors_total", "counter",
         "Reconcile steps that failed, by what failed.");
  for (const char* what : {"spec", "uapi", "flows", "routes"}) {
    const auto it = s.counters.reconcile_errors.find(what);
    out += fmt::format("strait_agent_reconcile_errors_total{{what=\"{}\"}} {}\n", what,
                       it == s.counters.reconcile_errors.end() ? 0 : it->second);
  }
  header(out, "strait_agent_spec_generation", "gauge", "Valid mesh specs loaded so far.");
  out += fmt::format("strait_agent_spec_generation {}\n", s.counters.spec_generation);
  header(out, "strait_agent_spec_rejected_total", "counter", "Mesh specs refused as invalid.");
  out += fmt::format("strait_agent_spec_rejected_total {}\n", s.counters.spec_rejected);
  return out;
}

bool healthy(const MetricsSnapshot& s, std::chrono::steady_clock::time_point now) {
  return s.last_success && now - *s.last_success <= 3 * s.resync_interval;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return invalid("--metrics-listen: expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) return invalid("--metrics-listen: bad port \"" + port_text + "\"");
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) != 1) {
      return invalid("--metrics-listen: bad IPv6 address " + host);
    }
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      return invalid("--metrics-listen: bad IPv4 address " + host);
    }
    len = sizeof(*a);
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{errno, std::string("socket: ") + std::strerror(errno)};
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 16) != 0) {
    const int e = errno;
    ::close(fd);
    return Error{e, fmt::format("--metrics-listen {}: {}", listen, std::strerror(e))};
  }
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const std::uint16_t bound = ss.ss_family == AF_INET6
                                  ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  const int wake = ::eventfd(0, EFD_CLOEXEC);
  if (wake < 0) {
    ::close(fd);
    return Error{errno, "eventfd failed"};
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, wake, bound));
}

MetricsServer::MetricsServer(int fd, int wake_fd, std::uint16_t port)
    : fd_(fd), wake_fd_(wake_fd), port_(port) {
  thread_ = std::thread([this] { serve(); });
}

MetricsServer::~MetricsServer() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(fd_);
  ::close(wake_fd_);
}

void MetricsServer::set_snapshot(MetricsSnapshot s) {
  std::lock_guard lock(mu_);
  snapshot_ = std::move(s);
}

void MetricsServer::serve() {
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    answer(client);
    ::close(client);
  }
}

// One request per connection; a client gets 2 s to send its request line, so a slow or
// silent client can stall the scrape of others for no longer than that.
void MetricsServer::answer(int client) {
  timeval tv{2, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.find("\n\n") == std::string::npos &&
         req.size() < 8192) {
    const ssize_t r = ::read(client, buf, sizeof(buf));
    if (r <= 0) break;
    req.append(buf, static_cast<std::size_t>(r));
  }
  const std::string line = req.substr(0, req.find_first_of("\r\n"));
  std::string status = "200 OK", type = "text/plain; version=0.0.4; charset=utf-8", body;
  MetricsSnapshot snap;
  {
    std::lock_guard lock(mu_);
    snap = snapshot_;
  }
  const auto path_start = line.find(' ');
  const std::string method = line.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : line.substr(path_start + 1);
  path = path.substr(0, path.find(' '));
  path = path.substr(0, path.find('?'));
  if (method != "GET" && method != "HEAD") {
    status = "405 Method Not Allowed";
    body = "only GET\n";
  } else if (path == "/metrics") {
    body = render_metrics(snap, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count()));
  } else if (path == "/healthz") {
    if (healthy(snap, std::chrono::steady_clock::now())) {
      body = "ok\n";
    } else {
      status = "503 Service Unavailable";
      body = "no successful reconcile within 3 resync intervals\n";
    }
  } else {
    status = "404 Not Found";
    body = "try /metrics or /healthz\n";
  }
  std::string reply = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
      status, type, body.size());
  if (method != "HEAD") reply += body;
  std::size_t sent = 0;
  while (sent < reply.size()) {
    const ssize_t w = ::send(client, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<std::size_t>(w);
  }
}

}  // namespace strait::ctl

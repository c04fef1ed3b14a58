#include "observability/http_endpoint.hpp"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include <prometheus/exposer.h>

#include <cerrno>
#include <map>
#include <mutex>

namespace strait::observe {

namespace {

// civetweb's begin_request callback is a plain function pointer and the Exposer keeps its
// CivetServer to itself, so the callback finds its endpoint by the port the request came in on.
std::mutex registry_mu;
std::map<std::uint16_t, HttpEndpoint*> registry;  // guarded by registry_mu

// Accepts HOST:PORT with a numeric IPv4 host or a bracketed numeric IPv6 host.
Result<std::uint16_t> parse_listen(const std::string& listen, const std::string& what) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return Error{EINVAL, what + ": expected HOST:PORT"};
  const std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) {
    return Error{EINVAL, what + ": bad port \"" + port_text + "\""};
  }
  unsigned char addr[16];
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), addr) != 1) {
      return Error{EINVAL, what + ": bad IPv6 address " + host};
    }
  } else if (inet_pton(AF_INET, host.c_str(), addr) != 1) {
    return Error{EINVAL, what + ": bad IPv4 address " + host + " (numeric, or [IPv6])"};
  }
  return static_cast<std::uint16_t>(port);
}

}  // namespace

// Non-zero (the status, for civetweb's log): answered here; 0: on to the Exposer's handlers.
int answer_health(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (ri == nullptr || ri->local_uri == nullptr || std::string_view(ri->local_uri) != "/healthz") {
    return 0;
  }
  HealthCheck check;
  {
    std::lock_guard lock(registry_mu);
    const auto it = registry.find(static_cast<std::uint16_t>(ri->server_port));
    if (it != registry.end()) check = it->second->health_;
  }
  const Health h = check ? check() : Health{false, "starting"};
  const std::string body = h.detail + "\n";
  mg_printf(conn,
            "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            h.ok ? "200 OK" : "503 Service Unavailable", body.size());
  if (std::string_view(ri->request_method) != "HEAD") mg_write(conn, body.data(), body.size());
  return 200;
}

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const std::string& listen,
                                                          HealthCheck health,
                                                          const std::string& what) {
  const auto parsed = parse_listen(listen, what);
  if (!parsed) return parsed.error();
  static const CivetCallbacks callbacks = [] {
    CivetCallbacks c;
    c.begin_request = answer_health;
    return c;
  }();
  std::unique_ptr<HttpEndpoint> e(new HttpEndpoint());
  e->health_ = std::move(health);
  try {
    e->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", std::to_string(kThreads),
                                 "request_timeout_ms", std::to_string(kRequestTimeoutMs),
                                 "enable_keep_alive", "no"},
        &callbacks);
  } catch (const std::exception& ex) {
    return Error{EADDRNOTAVAIL, what + " " + listen + ": cannot listen (" + ex.what() +
                                    "; in use, or not an address of this host?)"};
  }
  const auto ports = e->exposer_->GetListeningPorts();
  e->port_ = ports.empty() ? *parsed : static_cast<std::uint16_t>(ports.front());
  std::lock_guard lock(registry_mu);
  registry[e->port_] = e.get();
  return e;
}

HttpEndpoint::~HttpEndpoint() {
  {
    std::lock_guard lock(registry_mu);
    registry.erase(port_);
  }
  exposer_.reset();  // joins civetweb's threads
}

void HttpEndpoint::serve_metrics(const std::shared_ptr<prometheus::Collectable>& c) {
  exposer_->RegisterCollectable(c);
}

}  // namespace strait::observe

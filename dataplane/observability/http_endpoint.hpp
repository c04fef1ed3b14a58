#pragma once
// The HTTP endpoint that straitd and strait-agent both serve: Prometheus /metrics through
// prometheus-cpp's Exposer (civetweb underneath, a pool of threads, so one slow or silent client
// cannot hold the others), and /healthz answered from a caller-supplied check.
//
// Threads: the endpoint's own civetweb threads call the registered collectables and the health
// check, concurrently; both must be safe to call from any thread at any time. Never the
// data-plane workers: straitd starts this from its main thread, which is not a worker lcore.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"

struct mg_connection;

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace strait::observe {

struct Health {
  bool ok = false;
  std::string detail;  // one line for the body: "ok", or what is not ready
};
using HealthCheck = std::function<Health()>;

class HttpEndpoint {
 public:
  // Listens on "127.0.0.1:9477" or "[::1]:9477" (port 0 picks a free one: see port()).
  // `what` names the option in error messages ("--metrics-listen").
  [[nodiscard]] static Result<std::unique_ptr<HttpEndpoint>> start(
      const std::string& listen, HealthCheck health, const std::string& what = "--metrics-listen");
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Serves `c` on /metrics for as long as it lives (the endpoint holds a weak reference).
  void serve_metrics(const std::shared_ptr<prometheus::Collectable>& c);
  [[nodiscard]] std::uint16_t port() const { return port_; }

  // The whole-request deadline: a client that has not sent its request by then is dropped
  // (issue 11 item 8: a per-read timeout let a client dripping bytes hold a thread forever).
  static constexpr int kRequestTimeoutMs = 2000;
  static constexpr int kThreads = 4;

 private:
  HttpEndpoint() = default;

  std::unique_ptr<prometheus::Exposer> exposer_;
  HealthCheck health_;
  std::uint16_t port_ = 0;
  friend int answer_health(mg_connection*);
};

}  // namespace strait::observe

// Metrics: exposition text from a device state, /healthz logic, and the HTTP server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent_test_support.hpp"
#include "base/drop_reason.hpp"
#include "control/metrics.hpp"
#include "core/key_base64.hpp"

namespace strait::ctl {
namespace {

MetricsSnapshot sample() {
  MetricsSnapshot s;
  uapi::DeviceState dev;
  uapi::PeerState b1;
  b1.public_key = *wg::key_from_base64(testing::kKeyB1);
  b1.last_handshake_sec = 1000;
  b1.rx_bytes = 1500;
  b1.tx_bytes = 3000;
  b1.rx_packets = 1;
  b1.tx_packets = 2;
  b1.drops = {{"replay", 4}};
  uapi::PeerState b2;  // never shook hands
  b2.public_key = *wg::key_from_base64(testing::kKeyB2);
  uapi::PeerState foreign;  // not in the spec: not exported
  foreign.public_key = *wg::key_from_base64(testing::kKeyC1);
  foreign.rx_bytes = 77777;
  dev.peers = {b1, b2, foreign};
  dev.drops = {{"auth_failed", 9}};
  s.device = dev;
  s.labels[b1.public_key] = {"b", "b1"};
  s.labels[b2.public_key] = {"b", "b\"2"};
  s.counters.reconcile_total = 12;
  s.counters.reconcile_errors["uapi"] = 3;
  s.counters.spec_generation = 2;
  s.counters.spec_rejected = 1;
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(AgentMetrics, Exposition) {
  const std::string t = render_metrics(sample());
  EXPECT_TRUE(has_line(t, "# TYPE strait_peer_last_handshake_timestamp_seconds gauge")) << t;
  EXPECT_TRUE(has_line(
      t, "strait_peer_last_handshake_timestamp_seconds{peer_cluster=\"b\",peer_node=\"b1\"} 1000"));
  EXPECT_EQ(
      t.find(
          "strait_peer_last_handshake_timestamp_seconds{peer_cluster=\"b\",peer_node=\"b\\\"2\"}"),
      std::string::npos);  // never: no series
  EXPECT_TRUE(has_line(t, "# TYPE strait_peer_rx_bytes_total counter"));
  EXPECT_TRUE(has_line(t, "strait_peer_rx_bytes_total{peer_cluster=\"b\",peer_node=\"b1\"} 1500"));
  EXPECT_TRUE(has_line(t, "strait_peer_tx_bytes_total{peer_cluster=\"b\",peer_node=\"b1\"} 3000"));
  EXPECT_TRUE(has_line(t, "strait_peer_rx_packets_total{peer_cluster=\"b\",peer_node=\"b1\"} 1"));
  EXPECT_TRUE(has_line(t, "strait_peer_tx_packets_total{peer_cluster=\"b\",peer_node=\"b1\"} 2"));
  EXPECT_TRUE(has_line(t, "strait_peer_rx_bytes_total{peer_cluster=\"b\",peer_node=\"b\\\"2\"} 0"));
  EXPECT_TRUE(has_line(
      t, "strait_peer_drops_total{peer_cluster=\"b\",peer_node=\"b1\",reason=\"replay\"} 4"));
  EXPECT_EQ(t.find("77777"), std::string::npos) << "foreign peers are not exported";
  EXPECT_TRUE(has_line(t, "strait_drops_total{reason=\"auth_failed\"} 9"));
  EXPECT_TRUE(has_line(t, "strait_drops_total{reason=\"no_route\"} 0"));
  EXPECT_EQ(t.find("reason=\"none\""), std::string::npos);
  EXPECT_TRUE(has_line(t, "strait_agent_reconcile_total 12"));
  EXPECT_TRUE(has_line(t, "strait_agent_reconcile_errors_total{what=\"uapi\"} 3"));
  EXPECT_TRUE(has_line(t, "strait_agent_reconcile_errors_total{what=\"flows\"} 0"));
  EXPECT_TRUE(has_line(t, "strait_agent_specs_applied_total 2"));
  EXPECT_NE(t.find("\nstrait_build_info{component=\"strait-agent\",version=\""), std::string::npos);
  EXPECT_TRUE(has_line(t, "strait_agent_spec_rejected_total 1"));
  EXPECT_EQ(t.back(), '\n');
}

TEST(AgentMetrics, XdpCountersPerInterface) {
  MetricsSnapshot s = sample();
  XdpStats x;
  x.iface = "eth1";
  x.drops.assign(strait::kDropReasonCount, 0);
  x.drops[static_cast<std::size_t>(strait::DropReason::unknown_index)] = 77;
  x.verdicts = {1, 2, 3, 4, 5};
  s.xdp.push_back(x);
  const std::string t = render_metrics(s);
  EXPECT_NE(t.find("strait_xdp_drops_total{iface=\"eth1\",reason=\"unknown_index\"} 77\n"),
            std::string::npos);
  EXPECT_NE(t.find("strait_xdp_drops_total{iface=\"eth1\",reason=\"msg_bad_type\"} 0\n"),
            std::string::npos);
  EXPECT_NE(t.find("strait_xdp_verdicts_total{iface=\"eth1\",verdict=\"tunnel_redirected\"} 4\n"),
            std::string::npos);
  // No interface: the families are declared but have no series.
  const std::string none = render_metrics(sample());
  EXPECT_EQ(none.find("strait_xdp_drops_total{"), std::string::npos);
}

TEST(AgentMetrics, HealthWithinThreeIntervals) {
  MetricsSnapshot s;
  const auto now = std::chrono::steady_clock::now();
  EXPECT_FALSE(healthy(s, now));
  s.resync_interval = std::chrono::seconds(5);
  s.last_success = now - std::chrono::seconds(14);
  EXPECT_TRUE(healthy(s, now));
  s.last_success = now - std::chrono::seconds(16);
  EXPECT_FALSE(healthy(s, now));
}

std::string http_get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t r;
  while ((r = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(r));
  ::close(fd);
  return out;
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET with a deadline for the whole answer; "" when it did not come in time.
std::string http_get_within(std::uint16_t port, const std::string& path, int timeout_ms) {
  const int fd = connect_loopback(port);
  if (fd < 0) return "";
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.clear();
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      out.clear();
      break;
    }
    char buf[4096];
    const ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fd);
  return out;
}

// Issue 11 item 8: a client that drips its request a byte at a time (each byte well inside any
// per-read timeout), and others that connect and say nothing, must not keep /healthz from
// answering. The old single-threaded server stalled for as long as the drip went on.
TEST(AgentMetrics, SlowClientsDoNotStallHealth) {
  auto server = MetricsServer::start("127.0.0.1:0");
  ASSERT_TRUE(server) << server.error().message;
  const std::uint16_t port = (*server)->port();
  MetricsSnapshot s = sample();
  s.last_success = std::chrono::steady_clock::now();
  (*server)->set_snapshot(s);

  std::atomic<bool> stop{false};
  std::vector<int> silent;
  silent.reserve(3);
  for (int i = 0; i < 3; ++i) silent.push_back(connect_loopback(port));
  const int drip_fd = connect_loopback(port);
  ASSERT_GE(drip_fd, 0);
  std::thread drip([&] {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    for (std::size_t i = 0; !stop; ++i) {
      const char c = i < req.size() ? req[i] : 'a';
      if (::send(drip_fd, &c, 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the drip has begun
  const std::string r = http_get_within(port, "/healthz", 8000);
  stop = true;
  drip.join();
  ::close(drip_fd);
  for (int fd : silent) ::close(fd);
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << "no answer within 8 s: [" << r << "]";
}

TEST(AgentMetrics, ServesMetricsAndHealth) {
  auto server = MetricsServer::start("127.0.0.1:0");
  ASSERT_TRUE(server) << server.error().message;
  const std::uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  std::string r = http_get(port, "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  MetricsSnapshot s = sample();
  s.last_success = std::chrono::steady_clock::now();
  (*server)->set_snapshot(s);
  r = http_get(port, "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK", 0), 0u) << r;
  r = http_get(port, "/metrics");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK", 0), 0u);
  EXPECT_NE(r.find("Content-Type: text/plain"), std::string::npos);
  EXPECT_NE(r.find("\nstrait_agent_reconcile_total 12\n"), std::string::npos) << r;
  EXPECT_EQ(http_get(port, "/nope").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_FALSE(MetricsServer::start("127.0.0.1"));
  EXPECT_FALSE(MetricsServer::start("localhost:9477"));
}

}  // namespace
}  // namespace strait::ctl

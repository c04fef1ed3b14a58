// The stock wg(8) tool against strait's UAPI server: `wg show`, `wg set`, `wg showconf` must
// work unchanged (DESIGN.md section 3). The server runs on its own thread with an in-memory
// device; the real `wg` binary talks to it through /var/run/wireguard/<ifname>.sock, which is
// where wg(8) looks for userspace interfaces. Needs root (the directory and wg's own checks).
//
//   this process                                     child process
//   ┌───────────────────────────┐   unix socket     ┌──────────────┐
//   │ UapiServer ── MemoryDevice │◀──────────────────│ wg show/set  │
//   └───────────────────────────┘ /var/run/wireguard └──────────────┘
//                                  /strait-t<pid>.sock

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "uapi/model.hpp"
#include "uapi/protocol.hpp"
#include "uapi/server.hpp"

namespace strait::uapi {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A device that is only its state; remembers the last change it was asked for.
class MemoryDevice : public Handler {
 public:
  explicit MemoryDevice(const DeviceState& initial) : state_(initial) {}
  DeviceState get() override {
    std::lock_guard lock(mu_);
    return state_;
  }
  Result<void> apply(const DeviceChange& change) override {
    std::lock_guard lock(mu_);
    ++applied_;
    last_ = change;
    if (change.listen_port == 1) return Error{"port 1 is refused by this test device"};
    apply_change(state_, change);
    return {};
  }
  DeviceChange last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  int applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }

 private:
  std::mutex mu_;
  DeviceState state_;
  DeviceChange last_;
  int applied_ = 0;
};

std::string base64(const Key& key) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= key.size(); i += 3) {
    const unsigned v = static_cast<unsigned>(key[i] << 16 | key[i + 1] << 8 | key[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  // 32 = 30 + 2: one group of two bytes left, one '=' of padding.
  const unsigned v = static_cast<unsigned>(key[i] << 16 | key[i + 1] << 8);
  out.push_back(kAlphabet[(v >> 18) & 63]);
  out.push_back(kAlphabet[(v >> 12) & 63]);
  out.push_back(kAlphabet[(v >> 6) & 63]);
  out.push_back('=');
  return out;
}

struct ToolRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

ToolRun run(const std::string& cmd) {
  ToolRun r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool have_wg() { return run("command -v wg").status == 0; }

class ServerThread {
 public:
  ServerThread(UapiServer& server, Handler& handler) : server_(server) {
    thread_ = std::thread([this, &handler] {
      while (!stop_.load()) {
        pollfd p{server_.fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) server_.service(handler);
      }
    });
  }
  ~ServerThread() {
    stop_ = true;
    thread_.join();
  }

 private:
  UapiServer& server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Key key_filled(std::uint8_t b) {
  Key k;
  k.fill(b);
  return k;
}

TEST(UapiWgTool, ShowSetShowconf) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: wg(8) and /var/run/wireguard";
  if (!have_wg()) GTEST_SKIP() << "wg (wireguard-tools) is not installed";

  // wg(8) truncates interface names to IFNAMSIZ-1 = 15 characters: "strait-t" + pid fits.
  const std::string ifname = "strait-t" + std::to_string(::getpid());
  ASSERT_LE(ifname.size(), 15u);
  auto server = UapiServer::listen(socket_path_for(ifname));
  ASSERT_TRUE(server.ok()) << server.error().message;

  DeviceState initial;
  Key sk = key_filled(0x42);
  sk[0] &= 248;  // a clamped X25519 private key, as wg genkey makes them
  sk[31] = (sk[31] & 127) | 64;
  initial.private_key = sk;
  initial.listen_port = 51820;
  initial.drops = {{"no_route", 5}};  // device strait_ keys before the first public_key
  MemoryDevice dev(initial);
  ServerThread loop(**server, dev);

  // wg(8) lists the interface.
  ToolRun list = run("wg show interfaces");
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr(ifname));

  // dump of the device line: private-key public-key listen-port fwmark
  ToolRun dump0 = run("wg show " + ifname + " dump");
  ASSERT_EQ(dump0.status, 0) << dump0.output;
  EXPECT_EQ(dump0.output.substr(0, 45), base64(sk) + "\t") << dump0.output;
  EXPECT_THAT(dump0.output, HasSubstr("\t51820\toff\n"));

  // wg set: a new peer with allowed IPs, endpoint and keepalive.
  const Key peer = key_filled(0x07);
  ToolRun set = run("wg set " + ifname + " peer " + base64(peer) +
                    " allowed-ips 10.0.0.0/24 endpoint 127.0.0.1:51820 persistent-keepalive 25");
  ASSERT_EQ(set.status, 0) << set.output;
  DeviceChange want;
  PeerChange pc;
  pc.public_key = peer;
  pc.endpoint = Endpoint::v4({127, 0, 0, 1}, 51820);
  pc.persistent_keepalive = 25;
  pc.replace_allowed_ips = true;
  pc.allowed_ips = {IpPrefix::v4({10, 0, 0, 0}, 24)};
  want.peers = {pc};
  EXPECT_EQ(dev.last(), want);

  // The peer shows up, with strait_ keys in the reply that wg(8) must skip.
  ToolRun dump = run("wg show " + ifname + " dump");
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_THAT(dump.output,
              HasSubstr(base64(peer) + "\t(none)\t127.0.0.1:51820\t10.0.0.0/24\t0\t0\t0\t25\n"));
  ToolRun show = run("wg show " + ifname);
  ASSERT_EQ(show.status, 0) << show.output;
  EXPECT_THAT(show.output, HasSubstr("peer: " + base64(peer)));
  EXPECT_THAT(show.output, HasSubstr("endpoint: 127.0.0.1:51820"));
  EXPECT_THAT(show.output, HasSubstr("allowed ips: 10.0.0.0/24"));

  ToolRun conf = run("wg showconf " + ifname);
  ASSERT_EQ(conf.status, 0) << conf.output;
  EXPECT_THAT(conf.output, HasSubstr("ListenPort = 51820"));
  EXPECT_THAT(conf.output, HasSubstr("PrivateKey = " + base64(sk)));
  EXPECT_THAT(conf.output, HasSubstr("PublicKey = " + base64(peer)));
  EXPECT_THAT(conf.output, HasSubstr("AllowedIPs = 10.0.0.0/24"));
  EXPECT_THAT(conf.output, HasSubstr("Endpoint = 127.0.0.1:51820"));
  EXPECT_THAT(conf.output, HasSubstr("PersistentKeepalive = 25"));

  // A refused change: wg(8) must report the errno as "Invalid argument" (hence errno=-22).
  ToolRun refused = run("wg set " + ifname + " listen-port 1");
  EXPECT_NE(refused.status, 0);
  EXPECT_THAT(refused.output, HasSubstr("Invalid argument"));

  // Remove the peer.
  ToolRun remove = run("wg set " + ifname + " peer " + base64(peer) + " remove");
  ASSERT_EQ(remove.status, 0) << remove.output;
  ASSERT_EQ(dev.last().peers.size(), 1u);
  EXPECT_TRUE(dev.last().peers[0].remove);
  ToolRun dump2 = run("wg show " + ifname + " dump");
  ASSERT_EQ(dump2.status, 0) << dump2.output;
  EXPECT_THAT(dump2.output, Not(HasSubstr(base64(peer))));

  // wg syncconf: reads the state (get), then sends the difference (set).
  const Key peer2 = key_filled(0x09);
  char conf_path[] = "/tmp/strait-uapi-conf-XXXXXX";
  const int cfd = ::mkstemp(conf_path);
  ASSERT_GE(cfd, 0);
  const std::string conf_text =
      "[Interface]\nListenPort = 51821\n\n[Peer]\nPublicKey = " + base64(peer2) +
      "\nAllowedIPs = 10.1.0.0/16, fd00::/64\n";
  ASSERT_EQ(::write(cfd, conf_text.data(), conf_text.size()),
            static_cast<ssize_t>(conf_text.size()));
  ::close(cfd);
  ToolRun sync = run("wg syncconf " + ifname + " " + conf_path);
  ::unlink(conf_path);
  ASSERT_EQ(sync.status, 0) << sync.output;
  ToolRun dump3 = run("wg show " + ifname + " dump");
  ASSERT_EQ(dump3.status, 0) << dump3.output;
  EXPECT_THAT(dump3.output, HasSubstr("\t51821\toff\n"));
  EXPECT_THAT(dump3.output, HasSubstr(base64(peer2) + "\t(none)\t(none)\t10.1.0.0/16,fd00::/64\t"));
}

}  // namespace
}  // namespace strait::uapi

// A test-only driver that makes strait's sans-I/O Device a WireGuard endpoint on a plain UDP
// socket, so that the real reference implementation (wireguard-go) can be talked to
// (wireguard_go_test.sh draws the topology). One poll loop: the socket, and a timer from
// Device::next_deadline(). Delivered packets are checked (initiator) or answered (responder).
//
//   initiator: sends ICMP echo requests to --target through Device::send (one a second until
//              answered: the first waits for the handshake) and exits 0 on the first echo
//              reply whose id and sequence number match a request it sent.
//   responder: answers every ICMP echo request addressed to --tunnel-address with an echo
//              reply through the tunnel; exits 0 after --count replies.
// Either exits 1 after --timeout-seconds, 2 on bad usage.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/monotonic_clock.hpp"
#include "common/packet_builder.hpp"
#include "core/noise.hpp"
#include "device/device.hpp"
#include "uapi/model.hpp"

namespace {

using strait::monotonic_ns;
using strait::test::PacketBuilder;
namespace wg = strait::wg;
namespace uapi = strait::uapi;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kEchoId = 0x5157;

struct Options {
  std::string mode;
  strait::Key private_key{};
  uapi::Endpoint listen;
  strait::Key peer_public{};
  std::optional<uapi::Endpoint> peer_endpoint;
  std::vector<strait::IpPrefix> allowed_ips;
  std::string tunnel_address;
  std::string target;
  int count = 3;
  int timeout_seconds = 30;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "wg_interop_driver: %s\n"
               "usage: wg_interop_driver --mode initiator|responder --private-key HEX\n"
               "         --listen A.B.C.D:PORT --peer-public HEX [--peer-endpoint A.B.C.D:PORT]\n"
               "         --allowed-ip CIDR... --tunnel-address A.B.C.D [--target A.B.C.D]\n"
               "         [--count N] [--timeout-seconds S]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value for " + std::string(flag));
    const std::string value = argv[++i];
    auto key = [&] {
      auto k = uapi::key_from_hex(value);
      if (!k) usage("bad key for " + std::string(flag));
      return *k;
    };
    auto endpoint = [&] {
      auto e = uapi::Endpoint::parse(value);
      if (!e) usage("bad endpoint for " + std::string(flag) + ": " + e.error().message);
      return *e;
    };
    if (flag == "--mode") {
      o.mode = value;
    } else if (flag == "--private-key") {
      o.private_key = key();
    } else if (flag == "--listen") {
      o.listen = endpoint();
    } else if (flag == "--peer-public") {
      o.peer_public = key();
    } else if (flag == "--peer-endpoint") {
      o.peer_endpoint = endpoint();
    } else if (flag == "--allowed-ip") {
      auto ip = strait::IpPrefix::parse(value);
      if (!ip) usage("bad allowed IP: " + ip.error().message);
      o.allowed_ips.push_back(*ip);
    } else if (flag == "--tunnel-address") {
      o.tunnel_address = value;
    } else if (flag == "--target") {
      o.target = value;
    } else if (flag == "--count") {
      o.count = std::stoi(value);
    } else if (flag == "--timeout-seconds") {
      o.timeout_seconds = std::stoi(value);
    } else {
      usage("unknown option " + std::string(flag));
    }
  }
  if (o.mode != "initiator" && o.mode != "responder") usage("--mode is initiator or responder");
  if (o.tunnel_address.empty()) usage("--tunnel-address is required");
  if (o.mode == "initiator" && o.target.empty()) usage("--target is required for initiator");
  return o;
}

// The Device's I/O over one UDP socket. Delivered packets are copied out: the driver answers
// them after Device::receive returns (DeviceIo must not call back into the Device).
class SocketIo final : public wg::DeviceIo {
 public:
  explicit SocketIo(int fd) : fd_(fd) {}

  void send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) override {
    const sockaddr_storage ss = to.to_sockaddr();
    const socklen_t len = to.family == 6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&ss), len) <
        0)
      std::fprintf(stderr, "driver: sendto %s: %s\n", to.to_string().c_str(), std::strerror(errno));
    ++datagrams_sent;
  }
  void deliver(wg::PeerId, std::span<const std::uint8_t> ip_packet) override {
    delivered.emplace_back(ip_packet.begin(), ip_packet.end());
  }
  void on_session_changed(wg::PeerId) override { ++session_changes; }

  std::vector<Bytes> delivered;
  int datagrams_sent = 0;
  int session_changes = 0;

 private:
  int fd_;
};

struct Echo {
  bool reply = false;
  std::uint16_t id = 0;
  std::uint16_t seq = 0;
  std::string src;
  std::string dst;
  Bytes payload;  // after the 8-byte ICMP header
};

// An ICMPv4 echo request or reply (RFC 792), or nullopt.
std::optional<Echo> parse_echo(const Bytes& p) {
  if (p.size() < 28 || (p[0] >> 4) != 4) return std::nullopt;
  const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  if (p[9] != 1 || p.size() < ihl + 8) return std::nullopt;
  const std::uint8_t type = p[ihl];
  if (type != 0 && type != 8) return std::nullopt;
  Echo e;
  e.reply = type == 0;
  e.id = static_cast<std::uint16_t>(p[ihl + 4] << 8 | p[ihl + 5]);
  e.seq = static_cast<std::uint16_t>(p[ihl + 6] << 8 | p[ihl + 7]);
  char buf[INET_ADDRSTRLEN];
  e.src = ::inet_ntop(AF_INET, p.data() + 12, buf, sizeof buf);
  e.dst = ::inet_ntop(AF_INET, p.data() + 16, buf, sizeof buf);
  e.payload.assign(p.begin() + static_cast<std::ptrdiff_t>(ihl + 8), p.end());
  return e;
}

int run(const Options& o) {
  const int fd = ::socket(o.listen.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("driver: socket");
    return 1;
  }
  const sockaddr_storage local = o.listen.to_sockaddr();
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local),
             o.listen.family == 6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) != 0) {
    std::perror("driver: bind");
    return 1;
  }

  wg::SystemRandom rng;
  strait::crypto::AeadEngine engine;
  wg::Device device(rng, engine);
  uapi::DeviceChange change;
  change.private_key = o.private_key;
  change.listen_port = o.listen.port;
  uapi::PeerChange peer;
  peer.public_key = o.peer_public;
  peer.endpoint = o.peer_endpoint;
  peer.allowed_ips = o.allowed_ips;
  change.peers.push_back(peer);
  if (auto applied = device.apply(change, wg::Time(monotonic_ns())); !applied) {
    std::fprintf(stderr, "driver: configuration refused: %s\n", applied.error().message.c_str());
    return 1;
  }
  const wg::PeerId peer_id = *device.peer_id(o.peer_public);
  std::fprintf(stderr, "driver: %s, public key %s, listening on %s\n", o.mode.c_str(),
               uapi::key_to_hex(device.identity().public_key).c_str(),
               o.listen.to_string().c_str());

  SocketIo io(fd);
  const wg::Time start = wg::Time(monotonic_ns());
  const wg::Time end = start + std::chrono::seconds(o.timeout_seconds);
  std::set<std::uint16_t> requests_sent;
  std::uint16_t next_seq = 1;
  wg::Time next_echo = start;
  int replies_sent = 0;
  bool handshake_reported = false;

  for (;;) {
    wg::Time now = wg::Time(monotonic_ns());
    if (now >= end) {
      std::fprintf(stderr, "driver: timed out after %d s (%zu requests sent, %d replies sent)\n",
                   o.timeout_seconds, requests_sent.size(), replies_sent);
      const auto drops = device.state().drops;
      for (const auto& [name, n] : drops)
        std::fprintf(stderr, "driver: drop %s = %llu\n", name.c_str(),
                     static_cast<unsigned long long>(n));
      return 1;
    }
    if (o.mode == "initiator" && now >= next_echo) {
      const std::uint16_t seq = next_seq++;
      requests_sent.insert(seq);
      device.send(PacketBuilder()
                      .ipv4(o.tunnel_address, o.target)
                      .icmp_echo(kEchoId, seq)
                      .payload(56)
                      .build(),
                  now, io);
      std::fprintf(stderr, "driver: echo request seq %u to %s\n", seq, o.target.c_str());
      next_echo = now + std::chrono::seconds(1);
    }
    if (auto d = device.next_deadline(); d && *d <= now) device.tick(now, io);

    // Sleep until the socket is readable, the Device's next deadline, the next echo or the end.
    wg::Time wake = end;
    if (auto d = device.next_deadline()) wake = std::min(wake, *d);
    if (o.mode == "initiator") wake = std::min(wake, next_echo);
    const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
    pollfd pfd{fd, POLLIN, 0};
    const int ready =
        ::poll(&pfd, 1, static_cast<int>(std::clamp<long long>(wait_ms + 1, 0, 1000)));
    if (ready < 0 && errno != EINTR) {
      std::perror("driver: poll");
      return 1;
    }
    if (ready > 0 && (pfd.revents & POLLIN) != 0) {
      std::uint8_t buf[65536];
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n >= 0) {
        if (auto src = uapi::Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&from))) {
          device.receive({buf, static_cast<std::size_t>(n)}, *src, wg::Time(monotonic_ns()), io);
        }
      }
    }

    const wg::Peer* p = device.peer(peer_id);
    if (!handshake_reported && p != nullptr && p->last_handshake) {
      handshake_reported = true;
      std::fprintf(stderr, "driver: handshake complete (we %s)\n",
                   p->keypairs.current() != nullptr && p->keypairs.current()->we_initiated
                       ? "initiated"
                       : "responded");
    }

    auto delivered = std::move(io.delivered);
    io.delivered.clear();
    for (const Bytes& packet : delivered) {
      const std::optional<Echo> echo = parse_echo(packet);
      if (!echo) {
        std::fprintf(stderr, "driver: delivered a %zu-byte packet that is no ICMP echo\n",
                     packet.size());
        continue;
      }
      if (o.mode == "initiator") {
        if (echo->reply && echo->id == kEchoId && requests_sent.count(echo->seq) != 0 &&
            echo->src == o.target && echo->dst == o.tunnel_address) {
          std::fprintf(stderr, "driver: echo reply id 0x%04x seq %u from %s: success\n", echo->id,
                       echo->seq, echo->src.c_str());
          ::close(fd);
          return 0;
        }
        std::fprintf(stderr, "driver: unexpected ICMP (reply=%d id 0x%04x seq %u)\n", echo->reply,
                     echo->id, echo->seq);
      } else if (!echo->reply && echo->dst == o.tunnel_address) {
        const Bytes reply = PacketBuilder()
                                .ipv4(o.tunnel_address, echo->src)
                                .icmp_echo(echo->id, echo->seq, true)
                                .payload(echo->payload)
                                .build();
        device.send(reply, wg::Time(monotonic_ns()), io);
        ++replies_sent;
        std::fprintf(stderr, "driver: answered echo request id 0x%04x seq %u from %s\n", echo->id,
                     echo->seq, echo->src.c_str());
        if (replies_sent >= o.count) {
          ::close(fd);
          return 0;
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return run(parse(argc, argv)); }

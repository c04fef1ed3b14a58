// The real XDP program (ebpf/strait_xdp.bpf.c), verified and run by the kernel through
// bpf_prog_test_run_opts on a numbered table of packets built with the shared PacketBuilder
// (after Katran's lib/testing), plus its loader on interfaces of a private network namespace:
//
//   this process, after unshare(CLONE_NEWNET):
//     lo (up)                  generic-mode attach, live UDP to 127.0.0.1:51820
//     sx-veth0 <-> sx-veth1    native-mode attach; AF_XDP socket on sx-veth0 queue 0
//
// Needs root (CAP_BPF, CAP_NET_ADMIN) and the object built by clang; skips clearly otherwise.
//
// What the kernel does with bpf_redirect_map(&xsks_map, queue, XDP_PASS) under test_run (found
// out here, asserted below): with no socket at that queue the helper returns its fallback,
// XDP_PASS (counted as tunnel_no_socket); with a bound AF_XDP socket in the map it returns
// XDP_REDIRECT (test_run without BPF_F_TEST_XDP_LIVE_FRAMES does not perform the redirect).

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/packet_builder.hpp"
#include "xdp_loader.hpp"

namespace strait::ebpf {
namespace {

using test::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kPort = 51820;
constexpr std::uint32_t kLiveIndex = 7;   // any cipher
constexpr std::uint32_t kLiveChacha = 8;  // ChaCha20-Poly1305 only (type 4)
constexpr std::uint32_t kLiveAesGcm = 9;  // AES-256-GCM only (type 0x84)
constexpr std::uint32_t kUnknownIndex = 99;
constexpr std::uint64_t kT0 = 1'000'000'000'000ULL;  // the injected clock's start
constexpr std::uint64_t kMs = 1'000'000ULL;

const char* const kObject = STRAIT_XDP_OBJECT_BUILD;

std::string skip_reason() {
  if (geteuid() != 0) return "needs root (CAP_BPF, CAP_NET_ADMIN) to load and run XDP programs";
  struct stat st {};
  if (stat(kObject, &st) != 0)
    return std::string("XDP object not built: ") + kObject + " (install clang)";
  return {};
}

// "192.0.2.0/24", or a bare address for its host prefix (parsing: tests/unit/ip_prefix_test.cpp).
IpPrefix endpoint_prefix(const char* text) {
  auto p = IpPrefix::parse_host_or_prefix(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? *p : IpPrefix{};
}

#define SKIP_UNLESS_ABLE()                                                 \
  do {                                                                     \
    if (const auto why = skip_reason(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

// ---- packets ----

PacketBuilder v4(const char* src = "192.0.2.1", std::uint16_t dport = kPort) {
  PacketBuilder b;
  b.eth().ipv4(src, "198.51.100.1").udp(40000, dport);
  return b;
}
PacketBuilder v6(const char* src = "2001:db8:1::1", std::uint16_t dport = kPort) {
  PacketBuilder b;
  b.eth().ipv6(src, "2001:db8:2::1").udp(40000, dport);
  return b;
}
// A WireGuard-looking message of exactly n bytes with the given type byte.
Bytes message(std::uint8_t type, std::size_t n, std::uint8_t reserved = 0) {
  Bytes m(n, 0x5a);
  if (n > 0) m[0] = type;
  for (std::size_t i = 1; i < 4 && i < n; ++i) m[i] = reserved;
  return m;
}
Bytes data(std::uint32_t receiver, std::uint8_t type = test::kWgData, PacketBuilder b = v4()) {
  return b.wg_data(receiver, 0, 64, type).build();
}
// IPv4 with IHL 6: four NOP options (RFC 791 section 3.1) inserted after the fixed header.
Bytes with_ipv4_options(Bytes frame) {
  constexpr std::size_t kIp = 14;  // the IPv4 header's offset in the frame
  frame.insert(frame.begin() + kIp + 20, {1, 1, 1, 1});
  frame[kIp] = 0x46;
  const std::uint16_t total =
      static_cast<std::uint16_t>(((frame[kIp + 2] << 8) | frame[kIp + 3]) + 4);
  frame[kIp + 2] = static_cast<std::uint8_t>(total >> 8);
  frame[kIp + 3] = static_cast<std::uint8_t>(total);
  frame[kIp + 10] = frame[kIp + 11] = 0;
  const std::uint16_t c = test::naive_checksum({frame.data() + kIp, 24});
  frame[kIp + 10] = static_cast<std::uint8_t>(c >> 8);
  frame[kIp + 11] = static_cast<std::uint8_t>(c);
  return frame;
}

// ---- what a case expects ----

struct Expect {
  std::uint32_t verdict;
  std::optional<DropReason> drop;          // exactly this drop counter +1
  std::optional<strait_xdp_verdict> pass;  // or exactly this verdict counter +1
};
const Expect kAccepted{XDP_PASS, std::nullopt, STRAIT_XDP_TUNNEL_ACCEPTED};  // empty xsks_map
const Expect kNotTunnel{XDP_PASS, std::nullopt, STRAIT_XDP_PASS_NOT_TUNNEL};
Expect dropped(DropReason r) { return {XDP_DROP, r, std::nullopt}; }

std::string describe(const XdpCounters& c) {
  std::string s;
  for (std::size_t i = 0; i < c.drops.size(); ++i)
    if (c.drops[i]) s += std::string(kDropReasonNames[i]) + "=" + std::to_string(c.drops[i]) + " ";
  static const char* const kVerdictNames[] = {"pass_not_tunnel", "pass_unconfigured",
                                              "tunnel_accepted", "tunnel_redirected",
                                              "tunnel_no_socket"};
  for (std::size_t i = 0; i < c.verdicts.size(); ++i)
    if (c.verdicts[i])
      s += std::string(kVerdictNames[i]) + "=" + std::to_string(c.verdicts[i]) + " ";
  return s.empty() ? "(none)" : s;
}

class XdpProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!skip_reason().empty()) return;
    prog_.emplace(XdpProgram::load(kObject));
    prog_->configure({kPort, false, kT0});
    prog_->add_live_index(kLiveIndex);
    prog_->add_live_index(kLiveChacha, strait::Cipher::chacha20_poly1305);
    prog_->add_live_index(kLiveAesGcm, strait::Cipher::aes256_gcm);
  }

  struct Run {
    int err = 0;
    std::uint32_t verdict = 0;
    XdpCounters delta;
  };
  // ctx: the xdp_md to run with (ingress_ifindex, rx_queue_index); data_end is set to the
  // frame length here, as the kernel requires (data_meta and data stay 0: no metadata).
  Run run(const Bytes& frame, std::optional<xdp_md> ctx = std::nullopt) {
    if (ctx) ctx->data_end = static_cast<std::uint32_t>(frame.size());
    const XdpCounters before = prog_->read_counters();
    Bytes out(frame.size() + 512);
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<std::uint32_t>(frame.size());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<std::uint32_t>(out.size());
    opts.ctx_in = ctx ? &*ctx : nullptr;
    opts.ctx_size_in = ctx ? sizeof *ctx : 0;
    opts.repeat = 1;
    Run r;
    r.err = bpf_prog_test_run_opts(prog_->program_fd(), &opts);
    r.verdict = opts.retval;
    const XdpCounters after = prog_->read_counters();
    for (std::size_t i = 0; i < after.drops.size(); ++i)
      r.delta.drops[i] = after.drops[i] - before.drops[i];
    for (std::size_t i = 0; i < after.verdicts.size(); ++i)
      r.delta.verdicts[i] = after.verdicts[i] - before.verdicts[i];
    // The program never rewrites a packet: what it passes or redirects is what came in.
    if (r.err == 0 && r.verdict != XDP_DROP) {
      EXPECT_EQ(opts.data_size_out, frame.size());
      EXPECT_TRUE(std::equal(frame.begin(), frame.end(), out.begin())) << "packet modified";
    }
    return r;
  }

  // Runs one case and checks the verdict and that exactly the expected counter moved.
  void check(const std::string& what, const Bytes& frame, const Expect& e) {
    SCOPED_TRACE(what);
    const Run r = run(frame);
    ASSERT_EQ(r.err, 0) << "bpf_prog_test_run_opts failed: " << std::strerror(-r.err);
    EXPECT_EQ(r.verdict, e.verdict) << "counters moved: " << describe(r.delta);
    XdpCounters want;
    if (e.drop) want.drops[static_cast<std::size_t>(*e.drop)] = 1;
    if (e.pass) want.verdicts[*e.pass] = 1;
    if (e.pass == STRAIT_XDP_TUNNEL_ACCEPTED) want.verdicts[STRAIT_XDP_TUNNEL_NO_SOCKET] = 1;
    EXPECT_EQ(describe(r.delta), describe(want));
  }

  std::optional<XdpProgram> prog_;
};

// ---- the numbered table ----

struct Case {
  const char* description;
  Bytes packet;
  Expect expect;
};

std::vector<Case> table() {
  using R = DropReason;
  std::vector<Case> t;
  // Accepted tunnel traffic.
  // clang-format off
  t.push_back({"data, live index (any cipher)", data(kLiveIndex), kAccepted});
  t.push_back({"AES-GCM data (0x84), live index (any cipher)", data(kLiveIndex, test::kWgDataAesGcm), kAccepted});
  t.push_back({"data type 4 on a ChaCha20 index", data(kLiveChacha), kAccepted});
  t.push_back({"data type 0x84 on an AES-GCM index", data(kLiveAesGcm, test::kWgDataAesGcm), kAccepted});
  t.push_back({"keepalive (32 bytes, the minimum)", v4().wg_data(kLiveIndex, 1, 16).build(), kAccepted});
  t.push_back({"keepalive with Ethernet padding after it", v4().wg_data(kLiveIndex, 1, 16).trailer(12).build(), kAccepted});
  t.push_back({"handshake initiation (148)", v4().wg_initiation_shaped().build(), kAccepted});
  t.push_back({"handshake response (92)", v4("192.0.2.2").wg_response_shaped().build(), kAccepted});
  t.push_back({"cookie reply (64)", v4("192.0.2.3").wg_cookie_shaped().build(), kAccepted});
  t.push_back({"IPv6 data, live index", data(kLiveIndex, test::kWgData, v6()), kAccepted});
  t.push_back({"IPv6 handshake initiation", v6().wg_initiation_shaped().build(), kAccepted});
  t.push_back({"802.1Q-tagged IPv4 data", [] { PacketBuilder b; b.eth().vlan(100).ipv4("192.0.2.1", "198.51.100.1").udp(1, kPort); return data(kLiveIndex, test::kWgData, b); }(), kAccepted});
  t.push_back({"802.1Q-tagged IPv6 data", [] { PacketBuilder b; b.eth().vlan(4000).ipv6("2001:db8::1", "2001:db8::2").udp(1, kPort); return data(kLiveIndex, test::kWgData, b); }(), kAccepted});
  t.push_back({"802.1ad (QinQ TPID) single tag", [] { PacketBuilder b; b.eth().vlan(7).ipv4("192.0.2.1", "198.51.100.1").udp(1, kPort); auto f = data(kLiveIndex, test::kWgData, b); f[12] = 0x88; f[13] = 0xa8; return f; }(), kAccepted});
  t.push_back({"IPv4 with options (IHL 6)", with_ipv4_options(data(kLiveIndex)), kAccepted});
  t.push_back({"IPv4 DF set", v4().set_dont_fragment().wg_data(kLiveIndex, 0, 64).build(), kAccepted});
  // Transport data checks.
  t.push_back({"data, unknown index", data(kUnknownIndex), dropped(R::unknown_index)});
  t.push_back({"802.1Q-tagged data, unknown index", [] { PacketBuilder b; b.eth().vlan(100).ipv4("192.0.2.1", "198.51.100.1").udp(1, kPort); return data(kUnknownIndex, test::kWgData, b); }(), dropped(R::unknown_index)});
  t.push_back({"IPv6 data, unknown index", data(kUnknownIndex, test::kWgData, v6()), dropped(R::unknown_index)});
  t.push_back({"data type 0x84 on a ChaCha20 index", data(kLiveChacha, test::kWgDataAesGcm), dropped(R::cipher_mismatch)});
  t.push_back({"data type 4 on an AES-GCM index", data(kLiveAesGcm), dropped(R::cipher_mismatch)});
  // Type and length rules (WireGuard paper section 5.4; dataplane/core/messages.hpp).
  t.push_back({"data, 31 bytes", v4().wg_data(kLiveIndex, 0, 15).build(), dropped(R::msg_bad_length)});
  t.push_back({"AES-GCM data, 31 bytes", v4().wg_data(kLiveIndex, 0, 15, test::kWgDataAesGcm).build(), dropped(R::msg_bad_length)});
  t.push_back({"initiation, 147 bytes", v4().payload(message(1, 147)).build(), dropped(R::msg_bad_length)});
  t.push_back({"initiation, 149 bytes", v4().payload(message(1, 149)).build(), dropped(R::msg_bad_length)});
  t.push_back({"response, 91 bytes", v4().payload(message(2, 91)).build(), dropped(R::msg_bad_length)});
  t.push_back({"response, 93 bytes", v4().payload(message(2, 93)).build(), dropped(R::msg_bad_length)});
  t.push_back({"cookie reply, 63 bytes", v4().payload(message(3, 63)).build(), dropped(R::msg_bad_length)});
  t.push_back({"cookie reply, 65 bytes", v4().payload(message(3, 65)).build(), dropped(R::msg_bad_length)});
  t.push_back({"cookie reply sized like an initiation", v4().payload(message(3, 148)).build(), dropped(R::msg_bad_length)});
  t.push_back({"UDP payload of 3 bytes", v4().payload({4, 0, 0}).build(), dropped(R::msg_bad_length)});
  t.push_back({"empty UDP payload", v4().build(), dropped(R::msg_bad_length)});
  t.push_back({"type 0", v4().payload(message(0, 64)).build(), dropped(R::msg_bad_type)});
  t.push_back({"type 5", v4().payload(message(5, 64)).build(), dropped(R::msg_bad_type)});
  t.push_back({"type 0x85", v4().payload(message(0x85, 64)).build(), dropped(R::msg_bad_type)});
  t.push_back({"type 0xff, IPv6", v6().payload(message(0xff, 148)).build(), dropped(R::msg_bad_type)});
  t.push_back({"data with a reserved byte set", v4().payload(message(4, 64, 1)).build(), dropped(R::msg_bad_type)});
  t.push_back({"initiation with reserved bytes set", v4().payload(message(1, 148, 0x80)).build(), dropped(R::msg_bad_type)});
  // Outer IP/UDP inconsistencies of tunnel-looking packets.
  t.push_back({"UDP length 7", v4().set_udp_length(7).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_bad_udp)});
  t.push_back({"UDP length beyond the IP payload", v4().set_udp_length(200).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_bad_udp)});
  t.push_back({"IPv6 UDP length beyond the payload", v6().set_udp_length(200).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_bad_udp)});
  t.push_back({"IPv4 total length beyond the frame", v4().set_ip_total_length(400).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_truncated)});
  t.push_back({"IPv6 payload length beyond the frame", v6().set_ip_total_length(400).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_truncated)});
  t.push_back({"IPv4 total length shorter than IP+UDP headers", v4().set_ip_total_length(24).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_bad_ip)});
  t.push_back({"IPv6 payload length 0 (jumbogram)", v6().set_ip_total_length(40).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_bad_ip)});
  t.push_back({"first IPv4 fragment (MF) to the tunnel port", v4().set_fragment(true, 0).wg_data(kLiveIndex, 0, 64).build(), dropped(R::outer_bad_ip)});
  // Not ours: the kernel gets it untouched.
  t.push_back({"UDP to port 53", v4("192.0.2.1", 53).wg_data(kUnknownIndex, 0, 64).build(), kNotTunnel});
  t.push_back({"UDP from the tunnel port to another port", PacketBuilder().eth().ipv4("192.0.2.1", "198.51.100.1").udp(kPort, 9).payload(8).build(), kNotTunnel});
  t.push_back({"IPv6 UDP to port 53", v6("2001:db8::1", 53).payload(32).build(), kNotTunnel});
  t.push_back({"TCP SYN to the tunnel port", PacketBuilder().eth().ipv4("192.0.2.1", "198.51.100.1").tcp(40000, kPort).build(), kNotTunnel});
  t.push_back({"ICMP echo", PacketBuilder().eth().ipv4("192.0.2.1", "198.51.100.1").icmp_echo(1, 1).build(), kNotTunnel});
  t.push_back({"ARP request", PacketBuilder().eth("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff").arp_request("02:00:00:00:00:01", "192.0.2.1", "192.0.2.2").build(), kNotTunnel});
  t.push_back({"IPv6 neighbour solicitation", PacketBuilder().eth().ipv6("fe80::1", PacketBuilder::solicited_node_multicast("fe80::2"), 255).ipv6_neighbor_solicitation("fe80::2", "02:00:00:00:00:01").build(), kNotTunnel});
  t.push_back({"unknown EtherType", PacketBuilder().eth().payload(64).build(), kNotTunnel});
  t.push_back({"two VLAN tags (only one is parsed)", [] { PacketBuilder b; b.eth().vlan(1).vlan(2).ipv4("192.0.2.1", "198.51.100.1").udp(1, kPort); return data(kLiveIndex, test::kWgData, b); }(), kNotTunnel});
  t.push_back({"IPv4 EtherType, version 6", v4().set_ip_version(6).wg_data(kLiveIndex, 0, 64).build(), kNotTunnel});
  t.push_back({"IPv4 IHL 4", v4().set_ihl(4).wg_data(kLiveIndex, 0, 64).build(), kNotTunnel});
  t.push_back({"IPv4 non-first fragment", v4().set_fragment(false, 10).wg_data(kUnknownIndex, 0, 64).build(), kNotTunnel});
  t.push_back({"IPv6 with a hop-by-hop header (protocol 0)", v6().set_ip_protocol(0).wg_data(kLiveIndex, 0, 64).build(), kNotTunnel});
  t.push_back({"IPv6 EtherType, version 4", v6().set_ip_version(4).wg_data(kLiveIndex, 0, 64).build(), kNotTunnel});
  // clang-format on
  return t;
}

TEST_F(XdpProgramTest, PacketTable) {
  SKIP_UNLESS_ABLE();
  const auto cases = table();
  for (std::size_t i = 0; i < cases.size(); ++i)
    check("case " + std::to_string(i + 1) + ": " + cases[i].description, cases[i].packet,
          cases[i].expect);
}

// Every prefix of tunnel packets: a frame cut before the UDP destination port is complete is
// not known to be tunnel traffic (pass); after it, it is truncated tunnel traffic (drop). Never
// a run failure (the verifier accepted every access, and the bounds checks hold at run time).
TEST_F(XdpProgramTest, TruncatedAtEveryLayer) {
  SKIP_UNLESS_ABLE();
  struct Frame {
    const char* name;
    Bytes bytes;
    std::size_t udp_end;  // offset just past the UDP header
  };
  PacketBuilder vlan;
  vlan.eth().vlan(5).ipv4("192.0.2.1", "198.51.100.1").udp(1, kPort);
  const Frame frames[] = {
      {"IPv4 data", data(kLiveIndex), 14 + 20 + 8},
      {"IPv4 initiation", v4("192.0.2.9").wg_initiation_shaped().build(), 14 + 20 + 8},
      {"VLAN IPv4 data", data(kLiveIndex, test::kWgData, vlan), 18 + 20 + 8},
      {"IPv6 data", data(kLiveIndex, test::kWgData, v6()), 14 + 40 + 8},
  };
  for (const Frame& f : frames) {
    for (std::size_t n = 14; n < f.bytes.size(); ++n) {
      const Bytes cut(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(n));
      check(std::string(f.name) + " cut to " + std::to_string(n) + " bytes", cut,
            n < f.udp_end ? kNotTunnel : dropped(DropReason::outer_truncated));
    }
  }
  // Below an Ethernet header the kernel refuses the test run itself (a NIC never delivers it).
  const Bytes tiny(13, 0);
  EXPECT_EQ(run(tiny).err, -EINVAL);
}

TEST_F(XdpProgramTest, UnconfiguredProgramPassesEverything) {
  SKIP_UNLESS_ABLE();
  prog_->configure({0, true, 0});
  const Run r = run(v4().payload(message(0x77, 10)).build());
  EXPECT_EQ(r.verdict, XDP_PASS);
  EXPECT_EQ(r.delta.verdict(STRAIT_XDP_PASS_UNCONFIGURED), 1u);
  EXPECT_EQ(prog_->config().tunnel_port, 0);
  EXPECT_TRUE(prog_->config().allowlist);
}

TEST_F(XdpProgramTest, LiveIndicesFollowTheLoader) {
  SKIP_UNLESS_ABLE();
  check("before add", data(1234), dropped(DropReason::unknown_index));
  prog_->add_live_index(1234);
  check("after add", data(1234), kAccepted);
  prog_->remove_live_index(1234);
  prog_->remove_live_index(1234);  // absent: not an error
  check("after remove", data(1234), dropped(DropReason::unknown_index));
  // The index is the little-endian u32 of the wire: 0x01020304 is 04 03 02 01.
  prog_->add_live_index(0x01020304);
  Bytes f = data(0x01020304);
  EXPECT_EQ(f[14 + 20 + 8 + 4], 0x04);
  check("multi-byte index", f, kAccepted);
}

// Handshake messages carry no proof of their source address (only mac2 does, checked in
// straitd), so the program must not limit them per source: ~20 junk packets a second carrying
// a victim peer's address would drain its bucket and block its real handshakes (issue 11,
// item 3). A flood from one address, of every handshake type, all goes through to straitd.
TEST_F(XdpProgramTest, SpoofedHandshakeFloodFromOneAddressIsNotLimitedPerSource) {
  SKIP_UNLESS_ABLE();
  for (int i = 1; i <= 100; ++i)
    check("initiation " + std::to_string(i) + " from the victim's address",
          v4("192.0.2.10").wg_initiation_shaped().build(), kAccepted);
  check("response from the same address", v4("192.0.2.10").wg_response_shaped().build(), kAccepted);
  check("cookie reply from the same address", v4("192.0.2.10").wg_cookie_shaped().build(),
        kAccepted);
  for (int i = 1; i <= 20; ++i)
    check("IPv6 initiation " + std::to_string(i) + " from one /64",
          v6("2001:db8:1::1").wg_initiation_shaped().build(), kAccepted);
}

// The coarse global cap (config hs_per_second, hs_burst): one bucket for handshake messages of
// every source together; data is never capped. The clock is injected (config.test_now_ns), so
// this is exact and not timing-dependent.
TEST_F(XdpProgramTest, HandshakeGlobalCap) {
  SKIP_UNLESS_ABLE();
  XdpConfig c{kPort, false, kT0, 20, 3};  // 50 ms per message, burst 3
  prog_->configure(c);
  EXPECT_EQ(prog_->config().handshakes_per_second, 20u);
  EXPECT_EQ(prog_->config().handshake_burst, 3u);
  const auto init = [](const char* src) { return v4(src).wg_initiation_shaped().build(); };
  const Expect capped = dropped(DropReason::handshake_rate_limited);
  check("burst 1: initiation from A", init("192.0.2.10"), kAccepted);
  check("burst 2: response from B", v4("192.0.2.11").wg_response_shaped().build(), kAccepted);
  check("burst 3: IPv6 initiation", v6("2001:db8:1::1").wg_initiation_shaped().build(), kAccepted);
  check("burst spent: another source is capped too", init("192.0.2.12"), capped);
  check("cookie reply: capped", v4("192.0.2.13").wg_cookie_shaped().build(), capped);
  check("data is never capped", data(kLiveIndex), kAccepted);

  c.test_now_ns = kT0 + 49 * kMs;
  prog_->configure(c);
  check("49 ms later: still spent", init("192.0.2.10"), capped);
  c.test_now_ns = kT0 + 50 * kMs;
  prog_->configure(c);
  check("50 ms later: one message", init("192.0.2.14"), kAccepted);
  check("and only one", init("192.0.2.15"), capped);
  c.test_now_ns = kT0 + 60'000 * kMs;
  prog_->configure(c);
  for (int i = 1; i <= 3; ++i)
    check("a minute later, burst " + std::to_string(i), init("192.0.2.10"), kAccepted);
  check("burst capped at 3", init("192.0.2.10"), capped);
  c.test_now_ns = kT0;
  prog_->configure(c);
  check("clock going back adds nothing", init("192.0.2.10"), capped);

  c.handshakes_per_second = 0;
  prog_->configure(c);
  for (int i = 1; i <= 10; ++i)
    check("cap off " + std::to_string(i), init("192.0.2.10"), kAccepted);
}

TEST_F(XdpProgramTest, AllowList) {
  SKIP_UNLESS_ABLE();
  prog_->allow_prefix(endpoint_prefix("192.0.2.0/24"));
  prog_->allow_prefix(endpoint_prefix("2001:db8:1::/48"));
  prog_->allow_prefix(endpoint_prefix("203.0.113.7"));
  check("flag off: outside source accepted", data(kLiveIndex, test::kWgData, v4("198.18.0.1")),
        kAccepted);

  prog_->configure({kPort, true, kT0});
  const Expect outside = dropped(DropReason::source_not_allowed);
  check("inside /24", data(kLiveIndex, test::kWgData, v4("192.0.2.200")), kAccepted);
  check("host prefix", data(kLiveIndex, test::kWgData, v4("203.0.113.7")), kAccepted);
  check("next to the host prefix", data(kLiveIndex, test::kWgData, v4("203.0.113.8")), outside);
  check("outside", data(kLiveIndex, test::kWgData, v4("198.18.0.1")), outside);
  check("outside, unknown index: allow-list first",
        data(kUnknownIndex, test::kWgData, v4("198.18.0.1")), outside);
  check("IPv6 inside /48", data(kLiveIndex, test::kWgData, v6("2001:db8:1:ff::1")), kAccepted);
  check("IPv6 outside", data(kLiveIndex, test::kWgData, v6("2001:db8:2::1")), outside);
  check("IPv4-mapped-looking IPv6 source is not IPv4",
        data(kLiveIndex, test::kWgData, v6("::ffff:192.0.2.1")), outside);
  check("non-tunnel traffic from outside still passes",
        PacketBuilder().eth().ipv4("198.18.0.1", "198.51.100.1").udp(1, 53).payload(8).build(),
        kNotTunnel);

  check("initiation from outside", v4("198.18.0.2").wg_initiation_shaped().build(), outside);

  prog_->disallow_prefix(endpoint_prefix("192.0.2.99/24"));  // host bits ignored
  check("after removing the /24", data(kLiveIndex, test::kWgData, v4("192.0.2.200")), outside);
  prog_->disallow_prefix(endpoint_prefix("192.0.2.0/24"));  // absent: not an error
}

// Drops per second for a garbage flood (no assertion: speed lives in perf/, DESIGN.md section 8).
TEST_F(XdpProgramTest, PerfGarbageFloodNote) {
  SKIP_UNLESS_ABLE();
  struct Flood {
    const char* name;
    Bytes frame;
  };
  const Flood floods[] = {
      {"bad type", v4().payload(message(0x77, 128)).build()},
      {"unknown index", data(kUnknownIndex)},
      {"rate-limited initiation", v4("192.0.2.77").wg_initiation_shaped().build()},
      {"non-tunnel UDP (pass)", v4("192.0.2.1", 53).payload(128).build()},
  };
  for (const Flood& f : floods) {
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = f.frame.data();
    opts.data_size_in = static_cast<std::uint32_t>(f.frame.size());
    opts.repeat = 1'000'000;
    ASSERT_EQ(bpf_prog_test_run_opts(prog_->program_fd(), &opts), 0);
    const double ns = opts.duration > 0 ? opts.duration : 1;
    std::printf("[ perf     ] %-26s %4u ns/packet  %6.2f Mpps on one core (verdict %u)\n", f.name,
                opts.duration, 1e3 / ns, opts.retval);
  }
}

// ---- interfaces (private network namespace) ----

void enter_private_netns() {
  static bool done = false;
  if (done) return;
  ASSERT_EQ(unshare(CLONE_NEWNET), 0) << std::strerror(errno);
  ASSERT_EQ(std::system("ip link set lo up"), 0);
  done = true;
}

std::string test_pin_root() { return "/sys/fs/bpf/strait-test-" + std::to_string(getpid()); }

std::uint32_t attached_prog_id(const char* ifname) {
  std::uint32_t id = 0;
  EXPECT_EQ(bpf_xdp_query_id(static_cast<int>(if_nametoindex(ifname)), 0, &id), 0);
  return id;
}

TEST(XdpLoaderTest, GenericFallbackPinsLiveTrafficAndCleanup) {
  SKIP_UNLESS_ABLE();
  enter_private_netns();
  const std::string root = test_pin_root();
  EXPECT_FALSE(XdpProgram::remove_stale("lo", root));  // nothing there yet
  {
    XdpProgram prog = XdpProgram::load(kObject);
    prog.configure({kPort, false, 0});
    // lo has no native XDP: the loader must fall back to generic mode, or refuse if told to.
    EXPECT_THROW(prog.attach("lo", /*allow_generic_fallback=*/false, root), XdpError);
    EXPECT_EQ(prog.attach("lo", true, root), AttachMode::generic);
    EXPECT_NE(attached_prog_id("lo"), 0u);
    EXPECT_TRUE(std::filesystem::exists(root + "/lo/" STRAIT_XDP_MAP_XSKS));
    EXPECT_TRUE(std::filesystem::exists(root + "/lo/" STRAIT_XDP_MAP_DROPS));

    // Live traffic: garbage to the tunnel port over lo, seen through the pinned maps.
    XdpProgram agent = XdpProgram::open_pinned("lo", root);
    EXPECT_EQ(agent.program_fd(), -1);
    EXPECT_EQ(agent.config().tunnel_port, kPort);
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(s, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kPort);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::uint8_t garbage[40] = {0x77};
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(sendto(s, garbage, sizeof garbage, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                40);
    close(s);
    EXPECT_EQ(agent.read_counters().drop(DropReason::msg_bad_type), 3u);
    agent.add_live_index(42);  // the agent's handle writes the same maps
    std::uint32_t key = 42;
    strait_xdp_live_index v{};
    EXPECT_EQ(bpf_map_lookup_elem(prog.map_fd(STRAIT_XDP_MAP_LIVE_INDICES), &key, &v), 0);

    prog.detach();
    EXPECT_EQ(attached_prog_id("lo"), 0u);
    EXPECT_FALSE(std::filesystem::exists(root + "/lo"));
    prog.detach();  // idempotent
  }
  {
    // A crashed run: attached and pinned, never detached.
    XdpProgram crashed = XdpProgram::load(kObject);
    (void)crashed.attach("lo", true, root);
  }
  EXPECT_NE(attached_prog_id("lo"), 0u);
  EXPECT_TRUE(std::filesystem::exists(root + "/lo"));
  EXPECT_TRUE(XdpProgram::remove_stale("lo", root));
  EXPECT_EQ(attached_prog_id("lo"), 0u);
  EXPECT_FALSE(std::filesystem::exists(root + "/lo"));
  std::filesystem::remove_all(root);
}

// A program attached by someone else (as DPDK's net_af_xdp PMD does with xdp_prog=): adopt()
// finds it and its maps, configures and pins them; a foreign program is left alone.
TEST(XdpLoaderTest, NativeAttachAdoptAndForeignProgram) {
  SKIP_UNLESS_ABLE();
  enter_private_netns();
  ASSERT_EQ(
      std::system("ip link add sx-veth0 type veth peer name sx-veth1 && ip link set sx-veth0 up && "
                  "ip link set sx-veth1 up"),
      0);
  const std::string root = test_pin_root();
  XdpProgram owner = XdpProgram::load(kObject);
  EXPECT_EQ(owner.attach("sx-veth0", false, root), AttachMode::native);  // veth has native XDP
  EXPECT_THROW(XdpProgram::load(kObject).attach("sx-veth0", true, root),
               XdpError);  // never replaces

  XdpProgram adopted = XdpProgram::adopt("sx-veth0", root);
  adopted.configure({kPort, true, 0});
  EXPECT_EQ(owner.config().tunnel_port, kPort);  // the same maps
  EXPECT_TRUE(owner.config().allowlist);
  adopted.detach();  // unpins only: the attacher owns the attachment
  EXPECT_NE(attached_prog_id("sx-veth0"), 0u);
  owner.detach();
  EXPECT_EQ(attached_prog_id("sx-veth0"), 0u);
  EXPECT_THROW((void)XdpProgram::adopt("sx-veth0", root), XdpError);
  EXPECT_THROW((void)XdpProgram::open_pinned("sx-veth0", root), XdpError);
  EXPECT_THROW((void)XdpProgram::adopt("no-such-if", root), XdpError);
  std::filesystem::remove_all(root);
}

// With a bound AF_XDP socket in xsks_map at the packet's RX queue, the helper returns
// XDP_REDIRECT (and tunnel_redirected counts it); other queues still fall back to XDP_PASS.
TEST_F(XdpProgramTest, RedirectToABoundAfXdpSocket) {
  SKIP_UNLESS_ABLE();
  enter_private_netns();
  if (if_nametoindex("sx-veth2") == 0) {
    ASSERT_EQ(std::system(
                  "ip link add sx-veth2 type veth peer name sx-veth3 && ip link set sx-veth2 up && "
                  "ip link set sx-veth3 up"),
              0);
  }
  constexpr std::size_t kFrames = 64, kFrameSize = 4096;
  void* area = mmap(nullptr, kFrames * kFrameSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
  xsk_umem* umem = nullptr;
  ASSERT_EQ(xsk_umem__create(&umem, area, kFrames * kFrameSize, &fill, &comp, nullptr), 0);
  xsk_socket_config cfg{};
  cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
  cfg.tx_size = 0;
  cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // as the PMD with xdp_prog=: our program
  cfg.bind_flags = XDP_COPY;
  xsk_socket* xsk = nullptr;
  const int err = xsk_socket__create(&xsk, "sx-veth2", 0, umem, &rx, nullptr, &cfg);
  ASSERT_EQ(err, 0) << std::strerror(-err);
  const std::uint32_t queue = 0;
  const int fd = xsk_socket__fd(xsk);
  ASSERT_EQ(bpf_map_update_elem(prog_->map_fd(STRAIT_XDP_MAP_XSKS), &queue, &fd, BPF_ANY), 0);

  xdp_md ctx{};
  ctx.ingress_ifindex = if_nametoindex("sx-veth2");
  ctx.rx_queue_index = 0;
  const Run r = run(data(kLiveIndex), ctx);
  ASSERT_EQ(r.err, 0) << std::strerror(-r.err);
  EXPECT_EQ(r.verdict, XDP_REDIRECT) << describe(r.delta);
  EXPECT_EQ(r.delta.verdict(STRAIT_XDP_TUNNEL_ACCEPTED), 1u);
  EXPECT_EQ(r.delta.verdict(STRAIT_XDP_TUNNEL_REDIRECTED), 1u);
  EXPECT_EQ(r.delta.verdict(STRAIT_XDP_TUNNEL_NO_SOCKET), 0u);
  // Rejected packets are still dropped, not redirected.
  EXPECT_EQ(run(data(kUnknownIndex), ctx).verdict, XDP_DROP);

  xsk_socket__delete(xsk);
  (void)xsk_umem__delete(umem);
  munmap(area, kFrames * kFrameSize);
}

}  // namespace
}  // namespace strait::ebpf

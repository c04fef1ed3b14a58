// The WireGuard cross-platform UAPI (https://www.wireguard.com/xplatform/): the text protocol
// on the page's own examples and on every malformed line we could think of, the round trips
// render_get -> parse_get and render_set -> parse_set, and the socket server with a client.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "uapi/client.hpp"
#include "uapi/model.hpp"
#include "uapi/protocol.hpp"
#include "uapi/server.hpp"

namespace strait::uapi {
namespace {

using ::testing::HasSubstr;

Key key_of(const char* hex) {
  auto k = key_from_hex(hex);
  EXPECT_TRUE(k.has_value()) << hex;
  return k.value_or(Key{});
}

Key key_filled(std::uint8_t b) {
  Key k;
  k.fill(b);
  return k;
}

// The set example of the xplatform page, verbatim.
constexpr const char* kSpecSet =
    "set=1\n"
    "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
    "fwmark=0\n"
    "listen_port=12912\n"
    "public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n"
    "preshared_key=188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52\n"
    "replace_allowed_ips=true\n"
    "allowed_ip=192.168.4.4/32\n"
    "endpoint=[abcd:23::33%2]:51820\n"
    "public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376\n"
    "replace_allowed_ips=true\n"
    "allowed_ip=192.168.4.6/32\n"
    "persistent_keepalive_interval=111\n"
    "endpoint=182.122.22.19:3233\n"
    "public_key=662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58\n"
    "endpoint=5.152.198.39:51820\n"
    "replace_allowed_ips=true\n"
    "allowed_ip=192.168.4.10/32\n"
    "allowed_ip=192.168.4.11/32\n"
    "public_key=e818b58db5274087fcc1be5dc728cf53d3b5726b4cef6b9bab8f8f8c2452c25c\n"
    "remove=true\n"
    "\n";

// The get reply example of the xplatform page, verbatim.
constexpr const char* kSpecGet =
    "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
    "listen_port=12912\n"
    "public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n"
    "preshared_key=188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52\n"
    "allowed_ip=192.168.4.4/32\n"
    "endpoint=[abcd:23::33%2]:51820\n"
    "public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376\n"
    "tx_bytes=38333\n"
    "rx_bytes=2224\n"
    "allowed_ip=192.168.4.6/32\n"
    "persistent_keepalive_interval=111\n"
    "endpoint=182.122.22.19:3233\n"
    "public_key=662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58\n"
    "endpoint=5.152.198.39:51820\n"
    "allowed_ip=192.168.4.10/32\n"
    "allowed_ip=192.168.4.11/32\n"
    "tx_bytes=1212111\n"
    "rx_bytes=1929999999\n"
    "protocol_version=1\n"
    "errno=0\n"
    "\n";

// ---- keys, addresses ----

TEST(UapiModel, KeyHex) {
  const Key k = key_of("e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a");
  EXPECT_EQ(k[0], 0xe8);
  EXPECT_EQ(k[31], 0x7a);
  EXPECT_EQ(key_to_hex(k), "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a");
  EXPECT_EQ(key_to_hex(*key_from_hex(std::string(64, 'A'))), std::string(64, 'a'));
  EXPECT_FALSE(key_from_hex(std::string(63, 'a')));
  EXPECT_FALSE(key_from_hex(std::string(65, 'a')));
  EXPECT_FALSE(key_from_hex(std::string(63, 'a') + "g"));
  EXPECT_FALSE(key_from_hex(""));
  EXPECT_TRUE(key_is_zero(Key{}));
  EXPECT_FALSE(key_is_zero(k));
}

TEST(UapiModel, Cipher) {
  EXPECT_EQ(cipher_name(Cipher::aes256_gcm), "aes256-gcm");
  EXPECT_EQ(cipher_name(Cipher::chacha20_poly1305), "chacha20-poly1305");
  EXPECT_EQ(cipher_from_name("aes256-gcm"), Cipher::aes256_gcm);
  EXPECT_EQ(cipher_from_name("chacha20-poly1305"), Cipher::chacha20_poly1305);
  EXPECT_FALSE(cipher_from_name("aes-256-gcm"));
  EXPECT_FALSE(cipher_from_name(""));
}

TEST(UapiModel, AllowedIpParseAndFormat) {
  struct Case {
    const char* text;
    bool ok;
    std::uint8_t family;
    std::uint8_t cidr;
    const char* back;
  };
  const Case cases[] = {
      /* 1 */ {"10.0.0.0/24", true, 4, 24, "10.0.0.0/24"},
      /* 2 */ {"0.0.0.0/0", true, 4, 0, "0.0.0.0/0"},
      /* 3 */ {"192.168.4.4/32", true, 4, 32, "192.168.4.4/32"},
      /* 4 */ {"fd00::/64", true, 6, 64, "fd00::/64"},
      /* 5 */ {"::/0", true, 6, 0, "::/0"},
      /* 6 */ {"FD00:0:0::1/128", true, 6, 128, "fd00::1/128"},
      /* 7 */ {"10.0.0.1/33", false, 0, 0, ""},
      /* 8 */ {"fd00::/129", false, 0, 0, ""},
      /* 9 */ {"10.0.0.1", false, 0, 0, ""},
      /* 10 */ {"10.0.0.1/", false, 0, 0, ""},
      /* 11 */ {"10.0.0/8", false, 0, 0, ""},
      /* 12 */ {"10.0.0.1/-1", false, 0, 0, ""},
      /* 13 */ {"10.0.0.1/+8", false, 0, 0, ""},
      /* 14 */ {"10.0.0.1/08", false, 0, 0, ""},
      /* 15 */ {"host.example/32", false, 0, 0, ""},
      /* 16 */ {"/24", false, 0, 0, ""},
      /* 17 */ {"10.0.0.1/24 ", false, 0, 0, ""},
  };
  int i = 0;
  for (const Case& c : cases) {
    ++i;
    auto r = IpPrefix::parse(c.text);
    ASSERT_EQ(r.ok(), c.ok) << "case " << i << ": " << c.text;
    if (!c.ok) {
      EXPECT_EQ(r.error().code, EINVAL) << "case " << i;
      continue;
    }
    EXPECT_EQ(static_cast<std::uint8_t>(r->family), c.family) << "case " << i;
    EXPECT_EQ(r->len, c.cidr) << "case " << i;
    EXPECT_EQ(r->to_string(), c.back) << "case " << i;
  }
  EXPECT_EQ(*IpPrefix::parse("10.1.2.3/8"), IpPrefix::v4({10, 1, 2, 3}, 8));
}

TEST(UapiModel, EndpointParseAndFormat) {
  struct Case {
    const char* text;
    bool ok;
    const char* back;
  };
  const Case cases[] = {
      /* 1 */ {"1.2.3.4:51820", true, "1.2.3.4:51820"},
      /* 2 */ {"[fd00::1]:51820", true, "[fd00::1]:51820"},
      /* 3 */ {"[abcd:23::33%2]:51820", true, "[abcd:23::33%2]:51820"},
      /* 4 */ {"[fe80::1%lo]:1", true, nullptr},  // interface name becomes its index
      /* 5 */ {"127.0.0.1:0", true, "127.0.0.1:0"},
      /* 6 */ {"1.2.3.4:65535", true, "1.2.3.4:65535"},
      /* 7 */ {"1.2.3.4:65536", false, nullptr},
      /* 8 */ {"1.2.3.4", false, nullptr},
      /* 9 */ {"1.2.3.4:", false, nullptr},
      /* 10 */ {"fd00::1:51820", false, nullptr},  // IPv6 needs brackets
      /* 11 */ {"[fd00::1]51820", false, nullptr},
      /* 12 */ {"[fd00::1:51820", false, nullptr},
      /* 13 */ {"example.com:51820", false, nullptr},  // no name resolution here
      /* 14 */ {"[fe80::1%no-such-if0]:1", false, nullptr},
      /* 15 */ {"", false, nullptr},
      /* 16 */ {"1.2.3.4:-1", false, nullptr},
  };
  int i = 0;
  for (const Case& c : cases) {
    ++i;
    auto r = Endpoint::parse(c.text);
    ASSERT_EQ(r.ok(), c.ok) << "case " << i << ": " << c.text;
    if (c.ok && c.back != nullptr) {
      EXPECT_EQ(r->to_string(), c.back) << "case " << i;
    }
  }
  auto lo = Endpoint::parse("[fe80::1%lo]:1");
  ASSERT_TRUE(lo.ok());
  EXPECT_EQ(lo->scope_id, 1u);  // the loopback interface is index 1 in every namespace

  const Endpoint v4 = Endpoint::v4({127, 0, 0, 1}, 51820);
  EXPECT_EQ(*Endpoint::parse("127.0.0.1:51820"), v4);
  const sockaddr_storage ss = v4.to_sockaddr();
  EXPECT_EQ(ss.ss_family, AF_INET);
  EXPECT_EQ(Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss)), v4);
  const Endpoint v6 = *Endpoint::parse("[abcd:23::33%2]:51820");
  const sockaddr_storage ss6 = v6.to_sockaddr();
  EXPECT_EQ(ss6.ss_family, AF_INET6);
  EXPECT_EQ(Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss6)), v6);
}

// ---- parse_set ----

TEST(UapiSet, SpecExample) {
  auto r = parse_set(kSpecSet);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const DeviceChange& c = *r;
  EXPECT_EQ(c.private_key,
            key_of("e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"));
  EXPECT_EQ(c.fwmark, 0u);
  EXPECT_EQ(c.listen_port, 12912);
  EXPECT_FALSE(c.replace_peers);
  ASSERT_EQ(c.peers.size(), 4u);

  const PeerChange& p0 = c.peers[0];
  EXPECT_EQ(p0.public_key,
            key_of("b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"));
  EXPECT_EQ(p0.preshared_key,
            key_of("188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"));
  EXPECT_TRUE(p0.replace_allowed_ips);
  ASSERT_EQ(p0.allowed_ips.size(), 1u);
  EXPECT_EQ(p0.allowed_ips[0].to_string(), "192.168.4.4/32");
  ASSERT_TRUE(p0.endpoint);
  EXPECT_EQ(p0.endpoint->family, 6);
  EXPECT_EQ(p0.endpoint->scope_id, 2u);
  EXPECT_EQ(p0.endpoint->port, 51820);
  EXPECT_FALSE(p0.persistent_keepalive);
  EXPECT_FALSE(p0.remove);

  const PeerChange& p1 = c.peers[1];
  EXPECT_EQ(p1.persistent_keepalive, 111);
  EXPECT_EQ(p1.endpoint, Endpoint::v4({182, 122, 22, 19}, 3233));
  EXPECT_FALSE(p1.preshared_key);

  const PeerChange& p2 = c.peers[2];
  ASSERT_EQ(p2.allowed_ips.size(), 2u);
  EXPECT_EQ(p2.allowed_ips[1], IpPrefix::v4({192, 168, 4, 11}, 32));

  const PeerChange& p3 = c.peers[3];
  EXPECT_EQ(p3.public_key,
            key_of("e818b58db5274087fcc1be5dc728cf53d3b5726b4cef6b9bab8f8f8c2452c25c"));
  EXPECT_TRUE(p3.remove);
  EXPECT_FALSE(p3.endpoint);
}

TEST(UapiSet, BodyFormsAccepted) {
  // Without the set=1 line, without the final empty line, empty.
  const std::string pk = "public_key=" + std::string(64, '1') + "\n";
  EXPECT_TRUE(parse_set(pk).ok());
  EXPECT_TRUE(parse_set(pk + "\n").ok());
  EXPECT_TRUE(parse_set("set=1\n" + pk + "\n").ok());
  auto empty = parse_set("set=1\n\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, DeviceChange{});
  auto flags = parse_set("set=1\nreplace_peers=true\n" + pk +
                         "update_only=true\nprotocol_version=1\nstrait_cipher=aes256-gcm\n"
                         "persistent_keepalive_interval=0\n\n");
  ASSERT_TRUE(flags.ok()) << flags.error().message;
  EXPECT_TRUE(flags->replace_peers);
  EXPECT_TRUE(flags->peers[0].update_only);
  EXPECT_EQ(flags->peers[0].cipher, Cipher::aes256_gcm);
  EXPECT_EQ(flags->peers[0].persistent_keepalive, 0);
  auto zero = parse_set("private_key=" + std::string(64, '0') + "\nfwmark=4294967295\n");
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(key_is_zero(*zero->private_key));  // the spec's way to remove the key
  EXPECT_EQ(zero->fwmark, 4294967295u);
}

// Each bad line gives an error naming its line (counted from "set=1" as line 1) and its key.
TEST(UapiSet, BadLinesNameLineAndKey) {
  const std::string pk = "public_key=" + std::string(64, 'a') + "\n";
  struct Case {
    std::string body;
    int code;
    std::string must_contain;
  };
  const Case cases[] = {
      /* 1 */ {"set=1\nlisten_port=1\nfwmark=2\npublic_key=abc\n\n", EINVAL,
               "line 4: invalid public_key: not 64 hex digits"},
      /* 2 */ {"set=1\nprivate_key=xyz\n\n", EINVAL, "line 2: invalid private_key"},
      /* 3 */ {"set=1\nlisten_port=65536\n\n", EINVAL, "line 2: invalid listen_port"},
      /* 4 */ {"set=1\nlisten_port=-1\n\n", EINVAL, "line 2: invalid listen_port"},
      /* 5 */ {"set=1\nlisten_port=\n\n", EINVAL, "line 2: invalid listen_port"},
      /* 6 */ {"set=1\nfwmark=0x10\n\n", EINVAL, "line 2: invalid fwmark"},
      /* 7 */ {"set=1\nfwmark=4294967296\n\n", EINVAL, "line 2: invalid fwmark"},
      /* 8 */ {"set=1\nreplace_peers=false\n\n", EINVAL, "line 2: invalid replace_peers"},
      /* 9 */ {"set=1\nnonsense\n\n", EPROTO, "line 2: expected key=value"},
      /* 10 */ {"set=1\nbogus=1\n\n", EINVAL, "line 2: unknown device key \"bogus\""},
      /* 11 */ {"set=1\nallowed_ip=10.0.0.0/8\n\n", EINVAL, "line 2: allowed_ip is a peer key"},
      /* 12 */
      {"set=1\n" + pk + "listen_port=1\n\n", EINVAL,
       "line 3: listen_port is a device key and must come before the first public_key"},
      /* 13 */ {"set=1\n" + pk + "remove=1\n\n", EINVAL, "line 3: invalid remove"},
      /* 14 */ {"set=1\n" + pk + "update_only=yes\n\n", EINVAL, "line 3: invalid update_only"},
      /* 15 */ {"set=1\n" + pk + "preshared_key=00\n\n", EINVAL, "line 3: invalid preshared_key"},
      /* 16 */ {"set=1\n" + pk + "endpoint=1.2.3.4\n\n", EINVAL, "line 3: invalid endpoint"},
      /* 17 */
      {"set=1\n" + pk + "persistent_keepalive_interval=65536\n\n", EINVAL,
       "line 3: invalid persistent_keepalive_interval"},
      /* 18 */
      {"set=1\n" + pk + "replace_allowed_ips=TRUE\n\n", EINVAL,
       "line 3: invalid replace_allowed_ips"},
      /* 19 */
      {"set=1\n" + pk + "allowed_ip=10.0.0.0/8\nallowed_ip=10.0.0.0/40\n\n", EINVAL,
       "line 4: invalid allowed_ip"},
      /* 20 */
      {"set=1\n" + pk + "protocol_version=2\n\n", EINVAL, "line 3: invalid protocol_version"},
      /* 21 */
      {"set=1\n" + pk + "strait_cipher=aes128-gcm\n\n", EINVAL, "line 3: invalid strait_cipher"},
      /* 22 */
      {"set=1\n" + pk + "strait_ciphr=aes256-gcm\n\n", EINVAL,
       "line 3: unknown strait extension key \"strait_ciphr\""},
      /* 23 */ {"set=1\nstrait_whatever=1\n\n", EINVAL, "line 2: unknown strait extension key"},
      /* 24 */ {"set=1\n" + pk + "tx_bytes=5\n\n", EINVAL, "line 3: unknown peer key \"tx_bytes\""},
      /* 25 */ {"set=1\n" + pk + "\nlisten_port=1\n", EPROTO, "line 4: data after the empty line"},
      /* 26 */ {"set=1\n" + pk + "endpoint =1.2.3.4:1\n\n", EINVAL, "line 3: unknown peer key"},
      /* 27 */ {"set=1\nlisten_port=1 \n\n", EINVAL, "line 2: invalid listen_port"},
      /* 28 */
      {"set=1\n" + pk + "allowed_ip=10.0.0.0/8\r\n\n", EINVAL, "line 3: invalid allowed_ip"},
  };
  int i = 0;
  for (const Case& c : cases) {
    ++i;
    auto r = parse_set(c.body);
    ASSERT_FALSE(r.ok()) << "case " << i;
    EXPECT_EQ(r.error().code, c.code) << "case " << i << ": " << r.error().message;
    EXPECT_THAT(r.error().message, HasSubstr(c.must_contain)) << "case " << i;
  }
}

TEST(UapiSet, RenderParseRoundTrip) {
  DeviceChange c;
  c.private_key = key_filled(0x11);
  c.listen_port = 51820;
  c.fwmark = 0x1234;
  c.replace_peers = true;
  PeerChange a;
  a.public_key = key_filled(0x22);
  a.preshared_key = key_filled(0x33);
  a.endpoint = *Endpoint::parse("[fd00::1]:51821");
  a.persistent_keepalive = 25;
  a.replace_allowed_ips = true;
  a.allowed_ips = {IpPrefix::v4({10, 0, 0, 0}, 24), *IpPrefix::parse("fd00:1::/64")};
  a.cipher = Cipher::aes256_gcm;
  PeerChange b;
  b.public_key = key_filled(0x44);
  b.remove = true;
  PeerChange d;
  d.public_key = key_filled(0x55);
  d.update_only = true;
  d.cipher = Cipher::chacha20_poly1305;
  c.peers = {a, b, d};

  const std::string text = render_set(c);
  EXPECT_EQ(text.substr(0, 6), "set=1\n");
  EXPECT_EQ(text.substr(text.size() - 2), "\n\n");
  EXPECT_THAT(text, HasSubstr("persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
                              "allowed_ip=10.0.0.0/24\nallowed_ip=fd00:1::/64\n"
                              "strait_cipher=aes256-gcm\n"));
  auto back = parse_set(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, c);
}

// ---- get ----

TEST(UapiGet, SpecExample) {
  auto r = parse_get(kSpecGet);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const DeviceState& s = *r;
  EXPECT_EQ(s.listen_port, 12912);
  EXPECT_EQ(s.fwmark, 0u);
  ASSERT_EQ(s.peers.size(), 3u);
  EXPECT_EQ(s.peers[1].tx_bytes, 38333u);
  EXPECT_EQ(s.peers[1].rx_bytes, 2224u);
  EXPECT_EQ(s.peers[1].persistent_keepalive, 111);
  EXPECT_EQ(s.peers[2].rx_bytes, 1929999999u);
  EXPECT_EQ(s.peers[2].allowed_ips.size(), 2u);
  EXPECT_EQ(s.peers[0].endpoint->to_string(), "[abcd:23::33%2]:51820");
  EXPECT_EQ(s.peers[0].cipher, Cipher::chacha20_poly1305);  // no strait keys: the default
}

TEST(UapiGet, RenderExactFormat) {
  DeviceState s;
  s.private_key = key_filled(0x01);
  s.listen_port = 51820;
  s.drops = {{"replay", 3}};
  s.handshakes.initiations_sent = 4;
  s.handshakes.cookie_replies_sent = 6;
  s.handshakes.completed = 2;
  s.under_load = true;
  PeerState p;
  p.public_key = key_filled(0x02);
  p.endpoint = Endpoint::v4({127, 0, 0, 1}, 51820);
  p.last_handshake_sec = 1700000000;
  p.last_handshake_nsec = 5;
  p.rx_bytes = 10;
  p.tx_bytes = 20;
  p.persistent_keepalive = 25;
  p.allowed_ips = {IpPrefix::v4({10, 0, 0, 0}, 24)};
  p.cipher = Cipher::aes256_gcm;
  p.rx_packets = 1;
  p.tx_packets = 2;
  p.drops = {{"auth_failed", 7}, {"Bad=Name\n", 9}};
  s.peers = {p};
  std::string ones;
  for (int i = 0; i < 32; ++i) ones += "01";
  const std::string expected =
      "private_key=" + ones +
      "\n"
      "listen_port=51820\n"
      "strait_drop_replay=3\n"
      "strait_handshake_rx_initiation=0\n"
      "strait_handshake_tx_initiation=4\n"
      "strait_handshake_rx_response=0\n"
      "strait_handshake_tx_response=0\n"
      "strait_handshake_rx_cookie_reply=0\n"
      "strait_handshake_tx_cookie_reply=6\n"
      "strait_handshakes_completed=2\n"
      "strait_under_load=1\n"
      "public_key=0202020202020202020202020202020202020202020202020202020202020202\n"
      "preshared_key=" +
      std::string(64, '0') +
      "\n"
      "protocol_version=1\n"
      "endpoint=127.0.0.1:51820\n"
      "last_handshake_time_sec=1700000000\n"
      "last_handshake_time_nsec=5\n"
      "tx_bytes=20\n"
      "rx_bytes=10\n"
      "persistent_keepalive_interval=25\n"
      "allowed_ip=10.0.0.0/24\n"
      "strait_cipher=aes256-gcm\n"
      "strait_rx_packets=1\n"
      "strait_tx_packets=2\n"
      "strait_drop_auth_failed=7\n";  // the counter with an unusable name is left out
  EXPECT_EQ(render_get(s), expected);
}

TEST(UapiGet, RoundTrip) {
  DeviceState s;
  s.private_key = key_filled(0xaa);
  s.listen_port = 1;
  s.fwmark = 77;
  s.drops = {{"no_route", 1}, {"tx_failed", 0}};
  s.handshakes = {1, 2, 3, 4, 5, 6, UINT64_MAX};
  s.under_load = true;
  for (int i = 0; i < 3; ++i) {
    PeerState p;
    p.public_key = key_filled(static_cast<std::uint8_t>(i + 1));
    p.preshared_key = i == 1 ? key_filled(0x99) : Key{};
    if (i != 2) p.endpoint = i == 0 ? Endpoint::v4({1, 2, 3, 4}, 5) : *Endpoint::parse("[::1]:6");
    p.last_handshake_sec = 100u + static_cast<unsigned>(i);
    p.last_handshake_nsec = 999999999;
    p.rx_bytes = UINT64_MAX;
    p.tx_bytes = 3;
    p.persistent_keepalive = 65535;
    p.allowed_ips = {IpPrefix::v4({10, 0, static_cast<std::uint8_t>(i), 0}, 24),
                     *IpPrefix::parse("fd00::/8")};
    p.cipher = i == 0 ? Cipher::aes256_gcm : Cipher::chacha20_poly1305;
    p.rx_packets = 4;
    p.tx_packets = 5;
    p.drops = {{"replay", static_cast<std::uint64_t>(i)}};
    s.peers.push_back(p);
  }
  auto back = parse_get(render_get(s) + render_errno(0));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  auto bare = parse_get(render_get(s));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*bare, s);
  EXPECT_EQ(*parse_get(render_get(DeviceState{})), DeviceState{});
}

TEST(UapiGet, ErrorsAndUnknownKeys) {
  auto e = parse_get("errno=-22\n\n");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, EINVAL);
  EXPECT_EQ(parse_get("errno=71\n\n").error().code, 71);
  auto unknown = parse_get("listen_port=5\nfuture_key=x\npublic_key=" + std::string(64, 'b') +
                           "\nstrait_future=1\nother=2\nerrno=0\n\n");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->listen_port, 5);
  EXPECT_EQ(unknown->peers.size(), 1u);
  EXPECT_THAT(parse_get("listen_port=x\n").error().message,
              HasSubstr("line 1: invalid listen_port"));
  EXPECT_THAT(parse_get("public_key=" + std::string(64, 'b') + "\ntx_bytes=-1\n").error().message,
              HasSubstr("line 2: invalid tx_bytes"));
  EXPECT_THAT(parse_get("strait_under_load=2\n").error().message,
              HasSubstr("line 1: invalid strait_under_load"));
  EXPECT_THAT(parse_get("listen_port=5\nstrait_handshakes_completed=x\n").error().message,
              HasSubstr("line 2: invalid strait_handshakes_completed"));
  EXPECT_EQ(parse_get("garbage\n").error().code, EPROTO);
  EXPECT_EQ(render_errno(0), "errno=0\n\n");
  EXPECT_EQ(render_errno(EINVAL), "errno=-22\n\n");
}

// ---- apply_change: the reference semantics ----

TEST(UapiApply, Semantics) {
  DeviceState s;
  DeviceChange c = *parse_set(kSpecSet);
  apply_change(s, c);
  ASSERT_EQ(s.peers.size(), 3u);  // the fourth section removes a peer that did not exist
  EXPECT_EQ(s.listen_port, 12912);

  // update_only of an unknown peer is skipped; of a known one applies.
  auto u = parse_set("public_key=" + std::string(64, 'c') +
                     "\nupdate_only=true\nendpoint=1.1.1.1:1\n"
                     "public_key=662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58\n"
                     "update_only=true\npersistent_keepalive_interval=9\nstrait_cipher=aes256-gcm\n"
                     "allowed_ip=192.168.4.4/32\n");
  ASSERT_TRUE(u.ok()) << u.error().message;
  apply_change(s, *u);
  ASSERT_EQ(s.peers.size(), 3u);
  EXPECT_EQ(s.peers[2].persistent_keepalive, 9);
  EXPECT_EQ(s.peers[2].cipher, Cipher::aes256_gcm);
  // 192.168.4.4/32 moved from the first peer to the third.
  EXPECT_TRUE(s.peers[0].allowed_ips.empty());
  EXPECT_EQ(s.peers[2].allowed_ips.size(), 3u);
  // Host bits are cleared when a prefix enters the table.
  apply_change(s, *parse_set("public_key=" + std::string(64, 'd') + "\nallowed_ip=10.1.2.3/8\n"));
  EXPECT_EQ(s.peers.back().allowed_ips[0].to_string(), "10.0.0.0/8");
  // remove, then replace_peers, then a zero private key.
  apply_change(s, *parse_set("public_key=" + std::string(64, 'd') + "\nremove=true\n"));
  EXPECT_EQ(s.peers.size(), 3u);
  apply_change(s, *parse_set("private_key=" + std::string(64, '0') + "\nreplace_peers=true\n"));
  EXPECT_TRUE(s.peers.empty());
  EXPECT_FALSE(s.private_key);
}

// ---- server and client over a socket ----

// A device that is only its state: what the tests set is what they get.
class MemoryDevice : public Handler {
 public:
  DeviceState get() override {
    std::lock_guard lock(mu_);
    return state_;
  }
  Result<void> apply(const DeviceChange& change) override {
    std::lock_guard lock(mu_);
    ++applied_;
    last_ = change;
    if (change.listen_port == 1) return Error{"port 1 is reserved for the test"};
    apply_change(state_, change);
    return {};
  }
  int applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }
  DeviceChange last() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  DeviceState state_;
  DeviceChange last_;
  int applied_ = 0;
};

// Runs a server's loop on its own thread, as straitd's slow-path thread would.
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

// A fresh directory for one test's socket, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/strait-uapi-XXXXXX";
    dir_ = ::mkdtemp(templ) != nullptr ? templ : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    if (dir_ != "/tmp") std::filesystem::remove_all(dir_, ec);
  }
  [[nodiscard]] std::string path(const char* name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

int raw_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the first empty line, EOF or error; returns what came.
std::string read_reply(int fd) {
  std::string buf;
  char c[4096];
  while (buf.find("\n\n") == std::string::npos) {
    const ssize_t r = ::read(fd, c, sizeof(c));
    if (r <= 0) break;
    buf.append(c, static_cast<std::size_t>(r));
  }
  return buf;
}

TEST(UapiServer, SetThenGet) {
  TempDir tmp;
  const std::string path = tmp.path("t.sock");
  auto server = UapiServer::listen(path);
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  MemoryDevice dev;
  {
    ServerThread loop(**server, dev);
    auto client = UapiClient::connect(path);
    ASSERT_TRUE(client.ok()) << client.error().message;

    DeviceChange c;
    c.private_key = key_filled(0x10);
    c.listen_port = 51820;
    PeerChange p;
    p.public_key = key_filled(0x20);
    p.endpoint = Endpoint::v4({127, 0, 0, 1}, 51820);
    p.persistent_keepalive = 25;
    p.replace_allowed_ips = true;
    p.allowed_ips = {IpPrefix::v4({10, 0, 0, 0}, 24)};
    p.cipher = Cipher::aes256_gcm;
    c.peers = {p};
    auto set = client->set(c);
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_EQ(dev.last(), c);

    // Same connection, next request.
    auto got = client->get();
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(got->private_key, key_filled(0x10));
    EXPECT_EQ(got->listen_port, 51820);
    ASSERT_EQ(got->peers.size(), 1u);
    EXPECT_EQ(got->peers[0].public_key, key_filled(0x20));
    EXPECT_EQ(got->peers[0].endpoint, Endpoint::v4({127, 0, 0, 1}, 51820));
    EXPECT_EQ(got->peers[0].persistent_keepalive, 25);
    EXPECT_EQ(got->peers[0].allowed_ips, p.allowed_ips);
    EXPECT_EQ(got->peers[0].cipher, Cipher::aes256_gcm);

    // A change the handler refuses comes back as EINVAL, and nothing changed.
    DeviceChange refused;
    refused.listen_port = 1;
    auto bad = client->set(refused);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, EINVAL);
    EXPECT_EQ(client->get()->listen_port, 51820);

    // A request that does not parse never reaches the handler.
    const int before = dev.applied();
    auto raw = client->request("set=1\nlisten_port=99999\n\n");
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(*raw, "errno=-22\n\n");
    EXPECT_EQ(dev.applied(), before);
  }
}

TEST(UapiServer, RequestInPiecesAndPipelined) {
  TempDir tmp;
  const std::string path = tmp.path("t.sock");
  auto server = UapiServer::listen(path);
  ASSERT_TRUE(server.ok()) << server.error().message;
  MemoryDevice dev;
  ServerThread loop(**server, dev);
  const int fd = raw_connect(path);
  ASSERT_GE(fd, 0);
  // One byte per write, with pauses so that the server sees partial requests.
  const std::string req = "set=1\nlisten_port=4242\npublic_key=" + std::string(64, 'e') +
                          "\nallowed_ip=10.9.0.0/16\n\n";
  for (char ch : req) {
    ASSERT_EQ(::write(fd, &ch, 1), 1);
    if (ch == '\n' || ch == '=') std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(read_reply(fd), "errno=0\n\n");
  EXPECT_EQ(dev.last().listen_port, 4242);
  ASSERT_EQ(dev.last().peers.size(), 1u);
  EXPECT_EQ(dev.last().peers[0].allowed_ips[0].to_string(), "10.9.0.0/16");

  // Two requests in one write are answered in order.
  const std::string two = "set=1\nfwmark=7\n\nget=1\n\n";
  ASSERT_EQ(::write(fd, two.data(), two.size()), static_cast<ssize_t>(two.size()));
  std::string all;
  char c[4096];
  while (all.find("listen_port=4242") == std::string::npos ||
         all.find("errno=0\n\n", 10) == std::string::npos) {
    const ssize_t r = ::read(fd, c, sizeof(c));
    ASSERT_GT(r, 0);
    all.append(c, static_cast<std::size_t>(r));
  }
  EXPECT_EQ(all.substr(0, 9), "errno=0\n\n");
  EXPECT_THAT(all, HasSubstr("fwmark=7\n"));
  ::close(fd);
}

TEST(UapiServer, BadOperationAndOversizeAreRefused) {
  TempDir tmp;
  const std::string path = tmp.path("t.sock");
  ServerOptions opts;
  opts.max_request_bytes = 4096;
  auto server = UapiServer::listen(path, opts);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::mutex mu;
  std::vector<std::string> reports;
  (*server)->set_error_sink([&](std::string_view s) {
    std::lock_guard lock(mu);
    reports.emplace_back(s);
  });
  MemoryDevice dev;
  ServerThread loop(**server, dev);

  {  // unknown operation: EPROTO, then the server closes
    const int fd = raw_connect(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "list=1\n\n", 8), 8);
    EXPECT_EQ(read_reply(fd), "errno=-71\n\n");
    char ch;
    EXPECT_EQ(::read(fd, &ch, 1), 0);
    ::close(fd);
  }
  {  // get=1 with junk instead of the empty line
    const int fd = raw_connect(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "get=1\nx\n", 8), 8);
    EXPECT_EQ(read_reply(fd), "errno=-22\n\n");
    ::close(fd);
  }
  {  // a set that never ends and outgrows the limit
    const int fd = raw_connect(path);
    ASSERT_GE(fd, 0);
    std::string big = "set=1\n";
    while (big.size() < 3 * opts.max_request_bytes) big += "listen_port=1\n";
    const ssize_t w = ::send(fd, big.data(), big.size(), MSG_NOSIGNAL);
    EXPECT_GT(w, 0);
    const std::string reply = read_reply(fd);
    // The refusal, or a reset if the close overtook it; never a success.
    EXPECT_TRUE(reply.empty() || reply == "errno=-90\n\n") << reply;
    ::close(fd);
  }
  EXPECT_EQ(dev.applied(), 0);
  {
    std::lock_guard lock(mu);
    bool saw = false;
    for (const auto& r : reports) saw = saw || r.find("larger than 4096") != std::string::npos;
    EXPECT_TRUE(saw);
  }
  // The server still serves.
  auto client = UapiClient::connect(path);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->get().ok());
}

TEST(UapiServer, ClientThatOnlyConnectsIsHarmless) {
  // wg(8) connects and closes at once to find out whether an interface is alive.
  TempDir tmp;
  const std::string path = tmp.path("t.sock");
  auto server = UapiServer::listen(path);
  ASSERT_TRUE(server.ok());
  MemoryDevice dev;
  ServerThread loop(**server, dev);
  for (int i = 0; i < 5; ++i) {
    const int fd = raw_connect(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  auto client = UapiClient::connect(path);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->get().ok());
}

TEST(UapiServer, StaleSocketReplacedLiveSocketRefused) {
  TempDir tmp;
  const std::string path = tmp.path("t.sock");
  {  // a socket file whose owner is gone: bound, never listened, closed
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ::close(fd);
  }
  auto server = UapiServer::listen(path);
  ASSERT_TRUE(server.ok()) << server.error().message;

  auto second = UapiServer::listen(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EADDRINUSE);
  EXPECT_THAT(second.error().message, HasSubstr("socket path in use by a running process"));

  // A regular file in the way is not ours to delete.
  const std::string file = path + ".notasocket";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto third = UapiServer::listen(file);
  EXPECT_FALSE(third.ok());
  ::unlink(file.c_str());

  // Destruction unlinks the socket.
  server.value().reset();
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0);
  EXPECT_FALSE(UapiClient::connect(path).ok());

  EXPECT_EQ(UapiServer::listen(std::string(200, 'x')).error().code, ENAMETOOLONG);
}

}  // namespace
}  // namespace strait::uapi

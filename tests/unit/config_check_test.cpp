// check_change: whether a UAPI set=1 change may be applied, and the message if not. The
// messages are compared whole: operators and scripts read them, so a change of wording shows
// up here. Device-level behaviour (a refused change leaves the device as it was) is in
// device_test.cpp.

#include "device/config_check.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/test_keys.hpp"
#include "device/crypto_setup.hpp"

namespace strait::wg {
namespace {

using test::private_key_from;

StaticIdentity identity_from(std::uint8_t seed) {
  return StaticIdentity::from_private(private_key_from(seed));
}

std::string who(const Key& public_key) { return "peer " + uapi::key_to_hex(public_key); }

uapi::PeerChange peer_change(const Key& public_key) {
  uapi::PeerChange pc;
  pc.public_key = public_key;
  return pc;
}

IpPrefix allowed_ip(std::string_view text, std::uint8_t cidr) {
  IpPrefix ip = *IpPrefix::parse(text);
  ip.len = cidr;  // past what parse() accepts
  return ip;
}

class ConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto_ready()); }

  const StaticIdentity self_ = identity_from(1);
  const Key other_ = identity_from(2).public_key;
  const Key third_ = identity_from(3).public_key;
};

// One peer section each, checked against an empty device whose identity is self_.
TEST_F(ConfigCheckTest, PeerSectionCases) {
  Key small_order{};
  small_order[0] = 1;  // u = 1, of order 4 (RFC 7748 section 6.1 lists the family)
  IpPrefix unknown_family = *IpPrefix::parse("10.0.0.0/8");
  unknown_family.family = static_cast<IpFamily>(5);

  struct Case {
    const char* name;
    uapi::PeerChange change;
    std::optional<std::string> expected;
  };
  std::vector<Case> cases;
  cases.push_back({"1 a plain peer", peer_change(other_), std::nullopt});
  cases.push_back({"2 all-zero key", peer_change(Key{}), who(Key{}) + ": public_key: all zero"});
  cases.push_back(
      {"3 small-order key", peer_change(small_order),
       who(small_order) + ": public_key: a point of small order (no handshake can succeed)"});
  {
    uapi::PeerChange pc = peer_change(other_);
    pc.endpoint = uapi::Endpoint::v4({192, 0, 2, 1}, 51820);
    pc.endpoint->family = 5;
    cases.push_back({"4 endpoint of an unknown family", pc,
                     who(other_) + ": endpoint: unknown address family"});
  }
  {
    uapi::PeerChange pc = peer_change(other_);
    pc.endpoint = *uapi::Endpoint::parse("[fd00::1]:51820");
    cases.push_back({"5 IPv6 endpoint", pc, std::nullopt});
  }
  {
    uapi::PeerChange pc = peer_change(other_);
    pc.allowed_ips = {allowed_ip("10.0.0.0/8", 33)};
    cases.push_back(
        {"6 IPv4 prefix /33", pc,
         who(other_) + ": allowed_ip 10.0.0.0/33: prefix length too long for the family"});
  }
  {
    uapi::PeerChange pc = peer_change(other_);
    pc.allowed_ips = {allowed_ip("fd00::/64", 129)};
    cases.push_back(
        {"7 IPv6 prefix /129", pc,
         who(other_) + ": allowed_ip fd00::/129: prefix length too long for the family"});
  }
  {
    uapi::PeerChange pc = peer_change(other_);
    pc.allowed_ips = {allowed_ip("10.0.0.1/32", 32), allowed_ip("fd00::1/128", 128)};
    cases.push_back({"8 longest prefixes of each family", pc, std::nullopt});
  }
  {
    uapi::PeerChange pc = peer_change(other_);
    pc.allowed_ips = {unknown_family};
    cases.push_back(
        {"9 allowed IP of an unknown family", pc,
         who(other_) + ": allowed_ip " + unknown_family.to_string() + ": unknown address family"});
  }
  {
    // remove=true: the rest of the section is moot, even a bad key or prefix.
    uapi::PeerChange pc = peer_change(Key{});
    pc.remove = true;
    pc.allowed_ips = {allowed_ip("10.0.0.0/8", 33)};
    cases.push_back({"10 a removed peer is not checked", pc, std::nullopt});
  }
  cases.push_back({"11 our own public key", peer_change(self_.public_key),
                   who(self_.public_key) + ": public_key: equals the device's own public key"});

  for (const Case& c : cases) {
    uapi::DeviceChange change;
    change.peers = {c.change};
    EXPECT_EQ(check_change(change, uapi::DeviceState{}, self_), c.expected) << c.name;
  }
}

TEST_F(ConfigCheckTest, TheFirstBadPeerIsNamed) {
  uapi::DeviceChange change;
  change.peers = {peer_change(other_), peer_change(Key{}), peer_change(self_.public_key)};
  EXPECT_EQ(check_change(change, uapi::DeviceState{}, self_),
            who(Key{}) + ": public_key: all zero");
}

TEST_F(ConfigCheckTest, OwnKeyIsCheckedOnTheResultingConfiguration) {
  uapi::DeviceState current;
  current.private_key = self_.private_key;
  current.peers.resize(1);
  current.peers[0].public_key = other_;

  // A new private key whose public key is an existing peer's.
  uapi::DeviceChange rekey;
  rekey.private_key = private_key_from(2);
  const StaticIdentity next = identity_from(2);
  EXPECT_EQ(check_change(rekey, current, next),
            who(other_) + ": public_key: equals the device's own public key");

  // The same, with that peer removed in the same change: nothing clashes any more.
  uapi::PeerChange remove = peer_change(other_);
  remove.remove = true;
  rekey.peers = {remove};
  EXPECT_EQ(check_change(rekey, current, next), std::nullopt);

  // replace_peers clears the existing peers too.
  uapi::DeviceChange replace;
  replace.private_key = private_key_from(2);
  replace.replace_peers = true;
  replace.peers = {peer_change(third_)};
  EXPECT_EQ(check_change(replace, current, next), std::nullopt);

  // Without a private key there is no own key to clash with.
  uapi::DeviceChange no_key;
  no_key.peers = {peer_change(self_.public_key)};
  EXPECT_EQ(check_change(no_key, uapi::DeviceState{}, StaticIdentity{}), std::nullopt);
}

}  // namespace
}  // namespace strait::wg

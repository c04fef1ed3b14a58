// Desired state of each node of the 2x2 mesh: peers are the other cluster's nodes only, with
// the golden ciphers (AES-256-GCM only when both ends run straitd).
#include <gtest/gtest.h>

#include "agent_test_support.hpp"
#include "control/desired_state.hpp"
#include "core/key_base64.hpp"

namespace strait::ctl {
namespace {

struct GoldenPeer {
  const char* node;
  const char* cluster;
  const char* key;
  const char* endpoint;
  const char* allowed_ip;
  strait::Cipher cipher;
};

void expect_peers(const DesiredState& d, std::initializer_list<GoldenPeer> golden) {
  ASSERT_EQ(d.peers.size(), golden.size());
  std::size_t i = 0;
  for (const GoldenPeer& g : golden) {
    const DesiredPeer& p = d.peers[i++];
    EXPECT_EQ(p.node, g.node);
    EXPECT_EQ(p.cluster, g.cluster);
    EXPECT_EQ(wg::key_to_base64(p.public_key), g.key);
    EXPECT_EQ(p.endpoint.to_string(), g.endpoint);
    ASSERT_EQ(p.allowed_ips.size(), 1u);
    EXPECT_EQ(p.allowed_ips[0].to_string(), g.allowed_ip);
    EXPECT_EQ(p.cipher, g.cipher) << g.node;
    EXPECT_EQ(p.persistent_keepalive, 15);
  }
}

constexpr auto kAes = strait::Cipher::aes256_gcm;
constexpr auto kChaCha = strait::Cipher::chacha20_poly1305;

TEST(AgentDesired, NodeA1) {
  auto spec = parse_mesh_spec(testing::kSpec2x2);
  ASSERT_TRUE(spec);
  auto d = compute_desired_state(*spec, "a1");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->cluster, "a");
  expect_peers(*d,
               {
                   {"b1", "b", testing::kKeyB1, "198.51.100.1:51820", "10.132.0.0/23", kAes},
                   {"b2", "b", testing::kKeyB2, "[2001:db8::2]:51821", "10.132.2.0/23", kChaCha},
               });
  ASSERT_EQ(d->remote_cidrs.size(), 2u);
  EXPECT_EQ(d->remote_cidrs[0].to_string(), "10.132.0.0/14");
  EXPECT_EQ(d->remote_cidrs[1].to_string(), "fd00:b::/48");
}

TEST(AgentDesired, EverySubnetOfARemoteNodeIsAnAllowedIp) {
  std::string s = testing::kSpec2x2;
  const std::string from = "pod_subnets: [10.132.2.0/23]";
  s.replace(s.find(from), from.size(), "pod_subnets: [10.132.2.0/23, \"fd00:b:0:2::/64\"]");
  auto spec = parse_mesh_spec(s);
  ASSERT_TRUE(spec) << spec.error().message;
  auto d = compute_desired_state(*spec, "a1");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->peers.size(), 2u);
  const DesiredPeer& b2 = d->peers[1];
  ASSERT_EQ(b2.allowed_ips.size(), 2u);
  EXPECT_EQ(b2.allowed_ips[0].to_string(), "10.132.2.0/23");
  EXPECT_EQ(b2.allowed_ips[1].to_string(), "fd00:b:0:2::/64");
}

TEST(AgentDesired, NodeB2RunsStockWireGuard) {
  auto spec = parse_mesh_spec(testing::kSpec2x2);
  ASSERT_TRUE(spec);
  auto d = compute_desired_state(*spec, "b2");
  ASSERT_TRUE(d);
  expect_peers(*d, {
                       {"a1", "a", testing::kKeyA1, "192.0.2.1:51820", "10.128.0.0/23", kChaCha},
                       {"a2", "a", testing::kKeyA2, "192.0.2.2:51820", "10.128.2.0/23", kChaCha},
                   });
  ASSERT_EQ(d->remote_cidrs.size(), 1u);
  EXPECT_EQ(d->remote_cidrs[0].to_string(), "10.128.0.0/14");
}

TEST(AgentDesired, NodeB1) {
  auto spec = parse_mesh_spec(testing::kSpec2x2);
  ASSERT_TRUE(spec);
  auto d = compute_desired_state(*spec, "b1");
  ASSERT_TRUE(d);
  expect_peers(*d, {
                       {"a1", "a", testing::kKeyA1, "192.0.2.1:51820", "10.128.0.0/23", kAes},
                       {"a2", "a", testing::kKeyA2, "192.0.2.2:51820", "10.128.2.0/23", kAes},
                   });
}

TEST(AgentDesired, OwnNodeMissingIsRefused) {
  auto spec = parse_mesh_spec(testing::kSpec2x2);
  ASSERT_TRUE(spec);
  auto d = compute_desired_state(*spec, "c9");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("\"c9\""), std::string::npos);
  EXPECT_NE(d.error().message.find("not in nodes"), std::string::npos);
}

TEST(AgentDesired, ListenPortOnlyWhenTheSpecSaysSo) {
  auto spec = parse_mesh_spec(testing::kSpec2x2 + "  listen_port: 51999\n");
  ASSERT_TRUE(spec) << spec.error().message;
  auto d = compute_desired_state(*spec, "a1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->listen_port, 51999);
}

}  // namespace
}  // namespace strait::ctl

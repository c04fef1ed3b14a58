// The mesh spec: base64 keys, prefixes, parsing, and the validation table (every refusal names
// the field and the entry).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent_test_support.hpp"
#include "control/mesh_spec.hpp"
#include "control/prefix.hpp"
#include "core/key_base64.hpp"

namespace strait::ctl {
namespace {

using testing::kSpec2x2;

TEST(AgentKeyBase64, KnownKeyRoundTrip) {
  // RFC 7748 section 6.1, Alice's public key, and its base64 as `wg pubkey` would print it.
  const auto key =
      uapi::key_from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  ASSERT_TRUE(key);
  EXPECT_EQ(wg::key_to_base64(*key), "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
  const auto back = wg::key_from_base64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *key);
}

TEST(AgentKeyBase64, RefusesMalformed) {
  const char* bad[] = {
      "",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",    // 43: no padding
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==",  // 45
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==",   // 44, two '='
      "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",   // URL-safe alphabet
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=",   // non-zero unused bits
      " SDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
  };
  for (const char* b : bad) EXPECT_FALSE(wg::key_from_base64(b)) << b;
}

TEST(AgentPrefix, ContainsOverlapAndHostBits) {
  const auto p = [](const char* t) { return *parse_prefix(t); };
  EXPECT_TRUE(prefix_contains(p("10.128.0.0/14"), p("10.128.2.0/23")));
  EXPECT_TRUE(prefix_contains(p("10.128.0.0/14"), p("10.131.254.0/23")));
  EXPECT_FALSE(prefix_contains(p("10.128.0.0/14"), p("10.132.0.0/23")));
  EXPECT_FALSE(prefix_contains(p("10.128.2.0/23"), p("10.128.0.0/14")));
  EXPECT_TRUE(prefixes_overlap(p("10.128.2.0/23"), p("10.128.0.0/14")));
  EXPECT_FALSE(prefixes_overlap(p("10.128.0.0/23"), p("10.128.2.0/23")));
  EXPECT_FALSE(prefixes_overlap(p("10.0.0.0/8"), p("fd00::/8")));
  EXPECT_TRUE(prefix_contains(p("fd00:b::/48"), p("fd00:b:0:1::/64")));
  EXPECT_TRUE(prefix_contains(p("0.0.0.0/0"), p("192.0.2.0/24")));
  auto bad = parse_prefix("10.128.0.1/14");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("did you mean 10.128.0.0/14"), std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(parse_prefix("10.128.0.0"));
  EXPECT_FALSE(parse_prefix("10.128.0.0/33"));
}

TEST(AgentSpec, ParsesTheExample) {
  auto spec = parse_mesh_spec(kSpec2x2);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->clusters.size(), 2u);
  EXPECT_EQ(spec->clusters[1].name, "b");
  ASSERT_EQ(spec->clusters[1].pod_cidrs.size(), 2u);
  EXPECT_EQ(spec->clusters[1].pod_cidrs[1].to_string(), "fd00:b::/48");
  ASSERT_EQ(spec->nodes.size(), 4u);
  const Node* b2 = spec->find_node("b2");
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(b2->cluster, "b");
  ASSERT_EQ(b2->pod_subnets.size(), 1u);
  EXPECT_EQ(b2->pod_subnets[0].to_string(), "10.132.2.0/23");
  EXPECT_EQ(b2->endpoint.to_string(), "[2001:db8::2]:51821");
  EXPECT_EQ(wg::key_to_base64(b2->public_key), testing::kKeyB2);
  EXPECT_FALSE(b2->straitd);
  EXPECT_TRUE(spec->find_node("a1")->straitd);
  EXPECT_EQ(spec->defaults.persistent_keepalive, 15);
  EXPECT_FALSE(spec->defaults.listen_port);
  EXPECT_EQ(spec->find_node("zz"), nullptr);
}

// Replaces the first occurrence of `from` in the example spec.
std::string edited(const std::string& from, const std::string& to) {
  std::string s = kSpec2x2;
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

struct BadCase {
  int number;
  std::string yaml;
  std::string expect;  // a substring of the error message
};

TEST(AgentSpec, ValidationTable) {
  const BadCase cases[] = {
      {1, edited(testing::kKeyB2, "not-a-key"),
       "nodes[3] (b2).public_key (line 29): not a valid base64 WireGuard key"},
      {2, edited("10.132.0.0/14, fd00", "10.130.0.0/15, fd00"),
       "clusters[1] (b).pod_cidrs[0] (line 5): 10.130.0.0/15 overlaps 10.128.0.0/14 of "
       "clusters[0] (a).pod_cidrs[0]"},
      {3, edited("pod_subnets: [10.128.2.0/23]", "pod_subnets: [10.132.4.0/23]"),
       "nodes[1] (a2).pod_subnets[0] (line 15): 10.132.4.0/23 is not inside any pod_cidrs of "
       "cluster \"a\""},
      {4, edited("pod_subnets: [10.128.2.0/23]", "pod_subnets: [10.128.0.0/22]"),
       "nodes[1] (a2).pod_subnets[0] (line 15): 10.128.0.0/22 overlaps 10.128.0.0/23 of "
       "nodes[0] (a1).pod_subnets[0]"},
      {5, edited("name: a2", "name: a1"),
       "nodes[1] (a1).name (line 13): duplicate node name (also nodes[0])"},
      {6, edited(testing::kKeyA2, testing::kKeyA1),
       "nodes[1] (a2).public_key (line 17): duplicate public key (also nodes[0])"},
      {7,
       edited("cluster: b\n    pod_subnets: [10.132.2.0",
              "cluster: c\n    pod_subnets: [10.132.2.0"),
       "nodes[3] (b2).cluster (line 26): unknown cluster \"c\""},
      {8, edited("pod_cidrs: [10.128.0.0/14]", "pod_cidrs: [10.128.0.0/33]"),
       "clusters[0] (a).pod_cidrs[0] (line 3): \"10.128.0.0/33\" is not a valid CIDR"},
      {9, edited("192.0.2.2:51820", "192.0.2.2"),
       "nodes[1] (a2).endpoint (line 16): \"192.0.2.2\" is not VIP:port"},
      {10, edited("\"[2001:db8::2]:51821\"", "2001:db8::2:51821"),
       "nodes[3] (b2).endpoint (line 28): \"2001:db8::2:51821\" is not VIP:port"},
      {11, edited("192.0.2.2:51820", "192.0.2.1:51820"),
       "nodes[1] (a2).endpoint (line 16): duplicate endpoint 192.0.2.1:51820 (also nodes[0])"},
      {12, edited("    straitd: false", "    straitd: maybe"),
       "nodes[3] (b2).straitd (line 30): must be true or false"},
      {13, edited("    straitd: false\n", ""),
       "nodes[3] (b2) (line 25): missing required field \"straitd\""},
      {14, edited("  - name: b\n", "  - name: a\n"),
       "clusters[1] (a).name (line 4): duplicate cluster name (also clusters[0])"},
      {15, edited("persistent_keepalive: 15", "persistent_keepalive: 70000"),
       "defaults.persistent_keepalive (line 32): must be an integer 0..65535"},
      {16, edited("    endpoint: 192.0.2.1", "    endpiont: 192.0.2.1"),
       "nodes[0] (a1) (line 10): unknown key \"endpiont\""},
      {17, edited("pod_cidrs: [10.128.0.0/14]", "pod_cidrs: [10.128.0.1/14]"),
       "clusters[0] (a).pod_cidrs[0] (line 3): \"10.128.0.1/14\" is not a valid CIDR: host bits"},
      {18, "clusters: [", "YAML syntax error"},
      {19, "nodes: []\n", "clusters: must be a non-empty list"},
      {20, edited("fd00:b::/48", "10.133.0.0/16"),
       "clusters[1] (b).pod_cidrs[1] (line 5): 10.133.0.0/16 overlaps 10.132.0.0/14 of "
       "clusters[1] (b).pod_cidrs[0]"},
      {21, edited("pod_subnets: [10.128.0.0/23]", "pod_subnets: 10.128.0.0/23"),
       "nodes[0] (a1).pod_subnets (line 9): must be a non-empty list of CIDRs"},
      // Several subnets per node: each one is checked on its own.
      {22, edited("pod_subnets: [10.128.0.0/23]", "pod_subnets: [10.128.0.0/23, fd00:b:0:1::/64]"),
       "nodes[0] (a1).pod_subnets[1] (line 9): fd00:b:0:1::/64 is not inside any pod_cidrs of "
       "cluster \"a\""},
      {23, edited("pod_subnets: [10.128.2.0/23]", "pod_subnets: [10.128.4.0/23, 10.128.0.0/24]"),
       "nodes[1] (a2).pod_subnets[1] (line 15): 10.128.0.0/24 overlaps 10.128.0.0/23 of "
       "nodes[0] (a1).pod_subnets[0]"},
      {24, edited("pod_subnets: [10.128.2.0/23]", "pod_subnets: [10.128.2.0/23, 10.128.3.0/24]"),
       "nodes[1] (a2).pod_subnets[1] (line 15): 10.128.3.0/24 overlaps 10.128.2.0/23 of "
       "nodes[1] (a2).pod_subnets[0]"},
      {25, edited("pod_subnets: [10.128.2.0/23]", "pod_subnets: [10.128.2.0/23, 10.128.4.1/23]"),
       "nodes[1] (a2).pod_subnets[1] (line 15): \"10.128.4.1/23\" is not a valid CIDR: host bits"},
      {26, edited("pod_subnets: [10.128.2.0/23]", "pod_subnets: []"),
       "nodes[1] (a2).pod_subnets (line 15): must be a non-empty list of CIDRs"},
      {27, edited("    pod_subnets: [10.128.2.0/23]\n", ""),
       "nodes[1] (a2) (line 13): missing required field \"pod_subnets\""},
      // The older single form stays accepted, but not together with the list.
      {28,
       edited("pod_subnets: [10.128.2.0/23]",
              "pod_subnets: [10.128.2.0/23]\n    pod_subnet: 10.128.4.0/23"),
       "nodes[1] (a2).pod_subnet (line 16): give either pod_subnets (a list) or the older "
       "pod_subnet (one CIDR), not both"},
      {29, edited("pod_subnets: [10.128.0.0/23]", "pod_subnet: [10.128.0.0/23]"),
       "nodes[0] (a1).pod_subnet (line 9): must be a non-empty string"},
      {30, edited("pod_subnets: [10.128.2.0/23]", "pod_subnet: 10.128.0.0/22"),
       "nodes[1] (a2).pod_subnet (line 15): 10.128.0.0/22 overlaps 10.128.0.0/23 of "
       "nodes[0] (a1).pod_subnets[0]"},
  };
  for (const BadCase& c : cases) {
    auto spec = parse_mesh_spec(c.yaml);
    ASSERT_FALSE(spec) << "case " << c.number;
    EXPECT_NE(spec.error().message.find(c.expect), std::string::npos)
        << "case " << c.number << "\n got: " << spec.error().message << "\nwant: " << c.expect;
  }
}

TEST(AgentSpec, SeveralSubnetsPerNodeDualStack) {
  // b2 dual-stack (IPv4 and IPv6 of cluster b), a2 two IPv4 blocks as Calico allocates them.
  std::string s =
      edited("pod_subnets: [10.132.2.0/23]", "pod_subnets: [10.132.2.0/23, \"fd00:b:0:2::/64\"]");
  const auto at = s.find("pod_subnets: [10.128.2.0/23]");
  s.replace(at, 28, "pod_subnets:\n      - 10.128.2.0/26\n      - 10.128.9.64/26");
  auto spec = parse_mesh_spec(s);
  ASSERT_TRUE(spec) << spec.error().message;
  const Node* b2 = spec->find_node("b2");
  ASSERT_EQ(b2->pod_subnets.size(), 2u);
  EXPECT_EQ(b2->pod_subnets[1].to_string(), "fd00:b:0:2::/64");
  const Node* a2 = spec->find_node("a2");
  ASSERT_EQ(a2->pod_subnets.size(), 2u);
  EXPECT_EQ(a2->pod_subnets[1].to_string(), "10.128.9.64/26");
}

TEST(AgentSpec, OlderSinglePodSubnetStaysAccepted) {
  // ConfigMaps written before pod_subnets: one CIDR under pod_subnet.
  auto spec = parse_mesh_spec(edited("pod_subnets: [10.132.0.0/23]", "pod_subnet: 10.132.0.0/23"));
  ASSERT_TRUE(spec) << spec.error().message;
  const Node* b1 = spec->find_node("b1");
  ASSERT_EQ(b1->pod_subnets.size(), 1u);
  EXPECT_EQ(b1->pod_subnets[0].to_string(), "10.132.0.0/23");
}

// What strait-mesh renders (its golden outputs, tests/deploy) is what the agent accepts:
// pod_subnets lists, IPv6 CIDRs in flow sequences, quoted endpoints.
TEST(AgentSpec, ParsesWhatStraitMeshRenders) {
  const char* root = std::getenv("STRAIT_SOURCE_ROOT");
  ASSERT_NE(root, nullptr) << "run through meson test";
  for (const char* name : {"spec-a-b.yaml", "spec-c-b.yaml"}) {
    std::ifstream in(std::string(root) + "/tests/deploy/golden/" + name);
    ASSERT_TRUE(in) << name;
    std::stringstream text;
    text << in.rdbuf();
    auto spec = parse_mesh_spec(text.str());
    ASSERT_TRUE(spec) << name << ": " << spec.error().message;
    if (std::string(name) == "spec-c-b.yaml") {
      const Node* w0 = spec->find_node("c-worker-0");
      ASSERT_NE(w0, nullptr);
      ASSERT_EQ(w0->pod_subnets.size(), 2u);
      EXPECT_EQ(w0->pod_subnets[1].to_string(), "fd01:0:0:1::/64");
    }
  }
}

TEST(AgentSpec, ReportsEveryProblemAtOnce) {
  std::string s = edited(testing::kKeyB2, "bad");
  const auto at = s.find("192.0.2.2:51820");
  s.replace(at, 15, "nowhere");
  auto spec = parse_mesh_spec(s);
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("nodes[3] (b2).public_key"), std::string::npos);
  EXPECT_NE(spec.error().message.find("nodes[1] (a2).endpoint"), std::string::npos);
}

}  // namespace
}  // namespace strait::ctl

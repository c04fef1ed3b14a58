// The ovn-kubernetes profile: NB rows rendered from the node's subnets and the remote CIDRs
// (numbered case table), ovn-nbctl CSV parsed from recorded output (ovn-nbctl 23.03 against a
// real NB ovsdb-server, `--format=csv --data=bare --no-headings`), the diff, the one
// transaction's arguments, and the I/O class against scripted answers. tests/system's OVN lab
// runs the same code against real OVN.
#include <gtest/gtest.h>

#include "agent_test_support.hpp"
#include "control/ovn_logical.hpp"
#include "control/ovn_northbound.hpp"

namespace strait::ctl {
namespace {

std::vector<IpPrefix> cidrs(std::initializer_list<const char*> list) {
  std::vector<IpPrefix> out;
  for (const char* c : list) out.push_back(*parse_prefix(c));
  return out;
}

TEST(AgentOvn, NexthopIsTheLastUsableHost) {
  const struct {
    int number;
    const char* subnet;
    const char* want;
  } cases[] = {
      {1, "10.128.0.0/23", "10.128.1.254"},   {2, "10.128.2.0/24", "10.128.2.254"},
      {3, "10.244.0.0/16", "10.244.255.254"}, {4, "fd01:0:0:1::/64", "fd01::1:ffff:ffff:ffff:fffe"},
      {5, "10.128.4.0/30", "10.128.4.2"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ovn_nexthop(*parse_prefix(c.subnet)), c.want) << "case " << c.number;
  }
}

TEST(AgentOvn, RendersThePortAndOnePolicyPerSubnetAndRemoteCidrOfAFamily) {
  auto rows = render_ovn_rows({"a1", "strait-a1", "02:00:00:00:00:09",
                               cidrs({"10.128.0.0/23", "fd00:a:0:1::/64"}),
                               cidrs({"10.132.0.0/14", "10.136.0.0/14", "fd00:b::/48"})});
  ASSERT_TRUE(rows) << rows.error().message;
  EXPECT_EQ(rows->port.name, "strait-a1");
  EXPECT_EQ(rows->port.addresses, "02:00:00:00:00:09 10.128.1.254 fd00:a:0:1:ffff:ffff:ffff:fffe");
  EXPECT_EQ(rows->port.owner, "a1");
  ASSERT_EQ(rows->policies.size(), 3u);
  EXPECT_EQ(rows->policies[0].match, "ip4.src == 10.128.0.0/23 && ip4.dst == 10.132.0.0/14");
  EXPECT_EQ(rows->policies[0].nexthop, "10.128.1.254");
  EXPECT_EQ(rows->policies[0].priority, 1500);
  EXPECT_EQ(rows->policies[1].match, "ip4.src == 10.128.0.0/23 && ip4.dst == 10.136.0.0/14");
  EXPECT_EQ(rows->policies[2].match, "ip6.src == fd00:a:0:1::/64 && ip6.dst == fd00:b::/48");
  EXPECT_EQ(rows->policies[2].nexthop, "fd00:a:0:1:ffff:ffff:ffff:fffe");
}

TEST(AgentOvn, SeveralBlocksOfOneFamilyShareTheFirstBlocksNexthop) {
  auto rows =
      render_ovn_rows({"a1", "strait-a1", "02:00:00:00:00:09",
                       cidrs({"10.128.0.0/26", "10.128.9.64/26"}), cidrs({"10.132.0.0/14"})});
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->port.addresses, "02:00:00:00:00:09 10.128.0.62");
  ASSERT_EQ(rows->policies.size(), 2u);
  EXPECT_EQ(rows->policies[1].match, "ip4.src == 10.128.9.64/26 && ip4.dst == 10.132.0.0/14");
  EXPECT_EQ(rows->policies[1].nexthop, "10.128.0.62");
}

TEST(AgentOvn, NoSubnetIsAnError) {
  auto rows =
      render_ovn_rows({"a1", "strait-a1", "02:00:00:00:00:09", {}, cidrs({"10.132.0.0/14"})});
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.error().message.find("node a1 has no pod subnet"), std::string::npos);
}

// Recorded: ovn-nbctl --format=csv --data=bare --no-headings
//   --columns=_uuid,priority,match,nexthops find Logical_Router_Policy external_ids:...=a1
constexpr const char* kPoliciesCsv =
    "9cddb17c-819a-445a-90be-dabbde28f706,1500,ip4.src == 10.128.0.0/23 && ip4.dst == "
    "10.132.0.0/14,10.128.1.254\n"
    "1f0e5a11-0000-4000-8000-000000000002,1500,\"ip4.src == 10.128.0.0/23 && ip4.dst == "
    "{10.140.0.0/14, 10.144.0.0/14}\",10.128.1.254\n";

TEST(AgentOvn, ParsesRecordedCsvWithQuotedFields) {
  auto p = parse_ovn_policies(kPoliciesCsv);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].uuid, "9cddb17c-819a-445a-90be-dabbde28f706");
  EXPECT_EQ((*p)[0].match, "ip4.src == 10.128.0.0/23 && ip4.dst == 10.132.0.0/14");
  EXPECT_EQ((*p)[1].match, "ip4.src == 10.128.0.0/23 && ip4.dst == {10.140.0.0/14, 10.144.0.0/14}");
  EXPECT_EQ((*p)[1].nexthop, "10.128.1.254");
  auto port = parse_ovn_port("strait-a1,02:00:00:00:00:09 10.128.1.254,strait.io/owner=a1\n");
  ASSERT_TRUE(port);
  EXPECT_EQ(port->addresses, "02:00:00:00:00:09 10.128.1.254");
  EXPECT_EQ(port->owner, "a1");
  auto other = parse_ovn_port("strait-a1,02:00:00:00:00:09,\"foo=bar other=x\"\n");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->owner, "");
  auto none = parse_ovn_port("");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->name.empty());
  EXPECT_FALSE(parse_ovn_policies("x,1500,\"unterminated\n"));
  EXPECT_FALSE(parse_ovn_policies("x,notanumber,m,h\n"));
  EXPECT_FALSE(parse_ovn_policies("x,1500,m\n"));
}

OvnRows rows_a1() {
  return *render_ovn_rows(
      {"a1", "strait-a1", "02:00:00:00:00:09", cidrs({"10.128.0.0/23"}), cidrs({"10.132.0.0/14"})});
}

TEST(AgentOvn, DiffKeepsWhatIsThereAndRemovesStaleAndDuplicates) {
  const OvnRows want = rows_a1();
  OvnPort port{"strait-a1", "02:00:00:00:00:09 10.128.1.254", "a1"};
  auto have = *parse_ovn_policies(kPoliciesCsv);
  OvnPolicy dup = have[0];
  dup.uuid = "dup-uuid";
  have.push_back(dup);
  const OvnDiff d = diff_ovn_rows(want, port, have);
  EXPECT_FALSE(d.port);
  EXPECT_TRUE(d.add.empty());
  ASSERT_EQ(d.remove.size(), 2u);  // the stale one and the duplicate
  EXPECT_EQ(d.remove[0], "1f0e5a11-0000-4000-8000-000000000002");
  EXPECT_EQ(d.remove[1], "dup-uuid");
  // A steady state: nothing to do.
  EXPECT_TRUE(diff_ovn_rows(want, port, {have[0]}).empty());
  // A deleted port, or one whose addresses changed (straitd's tap came back with a new MAC).
  EXPECT_TRUE(diff_ovn_rows(want, OvnPort{}, {have[0]}).port);
  port.addresses = "02:00:00:00:00:0a 10.128.1.254";
  EXPECT_TRUE(diff_ovn_rows(want, port, {have[0]}).port);
}

TEST(AgentOvn, OneTransactionWithMarkedRows) {
  const OvnRows want = rows_a1();
  OvnDiff d;
  d.port = true;
  d.add = want.policies;
  d.remove = {"stale-uuid"};
  const auto args = ovn_transaction_args(d, want, "a1", "a1", "ovn_cluster_router");
  const std::vector<std::string> expect = {
      "--may-exist",
      "lsp-add",
      "a1",
      "strait-a1",
      "--",
      "lsp-set-addresses",
      "strait-a1",
      "02:00:00:00:00:09 10.128.1.254",
      "--",
      "set",
      "Logical_Switch_Port",
      "strait-a1",
      "external_ids:\"strait.io/owner\"=\"a1\"",
      "--",
      "--id=@strait0",
      "create",
      "Logical_Router_Policy",
      "priority=1500",
      "match=\"ip4.src == 10.128.0.0/23 && ip4.dst == 10.132.0.0/14\"",
      "action=reroute",
      "nexthops=\"10.128.1.254\"",
      "external_ids:\"strait.io/owner\"=\"a1\"",
      "--",
      "add",
      "Logical_Router",
      "ovn_cluster_router",
      "policies",
      "@strait0",
      "--",
      "remove",
      "Logical_Router",
      "ovn_cluster_router",
      "policies",
      "stale-uuid"};
  EXPECT_EQ(args, expect);
}

class NorthboundScript : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.on("get Interface strait0 mac_in_use", [](const auto&) {
      return CommandOutput{0, "\"02:00:00:00:00:09\"\n", ""};
    });
    runner_.on("external_ids:iface-id", [this](const ScriptedRunner::Call& c) {
      if (c.argv[2] == "set") iface_id_ = "strait-a1";
      return CommandOutput{0, iface_id_.empty() ? "" : "\"" + iface_id_ + "\"\n", ""};
    });
    runner_.on("find Logical_Switch_Port", [this](const auto&) {
      return CommandOutput{0, port_csv_, ""};
    });
    runner_.on("find Logical_Router_Policy", [this](const auto&) {
      return CommandOutput{0, policies_csv_, ""};
    });
    runner_.on("ovn-nbctl", [this](const ScriptedRunner::Call& c) {
      writes_.push_back(c.argv);
      return CommandOutput{0, "", ""};
    });
  }
  [[nodiscard]] int nb_writes() const { return static_cast<int>(writes_.size()); }
  using ScriptedRunner = testing::ScriptedRunner;
  ScriptedRunner runner_;
  std::string iface_id_, port_csv_, policies_csv_;
  std::vector<std::vector<std::string>> writes_;
};

DesiredState desired_a1() {
  DesiredState d;
  d.node = "a1";
  d.local_subnets = cidrs({"10.128.0.0/23"});
  d.remote_cidrs = cidrs({"10.132.0.0/14"});
  return d;
}

TEST_F(NorthboundScript, WritesOnceBindsThePortThenOnlyReads) {
  OvnNorthbound nb(
      runner_, {"a1", "unix:/run/ovn/nb.sock", "a1", "ovn_cluster_router", "br-int", "strait0"});
  auto r = nb.reconcile(desired_a1());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->added, 2u);  // the port and one policy
  ASSERT_EQ(nb_writes(), 1);
  EXPECT_EQ(writes_[0][1], "--timeout=5");
  EXPECT_EQ(writes_[0][2], "--db=unix:/run/ovn/nb.sock");
  EXPECT_EQ(iface_id_, "strait-a1");
  // The database now holds the rows: the next pass only reads.
  port_csv_ = "strait-a1,02:00:00:00:00:09 10.128.1.254,strait.io/owner=a1\n";
  policies_csv_ = "u1,1500,ip4.src == 10.128.0.0/23 && ip4.dst == 10.132.0.0/14,10.128.1.254\n";
  const std::size_t calls = runner_.calls.size();
  r = nb.reconcile(desired_a1());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->added + r->removed, 0u);
  EXPECT_EQ(nb_writes(), 1);
  for (std::size_t i = calls; i < runner_.calls.size(); ++i) {
    EXPECT_NE(runner_.calls[i].argv[2], "set") << command_line(runner_.calls[i].argv);
  }
  // Cleanup removes the policy and the port, in one transaction.
  auto n = nb.remove_all();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  ASSERT_EQ(nb_writes(), 2);
  const auto& del = writes_[1];
  EXPECT_EQ(std::vector<std::string>(del.end() - 9, del.end()),
            (std::vector<std::string>{"remove", "Logical_Router", "ovn_cluster_router", "policies",
                                      "u1", "--", "--if-exists", "lsp-del", "strait-a1"}));
}

TEST_F(NorthboundScript, APortOfTheSameNameNotOursIsLeftAlone) {
  OvnNorthbound nb(runner_, {"a1", "", "a1", "ovn_cluster_router", "br-int", "strait0"});
  port_csv_ = "strait-a1,02:00:00:00:00:77,\n";
  auto r = nb.reconcile(desired_a1());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Logical_Switch_Port strait-a1 exists and is not this "
                                   "agent's"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(nb_writes(), 0);
  auto n = nb.remove_all();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(nb_writes(), 0);
}

}  // namespace
}  // namespace strait::ctl

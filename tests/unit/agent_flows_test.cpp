// OVS flows: golden rendering per profile, dump-flows parsing and normalisation on recorded
// output, the diff, the bundle text; OvsBridge and KernelRoutes against scripted commands.
#include <gtest/gtest.h>

#include "agent_test_support.hpp"
#include "control/kernel_routes.hpp"
#include "control/ovs_bridge.hpp"
#include "control/ovs_flows.hpp"

namespace strait::ctl {
namespace {

std::vector<IpPrefix> cidrs(std::initializer_list<const char*> list) {
  std::vector<IpPrefix> out;
  for (const char* c : list) out.push_back(*parse_prefix(c));
  return out;
}

// A desired state that only asks for `remote` (all the bridge and route profiles read).
DesiredState wanting(std::vector<IpPrefix> remote) {
  DesiredState d;
  d.remote_cidrs = std::move(remote);
  return d;
}

std::vector<std::string> lines_of(const std::vector<Flow>& flows) {
  std::vector<std::string> out;
  out.reserve(flows.size());
  for (const Flow& f : flows) out.push_back(add_line(f));
  return out;
}

TEST(AgentFlows, OpenShiftSdnGolden) {
  const FlowInputs in{7, "", cidrs({"10.132.0.0/14", "fd00:b::/48"})};
  EXPECT_EQ(lines_of(render_flows(Profile::openshift_sdn, in)),
            (std::vector<std::string>{
                "add cookie=0x57a1700000000000,table=0,priority=210,ip,in_port=7,"
                "nw_src=10.132.0.0/14,actions=goto_table:30",
                "add cookie=0x57a1700000000000,table=0,priority=210,ipv6,in_port=7,"
                "ipv6_src=fd00:b::/48,actions=goto_table:30",
                "add cookie=0x57a1700000000000,table=30,priority=150,ip,nw_dst=10.132.0.0/14,"
                "actions=output:7",
                "add cookie=0x57a1700000000000,table=30,priority=150,ipv6,ipv6_dst=fd00:b::/48,"
                "actions=output:7",
            }));
}

TEST(AgentFlows, GenericGolden) {
  const FlowInputs in{3, "02:00:00:00:00:03", cidrs({"10.128.0.0/14"})};
  EXPECT_EQ(lines_of(render_flows(Profile::generic, in)),
            (std::vector<std::string>{
                "add cookie=0x57a1700000000000,table=0,priority=150,ip,in_port=3,"
                "nw_src=10.128.0.0/14,actions=NORMAL",
                "add cookie=0x57a1700000000000,table=0,priority=150,ip,nw_dst=10.128.0.0/14,"
                "actions=set_field:02:00:00:00:00:03->eth_dst,output:3",
            }));
}

TEST(AgentFlows, RouteProfileHasNoFlowsButRoutes) {
  EXPECT_TRUE(render_flows(Profile::route, {1, "", cidrs({"10.0.0.0/8"})}).empty());
  const KernelRoute r{*parse_prefix("10.132.0.0/14"), "strait-tap"};
  EXPECT_EQ(command_line(route_replace_argv(r)),
            "ip -4 route replace 10.132.0.0/14 dev strait-tap proto 87");
  EXPECT_EQ(command_line(route_delete_argv(r)),
            "ip -4 route del 10.132.0.0/14 dev strait-tap proto 87");
}

TEST(AgentFlows, DeleteLineIsStrictAndCookieExact) {
  const Flow f{30, 150, "ip,nw_dst=10.132.0.0/14", "output:7"};
  EXPECT_EQ(delete_line(f),
            "delete_strict cookie=0x57a1700000000000/-1,table=30,priority=150,ip,"
            "nw_dst=10.132.0.0/14");
}

// Recorded from ovs-ofctl 3.1.0 (-O OpenFlow13 --no-names dump-flows br0 cookie=.../...),
// with a foreign flow and field orders OVS may print differently.
constexpr const char* kDump = R"(OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x57a1700000000000, duration=61.163s, table=0, n_packets=4, n_bytes=392, priority=210,ip,in_port=7,nw_src=10.132.0.0/14 actions=goto_table:30
 cookie=0x0, duration=12.5s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL
 cookie=0x57a1700000000001, duration=0.006s, table=30, n_packets=0, n_bytes=0, idle_age=3, priority=150,nw_dst=10.132.0.0/14,ip actions=output:7
 cookie=0x57a1700000000000, duration=0.006s, table=30, n_packets=0, n_bytes=0, priority=150,ip,nw_dst=10.140.0.0/14 actions=output:7
 cookie=0x1234, table=30, priority=100,ip,nw_dst=10.128.0.0/14 actions=goto_table:90
)";

TEST(AgentFlows, ParseDumpKeepsOnlyOurCookieAndDropsStatistics) {
  auto flows = parse_dump_flows(kDump);
  ASSERT_TRUE(flows) << flows.error().message;
  ASSERT_EQ(flows->size(), 3u);
  EXPECT_EQ((*flows)[0], (Flow{0, 210, "ip,in_port=7,nw_src=10.132.0.0/14", "goto_table:30"}));
  EXPECT_EQ((*flows)[1].table, 30);
  EXPECT_EQ((*flows)[1].priority, 150);
  // Field order does not matter once normalised.
  EXPECT_EQ(normalized((*flows)[1]),
            normalized(Flow{30, 150, "ip,nw_dst=10.132.0.0/14", "output:7"}));
  EXPECT_EQ(normalized((*flows)[1]),
            "table=30, priority=150, ip,nw_dst=10.132.0.0/14 actions=output:7");
  EXPECT_FALSE(parse_dump_flows("garbage line without actions\n"));
  auto empty = parse_dump_flows("OFPST_FLOW reply (OF1.3) (xid=0x2):\n");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(AgentFlows, DiffAddsMissingRemovesStaleKeepsPresent) {
  const FlowInputs in{7, "", cidrs({"10.132.0.0/14"})};
  const auto wanted = render_flows(Profile::openshift_sdn, in);
  auto have = parse_dump_flows(kDump);
  ASSERT_TRUE(have);
  const FlowDiff d = diff_flows(wanted, *have);
  EXPECT_TRUE(d.add.empty());  // both wanted flows are there
  ASSERT_EQ(d.remove.size(), 1u);
  EXPECT_EQ(d.remove[0].match, "ip,nw_dst=10.140.0.0/14");
  EXPECT_EQ(bundle_text(d),
            "delete_strict cookie=0x57a1700000000000/-1,table=30,priority=150,ip,"
            "nw_dst=10.140.0.0/14\n");
  // Idempotent: the bridge as wanted -> nothing.
  EXPECT_TRUE(diff_flows(wanted, wanted).empty());
  // Wiped bridge -> everything added.
  EXPECT_EQ(diff_flows(wanted, {}).add.size(), 2u);
  // Same match, other port (straitd's port re-added): replaced in one bundle.
  const auto moved = render_flows(Profile::openshift_sdn, {9, "", cidrs({"10.132.0.0/14"})});
  const FlowDiff m = diff_flows(moved, wanted);
  EXPECT_EQ(m.add.size(), 2u);
  EXPECT_EQ(m.remove.size(), 2u);
}

class BridgeScript : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.on("ovs-vsctl --timeout=5 get Interface strait-tap ofport mac_in_use", [](const auto&) {
      return CommandOutput{0, "7\n\"02:00:00:00:00:07\"\n", ""};
    });
    runner_.on("dump-flows br0 cookie=0x57a1700000000000/0xffffffff00000000", [this](const auto&) {
      return CommandOutput{0, dump_, ""};
    });
    runner_.on("--bundle add-flows br0 -", [this](const ScriptedRunner::Call& c) {
      bundles_.push_back(c.stdin_text);
      return CommandOutput{0, "", ""};
    });
    runner_.on("del-flows br0 cookie=0x57a1700000000000/0xffffffff00000000", [this](const auto&) {
      ++wipes_;
      return CommandOutput{0, "", ""};
    });
  }
  using ScriptedRunner = testing::ScriptedRunner;
  ScriptedRunner runner_;
  std::string dump_ = "OFPST_FLOW reply (OF1.3) (xid=0x2):\n";
  std::vector<std::string> bundles_;
  int wipes_ = 0;
};

TEST_F(BridgeScript, ReconcileAppliesOneBundleThenNothing) {
  OvsBridge bridge(runner_, Profile::openshift_sdn, "br0", "strait-tap");
  auto r = bridge.reconcile(wanting(cidrs({"10.132.0.0/14"})));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->added, 2u);
  ASSERT_EQ(bundles_.size(), 1u);
  EXPECT_EQ(bundles_[0],
            "add cookie=0x57a1700000000000,table=0,priority=210,ip,in_port=7,"
            "nw_src=10.132.0.0/14,actions=goto_table:30\n"
            "add cookie=0x57a1700000000000,table=30,priority=150,ip,nw_dst=10.132.0.0/14,"
            "actions=output:7\n");
  for (const auto& call : runner_.calls) {
    if (call.argv[0] == "ovs-ofctl") {
      EXPECT_EQ(call.argv[1] + call.argv[2], "-OOpenFlow13");
    }
  }
  // The bridge now has the flows: the next pass changes nothing.
  dump_ +=
      " cookie=0x57a1700000000000, duration=1s, table=0, n_packets=0, n_bytes=0, "
      "priority=210,ip,in_port=7,nw_src=10.132.0.0/14 actions=goto_table:30\n"
      " cookie=0x57a1700000000000, duration=1s, table=30, n_packets=0, n_bytes=0, "
      "priority=150,ip,nw_dst=10.132.0.0/14 actions=output:7\n";
  r = bridge.reconcile(wanting(cidrs({"10.132.0.0/14"})));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->added + r->removed, 0u);
  EXPECT_EQ(bundles_.size(), 1u);
  auto n = bridge.remove_all();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(wipes_, 1);
}

TEST_F(BridgeScript, MissingPortAndFailingOfctlAreErrors) {
  OvsBridge bridge(runner_, Profile::openshift_sdn, "br0", "nosuch");
  auto r = bridge.reconcile(wanting(cidrs({"10.132.0.0/14"})));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no script for"), std::string::npos);

  testing::ScriptedRunner failing;
  failing.on("ovs-vsctl", [](const auto&) { return CommandOutput{0, "[]\n\"\"\n", ""}; });
  OvsBridge unplugged(failing, Profile::openshift_sdn, "br0", "strait-tap");
  r = unplugged.reconcile(wanting(cidrs({"10.132.0.0/14"})));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no OpenFlow port number yet"), std::string::npos);

  testing::ScriptedRunner down;
  down.on("ovs-vsctl", [](const auto&) {
    return CommandOutput{0, "5\n\"02:00:00:00:00:05\"\n", ""};
  });
  down.on("dump-flows", [](const auto&) {
    return CommandOutput{1, "", "ovs-ofctl: br0 is not a bridge or a socket\n"};
  });
  OvsBridge gone(down, Profile::generic, "br0", "strait-tap");
  r = gone.reconcile(wanting(cidrs({"10.132.0.0/14"})));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exited with 1: ovs-ofctl: br0 is not a bridge"),
            std::string::npos)
      << r.error().message;
}

TEST(AgentRoutes, ParseAndReconcile) {
  auto routes = parse_routes("10.132.0.0/14 dev strait-tap scope link \n10.9.9.9 dev old \n", 4);
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[1].dst.to_string(), "10.9.9.9/32");
  EXPECT_EQ((*routes)[1].dev, "old");

  testing::ScriptedRunner runner;
  runner.on("ip -4 -o route show table main proto 87", [](const auto&) {
    return CommandOutput{
        0, "10.132.0.0/14 dev strait-tap scope link \n10.200.0.0/16 dev strait-tap scope link \n",
        ""};
  });
  runner.on("ip -6 -o route show", [](const auto&) { return CommandOutput{0, "", ""}; });
  runner.on("route replace", [](const auto&) { return CommandOutput{0, "", ""}; });
  runner.on("route del", [](const auto&) { return CommandOutput{0, "", ""}; });
  KernelRoutes kr(runner, "strait-tap");
  auto r = kr.reconcile(wanting(cidrs({"10.132.0.0/14", "fd00:b::/48"})));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->added, 1u);
  EXPECT_EQ(r->removed, 1u);
  std::vector<std::string> changes;
  for (const auto& c : runner.calls) {
    const std::string l = command_line(c.argv);
    if (l.find(" show ") == std::string::npos) changes.push_back(l);
  }
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "ip -4 route del 10.200.0.0/16 dev strait-tap proto 87",
                         "ip -6 route replace fd00:b::/48 dev strait-tap proto 87",
                     }));
}

TEST(AgentCommandRunner, RunsCapturesAndTimesOut) {
  ProcessRunner runner(std::chrono::milliseconds(2000));
  auto r = runner.run({"sh", "-c", "cat; echo err >&2; exit 3"}, "hello\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "hello\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(describe_failure(*r), "exited with 3: err");
  EXPECT_FALSE(runner.run({"/nonexistent/strait-helper"}, ""));
  ProcessRunner quick(std::chrono::milliseconds(200));
  auto slow = quick.run({"sleep", "5"}, "");
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, ETIMEDOUT);
}

}  // namespace
}  // namespace strait::ctl

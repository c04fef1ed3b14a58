// strait-agent against a real Open vSwitch (suite 'system'; root, no kernel module needed).
//
//   this process (own netns)           ovsdb-server + ovs-vswitchd (own OVS_RUNDIR, netdev
//   +-----------------------------+    datapath)
//   | Agent --ovs-ofctl/vsctl-----+--> br0: port sa<pid> (internal; straitd's stand-in)
//   |   \--UAPI--> UapiServer     |         a foreign flow, cookie 0x0, must survive
//   |              (model device) |
//   +-----------------------------+
//
// Checks: the first pass installs the openshift-sdn flows in one bundle; the second sends no
// bundle; `ovs-ofctl del-flows br0` is repaired by the next pass; cleanup removes exactly the
// agent's flows and peers.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "agent_test_support.hpp"
#include "control/agent.hpp"
#include "control/ovs_flows.hpp"
#include "uapi/server.hpp"

namespace strait::ctl {
namespace {

namespace fs = std::filesystem;

class CountingRunner : public CommandRunner {
 public:
  Result<CommandOutput> run(const std::vector<std::string>& argv,
                            const std::string& stdin_text) override {
    lines.push_back(command_line(argv));
    return real_.run(argv, stdin_text);
  }
  [[nodiscard]] int count(const std::string& needle) const {
    int n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::vector<std::string> lines;

 private:
  ProcessRunner real_{std::chrono::seconds(10)};
};

class ModelDevice : public uapi::Handler {
 public:
  uapi::DeviceState get() override {
    std::lock_guard lock(mu_);
    return state_;
  }
  Result<void> apply(const uapi::DeviceChange& c) override {
    std::lock_guard lock(mu_);
    uapi::apply_change(state_, c);
    return {};
  }

 private:
  std::mutex mu_;
  uapi::DeviceState state_;
};

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

std::string output_of(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

class RealOvs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (sh("command -v ovs-vswitchd >/dev/null && command -v ovsdb-server >/dev/null") != 0) {
      GTEST_SKIP() << "Open vSwitch is not installed";
    }
    // A network namespace of our own: the userspace datapath creates tap devices (br0,
    // ovs-netdev, the port) that must not clash with the host's or another test's, and that
    // vanish with the namespace.
    if (::unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "unshare(CLONE_NEWNET) refused";
    char templ[] = "/tmp/strait-agent-ovs-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    port_ = "sa" + std::to_string(::getpid() % 100000);
    // Every ovs-* program, ours and the agent's, finds this instance through these.
    ::setenv("OVS_RUNDIR", dir_.c_str(), 1);
    ::setenv("OVS_DBDIR", dir_.c_str(), 1);
    ::setenv("OVS_LOGDIR", dir_.c_str(), 1);
    const std::string d = dir_.string();
    ASSERT_EQ(sh("ovsdb-tool create " + d + "/conf.db /usr/share/openvswitch/vswitch.ovsschema"),
              0);
    ASSERT_EQ(
        sh("ovsdb-server --remote=punix:" + d + "/db.sock --pidfile=" + d +
           "/ovsdb-server.pid --detach --log-file=" + d + "/ovsdb-server.log " + d + "/conf.db"),
        0);
    started_ = true;
    ASSERT_EQ(sh("ovs-vsctl --no-wait init"), 0);
    ASSERT_EQ(sh("ovs-vswitchd --pidfile=" + d + "/ovs-vswitchd.pid --detach --log-file=" + d +
                 "/ovs-vswitchd.log 2>/dev/null"),
              0);
    ASSERT_EQ(sh("ovs-vsctl --timeout=10 add-br br0 -- set bridge br0 datapath_type=netdev -- "
                 "add-port br0 " +
                 port_ + " -- set interface " + port_ + " type=internal"),
              0);
    ASSERT_EQ(sh("ovs-ofctl -O OpenFlow13 add-flow br0 table=0,priority=1,actions=NORMAL"), 0);

    std::ofstream(dir_ / "mesh.yaml") << testing::kSpec2x2;
    auto s = uapi::UapiServer::listen((dir_ / "strait0.sock").string());
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{server_->fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) server_->service(dev_);
      }
    });
    options_.node = "a1";
    options_.spec_path = (dir_ / "mesh.yaml").string();
    options_.uapi_socket = (dir_ / "strait0.sock").string();
    options_.profile = Profile::openshift_sdn;
    options_.strait_port = port_;
  }

  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    server_.reset();
    if (started_) {
      for (const char* pidfile : {"ovs-vswitchd.pid", "ovsdb-server.pid"}) {
        std::ifstream in(dir_ / pidfile);
        pid_t pid = 0;
        if (in >> pid && pid > 0) ::kill(pid, SIGTERM);
      }
      ::usleep(300000);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string our_flows() {
    return output_of(
        "ovs-ofctl -O OpenFlow13 --no-names --no-stats dump-flows br0 "
        "cookie=0x57a1700000000000/0xffffffff00000000 | grep -v OFPST | sort");
  }
  std::string ofport() { return output_of("ovs-vsctl get Interface " + port_ + " ofport"); }

  fs::path dir_;
  std::string port_;
  bool started_ = false;
  ModelDevice dev_;
  std::unique_ptr<uapi::UapiServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  AgentOptions options_;
};

TEST_F(RealOvs, ApplyRepairCleanup) {
  CountingRunner runner;
  Agent agent(options_, runner);
  ASSERT_TRUE(agent.load_spec());
  ASSERT_TRUE(agent.reconcile());
  EXPECT_EQ(runner.count("--bundle add-flows br0"), 1);
  std::string port = ofport();
  port.erase(port.find_last_not_of('\n') + 1);
  const std::string want =
      " cookie=0x57a1700000000000, priority=210,ip,in_port=" + port +
      ",nw_src=10.132.0.0/14 actions=goto_table:30\n"
      " cookie=0x57a1700000000000, priority=210,ipv6,in_port=" +
      port +
      ",ipv6_src=fd00:b::/48 actions=goto_table:30\n"
      " cookie=0x57a1700000000000, table=30, priority=150,ip,nw_dst=10.132.0.0/14 actions=output:" +
      port +
      "\n"
      " cookie=0x57a1700000000000, table=30, priority=150,ipv6,ipv6_dst=fd00:b::/48 "
      "actions=output:" +
      port + "\n";
  EXPECT_EQ(our_flows(), want);
  EXPECT_EQ(dev_.get().peers.size(), 2u);

  // Steady state: read back, nothing to change, no bundle.
  ASSERT_TRUE(agent.reconcile());
  EXPECT_EQ(runner.count("--bundle add-flows br0"), 1);

  // A bridge resync wipes every flow: the next pass puts ours back.
  ASSERT_EQ(sh("ovs-ofctl -O OpenFlow13 del-flows br0"), 0);
  EXPECT_EQ(our_flows(), "");
  ASSERT_TRUE(agent.reconcile());
  EXPECT_EQ(our_flows(), want);

  // Cleanup removes our flows and peers only.
  ASSERT_EQ(sh("ovs-ofctl -O OpenFlow13 add-flow br0 table=0,priority=1,actions=NORMAL"), 0);
  ASSERT_TRUE(agent.cleanup());
  EXPECT_EQ(our_flows(), "");
  EXPECT_NE(output_of("ovs-ofctl -O OpenFlow13 dump-flows br0").find("priority=1 actions=NORMAL"),
            std::string::npos);
  EXPECT_TRUE(dev_.get().peers.empty());
}

}  // namespace
}  // namespace strait::ctl

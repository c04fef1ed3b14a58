// The spec watch sees a ConfigMap-style update (atomic `..data` symlink swap), and the agent
// takes a new valid spec, refuses a bad one keeping the last good one, and parses its flags.
#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent_test_support.hpp"
#include "control/agent.hpp"
#include "control/spec_watch.hpp"

namespace strait::ctl {
namespace {

namespace fs = std::filesystem;

class ConfigMapDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/strait-agent-watch-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // What the kubelet does: write a new timestamped directory, point ..data_tmp at it, rename
  // ..data_tmp over ..data (atomic), and keep mesh.yaml -> ..data/mesh.yaml.
  void publish(const std::string& version, const std::string& text) {
    fs::create_directory(dir_ / ("..ts_" + version));
    std::ofstream(dir_ / ("..ts_" + version) / "mesh.yaml") << text;
    fs::create_symlink("..ts_" + version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    if (!fs::is_symlink(dir_ / "mesh.yaml"))
      fs::create_symlink("..data/mesh.yaml", dir_ / "mesh.yaml");
  }
  std::string spec_path() const { return (dir_ / "mesh.yaml").string(); }
  fs::path dir_;
};

bool wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 5000) == 1;
}

TEST_F(ConfigMapDir, SymlinkSwapIsSeen) {
  publish("1", "first");
  auto w = SpecWatch::open(spec_path());
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_FALSE(w->drain());
  publish("2", "second");
  ASSERT_TRUE(wait_readable(w->fd()));
  EXPECT_TRUE(w->drain());
  auto text = read_file(spec_path());
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "second");
  EXPECT_FALSE(read_file((dir_ / "missing.yaml").string()));
}

TEST_F(ConfigMapDir, AgentTakesGoodSpecsAndKeepsTheLastGoodOne) {
  publish("1", testing::kSpec2x2);
  AgentOptions o;
  o.node = "a1";
  o.spec_path = spec_path();
  o.profile = Profile::route;
  o.strait_port = "strait-tap";
  testing::ScriptedRunner runner;
  Agent agent(o, runner);
  EXPECT_TRUE(agent.load_spec());
  EXPECT_FALSE(agent.load_spec()) << "unchanged contents are not a new generation";
  ASSERT_TRUE(agent.desired());
  EXPECT_EQ(agent.desired()->peers.size(), 2u);

  publish("2", "clusters: [oops");
  EXPECT_FALSE(agent.load_spec());
  ASSERT_TRUE(agent.desired());
  EXPECT_EQ(agent.desired()->peers.size(), 2u) << "the last good spec stays in force";
  MetricsSnapshot s = agent.snapshot();
  EXPECT_EQ(s.counters.spec_generation, 1u);
  EXPECT_EQ(s.counters.spec_rejected, 1u);

  std::string fewer = testing::kSpec2x2;
  fewer.erase(fewer.find("  - name: b2"), fewer.find("defaults:") - fewer.find("  - name: b2"));
  publish("3", fewer);
  EXPECT_TRUE(agent.load_spec());
  EXPECT_EQ(agent.desired()->peers.size(), 1u);
  EXPECT_EQ(agent.snapshot().counters.spec_generation, 2u);
  EXPECT_EQ(agent.snapshot().labels.size(), 3u);
}

// A refused spec logs one record per problem (after a summary), so that --log-format json
// gives a log collector one event per problem.
TEST_F(ConfigMapDir, RefusedSpecLogsOneRecordPerProblem) {
  std::string bad = testing::kSpec2x2;
  bad.replace(bad.find("10.128.2.0/23"), 13, "10.128.2.1/23");            // host bits set
  bad.replace(bad.find("198.51.100.1:51820"), 18, "198.51.100.1:99999");  // bad port
  publish("1", bad);
  AgentOptions o;
  o.node = "a1";
  o.spec_path = spec_path();
  o.profile = Profile::route;
  o.strait_port = "strait-tap";
  testing::ScriptedRunner runner;
  Agent agent(o, runner);
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  EXPECT_FALSE(agent.load_spec());
  spdlog::set_default_logger(previous);
  const std::vector<std::string> records = sink->last_formatted();
  ASSERT_EQ(records.size(), 3u) << "a summary and one record per problem";
  EXPECT_NE(records[0].find("spec refused (2 problems), nothing stays in force"), std::string::npos)
      << records[0];
  EXPECT_NE(records[1].find("pod_subnet"), std::string::npos) << records[1];
  EXPECT_NE(records[2].find("endpoint"), std::string::npos) << records[2];
  for (const auto& r : records) EXPECT_EQ(std::count(r.begin(), r.end(), '\n'), 1) << r;
}

TEST(AgentOptionsTest, VersionAndLogFormat) {
  const std::vector<std::string> version = {"--version"};
  auto v = parse_agent_args(version, nullptr);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->action, AgentAction::version);
  const std::vector<std::string> json = {"--spec", "s.yaml",       "--strait-port",
                                         "p",      "--log-format", "json"};
  auto j = parse_agent_args(json, "n");
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_TRUE(j->options.log_json);
  const std::vector<std::string> bad = {"--spec", "s.yaml", "--strait-port", "p",
                                        "--log-format=xml"};
  auto b = parse_agent_args(bad, "n");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("--log-format: \"xml\" is not text or json"), std::string::npos);
}

TEST(AgentOptionsTest, ParsesFlagsAndRefusesMistakes) {
  const std::vector<std::string> args = {"--spec",
                                         "/etc/strait/mesh.yaml",
                                         "--profile=generic",
                                         "--strait-port",
                                         "strait-tap",
                                         "--resync-interval",
                                         "500ms",
                                         "--once",
                                         "--metrics-listen",
                                         "off"};
  auto c = parse_agent_args(args, "node-7");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->options.node, "node-7");
  EXPECT_EQ(c->options.profile, Profile::generic);
  EXPECT_EQ(c->options.resync_interval, std::chrono::milliseconds(500));
  EXPECT_TRUE(c->options.once);
  EXPECT_EQ(c->options.metrics_listen, "");
  EXPECT_EQ(c->options.ifname, "strait0");
  EXPECT_EQ(c->options.bridge, "br0");

  const std::vector<std::string> node_flag = {"--spec", "s", "--strait-port", "p", "--node", "x"};
  EXPECT_EQ(parse_agent_args(node_flag, "env")->options.node, "x");

  struct Bad {
    std::vector<std::string> args;
    const char* env;
    const char* expect;
  };
  const Bad bad[] = {
      {{"--strait-port", "p"}, "n", "--spec FILE is required"},
      {{"--spec", "s", "--strait-port", "p"}, nullptr, "NODE_NAME"},
      {{"--spec", "s"}, "n", "--strait-port is required"},
      {{"--spec", "s", "--strait-port", "p", "--profile", "ovn"}, "n", "\"ovn\""},
      {{"--spec", "s", "--strait-port", "p", "--resync-interval", "5h"}, "n", "unknown unit"},
      {{"--spec", "s", "--strait-port", "p", "--resync-interval", "10ms"}, "n", "100ms..1h"},
      {{"--spec", "s", "--strait-port", "p", "--bogus"}, "n", "unknown option \"--bogus\""},
      {{"--spec"}, "n", "--spec: needs a value"},
      {{"--spec", "s", "--strait-port", "p", "--once=yes"}, "n", "takes no value"},
  };
  for (const Bad& b : bad) {
    auto r = parse_agent_args(b.args, b.env);
    ASSERT_FALSE(r) << b.expect;
    EXPECT_NE(r.error().message.find(b.expect), std::string::npos) << r.error().message;
  }
  const std::vector<std::string> help = {"--help"};
  EXPECT_EQ(parse_agent_args(help, nullptr)->action, AgentAction::help);
}

TEST(AgentRetry, ExponentialAndCapped) {
  EXPECT_EQ(retry_delay(1), std::chrono::milliseconds(500));
  EXPECT_EQ(retry_delay(2), std::chrono::milliseconds(1000));
  EXPECT_EQ(retry_delay(4), std::chrono::milliseconds(4000));
  EXPECT_EQ(retry_delay(7), std::chrono::milliseconds(30000));
  EXPECT_EQ(retry_delay(1000), std::chrono::milliseconds(30000));
}

}  // namespace
}  // namespace strait::ctl
